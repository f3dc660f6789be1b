/* The route table matcher and query-string lookup.
 *
 * A table is a short static array (a few dozen rows), so matching is a
 * linear walk over rows comparing '/'-separated segments in place: no
 * allocation, no trie. The walk is done twice at most: once structurally
 * for every row (to tell 404 from 405 and to build the Allow list), then
 * once more for the chosen row to copy its {param} values out.
 *
 * Percent-decoding happens only inside {param} values, never in literal
 * segments: "/api/v1/%73ubjects" is not "/api/v1/subjects" (a request with
 * such a path is not one we generate, and decoding before matching is how
 * path-confusion bugs start). A decoded parameter may not contain '/', NUL
 * or other control characters, nor be "." or "..", so a handler can put it
 * in a log line or a lookup without a second thought. */
#include "http/http.h"

#include <string.h>

int fr_http_hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

enum { PCT_OK = 0, PCT_BROKEN = -1, PCT_LONG = -2, PCT_BAD_BYTE = -3 };

/* Percent-decode [s, e) into out (cap bytes with the NUL). plus: '+' is a
 * space (query strings). path: '/' and control bytes are refused. */
static int pct_decode(const char *s, const char *e, char *out, size_t cap, int plus, int path) {
    size_t n = 0;
    int bad = 0;
    while (s < e) {
        int c = (unsigned char)*s++;
        if (c == '%') {
            int hi = e - s >= 2 ? fr_http_hex_value((unsigned char)s[0]) : -1;
            int lo = hi >= 0 ? fr_http_hex_value((unsigned char)s[1]) : -1;
            if (lo < 0) return PCT_BROKEN;
            c = hi * 16 + lo;
            s += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (c == 0 || (path && (c == '/' || c < 0x20 || c == 0x7f))) bad = 1;
        if (n + 1 >= cap) return PCT_LONG;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return bad ? PCT_BAD_BYTE : PCT_OK;
}

/* Compare pattern with path [path, pend), segment by segment. With params,
 * also decode each {param} segment into it (the caller has chosen the row). */
static int pattern_walk(const char *a, const char *b, const char *pend, fr_route_params *params) {
    for (;;) {
        if (*a != '/' || b >= pend || *b != '/') return 0;
        a++;
        b++;
        const char *ae = a + strcspn(a, "/");
        const char *be = memchr(b, '/', (size_t)(pend - b));
        if (!be) be = pend;
        if (*a == '{') {
            if (be == b) return 0;  /* a parameter is never empty */
            if (params) {
                FR_ASSERT(params->n < FR_ROUTE_MAX_PARAMS);
                struct fr_route_param *rp = &params->v[params->n++];
                size_t nl = (size_t)(ae - a) - 2;   /* without the braces */
                FR_ASSERT(nl <= FR_ROUTE_NAME_MAX);
                memcpy(rp->name, a + 1, nl);
                rp->name[nl] = '\0';
                int rc = pct_decode(b, be, rp->value, sizeof rp->value, 0, 1);
                if (rc == PCT_LONG)
                    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", rp->name, "path parameter '%s' longer than %d bytes", rp->name,
                                      FR_ROUTE_PARAM_MAX);
                if (rc == PCT_BROKEN)
                    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", rp->name, "path parameter '%s' has a broken %%-escape",
                                      rp->name);
                if (rc < 0 || strcmp(rp->value, ".") == 0 || strcmp(rp->value, "..") == 0)
                    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", rp->name,
                                      "path parameter '%s' must not contain '/' or control characters, "
                                      "nor be '.' or '..'", rp->name);
            }
        } else if (ae - a != be - b || memcmp(a, b, (size_t)(ae - a)) != 0) {
            return 0;
        }
        a = ae;
        b = be;
        if (*a == '\0') return b == pend;
    }
}

/* Append m to the comma-separated list unless it is there already. */
static void allow_add(char *allow, size_t cap, const char *m) {
    size_t ml = strlen(m), al = strlen(allow);
    for (const char *p = allow; *p;) {
        size_t l = strcspn(p, ",");
        if (l == ml && memcmp(p, m, ml) == 0) return;
        p += l;
        while (*p == ',' || *p == ' ') p++;
    }
    if (al + ml + 3 > cap) return;  /* cannot happen with real method names */
    if (al) {
        memcpy(allow + al, ", ", 2);
        al += 2;
    }
    memcpy(allow + al, m, ml + 1);
}

static void allow_build(const fr_route *t, size_t n, const char *path, const char *pend,
                        fr_route_params *params) {
    for (size_t i = 0; i < n; i++) {
        if (!pattern_walk(t[i].pattern, path, pend, NULL)) continue;
        allow_add(params->allow, sizeof params->allow, t[i].method);
        if (strcmp(t[i].method, "GET") == 0) allow_add(params->allow, sizeof params->allow, "HEAD");
    }
}

