/*
 * The supervisor: owns the catalog, the peer database, the local library
 * and the active operations; starts the three workers (and the web
 * worker when web_listen is set) and speaks to each over its socketpair;
 * serves the control protocol. One libev loop.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gamelist.h"
#include "common/log.h"
#include "common/rate.h"
#include "supervisor/keyfile.h"
#include "supervisor/supervisor.h"

#define STOP_GRACE	3.0	/* seconds workers get to exit */

static void	sup_dispatch_net(struct msgconn *, struct msg *);
static void	sup_dispatch_transfer(struct msgconn *, struct msg *);
static void	sup_dispatch_install(struct msgconn *, struct msg *);
static void	worker_lost(struct msgconn *, const char *);
static int	worker_start(struct sup *, enum proc_id);
static int	control_start(struct sup *);

static const msgconn_msg_cb worker_dispatch[PROC_MAX] = {
	[PROC_NET] = sup_dispatch_net,
	[PROC_TRANSFER] = sup_dispatch_transfer,
	[PROC_INSTALL] = sup_dispatch_install,
	[PROC_WEB] = sup_dispatch_web,
};

static int
mkdir_p(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX];
	char	*p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
sup_init(struct sup *sup, const struct sup_config *cfg, char *err,
    size_t errsz)
{
	unsigned char	 seed[IDENTITY_SEED_LEN];
	int		 i, rc;

	memset(sup, 0, sizeof(*sup));
	sup->cfg = *cfg;
	sup->upload_limit = cfg->upload_limit;
	sup->download_limit = cfg->download_limit;
	sup->upload_slots = cfg->upload_slots;
	sup->max_active_downloads = cfg->max_active_downloads;
	sup->live.upload_limit = cfg->upload_limit;
	sup->live.download_limit = cfg->download_limit;
	sup->live.upload_slots = cfg->upload_slots;
	sup->live.max_active_downloads = cfg->max_active_downloads;
	done_script_set(cfg->done_script);
	sup->games_fd = -1;
	sup->web_fd = -1;
	sup->inotify_fd = -1;
	sup->outbound = json_object();
	sup->cleanups = json_array();
	TAILQ_INIT(&sup->ops);
	TAILQ_INIT(&sup->hashing);
	TAILQ_INIT(&sup->pendings);
	for (i = 0; i < PROC_MAX; i++) {
		sup->workers[i].id = i;
		sup->workers[i].conn.fd = -1;
	}
	if (mkdir_p(cfg->state_dir, 0700) == -1) {
		snprintf(err, errsz, "state dir %s: %s", cfg->state_dir,
		    strerror(errno));
		return -1;
	}
	if ((sup->games_fd = open(cfg->games_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 && errno == ENOENT &&
	    mkdir_p(cfg->games_dir, 0755) == 0)
		sup->games_fd = open(cfg->games_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if (sup->games_fd == -1) {
		snprintf(err, errsz, "games dir %s: %s", cfg->games_dir,
		    strerror(errno));
		return -1;
	}
	if (sup_catalog_init(sup, err, errsz) == -1)
		return -1;
	if (peerdb_open(&sup->peerdb, cfg->state_dir, err, errsz) == -1)
		return -1;
	if (keyfile_load_or_create(cfg->state_dir, seed, err, errsz) == -1)
		return -1;
	rc = identity_from_seed(&sup->identity, seed);
	sodium_memzero(seed, sizeof(seed));
	if (rc == -1)
		return seterr(err, errsz, "cannot make a key pair");
	memcpy(sup->peer_id, sup->identity.peer_id, sizeof(sup->peer_id));
	if (peerdb_set_identity(&sup->peerdb, sup->peer_id) == -1)
		return seterr(err, errsz, "cannot record our peer id");
	if (library_scan(sup->games_fd, &sup->library) == -1) {
		snprintf(err, errsz, "games dir %s: %s", cfg->games_dir,
		    strerror(errno));
		return -1;
	}
	if (manifests_open(sup, err, errsz) == -1)
		return -1;
	if (web_init(sup, err, errsz) == -1)
		return -1;
	log_info("peer %s: %zu catalog games, %zu local games",
	    sup->peer_id, sup->catalog.ngames, sup->library.ngames);
	return 0;
}

/* A worker's link; while it is down, a closed one that refuses sends. */
struct msgconn *
sup_link(struct sup *sup, enum proc_id id)
{
	static struct msgconn	 down = { .fd = -1 };

	return sup->workers[id].up ? &sup->workers[id].conn : &down;
}

/* Our library as the net worker advertises it to peers. */
static void
send_library(struct sup *sup)
{
	struct game_list list;
	struct game_entry *games;
	size_t		 i, n = 0;

	if ((games = calloc(sup->library.ngames + 1, sizeof(*games))) == NULL)
		return;
	for (i = 0; i < sup->library.ngames; i++) {
		const struct local_game *lg = &sup->library.games[i];

		/* A partial download is never offered. */
		if (!lg->downloaded && !lg->installed)
			continue;
		snprintf(games[n].id, sizeof(games[n].id), "%s", lg->id);
		snprintf(games[n].version, sizeof(games[n].version), "%s",
		    lg->version);
		snprintf(games[n].availability,
		    sizeof(games[n].availability), "%s",
		    local_game_availability(lg));
		games[n].downloaded = lg->downloaded;
		games[n].installed = lg->installed;
		games[n].size = lg->size;
		n++;
	}
	list.games = games;
	list.ngames = n;
	msg_send_net_library(sup_link(sup, PROC_NET), &list);
	free(games);
}

/* Rescans the games folder; tells peers when something changed. */
int
sup_rescan(struct sup *sup)
{
	struct library	 lib;

	if (library_scan(sup->games_fd, &lib) == -1) {
		log_warn("rescan %s", sup->cfg.games_dir);
		return -1;
	}
	/* A file may change under the same version: its hashes are checked. */
	if (library_equal(&lib, &sup->library)) {
		library_free(&lib);
		manifests_refresh(sup);
		return 0;
	}
	library_free(&sup->library);
	sup->library = lib;
	log_info("library changed: %zu local games", lib.ngames);
	send_library(sup);
	manifests_refresh(sup);
	return 1;
}

/*
 * Whether addr is our own listener: the same port on the address we
 * reported, on the address we bound, or on any local address when we
 * listen on all of them.
 */
int
sup_is_self_addr(struct sup *sup, const char *addr)
{
	struct sockaddr_storage	 ss, mine;
	socklen_t		 len;

	if (addr_parse(addr, -1, &ss, &len) == -1 ||
	    addr_parse(sup->listen_addr, -1, &mine, &len) == -1)
		return 0;
	if (addr_port((struct sockaddr *)&ss) !=
	    addr_port((struct sockaddr *)&mine))
		return 0;
	if (addr_same_host((struct sockaddr *)&ss, (struct sockaddr *)&mine) ||
	    addr_same_host((struct sockaddr *)&ss,
	    (struct sockaddr *)&sup->bound))
		return 1;
	return addr_is_any((struct sockaddr *)&sup->bound) &&
	    addr_is_local((struct sockaddr *)&ss);
}

/*
 * Control opens once every worker has started (and cleaned up after a
 * crash), so local-peer-ready is the first line and no command races a
 * worker's start-up.
 */
static void
worker_ready(struct sup *sup, enum proc_id id)
{
	int	 i;

	sup->workers[id].ready = 1;
	if (sup->ready)
		return;
	/* The web page is not needed to start: it opens after control. */
	for (i = PROC_NET; i < PROC_MAX; i++)
		if (i != PROC_WEB && !sup->workers[i].ready)
			return;
	sup->ready = 1;
	if (control_start(sup) == -1) {
		sup_stop(sup, 1);
		return;
	}
	control_event("local-peer-ready", json_pack("{s:s,s:s}",
	    "addr", sup->listen_addr, "peer_id", sup->peer_id));
	redial_start(sup);
	web_worker_hello(sup);
}

static struct sup *
conn_sup(struct msgconn *c)
{
	return c->arg;
}

/*
 * The speed limits and the upload slots, to the transfer worker (at its
 * start, and live).
 */
int
sup_send_limits(struct sup *sup)
{
	struct xfer_limits lim;

	lim.upload = sup->upload_limit;
	lim.download = sup->download_limit;
	lim.upload_slots = (uint64_t)sup->upload_slots;
	return msg_send_xfer_limits(sup_link(sup, PROC_TRANSFER), &lim);
}

/*
 * The limits now, from the limit command or a reload: the queue starts
 * what it may, the transfer worker hears the rest. -1 when it cannot.
 */
int
sup_set_limits(struct sup *sup, uint64_t up, uint64_t down, int slots,
    int max_active)
{
	if (max_active != sup->max_active_downloads) {
		sup->max_active_downloads = max_active;
		queue_kick(sup);
	}
	if (up == sup->upload_limit && down == sup->download_limit &&
	    slots == sup->upload_slots)
		return 0;
	sup->upload_limit = up;
	sup->download_limit = down;
	sup->upload_slots = slots;
	return sup_send_limits(sup);
}

/*
 * A reload: a limit whose key changed in the file takes the file's value;
 * one the file left alone keeps what the limit command may have set.
 */
void
sup_reload_limits(struct sup *sup, const struct sup_live *was,
    const struct sup_live *now)
{
	uint64_t	 up = sup->upload_limit, down = sup->download_limit;
	int		 slots = sup->upload_slots;
	int		 max_active = sup->max_active_downloads;
	char		 a[32], b[32];

	if (now->upload_limit != was->upload_limit && now->upload_limit !=
	    up) {
		rate_format(up, a, sizeof(a));
		rate_format(now->upload_limit, b, sizeof(b));
		log_info("reload: upload_limit %s -> %s", a, b);
		up = now->upload_limit;
	}
	if (now->download_limit != was->download_limit &&
	    now->download_limit != down) {
		rate_format(down, a, sizeof(a));
		rate_format(now->download_limit, b, sizeof(b));
		log_info("reload: download_limit %s -> %s", a, b);
		down = now->download_limit;
	}
	if (now->upload_slots != was->upload_slots && now->upload_slots !=
	    slots) {
		log_info("reload: upload_slots %d -> %d", slots,
		    now->upload_slots);
		slots = now->upload_slots;
	}
	if (now->max_active_downloads != was->max_active_downloads &&
	    now->max_active_downloads != max_active) {
		log_info("reload: max_active_downloads %d -> %d", max_active,
		    now->max_active_downloads);
		max_active = now->max_active_downloads;
	}
	/* A transfer worker that is down hears them when it starts again. */
	if (sup_set_limits(sup, up, down, slots, max_active) == -1)
		log_warnx("reload: the transfer worker is unavailable; it "
		    "takes the limits when it starts again");
}

/* A worker that sends what it may not is killed, and restarted. */
static void
worker_misbehaved(struct sup *sup, enum proc_id id, const struct msg *m,
    const char *why)
{
	log_warnx("%s worker sent a bad %s message (%s); restarting it",
	    proc_names[id], msg_type_str(m->type), why != NULL ? why :
	    "not expected from it");
	kill(sup->workers[id].pid, SIGKILL);
}

static int
game_in_catalog(const struct game_entry *g, void *arg)
{
	struct sup	*sup = arg;

	return catalog_find(&sup->catalog, g->id) != NULL;
}

static void
net_peer_library(struct sup *sup, const struct peer_info *pi,
    struct game_entry *games, size_t n, int up)
{
	if (strcmp(pi->peer_id, sup->peer_id) == 0)
		return;
	/* Only so many games of a peer are kept: ours to serve go first. */
	if (n > PEERDB_MAX_GAMES)
		gamelist_prefer(games, n, game_in_catalog, sup);
	if (up) {
		peerdb_upsert(&sup->peerdb, pi);
		log_info("peer %s (%s) at %s: %zu games", pi->peer_id, pi->name,
		    pi->addr, n);
	}
	peerdb_set_library(&sup->peerdb, pi->peer_id, games, n);
	commands_peers_changed(sup);
	/* A peer Ready with a game we are downloading joins at once. */
	swarm_sources_update(sup);
}

static void
net_connect_done(struct sup *sup, const struct net_connect_done *done)
{
	struct pending	*p;

	TAILQ_FOREACH(p, &sup->pendings, entry)
		if (p->req == done->req)
			break;
	if (p == NULL)
		return;
	if (done->error[0] != '\0')
		control_error(p->client, p->id, "%s", done->error);
	else
		control_reply(p->client, p->id, NULL);
	TAILQ_REMOVE(&sup->pendings, p, entry);
	json_decref(p->id);
	free(p);
}

/*
 * The net worker asks for a hello proof: we sign it with our key, which
 * never leaves this process. Only a proof of our own id is signed (the
 * context, the role and our id are ours to add); an empty answer says no.
 */
static void
net_sign(struct sup *sup, const struct net_sign *req)
{
	struct net_signed out;

	memset(&out, 0, sizeof(out));
	out.req = req->req;
	if (identity_sign_hello(&sup->identity, req->as_listener ?
	    HELLO_ROLE_LISTENER : HELLO_ROLE_DIALLER, req->challenge,
	    req->verifier_id, out.proof) == -1) {
		log_warnx("net worker asked to sign a malformed proof");
		out.proof[0] = '\0';
	}
	msg_send_net_signed(sup_link(sup, PROC_NET), &out);
}

static void
sup_dispatch_net(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = conn_sup(c);
	struct net_ready ready;
	struct error_text failed;
	struct net_connect_done done;
	struct net_peer_up up;
	struct net_peer_library lib;
	struct net_peer_catalog_have have;
	struct net_peer_catalog cat;
	struct net_peer_down down, gone;
	struct net_sign	 sign;
	struct link_fd	 link;
	struct peer_info pi;
	char		 why[ERROR_SIZE] = "";
	socklen_t	 len;

	memset(&pi, 0, sizeof(pi));
	switch (m->type) {
	case MSG_NET_READY:
		if (msg_recv_net_ready(m, &ready, why, sizeof(why)) == -1)
			break;
		if (addr_parse(ready.bound, 0, &sup->bound, &len) == -1) {
			snprintf(why, sizeof(why), "bound address");
			break;
		}
		memcpy(sup->listen_addr, ready.addr, sizeof(sup->listen_addr));
		send_library(sup);
		swarm_net_ready(sup);
		log_notice("listening on %s", sup->listen_addr);
		worker_ready(sup, PROC_NET);
		return;
	case MSG_NET_FAILED:
		if (msg_recv_net_failed(m, &failed, why, sizeof(why)) == -1)
			break;
		log_warnx("net: %s", failed.error);
		sup_stop(sup, 1);
		return;
	case MSG_NET_CONNECT_DONE:
		if (msg_recv_net_connect_done(m, &done, why, sizeof(why)) == -1)
			break;
		net_connect_done(sup, &done);
		return;
	case MSG_NET_PEER_UP:
		if (msg_recv_net_peer_up(m, &up, why, sizeof(why)) == -1)
			break;
		if (gamelist_check(up.games, up.ngames, why, sizeof(why))
		    == -1) {
			msg_free_net_peer_up(&up);
			break;
		}
		/* Derived ids make this a second lock: it keeps a remembered
		 * id to its key even if derivation ever changes. */
		if (peerdb_check_key(&sup->peerdb, up.peer_id, up.public_key,
		    why, sizeof(why)) == -1) {
			log_warnx("refused %s at %s: %s", up.peer_id, up.addr,
			    why);
			memcpy(gone.peer_id, up.peer_id, sizeof(gone.peer_id));
			snprintf(gone.reason, sizeof(gone.reason),
			    "remembered with another key");
			msg_send_net_disconnect(sup_link(sup, PROC_NET), &gone);
			msg_free_net_peer_up(&up);
			return;
		}
		if (tickets_set(&sup->tickets, up.peer_id, up.xfer_ticket) ==
		    -1)
			fatal("%s", __func__);
		memcpy(pi.peer_id, up.peer_id, sizeof(pi.peer_id));
		memcpy(pi.name, up.name, sizeof(pi.name));
		memcpy(pi.addr, up.addr, sizeof(pi.addr));
		pi.connected = 1;
		net_peer_library(sup, &pi, up.games, up.ngames, 1);
		msg_free_net_peer_up(&up);
		return;
	case MSG_NET_PEER_LIBRARY:
		if (msg_recv_net_peer_library(m, &lib, why, sizeof(why)) == -1)
			break;
		if (gamelist_check(lib.games, lib.ngames, why, sizeof(why))
		    == -1) {
			msg_free_net_peer_library(&lib);
			break;
		}
		memcpy(pi.peer_id, lib.peer_id, sizeof(pi.peer_id));
		net_peer_library(sup, &pi, lib.games, lib.ngames, 0);
		msg_free_net_peer_library(&lib);
		return;
	case MSG_NET_SIGN:
		if (msg_recv_net_sign(m, &sign, why, sizeof(why)) == -1)
			break;
		net_sign(sup, &sign);
		return;
	case MSG_NET_HANDOFF:
		if (msg_recv_net_handoff(m, &link, why, sizeof(why)) == -1)
			break;
		msg_send_xfer_serve(sup_link(sup, PROC_TRANSFER), &link);
		return;
	case MSG_NET_PEER_DOWN:
		if (msg_recv_net_peer_down(m, &down, why, sizeof(why)) == -1)
			break;
		/* Its games go with it: list-games reads connected peers. */
		peerdb_set_connected(&sup->peerdb, down.peer_id, 0);
		tickets_drop(&sup->tickets, down.peer_id);
		log_info("peer %s gone", down.peer_id);
		commands_peers_changed(sup);
		catalog_sync_peer_down(sup, down.peer_id);
		swarm_peer_down(sup, down.peer_id);
		return;
	case MSG_NET_PEER_SWARM:
		if (msg_recv_net_peer_swarm(m, &lib, why, sizeof(why)) == -1)
			break;
		if (gamelist_check_downloads(lib.games, lib.ngames, why,
		    sizeof(why)) == -1) {
			msg_free_net_peer_swarm(&lib);
			break;
		}
		swarm_peer_told(sup, &lib);
		msg_free_net_peer_swarm(&lib);
		return;
	case MSG_NET_PEER_CATALOG_HAVE:
		if (msg_recv_net_peer_catalog_have(m, &have, why,
		    sizeof(why)) == -1)
			break;
		catalog_sync_offer(sup, &have);
		return;
	case MSG_NET_PEER_CATALOG:
		if (msg_recv_net_peer_catalog(m, &cat, why, sizeof(why)) == -1)
			break;
		catalog_sync_received(sup, &cat);
		msg_free_net_peer_catalog(&cat);
		return;
	}
	worker_misbehaved(sup, PROC_NET, m, why);
}

static json_t *
file_descriptions(const struct file_list *list)
{
	json_t		*arr = json_array();
	size_t		 i;

	for (i = 0; i < list->nfiles; i++) {
		char	 rel[PATH_MAX + GAME_ID_SIZE];

		snprintf(rel, sizeof(rel), "%s/%s", list->game_id,
		    list->files[i].path);
		json_array_append_new(arr, json_pack("{s:s,s:I,s:b}",
		    "relative_path", rel, "size",
		    (json_int_t)list->files[i].size, "is_dir", 0));
	}
	return arr;
}

static void
transfer_outbound(struct sup *sup, const struct xfer_outbound *out)
{
	if (out->count == 0)
		json_object_del(sup->outbound, out->game_id);
	else
		json_object_set_new(sup->outbound, out->game_id,
		    json_integer((json_int_t)out->count));
}

/* A peer streams our game: the install worker fills the pipe. */
static void
transfer_stream_need(struct sup *sup, struct game_pipe *need)
{
	const struct local_game *g = library_find(&sup->library,
	    need->game_id);

	if (g == NULL || !g->downloaded || sup_op_find(sup, need->game_id)) {
		close(need->fd);
		return;
	}
	msg_send_inst_stream_out(sup_link(sup, PROC_INSTALL), need);
}

/* The events of a download we started; 0, or -1 when it is not ours. */
static void
transfer_event(struct sup *sup, struct msg *m, const char *game_id,
    const void *body)
{
	const struct xfer_chunk *chunk = body;
	const struct progress *p = body;
	char		 rel[PATH_MAX + GAME_ID_SIZE];
	struct operation *op;

	if ((op = sup_op_find(sup, game_id)) == NULL) {
		log_debug("transfer: %s for %s without an operation",
		    msg_type_str(m->type), game_id);
		return;
	}
	switch (m->type) {
	case MSG_XFER_FILES:
		control_event("got-game-files", json_pack("{s:s,s:o}",
		    "game_id", game_id, "file_descriptions",
		    file_descriptions(body)));
		break;
	case MSG_XFER_BEGIN: {
		struct progress	 start = { .bytes = 0 };

		/* A stream's total is the estimate from its sources. */
		memcpy(start.game_id, game_id, sizeof(start.game_id));
		start.total_bytes = ((const struct xfer_begin *)body)->
		    total_bytes;
		sup_op_progress(op, &start);
		swarm_began(sup, op, start.total_bytes);
		control_event("download-begin", json_pack("{s:s,s:I}",
		    "game_id", game_id, "total_bytes",
		    (json_int_t)start.total_bytes));
		break;
	}
	case MSG_XFER_CHUNK:
		snprintf(rel, sizeof(rel), "%s/%s", game_id, chunk->path);
		control_event("download-chunk-finished", json_pack(
		    "{s:s,s:s,s:I,s:I,s:s}", "game_id", game_id,
		    "relative_path", rel, "offset", (json_int_t)chunk->offset,
		    "length", (json_int_t)chunk->length, "peer_addr",
		    chunk->peer_addr));
		break;
	case MSG_XFER_PROGRESS: {
		struct progress	 now = *p;

		sup_op_progress(op, &now);
		control_event("download-progress", json_pack("{s:s,s:I,s:I,"
		    "s:I}", "game_id", game_id, "bytes", (json_int_t)now.bytes,
		    "total_bytes", (json_int_t)now.total_bytes, "bytes_per_s",
		    (json_int_t)now.bytes_per_s));
		break;
	}
	case MSG_XFER_DONE:
		op_download_done(sup, op, body);
		break;
	case MSG_XFER_FAILED:
		op_download_failed(sup, op, body);
		break;
	case MSG_XFER_SOURCE_DROPPED: {
		const struct source_dropped *d = body;

		control_event("download-source-dropped", json_pack(
		    "{s:s,s:s,s:s}", "game_id", game_id, "peer_addr",
		    d->peer_addr, "reason", d->reason));
		break;
	}
	}
}

static void
sup_dispatch_transfer(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = conn_sup(c);
	union {
		struct xfer_outbound	 outbound;
		struct game_pipe	 need;
		struct file_list	 files;
		struct xfer_begin	 begin;
		struct xfer_chunk	 chunk;
		struct progress		 progress;
		struct xfer_done	 done;
		struct xfer_failed	 failed;
		struct file_hashes	 hashed;
		struct source_dropped	 dropped;
		struct manifest		 agreed;
		struct xfer_traffic	 traffic;
	} u;
	struct operation *op;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_XFER_READY:
		if (msg_recv_xfer_ready(m, why, sizeof(why)) == -1)
			break;
		worker_ready(sup, PROC_TRANSFER);
		return;
	case MSG_XFER_OUTBOUND:
		if (msg_recv_xfer_outbound(m, &u.outbound, why, sizeof(why))
		    == -1)
			break;
		transfer_outbound(sup, &u.outbound);
		return;
	case MSG_XFER_STREAM_NEED:
		if (msg_recv_xfer_stream_need(m, &u.need, why, sizeof(why))
		    == -1)
			break;
		transfer_stream_need(sup, &u.need);
		return;
	case MSG_XFER_FILES:
		if (msg_recv_xfer_files(m, &u.files, why, sizeof(why)) == -1)
			break;
		transfer_event(sup, m, u.files.game_id, &u.files);
		msg_free_xfer_files(&u.files);
		return;
	case MSG_XFER_BEGIN:
		if (msg_recv_xfer_begin(m, &u.begin, why, sizeof(why)) == -1)
			break;
		transfer_event(sup, m, u.begin.game_id, &u.begin);
		return;
	case MSG_XFER_CHUNK:
		if (msg_recv_xfer_chunk(m, &u.chunk, why, sizeof(why)) == -1)
			break;
		transfer_event(sup, m, u.chunk.game_id, &u.chunk);
		return;
	case MSG_XFER_PROGRESS:
		if (msg_recv_xfer_progress(m, &u.progress, why, sizeof(why))
		    == -1)
			break;
		transfer_event(sup, m, u.progress.game_id, &u.progress);
		return;
	case MSG_XFER_DONE:
		if (msg_recv_xfer_done(m, &u.done, why, sizeof(why)) == -1)
			break;
		transfer_event(sup, m, u.done.game_id, &u.done);
		return;
	case MSG_XFER_FAILED:
		if (msg_recv_xfer_failed(m, &u.failed, why, sizeof(why)) == -1)
			break;
		transfer_event(sup, m, u.failed.game_id, &u.failed);
		return;
	case MSG_XFER_HASHED:
		if (msg_recv_xfer_hashed(m, &u.hashed, why, sizeof(why)) == -1)
			break;
		manifests_hashed(sup, &u.hashed);
		verify_hashed(sup, &u.hashed);
		msg_free_xfer_hashed(&u.hashed);
		return;
	case MSG_XFER_HASH_PROGRESS:
		if (msg_recv_xfer_hash_progress(m, &u.progress, why,
		    sizeof(why)) == -1)
			break;
		/* A verify's hashing is its progress, for status. */
		if ((op = sup_op_find(sup, u.progress.game_id)) != NULL &&
		    op->kind == OP_VERIFYING) {
			struct progress	 now = u.progress;

			sup_op_progress(op, &now);
		}
		verify_progress(sup, &u.progress);
		manifests_progress(sup, &u.progress);
		return;
	case MSG_XFER_SOURCE_DROPPED:
		if (msg_recv_xfer_source_dropped(m, &u.dropped, why,
		    sizeof(why)) == -1)
			break;
		transfer_event(sup, m, u.dropped.game_id, &u.dropped);
		return;
	case MSG_XFER_AGREED:
		if (msg_recv_xfer_agreed(m, &u.agreed, why, sizeof(why)) == -1)
			break;
		verify_agreed(sup, &u.agreed);
		msg_free_xfer_agreed(&u.agreed);
		return;
	case MSG_XFER_TRAFFIC:
		if (msg_recv_xfer_traffic(m, &u.traffic, why, sizeof(why)) ==
		    -1)
			break;
		traffic_report(sup, &u.traffic);
		msg_free_xfer_traffic(&u.traffic);
		return;
	}
	worker_misbehaved(sup, PROC_TRANSFER, m, why);
}

static int
write_play_marker(struct sup *sup, const char *game_id)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/games/%s", sup->cfg.state_dir,
	    game_id);
	if (mkdir_p(path, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/games/%s/launch_settings_applied",
	    sup->cfg.state_dir, game_id);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

static void
play_answered(struct sup *sup, const char *game_id,
    const struct inst_played *played, const char *error)
{
	struct pending	*p, *next;

	if (error == NULL && write_play_marker(sup, game_id) == -1)
		log_warn("first-play marker for %s", game_id);
	TAILQ_FOREACH_SAFE(p, &sup->pendings, entry, next) {
		if (strcmp(p->play_game, game_id) != 0)
			continue;
		if (error != NULL)
			control_error(p->client, p->id, "%s", error);
		else
			control_reply(p->client, p->id, json_pack("{s:{s:b,s:b,"
			    "s:b,s:b}}", "outcome", "already_applied", 0,
			    "account_name_written",
			    played->account_name_written, "language_written",
			    played->language_written, "persona_name_written",
			    played->persona_name_written));
		TAILQ_REMOVE(&sup->pendings, p, entry);
		json_decref(p->id);
		free(p);
		break;
	}
}

static void
install_progress(struct sup *sup, const struct progress *p)
{
	struct operation *op = sup_op_find(sup, p->game_id);
	struct progress	 now = *p;

	if (op == NULL)
		return;
	sup_op_progress(op, &now);
	control_event("install-progress", json_pack("{s:s,s:I,s:I,s:I}",
	    "game_id", now.game_id, "bytes", (json_int_t)now.bytes,
	    "total_bytes", (json_int_t)now.total_bytes, "bytes_per_s",
	    (json_int_t)now.bytes_per_s));
}

static void
sup_dispatch_install(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = conn_sup(c);
	union {
		struct inst_played	 played;
		struct progress		 progress;
		struct inst_done	 done;
		struct inst_failed	 failed;
	} u;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_INST_READY:
		if (msg_recv_inst_ready(m, why, sizeof(why)) == -1)
			break;
		worker_ready(sup, PROC_INSTALL);
		return;
	case MSG_INST_PLAYED:
		if (msg_recv_inst_played(m, &u.played, why, sizeof(why)) == -1)
			break;
		play_answered(sup, u.played.game_id, &u.played, NULL);
		return;
	case MSG_INST_PROGRESS:
		if (msg_recv_inst_progress(m, &u.progress, why, sizeof(why))
		    == -1)
			break;
		install_progress(sup, &u.progress);
		return;
	case MSG_INST_DONE:
		if (msg_recv_inst_done(m, &u.done, why, sizeof(why)) == -1)
			break;
		if (u.done.op == INST_OP_PLAY) {
			snprintf(why, sizeof(why),
			    "play answers with INST_PLAYED");
			break;
		}
		/* The worker logged it; no operation waits for it. */
		if (u.done.op == INST_OP_GROUP)
			return;
		op_install_ended(sup, u.done.game_id, u.done.op, NULL);
		return;
	case MSG_INST_FAILED:
		if (msg_recv_inst_failed(m, &u.failed, why, sizeof(why)) == -1)
			break;
		if (u.failed.op == INST_OP_PLAY)
			play_answered(sup, u.failed.game_id, NULL,
			    u.failed.error);
		else if (u.failed.op == INST_OP_GROUP)
			log_warnx("%s: local/ keeps its modes: %s",
			    u.failed.game_id, u.failed.error);
		else
			op_install_ended(sup, u.failed.game_id, u.failed.op,
			    u.failed.error);
		return;
	}
	worker_misbehaved(sup, PROC_INSTALL, m, why);
}

/* What a worker needs to know when it starts (or restarts). */
static void
worker_hello(struct sup *sup, enum proc_id id)
{
	struct msgconn	*link = sup_link(sup, id);
	struct net_identity identity;
	struct net_listen listen;
	struct xfer_hello xhello;
	struct inst_hello ihello;
	size_t		 i;

	switch (id) {
	case PROC_NET:
		memcpy(identity.peer_id, sup->peer_id,
		    sizeof(identity.peer_id));
		snprintf(identity.name, sizeof(identity.name), "%s",
		    sup->cfg.name);
		memcpy(identity.public_key, sup->identity.pk_hex,
		    sizeof(identity.public_key));
		msg_send_net_identity(link, &identity);
		/* A restarted worker keeps the address peers know. */
		snprintf(listen.addr, sizeof(listen.addr), "%s",
		    sup->ready ? sup->listen_addr : sup->cfg.listen);
		listen.mdns = sup->cfg.mdns;
		listen.exchange = sup->cfg.peer_exchange;
		msg_send_net_listen(link, &listen);
		sup_share_catalog(sup);
		break;
	case PROC_TRANSFER:
		snprintf(xhello.games_dir, sizeof(xhello.games_dir), "%s",
		    sup->cfg.games_dir);
		memcpy(xhello.peer_id, sup->peer_id, sizeof(xhello.peer_id));
		/* A restart must not touch a download it does not know. */
		xhello.cleanup = !sup->workers[id].started_once;
		sup->workers[id].started_once = 1;
		xhello.ncatalog = 0;
		if ((xhello.catalog = calloc(sup->catalog.ngames + 1,
		    sizeof(*xhello.catalog))) == NULL)
			fatal("%s", __func__);
		for (i = 0; i < sup->catalog.ngames; i++)
			snprintf(xhello.catalog[xhello.ncatalog++],
			    GAME_ID_SIZE, "%s", sup->catalog.games[i].id);
		msg_send_xfer_hello(link, &xhello);
		free(xhello.catalog);
		sup_send_limits(sup);
		traffic_worker_restarted(sup);
		manifests_worker_restarted(sup);
		break;
	case PROC_INSTALL:
		snprintf(ihello.games_dir, sizeof(ihello.games_dir), "%s",
		    sup->cfg.games_dir);
		ihello.unrar = sup->cfg.unrar;
		ihello.games_gid = sup->cfg.games_gid;
		snprintf(ihello.unrar_path, sizeof(ihello.unrar_path), "%s",
		    sup->cfg.unrar_path != NULL ? sup->cfg.unrar_path : "");
		/* Leftovers of a crash; later restarts clean per game. */
		ihello.cleanup = !sup->workers[id].started_once;
		sup->workers[id].started_once = 1;
		msg_send_inst_hello(link, &ihello);
		ops_send_cleanups(sup);
		break;
	case PROC_WEB:
		/* Before control is up, worker_ready() says hello later. */
		if (sup->ready)
			web_worker_hello(sup);
		break;
	default:
		break;
	}
}

/*
 * A worker is restarted at once after it ran RESTART_STABLE, and after its
 * first quick death too (a killed worker is back for the next command).
 * Each further quick death waits RESTART_FIRST, doubling up to RESTART_MAX,
 * and RESTART_GIVE_UP of them in a row stop the daemon: a cause that
 * outlives restarts (a games folder that vanished) must not become a fork
 * loop.
 */
#define RESTART_STABLE		10.0
#define RESTART_FIRST		0.1
#define RESTART_MAX		5.0
#define RESTART_GIVE_UP		10

static struct sup *
worker_sup(struct worker *wk)
{
	return (struct sup *)((char *)(wk - wk->id) -
	    offsetof(struct sup, workers));
}

static void
restart_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct worker	*wk = w->data;
	struct sup	*sup = worker_sup(wk);

	(void)loop;
	(void)revents;
	if (sup->stopping || wk->pid != 0)
		return;
	if (worker_start(sup, wk->id) == -1) {
		log_warn("cannot restart the %s worker", proc_names[wk->id]);
		sup_stop(sup, 1);
	}
}

