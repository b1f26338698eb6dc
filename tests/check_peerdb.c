/*
 * Check suite for supervisor/peerdb.c: our own peer identity and the
 * peers we know, one row per peer id, with the library each advertised.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/identity.h"
#include "supervisor/keyfile.h"
#include "supervisor/peerdb.h"
#include "tests/testutil.h"

#define PEER_X	"0123456789abcdef0123456789abcdef"
#define PEER_Y	"fedcba9876543210fedcba9876543210"
#define MAXROWS	16

/* One root per test case (runner); one state dir per test beneath it. */
static char	top[PATH_MAX];
static char	root[256];
static struct peerdb	db;

static Suite	*peerdb_suite(void);

/* What the iterators yielded. */
struct rows {
	int			n;
	struct peer_info	peer[MAXROWS];
	struct game_entry	game[MAXROWS];
};

static void
open_db(void)
{
	char	 err[256] = "";

	ck_assert_msg(peerdb_open(&db, root, err, sizeof(err)) == 0,
	    "open: %s", err);
}

/* Unchecked: runs in the runner, so it cleans up after failures too. */
static void
top_setup(void)
{
	tu_tmpdir(top, sizeof(top), "check_peerdb");
}

static void
top_teardown(void)
{
	tu_rmtree(top);
}

/* Checked fixture: a fresh state dir and an open database per test. */
static void
db_setup(void)
{
	tu_tmpdir_in(root, sizeof(root), top, "s");
	open_db();
}

static void
db_teardown(void)
{
	peerdb_close(&db);
}

static int
collect_peer(const struct peer_info *pi, void *arg)
{
	struct rows	*r = arg;

	ck_assert_int_lt(r->n, MAXROWS);
	r->peer[r->n++] = *pi;
	return 0;
}

static int
collect_game(const struct peer_info *pi, const struct game_entry *g,
    void *arg)
{
	struct rows	*r = arg;

	ck_assert_int_lt(r->n, MAXROWS);
	r->peer[r->n] = *pi;
	r->game[r->n++] = *g;
	return 0;
}

static void
connected(struct rows *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(peerdb_each_connected(&db, collect_peer, r), 0);
}

static void
games_of(const char *peer_id, struct rows *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(peerdb_each_game(&db, peer_id, collect_game, r), 0);
}

static void
upsert(const char *id, const char *name, const char *addr, int conn)
{
	struct peer_info pi;

	memset(&pi, 0, sizeof(pi));
	snprintf(pi.peer_id, sizeof(pi.peer_id), "%s", id);
	snprintf(pi.name, sizeof(pi.name), "%s", name);
	snprintf(pi.addr, sizeof(pi.addr), "%s", addr);
	pi.connected = conn;
	ck_assert_int_eq(peerdb_upsert(&db, &pi), 0);
}

static struct game_entry
game(const char *id, const char *version, int downloaded, int installed,
    uint64_t size)
{
	struct game_entry g;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.version, sizeof(g.version), "%s", version);
	snprintf(g.availability, sizeof(g.availability), "%s",
	    downloaded ? "Ready" : "LocalOnly");
	g.downloaded = downloaded;
	g.installed = installed;
	g.size = size;
	return g;
}

static void
assert_game_eq(const struct game_entry *got, const struct game_entry *want)
{
	ck_assert_str_eq(got->id, want->id);
	ck_assert_str_eq(got->version, want->version);
	ck_assert_str_eq(got->availability, want->availability);
	ck_assert_int_eq(got->downloaded, want->downloaded);
	ck_assert_int_eq(got->installed, want->installed);
	ck_assert(got->size == want->size);
}

/* Two games of X, stored at address A. */
static void
seed_x(struct game_entry lib[2])
{
	lib[0] = game("alienswarm", "20190317", 1, 0, 125829120);
	lib[1] = game("cnctw", "20160128", 0, 1, 0);
	upsert(PEER_X, "alpha", "127.0.0.2:4000", 1);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_X, lib, 2), 0);
}

/* identity: the key file and the id derived from it */

/* Our peer id as the supervisor makes it, from dir's key file. */
static void
our_id(const char *dir, char id[PEER_ID_SIZE])
{
	unsigned char	 seed[IDENTITY_SEED_LEN];
	struct identity	 ident;
	char		 err[256] = "";

	ck_assert_msg(keyfile_load_or_create(dir, seed, err, sizeof(err)) ==
	    0, "%s", err);
	ck_assert_int_eq(identity_from_seed(&ident, seed), 0);
	memcpy(id, ident.peer_id, PEER_ID_SIZE);
}

