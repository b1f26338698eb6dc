/* The transfer tickets of linked peers (see tickets.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "supervisor/tickets.h"

static struct peer_ticket *
find(const struct tickets *t, const char *peer_id)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->list[i].peer_id, peer_id) == 0)
			return &t->list[i];
	return NULL;
}

int
tickets_set(struct tickets *t, const char *peer_id, const char *ticket)
{
	struct peer_ticket *pt = find(t, peer_id), *grown;

	if (pt == NULL) {
		if (t->n == t->cap) {
			size_t	 cap = t->cap ? 2 * t->cap : 16;

			if ((grown = reallocarray(t->list, cap,
			    sizeof(*grown))) == NULL)
				return -1;
			t->list = grown;
			t->cap = cap;
		}
		pt = &t->list[t->n++];
		memset(pt, 0, sizeof(*pt));
		strncpy(pt->peer_id, peer_id, sizeof(pt->peer_id) - 1);
	}
	strncpy(pt->ticket, ticket, sizeof(pt->ticket) - 1);
	pt->ticket[sizeof(pt->ticket) - 1] = '\0';
	return 0;
}

void
tickets_drop(struct tickets *t, const char *peer_id)
{
	struct peer_ticket *pt = find(t, peer_id);

	if (pt == NULL)
		return;
	sodium_memzero(pt, sizeof(*pt));
	*pt = t->list[--t->n];
}

/* The ticket peer_id gave us, or "" when it is not linked. */
const char *
tickets_find(const struct tickets *t, const char *peer_id)
{
	const struct peer_ticket *pt = find(t, peer_id);

	return pt != NULL ? pt->ticket : "";
}

void
tickets_free(struct tickets *t)
{
	if (t->list != NULL)
		sodium_memzero(t->list, t->cap * sizeof(*t->list));
	free(t->list);
	memset(t, 0, sizeof(*t));
}
