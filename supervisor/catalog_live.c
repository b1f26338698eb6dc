/*
 * The catalog in use, and how it changes without a restart: SIGHUP and
 * the reload command read the configuration's live keys and the catalog
 * again. A catalog that does not load leaves the running one in place;
 * one that does is swapped in whole, its changes logged game by game,
 * and the transfer worker told what it may serve from then on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

/* The transfer worker serves only what the catalog lists. */
void
sup_send_catalog_ids(struct sup *sup)
{
	struct game_ids	 ids;
	size_t		 i;

	if ((ids.games = calloc(sup->catalog.ngames + 1,
	    sizeof(*ids.games))) == NULL) {
		log_warn("%s", __func__);
		return;
	}
	for (i = 0; i < sup->catalog.ngames; i++)
		snprintf(ids.games[i], sizeof(ids.games[i]), "%s",
		    sup->catalog.games[i].id);
	ids.ngames = sup->catalog.ngames;
	msg_send_xfer_catalog(sup_link(sup, PROC_TRANSFER), &ids);
	free(ids.games);
}

/* The catalog to use now, with where it comes from. */
static int
catalog_choose(struct sup *sup, struct catalog *out, char *source,
    size_t srcsz, char *err, size_t errsz)
{
	if (catalog_load(out, sup->live.catalog_path, err, errsz) == -1)
		return -1;
	snprintf(source, srcsz, "%s", sup->live.catalog_path);
	return 0;
}

/* Swaps fresh in (sup owns it from here) and says what changed. */
static void
catalog_apply(struct sup *sup, struct catalog *fresh, const char *source,
    struct catalog_changes *ch)
{
	catalog_diff(&sup->catalog, fresh, ch);
	catalog_free(&sup->catalog);
	sup->catalog = *fresh;
	memset(fresh, 0, sizeof(*fresh));
	snprintf(sup->catalog_source, sizeof(sup->catalog_source), "%s",
	    source);
	log_notice("catalog %s: %zu games (%zu added, %zu removed, %zu at "
	    "another version)", source, sup->catalog.ngames, ch->added,
	    ch->removed, ch->changed);
	sup_send_catalog_ids(sup);
	if (ch->added + ch->removed + ch->changed > 0)
		control_event("catalog-changed", json_pack("{s:s,s:I,s:I,s:I,"
		    "s:I}", "source", source, "games",
		    (json_int_t)sup->catalog.ngames, "added",
		    (json_int_t)ch->added, "removed", (json_int_t)ch->removed,
		    "changed", (json_int_t)ch->changed));
}

/* At start: the configuration's values are the live ones. */
int
sup_catalog_init(struct sup *sup, char *err, size_t errsz)
{
	if (snprintf(sup->live.catalog_path, sizeof(sup->live.catalog_path),
	    "%s", sup->cfg.catalog_path) >= (int)sizeof(sup->live.catalog_path))
		return seterr(err, errsz, "catalog path too long");
	return catalog_choose(sup, &sup->catalog, sup->catalog_source,
	    sizeof(sup->catalog_source), err, errsz);
}

/*
 * SIGHUP or the reload command. On an error nothing changed: the running
 * configuration and catalog stay.
 */
int
sup_reload(struct sup *sup, struct catalog_changes *ch, char *err,
    size_t errsz)
{
	struct sup_live	 was = sup->live, live = sup->live;
	struct catalog	 fresh;
	char		 source[sizeof(sup->catalog_source)];

	memset(ch, 0, sizeof(*ch));
	if (sup->cfg.reread != NULL && sup->cfg.reread(sup->cfg.reread_arg,
	    &live, err, errsz) == -1)
		return -1;
	sup->live = live;
	if (catalog_choose(sup, &fresh, source, sizeof(source), err,
	    errsz) == -1) {
		sup->live = was;
		return -1;
	}
	if (strcmp(was.catalog_path, live.catalog_path) != 0)
		log_info("catalog = %s (was %s)", live.catalog_path,
		    was.catalog_path);
	catalog_apply(sup, &fresh, source, ch);
	return 0;
}
