/* libFuzzer target: an untrusted JSON request body.
 *
 * The bytes go through fr_json_parse_body (1 MiB limit); when they parse,
 * every key of the object is read with every typed getter, required and
 * not, and the fields a handler really reads (name, top_k, threshold,
 * liveness, metadata, image_base64) once more. Each answer must be 0 or the
 * documented error; the raw bytes are also fed to fr_base64_decode and
 * fr_query_get_int. jansson allocates through fr_malloc here, so the counted
 * allocator must be back where it started: a leak aborts.
 *
 *   make fuzz && build/fuzz/fuzz_json -max_len=16384 fuzz/corpus/json
 *
 * tests/http/test_parse.c includes this file with FR_FUZZ_EMBED defined and
 * replays fuzz/corpus/json through fuzz_json_one in make test. */
#include "http/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JCHECK(x) do { if (!(x)) { \
    fprintf(stderr, "fuzz_json: %s failed (%s)\n", #x, fr_err_detail()); abort(); } } while (0)
#define JOK(rc) JCHECK((rc) == 0 || (rc) == -FR_E_VALIDATION_ERROR)

static void getters(json_t *root, const char *key, int required) {
    const char *s = NULL;
    int64_t i = 0;
    double d = 0;
    int b = 0;
    json_t *o = NULL;
    int rc = fr_json_get_string(root, key, required, 64, &s);
    JOK(rc);
    if (rc == 0 && s) JCHECK(strlen(s) <= 64);
    rc = fr_json_get_int(root, key, required, -5, 100, &i);
    JOK(rc);
    if (rc == 0) JCHECK(i >= -5 && i <= 100);
    rc = fr_json_get_number(root, key, required, 0.0, 1.0, &d);
    JOK(rc);
    if (rc == 0) JCHECK(d >= 0.0 && d <= 1.0);
    JOK(fr_json_get_bool(root, key, required, &b));
    JOK(fr_json_get_object(root, key, required, 256, &o));
    uint8_t *img = NULL;
    size_t n = 0;
    rc = fr_json_get_base64(root, key, required, 4096, &img, &n);
    JCHECK(rc == 0 || rc == -FR_E_VALIDATION_ERROR || rc == -FR_E_FILE_TOO_LARGE);
    if (rc == 0 && img) JCHECK(n > 0 && n <= 4096);
    fr_free(img);
}

static int fuzz_json_one(const uint8_t *data, size_t size) {
    fr_json_use_fr_alloc();     /* same functions every time: safe to repeat */
    size_t used0 = fr_mem_used();
    json_t *root = NULL;
    int rc = fr_json_parse_body(data, size, (size_t)1 << 20, &root);
    if (rc == 0) {
        JCHECK(json_is_object(root));
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            getters(root, key, 1);
            getters(root, key, 0);
        }
        static const char *const fields[] = { "name", "top_k", "threshold", "liveness", "metadata",
                                              "image_base64" };
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) getters(root, fields[f], 0);
        json_decref(root);
    } else {
        JCHECK(!root && (rc == -FR_E_VALIDATION_ERROR || rc == -FR_E_FILE_TOO_LARGE));
    }
    uint8_t *out = NULL;
    size_t n = 0;
    rc = fr_base64_decode((const char *)data, size, &out, &n, 1 << 16);
    JCHECK(rc == 0 || rc == -FR_E_VALIDATION_ERROR || rc == -FR_E_FILE_TOO_LARGE);
    JCHECK(rc == 0 ? out != NULL && n > 0 : out == NULL);
    fr_free(out);
    char q[32];
    size_t ql = size < sizeof q - 1 ? size : sizeof q - 1;
    memcpy(q, data, ql);
    q[ql] = '\0';
    int64_t x = 0;
    JOK(fr_query_get_int(q, "limit", 7, -1000, 1000, &x));
    JCHECK(x >= -1000 && x <= 1000);
    JCHECK(fr_mem_used() == used0);
    return 0;
}

#ifndef FR_FUZZ_EMBED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_json_one(data, size); }
#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
#endif
