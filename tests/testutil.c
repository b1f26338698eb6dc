/*
 * Helpers shared by the Check suites in tests/; see testutil.h.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "tests/testutil.h"

static int	rm_entry(const char *, const struct stat *, int, struct FTW *);

/*
 * /tmp/<prefix>.XXXXXX, made with mkdtemp, into buf. Exits on failure:
 * it is called from unchecked fixtures, in the runner.
 */
void
tu_tmpdir(char *buf, size_t size, const char *prefix)
{
	int	n;

	n = snprintf(buf, size, "/tmp/%s.XXXXXX", prefix);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "tu_tmpdir: /tmp/%s: name too long\n", prefix);
		exit(1);
	}
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

/* <dir>/<prefix>.XXXXXX, made with mkdtemp, into buf; checked. */
void
tu_tmpdir_in(char *buf, size_t size, const char *dir, const char *prefix)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s.XXXXXX", dir, prefix),
	    (int)size);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

/*
 * Makes the folder dir/name, its path into path, and returns a
 * descriptor on it. Exits on failure, like tu_tmpdir().
 */
int
tu_subdir(const char *dir, const char *name, char *path, size_t size)
{
	int	n, fd;

	n = snprintf(path, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size || mkdir(path, 0755) == -1 ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror(dir);
		exit(1);
	}
	return fd;
}

static int
rm_entry(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(fpath);
}

/*
 * Removes the tree at path. FTW_PHYS: the links the tests planted must
 * not lead the cleanup out. Unchecked, so it also runs in the runner.
 */
void
tu_rmtree(const char *path)
{
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		perror(path);
}

/* dir/rel into buf, which must hold it; returns buf. */
const char *
tu_path(char *buf, size_t size, const char *dir, const char *rel)
{
	ck_assert_msg(snprintf(buf, size, "%s/%s", dir, rel) < (int)size,
	    "%s/%s too long", dir, rel);
	return buf;
}

/* The fixture tree (make fixtures): $LANSPREAD_FIXTURES or the default. */
const char *
tu_fixtures(void)
{
	const char	*dir = getenv("LANSPREAD_FIXTURES");

	return dir != NULL && dir[0] != '\0' ? dir : "build/fixtures";
}

/* Fixture files are made with plain syscalls, not the code under test. */
void
tu_write_file(int dirfd, const char *rel, const void *data, size_t len)
{
	int	fd;

	fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	ck_assert_msg(fd != -1, "create %s: %s", rel, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void
tu_write_str(int dirfd, const char *rel, const char *text)
{
	tu_write_file(dirfd, rel, text, strlen(text));
}

void
tu_mkdir(int dirfd, const char *rel)
{
	ck_assert_msg(mkdirat(dirfd, rel, 0755) == 0, "mkdir %s: %s", rel,
	    strerror(errno));
}

void
tu_symlink(const char *target, int dirfd, const char *rel)
{
	ck_assert_msg(symlinkat(target, dirfd, rel) == 0, "symlink %s: %s",
	    rel, strerror(errno));
}

/* A descriptor on the folder rel beneath dirfd. */
int
tu_opendir(int dirfd, const char *rel)
{
	int	fd;

	fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open %s: %s", rel, strerror(errno));
	return fd;
}

/* rel exists beneath dirfd, as itself (a link is not followed). */
int
tu_exists(int dirfd, const char *rel)
{
	struct stat	st;

	return fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Names in the folder at path, other than . and .. */
size_t
tu_dir_count(const char *path)
{
	struct dirent	**list;
	int		  n, i;

	n = scandir(path, &list, NULL, alphasort);
	ck_assert_msg(n >= 0, "%s: %s", path, strerror(errno));
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return (size_t)n - 2;
}

/* A non-blocking stream socketpair, the kind msgconn links run on. */
void
tu_socketpair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
}

/* Runs loop until *stop is non-zero, or a bounded number of rounds. */
void
tu_spin(struct ev_loop *loop, const int *stop, int rounds)
{
	int	 i;

	for (i = 0; i < rounds; i++) {
		if (stop != NULL && *stop)
			return;
		ev_run(loop, EVRUN_NOWAIT);
		if (stop != NULL && *stop)
			return;
		(void)poll(NULL, 0, 1);
	}
}

uint64_t
tu_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A new test case name, added to s. The unchecked fixture runs in the
 * runner, once around the whole case (so its teardown cleans up after
 * failures too); the checked one in each test's own process. NULL for
 * none.
 */
TCase *
tu_tcase(Suite *s, const char *name, SFun unchecked_setup,
    SFun unchecked_teardown, SFun checked_setup, SFun checked_teardown)
{
	TCase	*tc;

	tc = tcase_create(name);
	if (unchecked_setup != NULL || unchecked_teardown != NULL)
		tcase_add_unchecked_fixture(tc, unchecked_setup,
		    unchecked_teardown);
	if (checked_setup != NULL || checked_teardown != NULL)
		tcase_add_checked_fixture(tc, checked_setup, checked_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

/* Runs every test of s (CK_ENV); the exit status for main(). */
int
tu_run_suite(Suite *s)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
