/*
 * The piece picker: which pieces a download asks of a source next.
 * Pure: no I/O, no loop, no globals; fetch.c keeps the state.
 */
#ifndef LANSPREAD_PICK_H
#define LANSPREAD_PICK_H

#include <stddef.h>
#include <stdint.h>

#include "worker-transfer/plan.h"

/* A download's pieces, as the picker sees them. */
struct pick_view {
	size_t			 npieces;
	const unsigned char	*verified;	/* per piece: 1 once checked */
	const unsigned char	*inflight;	/* per piece: sources asked */
	const uint16_t		*holders;	/* per piece: partial sources
						   that have it */
	const uint16_t		*asked;		/* per piece: partial sources
						   fetching it from a complete
						   one */
	const uint32_t		*chunk_of;	/* per piece: its chunk */
	const struct chunk	*chunks;	/* their files and owners */
};

/* A run of pieces to ask for: first .. first + count - 1, one file. */
struct pick {
	size_t		 first;
	size_t		 count;
	int		 dup;	/* endgame: already asked of another */
};

/*
 * Picks for source self, which has the pieces whose bits are set in have
 * (NULL: a complete source, it has them all), among pieces with at most
 * max_holders partial holders (those fetching it count too). Rarest
 * first: the fewest partial holders; among equals a piece of self's own
 * chunks first (two equal sources keep the planned split), of the first
 * such chunk when nothing limits self (chunks fill in order), then one
 * at random (*rng, a xorshift state: receivers starting together ask
 * for different ones).
 * The run goes on through the next pieces of the same chunk that are as
 * rare, needed, asked of nobody and held by self, up to max. Once every
 * missing piece is asked of someone, the endgame: one asked of exactly
 * one other source, the last such, is asked again (count 1, dup 1),
 * within max_holders too.
 * Returns 1 with *out filled, 0 when self has nothing to do.
 */
int	pick_run(const struct pick_view *, const unsigned char *have, int self,
	    unsigned max_holders, size_t max, uint64_t *rng, struct pick *out);

/* Bit i of a have bitfield (bit i % 8 of byte i / 8). */
static inline int
have_bit(const unsigned char *have, size_t i)
{
	return have == NULL || (have[i / 8] >> (i % 8)) & 1;
}

#endif /* LANSPREAD_PICK_H */
