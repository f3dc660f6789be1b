/* Vector index: the exact search against a double-precision brute force on
 * random data (every kernel set, the single-probe scan and the sgemm batch
 * path), top-k edge cases, ties, per-label mode, remove/re-add, snapshots
 * (round trip, every flipped byte and every truncation refused), the
 * order-independent digest, allocation-failure injection, and the
 * collection set under concurrent searches, adds, removes and drops.
 *
 * Index kinds: the tests that remove run twice, over "exact" and over
 * "exact-tomb", the exact kind with remove (and reserve) left out of its ops,
 * registered by main(): its removes go through the front's tombstones and
 * rebuilds, which must never show. Then tests of the tombstones themselves,
 * of kinds by name, and of a set whose collections are of different kinds. */
#include "harness.h"

#include "facerec/index.h"
#include "index/index_int.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOL 1e-5

/* ---- index kinds ---- */

static char KIND_TOMB[] = "exact-tomb";
enum { KIND_TOMB_NUMBER = 0x7e57 };
static struct fr_index_ops tomb_ops;   /* exact's, less remove and reserve: filled by main() */

static const char *kind = "exact";     /* of the test running now: the test's state, or exact */

static void use_kind(void **state) { kind = *state ? *state : "exact"; }

static fr_index *new_index(int dim) {
    fr_index *ix;
    assert_int_equal(fr_index_new(kind, dim, &ix), 0);
    assert_string_equal(fr_index_kind(ix), kind);
    return ix;
}

static const char *kind_now(void *ctx, int64_t client, const char *model) {
    (void)ctx;
    (void)client;
    (void)model;
    return kind;
}

/* Tombstones of an index, and rows its kind stores (live and tombstoned). */
static size_t tombs(const fr_index *ix) { return ix->tomb.n; }

static size_t stored(const fr_index *ix) { return ix->ops->size(ix->ctx); }

/* A set whose collections are all of the test's kind. */
static int new_set(int dim, fr_index_set **out) {
    return fr_index_set_new_opts(&(struct fr_index_set_opts){ .dim = dim, .kind_for = kind_now }, out);
}

/* ---- data ---- */

static uint64_t rng_next(uint64_t *s) { return fr_test_rng(s); }

static float rng_unit(uint64_t *s) { return (float)((double)(rng_next(s) >> 11) * 0x1p-53 * 2.0 - 1.0); }

static void rand_unit_vec(uint64_t *s, float *v, int dim) {
    double n = 0;
    for (int j = 0; j < dim; j++) {
        v[j] = rng_unit(s);
        n += (double)v[j] * (double)v[j];
    }
    float inv = (float)(1.0 / sqrt(n));
    for (int j = 0; j < dim; j++) v[j] *= inv;
}

/* A gallery kept beside the index, for the reference. */
struct gal {
    int dim;
    size_t n;
    float *v;
    int64_t *ids, *labels;
};

static void gal_init(struct gal *g, int dim, size_t cap) {
    g->dim = dim;
    g->n = 0;
    g->v = calloc(cap * (size_t)dim, sizeof(float));
    g->ids = calloc(cap, sizeof(int64_t));
    g->labels = calloc(cap, sizeof(int64_t));
}

static void gal_free(struct gal *g) {
    free(g->v);
    free(g->ids);
    free(g->labels);
}

static void gal_push(struct gal *g, int64_t id, int64_t label, const float *v) {
    memcpy(g->v + g->n * (size_t)g->dim, v, (size_t)g->dim * sizeof(float));
    g->ids[g->n] = id;
    g->labels[g->n] = label;
    g->n++;
}

static void gal_del(struct gal *g, int64_t id) {
    for (size_t i = 0; i < g->n; i++)
        if (g->ids[i] == id) {
            g->n--;
            memmove(g->v + i * (size_t)g->dim, g->v + g->n * (size_t)g->dim, (size_t)g->dim * sizeof(float));
            g->ids[i] = g->ids[g->n];
            g->labels[i] = g->labels[g->n];
            return;
        }
    fail_msg("gal_del: no id %lld", (long long)id);
}

/* n random unit rows, ids from id0 (shuffled by a stride), labels id % n_labels */
static fr_index *make_index(struct gal *g, int dim, size_t n, uint64_t seed, int64_t n_labels) {
    fr_index *ix = new_index(dim);
    gal_init(g, dim, n + 16);
    float *v = malloc((size_t)dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        int64_t id = (int64_t)((i * 7919) % n) + 100;   /* not in insertion order */
        rand_unit_vec(&seed, v, dim);
        assert_int_equal(fr_index_add(ix, id, id % n_labels, v), 0);
        gal_push(g, id, id % n_labels, v);
    }
    free(v);
    assert_int_equal(fr_index_size(ix), n);
    return ix;
}

/* ---- the reference ---- */

struct cand {
    double s;
    int64_t id, label;
};

static int cand_cmp(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static double dot_d(const float *a, const float *b, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += (double)a[j] * (double)b[j];
    return s;
}

static double true_score(const struct gal *g, const float *q, int64_t id, int64_t *label) {
    for (size_t i = 0; i < g->n; i++)
        if (g->ids[i] == id) {
            *label = g->labels[i];
            return dot_d(q, g->v + i * (size_t)g->dim, g->dim);
        }
    fail_msg("hit id %lld is not in the gallery", (long long)id);
    return 0;
}

/* Sorted candidates (per label: each label's best row); returns their count. */
static size_t reference(const struct gal *g, const float *q, bool per_label, struct cand *c) {
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct cand x = { dot_d(q, g->v + i * (size_t)g->dim, g->dim), g->ids[i], g->labels[i] };
        if (per_label) {
            size_t j = 0;
            while (j < m && c[j].label != x.label) j++;
            if (j < m) {
                if (cand_cmp(&x, &c[j]) < 0) c[j] = x;
                continue;
            }
        }
        c[m++] = x;
    }
    qsort(c, m, sizeof *c, cand_cmp);
    return m;
}

static void check_hits(const struct gal *g, const float *q, int k, float min_score, bool per_label,
                       const struct fr_hit *got, int ngot) {
    struct cand *c = malloc((g->n + 1) * sizeof *c);
    size_t m = reference(g, q, per_label, c);
    size_t pass = 0;
    bool near_bar = false;
    for (size_t i = 0; i < m; i++) {
        if (c[i].s >= (double)min_score) pass++;
        if (fabs(c[i].s - (double)min_score) < TOL) near_bar = true;
    }
    size_t want = pass < (size_t)k ? pass : (size_t)k;
    if (!near_bar) assert_int_equal(ngot, want);
    for (int r = 0; r < ngot; r++) {
        int64_t label;
        double ts = true_score(g, q, got[r].id, &label);
        assert_int_equal(label, got[r].label);
        assert_true(fabs(ts - (double)got[r].score) < TOL);
        assert_true((double)got[r].score >= (double)min_score);
        assert_true(fabs(c[r].s - (double)got[r].score) < TOL);
        /* where the reference has a clear gap, the same row (or label) */
        bool clear = (r == 0 || c[r - 1].s - c[r].s > 4 * TOL) && ((size_t)r + 1 >= m || c[r].s - c[r + 1].s > 4 * TOL);
        if (clear && per_label) assert_int_equal(got[r].label, c[r].label);
        if (clear && !per_label) assert_int_equal(got[r].id, c[r].id);
        if (r > 0) {
            assert_true(got[r - 1].score > got[r].score ||
                        (got[r - 1].score == got[r].score && got[r - 1].id < got[r].id));
            for (int p = 0; p < r; p++) {
                assert_true(got[p].id != got[r].id);
                if (per_label) assert_true(got[p].label != got[r].label);
            }
        }
    }
    free(c);
}

/* Searches nq probes both as one call (batched when nq >= 4) and one by
 * one, and checks both against the reference. */
static void search_and_check(const fr_index *ix, const struct gal *g, const float *q, int nq, int k,
                             float min_score, unsigned flags) {
    struct fr_hit *hits = calloc((size_t)nq * (size_t)k, sizeof *hits);
    int *nh = calloc((size_t)nq, sizeof *nh);
    bool pl = flags & FR_INDEX_PER_LABEL;
    assert_int_equal(fr_index_search(ix, q, nq, k, min_score, flags, hits, nh), 0);
    for (int i = 0; i < nq; i++)
        check_hits(g, q + (size_t)i * (size_t)g->dim, k, min_score, pl, hits + (size_t)i * (size_t)k, nh[i]);
    for (int i = 0; i < nq; i++) {
        int n1;
        assert_int_equal(fr_index_search(ix, q + (size_t)i * (size_t)g->dim, 1, k, min_score, flags, hits, &n1), 0);
        check_hits(g, q + (size_t)i * (size_t)g->dim, k, min_score, pl, hits, n1);
    }
    free(hits);
    free(nh);
}

