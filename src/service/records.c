/* The service's records: the first start's credentials, API-key checks,
 * clients, subjects, faces, the audit log, usage counts and housekeeping.
 * Every change writes an audit row naming who made it. */
#include "service/service_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_INITIALIZED "initialized"
#define IDEM_KEEP_MS (24LL * 3600 * 1000)     /* an Idempotency-Key is honoured for a day */
#define INDEX_LOG_KEEP_MS (7LL * 86400000)   /* the index change log is kept a week */

/* ---- audit ---- */

int fr__svc_audit(struct fr_service *s, fr_store *st, const struct fr_svc_actor *who, const char *action,
                  const char *target_fmt, int64_t id, const char *details) {
    char actor[64], target[64];
    if (who && who->name) snprintf(actor, sizeof actor, "%s", who->name);
    else if (who && who->client_id > 0) snprintf(actor, sizeof actor, "client:%lld", (long long)who->client_id);
    else snprintf(actor, sizeof actor, "admin");
    if (target_fmt) snprintf(target, sizeof target, target_fmt, (long long)id);
    int rc = fr_store_audit_append(st ? st : s->store, actor, action, target_fmt ? target : NULL,
                                   who ? who->request_id : NULL, details, NULL);
    if (rc < 0) fr_log(FR_LOG_ERROR, "audit row %s not written: %s", action, fr_err_detail());
    return rc;
}

/* {"<key>": "<value>"<extra>} as JSON text (fr_free). */
static char *string_details(const char *key, const char *value, const char *extra) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "{\"%s\":\"", key);
    fr_json_escape(f, value);
    fprintf(f, "\"%s}", extra ? extra : "");
    if (fclose(f) != 0) { free(buf); return NULL; }
    char *out = fr_strdup(buf);
    free(buf);
    return out;
}

void fr_svc_audits_free(struct fr_svc_audit *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        fr_free(v[i].actor);
        fr_free(v[i].action);
        fr_free(v[i].target);
        fr_free(v[i].request_id);
        fr_free(v[i].details);
    }
    fr_free(v);
}

int fr_svc_audit_list(struct fr_service *s, int limit, int64_t cursor, struct fr_svc_audit **rows, size_t *n,
                      int64_t *next) {
    struct fr_store_audit *a = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_audit_list(s->store, limit, cursor, &a, &m, next)) < 0) return rc;
    struct fr_svc_audit *v = fr_calloc(m + 1, sizeof *v);
    if (!v) { fr_store_audits_free(a, m); return -FR_E_NOMEM; }
    for (size_t i = 0; i < m; i++) {   /* the strings change hands */
        v[i] = (struct fr_svc_audit){ a[i].id, a[i].at, a[i].actor, a[i].action, a[i].target, a[i].request_id,
                                      a[i].details };
        a[i].actor = a[i].action = a[i].target = a[i].request_id = a[i].details = NULL;
    }
    fr_store_audits_free(a, m);
    *rows = v;
    *n = m;
    return 0;
}

/* ---- credentials ---- */

/* A new key: the key itself (shown once), the prefix kept in clear to find
 * its owner, and the hash kept to check it. */
struct new_key {
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], hash[FR_KEY_HASH_LEN + 1];
};

static int make_key(const char *tag, struct new_key *k) {
    int rc = fr_key_generate(tag, k->key);
    if (rc < 0) return rc;
    fr_key_prefix(k->key, k->prefix);
    return fr_key_hash(k->key, k->hash);
}

