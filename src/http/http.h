/* facerec — HTTP request parsing: multipart/form-data, JSON bodies, base64
 * images, the route table and query strings. Internal to src/http and
 * src/api.
 *
 * Everything here is a pure function over byte buffers: no sockets, no
 * libmicrohttpd. The server has already enforced the body byte limit; these
 * functions enforce the structural limits (parts, header sizes, nesting,
 * field sizes) and say what is wrong in fr_err_detail(), naming the field,
 * so that a handler can pass the code straight to fr_http_reply_err.
 *
 * A handler for POST /api/v1/subjects/{id}/faces, in outline:
 *
 *     fr_route_params rp;
 *     int r = fr_route_match(routes, n_routes, method, url, &rp);
 *     // r >= 0: routes[r]; fr_route_param(&rp, "id") is "42"
 *     // r == -FR_E_NOT_FOUND: 404; r == FR_ROUTE_METHOD_NOT_ALLOWED: 405, Allow: rp.allow
 *     fr_multipart mp;                       // ~13 KiB: keep it off small stacks if need be
 *     if ((rc = fr_multipart_parse(content_type, body, len, &mp)) < 0) goto out;
 *     const fr_part *photo = fr_multipart_get(&mp, "photo");   // photo->data, photo->len
 *     char buf[16];
 *     rc = fr_multipart_text(&mp, "liveness", 0, buf, sizeof buf);
 *
 *     json_t *root = NULL;
 *     rc = fr_json_parse_body(body, len, max_body, &root);
 *     int64_t top_k = 5;                     // default: left alone when absent
 *     rc = fr_json_get_int(root, "top_k", 0, 1, 100, &top_k);
 *     uint8_t *img; size_t img_len;
 *     rc = fr_json_get_base64(root, "image_base64", 1, max_upload, &img, &img_len);
 *
 * Conventions of the getters: required and absent (or JSON null) →
 * -FR_E_VALIDATION_ERROR "field 'x' is required"; optional and absent (or
 * null) → 0 with *out left as it was, so set the default first. */
#ifndef FR_HTTP_PARSE_H
#define FR_HTTP_PARSE_H

#include "facerec/base.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- multipart/form-data (RFC 7578) ---------------------------------- */

#define FR_MP_MAX_PARTS     32     /* parts per body */
#define FR_MP_MAX_HEADER    8192   /* bytes of one part's header block */
#define FR_MP_MAX_NAME      128    /* bytes of a field name */
#define FR_MP_MAX_FILENAME  255    /* bytes of a filename (after unescaping) */
#define FR_MP_MAX_BOUNDARY  70     /* RFC 2046 */

/* One part. data/len and content_type point into the body buffer given to
 * fr_multipart_parse (zero-copy: the body must outlive the fr_multipart);
 * name and filename are unescaped copies. */
struct fr_part {
    char name[FR_MP_MAX_NAME + 1];          /* Content-Disposition name=, never empty */
    char filename[FR_MP_MAX_FILENAME + 1];  /* filename=, "" when has_filename is 0 */
    int has_filename;                       /* 1 when filename= was given (even "") */
    const char *content_type;               /* the part's Content-Type value, or NULL */
    size_t content_type_len;                /* trimmed of surrounding blanks */
    const uint8_t *data;                    /* the part's bytes, not NUL-terminated */
    size_t len;
};
typedef struct fr_part fr_part;

struct fr_multipart {
    size_t n_parts;
    struct fr_part parts[FR_MP_MAX_PARTS];
};
typedef struct fr_multipart fr_multipart;

/* Parse a complete multipart/form-data body. content_type is the request's
 * Content-Type header value (a C string). Tolerates a preamble and an
 * epilogue, bare LF line ends, transport padding after a delimiter, and a
 * close delimiter that lacks its final "--" at the very end of the body.
 * Errors: -FR_E_VALIDATION_ERROR with a detail such as "multipart: no boundary
 * in Content-Type", "multipart: part 2 has no name", "multipart: unterminated
 * body". *out is fully written on success and unspecified on failure.
 * Allocates nothing. */
