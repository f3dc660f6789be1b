/* The API core: route table, request id, auth, rate limits, the JSON
 * envelope, error mapping, metrics, one log line per request, usage counts. */
#include "api/api.h"

#include "facerec/metrics.h"

#include <ctype.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A FR_ROUTE_AUTH_ADMIN
#define K FR_ROUTE_AUTH_CLIENT
#define N FR_ROUTE_AUTH_NONE
const struct fr_api_route fr_api_routes[] = {
    { { "GET", "/health", 0, N }, "health", fr_api_health, "Liveness: 200 while the process serves" },
    { { "GET", "/health/ready", 1, N }, "ready", fr_api_ready, "Readiness: models, database and index usable" },
    { { "GET", "/status", 2, N }, "status", fr_api_status, "Per-dependency status" },
    { { "GET", "/metrics", 3, N }, "metrics", fr_api_metrics, "Prometheus metrics" },
    { { "GET", "/openapi.json", 4, N }, "openapi", fr_api_openapi_route, "This API as OpenAPI 3" },
    { { "POST", "/api/v1/admin/clients", 5, A }, "admin.client_create", fr_api_client_create, "Create a client (API key shown once)" },
    { { "GET", "/api/v1/admin/clients", 6, A }, "admin.client_list", fr_api_client_list, "List clients" },
    { { "GET", "/api/v1/admin/clients/{id}", 7, A }, "admin.client_get", fr_api_client_get, "One client" },
    { { "PATCH", "/api/v1/admin/clients/{id}", 8, A }, "admin.client_update", fr_api_client_patch, "Update name, limits, disabled" },
    { { "DELETE", "/api/v1/admin/clients/{id}", 9, A }, "admin.client_delete", fr_api_client_delete, "Delete a client and all its data" },
    { { "POST", "/api/v1/admin/clients/{id}/rotate-key", 10, A }, "admin.client_rotate_key", fr_api_client_rotate, "New API key" },
    { { "GET", "/api/v1/admin/audit", 11, A }, "admin.audit", fr_api_audit_list, "Audit rows, newest first" },
    { { "GET", "/api/v1/usage", 12, K }, "usage", fr_api_usage, "Requests per day and operation" },
    { { "POST", "/api/v1/subjects", 13, K }, "subject_create", fr_api_subject_create, "Create a subject" },
    { { "GET", "/api/v1/subjects", 14, K }, "subject_list", fr_api_subject_list, "List subjects" },
    { { "GET", "/api/v1/subjects/{id}", 15, K }, "subject_get", fr_api_subject_get, "One subject" },
    { { "PATCH", "/api/v1/subjects/{id}", 16, K }, "subject_update", fr_api_subject_patch, "Update a subject" },
    { { "DELETE", "/api/v1/subjects/{id}", 17, K }, "subject_delete", fr_api_subject_delete, "Delete a subject and its faces" },
    { { "POST", "/api/v1/subjects/{id}/faces", 18, K }, "enroll", fr_api_face_create, "Enrol a face from a photo" },
    { { "GET", "/api/v1/subjects/{id}/faces", 19, K }, "face_list", fr_api_face_list, "A subject's faces" },
    { { "DELETE", "/api/v1/faces/{id}", 20, K }, "face_delete", fr_api_face_delete, "Delete a face" },
    { { "POST", "/api/v1/identify", 21, K }, "identify", fr_api_identify, "1:N search of every face in a photo" },
    { { "POST", "/api/v1/verify", 22, K }, "verify", fr_api_verify, "1:1 verification" },
    { { "POST", "/api/v1/detect", 23, K }, "detect", fr_api_detect, "Faces, landmarks, quality, pose" },
    { { "POST", "/api/v1/embeddings", 24, K }, "embeddings", fr_api_embeddings, "Per face the 512-d embedding" },
    { { "GET", "/console", 25, N }, "console", fr_api_console, "The console page (also /console/): each service's status" },
    { { "GET", "/console/{file}", 26, N }, "console", fr_api_console, "The console page's script and style" },
};
#undef A
#undef K
#undef N
const size_t fr_api_n_routes = sizeof fr_api_routes / sizeof fr_api_routes[0];

static fr_route route_table[sizeof fr_api_routes / sizeof fr_api_routes[0]];

