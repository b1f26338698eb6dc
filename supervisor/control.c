/*
 * The control protocol's transport: JSON lines on stdin/stdout (the shim)
 * or on a Unix socket (the daemon). A line is one request; replies and
 * events are written back in order. Nothing a client sends can stop the
 * others: bad lines get an error reply, slow readers are cut off. A
 * client may also have no socket at all: its lines go to a sink (the web
 * worker's requests and events).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "supervisor/supervisor.h"

#define CTL_MAX_LINE	(1024 * 1024)
#define CTL_MAX_CLIENTS	64
/*
 * Output waiting for a client that does not read is bounded: a socket
 * client with more than CTL_CLIENT_QUEUED unread is dropped, and so is
 * one holding more than a little while all of them together hold more
 * than CTL_TOTAL_QUEUED. The shim's stdio (the one reader it has) may
 * fall further behind.
 */
#define CTL_CLIENT_QUEUED	(4u * 1024 * 1024)
#define CTL_TOTAL_QUEUED	(32u * 1024 * 1024)
#define CTL_SLACK_QUEUED	(64u * 1024)
#define CTL_STDIO_QUEUED	(64u * 1024 * 1024)
/* How long the shim tries to say its last lines at shutdown. */
#define STDIO_LAST_WORDS_MS	500

struct outbuf {
	TAILQ_ENTRY(outbuf)	 entry;
	size_t			 len;
	size_t			 off;
	char			 data[];
};

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	uint64_t		 serial;
	int			 rfd;
	int			 wfd;
	int			 is_stdio;
	int			 subscribed;	/* wants events */
	int			 discarding;	/* inside an oversized line */
	ev_io			 rio;
	ev_io			 wio;
	char			*buf;
	size_t			 len;
	size_t			 cap;
	TAILQ_HEAD(, outbuf)	 out;
	size_t			 queued;
	struct sup		*sup;
	control_sink		 sink;		/* no socket: lines go here */
	void			*sink_arg;
	uint64_t		 sink_tag;
	int			 one_shot;	/* ends after its first line */
	int			 finished;	/* a one-shot that answered */
};

static TAILQ_HEAD(, ctl_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static uint64_t		 next_serial = 1;
static int		 nclients;
static size_t		 socket_queued;	/* by every socket client */
static int		 listen_fd = -1;
static char		 listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static ev_io		 listen_io;
static ev_timer		 listen_pause;
static gid_t		 listen_gid;
static ev_timer		 reaper;	/* frees answered one-shots */
static int		 reaper_armed;

static void	client_free(struct ctl_client *);

static struct ctl_client *
client_find(uint64_t serial)
{
	struct ctl_client *c;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->serial == serial)
			return c;
	return NULL;
}

static int
client_flush(struct ctl_client *c)
{
	struct outbuf	*ob;

	while ((ob = TAILQ_FIRST(&c->out)) != NULL) {
		ssize_t	 n;

		n = c->is_stdio ? write(c->wfd, ob->data + ob->off,
		    ob->len - ob->off) : send(c->wfd, ob->data + ob->off,
		    ob->len - ob->off, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		ob->off += n;
		c->queued -= n;
		if (!c->is_stdio)
			socket_queued -= n;
		if (ob->off == ob->len) {
			TAILQ_REMOVE(&c->out, ob, entry);
			free(ob);
		}
	}
	if (TAILQ_EMPTY(&c->out))
		ev_io_stop(c->sup->loop, &c->wio);
	else
		ev_io_start(c->sup->loop, &c->wio);
	return 0;
}

static void
client_lost(struct ctl_client *c)
{
	struct sup	*sup = c->sup;

	if (c->is_stdio) {
		/* The harness or terminal went away: shut down cleanly. */
		log_info("control input closed, shutting down");
		client_free(c);
		sup_stop(sup, 0);
		return;
	}
	client_free(c);
}

/*
 * Whether a client has fallen so far behind that it goes: over its own
 * limit, or holding more than a little when every client together is
 * over theirs (whoever is written to next and has not read goes first).
 */
static int
client_too_far_behind(const struct ctl_client *c)
{
	if (c->is_stdio)
		return c->queued > CTL_STDIO_QUEUED;
	return c->queued > CTL_CLIENT_QUEUED ||
	    (socket_queued > CTL_TOTAL_QUEUED && c->queued > CTL_SLACK_QUEUED);
}

static void
reaper_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_client *c, *next;

	(void)loop;
	(void)w;
	(void)revents;
	reaper_armed = 0;
	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (c->finished)
			client_free(c);
}

