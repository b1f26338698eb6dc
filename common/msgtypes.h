/*
 * Every message between our processes and between peers, as C types.
 *
 * Each message type has a struct (shared by types of the same shape) and a
 * typed pair: msg_send_<name>() encodes the struct, counting its own fields,
 * and msg_recv_<name>() checks every field's type and bound before filling
 * the struct. Member names are the wire's keys. A member marked "optional"
 * is left out when empty and reads as empty when absent; every other one
 * must be there, and a key we do not know refuses the message.
 *
 * A descriptor member travels with SCM_RIGHTS: msg_send_*() consumes it,
 * msg_recv_*() takes it from the message (it is then the caller's).
 * Arrays and heap strings are allocated by msg_recv_*(): release them with
 * msg_free_<name>(). On a refusal nothing is left allocated and the error
 * buffer says which field was wrong.
 */
#ifndef LANSPREAD_MSGTYPES_H
#define LANSPREAD_MSGTYPES_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/gamelist.h"
#include "common/identity.h"
#include "common/install_link.h"
#include "common/layout.h"
#include "common/manifest.h"
#include "common/msg.h"

#define PEER_PROTO_VERSION	4	/* of a hello: 2 proves the peer's key,
					   3 shares signed catalogs too, 4 tells
					   its downloads (the swarm) */
#define XFER_PROTO_VERSION	5	/* of a transfer link: 2 lists manifests,
					   3 checks streamed entries, 4 shows
					   a ticket from a proven peer link, 5
					   serves partial games' pieces */
#define XFER_TICKET_LEN		16	/* random bytes */
#define XFER_TICKET_HEX		(2 * XFER_TICKET_LEN + 1)
#define MSG_MAX_FILES		65536	/* in one file list */
#define MSG_MAX_SOURCES		64	/* in one fetch */
#define MSG_MAX_PIECE_REFS	65536	/* pieces one repair asks for */
#define MSG_MAX_HAVE_BITS	(1u << 20)	/* bytes: 8 Mi pieces, 32 TiB */
#define MSG_MAX_HAVES		4096	/* piece indexes in one PEER_HAVE */
#define MSG_CATALOG_KEY_HEX	65	/* an Ed25519 public key in hex, NUL */
/* A signed catalog: 8 MiB of database and 112 bytes of signing. */
#define MSG_MAX_CATALOG		(8u * 1024 * 1024 + 112)

/* What a fetch is for. */
enum fetch_mode {
	FETCH_DOWNLOAD,		/* the game's files, into staging */
	FETCH_STREAM,		/* its extracted entries, into local/ */
	FETCH_MANIFEST,		/* only the manifest the sources agree on */
	FETCH_REPAIR,		/* the named pieces, into the game's files */
	FETCH_MODE_MAX
};

/* How a download ended when it did not finish. */
enum xfer_end {
	XFER_END_FAILED,
	XFER_END_PEERS_GONE,	/* every source went away */
	XFER_END_CANCELLED,
	XFER_END_MAX
};

/* A file of a game folder, as listed by a source. */
struct file_entry {
	char		*path;		/* relative to the game folder */
	uint64_t	 size;
};

/* A file as the supervisor saw it, for the hash cache's key. */
struct file_stat {
	char		*path;
	uint64_t	 size;
	uint64_t	 mtime_ns;
	uint64_t	 ino;
};

/* Some bytes of a game's file: a piece to repair, or a bad one found. */
struct piece_ref {
	char		*path;
	uint64_t	 offset;
	uint64_t	 length;
};

/* A peer a download may fetch from. */
struct fetch_source {
	char		 peer_id[PEER_ID_SIZE];
	char		 addr[ADDR_STRLEN];
	char		 ticket[XFER_TICKET_HEX];	/* it gave us */
	int		 partial;	/* still downloading: a swarm source */
};

/* Messages of one field. */
struct game_ref {
	char		 game_id[GAME_ID_SIZE];
};

struct error_text {
	char		 error[ERROR_SIZE];
};

struct link_fd {
	int		 fd;		/* a peer's TCP link */
	char		 peer_id[PEER_ID_SIZE];	/* who opened it, as it says */
};

struct game_pipe {
	char		 game_id[GAME_ID_SIZE];
	int		 fd;		/* a pipe carrying the stream */
};

struct game_list {
	struct game_entry *games;
	size_t		 ngames;
};

struct game_ids {
	char		(*games)[GAME_ID_SIZE];
	size_t		 ngames;
};

