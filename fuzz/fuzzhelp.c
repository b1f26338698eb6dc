/*
 * The typed decoding of any message for the fuzz targets: each type's
 * msg_recv_<name>() is called through a table built from the X-macros of
 * common/msgtypes.h, so a new message type is fuzzed without an edit here.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msgtypes.h"
#include "fuzz/fuzz.h"

struct decoder {
	uint32_t	 type;
	int		(*decode)(struct msg *);
};

static void
fail(const char *what, uint32_t type)
{
	fprintf(stderr, "fuzz: %s for %s\n", what, msg_type_str(type));
	abort();
}

int
fuzz_fd(void)
{
	int	 fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd == -1)
		fail("cannot open /dev/null", 0);
	return fd;
}

/* Closes the descriptors a decoded struct holds. */
static void
close_fds(uint32_t type, void *s)
{
	const struct msg_layout *l = msg_layout(type);
	size_t	 i;

	for (i = 0; l != NULL && i < l->nfields; i++)
		if (l->fields[i].kind == MF_FD) {
			int	*fd = (int *)((char *)s + l->fields[i].off);

			if (*fd != -1)
				close(*fd);
			*fd = -1;
		}
}

/* A message of type from a frame we encoded; the caller destroys up. */
static void
reread(uint32_t type, const char *frame, size_t len, msgpack_unpacked *up,
    struct msg *m)
{
	const struct msg_layout *l = msg_layout(type);
	size_t	 i;

	if (len < sizeof(struct msg_header) ||
	    msg_unpack_body(frame + sizeof(struct msg_header),
	    len - sizeof(struct msg_header), up) == -1)
		fail("our own encoding does not unpack", type);
	m->type = type;
	m->body = &up->data;
	m->fd = -1;
	for (i = 0; l != NULL && i < l->nfields; i++)
		if (l->fields[i].kind == MF_FD)
			m->fd = fuzz_fd();
}

static void
refused(const char *err, uint32_t type)
{
	if (memchr(err, '\0', ERROR_SIZE) == NULL || err[0] == '\0')
		fail("a refusal without a reason", type);
}

#define DEFINE_DECODER(name, st, t)					\
static int								\
decode_##name(struct msg *m)						\
{									\
	struct st	 s;						\
	struct msg	 m2;						\
	msgpack_unpacked up;						\
	char		 err[ERROR_SIZE] = "", *f1, *f2;		\
	size_t		 n1, n2;					\
									\
	if (msg_recv_##name(m, &s, err, sizeof(err)) == -1) {		\
		refused(err, t);					\
		return -1;						\
	}								\
	close_fds(t, &s);						\
	if (msg_frame_##name(&s, &f1, &n1) == -1)			\
		fail("accepted but cannot be encoded", t);		\
	msg_free_##name(&s);						\
	reread(t, f1, n1, &up, &m2);					\
	if (msg_recv_##name(&m2, &s, err, sizeof(err)) == -1) {		\
		fprintf(stderr, "fuzz: %s\n", err);			\
		fail("our own encoding is refused", t);			\
	}								\
	close_fds(t, &s);						\
	if (m2.fd != -1)						\
		close(m2.fd);						\
	msgpack_unpacked_destroy(&up);					\
	if (msg_frame_##name(&s, &f2, &n2) == -1)			\
		fail("decoded again but cannot be encoded", t);	\
	msg_free_##name(&s);						\
	if (n1 != n2 || memcmp(f1, f2, n1) != 0)			\
		fail("encoding differs after a round trip", t);		\
	free(f1);							\
	free(f2);							\
	return 0;							\
}
#define DEFINE_EMPTY_DECODER(name, t)					\
static int								\
decode_##name(struct msg *m)						\
{									\
	char		 err[ERROR_SIZE] = "";				\
									\
	if (msg_recv_##name(m, err, sizeof(err)) == -1) {		\
		refused(err, t);					\
		return -1;						\
	}								\
	return 0;							\
}
MSG_BODIES(DEFINE_DECODER)
MSG_EMPTIES(DEFINE_EMPTY_DECODER)
#undef DEFINE_DECODER
#undef DEFINE_EMPTY_DECODER

static const struct decoder decoders[] = {
#define DECODER_ENTRY(name, st, t)	{ t, decode_##name },
#define EMPTY_ENTRY(name, t)		{ t, decode_##name },
	MSG_BODIES(DECODER_ENTRY)
	MSG_EMPTIES(EMPTY_ENTRY)
#undef DECODER_ENTRY
#undef EMPTY_ENTRY
};

size_t
fuzz_ntypes(void)
{
	return sizeof(decoders) / sizeof(decoders[0]);
}

uint32_t
fuzz_type(size_t i)
{
	return decoders[i % fuzz_ntypes()].type;
}

int
fuzz_decode(struct msg *m)
{
	size_t	 i;

	for (i = 0; i < fuzz_ntypes(); i++)
		if (decoders[i].type == m->type)
			return decoders[i].decode(m);
	return -1;
}
