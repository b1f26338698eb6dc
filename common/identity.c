/*
 * Peer identities (see identity.h). What a hello proof signs:
 *
 *	"lanspread peer hello v2" NUL, role, challenge (32 bytes),
 *	signer's peer id, verifier's peer id (32 hex digits each)
 *
 * The context keeps these signatures apart from anything else the key
 * might sign; the role keeps a listener's proof from serving as a
 * dialler's; the verifier's fresh challenge keeps a proof from being
 * replayed; both ids bind it to this pair of peers.
 */
#include <string.h>

#include "common/identity.h"

static const char hello_context[] = "lanspread peer hello v2";

#define TRANSCRIPT_LEN	(sizeof(hello_context) + 1 + \
			 IDENTITY_CHALLENGE_LEN + 2 * PEER_ID_LEN)

int
identity_from_seed(struct identity *id,
    const unsigned char seed[IDENTITY_SEED_LEN])
{
	if (sodium_init() == -1 ||
	    crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0)
		return -1;
	identity_derive_id(id->pk, id->peer_id);
	sodium_bin2hex(id->pk_hex, sizeof(id->pk_hex), id->pk, sizeof(id->pk));
	return 0;
}

void
identity_wipe(struct identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

/* The first 16 bytes of SHA-256(public key), as 32 hex digits. */
void
identity_derive_id(const unsigned char pk[IDENTITY_PK_LEN],
    char id[PEER_ID_SIZE])
{
	unsigned char	 h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, IDENTITY_PK_LEN);
	sodium_bin2hex(id, PEER_ID_SIZE, h, PEER_ID_LEN / 2);
}

/* Exactly len bytes of lowercase hex, nothing more: 0, or -1. */
int
identity_hex_decode(const char *hex, unsigned char *out, size_t len)
{
	size_t	 i, got = 0;

	if (strlen(hex) != 2 * len)
		return -1;
	for (i = 0; hex[i] != '\0'; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			return -1;
	if (sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, NULL) != 0 ||
	    got != len)
		return -1;
	return 0;
}

/* 1 when pk_hex is a key and id is derived from it (pk filled), else 0. */
int
identity_id_matches_key(const char *id, const char *pk_hex,
    unsigned char pk[IDENTITY_PK_LEN])
{
	char	 derived[PEER_ID_SIZE];

	if (identity_hex_decode(pk_hex, pk, IDENTITY_PK_LEN) == -1)
		return 0;
	identity_derive_id(pk, derived);
	return strcmp(derived, id) == 0;
}

void
identity_new_challenge(char hex[IDENTITY_CHALLENGE_HEX])
{
	unsigned char	 c[IDENTITY_CHALLENGE_LEN];

	randombytes_buf(c, sizeof(c));
	sodium_bin2hex(hex, IDENTITY_CHALLENGE_HEX, c, sizeof(c));
}

static int
transcript(unsigned char out[TRANSCRIPT_LEN], enum hello_role role,
    const char *challenge_hex, const char *signer_id, const char *verifier_id)
{
	unsigned char	*p = out;

	if (!peer_id_is_valid(signer_id) || !peer_id_is_valid(verifier_id))
		return -1;
	memcpy(p, hello_context, sizeof(hello_context));
	p += sizeof(hello_context);
	*p++ = (unsigned char)role;
	if (identity_hex_decode(challenge_hex, p, IDENTITY_CHALLENGE_LEN) == -1)
		return -1;
	p += IDENTITY_CHALLENGE_LEN;
	memcpy(p, signer_id, PEER_ID_LEN);
	p += PEER_ID_LEN;
	memcpy(p, verifier_id, PEER_ID_LEN);
	return 0;
}

int
identity_sign_hello(const struct identity *id, enum hello_role role,
    const char *challenge_hex, const char *verifier_id,
    char proof_hex[IDENTITY_SIG_HEX])
{
	unsigned char	 t[TRANSCRIPT_LEN], sig[IDENTITY_SIG_LEN];

	if (transcript(t, role, challenge_hex, id->peer_id,
	    verifier_id) == -1 ||
	    crypto_sign_detached(sig, NULL, t, sizeof(t), id->sk) != 0)
		return -1;
	sodium_bin2hex(proof_hex, IDENTITY_SIG_HEX, sig, sizeof(sig));
	return 0;
}

/* 0 when proof_hex is the signer's signature of this hello, else -1. */
int
identity_verify_hello(const unsigned char pk[IDENTITY_PK_LEN],
    enum hello_role role, const char *challenge_hex, const char *signer_id,
    const char *verifier_id, const char *proof_hex)
{
	unsigned char	 t[TRANSCRIPT_LEN], sig[IDENTITY_SIG_LEN];

	if (transcript(t, role, challenge_hex, signer_id, verifier_id) == -1 ||
	    identity_hex_decode(proof_hex, sig, sizeof(sig)) == -1 ||
	    crypto_sign_verify_detached(sig, t, sizeof(t), pk) != 0)
		return -1;
	return 0;
}
