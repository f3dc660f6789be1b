/* The fast kernels against the portable reference.
 *
 * Conv: several hundred random configurations (fixed seeds) are built as
 * one-node models through the internal graph API: Conv, optionally followed
 * by BatchNormalization (folded into the conv at load) and an activation
 * (Relu, PRelu, LeakyRelu, Clip: fused). Each model is loaded for every ISA
 * the CPU has (weights are packed for that ISA's kernels at load), run at 1
 * and 2 threads and with the kernel table of every other ISA (the fallback
 * paths), and compared with the same model run by the reference method
 * (FR_CONV_REF: direct loops, double accumulation), which is itself checked
 * against a naive conv + BN + activation written here.
 *
 * Kernels: gather_row of each ISA against fr_kern_ref's, with guard pages
 * around the row and a guard after the destination; pw (the packed GEMM
 * microkernel) against a naive matmul + bias + activation on odd sizes. */
#include "harness.h"

#include "facerec/nn.h"
#include "nn/nn_int.h"
#include "nn/kern/kern.h"

#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- deterministic randomness ---- */

static uint32_t rng_state = 1;

static void rng_seed(uint32_t s) { rng_state = s ? s : 1; }

static uint32_t rnd(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* uniform in [lo, hi] */
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static float rnd_float(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) * (1.0f / 16777216.0f); }

#define PICK(a) ((a)[rnd() % (sizeof(a) / sizeof((a)[0]))])

/* ---- ISA helpers ---- */

static const int all_isas[3] = { FR_ISA_AVX512, FR_ISA_AVX2, FR_ISA_REF };

/* Select isa; true when the CPU has it (fr_cpu_set_isa clamps). */
static bool isa_select(int isa) {
    fr_cpu_set_isa(isa);
    return fr_cpu_isa() == isa;
}

static bool isa_supported(int isa) {
    bool ok = isa_select(isa);
    fr_cpu_set_isa(FR_ISA_AVX512);
    return ok;
}

static const struct fr_kern *isa_table(int isa) {
    return isa == FR_ISA_AVX512 ? &fr_kern_avx512 : isa == FR_ISA_AVX2 ? &fr_kern_avx2 : &fr_kern_ref;
}

/* ---- activations ---- */

static const char *const act_names[] = { "none", "relu", "prelu", "leaky", "clip" };

static float act_ref(float v, int act, float alpha, float lo, float hi, float slope) {
    switch (act) {
    case FR_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case FR_ACT_PRELU: return v > 0.0f ? v : v * slope;
    case FR_ACT_LEAKY: return v > 0.0f ? v : v * alpha;
    case FR_ACT_CLIP: return v < lo ? lo : v > hi ? hi : v;
    default: return v;
    }
}

/* |got - want| <= 1e-4 + 1e-4·|want| (and neither is NaN) */
static bool close_enough(float got, float want) {
    double g = (double)got, w = (double)want;
    if (isnan(g) || isnan(w)) return false;
    return fabs(g - w) <= 1e-4 + 1e-4 * fabs(w);
}

/* ---- conv configurations ---- */

struct conv_cfg {
    int n, c, m, h, w;
    int kh, kw, sh, sw, dh, dw;
    int pt, pl, pb, pr;            /* pads: top, left, bottom, right */
    int group;
    int act;                       /* enum fr_act */
    bool bias, bn;
    bool clip_no_max;              /* Clip with only "min" */
    uint32_t seed;
};

static int conv_out(int in, int k, int s, int d, int pb, int pe) {
    int span = in + pb + pe - ((k - 1) * d + 1);
    return span < 0 ? 0 : span / s + 1;
}

static void cfg_str(const struct conv_cfg *c, char *buf, size_t len) {
    snprintf(buf, len,
             "N%d C%d M%d H%d W%d k%dx%d s%dx%d d%dx%d pads[t%d l%d b%d r%d] group %d act %s bias %d bn %d seed %u",
             c->n, c->c, c->m, c->h, c->w, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw, c->pt, c->pl, c->pb, c->pr,
             c->group, act_names[c->act], c->bias, c->bn, c->seed);
}

static int64_t cfg_macs(const struct conv_cfg *c) {
    int oh = conv_out(c->h, c->kh, c->sh, c->dh, c->pt, c->pb);
    int ow = conv_out(c->w, c->kw, c->sw, c->dw, c->pl, c->pr);
    return (int64_t)c->n * c->m * oh * ow * (c->c / c->group) * c->kh * c->kw;
}

static int gen_dim(void) {
    static const int special[] = { 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 34, 35, 39, 40 };
    return rnd() % 3 == 0 ? PICK(special) : rnd_int(1, 40);
}

static int gcd(int a, int b) {
    while (b) { int t = a % b; a = b; b = t; }
    return a;
}

enum cfg_kind { KIND_GENERAL, KIND_DW, KIND_C3, KIND_PW };

#define MAC_BUDGET 2500000

