/*
 * A library snapshot as peers advertise it: one entry per game. The typed
 * messages check each field's type and size; gamelist_check() checks the
 * rest, since a list may come from any host on the LAN.
 */
#ifndef LANSPREAD_GAMELIST_H
#define LANSPREAD_GAMELIST_H

#include <stddef.h>
#include <stdint.h>

#include "common/layout.h"

#define GAMELIST_MAX	4096

struct game_entry {
	char	 id[GAME_ID_SIZE];
	char	 version[VERSION_SIZE];
	char	 availability[16];	/* "Ready" or "LocalOnly" */
	int	 downloaded;
	int	 installed;
	uint64_t size;
};

int	gamelist_check(const struct game_entry *, size_t, char *err,
	    size_t errsz);
int	gamelist_check_downloads(const struct game_entry *, size_t,
	    char *err, size_t errsz);
size_t	gamelist_prefer(struct game_entry *, size_t,
	    int (*first)(const struct game_entry *, void *), void *);

#endif
