/* IP:PORT text <-> socket addresses ("1.2.3.4:5", "[::1]:5"). */
#ifndef LANSPREAD_ADDR_H
#define LANSPREAD_ADDR_H

#include <sys/socket.h>

#define ADDR_STRLEN	64
#define LANSPREAD_PORT	7331	/* a listen address without a port */
#define ADDR_HOSTLEN	46	/* a host without its port, as text */

int	addr_parse(const char *, int default_port, struct sockaddr_storage *,
	    socklen_t *);
int	addr_format(const struct sockaddr *, char *, size_t);
int	addr_port(const struct sockaddr *);
int	addr_is_any(const struct sockaddr *);
int	addr_same_host(const struct sockaddr *, const struct sockaddr *);
int	addr_is_local(const struct sockaddr *);
int	addr_host(const struct sockaddr *, char *, size_t);
int	addr_peer_host(int fd, char *, size_t);

#endif
