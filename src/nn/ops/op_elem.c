/* Elementwise ops: unary maths and activations, numpy-broadcast binary ops
 * (float32, and int64/int32 for the arithmetic ones), variadic Max/Min/Sum,
 * Softmax and BatchNormalization. */
#include "../nn_int.h"
#include "../kern/kern.h"

#include <math.h>

#define PAR_MIN 16384     /* elements below which a loop stays on one thread */

static bool is_int(int dt) { return dt == FR_DTYPE_INT64 || dt == FR_DTYPE_INT32; }

/* ---- unary ---- */

struct unary_params { float alpha, lo, hi; };

int op_unary_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, n->op == FR_OP_CLIP ? 3 : 1);
    if (rc < 0) return rc;
    const struct fr_tensor *a = &fr__nn_in(m, n, 0)->t;
    bool ok = a->dtype == FR_DTYPE_FLOAT || ((n->op == FR_OP_NEG || n->op == FR_OP_ABS) && is_int(a->dtype));
    if (!ok) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(a->dtype));
    struct unary_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    p->alpha = fr__nn_attr_float(n, "alpha", 0.01f);
    return fr__nn_set_out(m, n, 0, a->dtype, a->ndim, a->dims);
}

int op_clip_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, 3);
    if (rc < 0) return rc;
    if ((rc = op_unary_shape(m, n)) < 0) return rc;
    for (int i = 1; i < n->n_in; i++) {
        const struct fr_nn_value *v = fr__nn_in(m, n, i);
        if (v && (v->t.dtype != FR_DTYPE_FLOAT || fr_tensor_numel(&v->t) != 1))
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "min/max must be float scalars");
    }
    struct unary_params *p = n->params;
    p->lo = fr__nn_attr_float(n, "min", -INFINITY);
    p->hi = fr__nn_attr_float(n, "max", INFINITY);
    return 0;
}

struct unary_job {
    const struct fr_nn_node *n;
    const void *a;
    void *y;
    int64_t cnt, chunk;
    float lo, hi;
    int dtype;
};

static void unary_chunk(void *arg, int task, int tid) {
    (void)tid;
    const struct unary_job *j = arg;
    const struct unary_params *p = j->n->params;
    int64_t i0 = task * j->chunk, i1 = i0 + j->chunk < j->cnt ? i0 + j->chunk : j->cnt;
    if (is_int(j->dtype)) {
        for (int64_t i = i0; i < i1; i++) {
            int64_t v = j->dtype == FR_DTYPE_INT64 ? ((const int64_t *)j->a)[i] : ((const int32_t *)j->a)[i];
            v = j->n->op == FR_OP_NEG ? -v : v < 0 ? -v : v;
            if (j->dtype == FR_DTYPE_INT64) ((int64_t *)j->y)[i] = v;
            else ((int32_t *)j->y)[i] = (int32_t)v;
        }
        return;
    }
    const float *a = j->a;
    float *y = j->y;
    switch (j->n->op) {
    case FR_OP_RELU: for (int64_t i = i0; i < i1; i++) y[i] = a[i] > 0.0f ? a[i] : 0.0f; break;
    case FR_OP_LEAKYRELU: for (int64_t i = i0; i < i1; i++) y[i] = a[i] > 0.0f ? a[i] : a[i] * p->alpha; break;
    case FR_OP_EXP: case FR_OP_TANH: case FR_OP_SIGMOID:
        fr_kern_get()->vmath(j->n->op, a + i0, y + i0, (size_t)(i1 - i0));
        break;
    case FR_OP_NEG: for (int64_t i = i0; i < i1; i++) y[i] = -a[i]; break;
    case FR_OP_ABS: for (int64_t i = i0; i < i1; i++) y[i] = fabsf(a[i]); break;
    case FR_OP_SQRT: for (int64_t i = i0; i < i1; i++) y[i] = sqrtf(a[i]); break;
    case FR_OP_RECIPROCAL: for (int64_t i = i0; i < i1; i++) y[i] = 1.0f / a[i]; break;
    case FR_OP_LOG: for (int64_t i = i0; i < i1; i++) y[i] = logf(a[i]); break;
    case FR_OP_FLOOR: for (int64_t i = i0; i < i1; i++) y[i] = floorf(a[i]); break;
    case FR_OP_CEIL: for (int64_t i = i0; i < i1; i++) y[i] = ceilf(a[i]); break;
    case FR_OP_CLIP:
        for (int64_t i = i0; i < i1; i++) y[i] = a[i] < j->lo ? j->lo : a[i] > j->hi ? j->hi : a[i];
        break;
    default: break;
    }
}

