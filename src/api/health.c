/* Unauthenticated routes: health, readiness, status, metrics, and the
 * OpenAPI document, built from the route table so the two cannot differ. */
#include "api/api.h"

#include "api/web.h"
#include "facerec/metrics.h"

#include <stdio.h>
#include <string.h>

int fr_api_health(struct fr_api_call *c, json_t **data, json_t **details) {
    (void)data;
    (void)details;
    c->raw_json = json_pack("{s:s}", "status", "ok");
    return c->raw_json ? 0 : -FR_E_NOMEM;
}

/* What is missing for recognition, as an array of strings. */
static json_t *missing(const struct fr_svc_status *st) {
    json_t *m = json_array();
    if (!st->recognition) json_array_append_new(m, json_sprintf("models: %s", st->models_error));
    if (!st->database_ok) json_array_append_new(m, json_string("database: not answering"));
    if (!st->index_ok) json_array_append_new(m, json_string("index: not loaded"));
    return m;
}

int fr_api_ready(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_status st;
    (void)data;
    (void)details;
    fr_svc_status(c->api->svc, 0, &st);
    json_t *m = missing(&st);
    int ok = json_array_size(m) == 0;
    c->raw_status = ok ? 200 : 503;
    c->raw_json = json_pack("{s:s,s:o}", "status", ok ? "ready" : "unavailable", "missing", m);
    return c->raw_json ? 0 : -FR_E_NOMEM;
}

/* One service of /status, in the shape our users' status components read:
 * {"service": display name, "status": "success"|"error", "healthy", "details"}. */
static json_t *service(const char *name, int healthy, json_t *details) {
    return json_pack("{s:s,s:s,s:b,s:o}", "service", name, "status", healthy ? "success" : "error", "healthy",
                     healthy, "details", details ? details : json_object());
}

/* GET /status: {"overall_status": "healthy" | "degraded" | "unhealthy",
 * "services": {"models", "database", "index", "workers"}, "healthy_count",
 * "total_count"} inside the success envelope. Unhealthy when the database
 * is down (nothing works without it), degraded when anything else is. */
int fr_api_status(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_status st;
    (void)details;
    fr_svc_status(c->api->svc, 1, &st);
    json_t *miss = json_array();
    for (int i = 0; i < st.n_missing; i++) json_array_append_new(miss, json_string(st.missing[i]));
    /* healthy: every model loaded; recognition runs on the core three even when an optional one is missing */
    const int models_ok = st.recognition && st.n_missing == 0;
    json_t *models = service("Face models", models_ok,
                             json_pack("{s:s?,s:s?,s:o,s:b,s:b,s:b}", "model_id", st.model_id, "error",
                                       st.recognition ? NULL : st.models_error, "missing", miss, "recognition",
                                       st.recognition, "liveness", st.liveness, "attributes", st.attributes));
    json_t *db = service("Database", st.database_ok,
                         json_pack("{s:s,s:o}", "backend", st.database_backend, "faces",
                                   st.faces >= 0 ? json_integer(st.faces) : json_null()));
    json_t *ix = service("Vector index", st.index_ok,
                         json_pack("{s:s,s:I}", "kind", st.index_kind, "faces", (json_int_t)st.index_faces));
    json_t *wk = service("Workers", 1,
                         json_pack("{s:i,s:i,s:i,s:f}", "threads", st.threads, "open_connections",
                                   c->api->http ? fr_http_open_connections(c->api->http) : 0, "in_flight",
                                   c->api->http ? fr_http_in_flight(c->api->http) : 0, "uptime_seconds",
                                   st.uptime_s));
    if (!fr_api_metrics_allowed(c)) {   /* FACEREC_METRICS_TOKEN set and not given: states, no counts */
        json_object_del(json_object_get(db, "details"), "faces");
        json_object_del(json_object_get(ix, "details"), "faces");
        json_object_clear(json_object_get(wk, "details"));
    }
    int healthy = models_ok + st.database_ok + st.index_ok + 1, total = 4;
    const char *overall = !st.database_ok ? "unhealthy" : healthy == total ? "healthy" : "degraded";
    *data = json_pack("{s:s,s:{s:o,s:o,s:o,s:o},s:i,s:i}", "overall_status", overall, "services", "models", models,
                      "database", db, "index", ix, "workers", wk, "healthy_count", healthy, "total_count", total);
    return *data ? 0 : -FR_E_NOMEM;
}

