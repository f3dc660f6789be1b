/* Conv: shape checking, method choice, and the three ways to compute it:
 *   FR_CONV_DW   depthwise 2-D (group == C == M): our planar kernels
 *   FR_CONV_GEMM 2-D, any group: (im2col of a column block) × sgemm
 *   FR_CONV_REF  anything else (1-D, 3-D, odd dilations): direct loops
 * The reference path also serves as the check for the fast ones in tests. */
#include "../nn_int.h"
#include "../kern/kern.h"

#include <cblas.h>
#include <stdio.h>

#define COL_BLOCK 1024    /* output columns per gemm task (per-thread scratch) */

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
    int64_t dk = (k - 1) * d + 1;
    int64_t span = in + pb + pe - dk;
    return span < 0 ? -1 : span / s + 1;
}

/* The 3x3 fast path: square stride 1 or 2, small pads. */
static bool dw_is_3x3(const struct fr_conv_params *p) {
    return p->k[0] == 3 && p->k[1] == 3 && p->s[0] == p->s[1] && (p->s[0] == 1 || p->s[0] == 2) &&
           p->pb[0] <= 2 && p->pb[1] <= 2 && p->pe[0] <= 2 && p->pe[1] <= 2;
}

/* Small planes for the channel-blocked depthwise kernel (kern/dwcb_impl.h):
 * measured faster than the row kernels up to 16x16 at stride 2 and below
 * 16x16 at stride 1 (bench: per-channel cost of each path by plane size). */
static bool dw_cb_ok(const struct fr_conv_params *p, int64_t ih, int64_t iw) {
    int64_t px = ih * iw;
    return dw_is_3x3(p) && px >= 16 && (p->s[0] == 2 ? px <= 256 : px < 256);
}

