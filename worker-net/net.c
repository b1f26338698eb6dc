/*
 * The network worker: owns the peer listener and every peer link. It
 * checks what peers send and tells the supervisor only what passed.
 * A bad frame closes that one link, never the others.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "common/proc.h"
#include "worker-net/net.h"

static void	net_dispatch_supervisor(struct msgconn *, struct msg *);
static void	net_dispatch_peer(struct msgconn *, struct msg *);
static void	sup_lost(struct msgconn *, const char *);
static void	link_closed(struct msgconn *, const char *);

static void
connect_done(struct net *net, uint64_t req, const char *error)
{
	struct net_connect_done d;

	if (req == 0)
		return;
	d.req = req;
	snprintf(d.error, sizeof(d.error), "%s", error != NULL ? error : "");
	msg_send_net_connect_done(&net->sup, &d);
}

/* The answer to the supervisor's connect request req (0: none asked). */
void
net_connect_done(struct net *net, uint64_t req, const char *error)
{
	connect_done(net, req, error);
}

static void
link_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link	*l = w->data;

	(void)revents;
	switch (l->state) {
	case LINK_CONNECTING:
		net_link_drop(l, "connect timed out");
		return;
	case LINK_HELLO:
		net_link_drop(l, "no hello in time");
		return;
	case LINK_UP:
		if (ev_now(loop) - l->last_rx > NET_DEAD_AFTER) {
			net_link_drop(l, "peer went silent");
			return;
		}
		if (l->probed > 0 && l->last_rx < l->probed) {
			net_link_drop(l, "no answer to a probe: a newcomer "
			    "holds its id");
			return;
		}
		l->probed = 0;
		if (msg_send_peer_ping(&l->mc) == -1) {
			net_link_drop(l, "cannot ping");
			return;
		}
		ev_timer_set(w, NET_PING_INTERVAL, 0);
		ev_timer_start(loop, w);
		return;
	}
}

static void
link_arm(struct link *l, ev_tstamp after)
{
	ev_timer_stop(l->net->loop, &l->timer);
	ev_timer_set(&l->timer, after, 0);
	ev_timer_start(l->net->loop, &l->timer);
}

static void	log_refused(struct net *, const char *, const char *);

/* A link just came up: its connect request is answered, pings start. */
void
net_link_established(struct link *l)
{
	if (l->connect_req != 0) {
		connect_done(l->net, l->connect_req, NULL);
		l->connect_req = 0;
	}
	link_arm(l, NET_PING_INTERVAL);
	catalog_share_link_up(l);
	exchange_link_up(l);
	swarm_link_up(l);
}

/* A large frame arrived whole, or its link went: its share is free. */
static void
large_frame_done(struct link *l)
{
	l->net->large_frames -= l->large_frame;
	l->large_frame = 0;
}

/*
 * Until the hello, a link takes small frames only, and a hello as large
 * as a library; once up, frames as large as a library. A frame larger
 * than small needs its share of what all links may hold in flight; when
 * that is spent, only a small frame goes.
 */
static size_t
link_body_limit(const struct msgconn *c, uint32_t type, uint32_t len)
{
	struct link	*l = c->arg;
	struct net	*net = l->net;
	size_t		 max = NET_PREHELLO_FRAME_MAX;

	/* Before the link is up, a library comes only with a proof. */
	if (l->state == LINK_UP || type == MSG_PEER_HELLO_ACK ||
	    type == MSG_PEER_HELLO_PROOF)
		max = NET_LIBRARY_FRAME_MAX;
	if (l->state == LINK_UP && type == MSG_PEER_CATALOG && l->catalog_asked)
		max = NET_CATALOG_FRAME_MAX;
	if (len <= NET_PREHELLO_FRAME_MAX || len > max ||
	    l->large_frame == len)
		return max;
	large_frame_done(l);
	if (net->large_frames + len > NET_LARGE_FRAMES_MAX) {
		log_refused(net, l->host[0] ? l->host : l->target,
		    "large frames in flight on every link hold their limit");
		return NET_PREHELLO_FRAME_MAX;
	}
	net->large_frames += len;
	l->large_frame = len;
	return max;
}

