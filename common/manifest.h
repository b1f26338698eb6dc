/*
 * A game's manifest: its files (paths and sizes) and a SHA-256 of every
 * piece of every file, plus a root hash over all of it. Pieces are cut
 * per file from offset 0, so a 128 MiB chunk is a whole number of them.
 * SHA-256 because libcrypto runs it on this CPU's SHA extensions (see
 * bench/hashspeed). 1 MiB pieces: a peer still downloading passes each
 * on once it has 1 MiB of it (bench/swarm, 16 receivers: 1.29x one
 * alone, 1.57x with 4 MiB pieces), a repair refetches 1 MiB a bad byte,
 * and a 50 GiB game's manifest is 1.6 MiB (a file list may be 16 MiB).
 */
#ifndef LANSPREAD_MANIFEST_H
#define LANSPREAD_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/layout.h"

#define HASH_SIZE		32
#define PIECE_SIZE		(1ULL << 20)
#define PIECE_SIZE_MIN		(64ULL << 10)
#define PIECE_SIZE_MAX		(16ULL << 20)
#define MANIFEST_MAX_HASHES	(8u << 20)	/* bytes of hashes in a file */
#define FILE_SIZE_MAX		(1ULL << 50)

struct manifest_file {
	char		*path;		/* relative to the game folder */
	uint64_t	 size;
	unsigned char	*hashes;	/* HASH_SIZE per piece */
	size_t		 hashes_len;
};

struct manifest {
	char		 game_id[GAME_ID_SIZE];
	char		 version[VERSION_SIZE];
	uint64_t	 piece_size;
	struct manifest_file *files;	/* sorted by path */
	size_t		 nfiles;
};

/* Loads the hash once, before any sandbox hides libcrypto's files. */
void	hash_init(void);

/* An incremental SHA-256. */
struct hash_ctx;
struct hash_ctx	*hash_new(void);
void	hash_reset(struct hash_ctx *);
void	hash_update(struct hash_ctx *, const void *, size_t);
void	hash_final(struct hash_ctx *, unsigned char out[HASH_SIZE]);
void	hash_free(struct hash_ctx *);
void	hash_hex(const unsigned char in[HASH_SIZE], char out[2 * HASH_SIZE + 1]);

/* How many pieces a file of size bytes has (0 for an empty file). */
uint64_t manifest_pieces(uint64_t size, uint64_t piece_size);

/* How many pieces all of a manifest's files have. */
uint64_t manifest_pieces_total(const struct manifest *);

/*
 * What a manifest from anyone must be: a piece size we accept, paths
 * sorted, unique and transferable, sizes in range, one hash per piece,
 * and version.ini among the files. Returns 0, or -1 with err filled.
 */
int	manifest_check(const struct manifest *, char *err, size_t errsz);

/* The root: SHA-256 over the version, piece size and every file's entry. */
void	manifest_root(const struct manifest *, unsigned char out[HASH_SIZE]);

/* Index of path in the manifest, or -1. */
long	manifest_find(const struct manifest *, const char *path);

void	manifest_free(struct manifest *);

#endif
