/*
 * Check suite for common/web_guard.c: who may use the web page. A Host
 * must be an IP literal or localhost on our port (no DNS rebinding), an
 * Origin must be our own, a token is compared whole, and only a loopback
 * listener goes without one.
 */

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/web_guard.h"
#include "tests/testutil.h"

static Suite	*web_guard_suite(void);

START_TEST(loopback_listen_addresses_need_no_token)
{
	ck_assert_int_eq(web_addr_is_loopback("127.0.0.1:7380"), 1);
	ck_assert_int_eq(web_addr_is_loopback("127.0.0.5"), 1);
	ck_assert_int_eq(web_addr_is_loopback("127.255.0.9:80"), 1);
	ck_assert_int_eq(web_addr_is_loopback("[::1]:7380"), 1);
	ck_assert_int_eq(web_addr_is_loopback("0.0.0.0:7380"), 0);
	ck_assert_int_eq(web_addr_is_loopback("192.168.1.20:7380"), 0);
	ck_assert_int_eq(web_addr_is_loopback("[::]:7380"), 0);
	ck_assert_int_eq(web_addr_is_loopback("128.0.0.1"), 0);
	ck_assert_int_eq(web_addr_is_loopback("localhost:7380"), 0);
	ck_assert_int_eq(web_addr_is_loopback(""), 0);
	ck_assert_int_eq(web_addr_is_loopback(NULL), 0);
}
END_TEST

START_TEST(host_must_be_an_ip_literal_or_localhost_on_our_port)
{
	ck_assert_int_eq(web_host_allowed("127.0.0.1:7380", 7380), 1);
	ck_assert_int_eq(web_host_allowed("192.168.1.20:7380", 7380), 1);
	ck_assert_int_eq(web_host_allowed("localhost:7380", 7380), 1);
	ck_assert_int_eq(web_host_allowed("LocalHost:7380", 7380), 1);
	ck_assert_int_eq(web_host_allowed("[::1]:7380", 7380), 1);
	ck_assert_int_eq(web_host_allowed("10.0.0.1", 80), 1);
	ck_assert_int_eq(web_host_allowed("[fe80::1]", 80), 1);
}
END_TEST

