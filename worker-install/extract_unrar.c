/*
 * The external unrar back end: "unrar x" extracts into a folder we then
 * check (no link, no special file), or into a temporary folder whose
 * entries are streamed as extract_stream.c streams libarchive's.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/close_range.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/log.h"
#include "common/path.h"
#include "worker-install/extract.h"

/* Most bytes of "unrar lb" output we read. */
#define LIST_MAX	(64u * 1024 * 1024)
/* Most descriptors the child closes when close_range(2) is missing. */
#define CLOSE_MAX	65536

static void	child_exec(char *const [], int, int, int)
		    __attribute__((noreturn));
static int	run_prog(char *const [], char **, size_t *, char *, size_t);
static int	walk_check(int, const char *, int, char *, size_t);
static int	unrar_one(const char *, int, const char *, const char *,
		    const char *, char *, size_t);
static int	stream_listed(int, const char *, const char *, struct xout *,
		    struct xstate *);

/*
 * The child side of run_prog(): stdin from in, stdout to out, stderr
 * inherited, nothing else; exec failure goes back as errno on errfd.
 */
static void
child_exec(char *const argv[], int in, int out, int errfd)
{
	sigset_t	all;
	int		fd, e;

	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1)
		goto fail;
	/* dup2 onto itself keeps close-on-exec. */
	fcntl(STDIN_FILENO, F_SETFD, 0);
	fcntl(STDOUT_FILENO, F_SETFD, 0);
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		for (fd = 3; fd < CLOSE_MAX; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);	/* the worker ignores these */
	signal(SIGINT, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	execv(argv[0], argv);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/*
 * Runs argv[0] with argv (no shell, no PATH search) and waits for it.
 * With outp, its stdout is collected (NUL-terminated) into *outp, else it
 * goes to /dev/null. Returns 0 when it exits with status 0.
 */
static int
run_prog(char *const argv[], char **outp, size_t *outlenp, char *err,
    size_t errsz)
{
	char	*out = NULL, *grown, sink[4096];
	size_t	 len = 0, cap = 0;
	ssize_t	 r;
	pid_t	 pid;
	int	 errpipe[2] = { -1, -1 }, outpipe[2] = { -1, -1 };
	int	 devnull = -1, status, child_errno, overflow = 0, ret = -1;

	if (pipe2(errpipe, O_CLOEXEC) == -1 ||
	    (outp != NULL && pipe2(outpipe, O_CLOEXEC) == -1) ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		seterr(err, errsz, "cannot run %s: %s", argv[0],
		    strerror(errno));
		goto done;
	}
	if ((pid = fork()) == -1) {
		seterr(err, errsz, "cannot run %s: %s", argv[0],
		    strerror(errno));
		goto done;
	}
	if (pid == 0)
		child_exec(argv, devnull, outp != NULL ? outpipe[1] : devnull,
		    errpipe[1]);
	close(errpipe[1]);
	errpipe[1] = -1;
	if (outp != NULL) {
		close(outpipe[1]);
		outpipe[1] = -1;
		for (;;) {
			if (cap - len < 65536 && !overflow) {
				cap = cap == 0 ? 65536 : cap * 2;
				if (cap > LIST_MAX + 1 ||
				    (grown = realloc(out, cap)) == NULL) {
					/* Drain, fail: the child must end. */
					overflow = 1;
					kill(pid, SIGKILL);
				} else
					out = grown;
			}
			if (overflow)
				r = read(outpipe[0], sink, sizeof(sink));
			else
				r = read(outpipe[0], out + len,
				    cap - len - 1);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (!overflow)
				len += (size_t)r;
		}
	}
	do {
		r = read(errpipe[0], &child_errno, sizeof(child_errno));
	} while (r == -1 && errno == EINTR);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			seterr(err, errsz, "%s: %s", argv[0],
			    strerror(errno));
			goto done;
		}
	}
	if (r == (ssize_t)sizeof(child_errno))
		seterr(err, errsz, "cannot run %s: %s", argv[0],
		    strerror(child_errno));
	else if (overflow)
		seterr(err, errsz, "%s: too much output", argv[0]);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		seterr(err, errsz, "%s exited with status %d", argv[0],
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		seterr(err, errsz, "%s killed by signal %d", argv[0],
		    WTERMSIG(status));
	else {
		if (outp != NULL) {
			if (out == NULL && (out = malloc(1)) == NULL) {
				seterr(err, errsz, "%s: %s", argv[0],
				    strerror(errno));
				goto done;
			}
			out[len] = '\0';
			*outp = out;
			*outlenp = len;
			out = NULL;
		}
		ret = 0;
	}

done:
	free(out);
	if (errpipe[0] != -1)
		close(errpipe[0]);
	if (errpipe[1] != -1)
		close(errpipe[1]);
	if (outpipe[0] != -1)
		close(outpipe[0]);
	if (outpipe[1] != -1)
		close(outpipe[1]);
	if (devnull != -1)
		close(devnull);
	return ret;
}

