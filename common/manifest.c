/* Manifests and the hash under them (see manifest.h). */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/manifest.h"
#include "common/path.h"

#define CHUNK_BYTES	(128ULL << 20)	/* the download unit */

static EVP_MD	*sha256;

void
hash_init(void)
{
	if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256",
	    NULL)) == NULL)
		fatalx("%s: libcrypto has no SHA-256", __func__);
}

struct hash_ctx *
hash_new(void)
{
	EVP_MD_CTX	*md;

	hash_init();
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, sha256, NULL) != 1)
		fatalx("%s: out of memory", __func__);
	return (struct hash_ctx *)md;
}

void
hash_reset(struct hash_ctx *h)
{
	if (EVP_DigestInit_ex((EVP_MD_CTX *)h, sha256, NULL) != 1)
		fatalx("%s: SHA-256 failed", __func__);
}

void
hash_update(struct hash_ctx *h, const void *buf, size_t len)
{
	if (EVP_DigestUpdate((EVP_MD_CTX *)h, buf, len) != 1)
		fatalx("%s: SHA-256 failed", __func__);
}

/* The digest of what was fed; the context starts over afterwards. */
void
hash_final(struct hash_ctx *h, unsigned char out[HASH_SIZE])
{
	if (EVP_DigestFinal_ex((EVP_MD_CTX *)h, out, NULL) != 1)
		fatalx("%s: SHA-256 failed", __func__);
	hash_reset(h);
}

void
hash_free(struct hash_ctx *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

void
hash_hex(const unsigned char in[HASH_SIZE], char out[2 * HASH_SIZE + 1])
{
	size_t	 i;

	for (i = 0; i < HASH_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

uint64_t
manifest_pieces(uint64_t size, uint64_t piece_size)
{
	return (size + piece_size - 1) / piece_size;
}

uint64_t
manifest_pieces_total(const struct manifest *m)
{
	uint64_t n = 0;
	size_t	 i;

	for (i = 0; i < m->nfiles; i++)
		n += manifest_pieces(m->files[i].size, m->piece_size);
	return n;
}

int
manifest_check(const struct manifest *m, char *err, size_t errsz)
{
	size_t	 i;
	int	 has_version = 0;

	if (m->piece_size < PIECE_SIZE_MIN || m->piece_size > PIECE_SIZE_MAX ||
	    (m->piece_size & (m->piece_size - 1)) != 0 ||
	    CHUNK_BYTES % m->piece_size != 0)
		return seterr(err, errsz, "manifest with an odd piece size");
	for (i = 0; i < m->nfiles; i++) {
		const struct manifest_file *f = &m->files[i];
		char	 why[128];

		if (path_check_peer_limits(f->path, why, sizeof(why)) == -1)
			return seterr(err, errsz, "file list with %s", why);
		if (!path_is_transferable(f->path) ||
		    (i > 0 && strcmp(m->files[i - 1].path, f->path) >= 0))
			return seterr(err, errsz,
			    "file list with a path we do not accept");
		if (f->size > FILE_SIZE_MAX || f->hashes_len != HASH_SIZE *
		    manifest_pieces(f->size, m->piece_size))
			return seterr(err, errsz,
			    "manifest with the wrong number of hashes");
		has_version |= strcmp(f->path, VERSION_FILE) == 0;
	}
	if (!has_version)
		return seterr(err, errsz, "file list without version.ini");
	return 0;
}

/*
 * Every field goes in with its length first, so no two manifests feed
 * the hash the same bytes.
 */
static void
root_field(struct hash_ctx *h, const void *buf, uint64_t len)
{
	uint64_t le = htole64(len);

	hash_update(h, &le, sizeof(le));
	hash_update(h, buf, len);
}

void
manifest_root(const struct manifest *m, unsigned char out[HASH_SIZE])
{
	struct hash_ctx	*h = hash_new();
	uint64_t	 v;
	size_t		 i;

	root_field(h, "lanspread-manifest-1", 20);
	root_field(h, m->version, strlen(m->version));
	v = htole64(m->piece_size);
	root_field(h, &v, sizeof(v));
	for (i = 0; i < m->nfiles; i++) {
		root_field(h, m->files[i].path, strlen(m->files[i].path));
		v = htole64(m->files[i].size);
		root_field(h, &v, sizeof(v));
		root_field(h, m->files[i].hashes, m->files[i].hashes_len);
	}
	hash_final(h, out);
	hash_free(h);
}

long
manifest_find(const struct manifest *m, const char *path)
{
	size_t	 lo = 0, hi = m->nfiles;

	while (lo < hi) {
		size_t	 mid = (lo + hi) / 2;
		int	 c = strcmp(path, m->files[mid].path);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void
manifest_free(struct manifest *m)
{
	size_t	 i;

	for (i = 0; i < m->nfiles; i++) {
		free(m->files[i].path);
		free(m->files[i].hashes);
	}
	free(m->files);
	m->files = NULL;
	m->nfiles = 0;
}
