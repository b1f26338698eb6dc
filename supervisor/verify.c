/*
 * verify and repair of a downloaded game. The reference is the manifest
 * the LAN's sources agree on (fetched by the transfer worker), or our own
 * cached hashes when no peer has the game. The game's files are hashed
 * again as they are on disk and compared piece by piece; verify answers
 * with the bad pieces, repair fetches just those from the sources, into
 * the game's own files, with the usual download events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

struct verify {
	enum verify_mode mode;
	uint64_t	 client;	/* the request's, answered once the */
	json_t		*id;		/* pieces are compared; NULL for a
					   repair, answered at once */
	struct manifest	 ref;
	int		 have_ref;
	unsigned char	*checked;	/* per file of ref: hashes came */
	uint64_t	 pieces;
	json_t		*bad;		/* [{relative_path, offset, length}] */
	struct piece_ref *refetch;
	size_t		 nrefetch;
	int		 compared;	/* the answer is known */
};

void
verify_free(struct verify *v)
{
	size_t	 i;

	if (v == NULL)
		return;
	/* A request still waiting hears that the verify did not end. */
	if (v->id != NULL) {
		control_error(v->client, v->id, "the verify was interrupted");
		json_decref(v->id);
	}
	manifest_free(&v->ref);
	free(v->checked);
	json_decref(v->bad);
	for (i = 0; i < v->nrefetch; i++)
		free(v->refetch[i].path);
	free(v->refetch);
	free(v);
}

/* Our own cached hashes of the game, whatever its files are now. */
static int
own_reference(struct sup *sup, const struct local_game *g,
    struct manifest *m)
{
	static const char sql[] = "SELECT path, size, piece_size, hashes "
	    "FROM file_hashes WHERE game_id = ? ORDER BY path";
	sqlite3_stmt	*st;
	char		 err[ERROR_SIZE];
	int		 rc;

