/*
 * Check suite for the network worker's peer handshake (worker-net/net.c,
 * handshake.c): a struct net on a private libev loop, its supervisor link
 * and peer links on socketpairs whose other ends the test holds. Nothing
 * a peer says reaches the supervisor before it is checked.
 */

#include <sys/types.h>

#include <check.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <msgpack.h>

#include "common/gamelist.h"
#include "common/msgtypes.h"
#include "tests/testutil.h"
#include "worker-net/net.h"

/* Peer ids are derived from keys: each test peer has its own. */
#define OUR_ID		(our_key.peer_id)
#define OTHER_ID	(other_key.peer_id)
#define THIRD_ID	(third_key.peer_id)
#define PEER_ADDR	"127.0.0.9:4000"
#define MAXREC		16
#define MAXGAMES	8
#define SPIN_MAX	200
#define SETTLE		20

/* One message as the test's end of a link saw it. */
struct rec {
	uint32_t		 type;
	uint64_t		 proto;
	char			 peer_id[64];
	char			 name[64];
	char			 addr[64];
	char			 reason[128];
	int			 games_ok;	/* decoded strictly */
	size_t			 ngames;
	struct game_entry	 games[MAXGAMES];
};

/*
 * The test's end of a link: a framed connection and what it received.
 * As a dialler it answers the ack with its proof, signed by ident (by
 * prover when set: the wrong key), with the library its hello was given.
 */
struct end {
	struct msgconn	 mc;
	int		 nrec;
	struct rec	 rec[MAXREC];
	int		 closed;
	char		 why[128];
	const struct identity *ident;
	const struct identity *prover;
	char		 their_challenge[IDENTITY_CHALLENGE_HEX];
	char		 ticket[XFER_TICKET_HEX];	/* net gave us */
	struct game_entry pend[MAXGAMES];
	size_t		 npend;
};

static struct identity	 our_key, other_key, third_key;
static struct ev_loop	*loop;
static struct net	*net;
static struct end	 sup;		/* the supervisor's end */
static struct end	 peers[3];	/* remote ends of peer links */

static Suite	*handshake_suite(void);

static int	 signs_asked;	/* NET_SIGN requests seen */
static int	 refuse_signs;	/* answer them with no proof */

static void
answer_sign(struct end *e, struct msg *m)
{
	struct net_sign	 req;
	struct net_signed out;
	char		 why[ERROR_SIZE];

	ck_assert_int_eq(msg_recv_net_sign(m, &req, why, sizeof(why)), 0);
	signs_asked++;
	memset(&out, 0, sizeof(out));
	out.req = req.req;
	if (!refuse_signs)
		ck_assert_int_eq(identity_sign_hello(&our_key,
		    req.as_listener ? HELLO_ROLE_LISTENER : HELLO_ROLE_DIALLER,
		    req.challenge, req.verifier_id, out.proof), 0);
	ck_assert_int_eq(msg_send_net_signed(&e->mc, &out), 0);
}

/* The dialler's proof, answering ack's challenge, with e's library. */
static void
send_proof(struct end *e, const struct peer_hello_ack *ack)
{
	struct peer_hello_proof p;
	const struct identity *signer = e->prover ? e->prover : e->ident;
	struct identity	 as = *signer;

	memset(&p, 0, sizeof(p));
	/* Signed as the claimed id, whatever key signs. */
	memcpy(as.peer_id, e->ident->peer_id, sizeof(as.peer_id));
	ck_assert_int_eq(identity_sign_hello(&as, HELLO_ROLE_DIALLER,
	    ack->challenge, ack->peer_id, p.proof), 0);
	snprintf(p.ticket, sizeof(p.ticket), "%032x", 7);
	p.games = e->pend;
	p.ngames = e->npend;
	ck_assert_int_eq(msg_send_peer_hello_proof(&e->mc, &p), 0);
}

static void
end_msg(struct msgconn *c, struct msg *m)
{
	struct end	*e = c->arg;
	struct rec	*r;
	struct peer_hello h;
	struct peer_hello_ack ack;
	struct peer_hello_proof proof;
	struct net_peer_up up;
	struct net_peer_library pl;
	struct game_list lib;
	struct game_entry *list = NULL;
	char		 why[ERROR_SIZE];
	size_t		 n = 0;

	/* The supervisor's end signs our proofs, as the supervisor does. */
	if (m->type == MSG_NET_SIGN) {
		answer_sign(e, m);
		return;
	}
	ck_assert_int_lt(e->nrec, MAXREC);
	r = &e->rec[e->nrec++];
	memset(r, 0, sizeof(*r));
	r->type = m->type;
	(void)mp_get_u64(m->body, "proto", &r->proto);
	(void)mp_get_str(m->body, "peer_id", r->peer_id, sizeof(r->peer_id));
	(void)mp_get_str(m->body, "name", r->name, sizeof(r->name));
	(void)mp_get_str(m->body, "addr", r->addr, sizeof(r->addr));
	(void)mp_get_str(m->body, "reason", r->reason, sizeof(r->reason));
	/* Games are decoded by the message's own typed pair, strictly. */
	switch (m->type) {
	case MSG_PEER_HELLO:
		/* Net dialled: its challenge is what our ack must sign. */
		if (msg_recv_peer_hello(m, &h, why, sizeof(why)) == 0) {
			r->games_ok = 1;
			memcpy(e->their_challenge, h.challenge,
			    sizeof(e->their_challenge));
		}
		break;
	case MSG_PEER_HELLO_ACK:
		if (msg_recv_peer_hello_ack(m, &ack, why, sizeof(why)) == 0) {
			r->games_ok = 1;
			list = ack.games;
			n = ack.ngames;
			memcpy(e->ticket, ack.ticket, sizeof(e->ticket));
			if (e->ident != NULL)
				send_proof(e, &ack);
		}
		break;
	case MSG_PEER_HELLO_PROOF:
		if (msg_recv_peer_hello_proof(m, &proof, why,
		    sizeof(why)) == 0) {
			r->games_ok = 1;
			list = proof.games;
			n = proof.ngames;
		}
		break;
	case MSG_NET_PEER_UP:
		if (msg_recv_net_peer_up(m, &up, why, sizeof(why)) == 0) {
			r->games_ok = 1;
			list = up.games;
			n = up.ngames;
		}
		break;
	case MSG_NET_PEER_LIBRARY:
		if (msg_recv_net_peer_library(m, &pl, why, sizeof(why)) == 0) {
			r->games_ok = 1;
			list = pl.games;
			n = pl.ngames;
		}
		break;
	case MSG_PEER_LIBRARY:
		if (msg_recv_peer_library(m, &lib, why, sizeof(why)) == 0) {
			r->games_ok = 1;
			list = lib.games;
			n = lib.ngames;
		}
		break;
	}
	if (r->games_ok && gamelist_check(list, n, why, sizeof(why)) == -1)
		r->games_ok = 0;
	r->ngames = n;
	ck_assert_uint_le(n, MAXGAMES);
	if (n > 0)
		memcpy(r->games, list, n * sizeof(*list));
	free(list);
}