static int64_t chunk_for(int64_t cnt, int n_threads) {
    if (n_threads <= 1 || cnt < PAR_MIN) return cnt > 0 ? cnt : 1;
    int64_t c = (cnt + n_threads * 4 - 1) / (n_threads * 4);
    return (c + 15) & ~(int64_t)15;
}

int op_unary_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct unary_params *p = n->params;
    struct unary_job j = { n, x->in[0]->data, x->out[0]->data, fr_tensor_numel(x->in[0]), 0, p->lo, p->hi,
                           x->in[0]->dtype };
    if (n->op == FR_OP_CLIP) {
        if (x->n_in > 1 && x->in[1]) j.lo = *(const float *)x->in[1]->data;
        if (x->n_in > 2 && x->in[2]) j.hi = *(const float *)x->in[2]->data;
    }
    j.chunk = chunk_for(j.cnt, x->n_threads);
    fr_pool_for(x->pool, (int)((j.cnt + j.chunk - 1) / j.chunk), unary_chunk, &j);
    return 0;
}

/* ---- binary with broadcasting ---- */

/* Dims of a broadcast, coalesced: adjacent dims that broadcast the same way
 * for both operands merge, so [N,C,H,W] + [C,1,1] becomes [N, C, H·W]. */
struct bcast {
    int nd;
    int64_t dims[FR_NN_MAX_DIMS];
    int64_t sa[FR_NN_MAX_DIMS], sb[FR_NN_MAX_DIMS];   /* element strides, 0 = broadcast */
};

static void bcast_plan(const struct fr_tensor *a, const struct fr_tensor *b, const struct fr_tensor *y,
                       struct bcast *bc) {
    int r = y->ndim, nd = 0;
    int64_t da[FR_NN_MAX_DIMS], db[FR_NN_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        da[i] = ia >= 0 ? a->dims[ia] : 1;
        db[i] = ib >= 0 ? b->dims[ib] : 1;
    }
    /* merged dims, from the outermost */
    for (int i = 0; i < r; i++) {
        if (y->dims[i] == 1) continue;
        bool fa = da[i] != 1, fb = db[i] != 1;
        if (nd > 0 && (bc->sa[nd - 1] != 0) == fa && (bc->sb[nd - 1] != 0) == fb) {
            bc->dims[nd - 1] *= y->dims[i];
        } else {
            bc->dims[nd] = y->dims[i];
            bc->sa[nd] = fa;     /* flags for now, strides below */
            bc->sb[nd] = fb;
            nd++;
        }
    }
    if (nd == 0) { bc->dims[0] = 1; bc->sa[0] = bc->sb[0] = 1; nd = 1; }
    bc->nd = nd;
    int64_t ra = 1, rb = 1;
    for (int i = nd - 1; i >= 0; i--) {
        if (bc->sa[i]) { bc->sa[i] = ra; ra *= bc->dims[i]; }
        if (bc->sb[i]) { bc->sb[i] = rb; rb *= bc->dims[i]; }
    }
}

static int binary_out_dtype(const struct fr_nn_node *n, int dt) { (void)n; return dt; }

int op_binary_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 2, 2);
    if (rc < 0) return rc;
    const struct fr_tensor *a = &fr__nn_in(m, n, 0)->t, *b = &fr__nn_in(m, n, 1)->t;
    bool arith = n->op == FR_OP_ADD || n->op == FR_OP_SUB || n->op == FR_OP_MUL || n->op == FR_OP_DIV;
    if (n->op == FR_OP_POW) {
        if (a->dtype != FR_DTYPE_FLOAT || b->dtype != FR_DTYPE_FLOAT)
            return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented",
                                   fr_dtype_name(a->dtype != FR_DTYPE_FLOAT ? a->dtype : b->dtype));
    } else {
        if (a->dtype != b->dtype)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "inputs of types %s and %s", fr_dtype_name(a->dtype),
                                   fr_dtype_name(b->dtype));
        if (a->dtype != FR_DTYPE_FLOAT && !(arith && is_int(a->dtype)))
            return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(a->dtype));
    }
    struct fr_tensor y;
    if (n->op == FR_OP_PRELU) {
        /* slope broadcasts to x (unidirectional) */
        if (fr__nn_broadcast(a, b, &y) < 0 || y.ndim != a->ndim || memcmp(y.dims, a->dims, sizeof(int64_t) * (size_t)a->ndim))
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "slope does not broadcast to the input");
    } else if (fr__nn_broadcast(a, b, &y) < 0) {
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shapes do not broadcast");
    }
    return fr__nn_set_out(m, n, 0, binary_out_dtype(n, a->dtype), y.ndim, y.dims);
}

