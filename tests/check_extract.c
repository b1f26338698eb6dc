/*
 * Check suite for worker-install/extract.c: listing a game's archives,
 * extracting them with libarchive (or an external unrar) without ever
 * writing outside the destination, streaming them as peer-wire frames,
 * and the seed's fixture installer. Fixtures come from
 * $LANSPREAD_FIXTURES (make fixtures); hostile archives are written in
 * the tests with the project's own writer, fixtures/rar.py.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/msg.h"
#include "tests/testutil.h"
#include "worker-install/extract.h"

#define PYTHON	"/usr/bin/python3"
#define BSDTAR	"/usr/bin/bsdtar"

/* One temporary root per test: game/ holds archives, dest/ is extracted. */
static char	root[PATH_MAX];
static char	game_path[PATH_MAX], dest_path[PATH_MAX];
static int	game_fd = -1, dest_fd = -1;
static char	err[512];

static Suite	*extract_suite(void);

static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "check_extract");
	game_fd = tu_subdir(root, "game", game_path, sizeof(game_path));
	dest_fd = tu_subdir(root, "dest", dest_path, sizeof(dest_path));
	err[0] = '\0';
}

static void
root_teardown(void)
{
	close(game_fd);
	close(dest_fd);
	game_fd = dest_fd = -1;
	tu_rmtree(root);
}

/* An fd on a fixture game folder, e.g. "fixture-bravo/cnctw". */
static int
fixture_game(const char *rel, char *path, size_t size)
{
	int	fd;

	tu_path(path, size, tu_fixtures(), rel);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "fixture %s missing (make fixtures)", path);
	return fd;
}

/* Runs argv (no shell); returns its exit status, stdout in *out. */
static int
run(char *const argv[], char **out, size_t *outlen)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 r;
	pid_t	 pid;
	int	 p[2], status;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		if ((r = read(p[0], buf + len, cap - len)) <= 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (out != NULL) {
		*out = buf;
		*outlen = len;
	} else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The bytes of entry in archive, as bsdtar -xOf gives them. */
static char *
bsdtar_entry(const char *archive, const char *entry, size_t *len)
{
	char	*argv[] = { BSDTAR, "-xOf", (char *)archive, (char *)entry,
		    NULL };
	char	*out;

	ck_assert_int_eq(run(argv, &out, len), 0);
	return out;
}

static char *
read_all(int dirfd, const char *rel, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	int		 fd;

	fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd != -1, "%s: %s", rel, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	*len = 0;
	while ((r = read(fd, buf + *len, (size_t)st.st_size + 1 - *len)) > 0)
		*len += (size_t)r;
	close(fd);
	return buf;
}

/* dest/rel equals entry of the fixture archive, byte for byte. */
static void
assert_same_as_bsdtar(const char *archive, const char *entry)
{
	char	*want, *got;
	size_t	 wlen, glen;

	want = bsdtar_entry(archive, entry, &wlen);
	got = read_all(dest_fd, entry, &glen);
	ck_assert_msg(wlen == glen && memcmp(want, got, wlen) == 0,
	    "%s differs from bsdtar -xOf %s (%zu vs %zu bytes)", entry,
	    archive, glen, wlen);
	ck_assert_uint_gt(wlen, 0);
	free(want);
	free(got);
}

/* Nothing beside game/ and dest/ in the root, and dest/ is empty. */
static void
assert_nothing_escaped(void)
{
	struct stat	st;
	char		p[PATH_MAX];

	ck_assert_uint_eq(tu_dir_count(root), 2);
	tu_path(p, sizeof(p), root, "evil.txt");
	ck_assert_int_eq(lstat(p, &st), -1);
	tu_path(p, sizeof(p), root, "b.txt");
	ck_assert_int_eq(lstat(p, &st), -1);
	ck_assert_int_eq(lstat("/abs.txt", &st), -1);
}

/*
 * Writes game/<name> with the project's writer: one file entry
 * entry_name holding data, in format "rar5" or "rar4". The writer's name
 * checks (and its folder entries) are bypassed so hostile names go in as
 * given; make_rar_dirs() keeps them.
 */
static void
make_rar_as(const char *name, const char *format, const char *entry_name,
    const char *data, int raw)
{
	char	 path[PATH_MAX];
	char	*argv[] = { PYTHON, "-c",
	    "import sys\n"
	    "sys.path.insert(0, 'fixtures')\n"
	    "import rar\n"
	    "if sys.argv[5] == 'raw':\n"
	    "    rar._normalise = lambda entries, auto_dirs: "
	    "[(n, n.endswith('/'), d, s) for n, d, s in entries]\n"
	    "data = sys.argv[4].encode()\n"
	    "w = rar.write_rar5 if sys.argv[2] == 'rar5' else rar.write_rar4\n"
	    "w(sys.argv[1], [(sys.argv[3], data, len(data))])\n",
	    path, (char *)format, (char *)entry_name, (char *)data,
	    raw ? "raw" : "checked", NULL };

	tu_path(path, sizeof(path), game_path, name);
	ck_assert_msg(access("fixtures/rar.py", R_OK) == 0,
	    "run from the repository root (fixtures/rar.py)");
	ck_assert_int_eq(run(argv, NULL, NULL), 0);
}

static void
make_rar(const char *name, const char *format, const char *entry_name,
    const char *data)
{
	make_rar_as(name, format, entry_name, data, 1);
}

static void
make_rar_dirs(const char *name, const char *format, const char *entry_name,
    const char *data)
{
	make_rar_as(name, format, entry_name, data, 0);
}

/*
 * A RAR 4.x archive whose one entry is a Unix symbolic link named link
 * to /etc, built from the writer's block helper.
 */
static void
make_rar4_symlink(const char *name)
{
	char	 path[PATH_MAX];
	char	*argv[] = { PYTHON, "-c",
	    "import sys, struct, zlib\n"
	    "sys.path.insert(0, 'fixtures')\n"
	    "import rar\n"
	    "target, lname = b'/etc', b'link'\n"
	    "fields = struct.pack('<IIBIIBBHI', len(target), len(target), 3,\n"
	    "    zlib.crc32(target) & 0xffffffff,\n"
	    "    rar._dos_time(rar.DEFAULT_MTIME),\n"
	    "    20, rar.R4_METHOD_STORE, len(lname), 0o120777)\n"
	    "with open(sys.argv[1], 'wb') as fh:\n"
	    "    fh.write(rar.RAR4_SIGNATURE)\n"
	    "    fh.write(rar._r4_block(rar.R4_HEAD_MAIN, 0, b'\\0' * 6))\n"
	    "    fh.write(rar._r4_block(rar.R4_HEAD_FILE, rar.R4_LONG_BLOCK,\n"
	    "        fields + lname))\n"
	    "    fh.write(target)\n"
	    "    fh.write(rar._r4_block(rar.R4_HEAD_END,\n"
	    "        rar.R4_SKIP_IF_UNKNOWN, b''))\n",
	    path, NULL };

	tu_path(path, sizeof(path), game_path, name);
	ck_assert_int_eq(run(argv, NULL, NULL), 0);
}

/* A shell script standing in for unrar, at root/name. */
static void
make_script(const char *name, const char *body, char *path, size_t size)
{
	int	fd;

	tu_path(path, size, root, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, body, strlen(body)),
	    (ssize_t)strlen(body));
	close(fd);
}

