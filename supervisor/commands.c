/*
 * The control protocol's commands (SPEC.md "Control protocol"). Each takes
 * a parsed request object, checks every field it reads, and answers with a
 * result or an error; nothing a client sends is trusted.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "common/log.h"
#include "common/partial.h"
#include "common/path.h"
#include "common/rate.h"
#include "supervisor/config.h"
#include "supervisor/supervisor.h"

struct cmd_ctx {
	struct sup	*sup;
	uint64_t	 client;
	json_t		*id;
	json_t		*req;
};

struct command {
	const char	*name;
	void		(*fn)(struct cmd_ctx *);
};

static void
reply(struct cmd_ctx *x, json_t *data)
{
	control_reply(x->client, x->id, data);
}

/* A string field that must be there; answers the error itself. */
static const char *
str_field(struct cmd_ctx *x, const char *key)
{
	json_t	*v = json_object_get(x->req, key);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		control_error(x->client, x->id,
		    "missing or invalid field: %s (a non-empty string)", key);
		return NULL;
	}
	return json_string_value(v);
}

static const char *
game_field(struct cmd_ctx *x)
{
	const char	*id = str_field(x, "game_id");

	if (id != NULL && !path_is_valid_game_id(id)) {
		control_error(x->client, x->id, "invalid game id: %s", id);
		return NULL;
	}
	return id;
}

/* An optional boolean; -1 after answering an error. */
static int
bool_field(struct cmd_ctx *x, const char *key, int def)
{
	json_t	*v = json_object_get(x->req, key);

	if (v == NULL || json_is_null(v))
		return def;
	if (!json_is_boolean(v)) {
		control_error(x->client, x->id,
		    "invalid field: %s (a boolean)", key);
		return -1;
	}
	return json_is_true(v);
}

