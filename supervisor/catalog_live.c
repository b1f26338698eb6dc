/*
 * The catalog in use, and how it changes without a restart.
 *
 * SIGHUP and the reload command read the configuration's live keys and
 * the catalog again. A catalog that does not load leaves the running one
 * in place; one that does is swapped in whole, its changes logged game by
 * game, and the transfer worker told what it may serve from then on.
 *
 * The catalog in use is the signed one of the state dir when it is signed
 * by the key catalog_trust names (an organizer published it), else the
 * configured file. An organizer publishes its configured file, signed
 * with its own key, and keeps using that file: its signed copy is what it
 * shares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The net worker tells peers of the signed catalog we hold, and sends it. */
void
sup_share_catalog(struct sup *sup)
{
	struct net_catalog nc;

	memset(&nc, 0, sizeof(nc));
	if (sup->held.blob != NULL) {
		catalog_key_hex(sup->held.key, nc.key);
		nc.serial = sup->held.serial;
		nc.catalog = sup->held.blob;
		nc.catalog_len = sup->held.len;
	}
	msg_send_net_catalog(sup_link(sup, PROC_NET), &nc);
}

static void
held_clear(struct held_catalog *h)
{
	free(h->blob);
	memset(h, 0, sizeof(*h));
}

/* Ours: we published it, and our configured file is what we use. */
static int
held_is_own(const struct sup *sup)
{
	return sup->held.blob != NULL && sup->have_own_key &&
	    memcmp(sup->held.key, sup->own_key, CATALOG_KEY_SIZE) == 0;
}

/*
 * The state dir's signed catalog, held when it is signed by the key
 * catalog_trust names, or by our own (we published it).
 */
