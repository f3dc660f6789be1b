/* The service's state: store, models, worker contexts, and the index kept in
 * step with the database (see service.h). */
#include "service/service_int.h"

#include "facerec/metrics.h"

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
    struct fr_service *s;
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
        /* the kind the collection must be (the set asks the service's index_kind) */
        int rc = fr_index_new(fr_index_set_kind(y->s->index, f->client_id, y->s->model_id), FR_FACE_EMB_DIM, &a->ix);
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
    y.s = s;
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

/* Every collection's index kind: FACEREC_INDEX_KIND (one of
 * fr_index_kind_name's; "exact" by default). */
static const char *index_kind_for(void *ctx, int64_t client, const char *model) {
    const struct fr_service *s = ctx;
    (void)client;
    (void)model;
    return s->cfg.index_kind && s->cfg.index_kind[0] ? s->cfg.index_kind : "exact";
}

static void index_dir(const struct fr_service *s, char *buf, size_t len) {
    snprintf(buf, len, "%s/index", s->cfg.data_dir);
}

/* Registered once per process: a second service (tests, CLI) shares them. */
static int register_metrics(struct fr_svc_metrics *m) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct fr_svc_metrics once;
    static int done;
    int rc = 0;
    pthread_mutex_lock(&mu);
    if (!done &&
        (rc = fr_metric_new("facerec_gallery_faces", "Faces enrolled in each client's gallery.", FR_METRIC_GAUGE,
                            "client", NULL, 0, &once.gallery_faces)) == 0 &&
        (rc = fr_metric_new("facerec_embedding_quality", "Quality score of each face measured, in [0, 1].",
                            FR_METRIC_HISTOGRAM, NULL, fr_metric_buckets_unit, FR_METRIC_BUCKETS_UNIT_N,
                            &once.embedding_quality)) == 0 &&
        (rc = fr_metric_new("facerec_identify_decisions_total",
                            "Faces searched by identify, by decision (match, unknown, ambiguous, low_quality).",
                            FR_METRIC_COUNTER, "decision", NULL, 0, &once.identify_decisions)) == 0 &&
        (rc = fr_metric_new("facerec_webhook_pending", "Webhook deliveries waiting to be delivered.",
                            FR_METRIC_GAUGE, NULL, NULL, 0, &once.webhook_pending)) == 0 &&
        (rc = fr_metric_new("facerec_webhook_oldest_pending_seconds",
                            "Age of the oldest webhook delivery waiting (0 when none).", FR_METRIC_GAUGE, NULL, NULL,
                            0, &once.webhook_oldest)) == 0 &&
        (rc = fr_metric_new("facerec_active_sessions", "Camera sessions running on this node.", FR_METRIC_GAUGE,
                            NULL, NULL, 0, &once.active_sessions)) == 0 &&
        (rc = fr_metric_new("facerec_camera_frames_total",
                            "Camera frames by what became of them: analysed; busy (sampled, replaced by a newer "
                            "one before it was analysed); read (packets read from the streams).",
                            FR_METRIC_COUNTER, "result", NULL, 0, &once.camera_frames)) == 0 &&
        (rc = fr_metric_new("facerec_camera_reconnects_total", "Camera streams reconnected after a loss.",
                            FR_METRIC_COUNTER, NULL, NULL, 0, &once.camera_reconnects)) == 0 &&
        (rc = fr_metric_new("facerec_session_callback_latency_seconds",
                            "From a session event (a recognition's camera frame, a status change) to its callback "
                            "delivered.", FR_METRIC_HISTOGRAM, NULL,
                            fr_metric_buckets_seconds, FR_METRIC_BUCKETS_SECONDS_N, &once.callback_latency)) == 0 &&
        (rc = fr_metric_new("facerec_session_callbacks_total",
                            "Session callback attempts by result (delivered, failed).", FR_METRIC_COUNTER, "result",
                            NULL, 0, &once.callbacks)) == 0)
        done = 1;
    if (done) *m = once;
    pthread_mutex_unlock(&mu);
    return rc;
}

