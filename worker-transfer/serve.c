/*
 * Serving: a peer asks for a game's file list and then for chunks; each
 * answer passes the serve gates (SPEC.md "Downloads") first, and the bytes
 * go from the file to the socket with sendfile(2).
 */
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gamefiles.h"
#include "common/log.h"
#include "common/path.h"
#include "common/proc.h"
#include "worker-transfer/fetch.h"
#include "worker-transfer/swarm.h"
#include "worker-transfer/transfer.h"

#define SENDFILE_MAX	(16 * 1024 * 1024)

static const char	 zeros[1024 * 1024];	/* the zero page, never written */

static void	serve_flush(struct serve_conn *);
static void	serve_send(struct serve_conn *, char *, size_t);

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
in_set(char **set, size_t n, const char *id)
{
	return n > 0 && bsearch(&id, set, n, sizeof(*set), str_cmp) != NULL;
}

static void
set_free(char **set, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(set[i]);
	free(set);
}

/* Replaces a sorted id set with the valid ids among given. */
void
serve_gates_set(char ***set, size_t *n, const char (*given)[GAME_ID_SIZE],
    size_t ngiven)
{
	char	**ids = NULL;
	size_t	  count = 0, i;

	if (ngiven > 0 && (ids = calloc(ngiven, sizeof(*ids))) != NULL)
		for (i = 0; i < ngiven; i++)
			if (path_is_valid_game_id(given[i]) &&
			    (ids[count] = strdup(given[i])) != NULL)
				count++;
	if (count > 0)
		qsort(ids, count, sizeof(*ids), str_cmp);
	set_free(*set, *n);
	*set = ids;
	*n = count;
}

void
serve_gates_free(struct serve_gates *g)
{
	set_free(g->catalog, g->ncatalog);
	set_free(g->busy, g->nbusy);
	memset(g, 0, sizeof(*g));
}

/*
 * Whether we serve a game at all: it is in the catalog, no operation is
 * active on it, and its sentinel (version.ini, written last) is there.
 */
int
serve_gate(const struct serve_gates *g, int games_fd, const char *game_id,
    char *err, size_t errsz)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	int		 fd;

	if (!path_is_valid_game_id(game_id))
		return seterr(err, errsz, "invalid game id");
	if (!in_set(g->catalog, g->ncatalog, game_id))
		return seterr(err, errsz, "game is not in the catalog");
	if (in_set(g->busy, g->nbusy, game_id))
		return seterr(err, errsz, "game has an operation in progress");
	snprintf(path, sizeof(path), "%s/version.ini", game_id);
	fd = path_open_beneath(games_fd, path, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fd != -1)
			close(fd);
		return seterr(err, errsz, "game is not downloaded");
	}
	close(fd);
	return 0;
}

static struct served_manifest *
manifest_find_game(struct transfer *xfer, const char *game_id)
{
	struct served_manifest *sm;

	TAILQ_FOREACH(sm, &xfer->manifests, entry)
		if (strcmp(sm->m.game_id, game_id) == 0)
			return sm;
	return NULL;
}

/* Takes m over: it is what a file list request for its game gets now. */
void
serve_manifest_set(struct transfer *xfer, struct manifest *m)
{
	struct served_manifest *sm;

	serve_manifest_forget(xfer, m->game_id);
	if ((sm = calloc(1, sizeof(*sm))) == NULL) {
		log_warn("%s", __func__);
		manifest_free(m);
		return;
	}
	sm->m = *m;
	memset(m, 0, sizeof(*m));
	manifest_root(&sm->m, sm->root);
	TAILQ_INSERT_TAIL(&xfer->manifests, sm, entry);
}

void
serve_manifest_forget(struct transfer *xfer, const char *game_id)
{
	struct served_manifest *sm;

	if ((sm = manifest_find_game(xfer, game_id)) == NULL)
		return;
	TAILQ_REMOVE(&xfer->manifests, sm, entry);
	manifest_free(&sm->m);
	free(sm);
}

void
serve_manifests_free(struct transfer *xfer)
{
	while (!TAILQ_EMPTY(&xfer->manifests))
		serve_manifest_forget(xfer,
		    TAILQ_FIRST(&xfer->manifests)->m.game_id);
}

