/*
 * Framed MessagePack messages over non-blocking sockets on a libev loop.
 * Used on the socketpairs between our processes and on peer TCP links.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msg.h"

#define MP_MAX_DEPTH	16
#define RBUF_CHUNK	(64 * 1024)

/* A message whose body the caller packs whole. */
void
msgout_start(struct msgout *m, uint32_t type)
{
	m->type = type;
	msgpack_sbuffer_init(&m->sbuf);
	msgpack_packer_init(&m->pk, &m->sbuf, msgpack_sbuffer_write);
}

void
msgout_init(struct msgout *m, uint32_t type, uint32_t nfields)
{
	msgout_start(m, type);
	msgpack_pack_map(&m->pk, nfields);
}

/* Takes a received descriptor; one left untaken is closed by the layer. */
int
msg_take_fd(struct msg *m)
{
	int	 fd = m->fd;

	m->fd = -1;
	return fd;
}

void
msgout_free(struct msgout *m)
{
	msgpack_sbuffer_destroy(&m->sbuf);
}

void
mp_pack_str(msgpack_packer *pk, const char *s)
{
	size_t	 len = strlen(s);

	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void
msgout_key(struct msgout *m, const char *key)
{
	mp_pack_str(&m->pk, key);
}

void
msgout_str(struct msgout *m, const char *key, const char *val)
{
	mp_pack_str(&m->pk, key);
	mp_pack_str(&m->pk, val);
}

void
msgout_u64(struct msgout *m, const char *key, uint64_t val)
{
	mp_pack_str(&m->pk, key);
	msgpack_pack_uint64(&m->pk, val);
}

void
msgout_bool(struct msgout *m, const char *key, int val)
{
	mp_pack_str(&m->pk, key);
	if (val)
		msgpack_pack_true(&m->pk);
	else
		msgpack_pack_false(&m->pk);
}

/* The whole frame as bytes, for links that write it themselves. */
int
msgout_frame(struct msgout *m, char **buf, size_t *len)
{
	struct msg_header hdr;

	*len = sizeof(hdr) + m->sbuf.size;
	if (m->sbuf.size > MSG_MAX_BODY || (*buf = malloc(*len)) == NULL) {
		msgout_free(m);
		return -1;
	}
	hdr.type = htole32(m->type);
	hdr.flags = 0;
	hdr.len = htole32(m->sbuf.size);
	memcpy(*buf, &hdr, sizeof(hdr));
	memcpy(*buf + sizeof(hdr), m->sbuf.data, m->sbuf.size);
	msgout_free(m);
	return 0;
}

const msgpack_object *
mp_field(const msgpack_object *map, const char *key)
{
	size_t	 klen = strlen(key);
	uint32_t i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	return NULL;
}

/* Copies a string object; refuses NUL bytes and what does not fit. */
int
mp_str_copy(const msgpack_object *o, char *buf, size_t size)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR ||
	    o->via.str.size >= size ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return 0;
}

int
mp_get_str(const msgpack_object *map, const char *key, char *buf, size_t size)
{
	return mp_str_copy(mp_field(map, key), buf, size);
}

int
mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
	const msgpack_object *o = mp_field(map, key);

	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		errno = EINVAL;
		return -1;
	}
	*out = o->via.u64;
	return 0;
}

int
mp_get_bool(const msgpack_object *map, const char *key, int *out)
{
	const msgpack_object *o = mp_field(map, key);

	if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN) {
		errno = EINVAL;
		return -1;
	}
	*out = o->via.boolean;
	return 0;
}

const msgpack_object *
mp_get_array(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = mp_field(map, key);

	return (o != NULL && o->type == MSGPACK_OBJECT_ARRAY) ? o : NULL;
}

/* A big-endian length of n bytes; UINT64_MAX when it runs past the end. */
static uint64_t
be(const unsigned char *p, size_t len, size_t *off, int n)
{
	uint64_t v = 0;
	int	 i;

	if (len - *off < (size_t)n)
		return UINT64_MAX / 4;
	for (i = 0; i < n; i++)
		v = (v << 8) | p[*off + i];
	*off += n;
	return v;
}

