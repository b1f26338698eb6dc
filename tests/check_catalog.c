/*
 * Check suite for supervisor/catalog.c: the SQLite catalog of valid game
 * ids and versions, loaded once, read-only, and refused whole when any
 * row is not a valid game id.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "supervisor/catalog.h"
#include "tests/testutil.h"

/* One root per test case (runner); one directory per test beneath it. */
static char	top[PATH_MAX];
static char	root[256];

static Suite	*catalog_suite(void);

/* The fixture catalog, as SPEC.md lists it. */
static const struct {
	const char	*id;
	const char	*version;
} fixture_games[] = {
	{ "alienswarm", "20190317" },
	{ "bf1942", "20160130" },
	{ "bfbc2", "20210416" },
	{ "cnc4", "20170204" },
	{ "cnctw", "20160128" },
	{ "cod5", "20160920" },
	{ "cod6", "20200315" },
	{ "coh", "20200907" },
	{ "css", "20240623" },
	{ "ggoo", "20200721" },
};
#define NFIXTURE	(sizeof(fixture_games) / sizeof(fixture_games[0]))

static int
chmod_entry(const char *fpath, const struct stat *sb, int type,
    struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DP || S_ISDIR(sb->st_mode))
		return chmod(fpath, 0700);
	return chmod(fpath, 0600);
}

/* Unchecked: runs in the runner, so it cleans up after failures too. */
static void
top_setup(void)
{
	tu_tmpdir(top, sizeof(top), "check_catalog");
}

static void
top_teardown(void)
{
	/* Tests leave read-only folders behind; make them removable. */
	nftw(top, chmod_entry, 16, FTW_PHYS);
	tu_rmtree(top);
}

static void
root_setup(void)
{
	tu_tmpdir_in(root, sizeof(root), top, "t");
}

static const char *
fixture_db(void)
{
	static char	 path[PATH_MAX];

	tu_path(path, sizeof(path), tu_fixtures(), "game.db");
	ck_assert_msg(access(path, R_OK) == 0, "%s: %s (run make fixtures)",
	    path, strerror(errno));
	return path;
}

/* Builds a catalog database with plain SQLite, not the code under test. */
static void
make_db(const char *path, const char *sql)
{
	sqlite3	*db;
	char	*emsg = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &emsg) == SQLITE_OK,
	    "%s", emsg ? emsg : "?");
	sqlite3_close(db);
}

#define SCHEMA \
	"CREATE TABLE games (id TEXT PRIMARY KEY NOT NULL," \
	" name TEXT NOT NULL, version TEXT NOT NULL);"

static void
copy_file(const char *from, const char *to)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 in, out;

	in = open(from, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	close(out);
}

/* The whole file, for byte-for-byte comparison. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

/* the fixture catalog */

START_TEST(fixture_catalog_lists_ten_games_at_their_versions)
{
	struct catalog	 cat;
	const struct catalog_game *g;
	char		 err[256] = "";
	size_t		 i;

	ck_assert_msg(catalog_load(&cat, fixture_db(), err, sizeof(err)) == 0,
	    "load: %s", err);
	ck_assert_uint_eq(cat.ngames, NFIXTURE);
	for (i = 0; i < NFIXTURE; i++) {
		g = catalog_find(&cat, fixture_games[i].id);
		ck_assert_msg(g != NULL, "%s not found", fixture_games[i].id);
		ck_assert_str_eq(g->id, fixture_games[i].id);
		ck_assert_str_eq(g->version, fixture_games[i].version);
	}
	g = catalog_find(&cat, "alienswarm");
	ck_assert_str_eq(g->name, "Alien Swarm");
	catalog_free(&cat);
	ck_assert_ptr_null(cat.games);
	ck_assert_uint_eq(cat.ngames, 0);
}
END_TEST

START_TEST(find_misses_games_not_in_the_catalog)
{
	struct catalog	 cat;
	char		 err[256] = "", longid[200];

	ck_assert_msg(catalog_load(&cat, fixture_db(), err, sizeof(err)) == 0,
	    "load: %s", err);
	ck_assert_ptr_null(catalog_find(&cat, "cod2"));
	ck_assert_ptr_null(catalog_find(&cat, "mystery-game"));
	ck_assert_ptr_null(catalog_find(&cat, ""));
	ck_assert_ptr_null(catalog_find(&cat, "Alienswarm"));
	ck_assert_ptr_null(catalog_find(&cat, "alienswar"));
	ck_assert_ptr_null(catalog_find(&cat, "alienswarmx"));
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_ptr_null(catalog_find(&cat, longid));
	catalog_free(&cat);
}
END_TEST

