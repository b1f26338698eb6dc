/*
 * bench/hashspeed — which piece hash and which piece size for manifests
 * (issue 10).  Prints figures; changes nothing outside its temporary file.
 *
 * Build and run (as root for part 3, Debian 12, from the repository):
 *
 *	make bench-hash                 # builds build/bench/hashspeed
 *	build/bench/hashspeed           # 1 GiB in memory, 5 runs, 2 GiB cold file
 *	build/bench/hashspeed -s 256 -c 0   # quick: 256 MiB, no cold part
 *
 * Options:
 *	-s MIB	size of the in-memory buffer of random bytes (default 1024)
 *	-f FILE	hash the contents of FILE (read into memory) instead
 *	-r N	runs per measurement in parts 1 and 2 (default 5, median shown)
 *	-d DIR	directory of the temporary cold-cache file (default /tmp)
 *	-c MIB	size of that file (default 2048); 0 skips part 3
 *	-k N	cold runs per variant in part 3 (default 3, median shown)
 *	-p CPU	pin the process to this CPU (default: not pinned)
 *
 * What it measures, in one run of the program, on one thread:
 *
 * 0. The CPU: model, and whether /proc/cpuinfo lists sha_ni and avx2 (and
 *    what libsodium detects at run time); library versions.
 * 1. Hash speed: each hash is run over the whole buffer as one stream
 *    (updates of 1 MiB), r times; the median, min and max MiB/s of wall
 *    time, and the median MiB/s of the thread's CPU time (which a busy
 *    neighbour on this shared machine cannot inflate).  Hashes: SHA-256,
 *    SHA-512/256, BLAKE2b-512, BLAKE2s-256 and SHA-1 (reference only) from
 *    libcrypto's EVP (the EVP_MD fetched once), BLAKE2b-256 from libsodium's
 *    crypto_generichash, and libsodium's portable SHA-256 (no SHA
 *    extensions) to show what the CPU instructions are worth.  The fastest
 *    hash with a digest of at least 256 bits (SHA-1 excluded) is "best".
 * 2. Piece size, for the two fastest eligible hashes: the buffer hashed as
 *    pieces of 256 KiB .. 16 MiB (init/update/final per piece) against one
 *    stream, interleaved round by round, median CPU MiB/s and the overhead;
 *    the fixed cost of one init+final (which is what a piece adds), also for
 *    SHA-256 through EVP_sha256() (OpenSSL 3 fetches the implementation on
 *    every init then).  Then a table per piece size: manifest size with
 *    32-byte hashes for a 2 GiB and a 50 GiB game (one file; each file's
 *    last piece is short), pieces per 128 MiB chunk, and what one bad byte
 *    costs: the piece refetched (at most 16 MiB is allowed), its time at
 *    1 Gbit/s, and the time to rehash it.
 * 3. Cold cache: a file of random bytes is written to DIR, fsynced; before
 *    every timed read `sync; echo 3 > /proc/sys/vm/drop_caches` (and
 *    POSIX_FADV_DONTNEED on the file); then the file is read with read() in
 *    256 KiB, 1 or 4 MiB blocks and hashed with the best hash, with and
 *    without POSIX_FADV_SEQUENTIAL, and with POSIX_FADV_WILLNEED issued
 *    32 MiB ahead of the reads (the disk works while the CPU hashes); also
 *    read without hashing (the disk alone) and read and hashed from the
 *    page cache (read()'s copy plus the hash, no disk).  Variants interleave
 *    round by round; median seconds and MiB/s.  The file is removed.
 *
 * To see SHA-256 without the SHA extensions in libcrypto:
 *	OPENSSL_ia32cap=":~0x20000000" build/bench/hashspeed -c 0
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#define KIB		1024UL
#define MIB		(1024UL * 1024UL)
#define GIB		(1024UL * MIB)
#define UPDATE_BLOCK	MIB
#define MAX_RUNS	101
#define HASH_MAX	64
#define CHUNK_SIZE	(128UL * MIB)	/* the unit the control protocol reports */
#define REFETCH_MAX	(16UL * MIB)	/* issue 10: at most this for one bad byte */
#define GBIT_MIBS	(1e9 / 8 / MIB)	/* 1 Gbit/s in MiB/s, before overheads */

