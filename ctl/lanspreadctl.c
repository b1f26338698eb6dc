/*
 * lanspreadctl: drives a running lanspreadd over its control socket.
 * Tables for people, --json for scripts; long operations show a live
 * progress bar per phase when standard output is a terminal, and end
 * with an exit code that says how they went: 0 ok, 1 the command failed,
 * 2 usage, 3 daemon unreachable, 130 interrupted (the daemon goes on).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#ifndef LANSPREAD_VERSION
#define LANSPREAD_VERSION "unknown"
#endif

#define DEFAULT_SOCKET	"/run/lanspread/control.sock"
#define DEFAULT_GROUP	"lanspread"
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_UNREACHABLE 3
#define EXIT_INTERRUPTED 130	/* as a shell reports death by SIGINT */

#define BAR_MIN		10	/* narrowest bar worth drawing */
#define BAR_MAX		50	/* and the widest */
#define BAR_ID_MAX	20	/* longest game id shown on a bar */
#define REDRAW_S	0.1	/* at most ten redraws a second */

enum wait_for {
	WAIT_NONE,
	WAIT_DOWNLOAD,		/* download-finished */
	WAIT_INSTALL,		/* install-finished */
	WAIT_UNINSTALL,		/* uninstall-finished */
	WAIT_FOREVER,		/* watch */
};

struct command {
	const char	*name;
	const char	*args;		/* its arguments, for the usage */
	const char	*what;		/* one line, for the usage */
	int		 nargs;		/* positional arguments */
	json_t		*(*build)(char **args, int *waitp);
	void		(*show)(json_t *data);
};

/* The line a progress bar lives on, and how fast its phase goes. */
struct bar {
	const char	*label;		/* the phase; NULL when none is drawn */
	double		 started;	/* when the phase's first event came */
	double		 first_bytes;	/* its bytes then */
	double		 drawn;		/* when it was last drawn */
};

static int	 json_out;
static int	 tty_out;		/* stdout is a terminal: bars */
static int	 sock = -1;
static char	 rbuf[1 << 20];
static size_t	 rlen;
static struct bar bar;
static const char *sock_path;
static int	 sock_given;		/* -s was given: hints repeat it */

/* Ctrl-C while waiting: the work goes on in the daemon, we say how. */
static volatile sig_atomic_t interrupted;
static sigset_t	 wait_mask;		/* the mask to wait with */
static const char *phase_game;
static const char *phase = "";		/* what goes on: "download", ... */

static void	 usage(FILE *, int) __attribute__((noreturn));

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Erases the bar, so that what follows takes its line. */
static void
bar_clear(void)
{
	if (bar.label != NULL) {
		fputs("\r\033[K", stdout);
		fflush(stdout);
	}
	bar.label = NULL;
}

static void __attribute__((noreturn))
gone(void)
{
	bar_clear();
	fprintf(stderr, "lanspreadctl: daemon went away\n");
	exit(EXIT_UNREACHABLE);
}

/* The interrupted wait: say that the work goes on, and how to stop it. */
static void __attribute__((noreturn))
give_up(void)
{
	const char	*s = sock_given ? " -s " : "";
	const char	*p = sock_given ? sock_path : "";

	bar_clear();
	fprintf(stderr, "lanspreadctl: interrupted; the %s of %s goes on in "
	    "lanspreadd\n", phase, phase_game);
	if (strcmp(phase, "download") == 0 || strcmp(phase, "stream-install")
	    == 0)
		fprintf(stderr, "lanspreadctl: to cancel it: lanspreadctl%s%s "
		    "cancel %s\n", s, p, phase_game);
	else
		fprintf(stderr, "lanspreadctl: it cannot be cancelled; "
		    "lanspreadctl%s%s status shows it\n", s, p);
	fprintf(stderr, "lanspreadctl: to follow it: lanspreadctl%s%s "
	    "watch\n", s, p);
	exit(EXIT_INTERRUPTED);
}

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * From here on SIGINT is blocked but while waiting for the daemon, so
 * that a Ctrl-C cannot slip in between a check and the wait.
 */
static void
catch_sigint(void)
{
	struct sigaction sa;
	sigset_t	 block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
}