const char *fr_svc_node_id(const struct fr_service *s) { return s->node_id; }

const char *fr__svc_store_url(const struct fr_svc_config *cfg, char *buf, size_t cap) {
    const char *u = cfg->database_url;
    /* PostgreSQL's pool sized to the workers unless the URL says (?pool=N): each HTTP worker, and
     * the session runners, the outbox, the follower and the jobs besides */
    if (u && (!strncmp(u, "postgresql://", 13) || !strncmp(u, "postgres://", 11)) && !strstr(u, "pool=") &&
        strlen(u) + 16 < cap) {
        const int n = (cfg->threads > 0 ? cfg->threads : 1) + 6;
        snprintf(buf, cap, "%s%cpool=%d", u, strchr(u, '?') ? '&' : '?', n > 64 ? 64 : n);
        return buf;
    }
    if (u) return u;
    snprintf(buf, cap, "sqlite:%s", cfg->data_dir ? cfg->data_dir : ".");
    return buf;
}

int fr_service_open(const struct fr_svc_config *cfg, struct fr_service **out) {
    struct fr_service *s = fr_calloc(1, sizeof *s);
    int rc;
    *out = NULL;
    if (!s) return -FR_E_NOMEM;
    s->cfg = *cfg;
    if (!s->cfg.parts) s->cfg.parts = FR_SVC_ALL;
    if (cfg->node_id && *cfg->node_id) snprintf(s->node_id, sizeof s->node_id, "%s", cfg->node_id);
    else if (gethostname(s->node_id, sizeof s->node_id - 1) != 0) snprintf(s->node_id, sizeof s->node_id, "node");
    s->started_ms = fr_time_ms();
    s->pool_max = cfg->threads > 0 ? cfg->threads : 1;
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->usage_mu, NULL);
    pthread_mutex_init(&s->hooks_mu, NULL);
    pthread_mutex_init(&s->outcomes_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    const int parts = s->cfg.parts;
    if ((rc = register_metrics(&s->m)) < 0) goto fail;
    if ((rc = fr__svc_sessions_init(s)) < 0 || (rc = fr__svc_cache_init(s)) < 0) goto fail;
    char db_url[4200];
    if ((parts & FR_SVC_STORE) && (rc = fr_store_open(fr__svc_store_url(cfg, db_url, sizeof db_url), &s->store)) < 0)
        goto fail;
    if (parts & FR_SVC_MODELS) load_models(s);
    else snprintf(s->models_error, sizeof s->models_error, "the models are not loaded by this command");
    if ((parts & FR_SVC_INDEX) && s->store) {
        struct fr_index_set_opts io = { FR_FACE_EMB_DIM, index_kind_for, s };
        if ((rc = fr_index_set_new_opts(&io, &s->index)) < 0) goto fail;
        char dir[4096];
        index_dir(s, dir, sizeof dir);
        mkdir(dir, 0700);
        double t0 = fr_time_ms();
        /* the change log's head before the faces are read: what follows it is applied after */
        if ((rc = fr_store_changes_head(s->store, &s->log_seq)) < 0) goto fail;
        if (fr_index_set_load_all(s->index, dir) < 0)
            fr_log(FR_LOG_WARN, "index: a snapshot was unreadable (%s); rebuilding from the database", fr_err_detail());
        int rebuilt = 0;
        if ((rc = fr_service_index_sync(s, &rebuilt)) < 0) {
            fr_log(FR_LOG_ERROR, "index: cannot build from the database: %s", fr_err_detail());
            goto fail;
        }
        s->index_ok = 1;
        if ((rc = fr__svc_calib_start(s)) < 0 || (rc = fr__svc_follow_start(s)) < 0) goto fail;
        fr_log(FR_LOG_INFO, "index: %zu faces, %d collections rebuilt from the database, %.0f ms",
               fr_index_set_total(s->index), rebuilt, fr_time_ms() - t0);
    }
    *out = s;
    return 0;
fail:
    fr_service_close(s);
    return rc;
}

