/*
 * Archive extraction: libarchive reads the .eti archives, and we write
 * every entry ourselves beneath the destination fd (never
 * archive_write_disk), so a hostile name, link or device cannot reach
 * outside it. The same reader feeds the stream install, which sends each
 * entry as a peer-wire frame instead of writing it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/close_range.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/path.h"
#include "worker-install/extract.h"

/* Most bytes of "unrar lb" output we read. */
#define LIST_MAX	(64u * 1024 * 1024)
/* Most descriptors the child closes when close_range(2) is missing. */
#define CLOSE_MAX	65536
/* An entry name as shown in messages. */
#define SHOWN_MAX	512

/* What one extraction or stream has consumed so far. */
struct xstate {
	const struct extract_limits *lim;
	uint64_t	 entries;	/* every kind */
	uint64_t	 files;		/* regular ones */
	uint64_t	 bytes;		/* of regular ones */
	char		*buf;		/* EXTRACT_BLOCK */
	char		*err;
	size_t		 errsz;
};

/* One entry of an archive, checked. */
struct xentry {
	char		 path[PATH_MAX];
	int		 is_dir;
	int		 size_known;
	uint64_t	 size;
	mode_t		 mode;		/* for a regular file */
};

/* The stream's output link. */
struct xout {
	int		 fd;
	int		 sock;		/* send(MSG_NOSIGNAL), not write */
	int		 boundary;	/* between two frames */
	int		 broken;	/* a write failed: no more */
};

static const char *shown(const char *, char *, size_t);
static int	cmp_names(const void *, const void *);
static int	xstate_init(struct xstate *, const struct extract_limits *,
		    char *, size_t);
static struct archive *archive_open_at(int, const char *, int *, char *,
		    size_t);
static void	archive_done(struct archive *, int);
static int	la_error(struct archive *, const char *, struct xstate *);
static int	too_big(const char *, struct xstate *);
static int	next_entry(struct archive *, const char *, struct xstate *,
		    struct xentry *);
static ssize_t	read_block(struct archive *, const char *,
		    struct xstate *, const struct xentry *, uint64_t *);
static int	make_parent(int, const char *, const char *, struct xstate *);
static int	extract_file(struct archive *, const char *, int,
		    const struct xentry *, struct xstate *);
static void	xout_init(struct xout *, int);
static int	xout_write(struct xout *, const void *, size_t);
static int	xout_frame(struct xout *, struct msgout *);
static int	xout_entry(struct xout *, const char *, uint64_t,
		    struct xstate *);
static int	xout_end(struct xout *, struct xstate *);
static void	xout_error(struct xout *, const char *);
static void	child_exec(char *const [], int, int, int)
		    __attribute__((noreturn));
static int	run_prog(char *const [], char **, size_t *, char *, size_t);
static int	walk_check(int, const char *, int, char *, size_t);
static int	unrar_one(const char *, int, const char *, const char *,
		    const char *, char *, size_t);
static int	stream_listed(int, const char *, const char *, struct xout *,
		    struct xstate *);

/* s with control bytes replaced, for messages. */
static const char *
shown(const char *s, char *buf, size_t size)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory stream over a copy of fd, read from the top. */
static DIR *
dir_stream(int fd)
{
	DIR	*dir;
	int	 dfd, saved;

	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return NULL;
	if ((dir = fdopendir(dfd)) == NULL) {
		saved = errno;
		close(dfd);
		errno = saved;
		return NULL;
	}
	/* The copy shares its offset with fd: start from the top. */
	rewinddir(dir);
	return dir;
}