START_TEST(peer_id_is_32_lowercase_hex_characters)
{
	char	 id[PEER_ID_SIZE], again[PEER_ID_SIZE];
	size_t	 i;

	memset(id, 'Z', sizeof(id));
	our_id(root, id);
	ck_assert_uint_eq(strlen(id), 32);
	for (i = 0; i < 32; i++)
		ck_assert_msg(isxdigit((unsigned char)id[i]) &&
		    !isupper((unsigned char)id[i]), "peer id %s", id);
	our_id(root, again);
	ck_assert_str_eq(id, again);
}
END_TEST

START_TEST(peer_id_survives_a_restart)
{
	char	 id[PEER_ID_SIZE], again[PEER_ID_SIZE];

	our_id(root, id);
	ck_assert_int_eq(peerdb_set_identity(&db, id), 0);
	peerdb_close(&db);
	open_db();
	our_id(root, again);
	ck_assert_str_eq(id, again);
}
END_TEST

START_TEST(key_file_is_made_once_readable_by_its_owner_only)
{
	char		 path[PATH_MAX], id[PEER_ID_SIZE];
	struct stat	 st;

	our_id(root, id);
	snprintf(path, sizeof(path), "%s/%s", root, KEYFILE_NAME);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, IDENTITY_SEED_LEN);
	/* Loosened by hand: tightened again at the next start. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	our_id(root, id);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(a_damaged_key_file_is_an_error_not_a_new_identity)
{
	unsigned char	 seed[IDENTITY_SEED_LEN];
	char		 path[PATH_MAX], err[256] = "";
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", root, KEYFILE_NAME);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("short", f);
	fclose(f);
	chmod(path, 0600);
	ck_assert_int_eq(keyfile_load_or_create(root, seed, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, KEYFILE_NAME));
}
END_TEST

/* An older version's random id gives way to the derived one. */
START_TEST(derived_id_replaces_an_older_random_one)
{
	sqlite3_stmt	*st;
	char		 id[PEER_ID_SIZE];

	ck_assert_int_eq(sqlite3_exec(db.db, "INSERT INTO identity (key, value) "
	    "VALUES ('peer_id', '0123456789abcdef0123456789abcdef')", NULL,
	    NULL, NULL), SQLITE_OK);
	our_id(root, id);
	ck_assert_int_eq(peerdb_set_identity(&db, id), 0);
	ck_assert_int_eq(sqlite3_prepare_v2(db.db, "SELECT value FROM identity "
	    "WHERE key = 'peer_id'", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), id);
	sqlite3_finalize(st);
}
END_TEST

START_TEST(separate_state_dirs_get_separate_peer_ids)
{
	char		 dir[PATH_MAX];
	char		 id[PEER_ID_SIZE], oid[PEER_ID_SIZE];

	snprintf(dir, sizeof(dir), "%s/other", root);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	our_id(root, id);
	our_id(dir, oid);
	ck_assert_str_ne(id, oid);
}
END_TEST

