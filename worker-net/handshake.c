/*
 * The peer handshake: the dialler's hello, the listener's ack, the
 * dialler's proof. Each side shows its public key, which its peer id is
 * derived from, and signs the other's fresh challenge, so an id is only
 * ever linked by the holder of its key; one connect makes both peers know
 * each other. Everything is checked before the supervisor hears of it, a
 * hello bearing our own id is ignored, and a linked id is never taken
 * over by a newcomer. Both sides speak the same protocol version.
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

/* The dialler's hello: who we are, and a challenge for the listener. */
int
handshake_send_hello(struct link *l)
{
	struct net	*net = l->net;
	struct peer_hello h;

	memset(&h, 0, sizeof(h));
	h.proto = PEER_PROTO_VERSION;
	memcpy(h.peer_id, net->peer_id, sizeof(h.peer_id));
	snprintf(h.name, sizeof(h.name), "%s", net->name);
	addr_for_link(l, h.addr, sizeof(h.addr));
	memcpy(h.public_key, net->pk_hex, sizeof(h.public_key));
	identity_new_challenge(l->challenge);
	memcpy(h.challenge, l->challenge, sizeof(h.challenge));
	return msg_send_peer_hello(&l->mc, &h);
}

/*
 * What a hello or an ack says about its sender, checked before anything
 * else is done with it: our protocol, a well-formed id that is derived
 * from the key it shows (no id without its key), a name, an address,
 * and not ourselves. NULL, or why the link goes.
 */
static const char *
check_sender(struct link *l, uint64_t proto, const char *peer_id,
    const char *name, const char *addr, const char *public_key)
{
	struct net	*net = l->net;
	struct sockaddr_storage ss;
	socklen_t	 len;

	if (proto != PEER_PROTO_VERSION)
		return "hello with an unknown protocol version";
	l->proto = proto;
	snprintf(l->peer_id, sizeof(l->peer_id), "%s", peer_id);
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	if (!peer_id_is_valid(l->peer_id) || !valid_name(l->name) ||
	    addr_parse(l->addr, -1, &ss, &len) == -1 ||
	    addr_port((struct sockaddr *)&ss) <= 0)
		return "malformed hello";
	if (strcmp(l->peer_id, net->peer_id) == 0)
		return "hello from ourselves, ignored";
	if (!identity_id_matches_key(l->peer_id, public_key, l->pk)) {
		log_warnx("refused a hello claiming peer %s from %s: its id is "
		    "not derived from the key it shows", l->peer_id,
		    l->host[0] ? l->host : l->target);
		return "peer id not derived from its key";
	}
	proven_addr(l, &ss);
	return NULL;
}

/*
 * Tickets bind transfer links to this link: the one we give the peer
 * opens its transfer links to us while this link is up; the one it gives
 * us opens ours to it.
 */
static void
new_ticket(char hex[XFER_TICKET_HEX])
{
	unsigned char	 t[XFER_TICKET_LEN];

	randombytes_buf(t, sizeof(t));
	sodium_bin2hex(hex, XFER_TICKET_HEX, t, sizeof(t));
}

static int
take_ticket(struct link *l, const char *hex, char *err, size_t errsz)
{
	unsigned char	 t[XFER_TICKET_LEN];

	if (identity_hex_decode(hex, t, sizeof(t)) == -1)
		return seterr(err, errsz, "hello with a malformed ticket");
	memcpy(l->ticket_theirs, hex, sizeof(l->ticket_theirs));
	return 0;
}

/*
 * Asks the supervisor, which alone holds our secret key, to sign the
 * proof of our id over the peer's challenge: as the listener (our ack)
 * or as the dialler (our proof). The link waits for handshake_signed().
 */
