/*
 * Check suite for common/sandbox.c: each worker's real policy (the one
 * sandbox_worker() applies: sandbox_policy_init + sandbox_apply), applied
 * in a forked child, must refuse what that worker does not need and
 * keep what it does. The child reports through its exit status and a
 * pipe, so the test process itself is never sandboxed.
 *
 * Run as root, as the workers of lanspread-peer run: the refusals would
 * prove little for a process that could not do these things anyway. As
 * another user the tests that need root pass without checking anything
 * and say so. Under AddressSanitizer every child leaves with _exit(2),
 * so that no leak check (which needs ptrace) runs inside a sandbox.
 */

#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "common/proc.h"
#include "common/sandbox.h"
#include "tests/testutil.h"

#ifndef AF_PACKET
#define AF_PACKET	17
#endif
#ifndef SO_MARK
#define SO_MARK		36
#endif

/* The roles as tested: install twice, without and with an unrar. */
enum role {
	R_NET,
	R_TRANSFER,
	R_INSTALL,
	R_INSTALL_EXEC,
	R_WEB,
	R_MAX
};

static const char *const role_names[R_MAX] = {
	"net", "transfer", "install", "install+unrar", "web"
};

/* net and web open no file: the others work in the games folder. */
static int
role_has_games(enum role r)
{
	return r != R_NET && r != R_WEB;
}

/* One temporary root per test case. */
static char	root[PATH_MAX];
/* <root>/<test>/games, with a game "g" holding "g/file.bin". */
static char	games[PATH_MAX];
/* A listening pathname Unix socket, outside the games folder. */
static char	unix_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
/* The program an install+unrar worker may run. */
static char	unrar[PATH_MAX];

/* The child's end of the report pipe; its role; fds opened before. */
static int	report_fd = -1;
static enum role child_role;
/* The install worker's games_group in real_policy(); (gid_t)-1: none. */
static gid_t	games_gid = (gid_t)-1;
static int	pre_inet = -1;

static Suite	*sandbox_suite(void);

#define EXPECT(cond) do {						\
	if (!(cond)) {							\
		child_fail(__LINE__, #cond, errno);			\
		return 1;						\
	}								\
} while (0)

/* A call that must fail, whatever the layer that refuses it. */
#define REFUSED(call) do {						\
	errno = 0;							\
	EXPECT((call) == -1);						\
} while (0)

static void
child_fail(int line, const char *what, int errnum)
{
	dprintf(report_fd, "%s: line %d: %s (errno %d: %s)",
	    role_names[child_role], line, what, errnum, strerror(errnum));
}

static int
is_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "check_sandbox: not root: test skipped\n");
	return 0;
}

static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "check_sandbox");
	/* nobody (the net worker) must reach its folders to be refused. */
	chmod(root, 0755);
}

static void
root_teardown(void)
{
	tu_rmtree(root);
}

/* A fresh games folder for test name, with g/file.bin in it. */
static void
scratch(const char *name)
{
	char	dir[PATH_MAX];
	int	fd;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/%s", root, name),
	    (int)sizeof(dir));
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_lt(snprintf(games, sizeof(games), "%s/games", dir),
	    (int)sizeof(games));
	ck_assert_int_eq(mkdir(games, 0755), 0);
	ck_assert_int_ne(fd = open(games, O_RDONLY | O_DIRECTORY), -1);
	tu_mkdir(fd, "g");
	tu_write_str(fd, "g/file.bin", "lanspread game file\n");
	close(fd);
	ck_assert_int_lt(snprintf(unix_path, sizeof(unix_path), "%s/ctl.sock",
	    dir), (int)sizeof(unix_path));
	/* A real program, so that an allowed exec really runs. */
	snprintf(unrar, sizeof(unrar), "%s", access("/usr/bin/true", X_OK) ==
	    0 ? "/usr/bin/true" : "/bin/true");
}