int fr_svc_bootstrap(struct fr_service *s, const char *admin_token, struct fr_svc_bootstrap *out) {
    char *stored = NULL;
    int rc = fr__svc_need_store(s);
    memset(out, 0, sizeof *out);
    if (rc < 0) return rc;
    if (admin_token && admin_token[0]) {
        if ((rc = fr_key_hash(admin_token, s->admin_hash)) < 0 ||
            (rc = fr_store_admin_set(s->store, FR_STORE_ADMIN_TOKEN_HASH, s->admin_hash)) < 0)
            return rc;
    } else if ((rc = fr_store_admin_get(s->store, FR_STORE_ADMIN_TOKEN_HASH, &stored)) == 0) {
        snprintf(s->admin_hash, sizeof s->admin_hash, "%s", stored);
        fr_free(stored);
    } else if (rc == -FR_E_NOT_FOUND) {
        struct new_key k;
        if ((rc = make_key("fra", &k)) < 0 || (rc = fr_store_admin_set(s->store, FR_STORE_ADMIN_TOKEN_HASH, k.hash)) < 0)
            return rc;
        memcpy(s->admin_hash, k.hash, sizeof s->admin_hash);
        memcpy(out->admin_token, k.key, sizeof out->admin_token);
    } else {
        return rc;
    }
    if (fr_store_admin_get(s->store, ADMIN_INITIALIZED, &stored) == 0) {
        fr_free(stored);
        return 0;
    }
    struct fr_svc_actor who = { 0, "admin", NULL };
    struct fr_svc_client c = { 0 };
    if ((rc = fr_svc_client_create(s, &who, "default", -1, -1, &c)) < 0) return rc;
    out->first_client_id = c.id;
    memcpy(out->first_api_key, c.api_key, sizeof out->first_api_key);
    fr_svc_client_free(&c);
    return fr_store_admin_set(s->store, ADMIN_INITIALIZED, "1");
}

int fr_svc_auth_admin(struct fr_service *s, const char *token) {
    if (!token || !s->admin_hash[0] || !fr_key_verify(token, s->admin_hash))
        return fr_err_set(FR_E_UNAUTHORIZED, "admin routes need Authorization: Bearer <admin token>");
    return 0;
}

/* ---- clients ---- */

void fr_svc_client_free(struct fr_svc_client *c) {
    if (!c) return;
    fr_free(c->name);
    c->name = NULL;
}

void fr_svc_clients_free(struct fr_svc_client *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_svc_client_free(&v[i]);
    fr_free(v);
}

static void client_from(struct fr_store_client *r, struct fr_svc_client *c) {
    memset(c, 0, sizeof *c);
    c->id = r->id;
    c->name = r->name;      /* changes hands */
    r->name = NULL;
    snprintf(c->key_prefix, sizeof c->key_prefix, "%s", r->key_prefix ? r->key_prefix : "");
    c->rate_limit_per_hour = r->rate_limit_per_hour;
    c->rate_limit_per_day = r->rate_limit_per_day;
    c->disabled = r->disabled;
    c->created_at = r->created_at;
    c->subjects = c->faces = -1;
}

int fr_svc_auth_client(struct fr_service *s, const char *api_key, struct fr_svc_client *out) {
    struct fr_store_client r = { 0 };
    char prefix[FR_KEY_PREFIX_LEN + 1];
    memset(out, 0, sizeof *out);
    if (!api_key || !*api_key) return fr_err_set(FR_E_UNAUTHORIZED, "missing X-API-Key header");
    if (strlen(api_key) != FR_KEY_LEN) return fr_err_set(FR_E_UNAUTHORIZED, "invalid API key");
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    fr_key_prefix(api_key, prefix);
    rc = fr_store_client_get_by_prefix(s->store, prefix, &r);
    if (rc == 0) fr__svc_cache_client_put(s, &r);
    else if (fr__svc_store_away(rc) && fr__svc_cache_client_get(s, prefix, &r) == 0)
        rc = 0;   /* the database is away: the client as last read (identify goes on from the index) */
    if (rc == -FR_E_NOT_FOUND || (rc == 0 && !fr_key_verify(api_key, r.key_hash))) {
        fr_store_client_free(&r);
        return fr_err_set(FR_E_UNAUTHORIZED, "invalid API key");
    }
    if (rc < 0) return rc;
    client_from(&r, out);
    fr_store_client_free(&r);
    if (out->disabled) {
        fr_svc_client_free(out);
        return fr_err_set(FR_E_UNAUTHORIZED, "this client is disabled");
    }
    return 0;
}

static int client_not_found(int rc, int64_t id) {
    return rc == -FR_E_NOT_FOUND ? fr_err_set(FR_E_NOT_FOUND, "client %lld not found", (long long)id) : rc;
}

/* The row, without counts. */
static int client_row(struct fr_service *s, int64_t id, struct fr_svc_client *out) {
    struct fr_store_client r = { 0 };
    int rc = fr_store_client_get(s->store, id, &r);
    if (rc < 0) return client_not_found(rc, id);
    client_from(&r, out);
    fr_store_client_free(&r);
    return 0;
}

