/*
 * The peer database in the state dir: our own identity and the peers we
 * have met, keyed by peer id, with the key each proved and the library
 * of each connected one.
 * Any host on the LAN can make up peer ids, so it is bounded: a row only
 * for a peer whose hello passed, the oldest disconnected rows pruned
 * beyond max_peers, a library only while its peer is connected and of
 * at most PEERDB_MAX_GAMES games.
 */
#ifndef LANSPREAD_PEERDB_H
#define LANSPREAD_PEERDB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/gamelist.h"
#include "common/layout.h"

#define PEERDB_MAX_PEERS	1024	/* rows kept; connected ones always */
#define PEERDB_MAX_GAMES	1024	/* games kept of one peer's library */

struct peer_info {
	char	 peer_id[PEER_ID_SIZE];
	char	 name[PEER_NAME_SIZE];
	char	 addr[64];
	int	 connected;
};

struct peerdb {
	sqlite3	*db;
	int	 max_peers;	/* PEERDB_MAX_PEERS unless a test says */
};

int	peerdb_open(struct peerdb *, const char *state_dir, char *err, size_t);
void	peerdb_close(struct peerdb *);
int	peerdb_set_identity(struct peerdb *, const char id[PEER_ID_SIZE]);
int	peerdb_check_key(struct peerdb *, const char *peer_id,
	    const char *pk_hex, char *err, size_t errsz);
int	peerdb_upsert(struct peerdb *, const struct peer_info *);
int	peerdb_set_library(struct peerdb *, const char *peer_id,
	    const struct game_entry *, size_t);
int	peerdb_set_connected(struct peerdb *, const char *peer_id, int);
int	peerdb_disconnect_all(struct peerdb *);
int	peerdb_count(struct peerdb *);

typedef int	(*peerdb_peer_cb)(const struct peer_info *, void *);
typedef int	(*peerdb_game_cb)(const struct peer_info *,
		    const struct game_entry *, void *);
int	peerdb_each_connected(struct peerdb *, peerdb_peer_cb, void *);
int	peerdb_each_remembered(struct peerdb *, int limit, peerdb_peer_cb,
	    void *);
int	peerdb_each_game(struct peerdb *, const char *peer_id,
	    peerdb_game_cb, void *);
int	peerdb_count_connected(struct peerdb *);
int	peerdb_get(struct peerdb *, const char *peer_id, struct peer_info *);

#endif
