/*
 * Check suite for worker-transfer/plan.c: how a game's files are cut into
 * chunks, how the chunks are spread over the sources, and where a lost
 * (dead or stalled) source's chunks go.
 */

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/testutil.h"
#include "worker-transfer/plan.h"
#include "worker-transfer/transfer.h"

#define NCHUNKS_MAX	2048
#define CS		CHUNK_SIZE

static Suite	*plan_suite(void);

/* A plan made as fetch.c makes one: cut, then assign. */
struct tplan {
	struct chunk	 c[NCHUNKS_MAX];
	size_t		 n;
	uint64_t	 total;
	uint64_t	 load[8];
	int		 alive[8];
	int		 nsrc;
};

static struct tplan	 tp;

/* Checked fixture: every test starts from no chunks and no sources. */
static void
plan_setup(void)
{
	size_t	 i;

	for (i = 0; i < NCHUNKS_MAX; i++) {
		tp.c[i].owner = -2;	/* what plan_cut must overwrite */
		tp.c[i].done = 7;
	}
	tp.n = 0;
	tp.total = 0;
	for (i = 0; i < 8; i++) {
		tp.load[i] = 0;
		tp.alive[i] = 0;
	}
	tp.nsrc = 0;
}

static void
cut(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size)
{
	tp.n = plan_count(sizes, nfiles, chunk_size);
	ck_assert_uint_le(tp.n, NCHUNKS_MAX);
	tp.total = plan_cut(sizes, nfiles, chunk_size, tp.c);
}

/* nsrc live sources with nothing planned yet. */
static void
sources(int nsrc)
{
	int	 i;

	tp.nsrc = nsrc;
	for (i = 0; i < nsrc; i++)
		tp.alive[i] = 1;
}

static void
plan(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size, int nsrc)
{
	cut(sizes, nfiles, chunk_size);
	sources(nsrc);
	ck_assert_int_eq(plan_assign(tp.c, tp.n, tp.load, tp.alive, tp.nsrc),
	    0);
}

/* Bytes of file's chunks that source owns. */
static uint64_t
owned_bytes(int source, size_t file)
{
	uint64_t sum = 0;
	size_t	 i;

	for (i = 0; i < tp.n; i++)
		if (tp.c[i].owner == source && tp.c[i].file == file)
			sum += tp.c[i].length;
	return sum;
}

static size_t
owned_chunks(int source)
{
	size_t	 i, k = 0;

	for (i = 0; i < tp.n; i++)
		k += tp.c[i].owner == source;
	return k;
}

static void
assert_chunk(size_t i, size_t file, uint64_t offset, uint64_t length)
{
	ck_assert_uint_eq(tp.c[i].file, file);
	ck_assert_uint_eq(tp.c[i].offset, offset);
	ck_assert_uint_eq(tp.c[i].length, length);
}

/* The load of every source is what the plan gave it. */
static void
assert_loads_match_owners(void)
{
	uint64_t sum;
	size_t	 i;
	int	 s;

	for (s = 0; s < tp.nsrc; s++) {
		sum = 0;
		for (i = 0; i < tp.n; i++)
			if (tp.c[i].owner == s)
				sum += tp.c[i].length;
		ck_assert_uint_eq(tp.load[s], sum);
	}
}

/* Chunk boundaries. */

START_TEST(file_smaller_than_a_chunk_is_one_chunk_of_its_size)
{
	uint64_t sizes[] = { 1000 };

	cut(sizes, 1, CS);
	ck_assert_uint_eq(tp.n, 1);
	assert_chunk(0, 0, 0, 1000);
	ck_assert_uint_eq(tp.total, 1000);
}
END_TEST

START_TEST(file_of_exactly_one_chunk_is_one_full_chunk)
{
	uint64_t sizes[] = { CS };

	cut(sizes, 1, CS);
	ck_assert_uint_eq(tp.n, 1);
	assert_chunk(0, 0, 0, CS);
	ck_assert_uint_eq(tp.total, CS);
}
END_TEST

START_TEST(file_one_byte_over_a_chunk_ends_in_a_one_byte_chunk)
{
	uint64_t sizes[] = { CS + 1 };

	cut(sizes, 1, CS);
	ck_assert_uint_eq(tp.n, 2);
	assert_chunk(0, 0, 0, CS);
	assert_chunk(1, 0, CS, 1);
}
END_TEST

START_TEST(file_of_whole_chunks_has_no_empty_tail_chunk)
{
	uint64_t sizes[] = { 4 * CS };

	cut(sizes, 1, CS);
	ck_assert_uint_eq(tp.n, 4);
	assert_chunk(3, 0, 3 * CS, CS);
	ck_assert_uint_eq(tp.total, 4 * CS);
}
END_TEST

