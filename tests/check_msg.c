/*
 * Check suite for common/msg.c: framed MessagePack over non-blocking
 * sockets on a libev loop, the field getters, descriptor passing, and the
 * refusal of every malformed frame a peer or a worker could send.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <msgpack.h>

#include "common/msg.h"
#include "tests/testutil.h"

#define MAXRX		64
#define SPIN_MAX	200

/* What one end of the link saw; fields are copied out of on_msg. */
struct rx {
	struct msgconn	 mc;
	int		 nmsgs;
	uint32_t	 type[MAXRX];
	int		 fd[MAXRX];
	uint64_t	 seq[MAXRX];
	char		 str[MAXRX][64];
	uint64_t	 u64[MAXRX];
	int		 flag_t[MAXRX];
	int		 flag_f[MAXRX];
	int		 closed;
	char		 why[128];
};

static struct ev_loop	*loop;
static int		 sv[2] = { -1, -1 };
static struct rx	 rxa, rxb;	/* rxa on sv[0], rxb on sv[1] */

static Suite	*msg_suite(void);

static void
rx_msg(struct msgconn *c, struct msg *m)
{
	struct rx	*rx = c->arg;
	int		 i = rx->nmsgs;

	ck_assert_int_lt(i, MAXRX);
	rx->type[i] = m->type;
	rx->fd[i] = msg_take_fd(m);
	rx->seq[i] = UINT64_MAX;
	rx->str[i][0] = '\0';
	rx->flag_t[i] = rx->flag_f[i] = -1;
	(void)mp_get_u64(m->body, "seq", &rx->seq[i]);
	(void)mp_get_str(m->body, "s", rx->str[i], sizeof(rx->str[i]));
	(void)mp_get_u64(m->body, "n", &rx->u64[i]);
	(void)mp_get_bool(m->body, "t", &rx->flag_t[i]);
	(void)mp_get_bool(m->body, "f", &rx->flag_f[i]);
	rx->nmsgs++;
}

static void
rx_close(struct msgconn *c, const char *why)
{
	struct rx	*rx = c->arg;

	rx->closed++;
	snprintf(rx->why, sizeof(rx->why), "%s", why);
}

/* Checked fixture: a fresh loop and socketpair per test. */
static void
link_setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	tu_socketpair(sv);
	memset(&rxa, 0, sizeof(rxa));
	memset(&rxb, 0, sizeof(rxb));
}

static void
link_teardown(void)
{
	if (rxa.mc.loop != NULL)
		msgconn_close(&rxa.mc);
	else if (sv[0] != -1)
		close(sv[0]);
	if (rxb.mc.loop != NULL)
		msgconn_close(&rxb.mc);
	else if (sv[1] != -1)
		close(sv[1]);
	sv[0] = sv[1] = -1;
	ev_loop_destroy(loop);
	loop = NULL;
}

/* Both ends framed: rxa sends, rxb receives. */
static void
framed_both(int allow_fds)
{
	msgconn_init(&rxa.mc, loop, sv[0], allow_fds, rx_msg, rx_close, &rxa);
	msgconn_init(&rxb.mc, loop, sv[1], allow_fds, rx_msg, rx_close, &rxb);
}

