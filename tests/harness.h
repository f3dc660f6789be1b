/* Test harness: cmocka plus a few helpers shared by the unit tests. Tests
 * run from the repository root. */
#ifndef FR_TEST_HARNESS_H
#define FR_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/wait.h>

/* Where the nine face models are (make models puts them in ./models). */
static inline const char *fr_test_models_dir(void) {
    const char *d = getenv("FR_MODELS_DIR");
    return d && d[0] ? d : "models";
}

/* Path of model NAME ("fr_feature"); skip()s the test when it is absent. */
static inline const char *fr_test_model_path(const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s.onnx", fr_test_models_dir(), name);
    FILE *f = fopen(buf, "rb");
    if (!f) {
        fprintf(stderr, "model %s missing (run make models): skipped\n", buf);
        return NULL;
    }
    fclose(f);
    return buf;
}

/* splitmix64: the tests' deterministic random numbers. */
static inline uint64_t fr_test_rng(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Runs "BIN ARGS" with stderr joined to stdout, keeps up to out_len - 1
 * bytes of the output, and returns the exit status (-1 if it did not exit). */
static inline int fr_test_run(const char *bin, const char *args, char *out, size_t out_len) {
    char cmd[3072];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, out_len - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
