/*
 * Signed catalogs between peers, on links of protocol 2: each side tells
 * the other which signed catalog it holds (key and serial), and sends it
 * when asked. This worker checks only the frames; the supervisor checks
 * the signature, and hands us the bytes we share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/msgtypes.h"
#include "worker-net/net.h"

#define CATALOG_PROTO	2	/* the first peer protocol that has them */

static int
key_is_hex(const char *key)
{
	size_t	 i;

	for (i = 0; key[i] != '\0'; i++)
		if (!((key[i] >= '0' && key[i] <= '9') ||
		    (key[i] >= 'a' && key[i] <= 'f')))
			return 0;
	return i == MSG_CATALOG_KEY_HEX - 1;
}

static void
send_have(struct link *l)
{
	struct net	*net = l->net;
	struct catalog_have have;

	if (l->state != LINK_UP || l->proto < CATALOG_PROTO ||
	    net->catalog.catalog_len == 0)
		return;
	memcpy(have.key, net->catalog.key, sizeof(have.key));
	have.serial = net->catalog.serial;
	if (msg_send_peer_catalog_have(&l->mc, &have) == -1)
		net_link_drop(l, "cannot tell our catalog");
}

/* The supervisor's newest signed catalog: every peer hears of it. */
void
catalog_share_set(struct net *net, struct net_catalog *cat)
{
	struct link	*l, *next;

	msg_free_net_catalog(&net->catalog);
	net->catalog = *cat;
	memset(cat, 0, sizeof(*cat));
	TAILQ_FOREACH_SAFE(l, &net->links, entry, next)
		send_have(l);
}

void
catalog_share_link_up(struct link *l)
{
	send_have(l);
}

/* The supervisor wants a peer's catalog; with no link it gets none. */
void
catalog_share_fetch(struct net *net, const struct net_catalog_fetch *want)
{
	struct net_peer_catalog none;
	struct catalog_req req;
	struct link	*l;

	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP && l->proto >= CATALOG_PROTO &&
		    strcmp(l->peer_id, want->peer_id) == 0)
			break;
	if (l != NULL) {
		req.serial = want->serial;
		if (msg_send_peer_catalog_req(&l->mc, &req) == 0) {
			l->catalog_asked = 1;
			return;
		}
		net_link_drop(l, "cannot ask for a catalog");
	}
	memset(&none, 0, sizeof(none));
	memcpy(none.peer_id, want->peer_id, sizeof(none.peer_id));
	msg_send_net_peer_catalog(&net->sup, &none);
}

/*
 * A catalog frame from a peer: 0 when it was one (handled, or the link
 * dropped), -1 when it is no catalog frame of this link's protocol.
 */
int
catalog_share_dispatch(struct link *l, struct msg *m)
{
	struct net	*net = l->net;
	struct catalog_have have;
	struct catalog_req req;
	struct catalog_blob blob;
	struct net_peer_catalog_have told;
	struct net_peer_catalog got;
	char		 why[ERROR_SIZE];

	if (l->proto < CATALOG_PROTO)
		return -1;
	switch (m->type) {
	case MSG_PEER_CATALOG_HAVE:
		if (msg_recv_peer_catalog_have(m, &have, why, sizeof(why)) ==
		    -1 || !key_is_hex(have.key)) {
			net_link_drop(l, "malformed catalog announce");
			return 0;
		}
		memcpy(told.peer_id, l->peer_id, sizeof(told.peer_id));
		memcpy(told.key, have.key, sizeof(told.key));
		told.serial = have.serial;
		msg_send_net_peer_catalog_have(&net->sup, &told);
		return 0;
	case MSG_PEER_CATALOG_REQ:
		if (msg_recv_peer_catalog_req(m, &req, why, sizeof(why)) ==
		    -1) {
			net_link_drop(l, why);
			return 0;
		}
		/*
		 * One catalog at a time may wait beyond the usual bound on
		 * what a peer leaves unread; asking again before reading the
		 * last one is abuse.
		 */
		if (l->mc.wqbytes > 0 && l->mc.wqmax > NET_LINK_QUEUE_MAX) {
			net_link_drop(l, "asked for our catalog again before "
			    "reading it");
			return 0;
		}
		l->mc.wqmax = NET_LINK_QUEUE_MAX + NET_CATALOG_FRAME_MAX;
		/* Ours, whatever serial it asked for: the newest we hold. */
		blob.catalog = net->catalog.catalog;
		blob.catalog_len = net->catalog.catalog_len;
		if (msg_send_peer_catalog(&l->mc, &blob) == -1)
			net_link_drop(l, "cannot send our catalog");
		return 0;
	case MSG_PEER_CATALOG:
		if (!l->catalog_asked) {
			net_link_drop(l, "a catalog nobody asked for");
			return 0;
		}
		if (msg_recv_peer_catalog(m, &blob, why, sizeof(why)) == -1) {
			net_link_drop(l, why);
			return 0;
		}
		l->catalog_asked = 0;
		memcpy(got.peer_id, l->peer_id, sizeof(got.peer_id));
		got.catalog = blob.catalog;
		got.catalog_len = blob.catalog_len;
		msg_send_net_peer_catalog(&net->sup, &got);
		msg_free_peer_catalog(&blob);
		return 0;
	}
	return -1;
}

void
catalog_share_free(struct net *net)
{
	msg_free_net_catalog(&net->catalog);
}
