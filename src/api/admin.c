/* Admin routes: clients (create, list, get, update, delete, rotate key) and
 * the audit log. Every change writes an audit row. */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

json_t *fr_api_client_json(const struct fr_store_client *cl) {
    return json_pack("{s:I,s:s,s:s,s:I,s:I,s:b,s:I}", "id", (json_int_t)cl->id, "name", cl->name, "key_prefix",
                     cl->key_prefix, "rate_limit_per_hour", (json_int_t)cl->rate_limit_per_hour, "rate_limit_per_day",
                     (json_int_t)cl->rate_limit_per_day, "disabled", cl->disabled, "created_at",
                     (json_int_t)cl->created_at);
}

int fr_api_client_create(struct fr_api_call *c, json_t **data, json_t **details) {
    json_t *body;
    const char *name;
    int64_t ph, pd, id;
    (void)details;
    int rc = fr_api_json_body(c, &body);
    if (rc < 0) return rc;
    if ((rc = fr_json_get_string(body, "name", 1, FR_STORE_NAME_MAX, &name)) < 0) return rc;
    if (!*name) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "name", "field 'name' must not be empty");
    if ((rc = fr_json_get_int(body, "rate_limit_per_hour", 0, 0, INT64_C(1) << 40, &ph)) < 0) return rc;
    if (!json_object_get(body, "rate_limit_per_hour")) ph = c->api->default_rate_hour;
    if ((rc = fr_json_get_int(body, "rate_limit_per_day", 0, 0, INT64_C(1) << 40, &pd)) < 0) return rc;
    if (!json_object_get(body, "rate_limit_per_day")) pd = c->api->default_rate_day;
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], hash[FR_KEY_HASH_LEN + 1];
    if ((rc = fr_key_generate("frk", key)) < 0) return rc;
    fr_key_prefix(key, prefix);
    if ((rc = fr_key_hash(key, hash)) < 0) return rc;
    if ((rc = fr_store_client_create(c->api->svc->store, name, prefix, hash, ph, pd, &id)) < 0) return rc;
    struct fr_store_client cl = { 0 };
    if ((rc = fr_store_client_get(c->api->svc->store, id, &cl)) < 0) return rc;
    *data = fr_api_client_json(&cl);
    json_object_set_new(*data, "api_key", json_string(key));
    fr_store_client_free(&cl);
    fr_api_audit(c, "client.create", "client:%lld", id, json_pack("{s:s}", "name", name));
    c->status = 201;
    return 0;
}

int fr_api_client_list(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_store_client *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_store_client_list(c->api->svc->store, &rows, &n);
    if (rc < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, fr_api_client_json(&rows[i]));
    fr_store_clients_free(rows, n);
    *data = json_pack("{s:o}", "clients", a);
    return 0;
}

static int client_by_path(struct fr_api_call *c, struct fr_store_client *cl, int64_t *id) {
    int rc = fr_api_path_id(c, id);
    if (rc < 0) return rc;
    rc = fr_store_client_get(c->api->svc->store, *id, cl);
    if (rc == -FR_E_NOT_FOUND) return fr_err_set(FR_E_NOT_FOUND, "client %lld not found", (long long)*id);
    return rc;
}

int fr_api_client_get(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_store_client cl = { 0 };
    int64_t id, ns = 0, nf = 0;
    (void)details;
    int rc = client_by_path(c, &cl, &id);
    if (rc < 0) return rc;
    *data = fr_api_client_json(&cl);
    fr_store_client_free(&cl);
    fr_store_subject_count(c->api->svc->store, id, &ns);
    fr_store_face_count(c->api->svc->store, id, &nf);
    json_object_set_new(*data, "subjects", json_integer(ns));
    json_object_set_new(*data, "faces", json_integer(nf));
    return 0;
}

