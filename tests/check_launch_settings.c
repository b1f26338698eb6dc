/*
 * Check suite for worker-install/launch_settings.c: the first-play
 * stamping of account_name.txt, language.txt and the PersonaName line of
 * SmartSteamEmu.ini, byte for byte, never through a symbolic link.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "tests/testutil.h"
#include "worker-install/extract.h"
#include "worker-install/launch_settings.h"

#define CSS_INI	"[Settings]\r\nAppId = 240\r\n" \
		"PersonaName = stubplayer\r\nLanguage = english\r\n"
#define CSS_INI_STAMPED	"[Settings]\r\nAppId = 240\r\n" \
		"PersonaName = Lan Hero\r\nLanguage = english\r\n"
#define INI_DIR	LAUNCH_INI_DIR

/* root/local is the installed game; root/outside must stay untouched. */
static char	root[PATH_MAX];
static char	local_path[PATH_MAX], outside_path[PATH_MAX];
static int	local_fd = -1, outside_fd = -1;
static char	err[512];

static Suite	*launch_settings_suite(void);

static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "check_launch");
	local_fd = tu_subdir(root, "local", local_path, sizeof(local_path));
	outside_fd = tu_subdir(root, "outside", outside_path,
	    sizeof(outside_path));
	err[0] = '\0';
}

static void
root_teardown(void)
{
	close(local_fd);
	close(outside_fd);
	local_fd = outside_fd = -1;
	tu_rmtree(root);
}

static void
put(int dirfd, const char *rel, const char *data)
{
	char	 dir[PATH_MAX], *slash;

	ck_assert_uint_lt(strlen(rel), sizeof(dir));
	strcpy(dir, rel);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		ck_assert_int_eq(path_mkdirs_beneath(dirfd, dir, 0755), 0);
	}
	tu_write_str(dirfd, rel, data);
}

/* rel beneath dirfd holds exactly want. */
static void
assert_bytes(int dirfd, const char *rel, const char *want)
{
	char	 buf[4096];
	ssize_t	 n;
	int	 fd;

	fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd != -1, "%s: %s", rel, strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_ge(n, 0);
	ck_assert_msg((size_t)n == strlen(want) && memcmp(buf, want, n) == 0,
	    "%s holds \"%.*s\", want \"%s\"", rel, (int)n, buf, want);
}

/* Names in root/rel, other than . and .. */
static size_t
dir_count(const char *rel)
{
	char	path[PATH_MAX];

	ck_assert_int_eq(path_join(path, sizeof(path), root, rel), 0);
	return tu_dir_count(path);
}

static void
css_tree(void)
{
	put(local_fd, LAUNCH_ACCOUNT_FILE, "stubplayer");
	put(local_fd, LAUNCH_LANGUAGE_FILE, "english");
	put(local_fd, LAUNCH_INI_FILE, CSS_INI);
}