int op_conv_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 2, 3);
    if (rc < 0) return rc;
    const struct fr_tensor *x = &fr__nn_in(m, n, 0)->t, *w = &fr__nn_in(m, n, 1)->t;
    const struct fr_nn_value *bv = fr__nn_in(m, n, 2);
    if (x->dtype != FR_DTYPE_FLOAT || w->dtype != FR_DTYPE_FLOAT || (bv && bv->t.dtype != FR_DTYPE_FLOAT))
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(x->dtype));
    int nd = x->ndim - 2;
    if (nd < 1 || nd > 3 || w->ndim != x->ndim)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "input rank %d, weight rank %d", x->ndim, w->ndim);
    struct fr_conv_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    p->nd = nd;
    p->group = fr__nn_attr_int(n, "group", 1);
    int64_t c = x->dims[1], mo = w->dims[0];
    if (p->group < 1 || c % p->group || mo % p->group || w->dims[1] != c / p->group)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "channels %lld, weight %lldx%lld, group %lld",
                               (long long)c, (long long)mo, (long long)w->dims[1], (long long)p->group);
    if (bv && (bv->t.ndim != 1 || bv->t.dims[0] != mo))
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "bias must have %lld values", (long long)mo);
    int cnt;
    const int64_t *ks = fr__nn_attr_ints(n, "kernel_shape", &cnt);
    for (int i = 0; i < nd; i++) {
        p->k[i] = w->dims[2 + i];
        if (ks && (cnt != nd || ks[i] != p->k[i]))
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "kernel_shape does not match the weight");
        p->s[i] = p->d[i] = 1;
    }
    const int64_t *st = fr__nn_attr_ints(n, "strides", &cnt);
    if (st && cnt != nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "strides needs %d values", nd);
    for (int i = 0; st && i < nd; i++) p->s[i] = st[i];
    const int64_t *dl = fr__nn_attr_ints(n, "dilations", &cnt);
    if (dl && cnt != nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "dilations needs %d values", nd);
    for (int i = 0; dl && i < nd; i++) p->d[i] = dl[i];
    for (int i = 0; i < nd; i++)
        if (p->s[i] < 1 || p->d[i] < 1 || p->k[i] < 1 || p->s[i] > 1 << 16 || p->d[i] > 1 << 16)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "bad kernel, stride or dilation");
    const char *ap = fr__nn_attr_str(n, "auto_pad", "NOTSET");
    const int64_t *pads = fr__nn_attr_ints(n, "pads", &cnt);
    if (pads && cnt != 2 * nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "pads needs %d values", 2 * nd);
    int64_t od[FR_NN_MAX_DIMS];
    od[0] = x->dims[0];
    od[1] = mo;
    for (int i = 0; i < nd; i++) {
        int64_t in = x->dims[2 + i], dk = (p->k[i] - 1) * p->d[i] + 1;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t o = (in + p->s[i] - 1) / p->s[i];
            int64_t tot = (o - 1) * p->s[i] + dk - in;
            if (tot < 0) tot = 0;
            p->pb[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            p->pe[i] = tot - p->pb[i];
        } else if (!strcmp(ap, "VALID")) {
            p->pb[i] = p->pe[i] = 0;
        } else if (!strcmp(ap, "NOTSET")) {
            p->pb[i] = pads ? pads[i] : 0;
            p->pe[i] = pads ? pads[nd + i] : 0;
            if (p->pb[i] < 0 || p->pe[i] < 0 || p->pb[i] > 1 << 16 || p->pe[i] > 1 << 16)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "bad pads");
        } else {
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "auto_pad '%s'", ap);
        }
        od[2 + i] = out_size(in, p->k[i], p->s[i], p->d[i], p->pb[i], p->pe[i]);
        if (od[2 + i] < 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "kernel larger than padded input");
    }
    if ((rc = fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, x->ndim, od)) < 0) return rc;
    int64_t osp = 1, ksz = 1;
    for (int i = 0; i < nd; i++) { osp *= od[2 + i]; ksz *= p->k[i]; }
    n->macs = od[0] * mo * osp * (c / p->group) * ksz;
    /* method */
    p->method = FR_CONV_REF;
    if (nd == 2 && p->d[0] == 1 && p->d[1] == 1 && p->group == c && mo == c) {
        p->method = FR_CONV_DW;
        if (dw_cb_ok(p, x->dims[2], x->dims[3]))   /* upper bound: the AVX-512 layout */
            n->scratch_thread_bytes = ((size_t)(x->dims[2] + 4) * (size_t)(x->dims[3] + 4) +
                                       (size_t)(od[2] * od[3]) + 16) * 16 * sizeof(float);
    } else if (nd == 2) {
        p->method = FR_CONV_GEMM;
        bool s1 = p->s[0] == 1 && p->s[1] == 1 && p->d[0] == p->d[1] && p->d[0] <= 64;
        bool s2 = p->s[0] == 2 && p->s[1] == 2 && p->d[0] == 1 && p->d[1] == 1;
        if (p->group == 1 && p->k[0] == 3 && p->k[1] == 3 && (s1 || s2) && p->pb[1] <= 64 && c <= 65536) {
            /* direct 3x3; the GEMM path below stays ready as the fallback */
            p->method = FR_CONV_C3;
            size_t rs = (size_t)((od[3] + 2 * p->d[1] + 15) / 16 * 16 + 32) * (p->s[0] == 2 ? 2 : 1);
            n->scratch_bytes = (rs * (size_t)(c * x->dims[2] + 1) + 64) * sizeof(float);
        }
        bool direct = p->k[0] == 1 && p->k[1] == 1 && p->s[0] == 1 && p->s[1] == 1 &&
                      !p->pb[0] && !p->pb[1] && !p->pe[0] && !p->pe[1];
        if (!direct) {
            int64_t kk = (c / p->group) * ksz, nb = osp < COL_BLOCK ? osp : COL_BLOCK;
            n->scratch_thread_bytes = (size_t)(kk * nb) * sizeof(float);
        }
    }
    snprintf(n->desc, sizeof n->desc, "%lldx%lld/%lld %s %lld->%lld %lldx%lld", (long long)p->k[0],
             (long long)(nd > 1 ? p->k[1] : 1), (long long)p->s[0],
             p->method == FR_CONV_DW ? "dw" : p->method == FR_CONV_GEMM ? "gemm" : p->method == FR_CONV_C3 ? "c3" : "ref", (long long)c,
             (long long)mo, (long long)od[2], (long long)(nd > 1 ? od[3] : 1));
    return 0;
}

static void conv_act_init(const struct fr_conv_params *p, struct fr_nn_exec *x, struct fr_kern_act *a) {
    a->act = p->act;
    a->alpha = p->alpha;
    a->lo = p->lo;
    a->hi = p->hi;
    a->slope = x->n_in > 3 && x->in[3] ? x->in[3]->data : NULL;
}

