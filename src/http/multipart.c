/* multipart/form-data parsing (RFC 7578 over RFC 2046), zero-copy.
 *
 * The server hands us a complete body (its size limit already enforced), so
 * this is a parser over one buffer, not a streaming state machine: find the
 * boundary in the Content-Type, then walk delimiter lines with memmem. A
 * part's bytes are a pointer and a length into the body; only the
 * Content-Disposition name and filename are copied, because they may carry
 * backslash escapes. Nothing is allocated, so there is nothing to leak and no
 * allocation to fail.
 *
 * Leniency, and why it is safe: a delimiter line may end in a bare LF, and a
 * delimiter may be preceded by a bare LF. RFC 2046 forbids the delimiter
 * inside part data, so "LF--boundary" followed by a valid delimiter ending
 * cannot be data of a well-formed body; a "--boundary" that is followed by
 * anything else (the boundary as a prefix of longer text) stays data. The
 * close delimiter may lack its "--" at the very end of the body (some
 * hand-written clients), but a body that simply stops is rejected.
 *
 * Hostile bodies are bounded by FR_MP_MAX_PARTS parts, FR_MP_MAX_HEADER bytes
 * of headers per part and linear scans only. */
#include "http/http.h"

#include <string.h>

/* ---- small ASCII helpers ---- */

static int to_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static int is_blank(int c) { return c == ' ' || c == '\t'; }

/* a[0..n) equals the C string b, ignoring ASCII case */
static int span_ieq(const char *a, size_t n, const char *b) {
    size_t bn = strlen(b);
    if (n != bn) return 0;
    for (size_t i = 0; i < n; i++)
        if (to_lower((unsigned char)a[i]) != to_lower((unsigned char)b[i])) return 0;
    return 1;
}

/* Trim blanks from both ends of [*p, *e). */
static void trim(const char **p, const char **e) {
    while (*p < *e && is_blank((unsigned char)**p)) (*p)++;
    while (*e > *p && is_blank((unsigned char)(*e)[-1])) (*e)--;
}

/* ---- header parameters: type *( ";" name "=" ( token / quoted-string ) ) ---- */

enum { PARAM_OK = 0, PARAM_SYNTAX = -1, PARAM_LONG = -2, PARAM_DUP = -3 };

struct param_out {
    const char *want;   /* parameter name to find, case-insensitive */
    char *buf;          /* its unescaped value, NUL-terminated */
    size_t cap;         /* bytes of buf, with the NUL */
    int found;
};

/* Read one value (token or quoted string) at *pp, appending to po when keep.
 * Inside quotes, \" and \\ are escapes; any other backslash is kept as is, so
 * a Windows path sent raw by a browser survives. */
static int param_value(const char **pp, const char *e, struct param_out *po, int keep) {
    const char *p = *pp;
    size_t n = 0;
    int quoted = p < e && *p == '"';
    if (quoted) p++;
    for (;;) {
        if (p == e) {
            if (quoted) return PARAM_SYNTAX;    /* unterminated quoted string */
            break;
        }
        char c = *p;
        if (quoted && c == '"') { p++; break; }
        if (!quoted && (c == ';' || is_blank((unsigned char)c))) break;
        if (quoted && c == '\\' && p + 1 < e && (p[1] == '"' || p[1] == '\\')) c = *++p;
        p++;
        if (keep) {
            if (n + 1 >= po->cap) return PARAM_LONG;
            po->buf[n++] = c;
        }
    }
    if (keep) po->buf[n] = '\0';
    *pp = p;
    return PARAM_OK;
}

/* Walk the parameters of header value [v, e) after its first token. */
static int param_find(const char *v, const char *e, struct param_out *po) {
    po->found = 0;
    const char *p = memchr(v, ';', (size_t)(e - v));
    while (p && p < e) {
        p++;    /* past ';' */
        while (p < e && is_blank((unsigned char)*p)) p++;
        if (p == e) break;                      /* a trailing ';' is harmless */
        const char *ns = p;
        while (p < e && *p != '=' && *p != ';' && !is_blank((unsigned char)*p)) p++;
        const char *ne = p;
        while (p < e && is_blank((unsigned char)*p)) p++;
        if (ne == ns || p == e || *p != '=') return PARAM_SYNTAX;
        p++;
        while (p < e && is_blank((unsigned char)*p)) p++;
        int keep = span_ieq(ns, (size_t)(ne - ns), po->want);
        if (keep && po->found) return PARAM_DUP;
        int rc = param_value(&p, e, po, keep);
        if (rc < 0) return rc;
        if (keep) po->found = 1;
        while (p < e && is_blank((unsigned char)*p)) p++;
        if (p < e && *p != ';') return PARAM_SYNTAX;
    }
    return PARAM_OK;
}