static float *probes(uint64_t seed, int nq, int dim, const struct gal *g) {
    float *q = malloc((size_t)nq * (size_t)dim * sizeof(float));
    for (int i = 0; i < nq; i++) {
        if (g && i % 3 == 0 && g->n) {   /* some probes are gallery rows: an exact match */
            memcpy(q + (size_t)i * dim, g->v + ((size_t)i * 31 % g->n) * dim, (size_t)dim * sizeof(float));
        } else {
            rand_unit_vec(&seed, q + (size_t)i * dim, dim);
        }
    }
    return q;
}

static const int isas[] = { FR_ISA_REF, FR_ISA_AVX2, FR_ISA_AVX512 };

/* ---- tests ---- */

static void test_kernels(void **state) {
    use_kind(state);
    uint64_t seed = 5;
    float q[600], m[9 * 600], out[9];
    fr__index_dot_fn fns[] = { fr__index_dot_ref, fr__index_dot_avx2, fr__index_dot_avx512 };
    for (int a = 0; a < 3; a++) {
        fr_cpu_set_isa(isas[a]);
        if (fr_cpu_isa() != isas[a]) continue;   /* the CPU lacks it */
        for (int dim = 1; dim <= 600; dim += dim < 70 ? 1 : 37) {
            for (int j = 0; j < dim; j++) q[j] = rng_unit(&seed);
            for (int j = 0; j < 9 * dim; j++) m[j] = rng_unit(&seed);
            for (size_t n = 0; n <= 9; n++) {
                fns[a](q, m, (size_t)dim, dim, n, out);
                for (size_t i = 0; i < n; i++)
                    assert_true(fabs((double)out[i] - dot_d(q, m + i * (size_t)dim, dim)) < 1e-4);
            }
        }
        assert_true(fr__index_dot_get() == fns[a]);
        printf("kernel %s checked\n", fr_isa_name(isas[a]));
    }
    fr_cpu_set_isa(FR_ISA_AVX512);
}

static void test_exact_matches_reference(void **state) {
    use_kind(state);
    static const int dims[] = { 512, 37 };
    for (int d = 0; d < 2; d++) {
        struct gal g;
        fr_index *ix = make_index(&g, dims[d], 1501, 11 + (uint64_t)d, 1000000);
        float *q = probes(99, 70, dims[d], &g);   /* 70 > one sgemm block of probes */
        for (int a = 0; a < 3; a++) {
            fr_cpu_set_isa(isas[a]);
            search_and_check(ix, &g, q, 70, 1, -INFINITY, 0);
            search_and_check(ix, &g, q, 7, 10, -INFINITY, 0);
            search_and_check(ix, &g, q, 5, 1600, -INFINITY, 0);   /* k > size */
            search_and_check(ix, &g, q, 9, 20, 0.1f, 0);         /* threshold */
        }
        fr_cpu_set_isa(FR_ISA_AVX512);
        free(q);
        gal_free(&g);
        fr_index_free(ix);
    }
}

static void test_min_score_and_exact_match(void **state) {
    use_kind(state);
    struct gal g;
    fr_index *ix = make_index(&g, 512, 300, 3, 1000000);
    float *q = probes(7, 6, 512, &g);
    struct fr_hit hits[6 * 5];
    int nh[6];
    /* above any random score: only the exact matches (probes 0 and 3) remain */
    assert_int_equal(fr_index_search(ix, q, 6, 5, 0.9f, 0, hits, nh), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(nh[i], i % 3 == 0 ? 1 : 0);
        if (nh[i]) assert_int_equal(hits[i * 5].id, g.ids[(size_t)i * 31 % g.n]);
    }
    /* min_score is inclusive: the exact match's own score passes (taken
     * from the same path: batched scores may differ in the last bits) */
    int n1;
    assert_int_equal(fr_index_search(ix, q, 1, 5, 0.9f, 0, hits, &n1), 0);
    float s = hits[0].score;
    assert_int_equal(fr_index_search(ix, q, 1, 5, s, 0, hits, &n1), 0);
    assert_int_equal(n1, 1);
    assert_true(fabsf(s - 1.0f) < 1e-5f);
    /* above 1: nothing */
    assert_int_equal(fr_index_search(ix, q, 6, 5, 1.01f, 0, hits, nh), 0);
    for (int i = 0; i < 6; i++) assert_int_equal(nh[i], 0);
    free(q);
    gal_free(&g);
    fr_index_free(ix);
}

static void test_remove_and_readd(void **state) {
    use_kind(state);
    struct gal g;
    int dim = 64;
    fr_index *ix = make_index(&g, dim, 900, 21, 50);
    float *q = probes(8, 8, dim, &g);
    uint64_t seed = 77;
    /* remove about half, in a scattered order */
    for (int t = 0; t < 450; t++) {
        int64_t id = g.ids[rng_next(&seed) % g.n];
        assert_int_equal(fr_index_remove(ix, id), 0);
        gal_del(&g, id);
        assert_int_equal(fr_index_remove(ix, id), -FR_E_NOT_FOUND);
        int64_t label;
        assert_int_equal(fr_index_get(ix, id, &label, NULL), -FR_E_NOT_FOUND);
    }
    assert_int_equal(fr_index_size(ix), g.n);
    search_and_check(ix, &g, q, 8, 10, -INFINITY, 0);
    search_and_check(ix, &g, q, 8, 5, -INFINITY, FR_INDEX_PER_LABEL);
    /* every remaining row is still where get() says */
    float v[64];
    for (size_t i = 0; i < g.n; i++) {
        int64_t label;
        assert_int_equal(fr_index_get(ix, g.ids[i], &label, v), 0);
        assert_int_equal(label, g.labels[i]);
        assert_memory_equal(v, g.v + i * (size_t)dim, sizeof v);
    }
    /* a duplicate id is refused and changes nothing */
    assert_int_equal(fr_index_add(ix, g.ids[0], 1, v), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_size(ix), g.n);
    /* remove all, search, re-add */
    int64_t *ids = malloc(g.n * sizeof *ids);
    memcpy(ids, g.ids, g.n * sizeof *ids);
    size_t n = g.n;
    for (size_t i = 0; i < n; i++) assert_int_equal(fr_index_remove(ix, ids[i]), 0);
    assert_int_equal(fr_index_size(ix), 0);
    struct fr_hit hits[8 * 10];
    int nh[8];
    assert_int_equal(fr_index_search(ix, q, 8, 10, -INFINITY, 0, hits, nh), 0);
    for (int i = 0; i < 8; i++) assert_int_equal(nh[i], 0);
    assert_int_equal(fr_index_search(ix, q, 1, 10, -INFINITY, 0, hits, nh), 0);
    assert_int_equal(nh[0], 0);
    for (size_t i = 0; i < n; i++) assert_int_equal(fr_index_add(ix, g.ids[i], g.labels[i], g.v + i * (size_t)dim), 0);
    search_and_check(ix, &g, q, 8, 10, -INFINITY, 0);
    free(ids);
    free(q);
    gal_free(&g);
    fr_index_free(ix);
}

/* Rows whose dot products are exact in float whatever the summation order,
 * so scores tie exactly on both paths: results must come by ascending id. */
static void test_ties(void **state) {
    use_kind(state);
    int dim = 40;
    fr_index *ix;
    assert_int_equal(fr_index_new_exact(dim, &ix), 0);
    float v[40];
    for (int i = 0; i < 3000; i++) {
        memset(v, 0, sizeof v);
        v[0] = (i % 3 == 0) ? 0.5f : 0.25f;   /* two score levels */
        v[1 + i % 39] = 0.5f;
        int64_t id = (int64_t)((i * 1237) % 3000);   /* ids out of insertion order */
        assert_int_equal(fr_index_add(ix, id, id % 7, v), 0);
    }
    float q[4 * 40] = { 0 };
    for (int p = 0; p < 4; p++) q[p * dim] = 1.0f;
    struct fr_hit hits[4 * 20];
    int nh[4];
    for (int a = 0; a < 3; a++) {
        fr_cpu_set_isa(isas[a]);
        for (int nq = 1; nq <= 4; nq += 3) {
            assert_int_equal(fr_index_search(ix, q, nq, 20, -INFINITY, 0, hits, nh), 0);
            assert_int_equal(nh[0], 20);
            /* the 0.5 level: ids whose insertion index i % 3 == 0, smallest ids first */
            int64_t prev = -1;
            for (int r = 0; r < 20; r++) {
                assert_true(hits[r].score == 0.5f);
                assert_true(hits[r].id > prev);
                prev = hits[r].id;
            }
            /* the smallest such id: i = id·1237⁻¹ mod 3000 must be ≡ 0 mod 3 */
            int64_t best = -1;
            for (int i = 0; i < 3000; i += 3) {
                int64_t id = (int64_t)((i * 1237) % 3000);
                if (best < 0 || id < best) best = id;
            }
            assert_int_equal(hits[0].id, best);
            /* per label: 7 labels, each its smallest 0.5 id, labels ordered by that id */
            assert_int_equal(fr_index_search(ix, q, nq, 20, -INFINITY, FR_INDEX_PER_LABEL, hits, nh), 0);
            assert_int_equal(nh[0], 7);
            for (int r = 0; r < 7; r++) {
                assert_true(hits[r].score == 0.5f);
                assert_true(r == 0 || hits[r].id > hits[r - 1].id);
            }
        }
    }
    fr_cpu_set_isa(FR_ISA_AVX512);
    fr_index_free(ix);
}

