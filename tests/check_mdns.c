/*
 * Check suite for worker-net/mdns_packet.c: what an mDNS datagram from
 * the LAN must look like before libmdnsd may parse it, how our TXT record
 * is read, and which instance names are ours. Datagrams are built byte by
 * byte here, not with the code under test.
 */

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "tests/testutil.h"
#include "worker-net/mdns_packet.h"
#include "worker-net/net.h"

#define T_A		1
#define T_PTR		12
#define T_TXT		16
#define T_AAAA		28
#define T_SRV		33
#define T_ODD		99	/* a type whose data nobody looks into */

#define GOOD_ID		"0123456789abcdef0123456789abcdef"

static Suite	*mdns_suite(void);

/* A datagram being built; room for one byte past the largest we read. */
struct pkt {
	unsigned char	 b[MDNS_PKT_MAX + 64];
	size_t		 len;
};

static struct pkt	 pk;

static void
pkt_setup(void)
{
	memset(&pk, 0, sizeof(pk));
}

static void
put8(unsigned v)
{
	ck_assert_uint_lt(pk.len, sizeof(pk.b));
	pk.b[pk.len++] = (unsigned char)v;
}

static void
put16(unsigned v)
{
	put8(v >> 8);
	put8(v & 0xff);
}

static void
put_bytes(const void *p, size_t n)
{
	ck_assert_uint_le(pk.len + n, sizeof(pk.b));
	memcpy(pk.b + pk.len, p, n);
	pk.len += n;
}

/* A response header (QR, AA) with the section counts. */
static void
put_header(unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	put16(0);
	put16(0x8400);
	put16(qd);
	put16(an);
	put16(ns);
	put16(ar);
}

/* "a.b.c" as labels and the root; "" is the root alone. */
static void
put_name(const char *dotted)
{
	const char	*dot;
	size_t		 n;

	while (*dotted != '\0') {
		dot = strchr(dotted, '.');
		n = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);
		put8((unsigned)n);
		put_bytes(dotted, n);
		dotted += n + (dot != NULL);
	}
	put8(0);
}

static void
put_pointer(size_t off)
{
	put8(0xc0 | (unsigned)(off >> 8));
	put8(off & 0xff);
}

/* The fixed part after a record's name: type, class IN, TTL, rdlength. */
static void
put_rr(unsigned type, unsigned rdlen)
{
	put16(type);
	put16(1);
	put16(0);
	put16(120);
	put16(rdlen);
}

static void
put_question(unsigned type)
{
	put16(type);
	put16(1);
}

/* Patches a 16-bit field at off (a count or an rdlength). */
static void
set16(size_t off, unsigned v)
{
	pk.b[off] = (unsigned char)(v >> 8);
	pk.b[off + 1] = v & 0xff;
}

/*
 * Whether the datagram passes, checked in a copy of exactly its length so
 * that a read past the end is caught by the sanitizers (make asan).
 */
static int
ok(void)
{
	unsigned char	*copy;
	int		 rc;

	ck_assert_ptr_nonnull(copy = malloc(pk.len > 0 ? pk.len : 1));
	memcpy(copy, pk.b, pk.len);
	rc = dns_packet_ok(copy, pk.len);
	free(copy);
	return rc;
}

/*
 * An announcement as peers send it: PTR, then the instance's SRV, TXT and
 * the host's A, names compressed back to the first service name.
 */
