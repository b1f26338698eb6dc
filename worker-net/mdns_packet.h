/*
 * The checks every mDNS datagram passes before libmdnsd parses it, and
 * the reading of our TXT record: pure functions of the bytes received,
 * shared by mdns.c and tests/check_mdns.c.
 */
#ifndef LANSPREAD_MDNS_PACKET_H
#define LANSPREAD_MDNS_PACKET_H

#include <stddef.h>

#define MDNS_SERVICE		"_lanspread._tcp.local."
#define MDNS_PKT_MAX		4096	/* largest we read (library limit) */
#define MDNS_MAX_RR		48	/* records in a datagram we read */
#define MDNS_NAME_SIZE		256	/* an instance name and its NUL */

/*
 * 1 if the len bytes at p are a whole, sane DNS message: a 12-byte
 * header, at most MDNS_MAX_RR questions and records, every name within
 * bounds (labels of 63 bytes, 255 in all, compression pointers strictly
 * backwards and at most 32 of them), every record within the datagram and
 * A, AAAA, SRV, NS, CNAME and PTR data of the right shape; else 0.
 */
int	dns_packet_ok(const unsigned char *p, size_t len);

/* 1 if name is "<instance>._lanspread._tcp.local." and fits; else 0. */
int	instance_name_ok(const char *name);

/*
 * Reads id= and addr= from the TXT record data at p (only a key's first
 * string counts) into id (PEER_ID_SIZE bytes) and addr (ADDR_STRLEN
 * bytes); each is emptied unless valid. p may be NULL when len is 0.
 */
void	txt_parse(const unsigned char *p, size_t len, char *id, char *addr);

#endif /* LANSPREAD_MDNS_PACKET_H */
