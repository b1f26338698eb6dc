/* Kept downloads: their manifest and verified pieces (see partial.h). */
#include <sys/stat.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/msgtypes.h"
#include "common/partial.h"

/* Replaces name beneath dirfd with buf: a temporary file, synced, renamed. */
static int
write_atomic(int dirfd, const char *name, const void *buf, size_t len)
{
	char	 tmp[64];
	int	 fd, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.new", name);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write_full(fd, buf, len) == 0 && fsync(fd) == 0 &&
	    renameat(dirfd, tmp, dirfd, name) == 0 && fsync(dirfd) == 0)
		rc = 0;
	close(fd);
	if (rc == -1)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

/* All of a small file beneath dirfd, at most max bytes. */
static char *
read_small(int dirfd, const char *name, size_t max, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max ||
	    (buf = malloc(st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = pread(fd, buf, st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

int
partial_save_manifest(int staging_fd, const struct manifest *m, char *err,
    size_t errsz)
{
	char	*frame;
	size_t	 len;
	int	 rc;

	if (msg_frame_peer_files(m, &frame, &len) == -1)
		return seterr(err, errsz, "cannot encode the manifest");
	rc = write_atomic(staging_fd, PARTIAL_MANIFEST, frame, len);
	free(frame);
	if (rc == -1)
		return seterr(err, errsz, "cannot keep the manifest: %s",
		    strerror(errno));
	return 0;
}

int
partial_load_manifest(int staging_fd, struct manifest *m, char *err,
    size_t errsz)
{
	struct msg_header hdr;
	msgpack_unpacked up;
	struct msg	 msg;
	size_t		 len;
	char		*buf;
	int		 rc = -1;

	memset(m, 0, sizeof(*m));
	if ((buf = read_small(staging_fd, PARTIAL_MANIFEST, MSG_MAX_BODY +
	    sizeof(hdr), &len)) == NULL)
		return seterr(err, errsz, "no kept manifest");
	memcpy(&hdr, buf, len < sizeof(hdr) ? len : sizeof(hdr));
	if (len < sizeof(hdr) || le32toh(hdr.type) != MSG_PEER_FILES ||
	    le32toh(hdr.len) != len - sizeof(hdr) ||
	    msg_unpack_body(buf + sizeof(hdr), len - sizeof(hdr), &up) == -1) {
		free(buf);
		return seterr(err, errsz, "a kept manifest that is damaged");
	}
	msg.type = MSG_PEER_FILES;
	msg.fd = -1;
	msg.body = &up.data;
	if (msg_recv_peer_files(&msg, m, err, errsz) == 0) {
		if ((rc = manifest_check(m, err, errsz)) == -1)
			manifest_free(m);
	}
	msgpack_unpacked_destroy(&up);
	free(buf);
	return rc;
}

int
partial_save_pieces(int staging_fd, const unsigned char *v, size_t n)
{
	return write_atomic(staging_fd, PARTIAL_PIECES, v, n);
}

int
partial_load_pieces(int staging_fd, unsigned char *v, size_t n)
{
	size_t	 len;
	char	*buf;

	if ((buf = read_small(staging_fd, PARTIAL_PIECES, n, &len)) == NULL)
		return -1;
	if (len != n) {
		free(buf);
		return -1;
	}
	memcpy(v, buf, n);
	free(buf);
	return 0;
}

int
partial_progress(int game_fd, uint64_t *bytes, uint64_t *total)
{
	struct manifest	 m;
	unsigned char	*v = NULL;
	char		 err[ERROR_SIZE];
	size_t		 i, k, p = 0, n = 0;
	int		 sfd;

	*bytes = *total = 0;
	if ((sfd = openat(game_fd, STAGING_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (partial_load_manifest(sfd, &m, err, sizeof(err)) == -1) {
		close(sfd);
		return -1;
	}
	for (i = 0; i < m.nfiles; i++)
		n += manifest_pieces(m.files[i].size, m.piece_size);
	if ((v = calloc(n + 1, 1)) != NULL &&
	    partial_load_pieces(sfd, v, n) == -1)
		memset(v, 0, n);
	for (i = 0; i < m.nfiles; i++) {
		uint64_t size = m.files[i].size;

		*total += size;
		for (k = 0; v != NULL && k * m.piece_size < size; k++, p++)
			if (v[p])
				*bytes += size - k * m.piece_size <
				    m.piece_size ? size - k * m.piece_size :
				    m.piece_size;
	}
	free(v);
	manifest_free(&m);
	close(sfd);
	return 0;
}
