/*
 * The transfer worker: holds the games folder open and, in later steps,
 * serves chunks with sendfile(2) and fetches chunks into staging files.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "worker-transfer/transfer.h"

static void
transfer_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct transfer	*xfer = c->arg;
	char		 dir[PATH_MAX];

	if (m->fd != -1)
		close(m->fd);
	switch (m->type) {
	case MSG_XFER_HELLO:
		if (mp_get_str(m->body, "games_dir", dir, sizeof(dir)) == -1)
			fatalx("bad hello from the supervisor");
		if (xfer->games_fd != -1)
			close(xfer->games_fd);
		xfer->games_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (xfer->games_fd == -1)
			fatal("games dir %s", dir);
		msgconn_send_empty(c, MSG_XFER_READY);
		break;
	default:
		fatalx("unexpected %s from the supervisor",
		    msg_type_str(m->type));
	}
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
	msgconn_init(&xfer->sup, loop, supfd, 1, transfer_dispatch_supervisor,
	    sup_lost, xfer);
	return xfer;
}

void
transfer_free(struct transfer *xfer)
{
	msgconn_close(&xfer->sup);
	if (xfer->games_fd != -1)
		close(xfer->games_fd);
	free(xfer);
}