int fr_route_match(const fr_route *table, size_t n, const char *method, const char *path,
                   fr_route_params *params) {
    memset(params, 0, sizeof *params);
    if (!method || !path) return fr_err_set(FR_E_NOT_FOUND, "no route");
    size_t plen = strnlen(path, FR_PATH_MAX + 1);
    if (plen > FR_PATH_MAX) return fr_err_set(FR_E_LIMIT_EXCEEDED, "path longer than %d bytes", FR_PATH_MAX);
    const char *q = memchr(path, '?', plen);
    const char *pend = q ? q : path + plen;
    params->query = q ? q + 1 : NULL;
    if (pend - path > 1 && pend[-1] == '/') pend--;     /* "/subjects/" is "/subjects" */
    int is_head = strcmp(method, "HEAD") == 0;
    long chosen = -1, get_row = -1, path_found = 0;
    for (size_t i = 0; i < n && chosen < 0; i++) {
        if (!pattern_walk(table[i].pattern, path, pend, NULL)) continue;
        path_found = 1;
        if (strcmp(table[i].method, method) == 0) chosen = (long)i;
        else if (is_head && get_row < 0 && strcmp(table[i].method, "GET") == 0) get_row = (long)i;
    }
    if (chosen < 0) chosen = get_row;
    if (chosen >= 0) {
        int rc = pattern_walk(table[chosen].pattern, path, pend, params);
        if (rc < 0) {
            params->n = 0;
            return rc;
        }
        return (int)chosen;
    }
    if (!path_found)
        return fr_err_set(FR_E_NOT_FOUND, "no route for %.*s", (int)(pend - path > 200 ? 200 : pend - path), path);
    allow_build(table, n, path, pend, params);
    fr_err_set(FR_E_INVALID_ARGUMENT, "method %.16s not allowed here (allowed: %s)", method, params->allow);
    return FR_ROUTE_METHOD_NOT_ALLOWED;
}

const char *fr_route_param(const fr_route_params *params, const char *name) {
    for (size_t i = 0; params && name && i < params->n; i++)
        if (strcmp(params->v[i].name, name) == 0) return params->v[i].value;
    return NULL;
}

/* ---- table check ---- */

static const char *row_problem(const fr_route *r) {
    if (!r->method || !r->method[0] || strspn(r->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(r->method))
        return "method must be upper-case letters";
    if (r->auth < FR_ROUTE_AUTH_NONE || r->auth > FR_ROUTE_AUTH_ADMIN) return "unknown auth";
    const char *p = r->pattern;
    if (!p || p[0] != '/') return "pattern must start with '/'";
    if (strcmp(p, "/") == 0) return NULL;
    if (strlen(p) > FR_PATH_MAX) return "pattern too long";
    int n_params = 0;
    while (*p == '/') {
        p++;
        size_t l = strcspn(p, "/");
        if (l == 0) return "empty segment or trailing slash";
        if (memchr(p, '?', l) || memchr(p, '%', l)) return "'?' or '%' in pattern";
        int open = memchr(p, '{', l) != NULL, close = memchr(p, '}', l) != NULL;
        if (open || close) {
            if (p[0] != '{' || p[l - 1] != '}' || l < 3) return "a {param} must be a whole segment";
            if (l - 2 > FR_ROUTE_NAME_MAX) return "parameter name too long";
            if (strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") != l - 2) return "bad parameter name";
            if (++n_params > FR_ROUTE_MAX_PARAMS) return "too many parameters";
        }
        p += l;
    }
    return NULL;
}

int fr_route_table_check(const fr_route *table, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *why = row_problem(&table[i]);
        if (why)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "route %zu (%s %s): %s", i,
                              table[i].method ? table[i].method : "?", table[i].pattern ? table[i].pattern : "?",
                              why);
    }
    return 0;
}

/* ---- query strings ---- */

int fr_query_param(const char *query, const char *name, char *buf, size_t len) {
    if (!query || !name) return fr_err_set(FR_E_NOT_FOUND, "query parameter absent");
    if (*query == '?') query++;
    size_t nl = strlen(name);
    for (const char *p = query; *p;) {
        const char *amp = p + strcspn(p, "&");
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        const char *ke = eq ? eq : amp;
        if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
            int rc = len ? pct_decode(eq ? eq + 1 : amp, amp, buf, len, 1, 0) : PCT_LONG;
            if (rc == PCT_LONG)
                return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "query parameter '%.64s' longer than %zu bytes", name,
                                  len ? len - 1 : 0);
            if (rc == PCT_BROKEN)
                return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "query parameter '%.64s' has a broken %%-escape", name);
            if (rc < 0)
                return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "query parameter '%.64s' contains a NUL byte", name);
            return 0;
        }
        p = *amp ? amp + 1 : amp;
    }
    return fr_err_set_at(FR_E_NOT_FOUND, "field", name, "query parameter '%.64s' absent", name);
}
