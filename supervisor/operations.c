/*
 * Active operations: at most one per game (a download, an install, an
 * uninstall or a streamed install). Each is announced to control clients
 * and keeps its game out of what the transfer worker serves; its end,
 * success or failure, is an event after the operation is gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

/* The words status and active-operations-changed show. */
const char *const op_kind_names[OP_KIND_MAX] = {
	[OP_DOWNLOADING] = "Downloading",
	[OP_INSTALLING] = "Installing",
	[OP_STREAM_INSTALLING] = "StreamInstalling",
	[OP_UNINSTALLING] = "Uninstalling",
	[OP_VERIFYING] = "Verifying",
	[OP_REPAIRING] = "Repairing",
	[OP_QUEUED] = "Queued",
};

/*
 * The worker each kind runs in, the event it fails with, and whether it
 * may leave install staging (.local.installing, .local.removing) behind
 * for the install worker to remove.
 */
static const struct {
	enum proc_id	 worker;
	const char	*failed_event;
	int		 staging;
} op_kinds[OP_KIND_MAX] = {
	[OP_DOWNLOADING] = { PROC_TRANSFER, "download-failed", 0 },
	[OP_INSTALLING] = { PROC_INSTALL, "install-failed", 1 },
	/* The receiving end of a stream is the transfer worker's. */
	[OP_STREAM_INSTALLING] = { PROC_TRANSFER, "download-failed", 1 },
	[OP_UNINSTALLING] = { PROC_INSTALL, "uninstall-failed", 1 },
	/* A verify's request hears of it when the operation goes. */
	[OP_VERIFYING] = { PROC_TRANSFER, "verify-failed", 0 },
	[OP_REPAIRING] = { PROC_TRANSFER, "download-failed", 0 },
	/* No worker holds a queued download. */
	[OP_QUEUED] = { PROC_SUPERVISOR, "download-failed", 0 },
};

static void	install_cleanup(struct sup *, const char *);

/*
 * Operations change what we may serve (never a game being written) and
 * are announced to control clients.
 */
static void
ops_changed(struct sup *sup)
{
	struct operation *op;
	struct game_ids	 busy;
	size_t		 n = 0;

	TAILQ_FOREACH(op, &sup->ops, entry)
		n++;
	busy.ngames = 0;
	if ((busy.games = calloc(n ? n : 1, sizeof(*busy.games))) != NULL) {
		TAILQ_FOREACH(op, &sup->ops, entry)
			memcpy(busy.games[busy.ngames++], op->game_id,
			    GAME_ID_SIZE);
		msg_send_xfer_busy(sup_link(sup, PROC_TRANSFER), &busy);
		free(busy.games);
	} else
		log_warn("%s", __func__);
	control_event("active-operations-changed", json_pack("{s:o}",
	    "active_operations", commands_active_operations(sup)));	swarm_ops_changed(sup);
}

struct operation *
sup_op_add(struct sup *sup, const char *game_id, enum op_kind kind)
{
	struct operation *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	snprintf(op->game_id, sizeof(op->game_id), "%s", game_id);
	op->kind = kind;
	TAILQ_INSERT_TAIL(&sup->ops, op, entry);
	ops_changed(sup);
	return op;
}

void
sup_op_set(struct sup *sup, struct operation *op, enum op_kind kind)
{
	op->kind = kind;
	/* A new phase (download, then install) counts from zero. */
	memset(&op->progress, 0, sizeof(op->progress));
	swarm_op_clear(op);
	ops_changed(sup);
}

/*
 * A worker's progress report, kept for status and list-games. A stream
 * does not know its total: it is taken to be what the sources' archives
 * hold, and grows when the stream turns out bigger. p is completed the
 * same way, for the event that reports it.
 */
void
sup_op_progress(struct operation *op, struct progress *p)
{
	struct op_progress *pr = &op->progress;

	if (p->total_bytes == 0)
		p->total_bytes = pr->expected_total;
	if (p->total_bytes != 0 && p->bytes > p->total_bytes)
		p->total_bytes = p->bytes;
	pr->known = 1;
	pr->bytes = p->bytes;
	pr->total_bytes = p->total_bytes;
	pr->bytes_per_s = p->bytes_per_s;
}

/*
 * {game_id, operation} and, once a worker reported, bytes, total_bytes,
 * bytes_per_s, percent and eta_s (-1 while the rate is 0).
 */
