/*
 * The workers' sandbox, one policy per worker, applied in this order:
 *
 * 1. Capabilities: securebits set and locked (no root magic at exec, no
 *    fix-up at a uid change, no ambient raise), the bounding set
 *    emptied; the net worker, run as root, becomes its own unprivileged
 *    user (setgroups, setresgid, setresuid, verified); then the
 *    ambient, inheritable, permitted and effective sets are emptied.
 *    Transfer and install keep the daemon's uid (the games folder is
 *    its), with no capability.
 * 2. PR_SET_DUMPABLE 0 (after any uid change, which resets it) and
 *    PR_SET_NO_NEW_PRIVS.
 * 3. Landlock handles every filesystem right the kernel knows (reads
 *    too): net may open no file at all; transfer and install read and
 *    write their games folder and nothing else, with no right to make a
 *    device, fifo, socket or symlink there; install may also read the
 *    system libraries (libarchive's charset modules) and, with an
 *    external unrar, execute that one program and the loader. Where
 *    the kernel is new enough it also confines TCP bind/connect,
 *    abstract unix sockets and signals to the worker's own domain.
 * 4. Seccomp last: an allow-list per worker (the syscalls it was seen
 *    to make through the scenario suite, and no more), with the
 *    arguments checked where they matter: socket families and types,
 *    setsockopt options, ioctl requests, fcntl commands, prctl options,
 *    chmod modes (never S_ISUID, and S_ISGID only with games_group),
 *    chown (install with games_group only: that group, never an
 *    owner), clone flags (no namespace), kill targets. Everything else fails with EPERM rather
 *    than killing the worker: a worker that hits a missing entry logs
 *    a plain error, which is easy to find and to fix, and the attack it
 *    might be is refused all the same. openat2 answers ENOSYS, so that
 *    common/path.c walks with openat, whose mode can be checked.
 *
 * A missing layer (no Landlock, no seccomp) is an error unless the
 * policy says it is optional; then it is logged at warning.
 */

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sandbox.h"

/* The same numbers on every architecture. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset	444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule		445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self	446
#endif

/* Rights newer than the installed <linux/landlock.h>. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER		(1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE		(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP		(1ULL << 1)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV		(1ULL << 15)	/* ABI 5 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)	/* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)
#endif
/* ABI 7 adds audit logging flags only: no right to handle. */

#ifndef SECBIT_NO_CAP_AMBIENT_RAISE
#define SECBIT_NO_CAP_AMBIENT_RAISE		(1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED	(1 << 7)
#endif

/*
 * struct landlock_ruleset_attr as of ABI 6; an older kernel accepts it
 * as long as the fields it does not know are 0.
 */
struct sb_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

/* Every filesystem right of ABI 1. */
#define SB_FS_ABI1							\
	(LANDLOCK_ACCESS_FS_EXECUTE |					\
	LANDLOCK_ACCESS_FS_WRITE_FILE |					\
	LANDLOCK_ACCESS_FS_READ_FILE |					\
	LANDLOCK_ACCESS_FS_READ_DIR |					\
	LANDLOCK_ACCESS_FS_REMOVE_DIR |					\
	LANDLOCK_ACCESS_FS_REMOVE_FILE |				\
	LANDLOCK_ACCESS_FS_MAKE_CHAR |					\
	LANDLOCK_ACCESS_FS_MAKE_DIR |					\
	LANDLOCK_ACCESS_FS_MAKE_REG |					\
	LANDLOCK_ACCESS_FS_MAKE_SOCK |					\
	LANDLOCK_ACCESS_FS_MAKE_FIFO |					\
	LANDLOCK_ACCESS_FS_MAKE_BLOCK |					\
	LANDLOCK_ACCESS_FS_MAKE_SYM)

/* A games folder: files and folders, read, written, moved; no special. */
#define SB_FS_GAMES							\
	(LANDLOCK_ACCESS_FS_READ_FILE |					\
	LANDLOCK_ACCESS_FS_READ_DIR |					\
	LANDLOCK_ACCESS_FS_WRITE_FILE |					\
	LANDLOCK_ACCESS_FS_REMOVE_DIR |					\
	LANDLOCK_ACCESS_FS_REMOVE_FILE |				\
	LANDLOCK_ACCESS_FS_MAKE_DIR |					\
	LANDLOCK_ACCESS_FS_MAKE_REG |					\
	LANDLOCK_ACCESS_FS_REFER |					\
	LANDLOCK_ACCESS_FS_TRUNCATE)

#define SB_FS_READ	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define SB_FS_EXEC	(SB_FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)

/* The system libraries: install's charset modules, an unrar's loader. */
static const char *const sb_lib_dirs[] = {
	"/usr/lib", "/usr/lib64", "/lib", "/lib64", NULL
};

