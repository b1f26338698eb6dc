/*
 * mDNS: announce _lanspread._tcp.local. and browse for it, so peers on a
 * LAN find each other without a connect command. libmdnsd keeps our
 * records (announcements, answers to queries, goodbye) and encodes and
 * decodes DNS messages; browsing is ours: we send the PTR question, read
 * the answers, resolve an instance's TXT (id=, addr=) and dial it.
 *
 * Everything on port 5353 is untrusted. A datagram is checked record by
 * record against its real length before the library parses it (its parser
 * is not told the length; mdns_packet.c), the TXT strings are ours to read
 * (the library's txt2sd reads past the end of the rdata), and an address
 * is dialled only with a valid peer id that is not ours, at a bounded rate.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "worker-net/mdns_packet.h"
#include "worker-net/net.h"

/*
 * libmdnsd 0.12 as Debian ships it (libmdnsd.so.1): <libmdnsd/mdnsd.h>
 * includes a "config.h" that the package does not install, so the header
 * cannot be used. These are the few declarations we need, as its mdnsd.h
 * and 1035.h declare them; keep them in step with the library.
 */
#define MAX_PACKET_LEN	65535
#define MAX_NUM_LABELS	512
#define QCLASS_IN	1
#define QTYPE_A		1
#define QTYPE_PTR	12
#define QTYPE_TXT	16
#define QTYPE_AAAA	28
#define QTYPE_SRV	33

struct question {
	char			*name;
	unsigned short int	 type, class;
};

struct resource {
	char			*name;
	unsigned short int	 type, class;
	unsigned long int	 ttl;
	unsigned short int	 rdlength;
	unsigned char		*rdata;
	union {
		struct {
			struct in_addr	 ip;
			char		*name;
		} a;
		struct {
			struct in6_addr	 ip6;
			char		*name;
		} aaaa;
		struct {
			char		*name;
		} ns;
		struct {
			char		*name;
		} cname;
		struct {
			char		*name;
		} ptr;
		struct {
			unsigned short int priority, weight, port;
			char		*name;
		} srv;
	} known;
};

struct message {
	unsigned short int	 id;
	struct {
		unsigned short	 qr:1, opcode:4, aa:1, tc:1, rd:1, ra:1, z:3,
				 rcode:4;
	} header;
	unsigned short int	 qdcount, ancount, nscount, arcount;
	struct question		*qd;
	struct resource		*an, *ns, *ar;
	unsigned char		*_buf;
	char			*_labels[MAX_NUM_LABELS];
	int			 _len, _label;
	unsigned char		 _packet[MAX_PACKET_LEN];
};

typedef struct mdns_daemon mdns_daemon_t;
typedef struct mdns_record mdns_record_t;

mdns_daemon_t	*mdnsd_new(int, int);
void		 mdnsd_shutdown(mdns_daemon_t *);
void		 mdnsd_free(mdns_daemon_t *);
int		 mdnsd_in(mdns_daemon_t *, struct message *, struct in_addr,
		    unsigned short);
int		 mdnsd_out(mdns_daemon_t *, struct message *, struct in_addr *,
		    unsigned short *);
struct timeval	*mdnsd_sleep(mdns_daemon_t *);
mdns_record_t	*mdnsd_shared(mdns_daemon_t *, const char *, unsigned short,
		    unsigned long);
void		 mdnsd_set_raw(mdns_daemon_t *, mdns_record_t *, const char *,
		    unsigned short);
void		 mdnsd_set_host(mdns_daemon_t *, mdns_record_t *, const char *);
void		 mdnsd_set_ip(mdns_daemon_t *, mdns_record_t *, struct in_addr);
void		 mdnsd_set_ipv6(mdns_daemon_t *, mdns_record_t *,
		    struct in6_addr);
void		 mdnsd_set_srv(mdns_daemon_t *, mdns_record_t *, unsigned short,
		    unsigned short, unsigned short, char *);
int		 mdnsd_log_level(char *);
int		 message_parse(struct message *, unsigned char *);
void		 message_qd(struct message *, char *, unsigned short,
		    unsigned short);
void		 message_an(struct message *, char *, unsigned short,
		    unsigned short, unsigned long);
void		 message_rdata_name(struct message *, char *);
unsigned char	*message_packet(struct message *);
int		 message_packet_len(struct message *);
/* End of the libmdnsd declarations. */

#define MDNS_GROUP		"224.0.0.251"
#define MDNS_PORT		5353
#define MDNS_TTL		120	/* seconds, every record */
#define MDNS_FRAME		1400	/* largest datagram we send */
#define MDNS_MAX_IFS		16
#define MDNS_MAX_INST		128	/* instances we remember */
#define MDNS_KNOWN_ROOM	96	/* bytes a known answer may take */
#define MDNS_MAX_ASK		8	/* instances resolved per datagram */
/*
 * A continuous query backs off as RFC 6762 5.2 asks: 1 s after the
 * first, then twice as long each time up to an hour, so a hall of thirty
 * PCs is not asking all evening; an interface that comes up starts it
 * over, and new peers announce themselves anyway.
 */
