/* The graph: model lifecycle, load-time shape inference with constant
 * folding, dead-node removal, sessions and the run loop. */
#include "nn_int.h"

#include <cblas.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

const struct fr_nn_op_def fr__nn_ops[FR_OP_COUNT] = {
#define OP(e, name, shape, run) [FR_OP_##e] = { name, shape, run },
#include "ops.def"
#undef OP
};
_Static_assert(FR_OP_COUNT == 49, "ops.def changed: update this count and tests/nn");
_Static_assert(FR_OP_COUNT <= (int)(sizeof(((struct fr_nn_info *)0)->op_counts) / sizeof(int)),
               "fr_nn_info.op_counts too small");

int fr_nn_op_count(void) { return FR_OP_COUNT; }
const char *fr_nn_op_name(int op) { return op >= 0 && op < FR_OP_COUNT ? fr__nn_ops[op].name : "?"; }

/* ---- model ---- */

int fr__nn_model_new(struct fr_nn_model **m_out) {
    struct fr_nn_model *m = fr_calloc(1, sizeof *m);
    *m_out = m;
    if (!m) return -FR_E_NOMEM;
    m->refcount = 1;
    m->limits.max_file_bytes = (size_t)1 << 30;
    m->limits.max_tensor_elems = (int64_t)256 << 20;
    m->limits.max_nodes = 100000;
    m->limits.max_depth = 64;
    m->limits.max_arena_bytes = (size_t)4 << 30;
    m->limits.max_macs = (int64_t)1 << 40;
    return 0;
}

int fr__nn_value_add(struct fr_nn_model *m, const char *name, int *idx_out) {
    if (m->n_values == m->cap_values) {
        int cap = m->cap_values ? m->cap_values * 2 : 64;
        struct fr_nn_value *v = fr_realloc(m->values, (size_t)cap * sizeof *v);
        if (!v) return -FR_E_NOMEM;
        m->values = v;
        m->cap_values = cap;
    }
    struct fr_nn_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->producer = -1;
    v->alias = -1;
    if (!(v->name = fr_strdup(name ? name : ""))) return -FR_E_NOMEM;
    *idx_out = m->n_values++;
    return 0;
}

int fr__nn_node_add(struct fr_nn_model *m, int *idx_out) {
    if (m->n_nodes == m->cap_nodes) {
        int cap = m->cap_nodes ? m->cap_nodes * 2 : 64;
        struct fr_nn_node *n = fr_realloc(m->nodes, (size_t)cap * sizeof *n);
        if (!n) return -FR_E_NOMEM;
        m->nodes = n;
        m->cap_nodes = cap;
    }
    memset(&m->nodes[m->n_nodes], 0, sizeof m->nodes[0]);
    *idx_out = m->n_nodes++;
    return 0;
}

static void model_free(struct fr_nn_model *m) {
    for (int i = 0; i < m->n_values; i++) {
        fr_free(m->values[i].name);
        fr_free(m->values[i].t.data);
    }
    for (int i = 0; i < m->n_nodes; i++) {
        struct fr_nn_node *n = &m->nodes[i];
        for (int a = 0; a < n->n_attrs; a++) {
            fr_free(n->attrs[a].name);
            fr_free(n->attrs[a].s);
            fr_free(n->attrs[a].ints);
            fr_free(n->attrs[a].floats);
            fr_free(n->attrs[a].t.data);
        }
        fr_free(n->attrs);
        fr_free(n->name);
        fr_free(n->in);
        fr_free(n->out);
        fr_free(n->params);
    }
    fr_free(m->values);
    fr_free(m->nodes);
    fr_free(m->inputs);
    fr_free(m->outputs);
    fr_free(m->order);
    fr_free(m);
}

void fr_nn_model_ref(struct fr_nn_model *m) {
    __atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED);
}

void fr_nn_model_unref(struct fr_nn_model *m) {
    if (m && __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL) == 0) model_free(m);
}

/* ---- helpers for shape fns ---- */

struct fr_nn_value *fr__nn_in(struct fr_nn_model *m, const struct fr_nn_node *n, int i) {
    return i < n->n_in && n->in[i] >= 0 ? &m->values[n->in[i]] : NULL;
}

struct fr_nn_value *fr__nn_out(struct fr_nn_model *m, const struct fr_nn_node *n, int i) {
    return i < n->n_out && n->out[i] >= 0 ? &m->values[n->out[i]] : NULL;
}

