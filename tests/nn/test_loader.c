/* The ONNX loader against hostile input and failing allocations.
 *
 *  - every hostile seed of fuzz/corpus/onnx (bad-<what>.<CODE>.onnx, written
 *    by tools/make_fuzz_seeds.py) is rejected with the error CODE names;
 *  - a TypeProto nested 100000 deep is rejected before the recursive unpacker
 *    sees it;
 *  - the whole fuzz corpus replays: each file loads or is rejected, and runs
 *    once on zero inputs when it loads (the sqlite fuzzcheck idea);
 *  - allocation N fails, for N = 1, 2, 3 ... until the load (then the session
 *    and its run) succeeds: every attempt returns -FR_E_NOMEM or succeeds, and
 *    leaves fr_mem_used() where it was.
 * Runs from the repository root. */
#include "harness.h"

#include "facerec/nn.h"

#include <dirent.h>

#define CORPUS_DIR "fuzz/corpus/onnx"
#define RUN_MAX_ELEMS ((int64_t)1 << 20)
#define RUN_MAX_MACS ((int64_t)1 << 26)

/* The limits the hostile seeds were written against (see make_fuzz_seeds.py). */
static struct fr_nn_load_opts seed_opts(void) {
    struct fr_nn_load_opts o;
    memset(&o, 0, sizeof o);
    o.limits.max_tensor_elems = (int64_t)1 << 16;
    o.limits.max_nodes = 2000;
    o.limits.max_arena_bytes = (size_t)64 << 20;
    return o;
}

/* The limits of fuzz/fuzz_onnx.c. */
static struct fr_nn_load_opts fuzz_opts(void) {
    struct fr_nn_load_opts o = seed_opts();
    o.limits.max_file_bytes = (size_t)1 << 22;
    o.limits.max_tensor_elems = RUN_MAX_ELEMS;
    return o;
}

/* ---- corpus files ---- */