/* A remembered id keeps the key it was first proven with. */
START_TEST(remembered_id_showing_another_key_is_refused)
{
	char	 err[256] = "";
	const char *k1 = "1111111111111111111111111111111111111111111111111111"
	    "111111111111", *k2 = "2222222222222222222222222222222222222222"
	    "222222222222222222222222";

	ck_assert_int_eq(peerdb_check_key(&db, PEER_X, k1, err,
	    sizeof(err)), 0);
	upsert(PEER_X, "alpha", "127.0.0.2:4000", 0);
	ck_assert_int_eq(peerdb_check_key(&db, PEER_X, k1, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(peerdb_check_key(&db, PEER_X, k2, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "remembered"));
	/* Still the first key after a restart. */
	peerdb_close(&db);
	open_db();
	ck_assert_int_eq(peerdb_check_key(&db, PEER_X, k2, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(peerdb_check_key(&db, PEER_X, k1, err,
	    sizeof(err)), 0);
}
END_TEST

START_TEST(open_refuses_a_missing_state_dir)
{
	struct peerdb	 other;
	char		 path[PATH_MAX], err[256] = "";

	snprintf(path, sizeof(path), "%s/no/such/dir", root);
	ck_assert_int_eq(peerdb_open(&other, path, err, sizeof(err)), -1);
	ck_assert_str_ne(err, "");
	ck_assert_ptr_null(other.db);
}
END_TEST

/* peers */

START_TEST(address_update_preserves_peer_identity_and_library)
{
	struct game_entry lib[2];
	struct peer_info pi;
	struct rows	 r;

	seed_x(lib);
	/* The same peer, back from another address: the library untouched. */
	upsert(PEER_X, "alpha", "127.0.0.7:4100", 1);

	ck_assert_int_eq(peerdb_count_connected(&db), 1);
	connected(&r);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.peer[0].peer_id, PEER_X);
	ck_assert_str_eq(r.peer[0].addr, "127.0.0.7:4100");
	ck_assert_str_eq(r.peer[0].name, "alpha");
	ck_assert_int_eq(r.peer[0].connected, 1);

	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 2);
	assert_game_eq(&r.game[0], &lib[0]);
	assert_game_eq(&r.game[1], &lib[1]);
	ck_assert_str_eq(r.peer[0].addr, "127.0.0.7:4100");
	ck_assert_str_eq(r.peer[1].peer_id, PEER_X);

	/* Every connected peer's games: the same two, at the new address. */
	games_of(NULL, &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.peer[0].addr, "127.0.0.7:4100");
	ck_assert_str_eq(r.peer[1].addr, "127.0.0.7:4100");

	ck_assert_int_eq(peerdb_get(&db, PEER_X, &pi), 0);
	ck_assert_str_eq(pi.addr, "127.0.0.7:4100");
}
END_TEST

START_TEST(upsert_updates_name_and_connected_in_place)
{
	struct peer_info pi;

	upsert(PEER_X, "alpha", "127.0.0.2:4000", 0);
	ck_assert_int_eq(peerdb_count_connected(&db), 0);
	upsert(PEER_X, "renamed", "127.0.0.2:4000", 1);
	ck_assert_int_eq(peerdb_count_connected(&db), 1);
	ck_assert_int_eq(peerdb_get(&db, PEER_X, &pi), 0);
	ck_assert_str_eq(pi.peer_id, PEER_X);
	ck_assert_str_eq(pi.name, "renamed");
	ck_assert_int_eq(pi.connected, 1);
	errno = 0;
	ck_assert_int_eq(peerdb_get(&db, PEER_Y, &pi), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(set_library_replaces_rather_than_appends)
{
	struct game_entry lib[2], next[1];
	struct rows	 r;

	seed_x(lib);
	next[0] = game("ggoo", "20200721", 1, 1, (uint64_t)1 << 40);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_X, next, 1), 0);
	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 1);
	assert_game_eq(&r.game[0], &next[0]);

	/* The same list again changes nothing; an empty one clears it. */
	ck_assert_int_eq(peerdb_set_library(&db, PEER_X, next, 1), 0);
	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_X, NULL, 0), 0);
	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(set_library_of_one_peer_leaves_the_others)
{
	struct game_entry lib[2], ylib[1];
	struct rows	 r;

	seed_x(lib);
	upsert(PEER_Y, "bravo", "127.0.0.3:4000", 1);
	ylib[0] = game("cnctw", "20160128", 1, 0, 3145728);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_Y, ylib, 1), 0);

	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 2);
	games_of(PEER_Y, &r);
	ck_assert_int_eq(r.n, 1);
	assert_game_eq(&r.game[0], &ylib[0]);
	ck_assert_str_eq(r.peer[0].peer_id, PEER_Y);

	/* Everyone's: ordered by game, then by address. */
	games_of(NULL, &r);
	ck_assert_int_eq(r.n, 3);
	ck_assert_str_eq(r.game[0].id, "alienswarm");
	ck_assert_str_eq(r.game[1].id, "cnctw");
	ck_assert_str_eq(r.peer[1].peer_id, PEER_X);
	ck_assert_str_eq(r.game[2].id, "cnctw");
	ck_assert_str_eq(r.peer[2].peer_id, PEER_Y);
}
END_TEST