#define BIN_LOOP(T, EXPR)                                                                  \
    do {                                                                                   \
        const T *A = a, *B = b;                                                            \
        T *Y = y;                                                                          \
        if (sa == 1 && sb == 1) for (int64_t i = 0; i < len; i++) { T u = A[i], v = B[i]; Y[i] = (EXPR); } \
        else if (sb == 0) { T v = B[0]; for (int64_t i = 0; i < len; i++) { T u = A[i * sa]; Y[i] = (EXPR); } } \
        else if (sa == 0) { T u = A[0]; for (int64_t i = 0; i < len; i++) { T v = B[i * sb]; Y[i] = (EXPR); } } \
        else for (int64_t i = 0; i < len; i++) { T u = A[i * sa], v = B[i * sb]; Y[i] = (EXPR); } \
    } while (0)

/* y[0..len) = op(a[i·sa], b[i·sb]) */
static void bin_row(int op, int dt, const void *a, const void *b, void *y, int64_t len, int64_t sa, int64_t sb) {
    if (dt == FR_DTYPE_FLOAT) {
        switch (op) {
        case FR_OP_ADD: case FR_OP_SUM: BIN_LOOP(float, u + v); break;
        case FR_OP_SUB: BIN_LOOP(float, u - v); break;
        case FR_OP_MUL: BIN_LOOP(float, u * v); break;
        case FR_OP_DIV: BIN_LOOP(float, u / v); break;
        case FR_OP_POW: BIN_LOOP(float, powf(u, v)); break;
        case FR_OP_PRELU: BIN_LOOP(float, u < 0.0f ? u * v : u); break;
        case FR_OP_MAX: BIN_LOOP(float, isnan(u) || u > v ? u : v); break;
        case FR_OP_MIN: BIN_LOOP(float, isnan(u) || u < v ? u : v); break;
        default: break;
        }
    } else if (dt == FR_DTYPE_INT64) {
        switch (op) {
        case FR_OP_ADD: case FR_OP_SUM: BIN_LOOP(int64_t, (int64_t)((uint64_t)u + (uint64_t)v)); break;
        case FR_OP_SUB: BIN_LOOP(int64_t, (int64_t)((uint64_t)u - (uint64_t)v)); break;
        case FR_OP_MUL: BIN_LOOP(int64_t, (int64_t)((uint64_t)u * (uint64_t)v)); break;
        case FR_OP_DIV: BIN_LOOP(int64_t, v == 0 || (v == -1 && u == INT64_MIN) ? 0 : u / v); break;
        case FR_OP_MAX: BIN_LOOP(int64_t, u > v ? u : v); break;
        case FR_OP_MIN: BIN_LOOP(int64_t, u < v ? u : v); break;
        default: break;
        }
    } else {
        switch (op) {
        case FR_OP_ADD: case FR_OP_SUM: BIN_LOOP(int32_t, (int32_t)((uint32_t)u + (uint32_t)v)); break;
        case FR_OP_SUB: BIN_LOOP(int32_t, (int32_t)((uint32_t)u - (uint32_t)v)); break;
        case FR_OP_MUL: BIN_LOOP(int32_t, (int32_t)((uint32_t)u * (uint32_t)v)); break;
        case FR_OP_DIV: BIN_LOOP(int32_t, v == 0 || (v == -1 && u == INT32_MIN) ? 0 : u / v); break;
        case FR_OP_MAX: BIN_LOOP(int32_t, u > v ? u : v); break;
        case FR_OP_MIN: BIN_LOOP(int32_t, u < v ? u : v); break;
        default: break;
        }
    }
}

struct bin_job {
    int op, dt;
    size_t esz;
    const char *a, *b;
    char *y;
    struct bcast bc;
    int64_t rows, rows_per_task;
};

/* A task runs whole rows (the innermost merged dim) of the output. */
static void bin_task(void *arg, int task, int tid) {
    (void)tid;
    const struct bin_job *j = arg;
    const struct bcast *bc = &j->bc;
    int last = bc->nd - 1;
    int64_t len = bc->dims[last];
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) {
        int64_t oa = 0, ob = 0, rem = r;
        for (int d = last - 1; d >= 0; d--) {
            int64_t i = rem % bc->dims[d];
            rem /= bc->dims[d];
            oa += i * bc->sa[d];
            ob += i * bc->sb[d];
        }
        bin_row(j->op, j->dt, j->a + (size_t)oa * j->esz, j->b + (size_t)ob * j->esz,
                j->y + (size_t)(r * len) * j->esz, len, bc->sa[last], bc->sb[last]);
    }
}

