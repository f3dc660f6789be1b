/* Data-movement ops: Concat, Reshape, Flatten, Unsqueeze, Squeeze, Identity,
 * Dropout (inference), Transpose, Split, Slice, Pad, Shape, Gather, Constant.
 *
 * Shapes are static: the shape fns read every shape-carrying input as a
 * constant, check everything and precompute what the run fns need (a copy
 * plan, pads, split sizes) in node->params. The run fns only move bytes, by
 * the element size of the dtype, so every op here works for any fixed-size
 * type. Reshape-like ops may share their input's buffer (alias_out0). */
#include "../nn_int.h"

#include <stdint.h>
#include <string.h>

/* ---- helpers ---- */

/* Replace node->params by a zeroed block of `size` bytes. */
static void *params_new(struct fr_nn_node *n, size_t size) {
    fr_free(n->params);
    n->params = fr_calloc(1, size);
    return n->params;
}

/* Element size of value v's dtype, or an error for unsupported types. */
static int elem_size(const struct fr_nn_node *n, const struct fr_nn_value *v, int64_t *es) {
    size_t s = fr_dtype_size(v->t.dtype);
    *es = (int64_t)s;
    if (s == 0) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "tensors of type %s", fr_dtype_name(v->t.dtype));
    return 0;
}

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Row-major strides (in elements) of dims. */
static void strides_of(const int64_t *dims, int nd, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* Read an integer attribute list into out[max]; count, or -1 when absent. */
static int attr_ints_copy(const struct fr_nn_node *n, const char *name, int64_t *out, int max, int *cnt) {
    int k;
    const struct fr_nn_attr *at = fr__nn_attr(n, name);
    const int64_t *v = fr__nn_attr_ints(n, name, &k);
    *cnt = -1;
    if (!at) return 0;
    if (at->type != FR_ATTR_INTS)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "attribute '%s' is not a list of ints", name);
    if (k > max) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "attribute '%s' has %d values", name, k);
    for (int i = 0; i < k; i++) out[i] = v[i];
    *cnt = k;
    return 0;
}

/* float32 → float16 bits, round to nearest even. */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);       /* rounds past 65504 */
    if (mag < 0x38800000u) {                                          /* half subnormal or zero */
        if (mag < 0x33000000u) return (uint16_t)sign;
        uint32_t e = mag >> 23, m = (mag & 0x7fffffu) | 0x800000u, shift = 126 - e;
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((((mag >> 23) - 112) << 10) | ((mag & 0x7fffffu) >> 13));
    uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* Store v as one element of dtype at dst (at most 8 bytes). */
static void scalar_store(int dtype, double v, uint8_t *dst) {
    int64_t i = v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    switch (dtype) {
    case FR_DTYPE_FLOAT: { float f = (float)v; memcpy(dst, &f, 4); break; }
    case FR_DTYPE_DOUBLE: memcpy(dst, &v, 8); break;
    case FR_DTYPE_FLOAT16: { uint16_t h = f32_to_f16((float)v); memcpy(dst, &h, 2); break; }
    case FR_DTYPE_BOOL: dst[0] = v != 0; break;
    case FR_DTYPE_UINT8: case FR_DTYPE_INT8: dst[0] = (uint8_t)i; break;
    case FR_DTYPE_UINT16: case FR_DTYPE_INT16: { uint16_t u = (uint16_t)i; memcpy(dst, &u, 2); break; }
    case FR_DTYPE_UINT32: case FR_DTYPE_INT32: { uint32_t u = (uint32_t)i; memcpy(dst, &u, 4); break; }
    case FR_DTYPE_UINT64: case FR_DTYPE_INT64: { uint64_t u = (uint64_t)i; memcpy(dst, &u, 8); break; }
    default: break;
    }
}

/* Fill cnt elements of es bytes with the element at val. */
static void fill_elems(uint8_t *dst, int64_t cnt, const uint8_t *val, int64_t es) {
    bool zero = true;
    for (int64_t b = 0; b < es; b++) zero = zero && val[b] == 0;
    if (cnt <= 0) return;
    if (zero || es == 1) {
        memset(dst, val[0], (size_t)(cnt * es));
        return;
    }
    for (int64_t i = 0; i < cnt; i++) memcpy(dst + i * es, val, (size_t)es);
}

/* ---- copy plans: a box of the source (any strides) into a dense destination ---- */

struct copy_plan {
    int nd;                              /* axes; -1: nothing to copy */
    int64_t dims[FR_NN_MAX_DIMS];        /* destination dims, row-major */
    int64_t sstride[FR_NN_MAX_DIMS];     /* source bytes per step on each axis, may be negative */
    int64_t soff;                        /* source byte offset of the first element */
    int64_t es;
};

/* Drop unit axes and merge axes that are contiguous in the source, so the
 * innermost axis becomes one long memcpy whenever the layout allows. */
static void plan_simplify(struct copy_plan *p) {
    int k = 0;
    for (int i = 0; i < p->nd; i++)
        if (p->dims[i] == 0) {
            p->nd = -1;
            return;
        }
    for (int i = 0; i < p->nd; i++) {
        if (p->dims[i] == 1) continue;
        if (k > 0 && p->sstride[k - 1] == p->sstride[i] * p->dims[i]) {
            p->dims[k - 1] *= p->dims[i];
            p->sstride[k - 1] = p->sstride[i];
            continue;
        }
        p->dims[k] = p->dims[i];
        p->sstride[k] = p->sstride[i];
        k++;
    }
    p->nd = k;
}

static void copy_strided(uint8_t *d, const uint8_t *s, int64_t cnt, int64_t st, int64_t es) {
    switch (es) {
    case 1:
        for (int64_t i = 0; i < cnt; i++) d[i] = s[i * st];
        break;
    case 2:
        for (int64_t i = 0; i < cnt; i++) memcpy(d + 2 * i, s + i * st, 2);
        break;
    case 4:
        for (int64_t i = 0; i < cnt; i++) memcpy(d + 4 * i, s + i * st, 4);
        break;
    case 8:
        for (int64_t i = 0; i < cnt; i++) memcpy(d + 8 * i, s + i * st, 8);
        break;
    default:
        for (int64_t i = 0; i < cnt; i++) memcpy(d + es * i, s + i * st, (size_t)es);
        break;
    }
}

static void plan_run(const struct copy_plan *p, uint8_t *dst, const uint8_t *src) {
    if (p->nd < 0) return;
    if (p->nd == 0) {
        memcpy(dst, src + p->soff, (size_t)p->es);
        return;
    }
    const int last = p->nd - 1;
    const int64_t len = p->dims[last], st = p->sstride[last], es = p->es;
    const size_t row = (size_t)(len * es);
    if (p->nd == 2 && st == es && row <= 16) {
        /* many short rows (e.g. the box coordinates of a detector): copies of
         * a constant size compile to plain moves */
        const int64_t n = p->dims[0], ss = p->sstride[0];
        const uint8_t *s0 = src + p->soff;
        switch (row) {
        case 4: for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i, s0 + i * ss, 4); return;
        case 8: for (int64_t i = 0; i < n; i++) memcpy(dst + 8 * i, s0 + i * ss, 8); return;
        case 16: for (int64_t i = 0; i < n; i++) memcpy(dst + 16 * i, s0 + i * ss, 16); return;
        default: break;
        }
    }
    int64_t idx[FR_NN_MAX_DIMS] = { 0 };
    int64_t off = p->soff;
    for (;;) {
        if (st == es) memcpy(dst, src + off, row);
        else copy_strided(dst, src + off, len, st, es);
        dst += row;
        int a = last - 1;
        for (; a >= 0; a--) {
            off += p->sstride[a];
            if (++idx[a] < p->dims[a]) break;
            off -= p->sstride[a] * p->dims[a];
            idx[a] = 0;
        }
        if (a < 0) return;
    }
}

