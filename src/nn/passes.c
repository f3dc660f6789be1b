/* Load-time passes: BatchNorm folded into the Conv before it, activations
 * fused into the Conv before them, and memory planning of activations. */
#include "nn_int.h"
#include "kern/kern.h"

#include <math.h>
#include <stdio.h>

/* cons[v]: the node consuming value v when exactly one live node does (in
 * one input slot) and v is not a graph output; else -1. */
static int *consumers(struct fr_nn_model *m) {
    int *cnt = fr_calloc((size_t)m->n_values + 1, sizeof(int));
    int *cons = fr_malloc(((size_t)m->n_values + 1) * sizeof(int));
    if (!cnt || !cons) { fr_free(cnt); fr_free(cons); return NULL; }
    for (int v = 0; v < m->n_values; v++) cons[v] = -1;
    for (int i = 0; i < m->n_nodes; i++) {
        const struct fr_nn_node *n = &m->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) { cnt[n->in[k]]++; cons[n->in[k]] = i; }
    }
    for (int v = 0; v < m->n_values; v++)
        if (cnt[v] != 1 || m->values[v].is_output) cons[v] = -1;
    fr_free(cnt);
    return cons;
}

static int new_const(struct fr_nn_model *m, const char *name, int ndim, const int64_t *dims, int *idx) {
    int rc = fr__nn_value_add(m, name, idx);
    if (rc < 0) return rc;
    struct fr_nn_value *v = &m->values[*idx];
    v->t.dtype = FR_DTYPE_FLOAT;
    v->t.ndim = ndim;
    memcpy(v->t.dims, dims, (size_t)ndim * sizeof dims[0]);
    v->is_const = true;
    if (!(v->t.data = fr_malloc_aligned(fr_tensor_bytes(&v->t)))) return -FR_E_NOMEM;
    return 0;
}

static bool is_const_float(struct fr_nn_model *m, int v, int64_t numel) {
    return v >= 0 && m->values[v].is_const && m->values[v].t.dtype == FR_DTYPE_FLOAT &&
           fr_tensor_numel(&m->values[v].t) == numel;
}

/* Make room for input slot k on node n. */
static int node_grow_inputs(struct fr_nn_node *n, int want) {
    if (n->n_in >= want) return 0;
    int *in = fr_realloc(n->in, (size_t)want * sizeof(int));
    if (!in) return -FR_E_NOMEM;
    for (int k = n->n_in; k < want; k++) in[k] = -1;
    n->in = in;
    n->n_in = want;
    return 0;
}

/* Set attribute `name` of node n to the ints vals (replacing or adding). */
static int attr_set_ints(struct fr_nn_node *n, const char *name, const int64_t *vals, int cnt) {
    struct fr_nn_attr *a = NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) a = &n->attrs[i];
    if (!a) {
        struct fr_nn_attr *na = fr_realloc(n->attrs, ((size_t)n->n_attrs + 1) * sizeof *na);
        if (!na) return -FR_E_NOMEM;
        n->attrs = na;
        a = &n->attrs[n->n_attrs];
        memset(a, 0, sizeof *a);
        if (!(a->name = fr_strdup(name))) return -FR_E_NOMEM;
        n->n_attrs++;
    }
    int64_t *v = fr_malloc((size_t)cnt * sizeof *v + 1);
    if (!v) return -FR_E_NOMEM;
    memcpy(v, vals, (size_t)cnt * sizeof *v);
    fr_free(a->ints);
    fr_free(a->floats);
    fr_free(a->s);
    a->floats = NULL;
    a->s = NULL;
    a->ints = v;
    a->n = cnt;
    a->type = FR_ATTR_INTS;
    return 0;
}

static int attr_set_int(struct fr_nn_node *n, const char *name, int64_t v) {
    int rc = attr_set_ints(n, name, &v, 1);     /* find or add the slot ... */
    if (rc < 0) return rc;
    for (int i = 0; i < n->n_attrs; i++)        /* ... and make it a plain int */
        if (!strcmp(n->attrs[i].name, name)) {
            fr_free(n->attrs[i].ints);
            n->attrs[i].ints = NULL;
            n->attrs[i].n = 0;
            n->attrs[i].type = FR_ATTR_INT;
            n->attrs[i].i = v;
        }
    return 0;
}

