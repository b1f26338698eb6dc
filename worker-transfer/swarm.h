/*
 * Serving the swarm: the checks a request from a peer downloading the
 * same game passes before we answer it from our own partial download.
 * Pure: no I/O, so the gates have unit tests of their own.
 */
#ifndef LANSPREAD_SWARM_H
#define LANSPREAD_SWARM_H

#include <stddef.h>

#include "common/manifest.h"
#include "common/msgtypes.h"

/*
 * Whether a swarm request for root (hex) may be answered from a download
 * whose agreed manifest m has root have_root: 0, or -1 with err filled.
 */
int	swarm_root_gate(const unsigned char have_root[HASH_SIZE],
	    const char *root, char *err, size_t errsz);

/*
 * Whether a swarm piece request may be answered from a download of
 * manifest m (root have_root, the requester's subscription root root)
 * with per-piece verified flags (piece_base[i]: file i's first piece):
 * the manifest names the path, the span starts on a piece, stays in
 * the file and within a chunk's size, and every piece of it is
 * verified. Returns the file's index, or -1 with err filled.
 */
long	swarm_piece_gate(const struct manifest *m,
	    const unsigned char have_root[HASH_SIZE], const char *root,
	    const unsigned char *verified, const size_t *piece_base,
	    const struct peer_chunk *req, char *err, size_t errsz);

/* The bitfield of verified (npieces flags), bit i of byte i / 8. */
unsigned char *swarm_bits(const unsigned char *verified, size_t npieces,
	    size_t *len);

#endif /* LANSPREAD_SWARM_H */