/* unrar x and lb done with bsdtar, as the real one would. */
static const char fake_unrar[] =
    "#!/bin/sh\n"
    "case \"$1\" in\n"
    "x) exec " BSDTAR " -xf \"$5\" -C \"$6\" ;;\n"
    "lb) exec " BSDTAR " -tf \"$2\" ;;\n"
    "esac\n"
    "exit 2\n";

/* A temporary file to stream into; read back with frames_load(). */
static int
stream_file(void)
{
	char	path[PATH_MAX];
	int	fd;

	tu_path(path, sizeof(path), root, "stream.out");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	unlink(path);
	return fd;
}

static char *
frames_load(int fd, size_t *len)
{
	struct stat	 st;
	char		*buf;

	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)st.st_size, 0),
	    (ssize_t)st.st_size);
	*len = (size_t)st.st_size;
	return buf;
}

/* Parses the frame at *off; up must be destroyed by the caller. */
static uint32_t
frame_next(const char *buf, size_t len, size_t *off, msgpack_unpacked *up)
{
	struct msg_header	hdr;
	uint32_t		blen;

	ck_assert_uint_ge(len - *off, sizeof(hdr));
	memcpy(&hdr, buf + *off, sizeof(hdr));
	*off += sizeof(hdr);
	blen = le32toh(hdr.len);
	ck_assert_uint_eq(le32toh(hdr.flags), 0);
	ck_assert_uint_ge(len - *off, blen);
	ck_assert_int_eq(msg_unpack_body(buf + *off, blen, up), 0);
	*off += blen;
	return le32toh(hdr.type);
}

/* The stream holds exactly one frame: MSG_PEER_ERROR; returns its text. */
static void
assert_only_peer_error(int fd, char *why, size_t size)
{
	msgpack_unpacked	 up;
	char			*buf;
	size_t			 len, off = 0;

	buf = frames_load(fd, &len);
	ck_assert_uint_eq(frame_next(buf, len, &off, &up), MSG_PEER_ERROR);
	ck_assert_int_eq(mp_get_str(&up.data, "error", why, size), 0);
	msgpack_unpacked_destroy(&up);
	ck_assert_uint_eq(off, len);
	free(buf);
}

