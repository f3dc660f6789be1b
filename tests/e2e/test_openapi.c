/* The OpenAPI document held to the truth: the real server's answers, route by
 * route, checked against the response schema that its own GET /openapi.json
 * gives for that route and status.
 *
 * The validator below knows the part of OpenAPI 3.0's schema dialect that
 * schemas.def uses: $ref, type, nullable, enum, required, properties, items,
 * minItems, maxItems, allOf and oneOf. It treats an object as closed unless
 * its schema says additionalProperties, so a member a handler writes without
 * the document naming it fails here as surely as a missing one. Every status
 * an answer comes with must be listed for its operation (only 5xx may fall to
 * "default"), every operation's success answer is checked at least once (the
 * recognition routes when the models are there), and test_validator_fails
 * shows the checks fail on a deliberately wrong document.
 *
 * Also here: the router's body flags (routes.def) as the client sees them. */
#include "harness.h"
#include "e2e.h"

static struct e2e_server g_srv;
static int g_models;
static json_t *g_doc;                  /* GET /openapi.json */
static int g_checked;                  /* answers checked against the document */
static char g_covered[64][96];         /* "METHOD pattern" of each success answer checked */
static int g_n_covered;
static int g_seq;

#define F_AARON1 "tests/fixtures/faces/Aaron_Peirsol_0001.jpg"
#define F_AARON3 "tests/fixtures/faces/Aaron_Peirsol_0003.jpg"
#define F_OBAMA  "tests/fixtures/faces/obama_small.jpg"
#define F_TWO    "tests/fixtures/e2e/two_faces.jpg"
#define F_NOFACE "tests/fixtures/images/baseline.jpg"

/* ---- the validator ---------------------------------------------------------- */

struct vctx {
    json_t *doc;
    char err[512];
};

