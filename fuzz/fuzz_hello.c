/*
 * The peer hello, through handshake_recv_hello() on a struct net of its
 * own as tests/check_handshake.c sets one up: a link on a socketpair, the
 * supervisor's end drained and ignored. The first byte says how the link
 * stands: bit 0 dialled by us, bit 1 a HELLO_ACK rather than a HELLO,
 * bit 2 another link already up for OTHER_ID (dialled by us when bit 3
 * is set); the rest is the body. What the worker would do with it then
 * (msg_recv_peer_hello, the id, name and address checks, gamelist_check,
 * the key and proof checks, the answer, refusing or replacing a link)
 * runs as in the worker.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msgtypes.h"
#include "worker-net/net.h"
#include "fuzz/fuzz.h"

#define OTHER_ID	"0f1e2d3c4b5a69788796a5b4c3d2e1f0"

static struct ev_loop	*loop;
static struct net	*net;
static int		 sup_end;	/* the supervisor's end, drained */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 sv[2];

	(void)argc;
	(void)argv;
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1 || (net = net_new(loop, sv[0])) == NULL)
		abort();
	sup_end = sv[1];
	{
		unsigned char	 seed[IDENTITY_SEED_LEN] = { 1 };
		struct identity	 us;

		if (identity_from_seed(&us, seed) == -1)
			abort();
		memcpy(net->peer_id, us.peer_id, sizeof(net->peer_id));
		memcpy(net->pk_hex, us.pk_hex, sizeof(net->pk_hex));
	}
	snprintf(net->name, sizeof(net->name), "fuzz");
	snprintf(net->addr, sizeof(net->addr), "127.0.0.1:4000");
	return 0;
}

/* A link in net whose far end (*far) the caller closes. */
static struct link *
new_link(int outbound, int *far)
{
	struct link	*l;
	int		 pv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    pv) == -1 || (l = net_link_new(net, pv[0], outbound)) == NULL)
		abort();
	*far = pv[1];
	return l;
}

static void
drain(int fd)
{
	char	 buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	struct msg	 m;
	struct link	*l, *old;
	int		 far = -1, old_far = -1;

	if (size < 1)
		return 0;
	if (msg_unpack_body((const char *)data + 1, size - 1, &up) == -1)
		return 0;
	if (data[0] & 4) {
		old = new_link((data[0] & 8) != 0, &old_far);
		snprintf(old->peer_id, sizeof(old->peer_id), "%s", OTHER_ID);
		old->state = LINK_UP;
	}
	l = new_link(data[0] & 1, &far);
	m.type = (data[0] & 2) ? MSG_PEER_HELLO_ACK : MSG_PEER_HELLO;
	m.body = &up.data;
	m.fd = -1;
	/* A hello or an ack that passes waits for the supervisor's proof. */
	if ((m.type == MSG_PEER_HELLO ? handshake_recv_hello(l, &m) :
	    handshake_recv_ack(l, &m)) == 0 && l->sign_req == 0)
		abort();
	msgpack_unpacked_destroy(&up);
	while ((l = TAILQ_FIRST(&net->links)) != NULL)
		net_link_drop(l, "fuzz input done");
	if (net->nlinks != 0)
		abort();
	drain(sup_end);
	close(far);
	if (old_far != -1)
		close(old_far);
	return 0;
}
