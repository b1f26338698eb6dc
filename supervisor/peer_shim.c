/*
 * lanspread-peer: one peer in the foreground, controlled with JSON lines
 * on stdin/stdout (the scenario harness's view of a peer). Logs go to
 * stderr; stdout carries nothing but protocol lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lanspread-peer --name NAME --games-dir DIR "
	    "--state-dir DIR --catalog-db FILE\n"
	    "\t[--fixture GAME]... [--unrar PATH|builtin] "
	    "[--listen IP[:PORT]] [--mdns] [-v]\n");
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
		{ "verbose",	no_argument,		NULL, 'v' },
		{ NULL,		0,			NULL, 0 }
	};
	struct sup_config cfg;
	struct sup	 sup;
	char		 err[512];
	int		 ch, verbose = 0, rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "0.0.0.0:0";
	cfg.use_stdio = 1;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'N': cfg.name = optarg; break;
		case 'g': cfg.games_dir = optarg; break;
		case 's': cfg.state_dir = optarg; break;
		case 'c': cfg.catalog_path = optarg; break;
		case 'u': cfg.unrar = optarg; break;
		case 'l': cfg.listen = optarg; break;
		case 'm': cfg.mdns = 1; break;
		case 'v': verbose++; break;
		case 'F':
			if (cfg.nfixtures == MAX_FIXTURES) {
				fprintf(stderr, "too many --fixture\n");
				usage();
			}
			cfg.fixtures[cfg.nfixtures++] = optarg;
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
	if (sup_init(&sup, &cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		sup_free(&sup);
		return 1;
	}
	rc = sup_run(&sup);
	sup_free(&sup);
	return rc;
}
