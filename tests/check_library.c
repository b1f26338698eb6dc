/*
 * Check suite for supervisor/library.c: scanning the games folder into
 * the local library (downloaded, installed, availability, version, size)
 * without following symbolic links or trusting odd names.
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

#include "supervisor/library.h"
#include "tests/testutil.h"

/* One root per test case (runner); one directory per test beneath it. */
static char	top[PATH_MAX];
static char	root[256];
static int	rootfd = -1;

static Suite	*library_suite(void);

/* Unchecked: runs in the runner, so it cleans up after failures too. */
static void
top_setup(void)
{
	tu_tmpdir(top, sizeof(top), "check_library");
}

static void
top_teardown(void)
{
	/* tu_rmtree: the links we planted must not lead the cleanup out. */
	tu_rmtree(top);
}

static void
root_setup(void)
{
	tu_tmpdir_in(root, sizeof(root), top, "t");
	rootfd = tu_opendir(AT_FDCWD, root);
}

static void
root_teardown(void)
{
	close(rootfd);
	rootfd = -1;
}

/*
 * A file of size bytes; fixture files are made with plain syscalls, not
 * the code under test.
 */
static void
mkfile_size(int dfd, const char *rel, size_t size)
{
	char	buf[4096];
	size_t	n;
	int	fd;

	memset(buf, 'x', sizeof(buf));
	fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "create %s: %s", rel, strerror(errno));
	while (size > 0) {
		n = size < sizeof(buf) ? size : sizeof(buf);
		ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
		size -= n;
	}
	close(fd);
}

/* A games folder under the root; the root itself holds link targets. */
static int
games_dir(const char *name)
{
	tu_mkdir(rootfd, name);
	return tu_opendir(rootfd, name);
}

static const struct local_game *
must_find(const struct library *lib, const char *id)
{
	const struct local_game *g = library_find(lib, id);

	ck_assert_msg(g != NULL, "%s not in the library", id);
	return g;
}

/* state */

START_TEST(game_with_version_ini_is_downloaded_and_ready)
{
	const struct local_game *g;
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, "alienswarm");
	tu_write_str(dfd, "alienswarm/version.ini", " \t20190317\r\n\n");
	tu_write_str(dfd, "alienswarm/alienswarm.eti", "rar");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 1);
	g = must_find(&lib, "alienswarm");
	ck_assert_str_eq(g->id, "alienswarm");
	ck_assert_str_eq(g->version, "20190317");
	ck_assert_int_eq(g->downloaded, 1);
	ck_assert_int_eq(g->installed, 0);
	ck_assert_str_eq(local_game_availability(g), "Ready");
	library_free(&lib);
	ck_assert_ptr_null(lib.games);
	ck_assert_uint_eq(lib.ngames, 0);
	close(dfd);
}
END_TEST

START_TEST(game_with_only_local_is_installed_and_local_only)
{
	const struct local_game *g;
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, "cnctw");
	tu_mkdir(dfd, "cnctw/local");
	tu_write_str(dfd, "cnctw/local/game.exe", "MZ");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 1);
	g = must_find(&lib, "cnctw");
	ck_assert_int_eq(g->downloaded, 0);
	ck_assert_int_eq(g->installed, 1);
	ck_assert_str_eq(g->version, "");
	ck_assert_str_eq(local_game_availability(g), "LocalOnly");
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(game_with_version_ini_and_local_is_ready_and_installed)
{
	const struct local_game *g;
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, "ggoo");
	tu_mkdir(dfd, "ggoo/local");
	tu_write_str(dfd, "ggoo/version.ini", "20200721\n");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	g = must_find(&lib, "ggoo");
	ck_assert_int_eq(g->downloaded, 1);
	ck_assert_int_eq(g->installed, 1);
	ck_assert_str_eq(g->version, "20200721");
	ck_assert_str_eq(local_game_availability(g), "Ready");
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(folder_with_neither_is_not_listed)
{
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, "partial");
	tu_write_str(dfd, "partial/partial.eti", "half a download");
	tu_mkdir(dfd, "emptygame");
	tu_mkdir(dfd, "staging");
	tu_mkdir(dfd, "staging/.local.installing");
	tu_write_str(dfd, "loosefile", "not a folder");
	tu_mkdir(dfd, "real");
	tu_write_str(dfd, "real/version.ini", "1\n");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 1);
	ck_assert_ptr_null(library_find(&lib, "partial"));
	ck_assert_ptr_null(library_find(&lib, "emptygame"));
	ck_assert_ptr_null(library_find(&lib, "staging"));
	ck_assert_ptr_null(library_find(&lib, "loosefile"));
	ck_assert_ptr_nonnull(library_find(&lib, "real"));
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(empty_games_folder_gives_an_empty_library)
{
	struct library	 lib, again;
	int		 dfd;

	dfd = games_dir("games");
	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 0);
	ck_assert_ptr_null(library_find(&lib, "ggoo"));
	ck_assert_int_eq(library_scan(dfd, &again), 0);
	ck_assert(library_equal(&lib, &again));
	library_free(&lib);
	library_free(&again);
	close(dfd);
}
END_TEST

