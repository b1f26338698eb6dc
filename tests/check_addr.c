/*
 * Check suite for common/addr.c: peer addresses as text, and the host key
 * per-host limits count by.
 */

#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "tests/testutil.h"

static Suite	*addr_suite(void);

static const char *
host_of(const char *text, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t	 len;

	ck_assert_int_eq(addr_parse(text, 1, &ss, &len), 0);
	ck_assert_int_eq(addr_host((struct sockaddr *)&ss, buf, size), 0);
	return buf;
}

START_TEST(host_drops_the_port)
{
	char	 buf[ADDR_HOSTLEN];

	ck_assert_str_eq(host_of("192.0.2.7:4000", buf, sizeof(buf)),
	    "192.0.2.7");
	ck_assert_str_eq(host_of("[2001:db8::5]:4000", buf, sizeof(buf)),
	    "2001:db8::5");
}
END_TEST

/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: one host. */
START_TEST(ipv4_mapped_into_ipv6_is_the_ipv4_host)
{
	char	 a[ADDR_HOSTLEN], b[ADDR_HOSTLEN];

	ck_assert_str_eq(host_of("[::ffff:192.0.2.7]:1", a, sizeof(a)),
	    host_of("192.0.2.7:2", b, sizeof(b)));
}
END_TEST

START_TEST(the_longest_ipv6_host_fits)
{
	char	 buf[ADDR_HOSTLEN];

	ck_assert_str_eq(host_of("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:1",
	    buf, sizeof(buf)), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
}
END_TEST

START_TEST(a_socket_without_an_ip_peer_has_no_host)
{
	char	 buf[ADDR_HOSTLEN];
	int	 sv[2];

	tu_socketpair(sv);
	ck_assert_int_eq(addr_peer_host(sv[0], buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "?");
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite	*s = suite_create("addr");
	TCase	*tc;

	tc = tu_tcase(s, "host", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, host_drops_the_port);
	tcase_add_test(tc, ipv4_mapped_into_ipv6_is_the_ipv4_host);
	tcase_add_test(tc, the_longest_ipv6_host_fits);
	tcase_add_test(tc, a_socket_without_an_ip_peer_has_no_host);
	return s;
}

int
main(void)
{
	return tu_run_suite(addr_suite());
}
