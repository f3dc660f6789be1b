/* Base library: the error table (every code has a name, type, status and
 * message; names are what clients parse, so they are printed and pinned),
 * the counted allocator with failure injection, the thread pool. */
#include "harness.h"

#include "facerec/base.h"
#include "base/pool.h"

#include <stdatomic.h>

static void test_error_table(void **state) {
    (void)state;
    for (int e = 0; e < FR_E_COUNT; e++) {
        printf("%2d %-24s %3d %-24s %s\n", e, fr_err_name(e), fr_err_http_status(e), fr_err_type(e), fr_strerror(e));
        assert_non_null(fr_strerror(e));
        assert_true(strlen(fr_err_name(e)) > 0);
        assert_string_equal(fr_err_name(e), fr_err_name(-e));
        int st = fr_err_http_status(e);
        assert_true(st == 200 || (st >= 400 && st <= 599));
    }
    /* out of range never crashes and never returns NULL */
    assert_string_equal(fr_err_name(9999), "INTERNAL_ERROR");
    assert_non_null(fr_strerror(-9999));
    /* names clients depend on, and their statuses */
    assert_string_equal(fr_err_name(FR_E_NO_FACE_IN_PHOTO), "NO_FACE_IN_PHOTO");
    assert_int_equal(fr_err_http_status(FR_E_RATE_LIMITED), 429);
    assert_int_equal(fr_err_http_status(FR_E_UNAUTHORIZED), 401);
    assert_int_equal(fr_err_http_status(FR_E_FILE_TOO_LARGE), 413);
    /* the enum is signed: -FR_E_x compares as a negative int */
    int rc = -FR_E_NOMEM;
    assert_true(rc < 0);
    assert_true(-FR_E_NOMEM < 0);
}

static void test_err_detail(void **state) {
    (void)state;
    fr_err_clear();
    assert_string_equal(fr_err_detail(), "");
    int rc = fr_err_set(FR_E_IO, "cannot open %s", "x.onnx");
    assert_int_equal(rc, -FR_E_IO);
    assert_string_equal(fr_err_detail(), "cannot open x.onnx");
}

static void test_alloc_counts_and_fails(void **state) {
    (void)state;
    size_t before = fr_mem_used();
    void *p = fr_malloc(1000);
    assert_non_null(p);
    assert_true(fr_mem_used() >= before + 1000);
    p = fr_realloc(p, 5000);
    assert_non_null(p);
    void *q = fr_malloc_aligned(100);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % 64, 0);
    fr_free(p);
    fr_free(q);
    fr_free(NULL);
    assert_int_equal(fr_mem_used(), before);
    fr_alloc_fail_after(2);
    void *a = fr_malloc(10), *b = fr_malloc(10);
    assert_non_null(a);
    assert_null(b);
    assert_null(fr_strdup("x"));
    fr_alloc_fail_after(0);
    b = fr_malloc(10);
    assert_non_null(b);
    fr_free(a);
    fr_free(b);
    assert_int_equal(fr_mem_used(), before);
}

static atomic_int hits[1000];
static atomic_int tids_seen;

static void mark(void *arg, int task, int tid) {
    (void)arg;
    atomic_fetch_add(&hits[task], 1);
    atomic_fetch_or(&tids_seen, 1 << tid);
}

static void test_pool(void **state) {
    (void)state;
    struct fr_pool *p;
    assert_int_equal(fr_pool_new(0, &p), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_pool_new(3, &p), 0);
    assert_int_equal(fr_pool_threads(p), 3);
    for (int round = 0; round < 2000; round++) {   /* many small jobs back to back */
        int n = 1 + round % 37;
        for (int i = 0; i < n; i++) atomic_store(&hits[i], 0);
        fr_pool_for(p, n, mark, NULL);
        for (int i = 0; i < n; i++) assert_int_equal(atomic_load(&hits[i]), 1);
    }
    for (int i = 0; i < 1000; i++) atomic_store(&hits[i], 0);
    fr_pool_for(p, 1000, mark, NULL);
    for (int i = 0; i < 1000; i++) assert_int_equal(atomic_load(&hits[i]), 1);
    fr_pool_free(p);
    /* a NULL pool runs on the caller */
    atomic_store(&tids_seen, 0);
    fr_pool_for(NULL, 10, mark, NULL);
    assert_int_equal(atomic_load(&tids_seen), 1);
    assert_int_equal(fr_pool_threads(NULL), 1);
}

static void test_isa(void **state) {
    (void)state;
    int best = fr_cpu_isa();
    fr_cpu_set_isa(FR_ISA_REF);
    assert_int_equal(fr_cpu_isa(), FR_ISA_REF);
    fr_cpu_set_isa(FR_ISA_AVX512);        /* clamps to what the CPU has */
    assert_int_equal(fr_cpu_isa(), best >= FR_ISA_AVX512 ? FR_ISA_AVX512 : fr_cpu_isa());
    assert_string_equal(fr_isa_name(FR_ISA_REF), "ref");
}

/* Errors carry their meaning as data: the code, and one structured detail
 * that a later plain error clears. */
static void test_err_structured(void **state) {
    (void)state;
    assert_int_equal(fr_err_set_at(FR_E_CONFLICT, "field", "external_id", "external_id %s is taken", "emp-1"),
                     -FR_E_CONFLICT);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "external_id");
    assert_string_equal(fr_err_detail(), "external_id emp-1 is taken");
    assert_int_equal(fr_err_http_status(FR_E_CONFLICT), 409);
    assert_string_equal(fr_err_name(FR_E_CONFLICT), "CONFLICT");
    /* wrapping the detail in a new message keeps the text, not the key */
    assert_int_equal(fr_err_set(FR_E_IO, "wrapped: %s", fr_err_detail()), -FR_E_IO);
    assert_string_equal(fr_err_detail(), "wrapped: external_id emp-1 is taken");
    assert_string_equal(fr_err_key(), "");
    assert_string_equal(fr_err_value(), "");
    fr_err_set_at(FR_E_SERVICE_UNAVAILABLE, "model", "fr_pose", "x");
    fr_err_clear();
    assert_string_equal(fr_err_key(), "");
    assert_string_equal(fr_err_detail(), "");
}

/* Flush-to-zero and denormals-are-zero on, then back. */
static void test_fp_denormals(void **state) {
    (void)state;
    volatile float tiny = 1e-30f, small = 1e-10f;
    unsigned old = fr_fp_flush_denormals();
    float flushed = tiny * small;                 /* 1e-40: subnormal, so 0 */
    volatile float sub = 1e-40f, one = 1.0f;
    float read_as = sub * one;                    /* a subnormal input reads as 0 */
    fr_fp_restore(old);
    float kept = tiny * small;
#if defined(__x86_64__) || defined(__i386__)
    assert_true(flushed == 0.0f);
    assert_true(read_as == 0.0f);
#else
    (void)flushed;
    (void)read_as;
#endif
    assert_true(kept > 0.0f);                     /* the caller's mode is back */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_err_detail),
        cmocka_unit_test(test_alloc_counts_and_fails),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_isa),
        cmocka_unit_test(test_fp_denormals),
        cmocka_unit_test(test_err_structured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
