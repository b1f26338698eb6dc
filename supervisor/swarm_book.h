/*
 * The swarm as the supervisor keeps it: the games each linked peer says
 * it is downloading, in memory only and never in the peer database, so
 * a peer holding part of a game is never counted as having it; and the
 * source lists of our downloads, compared so that the transfer worker
 * hears of a change only.
 */
#ifndef LANSPREAD_SWARM_BOOK_H
#define LANSPREAD_SWARM_BOOK_H

#include <stddef.h>

#include "common/gamelist.h"
#include "common/layout.h"
#include "common/msgtypes.h"

#define SWARM_PEER_GAMES	1024	/* kept of one peer's downloads */

struct swarm_game {
	char	 id[GAME_ID_SIZE];
	char	 version[VERSION_SIZE];
};

struct swarm_peer {
	char			 peer_id[PEER_ID_SIZE];
	struct swarm_game	*games;
	size_t			 ngames;
};

struct swarm_book {
	struct swarm_peer	*peers;
	size_t			 n;
	size_t			 cap;
};

typedef int	(*swarm_keep_fn)(const struct game_entry *, void *);

int	swarm_book_set(struct swarm_book *, const char *peer_id,
	    const struct game_entry *, size_t, swarm_keep_fn, void *);
void	swarm_book_drop(struct swarm_book *, const char *peer_id);
int	swarm_book_has(const struct swarm_book *, const char *peer_id,
	    const char *game_id, const char *version);
void	swarm_book_free(struct swarm_book *);

int	sources_add(struct fetch_source *, size_t *n, const char *peer_id,
	    const char *addr, const char *ticket, int partial);
int	sources_same(const struct fetch_source *, size_t,
	    const struct fetch_source *, size_t);

#endif
