/* The API's description, built from the same rows the router dispatches on:
 * the OpenAPI 3.0.3 document (GET /openapi.json, `facerec openapi`) and
 * docs/API.md's route table (`facerec openapi --markdown`).
 *
 * routes.def gives each operation its method, path, auth, body kind, reply
 * kind, success status and flags; schemas.def gives the shapes. What an
 * operation can fail with is derived from the same flags the router checks
 * (auth → 401, a body → 413 and 422, a client key → 429, a path parameter or
 * FR_API_REFERS → 404, FR_API_CONFLICT → 409, FR_API_CAMERAS → 502), and the error envelope's codes and the codes
 * behind each status come from include/facerec/base.h's table. Like redis's
 * commands.def feeding both processCommand and COMMAND DOCS, one source
 * keeps the served API, its document and its docs from drifting. */
#include "api/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* schemas.def, stringized: the JSON text of each SCHEMA and PARAMS */
struct fragment {
    const char *name;
    const char *json;
};

static const struct fragment schemas[] = {
#define SCHEMA(name, ...) { #name, #__VA_ARGS__ },
#define PARAMS(name, ...)
#include "api/schemas.def"
#undef SCHEMA
#undef PARAMS
};

static const struct fragment param_lists[] = {
#define SCHEMA(name, ...)
#define PARAMS(name, ...) { #name, #__VA_ARGS__ },
#include "api/schemas.def"
#undef SCHEMA
#undef PARAMS
};

/* The error statuses an operation can answer (besides "default"), derived
 * from its row. */
static const int error_statuses[] = { 400, 401, 404, 409, 413, 422, 429, 502, 503 };
#define N_ERROR_STATUSES (sizeof error_statuses / sizeof error_statuses[0])

static int route_can_fail(const struct fr_api_route *r, int status) {
    switch (status) {
    case 400: return 1;   /* a bad path encoding, a body that does not parse or that the route does not take */
    case 401: return r->r.auth != FR_ROUTE_AUTH_NONE || (r->flags & FR_API_TOKEN);
    case 404: return strchr(r->r.pattern, '{') != NULL || (r->flags & FR_API_REFERS);
    case 409: return (r->flags & FR_API_CONFLICT) != 0;
    case 413: return r->body != FR_API_BODY_NONE;
    case 422: return r->body != FR_API_BODY_NONE || r->params != NULL;
    case 429: return r->r.auth == FR_ROUTE_AUTH_CLIENT;
    case 502: return (r->flags & FR_API_CAMERAS) != 0;
    case 503: return !(r->flags & FR_API_UNREADY);   /* a readiness 503 has the route's own body */
    default: return 0;
    }
}

static json_t *fragment_load(const struct fragment *f) {
    json_error_t e;
    json_t *j = json_loads(f->json, 0, &e);
    if (!j) fr_log(FR_LOG_ERROR, "schemas.def %s: %s (column %d)", f->name, e.text, e.column);
    return j;
}

