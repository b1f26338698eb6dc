/*
 * The transfer worker: serves game files to peers with sendfile(2), and
 * fetches games from several peers at once in 128 MiB chunks into a
 * staging folder, committing version.ini last.
 */
#ifndef LANSPREAD_TRANSFER_H
#define LANSPREAD_TRANSFER_H

#include <sys/types.h>

#include <ev.h>

#include "common/compat.h"
#include "common/msgtypes.h"
#include "common/rate.h"

#define CHUNK_SIZE		(128ULL * 1024 * 1024)
#define XFER_STALL_AFTER	15.0	/* a source silent this long is gone */
#define XFER_HASH_RETRY		1.0	/* asks a hashing source again after */
#define XFER_HASH_WAITS		1800	/* times, before giving up on it */
/*
 * Every source must have sent its whole file list this long after the
 * download began, or it is dropped; only sources still hashing the game
 * get longer, and only while none has listed it (XFER_HASH_WAITS bounds
 * them). A LAN carries the largest list (16 MiB) in a few seconds; and
 * a source that listed waits for the others on an idle link, which it
 * closes after SERVE_IDLE: the deadline comes well before.
 */
#define XFER_LIST_DEADLINE	20.0
#define XFER_PROGRESS_EVERY	0.5
#define XFER_SAVE_EVERY		2.0	/* verified pieces kept this often */
#define XFER_BUF_SIZE		(1024 * 1024)
/*
 * A source is asked for about this long of its answers at once: long
 * enough that the ask's round trip is lost in it, short enough that a
 * slow source never holds much that a faster one could fetch.
 */
#define XFER_RUN_SECONDS	1.0
#define SERVE_IDLE		30.0	/* a served link silent this long goes */
#define SERVE_MAX_LINKS		256
/*
 * Any host on the LAN may open transfer links without a hello: one host
 * gets a share of the links and of the streams (each stream is an
 * extraction process in the install worker), never all of them.
 */
#define SERVE_LINKS_PER_HOST	16
#define SERVE_MAX_STREAMS	8
#define SERVE_STREAMS_PER_HOST	2
/*
 * A stream we receive: whatever its source claims, no more entries than
 * any game has files, and no more bytes than any game is.
 */
#define STREAM_MAX_ENTRIES	(256u * 1024)
#define STREAM_MAX_TOTAL	(1ULL << 40)

/* What may be served: the catalog, minus games with an operation. */
struct serve_gates {
	char		**catalog;	/* sorted */
	size_t		  ncatalog;
	char		**busy;		/* sorted */
	size_t		  nbusy;
};

struct transfer;

/* One peer link we serve: requests in, chunk headers and bytes out. */
struct serve_conn {
	TAILQ_ENTRY(serve_conn)	 entry;
	struct transfer		*xfer;
	struct msgconn		 rd;		/* requests */
	ev_io			 wio;
	char			 game_id[GAME_ID_SIZE];	/* its last request */
	char			 host[ADDR_HOSTLEN];	/* the peer's */
	char			 peer_id[PEER_ID_SIZE];	/* as it says */
	char			*out;		/* a header or reply frame */
	size_t			 outlen;
	size_t			 outoff;
	int			 file_fd;	/* chunk being sent, or -1 */
	int			 pipe_fd;	/* stream being relayed, or -1 */
	ev_io			 pio;		/* pipe readable */
	uint64_t		 relayed;	/* stream bytes so far */
	ev_timer		 idle;
	ev_tstamp		 last_active;	/* a request in or bytes out */
	off_t			 file_off;
	uint64_t		 remaining;
	int			 closing;	/* after the reply is out */
	ev_timer		 throttle;	/* the upload limit's wait */
	int			 throttled;
	int			 uploading;	/* an answer with file bytes */
	int			 parked;	/* one waiting for its turn */
	TAILQ_ENTRY(serve_conn)	 park;
	/* A peer downloading the game too: it hears of our new pieces. */
	char			 swarm_game[GAME_ID_SIZE];
	char			 swarm_root[2 * HASH_SIZE + 1];
	unsigned char		*haves;		/* indexes not told yet */
	size_t			 haves_len;	/* bytes of them */
	size_t			 haves_cap;
};