/* Only rxb framed; the test writes raw bytes into sv[0]. */
static void
framed_receiver(int allow_fds)
{
	msgconn_init(&rxb.mc, loop, sv[1], allow_fds, rx_msg, rx_close, &rxb);
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* A raw frame into buf: header little-endian, then body as given. */
static size_t
raw_frame(unsigned char *buf, size_t size, uint32_t type, uint32_t flags,
    uint32_t len, const void *body, size_t bodylen)
{
	ck_assert_uint_le(12 + bodylen, size);
	put_le32(buf, type);
	put_le32(buf + 4, flags);
	put_le32(buf + 8, len);
	if (bodylen > 0)
		memcpy(buf + 12, body, bodylen);
	return 12 + bodylen;
}

static void
write_all(int fd, const void *p, size_t len)
{
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
}

/* A raw frame whose header announces exactly the body given. */
static void
write_frame(int fd, uint32_t type, uint32_t flags, const void *body,
    size_t len)
{
	unsigned char	 buf[4096];
	size_t		 n;

	n = raw_frame(buf, sizeof(buf), type, flags, len, body, len);
	write_all(fd, buf, n);
}

/* {"seq": seq} packed by msgpack-c itself, not by the code under test. */
static void
pack_seq(msgpack_sbuffer *sb, uint64_t seq)
{
	msgpack_packer	 pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "seq", 3);
	msgpack_pack_uint64(&pk, seq);
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* A bad frame must close the link, tell why, and hand nothing out. */
static void
assert_refused(const char *why)
{
	tu_spin(loop, &rxb.closed, SPIN_MAX);
	ck_assert_msg(rxb.closed == 1, "link still open (want \"%s\")", why);
	ck_assert_str_eq(rxb.why, why);
	ck_assert_int_eq(rxb.nmsgs, 0);
	ck_assert_int_eq(rxb.mc.fd, -1);
	/* The other end sees the close. */
	{
		char	 c;

		ck_assert_int_eq(read(sv[0], &c, 1), 0);
	}
}

/* round trips */

START_TEST(str_u64_and_bool_fields_round_trip)
{
	struct msgout	 m;

	framed_both(0);
	msgout_init(&m, MSG_NET_PEER_UP, 5);
	msgout_str(&m, "s", "hello, peer");
	msgout_u64(&m, "n", UINT64_MAX);
	msgout_bool(&m, "t", 1);
	msgout_bool(&m, "f", 0);
	msgout_u64(&m, "seq", 0);
	ck_assert_int_eq(msgconn_send(&rxa.mc, &m, -1), 0);
	tu_spin(loop, &rxb.nmsgs, SPIN_MAX);

	ck_assert_int_eq(rxb.nmsgs, 1);
	ck_assert_uint_eq(rxb.type[0], MSG_NET_PEER_UP);
	ck_assert_int_eq(rxb.fd[0], -1);
	ck_assert_str_eq(rxb.str[0], "hello, peer");
	ck_assert(rxb.u64[0] == UINT64_MAX);
	ck_assert_int_eq(rxb.flag_t[0], 1);
	ck_assert_int_eq(rxb.flag_f[0], 0);
	ck_assert(rxb.seq[0] == 0);
	ck_assert_int_eq(rxb.closed, 0);
	ck_assert_int_eq(rxa.nmsgs, 0);
}
END_TEST

START_TEST(empty_message_round_trips_with_its_type)
{
	framed_both(0);
	ck_assert_int_eq(msgconn_send_empty(&rxa.mc, MSG_PEER_PING), 0);
	ck_assert_int_eq(msgconn_send_empty(&rxb.mc, MSG_PEER_PONG), 0);
	tu_spin(loop, &rxb.nmsgs, SPIN_MAX);
	tu_spin(loop, &rxa.nmsgs, SPIN_MAX);
	ck_assert_int_eq(rxb.nmsgs, 1);
	ck_assert_uint_eq(rxb.type[0], MSG_PEER_PING);
	ck_assert_int_eq(rxa.nmsgs, 1);
	ck_assert_uint_eq(rxa.type[0], MSG_PEER_PONG);
}
END_TEST

START_TEST(frames_go_out_with_a_little_endian_header)
{
	unsigned char	 buf[256];
	struct msgout	 m;
	ssize_t		 n;

	msgconn_init(&rxa.mc, loop, sv[0], 0, rx_msg, rx_close, &rxa);
	msgout_init(&m, MSG_XFER_HELLO, 1);
	msgout_str(&m, "games_dir", "/g");
	ck_assert_int_eq(msgconn_send(&rxa.mc, &m, -1), 0);
	n = read(sv[1], buf, sizeof(buf));
	ck_assert_int_gt(n, 12);
	ck_assert_uint_eq(get_le32(buf), MSG_XFER_HELLO);
	ck_assert_uint_eq(get_le32(buf + 4), 0);
	ck_assert_uint_eq(get_le32(buf + 8), (uint32_t)n - 12);
	/* fixmap of 1, fixstr "games_dir", fixstr "/g" */
	ck_assert_uint_eq(buf[12], 0x81);
	ck_assert_uint_eq(buf[13], 0xa9);
	ck_assert_int_eq(memcmp(buf + 14, "games_dir", 9), 0);
	ck_assert_uint_eq(buf[23], 0xa2);
	ck_assert_int_eq(memcmp(buf + 24, "/g", 2), 0);
	ck_assert_int_eq(n, 26);
}
END_TEST

START_TEST(messages_sent_in_one_burst_arrive_in_order)
{
	struct msgout	 m;
	uint64_t	 i;

	framed_both(0);
	/* No loop turn in between: they pile up in the socket. */
	for (i = 0; i < 50; i++) {
		msgout_init(&m, MSG_PEER_LIBRARY, 1);
		msgout_u64(&m, "seq", i);
		ck_assert_int_eq(msgconn_send(&rxa.mc, &m, -1), 0);
	}
	for (i = 0; i < SPIN_MAX && rxb.nmsgs < 50; i++)
		tu_spin(loop, NULL, 1);
	ck_assert_int_eq(rxb.nmsgs, 50);
	for (i = 0; i < 50; i++) {
		ck_assert_uint_eq(rxb.type[i], MSG_PEER_LIBRARY);
		ck_assert_msg(rxb.seq[i] == i, "message %d has seq %llu",
		    (int)i, (unsigned long long)rxb.seq[i]);
	}
	ck_assert_int_eq(rxb.closed, 0);
}
END_TEST

START_TEST(frames_in_a_single_write_are_all_handed_out)
{
	unsigned char	 buf[1024];
	msgpack_sbuffer	 sb;
	size_t		 off = 0;
	uint64_t	 i;

	framed_receiver(0);
	for (i = 0; i < 5; i++) {
		pack_seq(&sb, 100 + i);
		off += raw_frame(buf + off, sizeof(buf) - off,
		    MSG_NET_LIBRARY + (uint32_t)i, 0, sb.size, sb.data,
		    sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	write_all(sv[0], buf, off);
	tu_spin(loop, NULL, 5);
	ck_assert_int_eq(rxb.nmsgs, 5);
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(rxb.type[i], MSG_NET_LIBRARY + i);
		ck_assert(rxb.seq[i] == 100 + i);
	}
	ck_assert_int_eq(rxb.closed, 0);
}
END_TEST

START_TEST(frame_written_byte_by_byte_is_reassembled)
{
	unsigned char	 buf[256];
	msgpack_sbuffer	 sb;
	size_t		 n, i;

	framed_receiver(0);
	pack_seq(&sb, 4242);
	n = raw_frame(buf, sizeof(buf), MSG_PEER_PONG, 0, sb.size, sb.data,
	    sb.size);
	/* The same frame twice, so leftovers after the first are kept. */
	memcpy(buf + n, buf, n);
	msgpack_sbuffer_destroy(&sb);
	for (i = 0; i < 2 * n; i++) {
		write_all(sv[0], buf + i, 1);
		tu_spin(loop, NULL, 2);
		if (i < n - 1)
			ck_assert_int_eq(rxb.nmsgs, 0);
		else if (i < 2 * n - 1)
			ck_assert_int_eq(rxb.nmsgs, 1);
	}
	ck_assert_int_eq(rxb.nmsgs, 2);
	ck_assert_uint_eq(rxb.type[0], MSG_PEER_PONG);
	ck_assert(rxb.seq[0] == 4242);
	ck_assert(rxb.seq[1] == 4242);
	ck_assert_int_eq(rxb.closed, 0);
}
END_TEST

START_TEST(peer_closing_its_end_is_reported_once)
{
	framed_receiver(0);
	close(sv[0]);
	sv[0] = -1;
	tu_spin(loop, &rxb.closed, SPIN_MAX);
	tu_spin(loop, NULL, 5);
	ck_assert_int_eq(rxb.closed, 1);
	ck_assert_str_eq(rxb.why, "connection closed");
	ck_assert_int_eq(rxb.mc.fd, -1);
}
END_TEST

/* descriptors */

START_TEST(descriptor_sent_along_arrives_as_the_same_file)
{
	struct msgout	 m;
	struct stat	 sent, got;
	char		 c = 0;
	int		 p[2];

	framed_both(1);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ck_assert_int_eq(fstat(p[1], &sent), 0);
	msgout_init(&m, MSG_XFER_HELLO, 1);
	msgout_u64(&m, "seq", 7);
	ck_assert_int_eq(msgconn_send(&rxa.mc, &m, p[1]), 0);
	tu_spin(loop, &rxb.nmsgs, SPIN_MAX);

	ck_assert_int_eq(rxb.nmsgs, 1);
	ck_assert(rxb.seq[0] == 7);
	ck_assert_int_ge(rxb.fd[0], 0);
	/*
	 * The sender's copy is consumed once it went out; the number may
	 * since have been reused for the very descriptor that arrived.
	 */
	ck_assert(!fd_is_open(p[1]) || rxb.fd[0] == p[1]);
	ck_assert_int_eq(fstat(rxb.fd[0], &got), 0);
	ck_assert(got.st_ino == sent.st_ino && got.st_dev == sent.st_dev);
	ck_assert(fcntl(rxb.fd[0], F_GETFD) & FD_CLOEXEC);
	/* Write through what arrived, read from the pipe's other end. */
	ck_assert_int_eq(write(rxb.fd[0], "z", 1), 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'z');
	close(rxb.fd[0]);
	close(p[0]);
}
END_TEST

START_TEST(descriptors_stay_with_their_own_frames)
{
	struct msgout	 m;
	struct stat	 want[3], got;
	int		 p[3][2], i;

	framed_both(1);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(pipe2(p[i], O_CLOEXEC), 0);
		ck_assert_int_eq(fstat(p[i][0], &want[i]), 0);
		msgout_init(&m, MSG_INST_HELLO, 1);
		msgout_u64(&m, "seq", i);
		ck_assert_int_eq(msgconn_send(&rxa.mc, &m, p[i][0]), 0);
		/* A frame without one in between. */
		msgout_init(&m, MSG_INST_READY, 0);
		ck_assert_int_eq(msgconn_send(&rxa.mc, &m, -1), 0);
	}
	for (i = 0; i < SPIN_MAX && rxb.nmsgs < 6; i++)
		tu_spin(loop, NULL, 1);
	ck_assert_int_eq(rxb.nmsgs, 6);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(rxb.type[2 * i], MSG_INST_HELLO);
		ck_assert_int_ge(rxb.fd[2 * i], 0);
		ck_assert_int_eq(fstat(rxb.fd[2 * i], &got), 0);
		ck_assert(got.st_ino == want[i].st_ino);
		close(rxb.fd[2 * i]);
		ck_assert_uint_eq(rxb.type[2 * i + 1], MSG_INST_READY);
		ck_assert_int_eq(rxb.fd[2 * i + 1], -1);
		close(p[i][1]);
	}
}
END_TEST