/*
 * A socketless client's line goes to its sink. A one-shot client is
 * freed once the command that answered has returned (from the loop, not
 * from inside it: the caller may still hold its pending request).
 */
static void
sink_write(struct ctl_client *c, const char *s, size_t len)
{
	if (c->finished)
		return;
	c->sink(c->sink_arg, c->sink_tag, s, len);
	if (!c->one_shot)
		return;
	c->finished = 1;
	if (!reaper_armed) {
		ev_timer_init(&reaper, reaper_cb, 0., 0.);
		ev_timer_start(c->sup->loop, &reaper);
		reaper_armed = 1;
	}
}

/* Queues one JSON value as a line; steals the reference. */
static void
client_write(struct ctl_client *c, json_t *v)
{
	struct outbuf	*ob;
	char		*s;
	size_t		 len;

	s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(v);
	if (s == NULL)
		return;
	len = strlen(s);
	if (c->sink != NULL) {
		sink_write(c, s, len);
		free(s);
		return;
	}
	if (client_too_far_behind(c) ||
	    (ob = malloc(sizeof(*ob) + len + 1)) == NULL) {
		free(s);
		log_warnx("control client %llu is not reading (%zu bytes "
		    "waiting, %zu for all clients), dropping it",
		    (unsigned long long)c->serial, c->queued, socket_queued);
		client_lost(c);
		return;
	}
	memcpy(ob->data, s, len);
	ob->data[len] = '\n';
	ob->len = len + 1;
	ob->off = 0;
	free(s);
	TAILQ_INSERT_TAIL(&c->out, ob, entry);
	c->queued += ob->len;
	if (!c->is_stdio)
		socket_queued += ob->len;
	if (client_flush(c) == -1)
		client_lost(c);
}

void
control_reply(uint64_t client, json_t *id, json_t *data)
{
	struct ctl_client *c = client_find(client);

	if (c == NULL) {
		json_decref(data);
		return;
	}
	client_write(c, json_pack("{s:O?,s:s,s:o}", "id", id, "type",
	    "result", "data", data ? data : json_object()));
}

void
control_error(uint64_t client, json_t *id, const char *fmt, ...)
{
	struct ctl_client *c = client_find(client);
	char		 msg[1024];
	va_list		 ap;

	if (c == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_write(c, json_pack("{s:O?,s:s,s:s}", "id", id, "type",
	    "error", "error", msg));
}

/* Events go to every subscribed client, in order; steals data. */
void
control_event(const char *name, json_t *data)
{
	struct ctl_client *c, *next;

	TAILQ_FOREACH_SAFE(c, &clients, entry, next)
		if (c->subscribed)
			client_write(c, json_pack("{s:s,s:s,s:O}", "type",
			    "event", "event", name, "data", data));
	done_script_event(name, data);
	json_decref(data);
}

/* Socket clients ask for events; the shim's stdio always has them. */
int
control_subscribe(uint64_t client)
{
	struct ctl_client *c = client_find(client);

	if (c == NULL)
		return -1;
	c->subscribed = 1;
	return 0;
}

static void
client_line(struct ctl_client *c, const char *line, size_t len)
{
	json_error_t	 jerr;
	json_t		*req, *id;

	if (len == 0)
		return;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &jerr);
	if (req == NULL) {
		control_error(c->serial, NULL, "malformed JSON: %s", jerr.text);
		return;
	}
	if (!json_is_object(req)) {
		control_error(c->serial, NULL, "a request must be a JSON object");
		json_decref(req);
		return;
	}
	id = json_object_get(req, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id)) {
		control_error(c->serial, NULL,
		    "field id must be a string or an integer");
		json_decref(req);
		return;
	}
	commands_dispatch(c->sup, c->serial, req);
	json_decref(req);
}

/*
 * The id of a line too long to parse, when it leads the object as in
 * {"id":"x",...}, so even that error reply reaches the right request.
 */