START_TEST(larger_file_is_cut_at_chunk_boundaries_with_a_short_tail)
{
	uint64_t sizes[] = { 3 * CS + CS / 2 };

	cut(sizes, 1, CS);
	ck_assert_uint_eq(tp.n, 4);
	assert_chunk(0, 0, 0, CS);
	assert_chunk(1, 0, CS, CS);
	assert_chunk(2, 0, 2 * CS, CS);
	assert_chunk(3, 0, 3 * CS, CS / 2);
	ck_assert_uint_eq(tp.total, sizes[0]);
}
END_TEST

START_TEST(empty_file_still_makes_one_chunk_of_length_zero)
{
	uint64_t sizes[] = { 5, 0, 5 };

	cut(sizes, 3, 10);
	ck_assert_uint_eq(tp.n, 3);
	assert_chunk(0, 0, 0, 5);
	assert_chunk(1, 1, 0, 0);
	assert_chunk(2, 2, 0, 5);
	ck_assert_uint_eq(tp.total, 10);
}
END_TEST

START_TEST(many_small_files_make_one_chunk_each_in_file_order)
{
	uint64_t sizes[1000];
	size_t	 i;

	for (i = 0; i < 1000; i++)
		sizes[i] = 1 + i % 7;
	cut(sizes, 1000, CS);
	ck_assert_uint_eq(tp.n, 1000);
	for (i = 0; i < 1000; i++)
		assert_chunk(i, i, 0, sizes[i]);
}
END_TEST

START_TEST(chunks_cover_every_byte_of_every_file_once_in_order)
{
	uint64_t sizes[] = { 0, 1, 9, 10, 11, 29, 30, 31, 0, 100 };
	size_t	 nfiles = sizeof(sizes) / sizeof(sizes[0]), i, f = 0;
	uint64_t next = 0, total = 0;

	cut(sizes, nfiles, 10);
	ck_assert_uint_eq(tp.n, 1 + 1 + 1 + 1 + 2 + 3 + 3 + 4 + 1 + 10);
	for (i = 0; i < tp.n; i++) {
		if (tp.c[i].file != f) {
			/* The previous file is complete; the next begins. */
			ck_assert_uint_eq(next, sizes[f]);
			ck_assert_uint_eq(tp.c[i].file, f + 1);
			f++;
			next = 0;
		}
		ck_assert_uint_eq(tp.c[i].offset, next);
		ck_assert_uint_le(tp.c[i].length, 10);
		ck_assert(tp.c[i].length > 0 || sizes[f] == 0);
		next += tp.c[i].length;
		total += tp.c[i].length;
	}
	ck_assert_uint_eq(f, nfiles - 1);
	ck_assert_uint_eq(next, sizes[f]);
	ck_assert_uint_eq(tp.total, total);
}
END_TEST

START_TEST(cut_chunks_are_unowned_and_not_done)
{
	uint64_t sizes[] = { 25, 0 };
	size_t	 i;

	cut(sizes, 2, 10);
	for (i = 0; i < tp.n; i++) {
		ck_assert_int_eq(tp.c[i].owner, -1);
		ck_assert_int_eq(tp.c[i].done, 0);
	}
	/* Nothing past the count is written. */
	ck_assert_int_eq(tp.c[tp.n].owner, -2);
}
END_TEST

START_TEST(count_of_a_file_near_the_largest_size_does_not_overflow)
{
	uint64_t sizes[] = { UINT64_MAX };

	ck_assert_uint_eq(plan_count(sizes, 1, CS), UINT64_MAX / CS + 1);
}
END_TEST

/* Balance across sources. */

START_TEST(one_source_gets_every_chunk)
{
	uint64_t sizes[] = { 3 * CS + 5, 0, 7 };

	plan(sizes, 3, CS, 1);
	ck_assert_uint_eq(owned_chunks(0), tp.n);
	ck_assert_uint_eq(tp.load[0], tp.total);
}
END_TEST

/* S14: a 512 MiB .eti and version.ini from two equal sources. */
START_TEST(two_equal_sources_split_a_four_chunk_game_two_and_two)
{
	uint64_t sizes[] = { 4 * CS, 4 };

	plan(sizes, 2, CS, 2);
	ck_assert_uint_eq(tp.n, 5);
	ck_assert_uint_eq(owned_bytes(0, 0), 2 * CS);
	ck_assert_uint_eq(owned_bytes(1, 0), 2 * CS);
	/* Taken in turn, the lowest index first on a tie. */
	ck_assert_int_eq(tp.c[0].owner, 0);
	ck_assert_int_eq(tp.c[1].owner, 1);
	ck_assert_int_eq(tp.c[2].owner, 0);
	ck_assert_int_eq(tp.c[3].owner, 1);
	ck_assert_int_eq(tp.c[4].owner, 0);
	assert_loads_match_owners();
}
END_TEST

