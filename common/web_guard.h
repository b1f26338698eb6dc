/*
 * Who may use the web page: the checks of worker-web on every request,
 * and of the daemon's configuration, as pure functions (no I/O) so unit
 * tests can pin them down.
 *
 * - A loopback listener needs no login; any other needs web_token.
 * - Host must name us by an IP literal or "localhost", on our port: a
 *   DNS name could be an attacker's, rebound to our address.
 * - Origin, when a browser sends one, must be our own page's.
 */
#ifndef LANSPREAD_WEB_GUARD_H
#define LANSPREAD_WEB_GUARD_H

#include <stddef.h>

#define WEB_PORT		7380	/* web_listen without a port */
#define WEB_DEFAULT_LISTEN	"127.0.0.1:7380"
#define WEB_TOKEN_MIN		16	/* characters of a web_token */
#define WEB_TOKEN_MAX		128
#define WEB_COOKIE		"lanspread_token"

/* 1 when addr (IP[:PORT]) is in 127.0.0.0/8 or is ::1; else 0. */
int	web_addr_is_loopback(const char *addr);

/*
 * 1 when a Host header names us: an IPv4 literal, a bracketed IPv6
 * literal or "localhost" (any case), with port given or, for port 80,
 * without one. Else 0 (NULL included).
 */
int	web_host_allowed(const char *host, int port);

/*
 * 1 when a request's Origin is absent (NULL: not a browser, or a
 * same-origin GET) or is "http://" followed by the request's Host; else
 * 0, "null" and other schemes included.
 */
int	web_origin_allowed(const char *origin, const char *host);

/* 1 when token is WEB_TOKEN_MIN to WEB_TOKEN_MAX of [A-Za-z0-9._~-]. */
int	web_token_valid(const char *token);

/*
 * 1 when given equals token, in a time that depends on token's length
 * only; 0 when it differs or either is NULL or empty.
 */
int	web_token_equal(const char *given, const char *token);

/*
 * The value of cookie name in a Cookie header ("a=1; b=2"), copied to
 * out; 0, or -1 when it is absent or does not fit.
 */
int	web_cookie_value(const char *header, const char *name, char *out,
	    size_t outsz);

/*
 * The token of an "Authorization: Bearer TOKEN" header, copied to out;
 * 0, or -1 when it is not one or does not fit.
 */
int	web_bearer_token(const char *header, char *out, size_t outsz);

#endif
