/*
 * A download's open files: a small cache of descriptors, the least
 * recently used closed first. A game of any number of files is fetched
 * with at most FDCACHE_SIZE of them open, so it fits under any
 * descriptor limit that leaves room for its links.
 */
#ifndef LANSPREAD_FDCACHE_H
#define LANSPREAD_FDCACHE_H

#include <stddef.h>
#include <stdint.h>

#define FDCACHE_SIZE	64

/* Opens file key (an index into the caller's list): an fd, or -1 and errno. */
typedef int	(*fdcache_open_fn)(void *arg, size_t key);

struct fdcache_slot {
	size_t		 key;
	int		 fd;
	uint64_t	 used;		/* when last handed out */
};

struct fdcache {
	struct fdcache_slot *slots;
	size_t		 cap;
	size_t		 n;
	uint64_t	 clock;
	fdcache_open_fn	 open;
	void		*arg;
};

/* An empty cache of cap descriptors. 0, or -1 when out of memory. */
int	fdcache_init(struct fdcache *, size_t cap, fdcache_open_fn, void *arg);

/*
 * The descriptor of file key, opened when it is not open yet; when the
 * cache is full the least recently used one is closed first, and so are
 * more while the open fails with EMFILE or ENFILE. -1 with errno set
 * when it cannot be opened. The fd stays valid until the next call.
 */
int	fdcache_get(struct fdcache *, size_t key);

/* How many descriptors are open now. */
size_t	fdcache_count(const struct fdcache *);

/* Closes every descriptor; the cache can be used again. */
void	fdcache_close_all(struct fdcache *);

/* Closes every descriptor and frees the cache. */
void	fdcache_free(struct fdcache *);

#endif
