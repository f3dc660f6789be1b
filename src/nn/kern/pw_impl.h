/* The conv GEMM microkernel: Y[o][p] = act(bias[o] + Σk W[o][k]·X[k][p]) for a
 * block of columns, with W packed at load time as [M/MR][K][MR] (zero rows
 * past M). A tile is MR output channels × 2 vectors of columns held in
 * registers for the whole K loop: per k, two loads of X, MR broadcasts of W
 * and 2·MR FMAs. Bias and activation are applied before the one store.
 * Included by kern_avx2.c / kern_avx512.c with the V_* layer and PW_MR. */

/* The accumulators are named variables made by PW_REP (one per row of the
 * tile), not an array: GCC keeps arrays of vectors in memory here. */
static inline void pw_tile(const float *restrict w, const float *restrict x, size_t ldx, float *restrict y,
                           size_t ldy, int rows, int k_n, int cols, const float *bias, int o0,
                           const struct fr_kern_act *a) {
#define PW_DECL(r) V_T a0_##r = V_ZERO(), a1_##r = V_ZERO();
#define PW_STEP(r) { V_T b_ = V_SET1(wk[r]); a0_##r = V_FMA(b_, x0, a0_##r); a1_##r = V_FMA(b_, x1, a1_##r); }
    PW_REP(PW_DECL)
    int n0 = cols < V_W ? cols : V_W, n1 = cols - n0;
    if (cols == 2 * V_W) {
        for (int k = 0; k < k_n; k++) {
            V_T x0 = V_LOAD(x + (size_t)k * ldx), x1 = V_LOAD(x + (size_t)k * ldx + V_W);
            const float *wk = w + (size_t)k * PW_MR;
            PW_REP(PW_STEP)
        }
    } else {
        for (int k = 0; k < k_n; k++) {
            V_T x0 = V_LOAD_N(x + (size_t)k * ldx, n0);
            V_T x1 = n1 > 0 ? V_LOAD_N(x + (size_t)k * ldx + V_W, n1) : V_ZERO();
            const float *wk = w + (size_t)k * PW_MR;
            PW_REP(PW_STEP)
        }
    }
#define PW_OUT(r)                                                                              \
    if (r < rows) {                                                                            \
        int o_ = o0 + r;                                                                       \
        V_T bv_ = V_SET1(bias ? bias[o_] : 0.0f);                                              \
        V_T sl_ = V_SET1(a->act == FR_ACT_PRELU ? a->slope[o_] : a->alpha);                    \
        float *yr_ = y + (size_t)r * ldy;                                                      \
        V_STORE_N(yr_, act_vec(V_ADD(a0_##r, bv_), a, sl_), n0);                               \
        if (n1 > 0) V_STORE_N(yr_ + V_W, act_vec(V_ADD(a1_##r, bv_), a, sl_), n1);             \
    }
    PW_REP(PW_OUT)
#undef PW_DECL
#undef PW_STEP
#undef PW_OUT
}

/* Narrow columns (cols <= V_W): one vector of X, 2·PW_MR output rows (two
 * weight blocks) per tile, so the second set of accumulators is not idle. */
static inline void pw_tile_narrow(const float *restrict w, const float *restrict x, size_t ldx, float *restrict y,
                                  size_t ldy, int rows, int k_n, int cols, const float *bias, int o0,
                                  const struct fr_kern_act *a) {
#define PW_DECL(r) V_T a0_##r = V_ZERO(), a1_##r = V_ZERO();
#define PW_STEP(r) { a0_##r = V_FMA(V_SET1(wk[r]), x0, a0_##r); a1_##r = V_FMA(V_SET1(wk2[r]), x0, a1_##r); }
    PW_REP(PW_DECL)
    const float *w2 = w + (size_t)k_n * PW_MR;          /* the next block */
    for (int k = 0; k < k_n; k++) {
        V_T x0 = V_LOAD_N(x + (size_t)k * ldx, cols);
        const float *wk = w + (size_t)k * PW_MR, *wk2 = w2 + (size_t)k * PW_MR;
        PW_REP(PW_STEP)
    }
#define PW_OUT(r)                                                                              \
    for (int h_ = 0; h_ < 2; h_++) {                                                           \
        int rr_ = r + h_ * PW_MR;                                                              \
        if (rr_ >= rows) break;                                                                \
        int o_ = o0 + rr_;                                                                     \
        V_T bv_ = V_SET1(bias ? bias[o_] : 0.0f);                                              \
        V_T sl_ = V_SET1(a->act == FR_ACT_PRELU ? a->slope[o_] : a->alpha);                    \
        V_STORE_N(y + (size_t)rr_ * ldy, act_vec(V_ADD(h_ ? a1_##r : a0_##r, bv_), a, sl_), cols); \
    }
    PW_REP(PW_OUT)
#undef PW_DECL
#undef PW_STEP
#undef PW_OUT
}

/* Columns [0, cols) of Y (m × ldy) from X (k × ldx); o_base: channel index of
 * row 0 (for bias / PRelu slope). */
static void pw_gemm(const float *wp, const float *x, size_t ldx, float *y, size_t ldy, int m, int k, int cols,
                    const float *bias, int o_base, const struct fr_kern_act *a) {
    if (cols <= V_W) {
        int ob = 0;
        for (; ob + PW_MR < m; ob += 2 * PW_MR) {      /* two blocks exist (the 2nd may be partial) */
            int rows = m - ob < 2 * PW_MR ? m - ob : 2 * PW_MR;
            pw_tile_narrow(wp + (size_t)ob * k, x, ldx, y + (size_t)ob * ldy, ldy, rows, k, cols, bias, o_base + ob, a);
        }
        if (ob < m)
            pw_tile(wp + (size_t)ob * k, x, ldx, y + (size_t)ob * ldy, ldy, m - ob, k, cols, bias, o_base + ob, a);
        return;
    }
    for (int p = 0; p < cols; p += 2 * V_W) {
        int c = cols - p < 2 * V_W ? cols - p : 2 * V_W;
        for (int ob = 0; ob < m; ob += PW_MR) {
            int rows = m - ob < PW_MR ? m - ob : PW_MR;
            pw_tile(wp + (size_t)ob * k, x + p, ldx, y + (size_t)ob * ldy + p, ldy, rows, k, c, bias, o_base + ob, a);
        }
    }
}