#define MDNS_BROWSE_FIRST	1.0
#define MDNS_BROWSE_MAX		3600.0
#define MDNS_IF_CHECK		1.0	/* s between looks at interfaces */
#define MDNS_ASK_GAP		2.0	/* between questions on an instance */
#define MDNS_ASK_BURST		10	/* question datagrams a second */
#define MDNS_DIAL_GAP		3.0	/* between dials of an instance, */
#define MDNS_DIAL_GAP_MAX	120.0	/* doubled while it does not link */
#define MDNS_DIAL_BURST		16	/* dials a second, all instances */
#define MDNS_FORGET_AFTER	600.0	/* an instance not heard of */
/*
 * A query with the TC bit has more known answers coming: we answer it
 * only after waiting for them (RFC 6762 7.2), or a hall where every browse
 * takes two datagrams would have the peers of the second answer each one.
 */
#define MDNS_TC_WAIT		0.45
#define MDNS_MAX_HELD		64	/* such queries waiting at once */

/* An instance of our service that someone announced. */
struct mdns_inst {
	int			 used;
	int			 touched;	/* by the datagram being read */
	int			 refresh;	/* ask for its TXT again */
	char			 name[MDNS_NAME_SIZE];
	char			 id[PEER_ID_SIZE];	/* from TXT */
	char			 addr[ADDR_STRLEN];	/* from TXT */
	char			 host[256];		/* from SRV */
	int			 port;			/* from SRV */
	struct in_addr		 ip;			/* host's A */
	ev_tstamp		 seen, asked, dialled;
	ev_tstamp		 gap;		/* before the next dial */
	/* Beyond the dial burst: dialled by dialq_cb as the burst allows. */
	int			 dial_waiting;
	char			 dial_addr[ADDR_STRLEN];
	struct sockaddr_in	 dial_from;
};

struct mdns_rate {
	ev_tstamp		 window;
	int			 count;
};

/* A query with the TC bit, waiting for the rest of its known answers. */
struct mdns_held {
	unsigned char		*pkt;		/* NULL: a free slot */
	int			 ours_known;	/* a later part lists us */
	ev_tstamp		 until;
	struct sockaddr_in	 from;
	size_t			 len;
};

struct mdns {
	struct net		*net;
	mdns_daemon_t		*d;
	int			 fd;
	int			 ifs[MDNS_MAX_IFS];
	int			 nifs;
	struct in_addr		 src;		/* send from it, or any */
	ev_io			 io;
	ev_timer		 out;		/* the library's schedule */
	ev_timer		 browse;
	int			 nbrowse;
	ev_tstamp		 browse_gap;	/* till the next browse */
	ev_timer		 ifwatch;	/* interfaces that come up */
	ev_timer		 dialq;		/* dials beyond the burst */
	ev_timer		 heldq;		/* queries waiting (TC) */
	struct mdns_held	 held[MDNS_MAX_HELD];
	int			 ifs_down;	/* none was up at the last look */
	struct mdns_rate	 asks, dials;
	char			 service[sizeof(MDNS_SERVICE)];
	char			 instance[256];
	char			 host[64];
	mdns_record_t		*ptr_rec, *txt_rec;	/* re-announced */
	char			 txt[2 + 3 + PEER_ID_LEN + 5 + ADDR_STRLEN];
	size_t			 txtlen;
	struct mdns_inst	 inst[MDNS_MAX_INST];
	struct message		 rx, tx;
	unsigned char		 pkt[MAX_PACKET_LEN + 1024];
};

static void
send_packet(struct mdns *m, const unsigned char *buf, size_t len,
    struct in_addr ip, unsigned short port)
{
	struct sockaddr_in sin;
	struct ip_mreqn	 mr;
	int		 i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr = ip;
	sin.sin_port = port;
	if (!IN_MULTICAST(ntohl(ip.s_addr))) {
		if (sendto(m->fd, buf, len, 0, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1)
			log_debug("mdns: sendto: %s", strerror(errno));
		return;
	}
	for (i = 0; i < m->nifs; i++) {
		memset(&mr, 0, sizeof(mr));
		mr.imr_ifindex = m->ifs[i];
		mr.imr_address = m->src;
		if (setsockopt(m->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
		    sizeof(mr)) == -1) {
			log_debug("mdns: interface %d: %s", m->ifs[i],
			    strerror(errno));
			continue;
		}
		if (sendto(m->fd, buf, len, 0, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1)
			log_debug("mdns: sendto interface %d: %s", m->ifs[i],
			    strerror(errno));
	}
}

static void
send_group(struct mdns *m, struct message *msg)
{
	struct in_addr	 group;
	unsigned char	*buf;

	inet_pton(AF_INET, MDNS_GROUP, &group);
	buf = message_packet(msg);
	send_packet(m, buf, message_packet_len(msg), group, htons(MDNS_PORT));
}

/* Whatever the library wants sent now; then sleep as long as it says. */
static void
mdns_kick(struct mdns *m)
{
	struct timeval	*tv;
	struct in_addr	 ip;
	unsigned short	 port;
	ev_tstamp	 after;
	int		 n;

	for (n = 0; n < 64 && mdnsd_out(m->d, &m->tx, &ip, &port) > 0; n++) {
		unsigned char *buf = message_packet(&m->tx);

		send_packet(m, buf, message_packet_len(&m->tx), ip, port);
	}
	tv = mdnsd_sleep(m->d);
	after = tv->tv_sec + tv->tv_usec / 1e6;
	if (after < 0.005)
		after = 0.005;
	if (after > 60.0)
		after = 60.0;
	ev_timer_stop(m->net->loop, &m->out);
	ev_timer_set(&m->out, after, 0);
	ev_timer_start(m->net->loop, &m->out);
}

static void
out_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	mdns_kick(w->data);
}

static int
peer_linked(struct net *net, const char *id)
{
	struct link	*l;

	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP && strcmp(l->peer_id, id) == 0)
			return 1;
	return 0;
}

