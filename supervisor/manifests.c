/*
 * Manifests of our downloaded games, for serving them. Piece hashes are
 * cached in STATE/manifests.db keyed by each file's size, mtime and
 * inode: a file that changed is hashed again (by the transfer worker, in
 * the background), one that did not never is. A game is served once every
 * file of it has its hashes; meanwhile a peer asking for its file list is
 * told to wait, and list-games and status show how far hashing is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gamefiles.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

struct game_hashing {
	TAILQ_ENTRY(game_hashing) entry;
	char		 game_id[GAME_ID_SIZE];
	int		 ready;		/* its manifest is served */
	unsigned char	 root[HASH_SIZE];
	int		 job;		/* a hash job is out */
	uint64_t	 total;		/* bytes of the game */
	uint64_t	 cached;	/* bytes with hashes */
	uint64_t	 job_bytes;	/* hashed so far by the job */
	int		 seen;		/* still in the library */
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS file_hashes ("
    "  game_id TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL,"
    "  piece_size INTEGER NOT NULL, hashes BLOB NOT NULL,"
    "  PRIMARY KEY (game_id, path));";

int
manifests_open(struct sup *sup, char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	char	*emsg = NULL;

	if ((size_t)snprintf(path, sizeof(path), "%s/manifests.db",
	    sup->cfg.state_dir) >= sizeof(path))
		return seterr(err, errsz, "state dir path too long");
	if (sqlite3_open_v2(path, &sup->hashdb, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
	    sqlite3_exec(sup->hashdb, schema, NULL, NULL, &emsg) !=
	    SQLITE_OK) {
		seterr(err, errsz, "manifest cache %s: %s", path, emsg ? emsg :
		    sup->hashdb ? sqlite3_errmsg(sup->hashdb) : "cannot open");
		sqlite3_free(emsg);
		return -1;
	}
	sqlite3_busy_timeout(sup->hashdb, 2000);
	/* Looked up for every file at every rescan: prepared once. */
	if (sqlite3_prepare_v2(sup->hashdb, "SELECT hashes FROM file_hashes "
	    "WHERE game_id = ? AND path = ? AND size = ? AND mtime_ns = ? AND "
	    "ino = ? AND piece_size = ?", -1, &sup->hash_get, NULL) !=
	    SQLITE_OK)
		return seterr(err, errsz, "manifest cache %s: %s", path,
		    sqlite3_errmsg(sup->hashdb));
	return 0;
}

static struct game_hashing *
hashing_find(struct sup *sup, const char *game_id)
{
	struct game_hashing *g;

	TAILQ_FOREACH(g, &sup->hashing, entry)
		if (strcmp(g->game_id, game_id) == 0)
			return g;
	return NULL;
}

static void
hashing_free(struct sup *sup, struct game_hashing *g)
{
	TAILQ_REMOVE(&sup->hashing, g, entry);
	free(g);
}

void
manifests_close(struct sup *sup)
{
	while (!TAILQ_EMPTY(&sup->hashing))
		hashing_free(sup, TAILQ_FIRST(&sup->hashing));
	sqlite3_finalize(sup->hash_get);
	sup->hash_get = NULL;
	if (sup->hashdb != NULL)
		sqlite3_close(sup->hashdb);
	sup->hashdb = NULL;
}

/*
 * The cached hashes of a file as it is now, into mf (hashes allocated);
 * 0 when found, -1 when it must be hashed.
 */
static int
cache_get(struct sup *sup, const char *game_id, const struct file_stat *fs,
    struct manifest_file *mf)
{
	sqlite3_stmt	*st = sup->hash_get;
	int		 rc = -1;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, game_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, fs->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)fs->size);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)fs->mtime_ns);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)fs->ino);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)PIECE_SIZE);
	if (sqlite3_step(st) == SQLITE_ROW) {
		size_t	 len = (size_t)sqlite3_column_bytes(st, 0);

		if (len == HASH_SIZE * manifest_pieces(fs->size, PIECE_SIZE) &&
		    (len == 0 || (mf->hashes = malloc(len)) != NULL)) {
			if (len > 0)
				memcpy(mf->hashes, sqlite3_column_blob(st, 0),
				    len);
			mf->hashes_len = len;
			rc = 0;
		}
	}
	sqlite3_reset(st);
	return rc;
}

