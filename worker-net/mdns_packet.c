/*
 * mDNS datagrams as they arrive on port 5353, untrusted: checked record by
 * record against their real length before libmdnsd parses them (its
 * parser is not told the length), and our TXT strings read here (the
 * library's txt2sd reads past the end of the record data).
 */
#include <sys/socket.h>

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/layout.h"
#include "worker-net/mdns_packet.h"
#include "worker-net/net.h"

/* Record types whose data we check (RFC 1035, 2782, 3596). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_PTR	12
#define DNS_T_AAAA	28
#define DNS_T_SRV	33

/*
 * Checks one DNS name at *off: labels of at most 63 bytes, 255 in all,
 * compression pointers only backwards, everything before limit (the end of
 * the record data for a name inside it) or, once compressed, before len.
 * Advances *off past the name's bytes in place.
 */
static int
dns_name_ok(const unsigned char *p, size_t len, size_t *off, size_t limit)
{
	size_t	 pos = *off, start = *off, total = 0, ptr, end = limit;
	int	 jumped = 0, hops = 0;

	for (;;) {
		if (pos >= end)
			return 0;
		if (p[pos] == 0) {
			if (!jumped)
				*off = pos + 1;
			return 1;
		}
		if ((p[pos] & 0xc0) == 0xc0) {
			if (pos + 1 >= end)
				return 0;
			ptr = ((size_t)(p[pos] & 0x3f) << 8) | p[pos + 1];
			if (ptr < 12 || ptr >= start || ++hops > 32)
				return 0;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			start = pos = ptr;
			end = len;
			continue;
		}
		if (p[pos] & 0xc0)
			return 0;
		total += p[pos] + 1;
		if (total > 255 || pos + 1 + p[pos] > end)
			return 0;
		pos += 1 + p[pos];
	}
}

/* Whether a datagram is a whole, sane DNS message. */
int
dns_packet_ok(const unsigned char *p, size_t len)
{
	size_t	 off = 12, rdend, noff;
	unsigned int qd, rr, i, type, rdlen;

	if (len < 12 || len > MDNS_PKT_MAX)
		return 0;
	qd = (p[4] << 8) | p[5];
	rr = ((p[6] << 8) | p[7]) + ((p[8] << 8) | p[9]) +
	    ((p[10] << 8) | p[11]);
	if (qd + rr > MDNS_MAX_RR)
		return 0;
	for (i = 0; i < qd; i++) {
		if (!dns_name_ok(p, len, &off, len) || off + 4 > len)
			return 0;
		off += 4;
	}
	for (i = 0; i < rr; i++) {
		if (!dns_name_ok(p, len, &off, len) || off + 10 > len)
			return 0;
		type = (p[off] << 8) | p[off + 1];
		rdlen = (p[off + 8] << 8) | p[off + 9];
		off += 10;
		if (off + rdlen > len)
			return 0;
		rdend = off + rdlen;
		switch (type) {
		case DNS_T_A:
			if (rdlen != 4)
				return 0;
			break;
		case DNS_T_AAAA:
			if (rdlen != 16)
				return 0;
			break;
		case DNS_T_SRV:
			if (rdlen < 7)
				return 0;
			noff = off + 6;
			if (!dns_name_ok(p, len, &noff, rdend) || noff != rdend)
				return 0;
			break;
		case DNS_T_NS:
		case DNS_T_CNAME:
		case DNS_T_PTR:
			noff = off;
			if (!dns_name_ok(p, len, &noff, rdend) || noff != rdend)
				return 0;
			break;
		default:
			break;
		}
		off = rdend;
	}
	return 1;
}

/* "<anything>._lanspread._tcp.local." */
int
instance_name_ok(const char *name)
{
	size_t	 n = strlen(name), s = sizeof(MDNS_SERVICE) - 1;

	return n > s + 1 && n < MDNS_NAME_SIZE &&
	    name[n - s - 1] == '.' && strcasecmp(name + n - s,
	    MDNS_SERVICE) == 0;
}

/*
 * Reads id= and addr= from TXT strings (only a key's first string counts),
 * each emptied unless valid.
 */
void
txt_parse(const unsigned char *p, size_t len, char *id, char *addr)
{
	struct sockaddr_storage ss;
	socklen_t	 sl;
	size_t		 off, l;
	int		 have_id = 0, have_addr = 0;

	id[0] = addr[0] = '\0';
	for (off = 0; off < len; off += 1 + l) {
		const char *s = (const char *)p + off + 1;

		l = p[off];
		if (off + 1 + l > len)
			break;
		if (memchr(s, '\0', l) != NULL)
			continue;
		if (l >= 3 && strncasecmp(s, "id=", 3) == 0) {
			if (!have_id++ && l - 3 == PEER_ID_LEN) {
				memcpy(id, s + 3, PEER_ID_LEN);
				id[PEER_ID_LEN] = '\0';
			}
		} else if (l >= 5 && strncasecmp(s, "addr=", 5) == 0) {
			if (!have_addr++ && l - 5 < ADDR_STRLEN) {
				memcpy(addr, s + 5, l - 5);
				addr[l - 5] = '\0';
			}
		}
	}
	if (!peer_id_is_valid(id))
		id[0] = '\0';
	if (addr[0] != '\0' && (addr_parse(addr, -1, &ss, &sl) == -1 ||
	    addr_port((struct sockaddr *)&ss) <= 0))
		addr[0] = '\0';
}
