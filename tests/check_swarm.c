/*
 * Check suite for the swarm: the piece picker (worker-transfer/pick.c)
 * and the gates a partial holder's answers pass (worker-transfer/swarm.c).
 */

#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "worker-transfer/pick.h"
#include "worker-transfer/swarm.h"
#include "worker-transfer/transfer.h"

#define NP	64

static Suite	*swarm_suite(void);

/* A download of NP pieces in two chunks of NP / 2, owned by 0 and 1. */
static unsigned char	 verified[NP], inflight[NP];
static uint16_t		 holders[NP], asked[NP];
static uint32_t		 chunk_of[NP];
static struct chunk	 chunks[2];
static struct pick_view	 view;
static uint64_t		 rng;

static void
view_setup(void)
{
	size_t	 i;

	memset(verified, 0, sizeof(verified));
	memset(inflight, 0, sizeof(inflight));
	memset(holders, 0, sizeof(holders));
	memset(asked, 0, sizeof(asked));
	for (i = 0; i < NP; i++)
		chunk_of[i] = i < NP / 2 ? 0 : 1;
	chunks[0].owner = 0;
	chunks[1].owner = 1;
	view.npieces = NP;
	view.verified = verified;
	view.inflight = inflight;
	view.holders = holders;
	view.asked = asked;
	view.chunk_of = chunk_of;
	view.chunks = chunks;
	rng = 12345;
}

static void
set_bit(unsigned char *bits, size_t i)
{
	bits[i / 8] |= 1u << (i % 8);
}

START_TEST(the_rarest_piece_goes_first)
{
	struct pick	 pk;
	size_t		 i;

	for (i = 0; i < NP; i++)
		holders[i] = 3;
	holders[40] = 1;
	ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 8, &rng, &pk), 1);
	ck_assert_uint_eq(pk.first, 40);
	ck_assert_uint_eq(pk.count, 1);	/* its neighbours are commoner */
	ck_assert_int_eq(pk.dup, 0);
}
END_TEST

START_TEST(among_equals_a_source_takes_its_own_chunk_first)
{
	struct pick	 pk;
	int		 k;

	for (k = 0; k < 50; k++) {
		ck_assert_int_eq(pick_run(&view, NULL, 1, UINT_MAX, 1, &rng, &pk), 1);
		ck_assert_uint_ge(pk.first, NP / 2);
		ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 1, &rng, &pk), 1);
		ck_assert_uint_lt(pk.first, NP / 2);
	}
}
END_TEST

START_TEST(among_equals_the_choice_is_random)
{
	struct pick	 pk;
	int		 seen[NP] = { 0 }, k, distinct = 0;

	for (k = 0; k < 200; k++) {
		ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 1, &rng, &pk), 1);
		seen[pk.first] = 1;
	}
	for (k = 0; k < NP; k++)
		distinct += seen[k];
	/* Receivers starting together ask the seeder for different pieces. */
	ck_assert_int_gt(distinct, NP / 4);
}
END_TEST

START_TEST(chunks_fill_one_after_the_other)
{
	struct pick	 pk;
	size_t		 k;
	int		 seen_late;

	chunks[1].owner = 0;	/* both its own */
	for (k = 0; k < NP / 2; k++) {
		ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 1, &rng, &pk),
		    1);
		ck_assert_uint_lt(pk.first, NP / 2);
		inflight[pk.first] = 1;
	}
	ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 1, &rng, &pk), 1);
	ck_assert_uint_ge(pk.first, NP / 2);
	/* In a swarm (a partial source, or held back) the game is spread. */
	memset(inflight, 0, sizeof(inflight));
	seen_late = 0;
	for (k = 0; k < 50; k++) {
		ck_assert_int_eq(pick_run(&view, NULL, 0, 0, 1, &rng, &pk), 1);
		seen_late |= pk.first >= NP / 2;
	}
	ck_assert(seen_late);
}
END_TEST

START_TEST(a_partial_source_is_asked_only_for_what_it_has)
{
	unsigned char	 have[NP / 8] = { 0 };
	struct pick	 pk;
	int		 k;

	ck_assert_int_eq(pick_run(&view, have, 0, UINT_MAX, 8, &rng, &pk), 0);
	set_bit(have, 5);
	set_bit(have, 50);
	holders[5] = holders[50] = 1;
	for (k = 0; k < 20; k++) {
		ck_assert_int_eq(pick_run(&view, have, 2, UINT_MAX, 8, &rng, &pk), 1);
		ck_assert(pk.first == 5 || pk.first == 50);
		ck_assert_uint_eq(pk.count, 1);
	}
	verified[5] = 1;
	inflight[50] = 1;
	/* What it has is in or asked of another; others are not asked yet. */
	ck_assert_int_eq(pick_run(&view, have, 2, UINT_MAX, 8, &rng, &pk), 0);
	for (k = 0; k < NP; k++)
		inflight[k] |= !verified[k];
	/* Every missing piece is asked of someone: the endgame. */
	ck_assert_int_eq(pick_run(&view, have, 2, UINT_MAX, 8, &rng, &pk), 1);
	ck_assert_uint_eq(pk.first, 50);
	ck_assert_int_eq(pk.dup, 1);
}
END_TEST

