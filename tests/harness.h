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

#endif