static const struct fragment *fragment_find(const struct fragment *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

static json_t *ref(const char *kind, const char *name) {
    return json_sprintf("#/components/%s/%s", kind, name);
}

static json_t *schema_ref(const char *name) { return json_pack("{s:o}", "$ref", ref("schemas", name)); }

static json_t *schema_ref2(const char *name, const char *suffix) {
    char n[96];
    snprintf(n, sizeof n, "%s%s", name, suffix);
    return schema_ref(n);
}

/* The public codes (those the API answers with) whose status is status, as
 * "A, B, C". */
static void codes_of(int status, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int e = 1; e < FR_E_COUNT; e++) {
        int st, code;
        fr__api_error_map(-e, &st, &code);
        if (code != e || st != status) continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", fr_err_name(e));
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
}

/* components.schemas: schemas.def, the error codes, and the success
 * envelope of each data shape the routes answer with. */
static json_t *components_schemas(void) {
    json_t *out = json_object();
    for (size_t i = 0; out && i < sizeof schemas / sizeof schemas[0]; i++) {
        json_t *j = fragment_load(&schemas[i]);
        if (!j) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, schemas[i].name, j);
    }
    json_t *codes = json_array();
    for (int e = 1; e < FR_E_COUNT; e++) {
        int st, code;
        fr__api_error_map(-e, &st, &code);
        if (code == e) json_array_append_new(codes, json_string(fr_err_name(e)));
    }
    json_object_set_new(json_object_get(json_object_get(json_object_get(out, "Error"), "properties"), "code"), "enum",
                        codes);
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        const struct fr_api_route *r = &fr_api_routes[i];
        char name[96];
        if (r->reply != FR_API_REPLY_ENVELOPE) continue;
        snprintf(name, sizeof name, "%sResponse", r->response);
        if (json_object_get(out, name)) continue;
        json_object_set_new(out, name,
                            json_pack("{s:s,s:[s,s,s],s:{s:{s:s,s:[b]},s:o,s:{s:s}}}", "type", "object", "required",
                                      "success", "data", "request_id", "properties", "success", "type", "boolean",
                                      "enum", 1, "data", schema_ref(r->response), "request_id", "type", "string"));
    }
    return out;
}

/* components.responses: the error envelope under each status, naming the
 * codes that come with it. */
static json_t *components_responses(void) {
    json_t *out = json_object();
    char codes[512], desc[640];
    for (size_t i = 0; i < N_ERROR_STATUSES; i++) {
        int st = error_statuses[i];
        char name[16];
        codes_of(st, codes, sizeof codes);
        if (st == 400)   /* a body that does not parse, or of a type the route does not take */
            snprintf(desc, sizeof desc, "VALIDATION_ERROR (malformed request; details.field), %s", codes);
        else
            snprintf(desc, sizeof desc, "%s", codes);
        snprintf(name, sizeof name, "Error%d", st);
        json_t *resp = json_pack("{s:s,s:{s:{s:o}}}", "description", desc, "content", "application/json", "schema",
                                 schema_ref("Error"));
        if (st == 429)
            json_object_set_new(resp, "headers",
                                json_pack("{s:{s:s,s:{s:s}},s:{s:{s:s}},s:{s:{s:s}},s:{s:{s:s}}}", "Retry-After",
                                          "description", "seconds", "schema", "type", "integer", "X-RateLimit-Limit",
                                          "schema", "type", "integer", "X-RateLimit-Remaining", "schema", "type",
                                          "integer", "X-RateLimit-Reset", "schema", "type", "integer"));
        json_object_set_new(out, name, resp);
    }
    codes_of(500, codes, sizeof codes);
    snprintf(desc, sizeof desc, "any other error: %s (the message names the request id, never a path)", codes);
    json_object_set_new(out, "Error",
                        json_pack("{s:s,s:{s:{s:o}}}", "description", desc, "content", "application/json", "schema",
                                  schema_ref("Error")));
    return out;
}

/* The path parameters of a pattern ({id}: a positive integer, any other a
 * string), then the row's PARAMS list. */
static json_t *operation_params(const struct fr_api_route *r) {
    json_t *a = json_array();
    for (const char *p = strchr(r->r.pattern, '{'); p; p = strchr(p + 1, '{')) {
        char name[FR_ROUTE_NAME_MAX + 1];
        size_t n = strcspn(p + 1, "}");
        snprintf(name, sizeof name, "%.*s", (int)n, p + 1);
        json_t *schema = !strcmp(name, "id") ? json_pack("{s:s,s:s,s:i}", "type", "integer", "format", "int64",
                                                         "minimum", 1)
                                             : json_pack("{s:s}", "type", "string");
        json_array_append_new(a, json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", "path", "required", 1, "schema",
                                           schema));
    }
    if (r->params) {
        const struct fragment *f = fragment_find(param_lists, sizeof param_lists / sizeof param_lists[0], r->params);
        json_t *l = f ? fragment_load(f) : NULL;
        if (!l) {
            json_decref(a);
            return NULL;
        }
        json_array_extend(a, l);
        json_decref(l);
    }
    return a;
}

