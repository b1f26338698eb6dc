/*
 * Messages between our processes (socketpairs) and between peers (TCP):
 * a fixed header {type, flags, length} followed by a MessagePack map.
 * File descriptors travel with SCM_RIGHTS on socketpairs.
 */
#ifndef LANSPREAD_MSG_H
#define LANSPREAD_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/compat.h"

#include <ev.h>
#include <msgpack.h>

#define MSG_MAX_BODY	(16u * 1024 * 1024)
#define MSG_MAX_FDS	16

/*
 * One enum for every link, in ranges per link; never renumber.
 * 100s supervisor <-> net, 200s supervisor <-> transfer,
 * 300s supervisor <-> install, 400s supervisor <-> web,
 * 500s peer <-> peer over TCP.
 * What each carries is its struct in common/msgtypes.h.
 */
enum msg_type {
	MSG_NET_LISTEN = 100,		/* s->n bind the peer listener */
	MSG_NET_READY,			/* n->s listening */
	MSG_NET_FAILED,			/* n->s cannot listen */
	MSG_NET_CONNECT,		/* s->n */
	MSG_NET_CONNECT_DONE,		/* n->s */
	MSG_NET_LIBRARY,		/* s->n our snapshot */
	MSG_NET_PEER_UP,		/* n->s */
	MSG_NET_PEER_LIBRARY,		/* n->s */
	MSG_NET_PEER_DOWN,		/* n->s */
	MSG_NET_IDENTITY,		/* s->n */
	MSG_NET_GOODBYE,		/* s->n say goodbye, then exit */
	MSG_NET_HANDOFF,		/* n->s fd: a peer opened a transfer link */
	MSG_NET_DISCONNECT,		/* s->n goodbye to one peer, drop its link */
	MSG_NET_CATALOG = 140,		/* s->n the signed catalog we hold */
	MSG_NET_CATALOG_FETCH,		/* s->n ask a peer for its signed catalog */
	MSG_NET_PEER_CATALOG_HAVE,	/* n->s a peer holds this signed catalog */
	MSG_NET_PEER_CATALOG,		/* n->s a peer's signed catalog, as bytes */
	MSG_NET_SIGN,			/* n->s sign a hello proof with our key */
	MSG_NET_SIGNED,			/* s->n the proof */
	MSG_NET_SWARM = 160,		/* s->n the downloads we serve pieces of */
	MSG_NET_PEER_SWARM,		/* n->s a peer's downloads */

	MSG_XFER_HELLO = 200,		/* s->t */
	MSG_XFER_READY,			/* t->s */
	MSG_XFER_BUSY,			/* s->t with an operation */
	MSG_XFER_SERVE,			/* s->t fd: serve this peer link */
	MSG_XFER_FETCH,			/* s->t */
	MSG_XFER_CANCEL,		/* s->t */
	MSG_XFER_FILES,			/* t->s */
	MSG_XFER_BEGIN,			/* t->s */
	MSG_XFER_CHUNK,			/* t->s */
	MSG_XFER_PROGRESS,		/* t->s */
	MSG_XFER_DONE,			/* t->s */
	MSG_XFER_FAILED,		/* t->s */
	MSG_XFER_OUTBOUND,		/* t->s */
	MSG_XFER_STREAM_NEED,		/* t->s fd: a pipe to fill */
	MSG_XFER_MANIFEST,		/* s->t a game's manifest, to serve */
	MSG_XFER_FORGET,		/* s->t its manifest is stale */
	MSG_XFER_HASH,			/* s->t hash these files */
	MSG_XFER_HASHED,		/* t->s one file's piece hashes */
	MSG_XFER_HASH_PROGRESS,		/* t->s */
	MSG_XFER_SOURCE_DROPPED,	/* t->s a source left this download */
	MSG_XFER_AGREED,		/* t->s the manifest sources agree on */
	MSG_XFER_LIMITS,		/* s->t speed limits, at start and live */
	MSG_XFER_TRAFFIC,		/* t->s bytes sent and received, per host */
	MSG_XFER_CATALOG = 240,		/* s->t what may be served, on a reload */
	MSG_XFER_SOURCES,		/* s->t a download's sources, as they change */

	MSG_INST_HELLO = 300,		/* s->i */
	MSG_INST_READY,			/* i->s */
	MSG_INST_INSTALL,		/* s->i */
	MSG_INST_UNINSTALL,		/* s->i */
	MSG_INST_PLAY,			/* s->i */
	MSG_INST_STREAM_OUT,		/* s->i fd: write the stream */
	MSG_INST_CLEANUP,		/* s->i remove install staging */
	MSG_INST_DONE,			/* i->s */
	MSG_INST_FAILED,		/* i->s */
	MSG_INST_PLAYED,		/* i->s the first-play outcome */
	MSG_INST_PROGRESS,		/* i->s */
	MSG_INST_GROUP,			/* s->i games_group on streamed local/ */

	MSG_WEB_HELLO = 400,		/* s->w fd: serve HTTP on this listener */
	MSG_WEB_READY,			/* w->s serving */
	MSG_WEB_FAILED,			/* w->s cannot serve; it stays idle */
	MSG_WEB_COMMAND,		/* w->s one control request */
	MSG_WEB_REPLY,			/* s->w its reply */
	MSG_WEB_EVENT,			/* s->w one control event */