json_t *
sup_op_json(const struct operation *op)
{
	const struct op_progress *pr = &op->progress;
	json_t		*o;
	uint64_t	 left;

	o = json_pack("{s:s,s:s}", "game_id", op->game_id, "operation",
	    op_kind_names[op->kind]);
	if (o == NULL || !pr->known)
		return o;
	json_object_set_new(o, "bytes", json_integer((json_int_t)pr->bytes));
	json_object_set_new(o, "total_bytes",
	    json_integer((json_int_t)pr->total_bytes));
	json_object_set_new(o, "bytes_per_s",
	    json_integer((json_int_t)pr->bytes_per_s));
	if (pr->total_bytes == 0)
		return o;
	json_object_set_new(o, "percent", json_integer((json_int_t)
	    (pr->bytes >= pr->total_bytes ? 100 :
	    pr->bytes * 100 / pr->total_bytes)));
	left = pr->total_bytes > pr->bytes ? pr->total_bytes - pr->bytes : 0;
	json_object_set_new(o, "eta_s", json_integer(pr->bytes_per_s == 0 ?
	    -1 : (json_int_t)((left + pr->bytes_per_s - 1) /
	    pr->bytes_per_s)));
	return o;
}

void
sup_op_remove(struct sup *sup, struct operation *op)
{
	TAILQ_REMOVE(&sup->ops, op, entry);
	verify_free(op->verify);
	swarm_op_clear(op);
	free(op);
	ops_changed(sup);
	queue_kick(sup);
}

/* A download the transfer worker could not take: it ends at once. */
void
op_fetch_unavailable(struct sup *sup, struct operation *op)
{
	char	 game_id[GAME_ID_SIZE];

	memcpy(game_id, op->game_id, sizeof(game_id));
	sup_op_remove(sup, op);
	control_event("download-failed", json_pack("{s:s,s:s}", "game_id",
	    game_id, "error", "the transfer worker is unavailable"));
}

struct operation *
sup_op_find(struct sup *sup, const char *game_id)
{
	struct operation *op;

	TAILQ_FOREACH(op, &sup->ops, entry)
		if (strcmp(op->game_id, game_id) == 0)
			return op;
	return NULL;
}

static json_t *
throughput(const struct xfer_done *done)
{
	uint64_t ms = done->duration_ms ? done->duration_ms : 1;
	double	 secs = ms / 1000.0;

	return json_pack("{s:I,s:I,s:f,s:f,s:I}", "bytes",
	    (json_int_t)done->bytes, "duration_ms", (json_int_t)ms,
	    "mib_per_s", done->bytes / 1048576.0 / secs, "mbit_per_s",
	    done->bytes * 8 / 1e6 / secs, "chunks", (json_int_t)done->chunks);
}

/*
 * The transfer worker wrote a streamed local/ and may not chown: the
 * install worker gives it games_group, as it does an install it made.
 */
static void
stream_games_group(struct sup *sup, const char *game_id)
{
	struct game_ref	 ref;

	if (sup->cfg.games_gid == (gid_t)-1)
		return;
	snprintf(ref.game_id, sizeof(ref.game_id), "%s", game_id);
	if (msg_send_inst_group(sup_link(sup, PROC_INSTALL), &ref) == -1)
		log_warnx("%s: local/ keeps its modes: the install worker is "
		    "unavailable", game_id);
}

/* A download (or stream) finished: the operation moves on, then the event. */
void
op_download_done(struct sup *sup, struct operation *op,
    const struct xfer_done *done)
{
	char		 game_id[GAME_ID_SIZE];

	memcpy(game_id, op->game_id, sizeof(game_id));
	sup_rescan(sup);
	if (op->kind == OP_STREAM_INSTALLING) {
		/* Streamed into local/: downloaded and installed at once. */
		control_event("download-finished", json_pack("{s:s,s:o}",
		    "game_id", game_id, "throughput", throughput(done)));
		sup_op_remove(sup, op);
		control_event("install-finished", json_pack("{s:s}",
		    "game_id", game_id));
		stream_games_group(sup, game_id);
		return;
	}
	if (op->install_after) {
		control_event("download-finished", json_pack("{s:s,s:o}",
		    "game_id", game_id, "throughput", throughput(done)));
		sup_start_install(sup, op);
		return;
	}
	sup_op_remove(sup, op);
	control_event("download-finished", json_pack("{s:s,s:o}",
	    "game_id", game_id, "throughput", throughput(done)));
}

