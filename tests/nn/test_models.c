/* The nine face models against ONNX Runtime: outputs on the deterministic
 * input of fr_nn_fill_pattern() equal the golden files made by
 * tools/ort_golden.js within atol 1e-4 + rtol 1e-3, with the fast kernels of
 * every ISA this CPU has, at 1 and 2 threads; and two threads running one
 * model at once get the same answers. */
#include "harness.h"

#include "facerec/nn.h"

#include <math.h>
#include <pthread.h>

static const char *const models[] = { "fr_detect", "fr_landmark", "fr_feature", "fr_liveness", "fr_pose",
                                       "fr_eye", "fr_age", "fr_gender", "fr_expression" };

static void input_range(const char *model, float *lo, float *hi) {
    *lo = -1.0f;
    *hi = 1.0f;
    if (strstr(model, "fr_liveness")) { *lo = 0.0f; *hi = 255.0f; }
    else if (strstr(model, "fr_landmark") || strstr(model, "fr_eye")) { *lo = 0.0f; *hi = 1.0f; }
    else if (strstr(model, "fr_pose") || strstr(model, "fr_expression")) { *lo = -2.0f; *hi = 2.0f; }
}

struct loaded {
    struct fr_nn_model *m;
    struct fr_tensor in[4];
    int n_in;
};

static int load(const char *name, struct loaded *l) {
    char path[512];
    memset(l, 0, sizeof *l);
    if (!fr_test_model_path(name, path, sizeof path)) return -1;
    int rc = fr_nn_model_load(path, NULL, &l->m);
    if (rc < 0) fprintf(stderr, "%s: %s: %s\n", name, fr_strerror(rc), fr_err_detail());
    assert_int_equal(rc, 0);
    l->n_in = fr_nn_model_n_inputs(l->m);
    assert_true(l->n_in >= 1 && l->n_in <= 4);
    float lo, hi;
    input_range(name, &lo, &hi);
    for (int i = 0; i < l->n_in; i++) {
        fr_nn_model_input(l->m, i, &l->in[i]);
        l->in[i].data = fr_malloc_aligned(fr_tensor_bytes(&l->in[i]));
        assert_non_null(l->in[i].data);
        fr_nn_fill_pattern(&l->in[i], 1u + (uint32_t)i, lo, hi);
    }
    return 0;
}

static void unload(struct loaded *l) {
    for (int i = 0; i < l->n_in; i++) fr_free(l->in[i].data);
    fr_nn_model_unref(l->m);
}

/* worst |got - want| - (atol + rtol·|want|): <= 0 means within tolerance */
static double check_output(const char *model, const char *name, const struct fr_tensor *got) {
    char path[512], safe[256];
    snprintf(safe, sizeof safe, "%s", name);
    for (char *c = safe; *c; c++)
        if (*c == '/' || *c == '\\' || *c == ':') *c = '_';
    snprintf(path, sizeof path, "tests/fixtures/golden/%s/%s.npy", model, safe);
    struct fr_tensor want;
    int rc = fr_npy_load(path, &want);
    if (rc < 0) fprintf(stderr, "%s: %s\n", path, fr_err_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(fr_tensor_numel(&want), fr_tensor_numel(got));
    const float *g = got->data, *w = want.data;
    double worst = -1, worst_abs = 0;
    for (int64_t i = 0; i < fr_tensor_numel(got); i++) {
        double err = fabs((double)g[i] - (double)w[i]);
        double excess = err - (1e-4 + 1e-3 * fabs((double)w[i]));
        if (isnan(err)) excess = INFINITY;
        if (excess > worst) worst = excess;
        if (err > worst_abs) worst_abs = err;
    }
    if (worst > 0) fprintf(stderr, "%s/%s: worst abs error %.3g over tolerance\n", model, name, worst_abs);
    fr_free(want.data);
    return worst;
}

static void parity_with(int isa, int threads) {
    fr_cpu_set_isa(isa);
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        struct loaded l;
        if (load(models[k], &l) < 0) { fr_cpu_set_isa(FR_ISA_AVX512); skip(); }
        struct fr_nn_session *s;
        struct fr_tensor out[16];
        assert_int_equal(fr_nn_session_new(l.m, threads, &s), 0);
    fr_nn_session_set_parallel_min(s, 0);
        assert_int_equal(fr_nn_session_run(s, l.in, out), 0);
        for (int o = 0; o < fr_nn_model_n_outputs(l.m); o++)
            assert_true(check_output(models[k], fr_nn_model_output(l.m, o, NULL), &out[o]) <= 0);
        fr_nn_session_free(s);
        unload(&l);
    }
    fr_cpu_set_isa(FR_ISA_AVX512);   /* back to the best the CPU has */
}