static void gen_cfg(int kind, struct conv_cfg *c) {
    static const int cs[] = { 1, 2, 3, 8, 16, 17, 32 }, ms[] = { 1, 3, 4, 5, 12, 13, 16, 24 }, ks[] = { 1, 3, 5, 7 };
    for (;;) {
        memset(c, 0, sizeof *c);
        c->seed = rnd();
        c->n = rnd() % 4 == 0 ? 2 : 1;
        c->c = PICK(cs);
        c->m = PICK(ms);
        c->group = 1;
        c->h = gen_dim();
        c->w = gen_dim();
        c->kh = c->kw = PICK(ks);
        if (rnd() % 5 == 0) c->kw = PICK(ks);
        c->sh = c->sw = rnd_int(1, 2);
        if (rnd() % 6 == 0) c->sw = rnd_int(1, 2);
        c->dh = c->dw = 1;
        if (c->sh == 1 && c->sw == 1 && rnd() % 3 == 0) {
            c->dh = c->dw = rnd_int(1, 3);
            if (rnd() % 5 == 0) c->dw = rnd_int(1, 3);
        }
        c->pt = rnd_int(0, 2);
        c->pl = rnd_int(0, 2);
        c->pb = rnd() % 2 ? c->pt : rnd_int(0, 2);
        c->pr = rnd() % 2 ? c->pl : rnd_int(0, 2);
        switch (kind) {
        case KIND_GENERAL: {
            int r = (int)(rnd() % 10);
            if (r < 2) {                         /* depthwise */
                c->m = c->group = c->c;
            } else if (r < 4) {                  /* grouped */
                int g = gcd(c->c, c->m), pick = 1;
                for (int t = 2; t <= g; t++)
                    if (g % t == 0 && rnd() % 2) pick = t;
                if (pick == 1) {                 /* channel multiplier: group = c, m = k·c */
                    pick = c->c;
                    c->m = c->c * rnd_int(1, 2);
                }
                c->group = pick;
            }
            break;
        }
        case KIND_DW:
            c->m = c->group = c->c;
            if (rnd() % 7 != 0) c->kh = c->kw = 3;
            if (rnd() % 8 != 0) c->sw = c->sh;
            if (rnd() % 8 != 0) c->dh = c->dw = 1;
            break;
        case KIND_C3:
            c->kh = c->kw = 3;
            c->sw = c->sh;
            if (c->sh == 2) c->dh = c->dw = 1;
            else c->dh = c->dw = rnd() % 2 ? 1 : rnd_int(2, 3);
            break;
        case KIND_PW:
            c->kh = c->kw = 1;
            if (rnd() % 5 != 0) {
                c->sh = c->sw = 1;
                c->pt = c->pl = c->pb = c->pr = 0;
            }
            if (rnd() % 4 == 0) {
                int g = gcd(c->c, c->m);
                c->group = g > 1 && g % 2 == 0 ? 2 : 1;
            }
            break;
        }
        c->act = (int)(rnd() % 5);
        c->clip_no_max = c->act == FR_ACT_CLIP && rnd() % 4 == 0;
        c->bias = rnd() % 3 != 0;
        c->bn = rnd() % 3 == 0;
        if (conv_out(c->h, c->kh, c->sh, c->dh, c->pt, c->pb) < 1 ||
            conv_out(c->w, c->kw, c->sw, c->dw, c->pl, c->pr) < 1)
            continue;
        /* keep the reference loops cheap: lower H first (rows are what the
         * kernels tile the least), then give up on this one */
        while (cfg_macs(c) > MAC_BUDGET && c->h > 1 &&
               conv_out(c->h * 3 / 4, c->kh, c->sh, c->dh, c->pt, c->pb) >= 1)
            c->h = c->h * 3 / 4;
        if (cfg_macs(c) > MAC_BUDGET) continue;
        return;
    }
}

/* ---- the data of one case ---- */

struct case_data {
    struct fr_tensor x;            /* input [N, C, H, W] */
    float *w, *b;                  /* [M, C/g, kh, kw], [M] */
    float *gam, *bet, *mean, *var; /* BN [M] */
    float *slope;                  /* PRelu [M] */
    float alpha, lo, hi, eps;
};

static float *fill(size_t n, uint32_t seed, float lo, float hi) {
    struct fr_tensor t = { .dtype = FR_DTYPE_FLOAT, .ndim = 1, .dims = { (int64_t)n } };
    t.data = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(t.data);
    fr_nn_fill_pattern(&t, seed, lo, hi);
    return t.data;
}

static void case_data_make(const struct conv_cfg *c, struct case_data *d) {
    memset(d, 0, sizeof *d);
    uint32_t s = c->seed * 2654435761u + 7u;
    d->x = (struct fr_tensor){ .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { c->n, c->c, c->h, c->w } };
    d->x.data = fill((size_t)fr_tensor_numel(&d->x), s + 1, -1.0f, 1.0f);
    int k = c->c / c->group * c->kh * c->kw;
    float ws = sqrtf(3.0f / (float)k);
    d->w = fill((size_t)c->m * (size_t)k, s + 2, -ws, ws);
    d->b = fill((size_t)c->m, s + 3, -0.5f, 0.5f);
    d->gam = fill((size_t)c->m, s + 4, 0.5f, 1.5f);
    d->bet = fill((size_t)c->m, s + 5, -0.5f, 0.5f);
    d->mean = fill((size_t)c->m, s + 6, -0.3f, 0.3f);
    d->var = fill((size_t)c->m, s + 7, 0.5f, 1.5f);
    d->slope = fill((size_t)c->m, s + 8, -0.3f, 0.6f);
    d->alpha = 0.01f + 0.4f * (float)(s % 97) / 97.0f;
    d->lo = -0.6f + 0.5f * (float)(s % 13) / 13.0f;
    d->hi = c->clip_no_max ? INFINITY : 0.2f + 0.7f * (float)(s % 11) / 11.0f;
    d->eps = 1e-5f;
}

static void case_data_free(struct case_data *d) {
    free(d->x.data);
    free(d->w);
    free(d->b);
    free(d->gam);
    free(d->bet);
    free(d->mean);
    free(d->var);
    free(d->slope);
}