START_TEST(a_complete_source_can_be_kept_to_pieces_new_to_the_swarm)
{
	struct pick	 pk;
	size_t		 i;
	int		 k;

	for (i = 0; i < NP; i++)
		holders[i] = 1;
	holders[7] = holders[9] = 0;
	for (k = 0; k < 20; k++) {
		ck_assert_int_eq(pick_run(&view, NULL, 0, 0, 1, &rng, &pk), 1);
		ck_assert(pk.first == 7 || pk.first == 9);
	}
	asked[9] = 1;	/* a partial source fetches it from a complete one */
	for (k = 0; k < 20; k++) {
		ck_assert_int_eq(pick_run(&view, NULL, 0, 0, 1, &rng, &pk), 1);
		ck_assert_uint_eq(pk.first, 7);
	}
	inflight[7] = 1;
	/* The rest is held by partial sources, and not yet asked of them. */
	ck_assert_int_eq(pick_run(&view, NULL, 0, 0, 1, &rng, &pk), 0);
	ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 1, &rng, &pk), 1);
	for (i = 0; i < NP; i++)
		inflight[i] = 1;
	/* The endgame too leaves the swarm's pieces to the swarm. */
	ck_assert_int_eq(pick_run(&view, NULL, 0, 0, 1, &rng, &pk), 1);
	ck_assert_uint_eq(pk.first, 7);
	ck_assert_int_eq(pk.dup, 1);
	holders[7] = 1;
	ck_assert_int_eq(pick_run(&view, NULL, 0, 0, 1, &rng, &pk), 0);
}
END_TEST

START_TEST(a_run_goes_on_through_needed_pieces_of_one_chunk)
{
	struct pick	 pk;
	size_t		 i;

	for (i = 0; i < NP; i++)
		verified[i] = 1;
	for (i = 28; i < 40; i++)
		verified[i] = 0;
	inflight[30] = 1;
	ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 16, &rng, &pk), 1);
	/* Its own chunk first: 28, 29 or 31; never across 30 or into 32. */
	ck_assert(pk.first == 28 || pk.first == 29 || pk.first == 31);
	ck_assert_uint_le(pk.first + pk.count, pk.first < 30 ? 30 : 32);
	ck_assert(pk.first != 28 || pk.count == 2);
	ck_assert_int_eq(pick_run(&view, NULL, 1, UINT_MAX, 3, &rng, &pk), 1);
	ck_assert_uint_ge(pk.first, 32);
	ck_assert_uint_le(pk.count, 3);
}
END_TEST

START_TEST(the_endgame_asks_again_for_the_last_piece_one_source_has)
{
	struct pick	 pk;
	size_t		 i;

	for (i = 0; i < NP; i++)
		verified[i] = 1;
	verified[10] = verified[20] = verified[60] = 0;
	inflight[10] = inflight[20] = 1;
	inflight[60] = 2;	/* already asked twice: not a third time */
	ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 8, &rng, &pk), 1);
	ck_assert_uint_eq(pk.first, 20);
	ck_assert_uint_eq(pk.count, 1);
	ck_assert_int_eq(pk.dup, 1);
	inflight[20] = 2;
	inflight[10] = 2;
	ck_assert_int_eq(pick_run(&view, NULL, 0, UINT_MAX, 8, &rng, &pk), 0);
}
END_TEST

/* A manifest of two files, 3 and 1 pieces of 64 KiB, and its root. */
static struct manifest	 man;
static unsigned char	 root[HASH_SIZE];
static char		 root_hex[2 * HASH_SIZE + 1];
static size_t		 base[3] = { 0, 1, 4 };
static unsigned char	 ver[4];

static void
man_setup(void)
{
	static struct manifest_file files[2];
	static unsigned char hashes[4 * HASH_SIZE];

	hash_init();
	memset(&man, 0, sizeof(man));
	strcpy(man.game_id, "ggoo");
	strcpy(man.version, "1");
	man.piece_size = 64 * 1024;
	files[0].path = "data/ggoo.eti";	/* sorted by path */
	files[0].size = 3 * 64 * 1024 - 5;
	files[0].hashes = hashes;
	files[0].hashes_len = 3 * HASH_SIZE;
	files[1].path = "version.ini";
	files[1].size = 8;
	files[1].hashes = hashes + 3 * HASH_SIZE;
	files[1].hashes_len = HASH_SIZE;
	base[1] = 3;
	man.files = files;
	man.nfiles = 2;
	manifest_root(&man, root);
	hash_hex(root, root_hex);
	memset(ver, 0, sizeof(ver));
}

static long
ask(const char *path, uint64_t off, uint64_t len, const char *r, char *why)
{
	struct peer_chunk req;

	memset(&req, 0, sizeof(req));
	strcpy(req.game_id, "ggoo");
	snprintf(req.path, sizeof(req.path), "%s", path);
	req.offset = off;
	req.length = len;
	return swarm_piece_gate(&man, root, r, ver, base, &req, why,
	    ERROR_SIZE);
}

