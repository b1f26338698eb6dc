/*
 * games_group: an installed game is its players'. Every file and folder
 * of local/ gets the group and group-write: folders 2775 (setgid, so
 * what a game writes later inherits the group), files 664, or 775 when
 * extracted executable. Never world-writable. The archives and
 * version.ini beside local/ are not touched.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "worker-install/games_group.h"

#define SHARE_MAX_DEPTH	64

/* The mode a shared file or folder gets. */
static mode_t
shared_mode(const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return 02775;
	return (st->st_mode & 0111) != 0 ? 0775 : 0664;
}

int
games_group_share_fd(int fd, gid_t gid)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return -1;
	/*
	 * What a player made is theirs; a hard link (we make none) or
	 * anything but a file or a folder is left as it is.
	 */
	if (st.st_uid != geteuid() || (!S_ISDIR(st.st_mode) &&
	    (!S_ISREG(st.st_mode) || st.st_nlink != 1)))
		return 0;
	if (st.st_gid != gid && fchown(fd, (uid_t)-1, gid) == -1)
		return -1;
	if ((st.st_mode & 07777) != shared_mode(&st) &&
	    fchmod(fd, shared_mode(&st)) == -1)
		return -1;
	return 0;
}

/*
 * name beneath dirfd and, for a folder, all within it: the contents
 * first, so a folder is group-writable only once it is done.
 */
static int
share_tree(int dirfd, const char *name, gid_t gid, int depth)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd, sub, rc = 0, saved;

	if (depth > SHARE_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return errno == ELOOP ? 0 : -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		if ((sub = dup(fd)) == -1)
			goto fail;
		if ((d = fdopendir(sub)) == NULL) {
			close(sub);
			goto fail;
		}
		while (rc == 0 && (de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				rc = share_tree(fd, de->d_name, gid, depth + 1);
		saved = errno;
		closedir(d);
		errno = saved;
	}
	if (rc == 0)
		rc = games_group_share_fd(fd, gid);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
games_group_share_tree(int dirfd, const char *name, gid_t gid)
{
	return share_tree(dirfd, name, gid, 0);
}

int
games_group_share_path(int dirfd, const char *rel, gid_t gid)
{
	char	 buf[PATH_MAX], *slash;
	int	 fd, rc;

	if (strlen(rel) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, rel, strlen(rel) + 1);
	for (;;) {
		if ((fd = path_open_beneath(dirfd, buf, O_RDONLY |
		    O_NONBLOCK, 0)) == -1)
			return -1;
		rc = games_group_share_fd(fd, gid);
		close(fd);
		if (rc == -1)
			return -1;
		if ((slash = strrchr(buf, '/')) == NULL)
			return 0;
		*slash = '\0';
	}
}