static int vfail(struct vctx *v, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vfail(struct vctx *v, const char *path, const char *fmt, ...) {
    va_list ap;
    int n = snprintf(v->err, sizeof v->err, "%s: ", path[0] ? path : "(root)");
    va_start(ap, fmt);
    vsnprintf(v->err + n, sizeof v->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* s with its "$ref"s followed ("#/components/schemas/X"), or NULL. */
static json_t *resolve(json_t *doc, json_t *s) {
    for (int depth = 0; s && depth < 16; depth++) {
        const char *ref = json_string_value(json_object_get(s, "$ref"));
        if (!ref) return s;
        if (strncmp(ref, "#/", 2)) return NULL;
        json_t *cur = doc;
        for (const char *p = ref + 2; cur && *p;) {
            char seg[128];
            size_t l = strcspn(p, "/");
            snprintf(seg, sizeof seg, "%.*s", (int)l, p);
            cur = json_object_get(cur, seg);
            p += l + (p[l] == '/');
        }
        s = cur;
    }
    return NULL;
}

/* 1 when schema s (its allOf branches included) names member key, or is open. */
static int declares(json_t *doc, json_t *s, const char *key) {
    s = resolve(doc, s);
    if (!s) return 0;
    json_t *ap = json_object_get(s, "additionalProperties");
    if (json_is_true(ap) || json_is_object(ap)) return 1;
    if (json_object_get(json_object_get(s, "properties"), key)) return 1;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(s, "allOf"), i, b) if (declares(doc, b, key)) return 1;
    return 0;
}

/* x against schema s; closure: the schema whose members an object may have
 * (s itself, or the allOf that s is a branch of). 0, or -1 with v->err. */
static int validate(struct vctx *v, json_t *s, json_t *x, const char *path, json_t *closure) {
    char sub[512];
    size_t i;
    json_t *e;
    const char *k;
    json_t *orig = s;
    s = resolve(v->doc, s);
    if (!s) return vfail(v, path, "unresolved $ref %s", json_string_value(json_object_get(orig, "$ref")));
    if (closure == orig) closure = s;
    if (json_is_null(x)) {
        if (json_is_true(json_object_get(s, "nullable"))) return 0;
        return vfail(v, path, "null, and the schema is not nullable");
    }
    json_array_foreach(json_object_get(s, "allOf"), i, e)
        if (validate(v, e, x, path, s) < 0) return -1;
    json_t *one = json_object_get(s, "oneOf");
    if (one) {
        int hits = 0;
        json_array_foreach(one, i, e) {
            struct vctx w = { v->doc, "" };
            hits += validate(&w, e, x, path, e) == 0;
        }
        if (hits != 1) return vfail(v, path, "matches %d of the %zu oneOf schemas", hits, json_array_size(one));
    }
    json_t *en = json_object_get(s, "enum");
    if (en) {
        int in = 0;
        json_array_foreach(en, i, e) in |= json_equal(e, x);
        if (!in) return vfail(v, path, "not one of the enum's values");
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    if (!type) return 0;
    if (!strcmp(type, "object")) {
        if (!json_is_object(x)) return vfail(v, path, "not an object");
        json_array_foreach(json_object_get(s, "required"), i, e)
            if (!json_object_get(x, json_string_value(e)))
                return vfail(v, path, "required member \"%s\" is missing", json_string_value(e));
        json_object_foreach(x, k, e) {
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            json_t *ps = json_object_get(json_object_get(s, "properties"), k);
            if (ps && validate(v, ps, e, sub, ps) < 0) return -1;
            if (!declares(v->doc, closure ? closure : s, k)) return vfail(v, sub, "a member the schema does not name");
        }
        return 0;
    }
    if (!strcmp(type, "array")) {
        if (!json_is_array(x)) return vfail(v, path, "not an array");
        json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
        if (mn && json_array_size(x) < (size_t)json_integer_value(mn))
            return vfail(v, path, "%zu items, fewer than %lld", json_array_size(x), (long long)json_integer_value(mn));
        if (mx && json_array_size(x) > (size_t)json_integer_value(mx))
            return vfail(v, path, "%zu items, more than %lld", json_array_size(x), (long long)json_integer_value(mx));
        json_t *items = json_object_get(s, "items");
        json_array_foreach(x, i, e) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (items && validate(v, items, e, sub, items) < 0) return -1;
        }
        return 0;
    }
    int ok = !strcmp(type, "string")    ? json_is_string(x)
             : !strcmp(type, "integer") ? json_is_integer(x)
             : !strcmp(type, "number")  ? json_is_number(x)
             : !strcmp(type, "boolean") ? json_is_boolean(x)
                                        : 0;
    return ok ? 0 : vfail(v, path, "not of type %s", type);
}

/* x against schema (a schema, or {"$ref": ...}) of document doc. */
static int conforms(json_t *doc, json_t *schema, json_t *x, char *err, size_t errlen) {
    struct vctx v = { doc, "" };
    int rc = validate(&v, schema, x, "", schema);
    snprintf(err, errlen, "%s", v.err);
    return rc;
}

static int conforms_to(json_t *doc, const char *name, json_t *x) {
    char err[512];
    json_t *ref = json_pack("{s:s+}", "$ref", "#/components/schemas/", name);
    int rc = conforms(doc, ref, x, err, sizeof err);
    if (rc < 0) printf("  %s: %s\n", name, err);   /* what the validator saw (expected in test_validator_fails) */
    json_decref(ref);
    return rc;
}

/* ---- answers against the document -------------------------------------------- */

static const char *lower(const char *m, char out[8]) {
    size_t k = 0;
    for (; m[k] && k < 7; k++) out[k] = (char)(m[k] | 0x20);
    out[k] = 0;
    return out;
}

static void dump(const struct e2e_resp *r) {
    fprintf(stderr, "status %d\nheaders:\n%s\nbody: %.3000s\n", r->status, r->head ? r->head : "",
            r->body ? r->body : "(none)");
}

/* The answer r to METHOD pattern is what the document says for its status:
 * the status listed, the media type listed, a JSON body valid against the
 * schema. Success answers count toward every route's coverage. */
#define CHECK(r, method, pattern) check(&(r), (method), (pattern), __LINE__)
static void check(const struct e2e_resp *r, const char *method, const char *pattern, int line) {
    char m[8], st[8], ct[160] = "";
    json_t *op = json_object_get(json_object_get(json_object_get(g_doc, "paths"), pattern), lower(method, m));
    if (!op) fail_msg("test_openapi.c:%d: the document has no %s %s", line, method, pattern);
    json_t *responses = json_object_get(op, "responses");
    snprintf(st, sizeof st, "%d", r->status);
    json_t *resp = json_object_get(responses, st);
    if (!resp && r->status < 500) {
        dump(r);
        fail_msg("test_openapi.c:%d: %s %s answered %d, which its operation does not list", line, method, pattern,
                 r->status);
    }
    if (!resp) resp = json_object_get(responses, "default");
    resp = resolve(g_doc, resp);
    assert_non_null(resp);
    e2e_header(r, "Content-Type", ct, sizeof ct);
    size_t base = strcspn(ct, ";");
    json_t *media = NULL;
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(resp, "content"), key, val)
        if (strcspn(key, ";") == base && !strncasecmp(key, ct, base)) media = val;
    if (!media) {
        dump(r);
        fail_msg("test_openapi.c:%d: %s %s answered %d as \"%s\", not a media type the document lists", line, method,
                 pattern, r->status, ct);
    }
    if (!strncmp(ct, "application/json", 16)) {
        char err[512];
        if (!r->json || conforms(g_doc, json_object_get(media, "schema"), r->json, err, sizeof err) < 0) {
            dump(r);
            fail_msg("test_openapi.c:%d: %s %s %d does not conform to its schema: %s", line, method, pattern,
                     r->status, r->json ? err : "the body is not JSON");
        }
    }
    g_checked++;
    if (r->status < 300) {
        char id[96];
        snprintf(id, sizeof id, "%s %s", method, pattern);
        int seen = 0;
        for (int i = 0; i < g_n_covered; i++) seen |= !strcmp(g_covered[i], id);
        if (!seen && g_n_covered < 64) snprintf(g_covered[g_n_covered++], sizeof g_covered[0], "%s", id);
    }
}

/* ---- requests ---------------------------------------------------------------- */

struct client {
    char id[32];
    char hdr[160];
};

static void call(struct e2e_resp *r, const char *method, const char *path, const char *hdrs, const char *ctype,
                 const void *body, size_t len) {
    if (e2e_http(g_srv.port, method, path, hdrs, ctype, body, len, r) != 0)
        fail_msg("%s %s: no answer (errno %d)", method, path, r->io_errno);
}

static void call_json(struct e2e_resp *r, const char *method, const char *path, const char *hdrs, const char *json) {
    call(r, method, path, hdrs, json ? "application/json" : NULL, json, json ? strlen(json) : 0);
}

/* A multipart body: file (NULL: none) in field, then (name, value) text
 * fields ("@name", FILE: another file), NULL-terminated. */
static struct e2e_buf vform(const char *field, const char *file, va_list ap) {
    struct e2e_buf b = {0};
    const char *name = field, *val = file;
    for (int first = 1; name; first = 0, name = va_arg(ap, const char *)) {
        if (!first) val = va_arg(ap, const char *);
        if (first || name[0] == '@') {
            uint8_t *p = NULL;
            size_t n = 0;
            if (!val) continue;
            if (fr_file_read(val, 1 << 24, &p, &n) < 0) fail_msg("cannot read %s", val);
            e2e_mp_file(&b, name + (name[0] == '@'), "photo.jpg", "image/jpeg", p, n);
            fr_free(p);
        } else {
            e2e_mp_text(&b, name, val);
        }
    }
    e2e_mp_end(&b);
    return b;
}

static struct e2e_buf form(const char *field, const char *file, ...) {
    va_list ap;
    va_start(ap, file);
    struct e2e_buf b = vform(field, file, ap);
    va_end(ap);
    return b;
}

/* A request whose answer matters for its status and its schema only: st
 * (0: any status), then checked against METHOD pattern. */
static void expect(int st, const char *method, const char *pattern, const char *path, const char *hdrs,
                   const char *ctype, const void *body, size_t len, int line) {
    struct e2e_resp r;
    call(&r, method, path, hdrs, ctype, body, len);
    if (st && r.status != st) {
        dump(&r);
        fail_msg("test_openapi.c:%d: %s %s answered %d, not %d", line, method, path, r.status, st);
    }
    check(&r, method, pattern, line);
    e2e_resp_free(&r);
}

#define EXPECT(st, method, pattern, path, hdrs) expect((st), (method), (pattern), (path), (hdrs), NULL, NULL, 0, __LINE__)
#define EXPECT_JSON(st, method, pattern, path, hdrs, json) \
    expect((st), (method), (pattern), (path), (hdrs), "application/json", (json), strlen(json), __LINE__)

/* POST a multipart body (form's arguments after hdrs). */
static void expect_form(int st, const char *pattern, const char *path, const char *hdrs, int line, const char *field,
                        const char *file, ...) {
    va_list ap;
    va_start(ap, file);
    struct e2e_buf b = vform(field, file, ap);
    va_end(ap);
    expect(st, "POST", pattern, path, hdrs, E2E_MP_CTYPE, b.p, b.len, line);
    e2e_buf_free(&b);
}

#define EXPECT_FORM(st, pattern, path, hdrs, ...) expect_form((st), (pattern), (path), (hdrs), __LINE__, __VA_ARGS__)

static void new_client(struct client *c, long per_hour) {
    struct e2e_resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"oa-%d\",\"rate_limit_per_hour\":%ld}", ++g_seq, per_hour);
    call_json(&r, "POST", "/api/v1/admin/clients", g_srv.auth, body);
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", "/api/v1/admin/clients");
    snprintf(c->id, sizeof c->id, "%lld", (long long)json_integer_value(json_object_get(json_object_get(r.json, "data"), "id")));
    snprintf(c->hdr, sizeof c->hdr, "X-API-Key: %s\r\n",
             json_string_value(json_object_get(json_object_get(r.json, "data"), "api_key")));
    e2e_resp_free(&r);
}