/* Conv (+ BN) (+ activation), straight from the definitions, in double. */
static float *naive_conv(const struct conv_cfg *c, const struct case_data *d, int oh, int ow) {
    int cg = c->c / c->group, mg = c->m / c->group;
    float *y = malloc((size_t)c->n * (size_t)c->m * (size_t)oh * (size_t)ow * sizeof(float));
    assert_non_null(y);
    const float *x = d->x.data;
    for (int b = 0; b < c->n; b++)
        for (int o = 0; o < c->m; o++) {
            int g = o / mg;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double acc = c->bias ? (double)d->b[o] : 0.0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < c->kh; ky++) {
                            int iy = oy * c->sh - c->pt + ky * c->dh;
                            if (iy < 0 || iy >= c->h) continue;
                            for (int kx = 0; kx < c->kw; kx++) {
                                int ix = ox * c->sw - c->pl + kx * c->dw;
                                if (ix < 0 || ix >= c->w) continue;
                                acc += (double)x[(((size_t)b * c->c + (size_t)(g * cg + ci)) * c->h + (size_t)iy) * c->w + (size_t)ix] *
                                       (double)d->w[(((size_t)o * cg + (size_t)ci) * c->kh + (size_t)ky) * c->kw + (size_t)kx];
                            }
                        }
                    if (c->bn)
                        acc = (acc - (double)d->mean[o]) * (double)d->gam[o] / sqrt((double)d->var[o] + (double)d->eps) +
                              (double)d->bet[o];
                    y[(((size_t)b * c->m + (size_t)o) * oh + (size_t)oy) * ow + (size_t)ox] =
                        act_ref((float)acc, c->act, d->alpha, d->lo, d->hi, d->slope[o]);
                }
        }
    return y;
}

/* ---- building a model through the internal API ---- */

static int value_new(struct fr_nn_model *m, const char *name) {
    int v;
    assert_int_equal(fr__nn_value_add(m, name, &v), 0);
    return v;
}

static int const_new(struct fr_nn_model *m, const char *name, int ndim, const int64_t *dims, const float *src) {
    int v = value_new(m, name);
    struct fr_nn_value *val = &m->values[v];
    val->t.dtype = FR_DTYPE_FLOAT;
    val->t.ndim = ndim;
    memcpy(val->t.dims, dims, (size_t)ndim * sizeof dims[0]);
    val->t.data = fr_malloc_aligned(fr_tensor_bytes(&val->t));
    assert_non_null(val->t.data);
    memcpy(val->t.data, src, fr_tensor_bytes(&val->t));
    val->is_const = true;
    m->n_params += fr_tensor_numel(&val->t);
    return v;
}

/* A node with one output value (made here) and room for max_attrs attributes. */
static struct fr_nn_node *node_new(struct fr_nn_model *m, int op, const char *name, int n_in, const int *in,
                                   int max_attrs, int *out_value) {
    char vname[64];
    snprintf(vname, sizeof vname, "%s_out", name);
    int ov = value_new(m, vname), ni;
    assert_int_equal(fr__nn_node_add(m, &ni), 0);
    struct fr_nn_node *n = &m->nodes[ni];
    n->op = op;
    n->name = fr_strdup(name);
    n->in = fr_malloc((size_t)n_in * sizeof(int));
    n->out = fr_malloc(sizeof(int));
    n->attrs = fr_calloc((size_t)max_attrs + 1, sizeof *n->attrs);
    assert_true(n->name && n->in && n->out && n->attrs);
    memcpy(n->in, in, (size_t)n_in * sizeof(int));
    n->n_in = n_in;
    n->out[0] = ov;
    n->n_out = 1;
    m->values[ov].producer = ni;
    *out_value = ov;
    return n;
}

static struct fr_nn_attr *attr_new(struct fr_nn_node *n, const char *name, int type) {
    struct fr_nn_attr *a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = fr_strdup(name);
    assert_non_null(a->name);
    a->type = type;
    return a;
}

static void attr_ints(struct fr_nn_node *n, const char *name, int cnt, const int64_t *v) {
    struct fr_nn_attr *a = attr_new(n, name, FR_ATTR_INTS);
    a->ints = fr_malloc((size_t)cnt * sizeof(int64_t));
    assert_non_null(a->ints);
    memcpy(a->ints, v, (size_t)cnt * sizeof(int64_t));
    a->n = cnt;
}

static void attr_int(struct fr_nn_node *n, const char *name, int64_t v) { attr_new(n, name, FR_ATTR_INT)->i = v; }

static void attr_float(struct fr_nn_node *n, const char *name, float v) { attr_new(n, name, FR_ATTR_FLOAT)->f = v; }

/* Conv [→ BatchNormalization] [→ activation], loaded for the current ISA. */
static struct fr_nn_model *build_conv(const struct conv_cfg *c, const struct case_data *d) {
    struct fr_nn_model *m;
    assert_int_equal(fr__nn_model_new(&m), 0);
    m->opset = 9;                                   /* Clip takes min/max attributes */
    int x = value_new(m, "X");
    m->values[x].t = d->x;
    m->values[x].t.data = NULL;
    m->values[x].is_input = true;
    m->inputs = fr_malloc(sizeof(int));
    m->outputs = fr_malloc(sizeof(int));
    assert_true(m->inputs && m->outputs);
    m->inputs[m->n_inputs++] = x;

    int64_t wd[4] = { c->m, c->c / c->group, c->kh, c->kw }, md[3] = { c->m, 1, 1 };
    int in[5], n_in = 0, cur;
    in[n_in++] = x;
    in[n_in++] = const_new(m, "W", 4, wd, d->w);
    if (c->bias) in[n_in++] = const_new(m, "B", 1, md, d->b);
    struct fr_nn_node *n = node_new(m, FR_OP_CONV, "conv", n_in, in, 5, &cur);
    attr_ints(n, "kernel_shape", 2, (const int64_t[]){ c->kh, c->kw });
    attr_ints(n, "strides", 2, (const int64_t[]){ c->sh, c->sw });
    attr_ints(n, "pads", 4, (const int64_t[]){ c->pt, c->pl, c->pb, c->pr });
    attr_ints(n, "dilations", 2, (const int64_t[]){ c->dh, c->dw });
    attr_int(n, "group", c->group);