enum hash_kind { HK_EVP, HK_SODIUM_GH, HK_SODIUM_SHA256 };

struct hash_alg {
	const char	*name;
	const char	*lib;
	enum hash_kind	 kind;
	const char	*evp_name;	/* for EVP_MD_fetch */
	size_t		 outlen;	/* bytes kept */
	int		 eligible;	/* may be chosen for manifests */
	EVP_MD		*md;
	int		 available;
	double		 wall_med, wall_min, wall_max, cpu_med;	/* MiB/s */
};

struct hash_ctx {
	EVP_MD_CTX			*evp;
	const EVP_MD			*md;	/* overrides alg->md when set */
	crypto_generichash_state	 gh;
	crypto_hash_sha256_state	 s256;
};

static struct hash_alg algs[] = {
	{ "SHA-256", "libcrypto", HK_EVP, "SHA2-256", 32, 1, NULL, 0, 0, 0, 0, 0 },
	{ "SHA-512/256", "libcrypto", HK_EVP, "SHA2-512/256", 32, 1, NULL, 0,
	    0, 0, 0, 0 },
	{ "BLAKE2b-512", "libcrypto", HK_EVP, "BLAKE2B-512", 64, 1, NULL, 0,
	    0, 0, 0, 0 },
	{ "BLAKE2s-256", "libcrypto", HK_EVP, "BLAKE2S-256", 32, 1, NULL, 0,
	    0, 0, 0, 0 },
	{ "BLAKE2b-256", "libsodium", HK_SODIUM_GH, NULL, 32, 1, NULL, 0,
	    0, 0, 0, 0 },
	{ "SHA-256 portable", "libsodium", HK_SODIUM_SHA256, NULL, 32, 1, NULL,
	    0, 0, 0, 0, 0 },
	{ "SHA-1 (reference)", "libcrypto", HK_EVP, "SHA1", 20, 0, NULL, 0,
	    0, 0, 0, 0 },
};
#define NALGS	(sizeof(algs) / sizeof(algs[0]))

static const size_t piece_sizes[] = {
	256 * KIB, 1 * MIB, 2 * MIB, 4 * MIB, 8 * MIB, 16 * MIB
};
#define NPIECES	(sizeof(piece_sizes) / sizeof(piece_sizes[0]))

static char		*cold_path;
static volatile unsigned char sink;

static void die(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	fprintf(stderr, "hashspeed: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (saved != 0)
		fprintf(stderr, ": %s", strerror(saved));
	fprintf(stderr, "\n");
	if (cold_path != NULL)
		unlink(cold_path);
	exit(1);
}

static double
now(clockid_t clk)
{
	struct timespec	ts;

	if (clock_gettime(clk, &ts) == -1)
		die("clock_gettime");
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v. */
static double
median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2 == 1)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned long
parse_ulong(const char *s, const char *what, unsigned long max)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max) {
		errno = 0;
		die("bad %s: %s", what, s);
	}
	return v;
}

static void
hash_init(const struct hash_alg *a, struct hash_ctx *c)
{
	switch (a->kind) {
	case HK_EVP:
		if (EVP_DigestInit_ex(c->evp, c->md != NULL ? c->md : a->md,
		    NULL) != 1)
			die("EVP_DigestInit_ex %s", a->name);
		break;
	case HK_SODIUM_GH:
		if (crypto_generichash_init(&c->gh, NULL, 0, a->outlen) != 0)
			die("crypto_generichash_init");
		break;
	case HK_SODIUM_SHA256:
		crypto_hash_sha256_init(&c->s256);
		break;
	}
}

static void
hash_update(const struct hash_alg *a, struct hash_ctx *c,
    const unsigned char *p, size_t n)
{
	switch (a->kind) {
	case HK_EVP:
		if (EVP_DigestUpdate(c->evp, p, n) != 1)
			die("EVP_DigestUpdate %s", a->name);
		break;
	case HK_SODIUM_GH:
		crypto_generichash_update(&c->gh, p, n);
		break;
	case HK_SODIUM_SHA256:
		crypto_hash_sha256_update(&c->s256, p, n);
		break;
	}
}