static void binary_apply(int op, const struct fr_tensor *a, const struct fr_tensor *b, struct fr_tensor *y,
                         struct fr_nn_exec *x) {
    struct bin_job j = { .op = op, .dt = y->dtype, .esz = fr_dtype_size(y->dtype), .a = a->data, .b = b->data,
                         .y = y->data };
    bcast_plan(a, b, y, &j.bc);
    int64_t len = j.bc.dims[j.bc.nd - 1], total = fr_tensor_numel(y);
    j.rows = len ? total / len : 0;
    if (j.rows == 0) return;
    j.rows_per_task = j.rows;
    if (x->n_threads > 1 && total >= PAR_MIN) {
        j.rows_per_task = (j.rows + x->n_threads * 4 - 1) / (x->n_threads * 4);
        if (j.rows_per_task < 1) j.rows_per_task = 1;
    }
    fr_pool_for(x->pool, (int)((j.rows + j.rows_per_task - 1) / j.rows_per_task), bin_task, &j);
}

int op_binary_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    binary_apply(n->op, x->in[0], x->in[1], x->out[0], x);
    return 0;
}

/* ---- variadic Max / Min / Sum ---- */

int op_variadic_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, FR_NN_MAX_IO);
    if (rc < 0) return rc;
    struct fr_tensor y = fr__nn_in(m, n, 0)->t;
    if (y.dtype != FR_DTYPE_FLOAT && !(n->op != FR_OP_SUM && is_int(y.dtype)))
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(y.dtype));
    for (int i = 1; i < n->n_in; i++) {
        const struct fr_nn_value *v = fr__nn_in(m, n, i);
        if (!v) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d is missing", i);
        if (v->t.dtype != y.dtype) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "mixed input types");
        struct fr_tensor t;
        if (fr__nn_broadcast(&y, &v->t, &t) < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shapes do not broadcast");
        y.ndim = t.ndim;
        memcpy(y.dims, t.dims, sizeof t.dims);
    }
    return fr__nn_set_out(m, n, 0, y.dtype, y.ndim, y.dims);
}

int op_variadic_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    struct fr_tensor *y = x->out[0];
    if (x->n_in == 1) {
        memcpy(y->data, x->in[0]->data, fr_tensor_bytes(y));
        return 0;
    }
    binary_apply(n->op, x->in[0], x->in[1], y, x);
    for (int i = 2; i < x->n_in; i++) binary_apply(n->op, y, x->in[i], y, x);
    return 0;
}

/* ---- Softmax ---- */

struct softmax_params { int64_t outer, len, inner; };

int op_softmax_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, 1);
    if (rc < 0) return rc;
    const struct fr_tensor *a = &fr__nn_in(m, n, 0)->t;
    if (a->dtype != FR_DTYPE_FLOAT)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(a->dtype));
    int r = a->ndim;
    int ax = fr__nn_axis(fr__nn_attr_int(n, "axis", m->opset >= 13 ? -1 : 1), r > 0 ? r : 1);
    if (ax < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis out of range");
    struct softmax_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    p->outer = p->len = p->inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < ax) p->outer *= a->dims[i];
        else if (i == ax || m->opset < 13) p->len *= a->dims[i];   /* < 13: flatten [ax, r) */
        else p->inner *= a->dims[i];
    }
    return fr__nn_set_out(m, n, 0, a->dtype, a->ndim, a->dims);
}

int op_softmax_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct softmax_params *p = n->params;
    const float *a = x->in[0]->data;
    float *y = x->out[0]->data;
    if (p->inner == 1) {
        /* rows are contiguous: subtract each row's max, one vector exp over
         * everything, then scale each row by its sum */
        int64_t total = p->outer * p->len;
        for (int64_t o = 0; o < p->outer; o++) {
            const float *ap = a + o * p->len;
            float *yp = y + o * p->len, mx = -INFINITY;
            for (int64_t i = 0; i < p->len; i++) mx = ap[i] > mx ? ap[i] : mx;
            for (int64_t i = 0; i < p->len; i++) yp[i] = ap[i] - mx;
        }
        fr_kern_get()->vmath(FR_OP_EXP, y, y, (size_t)total);
        for (int64_t o = 0; o < p->outer; o++) {
            float *yp = y + o * p->len;
            double sum = 0;
            for (int64_t i = 0; i < p->len; i++) sum += (double)yp[i];
            float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < p->len; i++) yp[i] *= inv;
        }
        return 0;
    }
    for (int64_t o = 0; o < p->outer; o++)
        for (int64_t in = 0; in < p->inner; in++) {
            const float *ap = a + o * p->len * p->inner + in;
            float *yp = y + o * p->len * p->inner + in;
            float mx = -INFINITY;
            for (int64_t i = 0; i < p->len; i++) mx = ap[i * p->inner] > mx ? ap[i * p->inner] : mx;
            double sum = 0;
            for (int64_t i = 0; i < p->len; i++) {
                float e = expf(ap[i * p->inner] - mx);
                yp[i * p->inner] = e;
                sum += (double)e;
            }
            float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < p->len; i++) yp[i * p->inner] *= inv;
        }
    return 0;
}

