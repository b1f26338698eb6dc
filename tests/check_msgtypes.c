/*
 * Check suite for common/msgtypes.c: every message type goes through its
 * typed pair and back unchanged, each layout describes every member of
 * its struct, and a body with a field missing, mistyped, out of bounds,
 * unknown or truncated is refused without a crash.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <unistd.h>

#include <ev.h>
#include <msgpack.h>

#include "common/msgtypes.h"
#include "tests/testutil.h"

#define SPIN_MAX	200
#define BODY_MAX	(16 * 1024)	/* bigger than any struct */

/* Every type with a body, and with none. */
static const uint32_t body_types[] = {
#define TYPE_OF(name, st, type)	type,
	MSG_BODIES(TYPE_OF)
#undef TYPE_OF
};
static const uint32_t empty_types[] = {
#define TYPE_OF(name, type)	type,
	MSG_EMPTIES(TYPE_OF)
#undef TYPE_OF
};
#define NBODY	(sizeof(body_types) / sizeof(body_types[0]))
#define NEMPTY	(sizeof(empty_types) / sizeof(empty_types[0]))

/* The typed pairs, called by type so one loop can drive them all. */
static int
send_typed(struct msgconn *c, uint32_t type, const void *s)
{
	switch (type) {
#define SEND_BODY(name, st, t)	case t: return msg_send_##name(c, s);
#define SEND_EMPTY(name, t)	case t: return msg_send_##name(c);
	MSG_BODIES(SEND_BODY)
	MSG_EMPTIES(SEND_EMPTY)
#undef SEND_BODY
#undef SEND_EMPTY
	}
	return -2;
}

static int
recv_typed(struct msg *m, uint32_t type, void *s, char *why, size_t size)
{
	switch (type) {
#define RECV_BODY(name, st, t)	case t: return msg_recv_##name(m, s, why, size);
#define RECV_EMPTY(name, t)	case t: return msg_recv_##name(m, why, size);
	MSG_BODIES(RECV_BODY)
	MSG_EMPTIES(RECV_EMPTY)
#undef RECV_BODY
#undef RECV_EMPTY
	}
	return -2;
}

static int
frame_typed(uint32_t type, const void *s, char **buf, size_t *len)
{
	switch (type) {
#define FRAME_BODY(name, st, t)	case t: return msg_frame_##name(s, buf, len);
#define FRAME_EMPTY(name, t)	case t: return msg_frame_##name(buf, len);
	MSG_BODIES(FRAME_BODY)
	MSG_EMPTIES(FRAME_EMPTY)
#undef FRAME_BODY
#undef FRAME_EMPTY
	}
	return -2;
}

static void
free_typed(uint32_t type, void *s)
{
	switch (type) {
#define FREE_BODY(name, st, t)	case t: msg_free_##name(s); return;
	MSG_BODIES(FREE_BODY)
#undef FREE_BODY
	}
}

static void *
member(void *s, size_t off)
{
	return (char *)s + off;
}

static size_t *
count_of(void *s, const struct msg_field *f)
{
	return member(s, f->count_off);
}

/*
 * Fills every field of a struct with a value of its kind that differs
 * per field (seed), arrays with two elements; descriptors get fd.
 */
static void
fill(const struct msg_layout *l, void *s, unsigned seed, int fd)
{
	size_t	 i, j;

	memset(s, 0, l->size);
	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		void	*p = member(s, f->off);
		char	 text[32];

		snprintf(text, sizeof(text), "%s-%u", f->key,
		    seed + (unsigned)i);
		switch (f->kind) {
		case MF_STR:
			snprintf(p, f->size, "%s", text);
			break;
		case MF_DSTR:
			*(char **)p = strdup(text);
			break;
		case MF_U64:
			*(uint64_t *)p = UINT64_MAX - seed - i;
			break;
		case MF_BOOL:
			*(int *)p = (seed + i) % 2;
			break;
		case MF_ENUM:
			*(int *)p = (int)((seed + i) % f->max);
			break;
		case MF_STRS:
			*(void **)p = calloc(2, f->size);
			for (j = 0; j < 2; j++)
				snprintf((char *)*(void **)p + j * f->size,
				    f->size, "%s.%zu", text, j);
			*count_of(s, f) = 2;
			break;
		case MF_ARRAY:
			*(void **)p = calloc(2, f->size);
			for (j = 0; j < 2; j++)
				fill(f->elem, (char *)*(void **)p + j * f->size,
				    seed + 10 * (unsigned)(j + 1), fd);
			*count_of(s, f) = 2;
			break;
		case MF_BIN:
			*(void **)p = malloc(40);
			for (j = 0; j < 40; j++)
				((unsigned char *)*(void **)p)[j] = seed + i + j;
			*count_of(s, f) = 40;
			break;
		case MF_FD:
			*(int *)p = fd;
			break;
		}
	}
}

