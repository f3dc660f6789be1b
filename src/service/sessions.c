/* Cameras and camera sessions: the requests' rules, the rows, the answers.
 * What runs a session (threads, cameras, tracker, callbacks) is in
 * session_run.c. */
#include "service_int.h"

#include "sessions/camera.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FPS_MIN 0.1
#define FPS_MAX 30.0
#define MAX_DURATION_MS (7LL * 24 * 3600 * 1000)
#define BACKOFF_MAX_S 3600

static int bad_field(const char *field, const char *fmt, const char *what) {
    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, fmt, what);
}

/* 1..FR_SVC_SLOT_MAX bytes, no control characters. */
static int check_text(const char *v, const char *field, int required) {
    if (!v) return required ? bad_field(field, "%s is required", field) : 0;
    size_t n = strlen(v);
    if (!n) return bad_field(field, "%s must not be empty", field);
    if (n > FR_SVC_SLOT_MAX) return bad_field(field, "%s is longer than 128 bytes", field);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return bad_field(field, "%s has a control character", field);
    return 0;
}

static int check_camera_url(const struct fr_svc_config *cfg, const char *url, const char *field) {
    int rc = fr_camera_check_url(url, cfg->camera_allow_files);
    if (rc < 0) fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "%s", fr_err_detail());
    return rc < 0 ? -FR_E_VALIDATION_ERROR : 0;
}

static void redact(const char *url, char **out) {
    char buf[FR_CAMERA_URL_MAX + 16];
    fr_camera_redact(url ? url : "", buf, sizeof buf);
    *out = fr_strdup(buf);
}

/* ---- registered cameras ---- */

void fr_svc_camera_free(struct fr_svc_camera *c) {
    if (!c) return;
    fr_free(c->name);
    fr_free(c->url);
    memset(c, 0, sizeof *c);
}

void fr_svc_cameras_free(struct fr_svc_camera *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_svc_camera_free(&v[i]);
    fr_free(v);
}

static void camera_from(const struct fr_store_camera *r, struct fr_svc_camera *o) {
    o->id = r->id;
    o->name = fr_strdup(r->name);
    redact(r->url, &o->url);
    o->transport = r->transport;
    o->created_at = r->created_at;
    o->updated_at = r->updated_at;
}

int fr_svc_camera_check(const struct fr_svc_config *cfg, const struct fr_svc_camera_fields *f, int create) {
    int rc;
    if ((rc = check_text(f->name, "name", create)) < 0) return rc;
    if (create && !f->url) return bad_field("url", "%s is required", "url");
    if (f->url && (rc = check_camera_url(cfg, f->url, "url")) < 0) return rc;
    if (f->transport > 1) return bad_field("transport", "%s must be \"tcp\" or \"udp\"", "transport");
    return 0;
}

static int camera_read(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_camera *out) {
    struct fr_store_camera r = { 0 };
    int rc = fr_store_camera_get(s->store, client, id, &r);
    if (rc == -FR_E_NOT_FOUND) return fr_err_set(FR_E_NOT_FOUND, "camera %lld not found", (long long)id);
    if (rc < 0) return rc;
    camera_from(&r, out);
    fr_store_camera_free(&r);
    return 0;
}

int fr_svc_camera_create(struct fr_service *s, const struct fr_svc_actor *who, const struct fr_svc_camera_fields *f,
                         struct fr_svc_camera *out) {
    memset(out, 0, sizeof *out);
    int64_t id = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_svc_camera_check(&s->cfg, f, 1)) < 0) return rc;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_camera_create(tx, who->client_id, f->name, f->url, f->transport > 0 ? f->transport : 0, &id);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "camera.create", "camera:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    return rc < 0 ? rc : camera_read(s, who->client_id, id, out);
}

int fr_svc_camera_list(struct fr_service *s, int64_t client, struct fr_svc_camera **rows, size_t *n) {
    struct fr_store_camera *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_camera_list(s->store, client, &r, &m)) < 0) return rc;
    struct fr_svc_camera *v = fr_calloc(m + 1, sizeof *v);
    if (!v) {
        fr_store_cameras_free(r, m);
        return -FR_E_NOMEM;
    }
    for (size_t i = 0; i < m; i++) camera_from(&r[i], &v[i]);
    fr_store_cameras_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_camera_get(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_camera *out) {
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    return rc < 0 ? rc : camera_read(s, client, id, out);
}

