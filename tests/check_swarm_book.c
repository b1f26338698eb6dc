/*
 * Check suite for supervisor/swarm_book.c: the downloads linked peers
 * told us of, and the source lists a running download is sent.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/swarm_book.h"
#include "tests/testutil.h"

#define PEER_X	"0123456789abcdef0123456789abcdef"
#define PEER_Y	"fedcba9876543210fedcba9876543210"

static Suite	*swarm_book_suite(void);

static struct game_entry
downloading(const char *id, const char *version)
{
	struct game_entry g;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	snprintf(g.version, sizeof(g.version), "%s", version);
	snprintf(g.availability, sizeof(g.availability), "Downloading");
	return g;
}

static int
not_mystery(const struct game_entry *g, void *arg)
{
	(void)arg;
	return strcmp(g->id, "mystery-game") != 0;
}

START_TEST(a_peer_has_what_it_told_at_that_version_only)
{
	struct swarm_book b = { 0 };
	struct game_entry games[2] = {
		downloading("bf1942", "20160130"),
		downloading("mystery-game", "1"),
	};

	ck_assert_int_eq(swarm_book_set(&b, PEER_X, games, 2, not_mystery,
	    NULL), 0);
	ck_assert(swarm_book_has(&b, PEER_X, "bf1942", "20160130"));
	ck_assert(!swarm_book_has(&b, PEER_X, "bf1942", "20150101"));
	ck_assert(!swarm_book_has(&b, PEER_Y, "bf1942", "20160130"));
	/* What we could not download is not kept. */
	ck_assert(!swarm_book_has(&b, PEER_X, "mystery-game", "1"));
	swarm_book_free(&b);
}
END_TEST

START_TEST(a_new_list_replaces_the_old_and_none_forgets_the_peer)
{
	struct swarm_book b = { 0 };
	struct game_entry one = downloading("bf1942", "20160130");
	struct game_entry two = downloading("ggoo", "20200721");

	ck_assert_int_eq(swarm_book_set(&b, PEER_X, &one, 1, NULL, NULL), 0);
	ck_assert_int_eq(swarm_book_set(&b, PEER_Y, &one, 1, NULL, NULL), 0);
	ck_assert_int_eq(swarm_book_set(&b, PEER_X, &two, 1, NULL, NULL), 0);
	ck_assert_uint_eq(b.n, 2);
	ck_assert(!swarm_book_has(&b, PEER_X, "bf1942", "20160130"));
	ck_assert(swarm_book_has(&b, PEER_X, "ggoo", "20200721"));
	ck_assert_int_eq(swarm_book_set(&b, PEER_X, NULL, 0, NULL, NULL), 0);
	ck_assert_uint_eq(b.n, 1);
	swarm_book_drop(&b, PEER_Y);
	swarm_book_drop(&b, PEER_Y);
	ck_assert_uint_eq(b.n, 0);
	ck_assert(!swarm_book_has(&b, PEER_Y, "bf1942", "20160130"));
	swarm_book_free(&b);
}
END_TEST

START_TEST(a_peer_both_complete_and_partial_is_a_complete_source)
{
	struct fetch_source list[MSG_MAX_SOURCES];
	size_t	 n = 0;

	ck_assert_int_eq(sources_add(list, &n, PEER_X, "127.0.0.2:7331", "t",
	    0), 0);
	ck_assert_int_eq(sources_add(list, &n, PEER_X, "127.0.0.2:7331", "t",
	    1), 0);
	ck_assert_int_eq(sources_add(list, &n, PEER_Y, "127.0.0.3:7331", "u",
	    1), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(list[0].partial, 0);
	ck_assert_int_eq(list[1].partial, 1);
}
END_TEST

START_TEST(a_list_holds_at_most_max_sources)
{
	struct fetch_source list[MSG_MAX_SOURCES];
	char	 id[PEER_ID_SIZE];
	size_t	 i, n = 0;

	for (i = 0; i < MSG_MAX_SOURCES; i++) {
		snprintf(id, sizeof(id), "%032zx", i);
		ck_assert_int_eq(sources_add(list, &n, id, "127.0.0.2:1", "",
		    1), 0);
	}
	ck_assert_int_eq(sources_add(list, &n, PEER_X, "127.0.0.2:1", "", 0),
	    -1);
	ck_assert_uint_eq(n, MSG_MAX_SOURCES);
}
END_TEST

START_TEST(lists_differ_by_a_source_or_its_kind_never_by_order)
{
	struct fetch_source a[MSG_MAX_SOURCES], b[MSG_MAX_SOURCES];
	size_t	 na = 0, nb = 0;

	sources_add(a, &na, PEER_X, "127.0.0.2:7331", "t", 0);
	sources_add(a, &na, PEER_Y, "127.0.0.3:7331", "u", 1);
	sources_add(b, &nb, PEER_Y, "127.0.0.3:7331", "u", 1);
	ck_assert(!sources_same(a, na, b, nb));
	sources_add(b, &nb, PEER_X, "127.0.0.2:7331", "t", 0);
	ck_assert(sources_same(a, na, b, nb));
	/* The partial holder finished: it is a complete source now. */
	b[0].partial = 0;
	ck_assert(!sources_same(a, na, b, nb));
	ck_assert(sources_same(NULL, 0, b, 0));
}
END_TEST

static Suite *
swarm_book_suite(void)
{
	Suite	*s = suite_create("swarm_book");
	TCase	*tc;

	tc = tu_tcase(s, "peers", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, a_peer_has_what_it_told_at_that_version_only);
	tcase_add_test(tc,
	    a_new_list_replaces_the_old_and_none_forgets_the_peer);

	tc = tu_tcase(s, "sources", NULL, NULL, NULL, NULL);
	tcase_add_test(tc,
	    a_peer_both_complete_and_partial_is_a_complete_source);
	tcase_add_test(tc, a_list_holds_at_most_max_sources);
	tcase_add_test(tc, lists_differ_by_a_source_or_its_kind_never_by_order);
	return s;
}

int
main(void)
{
	return tu_run_suite(swarm_book_suite());
}