/* Frames for a link that will say hello: bounded as above. */
static void
link_frames_init(struct link *l, int fd)
{
	msgconn_init(&l->mc, l->net->loop, fd, 0, net_dispatch_peer,
	    link_closed, l);
	/* The largest we send or take; link_body_limit() narrows it. */
	l->mc.max_body = NET_CATALOG_FRAME_MAX;
	l->mc.body_limit = link_body_limit;
	l->mc.wqmax = NET_LINK_QUEUE_MAX;
}

/*
 * Whether one more inbound link from host may wait for its hello: NULL,
 * or why not. Links already handed to the transfer worker are its own.
 */
const char *
net_admit_inbound(const struct net *net, const char *host)
{
	const struct link *l;
	int		 waiting = 0, from_host = 0, host_waiting = 0;

	if (net->nlinks >= NET_MAX_LINKS)
		return "too many peer links";
	TAILQ_FOREACH(l, &net->links, entry) {
		int	 same = !l->outbound && strcmp(l->host, host) == 0;

		if (l->state == LINK_HELLO && !l->outbound) {
			waiting++;
			host_waiting += same;
		}
		from_host += same;
	}
	if (from_host >= NET_LINKS_PER_HOST)
		return "too many links from that host";
	if (host_waiting >= NET_PREHELLO_PER_HOST)
		return "too many links from that host without a hello";
	if (waiting >= NET_PREHELLO_MAX)
		return "too many links without a hello";
	return NULL;
}

struct link *
net_link_new(struct net *net, int fd, int outbound)
{
	struct link	*l;

	if (net->nlinks >= NET_MAX_LINKS || (l = calloc(1, sizeof(*l))) ==
	    NULL) {
		close(fd);
		return NULL;
	}
	l->net = net;
	l->outbound = outbound;
	l->state = LINK_HELLO;
	l->last_rx = ev_now(net->loop);
	if (!outbound)
		addr_peer_host(fd, l->host, sizeof(l->host));
	link_frames_init(l, fd);
	ev_init(&l->timer, link_timer_cb);
	l->timer.data = l;
	link_arm(l, NET_HELLO_TIMEOUT);
	TAILQ_INSERT_TAIL(&net->links, l, entry);
	net->nlinks++;
	return l;
}

static void
link_free(struct link *l)
{
	struct net	*net = l->net;

	if (l->held_ack != NULL) {
		msg_free_peer_hello_ack(l->held_ack);
		free(l->held_ack);
	}

	large_frame_done(l);
	ev_timer_stop(net->loop, &l->timer);
	ev_io_stop(net->loop, &l->cio);
	TAILQ_REMOVE(&net->links, l, entry);
	net->nlinks--;
	free(l);
}

/*
 * A link a connect request waits on ends before it is up. The peer may
 * be linked anyway: over its own link when it dialled us at the same
 * moment and closed ours as the duplicate.
 */
static void
connect_answer(struct link *l, const char *why)
{
	struct net	*net = l->net;

	if (net_linked_to(net, l->target))
		connect_done(net, l->connect_req, NULL);
	else if (l->closed_by_peer && l->state == LINK_HELLO)
		connect_wait_add(net, l->connect_req, l->target, why);
	else
		connect_done(net, l->connect_req, why);
	l->connect_req = 0;
}

/* Ends a link; the supervisor hears of it if the peer was up. */
void
net_link_drop(struct link *l, const char *why)
{
	struct net	*net = l->net;

	if (l->state == LINK_UP) {
		struct net_peer_down d;

		log_info("peer %s (%s) down: %s", l->peer_id, l->addr, why);
		memcpy(d.peer_id, l->peer_id, sizeof(d.peer_id));
		snprintf(d.reason, sizeof(d.reason), "%s", why);
		msg_send_net_peer_down(&net->sup, &d);
	} else
		log_info("link %s %s closed: %s", l->outbound ? "to" : "from",
		    l->target[0] ? l->target : l->host[0] ? l->host : "?",
		    why);
	if (l->connect_req != 0)
		connect_answer(l, why);
	if (l->state == LINK_CONNECTING) {
		close(l->mc.fd);
		l->mc.fd = -1;
	} else
		msgconn_close(&l->mc);
	link_free(l);
}