int fr_svc_client_create(struct fr_service *s, const struct fr_svc_actor *who, const char *name, int64_t per_hour,
                         int64_t per_day, struct fr_svc_client *out) {
    struct new_key k;
    int64_t id;
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = make_key("frk", &k)) < 0) return rc;
    if (per_hour < 0) per_hour = s->cfg.default_rate_per_hour;
    if (per_day < 0) per_day = s->cfg.default_rate_per_day;
    if ((rc = fr_store_client_create(s->store, name, k.prefix, k.hash, per_hour, per_day, &id)) < 0) return rc;
    char *d = string_details("name", name, NULL);
    fr__svc_audit(s, NULL, who, "client.create", "client:%lld", id, d);
    fr_free(d);
    if ((rc = client_row(s, id, out)) < 0) return rc;
    memcpy(out->api_key, k.key, sizeof out->api_key);
    return 0;
}

int fr_svc_client_list(struct fr_service *s, struct fr_svc_client **rows, size_t *n) {
    struct fr_store_client *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_client_list(s->store, &r, &m)) < 0) return rc;
    struct fr_svc_client *v = fr_calloc(m + 1, sizeof *v);
    if (!v) { fr_store_clients_free(r, m); return -FR_E_NOMEM; }
    for (size_t i = 0; i < m; i++) client_from(&r[i], &v[i]);
    fr_store_clients_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_client_get(struct fr_service *s, int64_t id, struct fr_svc_client *out) {
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = client_row(s, id, out)) < 0) return rc;
    if (fr_store_subject_count(s->store, id, &out->subjects) < 0) out->subjects = -1;
    if (fr_store_face_count(s->store, id, &out->faces) < 0) out->faces = -1;
    return 0;
}

int fr_svc_client_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                         const struct fr_svc_client_update *u, struct fr_svc_client *out) {
    struct fr_store_client_update su = { u->name, u->rate_limit_per_hour, u->rate_limit_per_day, u->disabled };
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = client_row(s, id, out)) < 0) return rc;
    fr_svc_client_free(out);
    if ((rc = fr_store_client_update(s->store, id, &su)) < 0) return client_not_found(rc, id);
    char extra[160];
    snprintf(extra, sizeof extra, ",\"rate_limit_per_hour\":%lld,\"rate_limit_per_day\":%lld,\"disabled\":%d",
             (long long)u->rate_limit_per_hour, (long long)u->rate_limit_per_day, u->disabled);
    char *d = u->name ? string_details("name", u->name, extra) : NULL;
    if (!u->name) {
        char buf[192];
        snprintf(buf, sizeof buf, "{%s}", extra + 1);
        d = fr_strdup(buf);
    }
    fr__svc_audit(s, NULL, who, "client.update", "client:%lld", id, d);
    fr_free(d);
    return client_row(s, id, out);
}

int fr_svc_client_rotate_key(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                             struct fr_svc_client *out) {
    struct new_key k;
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = client_row(s, id, out)) < 0) return rc;
    fr_svc_client_free(out);
    if ((rc = make_key("frk", &k)) < 0) return rc;
    if ((rc = fr_store_client_set_key(s->store, id, k.prefix, k.hash)) < 0) return client_not_found(rc, id);
    fr__svc_audit(s, NULL, who, "client.rotate_key", "client:%lld", id, NULL);
    if ((rc = client_row(s, id, out)) < 0) return rc;
    memcpy(out->api_key, k.key, sizeof out->api_key);
    return 0;
}

int fr_svc_client_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id) {
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    pthread_mutex_lock(&s->write_mu);
    rc = fr_store_client_delete(s->store, id);
    if (rc == 0 && s->index) fr_index_set_drop_client(s->index, id);
    pthread_mutex_unlock(&s->write_mu);
    if (rc < 0) return client_not_found(rc, id);
    fr__svc_audit(s, NULL, who, "client.delete", "client:%lld", id, NULL);
    return 0;
}

/* ---- usage: counted in memory, written every few seconds ---- */

struct svc_usage { int64_t client; char day[11]; const char *op; int64_t n; };

