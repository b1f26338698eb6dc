/*
 * The swarm on peer links (protocol 4): each peer tells its linked peers
 * which games it is downloading now, so they can fetch the pieces it has
 * verified. We tell the list the supervisor last gave us, to every peer
 * when it changes and to a peer once its link is up; what a peer tells
 * us goes to the supervisor, which never counts it as having the game.
 */
#include <stdio.h>
#include <string.h>

#include "common/gamelist.h"
#include "common/log.h"
#include "common/msgtypes.h"
#include "worker-net/net.h"

static void
send_swarm(struct link *l)
{
	if (l->state != LINK_UP)
		return;
	if (msg_send_peer_swarm(&l->mc, &l->net->swarm) == -1)
		net_link_drop(l, "cannot tell our downloads");
}

/* The supervisor's downloads now: every linked peer hears them. */
void
swarm_set(struct net *net, struct game_list *list)
{
	struct link	*l, *next;

	msg_free_net_swarm(&net->swarm);
	net->swarm = *list;
	memset(list, 0, sizeof(*list));
	TAILQ_FOREACH_SAFE(l, &net->links, entry, next)
		send_swarm(l);
}

/* A new peer starts with none of ours: only a list worth telling goes. */
void
swarm_link_up(struct link *l)
{
	if (l->net->swarm.ngames > 0)
		send_swarm(l);
}

/* 0 when m was a peer's downloads (forwarded, or its link dropped). */
int
swarm_dispatch(struct link *l, struct msg *m)
{
	struct game_list list;
	struct net_peer_library told;
	char		 why[ERROR_SIZE];

	if (m->type != MSG_PEER_SWARM)
		return -1;
	if (msg_recv_peer_swarm(m, &list, why, sizeof(why)) == -1 ||
	    gamelist_check_downloads(list.games, list.ngames, why,
	    sizeof(why)) == -1) {
		msg_free_peer_swarm(&list);
		net_link_drop(l, "malformed list of downloads");
		return 0;
	}
	memcpy(told.peer_id, l->peer_id, sizeof(told.peer_id));
	told.games = list.games;
	told.ngames = list.ngames;
	msg_send_net_peer_swarm(&l->net->sup, &told);
	msg_free_peer_swarm(&list);
	return 0;
}

void
swarm_free(struct net *net)
{
	msg_free_net_swarm(&net->swarm);
}
