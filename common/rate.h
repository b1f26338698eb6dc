/*
 * Speed limits: a token bucket per direction, and the units a person
 * writes them in ("50MiB", "400mbit"; per second).
 */
#ifndef LANSPREAD_RATE_H
#define LANSPREAD_RATE_H

#include <stddef.h>
#include <stdint.h>

/* At most rate bytes a second, in bursts of a little; rate 0: no limit. */
struct rate_bucket {
	uint64_t	 rate;
	double		 tokens;
	double		 last;		/* when tokens were counted */
};

void		 rate_set(struct rate_bucket *, uint64_t rate, double now);
/* How many of want bytes may go now (0: wait rate_wait seconds). */
uint64_t	 rate_allow(struct rate_bucket *, double now, uint64_t want);
void		 rate_spent(struct rate_bucket *, uint64_t n);
double		 rate_wait(const struct rate_bucket *);
/* "0", "none", "N", "N<unit>" with B KB KiB MB MiB GB GiB kbit mbit gbit. */
int		 rate_parse(const char *, uint64_t *bytes_per_s, char *err,
		    size_t errsz);
/* The limit as a person reads it: "none" or "50.0 MiB/s". */
void		 rate_format(uint64_t bytes_per_s, char *buf, size_t size);

#endif