static void
hash_final(const struct hash_alg *a, struct hash_ctx *c,
    unsigned char out[HASH_MAX])
{
	unsigned int	len;

	switch (a->kind) {
	case HK_EVP:
		if (EVP_DigestFinal_ex(c->evp, out, &len) != 1)
			die("EVP_DigestFinal_ex %s", a->name);
		break;
	case HK_SODIUM_GH:
		crypto_generichash_final(&c->gh, out, a->outlen);
		break;
	case HK_SODIUM_SHA256:
		crypto_hash_sha256_final(&c->s256, out);
		break;
	}
	sink ^= out[0];
}

static void
ctx_new(struct hash_ctx *c)
{
	memset(c, 0, sizeof(*c));
	if ((c->evp = EVP_MD_CTX_new()) == NULL)
		die("EVP_MD_CTX_new");
}

/*
 * Hash buf as pieces of piece bytes (0: one stream), feeding updates of at
 * most UPDATE_BLOCK; the digest of the last piece goes to out.
 */
static void
hash_buffer(const struct hash_alg *a, struct hash_ctx *c,
    const unsigned char *buf, size_t len, size_t piece,
    unsigned char out[HASH_MAX])
{
	size_t	off = 0, end, n;

	if (piece == 0)
		piece = len;
	while (off < len) {
		end = len - off < piece ? len : off + piece;
		hash_init(a, c);
		for (; off < end; off += n) {
			n = end - off < UPDATE_BLOCK ? end - off : UPDATE_BLOCK;
			hash_update(a, c, buf + off, n);
		}
		hash_final(a, c, out);
	}
}

static void
fill_random(unsigned char *buf, size_t len, uint64_t seedno)
{
	unsigned char	seed[randombytes_SEEDBYTES] = { 0 };

	memcpy(seed, &seedno, sizeof(seedno));
	randombytes_buf_deterministic(buf, len, seed);
}

