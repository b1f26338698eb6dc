/*
 * Newer signed catalogs, fetched from the peers. Every linked peer tells
 * which signed catalog it holds (key and serial); one signed by the key
 * catalog_trust names with a serial newer than ours is asked for, from
 * one peer at a time, the newest offer first. What comes back is checked
 * in full (sup_catalog_accept()) before it replaces anything; a peer that
 * sends nothing in time, or a bad catalog, loses its offer and the next
 * one is tried. A catalog of another key is refused without a fetch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define FETCH_TIMEOUT	10.0	/* a peer sends its catalog by then */

struct catalog_offer {
	char		 peer_id[PEER_ID_SIZE];
	char		 key[MSG_CATALOG_KEY_HEX];
	uint64_t	 serial;
};

struct catalog_sync {
	struct sup		*sup;
	struct catalog_offer	*offers;	/* one per peer, its latest */
	size_t			 noffers;
	int			 fetching;
	struct catalog_offer	 fetch;		/* the one asked for */
	ev_timer		 deadline;
	struct catalog_have	 refused;	/* logged already */
};

static void	fetch_timeout(struct ev_loop *, ev_timer *, int);

static struct catalog_sync *
sync_get(struct sup *sup)
{
	struct catalog_sync *cs;

	if (sup->sync != NULL)
		return sup->sync;
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	cs->sup = sup;
	ev_init(&cs->deadline, fetch_timeout);
	cs->deadline.data = cs;
	return sup->sync = cs;
}

static void
offer_remove(struct catalog_sync *cs, const char *peer_id)
{
	size_t	 i;

	for (i = 0; i < cs->noffers; i++)
		if (strcmp(cs->offers[i].peer_id, peer_id) == 0) {
			cs->offers[i] = cs->offers[--cs->noffers];
			return;
		}
}

static void
offer_set(struct catalog_sync *cs, const struct net_peer_catalog_have *have)
{
	struct catalog_offer *o;

	offer_remove(cs, have->peer_id);
	if ((o = reallocarray(cs->offers, cs->noffers + 1, sizeof(*o))) ==
	    NULL)
		return;
	cs->offers = o;
	o = &cs->offers[cs->noffers++];
	memcpy(o->peer_id, have->peer_id, sizeof(o->peer_id));
	memcpy(o->key, have->key, sizeof(o->key));
	o->serial = have->serial;
}

/* The key of an offer is the one we trust. */
static int
offer_trusted(const struct sup *sup, const struct catalog_offer *o)
{
	unsigned char	 key[CATALOG_KEY_SIZE];

	return sup->live.trusts && catalog_key_parse(o->key, key) == 0 &&
	    memcmp(key, sup->live.trust, CATALOG_KEY_SIZE) == 0;
}

/* Our own catalog, shared back to us: nothing to refuse. */
static int
offer_is_own(const struct sup *sup, const struct catalog_offer *o)
{
	unsigned char	 key[CATALOG_KEY_SIZE];

	return sup->have_own_key && catalog_key_parse(o->key, key) == 0 &&
	    memcmp(key, sup->own_key, CATALOG_KEY_SIZE) == 0;
}

/* Asks for the newest trusted offer, unless a fetch is under way. */
static void
sync_next(struct sup *sup)
{
	struct catalog_sync *cs = sup->sync;
	struct net_catalog_fetch want;
	size_t		 i, best = (size_t)-1;

	if (cs == NULL || cs->fetching)
		return;
	for (i = 0; i < cs->noffers; i++) {
		const struct catalog_offer *o = &cs->offers[i];

		if (!offer_trusted(sup, o) ||
		    !catalog_serial_is_newer(o->serial, sup->held.serial))
			continue;
		if (best == (size_t)-1 || o->serial > cs->offers[best].serial)
			best = i;
	}
	if (best == (size_t)-1)
		return;
	cs->fetch = cs->offers[best];
	memcpy(want.peer_id, cs->fetch.peer_id, sizeof(want.peer_id));
	want.serial = cs->fetch.serial;
	if (msg_send_net_catalog_fetch(sup_link(sup, PROC_NET), &want) == -1)
		return;
	log_info("asking peer %s for the signed catalog serial %llu",
	    want.peer_id, (unsigned long long)want.serial);
	cs->fetching = 1;
	ev_timer_set(&cs->deadline, FETCH_TIMEOUT, 0);
	ev_timer_start(sup->loop, &cs->deadline);
}