START_TEST(fixture_folder_scans_at_catalog_versions)
{
	const char	*fix = tu_fixtures();
	char		 path[PATH_MAX];
	struct library	 lib;
	int		 dfd;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/fixture-alpha",
	    fix), (int)sizeof(path));
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(dfd >= 0, "%s: %s (run make fixtures)", path,
	    strerror(errno));
	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 3);
	/* Sorted by id. */
	ck_assert_str_eq(lib.games[0].id, "alienswarm");
	ck_assert_str_eq(lib.games[1].id, "bf1942");
	ck_assert_str_eq(lib.games[2].id, "ggoo");
	ck_assert_str_eq(lib.games[0].version, "20190317");
	ck_assert_str_eq(lib.games[1].version, "20160130");
	ck_assert_str_eq(lib.games[2].version, "20200721");
	ck_assert_int_eq(lib.games[2].downloaded, 1);
	/* alienswarm carries about 120 MiB of archive. */
	ck_assert_uint_gt(lib.games[0].size, 100ull * 1024 * 1024);
	library_free(&lib);
	close(dfd);
}
END_TEST

/* names and links */

START_TEST(folders_that_are_not_game_ids_are_skipped)
{
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, ".hidden");
	tu_write_str(dfd, ".hidden/version.ini", "1\n");
	tu_mkdir(dfd, "bad name");
	tu_write_str(dfd, "bad name/version.ini", "1\n");
	tu_mkdir(dfd, "-rf");
	tu_write_str(dfd, "-rf/version.ini", "1\n");
	tu_mkdir(dfd, "caf\xc3\xa9");
	tu_write_str(dfd, "caf\xc3\xa9/version.ini", "1\n");
	tu_mkdir(dfd, "good-1.0_x");
	tu_write_str(dfd, "good-1.0_x/version.ini", "1\n");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 1);
	ck_assert_str_eq(lib.games[0].id, "good-1.0_x");
	ck_assert_ptr_null(library_find(&lib, ".hidden"));
	ck_assert_ptr_null(library_find(&lib, "bad name"));
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(symlinked_game_folder_is_not_followed)
{
	char		 target[PATH_MAX];
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(rootfd, "elsewhere");
	tu_mkdir(rootfd, "elsewhere/ggoo");
	tu_write_str(rootfd, "elsewhere/ggoo/version.ini", "20200721\n");
	tu_mkdir(rootfd, "elsewhere/ggoo/local");
	tu_path(target, sizeof(target), root, "elsewhere/ggoo");
	tu_symlink(target, dfd, "ggoo");
	/* A relative link inside the folder is a link all the same. */
	tu_mkdir(dfd, "cnc4");
	tu_write_str(dfd, "cnc4/version.ini", "20170204\n");
	tu_symlink("cnc4", dfd, "cnc4copy");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, 1);
	ck_assert_ptr_null(library_find(&lib, "ggoo"));
	ck_assert_ptr_null(library_find(&lib, "cnc4copy"));
	ck_assert_ptr_nonnull(library_find(&lib, "cnc4"));
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(symlinked_version_ini_is_not_trusted)
{
	char		 target[PATH_MAX];
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_write_str(rootfd, "outside-version.ini", "20200721\n");
	tu_path(target, sizeof(target), root, "outside-version.ini");
	tu_mkdir(dfd, "ggoo");
	tu_write_str(dfd, "ggoo/ggoo.eti", "rar");
	tu_symlink(target, dfd, "ggoo/version.ini");
	/* Installed too: listed, but not downloaded. */
	tu_mkdir(dfd, "coh");
	tu_mkdir(dfd, "coh/local");
	tu_write_str(dfd, "coh/real.ini", "20200907\n");
	tu_symlink("real.ini", dfd, "coh/version.ini");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_ptr_null(library_find(&lib, "ggoo"));
	ck_assert_uint_eq(lib.ngames, 1);
	ck_assert_int_eq(must_find(&lib, "coh")->downloaded, 0);
	ck_assert_int_eq(must_find(&lib, "coh")->installed, 1);
	ck_assert_str_eq(must_find(&lib, "coh")->version, "");
	ck_assert_str_eq(local_game_availability(must_find(&lib, "coh")),
	    "LocalOnly");
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(symlinked_local_is_not_an_installation)
{
	char		 target[PATH_MAX];
	struct library	 lib;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(rootfd, "otherlocal");
	tu_path(target, sizeof(target), root, "otherlocal");
	tu_mkdir(dfd, "css");
	tu_symlink(target, dfd, "css/local");
	tu_mkdir(dfd, "coh");
	tu_write_str(dfd, "coh/version.ini", "20200907\n");
	tu_symlink(target, dfd, "coh/local");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_ptr_null(library_find(&lib, "css"));
	ck_assert_int_eq(must_find(&lib, "coh")->installed, 0);
	library_free(&lib);
	close(dfd);
}
END_TEST

/* size */

START_TEST(size_counts_regular_files_but_not_local_staging_or_metadata)
{
	char		 target[PATH_MAX];
	struct library	 lib;
	uint64_t	 want;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, "bf1942");
	tu_write_str(dfd, "bf1942/version.ini", "20160130\n");	/* 9 */
	mkfile_size(dfd, "bf1942/bf1942.eti", 10000);
	tu_mkdir(dfd, "bf1942/data");
	mkfile_size(dfd, "bf1942/data/maps.bin", 3000);
	tu_mkdir(dfd, "bf1942/data/deeper");
	mkfile_size(dfd, "bf1942/data/deeper/x", 7);
	/* Only the top-level local/ is the installed game. */
	tu_mkdir(dfd, "bf1942/data/local");
	mkfile_size(dfd, "bf1942/data/local/y", 11);

	/* Never transferred, never counted. */
	tu_mkdir(dfd, "bf1942/local");
	mkfile_size(dfd, "bf1942/local/big.bin", 500000);
	tu_mkdir(dfd, "bf1942/.local.installing");
	mkfile_size(dfd, "bf1942/.local.installing/part", 40000);
	mkfile_size(dfd, "bf1942/.lanspread", 100);
	mkfile_size(dfd, "bf1942/.lanspread.json", 200);
	mkfile_size(dfd, "bf1942/data/.lanspread-meta", 300);
	tu_mkdir(dfd, "bf1942/.lanspread.d");
	mkfile_size(dfd, "bf1942/.lanspread.d/z", 400);
	/* Links are not files of the game. */
	mkfile_size(rootfd, "huge-outside", 80000);
	tu_path(target, sizeof(target), root, "huge-outside");
	tu_symlink(target, dfd, "bf1942/link.bin");
	tu_path(target, sizeof(target), root, "games/bf1942/local");
	tu_symlink(target, dfd, "bf1942/data/locallink");

	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	want = 9 + 10000 + 3000 + 7 + 11;
	ck_assert_msg(must_find(&lib, "bf1942")->size == want,
	    "size %llu, want %llu",
	    (unsigned long long)must_find(&lib, "bf1942")->size,
	    (unsigned long long)want);
	library_free(&lib);
	close(dfd);
}
END_TEST