START_TEST(find_on_an_empty_catalog_finds_nothing)
{
	struct catalog	 cat;
	char		 path[PATH_MAX], err[256] = "";

	make_db(tu_path(path, sizeof(path), root, "empty.db"), SCHEMA);
	ck_assert_msg(catalog_load(&cat, path, err, sizeof(err)) == 0,
	    "load: %s", err);
	ck_assert_uint_eq(cat.ngames, 0);
	ck_assert_ptr_null(catalog_find(&cat, "alienswarm"));
	catalog_free(&cat);
}
END_TEST

/* refusals */

START_TEST(catalog_with_a_path_as_game_id_is_refused)
{
	struct catalog	 cat;
	char		 path[PATH_MAX], err[256] = "";

	make_db(tu_path(path, sizeof(path), root, "bad.db"), SCHEMA
	    "INSERT INTO games VALUES ('alienswarm', 'Alien Swarm', '1');"
	    "INSERT INTO games VALUES ('../x', 'Escape', '1');");
	ck_assert_int_eq(catalog_load(&cat, path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "invalid id") != NULL, "error: \"%s\"", err);
	ck_assert_ptr_null(cat.games);
	ck_assert_uint_eq(cat.ngames, 0);
}
END_TEST

START_TEST(catalog_with_any_invalid_id_is_refused)
{
	static const char *const bad[] = {
		"'.hidden'", "'a b'", "'a/b'", "''", "'-rf'", "NULL",
		/* 65 bytes */
		"'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaa'",
	};
	struct catalog	 cat;
	char		 path[PATH_MAX], rel[32], sql[512], err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(rel, sizeof(rel), "bad%zu.db", i);
		snprintf(sql, sizeof(sql), "CREATE TABLE games (id TEXT,"
		    " name TEXT, version TEXT);"
		    "INSERT INTO games VALUES (%s, 'n', '1');", bad[i]);
		make_db(tu_path(path, sizeof(path), root, rel), sql);
		err[0] = '\0';
		ck_assert_msg(catalog_load(&cat, path, err, sizeof(err)) == -1,
		    "id %s accepted", bad[i]);
		ck_assert_msg(err[0] != '\0', "id %s: no error message",
		    bad[i]);
	}
}
END_TEST

/*
 * KNOWN BUG (reported, left failing on purpose): copy_col() copies
 * sqlite3_column_bytes() bytes, NUL included, and the id is then checked
 * with strlen semantics, so the row "a\0../x" loads as the game "a".
 */
