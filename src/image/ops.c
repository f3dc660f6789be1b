/* Image operations between decoding and the networks: resize, affine warp,
 * crop, RGB -> grey, sharpness (variance of the Laplacian), brightness, and
 * the float CHW packing a network input wants.
 *
 * Why it is built this way:
 *  - Resizing follows OpenCV, because the face models were trained on
 *    OpenCV-preprocessed crops and a different sampling moves the embeddings.
 *    BILINEAR is OpenCV's INTER_LINEAR including its 11-bit fixed-point
 *    weights: the per-column source offsets and weights are computed once,
 *    each output row is the vertical blend of two horizontally resampled
 *    source rows, and those rows are cached (two slots), so a 1920x1080 ->
 *    320x240 resize touches only the 480 source rows it needs.
 *  - AREA (shrinking) is a separable weighted mean: per axis a table of
 *    (source index, weight) taps built as OpenCV's computeResizeAreaTab
 *    builds it, float accumulation, one cached horizontally resampled row.
 *    The same code takes the bilinear taps of an axis that enlarges.
 *  - The portable code is plain C that GCC -O3 vectorises where it can
 *    (grey conversion, sums). Bilinear resize and the affine warp also have
 *    AVX2 kernels (ops_avx2.c), chosen by fr_cpu_isa(), because their byte
 *    gathers are what the compiler cannot vectorise and they sit on every
 *    request's path (issue #3: the pipeline within 15 % of its model
 *    times). The kernels give exactly the portable results; the SIMD
 *    resize works on per-element tables (a source offset and both weights
 *    per output byte, and per 8 bytes the source windows to shuffle them
 *    from). fr_image_resize_to_chw, the detector input, packs each output
 *    row into floats while it is in cache instead of making an image.
 *  - Coordinates are clamped (resize) or range-checked before any float ->
 *    int conversion (warp), so no matrix and no size reads out of bounds.
 * Rounding to uint8 is half up everywhere. */
#include "image/image_int.h"

#include <math.h>
#include <string.h>

/* Source images come from the decoder, whose side limit is 1 << 24. */
#define SRC_SIDE_MAX (1 << 24)

#define LIN_BITS 11                     /* OpenCV INTER_RESIZE_COEF_BITS */
#define LIN_ONE (1 << LIN_BITS)

/* ---- argument checks and allocation ---- */

static int check_src(const struct fr_image *img, const char *fn) {
    if (!img) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: NULL image", fn);
    if (!img->data || img->w < 1 || img->h < 1 || img->w > SRC_SIDE_MAX ||
        img->h > SRC_SIDE_MAX || (img->channels != 1 && img->channels != 3))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: invalid image (%dx%d, %d channels, data %s)",
                          fn, img->w, img->h, img->channels, img->data ? "set" : "NULL");
    return 0;
}

static int check_out(const struct fr_image *src, struct fr_image *out, const char *fn) {
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: NULL output", fn);
    if (out == src) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: output is the source", fn);
    memset(out, 0, sizeof *out);
    return 0;
}

static int check_size(int w, int h, const char *fn) {
    if (w < 1 || h < 1 || w > FR_IMAGE_OPS_SIDE_MAX || h > FR_IMAGE_OPS_SIDE_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: output size %dx%d outside 1..%d", fn, w, h,
                          FR_IMAGE_OPS_SIDE_MAX);
    return 0;
}

static int image_alloc(struct fr_image *img, int w, int h, int cn) {
    img->data = fr_malloc((size_t)w * (size_t)h * (size_t)cn);
    if (!img->data) return fr_err_set(FR_E_NOMEM, "image of %dx%dx%d", w, h, cn);
    img->w = w;
    img->h = h;
    img->channels = cn;
    return 0;
}

static inline uint8_t round_u8(float v) {
    /* half up; v >= 0 here except for float noise */
    int i = (int)(v + 0.5f);
    return (uint8_t)(i < 0 ? 0 : i > 255 ? 255 : i);
}

/* ---- bilinear tables (INTER_LINEAR) ---- */

/* For each of dn output positions along an axis of sn source pixels: the two
 * source indices and the exact fraction of the second; the coordinate
 * s = (i + 0.5) * sn / dn - 0.5 is clamped to [0, sn - 1] as OpenCV does. */
