/*
 * Fetching a game from several peers at once. Every complete source
 * answers with the game's manifest (its files and a hash per piece); a
 * strict majority of them must agree on it and the others are dropped.
 * Then each source is asked for runs of pieces the picker (pick.h)
 * chooses: rarest first, about a second of the source's answers at a
 * time, and near the end a second copy of the last ones. Peers still
 * downloading the game (partial sources) join once the manifest is
 * agreed and are asked only for pieces they verified; sources may join
 * at any time (fetch_sources). Pieces are written with pwrite into a
 * staging folder inside the game folder, each checked against the
 * manifest as it completes; a source that sends a bad one is dropped.
 * The 128 MiB chunks are what events report: one is reported once all
 * its pieces are in. When every piece is in, files are synced and
 * renamed into place, version.ini last. Any failure removes what this
 * fetch wrote, but the verified pieces kept for a later try.
 *
 * Every download ends: no state waits on a source without a timer.
 * Connecting has a deadline; a source owing a frame or bytes and silent
 * for XFER_STALL_AFTER is dropped; one owing bytes must keep up the
 * progress floor (floor.h); every file list must be in by the listing
 * deadline, which also ends the wait of the sources that have listed.
 * Only an idle source, which owes nothing, has no timer: asked again,
 * it has them all again. Its server closes a link idle for long; such
 * a source sleeps and is dialled again when there is work for it.
 * Staging files are opened as they are needed, through a small cache
 * (fdcache.h), never one descriptor per file.
 */
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/partial.h"
#include "common/path.h"
#include "worker-transfer/fetch.h"
#include "worker-transfer/transfer.h"

static void	source_read_cb(struct ev_loop *, ev_io *, int);
static void	source_next(struct source *);
static void	source_ask_list(struct source *);
static void	fetch_save_pieces(struct fetch *);
static int	fetch_prepare_repair(struct fetch *, char *, size_t);
static int	fetch_starved(struct fetch *, ev_tstamp);
static void	fetch_wake_idle(struct fetch *, const struct source *);
static void	source_dial(struct source *);
static void	fetch_finish(struct fetch *);

struct fetch *
fetch_find(struct transfer *xfer, const char *game_id)
{
	struct fetch	*f;

	TAILQ_FOREACH(f, &xfer->fetches, entry)
		if (strcmp(f->game_id, game_id) == 0)
			return f;
	return NULL;
}

static int
alive(const struct source *s)
{
	return s->state != SRC_DEAD;
}

static void
source_close(struct source *s)
{
	struct ev_loop	*loop = s->f->xfer->loop;

	ev_io_stop(loop, &s->rio);
	ev_io_stop(loop, &s->wio);
	ev_timer_stop(loop, &s->timer);
	ev_timer_stop(loop, &s->floor_timer);
	ev_timer_stop(loop, &s->throttle);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	free(s->frame);
	free(s->wbuf);
	s->frame = s->wbuf = NULL;
	s->framegot = s->framecap = s->wlen = s->woff = 0;
}

/* Cleans up what a fetch wrote and frees it; f is gone after. */
void
fetch_free(struct fetch *f)
{
	struct transfer	*xfer = f->xfer;
	size_t		 i;
	int		 j;

	for (j = 0; j < f->nsrc; j++) {
		source_close(&f->src[j]);
		manifest_free(&f->src[j].man);
		if (f->src[j].hash != NULL)
			hash_free(f->src[j].hash);
		free(f->src[j].has.bits);
		free(f->src[j].has.asking);
		free(f->src[j].dupbuf);
	}
	ev_timer_stop(xfer->loop, &f->progress);
	ev_timer_stop(xfer->loop, &f->list_timer);
	fdcache_free(&f->files);
	if (f->staging_fd != -1)
		close(f->staging_fd);
	if (f->entry_fd != -1)
		close(f->entry_fd);
	if (f->game_fd != -1) {
		if (!f->keep && f->staging != NULL &&
		    path_remove_tree_beneath(f->game_fd, f->staging) == -1)
			log_warn("%s: cannot remove %s", f->game_id, f->staging);
		close(f->game_fd);
	}
	/* A game folder we made holds nothing worth keeping. */
	if (f->created_game_dir && !f->keep &&
	    path_remove_tree_beneath(xfer->games_fd, f->game_id) == -1)
		log_warn("%s: cannot remove its folder", f->game_id);
	if (f->swarm_served > 0)
		log_info("%s: served %llu bytes of its verified pieces to the "
		    "swarm while downloading it", f->game_id,
		    (unsigned long long)f->swarm_served);
	TAILQ_REMOVE(&xfer->fetches, f, entry);
	fetch_kick(xfer);	/* a younger download may go on now */
	free(f->src);
	free(f->dirty);
	free(f->chunks);
	free(f->buf);
	free(f->piece_base);
	free(f->verified);
	free(f->inflight);
	free(f->holders);
	free(f->asked);
	free(f->piece_src);
	free(f->chunk_of);
	manifest_free(&f->man);
	for (i = 0; i < f->nrepair; i++)
		free(f->repair[i].path);
	free(f->repair);
	free(f);
}

static void
send_failed(struct transfer *xfer, const char *game_id, enum xfer_end reason,
    const char *error)
{
	struct xfer_failed failed;

	snprintf(failed.game_id, sizeof(failed.game_id), "%s", game_id);
	snprintf(failed.error, sizeof(failed.error), "%s", error);
	failed.reason = reason;
	msg_send_xfer_failed(&xfer->sup, &failed);
}

void
fetch_fail(struct fetch *f, enum xfer_end reason, const char *error)
{
	struct transfer	*xfer = f->xfer;
	char		 game_id[GAME_ID_SIZE];

	log_warnx("download of %s failed: %s", f->game_id, error);
	memcpy(game_id, f->game_id, sizeof(game_id));
	/* What was verified stays for the next try, unless cancelled. */
	if (reason != XFER_END_CANCELLED && !f->stream && f->verified != NULL &&
	    f->staging_fd != -1 && memchr(f->verified, 1, f->npieces) != NULL &&
	    !f->write_failed) {
		fetch_save_pieces(f);
		f->keep = 1;
		log_info("%s: kept its verified pieces for a later try",
		    f->game_id);
	}
	fetch_free(f);
	send_failed(xfer, game_id, reason, error);
}

/*
 * Queues a request frame to a source and writes what it can. A broken
 * link is not reported here: the read side sees it and drops the source,
 * so callers never free a fetch from under a loop.
 */
void
source_send(struct source *s, char *frame, size_t len)
{
	struct ev_loop	*loop = s->f->xfer->loop;

	free(s->wbuf);
	s->wbuf = frame;
	s->wlen = len;
	s->woff = 0;
	if (frame == NULL) {
		shutdown(s->fd, SHUT_RDWR);
		return;
	}
	while (s->woff < s->wlen) {
		ssize_t	 n = send(s->fd, s->wbuf + s->woff, s->wlen - s->woff,
		    MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				ev_io_start(loop, &s->wio);
				return;
			}
			shutdown(s->fd, SHUT_RDWR);
			return;
		}
		s->woff += n;
	}
}

static void
source_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct source	*s = w->data;

	(void)revents;
	while (s->woff < s->wlen) {
		ssize_t	 n = send(s->fd, s->wbuf + s->woff, s->wlen - s->woff,
		    MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			shutdown(s->fd, SHUT_RDWR);
			break;
		}
		s->woff += n;
	}
	ev_io_stop(loop, w);
}

/* The planner's view: which sources may own chunks (live, complete, listed). */
static void
fetch_takers(struct fetch *f, int *can)
{
	int	 i;

	for (i = 0; i < f->nsrc; i++)
		can[i] = alive(&f->src[i]) && !f->src[i].partial &&
		    f->src[i].state >= SRC_IDLE;
}

/* Sources that may still serve: a partial one once it was dialled. */
int
fetch_nalive(struct fetch *f)
{
	int	 i, n = 0;

	for (i = 0; i < f->nsrc; i++)
		n += alive(&f->src[i]) && (!f->src[i].partial ||
		    f->src[i].state != SRC_WAITING);
	return n;
}

static void	fetch_check_lists(struct fetch *);

/* The index of the piece that holds byte off of file i. */
static size_t
piece_at(const struct fetch *f, size_t file, uint64_t off)
{
	return f->piece_base[file] + off / f->man.piece_size;
}

/*
 * What a source wrote of its span and nobody verified is made a hole
 * again, so unverified pieces always read as zeros (the zero blocks of
 * a later copy need no write). A filesystem that cannot punch holes
 * makes every later block be written. An endgame copy and a cancelled
 * answer wrote nothing.
 */
static void
forget_unverified(struct source *s)
{
	struct fetch	*f = s->f;
	uint64_t	 ps = f->man.piece_size, at;
	uint64_t	 end = s->req_off + s->got;
	int		 fd = -1;

	if (s->dup || s->draining)
		return;
	for (at = s->req_off; at < end; at += ps) {
		uint64_t len = end - at < ps ? end - at : ps;

		if (f->verified[piece_at(f, s->file, at)])
			continue;
		if ((fd == -1 && (fd = fdcache_get(&f->files, s->file)) ==
		    -1) || fallocate(fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)len) == -1) {
			f->zeros_hold = 0;
			return;
		}
	}
}

/* The request of s is over: its pieces may be asked of others again. */
static void
request_end(struct source *s)
{
	struct fetch	*f = s->f;
	ev_tstamp	 dt = ev_now(f->xfer->loop) - s->req_at;
	size_t		 i;

	if (!s->asked)
		return;
	for (i = 0; i < s->req_count; i++)
		f->inflight[s->req_piece + i]--;
	if (s->got == s->req_len && dt > 0) {
		double	 r = s->got / dt;

		s->rate = s->rate > 0 ? (s->rate + r) / 2 : r;
	}
	s->asked = 0;
}