static int
int_field(struct cmd_ctx *x, const char *key, json_int_t min, json_int_t max,
    json_int_t *out)
{
	json_t	*v = json_object_get(x->req, key);

	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		control_error(x->client, x->id, "missing or invalid field: %s "
		    "(an integer from %lld to %lld)", key, (long long)min,
		    (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

json_t *
commands_active_operations(struct sup *sup)
{
	struct operation *op;
	json_t		*arr = json_array();

	TAILQ_FOREACH(op, &sup->ops, entry)
		json_array_append_new(arr, sup_op_json(op));
	return arr;
}

/* A kept download: how much of it is verified, read now from its staging. */
static json_t *
partial_row(struct sup *sup, const char *game_id)
{
	uint64_t bytes = 0, total = 0;
	int	 fd;

	if ((fd = openat(sup->games_fd, game_id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) != -1) {
		partial_progress(fd, &bytes, &total);
		close(fd);
	}
	return json_pack("{s:I,s:I}", "bytes", (json_int_t)bytes,
	    "total_bytes", (json_int_t)total);
}

/*
 * How a local game stands against the catalog: not in it (never served),
 * stale (downloaded at another version: not a source, nor playable with
 * the others), or current. A stream-installed game has no version.ini to
 * compare: it came from sources at the catalog's version.
 */
static const char *
catalog_state(const struct local_game *g, const struct catalog_game *c)
{
	if (c == NULL)
		return "not-in-catalog";
	if (g->downloaded && strcmp(g->version, c->version) != 0)
		return "stale";
	return "current";
}

static void
cmd_list_games(struct cmd_ctx *x)
{
	struct sup	*sup = x->sup;
	struct operation *op;
	json_t		*local = json_array(), *remote = json_array();
	size_t		 i;

	for (i = 0; i < sup->library.ngames; i++) {
		const struct local_game *g = &sup->library.games[i];
		const struct catalog_game *c = catalog_find(&sup->catalog,
		    g->id);
		json_t		*row;
		int		 hashing = manifests_percent(sup, g->id);

		row = json_pack("{s:s,s:s,s:b,s:b,s:s,s:s?,s:b,s:s?,s:I}",
		    "id", g->id, "name", c ? c->name : g->id, "downloaded",
		    g->downloaded, "installed", g->installed, "availability",
		    local_game_availability(g), "eti_version",
		    g->downloaded ? g->version : NULL, "in_catalog", c != NULL,
		    "catalog_version", c ? c->version : NULL, "size",
		    (json_int_t)g->size);
		/* Served once hashed: until then, how far it is. */
		if (g->downloaded && hashing >= 0)
			json_object_set_new(row, "hashing",
			    json_integer(hashing));
		json_object_set_new(row, "catalog_state",
		    json_string(catalog_state(g, c)));
		if (g->partial)
			json_object_set_new(row, "partial", partial_row(sup,
			    g->id));
		/* Streamed in, nothing to download: the size is local/'s. */
		if (g->installed && !g->downloaded)
			json_object_set_new(row, "size",
			    json_integer((json_int_t)g->installed_size));
		if (g->installed && g->installed_size > 0)
			json_object_set_new(row, "installed_size",
			    json_integer((json_int_t)g->installed_size));
		if ((op = sup_op_find(sup, g->id)) != NULL)
			json_object_set_new(row, "active", sup_op_json(op));
		json_array_append_new(local, row);
	}
	for (i = 0; i < sup->catalog.ngames; i++) {
		const struct catalog_game *c = &sup->catalog.games[i];
		const struct local_game *g = library_find(&sup->library,
		    c->id);
		struct game_sources src;

		json_t		*row;

		commands_sources(sup, c->id, &src, NULL);
		if (src.count == 0)
			continue;
		row = json_pack("{s:s,s:s,s:i,s:s,s:I,s:b,s:b}", "id", c->id,
		    "name", c->name, "peer_count", src.count,
		    "eti_game_version", c->version, "size",
		    (json_int_t)src.size, "downloaded", g != NULL &&
		    g->downloaded, "installed", g != NULL && g->installed);
		if ((op = sup_op_find(sup, c->id)) != NULL)
			json_object_set_new(row, "active", sup_op_json(op));
		json_array_append_new(remote, row);
	}
	reply(x, json_pack("{s:o,s:o}", "local", local, "remote", remote));
}

struct peers_walk {
	struct sup	*sup;
	json_t		*peers;
};

static int
list_peer_game(const struct peer_info *pi, const struct game_entry *g,
    void *arg)
{
	json_t	*games = arg;

	(void)pi;
	json_array_append_new(games, json_pack("{s:s,s:s,s:s,s:b,s:b,s:I}",
	    "id", g->id, "eti_version", g->version, "availability",
	    g->availability, "downloaded", g->downloaded, "installed",
	    g->installed, "size", (json_int_t)g->size));
	return 0;
}

static int
list_peer(const struct peer_info *pi, void *arg)
{
	struct peers_walk *pw = arg;
	json_t		*games = json_array();
	uint64_t	 sent, received;

	peerdb_each_game(&pw->sup->peerdb, pi->peer_id, list_peer_game, games);
	traffic_of_peer(pw->sup, pi->peer_id, &sent, &received);
	json_array_append_new(pw->peers, json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,"
	    "s:I}", "peer_id", pi->peer_id, "name", pi->name, "addr",
	    pi->addr, "game_count", (json_int_t)json_array_size(games),
	    "games", games, "bytes_sent", (json_int_t)sent, "bytes_received",
	    (json_int_t)received));
	return 0;
}

static void
cmd_list_peers(struct cmd_ctx *x)
{
	struct peers_walk pw = { x->sup, json_array() };

	peerdb_each_connected(&x->sup->peerdb, list_peer, &pw);
	reply(x, json_pack("{s:o}", "peers", pw.peers));
}

/* The catalog in use, and the signed one held (serial 0: none). */
static json_t *
catalog_status(struct sup *sup)
{
	char	 hex[CATALOG_KEY_HEX] = "";

	if (sup->held.blob != NULL)
		catalog_key_hex(sup->held.key, hex);
	return json_pack("{s:s,s:I,s:I,s:s}", "source", sup->catalog_source,
	    "games", (json_int_t)sup->catalog.ngames, "serial",
	    (json_int_t)sup->held.serial, "key", hex);
}

/* The limits now: {upload, upload_bytes_per_s, ...}, as limit answers. */
static json_t *
limits_status(struct sup *sup)
{
	char	 up[32], down[32];

	rate_format(sup->upload_limit, up, sizeof(up));
	rate_format(sup->download_limit, down, sizeof(down));
	return json_pack("{s:s,s:I,s:s,s:I,s:i,s:i}", "upload", up,
	    "upload_bytes_per_s", (json_int_t)sup->upload_limit, "download",
	    down, "download_bytes_per_s", (json_int_t)sup->download_limit,
	    "upload_slots", sup->upload_slots,
	    "max_active_downloads", sup->max_active_downloads);
}

static void
cmd_status(struct cmd_ctx *x)
{
	struct sup	*sup = x->sup;
	json_t		*hashing = json_array();
	size_t		 i;

	for (i = 0; i < sup->library.ngames; i++) {
		const struct local_game *g = &sup->library.games[i];
		int		 pct = manifests_percent(sup, g->id);

		if (g->downloaded && pct >= 0)
			json_array_append_new(hashing, json_pack("{s:s,s:i}",
			    "game_id", g->id, "percent", pct));
	}
	reply(x, json_pack("{s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o}", "peer_id",
	    sup->peer_id, "name", sup->cfg.name, "addr", sup->listen_addr,
	    "peer_count", peerdb_count_connected(&sup->peerdb),
	    "active_operations", commands_active_operations(sup),
	    "active_outbound_transfers", json_deep_copy(sup->outbound),
	    "hashing", hashing, "catalog", catalog_status(sup),
	    "traffic", traffic_status(sup), "limits", limits_status(sup)));
}

static void
cmd_subscribe(struct cmd_ctx *x)
{
	control_subscribe(x->client);
	reply(x, NULL);
}

static void
cmd_shutdown(struct cmd_ctx *x)
{
	reply(x, NULL);
	sup_stop(x->sup, 0);
}

static struct pending *
pending_new(struct cmd_ctx *x)
{
	struct pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		control_error(x->client, x->id, "out of memory");
		return NULL;
	}
	p->client = x->client;
	p->id = json_incref(x->id);
	p->req = ++x->sup->next_req;
	p->sup = x->sup;
	TAILQ_INSERT_TAIL(&x->sup->pendings, p, entry);
	return p;
}

static void
pending_free(struct sup *sup, struct pending *p)
{
	ev_timer_stop(sup->loop, &p->timer);
	TAILQ_REMOVE(&sup->pendings, p, entry);
	json_decref(p->id);
	free(p);
}

static void
cmd_connect(struct cmd_ctx *x)
{
	struct sockaddr_storage ss;
	socklen_t	 len;
	struct net_connect dial;
	struct pending	*p;
	const char	*addr;

	if ((addr = str_field(x, "addr")) == NULL)
		return;
	if (addr_parse(addr, -1, &ss, &len) == -1 ||
	    addr_port((struct sockaddr *)&ss) <= 0) {
		control_error(x->client, x->id,
		    "invalid address %s: expected IP:PORT", addr);
		return;
	}
	/* Refused before any network call. */
	if (sup_is_self_addr(x->sup, addr)) {
		control_error(x->client, x->id, "cannot connect peer to itself");
		return;
	}
	if ((p = pending_new(x)) == NULL)
		return;
	dial.req = p->req;
	snprintf(dial.addr, sizeof(dial.addr), "%s", addr);
	if (msg_send_net_connect(sup_link(x->sup, PROC_NET), &dial) == -1) {
		control_error(x->client, x->id, "network worker unavailable");
		pending_free(x->sup, p);
	}
}

/* Which connected peer "disconnect" means: its id, address or name. */
struct peer_match {
	const char	*want;
	struct peer_info found;
	int		 matches;
};

static int
match_peer(const struct peer_info *pi, void *arg)
{
	struct peer_match *pm = arg;

	if (strcmp(pi->peer_id, pm->want) == 0 ||
	    strcmp(pi->addr, pm->want) == 0 ||
	    strcmp(pi->name, pm->want) == 0) {
		pm->found = *pi;
		pm->matches++;
	}
	return 0;
}

/*
 * Drops the link to one peer, with a goodbye; its games go with it. The
 * peer is shown as gone at once: the net worker's PEER_DOWN follows.
 */
static void
cmd_disconnect(struct cmd_ctx *x)
{
	struct peer_match pm;
	struct net_peer_down gone;

	memset(&pm, 0, sizeof(pm));
	if ((pm.want = str_field(x, "peer")) == NULL)
		return;
	peerdb_each_connected(&x->sup->peerdb, match_peer, &pm);
	if (pm.matches == 0) {
		control_error(x->client, x->id, "no connected peer %s",
		    pm.want);
		return;
	}
	if (pm.matches > 1) {
		control_error(x->client, x->id, "%d connected peers are "
		    "called %s: give the peer id or address", pm.matches,
		    pm.want);
		return;
	}
	memcpy(gone.peer_id, pm.found.peer_id, sizeof(gone.peer_id));
	snprintf(gone.reason, sizeof(gone.reason), "disconnected on request");
	if (msg_send_net_disconnect(sup_link(x->sup, PROC_NET), &gone) == -1) {
		control_error(x->client, x->id, "network worker unavailable");
		return;
	}
	peerdb_set_connected(&x->sup->peerdb, gone.peer_id, 0);
	log_info("peer %s (%s) disconnected on request", gone.peer_id,
	    pm.found.addr);
	commands_peers_changed(x->sup);
	reply(x, json_pack("{s:s,s:s,s:s}", "peer_id", pm.found.peer_id,
	    "name", pm.found.name, "addr", pm.found.addr));
}

static void
wait_peers_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pending	*p = w->data;
	struct sup	*sup = p->sup;

	(void)loop;
	(void)revents;
	control_error(p->client, p->id, "timed out waiting for %d peers "
	    "(have %d)", p->wait_count, peerdb_count_connected(&sup->peerdb));
	pending_free(sup, p);
}

static void
cmd_wait_peers(struct cmd_ctx *x)
{
	struct pending	*p;
	json_int_t	 count, timeout_ms = 10000;
	int		 have;

	if (int_field(x, "count", 0, 4096, &count) == -1)
		return;
	if (json_object_get(x->req, "timeout_ms") != NULL &&
	    int_field(x, "timeout_ms", 0, 3600 * 1000, &timeout_ms) == -1)
		return;
	have = peerdb_count_connected(&x->sup->peerdb);
	if (have >= count) {
		reply(x, json_pack("{s:i}", "peer_count", have));
		return;
	}
	if ((p = pending_new(x)) == NULL)
		return;
	p->wait_count = (int)count;
	ev_timer_init(&p->timer, wait_peers_timeout, timeout_ms / 1000.0, 0);
	p->timer.data = p;
	ev_timer_start(x->sup->loop, &p->timer);
}

/* A connect or a peer going away may complete some wait-peers. */
void
commands_peers_changed(struct sup *sup)
{
	struct pending	*p, *next;
	int		 have = peerdb_count_connected(&sup->peerdb);

	TAILQ_FOREACH_SAFE(p, &sup->pendings, entry, next) {
		if (p->wait_count == 0 || have < p->wait_count)
			continue;
		control_reply(p->client, p->id, json_pack("{s:i}",
		    "peer_count", have));
		pending_free(sup, p);
	}
}

void
commands_client_gone(struct sup *sup, uint64_t client)
{
	struct pending	*p, *next;

	TAILQ_FOREACH_SAFE(p, &sup->pendings, entry, next)
		if (p->client == client && p->wait_count > 0)
			pending_free(sup, p);
}

struct source_walk {
	const char	*game_id;
	const char	*version;
	int		 count;
	int		 advertised;
	uint64_t	 size;
	struct xfer_fetch *fetch;	/* filled with the sources, or NULL */
	const struct tickets *tickets;	/* that open their transfer links */
};

static int
walk_source(const struct peer_info *pi, const struct game_entry *g,
    void *arg)
{
	struct source_walk *sw = arg;
	struct xfer_fetch *f = sw->fetch;

	if (strcmp(g->id, sw->game_id) != 0)
		return 0;
	sw->advertised++;
	/* Only Ready copies at the catalog version are sources. */
	if (sw->version == NULL || strcmp(g->availability, "Ready") != 0 ||
	    !g->downloaded || strcmp(g->version, sw->version) != 0)
		return 0;
	sw->count++;
	sw->size = g->size;
	if (f != NULL && f->nsources < MSG_MAX_SOURCES) {
		memcpy(f->sources[f->nsources].peer_id, pi->peer_id,
		    sizeof(f->sources[0].peer_id));
		memcpy(f->sources[f->nsources].addr, pi->addr,
		    sizeof(f->sources[0].addr));
		snprintf(f->sources[f->nsources].ticket,
		    sizeof(f->sources[0].ticket), "%s",
		    tickets_find(sw->tickets, pi->peer_id));
		f->nsources++;
	}
	return 0;
}

/*
 * The peers that can serve game_id: how many, the game's size, and how
 * many advertise it at all (at any version); fetch gets the first ones.
 */
void
commands_sources(struct sup *sup, const char *game_id,
    struct game_sources *out, struct xfer_fetch *fetch)
{
	const struct catalog_game *c = catalog_find(&sup->catalog, game_id);

	commands_sources_at(sup, game_id, c ? c->version : NULL, out, fetch);
}

/* The same at a version (NULL: none), that of a running download. */
void
commands_sources_at(struct sup *sup, const char *game_id,
    const char *version, struct game_sources *out, struct xfer_fetch *fetch)
{
	struct source_walk sw = { game_id, version, 0, 0, 0, fetch,
	    &sup->tickets };

	peerdb_each_game(&sup->peerdb, NULL, walk_source, &sw);
	out->count = sw.count;
	out->advertised = sw.advertised;
	out->size = sw.size;
}

/* The checks every download-like command makes before anything starts. */
static int
download_preflight(struct cmd_ctx *x, const char *game_id)
{
	struct sup	*sup = x->sup;
	struct game_sources src;

	commands_sources(sup, game_id, &src, NULL);
	if (src.count == 0) {
		if (src.advertised > 0 &&
		    catalog_find(&sup->catalog, game_id) == NULL)
			control_error(x->client, x->id,
			    "game %s is not in the local catalog", game_id);
		else
			control_error(x->client, x->id,
			    "no peers have game %s", game_id);
		return -1;
	}
	if (sup_op_find(sup, game_id) != NULL) {
		control_error(x->client, x->id,
		    "operation already in progress");
		return -1;
	}
	return 0;
}

/*
 * Asks the transfer worker to fetch a game from every valid source (at
 * most MSG_MAX_SOURCES); a stream also bounds what it may expand to, a
 * repair names its pieces.
 */
int
commands_fetch(struct sup *sup, const char *game_id, enum fetch_mode mode,
    struct piece_ref *pieces, size_t npieces)
{
	struct xfer_fetch fetch;
	struct game_sources src;
	int		 rc;

	memset(&fetch, 0, sizeof(fetch));
	snprintf(fetch.game_id, sizeof(fetch.game_id), "%s", game_id);
	if ((fetch.sources = calloc(MSG_MAX_SOURCES,
	    sizeof(*fetch.sources))) == NULL)
		return -1;
	commands_sources(sup, game_id, &src, &fetch);
	fetch.mode = mode;
	fetch.pieces = pieces;
	fetch.npieces = npieces;
	snprintf(fetch.version, sizeof(fetch.version), "%s",
	    catalog_find(&sup->catalog, game_id)->version);
	/* No stored archive expands more than this. */
	if (mode == FETCH_STREAM)
		fetch.max_total = src.size > (UINT64_MAX >> 11) ? UINT64_MAX :
		    src.size * 1024 + (64u << 20);
	rc = msg_send_xfer_fetch(sup_link(sup, PROC_TRANSFER), &fetch);
	if (rc == 0 && mode == FETCH_DOWNLOAD)
		swarm_fetch_sent(sup, &fetch);
	free(fetch.sources);
	return rc;
}

static void
cmd_download(struct cmd_ctx *x)
{
	const struct catalog_game *c;
	const struct local_game *g;
	struct operation *op;
	const char	*game_id;
	int		 install;

	if ((game_id = game_field(x)) == NULL ||
	    (install = bool_field(x, "install", 1)) == -1 ||
	    download_preflight(x, game_id) == -1)
		return;
	/* Ready at the catalog's version: only what verify finds bad. */
	g = library_find(&x->sup->library, game_id);
	c = catalog_find(&x->sup->catalog, game_id);
	if (g != NULL && g->downloaded && c != NULL &&
	    strcmp(g->version, c->version) == 0) {
		verify_start(x->sup, x->client, x->id, g, VERIFY_DOWNLOAD);
		if ((op = sup_op_find(x->sup, game_id)) != NULL)
			op->install_after = install && !g->installed;
		return;
	}
	if (queue_full(x->sup)) {
		if ((op = sup_op_add(x->sup, game_id, OP_QUEUED)) == NULL) {
			control_error(x->client, x->id, "out of memory");
			return;
		}
		op->install_after = install;
		reply(x, json_pack("{s:s,s:b}", "game_id", game_id, "queued",
		    1));
		return;
	}
	reply(x, json_pack("{s:s}", "game_id", game_id));
	if ((op = sup_op_add(x->sup, game_id, OP_DOWNLOADING)) == NULL)
		return;
	op->install_after = install;
	if (commands_fetch(x->sup, game_id, FETCH_DOWNLOAD, NULL, 0) == -1)
		op_fetch_unavailable(x->sup, op);
}

/*
 * queue: the queued downloads in order; with {game_id, position}, that
 * one moves there first (1: the next to start).
 */
static void
cmd_queue(struct cmd_ctx *x)
{
	json_t		*pos = json_object_get(x->req, "position");
	const char	*game_id;

	if (json_object_get(x->req, "game_id") != NULL) {
		if ((game_id = game_field(x)) == NULL)
			return;
		if (!json_is_integer(pos) || json_integer_value(pos) < 1 ||
		    json_integer_value(pos) > 100000) {
			control_error(x->client, x->id, "missing or invalid "
			    "field: position (1 is the next to start)");
			return;
		}
		if (queue_move(x->sup, game_id, (int)json_integer_value(pos))
		    == -1) {
			control_error(x->client, x->id, "game %s is not queued",
			    game_id);
			return;
		}
	}
	reply(x, json_pack("{s:o}", "queue", queue_json(x->sup)));
}

/*
 * Installs a game straight from a peer's extracted archives: local/ only,
 * no archive, no version.ini. Found-out-later failures are events.
 */
static void
cmd_stream_install(struct cmd_ctx *x)
{
	const struct local_game *g;
	struct operation *op;
	struct game_sources src;
	const char	*game_id;

	if ((game_id = game_field(x)) == NULL ||
	    download_preflight(x, game_id) == -1)
		return;
	reply(x, json_pack("{s:s}", "game_id", game_id));
	g = library_find(&x->sup->library, game_id);
	if (g != NULL && g->installed) {
		control_event("download-failed", json_pack("{s:s,s:s}",
		    "game_id", game_id, "error", "game is already installed"));
		return;
	}
	if ((op = sup_op_add(x->sup, game_id, OP_STREAM_INSTALLING)) == NULL)
		return;
	/* What the stream will about expand to: the sources' archives. */
	commands_sources(x->sup, game_id, &src, NULL);
	op->progress.expected_total = src.size;
	if (commands_fetch(x->sup, game_id, FETCH_STREAM, NULL, 0) == -1) {
		sup_op_remove(x->sup, op);
		control_event("download-failed", json_pack("{s:s,s:s}",
		    "game_id", game_id, "error",
		    "the transfer worker is unavailable"));
	}
}

/* A game in the local library, with no operation on it; else an error. */
static const struct local_game *
local_game_field(struct cmd_ctx *x)
{
	const struct local_game *g;
	const char	*game_id;

	if ((game_id = game_field(x)) == NULL)
		return NULL;
	if ((g = library_find(&x->sup->library, game_id)) == NULL) {
		control_error(x->client, x->id, "game %s is not in the local "
		    "library", game_id);
		return NULL;
	}
	if (sup_op_find(x->sup, game_id) != NULL) {
		control_error(x->client, x->id,
		    "operation already in progress");
		return NULL;
	}
	return g;
}

/* A local game that is downloaded, with no operation on it; else an error. */
static const struct local_game *
downloaded_game_field(struct cmd_ctx *x)
{
	const struct local_game *g;

	if ((g = local_game_field(x)) == NULL)
		return NULL;
	if (!g->downloaded) {
		control_error(x->client, x->id, "game %s is not downloaded",
		    g->id);
		return NULL;
	}
	return g;
}

static void
cmd_install(struct cmd_ctx *x)
{
	const struct local_game *g;
	struct operation *op;

	if ((g = downloaded_game_field(x)) == NULL)
		return;
	reply(x, json_pack("{s:s}", "game_id", g->id));
	if ((op = sup_op_add(x->sup, g->id, OP_INSTALLING)) != NULL)
		sup_start_install(x->sup, op);
}

static void
cmd_uninstall(struct cmd_ctx *x)
{
	const struct local_game *g;
	struct operation *op;
	struct game_ref	 ref;

	if ((g = local_game_field(x)) == NULL)
		return;
	if (!g->installed) {
		control_error(x->client, x->id, "game %s is not installed",
		    g->id);
		return;
	}
	reply(x, json_pack("{s:s}", "game_id", g->id));
	if ((op = sup_op_add(x->sup, g->id, OP_UNINSTALLING)) == NULL)
		return;
	memcpy(ref.game_id, op->game_id, sizeof(ref.game_id));
	if (msg_send_inst_uninstall(sup_link(x->sup, PROC_INSTALL), &ref) ==
	    -1) {
		control_event("uninstall-failed", json_pack("{s:s,s:s}",
		    "game_id", op->game_id, "error",
		    "the install worker is unavailable"));
		sup_op_remove(x->sup, op);
	}
}

/* First play stamps launch settings once; the marker says it was done. */
static void
cmd_play(struct cmd_ctx *x)
{
	const struct local_game *g;
	const char	*user, *lang;
	char		 marker[PATH_MAX];
	struct pending	*p;
	struct inst_play play;
	int		 force;

	if ((g = local_game_field(x)) == NULL ||
	    (user = str_field(x, "username")) == NULL ||
	    (lang = str_field(x, "language")) == NULL)
		return;
	if (!g->installed) {
		control_error(x->client, x->id, "game %s is not installed",
		    g->id);
		return;
	}
	if (strlen(user) >= sizeof(play.username) ||
	    strlen(lang) >= sizeof(play.language)) {
		control_error(x->client, x->id, "username and language must "
		    "be under %zu bytes", sizeof(play.username));
		return;
	}
	snprintf(marker, sizeof(marker), "%s/games/%s/launch_settings_applied",
	    x->sup->cfg.state_dir, g->id);
	/* force: a typo at the first play is put right by playing again. */
	if ((force = bool_field(x, "force", 0)) == -1)
		return;
	if (!force && access(marker, F_OK) == 0) {
		reply(x, json_pack("{s:{s:b,s:b,s:b,s:b}}", "outcome",
		    "already_applied", 1, "account_name_written", 0,
		    "language_written", 0, "persona_name_written", 0));
		return;
	}
	TAILQ_FOREACH(p, &x->sup->pendings, entry)
		if (strcmp(p->play_game, g->id) == 0) {
			control_error(x->client, x->id,
			    "operation already in progress");
			return;
		}
	if ((p = pending_new(x)) == NULL)
		return;
	snprintf(p->play_game, sizeof(p->play_game), "%s", g->id);
	snprintf(play.game_id, sizeof(play.game_id), "%s", g->id);
	snprintf(play.username, sizeof(play.username), "%s", user);
	snprintf(play.language, sizeof(play.language), "%s", lang);
	if (msg_send_inst_play(sup_link(x->sup, PROC_INSTALL), &play) == -1) {
		control_error(x->client, x->id,
		    "the install worker is unavailable");
		pending_free(x->sup, p);
	}
}

static void
cmd_cancel_download(struct cmd_ctx *x)
{
	struct operation *op;
	struct game_ref	 ref;
	const char	*game_id;

	if ((game_id = game_field(x)) == NULL)
		return;

	if ((op = sup_op_find(x->sup, game_id)) == NULL ||
	    (op->kind != OP_DOWNLOADING && op->kind != OP_STREAM_INSTALLING &&
	    op->kind != OP_QUEUED)) {
		control_error(x->client, x->id, "no download in progress for "
		    "game %s", game_id);
		return;
	}
	/* Never started: nothing to roll back. */
	if (op->kind == OP_QUEUED) {
		reply(x, json_pack("{s:s}", "game_id", game_id));
		sup_op_remove(x->sup, op);
		control_event("download-cancelled", json_pack("{s:s}",
		    "game_id", game_id));
		return;
	}
	/* The worker rolls back and answers with a cancelled failure. */
	snprintf(ref.game_id, sizeof(ref.game_id), "%s", game_id);
	if (msg_send_xfer_cancel(sup_link(x->sup, PROC_TRANSFER), &ref) ==
	    -1) {
		control_error(x->client, x->id,
		    "the transfer worker is unavailable");
		return;
	}
	reply(x, json_pack("{s:s}", "game_id", game_id));
}

/* A downloaded game checked against the LAN's manifest, piece by piece. */
static void
verify_or_repair(struct cmd_ctx *x, enum verify_mode mode)
{
	const struct local_game *g;

	if ((g = downloaded_game_field(x)) != NULL)
		verify_start(x->sup, x->client, x->id, g, mode);
}

static void
cmd_verify(struct cmd_ctx *x)
{
	verify_or_repair(x, VERIFY_REPORT);
}

static void
cmd_repair(struct cmd_ctx *x)
{
	verify_or_repair(x, VERIFY_REPAIR);
}

/* A speed field of limit, into *bps; -1 after answering an error. */
static int
speed_field(struct cmd_ctx *x, const char *key, uint64_t *bps)
{
	json_t	*v = json_object_get(x->req, key);
	char	 err[ERROR_SIZE];

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    json_string_length(v)) {
		control_error(x->client, x->id, "invalid field: %s (a speed "
		    "such as 50MiB, 400mbit or none)", key);
		return -1;
	}
	if (rate_parse(json_string_value(v), bps, err, sizeof(err)) == -1) {
		control_error(x->client, x->id, "%s", err);
		return -1;
	}
	return 0;
}

