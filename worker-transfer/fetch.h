/*
 * Inside the fetcher: a download (or a streamed install) and its sources.
 * Private to worker-transfer (fetch.c and stream.c).
 */
#ifndef LANSPREAD_FETCH_H
#define LANSPREAD_FETCH_H

#include <limits.h>

#include "common/addr.h"
#include "worker-transfer/fdcache.h"
#include "worker-transfer/floor.h"
#include "worker-transfer/have.h"
#include "worker-transfer/pick.h"
#include "worker-transfer/plan.h"
#include "worker-transfer/transfer.h"

#define FETCH_CONNECT_TIMEOUT	10.0
#define FRAME_HDR		sizeof(struct msg_header)

enum src_state {
	SRC_CONNECTING,
	SRC_OPENING,		/* sent the transfer hello, awaiting accept */
	SRC_LISTING,		/* asked for the file list */
	SRC_HASHING,		/* it is still hashing: ask again soon */
	SRC_LISTED,		/* has a list, waits for the others */
	SRC_IDLE,
	SRC_ASLEEP,		/* its link closed while idle: dialled again
				   when it is given work */
	SRC_HEADER,		/* asked for a chunk, reading its header */
	SRC_DATA,		/* reading the chunk's bytes */
	SRC_WAITING,		/* a stream source not tried yet, or a
				   partial one before the manifest is agreed */
	SRC_SWARMING,		/* asked a partial source what it has */
	SRC_STREAM,		/* streaming: reading an entry header */
	SRC_SDATA,		/* streaming: reading an entry's bytes */
	SRC_SSUM,		/* streaming: waiting for their CRC32 */
	SRC_DEAD,
};

struct fetch;

struct source {
	struct fetch		*f;
	int			 idx;
	char			 addr[ADDR_STRLEN];
	char			 peer_id[PEER_ID_SIZE];
	char			 ticket[XFER_TICKET_HEX];	/* it gave us */
	int			 fd;
	enum src_state		 state;
	ev_io			 rio;
	ev_io			 wio;
	ev_timer		 timer;		/* connect deadline, stall */
	ev_tstamp		 last_rx;
	struct rate_floor	 floor;		/* while it owes us bytes */
	ev_timer		 floor_timer;	/* at each window's end */
	ev_timer		 throttle;	/* the download limit's wait */
	int			 held_back;	/* by it, this floor window */
	char			*frame;		/* a frame being read */
	size_t			 framegot;
	size_t			 framecap;
	char			*wbuf;		/* a request being written */
	size_t			 wlen;
	size_t			 woff;
	struct manifest		 man;		/* its list, with hashes */
	unsigned char		 root[HASH_SIZE];
	int			 waits;		/* "still hashing" answers */
	int			 asked;		/* a request is out */
	size_t			 req_piece;	/* its first piece */
	size_t			 req_count;	/* and how many */
	size_t			 file;		/* they are of */
	uint64_t		 req_off;	/* the span asked for */
	uint64_t		 req_len;
	uint64_t		 got;		/* of the span */
	ev_tstamp		 req_at;	/* when it was asked */
	double			 rate;		/* bytes/s of its answers */
	int			 dup;		/* endgame: a piece asked twice,
						   kept in dupbuf until checked */
	unsigned char		*dupbuf;
	int			 draining;	/* what is left is not needed */
	int			 listed;	/* its manifest was read */
	struct source_have	 has;		/* partial: its pieces */
	struct hash_ctx		*hash;		/* of the piece coming in */
	int			 lost_link;	/* died of the network */
	int			 partial;	/* still downloading the game */
	int			 wake_errno;	/* why dialling it again failed */
};

struct fetch {
	TAILQ_ENTRY(fetch)	 entry;
	struct transfer		*xfer;
	char			 game_id[GAME_ID_SIZE];
	struct source		*src;
	int			 nsrc;
	char			 version[VERSION_SIZE];
	enum fetch_mode		 mode;
	struct piece_ref	*repair;	/* the pieces a repair fetches */
	size_t			 nrepair;
	struct manifest		 man;		/* the agreed one */
	unsigned char		 root[HASH_SIZE];	/* its root */
	size_t			*piece_base;	/* a file's first piece */
	unsigned char		*verified;	/* per piece */
	unsigned char		*inflight;	/* per piece: sources asked */
	uint16_t		*holders;	/* per piece: partial sources
						   that have it */
	uint16_t		*asked;		/* per piece: partial sources
						   fetching it from a complete
						   one */
	signed char		*piece_src;	/* per piece: who sent it */
	uint32_t		*chunk_of;	/* per piece */
	size_t			 npieces;
	uint64_t		 rng;		/* the picker's ties */
	ev_tstamp		 starved_since;	/* no source has what we lack */
	uint64_t		 swarm_served;	/* bytes of it we served meanwhile */
	int			 zeros_hold;	/* unverified pieces read 0 */
	uint64_t		 resumed;	/* verified by an earlier try */
	ev_tstamp		 saved_at;	/* pieces last kept */
	int			 keep;		/* keep staging: a later try */
	int			 write_failed;
	struct fdcache		 files;		/* open staging files, by index */
	int			 files_dir;	/* what they are beneath */
	unsigned char		*dirty;		/* written since last synced */
	struct chunk		*chunks;	/* what events report */
	size_t			 nchunks;
	uint64_t		 load[MSG_MAX_SOURCES];	/* bytes planned */
	size_t			 ndone;
	int			 game_fd;
	int			 staging_fd;
	int			 created_game_dir;
	uint64_t		 total;
	uint64_t		 bytes;		/* every byte fetched */
	uint64_t		 last_bytes;
	ev_tstamp		 begun;
	ev_tstamp		 last_tick;
	ev_timer		 progress;
	ev_timer		 list_timer;	/* the listing deadline */
	char			*buf;
	const char		*staging;	/* folder to remove on failure */
	/* A streamed install: entries of the source's archives. */
	int			 stream;
	uint64_t		 max_total;
	uint64_t		 entries;
	char			 epath[PATH_MAX];	/* entry */
	int			 entry_fd;
	uint64_t		 entry_size;
	uint64_t		 entry_got;
	uint32_t		 entry_crc;	/* of its bytes so far */
	uint64_t		 piece;		/* start of the current piece */
};


struct fetch *fetch_find(struct transfer *, const char *game_id);
void	fetch_free(struct fetch *);
void	fetch_done(struct fetch *);
void	fetch_fail(struct fetch *, enum xfer_end, const char *);
int	fetch_nalive(struct fetch *);
void	fetch_progress_cb(struct ev_loop *, ev_timer *, int);
void	fetch_kick(struct transfer *);
void	fetch_kick_cb(struct ev_loop *, ev_timer *, int);
void	source_drop(struct source *, const char *why, int lost_link);
int	source_connect(struct source *);
void	source_wait(struct source *);
void	source_send(struct source *, char *frame, size_t);
void	source_owes(struct source *);

/* stream.c */
size_t	download_allow(struct source *, size_t);
int	stream_entry(struct source *, struct msg *, char *, size_t);
int	stream_entry_sum(struct source *, struct msg *, char *, size_t);
void	stream_finish(struct source *, struct msg *);
void	stream_read_data(struct source *);
void	stream_next_source(struct fetch *);
int	source_addr_cmp(const void *, const void *);

#endif