/*
 * Seccomp rules: a syscall, allowed when every one of its (at most
 * three) argument checks holds; several rules for one syscall allow it
 * when any holds.
 */
struct sb_rule {
	const char		*name;
	unsigned int		 argc;
	struct scmp_arg_cmp	 arg[3];
};

#define SB_NONE			{ 0, 0, 0, 0 }
#define SB_ALLOW(n)		{ (n), 0, { SB_NONE, SB_NONE, SB_NONE } }
#define SB_ALLOW1(n, a)		{ (n), 1, { a, SB_NONE, SB_NONE } }
#define SB_ALLOW2(n, a, b)	{ (n), 2, { a, b, SB_NONE } }
#define SB_ALLOW3(n, a, b, c)	{ (n), 3, { a, b, c } }
#define SB_END			{ NULL, 0, { SB_NONE, SB_NONE, SB_NONE } }
/* int arguments: the low 32 bits only. */
#define SB_EQ(i, v)	{ (i), SCMP_CMP_MASKED_EQ, 0xffffffffULL, (uint32_t)(v) }
/* (argument & m) == v */
#define SB_MASK(i, m, v) { (i), SCMP_CMP_MASKED_EQ, (m), (v) }

/* The modes nobody may give a file. */
#define SB_SUGID	((uint64_t)(S_ISUID | S_ISGID))
/* clone: no new namespace of any kind. */
#define SB_CLONE_NEW	((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS |	\
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |	\
	CLONE_NEWCGROUP))
/* openat: a file created (O_CREAT, O_TMPFILE) gets its mode checked. */
#define SB_O_MAKE	((uint64_t)(O_CREAT | (O_TMPFILE & ~O_DIRECTORY)))

/* Every worker: memory, time, its event loop, its descriptors, exit. */
static const struct sb_rule sb_base[] = {
	SB_ALLOW("read"), SB_ALLOW("write"), SB_ALLOW("readv"),
	SB_ALLOW("writev"), SB_ALLOW("pread64"), SB_ALLOW("pwrite64"),
	SB_ALLOW("close"), SB_ALLOW("fstat"), SB_ALLOW("newfstatat"),
	SB_ALLOW("statx"), SB_ALLOW("lseek"),
	SB_ALLOW("dup"), SB_ALLOW("dup2"), SB_ALLOW("dup3"),
	SB_ALLOW("pipe2"),
	/* glibc malloc, and libev's arrays. */
	SB_ALLOW("brk"), SB_ALLOW("mmap"), SB_ALLOW("munmap"),
	SB_ALLOW("mremap"), SB_ALLOW("mprotect"), SB_ALLOW("madvise"),
	SB_ALLOW("futex"), SB_ALLOW("set_robust_list"), SB_ALLOW("rseq"),
	SB_ALLOW("restart_syscall"), SB_ALLOW("sched_yield"),
	SB_ALLOW("rt_sigaction"), SB_ALLOW("rt_sigprocmask"),
	SB_ALLOW("rt_sigreturn"), SB_ALLOW("sigaltstack"),
	SB_ALLOW("getpid"), SB_ALLOW("gettid"), SB_ALLOW("getppid"),
	SB_ALLOW("getuid"), SB_ALLOW("geteuid"), SB_ALLOW("getgid"),
	SB_ALLOW("getegid"), SB_ALLOW("getresuid"), SB_ALLOW("getresgid"),
	SB_ALLOW("getgroups"), SB_ALLOW("uname"), SB_ALLOW("getrandom"),
	SB_ALLOW("clock_gettime"), SB_ALLOW("clock_getres"),
	SB_ALLOW("clock_nanosleep"), SB_ALLOW("nanosleep"),
	SB_ALLOW("gettimeofday"), SB_ALLOW("time"),
	/* libev: epoll, its wake-up pipe or eventfd, its timer fd. */
	SB_ALLOW("epoll_create1"), SB_ALLOW("epoll_ctl"),
	SB_ALLOW("epoll_wait"), SB_ALLOW("epoll_pwait"),
	SB_ALLOW("epoll_pwait2"), SB_ALLOW("poll"), SB_ALLOW("ppoll"),
	SB_ALLOW("select"), SB_ALLOW("pselect6"), SB_ALLOW("eventfd2"),
	SB_ALLOW("timerfd_create"), SB_ALLOW("timerfd_settime"),
	SB_ALLOW("timerfd_gettime"),
	/* The supervisor's socketpair (and the fds passed on it). */
	SB_ALLOW("recvmsg"), SB_ALLOW("sendmsg"), SB_ALLOW("recvfrom"),
	SB_ALLOW("sendto"), SB_ALLOW("shutdown"), SB_ALLOW("getsockname"),
	SB_ALLOW("getpeername"),
	SB_ALLOW1("getsockopt", SB_EQ(1, SOL_SOCKET)),
	SB_ALLOW("exit"), SB_ALLOW("exit_group"),
	/* getrlimit/setrlimit of the worker itself only. */
	SB_ALLOW1("prlimit64", SB_EQ(0, 0)),
	SB_ALLOW("getrlimit"), SB_ALLOW("setrlimit"),
	SB_ALLOW1("fcntl", SB_EQ(1, F_GETFD)),
	SB_ALLOW1("fcntl", SB_EQ(1, F_SETFD)),
	SB_ALLOW1("fcntl", SB_EQ(1, F_GETFL)),
	SB_ALLOW1("fcntl", SB_EQ(1, F_SETFL)),
	SB_ALLOW1("fcntl", SB_EQ(1, F_DUPFD)),
	SB_ALLOW1("fcntl", SB_EQ(1, F_DUPFD_CLOEXEC)),
	/* Never TIOCSTI and friends: what stdio and non-blocking I/O use. */
	SB_ALLOW1("ioctl", SB_EQ(1, FIONREAD)),
	SB_ALLOW1("ioctl", SB_EQ(1, FIONBIO)),
	SB_ALLOW1("ioctl", SB_EQ(1, FIOCLEX)),
	SB_ALLOW1("ioctl", SB_EQ(1, FIONCLEX)),
	SB_ALLOW1("ioctl", SB_EQ(1, TCGETS)),
	SB_ALLOW1("prctl", SB_EQ(0, PR_SET_NAME)),
	SB_ALLOW1("prctl", SB_EQ(0, PR_GET_NAME)),
	SB_ALLOW1("prctl", SB_EQ(0, PR_GET_DUMPABLE)),
	SB_ALLOW1("prctl", SB_EQ(0, PR_GET_PDEATHSIG)),
	SB_END
};

