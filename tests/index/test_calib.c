/* Open-set calibration (src/index/calib.c): the tail fit against known
 * distributions (normal quantiles, an exact exponential tail), threshold and
 * FAR as inverses of each other, the FPIR arithmetic, the self-calibration's
 * shift and its guards, impostor pair scoring against a direct loop, the
 * decision table, the shipped table, and the index set's sampling. */
#include "harness.h"

#include "facerec/index.h"
#include "facerec/openset.h"

#include <math.h>

static uint64_t rng_next(uint64_t *s) { return fr_test_rng(s); }

static double rng_u01(uint64_t *s) { return ((double)(rng_next(s) >> 11) + 0.5) * 0x1p-53; }

static double rng_normal(uint64_t *s) {   /* Box-Muller */
    return sqrt(-2.0 * log(rng_u01(s))) * cos(6.283185307179586 * rng_u01(s));
}

/* Scores ~ N(0, 0.07^2), the rough shape of cosine impostor scores. */
static float *normal_scores(size_t n, uint64_t seed) {
    float *v = malloc(sizeof *v * n);
    for (size_t i = 0; i < n; i++) v[i] = (float)(0.07 * rng_normal(&seed));
    return v;
}

static void test_fit_normal(void **state) {
    (void)state;
    size_t n = 2000000;
    float *v = normal_scores(n, 1);
    struct fr_tail t;
    assert_int_equal(fr_tail_fit(v, n, "m", &t), 0);
    assert_string_equal(t.model_id, "m");
    /* upper quantiles of N(0, 0.07): z(1e-1) 1.2816, z(1e-2) 2.3263, z(1e-3) 3.0902, z(1e-4) 3.7190, z(1e-5) 4.2649 */
    static const double far[] = { 1e-1, 1e-2, 1e-3, 1e-4, 1e-5 };
    static const double z[] = { 1.2816, 2.3263, 3.0902, 3.7190, 4.2649 };
    for (int i = 0; i < 5; i++) {
        double got = (double)fr_tail_threshold(&t, far[i]), want = 0.07 * z[i];
        printf("FAR %.0e: fitted %.4f, normal %.4f\n", far[i], got, want);
        /* empirical down to 1e-4 (200 exceedances), the GPD below: a normal's
         * tail is light (xi -> 0-), so the fit stays within a few thousandths */
        assert_true(fabs(got - want) < (far[i] >= 1e-4 ? 0.004 : 0.012));
    }
    for (int i = 1; i < FR_TAIL_POINTS; i++) assert_true(t.thr[i] >= t.thr[i - 1]);
    free(v);
}

/* An exactly exponential tail above u: the GPD fit must find xi ~ 0 and
 * sigma ~ the scale, so its extrapolation far below the data is right. */
static void test_fit_exponential_tail(void **state) {
    (void)state;
    size_t n = 1000000;
    uint64_t s = 7;
    float *v = malloc(sizeof *v * n);
    for (size_t i = 0; i < n; i++) v[i] = (float)(0.1 + -0.02 * log(rng_u01(&s)));   /* P(v > 0.1 + y) = e^(-y/0.02) */
    struct fr_tail t;
    assert_int_equal(fr_tail_fit(v, n, "exp", &t), 0);
    printf("exponential: xi %.4f sigma %.5f\n", t.xi, t.sigma);
    assert_true(fabs(t.xi) < 0.1);
    assert_true(fabs(t.sigma - 0.02) < 0.003);
    /* P(v >= thr) = f  =>  thr = 0.1 + 0.02 ln(1/f) */
    for (double f = 1e-6; f <= 1.1e-2; f *= 10) {
        double want = 0.1 + 0.02 * log(1 / f);
        assert_true(fabs((double)fr_tail_threshold(&t, f) - want) < 0.02);
    }
    free(v);
}

static void test_threshold_far_inverse(void **state) {
    (void)state;
    size_t n = 200000;
    float *v = normal_scores(n, 3);
    struct fr_tail t;
    assert_int_equal(fr_tail_fit(v, n, "m", &t), 0);
    for (double f = 0.09; f > 2e-9; f /= 3) {
        float thr = fr_tail_threshold(&t, f);
        double back = fr_tail_far(&t, thr);
        assert_true(fabs(log10(back) - log10(f)) < 1e-3);
    }
    /* out of the grid: clamped */
    assert_true(fr_tail_threshold(&t, 0.5) == t.thr[0]);
    assert_true(fr_tail_threshold(&t, 1e-12) == t.thr[FR_TAIL_POINTS - 1]);
    assert_true(fr_tail_far(&t, -1.0f) == 0.1);
    free(v);
}

