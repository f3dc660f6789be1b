/* Events: the JSON text of an event (no jansson in the service: a small
 * writer over open_memstream), the event types a webhook may subscribe to,
 * and fr__svc_emit, which writes an event and its deliveries in the caller's
 * transaction when some webhook of the client wants it. Whether one does is
 * answered from a per-client cache of the enabled webhooks' subscriptions
 * (dropped at each change of the client's webhooks), so a change nobody
 * listens to costs no write at all. */
#include "service/service_int.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the JSON writer ---- */

int fr__jw_begin(struct fr__jw *w) {
    memset(w, 0, sizeof *w);
    w->f = open_memstream(&w->buf, &w->len);
    if (!w->f) return fr_err_set(FR_E_NOMEM, "out of memory writing an event");
    fputc('{', w->f);
    w->first[0] = 1;
    return 0;
}

static void jw_key(struct fr__jw *w, const char *key) {
    if (!w->first[w->depth]) fputc(',', w->f);
    w->first[w->depth] = 0;
    if (!key) return;     /* an array element */
    fputc('"', w->f);
    fr_json_escape(w->f, key);
    fputs("\":", w->f);
}

void fr__jw_str(struct fr__jw *w, const char *key, const char *v) {
    jw_key(w, key);
    if (!v) {
        fputs("null", w->f);
        return;
    }
    fputc('"', w->f);
    fr_json_escape(w->f, v);
    fputc('"', w->f);
}

void fr__jw_int(struct fr__jw *w, const char *key, int64_t v) {
    jw_key(w, key);
    fprintf(w->f, "%lld", (long long)v);
}

void fr__jw_num(struct fr__jw *w, const char *key, double v) {
    jw_key(w, key);
    fprintf(w->f, "%.4f", v);
}

void fr__jw_bool(struct fr__jw *w, const char *key, int v) {
    jw_key(w, key);
    fputs(v ? "true" : "false", w->f);
}

void fr__jw_null(struct fr__jw *w, const char *key) {
    jw_key(w, key);
    fputs("null", w->f);
}

void fr__jw_raw(struct fr__jw *w, const char *key, const char *json) {
    jw_key(w, key);
    fputs(json, w->f);
}

void fr__jw_open(struct fr__jw *w, const char *key, int array) {
    jw_key(w, key);
    fputc(array ? '[' : '{', w->f);
    if (w->depth + 1 < (int)(sizeof w->first / sizeof w->first[0])) w->depth++;
    w->first[w->depth] = 1;
    w->close[w->depth] = array ? ']' : '}';
}

void fr__jw_close(struct fr__jw *w) {
    fputc(w->close[w->depth], w->f);
    if (w->depth > 0) w->depth--;
}

int fr__jw_end(struct fr__jw *w, char **out) {
    *out = NULL;
    while (w->depth > 0) fr__jw_close(w);
    fputc('}', w->f);
    int bad = fclose(w->f) != 0;
    w->f = NULL;
    if (!bad) *out = fr_strndup(w->buf, w->len);
    free(w->buf);
    w->buf = NULL;
    return *out ? 0 : fr_err_set(FR_E_NOMEM, "out of memory writing an event");
}

void fr__jw_abort(struct fr__jw *w) {
    if (w->f) fclose(w->f);
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void fr__jw_subject(struct fr__jw *w, const char *key, int64_t id, const char *external_id, const char *name) {
    fr__jw_open(w, key, 0);
    fr__jw_int(w, "id", id);
    fr__jw_str(w, "external_id", external_id);
    fr__jw_str(w, "name", name);
    fr__jw_close(w);
}

/* ---- event types ---- */

const struct fr_svc_event_type fr_svc_event_types[] = {
    { "subject.created", 0 },
    { "subject.updated", 0 },
    { "subject.deleted", 0 },
    { "face.enrolled", 0 },
    { "face.deleted", 0 },
    { "identify.completed", 1 },
    { "verify.completed", 1 },
    { "session.recognition", 0 },
    { "session.status", 0 },
    { NULL, 0 },
};

const struct fr_svc_event_type *fr_svc_event_type_find(const char *name) {
    for (const struct fr_svc_event_type *t = fr_svc_event_types; t->name; t++)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

/* Does a webhook subscribed to `events` ("*" or a comma list) want type? */
static int subscribed(const char *events, const char *type, int opt_in) {
    if (!strcmp(events, "*")) return !opt_in;
    size_t n = strlen(type);
    for (const char *p = events; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, type, n)) return 1;
        p += len + (e != NULL);
    }
    return 0;
}

/* ---- the per-client subscription cache ---- */

struct svc_hooks {
    int64_t client;
    char **events;          /* of the enabled webhooks */
    size_t n;
};

static void hooks_free(struct svc_hooks *h) {
    for (size_t i = 0; i < h->n; i++) fr_free(h->events[i]);
    fr_free(h->events);
    memset(h, 0, sizeof *h);
}

void fr__svc_hooks_forget(struct fr_service *s, int64_t client) {
    pthread_mutex_lock(&s->hooks_mu);
    for (size_t i = 0; i < s->n_hooks; i++)
        if (s->hooks[i].client == client || client == 0) {
            hooks_free(&s->hooks[i]);
            s->hooks[i] = s->hooks[--s->n_hooks];
            if (client) break;
            i--;
        }
    pthread_mutex_unlock(&s->hooks_mu);
}