/*
 * net: TCP links (listen, accept, dial with a chosen source), the mDNS
 * UDP socket and its multicast options, and getifaddrs(3) (a netlink
 * route socket; if_nametoindex(3), whose AF_UNIX socket is refused,
 * falls back to an AF_INET one). No Unix socket can be made, so none
 * can be connected to.
 */
static const struct sb_rule sb_net[] = {
	SB_ALLOW2("socket", SB_EQ(0, AF_INET),
	    SB_MASK(1, 0xf, SOCK_STREAM)),
	SB_ALLOW2("socket", SB_EQ(0, AF_INET),
	    SB_MASK(1, 0xf, SOCK_DGRAM)),
	SB_ALLOW2("socket", SB_EQ(0, AF_INET6),
	    SB_MASK(1, 0xf, SOCK_STREAM)),
	SB_ALLOW2("socket", SB_EQ(0, AF_INET6),
	    SB_MASK(1, 0xf, SOCK_DGRAM)),
	SB_ALLOW3("socket", SB_EQ(0, AF_NETLINK),
	    SB_MASK(1, 0xf, SOCK_RAW), SB_EQ(2, NETLINK_ROUTE)),
	SB_ALLOW("bind"), SB_ALLOW("listen"), SB_ALLOW("accept"),
	SB_ALLOW("accept4"), SB_ALLOW("connect"),
	SB_ALLOW2("setsockopt", SB_EQ(1, SOL_SOCKET), SB_EQ(2, SO_REUSEADDR)),
	SB_ALLOW2("setsockopt", SB_EQ(1, SOL_SOCKET), SB_EQ(2, SO_REUSEPORT)),
	SB_ALLOW2("setsockopt", SB_EQ(1, SOL_SOCKET), SB_EQ(2, SO_KEEPALIVE)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP), SB_EQ(2, TCP_NODELAY)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP), SB_EQ(2, TCP_KEEPIDLE)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP),
	    SB_EQ(2, TCP_KEEPINTVL)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP), SB_EQ(2, TCP_KEEPCNT)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IPV6), SB_EQ(2, IPV6_V6ONLY)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP),
	    SB_EQ(2, IP_ADD_MEMBERSHIP)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP),
	    SB_EQ(2, IP_DROP_MEMBERSHIP)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP),
	    SB_EQ(2, IP_MULTICAST_IF)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP),
	    SB_EQ(2, IP_MULTICAST_TTL)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP),
	    SB_EQ(2, IP_MULTICAST_LOOP)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP),
	    SB_EQ(2, IP_MULTICAST_ALL)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_IP), SB_EQ(2, IP_PKTINFO)),
	SB_ALLOW1("ioctl", SB_EQ(1, SIOCGIFINDEX)),
	SB_ALLOW1("ioctl", SB_EQ(1, SIOCGIFNAME)),
	SB_END
};

