/*
 * The mDNS checks of worker-net/mdns_packet.c on one datagram: whether
 * it is sane (dns_packet_ok), the TXT strings in it (txt_parse), and the
 * bytes as an instance name (instance_name_ok). A datagram found sane
 * then goes to libmdnsd's parser as worker-net/mdns.c hands it over, and
 * each record's data to txt_parse as mdns.c reads answers.
 */
#include <stdlib.h>
#include <string.h>

#include <libmdnsd/1035.h>

#include "common/addr.h"
#include "common/layout.h"
#include "worker-net/mdns_packet.h"
#include "fuzz/fuzz.h"

static struct message	 rx;
static unsigned char	 pkt[MAX_PACKET_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* What txt_parse leaves: empty, or what its contract allows. */
static void
check_txt(const unsigned char *p, size_t len)
{
	char	 id[PEER_ID_SIZE], addr[ADDR_STRLEN];

	memset(id, 'x', sizeof(id));
	memset(addr, 'x', sizeof(addr));
	txt_parse(p, len, id, addr);
	if (id[0] != '\0' && !peer_id_is_valid(id))
		abort();
	if (memchr(addr, '\0', sizeof(addr)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*name;
	int	 i;

	check_txt(size > 0 ? data : NULL, size);
	if ((name = malloc(size + 1)) == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	(void)instance_name_ok(name);
	free(name);
	if (!dns_packet_ok(data, size))
		return 0;
	/* As mdns.c: the parser is not told the length, zeroes follow. */
	memcpy(pkt, data, size);
	memset(pkt + size, 0, sizeof(pkt) - size);
	memset(&rx, 0, sizeof(rx));
	if (message_parse(&rx, pkt) != 0)
		return 0;
	for (i = 0; i < rx.ancount; i++)
		if (rx.an[i].rdata != NULL)
			check_txt(rx.an[i].rdata, rx.an[i].rdlength);
	for (i = 0; i < rx.arcount; i++)
		if (rx.ar[i].rdata != NULL)
			check_txt(rx.ar[i].rdata, rx.ar[i].rdlength);
	return 0;
}
