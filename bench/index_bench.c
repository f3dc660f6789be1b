/* Exact search speed of the facerec index (src/index) on galleries of random
 * unit vectors: ms per probe for one probe per call (median over probes) and
 * for batches of 64 probes per call (median call time / 64), top-10, one
 * thread. bench/faiss_flat.cc does the same with FAISS IndexFlatIP on the
 * same vectors (same generator and seed), and bench/index_bench.sh runs the
 * two alternately and prints the ratio.
 *
 *   build/bench/index_bench [SIZES] [SEED]      SIZES: comma-separated, ascending
 *                                               (default 10000,100000)
 * One line per size:
 *   n=10000 add_ms=… single_ms=… batch_ms=… top1=…
 * top1 is a checksum of the single probes' best ids, so the two programs can
 * be seen to agree. */
#include "facerec/index.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 512, K = 10, BATCH = 64, CHUNK = 4096 };

/* The shared generator (faiss_flat.cc has the same): splitmix64, 24-bit
 * uniform floats in [-1, 1), rows normalised in double. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rand_unit(uint64_t *s, float *v) {
    double n = 0;
    for (int j = 0; j < DIM; j++) {
        v[j] = (float)((double)(rng_next(s) >> 40) * 0x1p-24 * 2.0 - 1.0);
        n += (double)v[j] * (double)v[j];
    }
    double inv = 1.0 / sqrt(n);
    for (int j = 0; j < DIM; j++) v[j] = (float)((double)v[j] * inv);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void die(const char *what) {
    fprintf(stderr, "index_bench: %s: %s\n", what, fr_err_detail());
    exit(1);
}

/* Probes per size: every probe of a million-row gallery reads 2 GB. */
static int n_single(long n) { return n >= 1000000 ? 15 : 50; }
static int n_batch_calls(long n) { return n >= 1000000 ? 3 : n >= 100000 ? 7 : 21; }

static void bench_size(fr_index *ix, long n, const float *q) {
    static struct fr_hit hits[BATCH * K];
    static int nh[BATCH];
    double t[64];
    long top1 = 0;
    int ns = n_single(n), nb = n_batch_calls(n);
    for (int i = 0; i < 2; i++)   /* warm-up */
        if (fr_index_search(ix, q + (size_t)i * DIM, 1, K, -INFINITY, 0, hits, nh) < 0) die("search");
    for (int i = 0; i < ns; i++) {
        double t0 = fr_time_ms();
        if (fr_index_search(ix, q + (size_t)i * DIM, 1, K, -INFINITY, 0, hits, nh) < 0) die("search");
        t[i] = fr_time_ms() - t0;
        top1 += (long)hits[0].id;
    }
    double single = median(t, ns);
    for (int i = 0; i < nb; i++) {
        double t0 = fr_time_ms();
        if (fr_index_search(ix, q, BATCH, K, -INFINITY, 0, hits, nh) < 0) die("batch search");
        t[i] = (fr_time_ms() - t0) / BATCH;
    }
    double batch = median(t, nb);
    printf("n=%ld single_ms=%.4f batch_ms=%.4f top1=%ld\n", n, single, batch, top1);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *sizes = argc > 1 ? argv[1] : "10000,100000";
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    openblas_set_num_threads(1);   /* one thread, like the peer */
    uint64_t qs = seed ^ 0x5eedULL;
    float *q = malloc((size_t)BATCH * DIM * sizeof(float));
    float *chunk = malloc((size_t)CHUNK * DIM * sizeof(float));
    for (int i = 0; i < BATCH; i++) rand_unit(&qs, q + (size_t)i * DIM);
    fr_index *ix;
    if (fr_index_new_exact(DIM, &ix) < 0) die("new");
    printf("isa %s, dim %d, k %d, batch %d, 1 thread\n", fr_isa_name(fr_cpu_isa()), DIM, K, BATCH);
    long have = 0;
    for (const char *p = sizes; *p;) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p || n < have) { fprintf(stderr, "index_bench: bad sizes %s\n", sizes); return 64; }
        /* the gallery grows: rows [have, n) come next from the generator */
        if (fr_index_reserve(ix, (size_t)n) < 0) die("reserve");
        double add_ms = 0;
        for (long i0 = have; i0 < n; i0 += CHUNK) {
            long m = n - i0 < CHUNK ? n - i0 : CHUNK;
            for (long i = 0; i < m; i++) rand_unit(&seed, chunk + (size_t)i * DIM);
            double t0 = fr_time_ms();
            for (long i = 0; i < m; i++)
                if (fr_index_add(ix, i0 + i, (i0 + i) / 4, chunk + (size_t)i * DIM) < 0) die("add");
            add_ms += fr_time_ms() - t0;
        }
        printf("n=%ld add_ms=%.1f\n", n, add_ms);
        have = n;
        bench_size(ix, n, q);
        p = *end == ',' ? end + 1 : end;
    }
    fr_index_free(ix);
    free(q);
    free(chunk);
    return 0;
}
