/*
 * The supervisor: owns the catalog, the peer database, the local library
 * and the active operations; starts the three workers and speaks to each
 * over its socketpair; serves the control protocol. One libev loop.
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
	int	 i;

	memset(sup, 0, sizeof(*sup));
	sup->cfg = *cfg;
	sup->games_fd = -1;
	sup->inotify_fd = -1;
	sup->outbound = json_object();
	sup->cleanups = json_array();
	TAILQ_INIT(&sup->ops);
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
	if (catalog_load(&sup->catalog, cfg->catalog_path, err, errsz) == -1)
		return -1;
	if (peerdb_open(&sup->peerdb, cfg->state_dir, err, errsz) == -1)
		return -1;
	if (peerdb_identity(&sup->peerdb, sup->peer_id) == -1) {
		snprintf(err, errsz, "cannot create a peer identity");
		return -1;
	}
	if (library_scan(sup->games_fd, &sup->library) == -1) {
		snprintf(err, errsz, "games dir %s: %s", cfg->games_dir,
		    strerror(errno));
		return -1;
	}
	log_info("peer %s: %zu catalog games, %zu local games",
	    sup->peer_id, sup->catalog.ngames, sup->library.ngames);
	return 0;
}

int
sup_send(struct sup *sup, enum proc_id id, struct msgout *m, int fd)
{
	struct worker	*w = &sup->workers[id];

	if (!w->up) {
		msgout_free(m);
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	return msgconn_send(&w->conn, m, fd);
}

/* Our library as the net worker advertises it to peers. */
static void
send_library(struct sup *sup)
{
	struct game_entry *games;
	struct msgout	 m;
	size_t		 i, n = sup->library.ngames;

	if ((games = calloc(n ? n : 1, sizeof(*games))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const struct local_game *lg = &sup->library.games[i];

		snprintf(games[i].id, sizeof(games[i].id), "%s", lg->id);
		snprintf(games[i].version, sizeof(games[i].version), "%s",
		    lg->version);
		snprintf(games[i].availability,
		    sizeof(games[i].availability), "%s",
		    local_game_availability(lg));
		games[i].downloaded = lg->downloaded;
		games[i].installed = lg->installed;
		games[i].size = lg->size;
	}
	msgout_init(&m, MSG_NET_LIBRARY, 1);
	msgout_key(&m, "games");
	gamelist_pack(&m.pk, games, n);
	free(games);
	sup_send(sup, PROC_NET, &m, -1);
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
	if (library_equal(&lib, &sup->library)) {
		library_free(&lib);
		return 0;
	}
	library_free(&sup->library);
	sup->library = lib;
	log_info("library changed: %zu local games", lib.ngames);
	send_library(sup);
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
	for (i = PROC_NET; i < PROC_MAX; i++)
		if (!sup->workers[i].ready)
			return;
	sup->ready = 1;
	if (control_start(sup) == -1) {
		sup_stop(sup, 1);
		return;
	}
	control_event("local-peer-ready", json_pack("{s:s,s:s}",
	    "addr", sup->listen_addr, "peer_id", sup->peer_id));
}

static struct sup *
conn_sup(struct msgconn *c)
{
	return c->arg;
}

static void
net_peer_library(struct sup *sup, const msgpack_object *body, int up)
{
	struct peer_info	 pi;
	struct game_entry	*games = NULL;
	size_t			 n = 0;
	const char		*why = NULL;

	memset(&pi, 0, sizeof(pi));
	if (mp_get_str(body, "peer_id", pi.peer_id, sizeof(pi.peer_id)) == -1 ||
	    gamelist_decode(mp_field(body, "games"), &games, &n, &why) == -1) {
		log_warnx("net: bad peer message: %s", why ? why : "peer_id");
		return;
	}
	if (strcmp(pi.peer_id, sup->peer_id) == 0) {
		free(games);
		return;
	}
	if (up) {
		if (mp_get_str(body, "addr", pi.addr, sizeof(pi.addr)) == -1 ||
		    mp_get_str(body, "name", pi.name, sizeof(pi.name)) == -1) {
			free(games);
			log_warnx("net: peer up without addr or name");
			return;
		}
		pi.connected = 1;
		peerdb_upsert(&sup->peerdb, &pi);
		log_info("peer %s (%s) at %s: %zu games", pi.peer_id, pi.name,
		    pi.addr, n);
	}
	peerdb_set_library(&sup->peerdb, pi.peer_id, games, n);
	free(games);
	commands_peers_changed(sup);
}

static void
sup_dispatch_net(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = conn_sup(c);
	char		 buf[256];
	socklen_t	 len;

	switch (m->type) {
	case MSG_NET_READY:
		if (mp_get_str(m->body, "addr", sup->listen_addr,
		    sizeof(sup->listen_addr)) == -1 ||
		    mp_get_str(m->body, "bound", buf, sizeof(buf)) == -1 ||
		    addr_parse(buf, 0, &sup->bound, &len) == -1)
			goto bad;
		send_library(sup);
		log_info("listening on %s", sup->listen_addr);
		worker_ready(sup, PROC_NET);
		break;
	case MSG_NET_FAILED:
		if (mp_get_str(m->body, "error", buf, sizeof(buf)) == -1)
			goto bad;
		log_warnx("net: %s", buf);
		sup_stop(sup, 1);
		break;
	case MSG_NET_CONNECT_DONE: {
		struct pending	*p;
		uint64_t	 req;

		if (mp_get_u64(m->body, "req", &req) == -1)
			goto bad;
		TAILQ_FOREACH(p, &sup->pendings, entry)
			if (p->req == req)
				break;
		if (p == NULL)
			break;
		if (mp_get_str(m->body, "error", buf, sizeof(buf)) == 0)
			control_error(p->client, p->id, "%s", buf);
		else
			control_reply(p->client, p->id, NULL);
		TAILQ_REMOVE(&sup->pendings, p, entry);
		json_decref(p->id);
		free(p);
		break;
	}
	case MSG_NET_PEER_UP:
		net_peer_library(sup, m->body, 1);
		break;
	case MSG_NET_PEER_LIBRARY:
		net_peer_library(sup, m->body, 0);
		break;
	case MSG_NET_HANDOFF: {
		struct msgout	 out;

		if (m->fd == -1)
			goto bad;
		msgout_init(&out, MSG_XFER_SERVE, 0);
		sup_send(sup, PROC_TRANSFER, &out, m->fd);
		return;
	}
	case MSG_NET_PEER_DOWN:
		if (mp_get_str(m->body, "peer_id", buf, sizeof(buf)) == -1)
			goto bad;
		/* Its games go with it: list-games reads connected peers. */
		peerdb_set_connected(&sup->peerdb, buf, 0);
		log_info("peer %s gone", buf);
		commands_peers_changed(sup);
		break;
	default:
		goto bad;
	}
	if (m->fd != -1)
		close(m->fd);
	return;
bad:
	if (m->fd != -1)
		close(m->fd);
	log_warnx("net worker sent a bad %s message; restarting it",
	    msg_type_str(m->type));
	kill(sup->workers[PROC_NET].pid, SIGKILL);
}

static json_t *
file_descriptions(const char *game_id, const msgpack_object *files)
{
	json_t		*arr = json_array();
	uint32_t	 i;

	for (i = 0; files != NULL && i < files->via.array.size; i++) {
		char	 path[PATH_MAX], rel[PATH_MAX + 80];
		uint64_t size;

		if (mp_get_str(&files->via.array.ptr[i], "path", path,
		    sizeof(path)) == -1 ||
		    mp_get_u64(&files->via.array.ptr[i], "size", &size) == -1)
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", game_id, path);
		json_array_append_new(arr, json_pack("{s:s,s:I,s:b}",
		    "relative_path", rel, "size", (json_int_t)size, "is_dir",
		    0));
	}
	return arr;
}

static void
sup_dispatch_transfer(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = conn_sup(c);
	struct operation *op;
	char		 game_id[65], path[PATH_MAX], rel[PATH_MAX + 80];
	char		 addr[ADDR_STRLEN];
	uint64_t	 a, b, r;
	int		 fd = m->fd;

	if (m->type == MSG_XFER_READY && fd == -1) {
		worker_ready(sup, PROC_TRANSFER);
		return;
	}
	if (mp_get_str(m->body, "game_id", game_id, sizeof(game_id)) == -1) {
		if (fd != -1)
			close(fd);
		goto bad;
	}
	if (m->type == MSG_XFER_OUTBOUND && fd == -1) {
		if (mp_get_u64(m->body, "count", &a) == -1)
			goto bad;
		if (a == 0)
			json_object_del(sup->outbound, game_id);
		else
			json_object_set_new(sup->outbound, game_id,
			    json_integer((json_int_t)a));
		return;
	}
	if (m->type == MSG_XFER_STREAM_NEED) {
		const struct local_game *g = library_find(&sup->library,
		    game_id);
		struct msgout	 out;

		/* A peer streams our game: the install worker fills the pipe. */
		if (fd == -1)
			goto bad;
		if (g == NULL || !g->downloaded || sup_op_find(sup, game_id)) {
			close(fd);
			return;
		}
		msgout_init(&out, MSG_INST_STREAM_OUT, 1);
		msgout_str(&out, "game_id", game_id);
		sup_send(sup, PROC_INSTALL, &out, fd);
		return;
	}
	if (fd != -1) {
		close(fd);
		goto bad;
	}
	/* Everything else belongs to a download we started. */
	if ((op = sup_op_find(sup, game_id)) == NULL) {
		log_debug("transfer: %s for %s without an operation",
		    msg_type_str(m->type), game_id);
		return;
	}
	switch (m->type) {
	case MSG_XFER_FILES:
		control_event("got-game-files", json_pack("{s:s,s:o}",
		    "game_id", game_id, "file_descriptions",
		    file_descriptions(game_id, mp_get_array(m->body,
		    "files"))));
		break;
	case MSG_XFER_BEGIN:
		if (mp_get_u64(m->body, "total_bytes", &a) == -1)
			goto bad;
		control_event("download-begin", json_pack("{s:s,s:I}",
		    "game_id", game_id, "total_bytes", (json_int_t)a));
		break;
	case MSG_XFER_CHUNK:
		if (mp_get_str(m->body, "path", path, sizeof(path)) == -1 ||
		    mp_get_u64(m->body, "offset", &a) == -1 ||
		    mp_get_u64(m->body, "length", &b) == -1 ||
		    mp_get_str(m->body, "peer_addr", addr, sizeof(addr)) == -1)
			goto bad;
		snprintf(rel, sizeof(rel), "%s/%s", game_id, path);
		control_event("download-chunk-finished", json_pack(
		    "{s:s,s:s,s:I,s:I,s:s}", "game_id", game_id,
		    "relative_path", rel, "offset", (json_int_t)a, "length",
		    (json_int_t)b, "peer_addr", addr));
		break;
	case MSG_XFER_PROGRESS:
		if (mp_get_u64(m->body, "bytes", &a) == -1 ||
		    mp_get_u64(m->body, "total_bytes", &b) == -1 ||
		    mp_get_u64(m->body, "bytes_per_s", &r) == -1)
			goto bad;
		control_event("download-progress", json_pack("{s:s,s:I,s:I,"
		    "s:I}", "game_id", game_id, "bytes", (json_int_t)a,
		    "total_bytes", (json_int_t)b, "bytes_per_s",
		    (json_int_t)r));
		break;
	case MSG_XFER_DONE:
	case MSG_XFER_FAILED:
		op_download_ended(sup, op, m->type, m->body);
		break;
	default:
		goto bad;
	}
	return;
bad:
	log_warnx("transfer worker sent a bad %s message; restarting it",
	    msg_type_str(m->type));
	kill(sup->workers[PROC_TRANSFER].pid, SIGKILL);
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
play_answered(struct sup *sup, const char *game_id, const msgpack_object *body,
    const char *error)
{
	struct pending	*p, *next;
	int		 a = 0, l = 0, n = 0;

	if (error == NULL) {
		mp_get_bool(body, "account_name_written", &a);
		mp_get_bool(body, "language_written", &l);
		mp_get_bool(body, "persona_name_written", &n);
		if (write_play_marker(sup, game_id) == -1)
			log_warn("first-play marker for %s", game_id);
	}
	TAILQ_FOREACH_SAFE(p, &sup->pendings, entry, next) {
		if (strcmp(p->play_game, game_id) != 0)
			continue;
		if (error != NULL)
			control_error(p->client, p->id, "%s", error);
		else
			control_reply(p->client, p->id, json_pack("{s:{s:b,s:b,"
			    "s:b,s:b}}", "outcome", "already_applied", 0,
			    "account_name_written", a, "language_written", l,
			    "persona_name_written", n));
		TAILQ_REMOVE(&sup->pendings, p, entry);
		json_decref(p->id);
		free(p);
		break;
	}
}

static void
sup_dispatch_install(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = conn_sup(c);
	char		 game_id[65], what[16], error[512];
	enum inst_op	 op;

	if (m->fd != -1) {
		close(m->fd);
		goto bad;
	}
	if (m->type == MSG_INST_READY) {
		worker_ready(sup, PROC_INSTALL);
		return;
	}
	if (mp_get_str(m->body, "game_id", game_id, sizeof(game_id)) == -1)
		goto bad;
	if (m->type == MSG_INST_PLAYED) {
		play_answered(sup, game_id, m->body, NULL);
		return;
	}
	if (m->type == MSG_INST_PROGRESS) {
		uint64_t	 a, b, r;

		if (mp_get_u64(m->body, "bytes", &a) == -1 ||
		    mp_get_u64(m->body, "total_bytes", &b) == -1 ||
		    mp_get_u64(m->body, "bytes_per_s", &r) == -1)
			goto bad;
		if (sup_op_find(sup, game_id) != NULL)
			control_event("install-progress", json_pack("{s:s,s:I,"
			    "s:I,s:I}", "game_id", game_id, "bytes",
			    (json_int_t)a, "total_bytes", (json_int_t)b,
			    "bytes_per_s", (json_int_t)r));
		return;
	}
	if ((m->type != MSG_INST_DONE && m->type != MSG_INST_FAILED) ||
	    mp_get_str(m->body, "op", what, sizeof(what)) == -1 ||
	    inst_op_parse(what, &op) == -1)
		goto bad;
	if (m->type == MSG_INST_FAILED &&
	    mp_get_str(m->body, "error", error, sizeof(error)) == -1)
		goto bad;
	if (op == INST_OP_PLAY) {
		play_answered(sup, game_id, NULL, error);
		return;
	}
	op_install_ended(sup, game_id, op,
	    m->type == MSG_INST_FAILED ? error : NULL);
	return;
bad:
	log_warnx("install worker sent a bad %s message; restarting it",
	    msg_type_str(m->type));
	kill(sup->workers[PROC_INSTALL].pid, SIGKILL);
}

/* What a worker needs to know when it starts (or restarts). */
static void
worker_hello(struct sup *sup, enum proc_id id)
{
	struct msgout	 m;

	switch (id) {
	case PROC_NET:
		msgout_init(&m, MSG_NET_IDENTITY, 2);
		msgout_str(&m, "peer_id", sup->peer_id);
		msgout_str(&m, "name", sup->cfg.name);
		sup_send(sup, id, &m, -1);
		msgout_init(&m, MSG_NET_LISTEN, 2);
		/* A restarted worker keeps the address peers know. */
		msgout_str(&m, "addr", sup->ready ? sup->listen_addr :
		    sup->cfg.listen);
		msgout_bool(&m, "mdns", sup->cfg.mdns);
		sup_send(sup, id, &m, -1);
		break;
	case PROC_TRANSFER: {
		size_t	 i;

		msgout_init(&m, MSG_XFER_HELLO, 4);
		msgout_str(&m, "games_dir", sup->cfg.games_dir);
		msgout_str(&m, "peer_id", sup->peer_id);
		/* A restart must not touch a download it does not know. */
		msgout_bool(&m, "cleanup", !sup->workers[id].started_once);
		sup->workers[id].started_once = 1;
		msgout_key(&m, "catalog");
		msgpack_pack_array(&m.pk, sup->catalog.ngames);
		for (i = 0; i < sup->catalog.ngames; i++)
			mp_pack_str(&m.pk, sup->catalog.games[i].id);
		sup_send(sup, id, &m, -1);
		break;
	}
	case PROC_INSTALL:
		msgout_init(&m, MSG_INST_HELLO, 3);
		msgout_str(&m, "games_dir", sup->cfg.games_dir);
		msgout_str(&m, "unrar", unrar_mode_str(sup->cfg.unrar,
		    sup->cfg.unrar_path));
		/* Leftovers of a crash; later restarts clean per game. */
		msgout_bool(&m, "cleanup", !sup->workers[id].started_once);
		sup->workers[id].started_once = 1;
		sup_send(sup, id, &m, -1);
		{
			size_t	 i;
			json_t	*g;

			json_array_foreach(sup->cleanups, i, g) {
				msgout_init(&m, MSG_INST_CLEANUP, 1);
				msgout_str(&m, "game_id", json_string_value(g));
				sup_send(sup, id, &m, -1);
			}
			json_array_clear(sup->cleanups);
		}
		break;
	default:
		break;
	}
}

static void
worker_exited(struct ev_loop *loop, ev_child *w, int revents)
{
	struct worker	*wk = w->data;
	struct sup	*sup = (struct sup *)((char *)(wk - wk->id) -
	    offsetof(struct sup, workers));
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
		log_warnx("lost %s worker: killed by signal %d",
		    proc_names[wk->id], WTERMSIG(w->rstatus));
	else
		log_warnx("lost %s worker: exit status %d",
		    proc_names[wk->id], WEXITSTATUS(w->rstatus));
	if (wk->id == PROC_NET) {
		/* Every peer link lived in that worker. */
		peerdb_disconnect_all(&sup->peerdb);
		commands_peers_changed(sup);
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
	/* Whatever ran in that worker died with it. */
	ops_worker_died(sup, wk->id);
	if (worker_start(sup, wk->id) == -1) {
		log_warn("cannot restart the %s worker", proc_names[wk->id]);
		sup_stop(sup, 1);
	}
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
	argv[0] = exe;
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
		log_info("SIGHUP: rescanning %s", sup->cfg.games_dir);
		sup_rescan(sup);
		return;
	}
	log_info("signal %d: shutting down", w->signum);
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
	control_stop(sup);
	watch_stop(sup);
	if (sup->workers[PROC_NET].up) {
		msgconn_send_empty(&sup->workers[PROC_NET].conn,
		    MSG_NET_GOODBYE);
		msgconn_flush(&sup->workers[PROC_NET].conn, 1000);
	}
	for (i = PROC_NET; i < PROC_MAX; i++)
		if (i != PROC_NET)
			msgconn_close(&sup->workers[i].conn);
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
		if (worker_start(sup, i) == -1) {
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
	library_free(&sup->library);
	catalog_free(&sup->catalog);
	peerdb_close(&sup->peerdb);
	if (sup->games_fd != -1)
		close(sup->games_fd);
	if (sup->loop != NULL)
		ev_loop_destroy(sup->loop);
}