static void
fetch_end(struct catalog_sync *cs)
{
	ev_timer_stop(cs->sup->loop, &cs->deadline);
	cs->fetching = 0;
	offer_remove(cs, cs->fetch.peer_id);
}

static void
fetch_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct catalog_sync *cs = w->data;

	(void)loop;
	(void)revents;
	log_warnx("peer %s did not send its signed catalog within %.0f s",
	    cs->fetch.peer_id, FETCH_TIMEOUT);
	fetch_end(cs);
	sync_next(cs->sup);
}

/* A peer says which signed catalog it holds. */
void
catalog_sync_offer(struct sup *sup, const struct net_peer_catalog_have *have)
{
	struct catalog_sync *cs;
	struct catalog_offer o;
	int		 logged;

	if ((cs = sync_get(sup)) == NULL)
		return;
	memcpy(o.key, have->key, sizeof(o.key));
	logged = strcmp(cs->refused.key, have->key) == 0 &&
	    cs->refused.serial == have->serial;
	if (!offer_trusted(sup, &o) && !offer_is_own(sup, &o)) {
		/* Each peer announces it: one line is enough. */
		if (!logged && !sup->live.trusts)
			log_info("peer %s offers a signed catalog (serial %llu, "
			    "key %s); no catalog_trust is set: ignored",
			    have->peer_id, (unsigned long long)have->serial,
			    have->key);
		else if (!logged)
			log_warnx("peer %s offers a catalog (serial %llu) "
			    "signed by key %s, which catalog_trust does not "
			    "name: refused", have->peer_id,
			    (unsigned long long)have->serial, have->key);
		memcpy(cs->refused.key, have->key, sizeof(cs->refused.key));
		cs->refused.serial = have->serial;
	}
	/* Kept whatever its key: a reload may trust it later. */
	offer_set(cs, have);
	sync_next(sup);
}

/* The answer to our fetch, as the net worker relayed its bytes. */
void
catalog_sync_received(struct sup *sup, struct net_peer_catalog *got)
{
	struct catalog_sync *cs = sup->sync;
	char		 err[512];

	if (cs == NULL || !cs->fetching ||
	    strcmp(cs->fetch.peer_id, got->peer_id) != 0) {
		log_debug("a signed catalog from peer %s, not asked for",
		    got->peer_id);
		return;
	}
	fetch_end(cs);
	if (got->catalog_len == 0)
		log_info("peer %s had no signed catalog to send after all",
		    got->peer_id);
	else if (sup_catalog_accept(sup, got->catalog, got->catalog_len,
	    got->peer_id, err, sizeof(err)) == -1)
		log_warnx("refused the catalog from peer %s: %s; keeping %s",
		    got->peer_id, err, sup->catalog_source);
	sync_next(sup);
}

void
catalog_sync_peer_down(struct sup *sup, const char *peer_id)
{
	struct catalog_sync *cs = sup->sync;

	if (cs == NULL)
		return;
	if (cs->fetching && strcmp(cs->fetch.peer_id, peer_id) == 0)
		fetch_end(cs);
	offer_remove(cs, peer_id);
	sync_next(sup);
}

/* The trust or the held catalog changed: is an offer worth a fetch now? */
void
catalog_sync_kick(struct sup *sup)
{
	sync_next(sup);
}

/* The net worker died with every link: no offer stands. */
void
catalog_sync_reset(struct sup *sup)
{
	struct catalog_sync *cs = sup->sync;

	if (cs == NULL)
		return;
	if (cs->fetching)
		fetch_end(cs);
	cs->noffers = 0;
}

void
catalog_sync_free(struct sup *sup)
{
	struct catalog_sync *cs = sup->sync;

	if (cs == NULL)
		return;
	if (sup->loop != NULL)
		ev_timer_stop(sup->loop, &cs->deadline);
	free(cs->offers);
	free(cs);
	sup->sync = NULL;
}