/* Opens what a chunk request names, after every check; -1 and why. */
int
serve_open_chunk(const struct serve_gates *g, int games_fd,
    const char *game_id, const char *path, uint64_t offset, uint64_t length,
    char *err, size_t errsz)
{
	char		 rel[PATH_MAX], why[96];
	struct stat	 st;
	uint64_t	 games_mnt;
	int		 fd;

	if (serve_gate(g, games_fd, game_id, err, errsz) == -1)
		return -1;
	if (!path_is_transferable(path) ||
	    path_join(rel, sizeof(rel), game_id, path) == -1)
		return seterr(err, errsz, "path is not transferable");
	/* No symlink anywhere on the way, not even one that stays inside. */
	if ((fd = path_open_beneath(games_fd, rel, O_RDONLY | O_NONBLOCK,
	    0)) == -1)
		return seterr(err, errsz, "%s", errno == ENOENT ?
		    "no such file" :
		    "path is not servable");
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return seterr(err, errsz, "not a regular file");
	}
	if (game_mount_id(games_fd, "", &games_mnt) == -1 ||
	    game_file_stays_inside(fd, "", games_mnt, why, sizeof(why)) ==
	    -1) {
		close(fd);
		return seterr(err, errsz, "path is not servable: %s", why);
	}
	if (length > CHUNK_SIZE || offset > (uint64_t)st.st_size ||
	    length > (uint64_t)st.st_size - offset) {
		close(fd);
		return seterr(err, errsz, "range outside the file");
	}
	return fd;
}

int
serve_count(struct transfer *xfer, const char *game_id)
{
	struct serve_conn *sc;
	int		 n = 0;

	TAILQ_FOREACH(sc, &xfer->serving, entry)
		if (strcmp(sc->game_id, game_id) == 0)
			n++;
	return n;
}

static void
serve_note_game(struct serve_conn *sc, const char *game_id)
{
	char	 old[sizeof(sc->game_id)];

	if (strcmp(sc->game_id, game_id) == 0)
		return;
	snprintf(old, sizeof(old), "%s", sc->game_id);
	snprintf(sc->game_id, sizeof(sc->game_id), "%s", game_id);
	if (old[0] != '\0')
		transfer_outbound_changed(sc->xfer, old);
	transfer_outbound_changed(sc->xfer, game_id);
}

void
serve_close(struct serve_conn *sc)
{
	struct transfer	*xfer = sc->xfer;
	char		 game[sizeof(sc->game_id)];
	int		 uploading;

	snprintf(game, sizeof(game), "%s", sc->game_id);
	ev_io_stop(xfer->loop, &sc->wio);
	ev_io_stop(xfer->loop, &sc->pio);
	ev_timer_stop(xfer->loop, &sc->idle);
	ev_timer_stop(xfer->loop, &sc->throttle);
	msgconn_close(&sc->rd);
	if (sc->file_fd != -1)
		close(sc->file_fd);
	if (sc->pipe_fd != -1)
		close(sc->pipe_fd);
	free(sc->out);
	free(sc->haves);
	if (sc->parked)
		TAILQ_REMOVE(&xfer->parked, sc, park);
	TAILQ_REMOVE(&xfer->serving, sc, entry);
	uploading = sc->uploading;
	free(sc);
	if (game[0] != '\0')
		transfer_outbound_changed(xfer, game);
	if (uploading)
		serve_upload_next(xfer);
}

/* Who a link answers: the peer it proved it is, else its host. */
static const char *
serve_who(const struct serve_conn *sc)
{
	return sc->peer_id[0] != '\0' ? sc->peer_id : sc->host;
}

/*
 * Whether sc's answer may start now: a peer gets one answer at a time,
 * however many links it opens (one receiver cannot take all of our
 * upload), and no more peers than the upload slots are answered at once.
 */
