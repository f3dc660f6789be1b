/* Webhooks: register, list, get, update, delete, rotate the secret, send a
 * test event; a webhook's deliveries and retrying one. The service checks
 * the URL and the event names and makes the secrets. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

static json_t *webhook_json(const struct fr_svc_webhook *w) {
    json_t *events = json_array();
    for (const char *p = w->events ? w->events : ""; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        json_array_append_new(events, json_stringn(p, len));
        p += len + (e != NULL);
    }
    json_t *o = json_pack("{s:I,s:s,s:o,s:s?,s:b,s:s?,s:o,s:o,s:I,s:I}", "id", (json_int_t)w->id, "url",
                          w->url ? w->url : "", "events", events, "description", w->description, "enabled", w->enabled,
                          "disabled_reason", w->disabled_reason, "failing_since",
                          w->failing_since ? json_integer(w->failing_since) : json_null(), "rotation_until",
                          w->old_secret_until ? json_integer(w->old_secret_until) : json_null(), "created_at",
                          (json_int_t)w->created_at, "updated_at", (json_int_t)w->updated_at);
    if (o && w->secret) json_object_set_new(o, "secret", json_string(w->secret));
    return o;
}

static int reply_webhook(struct fr_svc_webhook *w, json_t **data) {
    *data = webhook_json(w);
    fr_svc_webhook_free(w);
    return *data ? 0 : -FR_E_NOMEM;
}

static json_t *delivery_json(const struct fr_svc_delivery *d) {
    return json_pack("{s:I,s:s,s:s,s:s,s:i,s:o,s:s?,s:o,s:o,s:I}", "id", (json_int_t)d->id, "event_id",
                     d->event_id ? d->event_id : "", "event_type", d->event_type ? d->event_type : "", "status",
                     d->status, "attempts", d->attempts, "last_status_code",
                     d->last_status_code ? json_integer(d->last_status_code) : json_null(), "last_error",
                     d->last_error, "next_attempt_at",
                     d->next_attempt_at ? json_integer(d->next_attempt_at) : json_null(), "delivered_at",
                     d->delivered_at ? json_integer(d->delivered_at) : json_null(), "created_at",
                     (json_int_t)d->created_at);
}

/* {id} of the path: a positive integer, else the webhook is not found. */
static int webhook_id(struct fr_api_call *c, int64_t *id) {
    int rc = fr_api_path_id(c, id);
    if (rc == -FR_E_NOT_FOUND)
        return fr_err_set(FR_E_NOT_FOUND, "webhook %s not found", fr_api_path_param(c, "id"));
    return rc;
}

/* The fields of a JSON body; events point into it (f->events: names[]). */
int fr_api_webhook_fields(json_t *body, int create, struct fr_svc_webhook_fields *f, const char **names) {
    int rc, enabled = -1;
    memset(f, 0, sizeof *f);
    f->n_events = -1;
    f->enabled = -1;
    if ((rc = fr_json_get_string(body, "url", create, 2048, &f->url)) < 0 ||
        (rc = fr_json_get_string(body, "description", 0, FR_SVC_NAME_MAX, &f->description)) < 0)
        return rc;
    if (!create && json_is_null(json_object_get(body, "description"))) f->description = "";
    if (json_object_get(body, "enabled") && (rc = fr_json_get_bool(body, "enabled", 1, &enabled)) < 0) return rc;
    f->enabled = create && enabled < 0 ? 1 : enabled;
    json_t *ev = json_object_get(body, "events");
    if (!ev && create) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events", "field 'events' is required");
    if (ev) {
        if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > FR_SVC_WEBHOOK_EVENTS_MAX)
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events",
                                 "field 'events' must be an array of 1 to %d event types, or [\"*\"]",
                                 FR_SVC_WEBHOOK_EVENTS_MAX);
        size_t i;
        json_t *v;
        json_array_foreach(ev, i, v) {
            if (!json_is_string(v))
                return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "events", "field 'events' must hold strings");
            names[i] = json_string_value(v);
        }
        f->events = names;
        f->n_events = (int)json_array_size(ev);
    }
    return 0;
}

