/*
 * The workers' sandbox: PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS, Landlock
 * (writes only beneath the policy's folders) and a seccomp filter (no
 * network, no exec, none of the syscalls no worker needs), in that order.
 */
#ifndef LANSPREAD_SANDBOX_H
#define LANSPREAD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/* Most folders a policy may open for writing. */
#define SANDBOX_WRITE_DIRS	4

struct sandbox_policy {
	/*
	 * Folders beneath which files and folders may be created, written,
	 * truncated, removed and renamed; the list ends at the first NULL
	 * or after SANDBOX_WRITE_DIRS entries. None: no writes at all.
	 * Reads stay allowed everywhere. Every folder must exist.
	 */
	const char	*write_dirs[SANDBOX_WRITE_DIRS];
	int		 allow_network;	/* 0: no socket, connect, bind... */
	int		 allow_exec;	/* 0: execve and execveat fail */
	/*
	 * 1: a kernel without Landlock is an error. 0: it is logged and
	 * the other layers still apply. Any other failure is always an
	 * error.
	 */
	int		 require;
};

/*
 * Applies p to the calling process, for good, and to what it later
 * forks or execs. Call it once, after every file, socket and descriptor
 * the worker needs is open (descriptors opened before keep their
 * access) and before any thread is started. Returns 0, or -1 with errno
 * set and err filled; after -1 the process is partly sandboxed and
 * must exit.
 */
int	sandbox_apply(const struct sandbox_policy *p, char *err,
	    size_t errsz);

/*
 * A worker's sandbox, entered once (later calls do nothing): no core
 * files, writes only beneath write_dir (NULL: none), and the network or
 * exec only when allowed. A worker cannot go on unsandboxed: a failure
 * is fatal.
 */
void	sandbox_worker(const char *write_dir, int allow_network,
	    int allow_exec);

/*
 * The highest Landlock ABI the kernel offers: > 0, 0 when the kernel
 * has no Landlock (built without it or not enabled at boot), or -1 with
 * errno set.
 */
int	sandbox_landlock_abi(void);

/*
 * No core files, and when max_file_size is not 0 no file written beyond
 * it: SIGXFSZ is ignored, so such a write fails with EFBIG instead of
 * killing the worker. Returns 0, or -1 with errno set.
 */
int	sandbox_rlimits(uint64_t max_file_size);

#endif /* LANSPREAD_SANDBOX_H */
