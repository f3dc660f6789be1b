/* Kernels built for AVX2+FMA (see kern_impl.h and dw3x3_impl.h). */
#include <immintrin.h>

#define V_W 8
#define V_T __m256
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_MIN(a, b) _mm256_min_ps(a, b)
#define V_NEGMUL(v, s) _mm256_blendv_ps(v, _mm256_mul_ps(v, s), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ))

static const int32_t store_masks[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
#define V_STORE_N(p, v, n) \
    ((n) == 8 ? _mm256_storeu_ps(p, v) \
              : _mm256_maskstore_ps(p, _mm256_loadu_si256((const __m256i *)(store_masks + 8 - (n))), v))

#define KERN_TABLE fr_kern_avx2
#define KERN_ISA "avx2"
#define KERN_DW3X3
#include "kern_impl.h"
