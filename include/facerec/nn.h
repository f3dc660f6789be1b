/* facerec — the inference engine (ONNX models, float32, CPU).
 *
 * A model is loaded once, optimized for its fixed input shapes, and is then
 * read-only: any number of sessions (one per thread) run it at once, each with
 * its own activation arena and optional intra-op thread pool. */
#ifndef FACEREC_NN_H
#define FACEREC_NN_H

#include "facerec/base.h"

#define FR_NN_MAX_DIMS 8

/* Element types, numbered as ONNX TensorProto.DataType. */
enum fr_dtype {
    FR_DTYPE_UNDEFINED = 0, FR_DTYPE_FLOAT = 1, FR_DTYPE_UINT8 = 2, FR_DTYPE_INT8 = 3,
    FR_DTYPE_UINT16 = 4, FR_DTYPE_INT16 = 5, FR_DTYPE_INT32 = 6, FR_DTYPE_INT64 = 7,
    FR_DTYPE_STRING = 8, FR_DTYPE_BOOL = 9, FR_DTYPE_FLOAT16 = 10, FR_DTYPE_DOUBLE = 11,
    FR_DTYPE_UINT32 = 12, FR_DTYPE_UINT64 = 13
};

struct fr_tensor {
    int32_t dtype;                  /* enum fr_dtype */
    int32_t ndim;
    int64_t dims[FR_NN_MAX_DIMS];
    void *data;
};

FR_API size_t fr_dtype_size(int dtype);            /* 0 for unsupported types */
FR_API const char *fr_dtype_name(int dtype);
FR_API int64_t fr_tensor_numel(const struct fr_tensor *t);
FR_API size_t fr_tensor_bytes(const struct fr_tensor *t);

/* Loader limits; zero fields take the defaults in brackets. */
struct fr_nn_limits {
    size_t max_file_bytes;          /* [1 GiB] */
    int64_t max_tensor_elems;       /* [256 Mi] for one tensor */
    int max_nodes;                  /* [100000] */
    int max_depth;                  /* [64] nesting of protobuf messages */
    size_t max_arena_bytes;         /* [4 GiB] activations + scratch of one session */
    int64_t max_macs;               /* [2^40] multiply-accumulates of one run */
};

struct fr_nn_named_tensor {
    const char *name;
    const struct fr_tensor *t;      /* borrowed for the duration of the call */
};

struct fr_nn_load_opts {
    struct fr_nn_limits limits;
    /* Graph inputs fixed to a value: they become constants (and may fold).
     * Used to pin shape-carrying inputs, e.g. by the conformance runner. */
    const struct fr_nn_named_tensor *consts;
    int n_consts;
    /* Shapes for graph inputs whose declared shape has symbolic dims. */
    const struct fr_nn_named_tensor *shapes;
    int n_shapes;
    int no_optimize;                /* skip BN folding and activation fusion */
};

struct fr_nn_model;
struct fr_nn_session;

FR_API int fr_nn_model_load(const char *path, const struct fr_nn_load_opts *opts,
                            struct fr_nn_model **model_out);
FR_API int fr_nn_model_load_mem(const void *buf, size_t len, const struct fr_nn_load_opts *opts,
                                struct fr_nn_model **model_out);
FR_API void fr_nn_model_ref(struct fr_nn_model *m);
FR_API void fr_nn_model_unref(struct fr_nn_model *m);   /* frees at zero; NULL ok */

FR_API int fr_nn_model_n_inputs(const struct fr_nn_model *m);
FR_API int fr_nn_model_n_outputs(const struct fr_nn_model *m);
/* Name and shape (data NULL) of graph input/output i. */
FR_API const char *fr_nn_model_input(const struct fr_nn_model *m, int i, struct fr_tensor *shape_out);
FR_API const char *fr_nn_model_output(const struct fr_nn_model *m, int i, struct fr_tensor *shape_out);
FR_API int fr_nn_model_input_index(const struct fr_nn_model *m, const char *name);  /* -1 if none */

struct fr_nn_info {
    int opset;
    int n_nodes;                    /* after optimization */
    int n_nodes_onnx;               /* as in the file */
    int64_t n_params;               /* elements of all initializers */
    int64_t macs;                   /* multiply-accumulates of Conv/Gemm/MatMul */
    size_t arena_bytes;             /* peak activation + scratch bytes of a session */
    int op_counts[64];              /* per enum fr_op, after optimization */
};
FR_API void fr_nn_model_info(const struct fr_nn_model *m, struct fr_nn_info *info_out);
FR_API int fr_nn_op_count(void);
FR_API const char *fr_nn_op_name(int op);

/* A session: n_threads >= 1 runs each op on that many threads. */
FR_API int fr_nn_session_new(struct fr_nn_model *m, int n_threads, struct fr_nn_session **s_out);
FR_API void fr_nn_session_free(struct fr_nn_session *s);
/* inputs[i] is graph input i (shape and dtype must match exactly).
 * outputs[i] receives graph output i; its data points into the session and
 * stays valid until the next run or free. */
FR_API int fr_nn_session_run(struct fr_nn_session *s, const struct fr_tensor *inputs,
                             struct fr_tensor *outputs);
/* Nodes with fewer multiply-accumulates than this run on the calling
 * thread alone (default 16M: waking a worker costs more than they do).
 * 0 sends every node to the pool, which tests use. */
FR_API void fr_nn_session_set_parallel_min(struct fr_nn_session *s, int64_t macs);
/* Per-node timing, when enabled, accumulated over runs (ms). */
FR_API void fr_nn_session_profile(struct fr_nn_session *s, int enable);
FR_API int fr_nn_session_profile_get(const struct fr_nn_session *s, int i, const char **op_name,
                                     const char **node_desc, double *ms_total);

/* NumPy .npy (float32 / int64, little-endian, C order). */
FR_API int fr_npy_load(const char *path, struct fr_tensor *t_out);   /* t_out->data fr_malloc'd */
FR_API int fr_npy_save(const char *path, const struct fr_tensor *t);

/* A serialized onnx TensorProto (as in test_data_set_N/input_0.pb). */
FR_API int fr_nn_tensor_proto_load(const void *buf, size_t len, struct fr_tensor *t_out,
                                   char **name_out);

/* Deterministic test input: xorshift32 from seed, uniform in [lo, hi).
 * tools/ort_golden.js produces the same numbers for the golden files. */
FR_API void fr_nn_fill_pattern(struct fr_tensor *t, uint32_t seed, float lo, float hi);

#endif