/* The first token of a header value ("multipart/form-data"), trimmed. */
static int first_token_is(const char *v, const char *e, const char *want) {
    const char *semi = memchr(v, ';', (size_t)(e - v));
    const char *te = semi ? semi : e;
    trim(&v, &te);
    return span_ieq(v, (size_t)(te - v), want);
}

/* ---- the boundary ---- */

/* RFC 2046 bchars: digits, letters, '()+_,-./:=? and space (not last). */
static int is_bchar(int c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

static int boundary_from_ct(const char *ct, char *bnd, size_t cap, size_t *blen) {
    if (!ct) return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: no Content-Type");
    const char *e = ct + strnlen(ct, 4096);
    if (!first_token_is(ct, e, "multipart/form-data"))
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: Content-Type is not multipart/form-data");
    struct param_out po = { "boundary", bnd, cap, 0 };
    int rc = param_find(ct, e, &po);
    if (rc == PARAM_LONG)
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: boundary longer than %d characters",
                          FR_MP_MAX_BOUNDARY);
    if (rc == PARAM_DUP)
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: two boundary parameters in Content-Type");
    if (rc < 0) return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: malformed Content-Type parameters");
    if (!po.found || !bnd[0]) return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: no boundary in Content-Type");
    size_t n = strlen(bnd);
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)bnd[i]))
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: invalid character in boundary");
    if (bnd[n - 1] == ' ')
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: boundary ends with a space");
    *blen = n;
    return 0;
}

/* ---- delimiters ---- */

enum delim_kind { DELIM_NONE, DELIM_NEXT, DELIM_CLOSE };

struct delim {
    const uint8_t *body;
    size_t len;
    const char *d;      /* "--" boundary */
    size_t dlen;
};

/* Find the next delimiter line at or after from. A delimiter is "--boundary"
 * at the start of a line (or at offset 0 when at_start), followed by "--"
 * (close), or by blanks and a line end (next part), or by the end of the
 * body (a close that lacks its "--"). *data_end is where the preceding part's
 * data ends (the line break before the delimiter belongs to it, but never
 * before from); *next is the first byte after the delimiter line. */
static enum delim_kind delim_find(const struct delim *dl, size_t from, int at_start, size_t *data_end,
                                  size_t *next) {
    const uint8_t *b = dl->body;
    size_t pos = from;
    while (pos < dl->len) {
        const uint8_t *hit = memmem(b + pos, dl->len - pos, dl->d, dl->dlen);
        if (!hit) return DELIM_NONE;
        size_t at = (size_t)(hit - b);
        pos = at + 1;
        if (!(at == 0 ? at_start : b[at - 1] == '\n')) continue;
        size_t q = at + dl->dlen;
        size_t end = at == 0 ? 0 : at - 1;
        if (end > 0 && b[end - 1] == '\r') end--;
        *data_end = end < from ? from : end;
        if (q + 2 <= dl->len && b[q] == '-' && b[q + 1] == '-') {
            *next = q + 2;
            return DELIM_CLOSE;
        }
        while (q < dl->len && is_blank(b[q])) q++;
        if (q == dl->len) { *next = q; return DELIM_CLOSE; }
        if (b[q] == '\r' && q + 1 < dl->len && b[q + 1] == '\n') q++;
        if (b[q] == '\n' || (b[q] == '\r' && q + 1 == dl->len)) {
            /* a delimiter line that ends the body is a close that lacks its "--" */
            *next = q + 1;
            return *next == dl->len ? DELIM_CLOSE : DELIM_NEXT;
        }
        /* the boundary as a prefix of longer text: data, keep looking */
    }
    return DELIM_NONE;
}

/* ---- part headers ---- */

static int disposition(const char *v, const char *e, int idx, fr_part *part) {
    if (!first_token_is(v, e, "form-data"))
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d is not form-data", idx);
    struct param_out po = { "name", part->name, sizeof part->name, 0 };
    int rc = param_find(v, e, &po);
    if (rc == PARAM_LONG)
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d name longer than %d bytes", idx,
                          FR_MP_MAX_NAME);
    if (rc == 0) {
        po = (struct param_out){ "filename", part->filename, sizeof part->filename, 0 };
        rc = param_find(v, e, &po);
        part->has_filename = po.found;
        if (rc == PARAM_LONG)
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d filename longer than %d bytes",
                              idx, FR_MP_MAX_FILENAME);
    }
    if (rc == PARAM_DUP)
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d repeats a Content-Disposition parameter",
                          idx);
    if (rc < 0)
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d has a malformed Content-Disposition", idx);
    return 0;
}

