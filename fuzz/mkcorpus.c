/*
 * Writes the generated seeds of fuzz/corpus/<target>/: one valid example of
 * every message, made by the project's own encoders (msg_frame_<name>) from
 * structs filled through the layout tables, plus a few hostile inputs per
 * target. Run by make fuzz-corpus; seeds are small and committed, and the
 * files it does not write (regression inputs) are left alone.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/msgtypes.h"
#include "fuzz/fuzz.h"

#define OUR_ID		"00112233445566778899aabbccddeeff"
#define OTHER_ID	"0f1e2d3c4b5a69788796a5b4c3d2e1f0"

static const char	*root;

/* Defined for the link, never called: mkcorpus is no fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
put(const char *target, const char *name, const void *p, size_t len)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* A selector (or flags) byte or two, then the bytes. */
static void
put_with(const char *target, const char *name, const unsigned char *pre,
    size_t npre, const void *p, size_t len)
{
	unsigned char	*b = malloc(npre + len);

	if (b == NULL)
		exit(1);
	memcpy(b, pre, npre);
	memcpy(b + npre, p, len);
	put(target, name, b, npre + len);
	free(b);
}

/* A plausible value for a string member, by its key. */
static const char *
sample(const char *key)
{
	if (strcmp(key, "peer_id") == 0)
		return OTHER_ID;
	if (strstr(key, "addr") != NULL || strcmp(key, "bound") == 0)
		return "127.0.0.9:4000";
	if (strcmp(key, "game_id") == 0 || strcmp(key, "id") == 0 ||
	    strcmp(key, "games") == 0 || strcmp(key, "catalog") == 0)
		return "alienswarm";
	if (strcmp(key, "availability") == 0)
		return "Ready";
	if (strcmp(key, "version") == 0)
		return "20190317";
	if (strcmp(key, "path") == 0)
		return "Data/maps/a.bin";
	if (strstr(key, "dir") != NULL || strstr(key, "_path") != NULL)
		return "/srv/games";
	if (strcmp(key, "username") == 0)
		return "player";
	if (strcmp(key, "language") == 0)
		return "english";
	if (strcmp(key, "name") == 0)
		return "lan host";
	return "no space left";
}

/* Fills s by its layout: every member present, arrays of two. */
static void
fill(const struct msg_layout *l, void *s)
{
	size_t	 i, j;

	memset(s, 0, l->size);
	for (i = 0; i < l->nfields; i++) {
		const struct msg_field *f = &l->fields[i];
		char	*p = (char *)s + f->off;

		switch (f->kind) {
		case MF_STR:
			snprintf(p, f->size, "%s", sample(f->key));
			break;
		case MF_DSTR:
			*(char **)p = strdup(sample(f->key));
			break;
		case MF_U64:
			*(uint64_t *)p = strcmp(f->key, "proto") == 0 ? 1 :
			    125829120;
			break;
		case MF_BOOL:
			*(int *)p = 1;
			break;
		case MF_ENUM:
			*(int *)p = f->max > 1 ? 1 : 0;
			break;
		case MF_STRS:
		case MF_ARRAY:
			*(void **)p = calloc(2, f->size);
			*(size_t *)((char *)s + f->count_off) = 2;
			for (j = 0; j < 2; j++) {
				char	*e = *(char **)p + j * f->size;

				if (f->kind == MF_STRS)
					snprintf(e, f->size, "%s", j ?
					    "cnctw" : sample(f->key));
				else {
					fill(f->elem, e);
					if (j == 1 && f->elem->nfields > 0 &&
					    f->elem->fields[0].kind == MF_STR)
						snprintf(e, f->elem->fields[0].size,
						    "%s", strcmp(f->elem->fields[0].key,
						    "peer_id") == 0 ? OUR_ID :
						    "cnctw");
				}
			}
			break;
		case MF_BIN:
			/* Two SHA-256-sized pieces of bytes. */
			*(size_t *)((char *)s + f->count_off) =
			    f->max < 64 ? f->max : 64;
			*(unsigned char **)p = malloc(64);
			memset(*(unsigned char **)p, 0x5a, 64);
			break;
		case MF_FD:
			*(int *)p = -1;
			break;
		}
	}
}