static void lin_coord(int sn, int dn, int i, int *i0, int *i1, double *frac) {
    double scale = (double)sn / (double)dn;
    double f = ((double)i + 0.5) * scale - 0.5;
    double fl = floor(f);
    int s = (int)fl;
    double fr = f - fl;
    if (s < 0) {
        s = 0;
        fr = 0;
    }
    if (s >= sn - 1) {
        s = sn - 1;
        fr = 0;
    }
    *i0 = s;
    *i1 = s + 1 < sn ? s + 1 : sn - 1;
    *frac = fr;
}

/* Fixed-point table: i0, i1 (times mul, the element stride) and the 11-bit
 * weight of i1 (that of i0 is LIN_ONE - a). */
static void lin_tab(int sn, int dn, int mul, int *i0, int *i1, int *a) {
    for (int i = 0; i < dn; i++) {
        double fr;
        lin_coord(sn, dn, i, &i0[i], &i1[i], &fr);
        i0[i] *= mul;
        i1[i] *= mul;
        a[i] = (int)(fr * LIN_ONE + 0.5);
    }
}

/* One source row resampled horizontally: d[x*cn + c] has weight LIN_ONE. */
static void lin_hrow(const uint8_t *restrict s, int32_t *restrict d, int dw, int cn,
                     const int *x0, const int *x1, const int *xa) {
    if (cn == 3) {
        for (int x = 0; x < dw; x++) {
            const uint8_t *p = s + x0[x], *q = s + x1[x];
            int32_t a = xa[x], b = LIN_ONE - a;
            d[3 * x + 0] = p[0] * b + q[0] * a;
            d[3 * x + 1] = p[1] * b + q[1] * a;
            d[3 * x + 2] = p[2] * b + q[2] * a;
        }
    } else {
        for (int x = 0; x < dw; x++) {
            int32_t a = xa[x], b = LIN_ONE - a;
            d[x] = s[x0[x]] * b + s[x1[x]] * a;
        }
    }
}

/* Vertical blend: at most 255 << 22 plus the rounding half fits an int32. */
static void lin_vrow(const int32_t *restrict r0, const int32_t *restrict r1, int32_t b0, int32_t b1,
                     uint8_t *restrict o, int n) {
    for (int i = 0; i < n; i++)
        o[i] = (uint8_t)((r0[i] * b0 + r1[i] * b1 + (1 << (2 * LIN_BITS - 1))) >> (2 * LIN_BITS));
}

/* ---- bilinear resize with the SIMD kernels ---- */

static int use_avx2(void) {
    return fr_cpu_isa() >= FR_ISA_AVX2;
}

/* Per-element horizontal tables: for output byte j = x * cn + c, e0[j] is
 * the byte offset of its left neighbour in the source row (the right one is
 * cn bytes further) and wt[j] the weights b | a << 16 (b + a = LIN_ONE).
 * tmp holds 3 * dw ints. */
static void lin_etab(int sw, int dw, int cn, int32_t *e0, int32_t *wt, int *tmp) {
    int *x0 = tmp, *x1 = tmp + dw, *xa = tmp + 2 * dw;
    lin_tab(sw, dw, cn, x0, x1, xa);
    for (int x = 0; x < dw; x++)
        for (int c = 0; c < cn; c++) {
            e0[x * cn + c] = x0[x] + c;
            wt[x * cn + c] = (LIN_ONE - xa[x]) | (xa[x] << 16);
        }
}

/* Where each group of 8 elements finds its bytes (struct fr__lin_grp):
 * greedily, the 16-byte window at the lowest offset, then one at the lowest
 * offset the windows so far miss, up to FR__LIN_WIN windows; a group spread
 * wider (grey shrunk over 4x) is gathered. Upscales and mild reductions
 * need one window; RGB, whose 8 elements touch at most 3 pixels, never
 * needs a gather. */
static void lin_groups(const int32_t *e0, int n, int cn, struct fr__lin_grp *g) {
    for (int j = 0; j + 8 <= n; j += 8, g++) {
        const int32_t *e = e0 + j;
        int win[8];                         /* window of element k */
        int nw = 0;
        for (int k = 0; k < 8; k++) win[k] = -1;
        memset(g->ctl, -1, sizeof g->ctl);
        for (int k = 0; k < FR__LIN_WIN; k++) g->base[k] = -1;
        for (;;) {
            int32_t lo = -1;
            for (int k = 0; k < 8; k++)
                if (win[k] < 0 && (lo < 0 || e[k] < lo)) lo = e[k];
            if (lo < 0) break;              /* all placed */
            if (nw == FR__LIN_WIN) {
                g->base[0] = -1;            /* too spread: gather */
                break;
            }
            g->base[nw] = lo;
            for (int k = 0; k < 8; k++)
                if (win[k] < 0 && e[k] + cn <= lo + 15) {
                    win[k] = nw;
                    g->ctl[nw][4 * k] = (int8_t)(e[k] - lo);
                    g->ctl[nw][4 * k + 2] = (int8_t)(e[k] + cn - lo);
                }
            nw++;
        }
    }
}