/* One header line (without its line break). Control characters, folded
 * lines and lines without "name:" are rejected rather than guessed at. */
static int header_line(const char *l, size_t n, int idx, int *seen_cd, fr_part *part) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d has a control character in a header",
                              idx);
    }
    const char *colon = memchr(l, ':', n);
    if (is_blank((unsigned char)l[0]) || !colon || colon == l || is_blank((unsigned char)colon[-1]))
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d has a malformed header line", idx);
    const char *v = colon + 1, *e = l + n;
    trim(&v, &e);
    size_t hn = (size_t)(colon - l);
    if (span_ieq(l, hn, "content-disposition")) {
        if ((*seen_cd)++)
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d has two Content-Disposition headers",
                              idx);
        return disposition(v, e, idx, part);
    }
    if (span_ieq(l, hn, "content-type")) {
        if (part->content_type)
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d has two Content-Type headers", idx);
        part->content_type = v;
        part->content_type_len = (size_t)(e - v);
    }
    return 0;   /* other headers (Content-Transfer-Encoding, ...) are ignored */
}

/* The header block at *pos, up to and including its blank line. */
static int part_headers(const uint8_t *b, size_t len, size_t *pos, int idx, fr_part *part) {
    size_t start = *pos, p = *pos;
    size_t limit = len - start > FR_MP_MAX_HEADER ? start + FR_MP_MAX_HEADER : len;
    int seen_cd = 0;
    for (;;) {
        const uint8_t *nl = memchr(b + p, '\n', limit - p);
        if (!nl) {
            if (limit < len)
                return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d header block larger than %d bytes",
                                  idx, FR_MP_MAX_HEADER);
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: unterminated body (in the headers of part %d)",
                              idx);
        }
        size_t le = (size_t)(nl - b), next = le + 1;
        if (le > p && b[le - 1] == '\r') le--;
        if (le == p) { *pos = next; break; }
        int rc = header_line((const char *)b + p, le - p, idx, &seen_cd, part);
        if (rc < 0) return rc;
        p = next;
    }
    if (!part->name[0]) return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: part %d has no name", idx);
    return 0;
}

/* ---- the body ---- */

int fr_multipart_parse(const char *content_type, const uint8_t *body, size_t len, fr_multipart *out) {
    char d[FR_MP_MAX_BOUNDARY + 3] = "--";
    size_t blen = 0;
    out->n_parts = 0;
    int rc = boundary_from_ct(content_type, d + 2, sizeof d - 2, &blen);
    if (rc < 0) return rc;
    if (!body) len = 0;
    struct delim dl = { body, len, d, blen + 2 };
    size_t data_end = 0, next = 0;
    enum delim_kind k = delim_find(&dl, 0, 1, &data_end, &next);
    if (k == DELIM_NONE)
        return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: the boundary does not occur in the body");
    while (k == DELIM_NEXT) {
        int idx = (int)out->n_parts + 1;
        if (out->n_parts == FR_MP_MAX_PARTS)
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: more than %d parts", FR_MP_MAX_PARTS);
        fr_part *part = &out->parts[out->n_parts];
        memset(part, 0, sizeof *part);
        size_t pos = next;
        if ((rc = part_headers(body, len, &pos, idx, part)) < 0) return rc;
        k = delim_find(&dl, pos, 0, &data_end, &next);
        if (k == DELIM_NONE)
            return fr_err_set(FR_E_VALIDATION_ERROR, "multipart: unterminated body (part %d has no closing boundary)",
                              idx);
        part->data = body + pos;
        part->len = data_end - pos;
        out->n_parts++;
    }
    return 0;
}

const fr_part *fr_multipart_get(const fr_multipart *mp, const char *name) {
    if (!mp || !name) return NULL;
    for (size_t i = 0; i < mp->n_parts; i++)
        if (strcmp(mp->parts[i].name, name) == 0) return &mp->parts[i];
    return NULL;
}

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { k = 1; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { k = 2; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += k + 1;
    }
    return 1;
}

int fr_multipart_text(const fr_multipart *mp, const char *name, int required, char *buf, size_t cap) {
    const fr_part *p = fr_multipart_get(mp, name);
    if (!p) return required ? fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%.64s' is required", name) : 0;
    if (cap == 0 || p->len >= cap)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%.64s' must be at most %zu bytes", name,
                          cap ? cap - 1 : 0);
    if (memchr(p->data, '\0', p->len))
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%.64s' must not contain NUL bytes", name);
    if (!utf8_valid(p->data, p->len))
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%.64s' is not valid UTF-8", name);
    if (p->len) memcpy(buf, p->data, p->len);
    buf[p->len] = '\0';
    return 0;
}