static struct mdns_inst *
inst_get(struct mdns *m, const char *name, int create)
{
	struct mdns_inst *in, *empty = NULL, *oldest = NULL;
	ev_tstamp	 now = ev_now(m->net->loop);
	int		 i;

	for (i = 0; i < MDNS_MAX_INST; i++) {
		in = &m->inst[i];
		if (in->used && now - in->seen > MDNS_FORGET_AFTER)
			in->used = 0;
		if (!in->used) {
			if (empty == NULL)
				empty = in;
		} else if (strcasecmp(in->name, name) == 0)
			return in;
		else if (oldest == NULL || in->seen < oldest->seen)
			oldest = in;
	}
	if (!create)
		return NULL;
	in = empty != NULL ? empty : oldest;
	memset(in, 0, sizeof(*in));
	in->used = 1;
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->seen = now;
	in->asked = in->dialled = now - 3600;
	return in;
}

/* At most max events a second. */
static int
rate_ok(struct mdns *m, struct mdns_rate *r, int max)
{
	ev_tstamp	 now = ev_now(m->net->loop);

	if (now - r->window >= 1.0) {
		r->window = now;
		r->count = 0;
	}
	if (r->count >= max)
		return 0;
	r->count++;
	return 1;
}

/*
 * Adds questions about an instance to the message being built: its TXT
 * and SRV, or the address of the host its SRV names.
 */
static void
inst_ask(struct mdns *m, struct mdns_inst *in, int host, int *nq)
{
	ev_tstamp	 now = ev_now(m->net->loop);

	if (*nq >= MDNS_MAX_ASK || now - in->asked < MDNS_ASK_GAP)
		return;
	if (*nq == 0) {
		if (!rate_ok(m, &m->asks, MDNS_ASK_BURST))
			return;
		memset(&m->tx, 0, sizeof(m->tx));
	}
	in->asked = now;
	if (host)
		message_qd(&m->tx, in->host, QTYPE_A, QCLASS_IN);
	else {
		message_qd(&m->tx, in->name, QTYPE_TXT, QCLASS_IN);
		message_qd(&m->tx, in->name, QTYPE_SRV, QCLASS_IN);
	}
	(*nq)++;
}

/*
 * Dials an announced address, unless it is ours, not a peer's, already
 * linked, or dialled lately: an instance that does not link is dialled
 * less and less often. Beyond the burst a dial waits, but for a peer we
 * knew (known), dialled again as an interface comes back: those are at
 * most MDNS_MAX_INST, once an interface check.
 */
static void
inst_dial(struct mdns *m, struct mdns_inst *in, const char *addr,
    const struct sockaddr_in *from, int known)
{
	struct net	*net = m->net;
	struct sockaddr_storage ss;
	struct link	*l;
	socklen_t	 len;
	ev_tstamp	 now = ev_now(net->loop);

	if (strcmp(in->id, net->peer_id) == 0 ||
	    addr_parse(addr, -1, &ss, &len) == -1 ||
	    addr_port((struct sockaddr *)&ss) <= 0 ||
	    addr_is_any((struct sockaddr *)&ss))
		return;
	if (ss.ss_family == AF_INET) {
		in_addr_t a = ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr);

		if (IN_MULTICAST(a) || a == INADDR_BROADCAST)
			return;
	} else if (IN6_IS_ADDR_MULTICAST(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr))
		return;
	/* Only a peer on this host may send us to an address of this host. */
	if (addr_is_local((struct sockaddr *)&ss) &&
	    !addr_is_local((const struct sockaddr *)from))
		return;
	TAILQ_FOREACH(l, &net->links, entry)
		if (l->state == LINK_UP && strcmp(l->peer_id, in->id) == 0 &&
		    strcmp(l->addr, addr) == 0) {
			in->gap = 0;
			return;
		}
	if (now - in->dialled < in->gap || net->nlinks >= NET_MAX_LINKS - 8)
		return;
	if (!known && !rate_ok(m, &m->dials, MDNS_DIAL_BURST)) {
		/* Queued, not dropped: a hall answers all at once. */
		in->dial_waiting = 1;
		snprintf(in->dial_addr, sizeof(in->dial_addr), "%s", addr);
		in->dial_from = *from;
		if (!ev_is_active(&m->dialq))
			ev_timer_again(net->loop, &m->dialq);
		return;
	}
	in->dialled = now;
	in->gap = in->gap == 0 ? MDNS_DIAL_GAP : in->gap * 2;
	if (in->gap > MDNS_DIAL_GAP_MAX)
		in->gap = MDNS_DIAL_GAP_MAX;
	log_debug("mdns: peer %s announced at %s, dialling", in->id, addr);
	net_dial(net, 0, addr);
}

/* Dials what waited for the burst, as it allows; then rests. */
static void
dialq_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mdns	*m = w->data;
	struct sockaddr_in from;
	char		 addr[ADDR_STRLEN];
	int		 i, waiting = 0;

	(void)revents;
	for (i = 0; i < MDNS_MAX_INST; i++) {
		struct mdns_inst *in = &m->inst[i];

		if (!in->used || !in->dial_waiting)
			continue;
		in->dial_waiting = 0;
		/* Copies: a dial that must wait again writes them back. */
		memcpy(addr, in->dial_addr, sizeof(addr));
		from = in->dial_from;
		inst_dial(m, in, addr, &from, 0);
		waiting += in->dial_waiting;
	}
	if (waiting == 0)
		ev_timer_stop(loop, w);
}

