/*
 * The web page's guards of common/web_guard.c on what a browser or an
 * attacker puts in a request's headers: Host, Origin, Cookie and
 * Authorization, one per line of the input, the first two bytes a port.
 * They must never read out of bounds, and keep their promises: an
 * allowed Host names no path, user or space and is its own Origin; a
 * cookie or bearer token found fits and holds no separator; tokens match
 * only when equal.
 */
#include <stdlib.h>
#include <string.h>

#include "common/web_guard.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The next line of the input, as a string of its own (freed by caller). */
static char *
next_line(const uint8_t **data, size_t *size)
{
	const uint8_t	*nl = memchr(*data, '\n', *size);
	size_t		 len = nl != NULL ? (size_t)(nl - *data) : *size;
	char		*s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, *data, len);
	s[len] = '\0';
	*data += len + (nl != NULL);
	*size -= len + (nl != NULL);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*host, *origin, *cookie, *auth, *self;
	char	 out[WEB_TOKEN_MAX + 1];
	int	 port;

	if (size < 2)
		return 0;
	port = data[0] | data[1] << 8;
	data += 2;
	size -= 2;
	host = next_line(&data, &size);
	origin = next_line(&data, &size);
	cookie = next_line(&data, &size);
	auth = next_line(&data, &size);

	if (web_host_allowed(host, port)) {
		if (strpbrk(host, "/@ \t\r?#") != NULL)
			abort();
		if ((self = malloc(strlen(host) + 8)) == NULL)
			abort();
		strcpy(self, "http://");
		strcat(self, host);
		if (!web_origin_allowed(self, host))
			abort();
		free(self);
	}
	(void)web_origin_allowed(origin, host);
	(void)web_origin_allowed(origin, NULL);
	(void)web_addr_is_loopback(host);
	if (web_cookie_value(cookie, WEB_COOKIE, out, sizeof(out)) == 0 &&
	    (out[0] == '\0' || strchr(out, ';') != NULL ||
	    strlen(out) >= sizeof(out)))
		abort();
	if (web_bearer_token(auth, out, sizeof(out)) == 0 &&
	    (out[0] == '\0' || strpbrk(out, " \t") != NULL))
		abort();
	if (web_token_equal(origin, cookie) !=
	    (cookie[0] != '\0' && strcmp(origin, cookie) == 0))
		abort();
	if (web_token_valid(auth) && !web_token_equal(auth, auth))
		abort();
	free(host);
	free(origin);
	free(cookie);
	free(auth);
	return 0;
}