int fr_svc_camera_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                         const struct fr_svc_camera_fields *f, struct fr_svc_camera *out) {
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_svc_camera_check(&s->cfg, f, 0)) < 0) return rc;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_camera_update(tx, who->client_id, id, f->name, f->url, f->transport);
    if (rc == -FR_E_NOT_FOUND) rc = fr_err_set(FR_E_NOT_FOUND, "camera %lld not found", (long long)id);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "camera.update", "camera:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    return rc < 0 ? rc : camera_read(s, who->client_id, id, out);
}

int fr_svc_camera_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id) {
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_camera_delete(tx, who->client_id, id);
    if (rc == -FR_E_NOT_FOUND) rc = fr_err_set(FR_E_NOT_FOUND, "camera %lld not found", (long long)id);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "camera.delete", "camera:%lld", id, NULL);
    return rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
}

/* ---- the callbacks' retry policy as text ---- */

int fr__svc_policy_parse(const char *text, struct fr_outbox_policy *p) {
    memset(p, 0, sizeof *p);
    char *end;
    long n = strtol(text, &end, 10);
    if (*end != ';' || n < 1 || n > FR_OUTBOX_MAX_SCHEDULE) return -FR_E_INVALID_ARGUMENT;
    const char *q = end + 1;
    for (int i = 0; i < n; i++) {
        long long v = strtoll(q, &end, 10);
        if (end == q || v < 0 || (i && v < p->seconds[i - 1]) || (*end != ',' && *end != ';'))
            return -FR_E_INVALID_ARGUMENT;
        p->seconds[i] = v;
        q = end + 1;
        if (*end == ';' && i != n - 1) return -FR_E_INVALID_ARGUMENT;
    }
    if (end[0] != ';') return -FR_E_INVALID_ARGUMENT;
    long long t = strtoll(q, &end, 10);
    if (*end || t < 1 || t > 3600000) return -FR_E_INVALID_ARGUMENT;
    p->n = (int)n;
    p->timeout_ms = t;
    p->jitter = 0;            /* the session backends' schedule, as they expect it */
    return 0;
}

/* attempts, waits after each failed attempt, timeout → "3;0,1,3;10000". */
static void policy_text(int attempts, const double *backoff, int n_backoff, double timeout_s, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "%d;0", attempts);
    int64_t at = 0;
    for (int i = 1; i < attempts && n < cap; i++) {
        at += (int64_t)backoff[i - 1 < n_backoff ? i - 1 : n_backoff - 1];
        n += (size_t)snprintf(out + n, cap - n, ",%lld", (long long)at);
    }
    if (n < cap) snprintf(out + n, cap - n, ";%lld", (long long)llround(timeout_s * 1000));
}

/* ---- session requests ---- */

static const double default_backoff[] = { 1, 2, 4 };

