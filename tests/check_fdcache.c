/*
 * Check suite for worker-transfer/fdcache.c: a download's open files,
 * at most a few at a time, the least recently used closed first, and
 * ours given back when the process runs out of descriptors.
 */
#include <sys/resource.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "worker-transfer/fdcache.h"

#define NFILES	200

static Suite	*fdcache_suite(void);

static char	 root[PATH_MAX];
static int	 rootfd = -1;
static size_t	 opens;			/* calls of the open function */
static size_t	 opened[NFILES];	/* per file */
static int	 fail_with;		/* errno the next open fails with */

static void
fdcache_setup(void)
{
	char	 name[32];
	int	 i;

	tu_tmpdir(root, sizeof(root), "fdcache");
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		tu_write_str(rootfd, name, name);
		opened[i] = 0;
	}
	opens = 0;
	fail_with = 0;
}

static void
fdcache_teardown(void)
{
	if (rootfd != -1)
		close(rootfd);
	rootfd = -1;
	tu_rmtree(root);
}

static int
open_file(void *arg, size_t key)
{
	char	 name[32];

	(void)arg;
	if (fail_with != 0) {
		errno = fail_with;
		return -1;
	}
	opens++;
	opened[key]++;
	snprintf(name, sizeof(name), "f%zu", key);
	return openat(rootfd, name, O_RDWR | O_CLOEXEC);
}

/* The descriptor names file key: what it reads is the file's name. */
static void
assert_is_file(int fd, size_t key)
{
	char	 got[32], want[32];
	ssize_t	 n;

	ck_assert_int_ne(fd, -1);
	n = pread(fd, got, sizeof(got) - 1, 0);
	ck_assert_int_gt(n, 0);
	got[n] = '\0';
	snprintf(want, sizeof(want), "f%zu", key);
	ck_assert_str_eq(got, want);
}

START_TEST(a_file_asked_for_again_is_not_opened_again)
{
	struct fdcache	 c;
	int		 fd;

	ck_assert_int_eq(fdcache_init(&c, 4, open_file, NULL), 0);
	fd = fdcache_get(&c, 7);
	assert_is_file(fd, 7);
	ck_assert_int_eq(fdcache_get(&c, 7), fd);
	ck_assert_uint_eq(opens, 1);
	ck_assert_uint_eq(fdcache_count(&c), 1);
	fdcache_free(&c);
}
END_TEST

START_TEST(never_more_open_than_its_size_whatever_the_number_of_files)
{
	struct fdcache	 c;
	size_t		 i;

	ck_assert_int_eq(fdcache_init(&c, FDCACHE_SIZE, open_file, NULL), 0);
	for (i = 0; i < NFILES; i++) {
		assert_is_file(fdcache_get(&c, i), i);
		ck_assert_uint_le(fdcache_count(&c), FDCACHE_SIZE);
	}
	ck_assert_uint_eq(fdcache_count(&c), FDCACHE_SIZE);
	ck_assert_uint_eq(opens, NFILES);
	fdcache_free(&c);
}
END_TEST

START_TEST(the_least_recently_used_file_is_closed_first)
{
	struct fdcache	 c;

	ck_assert_int_eq(fdcache_init(&c, 3, open_file, NULL), 0);
	fdcache_get(&c, 0);
	fdcache_get(&c, 1);
	fdcache_get(&c, 2);
	fdcache_get(&c, 0);		/* 1 is now the oldest */
	assert_is_file(fdcache_get(&c, 3), 3);
	ck_assert_uint_eq(opens, 4);
	assert_is_file(fdcache_get(&c, 0), 0);
	assert_is_file(fdcache_get(&c, 2), 2);
	ck_assert_uint_eq(opens, 4);	/* 0 and 2 stayed open */
	assert_is_file(fdcache_get(&c, 1), 1);
	ck_assert_uint_eq(opened[1], 2);	/* 1 was closed */
	fdcache_free(&c);
}
END_TEST

START_TEST(out_of_descriptors_it_closes_its_own_and_tries_again)
{
	struct rlimit	 was, low;
	struct fdcache	 c;
	size_t		 i;
	int		 next, fd = 0;

	ck_assert_int_eq(fdcache_init(&c, FDCACHE_SIZE, open_file, NULL), 0);
	/* Room for 5 more descriptors: far fewer than the cache's size. */
	ck_assert_int_ne((next = dup(rootfd)), -1);
	close(next);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = (rlim_t)next + 5;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (i = 0; i < NFILES && fd != -1; i++)
		if ((fd = fdcache_get(&c, i)) != -1)
			assert_is_file(fd, i);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_uint_le(fdcache_count(&c), 5);
	fdcache_free(&c);
}
END_TEST

START_TEST(an_open_that_fails_otherwise_is_reported_and_not_cached)
{
	struct fdcache	 c;

	ck_assert_int_eq(fdcache_init(&c, 4, open_file, NULL), 0);
	fdcache_get(&c, 1);
	fail_with = ENOENT;
	errno = 0;
	ck_assert_int_eq(fdcache_get(&c, 2), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(fdcache_count(&c), 1);
	fail_with = 0;
	assert_is_file(fdcache_get(&c, 2), 2);
	fdcache_free(&c);
}
END_TEST

START_TEST(with_nothing_of_its_own_to_close_emfile_is_reported)
{
	struct fdcache	 c;

	ck_assert_int_eq(fdcache_init(&c, 4, open_file, NULL), 0);
	fail_with = EMFILE;
	errno = 0;
	ck_assert_int_eq(fdcache_get(&c, 0), -1);
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_uint_eq(fdcache_count(&c), 0);
	fdcache_free(&c);
}
END_TEST

START_TEST(close_all_closes_every_descriptor_and_the_cache_goes_on)
{
	struct fdcache	 c;
	int		 fd;

	ck_assert_int_eq(fdcache_init(&c, 4, open_file, NULL), 0);
	fd = fdcache_get(&c, 0);
	fdcache_get(&c, 1);
	fdcache_close_all(&c);
	ck_assert_uint_eq(fdcache_count(&c), 0);
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	assert_is_file(fdcache_get(&c, 0), 0);
	ck_assert_uint_eq(opened[0], 2);
	fdcache_free(&c);
}
END_TEST

static Suite *
fdcache_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("fdcache");
	tc = tu_tcase(s, "cache", NULL, NULL, fdcache_setup, fdcache_teardown);
	tcase_add_test(tc, a_file_asked_for_again_is_not_opened_again);
	tcase_add_test(tc,
	    never_more_open_than_its_size_whatever_the_number_of_files);
	tcase_add_test(tc, the_least_recently_used_file_is_closed_first);
	tcase_add_test(tc,
	    close_all_closes_every_descriptor_and_the_cache_goes_on);

	tc = tu_tcase(s, "limits", NULL, NULL, fdcache_setup,
	    fdcache_teardown);
	tcase_add_test(tc,
	    out_of_descriptors_it_closes_its_own_and_tries_again);
	tcase_add_test(tc,
	    an_open_that_fails_otherwise_is_reported_and_not_cached);
	tcase_add_test(tc,
	    with_nothing_of_its_own_to_close_emfile_is_reported);
	return s;
}

int
main(void)
{
	return tu_run_suite(fdcache_suite());
}