/* A download that did not finish: the operation goes first, then the event. */
void
op_download_failed(struct sup *sup, struct operation *op,
    const struct xfer_failed *failed)
{
	char		 game_id[GAME_ID_SIZE];

	if (op->kind == OP_VERIFYING) {
		verify_failed(sup, op, failed->error);
		return;
	}
	memcpy(game_id, op->game_id, sizeof(game_id));
	sup_rescan(sup);
	sup_op_remove(sup, op);
	switch (failed->reason) {
	case XFER_END_CANCELLED:
		control_event("download-cancelled", json_pack("{s:s}",
		    "game_id", game_id));
		break;
	case XFER_END_PEERS_GONE:
	case XFER_END_FAILED:
	case XFER_END_MAX:
		control_event(failed->reason == XFER_END_PEERS_GONE ?
		    "download-peers-gone" : "download-failed",
		    json_pack("{s:s,s:s}", "game_id", game_id, "error",
		    failed->error));
		break;
	}
}

/*
 * The operation becomes the install of its downloaded game; without an
 * install worker it ends at once with install-failed.
 */
void
sup_start_install(struct sup *sup, struct operation *op)
{
	struct game_ref	 ref;

	sup_op_set(sup, op, OP_INSTALLING);
	memcpy(ref.game_id, op->game_id, sizeof(ref.game_id));
	if (msg_send_inst_install(sup_link(sup, PROC_INSTALL), &ref) == 0)
		return;
	control_event("install-failed", json_pack("{s:s,s:s}", "game_id",
	    ref.game_id, "error", "the install worker is unavailable"));
	sup_op_remove(sup, op);
}

/* The install worker's answer to an install or uninstall; error or NULL. */
void
op_install_ended(struct sup *sup, const char *game_id, enum inst_op what,
    const char *error)
{
	struct operation *op;

	if ((op = sup_op_find(sup, game_id)) == NULL)
		return;
	sup_rescan(sup);
	sup_op_remove(sup, op);
	if (error != NULL)
		control_event(what == INST_OP_INSTALL ? "install-failed" :
		    "uninstall-failed", json_pack("{s:s,s:s}", "game_id",
		    game_id, "error", error));
	else
		control_event(what == INST_OP_INSTALL ?
		    "install-finished" : "uninstall-finished",
		    json_pack("{s:s}", "game_id", game_id));
}

/*
 * The install worker removes a game's install staging; when it is down,
 * the game waits for its restart (ops_send_cleanups).
 */
static void
install_cleanup(struct sup *sup, const char *game_id)
{
	json_array_append_new(sup->cleanups, json_string(game_id));
	if (sup->workers[PROC_INSTALL].up)
		ops_send_cleanups(sup);
}

void
ops_send_cleanups(struct sup *sup)
{
	struct game_ref	 ref;
	size_t		 i;
	json_t		*g;

	json_array_foreach(sup->cleanups, i, g) {
		snprintf(ref.game_id, sizeof(ref.game_id), "%s",
		    json_string_value(g));
		msg_send_inst_cleanup(sup_link(sup, PROC_INSTALL), &ref);
	}
	json_array_clear(sup->cleanups);
}

/*
 * A worker died: every operation running in it fails as that kind fails
 * normally, after its staging is rolled back, so a retry starts clean.
 */
void
ops_worker_died(struct sup *sup, enum proc_id id)
{
	struct operation *op, *next;
	enum op_kind	 kind;
	char		 game_id[GAME_ID_SIZE], error[64];

	snprintf(error, sizeof(error), "the %s worker died", proc_names[id]);
	TAILQ_FOREACH_SAFE(op, &sup->ops, entry, next) {
		if (op_kinds[op->kind].worker != id)
			continue;
		kind = op->kind;
		snprintf(game_id, sizeof(game_id), "%s", op->game_id);
		sup_op_remove(sup, op);
		if (op_kinds[kind].staging)
			install_cleanup(sup, game_id);
		sup_rescan(sup);
		control_event(op_kinds[kind].failed_event,
		    json_pack("{s:s,s:s}", "game_id", game_id, "error",
		    error));
	}
}
