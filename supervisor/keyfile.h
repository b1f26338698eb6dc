/*
 * This peer's key: the 32-byte Ed25519 seed in STATE/identity.key (mode
 * 0600), made on first start and then kept, so the peer id derived from
 * it survives restarts.
 */
#ifndef LANSPREAD_KEYFILE_H
#define LANSPREAD_KEYFILE_H

#include <stddef.h>

#include "common/identity.h"

#define KEYFILE_NAME	"identity.key"

int	keyfile_load_or_create(const char *state_dir,
	    unsigned char seed[IDENTITY_SEED_LEN], char *err, size_t errsz);

#endif
