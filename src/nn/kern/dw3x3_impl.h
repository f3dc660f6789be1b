/* Depthwise 3x3 convolution of one channel plane, stride 1 or 2, with
 * intrinsics. Included by kern_avx2.c and kern_avx512.c, which define the
 * vector layer (V_*) below for their width.
 *
 * Both strides read the input rows directly, with plain loads inside a row
 * and masked loads where a vector crosses its ends (the zero padding), so no
 * padded copy is made: stride 1 computes two output rows per pass sharing
 * the loads of their common input rows; stride 2 splits even and odd
 * columns in registers. Bias and activation are applied in registers. */
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

static void dw3x3(const struct fr_dw_args *a) {
    const int ih = a->ih, iw = a->iw, oh = a->oh, ow = a->ow, s = a->sh, pl = a->pl, pt = a->pt;
    const float *w = a->w;
    const V_T w00 = V_SET1(w[0]), w01 = V_SET1(w[1]), w02 = V_SET1(w[2]);
    const V_T w10 = V_SET1(w[3]), w11 = V_SET1(w[4]), w12 = V_SET1(w[5]);
    const V_T w20 = V_SET1(w[6]), w21 = V_SET1(w[7]), w22 = V_SET1(w[8]);
    const V_T bias = V_SET1(a->bias);
    const V_T slope = V_SET1(a->act->act == FR_ACT_PRELU ? a->act->slope[a->c] : a->act->alpha);
    int oy = 0;
    if (s == 1) {
        /* straight from the input rows: taps kx read in[x - pl + kx]; loads are
         * plain inside the row and masked where they cross its ends; two
         * output rows per pass share the loads of their common input rows */
#define DW_LOAD3(r, t0, t1, t2)                                                   \
        do {                                                                      \
            if (inside) {                                                         \
                t0 = V_LOAD((r) + c0); t1 = V_LOAD((r) + c0 + 1); t2 = V_LOAD((r) + c0 + 2); \
            } else if (em) {                                                      \
                t0 = V_LOAD_M(r, c0, em[0]); t1 = V_LOAD_M(r, c0 + 1, em[1]);     \
                t2 = V_LOAD_M(r, c0 + 2, em[2]);                                  \
            } else {                                                              \
                t0 = V_LOADRANGE(r, c0, iw); t1 = V_LOADRANGE(r, c0 + 1, iw);    \
                t2 = V_LOADRANGE(r, c0 + 2, iw);                                  \
            }                                                                     \
        } while (0)
        /* the edge vectors' masks depend only on the column: made once */
        enum { EDGE_MAX = 64 };
        V_MASK_T edge[EDGE_MAX][3];
        const int nv = (ow + V_W - 1) / V_W;
        if (nv <= EDGE_MAX)
            for (int v = 0; v < nv; v++)
                for (int k = 0; k < 3; k++) edge[v][k] = V_RANGEMASK(v * V_W - pl + k, iw);
        for (; oy < oh; oy += 2) {
            bool two = oy + 1 < oh;
            int iy = oy - pt;
            const float *rw[4];
            for (int k = 0; k < 4; k++)
                rw[k] = iy + k >= 0 && iy + k < ih ? a->in + (size_t)(iy + k) * iw : NULL;
            float *o0 = a->out + (size_t)oy * ow, *o1 = o0 + ow;
            for (int x = 0; x < ow; x += V_W) {
                int c0 = x - pl;
                bool inside = c0 >= 0 && c0 + V_W + 2 <= iw;
                const V_MASK_T *em = nv <= EDGE_MAX ? edge[x / V_W] : NULL;
                V_T a0 = bias, a1 = bias, t0, t1, t2;
                if (rw[0]) {
                    DW_LOAD3(rw[0], t0, t1, t2);
                    a0 = V_FMA(w00, t0, a0); a0 = V_FMA(w01, t1, a0); a0 = V_FMA(w02, t2, a0);
                }
                if (rw[1]) {
                    DW_LOAD3(rw[1], t0, t1, t2);
                    a0 = V_FMA(w10, t0, a0); a0 = V_FMA(w11, t1, a0); a0 = V_FMA(w12, t2, a0);
                    a1 = V_FMA(w00, t0, a1); a1 = V_FMA(w01, t1, a1); a1 = V_FMA(w02, t2, a1);
                }
                if (rw[2]) {
                    DW_LOAD3(rw[2], t0, t1, t2);
                    a0 = V_FMA(w20, t0, a0); a0 = V_FMA(w21, t1, a0); a0 = V_FMA(w22, t2, a0);
                    a1 = V_FMA(w10, t0, a1); a1 = V_FMA(w11, t1, a1); a1 = V_FMA(w12, t2, a1);
                }
                if (two && rw[3]) {
                    DW_LOAD3(rw[3], t0, t1, t2);
                    a1 = V_FMA(w20, t0, a1); a1 = V_FMA(w21, t1, a1); a1 = V_FMA(w22, t2, a1);
                }
                int n = ow - x < V_W ? ow - x : V_W;
                V_STORE_N(o0 + x, act_vec(a0, a->act, slope), n);
                if (two) V_STORE_N(o1 + x, act_vec(a1, a->act, slope), n);
            }
        }
#undef DW_LOAD3
    } else {
        /* stride 2, straight from the input rows: for output columns x..x+V_W
         * the taps read in[2x - pl + kx]; two loads of V_W cover kx = 0, 1
         * (even and odd lanes), two more shifted by 2 give kx = 2. Loads are
         * masked only where they cross the row ends. */
        enum { EDGE_MAX = 64 };
        V_MASK_T edge[EDGE_MAX][4];
        const int nv = (ow + V_W - 1) / V_W;
        if (nv <= EDGE_MAX) s2_edge_masks(edge, nv, pl, iw);
        for (; oy < oh; oy++) {
            float *o0 = a->out + (size_t)oy * ow;
            for (int x = 0; x < ow; x += V_W) {
                V_T acc = bias;
                int c0 = 2 * x - pl;
                bool inside = c0 >= 0 && c0 + 2 * V_W + 2 <= iw;
                const V_MASK_T *em = nv <= EDGE_MAX ? edge[x / V_W] : NULL;
                for (int ky = 0; ky < 3; ky++) {
                    int iy = oy * 2 - pt + ky;
                    if (iy < 0 || iy >= ih) continue;
                    const float *r = a->in + (size_t)iy * iw;
                    V_T l0, h0, l2, h2;
                    if (inside) {
                        l0 = V_LOAD(r + c0); h0 = V_LOAD(r + c0 + V_W);
                        l2 = V_LOAD(r + c0 + 2); h2 = V_LOAD(r + c0 + 2 + V_W);
                    } else if (em) {
                        l0 = V_LOAD_M(r, c0, em[0]); h0 = V_LOAD_M(r, c0 + V_W, em[1]);
                        l2 = V_LOAD_M(r, c0 + 2, em[2]); h2 = V_LOAD_M(r, c0 + 2 + V_W, em[3]);
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
}

/* Small planes, stride 1, "same" size (oh = ih, ow = iw), many channels:
 * flatten the plane; tap (ky, kx) of output p reads input p + (ky − pt)·iw +
 * (kx − pl), a shifted contiguous load masked where the tap leaves the
 * plane or wraps across a row. The masks are made once for all channels,
 * so each output vector is 9 masked loads and 9 FMAs. */
enum { DW_SMALL_VECS = 16 };

static void dw3x3_small(const struct fr_dw_args *a, int n_ch, const float *biases) {
    const int iw = a->iw, n = a->oh * a->ow;
    const int nv = (n + V_W - 1) / V_W;
    V_MASK_T mk[DW_SMALL_VECS][9];
    int off[9];
    for (int t = 0; t < 9; t++) off[t] = (t / 3 - a->pt) * iw + (t % 3 - a->pl);
    for (int v = 0; v < nv; v++)
        for (int t = 0; t < 9; t++) {
            int valid = 0;
            for (int l = 0; l < V_W; l++) {
                int p = v * V_W + l, iy = p / iw + t / 3 - a->pt, ix = p % iw + t % 3 - a->pl;
                valid |= (p < n && iy >= 0 && iy < a->ih && ix >= 0 && ix < iw) << l;
            }
            mk[v][t] = V_BITMASK(valid);
        }
    for (int c = 0; c < n_ch; c++) {
        const float *in = a->in + (size_t)c * n, *w = a->w + c * 9;
        float *out = a->out + (size_t)c * n;
        int ch = a->c + c;
        const V_T slope = V_SET1(a->act->act == FR_ACT_PRELU ? a->act->slope[ch] : a->act->alpha);
        const V_T bias = V_SET1(biases ? biases[ch] : 0.0f);
        for (int v = 0; v < nv; v++) {
            V_T acc = bias;
            for (int t = 0; t < 9; t++) acc = V_FMA(V_SET1(w[t]), V_LOAD_M(in, v * V_W + off[t], mk[v][t]), acc);
            int m = n - v * V_W < V_W ? n - v * V_W : V_W;
            V_STORE_N(out + v * V_W, act_vec(acc, a->act, slope), m);
        }
    }
}
