/*
 * Stream entry headers, as worker-transfer/stream.c takes them from a
 * source: bit 0 of the first byte says PEER_ENTRY or PEER_STREAM_END, the
 * rest is the body. An entry's path then goes through path_is_safe_relative
 * (what stream_entry() checks) and is compared with that function's own
 * contract in common/path.h, written out again here.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/msgtypes.h"
#include "common/path.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* common/path.h's words for path_is_safe_relative(), one by one. */
static int
safe_by_contract(const char *rel)
{
	size_t	 len = strlen(rel), i, start = 0;

	if (len == 0 || len >= PATH_MAX || rel[0] == '/' ||
	    rel[len - 1] == '/')
		return 0;
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)rel[i];

		if (c == '/' || c == '\0') {
			size_t	 n = i - start;

			if (n == 0 || (n == 1 && rel[start] == '.') ||
			    (n == 2 && rel[start] == '.' &&
			    rel[start + 1] == '.'))
				return 0;
			start = i + 1;
		} else if (c < 0x20 || c == 0x7f || c == '\\')
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	struct msg	 m;
	struct peer_entry entry;
	struct peer_stream_end end;
	char		 err[ERROR_SIZE];

	if (size < 1)
		return 0;
	if (msg_unpack_body((const char *)data + 1, size - 1, &up) == -1)
		return 0;
	m.body = &up.data;
	m.fd = -1;
	if (data[0] & 1) {
		m.type = MSG_PEER_STREAM_END;
		if (msg_recv_peer_stream_end(&m, &end, err, sizeof(err)) == 0)
			msg_free_peer_stream_end(&end);
	} else {
		m.type = MSG_PEER_ENTRY;
		if (msg_recv_peer_entry(&m, &entry, err, sizeof(err)) == 0) {
			int	 safe = path_is_safe_relative(entry.path);

			if (safe != safe_by_contract(entry.path))
				abort();
			/* Transferable paths are a subset of safe ones. */
			if (path_is_transferable(entry.path) && !safe)
				abort();
			msg_free_peer_entry(&entry);
		}
	}
	(void)fuzz_decode(&m);	/* and the round trip of the codec */
	msgpack_unpacked_destroy(&up);
	return 0;
}