/*
 * transfer and install: files beneath the games folder (Landlock says
 * which). A mode never carries S_ISUID or S_ISGID; no mknod, no link,
 * no symlink.
 */
static const struct sb_rule sb_files[] = {
	SB_ALLOW1("openat", SB_MASK(2, SB_O_MAKE, 0)),
	SB_ALLOW1("openat", SB_MASK(3, SB_SUGID, 0)),
	SB_ALLOW1("open", SB_MASK(1, SB_O_MAKE, 0)),
	SB_ALLOW1("open", SB_MASK(2, SB_SUGID, 0)),
	SB_ALLOW1("creat", SB_MASK(1, SB_SUGID, 0)),
	SB_ALLOW1("fchmod", SB_MASK(1, SB_SUGID, 0)),
	SB_ALLOW1("chmod", SB_MASK(1, SB_SUGID, 0)),
	SB_ALLOW1("fchmodat", SB_MASK(2, SB_SUGID, 0)),
	SB_ALLOW1("fchmodat2", SB_MASK(2, SB_SUGID, 0)),
	SB_ALLOW("getdents64"), SB_ALLOW("mkdirat"), SB_ALLOW("mkdir"),
	SB_ALLOW("unlinkat"), SB_ALLOW("unlink"), SB_ALLOW("rmdir"),
	SB_ALLOW("renameat"), SB_ALLOW("renameat2"), SB_ALLOW("rename"),
	SB_ALLOW("ftruncate"), SB_ALLOW("truncate"), SB_ALLOW("fallocate"),
	SB_ALLOW("fsync"), SB_ALLOW("fdatasync"), SB_ALLOW("faccessat"),
	SB_ALLOW("faccessat2"), SB_ALLOW("access"), SB_ALLOW("readlinkat"),
	SB_ALLOW("readlink"), SB_ALLOW("fstatfs"), SB_ALLOW("statfs"),
	SB_ALLOW("utimensat"), SB_ALLOW("fchdir"), SB_ALLOW("getcwd"),
	SB_ALLOW("umask"),
	SB_END
};

/* transfer: serving (sendfile, splice) and dialling sources over TCP. */
static const struct sb_rule sb_transfer[] = {
	SB_ALLOW("sendfile"), SB_ALLOW("splice"),
	SB_ALLOW2("socket", SB_EQ(0, AF_INET),
	    SB_MASK(1, 0xf, SOCK_STREAM)),
	SB_ALLOW2("socket", SB_EQ(0, AF_INET6),
	    SB_MASK(1, 0xf, SOCK_STREAM)),
	SB_ALLOW("connect"),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP), SB_EQ(2, TCP_NODELAY)),
	SB_END
};

/*
 * install: a child per job or stream (no namespace), reaped and killed
 * (pids 2 and up: never init, never a process group or everyone; the
 * Landlock signal scope keeps it to its own children), PR_SET_PDEATHSIG
 * in each child.
 */
static const struct sb_rule sb_install[] = {
	SB_ALLOW1("clone", SB_MASK(0, SB_CLONE_NEW, 0)),
	SB_ALLOW("wait4"), SB_ALLOW("waitid"),
	SB_ALLOW("close_range"), SB_ALLOW("set_tid_address"),
	SB_ALLOW1("prctl", SB_EQ(0, PR_SET_PDEATHSIG)),
	SB_END
};

/*
 * install with an external unrar: the exec, and what the loader and a
 * (threaded) program start with.
 */
static const struct sb_rule sb_exec[] = {
	SB_ALLOW("execve"), SB_ALLOW("arch_prctl"),
	SB_ALLOW("sched_getaffinity"), SB_ALLOW("sysinfo"),
	SB_ALLOW("getrusage"), SB_ALLOW("times"), SB_ALLOW("chdir"),
	SB_ALLOW("get_robust_list"), SB_ALLOW("membarrier"),
	SB_END
};

/*
 * web: HTTP on the listener the supervisor passed (libmicrohttpd in
 * external-select mode with epoll, one thread): accept, and the TCP
 * options it sets on each connection. No socket of its own, no file.
 */
static const struct sb_rule sb_web[] = {
	SB_ALLOW("accept4"), SB_ALLOW("accept"),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP), SB_EQ(2, TCP_NODELAY)),
	SB_ALLOW2("setsockopt", SB_EQ(1, IPPROTO_TCP), SB_EQ(2, TCP_CORK)),
	SB_ALLOW2("setsockopt", SB_EQ(1, SOL_SOCKET), SB_EQ(2, SO_LINGER)),
	SB_END
};

