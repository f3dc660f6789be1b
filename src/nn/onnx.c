/* ONNX loading: bytes → (checked) protobuf → our graph.
 *
 * Hostile files are expected. Before protobuf-c unpacks anything, a walk over
 * the wire format checks every structural message (the ones that can nest:
 * graphs inside attributes, types inside types) for well-formed tags and
 * lengths and bounded depth, so the recursive unpacker cannot be driven into
 * a stack overflow. Sizes of every tensor are checked against the limits. */
#include "nn_int.h"
#include "onnx.pb-c.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* ---- wire-format walk ---- */

enum pb_msg { M_SKIP, M_MODEL, M_GRAPH, M_NODE, M_ATTR, M_VINFO, M_TYPE, M_TYPE_ELEM,
              M_TYPE_MAP, M_TRAINING, M_FUNCTION };

static enum pb_msg pb_child(enum pb_msg parent, uint64_t field) {
    switch (parent) {
    case M_MODEL: return field == 7 ? M_GRAPH : field == 20 ? M_TRAINING : field == 25 ? M_FUNCTION : M_SKIP;
    case M_TRAINING: return field == 1 || field == 2 ? M_GRAPH : M_SKIP;
    case M_FUNCTION: return field == 7 ? M_NODE : field == 11 ? M_ATTR : M_SKIP;
    case M_GRAPH: return field == 1 ? M_NODE : field >= 11 && field <= 13 ? M_VINFO : M_SKIP;
    case M_NODE: return field == 5 ? M_ATTR : M_SKIP;
    case M_ATTR: return field == 6 || field == 11 ? M_GRAPH : field == 14 || field == 15 ? M_TYPE : M_SKIP;
    case M_VINFO: return field == 2 ? M_TYPE : M_SKIP;
    case M_TYPE: return field == 4 || field == 9 ? M_TYPE_ELEM : field == 5 ? M_TYPE_MAP : M_SKIP;
    case M_TYPE_ELEM: return field == 1 ? M_TYPE : M_SKIP;
    case M_TYPE_MAP: return field == 2 ? M_TYPE : M_SKIP;
    default: return M_SKIP;
    }
}

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *v = r; return 0; }
    }
    return -1;
}

static int pb_walk(const uint8_t *p, const uint8_t *end, enum pb_msg msg, int depth, int max_depth) {
    if (depth > max_depth)
        return fr_err_set(FR_E_LIMIT_EXCEEDED, "onnx: messages nested deeper than %d", max_depth);
    while (p < end) {
        uint64_t key, len;
        if (pb_varint(&p, end, &key) < 0) goto bad;
        uint64_t field = key >> 3;
        if (field == 0) goto bad;
        switch (key & 7) {
        case 0: if (pb_varint(&p, end, &len) < 0) goto bad; break;
        case 1: if (end - p < 8) goto bad; p += 8; break;
        case 5: if (end - p < 4) goto bad; p += 4; break;
        case 2: {
            if (pb_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p)) goto bad;
            enum pb_msg child = pb_child(msg, field);
            if (child != M_SKIP) {
                int rc = pb_walk(p, p + len, child, depth + 1, max_depth);
                if (rc < 0) return rc;
            }
            p += len;
            break;
        }
        default: goto bad;   /* groups (3, 4) are not used by onnx */
        }
    }
    return 0;
bad:
    return fr_err_set(FR_E_MODEL_INVALID, "onnx: malformed protobuf");
}

/* protobuf-c allocations go through ours (counted, failure-injectable). */
/* protobuf-c allocations go through ours (counted, failure-injectable). A
 * failed one is noted in *data (a bool), so that a failed unpack reports
 * NOMEM rather than a malformed file: unpack returns NULL for both. */
static void *pb_alloc(void *data, size_t size) {
    void *p = fr_malloc(size);
    if (!p) *(bool *)data = true;
    return p;
}
static void pb_free(void *data, void *p) { (void)data; fr_free(p); }

/* ---- tensors ---- */

