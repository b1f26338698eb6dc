/*
 * Workers are separate executables: the supervisor forks, puts the worker's
 * end of a socketpair on fd 3, closes everything else and execs. A worker
 * dies with its supervisor (PR_SET_PDEATHSIG, and EOF on fd 3).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"

const char *const proc_names[PROC_MAX] = {
	[PROC_SUPERVISOR] = "supervisor",
	[PROC_NET] = "net",
	[PROC_TRANSFER] = "transfer",
	[PROC_INSTALL] = "install",
};

int
proc_set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/* The folder of the running executable: workers live beside it. */
int
proc_exe_dir(char *buf, size_t size)
{
	ssize_t	 n;
	char	*slash;

	n = readlink("/proc/self/exe", buf, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return -1;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

pid_t
proc_start_worker(enum proc_id id, const char *exe, char *const argv[], int *fd)
{
	int	 sp[2];
	pid_t	 parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	switch ((pid = fork())) {
	case -1:
		close(sp[0]);
		close(sp[1]);
		return -1;
	case 0:
		break;
	default:
		close(sp[1]);
		if (proc_set_nonblock(sp[0]) == -1) {
			close(sp[0]);
			return -1;
		}
		*fd = sp[0];
		return pid;
	}

	/* Child: only async-signal-safe calls until exec. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	if (dup2(sp[1], PROC_WORKER_FD) == -1)
		_exit(127);
	{
		int	 null = open("/dev/null", O_RDWR);

		/* stdout is the shim's JSON stream: workers never write it. */
		if (null == -1 || dup2(null, STDIN_FILENO) == -1 ||
		    dup2(null, STDOUT_FILENO) == -1)
			_exit(127);
	}
	close_range(PROC_WORKER_FD + 1, ~0U, 0);
	{
		sigset_t	 none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	signal(SIGPIPE, SIG_DFL);
	execv(exe, argv);
	(void)id;
	_exit(127);
}

/* First thing a worker does after exec. */
void
proc_worker_init(enum proc_id id)
{
	struct stat	 st;

	log_setproc(proc_names[id]);
	if (fstat(PROC_WORKER_FD, &st) == -1 || !S_ISSOCK(st.st_mode))
		fatalx("fd %d is not a socket: a worker is started by the "
		    "supervisor, not by hand", PROC_WORKER_FD);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal("prctl(PR_SET_PDEATHSIG)");
	/* The supervisor may have died before PDEATHSIG was armed. */
	if (getppid() == 1)
		fatalx("supervisor is gone");
	prctl(PR_SET_NAME, proc_names[id]);
	if (fcntl(PROC_WORKER_FD, F_SETFD, FD_CLOEXEC) == -1 ||
	    proc_set_nonblock(PROC_WORKER_FD) == -1)
		fatal("fd %d", PROC_WORKER_FD);
	signal(SIGPIPE, SIG_IGN);
}
