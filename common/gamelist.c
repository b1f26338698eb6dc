/* What an advertised library must hold, whoever sent it. */
#include <stdlib.h>
#include <string.h>

#include "common/gamelist.h"
#include "common/log.h"
#include "common/path.h"

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Any host may send GAMELIST_MAX entries: duplicates are found by sorting
 * (n log n), not by comparing every pair.
 */
static int
distinct_ids(const struct game_entry *games, size_t n, char *err,
    size_t errsz)
{
	const char	**ids;
	size_t		  i;
	int		  dup = 0;

	if (n < 2)
		return 0;
	if ((ids = calloc(n, sizeof(*ids))) == NULL)
		return seterr(err, errsz, "out of memory");
	for (i = 0; i < n; i++)
		ids[i] = games[i].id;
	qsort(ids, n, sizeof(*ids), id_cmp);
	for (i = 1; i < n && !dup; i++)
		dup = strcmp(ids[i - 1], ids[i]) == 0;
	free(ids);
	return dup ? seterr(err, errsz, "duplicate game id") : 0;
}

int
gamelist_check(const struct game_entry *games, size_t n, char *err,
    size_t errsz)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		const struct game_entry *g = &games[i];

		if (!path_is_valid_game_id(g->id))
			return seterr(err, errsz, "bad game id");
		if (strcmp(g->availability, "Ready") != 0 &&
		    strcmp(g->availability, "LocalOnly") != 0)
			return seterr(err, errsz, "bad game entry");
	}
	return distinct_ids(games, n, err, errsz);
}

/*
 * A peer's downloads (the swarm): valid, distinct ids; what else an entry
 * says is only compared, never trusted.
 */
int
gamelist_check_downloads(const struct game_entry *games, size_t n, char *err,
    size_t errsz)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!path_is_valid_game_id(games[i].id))
			return seterr(err, errsz, "bad game id");
	return distinct_ids(games, n, err, errsz);
}

/*
 * Moves the games first() wants to the front, each group in its order;
 * returns how many it wants. On no memory the order is left as it was.
 */
size_t
gamelist_prefer(struct game_entry *games, size_t n,
    int (*first)(const struct game_entry *, void *), void *arg)
{
	struct game_entry *sorted;
	size_t		   i, front = 0, back;

	for (i = 0; i < n; i++)
		front += first(&games[i], arg) != 0;
	if (front == 0 || front == n ||
	    (sorted = calloc(n, sizeof(*sorted))) == NULL)
		return front;
	back = front;
	front = 0;
	for (i = 0; i < n; i++) {
		if (first(&games[i], arg))
			sorted[front++] = games[i];
		else
			sorted[back++] = games[i];
	}
	memcpy(games, sorted, n * sizeof(*games));
	free(sorted);
	return front;
}