int fr_svc_session_check(const struct fr_svc_config *cfg, const struct fr_svc_session_req *r) {
    int rc;
    const int max_cams = cfg->max_cameras_per_session > 0 ? cfg->max_cameras_per_session : 16;
    if ((rc = check_text(r->slot_id, "slot_id", 1)) < 0) return rc;
    if (r->n_cameras < 1 || !r->cameras) return bad_field("cameras", "%s: at least one camera is required", "cameras");
    if (r->n_cameras > max_cams)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "cameras",
                             "cameras: at most %d per session (FACEREC_MAX_CAMERAS_PER_SESSION)", max_cams);
    for (int i = 0; i < r->n_cameras; i++) {
        const struct fr_svc_session_camera_req *c = &r->cameras[i];
        if (c->camera_id > 0) {
            if (c->url) return bad_field("cameras", "%s: give a camera_id or a url, not both", "cameras");
            if (c->key && (rc = check_text(c->key, "cameras", 1)) < 0) return rc;
        } else {
            if (c->camera_id < 0) return bad_field("cameras", "%s: camera_id must be positive", "cameras");
            if ((rc = check_text(c->key, "cameras", 1)) < 0) return rc;
            if (!c->url) return bad_field("cameras", "%s: each camera needs a url or a camera_id", "cameras");
            if ((rc = check_camera_url(cfg, c->url, "cameras")) < 0) return rc;
        }
        if (c->name && (rc = check_text(c->name, "cameras", 0)) < 0) return rc;
        if (c->transport > 1) return bad_field("cameras", "%s: transport must be \"tcp\" or \"udp\"", "cameras");
        /* the keys the session stores (a registered camera without one: its id) are distinct */
        char ki[24], kj[24];
        snprintf(ki, sizeof ki, "%lld", (long long)c->camera_id);
        for (int j = 0; j < i; j++) {
            const struct fr_svc_session_camera_req *d = &r->cameras[j];
            snprintf(kj, sizeof kj, "%lld", (long long)d->camera_id);
            if (!strcmp(c->key ? c->key : ki, d->key ? d->key : kj) ||
                (c->camera_id > 0 && c->camera_id == d->camera_id))
                return bad_field("cameras", "%s: the same camera is given twice", "cameras");
        }
    }
    if (!r->callback_url || !*r->callback_url) return bad_field("callback_url", "%s is required", "callback_url");
    if ((rc = fr_outbox_check_url_syntax(r->callback_url, "callback_url")) < 0) return rc;
    if (r->callback_secret) {
        char sig[FR_WEBHOOK_SIGNATURE_MAX(1)];
        const char *secrets[1] = { r->callback_secret };
        if (fr_webhook_sign(secrets, 1, "msg", 0, "", 0, sig, sizeof sig) < 0)
            return bad_field("callback_secret", "%s must be \"whsec_\" + base64 of 16 to 64 bytes", "callback_secret");
    }
    if (r->mode != 0 && r->mode != 1 && r->mode >= 0)
        return bad_field("mode", "%s must be \"first_seen\" or \"every\"", "mode");
    if (r->cooldown_s >= 0 && !(r->cooldown_s <= 86400))
        return bad_field("cooldown_seconds", "%s must be in [0, 86400]", "cooldown_seconds");
    if (r->fps >= 0 && !(r->fps >= FPS_MIN && r->fps <= FPS_MAX))
        return bad_field("fps", "%s must be in [0.1, 30]", "fps");
    if (!isnan(r->threshold) && !(r->threshold >= 0 && r->threshold <= 1))
        return bad_field("threshold", "%s must be in [0, 1]", "threshold");
    if (r->min_face_px > 4096) return bad_field("min_face_px", "%s must be in [0, 4096]", "min_face_px");
    if (r->min_quality >= 0 && !(r->min_quality <= 1))
        return bad_field("min_quality", "%s must be in [0, 1]", "min_quality");
    if (r->n_roster_ids < 0 || r->n_roster_external < 0 ||
        r->n_roster_ids + r->n_roster_external > FR_SVC_SESSION_ROSTER_MAX)
        return bad_field("subjects", "%s: at most 10000", "subjects");
    for (int i = 0; i < r->n_roster_ids; i++)
        if (r->roster_ids[i] <= 0) return bad_field("subjects", "%s: ids are positive", "subjects");
    for (int i = 0; i < r->n_roster_external; i++)
        if (!r->roster_external[i] || !*r->roster_external[i] || strlen(r->roster_external[i]) > FR_SVC_NAME_MAX)
            return bad_field("subjects", "%s: an external_id is 1 to 256 bytes", "subjects");
    if (r->duration_s >= 0 && r->ends_at > 0)
        return bad_field("duration_seconds", "%s: give duration_seconds or ends_at, not both", "duration_seconds");
    if (r->duration_s >= 0 && !(r->duration_s >= 1 && r->duration_s * 1000 <= MAX_DURATION_MS))
        return bad_field("duration_seconds", "%s must be in [1, 604800]", "duration_seconds");
    if (r->ends_at < 0) return bad_field("ends_at", "%s must be an RFC 3339 time", "ends_at");
    if (r->max_failures > 1000000) return bad_field("auto_stop", "%s: max_consecutive_failures too large", "auto_stop");
    if (r->max_failure_s >= 0 && !(r->max_failure_s <= 86400))
        return bad_field("auto_stop", "%s: max_failure_seconds must be in [0, 86400]", "auto_stop");
    if (r->cb_attempts > FR_SVC_CALLBACK_ATTEMPTS_MAX || r->cb_attempts == 0)
        return bad_field("callback_policy", "%s: attempts must be in [1, 10]", "callback_policy");
    if (r->n_cb_backoff < 0 || r->n_cb_backoff > FR_SVC_CALLBACK_ATTEMPTS_MAX)
        return bad_field("callback_policy", "%s: at most 10 backoff values", "callback_policy");
    for (int i = 0; i < r->n_cb_backoff; i++) {
        double b = r->cb_backoff_s[i];
        if (!(b >= 0 && b <= BACKOFF_MAX_S) || b != floor(b))
            return bad_field("callback_policy", "%s: backoff values are whole seconds in [0, 3600]",
                             "callback_policy");
    }
    if (r->cb_timeout_s >= 0 && !(r->cb_timeout_s >= 0.1 && r->cb_timeout_s <= 60))
        return bad_field("callback_policy", "%s: timeout_seconds must be in [0.1, 60]", "callback_policy");
    return 0;
}