static void test_fpir_arithmetic(void **state) {
    (void)state;
    size_t n = 200000;
    float *v = normal_scores(n, 5);
    struct fr_tail t;
    assert_int_equal(fr_tail_fit(v, n, "m", &t), 0);
    float prev = -1;
    static const size_t sizes[] = { 1, 10, 100, 1000, 10000, 100000 };
    for (int i = 0; i < 6; i++) {
        float thr = fr_openset_threshold(&t, 0.01, sizes[i]);
        assert_true(thr > prev);   /* larger galleries need higher thresholds */
        prev = thr;
        /* the threshold gives back the target */
        assert_true(fabs(fr_openset_fpir(&t, thr, sizes[i]) - 0.01) < 1e-4);
    }
    /* f = 1 - (1 - FPIR)^(1/N): at N = 1000 and 1 %, 1.005e-5 */
    float a = fr_openset_threshold(&t, 0.01, 1000), b = fr_tail_threshold(&t, 1.00503e-5);
    assert_true(fabs((double)a - (double)b) < 1e-5);
    free(v);
}

static void test_adjust(void **state) {
    (void)state;
    size_t n = 2000000, m = 200000;
    float *v = normal_scores(n, 11);
    struct fr_tail ship, out;
    struct fr_tail_adjust_info info;
    assert_int_equal(fr_tail_fit(v, n, "m", &ship), 0);
    /* a population whose impostors score 0.05 higher */
    float *c = normal_scores(m, 12);
    for (size_t i = 0; i < m; i++) c[i] += 0.05f;
    assert_int_equal(fr_tail_adjust(&ship, c, m, &out, &info), 0);
    printf("adjust: ref FAR %.2e, collection %.4f, shipped %.4f, shift %+.4f\n", info.ref_far,
           (double)info.ref_collection, (double)info.ref_shipped, (double)info.shift);
    assert_true(info.adjusted);
    assert_true(fabs((double)info.shift - 0.05) < 0.01);
    assert_true(fabs(info.ref_far - (double)FR_CALIB_MIN_EXCEED / (double)m) < 1e-12);
    for (int i = 0; i < FR_TAIL_POINTS; i++) assert_true(out.thr[i] == ship.thr[i] + info.shift);
    /* the same population: no shift to speak of */
    float *same = normal_scores(m, 13);
    assert_int_equal(fr_tail_adjust(&ship, same, m, &out, &info), 0);
    assert_true(fabs((double)info.shift) < 0.01);
    /* too few pairs: the shipped tail unchanged */
    assert_int_equal(fr_tail_adjust(&ship, c, FR_CALIB_MIN_PAIRS - 1, &out, &info), 0);
    assert_false(info.adjusted);
    assert_true(memcmp(out.thr, ship.thr, sizeof ship.thr) == 0);
    /* a wildly different population: the shift is bounded */
    for (size_t i = 0; i < m; i++) c[i] += 0.5f;
    assert_int_equal(fr_tail_adjust(&ship, c, m, &out, &info), 0);
    assert_true(info.shift == FR_CALIB_MAX_SHIFT);
    /* bad input */
    assert_true(fr_tail_fit(v, 999, "m", &out) < 0);
    v[5] = NAN;
    assert_true(fr_tail_fit(v, n, "m", &out) < 0);
    free(v);
    free(c);
    free(same);
}

static void test_impostor_scores(void **state) {
    (void)state;
    enum { N = 300, D = 64 };
    uint64_t s = 21;
    float *x = malloc(sizeof *x * N * D);
    int64_t lab[N];
    for (int i = 0; i < N * D; i++) x[i] = (float)rng_normal(&s);
    for (int i = 0; i < N; i++) lab[i] = i / 3;     /* three rows per label */
    float *sc = NULL;
    size_t ns = 0;
    assert_int_equal(fr_impostor_scores(x, lab, N, D, SIZE_MAX, &sc, &ns), 0);
    assert_int_equal(ns, N * (N - 1) / 2 - N);      /* all pairs less the 3 same-label pairs of each label */
    size_t at = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            if (lab[i] == lab[j]) continue;
            double d = 0;
            for (int k = 0; k < D; k++) d += (double)x[i * D + k] * (double)x[j * D + k];
            assert_true(fabs((double)sc[at] - d) < 1e-3 * (1 + fabs(d)));
            at++;
        }
    fr_free(sc);
    /* a cap */
    assert_int_equal(fr_impostor_scores(x, lab, N, D, 1000, &sc, &ns), 0);
    assert_int_equal(ns, 1000);
    fr_free(sc);
    /* nothing to pair */
    assert_int_equal(fr_impostor_scores(x, lab, 1, D, SIZE_MAX, &sc, &ns), 0);
    assert_int_equal(ns, 0);
    assert_null(sc);
    free(x);
}

