/*
 * A partial source's pieces (worker-transfer/have.c) under whatever three
 * sources send: bitfields and PEER_HAVE lists of any length and content,
 * in any order. After each message the download's counts must be exactly
 * what the sources' bits say, no source may have a piece it also asks
 * for, and once all are forgotten every count is back to zero.
 *
 * Input: one byte of piece count (1 to 256), then records of one byte
 * (source in bits 0-1, kind in bit 2: bitfield or list; 3: forget) and one
 * of length, followed by that many bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "worker-transfer/have.h"
#include "worker-transfer/pick.h"
#include "fuzz/fuzz.h"

#define NSRC	3

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check(const struct have_counts *c, const struct source_have *src)
{
	size_t	 p;
	int	 i;

	for (p = 0; p < c->npieces; p++) {
		unsigned holders = 0, asked = 0;

		for (i = 0; i < NSRC; i++) {
			if (src[i].bits == NULL)
				continue;
			holders += have_bit(src[i].bits, p);
			asked += have_bit(src[i].asking, p);
			if (have_bit(src[i].bits, p) &&
			    have_bit(src[i].asking, p))
				abort();
		}
		if (c->holders[p] != holders || c->asked[p] != asked)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t	 holders[256] = { 0 }, asked[256] = { 0 };
	struct have_counts c = { 0, holders, asked };
	struct source_have src[NSRC];
	const char	*why;
	size_t		 at = 1, i;

	if (size < 1)
		return 0;
	c.npieces = (size_t)data[0] + 1;
	memset(src, 0, sizeof(src));
	while (at + 2 <= size) {
		unsigned	 op = data[at], who = op & 3;
		size_t		 len = data[at + 1];

		at += 2;
		if (len > size - at)
			len = size - at;
		if (who >= NSRC)
			who = 0;
		why = NULL;
		if (op & 8)
			have_forget(&src[who], &c);
		else if (op & 4) {
			if (have_add(&src[who], &c, data + at, len,
			    &why) == -1 && why == NULL)
				abort();
		} else if (have_set(&src[who], &c, data + at, len, &why) ==
		    -1 && (why == NULL || src[who].bits != NULL))
			abort();
		at += len;
		check(&c, src);
	}
	for (i = 0; i < NSRC; i++)
		have_forget(&src[i], &c);
	for (i = 0; i < c.npieces; i++)
		if (holders[i] != 0 || asked[i] != 0)
			abort();
	return 0;
}