/* Grey bytes to floats, as fr_image_to_chw. */
static void chw_grey_row(const uint8_t *restrict p, size_t n, float m, float s, float *restrict o) {
    for (size_t i = 0; i < n; i++) o[i] = ((float)p[i] - m) * s;
}

/* Where the SIMD bilinear resize writes: bytes (u8, interleaved like the
 * source) or float planes (f32: plane c is (v - mean[c]) * scale[c] of
 * source channel chan[c], as fr_image_to_chw). */
struct lin_dst {
    uint8_t *u8;
    float *f32;
    const int *chan;
    float mean[3];
    float scale[3];
};

/* resize_linear's row loop with the AVX2 kernels. The kernel reads whole
 * 16-byte windows, up to 15 bytes past a row: in place where the image goes
 * on for 32 bytes more, else from a zero-padded copy of the row (the last
 * rows). Float output goes through one row of bytes, still in cache, which
 * makes it equal to resize + to_chw by construction. */
static int resize_linear_simd(const struct fr_image *src, int dw, int dh, const struct lin_dst *o) {
    int sw = src->w, sh = src->h, cn = src->channels;
    size_t n = (size_t)dw * (size_t)cn, sstride = (size_t)sw * (size_t)cn;
    size_t ngrp = n / 8, n_grp_b = ngrp * sizeof(struct fr__lin_grp);
    size_t n_i32 = 4 * n + 3 * (size_t)dw + 3 * (size_t)dh;
    size_t n_u8 = sstride + 32 + n;
    uint8_t *mem = fr_malloc(n_grp_b + n_i32 * sizeof(int32_t) + n_u8);
    if (!mem) return fr_err_set(FR_E_NOMEM, "resize tables for %dx%d", dw, dh);
    struct fr__lin_grp *grp = (struct fr__lin_grp *)(void *)mem;   /* 4-byte fields first */
    int32_t *e0 = (int32_t *)(void *)(mem + n_grp_b), *wt = e0 + n, *xtmp = wt + n;
    int *y0 = xtmp + 3 * dw, *y1 = y0 + dh, *ya = y1 + dh;
    int32_t *buf[2] = { ya + dh, ya + dh + n };
    uint8_t *row = (uint8_t *)(buf[1] + n), *bytes = row + sstride + 32;
    memset(row + sstride, 0, 32);
    lin_etab(sw, dw, cn, e0, wt, xtmp);
    lin_groups(e0, (int)n, cn, grp);
    lin_tab(sh, dh, 1, y0, y1, ya);
    int tag[2] = { -1, -1 };                /* source row held by buf[k] */
    for (int y = 0; y < dh; y++) {
        int r[2] = { y0[y], y1[y] }, k[2] = { -1, -1 };
        for (int i = 0; i < 2; i++) {
            k[i] = tag[0] == r[i] ? 0 : tag[1] == r[i] ? 1 : -1;
            if (k[i] >= 0) continue;
            /* the free slot: not the one holding the other row of this output */
            int other = tag[0] == r[1 - i] ? 0 : tag[1] == r[1 - i] ? 1 : -1;
            k[i] = other == 0 ? 1 : 0;
            const uint8_t *s = src->data + (size_t)r[i] * sstride;
            if ((size_t)(sh - 1 - r[i]) * sstride < 32) s = memcpy(row, s, sstride);
            fr__img_lin_hrow_avx2(s, buf[k[i]], (int)n, e0, wt, grp, cn);
            tag[k[i]] = r[i];
        }
        uint8_t *ob = o->u8 ? o->u8 + (size_t)y * n : bytes;
        fr__img_lin_vrow_u8_avx2(buf[k[0]], buf[k[1]], LIN_ONE - ya[y], ya[y], ob, (int)n);
        if (o->u8) continue;
        size_t plane = (size_t)dw * (size_t)dh, at = (size_t)y * (size_t)dw;
        if (cn == 1)
            chw_grey_row(bytes, (size_t)dw, o->mean[0], o->scale[0], o->f32 + at);
        else
            fr__img_chw_row_avx2(bytes, (size_t)dw, o->chan, o->mean, o->scale, o->f32 + at,
                                 o->f32 + plane + at, o->f32 + 2 * plane + at);
    }
    fr_free(mem);
    return 0;
}

