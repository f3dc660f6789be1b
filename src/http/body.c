/* JSON request bodies (jansson), typed field getters, query-string integers
 * and base64 images (OpenSSL EVP_Decode*).
 *
 * jansson does the JSON parsing, UTF-8 and NUL checks; we add what a service
 * needs on top: a nesting limit checked by a byte scan *before* jansson
 * recurses (its compiled-in limit is 2048 levels of C recursion), "must be
 * an object", and getters whose errors name the field so the client sees
 * "field 'top_k' must be an integer in [1, 100]" instead of a parse tree.
 *
 * base64 is decoded in two passes over the text: the first validates it and
 * counts the bytes it will give (so an oversized image is refused before
 * anything is allocated), the second normalises chunks (URL-safe alphabet →
 * standard, blanks dropped, padding restored) into a stack buffer and
 * decodes them with EVP_DecodeBlock straight into the output. OpenSSL's
 * decoders alone would choke on the URL-safe alphabet ('-' is its PEM
 * "-----END" marker), on missing padding and on blanks inside a block,
 * hence the normalising. */
#include "http/http.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

/* ---- JSON bodies ---- */

/* Set when an allocation for jansson fails on this thread: jansson reports
 * some out-of-memory failures as syntax errors ("string or '}' expected"),
 * and a client must not be told its valid JSON is malformed. */
static _Thread_local int json_oom;

static void *json_alloc(size_t n) {
    void *p = fr_malloc(n);
    if (!p) json_oom = 1;
    return p;
}

void fr_json_use_fr_alloc(void) { json_set_alloc_funcs(json_alloc, fr_free); }

/* Deepest nesting of [ and { outside strings; stops counting past limit. */
static int json_depth_exceeds(const uint8_t *s, size_t n, int limit) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (in_str) {
            if (c == '\\') i++;             /* skip the escaped byte, whatever it is */
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return 1;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

int fr_json_parse_body(const uint8_t *body, size_t len, size_t max_len, json_t **out) {
    *out = NULL;
    if (max_len && len > max_len)
        return fr_err_set(FR_E_FILE_TOO_LARGE, "JSON body larger than %zu bytes", max_len);
    if (!body || len == 0) return fr_err_set(FR_E_VALIDATION_ERROR, "JSON body is empty");
    if (json_depth_exceeds(body, len, FR_JSON_MAX_DEPTH))
        return fr_err_set(FR_E_VALIDATION_ERROR, "JSON body nested deeper than %d levels", FR_JSON_MAX_DEPTH);
    json_error_t err;
    json_oom = 0;
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (json_oom || json_error_code(&err) == json_error_out_of_memory)
            return fr_err_set(FR_E_NOMEM, "JSON body: out of memory");
        return fr_err_set(FR_E_VALIDATION_ERROR, "JSON body: %s at line %d, column %d", err.text, err.line,
                          err.column);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return fr_err_set(FR_E_VALIDATION_ERROR, "JSON body must be an object");
    }
    *out = root;
    return 0;
}

/* ---- typed getters ---- */

/* The field's value, NULL when absent or null; rc < 0 when required and so. */
static json_t *field_get(json_t *obj, const char *field, int required, int *rc) {
    json_t *v = json_is_object(obj) ? json_object_get(obj, field) : NULL;
    *rc = 0;
    if (json_is_null(v)) v = NULL;
    if (!v && required) *rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is required", field);
    return v;
}

int fr_json_get_string(json_t *obj, const char *field, int required, size_t max_len, const char **out) {
    int rc;
    json_t *v = field_get(obj, field, required, &rc);
    if (!v) return rc;
    if (!json_is_string(v)) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be a string", field);
    if (json_string_length(v) > max_len)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be at most %zu bytes", field, max_len);
    *out = json_string_value(v);
    return 0;
}

