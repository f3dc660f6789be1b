/* API keys and admin tokens: generation, hashing and constant-time checking,
 * all with OpenSSL. A key is "<tag>_" + base64url of 32 bytes from
 * RAND_bytes (43 characters, no padding, safe in headers and URLs). The
 * service stores its first FR_KEY_PREFIX_LEN characters in clear, to find
 * the client with one indexed lookup, and the SHA-256 of the whole key.
 *
 * Webhook secrets and signatures follow Standard Webhooks 1.0: the secret is
 * "whsec_" + standard base64 of the key bytes, and a signature is base64 of
 * HMAC-SHA256 (EVP_MAC, streamed: the body is not copied) over
 * "{id}.{timestamp}.{body}" keyed with the decoded bytes. */
#include "facerec/keys.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define KEY_RAND_BYTES 32
#define KEY_B64_LEN    43   /* ceil(32 * 4 / 3) without the '=' padding */

_Static_assert(3 + 1 + KEY_B64_LEN == FR_KEY_LEN, "key length");

static int tag_ok(const char *tag) {
    if (!tag || strlen(tag) != 3) return 0;
    for (int i = 0; i < 3; i++) {
        if (tag[i] < 'a' || tag[i] > 'z') return 0;
    }
    return 1;
}

int fr_key_generate(const char *tag, char key_out[FR_KEY_LEN + 1]) {
    unsigned char raw[KEY_RAND_BYTES];
    unsigned char b64[KEY_B64_LEN + 2];   /* EVP_EncodeBlock: 44 chars + NUL */
    key_out[0] = 0;
    if (!tag_ok(tag)) return fr_err_set(FR_E_INVALID_ARGUMENT, "key tag must be 3 lowercase letters");
    if (RAND_bytes(raw, sizeof raw) != 1)
        return fr_err_set(FR_E_INTERNAL_ERROR, "RAND_bytes failed: no randomness for a key");
    EVP_EncodeBlock(b64, raw, sizeof raw);
    for (int i = 0; i < KEY_B64_LEN; i++) {   /* base64 -> base64url */
        if (b64[i] == '+') b64[i] = '-';
        else if (b64[i] == '/') b64[i] = '_';
    }
    memcpy(key_out, tag, 3);
    key_out[3] = '_';
    memcpy(key_out + 4, b64, KEY_B64_LEN);
    key_out[FR_KEY_LEN] = 0;
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(b64, sizeof b64);
    return 0;
}

void fr_key_prefix(const char *key, char prefix_out[FR_KEY_PREFIX_LEN + 1]) {
    size_t n = key ? strnlen(key, FR_KEY_PREFIX_LEN) : 0;
    if (n) memcpy(prefix_out, key, n);
    prefix_out[n] = 0;
}

int fr_sha256_hex(const void *a, size_t a_len, const void *b, size_t b_len, char out[FR_KEY_HASH_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) && (!a_len || EVP_DigestUpdate(m, a, a_len)) &&
             (!b_len || EVP_DigestUpdate(m, b, b_len)) && EVP_DigestFinal_ex(m, md, &md_len) && md_len == 32;
    EVP_MD_CTX_free(m);
    if (!ok) return fr_err_set(FR_E_INTERNAL_ERROR, "SHA-256 failed");
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[FR_KEY_HASH_LEN] = 0;
    return 0;
}

int fr_key_hash(const char *key, char hash_out[FR_KEY_HASH_LEN + 1]) {
    hash_out[0] = 0;
    if (!key) return fr_err_set(FR_E_INVALID_ARGUMENT, "key is NULL");
    return fr_sha256_hex(key, strlen(key), NULL, 0, hash_out);
}

int fr_key_verify(const char *key, const char *hash_hex) {
    char h[FR_KEY_HASH_LEN + 1];
    if (!key || !hash_hex || strnlen(hash_hex, FR_KEY_HASH_LEN + 1) != FR_KEY_HASH_LEN) return 0;
    if (fr_key_hash(key, h) < 0) return 0;
    /* The comparison time must not depend on where the first difference is. */
    return CRYPTO_memcmp(h, hash_hex, FR_KEY_HASH_LEN) == 0;
}

/* ---- webhook secrets and signatures ---- */

#define WHSEC_PREFIX     "whsec_"
#define WHSEC_PREFIX_LEN 6
#define WHSEC_RAND_BYTES 32

_Static_assert(WHSEC_PREFIX_LEN + (WHSEC_RAND_BYTES + 2) / 3 * 4 == FR_WEBHOOK_SECRET_LEN,
               "secret length");
_Static_assert(3 + 44 == FR_WEBHOOK_SIG_LEN, "signature length");

