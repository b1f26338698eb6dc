/*
 * Safe path helpers: validation of untrusted relative paths and opening,
 * creating and removing beneath a directory fd without following symbolic
 * links.
 */

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/log.h"
#include "common/path.h"

static int	component_is_metadata(const char *, size_t);
static int	close_keep_errno(int);

#define SYNC_MAX_DEPTH	64
static int	symlink_to_eloop(int, const char *);
static int	open_nofollow(int, const char *, int, mode_t);
static int	open_walk(int, const char *, int, mode_t);
static int	open_parent(int, const char *, char *, size_t, const char **);
static int	remove_entry(int, const char *);
static int	empty_tree(int);

int
path_is_safe_relative(const char *rel)
{
	const unsigned char	*p;
	size_t			 complen = 0;

	if (rel == NULL || rel[0] == '\0' || rel[0] == '/')
		return 0;
	if (strnlen(rel, PATH_MAX) >= PATH_MAX)
		return 0;

	for (p = (const unsigned char *)rel;; p++) {
		if (*p == '/' || *p == '\0') {
			/* p - complen is where this component starts. */
			if (complen == 0)
				return 0;	/* "a//b" or trailing '/' */
			if (complen == 1 && p[-1] == '.')
				return 0;
			if (complen == 2 && p[-1] == '.' && p[-2] == '.')
				return 0;
			if (*p == '\0')
				return 1;
			complen = 0;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return 0;
		complen++;
	}
}

int
path_is_valid_game_id(const char *id)
{
	size_t	i;
	char	c;

	if (id == NULL || id[0] == '\0' || id[0] == '.' || id[0] == '-')
		return 0;
	for (i = 0; id[i] != '\0'; i++) {
		if (i >= PATH_GAME_ID_MAX)
			return 0;
		c = id[i];
		/* Not isalnum(): the locale must not widen what we accept. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

int
path_check_peer_limits(const char *rel, char *err, size_t errsz)
{
	size_t	 len = strnlen(rel, PATH_MAX), depth = 0, i;

	for (i = 0; i < len; i++)
		depth += rel[i] == '/';
	if (depth > PATH_PEER_MAX_DEPTH)
		return seterr(err, errsz, "a path %zu folders deep (at most "
		    "%d)", depth, PATH_PEER_MAX_DEPTH);
	if (len > PATH_PEER_MAX_LEN)
		return seterr(err, errsz, "a path longer than %d bytes",
		    PATH_PEER_MAX_LEN);
	return 0;
}

static int
component_is_metadata(const char *comp, size_t len)
{
	size_t	plen = sizeof(METADATA_PREFIX) - 1;

	return len >= plen && strncasecmp(comp, METADATA_PREFIX, plen) == 0;
}

int
path_is_transferable(const char *rel)
{
	const char	*p, *slash;
	size_t		 len;

	if (!path_is_safe_relative(rel))
		return 0;

	slash = strchr(rel, '/');
	len = slash != NULL ? (size_t)(slash - rel) : strlen(rel);
	/*
	 * The installed game and its staging are never served, whatever
	 * their case: on a vfat or exFAT games drive LOCAL/ is local/.
	 */
	if ((len == strlen(LOCAL_DIR) && strncasecmp(rel, LOCAL_DIR, len) ==
	    0) || (len == strlen(INSTALLING_DIR) && strncasecmp(rel,
	    INSTALLING_DIR, len) == 0))
		return 0;

	for (p = rel;; p = slash + 1) {
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (component_is_metadata(p, len))
			return 0;
		if (slash == NULL)
			return 1;
	}
}

int
path_join(char *buf, size_t size, const char *a, const char *b)
{
	const char	*sep;
	size_t		 alen;
	int		 n;

	alen = strlen(a);
	sep = (alen == 0 || a[alen - 1] == '/') ? "" : "/";
	n = snprintf(buf, size, "%s%s%s", a, sep, b);
	if (n < 0 || (size_t)n >= size) {
		/* A truncated path could name some other file: leave none. */
		if (size > 0)
			buf[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
close_keep_errno(int fd)
{
	int	saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

/*
 * open(O_NOFOLLOW|O_DIRECTORY) on a symbolic link says ENOTDIR; report
 * ELOOP instead so callers see one error for "a link was in the way".
 */
static int
symlink_to_eloop(int dirfd, const char *name)
{
	struct stat	st;
	int		saved = errno;

	if (saved == ENOTDIR &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	else
		errno = saved;
	return -1;
}

static int
open_nofollow(int dirfd, const char *name, int flags, mode_t mode)
{
	struct stat	st;
	int		fd;

	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1)
		return symlink_to_eloop(dirfd, name);
	/* O_PATH|O_NOFOLLOW hands back the link itself. */
	if (flags & O_PATH) {
		if (fstat(fd, &st) == -1)
			return close_keep_errno(fd);
		if (S_ISLNK(st.st_mode)) {
			close(fd);
			errno = ELOOP;
			return -1;
		}
	}
	return fd;
}

/* The fallback for kernels without openat2: one openat per component. */
static int
open_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	char		 comp[NAME_MAX + 1];
	const char	*p, *slash;
	size_t		 len;
	int		 fd = dirfd, next;

	for (p = rel; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		len = slash - p;
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		next = open_nofollow(fd, comp, O_RDONLY | O_DIRECTORY, 0);
		if (next == -1)
			goto fail;
		if (fd != dirfd)
			close(fd);
		fd = next;
	}
	next = open_nofollow(fd, p, flags, mode);
	if (fd != dirfd)
		close_keep_errno(fd);
	return next;

fail:
	if (fd != dirfd)
		close_keep_errno(fd);
	return -1;
}

int
path_open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how	how;
	long		fd;

	if (!path_is_safe_relative(rel)) {
		errno = EINVAL;
		return -1;
	}

	memset(&how, 0, sizeof(how));
	/*
	 * RESOLVE_NO_SYMLINKS already refuses a trailing link; O_NOFOLLOW
	 * with O_PATH would instead return an fd on the link itself.
	 */
	how.flags = (uint64_t)(unsigned int)((flags & ~O_NOFOLLOW) | O_CLOEXEC);
	/* openat2 rejects a mode it would not use. */
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;

	fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd == -1 && errno == ENOSYS)
		return open_walk(dirfd, rel, flags, mode);
	return (int)fd;
}

int
path_mkdirs_beneath(int dirfd, const char *rel_dir, mode_t mode)
{
	char		 comp[NAME_MAX + 1];
	const char	*p, *slash;
	size_t		 len;
	int		 fd = dirfd, next;

	if (!path_is_safe_relative(rel_dir)) {
		errno = EINVAL;
		return -1;
	}

	for (p = rel_dir; p != NULL; p = slash != NULL ? slash + 1 : NULL) {
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		/* mkdirat never follows: a link here is EEXIST, caught below. */
		if (mkdirat(fd, comp, mode) == -1 && errno != EEXIST)
			goto fail;
		next = open_nofollow(fd, comp, O_RDONLY | O_DIRECTORY, 0);
		if (next == -1)
			goto fail;
		if (fd != dirfd)
			close(fd);
		fd = next;
	}
	if (fd != dirfd)
		close(fd);
	return 0;

fail:
	if (fd != dirfd)
		close_keep_errno(fd);
	return -1;
}

/*
 * Opens the directory holding rel's last component (dirfd itself when rel
 * has one component, returned as is) and points *name at that component.
 */
static int
open_parent(int dirfd, const char *rel, char *buf, size_t size,
    const char **name)
{
	const char	*slash;
	size_t		 len;

	if ((slash = strrchr(rel, '/')) == NULL) {
		*name = rel;
		return dirfd;
	}
	len = slash - rel;
	if (len >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, rel, len);
	buf[len] = '\0';
	*name = slash + 1;
	return path_open_beneath(dirfd, buf, O_RDONLY | O_DIRECTORY, 0);
}

/* Where a walk came from: a folder's identity, kept instead of its fd. */
struct dir_id {
	dev_t	 dev;
	ino_t	 ino;
};

/*
 * Removes one entry of the directory open on dirfd: a file or link, or
 * an empty folder. 1 when it is gone (or was already), 0 when it is a
 * folder with something in it, -1 with errno set on any other failure.
 */
static int
remove_entry(int dirfd, const char *name)
{
	/* unlinkat removes a link itself, never its target. */
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 1;
	if (errno != EISDIR)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 1;
	return errno == ENOTEMPTY || errno == EEXIST ? 0 : -1;
}

/*
 * Removes everything inside the directory open on top (top stays open),
 * however deep it nests, with one directory open at a time: going down
 * opens the child and closes the parent; going up opens ".." and checks
 * it is the folder we came down from (its identity is remembered, which
 * costs memory, not a descriptor), so a folder moved meanwhile stops the
 * walk with ESTALE instead of emptying another. A folder emptied below
 * is removed when its parent is read again.
 */
static int
empty_tree(int top)
{
	struct dir_id	*path = NULL, *np;
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir = NULL;
	size_t		 depth = 0, cap = 0;
	int		 fd, sub, rc, removed, descended, saved;

	if ((fd = fcntl(top, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	for (;;) {
		if ((dir = fdopendir(fd)) == NULL) {
			close_keep_errno(fd);
			goto fail;
		}
		/* readdir may skip entries while we unlink: rescan until clean. */
		descended = 0;
		do {
			removed = 0;
			rewinddir(dir);
			for (;;) {
				errno = 0;
				if ((de = readdir(dir)) == NULL) {
					if (errno != 0)
						goto fail;
					break;
				}
				if (strcmp(de->d_name, ".") == 0 ||
				    strcmp(de->d_name, "..") == 0)
					continue;
				if ((rc = remove_entry(dirfd(dir),
				    de->d_name)) == -1)
					goto fail;
				if (rc == 1) {
					removed = 1;
					continue;
				}
				/* A folder with something in it: go down. */
				if (fstat(dirfd(dir), &st) == -1)
					goto fail;
				sub = open_nofollow(dirfd(dir), de->d_name,
				    O_RDONLY | O_DIRECTORY, 0);
				if (sub == -1) {
					if (errno == ENOENT)
						continue;
					goto fail;
				}
				if (depth == cap) {
					cap = cap ? 2 * cap : 64;
					if ((np = reallocarray(path, cap,
					    sizeof(*path))) == NULL) {
						close_keep_errno(sub);
						goto fail;
					}
					path = np;
				}
				path[depth].dev = st.st_dev;
				path[depth++].ino = st.st_ino;
				closedir(dir);
				dir = NULL;
				fd = sub;
				descended = 1;
				break;
			}
		} while (!descended && removed);
		if (descended)
			continue;
		if (depth == 0)
			break;		/* top is empty */
		/* This folder is empty: back up to the one we came from. */
		fd = openat(dirfd(dir), "..", O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			goto fail;
		depth--;
		if (fstat(fd, &st) == -1) {
			close_keep_errno(fd);
			goto fail;
		}
		if (st.st_dev != path[depth].dev ||
		    st.st_ino != path[depth].ino) {
			close(fd);
			errno = ESTALE;
			goto fail;
		}
		closedir(dir);
		dir = NULL;
	}
	closedir(dir);
	free(path);
	return 0;

fail:
	saved = errno;
	if (dir != NULL)
		closedir(dir);
	free(path);
	errno = saved;
	return -1;
}

int
path_remove_tree_beneath(int dirfd, const char *rel)
{
	char		 parent[PATH_MAX];
	const char	*name;
	int		 pfd, fd, ret = -1;

	if (!path_is_safe_relative(rel)) {
		errno = EINVAL;
		return -1;
	}
	if ((pfd = open_parent(dirfd, rel, parent, sizeof(parent),
	    &name)) == -1)
		return errno == ENOENT ? 0 : -1;

	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT) {
		ret = 0;
		goto done;
	}
	if (errno != EISDIR)
		goto done;
	if ((fd = open_nofollow(pfd, name, O_RDONLY | O_DIRECTORY, 0)) == -1) {
		if (errno == ENOENT)
			ret = 0;
		goto done;
	}
	if (empty_tree(fd) == -1) {
		close_keep_errno(fd);
		goto done;
	}
	close(fd);
	if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		ret = 0;

done:
	if (pfd != dirfd)
		close_keep_errno(pfd);
	return ret;
}

/* fsync of name beneath dirfd and, for a folder, of all within it first. */
static int
sync_tree(int dirfd, const char *name, int depth)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	int		 fd, sub, rc = 0;

	if (depth > SYNC_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1 || fstat(fd, &st) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((sub = dup(fd)) == -1 || (d = fdopendir(sub)) == NULL) {
			close_keep_errno(sub);
			close_keep_errno(fd);
			return -1;
		}
		while (rc == 0 && (de = readdir(d)) != NULL) {
			struct stat est;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0 ||
			    fstatat(fd, de->d_name, &est, AT_SYMLINK_NOFOLLOW) ==
			    -1)
				continue;
			if (S_ISDIR(est.st_mode) || S_ISREG(est.st_mode))
				rc = sync_tree(fd, de->d_name, depth + 1);
		}
		closedir(d);
	}
	if (rc == 0 && fsync(fd) == -1)
		rc = -1;
	close_keep_errno(fd);
	return rc;
}

int
path_sync_tree(int dirfd, const char *rel)
{
	return sync_tree(dirfd, rel, 0);
}