/* The spatial pads of a zero-constant Pad over N, C, spatial...; false when
 * it pads anything else, pads negatively, or pads with another value. */
static bool pad_spatial(struct fr_nn_model *m, const struct fr_nn_node *pd, int nd, int64_t *begin, int64_t *end) {
    int64_t pads[2 * FR_NN_MAX_DIMS];
    int cnt, r = nd + 2;
    if (strcmp(fr__nn_attr_str(pd, "mode", "constant"), "constant")) return false;
    if (m->opset < 11) {
        const int64_t *pa = fr__nn_attr_ints(pd, "pads", &cnt);
        if (!pa || cnt != 2 * r || fr__nn_attr_float(pd, "value", 0.0f) != 0.0f) return false;
        memcpy(pads, pa, (size_t)cnt * sizeof *pads);
    } else {
        const struct fr_nn_value *cv = pd->n_in > 2 && pd->in[2] >= 0 ? &m->values[pd->in[2]] : NULL;
        if (cv && (!cv->is_const || cv->t.dtype != FR_DTYPE_FLOAT || *(const float *)cv->t.data != 0.0f)) return false;
        if (!m->values[pd->in[1]].is_const) return false;
        const struct fr_tensor *pt = &m->values[pd->in[1]].t;
        if (pt->dtype != FR_DTYPE_INT64 || fr_tensor_numel(pt) != 2 * r) return false;
        memcpy(pads, pt->data, (size_t)(2 * r) * sizeof *pads);
    }
    if (pads[0] || pads[1] || pads[r] || pads[r + 1]) return false;
    for (int i = 0; i < nd; i++) {
        begin[i] = pads[2 + i];
        end[i] = pads[r + 2 + i];
        if (begin[i] < 0 || end[i] < 0) return false;
    }
    return true;
}

/* A zero Pad feeding only a Conv or an AveragePool becomes that op's pads
 * (AveragePool then counts the padding, as it counted the zeros). The
 * consumer's pads attribute is rewritten and its shape fn run again. */
int fr__nn_pass_fold_pad(struct fr_nn_model *m) {
    int *cons = consumers(m), rc = 0;
    if (!cons) return -FR_E_NOMEM;
    for (int i = 0; i < m->n_nodes && rc == 0; i++) {
        struct fr_nn_node *pd = &m->nodes[i];
        if (pd->dead || pd->op != FR_OP_PAD || pd->in[0] < 0 || cons[pd->out[0]] < 0) continue;
        struct fr_nn_node *c = &m->nodes[cons[pd->out[0]]];
        if (c->dead || c->in[0] != pd->out[0] || (c->op != FR_OP_CONV && c->op != FR_OP_AVGPOOL)) continue;
        int nd = m->values[pd->in[0]].t.ndim - 2, cnt;
        int64_t b[3], e[3], np[6];
        if (nd < 1 || nd > 3 || !pad_spatial(m, pd, nd, b, e)) continue;
        if (strcmp(fr__nn_attr_str(c, "auto_pad", "NOTSET"), "NOTSET")) continue;
        const int64_t *old = fr__nn_attr_ints(c, "pads", &cnt);
        if (old && cnt != 2 * nd) continue;
        if (c->op == FR_OP_AVGPOOL) {
            bool had = false;
            for (int k = 0; old && k < cnt; k++) had = had || old[k] != 0;
            if (had && !fr__nn_attr_int(c, "count_include_pad", 0)) continue;
        }
        for (int k = 0; k < nd; k++) {
            np[k] = b[k] + (old ? old[k] : 0);
            np[nd + k] = e[k] + (old ? old[nd + k] : 0);
        }
        if ((rc = attr_set_ints(c, "pads", np, 2 * nd)) < 0) break;
        if (c->op == FR_OP_AVGPOOL && (rc = attr_set_int(c, "count_include_pad", 1)) < 0) break;
        c->in[0] = pd->in[0];
        fr_free(c->params);
        c->params = NULL;
        c->scratch_bytes = c->scratch_thread_bytes = 0;
        if ((rc = fr__nn_ops[c->op].shape(m, c)) < 0) break;
        pd->dead = true;
    }
    fr_free(cons);
    return rc;
}