/* "ses_" + 24 hex digits of randomness. */
static int session_uid(char out[32]) { return fr__svc_random_id("ses_", 12, out); }

static int roster_text(struct fr_service *s, const struct fr_svc_session_req *r, char **out) {
    *out = NULL;
    const int n = r->n_roster_ids + r->n_roster_external;
    if (n == 0) return 0;
    int64_t *ids = fr_calloc((size_t)n, sizeof *ids);
    if (!ids) return -FR_E_NOMEM;
    int rc = 0;
    for (int i = 0; i < r->n_roster_ids; i++) ids[i] = r->roster_ids[i];
    if (r->n_roster_ids) {
        struct fr_store_subject *sub = fr_calloc((size_t)r->n_roster_ids, sizeof *sub);
        if (!sub) rc = -FR_E_NOMEM;
        for (int i = 0; rc == 0 && i < r->n_roster_ids; i += FR_STORE_LIST_MAX) {
            int m = r->n_roster_ids - i < FR_STORE_LIST_MAX ? r->n_roster_ids - i : FR_STORE_LIST_MAX;
            rc = fr_store_subject_get_many(s->store, r->who.client_id, ids + i, (size_t)m, sub + i);
        }
        for (int i = 0; rc == 0 && i < r->n_roster_ids; i++)
            if (sub[i].id == 0)
                rc = fr_err_set_at(FR_E_SUBJECT_NOT_FOUND, "field", "subjects", "subject %lld not found",
                                   (long long)ids[i]);
        for (int i = 0; sub && i < r->n_roster_ids; i++) fr_store_subject_free(&sub[i]);
        fr_free(sub);
    }
    for (int i = 0; rc == 0 && i < r->n_roster_external; i++) {
        int64_t id = 0;
        rc = fr_store_subject_find_external(s->store, r->who.client_id, r->roster_external[i], &id);
        if (rc == -FR_E_SUBJECT_NOT_FOUND)
            rc = fr_err_set_at(FR_E_SUBJECT_NOT_FOUND, "field", "subjects", "no subject has external_id \"%.64s\"",
                               r->roster_external[i]);
        ids[r->n_roster_ids + i] = id;
    }
    char *t = rc == 0 ? fr_malloc((size_t)n * 21 + 1) : NULL;
    if (rc == 0 && !t) rc = -FR_E_NOMEM;
    if (rc == 0) {
        size_t len = 0;
        t[0] = 0;
        for (int i = 0; i < n; i++) len += (size_t)sprintf(t + len, "%s%lld", i ? "," : "", (long long)ids[i]);
        *out = t;
    }
    fr_free(ids);
    return rc;
}

