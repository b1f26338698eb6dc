/*
 * The install worker: extracts a game's archives into .local.installing
 * and commits by renaming it to local/; removes local/ on uninstall;
 * stamps first-play settings; gives a streamed install games_group; and,
 * for a peer's streamed install, turns our archives into a stream of
 * entries in a child process. Any failure
 * removes the staging folder and leaves the game as it was.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/path.h"
#include "common/sandbox.h"
#include "worker-install/extract.h"
#include "worker-install/games_group.h"
#include "worker-install/install.h"
#include "worker-install/launch_settings.h"

#define RETIRING	".local.removing"

/* Progress from a job child: a line per 16 MiB, read by the parent. */
struct progress_ctx {
	int		 fd;
	uint64_t	 total;
	uint64_t	 last;
};

static void	job_progress(uint64_t, void *);

static void
reply_done(struct install *inst, const char *game_id, enum inst_op op)
{
	struct inst_done done;

	snprintf(done.game_id, sizeof(done.game_id), "%s", game_id);
	done.op = op;
	msg_send_inst_done(&inst->sup, &done);
}

static void
reply_failed(struct install *inst, const char *game_id, enum inst_op op,
    const char *error)
{
	struct inst_failed failed;

	snprintf(failed.game_id, sizeof(failed.game_id), "%s", game_id);
	failed.op = op;
	snprintf(failed.error, sizeof(failed.error), "%s", error);
	msg_send_inst_failed(&inst->sup, &failed);
}

/* An error frame for the peer waiting at the other end of the pipe. */
static void
stream_error(int fd, const char *error)
{
	struct error_text err;
	char		*buf;
	size_t		 len;

	snprintf(err.error, sizeof(err.error), "%s", error);
	if (msg_frame_peer_error(&err, &buf, &len) == 0) {
		if (write_full(fd, buf, len) == -1)
			log_debug("stream error frame not written");
		free(buf);
	}
}

