/*
 * HTTP with libmicrohttpd, one thread: its epoll fd and timeout drive a
 * libev watcher. Every request passes the guards of common/web_guard.h
 * first (Host, Origin, token), then goes to the page's files, the
 * command API or the event stream.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/web_guard.h"
#include "worker-web/web.h"

/* Only our own files run: no inline script, nothing from elsewhere. */
#define WEB_CSP		"default-src 'none'; script-src 'self'; " \
			"style-src 'self'; img-src 'self' data:; " \
			"connect-src 'self'; base-uri 'none'; " \
			"form-action 'self'; frame-ancestors 'none'"

struct MHD_Response *
http_response(const void *data, size_t len, const char *type,
    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)data, mode);
	if (resp == NULL)
		return NULL;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
	return resp;
}

static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned int status,
    struct MHD_Response *resp)
{
	enum MHD_Result	 rc;

	if (resp == NULL)
		return MHD_NO;
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* A short JSON error, as the control protocol words one. */
static enum MHD_Result
refuse(struct MHD_Connection *conn, unsigned int status, const char *why)
{
	char	 body[256];
	int	 n;

	n = snprintf(body, sizeof(body),
	    "{\"type\":\"error\",\"error\":\"%s\"}\n", why);
	return queue(conn, status, http_response(body, (size_t)n,
	    "application/json", MHD_RESPMEM_MUST_COPY));
}

static const char *
header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The token this request carries: its cookie, or a Bearer header. */
static int
request_token_ok(struct web *web, struct MHD_Connection *conn)
{
	char		 given[WEB_TOKEN_SIZE];
	const char	*v;

	if ((v = header(conn, "Cookie")) != NULL &&
	    web_cookie_value(v, WEB_COOKIE, given, sizeof(given)) == 0 &&
	    web_token_equal(given, web->token))
		return 1;
	if ((v = header(conn, "Authorization")) != NULL &&
	    web_bearer_token(v, given, sizeof(given)) == 0 &&
	    web_token_equal(given, web->token))
		return 1;
	return 0;
}

/*
 * GET /?token=T with the right token: the token goes into a cookie only
 * this site's requests carry, and the address loses it.
 */
static enum MHD_Result
login(struct web *web, struct MHD_Connection *conn, const char *token)
{
	struct MHD_Response *resp;
	char		 cookie[WEB_TOKEN_SIZE + 96];

	if (!web_token_equal(token, web->token))
		return refuse(conn, MHD_HTTP_UNAUTHORIZED, "wrong token");
	resp = http_response("", 0, "text/plain", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; "
	    "SameSite=Strict", WEB_COOKIE, web->token);
	MHD_add_response_header(resp, "Set-Cookie", cookie);
	MHD_add_response_header(resp, "Location", "/");
	return queue(conn, MHD_HTTP_SEE_OTHER, resp);
}

static enum MHD_Result
serve_asset(struct MHD_Connection *conn, const char *url)
{
	const struct web_asset *a;

	if ((a = web_asset_find(strcmp(url, "/") == 0 ? "/index.html" :
	    url)) == NULL)
		return refuse(conn, MHD_HTTP_NOT_FOUND, "no such page");
	return queue(conn, MHD_HTTP_OK, http_response(a->data, a->len,
	    a->type, MHD_RESPMEM_PERSISTENT));
}

/*
 * The first call for a request: its headers are all in. Returns 0 to go
 * on with the request, or a refusal already queued in *rc.
 */
static int
guard(struct web *web, struct web_request *r, const char *method,
    enum MHD_Result *rc)
{
	struct MHD_Connection *conn = r->conn;
	const char	*host = header(conn, "Host");
	const char	*site = header(conn, "Sec-Fetch-Site");