    if (c->bn) {
        in[0] = cur;
        in[1] = const_new(m, "bn_scale", 1, md, d->gam);
        in[2] = const_new(m, "bn_bias", 1, md, d->bet);
        in[3] = const_new(m, "bn_mean", 1, md, d->mean);
        in[4] = const_new(m, "bn_var", 1, md, d->var);
        n = node_new(m, FR_OP_BATCHNORM, "bn", 5, in, 1, &cur);
        attr_float(n, "epsilon", d->eps);
    }
    in[0] = cur;
    switch (c->act) {
    case FR_ACT_RELU:
        node_new(m, FR_OP_RELU, "relu", 1, in, 0, &cur);
        break;
    case FR_ACT_PRELU:
        in[1] = const_new(m, "slope", 3, md, d->slope);
        node_new(m, FR_OP_PRELU, "prelu", 2, in, 0, &cur);
        break;
    case FR_ACT_LEAKY:
        n = node_new(m, FR_OP_LEAKYRELU, "leaky", 1, in, 1, &cur);
        attr_float(n, "alpha", d->alpha);
        break;
    case FR_ACT_CLIP:
        n = node_new(m, FR_OP_CLIP, "clip", 1, in, 2, &cur);
        attr_float(n, "min", d->lo);
        if (!c->clip_no_max) attr_float(n, "max", d->hi);
        break;
    default:
        break;
    }
    m->values[cur].is_output = true;
    m->outputs[m->n_outputs++] = cur;
    m->n_nodes_onnx = m->n_nodes;
    int rc = fr__nn_model_finish(m, NULL);
    if (rc < 0) {
        char buf[256];
        cfg_str(c, buf, sizeof buf);
        fprintf(stderr, "load failed: %s: %s\n  config: %s\n", fr_strerror(rc), fr_err_detail(), buf);
    }
    assert_int_equal(rc, 0);
    return m;
}

static struct fr_nn_node *conv_node(struct fr_nn_model *m) {
    for (int i = 0; i < m->n_order; i++)
        if (m->nodes[m->order[i]].op == FR_OP_CONV) return &m->nodes[m->order[i]];
    fail_msg("no conv node");
    return NULL;
}

/* Run on n_threads; a malloc'd copy of output 0. */
static float *run_model(struct fr_nn_model *m, const struct fr_tensor *x, int n_threads) {
    struct fr_nn_session *s;
    struct fr_tensor out;
    assert_int_equal(fr_nn_session_new(m, n_threads, &s), 0);
    fr_nn_session_set_parallel_min(s, 0);
    int rc = fr_nn_session_run(s, x, &out);
    if (rc < 0) fprintf(stderr, "run failed: %s: %s\n", fr_strerror(rc), fr_err_detail());
    assert_int_equal(rc, 0);
    size_t bytes = fr_tensor_bytes(&out);
    float *y = malloc(bytes ? bytes : 1);
    assert_non_null(y);
    memcpy(y, out.data, bytes);
    fr_nn_session_free(s);
    return y;
}

/* ---- one conv case ---- */

struct conv_stats {
    int cases, runs, fails;
    int isa_runs[3];               /* by enum fr_isa of the model's load */
    int isa_fails[3];
    int method[4];                 /* chosen by the best ISA's load */
    int dw3x3, pw_packed, c3_packed, pw_direct, bn, act[5], batch2;
    bool printed_header;
};

static int compare_out(const struct conv_cfg *c, const char *what, const float *got, const float *want, int oh,
                       int ow, struct conv_stats *st) {
    size_t cnt = (size_t)c->n * (size_t)c->m * (size_t)oh * (size_t)ow;
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (close_enough(got[i], want[i])) continue;
        if (!bad++) first = i;
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= worst)) worst = e;
    }
    if (!bad) return 0;
    if (st->fails < 25) {
        char buf[256];
        cfg_str(c, buf, sizeof buf);
        size_t i = first, ox = i % (size_t)ow, oy = i / (size_t)ow % (size_t)oh, o = i / ((size_t)ow * oh) % (size_t)c->m,
               b = i / ((size_t)ow * oh * c->m);
        fprintf(stderr,
                "MISMATCH %s\n  config: %s (out %dx%d)\n  %zu of %zu wrong; first at [n%zu m%zu y%zu x%zu]: got %.7g want "
                "%.7g; worst abs error %.3g\n",
                what, buf, oh, ow, bad, cnt, b, o, oy, ox, (double)got[i], (double)want[i], worst);
    }
    st->fails++;
    return 1;
}

