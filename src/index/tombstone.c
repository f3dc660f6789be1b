/* Tombstones: remove for index kinds that cannot delete a row.
 *
 * An approximate index such as HNSW links every row into a graph, and most
 * such libraries have no delete, or one that degrades the graph. A kind
 * whose ops->remove is NULL gets removal from the front instead:
 *
 *   - fr_index_remove records the id in a hash set (fr_index.tomb); the row
 *     stays in the kind's storage. fr_index_size, _get, _digest, _save and
 *     the set's sample see only live rows (fr__index_next skips the dead).
 *   - A search asks the kind for more than k rows and drops the dead ones
 *     (fr__index_tomb_search), so the top k stay exact with respect to the
 *     live rows: see there for how much more.
 *   - Once the dead are TOMB_MIN or more and at least 1/TOMB_DIV of what is
 *     stored, the remove that crossed the line rebuilds the kind's state
 *     from the live rows (fr__index_compact) and forgets the tombstones. It
 *     runs inside that remove, so under the caller's exclusive access (the
 *     set's write lock on the collection): searches wait for it, then see
 *     the same live rows as before.
 *   - Adding a tombstoned id again revives the stored row when it is the
 *     same (label and vector bit for bit); otherwise the old row must go
 *     first, and that costs a rebuild.
 *
 * A rebuild that fails (out of memory) leaves the tombstones in place; the
 * remove still succeeded, and the next one tries again. */
#include "index/index_int.h"

#include <limits.h>
#include <string.h>

bool fr__index_is_tomb(const fr_index *ix, int64_t id) {
    return ix->tomb.n && fr__idmap_get(&ix->tomb, id) >= 0;
}

bool fr__index_next(const fr_index *ix, size_t *pos, int64_t *id, int64_t *label, const float **vec) {
    size_t n = ix->ops->size(ix->ctx);
    while (*pos < n) {
        ix->ops->row(ix->ctx, (*pos)++, id, label, vec);
        if (!fr__index_is_tomb(ix, *id)) return true;
    }
    return false;
}

int fr__index_compact(fr_index *ix) {
    const struct fr_index_ops *o = ix->ops;
    void *nc = NULL;
    int rc = o->create(ix->dim, &nc);
    if (rc == 0 && o->reserve) rc = o->reserve(nc, o->size(ix->ctx) - ix->tomb.n);
    int64_t id, label;
    const float *v;
    for (size_t pos = 0; rc == 0 && fr__index_next(ix, &pos, &id, &label, &v);) rc = o->add(nc, id, label, v);
    if (rc < 0) {
        if (nc) o->destroy(nc);
        return rc;
    }
    o->destroy(ix->ctx);
    ix->ctx = nc;
    fr__idmap_free(&ix->tomb);
    return 0;
}

int fr__index_tomb_remove(fr_index *ix, int64_t id) {
    int64_t label;
    const float *v;
    if (fr__index_is_tomb(ix, id) || ix->ops->get(ix->ctx, id, &label, &v) < 0)
        return fr_err_set(FR_E_NOT_FOUND, "index: no id %lld", (long long)id);
    int rc = fr__idmap_reserve(&ix->tomb, ix->tomb.n + 1);
    if (rc < 0) return rc;
    fr__idmap_put(&ix->tomb, id, 0);
    size_t dead = ix->tomb.n, stored = ix->ops->size(ix->ctx);
    if (dead >= FR__INDEX_TOMB_MIN && dead * FR__INDEX_TOMB_DIV >= stored && fr__index_compact(ix) < 0)
        fr_log(FR_LOG_WARN, "index: rebuild without %zu removed rows failed (%s); retried at the next remove", dead,
               fr_err_detail());
    return 0;
}

int fr__index_tomb_readd(fr_index *ix, int64_t id, int64_t label, const float *vec) {
    int64_t old;
    const float *v;
    int rc = ix->ops->get(ix->ctx, id, &old, &v);   /* a tombstoned id is stored: found */
    if (rc < 0) return rc;
    if (old == label && memcmp(v, vec, (size_t)ix->dim * sizeof(float)) == 0) {
        fr__idmap_del(&ix->tomb, id);
        return 0;
    }
    if ((rc = fr__index_compact(ix)) < 0) return rc;
    return ix->ops->add(ix->ctx, id, label, vec);
}

