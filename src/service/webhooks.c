/* Webhooks: registration (URL and event checks, secrets made here and shown
 * once), rotation, test events, deliveries; and the service's side of the
 * dispatcher (src/jobs/outbox.c): claiming due deliveries with a lease and
 * recording each attempt's outcome, which keeps each webhook's health and
 * disables one that is gone (410) or has failed for too long, with an audit
 * row. */
#include "service/service_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define CLAIM_MAX 64

void fr_svc_webhook_free(struct fr_svc_webhook *w) {
    if (!w) return;
    fr_free(w->url);
    fr_free(w->events);
    fr_free(w->description);
    fr_free(w->disabled_reason);
    fr_free(w->secret);
    memset(w, 0, sizeof *w);
}

void fr_svc_webhooks_free(struct fr_svc_webhook *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) fr_svc_webhook_free(&v[i]);
    fr_free(v);
}

static void webhook_from(struct fr_store_webhook *r, struct fr_svc_webhook *w) {
    memset(w, 0, sizeof *w);
    w->id = r->id;
    w->url = r->url;
    w->events = r->events;
    w->description = r->description;
    w->disabled_reason = r->disabled_reason;
    r->url = r->events = r->description = r->disabled_reason = NULL;
    w->enabled = r->enabled;
    w->failing_since = r->failing_since;
    w->old_secret_until = r->old_secret_until > fr_now_ms() ? r->old_secret_until : 0;
    w->created_at = r->created_at;
    w->updated_at = r->updated_at;
}

static int webhook_not_found(int rc, int64_t id) {
    return rc == -FR_E_NOT_FOUND ? fr_err_set(FR_E_NOT_FOUND, "webhook %lld not found", (long long)id) : rc;
}

static int webhook_read(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_webhook *out) {
    struct fr_store_webhook r = { 0 };
    int rc = fr_store_webhook_get(s->store, client, id, &r);
    if (rc < 0) return webhook_not_found(rc, id);
    webhook_from(&r, out);
    fr_store_webhook_free(&r);
    return 0;
}

/* The event list as stored: "*" alone, or known names joined by commas. */
static int events_text(const struct fr_svc_webhook_fields *f, char *out, size_t cap) {
    out[0] = 0;
    if (f->n_events < 1 || f->n_events > FR_SVC_WEBHOOK_EVENTS_MAX)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events",
                             "events must list 1 to %d event types, or [\"*\"]", FR_SVC_WEBHOOK_EVENTS_MAX);
    for (int i = 0; i < f->n_events; i++) {
        const char *e = f->events[i];
        if (!e) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events", "events must be strings");
        if (!strcmp(e, "*")) {
            if (f->n_events != 1)
                return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events", "\"*\" stands alone in events");
        } else if (!fr_svc_event_type_find(e)) {
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events", "unknown event type '%.64s'", e);
        }
        size_t len = strlen(out);
        if (len + strlen(e) + 2 > cap) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events", "events too long");
        snprintf(out + len, cap - len, "%s%s", i ? "," : "", e);
    }
    return 0;
}

int fr_svc_webhook_check(const struct fr_svc_webhook_fields *f, int create) {
    char events[FR_STORE_EVENTS_MAX + 1];
    int rc = 0;
    if (create || f->url) rc = fr_outbox_check_url_syntax(f->url, "url");
    if (rc == 0 && (create || f->n_events >= 0)) rc = events_text(f, events, sizeof events);
    if (rc == 0 && f->description && strlen(f->description) > FR_SVC_NAME_MAX)
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "description", "description is longer than %d bytes",
                           FR_SVC_NAME_MAX);
    return rc;
}

static int check_url(struct fr_service *s, const char *url) {
    if (!url || !*url) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url", "url is required");
    if (strlen(url) > 2048) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url", "url is longer than 2048 bytes");
    return fr_outbox_check_url(url, s->cfg.webhook_allow_private, "url", NULL);
}