/* ---- reference: direct loops, any rank 1..3 ---- */
static int conv_ref(const struct fr_conv_params *p, struct fr_nn_exec *x) {
    const struct fr_tensor *X = x->in[0], *W = x->in[1], *B = x->n_in > 2 ? x->in[2] : NULL;
    struct fr_tensor *Y = x->out[0];
    const float *xd = X->data, *wd = W->data, *bd = B ? B->data : NULL;
    float *yd = Y->data;
    struct fr_kern_act act;
    conv_act_init(p, x, &act);
    int64_t id[3] = { 1, 1, 1 }, odm[3] = { 1, 1, 1 }, k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 },
            d[3] = { 1, 1, 1 }, pb[3] = { 0, 0, 0 };
    for (int i = 0; i < p->nd; i++) {
        id[i] = X->dims[2 + i]; odm[i] = Y->dims[2 + i];
        k[i] = p->k[i]; s[i] = p->s[i]; d[i] = p->d[i]; pb[i] = p->pb[i];
    }
    int64_t nb = X->dims[0], c = X->dims[1], mo = Y->dims[1], cg = c / p->group, mg = mo / p->group;
    int64_t isz = id[0] * id[1] * id[2], osz = odm[0] * odm[1] * odm[2], ksz = k[0] * k[1] * k[2];
    for (int64_t b = 0; b < nb; b++)
        for (int64_t o = 0; o < mo; o++) {
            int64_t g = o / mg;
            float *yp = yd + (b * mo + o) * osz;
            for (int64_t z = 0; z < odm[0]; z++)
                for (int64_t yy = 0; yy < odm[1]; yy++)
                    for (int64_t xx = 0; xx < odm[2]; xx++) {
                        double acc = 0;
                        for (int64_t ci = 0; ci < cg; ci++) {
                            const float *xp = xd + (b * c + g * cg + ci) * isz;
                            const float *wp = wd + (o * cg + ci) * ksz;
                            for (int64_t kz = 0; kz < k[0]; kz++) {
                                int64_t iz = z * s[0] - pb[0] + kz * d[0];
                                if (iz < 0 || iz >= id[0]) continue;
                                for (int64_t ky = 0; ky < k[1]; ky++) {
                                    int64_t iy = yy * s[1] - pb[1] + ky * d[1];
                                    if (iy < 0 || iy >= id[1]) continue;
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t ix = xx * s[2] - pb[2] + kx * d[2];
                                        if (ix < 0 || ix >= id[2]) continue;
                                        acc += (double)xp[(iz * id[1] + iy) * id[2] + ix] *
                                               (double)wp[(kz * k[1] + ky) * k[2] + kx];
                                    }
                                }
                            }
                        }
                        yp[(z * odm[1] + yy) * odm[2] + xx] = (float)acc;
                    }
            fr_kern_bias_act(yp, (size_t)osz, bd ? bd[o] : 0.0f, (int)o, &act);
        }
    return 0;
}

/* ---- depthwise ---- */
struct dw_job {
    const struct fr_nn_node *n;
    struct fr_nn_exec *x;
    const struct fr_conv_params *p;
    const float *xd, *w, *b;
    float *y;
    int64_t c, ih, iw, oh, ow;
    struct fr_kern_act act;
    const struct fr_kern *k;
    int group;          /* channels per task on the small-plane path */
};

static void dw_cb_task(void *arg, int task, int tid) {
    const struct dw_job *j = arg;
    int64_t n_groups = (j->c + 15) / 16, b = task / n_groups, c0 = (task % n_groups) * 16;
    int n_ch = (int)(j->c - c0 < 16 ? j->c - c0 : 16);
    struct fr_dw_args a = {
        .in = j->xd + (size_t)(b * j->c + c0) * j->ih * j->iw, .out = j->y + (size_t)(b * j->c + c0) * j->oh * j->ow,
        .w = j->w + c0 * 9, .ih = (int)j->ih, .iw = (int)j->iw, .oh = (int)j->oh, .ow = (int)j->ow, .kh = 3, .kw = 3,
        .sh = (int)j->p->s[0], .sw = (int)j->p->s[1], .pt = (int)j->p->pb[0], .pl = (int)j->p->pb[1],
        .c = (int)c0, .act = &j->act,
    };
    j->k->dw3x3_cb(&a, n_ch, j->b, fr__nn_scratch_thread(j->n, j->x, tid));
}