void fr__svc_hooks_free(struct fr_service *s) {
    fr__svc_hooks_forget(s, 0);
    fr_free(s->hooks);
    s->hooks = NULL;
}

/* 1 when an enabled webhook of client wants type; 0 not; < 0 error. */
static int wants(struct fr_service *s, int64_t client, const char *type, int opt_in) {
    int rc = -1;
    pthread_mutex_lock(&s->hooks_mu);
    for (size_t i = 0; i < s->n_hooks && rc < 0; i++)
        if (s->hooks[i].client == client) {
            rc = 0;
            for (size_t j = 0; j < s->hooks[i].n && !rc; j++) rc = subscribed(s->hooks[i].events[j], type, opt_in);
        }
    pthread_mutex_unlock(&s->hooks_mu);
    if (rc >= 0) return rc;
    /* not cached: read the client's webhooks */
    struct fr_store_webhook *w = NULL;
    size_t n = 0;
    if ((rc = fr_store_webhook_list(s->store, client, &w, &n)) < 0) return rc;
    struct svc_hooks h = { client, fr_calloc(n + 1, sizeof(char *)), 0 };
    if (!h.events) {
        fr_store_webhooks_free(w, n);
        return -FR_E_NOMEM;
    }
    rc = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i].enabled) {
            rc |= subscribed(w[i].events, type, opt_in);
            h.events[h.n++] = w[i].events;
            w[i].events = NULL;
        }
    fr_store_webhooks_free(w, n);
    pthread_mutex_lock(&s->hooks_mu);
    if (s->n_hooks == s->cap_hooks) {
        size_t cap = s->cap_hooks ? 2 * s->cap_hooks : 16;
        struct svc_hooks *v = fr_realloc(s->hooks, cap * sizeof *v);
        if (v) {
            s->hooks = v;
            s->cap_hooks = cap;
        }
    }
    if (s->n_hooks < s->cap_hooks) s->hooks[s->n_hooks++] = h;
    else hooks_free(&h);
    pthread_mutex_unlock(&s->hooks_mu);
    return rc;
}

/* ---- emitting ---- */

int fr__svc_random_id(const char *prefix, int bytes, char *out) {
    uint8_t r[32];
    if (bytes < 1 || bytes > 32 || RAND_bytes(r, bytes) != 1)
        return fr_err_set(FR_E_INTERNAL_ERROR, "no randomness for an id");
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    for (int i = 0; i < bytes; i++) snprintf(out + n + 2 * (size_t)i, 3, "%02x", r[i]);
    return 0;
}

/* "evt_" + 32 hex digits of randomness. */
static int event_id(char out[40]) { return fr__svc_random_id("evt_", 16, out); }

int fr__svc_emit(struct fr_service *s, fr_store *tx, int64_t client, const char *type, const char *data,
                 int64_t webhook_id, char id_out[40]) {
    const struct fr_svc_event_type *t = fr_svc_event_type_find(type);
    const int opt_in = t ? t->opt_in : 0;
    char id[40], when[32];
    int rc;
    if (id_out) id_out[0] = 0;
    if (!webhook_id && (rc = wants(s, client, type, opt_in)) <= 0) return rc;
    if ((rc = event_id(id)) < 0) return rc;
    fr_log_timestamp(when);
    struct fr__jw w;
    char *body = NULL;
    if ((rc = fr__jw_begin(&w)) < 0) return rc;
    fr__jw_str(&w, "id", id);
    fr__jw_str(&w, "type", type);
    fr__jw_str(&w, "created_at", when);
    fr__jw_raw(&w, "data", data ? data : "{}");
    if ((rc = fr__jw_end(&w, &body)) < 0) return rc;
    struct fr_store_event_new e = { client, id, type, opt_in, body, webhook_id, 0 };
    int64_t n = 0;
    rc = fr_store_event_add(tx ? tx : s->store, &e, &n);
    fr_free(body);
    if (rc == 0 && n > 0) {
        s->events_queued = 1;          /* the dispatcher is woken after the commit */
        if (id_out) memcpy(id_out, id, sizeof id);
    }
    return rc;
}

int fr__svc_callback(struct fr_service *s, fr_store *tx, int64_t client, int64_t hook, const char *type,
                     const char *body, int64_t at, char id_out[40]) {
    char id[40];
    int rc;
    if (id_out) id_out[0] = 0;
    if ((rc = event_id(id)) < 0) return rc;
    struct fr_store_event_new e = { client, id, type, 0, body, hook, at };
    int64_t n = 0;
    if ((rc = fr_store_event_add(tx ? tx : s->store, &e, &n)) < 0) return rc;
    if (n > 0) s->events_queued = 1;
    if (id_out && n > 0) memcpy(id_out, id, sizeof id);
    return 0;
}

void fr__svc_events_committed(struct fr_service *s) {
    if (s->events_queued && s->outbox) {
        s->events_queued = 0;
        fr_outbox_wake(s->outbox);
    }
}