int fr_api_webhook_create(struct fr_api_call *c, json_t **data, json_t **details) {
    const char *names[FR_SVC_WEBHOOK_EVENTS_MAX];
    struct fr_svc_webhook_fields f;
    struct fr_svc_webhook w;
    json_t *body;
    (void)details;
    int rc = fr_api_json_body(c, &body);
    if (rc < 0 || (rc = fr_api_webhook_fields(body, 1, &f, names)) < 0 ||
        (rc = fr_svc_webhook_create(c->api->svc, &c->who, &f, &w)) < 0)
        return rc;
    return reply_webhook(&w, data);
}

int fr_api_webhook_list(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_webhook *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_svc_webhook_list(c->api->svc, c->client_id, &rows, &n);
    if (rc < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, webhook_json(&rows[i]));
    fr_svc_webhooks_free(rows, n);
    *data = json_pack("{s:o}", "webhooks", a);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_webhook_get(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_webhook w;
    int64_t id;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0 || (rc = fr_svc_webhook_get(c->api->svc, c->client_id, id, &w)) < 0) return rc;
    return reply_webhook(&w, data);
}

int fr_api_webhook_patch(struct fr_api_call *c, json_t **data, json_t **details) {
    const char *names[FR_SVC_WEBHOOK_EVENTS_MAX];
    struct fr_svc_webhook_fields f;
    struct fr_svc_webhook w;
    json_t *body;
    int64_t id;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0 || (rc = fr_api_json_body(c, &body)) < 0 || (rc = fr_api_webhook_fields(body, 0, &f, names)) < 0 ||
        (rc = fr_svc_webhook_update(c->api->svc, &c->who, id, &f, &w)) < 0)
        return rc;
    return reply_webhook(&w, data);
}

int fr_api_webhook_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0 || (rc = fr_svc_webhook_delete(c->api->svc, &c->who, id)) < 0) return rc;
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_webhook_rotate(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_webhook w;
    int64_t id;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0 || (rc = fr_svc_webhook_rotate(c->api->svc, &c->who, id, &w)) < 0) return rc;
    return reply_webhook(&w, data);
}

int fr_api_webhook_test(struct fr_api_call *c, json_t **data, json_t **details) {
    char event_id[40];
    int64_t id;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0 || (rc = fr_svc_webhook_test(c->api->svc, &c->who, id, event_id)) < 0) return rc;
    *data = json_pack("{s:I,s:s}", "webhook_id", (json_int_t)id, "event_id", event_id);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_webhook_deliveries(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_delivery *rows = NULL;
    int64_t id, limit, cursor, next = 0;
    size_t n = 0;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0 || (rc = fr_api_page(c, &limit, &cursor)) < 0 ||
        (rc = fr_svc_delivery_list(c->api->svc, c->client_id, id, (int)limit, cursor, &rows, &n, &next)) < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, delivery_json(&rows[i]));
    fr_svc_deliveries_free(rows, n);
    *data = json_pack("{s:o,s:o}", "deliveries", a, "next_cursor", fr_render_cursor(next));
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_webhook_retry(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_delivery d;
    int64_t id;
    (void)details;
    int rc = webhook_id(c, &id);
    if (rc < 0) return rc;
    const char *v = fr_api_path_param(c, "delivery_id");
    char *end;
    long long did = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || did <= 0) return fr_err_set(FR_E_NOT_FOUND, "delivery %s not found", v ? v : "");
    if ((rc = fr_svc_delivery_retry(c->api->svc, &c->who, id, did, &d)) < 0) return rc;
    *data = delivery_json(&d);
    fr_free(d.event_id);
    fr_free(d.event_type);
    fr_free(d.last_error);
    return *data ? 0 : -FR_E_NOMEM;
}
