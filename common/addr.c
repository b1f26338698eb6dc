/* Parsing and printing of peer addresses; numeric only, never DNS. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

int
addr_parse(const char *s, int default_port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	char		 host[ADDR_STRLEN];
	const char	*port = NULL;
	size_t		 hlen;
	long		 p = default_port;
	char		*end;

	memset(ss, 0, sizeof(*ss));
	if (s == NULL || strlen(s) >= sizeof(host))
		goto bad;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			goto bad;
		hlen = close - s - 1;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			goto bad;
	} else {
		const char *colon = strchr(s, ':');

		hlen = colon ? (size_t)(colon - s) : strlen(s);
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL) {
		if (*port == '\0')
			goto bad;
		errno = 0;
		p = strtol(port, &end, 10);
		if (errno != 0 || *end != '\0' || p < 0 || p > 65535)
			goto bad;
	}
	if (p < 0)
		goto bad;
	{
		struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((unsigned short)p);
			*len = sizeof(*sin);
			return 0;
		}
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((unsigned short)p);
			*len = sizeof(*sin6);
			return 0;
		}
	}
bad:
	errno = EINVAL;
	return -1;
}

int
addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char	 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		return snprintf(buf, size, "%s:%u", host,
		    ntohs(sin->sin_port)) < (int)size ? 0 : -1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		return snprintf(buf, size, "[%s]:%u", host,
		    ntohs(s6->sin6_port)) < (int)size ? 0 : -1;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

int
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

int
addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

int
addr_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

/* Whether the address belongs to this host (loopback or an interface). */
int
addr_is_local(const struct sockaddr *sa)
{
	struct ifaddrs	*ifa, *i;
	int		 found = 0;

	if (sa->sa_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) ==
	    127)
		return 1;
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr))
		return 1;
	if (getifaddrs(&ifa) == -1)
		return 0;
	for (i = ifa; i != NULL && !found; i = i->ifa_next)
		if (i->ifa_addr != NULL && addr_same_host(i->ifa_addr, sa))
			found = 1;
	freeifaddrs(ifa);
	return found;
}

/*
 * The host of an address as text, without its port, an IPv4 address
 * mapped into IPv6 written as IPv4: the key that per-host limits count
 * by, whichever family the listener has.
 */
int
addr_host(const struct sockaddr *sa, char *buf, size_t size)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const void	*raw;
	int		 family = sa->sa_family;

	if (family == AF_INET)
		raw = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		family = AF_INET;
		raw = &s6->sin6_addr.s6_addr[12];
	} else if (family == AF_INET6)
		raw = &s6->sin6_addr;
	else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (inet_ntop(family, raw, buf, size) == NULL)
		return -1;
	return 0;
}

/* The host at the other end of a connected socket ("?" when unknown). */
int
addr_peer_host(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t	 len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    addr_host((struct sockaddr *)&ss, buf, size) == -1) {
		snprintf(buf, size, "?");
		return -1;
	}
	return 0;
}