static void
lower(char *dst, const char *src, size_t size)
{
	size_t	 i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* One frame of every type, as msg_frame_<name>() writes it. */
struct sample_frame {
	uint32_t	 type;
	char		*buf;
	size_t		 len;
};

static struct sample_frame frames[128];
static size_t	 nframes;

#define FRAME_BODY(name, st, t) {					\
	struct st s;							\
	fill(msg_layout(t), &s);					\
	frames[nframes].type = t;					\
	if (msg_frame_##name(&s, &frames[nframes].buf,			\
	    &frames[nframes].len) == -1) {				\
		fprintf(stderr, "cannot encode %s\n", #name);		\
		exit(1);						\
	}								\
	msg_free_##name(&s);						\
	nframes++;							\
}
#define FRAME_EMPTY(name, t) {						\
	frames[nframes].type = t;					\
	if (msg_frame_##name(&frames[nframes].buf,			\
	    &frames[nframes].len) == -1)				\
		exit(1);						\
	nframes++;							\
}

static void
make_frames(void)
{
	MSG_BODIES(FRAME_BODY)
	MSG_EMPTIES(FRAME_EMPTY)
}

static const struct sample_frame *
frame_of(uint32_t type)
{
	size_t	 i;

	for (i = 0; i < nframes; i++)
		if (frames[i].type == type)
			return &frames[i];
	exit(1);
}

static int
has_fd(uint32_t type)
{
	const struct msg_layout *l = msg_layout(type);
	size_t	 i;

	for (i = 0; l != NULL && i < l->nfields; i++)
		if (l->fields[i].kind == MF_FD)
			return 1;
	return 0;
}

static void
header(unsigned char *p, uint32_t type, uint32_t flags, uint32_t len)
{
	struct msg_header h = { htole32(type), htole32(flags), htole32(len) };

	memcpy(p, &h, sizeof(h));
}

static void
corpus_frames(void)
{
	unsigned char	 b[256];
	char		 name[64];
	size_t		 i, hl = sizeof(struct msg_header);
	const struct sample_frame *a, *c;

	for (i = 0; i < nframes; i++) {
		unsigned char *f = malloc(frames[i].len);

		memcpy(f, frames[i].buf, frames[i].len);
		if (has_fd(frames[i].type))
			header(f, frames[i].type, MSG_F_FD,
			    frames[i].len - hl);
		lower(name, msg_type_str(frames[i].type), sizeof(name));
		put("frame", name, f, frames[i].len);
		free(f);
	}
	/* Two frames in one read, then a partial one. */
	a = frame_of(MSG_PEER_HELLO);
	c = frame_of(MSG_PEER_PING);
	{
		size_t	 n = a->len + c->len + 8;
		unsigned char *f = malloc(n);

		memcpy(f, a->buf, a->len);
		memcpy(f + a->len, c->buf, c->len);
		memcpy(f + a->len + c->len, c->buf, 8);
		put("frame", "hostile-two-and-a-half", f, n);
		free(f);
	}
	header(b, MSG_PEER_HELLO, 0, MSG_MAX_BODY + 1);
	put("frame", "hostile-oversized", b, hl);
	header(b, MSG_PEER_HELLO, 0, 1u << 20);
	b[hl] = 0x80;
	put("frame", "hostile-short-body", b, hl + 1);
	/* A map claiming 2^32-1 pairs in five bytes. */
	header(b, MSG_PEER_FILES, 0, 5);
	memcpy(b + hl, "\xdf\xff\xff\xff\xff", 5);
	put("frame", "hostile-huge-map", b, hl + 5);
	/* Arrays nested deeper than the validator allows. */
	header(b, MSG_PEER_LIBRARY, 0, 40);
	memset(b + hl, 0x91, 39);
	b[hl + 39] = 0xc0;
	put("frame", "hostile-deep", b, hl + 40);
	/* A descriptor announced twice, one sent. */
	a = frame_of(MSG_XFER_SERVE);
	{
		unsigned char *f = malloc(2 * a->len);

		memcpy(f, a->buf, a->len);
		memcpy(f + a->len, a->buf, a->len);
		header(f, MSG_XFER_SERVE, MSG_F_FD, a->len - hl);
		header(f + a->len, MSG_XFER_SERVE, MSG_F_FD, a->len - hl);
		put("frame", "hostile-two-fds", f, 2 * a->len);
		free(f);
	}
	/* An empty-bodied type with a body, and a body that is no map. */
	header(b, MSG_PEER_PING, 0, 3);
	memcpy(b + hl, "\x81\xa0\xc0", 3);
	put("frame", "hostile-ping-with-body", b, hl + 3);
	header(b, MSG_PEER_PING, 0, 1);
	b[hl] = 0x90;
	put("frame", "hostile-not-a-map", b, hl + 1);
}