/* A stored roster ("1,2,3") as ids; NULL text: none (*out NULL). */
int fr__svc_roster_parse(const char *text, int64_t **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    if (!text || !*text) return 0;
    int n = 1;
    for (const char *p = text; *p; p++) n += *p == ',';
    int64_t *v = fr_calloc((size_t)n, sizeof *v);
    if (!v) return -FR_E_NOMEM;
    const char *p = text;
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtoll(p, &end, 10);
        p = *end ? end + 1 : end;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* The session's cameras as stored: registered ones resolved. */
static int cameras_of(struct fr_service *s, const struct fr_svc_session_req *r, struct fr_store_session_camera *out,
                      struct fr_store_camera *reg) {
    for (int i = 0; i < r->n_cameras; i++) {
        const struct fr_svc_session_camera_req *c = &r->cameras[i];
        struct fr_store_session_camera *o = &out[i];
        if (c->camera_id > 0) {
            int rc = fr_store_camera_get(s->store, r->who.client_id, c->camera_id, &reg[i]);
            if (rc == -FR_E_NOT_FOUND)
                return fr_err_set_at(FR_E_NOT_FOUND, "field", "cameras", "camera %lld not found",
                                     (long long)c->camera_id);
            if (rc < 0) return rc;
            char key[24];
            snprintf(key, sizeof key, "%lld", (long long)c->camera_id);
            o->key = fr_strdup(c->key ? c->key : key);
            o->name = fr_strdup(c->name ? c->name : reg[i].name);
            o->url = fr_strdup(reg[i].url);
            o->transport = c->transport >= 0 ? c->transport : reg[i].transport;
            o->camera_id = c->camera_id;
        } else {
            o->key = fr_strdup(c->key);
            o->name = c->name ? fr_strdup(c->name) : NULL;
            o->url = fr_strdup(c->url);
            o->transport = c->transport > 0 ? c->transport : 0;
        }
        if (!o->key || !o->url) return -FR_E_NOMEM;
    }
    return 0;
}

/* ---- answers ---- */

void fr_svc_session_free(struct fr_svc_session *v) {
    if (!v) return;
    fr_free(v->session_id);
    fr_free(v->slot_id);
    fr_free(v->reason);
    fr_free(v->roster);
    fr_free(v->callback_url);
    for (int i = 0; v->cameras && i < v->n_cameras; i++) {
        fr_free(v->cameras[i].key);
        fr_free(v->cameras[i].name);
        fr_free(v->cameras[i].url);
    }
    fr_free(v->cameras);
    fr_free(v->node);
    memset(v, 0, sizeof *v);
}

void fr_svc_sessions_free(struct fr_svc_session *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_svc_session_free(&v[i]);
    fr_free(v);
}

static void session_from(struct fr_service *s, const struct fr_store_session *r, struct fr_svc_session *v) {
    const struct fr_store_session_settings *x = &r->set;
    v->id = r->id;
    v->session_id = fr_strdup(r->uid);
    v->slot_id = fr_strdup(r->slot_id);
    v->running = r->running;
    v->reason = r->reason ? fr_strdup(r->reason) : NULL;
    v->mode = x->mode;
    v->cooldown_s = (double)x->cooldown_ms / 1000;
    v->fps = x->fps;
    v->threshold = x->threshold;
    v->min_face_px = x->min_face_px;
    v->min_quality = x->min_quality;
    v->liveness = x->liveness;
    v->report_unknown = x->report_unknown;
    v->snapshot = x->snapshot;
    fr__svc_roster_parse(x->roster, &v->roster, &v->n_roster);
    v->callback_url = fr_strdup(x->callback_url);
    v->max_failures = x->max_failures;
    v->max_failure_s = (double)x->max_failure_ms / 1000;
    struct fr_outbox_policy pol;
    if (fr__svc_policy_parse(x->policy, &pol) == 0) {
        v->cb_attempts = pol.n;
        for (int i = 1; i < pol.n && i <= FR_SVC_CALLBACK_ATTEMPTS_MAX; i++)
            v->cb_backoff_s[i - 1] = (double)(pol.seconds[i] - pol.seconds[i - 1]);
        v->cb_timeout_s = (double)pol.timeout_ms / 1000;
    }
    v->cameras = fr_calloc((size_t)r->n_cameras + 1, sizeof *v->cameras);
    for (int i = 0; v->cameras && i < r->n_cameras; i++) {
        const struct fr_store_session_camera *c = &r->cameras[i];
        struct fr_svc_session_camera *o = &v->cameras[v->n_cameras++];
        o->key = fr_strdup(c->key);
        o->name = c->name ? fr_strdup(c->name) : NULL;
        redact(c->url, &o->url);
        o->transport = c->transport;
        o->camera_id = c->camera_id;
        o->state = r->running ? "connecting" : "stopped";
    }
    v->frames_read = r->stats.frames_read;
    v->frames_analysed = r->stats.frames_analysed;
    v->faces_seen = r->stats.faces_seen;
    v->recognitions = r->stats.recognitions;
    v->callback_failures = r->stats.callback_failures;
    v->node = r->node ? fr_strdup(r->node) : NULL;
    v->created_at = r->created_at;
    v->ends_at = x->ends_at;
    v->stopped_at = r->stopped_at;
    int64_t *subj = NULL, *at = NULL;
    size_t n = 0;
    if (fr_store_session_reported(s->store, r->id, &subj, &at, &n) == 0) v->subjects_recognised = (int64_t)n;
    fr_free(subj);
    fr_free(at);
    if (r->running) fr__svc_run_fill(s, r->id, v);
}

static int session_read(struct fr_service *s, int64_t client, const char *slot, struct fr_svc_session *out) {
    struct fr_store_session r = { 0 };
    int rc = fr_store_session_get(s->store, client, slot, &r);
    if (rc == -FR_E_SESSION_NOT_FOUND)
        return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session for slot \"%.128s\"", slot);
    if (rc < 0) return rc;
    session_from(s, &r, out);
    fr_store_session_free(&r);
    return 0;
}

