/* The install worker: extraction into staging, commit by rename. */
#ifndef LANSPREAD_INSTALL_H
#define LANSPREAD_INSTALL_H

#include <limits.h>

#include <ev.h>

#include "common/compat.h"
#include "common/msgtypes.h"

struct install;

/* An install or uninstall running in a child process. */
struct job {
	TAILQ_ENTRY(job) entry;
	struct install	*inst;
	pid_t		 pid;
	char		 game_id[GAME_ID_SIZE];
	enum inst_op	 op;		/* install or uninstall */
	int		 pipe_fd;	/* progress and error lines */
	ev_io		 pio;
	char		 buf[1024];
	size_t		 len;
	char		 error[512];
	ev_tstamp	 last_sent;
	uint64_t	 last_bytes;
};

struct install {
	struct ev_loop	*loop;
	struct msgconn	 sup;
	int		 games_fd;
	char		 games_dir[PATH_MAX];
	enum unrar_mode	 unrar;
	char		 unrar_path[PATH_MAX];	/* as the hello says it */
	gid_t		 games_gid;	/* games_group's, or (gid_t)-1 */
	ev_child	 children;
	TAILQ_HEAD(, job) jobs;
	int		 nstreams;	/* stream children running */
};

/*
 * Streams at once, whoever asks: the transfer worker shares them out per
 * host; this is the last word, should a request slip past it.
 */
#define INST_MAX_STREAMS	8

struct install	*install_new(struct ev_loop *, int supfd);
void		 install_free(struct install *);

#endif