	if (!web_host_allowed(host, web->port)) {
		*rc = refuse(conn, MHD_HTTP_FORBIDDEN, "Host not allowed: "
		    "open the page by its IP address or localhost");
		return -1;
	}
	if (!web_origin_allowed(header(conn, "Origin"), host) ||
	    (site != NULL && strcasecmp(site, "cross-site") == 0)) {
		*rc = refuse(conn, MHD_HTTP_FORBIDDEN,
		    "cross-site request refused");
		return -1;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		*rc = refuse(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "GET or POST only");
		return -1;
	}
	return 0;
}

static enum MHD_Result
first_call(struct web *web, struct web_request *r, const char *url,
    const char *method)
{
	struct MHD_Connection *conn = r->conn;
	const char	*token, *type, *length;
	enum MHD_Result	 rc;
	int		 post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	if (guard(web, r, method, &rc) == -1)
		return rc;
	if (web->token[0] != '\0' && !post && strcmp(url, "/") == 0 &&
	    (token = MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "token")) != NULL)
		return login(web, conn, token);
	if (web->token[0] != '\0' && !request_token_ok(web, conn))
		return refuse(conn, MHD_HTTP_UNAUTHORIZED, "this page needs "
		    "its token: open it once as http://ADDRESS/?token=TOKEN");
	if (strcmp(url, "/api/command") == 0) {
		if (!post)
			return refuse(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "POST a command");
		/* No form can send it: a cross-site script must ask first. */
		type = header(conn, "Content-Type");
		if (type == NULL || strncasecmp(type, "application/json",
		    16) != 0)
			return refuse(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			    "Content-Type must be application/json");
		/* Refused before a byte of an announced huge body is read. */
		if ((length = header(conn, "Content-Length")) != NULL &&
		    strtoull(length, NULL, 10) > WEB_MAX_BODY)
			return refuse(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			    "a command is at most 64 KiB");
		if (web->npending >= WEB_MAX_PENDING)
			return refuse(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "too many commands at once");
		r->kind = WEB_REQ_COMMAND;
		return MHD_YES;
	}
	if (post)
		return refuse(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only /api/command takes POST");
	if (strcmp(url, "/api/events") == 0) {
		r->kind = WEB_REQ_EVENTS;
		return events_open(web, r);
	}
	return serve_asset(conn, url);
}

static void
suspend(struct web_request *r)
{
	if (!r->suspended) {
		MHD_suspend_connection(r->conn);
		r->suspended = 1;
	}
}

void
http_resume(struct web_request *r)
{
	if (r->suspended) {
		r->suspended = 0;
		MHD_resume_connection(r->conn);
	}
}

static enum MHD_Result
command_call(struct web *web, struct web_request *r, const char *data,
    size_t *size)
{
	if (*size > 0) {
		if (r->body_len + *size > WEB_MAX_BODY)
			r->too_big = 1;
		if (!r->too_big) {
			char	*nb = realloc(r->body, r->body_len + *size + 1);

			if (nb == NULL)
				return MHD_NO;
			memcpy(nb + r->body_len, data, *size);
			r->body = nb;
			r->body_len += *size;
			r->body[r->body_len] = '\0';
		}
		*size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return refuse(r->conn, MHD_HTTP_CONTENT_TOO_LARGE,
		    "a command is at most 64 KiB");
	if (r->reply != NULL)
		return queue(r->conn, MHD_HTTP_OK, http_response(r->reply,
		    strlen(r->reply), "application/json",
		    MHD_RESPMEM_MUST_COPY));
	if (r->req != 0)
		return MHD_YES;	/* a spurious call while it waits */
	if (r->body == NULL || strlen(r->body) != r->body_len)
		return refuse(r->conn, MHD_HTTP_BAD_REQUEST,
		    "the body must be one JSON object");
	if (web_send_command(web, r) == -1)
		return refuse(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the daemon is not answering");
	TAILQ_INSERT_TAIL(&web->pending, r, entry);
	r->listed = 1;
	web->npending++;
	suspend(r);
	return MHD_YES;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct web		*web = cls;
	struct web_request	*r = *con_cls;

	(void)version;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->web = web;
		r->conn = conn;
		*con_cls = r;
		return first_call(web, r, url, method);
	}
	if (r->kind == WEB_REQ_COMMAND)
		return command_call(web, r, upload_data, upload_data_size);
	/* Anything else was answered at once: ignore its body. */
	*upload_data_size = 0;
	return MHD_YES;
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct web		*web = cls;
	struct web_request	*r = *con_cls;

	(void)conn;
	(void)toe;
	if (r == NULL)
		return;
	if (r->kind == WEB_REQ_EVENTS)
		events_close(web, r);
	else if (r->listed) {
		TAILQ_REMOVE(&web->pending, r, entry);
		web->npending--;
	}
	free(r->body);
	free(r->reply);
	free(r->out);
	free(r);
	*con_cls = NULL;
}

/* The supervisor answered request req; its connection may be gone. */
void
http_reply(struct web *web, uint64_t req, const char *line)
{
	struct web_request *r;

	TAILQ_FOREACH(r, &web->pending, entry)
		if (r->req == req)
			break;
	if (r == NULL || r->reply != NULL)
		return;
	TAILQ_REMOVE(&web->pending, r, entry);
	r->listed = 0;
	web->npending--;
	if ((r->reply = strdup(line)) == NULL)
		r->reply = strdup("");
	http_resume(r);
	http_run(web);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("http: %s", buf);
}

/* Lets libmicrohttpd work, then arms its next timeout. */
void
http_run(struct web *web)
{
	MHD_UNSIGNED_LONG_LONG	 ms;

	if (web->mhd == NULL)
		return;
	MHD_run(web->mhd);
	ev_timer_stop(web->loop, &web->mhd_timer);
	if (MHD_get_timeout(web->mhd, &ms) == MHD_YES) {
		ev_timer_set(&web->mhd_timer, (double)ms / 1000.0, 0.);
		ev_timer_start(web->loop, &web->mhd_timer);
	}
}

static void
mhd_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	http_run(w->data);
}

static void
mhd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	http_run(w->data);
}

