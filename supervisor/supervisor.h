/* The supervisor: state, workers and the control protocol's commands. */
#ifndef LANSPREAD_SUPERVISOR_H
#define LANSPREAD_SUPERVISOR_H

#include <sys/queue.h>

#include <limits.h>

#include "common/compat.h"
#include <sys/types.h>

#include <ev.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common/addr.h"
#include "common/msgtypes.h"
#include "common/proc.h"
#include "supervisor/catalog.h"
#include "supervisor/catalog_sign.h"
#include "supervisor/library.h"
#include "supervisor/peerdb.h"
#include "supervisor/swarm_book.h"
#include "supervisor/tickets.h"

/* What a reload may change while peers are linked (lanspread.conf(5)). */
struct sup_live {
	char		 catalog_path[PATH_MAX];
	int		 trusts;		/* catalog_trust is set */
	unsigned char	 trust[CATALOG_KEY_SIZE];	/* its key */
	/* The file's limits: a reload applies the ones that changed. */
	uint64_t	 upload_limit;
	uint64_t	 download_limit;
	int		 upload_slots;
	int		 max_active_downloads;
};

/*
 * Reads the configuration again for a reload, into live (which holds the
 * running values); NULL when there is nothing to read again (the shim).
 */
typedef int	(*sup_reread_fn)(void *arg, struct sup_live *live, char *err,
		    size_t errsz);

struct sup_config {
	const char	*name;
	const char	*games_dir;
	const char	*state_dir;
	const char	*catalog_path;
	const char	*listen;	/* IP[:PORT] */
	enum unrar_mode	 unrar;		/* how the install worker extracts */
	const char	*unrar_path;	/* UNRAR_EXTERNAL's program */
	const char	*control_socket;	/* daemon only */
	const char	*web_listen;	/* IP[:PORT] of the web page, or NULL */
	const char	*web_token;	/* needed off loopback, else NULL */
	int		 mdns;
	int		 use_stdio;	/* the shim: control on stdin/stdout */
	const char	*peers;		/* static peers, "IP[:PORT] ..." */
	const char	*done_script;	/* run as downloads and installs end */
	uint64_t	 upload_limit;	/* bytes a second; 0: none */
	uint64_t	 download_limit;
	int		 upload_slots;	/* peers uploaded to at once; 0: any */
	int		 max_active_downloads;	/* 0: no queue */
	int		 redial;	/* dial remembered peers at start */
	int		 peer_exchange;	/* tell and dial linked peers */
	const char	*catalog_trust;	/* hex key, or NULL */
	gid_t		 games_gid;	/* installed games' group, or -1 */
	sup_reread_fn	 reread;
	void		*reread_arg;
};

/* The signed catalog of the state dir, once checked; blob NULL: none. */
struct held_catalog {
	unsigned char	*blob;
	size_t		 len;
	unsigned char	 key[CATALOG_KEY_SIZE];
	uint64_t	 serial;
};

struct catalog_sync;

struct worker {
	enum proc_id	 id;
	pid_t		 pid;
	struct msgconn	 conn;
	ev_child	 child;
	int		 up;
	int		 ready;
	int		 started_once;
	/* Restarts: at once after a worker that lived, later after each
	   quick death, and never again after too many in a row. */
	ev_tstamp	 started_at;
	ev_timer	 restart;
	int		 quick_deaths;
};

/* What a game is busy with; op_kind_names[] are the control words. */
enum op_kind {
	OP_DOWNLOADING,
	OP_INSTALLING,
	OP_STREAM_INSTALLING,
	OP_UNINSTALLING,
	OP_VERIFYING,
	OP_REPAIRING,
	OP_QUEUED,		/* a download waiting for max_active_downloads */
	OP_KIND_MAX
};

extern const char *const op_kind_names[OP_KIND_MAX];

/* How far an operation has come, as its worker last said. */
struct op_progress {
	int		 known;		/* a worker has reported */
	uint64_t	 bytes;
	uint64_t	 total_bytes;	/* 0: not known */
	uint64_t	 bytes_per_s;
	uint64_t	 expected_total;	/* a stream's, from the sources */
};

/* At most one operation per game. */
struct operation {
	TAILQ_ENTRY(operation)	 entry;
	char			 game_id[GAME_ID_SIZE];
	enum op_kind		 kind;
	int			 install_after;	/* download, then install */
	struct verify		*verify;	/* verify and repair */
	struct op_progress	 progress;
	/* swarm.c: a download's sources as last sent, and what we tell */
	int			 fetching;	/* a FETCH_DOWNLOAD was sent */
	int			 swarming;	/* its pieces may be served */
	char			 version[VERSION_SIZE];	/* it fetches */
	uint64_t		 size;
	struct fetch_source	*sources;
	size_t			 nsources;
};

struct ctl_client;
struct game_hashing;
struct verify;
struct redial;
struct traffic_book;

/* A control request answered later (connect, wait-peers). */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint64_t		 client;	/* ctl_client serial */
	json_t			*id;
	uint64_t		 req;		/* our request number */
	int			 wait_count;	/* wait-peers */
	char			 play_game[GAME_ID_SIZE];	/* play */
	ev_timer		 timer;
	struct sup		*sup;
};

