/* Compute kernels. Each has a portable version; ISA versions (_avx2,
 * _avx512 files, built with the matching -m flags) are chosen at run time
 * by fr_cpu_isa(). Kernels know nothing of graphs: plain pointers and sizes. */
#ifndef FR_NN_KERN_H
#define FR_NN_KERN_H

#include <stddef.h>
#include <stdint.h>

/* The epilogue of a conv / gemm row: y = act(y + bias). */
struct fr_kern_act {
    int act;            /* enum fr_act */
    float alpha, lo, hi;
    const float *slope; /* PRelu, per channel */
};

/* y[0..n) = act(y + b) for channel c (slope index) */
void fr_kern_bias_act(float *y, size_t n, float b, int c, const struct fr_kern_act *a);

/* Depthwise 2-D convolution of one channel plane.
 * in: ih×iw, out: oh×ow, w: kh×kw, stride s (same both axes allowed to
 * differ), pads pt/pl, dilation 1. Applies bias and activation. */
struct fr_dw_args {
    const float *in; float *out; const float *w;
    int ih, iw, oh, ow, kh, kw, sh, sw, pt, pl;
    float bias; int c;
    const struct fr_kern_act *act;
};

/* 2-D max / average pooling of one plane. */
struct fr_pool2d_args {
    const float *in; float *out;
    int ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;   /* pb/pr: end pads */
    int is_max, include_pad;
    float *scratch;     /* 2·ow + 16 floats */
};

/* Direct 3x3 convolution, group 1 (see conv3x3_impl.h). */
struct fr_c3_args {
    const float *in;     /* c planes of ih × iw */
    float *out;          /* m planes of oh × ow */
    const float *wp;     /* fr_kern_pack_c3 layout */
    const float *bias;
    int c, ih, iw, m, oh, ow, s, d, pt, pl;   /* stride 2 needs d == 1 */
    const struct fr_kern_act *act;
    float *scratch;      /* conv3x3_scratch floats, shared by all tasks */
};
size_t fr_kern_pack_c3_size(int m, int c, int ob);
void fr_kern_pack_c3(const float *w, int m, int c, int ob, float *out);   /* w: [m][c][3][3] */

/* One table of kernels per ISA; fr_kern_get() returns the one for
 * fr_cpu_isa() (the best the CPU has, or what FR_ISA asks for). */
struct fr_kern {
    const char *isa;
    void (*dw)(const struct fr_dw_args *a);
    /* 3x3, stride 1 or 2 (both axes alike), pads <= 2: NULL where not built */
    void (*dw3x3)(const struct fr_dw_args *a);
    /* the same for n_ch consecutive small planes, stride 1, oh = ih and
     * ow = iw, oh·ow <= dw_small_max: a->in/out/w/c describe the first;
     * biases indexed by channel */
    void (*dw3x3_small)(const struct fr_dw_args *a, int n_ch, const float *biases);
    int dw_small_max;   /* largest oh·ow dw3x3_small takes */
    /* 16 channels at a time, transposed (ih·iw <= 256, pads <= 2, stride 1
     * or 2), with dw3x3_cb_scratch floats of scratch: NULL where not built */
    void (*dw3x3_cb)(const struct fr_dw_args *a, int n_ch, const float *biases, float *scratch);
    size_t (*dw3x3_cb_scratch)(int ih, int iw, int oh, int ow);
    /* conv GEMM with packed weights (fr_kern_pack_pw with pw_mr); NULL where
     * not built. bias indexed by o_base + row. */
    void (*pw)(const float *wp, const float *x, size_t ldx, float *y, size_t ldy, int m, int k, int cols,
               const float *bias, int o_base, const struct fr_kern_act *a);
    int pw_mr;
    /* dst[i] = row[start + i·s] for i < n, 0 where outside [0, len) */
    void (*gather_row)(const float *row, int len, int start, int s, int n, float *dst);
    /* direct 3x3: prepare input channels [c0, c1), then output blocks of c3_ob
     * channels [ob0, ob1) × rows [y0, y1); NULL where not built */
    size_t (*c3_scratch)(const struct fr_c3_args *a);      /* floats */
    void (*c3_prep)(const struct fr_c3_args *a, int c0, int c1);
    void (*c3_run)(const struct fr_c3_args *a, int ob0, int ob1, int y0, int y1);
    int c3_ob;          /* output channels per block of c3_run (the packing of fr_kern_pack_c3) */
    void (*pool2d)(const struct fr_pool2d_args *a);
    /* y = f(x) for op FR_OP_EXP, FR_OP_TANH or FR_OP_SIGMOID (y may be x) */
    void (*vmath)(int op, const float *x, float *y, size_t n);
    void (*bias_act)(float *y, size_t n, float b, int c, const struct fr_kern_act *a);
};
extern const struct fr_kern fr_kern_ref, fr_kern_avx2, fr_kern_avx512;

/* Pack W (m rows of k) as [ceil(m/mr)][k][mr], zero-filled: the layout of
 * fr_kern.pw. out has fr_kern_pack_pw_size(m, k, mr) floats. */
size_t fr_kern_pack_pw_size(int m, int k, int mr);
void fr_kern_pack_pw(const float *w, int m, int k, int mr, float *out);
const struct fr_kern *fr_kern_get(void);

/* im2col for 2-D: columns [c0, c0+nc) of the (C·kh·kw) × (oh·ow) matrix,
 * written densely as rows of nc. */
void fr_kern_im2col(const float *in, int c, int ih, int iw, int kh, int kw, int sh, int sw,
                    int pt, int pl, int dh, int dw, int oh, int ow, int c0, int nc, float *col);

#endif
