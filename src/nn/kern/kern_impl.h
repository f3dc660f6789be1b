/* The kernels written once in plain C so the compiler vectorizes them for
 * whatever ISA the including file is built for. Included by kern_ref.c,
 * kern_avx2.c and kern_avx512.c, each of which defines KERN_TABLE. */
#include "kern.h"
#include "../nn_int.h"

#include <math.h>

static void bias_act(float *restrict y, size_t n, float b, int c, const struct fr_kern_act *a) {
    size_t i;
    switch (a->act) {
    case FR_ACT_NONE:
        if (b != 0.0f)
            for (i = 0; i < n; i++) y[i] += b;
        break;
    case FR_ACT_RELU:
        for (i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : 0.0f; }
        break;
    case FR_ACT_PRELU: {
        float s = a->slope[c];
        for (i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : v * s; }
        break;
    }
    case FR_ACT_LEAKY: {
        float s = a->alpha;
        for (i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : v * s; }
        break;
    }
    case FR_ACT_CLIP: {
        float lo = a->lo, hi = a->hi;
        for (i = 0; i < n; i++) {
            float v = y[i] + b;
            v = v < lo ? lo : v;
            y[i] = v > hi ? hi : v;
        }
        break;
    }
    }
}

static void gather_row_scalar(const float *row, int len, int start, int s, int n, float *dst) {
    for (int i = 0, x = start; i < n; i++, x += s) dst[i] = x >= 0 && x < len ? row[x] : 0.0f;
}

#ifndef KERN_DW3X3
static void vmath_libm(int op, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = op == FR_OP_EXP ? expf(v) : op == FR_OP_TANH ? tanhf(v)
             : v >= 0.0f ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
    }
}
#endif

/* 2-D pooling: per output row, each valid kernel tap folds the output
 * columns it covers into the row accumulator with a plain loop (the
 * compiler vectorizes it for the including file's ISA); AveragePool divides
 * by valid rows × valid columns (or the pad-inclusive counts). */
static void pool2d(const struct fr_pool2d_args *a) {
    const int iw = a->iw, ow = a->ow, sw = a->sw;
    float *restrict acc = a->scratch, *restrict ccol = a->scratch + ow + 8;
    if (!a->is_max)
        for (int ox = 0; ox < ow; ox++) {
            int c = 0;
            for (int kx = 0; kx < a->kw; kx++) {
                int ix = ox * sw - a->pl + kx * a->dw;
                c += a->include_pad ? ix >= -a->pl && ix < iw + a->pr : ix >= 0 && ix < iw;
            }
            ccol[ox] = (float)c;
        }
    for (int oy = 0; oy < a->oh; oy++) {
        int rows = 0;
        for (int ox = 0; ox < ow; ox++) acc[ox] = a->is_max ? -INFINITY : 0.0f;
        for (int ky = 0; ky < a->kh; ky++) {
            int iy = oy * a->sh - a->pt + ky * a->dh;
            if (a->include_pad) rows += iy >= -a->pt && iy < a->ih + a->pb;
            if (iy < 0 || iy >= a->ih) continue;
            if (!a->include_pad) rows++;
            const float *restrict row = a->in + (size_t)iy * iw;
            for (int kx = 0; kx < a->kw; kx++) {
                int off = kx * a->dw - a->pl;                  /* ix = ox·sw + off */
                int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int hi = iw - 1 - off < 0 ? 0 : (iw - 1 - off) / sw + 1;
                if (hi > ow) hi = ow;
                const float *restrict r = row + off;
                if (a->is_max) {
                    if (sw == 1) for (int ox = lo; ox < hi; ox++) acc[ox] = r[ox] > acc[ox] ? r[ox] : acc[ox];
                    else if (sw == 2) for (int ox = lo; ox < hi; ox++) acc[ox] = r[2 * ox] > acc[ox] ? r[2 * ox] : acc[ox];
                    else for (int ox = lo; ox < hi; ox++) acc[ox] = r[ox * sw] > acc[ox] ? r[ox * sw] : acc[ox];
                } else {
                    if (sw == 1) for (int ox = lo; ox < hi; ox++) acc[ox] += r[ox];
                    else if (sw == 2) for (int ox = lo; ox < hi; ox++) acc[ox] += r[2 * ox];
                    else for (int ox = lo; ox < hi; ox++) acc[ox] += r[ox * sw];
                }
            }
        }
        float *out = a->out + (size_t)oy * ow;
        if (a->is_max) {
            memcpy(out, acc, (size_t)ow * sizeof(float));
        } else {
            for (int ox = 0; ox < ow; ox++) {
                float cnt = (float)rows * ccol[ox];
                out[ox] = cnt > 0.0f ? acc[ox] / cnt : 0.0f;
            }
        }
    }
}