static int resize_linear(const struct fr_image *src, struct fr_image *out) {
    if (use_avx2()) {
        struct lin_dst o = { .u8 = out->data };
        return resize_linear_simd(src, out->w, out->h, &o);
    }
    int sw = src->w, sh = src->h, cn = src->channels, dw = out->w, dh = out->h;
    size_t rowlen = (size_t)dw * (size_t)cn;
    size_t n_int = 3 * (size_t)dw + 3 * (size_t)dh;
    int32_t *mem = fr_malloc((n_int + 2 * rowlen) * sizeof(int32_t));
    if (!mem) return fr_err_set(FR_E_NOMEM, "resize tables for %dx%d", dw, dh);
    int *x0 = mem, *x1 = x0 + dw, *xa = x1 + dw;
    int *y0 = xa + dw, *y1 = y0 + dh, *ya = y1 + dh;
    int32_t *buf[2] = { mem + n_int, mem + n_int + rowlen };
    int tag[2] = { -1, -1 };                /* source row held by buf[k] */
    lin_tab(sw, dw, cn, x0, x1, xa);
    lin_tab(sh, dh, 1, y0, y1, ya);
    size_t sstride = (size_t)sw * (size_t)cn;
    for (int y = 0; y < dh; y++) {
        int r0 = y0[y], r1 = y1[y];
        int k0 = tag[0] == r0 ? 0 : tag[1] == r0 ? 1 : -1;
        if (k0 < 0) {
            k0 = tag[0] == r1 ? 1 : 0;      /* keep the slot that holds r1 */
            lin_hrow(src->data + (size_t)r0 * sstride, buf[k0], dw, cn, x0, x1, xa);
            tag[k0] = r0;
        }
        int k1 = k0;
        if (r1 != r0) {
            k1 = 1 - k0;
            if (tag[k1] != r1) {
                lin_hrow(src->data + (size_t)r1 * sstride, buf[k1], dw, cn, x0, x1, xa);
                tag[k1] = r1;
            }
        }
        lin_vrow(buf[k0], buf[k1], LIN_ONE - ya[y], ya[y], out->data + (size_t)y * rowlen,
                 (int)rowlen);
    }
    fr_free(mem);
    return 0;
}

/* ---- separable weighted resampling (INTER_AREA) ---- */

/* Taps of one axis in CSR form: output i uses idx[k], wt[k] for k in
 * [start[i], start[i + 1]). idx is premultiplied by the element stride. */
struct taps {
    int *start;
    int *idx;
    float *wt;
};

/* At most sn + 2 * dn taps: the whole source cells of different outputs are
 * disjoint, and each output adds at most two partial cells (or two bilinear
 * neighbours). */
static size_t taps_max(int sn, int dn) {
    return (size_t)sn + 2 * (size_t)dn;
}

static void taps_area(int sn, int dn, int mul, struct taps *t) {
    /* OpenCV computeResizeAreaTab */
    double scale = (double)sn / (double)dn;
    int k = 0;
    for (int d = 0; d < dn; d++) {
        t->start[d] = k;
        double f1 = d * scale, f2 = f1 + scale;
        double cell = scale < sn - f1 ? scale : sn - f1;
        int s1 = (int)ceil(f1), s2 = (int)floor(f2);
        if (s2 > sn - 1) s2 = sn - 1;
        if (s1 > s2) s1 = s2;
        if (s1 - f1 > 1e-3) {
            t->idx[k] = (s1 - 1) * mul;
            t->wt[k++] = (float)((s1 - f1) / cell);
        }
        for (int s = s1; s < s2; s++) {
            t->idx[k] = s * mul;
            t->wt[k++] = (float)(1.0 / cell);
        }
        if (f2 - s2 > 1e-3) {
            double part = f2 - s2 < 1.0 ? f2 - s2 : 1.0;
            if (part > cell) part = cell;
            t->idx[k] = s2 * mul;
            t->wt[k++] = (float)(part / cell);
        }
    }
    t->start[dn] = k;
}