static long long data_int(const struct e2e_resp *r, const char *key) {
    return (long long)json_integer_value(json_object_get(json_object_get(r->json, "data"), key));
}

/* ---- tests ------------------------------------------------------------------- */

/* The validator is not a rubber stamp: wrong values and a wrong document fail. */
static void test_validator_fails(void **state) {
    (void)state;
    json_t *client = json_pack("{s:i,s:s,s:s,s:i,s:i,s:b,s:I}", "id", 3, "name", "x", "key_prefix", "frk_abc",
                               "rate_limit_per_hour", 0, "rate_limit_per_day", 0, "disabled", 0, "created_at",
                               (json_int_t)1700000000000);
    assert_int_equal(conforms_to(g_doc, "Client", client), 0);
    json_t *bad = json_deep_copy(client);
    json_object_set_new(bad, "id", json_string("3"));             /* wrong type */
    assert_int_equal(conforms_to(g_doc, "Client", bad), -1);
    json_decref(bad);
    bad = json_deep_copy(client);
    json_object_del(bad, "key_prefix");                           /* a required member missing */
    assert_int_equal(conforms_to(g_doc, "Client", bad), -1);
    json_decref(bad);
    bad = json_deep_copy(client);
    json_object_set_new(bad, "secret", json_true());              /* a member the schema does not name */
    assert_int_equal(conforms_to(g_doc, "Client", bad), -1);
    json_object_set_new(bad, "api_key", json_string("k"));
    json_object_del(bad, "secret");
    assert_int_equal(conforms_to(g_doc, "ClientWithKey", bad), 0);   /* allOf: the union of the members */
    json_object_set_new(bad, "name", json_null());                /* null where not nullable */
    assert_int_equal(conforms_to(g_doc, "ClientWithKey", bad), -1);
    json_decref(bad);
    json_t *h = json_pack("{s:s}", "status", "fine");             /* not in the enum */
    assert_int_equal(conforms_to(g_doc, "Health", h), -1);
    json_decref(h);
    json_t *box = json_pack("[f,f,f]", 1.0, 2.0, 3.0);             /* minItems */
    assert_int_equal(conforms_to(g_doc, "Box", box), -1);
    json_decref(box);
    /* oneOf: a verify answer that mixes both forms matches neither */
    json_t *ver = json_pack("{s:f,s:f,s:b,s:I,s:i,s:[f,f,f,f],s:i,s:[f,f,f,f]}", "similarity", 0.5, "threshold", 0.28,
                            "match", 1, "subject_id", (json_int_t)1, "faces_compared", 1, "box", 1.0, 2.0, 3.0, 4.0,
                            "faces_detected", 1, "box_a", 1.0, 2.0, 3.0, 4.0);
    assert_int_equal(conforms_to(g_doc, "Verify", ver), -1);
    json_object_del(ver, "box_a");
    assert_int_equal(conforms_to(g_doc, "Verify", ver), 0);
    json_decref(ver);
    /* a deliberately wrong document: a real subject fails against it */
    struct client c;
    new_client(&c, 0);
    struct e2e_resp r;
    call_json(&r, "POST", "/api/v1/subjects", c.hdr, "{\"name\":\"Wrong Doc\"}");
    CHECK(r, "POST", "/api/v1/subjects");
    json_t *data = json_object_get(r.json, "data");
    assert_int_equal(conforms_to(g_doc, "Subject", data), 0);
    json_t *wrong = json_deep_copy(g_doc);
    json_t *props = json_object_get(json_object_get(json_object_get(json_object_get(wrong, "components"), "schemas"),
                                                    "Subject"), "properties");
    json_object_set_new(json_object_get(props, "faces"), "type", json_string("string"));
    assert_int_equal(conforms_to(wrong, "Subject", data), -1);
    json_object_del(props, "faces");                              /* no longer named: the member is unknown */
    json_object_del(props, "updated_at");
    assert_int_equal(conforms_to(wrong, "Subject", data), -1);
    json_decref(wrong);
    e2e_resp_free(&r);
    json_decref(client);
}