int fr__nn_pass_fold_bn(struct fr_nn_model *m) {
    int *cons = consumers(m), rc = 0;
    if (!cons) return -FR_E_NOMEM;
    for (int i = 0; i < m->n_nodes; i++) {
        struct fr_nn_node *c = &m->nodes[i];
        if (c->dead || c->op != FR_OP_CONV) continue;
        struct fr_conv_params *cp = c->params;
        if (cp->act != FR_ACT_NONE || cons[c->out[0]] < 0) continue;
        struct fr_nn_node *bn = &m->nodes[cons[c->out[0]]];
        if (bn->op != FR_OP_BATCHNORM || bn->n_out != 1 || bn->in[0] != c->out[0]) continue;
        if (fr__nn_attr_int(bn, "training_mode", 0)) continue;
        const struct fr_tensor w = m->values[c->in[1]].t;   /* a copy: values may move below */
        if (!m->values[c->in[1]].is_const || w.dtype != FR_DTYPE_FLOAT || w.dims[0] < 1) continue;
        int64_t co = w.dims[0], per = fr_tensor_numel(&w) / co;
        bool ok = true;
        for (int k = 1; k <= 4; k++) ok = ok && bn->n_in > k && is_const_float(m, bn->in[k], co);
        if (!ok || (c->n_in > 2 && c->in[2] >= 0 && !is_const_float(m, c->in[2], co))) continue;
        float eps = fr__nn_attr_float(bn, "epsilon", 1e-5f);
        int wi, bi;
        char name[64];
        snprintf(name, sizeof name, "%.48s/folded_w", c->name);
        if ((rc = new_const(m, name, w.ndim, w.dims, &wi)) < 0) break;
        snprintf(name, sizeof name, "%.48s/folded_b", c->name);
        if ((rc = new_const(m, name, 1, &co, &bi)) < 0) break;
        /* pointers after the appends (values may have moved) */
        const float *w0 = m->values[c->in[1]].t.data;
        const float *b0 = c->n_in > 2 && c->in[2] >= 0 ? m->values[c->in[2]].t.data : NULL;
        const float *gam = m->values[bn->in[1]].t.data, *bet = m->values[bn->in[2]].t.data;
        const float *mean = m->values[bn->in[3]].t.data, *var = m->values[bn->in[4]].t.data;
        float *w1 = m->values[wi].t.data, *b1 = m->values[bi].t.data;
        for (int64_t o = 0; o < co; o++) {
            double sc = (double)gam[o] / sqrt((double)var[o] + (double)eps);
            for (int64_t j = 0; j < per; j++) w1[o * per + j] = (float)((double)w0[o * per + j] * sc);
            b1[o] = (float)(((b0 ? (double)b0[o] : 0.0) - (double)mean[o]) * sc + (double)bet[o]);
        }
        if ((rc = node_grow_inputs(c, 3)) < 0) break;
        c->in[1] = wi;
        c->in[2] = bi;
        c->out[0] = bn->out[0];
        m->values[bn->out[0]].producer = i;
        bn->dead = true;
    }
    fr_free(cons);
    return rc;
}