static void taps_linear(int sn, int dn, int mul, struct taps *t) {
    for (int d = 0; d < dn; d++) {
        int i0, i1;
        double fr;
        lin_coord(sn, dn, d, &i0, &i1, &fr);
        t->start[d] = 2 * d;
        t->idx[2 * d] = i0 * mul;
        t->wt[2 * d] = (float)(1.0 - fr);
        t->idx[2 * d + 1] = i1 * mul;
        t->wt[2 * d + 1] = (float)fr;
    }
    t->start[dn] = 2 * dn;
}

static void sep_hrow(const uint8_t *restrict s, float *restrict d, int dw, int cn,
                     const struct taps *t) {
    if (cn == 3) {
        for (int x = 0; x < dw; x++) {
            float a0 = 0, a1 = 0, a2 = 0;
            for (int k = t->start[x]; k < t->start[x + 1]; k++) {
                const uint8_t *p = s + t->idx[k];
                float w = t->wt[k];
                a0 += w * p[0];
                a1 += w * p[1];
                a2 += w * p[2];
            }
            d[3 * x + 0] = a0;
            d[3 * x + 1] = a1;
            d[3 * x + 2] = a2;
        }
    } else {
        for (int x = 0; x < dw; x++) {
            float a = 0;
            for (int k = t->start[x]; k < t->start[x + 1]; k++) a += t->wt[k] * s[t->idx[k]];
            d[x] = a;
        }
    }
}

static int resize_sep(const struct fr_image *src, struct fr_image *out) {
    int sw = src->w, sh = src->h, cn = src->channels, dw = out->w, dh = out->h;
    size_t rowlen = (size_t)dw * (size_t)cn;
    size_t nx = taps_max(sw, dw), ny = taps_max(sh, dh);
    size_t n_int = (size_t)dw + 1 + nx + (size_t)dh + 1 + ny;
    size_t n_flt = nx + ny + 2 * rowlen;
    /* ints first, then floats: both 4 bytes, so the floats stay aligned */
    void *mem = fr_malloc((n_int + n_flt) * 4);
    if (!mem) return fr_err_set(FR_E_NOMEM, "resize tables for %dx%d", dw, dh);
    int *ip = mem;
    float *fp = (float *)(ip + n_int);
    struct taps tx = { ip, ip + dw + 1, fp };
    struct taps ty = { tx.idx + nx, tx.idx + nx + dh + 1, fp + nx };
    float *hbuf = fp + nx + ny, *acc = hbuf + rowlen;
    if (sw > dw) taps_area(sw, dw, cn, &tx);
    else taps_linear(sw, dw, cn, &tx);
    if (sh > dh) taps_area(sh, dh, 1, &ty);
    else taps_linear(sh, dh, 1, &ty);
    size_t sstride = (size_t)sw * (size_t)cn;
    int tag = -1;                           /* source row held by hbuf */
    for (int y = 0; y < dh; y++) {
        memset(acc, 0, rowlen * sizeof *acc);
        for (int k = ty.start[y]; k < ty.start[y + 1]; k++) {
            float w = ty.wt[k];
            if (w == 0.0f) continue;
            int r = ty.idx[k];
            if (r != tag) {
                sep_hrow(src->data + (size_t)r * sstride, hbuf, dw, cn, &tx);
                tag = r;
            }
            for (size_t i = 0; i < rowlen; i++) acc[i] += w * hbuf[i];
        }
        uint8_t *o = out->data + (size_t)y * rowlen;
        /* the small bias turns float noise below an exact .5 into round-up */
        for (size_t i = 0; i < rowlen; i++) o[i] = round_u8(acc[i] + 1e-3f);
    }
    fr_free(mem);
    return 0;
}