static void test_public_routes(void **state) {
    (void)state;
    EXPECT(200, "GET", "/health", "/health", NULL);
    EXPECT(g_models ? 200 : 503, "GET", "/health/ready", "/health/ready", NULL);
    EXPECT(200, "GET", "/status", "/status", NULL);
    EXPECT(200, "GET", "/openapi.json", "/openapi.json", NULL);
    EXPECT(200, "GET", "/metrics", "/metrics", NULL);
    EXPECT(200, "GET", "/console", "/console/", NULL);
    EXPECT(200, "GET", "/console/{file}", "/console/console.js", NULL);
    EXPECT(200, "GET", "/console/{file}", "/console/console.css", NULL);
    EXPECT(404, "GET", "/console/{file}", "/console/nope.js", NULL);
}

static void test_admin_routes(void **state) {
    (void)state;
    struct client c, gone;
    new_client(&c, 0);
    new_client(&gone, 0);
    struct e2e_resp r;
    char path[128], one[128];
    const char *admin = g_srv.auth;
    snprintf(one, sizeof one, "/api/v1/admin/clients/%s", c.id);
    EXPECT(200, "GET", "/api/v1/admin/clients", "/api/v1/admin/clients", admin);
    EXPECT(401, "GET", "/api/v1/admin/clients", "/api/v1/admin/clients", NULL);
    EXPECT(200, "GET", "/api/v1/admin/clients/{id}", one, admin);
    EXPECT_JSON(200, "PATCH", "/api/v1/admin/clients/{id}", one, admin, "{\"rate_limit_per_day\":5000,\"disabled\":false}");
    EXPECT_JSON(422, "PATCH", "/api/v1/admin/clients/{id}", one, admin, "{\"name\":\"\"}");
    snprintf(path, sizeof path, "/api/v1/admin/clients/%s/rotate-key", gone.id);
    EXPECT(200, "POST", "/api/v1/admin/clients/{id}/rotate-key", path, admin);
    /* the audit, two pages */
    call(&r, "GET", "/api/v1/admin/audit?limit=2", admin, NULL, NULL, 0);
    CHECK(r, "GET", "/api/v1/admin/audit");
    const char *next = json_string_value(json_object_get(json_object_get(r.json, "data"), "next_cursor"));
    assert_non_null(next);
    snprintf(path, sizeof path, "/api/v1/admin/audit?limit=1000&cursor=%s", next);
    e2e_resp_free(&r);
    EXPECT(200, "GET", "/api/v1/admin/audit", path, admin);
    snprintf(path, sizeof path, "/api/v1/admin/clients/%s", gone.id);
    EXPECT(200, "DELETE", "/api/v1/admin/clients/{id}", path, admin);
    EXPECT(404, "GET", "/api/v1/admin/clients/{id}", path, admin);
}

static void test_subject_routes(void **state) {
    (void)state;
    struct client c, lim;
    new_client(&c, 0);
    struct e2e_resp r;
    char path[160], one[160];
    const char *subjects = "/api/v1/subjects";
    call_json(&r, "POST", subjects, c.hdr, "{\"name\":\"Aaron\",\"external_id\":\"emp-1\",\"metadata\":{\"team\":\"swim\"}}");
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", subjects);
    snprintf(one, sizeof one, "%s/%lld", subjects, data_int(&r, "id"));
    e2e_resp_free(&r);
    EXPECT_JSON(409, "POST", subjects, subjects, c.hdr, "{\"name\":\"Twin\",\"external_id\":\"emp-1\"}");
    EXPECT_JSON(201, "POST", subjects, subjects, c.hdr, "{\"name\":\"Bob\"}");
    EXPECT_JSON(422, "POST", subjects, subjects, c.hdr, "{\"name\":42}");
    EXPECT_JSON(400, "POST", subjects, subjects, c.hdr, "{\"name\":");
    /* two pages of one */
    call(&r, "GET", "/api/v1/subjects?limit=1", c.hdr, NULL, NULL, 0);
    CHECK(r, "GET", subjects);
    const char *next = json_string_value(json_object_get(json_object_get(r.json, "data"), "next_cursor"));
    assert_non_null(next);
    snprintf(path, sizeof path, "%s?limit=1&cursor=%s", subjects, next);
    e2e_resp_free(&r);
    call(&r, "GET", path, c.hdr, NULL, NULL, 0);
    CHECK(r, "GET", subjects);
    assert_true(json_is_null(json_object_get(json_object_get(r.json, "data"), "next_cursor")));
    e2e_resp_free(&r);
    EXPECT(422, "GET", subjects, "/api/v1/subjects?limit=0", c.hdr);
    EXPECT(200, "GET", "/api/v1/subjects/{id}", one, c.hdr);
    EXPECT_JSON(200, "PATCH", "/api/v1/subjects/{id}", one, c.hdr,
                "{\"external_id\":null,\"metadata\":null,\"name\":\"Aaron P\"}");
    EXPECT(404, "GET", "/api/v1/subjects/{id}", "/api/v1/subjects/999999999", c.hdr);
    EXPECT(200, "DELETE", "/api/v1/subjects/{id}", one, c.hdr);
    EXPECT(200, "GET", "/api/v1/usage", "/api/v1/usage?days=2", c.hdr);
    EXPECT(401, "GET", "/api/v1/usage", "/api/v1/usage", NULL);
    /* over the limit */
    new_client(&lim, 1);
    EXPECT(200, "GET", subjects, subjects, lim.hdr);
    EXPECT(429, "GET", subjects, subjects, lim.hdr);
}

