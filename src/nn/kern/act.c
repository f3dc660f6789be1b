/* im2col, and the pick of the kernel table. */
#include "kern.h"
#include "../nn_int.h"

void fr_kern_bias_act(float *y, size_t n, float b, int c, const struct fr_kern_act *a) {
    fr_kern_get()->bias_act(y, n, b, c, a);
}

const struct fr_kern *fr_kern_get(void) {
    int isa = fr_cpu_isa();
    return isa >= FR_ISA_AVX512 ? &fr_kern_avx512 : isa >= FR_ISA_AVX2 ? &fr_kern_avx2 : &fr_kern_ref;
}

void fr_kern_im2col(const float *in, int c, int ih, int iw, int kh, int kw, int sh, int sw,
                    int pt, int pl, int dh, int dw, int oh, int ow, int c0, int nc, float *col) {
    (void)oh;
    for (int ch = 0; ch < c; ch++) {
        const float *plane = in + (size_t)ch * ih * iw;
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                float *dst = col + ((size_t)(ch * kh + ky) * kw + kx) * nc;
                int oy = c0 / ow, ox = c0 % ow;
                for (int j = 0; j < nc;) {
                    int iy = oy * sh - pt + ky * dh;
                    int run = ow - ox < nc - j ? ow - ox : nc - j;
                    if (iy < 0 || iy >= ih) {
                        memset(dst + j, 0, (size_t)run * sizeof(float));
                    } else {
                        const float *row = plane + (size_t)iy * iw;
                        int ix = ox * sw - pl + kx * dw;
                        if (sw == 1 && ix >= 0 && ix + run <= iw) {
                            memcpy(dst + j, row + ix, (size_t)run * sizeof(float));
                        } else {
                            for (int r = 0; r < run; r++, ix += sw)
                                dst[j + r] = ix >= 0 && ix < iw ? row[ix] : 0.0f;
                        }
                    }
                    j += run;
                    ox = 0;
                    oy++;
                }
            }
    }
}
