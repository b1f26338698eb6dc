/*
 * lanspreadd: the daemon an init system starts. Reads lanspread.conf
 * (flags override it), opens its control socket as root, drops to the
 * configured user and runs the supervisor in the foreground.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "supervisor/config.h"
#include "supervisor/config_check.h"
#include "supervisor/daemon_lock.h"
#include "supervisor/supervisor.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lanspreadd [-dnv] [-f file] [-S socket] "
	    "[--name NAME] [--games-dir DIR]\n"
	    "\t[--state-dir DIR] [--catalog-db FILE] [--listen IP[:PORT]]\n"
	    "\t[--unrar PATH|builtin] [--no-mdns] [--catalog-trust KEY]\n");
	exit(2);
}

static int
mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char	 buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == 0)
		return chown(buf, uid, gid);
	return errno == EEXIST ? 0 : -1;
}

/*
 * Before the control socket is touched: this daemon must be the only one
 * on its state dir and on its socket. The lock fd stays open until exit.
 */
static int
claim_state_and_socket(const struct daemon_config *dc, uid_t uid, gid_t gid,
    char *err, size_t errsz)
{
	int	 fd;

	if ((fd = daemon_lock(dc->state_dir, err, errsz)) == -1)
		return -1;
	/* The user's, like the rest of the state dir, for a start as it. */
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1)
		return seterr(err, errsz, "lock file in %s: %s", dc->state_dir,
		    strerror(errno));
	return control_socket_check_free(dc->control_socket, err, errsz);
}

/*
 * As root: the daemon joins games_group, so that its install worker,
 * with no capability, may give installed games that group.
 */
static int
join_games_group(gid_t gid, char *err, size_t errsz)
{
	gid_t	*groups;
	int	 n, i, rc = 0;

	if (gid == (gid_t)-1 || geteuid() != 0)
		return 0;
	if ((n = getgroups(0, NULL)) == -1 ||
	    (groups = calloc(n + 1, sizeof(*groups))) == NULL)
		return seterr(err, errsz, "games_group: %s", strerror(errno));
	if ((n = getgroups(n, groups)) == -1) {
		free(groups);
		return seterr(err, errsz, "games_group: %s", strerror(errno));
	}
	for (i = 0; i < n && groups[i] != gid; i++)
		;
	if (i == n) {
		groups[n++] = gid;
		if (setgroups(n, groups) == -1)
			rc = seterr(err, errsz, "games_group: cannot join: %s",
			    strerror(errno));
	}
	free(groups);
	return rc;
}

/*
 * As root: folders the daemon needs are made its user's, the control
 * socket is bound, then root is given up for good.
 */
static int
drop_privileges(const struct daemon_config *dc, gid_t games_gid, char *err,
    size_t errsz)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 sock_gid;
	char		 dir[PATH_MAX], *slash;

	if (geteuid() != 0 || dc->user[0] == '\0') {
		if (mkdir_owned(dc->state_dir, 0700, (uid_t)-1, (gid_t)-1)
		    == -1)
			return seterr(err, errsz, "state dir %s: %s",
			    dc->state_dir, strerror(errno));
		if (claim_state_and_socket(dc, (uid_t)-1, (gid_t)-1, err,
		    errsz) == -1)
			return -1;
		if (control_socket_open(dc->control_socket, (uid_t)-1,
		    (gid_t)-1) == -1) {
			snprintf(err, errsz, "control socket %s: %s",
			    dc->control_socket, strerror(errno));
			return -1;
		}
		return join_games_group(games_gid, err, errsz);
	}
	if ((pw = getpwnam(dc->user)) == NULL) {
		snprintf(err, errsz, "user %s does not exist", dc->user);
		return -1;
	}
	sock_gid = pw->pw_gid;
	if (dc->group[0] != '\0') {
		if ((gr = getgrnam(dc->group)) == NULL) {
			snprintf(err, errsz, "group %s does not exist",
			    dc->group);
			return -1;
		}
		sock_gid = gr->gr_gid;
	}
	snprintf(dir, sizeof(dir), "%s", dc->control_socket);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if (mkdir_owned(dc->state_dir, 0700, pw->pw_uid, pw->pw_gid) == -1 ||
	    mkdir_owned(dc->games_dir, 0755, pw->pw_uid, pw->pw_gid) == -1 ||
	    mkdir_owned(dir, 0755, 0, 0) == -1) {
		snprintf(err, errsz, "cannot create the daemon's folders: %s",
		    strerror(errno));
		return -1;
	}
	if (claim_state_and_socket(dc, pw->pw_uid, pw->pw_gid, err,
	    errsz) == -1)
		return -1;
	if (control_socket_open(dc->control_socket, pw->pw_uid,
	    sock_gid) == -1) {
		snprintf(err, errsz, "control socket %s: %s",
		    dc->control_socket, strerror(errno));
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1)
		return seterr(err, errsz, "cannot become %s: %s", dc->user,
		    strerror(errno));
	if (join_games_group(games_gid, err, errsz) == -1)
		return -1;
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errsz, "cannot become %s: %s", dc->user,
		    strerror(errno));
		return -1;
	}
	/* There is no way back. */
	if (setuid(0) != -1 || geteuid() != pw->pw_uid) {
		snprintf(err, errsz, "privileges were not dropped");
		return -1;
	}
	log_info("running as %s", dc->user);
	return 0;
}