/* Copies the live hits of src[0..n) (best first) to dst until k are there;
 * with seen (per-label mode) only the first hit of each label. Returns how
 * many were copied. seen has room for k labels. */
static int keep_live(const fr_index *ix, const struct fr_hit *src, int n, int k, struct fr_idmap *seen,
                     struct fr_hit *dst) {
    int m = 0;
    for (int i = 0; i < n && m < k; i++) {
        if (fr__index_is_tomb(ix, src[i].id)) continue;
        if (seen) {
            if (fr__idmap_get(seen, src[i].label) >= 0) continue;
            fr__idmap_put(seen, src[i].label, 0);
        }
        dst[m++] = src[i];
    }
    return m;
}

/* One probe by rows, asking the kind for kp rows and doubling until k live
 * ones (k live labels) are found or the kind has no more to give. Per label,
 * a label's first live row in the row order is its best live row, and the
 * first k labels met are the top k: the result is exact. */
static int search_rows(const fr_index *ix, const float *q, int k, float min_score, bool per_label, size_t kp,
                       struct fr_hit *out, int *n_out) {
    size_t stored = ix->ops->size(ix->ctx), cap = stored < INT_MAX ? stored : INT_MAX;
    int rc = 0;
    for (;; kp *= 2) {
        if (kp > cap) kp = cap;
        struct fr_hit *buf = fr_malloc(kp * sizeof *buf);
        struct fr_idmap seen = { 0 };
        if (!buf || (per_label && fr__idmap_reserve(&seen, (size_t)k) < 0)) {
            fr_free(buf);
            return fr_err_set(FR_E_NOMEM, "index search: no memory for %zu candidates", kp);
        }
        int nb = 0;
        rc = ix->ops->search(ix->ctx, q, 1, (int)kp, min_score, 0, buf, &nb);
        int m = rc < 0 ? 0 : keep_live(ix, buf, nb, k, per_label ? &seen : NULL, out);
        fr_free(buf);
        fr__idmap_free(&seen);
        bool done = rc < 0 || m == k || (size_t)nb < kp || kp == cap || (!per_label && kp >= (size_t)k + ix->tomb.n);
        if (done) {
            *n_out = m;
            return rc;
        }
    }
}

/* First, every probe in one call to the kind (its batched path):
 *   per row, k + t rows, t the tombstones but at most k + 16 of them: then k
 *     live rows remain unless more than that many dead sit at the top;
 *   per label, the kind's own per-label answer, which is exact as it stands
 *     when none of the rows it reports is dead (each is then its label's best
 *     live row, and any other label's best live row ranks below them all).
 * A probe left short goes through search_rows alone, from twice as many. */
int fr__index_tomb_search(const fr_index *ix, const float *queries, int nq, int k, float min_score,
                          unsigned flags, struct fr_hit *hits, int *nhits) {
    bool per_label = flags & FR_INDEX_PER_LABEL;
    size_t t = ix->tomb.n, stored = ix->ops->size(ix->ctx), dim = (size_t)ix->dim;
    size_t kp = (size_t)k + (per_label ? 0 : t < (size_t)k + 16 ? t : (size_t)k + 16);
    if (kp > stored) kp = stored;   /* stored >= t > 0 */
    if (kp > INT_MAX) kp = INT_MAX;
    struct fr_hit *buf = fr_malloc((size_t)nq * kp * sizeof *buf);
    int *nb = fr_malloc((size_t)nq * sizeof *nb);
    int rc = buf && nb ? 0 : fr_err_set(FR_E_NOMEM, "index search: no memory for %zu candidates", (size_t)nq * kp);
    if (rc == 0) rc = ix->ops->search(ix->ctx, queries, nq, (int)kp, min_score, flags, buf, nb);
    for (int i = 0; rc == 0 && i < nq; i++) {
        const struct fr_hit *src = buf + (size_t)i * kp;
        struct fr_hit *dst = hits + (size_t)i * (size_t)k;
        int m = keep_live(ix, src, nb[i], k, NULL, dst);
        bool done = per_label ? m == nb[i] : m == k || (size_t)nb[i] < kp || kp >= (size_t)k + t || kp == stored;
        nhits[i] = m;
        if (!done) rc = search_rows(ix, queries + (size_t)i * dim, k, min_score, per_label, 2 * kp, dst, &nhits[i]);
    }
    fr_free(buf);
    fr_free(nb);
    return rc;
}
