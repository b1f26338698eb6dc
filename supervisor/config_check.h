/* lanspreadd -n: what would stop the daemon at start, found beforehand. */
#ifndef LANSPREAD_CONFIG_CHECK_H
#define LANSPREAD_CONFIG_CHECK_H

#include <stdio.h>

#include "supervisor/config.h"

/* Prints each problem to out; returns how many there were. */
int	config_check(const struct daemon_config *, FILE *out);

#endif
