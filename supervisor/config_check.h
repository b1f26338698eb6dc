/* lanspreadd -n: what would stop the daemon at start, found beforehand. */
#ifndef LANSPREAD_CONFIG_CHECK_H
#define LANSPREAD_CONFIG_CHECK_H

#include <stdio.h>

#include "supervisor/config.h"

/*
 * games_group's gid in *gid, (gid_t)-1 when it is not set. -1 and err
 * when no group has that name, or when the daemon, not run as root, is
 * not a member (its files could not be given the group).
 */
int	config_games_group(const struct daemon_config *, gid_t *gid,
	    char *err, size_t errsz);

/* Prints each problem to out; returns how many there were. */
int	config_check(const struct daemon_config *, FILE *out);

#endif
