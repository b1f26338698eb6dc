/* A small cache of open files, least recently used out (see fdcache.h). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker-transfer/fdcache.h"

int
fdcache_init(struct fdcache *c, size_t cap, fdcache_open_fn open_fn,
    void *arg)
{
	c->n = 0;
	c->clock = 0;
	c->open = open_fn;
	c->arg = arg;
	c->cap = cap > 0 ? cap : 1;
	if ((c->slots = calloc(c->cap, sizeof(*c->slots))) == NULL)
		return -1;
	return 0;
}

/* Closes the least recently used descriptor. 0 when none was open. */
static int
fdcache_evict(struct fdcache *c)
{
	size_t	 i, lru = 0;

	if (c->n == 0)
		return 0;
	for (i = 1; i < c->n; i++)
		if (c->slots[i].used < c->slots[lru].used)
			lru = i;
	close(c->slots[lru].fd);
	c->slots[lru] = c->slots[--c->n];
	return 1;
}

int
fdcache_get(struct fdcache *c, size_t key)
{
	size_t	 i;
	int	 fd;

	for (i = 0; i < c->n; i++)
		if (c->slots[i].key == key) {
			c->slots[i].used = ++c->clock;
			return c->slots[i].fd;
		}
	if (c->n == c->cap)
		fdcache_evict(c);
	/* Out of descriptors: ours are the ones to give back. */
	while ((fd = c->open(c->arg, key)) == -1 &&
	    (errno == EMFILE || errno == ENFILE))
		if (!fdcache_evict(c)) {
			errno = EMFILE;
			return -1;
		}
	if (fd == -1)
		return -1;
	c->slots[c->n].key = key;
	c->slots[c->n].fd = fd;
	c->slots[c->n++].used = ++c->clock;
	return fd;
}

size_t
fdcache_count(const struct fdcache *c)
{
	return c->n;
}

void
fdcache_close_all(struct fdcache *c)
{
	while (c->n > 0)
		close(c->slots[--c->n].fd);
}

void
fdcache_free(struct fdcache *c)
{
	if (c->slots != NULL)
		fdcache_close_all(c);
	free(c->slots);
	c->slots = NULL;
	c->cap = 0;
}
