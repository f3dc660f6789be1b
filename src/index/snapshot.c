/* Index snapshots (save/load) and the order-independent digest.
 *
 * File layout, little endian (the host's order: checked at compile time):
 *
 *   offset  size       field
 *   0       8          magic "FRINDEX1"
 *   8       4          version (1)
 *   12      4          kind (FR__INDEX_KIND_*: the kind's number, 1 exact)
 *   16      4          dim
 *   20      4          reserved, 0
 *   24      8          count
 *   32      32         SHA-256 of bytes 0..31 and of everything after byte 63
 *   64      8·count    ids
 *   ...     8·count    labels
 *   ...     4·dim·count vectors, row by row
 *
 * Written through the generic row accessor, live rows only (tombstoned ones
 * are left out), so any index kind can be saved; loading builds an index of
 * the kind the header names, by its number (one this build does not have is
 * refused). The loader trusts nothing: the file size
 * must equal what the header says (so no allocation exceeds the file), the
 * checksum must match, ids must be unique and vectors finite.
 *
 * The digest hashes each row with SHA-256 and adds the hashes lane-wise
 * (4 × 64 bits, mod 2^64): addition is commutative, so the order of rows does
 * not matter, and unlike xor a repeated row does not cancel out. */
#include "index/index_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "snapshots are stored in the host's byte order");

enum { HDR = 64, HASHED_HDR = 32, VERSION = 1, DIM_MAX = 65536, CHUNK = 1024 };
static const char MAGIC[8] = { 'F', 'R', 'I', 'N', 'D', 'E', 'X', '1' };

/* ---- writing ---- */

struct writer {
    FILE *f;
    EVP_MD_CTX *md;
    bool failed;
};

static void put(struct writer *w, const void *p, size_t n) {
    if (w->failed) return;
    if (fwrite(p, 1, n, w->f) != n || !EVP_DigestUpdate(w->md, p, n)) w->failed = true;
}

/* ids (which = 0) or labels (1) of the live rows, a chunk at a time */
static void put_column(struct writer *w, const fr_index *ix, int which) {
    int64_t buf[CHUNK], id, label;
    const float *v;
    size_t m = 0;
    for (size_t pos = 0; fr__index_next(ix, &pos, &id, &label, &v);) {
        buf[m++] = which ? label : id;
        if (m == CHUNK) {
            put(w, buf, sizeof buf);
            m = 0;
        }
    }
    put(w, buf, m * sizeof(int64_t));
}

static void header(uint8_t h[HDR], int kind, int dim, uint64_t count) {
    uint32_t version = VERSION, k = (uint32_t)kind, d = (uint32_t)dim;
    memset(h, 0, HDR);
    memcpy(h, MAGIC, 8);
    memcpy(h + 8, &version, 4);
    memcpy(h + 12, &k, 4);
    memcpy(h + 16, &d, 4);
    memcpy(h + 24, &count, 8);
}