static void
link_closed(struct msgconn *c, const char *why)
{
	struct link	*l = c->arg;

	l->closed_by_peer = 1;
	net_link_drop(l, why);
}

/* The opener is a peer linked now, showing the ticket we gave it. */
static int
ticket_is_valid(const struct net *net, const struct peer_xfer_open *open)
{
	const struct link *l;

	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP && strcmp(l->peer_id,
		    open->peer_id) == 0)
			return strlen(open->ticket) == XFER_TICKET_HEX - 1 &&
			    sodium_memcmp(l->ticket_ours, open->ticket,
			    XFER_TICKET_HEX - 1) == 0;
	return 0;
}

/*
 * A link opened for a transfer goes to the transfer worker, through the
 * supervisor, once its ticket shows it comes from a peer whose key is
 * proven on a link that is up; the dialler sends nothing more until it
 * is accepted.
 */
static void
net_handoff(struct link *l, struct msg *m)
{
	struct net	*net = l->net;
	struct peer_xfer_open open;
	struct link_fd	 handoff;
	char		 why[ERROR_SIZE];

	if (msg_recv_peer_xfer_open(m, &open, why, sizeof(why)) == -1 ||
	    open.proto != XFER_PROTO_VERSION) {
		net_link_drop(l, "transfer link with an unknown version");
		return;
	}
	/* Only for counting its bytes: the id is the opener's claim. */
	snprintf(handoff.peer_id, sizeof(handoff.peer_id), "%s",
	    peer_id_is_valid(open.peer_id) ? open.peer_id : "");
	if (!ticket_is_valid(net, &open)) {
		log_refused(net, l->host, "a transfer link without a ticket "
		    "of a linked peer");
		net_link_drop(l, "transfer link not bound to a linked peer");
		return;
	}
	if ((handoff.fd = dup(l->mc.fd)) == -1) {
		net_link_drop(l, "cannot hand off a transfer link");
		return;
	}
	msgconn_close(&l->mc);
	link_free(l);
	msg_send_net_handoff(&net->sup, &handoff);
}

static void
net_dispatch_peer(struct msgconn *c, struct msg *m)
{
	struct link	*l = c->arg;
	char		 why[ERROR_SIZE];

	large_frame_done(l);
	l->last_rx = ev_now(l->net->loop);
	if (l->state == LINK_HELLO && !l->outbound &&
	    m->type == MSG_PEER_XFER_OPEN) {
		net_handoff(l, m);
		return;
	}
	if (l->state == LINK_HELLO) {
		/*
		 * The dialler says hello, the listener answers with an ack,
		 * the dialler with its proof; then the link is up.
		 */
		uint32_t want = l->outbound ? MSG_PEER_HELLO_ACK :
		    l->acked ? MSG_PEER_HELLO_PROOF : MSG_PEER_HELLO;

		if (m->type != want) {
			net_link_drop(l, l->acked ? "expected a hello proof" :
			    "expected a hello first");
			return;
		}
		/* While our proof is being signed, the peer waits. */
		if (l->sign_req != 0) {
			net_link_drop(l, "spoke before our answer");
			return;
		}
		if (m->type == MSG_PEER_HELLO)
			handshake_recv_hello(l, m);
		else if (m->type == MSG_PEER_HELLO_ACK)
			handshake_recv_ack(l, m);
		else if (handshake_recv_proof(l, m) == 0)
			net_link_established(l);
		return;
	}
	switch (m->type) {
	case MSG_PEER_LIBRARY:
		handshake_forward_library(l, m);
		break;
	case MSG_PEER_PING:
		if (msg_recv_peer_ping(m, why, sizeof(why)) == -1)
			net_link_drop(l, why);
		else if (msg_send_peer_pong(&l->mc) == -1)
			net_link_drop(l, "cannot answer ping");
		break;
	case MSG_PEER_PONG:
		if (msg_recv_peer_pong(m, why, sizeof(why)) == -1)
			net_link_drop(l, why);
		break;
	case MSG_PEER_GOODBYE:
		net_link_drop(l, "goodbye");
		break;
	default:
		if (catalog_share_dispatch(l, m) == 0 ||
		    exchange_dispatch(l, m) == 0 ||
		    swarm_dispatch(l, m) == 0)
			break;
		net_link_drop(l, "unexpected frame");
		break;
	}
}