START_TEST(disconnected_peer_drops_out_of_connected_views_only)
{
	struct game_entry lib[2], ylib[1];
	struct rows	 r;

	seed_x(lib);
	upsert(PEER_Y, "bravo", "127.0.0.3:4000", 1);
	ylib[0] = game("ggoo", "20200721", 1, 0, 42);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_Y, ylib, 1), 0);
	ck_assert_int_eq(peerdb_count_connected(&db), 2);

	ck_assert_int_eq(peerdb_set_connected(&db, PEER_X, 0), 0);
	ck_assert_int_eq(peerdb_count_connected(&db), 1);
	connected(&r);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.peer[0].peer_id, PEER_Y);

	games_of(NULL, &r);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.game[0].id, "ggoo");
	ck_assert_str_eq(r.peer[0].peer_id, PEER_Y);

	/* Its row stays; its library went with it. */
	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 0);

	/* Back again: its hello brings its library again. */
	ck_assert_int_eq(peerdb_set_connected(&db, PEER_X, 1), 0);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_X, lib, 2), 0);
	games_of(NULL, &r);
	ck_assert_int_eq(r.n, 3);
}
END_TEST

static int
first_peer_only(const struct peer_info *pi, void *arg)
{
	collect_peer(pi, arg);
	return -1;
}

static int
first_game_only(const struct peer_info *pi, const struct game_entry *g,
    void *arg)
{
	collect_game(pi, g, arg);
	return -1;
}

