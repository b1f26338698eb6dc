/*
 * Check suite for common/sandbox.c. Every test forks a child that applies
 * a policy and tries what a worker must (not) be able to do; the child
 * reports through its exit status and a pipe, so the test process itself
 * is never sandboxed.
 */

#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/landlock.h>
#include <linux/openat2.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "common/sandbox.h"
#include "tests/testutil.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset	444
#endif
#ifndef AF_PACKET
#define AF_PACKET	17
#endif

/* One temporary root per test case; each test works in its own subdir. */
static char	root[PATH_MAX];

/* This test's folders: <root>/<test>/games and <root>/<test>/outside. */
static char	games[PATH_MAX];
static char	outside[PATH_MAX];

/* The child's end of the report pipe. */
static int	report_fd = -1;

static Suite	*sandbox_suite(void);

/*
 * In a child: the first failed expectation is written to the report pipe
 * and the child returns 1.
 */
#define EXPECT(cond) do {						\
	if (!(cond)) {							\
		child_fail(__LINE__, #cond, errno);			\
		return 1;						\
	}								\
} while (0)

/* In a child: errno of a call that must fail with e. */
#define EXPECT_ERR(call, e) do {					\
	errno = 0;							\
	EXPECT((call) == -1 && errno == (e));				\
} while (0)

static void
child_fail(int line, const char *what, int errnum)
{
	dprintf(report_fd, "line %d: %s (errno %d: %s)", line, what, errnum,
	    strerror(errnum));
}

/* dir/name into buf, PATH_MAX bytes; the paths here always fit. */
static const char *
at(char *buf, const char *dir, const char *name)
{
	if (path_join(buf, PATH_MAX, dir, name) == -1)
		abort();
	return buf;
}

/* Unchecked: runs in the runner process, so it cleans up after failures. */
static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "check_sandbox");
}

static void
root_teardown(void)
{
	tu_rmtree(root);
}

/* Fresh games/ and outside/ folders for the test called name. */
static void
scratch(const char *name)
{
	char	dir[PATH_MAX];

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/%s", root, name),
	    (int)sizeof(dir));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_lt(snprintf(games, sizeof(games), "%s/games", dir),
	    (int)sizeof(games));
	ck_assert_int_lt(snprintf(outside, sizeof(outside), "%s/outside",
	    dir), (int)sizeof(outside));
	ck_assert_int_eq(mkdir(games, 0700), 0);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
}

/* Fixture files are made with plain syscalls, before any sandbox. */
static void
mkfile(const char *dir, const char *name, const char *content)
{
	char	path[PATH_MAX];

	tu_write_str(AT_FDCWD, at(path, dir, name), content);
}

static int
exists(const char *dir, const char *name)
{
	char	path[PATH_MAX];

	return tu_exists(AT_FDCWD, at(path, dir, name));
}

