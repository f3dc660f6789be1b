/* MaxPool / AveragePool (1-3 spatial dims, pads, auto_pad, ceil_mode,
 * dilations, count_include_pad, MaxPool indices) and the global pools. */
#include "../nn_int.h"
#include "../kern/kern.h"

#include <math.h>

struct pool_params {
    int nd;
    int64_t k[3], s[3], d[3], pb[3], pe[3];
    bool include_pad;
    int storage_order;
};

int op_pool_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, 1);
    if (rc < 0) return rc;
    const struct fr_tensor *x = &fr__nn_in(m, n, 0)->t;
    if (x->dtype != FR_DTYPE_FLOAT)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(x->dtype));
    int nd = x->ndim - 2;
    if (nd < 1 || nd > 3) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "input rank %d", x->ndim);
    if (n->op == FR_OP_AVGPOOL && n->n_out > 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "one output");
    struct pool_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    p->nd = nd;
    p->include_pad = fr__nn_attr_int(n, "count_include_pad", 0) != 0;
    p->storage_order = (int)fr__nn_attr_int(n, "storage_order", 0);
    bool ceil_mode = fr__nn_attr_int(n, "ceil_mode", 0) != 0;
    int cnt;
    const int64_t *ks = fr__nn_attr_ints(n, "kernel_shape", &cnt);
    if (!ks || cnt != nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "kernel_shape needs %d values", nd);
    const int64_t *st = fr__nn_attr_ints(n, "strides", &cnt);
    if (st && cnt != nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "strides needs %d values", nd);
    const int64_t *dl = fr__nn_attr_ints(n, "dilations", &cnt);
    if (dl && cnt != nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "dilations needs %d values", nd);
    const int64_t *pads = fr__nn_attr_ints(n, "pads", &cnt);
    if (pads && cnt != 2 * nd) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "pads needs %d values", 2 * nd);
    const char *ap = fr__nn_attr_str(n, "auto_pad", "NOTSET");
    int64_t od[FR_NN_MAX_DIMS] = { x->dims[0], x->dims[1] };
    for (int i = 0; i < nd; i++) {
        p->k[i] = ks[i];
        p->s[i] = st ? st[i] : 1;
        p->d[i] = dl ? dl[i] : 1;
        if (p->k[i] < 1 || p->s[i] < 1 || p->d[i] < 1 || p->k[i] > 1 << 16 || p->s[i] > 1 << 16 || p->d[i] > 1 << 16)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "bad kernel, stride or dilation");
        int64_t in = x->dims[2 + i], dk = (p->k[i] - 1) * p->d[i] + 1, o;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            o = (in + p->s[i] - 1) / p->s[i];
            int64_t tot = (o - 1) * p->s[i] + dk - in;
            if (tot < 0) tot = 0;
            p->pb[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            p->pe[i] = tot - p->pb[i];
        } else if (!strcmp(ap, "VALID")) {
            o = in - dk < 0 ? 0 : (in - dk) / p->s[i] + 1;
        } else if (!strcmp(ap, "NOTSET")) {
            p->pb[i] = pads ? pads[i] : 0;
            p->pe[i] = pads ? pads[nd + i] : 0;
            if (p->pb[i] < 0 || p->pe[i] < 0 || p->pb[i] > 1 << 16 || p->pe[i] > 1 << 16)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "bad pads");
            int64_t span = in + p->pb[i] + p->pe[i] - dk;
            if (span < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "kernel larger than padded input");
            o = ceil_mode ? (span + p->s[i] - 1) / p->s[i] + 1 : span / p->s[i] + 1;
            /* the last window must start inside the input or the begin pad */
            if (ceil_mode && (o - 1) * p->s[i] >= in + p->pb[i]) o--;
        } else {
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "auto_pad '%s'", ap);
        }
        if (o < 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "empty output");
        od[2 + i] = o;
    }
    if ((rc = fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, x->ndim, od)) < 0) return rc;
    if (n->n_out > 1 && (rc = fr__nn_set_out(m, n, 1, FR_DTYPE_INT64, x->ndim, od)) < 0) return rc;
    if (nd == 2) n->scratch_thread_bytes = (size_t)(2 * od[3] + 16) * sizeof(float);   /* pool2d rows */
    return 0;
}

struct pool_job {
    const struct fr_nn_node *n;
    struct fr_nn_exec *x;
    const float *x_data;
    const struct pool_params *p;
    float *y;
    int64_t *idx;
    int64_t id[3], od[3], isz, osz;
    int64_t c;
};

