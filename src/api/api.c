/* The API core: route table, request id, auth, rate limits, the JSON
 * envelope, error mapping, metrics, one log line per request, usage counts. */
#include "api/api.h"
#include "cluster/redis.h"
#include "http/ratelimit_shared.h"

#include "facerec/metrics.h"

#include <ctype.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* routes.def: the rows; the row index goes into r.handler at fr_api_init */
const struct fr_api_route fr_api_routes[] = {
#define ROUTE(method, path, op, fn, auth, body, reply, status, flags, request, response, params, summary)     \
    { { #method, path, 0, FR_ROUTE_AUTH_##auth }, op, fn, FR_API_BODY_##body, FR_API_REPLY_##reply, status, flags, \
      request, response, params, summary },
#include "api/routes.def"
#undef ROUTE
};
const size_t fr_api_n_routes = sizeof fr_api_routes / sizeof fr_api_routes[0];

static fr_route route_table[sizeof fr_api_routes / sizeof fr_api_routes[0]];

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
            (rc = fr_metric_new("facerec_open_connections", "HTTP connections currently open.", FR_METRIC_GAUGE, NULL,
                                NULL, 0, &s->open_connections)) < 0) {
            pthread_mutex_unlock(&mu);
            return rc;
        }
        done = 1;
    }
    *m = once;
    pthread_mutex_unlock(&mu);
    return 0;
}

int fr_api_init(struct fr_api *a, struct fr_service *svc) {
    memset(a, 0, sizeof *a);
    a->svc = svc;
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        route_table[i] = fr_api_routes[i].r;
        route_table[i].handler = (int)i;
    }
    int rc = register_metrics(&a->m);
    if (rc < 0) return rc;
    return fr_ratelimit_new(0, &a->rl);
}

void fr_api_fini(struct fr_api *a) { fr_ratelimit_free(a->rl); }

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

/* Internal codes that a client cannot act on become the documented ones;
 * the table gives the status. */
void fr__api_error_map(int rc, int *status, int *code) {
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

/* body as the whole answer (consumed). */
static void render_json(struct fr_http_resp *resp, int status, json_t *body) {
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

/* body with the request id (consumed): the envelopes. */
static void render(struct fr_api_call *c, struct fr_http_resp *resp, int status, json_t *body) {
    json_object_set_new(body, "request_id", json_string(c->request_id));
    render_json(resp, status, body);
}

/* Messages hold no file-system paths by construction (the layers below
 * keep paths for the log); the structured detail of the error (its field,
 * its model) goes into "details" as data. */
static void render_error(struct fr_api_call *c, struct fr_http_resp *resp, int rc, json_t *details) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_err_detail()[0] ? fr_err_detail() : fr_strerror(rc));
    int status, code;
    fr__api_error_map(rc, &status, &code);
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

/* The bearer token of Authorization, NULL when there is none. */
static const char *bearer(struct fr_api_call *c) {
    const char *h = fr_http_header(c->req, "Authorization");
    return h && !strncasecmp(h, "Bearer ", 7) ? h + 7 : NULL;
}

static int auth_admin(struct fr_api_call *c) { return fr_svc_auth_admin(c->api->svc, bearer(c)); }

int fr_api_metrics_allowed(struct fr_api_call *c) {
    if (!c->api->metrics_hash[0]) return 1;
    const char *t = bearer(c);
    return t && (fr_key_verify(t, c->api->metrics_hash) || fr_svc_auth_admin(c->api->svc, t) == 0);
}

static int auth_client(struct fr_api_call *c, struct fr_svc_client *cl) {
    return fr_svc_auth_client(c->api->svc, fr_http_header(c->req, "X-API-Key"), cl);
}

/* ---- dispatch ---- */

static void call_cleanup(struct fr_api_call *c) {
    json_decref(c->json);
    fr_free(c->mp);
    fr_free(c->decoded[0]);
    fr_free(c->decoded[1]);
    fr_free(c->raw);
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

/* ---- the row's flags, checked before its handler runs ---- */

static int ensure_body(struct fr_api_call *c);

/* 1 when the Content-Type ct (NULL: none) is the media type type, parameters aside. */
static int media_is(const char *ct, const char *type) {
    size_t n = strlen(type);
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t') ct++;
    return !strncasecmp(ct, type, n) && (!ct[n] || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* What a JSON route reads as JSON: application/json and application/...+json,
 * and what JSON is often sent as: no type, text/plain (a browser's fetch of
 * a string) and application/x-www-form-urlencoded (curl -d). */
static int media_json(const char *ct) {
    if (!ct) return 1;
    ct += strspn(ct, " \t");
    if (!*ct || media_is(ct, "application/json") || media_is(ct, "text/plain") ||
        media_is(ct, "application/x-www-form-urlencoded"))
        return 1;
    size_t n = strcspn(ct, "; \t");
    return n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5);
}

/* The row's body flag against the request (has_body: a body came, or is
 * coming). A refusal is a VALIDATION_ERROR naming "body" or "Content-Type";
 * the caller answers it 400 (the body cannot be read as the route's). */
static int check_body(const struct fr_api_route *r, const struct fr_http_req *req, int has_body) {
    const char *ct = fr_http_header(req, "Content-Type");
    if (!has_body) return 0;
    switch (r->body) {
    case FR_API_BODY_NONE:
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "body", "%s %s takes no request body", r->r.method,
                             r->r.pattern);
    case FR_API_BODY_JSON:
        if (media_json(ct)) return 0;
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "Content-Type",
                             "%s %s takes a JSON body (Content-Type: application/json), not %.80s", r->r.method,
                             r->r.pattern, ct);
    case FR_API_BODY_MULTIPART:
        if (media_is(ct, "multipart/form-data")) return 0;
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "Content-Type",
                             "%s %s takes multipart/form-data, not %.80s", r->r.method, r->r.pattern,
                             ct ? ct : "a body without a Content-Type");
    default:
        return 0;
    }
}