/* A flag given on the command line: it overrides the file, at reloads too. */
struct flag {
	const char	*key;
	const char	*value;
};

/* What a reload reads again: the same file, the same flags over it. */
struct reread {
	const char		*conf;
	int			 conf_given;
	const struct flag	*flags;
	int			 nflags;
	struct daemon_config	 running;
	struct daemon_config	 told;	/* as last read: changes said once */
};

static int
config_read(struct daemon_config *dc, const char *conf, int conf_given,
    const struct flag *flags, int nflags, char *err, size_t errsz)
{
	const char	*why;
	int		 i;

	config_defaults(dc);
	if (config_load(dc, conf, conf_given, err, errsz) == -1)
		return -1;
	for (i = 0; i < nflags; i++)
		if ((why = config_set(dc, flags[i].key, flags[i].value)) !=
		    NULL)
			return seterr(err, errsz, "--%s %s: %s", flags[i].key,
			    flags[i].value, why);
	return 0;
}

/* The keys that only a restart applies. */
static const char *const restart_keys[] = {
	"name", "games_dir", "state_dir", "listen", "unrar", "control_socket",
	"user", "group", "games_group", "mdns", "net_user",
	"sandbox_optional", "peers", "redial", "peer_exchange", "done_script",
	"web_listen", "web_token"
};

static int
key_differs(const struct daemon_config *a, const struct daemon_config *b,
    const char *key)
{
#define STR_KEY(f)	if (strcmp(key, #f) == 0)			\
		return strcmp(a->f, b->f) != 0
#define INT_KEY(f)	if (strcmp(key, #f) == 0)			\
		return a->f != b->f
	STR_KEY(name);
	STR_KEY(games_dir);
	STR_KEY(state_dir);
	STR_KEY(listen);
	STR_KEY(control_socket);
	STR_KEY(user);
	STR_KEY(group);
	STR_KEY(games_group);
	STR_KEY(net_user);
	STR_KEY(peers);
	STR_KEY(done_script);
	STR_KEY(web_listen);
	STR_KEY(web_token);
	INT_KEY(mdns);
	INT_KEY(sandbox_optional);
	INT_KEY(redial);
	INT_KEY(peer_exchange);
#undef STR_KEY
#undef INT_KEY
	if (strcmp(key, "unrar") == 0)
		return a->unrar != b->unrar ||
		    strcmp(a->unrar_path, b->unrar_path) != 0;
	return 0;
}

/*
 * SIGHUP: the live keys come from the file read again; a key that only a
 * restart can change is named in the log, once, so nobody waits for it.
 */