static void run_conv_case(const struct conv_cfg *c, struct conv_stats *st) {
    struct case_data d;
    char what[128];
    case_data_make(c, &d);
    int oh = conv_out(c->h, c->kh, c->sh, c->dh, c->pt, c->pb), ow = conv_out(c->w, c->kw, c->sw, c->dw, c->pl, c->pr);
    st->cases++;
    st->bn += c->bn;
    st->act[c->act]++;
    st->batch2 += c->n == 2;

    /* the reference: portable kernel table, every conv forced to FR_CONV_REF */
    assert_true(isa_select(FR_ISA_REF));
    struct fr_nn_model *rm = build_conv(c, &d);
    assert_int_equal(rm->n_order, 1);              /* BN folded and the activation fused */
    ((struct fr_conv_params *)conv_node(rm)->params)->method = FR_CONV_REF;
    float *ref = run_model(rm, &d.x, 1);
    fr_nn_model_unref(rm);
    /* ... checked against the definitions (this also checks the passes) */
    float *naive = naive_conv(c, &d, oh, ow);
    compare_out(c, "reference conv vs naive", ref, naive, oh, ow, st);
    free(naive);

    bool first_isa = true;
    for (int li = 0; li < 3; li++) {
        int isa = all_isas[li];
        if (!isa_select(isa)) continue;            /* clamped: not on this CPU */
        struct fr_nn_model *m = build_conv(c, &d);
        assert_int_equal(m->n_order, 1);
        struct fr_nn_node *cn = conv_node(m);
        struct fr_conv_params *p = cn->params;
        const struct fr_kern *kt = isa_table(isa);
        if (first_isa) {
            st->method[p->method]++;
            if (p->method == FR_CONV_DW && kt->dw3x3 && p->k[0] == 3 && p->k[1] == 3 && p->s[0] == p->s[1] &&
                p->s[0] <= 2)
                st->dw3x3++;
            if (p->method == FR_CONV_GEMM && p->pw_mr) st->pw_packed++;
            if (p->method == FR_CONV_GEMM && cn->scratch_thread_bytes == 0) st->pw_direct++;
            if (p->c3_ob) st->c3_packed++;
            first_isa = false;
        }
        int saved = p->method;
        /* C3 nodes: also their GEMM fallback (im2col × sgemm) */
        int n_methods = p->method == FR_CONV_C3 ? 2 : 1;
        for (int mi = 0; mi < n_methods; mi++) {
            p->method = mi == 0 ? saved : FR_CONV_GEMM;
            const char *mname = p->method == FR_CONV_DW ? "dw" : p->method == FR_CONV_GEMM ? "gemm"
                                : p->method == FR_CONV_C3 ? "c3" : "ref";
            /* with the kernels of the ISA it was loaded for, 1 and 2 threads;
             * then with every other ISA's kernels (fallbacks: packed weights
             * of another width, tables without pw / c3 / dw3x3) */
            for (int ri = -1; ri < 3; ri++) {
                int run_isa = ri < 0 ? isa : all_isas[ri];
                if (ri >= 0 && run_isa == isa) continue;        /* done at ri = -1 */
                if (!isa_select(run_isa)) continue;
                for (int th = 1; th <= (run_isa == isa ? 2 : 1); th++) {
                    float *y = run_model(m, &d.x, th);
                    snprintf(what, sizeof what, "method %s, loaded for %s, run with %s kernels, %d thread%s", mname,
                             fr_isa_name(isa), fr_isa_name(run_isa), th, th > 1 ? "s" : "");
                    st->runs++;
                    st->isa_runs[isa]++;
                    st->isa_fails[isa] += compare_out(c, what, y, ref, oh, ow, st);
                    free(y);
                }
            }
            isa_select(isa);
        }
        p->method = saved;
        fr_nn_model_unref(m);
    }
    free(ref);
    case_data_free(&d);
    fr_cpu_set_isa(FR_ISA_AVX512);
}

static void run_conv_cases(int kind, const char *name, uint32_t seed, int n_cases) {
    struct conv_stats st;
    memset(&st, 0, sizeof st);
    size_t mem0 = fr_mem_used();
    double t0 = fr_time_ms();
    rng_seed(seed);
    for (int i = 0; i < n_cases; i++) {
        struct conv_cfg c;
        gen_cfg(kind, &c);
        run_conv_case(&c, &st);
    }
    fr_cpu_set_isa(FR_ISA_AVX512);
    printf("conv %-8s %d cases, %d runs (avx512 %d, avx2 %d, ref %d), %d failed (avx512 %d, avx2 %d, ref %d); "
           "methods: dw %d (dw3x3 %d), gemm %d (packed %d, 1x1 direct %d), c3 %d (packed %d), ref %d; "
           "bn %d, act none/relu/prelu/leaky/clip %d/%d/%d/%d/%d, batch 2: %d; %.0f ms\n",
           name, st.cases, st.runs, st.isa_runs[FR_ISA_AVX512], st.isa_runs[FR_ISA_AVX2], st.isa_runs[FR_ISA_REF],
           st.fails, st.isa_fails[FR_ISA_AVX512], st.isa_fails[FR_ISA_AVX2], st.isa_fails[FR_ISA_REF],
           st.method[FR_CONV_DW], st.dw3x3, st.method[FR_CONV_GEMM], st.pw_packed, st.pw_direct, st.method[FR_CONV_C3],
           st.c3_packed, st.method[FR_CONV_REF], st.bn, st.act[0], st.act[1], st.act[2], st.act[3], st.act[4],
           st.batch2, fr_time_ms() - t0);
    fflush(stdout);
    assert_int_equal(fr_mem_used(), mem0);          /* models and sessions freed */
    assert_int_equal(st.fails, 0);
}

static void test_conv_general(void **state) {
    (void)state;
    run_conv_cases(KIND_GENERAL, "general", 0x9e3779b9u, 500);
}

static void test_conv_depthwise(void **state) {
    (void)state;
    run_conv_cases(KIND_DW, "dw", 0x85ebca6bu, 250);
}

static void test_conv_3x3(void **state) {
    (void)state;
    run_conv_cases(KIND_C3, "c3", 0xc2b2ae35u, 250);
}

static void test_conv_pointwise(void **state) {
    (void)state;
    run_conv_cases(KIND_PW, "1x1", 0x27d4eb2fu, 150);
}

/* Hand-picked edges: one-pixel planes, kernels as wide as the padded input,
 * widths around the vector widths, many channels for the 2-thread splits. */