void fr_svc_usage_count(struct fr_service *s, int64_t client, const char *op) {
    char day[11];
    fr_utc_day(fr_now_ms(), day);
    pthread_mutex_lock(&s->usage_mu);
    size_t i = 0;
    while (i < s->n_usage && !(s->usage[i].client == client && s->usage[i].op == op && !strcmp(s->usage[i].day, day)))
        i++;
    if (i == s->n_usage) {
        if (s->n_usage == s->cap_usage) {
            size_t cap = s->cap_usage ? 2 * s->cap_usage : 32;
            struct svc_usage *u = fr_realloc(s->usage, cap * sizeof *u);
            if (!u) {
                pthread_mutex_unlock(&s->usage_mu);
                return;
            }
            s->usage = u;
            s->cap_usage = cap;
        }
        s->usage[i] = (struct svc_usage){ client, { 0 }, op, 0 };
        memcpy(s->usage[i].day, day, sizeof day);
        s->n_usage++;
    }
    s->usage[i].n++;
    pthread_mutex_unlock(&s->usage_mu);
}

void fr_svc_usage_flush(struct fr_service *s) {
    if (!s->store) return;
    pthread_mutex_lock(&s->usage_mu);
    struct svc_usage *u = s->usage;
    size_t n = s->n_usage;
    s->usage = NULL;
    s->n_usage = s->cap_usage = 0;
    pthread_mutex_unlock(&s->usage_mu);
    fr_store *tx = NULL;
    if (n && fr_store_tx_begin(s->store, &tx) == 0) {
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) rc = fr_store_usage_add(tx, u[i].client, u[i].day, u[i].op, u[i].n);
        if (rc == 0) rc = fr_store_tx_commit(tx);
        else fr_store_tx_rollback(tx);
        if (rc < 0) fr_log(FR_LOG_WARN, "usage counts not written: %s", fr_err_detail());
    }
    fr_free(u);
}

void fr_svc_usages_free(struct fr_svc_usage *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_free(v[i].operation);
    fr_free(v);
}

int fr_svc_usage_list(struct fr_service *s, int64_t client, int days, char from_day[11], struct fr_svc_usage **rows,
                      size_t *n) {
    struct fr_store_usage *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    fr_svc_usage_flush(s);
    fr_utc_day(fr_now_ms() - (int64_t)(days - 1) * 86400000LL, from_day);
    if ((rc = fr_store_usage_list(s->store, client, from_day, &r, &m)) < 0) return rc;
    struct fr_svc_usage *v = fr_calloc(m + 1, sizeof *v);
    if (!v) { fr_store_usages_free(r, m); return -FR_E_NOMEM; }
    for (size_t i = 0; i < m; i++) {
        memcpy(v[i].day, r[i].day, sizeof v[i].day);
        v[i].operation = r[i].operation;
        r[i].operation = NULL;
        v[i].count = r[i].count;
    }
    fr_store_usages_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

/* ---- housekeeping ---- */

int fr_svc_purge(struct fr_service *s, int photo_days, int64_t *photos, int64_t *keys, int64_t *deliveries) {
    int rc = fr__svc_need_store(s);
    *photos = *keys = *deliveries = 0;
    if (rc < 0) return rc;
    const int64_t now = fr_now_ms();
    if (photo_days > 0 && (rc = fr_store_face_image_purge(s->store, now - (int64_t)photo_days * 86400000LL, photos)) < 0)
        return rc;
    if (s->cfg.webhook_retention_days > 0 &&
        (rc = fr_store_delivery_purge(s->store, now - (int64_t)s->cfg.webhook_retention_days * 86400000LL,
                                      deliveries)) < 0)
        return rc;
    /* the index change log: a week (a node that is behind it rebuilds its index) */
    int64_t n_log = 0, through = 0;
    if ((rc = fr_store_changes_purge(s->store, now - INDEX_LOG_KEEP_MS, &n_log, &through)) < 0) return rc;
    return fr_store_idem_purge(s->store, now - IDEM_KEEP_MS, keys);
}

int fr_svc_backup(struct fr_service *s, const struct fr_svc_actor *who, const char *path) {
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_backup(s->store, path)) < 0) return rc;
    fr__svc_audit(s, NULL, who, "store.backup", NULL, 0, NULL);
    return 0;
}

int fr_svc_restore(const struct fr_svc_config *cfg, const struct fr_svc_actor *who, const char *path, int force) {
    char url[4200];
    struct fr_svc_config only_store = *cfg;
    struct fr_service *s = NULL;
    int rc = fr_store_restore(fr__svc_store_url(cfg, url, sizeof url), path, force ? FR_STORE_RESTORE_FORCE : 0);
    if (rc < 0) return rc;
    /* the restore's own audit row, after the backup's rows it brought back */
    only_store.parts = FR_SVC_STORE;
    if ((rc = fr_service_open(&only_store, &s)) < 0) return rc;
    char *d = string_details("file", path, force ? ",\"force\":true" : NULL);
    rc = fr__svc_audit(s, NULL, who, "store.restore", NULL, 0, d);
    fr_free(d);
    fr_service_close(s);
    return rc;
}