struct names {
    char **v;
    int n;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files of CORPUS_DIR whose names start with prefix ("" for all), sorted. */
static struct names corpus_list(const char *prefix) {
    struct names l = { NULL, 0 };
    DIR *d = opendir(CORPUS_DIR);
    if (!d) {
        fprintf(stderr, "%s: cannot open (run from the repository root)\n", CORPUS_DIR);
        return l;
    }
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (l.n == cap) {
            cap = cap ? cap * 2 : 64;
            l.v = realloc(l.v, (size_t)cap * sizeof *l.v);
            assert_non_null(l.v);
        }
        size_t len = strlen(CORPUS_DIR) + strlen(e->d_name) + 2;
        l.v[l.n] = malloc(len);
        assert_non_null(l.v[l.n]);
        snprintf(l.v[l.n], len, "%s/%s", CORPUS_DIR, e->d_name);
        l.n++;
    }
    closedir(d);
    if (l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    return l;
}

static void names_free(struct names *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* ---- one run on zero-filled inputs ---- */

/* 1: ran, 0: skipped (an input is not float32 or is too large), <0: error.
 * Input buffers come from plain calloc so that fr_mem_used() sees only the
 * engine's own memory. */
static int run_zero(struct fr_nn_model *m, int n_threads) {
    struct fr_nn_info info;
    fr_nn_model_info(m, &info);
    if (info.macs > RUN_MAX_MACS) return 0;   /* the dos- seeds: costly by design */
    int n_in = fr_nn_model_n_inputs(m), n_out = fr_nn_model_n_outputs(m), rc = 0;
    struct fr_tensor *in = calloc((size_t)n_in + 1, sizeof *in), *out = calloc((size_t)n_out + 1, sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (int i = 0; i < n_in; i++) {
        fr_nn_model_input(m, i, &in[i]);
        int64_t cnt = fr_tensor_numel(&in[i]);
        if (in[i].dtype != FR_DTYPE_FLOAT || cnt > RUN_MAX_ELEMS) goto out;
        in[i].data = calloc((size_t)cnt + 1, sizeof(float));
        assert_non_null(in[i].data);
    }
    struct fr_nn_session *s;
    if ((rc = fr_nn_session_new(m, n_threads, &s)) == 0) {
        rc = fr_nn_session_run(s, in, out);
        fr_nn_session_free(s);
        if (rc == 0) rc = 1;
    }
out:
    for (int i = 0; i < n_in; i++) free(in[i].data);
    free(in);
    free(out);
    return rc;
}

/* ---- (a) hostile seeds ---- */

/* "fuzz/corpus/onnx/bad-empty.MODEL_INVALID.onnx" → "MODEL_INVALID" in buf */
static const char *expected_code(const char *path, char *buf, size_t len) {
    snprintf(buf, len, "%s", path);
    char *ext = strstr(buf, ".onnx");
    if (!ext) return NULL;
    *ext = 0;
    char *dot = strrchr(buf, '.');
    return dot && dot > strrchr(buf, '/') ? dot + 1 : NULL;
}

static void test_hostile_seeds_rejected(void **state) {
    (void)state;
    struct names l = corpus_list("bad-");
    assert_true(l.n >= 11);   /* the list of make_fuzz_seeds.py */
    struct fr_nn_load_opts o = seed_opts();
    int failures = 0;
    for (int i = 0; i < l.n; i++) {
        char buf[512];
        const char *want = expected_code(l.v[i], buf, sizeof buf);
        assert_non_null(want);
        size_t used0 = fr_mem_used();
        struct fr_nn_model *m = NULL;
        int rc = fr_nn_model_load(l.v[i], &o, &m);
        if (rc == 0) {
            fprintf(stderr, "%s: loaded, expected %s\n", l.v[i], want);
            fr_nn_model_unref(m);
            failures++;
        } else if (strcmp(fr_err_name(rc), want) != 0) {
            fprintf(stderr, "%s: %s (%s), expected %s\n", l.v[i], fr_err_name(rc), fr_err_detail(), want);
            failures++;
        }
        assert_null(m);
        assert_int_equal(fr_mem_used(), used0);
    }
    names_free(&l);
    assert_int_equal(failures, 0);
}

/* ---- deep nesting, built here: 100000 TypeProtos is too big to commit ---- */

/* A protobuf message written back to front, so each wrapper knows the length
 * of what it wraps. */
struct pbw {
    uint8_t *buf;
    size_t cap, start;     /* bytes are buf[start, cap) */
};

static void pbw_put(struct pbw *w, const void *p, size_t n) {
    assert_true(w->start >= n);
    w->start -= n;
    memcpy(w->buf + w->start, p, n);
}

static void pbw_varint(struct pbw *w, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pbw_put(w, t, n);
}

/* Everything written so far becomes length-delimited field `field`. */
static void pbw_wrap(struct pbw *w, unsigned field) {
    pbw_varint(w, w->cap - w->start);
    pbw_varint(w, (uint64_t)field << 3 | 2);
}

static void pbw_bytes(struct pbw *w, unsigned field, const char *s) {
    size_t n = strlen(s);
    pbw_put(w, s, n);
    pbw_varint(w, n);
    pbw_varint(w, (uint64_t)field << 3 | 2);
}

/* A ModelProto whose graph input 'x' is a sequence of a sequence ... of
 * float, depth TypeProtos deep, with one Identity node x → y. The caller
 * frees w->buf; the message is buf[start, cap). */
static void deep_type_model(struct pbw *w, int depth) {
    w->cap = (size_t)depth * 16 + 4096;
    w->start = w->cap;
    w->buf = malloc(w->cap);
    assert_non_null(w->buf);
    static const uint8_t tensor_float[] = { 0x0a, 0x02, 0x08, 0x01 };   /* tensor_type { elem_type: 1 } */
    pbw_put(w, tensor_float, sizeof tensor_float);
    for (int i = 1; i < depth; i++) {
        pbw_wrap(w, 1);              /* TypeProto.Sequence.elem_type */
        pbw_wrap(w, 4);              /* TypeProto.sequence_type */
    }
    pbw_wrap(w, 2);                  /* ValueInfoProto.type */
    pbw_bytes(w, 1, "x");            /* ValueInfoProto.name */
    pbw_wrap(w, 11);                 /* GraphProto.input */
    static const uint8_t rest[] = {
        0x0a, 0x10, 0x0a, 0x01, 'x', 0x12, 0x01, 'y', 0x22, 0x08, 'I', 'd', 'e', 'n', 't', 'i', 't', 'y',
        0x62, 0x03, 0x0a, 0x01, 'y',   /* node { Identity x → y }, output { name: y } */
    };
    pbw_put(w, rest, sizeof rest);
    pbw_wrap(w, 7);                  /* ModelProto.graph */
    static const uint8_t head[] = { 0x08, 0x08, 0x42, 0x02, 0x10, 0x0d };   /* ir_version 8, opset 13 */
    pbw_put(w, head, sizeof head);
}

static void test_deep_type_nesting(void **state) {
    (void)state;
    struct pbw w;
    deep_type_model(&w, 100000);
    size_t used0 = fr_mem_used();
    struct fr_nn_model *m = NULL;
    int rc = fr_nn_model_load_mem(w.buf + w.start, w.cap - w.start, NULL, &m);
    assert_int_equal(rc, -FR_E_LIMIT_EXCEEDED);
    assert_null(m);
    assert_int_equal(fr_mem_used(), used0);
    free(w.buf);
}

/* The same model 2 deep passes the walk: the loader then rejects the
 * sequence input as unsupported, so the walk was not rejecting something else. */
static void test_deep_type_nesting_shallow_ok(void **state) {
    (void)state;
    struct pbw w;
    deep_type_model(&w, 2);
    struct fr_nn_model *m = NULL;
    int rc = fr_nn_model_load_mem(w.buf + w.start, w.cap - w.start, NULL, &m);
    assert_int_equal(rc, -FR_E_MODEL_UNSUPPORTED);
    assert_null(m);
    free(w.buf);
}

/* ---- (c) the whole corpus ---- */

static void test_corpus_replay(void **state) {
    (void)state;
    struct names l = corpus_list("");
    assert_true(l.n > 0);
    struct fr_nn_load_opts o = fuzz_opts();
    int loaded = 0, ran = 0, bad = 0;
    for (int i = 0; i < l.n; i++) {
        const char *base = strrchr(l.v[i], '/') + 1;
        size_t used0 = fr_mem_used();
        struct fr_nn_model *m = NULL;
        int rc = fr_nn_model_load(l.v[i], &o, &m), run = 0;
        if (rc == 0) {
            loaded++;
            run = run_zero(m, 1);
            if (run > 0) ran++;
            fr_nn_model_unref(m);
        }
        /* the valid models made for the corpus must load and run */
        if (!strncmp(base, "gen-", 4) && (rc < 0 || run <= 0)) {
            fprintf(stderr, "%s: load %s, run %s: %s\n", base, fr_err_name(rc), fr_err_name(run < 0 ? run : 0),
                    fr_err_detail());
            bad++;
        }
        if (fr_mem_used() != used0) {
            fprintf(stderr, "%s: %zu bytes leaked\n", base, fr_mem_used() - used0);
            bad++;
        }
    }
    fprintf(stderr, "%d inputs replayed, %d loaded, %d ran\n", l.n, loaded, ran);
    names_free(&l);
    assert_int_equal(bad, 0);
    assert_true(ran > 0);
}

/* ---- (b) allocation failures ---- */

/* Load buf with allocation n failing: -FR_E_NOMEM or success, nothing leaked. */
static int load_failing(const uint8_t *buf, size_t len, long n, struct fr_nn_model **m) {
    size_t used0 = fr_mem_used();
    fr_alloc_fail_after(n);
    int rc = fr_nn_model_load_mem(buf, len, NULL, m);
    fr_alloc_fail_after(0);
    if (rc != 0 && rc != -FR_E_NOMEM)
        fprintf(stderr, "allocation %ld failing: %s (%s)\n", n, fr_err_name(rc), fr_err_detail());
    assert_true(rc == 0 || rc == -FR_E_NOMEM);
    if (rc < 0) {
        assert_null(*m);
        assert_int_equal(fr_mem_used(), used0);
    }
    return rc;
}

static void oom_load(const char *path) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(fr_file_read(path, (size_t)1 << 30, &buf, &len), 0);
    /* how many allocations a load makes */
    struct fr_nn_model *m = NULL;
    fr_alloc_fail_after(0);
    assert_int_equal(fr_nn_model_load_mem(buf, len, NULL, &m), 0);
    long total = fr_alloc_count();
    fr_nn_model_unref(m);
    long n = 1;
    for (;; n++) {
        m = NULL;
        if (load_failing(buf, len, n, &m) == 0) break;
        assert_true(n <= total);
    }
    fr_nn_model_unref(m);
    fprintf(stderr, "%s: load failed cleanly at each of %ld allocations\n", path, n - 1);
    fr_free(buf);
}

/* Session creation, then a run, with allocation n failing. */
static void oom_session(const char *path, int n_threads) {
    struct fr_nn_load_opts o = fuzz_opts();
    struct fr_nn_model *m = NULL;
    assert_int_equal(fr_nn_model_load(path, &o, &m), 0);
    int n_in = fr_nn_model_n_inputs(m), n_out = fr_nn_model_n_outputs(m);
    struct fr_tensor in[8], ref[8], out[8];
    assert_true(n_in <= 8 && n_out <= 8);
    for (int i = 0; i < n_in; i++) {
        fr_nn_model_input(m, i, &in[i]);
        assert_int_equal(in[i].dtype, FR_DTYPE_FLOAT);
        in[i].data = calloc((size_t)fr_tensor_numel(&in[i]) + 1, sizeof(float));
        assert_non_null(in[i].data);
        fr_nn_fill_pattern(&in[i], 7u + (uint32_t)i, -1.0f, 1.0f);
    }
    /* reference outputs, without failures */
    struct fr_nn_session *s;
    assert_int_equal(fr_nn_session_new(m, n_threads, &s), 0);
    assert_int_equal(fr_nn_session_run(s, in, out), 0);
    for (int i = 0; i < n_out; i++) {
        ref[i] = out[i];
        ref[i].data = malloc(fr_tensor_bytes(&out[i]) + 1);
        assert_non_null(ref[i].data);
        memcpy(ref[i].data, out[i].data, fr_tensor_bytes(&out[i]));
    }
    fr_nn_session_free(s);

    long n = 1;
    for (;; n++) {
        size_t used0 = fr_mem_used();
        s = NULL;
        fr_alloc_fail_after(n);
        int rc = fr_nn_session_new(m, n_threads, &s);
        if (rc == 0) rc = fr_nn_session_run(s, in, out);
        fr_alloc_fail_after(0);
        if (rc != 0 && rc != -FR_E_NOMEM)
            fprintf(stderr, "session, allocation %ld failing: %s (%s)\n", n, fr_err_name(rc), fr_err_detail());
        assert_true(rc == 0 || rc == -FR_E_NOMEM);
        if (rc == 0) {
            for (int i = 0; i < n_out; i++) {
                assert_int_equal(fr_tensor_bytes(&out[i]), fr_tensor_bytes(&ref[i]));
                assert_memory_equal(out[i].data, ref[i].data, fr_tensor_bytes(&ref[i]));
            }
            fr_nn_session_free(s);
            break;
        }
        fr_nn_session_free(s);
        assert_int_equal(fr_mem_used(), used0);
        assert_true(n < 100000);
    }
    fprintf(stderr, "%s: session + run at %d threads failed cleanly at each of %ld allocations\n", path,
            n_threads, n - 1);
    for (int i = 0; i < n_in; i++) free(in[i].data);
    for (int i = 0; i < n_out; i++) free(ref[i].data);
    fr_nn_model_unref(m);
}

/* A committed corpus model with Conv + BatchNorm + Relu: folding and fusion
 * run under failure too. Always present. */
#define SMALL_MODEL CORPUS_DIR "/gen-conv_bn_relu.onnx"

static void test_oom_load_small(void **state) {
    (void)state;
    oom_load(SMALL_MODEL);
}

static void test_oom_session_small(void **state) {
    (void)state;
    oom_session(SMALL_MODEL, 1);
    oom_session(SMALL_MODEL, 2);
}

static void test_oom_load_landmark(void **state) {
    (void)state;
    char path[512];
    if (!fr_test_model_path("fr_landmark", path, sizeof path)) skip();
    oom_load(path);
}

static void test_oom_session_landmark(void **state) {
    (void)state;
    char path[512];
    if (!fr_test_model_path("fr_landmark", path, sizeof path)) skip();
    oom_session(path, 1);
    oom_session(path, 2);
}

/* A test that failed (or crashed) under injection must not leave it on. */
static int injection_off(void **state) {
    (void)state;
    fr_alloc_fail_after(0);
    return 0;
}

int main(void) {
    fr_log_set_level(FR_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hostile_seeds_rejected, injection_off),
        cmocka_unit_test_setup(test_deep_type_nesting, injection_off),
        cmocka_unit_test_setup(test_deep_type_nesting_shallow_ok, injection_off),
        cmocka_unit_test_setup(test_corpus_replay, injection_off),
        cmocka_unit_test_setup(test_oom_load_small, injection_off),
        cmocka_unit_test_setup(test_oom_session_small, injection_off),
        cmocka_unit_test_setup(test_oom_load_landmark, injection_off),
        cmocka_unit_test_setup(test_oom_session_landmark, injection_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
