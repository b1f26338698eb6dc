/* The names and the walk of a games folder (see layout.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/path.h"

int
peer_id_is_valid(const char *id)
{
	size_t	 i;

	for (i = 0; i < PEER_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[PEER_ID_LEN] == '\0';
}

int
games_each(int games_fd, games_each_cb fn, void *arg)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, rc = 0;

	/* A fresh descriptor: readdir must not move games_fd's offset. */
	if ((fd = openat(games_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		int	 game_fd;

		if (!path_is_valid_game_id(de->d_name))
			continue;
		/* Folders only, and never through a symbolic link. */
		game_fd = openat(games_fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (game_fd == -1)
			continue;
		rc = fn(game_fd, de->d_name, arg);
		close(game_fd);
	}
	closedir(d);
	return rc;
}