static void
corpus_msgtypes(void)
{
	unsigned char	 pre[2];
	char		 name[64];
	size_t		 i, hl = sizeof(struct msg_header);

	for (i = 0; i < fuzz_ntypes(); i++) {
		const struct sample_frame *f = frame_of(fuzz_type(i));

		pre[0] = (unsigned char)i;
		pre[1] = has_fd(f->type);
		lower(name, msg_type_str(f->type), sizeof(name));
		put_with("msgtypes", name, pre, 2, f->buf + hl, f->len - hl);
	}
}

static void
pack_game(msgpack_packer *pk, const char *id, const char *avail)
{
	msgpack_pack_map(pk, 6);
	mp_pack_str(pk, "id"); mp_pack_str(pk, id);
	mp_pack_str(pk, "version"); mp_pack_str(pk, "20190317");
	mp_pack_str(pk, "availability"); mp_pack_str(pk, avail);
	mp_pack_str(pk, "downloaded"); msgpack_pack_true(pk);
	mp_pack_str(pk, "installed"); msgpack_pack_false(pk);
	mp_pack_str(pk, "size"); msgpack_pack_uint64(pk, 1 << 20);
}

/* A hello body: id, address and two games, as a peer might send. */
static void
hello(const char *name, unsigned char flags, const char *id,
    const char *addr, const char *g1, const char *g2, const char *avail)
{
	struct msgout	 m;

	msgout_start(&m, MSG_PEER_HELLO);
	msgpack_pack_map(&m.pk, 5);
	msgout_u64(&m, "proto", 1);
	msgout_str(&m, "peer_id", id);
	msgout_str(&m, "name", "lan host");
	msgout_str(&m, "addr", addr);
	msgout_key(&m, "games");
	msgpack_pack_array(&m.pk, 2);
	pack_game(&m.pk, g1, "Ready");
	pack_game(&m.pk, g2, avail);
	put_with("hello", name, &flags, 1, m.sbuf.data, m.sbuf.size);
	msgout_free(&m);
}

static void
corpus_hello(void)
{
	const struct sample_frame *f = frame_of(MSG_PEER_HELLO);
	size_t	 hl = sizeof(struct msg_header);
	unsigned char flags;

	/* The encoder's own hello, on each kind of link. */
	for (flags = 0; flags < 16; flags += 5) {
		char	 name[32];

		snprintf(name, sizeof(name), "encoded-%u", flags);
		put_with("hello", name, &flags, 1, f->buf + hl, f->len - hl);
	}
	hello("valid", 0, OTHER_ID, "127.0.0.9:4000", "alienswarm", "cnctw",
	    "LocalOnly");
	hello("valid-ipv6", 2, OTHER_ID, "[::1]:4000", "alienswarm", "cnctw",
	    "Ready");
	hello("replaces-link", 4, OTHER_ID, "127.0.0.9:4000", "alienswarm",
	    "cnctw", "Ready");
	hello("duplicate-link", 4 | 8, OTHER_ID, "127.0.0.9:4000",
	    "alienswarm", "cnctw", "Ready");
	hello("hostile-ourselves", 0, OUR_ID, "127.0.0.9:4000", "alienswarm",
	    "cnctw", "Ready");
	hello("hostile-dup-game", 0, OTHER_ID, "127.0.0.9:4000", "alienswarm",
	    "alienswarm", "Ready");
	hello("hostile-availability", 0, OTHER_ID, "127.0.0.9:4000",
	    "alienswarm", "cnctw", "Maybe");
	hello("hostile-game-id", 0, OTHER_ID, "127.0.0.9:4000", "../etc",
	    "cnctw", "Ready");
	hello("hostile-no-port", 0, OTHER_ID, "127.0.0.9", "alienswarm",
	    "cnctw", "Ready");
	hello("hostile-upper-id", 0, "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
	    "127.0.0.9:4000", "alienswarm", "cnctw", "Ready");
}

static void
entry(const char *name, const char *path, uint64_t size)
{
	struct msgout	 m;
	unsigned char	 sel = 0;

	msgout_init(&m, MSG_PEER_ENTRY, 2);
	msgout_str(&m, "path", path);
	msgout_u64(&m, "size", size);
	put_with("stream", name, &sel, 1, m.sbuf.data, m.sbuf.size);
	msgout_free(&m);
}