struct sup {
	struct ev_loop		*loop;
	struct sup_config	 cfg;
	int			 games_fd;
	struct sup_live		 live;
	struct catalog		 catalog;
	char			 catalog_source[PATH_MAX + 64];	/* for logs */
	struct held_catalog	 held;
	int			 have_own_key;	/* we publish catalogs */
	unsigned char		 own_key[CATALOG_KEY_SIZE];
	struct catalog_sync	*sync;		/* offers and the fetch */
	struct peerdb		 peerdb;
	char			 peer_id[PEER_ID_SIZE];	/* our key's */
	struct identity		 identity;	/* our key pair: we sign */
	struct tickets		 tickets;	/* of linked peers */
	struct swarm_book	 swarm;		/* linked peers' downloads */
	struct game_list	 swarm_told;	/* ours, as told to the net worker */
	struct library		 library;
	struct worker		 workers[PROC_MAX];
	char			 listen_addr[ADDR_STRLEN];	/* reported */
	struct sockaddr_storage	 bound;				/* as bound */
	int			 ready;
	int			 stopping;
	int			 exit_code;
	uint64_t		 next_req;
	TAILQ_HEAD(, operation)	 ops;
	TAILQ_HEAD(, pending)	 pendings;
	struct redial		*redial;	/* NULL when off */
	uint64_t		 upload_limit;	/* now: the config's, or live */
	uint64_t		 download_limit;
	int			 upload_slots;	/* 0: any */
	int			 max_active_downloads;	/* 0: no queue */
	ev_timer		 queue_timer;
	/* traffic.c: bytes to and from each peer, and the rates */
	struct traffic_book	*traffic;
	size_t			 ntraffic;
	uint64_t		 traffic_sent, traffic_received;
	uint64_t		 traffic_last_sent, traffic_last_received;
	double			 upload_bps, download_bps;
	ev_tstamp		 traffic_at;	/* the last report */
	ev_signal		 sigterm, sigint, sighup;
	ev_timer		 stop_timer;
	int			 inotify_fd;
	ev_io			 inotify_io;
	ev_timer		 watch_settle;
	ev_timer		 watch_periodic;
	json_t			*outbound;	/* game id -> links served */
	json_t			*cleanups;	/* games for a new install worker */
	sqlite3			*hashdb;	/* the manifest cache */
	sqlite3_stmt		*hash_get;	/* its lookup */
	TAILQ_HEAD(, game_hashing) hashing;	/* our games' manifests */
	int			 web_fd;	/* the page's listener, or -1 */
	char			 web_addr[ADDR_STRLEN];	/* as bound */
	uint64_t		 web_events;	/* its event client, or 0 */
	int			 web_requests;	/* its requests unanswered */
};

/* catalog_live.c: the catalog in use, and reloading it */
int	sup_catalog_init(struct sup *, char *err, size_t errsz);
int	sup_reload(struct sup *, struct catalog_changes *, char *err,
	    size_t errsz);
void	sup_send_catalog_ids(struct sup *);
void	sup_share_catalog(struct sup *);
int	sup_catalog_accept(struct sup *, const unsigned char *, size_t,
	    const char *from, char *err, size_t errsz);
int	sup_catalog_publish(struct sup *, uint64_t *serial, char *err,
	    size_t errsz);
int	sup_catalog_key(struct sup *, char hex[CATALOG_KEY_HEX], char *err,
	    size_t errsz);
void	sup_catalog_free(struct sup *);

/* catalog_sync.c: newer signed catalogs, fetched from the peers */
void	catalog_sync_offer(struct sup *, const struct net_peer_catalog_have *);
void	catalog_sync_received(struct sup *, struct net_peer_catalog *);
void	catalog_sync_peer_down(struct sup *, const char *peer_id);
void	catalog_sync_kick(struct sup *);
void	catalog_sync_reset(struct sup *);
void	catalog_sync_free(struct sup *);

/* manifests.c: our games' manifests and their hash cache */
int	manifests_open(struct sup *, char *err, size_t errsz);
void	manifests_close(struct sup *);
void	manifests_refresh(struct sup *);
void	manifests_worker_restarted(struct sup *);
void	manifests_hashed(struct sup *, const struct file_hashes *);
void	manifests_progress(struct sup *, const struct progress *);
int	manifests_percent(struct sup *, const char *game_id);

/* traffic.c: bytes to and from each peer */
void	traffic_report(struct sup *, const struct xfer_traffic *);
void	traffic_worker_restarted(struct sup *);
json_t	*traffic_status(struct sup *);
void	traffic_of_peer(struct sup *, const char *peer_id, uint64_t *sent,
	    uint64_t *received);

/* done_script.c: a program run when a download or install ends */
void	done_script_set(const char *path);
void	done_script_event(const char *event, json_t *data);

/* queue.c: downloads beyond max_active_downloads wait their turn */
int	queue_full(struct sup *);
void	queue_kick(struct sup *);
json_t	*queue_json(struct sup *);
int	queue_move(struct sup *, const char *game_id, int position);

