/*
 * First-play launch settings: writes the player's account name and
 * language into local/profiles/local/ and their name into the
 * PersonaName line of SmartSteamEmu.ini. Every file is written beside
 * its target and renamed over it, beneath local/ without following a
 * symbolic link, so neither a crash nor a hostile archive can leave half
 * a file or write outside the game.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/path.h"
#include "worker-install/launch_settings.h"

#define PERSONA_KEY	"PersonaName"
#define UTF8_BOM	"\xef\xbb\xbf"

static int	check_value(const char *, const char *, char *, size_t);
static int	replace_file(int, const char *, const char *, size_t, mode_t,
		    char *, size_t);
static int	read_ini(int, char **, size_t *, mode_t *, char *, size_t);
static int	persona_value(const char *, size_t, size_t, size_t *,
		    size_t *);
static int	persona_rewrite(const char *, size_t, const char *, char **,
		    size_t *);

/* 1..LAUNCH_VALUE_MAX bytes, no control byte (CR and LF included). */
static int
check_value(const char *what, const char *v, char *err, size_t errsz)
{
	size_t	i;

	if (v == NULL || v[0] == '\0')
		return seterr(err, errsz, "%s is empty", what);
	for (i = 0; v[i] != '\0'; i++) {
		if (i >= LAUNCH_VALUE_MAX)
			return seterr(err, errsz,
			    "%s is longer than %d bytes", what,
			    LAUNCH_VALUE_MAX);
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return seterr(err, errsz,
			    "%s contains a control character", what);
	}
	return 0;
}

/*
 * Replaces rel beneath local_fd by data: a temporary file in the same
 * folder, synced, then renamed over rel (a link there is replaced, never
 * followed). The folder must exist.
 */
static int
replace_file(int local_fd, const char *rel, const char *data, size_t len,
    mode_t mode, char *err, size_t errsz)
{
	char		 dir[PATH_MAX], tmp[NAME_MAX + 1];
	const char	*base, *slash;
	int		 dfd, fd = -1, n;

	if ((slash = strrchr(rel, '/')) == NULL ||
	    (size_t)(slash - rel) >= sizeof(dir))
		return seterr(err, errsz, "bad settings path %s", rel);
	memcpy(dir, rel, slash - rel);
	dir[slash - rel] = '\0';
	base = slash + 1;
	n = snprintf(tmp, sizeof(tmp), ".%s.lanspread.%ld", base,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return seterr(err, errsz, "bad settings path %s", rel);

	if ((dfd = path_open_beneath(local_fd, dir, O_RDONLY | O_DIRECTORY,
	    0)) == -1)
		return seterr(err, errsz, "cannot open %s: %s", dir,
		    strerror(errno));
	/* A leftover of a crash is ours: it goes. */
	if (unlinkat(dfd, tmp, 0) == -1 && errno != ENOENT)
		goto fail;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1)
		goto fail;
	if (fchmod(fd, mode) == -1 || write_full(fd, data, len) == -1 ||
	    fsync(fd) == -1)
		goto fail_unlink;
	if (close(fd) == -1) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) == -1)
		goto fail_unlink;
	close(dfd);
	return 0;

fail_unlink:
	seterr(err, errsz, "cannot write %s: %s", rel, strerror(errno));
	if (fd != -1)
		close(fd);
	unlinkat(dfd, tmp, 0);
	close(dfd);
	return -1;
fail:
	seterr(err, errsz, "cannot write %s: %s", rel, strerror(errno));
	close(dfd);
	return -1;
}

/*
 * Reads SmartSteamEmu.ini. Returns 1 with *buf (NUL-terminated, *len
 * bytes) and its mode, 0 when there is none, -1 on error.
 */