static void test_per_label(void **state) {
    use_kind(state);
    /* many faces per subject: 2000 rows, 37 labels; and few labels (k > labels) */
    static const int64_t n_labels[] = { 37, 3 };
    for (int t = 0; t < 2; t++) {
        struct gal g;
        fr_index *ix = make_index(&g, 128, 2000, 31 + (uint64_t)t, n_labels[t]);
        float *q = probes(12, 10, 128, &g);
        for (int a = 0; a < 3; a++) {
            fr_cpu_set_isa(isas[a]);
            search_and_check(ix, &g, q, 10, 5, -INFINITY, FR_INDEX_PER_LABEL);
            search_and_check(ix, &g, q, 10, 1, -INFINITY, FR_INDEX_PER_LABEL);
            search_and_check(ix, &g, q, 10, 50, -INFINITY, FR_INDEX_PER_LABEL);
            search_and_check(ix, &g, q, 10, 5, 0.15f, FR_INDEX_PER_LABEL);
        }
        fr_cpu_set_isa(FR_ISA_AVX512);
        free(q);
        gal_free(&g);
        fr_index_free(ix);
    }
}

static void test_bad_arguments(void **state) {
    use_kind(state);
    fr_index *ix;
    assert_int_equal(fr_index_new_exact(0, &ix), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_new_exact(70000, &ix), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_new_exact(8, &ix), 0);
    float v[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(fr_index_add(ix, 1, 1, NULL), -FR_E_INVALID_ARGUMENT);
    v[3] = NAN;
    assert_int_equal(fr_index_add(ix, 1, 1, v), -FR_E_INVALID_ARGUMENT);
    v[3] = INFINITY;
    assert_int_equal(fr_index_add(ix, 1, 1, v), -FR_E_INVALID_ARGUMENT);
    assert_true(strlen(fr_err_detail()) > 0);
    v[3] = 0;
    assert_int_equal(fr_index_add(ix, 1, 1, v), 0);
    struct fr_hit h[2];
    int n;
    assert_int_equal(fr_index_search(ix, v, 1, 0, 0, 0, h, &n), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_search(ix, v, -1, 1, 0, 0, h, &n), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_search(ix, v, 1, 1, NAN, 0, h, &n), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_search(ix, v, 1, 1, 0, 0x80, h, &n), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_search(ix, NULL, 1, 1, 0, 0, h, &n), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_search(ix, v, 0, 1, 0, 0, NULL, NULL), 0);
    v[0] = NAN;
    assert_int_equal(fr_index_search(ix, v, 1, 1, 0, 0, h, &n), -FR_E_INVALID_ARGUMENT);
    v[0] = 1;
    assert_int_equal(fr_index_search(ix, v, 1, 2, 0, 0, h, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, 1);
    assert_int_equal(fr_index_dim(ix), 8);
    fr_index_free(ix);
    fr_index_free(NULL);
}

/* ---- snapshots ---- */

static char tmpdir[64];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fr_index_test.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void read_all(const char *path, uint8_t **buf, size_t *len) {
    assert_int_equal(fr_file_read(path, 1 << 30, buf, len), 0);
}

/* Hits of a and b the same, row for row: ids and labels, and scores bit for
 * bit when bitwise is set. Bitwise holds for one probe when dim is a multiple
 * of 16 (every scan kernel then scores a row alike wherever it sits), and for
 * several over rows stored alike; otherwise sgemm may round a row by where it
 * sits, and a tombstoned index finishes some probes alone by the scan
 * (index.h: the two paths may differ in the last bits). */
static void assert_same_hits(const fr_index *a, const fr_index *b, const float *q, int nq, int k, unsigned flags,
                             bool bitwise) {
    struct fr_hit *ha = calloc((size_t)nq * k, sizeof *ha), *hb = calloc((size_t)nq * k, sizeof *hb);
    int *na = calloc((size_t)nq, sizeof(int)), *nb = calloc((size_t)nq, sizeof(int));
    assert_int_equal(fr_index_search(a, q, nq, k, -INFINITY, flags, ha, na), 0);
    assert_int_equal(fr_index_search(b, q, nq, k, -INFINITY, flags, hb, nb), 0);
    assert_memory_equal(na, nb, (size_t)nq * sizeof(int));
    for (int i = 0; i < nq * k; i++) {
        if (i % k >= na[i / k]) continue;
        assert_int_equal(ha[i].id, hb[i].id);
        assert_int_equal(ha[i].label, hb[i].label);
        if (bitwise) assert_true(ha[i].score == hb[i].score);
        assert_true(fabsf(ha[i].score - hb[i].score) < 1e-5f);
    }
    free(ha);
    free(hb);
    free(na);
    free(nb);
}

static void test_save_load(void **state) {
    use_kind(state);
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/a.fidx", tmpdir);
    struct gal g;
    fr_index *ix = make_index(&g, 512, 700, 41, 90), *ld;
    for (int i = 0; i < 100; i++) assert_int_equal(fr_index_remove(ix, g.ids[i * 3]), 0);
    assert_int_equal(fr_index_save(ix, path), 0);
    assert_int_equal(fr_index_load(path, &ld), 0);
    assert_int_equal(fr_index_size(ld), 600);
    assert_int_equal(fr_index_dim(ld), 512);
    uint8_t d1[32], d2[32];
    assert_int_equal(fr_index_digest(ix, d1), 0);
    assert_int_equal(fr_index_digest(ld, d2), 0);
    assert_memory_equal(d1, d2, 32);
    float *q = probes(5, 6, 512, &g);
    assert_same_hits(ix, ld, q, 6, 10, 0, tombs(ix) == 0);   /* no tombstones: stored alike */
    assert_same_hits(ix, ld, q, 1, 10, 0, true);
    /* overwrite in place; no temporary left behind */
    assert_int_equal(fr_index_add(ld, 99999, 1, q), 0);
    assert_int_equal(fr_index_save(ld, path), 0);
    fr_index_free(ld);
    assert_int_equal(fr_index_load(path, &ld), 0);
    assert_int_equal(fr_index_size(ld), 601);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", tmpdir);
    assert_int_equal(system(cmd), 0);
    fr_index_free(ld);
    /* empty index */
    fr_index *e = new_index(3);
    assert_int_equal(fr_index_save(e, path), 0);
    fr_index_free(e);
    assert_int_equal(fr_index_load(path, &e), 0);
    assert_int_equal(fr_index_size(e), 0);
    assert_int_equal(fr_index_dim(e), 3);
    fr_index_free(e);
    /* missing file, unwritable place */
    snprintf(path, sizeof path, "%s/none.fidx", tmpdir);
    assert_int_equal(fr_index_load(path, &ld), -FR_E_IO);
    assert_null(ld);
    assert_int_equal(fr_index_save(ix, "/nonexistent-dir/x.fidx"), -FR_E_IO);
    free(q);
    gal_free(&g);
    fr_index_free(ix);
    rm_tmpdir();
}

static void write_bytes(const char *path, const uint8_t *b, size_t n) {
    assert_int_equal(fr_file_write(path, b, n), 0);
}

/* Rewrites the checksum of a snapshot buffer after a deliberate edit. */
static void reseal(uint8_t *b, size_t n) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len;
    assert_true(EVP_DigestInit_ex(md, EVP_sha256(), NULL));
    assert_true(EVP_DigestUpdate(md, b, 32));
    assert_true(EVP_DigestUpdate(md, b + 64, n - 64));
    assert_true(EVP_DigestFinal_ex(md, b + 32, &len));
    EVP_MD_CTX_free(md);
}

static void test_corrupt_snapshots(void **state) {
    use_kind(state);
    make_tmpdir();
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/good.fidx", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.fidx", tmpdir);
    struct gal g;
    fr_index *ix = make_index(&g, 6, 5, 43, 2), *ld = NULL;
    assert_int_equal(fr_index_save(ix, path), 0);
    uint8_t *b;
    size_t n;
    read_all(path, &b, &n);
    assert_int_equal(n, 64 + 5 * (16 + 4 * 6));
    /* every flipped byte is refused */
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x40;
        write_bytes(bad, b, n);
        int rc = fr_index_load(bad, &ld);
        assert_true(rc == -FR_E_INVALID_ARGUMENT || rc == -FR_E_IO);
        assert_null(ld);
        b[i] ^= 0x40;
    }
    /* every truncation, and one byte too many */
    for (size_t len = 0; len < n; len++) {
        write_bytes(bad, b, len);
        int rc = fr_index_load(bad, &ld);
        assert_true(rc == -FR_E_IO || rc == -FR_E_INVALID_ARGUMENT);
        assert_null(ld);
    }
    uint8_t *longer = fr_malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    write_bytes(bad, longer, n + 1);
    assert_int_equal(fr_index_load(bad, &ld), -FR_E_INVALID_ARGUMENT);
    fr_free(longer);
    /* a huge count in the header allocates nothing: refused by size */
    uint64_t huge = (uint64_t)1 << 60;
    memcpy(b + 24, &huge, 8);
    reseal(b, n);
    write_bytes(bad, b, n);
    assert_int_equal(fr_index_load(bad, &ld), -FR_E_IO);
    uint64_t five = 5;
    memcpy(b + 24, &five, 8);
    /* a correctly sealed file with a duplicate id, then with a NaN */
    memcpy(b + 64 + 8, b + 64, 8);
    reseal(b, n);
    write_bytes(bad, b, n);
    assert_int_equal(fr_index_load(bad, &ld), -FR_E_INVALID_ARGUMENT);
    assert_non_null(strstr(fr_err_detail(), "already there"));
    fr_free(b);
    read_all(path, &b, &n);
    float nan = NAN;
    memcpy(b + 64 + 16 * 5 + 4 * 7, &nan, 4);
    reseal(b, n);
    write_bytes(bad, b, n);
    assert_int_equal(fr_index_load(bad, &ld), -FR_E_INVALID_ARGUMENT);
    assert_non_null(strstr(fr_err_detail(), "not finite"));
    /* the untouched file still loads */
    assert_int_equal(fr_index_load(path, &ld), 0);
    fr_index_free(ld);
    /* a folder is not a snapshot */
    assert_int_equal(fr_index_load(tmpdir, &ld), -FR_E_IO);
    fr_free(b);
    gal_free(&g);
    fr_index_free(ix);
    rm_tmpdir();
}

