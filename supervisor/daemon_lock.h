/* One lanspreadd per state dir and per control socket. */
#ifndef LANSPREAD_DAEMON_LOCK_H
#define LANSPREAD_DAEMON_LOCK_H

#include <stddef.h>

/* Takes the state dir's lock; returns its fd (kept open), or -1 with err. */
int	daemon_lock(const char *state_dir, char *err, size_t errsz);
/* 0 when no daemon answers on path; -1 with err naming the one that does. */
int	control_socket_check_free(const char *path, char *err, size_t errsz);

#endif
