/*
 * Walks a RAR archive's block headers to collect each file header's data
 * checksum (see rar_sums.h). Only the fields on the way to the checksum
 * are read; every length is checked against the header and the file
 * before it is used, and every header's own CRC is checked.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/log.h"
#include "worker-install/rar_sums.h"

static const uint8_t	rar4_sig[7] = { 'R', 'a', 'r', '!', 0x1a, 0x07, 0x00 };
static const uint8_t	rar5_sig[8] = { 'R', 'a', 'r', '!', 0x1a, 0x07, 0x01,
			    0x00 };

/* RAR 4 block types and flags. */
#define R4_MAIN		0x73
#define R4_FILE		0x74
#define R4_END		0x7b
#define R4_LONG_BLOCK	0x8000		/* an ADD_SIZE follows the base */
#define R4_MAIN_CRYPT	0x0080		/* headers are encrypted */
#define R4_SPLIT	0x0003		/* continued from or into a volume */
#define R4_LARGE	0x0100		/* 64-bit sizes */
#define R4_DIR_MASK	0x00e0		/* all three set: a directory */
#define R4_BASE		7		/* CRC16, type, flags, size */
#define R4_FILE_MIN	32		/* base + the fixed file fields */

/* RAR 5 header types and flags. */
#define R5_FILE		2
#define R5_CRYPT	4
#define R5_END		5
#define R5_HAS_EXTRA	0x0001
#define R5_HAS_DATA	0x0002
#define R5_SPLIT	0x0018		/* data from or into another volume */
#define R5_F_DIR	0x0001
#define R5_F_MTIME	0x0002
#define R5_F_CRC	0x0004
#define R5_HEADER_MAX	(2u * 1024 * 1024)	/* the format's own limit */

/* Where the bytes come from: a descriptor, or a buffer. */
struct rar_src {
	int		 fd;
	const uint8_t	*mem;
	uint64_t	 len;
};

/* A cursor over one header held in memory. */
struct cur {
	const uint8_t	*p, *end;
	int		 bad;
};