static void test_recognition_routes(void **state) {
    (void)state;
    if (!g_models) {
        fprintf(stderr, "models missing (run make models): skipped\n");
        skip();
    }
    struct client c;
    new_client(&c, 0);
    struct e2e_resp r;
    char path[160], fpath[160], hdr[320], sid[32];
    const char *faces = "/api/v1/subjects/{id}/faces", *ident = "/api/v1/identify", *ver = "/api/v1/verify",
               *det = "/api/v1/detect", *emb = "/api/v1/embeddings";
    call_json(&r, "POST", "/api/v1/subjects", c.hdr, "{\"name\":\"Aaron\",\"external_id\":\"ap\"}");
    snprintf(sid, sizeof sid, "%lld", data_int(&r, "id"));
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/subjects/%s/faces", sid);
    /* enrol: once with a key, its replay (the first answer), the key with another photo */
    snprintf(hdr, sizeof hdr, "%sIdempotency-Key: oa-enrol-1\r\n", c.hdr);
    struct e2e_buf b = form("photo", F_AARON1, "liveness", "true", NULL);
    call(&r, "POST", path, hdr, E2E_MP_CTYPE, b.p, b.len);
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", faces);
    long long fid = data_int(&r, "face_id");
    e2e_resp_free(&r);
    call(&r, "POST", path, hdr, E2E_MP_CTYPE, b.p, b.len);
    assert_int_equal(r.status, 201);
    assert_int_equal(data_int(&r, "face_id"), fid);
    CHECK(r, "POST", faces);
    e2e_resp_free(&r);
    e2e_buf_free(&b);
    EXPECT_FORM(409, faces, path, hdr, "photo", F_AARON3, NULL);
    EXPECT_FORM(201, faces, path, c.hdr, "photo", F_TWO, "select", "central", NULL);
    EXPECT_FORM(400, faces, path, c.hdr, "photo", F_TWO, NULL);
    EXPECT_FORM(400, faces, path, c.hdr, "photo", F_NOFACE, NULL);
    EXPECT_FORM(422, faces, path, c.hdr, "photo", F_AARON3, "select", "leftmost", NULL);
    EXPECT_FORM(400, faces, path, c.hdr, "nophoto", NULL, "liveness", "true", NULL);
    /* JSON with base64, and the bare photo */
    uint8_t *img = NULL;
    size_t n = 0;
    assert_int_equal(fr_file_read(F_AARON3, 1 << 24, &img, &n), 0);
    char *b64 = e2e_base64(img, n);
    struct e2e_buf js = {0};
    e2e_buf_printf(&js, "{\"image_base64\":\"%s\",\"liveness\":true}", b64);
    expect(201, "POST", faces, path, c.hdr, "application/json", js.p, js.len, __LINE__);
    EXPECT(200, "GET", faces, path, c.hdr);
    EXPECT_FORM(200, ident, ident, c.hdr, "photo", F_AARON3, "top_k", "3", "liveness", "true", NULL);
    expect(200, "POST", ident, ident, c.hdr, "application/json", js.p, js.len, __LINE__);
    expect(200, "POST", ident, "/api/v1/identify?threshold=0.99&allow_low_quality=true", c.hdr, "image/jpeg", img, n,
           __LINE__);
    EXPECT_FORM(422, ident, ident, c.hdr, "photo", F_AARON3, "top_k", "0", NULL);
    EXPECT_FORM(0, ident, ident, c.hdr, "photo", F_NOFACE, NULL);
    /* verify: both forms, a mix, an unknown subject */
    EXPECT_FORM(200, ver, ver, c.hdr, "photo_a", F_AARON1, "@photo_b", F_AARON3, NULL);
    EXPECT_FORM(200, ver, ver, c.hdr, "photo", F_OBAMA, "subject_id", sid, NULL);
    EXPECT_FORM(422, ver, ver, c.hdr, "photo", F_OBAMA, "@photo_b", F_AARON3, NULL);
    EXPECT_FORM(404, ver, ver, c.hdr, "photo", F_OBAMA, "subject_id", "999999999", NULL);
    /* detect, embeddings (without a submission_id: null) */
    EXPECT_FORM(200, det, det, c.hdr, "photo", F_OBAMA, "liveness", "true", "attributes", "true", NULL);
    EXPECT_FORM(200, det, det, c.hdr, "photo", F_TWO, NULL);
    EXPECT_FORM(400, det, det, c.hdr, "photo", "tests/fixtures/images/random.bin", NULL);
    EXPECT_FORM(200, emb, emb, c.hdr, "photo", F_OBAMA, "submission_id", "job-1", NULL);
    expect(200, "POST", emb, emb, c.hdr, "application/json", js.p, js.len, __LINE__);
    /* delete a face, then again */
    snprintf(fpath, sizeof fpath, "/api/v1/faces/%lld", fid);
    EXPECT(200, "DELETE", "/api/v1/faces/{id}", fpath, c.hdr);
    EXPECT(404, "DELETE", "/api/v1/faces/{id}", fpath, c.hdr);
    e2e_buf_free(&js);
    fr_free(b64);
    fr_free(img);
}

