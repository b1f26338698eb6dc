/*
 * Check suite for supervisor/catalog_sign.c and the byte catalogs of
 * supervisor/catalog.c: a signed catalog verifies only under its own key
 * and only whole; the serial only grows; the key pair and the stored copy
 * are private files; a catalog read from bytes is the one of the file.
 */

#include <sys/stat.h>

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "supervisor/catalog.h"
#include "supervisor/catalog_sign.h"
#include "tests/testutil.h"

static char	dir[PATH_MAX / 2];
static unsigned char pub[CATALOG_KEY_SIZE], secret[CATALOG_SECRET_SIZE];
static unsigned char *db;
static size_t	 dblen;

static Suite	*catalog_sign_suite(void);

static void
setup(void)
{
	char	 err[256], path[PATH_MAX];

	tu_tmpdir(dir, sizeof(dir), "check_catalog_sign");
	ck_assert_int_eq(sodium_init() >= 0, 1);
	crypto_sign_keypair(pub, secret);
	snprintf(path, sizeof(path), "%s/game.db", tu_fixtures());
	ck_assert_msg(catalog_file_read(path, CATALOG_DB_MAX, &db, &dblen,
	    err, sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
	free(db);
	db = NULL;
	tu_rmtree(dir);
}

static unsigned char *
signed_fixture(uint64_t serial, size_t *len)
{
	unsigned char	*blob;
	char		 err[256];

	ck_assert_msg(catalog_sign(secret, serial, db, dblen, &blob, len, err,
	    sizeof(err)) == 0, "%s", err);
	return blob;
}

START_TEST(signed_catalog_verifies_under_its_key_and_says_what_it_holds)
{
	struct signed_catalog sc;
	struct catalog	 cat;
	unsigned char	*blob;
	size_t		 len;
	char		 err[256];

	blob = signed_fixture(42, &len);
	ck_assert_uint_eq(len, dblen + CATALOG_SIGNED_HEADER);
	ck_assert_msg(catalog_verify(blob, len, pub, &sc, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(sc.serial, 42);
	ck_assert_mem_eq(sc.key, pub, CATALOG_KEY_SIZE);
	ck_assert_uint_eq(sc.dblen, dblen);
	ck_assert_mem_eq(sc.db, db, dblen);
	ck_assert_msg(catalog_load_bytes(&cat, sc.db, sc.dblen, "test", err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(cat.ngames, 10);
	ck_assert_str_eq(catalog_find(&cat, "cnctw")->version, "20160128");
	catalog_free(&cat);
	free(blob);
}
END_TEST

START_TEST(catalog_signed_by_another_key_is_refused_as_such)
{
	unsigned char	 other_pub[CATALOG_KEY_SIZE], other[CATALOG_SECRET_SIZE];
	struct signed_catalog sc;
	unsigned char	*blob;
	size_t		 len;
	char		 err[256];

	crypto_sign_keypair(other_pub, other);
	blob = signed_fixture(7, &len);
	ck_assert_int_eq(catalog_verify(blob, len, other_pub, &sc, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not the one catalog_trust names"));
	ck_assert_ptr_null(sc.db);
	free(blob);
}
END_TEST

START_TEST(any_changed_byte_breaks_the_signature)
{
	static const size_t at[] = { 40, 47, CATALOG_SIGNED_HEADER - 64 + 100 };
	struct signed_catalog sc;
	unsigned char	*blob;
	size_t		 len, i;
	char		 err[256];

	blob = signed_fixture(9, &len);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		blob[at[i]] ^= 0x01;
		ck_assert_int_eq(catalog_verify(blob, len, pub, &sc, err,
		    sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "signature does not match"));
		blob[at[i]] ^= 0x01;
	}
	/* The signature itself, and a catalog cut short. */
	blob[len - 1] ^= 0x80;
	ck_assert_int_eq(catalog_verify(blob, len, pub, &sc, err,
	    sizeof(err)), -1);
	blob[len - 1] ^= 0x80;
	ck_assert_int_eq(catalog_verify(blob, len - 1, pub, &sc, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(catalog_verify(blob, len, pub, &sc, err,
	    sizeof(err)), 0);
	free(blob);
}
END_TEST

START_TEST(unsigned_short_and_oversized_blobs_are_not_signed_catalogs)
{
	struct signed_catalog sc;
	unsigned char	 small[CATALOG_SIGNED_HEADER - 1];
	char		 err[256];

	ck_assert_int_eq(catalog_verify(db, dblen, pub, &sc, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "not a signed catalog");
	memset(small, 0, sizeof(small));
	memcpy(small, "LSCATv1\n", 8);
	ck_assert_int_eq(catalog_signed_parse(small, sizeof(small), &sc, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(catalog_signed_parse("LSCATv1\n", CATALOG_SIGNED_MAX
	    + 1, &sc, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "over the limit"));
}
END_TEST

START_TEST(a_catalog_over_the_limit_is_not_signed)
{
	unsigned char	*blob;
	size_t		 len;
	char		 err[256];

	ck_assert_int_eq(catalog_sign(secret, 1, db, CATALOG_DB_MAX + 1,
	    &blob, &len, err, sizeof(err)), -1);
	ck_assert_ptr_null(blob);
}
END_TEST

START_TEST(only_a_larger_serial_is_newer)
{
	ck_assert_int_eq(catalog_serial_is_newer(2, 1), 1);
	ck_assert_int_eq(catalog_serial_is_newer(1, 1), 0);
	ck_assert_int_eq(catalog_serial_is_newer(0, 1), 0);
	ck_assert_int_eq(catalog_serial_is_newer(1, 0), 1);
	ck_assert_int_eq(catalog_serial_is_newer(UINT64_MAX, UINT64_MAX - 1),
	    1);
}
END_TEST

START_TEST(next_serial_passes_the_held_one_and_the_clock)
{
	ck_assert_uint_eq(catalog_next_serial(0, 1700000000), 1700000000);
	ck_assert_uint_eq(catalog_next_serial(1700000000, 1700000000),
	    1700000001);
	/* A clock set back never makes an older serial. */
	ck_assert_uint_eq(catalog_next_serial(1800000000, 1700000000),
	    1800000001);
	ck_assert_uint_eq(catalog_next_serial(UINT64_MAX, 5), 0);
}
END_TEST

START_TEST(key_hex_round_trips_and_refuses_anything_else)
{
	unsigned char	 k[CATALOG_KEY_SIZE];
	char		 hex[CATALOG_KEY_HEX], bad[CATALOG_KEY_HEX + 1];

	catalog_key_hex(pub, hex);
	ck_assert_uint_eq(strlen(hex), 64);
	ck_assert_int_eq(catalog_key_parse(hex, k), 0);
	ck_assert_mem_eq(k, pub, sizeof(k));
	ck_assert_int_eq(catalog_key_parse("", k), -1);
	ck_assert_int_eq(catalog_key_parse("abcd", k), -1);
	memcpy(bad, hex, sizeof(hex));
	bad[10] = 'x';
	ck_assert_int_eq(catalog_key_parse(bad, k), -1);
	memcpy(bad, hex, sizeof(hex));
	bad[64] = '0';
	bad[65] = '\0';
	ck_assert_int_eq(catalog_key_parse(bad, k), -1);
}
END_TEST

START_TEST(key_pair_is_made_once_private_and_read_back)
{
	unsigned char	 p1[CATALOG_KEY_SIZE], s1[CATALOG_SECRET_SIZE];
	unsigned char	 p2[CATALOG_KEY_SIZE], s2[CATALOG_SECRET_SIZE];
	struct stat	 st;
	char		 err[256], path[PATH_MAX];

	ck_assert_int_eq(catalog_keypair_load(dir, 0, p1, s1, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "");
	ck_assert_msg(catalog_keypair_load(dir, 1, p1, s1, err,
	    sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/%s", dir, CATALOG_KEY_FILE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_msg(catalog_keypair_load(dir, 1, p2, s2, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(p1, p2, sizeof(p1));
	ck_assert_mem_eq(s1, s2, sizeof(s1));
	/* A key file of the wrong size is named, not replaced. */
	ck_assert_int_eq(truncate(path, 10), 0);
	ck_assert_int_eq(catalog_keypair_load(dir, 1, p2, s2, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a catalog key"));
}
END_TEST

START_TEST(stored_catalog_replaces_the_old_whole_and_private)
{
	unsigned char	*a, *b, *got;
	size_t		 alen, blen, gotlen;
	struct stat	 st;
	char		 err[256], path[PATH_MAX];

	a = signed_fixture(1, &alen);
	b = signed_fixture(2, &blen);
	ck_assert_msg(catalog_signed_store(dir, a, alen, err, sizeof(err)) ==
	    0, "%s", err);
	ck_assert_msg(catalog_signed_store(dir, b, blen, err, sizeof(err)) ==
	    0, "%s", err);
	snprintf(path, sizeof(path), "%s/%s", dir, CATALOG_SIGNED_FILE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_msg(catalog_signed_read(path, &got, &gotlen, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(gotlen, blen);
	ck_assert_mem_eq(got, b, blen);
	/* No temporary file is left beside it. */
	ck_assert_uint_eq(tu_dir_count(dir), 1);
	free(a);
	free(b);
	free(got);
}
END_TEST

START_TEST(bytes_that_are_no_sqlite_catalog_are_refused)
{
	struct catalog	 cat;
	unsigned char	*junk;
	char		 err[256];

	ck_assert_int_eq(catalog_load_bytes(&cat, "hello", 5, "t", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not an SQLite database"));
	/* The right header on damaged pages. */
	junk = malloc(dblen);
	memcpy(junk, db, 100);
	memset(junk + 100, 0xA5, dblen - 100);
	ck_assert_int_eq(catalog_load_bytes(&cat, junk, dblen, "t", err,
	    sizeof(err)), -1);
	ck_assert_uint_eq(cat.ngames, 0);
	free(junk);
}
END_TEST

START_TEST(diff_counts_added_removed_and_changed_games)
{
	struct catalog_game a[] = { { "a", "A", "1" }, { "b", "B", "1" },
	    { "c", "C", "1" } };
	struct catalog_game b[] = { { "b", "B", "2" }, { "c", "C", "1" },
	    { "d", "D", "1" }, { "e", "E", "1" } };
	struct catalog	 old = { a, 3 }, cur = { b, 4 };
	struct catalog_changes ch;

	catalog_diff(&old, &cur, &ch);
	ck_assert_uint_eq(ch.added, 2);
	ck_assert_uint_eq(ch.removed, 1);
	ck_assert_uint_eq(ch.changed, 1);
	catalog_diff(&cur, &cur, &ch);
	ck_assert_uint_eq(ch.added + ch.removed + ch.changed, 0);
}
END_TEST

static Suite *
catalog_sign_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("catalog_sign");

	tc = tu_tcase(s, "signature", NULL, NULL, setup, teardown);
	tcase_add_test(tc,
	    signed_catalog_verifies_under_its_key_and_says_what_it_holds);
	tcase_add_test(tc, catalog_signed_by_another_key_is_refused_as_such);
	tcase_add_test(tc, any_changed_byte_breaks_the_signature);
	tcase_add_test(tc,
	    unsigned_short_and_oversized_blobs_are_not_signed_catalogs);
	tcase_add_test(tc, a_catalog_over_the_limit_is_not_signed);

	tc = tu_tcase(s, "serial", NULL, NULL, setup, teardown);
	tcase_add_test(tc, only_a_larger_serial_is_newer);
	tcase_add_test(tc, next_serial_passes_the_held_one_and_the_clock);

	tc = tu_tcase(s, "files", NULL, NULL, setup, teardown);
	tcase_add_test(tc, key_hex_round_trips_and_refuses_anything_else);
	tcase_add_test(tc, key_pair_is_made_once_private_and_read_back);
	tcase_add_test(tc, stored_catalog_replaces_the_old_whole_and_private);

	tc = tu_tcase(s, "bytes", NULL, NULL, setup, teardown);
	tcase_add_test(tc, bytes_that_are_no_sqlite_catalog_are_refused);
	tcase_add_test(tc, diff_counts_added_removed_and_changed_games);

	return s;
}

int
main(void)
{
	return tu_run_suite(catalog_sign_suite());
}