/* A JSON number as an int64 when it is integral and representable. */
static int as_int64(json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (!json_is_real(v)) return 0;
    double d = json_real_value(v);
    /* 2^63 is exact in a double; the cast is defined strictly below it */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

int fr_json_get_int(json_t *obj, const char *field, int required, int64_t min, int64_t max, int64_t *out) {
    int rc;
    json_t *v = field_get(obj, field, required, &rc);
    if (!v) return rc;
    int64_t x;
    if (!as_int64(v, &x) || x < min || x > max)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be an integer in [%lld, %lld]", field,
                          (long long)min, (long long)max);
    *out = x;
    return 0;
}

int fr_json_get_number(json_t *obj, const char *field, int required, double min, double max, double *out) {
    int rc;
    json_t *v = field_get(obj, field, required, &rc);
    if (!v) return rc;
    double x = json_is_number(v) ? json_number_value(v) : 0.0;
    if (!json_is_number(v) || !(x >= min && x <= max))
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be a number in [%g, %g]", field, min, max);
    *out = x;
    return 0;
}

int fr_json_get_bool(json_t *obj, const char *field, int required, int *out) {
    int rc;
    json_t *v = field_get(obj, field, required, &rc);
    if (!v) return rc;
    if (!json_is_boolean(v))
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be true or false", field);
    *out = json_is_true(v);
    return 0;
}

int fr_json_get_object(json_t *obj, const char *field, int required, size_t max_bytes, json_t **out) {
    int rc;
    json_t *v = field_get(obj, field, required, &rc);
    if (!v) return rc;
    if (!json_is_object(v)) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be an object", field);
    /* json_dumpb with no buffer only measures: nothing is allocated */
    if (max_bytes && json_dumpb(v, NULL, 0, JSON_COMPACT) > max_bytes)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be at most %zu bytes as JSON", field,
                          max_bytes);
    *out = v;
    return 0;
}

/* ---- query-string integers ---- */

int fr_query_get_int(const char *value, const char *field, int64_t def, int64_t min, int64_t max,
                     int64_t *out) {
    if (!value || !value[0]) {
        *out = def;
        return 0;
    }
    const char *p = value;
    int neg = *p == '-';
    if (neg) p++;
    uint64_t mag = 0;
    int ok = *p != '\0';
    for (; *p && ok; p++) {
        if (*p < '0' || *p > '9' || mag > (UINT64_MAX - 9) / 10) ok = 0;
        else mag = mag * 10 + (uint64_t)(*p - '0');
    }
    int64_t x = 0;
    if (ok && !neg && mag <= (uint64_t)INT64_MAX) x = (int64_t)mag;
    else if (ok && neg && mag <= (uint64_t)INT64_MAX + 1) x = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else ok = 0;
    if (!ok || x < min || x > max)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "query parameter '%.64s' must be an integer in [%lld, %lld]",
                          field, (long long)min, (long long)max);
    *out = x;
    return 0;
}

/* ---- base64 ---- */

static int b64_class_of(int c) {   /* 1 alphabet, 2 blank, 3 '=', 0 invalid */
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
    if (c == '+' || c == '/' || c == '-' || c == '_') return 1;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') return 2;
    return c == '=' ? 3 : 0;
}

/* The classes as a table: on random base64 the branches above mispredict
 * and made the scan the slowest part of decoding. */
static uint8_t b64_table[256];
static pthread_once_t b64_table_once = PTHREAD_ONCE_INIT;

static void b64_table_init(void) {
    for (int c = 0; c < 256; c++) b64_table[c] = (uint8_t)b64_class_of(c);
}

static inline int b64_class(unsigned char c) { return b64_table[c]; }

/* Skip "data:<type>;base64," when present; 0, or -1 for a data: URL that is
 * not base64. */
static int skip_data_url(const char **s, size_t *len) {
    if (*len < 5 || strncasecmp(*s, "data:", 5) != 0) return 0;
    size_t lim = *len < 256 ? *len : 256;
    const char *comma = memchr(*s, ',', lim);
    if (!comma || comma - *s < 12 || strncasecmp(comma - 7, ";base64", 7) != 0) return -1;
    *len -= (size_t)(comma + 1 - *s);
    *s = comma + 1;
    return 0;
}

