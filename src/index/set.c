/* The collection set: one index per (client, model), safe to use from many
 * threads.
 *
 * Locking has two levels. The set's lock guards the array of collections:
 * every operation holds it for reading while it uses a collection, and only
 * creating, replacing or dropping collections takes it for writing, so a
 * collection can never be freed under a search. Each collection has its own
 * lock: searches take it for reading and run side by side, adds and removes
 * take it for writing. Both are writer-preferring (glibc's default lets a
 * steady stream of readers starve writers); the price is that no thread may
 * take a read lock it already holds, which nothing here does.
 *
 * Collections are kept in an array sorted by (client, model): lookups are a
 * binary search, a client's collections are adjacent (drop, size), and
 * iteration order is stable for metrics.
 *
 * Each collection is of the kind the owner's kind_for names for it. The set
 * asks when it creates a collection, and checks the answer against what is
 * put in or loaded, so a snapshot of an old kind never comes back. A kind
 * without remove rebuilds inside fr_index_remove (tombstone.c), which here
 * runs under the collection's write lock like any remove. */
#include "index/index_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MODEL_MAX = 64 };
#define SUFFIX ".fidx"

struct entry {
    int64_t client;
    char model[MODEL_MAX + 1];
    fr_index *ix;
    pthread_rwlock_t lock;
};

struct fr_index_set {
    int dim;
    const char *(*kind_for)(void *ctx, int64_t client, const char *model);
    void *kind_ctx;
    pthread_rwlock_t lock;
    struct entry **e;         /* sorted by (client, model) */
    size_t n, cap;
    fr_index *empty;          /* searched for collections that do not exist */
    pthread_mutex_t save;     /* one save_all at a time: each removes the others' temporaries */
};

static int check_model(const char *model) {
    size_t len = model ? strlen(model) : 0;
    if (len < 1 || len > MODEL_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "index set: model id must be 1 to %d characters", MODEL_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = model[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "index set: model id %s has a character outside [A-Za-z0-9._-]",
                              model);
    }
    return 0;
}

static void rwlock_init(pthread_rwlock_t *l) {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(l, &a);
    pthread_rwlockattr_destroy(&a);
}

static int cmp_key(const struct entry *e, int64_t client, const char *model) {
    if (e->client != client) return e->client < client ? -1 : 1;
    return strcmp(e->model, model);
}

/* Index of (client, model), or -1 with *pos set to where it would go. */
static ptrdiff_t find(const struct fr_index_set *s, int64_t client, const char *model, size_t *pos) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(s->e[mid], client, model);
        if (c == 0) return (ptrdiff_t)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (pos) *pos = lo;
    return -1;
}

/* First collection of the client (or where it would be). */
static size_t client_start(const struct fr_index_set *s, int64_t client) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid]->client < client) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void entry_free(struct entry *e) {
    if (!e) return;
    fr_index_free(e->ix);
    pthread_rwlock_destroy(&e->lock);
    fr_free(e);
}

/* A new collection holding ix (taken over even on failure), inserted at pos;
 * the set must be write-locked. */
static int insert(struct fr_index_set *s, size_t pos, int64_t client, const char *model, fr_index *ix) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        struct entry **e = fr_realloc(s->e, cap * sizeof *e);
        if (!e) {
            fr_index_free(ix);
            return fr_err_set(FR_E_NOMEM, "index set: no memory for %zu collections", cap);
        }
        s->e = e;
        s->cap = cap;
    }
    struct entry *e = fr_calloc(1, sizeof *e);
    if (!e) {
        fr_index_free(ix);
        return fr_err_set(FR_E_NOMEM, "index set: no memory for a collection");
    }
    e->client = client;
    snprintf(e->model, sizeof e->model, "%s", model);
    e->ix = ix;
    rwlock_init(&e->lock);
    memmove(s->e + pos + 1, s->e + pos, (s->n - pos) * sizeof *s->e);
    s->e[pos] = e;
    s->n++;
    return 0;
}

/* The collection (client, model), created empty when create is set. On
 * success the set is left read-locked: the caller unlocks it when done with
 * the collection. */
static int acquire(struct fr_index_set *s, int64_t client, const char *model, bool create, struct entry **out) {
    int rc = check_model(model);
    if (rc < 0) return rc;
    for (;;) {
        pthread_rwlock_rdlock(&s->lock);
        ptrdiff_t i = find(s, client, model, NULL);
        if (i >= 0) {
            *out = s->e[i];
            return 0;
        }
        pthread_rwlock_unlock(&s->lock);
        if (!create)
            return fr_err_set(FR_E_NOT_FOUND, "index set: no collection for client %lld, model %s", (long long)client,
                              model);
        /* create under the write lock, then look again under the read lock */
        size_t pos = 0;
        pthread_rwlock_wrlock(&s->lock);
        if (find(s, client, model, &pos) < 0) {
            fr_index *ix;
            rc = fr_index_new(fr_index_set_kind(s, client, model), s->dim, &ix);
            if (rc == 0) rc = insert(s, pos, client, model, ix);
        }
        pthread_rwlock_unlock(&s->lock);
        if (rc < 0) return rc;
    }
}