struct api_usage { int64_t client; char day[11]; const char *op; int64_t n; };

/* Registered once per process: a second fr_api_init (tests) reuses them. */
static int register_metrics(struct fr_api_metrics *m) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct fr_api_metrics once;
    static int done;
    int rc = 0;
    pthread_mutex_lock(&mu);
    if (!done) {
        struct fr_api_metrics *s = &once;
        if ((rc = fr_metric_new("facerec_requests_total", "Requests answered, by operation and status.",
                                FR_METRIC_COUNTER, "operation,status", NULL, 0, &s->requests_total)) < 0 ||
            (rc = fr_metric_new("facerec_request_duration_seconds", "Time from request to response, by operation.",
                                FR_METRIC_HISTOGRAM, "operation", NULL, 0, &s->request_duration)) < 0 ||
            (rc = fr_metric_new("facerec_stage_duration_seconds",
                                "Time spent in each pipeline stage (decode, detect, landmarks, embed, search).",
                                FR_METRIC_HISTOGRAM, "stage", NULL, 0, &s->stage_duration)) < 0 ||
            (rc = fr_metric_new("facerec_gallery_faces", "Faces enrolled in each client's gallery.", FR_METRIC_GAUGE,
                                "client", NULL, 0, &s->gallery_faces)) < 0 ||
            (rc = fr_metric_new("facerec_embedding_quality", "Quality score of each face embedded, in [0, 1].",
                                FR_METRIC_HISTOGRAM, NULL, fr_metric_buckets_unit, FR_METRIC_BUCKETS_UNIT_N,
                                &s->embedding_quality)) < 0 ||
            (rc = fr_metric_new("facerec_open_connections", "HTTP connections currently open.", FR_METRIC_GAUGE, NULL,
                                NULL, 0, &s->open_connections)) < 0 ||
            (rc = fr_metric_new("facerec_identify_decisions_total",
                                "Faces searched by identify, by decision (match, unknown, ambiguous, low_quality).",
                                FR_METRIC_COUNTER, "decision", NULL, 0, &s->identify_decisions)) < 0) {
            pthread_mutex_unlock(&mu);
            return rc;
        }
        done = 1;
    }
    *m = once;
    pthread_mutex_unlock(&mu);
    return 0;
}

int fr_api_init(struct fr_api *a, struct fr_service *svc, const char *admin_hash, int64_t rate_hour, int64_t rate_day) {
    memset(a, 0, sizeof *a);
    a->svc = svc;
    snprintf(a->admin_hash, sizeof a->admin_hash, "%s", admin_hash ? admin_hash : "");
    a->default_rate_hour = rate_hour;
    a->default_rate_day = rate_day;
    for (size_t i = 0; i < fr_api_n_routes; i++) route_table[i] = fr_api_routes[i].r;
    pthread_mutex_init(&a->usage_mu, NULL);
    a->usage_flushed_ms = fr_time_ms();
    int rc = register_metrics(&a->m);
    if (rc < 0) return rc;
    return fr_ratelimit_new(0, &a->rl);
}

void fr_api_fini(struct fr_api *a) {
    fr_api_flush_usage(a);
    fr_ratelimit_free(a->rl);
    fr_free(a->usage);
    pthread_mutex_destroy(&a->usage_mu);
}

/* ---- usage: counted in memory, written every few seconds (an fsync per
 * request would cost more than the request) ---- */

static void usage_count(struct fr_api *a, int64_t client, const char *op) {
    char day[11];
    fr_utc_day(fr_now_ms(), day);
    pthread_mutex_lock(&a->usage_mu);
    size_t i = 0;
    while (i < a->n_usage && !(a->usage[i].client == client && a->usage[i].op == op && !strcmp(a->usage[i].day, day))) i++;
    if (i == a->n_usage) {
        if (a->n_usage == a->cap_usage) {
            size_t cap = a->cap_usage ? 2 * a->cap_usage : 32;
            struct api_usage *u = fr_realloc(a->usage, cap * sizeof *u);
            if (!u) { pthread_mutex_unlock(&a->usage_mu); return; }
            a->usage = u;
            a->cap_usage = cap;
        }
        a->usage[i] = (struct api_usage){ client, { 0 }, op, 0 };
        memcpy(a->usage[i].day, day, sizeof day);
        a->n_usage++;
    }
    a->usage[i].n++;
    int flush = fr_time_ms() - a->usage_flushed_ms > 5000;
    pthread_mutex_unlock(&a->usage_mu);
    if (flush) fr_api_flush_usage(a);
}

