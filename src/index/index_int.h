/* Index internals shared by the files of src/index: the implementation vtable that
 * every kind of index fills (exact today, FAISS HNSW later), the top-k
 * selection, and the per-ISA dot-product kernels. */
#ifndef FR_INDEX_INT_H
#define FR_INDEX_INT_H

#include "facerec/index.h"

#include <stdbool.h>

/* What an index kind implements. The public fr_index_* functions check
 * arguments (non-NULL, finite vectors, k >= 1) before calling these, so
 * implementations only deal with valid input. */
struct fr_index_ops {
    const char *name;   /* "exact" */
    int kind;           /* stored in snapshots (FR__INDEX_KIND_*) */
    int (*add)(fr_index *ix, int64_t id, int64_t label, const float *vec);
    int (*remove)(fr_index *ix, int64_t id);
    int (*reserve)(fr_index *ix, size_t n);
    size_t (*size)(const fr_index *ix);
    /* row i in [0, size): storage order, which adds and removes change */
    void (*row)(const fr_index *ix, size_t i, int64_t *id, int64_t *label, const float **vec);
    /* -FR_E_NOT_FOUND if absent */
    int (*get)(const fr_index *ix, int64_t id, int64_t *label, const float **vec);
    int (*search)(const fr_index *ix, const float *queries, int nq, int k, float min_score, unsigned flags,
                  struct fr_hit *hits, int *nhits);
    void (*free)(fr_index *ix);
};

enum { FR__INDEX_KIND_EXACT = 1 };

/* The common head of every index; implementations embed it first. */
struct fr_index {
    const struct fr_index_ops *ops;
    int dim;
};

int fr__index_exact_new(int dim, fr_index **out);

/* ---- id → row map (idmap.c) ---- */
struct fr_idmap_slot {
    int64_t id;
    int64_t row;        /* -1: empty */
};
struct fr_idmap {
    struct fr_idmap_slot *slots;
    size_t cap;         /* a power of two, or 0 before the first reserve */
    size_t n;
};
void fr__idmap_free(struct fr_idmap *m);
/* Room for n entries in all (put never allocates); on failure m is unchanged. */
int fr__idmap_reserve(struct fr_idmap *m, size_t n);
int64_t fr__idmap_get(const struct fr_idmap *m, int64_t id);   /* -1 if absent */
void fr__idmap_put(struct fr_idmap *m, int64_t id, int64_t row);  /* insert or update */
void fr__idmap_del(struct fr_idmap *m, int64_t id);

/* ---- Top-k selection (topk.c) ----
 * A bounded min-heap of the k best hits so far, kept in the caller's output
 * slots (so a search allocates nothing for it): the root is the worst kept
 * hit, and a candidate enters only if it beats the root. "Beats" is the
 * result order: higher score, then smaller id. In per-label mode the heap
 * holds one entry per label, its best row. */
struct fr_topk {
    struct fr_hit *h;   /* k slots */
    int k, n;
    bool per_label;
    float bar;          /* scores below this cannot enter: min_score, then the root's score once full */
};

void fr__topk_init(struct fr_topk *t, struct fr_hit *slots, int k, float min_score, bool per_label);
/* Offers one row; call only when score >= t->bar (the cheap test inlined by callers). */
void fr__topk_offer(struct fr_topk *t, float score, int64_t id, int64_t label);
/* Sorts the kept hits best first; returns their number. */
int fr__topk_finish(struct fr_topk *t);

/* Offers n scored rows (ids[i], labels[i] belong to scores[i]). */
static inline void fr__topk_scan(struct fr_topk *t, const float *scores, size_t n, const int64_t *ids,
                                 const int64_t *labels) {
    for (size_t i = 0; i < n; i++)
        if (scores[i] >= t->bar) fr__topk_offer(t, scores[i], ids[i], labels[i]);
}

/* ---- Dot-product kernels (dot.c, dot_avx2.c, dot_avx512.c) ----
 * out[i] = dot(q, m + i·stride) over dim floats, for i < n. Rows need no
 * alignment; dim need not be a multiple of the vector width. */
typedef void (*fr__index_dot_fn)(const float *q, const float *m, size_t stride, int dim, size_t n, float *out);
void fr__index_dot_ref(const float *q, const float *m, size_t stride, int dim, size_t n, float *out);
void fr__index_dot_avx2(const float *q, const float *m, size_t stride, int dim, size_t n, float *out);
void fr__index_dot_avx512(const float *q, const float *m, size_t stride, int dim, size_t n, float *out);
/* The kernel for fr_cpu_isa() now (FR_ISA=ref selects the portable one). */
fr__index_dot_fn fr__index_dot_get(void);

#endif