static void
send_line(json_t *req)
{
	char	*s = json_dumps(req, JSON_COMPACT);
	size_t	 len, off = 0;

	if (s == NULL)
		exit(EXIT_FAILED);
	len = strlen(s);
	s[len] = '\n';	/* json_dumps leaves room for its NUL */
	while (off < len + 1) {
		ssize_t	 n = write(sock, s + off, len + 1 - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			gone();
		off += n;
	}
	free(s);
}

/* The next line from the daemon; exits when it goes away. */
static json_t *
read_line(void)
{
	struct pollfd	 pfd = { .fd = sock, .events = POLLIN };

	for (;;) {
		char	*nl = memchr(rbuf, '\n', rlen);
		ssize_t	 n;

		if (nl != NULL) {
			json_t	*v = json_loadb(rbuf, nl - rbuf, 0, NULL);
			size_t	 used = nl - rbuf + 1;

			memmove(rbuf, rbuf + used, rlen - used);
			rlen -= used;
			if (v != NULL)
				return v;
			continue;
		}
		if (rlen == sizeof(rbuf))
			rlen = 0;	/* a line we cannot hold: skip it */
		if (interrupted)
			give_up();
		if (ppoll(&pfd, 1, NULL, &wait_mask) == -1) {
			if (errno == EINTR)
				continue;
			gone();
		}
		n = read(sock, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			gone();
		rlen += n;
	}
}

static const char *
str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static double
num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void
human_size(double bytes, char *buf, size_t size)
{
	const char	*units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int		 u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* Time left as m:ss or h:mm:ss; "--:--" when it cannot be told. */
static void
human_eta(double done, double total, double rate, char *buf, size_t size)
{
	long	 s;

	if (rate <= 0 || total <= 0 || done > total ||
	    (total - done) / rate > 100 * 3600.0) {
		snprintf(buf, size, "--:--");
		return;
	}
	s = (long)((total - done) / rate + 0.5);
	if (s >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

/* The terminal's width: the tty's, else $COLUMNS, else 80. */
static int
term_columns(void)
{
	struct winsize	 ws;
	const char	*e = getenv("COLUMNS");
	char		*end;
	long		 n;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (e != NULL && *e != '\0') {
		n = strtol(e, &end, 10);
		if (*end == '\0' && n > 0 && n < 10000)
			return (int)n;
	}
	return 80;
}

/*
 * Formats one progress line of at most width columns (all ASCII, so
 * bytes are columns), dropping parts from the right as room runs out:
 *   download cnctw [#######....]  45% 1.2 GiB/2.0 GiB 112.0 MiB/s ETA 0:08
 */
static void
bar_format(char *out, size_t size, int width, const char *label,
    const char *game, double done, double total, double rate)
{
	char	 d[32], t[32], r[40], eta[32], pct[8], sizes[72], id[64];
	char	 fill[256];
	int	 room, n, f;

	if (size == 0)
		return;
	if (width >= (int)size)
		width = (int)size - 1;
	snprintf(id, sizeof(id), "%.*s%s", BAR_ID_MAX, game,
	    strlen(game) > BAR_ID_MAX ? "~" : "");
	human_size(done, d, sizeof(d));
	human_size(total, t, sizeof(t));
	human_size(rate, r, sizeof(r));
	strncat(r, "/s", sizeof(r) - strlen(r) - 1);
	if (total <= 0) {
		/* No total: no bar, no percentage, no time left. */
		snprintf(out, size, "%-8s %s %s %s", label, id, d, r);
		out[width > 0 ? width : 0] = '\0';
		return;
	}
	human_eta(done, total, rate, eta, sizeof(eta));
	snprintf(pct, sizeof(pct), "%3.0f%%", done > total ? 100.0 :
	    100 * done / total);
	snprintf(sizes, sizeof(sizes), " %s/%s", d, t);
	for (int part = 0; part < 3; part++) {
		const char *sz = part == 0 ? sizes : "";
		const char *rt = part < 2 ? r : "";

		/* label id [bar] pct sizes rate eta */
		n = snprintf(NULL, 0, "%-8s %s [] %s%s%s%s ETA %s", label, id,
		    pct, sz, *rt ? " " : "", rt, eta);
		room = width - n;
		if (room >= BAR_MIN) {
			if (room > BAR_MAX)
				room = BAR_MAX;
			f = (int)(room * (done > total ? 1.0 : done / total));
			memset(fill, '#', f);
			memset(fill + f, '.', room - f);
			fill[room] = '\0';
			snprintf(out, size, "%-8s %s [%s] %s%s%s%s ETA %s", label,
			    id, fill, pct, sz, *rt ? " " : "", rt, eta);
			return;
		}
	}
	/* Too narrow for any bar: the figures, cut to the width. */
	snprintf(out, size, "%-8s %s %s %s ETA %s", label, id, pct, r, eta);
	out[width > 0 ? width : 0] = '\0';
}

/* One progress event: the bar of its phase, redrawn in place. */
static void
bar_update(const char *label, json_t *data)
{
	double	 done = num(data, "bytes"), total = num(data, "total_bytes");
	double	 rate = num(data, "bytes_per_s"), t = now_s();
	char	 line[512];

	if (!tty_out || json_out)
		return;
	if (bar.label != NULL && strcmp(bar.label, label) != 0)
		bar_clear();
	if (bar.label == NULL) {
		bar.label = label;
		bar.started = t;
		bar.first_bytes = done;
		bar.drawn = 0;
	}
	/* Redraw at most every REDRAW_S, but always the last step. */
	if (t - bar.drawn < REDRAW_S && (total <= 0 || done < total))
		return;
	if (rate <= 0 && t - bar.started > 0.5)
		rate = (done - bar.first_bytes) / (t - bar.started);
	/*
	 * Columns spare: one, as a full line wraps on some terminals, and
	 * two for the "^C" the terminal echoes on Ctrl-C, so that erasing
	 * the line erases all of it.
	 */
	bar_format(line, sizeof(line), term_columns() - 3, label,
	    str(data, "game_id"), done, total, rate);
	printf("\r%s\033[K", line);
	fflush(stdout);
	bar.drawn = t;
}

static void	op_figures(json_t *, char *, size_t);

static int
local_has(json_t *data, const char *id)
{
	json_t	*g;
	size_t	 i;

	json_array_foreach(json_object_get(data, "local"), i, g)
		if (strcmp(str(g, "id"), id) == 0)
			return 1;
	return 0;
}

/* Under a game's row, what it is busy with and how far it has come. */
static void
show_active(json_t *g)
{
	json_t	*op = json_object_get(g, "active");
	char	 fig[160];

	if (op == NULL)
		return;
	op_figures(op, fig, sizeof(fig));
	printf("  %s%s\n", str(op, "operation"), fig);
}

/* Under a game the catalog lacks, or lists at another version: why. */
static void
show_catalog_state(json_t *g)
{
	const char	*state = str(g, "catalog_state");

	if (strcmp(state, "not-in-catalog") == 0)
		printf("  not in the catalog: not served, not offered\n");
	else if (strcmp(state, "stale") == 0)
		printf("  stale: the catalog has version %s\n",
		    str(g, "catalog_version"));
}

static void
show_games(json_t *data)
{
	json_t	*g;
	size_t	 i;
	char	 sz[32];

	printf("%-16s %-12s %-10s %-10s %s\n", "LOCAL GAME", "STATE",
	    "VERSION", "SIZE", "NAME");
	json_array_foreach(json_object_get(data, "local"), i, g) {
		int	 inst = json_is_true(json_object_get(g, "installed"));

		human_size(num(g, "size"), sz, sizeof(sz));
		printf("%-16s %-12s %-10s %-10s %s\n", str(g, "id"),
		    inst ? "installed" : str(g, "availability"),
		    str(g, "eti_version"), sz, str(g, "name"));
		show_catalog_state(g);
		show_active(g);
	}
	printf("\n%-16s %-12s %-10s %-10s %s\n", "ON THE LAN", "PEERS",
	    "VERSION", "SIZE", "NAME");
	json_array_foreach(json_object_get(data, "remote"), i, g) {
		human_size(num(g, "size"), sz, sizeof(sz));
		printf("%-16s %-12lld %-10s %-10s %s\n", str(g, "id"),
		    (long long)json_integer_value(json_object_get(g,
		    "peer_count")), str(g, "eti_game_version"), sz,
		    str(g, "name"));
		/* Shown once: under the local row when there is one. */
		if (!local_has(data, str(g, "id")))
			show_active(g);
	}
}

static void
show_peers(json_t *data)
{
	json_t	*p;
	size_t	 i;

	printf("%-32s %-22s %-6s %s\n", "PEER", "ADDRESS", "GAMES", "NAME");
	json_array_foreach(json_object_get(data, "peers"), i, p)
		printf("%-32s %-22s %-6lld %s\n", str(p, "peer_id"),
		    str(p, "addr"), (long long)json_integer_value(
		    json_object_get(p, "game_count")), str(p, "name"));
}

/* ", 45% 1.2/2.0 GiB 112.0 MiB/s ETA 0:08" of an operation, if it says. */
static void
op_figures(json_t *op, char *buf, size_t size)
{
	double	 done = num(op, "bytes"), total = num(op, "total_bytes");
	double	 rate = num(op, "bytes_per_s");
	char	 d[32], t[32], r[32], eta[32];

	buf[0] = '\0';
	if (json_object_get(op, "bytes") == NULL)
		return;
	human_size(done, d, sizeof(d));
	human_size(rate, r, sizeof(r));
	if (total > 0) {
		human_size(total, t, sizeof(t));
		human_eta(done, total, rate, eta, sizeof(eta));
		snprintf(buf, size, ", %.0f%% %s/%s %s/s ETA %s",
		    100 * done / total, d, t, r, eta);
	} else
		snprintf(buf, size, ", %s %s/s", d, r);
}

static void
show_status(json_t *data)
{
	json_t		*op, *v, *cat = json_object_get(data, "catalog");
	const char	*k;
	size_t		 i;
	char		 fig[160];

	printf("peer      %s (%s)\naddress   %s\npeers     %lld\n",
	    str(data, "name"), str(data, "peer_id"), str(data, "addr"),
	    (long long)json_integer_value(json_object_get(data,
	    "peer_count")));
	if (cat != NULL)
		printf("catalog   %s, %lld games%s\n", str(cat, "source"),
		    (long long)num(cat, "games"), num(cat, "serial") > 0 ?
		    ", shares a signed one" : "");
	json_array_foreach(json_object_get(data, "active_operations"), i,
	    op) {
		op_figures(op, fig, sizeof(fig));
		printf("busy      %s: %s%s\n", str(op, "game_id"),
		    str(op, "operation"), fig);
	}
	json_object_foreach(json_object_get(data,
	    "active_outbound_transfers"), k, v)
		printf("serving   %s to %lld peer(s)\n", k,
		    (long long)json_integer_value(v));
}

static void
show_play(json_t *data)
{
	json_t	*o = json_object_get(data, "outcome");

	if (json_is_true(json_object_get(o, "already_applied")))
		printf("launch settings were applied at an earlier play; "
		    "--force applies them again\n");
	else
		printf("launch settings applied: account name %s, language "
		    "%s, persona name %s\n",
		    json_is_true(json_object_get(o, "account_name_written")) ?
		    "yes" : "no",
		    json_is_true(json_object_get(o, "language_written")) ?
		    "yes" : "no",
		    json_is_true(json_object_get(o, "persona_name_written")) ?
		    "yes" : "no");
}

static void
show_verify(json_t *data)
{
	json_t	*bad = json_object_get(data, "bad_pieces"), *b;
	size_t	 i;

	printf("%s: %zu of %lld pieces bad\n",
	    json_string_value(json_object_get(data, "game_id")),
	    json_array_size(bad),
	    (long long)json_integer_value(json_object_get(data, "pieces")));
	json_array_foreach(bad, i, b)
		printf("  %s at %lld, %lld bytes\n",
		    json_string_value(json_object_get(b, "relative_path")),
		    (long long)json_integer_value(json_object_get(b, "offset")),
		    (long long)json_integer_value(json_object_get(b,
		    "length")));
}

/* One event of watch, for people: time, event, game, what it says. */
static void
show_event(const char *ev, json_t *data)
{
	char		 when[16], a[32], b[32], r[32];
	time_t		 t = time(NULL);
	struct tm	*tm = localtime(&t);
	json_t		*v, *tp;
	const char	*k;
	size_t		 i;

	if (tm == NULL || strftime(when, sizeof(when), "%H:%M:%S", tm) == 0)
		snprintf(when, sizeof(when), "--:--:--");
	printf("%s %s", when, ev);
	if (json_is_string(json_object_get(data, "game_id")))
		printf(" %s", str(data, "game_id"));
	if (strcmp(ev, "download-progress") == 0 ||
	    strcmp(ev, "install-progress") == 0) {
		human_size(num(data, "bytes"), a, sizeof(a));
		human_size(num(data, "total_bytes"), b, sizeof(b));
		human_size(num(data, "bytes_per_s"), r, sizeof(r));
		if (num(data, "total_bytes") > 0)
			printf(" %.0f%% %s/%s", 100 * num(data, "bytes") /
			    num(data, "total_bytes"), a, b);
		else
			printf(" %s", a);
		printf(" %s/s", r);
	} else if (strcmp(ev, "download-begin") == 0) {
		human_size(num(data, "total_bytes"), a, sizeof(a));
		printf(" %s", a);
	} else if (strcmp(ev, "download-finished") == 0) {
		tp = json_object_get(data, "throughput");
		human_size(num(tp, "bytes"), a, sizeof(a));
		printf(" %s in %.1f s (%.0f MiB/s)", a,
		    num(tp, "duration_ms") / 1000, num(tp, "mib_per_s"));
	} else if (strcmp(ev, "download-chunk-finished") == 0) {
		human_size(num(data, "length"), a, sizeof(a));
		printf(" %s at %.0f, %s from %s", str(data, "relative_path"),
		    num(data, "offset"), a, str(data, "peer_addr"));
	} else if (strcmp(ev, "active-operations-changed") == 0) {
		json_array_foreach(json_object_get(data,
		    "active_operations"), i, v)
			printf(" %s:%s", str(v, "game_id"),
			    str(v, "operation"));
		if (json_array_size(json_object_get(data,
		    "active_operations")) == 0)
			printf(" none");
	} else {
		/* Any other event: its plain fields, key=value. */
		json_object_foreach(data, k, v) {
			if (strcmp(k, "game_id") == 0)
				continue;
			if (json_is_string(v))
				printf(" %s=%s", k, json_string_value(v));
			else if (json_is_integer(v))
				printf(" %s=%lld", k,
				    (long long)json_integer_value(v));
			else if (json_is_real(v))
				printf(" %s=%g", k, json_real_value(v));
			else if (json_is_boolean(v))
				printf(" %s=%s", k, json_is_true(v) ? "yes" :
				    "no");
			else if (json_is_array(v))
				printf(" %s=[%zu]", k, json_array_size(v));
		}
	}
	putchar('\n');
	fflush(stdout);
}

static json_t *
req_plain(const char *cmd)
{
	return json_pack("{s:s}", "cmd", cmd);
}

static json_t *b_games(char **a, int *w) { (void)a; (void)w;
	return req_plain("list-games"); }
static json_t *b_peers(char **a, int *w) { (void)a; (void)w;
	return req_plain("list-peers"); }
static json_t *b_status(char **a, int *w) { (void)a; (void)w;
	return req_plain("status"); }
/* catalog publish | catalog key; main() checked the word. */
static json_t *
b_catalog(char **a, int *w)
{
	(void)w;
	return req_plain(strcmp(a[0], "publish") == 0 ? "catalog-publish" :
	    "catalog-key");
}

static json_t *b_reload(char **a, int *w) { (void)a; (void)w;
	return req_plain("reload"); }
static json_t *b_watch(char **a, int *w) { (void)a;
	*w = WAIT_FOREVER; return req_plain("subscribe"); }

static json_t *
b_connect(char **a, int *w)
{
	(void)w;
	return json_pack("{s:s,s:s}", "cmd", "connect", "addr", a[0]);
}

static json_t *
b_download(char **a, int *w)
{
	int	 install = a[1] == NULL;

	*w = install ? WAIT_INSTALL : WAIT_DOWNLOAD;
	phase = "download";
	return json_pack("{s:s,s:s,s:b}", "cmd", "download", "game_id", a[0],
	    "install", install);
}

static json_t *
b_game_cmd(const char *cmd, char **a, int *w, int wait)
{
	*w = wait;
	phase = cmd;
	return json_pack("{s:s,s:s}", "cmd", cmd, "game_id", a[0]);
}

static json_t *b_install(char **a, int *w) {
	return b_game_cmd("install", a, w, WAIT_INSTALL); }
static json_t *b_uninstall(char **a, int *w) {
	return b_game_cmd("uninstall", a, w, WAIT_UNINSTALL); }
static json_t *b_stream(char **a, int *w) {
	return b_game_cmd("stream-install", a, w, WAIT_INSTALL); }
static json_t *b_cancel(char **a, int *w) {
	return b_game_cmd("cancel-download", a, w, WAIT_NONE); }
static json_t *b_verify(char **a, int *w) {
	return b_game_cmd("verify", a, w, WAIT_NONE); }
static json_t *b_repair(char **a, int *w) {
	return b_game_cmd("repair", a, w, WAIT_DOWNLOAD); }

static json_t *
b_disconnect(char **a, int *w)
{
	(void)w;
	return json_pack("{s:s,s:s}", "cmd", "disconnect", "peer", a[0]);
}

/* a[3] is set by --force: apply the settings again. */
static json_t *
b_play(char **a, int *w)
{
	(void)w;
	return json_pack("{s:s,s:s,s:s,s:s,s:b}", "cmd", "play", "game_id",
	    a[0], "username", a[1], "language", a[2], "force", a[3] != NULL);
}

static void
show_reload(json_t *data)
{
	printf("catalog %s: %lld games (%lld added, %lld removed, %lld at "
	    "another version)\n", str(data, "catalog"),
	    (long long)num(data, "games"), (long long)num(data, "added"),
	    (long long)num(data, "removed"), (long long)num(data, "changed"));
}

static void
show_catalog(json_t *data)
{
	if (json_object_get(data, "serial") != NULL)
		printf("published %s as serial %lld (%lld games)\n",
		    str(data, "catalog"), (long long)num(data, "serial"),
		    (long long)num(data, "games"));
	printf("catalog key %s\n", str(data, "key"));
	if (json_object_get(data, "serial") == NULL)
		printf("on every other peer, in lanspread.conf:\n"
		    "    catalog_trust = %s\n", str(data, "key"));
}

static void
show_disconnect(json_t *data)
{
	printf("disconnected %s (%s) at %s\n", str(data, "name"),
	    str(data, "peer_id"), str(data, "addr"));
}

/* A count for limit's KEY, or a usage error naming what it counts. */
static json_int_t
limit_count(const char *key, const char *arg, const char *what)
{
	char	*end;
	long	 n;

	n = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || n < 0) {
		fprintf(stderr, "lanspreadctl: limit: %s %s is not a number "
		    "of %s (0: no cap)\n", key, arg, what);
		exit(EXIT_USAGE);
	}
	return (json_int_t)n;
}

/*
 * a[0] to a[3] are set by "upload SPEED", "download SPEED", "upload-slots
 * N" and "active-downloads N"; the daemon checks the ranges.
 */
static json_t *
b_limit(char **a, int *w)
{
	json_t	*req = req_plain("limit");

	(void)w;
	if (a[0] != NULL)
		json_object_set_new(req, "upload", json_string(a[0]));
	if (a[1] != NULL)
		json_object_set_new(req, "download", json_string(a[1]));
	if (a[2] != NULL)
		json_object_set_new(req, "upload_slots", json_integer(
		    limit_count("upload-slots", a[2], "peers")));
	if (a[3] != NULL)
		json_object_set_new(req, "max_active_downloads", json_integer(
		    limit_count("active-downloads", a[3], "downloads")));
	return req;
}

static void
show_limit(json_t *data)
{
	long long	 slots = (long long)num(data, "upload_slots");
	long long	 active = (long long)num(data, "max_active_downloads");

	printf("upload limit: %s\ndownload limit: %s\n", str(data, "upload"),
	    str(data, "download"));
	if (slots > 0)
		printf("upload slots: %lld peers at once\n", slots);
	else
		printf("upload slots: no cap\n");
	if (active > 0)
		printf("active downloads: %lld at once, more wait in the "
		    "queue\n", active);
	else
		printf("active downloads: no cap, no queue\n");
}

/* a[0] and a[1] are set by "GAME POSITION": move that one there. */
static json_t *
b_queue(char **a, int *w)
{
	char	*end;
	long	 pos;

	(void)w;
	if (a[0] == NULL)
		return req_plain("queue");
	pos = strtol(a[1], &end, 10);
	if (*a[1] == '\0' || *end != '\0' || pos < 1) {
		fprintf(stderr, "lanspreadctl: queue: %s is not a position "
		    "(1 is the next to start)\n", a[1]);
		exit(EXIT_USAGE);
	}
	return json_pack("{s:s,s:s,s:I}", "cmd", "queue", "game_id", a[0],
	    "position", (json_int_t)pos);
}

static void
show_queue(json_t *data)
{
	json_t	*q = json_object_get(data, "queue"), *e;
	size_t	 i;

	if (json_array_size(q) == 0)
		printf("no download is queued\n");
	json_array_foreach(q, i, e)
		printf("%2lld. %s\n", (long long)json_integer_value(
		    json_object_get(e, "position")), str(e, "game_id"));
}

/* "help" has no builder: it is answered without the daemon. */
static const struct command commands[] = {
	{ "games", "", "list the local games and those on the LAN",
	    0, b_games, show_games },
	{ "peers", "", "list the connected peers", 0, b_peers, show_peers },
	{ "status", "", "show this peer and its running operations",
	    0, b_status, show_status },
	{ "connect", " ADDR", "connect to the peer at ip:port",
	    1, b_connect, NULL },
	{ "disconnect", " PEER", "drop the link to a peer (id, address or name)",
	    1, b_disconnect, show_disconnect },
	{ "download", " GAME... [--no-install]",
	    "download games from the LAN, then install them",
	    1, b_download, NULL },
	{ "install", " GAME", "install a downloaded game",
	    1, b_install, NULL },
	{ "uninstall", " GAME", "remove a game's installed copy",
	    1, b_uninstall, NULL },
	{ "stream-install", " GAME",
	    "install a game from a peer without its archives",
	    1, b_stream, NULL },
	{ "cancel", " GAME", "cancel a game's download", 1, b_cancel, NULL },
	{ "verify", " GAME", "check a downloaded game piece by piece",
	    1, b_verify, show_verify },
	{ "repair", " GAME", "fetch again the pieces verify finds bad",
	    1, b_repair, NULL },
	{ "play", " GAME --user NAME --language LANG [--force]",
	    "apply a game's first-play settings",
	    1, b_play, show_play },
	{ "limit", " [upload SPEED] [download SPEED] [upload-slots N] "
	    "[active-downloads N]",
	    "show or set the speed limits (50MiB, 400mbit, none) and "
	    "upload slots",
	    0, b_limit, show_limit },
	{ "reload", "", "read the catalog and the configuration again",
	    0, b_reload, show_reload },
	{ "catalog", " publish|key",
	    "sign and share the catalog, or print its public key",
	    1, b_catalog, show_catalog },
	{ "queue", " [GAME POSITION]",
	    "list the queued downloads, or move one (1: next)",
	    0, b_queue, show_queue },
	{ "watch", "", "print the daemon's events as they happen",
	    0, b_watch, NULL },
	{ "help", "", "print this help", 0, NULL, NULL },
};
#define MORE_GAMES	63	/* games after the first of a download */
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp, int code)
{
	size_t	 i;
	char	 line[64];

	fprintf(fp, "usage: lanspreadctl [-j | --json] [-s socket] command "
	    "[argument ...]\n"
	    "       lanspreadctl -h | --help | -V | --version\n\n"
	    "commands:\n");
	for (i = 0; i < NCOMMANDS; i++) {
		snprintf(line, sizeof(line), "%s%s", commands[i].name,
		    commands[i].args);
		if (strlen(line) > 26)
			fprintf(fp, "  %s\n  %-26s  %s\n", line, "",
			    commands[i].what);
		else
			fprintf(fp, "  %-26s  %s\n", line, commands[i].what);
	}
	fprintf(fp, "\noptions:\n"
	    "  -j, --json         print the daemon's replies and events as "
	    "JSON lines\n"
	    "  -s, --socket PATH  the control socket (default %s,\n"
	    "                     or $LANSPREAD_SOCKET)\n"
	    "  -h, --help         print this help\n"
	    "  -V, --version      print the version\n"
	    "\nSee lanspreadctl(1).\n", DEFAULT_SOCKET);
	exit(code);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fputs("lanspreadctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, "usage: lanspreadctl %s%s\n", cmd->name, cmd->args);
	exit(EXIT_USAGE);
}

/* Levenshtein distance of two short words; a large number if too long. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	 row[65], i, j, la = strlen(a), lb = strlen(b);

	if (la >= sizeof(row) / sizeof(row[0]) || lb >= sizeof(row) /
	    sizeof(row[0]))
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t	 diag = row[0], up;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t	 best = diag + (a[i - 1] != b[j - 1]);

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The known command nearest to word, or NULL when none is near. */
static const char *
nearest_command(const char *word)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = (size_t)-1, len = strlen(word);

	for (i = 0; i < NCOMMANDS; i++) {
		d = edit_distance(word, commands[i].name);
		if (d < bestd) {
			bestd = d;
			best = commands[i].name;
		}
	}
	if (len > 0 && bestd <= 2 && bestd < len)
		return best;
	/* A unique start of a command: "stream" for stream-install. */
	best = NULL;
	for (i = 0; len >= 2 && i < NCOMMANDS; i++) {
		if (strncmp(commands[i].name, word, len) != 0)
			continue;
		if (best != NULL)
			return NULL;
		best = commands[i].name;
	}
	return best;
}

static void __attribute__((noreturn))
unknown_command(const char *word)
{
	const char	*near = nearest_command(word);

	if (near != NULL)
		fprintf(stderr, "lanspreadctl: unknown command \"%s\"; did you "
		    "mean \"%s\"?\n", word, near);
	else
		fprintf(stderr, "lanspreadctl: unknown command \"%s\"; see "
		    "lanspreadctl --help\n", word);
	exit(EXIT_USAGE);
}

/* The result line of a finished phase, in place of its bar. */
static void
phase_done(const char *game_id, const char *what, json_t *data)
{
	json_t	*tp = json_object_get(data, "throughput");
	char	 b[32];

	bar_clear();
	if (json_out)
		return;
	if (tp != NULL) {
		human_size(num(tp, "bytes"), b, sizeof(b));
		printf("%s: %s %s in %.1f s (%.0f MiB/s)\n", game_id, what, b,
		    num(tp, "duration_ms") / 1000, num(tp, "mib_per_s"));
	} else
		printf("%s: %s\n", game_id, what);
	fflush(stdout);
}

/* Follows a game's events until its operation ends; the exit code. */
static int
follow(const char *game_id, int wait)
{
	int	 streaming = strcmp(phase, "stream-install") == 0;

	for (;;) {
		json_t		*v = read_line();
		json_t		*data = json_object_get(v, "data");
		const char	*ev = json_string_value(json_object_get(v,
		    "event"));
		int		 rc = -1;

		if (wait == WAIT_FOREVER) {
			if (json_out) {
				char	*s = json_dumps(v, JSON_COMPACT);

				puts(s);
				fflush(stdout);
				free(s);
			} else if (ev != NULL)
				show_event(ev, data);
			json_decref(v);
			continue;
		}
		if (ev == NULL || strcmp(str(data, "game_id"), game_id) != 0) {
			json_decref(v);
			continue;
		}
		if (json_out) {
			char	*s = json_dumps(v, JSON_COMPACT);

			puts(s);
			fflush(stdout);
			free(s);
		}
		/* The bar is up from the start, before the first progress. */
		if (strcmp(ev, "download-begin") == 0 ||
		    strcmp(ev, "download-progress") == 0)
			bar_update(streaming ? "stream" : "download", data);
		else if (strcmp(ev, "install-progress") == 0)
			bar_update("install", data);
		else if (strcmp(ev, "download-finished") == 0) {
			phase_done(game_id, streaming ? "streamed" :
			    "downloaded", data);
			if (wait == WAIT_DOWNLOAD)
				rc = 0;
			else if (!streaming)
				phase = "install";
		} else if (strcmp(ev, "install-finished") == 0 &&
		    wait == WAIT_INSTALL) {
			phase_done(game_id, "installed", NULL);
			rc = 0;
		} else if (strcmp(ev, "uninstall-finished") == 0 &&
		    wait == WAIT_UNINSTALL) {
			phase_done(game_id, "uninstalled", NULL);
			rc = 0;
		} else if (strcmp(ev, "download-failed") == 0 ||
		    strcmp(ev, "download-peers-gone") == 0 ||
		    strcmp(ev, "download-cancelled") == 0 ||
		    strcmp(ev, "install-failed") == 0 ||
		    strcmp(ev, "uninstall-failed") == 0) {
			bar_clear();
			if (!json_out)
				fprintf(stderr, "%s: %s%s%s\n", game_id, ev,
				    json_object_get(data, "error") ? ": " : "",
				    json_object_get(data, "error") ?
				    str(data, "error") : "");
			rc = EXIT_FAILED;
		}
		json_decref(v);
		if (rc != -1)
			return rc;
	}
}

/* Sends a request and returns its reply, events before it skipped. */
static json_t *
call(json_t *req, const char *id)
{
	json_object_set_new(req, "id", json_string(id));
	send_line(req);
	for (;;) {
		json_t	*v = read_line();

		if (strcmp(str(v, "id"), id) == 0)
			return v;
		json_decref(v);
	}
}

/* The group that may open the socket: its own, else its folder's. */
static const char *
socket_group(const char *path, char *buf, size_t size)
{
	struct stat	 st;
	struct group	*gr;
	const char	*slash = strrchr(path, '/');

	if (stat(path, &st) == -1) {
		if (slash == NULL)
			return DEFAULT_GROUP;
		snprintf(buf, size, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
		if (stat(buf, &st) == -1)
			return DEFAULT_GROUP;
	}
	if ((gr = getgrgid(st.st_gid)) == NULL || st.st_gid == 0)
		return DEFAULT_GROUP;
	snprintf(buf, size, "%s", gr->gr_name);
	return buf;
}

/* Why the daemon cannot be reached, and what to do about it. */
static void __attribute__((noreturn))
unreachable(const char *path, int err)
{
	char		 buf[4096];
	const char	*group;

	switch (err) {
	case EACCES:
	case EPERM:
		group = socket_group(path, buf, sizeof(buf));
		fprintf(stderr, "lanspreadctl: permission denied on %s\n"
		    "lanspreadctl: only members of the %s group may use "
		    "lanspreadd; to join it:\n"
		    "    sudo usermod -aG %s $USER\n"
		    "and log in again (or run: newgrp %s)\n", path, group,
		    group, group);
		break;
	case ENOENT:
	case ECONNREFUSED:
		fprintf(stderr, "lanspreadctl: lanspreadd is not running "
		    "(no daemon at %s)\n"
		    "lanspreadctl: start it with: sudo systemctl start "
		    "lanspreadd\n", path);
		if (strcmp(path, DEFAULT_SOCKET) != 0)
			fprintf(stderr, "lanspreadctl: or, if it runs with "
			    "another control_socket, give that with -s\n");
		break;
	default:
		fprintf(stderr, "lanspreadctl: cannot reach lanspreadd at "
		    "%s: %s\n", path, strerror(err));
		break;
	}
	exit(EXIT_UNREACHABLE);
}

static void
daemon_connect(const char *path)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "lanspreadctl: socket path too long: %s\n",
		    path);
		exit(EXIT_USAGE);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sock, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		unreachable(path, errno);
}

/*
 * download A B C: each asked for in turn (the daemon queues what is
 * beyond max_active_downloads), said how it went, and no waiting.
 */
static int
download_many(char **args, char **more, size_t nmore)
{
	json_t	*req, *reply;
	char	*game, id[16];
	size_t	 i;
	int	 rc = 0;

	for (i = 0; i <= nmore; i++) {
		game = i == 0 ? args[0] : more[i - 1];
		req = json_pack("{s:s,s:s,s:b}", "cmd", "download", "game_id",
		    game, "install", args[1] == NULL);
		snprintf(id, sizeof(id), "%zu", i + 1);
		reply = call(req, id);
		json_decref(req);
		if (strcmp(str(reply, "type"), "error") == 0) {
			fprintf(stderr, "lanspreadctl: %s: %s\n", game,
			    str(reply, "error"));
			rc = EXIT_FAILED;
		} else
			printf("%s: %s\n", game, json_is_true(json_object_get(
			    json_object_get(reply, "data"), "queued")) ?
			    "queued" : "downloading");
		json_decref(reply);
	}
	printf("lanspreadctl status shows them; lanspreadctl queue orders "
	    "the queued ones\n");
	close(sock);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const struct command *cmd = NULL;
	char		*args[4] = { NULL, NULL, NULL, NULL };
	char		*more[MORE_GAMES];	/* download A B C: B and C */
	size_t		 nmore = 0;
	json_t		*req, *reply;
	int		 ch, wait = WAIT_NONE, rc;
	size_t		 i;

	sigemptyset(&wait_mask);
	if ((sock_path = getenv("LANSPREAD_SOCKET")) == NULL ||
	    *sock_path == '\0')
		sock_path = DEFAULT_SOCKET;
	/* Options stop at the command: its own flags follow it. */
	while ((ch = getopt_long(argc, argv, "+js:hV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'j':
			json_out = 1;
			break;
		case 's':
			sock_path = optarg;
			sock_given = 1;
			break;
		case 'h':
			usage(stdout, 0);
		case 'V':
			printf("lanspreadctl %s\n", LANSPREAD_VERSION);
			return 0;
		default:
			/* getopt has said what is wrong. */
			fprintf(stderr, "see lanspreadctl --help\n");
			exit(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage(stderr, EXIT_USAGE);
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[0]) == 0)
			cmd = &commands[i];
	if (cmd == NULL)
		unknown_command(argv[0]);
	if (cmd->build == NULL)
		usage(stdout, 0);
	if (argc - 1 < cmd->nargs)
		usage_error(cmd, "%s: missing argument", cmd->name);
	for (i = 0; i < (size_t)cmd->nargs; i++)
		args[i] = argv[1 + i];
	argc -= 1 + cmd->nargs;
	argv += 1 + cmd->nargs;
	/* The few flags a command takes. */
	while (argc > 0) {
		if (strcmp(cmd->name, "download") == 0 &&
		    strcmp(argv[0], "--no-install") == 0)
			args[1] = "no";
		else if (strcmp(cmd->name, "download") == 0 &&
		    argv[0][0] != '-') {
			if (nmore == MORE_GAMES)
				usage_error(cmd, "at most %d games at once",
				    MORE_GAMES + 1);
			more[nmore++] = argv[0];
		} else if (strcmp(cmd->name, "queue") == 0 && argc > 1 &&
		    args[0] == NULL) {
			args[0] = argv[0];
			args[1] = argv[1];
			argc--, argv++;
		}
		else if (strcmp(cmd->name, "play") == 0 && argc > 1 &&
		    strcmp(argv[0], "--user") == 0) {
			args[1] = argv[1];
			argc--, argv++;
		} else if (strcmp(cmd->name, "play") == 0 && argc > 1 &&
		    strcmp(argv[0], "--language") == 0) {
			args[2] = argv[1];
			argc--, argv++;
		} else if (strcmp(cmd->name, "play") == 0 &&
		    strcmp(argv[0], "--force") == 0)
			args[3] = "yes";
		else if (strcmp(cmd->name, "limit") == 0 && argc > 1 &&
		    (strcmp(argv[0], "upload") == 0 ||
		    strcmp(argv[0], "download") == 0)) {
			args[argv[0][0] == 'u' ? 0 : 1] = argv[1];
			argc--, argv++;
		} else if (strcmp(cmd->name, "limit") == 0 && argc > 1 &&
		    (strcmp(argv[0], "upload-slots") == 0 ||
		    strcmp(argv[0], "active-downloads") == 0)) {
			args[argv[0][0] == 'u' ? 2 : 3] = argv[1];
			argc--, argv++;
		} else
			usage_error(cmd, "unexpected argument \"%s\"",
			    argv[0]);
		argc--, argv++;
	}
	if (strcmp(cmd->name, "catalog") == 0 && strcmp(args[0], "publish")
	    != 0 && strcmp(args[0], "key") != 0)
		usage_error(cmd, "catalog: unknown word \"%s\"", args[0]);
	if (strcmp(cmd->name, "play") == 0 && (args[1] == NULL ||
	    args[2] == NULL))
		usage_error(cmd, "%s: --user and --language are needed",
		    cmd->name);
	tty_out = isatty(STDOUT_FILENO);

	daemon_connect(sock_path);
	if (nmore > 0)
		return download_many(args, more, nmore);
	req = cmd->build(args, &wait);
	if (wait != WAIT_NONE && wait != WAIT_FOREVER) {
		/* Events first, so none between the reply and us is lost. */
		json_decref(call(req_plain("subscribe"), "sub"));
		phase_game = args[0];
		catch_sigint();
	}
	reply = call(req, "1");
	json_decref(req);
	if (strcmp(str(reply, "type"), "error") == 0) {
		if (json_out) {
			char	*s = json_dumps(reply, JSON_COMPACT);

			puts(s);
			free(s);
		} else
			fprintf(stderr, "lanspreadctl: %s\n",
			    str(reply, "error"));
		return EXIT_FAILED;
	}
	if (json_out) {
		char	*s = json_dumps(reply, JSON_COMPACT);

		puts(s);
		free(s);
	} else if (cmd->show != NULL)
		cmd->show(json_object_get(reply, "data"));
	else if (wait == WAIT_NONE)
		printf("ok\n");
	fflush(stdout);
	rc = wait == WAIT_NONE ? 0 : follow(args[0] ? args[0] : "", wait);
	json_decref(reply);
	close(sock);
	return rc;
}
