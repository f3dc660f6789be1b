/* facerec engine internals: the graph, the op table and helpers shared by
 * the files of src/nn, src/nn/ops and src/nn/kern. Not a public header. */
#ifndef FR_NN_INT_H
#define FR_NN_INT_H

#include "facerec/nn.h"
#include "../base/pool.h"

#include <stdbool.h>
#include <string.h>

#define FR_NN_MAX_IO 64          /* inputs or outputs of one node */

enum fr_op {
#define OP(e, name, shape, run) FR_OP_##e,
#include "ops.def"
#undef OP
    FR_OP_COUNT
};

/* ONNX AttributeProto.AttributeType */
enum fr_attr_type {
    FR_ATTR_FLOAT = 1, FR_ATTR_INT = 2, FR_ATTR_STRING = 3, FR_ATTR_TENSOR = 4,
    FR_ATTR_FLOATS = 6, FR_ATTR_INTS = 7
};

struct fr_nn_attr {
    char *name;
    int type;
    float f;
    int64_t i;
    char *s;                     /* NUL-terminated copy */
    int64_t *ints;
    float *floats;
    int n;                       /* count of ints or floats */
    struct fr_tensor t;          /* FR_ATTR_TENSOR; data owned */
};

struct fr_nn_value {
    char *name;
    struct fr_tensor t;          /* dtype + dims always; data for constants (owned) */
    bool is_const, is_input, is_output;
    int producer;                /* node index, -1 for inputs and constants */
    int n_uses;                  /* live consumer nodes */
    int last_use;                /* position in exec order of the last consumer */
    int alias;                   /* root value whose buffer this one lives in, or -1 */
    size_t alias_off;            /* byte offset of this value in the root's buffer */
    size_t offset;               /* in the session arena (activations), roots only */
};

enum fr_act { FR_ACT_NONE = 0, FR_ACT_RELU, FR_ACT_PRELU, FR_ACT_LEAKY, FR_ACT_CLIP };

struct fr_nn_node {
    int op;                      /* enum fr_op */
    char *name;
    int n_in, n_out;
    int *in, *out;               /* value indices; -1 = optional input left out */
    int n_attrs;
    struct fr_nn_attr *attrs;
    void *params;                /* op-specific, set by the shape fn, fr_free'd */
    size_t scratch_bytes;        /* scratch shared by the node's threads */
    size_t scratch_thread_bytes; /* plus this much for each thread */
    int64_t macs;
    char desc[48];               /* for profiles: "3x3/2 dw", "1x1 gemm" */
    bool dead;                   /* folded or fused away */
    bool alias_out0;             /* output 0 may share input 0's buffer (reshape-like) */
};

/* Conv parameters (set by op_conv_shape, changed by the fusion passes).
 * Inputs: 0 X, 1 W, 2 B (optional), 3 PRelu slope (fused, optional),
 * 4 W packed for the GEMM microkernel (prepack pass, optional). */
struct fr_conv_params {
    int nd;                      /* spatial dims, 1..3 */
    int64_t k[3], s[3], d[3], pb[3], pe[3];   /* kernel, strides, dilations, pads begin/end */
    int64_t group;
    int act;                     /* enum fr_act applied after bias */
    float alpha, lo, hi;         /* LeakyRelu slope; Clip bounds */
    int method;                  /* enum fr_conv_method, chosen at load */
    int pw_mr;                   /* weights packed for fr_kern.pw in input 4, or 0 */
    int c3_ob;                   /* FR_CONV_C3: input 4 is packed for c3_run blocks of c3_ob, or 0 */
};

/* BatchNormalization parameters: a Relu after it may be fused (passes.c). */
struct fr_bn_params { bool relu; };

enum fr_conv_method { FR_CONV_REF = 0, FR_CONV_GEMM, FR_CONV_DW, FR_CONV_C3 };

struct fr_nn_model {
    int refcount;
    int opset;
    int n_values, cap_values;
    struct fr_nn_value *values;
    int n_nodes, cap_nodes;
    struct fr_nn_node *nodes;
    int n_nodes_onnx;
    int n_inputs, n_outputs;
    int *inputs, *outputs;       /* value indices */
    int n_order;
    int *order;                  /* live nodes in execution order */
    size_t arena_bytes;
    size_t scratch_bytes;        /* largest node scratch at one thread */
    int64_t n_params;
    struct fr_nn_limits limits;
};