/* Asserts b holds what a does, field by field (descriptors aside). */
static void
assert_same(const struct msg_layout *l, void *a, void *b)
{
	size_t	 i, j;

	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		void	*pa = member(a, f->off), *pb = member(b, f->off);

		switch (f->kind) {
		case MF_STR:
			ck_assert_str_eq(pa, pb);
			break;
		case MF_DSTR:
			ck_assert_str_eq(*(char **)pa, *(char **)pb);
			break;
		case MF_U64:
			ck_assert(*(uint64_t *)pa == *(uint64_t *)pb);
			break;
		case MF_BOOL:
		case MF_ENUM:
			ck_assert_int_eq(*(int *)pa, *(int *)pb);
			break;
		case MF_STRS:
		case MF_ARRAY:
			ck_assert_uint_eq(*count_of(a, f), *count_of(b, f));
			for (j = 0; j < *count_of(a, f); j++) {
				char	*ea = *(char **)pa + j * f->size;
				char	*eb = *(char **)pb + j * f->size;

				if (f->kind == MF_STRS)
					ck_assert_str_eq(ea, eb);
				else
					assert_same(f->elem, ea, eb);
			}
			break;
		case MF_BIN:
			ck_assert_uint_eq(*count_of(a, f), *count_of(b, f));
			ck_assert_int_eq(memcmp(*(void **)pa, *(void **)pb,
			    *count_of(a, f)), 0);
			break;
		case MF_FD:
			break;
		}
	}
}

static size_t
align_of(enum msg_field_kind k)
{
	switch (k) {
	case MF_STR:
		return 1;
	case MF_BOOL:
	case MF_ENUM:
	case MF_FD:
		return sizeof(int);
	default:
		return 8;
	}
}

static size_t
round_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

/*
 * The fields, in order, account for every byte of the struct but
 * alignment: a member left out of a table would leave a gap.
 */
static void
assert_layout_complete(const struct msg_layout *l)
{
	size_t	 i, end = 0, most = 1;

	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		size_t	 a = align_of(f->kind), size = f->size;

		if (f->kind == MF_STRS || f->kind == MF_ARRAY ||
		    f->kind == MF_BIN) {
			size = sizeof(void *);
			ck_assert_msg(f->count_off == f->off + sizeof(void *),
			    "%s.%s: count does not follow", l->name, f->key);
			size += sizeof(size_t);
		}
		ck_assert_msg(f->off == round_up(end, a),
		    "%s.%s at %zu, expected %zu: a member is missing",
		    l->name, f->key, f->off, round_up(end, a));
		end = f->off + size;
		if (a > most)
			most = a;
		if (f->kind == MF_ARRAY)
			assert_layout_complete(f->elem);
	}
	ck_assert_msg(round_up(end, most) == l->size,
	    "%s: %zu bytes described of %zu", l->name, round_up(end, most),
	    l->size);
}

START_TEST(every_layout_describes_every_member_of_its_struct)
{
	size_t	 i;

	for (i = 0; i < NBODY; i++) {
		ck_assert_ptr_nonnull(msg_layout(body_types[i]));
		ck_assert_uint_le(msg_layout(body_types[i])->size, BODY_MAX);
		assert_layout_complete(msg_layout(body_types[i]));
	}
	for (i = 0; i < NEMPTY; i++)
		ck_assert_ptr_null(msg_layout(empty_types[i]));
}
END_TEST

START_TEST(every_type_has_a_name)
{
	size_t	 i;

	for (i = 0; i < NBODY; i++)
		ck_assert_str_ne(msg_type_str(body_types[i]), "UNKNOWN");
	for (i = 0; i < NEMPTY; i++)
		ck_assert_str_ne(msg_type_str(empty_types[i]), "UNKNOWN");
	ck_assert_str_eq(msg_type_str(MSG_XFER_FETCH), "XFER_FETCH");
	ck_assert_str_eq(msg_type_str(9999), "UNKNOWN");
}
END_TEST

