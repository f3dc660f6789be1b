/* Index internals shared by the files of src/index: the implementation vtable
 * that every kind of index fills (exact today, FAISS HNSW later), the front
 * that holds a kind's state and its tombstones, the top-k selection, and the
 * per-ISA dot-product kernels. */
#ifndef FR_INDEX_INT_H
#define FR_INDEX_INT_H

#include "facerec/index.h"

#include <stdbool.h>

/* What an index kind implements: one const table per kind, found by name
 * (fr_index_new) or by its snapshot number (fr_index_load) in the table of
 * kinds in index.c. The front (index.c) checks arguments (non-NULL, finite
 * vectors, k >= 1) and keeps the tombstones before calling these, so a kind
 * only deals with valid input and with ids it was told about.
 *
 * ctx is the kind's own state, made by create. Every member must be set
 * except the two marked optional, which may be NULL:
 *   remove   NULL: the kind cannot delete a row (an HNSW graph, say). The
 *            front then keeps tombstones and rebuilds (tombstone.c).
 *   reserve  NULL: nothing is sized ahead; adds grow as they go. */
struct fr_index_ops {
    const char *name;   /* "exact": what fr_index_new and kind_for name it by */
    int kind;           /* its number in snapshots (FR__INDEX_KIND_*), > 0 and unique */
    int (*create)(int dim, void **ctx_out);
    void (*destroy)(void *ctx);
    /* -FR_E_INVALID_ARGUMENT for an id already there; on failure nothing changes */
    int (*add)(void *ctx, int64_t id, int64_t label, const float *vec);
    /* (optional) -FR_E_NOT_FOUND if absent */
    int (*remove)(void *ctx, int64_t id);
    /* (optional) room for n rows in all */
    int (*reserve)(void *ctx, size_t n);
    /* rows stored (with a front's tombstoned ones: the kind does not know them) */
    size_t (*size)(const void *ctx);
    /* row i in [0, size): storage order, which adds and removes change; the
     * enumeration snapshots, digests, samples and rebuilds go through */
    void (*row)(const void *ctx, size_t i, int64_t *id, int64_t *label, const float **vec);
    /* -FR_E_NOT_FOUND if absent */
    int (*get)(const void *ctx, int64_t id, int64_t *label, const float **vec);
    /* fr_index_search over every stored row (tombstones are the front's business) */
    int (*search)(const void *ctx, const float *queries, int nq, int k, float min_score, unsigned flags,
                  struct fr_hit *hits, int *nhits);
};

enum { FR__INDEX_KIND_EXACT = 1 };

extern const struct fr_index_ops fr__index_exact_ops;

/* Adds a kind to the table (up to 8 besides the built-in ones); refuses a
 * name or number already there (-FR_E_INVALID_ARGUMENT). ops must outlive
 * every index of the kind. Not thread-safe: call it before any thread makes
 * indexes. Internal: a kind of the library is a row of the table in index.c;
 * this is for tests (tests/index registers exact without remove). */
int fr__index_kind_register(const struct fr_index_ops *ops);
/* The kind of this name or snapshot number, or NULL. */
const struct fr_index_ops *fr__index_kind_find(const char *name);
const struct fr_index_ops *fr__index_kind_by_number(int kind);
/* A new empty index of this kind (dim already checked). */
int fr__index_create(const struct fr_index_ops *ops, int dim, fr_index **out);

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

/* The front of every index (index.c): its kind, the kind's state, and the
 * tombstones of a kind without remove. */
struct fr_index {
    const struct fr_index_ops *ops;
    void *ctx;
    int dim;
    struct fr_idmap tomb;   /* removed ids the kind still stores (row field unused); n = how many */
};

/* ---- Tombstones (tombstone.c), for kinds whose ops->remove is NULL ----
 * A rebuild is due once there are at least TOMB_MIN tombstones and they are
 * at least 1/TOMB_DIV of the stored rows. */
enum { FR__INDEX_TOMB_MIN = 64, FR__INDEX_TOMB_DIV = 10 };
bool fr__index_is_tomb(const fr_index *ix, int64_t id);
/* Marks id removed (-FR_E_NOT_FOUND if it is absent or already removed),
 * then rebuilds when due. */
int fr__index_tomb_remove(fr_index *ix, int64_t id);
/* Adds a row whose id is tombstoned: the same row is revived in place, a
 * different one costs a rebuild first. */
int fr__index_tomb_readd(fr_index *ix, int64_t id, int64_t label, const float *vec);
/* fr_index_search that skips tombstoned rows and stays exact with respect
 * to the live ones (arguments checked, tomb.n > 0). */
int fr__index_tomb_search(const fr_index *ix, const float *queries, int nq, int k, float min_score,
                          unsigned flags, struct fr_hit *hits, int *nhits);
/* Rebuilds the kind's state from the live rows and drops the tombstones; on
 * failure nothing changes. Needs exclusive access, as remove does. */
int fr__index_compact(fr_index *ix);
/* The live rows in storage order: start with *pos = 0; false at the end. */
bool fr__index_next(const fr_index *ix, size_t *pos, int64_t *id, int64_t *label, const float **vec);

/* ---- id → row map (idmap.c), continued ---- */
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