static void
set_sockopts(int fd)
{
	int	 one = 1, idle = 5, intvl = 2, cnt = 2;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* A flood of refusals is logged once a second, with how many there were. */
static void
log_refused(struct net *net, const char *host, const char *why)
{
	ev_tstamp	 now = ev_now(net->loop);

	if (now - net->refused_logged < 1.0) {
		net->refused_quiet++;
		return;
	}
	if (net->refused_quiet > 0)
		log_warnx("refused a link from %s: %s (and %u more refused "
		    "in the last second)", host, why, net->refused_quiet);
	else
		log_warnx("refused a link from %s: %s", host, why);
	net->refused_logged = now;
	net->refused_quiet = 0;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct net	*net = w->data;
	const char	*why;
	char		 host[ADDR_HOSTLEN];
	int		 fd;

	(void)loop;
	(void)revents;
	fd = accept4(net->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept");
		return;
	}
	addr_peer_host(fd, host, sizeof(host));
	if ((why = net_admit_inbound(net, host)) != NULL) {
		log_refused(net, host, why);
		close(fd);
		return;
	}
	set_sockopts(fd);
	net_link_new(net, fd, 0);
}

/*
 * The address we tell peers: the bound one, or when bound to all
 * addresses, the one the kernel would use to reach the LAN.
 */
static void
advertised_addr(struct net *net)
{
	struct sockaddr_storage ss = net->bound, probe;
	socklen_t	 len = sizeof(ss);
	int		 port = addr_port((struct sockaddr *)&net->bound), fd;

	if (addr_is_any((struct sockaddr *)&ss)) {
		addr_parse(ss.ss_family == AF_INET6 ? "[2001:db8::1]:9" :
		    "192.0.2.1:9", 9, &probe, &len);
		fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		len = sizeof(ss);
		if (fd == -1 || connect(fd, (struct sockaddr *)&probe,
		    ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		    sizeof(struct sockaddr_in)) == -1 ||
		    getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
			addr_parse(ss.ss_family == AF_INET6 ? "[::1]:0" :
			    "127.0.0.1:0", 0, &ss, &len);
		if (fd != -1)
			close(fd);
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	}
	addr_format((struct sockaddr *)&ss, net->addr, sizeof(net->addr));
}

static int
net_listen(struct net *net, const char *want)
{
	struct net_ready ready;
	struct error_text failed;
	socklen_t	 len;
	char		*err = failed.error;
	size_t		 errsize = sizeof(failed.error);
	int		 one = 1;

	/* "listen = IP" means the LAN's well-known port, as documented. */
	if (addr_parse(want, LANSPREAD_PORT, &net->bound, &len) == -1) {
		snprintf(err, errsize, "invalid listen address %s", want);
		goto fail;
	}
	net->listen_fd = socket(net->bound.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (net->listen_fd == -1 ||
	    setsockopt(net->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    bind(net->listen_fd, (struct sockaddr *)&net->bound, len) == -1 ||
	    listen(net->listen_fd, 128) == -1) {
		snprintf(err, errsize, "cannot listen on %s: %s", want,
		    strerror(errno));
		goto fail;
	}
	len = sizeof(net->bound);
	getsockname(net->listen_fd, (struct sockaddr *)&net->bound, &len);
	advertised_addr(net);
	memcpy(ready.addr, net->addr, sizeof(ready.addr));
	addr_format((struct sockaddr *)&net->bound, ready.bound,
	    sizeof(ready.bound));
	ev_io_init(&net->lio, accept_cb, net->listen_fd, EV_READ);
	net->lio.data = net;
	ev_io_start(net->loop, &net->lio);
	msg_send_net_ready(&net->sup, &ready);
	return 0;
fail:
	log_warnx("%s", err);
	msg_send_net_failed(&net->sup, &failed);
	return -1;
}

static void
connect_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct link	*l = w->data;
	struct msgconn	*mc = &l->mc;
	int		 err = 0, fd = mc->fd;
	socklen_t	 len = sizeof(err);

	(void)revents;
	ev_io_stop(loop, w);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		char	 why[160];

		snprintf(why, sizeof(why), "cannot connect to %s: %s",
		    l->target, strerror(err));
		net_link_drop(l, why);
		return;
	}
	/* Connected: now a framed link that says hello first. */
	l->state = LINK_HELLO;
	link_frames_init(l, fd);
	link_arm(l, NET_HELLO_TIMEOUT);
	if (handshake_send_hello(l) == -1)
		net_link_drop(l, "cannot send hello");
}

void
net_dial(struct net *net, uint64_t req, const char *target)
{
	struct sockaddr_storage ss;
	struct link	*l;
	socklen_t	 len;
	int		 fd;

	if (addr_parse(target, -1, &ss, &len) == -1) {
		connect_done(net, req, "invalid address");
		return;
	}
	if (net->nlinks >= NET_MAX_LINKS) {
		connect_done(net, req, "too many peer links");
		return;
	}
	/* Already linked to whoever listens there: nothing to do. */
	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP && strcmp(l->addr, target) == 0) {
			connect_done(net, req, NULL);
			return;
		}
	/* Discovery dials quietly and once per address at a time. */
	if (req == 0)
		TAILQ_FOREACH(l, &net->links, entry)
			if (strcmp(l->target, target) == 0)
				return;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		connect_done(net, req, strerror(errno));
		return;
	}
	set_sockopts(fd);
	/* Leave from our own address so peers on one host stay apart. */
	if (!addr_is_any((struct sockaddr *)&net->bound) &&
	    ss.ss_family == net->bound.ss_family) {
		struct sockaddr_storage src = net->bound;

		if (src.ss_family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&src)->sin6_port = 0;
		bind(fd, (struct sockaddr *)&src, len);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		char	 why[160];

		snprintf(why, sizeof(why), "cannot connect to %s: %s", target,
		    strerror(errno));
		close(fd);
		connect_done(net, req, why);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		connect_done(net, req, "out of memory");
		return;
	}
	l->net = net;
	l->outbound = 1;
	l->state = LINK_CONNECTING;
	l->connect_req = req;
	l->mc.fd = fd;
	l->last_rx = ev_now(net->loop);
	snprintf(l->target, sizeof(l->target), "%s", target);
	ev_io_init(&l->cio, connect_io_cb, fd, EV_WRITE);
	l->cio.data = l;
	ev_io_start(net->loop, &l->cio);
	ev_init(&l->timer, link_timer_cb);
	l->timer.data = l;
	link_arm(l, NET_CONNECT_TIMEOUT);
	TAILQ_INSERT_TAIL(&net->links, l, entry);
	net->nlinks++;
}