static json_t *
sniff_id(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + (len < 4096 ? len : 4096);
	const char	*tok;
	json_t		*id;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != '{')
		return NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 5 || memcmp(p, "\"id\"", 4) != 0)
		return NULL;
	p += 4;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p++ != ':')
		return NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	tok = p;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++)
			if (*p == '\\')
				p++;
		if (p >= end)
			return NULL;
		p++;
	} else
		while (p < end && ((*p >= '0' && *p <= '9') || *p == '-'))
			p++;
	id = json_loadb(tok, p - tok, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (id != NULL && !json_is_string(id) && !json_is_integer(id)) {
		json_decref(id);
		return NULL;
	}
	return id;
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *c = w->data;
	uint64_t	 serial = c->serial;
	size_t		 start = 0, i, scan;
	ssize_t		 n;

	(void)loop;
	(void)revents;
	if (c->cap - c->len < 65536) {
		size_t	 ncap = c->cap ? c->cap * 2 : 131072;
		char	*nbuf;

		if (ncap > CTL_MAX_LINE + 131072)
			ncap = CTL_MAX_LINE + 131072;
		if ((nbuf = realloc(c->buf, ncap)) == NULL) {
			client_lost(c);
			return;
		}
		c->buf = nbuf;
		c->cap = ncap;
	}
	n = read(c->rfd, c->buf + c->len, c->cap - c->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_lost(c);
		return;
	}
	scan = c->len;
	c->len += n;
	for (i = scan; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		if (c->discarding)
			c->discarding = 0;
		else
			client_line(c, c->buf + start, i - start);
		/* A command may have ended this client or the supervisor. */
		if ((c = client_find(serial)) == NULL)
			return;
		start = i + 1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len > CTL_MAX_LINE) {
		if (!c->discarding) {
			json_t	*id = sniff_id(c->buf, c->len);

			control_error(c->serial, id,
			    "request line exceeds %d bytes", CTL_MAX_LINE);
			json_decref(id);
		}
		c->discarding = 1;
		c->len = 0;
	}
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *c = w->data;

	(void)loop;
	(void)revents;
	if (client_flush(c) == -1)
		client_lost(c);
}

static struct ctl_client *
client_new(struct sup *sup, int rfd, int wfd, int is_stdio)
{
	struct ctl_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->serial = next_serial++;
	c->rfd = rfd;
	c->wfd = wfd;
	c->is_stdio = is_stdio;
	c->subscribed = is_stdio;
	c->sup = sup;
	TAILQ_INIT(&c->out);
	ev_io_init(&c->rio, client_read_cb, rfd, EV_READ);
	ev_io_init(&c->wio, client_write_cb, wfd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(sup->loop, &c->rio);
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	return c;
}

/*
 * The shim's last lines (the shutdown reply) before it goes: written for
 * at most STDIO_LAST_WORDS_MS, as nobody may be reading its stdout.
 */
static void
stdio_last_words(struct ctl_client *c)
{
	struct pollfd	 pfd = { .fd = c->wfd, .events = POLLOUT };
	struct timespec	 t0, t;
	long		 left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (client_flush(c) == 0 && !TAILQ_EMPTY(&c->out)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = STDIO_LAST_WORDS_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			log_warnx("stdout is not read: %zu bytes of output "
			    "dropped", c->queued);
			return;
		}
		(void)poll(&pfd, 1, (int)left);
	}
}

static void
client_free(struct ctl_client *c)
{
	struct outbuf	*ob;

	commands_client_gone(c->sup, c->serial);
	ev_io_stop(c->sup->loop, &c->rio);
	ev_io_stop(c->sup->loop, &c->wio);
	/* A sink has no socket: nothing to close or flush. */
	if (c->sink == NULL && !c->is_stdio)
		close(c->rfd);
	else if (c->sink == NULL)
		stdio_last_words(c);
	while ((ob = TAILQ_FIRST(&c->out)) != NULL) {
		TAILQ_REMOVE(&c->out, ob, entry);
		free(ob);
	}
	if (!c->is_stdio)
		socket_queued -= c->queued;
	TAILQ_REMOVE(&clients, c, entry);
	if (c->sink == NULL)
		nclients--;
	free(c->buf);
	free(c);
}

/*
 * A client without a socket: what it is answered (and, once subscribed,
 * the events) goes to sink with tag. A one-shot client ends after its
 * first line, its reply. Returns its serial, or 0. These do not count
 * against CTL_MAX_CLIENTS: their owner bounds them.
 */
uint64_t
control_sink_open(struct sup *sup, int one_shot, control_sink sink,
    void *arg, uint64_t tag)
{
	struct ctl_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return 0;
	c->serial = next_serial++;
	c->rfd = c->wfd = -1;
	c->sup = sup;
	c->sink = sink;
	c->sink_arg = arg;
	c->sink_tag = tag;
	c->one_shot = one_shot;
	TAILQ_INIT(&c->out);
	TAILQ_INSERT_TAIL(&clients, c, entry);
	return c->serial;
}

