/*
 * Every typed message decoder. The first byte picks a message type among
 * all of MSG_BODIES and MSG_EMPTIES (common/msgtypes.h), bit 0 of the
 * second whether a descriptor came with it; the rest is a frame body. It
 * passes msg_unpack_body() as on a link, then msg_recv_<name>(); what is
 * accepted must encode again the same way (fuzzhelp.c).
 */
#include <unistd.h>

#include "common/msgtypes.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	struct msg	 m;

	if (size < 2)
		return 0;
	if (msg_unpack_body((const char *)data + 2, size - 2, &up) == -1)
		return 0;
	m.type = fuzz_type(data[0]);
	m.body = &up.data;
	m.fd = (data[1] & 1) ? fuzz_fd() : -1;
	(void)fuzz_decode(&m);
	if (m.fd != -1)
		close(m.fd);
	msgpack_unpacked_destroy(&up);
	return 0;
}