const struct fr_nn_attr *fr__nn_attr(const struct fr_nn_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t fr__nn_attr_int(const struct fr_nn_node *n, const char *name, int64_t def) {
    const struct fr_nn_attr *a = fr__nn_attr(n, name);
    return a && a->type == FR_ATTR_INT ? a->i : def;
}

float fr__nn_attr_float(const struct fr_nn_node *n, const char *name, float def) {
    const struct fr_nn_attr *a = fr__nn_attr(n, name);
    return a && a->type == FR_ATTR_FLOAT ? a->f : def;
}

const char *fr__nn_attr_str(const struct fr_nn_node *n, const char *name, const char *def) {
    const struct fr_nn_attr *a = fr__nn_attr(n, name);
    return a && a->type == FR_ATTR_STRING ? a->s : def;
}

const int64_t *fr__nn_attr_ints(const struct fr_nn_node *n, const char *name, int *n_out) {
    const struct fr_nn_attr *a = fr__nn_attr(n, name);
    if (!a || a->type != FR_ATTR_INTS) { *n_out = 0; return NULL; }
    *n_out = a->n;
    return a->ints;
}

int fr__nn_node_err(const struct fr_nn_node *n, int err, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fr_err_set(err, "node '%s' (%s): %s", n->name ? n->name : "", fr__nn_ops[n->op].name, msg);
}

int fr__nn_const_ints(struct fr_nn_model *m, const struct fr_nn_node *n, int i, int64_t *out, int max) {
    const struct fr_nn_value *v = fr__nn_in(m, n, i);
    if (!v) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d is missing", i);
    if (!v->is_const)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "input %d must be a constant (shapes are fixed at load)", i);
    if (v->t.ndim > 1) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d must be 1-D", i);
    int64_t cnt = fr_tensor_numel(&v->t);
    if (cnt > max) return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "input %d has %lld values", i, (long long)cnt);
    for (int64_t k = 0; k < cnt; k++) {
        if (v->t.dtype == FR_DTYPE_INT64) out[k] = ((const int64_t *)v->t.data)[k];
        else if (v->t.dtype == FR_DTYPE_INT32) out[k] = ((const int32_t *)v->t.data)[k];
        else return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d must be int64", i);
    }
    return (int)cnt;
}

int fr__nn_check_inputs(struct fr_nn_model *m, const struct fr_nn_node *n, int n_min, int n_max) {
    if (n->n_in < n_min || n->n_in > n_max)
        return fr__nn_node_err(n, FR_E_MODEL_INVALID, "%d inputs, expected %d..%d", n->n_in, n_min, n_max);
    for (int i = 0; i < n_min; i++)
        if (!fr__nn_in(m, n, i)) return fr__nn_node_err(n, FR_E_MODEL_INVALID, "required input %d is missing", i);
    return 0;
}

int fr__nn_set_out(struct fr_nn_model *m, const struct fr_nn_node *n, int i, int dtype, int ndim,
                   const int64_t *dims) {
    struct fr_nn_value *v = fr__nn_out(m, n, i);
    if (!v) return 0;
    if (ndim < 0 || ndim > FR_NN_MAX_DIMS)
        return fr__nn_node_err(n, FR_E_MODEL_UNSUPPORTED, "output of rank %d", ndim);
    v->t.dtype = dtype;
    v->t.ndim = ndim;
    for (int d = 0; d < ndim; d++) v->t.dims[d] = dims[d];
    int rc = fr__nn_tensor_check(&v->t, &m->limits);
    return rc < 0 ? fr__nn_node_err(n, -rc, "output %d: %s", i, fr_err_detail()) : 0;
}

int fr__nn_broadcast(const struct fr_tensor *a, const struct fr_tensor *b, struct fr_tensor *out) {
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return -FR_E_MODEL_INVALID;
        out->dims[i] = da == 1 ? db : da;
    }
    return 0;
}

int fr__nn_axis(int64_t axis, int rank) {
    if (axis < -rank || axis >= rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

/* ---- load-time work ---- */

static bool node_all_const(struct fr_nn_model *m, const struct fr_nn_node *n) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && !m->values[n->in[i]].is_const) return false;
    return true;
}