int
http_start(struct web *web, int fd, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const union MHD_DaemonInfo *info;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (web->port = addr_port((struct sockaddr *)&ss)) <= 0) {
		close(fd);
		return seterr(err, errsz, "the web listener: %s",
		    strerror(errno));
	}
	web->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb, web,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, web,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WEB_MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)WEB_MAX_PER_IP,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONN_MEMORY,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEB_IDLE_TIMEOUT,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, web,
	    MHD_OPTION_END);
	if (web->mhd == NULL) {
		close(fd);
		return seterr(err, errsz, "cannot start the HTTP server on %s",
		    web->addr);
	}
	if ((info = MHD_get_daemon_info(web->mhd, MHD_DAEMON_INFO_EPOLL_FD))
	    == NULL) {
		http_stop(web);
		return seterr(err, errsz, "libmicrohttpd has no epoll");
	}
	ev_io_init(&web->mhd_io, mhd_io_cb, info->epoll_fd, EV_READ);
	web->mhd_io.data = web;
	ev_io_start(web->loop, &web->mhd_io);
	ev_timer_init(&web->mhd_timer, mhd_timer_cb, 0., 0.);
	web->mhd_timer.data = web;
	http_run(web);
	return 0;
}

void
http_stop(struct web *web)
{
	struct web_request *r;

	if (web->mhd == NULL)
		return;
	/* Stopping with a connection suspended is not allowed. */
	TAILQ_FOREACH(r, &web->pending, entry)
		http_resume(r);
	TAILQ_FOREACH(r, &web->streams, entry)
		http_resume(r);
	ev_io_stop(web->loop, &web->mhd_io);
	ev_timer_stop(web->loop, &web->mhd_timer);
	MHD_stop_daemon(web->mhd);
	web->mhd = NULL;
}