static int
open_game(struct install *inst, const char *game_id)
{
	return openat(inst->games_fd, game_id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
}

/* Extracts into a fresh staging folder; -1 leaves no staging behind. */
static int
extract_to_staging(struct install *inst, int game_fd, const char *game_id,
    struct progress_ctx *prog, char *err, size_t errsz)
{
	struct extract_limits lim;
	char		**names = NULL, gdir[PATH_MAX], dest[PATH_MAX];
	size_t		  n = 0;
	int		  dest_fd = -1, rc = -1;

	path_remove_tree_beneath(game_fd, INSTALLING_DIR);
	if (list_archives(game_fd, &names, &n, err, errsz) == -1)
		return -1;
	if (mkdirat(game_fd, INSTALLING_DIR, 0755) == -1 ||
	    (dest_fd = openat(game_fd, INSTALLING_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "cannot create %s: %s", INSTALLING_DIR,
		    strerror(errno));
		goto out;
	}
	extract_default_limits(game_fd, names, n, &lim);
	prog->total = (lim.max_total - EXTRACT_SLACK) / 1024;
	lim.progress = job_progress;
	lim.progress_arg = prog;
	switch (inst->unrar) {
	case UNRAR_NONE:
		rc = fixture_install(game_fd, names, n, dest_fd, err, errsz);
		break;
	case UNRAR_BUILTIN:
		rc = extract_archives(game_fd, names, n, dest_fd, &lim, err,
		    errsz);
		break;
	case UNRAR_EXTERNAL:
		if (path_join(gdir, sizeof(gdir), inst->games_dir, game_id) ==
		    -1 || path_join(dest, sizeof(dest), gdir,
		    INSTALLING_DIR) == -1)
			snprintf(err, errsz, "games folder path too long");
		else
			rc = extract_archives_unrar(inst->unrar_path, game_fd,
			    gdir, names, n, dest, err, errsz);
		break;
	case UNRAR_MODE_MAX:
		snprintf(err, errsz, "no extraction method");
		break;
	}
out:
	if (dest_fd != -1)
		close(dest_fd);
	archives_free(names, n);
	if (rc == -1)
		path_remove_tree_beneath(game_fd, INSTALLING_DIR);
	return rc;
}


static void
job_progress(uint64_t bytes, void *arg)
{
	struct progress_ctx *p = arg;
	char		 line[64];
	int		 len;

	if (bytes - p->last < (16u << 20))
		return;
	p->last = bytes;
	len = snprintf(line, sizeof(line), "P %ju %ju\n", (uintmax_t)bytes,
	    (uintmax_t)p->total);
	if (write(p->fd, line, len) != len)
		log_debug("progress line lost");
}

/* In a job child: extract, then commit by rename. -1 and err. */
static int
install_game(struct install *inst, const char *game_id, int report_fd,
    char *err, size_t errsz)
{
	struct progress_ctx prog = { report_fd, 0, 0 };
	int	 game_fd;

	if ((game_fd = open_game(inst, game_id)) == -1) {
		snprintf(err, errsz, "no such game folder");
		return -1;
	}
	if (extract_to_staging(inst, game_fd, game_id, &prog, err,
	    errsz) == -1) {
		close(game_fd);
		return -1;
	}
	/* The players' before it is committed, and synced with the rest. */
	if (inst->games_gid != (gid_t)-1 && games_group_share_tree(game_fd,
	    INSTALLING_DIR, inst->games_gid) == -1) {
		snprintf(err, errsz, "cannot give the install games_group: %s",
		    strerror(errno));
		path_remove_tree_beneath(game_fd, INSTALLING_DIR);
		close(game_fd);
		return -1;
	}
	/* On disk before it is committed: a crash never leaves half a game. */
	if (path_sync_tree(game_fd, INSTALLING_DIR) == -1) {
		snprintf(err, errsz, "cannot sync the install: %s",
		    strerror(errno));
		path_remove_tree_beneath(game_fd, INSTALLING_DIR);
		close(game_fd);
		return -1;
	}
	/* An earlier install is replaced whole, never merged. */
	path_remove_tree_beneath(game_fd, RETIRING);
	if ((renameat(game_fd, LOCAL_DIR, game_fd, RETIRING) == -1 &&
	    errno != ENOENT) ||
	    renameat(game_fd, INSTALLING_DIR, game_fd, LOCAL_DIR) == -1) {
		snprintf(err, errsz, "cannot commit local/: %s",
		    strerror(errno));
		path_remove_tree_beneath(game_fd, INSTALLING_DIR);
		renameat(game_fd, RETIRING, game_fd, LOCAL_DIR);
		close(game_fd);
		return -1;
	}
	if (fsync(game_fd) == -1)
		log_warn("%s: cannot sync the game folder", game_id);
	path_remove_tree_beneath(game_fd, RETIRING);
	close(game_fd);
	return 0;
}

static int
uninstall_game(struct install *inst, const char *game_id, char *err,
    size_t errsz)
{
	int	 game_fd;

	if ((game_fd = open_game(inst, game_id)) == -1) {
		snprintf(err, errsz, "no such game folder");
		return -1;
	}
	/* local/ vanishes at once; its files go after. */
	path_remove_tree_beneath(game_fd, RETIRING);
	if (renameat(game_fd, LOCAL_DIR, game_fd, RETIRING) == -1) {
		snprintf(err, errsz, errno == ENOENT ? "game is not installed" :
		    "cannot remove local/");
		close(game_fd);
		return -1;
	}
	path_remove_tree_beneath(game_fd, RETIRING);
	close(game_fd);
	return 0;
}

/*
 * In a job child: a streamed install's local/ (written by the transfer
 * worker, which may not chown) becomes the players' as an install's is.
 */
static int
group_game(struct install *inst, const char *game_id, char *err,
    size_t errsz)
{
	int	 game_fd, rc;

	if (inst->games_gid == (gid_t)-1) {
		snprintf(err, errsz, "no games_group is set");
		return -1;
	}
	if ((game_fd = open_game(inst, game_id)) == -1) {
		snprintf(err, errsz, "no such game folder");
		return -1;
	}
	if ((rc = games_group_share_tree(game_fd, LOCAL_DIR,
	    inst->games_gid)) == -1)
		snprintf(err, errsz, "cannot give local/ games_group: %s",
		    strerror(errno));
	close(game_fd);
	return rc;
}

static struct job *
job_find(struct install *inst, pid_t pid)
{
	struct job	*j;

	TAILQ_FOREACH(j, &inst->jobs, entry)
		if (j->pid == pid)
			return j;
	return NULL;
}

static void
job_free(struct install *inst, struct job *j)
{
	ev_io_stop(inst->loop, &j->pio);
	if (j->pipe_fd != -1)
		close(j->pipe_fd);
	TAILQ_REMOVE(&inst->jobs, j, entry);
	free(j);
}

/* Lines from a job child: progress, or the error it ends with. */
static void
job_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct job	*j = w->data;
	struct install	*inst = j->inst;
	ssize_t		 n;
	char		*nl;

	(void)revents;
	n = read(j->pipe_fd, j->buf + j->len, sizeof(j->buf) - 1 - j->len);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		ev_io_stop(loop, w);
		return;
	}
	j->len += n;
	j->buf[j->len] = '\0';
	while ((nl = strchr(j->buf, '\n')) != NULL) {
		uintmax_t bytes, total;

		*nl = '\0';
		if (j->buf[0] == 'E')
			snprintf(j->error, sizeof(j->error), "%s", j->buf + 2);
		else if (sscanf(j->buf, "P %ju %ju", &bytes, &total) == 2 &&
		    ev_now(loop) - j->last_sent >= 0.5) {
			struct progress	 p;
			ev_tstamp	 dt = ev_now(loop) - j->last_sent;

			memcpy(p.game_id, j->game_id, sizeof(p.game_id));
			p.bytes = bytes;
			p.total_bytes = total;
			p.bytes_per_s = j->last_sent > 0 && dt > 0 ?
			    (uint64_t)((bytes - j->last_bytes) / dt) : 0;
			msg_send_inst_progress(&inst->sup, &p);
			j->last_sent = ev_now(loop);
			j->last_bytes = bytes;
		}
		memmove(j->buf, nl + 1, strlen(nl + 1) + 1);
		j->len = strlen(j->buf);
	}
	if (j->len == sizeof(j->buf) - 1)
		j->len = 0;	/* a line too long to be ours */
}

