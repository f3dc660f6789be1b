/* Bias + activation epilogue and im2col. */
#include "kern.h"
#include "../nn_int.h"

void fr_kern_bias_act(float *y, size_t n, float b, int c, const struct fr_kern_act *a) {
    size_t i;
    switch (a->act) {
    case FR_ACT_NONE:
        if (b != 0.0f)
            for (i = 0; i < n; i++) y[i] += b;
        break;
    case FR_ACT_RELU:
        for (i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : 0.0f; }
        break;
    case FR_ACT_PRELU: {
        float s = a->slope[c];
        for (i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : v * s; }
        break;
    }
    case FR_ACT_LEAKY: {
        float s = a->alpha;
        for (i = 0; i < n; i++) { float v = y[i] + b; y[i] = v > 0.0f ? v : v * s; }
        break;
    }
    case FR_ACT_CLIP:
        for (i = 0; i < n; i++) {
            float v = y[i] + b;
            y[i] = v < a->lo ? a->lo : v > a->hi ? a->hi : v;
        }
        break;
    }
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
