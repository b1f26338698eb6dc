/*
 * The transfer worker: serves chunks to peers (serve.c) and fetches games
 * from them (fetch.c). The supervisor tells it what may be served and
 * hands it peer links opened for transfers.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "common/sandbox.h"
#include "worker-transfer/fetch.h"
#include "worker-transfer/transfer.h"

void
transfer_outbound_changed(struct transfer *xfer, const char *game_id)
{
	struct xfer_outbound out;

	snprintf(out.game_id, sizeof(out.game_id), "%s", game_id);
	out.count = serve_count(xfer, game_id);
	msg_send_xfer_outbound(&xfer->sup, &out);
}

static void
transfer_hello(struct transfer *xfer, const struct xfer_hello *hello)
{
	if (xfer->games_fd != -1)
		close(xfer->games_fd);
	xfer->games_fd = open(hello->games_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (xfer->games_fd == -1)
		fatal("games dir %s", hello->games_dir);
	memcpy(xfer->peer_id, hello->peer_id, sizeof(xfer->peer_id));
	serve_gates_set(&xfer->gates.catalog, &xfer->gates.ncatalog,
	    (const char (*)[GAME_ID_SIZE])hello->catalog, hello->ncatalog);
	if (hello->cleanup)
		fetch_cleanup_all(xfer);
	/* Writes only in the games folder; sockets allowed. */
	sandbox_worker(PROC_TRANSFER, hello->games_dir, NULL);
	msg_send_xfer_ready(&xfer->sup);
}

static void
transfer_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct transfer	*xfer = c->arg;
	struct xfer_hello hello;
	struct xfer_limits limits;
	struct game_ids	 ids;
	struct xfer_sources sources;
	struct link_fd	 link;
	struct xfer_fetch fetch;
	struct game_ref	 ref;
	struct manifest	 manifest;
	struct hash_job	 job;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_XFER_HELLO:
		if (msg_recv_xfer_hello(m, &hello, why, sizeof(why)) == -1)
			break;
		transfer_hello(xfer, &hello);
		msg_free_xfer_hello(&hello);
		return;
	case MSG_XFER_LIMITS:
		if (msg_recv_xfer_limits(m, &limits, why, sizeof(why)) == -1)
			break;
		if (limits.upload != xfer->upload.rate ||
		    limits.download != xfer->download.rate)
			log_info("limits: upload %llu, download %llu bytes a "
			    "second", (unsigned long long)limits.upload,
			    (unsigned long long)limits.download);
		rate_set(&xfer->upload, limits.upload, ev_time());
		rate_set(&xfer->download, limits.download, ev_time());
		xfer->upload_slots = limits.upload_slots;
		serve_upload_next(xfer);	/* more slots: waiting answers go */
		return;
	case MSG_XFER_SOURCES:
		if (msg_recv_xfer_sources(m, &sources, why, sizeof(why)) == -1)
			break;
		fetch_sources(xfer, &sources);
		msg_free_xfer_sources(&sources);
		return;
	case MSG_XFER_CATALOG:
		/* A reload: a link asking for a game checks the new list. */
		if (msg_recv_xfer_catalog(m, &ids, why, sizeof(why)) == -1)
			break;
		serve_gates_set(&xfer->gates.catalog, &xfer->gates.ncatalog,
		    (const char (*)[GAME_ID_SIZE])ids.games, ids.ngames);
		msg_free_xfer_catalog(&ids);
		return;
	case MSG_XFER_BUSY:
		if (msg_recv_xfer_busy(m, &ids, why, sizeof(why)) == -1)
			break;
		serve_gates_set(&xfer->gates.busy, &xfer->gates.nbusy,
		    (const char (*)[GAME_ID_SIZE])ids.games, ids.ngames);
		msg_free_xfer_busy(&ids);
		return;
	case MSG_XFER_SERVE:
		if (msg_recv_xfer_serve(m, &link, why, sizeof(why)) == -1)
			break;
		serve_start(xfer, link.fd, link.peer_id);
		return;
	case MSG_XFER_FETCH:
		if (msg_recv_xfer_fetch(m, &fetch, why, sizeof(why)) == -1)
			break;
		if (fetch_start(xfer, &fetch) == -1)
			fatalx("bad fetch request for %s", fetch.game_id);
		msg_free_xfer_fetch(&fetch);
		return;
	case MSG_XFER_CANCEL:
		if (msg_recv_xfer_cancel(m, &ref, why, sizeof(why)) == -1)
			break;
		fetch_cancel(xfer, ref.game_id);
		return;
	case MSG_XFER_MANIFEST:
		if (msg_recv_xfer_manifest(m, &manifest, why,
		    sizeof(why)) == -1)
			break;
		serve_manifest_set(xfer, &manifest);
		return;
	case MSG_XFER_FORGET:
		if (msg_recv_xfer_forget(m, &ref, why, sizeof(why)) == -1)
			break;
		serve_manifest_forget(xfer, ref.game_id);
		hash_cancel(xfer, ref.game_id);
		return;
	case MSG_XFER_HASH:
		if (msg_recv_xfer_hash(m, &job, why, sizeof(why)) == -1)
			break;
		if (!path_is_valid_game_id(job.game_id) ||
		    job.piece_size < PIECE_SIZE_MIN ||
		    job.piece_size > PIECE_SIZE_MAX) {
			msg_free_xfer_hash(&job);
			snprintf(why, sizeof(why), "bad hash job");
			break;
		}
		hash_start(xfer, &job);
		return;
	}
	fatalx("bad %s from the supervisor: %s", msg_type_str(m->type),
	    why[0] != '\0' ? why : "unexpected");
}

static void
sup_lost(struct msgconn *c, const char *why)
{
	struct transfer	*xfer = c->arg;

	log_debug("supervisor link: %s", why);
	ev_break(xfer->loop, EVBREAK_ALL);
}

struct transfer *
transfer_new(struct ev_loop *loop, int supfd)
{
	struct transfer	*xfer;

	if ((xfer = calloc(1, sizeof(*xfer))) == NULL)
		return NULL;
	xfer->loop = loop;
	xfer->games_fd = -1;
	TAILQ_INIT(&xfer->serving);
	TAILQ_INIT(&xfer->parked);
	TAILQ_INIT(&xfer->fetches);
	TAILQ_INIT(&xfer->manifests);
	ev_init(&xfer->kick, fetch_kick_cb);
	xfer->kick.data = xfer;
	hash_init_worker(xfer);
	traffic_start(xfer);
	msgconn_init(&xfer->sup, loop, supfd, 1, transfer_dispatch_supervisor,
	    sup_lost, xfer);
	return xfer;
}

void
transfer_free(struct transfer *xfer)
{
	struct serve_conn *sc;

	fetch_free_all(xfer);
	ev_timer_stop(xfer->loop, &xfer->kick);
	while ((sc = TAILQ_FIRST(&xfer->serving)) != NULL)
		serve_close(sc);
	hash_free_worker(xfer);
	traffic_stop(xfer);
	serve_manifests_free(xfer);
	msgconn_close(&xfer->sup);
	serve_gates_free(&xfer->gates);
	if (xfer->games_fd != -1)
		close(xfer->games_fd);
	free(xfer);
}