/* comparison and lookup */

START_TEST(library_equal_detects_a_version_change)
{
	struct library	 a, b, c;
	int		 dfd;

	dfd = games_dir("games");
	tu_mkdir(dfd, "cod5");
	tu_write_str(dfd, "cod5/version.ini", "20160920\n");
	tu_mkdir(dfd, "css");
	tu_write_str(dfd, "css/version.ini", "20240623\n");

	ck_assert_int_eq(library_scan(dfd, &a), 0);
	ck_assert_int_eq(library_scan(dfd, &b), 0);
	ck_assert(library_equal(&a, &b));
	ck_assert(library_equal(&a, &a));

	/* Same length, new version: the size is unchanged too. */
	tu_write_str(dfd, "css/version.ini", "20240624\n");
	ck_assert_int_eq(library_scan(dfd, &c), 0);
	ck_assert_str_eq(must_find(&c, "css")->version, "20240624");
	ck_assert_uint_eq(must_find(&c, "css")->size,
	    must_find(&a, "css")->size);
	ck_assert(!library_equal(&a, &c));
	ck_assert(!library_equal(&c, &a));
	library_free(&c);

	/* A game gone, and an installation appearing, count too. */
	tu_write_str(dfd, "css/version.ini", "20240623\n");
	tu_mkdir(dfd, "cod5/local");
	ck_assert_int_eq(library_scan(dfd, &c), 0);
	ck_assert(!library_equal(&a, &c));
	library_free(&c);
	ck_assert_int_eq(unlinkat(dfd, "cod5/local", AT_REMOVEDIR), 0);
	ck_assert_int_eq(unlinkat(dfd, "css/version.ini", 0), 0);
	ck_assert_int_eq(library_scan(dfd, &c), 0);
	ck_assert_uint_eq(c.ngames, 1);
	ck_assert(!library_equal(&a, &c));

	library_free(&a);
	library_free(&b);
	library_free(&c);
	close(dfd);
}
END_TEST