static void
print_cpu(void)
{
	FILE		*f;
	char		*line = NULL, *tok, *save;
	size_t		 cap = 0;
	char		 model[128] = "unknown";
	int		 sha_ni = 0, avx2 = 0, avx512f = 0, got_flags = 0;

	if ((f = fopen("/proc/cpuinfo", "r")) == NULL)
		die("/proc/cpuinfo");
	while (getline(&line, &cap, f) != -1) {
		if (strncmp(line, "model name", 10) == 0 &&
		    (tok = strchr(line, ':')) != NULL) {
			snprintf(model, sizeof(model), "%s", tok + 2);
			model[strcspn(model, "\n")] = '\0';
		}
		if (got_flags || strncmp(line, "flags", 5) != 0)
			continue;
		got_flags = 1;
		for (tok = strtok_r(line, " \t\n", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t\n", &save)) {
			sha_ni |= strcmp(tok, "sha_ni") == 0;
			avx2 |= strcmp(tok, "avx2") == 0;
			avx512f |= strcmp(tok, "avx512f") == 0;
		}
	}
	free(line);
	fclose(f);
	printf("CPU: %s, %ld online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
	printf("/proc/cpuinfo flags: sha_ni %s, avx2 %s, avx512f %s\n",
	    sha_ni ? "yes" : "no", avx2 ? "yes" : "no", avx512f ? "yes" : "no");
	printf("libsodium %s sees: avx2 %s, ssse3 %s\n", sodium_version_string(),
	    sodium_runtime_has_avx2() ? "yes" : "no",
	    sodium_runtime_has_ssse3() ? "yes" : "no");
	printf("%s%s\n", OpenSSL_version(OPENSSL_VERSION),
	    getenv("OPENSSL_ia32cap") != NULL ?
	    " (OPENSSL_ia32cap set: CPU features masked)" : "");
}

static void
part_speed(const unsigned char *buf, size_t len, int runs,
    struct hash_ctx *c)
{
	double		 wall[MAX_RUNS], cpu[MAX_RUNS], t0, c0, mib = (double)len / MIB;
	unsigned char	 out[HASH_MAX];
	size_t		 i, k;
	int		 r;

	printf("\n== 1. Hash speed, one thread, %.0f MiB, %d runs "
	    "(MiB/s; median of wall time, min..max, median of CPU time)\n",
	    mib, runs);
	printf("%-18s %-9s %4s %9s %19s %9s  %s\n", "hash", "library", "bits",
	    "wall", "wall min..max", "cpu", "digest (first 8 bytes)");
	for (i = 0; i < NALGS; i++) {
		struct hash_alg	*a = &algs[i];

		if (!a->available) {
			printf("%-18s %-9s not available in this library\n",
			    a->name, a->lib);
			continue;
		}
		for (r = 0; r < runs; r++) {
			t0 = now(CLOCK_MONOTONIC);
			c0 = now(CLOCK_THREAD_CPUTIME_ID);
			hash_buffer(a, c, buf, len, 0, out);
			cpu[r] = mib / (now(CLOCK_THREAD_CPUTIME_ID) - c0);
			wall[r] = mib / (now(CLOCK_MONOTONIC) - t0);
		}
		a->wall_med = median(wall, runs);
		a->wall_min = wall[0];
		a->wall_max = wall[runs - 1];
		a->cpu_med = median(cpu, runs);
		printf("%-18s %-9s %4zu %9.0f %9.0f..%-9.0f %9.0f  ", a->name,
		    a->lib, a->outlen * 8, a->wall_med, a->wall_min,
		    a->wall_max, a->cpu_med);
		for (k = 0; k < 8; k++)
			printf("%02x", out[k]);
		printf("\n");
		fflush(stdout);
	}
}

/* Fixed cost of one piece: init + final of an empty input, in ns. */
static double
piece_cost_ns(const struct hash_alg *a, struct hash_ctx *c, int runs)
{
	double		 v[MAX_RUNS], c0;
	unsigned char	 out[HASH_MAX];
	const int	 n = 100000;
	int		 r, i;

	for (r = 0; r < runs; r++) {
		c0 = now(CLOCK_THREAD_CPUTIME_ID);
		for (i = 0; i < n; i++) {
			hash_init(a, c);
			hash_final(a, c, out);
		}
		v[r] = (now(CLOCK_THREAD_CPUTIME_ID) - c0) / n * 1e9;
	}
	return median(v, runs);
}

static void
fmt_size(char *s, size_t n, double bytes)
{
	if (bytes >= MIB)
		snprintf(s, n, "%.1f MiB", bytes / MIB);
	else if (bytes >= KIB)
		snprintf(s, n, "%.1f KiB", bytes / KIB);
	else
		snprintf(s, n, "%.0f B", bytes);
}

static void
part_pieces(const unsigned char *buf, size_t len, int runs,
    struct hash_ctx *c, const struct hash_alg *best,
    const struct hash_alg *second)
{
	const struct hash_alg	*two[2] = { best, second };
	double			 cpu[NPIECES + 1][MAX_RUNS], med[NPIECES + 1];
	double			 c0, cost, mib = (double)len / MIB;
	unsigned char		 out[HASH_MAX];
	char			 s1[32], s2[32], s3[32];
	size_t			 i, p;
	int			 r;

	printf("\n== 2. Piece size: %.0f MiB hashed as pieces "
	    "(init/update/final each) vs one stream, %d interleaved rounds\n",
	    mib, runs);
	for (i = 0; i < 2; i++) {
		const struct hash_alg	*a = two[i];

		if (a == NULL)
			continue;
		for (r = 0; r < runs; r++) {
			for (p = 0; p <= NPIECES; p++) {
				c0 = now(CLOCK_THREAD_CPUTIME_ID);
				hash_buffer(a, c, buf, len,
				    p == 0 ? 0 : piece_sizes[p - 1], out);
				cpu[p][r] = mib /
				    (now(CLOCK_THREAD_CPUTIME_ID) - c0);
			}
		}
		for (p = 0; p <= NPIECES; p++)
			med[p] = median(cpu[p], runs);
		cost = piece_cost_ns(a, c, runs);
		printf("%s (%s): one stream %.0f MiB/s (CPU), init+final "
		    "%.0f ns per piece\n", a->name, a->lib, med[0], cost);
		printf("  %-9s %10s %9s %12s %14s\n", "piece", "pieces", "MiB/s",
		    "vs stream", "init+final");
		for (p = 1; p <= NPIECES; p++) {
			size_t	ps = piece_sizes[p - 1];
			double	npieces = (double)len / ps;

			fmt_size(s1, sizeof(s1), ps);
			printf("  %-9s %10.0f %9.0f %+11.2f%% %13.4f%%\n", s1,
			    npieces, med[p], (med[0] / med[p] - 1) * 100,
			    cost * 1e-9 / ((double)ps / MIB / med[0]) * 100);
		}
		fflush(stdout);
	}

	/* OpenSSL 3: a legacy EVP_MD (EVP_sha256()) is fetched on every init. */
	for (i = 0; i < NALGS; i++)
		if (algs[i].available && strcmp(algs[i].name, "SHA-256") == 0)
			break;
	if (i < NALGS) {
		double	fetched = piece_cost_ns(&algs[i], c, runs), implicit;

		c->md = EVP_sha256();
		implicit = piece_cost_ns(&algs[i], c, runs);
		c->md = NULL;
		printf("SHA-256 init+final: %.0f ns with the EVP_MD fetched once, "
		    "%.0f ns with EVP_sha256() (a fetch per init)\n",
		    fetched, implicit);
	}

	printf("\nManifest (32-byte hash per piece, one file per game; a game of "
	    "many files has one short piece per file more)\n"
	    "and one bad byte (= one piece refetched, limit %lu MiB; its time "
	    "at 1 Gbit/s = %.0f MiB/s, and rehash with %s at %.0f MiB/s):\n",
	    REFETCH_MAX / MIB, GBIT_MIBS, best->name, best->cpu_med);
	printf("%-9s %9s %11s %9s %11s %10s %10s %8s %9s\n", "piece",
	    "2GiB:pcs", "manifest", "50GiB:pcs", "manifest", "per chunk",
	    "refetch", "1Gbit/s", "rehash");
	for (p = 0; p < NPIECES; p++) {
		size_t	ps = piece_sizes[p];
		double	n2 = (double)(2 * GIB / ps), n50 = (double)(50 * GIB / ps);

		fmt_size(s1, sizeof(s1), ps);
		fmt_size(s2, sizeof(s2), n2 * 32);
		fmt_size(s3, sizeof(s3), n50 * 32);
		printf("%-9s %9.0f %11s %9.0f %11s %10lu ", s1, n2, s2, n50, s3,
		    CHUNK_SIZE / ps);
		printf("%9s%s %6.0f ms %6.1f ms\n", s1,
		    ps <= REFETCH_MAX ? " " : "!",
		    (double)ps / MIB / GBIT_MIBS * 1000,
		    (double)ps / MIB / best->cpu_med * 1000);
	}
}

static void
drop_caches(int fd, int *dropped)
{
	int	f;

	sync();
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
		die("posix_fadvise DONTNEED");
	*dropped = 0;
	if ((f = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC)) == -1)
		return;
	if (write(f, "3\n", 2) == 2)
		*dropped = 1;
	close(f);
}

#define CV_COUNT	10

static const struct {
	const char	*what;
	size_t		 block;
	int		 hash, seq, warm;
	size_t		 ahead;		/* POSIX_FADV_WILLNEED this far ahead */
} cold_variants[CV_COUNT] = {
	{ "read only, no hash (disk alone)", 4 * MIB, 0, 0, 0, 0 },
	{ "hash, read() 256 KiB", 256 * KIB, 1, 0, 0, 0 },
	{ "hash, read() 1 MiB", 1 * MIB, 1, 0, 0, 0 },
	{ "hash, read() 4 MiB", 4 * MIB, 1, 0, 0, 0 },
	{ "hash, read() 1 MiB, FADV_SEQUENTIAL", 1 * MIB, 1, 1, 0, 0 },
	{ "hash, read() 4 MiB, FADV_SEQUENTIAL", 4 * MIB, 1, 1, 0, 0 },
	{ "hash, read() 1 MiB, WILLNEED 32 MiB on", 1 * MIB, 1, 0, 0,
	    32 * MIB },
	{ "warm: hash, read() 256 KiB", 256 * KIB, 1, 0, 1, 0 },
	{ "warm: hash, read() 1 MiB", 1 * MIB, 1, 0, 1, 0 },
	{ "warm: hash, read() 4 MiB", 4 * MIB, 1, 0, 1, 0 },
};

static double
cold_run(int v, const struct hash_alg *a, struct hash_ctx *c,
    unsigned char *block, size_t fsize, int *dropped)
{
	unsigned char	out[HASH_MAX];
	size_t		total = 0, adv_end = 0, want;
	ssize_t		n;
	double		t0;
	int		fd;

	if ((fd = open(cold_path, O_RDONLY | O_CLOEXEC)) == -1)
		die("open %s", cold_path);
	if (cold_variants[v].warm) {
		while ((n = read(fd, block, 4 * MIB)) > 0)
			;
		if (lseek(fd, 0, SEEK_SET) == -1)
			die("lseek");
		*dropped = 0;
	} else
		drop_caches(fd, dropped);
	t0 = now(CLOCK_MONOTONIC);
	if (cold_variants[v].seq &&
	    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) != 0)
		die("posix_fadvise SEQUENTIAL");
	if (cold_variants[v].hash)
		hash_init(a, c);
	for (;;) {
		want = total + cold_variants[v].block + cold_variants[v].ahead;
		if (cold_variants[v].ahead > 0 && adv_end < fsize &&
		    want >= adv_end + cold_variants[v].ahead / 2) {
			if (posix_fadvise(fd, adv_end, want - adv_end,
			    POSIX_FADV_WILLNEED) != 0)
				die("posix_fadvise WILLNEED");
			adv_end = want;
		}
		if ((n = read(fd, block, cold_variants[v].block)) == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("read %s", cold_path);
		}
		if (cold_variants[v].hash)
			hash_update(a, c, block, n);
		else
			sink ^= block[0];
		total += n;
	}
	if (cold_variants[v].hash)
		hash_final(a, c, out);
	t0 = now(CLOCK_MONOTONIC) - t0;
	close(fd);
	if (total != fsize) {
		errno = 0;
		die("read %zu bytes of %zu", total, fsize);
	}
	return t0;
}