START_TEST(list_archives_sorts_eti_files_and_skips_others_and_symlinks)
{
	char	**names;
	size_t	  n;

	tu_write_file(game_fd, "z-last.eti", "z", 1);
	tu_write_file(game_fd, "a-first.eti", "a", 1);
	tu_write_file(game_fd, "M-middle.eti", "m", 1);
	tu_write_file(game_fd, "readme.txt", "r", 1);
	tu_write_file(game_fd, "version.ini", "1", 1);
	tu_write_file(game_fd, "archive.eti.part", "p", 1);
	tu_write_file(game_fd, ".hidden.eti", "h", 1);
	ck_assert_int_eq(symlinkat("a-first.eti", game_fd, "link.eti"), 0);
	ck_assert_int_eq(mkdirat(game_fd, "folder.eti", 0755), 0);

	ck_assert_int_eq(list_archives(game_fd, &names, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "M-middle.eti");
	ck_assert_str_eq(names[1], "a-first.eti");
	ck_assert_str_eq(names[2], "z-last.eti");
	archives_free(names, n);
}
END_TEST

START_TEST(list_archives_without_archive_is_an_error)
{
	char	**names = NULL;
	size_t	  n = 7;

	tu_write_file(game_fd, "version.ini", "1", 1);
	ck_assert_int_eq(list_archives(game_fd, &names, &n, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "no archive in the game folder");
	ck_assert_ptr_null(names);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(default_limits_scale_with_the_archives_size)
{
	struct extract_limits	 lim;
	char			*names[] = { "a.eti", "b.eti", "gone.eti" };

	tu_write_file(game_fd, "a.eti", "0123456789", 10);
	tu_write_file(game_fd, "b.eti", "01234", 5);
	extract_default_limits(game_fd, names, 3, &lim);
	ck_assert_uint_eq(lim.max_total, 15 * 1024 + 64ULL * 1024 * 1024);
	ck_assert_uint_eq(lim.max_entries, 1000000);
}
END_TEST

START_TEST(extract_cnctw_gives_the_bytes_bsdtar_gives)
{
	struct extract_limits	 lim;
	char			 gpath[PATH_MAX], archive[PATH_MAX];
	char			*names[] = { "cnctw.eti" };
	int			 gfd;

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	tu_path(archive, sizeof(archive), gpath, "cnctw.eti");
	extract_default_limits(gfd, names, 1, &lim);
	ck_assert_msg(extract_archives(gfd, names, 1, dest_fd, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	assert_same_as_bsdtar(archive, "bin/cnctw-payload.bin");
	assert_same_as_bsdtar(archive, "data/cnctw-assets.dat");
	/* Exactly bin/ and data/, each with its one file. */
	ck_assert_uint_eq(tu_dir_count(dest_path), 2);
	tu_path(gpath, sizeof(gpath), dest_path, "bin");
	ck_assert_uint_eq(tu_dir_count(gpath), 1);
	tu_path(gpath, sizeof(gpath), dest_path, "data");
	ck_assert_uint_eq(tu_dir_count(gpath), 1);
	close(gfd);
}
END_TEST

START_TEST(extract_reads_rar4_archives)
{
	struct extract_limits	 lim;
	char			 gpath[PATH_MAX], archive[PATH_MAX];
	char			*names[] = { "bfbc2.eti" };
	int			 gfd;

	gfd = fixture_game("fixture-bravo/bfbc2", gpath, sizeof(gpath));
	tu_path(archive, sizeof(archive), gpath, "bfbc2.eti");
	extract_default_limits(gfd, names, 1, &lim);
	ck_assert_msg(extract_archives(gfd, names, 1, dest_fd, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	assert_same_as_bsdtar(archive, "readme.txt");
	assert_same_as_bsdtar(archive, "bin/bfbc2.bin");
	assert_same_as_bsdtar(archive, "data/level.fbrb");
	close(gfd);
}
END_TEST

START_TEST(extract_reads_solid_rar5_archives)
{
	struct extract_limits	 lim;
	char			 gpath[PATH_MAX], archive[PATH_MAX];
	char			*names[] = { "cnctw.eti" };
	int			 gfd;

	gfd = fixture_game("fixture-solid/cnctw", gpath, sizeof(gpath));
	tu_path(archive, sizeof(archive), gpath, "cnctw.eti");
	extract_default_limits(gfd, names, 1, &lim);
	ck_assert_msg(extract_archives(gfd, names, 1, dest_fd, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	assert_same_as_bsdtar(archive, "bin/cnctw-solid-payload.bin");
	assert_same_as_bsdtar(archive, "data/cnctw-solid-assets.dat");
	close(gfd);
}
END_TEST

START_TEST(extract_applies_several_archives_in_sorted_order)
{
	struct extract_limits	 lim;
	char			 gpath[PATH_MAX], **names, *got;
	size_t			 n, len;
	int			 gfd;

	gfd = fixture_game("fixture-multi/cnctw", gpath, sizeof(gpath));
	ck_assert_int_eq(list_archives(gfd, &names, &n, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "a-first.eti");
	ck_assert_str_eq(names[1], "z-second.eti");
	extract_default_limits(gfd, names, n, &lim);
	ck_assert_msg(extract_archives(gfd, names, n, dest_fd, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	got = read_all(dest_fd, "order/first.txt", &len);
	ck_assert_uint_eq(len, strlen("first archive payload\n"));
	ck_assert_int_eq(memcmp(got, "first archive payload\n", len), 0);
	free(got);
	got = read_all(dest_fd, "order/second.txt", &len);
	ck_assert_uint_eq(len, strlen("second archive payload\n"));
	ck_assert_int_eq(memcmp(got, "second archive payload\n", len), 0);
	free(got);
	archives_free(names, n);
	close(gfd);
}
END_TEST

START_TEST(extract_lets_a_later_archive_overwrite_a_file)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "a.eti", "b.eti" }, *got;
	size_t			 len;

	make_rar("a.eti", "rar5", "dir/same.txt", "from the first archive");
	make_rar("b.eti", "rar5", "dir/same.txt", "second");
	ck_assert_msg(extract_archives(game_fd, names, 2, dest_fd, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	got = read_all(dest_fd, "dir/same.txt", &len);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(memcmp(got, "second", 6), 0);
	free(got);
}
END_TEST

START_TEST(extract_refuses_a_corrupt_archive_and_writes_nothing)
{
	struct extract_limits	 lim;
	char			*names[] = { "cnctw.eti" };

	tu_write_file(game_fd, "cnctw.eti", "not a rar archive", 17);
	extract_default_limits(game_fd, names, 1, &lim);
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "cnctw.eti: ", 11) == 0 &&
	    strlen(err) > 11, "%s", err);
	ck_assert_uint_eq(tu_dir_count(dest_path), 0);
	assert_nothing_escaped();
}
END_TEST

START_TEST(extract_refuses_a_name_climbing_out_with_dotdot)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "evil.eti" };

	make_rar("evil.eti", "rar5", "../evil.txt", "escaped");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "has an unsafe name: refused") != NULL,
	    "%s", err);
	ck_assert_uint_eq(tu_dir_count(dest_path), 0);
	assert_nothing_escaped();
}
END_TEST

START_TEST(extract_refuses_an_absolute_name)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "abs.eti" };

	make_rar("abs.eti", "rar5", "/abs.txt", "escaped");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "has an unsafe name: refused") != NULL,
	    "%s", err);
	ck_assert_uint_eq(tu_dir_count(dest_path), 0);
	assert_nothing_escaped();
}
END_TEST

START_TEST(extract_refuses_a_nested_name_climbing_out)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "nested.eti" };

	make_rar("nested.eti", "rar5", "a/../../b.txt", "escaped");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "has an unsafe name: refused") != NULL,
	    "%s", err);
	assert_nothing_escaped();
}
END_TEST