void fr_service_close(struct fr_service *s) {
    if (!s) return;
    fr__svc_calib_stop(s);
    fr__svc_follow_stop(s);
    fr__svc_sessions_fini(s);       /* suspended: they resume at the next start */
    fr__svc_outbox_stop(s);         /* attempts in flight are recorded before the store goes */
    if (s->store) fr_svc_usage_flush(s);
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
    pthread_mutex_destroy(&s->usage_mu);
    fr__svc_hooks_free(s);
    pthread_mutex_destroy(&s->hooks_mu);
    pthread_mutex_destroy(&s->outcomes_mu);
    fr_free(s->usage);
    pthread_cond_destroy(&s->pool_cv);
    fr__svc_cache_fini(s);
    fr_free(s);
}

const struct fr_svc_config *fr_svc_config_of(const struct fr_service *s) { return &s->cfg; }

const char *fr_svc_model_id(const struct fr_service *s) { return s->model_id; }

int fr__svc_need_store(const struct fr_service *s) {
    return s->store ? 0 : fr_err_set(FR_E_SERVICE_UNAVAILABLE, "this command runs without the database");
}

/* ---- status ---- */

void fr_svc_status(struct fr_service *s, int count, struct fr_svc_status *out) {
    const char *why = "";
    memset(out, 0, sizeof *out);
    out->recognition = fr_svc_models_ready(s, &why);
    out->models_error = out->recognition ? "" : why;
    out->model_id = s->model_id;
    for (int i = 0; i < s->n_missing; i++) out->missing[i] = s->missing[i];
    out->n_missing = s->n_missing;
    out->liveness = s->extra != NULL;
    out->attributes = s->attr != NULL;
    out->has_store = s->store != NULL;
    out->database_ok = s->store && fr_store_ping(s->store) == 0;
    out->database_backend = s->store ? fr_store_backend(s->store) : "none";
    struct fr_store_info di;
    if (out->database_ok && fr_store_info(s->store, &di) == 0) {
        snprintf(out->database_version, sizeof out->database_version, "%s", di.server_version);
        out->database_pool_size = di.pool_size;
        out->database_pool_in_use = di.pool_in_use;
    }
    out->faces = -1;
    if (count && out->database_ok && fr_store_face_count(s->store, 0, &out->faces) < 0) out->faces = -1;
    out->has_index = s->index != NULL;
    out->index_ok = s->index_ok;
    out->index_kind = index_kind_for(s, 0, NULL);
    out->index_faces = s->index ? (int64_t)fr_index_set_total(s->index) : 0;
    if (count && out->database_ok) {
        int64_t pending = 0, oldest = 0, failing = 0;
        const int64_t now = fr_now_ms();
        if (fr_store_outbox_stats(s->store, &pending, &oldest) == 0) {
            out->webhooks_pending = pending;
            out->webhooks_oldest_s = pending && oldest ? (double)(now - oldest) / 1000.0 : 0;
        }
        if (fr_store_webhook_failing_count(s->store, now - 3600000, &failing) == 0) out->webhooks_failing = failing;
    }
    out->threads = s->cfg.threads;
    out->uptime_s = (fr_time_ms() - s->started_ms) / 1000.0;
}

static void gallery_gauge(void *arg, int64_t client, const char *model, size_t n_rows) {
    const struct fr_service *s = arg;
    char id[24];
    (void)model;
    snprintf(id, sizeof id, "%lld", (long long)client);
    fr_metric_set(s->m.gallery_faces, (double)n_rows, id);
}

void fr_svc_metrics_update(struct fr_service *s) {
    if (s->index) fr_index_set_foreach(s->index, gallery_gauge, s);
    int64_t pending = 0, oldest = 0;
    if (s->store && fr_store_outbox_stats(s->store, &pending, &oldest) == 0) {
        fr_metric_set(s->m.webhook_pending, (double)pending);
        fr_metric_set(s->m.webhook_oldest, pending && oldest ? (double)(fr_now_ms() - oldest) / 1000.0 : 0.0);
    }
}