static void
end_close(struct msgconn *c, const char *why)
{
	struct end	*e = c->arg;

	e->closed++;
	snprintf(e->why, sizeof(e->why), "%s", why);
}

static void
end_init(struct end *e, int fd)
{
	memset(e, 0, sizeof(*e));
	msgconn_init(&e->mc, loop, fd, 0, end_msg, end_close, e);
}

/* Runs until e has n messages (or the bound is hit). */
static void
spin_until_nrec(struct end *e, int n)
{
	int	 i;

	for (i = 0; i < SPIN_MAX && e->nrec < n && !e->closed; i++)
		tu_spin(loop, NULL, 1);
}

static int
count_type(const struct end *e, uint32_t type)
{
	int	 i, n = 0;

	for (i = 0; i < e->nrec; i++)
		if (e->rec[i].type == type)
			n++;
	return n;
}

static const struct rec *
find_type(const struct end *e, uint32_t type)
{
	int	 i;

	for (i = 0; i < e->nrec; i++)
		if (e->rec[i].type == type)
			return &e->rec[i];
	return NULL;
}

static const unsigned char our_seed[IDENTITY_SEED_LEN] = { 1 };

static void
test_keys(void)
{
	unsigned char	 seed[IDENTITY_SEED_LEN] = { 2 };

	ck_assert_int_eq(identity_from_seed(&our_key, our_seed), 0);
	ck_assert_int_eq(identity_from_seed(&other_key, seed), 0);
	seed[0] = 3;
	ck_assert_int_eq(identity_from_seed(&third_key, seed), 0);
}

/*
 * Checked fixture: a net on its own loop, told its identity by the test
 * acting as the supervisor, before any peer link exists.
 */
static void
net_setup(void)
{
	struct net_identity identity;
	int		 sv[2];

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	tu_socketpair(sv);
	net = net_new(loop, sv[0]);
	ck_assert_ptr_nonnull(net);
	end_init(&sup, sv[1]);
	sup.mc.allow_fds = 1;	/* transfer links are handed over */
	memset(peers, 0, sizeof(peers));

	test_keys();
	signs_asked = refuse_signs = 0;
	memset(&identity, 0, sizeof(identity));
	snprintf(identity.peer_id, sizeof(identity.peer_id), "%s", OUR_ID);
	snprintf(identity.name, sizeof(identity.name), "self");
	memcpy(identity.public_key, our_key.pk_hex,
	    sizeof(identity.public_key));
	ck_assert_int_eq(msg_send_net_identity(&sup.mc, &identity), 0);
	{
		int	 i;

		for (i = 0; i < SPIN_MAX && net->peer_id[0] == '\0'; i++)
			tu_spin(loop, NULL, 1);
	}
	ck_assert_str_eq(net->peer_id, OUR_ID);
	ck_assert_str_eq(net->name, "self");
	ck_assert_int_eq(sup.nrec, 0);
}

static void
net_teardown(void)
{
	size_t	 i;

	net_free(net);
	net = NULL;
	msgconn_close(&sup.mc);
	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
		if (peers[i].mc.loop != NULL)
			msgconn_close(&peers[i].mc);
	ev_loop_destroy(loop);
	loop = NULL;
}

/* A new peer link in net; the test holds its remote end in e. */
static void
new_link(struct end *e, int outbound)
{
	int	 pv[2];

	struct link	*l;

	tu_socketpair(pv);
	ck_assert_ptr_nonnull(l = net_link_new(net, pv[0], outbound));
	end_init(e, pv[1]);
	/* A link we dialled says hello first, with our challenge. */
	if (outbound) {
		ck_assert_int_eq(handshake_send_hello(l), 0);
		spin_until_nrec(e, 1);
		ck_assert_str_ne(e->their_challenge, "");
	}
}

static struct game_entry
game(const char *id, const char *version, const char *avail, int dl,
    int inst, uint64_t size)
{
	struct game_entry g;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.version, sizeof(g.version), "%s", version);
	snprintf(g.availability, sizeof(g.availability), "%s", avail);
	g.downloaded = dl;
	g.installed = inst;
	g.size = size;
	return g;
}

/* Two games, one of each availability. */
static size_t
two_games(struct game_entry g[2])
{
	g[0] = game("alienswarm", "20190317", "Ready", 1, 0, 125829120);
	g[1] = game("cnctw", "20160128", "LocalOnly", 0, 1, 0);
	return 2;
}

/* The test key whose id is id; a claim of any other id shows other's. */
static const struct identity *
key_for(const char *id)
{
	if (strcmp(id, OUR_ID) == 0)
		return &our_key;
	if (strcmp(id, THIRD_ID) == 0)
		return &third_key;
	return &other_key;
}

/*
 * A hello (or, to a link net dialled, an ack with its proof and games)
 * claiming id with that id's key. A hello's games go with the proof the
 * end sends when the ack comes.
 */