/* In a child: creates dir/name; returns 0 or -1 with errno set. */
static int
create_at(const char *dir, const char *name)
{
	char	path[PATH_MAX];
	int	fd;

	at(path, dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (write(fd, "x", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
rename_between(const char *from_dir, const char *to_dir, const char *name)
{
	char	from[PATH_MAX], to[PATH_MAX];

	at(from, from_dir, name);
	at(to, to_dir, name);
	return rename(from, to);
}

static struct sandbox_policy
policy(const char *write_dir, int network, int exec)
{
	struct sandbox_policy	p;

	memset(&p, 0, sizeof(p));
	p.write_dirs[0] = write_dir;
	p.allow_network = network;
	p.allow_exec = exec;
	p.require = 1;
	return p;
}

/*
 * Forks; the child runs before() when given (still unsandboxed), applies
 * p when given, then fn(arg), and exits with fn's value. Fails the test
 * with the child's report unless the child exited with 0.
 */
static void
run_child(int (*before)(void), const struct sandbox_policy *p,
    int (*fn)(void *), void *arg)
{
	char	report[1024], err[256];
	ssize_t	n;
	pid_t	pid;
	int	fds[2], status, ret;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	fflush(NULL);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		if (before != NULL && (ret = before()) != 0)
			_exit(ret);
		if (p != NULL && sandbox_apply(p, err, sizeof(err)) == -1) {
			dprintf(report_fd, "sandbox_apply: %s", err);
			_exit(1);
		}
		/* _exit: no atexit handler (LeakSanitizer) in a sandbox. */
		_exit(fn(arg));
	}
	close(fds[1]);
	memset(report, 0, sizeof(report));
	n = read(fds[0], report, sizeof(report) - 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (n <= 0)
		snprintf(report, sizeof(report), "no report");
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d (%s)",
	    WTERMSIG(status), report);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child exit %d: %s",
	    WEXITSTATUS(status), report);
}

/* ---------------------------------------------------------------- */
/* Landlock */

/* What a child does before its sandbox: what a kernel without Landlock says. */
static int
hide_landlock(void)
{
	scmp_filter_ctx	ctx;
	int		rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    (ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		child_fail(__LINE__, "seccomp_init", errno);
		return 1;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(landlock_create_ruleset), 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		child_fail(__LINE__, "seccomp_load", -rc);
		return 1;
	}
	return 0;
}

START_TEST(landlock_abi_probe_matches_the_kernel)
{
	struct landlock_ruleset_attr	 attr;
	char				 lsm[512];
	FILE				*f;
	long				 raw;
	int				 abi, saved, fd;

	errno = 0;
	raw = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	saved = errno;
	abi = sandbox_landlock_abi();
	if (raw == -1) {
		ck_assert_msg(saved == ENOSYS || saved == EOPNOTSUPP,
		    "probe: %s", strerror(saved));
		ck_assert_int_eq(abi, 0);
		printf("NOTE: this kernel has no Landlock (%s); the Landlock "
		    "tests only check the fallback\n", strerror(saved));
		return;
	}
	ck_assert_int_ge(raw, 1);
	ck_assert_int_eq(abi, raw);
	printf("NOTE: Landlock ABI %d\n", abi);

	/* More than a version number: a ruleset can be made. */
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE;
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr),
	    0);
	ck_assert_msg(fd >= 0, "create_ruleset: %s", strerror(errno));
	close(fd);

	/* The LSM list agrees, where securityfs is mounted. */
	if ((f = fopen("/sys/kernel/security/lsm", "r")) != NULL) {
		memset(lsm, 0, sizeof(lsm));
		if (fgets(lsm, sizeof(lsm), f) != NULL)
			ck_assert_msg(strstr(lsm, "landlock") != NULL,
			    "lsm: %s", lsm);
		fclose(f);
	}
}
END_TEST

static char	escape[PATH_MAX];	/* a file in /tmp, outside any policy */