/* ---- subjects ---- */

void fr_svc_subject_free(struct fr_svc_subject *v) {
    if (!v) return;
    fr_free(v->name);
    fr_free(v->external_id);
    fr_free(v->metadata);
    memset(v, 0, sizeof *v);
}

void fr_svc_subjects_free(struct fr_svc_subject *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_svc_subject_free(&v[i]);
    fr_free(v);
}

static void subject_from(struct fr_store_subject *r, struct fr_svc_subject *v) {
    *v = (struct fr_svc_subject){ r->id, r->name, r->external_id, r->metadata, r->n_faces, r->created_at,
                                  r->updated_at };
    r->name = r->external_id = r->metadata = NULL;
}

static int subject_not_found(int rc, int64_t id) {
    if (rc == -FR_E_SUBJECT_NOT_FOUND || rc == -FR_E_NOT_FOUND)
        return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
    return rc;
}

int fr_svc_subject_get(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_subject *out) {
    struct fr_store_subject r = { 0 };
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    if ((rc = fr_store_subject_get(s->store, client, id, &r)) < 0) return subject_not_found(rc, id);
    subject_from(&r, out);
    fr_store_subject_free(&r);
    return 0;
}

/* A subject change in one transaction: the row, its audit row and its event. */
static int subject_event(struct fr_service *s, fr_store *tx, const struct fr_svc_actor *who, const char *type,
                         int64_t id, const char *ext, const char *name, int64_t faces_deleted) {
    struct fr__jw w;
    char *data = NULL;
    int rc = fr__jw_begin(&w);
    if (rc < 0) return rc;
    fr__jw_subject(&w, "subject", id, ext, name);
    if (faces_deleted >= 0) fr__jw_int(&w, "faces_deleted", faces_deleted);
    if ((rc = fr__jw_end(&w, &data)) < 0) return rc;
    rc = fr__svc_emit(s, tx, who->client_id, type, data, 0, NULL);
    fr_free(data);
    return rc;
}

/* Commit tx when rc is 0 (else roll it back); wake the dispatcher after a commit. */
static int finish_tx(struct fr_service *s, fr_store *tx, int rc) {
    if (rc < 0) {
        fr_store_tx_rollback(tx);
        return rc;
    }
    if ((rc = fr_store_tx_commit(tx)) == 0) fr__svc_events_committed(s);
    return rc;
}

int fr_svc_subject_create(struct fr_service *s, const struct fr_svc_actor *who, const struct fr_svc_subject_fields *f,
                          struct fr_svc_subject *out) {
    int64_t id = 0;
    fr_store *tx = NULL;
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    const char *ext = f->external_id && *f->external_id ? f->external_id : NULL;
    const char *meta = f->metadata && *f->metadata ? f->metadata : NULL;
    rc = fr_store_subject_create(tx, who->client_id, f->name, ext, meta, &id);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "subject.create", "subject:%lld", id, NULL);
    if (rc == 0) rc = subject_event(s, tx, who, "subject.created", id, ext, f->name, -1);
    if ((rc = finish_tx(s, tx, rc)) < 0) return rc;
    return fr_svc_subject_get(s, who->client_id, id, out);
}

int fr_svc_subject_list(struct fr_service *s, int64_t client, int limit, int64_t cursor, struct fr_svc_subject **rows,
                        size_t *n, int64_t *next) {
    struct fr_store_subject *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_subject_list(s->store, client, limit, cursor, &r, &m, next)) < 0) return rc;
    struct fr_svc_subject *v = fr_calloc(m + 1, sizeof *v);
    if (!v) { fr_store_subjects_free(r, m); return -FR_E_NOMEM; }
    for (size_t i = 0; i < m; i++) subject_from(&r[i], &v[i]);
    fr_store_subjects_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_subject_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                          const struct fr_svc_subject_fields *f, struct fr_svc_subject *out) {
    struct fr_store_subject_update u = { f->name, f->external_id, f->metadata };
    struct fr_store_subject now = { 0 };
    fr_store *tx = NULL;
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_subject_update(tx, who->client_id, id, &u);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "subject.update", "subject:%lld", id, NULL);
    if (rc == 0) rc = fr_store_subject_get(tx, who->client_id, id, &now);
    if (rc == 0) rc = subject_event(s, tx, who, "subject.updated", id, now.external_id, now.name, -1);
    fr_store_subject_free(&now);
    if ((rc = finish_tx(s, tx, rc)) < 0) return subject_not_found(rc, id);
    return fr_svc_subject_get(s, who->client_id, id, out);
}