static void
send_hello(struct end *e, uint32_t type, uint64_t proto, const char *id,
    const char *name, const char *addr, const struct game_entry *g,
    size_t n)
{
	struct msgout	 m;
	char		 challenge[IDENTITY_CHALLENGE_HEX];
	char		 proof[IDENTITY_SIG_HEX];
	struct identity	 as;
	size_t		 i;

	e->ident = key_for(id);
	ck_assert_uint_le(n, MAXGAMES);
	if (n > 0)
		memcpy(e->pend, g, n * sizeof(*g));
	e->npend = n;
	identity_new_challenge(challenge);
	/* Packed by hand: a hostile peer sends what no struct would hold. */
	msgout_init(&m, type, type == MSG_PEER_HELLO ? 6 : 9);
	msgout_u64(&m, "proto", proto);
	msgout_str(&m, "peer_id", id);
	msgout_str(&m, "name", name);
	msgout_str(&m, "addr", addr);
	msgout_str(&m, "public_key", e->ident->pk_hex);
	msgout_str(&m, "challenge", challenge);
	if (type == MSG_PEER_HELLO) {
		ck_assert_int_eq(msgconn_send(&e->mc, &m, -1), 0);
		return;
	}
	as = e->prover ? *e->prover : *e->ident;
	if (peer_id_is_valid(id))
		memcpy(as.peer_id, id, sizeof(as.peer_id));
	if (e->their_challenge[0] == '\0' ||
	    identity_sign_hello(&as, HELLO_ROLE_LISTENER, e->their_challenge,
	    OUR_ID, proof) == -1)
		snprintf(proof, sizeof(proof), "%0128d", 0);	/* no proof */
	msgout_str(&m, "proof", proof);
	msgout_str(&m, "ticket", "0123456789abcdef0123456789abcdef");
	msgout_key(&m, "games");
	msgpack_pack_array(&m.pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_map(&m.pk, 6);
		mp_pack_str(&m.pk, "id");
		mp_pack_str(&m.pk, g[i].id);
		mp_pack_str(&m.pk, "version");
		mp_pack_str(&m.pk, g[i].version);
		mp_pack_str(&m.pk, "availability");
		mp_pack_str(&m.pk, g[i].availability);
		mp_pack_str(&m.pk, "downloaded");
		g[i].downloaded ? msgpack_pack_true(&m.pk) :
		    msgpack_pack_false(&m.pk);
		mp_pack_str(&m.pk, "installed");
		g[i].installed ? msgpack_pack_true(&m.pk) :
		    msgpack_pack_false(&m.pk);
		mp_pack_str(&m.pk, "size");
		msgpack_pack_uint64(&m.pk, g[i].size);
	}
	ck_assert_int_eq(msgconn_send(&e->mc, &m, -1), 0);
}

/* Brings peer e up as OTHER_ID with two games; checks PEER_UP arrived. */
static void
bring_up(struct end *e, const char *id, const char *addr)
{
	struct game_entry g[2];
	int		 before = count_type(&sup, MSG_NET_PEER_UP);

	new_link(e, 0);
	send_hello(e, MSG_PEER_HELLO, PEER_PROTO_VERSION, id, "other", addr,
	    g, two_games(g));
	{
		int	 i;

		for (i = 0; i < SPIN_MAX &&
		    count_type(&sup, MSG_NET_PEER_UP) == before; i++)
			tu_spin(loop, NULL, 1);
	}
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), before + 1);
	ck_assert_int_eq(e->closed, 0);
}

/* The link was closed by net and the supervisor heard nothing of it. */
static void
assert_refused_silently(struct end *e)
{
	tu_spin(loop, &e->closed, SPIN_MAX);
	ck_assert_msg(e->closed == 1, "link still open");
	ck_assert_str_eq(e->why, "connection closed");
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 0);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 0);
	ck_assert_int_eq(sup.closed, 0);
	ck_assert_int_eq(net->nlinks, 0);
}

/* hello */

START_TEST(inbound_hello_from_self_is_ignored)
{
	struct game_entry g[2];

	new_link(&peers[0], 0);
	ck_assert_int_eq(net->nlinks, 1);
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION, OUR_ID,
	    "self", PEER_ADDR, g, two_games(g));
	tu_spin(loop, NULL, SETTLE);
	assert_refused_silently(&peers[0]);
	/* Not even an ack: we do not talk to ourselves. */
	ck_assert_int_eq(count_type(&peers[0], MSG_PEER_HELLO_ACK), 0);
	ck_assert_int_eq(sup.nrec, 0);
}
END_TEST

START_TEST(inbound_hello_from_another_peer_is_acked_and_reported_up)
{
	struct game_entry g[2];
	const struct rec *r;
	size_t		 n = two_games(g), i;

	new_link(&peers[0], 0);
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", PEER_ADDR, g, n);
	spin_until_nrec(&sup, 1);
	spin_until_nrec(&peers[0], 1);

	/* The ack on the peer link: our identity, as a hello would carry. */
	ck_assert_int_eq(peers[0].nrec, 1);
	r = &peers[0].rec[0];
	ck_assert_uint_eq(r->type, MSG_PEER_HELLO_ACK);
	ck_assert(r->proto == PEER_PROTO_VERSION);
	ck_assert_str_eq(r->peer_id, OUR_ID);
	ck_assert_str_eq(r->name, "self");
	ck_assert_int_eq(r->games_ok, 1);
	ck_assert_uint_eq(r->ngames, 0);

	/* PEER_UP to the supervisor, with everything the hello said. */
	ck_assert_int_eq(sup.nrec, 1);
	r = &sup.rec[0];
	ck_assert_uint_eq(r->type, MSG_NET_PEER_UP);
	ck_assert_str_eq(r->peer_id, OTHER_ID);
	ck_assert_str_eq(r->name, "other");
	ck_assert_str_eq(r->addr, PEER_ADDR);
	ck_assert_int_eq(r->games_ok, 1);
	ck_assert_uint_eq(r->ngames, n);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(r->games[i].id, g[i].id);
		ck_assert_str_eq(r->games[i].version, g[i].version);
		ck_assert_str_eq(r->games[i].availability,
		    g[i].availability);
		ck_assert_int_eq(r->games[i].downloaded, g[i].downloaded);
		ck_assert_int_eq(r->games[i].installed, g[i].installed);
		ck_assert(r->games[i].size == g[i].size);
	}
	ck_assert_int_eq(peers[0].closed, 0);
	ck_assert_int_eq(net->nlinks, 1);
}
END_TEST

START_TEST(ack_carries_our_library_once_the_supervisor_sent_it)
{
	struct game_entry g[2];
	struct game_list lib = { g, two_games(g) };

	ck_assert_int_eq(msg_send_net_library(&sup.mc, &lib), 0);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_uint_eq(net->library.ngames, 2);

	new_link(&peers[0], 0);
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", PEER_ADDR, NULL, 0);
	spin_until_nrec(&peers[0], 1);
	ck_assert_int_eq(peers[0].nrec, 1);
	ck_assert_uint_eq(peers[0].rec[0].type, MSG_PEER_HELLO_ACK);
	ck_assert_int_eq(peers[0].rec[0].games_ok, 1);
	ck_assert_uint_eq(peers[0].rec[0].ngames, 2);
	ck_assert_str_eq(peers[0].rec[0].games[1].id, "cnctw");
}
END_TEST