/*
 * Installs and uninstalls run in a child, so this loop stays free for
 * play requests and for the supervisor going away mid-install.
 */
static void
job_start(struct install *inst, const char *game_id, enum inst_op op)
{
	struct job	*j;
	char		 err[512];
	int		 p[2], rc;
	pid_t		 pid;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    pipe2(p, O_CLOEXEC) == -1) {
		free(j);
		reply_failed(inst, game_id, op, strerror(errno));
		return;
	}
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		free(j);
		reply_failed(inst, game_id, op, strerror(errno));
		return;
	}
	if (pid == 0) {
		/* A job never outlives its worker: the restart cleans up. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() == 1)
			_exit(1);
		close(p[0]);
		err[0] = '\0';
		if (op == INST_OP_INSTALL)
			rc = install_game(inst, game_id, p[1], err,
			    sizeof(err));
		else if (op == INST_OP_GROUP)
			rc = group_game(inst, game_id, err, sizeof(err));
		else
			rc = uninstall_game(inst, game_id, err, sizeof(err));
		if (rc == -1) {
			dprintf(p[1], "E %s\n", err);
			log_warnx("%s %s: %s", inst_op_names[op], game_id,
			    err);
		}
		_exit(rc == -1 ? 1 : 0);
	}
	close(p[1]);
	j->inst = inst;
	j->pid = pid;
	j->op = op;
	j->pipe_fd = p[0];
	snprintf(j->game_id, sizeof(j->game_id), "%s", game_id);
	proc_set_nonblock(p[0]);
	ev_io_init(&j->pio, job_read_cb, p[0], EV_READ);
	j->pio.data = j;
	ev_io_start(inst->loop, &j->pio);
	TAILQ_INSERT_TAIL(&inst->jobs, j, entry);
}

static void
job_done(struct install *inst, struct job *j, int status)
{
	/* Whatever the child said last is in the pipe still. */
	job_read_cb(inst->loop, &j->pio, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (j->op == INST_OP_GROUP)
			log_info("%s: local/ has games_group", j->game_id);
		else
			log_info("%sed %s", inst_op_names[j->op], j->game_id);
		reply_done(inst, j->game_id, j->op);
	} else {
		if (j->error[0] == '\0')
			snprintf(j->error, sizeof(j->error), "%s ended with "
			    "status %d", inst_op_names[j->op], status);
		reply_failed(inst, j->game_id, j->op, j->error);
	}
	job_free(inst, j);
}