static int
upload_admit(const struct serve_conn *sc)
{
	struct serve_conn *o;
	uint64_t	 peers = 0;

	TAILQ_FOREACH(o, &sc->xfer->serving, entry) {
		if (!o->uploading)
			continue;
		if (strcmp(serve_who(o), serve_who(sc)) == 0)
			return 0;
		peers++;
	}
	return sc->xfer->upload_slots == 0 || peers < sc->xfer->upload_slots;
}

/*
 * Starts the waiting answers that may go now, first come first served.
 * Each start may end an answer and come back here: the walk starts over.
 */
void
serve_upload_next(struct transfer *xfer)
{
	struct serve_conn *sc;

	for (;;) {
		TAILQ_FOREACH(sc, &xfer->parked, park)
			if (upload_admit(sc))
				break;
		if (sc == NULL)
			return;
		TAILQ_REMOVE(&xfer->parked, sc, park);
		sc->parked = 0;
		sc->uploading = 1;
		sc->last_active = ev_now(xfer->loop);
		serve_flush(sc);
	}
}

static void	serve_tell_haves(struct serve_conn *);

/*
 * How many of want bytes the upload limit lets go now; with none, the
 * link waits for its throttle timer instead of its socket.
 */
static uint64_t
upload_allow(struct serve_conn *sc, uint64_t want)
{
	struct transfer	*xfer = sc->xfer;
	uint64_t	 n = rate_allow(&xfer->upload, ev_time(), want);

	if (n == 0) {
		sc->throttled = 1;
		ev_io_stop(xfer->loop, &sc->wio);
		ev_io_stop(xfer->loop, &sc->pio);
		ev_timer_set(&sc->throttle, rate_wait(&xfer->upload), 0);
		ev_timer_start(xfer->loop, &sc->throttle);
	}
	return n;
}

/* n bytes went to the peer: the limit and the traffic count them. */
static void
served(struct serve_conn *sc, uint64_t n)
{
	rate_spent(&sc->xfer->upload, n);
	traffic_add(sc->xfer, sc->peer_id, n, 0);
}

static void
serve_throttle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct serve_conn *sc = w->data;

	(void)loop;
	(void)revents;
	sc->throttled = 0;
	serve_flush(sc);
}

/* Pushes the pending frame, then the file bytes; -1 when the link broke. */
static int
serve_push(struct serve_conn *sc)
{
	sc->last_active = ev_now(sc->xfer->loop);
	while (sc->outoff < sc->outlen) {
		ssize_t	 n = send(sc->rd.fd, sc->out + sc->outoff,
		    sc->outlen - sc->outoff, MSG_NOSIGNAL);

		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		sc->outoff += n;
	}
	while (sc->file_fd != -1 && sc->remaining > 0) {
		uint64_t want = sc->remaining > SENDFILE_MAX ? SENDFILE_MAX :
		    sc->remaining;
		off_t	 data, hole;
		ssize_t	 n;

		if ((want = upload_allow(sc, want)) == 0)
			return 0;

		/*
		 * A hole (a sparse game image) goes out from a zero buffer:
		 * reading it would fill the page cache with zeros first.
		 */
		data = lseek(sc->file_fd, sc->file_off, SEEK_DATA);
		if (data == -1 && errno == ENXIO)
			data = sc->file_off + (off_t)sc->remaining;
		if (data > sc->file_off) {
			if ((uint64_t)(data - sc->file_off) < want)
				want = data - sc->file_off;
			if (want > sizeof(zeros))
				want = sizeof(zeros);
			n = send(sc->rd.fd, zeros, want, MSG_NOSIGNAL);
			if (n == -1)
				return errno == EAGAIN || errno == EINTR ?
				    0 : -1;
			served(sc, (uint64_t)n);
			sc->file_off += n;
			sc->remaining -= n;
			continue;
		}
		hole = lseek(sc->file_fd, sc->file_off, SEEK_HOLE);
		if (hole > sc->file_off && (uint64_t)(hole - sc->file_off) <
		    want)
			want = hole - sc->file_off;
		n = sendfile(sc->rd.fd, sc->file_fd, &sc->file_off, want);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;	/* the file shrank under us */
		served(sc, (uint64_t)n);
		sc->remaining -= n;
	}
	return 0;
}