/* supervisor <-> net */
struct net_listen {
	char		 addr[ADDR_STRLEN];	/* IP[:PORT] to bind */
	int		 mdns;			/* announce and browse */
	int		 exchange;		/* tell and dial linked peers */
};

/* Peer exchange: the listen addresses of peers a peer is linked to. */
#define PEER_ADDRS_MAX	64
struct peer_addrs {
	char		(*addrs)[ADDR_STRLEN];
	size_t		 naddrs;
};

struct net_ready {
	char		 addr[ADDR_STRLEN];	/* as peers should dial it */
	char		 bound[ADDR_STRLEN];	/* as bound */
};

struct net_connect {
	uint64_t	 req;
	char		 addr[ADDR_STRLEN];
};

struct net_connect_done {
	uint64_t	 req;
	char		 error[ERROR_SIZE];	/* optional: the dial failed */
};

struct net_identity {
	char		 peer_id[PEER_ID_SIZE];
	char		 name[PEER_NAME_SIZE];
	char		 public_key[IDENTITY_PK_HEX];	/* peer_id's */
};

/*
 * The secret key stays with the supervisor, which signs hello proofs on
 * the net worker's request, the OpenSSH privsep way: only proofs of our
 * own id (it adds the context, the role and our id), never other bytes.
 */
struct net_sign {
	uint64_t	 req;
	int		 as_listener;	/* in an ack, else in a proof */
	char		 challenge[IDENTITY_CHALLENGE_HEX];	/* the peer's */
	char		 verifier_id[PEER_ID_SIZE];	/* the peer */
};

struct net_signed {
	uint64_t	 req;
	char		 proof[IDENTITY_SIG_HEX];	/* optional: refused */
};

struct net_peer_up {
	char		 peer_id[PEER_ID_SIZE];
	char		 name[PEER_NAME_SIZE];
	char		 addr[ADDR_STRLEN];
	char		 public_key[IDENTITY_PK_HEX];	/* proven */
	char		 xfer_ticket[XFER_TICKET_HEX];	/* opens its links */
	struct game_entry *games;
	size_t		 ngames;
};

struct net_peer_library {
	char		 peer_id[PEER_ID_SIZE];
	struct game_entry *games;
	size_t		 ngames;
};

struct net_peer_down {
	char		 peer_id[PEER_ID_SIZE];
	char		 reason[ERROR_SIZE];
};

/* A signed catalog, told by its signer's key and serial; as bytes. */
struct catalog_have {
	char		 key[MSG_CATALOG_KEY_HEX];
	uint64_t	 serial;
};

struct catalog_req {
	uint64_t	 serial;	/* the one its holder said it has */
};

struct catalog_blob {
	unsigned char	*catalog;	/* none: empty */
	size_t		 catalog_len;
};

struct net_catalog {
	char		 key[MSG_CATALOG_KEY_HEX];	/* "" with none */
	uint64_t	 serial;
	unsigned char	*catalog;
	size_t		 catalog_len;
};

struct net_catalog_fetch {
	char		 peer_id[PEER_ID_SIZE];
	uint64_t	 serial;
};

struct net_peer_catalog_have {
	char		 peer_id[PEER_ID_SIZE];
	char		 key[MSG_CATALOG_KEY_HEX];
	uint64_t	 serial;
};

struct net_peer_catalog {
	char		 peer_id[PEER_ID_SIZE];
	unsigned char	*catalog;	/* none: the peer had none to send */
	size_t		 catalog_len;
};

/* supervisor <-> transfer */
struct xfer_hello {
	char		 games_dir[PATH_MAX];
	char		 peer_id[PEER_ID_SIZE];
	int		 cleanup;	/* remove stagings left by a crash */
	char		(*catalog)[GAME_ID_SIZE];	/* games we may serve */
	size_t		 ncatalog;
};

#define MSG_MAX_TRAFFIC_HOSTS	256	/* peers a report names */

/* What went to and came from one peer since the worker started. */
struct traffic_host {
	char		 peer_id[PEER_ID_SIZE];
	uint64_t	 sent;
	uint64_t	 received;
};

/* The peers whose figures changed since the last report, and the totals. */
struct xfer_traffic {
	uint64_t	 sent;
	uint64_t	 received;
	struct traffic_host *hosts;
	size_t		 nhosts;
};

/* Bytes a second; 0: no limit. */
struct xfer_limits {
	uint64_t	 upload;
	uint64_t	 download;
	uint64_t	 upload_slots;	/* peers uploaded to at once; 0: any */
};

