/* The transfer worker: serves chunks and fetches them into staging. */
#ifndef LANSPREAD_TRANSFER_H
#define LANSPREAD_TRANSFER_H

#include <ev.h>

#include "common/msg.h"

struct transfer {
	struct ev_loop	*loop;
	struct msgconn	 sup;
	int		 games_fd;
};

struct transfer	*transfer_new(struct ev_loop *, int supfd);
void		 transfer_free(struct transfer *);

#endif