/*
 * Refuses a symbolic link or special file anywhere under the folder open
 * on fd (rel is its name, for messages). fd stays open.
 */
static int
walk_check(int fd, const char *rel, int depth, char *err, size_t errsz)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX], show[SHOWN_MAX];
	int		 sub, ret = -1;

	if (depth > PATH_MAX / 2)
		return seterr(err, errsz, "unrar left a folder too deep");
	if ((dir = dir_stream(fd)) == NULL)
		return seterr(err, errsz, "cannot check %s: %s", rel,
		    strerror(errno));
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0) {
				seterr(err, errsz, "cannot check %s: %s", rel,
				    strerror(errno));
				goto done;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (path_join(path, sizeof(path), rel, de->d_name) == -1) {
			seterr(err, errsz, "unrar left a name too long");
			goto done;
		}
		shown(path, show, sizeof(show));
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			seterr(err, errsz, "cannot check %s: %s", show,
			    strerror(errno));
			goto done;
		}
		if (S_ISLNK(st.st_mode)) {
			seterr(err, errsz, "archive entry %s is a link: "
			    "refused", show);
			goto done;
		}
		if (S_ISREG(st.st_mode))
			continue;
		if (!S_ISDIR(st.st_mode)) {
			seterr(err, errsz, "archive entry %s is a special "
			    "file: refused", show);
			goto done;
		}
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1) {
			seterr(err, errsz, "cannot check %s: %s", show,
			    strerror(errno));
			goto done;
		}
		if (walk_check(sub, path, depth + 1, err, errsz) == -1) {
			close(sub);
			goto done;
		}
		close(sub);
	}
	ret = 0;
done:
	closedir(dir);
	return ret;
}