/* ---- Concat ---- */

struct concat_params { int axis; };

int op_concat_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, FR_NN_MAX_IO);
    if (rc < 0) return rc;
    const struct fr_nn_value *x0 = fr__nn_in(m, n, 0);
    int64_t es;
    if ((rc = elem_size(n, x0, &es)) < 0) return rc;
    int r = x0->t.ndim;
    if (r < 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "inputs must have rank >= 1");
    int64_t axis_attr = 1;
    if (fr__nn_attr(n, "axis")) axis_attr = fr__nn_attr_int(n, "axis", 1);
    else if (m->opset >= 4) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "attribute 'axis' is required");
    int axis = fr__nn_axis(axis_attr, r);
    if (axis < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d",
                                         (long long)axis_attr, r);
    int64_t od[FR_NN_MAX_DIMS];
    memcpy(od, x0->t.dims, sizeof od);
    od[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const struct fr_nn_value *v = fr__nn_in(m, n, i);
        if (!v) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d is missing", i);
        if (v->t.dtype != x0->t.dtype)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d is %s, input 0 is %s", i,
                                   fr_dtype_name(v->t.dtype), fr_dtype_name(x0->t.dtype));
        if (v->t.ndim != r)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d has rank %d, input 0 has rank %d", i,
                                   v->t.ndim, r);
        for (int d = 0; d < r; d++)
            if (d != axis && v->t.dims[d] != x0->t.dims[d])
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d: dim %d is %lld, input 0 has %lld", i, d,
                                       (long long)v->t.dims[d], (long long)x0->t.dims[d]);
        od[axis] += v->t.dims[axis];
    }
    struct concat_params *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    p->axis = axis;
    return fr__nn_set_out(m, n, 0, x0->t.dtype, r, od);
}

int op_concat_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct concat_params *p = n->params;
    struct fr_tensor *y = x->out[0];
    const int64_t es = (int64_t)fr_dtype_size(y->dtype);
    const int64_t outer = prod(y->dims, 0, p->axis);
    size_t chunk[FR_NN_MAX_IO];
    for (int i = 0; i < x->n_in; i++) {
        const struct fr_tensor *t = x->in[i];
        chunk[i] = (size_t)(prod(t->dims, p->axis, t->ndim) * es);
    }
    uint8_t *dst = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < x->n_in; i++) {
            if (!chunk[i]) continue;
            const uint8_t *src = (const uint8_t *)x->in[i]->data + (size_t)o * chunk[i];
            if (src != dst) memcpy(dst, src, chunk[i]);   /* the planner may have put it in place */
            dst += chunk[i];
        }
    return 0;
}

/* ---- reshape-like ops: output 0 is input 0's bytes ---- */