size_t fr_dtype_size(int dtype) {
    switch (dtype) {
    case FR_DTYPE_FLOAT: case FR_DTYPE_INT32: case FR_DTYPE_UINT32: return 4;
    case FR_DTYPE_INT64: case FR_DTYPE_DOUBLE: case FR_DTYPE_UINT64: return 8;
    case FR_DTYPE_UINT8: case FR_DTYPE_INT8: case FR_DTYPE_BOOL: return 1;
    case FR_DTYPE_UINT16: case FR_DTYPE_INT16: case FR_DTYPE_FLOAT16: return 2;
    default: return 0;
    }
}

const char *fr_dtype_name(int dtype) {
    static const char *names[] = { "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32",
                                   "int64", "string", "bool", "float16", "float64", "uint32", "uint64" };
    return dtype >= 0 && dtype < (int)(sizeof names / sizeof names[0]) ? names[dtype] : "unknown";
}

int64_t fr_tensor_numel(const struct fr_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

size_t fr_tensor_bytes(const struct fr_tensor *t) {
    return (size_t)fr_tensor_numel(t) * fr_dtype_size(t->dtype);
}

int fr__nn_tensor_check(const struct fr_tensor *t, const struct fr_nn_limits *lim) {
    if (t->ndim < 0 || t->ndim > FR_NN_MAX_DIMS)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "tensor of rank %d (at most %d)", t->ndim, FR_NN_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0) return fr_err_set(FR_E_MODEL_INVALID, "negative dimension %lld", (long long)t->dims[i]);
        if (t->dims[i] > 0 && n > lim->max_tensor_elems / t->dims[i])
            return fr_err_set(FR_E_LIMIT_EXCEEDED, "tensor larger than %lld elements", (long long)lim->max_tensor_elems);
        n *= t->dims[i];
    }
    if (n > lim->max_tensor_elems)
        return fr_err_set(FR_E_LIMIT_EXCEEDED, "tensor larger than %lld elements", (long long)lim->max_tensor_elems);
    return 0;
}

/* TensorProto → fr_tensor with fr_malloc_aligned data. */
/* Subnormal float weights become 0: with denormals-are-zero the kernels read
 * them as 0 anyway, and folded or packed copies made at load (BN folding,
 * weight packing) would otherwise carry them into slow arithmetic. Counted
 * in the log at debug level. */
static void flush_denormals(struct fr_tensor *t) {
    if (t->dtype != FR_DTYPE_FLOAT || !t->data) return;
    float *f = t->data;
    int64_t n = fr_tensor_numel(t), flushed = 0;
    for (int64_t i = 0; i < n; i++)
        if (f[i] != 0.0f && fabsf(f[i]) < FLT_MIN) {
            f[i] = copysignf(0.0f, f[i]);
            flushed++;
        }
    if (flushed) fr_log(FR_LOG_DEBUG, "onnx: %lld subnormal weights set to 0", (long long)flushed);
}