int fr_svc_webhook_create(struct fr_service *s, const struct fr_svc_actor *who, const struct fr_svc_webhook_fields *f,
                          struct fr_svc_webhook *out) {
    char events[FR_STORE_EVENTS_MAX + 1], secret[FR_WEBHOOK_SECRET_LEN + 1];
    int64_t id;
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = check_url(s, f->url)) < 0 || (rc = events_text(f, events, sizeof events)) < 0 ||
        (rc = fr_webhook_secret_new(secret)) < 0)
        return rc;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_webhook_create(tx, who->client_id, f->url, events, f->description, f->enabled != 0, secret, &id);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "webhook.create", "webhook:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    fr__svc_hooks_forget(s, who->client_id);
    if (rc < 0 || (rc = webhook_read(s, who->client_id, id, out)) < 0) return rc;
    out->secret = fr_strdup(secret);
    return out->secret ? 0 : -FR_E_NOMEM;
}

int fr_svc_webhook_list(struct fr_service *s, int64_t client, struct fr_svc_webhook **rows, size_t *n) {
    struct fr_store_webhook *r = NULL;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_store_webhook_list(s->store, client, &r, &m)) < 0) return rc;
    struct fr_svc_webhook *v = fr_calloc(m + 1, sizeof *v);
    if (!v) {
        fr_store_webhooks_free(r, m);
        return -FR_E_NOMEM;
    }
    for (size_t i = 0; i < m; i++) webhook_from(&r[i], &v[i]);
    fr_store_webhooks_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_webhook_get(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_webhook *out) {
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    return rc < 0 ? rc : webhook_read(s, client, id, out);
}

int fr_svc_webhook_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                          const struct fr_svc_webhook_fields *f, struct fr_svc_webhook *out) {
    char events[FR_STORE_EVENTS_MAX + 1];
    struct fr_store_webhook_update u = FR_STORE_WEBHOOK_UPDATE_KEEP;
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (f->url && (rc = check_url(s, f->url)) < 0)) return rc;
    if (f->n_events >= 0) {
        if ((rc = events_text(f, events, sizeof events)) < 0) return rc;
        u.events = events;
    }
    u.url = f->url;
    u.description = f->description;
    u.enabled = f->enabled;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_webhook_update(tx, who->client_id, id, &u);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "webhook.update", "webhook:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    fr__svc_hooks_forget(s, who->client_id);
    return rc < 0 ? webhook_not_found(rc, id) : webhook_read(s, who->client_id, id, out);
}

int fr_svc_webhook_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id) {
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_webhook_delete(tx, who->client_id, id);   /* its deliveries go with it */
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "webhook.delete", "webhook:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    fr__svc_hooks_forget(s, who->client_id);
    return webhook_not_found(rc, id);
}

int fr_svc_webhook_rotate(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                          struct fr_svc_webhook *out) {
    char secret[FR_WEBHOOK_SECRET_LEN + 1];
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0 || (rc = fr_webhook_secret_new(secret)) < 0) return rc;
    fr_store *tx = NULL;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) return rc;
    rc = fr_store_webhook_rotate(tx, who->client_id, id, secret, fr_now_ms() + FR_SVC_ROTATION_MS);
    if (rc == 0) rc = fr__svc_audit(s, tx, who, "webhook.rotate_secret", "webhook:%lld", id, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    if (rc < 0 || (rc = webhook_read(s, who->client_id, id, out)) < 0) return webhook_not_found(rc, id);
    out->secret = fr_strdup(secret);
    return out->secret ? 0 : -FR_E_NOMEM;
}

int fr_svc_webhook_test(struct fr_service *s, const struct fr_svc_actor *who, int64_t id, char event_id[40]) {
    struct fr_svc_webhook w;
    event_id[0] = 0;
    int rc = fr_svc_webhook_get(s, who->client_id, id, &w);
    if (rc < 0) return rc;
    int enabled = w.enabled;
    fr_svc_webhook_free(&w);
    if (!enabled)
        return fr_err_set_at(FR_E_CONFLICT, "field", "enabled", "webhook %lld is disabled; enable it first",
                             (long long)id);
    struct fr__jw j;
    char *data = NULL;
    if ((rc = fr__jw_begin(&j)) < 0) return rc;
    fr__jw_int(&j, "webhook_id", id);
    fr__jw_str(&j, "message", "a test event from facerec");
    if ((rc = fr__jw_end(&j, &data)) < 0) return rc;
    rc = fr__svc_emit(s, NULL, who->client_id, "webhook.test", data, id, event_id);
    fr_free(data);
    if (rc == 0) fr__svc_events_committed(s);
    return rc;
}

