/* Depthwise 2-D convolution of one plane, written so the compiler can
 * vectorize the interior with whatever ISA the including file is built for.
 * Included by dw.c (portable), dw_avx2.c and dw_avx512.c with DW_NAME set. */
#include "kern.h"
#include "../nn_int.h"

void DW_NAME(const struct fr_dw_args *a) {
    const int iw = a->iw, ih = a->ih, ow = a->ow, oh = a->oh, kw = a->kw, kh = a->kh;
    const int sh = a->sh, sw = a->sw, pt = a->pt, pl = a->pl;
    /* interior columns: every tap inside the row */
    int x0 = (pl + sw - 1) / sw;
    int x1 = iw + pl - kw >= 0 ? (iw + pl - kw) / sw + 1 : 0;   /* exclusive */
    if (x0 > ow) x0 = ow;
    if (x1 > ow) x1 = ow;
    if (x1 < x0) x1 = x0;
    for (int oy = 0; oy < oh; oy++) {
        float *restrict orow = a->out + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) orow[ox] = a->bias;
        for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh - pt + ky;
            if (iy < 0 || iy >= ih) continue;
            const float *restrict irow = a->in + (size_t)iy * iw;
            const float *wr = a->w + ky * kw;
            for (int kx = 0; kx < kw; kx++) {
                const float wv = wr[kx];
                const int off = kx - pl;
                for (int ox = 0; ox < x0; ox++) {
                    int ix = ox * sw + off;
                    if (ix >= 0 && ix < iw) orow[ox] += wv * irow[ix];
                }
                if (sw == 1) {
                    const float *restrict src = irow + off;
                    for (int ox = x0; ox < x1; ox++) orow[ox] += wv * src[ox];
                } else if (sw == 2) {
                    const float *restrict src = irow + off;
                    for (int ox = x0; ox < x1; ox++) orow[ox] += wv * src[2 * ox];
                } else {
                    for (int ox = x0; ox < x1; ox++) orow[ox] += wv * irow[ox * sw + off];
                }
                for (int ox = x1; ox < ow; ox++) {
                    int ix = ox * sw + off;
                    if (ix >= 0 && ix < iw) orow[ox] += wv * irow[ix];
                }
            }
        }
        fr_kern_bias_act(orow, (size_t)ow, 0.0f, a->c, a->act);
    }
}