/* redial.c: remembered and static peers, dialled until linked */
void	redial_start(struct sup *);
void	redial_stop(struct sup *);

/* swarm.c: our downloads told to peers, theirs added to our sources */
void	swarm_peer_told(struct sup *, const struct net_peer_library *);
void	swarm_peer_down(struct sup *, const char *peer_id);
void	swarm_net_lost(struct sup *);
void	swarm_net_ready(struct sup *);
void	swarm_fetch_sent(struct sup *, const struct xfer_fetch *);
void	swarm_began(struct sup *, struct operation *, uint64_t total);
void	swarm_ops_changed(struct sup *);
void	swarm_op_clear(struct operation *);
void	swarm_sources_update(struct sup *);
void	swarm_free(struct sup *);

/* verify.c: verify and repair */
enum verify_mode {
	VERIFY_REPORT,		/* answer with the bad pieces */
	VERIFY_REPAIR,		/* fetch them */
	VERIFY_DOWNLOAD,	/* a download of a Ready game: fetch them, or
				   answer "already up to date" */
};
void	verify_start(struct sup *, uint64_t client, json_t *id,
	    const struct local_game *, enum verify_mode);
void	verify_agreed(struct sup *, struct manifest *);
void	verify_hashed(struct sup *, const struct file_hashes *);
void	verify_progress(struct sup *, const struct progress *);
void	verify_failed(struct sup *, struct operation *, const char *);
void	verify_free(struct verify *);

/* supervisor.c */
int	sup_init(struct sup *, const struct sup_config *, char *, size_t);
int	sup_run(struct sup *);
void	sup_stop(struct sup *, int code);
void	sup_free(struct sup *);
struct msgconn *sup_link(struct sup *, enum proc_id);
int	sup_rescan(struct sup *);
int	sup_is_self_addr(struct sup *, const char *addr);
int	sup_send_limits(struct sup *);
int	sup_set_limits(struct sup *, uint64_t up, uint64_t down, int slots,
	    int max_active);
void	sup_reload_limits(struct sup *, const struct sup_live *was,
	    const struct sup_live *now);

/* operations.c: what each game is busy with, and how it ends */
struct operation *sup_op_find(struct sup *, const char *game_id);
struct operation *sup_op_add(struct sup *, const char *game_id,
	    enum op_kind);
void	sup_op_set(struct sup *, struct operation *, enum op_kind);
void	sup_op_remove(struct sup *, struct operation *);
void	sup_op_progress(struct operation *, struct progress *);
json_t	*sup_op_json(const struct operation *);
void	sup_start_install(struct sup *, struct operation *);
void	op_fetch_unavailable(struct sup *, struct operation *);
void	ops_send_cleanups(struct sup *);
void	op_download_done(struct sup *, struct operation *,
	    const struct xfer_done *);
void	op_download_failed(struct sup *, struct operation *,
	    const struct xfer_failed *);
void	op_install_ended(struct sup *, const char *game_id, enum inst_op,
	    const char *error);
void	ops_worker_died(struct sup *, enum proc_id);

/* watch.c: live library */
int	watch_start(struct sup *);
void	watch_stop(struct sup *);

/* control.c: JSON lines on stdio or a Unix socket */
int	control_stdio_start(struct sup *);
int	control_socket_open(const char *path, uid_t, gid_t);
int	control_socket_start(struct sup *, const char *path);
void	control_stop(struct sup *);
void	control_reply(uint64_t client, json_t *id, json_t *data);
void	control_error(uint64_t client, json_t *id, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	control_event(const char *name, json_t *data);
int	control_subscribe(uint64_t client);
typedef void	(*control_sink)(void *arg, uint64_t tag, const char *line,
		    size_t len);
uint64_t control_sink_open(struct sup *, int one_shot, control_sink,
	    void *arg, uint64_t tag);
void	control_sink_request(uint64_t client, const char *req, size_t len);
void	control_sink_close(uint64_t client);

/* web.c: the web worker's listener, requests and events */
int	web_init(struct sup *, char *err, size_t errsz);
void	web_worker_hello(struct sup *);
void	web_worker_lost(struct sup *);
void	web_close(struct sup *);
void	sup_dispatch_web(struct msgconn *, struct msg *);

/* commands.c */
void	commands_dispatch(struct sup *, uint64_t client, json_t *req);
void	commands_peers_changed(struct sup *);
void	commands_client_gone(struct sup *, uint64_t client);
json_t	*commands_active_operations(struct sup *);
struct game_sources {
	int		 count;		/* peers that can serve it */
	int		 advertised;	/* peers that list it at all */
	uint64_t	 size;
};
void	commands_sources(struct sup *, const char *game_id,
	    struct game_sources *, struct xfer_fetch *);
void	commands_sources_at(struct sup *, const char *game_id,
	    const char *version, struct game_sources *, struct xfer_fetch *);
int	commands_fetch(struct sup *, const char *game_id, enum fetch_mode,
	    struct piece_ref *, size_t);

#endif