/* A download's counts of its partial sources' pieces. */
static struct have_counts
counts_of(struct fetch *f)
{
	struct have_counts c = { f->npieces, f->holders, f->asked };

	return c;
}

/* A partial source's pieces no longer count toward their rarity. */
static void
source_forget_have(struct source *s)
{
	struct have_counts c = counts_of(s->f);

	have_forget(&s->has, &c);
}

/*
 * A source is gone: what it owed is free for the others to be asked
 * (its planned chunks go to the survivors' share). With no
 * survivor the download fails, "peers-gone" when the network took them.
 */
void
source_drop(struct source *s, const char *why, int lost_link)
{
	struct fetch	*f = s->f;
	enum src_state	 was = s->state;
	struct source_dropped dropped;
	int		 can[MSG_MAX_SOURCES];

	if (!alive(s))
		return;
	log_warnx("source %s for %s dropped: %s", s->addr, f->game_id, why);
	memcpy(dropped.game_id, f->game_id, sizeof(dropped.game_id));
	memcpy(dropped.peer_addr, s->addr, sizeof(dropped.peer_addr));
	snprintf(dropped.reason, sizeof(dropped.reason), "%s", why);
	msg_send_xfer_source_dropped(&f->xfer->sup, &dropped);
	if (was == SRC_DATA)
		forget_unverified(s);
	if (!f->stream) {
		request_end(s);
		source_forget_have(s);
	}
	source_close(s);
	s->state = SRC_DEAD;
	s->lost_link = lost_link;
	if (f->stream) {
		/* Before its first entry another source may still serve. */
		if (f->staging_fd != -1) {
			fetch_fail(f, lost_link ? XFER_END_PEERS_GONE :
			    XFER_END_FAILED, why);
			return;
		}
		if (fetch_nalive(f) > 0) {
			stream_next_source(f);
			return;
		}
	}
	if (fetch_nalive(f) == 0) {
		int	 gone = 1, j;

		for (j = 0; j < f->nsrc; j++)
			if (!f->src[j].partial)
				gone &= f->src[j].lost_link;
		fetch_fail(f, gone ? XFER_END_PEERS_GONE : XFER_END_FAILED,
		    gone ? "every source is gone" : why);
		return;
	}
	if (f->chunks == NULL) {
		/* Still agreeing on the list: maybe the rest already did. */
		fetch_check_lists(f);
		return;
	}
	fetch_takers(f, can);
	plan_reassign(f->chunks, f->nchunks, s->idx, f->load, can, f->nsrc);
	fetch_wake_idle(f, NULL);
}

static void
source_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source	*s = w->data;

	(void)revents;
	if (s->state == SRC_CONNECTING) {
		source_drop(s, s->wake_errno != 0 ? strerror(s->wake_errno) :
		    "connect timed out", 1);
		return;
	}
	if (s->state == SRC_HASHING) {
		source_ask_list(s);
		return;
	}
	if (s->state == SRC_IDLE || s->state == SRC_LISTED)
		return;
	if (ev_now(loop) - s->last_rx >= XFER_STALL_AFTER) {
		source_drop(s, "stalled", 1);
		return;
	}
	ev_timer_set(w, XFER_STALL_AFTER - (ev_now(loop) - s->last_rx), 0);
	ev_timer_start(loop, w);
}

void
source_wait(struct source *s)
{
	struct ev_loop	*loop = s->f->xfer->loop;

	s->last_rx = ev_now(loop);
	ev_timer_stop(loop, &s->timer);
	ev_timer_set(&s->timer, XFER_STALL_AFTER, 0);
	ev_timer_start(loop, &s->timer);
}

/* A window of the progress floor ended: a source too slow goes. */
static void
source_floor_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source	*s = w->data;
	char		 why[ERROR_SIZE];
	uint64_t	 got;
	double		 secs;
	int		 unread = 0;

	(void)revents;
	/* Timers run before reads: what already came in counts too. */
	if (s->fd == -1 || ioctl(s->fd, FIONREAD, &unread) == -1 ||
	    unread < 0)
		unread = 0;
	/* A window in which our own limit held it back says nothing of it. */
	if (s->held_back) {
		s->held_back = 0;
		floor_idle(&s->floor);
		floor_request(&s->floor, ev_now(loop));
		return;
	}
	if (!floor_below(&s->floor, ev_now(loop), (uint64_t)unread, &got,
	    &secs))
		return;
	snprintf(why, sizeof(why), "too slow: %llu bytes in %.0f s, under "
	    "the floor of %llu KiB/s", (unsigned long long)got, secs,
	    (unsigned long long)(FLOOR_RATE / 1024));
	source_drop(s, why, 0);
}

/*
 * A request went out (or a stream began): the source owes bytes, and
 * the progress floor's window runs unless it already does.
 */
void
source_owes(struct source *s)
{
	struct ev_loop	*loop = s->f->xfer->loop;

	if (!floor_owes(&s->floor)) {
		ev_timer_stop(loop, &s->floor_timer);
		ev_timer_set(&s->floor_timer, FLOOR_WINDOW, FLOOR_WINDOW);
		ev_timer_start(loop, &s->floor_timer);
	}
	floor_request(&s->floor, ev_now(loop));
}

/* Nothing is asked of the source: no window runs. */
static void
source_owes_nothing(struct source *s)
{
	floor_idle(&s->floor);
	ev_timer_stop(s->f->xfer->loop, &s->floor_timer);
}

/*
 * The listing deadline: every source still without a list goes, but
 * those still hashing the game while none has listed it (they are
 * bounded by XFER_HASH_WAITS). The sources that listed stop waiting.
 */
static void
fetch_list_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fetch	*f = w->data;
	char		 why[ERROR_SIZE];
	int		 late[MSG_MAX_SOURCES];
	int		 i, nlate = 0, listed = 0;

	(void)revents;
	for (i = 0; i < f->nsrc; i++)
		listed |= alive(&f->src[i]) && f->src[i].state == SRC_LISTED;
	for (i = 0; i < f->nsrc; i++) {
		const struct source *s = &f->src[i];

		if (!alive(s) || s->partial || s->state >= SRC_LISTED)
			continue;
		if (s->state != SRC_HASHING || listed)
			late[nlate++] = i;
	}
	if (nlate == 0) {
		/* Only sources still hashing, and nobody to go ahead with. */
		ev_timer_set(w, XFER_LIST_DEADLINE, 0);
		ev_timer_start(loop, w);
		return;
	}
	snprintf(why, sizeof(why), "no file list within %.0f s",
	    XFER_LIST_DEADLINE);
	/*
	 * No agreement starts while one of them is alive, so only the last
	 * drop can go on to plan the download, or fail and free it.
	 */
	for (i = 0; i < nlate; i++)
		source_drop(&f->src[late[i]], why, 0);
}

void
fetch_progress_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fetch	*f = w->data;
	struct progress	 p;
	ev_tstamp	 now = ev_now(loop), dt = now - f->last_tick;

	(void)revents;
	memcpy(p.game_id, f->game_id, sizeof(p.game_id));
	p.bytes = f->resumed + f->bytes;
	p.total_bytes = f->total;
	p.bytes_per_s = dt > 0 ? (uint64_t)((f->bytes - f->last_bytes) / dt) :
	    0;
	msg_send_xfer_progress(&f->xfer->sup, &p);
	f->last_bytes = f->bytes;
	f->last_tick = now;
	if (!f->stream && fetch_starved(f, now))
		return;
	if (!f->stream && now - f->saved_at >= XFER_SAVE_EVERY)
		fetch_save_pieces(f);
}

/*
 * With no complete source left, partial ones may lack what we miss: a
 * download in which nothing was asked of anyone for XFER_STALL_AFTER
 * ends (keeping its pieces). 1 when it ended; f is gone then.
 */
static int
fetch_starved(struct fetch *f, ev_tstamp now)
{
	int	 i;

	for (i = 0; i < f->nsrc; i++)
		if (alive(&f->src[i]) && (!f->src[i].partial ||
		    f->src[i].asked)) {
			f->starved_since = 0;
			return 0;
		}
	if (f->starved_since == 0)
		f->starved_since = now;
	if (now - f->starved_since < XFER_STALL_AFTER)
		return 0;
	fetch_fail(f, XFER_END_PEERS_GONE, "no source left has the pieces "
	    "still missing");
	return 1;
}