static void dw_small_task(void *arg, int task, int tid) {
    (void)tid;
    const struct dw_job *j = arg;
    int64_t n_groups = (j->c + j->group - 1) / j->group, b = task / n_groups, c0 = (task % n_groups) * j->group;
    int n_ch = (int)(j->c - c0 < j->group ? j->c - c0 : j->group);
    struct fr_dw_args a = {
        .in = j->xd + (size_t)(b * j->c + c0) * j->ih * j->iw, .out = j->y + (size_t)(b * j->c + c0) * j->oh * j->ow,
        .w = j->w + c0 * 9, .ih = (int)j->ih, .iw = (int)j->iw, .oh = (int)j->oh, .ow = (int)j->ow, .kh = 3, .kw = 3,
        .sh = (int)j->p->s[0], .sw = (int)j->p->s[1], .pt = (int)j->p->pb[0], .pl = (int)j->p->pb[1],
        .c = (int)c0, .act = &j->act,
    };
    j->k->dw3x3_small(&a, n_ch, j->b);
}

static void dw_task(void *arg, int task, int tid) {
    const struct dw_job *j = arg;
    int64_t ch = task % j->c;
    struct fr_dw_args a = {
        .in = j->xd + (size_t)task * j->ih * j->iw, .out = j->y + (size_t)task * j->oh * j->ow,
        .w = j->w + ch * j->p->k[0] * j->p->k[1],
        .ih = (int)j->ih, .iw = (int)j->iw, .oh = (int)j->oh, .ow = (int)j->ow,
        .kh = (int)j->p->k[0], .kw = (int)j->p->k[1], .sh = (int)j->p->s[0], .sw = (int)j->p->s[1],
        .pt = (int)j->p->pb[0], .pl = (int)j->p->pb[1], .bias = j->b ? j->b[ch] : 0.0f, .c = (int)ch,
        .act = &j->act,
    };
    (void)tid;
    if (j->k->dw3x3 && dw_is_3x3(j->p)) {
        j->k->dw3x3(&a);
    } else {
        j->k->dw(&a);
    }
}

/* Depthwise with the kernel covering the whole unpadded input (1x1 output,
 * e.g. a global depthwise conv): a dot product per channel. */
static void dw_whole(const struct dw_job *j, int64_t planes) {
    const int64_t sz = j->ih * j->iw;
    for (int64_t t = 0; t < planes; t++) {
        int64_t ch = t % j->c;
        const float *a = j->xd + t * sz, *w = j->w + ch * sz;
        float acc = 0.0f;
        for (int64_t i = 0; i < sz; i++) acc += a[i] * w[i];
        j->y[t] = acc + (j->b ? j->b[ch] : 0.0f);
        j->k->bias_act(&j->y[t], 1, 0.0f, (int)ch, &j->act);
    }
}

static int conv_dw(const struct fr_nn_node *n, const struct fr_conv_params *p, struct fr_nn_exec *x) {
    const struct fr_tensor *X = x->in[0], *Y = x->out[0];
    struct dw_job j = {
        .n = n, .x = x, .p = p, .xd = X->data, .w = x->in[1]->data, .b = x->n_in > 2 && x->in[2] ? x->in[2]->data : NULL,
        .y = Y->data, .c = X->dims[1], .ih = X->dims[2], .iw = X->dims[3], .oh = Y->dims[2], .ow = Y->dims[3],
        .k = fr_kern_get(),
    };
    conv_act_init(p, x, &j.act);
    if (j.oh == 1 && j.ow == 1 && p->k[0] == j.ih && p->k[1] == j.iw && !p->pb[0] && !p->pb[1]) {
        dw_whole(&j, X->dims[0] * j.c);
        return 0;
    }
    if (j.k->dw3x3_cb && dw_cb_ok(p, j.ih, j.iw) && n->scratch_thread_bytes >=
        j.k->dw3x3_cb_scratch((int)j.ih, (int)j.iw, (int)j.oh, (int)j.ow) * sizeof(float)) {
        fr_pool_for(x->pool, (int)(X->dims[0] * ((j.c + 15) / 16)), dw_cb_task, &j);
        return 0;
    }
    if (j.k->dw3x3_small && dw_is_3x3(p) && p->s[0] == 1 && j.oh == j.ih && j.ow == j.iw && j.ow < 16 &&
        j.oh * j.ow <= j.k->dw_small_max) {
        /* small planes: groups of channels per task */
        j.group = (int)(j.c < 32 ? j.c : 32);
        int64_t n_groups = (j.c + j.group - 1) / j.group;
        fr_pool_for(x->pool, (int)(X->dims[0] * n_groups), dw_small_task, &j);
        return 0;
    }
    fr_pool_for(x->pool, (int)(X->dims[0] * j.c), dw_task, &j);
    return 0;
}