void fr_api_flush_usage(struct fr_api *a) {
    pthread_mutex_lock(&a->usage_mu);
    struct api_usage *u = a->usage;
    size_t n = a->n_usage;
    a->usage = NULL;
    a->n_usage = a->cap_usage = 0;
    a->usage_flushed_ms = fr_time_ms();
    pthread_mutex_unlock(&a->usage_mu);
    if (!n) { fr_free(u); return; }
    fr_store *tx = NULL;
    if (fr_store_tx_begin(a->svc->store, &tx) == 0) {
        for (size_t i = 0; i < n; i++) fr_store_usage_add(tx, u[i].client, u[i].day, u[i].op, u[i].n);
        fr_store_tx_commit(tx);
    }
    fr_free(u);
}

/* ---- request ids, log lines ---- */

static void request_id(struct fr_api_call *c) {
    const char *h = fr_http_header(c->req, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) ok = isalnum((unsigned char)h[i]) || h[i] == '.' || h[i] == '_' || h[i] == '-';
    if (ok) {
        memcpy(c->request_id, h, n + 1);
        return;
    }
    uint8_t r[12];
    if (RAND_bytes(r, sizeof r) != 1) memset(r, 0, sizeof r);
    for (int i = 0; i < 12; i++) snprintf(c->request_id + 2 * i, 3, "%02x", r[i]);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    fr_json_escape(f, s);
    fputc('"', f);
}

static void log_request(struct fr_api_call *c, int status, double ms) {
    char when[32];
    fr_log_timestamp(when);
    char path[256];
    snprintf(path, sizeof path, "%s", c->req->path ? c->req->path : "");
    flockfile(stderr);
    fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"request_id\":\"%s\",\"client\":", when,
            status >= 500 ? "error" : "info", c->request_id);
    if (c->client_id) fprintf(stderr, "%lld", (long long)c->client_id);
    else fputs("null", stderr);
    fputs(",\"method\":", stderr);
    json_str(stderr, c->req->method ? c->req->method : "");
    fputs(",\"path\":", stderr);
    json_str(stderr, path);
    fprintf(stderr, ",\"status\":%d,\"duration_ms\":%.2f,\"operation\":\"%s\"}\n", status, ms,
            c->operation ? c->operation : "unknown");
    funlockfile(stderr);
}

/* ---- errors ---- */

/* The HTTP status and code of an error. Internal codes that a client cannot
 * act on become the documented ones; the table gives the status. */
static void map_error(int rc, int *status, int *code) {
    int e = rc < 0 ? -rc : rc;
    *code = e;
    switch (e) {
    case FR_E_INVALID_ARGUMENT: *code = FR_E_VALIDATION_ERROR; break;
    case FR_E_LIMIT_EXCEEDED: *code = FR_E_FILE_TOO_LARGE; break;
    case FR_E_IO: *code = FR_E_INTERNAL_ERROR; break;
    case FR_E_NOMEM:
    case FR_E_MODEL_INVALID:
    case FR_E_MODEL_UNSUPPORTED:
    case FR_E_MODEL_MISMATCH: *code = FR_E_SERVICE_UNAVAILABLE; break;
    default:
        if (e <= 0 || e >= FR_E_COUNT) *code = FR_E_INTERNAL_ERROR;
    }
    *status = fr_err_http_status(*code);
}

static void render(struct fr_api_call *c, struct fr_http_resp *resp, int status, json_t *body) {
    json_object_set_new(body, "request_id", json_string(c->request_id));
    resp->status = status;
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(body);
    if (!text) {
        resp->status = 500;
        static const char oom[] = "{\"success\":false,\"code\":\"INTERNAL_ERROR\",\"error_type\":\"internal_error\","
                                  "\"message\":\"out of memory\",\"details\":{}}";
        resp->body = fr_strdup(oom);
        resp->len = resp->body ? strlen(oom) : 0;
        return;
    }
    size_t n = strlen(text);
    resp->body = fr_malloc(n + 1);
    if (resp->body) {
        memcpy(resp->body, text, n + 1);
        resp->len = n;
    }
    fr_json_free(text);
}

