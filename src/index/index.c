/* The public index functions: argument checks, then the implementation's
 * ops (exact.c today). Checking here, once, lets every index kind assume
 * valid input: non-NULL pointers, finite vectors, k >= 1. */
#include "index/index_int.h"

#include <math.h>
#include <string.h>

enum { DIM_MAX = 65536 };

static bool finite_vec(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

int fr_index_new_exact(int dim, fr_index **out) {
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index: no output pointer");
    *out = NULL;
    if (dim < 1 || dim > DIM_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index: dimension %d is outside 1..%d", dim, DIM_MAX);
    return fr__index_exact_new(dim, out);
}

void fr_index_free(fr_index *ix) {
    if (ix) ix->ops->free(ix);
}

int fr_index_add(fr_index *ix, int64_t id, int64_t label, const float *vec) {
    if (!ix || !vec) return fr_err_set(FR_E_INVALID_ARGUMENT, "index add: NULL index or vector");
    if (!finite_vec(vec, (size_t)ix->dim))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index add: the vector of id %lld is not finite", (long long)id);
    return ix->ops->add(ix, id, label, vec);
}

int fr_index_remove(fr_index *ix, int64_t id) {
    if (!ix) return fr_err_set(FR_E_INVALID_ARGUMENT, "index remove: NULL index");
    return ix->ops->remove(ix, id);
}

int fr_index_reserve(fr_index *ix, size_t n) {
    if (!ix) return fr_err_set(FR_E_INVALID_ARGUMENT, "index reserve: NULL index");
    return ix->ops->reserve(ix, n);
}

size_t fr_index_size(const fr_index *ix) { return ix ? ix->ops->size(ix) : 0; }

int fr_index_dim(const fr_index *ix) { return ix ? ix->dim : 0; }

int fr_index_get(const fr_index *ix, int64_t id, int64_t *label_out, float *vec_out) {
    if (!ix || !label_out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index get: NULL argument");
    const float *v;
    int rc = ix->ops->get(ix, id, label_out, &v);
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
    return ix->ops->search(ix, queries, nq, k, min_score, flags, hits, nhits);
}
