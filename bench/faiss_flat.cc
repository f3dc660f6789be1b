// The peer of bench/index_bench.c: FAISS IndexFlatIP (Debian libfaiss-dev)
// on the same galleries and probes (same generator and seed), one thread
// (OpenMP and OpenBLAS), printing the same lines:
//   n=10000 add_ms=… / n=10000 single_ms=… batch_ms=… top1=…
//   build/bench/faiss_flat [SIZES] [SEED]
// Single probes take FAISS's sequential SIMD scan (nq below
// distance_compute_blas_threshold = 20), batches of 64 its BLAS path.
#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

constexpr int DIM = 512, K = 10, BATCH = 64, CHUNK = 4096;

// splitmix64, 24-bit uniform floats in [-1, 1), rows normalised in double:
// bit for bit the vectors of index_bench.c
uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rand_unit(uint64_t *s, float *v) {
    double n = 0;
    for (int j = 0; j < DIM; j++) {
        v[j] = (float)((double)(rng_next(s) >> 40) * 0x1p-24 * 2.0 - 1.0);
        n += (double)v[j] * (double)v[j];
    }
    double inv = 1.0 / std::sqrt(n);
    for (int j = 0; j < DIM; j++) v[j] = (float)((double)v[j] * inv);
}

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> t) {
    std::sort(t.begin(), t.end());
    size_t n = t.size();
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

int n_single(long n) { return n >= 1000000 ? 15 : 50; }
int n_batch_calls(long n) { return n >= 1000000 ? 3 : n >= 100000 ? 7 : 21; }

void bench_size(faiss::IndexFlatIP &ix, long n, const float *q) {
    std::vector<float> d(BATCH * K);
    std::vector<faiss::Index::idx_t> l(BATCH * K);
    long top1 = 0;
    int ns = n_single(n), nb = n_batch_calls(n);
    for (int i = 0; i < 2; i++) ix.search(1, q + (size_t)i * DIM, K, d.data(), l.data());
    std::vector<double> t;
    for (int i = 0; i < ns; i++) {
        double t0 = now_ms();
        ix.search(1, q + (size_t)i * DIM, K, d.data(), l.data());
        t.push_back(now_ms() - t0);
        top1 += (long)l[0];
    }
    double single = median(t);
    t.clear();
    for (int i = 0; i < nb; i++) {
        double t0 = now_ms();
        ix.search(BATCH, q, K, d.data(), l.data());
        t.push_back((now_ms() - t0) / BATCH);
    }
    std::printf("n=%ld single_ms=%.4f batch_ms=%.4f top1=%ld\n", n, single, median(t), top1);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
    const char *sizes = argc > 1 ? argv[1] : "10000,100000";
    uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 42;
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    uint64_t qs = seed ^ 0x5eedULL;
    std::vector<float> q((size_t)BATCH * DIM), chunk((size_t)CHUNK * DIM);
    for (int i = 0; i < BATCH; i++) rand_unit(&qs, q.data() + (size_t)i * DIM);
    faiss::IndexFlatIP ix(DIM);
    std::printf("faiss IndexFlatIP, dim %d, k %d, batch %d, 1 thread, blas threshold %d\n", DIM, K, BATCH,
                faiss::distance_compute_blas_threshold);
    long have = 0;
    for (const char *p = sizes; *p;) {
        char *end;
        long n = std::strtol(p, &end, 10);
        if (end == p || n < have) {
            std::fprintf(stderr, "faiss_flat: bad sizes %s\n", sizes);
            return 64;
        }
        double add_ms = 0;
        for (long i0 = have; i0 < n; i0 += CHUNK) {
            long m = std::min<long>(CHUNK, n - i0);
            for (long i = 0; i < m; i++) rand_unit(&seed, chunk.data() + (size_t)i * DIM);
            double t0 = now_ms();
            ix.add(m, chunk.data());   // FAISS numbers rows 0, 1, …: the ids index_bench gives
            add_ms += now_ms() - t0;
        }
        std::printf("n=%ld add_ms=%.1f\n", n, add_ms);
        have = n;
        bench_size(ix, n, q.data());
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}
