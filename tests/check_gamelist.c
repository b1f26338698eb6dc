/*
 * Check suite for common/gamelist.c: what an advertised library must hold
 * (any host may send one), and which games of a long one come first.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gamelist.h"
#include "tests/testutil.h"

static Suite	*gamelist_suite(void);

static struct game_entry
game(const char *id)
{
	struct game_entry g;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.version, sizeof(g.version), "1");
	snprintf(g.availability, sizeof(g.availability), "Ready");
	g.downloaded = 1;
	return g;
}

/* The largest list a peer may send, every id different. */
static struct game_entry *
many_games(size_t n)
{
	struct game_entry *games = calloc(n, sizeof(*games));
	size_t		   i;
	char		   id[GAME_ID_SIZE];

	ck_assert_ptr_nonnull(games);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "game%05zu", (n - i) * 7919 % 100000);
		games[i] = game(id);
	}
	return games;
}

/* check */

START_TEST(distinct_games_pass)
{
	struct game_entry *games = many_games(GAMELIST_MAX);
	char		   err[128] = "";

	ck_assert_int_eq(gamelist_check(games, GAMELIST_MAX, err, sizeof(err)),
	    0);
	ck_assert_int_eq(gamelist_check(games, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(gamelist_check(games, 1, err, sizeof(err)), 0);
	free(games);
}
END_TEST

START_TEST(a_duplicate_anywhere_is_refused)
{
	struct game_entry *games = many_games(GAMELIST_MAX);
	char		   err[128] = "";

	games[GAMELIST_MAX - 1] = games[17];
	ck_assert_int_eq(gamelist_check(games, GAMELIST_MAX, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "duplicate game id");
	free(games);
}
END_TEST

START_TEST(a_bad_id_or_availability_is_refused)
{
	struct game_entry games[2] = { game("cnc4"), game("../x") };
	char		  err[128] = "";

	ck_assert_int_eq(gamelist_check(games, 2, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad game id");
	games[1] = game("ggoo");
	snprintf(games[1].availability, sizeof(games[1].availability), "Gone");
	ck_assert_int_eq(gamelist_check(games, 2, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad game entry");
}
END_TEST

/* prefer */

static int
starts_with_c(const struct game_entry *g, void *arg)
{
	(void)arg;
	return g->id[0] == 'c';
}

START_TEST(a_list_of_downloads_needs_valid_distinct_ids_only)
{
	struct game_entry games[3] = {
		game("bf1942"), game("cnctw"), game("ggoo"),
	};
	char	 err[64];

	/* Not Ready: a download's entry says "Downloading". */
	snprintf(games[0].availability, sizeof(games[0].availability),
	    "Downloading");
	ck_assert_int_eq(gamelist_check_downloads(games, 3, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(gamelist_check_downloads(games, 0, err,
	    sizeof(err)), 0);
	snprintf(games[2].id, sizeof(games[2].id), "../etc");
	ck_assert_int_eq(gamelist_check_downloads(games, 3, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "bad game id");
	snprintf(games[2].id, sizeof(games[2].id), "bf1942");
	ck_assert_int_eq(gamelist_check_downloads(games, 3, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "duplicate game id");
}
END_TEST

START_TEST(preferred_games_come_first_each_group_in_order)
{
	struct game_entry games[6] = {
		game("alienswarm"), game("cnc4"), game("bf1942"),
		game("cnctw"), game("ggoo"), game("coh"),
	};
	static const char *const want[6] = {
		"cnc4", "cnctw", "coh", "alienswarm", "bf1942", "ggoo",
	};
	size_t	 i;

	ck_assert_uint_eq(gamelist_prefer(games, 6, starts_with_c, NULL), 3);
	for (i = 0; i < 6; i++)
		ck_assert_str_eq(games[i].id, want[i]);
}
END_TEST

START_TEST(none_or_all_preferred_leaves_the_order)
{
	struct game_entry games[2] = { game("ggoo"), game("bf1942") };
	struct game_entry cs[2] = { game("coh"), game("cnc4") };

	ck_assert_uint_eq(gamelist_prefer(games, 2, starts_with_c, NULL), 0);
	ck_assert_str_eq(games[0].id, "ggoo");
	ck_assert_uint_eq(gamelist_prefer(cs, 2, starts_with_c, NULL), 2);
	ck_assert_str_eq(cs[0].id, "coh");
	ck_assert_uint_eq(gamelist_prefer(cs, 0, starts_with_c, NULL), 0);
}
END_TEST

static Suite *
gamelist_suite(void)
{
	Suite	*s = suite_create("gamelist");
	TCase	*tc;

	tc = tu_tcase(s, "check", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, distinct_games_pass);
	tcase_add_test(tc, a_duplicate_anywhere_is_refused);
	tcase_add_test(tc, a_bad_id_or_availability_is_refused);
	tcase_add_test(tc, a_list_of_downloads_needs_valid_distinct_ids_only);

	tc = tu_tcase(s, "prefer", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, preferred_games_come_first_each_group_in_order);
	tcase_add_test(tc, none_or_all_preferred_leaves_the_order);
	return s;
}

int
main(void)
{
	return tu_run_suite(gamelist_suite());
}