/* The policy worker role enters, as sandbox_worker() builds it. */
static void
real_policy(enum role r, struct sandbox_policy *p)
{
	struct passwd	*pw;

	proc_opts.net_uid = (uid_t)-1;
	proc_opts.net_gid = (gid_t)-1;
	proc_opts.sandbox_optional = 0;
	switch (r) {
	case R_NET:
		/* What lanspread-peer run as root says: nobody. */
		if (geteuid() == 0 && (pw = getpwnam("nobody")) != NULL) {
			proc_opts.net_uid = pw->pw_uid;
			proc_opts.net_gid = pw->pw_gid;
		}
		sandbox_policy_init(p, PROC_NET, NULL, NULL);
		break;
	case R_TRANSFER:
		sandbox_policy_init(p, PROC_TRANSFER, games, NULL);
		break;
	case R_INSTALL:
		sandbox_policy_init(p, PROC_INSTALL, games, NULL);
		p->games_gid = games_gid;
		break;
	case R_WEB:
		if (geteuid() == 0 && (pw = getpwnam("nobody")) != NULL) {
			proc_opts.net_uid = pw->pw_uid;
			proc_opts.net_gid = pw->pw_gid;
		}
		sandbox_policy_init(p, PROC_WEB, games, NULL);
		break;
	default:
		sandbox_policy_init(p, PROC_INSTALL, games, unrar);
		break;
	}
}

/*
 * Forks; the child runs before() when given (unsandboxed), applies the
 * real policy of r, then fn(), and exits with its value. Fails the test
 * with the child's report unless the child exited with 0.
 */
static void
run_child(enum role r, int (*before)(void), int (*fn)(void))
{
	struct sandbox_policy	p;
	char			report[1024], err[256];
	ssize_t			n;
	pid_t			pid;
	int			fds[2], status, ret;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	fflush(NULL);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		child_role = r;
		if (before != NULL && (ret = before()) != 0)
			_exit(ret);
		real_policy(r, &p);
		if (sandbox_apply(&p, err, sizeof(err)) == -1) {
			dprintf(report_fd, "%s: sandbox_apply: %s",
			    role_names[r], err);
			_exit(1);
		}
		_exit(fn());
	}
	close(fds[1]);
	memset(report, 0, sizeof(report));
	n = read(fds[0], report, sizeof(report) - 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (n <= 0)
		snprintf(report, sizeof(report), "no report");
	ck_assert_msg(WIFEXITED(status), "%s: child killed by signal %d (%s)",
	    role_names[r], WTERMSIG(status), report);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child exit %d: %s",
	    WEXITSTATUS(status), report);
}

/* The same refusal, by every worker that does not need the thing. */
static void
run_all(int (*before)(void), int (*fn)(void))
{
	enum role	r;

	for (r = 0; r < R_MAX; r++)
		run_child(r, before, fn);
}

/* ---------------------------------------------------------------- */
/* What no worker may do */