struct xfer_fetch {
	char		 game_id[GAME_ID_SIZE];
	char		 version[VERSION_SIZE];	/* the catalog's */
	struct fetch_source *sources;
	size_t		 nsources;
	enum fetch_mode	 mode;
	uint64_t	 max_total;	/* stream: most bytes accepted */
	struct piece_ref *pieces;	/* repair: what to fetch again */
	size_t		 npieces;
};

/* The sources a download may use now; those it lacks join it. */
struct xfer_sources {
	char		 game_id[GAME_ID_SIZE];
	struct fetch_source *sources;
	size_t		 nsources;
};

struct file_list {
	char		 game_id[GAME_ID_SIZE];
	struct file_entry *files;
	size_t		 nfiles;
};

struct xfer_begin {
	char		 game_id[GAME_ID_SIZE];
	uint64_t	 total_bytes;	/* 0 while a stream does not know */
};

struct xfer_chunk {
	char		 game_id[GAME_ID_SIZE];
	char		 path[PATH_MAX];
	uint64_t	 offset;
	uint64_t	 length;
	char		 peer_addr[ADDR_STRLEN];
};

struct progress {
	char		 game_id[GAME_ID_SIZE];
	uint64_t	 bytes;
	uint64_t	 total_bytes;
	uint64_t	 bytes_per_s;
};

struct xfer_done {
	char		 game_id[GAME_ID_SIZE];
	uint64_t	 bytes;
	uint64_t	 duration_ms;
	uint64_t	 chunks;
};

struct xfer_failed {
	char		 game_id[GAME_ID_SIZE];
	char		 error[ERROR_SIZE];
	enum xfer_end	 reason;
};

struct xfer_outbound {
	char		 game_id[GAME_ID_SIZE];
	uint64_t	 count;		/* links serving it now */
};

struct hash_job {
	char		 game_id[GAME_ID_SIZE];
	uint64_t	 piece_size;
	struct file_stat *files;
	size_t		 nfiles;
};

struct file_hashes {
	char		 game_id[GAME_ID_SIZE];
	char		 path[PATH_MAX];
	uint64_t	 size;		/* as hashed: the cache's key */
	uint64_t	 mtime_ns;
	uint64_t	 ino;
	uint64_t	 piece_size;
	unsigned char	*hashes;
	size_t		 hashes_len;
};

struct source_dropped {
	char		 game_id[GAME_ID_SIZE];
	char		 peer_addr[ADDR_STRLEN];
	char		 reason[ERROR_SIZE];
};

/* supervisor <-> install */
struct inst_hello {
	char		 games_dir[PATH_MAX];
	enum unrar_mode	 unrar;
	char		 unrar_path[PATH_MAX];	/* UNRAR_EXTERNAL's program */
	int		 cleanup;	/* remove installs left by a crash */
	uint64_t	 games_gid;	/* local/'s group; INST_NO_GROUP: none */
};

/* No games_group: installed games are the daemon's alone. */
#define INST_NO_GROUP	((uint64_t)(gid_t)-1)

struct inst_play {
	char		 game_id[GAME_ID_SIZE];
	char		 username[PLAY_FIELD_SIZE];
	char		 language[PLAY_FIELD_SIZE];
};

struct inst_done {
	char		 game_id[GAME_ID_SIZE];
	enum inst_op	 op;
};

struct inst_failed {
	char		 game_id[GAME_ID_SIZE];
	enum inst_op	 op;
	char		 error[ERROR_SIZE];
};

struct inst_played {
	char		 game_id[GAME_ID_SIZE];
	int		 account_name_written;
	int		 language_written;
	int		 persona_name_written;
};

/* supervisor <-> web */
#define WEB_TOKEN_SIZE		129	/* web_token: up to 128 characters */
#define WEB_LINE_MAX		(8u * 1024 * 1024)	/* one JSON line */

struct web_hello {
	int		 fd;			/* the listening socket */
	char		 addr[ADDR_STRLEN];	/* as bound, for the log */
	char		 token[WEB_TOKEN_SIZE];	/* optional: none on loopback */
};

/* A control request, its reply (req says which) or an event (req 0). */
struct web_line {
	uint64_t	 req;
	char		*line;		/* one JSON value, no newline */
};

/* peer <-> peer */
/*
 * peer <-> peer. The handshake: the dialler's hello carries its key and a
 * fresh challenge; the listener's ack carries its own, with its proof
 * (a signature over the dialler's challenge) and its library; the
 * dialler's proof answers the ack's challenge and carries its library.
 * So no library is taken before its sender proved its key.
 */
