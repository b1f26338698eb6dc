/*
 * Check suite for worker-transfer/floor.c: the progress floor's
 * arithmetic. A source that owes bytes must bring FLOOR_RATE over each
 * FLOOR_WINDOW; a request counts for one second of it; a source that
 * owes nothing is never judged.
 */
#include <check.h>
#include <stdint.h>

#include "tests/testutil.h"
#include "worker-transfer/floor.h"

#define KiB	1024ULL

static Suite	*floor_suite(void);

START_TEST(the_floor_is_640_kib_over_10_s)
{
	ck_assert_uint_eq(FLOOR_RATE, 64 * KiB);
	ck_assert(FLOOR_WINDOW == 10.0);
	ck_assert_uint_eq((uint64_t)(FLOOR_RATE * FLOOR_WINDOW), 640 * KiB);
}
END_TEST

START_TEST(a_byte_every_three_seconds_is_below_the_floor)
{
	struct rate_floor fl;
	uint64_t	 got = 0;
	double		 secs = 0;

	floor_init(&fl);
	floor_request(&fl, 100.0);
	floor_bytes(&fl, 1);
	floor_bytes(&fl, 1);
	floor_bytes(&fl, 1);
	ck_assert_int_eq(floor_below(&fl, 110.0, 0, &got, &secs), 1);
	ck_assert_uint_eq(got, 3);
	ck_assert(secs >= 9.99 && secs <= 10.01);
}
END_TEST

START_TEST(a_source_at_the_floor_passes_and_a_new_window_starts)
{
	struct rate_floor fl;
	uint64_t	 got = 0;
	double		 secs = 0;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	/* With the request's credit: exactly 640 KiB. */
	floor_bytes(&fl, 576 * KiB);
	ck_assert_int_eq(floor_below(&fl, 10.0, 0, &got, &secs), 0);
	ck_assert_int_eq(floor_owes(&fl), 1);
	/* The next window judges only what comes in it. */
	floor_bytes(&fl, 10);
	ck_assert_int_eq(floor_below(&fl, 20.0, 0, &got, &secs), 1);
	ck_assert_uint_eq(got, 10);
}
END_TEST

START_TEST(one_byte_short_of_the_floor_is_below_it)
{
	struct rate_floor fl;
	uint64_t	 got = 0;
	double		 secs = 0;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	floor_bytes(&fl, 576 * KiB - 1);
	ck_assert_int_eq(floor_below(&fl, 10.0, 0, &got, &secs), 1);
}
END_TEST

START_TEST(many_small_files_answered_quickly_pass)
{
	struct rate_floor fl;
	uint64_t	 got;
	double		 secs, t;

	/* 100-byte files, each asked for alone, 50 ms a round trip. */
	floor_init(&fl);
	for (t = 0.0; t < 10.0; t += 0.05) {
		floor_request(&fl, t);
		floor_bytes(&fl, 100);
	}
	ck_assert_int_eq(floor_below(&fl, 10.0, 0, &got, &secs), 0);
}
END_TEST

START_TEST(small_files_each_answered_after_nine_seconds_are_below)
{
	struct rate_floor fl;
	uint64_t	 got = 0;
	double		 secs;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	floor_bytes(&fl, KiB);
	floor_request(&fl, 9.0);
	ck_assert_int_eq(floor_below(&fl, 10.0, 0, &got, &secs), 1);
	ck_assert_uint_eq(got, KiB);
}
END_TEST

START_TEST(a_window_not_yet_over_is_not_judged)
{
	struct rate_floor fl;
	uint64_t	 got;
	double		 secs;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	ck_assert_int_eq(floor_below(&fl, 5.0, 0, &got, &secs), 0);
	ck_assert_int_eq(floor_below(&fl, 9.5, 0, &got, &secs), 0);
	ck_assert_int_eq(floor_below(&fl, 10.0, 0, &got, &secs), 1);
}
END_TEST

START_TEST(a_source_that_owes_nothing_is_never_below)
{
	struct rate_floor fl;
	uint64_t	 got;
	double		 secs;

	floor_init(&fl);
	ck_assert_int_eq(floor_owes(&fl), 0);
	floor_bytes(&fl, 5);
	ck_assert_int_eq(floor_below(&fl, 1000.0, 0, &got, &secs), 0);
	floor_request(&fl, 0.0);
	floor_idle(&fl);
	ck_assert_int_eq(floor_owes(&fl), 0);
	ck_assert_int_eq(floor_below(&fl, 1000.0, 0, &got, &secs), 0);
}
END_TEST

START_TEST(a_window_starts_with_the_first_request_after_idling)
{
	struct rate_floor fl;
	uint64_t	 got;
	double		 secs;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	floor_idle(&fl);
	floor_request(&fl, 50.0);
	/* 5 s into the new window: not judged, whatever came before. */
	ck_assert_int_eq(floor_below(&fl, 55.0, 0, &got, &secs), 0);
	ck_assert_int_eq(floor_below(&fl, 60.0, 0, &got, &secs), 1);
}
END_TEST

/* The loop was held (by our own disk): bytes waiting unread count. */
START_TEST(bytes_arrived_but_not_read_count_once)
{
	struct rate_floor fl;
	uint64_t	 got = 0;
	double		 secs;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	ck_assert_int_eq(floor_below(&fl, 10.0, 1024 * KiB, &got, &secs), 0);
	/* Read now: already counted, so the next window has nothing. */
	floor_bytes(&fl, 1024 * KiB);
	ck_assert_int_eq(floor_below(&fl, 20.0, 0, &got, &secs), 1);
	ck_assert_uint_eq(got, 0);
}
END_TEST

START_TEST(bytes_still_unread_after_two_windows_count_once)
{
	struct rate_floor fl;
	uint64_t	 got = 0;
	double		 secs;

	floor_init(&fl);
	floor_request(&fl, 0.0);
	ck_assert_int_eq(floor_below(&fl, 10.0, 700 * KiB, &got, &secs), 0);
	ck_assert_int_eq(floor_below(&fl, 20.0, 700 * KiB, &got, &secs), 1);
	ck_assert_uint_eq(got, 0);
}
END_TEST

static Suite *
floor_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("floor");
	tc = tu_tcase(s, "rate", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, the_floor_is_640_kib_over_10_s);
	tcase_add_test(tc, a_byte_every_three_seconds_is_below_the_floor);
	tcase_add_test(tc, a_source_at_the_floor_passes_and_a_new_window_starts);
	tcase_add_test(tc, one_byte_short_of_the_floor_is_below_it);
	tcase_add_test(tc, many_small_files_answered_quickly_pass);
	tcase_add_test(tc,
	    small_files_each_answered_after_nine_seconds_are_below);
	tcase_add_test(tc, a_window_not_yet_over_is_not_judged);
	tcase_add_test(tc, a_source_that_owes_nothing_is_never_below);
	tcase_add_test(tc, a_window_starts_with_the_first_request_after_idling);
	tcase_add_test(tc, bytes_arrived_but_not_read_count_once);
	tcase_add_test(tc, bytes_still_unread_after_two_windows_count_once);
	return s;
}

int
main(void)
{
	return tu_run_suite(floor_suite());
}