void
archives_free(char **names, size_t n)
{
	size_t	i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
list_archives(int game_fd, char ***namesp, size_t *np, char *err,
    size_t errsz)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	char		**names = NULL, **grown;
	size_t		 n = 0, cap = 0, len;

	*namesp = NULL;
	*np = 0;
	if ((dir = dir_stream(game_fd)) == NULL)
		return seterr(err, errsz, "cannot read the game folder: %s",
		    strerror(errno));
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0) {
				seterr(err, errsz,
				    "cannot read the game folder: %s",
				    strerror(errno));
				goto fail;
			}
			break;
		}
		/* As the glob *.eti: no hidden files (our metadata). */
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 4 ||
		    strcmp(de->d_name + len - 4, ".eti") != 0)
			continue;
		if (fstatat(game_fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			seterr(err, errsz, "%s: %s", de->d_name,
			    strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			if ((grown = reallocarray(names, cap,
			    sizeof(*names))) == NULL)
				goto nomem;
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(dir);
	if (n == 0) {
		free(names);
		return seterr(err, errsz, "no archive in the game folder");
	}
	qsort(names, n, sizeof(*names), cmp_names);
	*namesp = names;
	*np = n;
	return 0;

nomem:
	seterr(err, errsz, "cannot list archives: %s", strerror(errno));
fail:
	closedir(dir);
	archives_free(names, n);
	return -1;
}

void
extract_default_limits(int game_fd, char *const names[], size_t n,
    struct extract_limits *lim)
{
	struct stat	st;
	uint64_t	sum = 0;
	size_t		i;

	for (i = 0; i < n; i++) {
		if (fstatat(game_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || st.st_size < 0)
			continue;
		if ((uint64_t)st.st_size > UINT64_MAX - sum)
			sum = UINT64_MAX;
		else
			sum += (uint64_t)st.st_size;
	}
	if (sum > (UINT64_MAX - EXTRACT_SLACK) / 1024)
		lim->max_total = UINT64_MAX;
	else
		lim->max_total = sum * 1024 + EXTRACT_SLACK;
	lim->max_entries = EXTRACT_MAX_ENTRIES;
	lim->progress = NULL;
	lim->progress_arg = NULL;
}

static int
xstate_init(struct xstate *xs, const struct extract_limits *lim, char *err,
    size_t errsz)
{
	memset(xs, 0, sizeof(*xs));
	xs->lim = lim;
	xs->err = err;
	xs->errsz = errsz;
	if (errsz > 0)
		err[0] = '\0';
	if ((xs->buf = malloc(EXTRACT_BLOCK)) == NULL)
		return seterr(err, errsz, "cannot extract: %s",
		    strerror(errno));
	return 0;
}

/*
 * Opens a game folder archive for reading; *fdp is its descriptor, to be
 * closed by archive_done().
 */
static struct archive *
archive_open_at(int game_fd, const char *name, int *fdp, char *err,
    size_t errsz)
{
	struct archive	*a;
	struct stat	 st;
	int		 fd;

	if (!path_is_safe_relative(name) || strchr(name, '/') != NULL) {
		seterr(err, errsz, "bad archive name");
		return NULL;
	}
	/* O_NONBLOCK: a fifo must not hang us; it is refused below. */
	fd = openat(game_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1) {
		seterr(err, errsz, "%s: %s", name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || fcntl(fd, F_SETFL, 0) == -1) {
		seterr(err, errsz, "%s: %s", name, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errsz, "%s: not a regular file", name);
		close(fd);
		return NULL;
	}
	if ((a = archive_read_new()) == NULL) {
		seterr(err, errsz, "%s: out of memory", name);
		close(fd);
		return NULL;
	}
	/* Games come as RAR only: no other parser is exposed. */
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	if (archive_read_open_fd(a, fd, EXTRACT_BLOCK) != ARCHIVE_OK) {
		seterr(err, errsz, "%s: %s", name,
		    archive_error_string(a) != NULL ?
		    archive_error_string(a) : "cannot open the archive");
		archive_read_free(a);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return a;
}

static void
archive_done(struct archive *a, int fd)
{
	archive_read_free(a);
	close(fd);
}

static int
la_error(struct archive *a, const char *aname, struct xstate *xs)
{
	const char	*msg = archive_error_string(a);

	return seterr(xs->err, xs->errsz, "%s: %s", aname,
	    msg != NULL ? msg : "archive read error");
}

static int
too_big(const char *aname, struct xstate *xs)
{
	return seterr(xs->err, xs->errsz,
	    "%s: archive expands beyond %ju bytes: refused", aname,
	    (uintmax_t)xs->lim->max_total);
}

/*
 * Reads and checks the next entry header. Returns 1 with *xe filled, 0
 * at the end of the archive, -1 on error or a refused entry.
 */
static int
next_entry(struct archive *a, const char *aname, struct xstate *xs,
    struct xentry *xe)
{
	struct archive_entry	*ae;
	char			 show[SHOWN_MAX];
	const char		*p, *what = NULL;
	size_t			 len;
	int			 r;

	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return la_error(a, aname, xs);
		if (++xs->entries > xs->lim->max_entries)
			return seterr(xs->err, xs->errsz,
			    "%s: archive expands beyond %ju entries: refused",
			    aname, (uintmax_t)xs->lim->max_entries);

		if ((p = archive_entry_pathname(ae)) == NULL)
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry without a usable name: refused",
			    aname);
		shown(p, show, sizeof(show));
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		if ((len = strlen(p)) >= sizeof(xe->path))
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry %s has a name too long: "
			    "refused", aname, show);
		memcpy(xe->path, p, len + 1);

		switch (archive_entry_filetype(ae)) {
		case AE_IFREG:
			xe->is_dir = 0;
			break;
		case AE_IFDIR:
			xe->is_dir = 1;
			break;
		case AE_IFLNK:
			what = "a link";
			break;
		case AE_IFCHR:
		case AE_IFBLK:
			what = "a device";
			break;
		case AE_IFIFO:
			what = "a fifo";
			break;
		case AE_IFSOCK:
			what = "a socket";
			break;
		default:
			what = "of an unknown type";
			break;
		}
		if (archive_entry_hardlink(ae) != NULL ||
		    archive_entry_symlink(ae) != NULL)
			what = "a link";
		if (what != NULL)
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry %s is %s: refused", aname, show,
			    what);

		if (xe->is_dir) {
			while (len > 0 && xe->path[len - 1] == '/')
				xe->path[--len] = '\0';
			/* "./" names the destination itself. */
			if (len == 0 || strcmp(xe->path, ".") == 0)
				continue;
		}
		if (!path_is_safe_relative(xe->path))
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry %s has an unsafe name: refused",
			    aname, show);

		xe->size_known = archive_entry_size_is_set(ae);
		xe->size = 0;
		if (xe->size_known) {
			if (archive_entry_size(ae) < 0)
				return seterr(xs->err, xs->errsz,
				    "%s: archive entry %s has a bad size",
				    aname, show);
			xe->size = (uint64_t)archive_entry_size(ae);
		}
		/* Only the owner's execute bit survives, never set-id bits. */
		xe->mode = (archive_entry_perm(ae) & 0100) ? 0755 : 0644;
		if (!xe->is_dir &&
		    xe->size > xs->lim->max_total - xs->bytes)
			return too_big(aname, xs);
		return 1;
	}
}