/*
 * lanspreadctl disconnect: goodbye to that one peer, so it does not take
 * the closed link for a failure, and its link dropped (PEER_DOWN).
 */
static void
net_disconnect(struct net *net, const struct net_peer_down *gone)
{
	struct link	*l, *next;

	TAILQ_FOREACH_SAFE(l, &net->links, entry, next) {
		if (l->state != LINK_UP || strcmp(l->peer_id, gone->peer_id)
		    != 0)
			continue;
		msg_send_peer_goodbye(&l->mc);
		msgconn_flush(&l->mc, 200);
		net_link_drop(l, gone->reason);
	}
}

/* Goodbye to every peer, pushed out before we exit. */
static void
net_goodbye(struct net *net)
{
	struct link	*l;

	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP) {
			msg_send_peer_goodbye(&l->mc);
			msgconn_flush(&l->mc, 500);
		}
	ev_break(net->loop, EVBREAK_ALL);
}

/*
 * Who we are: our id and the public key it derives from. The secret key
 * stays with the supervisor, which signs our proofs (handshake_signed).
 */
static int
net_take_identity(struct net *net, const struct net_identity *identity)
{
	unsigned char	 pk[IDENTITY_PK_LEN];

	if (sodium_init() == -1 ||
	    !identity_id_matches_key(identity->peer_id, identity->public_key,
	    pk))
		return -1;
	memcpy(net->peer_id, identity->peer_id, sizeof(net->peer_id));
	memcpy(net->pk_hex, identity->public_key, sizeof(net->pk_hex));
	memcpy(net->name, identity->name, sizeof(net->name));
	return 0;
}