/* fsync of a folder beneath dirfd ("" for dirfd itself). */
static int
sync_dir(int dirfd, const char *rel)
{
	int	 fd, rc;

	if (rel[0] == '\0')
		return fsync(dirfd);
	if ((fd = path_open_beneath(dirfd, rel, O_RDONLY | O_DIRECTORY, 0)) ==
	    -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* fsync of every file of the download, through the cache. */
static int
fetch_sync_files(struct fetch *f, char *err, size_t errsz)
{
	size_t	 i;
	int	 fd;

	for (i = 0; i < f->man.nfiles; i++)
		if ((fd = fdcache_get(&f->files, i)) == -1 || fsync(fd) == -1)
			return seterr(err, errsz, "cannot sync %s: %s",
			    f->man.files[i].path, strerror(errno));
	return 0;
}

/*
 * Files are synced, renamed into place and their folders synced; then
 * version.ini, the commit marker, the same way and last: a crash at any
 * point never leaves a version.ini over files that are not all there.
 */
static int
fetch_commit(struct fetch *f, char *err, size_t errsz)
{
	size_t	 i, ver = SIZE_MAX;
	char	 dir[PATH_MAX], last[PATH_MAX] = "";

	if (f->mode == FETCH_REPAIR)
		/* Pieces were written in place: they only need syncing. */
		return fetch_sync_files(f, err, errsz);

	if (unlinkat(f->game_fd, VERSION_FILE, 0) == -1 && errno != ENOENT)
		return seterr(err, errsz, "cannot replace version.ini");
	if (fetch_sync_files(f, err, errsz) == -1)
		return -1;
	fdcache_close_all(&f->files);
	for (i = 0; i < f->man.nfiles; i++) {
		const char	*p = f->man.files[i].path;
		char		*slash;

		if (strcmp(p, VERSION_FILE) == 0) {
			ver = i;
			continue;
		}
		snprintf(dir, sizeof(dir), "%s", p);
		if ((slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			if (path_mkdirs_beneath(f->game_fd, dir, 0755) == -1)
				return seterr(err, errsz,
				    "cannot create a folder of the game");
		} else
			dir[0] = '\0';
		if (renameat(f->staging_fd, p, f->game_fd, p) == -1)
			return seterr(err, errsz,
			    "cannot move a file into place");
		/* Files come sorted: a folder's files are together. */
		if (strcmp(dir, last) != 0 && dir[0] != '\0' &&
		    sync_dir(f->game_fd, dir) == -1)
			return seterr(err, errsz, "cannot sync a folder");
		snprintf(last, sizeof(last), "%s", dir);
	}
	if (last[0] != '\0' && sync_dir(f->game_fd, last) == -1)
		return seterr(err, errsz, "cannot sync a folder");
	if (fsync(f->game_fd) == -1)
		return seterr(err, errsz, "cannot sync the game folder");
	if (ver == SIZE_MAX || renameat(f->staging_fd, VERSION_FILE,
	    f->game_fd, VERSION_FILE) == -1 || fsync(f->game_fd) == -1)
		return seterr(err, errsz, "cannot commit version.ini");
	return 0;
}

/*
 * A committed download or streamed install: the supervisor hears how it
 * went, and what was written stays (the folder is a game now).
 */
void
fetch_done(struct fetch *f)
{
	struct transfer	*xfer = f->xfer;
	struct xfer_done done;
	struct timespec	 ts;
	uint64_t	 ms;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (uint64_t)((ts.tv_sec + ts.tv_nsec / 1e9 - f->begun) * 1000.0);
	memcpy(done.game_id, f->game_id, sizeof(done.game_id));
	done.bytes = f->bytes;
	done.duration_ms = ms > 0 ? ms : 1;
	done.chunks = f->nchunks;
	log_info("%s %s: %llu bytes in %llu ms", f->stream ? "streamed" :
	    "downloaded", f->game_id, (unsigned long long)f->bytes,
	    (unsigned long long)ms);
	f->created_game_dir = 0;
	fetch_free(f);
	msg_send_xfer_done(&xfer->sup, &done);
}

static void
fetch_finish(struct fetch *f)
{
	char		 why[ERROR_SIZE];

	if (fetch_commit(f, why, sizeof(why)) == -1) {
		fetch_fail(f, XFER_END_FAILED, why);
		return;
	}
	fetch_done(f);
}

/* The length of piece k of file i. */
static uint64_t
piece_len(const struct fetch *f, size_t i, uint64_t k)
{
	uint64_t left = f->man.files[i].size - k * f->man.piece_size;

	return left < f->man.piece_size ? left : f->man.piece_size;
}

/* The first piece of chunk ci and how many it has. */
static size_t
chunk_pieces(const struct fetch *f, size_t ci, size_t *first)
{
	const struct chunk *c = &f->chunks[ci];

	*first = f->piece_base[c->file] + c->offset / f->man.piece_size;
	return manifest_pieces(c->length, f->man.piece_size);
}

static int
chunk_all_verified(const struct fetch *f, size_t ci)
{
	size_t	 first, n = chunk_pieces(f, ci, &first), k;

	for (k = 0; k < n; k++)
		if (!f->verified[first + k])
			return 0;
	return 1;
}

/*
 * Chunk ci is all in, its last piece from source last: the supervisor
 * hears of it under the live source that sent most of its pieces.
 */
static void
chunk_report(struct fetch *f, size_t ci, int last)
{
	struct chunk	*c = &f->chunks[ci];
	struct xfer_chunk done;
	int		 count[MSG_MAX_SOURCES] = { 0 }, best = last, i;
	size_t		 first, n = chunk_pieces(f, ci, &first), k;

	c->done = 1;
	f->ndone++;
	/* Kept before it is told: a crash after the event loses nothing. */
	if (f->ndone < f->nchunks)
		fetch_save_pieces(f);
	for (k = 0; k < n; k++)
		if (f->piece_src[first + k] >= 0)
			count[f->piece_src[first + k]]++;
	for (i = 0; i < f->nsrc; i++)
		if (alive(&f->src[i]) && count[i] > count[best])
			best = i;
	memcpy(done.game_id, f->game_id, sizeof(done.game_id));
	snprintf(done.path, sizeof(done.path), "%s", f->man.files[c->file].path);
	done.offset = c->offset;
	done.length = c->length;
	memcpy(done.peer_addr, f->src[best].addr, sizeof(done.peer_addr));
	msg_send_xfer_chunk(&f->xfer->sup, &done);
}

/* Whether every piece s still has to send is in already. */
static int
span_all_verified(const struct source *s)
{
	const struct fetch *f = s->f;
	uint64_t	 at = s->req_off + s->got, end = s->req_off + s->req_len;
	uint64_t	 ps = f->man.piece_size;

	for (at = at / ps * ps; at < end; at += ps)
		if (!f->verified[piece_at(f, s->file, at)])
			return 0;
	return 1;
}

/*
 * Piece p came in from s and is checked: the peers we serve hear of it,
 * and its chunk is reported once all its pieces are. Another source
 * whose answer has nothing left we lack is cancelled: the rest of it is
 * read and dropped (the slower copy of an endgame piece, or a slow run).
 */
static void
piece_verified(struct fetch *f, struct source *s, size_t p)
{
	int	 i;

	f->verified[p] = 1;
	f->piece_src[p] = (signed char)s->idx;
	serve_have(f->xfer, f->game_id, p);
	for (i = 0; i < f->nsrc; i++) {
		struct source *t = &f->src[i];

		if (t == s || !t->asked || p < t->req_piece ||
		    p >= t->req_piece + t->req_count || !span_all_verified(t))
			continue;
		log_debug("source %s for %s: cancelled, its pieces came "
		    "from another", t->addr, f->game_id);
		request_end(t);
		t->draining = 1;
	}
	if (!f->chunks[f->chunk_of[p]].done &&
	    chunk_all_verified(f, f->chunk_of[p]))
		chunk_report(f, f->chunk_of[p], s->idx);
}

/*
 * A source whose link closed while it had nothing to do (its server
 * closes a link idle for SERVE_IDLE): it is dialled again when there
 * is work for it, rather than lost for the rest of the download.
 */
static void
source_sleep(struct source *s)
{
	log_info("source %s for %s: its idle link closed; dialled again "
	    "if it is needed", s->addr, s->f->game_id);
	source_close(s);
	s->state = SRC_ASLEEP;
}

/*
 * Dials a source (again). A failure drops it from its timer, never from
 * here: its caller may be walking the sources.
 */
static void
source_dial(struct source *s)
{
	struct ev_loop	*loop = s->f->xfer->loop;

	s->wake_errno = 0;
	if (source_connect(s) == 0)
		return;
	s->wake_errno = errno != 0 ? errno : EIO;
	s->state = SRC_CONNECTING;
	ev_timer_stop(loop, &s->timer);
	ev_timer_set(&s->timer, 0, 0);
	ev_timer_start(loop, &s->timer);
}

/* How many pieces s is asked for at once: about XFER_RUN_SECONDS of it. */
static size_t
run_max(const struct source *s)
{
	double	 ps = (double)s->f->man.piece_size;
	double	 n = s->rate * XFER_RUN_SECONDS / ps;

	if (n < 1)
		return 1;
	return n > CHUNK_SIZE / ps ? (size_t)(CHUNK_SIZE / ps) : (size_t)n;
}

/*
 * What s could be asked for now; 0 when nothing. While peers still
 * downloading the game are linked, a complete source is asked only for
 * pieces none of them has: its upload goes to pieces new to the swarm,
 * which the swarm then spreads, rather than to copies it already has.
 */
static int
source_pick(struct source *s, struct pick *pk)
{
	struct fetch	*f = s->f;
	struct pick_view v;
	unsigned	 max_holders = UINT_MAX;
	int		 i;

	if (f->chunks == NULL || (s->partial && s->has.bits == NULL))
		return 0;
	for (i = 0; i < f->nsrc && !s->partial; i++)
		if (f->src[i].partial && f->src[i].has.bits != NULL &&
		    alive(&f->src[i]))
			max_holders = 0;
	v.npieces = f->npieces;
	v.verified = f->verified;
	v.inflight = f->inflight;
	v.holders = f->holders;
	v.asked = f->asked;
	v.chunk_of = f->chunk_of;
	v.chunks = f->chunks;
	return pick_run(&v, s->partial ? s->has.bits : NULL, s->idx,
	    max_holders, run_max(s), &f->rng, pk);
}

/*
 * Downloads from one peer are served in the order they began (the
 * seed's single cursor): a younger one asks nothing of a peer while an
 * older one still talks to it or has work it could ask of it.
 */
static int
older_fetch_wants(const struct source *s)
{
	struct fetch	*g;
	struct pick	 pk;
	int		 i;

	TAILQ_FOREACH(g, &s->f->xfer->fetches, entry) {
		if (g == s->f)
			return 0;
		for (i = 0; i < g->nsrc && !g->stream; i++) {
			struct source *t = &g->src[i];

			if (!alive(t) || t->state == SRC_WAITING ||
			    t->state == SRC_HASHING ||
			    strcmp(t->peer_id, s->peer_id) != 0)
				continue;
			if ((t->state != SRC_IDLE && t->state != SRC_ASLEEP) ||
			    source_pick(t, &pk))
				return 1;
		}
	}
	return 0;
}

/* Asks a source for the next pieces the picker gives it, if any. */
static void
source_next(struct source *s)
{
	struct fetch	*f = s->f;
	struct peer_chunk req;
	struct pick	 pk;
	char		*frame = NULL;
	size_t		 len = 0, k;

	if (s->state != SRC_IDLE && s->state != SRC_ASLEEP)
		return;
	if (!source_pick(s, &pk) || older_fetch_wants(s)) {
		source_owes_nothing(s);
		return;		/* nothing for it, or not yet */
	}
	if (s->state == SRC_ASLEEP) {
		log_info("source %s for %s: dialled again", s->addr,
		    f->game_id);
		source_dial(s);	/* asks once the link is open again */
		return;
	}
	if (pk.dup && s->dupbuf == NULL &&
	    (s->dupbuf = malloc(f->man.piece_size)) == NULL) {
		source_owes_nothing(s);
		return;
	}
	s->asked = 1;
	s->dup = pk.dup;
	s->draining = 0;
	s->req_piece = pk.first;
	s->req_count = pk.count;
	s->file = f->chunks[f->chunk_of[pk.first]].file;
	s->req_off = (pk.first - f->piece_base[s->file]) * f->man.piece_size;
	s->req_len = 0;
	for (k = 0; k < pk.count; k++) {
		s->req_len += piece_len(f, s->file,
		    pk.first + k - f->piece_base[s->file]);
		f->inflight[pk.first + k]++;
	}
	s->got = 0;
	s->req_at = ev_now(f->xfer->loop);
	s->state = SRC_HEADER;
	log_debug("%s: asks %s for pieces %zu-%zu%s", f->game_id, s->addr,
	    pk.first, pk.first + pk.count - 1, pk.dup ? " (endgame)" : "");
	hash_reset(s->hash);
	memcpy(req.game_id, f->game_id, sizeof(req.game_id));
	snprintf(req.path, sizeof(req.path), "%s", f->man.files[s->file].path);
	req.offset = s->req_off;
	req.length = s->req_len;
	if (s->partial)
		msg_frame_peer_piece_req(&req, &frame, &len);
	else
		msg_frame_peer_chunk_req(&req, &frame, &len);
	/* The swarm hears of it, and leaves it to us (see source_pick). */
	for (k = 0; !s->partial && !pk.dup && k < pk.count; k++)
		serve_have(f->xfer, f->game_id, (pk.first + k) | PIECE_ASKED);
	source_send(s, frame, len);
	source_wait(s);
	source_owes(s);
}

/*
 * Sources with nothing to do look again: there may be work for them.
 * Not one that just looked (seen), whose answer would be the same.
 */
static void
fetch_wake_idle(struct fetch *f, const struct source *seen)
{
	int	 i;

	for (i = 0; i < f->nsrc; i++)
		if (&f->src[i] != seen && (f->src[i].state == SRC_IDLE ||
		    f->src[i].state == SRC_ASLEEP))
			source_next(&f->src[i]);
}

/* After a kick: every download's idle sources, the oldest download first. */
void
fetch_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct transfer	*xfer = w->data;
	struct fetch	*f;

	(void)loop;
	(void)revents;
	TAILQ_FOREACH(f, &xfer->fetches, entry)
		if (!f->stream)
			fetch_wake_idle(f, NULL);
}

/*
 * A download ended or a source of one went idle: with several downloads
 * a younger one may now ask a peer an older one no longer needs. Runs
 * from the loop, never from under a caller walking the sources.
 */
void
fetch_kick(struct transfer *xfer)
{
	if (TAILQ_FIRST(&xfer->fetches) == NULL)
		return;
	ev_timer_stop(xfer->loop, &xfer->kick);
	ev_timer_set(&xfer->kick, 0, 0);
	ev_timer_start(xfer->loop, &xfer->kick);
}

/* Its answer is all in: on to the next; idle sources may find work now. */
static void
request_done(struct source *s)
{
	struct fetch	*f = s->f;

	request_end(s);
	s->draining = 0;
	s->dup = 0;
	s->state = SRC_IDLE;
	ev_timer_stop(f->xfer->loop, &s->timer);
	source_next(s);
	fetch_wake_idle(f, s);
	if (TAILQ_NEXT(TAILQ_FIRST(&f->xfer->fetches), entry) != NULL)
		fetch_kick(f->xfer);
}

/*
 * A staging folder kept from an earlier try of the same manifest: its
 * verified pieces are kept, the rest is punched out. Returns 1 when it
 * resumes, 0 when it starts afresh (the caller removes what is there).
 */
static int
fetch_resume(struct fetch *f)
{
	struct manifest	 old;
	unsigned char	 a[HASH_SIZE], b[HASH_SIZE];
	char		 err[ERROR_SIZE];
	int		 sfd, same;

	if ((sfd = openat(f->game_fd, STAGING_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	if (partial_load_manifest(sfd, &old, err, sizeof(err)) == -1) {
		log_info("%s: discarding a partial download: %s", f->game_id,
		    err);
		close(sfd);
		return 0;
	}
	manifest_root(&old, a);
	manifest_root(&f->man, b);
	same = memcmp(a, b, HASH_SIZE) == 0;
	manifest_free(&old);
	if (!same) {
		log_info("%s: discarding a partial download of another "
		    "version or manifest", f->game_id);
		close(sfd);
		return 0;
	}
	if (partial_load_pieces(sfd, f->verified, f->npieces) == -1)
		memset(f->verified, 0, f->npieces);
	f->staging_fd = sfd;
	return 1;
}

/* What was verified before of file i stays; the rest must read as zeros. */
static void
fetch_forget_unverified(struct fetch *f, size_t i, int fd)
{
	uint64_t	 k;

	for (k = 0; k * f->man.piece_size < f->man.files[i].size; k++) {
		if (f->verified[f->piece_base[i] + k]) {
			f->resumed += piece_len(f, i, k);
			continue;
		}
		if (f->zeros_hold && fallocate(fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)(k * f->man.piece_size),
		    (off_t)piece_len(f, i, k)) == -1)
			f->zeros_hold = 0;
	}
}

/* Opens file i of the download for the cache (see fdcache.h). */
static int
fetch_open_file(void *arg, size_t i)
{
	struct fetch	*f = arg;

	return path_open_beneath(f->files_dir, f->man.files[i].path, O_RDWR,
	    0);
}

/* The cache of open files and the dirty flags, for files beneath dir. */
static int
fetch_files_init(struct fetch *f, int dir, char *err, size_t errsz)
{
	f->files_dir = dir;
	if (fdcache_init(&f->files, FDCACHE_SIZE, fetch_open_file, f) == -1 ||
	    (f->dirty = calloc(f->man.nfiles + 1, 1)) == NULL)
		return seterr(err, errsz, "out of memory");
	return 0;
}

/*
 * Whether the filesystem of fd has need bytes free; yes when it
 * keeps no count (ramfs says 0 blocks).
 */
static int
room_for(int fd, uint64_t need)
{
	struct statfs	 fs;

	if (fstatfs(fd, &fs) == -1 || fs.f_blocks == 0)
		return 1;
	return (uint64_t)fs.f_bavail *
	    (uint64_t)(fs.f_frsize != 0 ? fs.f_frsize : fs.f_bsize) >= need;
}

/*
 * Staging file i, open on fd, made its full size and its blocks reserved
 * where the filesystem can (fallocate). Where it cannot (vfat, exFAT,
 * ramfs), posix_fallocate would write every block of the game before its
 * first byte came: the free space is checked instead and the file made
 * sparse.
 */
static int
staging_file_size(struct fetch *f, size_t i, int fd, char *err, size_t errsz)
{
	uint64_t	 size = f->man.files[i].size, held;
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return seterr(err, errsz, "cannot create a staging file: %s",
		    strerror(errno));
	if (size == 0 || (uint64_t)st.st_size == size)
		return 0;
	if (fallocate(fd, 0, 0, (off_t)size) == 0)
		return 0;
	held = (uint64_t)st.st_blocks * 512;
	if (errno == ENOSPC || !room_for(fd, size > held ? size - held : 0))
		return seterr(err, errsz, "no space left on the games folder");
	if (ftruncate(fd, (off_t)size) == -1)
		return seterr(err, errsz, "%s", errno == ENOSPC ?
		    "no space left on the games folder" :
		    "cannot size a staging file");
	return 0;
}

/*
 * Staging files, made at full size so a full disk fails up front, or
 * those of a kept download of the same manifest, whose verified pieces
 * are not fetched again. Called once the sources agree on the list:
 * no space is reserved for a list that is not the game's. Each file is
 * closed once made; the fetch opens them again as it needs them.
 */
static int
fetch_prepare(struct fetch *f, char *err, size_t errsz)
{
	struct transfer	*xfer = f->xfer;
	int		 resume, fd;
	size_t		 i;

	if (mkdirat(xfer->games_fd, f->game_id, 0755) == 0)
		f->created_game_dir = 1;
	else if (errno != EEXIST)
		return seterr(err, errsz, "%s", errno == ENOSPC ?
		    "no space left on the games folder" :
		    "cannot create the game folder");
	f->game_fd = openat(xfer->games_fd, f->game_id, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->game_fd == -1)
		return seterr(err, errsz, "cannot open the game folder");
	if (!(resume = fetch_resume(f)) &&
	    path_remove_tree_beneath(f->game_fd, STAGING_DIR) == -1)
		return seterr(err, errsz, "cannot remove an old staging "
		    "folder: %s", strerror(errno));
	if (!resume &&
	    (mkdirat(f->game_fd, STAGING_DIR, 0700) == -1 ||
	    (f->staging_fd = openat(f->game_fd, STAGING_DIR, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1))
		return seterr(err, errsz, "cannot create the staging folder");
	if (!resume && partial_save_manifest(f->staging_fd, &f->man, err,
	    errsz) == -1)
		return -1;
	if (fetch_files_init(f, f->staging_fd, err, errsz) == -1)
		return -1;
	for (i = 0; i < f->man.nfiles; i++) {
		const char	*p = f->man.files[i].path;
		char		 dir[PATH_MAX], *slash;

		snprintf(dir, sizeof(dir), "%s", p);
		if ((slash = strrchr(dir, '/')) != NULL) {
			*slash = '\0';
			if (path_mkdirs_beneath(f->staging_fd, dir, 0755) ==
			    -1)
				return seterr(err, errsz, "cannot create a "
				    "staging folder: %s", strerror(errno));
		}
		fd = path_open_beneath(f->staging_fd, p, O_RDWR | O_CREAT |
		    (resume ? 0 : O_TRUNC), 0644);
		if (fd == -1)
			return seterr(err, errsz, "cannot create a staging "
			    "file: %s", strerror(errno));
		if (staging_file_size(f, i, fd, err, errsz) == -1) {
			close(fd);
			return -1;
		}
		if (resume)
			fetch_forget_unverified(f, i, fd);
		close(fd);
	}
	if (resume)
		log_info("%s: resuming, %llu bytes already verified",
		    f->game_id, (unsigned long long)f->resumed);
	return 0;
}

/*
 * A repair writes into the game's own files: every piece is taken as
 * verified but those the supervisor found bad, which are fetched again.
 * Files the game lacks or that have the wrong size are made whole.
 */
static int
fetch_prepare_repair(struct fetch *f, char *err, size_t errsz)
{
	size_t	 i, k;

	f->game_fd = openat(f->xfer->games_fd, f->game_id, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->game_fd == -1)
		return seterr(err, errsz, "cannot open the game folder");
	f->staging = NULL;
	f->zeros_hold = 0;
	if (fetch_files_init(f, f->game_fd, err, errsz) == -1)
		return -1;
	memset(f->verified, 1, f->npieces);
	for (i = 0; i < f->man.nfiles; i++) {
		const struct manifest_file *mf = &f->man.files[i];
		struct stat	 st;
		int		 fd, rc;

		fd = path_open_beneath(f->game_fd, mf->path, O_RDWR | O_CREAT,
		    0644);
		if (fd == -1 || fstat(fd, &st) == -1) {
			if (fd != -1)
				close(fd);
			return seterr(err, errsz, "cannot open %s", mf->path);
		}
		rc = (uint64_t)st.st_size == mf->size ? 1 :
		    ftruncate(fd, (off_t)mf->size);
		close(fd);
		if (rc == 1)
			continue;
		if (rc == -1)
			return seterr(err, errsz, "cannot size %s", mf->path);
		for (k = f->piece_base[i]; k < f->piece_base[i + 1]; k++)
			f->verified[k] = 0;
	}
	for (i = 0; i < f->nrepair; i++) {
		const struct piece_ref *r = &f->repair[i];
		long	 j = manifest_find(&f->man, r->path);
		uint64_t off;

		if (j < 0)
			continue;
		for (off = r->offset / f->man.piece_size * f->man.piece_size;
		    off < r->offset + r->length &&
		    off < f->man.files[j].size; off += f->man.piece_size)
			f->verified[piece_at(f, (size_t)j, off)] = 0;
	}
	return 0;
}

/*
 * Which pieces are verified, kept for a later try: their data is synced
 * first, so a crash never leaves a piece marked that is not on disk.
 */
static void
fetch_save_pieces(struct fetch *f)
{
	size_t	 i;

	if (f->staging_fd == -1 || f->verified == NULL || f->stream)
		return;
	for (i = 0; i < f->man.nfiles; i++) {
		int	 fd;

		if (!f->dirty[i])
			continue;
		if ((fd = fdcache_get(&f->files, i)) == -1 ||
		    fdatasync(fd) == -1) {
			log_warn("%s: cannot sync %s", f->game_id,
			    f->man.files[i].path);
			return;
		}
		f->dirty[i] = 0;
	}
	if (partial_save_pieces(f->staging_fd, f->verified, f->npieces) ==
	    -1)
		log_warn("%s: cannot keep its verified pieces", f->game_id);
	f->saved_at = ev_now(f->xfer->loop);
}

/*
 * Cuts files into chunks, the unit events report, and plans which
 * complete source owns which (the picker prefers a source's own).
 */
static int
fetch_plan(struct fetch *f)
{
	uint64_t *sizes;
	int	 can[MSG_MAX_SOURCES];
	size_t	 i, n, first, k;

	if ((sizes = calloc(f->man.nfiles, sizeof(*sizes))) == NULL)
		return -1;
	for (i = 0; i < f->man.nfiles; i++)
		sizes[i] = f->man.files[i].size;
	n = plan_count(sizes, f->man.nfiles, CHUNK_SIZE);
	if ((f->chunks = calloc(n, sizeof(*f->chunks))) == NULL) {
		free(sizes);
		return -1;
	}
	f->nchunks = n;
	f->total = plan_cut(sizes, f->man.nfiles, CHUNK_SIZE, f->chunks);
	free(sizes);
	fetch_takers(f, can);
	if (plan_assign(f->chunks, f->nchunks, f->load, can, f->nsrc) == -1)
		return -1;
	for (i = 0; i < f->nchunks; i++) {
		n = chunk_pieces(f, i, &first);
		for (k = 0; k < n; k++)
			f->chunk_of[first + k] = (uint32_t)i;
		/* A kept download's verified chunks are not fetched again. */
		if (f->chunks[i].length > 0 && chunk_all_verified(f, i)) {
			f->chunks[i].done = 1;
			f->load[f->chunks[i].owner] -= f->chunks[i].length;
			f->ndone++;
		}
	}
	return 0;
}

/* Per piece of the agreed manifest: verified, in flight, held, sent by. */
static int
fetch_pieces(struct fetch *f)
{
	size_t	 i, n;

	if ((f->piece_base = calloc(f->man.nfiles + 1,
	    sizeof(*f->piece_base))) == NULL)
		return -1;
	for (i = 0; i < f->man.nfiles; i++)
		f->piece_base[i + 1] = f->piece_base[i] + manifest_pieces(
		    f->man.files[i].size, f->man.piece_size);
	n = f->npieces = f->piece_base[f->man.nfiles];
	if ((f->verified = calloc(n + 1, 1)) == NULL ||
	    (f->inflight = calloc(n + 1, 1)) == NULL ||
	    (f->holders = calloc(n + 1, sizeof(*f->holders))) == NULL ||
	    (f->asked = calloc(n + 1, sizeof(*f->asked))) == NULL ||
	    (f->chunk_of = calloc(n + 1, sizeof(*f->chunk_of))) == NULL ||
	    (f->piece_src = malloc(n + 1)) == NULL)
		return -1;
	memset(f->piece_src, -1, n + 1);
	return 0;
}

/*
 * The sources' manifests: one for another version goes; then a strict
 * majority must share one root, and the others are dropped. Returns the
 * source whose manifest wins, or NULL when there is none yet (or the
 * fetch failed: with no strict majority the sources disagree).
 */
static struct source *
fetch_agree(struct fetch *f)
{
	struct source	*best = NULL;
	char		 why[ERROR_SIZE];
	int		 i, j, nlive = 0, most = 0;

	/* Only complete sources vote; partial ones join once it is agreed. */
	for (i = 0; i < f->nsrc; i++) {
		struct source *s = &f->src[i];

		if (!alive(s) || s->partial)
			continue;
		if (s->state < SRC_LISTED)
			return NULL;	/* still waiting for one */
		if (strcmp(s->man.version, f->version) != 0) {
			snprintf(why, sizeof(why), "its manifest is for "
			    "version %s, not %s", s->man.version, f->version);
			source_drop(s, why, 0);	/* comes back here */
			return NULL;
		}
		nlive++;
	}
	for (i = 0; i < f->nsrc; i++) {
		int	 n = 0;

		if (!alive(&f->src[i]) || f->src[i].partial)
			continue;
		for (j = 0; j < f->nsrc; j++)
			n += alive(&f->src[j]) && !f->src[j].partial &&
			    memcmp(f->src[i].root,
			    f->src[j].root, HASH_SIZE) == 0;
		if (n > most) {
			most = n;
			best = &f->src[i];
		}
	}
	if (best == NULL)
		return NULL;	/* the last source is gone: already failed */
	if (2 * most <= nlive) {
		fetch_fail(f, XFER_END_FAILED,
		    "sources disagree on the game's files");
		return NULL;
	}
	for (i = 0; i < f->nsrc; i++)
		if (alive(&f->src[i]) && !f->src[i].partial &&
		    memcmp(f->src[i].root, best->root, HASH_SIZE) != 0) {
			source_drop(&f->src[i], "its manifest differs from "
			    "the other sources'", 0);	/* comes back here */
			return NULL;
		}
	return best;
}

/* Once every live source has listed the game: agree, plan and go. */
static void
fetch_check_lists(struct fetch *f)
{
	struct source	*ref;
	struct file_list list;
	struct xfer_begin begin;
	char		 why[ERROR_SIZE];
	struct timespec	 ts;
	size_t		 i;
	int		 j;

	if (f->man.files != NULL || (ref = fetch_agree(f)) == NULL)
		return;
	ev_timer_stop(f->xfer->loop, &f->list_timer);
	memcpy(f->root, ref->root, sizeof(f->root));
	f->man = ref->man;
	memset(&ref->man, 0, sizeof(ref->man));
	if (f->mode == FETCH_MANIFEST) {
		/* A verify: the agreed manifest is all it wanted. */
		msg_send_xfer_agreed(&f->xfer->sup, &f->man);
		fetch_free(f);
		return;
	}
	if (fetch_pieces(f) == -1 || (list.files = calloc(f->man.nfiles + 1,
	    sizeof(*list.files))) == NULL) {
		fetch_fail(f, XFER_END_FAILED, "out of memory");
		return;
	}
	memcpy(list.game_id, f->game_id, sizeof(list.game_id));
	for (i = 0; i < f->man.nfiles; i++) {
		list.files[i].path = f->man.files[i].path;
		list.files[i].size = f->man.files[i].size;
	}
	list.nfiles = f->man.nfiles;
	msg_send_xfer_files(&f->xfer->sup, &list);
	free(list.files);
	if ((f->mode == FETCH_REPAIR ? fetch_prepare_repair(f, why,
	    sizeof(why)) : fetch_prepare(f, why, sizeof(why))) == -1) {
		fetch_fail(f, XFER_END_FAILED, why);
		return;
	}
	for (j = 0; j < f->nsrc; j++)
		if (alive(&f->src[j]) && !f->src[j].partial)
			f->src[j].state = SRC_IDLE;
	if (fetch_plan(f) == -1) {
		fetch_fail(f, XFER_END_FAILED, "out of memory");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->begun = ts.tv_sec + ts.tv_nsec / 1e9;
	f->last_tick = ev_now(f->xfer->loop);
	ev_timer_init(&f->progress, fetch_progress_cb, XFER_PROGRESS_EVERY,
	    XFER_PROGRESS_EVERY);
	f->progress.data = f;
	ev_timer_start(f->xfer->loop, &f->progress);
	memcpy(begin.game_id, f->game_id, sizeof(begin.game_id));
	begin.total_bytes = f->total;
	msg_send_xfer_begin(&f->xfer->sup, &begin);
	f->saved_at = ev_now(f->xfer->loop);
	/* An empty file has nothing to fetch: its chunk is in at once. */
	for (i = 0; i < f->nchunks; i++)
		if (!f->chunks[i].done && f->chunks[i].length == 0)
			chunk_report(f, i, f->chunks[i].owner);
	if (f->ndone == f->nchunks) {
		fetch_finish(f);	/* all of it was kept from before */
		return;
	}
	for (j = 0; j < f->nsrc; j++) {
		struct source *s = &f->src[j];

		if (s->state == SRC_IDLE)
			source_next(s);
		else if (s->state == SRC_WAITING && s->partial)
			source_dial(s);	/* its pieces are of use now */
	}
}

/* Checks a source's file list; any odd path drops the source. */
static int
source_take_list(struct source *s, struct msg *m, char *err, size_t errsz)
{
	if (msg_recv_peer_files(m, &s->man, err, errsz) == -1)
		return -1;
	if (strcmp(s->man.game_id, s->f->game_id) != 0)
		return seterr(err, errsz, "a file list for another game");
	if (manifest_check(&s->man, err, errsz) == -1)
		return -1;
	manifest_root(&s->man, s->root);
	return 0;
}

/* Asks a source for the game's manifest (again, after a "wait"). */
static void
source_ask_list(struct source *s)
{
	struct game_ref	 req;
	char		*frame = NULL;
	size_t		 len = 0;

	memcpy(req.game_id, s->f->game_id, sizeof(req.game_id));
	msg_frame_peer_files_req(&req, &frame, &len);
	s->state = SRC_LISTING;
	source_send(s, frame, len);
	source_wait(s);
}

/* Asks a partial source which pieces of our manifest it has verified. */
static void
source_ask_swarm(struct source *s)
{
	struct swarm_req req;
	char		*frame = NULL;
	size_t		 len = 0;

	memcpy(req.game_id, s->f->game_id, sizeof(req.game_id));
	hash_hex(s->f->root, req.root);
	msg_frame_peer_swarm_req(&req, &frame, &len);
	s->state = SRC_SWARMING;
	source_send(s, frame, len);
	source_wait(s);
}

/* A partial source's bitfield: what it has, counted in the rarities. */
static int
source_take_bits(struct source *s, struct msg *m, char *err, size_t errsz)
{
	struct have_counts c = counts_of(s->f);
	struct swarm_have sh;
	const char	*why = NULL;
	int		 rc;

	if (msg_recv_peer_swarm_have(m, &sh, err, errsz) == -1)
		return -1;
	if (strcmp(sh.game_id, s->f->game_id) != 0) {
		why = "a bitfield of another game";
		rc = -1;
	} else
		rc = have_set(&s->has, &c, sh.bits, sh.bits_len, &why);
	msg_free_peer_swarm_have(&sh);
	return rc == -1 ? seterr(err, errsz, "%s", why) : 0;
}

/* Pieces a partial source verified since: they join its bitfield. */
static int
source_take_haves(struct source *s, struct msg *m, char *err, size_t errsz)
{
	struct have_counts c = counts_of(s->f);
	struct piece_have ph;
	const char	*why = NULL;
	int		 rc;

	if (msg_recv_peer_have(m, &ph, err, errsz) == -1)
		return -1;
	rc = have_add(&s->has, &c, ph.pieces, ph.pieces_len, &why);
	msg_free_peer_have(&ph);
	return rc == -1 ? seterr(err, errsz, "%s", why) : 0;
}

/* A source that joined after the manifest was agreed must have the same. */
static void
source_join(struct source *s)
{
	struct fetch	*f = s->f;

	if (strcmp(s->man.version, f->version) != 0 ||
	    memcmp(s->root, f->root, HASH_SIZE) != 0) {
		source_drop(s, "its manifest differs from the other sources'",
		    0);
		return;
	}
	manifest_free(&s->man);
	ev_timer_stop(f->xfer->loop, &s->timer);
	s->state = SRC_IDLE;
	source_next(s);
}

/* A complete frame from a source, read in full before any chunk bytes. */
static void
source_frame(struct source *s, struct msg *m)
{
	struct fetch	*f = s->f;
	char		 why[ERROR_SIZE] = "";
	struct game_ref	 req;
	struct error_text err;
	struct peer_chunk hdr;
	struct files_wait wait;
	char		*frame = NULL;
	size_t		 len = 0;

	if (m->type == MSG_PEER_ERROR) {
		source_drop(s, msg_recv_peer_error(m, &err, why,
		    sizeof(why)) == -1 ? "unreadable error" : err.error, 0);
		return;
	}
	switch (s->state) {
	case SRC_OPENING:
		if (msg_recv_peer_xfer_accept(m, why, sizeof(why)) == -1)
			break;
		if (!f->stream && s->partial) {
			source_ask_swarm(s);	/* afresh after a redial */
			return;
		}
		if (!f->stream && f->chunks != NULL && s->listed) {
			/* Dialled again for more work: its list was agreed. */
			ev_timer_stop(f->xfer->loop, &s->timer);
			s->state = SRC_IDLE;
			source_next(s);
			return;
		}
		if (!f->stream) {
			source_ask_list(s);
			return;
		}
		s->state = SRC_STREAM;
		memcpy(req.game_id, f->game_id, sizeof(req.game_id));
		msg_frame_peer_stream_req(&req, &frame, &len);
		source_send(s, frame, len);
		source_wait(s);
		source_owes(s);
		return;
	case SRC_STREAM:
		if (m->type == MSG_PEER_ENTRY) {
			if (stream_entry(s, m, why, sizeof(why)) == -1)
				fetch_fail(f, XFER_END_FAILED, why);
			return;
		}
		if (m->type == MSG_PEER_STREAM_END) {
			stream_finish(s, m);
			return;
		}
		break;
	case SRC_SSUM:
		if (m->type == MSG_PEER_ENTRY_SUM) {
			if (stream_entry_sum(s, m, why, sizeof(why)) == -1)
				fetch_fail(f, XFER_END_FAILED, why);
			return;
		}
		break;
	case SRC_LISTING:
		if (m->type == MSG_PEER_FILES_WAIT) {
			/* Still hashing the game: ask again in a moment. */
			if (msg_recv_peer_files_wait(m, &wait, why,
			    sizeof(why)) == -1 || ++s->waits > XFER_HASH_WAITS) {
				source_drop(s, why[0] != '\0' ? why :
				    "it never finished hashing the game", 0);
				return;
			}
			s->state = SRC_HASHING;
			ev_timer_stop(f->xfer->loop, &s->timer);
			ev_timer_set(&s->timer, XFER_HASH_RETRY, 0);
			ev_timer_start(f->xfer->loop, &s->timer);
			return;
		}
		if (m->type != MSG_PEER_FILES)
			break;
		if (source_take_list(s, m, why, sizeof(why)) == -1) {
			source_drop(s, why, 0);
			return;
		}
		s->listed = 1;
		if (f->man.files != NULL) {
			source_join(s);	/* joined a running download */
			return;
		}
		s->state = SRC_LISTED;
		ev_timer_stop(f->xfer->loop, &s->timer);
		fetch_check_lists(f);
		return;
	case SRC_SWARMING:
		if (m->type != MSG_PEER_SWARM_HAVE)
			break;
		if (source_take_bits(s, m, why, sizeof(why)) == -1) {
			source_drop(s, why, 0);
			return;
		}
		ev_timer_stop(f->xfer->loop, &s->timer);
		s->state = SRC_IDLE;
		source_next(s);
		return;
	case SRC_IDLE:
	case SRC_HEADER:
		if (m->type == MSG_PEER_HAVE && s->partial) {
			if (source_take_haves(s, m, why, sizeof(why)) == -1)
				source_drop(s, why, 0);
			else if (s->state == SRC_IDLE)
				source_next(s);
			return;
		}
		if (s->state != SRC_HEADER || m->type != (s->partial ?
		    MSG_PEER_PIECE : MSG_PEER_CHUNK))
			break;
		if ((s->partial ? msg_recv_peer_piece(m, &hdr, why,
		    sizeof(why)) : msg_recv_peer_chunk(m, &hdr, why,
		    sizeof(why))) == -1 ||
		    strcmp(hdr.game_id, f->game_id) != 0 ||
		    strcmp(hdr.path, f->man.files[s->file].path) != 0 ||
		    hdr.offset != s->req_off || hdr.length != s->req_len)
			break;
		s->state = SRC_DATA;
		return;
	default:
		break;
	}
	source_drop(s, "sent something we did not ask for", 0);
}

/* Reads exactly one frame, never a byte past it. 1 when complete. */
static int
source_read_frame(struct source *s, char *err, size_t errsz)
{
	struct msg_header hdr;
	size_t		 need = FRAME_HDR;
	ssize_t		 n;

	if (s->framegot >= FRAME_HDR) {
		memcpy(&hdr, s->frame, sizeof(hdr));
		need += le32toh(hdr.len);
	}
	if (s->framecap < need) {
		char	*nf = realloc(s->frame, need);

		if (nf == NULL)
			return seterr(err, errsz, "out of memory");
		s->frame = nf;
		s->framecap = need;
	}
	n = recv(s->fd, s->frame + s->framegot, need - s->framegot, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return seterr(err, errsz, "%s", n == 0 ? "connection closed" :
		    strerror(errno));
	s->framegot += n;
	floor_bytes(&s->floor, (uint64_t)n);
	if (s->framegot == FRAME_HDR) {
		memcpy(&hdr, s->frame, sizeof(hdr));
		/* Only a file list or a bitfield may be large. */
		if (le32toh(hdr.len) > (s->state == SRC_LISTING ||
		    s->state == SRC_SWARMING ?
		    MSG_MAX_BODY : 64u * 1024) || le32toh(hdr.flags) != 0)
			return seterr(err, errsz, "oversized or odd frame");
		if (hdr.len != 0)
			return 0;
	}
	if (s->framegot < FRAME_HDR)
		return 0;
	memcpy(&hdr, s->frame, sizeof(hdr));
	return s->framegot == FRAME_HDR + le32toh(hdr.len);
}

/* All of len bytes at off of file i; -1 when they could not be written. */
static int
write_at(struct fetch *f, size_t i, const unsigned char *buf, uint64_t len,
    uint64_t off)
{
	int	 fd = fdcache_get(&f->files, i);

	while (fd != -1 && len > 0) {
		ssize_t	 w = pwrite(fd, buf, len, (off_t)off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= w;
		off += w;
	}
	f->dirty[i] = 1;
	return fd == -1 ? -1 : 0;
}

/*
 * Checks the bytes of the span that just came in (at file offset pos)
 * against the manifest, piece by piece as each completes; an endgame
 * copy's piece is written once checked. -1 with err filled when a piece
 * is not what the manifest says, -2 when it could not be written.
 */
static int
verify_span(struct source *s, const unsigned char *buf, uint64_t n,
    uint64_t pos, char *err, size_t errsz)
{
	struct fetch	*f = s->f;
	const struct manifest_file *mf = &f->man.files[s->file];
	uint64_t	 ps = f->man.piece_size, done = 0;
	unsigned char	 h[HASH_SIZE];

	while (done < n) {
		uint64_t end = (pos / ps + 1) * ps, take;
		uint64_t piece = pos / ps;
		size_t	 idx = f->piece_base[s->file] + piece;

		if (end > mf->size)
			end = mf->size;
		take = end - pos < n - done ? end - pos : n - done;
		hash_update(s->hash, buf + done, take);
		done += take;
		pos += take;
		if (pos < end)
			break;
		hash_final(s->hash, h);
		if (f->verified[idx])
			continue;	/* another source's copy came first */
		if (memcmp(h, mf->hashes + piece * HASH_SIZE, HASH_SIZE) != 0)
			return seterr(err, errsz, "sent corrupt data: piece "
			    "%llu of %s does not match the manifest",
			    (unsigned long long)piece, mf->path);
		if (s->dup && write_at(f, s->file, s->dupbuf,
		    end - piece * ps, piece * ps) == -1)
			return -2;
		piece_verified(f, s, idx);
	}
	return 0;
}

/*
 * Writes what came in at file offset pos, but not over a piece already
 * verified (another source's copy came first). Unverified pieces of the
 * staging files read as zeros: a block of zeros (a sparse game image)
 * needs no write.
 */
static int
write_unverified(struct source *s, const unsigned char *buf, uint64_t n,
    uint64_t pos)
{
	struct fetch	*f = s->f;
	uint64_t	 ps = f->man.piece_size, done = 0;

	if (f->zeros_hold && buf[0] == 0 && memcmp(buf, buf + 1, n - 1) == 0)
		return 0;
	while (done < n) {
		uint64_t at = pos + done, end = (at / ps + 1) * ps;
		uint64_t take = end - at < n - done ? end - at : n - done;

		if (!f->verified[piece_at(f, s->file, at)] &&
		    write_at(f, s->file, buf + done, take, at) == -1)
			return -1;
		done += take;
	}
	return 0;
}

/*
 * Span bytes straight from the socket into the staging file (an endgame
 * copy into its own buffer; a cancelled answer nowhere), checked as
 * they come. 1 when some arrived, 0 for none yet, -1 with err filled
 * when the link failed, -2 when the staging file could not be written,
 * -3 with err filled when the source sent a bad piece.
 */
static int
source_read_data(struct source *s, char *err, size_t errsz)
{
	struct fetch	*f = s->f;
	uint64_t	 left = s->req_len - s->got;
	uint64_t	 pos = s->req_off + s->got;
	size_t		 want = left > XFER_BUF_SIZE ? XFER_BUF_SIZE : left;
	unsigned char	*into = (unsigned char *)f->buf;
	ssize_t		 n;
	int		 rc;

	if ((want = download_allow(s, want)) == 0)
		return 0;
	if (s->dup && !s->draining)
		into = s->dupbuf + s->got;
	n = recv(s->fd, into, want, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return seterr(err, errsz, "%s", n == 0 ? "connection closed" :
		    strerror(errno));
	floor_bytes(&s->floor, (uint64_t)n);
	s->got += n;
	rate_spent(&f->xfer->download, (uint64_t)n);
	traffic_add(f->xfer, s->peer_id, 0, (uint64_t)n);
	if (s->draining)
		return 1;	/* nobody needs what is left of it */
	if (!s->dup && write_unverified(s, into, (uint64_t)n, pos) == -1)
		return -2;
	f->bytes += n;
	rc = verify_span(s, into, (uint64_t)n, pos, err, errsz);
	return rc == 0 ? 1 : rc == -1 ? -3 : -2;
}

static void
source_throttle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source	*s = w->data;

	(void)revents;
	/* We were the silence: the stall timer must not blame the source. */
	s->last_rx = ev_now(loop);
	if (s->fd != -1)
		ev_io_start(loop, &s->rio);
}

/*
 * How many of want bytes the download limit lets us read now; with none,
 * the source's reads wait for its throttle timer (TCP holds the sender).
 */
size_t
download_allow(struct source *s, size_t want)
{
	struct transfer	*xfer = s->f->xfer;
	uint64_t	 n = rate_allow(&xfer->download, ev_time(), want);

	if (n == 0) {
		s->held_back = 1;
		ev_io_stop(xfer->loop, &s->rio);
		ev_timer_stop(xfer->loop, &s->throttle);
		ev_timer_set(&s->throttle, rate_wait(&xfer->download), 0);
		ev_timer_start(xfer->loop, &s->throttle);
	}
	return (size_t)n;
}

static void
source_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct source	*s = w->data;
	struct fetch	*f = s->f;
	char		 why[ERROR_SIZE] = "";
	int		 rc;

	(void)revents;
	s->last_rx = ev_now(loop);
	if (s->state == SRC_SDATA) {
		stream_read_data(s);
		return;
	}
	if (s->state == SRC_DATA) {
		rc = source_read_data(s, why, sizeof(why));
		if (rc == -2) {
			f->write_failed = 1;
			fetch_fail(f, XFER_END_FAILED, errno == ENOSPC ?
			    "no space left on the games folder" :
			    "cannot write a staging file");
			return;
		}
		if (rc == -1 || rc == -3) {
			source_drop(s, why, rc == -1);
			return;
		}
		if (f->ndone == f->nchunks) {
			fetch_finish(f);
			return;
		}
		if (rc == 1 && s->got == s->req_len)
			request_done(s);
		return;
	}
	if ((s->state == SRC_IDLE && !s->partial) || s->state == SRC_LISTED) {
		char	 b;

		/* Bytes nobody asked for, or the source going away. */
		rc = recv(s->fd, &b, 1, MSG_PEEK);
		if (rc == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (s->state == SRC_IDLE && (rc == 0 || (rc == -1 &&
		    errno == ECONNRESET))) {
			source_sleep(s);
			return;
		}
		source_drop(s, rc == 0 ? "connection closed" :
		    "sent bytes nobody asked for", rc <= 0);
		return;
	}
	rc = source_read_frame(s, why, sizeof(why));
	if (rc == -1) {
		source_drop(s, why, 1);
		return;
	}
	if (rc == 1) {
		struct msg_header hdr;
		msgpack_unpacked up;
		struct msg	 m;

		memcpy(&hdr, s->frame, sizeof(hdr));
		s->framegot = 0;
		if (msg_unpack_body(s->frame + FRAME_HDR, le32toh(hdr.len),
		    &up) == -1) {
			source_drop(s, "malformed frame", 0);
			return;
		}
		m.type = le32toh(hdr.type);
		m.fd = -1;
		m.body = &up.data;
		source_frame(s, &m);
		msgpack_unpacked_destroy(&up);
	}
}

static void
source_connected_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct source	*s = w->data;
	struct peer_xfer_open open;
	char		*frame = NULL;
	size_t		 flen = 0;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	(void)revents;
	ev_io_stop(loop, w);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		source_drop(s, strerror(err ? err : errno), 1);
		return;
	}
	ev_io_init(&s->wio, source_write_cb, s->fd, EV_WRITE);
	s->wio.data = s;
	ev_io_init(&s->rio, source_read_cb, s->fd, EV_READ);
	s->rio.data = s;
	ev_io_start(loop, &s->rio);
	s->state = SRC_OPENING;
	open.proto = XFER_PROTO_VERSION;
	memcpy(open.peer_id, s->f->xfer->peer_id, sizeof(open.peer_id));
	memcpy(open.ticket, s->ticket, sizeof(open.ticket));
	msg_frame_peer_xfer_open(&open, &frame, &flen);
	source_send(s, frame, flen);
	source_wait(s);
}

int
source_connect(struct source *s)
{
	struct ev_loop	*loop = s->f->xfer->loop;
	struct sockaddr_storage ss;
	socklen_t	 len;
	int		 one = 1;

	if (addr_parse(s->addr, -1, &ss, &len) == -1)
		return -1;
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		return -1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS)
		return -1;
	s->state = SRC_CONNECTING;
	ev_io_init(&s->wio, source_connected_cb, s->fd, EV_WRITE);
	s->wio.data = s;
	ev_io_start(loop, &s->wio);
	ev_timer_set(&s->timer, FETCH_CONNECT_TIMEOUT, 0);
	ev_timer_start(loop, &s->timer);
	return 0;
}

/* The next free source of f, set up for the peer fs names. */
static struct source *
source_init(struct fetch *f, const struct fetch_source *fs)
{
	struct source	*s = &f->src[f->nsrc];

	s->f = f;
	s->idx = f->nsrc++;
	s->fd = -1;
	s->partial = fs->partial;
	ev_init(&s->timer, source_timer_cb);
	s->timer.data = s;
	ev_init(&s->floor_timer, source_floor_cb);
	s->floor_timer.data = s;
	ev_init(&s->throttle, source_throttle_cb);
	s->throttle.data = s;
	floor_init(&s->floor);
	s->hash = hash_new();
	memcpy(s->peer_id, fs->peer_id, sizeof(s->peer_id));
	memcpy(s->addr, fs->addr, sizeof(s->addr));
	memcpy(s->ticket, fs->ticket, sizeof(s->ticket));
	return s;
}

int
fetch_start(struct transfer *xfer, struct xfer_fetch *req)
{
	struct fetch	*f;
	size_t		 i;

	if (!path_is_valid_game_id(req->game_id))
		return -1;
	if (req->nsources == 0) {
		send_failed(xfer, req->game_id, XFER_END_FAILED,
		    "no usable sources");
		return 0;
	}
	if (fetch_find(xfer, req->game_id) != NULL) {
		send_failed(xfer, req->game_id, XFER_END_FAILED,
		    "operation already in progress");
		return 0;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->src = calloc(MSG_MAX_SOURCES, sizeof(*f->src))) == NULL ||
	    (f->buf = malloc(XFER_BUF_SIZE)) == NULL) {
		if (f != NULL)
			free(f->src);
		free(f);
		send_failed(xfer, req->game_id, XFER_END_FAILED,
		    "out of memory");
		return 0;
	}
	f->xfer = xfer;
	f->game_fd = f->staging_fd = f->entry_fd = -1;
	f->staging = STAGING_DIR;
	memcpy(f->game_id, req->game_id, sizeof(f->game_id));
	memcpy(f->version, req->version, sizeof(f->version));
	f->zeros_hold = 1;
	/* Each download its own ties: receivers starting together differ. */
	if (getrandom(&f->rng, sizeof(f->rng), GRND_NONBLOCK) !=
	    sizeof(f->rng))
		f->rng = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	f->mode = req->mode;
	f->stream = req->mode == FETCH_STREAM;
	f->max_total = req->max_total < STREAM_MAX_TOTAL ? req->max_total :
	    STREAM_MAX_TOTAL;
	if (req->mode == FETCH_REPAIR) {
		/* Taken over from the request. */
		f->repair = req->pieces;
		f->nrepair = req->npieces;
		req->pieces = NULL;
		req->npieces = 0;
	}
	TAILQ_INSERT_TAIL(&xfer->fetches, f, entry);
	ev_timer_init(&f->list_timer, fetch_list_deadline_cb,
	    XFER_LIST_DEADLINE, 0);
	f->list_timer.data = f;
	for (i = 0; i < req->nsources; i++)
		source_init(f, &req->sources[i]);
	if (f->stream) {
		/* One source at a time, lowest address first. */
		qsort(f->src, f->nsrc, sizeof(*f->src), source_addr_cmp);
		for (i = 0; i < req->nsources; i++) {
			f->src[i].idx = i;
			f->src[i].timer.data = &f->src[i];
			f->src[i].floor_timer.data = &f->src[i];
			f->src[i].throttle.data = &f->src[i];
			f->src[i].state = SRC_WAITING;
		}
		stream_next_source(f);
		return 0;
	}
	ev_timer_start(xfer->loop, &f->list_timer);
	for (i = 0; i < req->nsources; i++) {
		struct source *s = &f->src[i];

		if (s->partial) {
			s->state = SRC_WAITING;	/* dialled once agreed */
			continue;
		}
		if (source_connect(s) == -1) {
			/* Dropping the last one fails (and frees) the fetch. */
			if (fetch_nalive(f) == 1) {
				source_drop(s, strerror(errno), 1);
				return 0;
			}
			source_drop(s, strerror(errno), 1);
		}
	}
	return 0;
}

/*
 * The sources a running download may use now: a peer that became Ready
 * with the game, or one downloading it too, joins at once. Its manifest
 * must have the agreed root (it is asked for it first); a source that
 * was dropped for what it sent never comes back to this download.
 */
void
fetch_sources(struct transfer *xfer, const struct xfer_sources *req)
{
	struct fetch	*f = fetch_find(xfer, req->game_id);
	size_t		 i;
	int		 j;

	if (f == NULL || f->stream || f->mode == FETCH_MANIFEST)
		return;
	for (i = 0; i < req->nsources && f->nsrc < MSG_MAX_SOURCES; i++) {
		const struct fetch_source *fs = &req->sources[i];
		struct source	*s;
		int		 known = 0;

		for (j = 0; j < f->nsrc; j++)
			known |= strcmp(f->src[j].peer_id, fs->peer_id) == 0 &&
			    (alive(&f->src[j]) || !f->src[j].lost_link);
		if (known || strcmp(fs->peer_id, xfer->peer_id) == 0)
			continue;
		s = source_init(f, fs);
		log_info("source %s joins the download of %s%s", s->addr,
		    f->game_id, s->partial ? " (still downloading it)" : "");
		/* A partial source is of use once the manifest is agreed. */
		s->state = SRC_WAITING;
		if (!s->partial || f->chunks != NULL)
			source_dial(s);
	}
}

void
fetch_cancel(struct transfer *xfer, const char *game_id)
{
	struct fetch	*f = fetch_find(xfer, game_id);

	if (f != NULL)
		fetch_fail(f, XFER_END_CANCELLED, "cancelled");
}

/*
 * At start-up, before any fetch: staging left by a crash goes, and so
 * does a game folder that held nothing else.
 */
static int
cleanup_game(int game_fd, const char *game_id, void *arg)
{
	struct transfer	*xfer = arg;
	struct stat	 st;
	uint64_t	 bytes, total;

	if (fstatat(game_fd, STAGING_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	if (partial_progress(game_fd, &bytes, &total) == 0) {
		log_info("%s: keeping a partial download (%llu of %llu bytes)",
		    game_id, (unsigned long long)bytes,
		    (unsigned long long)total);
		return 0;
	}
	log_info("%s: removing an unfinished download", game_id);
	if (path_remove_tree_beneath(game_fd, STAGING_DIR) == -1) {
		log_warn("%s: cannot remove its unfinished download", game_id);
		return 0;
	}
	if (unlinkat(xfer->games_fd, game_id, AT_REMOVEDIR) == -1 &&
	    errno != ENOTEMPTY && errno != EEXIST)
		log_warn("%s: cannot remove its empty folder", game_id);
	return 0;
}

void
fetch_cleanup_all(struct transfer *xfer)
{
	games_each(xfer->games_fd, cleanup_game, xfer);
}

void
fetch_free_all(struct transfer *xfer)
{
	struct fetch	*f;

	while ((f = TAILQ_FIRST(&xfer->fetches)) != NULL)
		fetch_free(f);
}