/* A received message, decoded inside on_msg with the typed pair. */
struct rx {
	struct msgconn	 mc;
	uint32_t	 want;
	int		 got;
	int		 rc;
	char		 why[160];
	_Alignas(max_align_t) unsigned char s[BODY_MAX];
};

static struct ev_loop	*loop;
static struct rx	 ra, rb;
static void		*sent;	/* a filled struct, big enough for any */

static void
rx_msg(struct msgconn *c, struct msg *m)
{
	struct rx	*rx = c->arg;

	rx->got++;
	rx->why[0] = '\0';
	rx->rc = recv_typed(m, rx->want, rx->s, rx->why, sizeof(rx->why));
}

static void
rx_close(struct msgconn *c, const char *why)
{
	(void)c;
	(void)why;
}

static void
link_setup(void)
{
	int	 sv[2];

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	tu_socketpair(sv);
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	msgconn_init(&ra.mc, loop, sv[0], 1, rx_msg, rx_close, &ra);
	msgconn_init(&rb.mc, loop, sv[1], 1, rx_msg, rx_close, &rb);
	ck_assert_ptr_nonnull(sent = calloc(1, BODY_MAX));
}

static void
link_teardown(void)
{
	msgconn_close(&ra.mc);
	msgconn_close(&rb.mc);
	ev_loop_destroy(loop);
	free(sent);
}

START_TEST(every_type_round_trips_through_its_pair_on_a_link)
{
	size_t	 i;

	for (i = 0; i < NBODY; i++) {
		const struct msg_layout *l = msg_layout(body_types[i]);
		struct stat st, rst;
		int	 p[2], j, has_fd = 0;

		ck_assert_int_eq(pipe(p), 0);
		ck_assert_int_eq(fstat(p[0], &st), 0);
		for (j = 0; j < (int)l->nfields; j++)
			has_fd |= l->fields[j].kind == MF_FD;
		fill(l, sent, (unsigned)i, p[0]);
		rb.want = body_types[i];
		rb.got = 0;
		ck_assert_int_eq(send_typed(&ra.mc, body_types[i], sent), 0);
		tu_spin(loop, &rb.got, SPIN_MAX);
		ck_assert_msg(rb.got == 1 && rb.rc == 0, "%s: %s",
		    msg_type_str(body_types[i]), rb.why);
		assert_same(l, sent, rb.s);
		for (j = 0; j < (int)l->nfields; j++) {
			int	 fd;

			if (l->fields[j].kind != MF_FD)
				continue;
			fd = *(int *)member(rb.s, l->fields[j].off);
			ck_assert_int_eq(fstat(fd, &rst), 0);
			ck_assert(rst.st_ino == st.st_ino);
			close(fd);
		}
		if (!has_fd)
			close(p[0]);
		close(p[1]);
		free_typed(body_types[i], sent);
		free_typed(body_types[i], rb.s);
	}
	for (i = 0; i < NEMPTY; i++) {
		rb.want = empty_types[i];
		rb.got = 0;
		ck_assert_int_eq(send_typed(&ra.mc, empty_types[i], NULL), 0);
		tu_spin(loop, &rb.got, SPIN_MAX);
		ck_assert_msg(rb.got == 1 && rb.rc == 0, "%s: %s",
		    msg_type_str(empty_types[i]), rb.why);
	}
}
END_TEST

START_TEST(a_message_of_another_type_is_refused_by_a_pair)
{
	struct game_ref	 ref = { "cnctw" };

	rb.want = MSG_INST_INSTALL;
	ck_assert_int_eq(msg_send_xfer_cancel(&ra.mc, &ref), 0);
	tu_spin(loop, &rb.got, SPIN_MAX);
	ck_assert_int_eq(rb.got, 1);
	ck_assert_int_eq(rb.rc, -1);
	ck_assert_ptr_nonnull(strstr(rb.why, "XFER_CANCEL"));
}
END_TEST