/*
 * Reads the next block of the current regular entry into xs->buf.
 * Returns its length, 0 once the whole entry (*got bytes, as declared)
 * was read, -1 on error.
 */
static ssize_t
read_block(struct archive *a, const char *aname, struct xstate *xs,
    const struct xentry *xe, uint64_t *got)
{
	char		show[SHOWN_MAX];
	la_ssize_t	r;

	r = archive_read_data(a, xs->buf, EXTRACT_BLOCK);
	if (r < 0)
		return la_error(a, aname, xs);
	if (r == 0) {
		if (xe->size_known && *got != xe->size)
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry %s is truncated (%ju of %ju "
			    "bytes)", aname, shown(xe->path, show,
			    sizeof(show)), (uintmax_t)*got,
			    (uintmax_t)xe->size);
		return 0;
	}
	if (xe->size_known && (uint64_t)r > xe->size - *got)
		return seterr(xs->err, xs->errsz,
		    "%s: archive entry %s is longer than its %ju bytes",
		    aname, shown(xe->path, show, sizeof(show)),
		    (uintmax_t)xe->size);
	if ((uint64_t)r > xs->lim->max_total - xs->bytes)
		return too_big(aname, xs);
	*got += (uint64_t)r;
	xs->bytes += (uint64_t)r;
	if (xs->lim->progress != NULL)
		xs->lim->progress(xs->bytes, xs->lim->progress_arg);
	return r;
}