int fr_image_resize(const struct fr_image *src, int w, int h, int method, struct fr_image *out) {
    int rc;
    if ((rc = check_out(src, out, "resize")) < 0) return rc;
    if ((rc = check_src(src, "resize")) < 0) return rc;
    if ((rc = check_size(w, h, "resize")) < 0) return rc;
    if (method != FR_RESIZE_BILINEAR && method != FR_RESIZE_AREA)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "resize: unknown method %d", method);
    struct fr_image r = { 0, 0, 0, NULL };
    if ((rc = image_alloc(&r, w, h, src->channels)) < 0) return rc;
    if (w == src->w && h == src->h)
        memcpy(r.data, src->data, (size_t)w * (size_t)h * (size_t)src->channels);
    else if (method == FR_RESIZE_BILINEAR || (w >= src->w && h >= src->h))
        rc = resize_linear(src, &r);
    else
        rc = resize_sep(src, &r);
    if (rc < 0) {
        fr_image_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

/* The detector input in one pass: no intermediate image, no second walk
 * over its bytes. Equal to resize + to_chw by construction on the portable
 * path, and by the tests on the SIMD one. */
int fr_image_resize_to_chw(const struct fr_image *src, int w, int h, const float *mean,
                           const float *scale, int bgr, float *out) {
    int rc;
    if ((rc = check_src(src, "resize_to_chw")) < 0) return rc;
    if ((rc = check_size(w, h, "resize_to_chw")) < 0) return rc;
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "resize_to_chw: NULL output");
    if (w == src->w && h == src->h) {
        fr_image_to_chw(src, mean, scale, bgr, out);
        return 0;
    }
    if (!use_avx2()) {
        struct fr_image small = { 0, 0, 0, NULL };
        if ((rc = fr_image_resize(src, w, h, FR_RESIZE_BILINEAR, &small)) < 0) return rc;
        fr_image_to_chw(&small, mean, scale, bgr, out);
        fr_image_free(&small);
        return 0;
    }
    /* output plane c takes source channel c, or 2 - c for B, G, R */
    static const int rgb[3] = { 0, 1, 2 }, bgr_chan[3] = { 2, 1, 0 };
    struct lin_dst o = { .f32 = out, .chan = bgr ? bgr_chan : rgb };
    for (int c = 0; c < src->channels; c++) {
        o.mean[c] = mean ? mean[c] : 0.0f;
        o.scale[c] = scale ? scale[c] : 1.0f;
    }
    return resize_linear_simd(src, w, h, &o);
}

/* ---- affine warp ---- */

/* One output pixel sampled at (sx, sy); cn is a constant at each call site
 * (inlined), so the channel loops unroll. */
static inline __attribute__((always_inline)) void
warp_px(const struct fr_image *src, float sx, float sy, uint8_t *restrict o, const int cn) {
    const int sw = src->w, sh = src->h;
    const size_t sstride = (size_t)sw * (size_t)cn;
    const uint8_t *sd = src->data;
    /* also false for NaN; checked before any conversion to int */
    if (!(sx > -1.0f && sx < (float)sw && sy > -1.0f && sy < (float)sh)) {
        for (int c = 0; c < cn; c++) o[c] = 0;
        return;
    }
    /* floor without a libm call: sx + 1 > 0, so truncation floors it */
    int x0 = (int)(sx + 1.0f) - 1, y0 = (int)(sy + 1.0f) - 1;
    float fx = sx - (float)x0, fy = sy - (float)y0;
    if (x0 >= 0 && y0 >= 0 && x0 < sw - 1 && y0 < sh - 1) {
        const uint8_t *p = sd + (size_t)y0 * sstride + (size_t)x0 * (size_t)cn;
        const uint8_t *q = p + sstride;
        for (int c = 0; c < cn; c++) {
            float t = (float)p[c] + fx * (float)(p[c + cn] - p[c]);
            float b = (float)q[c] + fx * (float)(q[c + cn] - q[c]);
            o[c] = round_u8(t + fy * (b - t));
        }
        return;
    }
    /* at the border: neighbours outside the image are 0 */
    /* (x0 can be sw when sx + 1 rounded up, so both ends are checked) */
    int in_x0 = x0 >= 0 && x0 < sw, in_x1 = x0 + 1 >= 0 && x0 + 1 < sw;
    const uint8_t *p = y0 >= 0 && y0 < sh ? sd + (size_t)y0 * sstride : NULL;
    const uint8_t *q = y0 + 1 >= 0 && y0 + 1 < sh ? sd + (size_t)(y0 + 1) * sstride : NULL;
    size_t i0 = (size_t)x0 * (size_t)cn, i1 = (size_t)(x0 + 1) * (size_t)cn;
    for (int c = 0; c < cn; c++) {
        float p00 = p && in_x0 ? (float)p[i0 + (size_t)c] : 0.0f;
        float p01 = p && in_x1 ? (float)p[i1 + (size_t)c] : 0.0f;
        float p10 = q && in_x0 ? (float)q[i0 + (size_t)c] : 0.0f;
        float p11 = q && in_x1 ? (float)q[i1 + (size_t)c] : 0.0f;
        float t = p00 + fx * (p01 - p00);
        float b = p10 + fx * (p11 - p10);
        o[c] = round_u8(t + fy * (b - t));
    }
}