/* Common start: one data input of a supported type; output 0 may alias it. */
static int reshape_like(struct fr_nn_model *m, struct fr_nn_node *n, int n_min, int n_max,
                        const struct fr_nn_value **x_out) {
    int64_t es;
    int rc = fr__nn_check_inputs(m, n, n_min, n_max);
    if (rc < 0) return rc;
    *x_out = fr__nn_in(m, n, 0);
    if ((rc = elem_size(n, *x_out, &es)) < 0) return rc;
    n->alias_out0 = true;
    return 0;
}

int op_reshape_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    const struct fr_nn_value *x;
    int64_t shp[FR_NN_MAX_DIMS], od[FR_NN_MAX_DIMS];
    int cnt, rc;
    if (m->opset < 5) {
        if ((rc = reshape_like(m, n, 1, 1, &x)) < 0) return rc;
        if ((rc = attr_ints_copy(n, "shape", shp, FR_NN_MAX_DIMS, &cnt)) < 0) return rc;
        if (cnt < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "attribute 'shape' is required");
    } else {
        if ((rc = reshape_like(m, n, 2, 2, &x)) < 0) return rc;
        if ((cnt = fr__nn_const_ints(m, n, 1, shp, FR_NN_MAX_DIMS)) < 0) return cnt;
    }
    const bool allowzero = fr__nn_attr_int(n, "allowzero", 0) != 0;
    const int64_t total = fr_tensor_numel(&x->t);
    int infer = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (int i = 0; i < cnt; i++) {
        int64_t v = shp[i];
        if (v == -1) {
            if (infer >= 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shape has more than one -1");
            infer = i;
            continue;
        }
        if (v < -1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shape value %lld", (long long)v);
        if (v == 0 && !allowzero) {
            if (i >= x->t.ndim)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shape[%d] = 0 copies a dim the input (rank %d) lacks",
                                       i, x->t.ndim);
            v = x->t.dims[i];
        }
        if (v == 0) has_zero = true;
        if (v > 0 && known > INT64_MAX / v)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shape has too many elements");
        known *= v;
        od[i] = v;
    }
    if (infer >= 0) {
        if (allowzero && has_zero)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "shape has both -1 and 0 with allowzero=1");
        if (known == 0 || total % known != 0)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "cannot infer -1: %lld elements into a multiple of %lld",
                                   (long long)total, (long long)known);
        od[infer] = total / known;
    } else if (known != total) {
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%lld elements cannot take a shape of %lld",
                               (long long)total, (long long)known);
    }
    return fr__nn_set_out(m, n, 0, x->t.dtype, cnt, od);
}

int op_flatten_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    const struct fr_nn_value *x;
    int rc = reshape_like(m, n, 1, 1, &x);
    if (rc < 0) return rc;
    int r = x->t.ndim;
    int64_t axis = fr__nn_attr_int(n, "axis", 1);
    if (axis < -r || axis > r)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d", (long long)axis, r);
    if (axis < 0) axis += r;
    int64_t od[2] = { prod(x->t.dims, 0, (int)axis), prod(x->t.dims, (int)axis, r) };
    return fr__nn_set_out(m, n, 0, x->t.dtype, 2, od);
}

int op_unsqueeze_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    const struct fr_nn_value *x;
    int64_t axes[FR_NN_MAX_DIMS], od[FR_NN_MAX_DIMS];
    bool is_new[FR_NN_MAX_DIMS] = { false };
    int cnt, rc;
    if (m->opset < 13) {
        if ((rc = reshape_like(m, n, 1, 1, &x)) < 0) return rc;
        if ((rc = attr_ints_copy(n, "axes", axes, FR_NN_MAX_DIMS, &cnt)) < 0) return rc;
        if (cnt < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "attribute 'axes' is required");
    } else {
        if ((rc = reshape_like(m, n, 2, 2, &x)) < 0) return rc;
        if ((cnt = fr__nn_const_ints(m, n, 1, axes, FR_NN_MAX_DIMS)) < 0) return cnt;
    }
    int r = x->t.ndim + cnt;
    if (r > FR_NN_MAX_DIMS) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "output of rank %d", r);
    for (int i = 0; i < cnt; i++) {
        int a = fr__nn_axis(axes[i], r);
        if (a < 0)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d", (long long)axes[i], r);
        if (is_new[a]) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld repeated", (long long)axes[i]);
        is_new[a] = true;
    }
    for (int i = 0, j = 0; i < r; i++) od[i] = is_new[i] ? 1 : x->t.dims[j++];
    return fr__nn_set_out(m, n, 0, x->t.dtype, r, od);
}

int op_squeeze_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    const struct fr_nn_value *x;
    int64_t axes[FR_NN_MAX_DIMS], od[FR_NN_MAX_DIMS];
    bool drop[FR_NN_MAX_DIMS] = { false };
    int cnt = -1, rc;
    if (m->opset < 13) {
        if ((rc = reshape_like(m, n, 1, 1, &x)) < 0) return rc;
        if ((rc = attr_ints_copy(n, "axes", axes, FR_NN_MAX_DIMS, &cnt)) < 0) return rc;
    } else {
        if ((rc = reshape_like(m, n, 1, 2, &x)) < 0) return rc;
        if (fr__nn_in(m, n, 1) && (cnt = fr__nn_const_ints(m, n, 1, axes, FR_NN_MAX_DIMS)) < 0) return cnt;
    }
    int r = x->t.ndim, k = 0;
    if (cnt <= 0) {
        for (int d = 0; d < r; d++) drop[d] = x->t.dims[d] == 1;
    } else {
        for (int i = 0; i < cnt; i++) {
            int a = fr__nn_axis(axes[i], r);
            if (a < 0)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d", (long long)axes[i], r);
            if (drop[a]) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld repeated", (long long)axes[i]);
            if (x->t.dims[a] != 1)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "cannot squeeze axis %d of size %lld", a,
                                       (long long)x->t.dims[a]);
            drop[a] = true;
        }
    }
    for (int d = 0; d < r; d++)
        if (!drop[d]) od[k++] = x->t.dims[d];
    return fr__nn_set_out(m, n, 0, x->t.dtype, k, od);
}