/* Pass 1: count alphabet characters and padding; find the first bad byte. */
static int b64_scan(const char *s, size_t len, const char *field, size_t *n_chars) {
    size_t n = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        int k = b64_class((unsigned char)s[i]);
        if (k == 1 && pad == 0) n++;
        else if (k == 3 && pad < 2) pad++;
        else if (k != 2)
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is not valid base64 (%s at offset %zu)",
                              field, k == 0 ? "invalid character" : "data after padding", i);
    }
    /* padding is optional, and may be partial, but never more than the length needs */
    if (n % 4 == 1 || pad > (4 - n % 4) % 4)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is not valid base64 (truncated)", field);
    if (n == 0) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is empty", field);
    *n_chars = n;
    return 0;
}

/* Pass 2: normalise chunks (alphabet only, URL-safe → standard, padding
 * restored at the end) and decode each with EVP_DecodeBlock, which is about
 * ten times faster than EVP_DecodeUpdate's per-character state machine. A
 * chunk is a multiple of 4 characters; EVP_DecodeBlock counts the padding
 * as zero bytes, which are written into the slack and not counted. Returns
 * the number of bytes decoded. */
static int b64_decode(const char *s, size_t len, size_t n_chars, uint8_t *out, const char *field) {
    unsigned char chunk[4096];     /* a multiple of 4, so the padding always fits */
    size_t seen = 0, pos = 0, total = 0;
    while (seen < n_chars) {
        size_t c = 0, pad = 0;
        for (; pos < len && c < sizeof chunk && seen < n_chars; pos++) {
            unsigned char ch = (unsigned char)s[pos];
            if (b64_class(ch) != 1) continue;
            chunk[c++] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
            seen++;
        }
        if (seen == n_chars)
            for (; c % 4; pad++) chunk[c++] = '=';
        int r = EVP_DecodeBlock(out + total, chunk, (int)c);
        if (r < 0 || (size_t)r != c / 4 * 3)
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is not valid base64", field);
        total += c / 4 * 3 - pad;
    }
    return (int)total;
}

static int base64_field(const char *field, const char *s, size_t len, uint8_t **out, size_t *out_len,
                        size_t max_out) {
    *out = NULL;
    *out_len = 0;
    if (!s) len = 0;
    if (skip_data_url(&s, &len) < 0)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is not valid base64 (a data: URL without ;base64)",
                          field);
    pthread_once(&b64_table_once, b64_table_init);
    size_t n_chars = 0;
    int rc = b64_scan(s, len, field, &n_chars);
    if (rc < 0) return rc;
    size_t n_out = n_chars / 4 * 3 + (n_chars % 4 ? n_chars % 4 - 1 : 0);
    if (n_out > max_out)
        return fr_err_set_at(FR_E_FILE_TOO_LARGE, "field", field, "field '%.64s' decodes to %zu bytes, more than %zu", field, n_out,
                          max_out);
    if (n_out > (size_t)INT32_MAX / 2)    /* EVP_Decode* counts in int */
        return fr_err_set_at(FR_E_FILE_TOO_LARGE, "field", field, "field '%.64s' is too large to decode", field);
    uint8_t *buf = fr_malloc(n_out + 3);   /* + the zero bytes of the padding */
    if (!buf) return fr_err_set(FR_E_NOMEM, "base64: out of memory for %zu bytes", n_out);
    rc = b64_decode(s, len, n_chars, buf, field);
    if (rc >= 0 && (size_t)rc != n_out)
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' is not valid base64", field);
    if (rc < 0) {
        fr_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n_out;
    return 0;
}

int fr_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len, size_t max_out) {
    return base64_field("image_base64", s, len, out, out_len, max_out);
}

int fr_json_get_base64(json_t *obj, const char *field, int required, size_t max_out, uint8_t **out,
                       size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    int rc;
    json_t *v = field_get(obj, field, required, &rc);
    if (!v) return rc;
    if (!json_is_string(v)) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%.64s' must be a string", field);
    return base64_field(field, json_string_value(v), json_string_length(v), out, out_len, max_out);
}