START_TEST(hello_with_another_protocol_version_closes_the_link)
{
	new_link(&peers[0], 0);
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION + 1,
	    OTHER_ID, "other", PEER_ADDR, NULL, 0);
	assert_refused_silently(&peers[0]);
	ck_assert_int_eq(peers[0].nrec, 0);
}
END_TEST

START_TEST(hello_without_a_protocol_version_closes_the_link)
{
	struct msgout	 m;

	new_link(&peers[0], 0);
	msgout_init(&m, MSG_PEER_HELLO, 4);
	msgout_str(&m, "peer_id", OTHER_ID);
	msgout_str(&m, "name", "other");
	msgout_str(&m, "addr", PEER_ADDR);
	msgout_key(&m, "games");
	msgpack_pack_array(&m.pk, 0);
	ck_assert_int_eq(msgconn_send(&peers[0].mc, &m, -1), 0);
	assert_refused_silently(&peers[0]);
	ck_assert_int_eq(peers[0].nrec, 0);
}
END_TEST

START_TEST(frame_other_than_hello_first_closes_the_link)
{
	static const uint32_t first[] = {
		MSG_PEER_PING, MSG_PEER_LIBRARY, MSG_PEER_HELLO_ACK,
	};
	struct msgout	 m;
	size_t		 i;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		new_link(&peers[i], 0);
		if (first[i] == MSG_PEER_HELLO_ACK) {
			/* An inbound link wants a hello, not an answer. */
			send_hello(&peers[i], MSG_PEER_HELLO_ACK,
			    PEER_PROTO_VERSION, OTHER_ID, "other", PEER_ADDR,
			    NULL, 0);
		} else {
			msgout_init(&m, first[i], 1);
			msgout_key(&m, "games");
			msgpack_pack_array(&m.pk, 0);
			ck_assert_int_eq(msgconn_send(&peers[i].mc, &m, -1),
			    0);
		}
		assert_refused_silently(&peers[i]);
	}
}
END_TEST

START_TEST(hello_with_a_bad_game_id_closes_the_link)
{
	struct game_entry g[2];

	g[0] = game("ggoo", "20200721", "Ready", 1, 0, 1);
	g[1] = game("../x", "1", "Ready", 1, 0, 1);
	new_link(&peers[0], 0);
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", PEER_ADDR, g, 2);
	assert_refused_silently(&peers[0]);
}
END_TEST

START_TEST(hello_with_a_bad_library_entry_closes_the_link)
{
	struct game_entry g[2];
	size_t		 i;

	for (i = 0; i < 3; i++) {
		two_games(g);
		if (i == 0)	/* neither Ready nor LocalOnly */
			snprintf(g[1].availability,
			    sizeof(g[1].availability), "Maybe");
		else if (i == 1)	/* the same game twice */
			g[1] = g[0];
		else	/* an id with a slash */
			snprintf(g[0].id, sizeof(g[0].id), "a/b");
		new_link(&peers[i], 0);
		send_hello(&peers[i], MSG_PEER_HELLO, PEER_PROTO_VERSION,
		    OTHER_ID, "other", PEER_ADDR, g, 2);
		assert_refused_silently(&peers[i]);
	}
}
END_TEST

START_TEST(hello_with_malformed_identity_fields_closes_the_link)
{
	static const struct {
		const char	*id, *name, *addr;
	} bad[] = {
		{ "0F1E2D3C4B5A69788796A5B4C3D2E1F0", "other", PEER_ADDR },
		{ "0f1e2d3c4b5a69788796a5b4c3d2e1f", "other", PEER_ADDR },
		{ "0f1e2d3c4b5a69788796a5b4c3d2e1f00", "other", PEER_ADDR },
		{ "0f1e2d3c4b5a69788796a5b4c3d2e1fg", "other", PEER_ADDR },
		{ OTHER_ID, "", PEER_ADDR },
		{ OTHER_ID, "evil\nname", PEER_ADDR },
		{ OTHER_ID, "other", "127.0.0.9" },
		{ OTHER_ID, "other", "127.0.0.9:0" },
		{ OTHER_ID, "other", "peer.example:4000" },
		{ OTHER_ID, "other", "" },
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct end	*e = &peers[i % 3];

		if (e->mc.loop != NULL)
			msgconn_close(&e->mc);
		new_link(e, 0);
		send_hello(e, MSG_PEER_HELLO, PEER_PROTO_VERSION, bad[i].id,
		    bad[i].name, bad[i].addr, NULL, 0);
		tu_spin(loop, &e->closed, SPIN_MAX);
		ck_assert_msg(e->closed == 1, "hello %zu (%s, \"%s\", %s) "
		    "accepted", i, bad[i].id, bad[i].name, bad[i].addr);
	}
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 0);
	ck_assert_int_eq(net->nlinks, 0);
}
END_TEST

/* after the handshake */

START_TEST(goodbye_after_up_reports_peer_down)
{
	const struct rec *r;

	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	ck_assert_int_eq(msgconn_send_empty(&peers[0].mc, MSG_PEER_GOODBYE),
	    0);
	tu_spin(loop, &peers[0].closed, SPIN_MAX);
	ck_assert_int_eq(peers[0].closed, 1);
	spin_until_nrec(&sup, 2);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 1);
	r = find_type(&sup, MSG_NET_PEER_DOWN);
	ck_assert_str_eq(r->peer_id, OTHER_ID);
	ck_assert_str_eq(r->reason, "goodbye");
	ck_assert_int_eq(net->nlinks, 0);
}
END_TEST

START_TEST(peer_closing_its_end_after_up_reports_peer_down)
{
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	msgconn_close(&peers[0].mc);
	spin_until_nrec(&sup, 2);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 1);
	ck_assert_str_eq(find_type(&sup, MSG_NET_PEER_DOWN)->peer_id,
	    OTHER_ID);
	ck_assert_int_eq(net->nlinks, 0);
}
END_TEST

