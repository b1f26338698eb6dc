/*
 * Signed catalogs: the organizer's catalog database with a serial and an
 * Ed25519 signature, as one blob that is stored, sent and checked whole.
 *
 *   "LSCATv1\n"      8 bytes, the format
 *   key             32 bytes, the signer's public key
 *   serial           8 bytes, big-endian; a newer catalog has a larger one
 *   db              the SQLite catalog file's bytes
 *   signature       64 bytes, over everything before it
 */
#ifndef LANSPREAD_CATALOG_SIGN_H
#define LANSPREAD_CATALOG_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define CATALOG_KEY_SIZE	32
#define CATALOG_KEY_HEX		(2 * CATALOG_KEY_SIZE + 1)
#define CATALOG_SECRET_SIZE	64
#define CATALOG_SIG_SIZE	64
#define CATALOG_SIGNED_HEADER	(8 + CATALOG_KEY_SIZE + 8 + CATALOG_SIG_SIZE)
/* A catalog of ~100,000 games; one frame on a peer link holds it. */
#define CATALOG_DB_MAX		(8u * 1024 * 1024)
#define CATALOG_SIGNED_MAX	(CATALOG_SIGNED_HEADER + CATALOG_DB_MAX)

/* Files in the state dir. */
#define CATALOG_KEY_FILE	"catalog.key"		/* the secret key, 0600 */
#define CATALOG_SIGNED_FILE	"catalog.signed"	/* the newest we hold */

/* What a signed catalog says about itself; db points into the blob. */
struct signed_catalog {
	unsigned char	 key[CATALOG_KEY_SIZE];
	uint64_t	 serial;
	const unsigned char *db;
	size_t		 dblen;
};

int	catalog_sign(const unsigned char secret[CATALOG_SECRET_SIZE],
	    uint64_t serial, const void *db, size_t dblen,
	    unsigned char **blob, size_t *len, char *err, size_t errsz);
int	catalog_signed_parse(const void *blob, size_t len,
	    struct signed_catalog *, char *err, size_t errsz);
int	catalog_verify(const void *blob, size_t len,
	    const unsigned char trusted[CATALOG_KEY_SIZE],
	    struct signed_catalog *, char *err, size_t errsz);
int	catalog_serial_is_newer(uint64_t offered, uint64_t held);
uint64_t catalog_next_serial(uint64_t held, uint64_t now);

void	catalog_key_hex(const unsigned char key[CATALOG_KEY_SIZE],
	    char hex[CATALOG_KEY_HEX]);
int	catalog_key_parse(const char *hex, unsigned char key[CATALOG_KEY_SIZE]);
int	catalog_keypair_load(const char *state_dir, int create,
	    unsigned char pub[CATALOG_KEY_SIZE],
	    unsigned char secret[CATALOG_SECRET_SIZE], char *err, size_t errsz);

int	catalog_signed_read(const char *path, unsigned char **blob,
	    size_t *len, char *err, size_t errsz);
int	catalog_file_read(const char *path, size_t max, unsigned char **bytes,
	    size_t *len, char *err, size_t errsz);
int	catalog_signed_store(const char *state_dir, const void *blob,
	    size_t len, char *err, size_t errsz);

#endif
