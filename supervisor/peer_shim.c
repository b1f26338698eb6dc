/*
 * lanspread-peer: one peer in the foreground, controlled with JSON lines
 * on stdin/stdout (the scenario harness's view of a peer). Logs go to
 * stderr; stdout carries nothing but protocol lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "common/proc.h"
#include "common/rate.h"
#include "supervisor/config.h"
#include "supervisor/supervisor.h"

#define MAX_FIXTURES	16

/*
 * --fixture ID seeds a small ready game into the games folder (the seed's
 * mystery-game is one the catalog does not know), unless it exists.
 */
static int
seed_fixture(struct sup *sup, const char *id)
{
	char	 name[PATH_MAX];
	char	 payload[256];
	int	 fd, len;

	if (!path_is_valid_game_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (faccessat(sup->games_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (path_mkdirs_beneath(sup->games_fd, id, 0755) == -1)
		return -1;
	len = snprintf(payload, sizeof(payload), "lanspread fixture %s\n", id);
	snprintf(name, sizeof(name), "%s/%s.eti", id, id);
	if ((fd = path_open_beneath(sup->games_fd, name, O_WRONLY | O_CREAT |
	    O_TRUNC, 0644)) == -1)
		return -1;
	if (write(fd, payload, len) != len) {
		close(fd);
		return -1;
	}
	close(fd);
	snprintf(name, sizeof(name), "%s/version.ini", id);
	if ((fd = path_open_beneath(sup->games_fd, name, O_WRONLY | O_CREAT |
	    O_TRUNC, 0644)) == -1)
		return -1;
	if (write(fd, "20240101", 8) != 8) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lanspread-peer --name NAME --games-dir DIR "
	    "--state-dir DIR --catalog-db FILE\n"
	    "\t[--fixture GAME]... [--unrar PATH|builtin] "
	    "[--listen IP[:PORT]] [--mdns]\n"
	    "\t[--peer IP[:PORT]]... [--redial] [--peer-exchange]\n"
	    "\t[--upload-limit SPEED] [--upload-slots N]\n"
	    "\t[--download-limit SPEED] [--max-active-downloads N]\n"
	    "\t[--done-script PATH]\n"
	    "\t[--catalog-trust KEY] [--web IP:PORT [--web-token TOKEN]]\n"
	    "\t[--sandbox-optional] [-v]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "name",	required_argument,	NULL, 'N' },
		{ "games-dir",	required_argument,	NULL, 'g' },
		{ "state-dir",	required_argument,	NULL, 's' },
		{ "catalog-db",	required_argument,	NULL, 'c' },
		{ "fixture",	required_argument,	NULL, 'F' },
		{ "unrar",	required_argument,	NULL, 'u' },
		{ "listen",	required_argument,	NULL, 'l' },
		{ "mdns",	no_argument,		NULL, 'm' },
		{ "peer",	required_argument,	NULL, 'p' },
		{ "redial",	no_argument,		NULL, 'r' },
		{ "peer-exchange", no_argument,	NULL, 'X' },
		{ "upload-limit", required_argument,	NULL, 'U' },
		{ "download-limit", required_argument,	NULL, 'L' },
		{ "upload-slots", required_argument,	NULL, 'S' },
		{ "max-active-downloads", required_argument, NULL, 'Q' },
		{ "done-script", required_argument,	NULL, 'D' },
		{ "web",	required_argument,	NULL, 'w' },
		{ "web-token",	required_argument,	NULL, 'W' },
		{ "sandbox-optional", no_argument,	NULL, 'o' },
		{ "catalog-trust", required_argument,	NULL, 'T' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ NULL,		0,			NULL, 0 }
	};
	struct sup_config cfg;
	struct sup	 sup;
	const char	*fixtures[MAX_FIXTURES];
	char		 err[512], peers[1024] = "", *end;
	int		 ch, verbose = 0, rc, i, nfixtures = 0;
	long		 n;

	memset(&cfg, 0, sizeof(cfg));
	cfg.games_gid = (gid_t)-1;
	cfg.listen = "0.0.0.0:0";
	cfg.use_stdio = 1;
	/* Without --unrar, installs use the seed's fixture installer. */
	cfg.unrar = UNRAR_NONE;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'N': cfg.name = optarg; break;
		case 'g': cfg.games_dir = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'c': cfg.catalog_path = optarg; break;
		case 'u':
			cfg.unrar = unrar_mode_parse(optarg);
			cfg.unrar_path = optarg;
			break;
		case 'l': cfg.listen = optarg; break;
		case 'm': cfg.mdns = 1; break;
		case 'p':
			/* Static peers, one --peer each. */
			if (strlen(peers) + strlen(optarg) + 2 > sizeof(peers)) {
				fprintf(stderr, "too many --peer\n");
				usage();
			}
			if (peers[0] != '\0')
				strcat(peers, " ");
			strcat(peers, optarg);
			cfg.peers = peers;
			break;
		case 'r': cfg.redial = 1; break;
		case 'X': cfg.peer_exchange = 1; break;
		case 'Q':
			cfg.max_active_downloads = (int)strtol(optarg, &end,
			    10);
			if (*optarg == '\0' || *end != '\0' ||
			    cfg.max_active_downloads < 0 ||
			    cfg.max_active_downloads > 1000)
				usage();
			break;
		case 'S':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 0 ||
			    n > UPLOAD_SLOTS_MAX) {
				fprintf(stderr, "--upload-slots must be 0 (no "
				    "cap) to %d\n", UPLOAD_SLOTS_MAX);
				usage();
			}
			cfg.upload_slots = (int)n;
			break;
		case 'D':
			if (optarg[0] != '/') {
				fprintf(stderr, "--done-script needs an absolute "
				    "path\n");
				usage();
			}
			cfg.done_script = optarg;
			break;
		case 'U':
		case 'L':
			if (rate_parse(optarg, ch == 'U' ? &cfg.upload_limit :
			    &cfg.download_limit, err, sizeof(err)) == -1) {
				fprintf(stderr, "--%s-limit %s\n", ch == 'U' ?
				    "upload" : "download", err);
				usage();
			}
			break;
		case 'w': cfg.web_listen = optarg; break;
		case 'W': cfg.web_token = optarg; break;
		case 'o': proc_opts.sandbox_optional = 1; break;
		case 'T': cfg.catalog_trust = optarg; break;
		case 'v': verbose++; break;
		case 'F':
			if (nfixtures == MAX_FIXTURES) {
				fprintf(stderr, "too many --fixture\n");
				usage();
			}
			fixtures[nfixtures++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || cfg.name == NULL || cfg.games_dir == NULL ||
	    cfg.state_dir == NULL || cfg.catalog_path == NULL)
		usage();
	log_init("lanspread-peer", 1, verbose);
	log_setproc(cfg.name);
	/* Before the workers start: they inherit it. */
	if (proc_raise_nofile() == -1)
		log_warn("cannot raise the open files limit");
	/* Run as root, the net worker becomes nobody. */
	if (proc_set_net_user("nobody", err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	if (proc_opts.sandbox_optional)
		log_warnx("--sandbox-optional: a worker goes on without "
		    "Landlock or seccomp when the kernel lacks them");
	if (sup_init(&sup, &cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		sup_free(&sup);
		return 1;
	}
	for (i = 0; i < nfixtures; i++)
		if (seed_fixture(&sup, fixtures[i]) == -1) {
			log_warnx("fixture %s: %s", fixtures[i],
			    strerror(errno));
			sup_free(&sup);
			return 1;
		}
	/* The library scanned at start did not have them yet. */
	if (nfixtures > 0)
		sup_rescan(&sup);
	rc = sup_run(&sup);
	sup_free(&sup);
	return rc;
}
