/* facerec — API keys and admin tokens: generation, hashing and
 * constant-time checking, with OpenSSL. The service makes and checks keys;
 * the store only keeps what this gives it (prefix and hash). */
#ifndef FACEREC_KEYS_H
#define FACEREC_KEYS_H

#include "facerec/base.h"

/* "frk_" + 43 chars of base64url (32 random bytes).
 * Only the prefix and the SHA-256 are stored: a stolen database gives no key.
 * A plain (unsalted, fast) hash is enough because the key is 256 random bits,
 * not a password: there is nothing to guess. */
#define FR_KEY_LEN        47    /* strlen of a key from fr_key_generate */
#define FR_KEY_PREFIX_LEN 12    /* what is stored in clear to find the client */
#define FR_KEY_HASH_LEN   64    /* SHA-256 in hex */
/* tag: 3 lowercase letters ("frk" for client keys, "fra" for admin tokens). */
FR_API int fr_key_generate(const char *tag, char key_out[FR_KEY_LEN + 1]);
FR_API void fr_key_prefix(const char *key, char prefix_out[FR_KEY_PREFIX_LEN + 1]);
FR_API int fr_key_hash(const char *key, char hash_out[FR_KEY_HASH_LEN + 1]);
/* SHA-256 of a then b (either may be empty), lowercase hex. */
FR_API int fr_sha256_hex(const void *a, size_t a_len, const void *b, size_t b_len, char out[FR_KEY_HASH_LEN + 1]);
/* 1 when key hashes to hash_hex, compared in constant time; else 0. */
FR_API int fr_key_verify(const char *key, const char *hash_hex);

#endif