static void dw(const struct fr_dw_args *a) {
    const int iw = a->iw, ih = a->ih, ow = a->ow, oh = a->oh, kw = a->kw, kh = a->kh;
    const int sh = a->sh, sw = a->sw, pt = a->pt, pl = a->pl;
    /* interior columns: every tap inside the row */
    int x0 = (pl + sw - 1) / sw;
    int x1 = iw + pl - kw >= 0 ? (iw + pl - kw) / sw + 1 : 0;   /* exclusive */
    if (x0 > ow) x0 = ow;
    if (x1 > ow) x1 = ow;
    if (x1 < x0) x1 = x0;
    for (int oy = 0; oy < oh; oy++) {
        float *restrict orow = a->out + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) orow[ox] = a->bias;
        for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh - pt + ky;
            if (iy < 0 || iy >= ih) continue;
            const float *restrict irow = a->in + (size_t)iy * iw;
            const float *wr = a->w + ky * kw;
            for (int kx = 0; kx < kw; kx++) {
                const float wv = wr[kx];
                const int off = kx - pl;
                for (int ox = 0; ox < x0; ox++) {
                    int ix = ox * sw + off;
                    if (ix >= 0 && ix < iw) orow[ox] += wv * irow[ix];
                }
                if (sw == 1) {
                    const float *restrict src = irow + off;
                    for (int ox = x0; ox < x1; ox++) orow[ox] += wv * src[ox];
                } else if (sw == 2) {
                    const float *restrict src = irow + off;
                    for (int ox = x0; ox < x1; ox++) orow[ox] += wv * src[2 * ox];
                } else {
                    for (int ox = x0; ox < x1; ox++) orow[ox] += wv * irow[ox * sw + off];
                }
                for (int ox = x1; ox < ow; ox++) {
                    int ix = ox * sw + off;
                    if (ix >= 0 && ix < iw) orow[ox] += wv * irow[ix];
                }
            }
        }
        bias_act(orow, (size_t)ow, 0.0f, a->c, a->act);
    }
}

#ifdef KERN_DW3X3
#include "gather_impl.h"
#include "dw3x3_impl.h"
#include "pw_impl.h"
#include "conv3x3_impl.h"
#include "math_impl.h"
#include "pool_impl.h"
#ifdef KERN_DWCB
#include "dwcb_impl.h"
#define KERN_CB .dw3x3_cb = dw3x3_cb, .dw3x3_cb_scratch = dw3x3_cb_scratch,
#else
#define KERN_CB
#endif
const struct fr_kern KERN_TABLE = { KERN_CB .isa = KERN_ISA, .dw = dw, .bias_act = bias_act, .dw3x3 = dw3x3,
                                   .dw3x3_small = dw3x3_small, .dw_small_max = DW_SMALL_VECS * V_W, .pw = pw_gemm, .pw_mr = PW_MR,
                                   .gather_row = gather_row, .c3_scratch = conv3x3_scratch,
                                   .c3_prep = conv3x3_prep, .c3_run = conv3x3_run, .c3_ob = C3_OB,
                                   .vmath = vmath, .pool2d = pool2d_vec };
#else
const struct fr_kern KERN_TABLE = { .isa = KERN_ISA, .dw = dw, .bias_act = bias_act, .gather_row = gather_row_scalar,
                                   .vmath = vmath_libm, .pool2d = pool2d };
#endif
