/*
 * done_script: a program run when a download or an install ends, with the
 * game and how it ended in its environment, as the daemon's user. It runs
 * detached (two forks: init reaps it), stdin from /dev/null, its output
 * in our stderr, so the daemon never waits for it nor hands it a socket.
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/close_range.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

static const char	*script;

/* The events that end an operation, and the state each leaves. */
static const struct { const char *event, *state; } endings[] = {
	{ "download-finished",	"finished" },
	{ "download-failed",	"failed" },
	{ "download-peers-gone", "peers-gone" },
	{ "download-cancelled",	"cancelled" },
	{ "install-finished",	"finished" },
	{ "install-failed",	"failed" },
};

void
done_script_set(const char *path)
{
	script = path;
}

static void __attribute__((noreturn))
run_script(const char *event, const char *state, const char *game_id,
    const char *error)
{
	sigset_t	 none;
	int		 fd;

	setsid();
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
		dup2(fd, STDIN_FILENO);
	/* Nothing of ours but stdout and stderr goes with it. */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setenv("LANSPREAD_EVENT", event, 1);
	setenv("LANSPREAD_STATE", state, 1);
	setenv("LANSPREAD_GAME_ID", game_id, 1);
	if (error != NULL)
		setenv("LANSPREAD_ERROR", error, 1);
	execl(script, script, event, game_id, (char *)NULL);
	fprintf(stderr, "done_script %s: %s\n", script, strerror(errno));
	_exit(127);
}

void
done_script_event(const char *event, json_t *data)
{
	const char	*game_id, *error;
	pid_t		 pid;
	size_t		 i;

	if (script == NULL)
		return;
	for (i = 0; i < sizeof(endings) / sizeof(endings[0]); i++)
		if (strcmp(endings[i].event, event) == 0)
			break;
	if (i == sizeof(endings) / sizeof(endings[0]) ||
	    (game_id = json_string_value(json_object_get(data, "game_id")))
	    == NULL)
		return;
	error = json_string_value(json_object_get(data, "error"));
	if ((pid = fork()) == -1) {
		log_warn("done_script %s", script);
		return;
	}
	if (pid == 0) {
		if (fork() == 0)
			run_script(event, endings[i].state, game_id, error);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	log_debug("done_script %s %s %s", script, event, game_id);
}
