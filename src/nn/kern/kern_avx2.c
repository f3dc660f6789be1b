/* Kernels built for AVX2+FMA (see kern_impl.h and dw3x3_impl.h). */
#include <immintrin.h>
#include <stdint.h>

#define V_W 8
#define V_T __m256
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define PW_MR 6
#define C3_OB 4
#define C3_REP(X) X(0) X(1) X(2) X(3)
#define PW_REP(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_DIV(a, b) _mm256_div_ps(a, b)
#define V_ROUND(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_POW2(n) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define V_ABS(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)
#define V_SEL_GT(x, c, a, b) _mm256_blendv_ps(a, b, _mm256_cmp_ps(x, c, _CMP_GT_OQ))
#define V_SEL_NAN(x, a) _mm256_blendv_ps(a, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q))
#define V_COPYSIGN(m, s) _mm256_or_ps(m, _mm256_and_ps(s, _mm256_set1_ps(-0.0f)))
/* 8 floats of row from index x, lanes outside [0, len) read as 0 (masked: no access) */
static inline __m256 v_loadrange(const float *row, int x, int len) {
    int lo = x < 0 ? -x : 0, hi = len - x > 8 ? 8 : len - x;
    if (hi <= lo) return _mm256_setzero_ps();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                                 _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
    return _mm256_maskload_ps((const float *)((uintptr_t)row + (uintptr_t)((intptr_t)x * 4)), m);
}
#define V_LOADRANGE(row, x, len) v_loadrange(row, x, len)
#define V_MASK_T __m256i
static inline __m256i v_rangemask(int x, int len) {
    int lo = x < 0 ? -x : 0, hi = len - x > 8 ? 8 : len - x;
    if (hi <= lo) return _mm256_setzero_si256();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
}
#define V_RANGEMASK(x, len) v_rangemask(x, len)
#define V_LOAD_MF(row, x, m, fill) \
    _mm256_blendv_ps(fill, _mm256_maskload_ps((const float *)((uintptr_t)(row) + (uintptr_t)((intptr_t)(x) * 4)), m), \
                     _mm256_castsi256_ps(m))
static inline __m256i v_bitmask(int bits) {
    __m256i b = _mm256_set1_epi32(bits), sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(b, sel), sel);
}
#define V_BITMASK(bits) v_bitmask(bits)
#define V_LOAD_M(row, x, m) _mm256_maskload_ps((const float *)((uintptr_t)(row) + (uintptr_t)((intptr_t)(x) * 4)), m)
static inline __m256 v_even(__m256 lo, __m256 hi) {
    __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8));
}
#define V_EVEN(lo, hi) v_even(lo, hi)
static inline __m256 v_odd(__m256 lo, __m256 hi) {
    __m256 od = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8));
}
#define V_ODD(lo, hi) v_odd(lo, hi)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_MIN(a, b) _mm256_min_ps(a, b)
#define V_NEGMUL(v, s) _mm256_blendv_ps(v, _mm256_mul_ps(v, s), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ))

static const int32_t store_masks[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
#define V_MASK(n) _mm256_loadu_si256((const __m256i *)(store_masks + 8 - (n)))
#define V_LOAD_N(p, n) ((n) == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, V_MASK(n)))
#define V_STORE_N(p, v, n) \
    ((n) == 8 ? _mm256_storeu_ps(p, v) \
              : _mm256_maskstore_ps(p, _mm256_loadu_si256((const __m256i *)(store_masks + 8 - (n))), v))

/* even elements of p[0..16) to e, odd to o */
#define V_DEINTERLEAVE(p, e, o)                                                                   \
    do {                                                                                          \
        __m256 lo_ = _mm256_loadu_ps(p), hi_ = _mm256_loadu_ps((p) + 8);                          \
        __m256 ev_ = _mm256_shuffle_ps(lo_, hi_, _MM_SHUFFLE(2, 0, 2, 0));                        \
        __m256 od_ = _mm256_shuffle_ps(lo_, hi_, _MM_SHUFFLE(3, 1, 3, 1));                        \
        _mm256_storeu_ps(e, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev_), 0xd8))); \
        _mm256_storeu_ps(o, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od_), 0xd8))); \
    } while (0)

#define KERN_TABLE fr_kern_avx2
#define KERN_ISA "avx2"
#define KERN_DW3X3
#include "kern_impl.h"
