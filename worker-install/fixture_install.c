/*
 * The seed's fixture installer, which lanspread-peer uses when it is given
 * no --unrar: local/fixture-payload.txt holds the archives' bytes, in
 * order, instead of their extracted entries.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/path.h"
#include "worker-install/extract.h"

int
fixture_install(int game_fd, char *const names[], size_t n, int dest_fd,
    char *err, size_t errsz)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	size_t		 i;
	int		 in = -1, out = -1, ret = -1;

	if (errsz > 0)
		err[0] = '\0';
	if ((buf = malloc(EXTRACT_BLOCK)) == NULL)
		return seterr(err, errsz, "fixture install: %s",
		    strerror(errno));
	out = path_open_beneath(dest_fd, FIXTURE_PAYLOAD,
	    O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out == -1) {
		seterr(err, errsz, "cannot create %s: %s", FIXTURE_PAYLOAD,
		    strerror(errno));
		goto done;
	}
	for (i = 0; i < n; i++) {
		in = openat(game_fd, names[i], O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC | O_NONBLOCK);
		if (in == -1 || fstat(in, &st) == -1) {
			seterr(err, errsz, "%s: %s", names[i],
			    strerror(errno));
			goto done;
		}
		if (!S_ISREG(st.st_mode)) {
			seterr(err, errsz, "%s: not a regular file",
			    names[i]);
			goto done;
		}
		for (;;) {
			if ((r = read(in, buf, EXTRACT_BLOCK)) == -1) {
				if (errno == EINTR)
					continue;
				seterr(err, errsz, "%s: %s", names[i],
				    strerror(errno));
				goto done;
			}
			if (r == 0)
				break;
			if (write_full(out, buf, (size_t)r) == -1) {
				seterr(err, errsz, "cannot write %s: %s",
				    FIXTURE_PAYLOAD, strerror(errno));
				goto done;
			}
		}
		close(in);
		in = -1;
	}
	if (close(out) == -1) {
		out = -1;
		seterr(err, errsz, "cannot write %s: %s", FIXTURE_PAYLOAD,
		    strerror(errno));
		goto done;
	}
	out = -1;
	ret = 0;

done:
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	free(buf);
	return ret;
}
