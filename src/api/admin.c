/* Admin routes: clients (create, list, get, update, delete, rotate key) and
 * the audit log; and a client's usage. The service writes the audit rows. */
#include "api/api.h"
#include "cluster/redis.h"

#include <string.h>

/* A client's fields from a JSON body: name (required on create), limits, disabled. */
static int client_fields(json_t *body, int create, struct fr_svc_client_update *u) {
    int rc;
    if ((rc = fr_json_get_string(body, "name", create, FR_SVC_NAME_MAX, &u->name)) < 0) return rc;
    if (u->name && !*u->name) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "name", "field 'name' must not be empty");
    if (json_object_get(body, "rate_limit_per_hour") &&
        (rc = fr_json_get_int(body, "rate_limit_per_hour", 1, 0, INT64_C(1) << 40, &u->rate_limit_per_hour)) < 0)
        return rc;
    if (json_object_get(body, "rate_limit_per_day") &&
        (rc = fr_json_get_int(body, "rate_limit_per_day", 1, 0, INT64_C(1) << 40, &u->rate_limit_per_day)) < 0)
        return rc;
    if (!create && json_object_get(body, "disabled") && (rc = fr_json_get_bool(body, "disabled", 1, &u->disabled)) < 0)
        return rc;
    return 0;
}

/* The rendered client, freed. */
static int reply_client(struct fr_svc_client *cl, json_t **data) {
    *data = fr_render_client(cl);
    fr_svc_client_free(cl);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_client_create(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_client_update u = FR_SVC_CLIENT_UPDATE_KEEP;
    struct fr_svc_client cl;
    json_t *body;
    (void)details;
    int rc = fr_api_json_body(c, &body);
    if (rc < 0 || (rc = client_fields(body, 1, &u)) < 0) return rc;
    if ((rc = fr_svc_client_create(c->api->svc, &c->who, u.name, u.rate_limit_per_hour, u.rate_limit_per_day, &cl)) < 0)
        return rc;
    return reply_client(&cl, data);
}

int fr_api_client_list(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_client *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_svc_client_list(c->api->svc, &rows, &n);
    if (rc < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, fr_render_client(&rows[i]));
    fr_svc_clients_free(rows, n);
    *data = json_pack("{s:o}", "clients", a);
    return *data ? 0 : -FR_E_NOMEM;
}

/* {id} of the path: a positive integer, else the client is not found. */
static int client_id(struct fr_api_call *c, int64_t *id) {
    int rc = fr_api_path_id(c, id);
    if (rc == -FR_E_NOT_FOUND)
        return fr_err_set(FR_E_NOT_FOUND, "client %s not found", fr_api_path_param(c, "id"));
    return rc;
}

int fr_api_client_get(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_client cl;
    int64_t id;
    (void)details;
    int rc = client_id(c, &id);
    if (rc < 0 || (rc = fr_svc_client_get(c->api->svc, id, &cl)) < 0) return rc;
    return reply_client(&cl, data);
}

int fr_api_client_patch(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_client_update u = FR_SVC_CLIENT_UPDATE_KEEP;
    struct fr_svc_client cl;
    json_t *body;
    int64_t id;
    (void)details;
    int rc = client_id(c, &id);
    if (rc < 0 || (rc = fr_api_json_body(c, &body)) < 0 || (rc = client_fields(body, 0, &u)) < 0) return rc;
    if ((rc = fr_svc_client_update(c->api->svc, &c->who, id, &u, &cl)) < 0) return rc;
    return reply_client(&cl, data);
}

int fr_api_client_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = client_id(c, &id);
    if (rc < 0 || (rc = fr_svc_client_delete(c->api->svc, &c->who, id)) < 0) return rc;
    fr_ratelimit_forget(c->api->rl, id);
    if (c->api->redis && fr_redis_ratelimit_forget(c->api->redis, id) < 0)   /* its windows expire anyway */
        fr_log(FR_LOG_WARN, "client %lld deleted; its shared rate-limit windows stay until they expire: %s",
               (long long)id, fr_err_detail());
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return 0;
}

int fr_api_client_rotate(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_client cl;
    int64_t id;
    (void)details;
    int rc = client_id(c, &id);
    /* the whole client, as create answers, with the new key shown once */
    if (rc < 0 || (rc = fr_svc_client_rotate_key(c->api->svc, &c->who, id, &cl)) < 0) return rc;
    return reply_client(&cl, data);
}

int fr_api_audit_list(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t limit, cursor, next = 0;
    struct fr_svc_audit *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_api_page(c, &limit, &cursor);
    if (rc < 0 || (rc = fr_svc_audit_list(c->api->svc, (int)limit, cursor, &rows, &n, &next)) < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, fr_render_audit(&rows[i]));
    fr_svc_audits_free(rows, n);
    *data = json_pack("{s:o,s:o}", "entries", a, "next_cursor", fr_render_cursor(next));
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_usage(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t days;
    struct fr_svc_usage *rows = NULL;
    size_t n = 0;
    char from[11];
    (void)details;
    int rc = fr_query_get_int(fr_http_query(c->req, "days"), "days", 30, 1, 3660, &days);
    if (rc < 0 || (rc = fr_svc_usage_list(c->api->svc, c->client_id, (int)days, from, &rows, &n)) < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, fr_render_usage(&rows[i]));
    fr_svc_usages_free(rows, n);
    *data = json_pack("{s:I,s:s,s:o}", "client_id", (json_int_t)c->client_id, "from", from, "usage", a);
    return *data ? 0 : -FR_E_NOMEM;
}