static void
corpus_stream(void)
{
	struct msgout	 m;
	unsigned char	 sel = 1;
	char		 deep[4200];
	size_t		 i;

	entry("entry", "Data/maps/a.bin", 1 << 20);
	entry("entry-empty-file", "readme.txt", 0);
	entry("entry-huge", "big.bin", UINT64_MAX);
	entry("hostile-dotdot", "Data/../../etc/passwd", 1);
	entry("hostile-absolute", "/etc/passwd", 1);
	entry("hostile-backslash", "Data\\..\\x", 1);
	entry("hostile-trailing-slash", "Data/", 1);
	entry("hostile-control", "Data/a\tb", 1);
	entry("hostile-metadata", ".lanspread.staging/x", 1);
	entry("hostile-local", "local/x", 1);
	for (i = 0; i + 2 < 4094; i += 2)
		memcpy(deep + i, "a/", 2);
	deep[i] = 'a';
	deep[i + 1] = '\0';
	entry("hostile-deep", deep, 1);
	msgout_init(&m, MSG_PEER_STREAM_END, 2);
	msgout_u64(&m, "entries", 3);
	msgout_u64(&m, "bytes", 3 << 20);
	put_with("stream", "end", &sel, 1, m.sbuf.data, m.sbuf.size);
	msgout_free(&m);
}

/* DNS names in wire form, uncompressed. */
static size_t
dns_name(unsigned char *p, const char *name)
{
	size_t	 n = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t	 l = dot ? (size_t)(dot - name) : strlen(name);

		p[n++] = (unsigned char)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot != NULL);
	}
	p[n++] = 0;
	return n;
}

static size_t
dns_rr(unsigned char *p, const char *name, int type, const void *rd,
    size_t rdlen)
{
	size_t	 n = dns_name(p, name);

	p[n++] = type >> 8; p[n++] = type & 0xff;
	p[n++] = 0x80; p[n++] = 1;			/* IN, cache flush */
	p[n++] = 0; p[n++] = 0; p[n++] = 0x0e; p[n++] = 0x10;	/* TTL */
	p[n++] = rdlen >> 8; p[n++] = rdlen & 0xff;
	memcpy(p + n, rd, rdlen);
	return n + rdlen;
}

static void
corpus_mdns(void)
{
	static const char inst[] = "lan host._lanspread._tcp.local";
	unsigned char	 p[1024], rd[512], txt[256];
	size_t		 n, rn, tn = 0;

	/* An answer as a peer announces itself: PTR, SRV, TXT, A. */
	memset(p, 0, 12);
	p[2] = 0x84;
	p[7] = 4;
	n = 12;
	rn = dns_name(rd, inst);
	n += dns_rr(p + n, "_lanspread._tcp.local", 12, rd, rn);
	memcpy(rd, "\0\0\0\0\x0f\xa0", 6);		/* port 4000 */
	rn = 6 + dns_name(rd + 6, "host.local");
	n += dns_rr(p + n, inst, 33, rd, rn);
	txt[tn++] = 3 + 32;
	memcpy(txt + tn, "id=" OTHER_ID, 35);
	tn += 35;
	txt[tn++] = 5 + 14;
	memcpy(txt + tn, "addr=127.0.0.9:4000", 19);
	tn += 19;
	n += dns_rr(p + n, inst, 16, txt, tn);
	n += dns_rr(p + n, "host.local", 1, "\x7f\0\0\x09", 4);
	put("mdns", "announce", p, n);
	put("mdns", "txt", txt, tn);
	put("mdns", "instance-name", "lan host._lanspread._tcp.local.",
	    strlen("lan host._lanspread._tcp.local."));

	/* A query, with a name compressed against the question. */
	memset(p, 0, 12);
	p[5] = 1;
	p[7] = 1;
	n = 12 + dns_name(p + 12, "_lanspread._tcp.local");
	memcpy(p + n, "\0\x0c\0\x01", 4);
	n += 4;
	memcpy(p + n, "\xc0\x0c\0\x0c\0\x01\0\0\0\x78\0\x02\xc0\x0c", 14);
	n += 14;
	put("mdns", "query-compressed", p, n);

	/* A pointer to itself, and one forwards. */
	memset(p, 0, 12);
	p[5] = 1;
	memcpy(p + 12, "\xc0\x0c\0\x0c\0\x01", 6);
	put("mdns", "hostile-pointer-loop", p, 18);
	memcpy(p + 12, "\xc0\x10\0\x0c\0\x01\x00\x00", 8);
	put("mdns", "hostile-pointer-forward", p, 20);
	/* A record whose length runs past the datagram. */
	memset(p, 0, 12);
	p[7] = 1;
	n = 12 + dns_rr(p + 12, inst, 16, txt, tn);
	put("mdns", "hostile-rdlength", p, n - 10);
	/* TXT strings: a key twice, a NUL inside, a length past the end. */
	{
		static const char bad[] = "\x06" "id=abc" "\x23" "id=" OTHER_ID
		    "\x08" "addr=\0:1" "\x30" "x";

		put("mdns", "hostile-txt", bad, sizeof(bad) - 1);
	}
}

