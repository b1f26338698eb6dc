/*
 * The stream back end: the archives read as extract_archives() reads
 * them, each regular entry sent as a peer-wire frame and its bytes
 * instead of being written to disk.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msgtypes.h"
#include "worker-install/extract.h"

void
xout_init(struct xout *o, int fd)
{
	struct stat	st;

	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	o->boundary = 1;
}

/*
 * Blocking write of all of buf, even on a non-blocking descriptor. A
 * socket gets MSG_NOSIGNAL so a reader that went away is EPIPE, not a
 * SIGPIPE.
 */
int
xout_write(struct xout *o, const void *buf, size_t len)
{
	struct pollfd	 pfd;
	const char	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		if (o->sock)
			w = send(o->fd, p, len, MSG_NOSIGNAL);
		else
			w = write(o->fd, p, len);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				pfd.fd = o->fd;
				pfd.events = POLLOUT;
				if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
					goto broken;
				continue;
			}
			goto broken;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;

broken:
	o->broken = 1;
	return -1;
}

/*
 * Writes a frame made by a typed msg_frame_*() (rc), then frees it; xs
 * (when given) says why it could not.
 */
static int
xout_frame(struct xout *o, int rc, char *frame, size_t len,
    struct xstate *xs)
{
	int	 r;

	if (rc == -1) {
		errno = ENOMEM;
		r = -1;
	} else {
		r = xout_write(o, frame, len);
		free(frame);
	}
	if (r == -1 && xs != NULL)
		seterr(xs->err, xs->errsz, "stream: %s", errno == EPIPE ?
		    "the reader went away" : strerror(errno));
	return r;
}

int
xout_entry(struct xout *o, const char *path, uint64_t size,
    struct xstate *xs)
{
	struct peer_entry entry;
	char		*frame = NULL;
	size_t		 len = 0;
	int		 rc;

	if (snprintf(entry.path, sizeof(entry.path), "%s", path) >=
	    (int)sizeof(entry.path))
		return seterr(xs->err, xs->errsz, "stream: a path too long");
	entry.size = size;
	rc = msg_frame_peer_entry(&entry, &frame, &len);
	if (xout_frame(o, rc, frame, len, xs) == -1)
		return -1;
	o->boundary = 0;
	return 0;
}

/* After an entry's bytes: their CRC32, and a frame boundary again. */
int
xout_entry_sum(struct xout *o, uint32_t crc, struct xstate *xs)
{
	struct peer_entry_sum sum;
	char		*frame = NULL;
	size_t		 len = 0;
	int		 rc;

	sum.crc32 = crc;
	rc = msg_frame_peer_entry_sum(&sum, &frame, &len);
	if (xout_frame(o, rc, frame, len, xs) == -1)
		return -1;
	o->boundary = 1;
	xs->files++;
	return 0;
}

int
xout_end(struct xout *o, struct xstate *xs)
{
	struct peer_stream_end end;
	char		*frame = NULL;
	size_t		 len = 0;
	int		 rc;

	end.entries = xs->files;
	end.bytes = xs->bytes;
	rc = msg_frame_peer_stream_end(&end, &frame, &len);
	return xout_frame(o, rc, frame, len, xs);
}

/* Tells the reader why, when it can still understand us. */
void
xout_error(struct xout *o, const char *why)
{
	struct error_text err;
	char		*frame = NULL;
	size_t		 len = 0;
	int		 rc;

	if (!o->boundary || o->broken)
		return;
	snprintf(err.error, sizeof(err.error), "%s",
	    why[0] != '\0' ? why : "stream failed");
	rc = msg_frame_peer_error(&err, &frame, &len);
	(void)xout_frame(o, rc, frame, len, NULL);
}

int
stream_archives(int game_fd, char *const names[], size_t n, int out_fd,
    const struct extract_limits *lim, char *err, size_t errsz)
{
	struct xstate	 xs;
	struct xentry	 xe;
	struct xout	 o;
	struct archive	*a;
	char		 show[SHOWN_MAX];
	uint64_t	 got;
	ssize_t		 r;
	size_t		 i;
	int		 afd, e = 0;

	xout_init(&o, out_fd);
	if (xstate_init(&xs, lim, err, errsz) == -1) {
		xout_error(&o, err);
		return -1;
	}
	for (i = 0; i < n && e == 0; i++) {
		if ((a = archive_open_at(game_fd, names[i], &afd, &xs)) ==
		    NULL) {
			e = -1;
			break;
		}
		while ((e = next_entry(a, names[i], &xs, &xe)) == 1) {
			e = 0;
			if (xe.is_dir)
				continue;
			if (!xe.size_known) {
				e = seterr(err, errsz, "%s: archive entry %s "
				    "has no size: refused", names[i],
				    shown(xe.path, show, sizeof(show)));
				break;
			}
			if ((e = xout_entry(&o, xe.path, xe.size, &xs)) == -1)
				break;
			got = 0;
			while ((r = read_block(a, names[i], &xs, &xe,
			    &got)) > 0) {
				if (xout_write(&o, xs.buf, (size_t)r) == -1) {
					r = seterr(err, errsz, "stream: %s",
					    errno == EPIPE ?
					    "the reader went away" :
					    strerror(errno));
					break;
				}
			}
			/* All its bytes went out: the reader can take a frame. */
			if (r == -1 && got == xe.size)
				o.boundary = 1;
			if ((e = (int)r) == -1 ||
			    (e = xout_entry_sum(&o, xs.crc, &xs)) == -1)
				break;
		}
		archive_done(a, afd, &xs);
	}
	if (e == 0)
		e = xout_end(&o, &xs);
	if (e == -1)
		xout_error(&o, err);
	free(xs.buf);
	return e == -1 ? -1 : 0;
}