START_TEST(library_update_after_up_is_forwarded_checked)
{
	struct game_entry g[1];
	struct game_list lib = { g, 1 };
	const struct rec *r;

	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	g[0] = game("css", "20240623", "Ready", 1, 1, 77);
	ck_assert_int_eq(msg_send_peer_library(&peers[0].mc, &lib), 0);
	spin_until_nrec(&sup, 2);
	ck_assert_int_eq(sup.nrec, 2);
	r = &sup.rec[1];
	ck_assert_uint_eq(r->type, MSG_NET_PEER_LIBRARY);
	ck_assert_str_eq(r->peer_id, OTHER_ID);
	ck_assert_uint_eq(r->ngames, 1);
	ck_assert_str_eq(r->games[0].id, "css");
	ck_assert(r->games[0].size == 77);

	/* A bad one drops the peer, and the supervisor hears that. */
	g[0] = game("..", "1", "Ready", 1, 0, 1);
	ck_assert_int_eq(msg_send_peer_library(&peers[0].mc, &lib), 0);
	tu_spin(loop, &peers[0].closed, SPIN_MAX);
	ck_assert_int_eq(peers[0].closed, 1);
	spin_until_nrec(&sup, 3);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_LIBRARY), 1);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 1);
}
END_TEST

START_TEST(ping_after_up_is_answered_with_pong)
{
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	spin_until_nrec(&peers[0], 1);	/* the ack */
	ck_assert_int_eq(msgconn_send_empty(&peers[0].mc, MSG_PEER_PING), 0);
	spin_until_nrec(&peers[0], 2);
	ck_assert_int_eq(peers[0].nrec, 2);
	ck_assert_uint_eq(peers[0].rec[1].type, MSG_PEER_PONG);
	ck_assert_int_eq(peers[0].closed, 0);
}
END_TEST

START_TEST(unknown_frame_after_up_drops_the_peer)
{
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	ck_assert_int_eq(msgconn_send_empty(&peers[0].mc, 9999), 0);
	tu_spin(loop, &peers[0].closed, SPIN_MAX);
	ck_assert_int_eq(peers[0].closed, 1);
	spin_until_nrec(&sup, 2);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 1);
}
END_TEST

/* links and directions */

START_TEST(outbound_link_takes_an_ack_and_sends_none_back)
{
	struct game_entry g[2];

	new_link(&peers[0], 1);
	send_hello(&peers[0], MSG_PEER_HELLO_ACK, PEER_PROTO_VERSION,
	    OTHER_ID, "other", PEER_ADDR, g, two_games(g));
	spin_until_nrec(&sup, 1);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 1);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(count_type(&peers[0], MSG_PEER_HELLO_ACK), 0);
	ck_assert_int_eq(peers[0].closed, 0);
}
END_TEST

START_TEST(outbound_link_refuses_a_hello_instead_of_an_ack)
{
	new_link(&peers[0], 1);
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", PEER_ADDR, NULL, 0);
	assert_refused_silently(&peers[0]);
}
END_TEST

/* Ids cannot be taken over: the linked peer keeps its link. */
START_TEST(newcomer_claiming_a_linked_id_is_refused_and_the_link_stays)
{
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	/* Even with the real key: one link per peer, the first one. */
	new_link(&peers[1], 0);
	send_hello(&peers[1], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", "127.0.0.10:4001", NULL, 0);
	tu_spin(loop, &peers[1].closed, SPIN_MAX);
	ck_assert_int_eq(peers[1].closed, 1);
	ck_assert_int_eq(count_type(&peers[1], MSG_PEER_HELLO_ACK), 0);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(peers[0].closed, 0);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 0);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 1);
	ck_assert_str_eq(sup.rec[0].addr, PEER_ADDR);
	ck_assert_int_eq(net->nlinks, 1);
}
END_TEST

START_TEST(hello_whose_id_is_not_derived_from_its_key_is_refused)
{
	new_link(&peers[0], 0);
	/* THIRD's id, OTHER's key (what key_for gives an unknown id). */
	peers[0].ident = &other_key;
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION,
	    "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "other", PEER_ADDR, NULL, 0);
	assert_refused_silently(&peers[0]);
	ck_assert_int_eq(count_type(&peers[0], MSG_PEER_HELLO_ACK), 0);
}
END_TEST

/* The dialler shows a key it does not hold: acked, never up. */
START_TEST(dialler_without_the_secret_key_is_never_reported_up)
{
	new_link(&peers[0], 0);
	peers[0].prover = &third_key;
	send_hello(&peers[0], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", PEER_ADDR, NULL, 0);
	spin_until_nrec(&peers[0], 1);
	ck_assert_int_eq(count_type(&peers[0], MSG_PEER_HELLO_ACK), 1);
	assert_refused_silently(&peers[0]);
}
END_TEST

/*
 * We dialled the real peer; a host claiming its id dials us with its
 * public key and a proof it cannot make: refused, our link stays.
 */
START_TEST(impersonator_of_a_peer_we_dialled_is_refused_and_the_link_stays)
{
	struct game_entry g[2];

	new_link(&peers[0], 1);
	send_hello(&peers[0], MSG_PEER_HELLO_ACK, PEER_PROTO_VERSION,
	    OTHER_ID, "other", PEER_ADDR, g, two_games(g));
	spin_until_nrec(&sup, 1);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 1);
	new_link(&peers[1], 0);
	peers[1].prover = &third_key;
	send_hello(&peers[1], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "fake", "127.0.0.66:4000", NULL, 0);
	tu_spin(loop, &peers[1].closed, SPIN_MAX);
	ck_assert_int_eq(peers[1].closed, 1);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(peers[0].closed, 0);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 1);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 0);
	ck_assert_int_eq(net->nlinks, 1);
}
END_TEST

START_TEST(listener_ack_without_a_valid_proof_is_refused)
{
	new_link(&peers[0], 1);
	peers[0].prover = &third_key;
	send_hello(&peers[0], MSG_PEER_HELLO_ACK, PEER_PROTO_VERSION,
	    OTHER_ID, "other", PEER_ADDR, NULL, 0);
	assert_refused_silently(&peers[0]);
	ck_assert_int_eq(count_type(&peers[0], MSG_PEER_HELLO_PROOF), 0);
}
END_TEST

