/*
 * The peer handshake: each side sends a versioned hello carrying its peer
 * id, name, listen address and library; one connect makes both peers know
 * each other. The dialler offers its protocol version, the answer names
 * the one the link speaks: the older of the two (protocol 1 peers get no
 * protocol 2 messages). Everything in a hello is checked before the supervisor hears
 * of it, and a hello bearing our own id is ignored.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gamelist.h"
#include "common/log.h"
#include "common/msgtypes.h"
#include "worker-net/net.h"

static int
valid_name(const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return i > 0;
}

static const char *
dialler_id(const struct link *l)
{
	return l->outbound ? l->net->peer_id : l->peer_id;
}

/*
 * The address this peer should dial us at: listening on all addresses,
 * it is the one its link reached (a host may have several networks).
 */
static void
addr_for_link(struct link *l, char *buf, size_t size)
{
	struct net	*net = l->net;
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);
	int		 port = addr_port((struct sockaddr *)&net->bound);

	snprintf(buf, size, "%s", net->addr);
	if (!addr_is_any((struct sockaddr *)&net->bound) ||
	    getsockname(l->mc.fd, (struct sockaddr *)&ss, &len) == -1 ||
	    ss.ss_family != net->bound.ss_family)
		return;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	addr_format((struct sockaddr *)&ss, buf, size);
}

int
handshake_send_hello(struct link *l, int ack)
{
	struct net	*net = l->net;
	struct peer_hello h;

	memset(&h, 0, sizeof(h));
	/* A hello offers ours; the answer speaks the hello's, if older. */
	h.proto = ack ? l->proto : PEER_PROTO_VERSION;
	snprintf(h.peer_id, sizeof(h.peer_id), "%s", net->peer_id);
	snprintf(h.name, sizeof(h.name), "%s", net->name);
	addr_for_link(l, h.addr, sizeof(h.addr));
	h.games = net->library.games;
	h.ngames = net->library.ngames;
	return ack ? msg_send_peer_hello_ack(&l->mc, &h) :
	    msg_send_peer_hello(&l->mc, &h);
}

/*
 * A peer is believed about its port, not its host: the address others
 * will dial is the one its link really comes from (so no peer can send
 * our transfers to a third host).
 */
static void
proven_addr(struct link *l, struct sockaddr_storage *said)
{
	struct sockaddr_storage seen;
	socklen_t	 len = sizeof(seen);
	char		 was[ADDR_STRLEN];

	if (getpeername(l->mc.fd, (struct sockaddr *)&seen, &len) == -1 ||
	    (seen.ss_family != AF_INET && seen.ss_family != AF_INET6) ||
	    addr_same_host((struct sockaddr *)&seen, (struct sockaddr *)said))
		return;
	if (seen.ss_family == AF_INET)
		((struct sockaddr_in *)&seen)->sin_port =
		    htons(addr_port((struct sockaddr *)said));
	else
		((struct sockaddr_in6 *)&seen)->sin6_port =
		    htons(addr_port((struct sockaddr *)said));
	snprintf(was, sizeof(was), "%s", l->addr);
	addr_format((struct sockaddr *)&seen, l->addr, sizeof(l->addr));
	log_info("peer %s said it is at %s but comes from %s", l->peer_id,
	    was, l->addr);
}

/*
 * A hello (or its answer). Returns 0 when the link is up, -1 when it was
 * dropped: malformed, another protocol version, or ourselves.
 */