/* A client route's rate limit: X-RateLimit-* on every answer to a limited
 * client, 429 over it; an admitted request is counted for /usage. */
static int rate_limit(struct fr_api_call *c, const struct fr_api_route *r, const struct fr_svc_client *cl,
                      struct fr_http_resp *resp, json_t **details) {
    struct fr_ratelimit_info info;
    /* one node: its own windows; several (Redis): the shared ones, the node's share while Redis is down */
    int rc = fr_ratelimit_shared_check(c->api->redis, c->api->rl, cl->id, cl->rate_limit_per_hour,
                                       cl->rate_limit_per_day, fr_now_ms(), &info);
    if (info.limit > 0) {
        fr_http_resp_header(resp, "X-RateLimit-Limit", "%lld", (long long)info.limit);
        fr_http_resp_header(resp, "X-RateLimit-Remaining", "%lld", (long long)info.remaining);
        fr_http_resp_header(resp, "X-RateLimit-Reset", "%lld", (long long)info.reset);
    }
    if (rc < 0) {
        const char *window = info.window == FR_RATELIMIT_DAY ? "day" : "hour";
        fr_http_resp_header(resp, "Retry-After", "%lld", (long long)info.retry_after);
        *details = json_pack("{s:I,s:I,s:s}", "limit", (json_int_t)info.limit, "retry_after",
                             (json_int_t)info.retry_after, "window", window);
        return fr_err_set(FR_E_RATE_LIMITED, "rate limit of %lld requests per %s reached; retry in %lld s",
                          (long long)info.limit, window, (long long)info.retry_after);
    }
    fr_svc_usage_count(c->api->svc, cl->id, r->operation);
    return 0;
}