/* ---- deliveries ---- */

static const char *status_name(int st) {
    return st == FR_DELIVERY_DELIVERED ? "delivered" : st == FR_DELIVERY_FAILED ? "failed" : "pending";
}

static void delivery_from(struct fr_store_delivery *r, struct fr_svc_delivery *d) {
    *d = (struct fr_svc_delivery){ r->id, r->webhook_id, r->event_id, r->event_type, status_name(r->status),
                                   r->attempts, r->last_status_code, r->last_error, r->next_attempt_at,
                                   r->delivered_at, r->created_at };
    r->event_id = r->event_type = r->last_error = NULL;
}

void fr_svc_deliveries_free(struct fr_svc_delivery *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        fr_free(v[i].event_id);
        fr_free(v[i].event_type);
        fr_free(v[i].last_error);
    }
    fr_free(v);
}

int fr_svc_delivery_list(struct fr_service *s, int64_t client, int64_t webhook, int limit, int64_t cursor,
                         struct fr_svc_delivery **rows, size_t *n, int64_t *next) {
    struct fr_store_delivery *r = NULL;
    struct fr_svc_webhook w;
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    *next = 0;
    int rc = fr_svc_webhook_get(s, client, webhook, &w);     /* another client's: 404 */
    fr_svc_webhook_free(&w);
    if (rc < 0 || (rc = fr_store_delivery_list(s->store, client, webhook, limit, cursor, &r, &m, next)) < 0)
        return rc;
    struct fr_svc_delivery *v = fr_calloc(m + 1, sizeof *v);
    if (!v) {
        fr_store_deliveries_free(r, m);
        return -FR_E_NOMEM;
    }
    for (size_t i = 0; i < m; i++) delivery_from(&r[i], &v[i]);
    fr_store_deliveries_free(r, m);
    *rows = v;
    *n = m;
    return 0;
}

int fr_svc_delivery_retry(struct fr_service *s, const struct fr_svc_actor *who, int64_t webhook, int64_t id,
                          struct fr_svc_delivery *out) {
    struct fr_store_delivery r = { 0 };
    memset(out, 0, sizeof *out);
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    rc = fr_store_delivery_retry(s->store, who->client_id, webhook, id, fr_now_ms());
    if (rc == -FR_E_NOT_FOUND) return fr_err_set(FR_E_NOT_FOUND, "delivery %lld not found", (long long)id);
    if (rc < 0) return rc;
    fr__svc_audit(s, NULL, who, "webhook.delivery_retry", "delivery:%lld", id, NULL);
    if (s->outbox) fr_outbox_wake(s->outbox);
    if ((rc = fr_store_delivery_get(s->store, who->client_id, webhook, id, &r)) < 0) return rc;
    delivery_from(&r, out);
    fr_store_delivery_free(&r);
    return 0;
}

/* ---- the dispatcher's source ---- */

static void outcomes_flush(struct fr_service *s);

/* The items handed to the dispatcher and the rows their strings point into. */
struct claim_batch {
    struct fr_store_claim *rows;
    struct fr_outbox_policy *policies;      /* one per row (used by the rows that have their own) */
    size_t n;
    struct fr_outbox_item items[];
};