START_TEST(frame_flagged_with_a_descriptor_but_without_one_closes_the_link)
{
	msgpack_sbuffer	 sb;

	framed_receiver(1);
	pack_seq(&sb, 1);
	write_frame(sv[0], MSG_XFER_HELLO, MSG_F_FD, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	assert_refused("descriptor missing");
}
END_TEST

START_TEST(link_without_descriptors_refuses_a_frame_carrying_one)
{
	struct msgout	 m;
	int		 p[2];

	msgconn_init(&rxa.mc, loop, sv[0], 1, rx_msg, rx_close, &rxa);
	framed_receiver(0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	msgout_init(&m, MSG_XFER_HELLO, 0);
	ck_assert_int_eq(msgconn_send(&rxa.mc, &m, p[1]), 0);
	/* The descriptor was dropped by the kernel: the write end is gone. */
	tu_spin(loop, &rxb.closed, SPIN_MAX);
	ck_assert_int_eq(rxb.closed, 1);
	ck_assert_str_eq(rxb.why, "descriptor missing");
	ck_assert_int_eq(rxb.nmsgs, 0);
	{
		char	 c;

		ck_assert_int_eq(read(p[0], &c, 1), 0);
	}
	close(p[0]);
}
END_TEST

/* malformed frames */

START_TEST(oversized_header_closes_before_any_body_arrives)
{
	unsigned char	 hdr[12];

	framed_receiver(0);
	raw_frame(hdr, sizeof(hdr), MSG_PEER_LIBRARY, 0, UINT32_MAX, NULL, 0);
	write_all(sv[0], hdr, sizeof(hdr));
	assert_refused("oversized PEER_LIBRARY frame: 4294967295 bytes, at "
	    "most 16777216 here");
}
END_TEST

START_TEST(header_one_byte_over_the_limit_is_oversized)
{
	unsigned char	 hdr[12];

	framed_receiver(0);
	raw_frame(hdr, sizeof(hdr), MSG_PEER_LIBRARY, 0, MSG_MAX_BODY + 1,
	    NULL, 0);
	write_all(sv[0], hdr, sizeof(hdr));
	assert_refused("oversized PEER_LIBRARY frame: 16777217 bytes, at "
	    "most 16777216 here");
}
END_TEST

START_TEST(header_at_the_limit_waits_for_its_body)
{
	unsigned char	 hdr[12];

	framed_receiver(0);
	raw_frame(hdr, sizeof(hdr), MSG_PEER_LIBRARY, 0, MSG_MAX_BODY, NULL,
	    0);
	write_all(sv[0], hdr, sizeof(hdr));
	write_all(sv[0], "\x80", 1);
	tu_spin(loop, NULL, 20);
	ck_assert_int_eq(rxb.closed, 0);
	ck_assert_int_eq(rxb.nmsgs, 0);
	ck_assert_int_ne(rxb.mc.fd, -1);
}
END_TEST

/* Small frames but for hellos, as a peer link has before its hello. */
static size_t
hello_sized_limit(const struct msgconn *c, uint32_t type, uint32_t len)
{
	(void)c;
	(void)len;
	return type == MSG_PEER_HELLO ? 1000 : 100;
}

START_TEST(limit_by_type_refuses_a_frame_at_its_header)
{
	unsigned char	 hdr[12];

	framed_receiver(0);
	rxb.mc.body_limit = hello_sized_limit;
	raw_frame(hdr, sizeof(hdr), MSG_PEER_PING, 0, 101, NULL, 0);
	write_all(sv[0], hdr, sizeof(hdr));
	assert_refused("oversized PEER_PING frame: 101 bytes, at most 100 "
	    "here");
}
END_TEST

START_TEST(limit_by_type_lets_a_larger_frame_of_another_type_wait)
{
	unsigned char	 hdr[12];

	framed_receiver(0);
	rxb.mc.body_limit = hello_sized_limit;
	raw_frame(hdr, sizeof(hdr), MSG_PEER_HELLO, 0, 1000, NULL, 0);
	write_all(sv[0], hdr, sizeof(hdr));
	write_all(sv[0], "\x80", 1);
	tu_spin(loop, NULL, 20);
	ck_assert_int_eq(rxb.closed, 0);
	ck_assert_int_ne(rxb.mc.fd, -1);
}
END_TEST

START_TEST(limit_by_type_never_exceeds_the_link_maximum)
{
	unsigned char	 hdr[12];

	framed_receiver(0);
	rxb.mc.max_body = 500;
	rxb.mc.body_limit = hello_sized_limit;
	raw_frame(hdr, sizeof(hdr), MSG_PEER_HELLO, 0, 501, NULL, 0);
	write_all(sv[0], hdr, sizeof(hdr));
	assert_refused("oversized PEER_HELLO frame: 501 bytes, at most 500 "
	    "here");
}
END_TEST

START_TEST(body_that_is_not_a_map_closes_the_link)
{
	static const unsigned char arr[] = { 0x92, 0x01, 0x02 };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_HELLO, 0, arr, sizeof(arr));
	assert_refused("frame body is not a map");
}
END_TEST

START_TEST(scalar_body_closes_the_link)
{
	static const unsigned char str[] = { 0xa3, 'a', 'b', 'c' };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_HELLO, 0, str, sizeof(str));
	assert_refused("frame body is not a map");
}
END_TEST