/* ---- starting, reading, stopping ---- */

int fr_svc_session_start(struct fr_service *s, const struct fr_svc_session_req *r, struct fr_svc_session *out) {
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_svc_session_check(&s->cfg, r)) < 0) return rc;
    const char *why = NULL;
    if (!fr_svc_models_ready(s, &why) || !s->index)
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "recognition is unavailable: %s", why ? why : "no index");
    /* the callback URL's host: resolved and checked as a webhook's is */
    if ((rc = fr_outbox_check_url(r->callback_url, s->cfg.webhook_allow_private, "callback_url", NULL)) < 0) return rc;

    struct fr_store_session_camera cams[FR_STORE_SESSION_CAMERAS_MAX];
    struct fr_store_camera reg[FR_STORE_SESSION_CAMERAS_MAX];
    memset(cams, 0, sizeof cams);
    memset(reg, 0, sizeof reg);
    char uid[32], policy[256], *roster = NULL, *cb_url = fr_strdup(r->callback_url);
    if (!cb_url) return -FR_E_NOMEM;
    int64_t id = 0, hook = 0;
    const int64_t now = fr_now_ms();
    int64_t ends_at = r->ends_at > 0 ? r->ends_at : 0;
    if (r->duration_s >= 0) ends_at = now + llround(r->duration_s * 1000);
    if (r->ends_at > 0 && (r->ends_at <= now || r->ends_at - now > MAX_DURATION_MS))
        return fr_free(cb_url), bad_field("ends_at", "%s must be in the future, within 7 days", "ends_at");
    policy_text(r->cb_attempts > 0 ? r->cb_attempts : 3, r->n_cb_backoff ? r->cb_backoff_s : default_backoff,
                r->n_cb_backoff ? r->n_cb_backoff : 3, r->cb_timeout_s >= 0 ? r->cb_timeout_s : 10, policy,
                sizeof policy);
    if ((rc = session_uid(uid)) < 0) return fr_free(cb_url), rc;
    if ((rc = roster_text(s, r, &roster)) < 0 || (rc = cameras_of(s, r, cams, reg)) < 0) goto out;
    struct fr_store_session_settings set = {
        .mode = r->mode > 0,
        .cooldown_ms = r->cooldown_s >= 0 ? llround(r->cooldown_s * 1000) : 60000,
        .fps = r->fps >= 0 ? r->fps : 5,
        .threshold = isnan(r->threshold) ? -1 : r->threshold,
        .min_face_px = r->min_face_px >= 0 ? r->min_face_px : 40,
        .min_quality = r->min_quality >= 0 ? r->min_quality : 0.3,
        .liveness = r->liveness > 0,
        .report_unknown = r->report_unknown > 0,
        .snapshot = r->snapshot != 0,
        .roster = roster,
        .max_failures = r->max_failures >= 0 ? r->max_failures : 10,
        .max_failure_ms = r->max_failure_s >= 0 ? llround(r->max_failure_s * 1000) : 120000,
        .callback_url = cb_url,
        .policy = policy,
        .ends_at = ends_at,
    };
    /* several nodes: the live node with the most free room runs it (it takes the row within seconds) */
    char target[128];
    const int here = fr__svc_place(s, target, sizeof target);
    struct fr_store_session_new n = { r->who.client_id, uid, r->slot_id, &set, cams, r->n_cameras,
                                      r->callback_secret, target };
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) goto out;
    rc = fr_store_session_create(tx, &n, &id, &hook);
    if (rc == -FR_E_CONFLICT)
        rc = fr_err_set_at(FR_E_SESSION_ALREADY_EXISTS, "field", "slot_id",
                           "slot \"%.128s\" already has a running session", r->slot_id);
    if (rc == 0) rc = fr__svc_audit(s, tx, &r->who, "session.start", "session:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    if (rc < 0) goto out;

    if (!here) {   /* another node's: its cameras' first answers come as callbacks */
        fr_log(FR_LOG_INFO, "session %s (slot %s) placed on node %s", uid, r->slot_id, target);
        rc = session_read(s, r->who.client_id, r->slot_id, out);
        goto out;
    }
    struct fr_store_session row = { 0 };
    if ((rc = fr_store_session_get_id(s->store, id, &row)) < 0) goto out;
    int connected = 0;
    const int leased = fr__svc_lease_take(s, id) == 0;   /* Redis down: the leaser takes it when it is back */
    rc = fr__svc_run_start(s, &row, 0, 1, leased, &connected);   /* row is the runner's now */
    if (rc < 0) {
        /* not started (node full, out of memory): the slot is free again */
        int keep = rc;
        const char *msg = fr_err_detail();
        char why_copy[256];
        snprintf(why_copy, sizeof why_copy, "%s", msg);
        fr_store_session_stop(s->store, id, "NOT_STARTED", fr_now_ms());
        rc = fr_err_set(-keep, "%s", why_copy);
        goto out;
    }
    if (connected == 0) {
        rc = fr_err_set(FR_E_ALL_CAMERAS_FAILED, "no camera of the session could be opened; the session was stopped");
        goto out;
    }
    rc = session_read(s, r->who.client_id, r->slot_id, out);
out:
    for (int i = 0; i < r->n_cameras; i++) {
        fr_free(cams[i].key);
        fr_free(cams[i].name);
        fr_free(cams[i].url);
        fr_store_camera_free(&reg[i]);
    }
    fr_free(roster);
    fr_free(cb_url);
    return rc;
}

