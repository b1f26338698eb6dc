/*
 * The control protocol as a client speaks it: the input is what one
 * client writes on the control socket, then EOF. It goes through the
 * daemon's own transport (supervisor/control.c: accept, SO_PEERCRED,
 * line splitting, JSON parsing, the id check) into commands_dispatch()
 * and every command's field checks (supervisor/commands.c), and each
 * reply is written back and read here.
 *
 * There is no narrower entry point that takes one line (client_line() is
 * static and wants a client), so the supervisor is a struct sup of its
 * own: a library and catalog of a few games, a peer database and a
 * manifest cache in a temporary folder, one connected peer advertising
 * some of the games, and the three workers "up" on socketpairs whose far
 * ends are drained. It is marked stopping, so "shutdown" answers but stops nothing. After each
 * input the operations and pending requests a command left are removed,
 * so inputs do not depend on each other.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "supervisor/supervisor.h"
#include "fuzz/fuzz.h"

#define OUR_ID		"00112233445566778899aabbccddeeff"
#define OTHER_ID	"0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define SPIN_MAX	100000

static struct sup	 sup;
static char		 tmpdir[] = "/tmp/lanspread-fuzz-XXXXXX";
static char		 games_dir[sizeof(tmpdir) + 8];
static char		 sock_path[sizeof(tmpdir) + 16];
static int		 far[PROC_MAX];	/* the workers' ends, drained */

static void
local_game(struct local_game *g, const char *id, int downloaded,
    int installed)
{
	snprintf(g->id, sizeof(g->id), "%s", id);
	snprintf(g->version, sizeof(g->version), "%s", downloaded ?
	    "20200101" : "");
	g->downloaded = downloaded;
	g->installed = installed;
	g->size = 1 << 20;
}

static void
advert(struct game_entry *g, const char *id, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->id, sizeof(g->id), "%s", id);
	snprintf(g->version, sizeof(g->version), "20200101");
	snprintf(g->availability, sizeof(g->availability), "Ready");
	g->downloaded = 1;
	g->size = size;
}