/* ---- im2col + sgemm ---- */
struct gemm_job {
    const struct fr_conv_params *p;
    const struct fr_nn_node *n;
    struct fr_nn_exec *x;
    const float *xd, *wd, *bd, *wp;
    float *yd;
    int64_t c, ih, iw, mo, oh, ow, cg, mg, kk, osp;
    int64_t nb_cols, n_blocks;   /* column block size, blocks per (batch, group) */
    struct fr_kern_act act;
    const struct fr_kern *k;
    bool direct;
};

static void gemm_task(void *arg, int task, int tid) {
    const struct gemm_job *j = arg;
    int64_t blk = task % j->n_blocks, bg = task / j->n_blocks;
    int64_t g = bg % j->p->group, b = bg / j->p->group;
    int64_t c0 = blk * j->nb_cols, nc = j->osp - c0 < j->nb_cols ? j->osp - c0 : j->nb_cols;
    const float *in = j->xd + (size_t)(b * j->c + g * j->cg) * j->ih * j->iw;
    const float *bm;
    int ldb;
    if (j->direct) {
        bm = in + c0;
        ldb = (int)j->osp;
    } else {
        float *col = fr__nn_scratch_thread(j->n, j->x, tid);
        fr_kern_im2col(in, (int)j->cg, (int)j->ih, (int)j->iw, (int)j->p->k[0], (int)j->p->k[1],
                       (int)j->p->s[0], (int)j->p->s[1], (int)j->p->pb[0], (int)j->p->pb[1],
                       (int)j->p->d[0], (int)j->p->d[1], (int)j->oh, (int)j->ow, (int)c0, (int)nc, col);
        bm = col;
        ldb = (int)nc;
    }
    float *out = j->yd + (size_t)(b * j->mo + g * j->mg) * j->osp + c0;
    if (j->wp) {
        size_t per = fr_kern_pack_pw_size((int)j->mg, (int)j->kk, j->k->pw_mr);
        j->k->pw(j->wp + per * (size_t)g, bm, (size_t)ldb, out, (size_t)j->osp, (int)j->mg, (int)j->kk, (int)nc,
                 j->bd, (int)(g * j->mg), &j->act);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)j->mg, (int)nc, (int)j->kk, 1.0f,
                j->wd + (size_t)g * j->mg * j->kk, (int)j->kk, bm, ldb, 0.0f, out, (int)j->osp);
    for (int64_t o = 0; o < j->mg; o++) {
        int64_t oc = g * j->mg + o;
        j->k->bias_act(out + o * j->osp, (size_t)nc, j->bd ? j->bd[oc] : 0.0f, (int)oc, &j->act);
    }
}