static void
cache_put(struct sup *sup, const struct file_hashes *fh)
{
	static const char sql[] = "INSERT OR REPLACE INTO file_hashes "
	    "(game_id, path, size, mtime_ns, ino, piece_size, hashes) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(sup->hashdb, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("manifest cache: %s", sqlite3_errmsg(sup->hashdb));
		return;
	}
	sqlite3_bind_text(st, 1, fh->game_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, fh->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)fh->size);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)fh->mtime_ns);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)fh->ino);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)fh->piece_size);
	sqlite3_bind_blob(st, 7, fh->hashes_len > 0 ? (const void *)fh->hashes :
	    "",
	    (int)fh->hashes_len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("manifest cache: %s", sqlite3_errmsg(sup->hashdb));
	sqlite3_finalize(st);
}

/* Rows of games we no longer hold go, so the cache stays our size. */
static void
cache_prune(struct sup *sup, const char *game_id)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(sup->hashdb, "DELETE FROM file_hashes WHERE "
	    "game_id = ?", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, game_id, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

static void
hash_job_free(struct hash_job *job)
{
	game_files_free(job->files, job->nfiles);
	job->files = NULL;
	job->nfiles = 0;
}

static void
send_forget(struct sup *sup, const char *game_id)
{
	struct game_ref	 ref;

	snprintf(ref.game_id, sizeof(ref.game_id), "%s", game_id);
	msg_send_xfer_forget(sup_link(sup, PROC_TRANSFER), &ref);
}

/*
 * Builds the game's manifest from the cache as its files are now. Files
 * with no cached hashes land in *missing (NULL when there are none).
 * Returns 0, or -1 when the game's files cannot be listed.
 */
static int
manifests_build(struct sup *sup, const struct local_game *lg,
    struct manifest *m, struct hash_job *missing)
{
	struct file_stat *files;
	char		 err[ERROR_SIZE];
	size_t		 n, i;

	memset(m, 0, sizeof(*m));
	memset(missing, 0, sizeof(*missing));
	if (game_files(sup->games_fd, lg->id, &files, &n, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s", lg->id, err);
		return -1;
	}
	snprintf(m->game_id, sizeof(m->game_id), "%s", lg->id);
	snprintf(m->version, sizeof(m->version), "%s", lg->version);
	m->piece_size = PIECE_SIZE;
	memcpy(missing->game_id, m->game_id, sizeof(missing->game_id));
	missing->piece_size = PIECE_SIZE;
	if ((m->files = calloc(n + 1, sizeof(*m->files))) == NULL ||
	    (missing->files = calloc(n + 1, sizeof(*missing->files))) ==
	    NULL) {
		free(m->files);
		m->files = NULL;
		game_files_free(files, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct manifest_file *mf = &m->files[m->nfiles++];

		if ((mf->path = strdup(files[i].path)) == NULL) {
			game_files_free(files, n);
			manifest_free(m);
			hash_job_free(missing);
			return -1;
		}
		mf->size = files[i].size;
		if (cache_get(sup, lg->id, &files[i], mf) == -1) {
			missing->files[missing->nfiles++] = files[i];
			files[i].path = NULL;	/* moved */
		}
	}
	game_files_free(files, n);
	return 0;
}

/* Serves the game once all of it is hashed, or asks for what is not. */
static void
refresh_game(struct sup *sup, const struct local_game *lg)
{
	struct game_hashing *g = hashing_find(sup, lg->id);
	struct manifest	 m;
	struct hash_job	 missing;
	unsigned char	 root[HASH_SIZE];
	size_t		 i;

	if (g == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL)
			return;
		snprintf(g->game_id, sizeof(g->game_id), "%s", lg->id);
		TAILQ_INSERT_TAIL(&sup->hashing, g, entry);
	}
	g->seen = 1;
	/* Its answer comes first; and a verify or repair hashes it itself. */
	if (g->job || sup_op_find(sup, lg->id) != NULL)
		return;
	if (manifests_build(sup, lg, &m, &missing) == -1)
		return;
	g->total = g->cached = g->job_bytes = 0;
	for (i = 0; i < m.nfiles; i++) {
		g->total += m.files[i].size;
		if (m.files[i].hashes_len > 0 || m.files[i].size == 0)
			g->cached += m.files[i].size;
	}
	if (missing.nfiles > 0) {
		g->ready = 0;
		g->job = 1;
		log_info("%s: hashing %zu of %zu files", lg->id,
		    missing.nfiles, m.nfiles);
		/* What changed must not be served from the old manifest. */
		send_forget(sup, lg->id);
		if (msg_send_xfer_hash(sup_link(sup, PROC_TRANSFER),
		    &missing) == -1)
			g->job = 0;	/* asked again at the next rescan */
	} else {
		manifest_root(&m, root);
		if (!g->ready || memcmp(root, g->root, HASH_SIZE) != 0) {
			char	 hex[2 * HASH_SIZE + 1];

			hash_hex(root, hex);
			log_info("%s: serving manifest %.16s", lg->id, hex);
			if (msg_send_xfer_manifest(sup_link(sup,
			    PROC_TRANSFER), &m) == 0) {
				memcpy(g->root, root, HASH_SIZE);
				g->ready = 1;
			}
		}
	}
	hash_job_free(&missing);
	manifest_free(&m);
}

/* The library changed (or a worker restarted): every game is checked. */
void
manifests_refresh(struct sup *sup)
{
	struct game_hashing *g, *next;
	size_t		 i;

	TAILQ_FOREACH(g, &sup->hashing, entry)
		g->seen = 0;
	for (i = 0; i < sup->library.ngames; i++)
		if (sup->library.games[i].downloaded)
			refresh_game(sup, &sup->library.games[i]);
	TAILQ_FOREACH_SAFE(g, &sup->hashing, entry, next) {
		if (g->seen)
			continue;
		send_forget(sup, g->game_id);
		cache_prune(sup, g->game_id);
		hashing_free(sup, g);
	}
}

/* A new transfer worker knows nothing: everything is sent again. */
void
manifests_worker_restarted(struct sup *sup)
{
	struct game_hashing *g;

	TAILQ_FOREACH(g, &sup->hashing, entry)
		g->ready = g->job = 0;
	manifests_refresh(sup);
}

void
manifests_hashed(struct sup *sup, const struct file_hashes *fh)
{
	struct game_hashing *g = hashing_find(sup, fh->game_id);

	if (g == NULL || fh->piece_size != PIECE_SIZE ||
	    fh->hashes_len != HASH_SIZE * manifest_pieces(fh->size,
	    fh->piece_size))
		return;
	cache_put(sup, fh);
}

/* How far a job has come; at its end the game is looked at again. */
void
manifests_progress(struct sup *sup, const struct progress *p)
{
	struct game_hashing *g = hashing_find(sup, p->game_id);
	const struct local_game *lg;

	if (g == NULL)
		return;
	g->job_bytes = p->bytes;
	if (p->bytes < p->total_bytes)
		return;
	g->job = 0;
	if ((lg = library_find(&sup->library, g->game_id)) != NULL &&
	    lg->downloaded)
		refresh_game(sup, lg);
}

/* Percent of a game hashed; -1 when it is served (or unknown). */
int
manifests_percent(struct sup *sup, const char *game_id)
{
	struct game_hashing *g = hashing_find(sup, game_id);
	uint64_t	 done;

	if (g == NULL || g->ready)
		return -1;
	done = g->cached + g->job_bytes;
	if (g->total == 0 || done >= g->total)
		return 99;
	return (int)(done * 100 / g->total);
}
