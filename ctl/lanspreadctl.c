/*
 * lanspreadctl: drives a running lanspreadd over its control socket.
 * Tables for people, --json for scripts; long operations show a live
 * progress bar on a terminal and end with an exit code that says how
 * they went: 0 ok, 1 the command failed, 2 usage, 3 daemon unreachable.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define DEFAULT_SOCKET	"/run/lanspread/control.sock"
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_UNREACHABLE 3

enum wait_for {
	WAIT_NONE,
	WAIT_DOWNLOAD,		/* download-finished */
	WAIT_INSTALL,		/* install-finished */
	WAIT_UNINSTALL,		/* uninstall-finished */
	WAIT_FOREVER,		/* watch */
};

struct command {
	const char	*name;
	const char	*usage;
	int		 nargs;		/* positional arguments */
	json_t		*(*build)(char **args, int *waitp);
	void		(*show)(json_t *data);
};

static int	 json_out;
static int	 sock = -1;
static char	 rbuf[1 << 20];
static size_t	 rlen;
static int	 progress_shown;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lanspreadctl [--json] [-s socket] command "
	    "[args]\n"
	    "commands: games | peers | status | connect ADDR |\n"
	    "\tdownload GAME [--no-install] | install GAME | uninstall GAME |\n"
	    "\tstream-install GAME | cancel GAME |\n"
	    "\tplay GAME --user NAME --language LANG | watch\n");
	exit(EXIT_USAGE);
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
		if (n <= 0) {
			fprintf(stderr, "lanspreadctl: daemon went away\n");
			exit(EXIT_UNREACHABLE);
		}
		off += n;
	}
	free(s);
}

/* The next line from the daemon; exits when it goes away. */
static json_t *
read_line(void)
{
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
		n = read(sock, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (progress_shown)
				fputc('\n', stderr);
			fprintf(stderr, "lanspreadctl: daemon went away\n");
			exit(EXIT_UNREACHABLE);
		}
		rlen += n;
	}
}