START_TEST(catalog_id_with_an_embedded_nul_is_refused)
{
	struct catalog	 cat;
	char		 path[PATH_MAX], err[256] = "";

	make_db(tu_path(path, sizeof(path), root, "nul.db"), SCHEMA
	    "INSERT INTO games VALUES (CAST(X'61002e2e2f78' AS TEXT), 'n',"
	    " '1');");
	ck_assert_msg(catalog_load(&cat, path, err, sizeof(err)) == -1,
	    "the id \"a\\0../x\" was loaded as \"%s\"",
	    cat.ngames > 0 ? cat.games[0].id : "");
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(catalog_with_an_empty_version_is_refused)
{
	struct catalog	 cat;
	char		 path[PATH_MAX], err[256] = "";

	make_db(tu_path(path, sizeof(path), root, "nover.db"), SCHEMA
	    "INSERT INTO games VALUES ('ggoo', 'Goat Simulator', '');");
	ck_assert_int_eq(catalog_load(&cat, path, err, sizeof(err)), -1);
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(missing_catalog_file_is_refused_and_not_created)
{
	struct catalog	 cat;
	struct stat	 st;
	char		 path[PATH_MAX], err[256] = "";

	tu_path(path, sizeof(path), root, "no-such.db");
	ck_assert_int_eq(catalog_load(&cat, path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no-such.db") != NULL, "error: \"%s\"", err);
	ck_assert_msg(strstr(err, "does not exist") != NULL, "error: \"%s\"",
	    err);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_uint_eq(tu_dir_count(root), 0);
}
END_TEST

START_TEST(file_that_is_not_a_catalog_is_refused)
{
	struct catalog	 cat;
	char		 path[PATH_MAX], err[256] = "";
	FILE		*f;

	tu_path(path, sizeof(path), root, "junk.db");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, just some text\n", f);
	fclose(f);
	ck_assert_int_eq(catalog_load(&cat, path, err, sizeof(err)), -1);
	/* In the organizer's words, not SQLite's. */
	ck_assert_msg(strstr(err, "is not an SQLite database") != NULL,
	    "error: \"%s\"", err);

	/* A database without the games table. */
	make_db(tu_path(path, sizeof(path), root, "other.db"),
	    "CREATE TABLE t (x);");
	err[0] = '\0';
	ck_assert_int_eq(catalog_load(&cat, path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "wrong schema") != NULL &&
	    strstr(err, "no such table") == NULL, "error: \"%s\"", err);
}
END_TEST

/* read-only */

START_TEST(loading_leaves_a_read_only_copy_untouched)
{
	struct catalog	 cat;
	struct stat	 before, after;
	char		 dir[PATH_MAX], path[PATH_MAX], err[256] = "";
	char		*b0, *b1;
	size_t		 l0, l1;

	tu_path(dir, sizeof(dir), root, "ro");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	tu_path(path, sizeof(path), root, "ro/game.db");
	copy_file(fixture_db(), path);
	ck_assert_int_eq(chmod(path, 0444), 0);
	ck_assert_int_eq(chmod(dir, 0555), 0);
	b0 = slurp(path, &l0);
	ck_assert_int_eq(stat(path, &before), 0);
	/* A coarse clock must still see a write. */
	usleep(20000);

	ck_assert_msg(catalog_load(&cat, path, err, sizeof(err)) == 0,
	    "load: %s", err);
	ck_assert_uint_eq(cat.ngames, NFIXTURE);
	ck_assert_ptr_nonnull(catalog_find(&cat, "ggoo"));
	catalog_free(&cat);

	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
	ck_assert(before.st_ctim.tv_sec == after.st_ctim.tv_sec &&
	    before.st_ctim.tv_nsec == after.st_ctim.tv_nsec);
	ck_assert_int_eq(after.st_mode & 07777, 0444);
	b1 = slurp(path, &l1);
	ck_assert_uint_eq(l0, l1);
	ck_assert_int_eq(memcmp(b0, b1, l0), 0);
	free(b0);
	free(b1);
	/* No journal, WAL or shm file left (or made) beside it. */
	ck_assert_uint_eq(tu_dir_count(dir), 1);
}
END_TEST

START_TEST(loading_does_not_write_a_writable_catalog_either)
{
	struct catalog	 cat;
	struct stat	 before, after;
	char		 path[PATH_MAX], err[256] = "";

	tu_path(path, sizeof(path), root, "game.db");
	copy_file(fixture_db(), path);
	ck_assert_int_eq(stat(path, &before), 0);
	usleep(20000);
	ck_assert_msg(catalog_load(&cat, path, err, sizeof(err)) == 0,
	    "load: %s", err);
	catalog_free(&cat);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
	ck_assert_int_eq(before.st_size, after.st_size);
	ck_assert_uint_eq(tu_dir_count(root), 1);
}
END_TEST

/*
 * Paths are file names, not URIs: a catalog in a folder whose name holds
 * '?', '#' or '%' is still that file.
 * KNOWN BUG (reported, left failing on purpose): catalog_load() pastes the
 * path into "file:%s?mode=ro" unescaped, so SQLite cuts it at '?' or '#'
 * and decodes "%41" as "A".
 */
START_TEST(catalog_path_with_uri_characters_loads_that_file)
{
	static const char *const dirs[] = { "a?b", "c#d", "e%41f" };
	struct catalog	 cat;
	char		 dir[PATH_MAX], path[PATH_MAX], rel[64];
	char		 err[512];
	size_t		 i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		tu_path(dir, sizeof(dir), root, dirs[i]);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
		snprintf(rel, sizeof(rel), "%s/game.db", dirs[i]);
		tu_path(path, sizeof(path), root, rel);
		copy_file(fixture_db(), path);
		err[0] = '\0';
		ck_assert_msg(catalog_load(&cat, path, err, sizeof(err)) == 0,
		    "catalog in \"%s\": %s", dirs[i], err);
		ck_assert_uint_eq(cat.ngames, NFIXTURE);
		catalog_free(&cat);
	}
}
END_TEST

static Suite *
catalog_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("catalog");

	tc = tu_tcase(s, "fixture", top_setup, top_teardown, root_setup, NULL);
	tcase_add_test(tc, fixture_catalog_lists_ten_games_at_their_versions);
	tcase_add_test(tc, find_misses_games_not_in_the_catalog);
	tcase_add_test(tc, find_on_an_empty_catalog_finds_nothing);

	tc = tu_tcase(s, "refusals", top_setup, top_teardown, root_setup, NULL);
	tcase_add_test(tc, catalog_with_a_path_as_game_id_is_refused);
	tcase_add_test(tc, catalog_with_any_invalid_id_is_refused);
	tcase_add_test(tc, catalog_id_with_an_embedded_nul_is_refused);
	tcase_add_test(tc, catalog_with_an_empty_version_is_refused);
	tcase_add_test(tc, missing_catalog_file_is_refused_and_not_created);
	tcase_add_test(tc, file_that_is_not_a_catalog_is_refused);

	tc = tu_tcase(s, "read_only", top_setup, top_teardown,
	    root_setup, NULL);
	tcase_add_test(tc, loading_leaves_a_read_only_copy_untouched);
	tcase_add_test(tc, loading_does_not_write_a_writable_catalog_either);
	tcase_add_test(tc, catalog_path_with_uri_characters_loads_that_file);

	return s;
}

int
main(void)
{
	return tu_run_suite(catalog_suite());
}
