/* Dot products of one probe with many rows: the portable kernel and the
 * run-time choice between it and the AVX2 / AVX-512 builds (dot_avx2.c,
 * dot_avx512.c, compiled with their ISA flags by file name).
 *
 * The portable kernel keeps 16 partial sums, so that the compiler can
 * vectorise it without -ffast-math (a single running sum is a dependency
 * chain it may not reorder); the SIMD builds do the same with registers. */
#include "index/index_int.h"

enum { LANES = 16 };

static float dot1(const float *q, const float *r, int dim) {
    float acc[LANES] = { 0 };
    int j = 0;
    for (; j + LANES <= dim; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += q[j + l] * r[j + l];
    for (; j < dim; j++) acc[0] += q[j] * r[j];
    float s = 0.0f;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

void fr__index_dot_ref(const float *q, const float *m, size_t stride, int dim, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = dot1(q, m + i * stride, dim);
}

fr__index_dot_fn fr__index_dot_get(void) {
    switch (fr_cpu_isa()) {
    case FR_ISA_AVX512: return fr__index_dot_avx512;
    case FR_ISA_AVX2:   return fr__index_dot_avx2;
    default:            return fr__index_dot_ref;
    }
}
