/* facerec — the vector index: per-client galleries of face embeddings and
 * their top-k search.
 *
 * An index holds rows (id, label, vector): id is the database row id of the
 * face (unique in the index), label the subject it belongs to, vector a
 * dim-float embedding, L2-normalised by the caller (dim is 512 in practice).
 * Similarity is the dot product, so for unit vectors it is the cosine.
 *
 * One interface, several kinds of index behind it, each a table of
 * operations (struct fr_index_ops in src/index/index_int.h) found by name:
 *
 *   "exact"   every search scores every row; the reference and the default
 *             for galleries of up to about a million faces.
 *
 * An approximate kind (FAISS HNSW) can join the table without changing
 * callers: fr_index_new takes the kind's name, and a collection set asks its
 * owner which kind each collection is (struct fr_index_set_opts).
 *
 * Removal is the same for every kind. A kind that cannot delete a row (an
 * HNSW graph) leaves remove out of its table, and this front keeps
 * tombstones for it: a removed id is remembered and hidden at once from
 * searches, sizes, get, digests and snapshots; a search asks the kind for
 * more rows than k and drops the removed ones, so the top k stay exact with
 * respect to the live rows. Once the removed rows are at least 64 and a
 * tenth of those stored, the remove that crossed the line rebuilds the index
 * from its live rows (under the same exclusive access a remove has anyway:
 * the set's write lock on the collection). Adding a removed id again revives
 * its row if label and vector are the same, else costs such a rebuild.
 *
 * Threads: searches (and fr_index_size, _get, _digest, _save) only read, so
 * any number may run at once; add and remove need exclusive access, which the
 * caller provides. struct fr_index_set below does that locking for a whole
 * service: one collection per (client, model), each behind a read/write lock.
 *
 * Example:
 *
 *     fr_index *ix;
 *     if (fr_index_new("exact", 512, &ix) < 0) return rc;
 *     fr_index_add(ix, face_id, subject_id, emb);          // emb: 512 floats, unit length
 *     struct fr_hit hits[5];
 *     int n;
 *     fr_index_search(ix, probe, 1, 5, 0.3f, FR_INDEX_PER_LABEL, hits, &n);
 *     // hits[0..n): best subject first, each with its best-matching face
 *     fr_index_save(ix, "data/index/1.snap");
 *     fr_index_free(ix);
 */
#ifndef FACEREC_INDEX_H
#define FACEREC_INDEX_H

#include "facerec/base.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fr_index fr_index;           /* opaque */
typedef struct fr_index_set fr_index_set;   /* opaque */

/* One search result. */
struct fr_hit {
    int64_t id;      /* the face (row id) */
    int64_t label;   /* its subject */
    float score;     /* dot product of the probe and the face's vector */
};
typedef struct fr_hit fr_hit;

/* Flags of fr_index_search. */
enum fr_index_flag {
    /* Top-k distinct labels instead of top-k rows: each label appears once,
     * with its best-scoring row (identify wants the k best subjects, not k
     * faces of the same person). */
    FR_INDEX_PER_LABEL = 1u << 0
};

/* A new empty index of the named kind ("exact") of dim-float vectors
 * (1 <= dim <= 65536). An unknown kind is -FR_E_INVALID_ARGUMENT. */
FR_API int fr_index_new(const char *kind, int dim, fr_index **out);
/* fr_index_new("exact", dim, out). */
FR_API int fr_index_new_exact(int dim, fr_index **out);
/* The name of the i-th kind this build has (i from 0), NULL past the last:
 * for listing them, or checking a configured name. */
FR_API const char *fr_index_kind_name(size_t i);
/* The kind's name of ix ("exact"); NULL for NULL. */
FR_API const char *fr_index_kind(const fr_index *ix);
/* NULL does nothing. */
FR_API void fr_index_free(fr_index *ix);

/* Adds a row. The vector is copied; it must be finite (NaN/Inf is refused).
 * A duplicate id is -FR_E_INVALID_ARGUMENT. On failure the index is unchanged. */
FR_API int fr_index_add(fr_index *ix, int64_t id, int64_t label, const float *vec);
/* Removes the row with this id; -FR_E_NOT_FOUND if there is none. O(1) in
 * the exact index; in a kind without remove a tombstone, and now and then a
 * rebuild (see the top of this file). */