/* Messages hold no file-system paths by construction (the layers below
 * keep paths for the log); the structured detail of the error (its field,
 * its model) goes into "details" as data. */
static void render_error(struct fr_api_call *c, struct fr_http_resp *resp, int rc, json_t *details) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_err_detail()[0] ? fr_err_detail() : fr_strerror(rc));
    int status, code;
    map_error(rc, &status, &code);
    if (code == FR_E_INTERNAL_ERROR) {
        fr_log(FR_LOG_ERROR, "request %s: %s", c->request_id, msg);
        snprintf(msg, sizeof msg, "internal error (request %s)", c->request_id);
    }
    if (code == FR_E_VALIDATION_ERROR && c->bad_body && status == 422) status = 400;
    if (!details) details = json_object();
    const char *key = fr_err_key();
    if (key[0] && code != FR_E_INTERNAL_ERROR && !json_object_get(details, key))
        json_object_set_new(details, key, json_string(fr_err_value()));
    json_t *body = json_pack("{s:b,s:s,s:s,s:s,s:o}", "success", 0, "code", fr_err_name(code), "error_type",
                             fr_err_type(code), "message", msg, "details", details);
    render(c, resp, status, body);
}

/* ---- auth ---- */

static int auth_admin(struct fr_api_call *c) {
    const char *h = fr_http_header(c->req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) || !c->api->admin_hash[0] || !fr_key_verify(h + 7, c->api->admin_hash))
        return fr_err_set(FR_E_UNAUTHORIZED, "admin routes need Authorization: Bearer <admin token>");
    return 0;
}

