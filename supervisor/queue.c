/*
 * The download queue: with max_active_downloads set, a download beyond it
 * waits as a Queued operation, in the order asked (which the queue
 * command changes), and starts when a running one ends. lanspread-peer
 * keeps no queue unless told: the seed runs downloads side by side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

static int
is_running_download(const struct operation *op)
{
	return op->kind == OP_DOWNLOADING || op->kind == OP_STREAM_INSTALLING ||
	    op->kind == OP_REPAIRING;
}

/* Whether a new download must wait. */
int
queue_full(struct sup *sup)
{
	struct operation *op;
	int		 running = 0;

	if (sup->max_active_downloads <= 0)
		return 0;
	TAILQ_FOREACH(op, &sup->ops, entry)
		running += is_running_download(op) || op->kind == OP_QUEUED;
	return running >= sup->max_active_downloads;
}

/* Starts queued downloads, first first, while there is room. */
static void
queue_advance_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup	*sup = w->data;
	struct operation *op;
	int		 running = 0;

	(void)loop;
	(void)revents;
	if (sup->stopping)
		return;
	TAILQ_FOREACH(op, &sup->ops, entry)
		running += is_running_download(op);
	TAILQ_FOREACH(op, &sup->ops, entry) {
		if (op->kind != OP_QUEUED)
			continue;
		if (sup->max_active_downloads > 0 &&
		    running >= sup->max_active_downloads)
			break;
		log_info("%s: starting the queued download", op->game_id);
		sup_op_set(sup, op, OP_DOWNLOADING);
		running++;
		if (commands_fetch(sup, op->game_id, FETCH_DOWNLOAD, NULL, 0) ==
		    -1) {
			/* The next look, after this one is gone, goes on. */
			op_fetch_unavailable(sup, op);
			return;
		}
	}
}

/*
 * Something ended or the limit changed: look at the queue from the loop,
 * never from inside a walk of the operations that may be removing them.
 */
void
queue_kick(struct sup *sup)
{
	if (!ev_is_active(&sup->queue_timer)) {
		ev_timer_init(&sup->queue_timer, queue_advance_cb, 0., 0.);
		sup->queue_timer.data = sup;
		ev_timer_start(sup->loop, &sup->queue_timer);
	}
}

/* The queue, in order: [{game_id, position}]. */
json_t *
queue_json(struct sup *sup)
{
	struct operation *op;
	json_t		*a = json_array();
	int		 pos = 0;

	TAILQ_FOREACH(op, &sup->ops, entry)
		if (op->kind == OP_QUEUED)
			json_array_append_new(a, json_pack("{s:s,s:i}",
			    "game_id", op->game_id, "position", ++pos));
	return a;
}

/* Moves a queued download to position (1: next to start); -1: not queued. */
int
queue_move(struct sup *sup, const char *game_id, int position)
{
	struct operation *op, *it, *moved = NULL;
	int		 pos = 0;

	TAILQ_FOREACH(op, &sup->ops, entry)
		if (op->kind == OP_QUEUED && strcmp(op->game_id, game_id) == 0)
			moved = op;
	if (moved == NULL)
		return -1;
	TAILQ_REMOVE(&sup->ops, moved, entry);
	TAILQ_FOREACH(it, &sup->ops, entry)
		if (it->kind == OP_QUEUED && ++pos == position)
			break;
	if (it != NULL)
		TAILQ_INSERT_BEFORE(it, moved, entry);
	else
		TAILQ_INSERT_TAIL(&sup->ops, moved, entry);
	sup_op_set(sup, moved, OP_QUEUED);	/* announced again */
	return 0;
}
