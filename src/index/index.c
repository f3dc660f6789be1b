/* The public index functions: the table of index kinds, argument checks,
 * then the kind's ops (exact.c today). Checking here, once, lets every kind
 * assume valid input: non-NULL pointers, finite vectors, k >= 1.
 *
 * Kinds are found by name, like sqlite3_vfs_find or ggml_backend_init_by_name:
 * the built-in ones are rows of a const table, and fr__index_kind_register
 * adds more at start (tests, optional backends). A kind whose ops have no
 * remove still removes: the front keeps tombstones for it (tombstone.c), so
 * callers never see the difference. */
#include "index/index_int.h"

#include <math.h>
#include <string.h>

enum { DIM_MAX = 65536, EXTRA_MAX = 8 };

static const struct fr_index_ops *const builtin[] = { &fr__index_exact_ops };
enum { N_BUILTIN = sizeof builtin / sizeof builtin[0] };
static const struct fr_index_ops *extra[EXTRA_MAX];
static size_t n_extra;

/* The i-th kind (built-in first), or NULL past the end. */
static const struct fr_index_ops *kind_at(size_t i) {
    if (i < N_BUILTIN) return builtin[i];
    return i - N_BUILTIN < n_extra ? extra[i - N_BUILTIN] : NULL;
}

const struct fr_index_ops *fr__index_kind_find(const char *name) {
    const struct fr_index_ops *o;
    for (size_t i = 0; name && (o = kind_at(i)); i++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

const struct fr_index_ops *fr__index_kind_by_number(int kind) {
    const struct fr_index_ops *o;
    for (size_t i = 0; (o = kind_at(i)); i++)
        if (o->kind == kind) return o;
    return NULL;
}

int fr__index_kind_register(const struct fr_index_ops *ops) {
    bool complete = ops && ops->name && ops->name[0] && ops->kind > 0 && ops->create && ops->destroy && ops->add &&
                    ops->size && ops->row && ops->get && ops->search;
    if (!complete) return fr_err_set(FR_E_INVALID_ARGUMENT, "index kind: a required member is missing");
    if (fr__index_kind_find(ops->name) || fr__index_kind_by_number(ops->kind))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index kind %s (number %d) is already registered", ops->name,
                          ops->kind);
    if (n_extra == EXTRA_MAX) return fr_err_set(FR_E_LIMIT_EXCEEDED, "index kind: at most %d registered", EXTRA_MAX);
    extra[n_extra++] = ops;
    return 0;
}

const char *fr_index_kind_name(size_t i) {
    const struct fr_index_ops *o = kind_at(i);
    return o ? o->name : NULL;
}

static bool finite_vec(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

int fr__index_create(const struct fr_index_ops *ops, int dim, fr_index **out) {
    *out = NULL;
    fr_index *ix = fr_calloc(1, sizeof *ix);
    if (!ix) return fr_err_set(FR_E_NOMEM, "index: cannot allocate");
    int rc = ops->create(dim, &ix->ctx);
    if (rc < 0) {
        fr_free(ix);
        return rc;
    }
    ix->ops = ops;
    ix->dim = dim;
    *out = ix;
    return 0;
}

int fr_index_new(const char *kind, int dim, fr_index **out) {
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index: no output pointer");
    *out = NULL;
    const struct fr_index_ops *ops = fr__index_kind_find(kind);
    if (!ops) return fr_err_set(FR_E_INVALID_ARGUMENT, "index: unknown kind %s", kind ? kind : "(null)");
    if (dim < 1 || dim > DIM_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index: dimension %d is outside 1..%d", dim, DIM_MAX);
    return fr__index_create(ops, dim, out);
}

int fr_index_new_exact(int dim, fr_index **out) { return fr_index_new("exact", dim, out); }

const char *fr_index_kind(const fr_index *ix) { return ix ? ix->ops->name : NULL; }

void fr_index_free(fr_index *ix) {
    if (!ix) return;
    ix->ops->destroy(ix->ctx);
    fr__idmap_free(&ix->tomb);
    fr_free(ix);
}

int fr_index_add(fr_index *ix, int64_t id, int64_t label, const float *vec) {
    if (!ix || !vec) return fr_err_set(FR_E_INVALID_ARGUMENT, "index add: NULL index or vector");
    if (!finite_vec(vec, (size_t)ix->dim))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index add: the vector of id %lld is not finite", (long long)id);
    if (fr__index_is_tomb(ix, id)) return fr__index_tomb_readd(ix, id, label, vec);
    return ix->ops->add(ix->ctx, id, label, vec);
}

int fr_index_remove(fr_index *ix, int64_t id) {
    if (!ix) return fr_err_set(FR_E_INVALID_ARGUMENT, "index remove: NULL index");
    if (!ix->ops->remove) return fr__index_tomb_remove(ix, id);
    return ix->ops->remove(ix->ctx, id);
}

int fr_index_reserve(fr_index *ix, size_t n) {
    if (!ix) return fr_err_set(FR_E_INVALID_ARGUMENT, "index reserve: NULL index");
    return ix->ops->reserve ? ix->ops->reserve(ix->ctx, n) : 0;
}

size_t fr_index_size(const fr_index *ix) { return ix ? ix->ops->size(ix->ctx) - ix->tomb.n : 0; }

int fr_index_dim(const fr_index *ix) { return ix ? ix->dim : 0; }

int fr_index_get(const fr_index *ix, int64_t id, int64_t *label_out, float *vec_out) {
    if (!ix || !label_out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index get: NULL argument");
    if (fr__index_is_tomb(ix, id)) return fr_err_set(FR_E_NOT_FOUND, "index: no id %lld", (long long)id);
    const float *v;
    int rc = ix->ops->get(ix->ctx, id, label_out, &v);
    if (rc == 0 && vec_out) memcpy(vec_out, v, (size_t)ix->dim * sizeof(float));
    return rc;
}

int fr_index_search(const fr_index *ix, const float *queries, int nq, int k, float min_score, unsigned flags,
                    struct fr_hit *hits, int *nhits) {
    if (!ix || nq < 0 || (nq > 0 && (!queries || !hits || !nhits)))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index search: NULL argument or negative probe count");
    if (k < 1) return fr_err_set(FR_E_INVALID_ARGUMENT, "index search: k = %d, must be at least 1", k);
    if (isnan(min_score)) return fr_err_set(FR_E_INVALID_ARGUMENT, "index search: min_score is NaN");
    if (flags & ~(unsigned)FR_INDEX_PER_LABEL)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index search: unknown flags 0x%x", flags);
    if (!finite_vec(queries, (size_t)nq * (size_t)ix->dim))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index search: a probe is not finite");
    if (nq == 0) return 0;
    if (ix->tomb.n) return fr__index_tomb_search(ix, queries, nq, k, min_score, flags, hits, nhits);
    return ix->ops->search(ix->ctx, queries, nq, k, min_score, flags, hits, nhits);
}