void fr__img_warp_px(const struct fr_image *src, float sx, float sy, uint8_t *o) {
    if (src->channels == 3) warp_px(src, sx, sy, o, 3);
    else warp_px(src, sx, sy, o, 1);
}

/* One output row, portable. */
static inline __attribute__((always_inline)) void
warp_row(const struct fr_image *src, const float m[6], int y, int w, uint8_t *restrict o,
         const int cn) {
    float bx = m[1] * (float)y + m[2], by = m[4] * (float)y + m[5];
    for (int x = 0; x < w; x++, o += cn) {
        float sx = m[0] * (float)x + bx, sy = m[3] * (float)x + by;
        warp_px(src, sx, sy, o, cn);
    }
}

int fr_image_warp_affine(const struct fr_image *src, const float m[6], int w, int h,
                         struct fr_image *out) {
    int rc;
    if ((rc = check_out(src, out, "warp_affine")) < 0) return rc;
    if ((rc = check_src(src, "warp_affine")) < 0) return rc;
    if ((rc = check_size(w, h, "warp_affine")) < 0) return rc;
    if (!m) return fr_err_set(FR_E_INVALID_ARGUMENT, "warp_affine: NULL matrix");
    struct fr_image r = { 0, 0, 0, NULL };
    if ((rc = image_alloc(&r, w, h, src->channels)) < 0) return rc;
    size_t rowlen = (size_t)w * (size_t)src->channels;
    int simd = use_avx2();
    for (int y = 0; y < h; y++) {
        if (simd) fr__img_warp_row_avx2(src, m, y, w, r.data + (size_t)y * rowlen);
        else if (src->channels == 3) warp_row(src, m, y, w, r.data + (size_t)y * rowlen, 3);
        else warp_row(src, m, y, w, r.data + (size_t)y * rowlen, 1);
    }
    *out = r;
    return 0;
}

/* ---- crop, grey ---- */

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

int fr_image_crop(const struct fr_image *src, int x0, int y0, int x1, int y1,
                  struct fr_image *out) {
    int rc;
    if ((rc = check_out(src, out, "crop")) < 0) return rc;
    if ((rc = check_src(src, "crop")) < 0) return rc;
    int cx0 = clampi(x0, 0, src->w), cx1 = clampi(x1, 0, src->w);
    int cy0 = clampi(y0, 0, src->h), cy1 = clampi(y1, 0, src->h);
    if (cx1 <= cx0 || cy1 <= cy0)
        return fr_err_set(FR_E_INVALID_ARGUMENT,
                          "crop: [%d, %d) x [%d, %d) is empty inside the %dx%d image", x0, x1, y0,
                          y1, src->w, src->h);
    struct fr_image r = { 0, 0, 0, NULL };
    if ((rc = image_alloc(&r, cx1 - cx0, cy1 - cy0, src->channels)) < 0) return rc;
    size_t cn = (size_t)src->channels, len = (size_t)r.w * cn;
    for (int y = 0; y < r.h; y++)
        memcpy(r.data + (size_t)y * len,
               src->data + ((size_t)(cy0 + y) * (size_t)src->w + (size_t)cx0) * cn, len);
    *out = r;
    return 0;
}

int fr_image_pad(const struct fr_image *src, int px, int py, uint8_t value, struct fr_image *out) {
    int rc;
    if ((rc = check_out(src, out, "pad")) < 0) return rc;
    if ((rc = check_src(src, "pad")) < 0) return rc;
    if (px < 0 || py < 0 || px > 65536 || py > 65536)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "pad: border %d x %d out of range", px, py);
    struct fr_image r = { 0, 0, 0, NULL };
    if ((rc = image_alloc(&r, src->w + 2 * px, src->h + 2 * py, src->channels)) < 0) return rc;
    size_t cn = (size_t)src->channels, len = (size_t)src->w * cn;
    memset(r.data, value, (size_t)r.w * (size_t)r.h * cn);
    for (int y = 0; y < src->h; y++)
        memcpy(r.data + ((size_t)(y + py) * (size_t)r.w + (size_t)px) * cn, src->data + (size_t)y * len, len);
    *out = r;
    return 0;
}

static void grey_row(const uint8_t *restrict s, uint8_t *restrict d, size_t n) {
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)((s[3 * i] * 4899u + s[3 * i + 1] * 9617u + s[3 * i + 2] * 1868u + 8192u) >>
                         14);
}

