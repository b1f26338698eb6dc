/*
 * lanspread.conf: "key = value" lines, '#' comments. Every key has a
 * default that serves a real LAN party; a bad line is an error that
 * names the file and the line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/rate.h"
#include "supervisor/catalog_sign.h"
#include "supervisor/config.h"

void
config_defaults(struct daemon_config *dc)
{
	memset(dc, 0, sizeof(*dc));
	if (gethostname(dc->name, sizeof(dc->name)) == -1 ||
	    dc->name[0] == '\0')
		snprintf(dc->name, sizeof(dc->name), "lanspread");
	dc->name[sizeof(dc->name) - 1] = '\0';
	snprintf(dc->games_dir, sizeof(dc->games_dir),
	    "/var/lib/lanspread/games");
	snprintf(dc->state_dir, sizeof(dc->state_dir),
	    "/var/lib/lanspread/state");
	snprintf(dc->catalog, sizeof(dc->catalog), "/var/lib/lanspread/game.db");
	snprintf(dc->listen, sizeof(dc->listen), "0.0.0.0:7331");
	dc->unrar = UNRAR_BUILTIN;
	snprintf(dc->control_socket, sizeof(dc->control_socket),
	    "/run/lanspread/control.sock");
	snprintf(dc->user, sizeof(dc->user), "lanspread");
	snprintf(dc->group, sizeof(dc->group), "lanspread");
	dc->mdns = 1;
	snprintf(dc->net_user, sizeof(dc->net_user), "nobody");
	dc->sandbox_optional = 0;
	dc->peers[0] = '\0';
	dc->redial = 1;
	dc->peer_exchange = 1;
	dc->max_active_downloads = 3;
	snprintf(dc->web_listen, sizeof(dc->web_listen), "%s",
	    WEB_DEFAULT_LISTEN);
}


static char *
trim(char *s)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int
set_str(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size)
		return -1;
	snprintf(dst, size, "%s", value);
	return 0;
}

/* "IP[:PORT] IP[:PORT] ...": each one an address we could dial. */
static int
peers_valid(const char *value)
{
	struct sockaddr_storage ss;
	socklen_t	 len;
	char		 list[1024], *p, *save;

	if (set_str(list, sizeof(list), value) == -1)
		return 0;
	for (p = strtok_r(list, " \t,", &save); p != NULL;
	    p = strtok_r(NULL, " \t,", &save))
		if (addr_parse(p, LANSPREAD_PORT, &ss, &len) == -1 ||
		    addr_is_any((struct sockaddr *)&ss))
			return 0;
	return 1;
}

