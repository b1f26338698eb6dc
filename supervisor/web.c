/*
 * The supervisor's side of the web worker (lanspread-web). The supervisor
 * binds the page's listener and hands it over, so the worker needs no
 * right to bind or connect. Each HTTP command the worker forwards runs as
 * a one-shot control client of its own, and one subscribed client carries
 * every event to it: the page speaks the control protocol exactly.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/web_guard.h"
#include "supervisor/supervisor.h"

#define WEB_MAX_REQUESTS	64	/* unanswered at once */
#define WEB_BACKLOG		64

/*
 * Binds the page's listener when web_listen is set. A page off loopback
 * without its token is an error; a port that cannot be bound is not:
 * the daemon serves games without its page, and says so.
 */
int
web_init(struct sup *sup, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*addr = sup->cfg.web_listen;
	int			 fd, on = 1;

	sup->web_fd = -1;
	if (addr == NULL || *addr == '\0')
		return 0;
	if (addr_parse(addr, WEB_PORT, &ss, &len) == -1)
		return seterr(err, errsz, "web_listen %s: not IP[:PORT]", addr);
	if (!web_addr_is_loopback(addr) &&
	    !web_token_valid(sup->cfg.web_token))
		return seterr(err, errsz, "web_listen %s is not a loopback "
		    "address: it needs a web_token of %d to %d letters, "
		    "digits and ._~-", addr, WEB_TOKEN_MIN, WEB_TOKEN_MAX);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("web_listen %s: no web page", addr);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, WEB_BACKLOG) == -1) {
		log_warn("web_listen %s: no web page", addr);
		close(fd);
		return 0;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    addr_format((struct sockaddr *)&ss, sup->web_addr,
	    sizeof(sup->web_addr)) == -1)
		snprintf(sup->web_addr, sizeof(sup->web_addr), "%s", addr);
	sup->web_fd = fd;
	return 0;
}

/* The worker (re)starts serving: a copy of the listener goes to it. */
void
web_worker_hello(struct sup *sup)
{
	struct web_hello hello;

	if (sup->web_fd == -1 || !sup->workers[PROC_WEB].up)
		return;
	memset(&hello, 0, sizeof(hello));
	if ((hello.fd = fcntl(sup->web_fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup", __func__);
		return;
	}
	snprintf(hello.addr, sizeof(hello.addr), "%s", sup->web_addr);
	snprintf(hello.token, sizeof(hello.token), "%s",
	    !web_addr_is_loopback(sup->web_addr) && sup->cfg.web_token !=
	    NULL ? sup->cfg.web_token : "");
	msg_send_web_hello(sup_link(sup, PROC_WEB), &hello);
}

/* A JSON line for the worker; too long for one message: an error. */
static void
send_line(struct sup *sup, uint32_t type, uint64_t req, const char *line,
    size_t len)
{
	struct web_line	 out;

	out.req = req;
	out.line = (char *)line;
	if (len > WEB_LINE_MAX) {
		if (type == MSG_WEB_EVENT)
			return;
		out.line = "{\"id\":null,\"type\":\"error\","
		    "\"error\":\"reply too large for the web page\"}";
	}
	if (type == MSG_WEB_EVENT)
		msg_send_web_event(sup_link(sup, PROC_WEB), &out);
	else
		msg_send_web_reply(sup_link(sup, PROC_WEB), &out);
}

static void
reply_sink(void *arg, uint64_t req, const char *line, size_t len)
{
	struct sup	*sup = arg;

	if (sup->web_requests > 0)
		sup->web_requests--;
	send_line(sup, MSG_WEB_REPLY, req, line, len);
}

static void
event_sink(void *arg, uint64_t req, const char *line, size_t len)
{
	send_line(arg, MSG_WEB_EVENT, req, line, len);
}

static void
web_command(struct sup *sup, const struct web_line *cmd)
{
	static const char busy[] = "{\"id\":null,\"type\":\"error\","
	    "\"error\":\"too many web requests at once\"}";
	uint64_t	 client;

	if (sup->stopping || sup->web_requests >= WEB_MAX_REQUESTS ||
	    (client = control_sink_open(sup, 1, reply_sink, sup,
	    cmd->req)) == 0) {
		send_line(sup, MSG_WEB_REPLY, cmd->req, busy, sizeof(busy) - 1);
		return;
	}
	sup->web_requests++;
	control_sink_request(client, cmd->line, strlen(cmd->line));
}

static void
web_ready(struct sup *sup)
{
	char	 url[ADDR_STRLEN + 16];

	sup->workers[PROC_WEB].ready = 1;
	if (sup->web_events == 0 && (sup->web_events = control_sink_open(sup,
	    0, event_sink, sup, 0)) != 0)
		control_subscribe(sup->web_events);
	snprintf(url, sizeof(url), "http://%s/", sup->web_addr);
	log_notice("web page at %s", url);
	control_event("web-ready", json_pack("{s:s}", "url", url));
}

void
sup_dispatch_web(struct msgconn *c, struct msg *m)
{
	struct sup	*sup = c->arg;
	struct web_line	 cmd;
	struct error_text failed;
	char		 why[ERROR_SIZE] = "";

	switch (m->type) {
	case MSG_WEB_READY:
		if (msg_recv_web_ready(m, why, sizeof(why)) == -1)
			break;
		web_ready(sup);
		return;
	case MSG_WEB_FAILED:
		if (msg_recv_web_failed(m, &failed, why, sizeof(why)) == -1)
			break;
		/* The daemon goes on without its page. */
		log_warnx("web page at %s: %s", sup->web_addr, failed.error);
		return;
	case MSG_WEB_COMMAND:
		if (msg_recv_web_command(m, &cmd, why, sizeof(why)) == -1)
			break;
		web_command(sup, &cmd);
		msg_free_web_command(&cmd);
		return;
	}
	log_warnx("web worker sent a bad %s message (%s); restarting it",
	    msg_type_str(m->type), why[0] != '\0' ? why :
	    "not expected from it");
	kill(sup->workers[PROC_WEB].pid, SIGKILL);
}

/* Its requests' replies now go nowhere; its events stop. */
void
web_worker_lost(struct sup *sup)
{
	if (sup->web_events != 0)
		control_sink_close(sup->web_events);
	sup->web_events = 0;
	sup->web_requests = 0;
}

void
web_close(struct sup *sup)
{
	if (sup->web_fd != -1)
		close(sup->web_fd);
	sup->web_fd = -1;
}