static void test_conv_edges(void **state) {
    (void)state;
    static const struct conv_cfg edges[] = {
        { .n = 1, .c = 1, .m = 1, .h = 1, .w = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .group = 1 },
        { .n = 1, .c = 3, .m = 3, .h = 1, .w = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1,
          .pb = 1, .pr = 1, .group = 3, .bias = true, .act = FR_ACT_PRELU },
        { .n = 2, .c = 8, .m = 5, .h = 1, .w = 1, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 2, .pl = 2,
          .pb = 2, .pr = 2, .group = 1, .bias = true, .act = FR_ACT_CLIP },
        { .n = 1, .c = 16, .m = 16, .h = 2, .w = 33, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 0,
          .pl = 0, .pb = 2, .pr = 2, .group = 16, .bias = true, .act = FR_ACT_LEAKY, .bn = true },
        { .n = 1, .c = 17, .m = 13, .h = 5, .w = 40, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 3, .dw = 3, .pt = 2,
          .pl = 2, .pb = 0, .pr = 1, .group = 1, .bias = false, .act = FR_ACT_RELU, .bn = true },
        { .n = 2, .c = 32, .m = 24, .h = 3, .w = 17, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .group = 1,
          .bias = true, .act = FR_ACT_PRELU },
        { .n = 1, .c = 2, .m = 4, .h = 7, .w = 7, .kh = 7, .kw = 7, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .group = 1,
          .bias = true },
        { .n = 1, .c = 32, .m = 32, .h = 40, .w = 40, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1,
          .pl = 1, .pb = 1, .pr = 1, .group = 32, .bias = true, .act = FR_ACT_RELU },
        { .n = 1, .c = 32, .m = 32, .h = 40, .w = 40, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 0,
          .pl = 0, .pb = 1, .pr = 1, .group = 32, .bias = true, .act = FR_ACT_CLIP },
        { .n = 1, .c = 8, .m = 24, .h = 20, .w = 40, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1,
          .pl = 1, .pb = 1, .pr = 1, .group = 1, .bias = true, .act = FR_ACT_PRELU, .bn = true },
        { .n = 1, .c = 3, .m = 16, .h = 40, .w = 40, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 2, .dw = 2, .pt = 2,
          .pl = 2, .pb = 2, .pr = 2, .group = 1, .bias = true, .act = FR_ACT_LEAKY },
        { .n = 1, .c = 1, .m = 24, .h = 1, .w = 40, .kh = 1, .kw = 3, .sh = 1, .sw = 2, .dh = 1, .dw = 1, .pl = 1,
          .pr = 2, .group = 1, .bias = true, .act = FR_ACT_RELU },
    };
    struct conv_stats st;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        struct conv_cfg c = edges[i];
        c.seed = 1000u + (uint32_t)i;
        run_conv_case(&c, &st);
    }
    printf("conv edges    %d cases, %d runs, %d failed\n", st.cases, st.runs, st.fails);
    assert_int_equal(st.fails, 0);
}

/* ---- gather_row ---- */

/* A buffer of n floats that ends (at_end) or starts right at a PROT_NONE page. */
struct guarded {
    void *map;
    size_t map_len;
    float *p;
};

static void guarded_new(struct guarded *g, size_t n, bool at_end) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (n * sizeof(float) + page - 1) / page * page;
    if (!data) data = page;
    g->map_len = data + 2 * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    char *base = g->map;
    assert_int_equal(mprotect(base, page, PROT_NONE), 0);
    assert_int_equal(mprotect(base + page + data, page, PROT_NONE), 0);
    g->p = at_end ? (float *)(void *)(base + page + data - n * sizeof(float)) : (float *)(void *)(base + page);
}

static void guarded_free(struct guarded *g) { munmap(g->map, g->map_len); }

#define GUARD_FLOATS 40
#define SENTINEL (-12345.5f)

static void test_gather_row(void **state) {
    (void)state;
    struct guarded gb[2];
    float dst[70 + GUARD_FLOATS], want[70];
    int tables = 0, checked = 0, fails = 0;
    for (int ti = 0; ti < 3; ti++) {
        int isa = all_isas[ti];
        if (!isa_supported(isa)) continue;
        const struct fr_kern *k = isa_table(isa);
        if (!k->gather_row) continue;
        tables++;
        for (int len = 0; len <= 70; len++) {
            for (int place = 0; place < 2; place++) {
                guarded_new(&gb[place], (size_t)len, place == 0);
                for (int i = 0; i < len; i++) gb[place].p[i] = 1.0f + (float)i;
            }
            for (int s = 1; s <= 3; s++)
                for (int start = -20; start <= 20; start++)
                    for (int n = 0; n <= 70; n++)
                        for (int place = 0; place < 2; place++) {
                            const float *row = gb[place].p;
                            fr_kern_ref.gather_row(row, len, start, s, n, want);
                            for (int i = 0; i < n + GUARD_FLOATS; i++) dst[i] = SENTINEL;
                            k->gather_row(row, len, start, s, n, dst);
                            checked++;
                            bool ok = true;
                            for (int i = 0; i < n; i++) {
                                int xi = start + i * s;
                                float def = xi >= 0 && xi < len ? 1.0f + (float)xi : 0.0f;
                                if (dst[i] != want[i] || want[i] != def) ok = false;
                            }
                            for (int i = n; i < n + GUARD_FLOATS; i++)
                                if (dst[i] != SENTINEL) ok = false;
                            if (!ok && fails++ < 10)
                                fprintf(stderr, "gather_row %s: len %d start %d s %d n %d: wrong (or wrote past n)\n",
                                        k->isa, len, start, s, n);
                        }
            for (int place = 0; place < 2; place++) guarded_free(&gb[place]);
        }
    }
    printf("gather_row    %d tables, %d calls, %d failed\n", tables, checked, fails);
    fr_cpu_set_isa(FR_ISA_AVX512);
    assert_int_equal(fails, 0);
}

/* ---- pw: the packed conv GEMM microkernel ---- */

