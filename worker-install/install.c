/*
 * The install worker: holds the games folder open and, in later steps,
 * extracts archives into .local.installing and commits by rename.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "worker-install/install.h"

static void
install_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct install	*inst = c->arg;
	char		 dir[PATH_MAX];

	if (m->fd != -1)
		close(m->fd);
	switch (m->type) {
	case MSG_INST_HELLO:
		if (mp_get_str(m->body, "games_dir", dir, sizeof(dir)) == -1)
			fatalx("bad hello from the supervisor");
		if (inst->games_fd != -1)
			close(inst->games_fd);
		inst->games_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (inst->games_fd == -1)
			fatal("games dir %s", dir);
		msgconn_send_empty(c, MSG_INST_READY);
		break;
	default:
		fatalx("unexpected %s from the supervisor",
		    msg_type_str(m->type));
	}
}

static void
sup_lost(struct msgconn *c, const char *why)
{
	struct install	*inst = c->arg;

	log_debug("supervisor link: %s", why);
	ev_break(inst->loop, EVBREAK_ALL);
}

struct install *
install_new(struct ev_loop *loop, int supfd)
{
	struct install	*inst;

	if ((inst = calloc(1, sizeof(*inst))) == NULL)
		return NULL;
	inst->loop = loop;
	inst->games_fd = -1;
	msgconn_init(&inst->sup, loop, supfd, 1, install_dispatch_supervisor,
	    sup_lost, inst);
	return inst;
}

void
install_free(struct install *inst)
{
	msgconn_close(&inst->sup);
	if (inst->games_fd != -1)
		close(inst->games_fd);
	free(inst);
}