static int write_body(FILE *f, int fd, const fr_index *ix) {
    size_t n = fr_index_size(ix), dim = (size_t)ix->dim;
    uint8_t h[HDR];
    header(h, ix->ops->kind, ix->dim, n);
    struct writer w = { .f = f, .md = EVP_MD_CTX_new() };
    if (!w.md || !EVP_DigestInit_ex(w.md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(w.md);
        return fr_err_set(FR_E_INTERNAL_ERROR, "index save: OpenSSL SHA-256 unavailable");
    }
    /* the hash field is written as zeros now and filled in at the end */
    put(&w, h, HASHED_HDR);
    if (!w.failed && fwrite(h + HASHED_HDR, 1, HDR - HASHED_HDR, f) != HDR - HASHED_HDR) w.failed = true;
    put_column(&w, ix, 0);
    put_column(&w, ix, 1);
    int64_t id, label;
    const float *v;
    for (size_t pos = 0; !w.failed && fr__index_next(ix, &pos, &id, &label, &v);) put(&w, v, dim * sizeof(float));
    unsigned int len = 0;
    if (!w.failed && !EVP_DigestFinal_ex(w.md, h + HASHED_HDR, &len)) w.failed = true;
    EVP_MD_CTX_free(w.md);
    if (w.failed || fflush(f) != 0 || pwrite(fd, h + HASHED_HDR, 32, HASHED_HDR) != 32 || fsync(fd) != 0)
        return fr_err_set(FR_E_IO, "index save: write failed: %s", strerror(errno));
    return 0;
}

/* fsync the folder holding path, so the rename itself is durable */
static int sync_dir(const char *path) {
    char *copy = fr_strdup(path);
    if (!copy) return fr_err_set(FR_E_NOMEM, "index save: no memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : fr_err_set(FR_E_IO, "index save: cannot sync the folder of %s", path);
    if (fd >= 0) close(fd);
    fr_free(copy);
    return rc;
}

int fr_index_save(const fr_index *ix, const char *path) {
    if (!ix || !path) return fr_err_set(FR_E_INVALID_ARGUMENT, "index save: NULL argument");
    size_t len = strlen(path) + 16;
    char *tmp = fr_malloc(len);
    if (!tmp) return fr_err_set(FR_E_NOMEM, "index save: no memory");
    snprintf(tmp, len, "%s.tmp.XXXXXX", path);
    int rc, fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        rc = fr_err_set(FR_E_IO, "index save: cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    rc = write_body(f, fd, ix);
    if (fclose(f) != 0 && rc == 0) rc = fr_err_set(FR_E_IO, "index save: closing %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fr_err_set(FR_E_IO, "index save: cannot rename to %s: %s", path, strerror(errno));
    if (rc == 0) rc = sync_dir(path);
out:
    if (rc < 0 && fd >= 0) unlink(tmp);
    fr_free(tmp);
    return rc;
}

/* ---- reading ---- */

struct reader {
    FILE *f;
    EVP_MD_CTX *md;
    bool failed;
};

static void get(struct reader *r, void *p, size_t n) {
    if (r->failed) return;
    if (fread(p, 1, n, r->f) != n || !EVP_DigestUpdate(r->md, p, n)) r->failed = true;
}

struct snap_hdr {
    const struct fr_index_ops *ops;
    int dim;
    uint64_t count;
    uint8_t hash[32];
};

/* Checks the header against the file size. */
static int parse_header(const uint8_t h[HDR], uint64_t size, const char *path, struct snap_hdr *s) {
    uint32_t version, kind, dim, reserved;
    memcpy(&version, h + 8, 4);
    memcpy(&kind, h + 12, 4);
    memcpy(&dim, h + 16, 4);
    memcpy(&reserved, h + 20, 4);
    memcpy(&s->count, h + 24, 8);
    memcpy(s->hash, h + HASHED_HDR, 32);
    if (memcmp(h, MAGIC, 8) != 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s is not an index snapshot", path);
    s->ops = kind <= INT32_MAX ? fr__index_kind_by_number((int)kind) : NULL;
    if (version != VERSION || !s->ops || reserved != 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: unsupported snapshot version %u / kind %u", path, version, kind);
    if (dim < 1 || dim > DIM_MAX) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: bad dimension %u", path, dim);
    s->dim = (int)dim;
    uint64_t row = 16 + 4 * (uint64_t)dim, body = size - HDR;
    if (s->count > body / row)
        return fr_err_set(FR_E_IO, "%s is truncated: %llu rows of %u floats need %llu bytes, file has %llu", path,
                          (unsigned long long)s->count, dim, (unsigned long long)(HDR + s->count * row),
                          (unsigned long long)size);
    if (s->count * row != body)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: %llu bytes after the rows the header announces", path,
                          (unsigned long long)(body - s->count * row));
    return 0;
}

/* Reads the rows into ix, hashing as it goes. A bad row (duplicate id, NaN)
 * is remembered, not returned at once: a checksum mismatch explains it
 * better, and only the whole file's hash tells which it is. */
static int read_rows(struct reader *r, const struct snap_hdr *s, fr_index *ix, const char *path) {
    size_t n = (size_t)s->count, dim = (size_t)s->dim;
    int64_t *cols = fr_malloc(n ? 2 * n * sizeof(int64_t) : 1);
    float *v = fr_malloc(dim * sizeof(float));
    int rc = cols && v ? fr_index_reserve(ix, n) : fr_err_set(FR_E_NOMEM, "index load: no memory for %zu rows", n);
    int bad = 0;
    char why[160] = "";
    if (rc == 0) get(r, cols, 2 * n * sizeof(int64_t));
    for (size_t i = 0; rc == 0 && i < n && !r->failed; i++) {
        get(r, v, dim * sizeof(float));
        if (r->failed || bad) continue;
        bad = fr_index_add(ix, cols[i], cols[n + i], v);
        if (bad == -FR_E_NOMEM) rc = bad;
        else if (bad) snprintf(why, sizeof why, "%s", fr_err_detail());
    }
    fr_free(cols);
    fr_free(v);
    if (rc < 0) return rc;
    uint8_t got[32];
    unsigned int len = 0;
    if (r->failed || !EVP_DigestFinal_ex(r->md, got, &len))
        return fr_err_set(FR_E_IO, "%s: read failed: %s", path, ferror(r->f) ? strerror(errno) : "short file");
    if (memcmp(got, s->hash, 32) != 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: checksum mismatch", path);
    if (bad) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: bad row: %s", path, why);
    return 0;
}

static int load_file(FILE *f, const char *path, fr_index **out) {
    struct stat st;
    uint8_t h[HDR];
    struct snap_hdr s;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return fr_err_set(FR_E_IO, "%s is not a regular file", path);
    if (st.st_size < HDR || fread(h, 1, HDR, f) != HDR)
        return fr_err_set(FR_E_IO, "%s is truncated: %lld bytes, no header", path, (long long)st.st_size);
    int rc = parse_header(h, (uint64_t)st.st_size, path, &s);
    if (rc < 0) return rc;
    struct reader r = { .f = f, .md = EVP_MD_CTX_new() };
    if (!r.md || !EVP_DigestInit_ex(r.md, EVP_sha256(), NULL) || !EVP_DigestUpdate(r.md, h, HASHED_HDR)) {
        EVP_MD_CTX_free(r.md);
        return fr_err_set(FR_E_INTERNAL_ERROR, "index load: OpenSSL SHA-256 unavailable");
    }
    rc = fr__index_create(s.ops, s.dim, out);
    if (rc == 0) rc = read_rows(&r, &s, *out, path);
    EVP_MD_CTX_free(r.md);
    if (rc < 0) {
        fr_index_free(*out);
        *out = NULL;
    }
    return rc;
}

int fr_index_load(const char *path, fr_index **out) {
    if (!path || !out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fr_err_set(FR_E_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = load_file(f, path, out);
    fclose(f);
    return rc;
}

/* ---- digest ---- */

void fr_index_digest_init(struct fr_index_digest *d, int dim) {
    memset(d, 0, sizeof *d);
    d->dim = dim;
}

/* Adds one row's SHA-256 to the lane sums; md is a reusable context. */
static int digest_row(EVP_MD_CTX *md, struct fr_index_digest *d, int64_t id, int64_t label, const float *vec) {
    uint8_t h[32];
    unsigned int len = 0;
    int64_t il[2] = { id, label };
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, il, sizeof il) ||
        !EVP_DigestUpdate(md, vec, (size_t)d->dim * sizeof(float)) || !EVP_DigestFinal_ex(md, h, &len))
        return fr_err_set(FR_E_INTERNAL_ERROR, "index digest: OpenSSL SHA-256 failed");
    for (int l = 0; l < 4; l++) {
        uint64_t x;
        memcpy(&x, h + 8 * l, 8);
        d->sum[l] += x;
    }
    d->count++;
    return 0;
}

int fr_index_digest_add(struct fr_index_digest *d, int64_t id, int64_t label, const float *vec) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return fr_err_set(FR_E_NOMEM, "index digest: no memory");
    int rc = digest_row(md, d, id, label, vec);
    EVP_MD_CTX_free(md);
    return rc;
}

void fr_index_digest_final(const struct fr_index_digest *d, uint8_t out[32]) {
    uint8_t buf[8 + 4 + 8 + 32];
    uint32_t dim = (uint32_t)d->dim;
    memcpy(buf, "FRIDXDG1", 8);
    memcpy(buf + 8, &dim, 4);
    memcpy(buf + 12, &d->count, 8);
    memcpy(buf + 20, d->sum, 32);
    unsigned int len = 0;
    if (!EVP_Digest(buf, sizeof buf, out, &len, EVP_sha256(), NULL)) memset(out, 0, 32);
}

int fr_index_digest(const fr_index *ix, uint8_t out[32]) {
    if (!ix || !out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index digest: NULL argument");
    struct fr_index_digest d;
    fr_index_digest_init(&d, ix->dim);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return fr_err_set(FR_E_NOMEM, "index digest: no memory");
    int rc = 0;
    int64_t id, label;
    const float *v;
    for (size_t pos = 0; rc == 0 && fr__index_next(ix, &pos, &id, &label, &v);) rc = digest_row(md, &d, id, label, v);
    EVP_MD_CTX_free(md);
    if (rc == 0) fr_index_digest_final(&d, out);
    return rc;
}
