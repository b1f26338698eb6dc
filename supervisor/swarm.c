/*
 * The swarm, supervisor side (issue 11). Our downloads are told to the
 * linked peers from the moment their pieces can be served (XFER_BEGIN)
 * until they end, so those peers may fetch the pieces we verified. What
 * the peers tell us of theirs is kept in memory only (swarm_book.h) and
 * never aggregated: it only adds "partial" sources to a running download
 * of the same game and version. Every running download hears of its
 * sources again (MSG_XFER_SOURCES) whenever they may have changed, and
 * only when the list differs from the last one it got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gamelist.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

static int
in_catalog(const struct game_entry *g, void *arg)
{
	struct sup	*sup = arg;

	return catalog_find(&sup->catalog, g->id) != NULL;
}

static int
is_download(const struct operation *op)
{
	return op->kind == OP_DOWNLOADING && op->fetching;
}

/* The sources op may use now: complete holders, then partial ones. */
static size_t
sources_now(struct sup *sup, const struct operation *op,
    struct fetch_source *list)
{
	struct xfer_fetch complete;
	struct game_sources src;
	struct peer_info pi;
	size_t		 i, n;

	memset(&complete, 0, sizeof(complete));
	complete.sources = list;
	commands_sources_at(sup, op->game_id, op->version, &src, &complete);
	n = complete.nsources;
	for (i = 0; i < sup->swarm.n; i++) {
		const char *id = sup->swarm.peers[i].peer_id;

		if (strcmp(id, sup->peer_id) == 0 ||
		    !swarm_book_has(&sup->swarm, id, op->game_id,
		    op->version) ||
		    peerdb_get(&sup->peerdb, id, &pi) == -1 || !pi.connected)
			continue;
		if (sources_add(list, &n, id, pi.addr,
		    tickets_find(&sup->tickets, id), 1) == -1)
			break;
	}
	return n;
}

/* op hears of its sources if they are not what it last heard. */
static void
sources_update(struct sup *sup, struct operation *op)
{
	struct xfer_sources xs;

	if (!is_download(op))
		return;
	memset(&xs, 0, sizeof(xs));
	if ((xs.sources = calloc(MSG_MAX_SOURCES, sizeof(*xs.sources))) ==
	    NULL) {
		log_warn("%s", __func__);
		return;
	}
	xs.nsources = sources_now(sup, op, xs.sources);
	if (sources_same(xs.sources, xs.nsources, op->sources,
	    op->nsources)) {
		free(xs.sources);
		return;
	}
	snprintf(xs.game_id, sizeof(xs.game_id), "%s", op->game_id);
	if (msg_send_xfer_sources(sup_link(sup, PROC_TRANSFER), &xs) == -1) {
		free(xs.sources);
		return;
	}
	log_debug("%s: %zu sources now", op->game_id, xs.nsources);
	free(op->sources);
	op->sources = xs.sources;
	op->nsources = xs.nsources;
}

/* Something about the peers changed: every download looks again. */
void
swarm_sources_update(struct sup *sup)
{
	struct operation *op;

	TAILQ_FOREACH(op, &sup->ops, entry)
		sources_update(sup, op);
}

/* A linked peer's downloads (the net worker checked the ids). */
void
swarm_peer_told(struct sup *sup, const struct net_peer_library *told)
{
	struct peer_info pi;

	/* A peer the supervisor refused may still be heard of once. */
	if (peerdb_get(&sup->peerdb, told->peer_id, &pi) == -1 ||
	    !pi.connected)
		return;
	if (swarm_book_set(&sup->swarm, told->peer_id, told->games,
	    told->ngames, in_catalog, sup) == -1) {
		log_warn("%s", __func__);
		return;
	}
	swarm_sources_update(sup);
}

void
swarm_peer_down(struct sup *sup, const char *peer_id)
{
	swarm_book_drop(&sup->swarm, peer_id);
	swarm_sources_update(sup);
}

/* Every peer link was in the net worker that died. */
void
swarm_net_lost(struct sup *sup)
{
	swarm_book_free(&sup->swarm);
	swarm_sources_update(sup);
}

/* A net worker starts with no list of ours: it gets the one we hold. */
void
swarm_net_ready(struct sup *sup)
{
	msg_free_net_swarm(&sup->swarm_told);
	swarm_ops_changed(sup);
}

/* A download was asked of the transfer worker with these sources. */
void
swarm_fetch_sent(struct sup *sup, const struct xfer_fetch *fetch)
{
	struct operation *op = sup_op_find(sup, fetch->game_id);

	if (op == NULL || op->kind != OP_DOWNLOADING)
		return;
	swarm_op_clear(op);
	if ((op->sources = calloc(fetch->nsources + 1,
	    sizeof(*op->sources))) == NULL) {
		log_warn("%s", __func__);
		return;
	}
	memcpy(op->sources, fetch->sources, fetch->nsources *
	    sizeof(*op->sources));
	op->nsources = fetch->nsources;
	snprintf(op->version, sizeof(op->version), "%s", fetch->version);
	op->fetching = 1;
	/* Peers downloading it already join at once. */
	sources_update(sup, op);
}

/* Its manifest is agreed and its staging ready: pieces can be served. */
void
swarm_began(struct sup *sup, struct operation *op, uint64_t total)
{
	if (!is_download(op) || op->swarming)
		return;
	op->swarming = 1;
	op->size = total;
	swarm_ops_changed(sup);
}

/* A new phase of an operation, or its end: no longer a download. */
void
swarm_op_clear(struct operation *op)
{
	free(op->sources);
	op->sources = NULL;
	op->nsources = 0;
	op->fetching = 0;
	op->swarming = 0;
}

static int
told_same(const struct game_list *a, const struct game_list *b)
{
	size_t	 i;

	if (a->ngames != b->ngames)
		return 0;
	for (i = 0; i < a->ngames; i++)
		if (strcmp(a->games[i].id, b->games[i].id) != 0 ||
		    strcmp(a->games[i].version, b->games[i].version) != 0 ||
		    a->games[i].size != b->games[i].size)
			return 0;
	return 1;
}

/* The operations changed: the peers hear our downloads if they did. */
void
swarm_ops_changed(struct sup *sup)
{
	struct operation *op;
	struct game_list now;
	size_t		 n = 0;

	TAILQ_FOREACH(op, &sup->ops, entry)
		n++;
	memset(&now, 0, sizeof(now));
	if ((now.games = calloc(n + 1, sizeof(*now.games))) == NULL) {
		log_warn("%s", __func__);
		return;
	}
	TAILQ_FOREACH(op, &sup->ops, entry) {
		struct game_entry *g = &now.games[now.ngames];

		if (!is_download(op) || !op->swarming)
			continue;
		snprintf(g->id, sizeof(g->id), "%s", op->game_id);
		snprintf(g->version, sizeof(g->version), "%s", op->version);
		snprintf(g->availability, sizeof(g->availability),
		    "Downloading");
		g->size = op->size;
		now.ngames++;
	}
	if ((sup->swarm_told.games != NULL && told_same(&now,
	    &sup->swarm_told)) ||
	    msg_send_net_swarm(sup_link(sup, PROC_NET), &now) == -1) {
		free(now.games);
		return;
	}
	msg_free_net_swarm(&sup->swarm_told);
	sup->swarm_told = now;
}

void
swarm_free(struct sup *sup)
{
	swarm_book_free(&sup->swarm);
	msg_free_net_swarm(&sup->swarm_told);
}