START_TEST(three_sources_differ_by_at_most_one_chunk)
{
	uint64_t sizes[] = { 10 * CS };

	plan(sizes, 1, CS, 3);
	ck_assert_uint_eq(tp.load[0], 4 * CS);
	ck_assert_uint_eq(tp.load[1], 3 * CS);
	ck_assert_uint_eq(tp.load[2], 3 * CS);
	assert_loads_match_owners();
}
END_TEST

START_TEST(uneven_chunks_still_differ_by_at_most_one_chunk)
{
	uint64_t sizes[] = { 25, 3, 17, 10, 1, 0, 9, 40, 2 };
	uint64_t lo = UINT64_MAX, hi = 0;
	int	 s;

	plan(sizes, sizeof(sizes) / sizeof(sizes[0]), 10, 3);
	for (s = 0; s < 3; s++) {
		lo = tp.load[s] < lo ? tp.load[s] : lo;
		hi = tp.load[s] > hi ? tp.load[s] : hi;
	}
	ck_assert_uint_le(hi - lo, 10);
	ck_assert_uint_eq(tp.load[0] + tp.load[1] + tp.load[2], tp.total);
	assert_loads_match_owners();
}
END_TEST

START_TEST(many_small_files_are_balanced_by_bytes)
{
	uint64_t sizes[300];
	size_t	 i;
	int	 s;

	for (i = 0; i < 300; i++)
		sizes[i] = 1000 + i;
	plan(sizes, 300, CS, 3);
	for (s = 1; s < 3; s++) {
		uint64_t d = tp.load[s] > tp.load[0] ?
		    tp.load[s] - tp.load[0] : tp.load[0] - tp.load[s];

		ck_assert_uint_le(d, 1300);
		ck_assert_uint_ge(owned_chunks(s), 99);
	}
	assert_loads_match_owners();
}
END_TEST

START_TEST(empty_files_add_no_load_and_go_to_the_lowest_tied_source)
{
	uint64_t sizes[] = { 0, 0, 0 };

	plan(sizes, 3, CS, 2);
	ck_assert_uint_eq(owned_chunks(0), 3);
	ck_assert_uint_eq(tp.load[0], 0);
	ck_assert_uint_eq(tp.load[1], 0);
}
END_TEST

START_TEST(dead_source_gets_nothing_when_planning)
{
	uint64_t sizes[] = { 6 * CS };

	cut(sizes, 1, CS);
	sources(3);
	tp.alive[1] = 0;
	ck_assert_int_eq(plan_assign(tp.c, tp.n, tp.load, tp.alive, 3), 0);
	ck_assert_uint_eq(owned_chunks(1), 0);
	ck_assert_uint_eq(tp.load[0], 3 * CS);
	ck_assert_uint_eq(tp.load[2], 3 * CS);
}
END_TEST

START_TEST(loads_already_planned_are_counted)
{
	uint64_t sizes[] = { 4 * CS };

	cut(sizes, 1, CS);
	sources(2);
	tp.load[0] = 2 * CS;
	ck_assert_int_eq(plan_assign(tp.c, tp.n, tp.load, tp.alive, 2), 0);
	/* Source 1 catches up first, then they take turns again. */
	ck_assert_int_eq(tp.c[0].owner, 1);
	ck_assert_int_eq(tp.c[1].owner, 1);
	ck_assert_int_eq(tp.c[2].owner, 0);
	ck_assert_int_eq(tp.c[3].owner, 1);
	ck_assert_uint_eq(tp.load[0], 3 * CS);
	ck_assert_uint_eq(tp.load[1], 3 * CS);
}
END_TEST

START_TEST(least_loaded_prefers_fewer_bytes_then_the_lowest_index)
{
	uint64_t load[] = { 5, 3, 3, 1 };
	int	 alive[] = { 1, 1, 1, 0 };

	ck_assert_int_eq(plan_least_loaded(load, alive, 4), 1);
	alive[1] = 0;
	ck_assert_int_eq(plan_least_loaded(load, alive, 4), 2);
	alive[3] = 1;
	ck_assert_int_eq(plan_least_loaded(load, alive, 4), 3);
}
END_TEST

/* Reassignment when a source dies or stalls. */

