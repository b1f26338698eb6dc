/*
 * Check suite for supervisor/daemon_lock.c: one lanspreadd per state dir
 * (an flock the kernel drops with its holder) and per control socket (a
 * socket that answers is never taken over).
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/daemon_lock.h"
#include "tests/testutil.h"

static char	root[PATH_MAX];

static Suite	*daemon_lock_suite(void);

static void
root_setup(void)
{
	tu_tmpdir(root, sizeof(root), "daemon-lock");
}

static void
root_teardown(void)
{
	tu_rmtree(root);
}

/* A Unix socket bound at path; listening or not (a stale one). */
static int
unix_socket(const char *path, int listening)
{
	struct sockaddr_un sun;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

START_TEST(second_lock_on_a_state_dir_names_the_holder)
{
	char	 err[256] = "", want[64];
	int	 fd;

	fd = daemon_lock(root, err, sizeof(err));
	ck_assert_msg(fd >= 0, "first lock: %s", err);
	/* Another open file description: as a second daemon would. */
	ck_assert_int_eq(daemon_lock(root, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "lanspreadd is already running (pid %d)",
	    (int)getpid());
	ck_assert_str_eq(err, want);
	close(fd);
}
END_TEST

START_TEST(lock_is_free_again_once_its_holder_is_gone)
{
	char	 err[256] = "";
	int	 fd;

	fd = daemon_lock(root, err, sizeof(err));
	ck_assert_msg(fd >= 0, "first lock: %s", err);
	close(fd);
	fd = daemon_lock(root, err, sizeof(err));
	ck_assert_msg(fd >= 0, "lock after its holder closed it: %s", err);
	close(fd);
}
END_TEST

START_TEST(answering_control_socket_is_not_free)
{
	char	 path[PATH_MAX], err[512] = "", want[64];
	int	 fd;

	tu_path(path, sizeof(path), root, "control.sock");
	fd = unix_socket(path, 1);
	ck_assert_int_eq(control_socket_check_free(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "lanspreadd is already running (pid %d)",
	    (int)getpid());
	ck_assert_msg(strstr(err, want) != NULL, "error: \"%s\"", err);
	close(fd);
}
END_TEST

START_TEST(stale_or_missing_control_socket_is_free)
{
	char	 path[PATH_MAX], err[512] = "";
	int	 fd;

	tu_path(path, sizeof(path), root, "control.sock");
	ck_assert_int_eq(control_socket_check_free(path, err, sizeof(err)), 0);
	fd = unix_socket(path, 0);
	ck_assert_int_eq(control_socket_check_free(path, err, sizeof(err)), 0);
	close(fd);
}
END_TEST

static Suite *
daemon_lock_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("daemon_lock");
	tc = tu_tcase(s, "state_dir", NULL, NULL, root_setup, root_teardown);
	tcase_add_test(tc, second_lock_on_a_state_dir_names_the_holder);
	tcase_add_test(tc, lock_is_free_again_once_its_holder_is_gone);
	tc = tu_tcase(s, "control_socket", NULL, NULL, root_setup,
	    root_teardown);
	tcase_add_test(tc, answering_control_socket_is_not_free);
	tcase_add_test(tc, stale_or_missing_control_socket_is_free);
	return s;
}

int
main(void)
{
	return tu_run_suite(daemon_lock_suite());
}