static int tensor_from_proto(const Onnx__TensorProto *tp, const struct fr_nn_limits *lim, struct fr_tensor *t) {
    memset(t, 0, sizeof *t);
    if (tp->n_dims > FR_NN_MAX_DIMS)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "tensor '%s' of rank %zu", tp->name ? tp->name : "", tp->n_dims);
    t->ndim = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) t->dims[i] = tp->dims[i];
    int rc = fr__nn_tensor_check(t, lim);
    if (rc < 0) return rc;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "tensor '%s' uses external data", tp->name ? tp->name : "");
    if (tp->segment)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "segmented tensor '%s'", tp->name ? tp->name : "");
    t->dtype = tp->has_data_type ? tp->data_type : 0;
    size_t esz = fr_dtype_size(t->dtype);
    if (esz == 0)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "dtype %s is not implemented (tensor '%s')",
                          fr_dtype_name(t->dtype), tp->name ? tp->name : "");
    size_t n = (size_t)fr_tensor_numel(t), bytes = n * esz;
    t->data = fr_malloc_aligned(bytes);
    if (!t->data) return -FR_E_NOMEM;
    size_t have;
    if (tp->has_raw_data) {
        have = tp->raw_data.len / esz;
        if (tp->raw_data.len != bytes) goto size_bad;
        if (bytes) memcpy(t->data, tp->raw_data.data, bytes);     /* x86-64 is little-endian, as onnx */
        return 0;
    }
    switch (t->dtype) {
    case FR_DTYPE_FLOAT:
        have = tp->n_float_data;
        if (have != n) goto size_bad;
        if (bytes) memcpy(t->data, tp->float_data, bytes);
        break;
    case FR_DTYPE_INT64:
        have = tp->n_int64_data;
        if (have != n) goto size_bad;
        if (bytes) memcpy(t->data, tp->int64_data, bytes);
        break;
    case FR_DTYPE_DOUBLE:
        have = tp->n_double_data;
        if (have != n) goto size_bad;
        if (bytes) memcpy(t->data, tp->double_data, bytes);
        break;
    case FR_DTYPE_UINT64: case FR_DTYPE_UINT32:
        have = tp->n_uint64_data;
        if (have != n) goto size_bad;
        for (size_t i = 0; i < n; i++) {
            if (esz == 8) ((uint64_t *)t->data)[i] = tp->uint64_data[i];
            else ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
        }
        break;
    default:   /* int32, int16, int8, uint8, uint16, bool, float16 live in int32_data */
        have = tp->n_int32_data;
        if (have != n) goto size_bad;
        for (size_t i = 0; i < n; i++) {
            int32_t v = tp->int32_data[i];
            switch (esz) {
            case 4: ((int32_t *)t->data)[i] = v; break;
            case 2: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
            default: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
            }
        }
    }
    return 0;
size_bad:
    fr_free(t->data);
    t->data = NULL;
    return fr_err_set(FR_E_MODEL_INVALID, "tensor '%s' has %zu elements of data for shape of %zu",
                      tp->name ? tp->name : "", have, n);
}

int fr_nn_tensor_proto_load(const void *buf, size_t len, struct fr_tensor *t_out, char **name_out) {
    struct fr_nn_limits lim = { .max_tensor_elems = 256 << 20 };
    memset(t_out, 0, sizeof *t_out);
    if (name_out) *name_out = NULL;
    bool oom = false;
    ProtobufCAllocator pb_allocator = { pb_alloc, pb_free, &oom };
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pb_allocator, len, buf);
    if (!tp)
        return oom ? fr_err_set(FR_E_NOMEM, "unpacking a TensorProto") : fr_err_set(FR_E_MODEL_INVALID, "not a TensorProto");
    int rc = tensor_from_proto(tp, &lim, t_out);
    if (rc == 0 && name_out && tp->name && !(*name_out = fr_strdup(tp->name))) {
        fr_free(t_out->data);
        t_out->data = NULL;
        rc = -FR_E_NOMEM;
    }
    onnx__tensor_proto__free_unpacked(tp, &pb_allocator);
    return rc;
}

/* ---- name → value map (open addressing) ---- */

struct name_map {
    int cap;
    int *slot;        /* value index + 1; 0 = empty */
};

static uint32_t str_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int map_find(const struct name_map *mp, const struct fr_nn_model *m, const char *name) {
    uint32_t i = str_hash(name) & (uint32_t)(mp->cap - 1);
    for (;; i = (i + 1) & (uint32_t)(mp->cap - 1)) {
        int s = mp->slot[i];
        if (!s) return -1;
        if (!strcmp(m->values[s - 1].name, name)) return s - 1;
    }
}

static void map_put(struct name_map *mp, const struct fr_nn_model *m, int idx) {
    uint32_t i = str_hash(m->values[idx].name) & (uint32_t)(mp->cap - 1);
    while (mp->slot[i]) i = (i + 1) & (uint32_t)(mp->cap - 1);
    mp->slot[i] = idx + 1;
}

