/* Depthwise convolution built for AVX2+FMA (see dw_impl.h). */
#define DW_NAME fr_kern_dw_avx2
#include "dw_impl.h"
