/*
 * The files of a game that peers may fetch: every transferable regular
 * file beneath its folder (never local/, staging or our metadata, never
 * through a symbolic link), sorted by path, with what the hash cache
 * keys on.
 */
#ifndef LANSPREAD_GAMEFILES_H
#define LANSPREAD_GAMEFILES_H

#include <stddef.h>

#include "common/msgtypes.h"
#include "common/path.h"

/* Folders within folders: what peers accept of us, and no more. */
#define GAME_MAX_DEPTH	PATH_PEER_MAX_DEPTH

int	game_files(int games_fd, const char *game_id, struct file_stat **,
	    size_t *, char *err, size_t errsz);
void	game_files_free(struct file_stat *, size_t);

#endif