static void
part_cold(const char *dir, size_t fsize, int runs, const struct hash_alg *a,
    struct hash_ctx *c)
{
	double		 secs[CV_COUNT][MAX_RUNS], t0, s;
	unsigned char	*block;
	size_t		 off, n;
	ssize_t		 w;
	int		 fd, v, r, dropped = 1, d;

	if ((block = malloc(4 * MIB)) == NULL)
		die("malloc");
	if (asprintf(&cold_path, "%s/hashspeed.XXXXXX", dir) == -1)
		die("asprintf");
	if ((fd = mkostemp(cold_path, O_CLOEXEC)) == -1) {
		free(cold_path);
		cold_path = NULL;
		die("mkostemp in %s", dir);
	}
	printf("\n== 3. Cold cache: %zu MiB file %s, hashed with %s (%s), "
	    "%d interleaved rounds\n", fsize / MIB, cold_path, a->name, a->lib,
	    runs);
	fflush(stdout);
	t0 = now(CLOCK_MONOTONIC);
	for (off = 0; off < fsize; off += n) {
		n = fsize - off < 4 * MIB ? fsize - off : 4 * MIB;
		fill_random(block, n, 1000000 + off / (4 * MIB));
		if ((w = write(fd, block, n)) != (ssize_t)n)
			die("write %s", cold_path);
	}
	if (fsync(fd) == -1)
		die("fsync %s", cold_path);
	close(fd);
	t0 = now(CLOCK_MONOTONIC) - t0;
	printf("written and fsynced in %.1f s (%.0f MiB/s)\n", t0,
	    fsize / MIB / t0);

