/* Unauthenticated routes: health, readiness, status, metrics and the
 * console. Each returns its payload; routes.def says how it goes out (bare
 * JSON, the envelope, text, a static file). */
#include "api/api.h"
#include "cluster/redis.h"

#include "api/web.h"
#include "facerec/metrics.h"

#include <stdio.h>
#include <string.h>

int fr_api_health(struct fr_api_call *c, json_t **data, json_t **details) {
    (void)c;
    (void)details;
    *data = json_pack("{s:s}", "status", "ok");
    return *data ? 0 : -FR_E_NOMEM;
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
    (void)details;
    fr_svc_status(c->api->svc, 0, &st);
    json_t *m = missing(&st);
    int ok = json_array_size(m) == 0;
    if (!ok) c->status = 503;   /* the same bare body, saying what is missing */
    *data = json_pack("{s:s,s:o}", "status", ok ? "ready" : "unavailable", "missing", m);
    return *data ? 0 : -FR_E_NOMEM;
}

/* One service of /status, in the shape our users' status components read:
 * {"service": display name, "status": "success"|"error", "healthy", "details"}. */
static json_t *service(const char *name, int healthy, json_t *details) {
    return json_pack("{s:s,s:s,s:b,s:o}", "service", name, "status", healthy ? "success" : "error", "healthy",
                     healthy, "details", details ? details : json_object());
}

/* GET /status: {"overall_status": "healthy" | "degraded" | "unhealthy",
 * "services": {"models", "database", "index", "workers", "webhooks", "sessions"}, "healthy_count",
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
    if (st.database_ok) {
        json_t *d = json_object_get(db, "details");
        json_object_set_new(d, "server_version", json_string(st.database_version));
        json_object_set_new(d, "pool", json_pack("{s:i,s:i}", "size", st.database_pool_size, "in_use",
                                                 st.database_pool_in_use));
    } else {
        json_object_set_new(json_object_get(db, "details"), "error",
                            json_string("the database does not answer: writes are refused (503), identification "
                                        "goes on from the index"));
    }
    json_t *ix = service("Vector index", st.index_ok,
                         json_pack("{s:s,s:I}", "kind", st.index_kind, "faces", (json_int_t)st.index_faces));
    json_t *wk = service("Workers", 1,
                         json_pack("{s:i,s:i,s:i,s:f}", "threads", st.threads, "open_connections",
                                   c->api->http ? fr_http_open_connections(c->api->http) : 0, "in_flight",
                                   c->api->http ? fr_http_in_flight(c->api->http) : 0, "uptime_seconds",
                                   st.uptime_s));
    /* webhooks: unhealthy while a delivery has waited for over an hour */
    const int hooks_ok = st.webhooks_oldest_s <= 3600;
    json_t *wh = service("Webhooks", hooks_ok,
                         json_pack("{s:I,s:f,s:I}", "pending", (json_int_t)st.webhooks_pending,
                                   "oldest_pending_seconds", st.webhooks_oldest_s, "failing_endpoints",
                                   (json_int_t)st.webhooks_failing));
    /* camera sessions: unhealthy while a running session's camera is down */
    struct fr_svc_sessions_status ss;
    fr_svc_sessions_status(c->api->svc, &ss);
    const int sessions_ok = ss.cameras_connected == ss.cameras_total;
    json_t *se = service("Camera sessions", sessions_ok,
                         json_pack("{s:i,s:i,s:i,s:i}", "running", ss.running, "max_sessions", ss.max_sessions,
                                   "cameras_connected", ss.cameras_connected, "cameras_total", ss.cameras_total));
    /* Redis (several nodes): its figures and the live nodes with what each holds */
    json_t *rd = NULL;
    int redis_ok = 1;
    if (c->api->redis) {
        struct fr_redis_info ri;
        struct fr_redis_node *nodes = NULL;
        size_t n_nodes = 0;
        redis_ok = fr_redis_info(c->api->redis, &ri) == 0;
        json_t *det = redis_ok ? json_pack("{s:s,s:s,s:I,s:I,s:i}", "url", fr_redis_where(c->api->redis), "version",
                                           ri.version, "used_memory_bytes", (json_int_t)ri.used_memory,
                                           "connected_clients", (json_int_t)ri.connected_clients, "pool_open",
                                           ri.pool_open)
                               : json_pack("{s:s,s:s}", "url", fr_redis_where(c->api->redis), "error",
                                           fr_err_detail());
        json_t *list = json_array();
        if (redis_ok && fr_redis_nodes_list(c->api->redis, &nodes, &n_nodes) == 0)
            for (size_t i = 0; i < n_nodes; i++)
                json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:I,s:I}", "id", nodes[i].id, "address",
                                                      nodes[i].addr, "running_sessions", (json_int_t)nodes[i].running,
                                                      "max_sessions", (json_int_t)nodes[i].max_sessions,
                                                      "started_at", (json_int_t)nodes[i].started_at_ms));
        fr_free(nodes);
        json_object_set_new(det, "nodes", list);
        rd = service("Redis", redis_ok, det);
    }
    if (!fr_api_metrics_allowed(c)) {   /* FACEREC_METRICS_TOKEN set and not given: states, no counts */
        json_object_clear(json_object_get(se, "details"));
        if (rd) json_object_clear(json_object_get(rd, "details"));
        json_object_del(json_object_get(db, "details"), "faces");
        json_object_del(json_object_get(ix, "details"), "faces");
        json_object_clear(json_object_get(wk, "details"));
        json_object_clear(json_object_get(wh, "details"));
    }
    int healthy = models_ok + st.database_ok + st.index_ok + 1 + hooks_ok + sessions_ok + (rd ? redis_ok : 0);
    const int total = 6 + (rd != NULL);
    const char *overall = !st.database_ok ? "unhealthy" : healthy == total ? "healthy" : "degraded";
    *data = json_pack("{s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o},s:i,s:i}", "overall_status", overall, "services", "models",
                      models, "database", db, "index", ix, "workers", wk, "webhooks", wh, "sessions", se,
                      "healthy_count", healthy, "total_count", total);
    if (*data && rd) json_object_set_new(json_object_get(*data, "services"), "redis", rd);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_metrics(struct fr_api_call *c, json_t **data, json_t **details) {
    const struct fr_api_metrics *m = &c->api->m;
    (void)data;
    (void)details;
    if (!fr_api_metrics_allowed(c))   /* per-client series are the operator's business */
        return fr_err_set(FR_E_UNAUTHORIZED, "/metrics needs Authorization: Bearer <FACEREC_METRICS_TOKEN>");
    fr_svc_metrics_update(c->api->svc);
    if (c->api->http) fr_metric_set(m->open_connections, fr_http_open_connections(c->api->http));
    return fr_metrics_render(&c->raw, &c->raw_len);
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
        return 0;
    }
    return fr_err_set(FR_E_NOT_FOUND, "the console has no file %s", file);
}
