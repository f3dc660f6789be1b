/* Dot products of one probe with many rows, AVX-512 (see dot.c).
 *
 * The shape of dot_avx2.c at twice the width: four rows at a time, two
 * accumulators each (eight FMA chains), and a masked load for the last
 * dim % 16 floats, so any dim takes the vector path. */
#include "index/index_int.h"

#include <immintrin.h>

static inline __mmask16 tail_mask(int rem) { return (__mmask16)((1u << rem) - 1u); }

static float dot1(const float *q, const float *r, int dim) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= dim; j += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r + j), _mm512_loadu_ps(q + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r + j + 16), _mm512_loadu_ps(q + j + 16), a1);
    }
    for (; j + 16 <= dim; j += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r + j), _mm512_loadu_ps(q + j), a0);
    if (j < dim) {
        __mmask16 k = tail_mask(dim - j);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r + j), _mm512_maskz_loadu_ps(k, q + j), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

#define ROW_STEP(x)                                                          \
    a##x##0 = _mm512_fmadd_ps(_mm512_loadu_ps(r##x + j), q0, a##x##0);       \
    a##x##1 = _mm512_fmadd_ps(_mm512_loadu_ps(r##x + j + 16), q1, a##x##1);

#define ROW_TAIL(x) a##x##0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r##x + j), q0, a##x##0);

static void dot4(const float *q, const float *m, size_t stride, int dim, float *out) {
    const float *r0 = m, *r1 = m + stride, *r2 = m + 2 * stride, *r3 = m + 3 * stride;
    __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps(), a10 = _mm512_setzero_ps();
    __m512 a11 = _mm512_setzero_ps(), a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps();
    __m512 a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= dim; j += 32) {
        __m512 q0 = _mm512_loadu_ps(q + j), q1 = _mm512_loadu_ps(q + j + 16);
        ROW_STEP(0) ROW_STEP(1) ROW_STEP(2) ROW_STEP(3)
    }
    for (; j < dim; j += 16) {   /* the last 1..31 floats, masked where short */
        __mmask16 k = dim - j >= 16 ? (__mmask16)0xffff : tail_mask(dim - j);
        __m512 q0 = _mm512_maskz_loadu_ps(k, q + j);
        ROW_TAIL(0) ROW_TAIL(1) ROW_TAIL(2) ROW_TAIL(3)
    }
    out[0] = _mm512_reduce_add_ps(_mm512_add_ps(a00, a01));
    out[1] = _mm512_reduce_add_ps(_mm512_add_ps(a10, a11));
    out[2] = _mm512_reduce_add_ps(_mm512_add_ps(a20, a21));
    out[3] = _mm512_reduce_add_ps(_mm512_add_ps(a30, a31));
}

void fr__index_dot_avx512(const float *q, const float *m, size_t stride, int dim, size_t n, float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) dot4(q, m + i * stride, stride, dim, out + i);
    for (; i < n; i++) out[i] = dot1(q, m + i * stride, dim);
}