static void
worker_restart(struct sup *sup, struct worker *wk)
{
	double	 delay = 0;
	int	 i;

	if (ev_now(sup->loop) - wk->started_at >= RESTART_STABLE)
		wk->quick_deaths = 0;
	else
		wk->quick_deaths++;
	if (wk->quick_deaths >= RESTART_GIVE_UP) {
		log_warnx("the %s worker died %d times in a row within %.0f s "
		    "of starting: giving up", proc_names[wk->id],
		    wk->quick_deaths, RESTART_STABLE);
		sup_stop(sup, 1);
		return;
	}
	if (wk->quick_deaths > 1) {
		delay = RESTART_FIRST;
		for (i = 2; i < wk->quick_deaths && delay < RESTART_MAX; i++)
			delay *= 2;
		if (delay > RESTART_MAX)
			delay = RESTART_MAX;
		log_warnx("restarting the %s worker in %.1f s",
		    proc_names[wk->id], delay);
	}
	ev_timer_init(&wk->restart, restart_cb, delay, 0);
	wk->restart.data = wk;
	ev_timer_start(sup->loop, &wk->restart);
}

static void
worker_exited(struct ev_loop *loop, ev_child *w, int revents)
{
	struct worker	*wk = w->data;
	struct sup	*sup = worker_sup(wk);
	int		 i, alive = 0;

	(void)revents;
	ev_child_stop(loop, w);
	msgconn_close(&wk->conn);
	wk->up = 0;
	wk->pid = 0;
	if (sup->stopping) {
		for (i = PROC_NET; i < PROC_MAX; i++)
			alive += sup->workers[i].pid != 0;
		if (alive == 0)
			ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (WIFSIGNALED(w->rstatus))
		log_errx("lost %s worker: killed by signal %d",
		    proc_names[wk->id], WTERMSIG(w->rstatus));
	else
		log_errx("lost %s worker: exit status %d",
		    proc_names[wk->id], WEXITSTATUS(w->rstatus));
	if (wk->id == PROC_NET) {
		/* Every peer link lived in that worker, and so did the
		 * links its tickets were bound to. */
		peerdb_disconnect_all(&sup->peerdb);
		tickets_free(&sup->tickets);
		commands_peers_changed(sup);
		catalog_sync_reset(sup);
		swarm_net_lost(sup);
	}
	if (wk->id == PROC_INSTALL) {
		struct pending	*p, *pnext;

		TAILQ_FOREACH_SAFE(p, &sup->pendings, entry, pnext)
			if (p->play_game[0] != '\0')
				play_answered(sup, p->play_game, NULL,
				    "the install worker died");
	}
	if (wk->id == PROC_TRANSFER)
		json_object_clear(sup->outbound);
	if (wk->id == PROC_WEB)
		web_worker_lost(sup);
	/* Whatever ran in that worker died with it. */
	ops_worker_died(sup, wk->id);
	worker_restart(sup, wk);
}

static void
worker_lost(struct msgconn *c, const char *why)
{
	struct sup	*sup = conn_sup(c);
	int		 i;

	for (i = PROC_NET; i < PROC_MAX; i++)
		if (&sup->workers[i].conn == c) {
			if (!sup->stopping)
				log_warnx("%s worker link: %s", proc_names[i],
				    why);
			sup->workers[i].up = 0;
			if (sup->workers[i].pid > 0)
				kill(sup->workers[i].pid, SIGKILL);
		}
}

static int
worker_start(struct sup *sup, enum proc_id id)
{
	struct worker	*wk = &sup->workers[id];
	char		 dir[PATH_MAX], exe[PATH_MAX + 32];
	const char	*override = getenv("LANSPREAD_LIBEXEC");
	char		*argv[3];
	int		 fd;

	if (override != NULL)
		snprintf(dir, sizeof(dir), "%s", override);
	else if (proc_exe_dir(dir, sizeof(dir)) == -1)
		return -1;
	snprintf(exe, sizeof(exe), "%s/lanspread-%s", dir, proc_names[id]);
	if (access(exe, X_OK) == -1) {
		/* Installed layout: workers in libexec. */
		snprintf(exe, sizeof(exe), "%s/../libexec/lanspread/"
		    "lanspread-%s", dir, proc_names[id]);
	}
	argv[0] = (char *)proc_titles[id];
	argv[1] = log_verbose() ? "-v" : NULL;
	argv[2] = NULL;
	if ((wk->pid = proc_start_worker(id, exe, argv, &fd)) == -1) {
		wk->pid = 0;
		return -1;
	}
	msgconn_init(&wk->conn, sup->loop, fd, 1, worker_dispatch[id],
	    worker_lost, sup);
	ev_child_init(&wk->child, worker_exited, wk->pid, 0);
	wk->child.data = wk;
	ev_child_start(sup->loop, &wk->child);
	wk->up = 1;
	wk->started_at = ev_now(sup->loop);
	log_debug("started %s worker pid %d", proc_names[id], (int)wk->pid);
	worker_hello(sup, id);
	return 0;
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct sup	*sup = w->data;

	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP) {
		struct catalog_changes ch;
		char	 err[512];

		log_info("SIGHUP: reloading, rescanning %s",
		    sup->cfg.games_dir);
		if (sup_reload(sup, &ch, err, sizeof(err)) == -1)
			log_warnx("reload: %s; the running configuration stays",
			    err);
		sup_rescan(sup);
		return;
	}
	log_notice("signal %d: shutting down", w->signum);
	sup_stop(sup, 0);
}