static void	serve_error(struct serve_conn *, const char *);

static int
serve_busy(const struct serve_conn *sc)
{
	return sc->outoff < sc->outlen || (sc->file_fd != -1 &&
	    sc->remaining > 0) || sc->pipe_fd != -1;
}

/*
 * Relays a stream from the install worker's pipe to the peer with
 * splice(2). 0 while it goes on, 1 at its end, -1 when a side broke.
 */
static int
serve_relay(struct serve_conn *sc)
{
	struct ev_loop	*loop = sc->xfer->loop;

	for (;;) {
		struct pollfd	 pfd = { .fd = sc->rd.fd, .events = POLLOUT };
		uint64_t	 want;
		ssize_t		 n;

		if ((want = upload_allow(sc, 1 << 20)) == 0)
			return 0;
		n = splice(sc->pipe_fd, NULL, sc->rd.fd, NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			served(sc, (uint64_t)n);
			sc->relayed += n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		/* Either the pipe is empty or the socket is full. */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT)) {
			ev_io_stop(loop, &sc->wio);
			ev_io_start(loop, &sc->pio);
		} else {
			ev_io_stop(loop, &sc->pio);
			ev_io_start(loop, &sc->wio);
		}
		return 0;
	}
}

static void
serve_flush(struct serve_conn *sc)
{
	struct ev_loop	*loop = sc->xfer->loop;

	if (serve_push(sc) == -1) {
		serve_close(sc);
		return;
	}
	if (sc->pipe_fd != -1 && sc->outoff == sc->outlen) {
		int	 rc = serve_relay(sc);

		if (rc == -1) {
			serve_close(sc);
			return;
		}
		if (rc == 0)
			return;
		/* The stream ended: the link has done its job. */
		ev_io_stop(loop, &sc->pio);
		close(sc->pipe_fd);
		sc->pipe_fd = -1;
		sc->closing = 1;
		if (sc->relayed == 0) {
			serve_error(sc, "the stream could not start");
			return;
		}
	}
	if (sc->throttled)
		return;		/* the throttle timer flushes again */
	if (serve_busy(sc)) {
		ev_io_start(loop, &sc->wio);
		return;
	}
	ev_io_stop(loop, &sc->wio);
	free(sc->out);
	sc->out = NULL;
	sc->outlen = sc->outoff = 0;
	if (sc->file_fd != -1) {
		close(sc->file_fd);
		sc->file_fd = -1;
	}
	if (sc->uploading) {
		sc->uploading = 0;
		serve_upload_next(sc->xfer);	/* the next one's turn */
	}
	if (sc->closing) {
		serve_close(sc);
		return;
	}
	if (sc->haves_len > 0) {
		serve_tell_haves(sc);	/* between answers, never inside */
		return;
	}
	/* Ready for the next request. */
	ev_io_start(loop, &sc->rd.rio);
}

static void
serve_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	serve_flush(w->data);
}

/*
 * An answer with file bytes: it goes now, or waits its turn (see
 * upload_admit) with the link reading no request meanwhile.
 */
static void
serve_answer(struct serve_conn *sc, char *frame, size_t len)
{
	if (frame == NULL || upload_admit(sc)) {
		sc->uploading = frame != NULL;
		serve_send(sc, frame, len);
		return;
	}
	sc->out = frame;
	sc->outlen = len;
	sc->outoff = 0;
	sc->parked = 1;
	TAILQ_INSERT_TAIL(&sc->xfer->parked, sc, park);
	ev_io_stop(sc->xfer->loop, &sc->rd.rio);
}

/* Queues one frame (NULL: it could not be made) and sends what it can. */
static void
serve_send(struct serve_conn *sc, char *frame, size_t len)
{
	if (frame == NULL) {
		serve_close(sc);
		return;
	}
	sc->out = frame;
	sc->outlen = len;
	sc->outoff = 0;
	/* One request at a time: read the next once this one is out. */
	ev_io_stop(sc->xfer->loop, &sc->rd.rio);
	serve_flush(sc);
}