static void test_parity_best_isa(void **state) { (void)state; parity_with(FR_ISA_AVX512, 1); }
static void test_parity_two_threads(void **state) { (void)state; parity_with(FR_ISA_AVX512, 2); }
static void test_parity_avx2(void **state) { (void)state; parity_with(FR_ISA_AVX2, 1); }
static void test_parity_portable(void **state) { (void)state; parity_with(FR_ISA_REF, 1); }

/* Two threads, one model, each with its own session: same answers as a
 * single-threaded reference, over many runs. */
struct worker {
    struct fr_nn_model *m;
    const struct fr_tensor *in;
    const float *ref;
    int64_t n;
    int ok;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct fr_nn_session *s;
    struct fr_tensor out[16];
    w->ok = 0;
    if (fr_nn_session_new(w->m, 1, &s) < 0) return NULL;
    int ok = 1;
    for (int it = 0; it < 20 && ok; it++) {
        if (fr_nn_session_run(s, w->in, out) < 0) ok = 0;
        else if (memcmp(out[0].data, w->ref, (size_t)w->n * sizeof(float))) ok = 0;
    }
    fr_nn_session_free(s);
    w->ok = ok;
    return NULL;
}

static void test_concurrent_sessions(void **state) {
    (void)state;
    struct loaded l;
    if (load("fr_feature", &l) < 0) skip();
    struct fr_nn_session *s;
    struct fr_tensor out[4];
    assert_int_equal(fr_nn_session_new(l.m, 1, &s), 0);
    fr_nn_session_set_parallel_min(s, 0);
    assert_int_equal(fr_nn_session_run(s, l.in, out), 0);
    int64_t n = fr_tensor_numel(&out[0]);
    float *ref = malloc((size_t)n * sizeof(float));
    assert_non_null(ref);
    memcpy(ref, out[0].data, (size_t)n * sizeof(float));
    fr_nn_session_free(s);
    struct worker w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (struct worker){ l.m, l.in, ref, n, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_true(w[0].ok && w[1].ok);
    free(ref);
    unload(&l);
}

/* Wrong input shapes are refused, not run. */
static void test_wrong_input(void **state) {
    (void)state;
    struct loaded l;
    if (load("fr_landmark", &l) < 0) skip();
    struct fr_nn_session *s;
    struct fr_tensor out[4], bad = l.in[0];
    assert_int_equal(fr_nn_session_new(l.m, 1, &s), 0);
    fr_nn_session_set_parallel_min(s, 0);
    bad.dims[2] = 63;
    assert_int_equal(fr_nn_session_run(s, &bad, out), -FR_E_INVALID_ARGUMENT);
    bad = l.in[0];
    bad.dtype = FR_DTYPE_INT64;
    assert_int_equal(fr_nn_session_run(s, &bad, out), -FR_E_INVALID_ARGUMENT);
    fr_nn_session_free(s);
    unload(&l);
}

/* A run computes with denormals flushed and hands the caller's thread back
 * its own floating-point mode, whatever that was, even when the run fails. */
static void test_fp_mode_restored(void **state) {
    (void)state;
    struct loaded l;
    if (load("fr_landmark", &l) < 0) skip();
    struct fr_nn_session *s;
    struct fr_tensor out[4];
    assert_int_equal(fr_nn_session_new(l.m, 2, &s), 0);
    unsigned base = fr_fp_flush_denormals();
    fr_fp_restore(base);
    static const unsigned modes[] = { 0x1f80u, 0x1f80u | 0x8040u, 0x1f80u | 0x8000u };   /* default, FTZ+DAZ, FTZ */
    for (int i = 0; i < 3; i++) {
        fr_fp_restore(modes[i]);
        assert_int_equal(fr_nn_session_run(s, l.in, out), 0);
        unsigned now = fr_fp_flush_denormals();
        fr_fp_restore(now);
        assert_int_equal(now, modes[i]);
        struct fr_tensor bad = l.in[0];
        bad.dims[2] = 1;
        assert_int_equal(fr_nn_session_run(s, &bad, out), -FR_E_INVALID_ARGUMENT);
        now = fr_fp_flush_denormals();
        fr_fp_restore(now);
        assert_int_equal(now, modes[i]);
    }
    fr_fp_restore(base);
    fr_nn_session_free(s);
    unload(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp_mode_restored),
        cmocka_unit_test(test_parity_best_isa),
        cmocka_unit_test(test_parity_two_threads),
        cmocka_unit_test(test_parity_avx2),
        cmocka_unit_test(test_parity_portable),
        cmocka_unit_test(test_concurrent_sessions),
        cmocka_unit_test(test_wrong_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
