/*
 * Check suite for worker-install/games_group.c: an installed game's
 * files and folders get the group and group-write (folders 2775, files
 * 664 or 775), never world-write, and nothing through a symbolic link
 * or beyond the path asked for.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "worker-install/games_group.h"

static char	root[PATH_MAX];
static int	root_fd = -1;

static Suite	*games_group_suite(void);

static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "check_games_group");
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(root_fd, -1);
}

static void
root_teardown(void)
{
	close(root_fd);
	root_fd = -1;
	tu_rmtree(root);
}

static void
put(const char *rel, mode_t mode)
{
	tu_write_str(root_fd, rel, "x");
	ck_assert_int_eq(fchmodat(root_fd, rel, mode, 0), 0);
}

static mode_t
mode_of(const char *rel)
{
	struct stat	st;

	ck_assert_int_eq(fstatat(root_fd, rel, &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(st.st_gid, getegid());
	return st.st_mode & 07777;
}

/* Our own group: no privilege needed to give it. */
START_TEST(a_tree_gets_group_write_setgid_folders_and_keeps_exec_bits)
{
	tu_mkdir(root_fd, "local");
	tu_mkdir(root_fd, "local/bin");
	ck_assert_int_eq(fchmodat(root_fd, "local/bin", 0700, 0), 0);
	put("local/readme.txt", 0644);
	put("local/bin/game", 0755);
	put("local/bin/secret", 0600);
	put("local/bin/open", 0666);
	put("archive.eti", 0644);
	ck_assert_int_eq(games_group_share_tree(root_fd, "local", getegid()),
	    0);
	ck_assert_int_eq(mode_of("local"), 02775);
	ck_assert_int_eq(mode_of("local/bin"), 02775);
	ck_assert_int_eq(mode_of("local/readme.txt"), 0664);
	ck_assert_int_eq(mode_of("local/bin/game"), 0775);
	ck_assert_int_eq(mode_of("local/bin/secret"), 0664);
	ck_assert_int_eq(mode_of("local/bin/open"), 0664);
	ck_assert_int_eq(mode_of("archive.eti"), 0644);
}
END_TEST

START_TEST(a_path_and_its_folders_are_shared_never_through_a_link)
{
	tu_mkdir(root_fd, "local");
	tu_mkdir(root_fd, "local/profiles");
	tu_mkdir(root_fd, "local/profiles/local");
	put("local/profiles/local/name.txt", 0644);
	put("outside.txt", 0644);
	tu_symlink("../../outside.txt", root_fd, "local/profiles/link");
	ck_assert_int_eq(games_group_share_path(root_fd,
	    "local/profiles/local/name.txt", getegid()), 0);
	ck_assert_int_eq(mode_of("local/profiles/local/name.txt"), 0664);
	ck_assert_int_eq(mode_of("local/profiles/local"), 02775);
	ck_assert_int_eq(mode_of("local/profiles"), 02775);
	ck_assert_int_eq(mode_of("local"), 02775);
	ck_assert_int_eq(games_group_share_path(root_fd,
	    "local/profiles/link", getegid()), -1);
	ck_assert_int_eq(games_group_share_tree(root_fd, "local", getegid()),
	    0);
	ck_assert_int_eq(mode_of("outside.txt"), 0644);
}
END_TEST

static Suite *
games_group_suite(void)
{
	Suite	*s = suite_create("games_group");
	TCase	*tc;

	tc = tu_tcase(s, "share", NULL, NULL, root_setup, root_teardown);
	tcase_add_test(tc,
	    a_tree_gets_group_write_setgid_folders_and_keeps_exec_bits);
	tcase_add_test(tc, a_path_and_its_folders_are_shared_never_through_a_link);
	return s;
}

int
main(void)
{
	return tu_run_suite(games_group_suite());
}