static int src_claim_spread(void *ctx, int64_t now_ms, int64_t lease_ms, int max, int per_endpoint,
                            const int64_t *skip, size_t n_skip, struct fr_outbox_item **items, size_t *n) {
    struct fr_service *s = ctx;
    struct fr_store_claim *rows = NULL;
    size_t m = 0;
    *items = NULL;
    *n = 0;
    outcomes_flush(s);     /* at least once a poll: none waits longer than that */
    if (max > CLAIM_MAX) max = CLAIM_MAX;
    if (max < 1) return 0;
    int rc = fr_store_delivery_claim(s->store, now_ms, lease_ms, max, per_endpoint, skip, n_skip, s->node_id, &rows,
                                     &m);
    if (rc < 0 || m == 0) {
        fr_free(rows);
        return rc;
    }
    struct claim_batch *b = fr_calloc(1, sizeof *b + m * sizeof b->items[0]);
    if (!b) {
        fr_store_claims_free(rows, m);    /* their leases bring them back */
        return -FR_E_NOMEM;
    }
    b->rows = rows;
    b->n = m;
    b->policies = fr_calloc(m, sizeof *b->policies);
    if (!b->policies) {
        fr_free(b);
        fr_store_claims_free(rows, m);
        return -FR_E_NOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        const struct fr_store_claim *c = &rows[i];
        /* a session's callback: its own policy; unsigned when it has no secret */
        const struct fr_outbox_policy *pol = NULL;
        if (c->policy && fr__svc_policy_parse(c->policy, &b->policies[i]) == 0) pol = &b->policies[i];
        b->items[i] = (struct fr_outbox_item){ .id = c->id, .endpoint = c->webhook_id, .url = c->url,
                                               .event_id = c->event_id, .body = c->body,
                                               .body_len = strlen(c->body),
                                               .secrets = { c->secret && c->secret[0] ? c->secret : NULL,
                                                            c->old_secret },
                                               .attempts = c->attempts, .created_at = c->created_at,
                                               .policy = pol, .tag = c->session_id };
    }
    *items = b->items;
    *n = m;
    return 0;
}

static int src_claim(void *ctx, int64_t now_ms, int64_t lease_ms, int max, struct fr_outbox_item **items, size_t *n) {
    return src_claim_spread(ctx, now_ms, lease_ms, max, 0, NULL, 0, items, n);
}

static void src_release(void *ctx, struct fr_outbox_item *items, size_t n) {
    (void)ctx;
    (void)n;
    if (!items) return;
    struct claim_batch *b = (struct claim_batch *)(void *)((char *)items - offsetof(struct claim_batch, items));
    fr_store_claims_free(b->rows, b->n);
    fr_free(b->policies);
    fr_free(b);
}

/* One outcome in tx: the delivery's row and its webhook's health (410
 * disables it at once, failing for too long too, with an audit row).
 * *disabled_client: the client whose webhook this disabled, else 0. */
static int record_outcome(struct fr_service *s, fr_store *tx, const struct fr_outbox_result *r,
                          int64_t *disabled_client) {
    struct fr_store_delivery_done d = { .id = r->id, .attempts = r->attempts, .last_status_code = r->status_code,
                                        .last_error = r->error[0] ? r->error : NULL };
    *disabled_client = 0;
    switch (r->outcome) {
    case FR_OUTBOX_DELIVERED:
        d.status = FR_DELIVERY_DELIVERED;
        d.delivered_at = r->attempted_at;
        break;
    case FR_OUTBOX_RETRY:
        d.status = FR_DELIVERY_PENDING;
        d.next_attempt_at = r->next_attempt_at;
        break;
    default:
        d.status = FR_DELIVERY_FAILED;
    }
    int rc = fr_store_delivery_finish(tx, &d);
    if (rc == -FR_E_NOT_FOUND) return 0;     /* its webhook was deleted meanwhile */
    if (r->tag > 0) return rc;               /* a session's callback: the session judges its endpoint */
    const int ok = r->outcome == FR_OUTBOX_DELIVERED, gone = r->outcome == FR_OUTBOX_GONE;
    const int64_t hours = s->cfg.webhook_disable_after_hours;
    int disabled = 0;
    int64_t client = 0;
    if (rc == 0)
        rc = fr_store_webhook_health(tx, r->endpoint, ok, r->attempted_at,
                                     hours > 0 ? r->attempted_at - hours * 3600000 : 0, gone ? "gone" : NULL,
                                     &disabled, &client);
    if (rc == -FR_E_NOT_FOUND) return 0;
    if (rc == 0 && disabled) {   /* the audit row with the change */
        const struct fr_svc_actor who = { 0, "facerec:webhooks", NULL };
        char details[160];
        snprintf(details, sizeof details, "{\"reason\":\"%s\",\"client_id\":%lld,\"last_status_code\":%d}",
                 gone ? "gone" : "failing", (long long)client, r->status_code);
        rc = fr__svc_audit(s, tx, &who, "webhook.disable", "webhook:%lld", r->endpoint, details);
        if (rc == 0) {
            *disabled_client = client;
            fr_log(FR_LOG_WARN, "webhook %lld of client %lld disabled: %s", (long long)r->endpoint,
                   (long long)client, gone ? "the endpoint answered 410 Gone" : "failing for too long");
        }
    }
    return rc;
}

