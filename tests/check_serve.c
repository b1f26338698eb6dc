/*
 * Check suite for the transfer worker's serving side
 * (worker-transfer/serve.c): the serve gates (catalog, active operation,
 * sentinel), the file list a peer gets, and chunk requests, hostile ones
 * included. The link tests drive a real serve link: serve_start() on one
 * end of a socketpair, a private libev loop pumped by hand, and the test
 * reading frames and raw bytes from the other end.
 */

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <msgpack.h>

#include "common/msg.h"
#include "common/path.h"
#include "common/gamefiles.h"
#include "tests/testutil.h"
#include "worker-transfer/transfer.h"

#define DEADLINE_MS	5000
#define QUIET_MS	100
#define ETI_SIZE	(300 * 1024 + 17)
#define SUB_SIZE	4099
#define BIG_SIZE	(CHUNK_SIZE + 8192)	/* sparse */

static char	 root[PATH_MAX];
static int	 games_fd = -1;

/* A serve link under test and the test's end of it. */
static struct ev_loop	*loop;
static struct transfer	*xfer;
static int		 peer_fd = -1;	/* our end of the serve link */
static int		 sup_far = -1;	/* the supervisor's end */

static Suite	*serve_suite(void);

/* ------------------------------------------------------------------ */
/* The games folder                                                     */

/* The byte at offset off of a pattern file: never a run of zeros. */
static unsigned char
pattern_byte(uint64_t off, unsigned seed)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 11) ^ (off & 0xff));
}

static void
write_pattern(const char *rel, size_t size, unsigned seed)
{
	unsigned char	*buf;
	size_t		 i;

	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		exit(1);
	for (i = 0; i < size; i++)
		buf[i] = pattern_byte(i, seed);
	tu_write_file(games_fd, rel, buf, size);
	free(buf);
}

/*
 * GAMES/
 *   cnc4/      catalog, sentinel, no operation: servable. Holds what must
 *              never be served next to what must.
 *   bf1942/    catalog, sentinel, but busy (an operation is active)
 *   ggoo/      catalog, no sentinel (a download in progress)
 *   mystery/   sentinel, not in the catalog
 *   coh/       catalog, version.ini is a symlink to cnc4's
 *   css/       catalog, version.ini is a directory
 *   cod5 ->    cnc4 (a game folder that is a symlink), in the catalog
 */
