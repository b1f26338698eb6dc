/* Small I/O helpers shared by the workers. */
#ifndef LANSPREAD_IO_H
#define LANSPREAD_IO_H

#include <stddef.h>

int	write_full(int fd, const void *buf, size_t len);

#endif
