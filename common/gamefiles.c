/* Listing a game's transferable files (see gamefiles.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gamefiles.h"
#include "common/log.h"
#include "common/path.h"

struct walk {
	struct file_stat	*files;
	size_t			 n;
	const char		*why;
};

static int
walk_add(struct walk *w, const char *rel, const struct stat *st)
{
	struct file_stat *nf;

	if (w->n == MSG_MAX_FILES) {
		w->why = "too many files in the game";
		return -1;
	}
	if ((nf = reallocarray(w->files, w->n + 1, sizeof(*nf))) == NULL) {
		w->why = "out of memory";
		return -1;
	}
	w->files = nf;
	if ((nf[w->n].path = strdup(rel)) == NULL) {
		w->why = "out of memory";
		return -1;
	}
	nf[w->n].size = (uint64_t)st->st_size;
	nf[w->n].mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ULL +
	    (uint64_t)st->st_mtim.tv_nsec;
	nf[w->n].ino = (uint64_t)st->st_ino;
	w->n++;
	return 0;
}

static int
walk_dir(struct walk *w, int dirfd, const char *prefix, int depth)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, rc = 0;

	if (depth > GAME_MAX_DEPTH) {
		w->why = "game folder nests too deep";
		return -1;
	}
	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		w->why = "cannot read the game folder";
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char		 rel[PATH_MAX];
		struct stat	 st;
		int		 sub;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (prefix[0] == '\0')
			snprintf(rel, sizeof(rel), "%s", de->d_name);
		else if (path_join(rel, sizeof(rel), prefix, de->d_name) == -1)
			continue;
		/* Never local/, staging or our metadata; no odd names. */
		if (!path_is_transferable(rel) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISREG(st.st_mode))
			rc = walk_add(w, rel, &st);
		else if (S_ISDIR(st.st_mode) && (sub = openat(dirfd,
		    de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) != -1) {
			rc = walk_dir(w, sub, rel, depth + 1);
			close(sub);
		}
		/* Symlinks, sockets and devices are never part of a game. */
	}
	closedir(d);
	return rc;
}

static int
stat_cmp(const void *a, const void *b)
{
	return strcmp(((const struct file_stat *)a)->path,
	    ((const struct file_stat *)b)->path);
}

int
game_files(int games_fd, const char *game_id, struct file_stat **out,
    size_t *nout, char *err, size_t errsz)
{
	struct walk	 w = { NULL, 0, NULL };
	int		 gfd;

	*out = NULL;
	*nout = 0;
	gfd = openat(games_fd, game_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (gfd == -1)
		return seterr(err, errsz, "no such game");
	if (walk_dir(&w, gfd, "", 0) == -1) {
		close(gfd);
		game_files_free(w.files, w.n);
		return seterr(err, errsz, "%s", w.why);
	}
	close(gfd);
	if (w.n > 0)
		qsort(w.files, w.n, sizeof(*w.files), stat_cmp);
	*out = w.files;
	*nout = w.n;
	return 0;
}

void
game_files_free(struct file_stat *files, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}
