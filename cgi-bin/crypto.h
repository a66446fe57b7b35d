/* crypto.h: random identifiers, one-way hashes and TURN credentials (OpenSSL). */
#ifndef TUTURU_CRYPTO_H
#define TUTURU_CRYPTO_H

#include <stddef.h>

#define CRYPTO_TOKEN_BYTES 32                       /* 256-bit bearer tokens */
#define CRYPTO_TOKEN_HEX (2 * CRYPTO_TOKEN_BYTES)   /* their length as text */
#define CRYPTO_PEER_BYTES 8                         /* public peer ids */
#define CRYPTO_HASH_HEX 64                          /* SHA-256 as hex */

/* Fill out (2*nbytes+1 chars) with nbytes of CSPRNG output as lowercase hex.
 * Returns 0, or -1 if the generator failed (out is then an empty string). */
int crypto_random_hex(char *out, size_t nbytes);

/* out (65 chars) = hex SHA-256 of s. Returns 0 or -1. Used for tokens, which
 * carry enough entropy that an unkeyed hash cannot be reversed. */
int crypto_sha256_hex(const char *s, char *out);

/* out (65 chars) = hex HMAC-SHA256(secret, label ":" s). Used for PINs and
 * client addresses: a million PINs are easy to try, so the hash needs a key
 * that is not in the database. Returns 0 or -1. */
int crypto_keyed_hex(const char *secret, const char *label, const char *s, char *out);

/* coturn REST-API credential: out = base64(HMAC-SHA1(secret, username)).
 * outlen must be >= 29. Returns 0 or -1. */
int crypto_turn_password(const char *secret, const char *username, char *out, size_t outlen);

#endif