static int
reread_config(void *arg, struct sup_live *live, char *err, size_t errsz)
{
	struct reread	*rr = arg;
	struct daemon_config dc;
	size_t		 i;

	if (config_read(&dc, rr->conf, rr->conf_given, rr->flags, rr->nflags,
	    err, errsz) == -1)
		return -1;
	if (snprintf(live->catalog_path, sizeof(live->catalog_path), "%s",
	    dc.catalog) >= (int)sizeof(live->catalog_path))
		return seterr(err, errsz, "catalog path too long");
	/* config_set() checked it. */
	live->trusts = dc.catalog_trust[0] != '\0';
	if (live->trusts && catalog_key_parse(dc.catalog_trust,
	    live->trust) == -1)
		return seterr(err, errsz, "catalog_trust: not a key");
	live->upload_limit = dc.upload_limit;
	live->download_limit = dc.download_limit;
	live->upload_slots = dc.upload_slots;
	live->max_active_downloads = dc.max_active_downloads;
	for (i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]); i++)
		if (key_differs(&dc, &rr->running, restart_keys[i]) &&
		    key_differs(&dc, &rr->told, restart_keys[i]))
			log_warnx("%s: %s changed; it takes effect at the next "
			    "restart", rr->conf, restart_keys[i]);
	rr->told = dc;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "foreground",		no_argument,		NULL, 'd' },
		{ "control-socket",	required_argument,	NULL, 'S' },
		{ "name",		required_argument,	NULL, 'N' },
		{ "games-dir",		required_argument,	NULL, 'g' },
		{ "state-dir",		required_argument,	NULL, 's' },
		{ "catalog-db",		required_argument,	NULL, 'c' },
		{ "unrar",		required_argument,	NULL, 'u' },
		{ "listen",		required_argument,	NULL, 'l' },
		{ "no-mdns",		no_argument,		NULL, 'M' },
		{ "catalog-trust",	required_argument,	NULL, 'T' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ NULL,			0,			NULL, 0 }
	};
	struct flag	 flags[16];
	struct reread	 rr;
	struct daemon_config dc;
	struct sup_config cfg;
	struct sup	 sup;
	const char	*conf = CONFIG_DEFAULT;
	char		 err[512];
	gid_t		 games_gid;
	int		 ch, verbose = 0, foreground = 0, check = 0;
	int		 nflags = 0, conf_given = 0, rc;

	while ((ch = getopt_long(argc, argv, "df:nS:v", longopts,
	    NULL)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'd': foreground = 1; break;
		case 'f': conf = optarg; conf_given = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		case 'S': key = "control_socket"; break;
		case 'N': key = "name"; break;
		case 'g': key = "games_dir"; break;
		case 's': key = "state_dir"; break;
		case 'c': key = "catalog"; break;
		case 'u': key = "unrar"; break;
		case 'l': key = "listen"; break;
		case 'M': key = "mdns"; optarg = "no"; break;
		case 'T': key = "catalog_trust"; break;
		default: usage();
		}
		if (key != NULL && nflags < (int)(sizeof(flags) /
		    sizeof(flags[0]))) {
			flags[nflags].key = key;
			flags[nflags++].value = optarg;
		}
	}
	if (optind != argc)
		usage();
	log_init("lanspreadd", foreground || check, verbose);
	/* Flags override the file. */
	if (config_read(&dc, conf, conf_given, flags, nflags, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	if (check) {
		if (config_check(&dc, stderr) > 0)
			return 1;
		printf("configuration OK\n");
		return 0;
	}
	if (config_games_group(&dc, &games_gid, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	/* Before the workers start: they inherit it. */
	if (proc_raise_nofile() == -1)
		log_warn("cannot raise the open files limit");
	if (drop_privileges(&dc, games_gid, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	/* Still root (no user configured): the net worker gives it up. */
	if (proc_set_net_user(dc.net_user, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	proc_opts.sandbox_optional = dc.sandbox_optional;
	if (dc.sandbox_optional)
		log_warnx("sandbox_optional: a worker goes on without "
		    "Landlock or seccomp when the kernel lacks them");
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = dc.name;
	cfg.games_dir = dc.games_dir;
	cfg.state_dir = dc.state_dir;
	cfg.catalog_path = dc.catalog;
	cfg.listen = dc.listen;
	cfg.unrar = dc.unrar;
	cfg.unrar_path = dc.unrar_path;
	cfg.control_socket = dc.control_socket;
	cfg.mdns = dc.mdns;
	cfg.peers = dc.peers[0] != '\0' ? dc.peers : NULL;
	cfg.redial = dc.redial;
	cfg.peer_exchange = dc.peer_exchange;
	cfg.upload_limit = dc.upload_limit;
	cfg.download_limit = dc.download_limit;
	cfg.upload_slots = dc.upload_slots;
	cfg.max_active_downloads = dc.max_active_downloads;
	cfg.done_script = dc.done_script[0] != '\0' ? dc.done_script : NULL;
	cfg.catalog_trust = dc.catalog_trust;
	cfg.games_gid = games_gid;
	rr.conf = conf;
	rr.conf_given = conf_given;
	rr.flags = flags;
	rr.nflags = nflags;
	rr.running = dc;
	rr.told = dc;
	cfg.reread = reread_config;
	cfg.reread_arg = &rr;
	cfg.web_listen = dc.web_listen[0] != '\0' ? dc.web_listen : NULL;
	cfg.web_token = dc.web_token[0] != '\0' ? dc.web_token : NULL;
	if (sup_init(&sup, &cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		sup_free(&sup);
		return 1;
	}
	rc = sup_run(&sup);
	sup_free(&sup);
	return rc;
}