int fr_svc_subject_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id) {
    struct fr_store_subject was = { 0 };
    int64_t *ids = NULL;
    size_t n = 0;
    fr_store *tx = NULL;
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    pthread_mutex_lock(&s->write_mu);
    if ((rc = fr_store_tx_begin(s->store, &tx)) == 0) {
        rc = fr_store_subject_get(tx, who->client_id, id, &was);
        if (rc == 0) rc = fr_store_subject_delete(tx, who->client_id, id, &ids, &n);
        if (rc == 0) rc = fr__svc_audit(s, tx, who, "subject.delete", "subject:%lld", id, NULL);
        if (rc == 0) rc = subject_event(s, tx, who, "subject.deleted", id, was.external_id, was.name, (int64_t)n);
        rc = finish_tx(s, tx, rc);
    }
    for (size_t i = 0; rc == 0 && s->index && s->model_id && i < n; i++)
        fr_index_set_remove(s->index, who->client_id, s->model_id, ids[i]);
    pthread_mutex_unlock(&s->write_mu);
    fr_store_subject_free(&was);
    fr_free(ids);
    return rc < 0 ? subject_not_found(rc, id) : 0;
}

/* ---- faces ---- */

void fr_svc_face_rows_free(struct fr_svc_face_row *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_free(v[i].model_id);
    fr_free(v);
}

int fr_svc_face_list(struct fr_service *s, int64_t client, int64_t subject, struct fr_svc_face_row **rows, size_t *n) {
    struct fr_svc_subject subj;
    struct fr_store_face *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr_svc_subject_get(s, client, subject, &subj);
    fr_svc_subject_free(&subj);
    if (rc < 0 || (rc = fr_store_face_list(s->store, client, subject, &r, &m)) < 0) return rc;
    struct fr_svc_face_row *v = fr_calloc(m + 1, sizeof *v);
    if (!v) { fr_store_faces_free(r, m); return -FR_E_NOMEM; }
    for (size_t i = 0; i < m; i++) {
        const float *b = r[i].bbox;     /* stored as x, y, w, h */
        v[i] = (struct fr_svc_face_row){ r[i].id, r[i].subject_id, { b[0], b[1], b[0] + b[2], b[1] + b[3] },
                                         r[i].quality, r[i].liveness, r[i].model_id, r[i].created_at };
        r[i].model_id = NULL;
    }
    fr_store_faces_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_face_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t face_id) {
    int64_t subject = 0;
    fr_store *tx = NULL;
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    pthread_mutex_lock(&s->write_mu);
    if ((rc = fr_store_tx_begin(s->store, &tx)) == 0) {
        rc = fr_store_face_delete(tx, who->client_id, face_id, &subject);
        if (rc == 0) rc = fr__svc_audit(s, tx, who, "face.delete", "face:%lld", face_id, NULL);
        if (rc == 0) {
            struct fr__jw w;
            char *data = NULL;
            if ((rc = fr__jw_begin(&w)) == 0) {
                fr__jw_open(&w, "face", 0);
                fr__jw_int(&w, "id", face_id);
                fr__jw_int(&w, "subject_id", subject);
                fr__jw_close(&w);
                rc = fr__jw_end(&w, &data);
            }
            if (rc == 0) rc = fr__svc_emit(s, tx, who->client_id, "face.deleted", data, 0, NULL);
            fr_free(data);
        }
        rc = finish_tx(s, tx, rc);
    }
    if (rc == 0 && s->index && s->model_id) fr_index_set_remove(s->index, who->client_id, s->model_id, face_id);
    pthread_mutex_unlock(&s->write_mu);
    if (rc < 0) return rc == -FR_E_NOT_FOUND ? fr_err_set(FR_E_NOT_FOUND, "face %lld not found", (long long)face_id) : rc;
    return 0;
}