/* Folding runs at load time, so its cost is bounded: a node worth more than
 * this many multiply-accumulates (a hostile 200-byte file can pad two tiny
 * constants into a Conv of 1e11 MACs) is left in the graph to run with the
 * session, whose cost fr_nn_model_info() reports. */
#define FOLD_MAX_MACS ((int64_t)1 << 26)

/* Run a node whose inputs are all constants; its outputs become constants. */
static int run_node_const(struct fr_nn_model *m, struct fr_nn_node *n) {
    struct fr_nn_exec x;
    void *scratch = NULL;
    int rc = 0;
    if (fr__nn_scratch_total(n, 1) > m->limits.max_arena_bytes)
        return fr__nn_node_err(n, FR_E_LIMIT_EXCEEDED, "needs %zu bytes of scratch (limit %zu)",
                               fr__nn_scratch_total(n, 1), m->limits.max_arena_bytes);
    memset(&x, 0, sizeof x);
    x.n_in = n->n_in;
    x.n_out = n->n_out;
    x.n_threads = 1;
    for (int i = 0; i < n->n_in; i++) x.in[i] = n->in[i] >= 0 ? &m->values[n->in[i]].t : NULL;
    for (int i = 0; i < n->n_out; i++) {
        struct fr_nn_value *v = &m->values[n->out[i]];
        if (!(v->t.data = fr_malloc_aligned(fr_tensor_bytes(&v->t)))) { rc = -FR_E_NOMEM; goto out; }
        x.out[i] = &v->t;
    }
    if (!(scratch = x.scratch = fr_malloc_aligned(fr__nn_scratch_total(n, 1)))) { rc = -FR_E_NOMEM; goto out; }
    if ((rc = fr__nn_ops[n->op].run(n, &x)) < 0) goto out;
    for (int i = 0; i < n->n_out; i++) {
        m->values[n->out[i]].is_const = true;
        m->values[n->out[i]].producer = -1;
    }
    n->dead = true;
out:
    fr_free(scratch);
    return rc;
}

static void count_uses(struct fr_nn_model *m) {
    for (int v = 0; v < m->n_values; v++) m->values[v].n_uses = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const struct fr_nn_node *n = &m->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) m->values[n->in[k]].n_uses++;
    }
}

/* Remove nodes none of whose outputs is used or is a graph output. */
static void remove_dead(struct fr_nn_model *m) {
    count_uses(m);
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        struct fr_nn_node *n = &m->nodes[i];
        if (n->dead) continue;
        bool used = false;
        for (int k = 0; k < n->n_out; k++) {
            const struct fr_nn_value *v = &m->values[n->out[k]];
            if (v->n_uses > 0 || v->is_output) used = true;
        }
        if (used) continue;
        n->dead = true;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) m->values[n->in[k]].n_uses--;
    }
}

int fr__nn_model_finish(struct fr_nn_model *m, const struct fr_nn_load_opts *opts) {
    int rc;
    for (int i = 0; i < m->n_nodes; i++) {
        struct fr_nn_node *n = &m->nodes[i];
        if (n->dead) continue;                 /* Constant nodes were taken at load */
        for (int k = 0; k < n->n_in; k++) {
            const struct fr_nn_value *v = n->in[k] >= 0 ? &m->values[n->in[k]] : NULL;
            if (v && !v->is_const && !v->is_input && v->producer < 0)
                return fr__nn_node_err(n, FR_E_MODEL_INVALID, "input %d has no producer", k);
        }
        if ((rc = fr__nn_ops[n->op].shape(m, n)) < 0) return rc;
        for (int k = 0; k < n->n_out; k++)
            if (m->values[n->out[k]].t.dtype == 0)
                return fr__nn_node_err(n, FR_E_INTERNAL_ERROR, "output %d has no type", k);
        if (node_all_const(m, n) && n->macs <= FOLD_MAX_MACS && (rc = run_node_const(m, n)) < 0) return rc;
    }
    remove_dead(m);
    if (!opts || !opts->no_optimize) {
        if ((rc = fr__nn_pass_fold_pad(m)) < 0) return rc;
        remove_dead(m);
        if ((rc = fr__nn_pass_fold_bn(m)) < 0) return rc;
        if ((rc = fr__nn_pass_fuse_act(m)) < 0) return rc;
        remove_dead(m);
        if ((rc = fr__nn_pass_prepack(m)) < 0) return rc;
    }
    int64_t macs = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (!m->nodes[i].dead) macs += m->nodes[i].macs;
    if (macs > m->limits.max_macs)
        return fr_err_set(FR_E_LIMIT_EXCEEDED, "a run needs %lld multiply-accumulates (limit %lld)", (long long)macs,
                          (long long)m->limits.max_macs);
    /* execution order */
    fr_free(m->order);
    if (!(m->order = fr_malloc(((size_t)m->n_nodes + 1) * sizeof(int)))) return -FR_E_NOMEM;
    m->n_order = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (!m->nodes[i].dead) m->order[m->n_order++] = i;
    return fr__nn_plan_memory(m);
}