START_TEST(first_play_stamps_all_three_files_keeping_crlf_and_siblings)
{
	struct play_outcome	out;

	css_tree();
	ck_assert_msg(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(out.account_name_written, 1);
	ck_assert_int_eq(out.language_written, 1);
	ck_assert_int_eq(out.persona_name_written, 1);
	assert_bytes(local_fd, LAUNCH_ACCOUNT_FILE, "Lan Hero");
	assert_bytes(local_fd, LAUNCH_LANGUAGE_FILE, "german");
	assert_bytes(local_fd, LAUNCH_INI_FILE, CSS_INI_STAMPED);
	/* No temporary file left beside them. */
	ck_assert_uint_eq(dir_count("local/" LAUNCH_PROFILE_DIR), 2);
	ck_assert_uint_eq(dir_count("local/" INI_DIR), 1);
}
END_TEST

/* The real css fixture, extracted with libarchive, then stamped. */
START_TEST(first_play_stamps_the_extracted_css_fixture)
{
	struct extract_limits	 lim;
	struct play_outcome	 out;
	const char		*fx = tu_fixtures();
	char			 gpath[PATH_MAX], *names[] = { "css.eti" };
	int			 gfd;

	ck_assert_int_eq(path_join(gpath, sizeof(gpath), fx,
	    "fixture-extra/css"), 0);
	gfd = open(gpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(gfd != -1, "fixture %s missing (make fixtures)", gpath);
	extract_default_limits(gfd, names, 1, &lim);
	ck_assert_msg(extract_archives(gfd, names, 1, local_fd, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	close(gfd);
	assert_bytes(local_fd, LAUNCH_INI_FILE, CSS_INI);

	ck_assert_msg(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)) == 0, "%s", err);
	ck_assert(out.account_name_written && out.language_written &&
	    out.persona_name_written);
	assert_bytes(local_fd, LAUNCH_ACCOUNT_FILE, "Lan Hero");
	assert_bytes(local_fd, LAUNCH_LANGUAGE_FILE, "german");
	assert_bytes(local_fd, LAUNCH_INI_FILE, CSS_INI_STAMPED);
}
END_TEST

START_TEST(missing_ini_leaves_persona_unwritten_and_creates_profiles)
{
	struct play_outcome	out;

	ck_assert_msg(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(out.account_name_written, 1);
	ck_assert_int_eq(out.language_written, 1);
	ck_assert_int_eq(out.persona_name_written, 0);
	assert_bytes(local_fd, LAUNCH_ACCOUNT_FILE, "Lan Hero");
	assert_bytes(local_fd, LAUNCH_LANGUAGE_FILE, "german");
	ck_assert(!tu_exists(local_fd, "engine"));
}
END_TEST

START_TEST(ini_without_persona_line_is_left_alone)
{
	struct play_outcome	out;
	const char		*ini = "[Settings]\r\nAppId = 240\r\n";

	put(local_fd, LAUNCH_INI_FILE, ini);
	ck_assert_msg(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(out.persona_name_written, 0);
	assert_bytes(local_fd, LAUNCH_INI_FILE, ini);
}
END_TEST

START_TEST(persona_value_is_replaced_whatever_the_spacing)
{
	static const struct {
		const char	*in, *want;
	} cases[] = {
		{ "PersonaName=old\n", "PersonaName=Lan Hero\n" },
		{ "  PersonaName \t=  old value  \r\nX=1",
		  "  PersonaName \t=  Lan Hero  \r\nX=1" },
		{ "a=1\npersonaname = old", "a=1\npersonaname = Lan Hero" },
		{ "PersonaName =\r\n", "PersonaName =Lan Hero\r\n" },
		{ "\xef\xbb\xbfPersonaName = x\r\n",
		  "\xef\xbb\xbfPersonaName = Lan Hero\r\n" },
		/* Not the key: kept as they are. */
		{ "PersonaNameX = a\n; PersonaName = b\nPersonaName: c\n",
		  NULL },
	};
	struct play_outcome	out;
	size_t			i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(local_fd, LAUNCH_INI_FILE, cases[i].in);
		ck_assert_msg(launch_settings_apply(local_fd, "Lan Hero", "de",
		    &out, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(out.persona_name_written,
		    cases[i].want != NULL);
		assert_bytes(local_fd, LAUNCH_INI_FILE,
		    cases[i].want != NULL ? cases[i].want : cases[i].in);
	}
}
END_TEST

START_TEST(symlinked_profiles_dir_pointing_outside_is_refused)
{
	struct play_outcome	out;

	ck_assert_int_eq(symlinkat(outside_path, local_fd, "profiles"), 0);
	ck_assert_int_eq(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, LAUNCH_PROFILE_DIR) != NULL, "%s", err);
	ck_assert_int_eq(out.account_name_written, 0);
	ck_assert_int_eq(out.language_written, 0);
	ck_assert_uint_eq(dir_count("outside"), 0);
}
END_TEST

START_TEST(symlinked_profiles_local_dir_pointing_outside_is_refused)
{
	struct play_outcome	out;

	ck_assert_int_eq(mkdirat(local_fd, "profiles", 0755), 0);
	ck_assert_int_eq(symlinkat(outside_path, local_fd, "profiles/local"),
	    0);
	ck_assert_int_eq(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)), -1);
	ck_assert_uint_eq(dir_count("outside"), 0);
}
END_TEST

/* A link where the file goes is replaced; its target is not written. */
START_TEST(symlinked_account_file_is_replaced_not_followed)
{
	struct play_outcome	out;
	char			target[PATH_MAX];

	put(outside_fd, "victim.txt", "precious");
	ck_assert_int_eq(path_join(target, sizeof(target), outside_path,
	    "victim.txt"), 0);
	ck_assert_int_eq(path_mkdirs_beneath(local_fd, LAUNCH_PROFILE_DIR,
	    0755), 0);
	ck_assert_int_eq(symlinkat(target, local_fd, LAUNCH_ACCOUNT_FILE), 0);
	ck_assert_msg(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)) == 0, "%s", err);
	assert_bytes(outside_fd, "victim.txt", "precious");
	assert_bytes(local_fd, LAUNCH_ACCOUNT_FILE, "Lan Hero");
}
END_TEST