START_TEST(a_descriptor_nobody_takes_is_closed_by_the_layer)
{
	struct link_fd	 link;
	struct stat	 st;
	int		 p[2], probe;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(p), 0);
	link.fd = p[0];
	rb.want = MSG_PEER_PING;	/* refuses it, takes nothing */
	ck_assert_int_eq(msg_send_xfer_serve(&ra.mc, &link), 0);
	tu_spin(loop, &rb.got, SPIN_MAX);
	ck_assert_int_eq(rb.got, 1);
	ck_assert_int_eq(rb.rc, -1);
	/* Received and closed: the lowest free number is free again. */
	probe = dup(p[1]);
	ck_assert_int_ge(probe, 0);
	close(probe);
	/* Our write end sees no reader left once both copies are closed. */
	ck_assert_int_eq(fstat(p[1], &st), 0);
	ck_assert_int_eq(write(p[1], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(p[1]);
}
END_TEST

START_TEST(a_frame_too_big_for_its_bounds_is_not_sent)
{
	struct xfer_fetch f;

	memset(&f, 0, sizeof(f));
	snprintf(f.game_id, sizeof(f.game_id), "cnctw");
	f.nsources = MSG_MAX_SOURCES + 1;
	ck_assert_ptr_nonnull(f.sources = calloc(f.nsources,
	    sizeof(*f.sources)));
	ck_assert_int_eq(msg_send_xfer_fetch(&ra.mc, &f), -1);
	free(f.sources);
}
END_TEST

/* How one field of a body is spoilt. */
enum spoil {
	SPOIL_NONE,
	SPOIL_OMIT,
	SPOIL_TYPE,
	SPOIL_RANGE,
};

static void
pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

/*
 * Packs a body as the layout says, with field k spoilt; returns 0 when
 * that spoiling does not apply to the field's kind.
 */
static int
pack_spoilt(msgpack_packer *pk, const struct msg_layout *l, void *s,
    size_t k, enum spoil how)
{
	/* Past the longest string a layout bounds (a web line). */
	static char	 big[WEB_LINE_MAX + 2];
	size_t		 i, j, n = 0;

	for (i = 0; i < l->nfields; i++)
		n += l->fields[i].kind != MF_FD &&
		    !(i == k && how == SPOIL_OMIT);
	msgpack_pack_map(pk, n);
	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		void	*p = member(s, f->off);

		if (f->kind == MF_FD || (i == k && how == SPOIL_OMIT))
			continue;
		pack_str(pk, f->key, strlen(f->key));
		if (i == k && how == SPOIL_TYPE) {
			if (f->kind == MF_U64 || f->kind == MF_ENUM)
				pack_str(pk, "7", 1);
			else if (f->kind == MF_BOOL)
				msgpack_pack_int(pk, 1);
			else if (f->kind == MF_STRS || f->kind == MF_ARRAY ||
			    f->kind == MF_BIN)
				msgpack_pack_map(pk, 0);
			else
				msgpack_pack_int(pk, -7);
			continue;
		}
		if (i == k && how == SPOIL_RANGE) {
			switch (f->kind) {
			case MF_STR:
			case MF_DSTR:
				memset(big, 'a', sizeof(big));
				pack_str(pk, big, f->kind == MF_STR ? f->size :
				    f->max + 1);
				continue;
			case MF_ENUM:
				msgpack_pack_uint64(pk, f->max);
				continue;
			case MF_U64:
				msgpack_pack_int64(pk, -1);
				continue;
			case MF_STRS:
			case MF_ARRAY:
				msgpack_pack_array(pk, f->max + 1);
				for (j = 0; j <= f->max; j++)
					msgpack_pack_nil(pk);
				continue;
			case MF_BIN:
				msgpack_pack_bin(pk, f->max + 1);
				for (j = 0; j <= f->max; j++)
					msgpack_pack_bin_body(pk, "", 1);
				continue;
			default:
				return 0;
			}
		}
		switch (f->kind) {
		case MF_STR:
			pack_str(pk, p, strlen(p));
			break;
		case MF_DSTR:
			pack_str(pk, *(char **)p, strlen(*(char **)p));
			break;
		case MF_U64:
			msgpack_pack_uint64(pk, *(uint64_t *)p);
			break;
		case MF_BOOL:
			if (*(int *)p)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		case MF_ENUM:
			msgpack_pack_uint64(pk, (unsigned)*(int *)p);
			break;
		case MF_STRS:
		case MF_ARRAY:
			msgpack_pack_array(pk, *count_of(s, f));
			for (j = 0; j < *count_of(s, f); j++) {
				char	*e = (char *)*(void **)p + j * f->size;

				if (f->kind == MF_STRS)
					pack_str(pk, e, strlen(e));
				else
					pack_spoilt(pk, f->elem, e, SIZE_MAX,
					    SPOIL_NONE);
			}
			break;
		case MF_BIN:
			msgpack_pack_bin(pk, *count_of(s, f));
			msgpack_pack_bin_body(pk, *(char **)p,
			    *count_of(s, f));
			break;
		case MF_FD:
			break;
		}
	}
	return 1;
}