START_TEST(empty_body_closes_the_link)
{
	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_PING, 0, NULL, 0);
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(truncated_msgpack_closes_the_link)
{
	/* {"a": <value missing>} */
	static const unsigned char cut[] = { 0x81, 0xa1, 'a' };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_HELLO, 0, cut, sizeof(cut));
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(string_longer_than_its_frame_closes_the_link)
{
	static const unsigned char cut[] = { 0x81, 0xa1, 'a', 0xd9, 200, 'x' };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_HELLO, 0, cut, sizeof(cut));
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(map_claiming_four_billion_entries_in_five_bytes_is_refused)
{
	static const unsigned char big[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_LIBRARY, 0, big, sizeof(big));
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(nested_array_claiming_four_billion_entries_is_refused)
{
	/* {"g": array32 of 2^32-1} */
	static const unsigned char big[] = { 0x81, 0xa1, 'g', 0xdd, 0xff, 0xff,
	    0xff, 0xff, 0x01 };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_LIBRARY, 0, big, sizeof(big));
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(arrays_nested_one_hundred_deep_are_refused)
{
	unsigned char	 body[128];
	size_t		 n = 0;
	int		 i;

	framed_receiver(0);
	body[n++] = 0x81;
	body[n++] = 0xa1;
	body[n++] = 'a';
	for (i = 0; i < 100; i++)
		body[n++] = 0x91;	/* array of one */
	body[n++] = 0x01;
	write_frame(sv[0], MSG_PEER_LIBRARY, 0, body, n);
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(arrays_nested_a_few_deep_are_accepted)
{
	unsigned char	 body[32];
	size_t		 n = 0;
	int		 i;

	framed_receiver(0);
	body[n++] = 0x81;
	body[n++] = 0xa1;
	body[n++] = 'a';
	for (i = 0; i < 8; i++)
		body[n++] = 0x91;
	body[n++] = 0x01;
	write_frame(sv[0], MSG_PEER_LIBRARY, 0, body, n);
	tu_spin(loop, &rxb.nmsgs, SPIN_MAX);
	ck_assert_int_eq(rxb.nmsgs, 1);
	ck_assert_int_eq(rxb.closed, 0);
}
END_TEST

START_TEST(trailing_bytes_after_the_map_close_the_link)
{
	static const unsigned char two[] = { 0x80, 0x80 };

	framed_receiver(0);
	write_frame(sv[0], MSG_PEER_LIBRARY, 0, two, sizeof(two));
	assert_refused("malformed frame body");
}
END_TEST

START_TEST(bad_frame_after_good_ones_stops_the_rest)
{
	unsigned char	 buf[256];
	msgpack_sbuffer	 sb;
	size_t		 off = 0;

	framed_receiver(0);
	pack_seq(&sb, 1);
	off += raw_frame(buf + off, sizeof(buf) - off, MSG_PEER_PING, 0,
	    sb.size, sb.data, sb.size);
	off += raw_frame(buf + off, sizeof(buf) - off, MSG_PEER_PING, 0, 2,
	    "\x91\x01", 2);
	off += raw_frame(buf + off, sizeof(buf) - off, MSG_PEER_PING, 0,
	    sb.size, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	write_all(sv[0], buf, off);
	tu_spin(loop, &rxb.closed, SPIN_MAX);
	ck_assert_int_eq(rxb.closed, 1);
	ck_assert_str_eq(rxb.why, "frame body is not a map");
	ck_assert_int_eq(rxb.nmsgs, 1);
	ck_assert(rxb.seq[0] == 1);
}
END_TEST

/* getters */

/* Unpacks a body built with msgpack-c; up must be destroyed by the caller. */
static const msgpack_object *
unpack(msgpack_unpacked *up, const msgpack_sbuffer *sb)
{
	size_t	 off = 0;

	msgpack_unpacked_init(up);
	ck_assert_int_eq(msgpack_unpack_next(up, sb->data, sb->size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	return &up->data;
}

START_TEST(get_str_refuses_embedded_nul_and_what_does_not_fit)
{
	msgpack_unpacked up;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	const msgpack_object *o;
	char		 buf[6], big[7];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	mp_pack_str(&pk, "nul");
	msgpack_pack_str(&pk, 5);
	msgpack_pack_str_body(&pk, "ab\0cd", 5);
	mp_pack_str(&pk, "fits");
	mp_pack_str(&pk, "12345");
	mp_pack_str(&pk, "long");
	mp_pack_str(&pk, "123456");
	mp_pack_str(&pk, "num");
	msgpack_pack_uint64(&pk, 5);
	mp_pack_str(&pk, "bin");
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "abc", 3);
	o = unpack(&up, &sb);

	ck_assert_int_eq(mp_get_str(o, "fits", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "12345");
	errno = 0;
	ck_assert_int_eq(mp_get_str(o, "nul", buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Six bytes and a NUL do not fit in six. */
	ck_assert_int_eq(mp_get_str(o, "long", buf, sizeof(buf)), -1);
	ck_assert_int_eq(mp_get_str(o, "fits", buf, 5), -1);
	ck_assert_int_eq(mp_get_str(o, "num", buf, sizeof(buf)), -1);
	ck_assert_int_eq(mp_get_str(o, "bin", buf, sizeof(buf)), -1);
	ck_assert_int_eq(mp_get_str(o, "missing", buf, sizeof(buf)), -1);
	ck_assert_int_eq(mp_get_str(NULL, "fits", buf, sizeof(buf)), -1);
	ck_assert_int_eq(mp_get_str(o, "long", big, sizeof(big)), 0);
	ck_assert_str_eq(big, "123456");
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(getters_refuse_the_wrong_type_and_missing_keys)
{
	msgpack_unpacked up;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	const msgpack_object *o;
	uint64_t	 u = 99;
	int		 b = 99;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	mp_pack_str(&pk, "neg");
	msgpack_pack_int64(&pk, -1);
	mp_pack_str(&pk, "str");
	mp_pack_str(&pk, "1");
	mp_pack_str(&pk, "one");
	msgpack_pack_uint64(&pk, 1);
	mp_pack_str(&pk, "yes");
	msgpack_pack_true(&pk);
	mp_pack_str(&pk, "arr");
	msgpack_pack_array(&pk, 0);
	o = unpack(&up, &sb);

	ck_assert_ptr_nonnull(mp_field(o, "one"));
	ck_assert_ptr_null(mp_field(o, "on"));
	ck_assert_ptr_null(mp_field(o, "onex"));
	ck_assert_ptr_null(mp_field(mp_field(o, "one"), "one"));
	ck_assert_int_eq(mp_get_u64(o, "one", &u), 0);
	ck_assert(u == 1);
	ck_assert_int_eq(mp_get_u64(o, "neg", &u), -1);
	ck_assert_int_eq(mp_get_u64(o, "str", &u), -1);
	ck_assert_int_eq(mp_get_u64(o, "yes", &u), -1);
	ck_assert_int_eq(mp_get_u64(o, "nope", &u), -1);
	ck_assert(u == 1);
	ck_assert_int_eq(mp_get_bool(o, "yes", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(mp_get_bool(o, "one", &b), -1);
	ck_assert_int_eq(mp_get_bool(o, "str", &b), -1);
	ck_assert_int_eq(b, 1);
	ck_assert_ptr_nonnull(mp_get_array(o, "arr"));
	ck_assert_ptr_null(mp_get_array(o, "one"));
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* closing */

/* An owner that closes and frees its connection on the first message. */
struct owner {
	struct msgconn	 mc;
	int		*calls;
};

static void
owner_msg(struct msgconn *c, struct msg *m)
{
	struct owner	*o = c->arg;

	(*o->calls)++;
	if (m->fd != -1)
		close(m->fd);
	msgconn_close(c);
	free(o);
}

static void
owner_close(struct msgconn *c, const char *why)
{
	struct owner	*o = c->arg;

	(void)why;
	/* Must never run: the owner already closed (and freed) it. */
	(*o->calls) += 1000;
}

START_TEST(owner_may_close_and_free_from_inside_on_msg)
{
	unsigned char	 buf[512];
	msgpack_sbuffer	 sb;
	struct owner	*o;
	size_t		 off = 0;
	int		 calls = 0, i;
	char		 c;

	o = calloc(1, sizeof(*o));
	ck_assert_ptr_nonnull(o);
	o->calls = &calls;
	msgconn_init(&o->mc, loop, sv[1], 0, owner_msg, owner_close, o);
	sv[1] = -1;	/* closed by the owner */
	/* Three frames in one read: the later two must not be dispatched. */
	pack_seq(&sb, 1);
	for (i = 0; i < 3; i++)
		off += raw_frame(buf + off, sizeof(buf) - off, MSG_PEER_PING,
		    0, sb.size, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	write_all(sv[0], buf, off);
	tu_spin(loop, &calls, SPIN_MAX);
	tu_spin(loop, NULL, 10);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(read(sv[0], &c, 1), 0);
}
END_TEST

START_TEST(send_on_a_closed_conn_fails_and_closes_the_descriptor)
{
	struct msgout	 m;
	int		 p[2];

	framed_both(1);
	msgconn_close(&rxa.mc);
	ck_assert_int_eq(rxa.closed, 0);	/* the owner closed it */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	msgout_init(&m, MSG_XFER_HELLO, 1);
	msgout_str(&m, "s", "x");
	errno = 0;
	ck_assert_int_eq(msgconn_send(&rxa.mc, &m, p[1]), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert(!fd_is_open(p[1]));
	ck_assert_int_eq(msgconn_send_empty(&rxa.mc, MSG_PEER_PING), -1);
	/* Closing twice is harmless. */
	msgconn_close(&rxa.mc);
	close(p[0]);
	tu_spin(loop, &rxb.closed, SPIN_MAX);
	ck_assert_int_eq(rxb.closed, 1);
	ck_assert_int_eq(rxb.nmsgs, 0);
}
END_TEST

START_TEST(oversized_send_is_refused_and_closes_the_descriptor)
{
	struct msgout	 m;
	char		*big;
	int		 p[2];

	framed_both(1);
	big = malloc(MSG_MAX_BODY + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', MSG_MAX_BODY);
	big[MSG_MAX_BODY] = '\0';
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	msgout_init(&m, MSG_PEER_LIBRARY, 1);
	msgout_str(&m, "s", big);
	free(big);
	ck_assert_int_eq(msgconn_send(&rxa.mc, &m, p[1]), -1);
	ck_assert(!fd_is_open(p[1]));
	close(p[0]);
	/* The link itself is still usable. */
	ck_assert_int_eq(msgconn_send_empty(&rxa.mc, MSG_PEER_PING), 0);
	tu_spin(loop, &rxb.nmsgs, SPIN_MAX);
	ck_assert_int_eq(rxb.nmsgs, 1);
	ck_assert_uint_eq(rxb.type[0], MSG_PEER_PING);
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("msg");

	tc = tu_tcase(s, "round_trip", NULL, NULL, link_setup, link_teardown);
	tcase_add_test(tc, str_u64_and_bool_fields_round_trip);
	tcase_add_test(tc, empty_message_round_trips_with_its_type);
	tcase_add_test(tc, frames_go_out_with_a_little_endian_header);
	tcase_add_test(tc, messages_sent_in_one_burst_arrive_in_order);
	tcase_add_test(tc, frames_in_a_single_write_are_all_handed_out);
	tcase_add_test(tc, frame_written_byte_by_byte_is_reassembled);
	tcase_add_test(tc, peer_closing_its_end_is_reported_once);

	tc = tu_tcase(s, "descriptors", NULL, NULL, link_setup, link_teardown);
	tcase_add_test(tc, descriptor_sent_along_arrives_as_the_same_file);
	tcase_add_test(tc, descriptors_stay_with_their_own_frames);
	tcase_add_test(tc,
	    frame_flagged_with_a_descriptor_but_without_one_closes_the_link);
	tcase_add_test(tc,
	    link_without_descriptors_refuses_a_frame_carrying_one);

	tc = tu_tcase(s, "malformed", NULL, NULL, link_setup, link_teardown);
	tcase_add_test(tc, oversized_header_closes_before_any_body_arrives);
	tcase_add_test(tc, header_one_byte_over_the_limit_is_oversized);
	tcase_add_test(tc, header_at_the_limit_waits_for_its_body);
	tcase_add_test(tc, limit_by_type_refuses_a_frame_at_its_header);
	tcase_add_test(tc, limit_by_type_lets_a_larger_frame_of_another_type_wait);
	tcase_add_test(tc, limit_by_type_never_exceeds_the_link_maximum);
	tcase_add_test(tc, body_that_is_not_a_map_closes_the_link);
	tcase_add_test(tc, scalar_body_closes_the_link);
	tcase_add_test(tc, empty_body_closes_the_link);
	tcase_add_test(tc, truncated_msgpack_closes_the_link);
	tcase_add_test(tc, string_longer_than_its_frame_closes_the_link);
	tcase_add_test(tc,
	    map_claiming_four_billion_entries_in_five_bytes_is_refused);
	tcase_add_test(tc,
	    nested_array_claiming_four_billion_entries_is_refused);
	tcase_add_test(tc, arrays_nested_one_hundred_deep_are_refused);
	tcase_add_test(tc, arrays_nested_a_few_deep_are_accepted);
	tcase_add_test(tc, trailing_bytes_after_the_map_close_the_link);
	tcase_add_test(tc, bad_frame_after_good_ones_stops_the_rest);

	tc = tu_tcase(s, "getters", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, get_str_refuses_embedded_nul_and_what_does_not_fit);
	tcase_add_test(tc, getters_refuse_the_wrong_type_and_missing_keys);

	tc = tu_tcase(s, "closing", NULL, NULL, link_setup, link_teardown);
	tcase_add_test(tc, owner_may_close_and_free_from_inside_on_msg);
	tcase_add_test(tc,
	    send_on_a_closed_conn_fails_and_closes_the_descriptor);
	tcase_add_test(tc, oversized_send_is_refused_and_closes_the_descriptor);

	return s;
}

int
main(void)
{
	return tu_run_suite(msg_suite());
}
