/*
 * lanspreadd -n: everything that would stop the daemon at start is
 * checked now, each problem with what is wrong and how to fix it, so an
 * organizer finds out before the party and not from the journal.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "supervisor/catalog.h"
#include "supervisor/config_check.h"

static int
check_user(const struct daemon_config *dc, char *err, size_t errsz)
{
	if (dc->user[0] == '\0')
		return 0;
	errno = 0;
	if (getpwnam(dc->user) == NULL)
		return seterr(err, errsz, "user %s does not exist: create it "
		    "(useradd --system %s) or set user = in lanspread.conf",
		    dc->user, dc->user);
	return 0;
}

/* The socket's group is used only with a user to drop to. */
static int
check_group(const struct daemon_config *dc, char *err, size_t errsz)
{
	if (dc->user[0] == '\0' || dc->group[0] == '\0')
		return 0;
	errno = 0;
	if (getgrnam(dc->group) == NULL)
		return seterr(err, errsz, "group %s does not exist: create it "
		    "(groupadd --system %s) or set group = in lanspread.conf",
		    dc->group, dc->group);
	return 0;
}

/* Root joins the group at start; another user must be in it. */
static int
in_group(gid_t gid)
{
	gid_t	*groups;
	int	 n, i, found = 0;

	if (getegid() == gid)
		return 1;
	if ((n = getgroups(0, NULL)) <= 0 ||
	    (groups = calloc(n, sizeof(*groups))) == NULL)
		return 0;
	n = getgroups(n, groups);
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			found = 1;
	free(groups);
	return found;
}

int
config_games_group(const struct daemon_config *dc, gid_t *gid, char *err,
    size_t errsz)
{
	struct group	*gr;

	*gid = (gid_t)-1;
	if (dc->games_group[0] == '\0')
		return 0;
	errno = 0;
	if ((gr = getgrnam(dc->games_group)) == NULL)
		return seterr(err, errsz, "games_group \"%s\": no such group",
		    dc->games_group);
	if (geteuid() != 0 && !in_group(gr->gr_gid))
		return seterr(err, errsz, "games_group \"%s\": uid %d is not "
		    "a member: add it (usermod -aG %s USER) or start "
		    "lanspreadd as root", dc->games_group, (int)geteuid(),
		    dc->games_group);
	*gid = gr->gr_gid;
	return 0;
}

static int
check_games_group(const struct daemon_config *dc, char *err, size_t errsz)
{
	gid_t	 gid;

	return config_games_group(dc, &gid, err, errsz);
}

static int
check_catalog(const struct daemon_config *dc, char *err, size_t errsz)
{
	struct catalog	 cat;

	if (catalog_load(&cat, dc->catalog, err, errsz) == -1)
		return -1;
	catalog_free(&cat);
	return 0;
}

/* A missing folder is made at start; one that is not a folder is not. */
static int
check_games_dir(const struct daemon_config *dc, char *err, size_t errsz)
{
	struct stat	 st;

	if (stat(dc->games_dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		return seterr(err, errsz, "games folder %s: %s",
		    dc->games_dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return seterr(err, errsz, "games folder %s is not a folder: "
		    "set games_dir = to a folder", dc->games_dir);
	/* As root the daemon reads it as its user; as itself, check now. */
	if (geteuid() != 0 && access(dc->games_dir, R_OK | X_OK) == -1)
		return seterr(err, errsz, "games folder %s cannot be read by "
		    "uid %d: %s", dc->games_dir, (int)geteuid(),
		    strerror(errno));
	return 0;
}

/* Binds the listen address as the net worker would, then lets it go. */
static int
check_listen(const struct daemon_config *dc, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t	 len;
	int		 fd, one = 1, saved;

	if (addr_parse(dc->listen, LANSPREAD_PORT, &ss, &len) == -1)
		return seterr(err, errsz, "listen = %s is not IP[:PORT]",
		    dc->listen);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return seterr(err, errsz, "listen = %s: %s", dc->listen,
		    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
		close(fd);
		return 0;
	}
	saved = errno;
	close(fd);
	switch (saved) {
	case EADDRNOTAVAIL:
		return seterr(err, errsz, "listen = %s is not an address of "
		    "this machine: use one of its addresses (ip -brief "
		    "address) or 0.0.0.0", dc->listen);
	case EADDRINUSE:
		return seterr(err, errsz, "listen = %s is in use by another "
		    "program (is lanspreadd already running?)", dc->listen);
	case EACCES:
		return seterr(err, errsz, "listen = %s: a port below 1024 "
		    "needs root", dc->listen);
	default:
		return seterr(err, errsz, "listen = %s: %s", dc->listen,
		    strerror(saved));
	}
}

/* The page off loopback is for the whole LAN: only with its token. */
static int
check_web(const struct daemon_config *dc, char *err, size_t errsz)
{
	if (dc->web_listen[0] == '\0' || web_addr_is_loopback(dc->web_listen) ||
	    web_token_valid(dc->web_token))
		return 0;
	return seterr(err, errsz, "web_listen = %s is not a loopback address: "
	    "set web_token (16 to 128 letters, digits and ._~-), or "
	    "web_listen = 127.0.0.1:7380", dc->web_listen);
}

int
config_check(const struct daemon_config *dc, FILE *out)
{
	static int (*const checks[])(const struct daemon_config *, char *,
	    size_t) = {
		check_user, check_group, check_games_group, check_catalog,
		check_games_dir, check_listen, check_web,
	};
	char	 err[1024];
	size_t	 i;
	int	 problems = 0;

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (checks[i](dc, err, sizeof(err)) == -1) {
			fprintf(out, "lanspreadd: %s\n", err);
			problems++;
		}
	return problems;
}
