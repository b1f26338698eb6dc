/*
 * Check suite for common/path.c: validation of untrusted relative paths
 * and the open/mkdir/remove helpers that never follow symbolic links.
 */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "tests/testutil.h"

/* One temporary root per test case; each test works in its own subdir. */
static char	root[PATH_MAX];
static int	rootfd = -1;

static Suite	*path_suite(void);

/* Unchecked: runs in the runner process, so it cleans up after failures. */
static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "check_path");
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror(root);
		exit(1);
	}
}

static void
root_teardown(void)
{
	close(rootfd);
	rootfd = -1;
	/* tu_rmtree: the links we planted must not lead the cleanup out. */
	tu_rmtree(root);
}

/*
 * Stands in for a kernel without openat2 (or a seccomp sandbox that
 * answers ENOSYS), so the component walk runs. Checked fixture: the
 * filter stays in the forked test process. No arch check: it only has to
 * catch our own native openat2 calls.
 */
static void
block_openat2(void)
{
	struct sock_filter	filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog	prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

/*
 * A fresh directory for one test. outside, when asked for, gets the
 * absolute path of its "outside" subdir, a target for escaping links.
 */
static int
scratch(const char *name, char *outside, size_t size)
{
	int	fd;

	tu_mkdir(rootfd, name);
	fd = tu_opendir(rootfd, name);
	if (outside != NULL)
		ck_assert_int_lt(snprintf(outside, size, "%s/%s/outside",
		    root, name), (int)size);
	return fd;
}

static int
is_dir(int dfd, const char *rel)
{
	struct stat	st;

	return fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* A refused symlink shows up as ELOOP (walk, openat2) or EXDEV (openat2). */
static void
assert_link_refused(int fd, int err, const char *rel)
{
	ck_assert_msg(fd == -1, "%s opened through a symlink", rel);
	ck_assert_msg(err == ELOOP || err == EXDEV, "%s: %s, want ELOOP/EXDEV",
	    rel, strerror(err));
}

static void
assert_open_refused(int dfd, const char *rel, int flags)
{
	int	fd;

	errno = 0;
	fd = path_open_beneath(dfd, rel, flags, 0600);
	assert_link_refused(fd, errno, rel);
}

/* safe relative paths */

START_TEST(safe_relative_accepts_plain_nested_paths)
{
	ck_assert(path_is_safe_relative("version.ini"));
	ck_assert(path_is_safe_relative("data/x.bin"));
	ck_assert(path_is_safe_relative("a/b/c/d"));
	ck_assert(path_is_safe_relative(".hidden"));
	ck_assert(path_is_safe_relative("a/.b"));
	ck_assert(path_is_safe_relative("..a"));
	ck_assert(path_is_safe_relative("a.."));
	ck_assert(path_is_safe_relative("a/..."));
	ck_assert(path_is_safe_relative("\xc3\xa9t\xc3\xa9/\xe6\x97\xa5.txt"));
}
END_TEST

START_TEST(safe_relative_rejects_dotdot_absolute_and_empty_components)
{
	ck_assert(!path_is_safe_relative(NULL));
	ck_assert(!path_is_safe_relative(""));
	ck_assert(!path_is_safe_relative("/"));
	ck_assert(!path_is_safe_relative("/etc/passwd"));
	ck_assert(!path_is_safe_relative(".."));
	ck_assert(!path_is_safe_relative("../x"));
	ck_assert(!path_is_safe_relative("a/.."));
	ck_assert(!path_is_safe_relative("a/../../b"));
	ck_assert(!path_is_safe_relative("a//b"));
	ck_assert(!path_is_safe_relative("a/"));
	ck_assert(!path_is_safe_relative("."));
	ck_assert(!path_is_safe_relative("./a"));
	ck_assert(!path_is_safe_relative("a/./b"));
	ck_assert(!path_is_safe_relative("a/."));
}
END_TEST

START_TEST(safe_relative_rejects_backslash_and_control_bytes)
{
	ck_assert(!path_is_safe_relative("a\\b"));
	ck_assert(!path_is_safe_relative("..\\..\\x"));
	ck_assert(!path_is_safe_relative("a\nb"));
	ck_assert(!path_is_safe_relative("a\tb"));
	ck_assert(!path_is_safe_relative("\x01"));
	ck_assert(!path_is_safe_relative("a/b\x1f"));
	ck_assert(!path_is_safe_relative("a\x7f"));
}
END_TEST

START_TEST(safe_relative_rejects_paths_of_path_max_bytes)
{
	static char	buf[PATH_MAX + 1];

	memset(buf, 'a', PATH_MAX - 1);
	buf[PATH_MAX - 1] = '\0';
	ck_assert(path_is_safe_relative(buf));
	buf[PATH_MAX - 1] = 'a';
	buf[PATH_MAX] = '\0';
	ck_assert(!path_is_safe_relative(buf));
}
END_TEST

/* game ids */

START_TEST(game_ids_are_plain_names)
{
	ck_assert(path_is_valid_game_id("alienswarm"));
	ck_assert(path_is_valid_game_id("cod5"));
	ck_assert(path_is_valid_game_id("Game_1.2-b"));
	ck_assert(path_is_valid_game_id("a"));
	ck_assert(path_is_valid_game_id("0day"));
	ck_assert(!path_is_valid_game_id(NULL));
	ck_assert(!path_is_valid_game_id(""));
	ck_assert(!path_is_valid_game_id("."));
	ck_assert(!path_is_valid_game_id(".."));
	ck_assert(!path_is_valid_game_id(".hidden"));
	ck_assert(!path_is_valid_game_id("-rf"));
	ck_assert(!path_is_valid_game_id("a/b"));
	ck_assert(!path_is_valid_game_id("a b"));
	ck_assert(!path_is_valid_game_id("a\\b"));
	ck_assert(!path_is_valid_game_id("a\n"));
	ck_assert(!path_is_valid_game_id("\xc3\xa9"));
}
END_TEST

START_TEST(game_ids_are_at_most_64_bytes)
{
	char	id[PATH_GAME_ID_MAX + 2];

	memset(id, 'g', PATH_GAME_ID_MAX);
	id[PATH_GAME_ID_MAX] = '\0';
	ck_assert(path_is_valid_game_id(id));
	id[PATH_GAME_ID_MAX] = 'g';
	id[PATH_GAME_ID_MAX + 1] = '\0';
	ck_assert(!path_is_valid_game_id(id));
}
END_TEST

/* transferable paths */

START_TEST(local_relative_paths_are_never_transferable)
{
	ck_assert(!path_is_transferable("local/x"));
	ck_assert(!path_is_transferable("local"));
	ck_assert(!path_is_transferable(".local.installing/x"));
	ck_assert(!path_is_transferable(".lanspread"));
	ck_assert(!path_is_transferable(".lanspread.json"));
	/* A vfat or exFAT drive does not tell LOCAL/ from local/. */
	ck_assert(!path_is_transferable("LOCAL/x"));
	ck_assert(!path_is_transferable("Local"));
	ck_assert(!path_is_transferable(".Local.Installing/x"));
	ck_assert(!path_is_transferable("data/.LANSPREAD.staging/x"));
	ck_assert(path_is_transferable("data/local/x"));
	ck_assert(!path_is_transferable("a/.lanspread-meta"));
	ck_assert(!path_is_transferable("../x"));
	ck_assert(!path_is_transferable("/etc/passwd"));
	ck_assert(!path_is_transferable("a/../../b"));

	ck_assert(path_is_transferable("version.ini"));
	ck_assert(path_is_transferable("game.eti"));
	ck_assert(path_is_transferable("data/x.bin"));
	ck_assert(path_is_transferable("locale/x"));
}
END_TEST

START_TEST(metadata_is_refused_at_any_depth_and_staging_at_the_top)
{
	ck_assert(!path_is_transferable(".local.installing"));
	ck_assert(!path_is_transferable("local/"));
	ck_assert(!path_is_transferable("local/a/b/c"));
	ck_assert(!path_is_transferable("a/b/.lanspread"));
	ck_assert(!path_is_transferable("a/.lanspreadX/y"));
	ck_assert(!path_is_transferable("a\\..\\local"));
	ck_assert(!path_is_transferable(""));

	/* Only the game folder's own local/ is the installed game. */
	ck_assert(path_is_transferable("data/local/x"));
	ck_assert(path_is_transferable("localx"));
	ck_assert(path_is_transferable(".local"));
	ck_assert(path_is_transferable("a/.lanspre"));
}
END_TEST

/* join */

START_TEST(join_puts_one_slash_between_parts)
{
	char	buf[16];

	ck_assert_int_eq(path_join(buf, sizeof(buf), "a", "b"), 0);
	ck_assert_str_eq(buf, "a/b");
	ck_assert_int_eq(path_join(buf, sizeof(buf), "games/", "x"), 0);
	ck_assert_str_eq(buf, "games/x");
	ck_assert_int_eq(path_join(buf, sizeof(buf), "", "x"), 0);
	ck_assert_str_eq(buf, "x");
	ck_assert_int_eq(path_join(buf, 4, "a", "b"), 0);
	ck_assert_str_eq(buf, "a/b");
}
END_TEST

START_TEST(join_refuses_what_does_not_fit)
{
	char	buf[16] = "untouched";

	errno = 0;
	ck_assert_int_eq(path_join(buf, 3, "a", "b"), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(buf, "");
	errno = 0;
	ck_assert_int_eq(path_join(buf, sizeof(buf), "0123456789", "abcde"),
	    -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(path_join(NULL, 0, "a", "b"), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

/* open beneath */

START_TEST(open_beneath_opens_nested_regular_file)
{
	char	buf[16];
	ssize_t	n;
	int	dfd, fd;

	dfd = scratch(__func__, NULL, 0);
	tu_mkdir(dfd, "d");
	tu_mkdir(dfd, "d/sub");
	tu_write_str(dfd, "d/sub/file.txt", "payload");

	fd = path_open_beneath(dfd, "d/sub/file.txt", O_RDONLY, 0);
	ck_assert_msg(fd >= 0, "open: %s", strerror(errno));
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 7);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "payload");
	close(fd);

	fd = path_open_beneath(dfd, "d/sub", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = path_open_beneath(dfd, "d/sub/file.txt", O_PATH, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);

	errno = 0;
	ck_assert_int_eq(path_open_beneath(dfd, "d/missing", O_RDONLY, 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(dfd);
}
END_TEST

START_TEST(open_beneath_refuses_symlink_escape)
{
	int	dfd;

	dfd = scratch(__func__, NULL, 0);
	tu_mkdir(dfd, "d");
	tu_mkdir(dfd, "d/sub");
	tu_write_str(dfd, "d/sub/file.txt", "payload");
	tu_symlink("/etc", dfd, "etc");
	tu_symlink("/etc/passwd", dfd, "passwd");
	tu_symlink("d/sub", dfd, "inner");
	tu_symlink("file.txt", dfd, "d/sub/link.txt");
	tu_symlink("../..", dfd, "d/sub/up");

	/* Out of the folder, and inside it: a link is a link. */
	assert_open_refused(dfd, "etc/passwd", O_RDONLY);
	assert_open_refused(dfd, "passwd", O_RDONLY);
	assert_open_refused(dfd, "etc", O_RDONLY | O_DIRECTORY);
	assert_open_refused(dfd, "inner/file.txt", O_RDONLY);
	assert_open_refused(dfd, "inner", O_RDONLY | O_DIRECTORY);
	assert_open_refused(dfd, "d/sub/link.txt", O_RDONLY);
	assert_open_refused(dfd, "d/sub/up/d/sub/file.txt", O_RDONLY);
	/* O_PATH|O_NOFOLLOW would otherwise return the link itself. */
	assert_open_refused(dfd, "d/sub/link.txt", O_PATH | O_NOFOLLOW);
	assert_open_refused(dfd, "passwd", O_PATH);
	close(dfd);
}
END_TEST

START_TEST(open_beneath_refuses_dotdot_and_absolute)
{
	static const char *const bad[] = {
		"../x", "..", "d/../d/file.txt", "d/./file.txt", "./d/file.txt",
		"/etc/passwd", "d//file.txt", "d/", "", "d\\file.txt",
		"d/file\n.txt",
	};
	size_t	i;
	int	dfd, fd;

	dfd = scratch(__func__, NULL, 0);
	tu_mkdir(dfd, "d");
	tu_write_str(dfd, "d/file.txt", "x");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		fd = path_open_beneath(dfd, bad[i], O_RDONLY, 0);
		ck_assert_msg(fd == -1 && errno == EINVAL,
		    "\"%s\": fd %d, %s", bad[i], fd, strerror(errno));
	}
	errno = 0;
	ck_assert_int_eq(path_open_beneath(dfd, NULL, O_RDONLY, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(dfd);
}
END_TEST

START_TEST(open_beneath_creates_files_but_not_through_symlinks)
{
	char		outside[PATH_MAX];
	struct stat	st;
	int		dfd, odfd, fd;

	dfd = scratch(__func__, outside, sizeof(outside));
	tu_mkdir(dfd, "game");
	tu_mkdir(dfd, "outside");
	tu_symlink(outside, dfd, "game/out");
	tu_symlink("new-target", dfd, "game/dangling");
	odfd = openat(dfd, "game", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(odfd, 0);

	fd = path_open_beneath(odfd, "new.bin", O_WRONLY | O_CREAT | O_EXCL,
	    0640);
	ck_assert_msg(fd >= 0, "create: %s", strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	assert_open_refused(odfd, "out/evil", O_WRONLY | O_CREAT);
	ck_assert(!tu_exists(dfd, "outside/evil"));
	/* A dangling link must not be created through either. */
	errno = 0;
	fd = path_open_beneath(odfd, "dangling", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(fd, -1);
	ck_assert_msg(errno == ELOOP || errno == EXDEV || errno == EEXIST,
	    "dangling: %s", strerror(errno));
	ck_assert(!tu_exists(odfd, "new-target"));
	close(odfd);
	close(dfd);
}
END_TEST

/* Proves the fixture works, so the walk, not openat2, ran below. */
START_TEST(openat2_is_blocked_in_this_case)
{
	struct open_how	how;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY;
	errno = 0;
	ck_assert_int_eq(syscall(SYS_openat2, AT_FDCWD, "/", &how,
	    sizeof(how)), -1);
	ck_assert_int_eq(errno, ENOSYS);
}
END_TEST

/* mkdirs beneath */

START_TEST(mkdirs_beneath_creates_nested_and_refuses_symlink)
{
	char	outside[PATH_MAX];
	int	dfd;

	dfd = scratch(__func__, outside, sizeof(outside));
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "a/b/c", 0700), 0);
	ck_assert(is_dir(dfd, "a/b/c"));
	/* Existing directories are fine: mkdir -p. */
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "a/b/c", 0700), 0);
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "a/b/d", 0700), 0);
	ck_assert(is_dir(dfd, "a/b/d"));

	tu_mkdir(dfd, "outside");
	tu_symlink(outside, dfd, "a/out");
	tu_symlink("b", dfd, "a/inner");

	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "a/out/x/y", 0700), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert(!tu_exists(dfd, "outside/x"));
	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "a/inner/x", 0700), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert(!tu_exists(dfd, "a/b/x"));
	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "a/out", 0700), -1);
	ck_assert_int_eq(errno, ELOOP);
	close(dfd);
}
END_TEST

START_TEST(mkdirs_beneath_refuses_a_file_in_the_way)
{
	int	dfd;

	dfd = scratch(__func__, NULL, 0);
	tu_write_str(dfd, "f", "x");
	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "f/x", 0700), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "f", 0700), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "../x", 0700), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "/tmp/x", 0700), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(dfd);
}
END_TEST

