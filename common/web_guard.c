/* The web page's access checks (common/web_guard.h). */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/web_guard.h"

int
web_addr_is_loopback(const char *addr)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	if (addr == NULL || addr_parse(addr, WEB_PORT, &ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >>
		    24) == 127;
	return ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

/* "7380" as a port number, or -1: digits only, no sign, no zeros first. */
static int
parse_port(const char *s, size_t len)
{
	long	 v = 0;
	size_t	 i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

int
web_host_allowed(const char *host, int port)
{
	char		 name[64], buf[sizeof(struct in6_addr)];
	const char	*colon, *end;
	size_t		 len;
	int		 given = 80, v6 = 0;

	if (host == NULL || *host == '\0')
		return 0;
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL)
			return 0;
		len = end - host - 1;
		if (len >= sizeof(name))
			return 0;
		memcpy(name, host + 1, len);
		name[len] = '\0';
		v6 = 1;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return 0;
	} else {
		colon = strchr(host, ':');
		len = colon != NULL ? (size_t)(colon - host) : strlen(host);
		if (len >= sizeof(name))
			return 0;
		memcpy(name, host, len);
		name[len] = '\0';
	}
	if (colon != NULL &&
	    (given = parse_port(colon + 1, strlen(colon + 1))) == -1)
		return 0;
	if (given != port)
		return 0;
	if (v6)
		return inet_pton(AF_INET6, name, buf) == 1;
	/* inet_pton takes dotted quads only: no "0x7f.1", no "2130706433". */
	return inet_pton(AF_INET, name, buf) == 1 ||
	    strcasecmp(name, "localhost") == 0;
}

int
web_origin_allowed(const char *origin, const char *host)
{
	static const char scheme[] = "http://";

	if (origin == NULL)
		return 1;
	if (host == NULL || strncasecmp(origin, scheme, sizeof(scheme) - 1)
	    != 0)
		return 0;
	return strcasecmp(origin + sizeof(scheme) - 1, host) == 0;
}

int
web_token_valid(const char *token)
{
	size_t	 i;

	if (token == NULL)
		return 0;
	for (i = 0; token[i] != '\0'; i++) {
		char	 c = token[i];

		if (i >= WEB_TOKEN_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '~' || c == '-'))
			return 0;
	}
	return i >= WEB_TOKEN_MIN;
}

int
web_token_equal(const char *given, const char *token)
{
	size_t		 n, m, i;
	unsigned char	 diff;

	if (given == NULL || token == NULL || *token == '\0')
		return 0;
	n = strlen(token);
	m = strnlen(given, n + 1);
	diff = m != n;
	/* Every byte of token is looked at, whatever given holds. */
	for (i = 0; i < n; i++)
		diff |= (unsigned char)token[i] ^
		    (unsigned char)(i < m ? given[i] : 0);
	return diff == 0;
}

static int
copy_value(const char *v, size_t len, char *out, size_t outsz)
{
	if (len == 0 || len >= outsz)
		return -1;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

int
web_cookie_value(const char *header, const char *name, char *out,
    size_t outsz)
{
	const char	*p = header;
	size_t		 nlen = strlen(name);

	while (p != NULL && *p != '\0') {
		size_t	 vlen;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		vlen = strcspn(p, ";");
		if (vlen > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=')
			return copy_value(p + nlen + 1, vlen - nlen - 1, out,
			    outsz);
		p += vlen;
	}
	return -1;
}

int
web_bearer_token(const char *header, char *out, size_t outsz)
{
	static const char bearer[] = "Bearer ";

	if (header == NULL ||
	    strncasecmp(header, bearer, sizeof(bearer) - 1) != 0)
		return -1;
	header += sizeof(bearer) - 1;
	while (*header == ' ')
		header++;
	return copy_value(header, strcspn(header, " \t"), out, outsz);
}