/* routes.def's body flags as a client meets them. */
static void test_webhook_routes(void **state) {
    (void)state;
    struct client c, other;
    new_client(&c, 0);
    new_client(&other, 0);
    struct e2e_resp r;
    char one[160], path[200];
    const char *hooks = "/api/v1/webhooks";
    call_json(&r, "POST", hooks, c.hdr,
              "{\"url\":\"http://127.0.0.1:9/hook\",\"events\":[\"face.enrolled\",\"subject.created\"],"
              "\"description\":\"crm\"}");
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", hooks);
    const long long id = data_int(&r, "id");
    snprintf(one, sizeof one, "%s/%lld", hooks, id);
    e2e_resp_free(&r);
    EXPECT_JSON(422, "POST", hooks, hooks, c.hdr, "{\"url\":\"ftp://example.com/x\",\"events\":[\"*\"]}");
    EXPECT_JSON(422, "POST", hooks, hooks, c.hdr, "{\"url\":\"http://127.0.0.1:9/\",\"events\":[\"nope\"]}");
    EXPECT_JSON(400, "POST", hooks, hooks, c.hdr, "{\"url\":");
    EXPECT(200, "GET", hooks, hooks, c.hdr);
    EXPECT(200, "GET", "/api/v1/webhooks/{id}", one, c.hdr);
    EXPECT(404, "GET", "/api/v1/webhooks/{id}", one, other.hdr);
    EXPECT_JSON(200, "PATCH", "/api/v1/webhooks/{id}", one, c.hdr, "{\"description\":null,\"events\":[\"*\"]}");
    snprintf(path, sizeof path, "%s/rotate-secret", one);
    EXPECT(200, "POST", "/api/v1/webhooks/{id}/rotate-secret", path, c.hdr);
    snprintf(path, sizeof path, "%s/test", one);
    EXPECT(202, "POST", "/api/v1/webhooks/{id}/test", path, c.hdr);
    snprintf(path, sizeof path, "%s/deliveries?limit=10", one);
    call(&r, "GET", path, c.hdr, NULL, NULL, 0);
    CHECK(r, "GET", "/api/v1/webhooks/{id}/deliveries");
    json_t *d0 = json_array_get(json_object_get(json_object_get(r.json, "data"), "deliveries"), 0);
    assert_non_null(d0);
    const long long did = (long long)json_integer_value(json_object_get(d0, "id"));
    e2e_resp_free(&r);
    snprintf(path, sizeof path, "%s/deliveries/%lld/retry", one, did);
    EXPECT(200, "POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", path, c.hdr);
    snprintf(path, sizeof path, "%s/deliveries/999999/retry", one);
    EXPECT(404, "POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", path, c.hdr);
    EXPECT(404, "DELETE", "/api/v1/webhooks/{id}", one, other.hdr);
    EXPECT(200, "DELETE", "/api/v1/webhooks/{id}", one, c.hdr);
    /* a disabled webhook takes no test event: 409 CONFLICT, field "enabled" */
    call_json(&r, "POST", hooks, c.hdr, "{\"url\":\"http://127.0.0.1:9/hook\",\"events\":[\"*\"],\"enabled\":false}");
    assert_int_equal(r.status, 201);
    snprintf(path, sizeof path, "%s/%lld/test", hooks, data_int(&r, "id"));
    e2e_resp_free(&r);
    EXPECT(409, "POST", "/api/v1/webhooks/{id}/test", path, c.hdr);
}

static void test_body_flags(void **state) {
    (void)state;
    struct client c;
    new_client(&c, 100000);
    struct e2e_resp r;
    const char *subjects = "/api/v1/subjects";
    /* a JSON route: multipart and other types refused, naming Content-Type */
    struct e2e_buf mp = form("name", NULL, "name", "x", NULL);
    call(&r, "POST", subjects, c.hdr, E2E_MP_CTYPE, mp.p, mp.len);
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "details"), "field")),
                        "Content-Type");
    CHECK(r, "POST", subjects);
    char v[32];
    assert_non_null(e2e_header(&r, "X-RateLimit-Limit", v, sizeof v));   /* after the rate limit, as any answer */
    e2e_resp_free(&r);
    e2e_buf_free(&mp);
    expect(400, "POST", "/api/v1/admin/clients", "/api/v1/admin/clients", g_srv.auth, "application/octet-stream",
           "{\"name\":\"o\"}", 12, __LINE__);
    /* ... but JSON as text/plain (fetch), as curl -d sends it, or untyped goes through */
    expect(201, "POST", subjects, subjects, c.hdr, "text/plain;charset=UTF-8", "{\"name\":\"fetch\"}", 16, __LINE__);
    expect(201, "POST", subjects, subjects, c.hdr, "application/x-www-form-urlencoded", "{\"name\":\"curl\"}", 15,
           __LINE__);
    expect(201, "POST", subjects, subjects, c.hdr, NULL, "{\"name\":\"none\"}", 15, __LINE__);
    /* a route without a body: one is refused, naming "body" */
    call(&r, "DELETE", "/api/v1/subjects/1", c.hdr, "application/json", "{}", 2);
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "details"), "field")), "body");
    CHECK(r, "DELETE", "/api/v1/subjects/{id}");
    e2e_resp_free(&r);
    expect(400, "GET", "/health", "/health", NULL, "text/plain", "hello", 5, __LINE__);
    /* refused before the body: 9 MB announced, none sent, answered at once */
    struct e2e_buf rq = {0}, raw = {0};
    e2e_buf_printf(&rq, "POST /api/v1/subjects HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: image/jpeg\r\n"
                        "Content-Length: 9000000\r\n\r\n", c.hdr);
    int fd = e2e_connect(g_srv.port), io = 0;
    assert_true(fd >= 0);
    double t0 = fr_time_ms();
    assert_int_equal(e2e_exchange(fd, &rq, &raw, &io), 0);
    close(fd);
    e2e_buf_add(&raw, "", 1);
    assert_true(fr_time_ms() - t0 < 5000);
    assert_int_equal(strncmp(raw.p, "HTTP/1.1 400", 12), 0);
    assert_non_null(strstr(raw.p, "\"Content-Type\""));
    e2e_buf_free(&rq);
    e2e_buf_free(&raw);
}

/* Cameras and camera sessions: a registered camera's life, and a session on
 * a file: camera (an H.264 clip made here with the ffmpeg CLI from the
 * session fixtures: an enrolled person beside a stranger) calling back to a
 * loopback port nobody listens on (the callbacks fail, which is no matter
 * here), read while it runs, its recognitions (a subject and an unknown face
 * when the tracker has reported them), stopped, and the errors: 404
 * SESSION_NOT_FOUND, 409 SESSION_ALREADY_EXISTS, 422. */