struct peer_hello {
	uint64_t	 proto;
	char		 peer_id[PEER_ID_SIZE];
	char		 name[PEER_NAME_SIZE];
	char		 addr[ADDR_STRLEN];
	char		 public_key[IDENTITY_PK_HEX];
	char		 challenge[IDENTITY_CHALLENGE_HEX];
};

struct peer_hello_ack {
	uint64_t	 proto;
	char		 peer_id[PEER_ID_SIZE];
	char		 name[PEER_NAME_SIZE];
	char		 addr[ADDR_STRLEN];
	char		 public_key[IDENTITY_PK_HEX];
	char		 challenge[IDENTITY_CHALLENGE_HEX];
	char		 proof[IDENTITY_SIG_HEX];
	char		 ticket[XFER_TICKET_HEX];	/* for your transfer links */
	struct game_entry *games;
	size_t		 ngames;
};

struct peer_hello_proof {
	char		 proof[IDENTITY_SIG_HEX];
	char		 ticket[XFER_TICKET_HEX];	/* for your transfer links */
	struct game_entry *games;
	size_t		 ngames;
};

/*
 * A transfer link is bound to the opener's proven peer link: it shows
 * the ticket the listener gave it there, good while that link is up.
 */
struct peer_xfer_open {
	uint64_t	 proto;
	char		 peer_id[PEER_ID_SIZE];
	char		 ticket[XFER_TICKET_HEX];
};

struct peer_chunk {
	char		 game_id[GAME_ID_SIZE];
	char		 path[PATH_MAX];
	uint64_t	 offset;
	uint64_t	 length;
};

struct peer_entry {
	char		 path[PATH_MAX];
	uint64_t	 size;
};

/* What the sender computed over an entry it checked against its header. */
struct peer_entry_sum {
	uint64_t	 crc32;
};

struct peer_stream_end {
	uint64_t	 entries;
	uint64_t	 bytes;
};

struct files_wait {
	char		 game_id[GAME_ID_SIZE];
	uint64_t	 percent;	/* of the game hashed so far */
};

/*
 * The swarm on a transfer link: the receiver names a game and the root
 * of the manifest it agreed on; a peer downloading that game with that
 * root answers with a bitfield of its verified pieces (bit i of byte
 * i / 8, lowest first, in the manifest's piece order), then sends a
 * PEER_HAVE between answers for each piece it verifies later.
 */
struct swarm_req {
	char		 game_id[GAME_ID_SIZE];
	char		 root[2 * HASH_SIZE + 1];	/* in hex */
};

struct swarm_have {
	char		 game_id[GAME_ID_SIZE];
	unsigned char	*bits;
	size_t		 bits_len;
};

/*
 * Piece indexes, each 4 bytes little-endian: verified since. With bit 31
 * set, a piece just asked of a complete source instead: the receiver
 * leaves it to the swarm rather than ask a complete source for it too.
 */
#define PIECE_ASKED	0x80000000u
struct piece_have {
	unsigned char	*pieces;
	size_t		 pieces_len;
};

/*
 * Every message with a body: its name, its struct and its type.
 * The same list documents each link (see the enum in common/msg.h).
 */