static json_t *request_body(const struct fr_api_route *r) {
    json_t *content = json_object();
    switch (r->body) {
    case FR_API_BODY_JSON:
        json_object_set_new(content, "application/json", json_pack("{s:o}", "schema", schema_ref(r->request)));
        break;
    case FR_API_BODY_MULTIPART:
        json_object_set_new(content, "multipart/form-data",
                            json_pack("{s:o}", "schema", schema_ref2(r->request, "Multipart")));
        break;
    default:   /* EITHER */
        json_object_set_new(content, "multipart/form-data",
                            json_pack("{s:o}", "schema", schema_ref2(r->request, "Multipart")));
        json_object_set_new(content, "application/json", json_pack("{s:o}", "schema", schema_ref2(r->request, "Json")));
        json_object_set_new(content, "application/octet-stream",
                            json_pack("{s:{s:s,s:s}}", "schema", "type", "string", "format", "binary"));
        json_object_set_new(content, "image/*", json_pack("{s:{s:s,s:s}}", "schema", "type", "string", "format", "binary"));
    }
    const char *desc = r->body == FR_API_BODY_EITHER
                           ? "the photo as a multipart file, as base64 in JSON, or as the whole body (JPEG, PNG, WebP, "
                             "GIF, BMP, TIFF by content); with the bare photo the parameters go in the query string, "
                             "which every form also accepts"
                           : "";
    json_t *b = json_pack("{s:b,s:o}", "required", 1, "content", content);
    if (desc[0]) json_object_set_new(b, "description", json_string(desc));
    return b;
}

/* The success answer's media types and schema. */
static json_t *success_content(const struct fr_api_route *r) {
    json_t *content = json_object();
    if (r->reply == FR_API_REPLY_ENVELOPE || r->reply == FR_API_REPLY_BARE) {
        json_t *s = r->reply == FR_API_REPLY_BARE ? schema_ref(r->response) : schema_ref2(r->response, "Response");
        json_object_set_new(content, "application/json", json_pack("{s:o}", "schema", s));
        return content;
    }
    for (const char *p = r->response; *p;) {   /* "text/javascript, text/css" */
        p += strspn(p, " ");
        size_t n = strcspn(p, ",");
        char type[96];
        snprintf(type, sizeof type, "%.*s", (int)n, p);
        json_object_set_new(content, type, json_pack("{s:{s:s}}", "schema", "type", "string"));
        p += n;
        if (*p == ',') p++;
    }
    return content;
}

static json_t *operation(const struct fr_api_route *r) {
    static const char *const tags[] = { "public", "client", "admin" };
    json_t *params = operation_params(r);
    if (!params) return NULL;
    json_t *op = json_pack("{s:s,s:s,s:[s]}", "operationId", r->operation, "summary", r->summary, "tags",
                           tags[r->r.auth]);
    if (json_array_size(params)) json_object_set_new(op, "parameters", params);
    else json_decref(params);
    if (r->body != FR_API_BODY_NONE) json_object_set_new(op, "requestBody", request_body(r));
    json_t *resp = json_object();
    char st[8];
    snprintf(st, sizeof st, "%d", r->status);
    json_object_set_new(resp, st, json_pack("{s:s,s:o}", "description", r->summary, "content", success_content(r)));
    if (r->flags & FR_API_UNREADY)
        json_object_set_new(resp, "503", json_pack("{s:s,s:o}", "description", "not ready: what is missing",
                                                   "content", success_content(r)));
    for (size_t i = 0; i < N_ERROR_STATUSES; i++) {
        if (!route_can_fail(r, error_statuses[i])) continue;
        char name[16];
        snprintf(st, sizeof st, "%d", error_statuses[i]);
        snprintf(name, sizeof name, "Error%d", error_statuses[i]);
        json_object_set_new(resp, st, json_pack("{s:o}", "$ref", ref("responses", name)));
    }
    json_object_set_new(resp, "default", json_pack("{s:o}", "$ref", ref("responses", "Error")));
    json_object_set_new(op, "responses", resp);
    if (r->r.auth == FR_ROUTE_AUTH_CLIENT) json_object_set_new(op, "security", json_pack("[{s:[]}]", "apiKey"));
    if (r->r.auth == FR_ROUTE_AUTH_ADMIN) json_object_set_new(op, "security", json_pack("[{s:[]}]", "adminToken"));
    if (r->flags & FR_API_TOKEN) json_object_set_new(op, "security", json_pack("[{},{s:[]}]", "metricsToken"));
    return op;
}