static void
put_announcement(void)
{
	size_t	 svc, inst, host, rdlen_at, start;
	char	 txt[64];

	put_header(0, 4, 0, 0);
	svc = pk.len;
	put_name("_lanspread._tcp.local");
	put_rr(T_PTR, 0);
	rdlen_at = pk.len - 2;
	start = pk.len;
	inst = pk.len;
	put8(4);
	put_bytes("peer", 4);
	put_pointer(svc);
	set16(rdlen_at, (unsigned)(pk.len - start));

	put_pointer(inst);
	put_rr(T_SRV, 0);
	rdlen_at = pk.len - 2;
	start = pk.len;
	put16(0);
	put16(0);
	put16(7000);
	host = pk.len;
	put_name("host.local");
	set16(rdlen_at, (unsigned)(pk.len - start));

	put_pointer(inst);
	snprintf(txt, sizeof(txt), "id=%s", GOOD_ID);
	put_rr(T_TXT, (unsigned)(1 + strlen(txt)));
	put8((unsigned)strlen(txt));
	put_bytes(txt, strlen(txt));

	put_pointer(host);
	put_rr(T_A, 4);
	put_bytes("\x0a\x00\x00\x01", 4);
}

/* A record of a type nobody checks holding raw bytes, then its end. */
static size_t
put_odd_record(const void *data, size_t n)
{
	put_name("");
	put_rr(T_ODD, (unsigned)n);
	put_bytes(data, n);
	return pk.len - n;
}

/* Well-formed datagrams. */