/* Creates the folders above rel beneath dest_fd. */
static int
make_parent(int dest_fd, const char *aname, const char *rel,
    struct xstate *xs)
{
	char		 parent[PATH_MAX], show[SHOWN_MAX];
	const char	*slash;

	if ((slash = strrchr(rel, '/')) == NULL)
		return 0;
	memcpy(parent, rel, slash - rel);
	parent[slash - rel] = '\0';
	if (path_mkdirs_beneath(dest_fd, parent, 0755) == -1)
		return seterr(xs->err, xs->errsz, "%s: cannot create %s: %s",
		    aname, shown(parent, show, sizeof(show)),
		    strerror(errno));
	return 0;
}

static int
extract_file(struct archive *a, const char *aname, int dest_fd,
    const struct xentry *xe, struct xstate *xs)
{
	char		show[SHOWN_MAX];
	uint64_t	got = 0;
	ssize_t		r;
	int		fd;

	if (make_parent(dest_fd, aname, xe->path, xs) == -1)
		return -1;
	fd = path_open_beneath(dest_fd, xe->path, O_WRONLY | O_CREAT | O_EXCL,
	    xe->mode);
	/* A later archive may carry the same file again: it wins. */
	if (fd == -1 && errno == EEXIST)
		fd = path_open_beneath(dest_fd, xe->path, O_WRONLY | O_TRUNC,
		    0);
	if (fd == -1)
		return seterr(xs->err, xs->errsz, "%s: cannot create %s: %s",
		    aname, shown(xe->path, show, sizeof(show)),
		    strerror(errno));
	while ((r = read_block(a, aname, xs, xe, &got)) > 0) {
		if (write_full(fd, xs->buf, (size_t)r) == -1) {
			seterr(xs->err, xs->errsz, "cannot write %s: %s",
			    shown(xe->path, show, sizeof(show)),
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (r == -1) {
		close(fd);
		return -1;
	}
	if (close(fd) == -1)
		return seterr(xs->err, xs->errsz, "cannot write %s: %s",
		    shown(xe->path, show, sizeof(show)), strerror(errno));
	xs->files++;
	return 0;
}

int
extract_archives(int game_fd, char *const names[], size_t n, int dest_fd,
    const struct extract_limits *lim, char *err, size_t errsz)
{
	struct xstate	 xs;
	struct xentry	 xe;
	struct archive	*a;
	char		 show[SHOWN_MAX];
	size_t		 i;
	int		 afd, r = 0;

	if (xstate_init(&xs, lim, err, errsz) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		if ((a = archive_open_at(game_fd, names[i], &afd, err,
		    errsz)) == NULL) {
			r = -1;
			break;
		}
		while ((r = next_entry(a, names[i], &xs, &xe)) == 1) {
			if (!xe.is_dir)
				r = extract_file(a, names[i], dest_fd, &xe,
				    &xs);
			else if ((r = path_mkdirs_beneath(dest_fd, xe.path,
			    0755)) == -1)
				seterr(err, errsz, "%s: cannot create %s: %s",
				    names[i], shown(xe.path, show,
				    sizeof(show)), strerror(errno));
			if (r == -1)
				break;
		}
		archive_done(a, afd);
	}
	free(xs.buf);
	return r == -1 ? -1 : 0;
}

static void
xout_init(struct xout *o, int fd)
{
	struct stat	st;

	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	o->boundary = 1;
}

/*
 * Blocking write of all of buf, even on a non-blocking descriptor. A
 * socket gets MSG_NOSIGNAL so a reader that went away is EPIPE, not a
 * SIGPIPE.
 */
static int
xout_write(struct xout *o, const void *buf, size_t len)
{
	struct pollfd	 pfd;
	const char	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		if (o->sock)
			w = send(o->fd, p, len, MSG_NOSIGNAL);
		else
			w = write(o->fd, p, len);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				pfd.fd = o->fd;
				pfd.events = POLLOUT;
				if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
					goto broken;
				continue;
			}
			goto broken;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;

broken:
	o->broken = 1;
	return -1;
}

/* Sends a built message as one frame (m is freed). */
static int
xout_frame(struct xout *o, struct msgout *m)
{
	char	*frame;
	size_t	 len;
	int	 r;

	if (msgout_frame(m, &frame, &len) == -1) {
		errno = ENOMEM;
		return -1;
	}
	r = xout_write(o, frame, len);
	free(frame);
	return r;
}

static int
xout_entry(struct xout *o, const char *path, uint64_t size,
    struct xstate *xs)
{
	struct msgout	m;

	msgout_init(&m, MSG_PEER_ENTRY, 2);
	msgout_str(&m, "path", path);
	msgout_u64(&m, "size", size);
	if (xout_frame(o, &m) == -1)
		return seterr(xs->err, xs->errsz, "stream: %s",
		    errno == EPIPE ? "the reader went away" : strerror(errno));
	o->boundary = 0;
	return 0;
}

static int
xout_end(struct xout *o, struct xstate *xs)
{
	struct msgout	m;

	msgout_init(&m, MSG_PEER_STREAM_END, 2);
	msgout_u64(&m, "entries", xs->files);
	msgout_u64(&m, "bytes", xs->bytes);
	if (xout_frame(o, &m) == -1)
		return seterr(xs->err, xs->errsz, "stream: %s",
		    errno == EPIPE ? "the reader went away" : strerror(errno));
	return 0;
}

/* Tells the reader why, when it can still understand us. */
static void
xout_error(struct xout *o, const char *why)
{
	struct msgout	m;

	if (!o->boundary || o->broken)
		return;
	msgout_init(&m, MSG_PEER_ERROR, 1);
	msgout_str(&m, "error", why[0] != '\0' ? why : "stream failed");
	(void)xout_frame(o, &m);
}

int
stream_archives(int game_fd, char *const names[], size_t n, int out_fd,
    const struct extract_limits *lim, char *err, size_t errsz)
{
	struct xstate	 xs;
	struct xentry	 xe;
	struct xout	 o;
	struct archive	*a;
	char		 show[SHOWN_MAX];
	uint64_t	 got;
	ssize_t		 r;
	size_t		 i;
	int		 afd, e = 0;

	xout_init(&o, out_fd);
	if (xstate_init(&xs, lim, err, errsz) == -1) {
		xout_error(&o, err);
		return -1;
	}
	for (i = 0; i < n && e == 0; i++) {
		if ((a = archive_open_at(game_fd, names[i], &afd, err,
		    errsz)) == NULL) {
			e = -1;
			break;
		}
		while ((e = next_entry(a, names[i], &xs, &xe)) == 1) {
			e = 0;
			if (xe.is_dir)
				continue;
			if (!xe.size_known) {
				e = seterr(err, errsz, "%s: archive entry %s "
				    "has no size: refused", names[i],
				    shown(xe.path, show, sizeof(show)));
				break;
			}
			if ((e = xout_entry(&o, xe.path, xe.size, &xs)) == -1)
				break;
			got = 0;
			while ((r = read_block(a, names[i], &xs, &xe,
			    &got)) > 0) {
				if (xout_write(&o, xs.buf, (size_t)r) == -1) {
					r = seterr(err, errsz, "stream: %s",
					    errno == EPIPE ?
					    "the reader went away" :
					    strerror(errno));
					break;
				}
			}
			if ((e = (int)r) == -1)
				break;
			o.boundary = 1;
			xs.files++;
		}
		archive_done(a, afd);
	}
	if (e == 0)
		e = xout_end(&o, &xs);
	if (e == -1)
		xout_error(&o, err);
	free(xs.buf);
	return e == -1 ? -1 : 0;
}

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
		xs->bytes += (uint64_t)r;
	}
	close(fd);
	o->boundary = 1;
	xs->files++;
	return 0;

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
