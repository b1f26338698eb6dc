/*
 * Safe path helpers. Every path that comes from a peer, the control socket,
 * a config file or the games folder goes through these before it touches
 * the filesystem. Symbolic links are never followed under a games folder.
 */

#ifndef LANSPREAD_PATH_H
#define LANSPREAD_PATH_H

#include <sys/types.h>

#include <stddef.h>

/* Longest game id, in bytes. */
#define PATH_GAME_ID_MAX	64

/*
 * 1 if rel is a non-empty relative path shorter than PATH_MAX with no
 * leading or trailing '/', no empty, "." or ".." component, no backslash
 * and no control byte (< 0x20 or 0x7f); else 0.
 */
int	path_is_safe_relative(const char *rel);

/* 1 if id is 1..64 bytes of [A-Za-z0-9._-] not starting with '.' or '-'. */
int	path_is_valid_game_id(const char *id);

/*
 * The deepest and the longest path a peer may name in a game (a file
 * list, a stream entry). As deep as our own scan of a game folder goes
 * (gamefiles.h), and longer than any game needs: a peer cannot make us
 * build a tree of staging folders that nothing can walk back.
 */
#define PATH_PEER_MAX_DEPTH	32	/* folders above a file */
#define PATH_PEER_MAX_LEN	1024	/* bytes */

/*
 * 0 if rel is within PATH_PEER_MAX_DEPTH and PATH_PEER_MAX_LEN; else -1
 * with err saying which limit it passes.
 */
int	path_check_peer_limits(const char *rel, char *err, size_t errsz);

/*
 * 1 if rel, relative to a game folder, may be served or transferred: safe,
 * not under local/ or .local.installing/, and no component starting with
 * ".lanspread" (our metadata).
 */
int	path_is_transferable(const char *rel);

/*
 * Opens rel beneath dirfd (flags as open(2), O_CLOEXEC always added; mode
 * used with O_CREAT or O_TMPFILE). A symbolic link on the way, trailing
 * one included, fails with ELOOP or EXDEV. Uses openat2(2) and falls back
 * to a walk component by component when the kernel (or a seccomp filter)
 * answers ENOSYS. EINVAL when path_is_safe_relative() rejects rel.
 * Returns the new fd, or -1 with errno set.
 */
int	path_open_beneath(int dirfd, const char *rel, int flags, mode_t mode);

/*
 * mkdir -p of rel_dir beneath dirfd without following symbolic links:
 * an existing non-directory fails with ENOTDIR, a symbolic link with ELOOP.
 * Returns 0, or -1 with errno set.
 */
int	path_mkdirs_beneath(int dirfd, const char *rel_dir, mode_t mode);

/*
 * Writes "a/b" into buf (just b when a is empty, no second '/' when a
 * ends with one). Returns 0, or -1 with ENAMETOOLONG and buf emptied when
 * it does not fit.
 */
int	path_join(char *buf, size_t size, const char *a, const char *b);

/*
 * Removes rel, a file or a whole directory tree, beneath dirfd, however
 * deep the tree (one descriptor open at a time, not one per level).
 * Symbolic links are unlinked, never descended into; a symbolic link
 * among the parents of rel fails with ELOOP or EXDEV; a folder moved
 * away during the walk stops it with ESTALE. A missing rel is success.
 * Returns 0, or -1 with errno set.
 */
int	path_remove_tree_beneath(int dirfd, const char *rel);

/*
 * fsync of rel beneath dirfd: a file, or a folder with every file and
 * folder in it (never through a symbolic link), contents before their
 * folder. Returns 0, or -1 with errno set.
 */
int	path_sync_tree(int dirfd, const char *rel);

#endif /* LANSPREAD_PATH_H */
