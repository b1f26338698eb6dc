/* The install worker: extraction into staging, commit by rename. */
#ifndef LANSPREAD_INSTALL_H
#define LANSPREAD_INSTALL_H

#include <limits.h>

#include <ev.h>

#include "common/msg.h"

struct install {
	struct ev_loop	*loop;
	struct msgconn	 sup;
	int		 games_fd;
	char		 games_dir[PATH_MAX];
	char		 unrar[PATH_MAX];	/* "", "builtin" or a path */
	int		 sandboxed;
	ev_child	 children;
};

struct install	*install_new(struct ev_loop *, int supfd);
void		 install_free(struct install *);
int		 install_sandbox(struct install *);

#endif
