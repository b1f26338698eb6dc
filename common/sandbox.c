/*
 * The workers' sandbox, applied in this order: PR_SET_DUMPABLE 0,
 * PR_SET_NO_NEW_PRIVS 1, Landlock, seccomp last.
 *
 * Landlock handles only the rights that change the filesystem, so reads
 * stay allowed everywhere and writes are allowed beneath the policy's
 * folders only (and into /dev/null). Where the kernel is new enough it also confines TCP
 * bind/connect (no network), abstract unix sockets and signals to the
 * worker's own domain.
 *
 * The seccomp filter allows by default and answers EPERM to the
 * syscalls a worker must not make: always the ones that reach the
 * kernel's or another process' state, and by policy the network, exec,
 * and (no write folder) the path syscalls that change the filesystem.
 * openat2(2) is never filtered: common/path.c relies on it.
 */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)	/* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)
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

/* Every right that creates, changes or removes something on disk. */
#define SB_FS_WRITE_ABI1						\
	(LANDLOCK_ACCESS_FS_WRITE_FILE |				\
	LANDLOCK_ACCESS_FS_REMOVE_DIR |					\
	LANDLOCK_ACCESS_FS_REMOVE_FILE |				\
	LANDLOCK_ACCESS_FS_MAKE_CHAR |					\
	LANDLOCK_ACCESS_FS_MAKE_DIR |					\
	LANDLOCK_ACCESS_FS_MAKE_REG |					\
	LANDLOCK_ACCESS_FS_MAKE_SOCK |					\
	LANDLOCK_ACCESS_FS_MAKE_FIFO |					\
	LANDLOCK_ACCESS_FS_MAKE_BLOCK |					\
	LANDLOCK_ACCESS_FS_MAKE_SYM)

/* Nothing a worker needs: the kernel's state, other processes, mounts. */
static const char *const deny_always[] = {
	"ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
	"open_tree", "mount_setattr",
	"setns", "unshare",
	"kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module",
	"swapon", "swapoff", "reboot", "acct", "quotactl",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "iopl", "ioperm",
	"syslog",		/* the kernel log (klogctl), not syslog(3) */
	"bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	/* Landlock leaves ownership alone; fchown(2) stays. */
	"chown", "lchown", "fchownat",
	/* io_uring runs opens, sockets and connects past this filter. */
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	/* Opens by inode handle, with no path to resolve. */
	"open_by_handle_at",
	NULL
};

/* allow_network 0; sendto with an address is filtered apart. */
static const char *const deny_network[] = {
	"socket", "socketpair", "connect", "bind", "listen",
	"accept", "accept4",
	NULL
};

/* allow_exec 0. */
static const char *const deny_exec[] = {
	"execve", "execveat",
	NULL
};

/*
 * No write folder: the path syscalls that can only change the
 * filesystem, so that it holds without Landlock too (except through
 * openat2, which stays open), and the metadata changes Landlock does
 * not cover.
 */
static const char *const deny_fs_write[] = {
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
	"rename", "renameat", "renameat2", "link", "linkat",
	"symlink", "symlinkat", "mknod", "mknodat", "truncate", "creat",
	"chmod", "fchmodat", "fchmodat2", "utime", "utimes", "futimesat",
	"utimensat", "setxattr", "lsetxattr", "removexattr", "lremovexattr",
	NULL
};

static int	sb_error(char *, size_t, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	landlock_apply(const struct sandbox_policy *, int, char *,
		    size_t);
static int	seccomp_deny(scmp_filter_ctx, const char *, unsigned int,
		    const struct scmp_arg_cmp *, char *, size_t);
static int	seccomp_deny_list(scmp_filter_ctx, const char *const *,
		    char *, size_t);
static int	seccomp_deny_write_opens(scmp_filter_ctx, char *, size_t);
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

int
sandbox_landlock_abi(void)
{
	long	abi;

	abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi == -1) {
		/* ENOSYS: not built in; EOPNOTSUPP: not enabled at boot. */
		if (errno == ENOSYS || errno == EOPNOTSUPP)
			return 0;
		return -1;
	}
	if (abi <= 0) {
		errno = EINVAL;
		return -1;
	}
	return (int)abi;
}

