/*
 * Streamed installs, the receiving side: one source at a time (lowest
 * address first) sends the entries of its extracted archives; they are
 * written under .local.installing, reported per 128 MiB piece, and
 * committed by renaming the folder to local/. A source that fails before
 * its first entry gives way to the next; after that, any failure rolls
 * everything back.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "common/log.h"
#include "common/path.h"
#include "worker-transfer/fetch.h"

/* The first entry (or the end) of a stream: staging starts now. */
static int
stream_begin(struct fetch *f, char *err, size_t errsz)
{
	struct transfer	*xfer = f->xfer;
	struct xfer_begin begin;
	struct timespec	 ts;

	if (f->staging_fd != -1)
		return 0;
	if (mkdirat(xfer->games_fd, f->game_id, 0755) == 0)
		f->created_game_dir = 1;
	else if (errno != EEXIST)
		return seterr(err, errsz, "cannot create the game folder");
	f->game_fd = openat(xfer->games_fd, f->game_id, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->game_fd == -1)
		return seterr(err, errsz, "cannot open the game folder");
	if (faccessat(f->game_fd, LOCAL_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return seterr(err, errsz, "game is already installed");
	f->staging = INSTALLING_DIR;
	path_remove_tree_beneath(f->game_fd, INSTALLING_DIR);
	if (mkdirat(f->game_fd, INSTALLING_DIR, 0755) == -1 ||
	    (f->staging_fd = openat(f->game_fd, INSTALLING_DIR, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return seterr(err, errsz,
		    "cannot create the install staging folder");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->begun = ts.tv_sec + ts.tv_nsec / 1e9;
	f->last_tick = ev_now(xfer->loop);
	ev_timer_init(&f->progress, fetch_progress_cb, XFER_PROGRESS_EVERY,
	    XFER_PROGRESS_EVERY);
	f->progress.data = f;
	ev_timer_start(xfer->loop, &f->progress);
	memcpy(begin.game_id, f->game_id, sizeof(begin.game_id));
	begin.total_bytes = 0;
	msg_send_xfer_begin(&xfer->sup, &begin);
	return 0;
}

/* One piece of an entry is in: up to 128 MiB, or the entry's end. */
static void
stream_piece_done(struct source *s)
{
	struct fetch	*f = s->f;
	struct xfer_chunk piece;

	memcpy(piece.game_id, f->game_id, sizeof(piece.game_id));
	if (snprintf(piece.path, sizeof(piece.path), "%s/%s", INSTALLING_DIR,
	    f->epath) >= (int)sizeof(piece.path))
		piece.path[sizeof(piece.path) - 1] = '\0';
	piece.offset = f->piece;
	piece.length = f->entry_got - f->piece;
	memcpy(piece.peer_addr, s->addr, sizeof(piece.peer_addr));
	msg_send_xfer_chunk(&f->xfer->sup, &piece);
	f->nchunks++;
	f->piece = f->entry_got;
}

static void
stream_entry_done(struct source *s)
{
	struct fetch	*f = s->f;

	stream_piece_done(s);
	close(f->entry_fd);
	f->entry_fd = -1;
	f->entries++;
	s->state = SRC_STREAM;
}

/*
 * The sender's CRC32 of the entry it checked against its archive: the
 * entry counts only if what we wrote matches it.
 */
int
stream_entry_sum(struct source *s, struct msg *m, char *err, size_t errsz)
{
	struct fetch	*f = s->f;
	struct peer_entry_sum sum;
	char		 why[ERROR_SIZE];

	if (msg_recv_peer_entry_sum(m, &sum, why, sizeof(why)) == -1)
		return seterr(err, errsz, "stream entry checksum: %s", why);
	if (sum.crc32 != f->entry_crc)
		return seterr(err, errsz, "stream entry %.*s is corrupt "
		    "(CRC32 %08x, its sender says %08jx)", 200, f->epath,
		    f->entry_crc, (uintmax_t)sum.crc32);
	stream_entry_done(s);
	return 0;
}

/* An entry header: a safe path, a new file, within the size limit. */
int
stream_entry(struct source *s, struct msg *m, char *err, size_t errsz)
{
	struct fetch	*f = s->f;
	struct peer_entry entry;
	char		 dir[PATH_MAX], *slash, why[128];
	uint64_t	 size;

	if (msg_recv_peer_entry(m, &entry, err, errsz) == -1 ||
	    !path_is_safe_relative(entry.path))
		return seterr(err, errsz,
		    "stream entry with a path we do not accept");
	if (f->entries >= STREAM_MAX_ENTRIES)
		return seterr(err, errsz, "stream has more than %u entries",
		    STREAM_MAX_ENTRIES);
	if (path_check_peer_limits(entry.path, why, sizeof(why)) == -1)
		return seterr(err, errsz, "stream entry with %s", why);
	memcpy(f->epath, entry.path, sizeof(f->epath));
	size = entry.size;
	if (size > f->max_total || f->bytes + size > f->max_total)
		return seterr(err, errsz,
		    "stream expands beyond what the archive could hold");
	if (stream_begin(f, err, errsz) == -1)
		return -1;
	snprintf(dir, sizeof(dir), "%s", f->epath);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if (path_mkdirs_beneath(f->staging_fd, dir, 0755) == -1)
			return seterr(err, errsz,
			    "cannot create a folder of the stream");
	}
	f->entry_fd = path_open_beneath(f->staging_fd, f->epath, O_WRONLY |
	    O_CREAT | O_EXCL, 0644);
	if (f->entry_fd == -1)
		return seterr(err, errsz, "%s", errno == EEXIST ?
		    "stream repeats an entry" :
		    "cannot create a stream entry");
	if (size > 0 && ftruncate(f->entry_fd, (off_t)size) == -1)
		return seterr(err, errsz, "%s", errno == ENOSPC || errno
		    == EFBIG ?
		    "no space left on the games folder" :
		    "cannot size a stream entry");
	f->entry_size = size;
	f->entry_got = 0;
	f->entry_crc = 0;
	f->piece = 0;
	s->state = size == 0 ? SRC_SSUM : SRC_SDATA;
	return 0;
}

void
stream_finish(struct source *s, struct msg *m)
{
	struct fetch	*f = s->f;
	struct peer_stream_end end;
	char		 why[ERROR_SIZE] = "";

	if (msg_recv_peer_stream_end(m, &end, why, sizeof(why)) == -1 ||
	    end.entries != f->entries || end.bytes != f->bytes) {
		fetch_fail(f, XFER_END_FAILED, "the stream ended short");
		return;
	}
	if (stream_begin(f, why, sizeof(why)) == -1) {
		fetch_fail(f, XFER_END_FAILED, why);
		return;
	}
	/* On disk before it is committed: a crash never leaves half a game. */
	if (path_sync_tree(f->game_fd, INSTALLING_DIR) == -1 ||
	    renameat(f->game_fd, INSTALLING_DIR, f->game_fd, LOCAL_DIR) == -1 ||
	    fsync(f->game_fd) == -1) {
		fetch_fail(f, XFER_END_FAILED, "cannot commit local/");
		return;
	}
	fetch_done(f);
}

/* Entry bytes straight into the entry's file. */
void
stream_read_data(struct source *s)
{
	struct fetch	*f = s->f;
	uint64_t	 left = f->entry_size - f->entry_got;
	uint64_t	 to_piece = f->piece + CHUNK_SIZE - f->entry_got;
	size_t		 want = left > XFER_BUF_SIZE ? XFER_BUF_SIZE : left;
	ssize_t		 n, w, done = 0;

	if (want > to_piece)
		want = to_piece;
	if ((want = download_allow(s, want)) == 0)
		return;
	n = recv(s->fd, f->buf, want, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		source_drop(s, n == 0 ? "connection closed" : strerror(errno),
		    1);
		return;
	}
	f->entry_crc = (uint32_t)crc32(f->entry_crc, (const Bytef *)f->buf,
	    (uInt)n);
	floor_bytes(&s->floor, (uint64_t)n);
	if (f->buf[0] == 0 && memcmp(f->buf, f->buf + 1, n - 1) == 0)
		done = n;
	while (done < n) {
		w = pwrite(f->entry_fd, f->buf + done, n - done,
		    (off_t)(f->entry_got + done));
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			fetch_fail(f, XFER_END_FAILED, errno == ENOSPC ?
			    "no space left on the games folder" :
			    "cannot write a stream entry");
			return;
		}
		done += w;
	}
	f->entry_got += n;
	f->bytes += n;
	rate_spent(&f->xfer->download, (uint64_t)n);
	traffic_add(f->xfer, s->peer_id, 0, (uint64_t)n);
	if (f->entry_got == f->entry_size)
		s->state = SRC_SSUM;
	else if (f->entry_got - f->piece == CHUNK_SIZE)
		stream_piece_done(s);
}

/* Streams come from one source at a time, in address order. */
void
stream_next_source(struct fetch *f)
{
	int	 i;

	for (i = 0; i < f->nsrc; i++) {
		struct source *s = &f->src[i];

		if (s->state != SRC_WAITING)
			continue;
		if (source_connect(s) == 0)
			return;
		s->state = SRC_CONNECTING;
		source_drop(s, strerror(errno), 1);
		return;
	}
}

int
source_addr_cmp(const void *a, const void *b)
{
	const struct source *x = a, *y = b;
	struct sockaddr_storage sx, sy;
	socklen_t	 len;

	if (addr_parse(x->addr, 0, &sx, &len) == -1 ||
	    addr_parse(y->addr, 0, &sy, &len) == -1 ||
	    sx.ss_family != AF_INET || sy.ss_family != AF_INET)
		return strcmp(x->addr, y->addr);
	{
		uint32_t ax = ntohl(((struct sockaddr_in *)&sx)->sin_addr.s_addr);
		uint32_t ay = ntohl(((struct sockaddr_in *)&sy)->sin_addr.s_addr);

		if (ax != ay)
			return ax < ay ? -1 : 1;
	}
	return addr_port((struct sockaddr *)&sx) -
	    addr_port((struct sockaddr *)&sy);
}