int fr__nn_pass_fuse_act(struct fr_nn_model *m) {
    int *cons = consumers(m), rc = 0;
    if (!cons) return -FR_E_NOMEM;
    for (int i = 0; i < m->n_nodes && rc == 0; i++) {
        struct fr_nn_node *c = &m->nodes[i];
        if (!c->dead && c->op == FR_OP_BATCHNORM && c->n_out == 1 && cons[c->out[0]] >= 0) {
            /* inference BatchNorm + Relu: one pass */
            struct fr_nn_node *r = &m->nodes[cons[c->out[0]]];
            struct fr_bn_params *bp = c->params;
            if (!r->dead && r->op == FR_OP_RELU && !bp->relu && !fr__nn_attr_int(c, "training_mode", 0)) {
                bp->relu = true;
                c->out[0] = r->out[0];
                m->values[r->out[0]].producer = i;
                r->dead = true;
            }
            continue;
        }
        if (c->dead || c->op != FR_OP_CONV) continue;
        struct fr_conv_params *cp = c->params;
        if (cp->act != FR_ACT_NONE || cons[c->out[0]] < 0) continue;
        struct fr_nn_node *a = &m->nodes[cons[c->out[0]]];
        if (a->dead || a->in[0] != c->out[0]) continue;
        int64_t co = m->values[c->in[1]].t.dims[0];
        switch (a->op) {
        case FR_OP_RELU:
            cp->act = FR_ACT_RELU;
            break;
        case FR_OP_LEAKYRELU:
            cp->act = FR_ACT_LEAKY;
            cp->alpha = fr__nn_attr_float(a, "alpha", 0.01f);
            break;
        case FR_OP_PRELU: {
            /* slope must be per output channel (or one value) broadcast over H, W */
            const struct fr_nn_value *sv = a->in[1] >= 0 ? &m->values[a->in[1]] : NULL;
            const struct fr_nn_value *ov = &m->values[c->out[0]];
            if (!sv || !sv->is_const || sv->t.dtype != FR_DTYPE_FLOAT) continue;
            int64_t cnt = fr_tensor_numel(&sv->t);
            if (cnt != co && cnt != 1) continue;
            if (cnt == co && co > 1) {
                /* the slope's channel axis must line up with axis 1 of the output */
                int r = ov->t.ndim, sr = sv->t.ndim, ch = -1;
                for (int d = 0; d < sr; d++)
                    if (sv->t.dims[d] == co) ch = d + (r - sr);
                if (ch != 1) continue;
            }
            if ((rc = node_grow_inputs(c, 4)) < 0) break;
            cp->act = FR_ACT_PRELU;
            if (cnt == 1) {
                cp->act = FR_ACT_LEAKY;
                cp->alpha = *(const float *)sv->t.data;
            } else {
                c->in[3] = a->in[1];
            }
            break;
        }
        case FR_OP_CLIP: {
            const struct fr_nn_value *lo = a->n_in > 1 && a->in[1] >= 0 ? &m->values[a->in[1]] : NULL;
            const struct fr_nn_value *hi = a->n_in > 2 && a->in[2] >= 0 ? &m->values[a->in[2]] : NULL;
            if ((lo && (!lo->is_const || lo->t.dtype != FR_DTYPE_FLOAT)) ||
                (hi && (!hi->is_const || hi->t.dtype != FR_DTYPE_FLOAT)))
                continue;
            cp->act = FR_ACT_CLIP;
            cp->lo = lo ? *(const float *)lo->t.data : fr__nn_attr_float(a, "min", -INFINITY);
            cp->hi = hi ? *(const float *)hi->t.data : fr__nn_attr_float(a, "max", INFINITY);
            break;
        }
        default:
            continue;
        }
        if (rc < 0) break;
        c->out[0] = a->out[0];
        m->values[a->out[0]].producer = i;
        a->dead = true;
    }
    fr_free(cons);
    return rc;
}

/* Conv weights packed for the GEMM microkernel of this CPU's kernel table. */
int fr__nn_pass_prepack(struct fr_nn_model *m) {
    const struct fr_kern *k = fr_kern_get();
    if (!k->pw) return 0;
    for (int i = 0; i < m->n_nodes; i++) {
        struct fr_nn_node *c = &m->nodes[i];
        if (c->dead || c->op != FR_OP_CONV) continue;
        struct fr_conv_params *cp = c->params;
        if ((cp->method != FR_CONV_GEMM && cp->method != FR_CONV_C3) || !m->values[c->in[1]].is_const) continue;
        const struct fr_tensor w = m->values[c->in[1]].t;
        if (cp->method == FR_CONV_C3 && k->c3_run) {
            int64_t total = (int64_t)fr_kern_pack_c3_size((int)w.dims[0], (int)w.dims[1], k->c3_ob);
            int pi, rc;
            char name[64];
            snprintf(name, sizeof name, "%.48s/packed_c3", c->name);
            if ((rc = new_const(m, name, 1, &total, &pi)) < 0) return rc;
            fr_kern_pack_c3(m->values[c->in[1]].t.data, (int)w.dims[0], (int)w.dims[1], k->c3_ob,
                            m->values[pi].t.data);
            if ((rc = node_grow_inputs(c, 5)) < 0) return rc;
            c->in[4] = pi;
            cp->c3_ob = k->c3_ob;
            continue;
        }
        int64_t mg = w.dims[0] / cp->group, kk = fr_tensor_numel(&w) / w.dims[0];
        if (mg > INT32_MAX || kk > INT32_MAX) continue;
        size_t per = fr_kern_pack_pw_size((int)mg, (int)kk, k->pw_mr);
        int64_t total = (int64_t)(per * (size_t)cp->group);
        int pi, rc;
        char name[64];
        snprintf(name, sizeof name, "%.48s/packed_w", c->name);
        if ((rc = new_const(m, name, 1, &total, &pi)) < 0) return rc;
        const float *src = m->values[c->in[1]].t.data;
        float *dst = m->values[pi].t.data;
        for (int64_t g = 0; g < cp->group; g++)
            fr_kern_pack_pw(src + (size_t)(g * mg * kk), (int)mg, (int)kk, k->pw_mr, dst + (size_t)g * per);
        if ((rc = node_grow_inputs(c, 5)) < 0) return rc;
        c->in[4] = pi;
        cp->pw_mr = k->pw_mr;
    }
    return 0;
}