/* ---- info ---- */

int fr_nn_model_n_inputs(const struct fr_nn_model *m) { return m->n_inputs; }
int fr_nn_model_n_outputs(const struct fr_nn_model *m) { return m->n_outputs; }

static const char *value_desc(const struct fr_nn_model *m, int idx, struct fr_tensor *shape_out) {
    const struct fr_nn_value *v = &m->values[idx];
    if (shape_out) {
        *shape_out = v->t;
        shape_out->data = NULL;
    }
    return v->name;
}

const char *fr_nn_model_input(const struct fr_nn_model *m, int i, struct fr_tensor *shape_out) {
    return i >= 0 && i < m->n_inputs ? value_desc(m, m->inputs[i], shape_out) : NULL;
}

const char *fr_nn_model_output(const struct fr_nn_model *m, int i, struct fr_tensor *shape_out) {
    return i >= 0 && i < m->n_outputs ? value_desc(m, m->outputs[i], shape_out) : NULL;
}

int fr_nn_model_input_index(const struct fr_nn_model *m, const char *name) {
    for (int i = 0; i < m->n_inputs; i++)
        if (!strcmp(m->values[m->inputs[i]].name, name)) return i;
    return -1;
}

void fr_nn_model_info(const struct fr_nn_model *m, struct fr_nn_info *info) {
    memset(info, 0, sizeof *info);
    info->opset = m->opset;
    info->n_nodes = m->n_order;
    info->n_nodes_onnx = m->n_nodes_onnx;
    info->n_params = m->n_params;
    info->arena_bytes = m->arena_bytes + m->scratch_bytes;
    for (int i = 0; i < m->n_order; i++) {
        const struct fr_nn_node *n = &m->nodes[m->order[i]];
        info->op_counts[n->op]++;
        info->macs += n->macs;
    }
}

/* ---- sessions ---- */

struct fr_nn_session {
    struct fr_nn_model *m;
    uint8_t *arena;
    uint8_t *scratch;
    struct fr_tensor *vt;        /* one per value: shape + where its data is now */
    struct fr_pool *pool;
    int n_threads;
    bool profile;
    double *prof_ms;             /* per exec position */
    int64_t par_min_macs;        /* nodes below this run on the caller alone */
};

/* OpenBLAS runs single-threaded inside our tasks: the engine does its own
 * intra-op parallelism, and sessions on many threads must not fight over
 * one BLAS pool. */
#define PAR_MIN_MACS ((int64_t)16 << 20)   /* a node gets the pool from this much work */

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_init(void) { openblas_set_num_threads(1); }

int fr_nn_session_new(struct fr_nn_model *m, int n_threads, struct fr_nn_session **s_out) {
    *s_out = NULL;
    pthread_once(&blas_once, blas_init);
    if (n_threads < 1) n_threads = 1;
    struct fr_nn_session *s = fr_calloc(1, sizeof *s);
    if (!s) return -FR_E_NOMEM;
    int rc = 0;
    s->m = m;
    fr_nn_model_ref(m);
    s->n_threads = n_threads;
    s->par_min_macs = PAR_MIN_MACS;
    s->vt = fr_calloc((size_t)m->n_values, sizeof *s->vt);
    s->prof_ms = fr_calloc((size_t)m->n_order + 1, sizeof(double));
    size_t scratch = 64;
    for (int i = 0; i < m->n_order; i++) {
        size_t b = fr__nn_scratch_total(&m->nodes[m->order[i]], n_threads);
        if (b > scratch) scratch = b;
    }
    s->arena = fr_malloc_aligned(m->arena_bytes + 64);
    s->scratch = fr_malloc_aligned(scratch);
    if (!s->vt || !s->prof_ms || !s->arena || !s->scratch) { rc = -FR_E_NOMEM; goto fail; }
    if (n_threads > 1 && (rc = fr_pool_new(n_threads, &s->pool)) < 0) goto fail;
    for (int v = 0; v < m->n_values; v++) {
        const struct fr_nn_value *val = &m->values[v];
        s->vt[v] = val->t;
        if (!val->is_const && !val->is_input) s->vt[v].data = s->arena + val->offset;
    }
    *s_out = s;
    return 0;
fail:
    fr_nn_session_free(s);
    return rc;
}