int fr_svc_session_get(struct fr_service *s, int64_t client, const char *slot_id, struct fr_svc_session *out) {
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    if (!slot_id || !*slot_id || strlen(slot_id) > FR_SVC_SLOT_MAX)
        return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session for that slot");
    return session_read(s, client, slot_id, out);
}

int fr_svc_session_list(struct fr_service *s, int64_t client, int running_only, int limit, int64_t cursor,
                        struct fr_svc_session **rows, size_t *n, int64_t *next) {
    struct fr_store_session *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    *next = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_session_list(s->store, client, running_only, limit, cursor, &r, &m, next)) < 0)
        return rc;
    struct fr_svc_session *v = fr_calloc(m + 1, sizeof *v);
    if (!v) {
        fr_store_sessions_free(r, m);
        return -FR_E_NOMEM;
    }
    for (size_t i = 0; i < m; i++) session_from(s, &r[i], &v[i]);
    fr_store_sessions_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_session_stop(struct fr_service *s, const struct fr_svc_actor *who, const char *slot_id,
                        struct fr_svc_session *out) {
    if (out) memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    if (!slot_id || !*slot_id || strlen(slot_id) > FR_SVC_SLOT_MAX)
        return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session is running for that slot");
    struct fr_store_session r = { 0 };
    rc = fr_store_session_get(s->store, who->client_id, slot_id, &r);
    if (rc == -FR_E_SESSION_NOT_FOUND || (rc == 0 && !r.running)) {
        fr_store_session_free(&r);
        return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session is running for slot \"%.128s\"", slot_id);
    }
    if (rc < 0) return fr_err_set(FR_E_STOP_SESSION_FAILED, "the session could not be read: %s", fr_err_detail());
    const int64_t id = r.id;
    fr_store_session_free(&r);
    rc = fr__svc_session_end(s, id, "STOPPED_BY_CLIENT");
    if (rc == -FR_E_SESSION_NOT_FOUND)   /* it ended on its own meanwhile */
        return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session is running for slot \"%.128s\"", slot_id);
    if (rc < 0) return fr_err_set(FR_E_STOP_SESSION_FAILED, "the session could not be stopped: %s", fr_err_detail());
    fr__svc_audit(s, NULL, who, "session.stop", "session:%lld", id, NULL);
    return out ? session_read(s, who->client_id, slot_id, out) : 0;
}