static const char *
str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
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

		human_size(json_number_value(json_object_get(g, "size")), sz,
		    sizeof(sz));
		printf("%-16s %-12s %-10s %-10s %s\n", str(g, "id"),
		    inst ? "installed" : str(g, "availability"),
		    str(g, "eti_version"), sz, str(g, "name"));
	}
	printf("\n%-16s %-12s %-10s %-10s %s\n", "ON THE LAN", "PEERS",
	    "VERSION", "SIZE", "NAME");
	json_array_foreach(json_object_get(data, "remote"), i, g) {
		human_size(json_number_value(json_object_get(g, "size")), sz,
		    sizeof(sz));
		printf("%-16s %-12lld %-10s %-10s %s\n", str(g, "id"),
		    (long long)json_integer_value(json_object_get(g,
		    "peer_count")), str(g, "eti_game_version"), sz,
		    str(g, "name"));
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

static void
show_status(json_t *data)
{
	json_t		*op, *v;
	const char	*k;
	size_t		 i;

	printf("peer      %s (%s)\naddress   %s\npeers     %lld\n",
	    str(data, "name"), str(data, "peer_id"), str(data, "addr"),
	    (long long)json_integer_value(json_object_get(data,
	    "peer_count")));
	json_array_foreach(json_object_get(data, "active_operations"), i, op)
		printf("busy      %s: %s\n", str(op, "game_id"),
		    str(op, "operation"));
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
		printf("launch settings were applied at an earlier play\n");
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
	return json_pack("{s:s,s:s,s:b}", "cmd", "download", "game_id", a[0],
	    "install", install);
}

static json_t *
b_game_cmd(const char *cmd, char **a, int *w, int wait)
{
	*w = wait;
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

static json_t *
b_play(char **a, int *w)
{
	(void)w;
	return json_pack("{s:s,s:s,s:s,s:s}", "cmd", "play", "game_id", a[0],
	    "username", a[1], "language", a[2]);
}

static const struct command commands[] = {
	{ "games",	"games",			0, b_games, show_games },
	{ "peers",	"peers",			0, b_peers, show_peers },
	{ "status",	"status",			0, b_status, show_status },
	{ "connect",	"connect ADDR",			1, b_connect, NULL },
	{ "download",	"download GAME [--no-install]",	1, b_download, NULL },
	{ "install",	"install GAME",			1, b_install, NULL },
	{ "uninstall",	"uninstall GAME",		1, b_uninstall, NULL },
	{ "stream-install", "stream-install GAME",	1, b_stream, NULL },
	{ "cancel",	"cancel GAME",			1, b_cancel, NULL },
	{ "play",	"play GAME --user NAME --language LANG", 1, b_play,
	    show_play },
	{ "watch",	"watch",			0, b_watch, NULL },
};

/* One line, redrawn in place: bytes, percent, rate and time left. */
static void
progress(json_t *data)
{
	double	 bytes = json_number_value(json_object_get(data, "bytes"));
	double	 total = json_number_value(json_object_get(data,
	    "total_bytes"));
	double	 rate = json_number_value(json_object_get(data, "bytes_per_s"));
	char	 b[32], t[32], r[32], eta[32] = "--:--";
	int	 width = 30, fill;
	char	 bar[64];

	if (!isatty(STDERR_FILENO) || json_out)
		return;
	human_size(bytes, b, sizeof(b));
	human_size(total, t, sizeof(t));
	human_size(rate, r, sizeof(r));
	if (rate > 0 && total > bytes) {
		long	 secs = (long)((total - bytes) / rate);

		snprintf(eta, sizeof(eta), "%02ld:%02ld", secs / 60, secs % 60);
	}
	fill = total > 0 ? (int)(width * bytes / total) : 0;
	if (fill > width)
		fill = width;
	memset(bar, '#', fill);
	memset(bar + fill, '.', width - fill);
	bar[width] = '\0';
	fprintf(stderr, "\r%s [%s] %3.0f%% %s/%s %s/s ETA %s ",
	    str(data, "game_id"), bar, total > 0 ? 100 * bytes / total : 0.0,
	    b, t, r, eta);
	progress_shown = 1;
}

static void
end_progress(void)
{
	if (progress_shown)
		fputc('\n', stderr);
	progress_shown = 0;
}

/* Follows a game's events until its operation ends; the exit code. */
static int
follow(const char *game_id, int wait)
{
	for (;;) {
		json_t		*v = read_line();
		json_t		*data = json_object_get(v, "data");
		const char	*ev = json_string_value(json_object_get(v,
		    "event"));
		int		 rc = -1;

		if (json_out && wait == WAIT_FOREVER) {
			char	*s = json_dumps(v, JSON_COMPACT);

			puts(s);
			fflush(stdout);
			free(s);
		} else if (wait == WAIT_FOREVER && ev != NULL) {
			char	*s = json_dumps(data, JSON_COMPACT);

			printf("%s %s\n", ev, s);
			fflush(stdout);
			free(s);
		}
		if (ev == NULL || wait == WAIT_FOREVER ||
		    strcmp(str(data, "game_id"), game_id) != 0) {
			json_decref(v);
			continue;
		}
		if (json_out) {
			char	*s = json_dumps(v, JSON_COMPACT);

			puts(s);
			free(s);
		}
		if (strcmp(ev, "download-progress") == 0 ||
		    strcmp(ev, "install-progress") == 0)
			progress(data);
		else if (strcmp(ev, "download-finished") == 0) {
			json_t	*tp = json_object_get(data, "throughput");
			char	 b[32];

			end_progress();
			human_size(json_number_value(json_object_get(tp,
			    "bytes")), b, sizeof(b));
			if (!json_out)
				printf("%s: downloaded %s in %.1f s (%.0f "
				    "MiB/s)\n", game_id, b, json_number_value(
				    json_object_get(tp, "duration_ms")) / 1000,
				    json_number_value(json_object_get(tp,
				    "mib_per_s")));
			if (wait == WAIT_DOWNLOAD)
				rc = 0;
		} else if (strcmp(ev, "install-finished") == 0 &&
		    wait == WAIT_INSTALL) {
			if (!json_out)
				printf("%s: installed\n", game_id);
			rc = 0;
		} else if (strcmp(ev, "uninstall-finished") == 0 &&
		    wait == WAIT_UNINSTALL) {
			if (!json_out)
				printf("%s: uninstalled\n", game_id);
			rc = 0;
		} else if (strcmp(ev, "download-failed") == 0 ||
		    strcmp(ev, "download-peers-gone") == 0 ||
		    strcmp(ev, "download-cancelled") == 0 ||
		    strcmp(ev, "install-failed") == 0 ||
		    strcmp(ev, "uninstall-failed") == 0) {
			end_progress();
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

static int
daemon_connect(const char *path)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "lanspreadctl: socket path too long\n");
		exit(EXIT_USAGE);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sock, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "lanspreadctl: cannot reach lanspreadd at "
		    "%s: %s\n", path, strerror(errno));
		exit(EXIT_UNREACHABLE);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const struct command *cmd = NULL;
	const char	*path = getenv("LANSPREAD_SOCKET");
	char		*args[3] = { NULL, NULL, NULL };
	json_t		*req, *reply;
	int		 ch, wait = WAIT_NONE, rc;
	size_t		 i;

	if (path == NULL)
		path = DEFAULT_SOCKET;
	/* Options stop at the command: its own flags follow it. */
	while ((ch = getopt_long(argc, argv, "+js:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json_out = 1; break;
		case 's': path = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, argv[0]) == 0)
			cmd = &commands[i];
	if (cmd == NULL || argc - 1 < cmd->nargs)
		usage();
	for (i = 0; i < (size_t)cmd->nargs; i++)
		args[i] = argv[1 + i];
	argc -= 1 + cmd->nargs;
	argv += 1 + cmd->nargs;
	/* The few flags a command takes. */
	while (argc > 0) {
		if (strcmp(cmd->name, "download") == 0 &&
		    strcmp(argv[0], "--no-install") == 0)
			args[1] = "no";
		else if (strcmp(cmd->name, "play") == 0 && argc > 1 &&
		    strcmp(argv[0], "--user") == 0) {
			args[1] = argv[1];
			argc--, argv++;
		} else if (strcmp(cmd->name, "play") == 0 && argc > 1 &&
		    strcmp(argv[0], "--language") == 0) {
			args[2] = argv[1];
			argc--, argv++;
		} else
			usage();
		argc--, argv++;
	}
	if (strcmp(cmd->name, "play") == 0 && (args[1] == NULL ||
	    args[2] == NULL))
		usage();

	daemon_connect(path);
	req = cmd->build(args, &wait);
	if (wait != WAIT_NONE && wait != WAIT_FOREVER) {
		/* Events first, so none between the reply and us is lost. */
		json_decref(call(req_plain("subscribe"), "sub"));
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