static void
games_setup(void)
{
	int	 fd;

	tu_tmpdir(root, sizeof(root), "check_serve");
	if ((games_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		perror(root);
		exit(1);
	}
	tu_mkdir(games_fd, "cnc4");
	tu_write_str(games_fd, "cnc4/version.ini", "20170204\n");
	write_pattern("cnc4/cnc4.eti", ETI_SIZE, 1);
	tu_mkdir(games_fd, "cnc4/data");
	write_pattern("cnc4/data/sub.bin", SUB_SIZE, 2);
	tu_mkdir(games_fd, "cnc4/data/local");	/* only GAMES/<id>/local is */
	tu_write_str(games_fd, "cnc4/data/local/keep.txt",
	    "nested local is game data\n");
	tu_write_str(games_fd, "cnc4/data/.lanspread.tmp", "metadata\n");
	tu_mkdir(games_fd, "cnc4/local");
	tu_write_str(games_fd, "cnc4/local/x", "installed game\n");
	tu_mkdir(games_fd, "cnc4/.local.installing");
	tu_write_str(games_fd, "cnc4/.local.installing/x", "install staging\n");
	tu_write_str(games_fd, "cnc4/.lanspread.json", "{}\n");
	tu_mkdir(games_fd, "cnc4/.lanspread.staging");
	tu_write_str(games_fd, "cnc4/.lanspread.staging/x",
	    "download staging\n");
	tu_symlink("/etc/passwd", games_fd, "cnc4/link.bin");
	tu_symlink("cnc4.eti", games_fd, "cnc4/inner.lnk");
	tu_symlink("/etc", games_fd, "cnc4/linkdir");
	tu_symlink("data", games_fd, "cnc4/datalink");
	fd = openat(games_fd, "cnc4/big.bin", O_WRONLY | O_CREAT | O_CLOEXEC,
	    0644);
	if (fd == -1 || ftruncate(fd, (off_t)BIG_SIZE) == -1) {
		perror("big.bin");
		exit(1);
	}
	close(fd);

	tu_mkdir(games_fd, "bf1942");
	tu_write_str(games_fd, "bf1942/version.ini", "20160130\n");
	write_pattern("bf1942/bf1942.eti", 1000, 3);
	tu_mkdir(games_fd, "ggoo");
	write_pattern("ggoo/ggoo.eti", 1000, 4);
	tu_mkdir(games_fd, "mystery");
	tu_write_str(games_fd, "mystery/version.ini", "1\n");
	write_pattern("mystery/mystery.eti", 1000, 5);
	tu_mkdir(games_fd, "coh");
	tu_symlink("../cnc4/version.ini", games_fd, "coh/version.ini");
	write_pattern("coh/coh.eti", 1000, 6);
	tu_mkdir(games_fd, "css");
	tu_mkdir(games_fd, "css/version.ini");
	write_pattern("css/css.eti", 1000, 7);
	tu_symlink("cnc4", games_fd, "cod5");
}

static void
games_teardown(void)
{
	close(games_fd);
	games_fd = -1;
	/* tu_rmtree: the links we planted must not lead the cleanup out. */
	tu_rmtree(root);
}

/* ------------------------------------------------------------------ */
/* Gates                                                                */

/* Ids as a typed message carries them (NULL ends the list). */
static void
gates_set(char ***set, size_t *n, const char *const *ids)
{
	char	 given[16][GAME_ID_SIZE];
	size_t	 count = 0;

	for (count = 0; ids[count] != NULL; count++) {
		ck_assert_uint_lt(count, 16);
		snprintf(given[count], sizeof(given[count]), "%s", ids[count]);
	}
	serve_gates_set(set, n, (const char (*)[GAME_ID_SIZE])given, count);
}

static const char *const catalog_ids[] = {
	"ggoo", "cnc4", "bf1942", "coh", "css", "cod5", "../x", "a/b", NULL
};
static const char *const busy_ids[] = { "bf1942", NULL };

static void
gates_fill(struct serve_gates *g)
{
	memset(g, 0, sizeof(*g));
	gates_set(&g->catalog, &g->ncatalog, catalog_ids);
	gates_set(&g->busy, &g->nbusy, busy_ids);
}

static int
gate_ok(const struct serve_gates *g, const char *id, char *why)
{
	why[0] = '\0';
	return serve_gate(g, games_fd, id, why, ERROR_SIZE);
}

START_TEST(serve_gates_set_keeps_valid_ids_sorted)
{
	struct serve_gates g;
	size_t		 i;

	gates_fill(&g);
	/* "../x" and "a/b" are not game ids. */
	ck_assert_uint_eq(g.ncatalog, 6);
	for (i = 1; i < g.ncatalog; i++)
		ck_assert_int_lt(strcmp(g.catalog[i - 1], g.catalog[i]), 0);
	ck_assert_uint_eq(g.nbusy, 1);
	ck_assert_str_eq(g.busy[0], "bf1942");
	/* A new set replaces the old; an empty one empties it. */
	gates_set(&g.busy, &g.nbusy, (const char *const[]){ NULL });
	ck_assert_uint_eq(g.nbusy, 0);
	serve_gates_set(&g.catalog, &g.ncatalog, NULL, 0);
	ck_assert_uint_eq(g.ncatalog, 0);
	serve_gates_free(&g);
}
END_TEST

START_TEST(local_download_available_gates_on_catalog_operation_and_sentinel)
{
	struct serve_gates g;
	char		 why[ERROR_SIZE];

	gates_fill(&g);
	/* Catalog game, sentinel there, no operation: served. */
	ck_assert_int_eq(gate_ok(&g, "cnc4", why), 0);
	/* Not in the catalog, though downloaded. */
	ck_assert_int_eq(gate_ok(&g, "mystery", why), -1);
	ck_assert_str_eq(why, "game is not in the catalog");
	/* An active operation. */
	ck_assert_int_eq(gate_ok(&g, "bf1942", why), -1);
	ck_assert_str_eq(why, "game has an operation in progress");
	/* No sentinel: still downloading. */
	ck_assert_int_eq(gate_ok(&g, "ggoo", why), -1);
	ck_assert_str_eq(why, "game is not downloaded");
	/* A sentinel that is a symlink, or a directory, is no sentinel. */
	ck_assert_int_eq(gate_ok(&g, "coh", why), -1);
	ck_assert_str_eq(why, "game is not downloaded");
	ck_assert_int_eq(gate_ok(&g, "css", why), -1);
	ck_assert_str_eq(why, "game is not downloaded");
	/* A game folder that is a symlink is not followed. */
	ck_assert_int_eq(gate_ok(&g, "cod5", why), -1);
	/* Not game ids at all. */
	ck_assert_int_eq(gate_ok(&g, "../x", why), -1);
	ck_assert_int_eq(gate_ok(&g, "", why), -1);
	ck_assert_int_eq(gate_ok(&g, "cnc4/..", why), -1);
	ck_assert_int_eq(gate_ok(&g, "nosuchgame", why), -1);

	/* The operation ends: bf1942 is served again. */
	gates_set(&g.busy, &g.nbusy, (const char *const[]){ "ggoo", NULL });
	ck_assert_int_eq(gate_ok(&g, "bf1942", why), 0);
	/* Now cnc4 gets an operation, and the catalog drops bf1942. */
	gates_set(&g.busy, &g.nbusy, (const char *const[]){ "cnc4", NULL });
	ck_assert_int_eq(gate_ok(&g, "cnc4", why), -1);
	gates_set(&g.catalog, &g.ncatalog,
	    (const char *const[]){ "cnc4", NULL });
	ck_assert_int_eq(gate_ok(&g, "bf1942", why), -1);
	ck_assert_str_eq(why, "game is not in the catalog");
	/* No catalog at all: nothing is served. */
	serve_gates_free(&g);
	ck_assert_int_eq(gate_ok(&g, "cnc4", why), -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Files and chunks, called directly                                    */

static const char *const cnc4_files[] = {
	"big.bin", "cnc4.eti", "data/local/keep.txt", "data/sub.bin",
	"version.ini", NULL
};

static void
assert_never_listed(const char *path)
{
	ck_assert_msg(strcmp(path, "local") != 0 &&
	    strncmp(path, "local/", 6) != 0 &&
	    strncmp(path, ".local.installing", 17) != 0 &&
	    strstr(path, ".lanspread") == NULL &&
	    strcmp(path, "link.bin") != 0 && strcmp(path, "inner.lnk") != 0 &&
	    strncmp(path, "linkdir", 7) != 0 &&
	    strncmp(path, "datalink", 8) != 0,
	    "listed a path that is never transferred: %s", path);
}

START_TEST(game_files_lists_only_transferable_regular_files)
{
	struct file_stat *files;
	char		 why[ERROR_SIZE];
	size_t		 n, i;

	ck_assert_int_eq(game_files(games_fd, "cnc4", &files, &n, why,
	    sizeof(why)),
	    0);
	for (i = 0; i < n; i++)
		assert_never_listed(files[i].path);
	for (i = 0; cnc4_files[i] != NULL; i++) {
		ck_assert_uint_gt(n, i);
		ck_assert_str_eq(files[i].path, cnc4_files[i]);
	}
	ck_assert_uint_eq(n, i);
	ck_assert_uint_eq(files[0].size, BIG_SIZE);
	ck_assert_uint_eq(files[1].size, ETI_SIZE);
	ck_assert_uint_eq(files[3].size, SUB_SIZE);
	ck_assert_uint_eq(files[4].size, strlen("20170204\n"));
	game_files_free(files, n);

	/* A game folder that is a symlink is not walked. */
	ck_assert_int_eq(game_files(games_fd, "cod5", &files, &n, why,
	    sizeof(why)),
	    -1);
	ck_assert_ptr_null(files);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(game_files(games_fd, "nosuchgame", &files, &n,
	    why, sizeof(why)), -1);
}
END_TEST

/* Hard links and bind mounts are doors out of the games folder. */
START_TEST(game_files_refuses_a_hard_link_and_a_bind_mount)
{
	struct file_stat *files;
	char		 why[ERROR_SIZE], outside[PATH_MAX], target[PATH_MAX];
	uint64_t	 mnt;
	size_t		 n;

	ck_assert_int_eq(game_mount_id(games_fd, "", &mnt), 0);
	tu_mkdir(games_fd, "hl");
	tu_write_file(games_fd, "hl/a.bin", "secret", 6);
	ck_assert_int_eq(game_file_stays_inside(games_fd, "hl/a.bin", mnt,
	    why, sizeof(why)), 0);
	ck_assert_int_eq(linkat(games_fd, "hl/a.bin", games_fd, "hl/b.bin",
	    0), 0);
	ck_assert_int_eq(game_file_stays_inside(games_fd, "hl/a.bin", mnt,
	    why, sizeof(why)), -1);
	ck_assert_str_eq(why, "a hard link (2 links)");
	ck_assert_int_eq(game_files(games_fd, "hl", &files, &n, why,
	    sizeof(why)), -1);
	ck_assert_msg(strstr(why, ".bin is a hard link") != NULL, "%s", why);
	ck_assert_ptr_null(files);

	/* Root only: a folder of the host bound into a game. */
	tu_tmpdir(outside, sizeof(outside), "check_serve_outside");
	tu_mkdir(games_fd, "bm");
	tu_mkdir(games_fd, "bm/data");
	tu_path(target, sizeof(target), root, "bm/data");
	if (mount(outside, target, NULL, MS_BIND, NULL) == -1)
		return;
	ck_assert_int_eq(game_file_stays_inside(games_fd, "bm/data", mnt,
	    why, sizeof(why)), -1);
	ck_assert_str_eq(why, "on another mount (a bind mount?)");
	ck_assert_int_eq(game_files(games_fd, "bm", &files, &n, why,
	    sizeof(why)), -1);
	ck_assert_msg(strstr(why, "data is on another mount") != NULL, "%s",
	    why);
	ck_assert_int_eq(umount2(target, MNT_DETACH), 0);
	rmdir(outside);
}
END_TEST

/* A chunk request that must be refused, and why it is hostile. */
struct bad_chunk {
	const char	*game_id;
	const char	*path;
	uint64_t	 offset;
	uint64_t	 length;
	const char	*what;
};

static const struct bad_chunk bad_chunks[] = {
	{ "cnc4", "../../etc/passwd", 0, 16, "dot-dot out of the folder" },
	{ "cnc4", "/etc/passwd", 0, 16, "absolute path" },
	{ "cnc4", "data/../version.ini", 0, 4, "dot-dot inside the folder" },
	{ "cnc4", "./version.ini", 0, 4, "dot component" },
	{ "cnc4", "data//sub.bin", 0, 4, "empty component" },
	{ "cnc4", "", 0, 0, "empty path" },
	{ "cnc4", "local/x", 0, 4, "the installed game" },
	{ "cnc4", ".local.installing/x", 0, 4, "install staging" },
	{ "cnc4", ".lanspread.json", 0, 2, "our metadata" },
	{ "cnc4", ".lanspread.staging/x", 0, 4, "download staging" },
	{ "cnc4", "data/.lanspread.tmp", 0, 4, "nested metadata" },
	{ "cnc4", "link.bin", 0, 16, "symlink out of the folder" },
	{ "cnc4", "inner.lnk", 0, 16, "symlink inside the folder" },
	{ "cnc4", "linkdir/passwd", 0, 16, "through a symlinked dir out" },
	{ "cnc4", "datalink/sub.bin", 0, 16, "through a symlinked dir in" },
	{ "cnc4", "data", 0, 0, "a directory" },
	{ "cnc4", "nosuch.bin", 0, 0, "a missing file" },
	{ "cnc4", "cnc4.eti", ETI_SIZE + 1, 0, "offset past the end" },
	{ "cnc4", "cnc4.eti", UINT64_MAX, 1, "offset at UINT64_MAX" },
	{ "cnc4", "cnc4.eti", ETI_SIZE - 10, 11, "length over the end" },
	{ "cnc4", "cnc4.eti", 1, UINT64_MAX, "length at UINT64_MAX" },
	{ "cnc4", "big.bin", 0, CHUNK_SIZE + 1, "length over 128 MiB" },
	{ "../x", "version.ini", 0, 4, "game id with dot-dot" },
	{ "cod5", "version.ini", 0, 4, "symlinked game folder" },
	{ "bf1942", "version.ini", 0, 4, "busy game" },
	{ "ggoo", "ggoo.eti", 0, 4, "game without its sentinel" },
	{ "mystery", "version.ini", 0, 2, "game not in the catalog" },
	{ "coh", "coh.eti", 0, 4, "game with a symlinked sentinel" },
};
#define NBAD	(sizeof(bad_chunks) / sizeof(bad_chunks[0]))

START_TEST(serve_open_chunk_refuses_hostile_requests)
{
	struct serve_gates g;
	struct stat	 st;
	char		 why[ERROR_SIZE];
	unsigned char	 buf[64];
	size_t		 i;
	int		 fd;

	gates_fill(&g);
	for (i = 0; i < NBAD; i++) {
		const struct bad_chunk *b = &bad_chunks[i];

		why[0] = '\0';
		fd = serve_open_chunk(&g, games_fd, b->game_id, b->path,
		    b->offset, b->length, why, sizeof(why));
		ck_assert_msg(fd == -1, "served %s (%s/%s)", b->what,
		    b->game_id, b->path);
		ck_assert_msg(why[0] != '\0', "no reason for %s", b->what);
	}
	/* Good requests: up to the exact end, an empty tail, a full chunk. */
	fd = serve_open_chunk(&g, games_fd, "cnc4", "cnc4.eti", ETI_SIZE - 10,
	    10, why, sizeof(why));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(pread(fd, buf, 10, ETI_SIZE - 10), 10);
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(buf[i], pattern_byte(ETI_SIZE - 10 + i, 1));
	close(fd);
	fd = serve_open_chunk(&g, games_fd, "cnc4", "cnc4.eti", ETI_SIZE, 0,
	    why, sizeof(why));
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = serve_open_chunk(&g, games_fd, "cnc4", "big.bin", 8192,
	    CHUNK_SIZE, why, sizeof(why));
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = serve_open_chunk(&g, games_fd, "cnc4", "data/local/keep.txt", 0,
	    5, why, sizeof(why));
	ck_assert_int_ge(fd, 0);
	close(fd);
	serve_gates_free(&g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A real serve link                                                    */

static void
sup_ignore(struct msgconn *c, struct msg *m)
{
	(void)c;
	(void)m;	/* a descriptor left here is closed by the layer */
}

/* One round: the loop runs what is ready, the supervisor end drains. */
static void
pump(void)
{
	char	 sink[4096];

	ev_run(loop, EVRUN_NOWAIT);
	while (recv(sup_far, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

static void
link_setup(void)
{
	int	 sv[2], sp[2];

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	tu_socketpair(sp);
	tu_socketpair(sv);
	ck_assert_ptr_nonnull(xfer = calloc(1, sizeof(*xfer)));
	xfer->loop = loop;
	xfer->games_fd = dup(games_fd);
	ck_assert_int_ge(xfer->games_fd, 0);
	snprintf(xfer->peer_id, sizeof(xfer->peer_id), "%s",
	    "00112233445566778899aabbccddeeff");
	gates_fill(&xfer->gates);
	TAILQ_INIT(&xfer->serving);
	TAILQ_INIT(&xfer->fetches);
	TAILQ_INIT(&xfer->manifests);
	hash_init_worker(xfer);
	msgconn_init(&xfer->sup, loop, sp[0], 1, sup_ignore, NULL, xfer);
	sup_far = sp[1];
	peer_fd = sv[1];
	serve_start(xfer, sv[0], "");
}

static void
link_teardown(void)
{
	transfer_free(xfer);	/* closes the serve links too */
	xfer = NULL;
	ev_loop_destroy(loop);
	loop = NULL;
	if (peer_fd != -1)
		close(peer_fd);
	close(sup_far);
	peer_fd = sup_far = -1;
}

/* Sends a whole frame, pumping while the socket is full. */
static void
send_frame(uint32_t type, const msgpack_sbuffer *body)
{
	struct msg_header hdr;
	char		*buf;
	size_t		 len = sizeof(hdr) + body->size, off = 0;
	uint64_t	 end = tu_now_ms() + DEADLINE_MS;

	hdr.type = htole32(type);
	hdr.flags = 0;
	hdr.len = htole32((uint32_t)body->size);
	ck_assert_ptr_nonnull(buf = malloc(len));
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), body->data, body->size);
	while (off < len) {
		ssize_t	 n = send(peer_fd, buf + off, len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += n;
			continue;
		}
		ck_assert_msg(n == -1 && (errno == EAGAIN || errno == EINTR),
		    "send: %s", strerror(errno));
		ck_assert_msg(tu_now_ms() < end, "send timed out");
		pump();
	}
	free(buf);
	pump();
}

/*
 * Reads exactly n raw bytes from the link. 0 when read, -1 at EOF, -2 on
 * timeout; *got says how many came.
 */
static int
read_raw(void *out, size_t n, size_t *got, int ms)
{
	uint64_t	 end = tu_now_ms() + ms;
	size_t		 off = 0;

	while (off < n) {
		ssize_t	 r = recv(peer_fd, (char *)out + off, n - off,
		    MSG_DONTWAIT);

		if (r > 0) {
			off += r;
			continue;
		}
		if (r == 0)
			break;
		ck_assert_msg(errno == EAGAIN || errno == EINTR, "recv: %s",
		    strerror(errno));
		if (tu_now_ms() >= end)
			break;
		pump();
		(void)poll(NULL, 0, 1);
	}
	if (got != NULL)
		*got = off;
	if (off == n)
		return 0;
	return tu_now_ms() >= end ? -2 : -1;
}

/* One frame received by the test. */
struct frame {
	uint32_t		 type;
	char			*body;
	msgpack_unpacked	 up;
	const msgpack_object	*map;
};

static void
read_frame(struct frame *f)
{
	struct msg_header hdr;
	size_t		 got;
	int		 rc;

	memset(f, 0, sizeof(*f));
	rc = read_raw(&hdr, sizeof(hdr), &got, DEADLINE_MS);
	ck_assert_msg(rc == 0, "no frame header (%s, %zu bytes)",
	    rc == -1 ? "EOF" : "timeout", got);
	f->type = le32toh(hdr.type);
	hdr.len = le32toh(hdr.len);
	ck_assert_uint_eq(le32toh(hdr.flags), 0);
	ck_assert_uint_le(hdr.len, 1024 * 1024);
	ck_assert_ptr_nonnull(f->body = malloc(hdr.len + 1));
	ck_assert_int_eq(read_raw(f->body, hdr.len, NULL, DEADLINE_MS), 0);
	ck_assert_msg(msg_unpack_body(f->body, hdr.len, &f->up) == 0,
	    "%s with a malformed body", msg_type_str(f->type));
	f->map = &f->up.data;
}

static void
frame_free(struct frame *f)
{
	msgpack_unpacked_destroy(&f->up);
	free(f->body);
}

/* Nothing more arrives for a while, and the link is still open. */
static void
assert_quiet(const char *after)
{
	uint64_t	 end = tu_now_ms() + QUIET_MS;
	char		 b;

	while (tu_now_ms() < end) {
		ssize_t	 r;

		pump();
		r = recv(peer_fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
		ck_assert_msg(r == -1 && errno == EAGAIN,
		    "after %s: %s", after, r == 0 ? "the link closed" :
		    r > 0 ? "stray bytes" : strerror(errno));
		(void)poll(NULL, 0, 2);
	}
}

static void
expect_accept(void)
{
	struct frame	 f;

	read_frame(&f);
	ck_assert_str_eq(msg_type_str(f.type), "PEER_XFER_ACCEPT");
	frame_free(&f);
}

static void
send_files_req(const char *game_id)
{
	msgpack_sbuffer	 sbuf;
	msgpack_packer	 pk;

	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "game_id");
	mp_pack_str(&pk, game_id);
	send_frame(MSG_PEER_FILES_REQ, &sbuf);
	msgpack_sbuffer_destroy(&sbuf);
}

static void
send_chunk_req(const char *game_id, const char *path, uint64_t offset,
    uint64_t length)
{
	msgpack_sbuffer	 sbuf;
	msgpack_packer	 pk;

	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	mp_pack_str(&pk, "game_id");
	mp_pack_str(&pk, game_id);
	mp_pack_str(&pk, "path");
	mp_pack_str(&pk, path);
	mp_pack_str(&pk, "offset");
	msgpack_pack_uint64(&pk, offset);
	mp_pack_str(&pk, "length");
	msgpack_pack_uint64(&pk, length);
	send_frame(MSG_PEER_CHUNK_REQ, &sbuf);
	msgpack_sbuffer_destroy(&sbuf);
}

/* The answer is MSG_PEER_ERROR {error}, and nothing follows it. */
static void
expect_error(const char *what)
{
	struct frame	 f;
	char		 err[256];

	read_frame(&f);
	ck_assert_msg(f.type == MSG_PEER_ERROR, "%s: got %s, not PEER_ERROR",
	    what, msg_type_str(f.type));
	ck_assert_msg(mp_get_str(f.map, "error", err, sizeof(err)) == 0 &&
	    err[0] != '\0', "%s: PEER_ERROR without an error", what);
	frame_free(&f);
	assert_quiet(what);
}

/* A chunk header with the fields asked for, then exactly its bytes. */
static void
expect_chunk(const char *game_id, const char *path, uint64_t offset,
    uint64_t length, unsigned seed)
{
	struct frame	 f;
	char		 s[PATH_MAX];
	unsigned char	*buf;
	uint64_t	 v, i;

	read_frame(&f);
	ck_assert_msg(f.type == MSG_PEER_CHUNK, "%s: got %s, not PEER_CHUNK",
	    path, msg_type_str(f.type));
	ck_assert_int_eq(mp_get_str(f.map, "game_id", s, sizeof(s)), 0);
	ck_assert_str_eq(s, game_id);
	ck_assert_int_eq(mp_get_str(f.map, "path", s, sizeof(s)), 0);
	ck_assert_str_eq(s, path);
	ck_assert_int_eq(mp_get_u64(f.map, "offset", &v), 0);
	ck_assert_uint_eq(v, offset);
	ck_assert_int_eq(mp_get_u64(f.map, "length", &v), 0);
	ck_assert_uint_eq(v, length);
	frame_free(&f);
	ck_assert_ptr_nonnull(buf = malloc(length + 1));
	ck_assert_int_eq(read_raw(buf, length, NULL, DEADLINE_MS), 0);
	for (i = 0; i < length; i++)
		if (buf[i] != pattern_byte(offset + i, seed))
			ck_abort_msg("%s: byte %llu differs", path,
			    (unsigned long long)(offset + i));
	free(buf);
	/* Exactly length bytes: the link is quiet after them. */
	assert_quiet(path);
}

/* What a peer hears while the game is being hashed. */
static void
expect_wait(const char *game_id)
{
	struct frame	 f;
	char		 s[PATH_MAX];

	read_frame(&f);
	ck_assert_msg(f.type == MSG_PEER_FILES_WAIT, "got %s, not "
	    "PEER_FILES_WAIT", msg_type_str(f.type));
	ck_assert_int_eq(mp_get_str(f.map, "game_id", s, sizeof(s)), 0);
	ck_assert_str_eq(s, game_id);
	frame_free(&f);
	assert_quiet("the wait");
}

/* The supervisor's part: a manifest of the game as it is, hashed here. */
static void
give_manifest(const char *game_id)
{
	struct manifest	 m;
	struct file_stat *files;
	struct hash_ctx	*h = hash_new();
	char		 why[ERROR_SIZE], rel[PATH_MAX];
	unsigned char	*buf;
	size_t		 n, i, k;

	ck_assert_ptr_nonnull(buf = malloc(PIECE_SIZE));
	ck_assert_int_eq(game_files(games_fd, game_id, &files, &n, why,
	    sizeof(why)), 0);
	memset(&m, 0, sizeof(m));
	snprintf(m.game_id, sizeof(m.game_id), "%s", game_id);
	snprintf(m.version, sizeof(m.version), "20170204");
	m.piece_size = PIECE_SIZE;
	ck_assert_ptr_nonnull(m.files = calloc(n, sizeof(*m.files)));
	for (i = 0; i < n; i++) {
		struct manifest_file *mf = &m.files[m.nfiles++];
		int	 fd;

		mf->path = files[i].path;
		files[i].path = NULL;
		mf->size = files[i].size;
		mf->hashes_len = HASH_SIZE * manifest_pieces(mf->size,
		    PIECE_SIZE);
		ck_assert_ptr_nonnull(mf->hashes = malloc(mf->hashes_len + 1));
		tu_path(rel, sizeof(rel), game_id, mf->path);
		ck_assert_int_ge(fd = openat(games_fd, rel, O_RDONLY), 0);
		for (k = 0; k * HASH_SIZE < mf->hashes_len; k++) {
			ssize_t	 r = pread(fd, buf, PIECE_SIZE,
			    (off_t)(k * PIECE_SIZE));

			ck_assert_int_gt(r, 0);
			hash_update(h, buf, (size_t)r);
			hash_final(h, mf->hashes + k * HASH_SIZE);
		}
		close(fd);
	}
	game_files_free(files, n);
	ck_assert_int_eq(manifest_check(&m, why, sizeof(why)), 0);
	serve_manifest_set(xfer, &m);
	hash_free(h);
	free(buf);
}

/* A FILES answer naming the game and exactly the servable files. */
static void
expect_cnc4_files(void)
{
	const msgpack_object *arr;
	struct frame	 f;
	char		 s[PATH_MAX];
	uint64_t	 size;
	uint32_t	 i;

	read_frame(&f);
	ck_assert_msg(f.type == MSG_PEER_FILES, "got %s, not PEER_FILES",
	    msg_type_str(f.type));
	ck_assert_int_eq(mp_get_str(f.map, "game_id", s, sizeof(s)), 0);
	ck_assert_str_eq(s, "cnc4");
	ck_assert_ptr_nonnull(arr = mp_get_array(f.map, "files"));
	for (i = 0; i < arr->via.array.size; i++) {
		ck_assert_int_eq(mp_get_str(&arr->via.array.ptr[i], "path", s,
		    sizeof(s)), 0);
		ck_assert_int_eq(mp_get_u64(&arr->via.array.ptr[i], "size",
		    &size), 0);
		assert_never_listed(s);
		ck_assert_ptr_nonnull(cnc4_files[i]);
		ck_assert_str_eq(s, cnc4_files[i]);
		if (strcmp(s, "cnc4.eti") == 0)
			ck_assert_uint_eq(size, ETI_SIZE);
		if (strcmp(s, "version.ini") == 0)
			ck_assert_uint_eq(size, strlen("20170204\n"));
	}
	ck_assert_ptr_null(cnc4_files[i]);
	frame_free(&f);
	assert_quiet("the file list");
}

START_TEST(get_game_response_respects_serve_gates)
{
	expect_accept();
	assert_quiet("the accept");
	send_files_req("mystery");		/* not in the catalog */
	expect_error("files of a game not in the catalog");
	send_files_req("bf1942");		/* busy */
	expect_error("files of a busy game");
	send_files_req("ggoo");			/* no sentinel */
	expect_error("files of a game without its sentinel");
	send_files_req("coh");			/* symlinked sentinel */
	expect_error("files of a game with a symlinked sentinel");
	send_files_req("css");			/* directory sentinel */
	expect_error("files of a game whose sentinel is a directory");
	send_files_req("cod5");			/* symlinked folder */
	expect_error("files of a symlinked game folder");
	send_files_req("../x");
	expect_error("files of ../x");
	send_files_req("nosuchgame");
	expect_error("files of a missing game");

	/* Not hashed yet: asked to wait, then answered with its manifest. */
	send_files_req("cnc4");
	expect_wait("cnc4");
	give_manifest("cnc4");
	send_files_req("cnc4");
	expect_cnc4_files();

	/* The gates are read at each request: an operation starts. */
	gates_set(&xfer->gates.busy, &xfer->gates.nbusy,
	    (const char *const[]){ "cnc4", NULL });
	send_files_req("cnc4");
	expect_error("files of cnc4 once busy");
	gates_set(&xfer->gates.busy, &xfer->gates.nbusy,
	    (const char *const[]){ NULL });
	send_files_req("cnc4");
	expect_cnc4_files();
}
END_TEST

START_TEST(file_transfer_dispatch_respects_serve_gates)
{
	expect_accept();
	/* Gated games: refused whatever the file. */
	send_chunk_req("bf1942", "bf1942.eti", 0, 100);
	expect_error("chunk of a busy game");
	send_chunk_req("ggoo", "ggoo.eti", 0, 100);
	expect_error("chunk of a game without its sentinel");
	send_chunk_req("mystery", "mystery.eti", 0, 100);
	expect_error("chunk of a game not in the catalog");
	send_chunk_req("coh", "coh.eti", 0, 100);
	expect_error("chunk of a game with a symlinked sentinel");

	/* A good one: the header echoes the request, then the bytes. */
	send_chunk_req("cnc4", "cnc4.eti", 1000, 50000);
	expect_chunk("cnc4", "cnc4.eti", 1000, 50000, 1);
	/* The whole file, a tail up to the exact end, an empty chunk. */
	send_chunk_req("cnc4", "cnc4.eti", 0, ETI_SIZE);
	expect_chunk("cnc4", "cnc4.eti", 0, ETI_SIZE, 1);
	send_chunk_req("cnc4", "data/sub.bin", SUB_SIZE - 99, 99);
	expect_chunk("cnc4", "data/sub.bin", SUB_SIZE - 99, 99, 2);
	send_chunk_req("cnc4", "cnc4.eti", ETI_SIZE, 0);
	expect_chunk("cnc4", "cnc4.eti", ETI_SIZE, 0, 1);

	/* An operation starts: the same request is refused, then served. */
	gates_set(&xfer->gates.busy, &xfer->gates.nbusy,
	    (const char *const[]){ "cnc4", NULL });
	send_chunk_req("cnc4", "cnc4.eti", 1000, 50000);
	expect_error("chunk of cnc4 once busy");
	gates_set(&xfer->gates.busy, &xfer->gates.nbusy,
	    (const char *const[]){ "bf1942", NULL });
	send_chunk_req("cnc4", "cnc4.eti", 7, 70);
	expect_chunk("cnc4", "cnc4.eti", 7, 70, 1);
}
END_TEST

START_TEST(hostile_chunk_requests_are_refused_and_the_link_survives)
{
	msgpack_sbuffer	 sbuf;
	msgpack_packer	 pk;
	char		 longpath[PATH_MAX + 64];
	size_t		 i;

	expect_accept();
	for (i = 0; i < NBAD; i++) {
		const struct bad_chunk *b = &bad_chunks[i];

		send_chunk_req(b->game_id, b->path, b->offset, b->length);
		expect_error(b->what);
	}
	/* A path longer than PATH_MAX, and requests missing fields. */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	send_chunk_req("cnc4", longpath, 0, 1);
	expect_error("a path over PATH_MAX");
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_str(&pk, "game_id");
	mp_pack_str(&pk, "cnc4");
	mp_pack_str(&pk, "path");
	mp_pack_str(&pk, "cnc4.eti");
	send_frame(MSG_PEER_CHUNK_REQ, &sbuf);
	expect_error("a chunk request without offset and length");
	msgpack_sbuffer_clear(&sbuf);
	msgpack_pack_map(&pk, 4);
	mp_pack_str(&pk, "game_id");
	mp_pack_str(&pk, "cnc4");
	mp_pack_str(&pk, "path");
	mp_pack_str(&pk, "cnc4.eti");
	mp_pack_str(&pk, "offset");
	msgpack_pack_int64(&pk, -1);
	mp_pack_str(&pk, "length");
	msgpack_pack_int64(&pk, -1);
	send_frame(MSG_PEER_CHUNK_REQ, &sbuf);
	expect_error("a chunk request with negative numbers");
	msgpack_sbuffer_clear(&sbuf);
	msgpack_pack_map(&pk, 0);
	send_frame(MSG_PEER_FILES_REQ, &sbuf);
	expect_error("a file list request without a game id");

	/* Refusals do not kill the link: a good request is still served. */
	send_chunk_req("cnc4", "cnc4.eti", 12345, 4321);
	expect_chunk("cnc4", "cnc4.eti", 12345, 4321, 1);
	send_chunk_req("cnc4", "data/local/keep.txt", 0, 5);
	{
		struct frame	 f;
		char		 buf[5];

		read_frame(&f);
		ck_assert_uint_eq(f.type, MSG_PEER_CHUNK);
		frame_free(&f);
		ck_assert_int_eq(read_raw(buf, 5, NULL, DEADLINE_MS), 0);
		ck_assert_int_eq(memcmp(buf, "neste", 5), 0);
		assert_quiet("keep.txt");
	}

	/* A frame that is no request at all: refused, and the link ends. */
	msgpack_sbuffer_clear(&sbuf);
	msgpack_pack_map(&pk, 0);
	send_frame(MSG_PEER_HELLO, &sbuf);
	{
		struct frame	 f;
		char		 b;

		read_frame(&f);
		ck_assert_uint_eq(f.type, MSG_PEER_ERROR);
		frame_free(&f);
		ck_assert_int_eq(read_raw(&b, 1, NULL, DEADLINE_MS), -1);
	}
	ck_assert(TAILQ_EMPTY(&xfer->serving));
	msgpack_sbuffer_destroy(&sbuf);
}
END_TEST

START_TEST(a_malformed_frame_closes_only_that_link)
{
	static const unsigned char garbage[] = {
		0xf5, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0xc1, 0xc1, 0xc1	/* bad body */
	};
	int	 sv[2];
	int	 other;
	char	 b;

	expect_accept();
	/* A second link, served alongside. */
	tu_socketpair(sv);
	serve_start(xfer, sv[0], "");
	other = peer_fd;
	peer_fd = sv[1];
	expect_accept();
	ck_assert_int_eq(send(peer_fd, garbage, sizeof(garbage),
	    MSG_NOSIGNAL), (ssize_t)sizeof(garbage));
	ck_assert_int_eq(read_raw(&b, 1, NULL, DEADLINE_MS), -1);
	close(peer_fd);
	/* The first link still serves. */
	peer_fd = other;
	send_chunk_req("cnc4", "cnc4.eti", 0, 10);
	expect_chunk("cnc4", "cnc4.eti", 0, 10, 1);
	/* An oversized header closes it, without waiting for the body. */
	{
		struct msg_header hdr = { htole32(MSG_PEER_CHUNK_REQ), 0,
		    htole32(0xffffffffu) };

		ck_assert_int_eq(send(peer_fd, &hdr, sizeof(hdr),
		    MSG_NOSIGNAL), (ssize_t)sizeof(hdr));
		ck_assert_int_eq(read_raw(&b, 1, NULL, DEADLINE_MS), -1);
	}
	ck_assert(TAILQ_EMPTY(&xfer->serving));
}
END_TEST

/* A link that asks nothing goes after the idle time, freeing its fd. */
START_TEST(an_idle_serve_link_is_closed)
{
	struct frame	 f;
	uint64_t	 end;
	char		 b;
	int		 sv[2], n = 0;
	ssize_t		 r;

	xfer->serve_idle = 0.3;
	tu_socketpair(sv);
	serve_start(xfer, sv[0], "");
	/* The fixture's own link was started with the default idle time. */
	read_frame(&f);
	ck_assert_uint_eq(f.type, MSG_PEER_XFER_ACCEPT);
	frame_free(&f);
	end = tu_now_ms() + 3000;
	for (;;) {
		r = recv(sv[1], &b, 1, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r == 1)
			n++;	/* its accept frame */
		ck_assert_msg(tu_now_ms() < end, "idle link still open");
		pump();
		(void)poll(NULL, 0, 10);
	}
	ck_assert_int_gt(n, 0);
	/* Only the fixture's link is left. */
	ck_assert_ptr_nonnull(TAILQ_FIRST(&xfer->serving));
	ck_assert_ptr_null(TAILQ_NEXT(TAILQ_FIRST(&xfer->serving), entry));
	close(sv[1]);
}
END_TEST

/* per-host shares */

/* n more serve links; the test keeps their far ends in far[]. */
static void
more_links(int n, int *far)
{
	int	 i, sv[2];

	for (i = 0; i < n; i++) {
		tu_socketpair(sv);
		serve_start(xfer, sv[0], "");
		far[i] = sv[1];
	}
}

static int
serving_count(void)
{
	struct serve_conn *sc;
	int		 n = 0;

	TAILQ_FOREACH(sc, &xfer->serving, entry)
		n++;
	return n;
}

START_TEST(one_host_gets_its_share_of_links_and_no_more)
{
	int	 far[SERVE_LINKS_PER_HOST + 1], i;
	char	 b;

	/* The fixture's link and these come from one host (a socketpair). */
	more_links(SERVE_LINKS_PER_HOST - 1, far);
	ck_assert_int_eq(serving_count(), SERVE_LINKS_PER_HOST);
	ck_assert_str_eq(serve_admit_link(xfer, "?"),
	    "too many transfer links from that host");
	ck_assert_ptr_null(serve_admit_link(xfer, "192.0.2.9"));
	more_links(1, far + SERVE_LINKS_PER_HOST - 1);
	ck_assert_int_eq(serving_count(), SERVE_LINKS_PER_HOST);
	/* Refused: closed without a word. */
	ck_assert_int_eq(recv(far[SERVE_LINKS_PER_HOST - 1], &b, 1,
	    MSG_DONTWAIT), 0);
	for (i = 0; i < SERVE_LINKS_PER_HOST; i++)
		close(far[i]);
}
END_TEST

/* Marks the first n serve links as streaming, from one host or n. */
static void
streaming(int n, int one_host)
{
	struct serve_conn *sc;
	int		 i = 0, p[2];

	TAILQ_FOREACH(sc, &xfer->serving, entry) {
		if (i == n)
			break;
		snprintf(sc->host, sizeof(sc->host), "192.0.2.%d",
		    one_host ? 1 : i + 1);
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		close(p[1]);
		sc->pipe_fd = p[0];
		i++;
	}
	ck_assert_int_eq(i, n);
}

START_TEST(one_host_gets_a_couple_of_streams_at_once)
{
	int	 far[SERVE_STREAMS_PER_HOST], i;

	more_links(SERVE_STREAMS_PER_HOST - 1, far);
	streaming(SERVE_STREAMS_PER_HOST, 1);
	ck_assert_str_eq(serve_admit_stream(xfer, "192.0.2.1"),
	    "too many streams to your host at once");
	ck_assert_ptr_null(serve_admit_stream(xfer, "192.0.2.2"));
	for (i = 0; i < SERVE_STREAMS_PER_HOST - 1; i++)
		close(far[i]);
}
END_TEST

START_TEST(streams_from_every_host_together_are_bounded)
{
	int	 far[SERVE_MAX_STREAMS], i;

	more_links(SERVE_MAX_STREAMS - 1, far);
	streaming(SERVE_MAX_STREAMS, 0);
	ck_assert_str_eq(serve_admit_stream(xfer, "198.51.100.1"),
	    "too many streams at once, try again later");
	for (i = 0; i < SERVE_MAX_STREAMS - 1; i++)
		close(far[i]);
}
END_TEST

static Suite *
serve_suite(void)
{
	Suite	*s = suite_create("serve");
	TCase	*tc;

	tc = tu_tcase(s, "gates", games_setup, games_teardown, NULL, NULL);
	tcase_add_test(tc, serve_gates_set_keeps_valid_ids_sorted);
	tcase_add_test(tc,
	    local_download_available_gates_on_catalog_operation_and_sentinel);

	tc = tu_tcase(s, "files_and_chunks", games_setup, games_teardown,
	    NULL, NULL);
	tcase_add_test(tc,
	    game_files_lists_only_transferable_regular_files);
	tcase_add_test(tc, serve_open_chunk_refuses_hostile_requests);
	tcase_add_test(tc, game_files_refuses_a_hard_link_and_a_bind_mount);

	tc = tu_tcase(s, "serve_link", games_setup, games_teardown,
	    link_setup, link_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, get_game_response_respects_serve_gates);
	tcase_add_test(tc, file_transfer_dispatch_respects_serve_gates);
	tcase_add_test(tc,
	    hostile_chunk_requests_are_refused_and_the_link_survives);
	tcase_add_test(tc, a_malformed_frame_closes_only_that_link);
	tcase_add_test(tc, an_idle_serve_link_is_closed);
	tcase_add_test(tc, one_host_gets_its_share_of_links_and_no_more);
	tcase_add_test(tc, one_host_gets_a_couple_of_streams_at_once);
	tcase_add_test(tc, streams_from_every_host_together_are_bounded);

	return s;
}

int
main(void)
{
	return tu_run_suite(serve_suite());
}
