/* Strided row gather with zero fill, vectorized for strides 1 and 2:
 * dst[i] = row[start + i·s], 0 where start + i·s is outside [0, len).
 * Loads are masked to the valid lanes, so nothing outside the row is read.
 * Used by im2col and the stride-2 depthwise prep. */

static void gather_row(const float *row, int len, int start, int s, int n, float *dst) {
    int i = 0;
    if (s == 1) {
        for (; i < n; i += V_W) {
            int x = start + i, m = n - i < V_W ? n - i : V_W;
            V_STORE_N(dst + i, V_LOADRANGE(row, x, len), m);
        }
    } else if (s == 2) {
        for (; i < n; i += V_W) {
            int x = start + 2 * i, m = n - i < V_W ? n - i : V_W;
            V_T lo = V_LOADRANGE(row, x, len), hi = V_LOADRANGE(row, x + V_W, len);
            V_STORE_N(dst + i, V_EVEN(lo, hi), m);
        }
    } else {
        gather_row_scalar(row, len, start, s, n, dst);
    }
}

/* e[i] = row[start + 2i], o[i] = row[start + 2i + 1] for i < n (0 outside
 * [0, len)): both halves of one pair of loads. */
static void gather_eo(const float *row, int len, int start, int n, float *e, float *o) {
    for (int i = 0; i < n; i += V_W) {
        int x = start + 2 * i, m = n - i < V_W ? n - i : V_W;
        V_T lo = V_LOADRANGE(row, x, len), hi = V_LOADRANGE(row, x + V_W, len);
        V_STORE_N(e + i, V_EVEN(lo, hi), m);
        V_STORE_N(o + i, V_ODD(lo, hi), m);
    }
}

/* Masks of the four loads of a stride-2 tap row (columns c, c + V_W, c + 2,
 * c + 2 + V_W with c = 2·v·V_W − pl) for output vectors v < nv. */
static void s2_edge_masks(V_MASK_T (*mk)[4], int nv, int pl, int iw) {
    for (int v = 0; v < nv; v++) {
        int c = 2 * v * V_W - pl;
        mk[v][0] = V_RANGEMASK(c, iw);
        mk[v][1] = V_RANGEMASK(c + V_W, iw);
        mk[v][2] = V_RANGEMASK(c + 2, iw);
        mk[v][3] = V_RANGEMASK(c + 2 + V_W, iw);
    }
}