int fr_webhook_secret_new(char out[FR_WEBHOOK_SECRET_LEN + 1]) {
    unsigned char raw[WHSEC_RAND_BYTES];
    out[0] = 0;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return fr_err_set(FR_E_INTERNAL_ERROR,
                          "RAND_bytes failed: no randomness for a webhook secret");
    memcpy(out, WHSEC_PREFIX, WHSEC_PREFIX_LEN);
    /* 44 characters and a NUL */
    EVP_EncodeBlock((unsigned char *)out + WHSEC_PREFIX_LEN, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

/* The key bytes of a secret ("whsec_<base64>" or the base64 alone: the
 * standard alphabet, the '=' padding optional); their count, or -1. */
static int secret_key(const char *secret, unsigned char key[FR_WEBHOOK_KEY_MAX + 3]) {
    unsigned char text[(FR_WEBHOOK_KEY_MAX + 2) / 3 * 4 + 4];
    if (!secret) return -1;
    if (strncmp(secret, WHSEC_PREFIX, WHSEC_PREFIX_LEN) == 0) secret += WHSEC_PREFIX_LEN;
    size_t n = strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    size_t pad = strspn(secret + n, "=");
    if (secret[n + pad] || n % 4 == 1 || pad > (4 - n % 4) % 4 || n + pad > sizeof text - 4)
        return -1;
    memcpy(text, secret, n);
    size_t c = n;
    while (c % 4) text[c++] = '=';
    size_t bytes = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    int r = EVP_DecodeBlock(key, text, (int)c);   /* counts the padding as zero bytes */
    OPENSSL_cleanse(text, sizeof text);
    if (r < 0 || (size_t)r != c / 4 * 3 || bytes < FR_WEBHOOK_KEY_MIN || bytes > FR_WEBHOOK_KEY_MAX)
        return -1;
    return (int)bytes;
}

/* base64 of HMAC-SHA256(key, "{id}.{ts}.{body}") into out (45 bytes). */
static int hmac_b64(EVP_MAC *mac, const unsigned char *key, size_t key_len, const char *id,
                    const char *ts, const void *body, size_t len, char out[45]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end() };
    EVP_MAC_CTX *m = EVP_MAC_CTX_new(mac);
    int ok = m && EVP_MAC_init(m, key, key_len, params) &&
             EVP_MAC_update(m, (const unsigned char *)id, strlen(id)) &&
             EVP_MAC_update(m, (const unsigned char *)".", 1) &&
             EVP_MAC_update(m, (const unsigned char *)ts, strlen(ts)) &&
             EVP_MAC_update(m, (const unsigned char *)".", 1) &&
             (!len || EVP_MAC_update(m, body, len)) && EVP_MAC_final(m, md, &md_len, sizeof md) &&
             md_len == 32;
    EVP_MAC_CTX_free(m);
    if (!ok) return -1;
    EVP_EncodeBlock((unsigned char *)out, md, 32);
    return 0;
}

int fr_webhook_sign(const char *const secrets[], int n, const char *msg_id, int64_t timestamp,
                    const void *body, size_t len, char *out, size_t cap) {
    unsigned char key[FR_WEBHOOK_KEY_MAX + 3];
    char ts[24], b64[45];
    EVP_MAC *mac = NULL;
    int rc = 0;
    if (out && cap) out[0] = 0;
    if (!secrets || n < 1 || !msg_id || (!body && len))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "webhook signature: no secret, id or body");
    if (!out || cap < FR_WEBHOOK_SIGNATURE_MAX(n))
        return fr_err_set(FR_E_LIMIT_EXCEEDED,
                          "webhook signature: %zu bytes of room for %d signatures, %zu needed", cap,
                          n, FR_WEBHOOK_SIGNATURE_MAX(n));
    snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    if (!(mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) {
        rc = fr_err_set(FR_E_INTERNAL_ERROR, "webhook signature: HMAC is not available");
        goto out;
    }
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        int key_len = secret_key(secrets[i], key);
        if (key_len < 0) {   /* never quote the secret back */
            rc = fr_err_set(FR_E_INVALID_ARGUMENT,
                            "webhook secret %d is not \"whsec_\" + base64 of %d to %d bytes", i + 1,
                            FR_WEBHOOK_KEY_MIN, FR_WEBHOOK_KEY_MAX);
            goto out;
        }
        if (hmac_b64(mac, key, (size_t)key_len, msg_id, ts, body, len, b64) < 0) {
            rc = fr_err_set(FR_E_INTERNAL_ERROR, "webhook signature: HMAC-SHA256 failed");
            goto out;
        }
        pos += (size_t)snprintf(out + pos, cap - pos, "%sv1,%s", i ? " " : "", b64);
    }
out:
    OPENSSL_cleanse(key, sizeof key);
    EVP_MAC_free(mac);
    if (rc < 0) out[0] = 0;
    return rc;
}