#define MSG_BODIES(X)							\
	X(net_listen,		net_listen,	MSG_NET_LISTEN)		\
	X(net_ready,		net_ready,	MSG_NET_READY)		\
	X(net_failed,		error_text,	MSG_NET_FAILED)		\
	X(net_connect,		net_connect,	MSG_NET_CONNECT)	\
	X(net_connect_done,	net_connect_done, MSG_NET_CONNECT_DONE)	\
	X(net_library,		game_list,	MSG_NET_LIBRARY)	\
	X(net_peer_up,		net_peer_up,	MSG_NET_PEER_UP)	\
	X(net_peer_library,	net_peer_library, MSG_NET_PEER_LIBRARY)	\
	X(net_peer_down,	net_peer_down,	MSG_NET_PEER_DOWN)	\
	X(net_identity,		net_identity,	MSG_NET_IDENTITY)	\
	X(net_handoff,		link_fd,	MSG_NET_HANDOFF)	\
	X(net_disconnect,	net_peer_down,	MSG_NET_DISCONNECT)	\
	X(net_catalog,		net_catalog,	MSG_NET_CATALOG)	\
	X(net_catalog_fetch,	net_catalog_fetch, MSG_NET_CATALOG_FETCH) \
	X(net_peer_catalog_have, net_peer_catalog_have,			\
	    MSG_NET_PEER_CATALOG_HAVE)					\
	X(net_peer_catalog,	net_peer_catalog, MSG_NET_PEER_CATALOG)	\
	X(net_sign,		net_sign,	MSG_NET_SIGN)		\
	X(net_signed,		net_signed,	MSG_NET_SIGNED)		\
	X(net_swarm,		game_list,	MSG_NET_SWARM)		\
	X(net_peer_swarm,	net_peer_library, MSG_NET_PEER_SWARM)	\
	X(xfer_hello,		xfer_hello,	MSG_XFER_HELLO)		\
	X(xfer_busy,		game_ids,	MSG_XFER_BUSY)		\
	X(xfer_serve,		link_fd,	MSG_XFER_SERVE)		\
	X(xfer_fetch,		xfer_fetch,	MSG_XFER_FETCH)		\
	X(xfer_cancel,		game_ref,	MSG_XFER_CANCEL)	\
	X(xfer_files,		file_list,	MSG_XFER_FILES)		\
	X(xfer_begin,		xfer_begin,	MSG_XFER_BEGIN)		\
	X(xfer_chunk,		xfer_chunk,	MSG_XFER_CHUNK)		\
	X(xfer_progress,	progress,	MSG_XFER_PROGRESS)	\
	X(xfer_done,		xfer_done,	MSG_XFER_DONE)		\
	X(xfer_failed,		xfer_failed,	MSG_XFER_FAILED)	\
	X(xfer_outbound,	xfer_outbound,	MSG_XFER_OUTBOUND)	\
	X(xfer_stream_need,	game_pipe,	MSG_XFER_STREAM_NEED)	\
	X(xfer_manifest,	manifest,	MSG_XFER_MANIFEST)	\
	X(xfer_forget,		game_ref,	MSG_XFER_FORGET)	\
	X(xfer_hash,		hash_job,	MSG_XFER_HASH)		\
	X(xfer_hashed,		file_hashes,	MSG_XFER_HASHED)	\
	X(xfer_hash_progress,	progress,	MSG_XFER_HASH_PROGRESS)	\
	X(xfer_source_dropped,	source_dropped,	MSG_XFER_SOURCE_DROPPED) \
	X(xfer_agreed,		manifest,	MSG_XFER_AGREED)	\
	X(xfer_limits,		xfer_limits,	MSG_XFER_LIMITS)	\
	X(xfer_traffic,		xfer_traffic,	MSG_XFER_TRAFFIC)	\
	X(xfer_catalog,		game_ids,	MSG_XFER_CATALOG)	\
	X(xfer_sources,		xfer_sources,	MSG_XFER_SOURCES)	\
	X(inst_hello,		inst_hello,	MSG_INST_HELLO)		\
	X(inst_install,		game_ref,	MSG_INST_INSTALL)	\
	X(inst_uninstall,	game_ref,	MSG_INST_UNINSTALL)	\
	X(inst_play,		inst_play,	MSG_INST_PLAY)		\
	X(inst_stream_out,	game_pipe,	MSG_INST_STREAM_OUT)	\
	X(inst_cleanup,		game_ref,	MSG_INST_CLEANUP)	\
	X(inst_done,		inst_done,	MSG_INST_DONE)		\
	X(inst_failed,		inst_failed,	MSG_INST_FAILED)	\
	X(inst_played,		inst_played,	MSG_INST_PLAYED)	\
	X(inst_progress,	progress,	MSG_INST_PROGRESS)	\
	X(inst_group,		game_ref,	MSG_INST_GROUP)		\
	X(web_hello,		web_hello,	MSG_WEB_HELLO)		\
	X(web_failed,		error_text,	MSG_WEB_FAILED)		\
	X(web_command,		web_line,	MSG_WEB_COMMAND)	\
	X(web_reply,		web_line,	MSG_WEB_REPLY)		\
	X(web_event,		web_line,	MSG_WEB_EVENT)		\
	X(peer_hello,		peer_hello,	MSG_PEER_HELLO)		\
	X(peer_hello_ack,	peer_hello_ack,	MSG_PEER_HELLO_ACK)	\
	X(peer_hello_proof,	peer_hello_proof, MSG_PEER_HELLO_PROOF)	\
	X(peer_library,		game_list,	MSG_PEER_LIBRARY)	\
	X(peer_xfer_open,	peer_xfer_open,	MSG_PEER_XFER_OPEN)	\
	X(peer_files_req,	game_ref,	MSG_PEER_FILES_REQ)	\
	X(peer_files,		manifest,	MSG_PEER_FILES)		\
	X(peer_chunk_req,	peer_chunk,	MSG_PEER_CHUNK_REQ)	\
	X(peer_chunk,		peer_chunk,	MSG_PEER_CHUNK)		\
	X(peer_error,		error_text,	MSG_PEER_ERROR)		\
	X(peer_stream_req,	game_ref,	MSG_PEER_STREAM_REQ)	\
	X(peer_entry,		peer_entry,	MSG_PEER_ENTRY)		\
	X(peer_stream_end,	peer_stream_end, MSG_PEER_STREAM_END)	\
	X(peer_files_wait,	files_wait,	MSG_PEER_FILES_WAIT)	\
	X(peer_addrs,		peer_addrs,	MSG_PEER_ADDRS)		\
	X(peer_entry_sum,	peer_entry_sum,	MSG_PEER_ENTRY_SUM)	\
	X(peer_catalog_have,	catalog_have,	MSG_PEER_CATALOG_HAVE)	\
	X(peer_catalog_req,	catalog_req,	MSG_PEER_CATALOG_REQ)	\
	X(peer_catalog,		catalog_blob,	MSG_PEER_CATALOG)	\
	X(peer_swarm,		game_list,	MSG_PEER_SWARM)		\
	X(peer_swarm_req,	swarm_req,	MSG_PEER_SWARM_REQ)	\
	X(peer_swarm_have,	swarm_have,	MSG_PEER_SWARM_HAVE)	\
	X(peer_have,		piece_have,	MSG_PEER_HAVE)		\
	X(peer_piece_req,	peer_chunk,	MSG_PEER_PIECE_REQ)	\
	X(peer_piece,		peer_chunk,	MSG_PEER_PIECE)