static void
do_play(struct install *inst, const struct inst_play *play)
{
	struct play_outcome out;
	struct inst_played played;
	const char	*game_id = play->game_id;
	char		 err[256], rel[PATH_MAX];
	int		 local_fd;

	snprintf(rel, sizeof(rel), "%s/%s", game_id, LOCAL_DIR);
	local_fd = path_open_beneath(inst->games_fd, rel, O_RDONLY |
	    O_DIRECTORY, 0);
	if (local_fd == -1) {
		reply_failed(inst, game_id, INST_OP_PLAY,
		    "game is not installed");
		return;
	}
	memset(&out, 0, sizeof(out));
	if (launch_settings_apply(local_fd, play->username, play->language,
	    &out, err, sizeof(err)) == -1) {
		close(local_fd);
		reply_failed(inst, game_id, INST_OP_PLAY, err);
		return;
	}
	/* What play wrote is the players' too (the folders on its way). */
	if (inst->games_gid != (gid_t)-1 &&
	    (games_group_share_path(local_fd, LAUNCH_ACCOUNT_FILE,
	    inst->games_gid) == -1 ||
	    games_group_share_path(local_fd, LAUNCH_LANGUAGE_FILE,
	    inst->games_gid) == -1 ||
	    (out.persona_name_written && games_group_share_path(local_fd,
	    LAUNCH_INI_FILE, inst->games_gid) == -1))) {
		snprintf(err, sizeof(err), "cannot give the settings "
		    "games_group: %s", strerror(errno));
		close(local_fd);
		reply_failed(inst, game_id, INST_OP_PLAY, err);
		return;
	}
	close(local_fd);
	memcpy(played.game_id, play->game_id, sizeof(played.game_id));
	played.account_name_written = out.account_name_written;
	played.language_written = out.language_written;
	played.persona_name_written = out.persona_name_written;
	msg_send_inst_played(&inst->sup, &played);
}

/*
 * A peer streams our game: a child writes the entries into the pipe the
 * transfer worker reads, so a long stream never blocks this loop.
 */
static void
do_stream_out(struct install *inst, const char *game_id, int fd)
{
	struct extract_limits lim;
	char		**names = NULL, err[512], gdir[PATH_MAX];
	size_t		  n = 0;
	pid_t		  pid;
	int		  game_fd, rc;

	if (inst->nstreams >= INST_MAX_STREAMS) {
		log_warnx("stream %s refused: %d streams running already",
		    game_id, inst->nstreams);
		stream_error(fd, "too many streams at once, try again later");
		close(fd);
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("stream %s", game_id);
		close(fd);
		return;
	}
	if (pid > 0) {
		inst->nstreams++;
		close(fd);
		return;
	}
	/* Child: never returns to the loop, never outlives the worker. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	if ((game_fd = open_game(inst, game_id)) == -1)
		_exit(1);
	if (list_archives(game_fd, &names, &n, err, sizeof(err)) == -1) {
		stream_error(fd, err);
		_exit(1);
	}
	extract_default_limits(game_fd, names, n, &lim);
	if (inst->unrar == UNRAR_EXTERNAL) {
		if (path_join(gdir, sizeof(gdir), inst->games_dir, game_id) ==
		    -1)
			_exit(1);
		rc = stream_archives_unrar(inst->unrar_path, game_fd, gdir,
		    names, n, fd, &lim, err, sizeof(err));
	} else
		rc = stream_archives(game_fd, names, n, fd, &lim, err,
		    sizeof(err));
	if (rc == -1)
		log_warnx("stream %s: %s", game_id, err);
	_exit(rc == -1 ? 1 : 0);
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct install	*inst = w->data;
	struct job	*j;

	(void)loop;
	(void)revents;
	/* Stream children report through their stream; jobs to us. */
	if ((j = job_find(inst, w->rpid)) != NULL)
		job_done(inst, j, w->rstatus);
	else if (inst->nstreams > 0)
		inst->nstreams--;
}