/* A new value named `name`; a duplicate name is an error. */
static int add_named(struct fr_nn_model *m, struct name_map *mp, const char *name, int *idx) {
    if (name[0] && map_find(mp, m, name) >= 0)
        return fr_err_set(FR_E_MODEL_INVALID, "value '%s' defined twice", name);
    int rc = fr__nn_value_add(m, name, idx);
    if (rc < 0) return rc;
    if (name[0]) map_put(mp, m, *idx);
    return 0;
}

/* ---- attributes ---- */

static int attr_copy(const Onnx__AttributeProto *ap, const struct fr_nn_limits *lim, struct fr_nn_attr *a) {
    memset(a, 0, sizeof *a);
    if (!ap->name) return fr_err_set(FR_E_MODEL_INVALID, "attribute without a name");
    if (!(a->name = fr_strdup(ap->name))) return -FR_E_NOMEM;
    a->type = ap->has_type ? (int)ap->type : 0;
    switch (a->type) {
    case FR_ATTR_FLOAT: a->f = ap->f; break;
    case FR_ATTR_INT: a->i = ap->i; break;
    case FR_ATTR_STRING:
        /* a STRING attribute may leave s out: data is then NULL */
        if (!(a->s = fr_strndup(ap->s.data ? (const char *)ap->s.data : "", ap->s.len))) return -FR_E_NOMEM;
        break;
    case FR_ATTR_TENSOR:
        if (!ap->t) return fr_err_set(FR_E_MODEL_INVALID, "attribute '%s' has no tensor", ap->name);
        return tensor_from_proto(ap->t, lim, &a->t);
    case FR_ATTR_FLOATS:
        if (ap->n_floats > 1u << 20) return fr_err_set(FR_E_LIMIT_EXCEEDED, "attribute '%s' too long", ap->name);
        a->n = (int)ap->n_floats;
        if (!(a->floats = fr_malloc(ap->n_floats * sizeof(float) + 1))) return -FR_E_NOMEM;
        if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        break;
    case FR_ATTR_INTS:
        if (ap->n_ints > 1u << 20) return fr_err_set(FR_E_LIMIT_EXCEEDED, "attribute '%s' too long", ap->name);
        a->n = (int)ap->n_ints;
        if (!(a->ints = fr_malloc(ap->n_ints * sizeof(int64_t) + 1))) return -FR_E_NOMEM;
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        break;
    default:
        break;   /* graphs, strings lists, sparse: kept by name only; ops that need them reject */
    }
    return 0;
}

/* Constant node → the constant tensor it holds. */
static int constant_value(const struct fr_nn_node *n, struct fr_tensor *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n->n_attrs; i++) {
        const struct fr_nn_attr *a = &n->attrs[i];
        size_t cnt = 1;
        if (!strcmp(a->name, "value") && a->type == FR_ATTR_TENSOR) {
            *t = a->t;
            t->data = fr_malloc_aligned(fr_tensor_bytes(&a->t));
            if (!t->data) return -FR_E_NOMEM;
            memcpy(t->data, a->t.data, fr_tensor_bytes(&a->t));
            return 0;
        }
        if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_floats")) {
            t->dtype = FR_DTYPE_FLOAT;
            if (a->type == FR_ATTR_FLOATS) { t->ndim = 1; t->dims[0] = cnt = (size_t)a->n; }
            if (!(t->data = fr_malloc_aligned(cnt * 4))) return -FR_E_NOMEM;
            if (a->type == FR_ATTR_FLOATS) memcpy(t->data, a->floats, cnt * 4);
            else *(float *)t->data = a->f;
            return 0;
        }
        if (!strcmp(a->name, "value_int") || !strcmp(a->name, "value_ints")) {
            t->dtype = FR_DTYPE_INT64;
            if (a->type == FR_ATTR_INTS) { t->ndim = 1; t->dims[0] = cnt = (size_t)a->n; }
            if (!(t->data = fr_malloc_aligned(cnt * 8))) return -FR_E_NOMEM;
            if (a->type == FR_ATTR_INTS) memcpy(t->data, a->ints, cnt * 8);
            else *(int64_t *)t->data = a->i;
            return 0;
        }
    }
    return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "Constant without a supported value attribute");
}

