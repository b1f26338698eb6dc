/*
 * Signed catalogs (catalog_sign.h): signing with the organizer's key,
 * checking against the key a peer trusts, the serial rule, and the files
 * in the state dir. Nothing here trusts a byte it did not check.
 */
#include <sys/stat.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "common/msgtypes.h"
#include "supervisor/catalog_sign.h"

static const char catalog_magic[8] = "LSCATv1\n";

/* Format, key and serial; the database follows, the signature ends it. */
#define SIGNED_HEAD	(sizeof(catalog_magic) + CATALOG_KEY_SIZE + 8)

_Static_assert(CATALOG_SIGNED_HEADER == SIGNED_HEAD + CATALOG_SIG_SIZE,
    "signed catalog overhead");
_Static_assert(CATALOG_SECRET_SIZE == crypto_sign_SECRETKEYBYTES,
    "Ed25519 secret key size");
_Static_assert(CATALOG_KEY_SIZE == crypto_sign_PUBLICKEYBYTES,
    "Ed25519 public key size");
_Static_assert(CATALOG_SIG_SIZE == crypto_sign_BYTES, "Ed25519 signature");
_Static_assert(CATALOG_SIGNED_MAX == MSG_MAX_CATALOG,
    "a signed catalog fits the frames that carry it");

static int
crypto_ready(char *err, size_t errsz)
{
	if (sodium_init() < 0)
		return seterr(err, errsz, "libsodium cannot start");
	return 0;
}

int
catalog_sign(const unsigned char secret[CATALOG_SECRET_SIZE],
    uint64_t serial, const void *db, size_t dblen, unsigned char **blob,
    size_t *len, char *err, size_t errsz)
{
	unsigned char	*b;
	uint64_t	 be = htobe64(serial);
	size_t		 n = CATALOG_SIGNED_HEADER + dblen;

	*blob = NULL;
	*len = 0;
	if (crypto_ready(err, errsz) == -1)
		return -1;
	if (dblen > CATALOG_DB_MAX)
		return seterr(err, errsz, "the catalog is %zu bytes; at most "
		    "%u can be published", dblen, CATALOG_DB_MAX);
	if ((b = malloc(n)) == NULL)
		return seterr(err, errsz, "out of memory");
	memcpy(b, catalog_magic, sizeof(catalog_magic));
	crypto_sign_ed25519_sk_to_pk(b + sizeof(catalog_magic), secret);
	memcpy(b + sizeof(catalog_magic) + CATALOG_KEY_SIZE, &be, 8);
	memcpy(b + SIGNED_HEAD, db, dblen);
	crypto_sign_detached(b + SIGNED_HEAD + dblen, NULL, b,
	    SIGNED_HEAD + dblen, secret);
	*blob = b;
	*len = n;
	return 0;
}

/* Reads what a blob says, without believing it: see catalog_verify(). */
int
catalog_signed_parse(const void *blob, size_t len, struct signed_catalog *sc,
    char *err, size_t errsz)
{
	const unsigned char *b = blob;
	uint64_t	 be;

	memset(sc, 0, sizeof(*sc));
	if (len < CATALOG_SIGNED_HEADER ||
	    memcmp(b, catalog_magic, sizeof(catalog_magic)) != 0)
		return seterr(err, errsz, "not a signed catalog");
	if (len > CATALOG_SIGNED_MAX)
		return seterr(err, errsz, "a signed catalog of %zu bytes is "
		    "over the limit of %u", len, CATALOG_SIGNED_MAX);
	memcpy(sc->key, b + sizeof(catalog_magic), CATALOG_KEY_SIZE);
	memcpy(&be, b + sizeof(catalog_magic) + CATALOG_KEY_SIZE, 8);
	sc->serial = be64toh(be);
	sc->db = b + SIGNED_HEAD;
	sc->dblen = len - CATALOG_SIGNED_HEADER;
	return 0;
}

/*
 * A blob signed by trusted over all it says: only then is sc filled in.
 * The key inside is compared first, so a catalog of another organizer is
 * named as such rather than as a bad signature.
 */
int
catalog_verify(const void *blob, size_t len,
    const unsigned char trusted[CATALOG_KEY_SIZE], struct signed_catalog *sc,
    char *err, size_t errsz)
{
	struct signed_catalog got;
	char		 hex[CATALOG_KEY_HEX];

	memset(sc, 0, sizeof(*sc));
	if (crypto_ready(err, errsz) == -1 ||
	    catalog_signed_parse(blob, len, &got, err, errsz) == -1)
		return -1;
	if (sodium_memcmp(got.key, trusted, CATALOG_KEY_SIZE) != 0) {
		catalog_key_hex(got.key, hex);
		return seterr(err, errsz, "signed by key %s, which is not the "
		    "one catalog_trust names", hex);
	}
	if (crypto_sign_verify_detached((const unsigned char *)blob + len -
	    CATALOG_SIG_SIZE, blob, len - CATALOG_SIG_SIZE, trusted) != 0)
		return seterr(err, errsz, "its signature does not match its "
		    "contents");
	*sc = got;
	return 0;
}

/* Only a larger serial replaces a catalog: no replay of an older one. */
int
catalog_serial_is_newer(uint64_t offered, uint64_t held)
{
	return offered > held;
}

/*
 * The serial of the next publication: past the one held, and at least the
 * time, so an organizer who lost its state dir still publishes a newer
 * one. 0 when no larger serial exists.
 */
uint64_t
catalog_next_serial(uint64_t held, uint64_t now)
{
	if (held == UINT64_MAX)
		return 0;
	return held + 1 > now ? held + 1 : now;
}

