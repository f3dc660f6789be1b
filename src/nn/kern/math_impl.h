/* Vector exp, tanh and sigmoid for the ISA builds (the portable table uses
 * libm). exp: n = round(x·log2 e), r = x − n·ln 2 (two-part constant), a
 * degree-6 polynomial for e^r on |r| ≤ ln2/2, then 2^n put in the exponent
 * bits; inputs are clamped to the float range first. Relative error is a few
 * ulp, well inside what the models need; +inf above ln(FLT_MAX), NaN kept. tanh(x) = sign(x)·(1 − 2/(e^{2|x|}+1)),
 * whose absolute error stays below 2e-7 near 0. */

static inline V_T v_exp(V_T x0) {
    V_T x = V_MIN(V_MAX(x0, V_SET1(-87.33654f)), V_SET1(88.72283f));
    V_T n = V_ROUND(V_MUL(x, V_SET1(1.44269504088896341f)));
    V_T r = V_FMA(n, V_SET1(-0.693359375f), x);          /* ln2 high part */
    r = V_FMA(n, V_SET1(2.12194440e-4f), r);              /* − ln2 low part */
    V_T p = V_SET1(1.0f / 720.0f);
    p = V_FMA(p, r, V_SET1(1.0f / 120.0f));
    p = V_FMA(p, r, V_SET1(1.0f / 24.0f));
    p = V_FMA(p, r, V_SET1(1.0f / 6.0f));
    p = V_FMA(p, r, V_SET1(0.5f));
    p = V_FMA(p, r, V_SET1(1.0f));
    p = V_FMA(p, r, V_SET1(1.0f));
    /* 2^n as 2^(n/2) · 2^(n − n/2): n reaches 128 at the top of the range */
    V_T h = V_ROUND(V_MUL(n, V_SET1(0.5f)));
    V_T e = V_MUL(V_MUL(p, V_POW2(h)), V_POW2(V_SUB(n, h)));
    e = V_SEL_GT(x0, V_SET1(88.72283f), e, V_SET1(INFINITY));   /* overflow: +inf */
    return V_SEL_NAN(x0, e);                                    /* NaN stays NaN */
}

static inline V_T v_tanh(V_T x) {
    V_T ax = V_ABS(x);
    V_T e = v_exp(V_ADD(ax, ax));
    V_T t = V_SUB(V_SET1(1.0f), V_DIV(V_SET1(2.0f), V_ADD(e, V_SET1(1.0f))));
    return V_COPYSIGN(t, x);
}

static inline V_T v_sigmoid(V_T x) {
    return V_DIV(V_SET1(1.0f), V_ADD(V_SET1(1.0f), v_exp(V_SUB(V_ZERO(), x))));
}

static void vmath(int op, const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i < n; i += V_W) {
        int m = n - i < V_W ? (int)(n - i) : V_W;
        V_T v = V_LOAD_N(x + i, m);
        V_T r = op == FR_OP_EXP ? v_exp(v) : op == FR_OP_TANH ? v_tanh(v) : v_sigmoid(v);
        V_STORE_N(y + i, r, m);
    }
}