START_TEST(extract_refuses_a_backslash_name_in_rar5)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "bs.eti" };

	make_rar("bs.eti", "rar5", "..\\evil.txt", "escaped");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "has an unsafe name: refused") != NULL,
	    "%s", err);
	ck_assert_uint_eq(tu_dir_count(dest_path), 0);
	assert_nothing_escaped();
}
END_TEST

START_TEST(extract_refuses_a_symlink_entry)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "link.eti" };
	struct stat		 st;

	make_rar4_symlink("link.eti");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "archive entry link is a link: refused") !=
	    NULL, "%s", err);
	ck_assert_int_eq(fstatat(dest_fd, "link", &st, AT_SYMLINK_NOFOLLOW),
	    -1);
	assert_nothing_escaped();
}
END_TEST

START_TEST(extract_refuses_an_archive_beyond_max_total)
{
	struct extract_limits	 lim = { .max_total = 10,
	    .max_entries = 100 };
	char			*names[] = { "big.eti" };

	make_rar("big.eti", "rar5", "big.txt", "eleven bytes");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "archive expands beyond 10 bytes: refused")
	    != NULL, "%s", err);
}
END_TEST

START_TEST(extract_refuses_an_archive_beyond_max_entries)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 2 };
	char			*names[] = { "many.eti" };

	/* a/, a/b/ and a/b/c.txt: three entries. */
	make_rar_dirs("many.eti", "rar5", "a/b/c.txt", "x");
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "beyond 2 entries: refused") != NULL, "%s",
	    err);
}
END_TEST

