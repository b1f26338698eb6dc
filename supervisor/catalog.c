/*
 * The catalog is read at start-up and again on a reload, read-only: a LAN
 * party's catalog is a few hundred rows, and a copy in memory keeps
 * lookups off the disk. A reload builds a new copy and swaps it in whole.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/path.h"
#include "supervisor/catalog.h"

static int
catalog_cmp(const void *a, const void *b)
{
	return strcmp(((const struct catalog_game *)a)->id,
	    ((const struct catalog_game *)b)->id);
}

static int
copy_col(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	int	 n = sqlite3_column_bytes(st, col);

	if (s == NULL || n <= 0 || (size_t)n >= size ||
	    memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

/*
 * What is wrong with the file before SQLite sees it, in the organizer's
 * words and with the fix: SQLite's own ("unable to open database file",
 * "disk I/O error") say neither. Returns 0 when it looks like a catalog.
 */
static int
catalog_file_check(const char *path, char *err, size_t errsz)
{
	static const char magic[16] = "SQLite format 3";
	char		 head[sizeof(magic)];
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return seterr(err, errsz, "catalog %s does not exist: "
			    "create it (sqlite3 %s < catalog.sql, the schema "
			    "is in lanspread-catalog(5)) or set catalog = in "
			    "lanspread.conf", path, path);
		if (errno == EACCES)
			return seterr(err, errsz, "catalog %s cannot be read "
			    "by uid %d: make it readable by the daemon's user "
			    "(chmod 644 %s)", path, (int)geteuid(), path);
		return seterr(err, errsz, "catalog %s cannot be opened: %s",
		    path, strerror(errno));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return seterr(err, errsz, "catalog %s is not a file: set "
		    "catalog = to the SQLite catalog file", path);
	}
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n == -1)
		return seterr(err, errsz, "catalog %s cannot be read: %s",
		    path, strerror(errno));
	if (n != (ssize_t)sizeof(head) || memcmp(head, magic,
	    sizeof(magic)) != 0)
		return seterr(err, errsz, "catalog %s is not an SQLite "
		    "database%s: build it with sqlite3 %s < catalog.sql (the "
		    "schema is in lanspread-catalog(5))", path, n == 0 ?
		    " (it is empty)" : "", path);
	return 0;
}

