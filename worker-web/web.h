/*
 * The web worker (lanspread-web): the players' page and its JSON API over
 * HTTP, served with libmicrohttpd on the listener the supervisor passed.
 * Commands go to the supervisor as control requests; its events reach
 * the page as Server-Sent Events.
 */
#ifndef LANSPREAD_WEB_H
#define LANSPREAD_WEB_H

#include <sys/queue.h>

#include "common/compat.h"

#include <ev.h>
#include <microhttpd.h>

#include "common/msgtypes.h"

#define WEB_MAX_CONNECTIONS	64	/* at once, all clients */
#define WEB_MAX_PER_IP		32
#define WEB_CONN_MEMORY		(32u * 1024)	/* headers and buffers */
#define WEB_IDLE_TIMEOUT	60	/* seconds a silent connection lives */
#define WEB_MAX_BODY		(64u * 1024)	/* one command */
#define WEB_MAX_PENDING		32	/* commands awaiting their reply */
#define WEB_EVENT_RING		1024	/* events a slow page may lag */
#define WEB_KEEPALIVE		15.0	/* seconds between SSE comments */

enum web_req_kind {
	WEB_REQ_OTHER,		/* answered on its first call */
	WEB_REQ_COMMAND,	/* POST /api/command */
	WEB_REQ_EVENTS,		/* GET /api/events */
};

/* One HTTP request, from its first header to its completion. */
struct web_request {
	TAILQ_ENTRY(web_request) entry;	/* pending or streams */
	struct web		*web;
	struct MHD_Connection	*conn;
	enum web_req_kind	 kind;
	int			 listed;
	int			 suspended;
	/* command */
	uint64_t		 req;		/* 0 until sent */
	char			*body;
	size_t			 body_len;
	int			 too_big;
	char			*reply;		/* the supervisor's answer */
	/* events */
	uint64_t		 next_seq;	/* the next event it gets */
	int			 greeted;
	int			 ping_due;
	char			*out;		/* what is being written */
	size_t			 out_len;
	size_t			 out_off;
};

/* The last events, numbered, for every stream to catch up from. */
struct web_events {
	char			*lines[WEB_EVENT_RING];
	uint64_t		 first;		/* oldest kept */
	uint64_t		 next;		/* the next event's number */
};

struct web {
	struct ev_loop		*loop;
	struct msgconn		 sup;
	struct MHD_Daemon	*mhd;
	ev_io			 mhd_io;	/* libmicrohttpd's epoll fd */
	ev_timer		 mhd_timer;
	ev_timer		 keepalive;
	int			 port;		/* ours, for Host */
	char			 addr[ADDR_STRLEN];
	char			 token[WEB_TOKEN_SIZE];	/* "": loopback */
	uint64_t		 next_req;
	TAILQ_HEAD(, web_request) pending;
	int			 npending;
	TAILQ_HEAD(, web_request) streams;
	struct web_events	 events;
};

/* web.c */
struct web	*web_new(struct ev_loop *, int fd);
void		 web_free(struct web *);
int		 web_send_command(struct web *, struct web_request *);

/* http.c */
int		 http_start(struct web *, int fd, char *err, size_t errsz);
void		 http_stop(struct web *);
void		 http_run(struct web *);
void		 http_resume(struct web_request *);
void		 http_reply(struct web *, uint64_t req, const char *line);
struct MHD_Response *http_response(const void *, size_t, const char *type,
		    enum MHD_ResponseMemoryMode);

/* events.c */
void		 events_push(struct web *, const char *line);
void		 events_start(struct web *);
void		 events_stop(struct web *);
enum MHD_Result	 events_open(struct web *, struct web_request *);
void		 events_close(struct web *, struct web_request *);

/* assets.c (generated from worker-web/assets/) */
struct web_asset {
	const char		*path;		/* "/app.js" */
	const char		*type;		/* its Content-Type */
	const unsigned char	*data;
	size_t			 len;
};
const struct web_asset	*web_asset_find(const char *path);

#endif
