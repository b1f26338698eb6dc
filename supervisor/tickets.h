/*
 * The transfer tickets linked peers gave us: a fetch from a peer shows
 * its ticket when it opens a transfer link, which binds the link to the
 * peer link whose key was proven. Kept while the peer is linked.
 */
#ifndef LANSPREAD_TICKETS_H
#define LANSPREAD_TICKETS_H

#include <stddef.h>

#include "common/layout.h"
#include "common/msgtypes.h"

struct peer_ticket {
	char	 peer_id[PEER_ID_SIZE];
	char	 ticket[XFER_TICKET_HEX];
};

struct tickets {
	struct peer_ticket	*list;
	size_t			 n;
	size_t			 cap;
};

int		 tickets_set(struct tickets *, const char *peer_id,
		    const char *ticket);
void		 tickets_drop(struct tickets *, const char *peer_id);
const char	*tickets_find(const struct tickets *, const char *peer_id);
void		 tickets_free(struct tickets *);

#endif
