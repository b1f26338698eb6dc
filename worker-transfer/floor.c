/* The progress floor's arithmetic (see floor.h). */
#include "worker-transfer/floor.h"

/* A timer may fire a hair before the window's end. */
#define FLOOR_SLACK	0.01

void
floor_init(struct rate_floor *fl)
{
	fl->start = -1.0;
	fl->progress = fl->bytes = fl->ahead = 0;
}

void
floor_request(struct rate_floor *fl, double now)
{
	if (fl->start < 0) {
		fl->start = now;
		fl->progress = fl->bytes = 0;
	}
	fl->progress += FLOOR_REQUEST_CREDIT;
}

void
floor_bytes(struct rate_floor *fl, uint64_t n)
{
	uint64_t counted = n < fl->ahead ? n : fl->ahead;

	fl->ahead -= counted;
	n -= counted;
	if (fl->start >= 0) {
		fl->progress += n;
		fl->bytes += n;
	}
}

void
floor_idle(struct rate_floor *fl)
{
	floor_init(fl);
}

int
floor_owes(const struct rate_floor *fl)
{
	return fl->start >= 0;
}

int
floor_below(struct rate_floor *fl, double now, uint64_t unread,
    uint64_t *got, double *secs)
{
	double	 elapsed = now - fl->start;

	if (fl->start < 0 || elapsed < FLOOR_WINDOW - FLOOR_SLACK)
		return 0;
	/* What came in meanwhile and is not read yet was counted already. */
	unread = unread > fl->ahead ? unread - fl->ahead : 0;
	if ((double)(fl->progress + unread) < (double)FLOOR_RATE * elapsed) {
		*got = fl->bytes + unread;
		*secs = elapsed;
		return 1;
	}
	fl->start = now;
	fl->progress = fl->bytes = 0;
	fl->ahead += unread;
	return 0;
}