static void pool_task(void *arg, int task, int tid) {
    (void)tid;
    const struct pool_job *j = arg;
    const struct pool_params *p = j->p;
    const float *xp = j->x_data + (size_t)task * j->isz;
    float *yp = j->y + (size_t)task * j->osz;
    bool is_max = j->n->op == FR_OP_MAXPOOL;
    int64_t k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 }, d[3] = { 1, 1, 1 }, pb[3] = { 0, 0, 0 }, pe[3] = { 0, 0, 0 };
    int off = 3 - p->nd;   /* spatial dims right-aligned into 3 */
    for (int i = 0; i < p->nd; i++) {
        k[off + i] = p->k[i]; s[off + i] = p->s[i]; d[off + i] = p->d[i];
        pb[off + i] = p->pb[i]; pe[off + i] = p->pe[i];
    }
    const int64_t *id = j->id, *od = j->od;
    for (int64_t z = 0; z < od[0]; z++)
        for (int64_t yy = 0; yy < od[1]; yy++)
            for (int64_t xx = 0; xx < od[2]; xx++) {
                float best = -INFINITY;
                int64_t best_i = -1, cnt = 0, cnt_pad = 0;
                double sum = 0;
                for (int64_t kz = 0; kz < k[0]; kz++) {
                    int64_t iz = z * s[0] - pb[0] + kz * d[0];
                    bool inz = iz >= 0 && iz < id[0];
                    if (iz >= -pb[0] && iz < id[0] + pe[0]) {} else continue;
                    for (int64_t ky = 0; ky < k[1]; ky++) {
                        int64_t iy = yy * s[1] - pb[1] + ky * d[1];
                        bool iny = iy >= 0 && iy < id[1];
                        if (iy < -pb[1] || iy >= id[1] + pe[1]) continue;
                        for (int64_t kx = 0; kx < k[2]; kx++) {
                            int64_t ix = xx * s[2] - pb[2] + kx * d[2];
                            if (ix < -pb[2] || ix >= id[2] + pe[2]) continue;
                            cnt_pad++;
                            if (!inz || !iny || ix < 0 || ix >= id[2]) continue;
                            int64_t at = (iz * id[1] + iy) * id[2] + ix;
                            float v = xp[at];
                            cnt++;
                            sum += (double)v;
                            if (v > best || best_i < 0) { best = v; best_i = at; }
                        }
                    }
                }
                int64_t o = (z * od[1] + yy) * od[2] + xx;
                if (is_max) {
                    yp[o] = best;
                    if (j->idx) {
                        int64_t at = best_i < 0 ? 0 : best_i;
                        if (p->storage_order == 1 && p->nd == 2) {
                            int64_t ry = at / id[2], rx = at % id[2];
                            at = rx * id[1] + ry;
                        }
                        j->idx[(size_t)task * j->osz + o] = (int64_t)task * j->isz + at;
                    }
                } else {
                    int64_t div = p->include_pad ? cnt_pad : cnt;
                    yp[o] = div ? (float)(sum / (double)div) : 0.0f;
                }
            }
    (void)j->c;
}

/* 2-D fast path (no indices output): the kernel table's pool2d per plane. */
static void pool2d_task(void *arg, int task, int tid) {
    const struct pool_job *j = arg;
    const struct pool_params *p = j->p;
    struct fr_pool2d_args a = {
        .in = j->x_data + (size_t)task * j->isz, .out = j->y + (size_t)task * j->osz,
        .ih = (int)j->id[1], .iw = (int)j->id[2], .oh = (int)j->od[1], .ow = (int)j->od[2],
        .kh = (int)p->k[0], .kw = (int)p->k[1], .sh = (int)p->s[0], .sw = (int)p->s[1],
        .dh = (int)p->d[0], .dw = (int)p->d[1], .pt = (int)p->pb[0], .pl = (int)p->pb[1],
        .pb = (int)p->pe[0], .pr = (int)p->pe[1],
        .is_max = j->n->op == FR_OP_MAXPOOL, .include_pad = p->include_pad,
        .scratch = fr__nn_scratch_thread(j->n, j->x, tid),
    };
    fr_kern_get()->pool2d(&a);
}

int op_pool_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct pool_params *p = n->params;
    const struct fr_tensor *X = x->in[0], *Y = x->out[0];
    struct pool_job j = { .n = n, .x = x, .p = p, .x_data = X->data, .y = Y->data, .c = X->dims[1],
                          .idx = x->n_out > 1 && x->out[1] ? x->out[1]->data : NULL,
                          .id = { 1, 1, 1 }, .od = { 1, 1, 1 } };
    int off = 3 - p->nd;
    j.isz = j.osz = 1;
    for (int i = 0; i < p->nd; i++) {
        j.id[off + i] = X->dims[2 + i];
        j.od[off + i] = Y->dims[2 + i];
        j.isz *= X->dims[2 + i];
        j.osz *= Y->dims[2 + i];
    }
    bool fast = p->nd == 2 && !j.idx;
    fr_pool_for(x->pool, (int)(X->dims[0] * X->dims[1]), fast ? pool2d_task : pool_task, &j);
    return 0;
}

/* ---- GlobalAveragePool / GlobalMaxPool ---- */

int op_gpool_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, 1);
    if (rc < 0) return rc;
    const struct fr_tensor *x = &fr__nn_in(m, n, 0)->t;
    if (x->dtype != FR_DTYPE_FLOAT)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(x->dtype));
    if (x->ndim < 2) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input rank %d", x->ndim);
    int64_t od[FR_NN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) od[i] = i < 2 ? x->dims[i] : 1;
    return fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, x->ndim, od);
}

int op_gpool_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct fr_tensor *X = x->in[0];
    int64_t rows = X->dims[0] * X->dims[1], sp = rows ? fr_tensor_numel(X) / rows : 0;
    const float *xd = X->data;
    float *y = x->out[0]->data;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = xd + r * sp;
        if (n->op == FR_OP_GLOBALMAXPOOL) {
            float mx = -INFINITY;
            for (int64_t i = 0; i < sp; i++) mx = p[i] > mx ? p[i] : mx;
            y[r] = mx;
        } else {
            float s = 0.0f;
            for (int64_t i = 0; i < sp; i++) s += p[i];
            y[r] = sp ? s / (float)sp : 0.0f;
        }
    }
    return 0;
}