START_TEST(only_verified_pieces_are_served)
{
	char	 why[ERROR_SIZE];

	ck_assert_int_eq(ask("data/ggoo.eti", 0, 65536, root_hex, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "not verified"));
	ver[0] = 1;
	ck_assert_int_eq(ask("data/ggoo.eti", 0, 65536, root_hex, why), 0);
	/* A span is served only when every piece of it is verified. */
	ck_assert_int_eq(ask("data/ggoo.eti", 0, 2 * 65536, root_hex, why),
	    -1);
	ver[1] = ver[2] = 1;
	ck_assert_int_eq(ask("data/ggoo.eti", 65536, 2 * 65536 - 5, root_hex,
	    why), 0);
	ver[3] = 1;
	ck_assert_int_eq(ask("version.ini", 0, 8, root_hex, why), 1);
}
END_TEST

START_TEST(a_piece_of_another_root_is_refused)
{
	char	 why[ERROR_SIZE], other[2 * HASH_SIZE + 1];

	memset(ver, 1, sizeof(ver));
	memcpy(other, root_hex, sizeof(other));
	other[0] = other[0] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(ask("data/ggoo.eti", 0, 65536, other, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "another manifest"));
	ck_assert_int_eq(swarm_root_gate(root, other, why, sizeof(why)), -1);
	ck_assert_int_eq(swarm_root_gate(root, root_hex, why, sizeof(why)),
	    0);
}
END_TEST

START_TEST(a_path_outside_the_game_is_refused)
{
	char	 why[ERROR_SIZE];

	memset(ver, 1, sizeof(ver));
	ck_assert_int_eq(ask("../ggoo/version.ini", 0, 8, root_hex, why), -1);
	ck_assert_int_eq(ask("/etc/passwd", 0, 8, root_hex, why), -1);
	ck_assert_int_eq(ask("data/../version.ini", 0, 8, root_hex, why), -1);
	ck_assert_int_eq(ask("nosuch.eti", 0, 8, root_hex, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "not a file of the game"));
}
END_TEST

START_TEST(a_span_off_a_piece_or_past_the_file_is_refused)
{
	char	 why[ERROR_SIZE];

	memset(ver, 1, sizeof(ver));
	ck_assert_int_eq(ask("data/ggoo.eti", 1, 100, root_hex, why), -1);
	ck_assert_int_eq(ask("data/ggoo.eti", 0, 3 * 65536, root_hex, why),
	    -1);
	ck_assert_int_eq(ask("data/ggoo.eti", 0, 0, root_hex, why), -1);
	ck_assert_int_eq(ask("version.ini", 0, 9, root_hex, why), -1);
	ck_assert_int_eq(ask("version.ini", 0, CHUNK_SIZE + 1, root_hex, why),
	    -1);
}
END_TEST

START_TEST(the_bitfield_has_one_bit_per_verified_piece)
{
	unsigned char	 flags[10] = { 1, 0, 0, 1, 0, 0, 0, 0, 1, 1 };
	unsigned char	*bits;
	size_t		 len, i;

	bits = swarm_bits(flags, 10, &len);
	ck_assert_uint_eq(len, 2);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(have_bit(bits, i), flags[i]);
	ck_assert_int_eq(bits[1] >> 2, 0);	/* nothing past the end */
	free(bits);
	bits = swarm_bits(NULL, 10, &len);	/* a whole game */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(have_bit(bits, i), 1);
	free(bits);
}
END_TEST

static Suite *
swarm_suite(void)
{
	Suite	*s = suite_create("swarm");
	TCase	*tc;

	tc = tu_tcase(s, "pick", NULL, NULL, view_setup, NULL);
	tcase_add_test(tc, the_rarest_piece_goes_first);
	tcase_add_test(tc, among_equals_a_source_takes_its_own_chunk_first);
	tcase_add_test(tc, among_equals_the_choice_is_random);
	tcase_add_test(tc, chunks_fill_one_after_the_other);
	tcase_add_test(tc, a_partial_source_is_asked_only_for_what_it_has);
	tcase_add_test(tc,
	    a_complete_source_can_be_kept_to_pieces_new_to_the_swarm);
	tcase_add_test(tc, a_run_goes_on_through_needed_pieces_of_one_chunk);
	tcase_add_test(tc,
	    the_endgame_asks_again_for_the_last_piece_one_source_has);

	tc = tu_tcase(s, "gates", NULL, NULL, man_setup, NULL);
	tcase_add_test(tc, only_verified_pieces_are_served);
	tcase_add_test(tc, a_piece_of_another_root_is_refused);
	tcase_add_test(tc, a_path_outside_the_game_is_refused);
	tcase_add_test(tc, a_span_off_a_piece_or_past_the_file_is_refused);
	tcase_add_test(tc, the_bitfield_has_one_bit_per_verified_piece);
	return s;
}

int
main(void)
{
	return tu_run_suite(swarm_suite());
}