static int
request_proof(struct link *l, int as_listener, const char *challenge)
{
	struct net	*net = l->net;
	struct net_sign	 req;
	unsigned char	 c[IDENTITY_CHALLENGE_LEN];

	if (identity_hex_decode(challenge, c, sizeof(c)) == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.req = ++net->sign_seq;
	req.as_listener = as_listener;
	memcpy(req.challenge, challenge, sizeof(req.challenge));
	memcpy(req.verifier_id, l->peer_id, sizeof(req.verifier_id));
	if (msg_send_net_sign(&net->sup, &req) == -1)
		return -1;
	l->sign_req = req.req;
	return 0;
}

/* The id is linked already over a link of the same direction as l. */
static const struct link *
linked_same_way(const struct link *l)
{
	const struct link *old;

	TAILQ_FOREACH(old, &l->net->links, entry)
		if (old != l && old->state == LINK_UP &&
		    old->outbound == l->outbound &&
		    strcmp(old->peer_id, l->peer_id) == 0)
			return old;
	return NULL;
}

/*
 * The key holder came back while its old link lingers (its PC restarted,
 * its cable was out): the old link is asked at once and dropped when it
 * does not answer within NET_PROBE_WAIT, so the next dial gets in, not
 * only the one after NET_DEAD_AFTER.
 */
static void
probe_link(struct link *old)
{
	struct ev_loop	*loop = old->net->loop;

	if (old->probed > 0 || ev_now(loop) - old->last_rx < NET_PROBE_WAIT)
		return;
	if (msg_send_peer_ping(&old->mc) == -1)
		return;
	old->probed = ev_now(loop);
	ev_timer_stop(loop, &old->timer);
	ev_timer_set(&old->timer, NET_PROBE_WAIT, 0);
	ev_timer_start(loop, &old->timer);
}

/*
 * One link per peer, and a link once up is never taken over: a newcomer
 * claiming a linked id is refused, the existing link stays. Only when
 * both sides dialled at once (two proven links, one each way) do both
 * keep the link dialled by the smaller id. Returns -1 when l was dropped.
 */
static int
claim_the_id(struct link *l)
{
	struct net	*net = l->net;
	struct link	*old, *next;

	TAILQ_FOREACH_SAFE(old, &net->links, entry, next) {
		if (old == l || old->state != LINK_UP ||
		    strcmp(old->peer_id, l->peer_id) != 0)
			continue;
		if (old->outbound == l->outbound ||
		    strcmp(dialler_id(old), dialler_id(l)) < 0) {
			/* Linked all the same: a connect on l succeeded. */
			if (l->connect_req != 0) {
				net_connect_done(net, l->connect_req, NULL);
				l->connect_req = 0;
			}
			if (old->outbound == l->outbound) {
				log_warnx("refused a second link of peer %s "
				    "from %s: it is linked at %s", l->peer_id,
				    l->host[0] ? l->host : l->target,
				    old->addr);
				probe_link(old);
			}
			net_link_drop(l, old->outbound == l->outbound ?
			    "peer already linked, newcomer refused" :
			    "duplicate link, keeping the other");
			return -1;
		}
		old->state = LINK_HELLO;	/* no PEER_DOWN */
		net_link_drop(old, "duplicate link, keeping the other");
	}
	return 0;
}

/* l proved its key and took its id: the supervisor hears of it. */
static void
link_up(struct link *l, struct game_entry *games, size_t ngames)
{
	struct net	*net = l->net;
	struct net_peer_up up;

	memset(&up, 0, sizeof(up));
	memcpy(up.peer_id, l->peer_id, sizeof(up.peer_id));
	memcpy(up.name, l->name, sizeof(up.name));
	memcpy(up.addr, l->addr, sizeof(up.addr));
	sodium_bin2hex(up.public_key, sizeof(up.public_key), l->pk,
	    sizeof(l->pk));
	memcpy(up.xfer_ticket, l->ticket_theirs, sizeof(up.xfer_ticket));
	up.games = games;
	up.ngames = ngames;
	msg_send_net_peer_up(&net->sup, &up);
	l->state = LINK_UP;
	log_info("peer %s (%s) up at %s", l->peer_id, l->name, l->addr);
	connect_wait_linked(net, l);
}

/*
 * Listener: a dialler's hello. Answered with an ack that proves our key
 * and challenges the dialler's; the dialler is nobody until its proof
 * comes. Returns 0 while the proof is due, -1 when the link was dropped.
 */
int
handshake_recv_hello(struct link *l, struct msg *m)
{
	struct peer_hello h;
	const struct link *old;
	const char	*bad;
	char		 why[ERROR_SIZE];

	if (msg_recv_peer_hello(m, &h, why, sizeof(why)) == -1) {
		log_info("malformed hello: %s", why);
		net_link_drop(l, "malformed hello");
		return -1;
	}
	if ((bad = check_sender(l, h.proto, h.peer_id, h.name, h.addr,
	    h.public_key)) != NULL) {
		net_link_drop(l, bad);
		return -1;
	}
	/* Linked this way already: only a fake would dial again now. */
	if ((old = linked_same_way(l)) != NULL) {
		log_warnx("refused a hello claiming peer %s from %s: it is "
		    "linked at %s", l->peer_id, l->host, old->addr);
		net_link_drop(l, "peer already linked, newcomer refused");
		return -1;
	}
	/* Our ack goes once the supervisor signed its challenge. */
	if (request_proof(l, 1, h.challenge) == -1) {
		net_link_drop(l, "malformed hello challenge");
		return -1;
	}
	return 0;
}

/* Listener: the ack, with the proof the supervisor signed. */
static void
send_ack(struct link *l, const char *proof)
{
	struct net	*net = l->net;
	struct peer_hello_ack ack;

	memset(&ack, 0, sizeof(ack));
	ack.proto = PEER_PROTO_VERSION;
	memcpy(ack.peer_id, net->peer_id, sizeof(ack.peer_id));
	snprintf(ack.name, sizeof(ack.name), "%s", net->name);
	addr_for_link(l, ack.addr, sizeof(ack.addr));
	memcpy(ack.public_key, net->pk_hex, sizeof(ack.public_key));
	identity_new_challenge(l->challenge);
	memcpy(ack.challenge, l->challenge, sizeof(ack.challenge));
	new_ticket(l->ticket_ours);
	memcpy(ack.ticket, l->ticket_ours, sizeof(ack.ticket));
	snprintf(ack.proof, sizeof(ack.proof), "%s", proof);
	ack.games = net->library.games;
	ack.ngames = net->library.ngames;
	if (msg_send_peer_hello_ack(&l->mc, &ack) == -1) {
		net_link_drop(l, "cannot answer hello");
		return;
	}
	l->acked = 1;
}

/* Listener: the dialler's proof of its key, and its library. */
int
handshake_recv_proof(struct link *l, struct msg *m)
{
	struct peer_hello_proof p;
	char		 why[ERROR_SIZE];

	if (msg_recv_peer_hello_proof(m, &p, why, sizeof(why)) == -1) {
		log_info("malformed hello proof: %s", why);
		net_link_drop(l, "malformed hello proof");
		return -1;
	}
	if (identity_verify_hello(l->pk, HELLO_ROLE_DIALLER, l->challenge,
	    l->peer_id, l->net->peer_id, p.proof) == -1) {
		log_warnx("refused peer %s from %s: no proof of its key",
		    l->peer_id, l->host);
		msg_free_peer_hello_proof(&p);
		net_link_drop(l, "hello proof does not verify");
		return -1;
	}
	if (gamelist_check(p.games, p.ngames, why, sizeof(why)) == -1 ||
	    take_ticket(l, p.ticket, why, sizeof(why)) == -1) {
		msg_free_peer_hello_proof(&p);
		net_link_drop(l, why);
		return -1;
	}
	if (claim_the_id(l) == -1) {
		msg_free_peer_hello_proof(&p);
		return -1;
	}
	link_up(l, p.games, p.ngames);
	msg_free_peer_hello_proof(&p);
	return 0;
}

/*
 * Dialler: the listener's ack. Its proof is checked against the
 * challenge of our hello; then we prove our key in turn, with our
 * library, and the link is up.
 */
int
handshake_recv_ack(struct link *l, struct msg *m)
{
	struct net	*net = l->net;
	struct peer_hello_ack ack;
	const char	*bad;
	char		 why[ERROR_SIZE];

	if (msg_recv_peer_hello_ack(m, &ack, why, sizeof(why)) == -1) {
		log_info("malformed hello ack: %s", why);
		net_link_drop(l, "malformed hello");
		return -1;
	}
	if ((bad = check_sender(l, ack.proto, ack.peer_id, ack.name,
	    ack.addr, ack.public_key)) != NULL) {
		msg_free_peer_hello_ack(&ack);
		net_link_drop(l, bad);
		return -1;
	}
	if (identity_verify_hello(l->pk, HELLO_ROLE_LISTENER, l->challenge,
	    l->peer_id, net->peer_id, ack.proof) == -1) {
		log_warnx("refused peer %s at %s: no proof of its key",
		    l->peer_id, l->target);
		msg_free_peer_hello_ack(&ack);
		net_link_drop(l, "hello proof does not verify");
		return -1;
	}
	if (gamelist_check(ack.games, ack.ngames, why, sizeof(why)) == -1 ||
	    take_ticket(l, ack.ticket, why, sizeof(why)) == -1) {
		msg_free_peer_hello_ack(&ack);
		net_link_drop(l, why);
		return -1;
	}
	/* Its library waits here until our proof is signed and sent. */
	if ((l->held_ack = malloc(sizeof(*l->held_ack))) == NULL) {
		msg_free_peer_hello_ack(&ack);
		net_link_drop(l, "out of memory");
		return -1;
	}
	*l->held_ack = ack;
	if (request_proof(l, 0, ack.challenge) == -1) {
		net_link_drop(l, "malformed ack challenge");
		return -1;
	}
	return 0;
}

/* Dialler: our proof, signed by the supervisor; then the link is up. */
static void
send_proof(struct link *l, const char *proof)
{
	struct net	*net = l->net;
	struct peer_hello_proof p;
	struct peer_hello_ack *ack = l->held_ack;

	if (claim_the_id(l) == -1)
		return;
	memset(&p, 0, sizeof(p));
	snprintf(p.proof, sizeof(p.proof), "%s", proof);
	new_ticket(l->ticket_ours);
	memcpy(p.ticket, l->ticket_ours, sizeof(p.ticket));
	p.games = net->library.games;
	p.ngames = net->library.ngames;
	if (msg_send_peer_hello_proof(&l->mc, &p) == -1) {
		net_link_drop(l, "cannot prove our key");
		return;
	}
	link_up(l, ack->games, ack->ngames);
	msg_free_peer_hello_ack(ack);
	free(ack);
	l->held_ack = NULL;
	net_link_established(l);
}

/*
 * The supervisor's answer to request_proof(): the link it was for goes
 * on, unless it went meanwhile or the proof was refused.
 */
void
handshake_signed(struct net *net, const struct net_signed *s)
{
	struct link	*l;

	TAILQ_FOREACH(l, &net->links, entry)
		if (l->sign_req == s->req && l->state == LINK_HELLO)
			break;
	if (l == NULL)
		return;
	l->sign_req = 0;
	if (s->proof[0] == '\0') {
		net_link_drop(l, "the supervisor would not sign our proof");
		return;
	}
	if (l->outbound)
		send_proof(l, s->proof);
	else
		send_ack(l, s->proof);
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