static int	sb_error(char *, size_t, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	sb_caps(const struct sandbox_policy *, char *, size_t);
static int	landlock_rule(int, const char *, uint64_t, char *, size_t);
static int	landlock_apply(const struct sandbox_policy *, int, char *,
		    size_t);
static int	seccomp_add(scmp_filter_ctx, uint32_t, const char *,
		    unsigned int, const struct scmp_arg_cmp *, char *, size_t);
static int	seccomp_add_list(scmp_filter_ctx, const struct sb_rule *,
		    char *, size_t);
static int	seccomp_add_pids(scmp_filter_ctx, const char *, char *,
		    size_t);
static int	seccomp_add_group(scmp_filter_ctx, gid_t, char *, size_t);
static int	seccomp_apply(const struct sandbox_policy *, char *, size_t);

/*
 * Fills err with the message, and ": strerror(errnum)" when errnum is
 * not 0; errno = errnum (EPERM when 0). Returns -1.
 */
static int
sb_error(char *err, size_t errsz, int errnum, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 len;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
		len = strlen(err);
		if (errnum != 0 && len < errsz)
			snprintf(err + len, errsz - len, ": %s",
			    strerror(errnum));
	}
	errno = errnum != 0 ? errnum : EPERM;
	return -1;
}

/* The capability sets of the calling thread (version 3: two words). */
static int
sb_capget(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct	hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	memset(data, 0, 2 * sizeof(*data));
	return (int)syscall(SYS_capget, &hdr, data);
}

/*
 * Securebits locked, the bounding set emptied (both need CAP_SETPCAP:
 * without it, as an ordinary user, there is nothing they would take
 * away that PR_SET_NO_NEW_PRIVS does not), the uid changed when asked,
 * every other set emptied, and all of it verified.
 */
static int
sb_caps(const struct sandbox_policy *p, char *err, size_t errsz)
{
	struct __user_cap_header_struct	hdr;
	struct __user_cap_data_struct	data[2];
	uid_t				ru, eu, su;
	gid_t				rg, eg, sg;
	int				cap, setpcap, switched = 0;

	if (sb_capget(data) == -1)
		return sb_error(err, errsz, errno, "capget");
	setpcap = (data[CAP_TO_INDEX(CAP_SETPCAP)].effective &
	    CAP_TO_MASK(CAP_SETPCAP)) != 0;
	if (setpcap) {
		/* No fix-up at setresuid: the sets are emptied below. */
		if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT |
		    SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
		    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
		    SECBIT_NO_CAP_AMBIENT_RAISE |
		    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) == -1)
			return sb_error(err, errsz, errno,
			    "prctl(PR_SET_SECUREBITS)");
		/* Up to the kernel's last capability, whatever we know. */
		for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1)
				return sb_error(err, errsz, errno,
				    "prctl(PR_CAPBSET_DROP, %d)", cap);
	}

	if (p->uid != (uid_t)-1 && geteuid() == 0) {
		if (setgroups(0, NULL) == -1 ||
		    setresgid(p->gid, p->gid, p->gid) == -1 ||
		    setresuid(p->uid, p->uid, p->uid) == -1)
			return sb_error(err, errsz, errno,
			    "cannot become uid %lu gid %lu",
			    (unsigned long)p->uid, (unsigned long)p->gid);
		switched = 1;
	}

	/* EINVAL: a kernel without ambient capabilities. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return sb_error(err, errsz, errno, "prctl(PR_CAP_AMBIENT)");
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) == -1)
		return sb_error(err, errsz, errno, "capset");

	/* Verified, not assumed. */
	if (sb_capget(data) == -1)
		return sb_error(err, errsz, errno, "capget");
	if ((data[0].effective | data[0].permitted | data[0].inheritable |
	    data[1].effective | data[1].permitted | data[1].inheritable) != 0)
		return sb_error(err, errsz, EPERM, "capabilities remain");
	if (setpcap)
		for (cap = 0; cap <= CAP_LAST_CAP; cap++)
			if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0)
				return sb_error(err, errsz, EPERM,
				    "capability %d is still bounding", cap);
	if (switched) {
		if (getresuid(&ru, &eu, &su) == -1 ||
		    getresgid(&rg, &eg, &sg) == -1 ||
		    ru != p->uid || eu != p->uid || su != p->uid ||
		    rg != p->gid || eg != p->gid || sg != p->gid ||
		    getgroups(0, NULL) != 0)
			return sb_error(err, errsz, EPERM,
			    "uid or gid not changed");
		if (setresuid(0, 0, 0) != -1 || setresgid(0, 0, 0) != -1)
			return sb_error(err, errsz, EPERM,
			    "root could be taken back");
		/* A uid change disarms the parent-death signal. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
			return sb_error(err, errsz, errno,
			    "prctl(PR_SET_PDEATHSIG)");
		if (getppid() == 1)
			return sb_error(err, errsz, ESRCH, "supervisor is gone");
	}
	return 0;
}

int
sandbox_landlock_abi(void)
{
	long	abi;

	abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi == -1) {
		/*
		 * ENOSYS: not built in; EOPNOTSUPP: not enabled at boot;
		 * EPERM: a seccomp filter of ours refuses it.
		 */
		if (errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM)
			return 0;
		return -1;
	}
	if (abi <= 0) {
		errno = EINVAL;
		return -1;
	}
	return (int)abi;
}