int fr_index_set_new_opts(const struct fr_index_set_opts *opts, fr_index_set **out) {
    int dim = opts ? opts->dim : 0;
    if (!out || dim < 1 || dim > 65536) return fr_err_set(FR_E_INVALID_ARGUMENT, "index set: bad dimension %d", dim);
    fr_index_set *s = fr_calloc(1, sizeof *s);
    if (!s) return fr_err_set(FR_E_NOMEM, "index set: no memory");
    int rc = fr_index_new_exact(dim, &s->empty);
    if (rc < 0) {
        fr_free(s);
        return rc;
    }
    s->dim = dim;
    s->kind_for = opts->kind_for;
    s->kind_ctx = opts->ctx;
    rwlock_init(&s->lock);
    pthread_mutex_init(&s->save, NULL);
    *out = s;
    return 0;
}

int fr_index_set_new(int dim, fr_index_set **out) {
    return fr_index_set_new_opts(&(struct fr_index_set_opts){ .dim = dim }, out);
}

const char *fr_index_set_kind(fr_index_set *s, int64_t client, const char *model) {
    if (!s) return NULL;
    const char *k = s->kind_for ? s->kind_for(s->kind_ctx, client, model) : NULL;
    return k ? k : "exact";
}

void fr_index_set_free(fr_index_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) entry_free(s->e[i]);
    fr_free(s->e);
    fr_index_free(s->empty);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->save);
    fr_free(s);
}

