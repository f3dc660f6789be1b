/* API keys and admin tokens: generation, hashing and constant-time checking,
 * all with OpenSSL. A key is "<tag>_" + base64url of 32 bytes from
 * RAND_bytes (43 characters, no padding, safe in headers and URLs). The
 * service stores its first FR_KEY_PREFIX_LEN characters in clear, to find
 * the client with one indexed lookup, and the SHA-256 of the whole key. */
#include "facerec/keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
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