json_t *fr_api_openapi(void) {
    json_t *paths = json_object(), *sch = components_schemas(), *resp = components_responses();
    json_t *doc = NULL;
    if (!paths || !sch || !resp) goto out;
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
        json_t *op = operation(r);
        if (!op) goto out;
        json_object_set_new(p, method, op);
    }
    doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:O,s:{s:O,s:O,s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},"
        "s:{s:s,s:s,s:s}}}}",
        "openapi", "3.0.3", "info", "title", "facerec", "version", "1.0.0", "description",
        "Self-hosted face recognition service. Generated from the server's route table, the one it "
        "dispatches on; docs/API.md explains each route.",
        "tags", "name", "public", "description", "no credentials", "name", "client", "description",
        "X-API-Key: a client's data only", "name", "admin", "description", "the admin token", "paths", paths,
        "components", "schemas", sch, "responses", resp, "securitySchemes", "apiKey", "type", "apiKey", "in", "header",
        "name", "X-API-Key", "adminToken", "type", "http", "scheme", "bearer", "description",
        "Authorization: Bearer <admin token> (FACEREC_ADMIN_TOKEN)", "metricsToken", "type", "http", "scheme",
        "bearer", "description", "FACEREC_METRICS_TOKEN or the admin token, when FACEREC_METRICS_TOKEN is set");
out:
    json_decref(paths);
    json_decref(sch);
    json_decref(resp);
    return doc;
}

int fr_api_openapi_route(struct fr_api_call *c, json_t **data, json_t **details) {
    (void)c;
    (void)details;
    *data = fr_api_openapi();
    return *data ? 0 : -FR_E_NOMEM;
}

/* ---- docs/API.md's route table ---- */

struct text {
    char *p;
    size_t len, cap;
    int failed;   /* sticky: an allocation failed */
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->failed || n < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *p = fr_realloc(t->p, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

char *fr_api_routes_markdown(void) {
    static const char *const auth[] = { "–", "key", "admin" };
    static const char *const body[] = { "–", "JSON", "multipart", "photo" };
    struct text t = { 0 };
    text_add(&t, "| method | path | auth | body | success | what |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        const struct fr_api_route *r = &fr_api_routes[i];
        char ok[48];
        switch (r->reply) {
        case FR_API_REPLY_ENVELOPE: snprintf(ok, sizeof ok, "%d", r->status); break;
        case FR_API_REPLY_BARE:
            snprintf(ok, sizeof ok, "%d%s bare JSON", r->status, r->flags & FR_API_UNREADY ? " or 503," : "");
            break;
        case FR_API_REPLY_TEXT: snprintf(ok, sizeof ok, "%d text", r->status); break;
        default: snprintf(ok, sizeof ok, "%d file", r->status);
        }
        text_add(&t, "| %s | %s | %s | %s | %s | %s |\n", r->r.method, r->r.pattern, auth[r->r.auth], body[r->body], ok,
                 r->summary);
    }
    if (t.failed) {
        fr_free(t.p);
        return NULL;
    }
    return t.p;
}