START_TEST(dead_source_chunks_go_to_the_survivor)
{
	uint64_t sizes[] = { 4 * CS };

	plan(sizes, 1, CS, 2);
	tp.alive[1] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 1, tp.load, tp.alive, 2),
	    2);
	ck_assert_uint_eq(owned_chunks(0), 4);
	ck_assert_uint_eq(owned_chunks(1), 0);
	ck_assert_uint_eq(tp.load[0], 4 * CS);
}
END_TEST

START_TEST(done_chunks_of_a_dead_source_keep_their_owner)
{
	uint64_t sizes[] = { 4 * CS };

	plan(sizes, 1, CS, 2);
	tp.c[1].done = 1;	/* source 1's first chunk */
	tp.alive[1] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 1, tp.load, tp.alive, 2),
	    1);
	ck_assert_int_eq(tp.c[1].owner, 1);
	ck_assert_int_eq(tp.c[3].owner, 0);
	ck_assert_uint_eq(tp.load[0], 3 * CS);
}
END_TEST

/* A stalled source is dropped like a dead one: its chunk in flight moves. */
START_TEST(stalled_source_chunk_in_flight_moves_to_a_survivor)
{
	uint64_t sizes[] = { 2 * CS };

	plan(sizes, 1, CS, 2);
	tp.c[0].done = 1;
	/* Source 1 stalls on chunk 1, the only one not done. */
	tp.alive[1] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 1, tp.load, tp.alive, 2),
	    1);
	ck_assert_int_eq(tp.c[1].owner, 0);
	ck_assert_int_eq(tp.c[1].done, 0);
	ck_assert_uint_eq(tp.c[1].offset, CS);
}
END_TEST

START_TEST(lost_chunks_are_spread_over_survivors_by_load)
{
	uint64_t sizes[] = { 9 * CS };

	plan(sizes, 1, CS, 3);
	/* 0, 1, 2 own three chunks each, taken in turn. */
	tp.alive[2] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 2, tp.load, tp.alive, 3),
	    3);
	ck_assert_int_eq(tp.c[2].owner, 0);
	ck_assert_int_eq(tp.c[5].owner, 1);
	ck_assert_int_eq(tp.c[8].owner, 0);
	ck_assert_uint_eq(tp.load[0], 5 * CS);
	ck_assert_uint_eq(tp.load[1], 4 * CS);
	/* The lost source's load stays what it was planned. */
	ck_assert_uint_eq(tp.load[2], 3 * CS);
}
END_TEST

START_TEST(survivors_keep_their_own_chunks)
{
	uint64_t sizes[] = { 6 * CS };
	int	 before[6];
	size_t	 i;

	plan(sizes, 1, CS, 3);
	for (i = 0; i < tp.n; i++)
		before[i] = tp.c[i].owner;
	tp.alive[0] = 0;
	plan_reassign(tp.c, tp.n, 0, tp.load, tp.alive, 3);
	for (i = 0; i < tp.n; i++)
		if (before[i] != 0)
			ck_assert_int_eq(tp.c[i].owner, before[i]);
		else
			ck_assert_int_ne(tp.c[i].owner, 0);
}
END_TEST

START_TEST(second_loss_moves_everything_to_the_last_survivor)
{
	uint64_t sizes[] = { 6 * CS };

	plan(sizes, 1, CS, 3);
	tp.alive[1] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 1, tp.load, tp.alive, 3),
	    2);
	tp.alive[2] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 2, tp.load, tp.alive, 3),
	    3);
	ck_assert_uint_eq(owned_chunks(0), 6);
}
END_TEST

START_TEST(source_with_everything_done_moves_nothing)
{
	uint64_t sizes[] = { 2 * CS };
	uint64_t load0;

	plan(sizes, 1, CS, 2);
	tp.c[1].done = 1;
	load0 = tp.load[0];
	tp.alive[1] = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 1, tp.load, tp.alive, 2),
	    0);
	ck_assert_int_eq(tp.c[1].owner, 1);
	ck_assert_uint_eq(tp.load[0], load0);
}
END_TEST

