/*
 * Scanning the games folder. Each folder named like a game id is a game;
 * it is downloaded when version.ini (the sentinel, written last) is there
 * and installed when local/ exists. Symlinks are never followed.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/partial.h"
#include "common/log.h"
#include "common/path.h"
#include "supervisor/library.h"

#define SIZE_WALK_DEPTH	32

const char *
local_game_availability(const struct local_game *g)
{
	if (g->downloaded)
		return "Ready";
	if (g->installed)
		return "LocalOnly";
	return "NotAvailable";
}

/* Reads a small version file, trimmed; -1 when absent, empty or odd. */
int
read_version_file(int dirfd, const char *name, char *buf, size_t size)
{
	char	 raw[128];
	ssize_t	 n;
	size_t	 start = 0, end, i;
	int	 fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1)
		return -1;
	n = read(fd, raw, sizeof(raw));
	close(fd);
	if (n <= 0 || (size_t)n == sizeof(raw))
		return -1;
	end = (size_t)n;
	while (start < end && isspace((unsigned char)raw[start]))
		start++;
	while (end > start && isspace((unsigned char)raw[end - 1]))
		end--;
	if (end == start || end - start >= size)
		return -1;
	for (i = start; i < end; i++)
		if (!isprint((unsigned char)raw[i]))
			return -1;
	memcpy(buf, raw + start, end - start);
	buf[end - start] = '\0';
	return 0;
}

/* Sums what a download transfers: skips local/, staging and metadata. */
static uint64_t
transfer_size(int dirfd, int depth, int top)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	 total = 0;
	int		 fd;

	if (depth > SIZE_WALK_DEPTH || (fd = dup(dirfd)) == -1)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat	 st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strncasecmp(de->d_name, METADATA_PREFIX,
		    strlen(METADATA_PREFIX)) == 0)
			continue;
		/* Never counted, whatever their case (see path.c). */
		if (top && (strcasecmp(de->d_name, LOCAL_DIR) == 0 ||
		    strcasecmp(de->d_name, INSTALLING_DIR) == 0))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode)) {
			int	 sub = openat(dirfd, de->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub != -1) {
				total += transfer_size(sub, depth + 1, 0);
				close(sub);
			}
		}
	}
	closedir(d);
	return total;
}

static int
game_cmp(const void *a, const void *b)
{
	return strcmp(((const struct local_game *)a)->id,
	    ((const struct local_game *)b)->id);
}

static int
scan_game(int gfd, const char *id, void *arg)
{
	struct library	*lib = arg;
	struct local_game g, *ng;
	struct stat	 st;
	uint64_t	 done;

	memset(&g, 0, sizeof(g));
	snprintf(g.id, sizeof(g.id), "%s", id);
	g.downloaded = read_version_file(gfd, VERSION_FILE, g.version,
	    sizeof(g.version)) == 0;
	g.installed = fstatat(gfd, LOCAL_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
	if (g.downloaded)
		g.size = transfer_size(gfd, 0, 1);
	else
		g.partial = partial_progress(gfd, &done, &g.size) == 0;
	/* Stream-installed: local/ is all there is to measure it by. */
	if (g.installed && !g.downloaded) {
		int	 lfd = openat(gfd, LOCAL_DIR, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);

		if (lfd != -1) {
			g.installed_size = transfer_size(lfd, 0, 0);
			close(lfd);
		}
	}
	if (!g.downloaded && !g.installed && !g.partial)
		return 0;
	if ((ng = reallocarray(lib->games, lib->ngames + 1, sizeof(g))) ==
	    NULL) {
		errno = ENOMEM;
		return -1;
	}
	lib->games = ng;
	lib->games[lib->ngames++] = g;
	return 0;
}

int
library_scan(int games_dirfd, struct library *lib)
{
	memset(lib, 0, sizeof(*lib));
	if (games_each(games_dirfd, scan_game, lib) != 0) {
		library_free(lib);
		return -1;
	}
	if (lib->ngames > 0)
		qsort(lib->games, lib->ngames, sizeof(*lib->games), game_cmp);
	return 0;
}

void
library_free(struct library *lib)
{
	free(lib->games);
	lib->games = NULL;
	lib->ngames = 0;
}

const struct local_game *
library_find(const struct library *lib, const char *id)
{
	struct local_game key;

	if (lib->ngames == 0 || strlen(id) >= sizeof(key.id))
		return NULL;
	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, lib->games, lib->ngames, sizeof(*lib->games),
	    game_cmp);
}

int
library_equal(const struct library *a, const struct library *b)
{
	return a->ngames == b->ngames && (a->ngames == 0 ||
	    memcmp(a->games, b->games, a->ngames * sizeof(*a->games)) == 0);
}