/* ValueInfo → shape; symbolic dims are left as -1. */
static int vinfo_shape(const Onnx__ValueInfoProto *vi, struct fr_tensor *t) {
    memset(t, 0, sizeof *t);
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "input '%s': non-tensor types are not implemented", vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    t->dtype = tt->has_elem_type ? tt->elem_type : 0;
    if (!tt->shape) { t->ndim = -1; return 0; }
    if (tt->shape->n_dim > FR_NN_MAX_DIMS)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "input '%s' of rank %zu", vi->name, tt->shape->n_dim);
    t->ndim = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        t->dims[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : -1;
    }
    return 0;
}

static const struct fr_nn_named_tensor *find_named(const struct fr_nn_named_tensor *list, int n,
                                                   const char *name) {
    for (int i = 0; i < n; i++)
        if (list[i].name && !strcmp(list[i].name, name)) return &list[i];
    return NULL;
}

static int op_lookup(const char *op_type) {
    for (int i = 0; i < FR_OP_COUNT; i++)
        if (!strcmp(fr__nn_ops[i].name, op_type)) return i;
    return -1;
}

static int build_graph(struct fr_nn_model *m, const Onnx__ModelProto *mp, const struct fr_nn_load_opts *o) {
    const Onnx__GraphProto *g = mp->graph;
    const struct fr_nn_limits *lim = &m->limits;
    struct name_map map = { 0, NULL };
    int rc = 0;

    if (!g) return fr_err_set(FR_E_MODEL_INVALID, "onnx: model has no graph");
    m->opset = 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
        if (!os->domain || !os->domain[0] || !strcmp(os->domain, "ai.onnx")) m->opset = (int)os->version;
    }
    if (m->opset == 0) m->opset = 1;   /* IR < 3 files name no opset */
    if (m->opset > 17)
        return fr_err_set(FR_E_MODEL_UNSUPPORTED, "opset %d (this engine implements up to 17)", m->opset);
    if (g->n_node > (size_t)lim->max_nodes)
        return fr_err_set(FR_E_LIMIT_EXCEEDED, "onnx: %zu nodes (limit %d)", g->n_node, lim->max_nodes);
    size_t n_names = g->n_initializer + g->n_input + g->n_node * 4 + 16;
    for (size_t i = 0; i < g->n_node; i++) n_names += g->node[i]->n_output;
    map.cap = 16;
    while ((size_t)map.cap < n_names * 2) map.cap *= 2;
    if (!(map.slot = fr_calloc((size_t)map.cap, sizeof *map.slot))) return -FR_E_NOMEM;

    /* initializers */
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *tp = g->initializer[i];
        int idx;
        if ((rc = add_named(m, &map, tp->name ? tp->name : "", &idx)) < 0) goto out;
        struct fr_nn_value *v = &m->values[idx];
        if ((rc = tensor_from_proto(tp, lim, &v->t)) < 0) goto out;
        flush_denormals(&v->t);
        v->is_const = true;
        m->n_params += fr_tensor_numel(&v->t);
    }
    /* graph inputs that are not initializers */
    if (!(m->inputs = fr_calloc(g->n_input + 1, sizeof(int)))) { rc = -FR_E_NOMEM; goto out; }
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name || !vi->name[0]) { rc = fr_err_set(FR_E_MODEL_INVALID, "unnamed graph input"); goto out; }
        if (map_find(&map, m, vi->name) >= 0) continue;   /* initializer listed as input (IR < 4) */
        int idx;
        if ((rc = add_named(m, &map, vi->name, &idx)) < 0) goto out;
        struct fr_nn_value *v = &m->values[idx];
        if ((rc = vinfo_shape(vi, &v->t)) < 0) goto out;
        const struct fr_nn_named_tensor *c = o ? find_named(o->consts, o->n_consts, vi->name) : NULL;
        const struct fr_nn_named_tensor *s = o ? find_named(o->shapes, o->n_shapes, vi->name) : NULL;
        if (c) {
            v->t = *c->t;
            if ((rc = fr__nn_tensor_check(&v->t, lim)) < 0) goto out;
            size_t bytes = fr_tensor_bytes(&v->t);
            if (!(v->t.data = fr_malloc_aligned(bytes))) { rc = -FR_E_NOMEM; goto out; }
            memcpy(v->t.data, c->t->data, bytes);
            v->is_const = true;
            continue;
        }
        if (s) {
            int dt = v->t.dtype;
            v->t = *s->t;
            v->t.data = NULL;
            if (dt && dt != v->t.dtype) {
                rc = fr_err_set(FR_E_INVALID_ARGUMENT, "input '%s' is %s, not %s", vi->name,
                                fr_dtype_name(dt), fr_dtype_name(v->t.dtype));
                goto out;
            }
        }
        if (v->t.ndim < 0) { rc = fr_err_set(FR_E_MODEL_UNSUPPORTED, "input '%s' has no shape", vi->name); goto out; }
        for (int d = 0; d < v->t.ndim; d++)
            if (v->t.dims[d] < 0) {
                rc = fr_err_set(FR_E_MODEL_UNSUPPORTED, "input '%s' has a symbolic dimension %d; give its shape",
                                vi->name, d);
                goto out;
            }
        if ((rc = fr__nn_tensor_check(&v->t, lim)) < 0) goto out;
        v->is_input = true;
        m->inputs[m->n_inputs++] = idx;
    }
    /* nodes, in file order (onnx requires a topological order) */
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *np = g->node[i];
        const char *op_type = np->op_type ? np->op_type : "";
        if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx")) {
            rc = fr_err_set(FR_E_MODEL_UNSUPPORTED, "node %zu: op %s of domain %s is not implemented", i, op_type,
                            np->domain);
            goto out;
        }
        int op = op_lookup(op_type);
        if (op < 0) { rc = fr_err_set(FR_E_MODEL_UNSUPPORTED, "node %zu: op '%s' is not implemented", i, op_type); goto out; }
        if (np->n_input > FR_NN_MAX_IO || np->n_output > FR_NN_MAX_IO || np->n_output == 0) {
            rc = fr_err_set(FR_E_MODEL_UNSUPPORTED, "node %zu (%s): %zu inputs, %zu outputs", i, op_type,
                            np->n_input, np->n_output);
            goto out;
        }
        int ni;
        if ((rc = fr__nn_node_add(m, &ni)) < 0) goto out;
        struct fr_nn_node *n = &m->nodes[ni];
        n->op = op;
        n->name = fr_strdup(np->name ? np->name : "");
        n->in = fr_malloc((np->n_input + 1) * sizeof(int));
        n->out = fr_malloc(np->n_output * sizeof(int));
        n->attrs = fr_calloc(np->n_attribute + 1, sizeof *n->attrs);
        if (!n->name || !n->in || !n->out || !n->attrs) { rc = -FR_E_NOMEM; goto out; }
        for (size_t a = 0; a < np->n_attribute; a++) {
            rc = attr_copy(np->attribute[a], lim, &n->attrs[a]);
            n->n_attrs = (int)a + 1;
            if (rc < 0) goto out;
        }
        n->n_in = (int)np->n_input;
        for (size_t k = 0; k < np->n_input; k++) {
            const char *nm = np->input[k];
            if (!nm[0]) { n->in[k] = -1; continue; }
            if ((n->in[k] = map_find(&map, m, nm)) < 0) {
                rc = fr_err_set(FR_E_MODEL_INVALID, "node %zu (%s): input '%s' is not defined before it", i,
                                op_type, nm);
                goto out;
            }
        }
        n->n_out = (int)np->n_output;
        for (size_t k = 0; k < np->n_output; k++) {
            int vi;
            if ((rc = add_named(m, &map, np->output[k], &vi)) < 0) goto out;
            n = &m->nodes[ni];       /* values may have moved; nodes did not, but be plain */
            n->out[k] = vi;
            m->values[vi].producer = ni;
        }
        if (op == FR_OP_CONSTANT) {
            struct fr_nn_value *v = &m->values[n->out[0]];
            if ((rc = constant_value(n, &v->t)) < 0) goto out;
            if ((rc = fr__nn_tensor_check(&v->t, lim)) < 0) goto out;
            v->is_const = true;
            v->producer = -1;
            n->dead = true;
        }
    }
    m->n_nodes_onnx = (int)g->n_node;
    /* graph outputs */
    if (g->n_output == 0) { rc = fr_err_set(FR_E_MODEL_INVALID, "onnx: graph has no outputs"); goto out; }
    if (!(m->outputs = fr_calloc(g->n_output, sizeof(int)))) { rc = -FR_E_NOMEM; goto out; }
    for (size_t i = 0; i < g->n_output; i++) {
        const char *nm = g->output[i]->name ? g->output[i]->name : "";
        int idx = map_find(&map, m, nm);
        if (idx < 0) { rc = fr_err_set(FR_E_MODEL_INVALID, "onnx: graph output '%s' is never produced", nm); goto out; }
        m->values[idx].is_output = true;
        m->outputs[m->n_outputs++] = idx;
    }
