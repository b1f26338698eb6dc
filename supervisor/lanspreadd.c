/*
 * lanspreadd: the daemon. Runs in the foreground (for systemd) and is
 * driven over a Unix control socket by lanspreadctl.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define DEFAULT_SOCKET	"/run/lanspread/control.sock"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lanspreadd [-dv] [--foreground] "
	    "[--control-socket PATH] --name NAME\n"
	    "\t--games-dir DIR --state-dir DIR --catalog-db FILE "
	    "[--listen IP[:PORT]] [--unrar PATH|builtin]\n");
	exit(2);
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
		{ "verbose",		no_argument,		NULL, 'v' },
		{ NULL,			0,			NULL, 0 }
	};
	struct sup_config cfg;
	struct sup	 sup;
	char		 err[512];
	int		 ch, verbose = 0, foreground = 0, rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "0.0.0.0:7331";
	cfg.control_socket = DEFAULT_SOCKET;
	cfg.mdns = 1;
	while ((ch = getopt_long(argc, argv, "dv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': foreground = 1; break;
		case 'S': cfg.control_socket = optarg; break;
		case 'N': cfg.name = optarg; break;
		case 'g': cfg.games_dir = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'c': cfg.catalog_path = optarg; break;
		case 'u': cfg.unrar = optarg; break;
		case 'l': cfg.listen = optarg; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (optind != argc || cfg.name == NULL || cfg.games_dir == NULL ||
	    cfg.state_dir == NULL || cfg.catalog_path == NULL)
		usage();
	log_init("lanspreadd", foreground, verbose);
	if (sup_init(&sup, &cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		sup_free(&sup);
		return 1;
	}
	rc = sup_run(&sup);
	sup_free(&sup);
	return rc;
}