	memset(m, 0, sizeof(*m));
	snprintf(m->game_id, sizeof(m->game_id), "%s", g->id);
	snprintf(m->version, sizeof(m->version), "%s", g->version);
	m->piece_size = PIECE_SIZE;
	if (sqlite3_prepare_v2(sup->hashdb, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct manifest_file *nf, *mf;
		size_t	 len = (size_t)sqlite3_column_bytes(st, 3);

		if ((uint64_t)sqlite3_column_int64(st, 2) != PIECE_SIZE ||
		    (nf = reallocarray(m->files, m->nfiles + 1,
		    sizeof(*nf))) == NULL)
			break;
		m->files = nf;
		mf = &m->files[m->nfiles++];
		memset(mf, 0, sizeof(*mf));
		mf->path = strdup((const char *)sqlite3_column_text(st, 0));
		mf->size = (uint64_t)sqlite3_column_int64(st, 1);
		if (len > 0 && (mf->hashes = malloc(len)) != NULL) {
			memcpy(mf->hashes, sqlite3_column_blob(st, 3), len);
			mf->hashes_len = len;
		}
		if (mf->path == NULL)
			break;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || manifest_check(m, err, sizeof(err)) == -1) {
		manifest_free(m);
		return -1;
	}
	return 0;
}

/* The game's files as they are, hashed again by the transfer worker. */
static int
verify_hash(struct sup *sup, struct operation *op)
{
	struct verify	*v = op->verify;
	struct hash_job	 job;
	size_t		 i;
	int		 rc;

	memset(&job, 0, sizeof(job));
	memcpy(job.game_id, op->game_id, sizeof(job.game_id));
	job.piece_size = v->ref.piece_size;
	if ((v->checked = calloc(v->ref.nfiles + 1, 1)) == NULL ||
	    (job.files = calloc(v->ref.nfiles + 1, sizeof(*job.files))) ==
	    NULL)
		return -1;
	for (i = 0; i < v->ref.nfiles; i++) {
		job.files[i].path = v->ref.files[i].path;
		job.files[i].size = v->ref.files[i].size;
		v->pieces += manifest_pieces(v->ref.files[i].size,
		    v->ref.piece_size);
	}
	job.nfiles = v->ref.nfiles;
	rc = msg_send_xfer_hash(sup_link(sup, PROC_TRANSFER), &job);
	free(job.files);
	return rc;
}

/* The verify's request, or a repair's control clients, hear why it ended. */
void
verify_failed(struct sup *sup, struct operation *op, const char *error)
{
	struct verify	*v = op->verify;

	if (v->id != NULL) {
		control_error(v->client, v->id, "%s", error);
		json_decref(v->id);
		v->id = NULL;
	} else
		control_event("download-failed", json_pack("{s:s,s:s}",
		    "game_id", op->game_id, "error", error));
	sup_op_remove(sup, op);
}

void
verify_start(struct sup *sup, uint64_t client, json_t *id,
    const struct local_game *g, enum verify_mode mode)
{
	struct game_sources src;
	struct operation *op;
	struct verify	*v;
	int		 repair = mode == VERIFY_REPAIR;

	commands_sources(sup, g->id, &src, NULL);
	if (mode != VERIFY_REPORT && src.count == 0) {
		control_error(client, id, "no peers have game %s", g->id);
		return;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL || (v->bad = json_array()) ==
	    NULL || (op = sup_op_add(sup, g->id, repair ? OP_REPAIRING :
	    OP_VERIFYING)) == NULL) {
		if (v != NULL)
			json_decref(v->bad);
		free(v);
		control_error(client, id, "out of memory");
		return;
	}
	op->verify = v;
	v->mode = mode;
	if (repair)
		control_reply(client, id, json_pack("{s:s}", "game_id", g->id));
	else {
		v->client = client;
		v->id = json_incref(id);
	}
	if (src.count > 0) {
		if (commands_fetch(sup, g->id, FETCH_MANIFEST, NULL, 0) == -1)
			verify_failed(sup, op, "the transfer worker is "
			    "unavailable");
		return;
	}
	if (own_reference(sup, g, &v->ref) == -1) {
		verify_failed(sup, op, "no peer has the game and it was never "
		    "hashed here: nothing to verify it against");
		return;
	}
	v->have_ref = 1;
	if (verify_hash(sup, op) == -1)
		verify_failed(sup, op, "the transfer worker is unavailable");
}

static struct operation *
verify_op(struct sup *sup, const char *game_id)
{
	struct operation *op = sup_op_find(sup, game_id);

	return op != NULL && op->verify != NULL ? op : NULL;
}

/* The sources' manifest came: it is the reference. */
void
verify_agreed(struct sup *sup, struct manifest *m)
{
	struct operation *op = verify_op(sup, m->game_id);
	struct verify	*v;

	if (op == NULL || (v = op->verify)->have_ref) {
		manifest_free(m);
		return;
	}
	v->ref = *m;
	memset(m, 0, sizeof(*m));
	v->have_ref = 1;
	if (verify_hash(sup, op) == -1)
		verify_failed(sup, op, "the transfer worker is unavailable");
}

static void
add_bad(struct verify *v, const char *game_id, const char *path,
    uint64_t offset, uint64_t length)
{
	struct piece_ref *nr;
	char		 rel[PATH_MAX + GAME_ID_SIZE];

	snprintf(rel, sizeof(rel), "%s/%s", game_id, path);
	json_array_append_new(v->bad, json_pack("{s:s,s:I,s:I}",
	    "relative_path", rel, "offset", (json_int_t)offset, "length",
	    (json_int_t)length));
	if ((nr = reallocarray(v->refetch, v->nrefetch + 1,
	    sizeof(*nr))) == NULL)
		return;
	v->refetch = nr;
	nr[v->nrefetch].path = strdup(path);
	nr[v->nrefetch].offset = offset;
	nr[v->nrefetch].length = length;
	if (nr[v->nrefetch].path != NULL)
		v->nrefetch++;
}

/* Every piece of file i of the reference that is not as hashed now. */
static void
compare_file(struct verify *v, size_t i, const struct file_hashes *fh)
{
	const struct manifest_file *mf = &v->ref.files[i];
	uint64_t	 ps = v->ref.piece_size, k, n;

	n = manifest_pieces(mf->size, ps);
	for (k = 0; k < n; k++) {
		uint64_t len = mf->size - k * ps < ps ? mf->size - k * ps : ps;

		if (fh == NULL || fh->size != mf->size ||
		    (k + 1) * HASH_SIZE > fh->hashes_len ||
		    memcmp(fh->hashes + k * HASH_SIZE, mf->hashes +
		    k * HASH_SIZE, HASH_SIZE) != 0)
			add_bad(v, v->ref.game_id, mf->path, k * ps, len);
	}
}

void
verify_hashed(struct sup *sup, const struct file_hashes *fh)
{
	struct operation *op = verify_op(sup, fh->game_id);
	struct verify	*v;
	long		 i;

	if (op == NULL || !(v = op->verify)->have_ref ||
	    (i = manifest_find(&v->ref, fh->path)) < 0 || v->checked[i])
		return;
	v->checked[i] = 1;
	compare_file(v, (size_t)i, fh);
}

/* The hashing ended: the answer, or the repair of what is bad. */
void
verify_progress(struct sup *sup, const struct progress *p)
{
	struct operation *op = verify_op(sup, p->game_id);
	struct verify	*v;
	size_t		 i;

	if (op == NULL || !(v = op->verify)->have_ref || v->checked == NULL ||
	    v->compared || p->bytes < p->total_bytes)
		return;
	v->compared = 1;
	/* A file that could not be read is bad all through. */
	for (i = 0; i < v->ref.nfiles; i++)
		if (!v->checked[i])
			compare_file(v, i, NULL);
	log_info("%s: %zu of %llu pieces bad", op->game_id,
	    json_array_size(v->bad), (unsigned long long)v->pieces);
	if (v->mode == VERIFY_REPORT) {
		control_reply(v->client, v->id, json_pack("{s:s,s:I,s:O}",
		    "game_id", op->game_id, "pieces", (json_int_t)v->pieces,
		    "bad_pieces", v->bad));
		json_decref(v->id);
		v->id = NULL;
		sup_op_remove(sup, op);
		return;
	}
	if (v->mode == VERIFY_DOWNLOAD) {
		int	 intact = json_array_size(v->bad) == 0;

		/* Nothing to fetch and nothing to install: said so. */
		if (intact && !op->install_after) {
			control_error(v->client, v->id, "already up to date");
			json_decref(v->id);
			v->id = NULL;
			sup_op_remove(sup, op);
			return;
		}
		/* Accepted, as any download: the events tell the rest. */
		control_reply(v->client, v->id, json_pack("{s:s}", "game_id",
		    op->game_id));
		json_decref(v->id);
		v->id = NULL;
		if (intact) {
			sup_start_install(sup, op);
			return;
		}
		sup_op_set(sup, op, OP_REPAIRING);
	}
	/* The pieces go with the request; the operation stays till done. */
	if (commands_fetch(sup, op->game_id, FETCH_REPAIR, v->refetch,
	    v->nrefetch) == -1)
		verify_failed(sup, op, "the transfer worker is unavailable");
}
