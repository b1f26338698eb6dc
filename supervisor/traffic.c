/*
 * What this peer sent to and received from each peer, as the transfer
 * worker reports it once a second: totals that survive a restart of the
 * worker (whose counters start again from zero), and the rates of the
 * last report, for status, list-peers and the web page.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

/* A rate older than this is no rate: the worker reports only changes. */
#define TRAFFIC_STALE	2.0

struct traffic_book {
	char		 peer_id[PEER_ID_SIZE];
	uint64_t	 sent, received;		/* ours, kept */
	uint64_t	 last_sent, last_received;	/* the worker's */
};

/* What a worker counter moved since its last report (0 after a restart). */
static uint64_t
moved(uint64_t now, uint64_t *last)
{
	uint64_t	 d = now >= *last ? now - *last : now;

	*last = now;
	return d;
}

static struct traffic_book *
book_for(struct sup *sup, const char *peer_id)
{
	struct traffic_book *b;
	size_t		 i;

	for (i = 0; i < sup->ntraffic; i++)
		if (strcmp(sup->traffic[i].peer_id, peer_id) == 0)
			return &sup->traffic[i];
	if (sup->ntraffic == MSG_MAX_TRAFFIC_HOSTS)
		return NULL;
	if ((b = reallocarray(sup->traffic, sup->ntraffic + 1,
	    sizeof(*b))) == NULL)
		return NULL;
	sup->traffic = b;
	b = &sup->traffic[sup->ntraffic++];
	memset(b, 0, sizeof(*b));
	memcpy(b->peer_id, peer_id, sizeof(b->peer_id));
	return b;
}

void
traffic_report(struct sup *sup, const struct xfer_traffic *t)
{
	ev_tstamp	 now = ev_now(sup->loop);
	uint64_t	 ds, dr;
	size_t		 i;

	ds = moved(t->sent, &sup->traffic_last_sent);
	dr = moved(t->received, &sup->traffic_last_received);
	sup->traffic_sent += ds;
	sup->traffic_received += dr;
	if (sup->traffic_at > 0 && now > sup->traffic_at) {
		sup->upload_bps = ds / (now - sup->traffic_at);
		sup->download_bps = dr / (now - sup->traffic_at);
	}
	sup->traffic_at = now;
	for (i = 0; i < t->nhosts; i++) {
		struct traffic_book *b = book_for(sup, t->hosts[i].peer_id);

		if (b == NULL)
			continue;
		b->sent += moved(t->hosts[i].sent, &b->last_sent);
		b->received += moved(t->hosts[i].received,
		    &b->last_received);
	}
}

/* A new worker counts from zero: so do the "last" figures. */
void
traffic_worker_restarted(struct sup *sup)
{
	size_t	 i;

	sup->traffic_last_sent = sup->traffic_last_received = 0;
	for (i = 0; i < sup->ntraffic; i++)
		sup->traffic[i].last_sent = sup->traffic[i].last_received = 0;
}

json_t *
traffic_status(struct sup *sup)
{
	int	 fresh = ev_now(sup->loop) - sup->traffic_at < TRAFFIC_STALE;

	return json_pack("{s:I,s:I,s:I,s:I}",
	    "bytes_sent", (json_int_t)sup->traffic_sent,
	    "bytes_received", (json_int_t)sup->traffic_received,
	    "upload_bytes_per_s", (json_int_t)(fresh ? sup->upload_bps : 0),
	    "download_bytes_per_s",
	    (json_int_t)(fresh ? sup->download_bps : 0));
}

/* A peer's figures; zeros for a peer never counted. */
void
traffic_of_peer(struct sup *sup, const char *peer_id, uint64_t *sent,
    uint64_t *received)
{
	size_t	 i;

	*sent = *received = 0;
	for (i = 0; i < sup->ntraffic; i++)
		if (strcmp(sup->traffic[i].peer_id, peer_id) == 0) {
			*sent = sup->traffic[i].sent;
			*received = sup->traffic[i].received;
			return;
		}
}
