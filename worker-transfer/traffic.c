/*
 * Bytes this peer sent to and received from each peer, counted where
 * they pass (serve links, download sources) and reported to the
 * supervisor once a second when they changed: what the web page's
 * "who seeded the most" table and its upload graph show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker-transfer/transfer.h"

#define TRAFFIC_REPORT_EVERY	1.0	/* s */

static struct traffic_count *
peer_count(struct traffic *t, const char *peer_id)
{
	struct traffic_count *c, *least = NULL;
	size_t		 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->hosts[i].peer_id, peer_id) == 0)
			return &t->hosts[i];
	if (t->n < TRAFFIC_HOSTS)
		c = &t->hosts[t->n++];
	else {
		/* Full: the peer that moved the fewest bytes makes room. */
		for (i = 0; i < t->n; i++)
			if (least == NULL || t->hosts[i].sent +
			    t->hosts[i].received < least->sent +
			    least->received)
				least = &t->hosts[i];
		c = least;
	}
	memset(c, 0, sizeof(*c));
	snprintf(c->peer_id, sizeof(c->peer_id), "%s", peer_id);
	return c;
}

void
traffic_add(struct transfer *xfer, const char *peer_id, uint64_t sent,
    uint64_t received)
{
	struct traffic	*t = &xfer->traffic;
	struct traffic_count *c;

	t->sent += sent;
	t->received += received;
	c = peer_count(t, peer_id);
	c->sent += sent;
	c->received += received;
	c->changed = 1;
	t->changed = 1;
}

static void
traffic_report_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct transfer	*xfer = w->data;
	struct traffic	*t = &xfer->traffic;
	struct traffic_host hosts[TRAFFIC_HOSTS];
	struct xfer_traffic rep;
	size_t		 i;

	(void)loop;
	(void)revents;
	if (!t->changed)
		return;
	rep.sent = t->sent;
	rep.received = t->received;
	rep.hosts = hosts;
	rep.nhosts = 0;
	for (i = 0; i < t->n; i++) {
		if (!t->hosts[i].changed)
			continue;
		memcpy(hosts[rep.nhosts].peer_id, t->hosts[i].peer_id,
		    sizeof(hosts[0].peer_id));
		hosts[rep.nhosts].sent = t->hosts[i].sent;
		hosts[rep.nhosts].received = t->hosts[i].received;
		rep.nhosts++;
		t->hosts[i].changed = 0;
	}
	t->changed = 0;
	msg_send_xfer_traffic(&xfer->sup, &rep);
}

void
traffic_start(struct transfer *xfer)
{
	ev_timer_init(&xfer->traffic.report, traffic_report_cb,
	    TRAFFIC_REPORT_EVERY, TRAFFIC_REPORT_EVERY);
	xfer->traffic.report.data = xfer;
	ev_timer_start(xfer->loop, &xfer->traffic.report);
}

void
traffic_stop(struct transfer *xfer)
{
	ev_timer_stop(xfer->loop, &xfer->traffic.report);
}