int op_identity_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    const struct fr_nn_value *x;
    int rc = reshape_like(m, n, 1, 1, &x);
    if (rc < 0) return rc;
    return fr__nn_set_out(m, n, 0, x->t.dtype, x->t.ndim, x->t.dims);
}

/* Dropout's ratio input is 0 (training mode with ratio 0 is the identity too). */
static bool ratio_is_zero(const struct fr_tensor *t) {
    if (!t || !t->data || fr_tensor_numel(t) < 1) return false;     /* default 0.5 */
    switch (t->dtype) {
    case FR_DTYPE_FLOAT: { float f; memcpy(&f, t->data, 4); return f == 0.0f; }
    case FR_DTYPE_DOUBLE: { double d; memcpy(&d, t->data, 8); return d == 0.0; }
    case FR_DTYPE_FLOAT16: { uint16_t h; memcpy(&h, t->data, 2); return (h & 0x7fffu) == 0; }
    default: return false;
    }
}

int op_dropout_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    const struct fr_nn_value *x;
    int rc = reshape_like(m, n, 1, m->opset < 12 ? 1 : 3, &x);
    if (rc < 0) return rc;
    if (n->n_out > 2) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%d outputs, expected 1..2", n->n_out);
    const struct fr_nn_value *mode = fr__nn_in(m, n, 2);
    if (mode) {
        if (mode->t.dtype != FR_DTYPE_BOOL || fr_tensor_numel(&mode->t) != 1)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "training_mode must be one bool");
        const struct fr_nn_value *ratio = fr__nn_in(m, n, 1);
        if (mode->is_const && *(const uint8_t *)mode->t.data &&
            !(ratio && ratio->is_const && ratio_is_zero(&ratio->t)))
            return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED,
                                   "training-mode Dropout is not implemented (only with a constant ratio 0)");
    }
    if ((rc = fr__nn_set_out(m, n, 0, x->t.dtype, x->t.ndim, x->t.dims)) < 0) return rc;
    /* the mask is bool from opset 10, the input's type before */
    return fr__nn_set_out(m, n, 1, m->opset < 10 ? x->t.dtype : FR_DTYPE_BOOL, x->t.ndim, x->t.dims);
}

int op_copy_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct fr_tensor *a = x->in[0];
    struct fr_tensor *y = x->out[0];
    if (n->op == FR_OP_DROPOUT) {
        const struct fr_tensor *mode = x->n_in > 2 ? x->in[2] : NULL;
        if (mode && *(const uint8_t *)mode->data && !ratio_is_zero(x->in[1]))
            return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "training-mode Dropout (ratio > 0) is not implemented");
        if (x->n_out > 1) {
            struct fr_tensor *mask = x->out[1];
            uint8_t one[8] = { 0 };
            scalar_store(mask->dtype, 1.0, one);
            fill_elems(mask->data, fr_tensor_numel(mask), one, (int64_t)fr_dtype_size(mask->dtype));
        }
    }
    size_t bytes = fr_tensor_bytes(y);
    if (y->data != a->data && bytes) memcpy(y->data, a->data, bytes);
    return 0;
}

/* ---- Transpose ---- */

int op_transpose_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int64_t es, perm[FR_NN_MAX_DIMS], od[FR_NN_MAX_DIMS], st[FR_NN_MAX_DIMS];
    bool seen[FR_NN_MAX_DIMS] = { false };
    int cnt, rc = fr__nn_check_inputs(m, n, 1, 1);
    if (rc < 0) return rc;
    const struct fr_nn_value *x = fr__nn_in(m, n, 0);
    if ((rc = elem_size(n, x, &es)) < 0) return rc;
    const int r = x->t.ndim;
    if ((rc = attr_ints_copy(n, "perm", perm, FR_NN_MAX_DIMS, &cnt)) < 0) return rc;
    if (cnt < 0) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    } else if (cnt != r) {
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "perm has %d values for rank %d", cnt, r);
    }
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "perm is not a permutation of 0..%d", r - 1);
        seen[perm[i]] = true;
    }
    struct copy_plan *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    strides_of(x->t.dims, r, st);
    p->nd = r;
    p->es = es;
    for (int i = 0; i < r; i++) {
        od[i] = x->t.dims[perm[i]];
        p->dims[i] = od[i];
        p->sstride[i] = st[perm[i]] * es;
    }
    plan_simplify(p);
    return fr__nn_set_out(m, n, 0, x->t.dtype, r, od);
}

int op_transpose_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    plan_run(n->params, x->out[0]->data, x->in[0]->data);
    return 0;
}

/* ---- Split ---- */