int fr_index_set_add(fr_index_set *s, int64_t client, const char *model, int64_t id, int64_t label,
                     const float *vec) {
    struct entry *e = NULL;
    int rc = s ? acquire(s, client, model, true, &e) : fr_err_set(FR_E_INVALID_ARGUMENT, "index set: NULL set");
    if (rc < 0) return rc;
    pthread_rwlock_wrlock(&e->lock);
    rc = fr_index_add(e->ix, id, label, vec);
    pthread_rwlock_unlock(&e->lock);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int fr_index_set_remove(fr_index_set *s, int64_t client, const char *model, int64_t id) {
    struct entry *e = NULL;
    int rc = s ? acquire(s, client, model, false, &e) : fr_err_set(FR_E_INVALID_ARGUMENT, "index set: NULL set");
    if (rc < 0) return rc;
    pthread_rwlock_wrlock(&e->lock);
    rc = fr_index_remove(e->ix, id);
    pthread_rwlock_unlock(&e->lock);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int fr_index_set_search(fr_index_set *s, int64_t client, const char *model, const float *queries, int nq, int k,
                        float min_score, unsigned flags, struct fr_hit *hits, int *nhits) {
    struct entry *e = NULL;
    int rc = s ? acquire(s, client, model, false, &e) : fr_err_set(FR_E_INVALID_ARGUMENT, "index set: NULL set");
    if (rc == -FR_E_NOT_FOUND)   /* no collection yet: an empty one (the arguments still checked) */
        return fr_index_search(s->empty, queries, nq, k, min_score, flags, hits, nhits);
    if (rc < 0) return rc;
    pthread_rwlock_rdlock(&e->lock);
    rc = fr_index_search(e->ix, queries, nq, k, min_score, flags, hits, nhits);
    pthread_rwlock_unlock(&e->lock);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int fr_index_set_put(fr_index_set *s, int64_t client, const char *model, fr_index *ix) {
    int rc = !s || !ix ? fr_err_set(FR_E_INVALID_ARGUMENT, "index set put: NULL argument") : check_model(model);
    if (rc == 0 && fr_index_dim(ix) != s->dim)
        rc = fr_err_set(FR_E_INVALID_ARGUMENT, "index set put: dimension %d, the set's is %d", fr_index_dim(ix),
                        s->dim);
    const char *kind = rc == 0 ? fr_index_set_kind(s, client, model) : NULL;
    if (kind && strcmp(kind, fr_index_kind(ix)) != 0)
        rc = fr_err_set(FR_E_INVALID_ARGUMENT, "index set put: a %s index, collection %lld/%s is %s",
                        fr_index_kind(ix), (long long)client, model, kind);
    if (rc < 0) {
        fr_index_free(ix);
        return rc;
    }
    size_t pos = 0;
    pthread_rwlock_wrlock(&s->lock);
    ptrdiff_t i = find(s, client, model, &pos);
    if (i >= 0) {   /* no reader holds the collection while we hold the set's write lock */
        fr_index_free(s->e[i]->ix);
        s->e[i]->ix = ix;
    } else {
        rc = insert(s, pos, client, model, ix);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int fr_index_set_drop_client(fr_index_set *s, int64_t client) {
    if (!s) return fr_err_set(FR_E_INVALID_ARGUMENT, "index set: NULL set");
    pthread_rwlock_wrlock(&s->lock);
    size_t a = client_start(s, client), b = a;
    while (b < s->n && s->e[b]->client == client) entry_free(s->e[b++]);
    if (b > a) {   /* (an empty set has no array at all) */
        memmove(s->e + a, s->e + b, (s->n - b) * sizeof *s->e);
        s->n -= b - a;
    }
    pthread_rwlock_unlock(&s->lock);
    return 0;
}

static size_t entry_size(struct entry *e) {
    pthread_rwlock_rdlock(&e->lock);
    size_t n = fr_index_size(e->ix);
    pthread_rwlock_unlock(&e->lock);
    return n;
}

size_t fr_index_set_size(fr_index_set *s, int64_t client) {
    if (!s) return 0;
    size_t n = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = client_start(s, client); i < s->n && s->e[i]->client == client; i++) n += entry_size(s->e[i]);
    pthread_rwlock_unlock(&s->lock);
    return n;
}

size_t fr_index_set_total(fr_index_set *s) {
    if (!s) return 0;
    size_t n = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->n; i++) n += entry_size(s->e[i]);
    pthread_rwlock_unlock(&s->lock);
    return n;
}

void fr_index_set_foreach(fr_index_set *s, fr_index_set_fn fn, void *arg) {
    if (!s || !fn) return;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->n; i++) fn(arg, s->e[i]->client, s->e[i]->model, entry_size(s->e[i]));
    pthread_rwlock_unlock(&s->lock);
}

int fr_index_set_digest(fr_index_set *s, int64_t client, const char *model, uint8_t out[32]) {
    struct entry *e = NULL;
    int rc = s && out ? acquire(s, client, model, false, &e)
                      : fr_err_set(FR_E_INVALID_ARGUMENT, "index set digest: NULL argument");
    if (rc == -FR_E_NOT_FOUND) {   /* no collection: the digest of no rows */
        struct fr_index_digest d;
        fr_index_digest_init(&d, s->dim);
        fr_index_digest_final(&d, out);
        return 0;
    }
    if (rc < 0) return rc;
    pthread_rwlock_rdlock(&e->lock);
    rc = fr_index_digest(e->ix, out);
    pthread_rwlock_unlock(&e->lock);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- snapshots of the whole set ---- */

/* dir/c<client>-<model>.fidx in a new string (fr_free), or NULL */
static char *snap_path(const char *dir, int64_t client, const char *model) {
    size_t len = strlen(dir) + MODEL_MAX + 40;
    char *p = fr_malloc(len);
    if (p) snprintf(p, len, "%s/c%lld-%s" SUFFIX, dir, (long long)client, model);
    return p;
}

/* Parses a snapshot file name; false for any other file. */
static bool parse_name(const char *name, int64_t *client, char model[MODEL_MAX + 1]) {
    size_t len = strlen(name), sl = strlen(SUFFIX);
    if (name[0] != 'c' || len <= sl || strcmp(name + len - sl, SUFFIX) != 0) return false;
    char *end;
    errno = 0;
    long long c = strtoll(name + 1, &end, 10);
    if (errno || end == name + 1 || *end != '-') return false;
    size_t ml = (size_t)(name + len - sl - (end + 1));
    if (ml < 1 || ml > MODEL_MAX) return false;
    memcpy(model, end + 1, ml);
    model[ml] = 0;
    *client = c;
    int saved = errno;
    bool ok = check_model(model) == 0;
    errno = saved;
    return ok;
}

static int save_entry(struct entry *e, const char *dir) {
    char *p = snap_path(dir, e->client, e->model);
    if (!p) return fr_err_set(FR_E_NOMEM, "index set save: no memory");
    pthread_rwlock_rdlock(&e->lock);
    int rc = fr_index_save(e->ix, p);
    pthread_rwlock_unlock(&e->lock);
    fr_free(p);
    return rc;
}

/* Removes snapshots of collections the set no longer has, and temporary
 * files a crashed save left; the set is read-locked. */
static void remove_stale(fr_index_set *s, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t client;
        char model[MODEL_MAX + 1];
        bool ours = parse_name(de->d_name, &client, model);
        bool tmp = de->d_name[0] == 'c' && strstr(de->d_name, SUFFIX ".tmp.");
        bool stale = ours ? find(s, client, model, NULL) < 0 : tmp;
        if (!stale) continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *p = fr_malloc(len);
        if (!p) break;
        snprintf(p, len, "%s/%s", dir, de->d_name);
        unlink(p);
        fr_free(p);
    }
    closedir(d);
}

int fr_index_set_save_all(fr_index_set *s, const char *dir) {
    if (!s || !dir) return fr_err_set(FR_E_INVALID_ARGUMENT, "index set save: NULL argument");
    int rc = 0;
    pthread_mutex_lock(&s->save);
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->n && rc == 0; i++) rc = save_entry(s->e[i], dir);
    if (rc == 0) remove_stale(s, dir);
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_unlock(&s->save);
    return rc;
}

static int load_one(fr_index_set *s, const char *dir, const char *name, int64_t client, const char *model) {
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = fr_malloc(len);
    if (!p) return fr_err_set(FR_E_NOMEM, "index set load: no memory");
    snprintf(p, len, "%s/%s", dir, name);
    fr_index *ix;
    int rc = fr_index_load(p, &ix);
    if (rc == 0) rc = fr_index_set_put(s, client, model, ix);
    if (rc < 0) fr_log(FR_LOG_WARN, "index snapshot %s not loaded: %s", p, fr_err_detail());
    fr_free(p);
    return rc;
}

int fr_index_set_load_all(fr_index_set *s, const char *dir) {
    if (!s || !dir) return fr_err_set(FR_E_INVALID_ARGUMENT, "index set load: NULL argument");
    DIR *d = opendir(dir);
    if (!d) return fr_err_set(FR_E_IO, "index set load: cannot open %s: %s", dir, strerror(errno));
    int first = 0;
    char detail[256] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t client;
        char model[MODEL_MAX + 1];
        if (!parse_name(de->d_name, &client, model)) continue;
        int rc = load_one(s, dir, de->d_name, client, model);
        if (rc < 0 && first == 0) {
            first = rc;
            snprintf(detail, sizeof detail, "%s", fr_err_detail());
        }
    }
    closedir(d);
    return first ? fr_err_set(-first, "%s", detail) : 0;
}

