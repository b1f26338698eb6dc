/* The swarm's serve gates (see swarm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/path.h"
#include "worker-transfer/swarm.h"
#include "worker-transfer/transfer.h"

int
swarm_root_gate(const unsigned char have_root[HASH_SIZE], const char *root,
    char *err, size_t errsz)
{
	char	 hex[2 * HASH_SIZE + 1];

	hash_hex(have_root, hex);
	if (strcmp(hex, root) != 0)
		return seterr(err, errsz, "we download another manifest of "
		    "that game");
	return 0;
}

long
swarm_piece_gate(const struct manifest *m,
    const unsigned char have_root[HASH_SIZE], const char *root,
    const unsigned char *verified, const size_t *piece_base,
    const struct peer_chunk *req, char *err, size_t errsz)
{
	uint64_t	 ps = m->piece_size, size, at;
	long		 i;

	if (swarm_root_gate(have_root, root, err, errsz) == -1)
		return -1;
	if (strcmp(req->game_id, m->game_id) != 0)
		return seterr(err, errsz, "not the game this link asked for");
	if (!path_is_transferable(req->path) ||
	    (i = manifest_find(m, req->path)) < 0)
		return seterr(err, errsz, "not a file of the game");
	size = m->files[i].size;
	if (req->length == 0 || req->length > CHUNK_SIZE ||
	    req->offset % ps != 0 || req->offset > size ||
	    req->length > size - req->offset)
		return seterr(err, errsz, "range outside the file or not on "
		    "a piece");
	for (at = req->offset; at < req->offset + req->length; at += ps)
		if (!verified[piece_base[i] + at / ps])
			return seterr(err, errsz, "piece %llu of %s is not "
			    "verified here", (unsigned long long)(at / ps),
			    req->path);
	return i;
}

unsigned char *
swarm_bits(const unsigned char *verified, size_t npieces, size_t *len)
{
	unsigned char	*bits;
	size_t		 i;

	*len = (npieces + 7) / 8;
	if ((bits = calloc(*len + 1, 1)) == NULL)
		return NULL;
	for (i = 0; i < npieces; i++)
		if (verified == NULL || verified[i])
			bits[i / 8] |= 1u << (i % 8);
	return bits;
}