int fr_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
                       fr_multipart *out /* OUT */);

/* The first part named name, or NULL. */
const fr_part *fr_multipart_get(const fr_multipart *mp, const char *name);

/* Text field name as a C string in buf (cap bytes with the NUL). Absent and
 * required → "field 'x' is required"; absent and optional → 0 with buf left
 * alone; longer than cap - 1, or holding a NUL byte or invalid UTF-8 →
 * -FR_E_VALIDATION_ERROR naming the field. */
int fr_multipart_text(const fr_multipart *mp, const char *name, int required,
                      char *buf /* OUT */, size_t cap);

/* ---- JSON bodies (jansson) -------------------------------------------- */

#define FR_JSON_MAX_DEPTH     32       /* nested arrays/objects; the top object is 1 */
#define FR_JSON_MAX_METADATA  16384    /* serialized bytes of a "metadata" object */

/* Route jansson's allocations through fr_malloc/fr_free (counted, and failed
 * on demand by fr_alloc_fail_after). Process-wide: call once at start-up,
 * before any json_t exists, or never. */
void fr_json_use_fr_alloc(void);

/* Parse a request body that must be one JSON object: nesting at most
 * FR_JSON_MAX_DEPTH (checked by a byte scan before jansson sees it), no NUL
 * bytes, valid UTF-8, no duplicate keys. max_len: the largest body accepted
 * (0: no limit here) → -FR_E_FILE_TOO_LARGE. Malformed → -FR_E_VALIDATION_ERROR
 * "JSON body: <what> at line L, column C". *out (a new reference, json_decref
 * it) is NULL on failure. */
int fr_json_parse_body(const uint8_t *body, size_t len, size_t max_len, json_t **out /* OUT */);

/* Typed field getters; obj must be an object (NULL counts as empty). All
 * errors are -FR_E_VALIDATION_ERROR with a detail naming the field, e.g.
 * "field 'top_k' must be an integer in [1, 100]". */

/* A string of at most max_len bytes; *out is borrowed from obj. */
int fr_json_get_string(json_t *obj, const char *field, int required, size_t max_len,
                       const char **out /* OUT */);
/* An integer in [min, max]; a real with an integral value (3.0) is accepted. */
int fr_json_get_int(json_t *obj, const char *field, int required, int64_t min, int64_t max,
                    int64_t *out /* OUT */);
/* A number (integer or real) in [min, max]. */
int fr_json_get_number(json_t *obj, const char *field, int required, double min, double max,
                       double *out /* OUT */);
/* true or false, as 1 or 0. */
int fr_json_get_bool(json_t *obj, const char *field, int required, int *out /* OUT */);
/* An object whose compact serialization is at most max_bytes (0: no limit);
 * *out is borrowed from obj. */
int fr_json_get_object(json_t *obj, const char *field, int required, size_t max_bytes,
                       json_t **out /* OUT */);
/* A base64 string (see fr_base64_decode), decoded into a new buffer *out
 * (fr_free it) of *out_len bytes; errors name the field. */
int fr_json_get_base64(json_t *obj, const char *field, int required, size_t max_out,
                       uint8_t **out /* OUT */, size_t *out_len /* OUT */);

/* A query-string integer: value NULL or "" → def; otherwise optional '-' and
 * decimal digits only, within [min, max], else -FR_E_VALIDATION_ERROR
 * "query parameter 'limit' must be an integer in [1, 1000]". */
int fr_query_get_int(const char *value_or_null, const char *field, int64_t def, int64_t min,
                     int64_t max, int64_t *out /* OUT */);

/* ---- base64 images ---------------------------------------------------- */

/* Decode s[0..len) with OpenSSL's EVP_Decode*: the standard and URL-safe
 * alphabets (even mixed), blanks and line breaks anywhere, padding optional,
 * and an optional "data:<type>;base64," prefix. Invalid → -FR_E_VALIDATION_ERROR
 * "field 'image_base64' is not valid base64 (...)"; nothing to decode →
 * -FR_E_VALIDATION_ERROR; more than max_out decoded bytes → -FR_E_FILE_TOO_LARGE
 * (found before anything is allocated). On success *out is a new buffer of
 * *out_len bytes (fr_free it); on failure *out is NULL. */
