/* Listing a game's transferable files (see gamefiles.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
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
	uint64_t		 mnt;		/* the games folder's mount */
	char			 reason[PATH_MAX + 128];
};

int
game_mount_id(int fd, const char *name, uint64_t *id)
{
	struct statx	stx;

	if (statx(fd, name, AT_SYMLINK_NOFOLLOW | (name[0] == '\0' ?
	    AT_EMPTY_PATH : 0), STATX_MNT_ID, &stx) == -1)
		return -1;
	/* Kernels before 5.8 cannot tell: every file is on "one" mount. */
	*id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
	return 0;
}

int
game_file_stays_inside(int fd, const char *name, uint64_t games_mnt,
    char *err, size_t errsz)
{
	struct statx	stx;

	if (statx(fd, name, AT_SYMLINK_NOFOLLOW | (name[0] == '\0' ?
	    AT_EMPTY_PATH : 0), STATX_TYPE | STATX_NLINK | STATX_MNT_ID,
	    &stx) == -1)
		return seterr(err, errsz, "%s", strerror(errno));
	if ((stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id != games_mnt)
		return seterr(err, errsz, "on another mount (a bind mount?)");
	if (S_ISREG(stx.stx_mode) && stx.stx_nlink > 1)
		return seterr(err, errsz, "a hard link (%u links)",
		    (unsigned)stx.stx_nlink);
	return 0;
}

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
		char		 rel[PATH_MAX], why[96];
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
		/* Served as a whole or not at all: refused, not skipped. */
		if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
		    game_file_stays_inside(dirfd, de->d_name, w->mnt, why,
		    sizeof(why)) == -1) {
			snprintf(w->reason, sizeof(w->reason), "%s is %s: "
			    "not served", rel, why);
			w->why = w->reason;
			rc = -1;
			break;
		}
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
	struct walk	 w;
	int		 gfd;

	*out = NULL;
	*nout = 0;
	memset(&w, 0, sizeof(w));
	if (game_mount_id(games_fd, "", &w.mnt) == -1)
		return seterr(err, errsz, "cannot read the games folder");
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