/* A transfer link opens only with the ticket a linked peer was given. */
START_TEST(transfer_link_needs_the_ticket_of_a_linked_peer)
{
	struct peer_xfer_open open;
	int	 i;

	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	ck_assert_uint_eq(strlen(peers[0].ticket), XFER_TICKET_HEX - 1);
	memset(&open, 0, sizeof(open));
	open.proto = XFER_PROTO_VERSION;
	for (i = 0; i < 3; i++) {
		snprintf(open.peer_id, sizeof(open.peer_id), "%s",
		    i == 1 ? THIRD_ID : OTHER_ID);
		if (i == 0)	/* another ticket */
			snprintf(open.ticket, sizeof(open.ticket), "%032x", 1);
		else		/* a peer that is not linked */
			memcpy(open.ticket, peers[0].ticket,
			    sizeof(open.ticket));
		if (i == 2)	/* none at all */
			open.ticket[0] = '\0';
		new_link(&peers[1], 0);
		ck_assert_int_eq(msg_send_peer_xfer_open(&peers[1].mc, &open),
		    0);
		tu_spin(loop, &peers[1].closed, SPIN_MAX);
		ck_assert_msg(peers[1].closed == 1, "open %d accepted", i);
		msgconn_close(&peers[1].mc);
	}
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(count_type(&sup, MSG_NET_HANDOFF), 0);
	/* The linked peer's own ticket: handed to the transfer worker. */
	snprintf(open.peer_id, sizeof(open.peer_id), "%s", OTHER_ID);
	memcpy(open.ticket, peers[0].ticket, sizeof(open.ticket));
	new_link(&peers[1], 0);
	ck_assert_int_eq(msg_send_peer_xfer_open(&peers[1].mc, &open), 0);
	for (i = 0; i < SPIN_MAX && count_type(&sup, MSG_NET_HANDOFF) == 0;
	    i++)
		tu_spin(loop, NULL, 1);
	ck_assert_int_eq(count_type(&sup, MSG_NET_HANDOFF), 1);
	ck_assert_int_eq(peers[0].closed, 0);
}
END_TEST

/*
 * Our secret key stays with the supervisor: net is told only the public
 * one, asks for each proof it sends, and goes no further without one.
 */
START_TEST(proofs_are_signed_by_the_supervisor_and_a_refusal_closes_the_link)
{
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	ck_assert_int_eq(signs_asked, 1);	/* our ack's proof */
	refuse_signs = 1;
	new_link(&peers[1], 0);
	send_hello(&peers[1], MSG_PEER_HELLO, PEER_PROTO_VERSION, THIRD_ID,
	    "third", "127.0.0.10:4001", NULL, 0);
	tu_spin(loop, &peers[1].closed, SPIN_MAX);
	ck_assert_int_eq(peers[1].closed, 1);
	ck_assert_int_eq(signs_asked, 2);
	ck_assert_int_eq(count_type(&peers[1], MSG_PEER_HELLO_ACK), 0);
	ck_assert_int_eq(peers[0].closed, 0);
}
END_TEST

/* identity.c: the derivation and what a proof binds. */
START_TEST(peer_id_is_the_first_half_of_sha256_of_the_public_key)
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		 want[PEER_ID_SIZE];
	unsigned char	 pk[IDENTITY_PK_LEN];
	size_t		 i;

	test_keys();
	crypto_hash_sha256(h, other_key.pk, sizeof(other_key.pk));
	for (i = 0; i < PEER_ID_LEN / 2; i++)
		snprintf(want + 2 * i, 3, "%02x", h[i]);
	ck_assert_str_eq(other_key.peer_id, want);
	ck_assert(peer_id_is_valid(other_key.peer_id));
	ck_assert_int_eq(identity_id_matches_key(other_key.peer_id,
	    other_key.pk_hex, pk), 1);
	ck_assert_int_eq(identity_id_matches_key(third_key.peer_id,
	    other_key.pk_hex, pk), 0);
	ck_assert_int_eq(identity_id_matches_key(other_key.peer_id,
	    "nothex", pk), 0);
}
END_TEST

START_TEST(proof_verifies_only_for_its_role_challenge_ids_and_key)
{
	char	 c[IDENTITY_CHALLENGE_HEX], c2[IDENTITY_CHALLENGE_HEX];
	char	 proof[IDENTITY_SIG_HEX];

	test_keys();
	identity_new_challenge(c);
	identity_new_challenge(c2);
	ck_assert_str_ne(c, c2);
	ck_assert_int_eq(identity_sign_hello(&other_key, HELLO_ROLE_DIALLER,
	    c, our_key.peer_id, proof), 0);
	ck_assert_int_eq(identity_verify_hello(other_key.pk,
	    HELLO_ROLE_DIALLER, c, other_key.peer_id, our_key.peer_id,
	    proof), 0);
	ck_assert_int_eq(identity_verify_hello(other_key.pk,
	    HELLO_ROLE_LISTENER, c, other_key.peer_id, our_key.peer_id,
	    proof), -1);
	ck_assert_int_eq(identity_verify_hello(other_key.pk,
	    HELLO_ROLE_DIALLER, c2, other_key.peer_id, our_key.peer_id,
	    proof), -1);
	ck_assert_int_eq(identity_verify_hello(other_key.pk,
	    HELLO_ROLE_DIALLER, c, other_key.peer_id, third_key.peer_id,
	    proof), -1);
	ck_assert_int_eq(identity_verify_hello(third_key.pk,
	    HELLO_ROLE_DIALLER, c, other_key.peer_id, our_key.peer_id,
	    proof), -1);
	proof[0] = proof[0] == '0' ? '1' : '0';
	ck_assert_int_eq(identity_verify_hello(other_key.pk,
	    HELLO_ROLE_DIALLER, c, other_key.peer_id, our_key.peer_id,
	    proof), -1);
}
END_TEST

START_TEST(bad_hello_on_one_link_leaves_other_peers_alone)
{
	bring_up(&peers[0], THIRD_ID, PEER_ADDR);
	new_link(&peers[1], 0);
	send_hello(&peers[1], MSG_PEER_HELLO, PEER_PROTO_VERSION + 7,
	    OTHER_ID, "other", "127.0.0.10:4001", NULL, 0);
	tu_spin(loop, &peers[1].closed, SPIN_MAX);
	ck_assert_int_eq(peers[1].closed, 1);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(peers[0].closed, 0);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 0);
	ck_assert_int_eq(net->nlinks, 1);
}
END_TEST