/* Outcomes are written in batches, one transaction (one sync) for up to
 * OUTCOME_BATCH of them or what OUTCOME_WAIT_MS gathered: a busy endpoint
 * then costs the enrolments that share the database a lock and a sync per
 * batch, not per delivery. Until its outcome is written a delivery stays
 * leased (nobody sends it again); should the process die first, it is sent
 * again after its lease: at least once, as ever. */
#define OUTCOME_BATCH 64
#define OUTCOME_WAIT_MS 100

static void outcomes_flush(struct fr_service *s) {
    pthread_mutex_lock(&s->outcomes_mu);
    struct fr_outbox_result *v = s->outcomes;
    size_t n = s->n_outcomes;
    s->outcomes = NULL;
    s->n_outcomes = s->cap_outcomes = 0;
    pthread_mutex_unlock(&s->outcomes_mu);
    if (!n) {
        fr_free(v);
        return;
    }
    int64_t *forget = fr_calloc(n, sizeof *forget);
    fr_store *tx = NULL;
    int rc = fr_store_tx_begin(s->store, &tx);
    for (size_t i = 0; rc == 0 && i < n; i++) rc = record_outcome(s, tx, &v[i], forget ? &forget[i] : &(int64_t){ 0 });
    if (rc == 0) rc = fr_store_tx_commit(tx);
    else if (tx) fr_store_tx_rollback(tx);
    if (rc < 0)   /* those deliveries are claimed again after their leases */
        fr_log(FR_LOG_ERROR, "webhooks: %zu delivery outcomes not recorded: %s", n, fr_err_detail());
    for (size_t i = 0; rc == 0 && forget && i < n; i++)
        if (forget[i]) fr__svc_hooks_forget(s, forget[i]);
    fr_free(forget);
    fr_free(v);
}

static int src_finish(void *ctx, const struct fr_outbox_result *r) {
    struct fr_service *s = ctx;
    if (r->tag > 0) fr__svc_session_outcome(s, r);
    const double now = fr_time_ms();
    pthread_mutex_lock(&s->outcomes_mu);
    if (s->n_outcomes == s->cap_outcomes) {
        size_t cap = s->cap_outcomes ? 2 * s->cap_outcomes : 16;
        struct fr_outbox_result *v = fr_realloc(s->outcomes, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&s->outcomes_mu);
            return -FR_E_NOMEM;
        }
        s->outcomes = v;
        s->cap_outcomes = cap;
    }
    if (!s->n_outcomes) s->outcomes_since = now;
    s->outcomes[s->n_outcomes++] = *r;
    const int full = s->n_outcomes >= OUTCOME_BATCH || now - s->outcomes_since >= OUTCOME_WAIT_MS;
    pthread_mutex_unlock(&s->outcomes_mu);
    if (full) outcomes_flush(s);
    return 0;
}

void fr__svc_outbox_stop(struct fr_service *s) {
    fr_outbox_stop(s->outbox);     /* attempts in flight are finished (or given back) first */
    s->outbox = NULL;
    outcomes_flush(s);
    fr_free(s->outcomes);
    s->outcomes = NULL;
}

int fr_svc_outbox_start(struct fr_service *s, const struct fr_outbox_opts *o) {
    int rc = fr__svc_need_store(s);
    if (rc < 0 || s->outbox) return rc;
    /* what this node had in flight when it stopped (a crash) goes out now */
    int64_t released = 0;
    if ((rc = fr_store_delivery_release(s->store, s->node_id, &released)) < 0) return rc;
    if (released > 0)
        fr_log(FR_LOG_INFO, "webhooks: %lld deliveries this node had in flight when it stopped are due again",
               (long long)released);
    struct fr_outbox_source src = { src_claim, src_release, src_finish, s, src_claim_spread };
    return fr_outbox_start(o, &src, &s->outbox);
}