static void
serve_error(struct serve_conn *sc, const char *why)
{
	struct error_text err;
	char		*frame = NULL;
	size_t		 len = 0;

	snprintf(err.error, sizeof(err.error), "%s", why);
	msg_frame_peer_error(&err, &frame, &len);
	serve_send(sc, frame, len);
}

static void
serve_files(struct serve_conn *sc, const char *game_id)
{
	struct transfer	*xfer = sc->xfer;
	struct served_manifest *sm;
	struct files_wait wait;
	char		 why[ERROR_SIZE];
	char		*frame = NULL;
	size_t		 len = 0;
	int		 pct;

	if (serve_gate(&xfer->gates, xfer->games_fd, game_id, why,
	    sizeof(why)) == -1) {
		serve_error(sc, why);
		return;
	}
	serve_note_game(sc, game_id);
	if ((sm = manifest_find_game(xfer, game_id)) != NULL)
		msg_frame_peer_files(&sm->m, &frame, &len);
	else {
		/* Still hashing: the receiver asks again in a moment. */
		snprintf(wait.game_id, sizeof(wait.game_id), "%s", game_id);
		pct = hash_percent(xfer, game_id);
		wait.percent = pct < 0 ? 0 : (uint64_t)pct;
		msg_frame_peer_files_wait(&wait, &frame, &len);
	}
	serve_send(sc, frame, len);
}

/*
 * Answers req with its header (the request's own, as a type of answer)
 * and then its bytes of fd, when its turn comes (see serve_answer).
 */
static void
serve_bytes(struct serve_conn *sc, int fd, const struct peer_chunk *req,
    uint32_t type)
{
	char	*frame = NULL;
	size_t	 len = 0;

	serve_note_game(sc, req->game_id);
	sc->file_fd = fd;
	sc->file_off = (off_t)req->offset;
	sc->remaining = req->length;
	if (type == MSG_PEER_PIECE)
		msg_frame_peer_piece(req, &frame, &len);
	else
		msg_frame_peer_chunk(req, &frame, &len);
	serve_answer(sc, frame, len);
}

static void
serve_chunk(struct serve_conn *sc, struct msg *m)
{
	struct transfer	*xfer = sc->xfer;
	struct peer_chunk req;
	char		 why[ERROR_SIZE];
	int		 fd;

	if (msg_recv_peer_chunk_req(m, &req, why, sizeof(why)) == -1) {
		serve_error(sc, "malformed chunk request");
		return;
	}
	fd = serve_open_chunk(&xfer->gates, xfer->games_fd, req.game_id,
	    req.path, req.offset, req.length, why, sizeof(why));
	if (fd == -1) {
		log_info("refused chunk %s/%s: %s", req.game_id, req.path, why);
		serve_error(sc, why);
		return;
	}
	serve_bytes(sc, fd, &req, MSG_PEER_CHUNK);
}

/* Tells a swarm peer the pieces we verified since it last heard. */
static void
serve_tell_haves(struct serve_conn *sc)
{
	struct piece_have ph;
	char		*frame = NULL;
	size_t		 len = 0, n = sc->haves_len;

	if (n > 4 * MSG_MAX_HAVES)
		n = 4 * MSG_MAX_HAVES;
	ph.pieces = sc->haves;
	ph.pieces_len = n;
	msg_frame_peer_have(&ph, &frame, &len);
	memmove(sc->haves, sc->haves + n, sc->haves_len - n);
	sc->haves_len -= n;
	serve_send(sc, frame, len);
}

/*
 * Our download of game_id verified a piece (or asked a complete source
 * for it: PIECE_ASKED set): its swarm peers hear of it.
 */
void
serve_have(struct transfer *xfer, const char *game_id, size_t piece)
{
	struct serve_conn *sc, *next;
	uint32_t	 le = htole32((uint32_t)piece);

	TAILQ_FOREACH_SAFE(sc, &xfer->serving, entry, next) {
		if (strcmp(sc->swarm_game, game_id) != 0)
			continue;
		if (sc->haves_len == sc->haves_cap) {
			size_t	 cap = sc->haves_cap ? 2 * sc->haves_cap : 64;
			unsigned char *grown = realloc(sc->haves, cap);

			if (grown == NULL) {
				serve_close(sc);	/* it would miss one */
				continue;
			}
			sc->haves = grown;
			sc->haves_cap = cap;
		}
		memcpy(sc->haves + sc->haves_len, &le, 4);
		sc->haves_len += 4;
		if (!serve_busy(sc) && !sc->closing)
			serve_tell_haves(sc);
	}
}

