/*
 * Workers are separate executables: the supervisor forks, puts the worker's
 * end of a socketpair on fd 3, closes everything else and execs. A worker
 * dies with its supervisor (PR_SET_PDEATHSIG, and EOF on fd 3).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
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
	[PROC_WEB] = "web",
};

/* What ps and pgrep show: argv[0], and the comm (cut to 15 bytes). */
const char *const proc_titles[PROC_MAX] = {
	[PROC_SUPERVISOR] = "lanspreadd",
	[PROC_NET] = "lanspread-net",
	[PROC_TRANSFER] = "lanspread-transfer",
	[PROC_INSTALL] = "lanspread-install",
	[PROC_WEB] = "lanspread-web",
};

struct proc_worker_opts proc_opts = {
	.net_uid = (uid_t)-1,
	.net_gid = (gid_t)-1,
};

/*
 * The supervisor, once: when it runs as root, the net and web workers
 * will become user (root itself is refused). Otherwise no worker can change its uid
 * and this does nothing. Returns 0, or -1 with err filled.
 */
int
proc_set_net_user(const char *user, char *err, size_t errsz)
{
	struct passwd	*pw;

	proc_opts.net_uid = (uid_t)-1;
	proc_opts.net_gid = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errsz, "net_user %s does not exist", user);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errsz, "net_user %s is root", user);
		return -1;
	}
	proc_opts.net_uid = pw->pw_uid;
	proc_opts.net_gid = pw->pw_gid;
	return 0;
}

/*
 * A worker, first thing: -v (verbose), -o (sandbox optional), -s (log to
 * syslog), -u uid:gid (net: the user to become). Returns 0, or -1 on
 * anything else.
 */
int
proc_worker_args(int argc, char *argv[])
{
	unsigned long	 u, g;
	char		*end;
	int		 ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, "osu:v")) != -1) {
		switch (ch) {
		case 'o':
			proc_opts.sandbox_optional = 1;
			break;
		case 's':
			proc_opts.log_syslog = 1;
			break;
		case 'u':
			errno = 0;
			u = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != ':' ||
			    u == 0 || u >= (uid_t)-1)
				return -1;
			optarg = end + 1;
			g = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    g == 0 || g >= (gid_t)-1)
				return -1;
			proc_opts.net_uid = (uid_t)u;
			proc_opts.net_gid = (gid_t)g;
			break;
		case 'v':
			proc_opts.verbose = 1;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* The parent of pid from /proc/<pid>/stat, or -1. */
static pid_t
proc_parent(pid_t pid)
{
	char	 path[64], buf[512], *p;
	ssize_t	 n;
	long	 ppid;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold anything, even ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/*
 * 1 when pid is one of the n workers in pids, or a process they started
 * (an install job, an unrar), or when it cannot be told; else 0.
 */
int
proc_is_worker(pid_t pid, const pid_t *pids, int n)
{
	pid_t	 self = getpid();
	int	 depth, i;

	for (depth = 0; depth < 32; depth++) {
		if (pid <= 1 || pid == self)
			return 0;
		for (i = 0; i < n; i++)
			if (pids[i] > 0 && pid == pids[i])
				return 1;
		if ((pid = proc_parent(pid)) == -1)
			return 1;
	}
	return 1;
}

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
	char		*args[16], ids[64];
	int		 sp[2], n = 0, i;
	pid_t		 parent = getpid(), pid;

	/* The caller's arguments, then the sandbox options. */
	for (i = 0; argv[i] != NULL && n < 12; i++)
		args[n++] = argv[i];
	if (proc_opts.sandbox_optional)
		args[n++] = "-o";
	/* Workers log where the supervisor does. */
	if (log_destination() == LOG_DEST_SYSLOG)
		args[n++] = "-s";
	if ((id == PROC_NET || id == PROC_WEB) &&
	    proc_opts.net_uid != (uid_t)-1) {
		snprintf(ids, sizeof(ids), "%lu:%lu",
		    (unsigned long)proc_opts.net_uid,
		    (unsigned long)proc_opts.net_gid);
		args[n++] = "-u";
		args[n++] = ids;
	}
	args[n] = NULL;

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
	execv(exe, args);
	_exit(127);
}

int
proc_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl);
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
	prctl(PR_SET_NAME, proc_titles[id]);
	/*
	 * SIGTERM or SIGINT to the whole process group (Ctrl-C, kill -- -PGID)
	 * is the supervisor's to act on: a worker stops when its socket
	 * closes, so a clean shutdown loses no worker. A program a worker
	 * execs gets the defaults back (extract_unrar.c).
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (fcntl(PROC_WORKER_FD, F_SETFD, FD_CLOEXEC) == -1 ||
	    proc_set_nonblock(PROC_WORKER_FD) == -1)
		fatal("fd %d", PROC_WORKER_FD);
	signal(SIGPIPE, SIG_IGN);
	if (proc_raise_nofile() == -1)
		log_warn("%s: cannot raise the open files limit", __func__);
}
