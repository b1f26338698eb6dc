/*
 * Check suite for common/rate.c: the speeds a person writes, and the
 * token bucket behind the upload limit (what may go when, and that a
 * second of sending never beats the rate by more than a burst).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/rate.h"
#include "tests/testutil.h"

#define MiB	1048576ULL

static Suite	*rate_suite(void);

START_TEST(speeds_in_bytes_and_bits_parse)
{
	static const struct { const char *s; uint64_t bps; } ok[] = {
		{ "none", 0 }, { "0", 0 }, { "1000", 1000 }, { "50MiB", 50 * MiB },
		{ "50 MiB/s", 50 * MiB }, { "50mib", 50 * MiB },
		{ "400mbit", 50000000 }, { "1gbit", 125000000 },
		{ "2KB", 2000 }, { "1.5GiB", 3 * 512 * MiB }, { "0.1B", 1 },
	};
	char		 err[128];
	uint64_t	 bps;
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(rate_parse(ok[i].s, &bps, err, sizeof(err)) == 0,
		    "%s: %s", ok[i].s, err);
		ck_assert_uint_eq(bps, ok[i].bps);
	}
}
END_TEST

START_TEST(what_is_not_a_speed_says_why)
{
	static const char *bad[] = { "", "fast", "-5MiB", "50 parsecs",
	    "50MiBB", "nan", "inf", "1e20GiB" };
	char		 err[128];
	uint64_t	 bps = 7;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(rate_parse(bad[i], &bps, err, sizeof(err)) == -1,
		    "%s was taken", bad[i]);
		ck_assert_msg(strstr(err, bad[i]) != NULL, "%s", err);
	}
	ck_assert_uint_eq(bps, 7);
}
END_TEST

START_TEST(no_limit_lets_everything_go)
{
	struct rate_bucket b;

	rate_set(&b, 0, 0);
	ck_assert_uint_eq(rate_allow(&b, 0, 1u << 30), 1u << 30);
	rate_spent(&b, 1u << 30);
	ck_assert(rate_wait(&b) == 0);
}
END_TEST

/* A second of asking for all it can: the rate, give or take a burst. */
START_TEST(a_second_of_sending_stays_at_the_rate)
{
	struct rate_bucket b;
	uint64_t	 sent = 0, n;
	double		 t = 100.0;

	rate_set(&b, 50 * MiB, t);
	ck_assert_uint_eq(rate_allow(&b, t, 16 * MiB), 0);
	ck_assert(rate_wait(&b) > 0);
	while (t < 101.0) {
		t += rate_wait(&b) > 0 ? rate_wait(&b) : 0.001;
		if ((n = rate_allow(&b, t, 16 * MiB)) > 0) {
			rate_spent(&b, n);
			sent += n;
		}
	}
	ck_assert_uint_ge(sent, 50 * MiB - 3 * MiB);
	ck_assert_uint_le(sent, 50 * MiB + 3 * MiB);
}
END_TEST

/* Idle for a minute: still only a short burst, not a minute's worth. */
START_TEST(an_idle_bucket_holds_only_a_burst)
{
	struct rate_bucket b;

	rate_set(&b, 10 * MiB, 0);
	ck_assert_uint_le(rate_allow(&b, 60.0, 1u << 30), MiB);
	ck_assert_uint_gt(rate_allow(&b, 60.0, 1u << 30), 0);
}
END_TEST

START_TEST(limits_read_as_a_person_writes_them)
{
	char	 buf[32];

	rate_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "none");
	rate_format(50 * MiB, buf, sizeof(buf));
	ck_assert_str_eq(buf, "50.0 MiB/s");
	rate_format(512 * 1024, buf, sizeof(buf));
	ck_assert_str_eq(buf, "512.0 KiB/s");
}
END_TEST

static Suite *
rate_suite(void)
{
	Suite	*s = suite_create("rate");
	TCase	*tc = tu_tcase(s, "rate", NULL, NULL, NULL, NULL);

	tcase_add_test(tc, speeds_in_bytes_and_bits_parse);
	tcase_add_test(tc, what_is_not_a_speed_says_why);
	tcase_add_test(tc, no_limit_lets_everything_go);
	tcase_add_test(tc, a_second_of_sending_stays_at_the_rate);
	tcase_add_test(tc, an_idle_bucket_holds_only_a_burst);
	tcase_add_test(tc, limits_read_as_a_person_writes_them);
	return s;
}

int
main(void)
{
	return tu_run_suite(rate_suite());
}