int fr_api_metrics_allowed(struct fr_api_call *c) {
    if (!c->api->metrics_hash[0]) return 1;
    const char *h = fr_http_header(c->req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    return fr_key_verify(h + 7, c->api->metrics_hash) ||
           (c->api->admin_hash[0] && fr_key_verify(h + 7, c->api->admin_hash));
}

static int auth_client(struct fr_api_call *c, struct fr_store_client *cl) {
    const char *key = fr_http_header(c->req, "X-API-Key");
    if (!key || !*key) return fr_err_set(FR_E_UNAUTHORIZED, "missing X-API-Key header");
    char prefix[FR_KEY_PREFIX_LEN + 1];
    if (strlen(key) != FR_KEY_LEN) return fr_err_set(FR_E_UNAUTHORIZED, "invalid API key");
    fr_key_prefix(key, prefix);
    int rc = fr_store_client_get_by_prefix(c->api->svc->store, prefix, cl);
    if (rc == -FR_E_NOT_FOUND || (rc == 0 && !fr_key_verify(key, cl->key_hash))) {
        fr_store_client_free(cl);
        return fr_err_set(FR_E_UNAUTHORIZED, "invalid API key");
    }
    if (rc < 0) return rc;
    if (cl->disabled) {
        fr_store_client_free(cl);
        return fr_err_set(FR_E_UNAUTHORIZED, "this client is disabled");
    }
    return 0;
}

/* ---- dispatch ---- */

static void call_cleanup(struct fr_api_call *c) {
    json_decref(c->json);
    fr_free(c->mp);
    fr_free(c->decoded[0]);
    fr_free(c->decoded[1]);
    fr_free(c->raw);
    json_decref(c->raw_json);
}

static void observe(struct fr_api_call *c, int status, double ms) {
    const struct fr_api_metrics *m = &c->api->m;
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    const char *op = c->operation ? c->operation : "unknown";
    fr_metric_inc(m->requests_total, op, st);
    fr_metric_observe(m->request_duration, ms / 1000.0, op);
    const char *stages[5] = { "decode", "detect", "landmarks", "embed", "search" };
    const double v[5] = { c->t.decode, c->t.detect, c->t.landmarks, c->t.embed, c->t.search };
    for (int i = 0; i < 5; i++)
        if (v[i] > 0) fr_metric_observe(m->stage_duration, v[i] / 1000.0, stages[i]);
}

/* The path routes are matched on: the request's, but the console's address
 * with its trailing slash is /console (route patterns have none). */
static const char *route_path(const struct fr_http_req *req) {
    return strcmp(req->path, "/console/") ? req->path : "/console";
}

/* ---- CORS (FACEREC_CORS_ORIGINS) ---- */

/* 1 when browsers on origin may call the API. */
static int cors_allowed(const struct fr_api *a, const char *origin) {
    if (!a->cors_origins[0] || !origin || !origin[0]) return 0;
    if (!strcmp(a->cors_origins, "*")) return 1;
    size_t ol = strlen(origin);
    for (const char *p = a->cors_origins; *p;) {
        size_t l = strcspn(p, ",");
        if (l == ol && !strncasecmp(p, origin, l)) return 1;
        p += l;
        if (*p == ',') p++;
    }
    return 0;
}

static void cors_headers(struct fr_http_resp *resp, const char *origin) {
    fr_http_resp_header(resp, "Access-Control-Allow-Origin", "%s", origin);
    fr_http_resp_header(resp, "Vary", "Origin");
    fr_http_resp_header(resp, "Access-Control-Expose-Headers",
                        "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After");
}

/* A preflight (OPTIONS with Access-Control-Request-Method) from an allowed
 * origin for a route that exists: 204 with what may be sent. 1 when answered. */
static int cors_preflight(struct fr_api_call *c, struct fr_http_resp *resp, const char *origin) {
    const char *want = fr_http_header(c->req, "Access-Control-Request-Method");
    if (strcmp(c->req->method, "OPTIONS") || !want || !cors_allowed(c->api, origin)) return 0;
    fr_route_params p;
    const char *path = route_path(c->req);
    if (fr_route_match(route_table, fr_api_n_routes, want, path, &p) < 0) return 0;
    cors_headers(resp, origin);
    fr_http_resp_header(resp, "Access-Control-Allow-Methods", "%s", want);
    fr_http_resp_header(resp, "Access-Control-Allow-Headers",
                        "X-API-Key, Authorization, Content-Type, Idempotency-Key, X-Request-Id");
    fr_http_resp_header(resp, "Access-Control-Max-Age", "600");
    resp->status = 204;
    c->operation = "cors_preflight";
    return 1;
}

void fr_api_early(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp) {
    struct fr_api_call c;
    memset(&c, 0, sizeof c);
    c.api = ctx;
    c.req = req;
    fr_err_clear();
    int idx = fr_route_match(route_table, fr_api_n_routes, req->method, route_path(req), &c.params);
    if (idx < 0) return;                       /* 404 / 405: the normal path answers (bodies are small) */
    const struct fr_api_route *r = &fr_api_routes[idx];
    struct fr_store_client cl = { 0 };
    int rc = 0;
    if (r->r.auth == FR_ROUTE_AUTH_ADMIN) rc = auth_admin(&c);
    else if (r->r.auth == FR_ROUTE_AUTH_CLIENT) rc = auth_client(&c, &cl);
    fr_store_client_free(&cl);
    if (rc != -FR_E_UNAUTHORIZED) return;      /* let in, or a store failure: the normal path decides */
    const char *origin = fr_http_header(req, "Origin");
    if (cors_allowed(c.api, origin)) cors_headers(resp, origin);   /* so a browser can read the 401 */
    request_id(&c);
    c.operation = r->operation;
    render_error(&c, resp, rc, NULL);
    fr_http_resp_header(resp, "X-Request-Id", "%s", c.request_id);
    double ms = fr_time_ms() - req->t_start;
    observe(&c, resp->status, ms);
    log_request(&c, resp->status, ms);
}

void fr_api_handle(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp) {
    struct fr_api_call c;
    memset(&c, 0, sizeof c);
    c.api = ctx;
    c.req = req;
    c.status = 200;
    request_id(&c);
    fr_err_clear();
    struct fr_store_client cl = { 0 };
    json_t *data = NULL, *details = NULL;
    int rc;
    if (req->bad_framing) {    /* RFC 9112 6.3: refused and closed, never guessed at */
        c.operation = "bad_request";
        c.bad_body = 1;
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", req->bad_framing,
                           "the body's length is ambiguous (%s): two differing Content-Length headers, "
                           "Content-Length with Transfer-Encoding, or a coding other than chunked",
                           req->bad_framing);
        render_error(&c, resp, rc, NULL);
        goto done;
    }
    const char *origin = fr_http_header(req, "Origin");
    if (cors_preflight(&c, resp, origin)) goto done;
    if (cors_allowed(c.api, origin)) cors_headers(resp, origin);
    const char *path = route_path(req);
    int idx = fr_route_match(route_table, fr_api_n_routes, req->method, path, &c.params);
    if (idx == FR_ROUTE_METHOD_NOT_ALLOWED) {
        fr_http_resp_header(resp, "Allow", "%s", c.params.allow);
        c.operation = "method_not_allowed";
        rc = fr_err_set(FR_E_VALIDATION_ERROR, "method %s is not allowed here; allowed: %s", req->method, c.params.allow);
        details = json_pack("{s:s}", "allow", c.params.allow);
        render_error(&c, resp, rc, details);
        resp->status = 405;
        goto done;
    }
    if (idx < 0) {
        c.operation = "not_found";
        if (idx == -FR_E_NOT_FOUND) {
            rc = fr_err_set(FR_E_NOT_FOUND, "no route %s %s", req->method, req->path);
        } else {                      /* a path too long or badly encoded */
            c.bad_body = 1;
            rc = fr_err_set(FR_E_VALIDATION_ERROR, "bad request path: %s", fr_err_detail());
        }
        render_error(&c, resp, rc, NULL);
        goto done;
    }
    const struct fr_api_route *r = &fr_api_routes[idx];
    c.operation = r->operation;
    if (r->r.auth == FR_ROUTE_AUTH_ADMIN) {
        if ((rc = auth_admin(&c)) < 0) goto fail;
    } else if (r->r.auth == FR_ROUTE_AUTH_CLIENT) {
        if ((rc = auth_client(&c, &cl)) < 0) goto fail;
        c.client_id = cl.id;
        struct fr_ratelimit_info info;
        rc = fr_ratelimit_check(c.api->rl, cl.id, cl.rate_limit_per_hour, cl.rate_limit_per_day,
                                fr_now_ms(), &info);
        if (info.limit > 0) {
            fr_http_resp_header(resp, "X-RateLimit-Limit", "%lld", (long long)info.limit);
            fr_http_resp_header(resp, "X-RateLimit-Remaining", "%lld", (long long)info.remaining);
            fr_http_resp_header(resp, "X-RateLimit-Reset", "%lld", (long long)info.reset);
        }
        if (rc < 0) {
            fr_http_resp_header(resp, "Retry-After", "%lld", (long long)info.retry_after);
            details = json_pack("{s:I,s:I,s:s}", "limit", (json_int_t)info.limit, "retry_after",
                                (json_int_t)info.retry_after, "window", info.window == FR_RATELIMIT_DAY ? "day" : "hour");
            rc = fr_err_set(FR_E_RATE_LIMITED, "rate limit of %lld requests per %s reached; retry in %lld s",
                            (long long)info.limit, info.window == FR_RATELIMIT_DAY ? "day" : "hour",
                            (long long)info.retry_after);
            goto fail;
        }
        usage_count(c.api, cl.id, r->operation);
    }
    if (req->too_large) {
        rc = fr_err_set(FR_E_FILE_TOO_LARGE, "the request body is over the %zu-byte limit",
                        c.api->svc->cfg.max_upload_bytes);
        goto fail;
    }
    if (req->overloaded) {   /* the server's cap on bodies held at once: come back shortly */
        fr_http_resp_header(resp, "Retry-After", "1");
        rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "too many uploads in progress; retry shortly");
        goto fail;
    }
    rc = r->fn(&c, &data, &details);
    if (rc < 0) goto fail;
    if (c.raw) {
        resp->status = c.status;
        resp->body = c.raw;
        resp->len = c.raw_len;
        resp->content_type = c.content_type;
        c.raw = NULL;
        if (c.static_page) {   /* the console: nothing but its own files, no inline code, no framing */
            fr_http_resp_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
            fr_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
            fr_http_resp_header(resp, "Referrer-Policy", "no-referrer");
            fr_http_resp_header(resp, "Cache-Control", "no-cache");
        }
    } else if (c.raw_json) {
        char *text = json_dumps(c.raw_json, JSON_COMPACT | JSON_REAL_PRECISION(9));
        resp->status = c.raw_status ? c.raw_status : 200;
        if (text) {
            size_t n = strlen(text);
            resp->body = fr_malloc(n + 1);
            if (resp->body) { memcpy(resp->body, text, n + 1); resp->len = n; }
            fr_json_free(text);
        }
    } else {
        json_t *body = json_pack("{s:b,s:o}", "success", 1, "data", data ? data : json_object());
        data = NULL;
        render(&c, resp, c.status, body);
    }
    json_decref(details);
    goto done;