int fr_api_client_patch(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_store_client cl = { 0 };
    struct fr_store_client_update u = FR_STORE_CLIENT_UPDATE_KEEP;
    json_t *body;
    int64_t id;
    (void)details;
    int rc = client_by_path(c, &cl, &id);
    fr_store_client_free(&cl);
    if (rc < 0 || (rc = fr_api_json_body(c, &body)) < 0) return rc;
    const char *name = NULL;
    int dis = -1;
    if ((rc = fr_json_get_string(body, "name", 0, FR_STORE_NAME_MAX, &name)) < 0) return rc;
    if (name && !*name) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "name", "field 'name' must not be empty");
    u.name = name;
    if (json_object_get(body, "rate_limit_per_hour") &&
        (rc = fr_json_get_int(body, "rate_limit_per_hour", 1, 0, INT64_C(1) << 40, &u.rate_limit_per_hour)) < 0)
        return rc;
    if (json_object_get(body, "rate_limit_per_day") &&
        (rc = fr_json_get_int(body, "rate_limit_per_day", 1, 0, INT64_C(1) << 40, &u.rate_limit_per_day)) < 0)
        return rc;
    if (json_object_get(body, "disabled") && (rc = fr_json_get_bool(body, "disabled", 1, &dis)) < 0) return rc;
    u.disabled = dis;
    if ((rc = fr_store_client_update(c->api->svc->store, id, &u)) < 0) return rc;
    if ((rc = fr_store_client_get(c->api->svc->store, id, &cl)) < 0) return rc;
    *data = fr_api_client_json(&cl);
    fr_store_client_free(&cl);
    fr_api_audit(c, "client.update", "client:%lld", id, json_deep_copy(body));
    return 0;
}

int fr_api_client_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_store_client cl = { 0 };
    int64_t id;
    (void)details;
    int rc = client_by_path(c, &cl, &id);
    fr_store_client_free(&cl);
    if (rc < 0 || (rc = fr_svc_client_delete(c->api->svc, id)) < 0) return rc;
    fr_ratelimit_forget(c->api->rl, id);
    fr_api_audit(c, "client.delete", "client:%lld", id, NULL);
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return 0;
}

int fr_api_client_rotate(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_store_client cl = { 0 };
    int64_t id;
    (void)details;
    int rc = client_by_path(c, &cl, &id);
    fr_store_client_free(&cl);
    if (rc < 0) return rc;
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], hash[FR_KEY_HASH_LEN + 1];
    if ((rc = fr_key_generate("frk", key)) < 0) return rc;
    fr_key_prefix(key, prefix);
    if ((rc = fr_key_hash(key, hash)) < 0) return rc;
    if ((rc = fr_store_client_set_key(c->api->svc->store, id, prefix, hash)) < 0) return rc;
    fr_api_audit(c, "client.rotate_key", "client:%lld", id, NULL);
    /* the whole client, as create answers, with the new key shown once */
    if ((rc = fr_store_client_get(c->api->svc->store, id, &cl)) < 0) return rc;
    *data = fr_api_client_json(&cl);
    fr_store_client_free(&cl);
    if (!*data) return -FR_E_NOMEM;
    json_object_set_new(*data, "api_key", json_string(key));
    return 0;
}

int fr_api_audit_list(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t limit, cursor, next = 0;
    struct fr_store_audit *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_api_page(c, &limit, &cursor);
    if (rc < 0) return rc;
    if ((rc = fr_store_audit_list(c->api->svc->store, (int)limit, cursor, &rows, &n, &next)) < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_error_t e;
        json_t *d = rows[i].details ? json_loads(rows[i].details, 0, &e) : NULL;
        json_array_append_new(a, json_pack("{s:I,s:I,s:s,s:s,s:s?,s:s?,s:o}", "id", (json_int_t)rows[i].id, "at",
                                           (json_int_t)rows[i].at, "actor", rows[i].actor, "action", rows[i].action,
                                           "target", rows[i].target, "request_id", rows[i].request_id, "details",
                                           d ? d : json_null()));
    }
    fr_store_audits_free(rows, n);
    *data = json_pack("{s:o,s:o}", "entries", a, "next_cursor", next ? json_sprintf("%lld", (long long)next) : json_null());
    return 0;
}

int fr_api_usage(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t days;
    struct fr_store_usage *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_query_get_int(fr_http_query(c->req, "days"), "days", 30, 1, 3660, &days);
    if (rc < 0) return rc;
    fr_api_flush_usage(c->api);
    char from[11];
    fr_utc_day(fr_now_ms() - (days - 1) * 86400000LL, from);
    if ((rc = fr_store_usage_list(c->api->svc->store, c->client_id, from, &rows, &n)) < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "day", rows[i].day, "operation", rows[i].operation, "count",
                                           (json_int_t)rows[i].count));
    fr_store_usages_free(rows, n);
    *data = json_pack("{s:I,s:s,s:o}", "client_id", (json_int_t)c->client_id, "from", from, "usage", a);
    return 0;
}
