/* Small I/O helpers shared by the workers. */
#include <errno.h>
#include <unistd.h>

#include "common/io.h"

/* write(2) of all of buf, across short writes; -1 with errno set. */
int
write_full(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		if ((w = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
