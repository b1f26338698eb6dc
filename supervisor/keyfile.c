/*
 * The key file (see keyfile.h). It is written whole under a temporary
 * name and linked into place, so a crash never leaves half a key and two
 * starts racing keep one key. Its mode is kept at 0600: a key others can
 * read is an identity others can take.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/keyfile.h"

static int
read_seed(int fd, unsigned char seed[IDENTITY_SEED_LEN], const char *path,
    char *err, size_t errsz)
{
	struct stat	 st;
	unsigned char	 extra;
	ssize_t		 n;

	if (fstat(fd, &st) == -1)
		return seterr(err, errsz, "%s: %s", path, strerror(errno));
	if ((st.st_mode & 077) != 0) {
		log_warnx("%s was readable by others (mode %03o); it is 0600 "
		    "now, but whoever read it can act as this peer", path,
		    (unsigned)(st.st_mode & 0777));
		if (fchmod(fd, 0600) == -1)
			return seterr(err, errsz, "%s: %s", path,
			    strerror(errno));
	}
	n = read(fd, seed, IDENTITY_SEED_LEN);
	if (n != IDENTITY_SEED_LEN || read(fd, &extra, 1) != 0)
		return seterr(err, errsz, "%s: not a key of %d bytes (move it "
		    "away to make a new identity)", path, IDENTITY_SEED_LEN);
	return 0;
}

static int
create_seed(const char *state_dir, const char *path,
    unsigned char seed[IDENTITY_SEED_LEN], char *err, size_t errsz)
{
	char	 tmp[PATH_MAX];
	int	 fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", state_dir,
	    KEYFILE_NAME, (long)getpid()) >= sizeof(tmp))
		return seterr(err, errsz, "state dir path too long");
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1)
		return seterr(err, errsz, "%s: %s", tmp, strerror(errno));
	randombytes_buf(seed, IDENTITY_SEED_LEN);
	rc = write(fd, seed, IDENTITY_SEED_LEN) == IDENTITY_SEED_LEN &&
	    fsync(fd) == 0 ? 0 : -1;
	close(fd);
	/* link(2) fails if another start made one first: theirs is kept. */
	if (rc == 0 && link(tmp, path) == -1 && errno != EEXIST)
		rc = -1;
	if (rc == -1)
		seterr(err, errsz, "cannot write %s: %s", path,
		    strerror(errno));
	unlink(tmp);
	sodium_memzero(seed, IDENTITY_SEED_LEN);
	return rc;
}

int
keyfile_load_or_create(const char *state_dir,
    unsigned char seed[IDENTITY_SEED_LEN], char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	int	 fd, rc, tries;

	if (sodium_init() == -1)
		return seterr(err, errsz, "libsodium cannot start");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
	    KEYFILE_NAME) >= sizeof(path))
		return seterr(err, errsz, "state dir path too long");
	for (tries = 0; tries < 2; tries++) {
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
			rc = read_seed(fd, seed, path, err, errsz);
			close(fd);
			return rc;
		}
		if (errno != ENOENT)
			return seterr(err, errsz, "%s: %s", path,
			    strerror(errno));
		if (create_seed(state_dir, path, seed, err, errsz) == -1)
			return -1;
		log_info("made a new peer key in %s", path);
	}
	return seterr(err, errsz, "%s: cannot be read back", path);
}