int
handshake_recv_hello(struct link *l, struct msg *m)
{
	struct net	*net = l->net;
	struct sockaddr_storage ss;
	struct link	*old, *next;
	struct peer_hello h;
	struct net_peer_up up;
	char		 why[ERROR_SIZE];
	socklen_t	 len;

	if (m->type == MSG_PEER_HELLO ?
	    msg_recv_peer_hello(m, &h, why, sizeof(why)) == -1 :
	    msg_recv_peer_hello_ack(m, &h, why, sizeof(why)) == -1) {
		log_info("malformed hello: %s", why);
		net_link_drop(l, "malformed hello");
		return -1;
	}
	if (h.proto < PEER_PROTO_MIN || h.proto > PEER_PROTO_VERSION) {
		msg_free_peer_hello(&h);
		net_link_drop(l, "hello with an unknown protocol version");
		return -1;
	}
	l->proto = h.proto;
	snprintf(l->peer_id, sizeof(l->peer_id), "%s", h.peer_id);
	snprintf(l->name, sizeof(l->name), "%s", h.name);
	snprintf(l->addr, sizeof(l->addr), "%s", h.addr);
	if (!peer_id_is_valid(l->peer_id) || !valid_name(l->name) ||
	    addr_parse(l->addr, -1, &ss, &len) == -1 ||
	    addr_port((struct sockaddr *)&ss) <= 0) {
		msg_free_peer_hello(&h);
		net_link_drop(l, "malformed hello");
		return -1;
	}
	if (strcmp(l->peer_id, net->peer_id) == 0) {
		msg_free_peer_hello(&h);
		net_link_drop(l, "hello from ourselves, ignored");
		return -1;
	}
	proven_addr(l, &ss);
	/* All of the hello is checked before it changes anything. */
	if (gamelist_check(h.games, h.ngames, why, sizeof(why)) == -1) {
		msg_free_peer_hello(&h);
		net_link_drop(l, why);
		return -1;
	}
	/*
	 * One link per peer. When both sides dialled at once, both keep the
	 * link dialled by the smaller id; a peer that dials again (restart,
	 * new address) replaces its old link.
	 */
	TAILQ_FOREACH_SAFE(old, &net->links, entry, next) {
		if (old == l || old->state != LINK_UP ||
		    strcmp(old->peer_id, l->peer_id) != 0)
			continue;
		if (old->outbound != l->outbound &&
		    strcmp(dialler_id(old), dialler_id(l)) < 0) {
			/* Linked all the same: a connect on l succeeded. */
			if (l->connect_req != 0) {
				net_connect_done(net, l->connect_req, NULL);
				l->connect_req = 0;
			}
			msg_free_peer_hello(&h);
			net_link_drop(l, "duplicate link, keeping the other");
			return -1;
		}
		old->state = LINK_HELLO;	/* no PEER_DOWN */
		net_link_drop(old, "replaced by a newer link");
	}
	if (m->type == MSG_PEER_HELLO && handshake_send_hello(l, 1) == -1) {
		msg_free_peer_hello(&h);
		net_link_drop(l, "cannot answer hello");
		return -1;
	}
	memcpy(up.peer_id, l->peer_id, sizeof(up.peer_id));
	memcpy(up.name, l->name, sizeof(up.name));
	memcpy(up.addr, l->addr, sizeof(up.addr));
	up.games = h.games;
	up.ngames = h.ngames;
	msg_send_net_peer_up(&net->sup, &up);
	msg_free_peer_hello(&h);
	l->state = LINK_UP;
	log_info("peer %s (%s) up at %s", l->peer_id, l->name, l->addr);
	connect_wait_linked(net, l);
	return 0;
}

void
handshake_forward_library(struct link *l, struct msg *m)
{
	struct game_list lib;
	struct net_peer_library pl;
	char		 why[ERROR_SIZE];

	if (msg_recv_peer_library(m, &lib, why, sizeof(why)) == -1 ||
	    gamelist_check(lib.games, lib.ngames, why, sizeof(why)) == -1) {
		msg_free_peer_library(&lib);
		net_link_drop(l, why);
		return;
	}
	memcpy(pl.peer_id, l->peer_id, sizeof(pl.peer_id));
	pl.games = lib.games;
	pl.ngames = lib.ngames;
	msg_send_net_peer_library(&l->net->sup, &pl);
	msg_free_peer_library(&lib);
}

/* Our library changed: every peer hears it on its existing link. */
void
handshake_broadcast_library(struct net *net)
{
	struct link	*l, *next;

	TAILQ_FOREACH_SAFE(l, &net->links, entry, next) {
		if (l->state != LINK_UP)
			continue;
		if (msg_send_peer_library(&l->mc, &net->library) == -1)
			net_link_drop(l, "cannot send library");
	}
}
