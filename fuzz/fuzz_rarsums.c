/*
 * The RAR header walk of worker-install/rar_sums.c on one archive's
 * bytes: it must refuse or list, never read out of bounds; what it lists
 * keeps its promises (no checksum on a directory, bounded counts), and a
 * refusal leaves nothing allocated and says why.
 */
#include <stdlib.h>
#include <string.h>

#include "worker-install/rar_sums.h"
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
	struct rar_sums	 sums;
	char		 err[256];
	size_t		 i;

	err[0] = '\0';
	if (rar_sums_parse(data, size, &sums, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || sums.v != NULL || sums.n != 0)
			abort();
		return 0;
	}
	if (sums.n > RAR_SUMS_MAX || sums.n > sums.cap)
		abort();
	for (i = 0; i < sums.n; i++)
		if (sums.v[i].is_dir && sums.v[i].has_crc)
			abort();
	rar_sums_free(&sums);
	return 0;
}
