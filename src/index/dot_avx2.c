/* Dot products of one probe with many rows, AVX2 + FMA (see dot.c).
 *
 * Four rows at a time, two accumulators each: eight independent FMA chains
 * cover the FMA latency, and each probe chunk loaded serves four rows. For a
 * large gallery the scan is bound by memory bandwidth, not by these FMAs. */
#include "index/index_int.h"

#include <immintrin.h>

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float tail(const float *q, const float *r, int j, int dim) {
    float s = 0.0f;
    for (; j < dim; j++) s += q[j] * r[j];
    return s;
}

static float dot1(const float *q, const float *r, int dim) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= dim; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + j), _mm256_loadu_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + j + 8), _mm256_loadu_ps(q + j + 8), a1);
    }
    for (; j + 8 <= dim; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + j), _mm256_loadu_ps(q + j), a0);
    return hsum(_mm256_add_ps(a0, a1)) + tail(q, r, j, dim);
}

#define ROW_STEP(x)                                                          \
    a##x##0 = _mm256_fmadd_ps(_mm256_loadu_ps(r##x + j), q0, a##x##0);       \
    a##x##1 = _mm256_fmadd_ps(_mm256_loadu_ps(r##x + j + 8), q1, a##x##1);

static void dot4(const float *q, const float *m, size_t stride, int dim, float *out) {
    const float *r0 = m, *r1 = m + stride, *r2 = m + 2 * stride, *r3 = m + 3 * stride;
    __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps();
    __m256 a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
    __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= dim; j += 16) {
        __m256 q0 = _mm256_loadu_ps(q + j), q1 = _mm256_loadu_ps(q + j + 8);
        ROW_STEP(0) ROW_STEP(1) ROW_STEP(2) ROW_STEP(3)
    }
    out[0] = hsum(_mm256_add_ps(a00, a01));
    out[1] = hsum(_mm256_add_ps(a10, a11));
    out[2] = hsum(_mm256_add_ps(a20, a21));
    out[3] = hsum(_mm256_add_ps(a30, a31));
    if (j < dim) {   /* dim not a multiple of 16: finish the rows one by one */
        out[0] += dot1(q + j, r0 + j, dim - j);
        out[1] += dot1(q + j, r1 + j, dim - j);
        out[2] += dot1(q + j, r2 + j, dim - j);
        out[3] += dot1(q + j, r3 + j, dim - j);
    }
}

void fr__index_dot_avx2(const float *q, const float *m, size_t stride, int dim, size_t n, float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) dot4(q, m + i * stride, stride, dim, out + i);
    for (; i < n; i++) out[i] = dot1(q, m + i * stride, dim);
}
