/* The network worker: peer listener, handshakes, library exchange. */
#ifndef LANSPREAD_NET_H
#define LANSPREAD_NET_H

#include <sys/queue.h>

#include "common/compat.h"
#include <sys/socket.h>

#include <ev.h>

#include "common/addr.h"
#include "common/identity.h"
#include "common/msgtypes.h"

#define NET_HELLO_TIMEOUT	5.0	/* a new link must say hello by then */
#define NET_PING_INTERVAL	2.0
#define NET_DEAD_AFTER		6.0	/* silence that drops a peer */
#define NET_PROBE_WAIT		1.0	/* for a pong, when a newcomer claims
					   a link's id */
#define NET_CONNECT_TIMEOUT	10.0
#define NET_MAX_LINKS		768

/*
 * What any host on the LAN can hold of us before it has said who it is,
 * and after. A frame before the hello is small, but for the hello itself:
 * it carries the library, so it (and a library update) may be as large as
 * the biggest library; a host may keep only a few links waiting for their
 * hello, and only a few links at all. A frame larger than small is kept
 * whole until it is complete: such frames in flight on every link share
 * NET_LARGE_FRAMES_MAX bytes, so holding half-sent ones costs us little.
 * A peer that does not read what we send is dropped once a few of our
 * libraries wait for it.
 */
#define NET_PREHELLO_FRAME_MAX	(4u * 1024)
#define NET_LIBRARY_FRAME_MAX	(1024u * 1024)	/* GAMELIST_MAX games */
#define NET_LARGE_FRAMES_MAX	(16u * 1024 * 1024)	/* all links' */
/* A signed catalog we asked for (CATALOG_SIGNED_MAX and its frame). */
#define NET_CATALOG_FRAME_MAX	(8u * 1024 * 1024 + 64 * 1024)
#define NET_LINK_QUEUE_MAX	(4u * 1024 * 1024)	/* unread by a peer */
#define NET_PREHELLO_PER_HOST	8	/* inbound links awaiting a hello */
#define NET_PREHELLO_MAX	128	/* the same, from every host */
#define NET_LINKS_PER_HOST	16	/* inbound links, up or not */

enum link_state {
	LINK_CONNECTING,	/* outbound, TCP connect in progress */
	LINK_HELLO,		/* waiting for the other side's hello */
	LINK_UP,		/* peer known to the supervisor */
};

struct net;
struct mdns;

struct link {
	TAILQ_ENTRY(link)	 entry;
	struct net		*net;
	struct msgconn		 mc;
	enum link_state		 state;
	int			 outbound;
	uint64_t		 connect_req;	/* 0 or the supervisor's */
	char			 target[ADDR_STRLEN];	/* what we dialled */
	char			 peer_id[PEER_ID_SIZE];
	char			 name[PEER_NAME_SIZE];
	char			 addr[ADDR_STRLEN];	/* its listen addr */
	char			 host[ADDR_HOSTLEN];	/* inbound: from where */
	unsigned char		 pk[IDENTITY_PK_LEN];	/* its key: proven once up */
	char			 challenge[IDENTITY_CHALLENGE_HEX]; /* ours to it */
	int			 acked;		/* inbound: its proof is due */
	char			 ticket_ours[XFER_TICKET_HEX];	/* we gave it */
	char			 ticket_theirs[XFER_TICKET_HEX];	/* it gave us */
	uint64_t		 sign_req;	/* a proof the supervisor owes */
	struct peer_hello_ack	*held_ack;	/* dialler: until it is signed */
	ev_io			 cio;		/* connect completion */
	ev_timer		 timer;		/* hello/connect deadline, ping */
	ev_tstamp		 last_rx;
	ev_tstamp		 probed;	/* pinged at once, or 0 */
	int			 closed_by_peer;	/* EOF, not our drop */
	uint32_t		 large_frame;	/* its share, in flight */
	uint64_t		 proto;		/* the hello's, once up */
	int			 catalog_asked;	/* a PEER_CATALOG may come */
};

struct connect_wait;

struct net {
	struct ev_loop		*loop;
	struct msgconn		 sup;		/* link to the supervisor */
	int			 listen_fd;
	ev_io			 lio;
	char			 peer_id[PEER_ID_SIZE];
	char			 pk_hex[IDENTITY_PK_HEX];	/* peer_id's key */
	uint64_t		 sign_seq;	/* our last signing request */
	char			 name[PEER_NAME_SIZE];
	char			 addr[ADDR_STRLEN];	/* as we advertise it */
	struct sockaddr_storage	 bound;
	struct game_list	 library;	/* our games */
	int			 nlinks;
	TAILQ_HEAD(, link)	 links;
	size_t			 large_frames;	/* bytes of them in flight */
	ev_tstamp		 refused_logged;	/* once a second */
	unsigned		 refused_quiet;	/* not logged since */
	struct mdns		*mdns;		/* NULL when off */
	int			 exchange;	/* peer exchange on */
	TAILQ_HEAD(, connect_wait) waits;	/* connects that lost a race */
	struct net_catalog	 catalog;	/* signed catalog we share */
	struct game_list	 swarm;		/* our downloads, told to peers */
};

/* net.c */
struct net	*net_new(struct ev_loop *, int supfd);
void		 net_free(struct net *);
struct link	*net_link_new(struct net *, int fd, int outbound);
const char	*net_admit_inbound(const struct net *, const char *host);
void		 net_link_drop(struct link *, const char *why);
void		 net_dial(struct net *, uint64_t req, const char *addr);
void		 net_connect_done(struct net *, uint64_t req,
		    const char *error);
void		 net_link_established(struct link *);

/* connect_wait.c: connect replies when both sides dialled at once */
int		 net_linked_to(struct net *, const char *target);
void		 connect_wait_add(struct net *, uint64_t req,
		    const char *target, const char *why);
void		 connect_wait_linked(struct net *, const struct link *);
void		 connect_wait_free_all(struct net *);

/* mdns.c: announce _lanspread._tcp and dial what we find */
struct mdns	*mdns_start(struct net *);
void		 mdns_stop(struct mdns *);

/* catalog_share.c: signed catalogs, told and sent to peers (bytes only) */
void	catalog_share_set(struct net *, struct net_catalog *);
void	catalog_share_link_up(struct link *);

/* exchange.c: peers tell each other whom they are linked to */
void	exchange_link_up(struct link *);
int	exchange_dispatch(struct link *, struct msg *);
void	catalog_share_fetch(struct net *, const struct net_catalog_fetch *);
int	catalog_share_dispatch(struct link *, struct msg *);
void	catalog_share_free(struct net *);

/* swarm.c: peers tell each other the games they are downloading */
void	swarm_set(struct net *, struct game_list *);
void	swarm_link_up(struct link *);
int	swarm_dispatch(struct link *, struct msg *);
void	swarm_free(struct net *);

/* handshake.c */
int	handshake_send_hello(struct link *);
int	handshake_recv_hello(struct link *, struct msg *);
int	handshake_recv_ack(struct link *, struct msg *);
int	handshake_recv_proof(struct link *, struct msg *);
void	handshake_signed(struct net *, const struct net_signed *);
void	handshake_forward_library(struct link *, struct msg *);
void	handshake_broadcast_library(struct net *);

#endif