START_TEST(extract_unrar_that_cannot_run_says_so)
{
	char	*names[] = { "cnctw.eti" };

	tu_write_file(game_fd, "cnctw.eti", "not a rar archive", 17);
	ck_assert_int_eq(extract_archives_unrar("/missing-unrar", game_fd,
	    game_path, names, 1, dest_path, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "cannot run /missing-unrar: No such file or directory");
}
END_TEST

START_TEST(extract_unrar_runs_the_program_per_archive)
{
	char	 unrar[PATH_MAX], gpath[PATH_MAX], **names, *got;
	size_t	 n, len;
	int	 gfd;

	make_script("unrar", fake_unrar, unrar, sizeof(unrar));
	gfd = fixture_game("fixture-multi/cnctw", gpath, sizeof(gpath));
	ck_assert_int_eq(list_archives(gfd, &names, &n, err, sizeof(err)),
	    0);
	ck_assert_msg(extract_archives_unrar(unrar, gfd, gpath, names, n,
	    dest_path, err, sizeof(err)) == 0, "%s", err);
	got = read_all(dest_fd, "order/first.txt", &len);
	ck_assert_uint_eq(len, strlen("first archive payload\n"));
	free(got);
	got = read_all(dest_fd, "order/second.txt", &len);
	ck_assert_uint_eq(len, strlen("second archive payload\n"));
	free(got);
	archives_free(names, n);
	close(gfd);
}
END_TEST

START_TEST(extract_unrar_failure_status_is_an_error)
{
	char	 unrar[PATH_MAX], *names[] = { "a.eti" };

	make_script("unrar", "#!/bin/sh\nexit 3\n", unrar, sizeof(unrar));
	tu_write_file(game_fd, "a.eti", "x", 1);
	ck_assert_int_eq(extract_archives_unrar(unrar, game_fd, game_path,
	    names, 1, dest_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exited with status 3") != NULL, "%s", err);
}
END_TEST

START_TEST(extract_unrar_refuses_a_symlink_left_behind)
{
	char	 unrar[PATH_MAX], *names[] = { "a.eti" };

	make_script("unrar", "#!/bin/sh\nmkdir -p \"$6/d\" && "
	    "ln -s /etc \"$6/d/link\"\n", unrar, sizeof(unrar));
	tu_write_file(game_fd, "a.eti", "x", 1);
	ck_assert_int_eq(extract_archives_unrar(unrar, game_fd, game_path,
	    names, 1, dest_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "d/link is a link: refused") != NULL, "%s",
	    err);
}
END_TEST

/*
 * The stream of fixture-bravo/cnctw: two entry frames, each followed by
 * its bytes (equal to bsdtar's), in archive order, then STREAM_END.
 */
static void
assert_cnctw_stream(int fd, const char *archive)
{
	static const char	*want[] = { "bin/cnctw-payload.bin",
				    "data/cnctw-assets.dat" };
	msgpack_unpacked	 up;
	char			*buf, path[PATH_MAX], *data;
	uint64_t		 size, v;
	size_t			 len, off = 0, dlen, i;

	buf = frames_load(fd, &len);
	for (i = 0; i < 2; i++) {
		ck_assert_uint_eq(frame_next(buf, len, &off, &up),
		    MSG_PEER_ENTRY);
		ck_assert_int_eq(mp_get_str(&up.data, "path", path,
		    sizeof(path)), 0);
		ck_assert_int_eq(mp_get_u64(&up.data, "size", &size), 0);
		msgpack_unpacked_destroy(&up);
		ck_assert_str_eq(path, want[i]);
		data = bsdtar_entry(archive, want[i], &dlen);
		ck_assert_uint_eq(size, dlen);
		ck_assert_uint_ge(len - off, size);
		ck_assert_int_eq(memcmp(buf + off, data, dlen), 0);
		off += size;
		ck_assert_uint_eq(frame_next(buf, len, &off, &up),
		    MSG_PEER_ENTRY_SUM);
		ck_assert_int_eq(mp_get_u64(&up.data, "crc32", &v), 0);
		msgpack_unpacked_destroy(&up);
		ck_assert_uint_eq(v, crc32(0, (const Bytef *)data, dlen));
		free(data);
	}
	ck_assert_uint_eq(frame_next(buf, len, &off, &up),
	    MSG_PEER_STREAM_END);
	ck_assert_int_eq(mp_get_u64(&up.data, "entries", &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(mp_get_u64(&up.data, "bytes", &v), 0);
	ck_assert_uint_eq(v, 3145728);
	msgpack_unpacked_destroy(&up);
	ck_assert_uint_eq(off, len);
	free(buf);
}

START_TEST(stream_sends_entries_in_archive_order_then_stream_end)
{
	struct extract_limits	 lim;
	char			 gpath[PATH_MAX], archive[PATH_MAX];
	char			*names[] = { "cnctw.eti" };
	int			 gfd, out;

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	tu_path(archive, sizeof(archive), gpath, "cnctw.eti");
	extract_default_limits(gfd, names, 1, &lim);
	out = stream_file();
	ck_assert_msg(stream_archives(gfd, names, 1, out, &lim, err,
	    sizeof(err)) == 0, "%s", err);
	assert_cnctw_stream(out, archive);
	close(out);
	close(gfd);
}
END_TEST

START_TEST(stream_of_a_corrupt_archive_sends_peer_error_first)
{
	struct extract_limits	 lim;
	char			*names[] = { "cnctw.eti" }, why[512];
	int			 out;

	tu_write_file(game_fd, "cnctw.eti", "not a rar archive", 17);
	extract_default_limits(game_fd, names, 1, &lim);
	out = stream_file();
	ck_assert_int_eq(stream_archives(game_fd, names, 1, out, &lim, err,
	    sizeof(err)), -1);
	assert_only_peer_error(out, why, sizeof(why));
	ck_assert_str_eq(why, err);
	ck_assert_msg(strncmp(why, "cnctw.eti: ", 11) == 0, "%s", why);
	close(out);
}
END_TEST

START_TEST(stream_of_a_hostile_name_sends_peer_error_and_no_entry)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	char			*names[] = { "evil.eti" }, why[512];
	int			 out;

	make_rar("evil.eti", "rar5", "../evil.txt", "escaped");
	out = stream_file();
	ck_assert_int_eq(stream_archives(game_fd, names, 1, out, &lim, err,
	    sizeof(err)), -1);
	assert_only_peer_error(out, why, sizeof(why));
	ck_assert_msg(strstr(why, "has an unsafe name: refused") != NULL,
	    "%s", why);
	close(out);
}
END_TEST

/* game/cnctw.eti: the fixture's first len bytes. */
static void
copy_cnctw_prefix(size_t len)
{
	char	 gpath[PATH_MAX], *data;
	size_t	 all;
	int	 gfd;

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	data = read_all(gfd, "cnctw.eti", &all);
	ck_assert_uint_ge(all, len);
	tu_write_file(game_fd, "cnctw.eti", data, len);
	free(data);
	close(gfd);
}

START_TEST(extract_refuses_a_truncated_archive)
{
	struct extract_limits	 lim;
	char			*names[] = { "cnctw.eti" };

	copy_cnctw_prefix(1024 * 1024);
	extract_default_limits(game_fd, names, 1, &lim);
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "cnctw.eti: ", 11) == 0, "%s", err);
}
END_TEST

/* game/cnctw.eti: the fixture with one byte of its first entry flipped. */
static void
copy_cnctw_flipped(void)
{
	char	 gpath[PATH_MAX], *data;
	size_t	 all;
	int	 gfd;

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	data = read_all(gfd, "cnctw.eti", &all);
	/* The first entry holds the archive's first 2 MiB of data. */
	data[1024 * 1024] ^= 0x01;
	tu_write_file(game_fd, "cnctw.eti", data, all);
	free(data);
	close(gfd);
}

START_TEST(extract_refuses_an_entry_whose_crc_does_not_match)
{
	struct extract_limits	 lim;
	char			*names[] = { "cnctw.eti" };

	copy_cnctw_flipped();
	extract_default_limits(game_fd, names, 1, &lim);
	ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd, &lim,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "bin/cnctw-payload.bin is corrupt (CRC32")
	    != NULL, "%s", err);
}
END_TEST