static int
read_shadow(void)
{
	REFUSED(open("/etc/shadow", O_RDONLY | O_CLOEXEC));
	REFUSED(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
	return 0;
}

START_TEST(no_worker_reads_etc_shadow)
{
	if (!is_root())
		return;
	ck_assert_int_eq(access("/etc/shadow", R_OK), 0);
	scratch("shadow");
	run_all(NULL, read_shadow);
}
END_TEST

static int
packet_socket(void)
{
	REFUSED(socket(AF_PACKET, SOCK_RAW, htons(0x0003)));
	REFUSED(socket(AF_PACKET, SOCK_DGRAM, htons(0x0003)));
	REFUSED(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	return 0;
}

START_TEST(no_worker_opens_an_af_packet_or_raw_socket)
{
	if (!is_root())
		return;
	scratch("packet");
	run_all(NULL, packet_socket);
}
END_TEST

/* Before: a UDP socket, as if it had been opened before the sandbox. */
static int
open_inet(void)
{
	if ((pre_inet = socket(AF_INET, SOCK_DGRAM, 0)) == -1) {
		child_fail(__LINE__, "socket", errno);
		return 1;
	}
	return 0;
}

static int
so_mark(void)
{
	int	mark = 42, fd;

	REFUSED(setsockopt(pre_inet, SOL_SOCKET, SO_MARK, &mark,
	    sizeof(mark)));
	/* On a socket of its own too, where it may make one. */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1) {
		REFUSED(setsockopt(fd, SOL_SOCKET, SO_MARK, &mark,
		    sizeof(mark)));
		close(fd);
	}
	REFUSED(setsockopt(pre_inet, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3));
	return 0;
}

START_TEST(no_worker_sets_so_mark)
{
	if (!is_root())
		return;
	scratch("somark");
	run_all(open_inet, so_mark);
}
END_TEST

static int
unix_connect(void)
{
	struct sockaddr_un	sun;
	int			sv[2], fd;

	REFUSED(fd = socket(AF_UNIX, SOCK_STREAM, 0));
	REFUSED(socket(AF_UNIX, SOCK_DGRAM, 0));
	REFUSED(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	/* Nor through an inet socket: the kernel says EAFNOSUPPORT. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, unix_path, sizeof(sun.sun_path));
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1) {
		REFUSED(connect(fd, (struct sockaddr *)&sun, sizeof(sun)));
		close(fd);
	}
	return 0;
}

START_TEST(no_worker_connects_to_a_pathname_unix_socket)
{
	struct sockaddr_un	sun;
	int			lfd, cfd;

	if (!is_root())
		return;
	scratch("unix");
	ck_assert_int_ne(lfd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, unix_path, sizeof(sun.sun_path));
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(chmod(unix_path, 0777), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	/* Connectable, unsandboxed. */
	ck_assert_int_ne(cfd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	close(cfd);
	run_all(NULL, unix_connect);
	close(lfd);
}
END_TEST

static int
make_nodes(void)
{
	char	path[PATH_MAX];
	int	fd;

	if ((fd = open(games, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    role_has_games(child_role)) {
		child_fail(__LINE__, "open games", errno);
		return 1;
	}
	tu_path(path, sizeof(path), games, "g/char");
	REFUSED(mknod(path, S_IFCHR | 0666, makedev(1, 3)));
	tu_path(path, sizeof(path), games, "g/block");
	REFUSED(mknod(path, S_IFBLK | 0666, makedev(7, 0)));
	tu_path(path, sizeof(path), games, "g/fifo");
	REFUSED(mknod(path, S_IFIFO | 0666, 0));
	REFUSED(mkfifo(path, 0666));
	if (fd != -1) {
		REFUSED(mknodat(fd, "g/fifo2", S_IFIFO | 0666, 0));
		REFUSED(mknodat(fd, "g/block2", S_IFBLK | 0666,
		    makedev(7, 0)));
		REFUSED(symlinkat("/etc/shadow", fd, "g/link"));
		close(fd);
	}
	return 0;
}

START_TEST(no_worker_makes_a_device_or_fifo_in_the_games_folder)
{
	int	fd;

	if (!is_root())
		return;
	scratch("mknod");
	run_all(NULL, make_nodes);
	ck_assert_int_ne(fd = open(games, O_RDONLY | O_DIRECTORY), -1);
	ck_assert(!tu_exists(fd, "g/char"));
	ck_assert(!tu_exists(fd, "g/block"));
	ck_assert(!tu_exists(fd, "g/fifo"));
	ck_assert(!tu_exists(fd, "g/fifo2"));
	ck_assert(!tu_exists(fd, "g/block2"));
	ck_assert(!tu_exists(fd, "g/link"));
	close(fd);
}
END_TEST

static int
set_suid(void)
{
	char	path[PATH_MAX];
	int	fd;

	tu_path(path, sizeof(path), games, "g/file.bin");
	REFUSED(chmod(path, 04755));
	REFUSED(chmod(path, 02755));
	REFUSED(fchmodat(AT_FDCWD, path, 04755, 0));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		REFUSED(fchmod(fd, 04755));
		REFUSED(fchmod(fd, 06755));
		close(fd);
	}
	/* Nor made so. */
	tu_path(path, sizeof(path), games, "g/suid");
	REFUSED(open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 04755));
	/* path.c's openat2 answers ENOSYS; its fallback is checked. */
	if ((fd = open(games, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		REFUSED(path_open_beneath(fd, "g/suid2", O_WRONLY | O_CREAT |
		    O_EXCL, 04755));
		close(fd);
	}
	if (role_has_games(child_role)) {
		/* A plain mode still goes. */
		tu_path(path, sizeof(path), games, "g/file.bin");
		EXPECT(chmod(path, 0640) == 0);
		EXPECT(chmod(path, 0644) == 0);
	}
	return 0;
}

START_TEST(no_worker_sets_setuid_or_setgid_bits)
{
	struct stat	st;
	char		path[PATH_MAX];

	if (!is_root())
		return;
	scratch("suid");
	run_all(NULL, set_suid);
	tu_path(path, sizeof(path), games, "g/file.bin");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & (S_ISUID | S_ISGID), 0);
	tu_path(path, sizeof(path), games, "g/suid");
	ck_assert_int_eq(access(path, F_OK), -1);
	tu_path(path, sizeof(path), games, "g/suid2");
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

static int
signal_init(void)
{
	REFUSED(kill(1, 0));
	REFUSED(kill(1, SIGTERM));
	REFUSED(kill(-1, 0));
	REFUSED(kill(getppid(), 0));
	return 0;
}

START_TEST(no_worker_signals_init_or_its_parent)
{
	if (!is_root())
		return;
	scratch("kill");
	run_all(NULL, signal_init);
}
END_TEST

static int
trace(void)
{
	REFUSED(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	REFUSED(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
	REFUSED(ptrace(PTRACE_SEIZE, getppid(), NULL, NULL));
	REFUSED(syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0,
	    0));
	return 0;
}

START_TEST(no_worker_ptraces)
{
	if (!is_root())
		return;
	scratch("ptrace");
	run_all(NULL, trace);
}
END_TEST

/*
 * exec: the unrar only, by install+unrar alone; never /bin/sh. In a
 * forked child, so that a successful exec is seen as such.
 */
static int
exec_one(const char *prog)
{
	char	*argv[2];
	pid_t	 pid;
	int	 st;

	if ((pid = fork()) == -1)
		return -2;
	if (pid == 0) {
		argv[0] = (char *)prog;
		argv[1] = NULL;
		execv(prog, argv);
		_exit(errno == 0 ? 126 : 127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
exec_programs(void)
{
	char	*argv[2] = { "/bin/sh", NULL };

	if (child_role == R_INSTALL_EXEC) {
		EXPECT(exec_one(unrar) == 0);
		EXPECT(exec_one("/bin/sh") == 127);
		EXPECT(exec_one("/usr/bin/env") == 127);
		return 0;
	}
	/* The others cannot even fork (install can: it still cannot exec). */
	REFUSED(execv("/bin/sh", argv));
	REFUSED(execv(unrar, argv));
	if (child_role == R_INSTALL)
		EXPECT(exec_one(unrar) == 127);
	return 0;
}

START_TEST(only_install_with_an_external_unrar_execs)
{
	if (!is_root())
		return;
	scratch("exec");
	run_all(NULL, exec_programs);
}
END_TEST

/* ---------------------------------------------------------------- */
/* What each worker needs */

static int
net_needs(void)
{
	struct sockaddr_in	sin;
	struct ip_mreq		mr;
	socklen_t		len = sizeof(sin);
	int			lfd, cfd, afd, ufd, one = 1, ttl = 255;

	EXPECT((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) != -1);
	EXPECT(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	EXPECT(listen(lfd, 8) == 0);
	EXPECT(getsockname(lfd, (struct sockaddr *)&sin, &len) == 0);
	EXPECT((cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	EXPECT(setsockopt(cfd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one,
	    sizeof(one)) == 0);
	EXPECT(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	EXPECT((afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1);
	EXPECT(write(cfd, "hi", 2) == 2);
	close(afd);
	close(cfd);
	close(lfd);
	/* The mDNS socket. */
	EXPECT((ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) != -1);
	EXPECT(setsockopt(ufd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == 0);
	EXPECT(setsockopt(ufd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == 0);
	EXPECT(setsockopt(ufd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
	    sizeof(ttl)) == 0);
	memset(&mr, 0, sizeof(mr));
	mr.imr_multiaddr.s_addr = inet_addr("224.0.0.251");
	mr.imr_interface.s_addr = htonl(INADDR_ANY);
	/* No multicast route here is not our concern: EPERM is. */
	errno = 0;
	EXPECT(setsockopt(ufd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
	    sizeof(mr)) == 0 || errno != EPERM);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT(bind(ufd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	close(ufd);
	/* As nobody, when it was root. */
	EXPECT(getuid() != 0 && geteuid() != 0);
	return 0;
}

START_TEST(net_worker_listens_accepts_dials_and_joins_multicast)
{
	scratch("netok");
	if (geteuid() == 0)
		run_child(R_NET, NULL, net_needs);
}
END_TEST

static int	xfer_sv[2] = { -1, -1 };

/* Before: the link a transfer worker would be given. */
static int
open_link(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, xfer_sv) ==
	    -1) {
		child_fail(__LINE__, "socketpair", errno);
		return 1;
	}
	return 0;
}

static int
transfer_needs(void)
{
	char	path[PATH_MAX], buf[64];
	int	gfd, fd, sfd;
	off_t	off = 0;

	/* Serve: read a game file and sendfile it down the link. */
	tu_path(path, sizeof(path), games, "g/file.bin");
	EXPECT((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	EXPECT(sendfile(xfer_sv[0], fd, &off, 20) == 20);
	EXPECT(read(xfer_sv[1], buf, sizeof(buf)) == 20);
	EXPECT(memcmp(buf, "lanspread game file\n", 20) == 0);
	close(fd);
	/* Fetch: staging made, written, renamed into place, removed. */
	EXPECT((gfd = open(games, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1);
	EXPECT(path_mkdirs_beneath(gfd, "g/.lanspread.staging/data", 0755) ==
	    0);
	EXPECT((sfd = path_open_beneath(gfd, "g/.lanspread.staging/data/x",
	    O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1);
	EXPECT(fallocate(sfd, 0, 0, 4) == 0);
	EXPECT(pwrite(sfd, "data", 4, 0) == 4);
	EXPECT(ftruncate(sfd, 4) == 0);
	close(sfd);
	EXPECT(renameat(gfd, "g/.lanspread.staging/data/x", gfd, "g/x") == 0);
	EXPECT(unlinkat(gfd, "g/.lanspread.staging/data", AT_REMOVEDIR) == 0);
	EXPECT(unlinkat(gfd, "g/.lanspread.staging", AT_REMOVEDIR) == 0);
	EXPECT(unlinkat(gfd, "g/x", 0) == 0);
	close(gfd);
	/* Dial a source: a TCP socket is allowed, no Unix one. */
	EXPECT((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) != -1);
	close(fd);
	/* Outside the games folder: nothing. */
	tu_path(path, sizeof(path), root, "outside");
	REFUSED(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	return 0;
}

static int	web_listener = -1;

/* Before: the listener the supervisor would pass the web worker. */
static int
open_web_listener(void)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((web_listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0))
	    == -1 || bind(web_listener, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || listen(web_listener, 4) == -1) {
		child_fail(__LINE__, "web listener", errno);
		return 1;
	}
	return 0;
}

static int
web_needs(void)
{
	struct sockaddr_in sin;
	socklen_t	len = sizeof(sin);
	char		path[PATH_MAX];
	int		fd, one = 1;

	/* Accept a connection on the listener it was given. */
	EXPECT((fd = accept4(web_listener, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1 && errno == EAGAIN);
	EXPECT(getsockname(web_listener, (struct sockaddr *)&sin, &len) ==
	    0);
	/* No socket of its own: no listener, no dial, no Unix socket. */
	REFUSED(socket(AF_INET, SOCK_STREAM, 0));
	REFUSED(socket(AF_INET6, SOCK_STREAM, 0));
	REFUSED(socket(AF_UNIX, SOCK_STREAM, 0));
	/* No file at all, not even the games folder. */
	REFUSED(open(games, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	tu_path(path, sizeof(path), games, "g/file.bin");
	REFUSED(open(path, O_RDONLY | O_CLOEXEC));
	REFUSED(open("/etc/hostname", O_RDONLY | O_CLOEXEC));
	/* A connection's TCP options, as libmicrohttpd sets them. */
	EXPECT(setsockopt(web_listener, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == 0);
	EXPECT(getuid() != 0 && geteuid() != 0);
	return 0;
}

START_TEST(web_worker_accepts_on_its_listener_and_opens_nothing)
{
	scratch("webok");
	if (geteuid() == 0)
		run_child(R_WEB, open_web_listener, web_needs);
}
END_TEST

START_TEST(transfer_worker_reads_sends_and_writes_staging)
{
	scratch("xferok");
	if (geteuid() == 0)
		run_child(R_TRANSFER, open_link, transfer_needs);
}
END_TEST

static int
install_needs(void)
{
	char	path[PATH_MAX];
	pid_t	pid;
	int	gfd, fd, st;

	EXPECT((gfd = open(games, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1);
	EXPECT(mkdirat(gfd, "g/.local.installing", 0755) == 0);
	EXPECT(path_mkdirs_beneath(gfd, "g/.local.installing/a/b", 0755) ==
	    0);
	EXPECT((fd = path_open_beneath(gfd, "g/.local.installing/a/b/f",
	    O_WRONLY | O_CREAT | O_EXCL, 0644)) != -1);
	EXPECT(write(fd, "x", 1) == 1);
	EXPECT(fchmod(fd, 0755) == 0);
	EXPECT(fsync(fd) == 0);
	close(fd);
	EXPECT(renameat(gfd, "g/.local.installing", gfd, "g/local") == 0);
	/* A job child: forked, reaped; a stuck one killed. */
	EXPECT((pid = fork()) != -1);
	if (pid == 0)
		_exit(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 ? 0 : 1);
	EXPECT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	EXPECT((pid = fork()) != -1);
	if (pid == 0) {
		for (;;)
			pause();
	}
	EXPECT(kill(pid, SIGKILL) == 0);
	EXPECT(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
	/* Outside the games folder: nothing; no network at all. */
	tu_path(path, sizeof(path), root, "outside");
	REFUSED(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	REFUSED(socket(AF_INET, SOCK_STREAM, 0));
	close(gfd);
	return 0;
}

START_TEST(install_worker_creates_forks_and_kills_its_children)
{
	int	fd;

	scratch("instok");
	if (geteuid() != 0)
		return;
	run_child(R_INSTALL, NULL, install_needs);
	ck_assert_int_ne(fd = open(games, O_RDONLY | O_DIRECTORY), -1);
	ck_assert(tu_exists(fd, "g/local/a/b/f"));
	close(fd);
}
END_TEST

/* A second group the kernel would let us give: seccomp must not. */
#define OTHER_GID	((gid_t)54321)

static int
join_other_group(void)
{
	gid_t	g = OTHER_GID;

	EXPECT(setgroups(1, &g) == 0);
	return 0;
}

/* With games_group: that group only, never an owner; setgid folders. */
static int
chown_to_games_group(void)
{
	char	path[PATH_MAX];
	int	fd, dfd;

	tu_path(path, sizeof(path), games, "g/file.bin");
	EXPECT((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	EXPECT(fchown(fd, (uid_t)-1, getegid()) == 0);
	REFUSED(fchown(fd, (uid_t)-1, OTHER_GID));
	REFUSED(fchown(fd, geteuid(), getegid()));
	REFUSED(fchown(fd, geteuid(), (gid_t)-1));
	REFUSED(fchownat(AT_FDCWD, path, (uid_t)-1, OTHER_GID, 0));
	REFUSED(fchmod(fd, 04755));
	close(fd);
	EXPECT(fchownat(AT_FDCWD, path, (uid_t)-1, getegid(), 0) == 0);
	tu_path(path, sizeof(path), games, "g/d");
	EXPECT(mkdir(path, 0755) == 0);
	EXPECT((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1);
	EXPECT(fchmod(dfd, 02775) == 0);
	close(dfd);
	return 0;
}

/* Without it: no chown at all. */
static int
no_chown(void)
{
	char	path[PATH_MAX];
	int	fd;

	tu_path(path, sizeof(path), games, "g/file.bin");
	EXPECT((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	REFUSED(fchown(fd, (uid_t)-1, getegid()));
	REFUSED(fchownat(AT_FDCWD, path, (uid_t)-1, getegid(), 0));
	close(fd);
	return 0;
}

START_TEST(install_worker_gives_files_only_games_group)
{
	struct stat	st;
	char		path[PATH_MAX];

	if (!is_root())
		return;
	scratch("gamesgroup");
	run_child(R_INSTALL, join_other_group, no_chown);
	games_gid = getegid();
	run_child(R_INSTALL, join_other_group, chown_to_games_group);
	games_gid = (gid_t)-1;
	tu_path(path, sizeof(path), games, "g/file.bin");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_gid, getegid());
	ck_assert_int_eq(st.st_mode & S_ISUID, 0);
	tu_path(path, sizeof(path), games, "g/d");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 02775);
}
END_TEST

/* ---------------------------------------------------------------- */
/* What /proc says of a sandboxed worker */

static int
proc_field(const char *status, const char *name, char *out, size_t outsz)
{
	const char	*p = strstr(status, name);
	size_t		 n;

	if (p == NULL)
		return -1;
	p += strlen(name);
	p += strspn(p, " \t");
	n = strcspn(p, "\n");
	if (n >= outsz)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

START_TEST(workers_hold_no_capability_and_net_runs_as_nobody)
{
	static const char *const zero[] = {
		"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"
	};
	struct sandbox_policy	 p;
	struct passwd		*pw;
	char			 path[64], status[4096], v[128], err[256];
	enum role		 r;
	ssize_t			 n;
	size_t			 i;
	pid_t			 pid;
	int			 go[2], ready[2], fd, st;
	char			 c;

	if (!is_root())
		return;
	scratch("proc");
	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	for (r = 0; r < R_MAX; r++) {
		ck_assert_int_eq(pipe(go), 0);
		ck_assert_int_eq(pipe(ready), 0);
		fflush(NULL);
		ck_assert_int_ne(pid = fork(), -1);
		if (pid == 0) {
			close(go[1]);
			close(ready[0]);
			real_policy(r, &p);
			if (sandbox_apply(&p, err, sizeof(err)) == -1)
				_exit(1);
			(void)!write(ready[1], "r", 1);
			(void)!read(go[0], &c, 1);
			_exit(0);
		}
		close(go[0]);
		close(ready[1]);
		ck_assert_int_eq(read(ready[0], &c, 1), 1);
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
		ck_assert_int_gt(n = read(fd, status, sizeof(status) - 1), 0);
		status[n] = '\0';
		close(fd);
		(void)!write(go[1], "g", 1);
		close(go[1]);
		close(ready[0]);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
			ck_assert_int_eq(proc_field(status, zero[i], v,
			    sizeof(v)), 0);
			ck_assert_msg(strcmp(v, "0000000000000000") == 0,
			    "%s %s %s", role_names[r], zero[i], v);
		}
		ck_assert_int_eq(proc_field(status, "NoNewPrivs:", v,
		    sizeof(v)), 0);
		ck_assert_str_eq(v, "1");
		ck_assert_int_eq(proc_field(status, "Seccomp:", v, sizeof(v)),
		    0);
		ck_assert_str_eq(v, "2");
		ck_assert_int_eq(proc_field(status, "Uid:", v, sizeof(v)), 0);
		/* The workers that face the network run as nobody. */
		if (r == R_NET || r == R_WEB) {
			snprintf(path, sizeof(path), "%u\t%u\t%u\t%u",
			    pw->pw_uid, pw->pw_uid, pw->pw_uid, pw->pw_uid);
			ck_assert_str_eq(v, path);
			ck_assert_int_eq(proc_field(status, "Groups:", v,
			    sizeof(v)), 0);
			ck_assert_str_eq(v, "");
		} else
			ck_assert_str_eq(v, "0\t0\t0\t0");
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "%s: sandbox_apply failed", role_names[r]);
	}
}
END_TEST

/* ---------------------------------------------------------------- */
/* Failing closed */

/* Before: what a kernel without Landlock says. */
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

static int
no_landlock_is_fatal(void)
{
	struct sandbox_policy	p;
	char			err[256];
	enum role		r;

	for (r = 0; r < R_MAX; r++) {
		real_policy(r, &p);
		p.uid = (uid_t)-1;	/* stay root: try every role */
		errno = 0;
		EXPECT(sandbox_apply(&p, err, sizeof(err)) == -1 &&
		    errno == EOPNOTSUPP && strstr(err, "Landlock") != NULL);
	}
	return 0;
}

START_TEST(sandbox_fails_closed_without_landlock)
{
	pid_t	pid;
	int	st;

	scratch("closed");
	fflush(NULL);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		report_fd = STDERR_FILENO;
		if (hide_landlock() != 0)
			_exit(2);
		_exit(no_landlock_is_fatal());
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

static int
optional_goes_on(void)
{
	struct sandbox_policy	p;
	char			err[256];

	real_policy(R_TRANSFER, &p);
	p.optional = 1;
	EXPECT(sandbox_apply(&p, err, sizeof(err)) == 0);
	/* Seccomp still applies. */
	REFUSED(socket(AF_PACKET, SOCK_RAW, 0));
	REFUSED(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	return 0;
}

START_TEST(sandbox_optional_goes_on_without_landlock)
{
	pid_t	pid;
	int	st;

	scratch("optional");
	fflush(NULL);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		report_fd = STDERR_FILENO;
		child_role = R_TRANSFER;
		if (hide_landlock() != 0)
			_exit(2);
		_exit(optional_goes_on());
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(landlock_abi_probe_matches_the_kernel)
{
	int	abi;

	ck_assert_int_ge(abi = sandbox_landlock_abi(), 0);
	/* This project's CI kernel has Landlock; say so if it did not. */
	if (abi == 0)
		fprintf(stderr, "check_sandbox: no Landlock here\n");
}
END_TEST

/* ---------------------------------------------------------------- */
/* Telling our workers from other control clients */

START_TEST(a_worker_and_its_children_are_told_apart)
{
	pid_t	worker, job, pids[2];
	int	p[2], st;
	char	c;

	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	ck_assert_int_ne(worker = fork(), -1);
	if (worker == 0) {
		/* A worker with a job child: job's pid goes up the pipe. */
		close(p[0]);
		if ((job = fork()) == 0) {
			for (;;)
				pause();
		}
		(void)!write(p[1], &job, sizeof(job));
		waitpid(job, NULL, 0);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &job, sizeof(job)), (int)sizeof(job));
	pids[0] = -1;
	pids[1] = worker;
	ck_assert_int_eq(proc_is_worker(worker, pids, 2), 1);
	ck_assert_int_eq(proc_is_worker(job, pids, 2), 1);
	ck_assert_int_eq(proc_is_worker(getpid(), pids, 2), 0);
	ck_assert_int_eq(proc_is_worker(getppid(), pids, 2), 0);
	ck_assert_int_eq(proc_is_worker(1, pids, 2), 0);
	kill(job, SIGKILL);
	ck_assert_int_eq(waitpid(worker, &st, 0), worker);
	close(p[0]);
	(void)c;
}
END_TEST

START_TEST(worker_arguments_carry_the_sandbox_options)
{
	char	*ok[] = { "lanspread-net", "-v", "-o", "-u", "65534:65533",
		    NULL };
	char	*bad[] = { "lanspread-net", "-u", "0:0", NULL };

	proc_opts.verbose = proc_opts.sandbox_optional = 0;
	ck_assert_int_eq(proc_worker_args(5, ok), 0);
	ck_assert_int_eq(proc_opts.verbose, 1);
	ck_assert_int_eq(proc_opts.sandbox_optional, 1);
	ck_assert_uint_eq(proc_opts.net_uid, 65534);
	ck_assert_uint_eq(proc_opts.net_gid, 65533);
	optind = 0;
	ck_assert_int_eq(proc_worker_args(3, bad), -1);
}
END_TEST

/* ---------------------------------------------------------------- */
/* rlimits */

START_TEST(rlimits_stop_core_files_and_oversized_writes)
{
	pid_t	pid;
	int	st;

	fflush(NULL);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct rlimit	rl;
		char		path[PATH_MAX], buf[8192];
		int		fd;

		memset(buf, 'x', sizeof(buf));
		if (sandbox_rlimits(4096) == -1 ||
		    getrlimit(RLIMIT_CORE, &rl) == -1 || rl.rlim_max != 0)
			_exit(1);
		tu_path(path, sizeof(path), root, "big");
		if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) == -1)
			_exit(2);
		/* 4096 bytes go, the next write fails with EFBIG. */
		if (write(fd, buf, sizeof(buf)) != 4096)
			_exit(3);
		errno = 0;
		if (write(fd, buf, 1) != -1 || errno != EFBIG)
			_exit(4);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc;

	tc = tu_tcase(s, "refused", root_setup, root_teardown, NULL,
	    NULL);
	tcase_add_test(tc, no_worker_reads_etc_shadow);
	tcase_add_test(tc, no_worker_opens_an_af_packet_or_raw_socket);
	tcase_add_test(tc, no_worker_sets_so_mark);
	tcase_add_test(tc, no_worker_connects_to_a_pathname_unix_socket);
	tcase_add_test(tc,
	    no_worker_makes_a_device_or_fifo_in_the_games_folder);
	tcase_add_test(tc, no_worker_sets_setuid_or_setgid_bits);
	tcase_add_test(tc, no_worker_signals_init_or_its_parent);
	tcase_add_test(tc, no_worker_ptraces);
	tcase_add_test(tc, only_install_with_an_external_unrar_execs);

	tc = tu_tcase(s, "needed", root_setup, root_teardown, NULL,
	    NULL);
	tcase_add_test(tc, net_worker_listens_accepts_dials_and_joins_multicast);
	tcase_add_test(tc, transfer_worker_reads_sends_and_writes_staging);
	tcase_add_test(tc, web_worker_accepts_on_its_listener_and_opens_nothing);
	tcase_add_test(tc, install_worker_creates_forks_and_kills_its_children);
	tcase_add_test(tc, install_worker_gives_files_only_games_group);

	tc = tu_tcase(s, "layers", root_setup, root_teardown, NULL,
	    NULL);
	tcase_add_test(tc, workers_hold_no_capability_and_net_runs_as_nobody);
	tcase_add_test(tc, sandbox_fails_closed_without_landlock);
	tcase_add_test(tc, sandbox_optional_goes_on_without_landlock);
	tcase_add_test(tc, landlock_abi_probe_matches_the_kernel);

	tc = tu_tcase(s, "proc", root_setup, root_teardown, NULL,
	    NULL);
	tcase_add_test(tc, a_worker_and_its_children_are_told_apart);
	tcase_add_test(tc, worker_arguments_carry_the_sandbox_options);
	tcase_add_test(tc, rlimits_stop_core_files_and_oversized_writes);
	return s;
}

int
main(void)
{
	return tu_run_suite(sandbox_suite());
}
