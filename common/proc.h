/* Process roles and the start-up of privilege-separated workers. */
#ifndef LANSPREAD_PROC_H
#define LANSPREAD_PROC_H

#include <sys/types.h>

enum proc_id {
	PROC_SUPERVISOR,
	PROC_NET,
	PROC_TRANSFER,
	PROC_INSTALL,
	PROC_WEB,		/* optional: started when web_listen is set */
	PROC_MAX
};

#define PROC_WORKER_FD	3	/* a worker's socketpair end, after exec */

extern const char *const proc_names[PROC_MAX];	/* "net": in log lines */
extern const char *const proc_titles[PROC_MAX];	/* "lanspread-net" */

/*
 * What the supervisor tells its workers on their command line, and what
 * a worker read from its own (proc_worker_args).
 */
struct proc_worker_opts {
	int	 verbose;		/* -v */
	int	 sandbox_optional;	/* -o: a missing sandbox layer is a warning */
	int	 log_syslog;		/* -s: log to syslog, not stderr */
	uid_t	 net_uid;		/* -u uid:gid, net and web: the user */
	gid_t	 net_gid;		/* they become; (uid_t)-1: stay as is */
};

extern struct proc_worker_opts proc_opts;

pid_t	proc_start_worker(enum proc_id, const char *exe, char *const argv[],
	    int *fd);
void	proc_worker_init(enum proc_id);
int	proc_worker_args(int, char *[]);
int	proc_set_net_user(const char *, char *, size_t);
int	proc_is_worker(pid_t, const pid_t *, int);
int	proc_exe_dir(char *, size_t);
int	proc_set_nonblock(int);

/*
 * Raises the soft limit on open files to the hard one: a download of
 * many files, many peer links and a busy control socket all need
 * descriptors, and the soft limit (often 1024) is only a default.
 * Returns 0, or -1 with errno set.
 */
int	proc_raise_nofile(void);

#endif