START_TEST(loss_without_a_survivor_fails)
{
	uint64_t sizes[] = { 2 * CS };

	plan(sizes, 1, CS, 1);
	tp.alive[0] = 0;
	errno = 0;
	ck_assert_int_eq(plan_reassign(tp.c, tp.n, 0, tp.load, tp.alive, 1),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Edge cases. */

START_TEST(planning_without_sources_fails_and_assigns_nothing)
{
	uint64_t sizes[] = { 3 * CS };

	cut(sizes, 1, CS);
	errno = 0;
	ck_assert_int_eq(plan_assign(tp.c, tp.n, tp.load, tp.alive, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tp.c[0].owner, -1);
	ck_assert_int_eq(plan_least_loaded(tp.load, tp.alive, 0), -1);
}
END_TEST

START_TEST(planning_with_every_source_dead_fails_and_assigns_nothing)
{
	uint64_t sizes[] = { 3 * CS };

	cut(sizes, 1, CS);
	tp.nsrc = 3;	/* none alive */
	ck_assert_int_eq(plan_assign(tp.c, tp.n, tp.load, tp.alive, 3), -1);
	ck_assert_uint_eq(owned_chunks(-1), 3);
	ck_assert_uint_eq(tp.load[0] + tp.load[1] + tp.load[2], 0);
}
END_TEST

START_TEST(zero_files_make_an_empty_plan)
{
	uint64_t none[1] = { 99 };

	ck_assert_uint_eq(plan_count(none, 0, CS), 0);
	ck_assert_uint_eq(plan_cut(none, 0, CS, tp.c), 0);
	ck_assert_int_eq(tp.c[0].owner, -2);
	sources(2);
	ck_assert_int_eq(plan_assign(tp.c, 0, tp.load, tp.alive, 2), 0);
	ck_assert_int_eq(plan_reassign(tp.c, 0, 1, tp.load, tp.alive, 2), 0);
	ck_assert_uint_eq(tp.load[0] + tp.load[1], 0);
}
END_TEST

static Suite *
plan_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("plan");

	tc = tu_tcase(s, "boundaries", NULL, NULL, plan_setup, NULL);
	tcase_add_test(tc, file_smaller_than_a_chunk_is_one_chunk_of_its_size);
	tcase_add_test(tc, file_of_exactly_one_chunk_is_one_full_chunk);
	tcase_add_test(tc, file_one_byte_over_a_chunk_ends_in_a_one_byte_chunk);
	tcase_add_test(tc, file_of_whole_chunks_has_no_empty_tail_chunk);
	tcase_add_test(tc,
	    larger_file_is_cut_at_chunk_boundaries_with_a_short_tail);
	tcase_add_test(tc, empty_file_still_makes_one_chunk_of_length_zero);
	tcase_add_test(tc, many_small_files_make_one_chunk_each_in_file_order);
	tcase_add_test(tc, chunks_cover_every_byte_of_every_file_once_in_order);
	tcase_add_test(tc, cut_chunks_are_unowned_and_not_done);
	tcase_add_test(tc,
	    count_of_a_file_near_the_largest_size_does_not_overflow);

	tc = tu_tcase(s, "balance", NULL, NULL, plan_setup, NULL);
	tcase_add_test(tc, one_source_gets_every_chunk);
	tcase_add_test(tc, two_equal_sources_split_a_four_chunk_game_two_and_two);
	tcase_add_test(tc, three_sources_differ_by_at_most_one_chunk);
	tcase_add_test(tc, uneven_chunks_still_differ_by_at_most_one_chunk);
	tcase_add_test(tc, many_small_files_are_balanced_by_bytes);
	tcase_add_test(tc,
	    empty_files_add_no_load_and_go_to_the_lowest_tied_source);
	tcase_add_test(tc, dead_source_gets_nothing_when_planning);
	tcase_add_test(tc, loads_already_planned_are_counted);
	tcase_add_test(tc,
	    least_loaded_prefers_fewer_bytes_then_the_lowest_index);

	tc = tu_tcase(s, "reassign", NULL, NULL, plan_setup, NULL);
	tcase_add_test(tc, dead_source_chunks_go_to_the_survivor);
	tcase_add_test(tc, done_chunks_of_a_dead_source_keep_their_owner);
	tcase_add_test(tc, stalled_source_chunk_in_flight_moves_to_a_survivor);
	tcase_add_test(tc, lost_chunks_are_spread_over_survivors_by_load);
	tcase_add_test(tc, survivors_keep_their_own_chunks);
	tcase_add_test(tc,
	    second_loss_moves_everything_to_the_last_survivor);
	tcase_add_test(tc, source_with_everything_done_moves_nothing);
	tcase_add_test(tc, loss_without_a_survivor_fails);

	tc = tu_tcase(s, "edges", NULL, NULL, plan_setup, NULL);
	tcase_add_test(tc, planning_without_sources_fails_and_assigns_nothing);
	tcase_add_test(tc,
	    planning_with_every_source_dead_fails_and_assigns_nothing);
	tcase_add_test(tc, zero_files_make_an_empty_plan);

	return s;
}

int
main(void)
{
	return tu_run_suite(plan_suite());
}
