/*
 * A library snapshot as peers advertise it: one entry per game. Encoded as
 * a MessagePack array of maps; decoding validates everything, since it may
 * come from any host on the LAN.
 */
#ifndef LANSPREAD_GAMELIST_H
#define LANSPREAD_GAMELIST_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define GAMELIST_MAX	4096

struct game_entry {
	char	 id[65];
	char	 version[64];
	char	 availability[16];	/* "Ready" or "LocalOnly" */
	int	 downloaded;
	int	 installed;
	uint64_t size;
};

void	gamelist_pack(msgpack_packer *, const struct game_entry *, size_t);
int	gamelist_decode(const msgpack_object *, struct game_entry **, size_t *,
	    const char **why);

#endif
