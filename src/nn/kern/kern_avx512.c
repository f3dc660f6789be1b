/* Kernels built for AVX-512 (see kern_impl.h and dw3x3_impl.h). */
#include <immintrin.h>

#define V_W 16
#define V_T __m512
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_MIN(a, b) _mm512_min_ps(a, b)
/* v < 0 ? v·s : v */
#define V_NEGMUL(v, s) _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, s)
#define V_STORE_N(p, v, n) \
    ((n) == 16 ? _mm512_storeu_ps(p, v) : _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1), v))

#define KERN_TABLE fr_kern_avx512
#define KERN_ISA "avx512"
#define KERN_DW3X3
#include "kern_impl.h"
