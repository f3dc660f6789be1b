/* ReduceMean / ReduceSum / ReduceMax / ReduceMin over any set of axes. */
#include "../nn_int.h"

#include <math.h>

struct reduce_params {
    bool axis[FR_NN_MAX_DIMS];   /* reduced input dims */
    bool trailing;               /* reduced dims are one trailing block: fast rows */
    bool noop;
};

int op_reduce_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, 2);
    if (rc < 0) return rc;
    const struct fr_tensor *x = &fr__nn_in(m, n, 0)->t;
    if (x->dtype != FR_DTYPE_FLOAT)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented", fr_dtype_name(x->dtype));
    struct reduce_params *p = fr_calloc(1, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    n->params = p;
    int64_t axes[FR_NN_MAX_DIMS];
    int na = 0;
    bool axes_input = n->op == FR_OP_REDUCESUM && m->opset >= 13;
    if (axes_input && fr__nn_in(m, n, 1)) {
        if ((na = fr__nn_const_ints(m, n, 1, axes, FR_NN_MAX_DIMS)) < 0) return na;
    } else if (!axes_input) {
        if (n->n_in > 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axes is an attribute before opset 18");
        const int64_t *a = fr__nn_attr_ints(n, "axes", &na);
        if (na > FR_NN_MAX_DIMS) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "too many axes");
        for (int i = 0; i < na; i++) axes[i] = a[i];
    }
    bool keep = fr__nn_attr_int(n, "keepdims", 1) != 0;
    if (na == 0) {
        if (axes_input && fr__nn_attr_int(n, "noop_with_empty_axes", 0)) p->noop = true;
        else for (int i = 0; i < x->ndim; i++) p->axis[i] = true;
    }
    for (int i = 0; i < na; i++) {
        int a = fr__nn_axis(axes[i], x->ndim);
        if (a < 0 || p->axis[a]) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "bad or repeated axis %lld", (long long)axes[i]);
        p->axis[a] = true;
    }
    int64_t od[FR_NN_MAX_DIMS];
    int r = 0, first = x->ndim;
    for (int i = 0; i < x->ndim; i++) {
        if (p->axis[i] && first == x->ndim) first = i;
        if (!p->axis[i]) od[r++] = x->dims[i];
        else if (keep) od[r++] = 1;
    }
    p->trailing = true;
    for (int i = first; i < x->ndim; i++) p->trailing = p->trailing && p->axis[i];
    if ((rc = fr__nn_set_out(m, n, 0, FR_DTYPE_FLOAT, r, od)) < 0) return rc;
    if (!p->trailing) n->scratch_bytes = (size_t)fr_tensor_numel(&fr__nn_out(m, n, 0)->t) * sizeof(double);
    return 0;
}

static float finish(int op, double acc, int64_t cnt) {
    return op == FR_OP_REDUCEMEAN ? (cnt ? (float)(acc / (double)cnt) : NAN) : (float)acc;
}

int op_reduce_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct reduce_params *p = n->params;
    const struct fr_tensor *X = x->in[0];
    const float *xd = X->data;
    float *y = x->out[0]->data;
    int64_t total = fr_tensor_numel(X), ycnt = fr_tensor_numel(x->out[0]);
    int op = n->op;
    double init = op == FR_OP_REDUCEMAX ? -(double)INFINITY : op == FR_OP_REDUCEMIN ? (double)INFINITY : 0.0;
    if (p->noop) {
        memcpy(y, xd, fr_tensor_bytes(X));
        return 0;
    }
    int64_t cnt = ycnt ? total / ycnt : 0;
    if (p->trailing) {
        for (int64_t r = 0; r < ycnt; r++) {
            const float *row = xd + r * cnt;
            double acc = init;
            for (int64_t i = 0; i < cnt; i++) {
                double v = row[i];
                if (op == FR_OP_REDUCEMAX) acc = v > acc ? v : acc;
                else if (op == FR_OP_REDUCEMIN) acc = v < acc ? v : acc;
                else acc += v;
            }
            y[r] = finish(op, acc, cnt);
        }
        return 0;
    }
    /* general: walk the input once, accumulate into the output index */
    double *acc = x->scratch;
    for (int64_t i = 0; i < ycnt; i++) acc[i] = init;
    int64_t idx[FR_NN_MAX_DIMS] = { 0 };
    int64_t ostride[FR_NN_MAX_DIMS];
    int64_t s = 1;
    for (int d = X->ndim - 1; d >= 0; d--) {
        ostride[d] = p->axis[d] ? 0 : s;
        if (!p->axis[d]) s *= X->dims[d];
    }
    for (int64_t i = 0; i < total; i++) {
        int64_t o = 0;
        for (int d = 0; d < X->ndim; d++) o += idx[d] * ostride[d];
        double v = xd[i];
        if (op == FR_OP_REDUCEMAX) acc[o] = v > acc[o] ? v : acc[o];
        else if (op == FR_OP_REDUCEMIN) acc[o] = v < acc[o] ? v : acc[o];
        else acc[o] += v;
        for (int d = X->ndim - 1; d >= 0; d--) {
            if (++idx[d] < X->dims[d]) break;
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < ycnt; i++) y[i] = finish(op, acc[i], cnt);
    return 0;
}
