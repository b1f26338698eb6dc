/*
 * A connect request whose link lost a simultaneous-dial race. When both
 * sides dial at once, each keeps one of the two links and closes the
 * other; the closed one may be the link a connect request was waiting
 * on, although the peer ends up linked over the other. Such a request is
 * answered when a link to its address comes up, or with the original
 * error when none does within CONNECT_RACE_GRACE.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker-net/net.h"

#define CONNECT_RACE_GRACE	3.0	/* seconds for the peer's own link */

struct connect_wait {
	TAILQ_ENTRY(connect_wait) entry;
	struct net		*net;
	uint64_t		 req;
	char			 target[ADDR_STRLEN];
	char			 why[ERROR_SIZE];
	ev_timer		 timer;
};

static void
wait_end(struct connect_wait *w, const char *error)
{
	struct net	*net = w->net;

	ev_timer_stop(net->loop, &w->timer);
	TAILQ_REMOVE(&net->waits, w, entry);
	net_connect_done(net, w->req, error);
	free(w);
}

static void
wait_expired(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct connect_wait *w = t->data;

	(void)loop;
	(void)revents;
	wait_end(w, w->why);
}

/* Whether a link that is up reaches target (as dialled or as said). */
int
net_linked_to(struct net *net, const char *target)
{
	struct link	*l;

	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP && (strcmp(l->addr, target) == 0 ||
		    strcmp(l->target, target) == 0))
			return 1;
	return 0;
}

void
connect_wait_add(struct net *net, uint64_t req, const char *target,
    const char *why)
{
	struct connect_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		net_connect_done(net, req, why);
		return;
	}
	w->net = net;
	w->req = req;
	snprintf(w->target, sizeof(w->target), "%s", target);
	snprintf(w->why, sizeof(w->why), "%s", why);
	ev_timer_init(&w->timer, wait_expired, CONNECT_RACE_GRACE, 0);
	w->timer.data = w;
	ev_timer_start(net->loop, &w->timer);
	TAILQ_INSERT_TAIL(&net->waits, w, entry);
}

/* A link came up: the requests waiting for its address are answered. */
void
connect_wait_linked(struct net *net, const struct link *l)
{
	struct connect_wait *w, *next;

	TAILQ_FOREACH_SAFE(w, &net->waits, entry, next)
		if (strcmp(w->target, l->addr) == 0 ||
		    strcmp(w->target, l->target) == 0)
			wait_end(w, NULL);
}

void
connect_wait_free_all(struct net *net)
{
	struct connect_wait *w;

	while ((w = TAILQ_FIRST(&net->waits)) != NULL) {
		ev_timer_stop(net->loop, &w->timer);
		TAILQ_REMOVE(&net->waits, w, entry);
		free(w);
	}
}
