/* Kernels built for AVX-512 (see kern_impl.h and dw3x3_impl.h). */
#include <immintrin.h>
#include <stdint.h>

#define V_W 16
#define V_T __m512
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_LOAD_N(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1), p)
#define PW_MR 12
#define C3_OB 8
#define C3_REP(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define PW_REP(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_DIV(a, b) _mm512_div_ps(a, b)
#define V_ROUND(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_POW2(n) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define V_ABS(a) _mm512_abs_ps(a)
/* x > c ? b : a */
#define V_SEL_GT(x, c, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, c, _CMP_GT_OQ), a, b)
/* isnan(x) ? x : a */
#define V_SEL_NAN(x, a) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), a, x)
#define V_COPYSIGN(m, s) _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(m), \
    _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u))))
/* 16 floats of row from index x, lanes outside [0, len) read as 0 (masked: no access) */
static inline __m512 v_loadrange(const float *row, int x, int len) {
    int lo = x < 0 ? -x : 0, hi = len - x > 16 ? 16 : len - x;
    if (hi <= lo) return _mm512_setzero_ps();
    __mmask16 m = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
    return _mm512_maskz_loadu_ps(m, (const float *)((uintptr_t)row + (uintptr_t)((intptr_t)x * 4)));
}
#define V_LOADRANGE(row, x, len) v_loadrange(row, x, len)
/* the mask of v_loadrange, for loads repeated on many rows */
#define V_MASK_T __mmask16
static inline __mmask16 v_rangemask(int x, int len) {
    int lo = x < 0 ? -x : 0, hi = len - x > 16 ? 16 : len - x;
    return hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#define V_RANGEMASK(x, len) v_rangemask(x, len)
/* masked load with `fill` in the masked-off lanes */
#define V_LOAD_MF(row, x, m, fill) _mm512_mask_loadu_ps(fill, m, (const float *)((uintptr_t)(row) + (uintptr_t)((intptr_t)(x) * 4)))
#define V_BITMASK(bits) ((__mmask16)(bits))
#define V_LOAD_M(row, x, m) _mm512_maskz_loadu_ps(m, (const float *)((uintptr_t)(row) + (uintptr_t)((intptr_t)(x) * 4)))
#define V_ODD(lo, hi) \
    _mm512_permutex2var_ps(lo, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), hi)
#define V_EVEN(lo, hi) \
    _mm512_permutex2var_ps(lo, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), hi)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_MIN(a, b) _mm512_min_ps(a, b)
/* v < 0 ? v·s : v */
#define V_NEGMUL(v, s) _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, s)
#define V_STORE_N(p, v, n) \
    ((n) == 16 ? _mm512_storeu_ps(p, v) : _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1), v))

/* even elements of p[0..32) to e, odd to o */
#define V_DEINTERLEAVE(p, e, o)                                                                   \
    do {                                                                                          \
        __m512 lo_ = _mm512_loadu_ps(p), hi_ = _mm512_loadu_ps((p) + 16);                         \
        const __m512i ev_ = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30); \
        const __m512i od_ = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31); \
        _mm512_storeu_ps(e, _mm512_permutex2var_ps(lo_, ev_, hi_));                               \
        _mm512_storeu_ps(o, _mm512_permutex2var_ps(lo_, od_, hi_));                               \
    } while (0)

#define KERN_TABLE fr_kern_avx512
#define KERN_ISA "avx512"
#define KERN_DW3X3
#define KERN_DWCB
#include "kern_impl.h"
