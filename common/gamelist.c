/* What an advertised library must hold, whoever sent it. */
#include <string.h>

#include "common/gamelist.h"
#include "common/path.h"

int
gamelist_check(const struct game_entry *games, size_t n, const char **why)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		const struct game_entry *g = &games[i];

		if (!path_is_valid_game_id(g->id)) {
			*why = "bad game id";
			return -1;
		}
		if (strcmp(g->availability, "Ready") != 0 &&
		    strcmp(g->availability, "LocalOnly") != 0) {
			*why = "bad game entry";
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(games[j].id, g->id) == 0) {
				*why = "duplicate game id";
				return -1;
			}
	}
	return 0;
}
