/*
 * What a partial source has: its bitfield, and the pieces it said it
 * fetches from a complete source (PIECE_ASKED), kept in step with the
 * download's per-piece counts that the picker reads. Everything here
 * comes from a peer, so every count raised for a source is lowered
 * again when it is forgotten, whatever it sent.
 * Pure: no I/O, no loop; fetch.c feeds it the messages.
 */
#ifndef LANSPREAD_HAVE_H
#define LANSPREAD_HAVE_H

#include <stddef.h>
#include <stdint.h>

/* A download's counts per piece, over all its partial sources. */
struct have_counts {
	size_t		 npieces;
	uint16_t	*holders;	/* sources that have it */
	uint16_t	*asked;		/* sources fetching it elsewhere */
};

/* One source's part in them. */
struct source_have {
	unsigned char	*bits;		/* verified pieces; NULL: not told
					   (a complete source has them all) */
	unsigned char	*asking;	/* pieces it fetches elsewhere */
};

/*
 * The source's bitfield (PEER_SWARM_HAVE), which replaces what it said
 * before. -1 with *why set when it is not this download's size, or out
 * of memory; the source then counts for nothing.
 */
int	have_set(struct source_have *, struct have_counts *,
	    const unsigned char *bits, size_t len, const char **why);

/*
 * A list of little-endian piece numbers (PEER_HAVE): verified since, or
 * with PIECE_ASKED, being fetched from a complete source. -1 with *why
 * set for an odd length or a piece past the game's end; what came
 * before it counts. Ignored before the bitfield.
 */
int	have_add(struct source_have *, struct have_counts *,
	    const unsigned char *list, size_t len, const char **why);

/* The source counts no more (it left, or sends a bitfield again). */
void	have_forget(struct source_have *, struct have_counts *);

#endif /* LANSPREAD_HAVE_H */