static void
held_load(struct sup *sup)
{
	struct signed_catalog sc;
	const unsigned char *signer = NULL;
	unsigned char	*blob;
	size_t		 len;
	char		 path[PATH_MAX], err[512], hex[CATALOG_KEY_HEX];

	held_clear(&sup->held);
	snprintf(path, sizeof(path), "%s/%s", sup->cfg.state_dir,
	    CATALOG_SIGNED_FILE);
	if (access(path, F_OK) == -1)
		return;
	if (catalog_signed_read(path, &blob, &len, err, sizeof(err)) == -1) {
		log_warnx("%s; not used", err);
		return;
	}
	if (catalog_signed_parse(blob, len, &sc, err, sizeof(err)) == 0) {
		if (sup->live.trusts && memcmp(sc.key, sup->live.trust,
		    CATALOG_KEY_SIZE) == 0)
			signer = sup->live.trust;
		else if (sup->have_own_key && memcmp(sc.key, sup->own_key,
		    CATALOG_KEY_SIZE) == 0)
			signer = sup->own_key;
		else {
			catalog_key_hex(sc.key, hex);
			snprintf(err, sizeof(err), "it is signed by key %s, "
			    "which catalog_trust does not name", hex);
		}
	}
	if (signer == NULL || catalog_verify(blob, len, signer, &sc, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s; not used", path, err);
		free(blob);
		return;
	}
	sup->held.blob = blob;
	sup->held.len = len;
	memcpy(sup->held.key, sc.key, sizeof(sup->held.key));
	sup->held.serial = sc.serial;
}

/* The catalog to use now, with where it comes from. */
static int
catalog_choose(struct sup *sup, struct catalog *out, char *source,
    size_t srcsz, char *err, size_t errsz)
{
	struct signed_catalog sc;
	char		 what[64];

	if (sup->held.blob != NULL && !held_is_own(sup) &&
	    catalog_signed_parse(sup->held.blob, sup->held.len, &sc, err,
	    errsz) == 0) {
		snprintf(what, sizeof(what), "serial %llu",
		    (unsigned long long)sc.serial);
		if (catalog_load_bytes(out, sc.db, sc.dblen, what, err,
		    errsz) == 0) {
			snprintf(source, srcsz, "signed serial %llu",
			    (unsigned long long)sc.serial);
			return 0;
		}
		log_warnx("%s; using %s", err, sup->live.catalog_path);
	}
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

static int
live_trust(struct sup_live *live, const char *hex, char *err, size_t errsz)
{
	live->trusts = hex != NULL && *hex != '\0';
	if (live->trusts && catalog_key_parse(hex, live->trust) == -1)
		return seterr(err, errsz, "catalog_trust must be a public key "
		    "of 64 hex digits (lanspreadctl catalog key prints it)");
	return 0;
}

/* At start: the configuration's values are the live ones. */
int
sup_catalog_init(struct sup *sup, char *err, size_t errsz)
{
	unsigned char	 secret[CATALOG_SECRET_SIZE];
	char		 why[512];

	if (snprintf(sup->live.catalog_path, sizeof(sup->live.catalog_path),
	    "%s", sup->cfg.catalog_path) >= (int)sizeof(sup->live.catalog_path))
		return seterr(err, errsz, "catalog path too long");
	if (live_trust(&sup->live, sup->cfg.catalog_trust, err, errsz) == -1)
		return -1;
	if (catalog_keypair_load(sup->cfg.state_dir, 0, sup->own_key, secret,
	    why, sizeof(why)) == 0)
		sup->have_own_key = 1;
	else if (why[0] != '\0')
		log_warnx("%s", why);
	explicit_bzero(secret, sizeof(secret));
	held_load(sup);
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
	char		 hex[CATALOG_KEY_HEX];

	memset(ch, 0, sizeof(*ch));
	if (sup->cfg.reread != NULL && sup->cfg.reread(sup->cfg.reread_arg,
	    &live, err, errsz) == -1)
		return -1;
	sup->live = live;
	held_load(sup);
	if (catalog_choose(sup, &fresh, source, sizeof(source), err,
	    errsz) == -1) {
		sup->live = was;
		held_load(sup);
		return -1;
	}
	if (strcmp(was.catalog_path, live.catalog_path) != 0)
		log_info("catalog = %s (was %s)", live.catalog_path,
		    was.catalog_path);
	if (was.trusts != live.trusts || memcmp(was.trust, live.trust,
	    CATALOG_KEY_SIZE) != 0) {
		catalog_key_hex(live.trust, hex);
		log_info("catalog_trust = %s", live.trusts ? hex : "(none)");
	}
	catalog_apply(sup, &fresh, source, ch);
	sup_share_catalog(sup);
	catalog_sync_kick(sup);
	sup_reload_limits(sup, &was, &live);
	return 0;
}

/*
 * A signed catalog from a peer: used and shared when the trusted key
 * signed it, its serial is newer than the one held and its database has
 * our schema; stored in the state dir first, so a restart keeps it.
 */
int
sup_catalog_accept(struct sup *sup, const unsigned char *blob, size_t len,
    const char *from, char *err, size_t errsz)
{
	struct signed_catalog sc;
	struct catalog	 fresh;
	struct catalog_changes ch;
	unsigned char	*copy;
	char		 what[128], source[64];

	if (!sup->live.trusts)
		return seterr(err, errsz, "no catalog_trust is set");
	if (catalog_verify(blob, len, sup->live.trust, &sc, err, errsz) == -1)
		return -1;
	if (!catalog_serial_is_newer(sc.serial, sup->held.serial))
		return seterr(err, errsz, "its serial %llu is not newer than "
		    "%llu, the one held", (unsigned long long)sc.serial,
		    (unsigned long long)sup->held.serial);
	snprintf(what, sizeof(what), "serial %llu from peer %s",
	    (unsigned long long)sc.serial, from);
	if (catalog_load_bytes(&fresh, sc.db, sc.dblen, what, err, errsz) ==
	    -1)
		return -1;
	if ((copy = malloc(len)) == NULL) {
		catalog_free(&fresh);
		return seterr(err, errsz, "out of memory");
	}
	if (catalog_signed_store(sup->cfg.state_dir, blob, len, err,
	    errsz) == -1) {
		free(copy);
		catalog_free(&fresh);
		return -1;
	}
	memcpy(copy, blob, len);
	held_clear(&sup->held);
	sup->held.blob = copy;
	sup->held.len = len;
	memcpy(sup->held.key, sc.key, sizeof(sup->held.key));
	sup->held.serial = sc.serial;
	log_notice("took the signed catalog serial %llu from peer %s",
	    (unsigned long long)sc.serial, from);
	if (held_is_own(sup))
		catalog_free(&fresh);
	else {
		snprintf(source, sizeof(source), "signed serial %llu",
		    (unsigned long long)sc.serial);
		catalog_apply(sup, &fresh, source, &ch);
	}
	sup_share_catalog(sup);
	return 0;
}

/* The organizer's public key, the key pair made on first use. */
int
sup_catalog_key(struct sup *sup, char hex[CATALOG_KEY_HEX], char *err,
    size_t errsz)
{
	unsigned char	 secret[CATALOG_SECRET_SIZE];

	if (catalog_keypair_load(sup->cfg.state_dir, 1, sup->own_key, secret,
	    err, errsz) == -1)
		return -1;
	explicit_bzero(secret, sizeof(secret));
	sup->have_own_key = 1;
	catalog_key_hex(sup->own_key, hex);
	return 0;
}

/*
 * lanspreadctl catalog publish: the configured catalog, checked, signed
 * with our key under a new serial, stored, used and shared.
 */
int
sup_catalog_publish(struct sup *sup, uint64_t *serial, char *err,
    size_t errsz)
{
	unsigned char	 secret[CATALOG_SECRET_SIZE], *db = NULL, *blob = NULL;
	struct catalog	 fresh;
	struct catalog_changes ch;
	size_t		 dblen, len;
	uint64_t	 next;

	memset(&fresh, 0, sizeof(fresh));
	if (catalog_keypair_load(sup->cfg.state_dir, 1, sup->own_key, secret,
	    err, errsz) == -1)
		return -1;
	sup->have_own_key = 1;
	if (catalog_file_read(sup->live.catalog_path, CATALOG_DB_MAX, &db,
	    &dblen, err, errsz) == -1 ||
	    catalog_load_bytes(&fresh, db, dblen, sup->live.catalog_path,
	    err, errsz) == -1)
		goto fail;
	if ((next = catalog_next_serial(sup->held.serial,
	    (uint64_t)time(NULL))) == 0) {
		seterr(err, errsz, "no serial is left after %llu",
		    (unsigned long long)sup->held.serial);
		goto fail;
	}
	if (catalog_sign(secret, next, db, dblen, &blob, &len, err,
	    errsz) == -1 ||
	    catalog_signed_store(sup->cfg.state_dir, blob, len, err,
	    errsz) == -1)
		goto fail;
	explicit_bzero(secret, sizeof(secret));
	free(db);
	held_clear(&sup->held);
	sup->held.blob = blob;
	sup->held.len = len;
	memcpy(sup->held.key, sup->own_key, sizeof(sup->held.key));
	sup->held.serial = next;
	log_notice("published the catalog %s as serial %llu",
	    sup->live.catalog_path, (unsigned long long)next);
	catalog_apply(sup, &fresh, sup->live.catalog_path, &ch);
	sup_share_catalog(sup);
	*serial = next;
	return 0;
fail:
	explicit_bzero(secret, sizeof(secret));
	catalog_free(&fresh);
	free(db);
	free(blob);
	return -1;
}

void
sup_catalog_free(struct sup *sup)
{
	held_clear(&sup->held);
	catalog_sync_free(sup);
}