fail:
    json_decref(data);
    if (rc == -FR_E_SERVICE_UNAVAILABLE && !details && c.api->svc->n_missing) {
        details = json_object();
        json_t *m = json_array();
        for (int i = 0; i < c.api->svc->n_missing; i++) json_array_append_new(m, json_string(c.api->svc->missing[i]));
        json_object_set_new(details, "missing", m);
    }
    render_error(&c, resp, rc, details);
done:
    fr_http_resp_header(resp, "X-Request-Id", "%s", c.request_id);
    double ms = fr_time_ms() - req->t_start;
    observe(&c, resp->status, ms);
    log_request(&c, resp->status, ms);
    fr_store_client_free(&cl);
    call_cleanup(&c);
}

/* ---- helpers for handlers ---- */

const char *fr_api_path_param(struct fr_api_call *c, const char *name) { return fr_route_param(&c->params, name); }

int fr_api_path_id(struct fr_api_call *c, int64_t *id) {
    const char *v = fr_route_param(&c->params, "id");
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || x <= 0) return fr_err_set(FR_E_NOT_FOUND, "no such id '%s'", v ? v : "");
    *id = x;
    return 0;
}

int fr_api_page(struct fr_api_call *c, int64_t *limit, int64_t *cursor) {
    int rc = fr_query_get_int(fr_http_query(c->req, "limit"), "limit", 100, 1, FR_STORE_LIST_MAX, limit);
    return rc < 0 ? rc : fr_query_get_int(fr_http_query(c->req, "cursor"), "cursor", 0, 0, INT64_MAX, cursor);
}