size_t fr_index_set_count(fr_index_set *s, int64_t client, const char *model) {
    struct entry *e = NULL;
    if (!s || acquire(s, client, model, false, &e) < 0) return 0;
    size_t n = entry_size(e);
    pthread_rwlock_unlock(&s->lock);
    return n;
}

/* Selection sampling (Knuth's Algorithm S): one pass over the rows, each
 * taken with probability needed / left, so exactly min(n, max_rows) rows
 * come out, every subset equally likely, in storage order. */
int fr_index_set_sample(fr_index_set *s, int64_t client, const char *model, size_t max_rows, uint64_t seed,
                        float **vecs_out, int64_t **labels_out, size_t *n_out) {
    if (!s || !vecs_out || !labels_out || !n_out) return fr_err_set(FR_E_INVALID_ARGUMENT, "index set sample: NULL argument");
    *vecs_out = NULL;
    *labels_out = NULL;
    *n_out = 0;
    struct entry *e = NULL;
    int rc = acquire(s, client, model, false, &e);
    if (rc == -FR_E_NOT_FOUND) return 0;
    if (rc < 0) return rc;
    pthread_rwlock_rdlock(&e->lock);
    size_t n = fr_index_size(e->ix), want = n < max_rows ? n : max_rows, got = 0;
    int dim = s->dim;
    float *v = want ? fr_malloc(sizeof *v * want * (size_t)dim) : NULL;
    int64_t *l = want ? fr_malloc(sizeof *l * want) : NULL;
    if (want && (!v || !l)) rc = -FR_E_NOMEM;
    uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull;
    int64_t id, label;
    const float *vec;
    size_t pos = 0;   /* the live rows: n of them */
    for (size_t i = 0; rc == 0 && got < want && fr__index_next(e->ix, &pos, &id, &label, &vec); i++) {
        x ^= x << 13;   /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        if ((double)(x >> 11) * 0x1.0p-53 * (double)(n - i) >= (double)(want - got)) continue;
        l[got] = label;
        memcpy(v + got * (size_t)dim, vec, sizeof *v * (size_t)dim);
        got++;
    }
    pthread_rwlock_unlock(&e->lock);
    pthread_rwlock_unlock(&s->lock);
    if (rc < 0) {
        fr_free(v);
        fr_free(l);
        return rc;
    }
    *vecs_out = v;
    *labels_out = l;
    *n_out = got;
    return 0;
}