static void
stop_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup	*sup = w->data;
	int		 i;

	(void)revents;
	for (i = PROC_NET; i < PROC_MAX; i++)
		if (sup->workers[i].pid > 0) {
			log_warnx("%s worker did not exit; killing it",
			    proc_names[i]);
			kill(sup->workers[i].pid, SIGKILL);
		}
	ev_break(loop, EVBREAK_ALL);
}

/*
 * Graceful stop: the net worker says goodbye to every peer and exits; the
 * other workers exit on EOF. The loop ends when all are reaped.
 */
void
sup_stop(struct sup *sup, int code)
{
	int	 i;

	if (sup->stopping)
		return;
	sup->stopping = 1;
	sup->exit_code = code;
	redial_stop(sup);
	ev_timer_stop(sup->loop, &sup->queue_timer);
	control_stop(sup);
	watch_stop(sup);
	if (sup->workers[PROC_NET].up) {
		msg_send_net_goodbye(&sup->workers[PROC_NET].conn);
		msgconn_flush(&sup->workers[PROC_NET].conn, 1000);
	}
	for (i = PROC_NET; i < PROC_MAX; i++) {
		ev_timer_stop(sup->loop, &sup->workers[i].restart);
		if (i != PROC_NET)
			msgconn_close(&sup->workers[i].conn);
	}
	ev_timer_init(&sup->stop_timer, stop_timeout, STOP_GRACE, 0);
	sup->stop_timer.data = sup;
	ev_timer_start(sup->loop, &sup->stop_timer);
	for (i = PROC_NET; i < PROC_MAX; i++)
		if (sup->workers[i].pid > 0)
			return;
	ev_break(sup->loop, EVBREAK_ALL);
}

