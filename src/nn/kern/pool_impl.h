/* 2-D pooling with stride 2 and kernel width 2 or 3 (dilation 1), in
 * registers: for output columns x..x+V_W the taps read in[2x - pl + kx];
 * two loads of V_W give kx = 0 and 1 as even and odd lanes, two more shifted
 * by 2 give kx = 2. Lanes outside the row read -inf (max) or 0 (average),
 * with masks made once per plane. Falls back to pool2d otherwise.
 * Included by kern_avx2.c / kern_avx512.c after kern_impl.h's pool2d. */

static void pool2d_vec(const struct fr_pool2d_args *a) {
    const int iw = a->iw, ow = a->ow, kw = a->kw, pl = a->pl, nv = (ow + V_W - 1) / V_W;
    enum { EDGE_MAX = 64 };
    if (a->sw != 2 || a->dw != 1 || (kw != 2 && kw != 3) || nv > EDGE_MAX) {
        pool2d(a);
        return;
    }
    V_MASK_T mk[EDGE_MAX][4];
    s2_edge_masks(mk, nv, pl, iw);
    float *ccol = a->scratch + ow + 8;
    if (!a->is_max)
        for (int ox = 0; ox < ow; ox++) {
            int c = 0;
            for (int kx = 0; kx < kw; kx++) {
                int ix = ox * 2 - pl + kx;
                c += a->include_pad ? ix >= -pl && ix < iw + a->pr : ix >= 0 && ix < iw;
            }
            ccol[ox] = (float)c;
        }
    const V_T fill = a->is_max ? V_SET1(-INFINITY) : V_ZERO();
    for (int oy = 0; oy < a->oh; oy++) {
        int rows = 0;
        for (int ky = 0; ky < a->kh; ky++) {
            int iy = oy * a->sh - a->pt + ky * a->dh;
            if (a->include_pad) rows += iy >= -a->pt && iy < a->ih + a->pb;
            else rows += iy >= 0 && iy < a->ih;
        }
        float *out = a->out + (size_t)oy * ow;
        for (int x = 0; x < ow; x += V_W) {
            const V_MASK_T *m = mk[x / V_W];
            int c0 = 2 * x - pl;
            V_T acc = fill;
            for (int ky = 0; ky < a->kh; ky++) {
                int iy = oy * a->sh - a->pt + ky * a->dh;
                if (iy < 0 || iy >= a->ih) continue;
                const float *r = a->in + (size_t)iy * iw;
                V_T l0 = V_LOAD_MF(r, c0, m[0], fill), h0 = V_LOAD_MF(r, c0 + V_W, m[1], fill);
                V_T e = V_EVEN(l0, h0), o = V_ODD(l0, h0);
                if (a->is_max) {
                    acc = V_MAX(acc, V_MAX(e, o));
                    if (kw == 3) {
                        V_T l2 = V_LOAD_MF(r, c0 + 2, m[2], fill), h2 = V_LOAD_MF(r, c0 + 2 + V_W, m[3], fill);
                        acc = V_MAX(acc, V_EVEN(l2, h2));
                    }
                } else {
                    acc = V_ADD(acc, V_ADD(e, o));
                    if (kw == 3) {
                        V_T l2 = V_LOAD_MF(r, c0 + 2, m[2], fill), h2 = V_LOAD_MF(r, c0 + 2 + V_W, m[3], fill);
                        acc = V_ADD(acc, V_EVEN(l2, h2));
                    }
                }
            }
            int n = ow - x < V_W ? ow - x : V_W;
            if (!a->is_max) {
                /* divide by rows × valid columns */
                V_T cnt = V_MUL(V_SET1((float)rows), V_LOAD_N(ccol + x, n));
                acc = V_DIV(acc, V_MAX(cnt, V_SET1(1.0f)));
            }
            V_STORE_N(out + x, acc, n);
        }
    }
}