/* ---- memory planning ----
 * Values share buffers in two ways: reshape-like outputs alias their input,
 * and the inputs of a Concat whose slices are contiguous (all dims before
 * the axis are 1) are made in place inside the Concat's output, which then
 * copies nothing. An alias names its root (the value that owns the buffer)
 * and its byte offset there. Roots get arena offsets by first fit over their
 * lifetimes: from the first time any value in the root's buffer is made to
 * the last time any is read. */

struct block { size_t off, end; int value; };

/* Follow alias links to the owner of the buffer, adding up the offsets. */
static int root_of(const struct fr_nn_model *m, int v, size_t *off) {
    size_t o = 0;
    while (m->values[v].alias >= 0) {
        o += m->values[v].alias_off;
        v = m->values[v].alias;
    }
    if (off) *off = o;
    return v;
}

/* Concat inputs made in place in its output (see above). Concats are taken
 * last to first: a Concat takes inputs nobody has taken yet into its own
 * buffer; a Concat whose inputs all sit already, in order, from offset 0 of
 * one buffer (DenseNet concatenates all earlier features at every layer, so
 * each Concat is a prefix of the next) becomes that prefix. Either way its
 * run copies nothing. */
static void elide_concats(struct fr_nn_model *m, bool *taken) {
    for (int p = m->n_order - 1; p >= 0; p--) {
        const struct fr_nn_node *n = &m->nodes[m->order[p]];
        if (n->op != FR_OP_CONCAT) continue;
        int oi = n->out[0];
        const struct fr_nn_value *out = &m->values[oi];
        int r = out->t.ndim, axis = fr__nn_axis(fr__nn_attr_int(n, "axis", m->opset < 4 ? 1 : 0), r);
        if (axis < 0 || out->is_const) continue;
        bool ok = true, none = true, all = true;
        for (int d = 0; d < axis; d++) ok = ok && out->t.dims[d] == 1;
        for (int i = 0; ok && i < n->n_in; i++) {
            int v = n->in[i];
            ok = v >= 0 && v != oi && !m->values[v].is_const && !m->values[v].is_input && m->values[v].producer >= 0;
            for (int j = 0; ok && j < i; j++) ok = n->in[j] != v;
            if (ok) {
                if (taken[v]) none = false;
                else all = false;
            }
        }
        if (!ok) continue;
        if (none) {
            size_t off = 0;
            for (int i = 0; i < n->n_in; i++) {
                struct fr_nn_value *x = &m->values[n->in[i]];
                if (x->alias >= 0) break;    /* cannot happen: not taken */
                x->alias = oi;
                x->alias_off = off;
                taken[n->in[i]] = true;
                off += fr_tensor_bytes(&x->t);
            }
        } else if (all && !taken[oi] && out->alias < 0) {
            size_t want = 0, off;
            int root = -1;
            bool prefix = true;
            for (int i = 0; prefix && i < n->n_in; i++) {
                int rv = root_of(m, n->in[i], &off);
                if (i == 0) root = rv;
                prefix = rv == root && off == want && rv != oi;
                want += fr_tensor_bytes(&m->values[n->in[i]].t);
            }
            if (prefix && root >= 0 && want == fr_tensor_bytes(&out->t)) {
                m->values[oi].alias = root;
                m->values[oi].alias_off = 0;
                taken[oi] = true;
            }
        }
    }
}