static int
control_start(struct sup *sup)
{
	if (sup->cfg.use_stdio && control_stdio_start(sup) == -1) {
		log_warn("control on stdio");
		return -1;
	}
	if (sup->cfg.control_socket != NULL &&
	    control_socket_start(sup, sup->cfg.control_socket) == -1) {
		log_warn("control socket %s", sup->cfg.control_socket);
		return -1;
	}
	return 0;
}

int
sup_run(struct sup *sup)
{
	int	 i;

	sup->loop = EV_DEFAULT;
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&sup->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&sup->sigint, signal_cb, SIGINT);
	ev_signal_init(&sup->sighup, signal_cb, SIGHUP);
	sup->sigterm.data = sup->sigint.data = sup->sighup.data = sup;
	ev_signal_start(sup->loop, &sup->sigterm);
	ev_signal_start(sup->loop, &sup->sigint);
	ev_signal_start(sup->loop, &sup->sighup);
	for (i = PROC_NET; i < PROC_MAX; i++)
		if ((i != PROC_WEB || sup->web_fd != -1) &&
		    worker_start(sup, i) == -1) {
			log_warn("cannot start the %s worker", proc_names[i]);
			return 1;
		}
	watch_start(sup);
	ev_run(sup->loop, 0);
	return sup->exit_code;
}