/* access beneath path (a folder or a file), within what rfd handles. */
static int
landlock_rule(int rfd, const char *path, uint64_t access, char *err,
    size_t errsz)
{
	struct landlock_path_beneath_attr	pb;
	struct stat				st;
	int					fd, saved;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return sb_error(err, errsz, errno, "%s", path);
	/* A file takes file rights only. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE |
		    LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access;
	pb.parent_fd = fd;
	if (syscall(__NR_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) == -1) {
		saved = errno;
		close(fd);
		return sb_error(err, errsz, saved, "landlock_add_rule %s",
		    path);
	}
	close(fd);
	return 0;
}

static int
landlock_apply(const struct sandbox_policy *p, int abi, char *err,
    size_t errsz)
{
	struct sb_ruleset_attr	 attr;
	uint64_t		 fs;
	int			 rfd, i, saved;

	memset(&attr, 0, sizeof(attr));
	fs = SB_FS_ABI1;
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	attr.handled_access_fs = fs;
	/*
	 * Handled without a rule: no TCP bind (transfer) or none at all
	 * (install, and web, whose listener the supervisor bound). net
	 * binds and dials any port: nothing to say there.
	 */
	if (abi >= 4 && p->role == PROC_TRANSFER)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP;
	if (abi >= 4 && (p->role == PROC_INSTALL || p->role == PROC_WEB))
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
	if (abi == 1 && p->games_dir != NULL)
		log_warnx("%s: Landlock ABI 1: a rename or link across "
		    "folders fails with EXDEV", __func__);

	rfd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr),
	    0);
	if (rfd == -1)
		return sb_error(err, errsz, errno, "landlock_create_ruleset");

	if (p->games_dir != NULL &&
	    landlock_rule(rfd, p->games_dir, SB_FS_GAMES & fs, err,
	    errsz) == -1)
		goto fail;
	if (p->role == PROC_INSTALL) {
		/*
		 * libarchive's charset modules (iconv), and with an unrar
		 * the loader and libraries: read, and executed only then.
		 */
		for (i = 0; sb_lib_dirs[i] != NULL; i++) {
			if (access(sb_lib_dirs[i], F_OK) == -1)
				continue;
			if (landlock_rule(rfd, sb_lib_dirs[i],
			    (p->exec_path != NULL ? SB_FS_EXEC : SB_FS_READ) &
			    fs, err, errsz) == -1)
				goto fail;
		}
	}
	if (p->exec_path != NULL) {
		if (access("/etc/ld.so.cache", F_OK) == 0 &&
		    landlock_rule(rfd, "/etc/ld.so.cache",
		    LANDLOCK_ACCESS_FS_READ_FILE, err, errsz) == -1)
			goto fail;
		/* The unrar's output goes there. */
		if (landlock_rule(rfd, "/dev/null",
		    LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE, err, errsz) == -1)
			goto fail;
		/* Missing now: the install says so when it runs. */
		if (access(p->exec_path, F_OK) == 0 &&
		    landlock_rule(rfd, p->exec_path,
		    (LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_READ_FILE) & fs, err, errsz) == -1)
			goto fail;
	}

	if (syscall(__NR_landlock_restrict_self, rfd, 0) == -1) {
		saved = errno;
		close(rfd);
		return sb_error(err, errsz, saved, "landlock_restrict_self");
	}
	close(rfd);
	return 0;

 fail:
	saved = errno;
	close(rfd);
	errno = saved;
	return -1;
}

static int
seccomp_add(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned int argc, const struct scmp_arg_cmp *argv, char *err,
    size_t errsz)
{
	int	nr, rc;

	/* Unknown to libseccomp: a typo in a list, not a choice. */
	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		return sb_error(err, errsz, ENOSYS, "seccomp: %s", name);
	/* A syscall this architecture lacks is skipped by libseccomp. */
	rc = seccomp_rule_add_array(ctx, action, nr, argc, argv);
	if (rc < 0)
		return sb_error(err, errsz, -rc, "seccomp_rule_add %s", name);
	return 0;
}

