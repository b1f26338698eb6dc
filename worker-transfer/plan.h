/*
 * The chunk planner: cuts a game's files into chunks and spreads them over
 * the sources so that their planned byte totals differ by at most one
 * chunk; a source that is lost hands its unfinished chunks to the least
 * loaded survivors. Pure: no I/O, no loop, no globals. The caller owns
 * every array; a source index is an index into load[] and alive[].
 */
#ifndef LANSPREAD_PLAN_H
#define LANSPREAD_PLAN_H

#include <stddef.h>
#include <stdint.h>

struct chunk {
	size_t			 file;		/* index into the file list */
	uint64_t		 offset;
	uint64_t		 length;
	int			 owner;		/* source index, or -1 */
	int			 done;
};

/*
 * Chunks the files cut into with chunk_size > 0: a file of n bytes makes
 * ceil(n / chunk_size) chunks, an empty file one chunk of length 0.
 */
size_t		plan_count(const uint64_t *sizes, size_t nfiles,
		    uint64_t chunk_size);

/*
 * Fills chunks[0 .. plan_count()) in file order, offsets ascending,
 * unowned (-1) and not done. Returns the total of the lengths.
 */
uint64_t	plan_cut(const uint64_t *sizes, size_t nfiles,
		    uint64_t chunk_size, struct chunk *chunks);

/*
 * The live source with the fewest planned bytes, the lowest index on a
 * tie; -1 when none is alive.
 */
int		plan_least_loaded(const uint64_t *load, const int *alive,
		    int nsrc);

/*
 * Gives each chunk, in order, to the least loaded live source and adds
 * its length to that source's load. -1 (EINVAL) with no live source,
 * nothing changed.
 */
int		plan_assign(struct chunk *chunks, size_t nchunks,
		    uint64_t *load, const int *alive, int nsrc);

/*
 * Source lost is gone: each of its chunks not done goes, in order, to the
 * least loaded live source, whose load grows by its length. Done chunks
 * keep their owner. Returns how many chunks moved, or -1 (EINVAL) when
 * some had to move but no source is alive.
 */
int		plan_reassign(struct chunk *chunks, size_t nchunks, int lost,
		    uint64_t *load, const int *alive, int nsrc);

#endif /* LANSPREAD_PLAN_H */