static int
src_read(const struct rar_src *s, uint64_t off, void *buf, size_t n)
{
	uint8_t	*out = buf;
	ssize_t	 r;

	if (off > s->len || n > s->len - off)
		return -1;
	if (s->mem != NULL) {
		memcpy(buf, s->mem + off, n);
		return 0;
	}
	while (n > 0) {
		r = pread(s->fd, out, n, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		out += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

static uint64_t
get_le(struct cur *c, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* RAR 5's variable-length integer: 7 bits a byte, at most 10 bytes. */
static uint64_t
get_vint(struct cur *c)
{
	uint64_t	v = 0;
	unsigned	shift;

	for (shift = 0; !c->bad && shift < 70; shift += 7) {
		if (c->p >= c->end)
			break;
		v |= (uint64_t)(*c->p & 0x7f) << shift;
		if ((*c->p++ & 0x80) == 0)
			return v;
	}
	c->bad = 1;
	return 0;
}

static void
skip(struct cur *c, uint64_t n)
{
	if (c->bad || (uint64_t)(c->end - c->p) < n)
		c->bad = 1;
	else
		c->p += n;
}

static int
add_sum(struct rar_sums *sums, const struct rar_sum *sum, char *err,
    size_t errsz)
{
	struct rar_sum	*grown;
	size_t		 cap;

	if (sums->n == sums->cap) {
		if (sums->n >= RAR_SUMS_MAX)
			return seterr(err, errsz, "more than %u entries",
			    RAR_SUMS_MAX);
		cap = sums->cap == 0 ? 16 : sums->cap * 2;
		if ((grown = realloc(sums->v, cap * sizeof(*grown))) == NULL)
			return seterr(err, errsz, "out of memory");
		sums->v = grown;
		sums->cap = cap;
	}
	sums->v[sums->n++] = *sum;
	return 0;
}

/* One RAR 4 block at *off; sets *off past it, *done at the end block. */
static int
rar4_block(const struct rar_src *s, uint64_t *off, struct rar_sums *sums,
    int *done, char *err, size_t errsz)
{
	uint8_t		 hdr[0xffff];
	struct rar_sum	 sum;
	struct cur	 c;
	uint64_t	 add = 0;
	unsigned	 type, flags, size, crc;

	/* An archive may end without an end block. */
	if (*off == s->len) {
		*done = 1;
		return 0;
	}
	if (src_read(s, *off, hdr, R4_BASE) == -1)
		return seterr(err, errsz, "a header is cut short");
	c.p = hdr;
	c.end = hdr + R4_BASE;
	c.bad = 0;
	crc = (unsigned)get_le(&c, 2);
	type = (unsigned)get_le(&c, 1);
	flags = (unsigned)get_le(&c, 2);
	size = (unsigned)get_le(&c, 2);
	if (size < R4_BASE || src_read(s, *off, hdr, size) == -1)
		return seterr(err, errsz, "a header is cut short");
	if ((crc32(0, hdr + 2, size - 2) & 0xffff) != crc)
		return seterr(err, errsz, "a header is damaged (CRC)");
	c.end = hdr + size;

	switch (type) {
	case R4_MAIN:
		if (flags & R4_MAIN_CRYPT)
			return seterr(err, errsz, "its headers are encrypted");
		break;
	case R4_FILE:
		if (size < R4_FILE_MIN)
			return seterr(err, errsz, "a file header is too short");
		memset(&sum, 0, sizeof(sum));
		add = get_le(&c, 4);
		sum.size = get_le(&c, 4);
		skip(&c, 1);			/* host OS */
		sum.crc32 = (uint32_t)get_le(&c, 4);
		if (flags & R4_LARGE) {
			skip(&c, 4 + 1 + 1 + 2 + 4);	/* up to the name */
			add |= get_le(&c, 4) << 32;
			sum.size |= get_le(&c, 4) << 32;
			if (c.bad)
				return seterr(err, errsz,
				    "a file header is too short");
		}
		if (flags & R4_SPLIT)
			return seterr(err, errsz,
			    "an entry is split across volumes");
		sum.is_dir = (flags & R4_DIR_MASK) == R4_DIR_MASK;
		sum.has_crc = !sum.is_dir;
		if (add_sum(sums, &sum, err, errsz) == -1)
			return -1;
		break;
	case R4_END:
		*done = 1;
		return 0;
	default:
		if (flags & R4_LONG_BLOCK) {
			if (size < R4_BASE + 4)
				return seterr(err, errsz,
				    "a header is too short");
			add = get_le(&c, 4);
		}
		break;
	}
	if (add > s->len - *off - size)
		return seterr(err, errsz, "an entry runs past the end");
	*off += size + add;
	return 0;
}

/* One RAR 5 header at *off; sets *off past its data, *done at the end. */
static int
rar5_block(const struct rar_src *s, uint64_t *off, struct rar_sums *sums,
    int *done, char *err, size_t errsz, uint8_t *hdr)
{
	struct rar_sum	 sum;
	struct cur	 c;
	uint64_t	 hsize, type, hflags, extra_size = 0, data_size = 0;
	uint64_t	 fflags, avail;
	uint32_t	 crc;
	size_t		 total, vlen;

	/* CRC32, then the header size (a vint of at most 3 bytes here). */
	avail = s->len - *off;
	if (avail < 5 || src_read(s, *off, hdr, avail < 7 ? avail : 7) == -1)
		return seterr(err, errsz, "a header is cut short");
	c.p = hdr + 4;
	c.end = hdr + (avail < 7 ? avail : 7);
	c.bad = 0;
	crc = (uint32_t)(hdr[0] | hdr[1] << 8 | hdr[2] << 16 |
	    (uint32_t)hdr[3] << 24);
	hsize = get_vint(&c);
	if (c.bad || hsize == 0 || hsize > R5_HEADER_MAX)
		return seterr(err, errsz, "a header has a bad size");
	vlen = (size_t)(c.p - (hdr + 4));
	total = 4 + vlen + (size_t)hsize;
	if (src_read(s, *off, hdr, total) == -1)
		return seterr(err, errsz, "a header is cut short");
	if (crc32(0, hdr + 4, (uInt)(vlen + hsize)) != crc)
		return seterr(err, errsz, "a header is damaged (CRC)");
	c.p = hdr + 4 + vlen;
	c.end = hdr + total;
	type = get_vint(&c);
	hflags = get_vint(&c);
	if (hflags & R5_HAS_EXTRA)
		extra_size = get_vint(&c);
	if (hflags & R5_HAS_DATA)
		data_size = get_vint(&c);
	if (c.bad || extra_size > (uint64_t)(c.end - c.p))
		return seterr(err, errsz, "a header is malformed");

	switch (type) {
	case R5_FILE:
		memset(&sum, 0, sizeof(sum));
		fflags = get_vint(&c);
		sum.size = get_vint(&c);
		(void)get_vint(&c);		/* attributes */
		if (fflags & R5_F_MTIME)
			skip(&c, 4);
		if (fflags & R5_F_CRC) {
			sum.crc32 = (uint32_t)get_le(&c, 4);
			sum.has_crc = 1;
		}
		if (c.bad || (uint64_t)(c.end - c.p) < extra_size)
			return seterr(err, errsz, "a file header is malformed");
		if (hflags & R5_SPLIT)
			return seterr(err, errsz,
			    "an entry is split across volumes");
		sum.is_dir = (fflags & R5_F_DIR) != 0;
		if (sum.is_dir)
			sum.has_crc = 0;
		if (add_sum(sums, &sum, err, errsz) == -1)
			return -1;
		break;
	case R5_CRYPT:
		return seterr(err, errsz, "its headers are encrypted");
	case R5_END:
		*done = 1;
		return 0;
	default:
		break;
	}
	if (data_size > s->len - *off - total)
		return seterr(err, errsz, "an entry runs past the end");
	*off += total + data_size;
	return 0;
}

static int
sums_walk(const struct rar_src *s, struct rar_sums *sums, char *err,
    size_t errsz)
{
	uint8_t		 sig[sizeof(rar5_sig)];
	uint8_t		*hdr = NULL;
	uint64_t	 off;
	int		 done = 0, r = 0;

	memset(sums, 0, sizeof(*sums));
	if (src_read(s, 0, sig, sizeof(sig)) == -1)
		return seterr(err, errsz, "not a RAR archive");
	if (memcmp(sig, rar5_sig, sizeof(rar5_sig)) == 0) {
		/* 10 bytes of slack: the size vint may claim fewer bytes. */
		if ((hdr = malloc(R5_HEADER_MAX + 16)) == NULL)
			return seterr(err, errsz, "out of memory");
		for (off = sizeof(rar5_sig); r == 0 && !done; )
			r = rar5_block(s, &off, sums, &done, err, errsz, hdr);
		free(hdr);
	} else if (memcmp(sig, rar4_sig, sizeof(rar4_sig)) == 0) {
		for (off = sizeof(rar4_sig); r == 0 && !done; )
			r = rar4_block(s, &off, sums, &done, err, errsz);
	} else
		r = seterr(err, errsz, "not a RAR archive");
	if (r == -1)
		rar_sums_free(sums);
	return r;
}

int
rar_sums_read(int fd, struct rar_sums *sums, char *err, size_t errsz)
{
	struct rar_src	 s;
	struct stat	 st;

	memset(sums, 0, sizeof(*sums));
	if (fstat(fd, &st) == -1 || st.st_size < 0)
		return seterr(err, errsz, "%s", strerror(errno));
	s.fd = fd;
	s.mem = NULL;
	s.len = (uint64_t)st.st_size;
	return sums_walk(&s, sums, err, errsz);
}

int
rar_sums_parse(const void *data, size_t len, struct rar_sums *sums,
    char *err, size_t errsz)
{
	struct rar_src	 s;

	s.fd = -1;
	s.mem = data;
	s.len = len;
	return sums_walk(&s, sums, err, errsz);
}

void
rar_sums_free(struct rar_sums *sums)
{
	free(sums->v);
	memset(sums, 0, sizeof(*sums));
}
