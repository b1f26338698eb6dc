/*
 * Check suite for a partial source's pieces (worker-transfer/have.c): the
 * counts the picker reads follow what each source said, and fall back to
 * zero when it is forgotten, whatever it sent.
 */

#include <check.h>
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "common/msgtypes.h"
#include "tests/testutil.h"
#include "worker-transfer/have.h"

#define NP	20	/* pieces: a bitfield of three bytes, half the last */

static Suite	*have_suite(void);

static uint16_t		 holders[NP], asked[NP];
static struct have_counts counts;
static struct source_have a, b;

static void
counts_setup(void)
{
	memset(holders, 0, sizeof(holders));
	memset(asked, 0, sizeof(asked));
	counts.npieces = NP;
	counts.holders = holders;
	counts.asked = asked;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
}

/* A PEER_HAVE list of n piece numbers. */
static size_t
list(unsigned char *out, const uint32_t *pieces, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		uint32_t le = htole32(pieces[i]);

		memcpy(out + 4 * i, &le, 4);
	}
	return 4 * n;
}

static int
all_zero(void)
{
	size_t	 i;

	for (i = 0; i < NP; i++)
		if (holders[i] != 0 || asked[i] != 0)
			return 0;
	return 1;
}

START_TEST(a_bitfield_counts_each_piece_it_has)
{
	/* Pieces 0, 9 and 19; the bits past piece 19 are set too. */
	const unsigned char bits[3] = { 0x01, 0x02, 0xf8 };
	const char	*why = NULL;

	ck_assert_int_eq(have_set(&a, &counts, bits, sizeof(bits), &why), 0);
	ck_assert_int_eq(have_set(&b, &counts, bits, sizeof(bits), &why), 0);
	ck_assert_uint_eq(holders[0], 2);
	ck_assert_uint_eq(holders[9], 2);
	ck_assert_uint_eq(holders[19], 2);
	ck_assert_uint_eq(holders[1] + holders[10] + holders[18], 0);
	/* A second bitfield replaces the first. */
	ck_assert_int_eq(have_set(&a, &counts, (const unsigned char *)"\0\0\0",
	    3, &why), 0);
	ck_assert_uint_eq(holders[0], 1);
	have_forget(&a, &counts);
	have_forget(&b, &counts);
	ck_assert(all_zero());
	ck_assert_ptr_null(a.bits);
}
END_TEST

START_TEST(a_bitfield_of_another_size_is_refused)
{
	const unsigned char bits[4] = { 0xff, 0xff, 0xff, 0xff };
	const char	*why = NULL;

	ck_assert_int_eq(have_set(&a, &counts, bits, 4, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(have_set(&a, &counts, bits, 2, &why), -1);
	ck_assert_ptr_null(a.bits);
	ck_assert(all_zero());
}
END_TEST

START_TEST(a_piece_asked_then_verified_moves_from_asked_to_holders)
{
	const unsigned char none[3] = { 0, 0, 0 };
	unsigned char	 l[16];
	uint32_t	 p[2] = { 5 | PIECE_ASKED, 5 | PIECE_ASKED };
	const char	*why = NULL;

	ck_assert_int_eq(have_set(&a, &counts, none, 3, &why), 0);
	/* Said twice, counted once. */
	ck_assert_int_eq(have_add(&a, &counts, l, list(l, p, 2), &why), 0);
	ck_assert_uint_eq(asked[5], 1);
	ck_assert_uint_eq(holders[5], 0);
	p[0] = 5;
	ck_assert_int_eq(have_add(&a, &counts, l, list(l, p, 1), &why), 0);
	ck_assert_uint_eq(asked[5], 0);
	ck_assert_uint_eq(holders[5], 1);
	/* Asking for a piece it has changes nothing. */
	p[0] = 5 | PIECE_ASKED;
	ck_assert_int_eq(have_add(&a, &counts, l, list(l, p, 1), &why), 0);
	ck_assert_uint_eq(asked[5], 0);
	ck_assert_uint_eq(holders[5], 1);
	have_forget(&a, &counts);
	ck_assert(all_zero());
}
END_TEST

START_TEST(a_bad_list_keeps_what_came_before_it)
{
	const unsigned char none[3] = { 0, 0, 0 };
	unsigned char	 l[16];
	uint32_t	 p[3] = { 2, NP, 3 };
	const char	*why = NULL;

	ck_assert_int_eq(have_set(&a, &counts, none, 3, &why), 0);
	ck_assert_int_eq(have_add(&a, &counts, l, list(l, p, 3), &why), -1);
	ck_assert_str_eq(why, "a piece the game does not have");
	ck_assert_uint_eq(holders[2], 1);
	ck_assert_uint_eq(holders[3], 0);
	why = NULL;
	ck_assert_int_eq(have_add(&a, &counts, l, 5, &why), -1);
	ck_assert_str_eq(why, "a piece list of odd length");
	have_forget(&a, &counts);
	ck_assert(all_zero());
}
END_TEST

START_TEST(a_list_before_the_bitfield_counts_nothing)
{
	unsigned char	 l[8];
	uint32_t	 p[2] = { 1, 2 | PIECE_ASKED };
	const char	*why = NULL;

	ck_assert_int_eq(have_add(&a, &counts, l, list(l, p, 2), &why), 0);
	ck_assert(all_zero());
	have_forget(&a, &counts);
	ck_assert(all_zero());
}
END_TEST

static Suite *
have_suite(void)
{
	Suite	*s = suite_create("have");
	TCase	*tc;

	tc = tu_tcase(s, "counts", NULL, NULL, counts_setup, NULL);
	tcase_add_test(tc, a_bitfield_counts_each_piece_it_has);
	tcase_add_test(tc, a_bitfield_of_another_size_is_refused);
	tcase_add_test(tc,
	    a_piece_asked_then_verified_moves_from_asked_to_holders);
	tcase_add_test(tc, a_bad_list_keeps_what_came_before_it);
	tcase_add_test(tc, a_list_before_the_bitfield_counts_nothing);
	return s;
}

int
main(void)
{
	return tu_run_suite(have_suite());
}
