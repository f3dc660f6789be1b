/* facerec — API keys and admin tokens: generation, hashing and
 * constant-time checking, with OpenSSL. The service makes and checks keys;
 * the store only keeps what this gives it (prefix and hash). Also the
 * webhook signing secrets and signatures (Standard Webhooks 1.0):
 *
 *     char secret[FR_WEBHOOK_SECRET_LEN + 1];        // "whsec_" + base64 of 32 random bytes
 *     fr_webhook_secret_new(secret);
 *     const char *const keys[] = { secret };
 *     char sig[FR_WEBHOOK_SIGNATURE_MAX(1)];
 *     fr_webhook_sign(keys, 1, "msg_2Kx...", 1614265330, body, body_len, sig, sizeof sig);
 *     // sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=": the webhook-signature header */
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

/* ---- webhook secrets and signatures (Standard Webhooks 1.0) ----
 * A secret is "whsec_" + standard base64 (with padding) of its key bytes; the
 * receiver verifies HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}"
 * keyed with the DECODED bytes. Unlike API keys the secret itself is kept
 * (the receiver holds the same one): the store keeps it, never a log. */
#define FR_WEBHOOK_SECRET_LEN   50   /* "whsec_" + 44 chars (32 bytes, base64 with one '=') */
#define FR_WEBHOOK_KEY_MIN      16   /* decoded key bytes accepted when signing */
#define FR_WEBHOOK_KEY_MAX      64
#define FR_WEBHOOK_SIG_LEN      47   /* "v1," + 44 chars of base64 HMAC-SHA256 */
/* Bytes of out that fr_webhook_sign needs for n secrets, the NUL included. */
#define FR_WEBHOOK_SIGNATURE_MAX(n) ((size_t)(n) * (FR_WEBHOOK_SIG_LEN + 1))
/* A new secret from RAND_bytes. -FR_E_INTERNAL_ERROR when there is no randomness. */
FR_API int fr_webhook_secret_new(char out[FR_WEBHOOK_SECRET_LEN + 1]);
/* The webhook-signature header's value: "v1,<base64 HMAC-SHA256>" for each of
 * the n secrets (one, or two while a secret is rotated), separated by one
 * space, over "{msg_id}.{timestamp}.{body}". A secret is "whsec_<base64>" or
 * the base64 alone, decoding to FR_WEBHOOK_KEY_MIN..FR_WEBHOOK_KEY_MAX bytes.
 * -FR_E_INVALID_ARGUMENT for a bad secret (NULL, not base64, a wrong length:
 * the message never shows it) or n < 1; -FR_E_LIMIT_EXCEEDED when cap is
 * smaller than FR_WEBHOOK_SIGNATURE_MAX(n). out is "" on failure. */
FR_API int fr_webhook_sign(const char *const secrets[], int n, const char *msg_id, int64_t timestamp,
                           const void *body, size_t len, char *out, size_t cap);

#endif