START_TEST(browse_question_for_our_service_is_accepted)
{
	put_header(1, 0, 0, 0);
	put_name("_lanspread._tcp.local");
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(announcement_with_compressed_names_is_accepted)
{
	put_announcement();
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(aaaa_record_of_sixteen_bytes_is_accepted)
{
	put_header(0, 1, 0, 0);
	put_name("host.local");
	put_rr(T_AAAA, 16);
	put_bytes("0123456789abcdef", 16);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(bare_header_without_records_is_accepted)
{
	put_header(0, 0, 0, 0);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(data_of_other_record_types_is_not_looked_into)
{
	put_header(0, 1, 0, 0);
	put_odd_record("\xc0\xff\x00\x40garbage", 11);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(forty_eight_records_are_accepted)
{
	int	 i;

	put_header(12, 12, 12, 12);
	for (i = 0; i < 12; i++) {
		put_name("");
		put_question(T_PTR);
	}
	for (i = 0; i < 36; i++)
		put_odd_record("", 0);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(datagram_of_4096_bytes_is_accepted)
{
	put_header(0, 1, 0, 0);
	put_name("");
	put_rr(T_ODD, (unsigned)(MDNS_PKT_MAX - pk.len - 10));
	pk.len = MDNS_PKT_MAX;
	ck_assert_int_eq(ok(), 1);
}
END_TEST

/* Empty and truncated datagrams. */

START_TEST(empty_datagram_is_refused)
{
	ck_assert_int_eq(dns_packet_ok(pk.b, 0), 0);
}
END_TEST

START_TEST(datagram_shorter_than_a_header_is_refused)
{
	put_header(0, 0, 0, 0);
	ck_assert_int_eq(dns_packet_ok(pk.b, 11), 0);
}
END_TEST

START_TEST(every_truncation_of_an_announcement_is_refused)
{
	size_t	 full, n;

	put_announcement();
	full = pk.len;
	for (n = 0; n < full; n++)
		ck_assert_msg(dns_packet_ok(pk.b, n) == 0,
		    "cut to %zu of %zu bytes was accepted", n, full);
}
END_TEST

START_TEST(question_without_type_and_class_is_refused)
{
	put_header(1, 0, 0, 0);
	put_name("_lanspread._tcp.local");
	put16(T_PTR);		/* the class is missing */
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(counts_claiming_more_records_than_sent_are_refused)
{
	put_header(1, 1, 0, 0);
	put_name("_lanspread._tcp.local");
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
	set16(6, 0);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(record_data_running_past_the_end_is_refused)
{
	put_header(0, 1, 0, 0);
	put_name("");
	put_rr(T_ODD, 5);
	put_bytes("abcd", 4);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

/* Compression pointers. */

START_TEST(pointer_back_to_an_earlier_name_is_accepted)
{
	put_header(2, 0, 0, 0);
	put_name("_lanspread._tcp.local");
	put_question(T_PTR);
	put8(1);
	put8('x');
	put_pointer(12);
	put_question(T_TXT);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(pointer_to_itself_is_refused)
{
	put_header(1, 0, 0, 0);
	put_pointer(12);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(pointers_pointing_at_each_other_are_refused)
{
	unsigned char	 loop[4] = { 0 };
	size_t		 at;

	/* In the first record's data: X -> X + 2 -> X. */
	put_header(0, 2, 0, 0);
	at = put_odd_record(loop, sizeof(loop));
	set16(at, 0xc000 | (unsigned)(at + 2));
	set16(at + 2, 0xc000 | (unsigned)at);
	put_pointer(at + 2);
	put_rr(T_ODD, 0);
	ck_assert_int_eq(ok(), 0);
	/* Entering at X is refused as well. */
	set16(pk.len - 12, 0xc000 | (unsigned)at);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(forward_pointer_is_refused)
{
	put_header(2, 0, 0, 0);
	put_pointer(12 + 2 + 4);	/* the next question's name */
	put_question(T_PTR);
	put_name("local");
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(pointer_into_the_header_is_refused)
{
	put_header(1, 0, 0, 0);
	put_pointer(4);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(pointer_cut_after_its_first_byte_is_refused)
{
	put_header(0, 0, 0, 1);
	put8(0xc0);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

/*
 * A chain of backward pointers in a record's data, each to the one before,
 * the first to the root; another record's name enters at the last. hops
 * counts the pointers followed, the entering one included.
 */
static void
put_chain(int hops)
{
	unsigned char	 raw[2 * 64 + 1] = { 0 };
	size_t		 at, n = 2 * (size_t)(hops - 1) + 1;
	int		 k;

	put_header(0, 2, 0, 0);
	at = put_odd_record(raw, n);
	/* raw[0] is the root; pointer k sits at 1 + 2k. */
	for (k = 0; k < hops - 1; k++)
		set16(at + 1 + 2 * (size_t)k, 0xc000 | (unsigned)(k == 0 ?
		    at : at + 1 + 2 * ((size_t)k - 1)));
	put_pointer(hops == 1 ? at : at + 1 + 2 * ((size_t)hops - 2));
	put_rr(T_ODD, 0);
}

START_TEST(chain_of_thirty_two_pointers_is_accepted)
{
	put_chain(32);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(chain_of_thirty_three_pointers_is_refused)
{
	put_chain(33);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(name_in_ptr_data_may_point_back_outside_the_data)
{
	put_header(0, 1, 0, 0);
	put_name("_lanspread._tcp.local");
	put_rr(T_PTR, 4);
	put8(1);
	put8('x');
	put_pointer(12);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

/* Out-of-range lengths and counts. */

START_TEST(label_of_64_bytes_is_refused)
{
	char	 label[65];

	memset(label, 'a', 64);
	label[64] = '\0';
	put_header(1, 0, 0, 0);
	put_name(label);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
	/* 63 is the longest label. */
	memset(&pk, 0, sizeof(pk));
	label[63] = '\0';
	put_header(1, 0, 0, 0);
	put_name(label);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 1);
}
END_TEST

START_TEST(label_with_the_reserved_0x80_bits_is_refused)
{
	put_header(1, 0, 0, 0);
	put8(0x81);
	put8('a');
	put8(0);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

/* Four labels whose lengths and bytes make total; the root adds none. */
static void
put_long_name(size_t total)
{
	char	 label[64];
	size_t	 left = total, n;

	memset(label, 'a', sizeof(label));
	while (left > 0) {
		n = left > 64 ? 63 : left - 1;
		put8((unsigned)n);
		put_bytes(label, n);
		left -= n + 1;
	}
	put8(0);
}

START_TEST(name_of_255_bytes_is_accepted_and_256_refused)
{
	put_header(1, 0, 0, 0);
	put_long_name(255);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 1);
	memset(&pk, 0, sizeof(pk));
	put_header(1, 0, 0, 0);
	put_long_name(256);
	put_question(T_PTR);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(more_than_forty_eight_records_are_refused)
{
	int	 i;

	put_header(10, 20, 10, 9);
	for (i = 0; i < 10; i++) {
		put_name("");
		put_question(T_PTR);
	}
	for (i = 0; i < 39; i++)
		put_odd_record("", 0);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(datagram_over_4096_bytes_is_refused)
{
	put_header(0, 0, 0, 0);
	pk.len = MDNS_PKT_MAX + 1;
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(rdlength_of_65535_is_refused)
{
	put_header(0, 1, 0, 0);
	put_name("");
	put_rr(T_ODD, 0xffff);
	put_bytes("abc", 3);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(address_records_of_the_wrong_size_are_refused)
{
	put_header(0, 1, 0, 0);
	put_name("host.local");
	put_rr(T_A, 5);
	put_bytes("\x0a\x00\x00\x01\x00", 5);
	ck_assert_int_eq(ok(), 0);
	memset(&pk, 0, sizeof(pk));
	put_header(0, 1, 0, 0);
	put_name("host.local");
	put_rr(T_AAAA, 4);
	put_bytes("\x0a\x00\x00\x01", 4);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(srv_shorter_than_seven_bytes_is_refused)
{
	put_header(0, 1, 0, 0);
	put_name("peer._lanspread._tcp.local");
	put_rr(T_SRV, 6);
	put_bytes("\0\0\0\0\x1b\x58", 6);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(srv_with_bytes_after_its_target_is_refused)
{
	put_header(0, 1, 0, 0);
	put_name("peer._lanspread._tcp.local");
	put_rr(T_SRV, 6 + 3);
	put_bytes("\0\0\0\0\x1b\x58", 6);
	put_name("");
	put16(0);
	ck_assert_int_eq(ok(), 0);
}
END_TEST

START_TEST(ptr_whose_name_runs_past_its_data_is_refused)
{
	put_header(0, 1, 0, 0);
	put_name("_lanspread._tcp.local");
	put_rr(T_PTR, 3);	/* the name takes 6 */
	put_name("peer");
	ck_assert_int_eq(ok(), 0);
}
END_TEST

/* TXT strings. */

/* The buffers txt_parse fills, each followed by a guard it must not touch. */
static struct {
	char	 id[PEER_ID_SIZE];
	char	 id_guard[8];
	char	 addr[ADDR_STRLEN];
	char	 addr_guard[8];
} out;

/* TXT data from strings, each prefixed with its length. */
static void
put_txt(const char *const *strs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		put8((unsigned)strlen(strs[i]));
		put_bytes(strs[i], strlen(strs[i]));
	}
}

/* Parses a copy of exactly the TXT data; the guards stay as they were. */
static void
parse(void)
{
	unsigned char	*copy;
	size_t		 i;

	memset(&out, 'X', sizeof(out));
	ck_assert_ptr_nonnull(copy = malloc(pk.len > 0 ? pk.len : 1));
	memcpy(copy, pk.b, pk.len);
	txt_parse(copy, pk.len, out.id, out.addr);
	free(copy);
	for (i = 0; i < sizeof(out.id_guard); i++) {
		ck_assert_int_eq(out.id_guard[i], 'X');
		ck_assert_int_eq(out.addr_guard[i], 'X');
	}
}

START_TEST(id_and_addr_are_read_from_txt)
{
	const char *s[] = { "v=1", "id=" GOOD_ID, "addr=10.0.0.1:7000" };

	put_txt(s, 3);
	parse();
	ck_assert_str_eq(out.id, GOOD_ID);
	ck_assert_str_eq(out.addr, "10.0.0.1:7000");
}
END_TEST

START_TEST(keys_match_without_regard_to_case)
{
	const char *s[] = { "ID=" GOOD_ID, "Addr=[::1]:7000" };

	put_txt(s, 2);
	parse();
	ck_assert_str_eq(out.id, GOOD_ID);
	ck_assert_str_eq(out.addr, "[::1]:7000");
}
END_TEST

START_TEST(only_the_first_string_of_a_key_counts)
{
	const char *s[] = { "id=0123", "id=" GOOD_ID, "addr=10.0.0.1:7000",
	    "addr=10.0.0.2:7000" };

	put_txt(s, 4);
	parse();
	ck_assert_str_eq(out.id, "");
	ck_assert_str_eq(out.addr, "10.0.0.1:7000");
}
END_TEST

START_TEST(id_must_be_32_lowercase_hex_digits)
{
	const char *bad[] = { "id=0123456789ABCDEF0123456789abcdef",
	    "id=0123456789abcdef0123456789abcdeg",
	    "id=0123456789abcdef0123456789abcde",
	    "id=0123456789abcdef0123456789abcdef0", "id=" };
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pkt_setup();
		put_txt(&bad[i], 1);
		parse();
		ck_assert_msg(out.id[0] == '\0', "%s was taken", bad[i]);
	}
}
END_TEST

START_TEST(addr_without_a_usable_port_is_emptied)
{
	const char *bad[] = { "addr=10.0.0.1", "addr=10.0.0.1:0",
	    "addr=10.0.0.1:70000", "addr=host.local:7000", "addr=" };
	const char *with_id[2] = { "id=" GOOD_ID, NULL };
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pkt_setup();
		with_id[1] = bad[i];
		put_txt(with_id, 2);
		parse();
		ck_assert_msg(out.addr[0] == '\0', "%s was taken", bad[i]);
		ck_assert_str_eq(out.id, GOOD_ID);
	}
}
END_TEST

START_TEST(string_with_a_nul_byte_is_skipped)
{
	const char *s[] = { "id=" GOOD_ID };

	put8(4 + 32);
	put_bytes("id=\0", 4);
	put_bytes(GOOD_ID, 32);
	put_txt(s, 1);
	parse();
	/* Skipped, not counted: the next id= string is the first. */
	ck_assert_str_eq(out.id, GOOD_ID);
}
END_TEST

START_TEST(string_running_past_the_end_stops_the_reading)
{
	const char *s[] = { "addr=10.0.0.1:7000" };

	put_txt(s, 1);
	put8(200);		/* claims 200, 35 follow */
	put_bytes("id=" GOOD_ID, 35);
	parse();
	ck_assert_str_eq(out.id, "");
	ck_assert_str_eq(out.addr, "10.0.0.1:7000");
}
END_TEST

START_TEST(string_cut_by_the_end_is_not_read_from_the_bytes_after)
{
	size_t	 len;

	/* A whole id= string in memory, but the data ends inside it. */
	put8(35);
	put_bytes("id=" GOOD_ID, 35);
	len = pk.len - 10;
	memset(&out, 'X', sizeof(out));
	txt_parse(pk.b, len, out.id, out.addr);
	ck_assert_str_eq(out.id, "");
	ck_assert_str_eq(out.addr, "");
}
END_TEST

START_TEST(oversized_strings_are_emptied_not_copied)
{
	char	 big[256];

	/* 255-byte strings: the longest TXT strings there are. */
	memset(big, '1', sizeof(big));
	memcpy(big, "addr=", 5);
	put8(255);
	put_bytes(big, 255);
	memcpy(big, "id=", 3);
	memset(big + 3, 'a', 252);
	put8(255);
	put_bytes(big, 255);
	parse();
	ck_assert_str_eq(out.id, "");
	ck_assert_str_eq(out.addr, "");
}
END_TEST

START_TEST(addr_of_63_bytes_fits_and_64_does_not)
{
	char	 s[5 + ADDR_STRLEN + 1];

	/* "[::ffff:…]:7000" padded with zeros in the port: 63 bytes. */
	snprintf(s, sizeof(s), "addr=[::ffff:10.0.0.1]:%0*d",
	    ADDR_STRLEN - 1 - 18, 7000);
	ck_assert_uint_eq(strlen(s), 5 + ADDR_STRLEN - 1);
	put8((unsigned)strlen(s));
	put_bytes(s, strlen(s));
	parse();
	ck_assert_str_eq(out.addr, s + 5);

	pkt_setup();
	snprintf(s, sizeof(s), "addr=[::ffff:10.0.0.1]:%0*d",
	    ADDR_STRLEN - 18, 7000);
	put8((unsigned)strlen(s));
	put_bytes(s, strlen(s));
	parse();
	ck_assert_str_eq(out.addr, "");
}
END_TEST

START_TEST(empty_txt_gives_no_id_and_no_addr)
{
	memset(&out, 'X', sizeof(out));
	txt_parse(NULL, 0, out.id, out.addr);
	ck_assert_str_eq(out.id, "");
	ck_assert_str_eq(out.addr, "");
	/* A lone empty string is no different. */
	put8(0);
	parse();
	ck_assert_str_eq(out.id, "");
	ck_assert_str_eq(out.addr, "");
}
END_TEST

START_TEST(empty_strings_between_others_are_skipped)
{
	const char *s[] = { "", "id=" GOOD_ID, "", "addr=10.0.0.1:7000", "" };

	put_txt(s, 5);
	parse();
	ck_assert_str_eq(out.id, GOOD_ID);
	ck_assert_str_eq(out.addr, "10.0.0.1:7000");
}
END_TEST

/* Instance names. */

START_TEST(instance_of_our_service_is_accepted_in_any_case)
{
	ck_assert_int_eq(instance_name_ok("peer._lanspread._tcp.local."), 1);
	ck_assert_int_eq(instance_name_ok("x._LANSPREAD._TCP.Local."), 1);
	ck_assert_int_eq(instance_name_ok("a.b c._lanspread._tcp.local."), 1);
}
END_TEST

START_TEST(service_name_without_an_instance_is_refused)
{
	ck_assert_int_eq(instance_name_ok("_lanspread._tcp.local."), 0);
	ck_assert_int_eq(instance_name_ok("._lanspread._tcp.local."), 0);
	ck_assert_int_eq(instance_name_ok(""), 0);
}
END_TEST

START_TEST(other_services_and_missing_separators_are_refused)
{
	ck_assert_int_eq(instance_name_ok("peer._http._tcp.local."), 0);
	ck_assert_int_eq(instance_name_ok("peer_lanspread._tcp.local."), 0);
	ck_assert_int_eq(instance_name_ok("peer._lanspread._tcp.local"), 0);
	ck_assert_int_eq(instance_name_ok("peer._lanspread._tcp.local.x"),
	    0);
}
END_TEST

START_TEST(instance_name_of_255_bytes_is_accepted_and_256_refused)
{
	char	 name[MDNS_NAME_SIZE + 1];
	size_t	 s = strlen(MDNS_SERVICE);

	memset(name, 'p', sizeof(name));
	memcpy(name + 255 - s, MDNS_SERVICE, s + 1);
	name[255 - s - 1] = '.';
	ck_assert_uint_eq(strlen(name), 255);
	ck_assert_int_eq(instance_name_ok(name), 1);
	memset(name, 'p', sizeof(name));
	memcpy(name + 256 - s, MDNS_SERVICE, s + 1);
	name[256 - s - 1] = '.';
	ck_assert_int_eq(instance_name_ok(name), 0);
}
END_TEST

static Suite *
mdns_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("mdns");

	tc = tu_tcase(s, "well_formed", NULL, NULL, pkt_setup, NULL);
	tcase_add_test(tc, browse_question_for_our_service_is_accepted);
	tcase_add_test(tc, announcement_with_compressed_names_is_accepted);
	tcase_add_test(tc, aaaa_record_of_sixteen_bytes_is_accepted);
	tcase_add_test(tc, bare_header_without_records_is_accepted);
	tcase_add_test(tc, data_of_other_record_types_is_not_looked_into);
	tcase_add_test(tc, forty_eight_records_are_accepted);
	tcase_add_test(tc, datagram_of_4096_bytes_is_accepted);

	tc = tu_tcase(s, "truncated", NULL, NULL, pkt_setup, NULL);
	tcase_add_test(tc, empty_datagram_is_refused);
	tcase_add_test(tc, datagram_shorter_than_a_header_is_refused);
	tcase_add_test(tc, every_truncation_of_an_announcement_is_refused);
	tcase_add_test(tc, question_without_type_and_class_is_refused);
	tcase_add_test(tc, counts_claiming_more_records_than_sent_are_refused);
	tcase_add_test(tc, record_data_running_past_the_end_is_refused);

	tc = tu_tcase(s, "compression", NULL, NULL, pkt_setup, NULL);
	tcase_add_test(tc, pointer_back_to_an_earlier_name_is_accepted);
	tcase_add_test(tc, pointer_to_itself_is_refused);
	tcase_add_test(tc, pointers_pointing_at_each_other_are_refused);
	tcase_add_test(tc, forward_pointer_is_refused);
	tcase_add_test(tc, pointer_into_the_header_is_refused);
	tcase_add_test(tc, pointer_cut_after_its_first_byte_is_refused);
	tcase_add_test(tc, chain_of_thirty_two_pointers_is_accepted);
	tcase_add_test(tc, chain_of_thirty_three_pointers_is_refused);
	tcase_add_test(tc, name_in_ptr_data_may_point_back_outside_the_data);

	tc = tu_tcase(s, "lengths", NULL, NULL, pkt_setup, NULL);
	tcase_add_test(tc, label_of_64_bytes_is_refused);
	tcase_add_test(tc, label_with_the_reserved_0x80_bits_is_refused);
	tcase_add_test(tc, name_of_255_bytes_is_accepted_and_256_refused);
	tcase_add_test(tc, more_than_forty_eight_records_are_refused);
	tcase_add_test(tc, datagram_over_4096_bytes_is_refused);
	tcase_add_test(tc, rdlength_of_65535_is_refused);
	tcase_add_test(tc, address_records_of_the_wrong_size_are_refused);
	tcase_add_test(tc, srv_shorter_than_seven_bytes_is_refused);
	tcase_add_test(tc, srv_with_bytes_after_its_target_is_refused);
	tcase_add_test(tc, ptr_whose_name_runs_past_its_data_is_refused);

	tc = tu_tcase(s, "txt", NULL, NULL, pkt_setup, NULL);
	tcase_add_test(tc, id_and_addr_are_read_from_txt);
	tcase_add_test(tc, keys_match_without_regard_to_case);
	tcase_add_test(tc, only_the_first_string_of_a_key_counts);
	tcase_add_test(tc, id_must_be_32_lowercase_hex_digits);
	tcase_add_test(tc, addr_without_a_usable_port_is_emptied);
	tcase_add_test(tc, string_with_a_nul_byte_is_skipped);
	tcase_add_test(tc, string_running_past_the_end_stops_the_reading);
	tcase_add_test(tc,
	    string_cut_by_the_end_is_not_read_from_the_bytes_after);
	tcase_add_test(tc, oversized_strings_are_emptied_not_copied);
	tcase_add_test(tc, addr_of_63_bytes_fits_and_64_does_not);
	tcase_add_test(tc, empty_txt_gives_no_id_and_no_addr);
	tcase_add_test(tc, empty_strings_between_others_are_skipped);

	tc = tu_tcase(s, "instance_name", NULL, NULL, NULL, NULL);
	tcase_add_test(tc, instance_of_our_service_is_accepted_in_any_case);
	tcase_add_test(tc, service_name_without_an_instance_is_refused);
	tcase_add_test(tc, other_services_and_missing_separators_are_refused);
	tcase_add_test(tc,
	    instance_name_of_255_bytes_is_accepted_and_256_refused);

	return s;
}

int
main(void)
{
	return tu_run_suite(mdns_suite());
}