/* We know more of an instance: dial it, or ask what is missing. */
static void
inst_resolve(struct mdns *m, struct mdns_inst *in,
    const struct sockaddr_in *from, int *nq)
{
	char	 addr[ADDR_STRLEN], ip[INET_ADDRSTRLEN];

	if (in->id[0] == '\0') {
		inst_ask(m, in, 0, nq);
		return;
	}
	if (strcmp(in->id, m->net->peer_id) == 0)
		return;
	if (in->addr[0] != '\0') {
		inst_dial(m, in, in->addr, from, 0);
		return;
	}
	/* No addr= in its TXT: its SRV port at its host's A address. */
	if (in->port == 0 || in->host[0] == '\0')
		inst_ask(m, in, 0, nq);
	else if (in->ip.s_addr == INADDR_ANY)
		inst_ask(m, in, 1, nq);
	else {
		inet_ntop(AF_INET, &in->ip, ip, sizeof(ip));
		snprintf(addr, sizeof(addr), "%s:%d", ip, in->port);
		inst_dial(m, in, addr, from, 0);
	}
}

/* What a TXT, SRV or A record says about an instance. */
static void
read_record(struct mdns *m, const struct resource *rr)
{
	struct mdns_inst *in;
	ev_tstamp	 now = ev_now(m->net->loop);
	char		 id[PEER_ID_SIZE], addr[ADDR_STRLEN];
	int		 i;

	if (strcasecmp(rr->name, m->instance) == 0)	/* our own */
		return;
	switch (rr->type) {
	case QTYPE_TXT:
		if (!instance_name_ok(rr->name) ||
		    (in = inst_get(m, rr->name, rr->ttl != 0)) == NULL)
			return;
		if (rr->ttl == 0) {	/* goodbye */
			in->used = 0;
			return;
		}
		txt_parse(rr->rdata, rr->rdata != NULL ? rr->rdlength : 0, id,
		    addr);
		if (id[0] == '\0')
			return;
		if (strcmp(in->id, id) != 0 || strcmp(in->addr, addr) != 0)
			in->gap = 0;	/* new or restarted: dial at once */
		memcpy(in->id, id, sizeof(in->id));
		memcpy(in->addr, addr, sizeof(in->addr));
		in->seen = now;
		in->touched = 1;
		return;
	case QTYPE_SRV:
		if (rr->ttl == 0 || !instance_name_ok(rr->name) ||
		    rr->known.srv.name == NULL ||
		    strlen(rr->known.srv.name) >= sizeof(in->host) ||
		    (in = inst_get(m, rr->name, 1)) == NULL)
			return;
		if (strcasecmp(in->host, rr->known.srv.name) != 0)
			in->ip.s_addr = INADDR_ANY;
		snprintf(in->host, sizeof(in->host), "%s",
		    rr->known.srv.name);
		in->port = rr->known.srv.port;
		in->seen = now;
		in->touched = 1;
		return;
	case QTYPE_A:
		if (rr->ttl == 0)
			return;
		for (i = 0; i < MDNS_MAX_INST; i++) {
			in = &m->inst[i];
			if (in->used && in->host[0] != '\0' &&
			    strcasecmp(in->host, rr->name) == 0) {
				in->ip = rr->known.a.ip;
				in->touched = 1;
			}
		}
		return;
	}
}

/* A PTR naming an instance: ask about it unless it is a linked peer. */
static void
read_ptr(struct mdns *m, const struct resource *rr)
{
	struct mdns_inst *in;

	if (strcasecmp(rr->name, MDNS_SERVICE) != 0 ||
	    rr->known.ptr.name == NULL ||
	    !instance_name_ok(rr->known.ptr.name) ||
	    strcasecmp(rr->known.ptr.name, m->instance) == 0 ||
	    (in = inst_get(m, rr->known.ptr.name, rr->ttl != 0)) == NULL)
		return;
	if (rr->ttl == 0) {		/* goodbye */
		in->used = 0;
		return;
	}
	in->seen = ev_now(m->net->loop);
	if (!in->touched && (in->id[0] == '\0' ||
	    !peer_linked(m->net, in->id)))
		in->refresh = 1;
}

/*
 * An answer: learn what it says about our service, then act on it. TXT
 * and SRV first, then A (an SRV may name its host in the same datagram),
 * then PTR (an announcement carries the TXT along).
 */
static void
read_response(struct mdns *m, const struct sockaddr_in *from)
{
	struct message	*msg = &m->rx;
	struct resource	*rr;
	int		 pass, i, n, nq = 0;

	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < msg->ancount + msg->arcount; i++) {
			rr = i < msg->ancount ? &msg->an[i] :
			    &msg->ar[i - msg->ancount];
			if (rr->name == NULL ||
			    (rr->class & 0x7fff) != QCLASS_IN)
				continue;
			if (pass == 0 && (rr->type == QTYPE_TXT ||
			    rr->type == QTYPE_SRV))
				read_record(m, rr);
			else if (pass == 1 && rr->type == QTYPE_A)
				read_record(m, rr);
			else if (pass == 2 && rr->type == QTYPE_PTR)
				read_ptr(m, rr);
		}
	for (n = 0; n < MDNS_MAX_INST; n++) {
		struct mdns_inst *in = &m->inst[n];

		if (!in->used)
			continue;
		if (in->touched)
			inst_resolve(m, in, from, &nq);
		else if (in->refresh)
			inst_ask(m, in, 0, &nq);
		in->touched = in->refresh = 0;
	}
	if (nq > 0)
		send_group(m, &m->tx);
}