/*
 * limit {upload?, download?, upload_slots?, max_active_downloads?}: a
 * speed ("50MiB", "400mbit", "none") replaces that limit, a number the
 * upload slots or the queue's size, live and until a restart; the answer
 * is the limits now.
 */
static void
cmd_limit(struct cmd_ctx *x)
{
	struct sup	*sup = x->sup;
	uint64_t	 up = sup->upload_limit, down = sup->download_limit;
	int		 slots = sup->upload_slots;
	int		 max_active = sup->max_active_downloads, changed;
	json_t		*max = json_object_get(x->req, "max_active_downloads");
	json_t		*js = json_object_get(x->req, "upload_slots");

	if (speed_field(x, "upload", &up) == -1 ||
	    speed_field(x, "download", &down) == -1)
		return;
	if (js != NULL) {
		if (!json_is_integer(js) || json_integer_value(js) < 0 ||
		    json_integer_value(js) > UPLOAD_SLOTS_MAX) {
			control_error(x->client, x->id, "invalid field: "
			    "upload_slots (0 for no cap, to %d)",
			    UPLOAD_SLOTS_MAX);
			return;
		}
		slots = (int)json_integer_value(js);
	}
	if (max != NULL) {
		if (!json_is_integer(max) || json_integer_value(max) < 0 ||
		    json_integer_value(max) > 1000) {
			control_error(x->client, x->id, "invalid field: "
			    "max_active_downloads (0 for no limit, to 1000)");
			return;
		}
		max_active = (int)json_integer_value(max);
	}
	changed = up != sup->upload_limit || down != sup->download_limit ||
	    slots != sup->upload_slots;
	if (sup_set_limits(sup, up, down, slots, max_active) == -1) {
		control_error(x->client, x->id,
		    "the transfer worker is unavailable");
		return;
	}
	if (changed)
		log_info("limits set: upload %llu, download %llu bytes a "
		    "second, upload slots %d", (unsigned long long)up,
		    (unsigned long long)down, slots);
	reply(x, limits_status(sup));
}

