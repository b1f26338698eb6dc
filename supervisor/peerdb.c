/*
 * Peer identity and the peers we know, in SQLite under the state dir.
 * One row per peer id: a peer that comes back from another address keeps
 * its entry; only "connected" says whether it is here now. Its library
 * goes when it does (its next hello brings it again), and the rows of
 * peers long gone are pruned, so no flood of made-up ids fills the disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "supervisor/peerdb.h"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA journal_size_limit=1048576;"
    "CREATE TABLE IF NOT EXISTS identity ("
    "  key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS peers ("
    "  peer_id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,"
    "  addr TEXT NOT NULL, connected INTEGER NOT NULL DEFAULT 0,"
    "  last_seen INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS peer_games ("
    "  peer_id TEXT NOT NULL REFERENCES peers(peer_id) ON DELETE CASCADE,"
    "  game_id TEXT NOT NULL, version TEXT NOT NULL,"
    "  availability TEXT NOT NULL, downloaded INTEGER NOT NULL,"
    "  installed INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  PRIMARY KEY (peer_id, game_id));"
    "CREATE TABLE IF NOT EXISTS peer_keys ("
    "  peer_id TEXT PRIMARY KEY NOT NULL, public_key TEXT NOT NULL);";

int
peerdb_open(struct peerdb *p, const char *state_dir, char *err, size_t errsz)
{
	char	 path[4096];
	char	*emsg = NULL;

	p->db = NULL;
	p->max_peers = PEERDB_MAX_PEERS;
	if ((size_t)snprintf(path, sizeof(path), "%s/peers.db", state_dir) >=
	    sizeof(path)) {
		snprintf(err, errsz, "state dir path too long");
		return -1;
	}
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "peer db %s: %s", path,
		    p->db ? sqlite3_errmsg(p->db) : "cannot open");
		peerdb_close(p);
		return -1;
	}
	sqlite3_busy_timeout(p->db, 2000);
	if (sqlite3_exec(p->db, schema, NULL, NULL, &emsg) != SQLITE_OK ||
	    peerdb_disconnect_all(p) == -1) {
		snprintf(err, errsz, "peer db %s: %s", path,
		    emsg ? emsg : sqlite3_errmsg(p->db));
		sqlite3_free(emsg);
		peerdb_close(p);
		return -1;
	}
	return 0;
}

void
peerdb_close(struct peerdb *p)
{
	if (p->db != NULL)
		sqlite3_close(p->db);
	p->db = NULL;
}

static int
exec_bind(struct peerdb *p, const char *sql, int n, const char **args)
{
	sqlite3_stmt	*st;
	int		 i, rc;

	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("peer db: %s", sqlite3_errmsg(p->db));
		return -1;
	}
	for (i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("peer db: %s", sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

/*
 * Our peer id, derived from our key. It replaces the random id older
 * versions kept here (peers that knew that one meet a new peer).
 */