/* One key; returns NULL or what is wrong with it. */
const char *
config_set(struct daemon_config *dc, const char *key, const char *value)
{
	struct sockaddr_storage ss;
	socklen_t	 len;

	if (strcmp(key, "name") == 0) {
		if (*value == '\0' || set_str(dc->name, sizeof(dc->name),
		    value) == -1)
			return "name must be 1 to 63 characters";
	} else if (strcmp(key, "games_dir") == 0) {
		if (*value != '/' || set_str(dc->games_dir,
		    sizeof(dc->games_dir), value) == -1)
			return "games_dir must be an absolute path";
	} else if (strcmp(key, "state_dir") == 0) {
		if (*value != '/' || set_str(dc->state_dir,
		    sizeof(dc->state_dir), value) == -1)
			return "state_dir must be an absolute path";
	} else if (strcmp(key, "catalog") == 0) {
		if (*value != '/' || set_str(dc->catalog, sizeof(dc->catalog),
		    value) == -1)
			return "catalog must be an absolute path";
	} else if (strcmp(key, "listen") == 0) {
		if (addr_parse(value, LANSPREAD_PORT, &ss, &len) == -1 ||
		    set_str(dc->listen, sizeof(dc->listen), value) == -1)
			return "listen must be IP[:PORT]";
	} else if (strcmp(key, "mdns") == 0) {
		if (strcmp(value, "yes") == 0)
			dc->mdns = 1;
		else if (strcmp(value, "no") == 0)
			dc->mdns = 0;
		else
			return "mdns must be yes or no";
	} else if (strcmp(key, "unrar") == 0) {
		dc->unrar = unrar_mode_parse(value);
		/* The fixture installer ("") is the shim's alone. */
		if (dc->unrar == UNRAR_NONE || (dc->unrar == UNRAR_EXTERNAL &&
		    (*value != '/' || set_str(dc->unrar_path,
		    sizeof(dc->unrar_path), value) == -1)))
			return "unrar must be builtin or an absolute path";
	} else if (strcmp(key, "control_socket") == 0) {
		if (*value != '/' || set_str(dc->control_socket,
		    sizeof(dc->control_socket), value) == -1)
			return "control_socket must be an absolute path of at "
			    "most 107 bytes";
	} else if (strcmp(key, "user") == 0) {
		if (set_str(dc->user, sizeof(dc->user), value) == -1)
			return "user name too long";
	} else if (strcmp(key, "net_user") == 0) {
		if (*value == '\0' || set_str(dc->net_user,
		    sizeof(dc->net_user), value) == -1)
			return "net_user must be 1 to 63 characters";
	} else if (strcmp(key, "sandbox_optional") == 0) {
		if (strcmp(value, "yes") == 0)
			dc->sandbox_optional = 1;
		else if (strcmp(value, "no") == 0)
			dc->sandbox_optional = 0;
		else
			return "sandbox_optional must be yes or no";
	} else if (strcmp(key, "peers") == 0) {
		if (!peers_valid(value) || set_str(dc->peers,
		    sizeof(dc->peers), value) == -1)
			return "peers must be addresses IP[:PORT], separated by "
			    "spaces";
	} else if (strcmp(key, "done_script") == 0) {
		if ((*value != '/' && *value != '\0') || set_str(dc->done_script,
		    sizeof(dc->done_script), value) == -1)
			return "done_script must be an absolute path";
	} else if (strcmp(key, "upload_limit") == 0) {
		if (rate_parse(value, &dc->upload_limit, NULL, 0) == -1)
			return "upload_limit must be a speed such as 50MiB, "
			    "400mbit or none";
	} else if (strcmp(key, "upload_slots") == 0) {
		char	*end;
		long	 n = strtol(value, &end, 10);

		if (*value == '\0' || *end != '\0' || n < 0 ||
		    n > UPLOAD_SLOTS_MAX)
			return "upload_slots must be 0 (no cap) to 1024";
		dc->upload_slots = (int)n;
	} else if (strcmp(key, "max_active_downloads") == 0) {
		char	*end;
		long	 n = strtol(value, &end, 10);

		if (*value == '\0' || *end != '\0' || n < 0 || n > 1000)
			return "max_active_downloads must be 0 (no queue) to "
			    "1000";
		dc->max_active_downloads = (int)n;
	} else if (strcmp(key, "download_limit") == 0) {
		if (rate_parse(value, &dc->download_limit, NULL, 0) == -1)
			return "download_limit must be a speed such as 50MiB, "
			    "400mbit or none";
	} else if (strcmp(key, "peer_exchange") == 0) {
		if (strcmp(value, "yes") == 0)
			dc->peer_exchange = 1;
		else if (strcmp(value, "no") == 0)
			dc->peer_exchange = 0;
		else
			return "peer_exchange must be yes or no";
	} else if (strcmp(key, "redial") == 0) {
		if (strcmp(value, "yes") == 0)
			dc->redial = 1;
		else if (strcmp(value, "no") == 0)
			dc->redial = 0;
		else
			return "redial must be yes or no";
	} else if (strcmp(key, "catalog_trust") == 0) {
		unsigned char	 k[CATALOG_KEY_SIZE];

		if (*value != '\0' && catalog_key_parse(value, k) == -1)
			return "catalog_trust must be a public key of 64 hex "
			    "digits (lanspreadctl catalog key prints it)";
		set_str(dc->catalog_trust, sizeof(dc->catalog_trust), value);
	} else if (strcmp(key, "web_listen") == 0) {
		if (strcmp(value, "no") == 0)
			dc->web_listen[0] = '\0';
		else if (addr_parse(value, WEB_PORT, &ss, &len) == -1 ||
		    set_str(dc->web_listen, sizeof(dc->web_listen),
		    value) == -1)
			return "web_listen must be IP[:PORT] or no";
	} else if (strcmp(key, "web_token") == 0) {
		if (*value == '\0')
			dc->web_token[0] = '\0';
		else if (!web_token_valid(value) || set_str(dc->web_token,
		    sizeof(dc->web_token), value) == -1)
			return "web_token must be 16 to 128 letters, digits "
			    "and ._~-";
	} else if (strcmp(key, "games_group") == 0) {
		if (set_str(dc->games_group, sizeof(dc->games_group),
		    value) == -1)
			return "games_group name too long";
	} else if (strcmp(key, "group") == 0) {
		if (set_str(dc->group, sizeof(dc->group), value) == -1)
			return "group name too long";
	} else
		return "unknown key";
	return NULL;
}

int
config_load(struct daemon_config *dc, const char *path, int must_exist,
    char *err, size_t errsz)
{
	FILE	*f;
	char	 line[4096];
	int	 lineno = 0;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char		*s, *eq;
		const char	*why;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errsz, "%s:%d: line too long", path,
			    lineno);
			fclose(f);
			return -1;
		}
		if ((s = strchr(line, '#')) != NULL)
			*s = '\0';
		s = trim(line);
		if (*s == '\0')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errsz, "%s:%d: expected key = value",
			    path, lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		if ((why = config_set(dc, trim(s), trim(eq + 1))) != NULL) {
			snprintf(err, errsz, "%s:%d: %s: %s", path, lineno,
			    trim(s), why);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}