	for (r = 0; r < runs; r++)
		for (v = 0; v < CV_COUNT; v++) {
			secs[v][r] = cold_run(v, a, c, block, fsize, &d);
			if (!cold_variants[v].warm && !d)
				dropped = 0;
		}
	if (!dropped)
		printf("WARNING: /proc/sys/vm/drop_caches could not be written "
		    "(not root?): only POSIX_FADV_DONTNEED was used\n");
	printf("%-42s %9s %9s %9s %9s\n", "variant", "s (med)", "MiB/s",
	    "s min", "s max");
	for (v = 0; v < CV_COUNT; v++) {
		s = median(secs[v], runs);
		printf("%-42s %9.2f %9.0f %9.2f %9.2f\n", cold_variants[v].what,
		    s, fsize / MIB / s, secs[v][0], secs[v][runs - 1]);
	}
	if (unlink(cold_path) == -1)
		die("unlink %s", cold_path);
	printf("removed %s\n", cold_path);
	free(cold_path);
	cold_path = NULL;
	free(block);
}

static unsigned char *
load_file(const char *path, size_t *len)
{
	struct stat	 st;
	unsigned char	*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		die("%s", path);
	if (st.st_size == 0) {
		errno = 0;
		die("%s is empty", path);
	}
	*len = st.st_size;
	if ((buf = malloc(*len)) == NULL)
		die("malloc %zu", *len);
	while (off < *len) {
		if ((n = read(fd, buf + off, *len - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			die("read %s", path);
		}
		off += n;
	}
	close(fd);
	return buf;
}

static void
usage(void)
{
	fprintf(stderr, "usage: hashspeed [-s MiB | -f file] [-r runs] "
	    "[-d dir] [-c MiB] [-k runs] [-p cpu]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const struct hash_alg	*best = NULL, *second = NULL;
	struct hash_ctx		 ctx;
	unsigned char		*buf;
	const char		*file = NULL, *dir = "/tmp";
	size_t			 len = 1024 * MIB, cold = 2048 * MIB, i;
	int			 ch, runs = 5, cold_runs = 3, cpu = -1;
	double			 t0;

	while ((ch = getopt(argc, argv, "s:f:r:d:c:k:p:")) != -1) {
		switch (ch) {
		case 's':
			len = parse_ulong(optarg, "size", 1UL << 20) * MIB;
			break;
		case 'f':
			file = optarg;
			break;
		case 'r':
			runs = parse_ulong(optarg, "runs", MAX_RUNS);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			cold = parse_ulong(optarg, "cold size", 1UL << 20) * MIB;
			break;
		case 'k':
			cold_runs = parse_ulong(optarg, "cold runs", MAX_RUNS);
			break;
		case 'p':
			cpu = parse_ulong(optarg, "cpu", CPU_SETSIZE - 1);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || runs < 1 || cold_runs < 1 || (!file && len == 0))
		usage();
	if (sodium_init() < 0)
		die("sodium_init");
	if (cpu >= 0) {
		cpu_set_t	set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1)
			die("sched_setaffinity %d", cpu);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_cpu();
	printf("pinned to CPU: %s", cpu >= 0 ? "" : "no\n");
	if (cpu >= 0)
		printf("%d\n", cpu);

	for (i = 0; i < NALGS; i++) {
		if (algs[i].kind != HK_EVP) {
			algs[i].available = 1;
			continue;
		}
		algs[i].md = EVP_MD_fetch(NULL, algs[i].evp_name, NULL);
		algs[i].available = algs[i].md != NULL;
	}
	ctx_new(&ctx);

	t0 = now(CLOCK_MONOTONIC);
	if (file != NULL)
		buf = load_file(file, &len);
	else {
		if ((buf = malloc(len)) == NULL)
			die("malloc %zu", len);
		fill_random(buf, len, 1);
	}
	printf("input: %s, %zu bytes, ready in %.1f s\n",
	    file != NULL ? file : "random bytes (ChaCha20, libsodium)", len,
	    now(CLOCK_MONOTONIC) - t0);

	part_speed(buf, len, runs, &ctx);
	for (i = 0; i < NALGS; i++) {
		if (!algs[i].available || !algs[i].eligible)
			continue;
		if (best == NULL || algs[i].cpu_med > best->cpu_med) {
			second = best;
			best = &algs[i];
		} else if (second == NULL || algs[i].cpu_med > second->cpu_med)
			second = &algs[i];
	}
	if (best == NULL) {
		errno = 0;
		die("no hash available");
	}
	printf("best (fastest, >= 256 bits, CPU time): %s (%s), second: %s "
	    "(%s)\n", best->name, best->lib, second ? second->name : "none",
	    second ? second->lib : "-");

	part_pieces(buf, len, runs, &ctx, best, second);
	free(buf);
	if (cold > 0)
		part_cold(dir, cold, cold_runs, best, &ctx);

	EVP_MD_CTX_free(ctx.evp);
	for (i = 0; i < NALGS; i++)
		EVP_MD_free(algs[i].md);
	return 0;	/* the digests went to the volatile sink */
}