int
peerdb_set_identity(struct peerdb *p, const char id[PEER_ID_SIZE])
{
	sqlite3_stmt	*st;
	const char	*args[1] = { id };

	if (sqlite3_prepare_v2(p->db, "SELECT value FROM identity "
	    "WHERE key = 'peer_id'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), id) != 0)
		log_info("peer id %s replaces %s: ids now derive from keys",
		    id, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return exec_bind(p, "INSERT INTO identity (key, value) "
	    "VALUES ('peer_id', ?1) ON CONFLICT(key) DO UPDATE SET "
	    "value = excluded.value", 1, args);
}

/*
 * The key a peer id was first proven with is remembered: 0 when this is
 * it (or the id is new, and its key is remembered now), -1 with err
 * filled when the id shows another key, or the db fails.
 */
int
peerdb_check_key(struct peerdb *p, const char *peer_id, const char *pk_hex,
    char *err, size_t errsz)
{
	sqlite3_stmt	*st;
	const char	*args[2] = { peer_id, pk_hex };
	int		 rc = 0, found = 0;

	if (sqlite3_prepare_v2(p->db, "SELECT public_key FROM peer_keys "
	    "WHERE peer_id = ?1", -1, &st, NULL) != SQLITE_OK)
		return seterr(err, errsz, "peer db: %s",
		    sqlite3_errmsg(p->db));
	sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = 1;
		if (strcmp((const char *)sqlite3_column_text(st, 0),
		    pk_hex) != 0)
			rc = seterr(err, errsz, "peer %s shows key %s, but it "
			    "is remembered with key %s", peer_id, pk_hex,
			    (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	if (found)
		return rc;
	if (exec_bind(p, "INSERT INTO peer_keys (peer_id, public_key) "
	    "VALUES (?1, ?2)", 2, args) == -1)
		return seterr(err, errsz, "peer db: cannot remember a key");
	return 0;
}

int
peerdb_count(struct peerdb *p)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	if (sqlite3_prepare_v2(p->db, "SELECT COUNT(*) FROM peers", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Beyond max_peers rows, the disconnected peers seen longest ago go. */
static int
peerdb_prune(struct peerdb *p)
{
	char		 excess[32];
	const char	*args[1] = { excess };
	int		 n;

	if ((n = peerdb_count(p)) == -1)
		return -1;
	if (n <= p->max_peers)
		return 0;
	snprintf(excess, sizeof(excess), "%d", n - p->max_peers);
	if (exec_bind(p, "DELETE FROM peer_games WHERE peer_id IN ("
	    "SELECT peer_id FROM peers WHERE connected = 0 "
	    "ORDER BY last_seen, rowid LIMIT ?1)", 1, args) == -1 ||
	    exec_bind(p, "DELETE FROM peers WHERE peer_id IN ("
	    "SELECT peer_id FROM peers WHERE connected = 0 "
	    "ORDER BY last_seen, rowid LIMIT ?1)", 1, args) == -1 ||
	    exec_bind(p, "DELETE FROM peer_keys WHERE peer_id NOT IN ("
	    "SELECT peer_id FROM peers)", 0, NULL) == -1)
		return -1;
	log_debug("peer db: pruned %d peers seen longest ago",
	    n - p->max_peers);
	return 0;
}

int
peerdb_upsert(struct peerdb *p, const struct peer_info *pi)
{
	char		 now[32];
	const char	*args[5];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	args[0] = pi->peer_id;
	args[1] = pi->name;
	args[2] = pi->addr;
	args[3] = pi->connected ? "1" : "0";
	args[4] = now;
	if (exec_bind(p, "INSERT INTO peers "
	    "(peer_id, name, addr, connected, last_seen) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(peer_id) DO UPDATE SET "
	    "name = excluded.name, addr = excluded.addr, "
	    "connected = excluded.connected, last_seen = excluded.last_seen",
	    5, args) == -1)
		return -1;
	return peerdb_prune(p);
}

/*
 * Replaces a peer's library in one transaction, its first
 * PEERDB_MAX_GAMES games only (the caller puts those it cares for first).
 */
int
peerdb_set_library(struct peerdb *p, const char *peer_id,
    const struct game_entry *games, size_t ngames)
{
	sqlite3_stmt	*st = NULL;
	const char	*args[1] = { peer_id };
	size_t		 i;

	if (ngames > PEERDB_MAX_GAMES) {
		log_warnx("peer %s advertises %zu games; keeping %d", peer_id,
		    ngames, PEERDB_MAX_GAMES);
		ngames = PEERDB_MAX_GAMES;
	}
	if (exec_bind(p, "BEGIN", 0, NULL) == -1)
		return -1;
	if (exec_bind(p, "DELETE FROM peer_games WHERE peer_id = ?1",
	    1, args) == -1)
		goto fail;
	if (sqlite3_prepare_v2(p->db, "INSERT INTO peer_games (peer_id, "
	    "game_id, version, availability, downloaded, installed, size) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < ngames; i++) {
		sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, games[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, games[i].version, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, games[i].availability, -1,
		    SQLITE_STATIC);
		sqlite3_bind_int(st, 5, games[i].downloaded != 0);
		sqlite3_bind_int(st, 6, games[i].installed != 0);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)games[i].size);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return exec_bind(p, "COMMIT", 0, NULL);
fail:
	log_warnx("peer db: library of %s: %s", peer_id, sqlite3_errmsg(p->db));
	sqlite3_finalize(st);
	exec_bind(p, "ROLLBACK", 0, NULL);
	return -1;
}

/* A peer that leaves takes its library with it; it was seen until now. */
int
peerdb_set_connected(struct peerdb *p, const char *peer_id, int connected)
{
	char		 now[32];
	const char	*args[3] = { connected ? "1" : "0", peer_id, now };

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (exec_bind(p, "UPDATE peers SET connected = ?1, last_seen = ?3 "
	    "WHERE peer_id = ?2", 3, args) == -1)
		return -1;
	if (connected)
		return 0;
	if (exec_bind(p, "DELETE FROM peer_games WHERE peer_id = ?1", 1,
	    args + 1) == -1)
		return -1;
	/* Rows kept while their peers were linked may go now. */
	return peerdb_prune(p);
}

int
peerdb_disconnect_all(struct peerdb *p)
{
	if (exec_bind(p, "UPDATE peers SET connected = 0", 0, NULL) == -1)
		return -1;
	return exec_bind(p, "DELETE FROM peer_games", 0, NULL);
}

static void
row_to_peer(sqlite3_stmt *st, struct peer_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	snprintf(pi->peer_id, sizeof(pi->peer_id), "%s",
	    (const char *)sqlite3_column_text(st, 0));
	snprintf(pi->name, sizeof(pi->name), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	snprintf(pi->addr, sizeof(pi->addr), "%s",
	    (const char *)sqlite3_column_text(st, 2));
	pi->connected = sqlite3_column_int(st, 3);
}

int
peerdb_get(struct peerdb *p, const char *peer_id, struct peer_info *pi)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(p->db, "SELECT peer_id, name, addr, connected "
	    "FROM peers WHERE peer_id = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_peer(st, pi);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* Runs sql (its ?1 bound to limit) and hands cb each peer row. */
static int
each_peer(struct peerdb *p, const char *sql, int limit, peerdb_peer_cb cb,
    void *arg)
{
	sqlite3_stmt	*st;
	struct peer_info pi;
	int		 rc;

	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_peer(st, &pi);
		if (cb(&pi, arg) == -1)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
peerdb_each_connected(struct peerdb *p, peerdb_peer_cb cb, void *arg)
{
	return each_peer(p, "SELECT peer_id, name, addr, connected FROM peers "
	    "WHERE connected = 1 ORDER BY addr, peer_id LIMIT ?1", -1, cb, arg);
}

/* Every peer we know, the most recently seen first, at most limit. */
int
peerdb_each_remembered(struct peerdb *p, int limit, peerdb_peer_cb cb,
    void *arg)
{
	return each_peer(p, "SELECT peer_id, name, addr, connected FROM peers "
	    "ORDER BY last_seen DESC, rowid DESC LIMIT ?1", limit, cb, arg);
}

int
peerdb_count_connected(struct peerdb *p)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	if (sqlite3_prepare_v2(p->db, "SELECT COUNT(*) FROM peers "
	    "WHERE connected = 1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Games of one peer, or (peer_id NULL) of every connected peer. */
int
peerdb_each_game(struct peerdb *p, const char *peer_id, peerdb_game_cb cb,
    void *arg)
{
	sqlite3_stmt	*st;
	struct peer_info pi;
	struct game_entry g;
	int		 rc;

	if (sqlite3_prepare_v2(p->db, "SELECT p.peer_id, p.name, p.addr, "
	    "p.connected, g.game_id, g.version, g.availability, g.downloaded, "
	    "g.installed, g.size FROM peer_games g JOIN peers p "
	    "USING (peer_id) WHERE (?1 IS NULL AND p.connected = 1) "
	    "OR p.peer_id = ?1 ORDER BY g.game_id, p.addr", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (peer_id != NULL)
		sqlite3_bind_text(st, 1, peer_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_peer(st, &pi);
		memset(&g, 0, sizeof(g));
		snprintf(g.id, sizeof(g.id), "%s",
		    (const char *)sqlite3_column_text(st, 4));
		snprintf(g.version, sizeof(g.version), "%s",
		    (const char *)sqlite3_column_text(st, 5));
		snprintf(g.availability, sizeof(g.availability), "%s",
		    (const char *)sqlite3_column_text(st, 6));
		g.downloaded = sqlite3_column_int(st, 7);
		g.installed = sqlite3_column_int(st, 8);
		g.size = (uint64_t)sqlite3_column_int64(st, 9);
		if (cb(&pi, &g, arg) == -1)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}