static void test_digest_order_independent(void **state) {
    use_kind(state);
    struct gal g;
    fr_index *a = make_index(&g, 32, 400, 51, 9), *b = new_index(32);
    /* b: reverse order, with extra rows added and removed on the way */
    float junk[32];
    uint64_t seed = 3;
    for (size_t i = g.n; i-- > 0;) {
        assert_int_equal(fr_index_add(b, g.ids[i], g.labels[i], g.v + i * 32), 0);
        if (i % 10 == 0) {
            rand_unit_vec(&seed, junk, 32);
            assert_int_equal(fr_index_add(b, -(int64_t)i - 1, 0, junk), 0);
        }
    }
    for (size_t i = 0; i < g.n; i += 10) assert_int_equal(fr_index_remove(b, -(int64_t)i - 1), 0);
    uint8_t da[32], db[32], dc[32];
    assert_int_equal(fr_index_digest(a, da), 0);
    assert_int_equal(fr_index_digest(b, db), 0);
    assert_memory_equal(da, db, 32);
    /* the streaming form over the same rows in yet another order */
    struct fr_index_digest d;
    fr_index_digest_init(&d, 32);
    for (size_t i = 0; i < g.n; i++) {
        size_t j = (i * 37) % g.n;
        assert_int_equal(fr_index_digest_add(&d, g.ids[j], g.labels[j], g.v + j * 32), 0);
    }
    fr_index_digest_final(&d, dc);
    assert_memory_equal(da, dc, 32);
    /* any change shows: a label, a vector bit, a missing row */
    int64_t label;
    float v[32];
    assert_int_equal(fr_index_get(b, g.ids[5], &label, v), 0);
    assert_int_equal(fr_index_remove(b, g.ids[5]), 0);
    assert_int_equal(fr_index_digest(b, db), 0);
    assert_memory_not_equal(da, db, 32);
    assert_int_equal(fr_index_add(b, g.ids[5], label + 1, v), 0);
    assert_int_equal(fr_index_digest(b, db), 0);
    assert_memory_not_equal(da, db, 32);
    assert_int_equal(fr_index_remove(b, g.ids[5]), 0);
    v[7] = nextafterf(v[7], 2.0f);
    assert_int_equal(fr_index_add(b, g.ids[5], label, v), 0);
    assert_int_equal(fr_index_digest(b, db), 0);
    assert_memory_not_equal(da, db, 32);
    /* empty indexes of the same dim agree; of another dim not */
    fr_index *e1, *e2;
    assert_int_equal(fr_index_new_exact(32, &e1), 0);
    assert_int_equal(fr_index_new_exact(33, &e2), 0);
    assert_int_equal(fr_index_digest(e1, da), 0);
    assert_int_equal(fr_index_digest(e2, db), 0);
    assert_memory_not_equal(da, db, 32);
    fr_index_free(e1);
    fr_index_free(e2);
    gal_free(&g);
    fr_index_free(a);
    fr_index_free(b);
}

/* ---- allocation failure ---- */

/* Everything that allocates, once; returns the first error. */
static int alloc_scenario(const char *dir) {
    fr_index *ix = NULL, *ld = NULL;
    fr_index_set *s = NULL;
    float v[16], q[5 * 16];
    struct fr_hit hits[5 * 3];
    int nh[5];
    char path[128];
    uint64_t seed = 1;
    snprintf(path, sizeof path, "%s/s.fidx", dir);
    int rc = fr_index_new(kind, 16, &ix);
    for (int i = 0; rc == 0 && i < 200; i++) {
        rand_unit_vec(&seed, v, 16);
        rc = fr_index_add(ix, i, i % 4, v);
    }
    for (int i = 0; i < 5; i++) rand_unit_vec(&seed, q + i * 16, 16);
    if (rc == 0) rc = fr_index_search(ix, q, 5, 3, -INFINITY, 0, hits, nh);
    if (rc == 0) rc = fr_index_search(ix, q, 1, 3, -INFINITY, FR_INDEX_PER_LABEL, hits, nh);
    /* 70 removes: past the tombstones' rebuild point in a kind without remove */
    for (int i = 0; rc == 0 && i < 70; i++) rc = fr_index_remove(ix, i * 2);
    if (rc == 0) rc = fr_index_search(ix, q, 5, 3, -INFINITY, FR_INDEX_PER_LABEL, hits, nh);
    if (rc == 0) rc = fr_index_search(ix, q, 1, 3, -INFINITY, 0, hits, nh);
    if (rc == 0) rc = fr_index_save(ix, path);
    if (rc == 0) rc = fr_index_load(path, &ld);
    if (rc == 0) rc = new_set(16, &s);
    for (int i = 0; rc == 0 && i < 40; i++) rc = fr_index_set_add(s, i % 3, i % 2 ? "m1" : "m2", i, i, v);
    for (int i = 0; rc == 0 && i < 10; i++) rc = fr_index_set_remove(s, i % 3, i % 2 ? "m1" : "m2", i);
    if (rc == 0) {
        rc = fr_index_set_put(s, 7, "m1", ld);
        ld = NULL;
    }
    if (rc == 0) rc = fr_index_set_search(s, 7, "m1", q, 5, 3, -INFINITY, 0, hits, nh);
    if (rc == 0) rc = fr_index_set_search(s, 8, "m1", q, 5, 3, -INFINITY, 0, hits, nh);
    if (rc == 0) rc = fr_index_set_save_all(s, dir);
    if (rc == 0) rc = fr_index_set_drop_client(s, 1);
    if (rc == 0) rc = fr_index_set_load_all(s, dir);
    fr_index_set_free(s);
    fr_index_free(ld);
    fr_index_free(ix);
    return rc;
}