START_TEST(iterators_stop_when_the_callback_says_so)
{
	struct game_entry lib[2];
	struct rows	 r;

	seed_x(lib);
	upsert(PEER_Y, "bravo", "127.0.0.3:4000", 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(peerdb_each_connected(&db, first_peer_only, &r), 0);
	ck_assert_int_eq(r.n, 1);
	/* Ordered by address. */
	ck_assert_str_eq(r.peer[0].peer_id, PEER_X);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(peerdb_each_game(&db, PEER_X, first_game_only, &r),
	    0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.game[0].id, "alienswarm");
}
END_TEST

START_TEST(reopening_marks_every_peer_disconnected)
{
	struct game_entry lib[2];
	struct peer_info pi;
	struct rows	 r;

	seed_x(lib);
	upsert(PEER_Y, "bravo", "127.0.0.3:4000", 1);
	ck_assert_int_eq(peerdb_count_connected(&db), 2);
	peerdb_close(&db);
	open_db();

	ck_assert_int_eq(peerdb_count_connected(&db), 0);
	connected(&r);
	ck_assert_int_eq(r.n, 0);
	games_of(NULL, &r);
	ck_assert_int_eq(r.n, 0);
	/* Known, with its address, just not here; no stale library. */
	ck_assert_int_eq(peerdb_get(&db, PEER_X, &pi), 0);
	ck_assert_int_eq(pi.connected, 0);
	ck_assert_str_eq(pi.addr, "127.0.0.2:4000");
	games_of(PEER_X, &r);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(disconnect_all_empties_the_connected_views)
{
	struct game_entry lib[2];
	struct rows	 r;

	seed_x(lib);
	upsert(PEER_Y, "bravo", "127.0.0.3:4000", 1);
	ck_assert_int_eq(peerdb_disconnect_all(&db), 0);
	ck_assert_int_eq(peerdb_count_connected(&db), 0);
	connected(&r);
	ck_assert_int_eq(r.n, 0);
	games_of(NULL, &r);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

/* bounds */

static void
peer_n(char id[PEER_ID_SIZE], int n)
{
	snprintf(id, PEER_ID_SIZE, "%032x", n);
}

START_TEST(disconnected_peers_beyond_the_cap_go_oldest_first)
{
	struct peer_info pi;
	char		 id[PEER_ID_SIZE];
	int		 i;

	db.max_peers = 3;
	for (i = 0; i < 3; i++) {
		peer_n(id, i);
		upsert(id, "p", "127.0.0.2:4000", 1);
		ck_assert_int_eq(peerdb_set_connected(&db, id, 0), 0);
	}
	peer_n(id, 3);
	upsert(id, "p", "127.0.0.2:4000", 1);
	ck_assert_int_eq(peerdb_count(&db), 3);
	peer_n(id, 0);
	ck_assert_int_eq(peerdb_get(&db, id, &pi), -1);
	for (i = 1; i < 4; i++) {
		peer_n(id, i);
		ck_assert_int_eq(peerdb_get(&db, id, &pi), 0);
	}
}
END_TEST

START_TEST(connected_peers_are_never_pruned)
{
	char		 id[PEER_ID_SIZE];
	int		 i;

	db.max_peers = 2;
	for (i = 0; i < 5; i++) {
		peer_n(id, i);
		upsert(id, "p", "127.0.0.2:4000", 1);
	}
	ck_assert_int_eq(peerdb_count(&db), 5);
	ck_assert_int_eq(peerdb_count_connected(&db), 5);
	/* Once they leave, the next hello trims back to the cap. */
	ck_assert_int_eq(peerdb_disconnect_all(&db), 0);
	peer_n(id, 9);
	upsert(id, "p", "127.0.0.2:4000", 1);
	ck_assert_int_eq(peerdb_count(&db), 2);
	ck_assert_int_eq(peerdb_count_connected(&db), 1);
}
END_TEST

static int
count_game(const struct peer_info *pi, const struct game_entry *g,
    void *arg)
{
	(void)pi;
	(void)g;
	(*(int *)arg)++;
	return 0;
}

START_TEST(a_library_keeps_at_most_its_first_max_games)
{
	struct game_entry *lib;
	struct rows	 r;
	int		 i, n = 0;

	lib = calloc(PEERDB_MAX_GAMES + 10, sizeof(*lib));
	ck_assert_ptr_nonnull(lib);
	for (i = 0; i < PEERDB_MAX_GAMES + 10; i++) {
		char	 gid[GAME_ID_SIZE];

		snprintf(gid, sizeof(gid), "g%05d", i);
		lib[i] = game(gid, "1", 1, 0, 1);
	}
	upsert(PEER_X, "alpha", "127.0.0.2:4000", 1);
	ck_assert_int_eq(peerdb_set_library(&db, PEER_X, lib,
	    PEERDB_MAX_GAMES + 10), 0);
	ck_assert_int_eq(peerdb_each_game(&db, PEER_X, count_game, &n), 0);
	ck_assert_int_eq(n, PEERDB_MAX_GAMES);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(peerdb_each_game(&db, PEER_X, first_game_only, &r),
	    0);
	ck_assert_str_eq(r.game[0].id, "g00000");
	free(lib);
}
END_TEST

static Suite *
peerdb_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("peerdb");

	tc = tu_tcase(s, "identity", top_setup, top_teardown,
	    db_setup, db_teardown);
	tcase_add_test(tc, peer_id_is_32_lowercase_hex_characters);
	tcase_add_test(tc, peer_id_survives_a_restart);
	tcase_add_test(tc, separate_state_dirs_get_separate_peer_ids);
	tcase_add_test(tc, key_file_is_made_once_readable_by_its_owner_only);
	tcase_add_test(tc, a_damaged_key_file_is_an_error_not_a_new_identity);
	tcase_add_test(tc, derived_id_replaces_an_older_random_one);
	tcase_add_test(tc, remembered_id_showing_another_key_is_refused);
	tcase_add_test(tc, open_refuses_a_missing_state_dir);

	tc = tu_tcase(s, "peers", top_setup, top_teardown,
	    db_setup, db_teardown);
	tcase_add_test(tc, address_update_preserves_peer_identity_and_library);
	tcase_add_test(tc, upsert_updates_name_and_connected_in_place);
	tcase_add_test(tc, set_library_replaces_rather_than_appends);
	tcase_add_test(tc, set_library_of_one_peer_leaves_the_others);
	tcase_add_test(tc, disconnected_peer_drops_out_of_connected_views_only);
	tcase_add_test(tc, iterators_stop_when_the_callback_says_so);

	tc = tu_tcase(s, "restart", top_setup, top_teardown,
	    db_setup, db_teardown);
	tcase_add_test(tc, reopening_marks_every_peer_disconnected);
	tcase_add_test(tc, disconnect_all_empties_the_connected_views);

	tc = tu_tcase(s, "bounds", top_setup, top_teardown,
	    db_setup, db_teardown);
	tcase_add_test(tc, disconnected_peers_beyond_the_cap_go_oldest_first);
	tcase_add_test(tc, connected_peers_are_never_pruned);
	tcase_add_test(tc, a_library_keeps_at_most_its_first_max_games);

	return s;
}

int
main(void)
{
	return tu_run_suite(peerdb_suite());
}