static void test_pw(void **state) {
    (void)state;
    int tables = 0, checked = 0, fails = 0;
    float slope[40], bias[40];
    rng_seed(0x165667b1u);
    for (int i = 0; i < 40; i++) {
        slope[i] = rnd_float(-0.3f, 0.6f);
        bias[i] = rnd_float(-0.5f, 0.5f);
    }
    for (int ti = 0; ti < 3; ti++) {
        int isa = all_isas[ti];
        if (!isa_supported(isa)) continue;
        const struct fr_kern *kt = isa_table(isa);
        if (!kt->pw) continue;
        tables++;
        for (int m = 1; m <= 30; m++)
            for (int cols = 1; cols <= 70; cols++) {
                int k = (m * 7 + cols * 3) % 40 + 1;          /* every k over the grid */
                if (rnd() % 8 == 0) k = rnd_int(1, 40);
                int ldx = cols + (rnd() % 2 ? 0 : rnd_int(1, 9)), ldy = cols + (rnd() % 2 ? 0 : rnd_int(1, 9));
                int o_base = rnd_int(0, 9), act = (int)(rnd() % 5);
                bool has_bias = rnd() % 4 != 0;
                struct fr_kern_act a = { .act = act, .alpha = rnd_float(0.01f, 0.4f), .lo = rnd_float(-0.6f, -0.1f),
                                         .hi = rnd_float(0.2f, 0.9f), .slope = slope };
                float *w = malloc((size_t)m * (size_t)k * sizeof(float));
                float *wp = malloc(fr_kern_pack_pw_size(m, k, kt->pw_mr) * sizeof(float));
                assert_true(w && wp);
                float ws = sqrtf(3.0f / (float)k);
                for (int i = 0; i < m * k; i++) w[i] = rnd_float(-ws, ws);
                fr_kern_pack_pw(w, m, k, kt->pw_mr, wp);
                /* x: k rows of ldx, ending at a guard page; y: m rows of ldy + guard */
                struct guarded gx;
                size_t nx = (size_t)(k - 1) * (size_t)ldx + (size_t)cols;
                guarded_new(&gx, nx, true);
                for (size_t i = 0; i < nx; i++) gx.p[i] = rnd_float(-1.0f, 1.0f);
                size_t ny = (size_t)m * (size_t)ldy + GUARD_FLOATS;
                float *y = malloc(ny * sizeof(float));
                assert_non_null(y);
                for (size_t i = 0; i < ny; i++) y[i] = SENTINEL;
                kt->pw(wp, gx.p, (size_t)ldx, y, (size_t)ldy, m, k, cols, has_bias ? bias : NULL, o_base, &a);
                checked++;
                int bad = 0;
                float got0 = 0, want0 = 0;
                for (int r = 0; r < m; r++)
                    for (int col = 0; col < ldy; col++) {
                        float got = y[(size_t)r * ldy + (size_t)col], want = SENTINEL;
                        if (col < cols) {
                            double acc = 0;
                            for (int kk = 0; kk < k; kk++)
                                acc += (double)w[(size_t)r * k + (size_t)kk] * (double)gx.p[(size_t)kk * ldx + (size_t)col];
                            int o = o_base + r;
                            float v = (float)acc + (has_bias ? bias[o] : 0.0f);
                            want = act_ref(v, act, a.alpha, a.lo, a.hi, slope[o]);
                        }
                        if (col < cols ? !close_enough(got, want) : got != want) {
                            if (!bad++) { got0 = got; want0 = want; }
                        }
                    }
                for (size_t i = (size_t)m * (size_t)ldy; i < ny; i++)
                    if (y[i] != SENTINEL) bad++;
                if (bad && fails++ < 10)
                    fprintf(stderr, "pw %s (mr %d): m %d k %d cols %d ldx %d ldy %d o_base %d act %s bias %d: %d wrong (got %.7g want %.7g)\n",
                            kt->isa, kt->pw_mr, m, k, cols, ldx, ldy, o_base, act_names[act], has_bias, bad,
                            (double)got0, (double)want0);
                guarded_free(&gx);
                free(y);
                free(w);
                free(wp);
            }
    }
    printf("pw            %d tables, %d calls, %d failed\n", tables, checked, fails);
    fr_cpu_set_isa(FR_ISA_AVX512);
    assert_int_equal(fails, 0);
}

/* fr_kern_pack_pw / fr_kern_pack_c3 layouts, which the kernels rely on. */
static void test_pack_layouts(void **state) {
    (void)state;
    float w[13 * 5 * 9], out[24 * 5 * 9];
    for (int i = 0; i < 13 * 5 * 9; i++) w[i] = (float)(i + 1);
    for (int mr = 1; mr <= 12; mr++) {
        int m = 13, k = 5 * 9;
        size_t sz = fr_kern_pack_pw_size(m, k, mr);
        assert_true(sz <= sizeof out / sizeof out[0]);
        assert_int_equal(sz, (size_t)((m + mr - 1) / mr * mr * k));
        fr_kern_pack_pw(w, m, k, mr, out);
        for (int ob = 0; ob < m; ob += mr)
            for (int kk = 0; kk < k; kk++)
                for (int r = 0; r < mr; r++) {
                    float want = ob + r < m ? w[(ob + r) * k + kk] : 0.0f;
                    assert_true(out[(size_t)ob * k + (size_t)kk * mr + (size_t)r] == want);
                }
    }
    /* [ceil(m/ob)][c][9][ob] for the block widths of the kernel tables */
    for (int ob = 1; ob <= 8; ob++) {
        size_t sz = fr_kern_pack_c3_size(13, 5, ob);
        assert_int_equal(sz, (size_t)((13 + ob - 1) / ob * ob) * 5 * 9);
        assert_true(sz <= sizeof out / sizeof out[0]);
        fr_kern_pack_c3(w, 13, 5, ob, out);
        for (int o0 = 0; o0 < 13; o0 += ob)
            for (int ch = 0; ch < 5; ch++)
                for (int t = 0; t < 9; t++)
                    for (int j = 0; j < ob; j++) {
                        float want = o0 + j < 13 ? w[((o0 + j) * 5 + ch) * 9 + t] : 0.0f;
                        assert_true(out[(((size_t)(o0 / ob) * 5 + (size_t)ch) * 9 + (size_t)t) * (size_t)ob + (size_t)j] == want);
                    }
    }
    /* the tables that have c3_run say how they want it packed */
    for (int ti = 0; ti < 3; ti++) {
        const struct fr_kern *k = isa_table(all_isas[ti]);
        if (k->c3_run) assert_true(k->c3_ob >= 1 && k->c3_ob <= 16);
    }
}

/* ---- pooling and vector maths: each ISA table against the portable one ---- */