/* The answer of a handler that succeeded, in its row's reply kind (data is consumed). */
static void render_reply(struct fr_api_call *c, const struct fr_api_route *r, struct fr_http_resp *resp, json_t *data) {
    switch (r->reply) {
    case FR_API_REPLY_ENVELOPE:
        FR_ASSERT(!c->raw);
        render(c, resp, c->status, json_pack("{s:b,s:o}", "success", 1, "data", data ? data : json_object()));
        return;
    case FR_API_REPLY_BARE:
        FR_ASSERT(!c->raw);
        render_json(resp, c->status, data ? data : json_object());
        return;
    default:
        break;
    }
    FR_ASSERT(c->raw && !data);   /* TEXT and STATIC handlers give bytes */
    resp->status = c->status;
    resp->body = c->raw;
    resp->len = c->raw_len;
    c->raw = NULL;
    if (r->reply == FR_API_REPLY_TEXT) {
        resp->content_type = r->response;
        return;
    }
    /* the console: nothing but its own files, no inline code, no framing */
    resp->content_type = c->content_type;
    fr_http_resp_header(resp, "Content-Security-Policy",
                        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    fr_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    fr_http_resp_header(resp, "Referrer-Policy", "no-referrer");
    fr_http_resp_header(resp, "Cache-Control", "no-cache");
}

/* Before a body is read: a request that its credentials (401) or its row's
 * body flag (400) already refuse is answered now, and its body never read. */
void fr_api_early(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp) {
    struct fr_api_call c;
    memset(&c, 0, sizeof c);
    c.api = ctx;
    c.req = req;
    fr_err_clear();
    int idx = fr_route_match(route_table, fr_api_n_routes, req->method, route_path(req), &c.params);
    if (idx < 0) return;                       /* 404 / 405: the normal path answers (bodies are small) */
    const struct fr_api_route *r = &fr_api_routes[idx];
    struct fr_svc_client cl = { 0 };
    json_t *details = NULL;
    int rc = 0;
    if (r->r.auth == FR_ROUTE_AUTH_ADMIN) rc = auth_admin(&c);
    else if (r->r.auth == FR_ROUTE_AUTH_CLIENT) rc = auth_client(&c, &cl);
    if (rc == 0 && check_body(r, req, req->content_length > 0) < 0) {
        /* refused as the normal path refuses it: after the rate limit */
        c.client_id = cl.id;
        if (r->r.auth != FR_ROUTE_AUTH_CLIENT || (rc = rate_limit(&c, r, &cl, resp, &details)) == 0) {
            rc = check_body(r, req, 1);
            c.bad_body = 1;
        }
    } else if (rc != -FR_E_UNAUTHORIZED) {     /* let in, or a store failure: the normal path decides */
        fr_svc_client_free(&cl);
        return;
    }
    fr_svc_client_free(&cl);
    const char *origin = fr_http_header(req, "Origin");
    if (cors_allowed(c.api, origin)) cors_headers(resp, origin);   /* so a browser can read the answer */
    request_id(&c);
    c.operation = r->operation;
    render_error(&c, resp, rc, details);
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
    struct fr_svc_client cl = { 0 };
    json_t *data = NULL, *details = NULL;
    c.who.request_id = c.request_id;
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
    /* the row's flags, in order: auth, rate limit, body size, body kind; then the handler */
    const struct fr_api_route *r = &fr_api_routes[idx];
    c.route = r;
    c.operation = r->operation;
    c.status = r->status;
    if (r->r.auth == FR_ROUTE_AUTH_ADMIN) {
        if ((rc = auth_admin(&c)) < 0) goto fail;
    } else if (r->r.auth == FR_ROUTE_AUTH_CLIENT) {
        if ((rc = auth_client(&c, &cl)) < 0) goto fail;
        c.client_id = c.who.client_id = cl.id;
        if ((rc = rate_limit(&c, r, &cl, resp, &details)) < 0) goto fail;
    }
    if (req->too_large) {
        rc = fr_err_set(FR_E_FILE_TOO_LARGE, "the request body is over the %zu-byte limit",
                        fr_svc_config_of(c.api->svc)->max_upload_bytes);
        goto fail;
    }
    if (req->overloaded) {   /* the server's cap on bodies held at once: come back shortly */
        fr_http_resp_header(resp, "Retry-After", "1");
        rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "too many uploads in progress; retry shortly");
        goto fail;
    }
    if ((rc = check_body(r, req, req->body_len > 0)) < 0) {
        c.bad_body = 1;
        goto fail;
    }
    if (r->body != FR_API_BODY_NONE && (rc = ensure_body(&c)) < 0) goto fail;
    rc = r->fn(&c, &data, &details);
    if (rc < 0) goto fail;
    render_reply(&c, r, resp, data);
    data = NULL;
    json_decref(details);
    goto done;
fail:
    json_decref(data);
    if (rc == -FR_E_SERVICE_UNAVAILABLE && !details) {   /* name every model that is missing */
        struct fr_svc_status st;
        fr_svc_status(c.api->svc, 0, &st);
        if (st.n_missing) {
            json_t *m = json_array();
            for (int i = 0; i < st.n_missing; i++) json_array_append_new(m, json_string(st.missing[i]));
            details = json_pack("{s:o}", "missing", m);
        }
    }
    render_error(&c, resp, rc, details);
done:
    fr_http_resp_header(resp, "X-Request-Id", "%s", c.request_id);
    double ms = fr_time_ms() - req->t_start;
    observe(&c, resp->status, ms);
    log_request(&c, resp->status, ms);
    fr_svc_client_free(&cl);
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
    int rc = fr_query_get_int(fr_http_query(c->req, "limit"), "limit", 100, 1, FR_SVC_LIST_MAX, limit);
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
    /* JSON on a JSON route (the router let only JSON-ish types through),
     * when it says so, or when it looks like it (curl -d sends a form type);
     * anything else may be a bare image body */
    const uint8_t *b = c->req->body;
    size_t i = 0;
    while (i < c->req->body_len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    int says_json = ct && !strncasecmp(ct, "application/json", 16);
    if (says_json || (c->route && c->route->body == FR_API_BODY_JSON) || (i < c->req->body_len && b[i] == '{')) {
        int rc = fr_json_parse_body(c->req->body, c->req->body_len, fr_svc_config_of(c->api->svc)->max_upload_bytes, &c->json);
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

/* A parameter's text: multipart field, JSON (stringified scalar), or query;
 * *present: 0 absent, PARAM_FIELD from the body, PARAM_QUERY from the query. */
enum { PARAM_FIELD = 1, PARAM_QUERY = 2 };
static const char *param_kind(int present) { return present == PARAM_QUERY ? "query parameter" : "field"; }

static int param_text(struct fr_api_call *c, const char *name, char *buf, size_t cap, int *present) {
    *present = 0;
    int rc = ensure_body(c);
    if (rc < 0) return rc;
    if (c->mp && fr_multipart_get(c->mp, name)) {
        if ((rc = fr_multipart_text(c->mp, name, 1, buf, cap)) < 0) return rc;
        *present = PARAM_FIELD;
        return 0;
    }
    json_t *v = c->json ? json_object_get(c->json, name) : NULL;
    if (v && !json_is_null(v)) {
        if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
        else if (json_is_integer(v)) snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) snprintf(buf, cap, "%.17g", json_real_value(v));
        else if (json_is_boolean(v)) snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
        else return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%s' must be a scalar", name);
        *present = PARAM_FIELD;
        return 0;
    }
    const char *q = fr_http_query(c->req, name);
    if (q) {
        snprintf(buf, cap, "%s", q);
        *present = PARAM_QUERY;
    }
    return 0;
}

int fr_api_param_int(struct fr_api_call *c, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out) {
    char buf[64];
    int present, rc = param_text(c, name, buf, sizeof buf, &present);
    if (rc < 0) return rc;
    rc = fr_query_get_int(present ? buf : NULL, name, def, min, max, out);
    if (rc == -FR_E_VALIDATION_ERROR && present == PARAM_FIELD)   /* a field of the body, not of the query */
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "field '%s' must be an integer in [%lld, %lld]", name,
                           (long long)min, (long long)max);
    return rc;
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
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "%s '%s' must be a number in [%g, %g]",
                             param_kind(present), name, min, max);
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
    else return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "%s '%s' must be true or false", param_kind(present),
                              name);
    return 0;
}

int fr_api_param_string(struct fr_api_call *c, const char *name, size_t max_len, char *buf, size_t cap, int *present) {
    int rc = param_text(c, name, buf, cap, present);
    if (rc < 0) return rc;
    if (*present && strlen(buf) > max_len)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", name, "%s '%s' is longer than %zu bytes", param_kind(*present),
                             name, max_len);
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
        rc = fr_json_get_base64(c->json, b64_field, 0, fr_svc_config_of(c->api->svc)->max_upload_bytes, &b, &n);
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
