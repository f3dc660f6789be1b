/* The conv GEMM microkernel: Y[o][p] = act(bias[o] + Σk W[o][k]·X[k][p]) for a
 * block of columns, with W packed at load time as [M/MR][K][MR] (zero rows
 * past M). A tile is MR output channels × 2 vectors of columns held in
 * registers for the whole K loop: per k, two loads of X, MR broadcasts of W
 * and 2·MR FMAs. Bias and activation are applied before the one store.
 * Included by kern_avx2.c / kern_avx512.c with the V_* layer and PW_MR. */

static inline void pw_tile(const float *restrict w, const float *restrict x, size_t ldx, float *restrict y,
                           size_t ldy, int rows, int k_n, int cols, const float *bias, int o0,
                           const struct fr_kern_act *a) {
    V_T acc0[PW_MR], acc1[PW_MR];
    for (int r = 0; r < PW_MR; r++) acc0[r] = acc1[r] = V_ZERO();
    int n0 = cols < V_W ? cols : V_W, n1 = cols - n0;
    if (cols == 2 * V_W) {
        for (int k = 0; k < k_n; k++) {
            V_T x0 = V_LOAD(x + (size_t)k * ldx), x1 = V_LOAD(x + (size_t)k * ldx + V_W);
            const float *wk = w + (size_t)k * PW_MR;
            for (int r = 0; r < PW_MR; r++) {
                V_T b = V_SET1(wk[r]);
                acc0[r] = V_FMA(b, x0, acc0[r]);
                acc1[r] = V_FMA(b, x1, acc1[r]);
            }
        }
    } else {
        for (int k = 0; k < k_n; k++) {
            V_T x0 = V_LOAD_N(x + (size_t)k * ldx, n0);
            V_T x1 = n1 > 0 ? V_LOAD_N(x + (size_t)k * ldx + V_W, n1) : V_ZERO();
            const float *wk = w + (size_t)k * PW_MR;
            for (int r = 0; r < PW_MR; r++) {
                V_T b = V_SET1(wk[r]);
                acc0[r] = V_FMA(b, x0, acc0[r]);
                acc1[r] = V_FMA(b, x1, acc1[r]);
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        int o = o0 + r;
        V_T bv = V_SET1(bias ? bias[o] : 0.0f);
        V_T sl = V_SET1(a->act == FR_ACT_PRELU ? a->slope[o] : a->alpha);
        float *yr = y + (size_t)r * ldy;
        V_STORE_N(yr, act_vec(V_ADD(acc0[r], bv), a, sl), n0);
        if (n1 > 0) V_STORE_N(yr + V_W, act_vec(V_ADD(acc1[r], bv), a, sl), n1);
    }
}

/* Columns [0, cols) of Y (m × ldy) from X (k × ldx); o_base: channel index of
 * row 0 (for bias / PRelu slope). */
static void pw_gemm(const float *wp, const float *x, size_t ldx, float *y, size_t ldy, int m, int k, int cols,
                    const float *bias, int o_base, const struct fr_kern_act *a) {
    for (int p = 0; p < cols; p += 2 * V_W) {
        int c = cols - p < 2 * V_W ? cols - p : 2 * V_W;
        for (int ob = 0; ob < m; ob += PW_MR) {
            int rows = m - ob < PW_MR ? m - ob : PW_MR;
            pw_tile(wp + (size_t)ob * k, x + p, ldx, y + (size_t)ob * ldy + p, ldy, rows, k, c, bias, o_base + ob, a);
        }
    }
}