void fr_nn_session_free(struct fr_nn_session *s) {
    if (!s) return;
    fr_pool_free(s->pool);
    fr_free(s->arena);
    fr_free(s->scratch);
    fr_free(s->vt);
    fr_free(s->prof_ms);
    fr_nn_model_unref(s->m);
    fr_free(s);
}

void fr_nn_session_set_parallel_min(struct fr_nn_session *s, int64_t macs) { s->par_min_macs = macs; }

void fr_nn_session_profile(struct fr_nn_session *s, int enable) {
    s->profile = enable != 0;
    memset(s->prof_ms, 0, (size_t)s->m->n_order * sizeof(double));
}

int fr_nn_session_profile_get(const struct fr_nn_session *s, int i, const char **op_name,
                              const char **node_desc, double *ms_total) {
    if (i < 0 || i >= s->m->n_order) return -FR_E_INVALID_ARGUMENT;
    const struct fr_nn_node *n = &s->m->nodes[s->m->order[i]];
    *op_name = fr__nn_ops[n->op].name;
    *node_desc = n->desc[0] ? n->desc : n->name;
    *ms_total = s->prof_ms[i];
    return 0;
}

static bool same_shape(const struct fr_tensor *a, const struct fr_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

static int session_run(struct fr_nn_session *s, const struct fr_tensor *inputs, struct fr_tensor *outputs);

/* The caller's thread computes with denormals flushed for the run, and gets
 * its own floating-point mode back after it. */
int fr_nn_session_run(struct fr_nn_session *s, const struct fr_tensor *inputs, struct fr_tensor *outputs) {
    unsigned fp = fr_fp_flush_denormals();
    int rc = session_run(s, inputs, outputs);
    fr_fp_restore(fp);
    return rc;
}

static int session_run(struct fr_nn_session *s, const struct fr_tensor *inputs, struct fr_tensor *outputs) {
    const struct fr_nn_model *m = s->m;
    for (int i = 0; i < m->n_inputs; i++) {
        const struct fr_nn_value *v = &m->values[m->inputs[i]];
        if (!same_shape(&inputs[i], &v->t) || !inputs[i].data)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "input '%s': wrong type or shape", v->name);
        s->vt[m->inputs[i]].data = inputs[i].data;
    }
    /* aliases live in their root's buffer (the root may be an input) */
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].alias >= 0)
            s->vt[v].data = (uint8_t *)s->vt[m->values[v].alias].data + m->values[v].alias_off;
    struct fr_nn_exec x;
    x.scratch = s->scratch;
    x.pool = s->pool;
    x.n_threads = s->n_threads;
    for (int p = 0; p < m->n_order; p++) {
        const struct fr_nn_node *n = &m->nodes[m->order[p]];
        x.n_in = n->n_in;
        x.n_out = n->n_out;
        /* small nodes stay on this thread: waking a worker costs more than
         * they do (the host's wake-up latency is tens of microseconds) */
        bool par = n->macs >= s->par_min_macs;
        x.pool = par ? s->pool : NULL;
        x.n_threads = par ? s->n_threads : 1;
        for (int i = 0; i < n->n_in; i++) x.in[i] = n->in[i] >= 0 ? &s->vt[n->in[i]] : NULL;
        for (int i = 0; i < n->n_out; i++) x.out[i] = &s->vt[n->out[i]];
        double t0 = s->profile ? fr_time_ms() : 0;
        int rc = fr__nn_ops[n->op].run(n, &x);
        if (rc < 0) return rc;
        if (s->profile) s->prof_ms[p] += fr_time_ms() - t0;
    }
    for (int i = 0; i < m->n_outputs; i++) outputs[i] = s->vt[m->outputs[i]];
    return 0;
}
