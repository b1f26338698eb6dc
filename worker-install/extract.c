/*
 * Archive extraction: libarchive reads the .eti archives, and we write
 * every entry ourselves beneath the destination fd (never
 * archive_write_disk), so a hostile name, link or device cannot reach
 * outside it. The reader and its entry checks are shared with the stream
 * (extract_stream.c) and the external unrar (extract_unrar.c) back ends.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/io.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/path.h"
#include "worker-install/extract.h"

static int	cmp_names(const void *, const void *);
static int	la_error(struct archive *, const char *, struct xstate *);
static int	make_parent(int, const char *, const char *, struct xstate *);
static int	extract_file(struct archive *, const char *, int,
		    const struct xentry *, struct xstate *);

/* s with control bytes replaced, for messages. */
const char *
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
DIR *
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

int
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
 * Opens a game folder archive for reading, with the checksums its headers
 * promise in xs; *fdp is its descriptor, to be closed by archive_done().
 */
struct archive *
archive_open_at(int game_fd, const char *name, int *fdp, struct xstate *xs)
{
	struct archive	*a;
	struct stat	 st;
	char		 why[ERROR_SIZE];
	int		 fd;

	if (!path_is_safe_relative(name) || strchr(name, '/') != NULL) {
		seterr(xs->err, xs->errsz, "bad archive name");
		return NULL;
	}
	/* O_NONBLOCK: a fifo must not hang us; it is refused below. */
	fd = openat(game_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1) {
		seterr(xs->err, xs->errsz, "%s: %s", name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || fcntl(fd, F_SETFL, 0) == -1) {
		seterr(xs->err, xs->errsz, "%s: %s", name, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(xs->err, xs->errsz, "%s: not a regular file", name);
		close(fd);
		return NULL;
	}
	rar_sums_free(&xs->sums);
	xs->sum_next = 0;
	if (rar_sums_read(fd, &xs->sums, why, sizeof(why)) == -1) {
		seterr(xs->err, xs->errsz, "%s: cannot read the checksums "
		    "of its entries: %s", name, why);
		close(fd);
		return NULL;
	}
	if ((a = archive_read_new()) == NULL) {
		seterr(xs->err, xs->errsz, "%s: out of memory", name);
		close(fd);
		return NULL;
	}
	/* Games come as RAR only: no other parser is exposed. */
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	if (archive_read_open_fd(a, fd, EXTRACT_BLOCK) != ARCHIVE_OK) {
		seterr(xs->err, xs->errsz, "%s: %s", name,
		    archive_error_string(a) != NULL ?
		    archive_error_string(a) : "cannot open the archive");
		archive_read_free(a);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return a;
}

void
archive_done(struct archive *a, int fd, struct xstate *xs)
{
	archive_read_free(a);
	close(fd);
	rar_sums_free(&xs->sums);
	xs->sum = NULL;
}

static int
la_error(struct archive *a, const char *aname, struct xstate *xs)
{
	const char	*msg = archive_error_string(a);

	return seterr(xs->err, xs->errsz, "%s: %s", aname,
	    msg != NULL ? msg : "archive read error");
}

int
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
int
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
		/* libarchive returns the file headers in their order. */
		if (xs->sum_next >= xs->sums.n)
			return seterr(xs->err, xs->errsz,
			    "%s: an entry has no header we could check it "
			    "by: refused", aname);
		xs->sum = &xs->sums.v[xs->sum_next++];
		xs->crc = 0;
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
		if (!xe->is_dir && (xs->sum->is_dir || (xe->size_known &&
		    xe->size != xs->sum->size)))
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry %s does not match its header: "
			    "refused", aname, show);
		if (!xe->is_dir && !xs->sum->has_crc)
			log_warnx("%s: archive entry %s carries no CRC32 "
			    "(BLAKE2sp only): not checked", aname, show);
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
ssize_t
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
		/* libarchive 3.6 never checks a stored entry: we do. */
		if (xs->sum->has_crc && xs->crc != xs->sum->crc32)
			return seterr(xs->err, xs->errsz,
			    "%s: archive entry %s is corrupt (CRC32 %08x, its "
			    "header says %08x): refused", aname,
			    shown(xe->path, show, sizeof(show)), xs->crc,
			    xs->sum->crc32);
		return 0;
	}
	xs->crc = (uint32_t)crc32(xs->crc, (const Bytef *)xs->buf, (uInt)r);
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
		if ((a = archive_open_at(game_fd, names[i], &afd, &xs)) ==
		    NULL) {
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
		archive_done(a, afd, &xs);
	}
	free(xs.buf);
	return r == -1 ? -1 : 0;
}