/* The table of isa when this CPU has it, else NULL. */
static const struct fr_kern *cpu_table(int isa) {
    fr_cpu_set_isa(isa);
    const struct fr_kern *k = fr_cpu_isa() == isa ? fr_kern_get() : NULL;
    fr_cpu_set_isa(FR_ISA_AVX512);
    return k;
}

static void test_pool2d(void **state) {
    (void)state;
    rng_seed(77);
    const struct fr_kern *fast[2] = { cpu_table(FR_ISA_AVX512), cpu_table(FR_ISA_AVX2) };
    int cases = 0;
    for (int it = 0; it < 3000; it++) {
        struct fr_pool2d_args a;
        memset(&a, 0, sizeof a);
        a.ih = rnd_int(1, 40);
        a.iw = rnd_int(1, 70);
        a.kh = rnd_int(1, 4);
        a.kw = rnd_int(1, 4);
        a.sh = rnd_int(1, 3);
        a.sw = rnd_int(1, 3);
        a.dh = a.dw = 1;
        if (rnd() % 4 == 0) { a.dh = 2; a.dw = rnd_int(1, 2); }
        a.pt = rnd_int(0, a.kh - 1);
        a.pl = rnd_int(0, a.kw - 1);
        a.pb = rnd_int(0, a.kh - 1);
        a.pr = rnd_int(0, a.kw - 1);
        int sh = a.ih + a.pt + a.pb - ((a.kh - 1) * a.dh + 1), sw = a.iw + a.pl + a.pr - ((a.kw - 1) * a.dw + 1);
        if (sh < 0 || sw < 0) continue;
        a.oh = sh / a.sh + 1;
        a.ow = sw / a.sw + 1;
        a.is_max = (int)(rnd() & 1);
        a.include_pad = (int)(rnd() & 1);
        float *in = malloc(sizeof(float) * (size_t)(a.ih * a.iw));
        float *ref = malloc(sizeof(float) * (size_t)(a.oh * a.ow)), *got = malloc(sizeof(float) * (size_t)(a.oh * a.ow));
        float *scratch = malloc(sizeof(float) * (size_t)(2 * a.ow + 16));
        for (int i = 0; i < a.ih * a.iw; i++) in[i] = rnd_float(-3.0f, 3.0f);
        a.in = in;
        a.scratch = scratch;
        a.out = ref;
        fr_kern_ref.pool2d(&a);
        for (int f = 0; f < 2; f++) {
            if (!fast[f]) continue;
            a.out = got;
            fast[f]->pool2d(&a);
            for (int i = 0; i < a.oh * a.ow; i++)
                if (!(fabsf(got[i] - ref[i]) <= 1e-5f + 1e-5f * fabsf(ref[i]))) {
                    fprintf(stderr, "pool2d %s: %dx%d k%dx%d s%dx%d d%dx%d pads %d,%d,%d,%d max %d incl %d: [%d] %g vs %g\n",
                            fast[f]->isa, a.ih, a.iw, a.kh, a.kw, a.sh, a.sw, a.dh, a.dw, a.pt, a.pl, a.pb, a.pr,
                            a.is_max, a.include_pad, i, (double)got[i], (double)ref[i]);
                    fail();
                }
            cases++;
        }
        free(in); free(ref); free(got); free(scratch);
    }
    printf("pool2d: %d comparisons\n", cases);
}

/* equal within a few ulp (relative) or 2e-7 absolute; inf and NaN exactly */
static bool same_math(float a, float b) {
    if (isnan(b)) return isnan(a);
    if (isinf(b)) return a == b;
    return fabsf(a - b) <= 2e-7f + 2e-6f * fabsf(b);
}

static void test_vmath(void **state) {
    (void)state;
    const struct fr_kern *fast[2] = { cpu_table(FR_ISA_AVX512), cpu_table(FR_ISA_AVX2) };
    enum { N = 20011 };
    static float x[N], ref[N], got[N];
    static const int ops[3] = { FR_OP_EXP, FR_OP_TANH, FR_OP_SIGMOID };
    rng_seed(5);
    for (int i = 0; i < N; i++) x[i] = i < 40 ? (float)(i - 20) * 5.0f : rnd_float(-30.0f, 30.0f);
    x[0] = -200.0f;
    x[1] = 200.0f;
    x[2] = 1e-6f;
    x[3] = -1e-6f;
    x[4] = 88.7f;      /* exp near FLT_MAX: finite */
    x[5] = 89.0f;      /* exp overflows: +inf */
    x[6] = NAN;
    for (int o = 0; o < 3; o++) {
        fr_kern_ref.vmath(ops[o], x, ref, N);
        for (int f = 0; f < 2; f++) {
            if (!fast[f]) continue;
            for (size_t n = 0; n <= 40; n += 13) {     /* short lengths: the masked tails */
                memset(got, 0, sizeof got);
                fast[f]->vmath(ops[o], x, got, n);
                for (size_t i = 0; i < n; i++) assert_true(same_math(got[i], ref[i]));
                for (size_t i = n; i < n + 4 && i < N; i++) assert_true(got[i] == 0.0f);   /* nothing past n */
            }
            fast[f]->vmath(ops[o], x, got, N);
            for (int i = 0; i < N; i++)
                if (!same_math(got[i], ref[i])) {
                    fprintf(stderr, "vmath %s op %d: x %g: %g vs %g\n", fast[f]->isa, ops[o], (double)x[i],
                            (double)got[i], (double)ref[i]);
                    fail();
                }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool2d),
        cmocka_unit_test(test_vmath),
        cmocka_unit_test(test_pack_layouts),
        cmocka_unit_test(test_gather_row),
        cmocka_unit_test(test_pw),
        cmocka_unit_test(test_conv_edges),
        cmocka_unit_test(test_conv_general),
        cmocka_unit_test(test_conv_depthwise),
        cmocka_unit_test(test_conv_3x3),
        cmocka_unit_test(test_conv_pointwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