static void gallery_gauge(void *arg, int64_t client, size_t faces) {
    const struct fr_api_metrics *m = arg;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)client);
    fr_metric_set(m->gallery_faces, (double)faces, id);
}

int fr_api_metrics(struct fr_api_call *c, json_t **data, json_t **details) {
    const struct fr_api_metrics *m = &c->api->m;
    (void)data;
    (void)details;
    int rc;
    if (!fr_api_metrics_allowed(c))   /* per-client series are the operator's business */
        return fr_err_set(FR_E_UNAUTHORIZED, "/metrics needs Authorization: Bearer <FACEREC_METRICS_TOKEN>");
    fr_svc_galleries(c->api->svc, gallery_gauge, (void *)(uintptr_t)m);
    if (c->api->http) fr_metric_set(m->open_connections, fr_http_open_connections(c->api->http));
    if ((rc = fr_metrics_render(&c->raw, &c->raw_len)) < 0) return rc;
    c->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

/* ---- OpenAPI ---- */

static json_t *param_id(void) {
    return json_pack("{s:s,s:s,s:b,s:{s:s,s:s}}", "name", "id", "in", "path", "required", 1, "schema", "type",
                     "integer", "format", "int64");
}

json_t *fr_api_openapi(void) {
    json_t *paths = json_object();
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        const struct fr_api_route *r = &fr_api_routes[i];
        json_t *p = json_object_get(paths, r->r.pattern);
        if (!p) {
            p = json_object();
            json_object_set_new(paths, r->r.pattern, p);
        }
        char method[8];
        size_t n = 0;
        for (; r->r.method[n] && n < sizeof method - 1; n++) method[n] = (char)(r->r.method[n] | 0x20);
        method[n] = 0;
        json_t *op = json_pack("{s:s,s:s,s:{s:{s:s},s:{s:s}}}", "operationId", r->operation, "summary", r->summary,
                               "responses", "200", "description", "success", "default", "description",
                               "error envelope: success false, code, error_type, message, details, request_id");
        if (r->r.auth == FR_ROUTE_AUTH_CLIENT) json_object_set_new(op, "security", json_pack("[{s:[]}]", "apiKey"));
        if (r->r.auth == FR_ROUTE_AUTH_ADMIN) json_object_set_new(op, "security", json_pack("[{s:[]}]", "adminToken"));
        if (strstr(r->r.pattern, "{id}")) json_object_set_new(op, "parameters", json_pack("[o]", param_id()));
        json_object_set_new(p, method, op);
    }
    return json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:{s:s,s:s,s:s},s:{s:s,s:s}}}}", "openapi", "3.0.3", "info",
                     "title", "facerec", "version", "1.0.0", "description",
                     "Self-hosted face recognition service; see docs/API.md", "paths", paths, "components",
                     "securitySchemes", "apiKey", "type", "apiKey", "in", "header", "name", "X-API-Key", "adminToken",
                     "type", "http", "scheme", "bearer");
}

int fr_api_openapi_route(struct fr_api_call *c, json_t **data, json_t **details) {
    (void)data;
    (void)details;
    c->raw_json = fr_api_openapi();
    return c->raw_json ? 0 : -FR_E_NOMEM;
}

/* The console: static files embedded in the binary (web/console/, built in
 * by tools/embed_web.sh), served with a strict Content-Security-Policy. The
 * page reads GET /status like any status component. */
int fr_api_console(struct fr_api_call *c, json_t **data, json_t **details) {
    (void)data;
    (void)details;
    const char *file = fr_api_path_param(c, "file");
    if (!file || !file[0]) file = "index.html";
    for (const struct fr_web_asset *a = fr_web_assets; a->name; a++) {
        if (strcmp(a->name, file)) continue;
        c->raw = fr_malloc(a->len + 1);
        if (!c->raw) return -FR_E_NOMEM;
        memcpy(c->raw, a->data, a->len);
        c->raw_len = a->len;
        c->content_type = a->type;
        c->static_page = 1;
        return 0;
    }
    return fr_err_set(FR_E_NOT_FOUND, "the console has no file %s", file);
}