static int
seccomp_add_list(scmp_filter_ctx ctx, const struct sb_rule *r, char *err,
    size_t errsz)
{
	for (; r->name != NULL; r++)
		if (seccomp_add(ctx, SCMP_ACT_ALLOW, r->name, r->argc, r->arg,
		    err, errsz) == -1)
			return -1;
	return 0;
}

/*
 * name(pid, ...) for a pid from 2 to INT_MAX: never 0 (the process
 * group), 1 (init) or a negative one (a group, or everyone). One
 * comparison per rule: the highest bit set is bit k, 1 <= k <= 30.
 */
static int
seccomp_add_pids(scmp_filter_ctx ctx, const char *name, char *err,
    size_t errsz)
{
	struct scmp_arg_cmp	cmp;
	int			k;

	for (k = 1; k <= 30; k++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, ~((1ULL << k) - 1),
		    1ULL << k);
		if (seccomp_add(ctx, SCMP_ACT_ALLOW, name, 1, &cmp, err,
		    errsz) == -1)
			return -1;
	}
	return 0;
}

/*
 * install with games_group: fchown(fd, -1, gid) and fchownat(dirfd,
 * path, -1, gid, flags) for that gid alone (no file is given to another
 * owner or another group), and fchmod with S_ISGID (setgid folders,
 * whose files inherit the group), never with S_ISUID.
 */
static int
seccomp_add_group(scmp_filter_ctx ctx, gid_t gid, char *err, size_t errsz)
{
	const struct sb_rule rules[] = {
		SB_ALLOW2("fchown", SB_EQ(1, (uid_t)-1), SB_EQ(2, gid)),
		SB_ALLOW2("fchownat", SB_EQ(2, (uid_t)-1), SB_EQ(3, gid)),
		SB_ALLOW1("fchmod", SB_MASK(1, (uint64_t)S_ISUID, 0)),
		SB_END
	};

	return seccomp_add_list(ctx, rules, err, errsz);
}

static int
seccomp_apply(const struct sandbox_policy *p, char *err, size_t errsz)
{
	scmp_filter_ctx		 ctx;
	struct scmp_arg_cmp	 cmp;
	int			 rc;

	/*
	 * Syscalls of another architecture (i386 through int 0x80) kill
	 * the process: libseccomp's default for a foreign architecture.
	 */
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return sb_error(err, errsz, ENOMEM, "seccomp_init");
	/* Every thread, should a library have started one. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
		seccomp_release(ctx);
		return sb_error(err, errsz, -rc, "seccomp_attr_set(TSYNC)");
	}

	if (seccomp_add_list(ctx, sb_base, err, errsz) == -1)
		goto fail;
	/* abort(3) and raise(3): signals to itself. */
	cmp = SCMP_A0(SCMP_CMP_EQ, (uint64_t)getpid());
	if (seccomp_add(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &cmp, err,
	    errsz) == -1)
		goto fail;
	/* glibc falls back to clone, whose flags can be checked. */
	if (seccomp_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err,
	    errsz) == -1)
		goto fail;
	switch (p->role) {
	case PROC_NET:
		if (seccomp_add_list(ctx, sb_net, err, errsz) == -1)
			goto fail;
		break;
	case PROC_TRANSFER:
	case PROC_INSTALL:
		if (seccomp_add_list(ctx, sb_files, err, errsz) == -1)
			goto fail;
		/* path.c then walks with openat, whose mode is checked. */
		if (seccomp_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0,
		    NULL, err, errsz) == -1)
			goto fail;
		if (p->role == PROC_TRANSFER &&
		    seccomp_add_list(ctx, sb_transfer, err, errsz) == -1)
			goto fail;
		if (p->role == PROC_INSTALL &&
		    (seccomp_add_list(ctx, sb_install, err, errsz) == -1 ||
		    seccomp_add_pids(ctx, "kill", err, errsz) == -1 ||
		    seccomp_add_pids(ctx, "tgkill", err, errsz) == -1))
			goto fail;
		if (p->role == PROC_INSTALL && p->exec_path != NULL &&
		    seccomp_add_list(ctx, sb_exec, err, errsz) == -1)
			goto fail;
		if (p->role == PROC_INSTALL && p->games_gid != (gid_t)-1 &&
		    seccomp_add_group(ctx, p->games_gid, err, errsz) == -1)
			goto fail;
		break;
	case PROC_WEB:
		if (seccomp_add_list(ctx, sb_web, err, errsz) == -1)
			goto fail;
		break;
	default:
		seccomp_release(ctx);
		return sb_error(err, errsz, EINVAL, "no sandbox for %s",
		    proc_names[p->role]);
	}

	if ((rc = seccomp_load(ctx)) < 0) {
		seccomp_release(ctx);
		return sb_error(err, errsz, -rc, "seccomp_load");
	}
	seccomp_release(ctx);
	return 0;

 fail:
	rc = errno;
	seccomp_release(ctx);
	errno = rc;
	return -1;
}