struct split_params {
    int axis;
    int n;
    int64_t size[FR_NN_MAX_IO];
};

int op_split_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int64_t es, size[FR_NN_MAX_IO], od[FR_NN_MAX_DIMS];
    int cnt = -1, rc = fr__nn_check_inputs(m, n, 1, 2);
    if (rc < 0) return rc;
    const struct fr_nn_value *x = fr__nn_in(m, n, 0);
    if ((rc = elem_size(n, x, &es)) < 0) return rc;
    const int r = x->t.ndim;
    int64_t axis_attr = fr__nn_attr_int(n, "axis", 0);
    int axis = fr__nn_axis(axis_attr, r);
    if (axis < 0)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d", (long long)axis_attr, r);
    const int64_t dim = x->t.dims[axis];
    if (fr__nn_in(m, n, 1)) {
        if ((cnt = fr__nn_const_ints(m, n, 1, size, FR_NN_MAX_IO)) < 0) return cnt;
        if (cnt == 0) cnt = -1;                      /* empty: equal parts */
    } else if ((rc = attr_ints_copy(n, "split", size, FR_NN_MAX_IO, &cnt)) < 0) {
        return rc;
    }
    if (cnt < 0) {
        if (dim % n->n_out != 0)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "dim %lld does not split into %d equal parts",
                                   (long long)dim, n->n_out);
        for (int k = 0; k < n->n_out; k++) size[k] = dim / n->n_out;
        cnt = n->n_out;
    }
    if (cnt != n->n_out)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%d split sizes for %d outputs", cnt, n->n_out);
    int64_t sum = 0;
    for (int k = 0; k < cnt; k++) {
        if (size[k] < 0 || size[k] > dim - sum)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "split sizes do not add up to dim %lld", (long long)dim);
        sum += size[k];
    }
    if (sum != dim)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "split sizes add up to %lld, dim is %lld", (long long)sum,
                               (long long)dim);
    struct split_params *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    p->axis = axis;
    p->n = cnt;
    memcpy(od, x->t.dims, sizeof od);
    for (int k = 0; k < cnt; k++) {
        p->size[k] = size[k];
        od[axis] = size[k];
        if ((rc = fr__nn_set_out(m, n, k, x->t.dtype, r, od)) < 0) return rc;
    }
    return 0;
}

int op_split_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct split_params *p = n->params;
    const struct fr_tensor *a = x->in[0];
    const int64_t es = (int64_t)fr_dtype_size(a->dtype);
    const int64_t outer = prod(a->dims, 0, p->axis);
    const int64_t inner = prod(a->dims, p->axis + 1, a->ndim) * es;
    const int64_t rowb = a->dims[p->axis] * inner;
    const uint8_t *src = a->data;
    int64_t off = 0;
    for (int k = 0; k < p->n && k < x->n_out; k++) {
        const size_t chunk = (size_t)(p->size[k] * inner);
        uint8_t *dst = x->out[k]->data;
        if (chunk)
            for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * chunk, src + o * rowb + off, chunk);
        off += (int64_t)chunk;
    }
    return 0;
}

/* ---- Slice ---- */

int op_slice_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int64_t es, st[FR_NN_MAX_DIMS], en[FR_NN_MAX_DIMS], ax[FR_NN_MAX_DIMS], sp[FR_NN_MAX_DIMS];
    int64_t od[FR_NN_MAX_DIMS], istr[FR_NN_MAX_DIMS], start[FR_NN_MAX_DIMS], step[FR_NN_MAX_DIMS];
    bool seen[FR_NN_MAX_DIMS] = { false };
    int n_st, n_en, n_ax = -1, n_sp = -1, rc;
    if (m->opset < 10) {
        if ((rc = fr__nn_check_inputs(m, n, 1, 1)) < 0) return rc;
        if ((rc = attr_ints_copy(n, "starts", st, FR_NN_MAX_DIMS, &n_st)) < 0 ||
            (rc = attr_ints_copy(n, "ends", en, FR_NN_MAX_DIMS, &n_en)) < 0 ||
            (rc = attr_ints_copy(n, "axes", ax, FR_NN_MAX_DIMS, &n_ax)) < 0)
            return rc;
        if (n_st < 0 || n_en < 0)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "attributes 'starts' and 'ends' are required");
    } else {
        if ((rc = fr__nn_check_inputs(m, n, 3, 5)) < 0) return rc;
        if ((n_st = fr__nn_const_ints(m, n, 1, st, FR_NN_MAX_DIMS)) < 0) return n_st;
        if ((n_en = fr__nn_const_ints(m, n, 2, en, FR_NN_MAX_DIMS)) < 0) return n_en;
        if (fr__nn_in(m, n, 3) && (n_ax = fr__nn_const_ints(m, n, 3, ax, FR_NN_MAX_DIMS)) < 0) return n_ax;
        if (fr__nn_in(m, n, 4) && (n_sp = fr__nn_const_ints(m, n, 4, sp, FR_NN_MAX_DIMS)) < 0) return n_sp;
    }
    const struct fr_nn_value *x = fr__nn_in(m, n, 0);
    if ((rc = elem_size(n, x, &es)) < 0) return rc;
    const int r = x->t.ndim;
    if (n_en != n_st || (n_ax >= 0 && n_ax != n_st) || (n_sp >= 0 && n_sp != n_st))
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "starts, ends, axes and steps differ in length");
    if (n_st > r) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%d starts for rank %d", n_st, r);
    for (int d = 0; d < r; d++) {
        od[d] = x->t.dims[d];
        start[d] = 0;
        step[d] = 1;
    }
    for (int i = 0; i < n_st; i++) {
        int a = n_ax >= 0 ? fr__nn_axis(ax[i], r) : i;
        if (a < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d", (long long)ax[i], r);
        if (seen[a]) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %d repeated", a);
        seen[a] = true;
        const int64_t d = x->t.dims[a], lim = d > 0 ? d : 1;
        int64_t s = st[i], e = en[i], k = n_sp >= 0 ? sp[i] : 1, len;
        if (k == 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "step 0 on axis %d", a);
        k = clamp64(k, -lim, lim);           /* a step past the dim takes one element at most */
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (d == 0) {
            s = 0;
            len = 0;
        } else if (k > 0) {
            s = clamp64(s, 0, d);
            e = clamp64(e, 0, d);
            len = e > s ? (e - s + k - 1) / k : 0;
        } else {
            s = clamp64(s, 0, d - 1);
            e = clamp64(e, -1, d - 1);
            len = s > e ? (s - e - k - 1) / -k : 0;
        }
        od[a] = len;
        start[a] = s;
        step[a] = k;
    }
    struct copy_plan *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    strides_of(x->t.dims, r, istr);
    p->nd = r;
    p->es = es;
    for (int d = 0; d < r; d++) {
        p->dims[d] = od[d];
        p->sstride[d] = istr[d] * step[d] * es;
        if (od[d] > 0) p->soff += start[d] * istr[d] * es;
    }
    plan_simplify(p);
    return fr__nn_set_out(m, n, 0, x->t.dtype, r, od);
}

