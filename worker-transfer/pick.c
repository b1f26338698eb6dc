/* The piece picker (see pick.h). */
#include <limits.h>

#include "worker-transfer/pick.h"

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s != 0 ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int
wanted(const struct pick_view *v, const unsigned char *have, size_t i)
{
	return !v->verified[i] && v->inflight[i] == 0 && have_bit(have, i);
}

int
pick_run(const struct pick_view *v, const unsigned char *have, int self,
    unsigned max_holders, size_t max, uint64_t *rng, struct pick *out)
{
	size_t		 i, best = v->npieces, ties = 0;
	uint64_t	 best_key = 0;
	int		 unasked = 0;
	int		 in_order = have == NULL && max_holders == UINT_MAX;

	for (i = 0; i < v->npieces; i++) {
		uint64_t key;

		unasked |= !v->verified[i] && v->inflight[i] == 0;
		if (!wanted(v, have, i) ||
		    (unsigned)v->holders[i] + v->asked[i] > max_holders)
			continue;
		/*
		 * Rarity first, then our own chunks, then (from complete
		 * sources alone) the first chunk: lower is better. Chunks fill
		 * one after the other, so their events come as the download
		 * goes; in a swarm the whole game is spread instead.
		 */
		key = ((uint64_t)(2u * v->holders[i] +
		    (v->chunks[v->chunk_of[i]].owner != self)) << 32) |
		    (in_order ? v->chunk_of[i] : 0);
		if (best == v->npieces || key < best_key) {
			best = i;
			best_key = key;
			ties = 1;
		} else if (key == best_key && xorshift(rng) % ++ties == 0)
			best = i;
	}
	if (best < v->npieces) {
		out->first = best;
		out->count = 1;
		out->dup = 0;
		while (out->count < max && best + out->count < v->npieces) {
			i = best + out->count;
			if (v->chunk_of[i] != v->chunk_of[best] ||
			    !wanted(v, have, i) ||
			    v->holders[i] != v->holders[best])
				break;
			out->count++;
		}
		return 1;
	}
	if (unasked)
		return 0;	/* not the endgame yet */
	/* Endgame: the last piece only one other source is fetching. */
	for (i = v->npieces; i-- > 0;)
		if (!v->verified[i] && v->inflight[i] == 1 &&
		    have_bit(have, i) &&
		    (unsigned)v->holders[i] + v->asked[i] <= max_holders) {
			out->first = i;
			out->count = 1;
			out->dup = 1;
			return 1;
		}
	return 0;
}
