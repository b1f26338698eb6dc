/*
 * The chunk planner (see plan.h): which bytes of which file each source
 * is asked for. fetch.c keeps the state and does the talking.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "worker-transfer/plan.h"

/* Chunks of one file; an empty file still makes one, of length 0. */
static uint64_t
file_chunks(uint64_t size, uint64_t chunk_size)
{
	if (size == 0)
		return 1;
	return size / chunk_size + (size % chunk_size != 0);
}

size_t
plan_count(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size)
{
	size_t	 i, n = 0;

	for (i = 0; i < nfiles; i++)
		n += file_chunks(sizes[i], chunk_size);
	return n;
}

uint64_t
plan_cut(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
    struct chunk *chunks)
{
	uint64_t total = 0;
	size_t	 i, n = 0;

	for (i = 0; i < nfiles; i++) {
		uint64_t off = 0;

		do {
			struct chunk	*c = &chunks[n++];

			c->file = i;
			c->offset = off;
			c->length = sizes[i] - off > chunk_size ?
			    chunk_size : sizes[i] - off;
			c->owner = -1;
			c->done = 0;
			off += c->length;
			total += c->length;
		} while (off < sizes[i]);
	}
	return total;
}

int
plan_least_loaded(const uint64_t *load, const int *alive, int nsrc)
{
	int	 i, best = -1;

	for (i = 0; i < nsrc; i++)
		if (alive[i] && (best == -1 || load[i] < load[best]))
			best = i;
	return best;
}

int
plan_assign(struct chunk *chunks, size_t nchunks, uint64_t *load,
    const int *alive, int nsrc)
{
	size_t	 i;
	int	 to;

	if (plan_least_loaded(load, alive, nsrc) == -1) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nchunks; i++) {
		to = plan_least_loaded(load, alive, nsrc);
		chunks[i].owner = to;
		load[to] += chunks[i].length;
	}
	return 0;
}

int
plan_reassign(struct chunk *chunks, size_t nchunks, int lost,
    uint64_t *load, const int *alive, int nsrc)
{
	size_t	 i;
	int	 to, moved = 0;

	for (i = 0; i < nchunks; i++) {
		struct chunk	*c = &chunks[i];

		if (c->done || c->owner != lost)
			continue;
		if ((to = plan_least_loaded(load, alive, nsrc)) == -1) {
			errno = EINVAL;
			return -1;
		}
		c->owner = to;
		load[to] += c->length;
		moved++;
	}
	return moved;
}