/*
 * Checks that buf holds exactly one well-formed MessagePack value whose
 * containers claim no more elements than bytes remain, so a tiny frame
 * cannot make the unpacker allocate gigabytes, and nesting stays shallow.
 */
static int
mp_validate(const unsigned char *p, size_t len)
{
	uint64_t pending[MP_MAX_DEPTH + 1];
	size_t	 off = 0;
	int	 depth = 0;

	pending[0] = 1;
	while (depth >= 0) {
		uint64_t count = 0, skip = 0;
		int	 container = 0;
		unsigned char b;

		if (pending[depth] == 0) {
			depth--;
			continue;
		}
		pending[depth]--;
		if (off >= len)
			return -1;
		b = p[off++];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3)
			skip = 0;
		else if (b >= 0x80 && b <= 0x8f) {
			count = (uint64_t)(b & 0x0f) * 2;
			container = 1;
		} else if (b >= 0x90 && b <= 0x9f) {
			count = b & 0x0f;
			container = 1;
		} else if (b >= 0xa0 && b <= 0xbf)
			skip = b & 0x1f;
		else switch (b) {
		case 0xc4: case 0xd9: skip = be(p, len, &off, 1); break;
		case 0xc5: case 0xda: skip = be(p, len, &off, 2); break;
		case 0xc6: case 0xdb: skip = be(p, len, &off, 4); break;
		case 0xc7: skip = be(p, len, &off, 1) + 1; break;
		case 0xc8: skip = be(p, len, &off, 2) + 1; break;
		case 0xc9: skip = be(p, len, &off, 4) + 1; break;
		case 0xca: skip = 4; break;
		case 0xcb: skip = 8; break;
		case 0xcc: case 0xd0: skip = 1; break;
		case 0xcd: case 0xd1: skip = 2; break;
		case 0xce: case 0xd2: skip = 4; break;
		case 0xcf: case 0xd3: skip = 8; break;
		case 0xd4: skip = 2; break;
		case 0xd5: skip = 3; break;
		case 0xd6: skip = 5; break;
		case 0xd7: skip = 9; break;
		case 0xd8: skip = 17; break;
		case 0xdc: count = be(p, len, &off, 2); container = 1; break;
		case 0xdd: count = be(p, len, &off, 4); container = 1; break;
		case 0xde: count = be(p, len, &off, 2) * 2; container = 1; break;
		case 0xdf: count = be(p, len, &off, 4) * 2; container = 1; break;
		default: return -1;
		}
		if (skip > len - off)
			return -1;
		off += skip;
		if (container && count > 0) {
			if (count > len - off || depth == MP_MAX_DEPTH)
				return -1;
			pending[++depth] = count;
		}
	}
	return off == len ? 0 : -1;
}