/* SIGHUP's work on request, answered with what changed. */
static void
cmd_reload(struct cmd_ctx *x)
{
	struct catalog_changes ch;
	char		 err[512];

	if (sup_reload(x->sup, &ch, err, sizeof(err)) == -1) {
		control_error(x->client, x->id, "%s; the running configuration stays",
		    err);
		return;
	}
	sup_rescan(x->sup);
	reply(x, json_pack("{s:s,s:I,s:I,s:I,s:I}", "catalog",
	    x->sup->catalog_source, "games",
	    (json_int_t)x->sup->catalog.ngames, "added", (json_int_t)ch.added,
	    "removed", (json_int_t)ch.removed, "changed",
	    (json_int_t)ch.changed));
}

/* The organizer signs its catalog; trusting peers take it from the LAN. */
static void
cmd_catalog_publish(struct cmd_ctx *x)
{
	char		 err[512], hex[CATALOG_KEY_HEX];
	uint64_t	 serial;

	if (sup_catalog_publish(x->sup, &serial, err, sizeof(err)) == -1) {
		control_error(x->client, x->id, "cannot publish the catalog: "
		    "%s", err);
		return;
	}
	catalog_key_hex(x->sup->own_key, hex);
	reply(x, json_pack("{s:I,s:s,s:s,s:I}", "serial", (json_int_t)serial,
	    "key", hex, "catalog", x->sup->catalog_source, "games",
	    (json_int_t)x->sup->catalog.ngames));
}

