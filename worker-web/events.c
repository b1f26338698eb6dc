/*
 * The control events as Server-Sent Events (GET /api/events): the last
 * WEB_EVENT_RING events are kept, numbered; each stream writes from its
 * own place and is suspended when it has caught up, until the next event
 * or keep-alive. A stream that falls a whole ring behind is ended: the
 * page reconnects and reloads what it shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker-web/web.h"

static const char greeting[] = ": lanspread events\nretry: 2000\n\n";
static const char ping[] = ": ping\n\n";

static void
wake_streams(struct web *web)
{
	struct web_request *r;

	TAILQ_FOREACH(r, &web->streams, entry)
		http_resume(r);
	http_run(web);
}

void
events_push(struct web *web, const char *line)
{
	struct web_events *ev = &web->events;
	size_t		 slot = ev->next % WEB_EVENT_RING;
	char		*copy;

	if ((copy = strdup(line)) == NULL)
		return;
	if (ev->next - ev->first == WEB_EVENT_RING) {
		free(ev->lines[ev->first % WEB_EVENT_RING]);
		ev->lines[ev->first % WEB_EVENT_RING] = NULL;
		ev->first++;
	}
	ev->lines[slot] = copy;
	ev->next++;
	wake_streams(web);
}

static void
keepalive_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct web	*web = w->data;
	struct web_request *r;

	(void)loop;
	(void)revents;
	/* A comment now and then: proxies stay open, dead pages are found. */
	TAILQ_FOREACH(r, &web->streams, entry)
		r->ping_due = 1;
	wake_streams(web);
}

void
events_start(struct web *web)
{
	ev_timer_init(&web->keepalive, keepalive_cb, WEB_KEEPALIVE,
	    WEB_KEEPALIVE);
	web->keepalive.data = web;
	ev_timer_start(web->loop, &web->keepalive);
}

void
events_stop(struct web *web)
{
	size_t	 i;

	ev_timer_stop(web->loop, &web->keepalive);
	for (i = 0; i < WEB_EVENT_RING; i++) {
		free(web->events.lines[i]);
		web->events.lines[i] = NULL;
	}
}

/* The next text a stream writes, in r->out; 0, or -1: nothing yet. */
static int
next_out(struct web *web, struct web_request *r)
{
	struct web_events *ev = &web->events;
	const char	*line;
	size_t		 len;

	free(r->out);
	r->out = NULL;
	r->out_len = r->out_off = 0;
	if (!r->greeted) {
		r->greeted = 1;
		r->out = strdup(greeting);
	} else if (r->next_seq < ev->next) {
		line = ev->lines[r->next_seq % WEB_EVENT_RING];
		len = strlen(line);
		if ((r->out = malloc(len + 9)) != NULL)
			snprintf(r->out, len + 9, "data: %s\n\n", line);
		r->next_seq++;
	} else if (r->ping_due) {
		r->ping_due = 0;
		r->out = strdup(ping);
	} else
		return -1;
	if (r->out == NULL)
		return -1;
	r->out_len = strlen(r->out);
	return 0;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct web_request *r = cls;
	struct web	*web = r->web;
	size_t		 n;

	(void)pos;
	if (r->next_seq < web->events.first)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (r->out_off == r->out_len && next_out(web, r) == -1) {
		/* Caught up: wait for the next event or keep-alive. */
		MHD_suspend_connection(r->conn);
		r->suspended = 1;
		return 0;
	}
	n = r->out_len - r->out_off;
	if (n > max)
		n = max;
	memcpy(buf, r->out + r->out_off, n);
	r->out_off += n;
	return (ssize_t)n;
}

enum MHD_Result
events_open(struct web *web, struct web_request *r)
{
	struct MHD_Response *resp;
	enum MHD_Result	 rc;

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	    stream_read, r, NULL);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	r->next_seq = web->events.next;
	TAILQ_INSERT_TAIL(&web->streams, r, entry);
	r->listed = 1;
	rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

void
events_close(struct web *web, struct web_request *r)
{
	if (!r->listed)
		return;
	TAILQ_REMOVE(&web->streams, r, entry);
	r->listed = 0;
}