static void test_camera_session_routes(void **state) {
    (void)state;
    struct client c, other;
    new_client(&c, 0);
    new_client(&other, 0);
    struct e2e_resp r;
    char one[160], two[160], body[1024], clip[256];
    const char *cams = "/api/v1/cameras", *cam = "/api/v1/cameras/{id}";
    call_json(&r, "POST", cams, c.hdr, "{\"name\":\"Front\",\"url\":\"rtsp://user:secret@10.0.0.5:554/s\",\"transport\":\"udp\"}");
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", cams);
    assert_null(strstr(r.body, "secret"));        /* the password is never shown */
    snprintf(one, sizeof one, "%s/%lld", cams, data_int(&r, "id"));
    e2e_resp_free(&r);
    EXPECT_JSON(422, "POST", cams, cams, c.hdr, "{\"name\":\"x\",\"url\":\"ftp://10.0.0.5/s\"}");
    EXPECT_JSON(422, "POST", cams, cams, c.hdr, "{\"url\":\"rtsp://10.0.0.5/s\"}");
    EXPECT_JSON(400, "POST", cams, cams, c.hdr, "{\"name\":");
    EXPECT(200, "GET", cams, cams, c.hdr);
    EXPECT(200, "GET", cam, one, c.hdr);
    EXPECT(404, "GET", cam, one, other.hdr);
    EXPECT(404, "GET", cam, "/api/v1/cameras/999999999", c.hdr);
    EXPECT_JSON(200, "PATCH", cam, one, c.hdr, "{\"name\":\"Front door\",\"transport\":\"tcp\"}");
    EXPECT_JSON(422, "PATCH", cam, one, c.hdr, "{\"transport\":\"sctp\"}");
    EXPECT_JSON(404, "PATCH", cam, one, other.hdr, "{\"name\":\"mine\"}");
    EXPECT(404, "DELETE", cam, one, other.hdr);
    EXPECT(200, "DELETE", cam, one, c.hdr);
    EXPECT(404, "DELETE", cam, one, c.hdr);

    const char *ses = "/api/v1/sessions", *ses1 = "/api/v1/sessions/{slot_id}",
               *recs = "/api/v1/sessions/{slot_id}/recognitions";
    EXPECT(200, "GET", ses, ses, c.hdr);          /* none yet */
    EXPECT(422, "GET", ses, "/api/v1/sessions?limit=0", c.hdr);
    EXPECT(404, "GET", ses1, "/api/v1/sessions/oa-none", c.hdr);
    EXPECT(404, "GET", recs, "/api/v1/sessions/oa-none/recognitions", c.hdr);
    EXPECT(404, "DELETE", ses1, "/api/v1/sessions/oa-none", c.hdr);
    EXPECT_JSON(422, "POST", ses, ses, c.hdr, "{\"slot_id\":\"oa-bad\",\"cameras\":[],\"callback_url\":\"http://127.0.0.1:9/cb\"}");
    EXPECT_JSON(422, "POST", ses, ses, c.hdr,
                "{\"slot_id\":\"oa-bad\",\"cameras\":[{\"id\":\"a\",\"url\":\"rtsp://10.0.0.5/s\"}],"
                "\"callback_url\":\"http://127.0.0.1:9/cb\",\"fps\":99}");
    EXPECT_JSON(404, "POST", ses, ses, c.hdr,
                "{\"slot_id\":\"oa-bad\",\"cameras\":[{\"camera_id\":999999999}],\"callback_url\":\"http://127.0.0.1:9/cb\"}");
    EXPECT_JSON(400, "POST", ses, ses, c.hdr, "{\"slot_id\":");
    if (!g_models) {
        fprintf(stderr, "models missing (run make models): session starts skipped\n");
        return;
    }
    /* the clip: Colin Powell (enrolled below) beside Hugo Chavez (a stranger), 60 s at 5 fps */
    snprintf(clip, sizeof clip, "%s/clip.mp4", g_srv.root);
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd,
             "-nostdin -loglevel error -y -loop 1 -i tests/fixtures/sessions/Colin_Powell_0049.jpg -loop 1 "
             "-i tests/fixtures/sessions/Hugo_Chavez_0002.jpg -filter_complex '[0][1]hstack,format=yuv420p' -t 60 "
             "-r 5 -c:v libx264 -preset ultrafast -g 5 '%s'", clip);
    if (fr_test_run("ffmpeg", cmd, out, sizeof out) != 0) fail_msg("ffmpeg: %s", out);
    call_json(&r, "POST", "/api/v1/subjects", c.hdr, "{\"name\":\"Colin Powell\"}");   /* no external_id: null */
    assert_int_equal(r.status, 201);
    const long long subject = data_int(&r, "id");
    snprintf(two, sizeof two, "/api/v1/subjects/%lld/faces", subject);
    e2e_resp_free(&r);
    EXPECT_FORM(201, "/api/v1/subjects/{id}/faces", two, c.hdr, "photo", "tests/fixtures/sessions/Colin_Powell_0040.jpg",
                NULL);
    /* a registered file: camera beside an inline one */
    snprintf(body, sizeof body, "{\"name\":\"Replay\",\"url\":\"file:%s\"}", clip);
    call_json(&r, "POST", cams, c.hdr, body);
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", cams);
    const long long cam_id = data_int(&r, "id");
    e2e_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"slot_id\":\"oa-room\",\"cameras\":[{\"id\":\"front\",\"name\":\"Front\",\"url\":\"file:%s\"},"
             "{\"camera_id\":%lld}],\"callback_url\":\"http://127.0.0.1:9/cb\",\"callback_secret\":"
             "\"whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3\",\"mode\":\"first_seen\",\"fps\":2,\"report_unknown\":true,"
             "\"subjects\":[%lld],\"duration_seconds\":600,\"auto_stop\":{\"max_consecutive_failures\":0,"
             "\"max_failure_seconds\":0},\"callback_policy\":{\"attempts\":2,\"backoff_seconds\":[1],"
             "\"timeout_seconds\":1}}",
             clip, cam_id, subject);
    call_json(&r, "POST", ses, c.hdr, body);
    if (r.status != 201) dump(&r);
    assert_int_equal(r.status, 201);
    CHECK(r, "POST", ses);
    e2e_resp_free(&r);
    EXPECT_JSON(409, "POST", ses, ses, c.hdr, body);
    /* no camera opens: 502 ALL_CAMERAS_FAILED, the session stopped at once */
    snprintf(body, sizeof body,
             "{\"slot_id\":\"oa-gone\",\"cameras\":[{\"id\":\"gone\",\"url\":\"file:%s/missing.mp4\"}],"
             "\"callback_url\":\"http://127.0.0.1:9/cb\"}",
             g_srv.root);
    EXPECT_JSON(502, "POST", ses, ses, c.hdr, body);
    EXPECT(404, "DELETE", ses1, "/api/v1/sessions/oa-gone", c.hdr);
    EXPECT(200, "GET", ses1, "/api/v1/sessions/oa-room", c.hdr);
    EXPECT(404, "GET", ses1, "/api/v1/sessions/oa-room", other.hdr);
    EXPECT(200, "GET", ses, "/api/v1/sessions?running=true", c.hdr);
    /* the recognitions, once the tracker has decided (a few seconds of the clip) */
    int kinds = 0;
    for (int i = 0; i < 60 && kinds != 3; i++) {
        call(&r, "GET", "/api/v1/sessions/oa-room/recognitions?limit=100", c.hdr, NULL, NULL, 0);
        CHECK(r, "GET", recs);
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(json_object_get(r.json, "data"), "recognitions"), k, x)
            kinds |= json_is_null(json_object_get(x, "subject")) ? 2 : 1;
        e2e_resp_free(&r);
        if (kinds != 3) usleep(250 * 1000);
    }
    printf("session recognitions seen: %s%s\n", kinds & 1 ? "a subject " : "", kinds & 2 ? "an unknown face" : "");
    EXPECT(200, "GET", recs, "/api/v1/sessions/oa-room/recognitions?limit=1", c.hdr);
    EXPECT(422, "GET", recs, "/api/v1/sessions/oa-room/recognitions?limit=0", c.hdr);
    EXPECT(404, "DELETE", ses1, "/api/v1/sessions/oa-room", other.hdr);
    EXPECT(200, "DELETE", ses1, "/api/v1/sessions/oa-room", c.hdr);
    EXPECT(404, "DELETE", ses1, "/api/v1/sessions/oa-room", c.hdr);
    EXPECT(200, "GET", ses1, "/api/v1/sessions/oa-room", c.hdr);     /* the latest, stopped */
    EXPECT(200, "GET", ses, "/api/v1/sessions?limit=1", c.hdr);
    EXPECT(200, "GET", recs, "/api/v1/sessions/oa-room/recognitions", c.hdr);
}

