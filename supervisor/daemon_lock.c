/*
 * One daemon per state dir and per control socket. The state dir holds
 * a lock file (flock, released by the kernel when the daemon dies, so a
 * crash leaves nothing stale) with the holder's pid for the message. A
 * control socket that answers belongs to a live daemon: it is never
 * unlinked, and SO_PEERCRED names that daemon's pid.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/daemon_lock.h"

#define LOCK_NAME	"lanspreadd.pid"

static int
already_running(char *err, size_t errsz, long pid)
{
	if (pid > 0)
		return seterr(err, errsz,
		    "lanspreadd is already running (pid %ld)", pid);
	return seterr(err, errsz, "lanspreadd is already running");
}

/* The pid the holder wrote, or 0 when it cannot be read yet. */
static long
lock_holder(int fd)
{
	char	 buf[32];
	ssize_t	 n;
	long	 pid;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? pid : 0;
}

int
daemon_lock(const char *state_dir, char *err, size_t errsz)
{
	char	 path[4096], pid[32];
	int	 fd, len;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir, LOCK_NAME) >=
	    (int)sizeof(path))
		return seterr(err, errsz, "state dir %s: name too long",
		    state_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) == -1)
		return seterr(err, errsz, "lock file %s: %s", path,
		    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int	 saved = errno;
		long	 holder = lock_holder(fd);

		close(fd);
		if (saved == EWOULDBLOCK)
			return already_running(err, errsz, holder);
		return seterr(err, errsz, "lock file %s: %s", path,
		    strerror(saved));
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)len, 0) != len) {
		seterr(err, errsz, "lock file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Held until exit: the fd is close-on-exec, so no worker keeps it. */
	return fd;
}

int
control_socket_check_free(const char *path, char *err, size_t errsz)
{
	struct sockaddr_un sun;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;	/* control_socket_open says why */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return seterr(err, errsz, "socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rc == -1) {
		close(fd);
		/* Missing or stale (nobody listens): ours to replace. */
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		cred.pid = 0;
	close(fd);
	if (cred.pid > 0)
		return seterr(err, errsz, "lanspreadd is already running "
		    "(pid %ld) on control socket %s", (long)cred.pid, path);
	return seterr(err, errsz, "lanspreadd is already running on "
	    "control socket %s", path);
}