int op_slice_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    plan_run(n->params, x->out[0]->data, x->in[0]->data);
    return 0;
}

/* ---- Pad ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

struct pad_params {
    int r, mode;
    bool value_input;                    /* opset >= 11 constant_value, read at run time */
    int64_t es;
    int64_t b[FR_NN_MAX_DIMS];           /* output index i reads input index i - b */
    int64_t lo[FR_NN_MAX_DIMS];          /* input range [lo, hi) left after negative pads */
    int64_t hi[FR_NN_MAX_DIMS];
    uint8_t value[8];
};

/* Input index for output index i on axis a; -1 for the constant value. */
static int64_t pad_map(const struct pad_params *p, int a, int64_t i) {
    const int64_t j = i - p->b[a], lo = p->lo[a], hi = p->hi[a];
    if (j >= lo && j < hi) return j;
    if (p->mode == PAD_CONSTANT) return -1;
    if (p->mode == PAD_EDGE) return j < lo ? lo : hi - 1;
    const int64_t len = hi - lo;
    if (len == 1) return lo;
    const int64_t period = 2 * (len - 1);
    int64_t t = (j - lo) % period;
    if (t < 0) t += period;
    return lo + (t < len ? t : period - t);
}

int op_pad_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int64_t es, pads[2 * FR_NN_MAX_DIMS], od[FR_NN_MAX_DIMS];
    int cnt, rc;
    const char *mode;
    if (m->opset < 11) {
        if ((rc = fr__nn_check_inputs(m, n, 1, 1)) < 0) return rc;
        const char *name = fr__nn_attr(n, "pads") ? "pads" : "paddings";
        if ((rc = attr_ints_copy(n, name, pads, 2 * FR_NN_MAX_DIMS, &cnt)) < 0) return rc;
        if (cnt < 0) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "attribute 'pads' is required");
    } else {
        if ((rc = fr__nn_check_inputs(m, n, 2, 3)) < 0) return rc;
        if ((cnt = fr__nn_const_ints(m, n, 1, pads, 2 * FR_NN_MAX_DIMS)) < 0) return cnt;
    }
    const struct fr_nn_value *x = fr__nn_in(m, n, 0);
    if ((rc = elem_size(n, x, &es)) < 0) return rc;
    const int r = x->t.ndim;
    if (cnt != 2 * r) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%d pads for rank %d", cnt, r);
    mode = fr__nn_attr_str(n, "mode", "constant");
    struct pad_params *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    if (!strcmp(mode, "constant")) p->mode = PAD_CONSTANT;
    else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
    else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
    else return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "mode '%s'", mode);
    p->r = r;
    p->es = es;
    if (m->opset < 11) {
        scalar_store(x->t.dtype, (double)fr__nn_attr_float(n, "value", 0.0f), p->value);
    } else {
        const struct fr_nn_value *cv = fr__nn_in(m, n, 2);
        if (cv) {
            if (cv->t.dtype != x->t.dtype)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "constant_value is %s, data is %s",
                                       fr_dtype_name(cv->t.dtype), fr_dtype_name(x->t.dtype));
            if (fr_tensor_numel(&cv->t) > 1)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "constant_value must be a scalar");
            p->value_input = fr_tensor_numel(&cv->t) == 1;
        }
    }
    const int64_t big = (int64_t)1 << 40;
    for (int a = 0; a < r; a++) {
        const int64_t d = x->t.dims[a], b = pads[a], e = pads[a + r];
        if (b < -big || b > big || e < -big || e > big)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "pads on axis %d are out of range", a);
        p->b[a] = b;
        p->lo[a] = b < 0 ? -b : 0;
        p->hi[a] = d - (e < 0 ? -e : 0);
        od[a] = d + b + e;
        if (p->hi[a] < p->lo[a])
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "negative pads remove more than dim %d (%lld)", a,
                                   (long long)d);
        if (p->mode != PAD_CONSTANT && p->hi[a] == p->lo[a] && od[a] > 0)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%s padding of an empty axis %d", mode, a);
    }
    return fr__nn_set_out(m, n, 0, x->t.dtype, r, od);
}