START_TEST(a_dns_name_or_another_port_is_refused_as_host)
{
	/* A rebinding attacker's name, whatever it resolves to. */
	ck_assert_int_eq(web_host_allowed("evil.example:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("127.0.0.1.nip.io:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("localhost.evil.example:7380",
	    7380), 0);
	ck_assert_int_eq(web_host_allowed("127.0.0.1:7381", 7380), 0);
	ck_assert_int_eq(web_host_allowed("127.0.0.1", 7380), 0);
	ck_assert_int_eq(web_host_allowed("127.0.0.1:07380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("127.0.0.1:+7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("127.0.0.1:7380x", 7380), 0);
	ck_assert_int_eq(web_host_allowed("0x7f.1:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("2130706433:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("[::1]x:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("[::1:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("[evil]:7380", 7380), 0);
	ck_assert_int_eq(web_host_allowed("", 7380), 0);
	ck_assert_int_eq(web_host_allowed(NULL, 7380), 0);
}
END_TEST

START_TEST(origin_must_be_absent_or_our_own_page)
{
	ck_assert_int_eq(web_origin_allowed(NULL, "127.0.0.1:7380"), 1);
	ck_assert_int_eq(web_origin_allowed("http://127.0.0.1:7380",
	    "127.0.0.1:7380"), 1);
	ck_assert_int_eq(web_origin_allowed("HTTP://LOCALHOST:7380",
	    "localhost:7380"), 1);
	ck_assert_int_eq(web_origin_allowed("http://evil.example",
	    "127.0.0.1:7380"), 0);
	ck_assert_int_eq(web_origin_allowed("http://127.0.0.1:8080",
	    "127.0.0.1:7380"), 0);
	ck_assert_int_eq(web_origin_allowed("https://127.0.0.1:7380",
	    "127.0.0.1:7380"), 0);
	ck_assert_int_eq(web_origin_allowed("null", "127.0.0.1:7380"), 0);
	ck_assert_int_eq(web_origin_allowed("http://127.0.0.1:7380.evil",
	    "127.0.0.1:7380"), 0);
	ck_assert_int_eq(web_origin_allowed("http://127.0.0.1:7380", NULL),
	    0);
}
END_TEST

START_TEST(token_is_compared_whole)
{
	const char *t = "0123456789abcdefXYZ";

	ck_assert_int_eq(web_token_equal("0123456789abcdefXYZ", t), 1);
	ck_assert_int_eq(web_token_equal("0123456789abcdefXY", t), 0);
	ck_assert_int_eq(web_token_equal("0123456789abcdefXYZZ", t), 0);
	ck_assert_int_eq(web_token_equal("0123456789abcdefXYz", t), 0);
	ck_assert_int_eq(web_token_equal("", t), 0);
	ck_assert_int_eq(web_token_equal(NULL, t), 0);
	/* No token configured is never a match, not even for "". */
	ck_assert_int_eq(web_token_equal("", ""), 0);
	ck_assert_int_eq(web_token_equal("x", NULL), 0);
}
END_TEST

START_TEST(a_configured_token_is_long_and_plain)
{
	char	 long_token[WEB_TOKEN_MAX + 2];

	ck_assert_int_eq(web_token_valid("0123456789abcdef"), 1);
	ck_assert_int_eq(web_token_valid("party-2026_lan.token~x"), 1);
	ck_assert_int_eq(web_token_valid("0123456789abcde"), 0);
	ck_assert_int_eq(web_token_valid("0123456789abcdef;x"), 0);
	ck_assert_int_eq(web_token_valid("0123456789 abcdef"), 0);
	ck_assert_int_eq(web_token_valid(NULL), 0);
	memset(long_token, 'a', sizeof(long_token) - 1);
	long_token[WEB_TOKEN_MAX] = '\0';
	ck_assert_int_eq(web_token_valid(long_token), 1);
	long_token[WEB_TOKEN_MAX] = 'a';
	long_token[WEB_TOKEN_MAX + 1] = '\0';
	ck_assert_int_eq(web_token_valid(long_token), 0);
}
END_TEST

START_TEST(token_is_found_in_its_cookie_or_a_bearer_header)
{
	char	 out[64], small[4];

	ck_assert_int_eq(web_cookie_value("a=1; lanspread_token=abc; b=2",
	    WEB_COOKIE, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(web_cookie_value("lanspread_token=xyz", WEB_COOKIE,
	    out, sizeof(out)), 0);
	ck_assert_str_eq(out, "xyz");
	ck_assert_int_eq(web_cookie_value("xlanspread_token=abc", WEB_COOKIE,
	    out, sizeof(out)), -1);
	ck_assert_int_eq(web_cookie_value("lanspread_token=", WEB_COOKIE,
	    out, sizeof(out)), -1);
	ck_assert_int_eq(web_cookie_value("other=1", WEB_COOKIE, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(web_cookie_value("lanspread_token=abcdef",
	    WEB_COOKIE, small, sizeof(small)), -1);
	ck_assert_int_eq(web_bearer_token("Bearer tok123", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "tok123");
	ck_assert_int_eq(web_bearer_token("bearer  tok", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "tok");
	ck_assert_int_eq(web_bearer_token("Basic dXNlcg==", out,
	    sizeof(out)), -1);
	ck_assert_int_eq(web_bearer_token("Bearer ", out, sizeof(out)), -1);
	ck_assert_int_eq(web_bearer_token(NULL, out, sizeof(out)), -1);
}
END_TEST

static Suite *
web_guard_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("web_guard");
	tc = tu_tcase(s, "listen", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, loopback_listen_addresses_need_no_token);
	tc = tu_tcase(s, "host_origin", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, host_must_be_an_ip_literal_or_localhost_on_our_port);
	tcase_add_test(tc, a_dns_name_or_another_port_is_refused_as_host);
	tcase_add_test(tc, origin_must_be_absent_or_our_own_page);
	tc = tu_tcase(s, "token", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, token_is_compared_whole);
	tcase_add_test(tc, a_configured_token_is_long_and_plain);
	tcase_add_test(tc, token_is_found_in_its_cookie_or_a_bearer_header);
	return s;
}

int
main(void)
{
	return tu_run_suite(web_guard_suite());
}