struct fetch;
struct hash_work;

/* A manifest the supervisor handed us: what we answer a file list with. */
struct served_manifest {
	TAILQ_ENTRY(served_manifest) entry;
	struct manifest		 m;
	unsigned char		 root[HASH_SIZE];
};

/* Bytes to and from each peer (traffic.c). */
#define TRAFFIC_HOSTS	MSG_MAX_TRAFFIC_HOSTS
struct traffic_count {
	char			 peer_id[PEER_ID_SIZE];
	uint64_t		 sent, received;
	int			 changed;	/* since the last report */
};
struct traffic {
	struct traffic_count	 hosts[TRAFFIC_HOSTS];
	size_t			 n;
	uint64_t		 sent, received;
	int			 changed;
	ev_timer		 report;
};

struct transfer {
	struct ev_loop		*loop;
	struct msgconn		 sup;
	int			 games_fd;
	char			 peer_id[PEER_ID_SIZE];
	struct serve_gates	 gates;
	ev_tstamp		 serve_idle;	/* 0: SERVE_IDLE */
	struct rate_bucket	 upload;	/* every serve link's bytes */
	struct rate_bucket	 download;	/* every source's bytes */
	struct traffic		 traffic;
	TAILQ_HEAD(, serve_conn) serving;
	TAILQ_HEAD(, serve_conn) parked;	/* answers waiting, in order */
	uint64_t		 upload_slots;	/* peers at once; 0: any */
	TAILQ_HEAD(, fetch)	 fetches;	/* in the order they began */
	ev_timer		 kick;		/* see fetch_kick() */
	TAILQ_HEAD(, served_manifest) manifests;
	TAILQ_HEAD(, hash_work)	 hashing;
	ev_idle			 hash_idle;
	ev_tstamp		 hash_reported;
	unsigned char		*hash_buf;
	struct hash_ctx		*hash;
};

struct transfer	*transfer_new(struct ev_loop *, int supfd);
void		 transfer_free(struct transfer *);
void		 transfer_outbound_changed(struct transfer *, const char *);

/* serve.c */
int	serve_gate(const struct serve_gates *, int games_fd,
	    const char *game_id, char *err, size_t errsz);
int	serve_open_chunk(const struct serve_gates *, int games_fd,
	    const char *game_id, const char *path, uint64_t offset,
	    uint64_t length, char *err, size_t errsz);
void	serve_gates_set(char ***, size_t *, const char (*)[GAME_ID_SIZE],
	    size_t);
void	serve_gates_free(struct serve_gates *);
void	serve_manifest_set(struct transfer *, struct manifest *);
void	serve_manifest_forget(struct transfer *, const char *game_id);
void	serve_manifests_free(struct transfer *);
void	serve_start(struct transfer *, int fd, const char *peer_id);
const char *serve_admit_link(struct transfer *, const char *host);
const char *serve_admit_stream(struct transfer *, const char *host);
void	serve_close(struct serve_conn *);
int	serve_count(struct transfer *, const char *game_id);
void	serve_have(struct transfer *, const char *game_id, size_t piece);
void	serve_upload_next(struct transfer *);

/* traffic.c */
void	traffic_add(struct transfer *, const char *peer_id, uint64_t sent,
	    uint64_t received);
void	traffic_start(struct transfer *);
void	traffic_stop(struct transfer *);

/* hash.c: the manifest cache's hashing */
void	hash_init_worker(struct transfer *);
void	hash_free_worker(struct transfer *);
void	hash_start(struct transfer *, struct hash_job *);
void	hash_cancel(struct transfer *, const char *game_id);
int	hash_percent(struct transfer *, const char *game_id);

/* fetch.c */
int	fetch_start(struct transfer *, struct xfer_fetch *);
void	fetch_cancel(struct transfer *, const char *game_id);
void	fetch_sources(struct transfer *, const struct xfer_sources *);
void	fetch_free_all(struct transfer *);
void	fetch_cleanup_all(struct transfer *);

#endif