void
sup_free(struct sup *sup)
{
	struct operation *op;
	struct pending	*p;
	int		 i;

	control_stop(sup);
	watch_stop(sup);
	for (i = PROC_NET; i < PROC_MAX; i++) {
		msgconn_close(&sup->workers[i].conn);
		if (sup->workers[i].pid > 0) {
			kill(sup->workers[i].pid, SIGKILL);
			waitpid(sup->workers[i].pid, NULL, 0);
		}
	}
	while ((op = TAILQ_FIRST(&sup->ops)) != NULL) {
		TAILQ_REMOVE(&sup->ops, op, entry);
		verify_free(op->verify);
		swarm_op_clear(op);
		free(op);
	}
	while ((p = TAILQ_FIRST(&sup->pendings)) != NULL) {
		TAILQ_REMOVE(&sup->pendings, p, entry);
		if (sup->loop != NULL)
			ev_timer_stop(sup->loop, &p->timer);
		json_decref(p->id);
		free(p);
	}
	json_decref(sup->outbound);
	json_decref(sup->cleanups);
	web_close(sup);
	free(sup->traffic);
	library_free(&sup->library);
	catalog_free(&sup->catalog);
	sup_catalog_free(sup);
	peerdb_close(&sup->peerdb);
	identity_wipe(&sup->identity);
	tickets_free(&sup->tickets);
	swarm_free(sup);
	manifests_close(sup);
	if (sup->games_fd != -1)
		close(sup->games_fd);
	if (sup->loop != NULL)
		ev_loop_destroy(sup->loop);
}