	MSG_PEER_HELLO = 500,
	MSG_PEER_HELLO_ACK,		/* the answer to a hello */
	MSG_PEER_LIBRARY,
	MSG_PEER_PING,
	MSG_PEER_PONG,
	MSG_PEER_GOODBYE,
	MSG_PEER_XFER_OPEN,		/* opens a transfer link */
	MSG_PEER_XFER_ACCEPT,
	MSG_PEER_FILES_REQ,
	MSG_PEER_FILES,
	MSG_PEER_CHUNK_REQ,
	MSG_PEER_CHUNK,			/* then length raw bytes */
	MSG_PEER_ERROR,
	MSG_PEER_STREAM_REQ,		/* stream the extracted game */
	MSG_PEER_ENTRY,			/* then size raw bytes */
	MSG_PEER_STREAM_END,
	MSG_PEER_FILES_WAIT,		/* no manifest yet: ask again later */
	MSG_PEER_ENTRY_SUM,		/* after an entry's bytes: their CRC32 */
	/* Protocol 2: signed catalogs, on the link a hello opened. */
	MSG_PEER_CATALOG_HAVE = 540,	/* the signed catalog I hold */
	MSG_PEER_CATALOG_REQ,		/* send me yours */
	MSG_PEER_CATALOG,		/* here it is (empty: I hold none) */
	MSG_PEER_HELLO_PROOF,		/* the dialler's answer to an ack */
	MSG_PEER_ADDRS,			/* peer exchange: peers I am linked to */
	/* Peer protocol 4: the swarm, on the link a hello opened. */
	MSG_PEER_SWARM = 560,		/* the games I am downloading now */
	/* Transfer protocol 5: pieces from a peer still downloading. */
	MSG_PEER_SWARM_REQ = 580,	/* your verified pieces of this root */
	MSG_PEER_SWARM_HAVE,		/* them, as a bitfield */
	MSG_PEER_HAVE,			/* more verified since: their indexes */
	MSG_PEER_PIECE_REQ,		/* verified pieces of a partial game */
	MSG_PEER_PIECE,			/* then length raw bytes */
};

const char	*msg_type_str(uint32_t);

struct msg_header {
	uint32_t	 type;
	uint32_t	 flags;
#define MSG_F_FD	 0x1		/* one descriptor travels with it */
	uint32_t	 len;
};

/* A message being built: a map of nfields key/value pairs. */
struct msgout {
	uint32_t	 type;
	msgpack_sbuffer	 sbuf;
	msgpack_packer	 pk;
};

void	msgout_start(struct msgout *, uint32_t type);
void	msgout_init(struct msgout *, uint32_t type, uint32_t nfields);
void	msgout_free(struct msgout *);
void	msgout_key(struct msgout *, const char *);
void	msgout_str(struct msgout *, const char *key, const char *val);
void	msgout_u64(struct msgout *, const char *key, uint64_t);
void	msgout_bool(struct msgout *, const char *key, int);
int	msgout_frame(struct msgout *, char **, size_t *);
void	mp_pack_str(msgpack_packer *, const char *);

/* A received message; body is a MAP object valid during the callback. */
struct msg {
	uint32_t		 type;
	int			 fd;	/* -1, or closed after the callback */
	const msgpack_object	*body;
};

int	msg_take_fd(struct msg *);

const msgpack_object	*mp_field(const msgpack_object *, const char *);
int	mp_get_str(const msgpack_object *, const char *, char *, size_t);
int	mp_get_u64(const msgpack_object *, const char *, uint64_t *);
int	mp_get_bool(const msgpack_object *, const char *, int *);
const msgpack_object	*mp_get_array(const msgpack_object *, const char *);
int	mp_str_copy(const msgpack_object *, char *, size_t);
int	msg_unpack_body(const char *, size_t, msgpack_unpacked *);

struct msgbuf {
	TAILQ_ENTRY(msgbuf)	 entry;
	size_t			 len;
	size_t			 off;
	int			 fd;
	char			 data[];
};

struct msgconn;
typedef void	(*msgconn_msg_cb)(struct msgconn *, struct msg *);
typedef void	(*msgconn_close_cb)(struct msgconn *, const char *why);
/*
 * The largest body a frame of this type may have on this link now, asked
 * when its header (announcing len) arrives, until the frame is complete.
 */
typedef size_t	(*msgconn_limit_cb)(const struct msgconn *, uint32_t type,
		    uint32_t len);

/*
 * A non-blocking framed connection on a libev loop. The owner may close
 * (and free) it from inside on_msg; on_close runs only for EOF and errors
 * found by the connection itself, after which it must not be used.
 */
struct msgconn {
	int			 fd;
	struct ev_loop		*loop;
	ev_io			 rio;
	ev_io			 wio;
	char			*rbuf;
	size_t			 rlen;
	size_t			 rcap;
	size_t			 max_body;
	msgconn_limit_cb	 body_limit;	/* NULL: max_body for all */
	int			 allow_fds;
	int			 rfds[MSG_MAX_FDS];
	int			 nrfds;
	TAILQ_HEAD(, msgbuf)	 wq;
	size_t			 wqbytes;
	size_t			 wqmax;
	int			*alivep;
	msgconn_msg_cb		 on_msg;
	msgconn_close_cb	 on_close;
	void			*arg;
};

void	msgconn_init(struct msgconn *, struct ev_loop *, int fd, int allow_fds,
	    msgconn_msg_cb, msgconn_close_cb, void *arg);
void	msgconn_close(struct msgconn *);
int	msgconn_send(struct msgconn *, struct msgout *, int fd);
int	msgconn_send_empty(struct msgconn *, uint32_t type);
int	msgconn_flush(struct msgconn *, int timeout_ms);
int	msgconn_pending(const struct msgconn *);

#endif
