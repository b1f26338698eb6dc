/* What an advertised library must hold, whoever sent it. */
#include <string.h>

#include "common/gamelist.h"
#include "common/log.h"
#include "common/path.h"

int
gamelist_check(const struct game_entry *games, size_t n, char *err,
    size_t errsz)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		const struct game_entry *g = &games[i];

		if (!path_is_valid_game_id(g->id))
			return seterr(err, errsz, "bad game id");
		if (strcmp(g->availability, "Ready") != 0 &&
		    strcmp(g->availability, "LocalOnly") != 0)
			return seterr(err, errsz, "bad game entry");
		for (j = 0; j < i; j++)
			if (strcmp(games[j].id, g->id) == 0)
				return seterr(err, errsz, "duplicate game id");
	}
	return 0;
}
