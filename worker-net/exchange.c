/*
 * Peer exchange: a peer that links to us hears the listen addresses of
 * the others we are linked to, and they hear of it, so connecting to one
 * PC of the party reaches them all. Only with exchange on (lanspreadd's
 * peer_exchange, lanspread-peer --peer-exchange): the seed's peers link
 * only to what they are told. What a peer tells us is dialled quietly,
 * at most EXCHANGE_DIALS addresses a list, never ours nor a multicast one.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker-net/net.h"

#define EXCHANGE_DIALS	64

static void
send_addrs(struct link *to, char (*addrs)[ADDR_STRLEN], size_t n)
{
	struct peer_addrs pa;

	if (n == 0)
		return;
	pa.addrs = addrs;
	pa.naddrs = n;
	if (msg_send_peer_addrs(&to->mc, &pa) == -1)
		net_link_drop(to, "cannot tell it our peers");
}

/* l is up: it hears of the others, and they of it. */
void
exchange_link_up(struct link *l)
{
	struct net	*net = l->net;
	struct link	*o, *next;
	char		 (*addrs)[ADDR_STRLEN];
	size_t		 n = 0;

	if (!net->exchange || l->addr[0] == '\0')
		return;
	if ((addrs = calloc(EXCHANGE_DIALS, sizeof(*addrs))) == NULL)
		return;
	TAILQ_FOREACH_SAFE(o, &net->links, entry, next) {
		if (o == l || o->state != LINK_UP || o->addr[0] == '\0')
			continue;
		if (n < EXCHANGE_DIALS)
			memcpy(addrs[n++], o->addr, ADDR_STRLEN);
		send_addrs(o, (char (*)[ADDR_STRLEN])l->addr, 1);
	}
	send_addrs(l, addrs, n);
	free(addrs);
}

/* An address a peer may send us to: a unicast IP:PORT, not ours. */
static int
dialable(struct net *net, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t	 len;

	if (addr_parse(addr, -1, &ss, &len) == -1 ||
	    addr_port((struct sockaddr *)&ss) <= 0 ||
	    addr_is_any((struct sockaddr *)&ss) ||
	    strcmp(addr, net->addr) == 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		in_addr_t a = ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr);

		return !IN_MULTICAST(a) && a != INADDR_BROADCAST;
	}
	return !IN6_IS_ADDR_MULTICAST(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

/* 0 when m was a list of peers (dialled, or ignored with exchange off). */
int
exchange_dispatch(struct link *l, struct msg *m)
{
	struct net	*net = l->net;
	struct peer_addrs pa;
	char		 why[ERROR_SIZE];
	size_t		 i;

	if (m->type != MSG_PEER_ADDRS)
		return -1;
	if (msg_recv_peer_addrs(m, &pa, why, sizeof(why)) == -1) {
		net_link_drop(l, why);
		return 0;
	}
	for (i = 0; net->exchange && i < pa.naddrs && i < EXCHANGE_DIALS; i++)
		if (dialable(net, pa.addrs[i]))
			net_dial(net, 0, pa.addrs[i]);
	msg_free_peer_addrs(&pa);
	return 0;
}
