/* Depthwise 3x3 convolution of one channel plane, stride 1 or 2, with
 * intrinsics. Included by kern_avx2.c and kern_avx512.c, which define the
 * vector layer (V_*) below for their width.
 *
 * Stride 1: the plane's rows are first copied into scratch with their
 * left/right zero padding made real, so the inner loop has no bounds checks:
 * each output vector is 9 FMAs on unaligned loads; rows above/below the
 * input read a zero row; two output rows are computed per pass, sharing the
 * loads of the rows they have in common. Stride 2 reads the input directly
 * and splits even/odd columns in registers. Bias and activation are applied in registers. */
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
    float *rows = base + pw;
    /* stride 1: padded rows P[i] = in[i - pl], for the columns the kernel reads (< ow + V_W + 1) */
    const int need = ow + V_W + 1;
    if (s == 1) {
        memset(zero, 0, (size_t)need * sizeof(float));
        for (int y = 0; y < ih; y++) gather_row(a->in + (size_t)y * iw, iw, -pl, 1, need, rows + (size_t)y * pw);
    }
    const float *w = a->w;
    const V_T w00 = V_SET1(w[0]), w01 = V_SET1(w[1]), w02 = V_SET1(w[2]);
    const V_T w10 = V_SET1(w[3]), w11 = V_SET1(w[4]), w12 = V_SET1(w[5]);
    const V_T w20 = V_SET1(w[6]), w21 = V_SET1(w[7]), w22 = V_SET1(w[8]);
    const V_T bias = V_SET1(a->bias);
    const V_T slope = V_SET1(a->act->act == FR_ACT_PRELU ? a->act->slope[a->c] : a->act->alpha);
    const size_t rstride = pw;
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
        /* stride 2, straight from the input rows: for output columns x..x+V_W
         * the taps read in[2x - pl + kx]; two loads of V_W cover kx = 0, 1
         * (even and odd lanes), two more shifted by 2 give kx = 2. Loads are
         * masked only where they cross the row ends. */
        for (; oy < oh; oy++) {
            float *o0 = a->out + (size_t)oy * ow;
            for (int x = 0; x < ow; x += V_W) {
                V_T acc = bias;
                int c0 = 2 * x - pl;
                bool inside = c0 >= 0 && c0 + 2 * V_W + 2 <= iw;
                for (int ky = 0; ky < 3; ky++) {
                    int iy = oy * 2 - pt + ky;
                    if (iy < 0 || iy >= ih) continue;
                    const float *r = a->in + (size_t)iy * iw;
                    V_T l0, h0, l2, h2;
                    if (inside) {
                        l0 = V_LOAD(r + c0); h0 = V_LOAD(r + c0 + V_W);
                        l2 = V_LOAD(r + c0 + 2); h2 = V_LOAD(r + c0 + 2 + V_W);
                    } else {
                        l0 = V_LOADRANGE(r, c0, iw); h0 = V_LOADRANGE(r, c0 + V_W, iw);
                        l2 = V_LOADRANGE(r, c0 + 2, iw); h2 = V_LOADRANGE(r, c0 + 2 + V_W, iw);
                    }
                    const V_T wa = ky == 0 ? w00 : ky == 1 ? w10 : w20;
                    const V_T wb = ky == 0 ? w01 : ky == 1 ? w11 : w21;
                    const V_T wc = ky == 0 ? w02 : ky == 1 ? w12 : w22;
                    acc = V_FMA(wa, V_EVEN(l0, h0), acc);
                    acc = V_FMA(wb, V_ODD(l0, h0), acc);
                    acc = V_FMA(wc, V_EVEN(l2, h2), acc);
                }
                int n = ow - x < V_W ? ow - x : V_W;
                V_STORE_N(o0 + x, act_vec(acc, a->act, slope), n);
            }
        }
    }
#undef ROW
}