static void
net_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct net	*net = c->arg;
	struct net_identity identity;
	struct net_signed signed_proof;
	struct net_listen listen;
	struct net_connect dial;
	struct net_peer_down gone;
	struct net_catalog cat;
	struct net_catalog_fetch fetch;
	struct game_list swarm;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_NET_CATALOG:
		if (msg_recv_net_catalog(m, &cat, why, sizeof(why)) == -1)
			break;
		catalog_share_set(net, &cat);
		return;
	case MSG_NET_CATALOG_FETCH:
		if (msg_recv_net_catalog_fetch(m, &fetch, why, sizeof(why)) ==
		    -1)
			break;
		catalog_share_fetch(net, &fetch);
		return;
	case MSG_NET_IDENTITY:
		if (msg_recv_net_identity(m, &identity, why, sizeof(why)) == -1)
			break;
		if (net_take_identity(net, &identity) == -1) {
			snprintf(why, sizeof(why), "a key that is not ours");
			break;
		}
		return;
	case MSG_NET_SIGNED:
		if (msg_recv_net_signed(m, &signed_proof, why, sizeof(why)) ==
		    -1)
			break;
		handshake_signed(net, &signed_proof);
		return;
	case MSG_NET_LISTEN:
		if (msg_recv_net_listen(m, &listen, why, sizeof(why)) == -1)
			break;
		net->exchange = listen.exchange;
		if (net_listen(net, listen.addr) == 0 && listen.mdns &&
		    (net->mdns = mdns_start(net)) == NULL)
			log_warnx("mDNS is off: cannot start it");
		/* Sockets only: no file is ever written here. */
		sandbox_worker(PROC_NET, NULL, NULL);
		return;
	case MSG_NET_CONNECT:
		if (msg_recv_net_connect(m, &dial, why, sizeof(why)) == -1)
			break;
		net_dial(net, dial.req, dial.addr);
		return;
	case MSG_NET_LIBRARY:
		msg_free_net_library(&net->library);
		if (msg_recv_net_library(m, &net->library, why, sizeof(why))
		    == -1)
			break;
		handshake_broadcast_library(net);
		return;
	case MSG_NET_SWARM:
		if (msg_recv_net_swarm(m, &swarm, why, sizeof(why)) == -1)
			break;
		swarm_set(net, &swarm);
		return;
	case MSG_NET_GOODBYE:
		if (msg_recv_net_goodbye(m, why, sizeof(why)) == -1)
			break;
		net_goodbye(net);
		return;
	case MSG_NET_DISCONNECT:
		if (msg_recv_net_disconnect(m, &gone, why, sizeof(why)) == -1)
			break;
		net_disconnect(net, &gone);
		return;
	}
	fatalx("bad %s from the supervisor: %s", msg_type_str(m->type),
	    why[0] != '\0' ? why : "unexpected");
}

static void
sup_lost(struct msgconn *c, const char *why)
{
	struct net	*net = c->arg;

	log_debug("supervisor link: %s", why);
	ev_break(net->loop, EVBREAK_ALL);
}

struct net *
net_new(struct ev_loop *loop, int supfd)
{
	struct net	*net;

	if ((net = calloc(1, sizeof(*net))) == NULL)
		return NULL;
	net->loop = loop;
	net->listen_fd = -1;
	TAILQ_INIT(&net->links);
	TAILQ_INIT(&net->waits);
	msgconn_init(&net->sup, loop, supfd, 0, net_dispatch_supervisor,
	    sup_lost, net);
	return net;
}

void
net_free(struct net *net)
{
	struct link	*l;

	while ((l = TAILQ_FIRST(&net->links)) != NULL) {
		if (l->state == LINK_CONNECTING)
			close(l->mc.fd);
		else
			msgconn_close(&l->mc);
		link_free(l);
	}
	connect_wait_free_all(net);
	if (net->mdns != NULL)
		mdns_stop(net->mdns);
	if (net->listen_fd != -1) {
		ev_io_stop(net->loop, &net->lio);
		close(net->listen_fd);
	}
	msgconn_close(&net->sup);
	msg_free_net_library(&net->library);
	catalog_share_free(net);
	swarm_free(net);
	free(net);
}