/* Checks and unpacks one frame body that must be a map. */
int
msg_unpack_body(const char *body, size_t len, msgpack_unpacked *up)
{
	size_t	 off = 0;

	msgpack_unpacked_init(up);
	if (mp_validate((const unsigned char *)body, len) == -1 ||
	    msgpack_unpack_next(up, body, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up->data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(up);
		return -1;
	}
	return 0;
}

static void	msgconn_read_cb(struct ev_loop *, ev_io *, int);
static void	msgconn_write_cb(struct ev_loop *, ev_io *, int);

void
msgconn_init(struct msgconn *c, struct ev_loop *loop, int fd, int allow_fds,
    msgconn_msg_cb on_msg, msgconn_close_cb on_close, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->loop = loop;
	c->allow_fds = allow_fds;
	c->max_body = MSG_MAX_BODY;
	c->wqmax = 256u * 1024 * 1024;
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	TAILQ_INIT(&c->wq);
	ev_io_init(&c->rio, msgconn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, msgconn_write_cb, fd, EV_WRITE);
	c->rio.data = c;
	c->wio.data = c;
	ev_io_start(loop, &c->rio);
}

void
msgconn_close(struct msgconn *c)
{
	struct msgbuf	*mb;
	int		 i;

	if (c->fd == -1)
		return;
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	while ((mb = TAILQ_FIRST(&c->wq)) != NULL) {
		TAILQ_REMOVE(&c->wq, mb, entry);
		if (mb->fd != -1)
			close(mb->fd);
		free(mb);
	}
	c->wqbytes = 0;
	for (i = 0; i < c->nrfds; i++)
		close(c->rfds[i]);
	c->nrfds = 0;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = c->rcap = 0;
	if (c->alivep != NULL)
		*c->alivep = 0;
}

/* Closes on a fault found here and tells the owner; c is gone after. */
static void
msgconn_fail(struct msgconn *c, const char *why)
{
	msgconn_close_cb cb = c->on_close;

	msgconn_close(c);
	if (cb != NULL)
		cb(c, why);
}

static int
msgconn_write_some(struct msgconn *c)
{
	struct msgbuf	*mb;

	while ((mb = TAILQ_FIRST(&c->wq)) != NULL) {
		struct iovec	 iov;
		struct msghdr	 mh;
		union {
			struct cmsghdr	hdr;
			char		buf[CMSG_SPACE(sizeof(int))];
		} cm;
		ssize_t		 n;

		iov.iov_base = mb->data + mb->off;
		iov.iov_len = mb->len - mb->off;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (mb->fd != -1) {
			struct cmsghdr *cmsg;

			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
			cmsg = CMSG_FIRSTHDR(&mh);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &mb->fd, sizeof(int));
		}
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (mb->fd != -1) {
			/* The descriptor went with the first byte. */
			close(mb->fd);
			mb->fd = -1;
		}
		mb->off += n;
		c->wqbytes -= n;
		if (mb->off == mb->len) {
			TAILQ_REMOVE(&c->wq, mb, entry);
			free(mb);
		}
	}
	return 0;
}

static void
msgconn_update_wio(struct msgconn *c)
{
	if (TAILQ_EMPTY(&c->wq))
		ev_io_stop(c->loop, &c->wio);
	else
		ev_io_start(c->loop, &c->wio);
}

/*
 * Queues a message (consuming m) and an optional descriptor (consumed too,
 * closed once sent). Returns -1 when the link is gone or over its queue limit.
 */
int
msgconn_send(struct msgconn *c, struct msgout *m, int fd)
{
	struct msg_header hdr;
	struct msgbuf	*mb;
	size_t		 total = sizeof(hdr) + m->sbuf.size;

	if (c->fd == -1 || m->sbuf.size > c->max_body ||
	    c->wqbytes + total > c->wqmax ||
	    (mb = malloc(sizeof(*mb) + total)) == NULL) {
		msgout_free(m);
		if (fd != -1)
			close(fd);
		errno = c->fd == -1 ? EPIPE : ENOBUFS;
		return -1;
	}
	/* Little-endian on the wire, whatever the host. */
	hdr.type = htole32(m->type);
	hdr.flags = htole32(fd != -1 ? MSG_F_FD : 0);
	hdr.len = htole32(m->sbuf.size);
	memcpy(mb->data, &hdr, sizeof(hdr));
	memcpy(mb->data + sizeof(hdr), m->sbuf.data, m->sbuf.size);
	mb->len = total;
	mb->off = 0;
	mb->fd = fd;
	msgout_free(m);
	TAILQ_INSERT_TAIL(&c->wq, mb, entry);
	c->wqbytes += total;
	if (msgconn_write_some(c) == -1) {
		/* Reported by the read side as EOF; keep the owner's flow. */
		ev_io_stop(c->loop, &c->wio);
		return 0;
	}
	msgconn_update_wio(c);
	return 0;
}

int
msgconn_send_empty(struct msgconn *c, uint32_t type)
{
	struct msgout	 m;

	msgout_init(&m, type, 0);
	return msgconn_send(c, &m, -1);
}

int
msgconn_pending(const struct msgconn *c)
{
	return !TAILQ_EMPTY(&c->wq);
}

/* Blocks up to timeout_ms to push out what is queued (used at exit). */
int
msgconn_flush(struct msgconn *c, int timeout_ms)
{
	while (c->fd != -1 && !TAILQ_EMPTY(&c->wq)) {
		struct pollfd	 pfd = { .fd = c->fd, .events = POLLOUT };

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if (msgconn_write_some(c) == -1)
			return -1;
	}
	return 0;
}