/* After a crash: a half-extracted staging folder is removed. */
static void
cleanup_game(struct install *inst, const char *game_id)
{
	struct stat	 st;
	int		 game_fd = open_game(inst, game_id);

	if (game_fd == -1)
		return;
	if (fstatat(game_fd, INSTALLING_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_info("%s: removing an unfinished install", game_id);
		path_remove_tree_beneath(game_fd, INSTALLING_DIR);
	}
	path_remove_tree_beneath(game_fd, RETIRING);
	close(game_fd);
}

static int
cleanup_one(int game_fd, const char *game_id, void *arg)
{
	(void)game_fd;
	cleanup_game(arg, game_id);
	return 0;
}

static void
cleanup_all(struct install *inst)
{
	games_each(inst->games_fd, cleanup_one, inst);
}

static void
install_hello(struct install *inst, const struct inst_hello *hello)
{
	memcpy(inst->games_dir, hello->games_dir, sizeof(inst->games_dir));
	memcpy(inst->unrar_path, hello->unrar_path, sizeof(inst->unrar_path));
	inst->unrar = hello->unrar;
	inst->games_gid = (gid_t)hello->games_gid;
	if (inst->games_fd != -1)
		close(inst->games_fd);
	inst->games_fd = open(inst->games_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (inst->games_fd == -1)
		fatal("games dir %s", inst->games_dir);
	if (hello->cleanup)
		cleanup_all(inst);
	/* Writes beneath the games folder; exec only for an external unrar. */
	sandbox_worker_group(PROC_INSTALL, inst->games_dir,
	    inst->unrar == UNRAR_EXTERNAL ? inst->unrar_path : NULL,
	    inst->games_gid);
	msg_send_inst_ready(&inst->sup);
}

static void
install_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct install	*inst = c->arg;
	struct inst_hello hello;
	struct inst_play play;
	struct game_ref	 ref;
	struct game_pipe stream;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_INST_HELLO:
		if (msg_recv_inst_hello(m, &hello, why, sizeof(why)) == -1)
			break;
		if (hello.games_gid > INST_NO_GROUP) {
			snprintf(why, sizeof(why), "bad games_gid");
			break;
		}
		install_hello(inst, &hello);
		return;
	case MSG_INST_PLAY:
		if (msg_recv_inst_play(m, &play, why, sizeof(why)) == -1)
			break;
		if (!path_is_valid_game_id(play.game_id)) {
			snprintf(why, sizeof(why), "bad game id");
			break;
		}
		do_play(inst, &play);
		return;
	case MSG_INST_INSTALL:
	case MSG_INST_UNINSTALL:
		if ((m->type == MSG_INST_INSTALL ?
		    msg_recv_inst_install(m, &ref, why, sizeof(why)) :
		    msg_recv_inst_uninstall(m, &ref, why, sizeof(why))) == -1)
			break;
		if (!path_is_valid_game_id(ref.game_id)) {
			snprintf(why, sizeof(why), "bad game id");
			break;
		}
		job_start(inst, ref.game_id, m->type == MSG_INST_INSTALL ?
		    INST_OP_INSTALL : INST_OP_UNINSTALL);
		return;
	case MSG_INST_STREAM_OUT:
		if (msg_recv_inst_stream_out(m, &stream, why, sizeof(why))
		    == -1)
			break;
		if (!path_is_valid_game_id(stream.game_id)) {
			close(stream.fd);
			snprintf(why, sizeof(why), "bad game id");
			break;
		}
		do_stream_out(inst, stream.game_id, stream.fd);
		return;
	case MSG_INST_GROUP:
		if (msg_recv_inst_group(m, &ref, why, sizeof(why)) == -1)
			break;
		if (!path_is_valid_game_id(ref.game_id)) {
			snprintf(why, sizeof(why), "bad game id");
			break;
		}
		job_start(inst, ref.game_id, INST_OP_GROUP);
		return;
	case MSG_INST_CLEANUP:
		if (msg_recv_inst_cleanup(m, &ref, why, sizeof(why)) == -1)
			break;
		if (!path_is_valid_game_id(ref.game_id)) {
			snprintf(why, sizeof(why), "bad game id");
			break;
		}
		cleanup_game(inst, ref.game_id);
		return;
	}
	fatalx("bad %s from the supervisor: %s", msg_type_str(m->type),
	    why[0] != '\0' ? why : "unexpected");
}

static void
sup_lost(struct msgconn *c, const char *why)
{
	struct install	*inst = c->arg;
	struct job	*j;

	log_debug("supervisor link: %s", why);
	/* Nobody waits for these installs: stop them and undo them. */
	while ((j = TAILQ_FIRST(&inst->jobs)) != NULL) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		cleanup_game(inst, j->game_id);
		job_free(inst, j);
	}
	ev_break(inst->loop, EVBREAK_ALL);
}

struct install *
install_new(struct ev_loop *loop, int supfd)
{
	struct install	*inst;

	if ((inst = calloc(1, sizeof(*inst))) == NULL)
		return NULL;
	inst->loop = loop;
	inst->games_fd = -1;
	inst->games_gid = (gid_t)-1;
	msgconn_init(&inst->sup, loop, supfd, 1, install_dispatch_supervisor,
	    sup_lost, inst);
	TAILQ_INIT(&inst->jobs);
	ev_child_init(&inst->children, child_cb, 0, 0);
	inst->children.data = inst;
	ev_child_start(loop, &inst->children);
	return inst;
}

void
install_free(struct install *inst)
{
	ev_child_stop(inst->loop, &inst->children);
	msgconn_close(&inst->sup);
	if (inst->games_fd != -1)
		close(inst->games_fd);
	free(inst);
}