static int
has_if(const int *ifs, int n, int ifindex)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (ifs[i] == ifindex)
			return 1;
	return 0;
}

/* Does this query list our instance as a known answer, fresh enough? */
static int
lists_us(const struct mdns *m, const struct message *msg)
{
	int	 i;

	for (i = 0; i < msg->ancount; i++) {
		const struct resource *rr = &msg->an[i];

		if (rr->type == QTYPE_PTR && rr->name != NULL &&
		    rr->known.ptr.name != NULL && rr->ttl >= MDNS_TTL / 2 &&
		    strcasecmp(rr->name, m->service) == 0 &&
		    strcasecmp(rr->known.ptr.name, m->instance) == 0)
			return 1;
	}
	return 0;
}

/*
 * A query in m->rx whose known answers go on in more datagrams (TC) waits
 * for them; those datagrams (known answers and no question) are read into
 * it. Returns 1 when the datagram was taken that way, 0 to answer it now.
 */
static int
hold_query(struct mdns *m, size_t n, const struct sockaddr_in *from)
{
	struct mdns_held *h, *slot = NULL;
	int		 i;

	if (m->rx.qdcount == 0) {	/* nothing asked, nothing to answer */
		if (!lists_us(m, &m->rx))
			return 1;
		for (i = 0; i < MDNS_MAX_HELD; i++) {
			h = &m->held[i];
			if (h->pkt != NULL &&
			    h->from.sin_port == from->sin_port &&
			    h->from.sin_addr.s_addr == from->sin_addr.s_addr)
				h->ours_known = 1;
		}
		return 1;
	}
	if (!m->rx.header.tc)
		return 0;
	for (i = 0; i < MDNS_MAX_HELD && slot == NULL; i++)
		if (m->held[i].pkt == NULL)
			slot = &m->held[i];
	if (slot == NULL || (slot->pkt = malloc(n)) == NULL)
		return 0;	/* too many at once: answer as we can */
	slot->ours_known = 0;
	slot->until = ev_now(m->net->loop) + MDNS_TC_WAIT;
	slot->from = *from;
	slot->len = n;
	memcpy(slot->pkt, m->pkt, n);
	if (!ev_is_active(&m->heldq)) {
		ev_timer_set(&m->heldq, MDNS_TC_WAIT, 0);
		ev_timer_start(m->net->loop, &m->heldq);
	}
	return 1;
}

/* Drops the questions for our service's PTR, which the query knows. */
static void
drop_ptr_questions(struct mdns *m, struct message *msg)
{
	int	 i, kept = 0;

	for (i = 0; i < msg->qdcount; i++)
		if (msg->qd[i].name == NULL ||
		    (msg->qd[i].type != QTYPE_PTR && msg->qd[i].type != 255) ||
		    strcasecmp(msg->qd[i].name, m->service) != 0)
			msg->qd[kept++] = msg->qd[i];
	msg->qdcount = kept;
}

/* Answers the held queries whose wait is over; then waits for the next. */
static void
heldq_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mdns	*m = w->data;
	ev_tstamp	 now = ev_now(loop), next = 0;
	int		 i, answered = 0;

	(void)revents;
	for (i = 0; i < MDNS_MAX_HELD; i++) {
		struct mdns_held *h = &m->held[i];

		if (h->pkt == NULL)
			continue;
		if (h->until > now) {
			if (next == 0 || h->until < next)
				next = h->until;
			continue;
		}
		memcpy(m->pkt, h->pkt, h->len);
		memset(m->pkt + h->len, 0, sizeof(m->pkt) - h->len);
		free(h->pkt);
		h->pkt = NULL;
		memset(&m->rx, 0, sizeof(m->rx));
		if (message_parse(&m->rx, m->pkt) != 0)
			continue;
		if (h->ours_known)
			drop_ptr_questions(m, &m->rx);
		mdnsd_in(m->d, &m->rx, h->from.sin_addr,
		    ntohs(h->from.sin_port));
		answered = 1;
	}
	if (next > 0) {
		ev_timer_set(w, next - now, 0);
		ev_timer_start(loop, w);
	}
	if (answered)
		mdns_kick(m);
}

/*
 * A datagram in m->pkt: a query goes to the library, which answers for our
 * records (or waits for the rest of its known answers); an answer is ours
 * to read. Returns 1 for a query answered now, 0 for an answer or a query
 * that waits, -1 for anything else.
 */
