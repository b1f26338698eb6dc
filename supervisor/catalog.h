/* The SQLite game catalog: which game ids and versions are valid. */
#ifndef LANSPREAD_CATALOG_H
#define LANSPREAD_CATALOG_H

#include <stddef.h>

#include "common/layout.h"

struct catalog_game {
	char	 id[GAME_ID_SIZE];
	char	 name[128];
	char	 version[VERSION_SIZE];
};

struct catalog {
	struct catalog_game	*games;
	size_t			 ngames;
};

/* What a reload changed, for its log line and its reply. */
struct catalog_changes {
	size_t			 added;
	size_t			 removed;
	size_t			 changed;	/* same id, another version */
};

int	catalog_load(struct catalog *, const char *path, char *err, size_t);
int	catalog_load_bytes(struct catalog *, const void *, size_t,
	    const char *what, char *err, size_t);
void	catalog_diff(const struct catalog *old, const struct catalog *cur,
	    struct catalog_changes *);
void	catalog_free(struct catalog *);
const struct catalog_game *catalog_find(const struct catalog *, const char *id);

#endif