static int
landlock_apply(const struct sandbox_policy *p, int abi, char *err,
    size_t errsz)
{
	struct sb_ruleset_attr			 attr;
	struct landlock_path_beneath_attr	 pb;
	int					 rfd, dfd, i, saved;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = SB_FS_WRITE_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	/* Handled without a rule: no TCP bind or connect at all. */
	if (abi >= 4 && !p->allow_network)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
	if (abi == 1 && p->write_dirs[0] != NULL)
		log_warnx("%s: Landlock ABI 1: a rename or link across "
		    "folders fails with EXDEV", __func__);

	rfd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr),
	    0);
	if (rfd == -1)
		return sb_error(err, errsz, errno, "landlock_create_ruleset");

	for (i = 0; i < SANDBOX_WRITE_DIRS && p->write_dirs[i] != NULL; i++) {
		dfd = open(p->write_dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd == -1) {
			saved = errno;
			close(rfd);
			return sb_error(err, errsz, saved, "%s",
			    p->write_dirs[i]);
		}
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = attr.handled_access_fs;
		pb.parent_fd = dfd;
		if (syscall(__NR_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
			saved = errno;
			close(dfd);
			close(rfd);
			return sb_error(err, errsz, saved,
			    "landlock_add_rule %s", p->write_dirs[i]);
		}
		close(dfd);
	}

	/* /dev/null, which the install worker gives an unrar. */
	if ((dfd = open("/dev/null", O_PATH | O_CLOEXEC)) != -1) {
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = attr.handled_access_fs &
		    (LANDLOCK_ACCESS_FS_WRITE_FILE |
		    LANDLOCK_ACCESS_FS_TRUNCATE);
		pb.parent_fd = dfd;
		if (syscall(__NR_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
			saved = errno;
			close(dfd);
			close(rfd);
			return sb_error(err, errsz, saved,
			    "landlock_add_rule /dev/null");
		}
		close(dfd);
	}

	if (syscall(__NR_landlock_restrict_self, rfd, 0) == -1) {
		saved = errno;
		close(rfd);
		return sb_error(err, errsz, saved, "landlock_restrict_self");
	}
	close(rfd);
	return 0;
}

static int
seccomp_deny(scmp_filter_ctx ctx, const char *name, unsigned int argc,
    const struct scmp_arg_cmp *argv, char *err, size_t errsz)
{
	int	nr, rc;

	/* Unknown to libseccomp: fail rather than leave a hole. */
	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		return sb_error(err, errsz, ENOSYS, "seccomp: %s", name);
	/* A syscall this architecture lacks is skipped by libseccomp. */
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, argc,
	    argv);
	if (rc < 0)
		return sb_error(err, errsz, -rc, "seccomp_rule_add %s", name);
	return 0;
}

static int
seccomp_deny_list(scmp_filter_ctx ctx, const char *const *names, char *err,
    size_t errsz)
{
	for (; *names != NULL; names++)
		if (seccomp_deny(ctx, *names, 0, NULL, err, errsz) == -1)
			return -1;
	return 0;
}

/* open, openat: any flag that writes or creates. */
static int
seccomp_deny_write_opens(scmp_filter_ctx ctx, char *err, size_t errsz)
{
	const struct {
		uint64_t	mask;
		uint64_t	value;
	} flags[] = {
		{ O_ACCMODE, O_WRONLY },
		{ O_ACCMODE, O_RDWR },
		{ O_CREAT, O_CREAT },
		{ O_TRUNC, O_TRUNC },
	};
	struct scmp_arg_cmp	 cmp;
	size_t			 i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, flags[i].mask,
		    flags[i].value);
		if (seccomp_deny(ctx, "open", 1, &cmp, err, errsz) == -1)
			return -1;
		cmp = SCMP_A2(SCMP_CMP_MASKED_EQ, flags[i].mask,
		    flags[i].value);
		if (seccomp_deny(ctx, "openat", 1, &cmp, err, errsz) == -1)
			return -1;
	}
	return 0;
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
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return sb_error(err, errsz, ENOMEM, "seccomp_init");
	/* Every thread, should a library have started one. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
		seccomp_release(ctx);
		return sb_error(err, errsz, -rc, "seccomp_attr_set(TSYNC)");
	}

	if (seccomp_deny_list(ctx, deny_always, err, errsz) == -1)
		goto fail;
	if (!p->allow_network) {
		if (seccomp_deny_list(ctx, deny_network, err, errsz) == -1)
			goto fail;
		/* send(2) is sendto with no address: keep it. */
		cmp = SCMP_A4(SCMP_CMP_NE, 0);
		if (seccomp_deny(ctx, "sendto", 1, &cmp, err, errsz) == -1)
			goto fail;
	}
	if (!p->allow_exec &&
	    seccomp_deny_list(ctx, deny_exec, err, errsz) == -1)
		goto fail;
	if (p->write_dirs[0] == NULL &&
	    (seccomp_deny_list(ctx, deny_fs_write, err, errsz) == -1 ||
	    seccomp_deny_write_opens(ctx, err, errsz) == -1))
		goto fail;

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

int
sandbox_apply(const struct sandbox_policy *p, char *err, size_t errsz)
{
	int	abi, i;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return sb_error(err, errsz, errno, "prctl(PR_SET_DUMPABLE)");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return sb_error(err, errsz, errno,
		    "prctl(PR_SET_NO_NEW_PRIVS)");

	if ((abi = sandbox_landlock_abi()) == -1)
		return sb_error(err, errsz, errno, "Landlock ABI probe");
	if (abi == 0) {
		if (p->require)
			return sb_error(err, errsz, EOPNOTSUPP,
			    "Landlock is required");
		log_warnx("%s: the kernel has no Landlock: writes are not "
		    "confined", __func__);
	} else if (landlock_apply(p, abi, err, errsz) == -1)
		return -1;

	if (seccomp_apply(p, err, errsz) == -1)
		return -1;

	for (i = 0; i < SANDBOX_WRITE_DIRS && p->write_dirs[i] != NULL; i++)
		log_debug("%s: writes allowed beneath %s", __func__,
		    p->write_dirs[i]);
	log_debug("%s: Landlock ABI %d, seccomp, network %s, exec %s",
	    __func__, abi, p->allow_network ? "allowed" : "denied",
	    p->allow_exec ? "allowed" : "denied");
	return 0;
}

void
sandbox_worker(const char *write_dir, int allow_network, int allow_exec)
{
	static int		 entered;
	struct sandbox_policy	 p;
	char			 err[256];

	if (entered)
		return;
	memset(&p, 0, sizeof(p));
	p.write_dirs[0] = write_dir;
	p.allow_network = allow_network;
	p.allow_exec = allow_exec;
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
