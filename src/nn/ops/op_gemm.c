/* Gemm and MatMul through OpenBLAS cblas_sgemm. */
#include "../nn_int.h"
#include "../kern/kern.h"

#include <cblas.h>

struct gemm_params {
    int64_t m, n, k;
    bool ta, tb;
    float alpha, beta;
};

int op_gemm_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 2, 3);
    if (rc < 0) return rc;
    const struct fr_tensor *a = &fr__nn_in(m, n, 0)->t, *b = &fr__nn_in(m, n, 1)->t;
    const struct fr_nn_value *cv = fr__nn_in(m, n, 2);
    if (a->dtype != FR_DTYPE_FLOAT || b->dtype != FR_DTYPE_FLOAT || (cv && cv->t.dtype != FR_DTYPE_FLOAT))
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(a->dtype));
    if (a->ndim != 2 || b->ndim != 2) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "inputs must be 2-D");
    struct gemm_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    p->ta = fr__nn_attr_int(n, "transA", 0) != 0;
    p->tb = fr__nn_attr_int(n, "transB", 0) != 0;
    p->alpha = fr__nn_attr_float(n, "alpha", 1.0f);
    p->beta = fr__nn_attr_float(n, "beta", 1.0f);
    p->m = p->ta ? a->dims[1] : a->dims[0];
    p->k = p->ta ? a->dims[0] : a->dims[1];
    p->n = p->tb ? b->dims[0] : b->dims[1];
    int64_t kb = p->tb ? b->dims[1] : b->dims[0];
    if (kb != p->k) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "inner dims %lld and %lld", (long long)p->k, (long long)kb);
    if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
        return fr__nn_node_err(n, FR_E_LIMIT_EXCEEDED, "matrix too large");
    int64_t od[2] = { p->m, p->n };
    if (cv) {
        struct fr_tensor y = { .ndim = 2, .dims = { p->m, p->n } }, t;
        if (cv->t.ndim > 2 || fr__nn_broadcast(&y, &cv->t, &t) < 0 || t.dims[0] != p->m || t.dims[1] != p->n)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "C does not broadcast to %lldx%lld", (long long)p->m,
                                   (long long)p->n);
    }
    n->macs = p->m * p->n * p->k;
    return fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, 2, od);
}

int op_gemm_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct gemm_params *p = n->params;
    const struct fr_tensor *A = x->in[0], *B = x->in[1], *C = x->n_in > 2 ? x->in[2] : NULL;
    float *y = x->out[0]->data;
    float beta = 0.0f;
    if (C && p->beta != 0.0f) {
        /* Y = beta·C broadcast, then sgemm accumulates */
        const float *cd = C->data;
        int64_t cm = C->ndim == 2 ? C->dims[0] : 1, cn = C->ndim >= 1 ? C->dims[C->ndim - 1] : 1;
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t j = 0; j < p->n; j++)
                y[i * p->n + j] = p->beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        beta = 1.0f;
    }
    if (p->m == 0 || p->n == 0) return 0;
    if (p->k == 0) {
        if (beta == 0.0f) memset(y, 0, (size_t)(p->m * p->n) * sizeof(float));
        return 0;
    }
    if (p->m == 1) {
        /* one row: a matrix-vector product (A is a contiguous vector either way) */
        if (p->tb)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)p->n, (int)p->k, p->alpha, B->data, (int)p->k, A->data, 1,
                        beta, y, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)p->k, (int)p->n, p->alpha, B->data, (int)p->n, A->data, 1,
                        beta, y, 1);
        return 0;
    }
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans, (int)p->m,
                (int)p->n, (int)p->k, p->alpha, A->data, (int)A->dims[1], B->data, (int)B->dims[1], beta, y, (int)p->n);
    return 0;
}

/* MatMul: numpy matmul semantics (1-D promotion, batch broadcast). */
struct matmul_params {
    int64_t m, n, k, batch;
    int nb;                                      /* batch rank of the output */
    int64_t bdims[FR_NN_MAX_DIMS];
    int64_t sa[FR_NN_MAX_DIMS], sb[FR_NN_MAX_DIMS];   /* batch strides in matrices, 0 = broadcast */
};

int op_matmul_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 2, 2);
    if (rc < 0) return rc;
    const struct fr_tensor *a = &fr__nn_in(m, n, 0)->t, *b = &fr__nn_in(m, n, 1)->t;
    if (a->dtype != FR_DTYPE_FLOAT || b->dtype != FR_DTYPE_FLOAT)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(a->dtype));
    if (a->ndim < 1 || b->ndim < 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "scalar input");
    struct matmul_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    int ra = a->ndim, rb = b->ndim;
    p->m = ra == 1 ? 1 : a->dims[ra - 2];
    p->k = a->dims[ra - 1];
    int64_t kb = rb == 1 ? b->dims[0] : b->dims[rb - 2];
    p->n = rb == 1 ? 1 : b->dims[rb - 1];
    if (kb != p->k) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "inner dims %lld and %lld", (long long)p->k, (long long)kb);
    if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
        return fr__nn_node_err(n, FR_E_LIMIT_EXCEEDED, "matrix too large");
    struct fr_tensor ba = { .ndim = ra > 2 ? ra - 2 : 0 }, bb = { .ndim = rb > 2 ? rb - 2 : 0 }, bo;
    memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.ndim);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.ndim);
    if (fr__nn_broadcast(&ba, &bb, &bo) < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "batch dims do not broadcast");
    p->nb = bo.ndim;
    p->batch = 1;
    int64_t sa = p->m * p->k, sb = p->k * p->n;
    for (int i = bo.ndim - 1; i >= 0; i--) {
        int ia = i - (bo.ndim - ba.ndim), ib = i - (bo.ndim - bb.ndim);
        int64_t da = ia >= 0 ? ba.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        p->bdims[i] = bo.dims[i];
        p->sa[i] = da == 1 ? 0 : sa;
        p->sb[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        p->batch *= bo.dims[i];
    }
    int64_t od[FR_NN_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < bo.ndim; i++) od[r++] = bo.dims[i];
    if (ra > 1) od[r++] = p->m;
    if (rb > 1) od[r++] = p->n;
    n->macs = p->batch * p->m * p->n * p->k;
    return fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, r, od);
}

int op_matmul_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct matmul_params *p = n->params;
    const float *a = x->in[0]->data, *b = x->in[1]->data;
    float *y = x->out[0]->data;
    for (int64_t t = 0; t < p->batch; t++) {
        int64_t oa = 0, ob = 0, rem = t;
        for (int d = p->nb - 1; d >= 0; d--) {
            int64_t i = rem % p->bdims[d];
            rem /= p->bdims[d];
            oa += i * p->sa[d];
            ob += i * p->sb[d];
        }
        float *yo = y + t * p->m * p->n;
        if (p->k == 0) { memset(yo, 0, (size_t)(p->m * p->n) * sizeof(float)); continue; }
        if (p->m == 0 || p->n == 0) continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->m, (int)p->n, (int)p->k, 1.0f, a + oa,
                    (int)p->k, b + ob, (int)p->n, 0.0f, yo, (int)p->n);
    }
    return 0;
}