int op_pad_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct pad_params *p = n->params;
    const struct fr_tensor *a = x->in[0];
    struct fr_tensor *y = x->out[0];
    const int64_t es = p->es;
    uint8_t val[8];
    memcpy(val, p->value, sizeof val);
    if (p->value_input && x->n_in > 2 && x->in[2] && fr_tensor_numel(x->in[2]) >= 1)
        memcpy(val, x->in[2]->data, (size_t)es);
    if (fr_tensor_numel(y) == 0) return 0;
    if (p->r == 0) {
        memcpy(y->data, a->data, (size_t)es);
        return 0;
    }
    int64_t istr[FR_NN_MAX_DIMS] = { 0 }, idx[FR_NN_MAX_DIMS] = { 0 };
    strides_of(a->dims, p->r, istr);
    const int last = p->r - 1;
    const int64_t olen = y->dims[last];
    const int64_t i0 = clamp64(p->lo[last] + p->b[last], 0, olen);
    const int64_t i1 = clamp64(p->hi[last] + p->b[last], i0, olen);
    const uint8_t *src = a->data;
    uint8_t *dst = y->data;
    for (;;) {
        int64_t off = 0;
        bool fill = false;
        for (int d = 0; d < last && !fill; d++) {
            int64_t j = pad_map(p, d, idx[d]);
            if (j < 0) fill = true;
            else off += j * istr[d];
        }
        if (fill) {
            fill_elems(dst, olen, val, es);
        } else {
            const uint8_t *s = src + off * es;
            for (int64_t i = 0; i < i0; i++) {
                int64_t j = pad_map(p, last, i);
                memcpy(dst + i * es, j < 0 ? val : s + j * es, (size_t)es);
            }
            if (i1 > i0) memcpy(dst + i0 * es, s + (i0 - p->b[last]) * es, (size_t)((i1 - i0) * es));
            for (int64_t i = i1; i < olen; i++) {
                int64_t j = pad_map(p, last, i);
                memcpy(dst + i * es, j < 0 ? val : s + j * es, (size_t)es);
            }
        }
        dst += olen * es;
        int d = last - 1;
        for (; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
        if (d < 0) return 0;
    }
}

/* ---- Shape ---- */

struct shape_params { int start, len; };

int op_shape_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int rc = fr__nn_check_inputs(m, n, 1, 1);
    if (rc < 0) return rc;
    const struct fr_nn_value *x = fr__nn_in(m, n, 0);
    const int r = x->t.ndim;
    int64_t s = fr__nn_attr_int(n, "start", 0), e = fr__nn_attr_int(n, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = clamp64(s, 0, r);
    e = clamp64(e, 0, r);
    struct shape_params *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    p->start = (int)s;
    p->len = e > s ? (int)(e - s) : 0;
    int64_t od[1] = { p->len };
    if ((rc = fr__nn_set_out(m, n, 0, FR_DTYPE_INT64, 1, od)) < 0) return rc;
    if (x->is_const) return 0;            /* the loader folds it like any constant node */
    /* Shapes are static: the output is a constant now, which lets Reshape,
     * Slice, ... downstream read it at load. */
    struct fr_nn_value *y = fr__nn_out(m, n, 0);
    int64_t *data = fr_malloc_aligned((size_t)p->len * sizeof(int64_t));
    if (!data) return -FR_E_NOMEM;
    for (int i = 0; i < p->len; i++) data[i] = x->t.dims[p->start + i];
    fr_free(y->t.data);
    y->t.data = data;
    y->is_const = true;
    y->producer = -1;
    n->dead = true;
    return 0;
}

int op_shape_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct shape_params *p = n->params;
    int64_t *y = x->out[0]->data;
    for (int i = 0; i < p->len; i++) y[i] = x->in[0]->dims[p->start + i];
    return 0;
}

/* ---- Gather ---- */

struct gather_params { int axis; };

static int64_t index_at(const struct fr_tensor *t, int64_t k) {
    if (t->dtype == FR_DTYPE_INT32) return ((const int32_t *)t->data)[k];
    return ((const int64_t *)t->data)[k];
}

/* First out-of-range index in t for an axis of size dim, or -1. */
static int64_t bad_index(const struct fr_tensor *t, int64_t dim) {
    const int64_t cnt = fr_tensor_numel(t);
    for (int64_t k = 0; k < cnt; k++) {
        int64_t j = index_at(t, k);
        if (j < -dim || j >= dim) return k;
    }
    return -1;
}