static int conv_gemm(const struct fr_nn_node *n, const struct fr_conv_params *p, struct fr_nn_exec *x) {
    const struct fr_tensor *X = x->in[0], *Y = x->out[0];
    struct gemm_job j = {
        .p = p, .n = n, .x = x, .xd = X->data, .wd = x->in[1]->data,
        .bd = x->n_in > 2 && x->in[2] ? x->in[2]->data : NULL, .yd = Y->data,
        .c = X->dims[1], .ih = X->dims[2], .iw = X->dims[3], .mo = Y->dims[1], .oh = Y->dims[2], .ow = Y->dims[3],
        .k = fr_kern_get(),
    };
    conv_act_init(p, x, &j.act);
    /* the packed weights are used when they were packed for this table */
    if (p->pw_mr && x->n_in > 4 && x->in[4] && j.k->pw && j.k->pw_mr == p->pw_mr) j.wp = x->in[4]->data;
    j.cg = j.c / p->group;
    j.mg = j.mo / p->group;
    j.kk = j.cg * p->k[0] * p->k[1];
    j.osp = j.oh * j.ow;
    j.direct = n->scratch_thread_bytes == 0;
    j.nb_cols = j.osp < COL_BLOCK ? j.osp : COL_BLOCK;
    if (j.direct) {
        /* no scratch needed: split columns so every thread has work */
        int64_t want = x->n_threads > 1 ? (j.osp + x->n_threads - 1) / x->n_threads : j.osp;
        want = (want + 15) & ~(int64_t)15;
        j.nb_cols = want < j.osp ? want : j.osp;
    } else if (x->n_threads > 1 && j.osp <= COL_BLOCK * (x->n_threads - 1) && p->group == 1) {
        int64_t want = ((j.osp + x->n_threads - 1) / x->n_threads + 15) & ~(int64_t)15;
        if (want < j.nb_cols) j.nb_cols = want;
    }
    j.n_blocks = (j.osp + j.nb_cols - 1) / j.nb_cols;
    fr_pool_for(x->pool, (int)(X->dims[0] * p->group * j.n_blocks), gemm_task, &j);
    return 0;
}

/* ---- direct 3x3 ---- */
struct c3_job {
    struct fr_c3_args a;
    const struct fr_kern *k;
    int n_ob, rows_per_task, n_row_tasks;
};

static void c3_prep_task(void *arg, int task, int tid) {
    (void)tid;
    const struct c3_job *j = arg;
    j->k->c3_prep(&j->a, task, task + 1);
}

static void c3_run_task(void *arg, int task, int tid) {
    (void)tid;
    const struct c3_job *j = arg;
    int ob = task / j->n_row_tasks, rt = task % j->n_row_tasks;
    int y0 = rt * j->rows_per_task, y1 = y0 + j->rows_per_task < j->a.oh ? y0 + j->rows_per_task : j->a.oh;
    j->k->c3_run(&j->a, ob, ob + 1, y0, y1);
}

static int conv_c3(const struct fr_conv_params *p, struct fr_nn_exec *x) {
    const struct fr_tensor *X = x->in[0], *Y = x->out[0];
    struct fr_kern_act act;
    struct c3_job j;
    conv_act_init(p, x, &act);
    j.k = fr_kern_get();
    j.a = (struct fr_c3_args){
        .wp = x->in[4]->data, .bias = x->n_in > 2 && x->in[2] ? x->in[2]->data : NULL,
        .c = (int)X->dims[1], .ih = (int)X->dims[2], .iw = (int)X->dims[3], .m = (int)Y->dims[1],
        .oh = (int)Y->dims[2], .ow = (int)Y->dims[3], .s = (int)p->s[0], .d = (int)p->d[0], .pt = (int)p->pb[0], .pl = (int)p->pb[1],
        .act = &act, .scratch = x->scratch,
    };
    j.n_ob = (j.a.m + j.k->c3_ob - 1) / j.k->c3_ob;
    j.rows_per_task = j.a.oh;
    if (x->n_threads > 1 && j.n_ob < 4 * x->n_threads) {
        int want = (4 * x->n_threads + j.n_ob - 1) / j.n_ob;
        j.rows_per_task = (j.a.oh + want - 1) / want;
    }
    j.n_row_tasks = (j.a.oh + j.rows_per_task - 1) / j.rows_per_task;
    for (int64_t b = 0; b < X->dims[0]; b++) {
        j.a.in = (const float *)X->data + (size_t)b * j.a.c * j.a.ih * j.a.iw;
        j.a.out = (float *)Y->data + (size_t)b * j.a.m * j.a.oh * j.a.ow;
        fr_pool_for(x->pool, j.a.c, c3_prep_task, &j);
        fr_pool_for(x->pool, j.n_ob * j.n_row_tasks, c3_run_task, &j);
    }
    return 0;
}

int op_conv_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct fr_conv_params *p = n->params;
    switch (p->method) {
    case FR_CONV_C3:
        if (p->c3_ob && fr_kern_get()->c3_run && fr_kern_get()->c3_ob == p->c3_ob) return conv_c3(p, x);
        return conv_gemm(n, p, x);
    case FR_CONV_DW: return conv_dw(n, p, x);
    case FR_CONV_GEMM: return conv_gemm(n, p, x);
    default: return conv_ref(p, x);
    }
}