/*
 * Decodes a body with the type's pair, a descriptor beside it as a link
 * would pass one: 0 or -1, never a crash, and nothing left open.
 */
static int
decode_body(uint32_t type, const char *body, size_t len, int with_fd,
    char *why)
{
	const struct msg_layout *l = msg_layout(type);
	msgpack_unpacked up;
	struct msg	 m;
	unsigned char	*s = calloc(1, BODY_MAX);
	size_t		 i;
	int		 rc;

	ck_assert_ptr_nonnull(s);
	if (msg_unpack_body(body, len, &up) == -1) {
		free(s);
		snprintf(why, ERROR_SIZE, "does not unpack");
		return -1;
	}
	m.type = type;
	m.fd = with_fd ? dup(0) : -1;
	m.body = &up.data;
	rc = recv_typed(&m, type, s, why, ERROR_SIZE);
	if (m.fd != -1)
		close(m.fd);
	if (rc == 0) {
		for (i = 0; l != NULL && i < l->nfields; i++)
			if (l->fields[i].kind == MF_FD)
				close(*(int *)member(s, l->fields[i].off));
		free_typed(type, s);
	}
	msgpack_unpacked_destroy(&up);
	free(s);
	return rc;
}

START_TEST(each_field_missing_mistyped_or_out_of_range_is_refused)
{
	size_t	 i, k;
	int	 how, refused = 0;

	for (i = 0; i < NBODY; i++) {
		const struct msg_layout *l = msg_layout(body_types[i]);
		msgpack_sbuffer	 sb;
		msgpack_packer	 pk;
		char		 why[ERROR_SIZE];

		fill(l, sent, (unsigned)i, 0);
		/* Unspoilt, the body is accepted. */
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		pack_spoilt(&pk, l, sent, SIZE_MAX, SPOIL_NONE);
		ck_assert_msg(decode_body(body_types[i], sb.data, sb.size,
		    1, why) == 0, "%s: %s", l->name, why);
		msgpack_sbuffer_destroy(&sb);
		for (k = 0; k < l->nfields; k++) {
			if (l->fields[k].kind == MF_FD)
				continue;
			for (how = SPOIL_OMIT; how <= SPOIL_RANGE; how++) {
				if (how == SPOIL_OMIT && l->fields[k].optional)
					continue;
				msgpack_sbuffer_init(&sb);
				msgpack_packer_init(&pk, &sb,
				    msgpack_sbuffer_write);
				if (pack_spoilt(&pk, l, sent, k, how)) {
					ck_assert_msg(decode_body(body_types[i],
					    sb.data, sb.size, 1, why) == -1,
					    "%s.%s spoilt %d was accepted",
					    l->name, l->fields[k].key, how);
					refused++;
				}
				msgpack_sbuffer_destroy(&sb);
			}
		}
		free_typed(body_types[i], sent);
	}
	ck_assert_int_gt(refused, 3 * (int)NBODY);
}
END_TEST