/* One "unrar x" of name into dest_path, then the check of dest_path. */
static int
unrar_one(const char *unrar, int game_fd, const char *game_dir_path,
    const char *name, const char *dest_path, char *err, size_t errsz)
{
	struct stat	 st;
	char		 archive[PATH_MAX], dest[PATH_MAX];
	char		*argv[8];
	int		 fd, r;

	if (!path_is_safe_relative(name) || strchr(name, '/') != NULL)
		return seterr(err, errsz, "bad archive name");
	/* unrar opens the path itself: it must not be a link. */
	if (fstatat(game_fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return seterr(err, errsz, "%s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return seterr(err, errsz, "%s: not a regular file", name);
	if (path_join(archive, sizeof(archive), game_dir_path, name) == -1 ||
	    path_join(dest, sizeof(dest), dest_path, "") == -1)
		return seterr(err, errsz, "%s: %s", name, strerror(errno));
	argv[0] = (char *)unrar;
	argv[1] = "x";
	argv[2] = "-o+";
	argv[3] = "-y";
	argv[4] = "-idq";
	argv[5] = archive;
	argv[6] = dest;
	argv[7] = NULL;
	if (run_prog(argv, NULL, NULL, err, errsz) == -1)
		return -1;

	if ((fd = open(dest_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return seterr(err, errsz, "%s: %s", dest_path,
		    strerror(errno));
	r = walk_check(fd, "", 0, err, errsz);
	close(fd);
	return r;
}

int
extract_archives_unrar(const char *unrar, int game_fd,
    const char *game_dir_path, char *const names[], size_t n,
    const char *dest_path, char *err, size_t errsz)
{
	size_t	i;

	if (errsz > 0)
		err[0] = '\0';
	for (i = 0; i < n; i++)
		if (unrar_one(unrar, game_fd, game_dir_path, names[i],
		    dest_path, err, errsz) == -1)
			return -1;
	return 0;
}

/*
 * Streams one name of an "unrar lb" listing from the extracted folder
 * tmp_fd: a regular file as an entry frame and its bytes, a folder as
 * nothing.
 */
static int
stream_listed(int tmp_fd, const char *aname, const char *name,
    struct xout *o, struct xstate *xs)
{
	struct stat	 st;
	char		 show[SHOWN_MAX], rel[PATH_MAX];
	uint64_t	 left;
	ssize_t		 r;
	size_t		 len;
	int		 fd;

	shown(name, show, sizeof(show));
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if ((len = strlen(name)) >= sizeof(rel))
		return seterr(xs->err, xs->errsz,
		    "%s: archive entry %s has a name too long: refused", aname,
		    show);
	memcpy(rel, name, len + 1);
	while (len > 0 && rel[len - 1] == '/')
		rel[--len] = '\0';
	name = rel;
	if (++xs->entries > xs->lim->max_entries)
		return seterr(xs->err, xs->errsz,
		    "%s: archive expands beyond %ju entries: refused", aname,
		    (uintmax_t)xs->lim->max_entries);
	if (!path_is_safe_relative(name))
		return seterr(xs->err, xs->errsz,
		    "%s: archive entry %s has an unsafe name: refused", aname,
		    show);
	if ((fd = path_open_beneath(tmp_fd, name, O_RDONLY | O_NONBLOCK,
	    0)) == -1)
		return seterr(xs->err, xs->errsz, "%s: archive entry %s: %s",
		    aname, show, strerror(errno));
	if (fstat(fd, &st) == -1) {
		seterr(xs->err, xs->errsz, "%s: archive entry %s: %s", aname,
		    show, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(xs->err, xs->errsz,
		    "%s: archive entry %s is a special file: refused", aname,
		    show);
		goto fail;
	}
	if ((uint64_t)st.st_size > xs->lim->max_total - xs->bytes) {
		too_big(aname, xs);
		goto fail;
	}
	if (xout_entry(o, name, (uint64_t)st.st_size, xs) == -1)
		goto fail;
	xs->crc = 0;
	for (left = (uint64_t)st.st_size; left > 0; left -= (uint64_t)r) {
		r = read(fd, xs->buf, left < EXTRACT_BLOCK ? left :
		    EXTRACT_BLOCK);
		if (r == -1 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0) {
			seterr(xs->err, xs->errsz, "%s: archive entry %s: %s",
			    aname, show, r == 0 ? "truncated" :
			    strerror(errno));
			goto fail;
		}
		if (xout_write(o, xs->buf, (size_t)r) == -1) {
			seterr(xs->err, xs->errsz, "stream: %s",
			    errno == EPIPE ? "the reader went away" :
			    strerror(errno));
			goto fail;
		}
		xs->crc = (uint32_t)crc32(xs->crc, (const Bytef *)xs->buf,
		    (uInt)r);
		xs->bytes += (uint64_t)r;
	}
	close(fd);
	/* unrar checked the archive's CRC32; the reader checks ours. */
	return xout_entry_sum(o, xs->crc, xs);

fail:
	close(fd);
	return -1;
}

int
stream_archives_unrar(const char *unrar, int game_fd,
    const char *game_dir_path, char *const names[], size_t n, int out_fd,
    const struct extract_limits *lim, char *err, size_t errsz)
{
	struct xstate	 xs;
	struct xout	 o;
	char		 tmpname[64], tmppath[PATH_MAX], archive[PATH_MAX];
	char		*argv[4], *list = NULL, *line, *next;
	size_t		 i, listlen, len;
	int		 tmp_fd, e = 0, made = 0;

	xout_init(&o, out_fd);
	if (xstate_init(&xs, lim, err, errsz) == -1) {
		xout_error(&o, err);
		return -1;
	}
	snprintf(tmpname, sizeof(tmpname), "%s.%ld", EXTRACT_STREAM_TMP,
	    (long)getpid());
	if (path_join(tmppath, sizeof(tmppath), game_dir_path, tmpname) ==
	    -1) {
		e = seterr(err, errsz, "%s: %s", game_dir_path,
		    strerror(errno));
		goto done;
	}
	for (i = 0; i < n && e == 0; i++) {
		/* A fresh folder per archive: a leftover one is ours too. */
		if (path_remove_tree_beneath(game_fd, tmpname) == -1 ||
		    mkdirat(game_fd, tmpname, 0700) == -1) {
			e = seterr(err, errsz, "cannot create %s: %s",
			    tmpname, strerror(errno));
			break;
		}
		made = 1;
		if (unrar_one(unrar, game_fd, game_dir_path, names[i],
		    tmppath, err, errsz) == -1) {
			e = -1;
			break;
		}
		if (path_join(archive, sizeof(archive), game_dir_path,
		    names[i]) == -1) {
			e = seterr(err, errsz, "%s: %s", names[i],
			    strerror(errno));
			break;
		}
		argv[0] = (char *)unrar;
		argv[1] = "lb";
		argv[2] = archive;
		argv[3] = NULL;
		if (run_prog(argv, &list, &listlen, err, errsz) == -1) {
			e = -1;
			break;
		}
		if (memchr(list, '\0', listlen) != NULL) {
			e = seterr(err, errsz, "%s: bad listing from %s",
			    names[i], unrar);
			break;
		}
		if ((tmp_fd = path_open_beneath(game_fd, tmpname,
		    O_RDONLY | O_DIRECTORY, 0)) == -1) {
			e = seterr(err, errsz, "%s: %s", tmpname,
			    strerror(errno));
			break;
		}
		for (line = list; line != NULL && *line != '\0'; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			len = strlen(line);
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
			if (len == 0)
				continue;
			if ((e = stream_listed(tmp_fd, names[i], line, &o,
			    &xs)) == -1)
				break;
		}
		close(tmp_fd);
		free(list);
		list = NULL;
	}
	if (e == 0)
		e = xout_end(&o, &xs);

done:
	if (made)
		(void)path_remove_tree_beneath(game_fd, tmpname);
	if (e == -1)
		xout_error(&o, err);
	free(list);
	free(xs.buf);
	return e == -1 ? -1 : 0;
}