FR_API int fr_index_remove(fr_index *ix, int64_t id);
/* Makes room for n rows in all, so that adding up to n needs no allocation
 * (a rebuild that knows its count avoids the copies of geometric growth). */
FR_API int fr_index_reserve(fr_index *ix, size_t n);

/* Live rows (removed ones never count). */
FR_API size_t fr_index_size(const fr_index *ix);
FR_API int fr_index_dim(const fr_index *ix);
/* The label and (if vec_out is not NULL) the vector of row id;
 * -FR_E_NOT_FOUND if there is none. */
FR_API int fr_index_get(const fr_index *ix, int64_t id, int64_t *label_out, float *vec_out);

/* The k best rows for each of nq probes (queries: nq × dim floats, finite).
 *   hits:  nq × k entries; probe q's results go to hits[q·k ..], best first:
 *          higher score first, equal scores by smaller id, so the order is
 *          deterministic.
 *   nhits: nq counts, nhits[q] = how many of probe q's k slots were filled
 *          (fewer than k when the index is smaller, or rows score below
 *          min_score, which is inclusive: score >= min_score is kept; pass
 *          -INFINITY for no threshold).
 *   flags: FR_INDEX_PER_LABEL or 0.
 * One probe is a SIMD scan (AVX-512, AVX2+FMA or portable C by fr_cpu_isa());
 * four or more go through cblas_sgemm in bounded blocks, so the scores of a
 * probe may differ in the last bits between the two paths. */
FR_API int fr_index_search(const fr_index *ix, const float *queries, int nq, int k, float min_score,
                           unsigned flags, struct fr_hit *hits, int *nhits);

/* ---- Persistence ----
 * A snapshot is one file: a 64-byte header (magic "FRINDEX1", version, kind,
 * dim, count, SHA-256 of all the rest) then the live rows' ids, labels and
 * vectors, little endian; it loads as an index of the kind it was saved from.
 * fr_index_save writes path.tmp.XXXXXX (mode 0600: embeddings are biometric
 * data), fsyncs it, renames it over path and fsyncs the folder, so a crash
 * leaves the old or the new file, never half of one. fr_index_load
 * checks the size against the header, the checksum, duplicate ids and finite
 * vectors, and refuses anything else
 * (-FR_E_IO for unreadable or truncated files, -FR_E_INVALID_ARGUMENT for
 * wrong content) with a detail in fr_err_detail(). */
FR_API int fr_index_save(const fr_index *ix, const char *path);
FR_API int fr_index_load(const char *path, fr_index **out);

/* ---- Digest ----
 * An order-independent SHA-256-based digest of the set of (id, label, vector)
 * rows: the sum, per 64-bit lane, of the SHA-256 of every row, hashed with dim
 * and count. Two indexes with the same rows have the same digest whatever the
 * order of adds and removes, so the service can compare its index with the
 * database on start (feed the database's rows to a struct fr_index_digest)
 * and rebuild when they differ. */
struct fr_index_digest {
    uint64_t sum[4];   /* lane-wise sum of the row hashes */
    uint64_t count;
    int dim;
};
FR_API void fr_index_digest_init(struct fr_index_digest *d, int dim);
/* vec: dim floats, hashed as their bytes (so -0.0f and 0.0f differ). */
FR_API int fr_index_digest_add(struct fr_index_digest *d, int64_t id, int64_t label, const float *vec);
FR_API void fr_index_digest_final(const struct fr_index_digest *d, uint8_t out[32]);
FR_API int fr_index_digest(const fr_index *ix, uint8_t out[32]);

/* ---- Collections: thread-safe per-client indexes ----
 * A set of indexes keyed by (client id, model id): a search never mixes
 * models. Collections are created by the first add and kept sorted by
 * (client, model). Each collection's kind comes from the set's owner
 * (kind_for below), asked when the collection is created, put or loaded.
 * Each has its own read/write lock (writer-preferring, so a stream of
 * searches cannot starve adds): searches of one collection run concurrently,
 * adds and removes are exclusive to it. Model ids are 1 to 64
 * characters of [A-Za-z0-9._-] (they name snapshot files). */
