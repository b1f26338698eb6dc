/* Token buckets for the speed limits, and their units (see rate.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/rate.h"

/*
 * A bucket holds at most RATE_BURST_S of its rate: enough that a link
 * sends in large writes, little enough that the limit holds over a
 * fraction of a second.
 */
#define RATE_BURST_S	0.05
#define RATE_BURST_MIN	(64u * 1024)
/* Below this many bytes a write waits for more: no dribbling syscalls. */
#define RATE_GRAIN	(16u * 1024)

static double
burst(const struct rate_bucket *b)
{
	double	 size = (double)b->rate * RATE_BURST_S;

	return size < RATE_BURST_MIN ? RATE_BURST_MIN : size;
}

void
rate_set(struct rate_bucket *b, uint64_t rate, double now)
{
	b->rate = rate;
	b->tokens = 0;
	b->last = now;
}

uint64_t
rate_allow(struct rate_bucket *b, double now, uint64_t want)
{
	uint64_t	 grain = want < RATE_GRAIN ? want : RATE_GRAIN;

	if (b->rate == 0)
		return want;
	if (now > b->last) {
		b->tokens += (now - b->last) * (double)b->rate;
		if (b->tokens > burst(b))
			b->tokens = burst(b);
		b->last = now;
	}
	/* A byte of slack: rate_wait()'s sums do not land exactly. */
	if (b->tokens < (double)grain - 1.0)
		return 0;
	if ((double)want <= b->tokens)
		return want;
	return b->tokens < 1.0 ? 1 : (uint64_t)b->tokens;
}

void
rate_spent(struct rate_bucket *b, uint64_t n)
{
	if (b->rate != 0)
		b->tokens -= (double)n;
}

double
rate_wait(const struct rate_bucket *b)
{
	double	 missing = (double)RATE_GRAIN - b->tokens;

	if (b->rate == 0 || missing <= 0)
		return 0;
	return missing / (double)b->rate;
}

int
rate_parse(const char *s, uint64_t *bps, char *err, size_t errsz)
{
	static const struct { const char *unit; double bytes; } units[] = {
		{ "", 1 }, { "b", 1 },
		{ "kb", 1e3 }, { "kib", 1024.0 },
		{ "mb", 1e6 }, { "mib", 1048576.0 },
		{ "gb", 1e9 }, { "gib", 1073741824.0 },
		{ "kbit", 1e3 / 8 }, { "mbit", 1e6 / 8 }, { "gbit", 1e9 / 8 },
	};
	char	*end, unit[16];
	double	 v;
	size_t	 i, len;

	if (strcasecmp(s, "none") == 0) {
		*bps = 0;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0 || !isfinite(v))
		return seterr(err, errsz, "%s: not a speed (e.g. 50MiB, "
		    "400mbit, none)", s);
	while (*end == ' ')
		end++;
	/* "MiB/s" means what "MiB" does: every limit is per second. */
	if ((len = strlen(end)) >= sizeof(unit))
		len = sizeof(unit) - 1;
	memcpy(unit, end, len);
	unit[len] = '\0';
	if (len >= 2 && strcasecmp(unit + len - 2, "/s") == 0)
		unit[len - 2] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(unit, units[i].unit) != 0)
			continue;
		v *= units[i].bytes;
		if (v > 1e15)
			return seterr(err, errsz, "%s: too fast to mean a "
			    "limit", s);
		/* A limit that rounds to nothing is still a limit. */
		*bps = v > 0 && v < 1 ? 1 : (uint64_t)v;
		return 0;
	}
	return seterr(err, errsz, "%s: unknown unit (B, KB, KiB, MB, MiB, "
	    "GB, GiB, kbit, mbit, gbit)", s);
}

void
rate_format(uint64_t bps, char *buf, size_t size)
{
	if (bps == 0)
		snprintf(buf, size, "none");
	else if (bps >= 1048576)
		snprintf(buf, size, "%.1f MiB/s", bps / 1048576.0);
	else
		snprintf(buf, size, "%.1f KiB/s", bps / 1024.0);
}
