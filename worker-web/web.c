/*
 * The web worker's link to the supervisor: the listener and token come in
 * a hello, the worker starts serving and then enters its sandbox; replies
 * and events arrive, commands go out.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/sandbox.h"
#include "worker-web/web.h"

static void
web_hello(struct web *web, struct web_hello *hello)
{
	struct error_text failed;

	if (web->mhd != NULL) {
		/* One listener for the worker's life. */
		close(hello->fd);
		return;
	}
	snprintf(web->addr, sizeof(web->addr), "%s", hello->addr);
	memcpy(web->token, hello->token, sizeof(web->token));
	if (http_start(web, hello->fd, failed.error,
	    sizeof(failed.error)) == -1) {
		log_warnx("%s", failed.error);
		/* No page, but nothing else gets in either. */
		sandbox_worker(PROC_WEB, NULL, NULL);
		msg_send_web_failed(&web->sup, &failed);
		return;
	}
	/* No file, no new socket from here on. */
	sandbox_worker(PROC_WEB, NULL, NULL);
	events_start(web);
	msg_send_web_ready(&web->sup);
	log_debug("serving http://%s/", web->addr);
}

static void
web_dispatch_supervisor(struct msgconn *c, struct msg *m)
{
	struct web	*web = c->arg;
	struct web_hello hello;
	struct web_line	 line;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_WEB_HELLO:
		if (msg_recv_web_hello(m, &hello, why, sizeof(why)) == -1)
			break;
		web_hello(web, &hello);
		return;
	case MSG_WEB_REPLY:
		if (msg_recv_web_reply(m, &line, why, sizeof(why)) == -1)
			break;
		http_reply(web, line.req, line.line);
		msg_free_web_reply(&line);
		return;
	case MSG_WEB_EVENT:
		if (msg_recv_web_event(m, &line, why, sizeof(why)) == -1)
			break;
		events_push(web, line.line);
		msg_free_web_event(&line);
		return;
	}
	fatalx("supervisor sent a bad %s message (%s)", msg_type_str(m->type),
	    why[0] != '\0' ? why : "not for the web worker");
}

static void
sup_lost(struct msgconn *c, const char *why)
{
	struct web	*web = c->arg;

	log_debug("supervisor link: %s", why);
	ev_break(web->loop, EVBREAK_ALL);
}

/* Forwards a command; its reply comes back with r->req. */
int
web_send_command(struct web *web, struct web_request *r)
{
	struct web_line	 cmd;

	cmd.req = ++web->next_req;
	if (cmd.req == 0)
		cmd.req = ++web->next_req;
	cmd.line = r->body;
	if (msg_send_web_command(&web->sup, &cmd) == -1)
		return -1;
	r->req = cmd.req;
	return 0;
}

struct web *
web_new(struct ev_loop *loop, int fd)
{
	struct web	*web;

	if ((web = calloc(1, sizeof(*web))) == NULL)
		return NULL;
	web->loop = loop;
	TAILQ_INIT(&web->pending);
	TAILQ_INIT(&web->streams);
	/*
	 * Request numbers start anywhere: a reply meant for a worker that
	 * died must not match a request of its successor.
	 */
	if (getrandom(&web->next_req, sizeof(web->next_req), 0) !=
	    sizeof(web->next_req))
		web->next_req = (uint64_t)getpid() << 32;
	web->next_req >>= 1;
	msgconn_init(&web->sup, loop, fd, 1, web_dispatch_supervisor,
	    sup_lost, web);
	return web;
}

void
web_free(struct web *web)
{
	events_stop(web);
	http_stop(web);
	msgconn_close(&web->sup);
	free(web);
}
