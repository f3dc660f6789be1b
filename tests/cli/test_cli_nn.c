/* The nn command line, end to end through the real binary: nn run reads
 * .npy inputs and writes .npy outputs equal to the ONNX Runtime goldens;
 * nn info and nn bench print what they promise; bad calls exit non-zero
 * with a message. Run from the repository root; BUILD selects the binary
 * folder (default build). */
#include "harness.h"

#include "facerec/nn.h"

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

static char bin[512], tmpdir[256];

static int run(const char *args, char *out, size_t out_len) { return fr_test_run(bin, args, out, out_len); }

static int setup(void **state) {
    (void)state;
    const char *b = getenv("BUILD");
    snprintf(bin, sizeof bin, "%s/facerec", b && b[0] ? b : "build");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fr-cli-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_run_matches_golden(void **state) {
    (void)state;
    char path[512], out[4096], args[2048];
    if (!fr_test_model_path("fr_landmark", path, sizeof path)) skip();
    struct fr_tensor in = { .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { 1, 1, 64, 64 } };
    in.data = fr_malloc(fr_tensor_bytes(&in));
    fr_nn_fill_pattern(&in, 1, 0.0f, 1.0f);   /* the golden's input (tools/ort_common.js) */
    char npy[512];
    snprintf(npy, sizeof npy, "%s/in.npy", tmpdir);
    assert_int_equal(fr_npy_save(npy, &in), 0);
    fr_free(in.data);
    snprintf(args, sizeof args, "nn run --model %s --input input=%s --output-dir %s/out", path, npy, tmpdir);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    struct fr_tensor got, want;
    char p1[600];
    snprintf(p1, sizeof p1, "%s/out/output.npy", tmpdir);
    assert_int_equal(fr_npy_load(p1, &got), 0);
    assert_int_equal(fr_npy_load("tests/fixtures/golden/fr_landmark/output.npy", &want), 0);
    assert_int_equal(fr_tensor_numel(&got), 136);
    assert_int_equal(fr_tensor_numel(&want), 136);
    for (int i = 0; i < 136; i++) {
        float a = ((float *)got.data)[i], b = ((float *)want.data)[i];
        assert_true(fabsf(a - b) <= 1e-4f + 1e-3f * fabsf(b));
    }
    fr_free(got.data);
    fr_free(want.data);
}

static void test_info_and_bench(void **state) {
    (void)state;
    char path[512], out[8192], args[1024];
    if (!fr_test_model_path("fr_feature", path, sizeof path)) skip();
    snprintf(args, sizeof args, "nn info --model %s --json", path);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"macs\": 221161984"));
    assert_non_null(strstr(out, "\"shape\": [1,512]"));
    assert_non_null(strstr(out, "\"peak_mem_bytes\": "));
    snprintf(args, sizeof args, "nn bench --model %s --iters 3 --warmup 1 --threads 2", path);
    assert_int_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"threads\": 2"));
    assert_non_null(strstr(out, "\"median_ms\": "));
    assert_non_null(strstr(out, "\"p90_ms\": "));
}

static void test_errors(void **state) {
    (void)state;
    char out[4096], args[1024], path[512];
    assert_int_equal(run("nn info --model /nonexistent.onnx", out, sizeof out), 2);
    assert_non_null(strstr(out, "cannot open"));
    snprintf(args, sizeof args, "nn info --model %s", "tests/fixtures/golden/fr_eye/output.npy");
    assert_int_equal(run(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "malformed"));
    assert_int_equal(run("nn", out, sizeof out), 64);
    assert_int_equal(run("nosuchcommand", out, sizeof out), 64);
    if (!fr_test_model_path("fr_eye", path, sizeof path)) skip();
    snprintf(args, sizeof args, "nn run --model %s --input nope=/x.npy --output-dir %s/o2", path, tmpdir);
    assert_int_equal(run(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "no input 'nope'"));
    snprintf(args, sizeof args, "nn run --model %s --input input=tests/fixtures/golden/fr_eye/output.npy --output-dir %s/o3",
             path, tmpdir);
    assert_int_equal(run(args, out, sizeof out), 2);     /* wrong shape */
    assert_non_null(strstr(out, "wrong type or shape"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_matches_golden),
        cmocka_unit_test(test_info_and_bench),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
