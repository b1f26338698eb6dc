/*
 * Live library: inotify on the games folder and on each game folder, so
 * a game dropped in, deleted or given a new version.ini reaches peers
 * within moments; a slow periodic rescan is the safety net for what
 * inotify cannot see (network filesystems, overflowed queues).
 */
#include <sys/inotify.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "supervisor/supervisor.h"

#define WATCH_SETTLE	0.2	/* let a burst of events settle */
#define WATCH_RESCAN	10.0	/* the safety net */
#define WATCH_MASK	(IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | \
			 IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
			 IN_ATTRIB | IN_ONLYDIR)
#define GAME_MASK	(WATCH_MASK & ~IN_ONLYDIR)

/* Watches the folder and every folder in it that may become a game. */
static int
watch_game(int game_fd, const char *game_id, void *arg)
{
	struct sup	*sup = arg;
	char		 path[PATH_MAX];

	(void)game_fd;
	/* Re-adding returns the same watch; vanished ones go away. */
	if (path_join(path, sizeof(path), sup->cfg.games_dir, game_id) == 0)
		inotify_add_watch(sup->inotify_fd, path, GAME_MASK |
		    IN_ONLYDIR | IN_DONT_FOLLOW);
	return 0;
}

static void
watch_refresh(struct sup *sup)
{
	if (inotify_add_watch(sup->inotify_fd, sup->cfg.games_dir,
	    WATCH_MASK) == -1)
		log_warn("inotify %s", sup->cfg.games_dir);
	games_each(sup->games_fd, watch_game, sup);
}

static void
watch_rescan(struct sup *sup)
{
	watch_refresh(sup);
	sup_rescan(sup);
}

static void
settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	watch_rescan(w->data);
}

static void
periodic_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	watch_rescan(w->data);
}

static void
inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sup	*sup = w->data;
	char		 buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t		 n;

	(void)revents;
	/* Drain; what changed is found by rescanning, not by the events. */
	while ((n = read(sup->inotify_fd, buf, sizeof(buf))) > 0)
		;
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("inotify read");
	if (!ev_is_active(&sup->watch_settle)) {
		ev_timer_set(&sup->watch_settle, WATCH_SETTLE, 0);
		ev_timer_start(loop, &sup->watch_settle);
	}
}

int
watch_start(struct sup *sup)
{
	ev_timer_init(&sup->watch_periodic, periodic_cb, WATCH_RESCAN,
	    WATCH_RESCAN);
	sup->watch_periodic.data = sup;
	ev_timer_start(sup->loop, &sup->watch_periodic);
	ev_init(&sup->watch_settle, settle_cb);
	sup->watch_settle.data = sup;
	sup->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sup->inotify_fd == -1) {
		log_warn("inotify: relying on a rescan every %.0f s",
		    WATCH_RESCAN);
		return 0;
	}
	watch_refresh(sup);
	ev_io_init(&sup->inotify_io, inotify_cb, sup->inotify_fd, EV_READ);
	sup->inotify_io.data = sup;
	ev_io_start(sup->loop, &sup->inotify_io);
	return 0;
}

void
watch_stop(struct sup *sup)
{
	if (sup->loop == NULL)
		return;
	ev_timer_stop(sup->loop, &sup->watch_periodic);
	ev_timer_stop(sup->loop, &sup->watch_settle);
	if (sup->inotify_fd > 0) {
		ev_io_stop(sup->loop, &sup->inotify_io);
		close(sup->inotify_fd);
		sup->inotify_fd = -1;
	}
}