/* The games table of an open database, into cat; what names it in errors. */
static int
catalog_read(struct catalog *cat, sqlite3 *db, const char *what, char *err,
    size_t errsz)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT id, name, version FROM games",
	    -1, &st, NULL) != SQLITE_OK) {
		rc = sqlite3_errcode(db);
		if (rc == SQLITE_ERROR)
			snprintf(err, errsz, "catalog %s has the wrong schema: "
			    "it needs a table games with the columns id, name "
			    "and version (see lanspread-catalog(5))", what);
		else
			snprintf(err, errsz, "catalog %s cannot be read as an "
			    "SQLite database (%s): rebuild it with sqlite3",
			    what, sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct catalog_game g, *ng;

		memset(&g, 0, sizeof(g));
		if (copy_col(st, 0, g.id, sizeof(g.id)) == -1 ||
		    !path_is_valid_game_id(g.id) ||
		    copy_col(st, 2, g.version, sizeof(g.version)) == -1) {
			snprintf(err, errsz, "catalog %s: row %zu has an "
			    "invalid id or version", what, cat->ngames + 1);
			goto fail;
		}
		if (copy_col(st, 1, g.name, sizeof(g.name)) == -1)
			snprintf(g.name, sizeof(g.name), "%s", g.id);
		ng = reallocarray(cat->games, cat->ngames + 1, sizeof(g));
		if (ng == NULL) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
		cat->games = ng;
		cat->games[cat->ngames++] = g;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errsz, "catalog %s is damaged (%s): rebuild it "
		    "with sqlite3", what, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	if (cat->ngames > 0)
		qsort(cat->games, cat->ngames, sizeof(*cat->games),
		    catalog_cmp);
	/* bsearch() finds one of two equal ids: a catalog has none. */
	for (size_t i = 1; i < cat->ngames; i++)
		if (strcmp(cat->games[i - 1].id, cat->games[i].id) == 0) {
			snprintf(err, errsz, "catalog %s lists game %s twice",
			    what, cat->games[i].id);
			return -1;
		}
	return 0;
fail:
	sqlite3_finalize(st);
	return -1;
}

int
catalog_load(struct catalog *cat, const char *path, char *err, size_t errsz)
{
	sqlite3		*db = NULL;
	int		 rc;

	memset(cat, 0, sizeof(*cat));
	if (catalog_file_check(path, err, errsz) == -1)
		return -1;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "catalog %s cannot be opened as an SQLite "
		    "database (%s): rebuild it with sqlite3", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	rc = catalog_read(cat, db, path, err, errsz);
	sqlite3_close(db);
	if (rc == -1)
		catalog_free(cat);
	return rc;
}

/*
 * A catalog received as bytes (a signed catalog's database): read from a
 * private in-memory copy, so that no file of it is ever opened.
 */
int
catalog_load_bytes(struct catalog *cat, const void *bytes, size_t len,
    const char *what, char *err, size_t errsz)
{
	static const char magic[16] = "SQLite format 3";
	sqlite3		*db = NULL;
	unsigned char	*copy;
	int		 rc;

	memset(cat, 0, sizeof(*cat));
	if (len < 512 || memcmp(bytes, magic, sizeof(magic)) != 0)
		return seterr(err, errsz, "catalog %s is not an SQLite "
		    "database", what);
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || (copy = sqlite3_malloc64(len)) == NULL) {
		sqlite3_close(db);
		return seterr(err, errsz, "out of memory");
	}
	memcpy(copy, bytes, len);
	/* SQLite owns copy from here, whatever it answers. */
	if (sqlite3_deserialize(db, "main", copy, len, len,
	    SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "catalog %s cannot be read as an SQLite "
		    "database (%s)", what, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	rc = catalog_read(cat, db, what, err, errsz);
	sqlite3_close(db);
	if (rc == -1)
		catalog_free(cat);
	return rc;
}

void
catalog_free(struct catalog *cat)
{
	free(cat->games);
	cat->games = NULL;
	cat->ngames = 0;
}

const struct catalog_game *
catalog_find(const struct catalog *cat, const char *id)
{
	struct catalog_game key;

	if (cat->ngames == 0 || strlen(id) >= sizeof(key.id))
		return NULL;
	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, cat->games, cat->ngames, sizeof(*cat->games),
	    catalog_cmp);
}

/*
 * Logs what a reload changes, game by game, and counts it. Both catalogs
 * are sorted by id, so one merge walk finds every difference.
 */
void
catalog_diff(const struct catalog *old, const struct catalog *cur,
    struct catalog_changes *ch)
{
	size_t	 i = 0, j = 0;

	memset(ch, 0, sizeof(*ch));
	while (i < old->ngames || j < cur->ngames) {
		int	 cmp = i == old->ngames ? 1 : j == cur->ngames ? -1 :
		    strcmp(old->games[i].id, cur->games[j].id);

		if (cmp < 0) {
			log_info("catalog: %s removed", old->games[i].id);
			ch->removed++;
			i++;
		} else if (cmp > 0) {
			log_info("catalog: %s %s added", cur->games[j].id,
			    cur->games[j].version);
			ch->added++;
			j++;
		} else {
			if (strcmp(old->games[i].version,
			    cur->games[j].version) != 0) {
				log_info("catalog: %s now at version %s (was "
				    "%s)", cur->games[j].id,
				    cur->games[j].version,
				    old->games[i].version);
				ch->changed++;
			}
			i++;
			j++;
		}
	}
}
