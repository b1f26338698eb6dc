/*
 * Peer identities: an Ed25519 key pair per peer (libsodium). The peer id
 * is derived from the public key, so an id cannot be claimed without the
 * key, and a hello proves the key by signing the other side's fresh
 * challenge. Keys, challenges and proofs travel as lowercase hex.
 */
#ifndef LANSPREAD_IDENTITY_H
#define LANSPREAD_IDENTITY_H

#include <stddef.h>

#include <sodium.h>

#include "common/layout.h"

#define IDENTITY_SEED_LEN	crypto_sign_SEEDBYTES		/* 32 */
#define IDENTITY_PK_LEN		crypto_sign_PUBLICKEYBYTES	/* 32 */
#define IDENTITY_SK_LEN		crypto_sign_SECRETKEYBYTES	/* 64 */
#define IDENTITY_SIG_LEN	crypto_sign_BYTES		/* 64 */
#define IDENTITY_CHALLENGE_LEN	32
#define IDENTITY_PK_HEX		(2 * IDENTITY_PK_LEN + 1)
#define IDENTITY_SIG_HEX	(2 * IDENTITY_SIG_LEN + 1)
#define IDENTITY_CHALLENGE_HEX	(2 * IDENTITY_CHALLENGE_LEN + 1)

/* What the signer was in the handshake: one side's proof is no use as
 * the other's. */
enum hello_role {
	HELLO_ROLE_LISTENER = 'L',	/* signs in its ack */
	HELLO_ROLE_DIALLER = 'D',	/* signs in its proof */
};

struct identity {
	unsigned char	 pk[IDENTITY_PK_LEN];
	unsigned char	 sk[IDENTITY_SK_LEN];
	char		 peer_id[PEER_ID_SIZE];
	char		 pk_hex[IDENTITY_PK_HEX];
};

int	identity_from_seed(struct identity *,
	    const unsigned char seed[IDENTITY_SEED_LEN]);
void	identity_wipe(struct identity *);
void	identity_derive_id(const unsigned char pk[IDENTITY_PK_LEN],
	    char id[PEER_ID_SIZE]);
int	identity_id_matches_key(const char *id, const char *pk_hex,
	    unsigned char pk[IDENTITY_PK_LEN]);
void	identity_new_challenge(char hex[IDENTITY_CHALLENGE_HEX]);
int	identity_sign_hello(const struct identity *, enum hello_role,
	    const char *challenge_hex, const char *verifier_id,
	    char proof_hex[IDENTITY_SIG_HEX]);
int	identity_verify_hello(const unsigned char pk[IDENTITY_PK_LEN],
	    enum hello_role, const char *challenge_hex, const char *signer_id,
	    const char *verifier_id, const char *proof_hex);
int	identity_hex_decode(const char *hex, unsigned char *out, size_t len);

#endif
