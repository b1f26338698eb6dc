/*
 * The progress floor: a source that owes us bytes must deliver at least
 * FLOOR_RATE, measured over each FLOOR_WINDOW it owes them, or it is
 * dropped and its chunks go to the other sources. The stall timer only
 * hears silence; one byte every few seconds is not silence, and without
 * a floor it would hold a download forever.
 *
 * FLOOR_RATE is 0.5 Mbit/s, far below what a LAN link gives even when
 * thirty downloads share it, and far above a trickle. FLOOR_WINDOW is
 * long enough for TCP to recover from a burst of losses, and short
 * enough that a trickling source costs a download seconds, not hours.
 * Each request counts as FLOOR_REQUEST_CREDIT of progress (one second
 * at the floor): its round trip and the source's disk seek, so a game
 * of many small files, each asked for alone, never looks slow; a source
 * must still answer those requests within about a second each.
 */
#ifndef LANSPREAD_FLOOR_H
#define LANSPREAD_FLOOR_H

#include <stdint.h>

#define FLOOR_RATE		(64ULL * 1024)	/* bytes per second */
#define FLOOR_WINDOW		10.0		/* seconds */
#define FLOOR_REQUEST_CREDIT	FLOOR_RATE	/* bytes, per request */

struct rate_floor {
	double		 start;		/* of this window; < 0: owes nothing */
	uint64_t	 progress;	/* bytes in, and credit, this window */
	uint64_t	 bytes;		/* bytes in, this window */
	uint64_t	 ahead;		/* counted unread by the last window */
};

/* A source that owes nothing yet. */
void	floor_init(struct rate_floor *);

/*
 * A request went out at now: the source owes bytes from here (a window
 * starts unless one is running) and is credited for the request.
 */
void	floor_request(struct rate_floor *, double now);

/* Bytes arrived from the source. */
void	floor_bytes(struct rate_floor *, uint64_t);

/* The source owes nothing any more: no window runs. */
void	floor_idle(struct rate_floor *);

/* 1 while the source owes bytes (a window runs). */
int	floor_owes(const struct rate_floor *);

/*
 * The end of a window, at now: 1 when the source made less progress
 * than FLOOR_RATE over the time it owed bytes (the bytes it sent in
 * *got, that time in *secs); else 0, and the next window starts at now.
 * 0 as well while a window is still short of FLOOR_WINDOW, or none
 * runs. unread: bytes that arrived and are not read yet (our own disk
 * may have held the loop); they count now, and not again when read.
 */
int	floor_below(struct rate_floor *, double now, uint64_t unread,
	    uint64_t *got, double *secs);

#endif