static int
write_confined(void *arg)
{
	char	path[PATH_MAX], path2[PATH_MAX], buf[16];
	int	abi = *(int *)arg, fd;

	/* Beneath games: create, write, mkdir, rename, truncate, remove. */
	EXPECT(create_at(games, "new") == 0);
	at(path, games, "dir");
	EXPECT(mkdir(path, 0700) == 0);
	at(path, games, "new");
	at(path2, games, "dir/new");
	if (abi >= 2)
		EXPECT(rename(path, path2) == 0);
	else
		EXPECT(rename(path, path2) == -1 && errno == EXDEV);
	EXPECT(truncate(abi >= 2 ? path2 : path, 0) == 0);
	EXPECT(unlink(abi >= 2 ? path2 : path) == 0);
	at(path, games, "dir");
	EXPECT(rmdir(path) == 0);

	/* Outside: nothing is made, changed or removed. */
	EXPECT_ERR(create_at(outside, "new"), EACCES);
	EXPECT_ERR(create_at("/tmp", escape + strlen("/tmp/")), EACCES);
	at(path, outside, "kept");
	EXPECT_ERR(open(path, O_WRONLY | O_CLOEXEC), EACCES);
	EXPECT_ERR(open(path, O_RDWR | O_APPEND | O_CLOEXEC), EACCES);
	EXPECT_ERR(unlink(path), EACCES);
	if (abi >= 3)
		EXPECT_ERR(truncate(path, 0), EACCES);
	at(path, outside, "dir");
	EXPECT_ERR(mkdir(path, 0700), EACCES);
	at(path, outside, "link");
	EXPECT_ERR(symlink("kept", path), EACCES);
	at(path, outside, "fifo");
	EXPECT_ERR(mkfifo(path, 0600), EACCES);

	/* Out of games, into games: refused either way. */
	errno = 0;
	EXPECT(rename_between(games, outside, "moved") == -1 &&
	    (errno == EACCES || errno == EXDEV));
	errno = 0;
	EXPECT(rename_between(outside, games, "kept") == -1 &&
	    (errno == EACCES || errno == EXDEV));
	at(path, games, "moved");
	at(path2, outside, "hard");
	errno = 0;
	EXPECT(link(path, path2) == -1 &&
	    (errno == EACCES || errno == EXDEV));

	/* Reads stay allowed everywhere. */
	at(path, outside, "kept");
	EXPECT((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	EXPECT(read(fd, buf, sizeof(buf)) == 4 && memcmp(buf, "kept", 4) == 0);
	close(fd);
	EXPECT((fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC)) >= 0);
	close(fd);

	/* /dev/null stays writable: an unrar's output goes there. */
	EXPECT((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0);
	EXPECT(write(fd, "x", 1) == 1);
	close(fd);
	EXPECT((fd = open("/dev/null", O_WRONLY | O_TRUNC | O_CLOEXEC)) >= 0);
	close(fd);
	return 0;
}

START_TEST(sandboxed_worker_cannot_write_outside_its_folder)
{
	struct sandbox_policy	p = policy(NULL, 1, 0);
	int			abi;

	ck_assert_int_ge(abi = sandbox_landlock_abi(), 0);
	if (abi == 0) {
		printf("NOTE: %s skipped: this kernel has no Landlock\n",
		    __func__);
		return;
	}
	scratch(__func__);
	mkfile(games, "moved", "moved");
	mkfile(outside, "kept", "kept");
	snprintf(escape, sizeof(escape), "/tmp/check_sandbox_escape.%d",
	    (int)getpid());
	unlink(escape);

	p.write_dirs[0] = games;
	run_child(NULL, &p, write_confined, &abi);

	ck_assert(exists(games, "moved"));
	ck_assert(!exists(outside, "moved"));
	ck_assert(exists(outside, "kept"));
	ck_assert(!exists(games, "kept"));
	ck_assert(!exists(outside, "new"));
	ck_assert(!exists(outside, "hard"));
	ck_assert(!exists("/", escape + 1));
}
END_TEST

static int
write_nowhere(void *arg)
{
	struct open_how	how;
	char		path[PATH_MAX], path2[PATH_MAX];
	int		abi = *(int *)arg, fd;

	/* seccomp answers first. */
	EXPECT_ERR(create_at(games, "new"), EPERM);
	at(path, games, "kept");
	EXPECT_ERR(open(path, O_WRONLY | O_CLOEXEC), EPERM);
	EXPECT_ERR(open(path, O_RDONLY | O_TRUNC | O_CLOEXEC), EPERM);
	EXPECT_ERR(unlink(path), EPERM);
	EXPECT_ERR(truncate(path, 0), EPERM);
	at(path2, games, "renamed");
	EXPECT_ERR(rename(path, path2), EPERM);
	EXPECT_ERR(mkdir(path2, 0700), EPERM);
	EXPECT_ERR(symlink("kept", path2), EPERM);
	EXPECT_ERR(chmod(path, 0666), EPERM);
	EXPECT_ERR(utimensat(AT_FDCWD, path, NULL, 0), EPERM);
	EXPECT_ERR(chown(path, 0, 0), EPERM);

	/* openat2 is not filtered: Landlock answers. */
	if (abi > 0) {
		memset(&how, 0, sizeof(how));
		how.flags = O_WRONLY | O_CREAT | O_CLOEXEC;
		how.mode = 0600;
		at(path, games, "new");
		EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, path, &how,
		    sizeof(how)), EACCES);
		how.flags = O_WRONLY | O_CLOEXEC;
		how.mode = 0;
		at(path, games, "kept");
		EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, path, &how,
		    sizeof(how)), EACCES);
	}

	at(path, games, "kept");
	EXPECT((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	close(fd);
	return 0;
}

START_TEST(sandboxed_worker_without_write_dirs_cannot_write_anywhere)
{
	struct sandbox_policy	p = policy(NULL, 1, 0);
	int			abi;

	ck_assert_int_ge(abi = sandbox_landlock_abi(), 0);
	scratch(__func__);
	mkfile(games, "kept", "kept");
	if (abi == 0)
		p.require = 0;
	run_child(NULL, &p, write_nowhere, &abi);
	ck_assert(exists(games, "kept"));
	ck_assert(!exists(games, "new"));
	ck_assert(!exists(games, "renamed"));
}
END_TEST

static int
use_path_helpers(void *arg)
{
	struct open_how	how;
	int		dfd, fd;

	(void)arg;
	EXPECT((dfd = open(games, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	EXPECT(path_mkdirs_beneath(dfd, "a/b", 0700) == 0);
	EXPECT((fd = path_open_beneath(dfd, "a/b/new",
	    O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	EXPECT(write(fd, "x", 1) == 1);
	close(fd);
	EXPECT(path_remove_tree_beneath(dfd, "a") == 0);

	/* openat2 itself, not a fallback. */
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	EXPECT((fd = (int)syscall(SYS_openat2, dfd, "kept", &how,
	    sizeof(how))) >= 0);
	close(fd);
	close(dfd);
	return 0;
}

START_TEST(sandboxed_worker_keeps_openat2_and_the_path_helpers)
{
	struct sandbox_policy	p = policy(NULL, 0, 0);

	scratch(__func__);
	mkfile(games, "kept", "kept");
	p.write_dirs[0] = games;
	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(NULL, &p, use_path_helpers, NULL);
	ck_assert(!exists(games, "a"));
}
END_TEST

static int
apply_requiring_landlock(void *arg)
{
	struct sandbox_policy	p = policy(games, 1, 1);
	char			err[256];

	(void)arg;
	errno = 0;
	EXPECT(sandbox_apply(&p, err, sizeof(err)) == -1 &&
	    errno == EOPNOTSUPP);
	EXPECT(strstr(err, "Landlock") != NULL);
	return 0;
}

START_TEST(sandbox_fails_closed_without_landlock_when_required)
{
	scratch(__func__);
	run_child(hide_landlock, NULL, apply_requiring_landlock, NULL);
}
END_TEST

static int
apply_without_landlock(void *arg)
{
	struct sandbox_policy	p = policy(games, 0, 0);
	char			err[256];

	(void)arg;
	p.require = 0;
	EXPECT(sandbox_apply(&p, err, sizeof(err)) == 0);
	/* The other layers hold... */
	EXPECT(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	EXPECT_ERR(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	EXPECT_ERR(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
	/* ...but writes are not confined any more. */
	EXPECT(create_at(outside, "unconfined") == 0);
	return 0;
}

START_TEST(sandbox_goes_on_without_landlock_when_not_required)
{
	scratch(__func__);
	run_child(hide_landlock, NULL, apply_without_landlock, NULL);
	ck_assert(exists(outside, "unconfined"));
}
END_TEST

/* ---------------------------------------------------------------- */
/* Network */

static int	pre_udp = -1;	/* opened before the sandbox */
static int	pre_pair[2] = { -1, -1 };

static int
open_sockets(void)
{
	if ((pre_udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    pre_pair) == -1) {
		child_fail(__LINE__, "socket", errno);
		return 1;
	}
	return 0;
}

static int
no_network(void *arg)
{
	struct sockaddr_in	sin;
	int			sp[2];

	(void)arg;
	EXPECT_ERR(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	EXPECT_ERR(socket(AF_INET, SOCK_DGRAM, 0), EPERM);
	EXPECT_ERR(socket(AF_INET6, SOCK_STREAM, 0), EPERM);
	EXPECT_ERR(socket(AF_PACKET, SOCK_RAW, 0), EPERM);
	EXPECT_ERR(socket(AF_NETLINK, SOCK_RAW, 0), EPERM);
	EXPECT_ERR(socket(AF_UNIX, SOCK_STREAM, 0), EPERM);
	EXPECT_ERR(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), EPERM);

	/* A socket it already holds goes nowhere either. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT_ERR(connect(pre_udp, (struct sockaddr *)&sin, sizeof(sin)),
	    EPERM);
	EXPECT_ERR(sendto(pre_udp, "x", 1, 0, (struct sockaddr *)&sin,
	    sizeof(sin)), EPERM);
	sin.sin_port = 0;
	EXPECT_ERR(bind(pre_udp, (struct sockaddr *)&sin, sizeof(sin)), EPERM);
	EXPECT_ERR(listen(pre_pair[0], 1), EPERM);
	EXPECT_ERR(accept(pre_pair[0], NULL, NULL), EPERM);
	EXPECT_ERR(accept4(pre_pair[0], NULL, NULL, SOCK_CLOEXEC), EPERM);
	return 0;
}

START_TEST(sandboxed_worker_cannot_open_a_socket)
{
	struct sandbox_policy	p = policy(NULL, 0, 0);

	scratch(__func__);
	p.write_dirs[0] = games;
	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(open_sockets, &p, no_network, NULL);
}
END_TEST

static int
some_network(void *arg)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			c;
	int			l, s, a, u;

	(void)arg;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	EXPECT(bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	EXPECT(listen(l, 1) == 0);
	EXPECT(getsockname(l, (struct sockaddr *)&sin, &len) == 0);
	EXPECT((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	EXPECT(connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	EXPECT((a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	EXPECT(send(s, "x", 1, 0) == 1);
	EXPECT(recv(a, &c, 1, 0) == 1 && c == 'x');

	EXPECT((u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	EXPECT(sendto(u, "x", 1, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) == 1);
	EXPECT(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0) >= 0 ||
	    errno == EAFNOSUPPORT);
	return 0;
}

START_TEST(sandboxed_worker_can_open_a_socket_when_allowed)
{
	struct sandbox_policy	p = policy(NULL, 1, 0);

	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(NULL, &p, some_network, NULL);
}
END_TEST

/* The supervisor link: send, receive, and pass descriptors. */
static int
use_socketpair(void *arg)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	char		 buf[8];
	int		 pfd[2], got;

	(void)arg;
	EXPECT(send(pre_pair[0], "ping", 4, 0) == 4);
	EXPECT(recv(pre_pair[1], buf, sizeof(buf), 0) == 4);
	EXPECT(write(pre_pair[1], "pong", 4) == 4);
	EXPECT(read(pre_pair[0], buf, sizeof(buf)) == 4);

	EXPECT(pipe2(pfd, O_CLOEXEC) == 0);
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = "f";
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &pfd[1], sizeof(int));
	EXPECT(sendmsg(pre_pair[0], &msg, 0) == 1);

	memset(&cm, 0, sizeof(cm));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	EXPECT(recvmsg(pre_pair[1], &msg, MSG_CMSG_CLOEXEC) == 1);
	EXPECT((cmsg = CMSG_FIRSTHDR(&msg)) != NULL &&
	    cmsg->cmsg_type == SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
	EXPECT(write(got, "y", 1) == 1);
	EXPECT(read(pfd[0], buf, 1) == 1 && buf[0] == 'y');
	return 0;
}

START_TEST(sandboxed_worker_keeps_its_socketpair)
{
	struct sandbox_policy	p = policy(NULL, 0, 0);

	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(open_sockets, &p, use_socketpair, NULL);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Exec */

static int
no_exec(void *arg)
{
	char *const	argv[] = { "false", NULL };

	(void)arg;
	/* /bin/false: an exec that went through fails the test. */
	EXPECT_ERR(execve("/bin/false", argv, environ), EPERM);
	EXPECT_ERR(execv("/bin/false", argv), EPERM);
	EXPECT_ERR(syscall(SYS_execveat, AT_FDCWD, "/bin/false", argv,
	    environ, 0), EPERM);
	return 0;
}

START_TEST(sandboxed_worker_cannot_exec)
{
	struct sandbox_policy	p = policy(NULL, 0, 0);

	scratch(__func__);
	p.write_dirs[0] = games;
	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(NULL, &p, no_exec, NULL);
}
END_TEST

/* What an exec'd program (an external unrar) inherits. */
static int
exec_confined(void *arg)
{
	const char	*script;
	pid_t		 pid;
	int		 abi = *(int *)arg, status;

	if (abi > 0)
		script = "grep -q '^NoNewPrivs:[[:space:]]*1$' "
		    "/proc/self/status && touch \"$1/y\" && "
		    "! touch \"$2/y\" 2>\"$1/err\" && test -s \"$1/err\"";
	else
		script = "grep -q '^NoNewPrivs:[[:space:]]*1$' "
		    "/proc/self/status && touch \"$1/y\"";
	EXPECT((pid = fork()) != -1);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, "sh", games, outside,
		    (char *)NULL);
		_exit(127);
	}
	EXPECT(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return 0;
}

START_TEST(sandboxed_worker_can_exec_when_allowed)
{
	struct sandbox_policy	p = policy(NULL, 0, 1);
	int			abi;

	ck_assert_int_ge(abi = sandbox_landlock_abi(), 0);
	scratch(__func__);
	p.write_dirs[0] = games;
	if (abi == 0)
		p.require = 0;
	run_child(NULL, &p, exec_confined, &abi);
	ck_assert(exists(games, "y"));
	ck_assert(!exists(outside, "y"));
}
END_TEST

/* ---------------------------------------------------------------- */
/* Always denied */

static int
no_kernel_state(void *arg)
{
	char	mnt[PATH_MAX];
	int	fd, ret;

	(void)arg;
	EXPECT_ERR(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
	EXPECT_ERR(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL), EPERM);

	at(mnt, games, "mnt");
	errno = 0;
	if ((ret = mount("none", mnt, "tmpfs", 0, NULL)) == 0)
		umount2(mnt, MNT_DETACH);
	EXPECT(ret == -1 && errno == EPERM);
	EXPECT_ERR(umount2(mnt, MNT_DETACH), EPERM);
	EXPECT_ERR(syscall(SYS_pivot_root, ".", "."), EPERM);
	EXPECT_ERR(syscall(SYS_fsopen, "tmpfs", 0), EPERM);
	EXPECT_ERR(syscall(SYS_open_tree, AT_FDCWD, "/", 0), EPERM);
	EXPECT_ERR(chown(mnt, 0, 0), EPERM);
	EXPECT_ERR(lchown(mnt, 0, 0), EPERM);
	EXPECT_ERR(unshare(CLONE_NEWUSER), EPERM);
	EXPECT_ERR(unshare(CLONE_NEWNS), EPERM);
	EXPECT((fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) >= 0);
	EXPECT_ERR(setns(fd, 0), EPERM);
	close(fd);

	/* Bad arguments: harmless should the filter let them through. */
	EXPECT_ERR(syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL), EPERM);
	EXPECT_ERR(syscall(SYS_init_module, NULL, 0, ""), EPERM);
	EXPECT_ERR(syscall(SYS_finit_module, -1, "", 0), EPERM);
	EXPECT_ERR(syscall(SYS_delete_module, "lanspread_none", 0), EPERM);
	EXPECT_ERR(syscall(SYS_swapon, "/nonexistent", 0), EPERM);
	EXPECT_ERR(syscall(SYS_swapoff, "/nonexistent"), EPERM);
	EXPECT_ERR(syscall(SYS_reboot, 0, 0, 0, NULL), EPERM);
	EXPECT_ERR(syscall(SYS_bpf, 0, NULL, 0), EPERM);
	EXPECT_ERR(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
	EXPECT_ERR(syscall(SYS_keyctl, 0, 0, 0, 0, 0), EPERM);
	EXPECT_ERR(syscall(SYS_add_key, "user", "x", "", 0, 0), EPERM);
	EXPECT_ERR(syscall(SYS_request_key, "user", "x", NULL, 0), EPERM);
	EXPECT_ERR(syscall(SYS_io_uring_setup, 1, NULL), EPERM);
	EXPECT_ERR(syscall(SYS_open_by_handle_at, -1, NULL, 0), EPERM);
	EXPECT_ERR(syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0,
	    0), EPERM);
	return 0;
}

START_TEST(sandboxed_worker_cannot_ptrace_or_mount)
{
	struct sandbox_policy	p = policy(NULL, 1, 1);
	char			mnt[PATH_MAX];

	scratch(__func__);
	at(mnt, games, "mnt");
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	/* The most open policy: these are denied whatever it says. */
	p.write_dirs[0] = games;
	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(NULL, &p, no_kernel_state, NULL);
}
END_TEST

static int
check_prctl(void *arg)
{
	(void)arg;
	EXPECT(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	EXPECT(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	return 0;
}

START_TEST(no_new_privs_is_set)
{
	struct sandbox_policy	p = policy(NULL, 1, 1);

	/* Not inherited from the test process: the sandbox sets them. */
	ck_assert_int_eq(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	if (sandbox_landlock_abi() == 0)
		p.require = 0;
	run_child(NULL, &p, check_prctl, NULL);
}
END_TEST

static int
signal_scope(void *arg)
{
	pid_t	pid;
	int	status;

	(void)arg;
	EXPECT_ERR(kill(getppid(), 0), EPERM);
	/* Its own children (an unrar) it may still stop. */
	EXPECT((pid = fork()) != -1);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	EXPECT(kill(pid, SIGKILL) == 0);
	EXPECT(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	return 0;
}

START_TEST(sandboxed_worker_cannot_signal_outside_its_sandbox)
{
	struct sandbox_policy	p = policy(NULL, 1, 1);
	int			abi;

	ck_assert_int_ge(abi = sandbox_landlock_abi(), 0);
	if (abi < 6) {
		printf("NOTE: %s skipped: Landlock ABI %d has no signal "
		    "scoping\n", __func__, abi);
		return;
	}
	run_child(NULL, &p, signal_scope, NULL);
}
END_TEST

/* ---------------------------------------------------------------- */
/* rlimits */

static int
limits(void *arg)
{
	struct rlimit	before, rl;
	char		path[PATH_MAX], buf[8192];
	int		fd;

	(void)arg;
	EXPECT(getrlimit(RLIMIT_FSIZE, &before) == 0);
	EXPECT(sandbox_rlimits(0) == 0);
	EXPECT(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 &&
	    rl.rlim_max == 0);
	EXPECT(getrlimit(RLIMIT_FSIZE, &rl) == 0 &&
	    rl.rlim_cur == before.rlim_cur && rl.rlim_max == before.rlim_max);

	EXPECT(sandbox_rlimits(4096) == 0);
	EXPECT(getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur == 4096 &&
	    rl.rlim_max == 4096);
	at(path, games, "big");
	EXPECT((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	memset(buf, 'b', sizeof(buf));
	/* Cut at the limit, then EFBIG; SIGXFSZ does not kill us. */
	EXPECT(write(fd, buf, sizeof(buf)) == 4096);
	EXPECT_ERR(write(fd, buf, sizeof(buf)), EFBIG);
	close(fd);
	return 0;
}

START_TEST(rlimits_stop_core_files_and_oversized_writes)
{
	scratch(__func__);
	run_child(NULL, NULL, limits, NULL);
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sandbox");

	tc = tu_tcase(s, "landlock", root_setup, root_teardown, NULL, NULL);
	tcase_add_test(tc, landlock_abi_probe_matches_the_kernel);
	tcase_add_test(tc, sandboxed_worker_cannot_write_outside_its_folder);
	tcase_add_test(tc,
	    sandboxed_worker_without_write_dirs_cannot_write_anywhere);
	tcase_add_test(tc, sandboxed_worker_keeps_openat2_and_the_path_helpers);
	tcase_add_test(tc, sandbox_fails_closed_without_landlock_when_required);
	tcase_add_test(tc, sandbox_goes_on_without_landlock_when_not_required);

	tc = tu_tcase(s, "network", root_setup, root_teardown, NULL, NULL);
	tcase_add_test(tc, sandboxed_worker_cannot_open_a_socket);
	tcase_add_test(tc, sandboxed_worker_can_open_a_socket_when_allowed);
	tcase_add_test(tc, sandboxed_worker_keeps_its_socketpair);

	tc = tu_tcase(s, "exec", root_setup, root_teardown, NULL, NULL);
	tcase_add_test(tc, sandboxed_worker_cannot_exec);
	tcase_add_test(tc, sandboxed_worker_can_exec_when_allowed);

	tc = tu_tcase(s, "denied", root_setup, root_teardown, NULL, NULL);
	tcase_add_test(tc, sandboxed_worker_cannot_ptrace_or_mount);
	tcase_add_test(tc, no_new_privs_is_set);
	tcase_add_test(tc, sandboxed_worker_cannot_signal_outside_its_sandbox);

	tc = tu_tcase(s, "rlimits", root_setup, root_teardown, NULL, NULL);
	tcase_add_test(tc, rlimits_stop_core_files_and_oversized_writes);

	return s;
}

int
main(void)
{
	/* The NOTE lines come out before Check's summary. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return tu_run_suite(sandbox_suite());
}