/* Every operation of the document had a success answer checked. */
static void test_every_route_checked(void **state) {
    (void)state;
    static const char *const recognition[] = { "/api/v1/subjects/{id}/faces", "/api/v1/faces/{id}", "/api/v1/identify",
                                               "/api/v1/verify", "/api/v1/detect", "/api/v1/embeddings",
                                               "/api/v1/sessions", "/api/v1/sessions/{slot_id}",
                                               "/api/v1/sessions/{slot_id}/recognitions" };
    int missing = 0, ops = 0;
    const char *pattern, *method;
    json_t *item, *op;
    json_object_foreach(json_object_get(g_doc, "paths"), pattern, item) {
        json_object_foreach(item, method, op) {
            char id[96], up[8];
            size_t k = 0;
            for (; method[k] && k < 7; k++) up[k] = (char)(method[k] & ~0x20);
            up[k] = 0;
            snprintf(id, sizeof id, "%s %s", up, pattern);
            int seen = 0, needs_models = 0;
            for (int i = 0; i < g_n_covered; i++) seen |= !strcmp(g_covered[i], id);
            for (size_t i = 0; i < sizeof recognition / sizeof recognition[0]; i++)
                needs_models |= !strcmp(pattern, recognition[i]);
            ops++;
            if (seen || (needs_models && !g_models)) continue;
            fprintf(stderr, "no success answer of %s was checked against the document\n", id);
            missing++;
        }
    }
    printf("openapi: %d answers checked against their schemas; %d of %d operations' success answers\n", g_checked,
           g_n_covered, ops);
    assert_int_equal(missing, 0);
}

static int setup(void **state) {
    (void)state;
    g_models = e2e_have_models();
    /* webhooks to a loopback port nobody listens on: registered, never delivered */
    /* sessions: file: cameras (a clip made at test time), callbacks to loopback */
    const char *env[] = {"FACEREC_WEBHOOK_ALLOW_PRIVATE=true", "FACEREC_WEBHOOK_SCHEDULE=0,3600",
                         "FACEREC_CAMERA_ALLOW_FILES=true", NULL};
    if (e2e_server_start(&g_srv, NULL, env) != 0) {
        e2e_server_cleanup(&g_srv);
        return -1;
    }
    struct e2e_resp r;
    if (e2e_http(g_srv.port, "GET", "/openapi.json", NULL, NULL, NULL, 0, &r) != 0 || !r.json) {
        e2e_resp_free(&r);
        return -1;
    }
    g_doc = json_incref(r.json);
    e2e_resp_free(&r);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    json_decref(g_doc);
    int rc = e2e_server_stop(&g_srv);
    if (rc != 0) e2e_log_tail(&g_srv, 3000);
    e2e_server_cleanup(&g_srv);
    e2e_server_cleanup_others(NULL);
    return rc == 0 ? 0 : -1;
}

int main(void) {
    json_set_alloc_funcs(fr_malloc, fr_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_fails),
        cmocka_unit_test(test_public_routes),
        cmocka_unit_test(test_admin_routes),
        cmocka_unit_test(test_subject_routes),
        cmocka_unit_test(test_recognition_routes),
        cmocka_unit_test(test_webhook_routes),
        cmocka_unit_test(test_body_flags),
        cmocka_unit_test(test_camera_session_routes),
        cmocka_unit_test(test_every_route_checked),
    };
    return cmocka_run_group_tests_name("openapi", tests, setup, teardown);
}