/* 1 when the kernel filters syscalls with seccomp, else 0. */
static int
seccomp_available(void)
{
	/* 0 or 2 for an unfiltered or a filtered process, EINVAL without. */
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != -1;
}

void
sandbox_policy_init(struct sandbox_policy *p, enum proc_id role,
    const char *games_dir, const char *exec_path)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	/* net and web open no file at all. */
	p->games_dir = role == PROC_TRANSFER || role == PROC_INSTALL ?
	    games_dir : NULL;
	p->exec_path = role == PROC_INSTALL ? exec_path : NULL;
	p->games_gid = (gid_t)-1;
	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	/* Run as root, the workers that face the network are not. */
	if (role == PROC_NET || role == PROC_WEB) {
		p->uid = proc_opts.net_uid;
		p->gid = proc_opts.net_gid;
	}
	p->optional = proc_opts.sandbox_optional;
}

int
sandbox_apply(const struct sandbox_policy *p, char *err, size_t errsz)
{
	int	abi, filtered = 1;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if ((p->role == PROC_TRANSFER || p->role == PROC_INSTALL) &&
	    p->games_dir == NULL)
		return sb_error(err, errsz, EINVAL, "%s: no games folder",
		    proc_names[p->role]);
	if (sb_caps(p, err, errsz) == -1)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return sb_error(err, errsz, errno, "prctl(PR_SET_DUMPABLE)");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return sb_error(err, errsz, errno,
		    "prctl(PR_SET_NO_NEW_PRIVS)");
	/* The time zone, read now: /etc/localtime is out of reach next. */
	tzset();

	if ((abi = sandbox_landlock_abi()) == -1)
		return sb_error(err, errsz, errno, "Landlock ABI probe");
	if (abi == 0) {
		if (!p->optional)
			return sb_error(err, errsz, EOPNOTSUPP,
			    "the kernel has no Landlock (sandbox_optional "
			    "would go on without it)");
		log_warnx("%s: the kernel has no Landlock: files are not "
		    "confined (sandbox_optional)", __func__);
	} else if (landlock_apply(p, abi, err, errsz) == -1)
		return -1;

	if (!seccomp_available()) {
		if (!p->optional)
			return sb_error(err, errsz, EOPNOTSUPP,
			    "the kernel has no seccomp (sandbox_optional "
			    "would go on without it)");
		log_warnx("%s: the kernel has no seccomp: syscalls are not "
		    "filtered (sandbox_optional)", __func__);
		filtered = 0;
	} else if (seccomp_apply(p, err, errsz) == -1)
		return -1;

	log_debug("%s: %s: Landlock ABI %d, seccomp %s, uid %lu, games "
	    "folder %s, exec %s", __func__, proc_names[p->role], abi,
	    filtered ? "on" : "off", (unsigned long)getuid(),
	    p->games_dir != NULL ? p->games_dir : "none",
	    p->exec_path != NULL ? p->exec_path : "none");
	return 0;
}

void
sandbox_worker(enum proc_id role, const char *games_dir,
    const char *exec_path)
{
	sandbox_worker_group(role, games_dir, exec_path, (gid_t)-1);
}

void
sandbox_worker_group(enum proc_id role, const char *games_dir,
    const char *exec_path, gid_t games_gid)
{
	static int		 entered;
	struct sandbox_policy	 p;
	char			 err[256];

	if (entered)
		return;
	sandbox_policy_init(&p, role, games_dir, exec_path);
	if (role == PROC_INSTALL)
		p.games_gid = games_gid;
	if (sandbox_rlimits(0) == -1)
		fatal("%s: rlimits", __func__);
	if (sandbox_apply(&p, err, sizeof(err)) == -1)
		fatalx("%s: %s", __func__, err);
	entered = 1;
}

int
sandbox_rlimits(uint64_t max_file_size)
{
	struct rlimit		rl;
	struct sigaction	sa;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		return -1;
	if (max_file_size == 0)
		return 0;

	/* A write beyond the limit fails with EFBIG, not with a signal. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGXFSZ, &sa, NULL) == -1)
		return -1;
	if (getrlimit(RLIMIT_FSIZE, &rl) == -1)
		return -1;
	/* Only ever lowered: raising the hard limit needs privilege. */
	if (rl.rlim_max == RLIM_INFINITY || max_file_size < rl.rlim_max)
		rl.rlim_max = max_file_size;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_FSIZE, &rl);
}