static void test_alloc_failures(void **state) {
    use_kind(state);
    make_tmpdir();
    size_t base = fr_mem_used();
    fr_log_set_level(FR_LOG_ERROR);   /* load_all warns about each file it could not load */
    int n;
    for (n = 1; n < 10000; n++) {
        fr_alloc_fail_after(n);
        int rc = alloc_scenario(tmpdir);
        fr_alloc_fail_after(0);
        assert_int_equal(fr_mem_used(), base);
        if (rc == 0) break;
        if (rc != -FR_E_NOMEM) fail_msg("allocation %d: rc %d (%s)", n, rc, fr_err_detail());
    }
    fr_log_set_level(FR_LOG_INFO);
    printf("%d allocation points checked\n", n - 1);
    assert_true(n > 20 && n < 10000);
    /* a failed add leaves the index as it was (growth boundary at 64 rows) */
    fr_index *ix = new_index(8);
    float v[8] = { 1 };
    for (int i = 0; i < 64; i++) assert_int_equal(fr_index_add(ix, i, 0, v), 0);
    for (int f = 1; f <= 10; f++) {
        fr_alloc_fail_after(f);
        int rc = fr_index_add(ix, 64, 0, v);
        fr_alloc_fail_after(0);
        if (rc == 0) break;
        assert_int_equal(rc, -FR_E_NOMEM);
        assert_int_equal(fr_index_size(ix), 64);
        int64_t label;
        assert_int_equal(fr_index_get(ix, 64, &label, NULL), -FR_E_NOT_FOUND);
        assert_int_equal(fr_index_get(ix, 63, &label, NULL), 0);
    }
    assert_int_equal(fr_index_size(ix), 65);
    fr_index_free(ix);
    rm_tmpdir();
}

/* ---- the collection set ---- */

static void count_fn(void *arg, int64_t client, const char *model, size_t n) {
    char *out = arg;
    char line[64];
    snprintf(line, sizeof line, "%lld/%s=%zu;", (long long)client, model, n);
    strcat(out, line);
}

static void test_set_basic(void **state) {
    use_kind(state);
    make_tmpdir();
    fr_index_set *s;
    assert_int_equal(new_set(16, &s), 0);
    float v[16];
    uint64_t seed = 9;
    for (int i = 0; i < 30; i++) {
        rand_unit_vec(&seed, v, 16);
        assert_int_equal(fr_index_set_add(s, i % 3, i % 2 ? "arc-v1" : "arc-v2", i, i / 2, v), 0);
    }
    assert_int_equal(fr_index_set_add(s, 1, "bad/model", 1, 1, v), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_set_add(s, 1, "", 1, 1, v), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_set_add(s, 0, "arc-v2", 0, 0, v), -FR_E_INVALID_ARGUMENT);   /* duplicate id */
    assert_int_equal(fr_index_set_size(s, 0), 10);
    assert_int_equal(fr_index_set_size(s, 1), 10);
    assert_int_equal(fr_index_set_size(s, 5), 0);
    assert_int_equal(fr_index_set_total(s), 30);
    char buf[256] = "";
    fr_index_set_foreach(s, count_fn, buf);
    assert_string_equal(buf, "0/arc-v1=5;0/arc-v2=5;1/arc-v1=5;1/arc-v2=5;2/arc-v1=5;2/arc-v2=5;");
    /* a search sees only its client and model */
    struct fr_hit h[40];
    int n;
    assert_int_equal(fr_index_set_search(s, 1, "arc-v1", v, 1, 40, -INFINITY, 0, h, &n), 0);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) assert_true(h[i].id % 3 == 1 && h[i].id % 2 == 1);
    assert_int_equal(fr_index_set_search(s, 9, "arc-v1", v, 1, 4, -INFINITY, 0, h, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fr_index_set_search(s, 9, "arc-v1", v, 1, 0, -INFINITY, 0, h, &n), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_set_remove(s, 9, "arc-v1", 1), -FR_E_NOT_FOUND);
    assert_int_equal(fr_index_set_remove(s, 1, "arc-v1", 2), -FR_E_NOT_FOUND);
    assert_int_equal(fr_index_set_remove(s, 1, "arc-v1", 1), 0);
    assert_int_equal(fr_index_set_size(s, 1), 9);
    /* digest of a missing collection is the empty digest */
    uint8_t d1[32], d2[32];
    fr_index *e = new_index(16);
    assert_int_equal(fr_index_digest(e, d1), 0);
    assert_int_equal(fr_index_set_digest(s, 42, "arc-v1", d2), 0);
    assert_memory_equal(d1, d2, 32);
    /* put replaces; a wrong dimension is refused (and freed) */
    assert_int_equal(fr_index_add(e, 1000, 1, v), 0);
    assert_int_equal(fr_index_set_put(s, 2, "arc-v1", e), 0);
    assert_int_equal(fr_index_set_size(s, 2), 6);
    fr_index *wrong = new_index(15);
    assert_int_equal(fr_index_set_put(s, 2, "arc-v1", wrong), -FR_E_INVALID_ARGUMENT);
    /* save all, drop, load all */
    uint8_t before[6][32];
    static const char *models[2] = { "arc-v1", "arc-v2" };
    for (int c = 0; c < 3; c++)
        for (int m = 0; m < 2; m++) assert_int_equal(fr_index_set_digest(s, c, models[m], before[c * 2 + m]), 0);
    char stale[160];
    snprintf(stale, sizeof stale, "%s/c77-gone.fidx", tmpdir);
    write_bytes(stale, (const uint8_t *)"x", 1);
    snprintf(stale, sizeof stale, "%s/c1-arc-v1.fidx.tmp.abcdef", tmpdir);
    write_bytes(stale, (const uint8_t *)"x", 1);
    snprintf(stale, sizeof stale, "%s/other.txt", tmpdir);
    write_bytes(stale, (const uint8_t *)"x", 1);
    assert_int_equal(fr_index_set_save_all(s, tmpdir), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cd %s && test \"$(ls | tr '\\n' ' ')\" = 'c0-arc-v1.fidx c0-arc-v2.fidx c1-arc-v1.fidx "
             "c1-arc-v2.fidx c2-arc-v1.fidx c2-arc-v2.fidx other.txt '", tmpdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fr_index_set_drop_client(s, 1), 0);
    assert_int_equal(fr_index_set_drop_client(s, 1), 0);
    assert_int_equal(fr_index_set_size(s, 1), 0);
    assert_int_equal(fr_index_set_total(s), 16);
    fr_index_set_free(s);
    assert_int_equal(new_set(16, &s), 0);
    assert_int_equal(fr_index_set_load_all(s, tmpdir), 0);
    assert_int_equal(fr_index_set_total(s), 25);
    for (int c = 0; c < 3; c++)
        for (int m = 0; m < 2; m++) {
            assert_int_equal(fr_index_set_digest(s, c, models[m], d1), 0);
            assert_memory_equal(d1, before[c * 2 + m], 32);
        }
    /* a damaged file is skipped, the others load, the error is reported */
    snprintf(stale, sizeof stale, "%s/c5-x.fidx", tmpdir);
    write_bytes(stale, (const uint8_t *)"garbage", 7);
    fr_index_set_free(s);
    assert_int_equal(new_set(16, &s), 0);
    fr_log_set_level(FR_LOG_ERROR);
    assert_int_equal(fr_index_set_load_all(s, tmpdir), -FR_E_IO);
    fr_log_set_level(FR_LOG_INFO);
    assert_int_equal(fr_index_set_total(s), 25);
    assert_int_equal(fr_index_set_load_all(s, "/nonexistent-dir"), -FR_E_IO);
    fr_index_set_free(s);
    fr_index_set_free(NULL);
    rm_tmpdir();
}

enum { CDIM = 64, STABLE = 50, SEARCHERS = 3 };
static float stable_v[STABLE][CDIM];
static atomic_bool stop;
static atomic_long n_searches;

static atomic_int n_errors;   /* cmocka's asserts may not fire off the main thread */

static void *searcher(void *arg) {
    fr_index_set *s = arg;
    struct fr_hit h[4 * 3];
    int nh[4];
    float q[4 * CDIM];
    uint64_t seed = (uint64_t)pthread_self();
    while (!atomic_load(&stop)) {
        int nq = rng_next(&seed) % 2 ? 1 : 4;
        int who[4];
        for (int i = 0; i < nq; i++) {
            who[i] = (int)(rng_next(&seed) % STABLE);
            memcpy(q + i * CDIM, stable_v[who[i]], sizeof stable_v[0]);
        }
        if (fr_index_set_search(s, 1, "m", q, nq, 3, -INFINITY, 0, h, nh) != 0) atomic_fetch_add(&n_errors, 1);
        for (int i = 0; i < nq; i++)
            if (nh[i] < 1 || h[i * 3].id != who[i] || fabsf(h[i * 3].score - 1.0f) > 1e-4f)
                atomic_fetch_add(&n_errors, 1);
        atomic_fetch_add(&n_searches, 1);
    }
    return NULL;
}

/* Adds rows and removes the oldest, keeping up to 500 of its own; every 100
 * operations another client's collection is created and one dropped. */