static int ensure_body(struct fr_api_call *c) {
    if (c->json || c->mp || !c->req->body_len) return 0;
    const char *ct = fr_http_header(c->req, "Content-Type");
    if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
        c->mp = fr_malloc(sizeof *c->mp);
        if (!c->mp) return -FR_E_NOMEM;
        int rc = fr_multipart_parse(ct, c->req->body, c->req->body_len, c->mp);
        if (rc < 0) {
            fr_free(c->mp);
            c->mp = NULL;
            c->bad_body = 1;
            return rc;
        }
        return 0;
    }
    /* JSON when it says so, or when it looks like it (curl -d sends a form
     * type); anything else may be a bare image body */
    const uint8_t *b = c->req->body;
    size_t i = 0;
    while (i < c->req->body_len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    int says_json = ct && !strncasecmp(ct, "application/json", 16);
    if (says_json || (i < c->req->body_len && b[i] == '{')) {
        int rc = fr_json_parse_body(c->req->body, c->req->body_len, c->api->svc->cfg.max_upload_bytes, &c->json);
        c->bad_body = rc == -FR_E_VALIDATION_ERROR;
        return rc;
    }
    return 0;
}

int fr_api_json_body(struct fr_api_call *c, json_t **out) {
    int rc = ensure_body(c);
    if (rc < 0) return rc;
    if (!c->json) return fr_err_set(FR_E_VALIDATION_ERROR, "a JSON object body is required");
    *out = c->json;
    return 0;
}