int fr__nn_plan_memory(struct fr_nn_model *m) {
    const int forever = m->n_order;
    int rc = 0;
    struct block *live = fr_malloc(((size_t)m->n_values + 1) * sizeof *live);
    int *first = fr_malloc(((size_t)m->n_values + 1) * sizeof *first);
    bool *taken = fr_calloc((size_t)m->n_values + 1, sizeof *taken);
    if (!live || !first || !taken) { rc = -FR_E_NOMEM; goto out; }
    int n_live = 0;
    size_t peak = 0;

    for (int v = 0; v < m->n_values; v++) {
        m->values[v].alias = -1;
        m->values[v].alias_off = 0;
        m->values[v].last_use = -1;
        m->values[v].offset = 0;
        first[v] = forever;
    }
    m->scratch_bytes = 0;
    elide_concats(m, taken);
    /* reshape-like outputs share their input's buffer */
    for (int p = 0; p < m->n_order; p++) {
        struct fr_nn_node *n = &m->nodes[m->order[p]];
        if (!n->alias_out0 || n->in[0] < 0) continue;
        struct fr_nn_value *o = &m->values[n->out[0]];
        if (o->is_output || o->alias >= 0) continue;    /* outputs get their own buffer (a copy) */
        size_t off;
        o->alias = root_of(m, n->in[0], &off);
        o->alias_off = off;
    }
    /* flatten: every alias names its final root */
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].alias >= 0) {
            size_t off;
            int r = root_of(m, v, &off);
            m->values[v].alias = r;
            m->values[v].alias_off = off;
        }
    /* lifetimes, on the roots */
    for (int p = 0; p < m->n_order; p++) {
        const struct fr_nn_node *n = &m->nodes[m->order[p]];
        size_t sc = fr__nn_scratch_total(n, 1);
        if (sc > m->scratch_bytes) m->scratch_bytes = sc;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) {
                struct fr_nn_value *r = &m->values[root_of(m, n->in[k], NULL)];
                if (p > r->last_use) r->last_use = p;
            }
        for (int k = 0; k < n->n_out; k++) {
            int r = root_of(m, n->out[k], NULL);
            if (p > m->values[r].last_use) m->values[r].last_use = p;
            if (p < first[r]) first[r] = p;
        }
    }
    for (int i = 0; i < m->n_outputs; i++) m->values[root_of(m, m->outputs[i], NULL)].last_use = forever;

    for (int p = 0; p < m->n_order; p++) {
        /* roots first made here: outputs of this node, or the buffers its
         * outputs live in (a Concat output made before the Concat runs) */
        const struct fr_nn_node *n = &m->nodes[m->order[p]];
        for (int k = 0; k < n->n_out; k++) {
            int vi = root_of(m, n->out[k], NULL);
            struct fr_nn_value *v = &m->values[vi];
            if (v->is_const || v->is_input || first[vi] != p) continue;
            first[vi] = -1;          /* allocated */
            size_t need = (fr_tensor_bytes(&v->t) + 63) & ~(size_t)63;
            if (need == 0) need = 64;
            /* first fit between live blocks, which are kept sorted by offset */
            size_t off = 0;
            int at = 0;
            for (; at < n_live; at++) {
                if (live[at].off >= off + need) break;
                if (live[at].end > off) off = live[at].end;
            }
            memmove(&live[at + 1], &live[at], (size_t)(n_live - at) * sizeof *live);
            live[at] = (struct block){ off, off + need, vi };
            n_live++;
            v->offset = off;
            if (off + need > peak) peak = off + need;
        }
        /* free what dies here */
        int w = 0;
        for (int b = 0; b < n_live; b++)
            if (m->values[live[b].value].last_use > p) live[w++] = live[b];
        n_live = w;
    }
    /* a session holds the activations and the largest node's scratch */
    if (peak > m->limits.max_arena_bytes || m->scratch_bytes > m->limits.max_arena_bytes - peak)
        rc = fr_err_set(FR_E_LIMIT_EXCEEDED, "activations need %zu bytes and scratch %zu (limit %zu)", peak,
                        m->scratch_bytes, m->limits.max_arena_bytes);
    m->arena_bytes = peak;
out:
    fr_free(live);
    fr_free(first);
    fr_free(taken);
    return rc;
}