static void *writer(void *arg) {
    fr_index_set *s = arg;
    float v[CDIM];
    uint64_t seed = 1234;
    enum { KEEP = 500 };
    for (int64_t id = 1000; id < 1000 + 20000; id++) {
        rand_unit_vec(&seed, v, CDIM);
        if (fr_index_set_add(s, 1, "m", id, id % 10, v) != 0) atomic_fetch_add(&n_errors, 1);
        if (id >= 1000 + KEEP && fr_index_set_remove(s, 1, "m", id - KEEP) != 0) atomic_fetch_add(&n_errors, 1);
        if (id % 100 == 0) {
            if (fr_index_set_add(s, 2 + id % 7, "m", id, 0, v) != 0) atomic_fetch_add(&n_errors, 1);
            if (fr_index_set_drop_client(s, 2 + (id + 300) % 7) != 0) atomic_fetch_add(&n_errors, 1);
        }
    }
    return NULL;
}

static void test_set_concurrent(void **state) {
    use_kind(state);
    fr_index_set *s;
    assert_int_equal(new_set(CDIM, &s), 0);
    uint64_t seed = 77;
    for (int i = 0; i < STABLE; i++) {
        rand_unit_vec(&seed, stable_v[i], CDIM);
        assert_int_equal(fr_index_set_add(s, 1, "m", i, i, stable_v[i]), 0);
    }
    atomic_store(&stop, false);
    atomic_store(&n_searches, 0);
    atomic_store(&n_errors, 0);
    pthread_t th[SEARCHERS], w;
    for (int i = 0; i < SEARCHERS; i++) assert_int_equal(pthread_create(&th[i], NULL, searcher, s), 0);
    assert_int_equal(pthread_create(&w, NULL, writer, s), 0);
    pthread_join(w, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < SEARCHERS; i++) pthread_join(th[i], NULL);
    printf("%ld searches beside 20000 adds\n", atomic_load(&n_searches));
    assert_int_equal(atomic_load(&n_errors), 0);
    assert_true(atomic_load(&n_searches) > 0);
    assert_int_equal(fr_index_set_size(s, 1), STABLE + 500);
    fr_index_set_free(s);
}

/* ---- tombstones: a kind without remove ---- */

/* The best hit, removed, never comes back: k = 1 per row and per label,
 * single probe and batched, against the brute force after every remove. */
static void test_tomb_remove_best_hit(void **state) {
    use_kind(state);
    kind = KIND_TOMB;
    struct gal g;
    int dim = 32;
    fr_index *ix = make_index(&g, dim, 300, 61, 25);
    float q[8 * 32];
    struct fr_hit h[8];
    int nh[8];
    for (int t = 0; t < 40; t++) {
        int64_t id = g.ids[(size_t)t * 7 % g.n], label;
        for (int p = 0; p < 8; p++) assert_int_equal(fr_index_get(ix, id, &label, q + p * dim), 0);
        assert_int_equal(fr_index_search(ix, q, 1, 1, -INFINITY, 0, h, nh), 0);
        assert_int_equal(h[0].id, id);
        assert_int_equal(fr_index_remove(ix, id), 0);
        gal_del(&g, id);
        assert_int_equal(fr_index_get(ix, id, &label, NULL), -FR_E_NOT_FOUND);
        assert_int_equal(fr_index_remove(ix, id), -FR_E_NOT_FOUND);
        for (unsigned flags = 0; flags <= FR_INDEX_PER_LABEL; flags += FR_INDEX_PER_LABEL)
            for (int nq = 1; nq <= 8; nq += 7) {
                assert_int_equal(fr_index_search(ix, q, nq, 1, -INFINITY, flags, h, nh), 0);
                for (int p = 0; p < nq; p++) {
                    assert_int_equal(nh[p], 1);
                    assert_true(h[p].id != id);
                }
                search_and_check(ix, &g, q, nq, 1, -INFINITY, flags);
                search_and_check(ix, &g, q, nq, 7, -INFINITY, flags);
                search_and_check(ix, &g, q, nq, 3, 0.2f, flags);
            }
    }
    assert_int_equal(tombs(ix), 40);   /* under the rebuild minimum: all still stored */
    assert_int_equal(fr_index_size(ix), 260);
    assert_int_equal(stored(ix), 300);
    /* a label whose every row is dead drops out of per-label results */
    int64_t lab = g.labels[0];
    for (size_t i = g.n; i-- > 0;)
        if (g.labels[i] == lab) {
            assert_int_equal(fr_index_remove(ix, g.ids[i]), 0);
            gal_del(&g, g.ids[i]);
        }
    float *pq = probes(3, 8, dim, &g);
    search_and_check(ix, &g, pq, 8, 30, -INFINITY, FR_INDEX_PER_LABEL);
    search_and_check(ix, &g, pq, 8, 300, -INFINITY, 0);   /* k > rows */
    free(pq);
    gal_free(&g);
    fr_index_free(ix);
}

/* The same random adds, removes and re-adds (of the same row and of another)
 * on an exact index and on one without remove: equal sizes, digests, gets
 * and answers all along, with rebuilds on the way. */
static void test_tomb_same_as_exact(void **state) {
    use_kind(state);
    int dim = 24;
    fr_index *ex, *tb;
    assert_int_equal(fr_index_new("exact", dim, &ex), 0);
    assert_int_equal(fr_index_new(KIND_TOMB, dim, &tb), 0);
    struct gal g;
    gal_init(&g, dim, 4000);
    int64_t gone[4000];   /* removed ids and their rows, for re-adds */
    int64_t gone_label[4000];
    float *gone_v = calloc(4000 * (size_t)dim, sizeof(float));
    size_t n_gone = 0;
    uint64_t seed = 5150;
    float v[24];
    int64_t next_id = 1;
    int rebuilds = 0, revived = 0, readded = 0;
    for (int op = 0; op < 4000; op++) {
        uint64_t r = rng_next(&seed) % 100;
        if (r < 55 || g.n < 20) {   /* a new row */
            rand_unit_vec(&seed, v, dim);
            int64_t label = (int64_t)(rng_next(&seed) % 40);
            assert_int_equal(fr_index_add(ex, next_id, label, v), 0);
            assert_int_equal(fr_index_add(tb, next_id, label, v), 0);
            gal_push(&g, next_id++, label, v);
        } else if (r < 90 || n_gone == 0) {   /* remove a live row */
            size_t i = rng_next(&seed) % g.n;
            int64_t id = g.ids[i];
            size_t before = tombs(tb);
            gone[n_gone] = id;
            gone_label[n_gone] = g.labels[i];
            memcpy(gone_v + n_gone * (size_t)dim, g.v + i * (size_t)dim, (size_t)dim * sizeof(float));
            n_gone++;
            assert_int_equal(fr_index_remove(ex, id), 0);
            assert_int_equal(fr_index_remove(tb, id), 0);
            gal_del(&g, id);
            if (tombs(tb) < before) {
                rebuilds++;
                assert_int_equal(tombs(tb), 0);
                assert_true(before + 1 >= FR__INDEX_TOMB_MIN);
                assert_int_equal(stored(tb), g.n);
            }
        } else {   /* re-add a removed id: its old row, or another label and vector */
            size_t j = rng_next(&seed) % n_gone;
            int64_t id = gone[j], label = gone_label[j];
            memcpy(v, gone_v + j * (size_t)dim, sizeof v);
            bool same = rng_next(&seed) % 2;
            if (!same) {
                rand_unit_vec(&seed, v, dim);
                label = 99;
            }
            size_t before = tombs(tb);
            assert_int_equal(fr_index_add(ex, id, label, v), 0);
            assert_int_equal(fr_index_add(tb, id, label, v), 0);
            gal_push(&g, id, label, v);
            if (before && tombs(tb) == before - 1) revived++;
            if (before && tombs(tb) == 0) readded++;   /* rebuilt first */
            gone[j] = gone[--n_gone];
            gone_label[j] = gone_label[n_gone];
            memcpy(gone_v + j * (size_t)dim, gone_v + n_gone * (size_t)dim, (size_t)dim * sizeof(float));
        }
        assert_int_equal(fr_index_size(tb), g.n);
        if (op % 400 == 399) {
            uint8_t de[32], dt[32];
            assert_int_equal(fr_index_digest(ex, de), 0);
            assert_int_equal(fr_index_digest(tb, dt), 0);
            assert_memory_equal(de, dt, 32);
            for (size_t j = 0; j < n_gone; j++) {
                int64_t label;
                assert_int_equal(fr_index_get(tb, gone[j], &label, NULL), -FR_E_NOT_FOUND);
            }
            float *q = probes((uint64_t)op, 6, dim, &g);
            search_and_check(tb, &g, q, 6, 10, -INFINITY, 0);
            search_and_check(tb, &g, q, 6, 5, -INFINITY, FR_INDEX_PER_LABEL);
            search_and_check(tb, &g, q, 6, 8, 0.3f, FR_INDEX_PER_LABEL);
            search_and_check(ex, &g, q, 6, 10, -INFINITY, 0);
            free(q);
        }
    }
    printf("%d rebuilds, %d rows revived, %d re-added through a rebuild\n", rebuilds, revived, readded);
    assert_true(rebuilds >= 2 && revived >= 1 && readded >= 1);
    free(gone_v);
    gal_free(&g);
    fr_index_free(ex);
    fr_index_free(tb);
}

