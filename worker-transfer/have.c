/*
 * A partial source's bitfield and asked pieces, and the download's
 * counts of them (have.h).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "common/msgtypes.h"
#include "worker-transfer/have.h"
#include "worker-transfer/pick.h"

static void
bit_set(unsigned char *bits, size_t i, int on)
{
	if (on)
		bits[i / 8] |= 1u << (i % 8);
	else
		bits[i / 8] &= ~(1u << (i % 8));
}

int
have_set(struct source_have *sh, struct have_counts *c,
    const unsigned char *bits, size_t len, const char **why)
{
	size_t	 i;

	have_forget(sh, c);
	if (len != (c->npieces + 7) / 8) {
		*why = "a bitfield that is not this game's";
		return -1;
	}
	if ((sh->bits = calloc(len + 1, 1)) == NULL ||
	    (sh->asking = calloc(len + 1, 1)) == NULL) {
		free(sh->bits);
		sh->bits = NULL;
		*why = "out of memory";
		return -1;
	}
	if (len > 0)
		memcpy(sh->bits, bits, len);
	/* Bits past the last piece mean nothing: they are not counted. */
	for (i = 0; i < c->npieces; i++)
		if (have_bit(sh->bits, i))
			c->holders[i]++;
	return 0;
}

int
have_add(struct source_have *sh, struct have_counts *c,
    const unsigned char *list, size_t len, const char **why)
{
	size_t	 i;

	if (len % 4 != 0) {
		*why = "a piece list of odd length";
		return -1;
	}
	for (i = 0; i < len; i += 4) {
		uint32_t p;
		int	 asking;

		memcpy(&p, list + i, 4);
		p = le32toh(p);
		asking = (p & PIECE_ASKED) != 0;
		p &= ~PIECE_ASKED;
		if (p >= c->npieces) {
			*why = "a piece the game does not have";
			return -1;
		}
		if (sh->bits == NULL || have_bit(sh->bits, p))
			continue;	/* no bitfield yet, or had it */
		if (asking) {
			if (!have_bit(sh->asking, p)) {
				bit_set(sh->asking, p, 1);
				c->asked[p]++;
			}
			continue;
		}
		bit_set(sh->bits, p, 1);
		c->holders[p]++;
		if (have_bit(sh->asking, p)) {
			bit_set(sh->asking, p, 0);
			c->asked[p]--;
		}
	}
	return 0;
}

void
have_forget(struct source_have *sh, struct have_counts *c)
{
	size_t	 i;

	if (sh->bits == NULL)
		return;
	for (i = 0; i < c->npieces; i++) {
		if (have_bit(sh->bits, i))
			c->holders[i]--;
		if (have_bit(sh->asking, i))
			c->asked[i]--;
	}
	free(sh->bits);
	free(sh->asking);
	sh->bits = sh->asking = NULL;
}