START_TEST(symlinked_ini_is_refused_and_nothing_is_written)
{
	struct play_outcome	out;
	char			target[PATH_MAX];

	put(outside_fd, "SmartSteamEmu.ini", CSS_INI);
	ck_assert_int_eq(path_join(target, sizeof(target), outside_path,
	    "SmartSteamEmu.ini"), 0);
	ck_assert_int_eq(path_mkdirs_beneath(local_fd, INI_DIR, 0755), 0);
	ck_assert_int_eq(symlinkat(target, local_fd, LAUNCH_INI_FILE), 0);
	ck_assert_int_eq(launch_settings_apply(local_fd, "Lan Hero", "german",
	    &out, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "SmartSteamEmu.ini") != NULL, "%s", err);
	ck_assert(!out.account_name_written && !out.language_written &&
	    !out.persona_name_written);
	assert_bytes(outside_fd, "SmartSteamEmu.ini", CSS_INI);
	ck_assert(!tu_exists(local_fd, "profiles"));
}
END_TEST

START_TEST(bad_usernames_and_languages_are_refused)
{
	static const char	*bad[] = {
		"", "Lan\nHero", "Lan\rHero", "Lan\tHero", "\x01", "a\x7f",
		"12345678901234567890123456789012345678901234567890123456789"
		"012345",	/* 65 bytes */
	};
	struct play_outcome	out;
	size_t			i;

	css_tree();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(launch_settings_apply(local_fd, bad[i],
		    "german", &out, err, sizeof(err)), -1);
		ck_assert_msg(strncmp(err, "username ", 9) == 0, "%s", err);
		ck_assert_int_eq(launch_settings_apply(local_fd, "Lan Hero",
		    bad[i], &out, err, sizeof(err)), -1);
		ck_assert_msg(strncmp(err, "language ", 9) == 0, "%s", err);
		ck_assert(!out.account_name_written && !out.language_written &&
		    !out.persona_name_written);
	}
	assert_bytes(local_fd, LAUNCH_ACCOUNT_FILE, "stubplayer");
	assert_bytes(local_fd, LAUNCH_LANGUAGE_FILE, "english");
	assert_bytes(local_fd, LAUNCH_INI_FILE, CSS_INI);
}
END_TEST

START_TEST(username_of_64_bytes_is_accepted)
{
	struct play_outcome	 out;
	const char		*name =
	    "1234567890123456789012345678901234567890"
	    "123456789012345678901234";

	ck_assert_uint_eq(strlen(name), 64);
	ck_assert_msg(launch_settings_apply(local_fd, name, "english", &out,
	    err, sizeof(err)) == 0, "%s", err);
	assert_bytes(local_fd, LAUNCH_ACCOUNT_FILE, name);
}
END_TEST

static Suite *
launch_settings_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("launch_settings");

	tc = tu_tcase(s, "stamp", NULL, NULL, root_setup, root_teardown);
	tcase_add_test(tc,
	    first_play_stamps_all_three_files_keeping_crlf_and_siblings);
	tcase_add_test(tc, first_play_stamps_the_extracted_css_fixture);
	tcase_add_test(tc,
	    missing_ini_leaves_persona_unwritten_and_creates_profiles);
	tcase_add_test(tc, ini_without_persona_line_is_left_alone);
	tcase_add_test(tc, persona_value_is_replaced_whatever_the_spacing);

	tc = tu_tcase(s, "confinement", NULL, NULL, root_setup, root_teardown);
	tcase_add_test(tc, symlinked_profiles_dir_pointing_outside_is_refused);
	tcase_add_test(tc,
	    symlinked_profiles_local_dir_pointing_outside_is_refused);
	tcase_add_test(tc, symlinked_account_file_is_replaced_not_followed);
	tcase_add_test(tc, symlinked_ini_is_refused_and_nothing_is_written);

	tc = tu_tcase(s, "values", NULL, NULL, root_setup, root_teardown);
	tcase_add_test(tc, bad_usernames_and_languages_are_refused);
	tcase_add_test(tc, username_of_64_bytes_is_accepted);

	return s;
}

int
main(void)
{
	return tu_run_suite(launch_settings_suite());
}