/* Stored entries of both formats: libarchive alone lets these through. */
START_TEST(extract_refuses_a_stored_entry_with_a_flipped_byte)
{
	struct extract_limits	 lim = { .max_total = 1 << 20,
	    .max_entries = 100 };
	const char		*fmt[] = { "rar4", "rar5" };
	char			*names[] = { "x.eti" }, *data, *at;
	size_t			 len, i;

	for (i = 0; i < 2; i++) {
		make_rar("x.eti", fmt[i], "save.cfg", "name=Lan Hero");
		data = read_all(game_fd, "x.eti", &len);
		ck_assert_ptr_nonnull(at = memmem(data, len, "Lan Hero", 8));
		at[4] ^= 0x20;
		tu_write_file(game_fd, "x.eti", data, len);
		free(data);
		ck_assert_int_eq(extract_archives(game_fd, names, 1, dest_fd,
		    &lim, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "x.eti: archive entry save.cfg is "
		    "corrupt (CRC32") != NULL, "%s: %s", fmt[i], err);
	}
}
END_TEST

START_TEST(rar_sums_lists_each_file_header_in_order)
{
	struct rar_sums	 sums;
	char		 gpath[PATH_MAX], *data, *entry;
	size_t		 len, elen, i, files = 0;
	int		 gfd;
	static const char *want[] = { "bin/cnctw-payload.bin",
			    "data/cnctw-assets.dat" };
	char		 archive[PATH_MAX];

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	tu_path(archive, sizeof(archive), gpath, "cnctw.eti");
	data = read_all(gfd, "cnctw.eti", &len);
	ck_assert_int_eq(rar_sums_parse(data, len, &sums, err, sizeof(err)),
	    0);
	for (i = 0; i < sums.n; i++) {
		if (sums.v[i].is_dir)
			continue;
		ck_assert_uint_lt(files, 2);
		entry = bsdtar_entry(archive, want[files], &elen);
		ck_assert_uint_eq(sums.v[i].size, elen);
		ck_assert(sums.v[i].has_crc);
		ck_assert_uint_eq(sums.v[i].crc32,
		    crc32(0, (const Bytef *)entry, elen));
		free(entry);
		files++;
	}
	ck_assert_uint_eq(files, 2);
	rar_sums_free(&sums);
	/* Cut short, or not RAR at all: an error, nothing kept. */
	ck_assert_int_eq(rar_sums_parse(data, len / 2, &sums, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "past the end") != NULL, "%s", err);
	ck_assert_ptr_null(sums.v);
	ck_assert_int_eq(rar_sums_parse("PK\3\4", 4, &sums, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "not a RAR archive");
	/* A damaged header is caught by its own CRC. */
	data[20] ^= 0x01;
	ck_assert_int_eq(rar_sums_parse(data, len, &sums, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "damaged") != NULL, "%s", err);
	free(data);
	close(gfd);
}
END_TEST

/*
 * A corrupt entry: its frame and bytes went out, then the error instead
 * of its checksum (the reader is at a frame boundary again), and no end.
 */
START_TEST(stream_of_a_corrupt_entry_sends_peer_error_after_its_bytes)
{
	struct extract_limits	 lim;
	msgpack_unpacked	 up;
	char			*names[] = { "cnctw.eti" }, *buf;
	char			 why[512];
	uint64_t		 size;
	size_t			 len, off = 0;
	int			 out;

	copy_cnctw_flipped();
	extract_default_limits(game_fd, names, 1, &lim);
	out = stream_file();
	ck_assert_int_eq(stream_archives(game_fd, names, 1, out, &lim, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is corrupt (CRC32") != NULL, "%s", err);
	buf = frames_load(out, &len);
	ck_assert_uint_eq(frame_next(buf, len, &off, &up), MSG_PEER_ENTRY);
	ck_assert_int_eq(mp_get_u64(&up.data, "size", &size), 0);
	msgpack_unpacked_destroy(&up);
	ck_assert_uint_eq(size, 2 * 1024 * 1024);
	off += size;
	ck_assert_uint_eq(frame_next(buf, len, &off, &up), MSG_PEER_ERROR);
	ck_assert_int_eq(mp_get_str(&up.data, "error", why, sizeof(why)), 0);
	msgpack_unpacked_destroy(&up);
	ck_assert_str_eq(why, err);
	ck_assert_uint_eq(off, len);
	free(buf);
	close(out);
}
END_TEST

START_TEST(stream_reports_a_reader_that_went_away)
{
	struct extract_limits	 lim;
	char			 gpath[PATH_MAX];
	char			*names[] = { "cnctw.eti" };
	int			 gfd, sv[2];

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	extract_default_limits(gfd, names, 1, &lim);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	close(sv[1]);
	/* No SIGPIPE may kill us: the error comes back as -1. */
	ck_assert_int_eq(stream_archives(gfd, names, 1, sv[0], &lim, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "the reader went away") != NULL, "%s", err);
	close(sv[0]);
	close(gfd);
}
END_TEST

START_TEST(stream_unrar_that_cannot_run_fails_before_the_first_entry)
{
	struct extract_limits	 lim;
	char			*names[] = { "cnctw.eti" }, why[512];
	int			 out;

	tu_write_file(game_fd, "cnctw.eti", "whatever", 8);
	extract_default_limits(game_fd, names, 1, &lim);
	out = stream_file();
	ck_assert_int_eq(stream_archives_unrar("/missing-unrar", game_fd,
	    game_path, names, 1, out, &lim, err, sizeof(err)), -1);
	assert_only_peer_error(out, why, sizeof(why));
	ck_assert_str_eq(why,
	    "cannot run /missing-unrar: No such file or directory");
	/* The temporary folder is gone. */
	ck_assert_uint_eq(tu_dir_count(game_path), 1);
	close(out);
}
END_TEST

START_TEST(stream_unrar_streams_the_listed_files_in_order)
{
	struct extract_limits	 lim;
	char			 unrar[PATH_MAX], gpath[PATH_MAX];
	char			 archive[PATH_MAX], *data;
	char			*names[] = { "cnctw.eti" };
	size_t			 len;
	int			 gfd, out;

	make_script("unrar", fake_unrar, unrar, sizeof(unrar));
	/* Copy the fixture archive in: the fixture folder stays clean. */
	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	tu_path(archive, sizeof(archive), gpath, "cnctw.eti");
	data = read_all(gfd, "cnctw.eti", &len);
	tu_write_file(game_fd, "cnctw.eti", data, len);
	free(data);
	close(gfd);
	tu_path(archive, sizeof(archive), game_path, "cnctw.eti");

	extract_default_limits(game_fd, names, 1, &lim);
	out = stream_file();
	ck_assert_msg(stream_archives_unrar(unrar, game_fd, game_path, names,
	    1, out, &lim, err, sizeof(err)) == 0, "%s", err);
	assert_cnctw_stream(out, archive);
	ck_assert_uint_eq(tu_dir_count(game_path), 1);
	close(out);
}
END_TEST

START_TEST(fixture_install_writes_the_archive_bytes_exactly)
{
	char	 gpath[PATH_MAX], *names[] = { "cnctw.eti" }, *want, *got;
	size_t	 wlen, glen;
	int	 gfd;

	gfd = fixture_game("fixture-bravo/cnctw", gpath, sizeof(gpath));
	ck_assert_msg(fixture_install(gfd, names, 1, dest_fd, err,
	    sizeof(err)) == 0, "%s", err);
	want = read_all(gfd, "cnctw.eti", &wlen);
	got = read_all(dest_fd, FIXTURE_PAYLOAD, &glen);
	ck_assert_uint_eq(wlen, glen);
	ck_assert_int_eq(memcmp(want, got, wlen), 0);
	ck_assert_uint_eq(tu_dir_count(dest_path), 1);
	free(want);
	free(got);
	close(gfd);
}
END_TEST

START_TEST(fixture_install_concatenates_several_archives_in_order)
{
	char	*names[] = { "a.eti", "b.eti" }, *got;
	size_t	 len;

	tu_write_file(game_fd, "a.eti", "first|", 6);
	tu_write_file(game_fd, "b.eti", "second", 6);
	ck_assert_msg(fixture_install(game_fd, names, 2, dest_fd, err,
	    sizeof(err)) == 0, "%s", err);
	got = read_all(dest_fd, FIXTURE_PAYLOAD, &len);
	ck_assert_uint_eq(len, 12);
	ck_assert_int_eq(memcmp(got, "first|second", 12), 0);
	free(got);
}
END_TEST

static Suite *
extract_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("extract");

	tc = tu_tcase(s, "list", NULL, NULL, root_setup, root_teardown);
	tcase_add_test(tc,
	    list_archives_sorts_eti_files_and_skips_others_and_symlinks);
	tcase_add_test(tc, list_archives_without_archive_is_an_error);
	tcase_add_test(tc, default_limits_scale_with_the_archives_size);

	tc = tu_tcase(s, "extract", NULL, NULL, root_setup, root_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, extract_cnctw_gives_the_bytes_bsdtar_gives);
	tcase_add_test(tc, extract_reads_rar4_archives);
	tcase_add_test(tc, extract_reads_solid_rar5_archives);
	tcase_add_test(tc, extract_applies_several_archives_in_sorted_order);
	tcase_add_test(tc, extract_lets_a_later_archive_overwrite_a_file);

	tc = tu_tcase(s, "hostile", NULL, NULL, root_setup, root_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc,
	    extract_refuses_a_corrupt_archive_and_writes_nothing);
	tcase_add_test(tc, extract_refuses_a_name_climbing_out_with_dotdot);
	tcase_add_test(tc, extract_refuses_an_absolute_name);
	tcase_add_test(tc, extract_refuses_a_nested_name_climbing_out);
	tcase_add_test(tc, extract_refuses_a_backslash_name_in_rar5);
	tcase_add_test(tc, extract_refuses_a_symlink_entry);
	tcase_add_test(tc, extract_refuses_an_archive_beyond_max_total);
	tcase_add_test(tc, extract_refuses_an_archive_beyond_max_entries);
	tcase_add_test(tc, extract_refuses_a_truncated_archive);
	tcase_add_test(tc, extract_refuses_an_entry_whose_crc_does_not_match);
	tcase_add_test(tc, extract_refuses_a_stored_entry_with_a_flipped_byte);
	tcase_add_test(tc, rar_sums_lists_each_file_header_in_order);

	tc = tu_tcase(s, "unrar", NULL, NULL, root_setup, root_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, extract_unrar_that_cannot_run_says_so);
	tcase_add_test(tc, extract_unrar_runs_the_program_per_archive);
	tcase_add_test(tc, extract_unrar_failure_status_is_an_error);
	tcase_add_test(tc, extract_unrar_refuses_a_symlink_left_behind);

	tc = tu_tcase(s, "stream", NULL, NULL, root_setup, root_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc,
	    stream_sends_entries_in_archive_order_then_stream_end);
	tcase_add_test(tc, stream_of_a_corrupt_archive_sends_peer_error_first);
	tcase_add_test(tc,
	    stream_of_a_hostile_name_sends_peer_error_and_no_entry);
	tcase_add_test(tc,
	    stream_of_a_corrupt_entry_sends_peer_error_after_its_bytes);
	tcase_add_test(tc, stream_reports_a_reader_that_went_away);
	tcase_add_test(tc,
	    stream_unrar_that_cannot_run_fails_before_the_first_entry);
	tcase_add_test(tc, stream_unrar_streams_the_listed_files_in_order);

	tc = tu_tcase(s, "fixture_install", NULL, NULL,
	    root_setup, root_teardown);
	tcase_add_test(tc, fixture_install_writes_the_archive_bytes_exactly);
	tcase_add_test(tc,
	    fixture_install_concatenates_several_archives_in_order);

	return s;
}

int
main(void)
{
	return tu_run_suite(extract_suite());
}
