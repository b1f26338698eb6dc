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
#include "common/sandbox.h"
#include "worker-transfer/transfer.h"

void
transfer_outbound_changed(struct transfer *xfer, const char *game_id)
{
	struct msgout	 m;

	msgout_init(&m, MSG_XFER_OUTBOUND, 2);
	msgout_str(&m, "game_id", game_id);
	msgout_u64(&m, "count", serve_count(xfer, game_id));
	msgconn_send(&xfer->sup, &m, -1);
}

static void
transfer_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct transfer	*xfer = c->arg;
	char		 dir[PATH_MAX], game_id[65];
	int		 cleanup;

	switch (m->type) {
	case MSG_XFER_HELLO:
		if (mp_get_str(m->body, "games_dir", dir, sizeof(dir)) == -1 ||
		    mp_get_str(m->body, "peer_id", xfer->peer_id,
		    sizeof(xfer->peer_id)) == -1)
			fatalx("bad hello from the supervisor");
		if (xfer->games_fd != -1)
			close(xfer->games_fd);
		xfer->games_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (xfer->games_fd == -1)
			fatal("games dir %s", dir);
		serve_gates_set(&xfer->gates.catalog, &xfer->gates.ncatalog,
		    mp_get_array(m->body, "catalog"));
		if (mp_get_bool(m->body, "cleanup", &cleanup) == 0 && cleanup)
			fetch_cleanup_all(xfer);
		if (!xfer->sandboxed) {
			struct sandbox_policy p;
			char	 err[256];

			/* Writes only in the games folder; sockets allowed. */
			memset(&p, 0, sizeof(p));
			p.write_dirs[0] = dir;
			p.allow_network = 1;
			if (sandbox_rlimits(0) == -1 ||
			    sandbox_apply(&p, err, sizeof(err)) == -1)
				fatalx("sandbox: %s", err);
			xfer->sandboxed = 1;
		}
		msgconn_send_empty(c, MSG_XFER_READY);
		break;
	case MSG_XFER_BUSY:
		serve_gates_set(&xfer->gates.busy, &xfer->gates.nbusy,
		    mp_get_array(m->body, "games"));
		break;
	case MSG_XFER_SERVE:
		if (m->fd == -1)
			fatalx("serve request without a link");
		serve_start(xfer, m->fd);
		m->fd = -1;
		break;
	case MSG_XFER_FETCH:
		if (fetch_start(xfer, m->body) == -1)
			fatalx("bad fetch request");
		break;
	case MSG_XFER_CANCEL:
		if (mp_get_str(m->body, "game_id", game_id,
		    sizeof(game_id)) == -1)
			fatalx("bad cancel request");
		fetch_cancel(xfer, game_id);
		break;
	default:
		fatalx("unexpected %s from the supervisor",
		    msg_type_str(m->type));
	}
	if (m->fd != -1)
		close(m->fd);
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
	TAILQ_INIT(&xfer->fetches);
	msgconn_init(&xfer->sup, loop, supfd, 1, transfer_dispatch_supervisor,
	    sup_lost, xfer);
	return xfer;
}

void
transfer_free(struct transfer *xfer)
{
	struct serve_conn *sc;

	fetch_free_all(xfer);
	while ((sc = TAILQ_FIRST(&xfer->serving)) != NULL)
		serve_close(sc);
	msgconn_close(&xfer->sup);
	serve_gates_free(&xfer->gates);
	if (xfer->games_fd != -1)
		close(xfer->games_fd);
	free(xfer);
}