/*
 * KNOWN BUG (reported, left failing on purpose): handshake_recv_hello()
 * drops the peer's existing LINK_UP link ("replaced by a newer link",
 * state forced to LINK_HELLO so no PEER_DOWN) before it has checked the
 * new hello's library; when forward_games() then refuses that library the
 * new link is dropped too, also without PEER_DOWN. The supervisor is left
 * with a peer it believes connected and no link to it. Either outcome
 * below would be consistent; the code gives neither.
 */
START_TEST(rejected_hello_never_leaves_a_stale_peer_up)
{
	struct game_entry g[1];

	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	g[0] = game("../x", "1", "Ready", 1, 0, 1);
	new_link(&peers[1], 0);
	send_hello(&peers[1], MSG_PEER_HELLO, PEER_PROTO_VERSION, OTHER_ID,
	    "other", "127.0.0.10:4001", g, 1);
	tu_spin(loop, &peers[1].closed, SPIN_MAX);
	ck_assert_int_eq(peers[1].closed, 1);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_UP), 1);
	ck_assert_msg(peers[0].closed == 0 ||
	    count_type(&sup, MSG_NET_PEER_DOWN) == 1,
	    "the good link of %s was closed (%s) and the supervisor was not "
	    "told: it still counts the peer as up", OTHER_ID,
	    peers[0].closed ? peers[0].why : "open");
}
END_TEST

/* bounds */

/* Writes a bare frame header announcing len body bytes on e's link. */
static void
send_header(struct end *e, uint32_t type, uint32_t len)
{
	struct msg_header hdr;

	hdr.type = htole32(type);
	hdr.flags = 0;
	hdr.len = htole32(len);
	ck_assert_int_eq(write(e->mc.fd, &hdr, sizeof(hdr)),
	    (ssize_t)sizeof(hdr));
}

START_TEST(frame_before_the_hello_over_a_few_kib_closes_the_link)
{
	static const uint32_t types[] = {
		MSG_PEER_PING, MSG_PEER_XFER_OPEN, 0xdeadbeef,
	};
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		new_link(&peers[i], 0);
		send_header(&peers[i], types[i], NET_PREHELLO_FRAME_MAX + 1);
		assert_refused_silently(&peers[i]);
	}
}
END_TEST

/* Before the link is up a library comes only with a proof (or an ack). */
START_TEST(hello_as_large_as_a_library_waits_for_its_body)
{
	new_link(&peers[0], 0);
	send_header(&peers[0], MSG_PEER_HELLO_PROOF, NET_LIBRARY_FRAME_MAX);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(peers[0].closed, 0);
	ck_assert_int_eq(net->nlinks, 1);
}
END_TEST

START_TEST(hello_larger_than_any_library_closes_the_link)
{
	new_link(&peers[0], 0);
	send_header(&peers[0], MSG_PEER_HELLO_PROOF, NET_LIBRARY_FRAME_MAX + 1);
	assert_refused_silently(&peers[0]);
}
END_TEST

/* A hello carries no library: it is a small frame. */
START_TEST(hello_over_a_few_kib_closes_the_link)
{
	new_link(&peers[0], 0);
	send_header(&peers[0], MSG_PEER_HELLO, NET_PREHELLO_FRAME_MAX + 1);
	assert_refused_silently(&peers[0]);
}
END_TEST

START_TEST(frame_after_up_larger_than_any_library_drops_the_peer)
{
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
	send_header(&peers[0], MSG_PEER_LIBRARY, NET_LIBRARY_FRAME_MAX + 1);
	tu_spin(loop, &peers[0].closed, SPIN_MAX);
	ck_assert_int_eq(peers[0].closed, 1);
	spin_until_nrec(&sup, 2);
	ck_assert_int_eq(count_type(&sup, MSG_NET_PEER_DOWN), 1);
}
END_TEST

/* The largest library any peer may send fits in the frame an ack gets. */
START_TEST(hello_with_the_largest_library_fits_the_hello_limit)
{
	struct peer_hello_ack h;
	char		*frame = NULL;
	size_t		 len = 0, i;

	memset(&h, 0, sizeof(h));
	h.proto = PEER_PROTO_VERSION;
	memset(h.peer_id, 'f', PEER_ID_LEN);
	memset(h.name, 'n', sizeof(h.name) - 1);
	memset(h.addr, '1', sizeof(h.addr) - 1);
	memset(h.public_key, 'f', sizeof(h.public_key) - 1);
	memset(h.challenge, 'f', sizeof(h.challenge) - 1);
	memset(h.proof, 'f', sizeof(h.proof) - 1);
	h.ngames = GAMELIST_MAX;
	h.games = calloc(h.ngames, sizeof(*h.games));
	ck_assert_ptr_nonnull(h.games);
	for (i = 0; i < h.ngames; i++) {
		memset(h.games[i].id, 'g', sizeof(h.games[i].id) - 1);
		memset(h.games[i].version, 'v', sizeof(h.games[i].version) - 1);
		snprintf(h.games[i].availability,
		    sizeof(h.games[i].availability), "LocalOnly");
		h.games[i].size = UINT64_MAX;
		h.games[i].downloaded = h.games[i].installed = 1;
	}
	ck_assert_int_eq(msg_frame_peer_hello_ack(&h, &frame, &len), 0);
	ck_assert_uint_le(len - sizeof(struct msg_header),
	    NET_LIBRARY_FRAME_MAX);
	free(frame);
	free(h.games);
}
END_TEST

