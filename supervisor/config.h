/* The daemon's configuration file (lanspread.conf(5)). */
#ifndef LANSPREAD_CONFIG_H
#define LANSPREAD_CONFIG_H

#include <sys/types.h>

#include <limits.h>
#include <stdint.h>

#include "common/install_link.h"
#include "common/web_guard.h"

#define CONFIG_DEFAULT	"/etc/lanspread/lanspread.conf"
#define UPLOAD_SLOTS_MAX	1024

struct daemon_config {
	char	 name[64];
	char	 games_dir[PATH_MAX];
	char	 state_dir[PATH_MAX];
	char	 catalog[PATH_MAX];
	char	 listen[64];
	enum unrar_mode unrar;		/* builtin or external */
	char	 unrar_path[PATH_MAX];	/* the external program */
	char	 control_socket[108];
	char	 user[64];
	char	 group[64];
	char	 games_group[64];	/* installed games' group, or "" */
	int	 mdns;
	char	 net_user[64];		/* the net worker's user, run as root */
	int	 sandbox_optional;	/* a missing sandbox layer is a warning */
	char	 peers[1024];		/* static peers, "IP[:PORT] ..." */
	char	 done_script[PATH_MAX];	/* a program, or "" */
	int	 redial;		/* dial remembered peers at start */
	int	 peer_exchange;		/* tell and dial linked peers */
	uint64_t upload_limit;		/* bytes a second; 0: none */
	uint64_t download_limit;
	int	 upload_slots;		/* peers uploaded to at once; 0: any */
	int	 max_active_downloads;	/* 0: no queue */
	char	 catalog_trust[65];	/* the organizer's key in hex, or "" */
	char	 web_listen[64];	/* the web page's IP[:PORT]; "": none */
	char	 web_token[WEB_TOKEN_MAX + 1];	/* needed off loopback */
};

void		 config_defaults(struct daemon_config *);
int		 config_load(struct daemon_config *, const char *path,
		    int must_exist, char *err, size_t errsz);
const char	*config_set(struct daemon_config *, const char *key,
		    const char *value);

#endif