static int
read_packet(struct mdns *m, size_t n, const struct sockaddr_in *from)
{
	if (!dns_packet_ok(m->pkt, n))
		return -1;
	/* The parser is not told the length: zeroes after the datagram. */
	memset(m->pkt + n, 0, sizeof(m->pkt) - n);
	memset(&m->rx, 0, sizeof(m->rx));
	if (message_parse(&m->rx, m->pkt) != 0)
		return -1;
	if (m->rx.header.qr == 0) {
		if (hold_query(m, n, from))
			return 0;
		mdnsd_in(m->d, &m->rx, from->sin_addr, ntohs(from->sin_port));
		return 1;
	}
	/* Answers come from port 5353 (RFC 6762, 11). */
	if (ntohs(from->sin_port) != MDNS_PORT)
		return -1;
	read_response(m, from);
	return 0;
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mdns	*m = w->data;
	struct sockaddr_in from;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} cbuf;
	ssize_t		 n;
	int		 k, ifindex, queried = 0;

	(void)loop;
	(void)revents;
	for (k = 0; k < 32; k++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = m->pkt;
		iov.iov_len = MDNS_PKT_MAX + 1;
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		if ((n = recvmsg(m->fd, &mh, MSG_DONTWAIT)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("mdns: recvmsg: %s", strerror(errno));
			break;
		}
		if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		    mh.msg_namelen < sizeof(from) ||
		    from.sin_family != AF_INET)
			continue;
		/* Only from the interfaces we joined the group on. */
		ifindex = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == IPPROTO_IP &&
			    cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				ifindex = pi.ipi_ifindex;
			}
		if (has_if(m->ifs, m->nifs, ifindex) &&
		    read_packet(m, n, &from) == 1)
			queried = 1;
	}
	if (queried)
		mdns_kick(m);
}

static void
add_if(int *ifs, int *n, int ifindex)
{
	int	 i;

	if (ifindex <= 0 || *n == MDNS_MAX_IFS)
		return;
	for (i = 0; i < *n; i++)
		if (ifs[i] == ifindex)
			return;
	ifs[(*n)++] = ifindex;
}

static int
if_index(const char *name)
{
	char	 base[IF_NAMESIZE], *colon;
	int	 ifindex;

	if ((ifindex = if_nametoindex(name)) > 0)
		return ifindex;
	/* An address label such as eth0:1 belongs to eth0. */
	snprintf(base, sizeof(base), "%s", name);
	if ((colon = strchr(base, ':')) != NULL)
		*colon = '\0';
	return if_nametoindex(base);
}

static const char *
if_name(int ifindex, char *buf)
{
	if (if_indextoname(ifindex, buf) == NULL)
		snprintf(buf, IF_NAMESIZE, "interface %d", ifindex);
	return buf;
}

/*
 * The interfaces to talk on: the one holding our bound address (or the
 * one on its subnet), or when bound to all addresses, every multicast
 * interface that is up; loopback when nothing else fits.
 */