static void test_decide(void **state) {
    (void)state;
    const float t = 0.5f, m = 0.03f;
    assert_int_equal(fr_openset_decide(0.7f, 0.2f, t, m, 0, 1), FR_DECISION_MATCH);
    assert_int_equal(fr_openset_decide(0.7f, -INFINITY, t, m, 0, 1), FR_DECISION_MATCH);
    assert_int_equal(fr_openset_decide(0.49f, 0.2f, t, m, 0, 1), FR_DECISION_UNKNOWN);
    assert_int_equal(fr_openset_decide(-INFINITY, -INFINITY, t, m, 0, 1), FR_DECISION_UNKNOWN);
    assert_int_equal(fr_openset_decide(0.7f, 0.68f, t, m, 0, 1), FR_DECISION_AMBIGUOUS);
    assert_int_equal(fr_openset_decide(0.7f, 0.68f, t, 0, 0, 1), FR_DECISION_MATCH);   /* no margin */
    assert_int_equal(fr_openset_decide(0.9f, 0.1f, t, m, 2u, 1), FR_DECISION_LOW_QUALITY);
    assert_int_equal(fr_openset_decide(0.9f, 0.1f, t, m, 2u, 0), FR_DECISION_MATCH);   /* gate off */
    assert_string_equal(fr_decision_name(FR_DECISION_MATCH), "match");
    assert_string_equal(fr_decision_name(FR_DECISION_UNKNOWN), "unknown");
    assert_string_equal(fr_decision_name(FR_DECISION_AMBIGUOUS), "ambiguous");
    assert_string_equal(fr_decision_name(FR_DECISION_LOW_QUALITY), "low_quality");
}

/* The shipped tail of the face model: present, monotone, and in the range
 * LFW measured (docs/ACCURACY.md: FAR 1e-4 at ~0.41, 1e-5 at ~0.48). */
static void test_shipped(void **state) {
    (void)state;
    assert_null(fr_tail_for_model("no-such-model"));
    assert_null(fr_tail_for_model(""));
    assert_null(fr_tail_for_model(NULL));
    const struct fr_tail *t = fr_tail_for_model("87aacdfe57510db2");
    assert_non_null(t);
    assert_true(t->n_scores > 1e6);
    for (int i = 1; i < FR_TAIL_POINTS; i++) assert_true(t->thr[i] >= t->thr[i - 1]);
    assert_true(fabs((double)fr_tail_threshold(t, 1e-4) - 0.41) < 0.02);
    assert_true(fabs((double)fr_tail_threshold(t, 1e-5) - 0.48) < 0.02);
    /* a stranger against 1,559 faces at FPIR 1 %: about 0.5, far above the 1:1 0.28 */
    float thr = fr_openset_threshold(t, 0.01, 1559);
    assert_true(thr > 0.45f && thr < 0.55f);
}

static void test_set_sample(void **state) {
    (void)state;
    enum { D = 8, N = 500 };
    fr_index_set *set;
    assert_int_equal(fr_index_set_new(D, &set), 0);
    float v[D];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < D; k++) v[k] = (float)(i * D + k);
        assert_int_equal(fr_index_set_add(set, 1, "m", 1000 + i, i / 2, v), 0);
    }
    assert_int_equal(fr_index_set_count(set, 1, "m"), N);
    assert_int_equal(fr_index_set_count(set, 2, "m"), 0);
    float *vecs, *vecs2;
    int64_t *labs, *labs2;
    size_t n, n2;
    assert_int_equal(fr_index_set_sample(set, 1, "m", 100, 9, &vecs, &labs, &n), 0);
    assert_int_equal(n, 100);
    for (size_t i = 0; i < n; i++) {   /* each sampled row is a real row with its own label */
        int row = (int)(vecs[i * D] / D);
        assert_true(row >= 0 && row < N);
        assert_int_equal(labs[i], row / 2);
        for (int k = 0; k < D; k++) assert_true(vecs[i * D + k] == (float)(row * D + k));
        if (i) assert_true(vecs[i * D] > vecs[(i - 1) * D]);   /* storage order, no repeats */
    }
    assert_int_equal(fr_index_set_sample(set, 1, "m", 100, 9, &vecs2, &labs2, &n2), 0);
    assert_int_equal(n2, n);
    assert_memory_equal(vecs, vecs2, sizeof(float) * D * n);   /* seeded */
    fr_free(vecs);
    fr_free(labs);
    fr_free(vecs2);
    fr_free(labs2);
    assert_int_equal(fr_index_set_sample(set, 1, "m", 10000, 1, &vecs, &labs, &n), 0);
    assert_int_equal(n, N);   /* all of them */
    fr_free(vecs);
    fr_free(labs);
    assert_int_equal(fr_index_set_sample(set, 3, "m", 10, 1, &vecs, &labs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(vecs);
    fr_index_set_free(set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_normal),
        cmocka_unit_test(test_fit_exponential_tail),
        cmocka_unit_test(test_threshold_far_inverse),
        cmocka_unit_test(test_fpir_arithmetic),
        cmocka_unit_test(test_adjust),
        cmocka_unit_test(test_impostor_scores),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_set_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