START_TEST(library_find_finds_listed_games_only)
{
	static const char *const ids[] = {
		"zeta", "alpha", "mike", "bravo", "yankee", "coh",
	};
	struct library	 lib;
	char		 rel[64], longid[128];
	size_t		 i;
	int		 dfd;

	dfd = games_dir("games");
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		tu_mkdir(dfd, ids[i]);
		snprintf(rel, sizeof(rel), "%s/version.ini", ids[i]);
		tu_write_str(dfd, rel, "1\n");
	}
	ck_assert_int_eq(library_scan(dfd, &lib), 0);
	ck_assert_uint_eq(lib.ngames, sizeof(ids) / sizeof(ids[0]));
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		ck_assert_str_eq(must_find(&lib, ids[i])->id, ids[i]);
	ck_assert_ptr_null(library_find(&lib, "cod2"));
	ck_assert_ptr_null(library_find(&lib, ""));
	ck_assert_ptr_null(library_find(&lib, "alph"));
	ck_assert_ptr_null(library_find(&lib, "alphaa"));
	memset(longid, 'z', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_ptr_null(library_find(&lib, longid));
	library_free(&lib);
	close(dfd);
}
END_TEST

START_TEST(version_file_is_trimmed_and_refused_when_odd)
{
	char	 buf[64];
	int	 dfd;

	dfd = games_dir("games");
	tu_write_str(dfd, "plain", "20190317");
	tu_write_str(dfd, "crlf", "\r\n 20190317 \r\n");
	tu_write_str(dfd, "inner", "1.0 beta\n");
	tu_write_str(dfd, "blank", " \n\t\n");
	tu_write_str(dfd, "empty", "");
	tu_write_str(dfd, "ctrl", "2019\x01" "0317\n");
	mkfile_size(dfd, "long", 300);
	tu_mkdir(dfd, "dir");

	ck_assert_int_eq(read_version_file(dfd, "plain", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "20190317");
	ck_assert_int_eq(read_version_file(dfd, "crlf", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "20190317");
	ck_assert_int_eq(read_version_file(dfd, "inner", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1.0 beta");
	ck_assert_int_eq(read_version_file(dfd, "blank", buf, sizeof(buf)),
	    -1);
	ck_assert_int_eq(read_version_file(dfd, "empty", buf, sizeof(buf)),
	    -1);
	ck_assert_int_eq(read_version_file(dfd, "ctrl", buf, sizeof(buf)), -1);
	ck_assert_int_eq(read_version_file(dfd, "long", buf, sizeof(buf)), -1);
	ck_assert_int_eq(read_version_file(dfd, "dir", buf, sizeof(buf)), -1);
	ck_assert_int_eq(read_version_file(dfd, "missing", buf, sizeof(buf)),
	    -1);
	/* "20190317" needs nine bytes. */
	ck_assert_int_eq(read_version_file(dfd, "plain", buf, 8), -1);
	ck_assert_int_eq(read_version_file(dfd, "plain", buf, 9), 0);
	close(dfd);
}
END_TEST

static Suite *
library_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("library");

	tc = tu_tcase(s, "state", top_setup, top_teardown,
	    root_setup, root_teardown);
	tcase_add_test(tc, game_with_version_ini_is_downloaded_and_ready);
	tcase_add_test(tc, game_with_only_local_is_installed_and_local_only);
	tcase_add_test(tc,
	    game_with_version_ini_and_local_is_ready_and_installed);
	tcase_add_test(tc, folder_with_neither_is_not_listed);
	tcase_add_test(tc, empty_games_folder_gives_an_empty_library);
	tcase_add_test(tc, fixture_folder_scans_at_catalog_versions);
	tcase_add_test(tc, version_file_is_trimmed_and_refused_when_odd);

	tc = tu_tcase(s, "names_and_links", top_setup, top_teardown,
	    root_setup, root_teardown);
	tcase_add_test(tc, folders_that_are_not_game_ids_are_skipped);
	tcase_add_test(tc, symlinked_game_folder_is_not_followed);
	tcase_add_test(tc, symlinked_version_ini_is_not_trusted);
	tcase_add_test(tc, symlinked_local_is_not_an_installation);

	tc = tu_tcase(s, "size", top_setup, top_teardown,
	    root_setup, root_teardown);
	tcase_add_test(tc,
	    size_counts_regular_files_but_not_local_staging_or_metadata);

	tc = tu_tcase(s, "compare", top_setup, top_teardown,
	    root_setup, root_teardown);
	tcase_add_test(tc, library_equal_detects_a_version_change);
	tcase_add_test(tc, library_find_finds_listed_games_only);

	return s;
}

int
main(void)
{
	return tu_run_suite(library_suite());
}
