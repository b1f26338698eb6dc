/* The install worker: extracts archives into staging, commits by rename. */
#ifndef LANSPREAD_INSTALL_H
#define LANSPREAD_INSTALL_H

#include <ev.h>

#include "common/msg.h"

struct install {
	struct ev_loop	*loop;
	struct msgconn	 sup;
	int		 games_fd;
};

struct install	*install_new(struct ev_loop *, int supfd);
void		 install_free(struct install *);

#endif
