/*
 * The files of a game that peers may fetch: every transferable regular
 * file beneath its folder (never local/, staging or our metadata, never
 * through a symbolic link), sorted by path, with what the hash cache
 * keys on.
 */
#ifndef LANSPREAD_GAMEFILES_H
#define LANSPREAD_GAMEFILES_H

#include <stddef.h>
#include <stdint.h>

#include "common/msgtypes.h"
#include "common/path.h"

/* Folders within folders: what peers accept of us, and no more. */
#define GAME_MAX_DEPTH	PATH_PEER_MAX_DEPTH

/*
 * Whether a file (or folder) opened or found beneath the games folder may
 * be served: on the games folder's own mount (a bind mount could bring in
 * any folder of the host) and, for a regular file, with one link only (a
 * hard link may be a door to a file we were never given). games_mnt is
 * game_mount_id() of the games folder.
 */
int	game_mount_id(int fd, const char *name, uint64_t *id);
int	game_file_stays_inside(int fd, const char *name, uint64_t games_mnt,
	    char *err, size_t errsz);

int	game_files(int games_fd, const char *game_id, struct file_stat **,
	    size_t *, char *err, size_t errsz);
void	game_files_free(struct file_stat *, size_t);

#endif
