/*
 * The data checksums a RAR archive's headers promise for its entries.
 *
 * libarchive 3.6 reads RAR 4 and RAR 5 but never checks the CRC32 of a
 * stored entry and does not hand out the header's value, so this reads
 * the block headers (and nothing else) to collect one checksum per file
 * header, in archive order: the order in which libarchive returns them.
 */
#ifndef LANSPREAD_RAR_SUMS_H
#define LANSPREAD_RAR_SUMS_H

#include <stddef.h>
#include <stdint.h>

/* Most file headers one archive may list (each costs 24 bytes here). */
#define RAR_SUMS_MAX	(1u << 20)

struct rar_sum {
	uint64_t	 size;		/* unpacked, as the header says */
	uint32_t	 crc32;
	unsigned	 has_crc:1;	/* RAR 5 may carry BLAKE2sp instead */
	unsigned	 is_dir:1;
};

struct rar_sums {
	struct rar_sum	*v;
	size_t		 n, cap;
};

/*
 * Reads the headers of the archive open on fd (with pread: the file
 * offset is left alone). Refuses what no entry could be checked in:
 * encrypted headers, entries split across volumes, damaged headers.
 */
int	rar_sums_read(int fd, struct rar_sums *sums, char *err, size_t errsz);
/* The same over a buffer: what the fuzz target and the unit tests use. */
int	rar_sums_parse(const void *data, size_t len, struct rar_sums *sums,
	    char *err, size_t errsz);
void	rar_sums_free(struct rar_sums *sums);

#endif /* LANSPREAD_RAR_SUMS_H */
