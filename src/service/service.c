/* The service's state: store, models, worker contexts, and the index kept in
 * step with the database (see service.h). */
#include "service/service_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Recognition needs the three core models; liveness + pose (extra) and the
 * attribute models are optional: without them, what needs them answers 503
 * naming them, and everything else is served (quality then has no pose). */
int fr_svc_models_ready(const struct fr_service *s, const char **why) {
    if (s->models) return 1;
    if (why) *why = s->models_error[0] ? s->models_error : "models not loaded";
    return 0;
}

static void ctx_free(struct fr_svc_ctx *c) {
    if (!c) return;
    fr_face_ctx_free(c->face);
    fr_face_extra_ctx_free(c->extra);
    fr_face_attr_ctx_free(c->attr);
    fr_free(c);
}

static int ctx_new(struct fr_service *s, struct fr_svc_ctx **out) {
    struct fr_svc_ctx *c = fr_calloc(1, sizeof *c);
    int rc;
    if (!c) return -FR_E_NOMEM;
    if ((rc = fr_face_ctx_new(s->models, &c->face)) < 0 ||
        (s->extra && (rc = fr_face_extra_ctx_new(s->extra, &c->extra)) < 0) ||
        (s->attr && (rc = fr_face_attr_ctx_new(s->attr, &c->attr)) < 0)) {
        ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int fr__svc_ctx_get(struct fr_service *s, struct fr_svc_ctx **out) {
    const char *why;
    *out = NULL;
    if (!fr_svc_models_ready(s, &why)) return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "%s", why);
    pthread_mutex_lock(&s->pool_mu);
    for (;;) {
        if (s->pool) {
            *out = s->pool;
            s->pool = s->pool->next;
            pthread_mutex_unlock(&s->pool_mu);
            return 0;
        }
        if (s->pool_made < s->pool_max) break;
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    }
    s->pool_made++;
    pthread_mutex_unlock(&s->pool_mu);
    int rc = ctx_new(s, out);
    if (rc < 0) {
        pthread_mutex_lock(&s->pool_mu);
        s->pool_made--;
        pthread_cond_signal(&s->pool_cv);
        pthread_mutex_unlock(&s->pool_mu);
    }
    return rc;
}

void fr__svc_ctx_put(struct fr_service *s, struct fr_svc_ctx *c) {
    if (!c) return;
    pthread_mutex_lock(&s->pool_mu);
    c->next = s->pool;
    s->pool = c;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

static void add_missing(struct fr_service *s, const char *name) {
    for (int i = 0; i < s->n_missing; i++)
        if (!strcmp(s->missing[i], name)) return;
    if (s->n_missing < (int)(sizeof s->missing / sizeof s->missing[0]))
        snprintf(s->missing[s->n_missing++], sizeof s->missing[0], "%s", name);
}

/* "fr_detect, fr_pose" of the missing models, path-free (the log has the rest). */
static void missing_text(const struct fr_service *s, char *out, size_t len) {
    out[0] = 0;
    for (int i = 0; i < s->n_missing; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? ", " : "", s->missing[i]);
}

static void load_models(struct fr_service *s) {
    static const char *const all[] = { "fr_detect", "fr_landmark", "fr_feature", "fr_liveness", "fr_pose",
                                       "fr_age", "fr_gender", "fr_expression", "fr_eye" };
    char path[4200], names[256];
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {   /* every absent file, not only the first */
        snprintf(path, sizeof path, "%s/%s.onnx", s->cfg.models_dir, all[i]);
        if (access(path, R_OK) != 0) add_missing(s, all[i]);
    }
    int rc = fr_face_models_load(s->cfg.models_dir, &s->models);
    if (rc < 0) {
        /* the log gets the whole story (paths included); clients get the models' names */
        fr_log(FR_LOG_ERROR, "models: %s (recognition routes answer 503)", fr_err_detail());
        add_missing(s, !strcmp(fr_err_key(), "model") ? fr_err_value() : "face models");
        missing_text(s, names, sizeof names);
        snprintf(s->models_error, sizeof s->models_error, "model%s %s missing or invalid (see the server log)",
                 s->n_missing > 1 ? "s" : "", names);
        fr_face_models_free(s->models);
        s->models = NULL;
        return;
    }
    s->model_id = fr_face_model_id(s->models);
    if (fr_face_extra_load(s->cfg.models_dir, &s->extra) < 0) {   /* optional: liveness, and pose for quality */
        const char *m = !strcmp(fr_err_key(), "model") ? fr_err_value() : "fr_liveness";
        fr_log(FR_LOG_WARN, "liveness and head pose unavailable (%s): quality without pose, liveness answers 503",
               fr_err_detail());
        add_missing(s, m);
        snprintf(s->extra_error, sizeof s->extra_error, "model %s is missing or invalid (see the server log)", m);
        s->extra = NULL;
    }
    if (fr_face_attr_load(s->cfg.models_dir, &s->attr) < 0) {   /* optional: only attributes=true needs them */
        const char *m = !strcmp(fr_err_key(), "model") ? fr_err_value() : "fr_age";
        fr_log(FR_LOG_WARN, "attribute models: %s", fr_err_detail());
        add_missing(s, m);
        snprintf(s->attr_error, sizeof s->attr_error, "model %s is missing or invalid (see the server log)", m);
        s->attr = NULL;
    }
}

/* ---- index sync: per-client digests of the database against the snapshots ---- */

struct sync_acc {
    int64_t client;
    struct fr_index_digest d;
    int64_t n;
    fr_index *ix;               /* rebuilt collection, when the digests differ */
    int rebuild;
};

struct sync {
    struct sync_acc *v;
    size_t n, cap, last;
    int pass, err;
};

static struct sync_acc *sync_find(struct sync *y, int64_t client, int create) {
    if (y->last < y->n && y->v[y->last].client == client) return &y->v[y->last];
    for (size_t i = 0; i < y->n; i++)
        if (y->v[i].client == client) return &y->v[(y->last = i)];
    if (!create) return NULL;
    if (y->n == y->cap) {
        size_t cap = y->cap ? 2 * y->cap : 16;
        struct sync_acc *v = fr_realloc(y->v, cap * sizeof *v);
        if (!v) return NULL;
        y->v = v;
        y->cap = cap;
    }
    struct sync_acc *a = &y->v[y->n];
    memset(a, 0, sizeof *a);
    a->client = client;
    fr_index_digest_init(&a->d, FR_FACE_EMB_DIM);
    y->last = y->n++;
    return a;
}

static int sync_row(void *ctx, const struct fr_store_face_ref *f) {
    struct sync *y = ctx;
    if (f->dim != FR_FACE_EMB_DIM) return 0;
    struct sync_acc *a = sync_find(y, f->client_id, y->pass == 0);
    if (!a) return y->pass == 0 ? -FR_E_NOMEM : 0;
    if (y->pass == 0) {
        a->n++;
        return fr_index_digest_add(&a->d, f->id, f->subject_id, f->embedding);
    }
    if (!a->rebuild) return 0;
    if (!a->ix) {
        int rc = fr_index_new_exact(FR_FACE_EMB_DIM, &a->ix);
        if (rc == 0) rc = fr_index_reserve(a->ix, (size_t)a->n);
        if (rc < 0) return rc;
    }
    return fr_index_add(a->ix, f->id, f->subject_id, f->embedding);
}

struct stale { struct sync *y; const char *model; int64_t *drop; size_t n, cap; };

static void find_stale(void *arg, int64_t client, const char *model, size_t n_rows) {
    struct stale *st = arg;
    (void)n_rows;
    if (strcmp(model, st->model) || sync_find(st->y, client, 0)) return;
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 8;
        int64_t *v = fr_realloc(st->drop, cap * sizeof *v);
        if (!v) return;
        st->drop = v;
        st->cap = cap;
    }
    st->drop[st->n++] = client;
}

int fr_service_index_sync(struct fr_service *s, int *rebuilt_out) {
    struct sync y = { 0 };
    int rc, rebuilt = 0;
    if (rebuilt_out) *rebuilt_out = 0;
    if (!s->model_id) return 0;
    if ((rc = fr_store_faces_foreach(s->store, s->model_id, sync_row, &y)) < 0) goto out;
    for (size_t i = 0; i < y.n; i++) {
        uint8_t want[32], have[32];
        fr_index_digest_final(&y.v[i].d, want);
        y.v[i].rebuild = fr_index_set_digest(s->index, y.v[i].client, s->model_id, have) < 0 ||
                         memcmp(want, have, 32) != 0;
        rebuilt += y.v[i].rebuild;
    }
    if (rebuilt) {
        y.pass = 1;
        if ((rc = fr_store_faces_foreach(s->store, s->model_id, sync_row, &y)) < 0) goto out;
        for (size_t i = 0; i < y.n; i++) {
            if (!y.v[i].rebuild) continue;
            rc = fr_index_set_put(s->index, y.v[i].client, s->model_id, y.v[i].ix);
            y.v[i].ix = NULL;
            if (rc < 0) goto out;
        }
    }
    /* collections of clients that have no faces any more */
    struct stale st = { &y, s->model_id, NULL, 0, 0 };
    fr_index_set_foreach(s->index, find_stale, &st);
    for (size_t i = 0; i < st.n; i++) fr_index_set_drop_client(s->index, st.drop[i]);
    fr_free(st.drop);
    if (rebuilt_out) *rebuilt_out = rebuilt + (int)st.n;
out:
    for (size_t i = 0; i < y.n; i++) fr_index_free(y.v[i].ix);
    fr_free(y.v);
    return rc < 0 ? rc : 0;
}

static void index_dir(const struct fr_service *s, char *buf, size_t len) {
    snprintf(buf, len, "%s/index", s->cfg.data_dir);
}

int fr_service_open(const struct fr_svc_config *cfg, struct fr_service **out) {
    struct fr_service *s = fr_calloc(1, sizeof *s);
    int rc;
    *out = NULL;
    if (!s) return -FR_E_NOMEM;
    s->cfg = *cfg;
    s->started_ms = fr_time_ms();
    s->pool_max = cfg->threads > 0 ? cfg->threads : 1;
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    char db_url[4200];
    snprintf(db_url, sizeof db_url, "sqlite:%s", cfg->data_dir);
    if ((rc = fr_store_open(cfg->database_url ? cfg->database_url : db_url, &s->store)) < 0) goto fail;
    if ((rc = fr_index_set_new(FR_FACE_EMB_DIM, &s->index)) < 0) goto fail;
    load_models(s);
    char dir[4096];
    index_dir(s, dir, sizeof dir);
    mkdir(dir, 0700);
    double t0 = fr_time_ms();
    if (fr_index_set_load_all(s->index, dir) < 0)
        fr_log(FR_LOG_WARN, "index: a snapshot was unreadable (%s); rebuilding from the database", fr_err_detail());
    int rebuilt = 0;
    if ((rc = fr_service_index_sync(s, &rebuilt)) < 0) {
        fr_log(FR_LOG_ERROR, "index: cannot build from the database: %s", fr_err_detail());
        goto fail;
    }
    s->index_ok = 1;
    if ((rc = fr__svc_calib_start(s)) < 0) goto fail;
    fr_log(FR_LOG_INFO, "index: %zu faces, %d collections rebuilt from the database, %.0f ms",
           fr_index_set_total(s->index), rebuilt, fr_time_ms() - t0);
    *out = s;
    return 0;
fail:
    fr_service_close(s);
    return rc;
}

void fr_service_close(struct fr_service *s) {
    if (!s) return;
    fr__svc_calib_stop(s);
    if (s->index && s->index_ok) {
        char dir[4096];
        index_dir(s, dir, sizeof dir);
        if (fr_index_set_save_all(s->index, dir) < 0)
            fr_log(FR_LOG_WARN, "index: snapshot not written (%s); the next start rebuilds it", fr_err_detail());
    }
    while (s->pool) {
        struct fr_svc_ctx *c = s->pool;
        s->pool = c->next;
        ctx_free(c);
    }
    fr_index_set_free(s->index);
    fr_store_close(s->store);
    fr_face_models_free(s->models);
    fr_face_extra_free(s->extra);
    fr_face_attr_free(s->attr);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->write_mu);
    pthread_cond_destroy(&s->pool_cv);
    fr_free(s);
}