/* ---- BatchNormalization (inference, and opset-14+ training mode) ---- */

int op_bn_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 5, 5);
    if (rc < 0) return rc;
    const struct fr_tensor *a = &fr__nn_in(m, n, 0)->t;
    if (a->ndim < 2) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input rank %d", a->ndim);
    for (int i = 0; i < 5; i++) {
        const struct fr_tensor *t = &fr__nn_in(m, n, i)->t;
        if (t->dtype != FR_DTYPE_FLOAT)
            return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(t->dtype));
        if (i > 0 && fr_tensor_numel(t) != a->dims[1])
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d must have %lld values", i, (long long)a->dims[1]);
    }
    bool train = fr__nn_attr_int(n, "training_mode", 0) != 0;
    struct fr_bn_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    if (!train && n->n_out > 1 && m->opset >= 14)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "extra outputs need training_mode");
    if (n->n_out > 1 && !train)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "training outputs of opset %d", m->opset);
    if ((rc = fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, a->ndim, a->dims)) < 0) return rc;
    for (int i = 1; i < n->n_out && i < 3; i++)
        if ((rc = fr__nn_set_out(m, n, i, FR_DTYPE_FLOAT, 1, &a->dims[1])) < 0) return rc;
    return 0;
}

int op_bn_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct fr_tensor *X = x->in[0];
    const float *xd = X->data, *sc = x->in[1]->data, *bi = x->in[2]->data;
    const float *mean = x->in[3]->data, *var = x->in[4]->data;
    float *y = x->out[0]->data;
    float eps = fr__nn_attr_float(n, "epsilon", 1e-5f);
    bool train = fr__nn_attr_int(n, "training_mode", 0) != 0;
    float mom = fr__nn_attr_float(n, "momentum", 0.9f);
    int64_t nb = X->dims[0], c = X->dims[1], sp = nb * c > 0 ? fr_tensor_numel(X) / (nb * c) : 0;
    const struct fr_bn_params *bp = n->params;
    for (int64_t ch = 0; ch < c; ch++) {
        double mu = mean[ch], va = var[ch];
        if (train) {
            double s = 0, s2 = 0;
            for (int64_t b = 0; b < nb; b++)
                for (int64_t i = 0; i < sp; i++) s += (double)xd[(b * c + ch) * sp + i];
            double cnt = (double)(nb * sp);
            double bm = s / cnt;
            for (int64_t b = 0; b < nb; b++)
                for (int64_t i = 0; i < sp; i++) {
                    double d = (double)xd[(b * c + ch) * sp + i] - bm;
                    s2 += d * d;
                }
            double bv = s2 / cnt;
            if (x->n_out > 1 && x->out[1]) ((float *)x->out[1]->data)[ch] = (float)((double)mean[ch] * (double)mom + bm * (1.0 - (double)mom));
            if (x->n_out > 2 && x->out[2]) ((float *)x->out[2]->data)[ch] = (float)((double)var[ch] * (double)mom + bv * (1.0 - (double)mom));
            mu = bm;
            va = bv;
        }
        float k = (float)((double)sc[ch] / sqrt(va + (double)eps)), b0 = (float)((double)bi[ch] - mu * (double)k);
        for (int64_t b = 0; b < nb; b++) {
            const float *xp = xd + (b * c + ch) * sp;
            float *yp = y + (b * c + ch) * sp;
            if (bp->relu)
                for (int64_t i = 0; i < sp; i++) { float v = xp[i] * k + b0; yp[i] = v > 0.0f ? v : 0.0f; }
            else
                for (int64_t i = 0; i < sp; i++) yp[i] = xp[i] * k + b0;
        }
    }
    return 0;
}
