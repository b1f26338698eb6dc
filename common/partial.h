/*
 * A download kept for resuming: its staging folder holds, beside the
 * files being fetched, the agreed manifest and which of its pieces were
 * verified (a byte each), both written atomically and synced after the
 * pieces' data.
 *
 *   GAMES/<id>/.lanspread.staging/.lanspread.manifest
 *   GAMES/<id>/.lanspread.staging/.lanspread.pieces
 */
#ifndef LANSPREAD_PARTIAL_H
#define LANSPREAD_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/manifest.h"

#define PARTIAL_MANIFEST	".lanspread.manifest"
#define PARTIAL_PIECES		".lanspread.pieces"

int	partial_save_manifest(int staging_fd, const struct manifest *,
	    char *err, size_t errsz);
int	partial_load_manifest(int staging_fd, struct manifest *, char *err,
	    size_t errsz);
int	partial_save_pieces(int staging_fd, const unsigned char *, size_t);

/* The verified flags; 0 when the file has exactly n of them. */
int	partial_load_pieces(int staging_fd, unsigned char *, size_t n);

/* Bytes of the game verified, and its size: the kept download's state. */
int	partial_progress(int game_fd, uint64_t *bytes, uint64_t *total);

#endif
