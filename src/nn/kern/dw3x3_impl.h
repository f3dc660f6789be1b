/* Depthwise 3x3 convolution of one channel plane, stride 1 or 2, with
 * intrinsics. Included by kern_avx2.c and kern_avx512.c, which define the
 * vector layer (V_*) below for their width.
 *
 * The plane's rows are first copied into scratch with their left/right
 * zero padding made real (and, for stride 2, split into even and odd
 * columns), so the inner loop has no bounds checks: each output vector is 9
 * FMAs on unaligned loads. Rows above/below the input read a zero row.
 * Two output rows are computed per pass, sharing the loads of the rows they
 * have in common. Bias and activation are applied in registers. */
#include <immintrin.h>

static inline V_T act_vec(V_T v, const struct fr_kern_act *a, V_T slope) {
    switch (a->act) {
    case FR_ACT_RELU: return V_MAX(v, V_ZERO());
    case FR_ACT_PRELU: case FR_ACT_LEAKY: return V_NEGMUL(v, slope);
    case FR_ACT_CLIP: return V_MIN(V_MAX(v, V_SET1(a->lo)), V_SET1(a->hi));
    default: return v;
    }
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* Scratch floats dw3x3 needs for a plane. */
static size_t dw3x3_scratch(const struct fr_dw_args *a) {
    size_t w = round_up((size_t)a->ow + 2, V_W) + 2 * V_W;
    return (size_t)(a->ih + 1) * w * (a->sw == 2 ? 2 : 1) + 64;
}

static void dw3x3(const struct fr_dw_args *a) {
    const int ih = a->ih, iw = a->iw, oh = a->oh, ow = a->ow, s = a->sh, pl = a->pl, pt = a->pt;
    const size_t pw = round_up((size_t)ow + 2, V_W) + 2 * V_W;     /* floats per scratch row */
    float *base = a->scratch;
    float *zero = base;                                            /* one row of zeros */
    float *rows = base + pw * (s == 2 ? 2 : 1);
    /* columns the kernel reads: stride 1 up to ow + V_W, stride 2 up to ow + V_W (E) */
    const int need = ow + V_W + 1;
    memset(zero, 0, (size_t)need * sizeof(float));
    if (s == 2) memset(zero + pw, 0, (size_t)need * sizeof(float));
    /* padded rows: stride 1 → P[i] = in[i - pl]; stride 2 → E[i] = in[2i - pl], O[i] = in[2i + 1 - pl] */
    for (int y = 0; y < ih; y++) {
        const float *src = a->in + (size_t)y * iw;
        if (s == 1) {
            gather_row(src, iw, -pl, 1, need, rows + (size_t)y * pw);
        } else {
            float *e = rows + (size_t)y * 2 * pw, *o = e + pw;
            gather_row(src, iw, -pl, 2, need, e);
            gather_row(src, iw, 1 - pl, 2, need, o);
        }
    }
    const float *w = a->w;
    const V_T w00 = V_SET1(w[0]), w01 = V_SET1(w[1]), w02 = V_SET1(w[2]);
    const V_T w10 = V_SET1(w[3]), w11 = V_SET1(w[4]), w12 = V_SET1(w[5]);
    const V_T w20 = V_SET1(w[6]), w21 = V_SET1(w[7]), w22 = V_SET1(w[8]);
    const V_T bias = V_SET1(a->bias);
    const V_T slope = V_SET1(a->act->act == FR_ACT_PRELU ? a->act->slope[a->c] : a->act->alpha);
    const size_t rstride = s == 1 ? pw : 2 * pw;
#define ROW(iy) ((iy) < 0 || (iy) >= ih ? zero : rows + (size_t)(iy) * rstride)
    int oy = 0;
    if (s == 1) {
        for (; oy + 1 < oh; oy += 2) {
            int iy = oy - pt;
            const float *r0 = ROW(iy), *r1 = ROW(iy + 1), *r2 = ROW(iy + 2), *r3 = ROW(iy + 3);
            float *o0 = a->out + (size_t)oy * ow, *o1 = o0 + ow;
            for (int x = 0; x < ow; x += V_W) {
                V_T a0 = bias, a1 = bias, t;
                t = V_LOAD(r0 + x);     a0 = V_FMA(w00, t, a0);
                t = V_LOAD(r0 + x + 1); a0 = V_FMA(w01, t, a0);
                t = V_LOAD(r0 + x + 2); a0 = V_FMA(w02, t, a0);
                t = V_LOAD(r1 + x);     a0 = V_FMA(w10, t, a0); a1 = V_FMA(w00, t, a1);
                t = V_LOAD(r1 + x + 1); a0 = V_FMA(w11, t, a0); a1 = V_FMA(w01, t, a1);
                t = V_LOAD(r1 + x + 2); a0 = V_FMA(w12, t, a0); a1 = V_FMA(w02, t, a1);
                t = V_LOAD(r2 + x);     a0 = V_FMA(w20, t, a0); a1 = V_FMA(w10, t, a1);
                t = V_LOAD(r2 + x + 1); a0 = V_FMA(w21, t, a0); a1 = V_FMA(w11, t, a1);
                t = V_LOAD(r2 + x + 2); a0 = V_FMA(w22, t, a0); a1 = V_FMA(w12, t, a1);
                t = V_LOAD(r3 + x);     a1 = V_FMA(w20, t, a1);
                t = V_LOAD(r3 + x + 1); a1 = V_FMA(w21, t, a1);
                t = V_LOAD(r3 + x + 2); a1 = V_FMA(w22, t, a1);
                int n = ow - x < V_W ? ow - x : V_W;
                V_STORE_N(o0 + x, act_vec(a0, a->act, slope), n);
                V_STORE_N(o1 + x, act_vec(a1, a->act, slope), n);
            }
        }
        for (; oy < oh; oy++) {
            int iy = oy - pt;
            const float *r0 = ROW(iy), *r1 = ROW(iy + 1), *r2 = ROW(iy + 2);
            float *o0 = a->out + (size_t)oy * ow;
            for (int x = 0; x < ow; x += V_W) {
                V_T a0 = bias;
                a0 = V_FMA(w00, V_LOAD(r0 + x), a0);
                a0 = V_FMA(w01, V_LOAD(r0 + x + 1), a0);
                a0 = V_FMA(w02, V_LOAD(r0 + x + 2), a0);
                a0 = V_FMA(w10, V_LOAD(r1 + x), a0);
                a0 = V_FMA(w11, V_LOAD(r1 + x + 1), a0);
                a0 = V_FMA(w12, V_LOAD(r1 + x + 2), a0);
                a0 = V_FMA(w20, V_LOAD(r2 + x), a0);
                a0 = V_FMA(w21, V_LOAD(r2 + x + 1), a0);
                a0 = V_FMA(w22, V_LOAD(r2 + x + 2), a0);
                int n = ow - x < V_W ? ow - x : V_W;
                V_STORE_N(o0 + x, act_vec(a0, a->act, slope), n);
            }
        }
    } else {
        /* stride 2: out[x] = w0·E[x] + w1·O[x] + w2·E[x+1] on each of the 3 rows */
        for (; oy < oh; oy++) {
            int iy = oy * 2 - pt;
            const float *e0 = ROW(iy), *e1 = ROW(iy + 1), *e2 = ROW(iy + 2);
            const float *q0 = e0 + pw, *q1 = e1 + pw, *q2 = e2 + pw;
            float *o0 = a->out + (size_t)oy * ow;
            for (int x = 0; x < ow; x += V_W) {
                V_T a0 = bias;
                a0 = V_FMA(w00, V_LOAD(e0 + x), a0);
                a0 = V_FMA(w01, V_LOAD(q0 + x), a0);
                a0 = V_FMA(w02, V_LOAD(e0 + x + 1), a0);
                a0 = V_FMA(w10, V_LOAD(e1 + x), a0);
                a0 = V_FMA(w11, V_LOAD(q1 + x), a0);
                a0 = V_FMA(w12, V_LOAD(e1 + x + 1), a0);
                a0 = V_FMA(w20, V_LOAD(e2 + x), a0);
                a0 = V_FMA(w21, V_LOAD(q2 + x), a0);
                a0 = V_FMA(w22, V_LOAD(e2 + x + 1), a0);
                int n = ow - x < V_W ? ow - x : V_W;
                V_STORE_N(o0 + x, act_vec(a0, a->act, slope), n);
            }
        }
    }
#undef ROW
}
