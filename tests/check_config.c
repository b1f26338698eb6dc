/*
 * Check suite for supervisor/config.c: the keys of lanspread.conf(5) that
 * take a number, and that a bad line names the file, the line and the key.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/config.h"
#include "tests/testutil.h"

static Suite	*config_suite(void);

START_TEST(upload_slots_defaults_to_no_cap)
{
	struct daemon_config dc;

	config_defaults(&dc);
	ck_assert_int_eq(dc.upload_slots, 0);
}
END_TEST

START_TEST(upload_slots_takes_0_to_1024)
{
	static const struct { const char *s; int n; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "4", 4 }, { "1024", 1024 },
	};
	struct daemon_config dc;
	const char	*why;
	size_t		 i;

	config_defaults(&dc);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		why = config_set(&dc, "upload_slots", ok[i].s);
		ck_assert_msg(why == NULL, "%s: %s", ok[i].s, why);
		ck_assert_int_eq(dc.upload_slots, ok[i].n);
	}
}
END_TEST

START_TEST(upload_slots_out_of_range_is_refused_by_name)
{
	static const char *bad[] = { "", "-1", "1025", "4x", "two", "1.5",
	    "99999999999999999999" };
	struct daemon_config dc;
	const char	*why;
	size_t		 i;

	config_defaults(&dc);
	dc.upload_slots = 3;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = config_set(&dc, "upload_slots", bad[i]);
		ck_assert_msg(why != NULL, "%s was taken", bad[i]);
		ck_assert_msg(strstr(why, "upload_slots") != NULL, "%s", why);
	}
	ck_assert_int_eq(dc.upload_slots, 3);
}
END_TEST

START_TEST(a_bad_line_names_file_line_and_key)
{
	struct daemon_config dc;
	char		 dir[PATH_MAX], path[PATH_MAX], err[512];

	tu_tmpdir(dir, sizeof(dir), "config");
	tu_write_str(AT_FDCWD, tu_path(path, sizeof(path), dir,
	    "lanspread.conf"), "# slots\nupload_slots = 4\n"
	    "upload_slots = 2000\n");
	config_defaults(&dc);
	ck_assert_int_eq(config_load(&dc, path, 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":3: upload_slots: upload_slots must be")
	    != NULL, "%s", err);
	ck_assert_int_eq(dc.upload_slots, 4);
	tu_rmtree(dir);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tu_tcase(s, "upload_slots", NULL, NULL, NULL, NULL);

	tcase_add_test(tc, upload_slots_defaults_to_no_cap);
	tcase_add_test(tc, upload_slots_takes_0_to_1024);
	tcase_add_test(tc, upload_slots_out_of_range_is_refused_by_name);
	tcase_add_test(tc, a_bad_line_names_file_line_and_key);
	return s;
}

int
main(void)
{
	return tu_run_suite(config_suite());
}
