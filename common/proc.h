/* Process roles and the start-up of privilege-separated workers. */
#ifndef LANSPREAD_PROC_H
#define LANSPREAD_PROC_H

#include <sys/types.h>

enum proc_id {
	PROC_SUPERVISOR,
	PROC_NET,
	PROC_TRANSFER,
	PROC_INSTALL,
	PROC_MAX
};

#define PROC_WORKER_FD	3	/* a worker's socketpair end, after exec */

extern const char *const proc_names[PROC_MAX];

pid_t	proc_start_worker(enum proc_id, const char *exe, char *const argv[],
	    int *fd);
void	proc_worker_init(enum proc_id);
int	proc_exe_dir(char *, size_t);
int	proc_set_nonblock(int);

#endif
