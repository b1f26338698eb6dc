/*
 * The catalog is read once at start-up, read-only: a LAN party's catalog
 * is a few hundred rows, and a copy in memory keeps lookups off the disk.
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
			    "is in lanspread.conf(5)) or set catalog = in "
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
		    "schema is in lanspread.conf(5))", path, n == 0 ?
		    " (it is empty)" : "", path);
	return 0;
}

int
catalog_load(struct catalog *cat, const char *path, char *err, size_t errsz)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	int		 rc;

	memset(cat, 0, sizeof(*cat));
	if (catalog_file_check(path, err, errsz) == -1)
		return -1;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "catalog %s cannot be opened as an SQLite "
		    "database (%s): rebuild it with sqlite3", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	if (sqlite3_prepare_v2(db, "SELECT id, name, version FROM games",
	    -1, &st, NULL) != SQLITE_OK) {
		rc = sqlite3_errcode(db);
		if (rc == SQLITE_ERROR)
			snprintf(err, errsz, "catalog %s has the wrong schema: "
			    "it needs a table games with the columns id, name "
			    "and version (see lanspread.conf(5))", path);
		else
			snprintf(err, errsz, "catalog %s cannot be read as an "
			    "SQLite database (%s): rebuild it with sqlite3",
			    path, sqlite3_errmsg(db));
		goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct catalog_game g, *ng;

		memset(&g, 0, sizeof(g));
		if (copy_col(st, 0, g.id, sizeof(g.id)) == -1 ||
		    !path_is_valid_game_id(g.id) ||
		    copy_col(st, 2, g.version, sizeof(g.version)) == -1) {
			snprintf(err, errsz, "catalog %s: row %zu has an "
			    "invalid id or version", path, cat->ngames + 1);
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
		    "with sqlite3", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (cat->ngames > 0)
		qsort(cat->games, cat->ngames, sizeof(*cat->games),
		    catalog_cmp);
	return 0;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	catalog_free(cat);
	return -1;
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