/* A download of ours whose verified pieces a swarm peer may have. */
static struct fetch *
swarm_fetch(struct transfer *xfer, const char *game_id)
{
	struct fetch	*f = fetch_find(xfer, game_id);

	if (f == NULL || f->mode != FETCH_DOWNLOAD || f->chunks == NULL)
		return NULL;
	return f;
}

/*
 * A peer downloading a game asks what we have of it: our own download's
 * verified pieces, or all of them once it is done and served whole. It
 * then hears of each piece we verify, between answers.
 */
static void
serve_swarm(struct serve_conn *sc, struct msg *m)
{
	struct transfer	*xfer = sc->xfer;
	struct served_manifest *sm;
	struct swarm_req req;
	struct swarm_have sh;
	struct fetch	*f;
	char		 why[ERROR_SIZE];
	char		*frame = NULL;
	size_t		 len = 0;

	if (msg_recv_peer_swarm_req(m, &req, why, sizeof(why)) == -1) {
		serve_error(sc, "malformed swarm request");
		return;
	}
	sh.bits = NULL;
	if (!in_set(xfer->gates.catalog, xfer->gates.ncatalog, req.game_id))
		snprintf(why, sizeof(why), "game is not in the catalog");
	else if ((f = swarm_fetch(xfer, req.game_id)) != NULL) {
		if (swarm_root_gate(f->root, req.root, why, sizeof(why)) == 0)
			sh.bits = swarm_bits(f->verified, f->npieces,
			    &sh.bits_len);
	} else if (serve_gate(&xfer->gates, xfer->games_fd, req.game_id,
	    why, sizeof(why)) == 0) {
		if ((sm = manifest_find_game(xfer, req.game_id)) == NULL)
			snprintf(why, sizeof(why), "not downloading that game");
		else if (swarm_root_gate(sm->root, req.root, why,
		    sizeof(why)) == 0)
			sh.bits = swarm_bits(NULL, manifest_pieces_total(&sm->m),
			    &sh.bits_len);
	} else
		snprintf(why, sizeof(why), "not downloading that game");
	if (sh.bits == NULL) {
		log_info("refused a swarm link for %s: %s", req.game_id, why);
		serve_error(sc, why);
		return;
	}
	snprintf(sc->swarm_game, sizeof(sc->swarm_game), "%s", req.game_id);
	snprintf(sc->swarm_root, sizeof(sc->swarm_root), "%s", req.root);
	sc->haves_len = 0;	/* the bitfield has them all */
	memcpy(sh.game_id, req.game_id, sizeof(sh.game_id));
	msg_frame_peer_swarm_have(&sh, &frame, &len);
	free(sh.bits);
	serve_send(sc, frame, len);
}

/*
 * Verified pieces of our partial download (or of the whole game once
 * it is done, at the same root), for a peer on the swarm.
 */
static void
serve_piece(struct serve_conn *sc, struct msg *m)
{
	struct transfer	*xfer = sc->xfer;
	struct served_manifest *sm;
	struct peer_chunk req;
	struct fetch	*f = NULL;
	char		 why[ERROR_SIZE];
	long		 i;
	int		 fd = -1;

	if (msg_recv_peer_piece_req(m, &req, why, sizeof(why)) == -1) {
		serve_error(sc, "malformed piece request");
		return;
	}
	if (strcmp(req.game_id, sc->swarm_game) != 0)
		snprintf(why, sizeof(why), "ask what we have of it first");
	else if ((f = swarm_fetch(xfer, req.game_id)) != NULL) {
		i = swarm_piece_gate(&f->man, f->root, sc->swarm_root,
		    f->verified, f->piece_base, &req, why, sizeof(why));
		if (i >= 0 && (fd = path_open_beneath(f->files_dir,
		    f->man.files[i].path, O_RDONLY | O_NONBLOCK, 0)) == -1)
			snprintf(why, sizeof(why), "cannot open that file");
	} else if ((sm = manifest_find_game(xfer, req.game_id)) == NULL ||
	    swarm_root_gate(sm->root, sc->swarm_root, why, sizeof(why)) == -1)
		snprintf(why, sizeof(why), "not downloading that game");
	else
		fd = serve_open_chunk(&xfer->gates, xfer->games_fd,
		    req.game_id, req.path, req.offset, req.length, why,
		    sizeof(why));
	if (fd == -1) {
		log_info("refused piece %s/%s: %s", req.game_id, req.path, why);
		serve_error(sc, why);
		return;
	}
	if (f != NULL)
		f->swarm_served += req.length;
	serve_bytes(sc, fd, &req, MSG_PEER_PIECE);
}

