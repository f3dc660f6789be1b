/* Direct 3x3 convolution (group 1; stride 1 with any dilation, or stride 2):
 * no im2col.
 * conv3x3_prep() copies input rows into scratch with their zero padding made
 * real (stride 2: split into even and odd columns, as the depthwise kernel
 * does); conv3x3_run() then computes C3_OB output channels × 2 vectors of
 * columns per tile (C3_OB is 8 on AVX-512, 4 on AVX2), reading weights
 * packed as [M/C3_OB][C][9][C3_OB] (fr_kern_pack_c3). Bias and activation are applied in registers.
 * Included by kern_avx2.c / kern_avx512.c. */

/* A tile's accumulators (a0_j, a1_j for output channel j of the block), one
 * FMA step with input vectors t0, t1 and weights wt, and the store of the
 * tile (rows o0 + j < o0 + no; second vector at yr + off1, n1 lanes). */
#define C3_DECL(j) V_T a0_##j = V_ZERO(), a1_##j = V_ZERO();
#define C3_STEP(j) { V_T b_ = V_SET1(wt[j]); a0_##j = V_FMA(b_, t0, a0_##j); a1_##j = V_FMA(b_, t1, a1_##j); }
#define C3_OUT(j)                                                                                  \
    if (j < no) {                                                                                  \
        int o_ = o0 + j;                                                                           \
        V_T bv_ = V_SET1(a->bias ? a->bias[o_] : 0.0f);                                            \
        V_T sl_ = V_SET1(a->act->act == FR_ACT_PRELU ? a->act->slope[o_] : a->act->alpha);         \
        float *yr_ = a->out + ((size_t)o_ * a->oh + oy) * ow + x;                                  \
        V_STORE_N(yr_, act_vec(V_ADD(a0_##j, bv_), a->act, sl_), n0);                              \
        if (n1 > 0) V_STORE_N(yr_ + off1, act_vec(V_ADD(a1_##j, bv_), a->act, sl_), n1);           \
    }

static size_t c3_pw(int ow, int d) { return round_up((size_t)ow + 2 * (size_t)d, V_W) + 2 * V_W; }

static size_t conv3x3_scratch(const struct fr_c3_args *a) {
    size_t rs = c3_pw(a->ow, a->d) * (a->s == 2 ? 2 : 1);
    return rs * ((size_t)a->c * a->ih + 1) + 64;
}

/* Stride 2 with few input channels (a network's stem): read the input rows
 * directly; the even/odd split is done in registers (no prep pass). */
static bool c3_direct(const struct fr_c3_args *a) { return a->s == 2 && a->c <= 4; }

static void conv3x3_s2_direct(const struct fr_c3_args *a, int ob0, int ob1, int y0, int y1) {
    const int ow = a->ow, iw = a->iw, pl = a->pl;
    for (int ob = ob0; ob < ob1; ob++) {
        const float *wb = a->wp + (size_t)ob * a->c * 9 * C3_OB;
        int o0 = ob * C3_OB, no = a->m - o0 < C3_OB ? a->m - o0 : C3_OB;
        for (int oy = y0; oy < y1; oy++) {
            for (int x = 0; x < ow; x += 2 * V_W) {
                const int c0 = 2 * x - pl;        /* input column of tap 0, output x */
                const bool inside = c0 >= 0 && c0 + 4 * V_W + 2 <= iw;
                V_MASK_T mk[8];
                if (!inside)
                    for (int k = 0; k < 8; k++) mk[k] = V_RANGEMASK(c0 + (k & 3) / 2 * 2 + (k & 1) * V_W + (k >> 2) * 2 * V_W, iw);
                C3_REP(C3_DECL)
                for (int c = 0; c < a->c; c++) {
                    const float *wc = wb + (size_t)c * 9 * C3_OB;
                    for (int ky = 0; ky < 3; ky++) {
                        int iy = oy * 2 - a->pt + ky;
                        if (iy < 0 || iy >= a->ih) continue;
                        const float *r = a->in + ((size_t)c * a->ih + (size_t)iy) * iw;
                        V_T l[8];     /* k: bit0 high half, bit1 shifted by 2, bit2 second vector */
                        if (inside)
                            for (int k = 0; k < 8; k++) l[k] = V_LOAD(r + c0 + (k & 3) / 2 * 2 + (k & 1) * V_W + (k >> 2) * 2 * V_W);
                        else
                            for (int k = 0; k < 8; k++) l[k] = V_LOAD_M(r, c0 + (k & 3) / 2 * 2 + (k & 1) * V_W + (k >> 2) * 2 * V_W, mk[k]);
                        const float *wk = wc + ky * 3 * C3_OB;
                        for (int kx = 0; kx < 3; kx++) {
                            V_T t0, t1;
                            if (kx == 0) { t0 = V_EVEN(l[0], l[1]); t1 = V_EVEN(l[4], l[5]); }
                            else if (kx == 1) { t0 = V_ODD(l[0], l[1]); t1 = V_ODD(l[4], l[5]); }
                            else { t0 = V_EVEN(l[2], l[3]); t1 = V_EVEN(l[6], l[7]); }
                            const float *wt = wk + kx * C3_OB;
                            C3_REP(C3_STEP)
                        }
                    }
                }
                int n0 = ow - x < V_W ? ow - x : V_W, n1 = ow - x - V_W;
                if (n1 > V_W) n1 = V_W;
                const size_t off1 = V_W;
                C3_REP(C3_OUT)
            }
        }
    }
}

static void conv3x3_prep(const struct fr_c3_args *a, int c0, int c1) {
    if (c3_direct(a)) return;
    const size_t pw = c3_pw(a->ow, a->d), rs = pw * (a->s == 2 ? 2 : 1);
    float *zero = a->scratch;
    if (c0 == 0) memset(zero, 0, rs * sizeof(float));
    for (int c = c0; c < c1; c++)
        for (int y = 0; y < a->ih; y++) {
            const float *src = a->in + ((size_t)c * a->ih + y) * a->iw;
            float *dst = a->scratch + rs * (1 + (size_t)c * a->ih + (size_t)y);
            if (a->s == 1) {
                gather_row(src, a->iw, -a->pl, 1, (int)pw, dst);
            } else {
                gather_eo(src, a->iw, -a->pl, (int)pw, dst, dst + pw);
            }
        }
}

/* One tile of C3_OB output channels × 2 vectors at output row oy, column x.
 * wide: the vectors are columns x.. and x+V_W.. of row oy. Paired: both are
 * columns x.. (at most V_W of them), of row oy and of row oy + 1 (when
 * second_row), so a short remainder of two rows fills one tile. */
static inline void c3_tile(const struct fr_c3_args *a, const float *wb, int o0, int no, int oy, int x, bool paired,
                           bool second_row) {
    const size_t pw = c3_pw(a->ow, a->d), rs = pw * (a->s == 2 ? 2 : 1);
    const float *zero = a->scratch;
    const int ow = a->ow, s = a->s, iy0 = oy * s - a->pt;
    C3_REP(C3_DECL)
    for (int c = 0; c < a->c; c++) {
        const float *wc = wb + (size_t)c * 9 * C3_OB;
        const float *plane = a->scratch + rs * (1 + (size_t)c * a->ih);
        for (int ky = 0; ky < 3; ky++) {
            int iy = iy0 + ky * a->d, iy1 = iy + s;
            const float *r = iy < 0 || iy >= a->ih ? zero : plane + rs * (size_t)iy;
            const float *r1 = !paired ? r + V_W
                            : !second_row || iy1 < 0 || iy1 >= a->ih ? zero : plane + rs * (size_t)iy1;
            const float *wk = wc + ky * 3 * C3_OB;
            for (int kx = 0; kx < 3; kx++) {
                size_t off = s == 1 ? (size_t)(x + kx * a->d) : kx == 1 ? pw + (size_t)x : (size_t)(x + kx / 2);
                V_T t0 = V_LOAD(r + off), t1 = V_LOAD(r1 + off);
                const float *wt = wk + kx * C3_OB;
                C3_REP(C3_STEP)
            }
        }
    }
    int n0 = ow - x < V_W ? ow - x : V_W, n1 = paired ? (second_row ? n0 : 0) : ow - x - V_W;
    if (n1 > V_W) n1 = V_W;
    const size_t off1 = paired ? (size_t)ow : V_W;     /* where the second vector goes */
    C3_REP(C3_OUT)
}

static void conv3x3_run(const struct fr_c3_args *a, int ob0, int ob1, int y0, int y1) {
    if (c3_direct(a)) {
        conv3x3_s2_direct(a, ob0, ob1, y0, y1);
        return;
    }
    const int ow = a->ow;
    /* full tiles of 2·V_W columns; a remainder of at most V_W columns is done
     * for two rows at once (all of a row, when the row is that short) */
    int xfull = ow / (2 * V_W) * (2 * V_W);
    if (ow - xfull > V_W) xfull = ow;                  /* remainder fills most of a wide tile */
    for (int ob = ob0; ob < ob1; ob++) {
        const float *wb = a->wp + (size_t)ob * a->c * 9 * C3_OB;
        int o0 = ob * C3_OB, no = a->m - o0 < C3_OB ? a->m - o0 : C3_OB;
        for (int oy = y0; oy < y1; oy += 2) {
            bool two = oy + 1 < y1;
            for (int r = 0; r < (two ? 2 : 1); r++)
                for (int x = 0; x < xfull; x += 2 * V_W) c3_tile(a, wb, o0, no, oy + r, x, false, false);
            if (xfull < ow) c3_tile(a, wb, o0, no, oy, xfull, true, two);
        }
    }
}

#undef C3_DECL
#undef C3_STEP
#undef C3_OUT
