/* Depthwise convolution: portable build, and the run-time pick. */
#define DW_NAME fr_kern_dw_ref
#include "dw_impl.h"

#include "facerec/base.h"

fr_kern_dw_fn fr_kern_dw_pick(int isa) {
    return isa >= FR_ISA_AVX512 ? fr_kern_dw_avx512 : isa >= FR_ISA_AVX2 ? fr_kern_dw_avx2 : fr_kern_dw_ref;
}