/* A hello header on a new inbound link; the test keeps the far end. */
static int
half_sent_hello(uint32_t len)
{
	struct msg_header hdr;
	int		 pv[2];

	tu_socketpair(pv);
	ck_assert_ptr_nonnull(net_link_new(net, pv[0], 0));
	hdr.type = htole32(MSG_PEER_HELLO_PROOF);
	hdr.flags = 0;
	hdr.len = htole32(len);
	ck_assert_int_eq(write(pv[1], &hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	tu_spin(loop, NULL, 2);
	return pv[1];
}

START_TEST(large_frames_in_flight_share_one_budget)
{
	enum { N = NET_LARGE_FRAMES_MAX / NET_LIBRARY_FRAME_MAX + 1 };
	int	 far[N], i;
	char	 b;

	for (i = 0; i < N; i++)
		far[i] = half_sent_hello(NET_LIBRARY_FRAME_MAX);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(net->nlinks, N - 1);
	ck_assert_uint_eq(net->large_frames, NET_LARGE_FRAMES_MAX);
	/* The last one did not fit: closed. */
	ck_assert_int_eq(recv(far[N - 1], &b, 1, MSG_DONTWAIT), 0);
	/* A link that goes frees its share; a small hello always fits. */
	close(far[0]);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_uint_eq(net->large_frames,
	    NET_LARGE_FRAMES_MAX - NET_LIBRARY_FRAME_MAX);
	for (i = 1; i < N; i++)
		close(far[i]);
	tu_spin(loop, NULL, SETTLE);
	ck_assert_int_eq(net->nlinks, 0);
	ck_assert_uint_eq(net->large_frames, 0);
	bring_up(&peers[0], OTHER_ID, PEER_ADDR);
}
END_TEST

/* Links from host, made up (socketpairs have no address), in state. */
static void
links_from(const char *host, int n, enum link_state state)
{
	int	 i, pv[2];

	for (i = 0; i < n; i++) {
		struct link	*l;

		tu_socketpair(pv);
		ck_assert_ptr_nonnull(l = net_link_new(net, pv[0], 0));
		close(pv[1]);
		snprintf(l->host, sizeof(l->host), "%s", host);
		l->state = state;
	}
}

START_TEST(host_gets_a_few_links_waiting_for_a_hello)
{
	links_from("192.0.2.1", NET_PREHELLO_PER_HOST - 1, LINK_HELLO);
	ck_assert_ptr_null(net_admit_inbound(net, "192.0.2.1"));
	links_from("192.0.2.1", 1, LINK_HELLO);
	ck_assert_str_eq(net_admit_inbound(net, "192.0.2.1"),
	    "too many links from that host without a hello");
	ck_assert_ptr_null(net_admit_inbound(net, "192.0.2.2"));
}
END_TEST

START_TEST(host_gets_a_few_links_at_all)
{
	links_from("192.0.2.1", NET_LINKS_PER_HOST, LINK_UP);
	ck_assert_str_eq(net_admit_inbound(net, "192.0.2.1"),
	    "too many links from that host");
	ck_assert_ptr_null(net_admit_inbound(net, "192.0.2.2"));
}
END_TEST

START_TEST(every_host_together_gets_a_bounded_number_waiting)
{
	char	 host[32];
	int	 i;

	for (i = 0; i < NET_PREHELLO_MAX / NET_PREHELLO_PER_HOST; i++) {
		snprintf(host, sizeof(host), "192.0.2.%d", i + 1);
		links_from(host, NET_PREHELLO_PER_HOST, LINK_HELLO);
	}
	ck_assert_str_eq(net_admit_inbound(net, "198.51.100.1"),
	    "too many links without a hello");
}
END_TEST

static Suite *
handshake_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("handshake");

	tc = tu_tcase(s, "hello", NULL, NULL, net_setup, net_teardown);
	tcase_add_test(tc, inbound_hello_from_self_is_ignored);
	tcase_add_test(tc,
	    inbound_hello_from_another_peer_is_acked_and_reported_up);
	tcase_add_test(tc, ack_carries_our_library_once_the_supervisor_sent_it);
	tcase_add_test(tc, hello_with_another_protocol_version_closes_the_link);
	tcase_add_test(tc, hello_without_a_protocol_version_closes_the_link);
	tcase_add_test(tc, frame_other_than_hello_first_closes_the_link);
	tcase_add_test(tc, hello_with_a_bad_game_id_closes_the_link);
	tcase_add_test(tc, hello_with_a_bad_library_entry_closes_the_link);
	tcase_add_test(tc,
	    hello_with_malformed_identity_fields_closes_the_link);

	tc = tu_tcase(s, "up", NULL, NULL, net_setup, net_teardown);
	tcase_add_test(tc, goodbye_after_up_reports_peer_down);
	tcase_add_test(tc, peer_closing_its_end_after_up_reports_peer_down);
	tcase_add_test(tc, library_update_after_up_is_forwarded_checked);
	tcase_add_test(tc, ping_after_up_is_answered_with_pong);
	tcase_add_test(tc, unknown_frame_after_up_drops_the_peer);

	tc = tu_tcase(s, "links", NULL, NULL, net_setup, net_teardown);
	tcase_add_test(tc, outbound_link_takes_an_ack_and_sends_none_back);
	tcase_add_test(tc, outbound_link_refuses_a_hello_instead_of_an_ack);
	tcase_add_test(tc,
	    newcomer_claiming_a_linked_id_is_refused_and_the_link_stays);
	tcase_add_test(tc,
	    hello_whose_id_is_not_derived_from_its_key_is_refused);
	tcase_add_test(tc, dialler_without_the_secret_key_is_never_reported_up);
	tcase_add_test(tc,
	    impersonator_of_a_peer_we_dialled_is_refused_and_the_link_stays);
	tcase_add_test(tc, listener_ack_without_a_valid_proof_is_refused);
	tcase_add_test(tc, transfer_link_needs_the_ticket_of_a_linked_peer);
	tcase_add_test(tc,
	    proofs_are_signed_by_the_supervisor_and_a_refusal_closes_the_link);
	tcase_add_test(tc,
	    peer_id_is_the_first_half_of_sha256_of_the_public_key);
	tcase_add_test(tc,
	    proof_verifies_only_for_its_role_challenge_ids_and_key);
	tcase_add_test(tc, bad_hello_on_one_link_leaves_other_peers_alone);
	tcase_add_test(tc, rejected_hello_never_leaves_a_stale_peer_up);

	tc = tu_tcase(s, "bounds", NULL, NULL, net_setup, net_teardown);
	tcase_add_test(tc,
	    frame_before_the_hello_over_a_few_kib_closes_the_link);
	tcase_add_test(tc, hello_as_large_as_a_library_waits_for_its_body);
	tcase_add_test(tc, hello_larger_than_any_library_closes_the_link);
	tcase_add_test(tc, hello_over_a_few_kib_closes_the_link);
	tcase_add_test(tc,
	    frame_after_up_larger_than_any_library_drops_the_peer);
	tcase_add_test(tc, hello_with_the_largest_library_fits_the_hello_limit);
	tcase_add_test(tc, large_frames_in_flight_share_one_budget);
	tcase_add_test(tc, host_gets_a_few_links_waiting_for_a_hello);
	tcase_add_test(tc, host_gets_a_few_links_at_all);
	tcase_add_test(tc, every_host_together_gets_a_bounded_number_waiting);

	return s;
}

int
main(void)
{
	return tu_run_suite(handshake_suite());
}