/* Rebuild: not before TOMB_MIN tombstones nor before a tenth of the rows,
 * then at once; the answers are the same before and after. */
static void test_tomb_rebuild(void **state) {
    use_kind(state);
    kind = KIND_TOMB;
    struct gal g;
    int dim = 64;
    fr_index *ix = make_index(&g, dim, 1000, 71, 37);
    struct gal g2;
    fr_index *twin = make_index(&g2, dim, 1000, 71, 37);   /* the same rows */
    gal_free(&g2);
    float *q = probes(13, 12, dim, &g);
    for (int t = 0; t < 99; t++) {
        int64_t id = g.ids[(size_t)t * 13 % g.n];
        assert_int_equal(fr_index_remove(ix, id), 0);
        assert_int_equal(fr_index_remove(twin, id), 0);
        gal_del(&g, id);
    }
    assert_int_equal(tombs(ix), 99);   /* 99 < 1000 / 10 */
    assert_int_equal(stored(ix), 1000);
    /* forced rebuild: the same answers, on both search paths */
    uint8_t d1[32], d2[32];
    assert_int_equal(fr_index_digest(ix, d1), 0);
    for (unsigned flags = 0; flags <= FR_INDEX_PER_LABEL; flags += FR_INDEX_PER_LABEL) {
        assert_same_hits(ix, twin, q, 1, 10, flags, true);
        assert_same_hits(ix, twin, q, 12, 10, flags, false);
    }
    assert_int_equal(fr__index_compact(ix), 0);
    assert_int_equal(tombs(ix), 0);
    assert_int_equal(stored(ix), 901);
    assert_int_equal(fr_index_digest(ix, d2), 0);
    assert_memory_equal(d1, d2, 32);
    for (unsigned flags = 0; flags <= FR_INDEX_PER_LABEL; flags += FR_INDEX_PER_LABEL) {
        for (int p = 0; p < 12; p++) {
            assert_same_hits(ix, twin, q + p * dim, 1, 10, flags, true);
            assert_same_hits(ix, twin, q + p * dim, 1, 1000, flags, true);   /* every row, in order */
        }
        assert_same_hits(ix, twin, q, 12, 10, flags, false);
    }
    search_and_check(ix, &g, q, 12, 10, -INFINITY, 0);
    /* the 100th remove is a tenth of 1000: the twin rebuilds by itself */
    int64_t id = g.ids[0];
    assert_int_equal(fr_index_remove(twin, id), 0);
    assert_int_equal(fr_index_remove(ix, id), 0);
    gal_del(&g, id);
    assert_int_equal(tombs(twin), 0);
    assert_int_equal(stored(twin), 900);
    assert_int_equal(tombs(ix), 1);
    search_and_check(twin, &g, q, 12, 10, -INFINITY, 0);
    search_and_check(twin, &g, q, 12, 5, -INFINITY, FR_INDEX_PER_LABEL);
    assert_same_hits(ix, twin, q, 1, 10, 0, true);
    free(q);
    gal_free(&g);
    fr_index_free(ix);
    fr_index_free(twin);
    /* a small index waits for TOMB_MIN: 63 of 100 removed is not yet a rebuild */
    ix = make_index(&g, 8, 100, 72, 5);
    for (int t = 0; t < FR__INDEX_TOMB_MIN - 1; t++) assert_int_equal(fr_index_remove(ix, g.ids[t]), 0);
    assert_int_equal(tombs(ix), FR__INDEX_TOMB_MIN - 1);
    assert_int_equal(fr_index_remove(ix, g.ids[FR__INDEX_TOMB_MIN - 1]), 0);
    assert_int_equal(tombs(ix), 0);
    assert_int_equal(stored(ix), 100 - FR__INDEX_TOMB_MIN);
    gal_free(&g);
    fr_index_free(ix);
}

/* A snapshot keeps the kind and only the live rows; a set refuses a
 * snapshot of another kind than the collection's, and any build refuses a
 * kind number it does not have. */
static const char *kind_by_model(void *ctx, int64_t client, const char *model) {
    const char *const *map = ctx;   /* model, kind, model, kind, ..., NULL */
    (void)client;
    for (; map[0]; map += 2)
        if (strcmp(map[0], model) == 0) return map[1];
    return NULL;
}

static void test_tomb_snapshot(void **state) {
    use_kind(state);
    kind = KIND_TOMB;
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/c3-m.fidx", tmpdir);
    struct gal g;
    int dim = 48;
    fr_index *ix = make_index(&g, dim, 500, 81, 30), *ld;
    for (int t = 0; t < 40; t++) {
        int64_t id = g.ids[(size_t)t * 11 % g.n];
        assert_int_equal(fr_index_remove(ix, id), 0);
        gal_del(&g, id);
    }
    assert_int_equal(tombs(ix), 40);
    assert_int_equal(fr_index_save(ix, path), 0);
    assert_int_equal(fr_index_load(path, &ld), 0);
    assert_string_equal(fr_index_kind(ld), KIND_TOMB);
    assert_int_equal(fr_index_size(ld), 460);
    assert_int_equal(stored(ld), 460);
    assert_int_equal(tombs(ld), 0);
    uint8_t d1[32], d2[32];
    assert_int_equal(fr_index_digest(ix, d1), 0);
    assert_int_equal(fr_index_digest(ld, d2), 0);
    assert_memory_equal(d1, d2, 32);
    float *q = probes(17, 6, dim, &g);
    search_and_check(ld, &g, q, 6, 10, -INFINITY, 0);
    assert_same_hits(ix, ld, q, 1, 10, 0, true);
    assert_same_hits(ix, ld, q, 1, 4, FR_INDEX_PER_LABEL, true);
    fr_index_free(ld);
    uint8_t *b;
    size_t n;
    read_all(path, &b, &n);
    uint32_t knum;
    memcpy(&knum, b + 12, 4);
    assert_int_equal(knum, KIND_TOMB_NUMBER);
    assert_int_equal(n, 64 + 460 * (16 + 4 * (size_t)dim));
    /* a kind number this build does not have */
    knum = 4242;
    memcpy(b + 12, &knum, 4);
    reseal(b, n);
    char bad[128];
    snprintf(bad, sizeof bad, "%s/other", tmpdir);
    write_bytes(bad, b, n);
    assert_int_equal(fr_index_load(bad, &ld), -FR_E_INVALID_ARGUMENT);
    assert_non_null(strstr(fr_err_detail(), "kind 4242"));
    assert_int_equal(unlink(bad), 0);
    fr_free(b);
    /* through a set: loads where model m is of this kind, is stale where exact */
    const char *tomb_map[] = { "m", KIND_TOMB, NULL }, *exact_map[] = { "m", "exact", NULL };
    fr_index_set *s;
    assert_int_equal(fr_index_set_new_opts(&(struct fr_index_set_opts){ 48, kind_by_model, tomb_map }, &s), 0);
    assert_int_equal(fr_index_set_load_all(s, tmpdir), 0);
    assert_int_equal(fr_index_set_count(s, 3, "m"), 460);
    assert_int_equal(fr_index_set_digest(s, 3, "m", d2), 0);
    assert_memory_equal(d1, d2, 32);
    fr_index_set_free(s);
    assert_int_equal(fr_index_set_new_opts(&(struct fr_index_set_opts){ 48, kind_by_model, exact_map }, &s), 0);
    fr_log_set_level(FR_LOG_ERROR);
    assert_int_equal(fr_index_set_load_all(s, tmpdir), -FR_E_INVALID_ARGUMENT);
    fr_log_set_level(FR_LOG_INFO);
    assert_int_equal(fr_index_set_count(s, 3, "m"), 0);
    assert_int_equal(fr_index_set_total(s), 0);
    fr_index_set_free(s);
    free(q);
    gal_free(&g);
    fr_index_free(ix);
    rm_tmpdir();
}

/* kind_for picks each collection's kind: two of different kinds in one set
 * fed the same rows agree on everything; an unknown kind fails the add. */
