/* mDNS announce and browse: not built yet (issue: peers, item 5). */
#include <stdlib.h>

#include "common/log.h"
#include "worker-net/net.h"

struct mdns *
mdns_start(struct net *net)
{
	(void)net;
	return NULL;
}

void
mdns_stop(struct mdns *m)
{
	(void)m;
}