START_TEST(an_unknown_or_repeated_key_is_refused)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 why[ERROR_SIZE];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "game_id", 7);
	pack_str(&pk, "cnctw", 5);
	pack_str(&pk, "extra", 5);
	msgpack_pack_true(&pk);
	ck_assert_int_eq(decode_body(MSG_XFER_CANCEL, sb.data, sb.size,
	    1, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "unknown field extra"));
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "game_id", 7);
	pack_str(&pk, "cnctw", 5);
	pack_str(&pk, "game_id", 7);
	pack_str(&pk, "other", 5);
	ck_assert_int_eq(decode_body(MSG_XFER_CANCEL, sb.data, sb.size,
	    1, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "twice"));
	msgpack_sbuffer_clear(&sb);
	/* A string with a NUL inside is not a string we accept. */
	msgpack_pack_map(&pk, 1);
	pack_str(&pk, "game_id", 7);
	pack_str(&pk, "cn\0tw", 5);
	ck_assert_int_eq(decode_body(MSG_XFER_CANCEL, sb.data, sb.size,
	    1, why), -1);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(an_array_element_with_a_bad_field_is_refused_and_freed)
{
	struct file_list list;
	struct file_entry files[2] = { { "a", 1 }, { "b", 2 } };
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 why[ERROR_SIZE];

	snprintf(list.game_id, sizeof(list.game_id), "cnctw");
	list.files = files;
	list.nfiles = 2;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "game_id", 7);
	pack_str(&pk, "cnctw", 5);
	pack_str(&pk, "files", 5);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "path", 4);
	pack_str(&pk, "a", 1);
	pack_str(&pk, "size", 4);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_map(&pk, 1);	/* no size: refused, "a" freed */
	pack_str(&pk, "path", 4);
	pack_str(&pk, "b", 1);
	ck_assert_int_eq(decode_body(MSG_XFER_FILES, sb.data, sb.size,
	    1, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "files[1].size missing"));
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(every_truncated_body_is_refused)
{
	size_t	 i, cut;

	for (i = 0; i < NBODY; i++) {
		const struct msg_layout *l = msg_layout(body_types[i]);
		struct msg_header hdr;
		char	*frame = NULL;
		size_t	 len = 0;
		char	 why[ERROR_SIZE];

		fill(l, sent, (unsigned)i, -1);
		ck_assert_int_eq(frame_typed(body_types[i], sent, &frame,
		    &len), 0);
		memcpy(&hdr, frame, sizeof(hdr));
		ck_assert_uint_eq(le32toh(hdr.type), body_types[i]);
		ck_assert_uint_eq(le32toh(hdr.len), len - sizeof(hdr));
		for (cut = 0; cut < len - sizeof(hdr); cut++)
			ck_assert_int_eq(decode_body(body_types[i],
			    frame + sizeof(hdr), cut, 1, why), -1);
		free(frame);
		free_typed(body_types[i], sent);
	}
}
END_TEST

START_TEST(an_empty_type_refuses_a_body)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 why[ERROR_SIZE];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pack_str(&pk, "x", 1);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(decode_body(MSG_PEER_PING, sb.data, sb.size,
	    1, why), -1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 0);
	ck_assert_int_eq(decode_body(MSG_PEER_PING, sb.data, sb.size,
	    1, why), 0);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(a_body_type_without_its_descriptor_is_refused)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 why[ERROR_SIZE];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pack_str(&pk, "game_id", 7);
	pack_str(&pk, "cnctw", 5);
	ck_assert_int_eq(decode_body(MSG_INST_STREAM_OUT, sb.data, sb.size,
	    0, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "descriptor"));
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(enum_names_match_the_wire)
{
	ck_assert_str_eq(xfer_end_str(XFER_END_PEERS_GONE), "peers-gone");
	ck_assert_str_eq(xfer_end_str(XFER_END_CANCELLED), "cancelled");
	ck_assert_str_eq(xfer_end_str(XFER_END_FAILED), "failed");
	ck_assert_str_eq(xfer_end_str(XFER_END_MAX), "unknown");
}
END_TEST

static Suite *
msgtypes_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("msgtypes");

	tc = tu_tcase(s, "layouts", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, every_layout_describes_every_member_of_its_struct);
	tcase_add_test(tc, every_type_has_a_name);
	tcase_add_test(tc, enum_names_match_the_wire);

	tc = tu_tcase(s, "round_trip", NULL, NULL, link_setup, link_teardown);
	tcase_add_test(tc, every_type_round_trips_through_its_pair_on_a_link);
	tcase_add_test(tc, a_message_of_another_type_is_refused_by_a_pair);
	tcase_add_test(tc, a_descriptor_nobody_takes_is_closed_by_the_layer);
	tcase_add_test(tc, a_frame_too_big_for_its_bounds_is_not_sent);

	tc = tu_tcase(s, "refusals", NULL, NULL, link_setup, link_teardown);
	tcase_add_test(tc,
	    each_field_missing_mistyped_or_out_of_range_is_refused);
	tcase_add_test(tc, an_unknown_or_repeated_key_is_refused);
	tcase_add_test(tc,
	    an_array_element_with_a_bad_field_is_refused_and_freed);
	tcase_add_test(tc, every_truncated_body_is_refused);
	tcase_add_test(tc, an_empty_type_refuses_a_body);
	tcase_add_test(tc, a_body_type_without_its_descriptor_is_refused);
	return s;
}

int
main(void)
{
	return tu_run_suite(msgtypes_suite());
}