/* ---- recognitions ---- */

void fr_svc_recognitions_free(struct fr_svc_recognition *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        fr_free(v[i].external_id);
        fr_free(v[i].name);
        fr_free(v[i].camera);
        fr_free(v[i].event_id);
    }
    fr_free(v);
}

int fr_svc_recognition_list(struct fr_service *s, int64_t client, const char *slot_id, int limit, int64_t cursor,
                            struct fr_svc_recognition **rows, size_t *n, int64_t *next) {
    *rows = NULL;
    *n = 0;
    *next = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    if (!slot_id || !*slot_id || strlen(slot_id) > FR_SVC_SLOT_MAX)
        return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session for that slot");
    struct fr_store_session ses = { 0 };
    rc = fr_store_session_get(s->store, client, slot_id, &ses);
    if (rc == -FR_E_SESSION_NOT_FOUND) return fr_err_set(FR_E_SESSION_NOT_FOUND, "no session for slot \"%.128s\"", slot_id);
    if (rc < 0) return rc;
    const int64_t sid = ses.id;
    fr_store_session_free(&ses);
    struct fr_store_recognition *r = NULL;
    size_t m = 0;
    if ((rc = fr_store_recognition_list(s->store, client, sid, limit, cursor, &r, &m, next)) < 0) return rc;
    struct fr_svc_recognition *v = fr_calloc(m + 1, sizeof *v);
    int64_t *ids = fr_calloc(m + 1, sizeof *ids);
    struct fr_store_subject *sub = fr_calloc(m + 1, sizeof *sub);
    if (!v || !ids || !sub) rc = -FR_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < m; i++)
        if (r[i].kind == 0) ids[k++] = r[i].subject_id;
    if (rc == 0 && k) rc = fr_store_subject_get_many(s->store, client, ids, k, sub);
    for (size_t i = 0, j = 0; rc == 0 && i < m; i++) {
        struct fr_svc_recognition *o = &v[i];
        o->id = r[i].id;
        o->unknown = r[i].kind == 1;
        o->subject_id = r[i].subject_id;
        if (!o->unknown) {
            if (sub[j].id) {
                o->external_id = sub[j].external_id ? fr_strdup(sub[j].external_id) : NULL;
                o->name = fr_strdup(sub[j].name);
            }
            j++;
        }
        o->camera = fr_strdup(r[i].camera);
        o->similarity = r[i].similarity;
        o->quality = r[i].quality;
        memcpy(o->box, r[i].box, sizeof o->box);
        o->seen_at = r[i].seen_at;
        o->event_id = r[i].event_id ? fr_strdup(r[i].event_id) : NULL;
    }
    for (size_t i = 0; sub && i < k; i++) fr_store_subject_free(&sub[i]);
    fr_free(sub);
    fr_free(ids);
    fr_store_recognitions_free(r, m);
    if (rc < 0) {
        fr_svc_recognitions_free(v, m);
        *next = 0;
        return rc;
    }
    *rows = v;
    *n = m;
    return 0;
}