/* Messages that carry nothing but their type. */
#define MSG_EMPTIES(X)							\
	X(net_goodbye,		MSG_NET_GOODBYE)			\
	X(xfer_ready,		MSG_XFER_READY)				\
	X(inst_ready,		MSG_INST_READY)				\
	X(web_ready,		MSG_WEB_READY)				\
	X(peer_ping,		MSG_PEER_PING)				\
	X(peer_pong,		MSG_PEER_PONG)				\
	X(peer_goodbye,		MSG_PEER_GOODBYE)			\
	X(peer_xfer_accept,	MSG_PEER_XFER_ACCEPT)

#define MSG_DECLARE_BODY(name, st, type)				\
int	msg_send_##name(struct msgconn *, const struct st *);		\
int	msg_recv_##name(struct msg *, struct st *, char *, size_t);	\
int	msg_frame_##name(const struct st *, char **, size_t *);		\
void	msg_free_##name(struct st *);
#define MSG_DECLARE_EMPTY(name, type)					\
int	msg_send_##name(struct msgconn *);				\
int	msg_recv_##name(struct msg *, char *, size_t);		\
int	msg_frame_##name(char **, size_t *);
MSG_BODIES(MSG_DECLARE_BODY)
MSG_EMPTIES(MSG_DECLARE_EMPTY)
#undef MSG_DECLARE_BODY
#undef MSG_DECLARE_EMPTY

const char	*xfer_end_str(enum xfer_end);

/* For the tests: how a message type's body is laid out. */
enum msg_field_kind {
	MF_STR,		/* char[size] */
	MF_DSTR,	/* char *, at most max bytes */
	MF_U64,		/* uint64_t, at most max (0: any) */
	MF_BOOL,	/* int, 0 or 1 */
	MF_ENUM,	/* an enum, below max */
	MF_STRS,	/* char (*)[size] and a size_t count, at most max */
	MF_ARRAY,	/* a pointer to maps of elem, a size_t count */
	MF_BIN,		/* unsigned char * and a size_t length, at most max */
	MF_FD,		/* int: a descriptor beside the body */
};

struct msg_layout;

struct msg_field {
	const char		*key;
	enum msg_field_kind	 kind;
	int			 optional;
	size_t			 off;
	size_t			 size;
	size_t			 count_off;
	uint64_t		 max;
	const struct msg_layout	*elem;
};

struct msg_layout {
	const char		*name;
	const struct msg_field	*fields;
	size_t			 nfields;
	size_t			 size;	/* of the struct */
};

/* The layout of a type's body, NULL for unknown and empty types. */
const struct msg_layout	*msg_layout(uint32_t type);

#endif