int op_gather_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    int64_t es, od[FR_NN_MAX_DIMS];
    int rc = fr__nn_check_inputs(m, n, 2, 2);
    if (rc < 0) return rc;
    const struct fr_nn_value *x = fr__nn_in(m, n, 0), *ind = fr__nn_in(m, n, 1);
    if ((rc = elem_size(n, x, &es)) < 0) return rc;
    if (ind->t.dtype != FR_DTYPE_INT64 && ind->t.dtype != FR_DTYPE_INT32)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "indices are %s, not int64 or int32", fr_dtype_name(ind->t.dtype));
    const int r = x->t.ndim, q = ind->t.ndim;
    if (r < 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "data must have rank >= 1");
    const int64_t axis_attr = fr__nn_attr_int(n, "axis", 0);
    const int axis = fr__nn_axis(axis_attr, r);
    if (axis < 0)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "axis %lld out of range for rank %d", (long long)axis_attr, r);
    if (r - 1 + q > FR_NN_MAX_DIMS) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "output of rank %d", r - 1 + q);
    if (ind->is_const) {
        int64_t k = bad_index(&ind->t, x->t.dims[axis]);
        if (k >= 0)
            return fr__nn_node_err(n, FR_E_MODEL_INVALID, "index %lld out of range for axis size %lld",
                                   (long long)index_at(&ind->t, k), (long long)x->t.dims[axis]);
    }
    struct gather_params *p = params_new(n, sizeof *p);
    if (!p) return -FR_E_NOMEM;
    p->axis = axis;
    int k = 0;
    for (int d = 0; d < axis; d++) od[k++] = x->t.dims[d];
    for (int d = 0; d < q; d++) od[k++] = ind->t.dims[d];
    for (int d = axis + 1; d < r; d++) od[k++] = x->t.dims[d];
    return fr__nn_set_out(m, n, 0, x->t.dtype, k, od);
}

int op_gather_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    const struct gather_params *p = n->params;
    const struct fr_tensor *a = x->in[0], *ind = x->in[1];
    const int64_t es = (int64_t)fr_dtype_size(a->dtype);
    const int64_t dim = a->dims[p->axis];
    const int64_t outer = prod(a->dims, 0, p->axis);
    const size_t inner = (size_t)(prod(a->dims, p->axis + 1, a->ndim) * es);
    const int64_t cnt = fr_tensor_numel(ind);
    const int64_t bad = bad_index(ind, dim);
    if (bad >= 0)
        return fr__nn_node_err(n, FR_E_INVALID_ARGUMENT, "index %lld out of range for axis size %lld",
                               (long long)index_at(ind, bad), (long long)dim);
    if (inner == 0) return 0;
    const uint8_t *src = a->data;
    uint8_t *dst = x->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        const uint8_t *base = src + (size_t)(o * dim) * inner;
        for (int64_t k = 0; k < cnt; k++) {
            int64_t j = index_at(ind, k);
            if (j < 0) j += dim;
            memcpy(dst, base + (size_t)j * inner, inner);
            dst += inner;
        }
    }
    return 0;
}

/* ---- Constant (the loader turns Constant nodes into constants; this is
 * the fallback path, it reads the same attributes) ---- */

/* The node's value: dtype and dims in *t, bytes in *data. */
static int constant_attr(const struct fr_nn_node *n, struct fr_tensor *t, const void **data) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n->n_attrs; i++) {
        const struct fr_nn_attr *a = &n->attrs[i];
        if (!strcmp(a->name, "value") && a->type == FR_ATTR_TENSOR) {
            *t = a->t;
            t->data = NULL;
            *data = a->t.data;
            return 0;
        }
        if (!strcmp(a->name, "value_float") && a->type == FR_ATTR_FLOAT) {
            t->dtype = FR_DTYPE_FLOAT;
            *data = &a->f;
            return 0;
        }
        if (!strcmp(a->name, "value_floats") && a->type == FR_ATTR_FLOATS) {
            t->dtype = FR_DTYPE_FLOAT;
            t->ndim = 1;
            t->dims[0] = a->n;
            *data = a->floats;
            return 0;
        }
        if (!strcmp(a->name, "value_int") && a->type == FR_ATTR_INT) {
            t->dtype = FR_DTYPE_INT64;
            *data = &a->i;
            return 0;
        }
        if (!strcmp(a->name, "value_ints") && a->type == FR_ATTR_INTS) {
            t->dtype = FR_DTYPE_INT64;
            t->ndim = 1;
            t->dims[0] = a->n;
            *data = a->ints;
            return 0;
        }
    }
    return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "Constant without a supported value attribute");
}

int op_constant_shape(struct fr_nn_model *m, struct fr_nn_node *n) {
    struct fr_tensor t;
    const void *data;
    int rc = fr__nn_check_inputs(m, n, 0, 0);
    if (rc < 0) return rc;
    if ((rc = constant_attr(n, &t, &data)) < 0) return rc;
    if (fr_dtype_size(t.dtype) == 0)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "constant of type %s", fr_dtype_name(t.dtype));
    if (fr_tensor_bytes(&t) && !data) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "constant without data");
    return fr__nn_set_out(m, n, 0, t.dtype, t.ndim, t.dims);
}

int op_constant_run(const struct fr_nn_node *n, struct fr_nn_exec *x) {
    struct fr_tensor t;
    const void *data;
    int rc = constant_attr(n, &t, &data);
    if (rc < 0) return rc;
    size_t bytes = fr_tensor_bytes(x->out[0]);
    if (bytes != fr_tensor_bytes(&t)) return fr__nn_node_err(n, FR_E_INTERNAL_ERROR, "constant changed size");
    if (bytes) memcpy(x->out[0]->data, data, bytes);
    return 0;
}
