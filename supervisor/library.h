/* The local library: what the games folder holds, as SPEC.md defines it. */
#ifndef LANSPREAD_LIBRARY_H
#define LANSPREAD_LIBRARY_H

#include <stddef.h>
#include <stdint.h>

#include "common/layout.h"

struct local_game {
	char	 id[GAME_ID_SIZE];
	char	 version[VERSION_SIZE];	/* version.ini, trimmed, or "" */
	int	 downloaded;	/* version.ini committed */
	int	 installed;	/* local/ exists */
	int	 partial;	/* a download kept for resuming */
	uint64_t size;		/* bytes a download of it transfers */
	uint64_t installed_size;	/* local/'s bytes, when not downloaded */
};

struct library {
	struct local_game	*games;
	size_t			 ngames;
};

int	library_scan(int games_dirfd, struct library *);
void	library_free(struct library *);
const struct local_game *library_find(const struct library *, const char *);
int	library_equal(const struct library *, const struct library *);
const char *local_game_availability(const struct local_game *);
int	read_version_file(int dirfd, const char *name, char *, size_t);

#endif