static void
cleanup(void)
{
	int	 fd;

	control_stop(&sup);
	manifests_close(&sup);
	peerdb_close(&sup.peerdb);
	if ((fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		path_remove_tree_beneath(fd, tmpdir + strlen("/tmp/"));
		close(fd);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const catalog[] = { "alienswarm", "bf1942",
	    "cnctw", "coh" };
	struct game_entry ads[4];
	struct peer_info pi;
	char		 err[256];
	size_t		 i;
	int		 sv[2];

	(void)argc;
	(void)argv;
	if (mkdtemp(tmpdir) == NULL)
		abort();
	snprintf(games_dir, sizeof(games_dir), "%s/games", tmpdir);
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", tmpdir);
	if (mkdir(games_dir, 0755) == -1)
		abort();
	sup.loop = ev_loop_new(EVFLAG_AUTO);
	sup.cfg.name = "fuzz";
	sup.cfg.games_dir = games_dir;
	sup.cfg.state_dir = tmpdir;
	sup.games_fd = open(games_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sup.inotify_fd = -1;
	sup.stopping = 1;	/* "shutdown" stops nothing */
	snprintf(sup.peer_id, sizeof(sup.peer_id), "%s", OUR_ID);
	snprintf(sup.listen_addr, sizeof(sup.listen_addr), "127.0.0.1:4000");
	TAILQ_INIT(&sup.ops);
	TAILQ_INIT(&sup.pendings);
	TAILQ_INIT(&sup.hashing);
	sup.outbound = json_object();
	sup.cleanups = json_array();
	if (sup.loop == NULL || sup.games_fd == -1 || sup.outbound == NULL)
		abort();

	sup.catalog.ngames = sizeof(catalog) / sizeof(catalog[0]);
	sup.catalog.games = calloc(sup.catalog.ngames,
	    sizeof(*sup.catalog.games));
	sup.library.ngames = 3;
	sup.library.games = calloc(3, sizeof(*sup.library.games));
	if (sup.catalog.games == NULL || sup.library.games == NULL)
		abort();
	for (i = 0; i < sup.catalog.ngames; i++) {
		snprintf(sup.catalog.games[i].id,
		    sizeof(sup.catalog.games[i].id), "%s", catalog[i]);
		snprintf(sup.catalog.games[i].name,
		    sizeof(sup.catalog.games[i].name), "Game %zu", i);
		snprintf(sup.catalog.games[i].version,
		    sizeof(sup.catalog.games[i].version), "20200101");
	}
	/* Sorted by id, as library_find() and catalog_find() search them. */
	local_game(&sup.library.games[0], "alienswarm", 1, 1);
	local_game(&sup.library.games[1], "bf1942", 0, 0);
	local_game(&sup.library.games[2], "cnctw", 1, 0);

	if (peerdb_open(&sup.peerdb, tmpdir, err, sizeof(err)) == -1 ||
	    manifests_open(&sup, err, sizeof(err)) == -1) {
		fprintf(stderr, "state: %s\n", err);
		abort();
	}
	memset(&pi, 0, sizeof(pi));
	snprintf(pi.peer_id, sizeof(pi.peer_id), "%s", OTHER_ID);
	snprintf(pi.name, sizeof(pi.name), "other");
	snprintf(pi.addr, sizeof(pi.addr), "127.0.0.2:4000");
	pi.connected = 1;
	advert(&ads[0], "coh", 4 << 20);
	advert(&ads[1], "bf1942", (uint64_t)1 << 62);
	advert(&ads[2], "notincatalog", 1);
	advert(&ads[3], "cnctw", 1 << 20);
	if (peerdb_upsert(&sup.peerdb, &pi) == -1 ||
	    peerdb_set_library(&sup.peerdb, OTHER_ID, ads, 4) == -1 ||
	    peerdb_set_connected(&sup.peerdb, OTHER_ID, 1) == -1)
		abort();

	for (i = PROC_NET; i < PROC_MAX; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) == -1)
			abort();
		msgconn_init(&sup.workers[i].conn, sup.loop, sv[0], 1, NULL,
		    NULL, &sup);
		ev_io_stop(sup.loop, &sup.workers[i].conn.rio);	/* no input */
		sup.workers[i].id = i;
		sup.workers[i].up = sup.workers[i].ready = 1;
		far[i] = sv[1];
	}
	if (control_socket_start(&sup, sock_path) == -1)
		abort();
	atexit(cleanup);
	return 0;
}

static void
drain(int fd)
{
	char	 buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* What a command left behind: operations, requests awaiting a worker. */
static void
forget(void)
{
	struct operation *op;
	struct pending	*p;
	int		 i;

	while ((op = TAILQ_FIRST(&sup.ops)) != NULL)
		sup_op_remove(&sup, op);
	while ((p = TAILQ_FIRST(&sup.pendings)) != NULL) {
		ev_timer_stop(sup.loop, &p->timer);
		TAILQ_REMOVE(&sup.pendings, p, entry);
		json_decref(p->id);
		free(p);
	}
	for (i = 0; i < 2; i++) {
		ev_run(sup.loop, EVRUN_NOWAIT);
		for (int w = PROC_NET; w < PROC_MAX; w++)
			drain(far[w]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sun;
	char		 buf[65536];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, i, eof = 0, echo = getenv("FUZZ_ECHO") != NULL;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1)
		abort();
	for (i = 0; i < SPIN_MAX && !eof; i++) {
		if (off < size) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += n;
			else if (n == -1 && errno != EAGAIN)
				abort();
			if (off == size)
				shutdown(fd, SHUT_WR);
		} else if (size == 0 && i == 0)
			shutdown(fd, SHUT_WR);
		ev_run(sup.loop, EVRUN_NOWAIT);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (echo)	/* FUZZ_ECHO=1: show the replies */
				fwrite(buf, 1, n, stderr);
		if (n == 0)
			eof = 1;
		for (int w = PROC_NET; w < PROC_MAX; w++)
			drain(far[w]);
	}
	if (!eof)
		abort();	/* the daemon must end a client at its EOF */
	close(fd);
	forget();
	return 0;
}