out:
    fr_free(map.slot);
    return rc;
}

int fr_nn_model_load_mem(const void *buf, size_t len, const struct fr_nn_load_opts *opts,
                         struct fr_nn_model **model_out) {
    struct fr_nn_model *m = NULL;
    Onnx__ModelProto *mp = NULL;
    bool pb_oom = false;
    ProtobufCAllocator pb_allocator = { pb_alloc, pb_free, &pb_oom };
    *model_out = NULL;
    int rc = fr__nn_model_new(&m);
    if (rc < 0) return rc;
    if (opts) {
        const struct fr_nn_limits *l = &opts->limits;
        if (l->max_file_bytes) m->limits.max_file_bytes = l->max_file_bytes;
        if (l->max_tensor_elems) m->limits.max_tensor_elems = l->max_tensor_elems;
        if (l->max_nodes) m->limits.max_nodes = l->max_nodes;
        if (l->max_depth) m->limits.max_depth = l->max_depth;
        if (l->max_arena_bytes) m->limits.max_arena_bytes = l->max_arena_bytes;
        if (l->max_macs) m->limits.max_macs = l->max_macs;
    }
    if (len > m->limits.max_file_bytes) {
        rc = fr_err_set(FR_E_LIMIT_EXCEEDED, "onnx: %zu bytes (limit %zu)", len, m->limits.max_file_bytes);
        goto out;
    }
    if ((rc = pb_walk(buf, (const uint8_t *)buf + len, M_MODEL, 0, m->limits.max_depth)) < 0) goto out;
    mp = onnx__model_proto__unpack(&pb_allocator, len, buf);
    if (!mp) {
        rc = pb_oom ? fr_err_set(FR_E_NOMEM, "onnx: out of memory unpacking the model")
                    : fr_err_set(FR_E_MODEL_INVALID, "onnx: not a ModelProto (protobuf unpack failed)");
        goto out;
    }
    if ((rc = build_graph(m, mp, opts)) < 0) goto out;
    onnx__model_proto__free_unpacked(mp, &pb_allocator);
    mp = NULL;
    if ((rc = fr__nn_model_finish(m, opts)) < 0) goto out;
    *model_out = m;
    m = NULL;
out:
    if (mp) onnx__model_proto__free_unpacked(mp, &pb_allocator);
    fr_nn_model_unref(m);
    return rc;
}

int fr_nn_model_load(const char *path, const struct fr_nn_load_opts *opts, struct fr_nn_model **model_out) {
    uint8_t *buf;
    size_t len;
    size_t max = opts && opts->limits.max_file_bytes ? opts->limits.max_file_bytes : (size_t)1 << 30;
    *model_out = NULL;
    int rc = fr_file_read(path, max, &buf, &len);
    if (rc < 0) return rc;
    rc = fr_nn_model_load_mem(buf, len, opts, model_out);
    fr_free(buf);
    return rc;
}
