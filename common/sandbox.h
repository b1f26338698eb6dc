/*
 * The workers' sandbox, one policy per worker, applied in this order:
 * capabilities and (net, as root) the uid given up, PR_SET_DUMPABLE 0,
 * PR_SET_NO_NEW_PRIVS, Landlock (reads and writes), seccomp last (an
 * allow-list of syscalls, with their arguments checked where it
 * matters).
 */
#ifndef LANSPREAD_SANDBOX_H
#define LANSPREAD_SANDBOX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "common/proc.h"

struct sandbox_policy {
	enum proc_id	 role;		/* PROC_NET, _TRANSFER, _INSTALL, _WEB */
	/*
	 * transfer, install: the one folder read and written (files and
	 * folders only: no device, fifo, socket or symlink is made). NULL
	 * for net and web, which open no file at all once sandboxed.
	 */
	const char	*games_dir;
	/*
	 * install: the external unrar, the one program it may exec (with
	 * the dynamic loader and the system libraries). NULL: no exec.
	 */
	const char	*exec_path;
	/*
	 * install: games_group's gid, the one group it may give a file
	 * (never an owner), and folders then may be made setgid (a
	 * mode with S_ISGID, never S_ISUID). (gid_t)-1: no chown at all.
	 */
	gid_t		 games_gid;
	/* Run as root: become this user ((uid_t)-1: keep the uid). */
	uid_t		 uid;
	gid_t		 gid;
	/*
	 * 0: a kernel without Landlock or seccomp is an error. 1: it is
	 * logged at warning and the other layers still apply. Any other
	 * failure is always an error.
	 */
	int		 optional;
};

/*
 * The policy of worker role, as the worker itself enters it: the games
 * folder, the external unrar, and what the supervisor said on the
 * worker's command line (proc_opts: sandbox_optional, net user).
 */
void	sandbox_policy_init(struct sandbox_policy *, enum proc_id role,
	    const char *games_dir, const char *exec_path);

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
 * A worker's sandbox, entered once (later calls do nothing): its
 * policy (sandbox_policy_init) and no core files. A worker cannot go
 * on unsandboxed: a failure is fatal.
 */
void	sandbox_worker(enum proc_id role, const char *games_dir,
	    const char *exec_path);

/* The install worker's: sandbox_worker() with games_group's gid. */
void	sandbox_worker_group(enum proc_id role, const char *games_dir,
	    const char *exec_path, gid_t games_gid);

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