int fr_base64_decode(const char *s, size_t len, uint8_t **out /* OUT */, size_t *out_len /* OUT */,
                     size_t max_out);

/* ---- routing ---------------------------------------------------------- */

#define FR_ROUTE_MAX_PARAMS  4      /* {param} segments per pattern */
#define FR_ROUTE_PARAM_MAX   64     /* bytes of a decoded parameter value */
#define FR_ROUTE_NAME_MAX    31     /* bytes of a parameter name */
#define FR_PATH_MAX          2048   /* bytes of a path, query string included */

/* fr_route_match's result when the path exists but not with this method
 * (→ 405 with params->allow as the Allow header). Not an fr_err code. */
#define FR_ROUTE_METHOD_NOT_ALLOWED (-1000)

enum fr_route_auth {
    FR_ROUTE_AUTH_NONE   = 0,       /* health, metrics, openapi */
    FR_ROUTE_AUTH_CLIENT = 1,       /* X-API-Key */
    FR_ROUTE_AUTH_ADMIN  = 2        /* Authorization: Bearer <admin token> */
};

/* One row of a static route table: "GET" + "/api/v1/subjects/{id}". A
 * pattern starts with '/', has no trailing slash (except "/" itself) and
 * each {name} is a whole segment. Rows are tried in table order and the
 * first match wins, so put literal rows before parameter rows that overlap. */
struct fr_route {
    const char *method;             /* "GET", "POST", ...: compared case-sensitively */
    const char *pattern;
    int handler;                    /* the caller's handler id */
    int auth;                       /* enum fr_route_auth */
};
typedef struct fr_route fr_route;

struct fr_route_param {
    char name[FR_ROUTE_NAME_MAX + 1];
    char value[FR_ROUTE_PARAM_MAX + 1];     /* percent-decoded, no '/' or NUL */
};

struct fr_route_params {
    size_t n;
    struct fr_route_param v[FR_ROUTE_MAX_PARAMS];
    const char *query;              /* after '?', pointing into path; NULL if none */
    char allow[64];                 /* on 405: "GET, HEAD, DELETE" */
};
typedef struct fr_route_params fr_route_params;

/* Match method + path (the request target; a "?query" is split off into
 * params->query) against table[0..n). HEAD matches a GET row, and a trailing
 * slash is ignored. Returns the row index, -FR_E_NOT_FOUND when no pattern
 * matches the path, FR_ROUTE_METHOD_NOT_ALLOWED when some pattern matches but
 * not with this method (params->allow lists the methods that do),
 * -FR_E_LIMIT_EXCEEDED for a path over FR_PATH_MAX bytes, and
 * -FR_E_VALIDATION_ERROR for a parameter that is too long or badly encoded
 * (%2F, %00, a broken %-escape, "." or ".."). */
int fr_route_match(const fr_route *table, size_t n, const char *method, const char *path,
                   fr_route_params *params /* OUT */);

/* The value of a hexadecimal digit, -1 for any other byte (percent-decoding). */
int fr_http_hex_value(int c);

/* The value of path parameter name, or NULL. */
const char *fr_route_param(const fr_route_params *params, const char *name);

/* Check a table's rows (for a unit test of the real table): 0, or
 * -FR_E_INVALID_ARGUMENT naming the first bad row. */
int fr_route_table_check(const fr_route *table, size_t n);

/* Find name in a query string ("a=1&b=x%20y", with or without a leading
 * '?'; NULL is empty) and percent-decode its first value ('+' is a space)
 * into buf (len bytes with the NUL). Returns 0, -FR_E_NOT_FOUND when absent,
 * or -FR_E_VALIDATION_ERROR for a value that does not fit, a broken escape
 * or a NUL byte. */
int fr_query_param(const char *query, const char *name, char *buf /* OUT */, size_t len);

#endif