/* remove tree beneath */

START_TEST(remove_tree_beneath_removes_files_and_nested_trees)
{
	int	dfd;

	dfd = scratch(__func__, NULL, 0);
	tu_mkdir(dfd, "g");
	tu_write_str(dfd, "g/version.ini", "1");
	tu_mkdir(dfd, "g/local");
	tu_mkdir(dfd, "g/local/bin");
	tu_mkdir(dfd, "g/local/empty");
	tu_write_str(dfd, "g/local/bin/a", "a");
	tu_write_str(dfd, "g/local/b", "b");

	ck_assert_int_eq(path_remove_tree_beneath(dfd, "g/local"), 0);
	ck_assert(!tu_exists(dfd, "g/local"));
	ck_assert(tu_exists(dfd, "g/version.ini"));
	ck_assert_int_eq(path_remove_tree_beneath(dfd, "g/version.ini"), 0);
	ck_assert(!tu_exists(dfd, "g/version.ini"));
	ck_assert(is_dir(dfd, "g"));
	close(dfd);
}
END_TEST

START_TEST(sync_tree_syncs_files_and_folders_and_refuses_links)
{
	char	outside[PATH_MAX];
	int	dfd;

	dfd = scratch(__func__, outside, sizeof(outside));
	tu_mkdir(dfd, "tree");
	tu_mkdir(dfd, "tree/sub");
	tu_write_str(dfd, "tree/sub/f", "f");
	tu_write_str(dfd, "tree/g", "g");
	tu_symlink("/nonexistent", dfd, "tree/dangling");
	/* Links inside are passed over; the tree and a single file sync. */
	ck_assert_int_eq(path_sync_tree(dfd, "tree"), 0);
	ck_assert_int_eq(path_sync_tree(dfd, "tree/g"), 0);
	/* A link as the tree itself, or nothing there: an error. */
	tu_symlink(outside, dfd, "link");
	ck_assert_int_eq(path_sync_tree(dfd, "link"), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(path_sync_tree(dfd, "missing"), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(dfd);
}
END_TEST

START_TEST(remove_tree_beneath_does_not_follow_symlinks)
{
	char	outside[PATH_MAX];
	int	dfd;

	dfd = scratch(__func__, outside, sizeof(outside));
	tu_mkdir(dfd, "outside");
	tu_mkdir(dfd, "outside/keep");
	tu_write_str(dfd, "outside/precious", "p");
	tu_write_str(dfd, "outside/keep/also", "p");

	tu_mkdir(dfd, "tree");
	tu_mkdir(dfd, "tree/sub");
	tu_write_str(dfd, "tree/sub/f", "f");
	tu_symlink(outside, dfd, "tree/sub/out");
	tu_symlink(outside, dfd, "tree/out");
	tu_symlink("outside/precious", dfd, "tree/file-link");

	ck_assert_int_eq(path_remove_tree_beneath(dfd, "tree"), 0);
	ck_assert(!tu_exists(dfd, "tree"));
	ck_assert(tu_exists(dfd, "outside/precious"));
	ck_assert(tu_exists(dfd, "outside/keep/also"));

	/* rel itself a link: the link goes, its target stays. */
	tu_symlink(outside, dfd, "top-link");
	ck_assert_int_eq(path_remove_tree_beneath(dfd, "top-link"), 0);
	ck_assert(!tu_exists(dfd, "top-link"));
	ck_assert(tu_exists(dfd, "outside/precious"));
	close(dfd);
}
END_TEST

START_TEST(remove_tree_beneath_treats_missing_as_success)
{
	int	dfd;

	dfd = scratch(__func__, NULL, 0);
	ck_assert_int_eq(path_remove_tree_beneath(dfd, "nothing"), 0);
	ck_assert_int_eq(path_remove_tree_beneath(dfd,
	    "no/such/.local.installing"), 0);
	close(dfd);
}
END_TEST

START_TEST(remove_tree_beneath_refuses_symlinked_parent)
{
	char	outside[PATH_MAX];
	int	dfd, ret;

	dfd = scratch(__func__, outside, sizeof(outside));
	tu_mkdir(dfd, "outside");
	tu_mkdir(dfd, "outside/local");
	tu_write_str(dfd, "outside/local/precious", "p");
	tu_symlink(outside, dfd, "game");

	errno = 0;
	ret = path_remove_tree_beneath(dfd, "game/local");
	assert_link_refused(ret, errno, "game/local");
	ck_assert(tu_exists(dfd, "outside/local/precious"));

	errno = 0;
	ck_assert_int_eq(path_remove_tree_beneath(dfd, "../outside"), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(path_remove_tree_beneath(dfd, outside), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(tu_exists(dfd, "outside/local/precious"));
	close(dfd);
}
END_TEST

START_TEST(remove_tree_beneath_removes_deep_trees)
{
	char	rel[2 * 300 + 1];
	size_t	i;
	int	dfd;

	dfd = scratch(__func__, NULL, 0);
	for (i = 0; i < 300; i++)
		memcpy(rel + 2 * i, "d/", 2);
	rel[2 * 300 - 1] = '\0';
	ck_assert_int_eq(path_mkdirs_beneath(dfd, rel, 0700), 0);
	ck_assert(is_dir(dfd, rel));
	ck_assert_int_eq(path_remove_tree_beneath(dfd, "d"), 0);
	ck_assert(!tu_exists(dfd, "d"));
	close(dfd);
}
END_TEST

/*
 * A tree 600 folders deep, with a file and an empty folder beside each
 * level, goes with 16 descriptors to spare: the walk holds one folder
 * open at a time, never one per level.
 */
START_TEST(remove_tree_beneath_needs_no_descriptor_per_level)
{
	char		 rel[2 * 600 + 16];
	struct rlimit	 was, low;
	size_t		 i;
	int		 dfd, sub, rc;

	dfd = scratch(__func__, NULL, 0);
	for (i = 0; i < 600; i++)
		memcpy(rel + 2 * i, "d/", 2);
	rel[2 * 600 - 1] = '\0';
	ck_assert_int_eq(path_mkdirs_beneath(dfd, rel, 0700), 0);
	for (i = 600; i > 0; i--) {
		rel[2 * i - 1] = '\0';
		strcpy(rel + 2 * i - 1, "/f");
		tu_write_str(dfd, rel, "x");
		strcpy(rel + 2 * i - 1, "/e");
		ck_assert_int_eq(path_mkdirs_beneath(dfd, rel, 0700), 0);
	}
	/* Only a few descriptors above the ones open now. */
	ck_assert_int_ne((sub = dup(dfd)), -1);
	close(sub);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = (rlim_t)sub + 16;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rc = path_remove_tree_beneath(dfd, "d");
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert_int_eq(rc, 0);
	ck_assert(!tu_exists(dfd, "d"));
	close(dfd);
}
END_TEST

/* A folder that cannot be emptied is an error, never a silent success. */
START_TEST(remove_tree_beneath_reports_what_it_cannot_remove)
{
	struct rlimit	 was, none;
	int		 dfd, rc, saved;

	dfd = scratch(__func__, NULL, 0);
	ck_assert_int_eq(path_mkdirs_beneath(dfd, "t/a/b", 0700), 0);
	tu_write_str(dfd, "t/a/b/f", "x");
	/* With no descriptor to spare the walk cannot even start. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	none = was;
	none.rlim_cur = 0;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &none), 0);
	errno = 0;
	rc = path_remove_tree_beneath(dfd, "t");
	saved = errno;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(saved, EMFILE);
	ck_assert(tu_exists(dfd, "t/a/b/f"));
	ck_assert_int_eq(path_remove_tree_beneath(dfd, "t"), 0);
	ck_assert(!tu_exists(dfd, "t"));
	close(dfd);
}
END_TEST

START_TEST(peer_limits_accept_32_folders_and_1024_bytes)
{
	char	 rel[PATH_PEER_MAX_LEN + 2], err[128];
	size_t	 i;

	for (i = 0; i < 32; i++)
		memcpy(rel + 2 * i, "a/", 2);
	strcpy(rel + 64, "f");
	ck_assert_int_eq(path_check_peer_limits(rel, err, sizeof(err)), 0);
	memset(rel, 'x', PATH_PEER_MAX_LEN);
	rel[PATH_PEER_MAX_LEN] = '\0';
	ck_assert_int_eq(path_check_peer_limits(rel, err, sizeof(err)), 0);
	ck_assert_int_eq(path_check_peer_limits("version.ini", err,
	    sizeof(err)), 0);
}
END_TEST

START_TEST(peer_limits_refuse_deeper_or_longer_paths_saying_which)
{
	char	 rel[2 * 600 + 2], err[128];
	size_t	 i;

	for (i = 0; i < 33; i++)
		memcpy(rel + 2 * i, "a/", 2);
	strcpy(rel + 66, "f");
	ck_assert_int_eq(path_check_peer_limits(rel, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "a path 33 folders deep (at most 32)");
	for (i = 0; i < 600; i++)
		memcpy(rel + 2 * i, "a/", 2);
	strcpy(rel + 1200, "f");
	ck_assert_int_eq(path_check_peer_limits(rel, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "a path 600 folders deep (at most 32)");
	memset(rel, 'x', PATH_PEER_MAX_LEN + 1);
	rel[PATH_PEER_MAX_LEN + 1] = '\0';
	ck_assert_int_eq(path_check_peer_limits(rel, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "a path longer than 1024 bytes");
}
END_TEST

static void
add_open_tests(TCase *tc)
{
	tcase_add_test(tc, open_beneath_opens_nested_regular_file);
	tcase_add_test(tc, open_beneath_refuses_symlink_escape);
	tcase_add_test(tc, open_beneath_refuses_dotdot_and_absolute);
	tcase_add_test(tc, open_beneath_creates_files_but_not_through_symlinks);
}

static Suite *
path_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("path");

	tc = tu_tcase(s, "safe_relative", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, safe_relative_accepts_plain_nested_paths);
	tcase_add_test(tc,
	    safe_relative_rejects_dotdot_absolute_and_empty_components);
	tcase_add_test(tc, safe_relative_rejects_backslash_and_control_bytes);
	tcase_add_test(tc, safe_relative_rejects_paths_of_path_max_bytes);

	tc = tu_tcase(s, "game_id", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, game_ids_are_plain_names);
	tcase_add_test(tc, game_ids_are_at_most_64_bytes);

	tc = tu_tcase(s, "transferable", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, local_relative_paths_are_never_transferable);
	tcase_add_test(tc,
	    metadata_is_refused_at_any_depth_and_staging_at_the_top);

	tc = tu_tcase(s, "join", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, join_puts_one_slash_between_parts);
	tcase_add_test(tc, join_refuses_what_does_not_fit);

	tc = tu_tcase(s, "open_beneath", root_setup, root_teardown, NULL, NULL);
	add_open_tests(tc);

	tc = tu_tcase(s, "mkdirs_beneath", root_setup, root_teardown,
	    NULL, NULL);
	tcase_add_test(tc, mkdirs_beneath_creates_nested_and_refuses_symlink);
	tcase_add_test(tc, mkdirs_beneath_refuses_a_file_in_the_way);

	tc = tu_tcase(s, "remove_tree_beneath", root_setup, root_teardown,
	    NULL, NULL);
	/* Building a 600-deep tree one path at a time is slow on a busy
	   machine (ASan too); the default 4 s is for quick tests. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, remove_tree_beneath_removes_files_and_nested_trees);
	tcase_add_test(tc, remove_tree_beneath_does_not_follow_symlinks);
	tcase_add_test(tc, sync_tree_syncs_files_and_folders_and_refuses_links);
	tcase_add_test(tc, remove_tree_beneath_treats_missing_as_success);
	tcase_add_test(tc, remove_tree_beneath_refuses_symlinked_parent);
	tcase_add_test(tc, remove_tree_beneath_removes_deep_trees);
	tcase_add_test(tc, remove_tree_beneath_needs_no_descriptor_per_level);
	tcase_add_test(tc, remove_tree_beneath_reports_what_it_cannot_remove);
	tcase_add_test(tc, peer_limits_accept_32_folders_and_1024_bytes);
	tcase_add_test(tc,
	    peer_limits_refuse_deeper_or_longer_paths_saying_which);

	/*
	 * Last: with CK_FORK=no the seccomp filter outlives its test, and
	 * every later openat2 would take the walk too.
	 */
	tc = tu_tcase(s, "beneath_without_openat2", root_setup, root_teardown,
	    block_openat2, NULL);
	tcase_add_test(tc, openat2_is_blocked_in_this_case);
	add_open_tests(tc);
	tcase_add_test(tc, mkdirs_beneath_creates_nested_and_refuses_symlink);
	tcase_add_test(tc, remove_tree_beneath_does_not_follow_symlinks);
	tcase_add_test(tc, sync_tree_syncs_files_and_folders_and_refuses_links);
	tcase_add_test(tc, remove_tree_beneath_refuses_symlinked_parent);

	return s;
}

int
main(void)
{
	return tu_run_suite(path_suite());
}