static void
line(const char *name, const char *text)
{
	put("control", name, text, strlen(text));
}

static void
corpus_control(void)
{
	line("status", "{\"id\":1,\"cmd\":\"status\"}\n");
	line("list", "{\"id\":\"a\",\"cmd\":\"list-games\"}\n"
	    "{\"id\":2,\"cmd\":\"list-peers\"}\n");
	line("subscribe", "{\"cmd\":\"subscribe\"}\n"
	    "{\"id\":3,\"cmd\":\"download\",\"game_id\":\"coh\"}\n");
	line("shutdown", "{\"id\":1,\"cmd\":\"shutdown\"}\n");
	line("connect", "{\"id\":1,\"cmd\":\"connect\","
	    "\"addr\":\"127.0.0.9:4000\"}\n"
	    "{\"id\":2,\"cmd\":\"connect\",\"addr\":\"127.0.0.1:4000\"}\n");
	line("wait-peers", "{\"id\":1,\"cmd\":\"wait-peers\",\"count\":1}\n"
	    "{\"id\":2,\"cmd\":\"wait-peers\",\"count\":5,"
	    "\"timeout_ms\":100}\n");
	line("download", "{\"id\":1,\"cmd\":\"download\",\"game_id\":\"coh\","
	    "\"install\":false}\n"
	    "{\"id\":2,\"cmd\":\"download\",\"game_id\":\"coh\"}\n"
	    "{\"id\":3,\"cmd\":\"cancel-download\",\"game_id\":\"coh\"}\n");
	line("download-not-in-catalog", "{\"id\":1,\"cmd\":\"download\","
	    "\"game_id\":\"notincatalog\"}\n");
	line("stream-install", "{\"id\":1,\"cmd\":\"stream-install\","
	    "\"game_id\":\"bf1942\"}\n");
	line("install", "{\"id\":1,\"cmd\":\"install\",\"game_id\":\"cnctw\"}\n"
	    "{\"id\":2,\"cmd\":\"uninstall\",\"game_id\":\"alienswarm\"}\n");
	line("verify", "{\"id\":1,\"cmd\":\"verify\",\"game_id\":\"cnctw\"}\n"
	    "{\"id\":2,\"cmd\":\"verify\",\"game_id\":\"alienswarm\"}\n"
	    "{\"id\":3,\"cmd\":\"repair\",\"game_id\":\"cnctw\"}\n"
	    "{\"id\":4,\"cmd\":\"repair\",\"game_id\":\"bf1942\"}\n");
	line("play", "{\"id\":1,\"cmd\":\"play\",\"game_id\":\"alienswarm\","
	    "\"username\":\"player\",\"language\":\"english\"}\n");
	line("hostile-play-long-name", "{\"id\":1,\"cmd\":\"play\","
	    "\"game_id\":\"alienswarm\",\"username\":\"aaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\",\"language\":\"english\"}\n");
	line("hostile-fields", "{\"id\":1,\"cmd\":\"download\","
	    "\"game_id\":\"../x\"}\n"
	    "{\"id\":{},\"cmd\":\"status\"}\n"
	    "{\"id\":1,\"cmd\":\"wait-peers\",\"count\":-1}\n"
	    "{\"id\":1,\"cmd\":\"play\",\"game_id\":\"alienswarm\","
	    "\"username\":\"a\\u0000b\",\"language\":\"x\"}\n"
	    "{\"id\":1,\"cmd\":\"download\",\"game_id\":\"coh\","
	    "\"install\":\"yes\"}\n");
	line("hostile-json", "[1,2]\n{\"cmd\":\"status\",\"cmd\":\"status\"}\n"
	    "{\"cmd\":\n\n{\"cmd\":\"nope\"}\n\"\\ud800\"\n");
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus fuzz/corpus\n");
		return 1;
	}
	root = argv[1];
	if (mkdir(root, 0755) == -1 && errno != EEXIST) {
		perror(root);
		return 1;
	}
	make_frames();
	corpus_frames();
	corpus_msgtypes();
	corpus_hello();
	corpus_stream();
	corpus_mdns();
	corpus_control();
	return 0;
}
