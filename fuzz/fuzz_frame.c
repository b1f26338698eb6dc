/*
 * The frame decoder: the input is what a peer or a worker writes on a
 * link, fed to a msgconn over a socketpair on a libev loop, one
 * descriptor beside it (SCM_RIGHTS), then EOF. Header checks, the body
 * validator and the unpacker run as in a worker; each frame handed out
 * goes on to its type's typed decoder (fuzzhelp.c).
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msgtypes.h"
#include "fuzz/fuzz.h"

#define SPIN_MAX	10000

struct sink {
	int	 closed;
	int	 frames;
};

static struct ev_loop	*loop;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		abort();
	return 0;
}

static void
on_msg(struct msgconn *c, struct msg *m)
{
	struct sink	*s = c->arg;

	s->frames++;
	(void)fuzz_decode(m);
}

static void
on_close(struct msgconn *c, const char *why)
{
	struct sink	*s = c->arg;

	(void)why;
	s->closed = 1;
}

/* Writes what the socket takes; the first write carries a descriptor. */
static ssize_t
put(int fd, const uint8_t *p, size_t len, int with_fd)
{
	struct iovec	 iov = { (void *)(uintptr_t)p, len };
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*cmsg;
	int		 passed = -1;
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (with_fd) {
		passed = fuzz_fd();
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &passed, sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	if (passed != -1)
		close(passed);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msgconn	 c;
	struct sink	 s = { 0, 0 };
	size_t		 off = 0;
	ssize_t		 n;
	int		 sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	msgconn_init(&c, loop, sv[0], 1, on_msg, on_close, &s);
	for (i = 0; i < SPIN_MAX && off < size && !s.closed; i++) {
		n = put(sv[1], data + off, size - off, off == 0);
		if (n == -1 && errno != EAGAIN)
			break;
		if (n > 0)
			off += n;
		ev_run(loop, EVRUN_NOWAIT);
	}
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < SPIN_MAX && !s.closed; i++)
		ev_run(loop, EVRUN_NOWAIT);
	if (!s.closed)
		abort();	/* EOF must end the connection */
	close(sv[1]);
	return 0;
}