static void
msgconn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct msgconn	*c = w->data;

	(void)loop;
	(void)revents;
	if (msgconn_write_some(c) == -1) {
		msgconn_fail(c, strerror(errno));
		return;
	}
	msgconn_update_wio(c);
}

static ssize_t
msgconn_recv(struct msgconn *c)
{
	struct iovec	 iov;
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	if (c->rcap - c->rlen < RBUF_CHUNK) {
		size_t	 ncap = c->rcap + RBUF_CHUNK * 2;
		char	*nbuf = realloc(c->rbuf, ncap);

		if (nbuf == NULL)
			return -1;
		c->rbuf = nbuf;
		c->rcap = ncap;
	}
	iov.iov_base = c->rbuf + c->rlen;
	iov.iov_len = c->rcap - c->rlen;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (c->allow_fds) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
	}
	n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	for (cmsg = c->allow_fds ? CMSG_FIRSTHDR(&mh) : NULL; cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		size_t	 i, nfd;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int	 fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (c->nrfds < MSG_MAX_FDS)
				c->rfds[c->nrfds++] = fd;
			else
				close(fd);
		}
	}
	c->rlen += n;
	return n;
}

/* Hands out every complete frame; returns -1 with a reason on a bad one. */
static int
msgconn_dispatch(struct msgconn *c, char *err, size_t errsz)
{
	size_t	 off = 0;
	int	 alive = 1;

	c->alivep = &alive;
	while (c->rlen - off >= sizeof(struct msg_header)) {
		struct msg_header hdr;
		msgpack_unpacked up;
		struct msg	 m;
		size_t		 uoff = 0, limit;
		const unsigned char *body;

		memcpy(&hdr, c->rbuf + off, sizeof(hdr));
		hdr.type = le32toh(hdr.type);
		hdr.flags = le32toh(hdr.flags);
		hdr.len = le32toh(hdr.len);
		limit = c->body_limit != NULL ?
		    c->body_limit(c, hdr.type, hdr.len) : c->max_body;
		if (limit > c->max_body)
			limit = c->max_body;
		/* Refused when the header arrives, before any body is kept. */
		if (hdr.len > limit) {
			seterr(err, errsz, "oversized %s frame: %u bytes, at "
			    "most %zu here", msg_type_str(hdr.type), hdr.len,
			    limit);
			goto bad;
		}
		if (c->rlen - off < sizeof(hdr) + hdr.len)
			break;
		body = (const unsigned char *)c->rbuf + off + sizeof(hdr);
		if (mp_validate(body, hdr.len) == -1) {
			seterr(err, errsz, "malformed frame body");
			goto bad;
		}
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, (const char *)body, hdr.len,
		    &uoff) != MSGPACK_UNPACK_SUCCESS ||
		    up.data.type != MSGPACK_OBJECT_MAP) {
			msgpack_unpacked_destroy(&up);
			seterr(err, errsz, "frame body is not a map");
			goto bad;
		}
		m.type = hdr.type;
		m.body = &up.data;
		m.fd = -1;
		if (hdr.flags & MSG_F_FD) {
			if (c->nrfds == 0) {
				msgpack_unpacked_destroy(&up);
				seterr(err, errsz, "descriptor missing");
				goto bad;
			}
			m.fd = c->rfds[0];
			memmove(c->rfds, c->rfds + 1,
			    --c->nrfds * sizeof(int));
		}
		off += sizeof(hdr) + hdr.len;
		c->on_msg(c, &m);
		msgpack_unpacked_destroy(&up);
		if (m.fd != -1)
			close(m.fd);
		if (!alive)
			return 1;
	}
	c->alivep = NULL;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
bad:
	c->alivep = NULL;
	return -1;
}

static void
msgconn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct msgconn	*c = w->data;
	char		 why[160] = "";
	ssize_t		 n;
	int		 rc;

	(void)loop;
	(void)revents;
	n = msgconn_recv(c);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		msgconn_fail(c, n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	rc = msgconn_dispatch(c, why, sizeof(why));
	if (rc == -1)
		msgconn_fail(c, why);
}