static void test_set_kind_per_collection(void **state) {
    use_kind(state);
    make_tmpdir();
    const char *map[] = { "fast", KIND_TOMB, "ref", "exact", "bad", "nope", NULL };
    struct fr_index_set_opts o = { .dim = 16, .kind_for = kind_by_model, .ctx = map };
    fr_index_set *s;
    assert_int_equal(fr_index_set_new_opts(&o, &s), 0);
    assert_string_equal(fr_index_set_kind(s, 1, "fast"), KIND_TOMB);
    assert_string_equal(fr_index_set_kind(s, 1, "ref"), "exact");
    assert_string_equal(fr_index_set_kind(s, 1, "other"), "exact");   /* a NULL answer */
    assert_null(fr_index_set_kind(NULL, 1, "ref"));
    float v[16];
    uint64_t seed = 4;
    for (int i = 0; i < 400; i++) {
        rand_unit_vec(&seed, v, 16);
        assert_int_equal(fr_index_set_add(s, 1, "fast", i, i % 9, v), 0);
        assert_int_equal(fr_index_set_add(s, 1, "ref", i, i % 9, v), 0);
    }
    for (int i = 0; i < 400; i += 3) {
        assert_int_equal(fr_index_set_remove(s, 1, "fast", i), 0);
        assert_int_equal(fr_index_set_remove(s, 1, "ref", i), 0);
    }
    assert_int_equal(fr_index_set_remove(s, 1, "fast", 0), -FR_E_NOT_FOUND);
    assert_int_equal(fr_index_set_count(s, 1, "fast"), 266);
    assert_int_equal(fr_index_set_count(s, 1, "ref"), 266);
    uint8_t d1[32], d2[32];
    assert_int_equal(fr_index_set_digest(s, 1, "fast", d1), 0);
    assert_int_equal(fr_index_set_digest(s, 1, "ref", d2), 0);
    assert_memory_equal(d1, d2, 32);
    float q[4 * 16];
    for (int p = 0; p < 4; p++) rand_unit_vec(&seed, q + p * 16, 16);
    struct fr_hit h1[4 * 5], h2[4 * 5];
    int n1[4], n2[4];
    for (unsigned flags = 0; flags <= FR_INDEX_PER_LABEL; flags += FR_INDEX_PER_LABEL) {
        assert_int_equal(fr_index_set_search(s, 1, "fast", q, 4, 5, -INFINITY, flags, h1, n1), 0);
        assert_int_equal(fr_index_set_search(s, 1, "ref", q, 4, 5, -INFINITY, flags, h2, n2), 0);
        assert_memory_equal(n1, n2, sizeof n1);
        for (int i = 0; i < 4 * 5; i++) {
            assert_int_equal(h1[i].id, h2[i].id);
            assert_true(h1[i].id % 3 != 0);
        }
    }
    float *sv1, *sv2;
    int64_t *sl1, *sl2;
    size_t sn1, sn2;
    assert_int_equal(fr_index_set_sample(s, 1, "fast", 1000, 7, &sv1, &sl1, &sn1), 0);
    assert_int_equal(fr_index_set_sample(s, 1, "ref", 1000, 7, &sv2, &sl2, &sn2), 0);
    assert_int_equal(sn1, 266);
    assert_int_equal(sn2, 266);
    fr_free(sv1);
    fr_free(sl1);
    fr_free(sv2);
    fr_free(sl2);
    /* an unknown kind: the add fails with its code and creates nothing */
    assert_int_equal(fr_index_set_add(s, 1, "bad", 1, 1, v), -FR_E_INVALID_ARGUMENT);
    assert_non_null(strstr(fr_err_detail(), "nope"));
    char buf[256] = "";
    fr_index_set_foreach(s, count_fn, buf);
    assert_string_equal(buf, "1/fast=266;1/ref=266;");
    /* put checks the kind */
    fr_index *ix;
    assert_int_equal(fr_index_new("exact", 16, &ix), 0);
    assert_int_equal(fr_index_set_put(s, 1, "fast", ix), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_new(KIND_TOMB, 16, &ix), 0);
    assert_int_equal(fr_index_set_put(s, 1, "ref", ix), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_new(KIND_TOMB, 16, &ix), 0);
    assert_int_equal(fr_index_add(ix, 5000, 1, v), 0);
    assert_int_equal(fr_index_set_put(s, 2, "fast", ix), 0);
    assert_int_equal(fr_index_set_count(s, 2, "fast"), 1);
    /* save, then load into a set where fast became exact: fast is stale */
    assert_int_equal(fr_index_set_save_all(s, tmpdir), 0);
    fr_index_set_free(s);
    map[1] = "exact";
    assert_int_equal(fr_index_set_new_opts(&o, &s), 0);
    fr_log_set_level(FR_LOG_ERROR);
    assert_int_equal(fr_index_set_load_all(s, tmpdir), -FR_E_INVALID_ARGUMENT);
    fr_log_set_level(FR_LOG_INFO);
    buf[0] = 0;
    fr_index_set_foreach(s, count_fn, buf);
    assert_string_equal(buf, "1/ref=266;");
    fr_index_set_free(s);
    rm_tmpdir();
}

static void test_kinds_by_name(void **state) {
    use_kind(state);
    fr_index dummy, *ix = &dummy;
    assert_int_equal(fr_index_new("nope", 8, &ix), -FR_E_INVALID_ARGUMENT);
    assert_null(ix);
    assert_non_null(strstr(fr_err_detail(), "unknown kind nope"));
    assert_int_equal(fr_index_new(NULL, 8, &ix), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_new("exact", 8, NULL), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_new(KIND_TOMB, 0, &ix), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_index_kind_name(0), "exact");
    assert_string_equal(fr_index_kind_name(1), KIND_TOMB);
    assert_null(fr_index_kind_name(2));
    assert_null(fr_index_kind(NULL));
    assert_int_equal(fr_index_new_exact(8, &ix), 0);
    assert_string_equal(fr_index_kind(ix), "exact");
    assert_true(fr_index_reserve(ix, 100) == 0);
    fr_index_free(ix);
    assert_int_equal(fr_index_new(KIND_TOMB, 8, &ix), 0);
    assert_int_equal(fr_index_reserve(ix, 100), 0);   /* optional: no reserve, nothing to do */
    assert_int_equal(fr_index_remove(ix, 1), -FR_E_NOT_FOUND);
    fr_index_free(ix);
    /* the table refuses a second kind of the same name or number, or an incomplete one */
    assert_int_equal(fr__index_kind_register(&tomb_ops), -FR_E_INVALID_ARGUMENT);
    struct fr_index_ops o = fr__index_exact_ops;
    o.name = "exact-2";
    assert_int_equal(fr__index_kind_register(&o), -FR_E_INVALID_ARGUMENT);   /* number 1 is exact's */
    o.kind = 77;
    o.search = NULL;
    assert_int_equal(fr__index_kind_register(&o), -FR_E_INVALID_ARGUMENT);
    assert_null(fr__index_kind_find("exact-2"));
    fr_index_set *s;
    assert_int_equal(fr_index_set_new_opts(NULL, &s), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_index_set_new_opts(&(struct fr_index_set_opts){ .dim = 0 }, &s), -FR_E_INVALID_ARGUMENT);
}

/* Test name "f[exact-tomb]": f over the kind without remove. */
#define TOMB_TEST(f) { #f "[exact-tomb]", f, NULL, NULL, KIND_TOMB }

int main(void) {
    tomb_ops = fr__index_exact_ops;
    tomb_ops.name = KIND_TOMB;
    tomb_ops.kind = KIND_TOMB_NUMBER;
    tomb_ops.remove = NULL;
    tomb_ops.reserve = NULL;
    if (fr__index_kind_register(&tomb_ops) < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_exact_matches_reference),
        cmocka_unit_test(test_min_score_and_exact_match),
        cmocka_unit_test(test_remove_and_readd),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_per_label),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt_snapshots),
        cmocka_unit_test(test_digest_order_independent),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_set_basic),
        cmocka_unit_test(test_set_concurrent),
        TOMB_TEST(test_remove_and_readd),
        TOMB_TEST(test_save_load),
        TOMB_TEST(test_digest_order_independent),
        TOMB_TEST(test_alloc_failures),
        TOMB_TEST(test_set_basic),
        TOMB_TEST(test_set_concurrent),
        cmocka_unit_test(test_tomb_remove_best_hit),
        cmocka_unit_test(test_tomb_same_as_exact),
        cmocka_unit_test(test_tomb_rebuild),
        cmocka_unit_test(test_tomb_snapshot),
        cmocka_unit_test(test_set_kind_per_collection),
        cmocka_unit_test(test_kinds_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