static void
serve_pipe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	serve_flush(w->data);
}

/*
 * A streamed install: our install worker extracts the game into a pipe
 * (through the supervisor, which checks the request) and we relay it.
 */
static void
serve_stream(struct serve_conn *sc, const char *game_id)
{
	struct transfer	*xfer = sc->xfer;
	struct game_pipe need;
	const char	*busy;
	char		 why[ERROR_SIZE];
	int		 p[2];

	if (serve_gate(&xfer->gates, xfer->games_fd, game_id, why,
	    sizeof(why)) == -1) {
		serve_error(sc, why);
		return;
	}
	if ((busy = serve_admit_stream(xfer, sc->host)) != NULL) {
		log_info("refused a stream of %s to %s: %s", game_id,
		    sc->host, busy);
		serve_error(sc, busy);
		return;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		serve_error(sc, "cannot start a stream");
		return;
	}
	serve_note_game(sc, game_id);
	sc->pipe_fd = p[0];
	sc->relayed = 0;
	ev_io_init(&sc->pio, serve_pipe_cb, p[0], EV_READ);
	sc->pio.data = sc;
	snprintf(need.game_id, sizeof(need.game_id), "%s", game_id);
	need.fd = p[1];
	msg_send_xfer_stream_need(&xfer->sup, &need);
	ev_io_stop(xfer->loop, &sc->rd.rio);
	ev_io_start(xfer->loop, &sc->pio);
}

static void
serve_dispatch(struct msgconn *c, struct msg *m)
{
	struct serve_conn *sc = c->arg;
	struct game_ref	 req;
	char		 why[ERROR_SIZE];

	sc->last_active = ev_now(sc->xfer->loop);
	if (serve_busy(sc)) {
		/* Requests wait for the answer before: this peer did not. */
		serve_close(sc);
		return;
	}
	switch (m->type) {
	case MSG_PEER_FILES_REQ:
		if (msg_recv_peer_files_req(m, &req, why, sizeof(why)) == -1)
			serve_error(sc, "malformed file list request");
		else
			serve_files(sc, req.game_id);
		break;
	case MSG_PEER_CHUNK_REQ:
		serve_chunk(sc, m);
		break;
	case MSG_PEER_SWARM_REQ:
		serve_swarm(sc, m);
		break;
	case MSG_PEER_PIECE_REQ:
		serve_piece(sc, m);
		break;
	case MSG_PEER_STREAM_REQ:
		if (msg_recv_peer_stream_req(m, &req, why, sizeof(why)) == -1)
			serve_error(sc, "malformed stream request");
		else
			serve_stream(sc, req.game_id);
		break;
	default:
		sc->closing = 1;
		serve_error(sc, "unexpected request");
		break;
	}
}

static void
serve_lost(struct msgconn *c, const char *why)
{
	struct serve_conn *sc = c->arg;

	log_debug("serve link closed: %s", why);
	serve_close(sc);
}

/*
 * A link that neither asks nor takes anything for a while goes: a peer
 * must not hold a descriptor (or an outbound transfer) forever.
 */