static int
pick_interfaces(struct mdns *m, int *ifs)
{
	const struct sockaddr *bound = (const struct sockaddr *)&m->net->bound;
	struct ifaddrs	*ifa, *i;
	struct in_addr	 want = { INADDR_ANY };
	int		 specific, n = 0, exact = 0;

	specific = bound->sa_family == AF_INET && !addr_is_any(bound);
	if (specific)
		want = ((const struct sockaddr_in *)bound)->sin_addr;
	if (getifaddrs(&ifa) == -1) {
		log_warn("mdns: getifaddrs");
		return 0;
	}
	for (i = ifa; i != NULL && !exact; i = i->ifa_next) {
		struct in_addr a, mask;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		mask.s_addr = i->ifa_netmask != NULL ?
		    ((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr :
		    INADDR_BROADCAST;
		if (!specific) {
			if ((i->ifa_flags & IFF_MULTICAST) &&
			    !(i->ifa_flags & IFF_LOOPBACK))
				add_if(ifs, &n, if_index(i->ifa_name));
		} else if (a.s_addr == want.s_addr) {
			n = 0;
			add_if(ifs, &n, if_index(i->ifa_name));
			exact = 1;
		} else if (n == 0 && mask.s_addr != INADDR_ANY &&
		    (a.s_addr & mask.s_addr) == (want.s_addr & mask.s_addr))
			add_if(ifs, &n, if_index(i->ifa_name));
	}
	freeifaddrs(ifa);
	if (n == 0 && (!specific || (ntohl(want.s_addr) >> 24) == 127))
		add_if(ifs, &n, if_nametoindex("lo"));
	return n;
}

/*
 * Joins the group on the interfaces to talk on and leaves it on those
 * gone; again now and then, for interfaces that come up after us.
 * Returns how many it joined now.
 */
static int
join_interfaces(struct mdns *m)
{
	struct ip_mreqn	 mr;
	int		 ifs[MDNS_MAX_IFS], n, i, kept = 0, joined = 0;
	char		 name[IF_NAMESIZE];

	if ((n = pick_interfaces(m, ifs)) == 0) {
		m->ifs_down = 1;	/* keep what we have, for when */
		return 0;		/* it comes back up */
	}
	memset(&mr, 0, sizeof(mr));
	inet_pton(AF_INET, MDNS_GROUP, &mr.imr_multiaddr);
	for (i = 0; i < m->nifs; i++) {
		if (has_if(ifs, n, m->ifs[i])) {
			m->ifs[kept++] = m->ifs[i];
			continue;
		}
		mr.imr_ifindex = m->ifs[i];
		setsockopt(m->fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr,
		    sizeof(mr));
		log_info("mdns: left %s on %s", MDNS_GROUP,
		    if_name(m->ifs[i], name));
	}
	m->nifs = kept;
	for (i = 0; i < n; i++) {
		if (has_if(m->ifs, m->nifs, ifs[i]))
			continue;
		mr.imr_ifindex = ifs[i];
		if (setsockopt(m->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
		    sizeof(mr)) == -1) {
			log_warn("mdns: cannot join %s on %s", MDNS_GROUP,
			    if_name(ifs[i], name));
			continue;
		}
		log_info("mdns: joined %s on %s", MDNS_GROUP,
		    if_name(ifs[i], name));
		m->ifs[m->nifs++] = ifs[i];
		joined++;
	}
	if (m->ifs_down) {
		m->ifs_down = 0;
		log_info("mdns: the interface is up again");
		joined++;
	}
	return joined;
}

static int
open_socket(struct mdns *m)
{
	struct sockaddr_in sin;
	unsigned char	 ttl = 255, loop = 1;
	int		 one = 1, zero = 0;

	if ((m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("mdns: socket");
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(MDNS_PORT);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	/* Several peers on one host share the port. */
	if (setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    setsockopt(m->fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1 ||
	    setsockopt(m->fd, IPPROTO_IP, IP_PKTINFO, &one,
	    sizeof(one)) == -1 ||
	    setsockopt(m->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
	    sizeof(ttl)) == -1 ||
	    setsockopt(m->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop,
	    sizeof(loop)) == -1) {
		log_warn("mdns: setsockopt");
		return -1;
	}
#ifdef IP_MULTICAST_ALL
	/* Only the group we join, on the interfaces we join it on. */
	setsockopt(m->fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
#else
	(void)zero;
#endif
	if (bind(m->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		log_warn("mdns: bind to port %d", MDNS_PORT);
		return -1;
	}
	join_interfaces(m);
	if (m->nifs == 0) {
		log_warnx("mdns: no interface to announce %s on",
		    m->net->addr);
		return -1;
	}
	return 0;
}

/*
 * Asks who offers our service. Instances of linked peers (and ours) go
 * along as known answers, so only peers we miss answer.
 */
static void
browse_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mdns	*m = w->data;
	int		 i;

	(void)revents;
	memset(&m->tx, 0, sizeof(m->tx));
	message_qd(&m->tx, m->service, QTYPE_PTR, QCLASS_IN);
	message_an(&m->tx, m->service, QTYPE_PTR, QCLASS_IN, MDNS_TTL);
	message_rdata_name(&m->tx, m->instance);
	/*
	 * Every linked peer goes along as a known answer, so none of them
	 * answers; a full datagram goes with the TC bit and the rest follow
	 * in more (RFC 6762 7.2).
	 */
	for (i = 0; i < MDNS_MAX_INST; i++) {
		struct mdns_inst *in = &m->inst[i];

		if (!in->used || in->id[0] == '\0' ||
		    !peer_linked(m->net, in->id))
			continue;
		if (message_packet_len(&m->tx) > MDNS_FRAME - MDNS_KNOWN_ROOM) {
			m->tx.header.tc = 1;
			send_group(m, &m->tx);
			memset(&m->tx, 0, sizeof(m->tx));
		}
		message_an(&m->tx, m->service, QTYPE_PTR, QCLASS_IN, MDNS_TTL);
		message_rdata_name(&m->tx, in->name);
	}
	send_group(m, &m->tx);
	m->nbrowse++;
	m->browse_gap = m->nbrowse == 1 ? MDNS_BROWSE_FIRST :
	    m->browse_gap * 2 > MDNS_BROWSE_MAX ? MDNS_BROWSE_MAX :
	    m->browse_gap * 2;
	ev_timer_set(w, m->browse_gap, 0);
	ev_timer_start(loop, w);
}

/* An interface came up (or back): ask again from the start. */
static void
ifwatch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mdns	*m = w->data;
	int		 i;

	(void)revents;
	if (join_interfaces(m) == 0 || m->nbrowse == 0)
		return;
	log_info("mdns: an interface came up, announcing and browsing again");
	/* Setting a record again announces it afresh (RFC 6762 8.3). */
	mdnsd_set_host(m->d, m->ptr_rec, m->instance);
	mdnsd_set_raw(m->d, m->txt_rec, m->txt, m->txtlen);
	/* What did not link while it was down may link now. */
	for (i = 0; i < MDNS_MAX_INST; i++) {
		m->inst[i].gap = 0;
		m->inst[i].dialled = ev_now(loop) - 3600;
	}
	/*
	 * The peers we knew are dialled now, not as they answer the browse
	 * (they answer over seconds, a few at a time). Only those on other
	 * hosts: an address of this host needs a sender on this host.
	 */
	for (i = 0; i < MDNS_MAX_INST; i++) {
		struct mdns_inst *in = &m->inst[i];
		struct sockaddr_storage ss;
		socklen_t	 len;

		if (in->used && in->addr[0] != '\0' &&
		    addr_parse(in->addr, -1, &ss, &len) == 0 &&
		    ss.ss_family == AF_INET &&
		    !addr_is_local((struct sockaddr *)&ss))
			inst_dial(m, in, in->addr, (struct sockaddr_in *)&ss,
			    1);
	}
	m->nbrowse = 0;
	ev_timer_stop(loop, &m->browse);
	ev_timer_set(&m->browse, 0.1, 0);
	ev_timer_start(loop, &m->browse);
	mdns_kick(m);
}

/* Our records: PTR service -> instance, SRV, TXT id= addr=, A or AAAA. */
static int
publish(struct mdns *m)
{
	struct net	*net = m->net;
	struct sockaddr_storage ss;
	mdns_record_t	*r;
	socklen_t	 len;
	char		 label[48], *txt = m->txt;
	size_t		 i, n, tl;

	if (addr_parse(net->addr, -1, &ss, &len) == -1) {
		log_warnx("mdns: cannot announce address %s", net->addr);
		return -1;
	}
	/* Instance label: our name, made DNS-safe, and a short id. */
	for (i = n = 0; net->name[i] != '\0' && n < 32; i++) {
		unsigned char c = net->name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_')
			label[n++] = c;
		else if (n > 0 && label[n - 1] != '-')
			label[n++] = '-';
	}
	while (n > 0 && label[n - 1] == '-')
		n--;
	label[n] = '\0';
	snprintf(m->instance, sizeof(m->instance), "%s-%.8s.%s",
	    n > 0 ? label : "peer", net->peer_id, MDNS_SERVICE);
	snprintf(m->host, sizeof(m->host), "lanspread-%.12s.local.",
	    net->peer_id);
	memcpy(m->service, MDNS_SERVICE, sizeof(m->service));

	tl = 0;
	txt[tl] = (char)snprintf(txt + tl + 1, sizeof(m->txt) - tl - 1,
	    "id=%s", net->peer_id);
	tl += 1 + (unsigned char)txt[tl];
	txt[tl] = (char)snprintf(txt + tl + 1, sizeof(m->txt) - tl - 1,
	    "addr=%s", net->addr);
	tl += 1 + (unsigned char)txt[tl];
	m->txtlen = tl;

	m->ptr_rec = mdnsd_shared(m->d, m->service, QTYPE_PTR, MDNS_TTL);
	mdnsd_set_host(m->d, m->ptr_rec, m->instance);
	r = mdnsd_shared(m->d, m->instance, QTYPE_SRV, MDNS_TTL);
	mdnsd_set_srv(m->d, r, 0, 0, addr_port((struct sockaddr *)&ss),
	    m->host);
	m->txt_rec = mdnsd_shared(m->d, m->instance, QTYPE_TXT, MDNS_TTL);
	mdnsd_set_raw(m->d, m->txt_rec, txt, tl);
	if (ss.ss_family == AF_INET) {
		r = mdnsd_shared(m->d, m->host, QTYPE_A, MDNS_TTL);
		mdnsd_set_ip(m->d, r, ((struct sockaddr_in *)&ss)->sin_addr);
	} else {
		r = mdnsd_shared(m->d, m->host, QTYPE_AAAA, MDNS_TTL);
		mdnsd_set_ipv6(m->d, r,
		    ((struct sockaddr_in6 *)&ss)->sin6_addr);
	}
	return 0;
}

struct mdns *
mdns_start(struct net *net)
{
	struct mdns	*m;
	char		 quiet[] = "crit";

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_warn("mdns");
		return NULL;
	}
	m->net = net;
	m->fd = -1;
	if (net->bound.ss_family == AF_INET &&
	    !addr_is_any((struct sockaddr *)&net->bound))
		m->src = ((struct sockaddr_in *)&net->bound)->sin_addr;
	if (open_socket(m) == -1)
		goto fail;
	/* The library would print to stdout and stderr; we log ourselves. */
	mdnsd_log_level(quiet);
	if ((m->d = mdnsd_new(QCLASS_IN, MDNS_FRAME)) == NULL) {
		log_warn("mdns: mdnsd_new");
		goto fail;
	}
	if (publish(m) == -1)
		goto fail;
	ev_io_init(&m->io, io_cb, m->fd, EV_READ);
	m->io.data = m;
	ev_io_start(net->loop, &m->io);
	ev_init(&m->out, out_cb);
	m->out.data = m;
	ev_timer_init(&m->browse, browse_cb, 0.1, 0);
	m->browse.data = m;
	ev_timer_start(net->loop, &m->browse);
	ev_timer_init(&m->ifwatch, ifwatch_cb, MDNS_IF_CHECK, MDNS_IF_CHECK);
	m->ifwatch.data = m;
	ev_timer_start(net->loop, &m->ifwatch);
	ev_init(&m->dialq, dialq_cb);
	m->dialq.repeat = 1.0 / MDNS_DIAL_BURST;
	m->dialq.data = m;
	ev_init(&m->heldq, heldq_cb);
	m->heldq.data = m;
	mdns_kick(m);
	log_info("mdns: announcing %s as %s on %d interface%s", net->addr,
	    m->instance, m->nifs, m->nifs == 1 ? "" : "s");
	return m;
fail:
	if (m->d != NULL)
		mdnsd_free(m->d);
	if (m->fd != -1)
		close(m->fd);
	free(m);
	return NULL;
}

/* Says goodbye (our records with TTL 0) and lets go of everything. */
void
mdns_stop(struct mdns *m)
{
	struct in_addr	 ip;
	unsigned short	 port;
	int		 n;

	if (m == NULL)
		return;
	mdnsd_shutdown(m->d);
	for (n = 0; n < 16 && mdnsd_out(m->d, &m->tx, &ip, &port) > 0; n++) {
		unsigned char *buf = message_packet(&m->tx);

		send_packet(m, buf, message_packet_len(&m->tx), ip, port);
	}
	ev_io_stop(m->net->loop, &m->io);
	ev_timer_stop(m->net->loop, &m->out);
	ev_timer_stop(m->net->loop, &m->browse);
	ev_timer_stop(m->net->loop, &m->ifwatch);
	ev_timer_stop(m->net->loop, &m->dialq);
	ev_timer_stop(m->net->loop, &m->heldq);
	for (n = 0; n < MDNS_MAX_HELD; n++)
		free(m->held[n].pkt);
	close(m->fd);
	mdnsd_free(m->d);
	free(m);
}
