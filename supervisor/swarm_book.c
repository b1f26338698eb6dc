/* The swarm's bookkeeping (see swarm_book.h): no I/O, no daemon state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/swarm_book.h"

static struct swarm_peer *
find(const struct swarm_book *b, const char *peer_id)
{
	size_t	 i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->peers[i].peer_id, peer_id) == 0)
			return &b->peers[i];
	return NULL;
}

/*
 * peer_id's downloads now: the games keep() wants (those we could
 * download too), at most SWARM_PEER_GAMES; none forgets the peer.
 */
int
swarm_book_set(struct swarm_book *b, const char *peer_id,
    const struct game_entry *games, size_t n, swarm_keep_fn keep, void *arg)
{
	struct swarm_peer *p;
	struct swarm_game *kept, *fit;
	size_t		   i, nkept = 0;

	if ((kept = calloc(n < SWARM_PEER_GAMES ? n + 1 : SWARM_PEER_GAMES,
	    sizeof(*kept))) == NULL)
		return -1;
	for (i = 0; i < n && nkept < SWARM_PEER_GAMES; i++) {
		if (keep != NULL && !keep(&games[i], arg))
			continue;
		snprintf(kept[nkept].id, sizeof(kept[nkept].id), "%s",
		    games[i].id);
		snprintf(kept[nkept].version, sizeof(kept[nkept].version), "%s",
		    games[i].version);
		nkept++;
	}
	if (nkept == 0) {
		free(kept);
		swarm_book_drop(b, peer_id);
		return 0;
	}
	/* Kept while the peer is linked: no more room than it needs. */
	if ((fit = reallocarray(kept, nkept, sizeof(*kept))) != NULL)
		kept = fit;
	if ((p = find(b, peer_id)) == NULL) {
		if (b->n == b->cap) {
			size_t	 cap = b->cap ? 2 * b->cap : 16;
			struct swarm_peer *grown;

			if ((grown = reallocarray(b->peers, cap,
			    sizeof(*grown))) == NULL) {
				free(kept);
				return -1;
			}
			b->peers = grown;
			b->cap = cap;
		}
		p = &b->peers[b->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->peer_id, sizeof(p->peer_id), "%s", peer_id);
	}
	free(p->games);
	p->games = kept;
	p->ngames = nkept;
	return 0;
}

void
swarm_book_drop(struct swarm_book *b, const char *peer_id)
{
	struct swarm_peer *p = find(b, peer_id);

	if (p == NULL)
		return;
	free(p->games);
	*p = b->peers[--b->n];
}

/* Whether peer_id is downloading game_id at version. */
int
swarm_book_has(const struct swarm_book *b, const char *peer_id,
    const char *game_id, const char *version)
{
	const struct swarm_peer *p = find(b, peer_id);
	size_t	 i;

	for (i = 0; p != NULL && i < p->ngames; i++)
		if (strcmp(p->games[i].id, game_id) == 0)
			return strcmp(p->games[i].version, version) == 0;
	return 0;
}

void
swarm_book_free(struct swarm_book *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++)
		free(b->peers[i].games);
	free(b->peers);
	memset(b, 0, sizeof(*b));
}

/*
 * Adds a source to a list of room MSG_MAX_SOURCES, once per peer: a peer
 * listed complete stays so. 0, or -1 when it is full.
 */
int
sources_add(struct fetch_source *list, size_t *n, const char *peer_id,
    const char *addr, const char *ticket, int partial)
{
	struct fetch_source *s;
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (strcmp(list[i].peer_id, peer_id) == 0) {
			list[i].partial &= partial;
			return 0;
		}
	if (*n >= MSG_MAX_SOURCES)
		return -1;
	s = &list[(*n)++];
	memset(s, 0, sizeof(*s));
	snprintf(s->peer_id, sizeof(s->peer_id), "%s", peer_id);
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	snprintf(s->ticket, sizeof(s->ticket), "%s", ticket);
	s->partial = partial != 0;
	return 0;
}

static int
source_in(const struct fetch_source *s, const struct fetch_source *list,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].peer_id, s->peer_id) == 0 &&
		    strcmp(list[i].addr, s->addr) == 0 &&
		    strcmp(list[i].ticket, s->ticket) == 0 &&
		    list[i].partial == s->partial)
			return 1;
	return 0;
}

/* The same sources, in any order (a peer is listed once in each). */
int
sources_same(const struct fetch_source *a, size_t na,
    const struct fetch_source *b, size_t nb)
{
	size_t	 i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (!source_in(&a[i], b, nb))
			return 0;
	return 1;
}