static void
serve_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct serve_conn *sc = w->data;
	ev_tstamp	 limit = sc->xfer->serve_idle > 0 ?
	    sc->xfer->serve_idle : SERVE_IDLE;
	ev_tstamp	 idle = ev_now(loop) - sc->last_active;

	(void)revents;
	if (idle >= limit) {
		log_info("serve link idle for %.1f s, closing it", idle);
		serve_close(sc);
		return;
	}
	ev_timer_set(w, limit - idle, 0);
	ev_timer_start(loop, w);
}

/* Whether one more link from host may be served: NULL, or why not. */
const char *
serve_admit_link(struct transfer *xfer, const char *host)
{
	struct serve_conn *sc;
	int		 all = 0, from_host = 0;

	TAILQ_FOREACH(sc, &xfer->serving, entry) {
		all++;
		from_host += strcmp(sc->host, host) == 0;
	}
	if (all >= SERVE_MAX_LINKS)
		return "too many transfer links";
	if (from_host >= SERVE_LINKS_PER_HOST)
		return "too many transfer links from that host";
	return NULL;
}

/* Whether one more stream may start for host: NULL, or why not. */
const char *
serve_admit_stream(struct transfer *xfer, const char *host)
{
	struct serve_conn *sc;
	int		 all = 0, from_host = 0;

	TAILQ_FOREACH(sc, &xfer->serving, entry) {
		if (sc->pipe_fd == -1)
			continue;
		all++;
		from_host += strcmp(sc->host, host) == 0;
	}
	if (all >= SERVE_MAX_STREAMS)
		return "too many streams at once, try again later";
	if (from_host >= SERVE_STREAMS_PER_HOST)
		return "too many streams to your host at once";
	return NULL;
}

/* A refusal flood is logged once a second, with how many there were. */
static void
log_refused(struct transfer *xfer, const char *host, const char *why)
{
	static ev_tstamp last;
	static unsigned	 quiet;
	ev_tstamp	 now = ev_now(xfer->loop);

	if (now - last < 1.0) {
		quiet++;
		return;
	}
	if (quiet > 0)
		log_warnx("refused a transfer link from %s: %s (and %u more "
		    "in the last second)", host, why, quiet);
	else
		log_warnx("refused a transfer link from %s: %s", host, why);
	last = now;
	quiet = 0;
}

/* A transfer link handed over by the net worker, hello already read. */
void
serve_start(struct transfer *xfer, int fd, const char *peer_id)
{
	struct serve_conn *sc;
	const char	*why;
	char		 host[ADDR_HOSTLEN];
	char		*frame = NULL;
	size_t		 len = 0;

	addr_peer_host(fd, host, sizeof(host));
	if ((why = serve_admit_link(xfer, host)) != NULL) {
		log_refused(xfer, host, why);
		close(fd);
		return;
	}
	if (proc_set_nonblock(fd) == -1 ||
	    (sc = calloc(1, sizeof(*sc))) == NULL) {
		close(fd);
		return;
	}
	memcpy(sc->host, host, sizeof(sc->host));
	snprintf(sc->peer_id, sizeof(sc->peer_id), "%s", peer_id);
	sc->last_active = ev_now(xfer->loop);
	ev_timer_init(&sc->idle, serve_idle_cb, xfer->serve_idle > 0 ?
	    xfer->serve_idle : SERVE_IDLE, 0);
	sc->idle.data = sc;
	ev_init(&sc->throttle, serve_throttle_cb);
	sc->throttle.data = sc;
	ev_timer_start(xfer->loop, &sc->idle);
	sc->xfer = xfer;
	sc->file_fd = -1;
	sc->pipe_fd = -1;
	ev_init(&sc->pio, serve_pipe_cb);
	sc->pio.data = sc;
	msgconn_init(&sc->rd, xfer->loop, fd, 0, serve_dispatch, serve_lost,
	    sc);
	sc->rd.max_body = 64 * 1024;	/* requests are small */
	ev_io_init(&sc->wio, serve_write_cb, fd, EV_WRITE);
	sc->wio.data = sc;
	TAILQ_INSERT_TAIL(&xfer->serving, sc, entry);
	msg_frame_peer_xfer_accept(&frame, &len);
	serve_send(sc, frame, len);
}
