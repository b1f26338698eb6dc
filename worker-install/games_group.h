/* games_group: installed games' files for the group's members to write. */
#ifndef LANSPREAD_GAMES_GROUP_H
#define LANSPREAD_GAMES_GROUP_H

#include <sys/types.h>

/*
 * fd's file or folder gets group gid and group-write: a folder 2775, a
 * file 664, or 775 when it was executable. One not ours, a hard link, or
 * anything else is left alone. Returns 0, or -1 with errno set.
 */
int	games_group_share_fd(int fd, gid_t gid);

/*
 * The same for name beneath dirfd and, for a folder, everything within
 * it (never through a symbolic link), a folder after its contents.
 * Returns 0, or -1 with errno set.
 */
int	games_group_share_tree(int dirfd, const char *name, gid_t gid);

/*
 * The same for rel beneath dirfd and each folder on its way there
 * ("a/b/c": c, then a/b, then a), never through a symbolic link.
 * Returns 0, or -1 with errno set.
 */
int	games_group_share_path(int dirfd, const char *rel, gid_t gid);

#endif
