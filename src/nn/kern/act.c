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
    const struct fr_kern *k = fr_kern_get();
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
                    if (iy < 0 || iy >= ih)
                        memset(dst + j, 0, (size_t)run * sizeof(float));
                    else
                        k->gather_row(plane + (size_t)iy * iw, iw, ox * sw - pl + kx * dw, sw, run, dst + j);
                    j += run;
                    ox = 0;
                    oy++;
                }
            }
    }
}

size_t fr_kern_pack_pw_size(int m, int k, int mr) {
    return (size_t)((m + mr - 1) / mr) * (size_t)mr * (size_t)k;
}

void fr_kern_pack_pw(const float *w, int m, int k, int mr, float *out) {
    for (int ob = 0; ob < m; ob += mr)
        for (int kk = 0; kk < k; kk++)
            for (int r = 0; r < mr; r++)
                *out++ = ob + r < m ? w[(size_t)(ob + r) * k + kk] : 0.0f;
}

size_t fr_kern_pack_c3_size(int m, int c, int ob) { return (size_t)((m + ob - 1) / ob) * (size_t)ob * (size_t)c * 9; }

void fr_kern_pack_c3(const float *w, int m, int c, int ob, float *out) {
    for (int o0 = 0; o0 < m; o0 += ob)
        for (int ch = 0; ch < c; ch++)
            for (int t = 0; t < 9; t++)
                for (int j = 0; j < ob; j++)
                    *out++ = o0 + j < m ? w[((size_t)(o0 + j) * c + ch) * 9 + t] : 0.0f;
}