void
catalog_key_hex(const unsigned char key[CATALOG_KEY_SIZE],
    char hex[CATALOG_KEY_HEX])
{
	sodium_bin2hex(hex, CATALOG_KEY_HEX, key, CATALOG_KEY_SIZE);
}

/* 64 hex digits, nothing else; 0 or -1. */
int
catalog_key_parse(const char *hex, unsigned char key[CATALOG_KEY_SIZE])
{
	size_t	 got = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * CATALOG_KEY_SIZE)
		return -1;
	if (sodium_hex2bin(key, CATALOG_KEY_SIZE, hex, strlen(hex), NULL,
	    &got, &end) != 0 || got != CATALOG_KEY_SIZE || *end != '\0')
		return -1;
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int	 fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Up to max bytes of a regular file, read whole. */
int
catalog_file_read(const char *path, size_t max, unsigned char **bytes,
    size_t *len, char *err, size_t errsz)
{
	struct stat	 st;
	unsigned char	*b;
	size_t		 off = 0;
	int		 fd;

	*bytes = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return seterr(err, errsz, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return seterr(err, errsz, "%s is not a file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return seterr(err, errsz, "%s is %lld bytes, over the limit of "
		    "%zu", path, (long long)st.st_size, max);
	}
	if ((b = malloc(st.st_size > 0 ? st.st_size : 1)) == NULL) {
		close(fd);
		return seterr(err, errsz, "out of memory");
	}
	while (off < (size_t)st.st_size) {
		ssize_t	 n = read(fd, b + off, st.st_size - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			seterr(err, errsz, "%s: %s", path, n == 0 ?
			    "changed while read" : strerror(errno));
			free(b);
			close(fd);
			return -1;
		}
		off += n;
	}
	close(fd);
	*bytes = b;
	*len = off;
	return 0;
}

int
catalog_signed_read(const char *path, unsigned char **blob, size_t *len,
    char *err, size_t errsz)
{
	return catalog_file_read(path, CATALOG_SIGNED_MAX, blob, len, err,
	    errsz);
}

/* The whole of buf to fd; 0 or -1 with errno set. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;

	while (len > 0) {
		ssize_t	 n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Replaces the state dir's signed catalog in one step: a crash leaves the
 * old file or the new one, never a part (temp file, fsync, rename, fsync
 * of the folder).
 */
int
catalog_signed_store(const char *state_dir, const void *blob, size_t len,
    char *err, size_t errsz)
{
	char	 tmp[PATH_MAX], path[PATH_MAX];
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir,
	    CATALOG_SIGNED_FILE) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return seterr(err, errsz, "state dir path too long");
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return seterr(err, errsz, "%s: %s", tmp, strerror(errno));
	if (write_all(fd, blob, len) == -1 || fsync(fd) == -1) {
		seterr(err, errsz, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		seterr(err, errsz, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (fsync_dir(state_dir) == -1)
		return seterr(err, errsz, "%s: %s", state_dir,
		    strerror(errno));
	return 0;
}

static int
keypair_read(const char *path, unsigned char pub[CATALOG_KEY_SIZE],
    unsigned char secret[CATALOG_SECRET_SIZE], char *err, size_t errsz)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size != CATALOG_SECRET_SIZE) {
		close(fd);
		return seterr(err, errsz, "%s is not a catalog key (%d bytes "
		    "expected): move it away to make a new one", path,
		    CATALOG_SECRET_SIZE);
	}
	if ((st.st_mode & 077) != 0)
		log_warnx("%s can be read by others (mode %03o): chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
	n = read(fd, secret, CATALOG_SECRET_SIZE);
	close(fd);
	if (n != CATALOG_SECRET_SIZE)
		return seterr(err, errsz, "%s cannot be read", path);
	crypto_sign_ed25519_sk_to_pk(pub, secret);
	return 0;
}

/*
 * The organizer's catalog key pair in the state dir, made on first use
 * when create is set. -1 with err empty: there is none (and create was
 * not set); with err set: it cannot be had.
 */
int
catalog_keypair_load(const char *state_dir, int create,
    unsigned char pub[CATALOG_KEY_SIZE],
    unsigned char secret[CATALOG_SECRET_SIZE], char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (errsz > 0)
		err[0] = '\0';
	if (crypto_ready(err, errsz) == -1)
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir,
	    CATALOG_KEY_FILE) >= (int)sizeof(path))
		return seterr(err, errsz, "state dir path too long");
	if (keypair_read(path, pub, secret, err, errsz) == 0)
		return 0;
	if (err[0] != '\0' || errno != ENOENT)
		return err[0] != '\0' ? -1 : seterr(err, errsz, "%s: %s",
		    path, strerror(errno));
	if (!create)
		return -1;
	crypto_sign_keypair(pub, secret);
	/* O_EXCL: of two first uses at once, one key wins, both read it. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		sodium_memzero(secret, CATALOG_SECRET_SIZE);
		if (errno == EEXIST)
			return keypair_read(path, pub, secret, err, errsz);
		return seterr(err, errsz, "%s: %s", path, strerror(errno));
	}
	if (write_all(fd, secret, CATALOG_SECRET_SIZE) == -1 ||
	    fsync(fd) == -1) {
		seterr(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		sodium_memzero(secret, CATALOG_SECRET_SIZE);
		return -1;
	}
	close(fd);
	fsync_dir(state_dir);
	log_notice("made the catalog key %s", path);
	return 0;
}
