/*
 * Hashing for the supervisor's manifest cache: the files it names are
 * read piece by piece while the loop has nothing else to do (ev_idle),
 * so serving and fetching never wait behind a big game. Each file's
 * piece hashes go back with the size, mtime and inode it had when it was
 * opened: the cache's key.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "worker-transfer/transfer.h"

struct hash_work {
	TAILQ_ENTRY(hash_work)	 entry;
	struct hash_job		 job;
	size_t			 cur;		/* file being hashed */
	int			 fd;
	struct file_hashes	 out;		/* of the current file */
	uint64_t		 off;
	uint64_t		 files_done;	/* bytes of the files before cur */
	uint64_t		 total;
};

static void
work_free(struct transfer *xfer, struct hash_work *w)
{
	TAILQ_REMOVE(&xfer->hashing, w, entry);
	if (w->fd != -1)
		close(w->fd);
	free(w->out.hashes);
	msg_free_xfer_hash(&w->job);
	free(w);
}

static void
send_progress(struct transfer *xfer, struct hash_work *w)
{
	struct progress	 p;

	memcpy(p.game_id, w->job.game_id, sizeof(p.game_id));
	p.bytes = w->files_done + w->off;
	p.total_bytes = w->total;
	p.bytes_per_s = 0;
	msg_send_xfer_hash_progress(&xfer->sup, &p);
	xfer->hash_reported = ev_now(xfer->loop);
}

/* Opens the job's next file; 0, or -1 when it cannot be hashed now. */
static int
open_next(struct transfer *xfer, struct hash_work *w)
{
	const struct file_stat *fs = &w->job.files[w->cur];
	char		 rel[PATH_MAX];
	struct stat	 st;
	uint64_t	 n;

	if (path_join(rel, sizeof(rel), w->job.game_id, fs->path) == -1 ||
	    (w->fd = path_open_beneath(xfer->games_fd, rel, O_RDONLY, 0)) ==
	    -1 || fstat(w->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("cannot hash %s/%s: %s", w->job.game_id, fs->path,
		    strerror(errno));
		return -1;
	}
	posix_fadvise(w->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	memset(&w->out, 0, sizeof(w->out));
	memcpy(w->out.game_id, w->job.game_id, sizeof(w->out.game_id));
	snprintf(w->out.path, sizeof(w->out.path), "%s", fs->path);
	w->out.size = (uint64_t)st.st_size;
	w->out.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
	    (uint64_t)st.st_mtim.tv_nsec;
	w->out.ino = (uint64_t)st.st_ino;
	w->out.piece_size = w->job.piece_size;
	n = manifest_pieces(w->out.size, w->job.piece_size);
	if (n * HASH_SIZE > MANIFEST_MAX_HASHES ||
	    (n > 0 && (w->out.hashes = malloc(n * HASH_SIZE)) == NULL)) {
		log_warnx("cannot hash %s/%s: too big", w->job.game_id,
		    fs->path);
		return -1;
	}
	w->out.hashes_len = 0;
	w->off = 0;
	return 0;
}

/* Hashes one piece; 1 when the file is done, -1 when it failed. */
static int
hash_piece(struct transfer *xfer, struct hash_work *w)
{
	uint64_t	 want = w->out.size - w->off;
	ssize_t		 n;

	if (want > w->job.piece_size)
		want = w->job.piece_size;
	if (want > 0) {
		n = pread(w->fd, xfer->hash_buf, want, (off_t)w->off);
		if (n == -1 && errno == EINTR)
			return 0;
		if (n != (ssize_t)want) {
			log_warnx("cannot hash %s/%s: it changed or went away",
			    w->job.game_id, w->out.path);
			return -1;
		}
		hash_update(xfer->hash, xfer->hash_buf, want);
		hash_final(xfer->hash, w->out.hashes + w->out.hashes_len);
		w->out.hashes_len += HASH_SIZE;
		w->off += want;
	}
	return w->off == w->out.size;
}

static void
hash_idle_cb(struct ev_loop *loop, ev_idle *idle, int revents)
{
	struct transfer	*xfer = idle->data;
	struct hash_work *w = TAILQ_FIRST(&xfer->hashing);
	int		 rc;

	(void)revents;
	if (w == NULL) {
		ev_idle_stop(loop, idle);
		return;
	}
	if (w->fd == -1 && open_next(xfer, w) == -1)
		rc = -1;
	else
		rc = hash_piece(xfer, w);
	if (rc != 0) {
		/* A file that failed is left out; the next rescan retries. */
		if (rc == 1)
			msg_send_xfer_hashed(&xfer->sup, &w->out);
		free(w->out.hashes);
		w->out.hashes = NULL;
		if (w->fd != -1)
			close(w->fd);
		w->fd = -1;
		w->off = 0;
		w->files_done += w->job.files[w->cur].size;
		if (++w->cur == w->job.nfiles) {
			send_progress(xfer, w);
			work_free(xfer, w);
			return;
		}
	}
	if (ev_now(loop) - xfer->hash_reported >= XFER_PROGRESS_EVERY)
		send_progress(xfer, w);
}

void
hash_start(struct transfer *xfer, struct hash_job *job)
{
	struct hash_work *w, *old;
	size_t		 i;

	/* A newer list for the same game replaces the one queued. */
	TAILQ_FOREACH(old, &xfer->hashing, entry)
		if (strcmp(old->job.game_id, job->game_id) == 0) {
			work_free(xfer, old);
			break;
		}
	if (job->nfiles == 0 || (w = calloc(1, sizeof(*w))) == NULL) {
		msg_free_xfer_hash(job);
		return;
	}
	w->job = *job;
	w->fd = -1;
	for (i = 0; i < job->nfiles; i++)
		w->total += job->files[i].size;
	TAILQ_INSERT_TAIL(&xfer->hashing, w, entry);
	ev_idle_start(xfer->loop, &xfer->hash_idle);
}

/* How far hashing a game has come, in percent; -1 when it is not queued. */
int
hash_percent(struct transfer *xfer, const char *game_id)
{
	struct hash_work *w;

	TAILQ_FOREACH(w, &xfer->hashing, entry)
		if (strcmp(w->job.game_id, game_id) == 0)
			return w->total == 0 ? 0 : (int)((w->files_done +
			    w->off) * 100 / w->total);
	return -1;
}

void
hash_cancel(struct transfer *xfer, const char *game_id)
{
	struct hash_work *w;

	TAILQ_FOREACH(w, &xfer->hashing, entry)
		if (strcmp(w->job.game_id, game_id) == 0) {
			work_free(xfer, w);
			return;
		}
}

void
hash_init_worker(struct transfer *xfer)
{
	TAILQ_INIT(&xfer->hashing);
	ev_idle_init(&xfer->hash_idle, hash_idle_cb);
	xfer->hash_idle.data = xfer;
	if ((xfer->hash_buf = malloc(PIECE_SIZE_MAX)) == NULL)
		fatal("%s", __func__);
	xfer->hash = hash_new();
}

void
hash_free_worker(struct transfer *xfer)
{
	while (!TAILQ_EMPTY(&xfer->hashing))
		work_free(xfer, TAILQ_FIRST(&xfer->hashing));
	ev_idle_stop(xfer->loop, &xfer->hash_idle);
	free(xfer->hash_buf);
	hash_free(xfer->hash);
}