int fr_image_to_grey(const struct fr_image *src, struct fr_image *out) {
    int rc;
    if ((rc = check_out(src, out, "to_grey")) < 0) return rc;
    if ((rc = check_src(src, "to_grey")) < 0) return rc;
    struct fr_image r = { 0, 0, 0, NULL };
    if ((rc = image_alloc(&r, src->w, src->h, 1)) < 0) return rc;
    size_t n = (size_t)src->w * (size_t)src->h;
    if (src->channels == 1) memcpy(r.data, src->data, n);
    else grey_row(src->data, r.data, n);
    *out = r;
    return 0;
}

/* ---- measures ---- */

double fr_image_laplacian_var(const struct fr_image *img) {
    if (check_src(img, "laplacian_var") < 0) return -1;
    if (img->w < 3 || img->h < 3) {
        fr_err_set(FR_E_INVALID_ARGUMENT, "laplacian_var: %dx%d image is smaller than 3x3",
                   img->w, img->h);
        return -1;
    }
    struct fr_image grey = { 0, 0, 0, NULL };
    const uint8_t *g = img->data;
    if (img->channels == 3) {
        if (fr_image_to_grey(img, &grey) < 0) return -1;
        g = grey.data;
    }
    const size_t w = (size_t)img->w;
    int64_t sum = 0, sumsq = 0;
    for (int y = 1; y < img->h - 1; y++) {
        const uint8_t *up = g + (size_t)(y - 1) * w, *mid = up + w, *dn = mid + w;
        int64_t s = 0, s2 = 0;
        for (size_t x = 1; x < w - 1; x++) {
            int32_t l = up[x] + dn[x] + mid[x - 1] + mid[x + 1] - 4 * mid[x];
            s += l;
            s2 += l * l;
        }
        sum += s;
        sumsq += s2;
    }
    fr_image_free(&grey);
    double n = (double)(w - 2) * (double)(img->h - 2);
    double mean = (double)sum / n;
    double var = (double)sumsq / n - mean * mean;
    return var > 0 ? var : 0;
}

double fr_image_brightness(const struct fr_image *img) {
    if (check_src(img, "brightness") < 0) return -1;
    size_t n = (size_t)img->w * (size_t)img->h;
    const uint8_t *p = img->data;
    if (img->channels == 1) {
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) s += p[i];
        return (double)s / (double)n;
    }
    uint64_t r = 0, g = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        r += p[3 * i];
        g += p[3 * i + 1];
        b += p[3 * i + 2];
    }
    return (4899.0 * (double)r + 9617.0 * (double)g + 1868.0 * (double)b) / (16384.0 * (double)n);
}

/* ---- network input ---- */

void fr_image_to_chw(const struct fr_image *img, const float *mean, const float *scale, int bgr,
                     float *out) {
    FR_ASSERT(img && img->data && out && img->w > 0 && img->h > 0);
    FR_ASSERT(img->channels == 1 || img->channels == 3);
    size_t n = (size_t)img->w * (size_t)img->h;
    const uint8_t *p = img->data;
    if (img->channels == 1) {
        chw_grey_row(p, n, mean ? mean[0] : 0.0f, scale ? scale[0] : 1.0f, out);
        return;
    }
    float m[3], s[3];
    for (int c = 0; c < 3; c++) {
        m[c] = mean ? mean[c] : 0.0f;
        s[c] = scale ? scale[c] : 1.0f;
    }
    /* output plane c takes source channel c, or 2 - c for B, G, R */
    static const int rgb[3] = { 0, 1, 2 }, bgr_chan[3] = { 2, 1, 0 };
    if (use_avx2()) {
        fr__img_chw_row_avx2(p, n, bgr ? bgr_chan : rgb, m, s, out, out + n, out + 2 * n);
        return;
    }
    int c0 = bgr ? 2 : 0, c2 = bgr ? 0 : 2;
    float *restrict o0 = out, *restrict o1 = out + n, *restrict o2 = out + 2 * n;
    for (size_t i = 0; i < n; i++) {
        o0[i] = ((float)p[3 * i + (size_t)c0] - m[0]) * s[0];
        o1[i] = ((float)p[3 * i + 1] - m[1]) * s[1];
        o2[i] = ((float)p[3 * i + (size_t)c2] - m[2]) * s[2];
    }
}
