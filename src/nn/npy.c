/* NumPy .npy files (format 1.0/2.0): float32, int64, int32, uint8, float64,
 * little-endian, C order. */
#include "nn_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static const struct { const char *descr; int dtype; } npy_types[] = {
    { "<f4", FR_DTYPE_FLOAT }, { "<i8", FR_DTYPE_INT64 }, { "<i4", FR_DTYPE_INT32 },
    { "|u1", FR_DTYPE_UINT8 }, { "<f8", FR_DTYPE_DOUBLE }, { "|b1", FR_DTYPE_BOOL },
};

int fr_npy_save(const char *path, const struct fr_tensor *t) {
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dtype == t->dtype) descr = npy_types[i].descr;
    if (!descr) return fr_err_set(FR_E_INVALID_ARGUMENT, "npy: cannot write %s", fr_dtype_name(t->dtype));
    char hdr[256], shape[200] = "";
    size_t off = 0;
    for (int i = 0; i < t->ndim; i++)
        off += (size_t)snprintf(shape + off, sizeof shape - off, "%lld%s", (long long)t->dims[i],
                                t->ndim == 1 ? "," : i + 1 < t->ndim ? ", " : "");
    int len = snprintf(hdr + 10, sizeof hdr - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    memset(hdr + 10 + len, ' ', (size_t)pad);
    hdr[10 + len + pad] = '\n';
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    int hl = len + pad + 1;
    hdr[8] = (char)(hl & 0xff);
    hdr[9] = (char)(hl >> 8);
    FILE *f = fopen(path, "wb");
    if (!f) return fr_err_set(FR_E_IO, "cannot create %s", path);
    size_t bytes = fr_tensor_bytes(t);
    bool ok = fwrite(hdr, 1, (size_t)(10 + hl), f) == (size_t)(10 + hl) && fwrite(t->data, 1, bytes, f) == bytes;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : fr_err_set(FR_E_IO, "cannot write %s", path);
}

/* Find 'key': in the header dict and return a pointer after the colon. */
static const char *dict_val(const char *h, const char *key) {
    const char *p = strstr(h, key);
    if (!p) return NULL;
    p = strchr(p + strlen(key), ':');
    if (!p) return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

int fr_npy_load(const char *path, struct fr_tensor *t) {
    uint8_t *buf = NULL;
    size_t len;
    memset(t, 0, sizeof *t);
    int rc = fr_file_read(path, (size_t)2 << 30, &buf, &len);
    if (rc < 0) return rc;
    rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: not a supported .npy file", path);
    if (len < 12 || memcmp(buf, "\x93NUMPY", 6)) goto out;
    size_t hl, ho;
    if (buf[6] == 1) { hl = buf[8] | (size_t)buf[9] << 8; ho = 10; }
    else if (buf[6] == 2 || buf[6] == 3) { if (len < 12) goto out; hl = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24; ho = 12; }
    else goto out;
    if (hl > len - ho || hl > 65536) goto out;
    char *h = fr_strndup((const char *)buf + ho, hl);
    if (!h) { rc = -FR_E_NOMEM; goto out; }
    const char *d = dict_val(h, "'descr'"), *fo = dict_val(h, "'fortran_order'"), *sh = dict_val(h, "'shape'");
    bool good = d && fo && sh && !strncmp(fo, "False", 5) && *sh == '(';
    if (good) {
        t->dtype = 0;
        for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
            if (!strncmp(d + 1, npy_types[i].descr, 3)) t->dtype = npy_types[i].dtype;
        good = t->dtype != 0;
        sh++;
        while (good && *sh && *sh != ')') {
            while (*sh == ' ' || *sh == ',') sh++;
            if (*sh == ')') break;
            if (!isdigit((unsigned char)*sh) || t->ndim == FR_NN_MAX_DIMS) { good = false; break; }
            char *end;
            long long v = strtoll(sh, &end, 10);
            if (v < 0 || v > (1LL << 40)) { good = false; break; }
            t->dims[t->ndim++] = v;
            sh = end;
        }
    }
    fr_free(h);
    if (!good) goto out;
    struct fr_nn_limits lim = { .max_tensor_elems = (int64_t)1 << 31 };
    if (fr__nn_tensor_check(t, &lim) < 0) goto out;
    size_t bytes = fr_tensor_bytes(t);
    if (len - ho - hl != bytes) {
        rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: %zu data bytes for a shape needing %zu", path, len - ho - hl, bytes);
        goto out;
    }
    if (!(t->data = fr_malloc_aligned(bytes))) { rc = -FR_E_NOMEM; goto out; }
    memcpy(t->data, buf + ho + hl, bytes);
    rc = 0;
out:
    fr_free(buf);
    if (rc < 0) memset(t, 0, sizeof *t);
    return rc;
}

void fr_nn_fill_pattern(struct fr_tensor *t, uint32_t seed, float lo, float hi) {
    uint32_t x = seed ? seed : 1;
    int64_t n = fr_tensor_numel(t);
    float *d = t->data;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = lo + (hi - lo) * (float)((double)(x >> 8) / 16777216.0);
    }
}