/* A parameter's text: multipart field, JSON (stringified scalar), or query. */
static int param_text(struct fr_api_call *c, const char *name, char *buf, size_t cap, int *present) {
    *present = 0;
    int rc = ensure_body(c);
    if (rc < 0) return rc;
    if (c->mp && fr_multipart_get(c->mp, name)) {
        if ((rc = fr_multipart_text(c->mp, name, 1, buf, cap)) < 0) return rc;
        *present = 1;
        return 0;
    }
    json_t *v = c->json ? json_object_get(c->json, name) : NULL;
    if (v && !json_is_null(v)) {
        if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
        else if (json_is_integer(v)) snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) snprintf(buf, cap, "%.17g", json_real_value(v));
        else if (json_is_boolean(v)) snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
        else return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%s' must be a scalar", name);
        *present = 1;
        return 0;
    }
    const char *q = fr_http_query(c->req, name);
    if (q) {
        snprintf(buf, cap, "%s", q);
        *present = 1;
    }
    return 0;
}

int fr_api_param_int(struct fr_api_call *c, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out) {
    char buf[64];
    int present, rc = param_text(c, name, buf, sizeof buf, &present);
    if (rc < 0) return rc;
    return fr_query_get_int(present ? buf : NULL, name, def, min, max, out);
}

int fr_api_param_float(struct fr_api_call *c, const char *name, double def, double min, double max, double *out) {
    char buf[64];
    int present, rc = param_text(c, name, buf, sizeof buf, &present);
    if (rc < 0) return rc;
    *out = def;
    if (!present || !buf[0]) return 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v) || v < min || v > max)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%s' must be a number in [%g, %g]", name, min, max);
    *out = v;
    return 0;
}

int fr_api_param_bool(struct fr_api_call *c, const char *name, int def, int *out) {
    char buf[64];
    int present, rc = param_text(c, name, buf, sizeof buf, &present);
    if (rc < 0) return rc;
    *out = def;
    if (!present || !buf[0]) return 0;
    if (!strcmp(buf, "true") || !strcmp(buf, "1")) *out = 1;
    else if (!strcmp(buf, "false") || !strcmp(buf, "0")) *out = 0;
    else return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%s' must be true or false", name);
    return 0;
}

int fr_api_param_string(struct fr_api_call *c, const char *name, size_t max_len, char *buf, size_t cap, int *present) {
    int rc = param_text(c, name, buf, cap, present);
    if (rc < 0) return rc;
    if (*present && strlen(buf) > max_len)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%s' is longer than %zu bytes", name, max_len);
    return 0;
}

int fr_api_photo(struct fr_api_call *c, const char *field, const char *b64_field, int slot, struct fr_svc_photo *out,
                 int required) {
    out->buf = NULL;
    out->len = 0;
    out->whole_face = 0;
    int rc = ensure_body(c);
    if (rc < 0) return rc;
    if (c->mp) {
        const fr_part *p = fr_multipart_get(c->mp, field);
        if (p && p->len) {
            out->buf = p->data;
            out->len = p->len;
        }
    } else if (c->json) {
        uint8_t *b = NULL;
        size_t n = 0;
        rc = fr_json_get_base64(c->json, b64_field, 0, c->api->svc->cfg.max_upload_bytes, &b, &n);
        if (rc < 0) return rc;
        c->decoded[slot] = b;
        if (b && n) {
            out->buf = b;
            out->len = n;
        }
    } else if (slot == 0 && c->req->body_len) {       /* a bare image body */
        out->buf = c->req->body;
        out->len = c->req->body_len;
    }
    int detect = 1;   /* detect_faces=false: the photo is one face (pre-cropped, as CompreFace offers) */
    if ((rc = fr_api_param_bool(c, "detect_faces", 1, &detect)) < 0) return rc;
    out->whole_face = !detect;
    if (!out->buf && required)
        return fr_err_set_at(FR_E_PHOTO_FILE_REQUIRED, "field", field, "a photo is required: multipart field '%s' or JSON field '%s'",
                          field, b64_field);
    return 0;
}

void fr_api_audit(struct fr_api_call *c, const char *action, const char *target_fmt, int64_t id, json_t *details) {
    char actor[32], target[64];
    if (c->client_id) snprintf(actor, sizeof actor, "client:%lld", (long long)c->client_id);
    else snprintf(actor, sizeof actor, "admin");
    snprintf(target, sizeof target, target_fmt, (long long)id);
    char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
    if (fr_store_audit_append(c->api->svc->store, actor, action, target, c->request_id, d, NULL) < 0)
        fr_log(FR_LOG_ERROR, "audit row not written: %s", fr_err_detail());
    fr_json_free(d);
    json_decref(details);
}