struct fr_index_set_opts {
    int dim;   /* of every vector, 1..65536 */
    /* The kind of index (a name fr_index_new knows) that collection (client,
     * model) must be. NULL, or a NULL answer: "exact". Called with the set
     * locked, from any thread: it must not call back into the set, and the
     * same arguments must always give the same kind. An unknown name fails
     * the add that would create the collection (-FR_E_INVALID_ARGUMENT). */
    const char *(*kind_for)(void *ctx, int64_t client, const char *model);
    void *ctx;   /* kind_for's first argument */
};
FR_API int fr_index_set_new_opts(const struct fr_index_set_opts *opts, fr_index_set **out);
/* Every collection exact: fr_index_set_new_opts with only dim set. */
FR_API int fr_index_set_new(int dim, fr_index_set **out);
/* The kind collection (client, model) must be (kind_for's answer or "exact"),
 * whether or not it exists: a rebuild makes its index of this kind for
 * fr_index_set_put. NULL for a NULL set. */
FR_API const char *fr_index_set_kind(fr_index_set *set, int64_t client, const char *model);
FR_API void fr_index_set_free(fr_index_set *set);
FR_API int fr_index_set_add(fr_index_set *set, int64_t client, const char *model, int64_t id, int64_t label,
                            const float *vec);
/* -FR_E_NOT_FOUND when the collection or the row does not exist. */
FR_API int fr_index_set_remove(fr_index_set *set, int64_t client, const char *model, int64_t id);
/* fr_index_search on one collection; a collection that does not exist is an
 * empty one (every nhits[q] = 0). */
FR_API int fr_index_set_search(fr_index_set *set, int64_t client, const char *model, const float *queries, int nq,
                               int k, float min_score, unsigned flags, struct fr_hit *hits, int *nhits);
/* Puts ix in as the collection (client, model), replacing and freeing any
 * there; takes ownership of ix, even on failure. For rebuilds: build the new
 * index aside, then swap it in. An index of another dimension, or of another
 * kind than fr_index_set_kind names, is -FR_E_INVALID_ARGUMENT. */
FR_API int fr_index_set_put(fr_index_set *set, int64_t client, const char *model, fr_index *ix);
/* Drops every collection of the client (0 and nothing done if none). */
FR_API int fr_index_set_drop_client(fr_index_set *set, int64_t client);
/* Rows of one client (all models), and of the whole set. */
FR_API size_t fr_index_set_size(fr_index_set *set, int64_t client);
FR_API size_t fr_index_set_total(fr_index_set *set);
FR_API int fr_index_set_digest(fr_index_set *set, int64_t client, const char *model, uint8_t out[32]);
/* Rows of one collection (0 when it does not exist). */
FR_API size_t fr_index_set_count(fr_index_set *set, int64_t client, const char *model);
/* A uniform random sample of min(rows, max_rows) rows of one collection
 * (seeded: the same seed and rows give the same sample): their vectors
 * (n × dim) and labels, fr_free'd by the caller; *n_out = 0 and NULLs when
 * the collection is empty or absent. For the open-set self-calibration,
 * which needs the collection's own impostor scores (include/facerec/openset.h). */
FR_API int fr_index_set_sample(fr_index_set *set, int64_t client, const char *model, size_t max_rows, uint64_t seed,
                               float **vecs_out, int64_t **labels_out, size_t *n_out);
/* Calls fn for each collection, in (client, model) order, with the set read
 * locked: fn must not call back into the set, and model is valid during the
 * call only. */
typedef void (*fr_index_set_fn)(void *arg, int64_t client, const char *model, size_t n_rows);
FR_API void fr_index_set_foreach(fr_index_set *set, fr_index_set_fn fn, void *arg);
/* One snapshot per collection in dir, named c<client>-<model>.fidx; files of
 * that pattern whose collection is gone are removed. A collection being saved
 * takes no adds until its file is written. */
FR_API int fr_index_set_save_all(fr_index_set *set, const char *dir);
/* Loads every c<client>-<model>.fidx in dir into the set (replacing those
 * collections). A bad file is skipped (logged) and the others still load;
 * the return is then the first bad file's error, and the caller rebuilds
 * what is missing from the database (compare digests). A snapshot of another
 * kind than the collection must now be (kind_for changed) is stale, and
 * skipped the same way (-FR_E_INVALID_ARGUMENT). */
FR_API int fr_index_set_load_all(fr_index_set *set, const char *dir);

#endif
