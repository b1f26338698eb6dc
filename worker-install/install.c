/*
 * The install worker: extracts a game's archives into .local.installing
 * and commits by renaming it to local/; removes local/ on uninstall;
 * stamps first-play settings; and, for a peer's streamed install, turns
 * our archives into a stream of entries in a child process. Any failure
 * removes the staging folder and leaves the game as it was.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "common/sandbox.h"
#include "worker-install/extract.h"
#include "worker-install/install.h"
#include "worker-install/launch_settings.h"

#define STAGING		".local.installing"
#define RETIRING	".local.removing"

static void
reply_done(struct install *inst, uint32_t type, const char *game_id,
    const char *op, const char *error)
{
	struct msgout	 m;

	msgout_init(&m, type, error ? 3 : 2);
	msgout_str(&m, "game_id", game_id);
	msgout_str(&m, "op", op);
	if (error != NULL)
		msgout_str(&m, "error", error);
	msgconn_send(&inst->sup, &m, -1);
}

/* An error frame for the peer waiting at the other end of the pipe. */
static void
stream_error(int fd, const char *error)
{
	struct msgout	 m;
	char		*buf;
	size_t		 len;

	msgout_init(&m, MSG_PEER_ERROR, 1);
	msgout_str(&m, "error", error);
	if (msgout_frame(&m, &buf, &len) == 0) {
		if (write(fd, buf, len) != (ssize_t)len)
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
    char *err, size_t errsz)
{
	struct extract_limits lim;
	char		**names = NULL, gdir[PATH_MAX], dest[PATH_MAX];
	size_t		  n = 0;
	int		  dest_fd = -1, rc = -1;

	path_remove_tree_beneath(game_fd, STAGING);
	if (list_archives(game_fd, &names, &n, err, errsz) == -1)
		return -1;
	if (mkdirat(game_fd, STAGING, 0755) == -1 ||
	    (dest_fd = openat(game_fd, STAGING, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "cannot create %s: %s", STAGING,
		    strerror(errno));
		goto out;
	}
	extract_default_limits(game_fd, names, n, &lim);
	if (inst->unrar[0] == '\0')
		rc = fixture_install(game_fd, names, n, dest_fd, err, errsz);
	else if (strcmp(inst->unrar, "builtin") == 0)
		rc = extract_archives(game_fd, names, n, dest_fd, &lim, err,
		    errsz);
	else if (path_join(gdir, sizeof(gdir), inst->games_dir, game_id) ==
	    -1 || path_join(dest, sizeof(dest), gdir, STAGING) == -1)
		snprintf(err, errsz, "games folder path too long");
	else
		rc = extract_archives_unrar(inst->unrar, game_fd, gdir, names,
		    n, dest, err, errsz);
out:
	if (dest_fd != -1)
		close(dest_fd);
	archives_free(names, n);
	if (rc == -1)
		path_remove_tree_beneath(game_fd, STAGING);
	return rc;
}

static void
do_install(struct install *inst, const char *game_id)
{
	char	 err[512];
	int	 game_fd;

	if ((game_fd = open_game(inst, game_id)) == -1) {
		reply_done(inst, MSG_INST_FAILED, game_id, "install",
		    "no such game folder");
		return;
	}
	if (extract_to_staging(inst, game_fd, game_id, err,
	    sizeof(err)) == -1) {
		close(game_fd);
		log_warnx("install %s: %s", game_id, err);
		reply_done(inst, MSG_INST_FAILED, game_id, "install", err);
		return;
	}
	/* An earlier install is replaced whole, never merged. */
	path_remove_tree_beneath(game_fd, RETIRING);
	if ((renameat(game_fd, "local", game_fd, RETIRING) == -1 &&
	    errno != ENOENT) ||
	    renameat(game_fd, STAGING, game_fd, "local") == -1) {
		snprintf(err, sizeof(err), "cannot commit local/: %s",
		    strerror(errno));
		path_remove_tree_beneath(game_fd, STAGING);
		renameat(game_fd, RETIRING, game_fd, "local");
		close(game_fd);
		reply_done(inst, MSG_INST_FAILED, game_id, "install", err);
		return;
	}
	path_remove_tree_beneath(game_fd, RETIRING);
	close(game_fd);
	log_info("installed %s", game_id);
	reply_done(inst, MSG_INST_DONE, game_id, "install", NULL);
}

static void
do_uninstall(struct install *inst, const char *game_id)
{
	int	 game_fd;

	if ((game_fd = open_game(inst, game_id)) == -1) {
		reply_done(inst, MSG_INST_FAILED, game_id, "uninstall",
		    "no such game folder");
		return;
	}
	/* local/ vanishes at once; its files go after. */
	path_remove_tree_beneath(game_fd, RETIRING);
	if (renameat(game_fd, "local", game_fd, RETIRING) == -1) {
		reply_done(inst, MSG_INST_FAILED, game_id, "uninstall",
		    errno == ENOENT ? "game is not installed" :
		    "cannot remove local/");
		close(game_fd);
		return;
	}
	path_remove_tree_beneath(game_fd, RETIRING);
	close(game_fd);
	log_info("uninstalled %s", game_id);
	reply_done(inst, MSG_INST_DONE, game_id, "uninstall", NULL);
}

static void
do_play(struct install *inst, const msgpack_object *body)
{
	struct play_outcome out;
	struct msgout	 m;
	char		 game_id[65], user[128], lang[128], err[256];
	char		 rel[PATH_MAX];
	int		 local_fd;

	if (mp_get_str(body, "game_id", game_id, sizeof(game_id)) == -1 ||
	    !path_is_valid_game_id(game_id) ||
	    mp_get_str(body, "username", user, sizeof(user)) == -1 ||
	    mp_get_str(body, "language", lang, sizeof(lang)) == -1)
		fatalx("bad play request");
	snprintf(rel, sizeof(rel), "%s/local", game_id);
	local_fd = path_open_beneath(inst->games_fd, rel, O_RDONLY |
	    O_DIRECTORY, 0);
	if (local_fd == -1) {
		reply_done(inst, MSG_INST_FAILED, game_id, "play",
		    "game is not installed");
		return;
	}
	memset(&out, 0, sizeof(out));
	if (launch_settings_apply(local_fd, user, lang, &out, err,
	    sizeof(err)) == -1) {
		close(local_fd);
		reply_done(inst, MSG_INST_FAILED, game_id, "play", err);
		return;
	}
	close(local_fd);
	msgout_init(&m, MSG_INST_PLAYED, 4);
	msgout_str(&m, "game_id", game_id);
	msgout_bool(&m, "account_name_written", out.account_name_written);
	msgout_bool(&m, "language_written", out.language_written);
	msgout_bool(&m, "persona_name_written", out.persona_name_written);
	msgconn_send(&inst->sup, &m, -1);
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

	if ((pid = fork()) == -1) {
		log_warn("stream %s", game_id);
		close(fd);
		return;
	}
	if (pid > 0) {
		close(fd);
		return;
	}
	/* Child: never returns to the loop. */
	signal(SIGPIPE, SIG_IGN);
	if ((game_fd = open_game(inst, game_id)) == -1)
		_exit(1);
	if (list_archives(game_fd, &names, &n, err, sizeof(err)) == -1) {
		stream_error(fd, err);
		_exit(1);
	}
	extract_default_limits(game_fd, names, n, &lim);
	if (inst->unrar[0] != '\0' && strcmp(inst->unrar, "builtin") != 0) {
		if (path_join(gdir, sizeof(gdir), inst->games_dir, game_id) ==
		    -1)
			_exit(1);
		rc = stream_archives_unrar(inst->unrar, game_fd, gdir, names, n,
		    fd, &lim, err, sizeof(err));
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
	(void)loop;
	(void)w;
	(void)revents;
	/* Stream children report through the stream; only reap them. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* After a crash: a half-extracted staging folder is removed. */
static void
cleanup_game(struct install *inst, const char *game_id)
{
	struct stat	 st;
	int		 game_fd = open_game(inst, game_id);

	if (game_fd == -1)
		return;
	if (fstatat(game_fd, STAGING, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_info("%s: removing an unfinished install", game_id);
		path_remove_tree_beneath(game_fd, STAGING);
	}
	path_remove_tree_beneath(game_fd, RETIRING);
	close(game_fd);
}

static void
cleanup_all(struct install *inst)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	/* A fresh descriptor: readdir must not move games_fd's offset. */
	if ((fd = openat(inst->games_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR && path_is_valid_game_id(de->d_name))
			cleanup_game(inst, de->d_name);
	closedir(d);
}

static void
install_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct install	*inst = c->arg;
	char		 game_id[65];
	int		 cleanup;

	if (m->type == MSG_INST_HELLO) {
		if (mp_get_str(m->body, "games_dir", inst->games_dir,
		    sizeof(inst->games_dir)) == -1 ||
		    mp_get_str(m->body, "unrar", inst->unrar,
		    sizeof(inst->unrar)) == -1 ||
		    mp_get_bool(m->body, "cleanup", &cleanup) == -1)
			fatalx("bad hello from the supervisor");
		if (inst->games_fd != -1)
			close(inst->games_fd);
		inst->games_fd = open(inst->games_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (inst->games_fd == -1)
			fatal("games dir %s", inst->games_dir);
		if (cleanup)
			cleanup_all(inst);
		if (install_sandbox(inst) == -1)
			fatalx("cannot sandbox the install worker");
		msgconn_send_empty(c, MSG_INST_READY);
		return;
	}
	if (m->type == MSG_INST_PLAY) {
		do_play(inst, m->body);
		return;
	}
	if (mp_get_str(m->body, "game_id", game_id, sizeof(game_id)) == -1 ||
	    !path_is_valid_game_id(game_id))
		fatalx("bad %s from the supervisor", msg_type_str(m->type));
	switch (m->type) {
	case MSG_INST_INSTALL:
		do_install(inst, game_id);
		break;
	case MSG_INST_UNINSTALL:
		do_uninstall(inst, game_id);
		break;
	case MSG_INST_STREAM_OUT:
		if (m->fd == -1)
			fatalx("stream request without a pipe");
		do_stream_out(inst, game_id, m->fd);
		m->fd = -1;
		break;
	case MSG_INST_CLEANUP:
		cleanup_game(inst, game_id);
		break;
	default:
		fatalx("unexpected %s from the supervisor",
		    msg_type_str(m->type));
	}
	if (m->fd != -1)
		close(m->fd);
}

static void
sup_lost(struct msgconn *c, const char *why)
{
	struct install	*inst = c->arg;

	log_debug("supervisor link: %s", why);
	ev_break(inst->loop, EVBREAK_ALL);
}

/*
 * Once the games folder is known: writes only beneath it, no network,
 * and no exec unless an external unrar was configured.
 */
int
install_sandbox(struct install *inst)
{
	struct sandbox_policy p;
	char		 err[256];

	if (inst->sandboxed)
		return 0;
	memset(&p, 0, sizeof(p));
	p.write_dirs[0] = inst->games_dir;
	p.allow_exec = inst->unrar[0] != '\0' &&
	    strcmp(inst->unrar, "builtin") != 0;
	if (sandbox_rlimits(0) == -1 || sandbox_apply(&p, err,
	    sizeof(err)) == -1) {
		log_warnx("sandbox: %s", err);
		return -1;
	}
	inst->sandboxed = 1;
	return 0;
}

struct install *
install_new(struct ev_loop *loop, int supfd)
{
	struct install	*inst;

	if ((inst = calloc(1, sizeof(*inst))) == NULL)
		return NULL;
	inst->loop = loop;
	inst->games_fd = -1;
	msgconn_init(&inst->sup, loop, supfd, 1, install_dispatch_supervisor,
	    sup_lost, inst);
	ev_child_init(&inst->children, child_cb, 0, 0);
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