/* One request of a socketless client: the text of one JSON object. */
void
control_sink_request(uint64_t client, const char *req, size_t len)
{
	struct ctl_client *c = client_find(client);

	if (c == NULL || c->sink == NULL)
		return;
	if (len == 0) {
		control_error(c->serial, NULL, "empty request");
		return;
	}
	client_line(c, req, len);
}

void
control_sink_close(uint64_t client)
{
	struct ctl_client *c = client_find(client);

	if (c != NULL && c->sink != NULL)
		client_free(c);
}

int
control_stdio_start(struct sup *sup)
{
	if (proc_set_nonblock(STDIN_FILENO) == -1 ||
	    proc_set_nonblock(STDOUT_FILENO) == -1)
		return -1;
	return client_new(sup, STDIN_FILENO, STDOUT_FILENO, 1) ? 0 : -1;
}

/* Whether a process belongs to a group, as /proc says of it. */
static int
pid_in_group(pid_t pid, gid_t gid)
{
	char	 path[64], line[4096];
	FILE	*f;
	int	 found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char	*p, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; !found; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			found = g == gid;
		}
	}
	fclose(f);
	return found;
}

/*
 * Root, ourselves, and members of the control group may drive us; never
 * one of our own workers (nor a process one started), whatever its uid,
 * nor the net worker's user.
 */
static int
client_allowed(struct sup *sup, const struct ucred *cred)
{
	pid_t	 pids[PROC_MAX];
	int	 i;

	for (i = 0; i < PROC_MAX; i++)
		pids[i] = i == PROC_SUPERVISOR ? -1 : sup->workers[i].pid;
	if (proc_is_worker(cred->pid, pids, PROC_MAX))
		return 0;
	if (proc_opts.net_uid != (uid_t)-1 && cred->uid == proc_opts.net_uid)
		return 0;
	return cred->uid == 0 || cred->uid == geteuid() ||
	    cred->gid == listen_gid || pid_in_group(cred->pid, listen_gid);
}

static void
listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sup	*sup = w->data;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd;

	(void)loop;
	(void)revents;
	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: pause rather than spin. */
			log_warn("control accept");
			ev_io_stop(sup->loop, &listen_io);
			ev_timer_start(sup->loop, &listen_pause);
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    !client_allowed(sup, &cred) || nclients >= CTL_MAX_CLIENTS) {
		log_warnx("control client pid %d uid %d refused",
		    (int)cred.pid, (int)cred.uid);
		close(fd);
		return;
	}
	log_debug("control client pid %d uid %d", (int)cred.pid,
	    (int)cred.uid);
	if (client_new(sup, fd, fd, 0) == NULL)
		close(fd);
}

static void
listen_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_io_start(loop, &listen_io);
}

/*
 * Binds the control socket, mode 0660, owned by uid:gid; done before
 * privileges are dropped, since its folder may belong to root.
 */
int
control_socket_open(const char *path, uid_t uid, gid_t gid)
{
	struct sockaddr_un sun;
	mode_t		 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	snprintf(listen_path, sizeof(listen_path), "%s", path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (listen_fd == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		goto fail;
	old = umask(0117);
	if (bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chmod(path, 0660) == -1 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) == -1) || listen(listen_fd, 16) == -1)
		goto fail;
	listen_gid = gid != (gid_t)-1 ? gid : getegid();
	return 0;
fail:
	close(listen_fd);
	listen_fd = -1;
	return -1;
}

/* Starts accepting on the socket opened before (or opens it now). */
int
control_socket_start(struct sup *sup, const char *path)
{
	if (listen_fd == -1 &&
	    control_socket_open(path, (uid_t)-1, (gid_t)-1) == -1)
		return -1;
	ev_io_init(&listen_io, listen_cb, listen_fd, EV_READ);
	listen_io.data = sup;
	ev_io_start(sup->loop, &listen_io);
	ev_timer_init(&listen_pause, listen_resume, 1.0, 0);
	return 0;
}

void
control_stop(struct sup *sup)
{
	struct ctl_client *c;

	while ((c = TAILQ_FIRST(&clients)) != NULL)
		client_free(c);
	if (reaper_armed) {
		ev_timer_stop(sup->loop, &reaper);
		reaper_armed = 0;
	}
	if (listen_fd != -1) {
		ev_io_stop(sup->loop, &listen_io);
		ev_timer_stop(sup->loop, &listen_pause);
		close(listen_fd);
		unlink(listen_path);
		listen_fd = -1;
	}
}
