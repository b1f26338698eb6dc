/*
 * Helpers shared by the Check suites in tests/: scratch folders that are
 * removed without following links, fixture files made with plain
 * syscalls (not the code under test), socketpairs and a hand-pumped libev
 * loop for the msgconn tests, and the suite runner.
 */

#ifndef TESTS_TESTUTIL_H
#define TESTS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/*
 * Scratch folders. tu_tmpdir(), tu_subdir() and tu_rmtree() never use
 * ck_assert: they serve unchecked fixtures, which run in the runner.
 */
void		 tu_tmpdir(char *, size_t, const char *);
void		 tu_tmpdir_in(char *, size_t, const char *, const char *);
int		 tu_subdir(const char *, const char *, char *, size_t);
void		 tu_rmtree(const char *);
const char	*tu_path(char *, size_t, const char *, const char *);
const char	*tu_fixtures(void);

/* Fixture files, beneath a folder descriptor (or AT_FDCWD). */
void		 tu_write_file(int, const char *, const void *, size_t);
void		 tu_write_str(int, const char *, const char *);
void		 tu_mkdir(int, const char *);
void		 tu_symlink(const char *, int, const char *);
int		 tu_opendir(int, const char *);
int		 tu_exists(int, const char *);
size_t		 tu_dir_count(const char *);

/* Links and loops. */
void		 tu_socketpair(int [2]);
void		 tu_spin(struct ev_loop *, const int *, int);
uint64_t	 tu_now_ms(void);

/* Suites. */
TCase		*tu_tcase(Suite *, const char *, SFun, SFun, SFun, SFun);
int		 tu_run_suite(Suite *);

#endif /* TESTS_TESTUTIL_H */