/* What a run fn sees. in[i] is NULL for a left-out optional input. */
struct fr_nn_exec {
    const struct fr_tensor *in[FR_NN_MAX_IO];
    struct fr_tensor *out[FR_NN_MAX_IO];
    int n_in, n_out;
    void *scratch;               /* scratch_bytes shared, then one 64-aligned
                                    slice of scratch_thread_bytes per thread:
                                    fr__nn_scratch_thread(n, x, tid) */
    struct fr_pool *pool;
    int n_threads;
};

typedef int (*fr_nn_shape_fn)(struct fr_nn_model *m, struct fr_nn_node *n);
typedef int (*fr_nn_run_fn)(const struct fr_nn_node *n, struct fr_nn_exec *x);

struct fr_nn_op_def {
    const char *name;
    fr_nn_shape_fn shape;
    fr_nn_run_fn run;
};
extern const struct fr_nn_op_def fr__nn_ops[FR_OP_COUNT];

#define OP(e, name, shape, run) int shape(struct fr_nn_model *m, struct fr_nn_node *n);
#include "ops.def"
#undef OP
#define OP(e, name, shape, run) int run(const struct fr_nn_node *n, struct fr_nn_exec *x);
#include "ops.def"
#undef OP

/* --- helpers for shape fns (src/nn/graph.c) --- */
/* Input i's value, or NULL when left out / absent. */
struct fr_nn_value *fr__nn_in(struct fr_nn_model *m, const struct fr_nn_node *n, int i);
struct fr_nn_value *fr__nn_out(struct fr_nn_model *m, const struct fr_nn_node *n, int i);
const struct fr_nn_attr *fr__nn_attr(const struct fr_nn_node *n, const char *name);
int64_t fr__nn_attr_int(const struct fr_nn_node *n, const char *name, int64_t def);
float fr__nn_attr_float(const struct fr_nn_node *n, const char *name, float def);
const char *fr__nn_attr_str(const struct fr_nn_node *n, const char *name, const char *def);
/* ints attribute: count in *n_out, NULL (count 0) when absent. */
const int64_t *fr__nn_attr_ints(const struct fr_nn_node *n, const char *name, int *n_out);
/* Read a constant int64/int32 1-D input (shape, axes, pads ...) into out[max];
 * returns the count, or a negative error when the input is not constant. */
int fr__nn_const_ints(struct fr_nn_model *m, const struct fr_nn_node *n, int i, int64_t *out, int max);
/* An error that names the node. */
int fr__nn_node_err(const struct fr_nn_node *n, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Check input count and dtypes: n_min..n_max inputs; float-only when float_only. */
int fr__nn_check_inputs(struct fr_nn_model *m, const struct fr_nn_node *n, int n_min, int n_max);
int fr__nn_set_out(struct fr_nn_model *m, const struct fr_nn_node *n, int i, int dtype, int ndim,
                   const int64_t *dims);
/* Numpy broadcast of a and b into out; error when incompatible. */
int fr__nn_broadcast(const struct fr_tensor *a, const struct fr_tensor *b, struct fr_tensor *out);
/* Normalise an axis in [-r, r) to [0, r); -1 when out of range. */
int fr__nn_axis(int64_t axis, int rank);

static inline void *fr__nn_scratch_thread(const struct fr_nn_node *n, const struct fr_nn_exec *x, int tid) {
    size_t shared = (n->scratch_bytes + 63) & ~(size_t)63;
    size_t slice = (n->scratch_thread_bytes + 63) & ~(size_t)63;
    return (char *)x->scratch + shared + slice * (size_t)tid;
}
static inline size_t fr__nn_scratch_total(const struct fr_nn_node *n, int n_threads) {
    return ((n->scratch_bytes + 63) & ~(size_t)63) + ((n->scratch_thread_bytes + 63) & ~(size_t)63) * (size_t)n_threads;
}

/* --- loader / graph (onnx.c, graph.c) --- */
int fr__nn_model_new(struct fr_nn_model **m_out);
int fr__nn_value_add(struct fr_nn_model *m, const char *name, int *idx_out);
int fr__nn_node_add(struct fr_nn_model *m, int *idx_out);
int fr__nn_model_finish(struct fr_nn_model *m, const struct fr_nn_load_opts *opts);
int fr__nn_tensor_check(const struct fr_tensor *t, const struct fr_nn_limits *lim);

/* --- optimizer passes (passes.c) --- */
int fr__nn_pass_fold_pad(struct fr_nn_model *m);
int fr__nn_pass_fold_bn(struct fr_nn_model *m);
int fr__nn_pass_fuse_act(struct fr_nn_model *m);
int fr__nn_pass_prepack(struct fr_nn_model *m);
int fr__nn_plan_memory(struct fr_nn_model *m);

#endif