/* What the other peers put in catalog_trust. */
static void
cmd_catalog_key(struct cmd_ctx *x)
{
	char		 err[512], hex[CATALOG_KEY_HEX];

	if (sup_catalog_key(x->sup, hex, err, sizeof(err)) == -1) {
		control_error(x->client, x->id, "%s", err);
		return;
	}
	reply(x, json_pack("{s:s}", "key", hex));
}

static const struct command commands[] = {
	{ "list-games",		cmd_list_games },
	{ "list-peers",		cmd_list_peers },
	{ "status",		cmd_status },
	{ "shutdown",		cmd_shutdown },
	{ "subscribe",		cmd_subscribe },
	{ "connect",		cmd_connect },
	{ "wait-peers",		cmd_wait_peers },
	{ "download",		cmd_download },
	{ "limit",		cmd_limit },
	{ "queue",		cmd_queue },
	{ "stream-install",	cmd_stream_install },
	{ "install",		cmd_install },
	{ "uninstall",		cmd_uninstall },
	{ "play",		cmd_play },
	{ "disconnect",		cmd_disconnect },
	{ "cancel-download",	cmd_cancel_download },
	{ "verify",		cmd_verify },
	{ "repair",		cmd_repair },
	{ "reload",		cmd_reload },
	{ "catalog-publish",	cmd_catalog_publish },
	{ "catalog-key",	cmd_catalog_key },
};

void
commands_dispatch(struct sup *sup, uint64_t client, json_t *req)
{
	struct cmd_ctx	 x = { sup, client, json_object_get(req, "id"), req };
	json_t		*cmd = json_object_get(req, "cmd");
	size_t		 i;

	if (!json_is_string(cmd)) {
		control_error(client, x.id,
		    "missing or invalid field: cmd (a string)");
		return;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == json_string_length(cmd) &&
		    strcmp(commands[i].name, json_string_value(cmd)) == 0) {
			commands[i].fn(&x);
			return;
		}
	control_error(client, x.id, "unknown command: %.64s",
	    json_string_value(cmd));
}
