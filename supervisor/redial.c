/*
 * Finding peers again: the remembered ones (the peer DB's most recently
 * seen) and the static ones (peers = in the configuration) are dialled
 * until they are linked, each with a backoff of its own, and again when
 * their link goes: a restarted PC is back in the party without a connect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

#define REDIAL_REMEMBERED	64	/* most recent peers dialled */
#define REDIAL_TARGETS		(REDIAL_REMEMBERED + 64)
#define REDIAL_TICK		1.0	/* s between looks */
#define REDIAL_FIRST		1.0	/* s before the first retry */
#define REDIAL_CAP		60.0	/* s between retries at most */

struct redial_target {
	char		 addr[ADDR_STRLEN];
	ev_tstamp	 next;		/* dial at or after */
	ev_tstamp	 wait;		/* after a failed dial, doubling */
	int		 linked;	/* at this tick */
};

struct redial {
	struct redial_target	 t[REDIAL_TARGETS];
	size_t			 n;
	ev_timer		 tick;
};

static void
target_add(struct sup *sup, const char *text)
{
	struct redial	*r = sup->redial;
	struct sockaddr_storage ss;
	socklen_t	 len;
	char		 addr[ADDR_STRLEN];
	size_t		 i;

	/* "IP" alone means our port, as listen = does. */
	if (r->n == REDIAL_TARGETS || addr_parse(text, LANSPREAD_PORT, &ss,
	    &len) == -1 || addr_port((struct sockaddr *)&ss) <= 0 ||
	    addr_format((struct sockaddr *)&ss, addr, sizeof(addr)) == -1 ||
	    sup_is_self_addr(sup, addr))
		return;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->t[i].addr, addr) == 0)
			return;
	snprintf(r->t[r->n].addr, sizeof(r->t[0].addr), "%s", addr);
	r->t[r->n].next = 0;
	r->t[r->n].wait = REDIAL_FIRST;
	r->n++;
}

static int
add_remembered(const struct peer_info *pi, void *arg)
{
	target_add(arg, pi->addr);
	return 0;
}

/* A connected peer: the target at its address is linked. */
static int
mark_linked(const struct peer_info *pi, void *arg)
{
	struct redial	*r = arg;
	size_t		 i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->t[i].addr, pi->addr) == 0)
			r->t[i].linked = 1;
	return 0;
}

static void
redial_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup	*sup = w->data;
	struct redial	*r = sup->redial;
	struct net_connect dial;
	ev_tstamp	 now = ev_now(loop);
	size_t		 i;

	(void)revents;
	if (!sup->workers[PROC_NET].up)
		return;
	/* One walk of the connected peers a tick, not one per target. */
	for (i = 0; i < r->n; i++)
		r->t[i].linked = 0;
	peerdb_each_connected(&sup->peerdb, mark_linked, r);
	for (i = 0; i < r->n; i++) {
		struct redial_target *t = &r->t[i];

		if (t->linked) {
			/* Linked: if it goes, the first retry is soon. */
			t->wait = REDIAL_FIRST;
			t->next = now + REDIAL_FIRST;
			continue;
		}
		if (now < t->next)
			continue;
		/* req 0: no control client waits for the answer. */
		dial.req = 0;
		snprintf(dial.addr, sizeof(dial.addr), "%s", t->addr);
		if (msg_send_net_connect(sup_link(sup, PROC_NET), &dial) == -1)
			return;
		log_debug("redialling %s (next in %.0f s)", t->addr, t->wait);
		t->next = now + t->wait;
		t->wait = t->wait * 2 > REDIAL_CAP ? REDIAL_CAP : t->wait * 2;
	}
}

void
redial_start(struct sup *sup)
{
	struct redial	*r;
	char		*list, *p, *save;

	if (!sup->cfg.redial && sup->cfg.peers == NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("redial");
		return;
	}
	sup->redial = r;
	if (sup->cfg.peers != NULL && (list = strdup(sup->cfg.peers)) !=
	    NULL) {
		for (p = strtok_r(list, " \t,", &save); p != NULL;
		    p = strtok_r(NULL, " \t,", &save))
			target_add(sup, p);
		free(list);
	}
	if (sup->cfg.redial)
		peerdb_each_remembered(&sup->peerdb, REDIAL_REMEMBERED,
		    add_remembered, sup);
	if (r->n > 0)
		log_info("dialling %zu known peers until they are linked",
		    r->n);
	ev_timer_init(&r->tick, redial_tick, 0, REDIAL_TICK);
	r->tick.data = sup;
	ev_timer_start(sup->loop, &r->tick);
}

void
redial_stop(struct sup *sup)
{
	if (sup->redial == NULL)
		return;
	ev_timer_stop(sup->loop, &sup->redial->tick);
	free(sup->redial);
	sup->redial = NULL;
}
