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

int	catalog_load(struct catalog *, const char *path, char *err, size_t);
void	catalog_free(struct catalog *);
const struct catalog_game *catalog_find(const struct catalog *, const char *id);

#endif