/* ---- deletions: the store first (the record), then the index ---- */

int fr_svc_subject_delete(struct fr_service *s, int64_t client_id, int64_t subject_id) {
    int64_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&s->write_mu);
    int rc = fr_store_subject_delete(s->store, client_id, subject_id, &ids, &n);
    for (size_t i = 0; rc == 0 && i < n && s->model_id; i++) fr_index_set_remove(s->index, client_id, s->model_id, ids[i]);
    pthread_mutex_unlock(&s->write_mu);
    fr_free(ids);
    return rc;
}

int fr_svc_face_delete(struct fr_service *s, int64_t client_id, int64_t face_id) {
    pthread_mutex_lock(&s->write_mu);
    int rc = fr_store_face_delete(s->store, client_id, face_id, NULL);
    if (rc == 0 && s->model_id) fr_index_set_remove(s->index, client_id, s->model_id, face_id);
    pthread_mutex_unlock(&s->write_mu);
    if (rc < 0) return rc == -FR_E_NOT_FOUND ? fr_err_set(FR_E_NOT_FOUND, "face %lld not found", (long long)face_id) : rc;
    return 0;
}

int fr_svc_client_delete(struct fr_service *s, int64_t client_id) {
    pthread_mutex_lock(&s->write_mu);
    int rc = fr_store_client_delete(s->store, client_id);
    if (rc == 0) fr_index_set_drop_client(s->index, client_id);
    pthread_mutex_unlock(&s->write_mu);
    return rc;
}
