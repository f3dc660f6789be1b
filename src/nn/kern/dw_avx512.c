/* Depthwise convolution built for AVX-512 (see dw_impl.h). */
#define DW_NAME fr_kern_dw_avx512
#include "dw_impl.h"