static int
read_ini(int local_fd, char **bufp, size_t *lenp, mode_t *modep, char *err,
    size_t errsz)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = path_open_beneath(local_fd, LAUNCH_INI_FILE,
	    O_RDONLY | O_NONBLOCK, 0)) == -1) {
		if (errno == ENOENT)
			return 0;
		return seterr(err, errsz, "cannot read %s: %s",
		    LAUNCH_INI_FILE, strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		seterr(err, errsz, "cannot read %s: %s", LAUNCH_INI_FILE,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errsz, "%s is not a regular file",
		    LAUNCH_INI_FILE);
		goto fail;
	}
	/* One byte more than allowed, to see a file too large. */
	if ((buf = malloc(LAUNCH_INI_MAX + 2)) == NULL) {
		seterr(err, errsz, "cannot read %s: %s", LAUNCH_INI_FILE,
		    strerror(errno));
		goto fail;
	}
	while (len <= LAUNCH_INI_MAX) {
		r = read(fd, buf + len, LAUNCH_INI_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			seterr(err, errsz, "cannot read %s: %s",
			    LAUNCH_INI_FILE, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > LAUNCH_INI_MAX) {
		seterr(err, errsz, "%s is larger than %d bytes",
		    LAUNCH_INI_FILE, LAUNCH_INI_MAX);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = len;
	*modep = st.st_mode & 0777;
	return 1;

fail:
	free(buf);
	close(fd);
	return -1;
}

/*
 * 1 if the line in[start..end) (no line ending) is "PersonaName = value",
 * with any blanks around the key and '=': *vstart and *vend then delimit
 * the value, trailing blanks excluded. 0 otherwise.
 */
static int
persona_value(const char *in, size_t start, size_t end, size_t *vstart,
    size_t *vend)
{
	size_t	p = start, klen = sizeof(PERSONA_KEY) - 1, e;

	if (start == 0 && end >= 3 && memcmp(in, UTF8_BOM, 3) == 0)
		p += 3;
	while (p < end && (in[p] == ' ' || in[p] == '\t'))
		p++;
	if (end - p < klen || strncasecmp(in + p, PERSONA_KEY, klen) != 0)
		return 0;
	p += klen;
	while (p < end && (in[p] == ' ' || in[p] == '\t'))
		p++;
	if (p == end || in[p] != '=')
		return 0;
	p++;
	while (p < end && (in[p] == ' ' || in[p] == '\t'))
		p++;
	for (e = end; e > p && (in[e - 1] == ' ' || in[e - 1] == '\t'); e--)
		;
	*vstart = p;
	*vend = e;
	return 1;
}

/*
 * A copy of the ini with every PersonaName value replaced by name.
 * Returns the number of lines replaced, -1 when out of memory.
 */
static int
persona_rewrite(const char *in, size_t len, const char *name, char **outp,
    size_t *outlenp)
{
	const char	*nl;
	char		*out;
	size_t		 nlen = strlen(name), start, end, cend;
	size_t		 vstart, vend, olen = 0, cap;
	int		 replaced = 0;

	/* Each line grows by at most the name. */
	cap = len + 1;
	for (start = 0; start < len; start = end) {
		nl = memchr(in + start, '\n', len - start);
		end = nl != NULL ? (size_t)(nl - in) + 1 : len;
		cap += nlen;
	}
	if ((out = malloc(cap)) == NULL)
		return -1;
	for (start = 0; start < len; start = end) {
		nl = memchr(in + start, '\n', len - start);
		end = nl != NULL ? (size_t)(nl - in) + 1 : len;
		cend = nl != NULL ? end - 1 : end;
		if (cend > start && in[cend - 1] == '\r')
			cend--;
		if (!persona_value(in, start, cend, &vstart, &vend)) {
			memcpy(out + olen, in + start, end - start);
			olen += end - start;
			continue;
		}
		memcpy(out + olen, in + start, vstart - start);
		olen += vstart - start;
		memcpy(out + olen, name, nlen);
		olen += nlen;
		memcpy(out + olen, in + vend, end - vend);
		olen += end - vend;
		replaced++;
	}
	out[olen] = '\0';
	*outp = out;
	*outlenp = olen;
	return replaced;
}

int
launch_settings_apply(int local_fd, const char *username,
    const char *language, struct play_outcome *out, char *err, size_t errsz)
{
	char	*ini = NULL, *stamped = NULL;
	size_t	 inilen = 0, stampedlen = 0;
	mode_t	 inimode = 0644;
	int	 have_ini, replaced = 0, ret = -1;

	memset(out, 0, sizeof(*out));
	if (errsz > 0)
		err[0] = '\0';
	if (check_value("username", username, err, errsz) == -1 ||
	    check_value("language", language, err, errsz) == -1)
		return -1;

	/* Read first: a bad ini fails before anything is written. */
	if ((have_ini = read_ini(local_fd, &ini, &inilen, &inimode, err,
	    errsz)) == -1)
		return -1;
	if (have_ini && (replaced = persona_rewrite(ini, inilen, username,
	    &stamped, &stampedlen)) == -1) {
		seterr(err, errsz, "cannot rewrite %s: %s", LAUNCH_INI_FILE,
		    strerror(errno));
		goto done;
	}

	if (path_mkdirs_beneath(local_fd, LAUNCH_PROFILE_DIR, 0755) == -1) {
		seterr(err, errsz, "cannot create %s: %s", LAUNCH_PROFILE_DIR,
		    strerror(errno));
		goto done;
	}
	if (replace_file(local_fd, LAUNCH_ACCOUNT_FILE, username,
	    strlen(username), 0644, err, errsz) == -1)
		goto done;
	out->account_name_written = 1;
	if (replace_file(local_fd, LAUNCH_LANGUAGE_FILE, language,
	    strlen(language), 0644, err, errsz) == -1)
		goto done;
	out->language_written = 1;
	if (replaced > 0) {
		if (replace_file(local_fd, LAUNCH_INI_FILE, stamped,
		    stampedlen, inimode, err, errsz) == -1)
			goto done;
		out->persona_name_written = 1;
	}
	ret = 0;

done:
	free(ini);
	free(stamped);
	return ret;
}
