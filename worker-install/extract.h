/*
 * Archive extraction for the install worker: the .eti archives of a game
 * folder are extracted with libarchive (or an external unrar) into a
 * staging folder, or streamed entry by entry as peer-wire frames. Nothing
 * an archive says can make us write outside the destination folder.
 */
#ifndef LANSPREAD_EXTRACT_H
#define LANSPREAD_EXTRACT_H

#include <sys/types.h>

#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "worker-install/rar_sums.h"

/* Data is read and written in blocks of this size. */
#define EXTRACT_BLOCK		(1024 * 1024)
/* Most entries (folders included) a game's archives may hold. */
#define EXTRACT_MAX_ENTRIES	1000000
/* Expansion allowed beyond 1024 x the archives' size. */
#define EXTRACT_SLACK		(64ULL * 1024 * 1024)
/* The file the seed's fixture installer writes. */
#define FIXTURE_PAYLOAD		"fixture-payload.txt"
/* Prefix of the temporary folder stream_archives_unrar() extracts into. */
#define EXTRACT_STREAM_TMP	".lanspread.stream"

struct extract_limits {
	uint64_t	max_total;	/* bytes of all regular entries */
	uint64_t	max_entries;	/* entries of every kind */
	/* Called after every block with the bytes so far; may be NULL. */
	void		(*progress)(uint64_t bytes, void *arg);
	void		*progress_arg;
};

/*
 * Every regular file (not a symbolic link) named *.eti directly in the
 * game folder, sorted by strcmp(3). *names is an array of *n strings,
 * freed with archives_free(). No archive at all is an error.
 */
int	list_archives(int game_fd, char ***names, size_t *n, char *err,
	    size_t errsz);
void	archives_free(char **names, size_t n);

/* max_total = sum of the archives' sizes x 1024 + 64 MiB; no progress. */
void	extract_default_limits(int game_fd, char *const names[], size_t n,
	    struct extract_limits *);

/*
 * Extracts names[0..n-1] of the game folder, in that order, into dest_fd,
 * an existing (empty) folder. Folders and regular files only: links,
 * devices, fifos, unsafe names and archives beyond the limits are refused.
 * Returns 0, or -1 with err filled; the caller removes what was written.
 */
int	extract_archives(int game_fd, char *const names[], size_t n,
	    int dest_fd, const struct extract_limits *, char *err,
	    size_t errsz);

/*
 * The same with an external unrar: "unrar x -o+ -y -idq
 * <game_dir_path>/<name> <dest_path>/" per archive (no shell). A program
 * that cannot run, a non-zero exit, or a symbolic link or special file
 * left in dest_path fails with -1. unrar opens the archives by path;
 * game_fd only serves to check that each is a regular file, not a link.
 */
int	extract_archives_unrar(const char *unrar, int game_fd,
	    const char *game_dir_path, char *const names[], size_t n,
	    const char *dest_path, char *err, size_t errsz);

/*
 * Reads the archives as extract_archives() does (same checks and limits)
 * and writes to out_fd, with blocking writes, for every regular entry in
 * archive order a MSG_PEER_ENTRY {path, size} frame followed by exactly
 * size raw bytes, then MSG_PEER_STREAM_END {entries, bytes}. Folders give
 * no frame. An error found between frames (before the first entry
 * included) is sent as MSG_PEER_ERROR {error}; one found in the middle of
 * an entry's bytes is not (the reader must see the link close). Returns 0,
 * or -1 with err filled.
 */
int	stream_archives(int game_fd, char *const names[], size_t n,
	    int out_fd, const struct extract_limits *, char *err, size_t errsz);

/*
 * The same output with an external unrar: each archive in turn is
 * extracted into <game folder>/.lanspread.stream.<pid>, its regular
 * entries are streamed in the order "unrar lb" lists them, and the folder
 * is removed. A program that cannot run fails before the first entry,
 * with MSG_PEER_ERROR {error: "cannot run ..."}.
 */
int	stream_archives_unrar(const char *unrar, int game_fd,
	    const char *game_dir_path, char *const names[], size_t n,
	    int out_fd, const struct extract_limits *, char *err, size_t errsz);

/*
 * The seed's fixture installer (fixture_install.c): dest/fixture-payload.txt
 * is the concatenation of the archives' bytes, in order.
 */
int	fixture_install(int game_fd, char *const names[], size_t n,
	    int dest_fd, char *err, size_t errsz);

/*
 * Shared by the back ends (extract.c, extract_stream.c, extract_unrar.c),
 * not meant for their callers.
 */

/* An entry name as shown in messages. */
#define SHOWN_MAX	512

/* What one extraction or stream has consumed so far. */
struct xstate {
	const struct extract_limits *lim;
	uint64_t	 entries;	/* every kind */
	uint64_t	 files;		/* regular ones */
	uint64_t	 bytes;		/* of regular ones */
	struct rar_sums	 sums;		/* of the archive being read */
	size_t		 sum_next;	/* its next file header */
	const struct rar_sum *sum;	/* the current entry's header */
	uint32_t	 crc;		/* of the current entry's bytes */
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

struct archive;

/* extract.c: the libarchive reader and the checks every entry passes. */
const char	*shown(const char *, char *, size_t);
DIR		*dir_stream(int);
int		 xstate_init(struct xstate *, const struct extract_limits *,
		    char *, size_t);
struct archive	*archive_open_at(int, const char *, int *, struct xstate *);
void		 archive_done(struct archive *, int, struct xstate *);
int		 too_big(const char *, struct xstate *);
int		 next_entry(struct archive *, const char *, struct xstate *,
		    struct xentry *);
ssize_t		 read_block(struct archive *, const char *, struct xstate *,
		    const struct xentry *, uint64_t *);

/* extract_stream.c: entry frames on the stream's output link. */
void	xout_init(struct xout *, int);
int	xout_write(struct xout *, const void *, size_t);
int	xout_entry(struct xout *, const char *, uint64_t, struct xstate *);
int	xout_entry_sum(struct xout *, uint32_t, struct xstate *);
int	xout_end(struct xout *, struct xstate *);
void	xout_error(struct xout *, const char *);

#endif /* LANSPREAD_EXTRACT_H */
