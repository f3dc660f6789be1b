/* End-to-end tests of webhooks (docs/WEBHOOKS.md): the real `facerec serve`
 * on loopback delivering to a real receiver, tests/e2e/webhook_receiver.py
 * (Python standard library), which checks every Standard Webhooks signature
 * with its own HMAC code, records each request as a JSON line and answers as
 * a script set through its /_control endpoint tells it (500, 302, 410, slow).
 *
 * One facerec (FACEREC_WEBHOOK_ALLOW_PRIVATE=true, FACEREC_WEBHOOK_SCHEDULE
 * 0,1,2,3, FACEREC_WEBHOOK_TIMEOUT_MS 1500) and one receiver are shared by
 * most tests; each test makes its own client and gives its webhooks their own
 * receiver path, so tests do not see each other's deliveries. The crash test
 * and the address-refusal test start their own servers. Tests that need a
 * face skip without the models (make models). Every wait is bounded; every
 * process is stopped by its PID; only loopback is used.
 *
 *   test_receiver_selftest    the receiver's HMAC code verifies the published vector
 *   test_docs_snippets        docs/WEBHOOKS.md's Python, Node, shell verifiers run
 *   test_webhook_crud         create (secret once), get, list, patch, delete
 *   test_validation           (g) non-http URL, user:pass@, unknown event → 4xx field
 *   test_face_enrolled        (a) delivered within 1 s, signed, body fields, no secrets
 *   test_retry_500            (b) 500, 500, 200: third attempt, same webhook-id
 *   test_retry_after          429 + Retry-After later than the schedule: honoured
 *   test_timeout              (d) a receiver slower than the timeout is retried
 *   test_gone                 (e) 410 disables the webhook
 *   test_redirect             (f) 302 not followed, counted as a failure
 *   test_rotation             (h) two signatures for 24 h, either secret verifies
 *   test_delete_stops         (i) no delivery after the webhook is deleted
 *   test_isolation            (j) another client's webhook: 404 on every route
 *   test_opt_in               (k) "*" lacks identify/verify.completed; naming them works
 *   test_subject_face_events  (l) subject.created/updated/deleted, face.deleted
 *   test_test_event           (m) webhook.test reaches only that webhook
 *   test_manual_retry         (n) failed after the last attempt, retried by the API
 *   test_status_metrics       (o) /status "webhooks", /metrics series
 *   test_private_refused      (g) private addresses refused at registration and delivery
 *   test_crash_outbox         (c) 50 enrolments, SIGKILL, restart: all 50 delivered */
#include "harness.h"
#include "e2e.h"
#include "receiver.h"

#define DOCS_TEST   "tests/e2e/test_webhook_docs.sh"
#define F_AARON1 "tests/fixtures/faces/Aaron_Peirsol_0001.jpg"
#define F_AARON3 "tests/fixtures/faces/Aaron_Peirsol_0003.jpg"
#define NO_MODELS "FACEREC_MODELS_DIR=/nonexistent-models"

static struct e2e_server g_srv;       /* shared */
static int g_models;
static int g_seq;
static char g_last[2400];             /* the last request and answer, for failure messages */

static const char *const g_env[] = {
    "FACEREC_WEBHOOK_ALLOW_PRIVATE=true",
    "FACEREC_WEBHOOK_SCHEDULE=0,1,2,3",
    "FACEREC_WEBHOOK_TIMEOUT_MS=1500",
    NULL,
};

/* cmocka's asserts, also printing the last exchange (most checks are on an answer). */
#define ON_FAIL() fprintf(stderr, "last exchange: %s\n", g_last)
#undef assert_true
#define assert_true(c) do { LargestIntegralType v_ = cast_to_largest_integral_type(c); \
    if (!v_) { ON_FAIL(); } _assert_true(v_, #c, __FILE__, __LINE__); } while (0)
#undef assert_int_equal
#define assert_int_equal(a, b) do { LargestIntegralType a_ = cast_to_largest_integral_type(a); \
    LargestIntegralType b_ = cast_to_largest_integral_type(b); if (a_ != b_) { ON_FAIL(); } \
    _assert_int_equal(a_, b_, __FILE__, __LINE__); } while (0)
#undef assert_string_equal
#define assert_string_equal(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) { ON_FAIL(); } \
    _assert_string_equal(a_ ? a_ : "(null)", b_ ? b_ : "(null)", __FILE__, __LINE__); } while (0)

#define SKIP_WITHOUT_MODELS() do { if (!g_models) { \
    fprintf(stderr, "models missing (run make models): skipped\n"); skip(); } } while (0)

/* ---- JSON access ---------------------------------------------------------- */

static long long jint(json_t *root, const char *path) {
    json_t *v = jget(root, path);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Ids may be numbers or strings: as text. */
static const char *idstr(json_t *v, char *buf, size_t len) {
    if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v)) snprintf(buf, len, "%s", json_string_value(v));
    else buf[0] = '\0';
    return buf;
}

static int id_equal(json_t *v, const char *id) {
    char b[128];
    return v && strcmp(idstr(v, b, sizeof b), id) == 0;
}

/* 1 when an object anywhere in v has a member named key. */
static int has_key_deep(json_t *v, const char *key) {
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) if (!strcmp(k, key) || has_key_deep(m, key)) return 1;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) if (has_key_deep(m, key)) return 1;
    }
    return 0;
}

/* ---- requests to facerec -------------------------------------------------- */

static void dump(const struct e2e_server *s, const struct e2e_resp *r, const char *what) {
    fprintf(stderr, "%s: status %d (io errno %d)\nbody: %.2000s\n", what, r->status, r->io_errno,
            r->body ? r->body : "(none)");
    if (s && s->pid > 0) e2e_log_tail(s, 2500);
}

#define EXPECT_STATUS(s, r, st) do { if ((r).status != (st)) { dump((s), &(r), "unexpected status"); \
    fail_msg("expected HTTP %d, got %d", (st), (r).status); } } while (0)

/* A JSON request to server s: fmt (printf) builds the body, NULL for none. */
static void req(const struct e2e_server *s, struct e2e_resp *r, const char *method, const char *path,
                const char *hdrs, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void req(const struct e2e_server *s, struct e2e_resp *r, const char *method, const char *path,
                const char *hdrs, const char *fmt, ...) {
    char body[8192] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(body, sizeof body, fmt, ap);
        va_end(ap);
    }
    e2e_http(s->port, method, path, hdrs, fmt ? "application/json" : NULL, fmt ? body : NULL,
             strlen(body), r);
    snprintf(g_last, sizeof g_last, "%s %.200s %.300s → %d: %.1800s", method, path, body, r->status,
             r->body ? r->body : "(no body)");
}

/* The 2xx envelope with data. */
static void expect_ok(const struct e2e_server *s, const struct e2e_resp *r, int status) {
    if (r->status != status || !json_is_true(jget(r->json, "success")) || !jget(r->json, "data")) {
        dump(s, r, "expected success");
        fail_msg("expected HTTP %d with success true, got %d", status, r->status);
    }
}

/* 400/422 VALIDATION_ERROR naming field in details.field. */
static void expect_validation(const struct e2e_server *s, const struct e2e_resp *r, const char *field) {
    if ((r->status != 400 && r->status != 422) || !json_is_false(jget(r->json, "success"))) {
        dump(s, r, "expected a validation error");
        fail_msg("expected 400/422 VALIDATION_ERROR (field %s), got %d", field, r->status);
    }
    assert_string_equal(jstr(r->json, "code"), "VALIDATION_ERROR");
    assert_true(jstr(r->json, "error_type") != NULL && jstr(r->json, "message") != NULL);
    const char *f = jstr(r->json, "details.field");
    if (!f || strcmp(f, field) != 0) {
        dump(s, r, "details.field");
        fail_msg("details.field should be \"%s\", is \"%s\"", field, f ? f : "(none)");
    }
}

static void expect_not_found(const struct e2e_server *s, const struct e2e_resp *r) {
    EXPECT_STATUS(s, *r, 404);
    assert_string_equal(jstr(r->json, "code"), "NOT_FOUND");
}

struct client {
    char id[64];
    char key[256];
    char hdr[320];          /* "X-API-Key: <key>\r\n" */
};

static void new_client(const struct e2e_server *s, struct client *c, const char *tag) {
    struct e2e_resp r;
    req(s, &r, "POST", "/api/v1/admin/clients", s->auth, "{\"name\":\"wh-%s-%d\"}", tag, ++g_seq);
    expect_ok(s, &r, 201);
    idstr(jget(r.json, "data.id"), c->id, sizeof c->id);
    snprintf(c->key, sizeof c->key, "%s", jstr(r.json, "data.api_key") ? jstr(r.json, "data.api_key") : "");
    assert_true(c->key[0] != '\0');
    snprintf(c->hdr, sizeof c->hdr, "X-API-Key: %s\r\n", c->key);
    e2e_resp_free(&r);
}

static void new_subject(const struct e2e_server *s, const struct client *c, const char *name,
                        const char *external_id, char *id, size_t idlen) {
    struct e2e_resp r;
    req(s, &r, "POST", "/api/v1/subjects", c->hdr, "{\"name\":\"%s\",\"external_id\":\"%s\"}", name,
        external_id);
    expect_ok(s, &r, 201);
    idstr(jget(r.json, "data.id"), id, idlen);
    assert_true(id[0] != '\0');
    e2e_resp_free(&r);
}

/* POST a photo (multipart field "photo") with text fields (name, value, ..., NULL). */
static void post_photo(const struct e2e_server *s, struct e2e_resp *r, const char *path,
                       const struct client *c, const char *file, ...) {
    struct e2e_buf b = {0};
    uint8_t *p = NULL;
    size_t n = 0;
    if (fr_file_read(file, 1 << 24, &p, &n) < 0) fail_msg("cannot read fixture %s", file);
    e2e_mp_file(&b, "photo", strrchr(file, '/') + 1, "image/jpeg", p, n);
    fr_free(p);
    va_list ap;
    va_start(ap, file);
    for (const char *k; (k = va_arg(ap, const char *));) e2e_mp_text(&b, k, va_arg(ap, const char *));
    va_end(ap);
    e2e_mp_end(&b);
    e2e_http(s->port, "POST", path, c->hdr, E2E_MP_CTYPE, b.p, b.len, r);
    snprintf(g_last, sizeof g_last, "POST %s (photo %s) → %d: %.1800s", path, file, r->status,
             r->body ? r->body : "(no body)");
    e2e_buf_free(&b);
}

static void enrol(const struct e2e_server *s, const struct client *c, const char *sid, const char *file,
                  char *fid, size_t fl) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/subjects/%s/faces", sid);
    struct e2e_resp r;
    post_photo(s, &r, path, c, file, NULL);
    expect_ok(s, &r, 201);
    idstr(jget(r.json, "data.face_id"), fid, fl);
    assert_true(fid[0] != '\0');
    e2e_resp_free(&r);
}

/* ---- the receiver (receiver.h) ------------------------------------------- */

static struct receiver g_rv;          /* shared */

/* Wait until the receiver has n lines at path; fail (printing them) otherwise. */
static json_t *rv_expect(const struct receiver *rv, const char *path, size_t n, int ms) {
    json_t *a = rv_wait(rv, path, n, ms);
    if (json_array_size(a) < n) {
        char *t = json_dumps(a, JSON_COMPACT);
        fprintf(stderr, "receiver %s: %zu requests after %d ms, expected %zu: %.3000s\n", path,
                json_array_size(a), ms, n, t ? t : "");
        fr_free(t);
        if (g_srv.pid > 0) e2e_log_tail(&g_srv, 2500);
        size_t got = json_array_size(a);
        json_decref(a);
        fail_msg("%zu deliveries at %s, expected %zu", got, path, n);
    }
    return a;
}

/* ---- webhooks ------------------------------------------------------------- */

struct hook {
    char id[64];
    char secret[160];
    char path[64];          /* its receiver path */
};

/* The secret's shape: "whsec_" + base64 of 32 bytes. */
static void check_secret(const char *secret) {
    assert_true(secret != NULL);
    assert_true(strncmp(secret, "whsec_", 6) == 0);
    const char *b64 = secret + 6;
    size_t l = strlen(b64);
    assert_int_equal(l, 44);
    unsigned char raw[64];
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)l);
    assert_int_equal(n - (b64[l - 1] == '=') - (b64[l - 2] == '='), 32);
}

/* Register a webhook of client c to receiver rv at path, events a JSON array;
 * the receiver is told its secret for that path. */
static void hook_create(const struct e2e_server *s, const struct client *c, const struct receiver *rv,
                        const char *path, const char *events, struct hook *h) {
    struct e2e_resp r;
    req(s, &r, "POST", "/api/v1/webhooks", c->hdr,
        "{\"url\":\"http://127.0.0.1:%d%s\",\"events\":%s,\"description\":\"e2e %s\"}", rv->port, path,
        events, path);
    expect_ok(s, &r, 201);
    idstr(jget(r.json, "data.id"), h->id, sizeof h->id);
    assert_true(h->id[0] != '\0');
    const char *sec = jstr(r.json, "data.secret");
    check_secret(sec);
    snprintf(h->secret, sizeof h->secret, "%s", sec);
    snprintf(h->path, sizeof h->path, "%s", path);
    assert_true(json_is_true(jget(r.json, "data.enabled")));
    e2e_resp_free(&r);
    rv_control(rv, "{\"path\":\"%s\",\"secrets\":[\"%s\"]}", path, h->secret);
}

/* POST /webhooks/{id}/test: 202 {webhook_id, event_id}; the event id into ev. */
static void hook_test(const struct e2e_server *s, const struct client *c, const struct hook *h, char *ev,
                      size_t evlen) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/test", h->id);
    struct e2e_resp r;
    req(s, &r, "POST", path, c->hdr, NULL);
    expect_ok(s, &r, 202);
    assert_true(id_equal(jget(r.json, "data.webhook_id"), h->id));
    const char *e = jstr(r.json, "data.event_id");
    assert_true(e != NULL && strncmp(e, "evt_", 4) == 0);
    snprintf(ev, evlen, "%s", e);
    e2e_resp_free(&r);
}

/* GET the webhook (200): its data, decref'd by the caller. */
static json_t *hook_get(const struct e2e_server *s, const struct client *c, const struct hook *h) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s", h->id);
    struct e2e_resp r;
    req(s, &r, "GET", path, c->hdr, NULL);
    expect_ok(s, &r, 200);
    json_t *d = json_incref(jget(r.json, "data"));
    e2e_resp_free(&r);
    return d;
}

/* The delivery of event ev to h (a copy), or NULL. */
static json_t *delivery_of(const struct e2e_server *s, const struct client *c, const struct hook *h,
                           const char *ev) {
    char path[160];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/deliveries?limit=100", h->id);
    struct e2e_resp r;
    req(s, &r, "GET", path, c->hdr, NULL);
    expect_ok(s, &r, 200);
    json_t *list = jget(r.json, "data.deliveries"), *d, *out = NULL;
    assert_true(json_is_array(list));
    size_t i;
    json_array_foreach(list, i, d) {
        if (!out && jstr(d, "event_id") && !strcmp(jstr(d, "event_id"), ev)) out = json_deep_copy(d);
    }
    e2e_resp_free(&r);
    return out;
}

/* Wait until the delivery of ev has status st; fail (printing it) after ms. */
static json_t *wait_delivery(const struct e2e_server *s, const struct client *c, const struct hook *h,
                             const char *ev, const char *st, int ms) {
    double until = fr_time_ms() + ms;
    for (;;) {
        json_t *d = delivery_of(s, c, h, ev);
        if (d && jstr(d, "status") && !strcmp(jstr(d, "status"), st)) return d;
        if (fr_time_ms() > until) {
            char *t = d ? json_dumps(d, JSON_COMPACT) : NULL;
            fprintf(stderr, "delivery of %s: %s\n", ev, t ? t : "(not listed)");
            fr_free(t);
            json_decref(d);
            if (s->pid > 0) e2e_log_tail(s, 2500);
            fail_msg("delivery %s not \"%s\" within %d ms", ev, st, ms);
        }
        json_decref(d);
        usleep(50 * 1000);
    }
}

/* Every member of a delivery row. */
static void check_delivery_shape(json_t *d) {
    static const char *keys[] = {"id", "event_id", "event_type", "status", "attempts", "last_status_code",
                                 "last_error", "next_attempt_at", "delivered_at", "created_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!json_object_get(d, keys[i])) {
            char *t = json_dumps(d, JSON_COMPACT);
            fprintf(stderr, "delivery: %s\n", t ? t : "");
            fr_free(t);
            fail_msg("a delivery has no \"%s\"", keys[i]);
        }
    }
}

/* Each line: the signature verified (by the receiver's own HMAC), the
 * timestamp fresh, webhook-id == body.id. */
static void check_signed(json_t *lines) {
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        if (!json_is_true(json_object_get(l, "signature_ok")) ||
            !json_is_true(json_object_get(l, "timestamp_ok")) || !jstr(l, "id") ||
            !jstr(l, "body.id") || strcmp(jstr(l, "id"), jstr(l, "body.id")) != 0) {
            char *t = json_dumps(l, JSON_COMPACT);
            fprintf(stderr, "request: %.3000s\n", t ? t : "");
            fr_free(t);
            fail_msg("a delivery's signature, timestamp or webhook-id is wrong (line %zu)", i);
        }
    }
}

/* Seconds between two receiver lines. */
static double gap_s(json_t *a, json_t *b) {
    return json_real_value(json_object_get(b, "received_at")) - json_real_value(json_object_get(a, "received_at"));
}

/* ---- the receiver and the docs --------------------------------------------- */

static void test_receiver_selftest(void **state) {
    (void)state;
    char out[2048];
    int rc = fr_test_run("python3", RECEIVER_PY " --selftest", out, sizeof out);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_true(strstr(out, "verified") != NULL);
}

static void test_docs_snippets(void **state) {
    (void)state;
    char out[8192];
    int rc = fr_test_run("sh", DOCS_TEST " docs/WEBHOOKS.md", out, sizeof out);
    printf("docs/WEBHOOKS.md verification snippets:\n%s", out);
    assert_int_equal(rc, 0);
    assert_true(strstr(out, "python: ok") != NULL);
    assert_true(strstr(out, "shell: ok") != NULL);
    assert_true(strstr(out, "node: ok") != NULL || strstr(out, "node: SKIPPED") != NULL);
}

/* ---- the API ---------------------------------------------------------------- */

static void test_webhook_crud(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "crud");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/crud", "[\"face.enrolled\",\"subject.created\"]", &h);
    struct e2e_resp r;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s", h.id);

    /* GET: every member, never the secret */
    json_t *d = hook_get(&g_srv, &c, &h);
    static const char *keys[] = {"id", "url", "events", "description", "enabled", "disabled_reason",
                                 "failing_since", "rotation_until", "created_at", "updated_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!json_object_get(d, keys[i])) fail_msg("GET webhook: no \"%s\"", keys[i]);
    }
    assert_true(json_object_get(d, "secret") == NULL);
    assert_int_equal(json_array_size(json_object_get(d, "events")), 2);
    assert_string_equal(jstr(d, "events.0"), "face.enrolled");
    assert_string_equal(jstr(d, "description"), "e2e /crud");
    assert_true(json_is_null(json_object_get(d, "disabled_reason")));
    json_decref(d);
    req(&g_srv, &r, "GET", path, c.hdr, NULL);
    assert_true(strstr(r.body, h.secret + 6) == NULL);
    e2e_resp_free(&r);

    /* list */
    req(&g_srv, &r, "GET", "/api/v1/webhooks", c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    assert_int_equal(json_array_size(jget(r.json, "data.webhooks")), 1);
    assert_true(id_equal(jget(r.json, "data.webhooks.0.id"), h.id));
    assert_true(strstr(r.body, h.secret + 6) == NULL);
    e2e_resp_free(&r);

    /* patch */
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"events\":[\"*\"],\"description\":\"changed\",\"enabled\":false}");
    expect_ok(&g_srv, &r, 200);
    assert_string_equal(jstr(r.json, "data.events.0"), "*");
    assert_string_equal(jstr(r.json, "data.description"), "changed");
    assert_true(json_is_false(jget(r.json, "data.enabled")));
    assert_true(jget(r.json, "data.secret") == NULL);
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"enabled\":true}");
    expect_ok(&g_srv, &r, 200);
    assert_true(json_is_true(jget(r.json, "data.enabled")));
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"url\":\"ftp://127.0.0.1/x\"}");
    expect_validation(&g_srv, &r, "url");
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"events\":[\"face.exploded\"]}");
    expect_validation(&g_srv, &r, "events");
    e2e_resp_free(&r);

    /* no key */
    req(&g_srv, &r, "GET", "/api/v1/webhooks", NULL, NULL);
    EXPECT_STATUS(&g_srv, r, 401);
    e2e_resp_free(&r);

    /* delete */
    req(&g_srv, &r, "DELETE", path, c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    assert_true(id_equal(jget(r.json, "data.id"), h.id));
    assert_true(json_is_true(jget(r.json, "data.deleted")));
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", path, c.hdr, NULL);
    expect_not_found(&g_srv, &r);
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/webhooks", c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    assert_int_equal(json_array_size(jget(r.json, "data.webhooks")), 0);
    e2e_resp_free(&r);
}

/* (g) what registration refuses whatever the address policy. */
static void test_validation(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "valid");
    struct e2e_resp r;
    static const struct {
        const char *body_fmt;   /* %d: the receiver's port */
        const char *field;
    } bad[] = {
        {"{\"url\":\"ftp://127.0.0.1:%d/x\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"file:///etc/passwd?%d\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"http://user:pass@127.0.0.1:%d/x\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"http://user@127.0.0.1:%d/x\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"not a url %d\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"http://127.0.0.1:%d/x\",\"events\":[\"face.exploded\"]}", "events"},
        {"{\"url\":\"http://127.0.0.1:%d/x\",\"events\":[\"*\",\"nope\"]}", "events"},
        {"{\"url\":\"http://127.0.0.1:%d/x\",\"events\":\"face.enrolled\"}", "events"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, bad[i].body_fmt, g_rv.port);
        req(&g_srv, &r, "POST", "/api/v1/webhooks", c.hdr, "%s", body);
        expect_validation(&g_srv, &r, bad[i].field);
        printf("refused (%d, %s): %s — %s\n", r.status, bad[i].field, body, jstr(r.json, "message"));
        e2e_resp_free(&r);
    }
    req(&g_srv, &r, "GET", "/api/v1/webhooks", c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    assert_int_equal(json_array_size(jget(r.json, "data.webhooks")), 0);
    e2e_resp_free(&r);
}

/* ---- delivery ----------------------------------------------------------------- */

/* (a) face.enrolled: within a second, signed, the documented body, nothing secret. */
static void test_face_enrolled(void **state) {
    (void)state;
    SKIP_WITHOUT_MODELS();
    struct client c;
    new_client(&g_srv, &c, "enrol");
    char sid[64], ext[64], fid[64];
    snprintf(ext, sizeof ext, "ext-a-%d", ++g_seq);
    new_subject(&g_srv, &c, "Aaron", ext, sid, sizeof sid);
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/a", "[\"face.enrolled\"]", &h);
    enrol(&g_srv, &c, sid, F_AARON1, fid, sizeof fid);
    int64_t t201 = fr_now_ms();
    json_t *lines = rv_expect(&g_rv, "/a", 1, 5000);
    json_t *l = json_array_get(lines, 0);
    double latency = json_real_value(json_object_get(l, "received_at")) * 1000.0 - (double)t201;
    printf("face.enrolled: at the receiver %.0f ms after the 201\n", latency);
    assert_true(latency < 1000.0);
    check_signed(lines);
    assert_int_equal(jint(l, "signatures_count"), 1);
    assert_true(json_is_true(json_object_get(l, "all_signatures_ok")));
    assert_string_equal(jstr(l, "method"), "POST");
    assert_true(jstr(l, "headers.content-type") && strstr(jstr(l, "headers.content-type"), "application/json"));
    long long ts = jint(l, "timestamp");
    assert_true(llabs(ts - t201 / 1000) <= 5);

    json_t *b = json_object_get(l, "body");
    assert_string_equal(jstr(b, "type"), "face.enrolled");
    assert_true(strncmp(jstr(b, "id") ? jstr(b, "id") : "", "evt_", 4) == 0);
    const char *ca = jstr(b, "created_at");     /* RFC 3339, UTC: 2026-04-08T09:12:44(.127)Z */
    assert_true(ca != NULL);
    int Y, M, D, hh, mm, ss;
    assert_int_equal(sscanf(ca, "%4d-%2d-%2dT%2d:%2d:%2d", &Y, &M, &D, &hh, &mm, &ss), 6);
    assert_true(ca[strlen(ca) - 1] == 'Z');
    assert_true(id_equal(jget(b, "data.face.id"), fid));
    assert_true(id_equal(jget(b, "data.face.subject_id"), sid));
    assert_true(jstr(b, "data.face.model_id") != NULL);
    assert_true(json_is_number(jget(b, "data.face.quality")));
    assert_true(json_is_null(jget(b, "data.face.liveness")) || json_is_number(jget(b, "data.face.liveness")));
    assert_int_equal(json_array_size(jget(b, "data.face.box")), 4);
    assert_true(id_equal(jget(b, "data.subject.id"), sid));
    assert_string_equal(jstr(b, "data.subject.external_id"), ext);
    assert_string_equal(jstr(b, "data.subject.name"), "Aaron");

    /* nothing secret: no key, no signing secret, no photo, no embedding */
    char *text = json_dumps(l, JSON_COMPACT);
    assert_true(strstr(text, c.key) == NULL);
    assert_true(strstr(text, h.secret + 6) == NULL);
    assert_true(strstr(text, "whsec_") == NULL);
    assert_true(strstr(text, "/9j/") == NULL);              /* base64 of a JPEG */
    fr_free(text);
    for (const char *k = "photo\0image\0image_base64\0embedding\0api_key\0secret\0"; *k; k += strlen(k) + 1) {
        if (has_key_deep(b, k)) fail_msg("face.enrolled body has a \"%s\"", k);
    }
    assert_true(json_integer_value(json_object_get(l, "body_len")) < 4096);
    assert_true(jget(l, "headers.x-api-key") == NULL);
    json_decref(lines);
}

/* (b) 500, 500, then 200: delivered on the third attempt, the same webhook-id. */
static void test_retry_500(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "retry");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/b", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/b\",\"responses\":[{\"status\":500},{\"status\":500}]}");
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/b", 3, 8000);
    check_signed(lines);
    for (size_t i = 0; i < 3; i++) {
        json_t *l = json_array_get(lines, i);
        assert_string_equal(jstr(l, "id"), ev);
        assert_int_equal(jint(l, "answered"), i < 2 ? 500 : 200);
        assert_string_equal(jstr(l, "type"), "webhook.test");
    }
    double g1 = gap_s(json_array_get(lines, 0), json_array_get(lines, 1));
    double g2 = gap_s(json_array_get(lines, 0), json_array_get(lines, 2));
    printf("500, 500, 200: attempts 2 and 3 at +%.2f s and +%.2f s (schedule 0,1,2 ±20 %%)\n", g1, g2);
    assert_true(g1 >= 0.7 && g1 <= 2.5);
    assert_true(g2 >= 1.5 && g2 <= 4.0);      /* retries leave at the dispatcher's poll (1 s) */
    json_t *d = wait_delivery(&g_srv, &c, &h, ev, "delivered", 3000);
    check_delivery_shape(d);
    assert_int_equal(jint(d, "attempts"), 3);
    assert_string_equal(jstr(d, "event_type"), "webhook.test");
    assert_true(json_is_integer(json_object_get(d, "delivered_at")));
    json_decref(d);
    sleep(1);
    assert_int_equal(rv_count(&g_rv, "/b"), 3);     /* nothing after the 200 */
    json_decref(lines);
}

/* 429 with Retry-After: 3 s, later than the schedule's next attempt (+1 s): honoured. */
static void test_retry_after(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "429");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/b429", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/b429\",\"responses\":[{\"status\":429,\"retry_after\":3}]}");
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/b429", 2, 8000);
    check_signed(lines);
    double g1 = gap_s(json_array_get(lines, 0), json_array_get(lines, 1));
    printf("429 + Retry-After: 3: the next attempt %.2f s later (the schedule alone: 1 s)\n", g1);
    assert_true(g1 >= 2.9);
    assert_string_equal(jstr(json_array_get(lines, 1), "id"), ev);
    json_decref(lines);
    json_t *d = wait_delivery(&g_srv, &c, &h, ev, "delivered", 3000);
    assert_int_equal(jint(d, "attempts"), 2);
    json_decref(d);
}

/* (d) a receiver slower than FACEREC_WEBHOOK_TIMEOUT_MS (1500) is retried. */
static void test_timeout(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "slow");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/d", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/d\",\"responses\":[{\"status\":200,\"delay_ms\":3000},"
                      "{\"status\":200,\"delay_ms\":3000}]}");
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    /* between the attempts the delivery says why the first failed */
    char last_error[256] = "";
    long long code = -1;
    double until = fr_time_ms() + 6000;
    while (!last_error[0] && fr_time_ms() < until) {
        json_t *d = delivery_of(&g_srv, &c, &h, ev);
        if (d && jstr(d, "last_error") && jint(d, "attempts") >= 1) {
            snprintf(last_error, sizeof last_error, "%s", jstr(d, "last_error"));
            code = jint(d, "last_status_code");
        }
        json_decref(d);
        usleep(50 * 1000);
    }
    printf("slow receiver: after a timed-out attempt last_error \"%s\", last_status_code %s\n", last_error,
           code < 0 ? "null" : "a status");
    assert_true(code < 0);                    /* no status came back */
    assert_true(last_error[0] != '\0');
    json_t *lines = rv_expect(&g_rv, "/d", 3, 9000);
    check_signed(lines);
    for (size_t i = 0; i < 3; i++) assert_string_equal(jstr(json_array_get(lines, i), "id"), ev);
    double g1 = gap_s(json_array_get(lines, 0), json_array_get(lines, 1));
    printf("slow receiver: second attempt %.2f s after the first (timeout 1.5 s)\n", g1);
    assert_true(g1 >= 1.3);         /* the first attempt was given its whole timeout */
    json_t *d = wait_delivery(&g_srv, &c, &h, ev, "delivered", 4000);
    assert_int_equal(jint(d, "attempts"), 3);
    json_decref(d);
    json_decref(lines);
}

/* (e) 410 Gone disables the webhook: no retry, enabled false, reason "gone". */
static void test_gone(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "gone");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/e", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/e\",\"responses\":[{\"status\":410}]}");
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/e", 1, 5000);
    json_decref(lines);
    json_t *w = NULL;
    double until = fr_time_ms() + 3000;
    for (;;) {
        w = hook_get(&g_srv, &c, &h);
        if (json_is_false(json_object_get(w, "enabled")) || fr_time_ms() > until) break;
        json_decref(w);
        usleep(50 * 1000);
    }
    char *t = json_dumps(w, JSON_COMPACT);
    printf("after 410: %s\n", t);
    fr_free(t);
    assert_true(json_is_false(json_object_get(w, "enabled")));
    assert_string_equal(jstr(w, "disabled_reason"), "gone");
    json_decref(w);
    json_t *d = delivery_of(&g_srv, &c, &h, ev);
    assert_true(d != NULL);
    printf("the 410 delivery: status %s, attempts %lld, last_status_code %lld\n", jstr(d, "status"),
           jint(d, "attempts"), jint(d, "last_status_code"));
    assert_string_equal(jstr(d, "status"), "failed");
    assert_int_equal(jint(d, "last_status_code"), 410);
    json_decref(d);
    /* a disabled webhook gets nothing, not even its retries or a test event */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/test", h.id);
    struct e2e_resp r;
    req(&g_srv, &r, "POST", path, c.hdr, NULL);
    printf("test event to the disabled webhook: HTTP %d\n", r.status);
    assert_int_equal(r.status, 409);     /* CONFLICT: the webhook's state, not the request, is the problem */
    assert_string_equal(json_string_value(jget(r.json, "code")), "CONFLICT");
    assert_string_equal(json_string_value(jget(r.json, "details.field")), "enabled");
    e2e_resp_free(&r);
    sleep(2);
    assert_int_equal(rv_count(&g_rv, "/e"), 1);
    /* enabling clears the reason */
    snprintf(path, sizeof path, "/api/v1/webhooks/%s", h.id);
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"enabled\":false}");
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"enabled\":true}");
    expect_ok(&g_srv, &r, 200);
    assert_true(json_is_true(jget(r.json, "data.enabled")));
    assert_true(json_is_null(jget(r.json, "data.disabled_reason")));
    e2e_resp_free(&r);
    req(&g_srv, &r, "DELETE", path, c.hdr, NULL);   /* whatever was held back is not our subject */
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
}

/* (f) 302: never followed (nothing at the Location), a failure, retried. */
static void test_redirect(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "redirect");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/f", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/f\",\"responses\":[{\"status\":302,\"location\":\"/f-elsewhere\"},"
                      "{\"status\":302,\"location\":\"http://127.0.0.1:%d/f-elsewhere\"}]}", g_rv.port);
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *first = rv_expect(&g_rv, "/f", 1, 5000);
    json_decref(first);
    json_t *d = NULL;
    double until = fr_time_ms() + 2000;
    while (fr_time_ms() < until) {
        d = delivery_of(&g_srv, &c, &h, ev);
        if (d && jint(d, "attempts") >= 1) break;
        json_decref(d);
        d = NULL;
        usleep(30 * 1000);
    }
    assert_true(d != NULL);
    printf("after a 302: status %s, last_status_code %lld, last_error \"%s\"\n", jstr(d, "status"),
           jint(d, "last_status_code"), jstr(d, "last_error") ? jstr(d, "last_error") : "(null)");
    assert_true(strcmp(jstr(d, "status"), "delivered") != 0);
    assert_int_equal(jint(d, "last_status_code"), 302);
    json_decref(d);
    json_t *lines = rv_expect(&g_rv, "/f", 3, 8000);
    check_signed(lines);
    d = wait_delivery(&g_srv, &c, &h, ev, "delivered", 3000);
    assert_int_equal(jint(d, "attempts"), 3);
    json_decref(d);
    assert_int_equal(rv_count(&g_rv, "/f-elsewhere"), 0);
    json_decref(lines);
}

/* (h) rotate-secret: both signatures for 24 h; a receiver with either secret verifies. */
static void test_rotation(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "rotate");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/h", "[\"*\"]", &h);
    char path[128], old_secret[160];
    snprintf(old_secret, sizeof old_secret, "%s", h.secret);
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/rotate-secret", h.id);
    struct e2e_resp r;
    req(&g_srv, &r, "POST", path, c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    const char *ns = jstr(r.json, "data.secret");
    check_secret(ns);
    assert_true(strcmp(ns, old_secret) != 0);
    snprintf(h.secret, sizeof h.secret, "%s", ns);
    json_t *ru = jget(r.json, "data.rotation_until");
    int64_t now = fr_now_ms();
    assert_true(json_is_integer(ru));
    printf("rotation_until: now + %.2f h\n", (double)(json_integer_value(ru) - now) / 3.6e6);
    assert_true(json_integer_value(ru) > now + 23 * 3600000LL && json_integer_value(ru) < now + 25 * 3600000LL);
    e2e_resp_free(&r);
    json_t *w = hook_get(&g_srv, &c, &h);
    assert_true(json_object_get(w, "secret") == NULL);
    json_decref(w);

    /* both secrets known: two signatures, each verified */
    rv_control(&g_rv, "{\"path\":\"/h\",\"secrets\":[\"%s\",\"%s\"]}", old_secret, h.secret);
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/h", 1, 5000);
    json_t *l = json_array_get(lines, 0);
    check_signed(lines);
    printf("after rotation: webhook-signature \"%s\"\n", jstr(l, "headers.webhook-signature"));
    assert_int_equal(jint(l, "signatures_count"), 2);
    assert_true(json_is_true(json_object_get(l, "all_signatures_ok")));
    assert_int_equal(json_array_size(json_object_get(l, "verified_secrets")), 2);
    /* "v1,<new> v1,<old>": the receiver's secrets are [old, new] */
    assert_int_equal(jint(l, "entries.0.verified_by.0"), 1);
    assert_int_equal(jint(l, "entries.1.verified_by.0"), 0);
    json_decref(lines);
    /* a receiver holding only the new, or only the old secret */
    rv_control(&g_rv, "{\"path\":\"/h\",\"secrets\":[\"%s\"]}", h.secret);
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    lines = rv_expect(&g_rv, "/h", 2, 5000);
    check_signed(lines);
    json_decref(lines);
    rv_control(&g_rv, "{\"path\":\"/h\",\"secrets\":[\"%s\"]}", old_secret);
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    lines = rv_expect(&g_rv, "/h", 3, 5000);
    check_signed(lines);
    json_decref(lines);
}

/* (i) after DELETE, the webhook's pending deliveries are never sent. */
static void test_delete_stops(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "delete");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/i", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/i\",\"responses\":[{\"status\":500},{\"status\":500},{\"status\":500},"
                      "{\"status\":500},{\"status\":500},{\"status\":500}]}");
    char ev[128];
    for (int i = 0; i < 3; i++) hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/i", 3, 5000);     /* the three first attempts (500) */
    json_decref(lines);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s", h.id);
    struct e2e_resp r;
    req(&g_srv, &r, "DELETE", path, c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    size_t at_delete = rv_count(&g_rv, "/i");
    sleep(4);                                             /* past the retries at +1, +2, +3 s */
    size_t after = rv_count(&g_rv, "/i");
    printf("deleted with 3 deliveries pending: %zu requests at delete, %zu four seconds later\n", at_delete,
           after);
    assert_int_equal(after, at_delete);
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/deliveries", h.id);
    req(&g_srv, &r, "GET", path, c.hdr, NULL);
    expect_not_found(&g_srv, &r);
    e2e_resp_free(&r);
}

/* (j) another client's webhook ids are 404 on every webhook route. */
static void test_isolation(void **state) {
    (void)state;
    struct client a, b;
    new_client(&g_srv, &a, "owner");
    new_client(&g_srv, &b, "other");
    struct hook h;
    hook_create(&g_srv, &a, &g_rv, "/j", "[\"*\"]", &h);
    char ev[128];
    hook_test(&g_srv, &a, &h, ev, sizeof ev);
    json_t *d = wait_delivery(&g_srv, &a, &h, ev, "delivered", 5000);
    char did[64];
    idstr(json_object_get(d, "id"), did, sizeof did);
    json_decref(d);

    static const struct {
        const char *method, *fmt, *body;
    } routes[] = {
        {"GET", "/api/v1/webhooks/%s", NULL},
        {"PATCH", "/api/v1/webhooks/%s", "{\"enabled\":false}"},
        {"POST", "/api/v1/webhooks/%s/rotate-secret", NULL},
        {"POST", "/api/v1/webhooks/%s/test", NULL},
        {"GET", "/api/v1/webhooks/%s/deliveries", NULL},
        {"POST", "/api/v1/webhooks/%s/deliveries/%s/retry", NULL},
        {"DELETE", "/api/v1/webhooks/%s", NULL},
    };
    struct e2e_resp r;
    const char *ids[] = {h.id, "999999999", "abc"};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            char path[256];
            snprintf(path, sizeof path, routes[i].fmt, ids[k], did);
            if (routes[i].body) req(&g_srv, &r, routes[i].method, path, b.hdr, "%s", routes[i].body);
            else req(&g_srv, &r, routes[i].method, path, b.hdr, NULL);
            expect_not_found(&g_srv, &r);
            e2e_resp_free(&r);
        }
    }
    req(&g_srv, &r, "GET", "/api/v1/webhooks", b.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    assert_int_equal(json_array_size(jget(r.json, "data.webhooks")), 0);
    e2e_resp_free(&r);
    /* untouched: enabled, the same secret (signs alone), no test event from b */
    json_t *w = hook_get(&g_srv, &a, &h);
    assert_true(json_is_true(json_object_get(w, "enabled")));
    assert_true(json_is_null(json_object_get(w, "rotation_until")));
    json_decref(w);
    assert_int_equal(rv_count(&g_rv, "/j"), 1);
    hook_test(&g_srv, &a, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/j", 2, 5000);
    check_signed(lines);
    assert_int_equal(jint(json_array_get(lines, 1), "signatures_count"), 1);
    json_decref(lines);
}

/* Lines of type t in lines. */
static size_t count_type(json_t *lines, const char *t) {
    size_t i, n = 0;
    json_t *l;
    json_array_foreach(lines, i, l) n += jstr(l, "type") && !strcmp(jstr(l, "type"), t);
    return n;
}

/* The one line of type t in lines (fails when not exactly one event of it). */
static json_t *one_of_type(json_t *lines, const char *t) {
    size_t i;
    json_t *l, *found = NULL;
    json_array_foreach(lines, i, l) {
        if (!jstr(l, "type") || strcmp(jstr(l, "type"), t) != 0) continue;
        if (found && strcmp(jstr(found, "id"), jstr(l, "id")) != 0) fail_msg("two %s events", t);
        found = l;
    }
    if (!found) fail_msg("no %s event", t);
    return json_object_get(found, "body");
}

/* (k) "*" never gets identify.completed / verify.completed; naming them does. */
static void test_opt_in(void **state) {
    (void)state;
    SKIP_WITHOUT_MODELS();
    struct client c;
    new_client(&g_srv, &c, "optin");
    struct hook star, named;
    hook_create(&g_srv, &c, &g_rv, "/k-star", "[\"*\"]", &star);
    hook_create(&g_srv, &c, &g_rv, "/k-named", "[\"identify.completed\",\"verify.completed\"]", &named);
    char sid[64], fid[64], ext[64];
    snprintf(ext, sizeof ext, "ext-k-%d", ++g_seq);
    new_subject(&g_srv, &c, "Aaron", ext, sid, sizeof sid);
    enrol(&g_srv, &c, sid, F_AARON1, fid, sizeof fid);
    struct e2e_resp r;
    post_photo(&g_srv, &r, "/api/v1/identify", &c, F_AARON3, NULL);
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    post_photo(&g_srv, &r, "/api/v1/verify", &c, F_AARON3, "subject_id", sid, NULL);
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    json_t *n = rv_expect(&g_rv, "/k-named", 2, 5000);
    json_t *s = rv_expect(&g_rv, "/k-star", 2, 5000);
    json_decref(n);
    json_decref(s);
    sleep(1);                                    /* anything late would be here by now */
    n = rv_lines(&g_rv, "/k-named");
    s = rv_lines(&g_rv, "/k-star");
    check_signed(n);
    check_signed(s);
    printf("\"*\" got %zu: subject.created %zu, face.enrolled %zu, identify.completed %zu, verify.completed %zu; "
           "the named one got identify.completed %zu, verify.completed %zu of %zu\n",
           json_array_size(s), count_type(s, "subject.created"), count_type(s, "face.enrolled"),
           count_type(s, "identify.completed"), count_type(s, "verify.completed"),
           count_type(n, "identify.completed"), count_type(n, "verify.completed"), json_array_size(n));
    assert_int_equal(count_type(s, "identify.completed") + count_type(s, "verify.completed"), 0);
    assert_int_equal(count_type(s, "subject.created"), 1);
    assert_int_equal(count_type(s, "face.enrolled"), 1);
    assert_int_equal(count_type(n, "identify.completed"), 1);
    assert_int_equal(count_type(n, "verify.completed"), 1);
    assert_int_equal(json_array_size(n), 2);
    size_t i;
    json_t *l;
    json_array_foreach(n, i, l) {
        json_t *b = json_object_get(l, "body");
        char *t = json_dumps(json_object_get(b, "data"), JSON_COMPACT);
        printf("%s data: %.600s\n", jstr(b, "type"), t ? t : "");
        fr_free(t);
        for (const char *k = "photo\0image\0image_base64\0embedding\0"; *k; k += strlen(k) + 1) {
            if (has_key_deep(b, k)) fail_msg("%s body has a \"%s\"", jstr(b, "type"), k);
        }
        assert_true(json_integer_value(json_object_get(l, "body_len")) < 16384);
    }
    json_t *ib = one_of_type(n, "identify.completed");
    assert_int_equal(jint(ib, "data.faces_detected"), 1);
    assert_string_equal(jstr(ib, "data.faces.0.decision"), "match");
    assert_true(id_equal(jget(ib, "data.faces.0.subject.id"), sid));
    assert_true(json_is_number(jget(ib, "data.faces.0.similarity")));
    json_t *vb = one_of_type(n, "verify.completed");
    assert_true(json_is_true(jget(vb, "data.match")));
    assert_true(id_equal(jget(vb, "data.subject_id"), sid));
    json_decref(n);
    json_decref(s);
}

/* (l) subject.created, subject.updated, subject.deleted and face.deleted arrive;
 * face.enrolled, not subscribed, does not. */
static void test_subject_face_events(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "events");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/l",
                "[\"subject.created\",\"subject.updated\",\"subject.deleted\",\"face.deleted\"]", &h);
    char sid[64], fid[64] = "", ext[64], path[128];
    snprintf(ext, sizeof ext, "ext-l-%d", ++g_seq);
    new_subject(&g_srv, &c, "Lee", ext, sid, sizeof sid);
    struct e2e_resp r;
    snprintf(path, sizeof path, "/api/v1/subjects/%s", sid);
    req(&g_srv, &r, "PATCH", path, c.hdr, "{\"name\":\"Lee Two\"}");
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    if (g_models) {
        enrol(&g_srv, &c, sid, F_AARON1, fid, sizeof fid);
        snprintf(path, sizeof path, "/api/v1/faces/%s", fid);
        req(&g_srv, &r, "DELETE", path, c.hdr, NULL);
        expect_ok(&g_srv, &r, 200);
        e2e_resp_free(&r);
    } else {
        fprintf(stderr, "models missing: face.deleted not checked\n");
    }
    snprintf(path, sizeof path, "/api/v1/subjects/%s", sid);
    req(&g_srv, &r, "DELETE", path, c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    size_t want = g_models ? 4 : 3;
    json_t *lines = rv_expect(&g_rv, "/l", want, 5000);
    sleep(1);
    json_decref(lines);
    lines = rv_lines(&g_rv, "/l");
    check_signed(lines);
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        char *t = json_dumps(json_object_get(json_object_get(l, "body"), "data"), JSON_COMPACT);
        printf("%s data: %.400s\n", jstr(l, "type"), t ? t : "");
        fr_free(t);
    }
    assert_int_equal(count_type(lines, "face.enrolled"), 0);
    json_t *b = one_of_type(lines, "subject.created");
    assert_true(id_equal(jget(b, "data.subject.id"), sid));
    assert_string_equal(jstr(b, "data.subject.external_id"), ext);
    b = one_of_type(lines, "subject.updated");
    assert_true(id_equal(jget(b, "data.subject.id"), sid));
    assert_string_equal(jstr(b, "data.subject.name"), "Lee Two");
    b = one_of_type(lines, "subject.deleted");
    assert_true(id_equal(jget(b, "data.subject.id"), sid));
    assert_int_equal(jint(b, "data.faces_deleted"), 0);      /* its one face was deleted before */
    if (g_models) {
        b = one_of_type(lines, "face.deleted");
        assert_true(id_equal(jget(b, "data.face.id"), fid));
    }
    json_decref(lines);
}

/* (m) webhook.test goes to that webhook only. */
static void test_test_event(void **state) {
    (void)state;
    struct client c, other;
    new_client(&g_srv, &c, "test");
    new_client(&g_srv, &other, "test-other");
    struct hook m1, m2, m3;
    hook_create(&g_srv, &c, &g_rv, "/m1", "[\"face.enrolled\"]", &m1);
    hook_create(&g_srv, &c, &g_rv, "/m2", "[\"*\"]", &m2);
    hook_create(&g_srv, &other, &g_rv, "/m3", "[\"*\"]", &m3);
    char ev[128];
    hook_test(&g_srv, &c, &m1, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/m1", 1, 5000);
    check_signed(lines);
    json_t *l = json_array_get(lines, 0);
    assert_string_equal(jstr(l, "id"), ev);
    assert_string_equal(jstr(l, "type"), "webhook.test");
    assert_true(id_equal(jget(l, "body.data.webhook_id"), m1.id));
    char *t = json_dumps(json_object_get(l, "body"), JSON_COMPACT);
    printf("webhook.test body: %s\n", t);
    fr_free(t);
    json_decref(lines);
    sleep(1);
    assert_int_equal(rv_count(&g_rv, "/m1"), 1);
    assert_int_equal(rv_count(&g_rv, "/m2"), 0);
    assert_int_equal(rv_count(&g_rv, "/m3"), 0);
}

/* (n) failed after the last attempt (4: 0,1,2,3), then retried by the API: delivered. */
static void test_manual_retry(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "manual");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/n", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/n\",\"responses\":[{\"status\":500},{\"status\":503},{\"status\":500},"
                      "{\"status\":500}]}");
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *d = wait_delivery(&g_srv, &c, &h, ev, "failed", 10000);
    check_delivery_shape(d);
    printf("failed: attempts %lld, last_status_code %lld, last_error \"%s\"\n", jint(d, "attempts"),
           jint(d, "last_status_code"), jstr(d, "last_error") ? jstr(d, "last_error") : "(null)");
    assert_int_equal(jint(d, "attempts"), 4);
    assert_int_equal(jint(d, "last_status_code"), 500);
    assert_true(jstr(d, "last_error") != NULL);
    char did[64], path[192];
    idstr(json_object_get(d, "id"), did, sizeof did);
    json_decref(d);
    sleep(1);
    assert_int_equal(rv_count(&g_rv, "/n"), 4);             /* no fifth attempt by itself */
    struct e2e_resp r;
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/deliveries/%s/retry", h.id, did);
    req(&g_srv, &r, "POST", path, c.hdr, NULL);
    if (r.status != 200 && r.status != 202) {
        dump(&g_srv, &r, "retry");
        fail_msg("retry: HTTP %d", r.status);
    }
    e2e_resp_free(&r);
    d = wait_delivery(&g_srv, &c, &h, ev, "delivered", 4000);
    printf("retried by the API: delivered, attempts %lld\n", jint(d, "attempts"));
    json_decref(d);
    json_t *lines = rv_expect(&g_rv, "/n", 5, 3000);
    check_signed(lines);
    for (size_t i = 0; i < 5; i++) assert_string_equal(jstr(json_array_get(lines, i), "id"), ev);
    json_decref(lines);
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/deliveries/999999999/retry", h.id);
    req(&g_srv, &r, "POST", path, c.hdr, NULL);
    expect_not_found(&g_srv, &r);
    e2e_resp_free(&r);
}

/* The value of the first sample line starting with prefix in Prometheus text, or -1. */
static double metric(const char *text, const char *prefix) {
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            const char *sp = strchr(p, ' ');
            return sp ? strtod(sp + 1, NULL) : -1;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

/* (o) /status has the webhooks service, /metrics the webhook series. */
static void test_status_metrics(void **state) {
    (void)state;
    struct client c;
    new_client(&g_srv, &c, "status");
    struct hook h;
    hook_create(&g_srv, &c, &g_rv, "/o", "[\"*\"]", &h);
    rv_control(&g_rv, "{\"path\":\"/o\",\"responses\":[{\"status\":500},{\"status\":500},{\"status\":500},"
                      "{\"status\":500}]}");
    char ev[128];
    hook_test(&g_srv, &c, &h, ev, sizeof ev);
    json_t *lines = rv_expect(&g_rv, "/o", 1, 5000);       /* failed once: pending */
    json_decref(lines);
    usleep(200 * 1000);
    struct e2e_resp r;
    req(&g_srv, &r, "GET", "/status", NULL, NULL);
    expect_ok(&g_srv, &r, 200);
    json_t *w = jget(r.json, "data.services.webhooks");
    char *t = json_dumps(w, JSON_COMPACT);
    printf("/status webhooks: %s\n", t ? t : "(none)");
    fr_free(t);
    assert_true(json_is_object(w));
    assert_true(json_is_string(json_object_get(w, "service")));
    assert_true(json_is_boolean(json_object_get(w, "healthy")));
    assert_true(jint(w, "details.pending") >= 1);
    assert_true(json_is_number(jget(w, "details.oldest_pending_seconds")));
    assert_true(json_number_value(jget(w, "details.oldest_pending_seconds")) >= 0);
    assert_true(jint(w, "details.failing_endpoints") >= 0);
    e2e_resp_free(&r);

    req(&g_srv, &r, "GET", "/metrics", NULL, NULL);
    EXPECT_STATUS(&g_srv, r, 200);
    double delivered = metric(r.body, "facerec_webhook_deliveries_total{result=\"delivered\"}");
    double pending = metric(r.body, "facerec_webhook_pending");
    double oldest = metric(r.body, "facerec_webhook_oldest_pending_seconds");
    printf("/metrics: deliveries_total{result=\"delivered\"} %.0f, pending %.0f, oldest_pending_seconds %.1f\n",
           delivered, pending, oldest);
    if (!strstr(r.body, "facerec_webhook_deliveries_total{result=")) {
        fprintf(stderr, "%.4000s\n", r.body);
        fail_msg("/metrics has no facerec_webhook_deliveries_total{result=...}");
    }
    assert_true(strstr(r.body, "facerec_webhook_delivery_duration_seconds") != NULL);
    assert_true(delivered >= 1);
    assert_true(pending >= 1);
    assert_true(oldest >= 0);
    e2e_resp_free(&r);

    /* deleted: nothing pending any more */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s", h.id);
    req(&g_srv, &r, "DELETE", path, c.hdr, NULL);
    expect_ok(&g_srv, &r, 200);
    e2e_resp_free(&r);
    long long p = -1;
    double until = fr_time_ms() + 3000;
    while (fr_time_ms() < until) {
        req(&g_srv, &r, "GET", "/status", NULL, NULL);
        p = jint(r.json, "data.services.webhooks.details.pending");
        e2e_resp_free(&r);
        if (p == 0) break;
        usleep(100 * 1000);
    }
    assert_int_equal(p, 0);
}

/* ---- their own servers ------------------------------------------------------- */

/* (g) without FACEREC_WEBHOOK_ALLOW_PRIVATE: loopback, private and link-local
 * addresses refused at registration; a webhook registered while they were
 * allowed is refused at delivery. */
static void test_private_refused(void **state) {
    (void)state;
    static struct e2e_server s;
    const char *allow[] = {NO_MODELS, "FACEREC_WEBHOOK_ALLOW_PRIVATE=true", "FACEREC_WEBHOOK_SCHEDULE=0,1",
                           NULL};
    const char *deny[] = {NO_MODELS, "FACEREC_WEBHOOK_SCHEDULE=0,1", NULL};
    assert_int_equal(e2e_server_start(&s, NULL, allow), 0);
    struct client c;
    new_client(&s, &c, "private");
    struct hook h;
    hook_create(&s, &c, &g_rv, "/g", "[\"*\"]", &h);
    assert_int_equal(e2e_server_stop(&s), 0);
    assert_int_equal(e2e_server_start(&s, s.root, deny), 0);

    struct e2e_resp r;
    int port = g_rv.port;
    char urls[12][128];
    snprintf(urls[0], sizeof urls[0], "http://127.0.0.1:%d/g", port);
    snprintf(urls[1], sizeof urls[1], "http://localhost:%d/g", port);
    snprintf(urls[2], sizeof urls[2], "http://[::1]:%d/g", port);
    snprintf(urls[3], sizeof urls[3], "http://127.9.9.9:%d/g", port);
    snprintf(urls[4], sizeof urls[4], "http://0.0.0.0:%d/g", port);
    snprintf(urls[5], sizeof urls[5], "http://10.1.2.3/g");
    snprintf(urls[6], sizeof urls[6], "http://172.16.5.4/g");
    snprintf(urls[7], sizeof urls[7], "https://192.168.1.1/g");
    snprintf(urls[8], sizeof urls[8], "http://169.254.169.254/latest/meta-data/");
    snprintf(urls[9], sizeof urls[9], "http://[fe80::1]/g");
    snprintf(urls[10], sizeof urls[10], "http://[fd00::1]/g");
    snprintf(urls[11], sizeof urls[11], "http://2130706433:%d/g", port);    /* 127.0.0.1 as one number */
    for (size_t i = 0; i < 12; i++) {
        req(&s, &r, "POST", "/api/v1/webhooks", c.hdr, "{\"url\":\"%s\",\"events\":[\"*\"]}", urls[i]);
        expect_validation(&s, &r, "url");
        printf("refused: %s — %s\n", urls[i], jstr(r.json, "message"));
        e2e_resp_free(&r);
    }
    char path[128];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s", h.id);
    req(&s, &r, "PATCH", path, c.hdr, "{\"url\":\"http://10.0.0.7/x\"}");
    expect_validation(&s, &r, "url");
    e2e_resp_free(&r);
    /* the other rules, with a public literal address (nothing is sent: never created) */
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"url\":\"ftp://93.184.216.34/x\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"http://user:pass@93.184.216.34/x\",\"events\":[\"*\"]}", "url"},
        {"{\"url\":\"http://93.184.216.34/x\",\"events\":[\"face.exploded\"]}", "events"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req(&s, &r, "POST", "/api/v1/webhooks", c.hdr, "%s", bad[i].body);
        expect_validation(&s, &r, bad[i].field);
        e2e_resp_free(&r);
    }

    /* at delivery: the loopback webhook registered before is refused now */
    char ev[128];
    hook_test(&s, &c, &h, ev, sizeof ev);
    json_t *d = NULL;
    double until = fr_time_ms() + 4000;
    while (fr_time_ms() < until) {
        d = delivery_of(&s, &c, &h, ev);
        if (d && jint(d, "attempts") >= 1 && jstr(d, "last_error")) break;
        json_decref(d);
        d = NULL;
        usleep(50 * 1000);
    }
    assert_true(d != NULL);
    printf("delivery to 127.0.0.1 without ALLOW_PRIVATE: status %s, attempts %lld, last_error \"%s\"\n",
           jstr(d, "status"), jint(d, "attempts"), jstr(d, "last_error"));
    assert_true(strcmp(jstr(d, "status"), "delivered") != 0);
    json_decref(d);
    sleep(1);
    assert_int_equal(rv_count(&g_rv, "/g"), 0);
    assert_int_equal(e2e_server_stop(&s), 0);
    e2e_server_cleanup(&s);
}

/* (c) the outbox survives SIGKILL: 50 enrolments answered while the receiver
 * is down, facerec killed right after the last 201, restarted on the same
 * data, the receiver back: all 50 face.enrolled arrive, a repeat only with
 * the same webhook-id. */
#define CRASH_N 50
static void test_crash_outbox(void **state) {
    (void)state;
    SKIP_WITHOUT_MODELS();
    static struct e2e_server s;
    static struct receiver rv;
    /* attempts about every second for a minute: nothing runs out while we are down */
    const char *env[] = {"FACEREC_WEBHOOK_ALLOW_PRIVATE=true",
                         "FACEREC_WEBHOOK_SCHEDULE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,22,24,"
                         "26,28,30,35,40,45,50,55,60",
                         "FACEREC_WEBHOOK_TIMEOUT_MS=1000", NULL};
    assert_int_equal(e2e_server_start(&s, NULL, env), 0);
    struct client c;
    new_client(&s, &c, "crash");
    char sid[64];
    new_subject(&s, &c, "Aaron", "ext-crash", sid, sizeof sid);
    int port = e2e_free_port();                  /* nothing listens there yet */
    assert_true(port > 0);
    rv.port = port;
    struct hook h;
    struct e2e_resp r;
    req(&s, &r, "POST", "/api/v1/webhooks", c.hdr,
        "{\"url\":\"http://127.0.0.1:%d/c\",\"events\":[\"face.enrolled\"]}", port);
    expect_ok(&s, &r, 201);
    idstr(jget(r.json, "data.id"), h.id, sizeof h.id);
    snprintf(h.secret, sizeof h.secret, "%s", jstr(r.json, "data.secret"));
    e2e_resp_free(&r);

    static char fids[CRASH_N][64];
    double t0 = fr_time_ms();
    for (int i = 0; i < CRASH_N; i++) enrol(&s, &c, sid, F_AARON1, fids[i], sizeof fids[i]);
    e2e_server_kill(&s);                         /* right after the last 201 */
    double t_enrol = fr_time_ms() - t0;
    assert_int_equal(e2e_server_start(&s, s.root, env), 0);
    double t_restart = fr_time_ms() - t0 - t_enrol;
    assert_int_equal(receiver_start(&rv, port, h.secret), 0);
    double t_back = fr_time_ms();
    int64_t t_back_wall = fr_now_ms();
    json_t *lines = NULL;
    int distinct = 0;
    double until = t_back + 45000;               /* a delivery leased at the kill waits out its lease (timeout + 30 s) */
    for (;;) {
        json_decref(lines);
        lines = rv_lines(&rv, "/c");
        distinct = 0;
        for (int i = 0; i < CRASH_N; i++) {
            size_t k;
            json_t *l;
            json_array_foreach(lines, k, l) {
                if (id_equal(jget(l, "body.data.face.id"), fids[i])) {
                    distinct++;
                    break;
                }
            }
        }
        if (distinct == CRASH_N || fr_time_ms() > until) break;
        usleep(50 * 1000);
    }
    double t_all = fr_time_ms() - t_back;
    printf("crash: %d enrolments in %.0f ms, SIGKILL, restart in %.0f ms; %d of %d face.enrolled at the receiver "
           "%.0f ms after it came back, %zu requests\n",
           CRASH_N, t_enrol, t_restart, distinct, CRASH_N, t_all, json_array_size(lines));
    if (distinct != CRASH_N) e2e_log_tail(&s, 3000);
    assert_int_equal(distinct, CRASH_N);
    check_signed(lines);
    /* a repeat carries the same webhook-id; different faces have different ids */
    size_t i, k;
    json_t *a, *b;
    int repeats = 0;
    json_array_foreach(lines, i, a) {
        assert_string_equal(jstr(a, "type"), "face.enrolled");
        json_array_foreach(lines, k, b) {
            if (k <= i) continue;
            int same_id = !strcmp(jstr(a, "id"), jstr(b, "id"));
            int same_face = json_equal(jget(a, "body.data.face.id"), jget(b, "body.data.face.id"));
            if (same_id != same_face) fail_msg("webhook-id %s / %s for faces of lines %zu, %zu", jstr(a, "id"),
                                               jstr(b, "id"), i, k);
            repeats += same_id;
        }
    }
    printf("crash: %d repeated deliveries (same webhook-id)\n", repeats);
    /* when they came: the first attempt after the restart, or after a lease */
    int early = 0;
    double last = 0;
    json_array_foreach(lines, i, a) {
        double at = json_real_value(json_object_get(a, "received_at")) * 1000.0 - (double)t_back_wall;
        early += at < 3000.0;
        if (at > last) last = at;
    }
    printf("crash: %d of %zu requests within 3 s of the receiver's return, the last after %.0f ms%s\n", early,
           json_array_size(lines), last,
           last > 20000 ? " (a delivery in flight at the kill waits out its lease: timeout + 30 s)" : "");
    json_decref(lines);
    /* and the deliveries API agrees, once the outcomes are recorded */
    int delivered = 0;
    until = fr_time_ms() + 5000;
    char path[160];
    snprintf(path, sizeof path, "/api/v1/webhooks/%s/deliveries?limit=100", h.id);
    while (fr_time_ms() < until) {
        req(&s, &r, "GET", path, c.hdr, NULL);
        expect_ok(&s, &r, 200);
        json_t *list = jget(r.json, "data.deliveries"), *d;
        delivered = 0;
        json_array_foreach(list, i, d) delivered += jstr(d, "status") && !strcmp(jstr(d, "status"), "delivered");
        assert_int_equal(json_array_size(list), CRASH_N);
        e2e_resp_free(&r);
        if (delivered == CRASH_N) break;
        usleep(100 * 1000);
    }
    assert_int_equal(delivered, CRASH_N);
    assert_int_equal(e2e_server_stop(&s), 0);
    e2e_server_cleanup(&s);
    receiver_cleanup(&rv);
}

/* ---- the group -------------------------------------------------------------------- */

static int g_server_deaths;

static int setup_all(void **state) {
    (void)state;
    json_set_alloc_funcs(fr_malloc, fr_free);
    g_models = e2e_have_models();
    if (receiver_start(&g_rv, 0, NULL) != 0) {
        fprintf(stderr, "cannot start the receiver (python3 %s)\n", RECEIVER_PY);
        return -1;
    }
    if (e2e_server_start(&g_srv, NULL, g_env) != 0) {
        fprintf(stderr, "cannot start %s/facerec serve\n", e2e_build_dir());
        e2e_server_cleanup(&g_srv);
        receiver_cleanup(&g_rv);
        return -1;
    }
    return 0;
}

/* Before each test: what a failed test left running is stopped; a dead
 * shared server or receiver is said and restarted. */
static int ensure_shared(void **state) {
    (void)state;
    g_last[0] = '\0';
    e2e_server_cleanup_others(&g_srv);
    receivers_cleanup_others(&g_rv);
    int st;
    if (g_rv.pid > 0 && waitpid(g_rv.pid, &st, WNOHANG) == g_rv.pid) {
        fprintf(stderr, "the receiver died; restarting it on port %d\n", g_rv.port);
        g_rv.pid = 0;
        if (receiver_start(&g_rv, g_rv.port, NULL) != 0) return -1;
    }
    if (g_srv.pid > 0 && waitpid(g_srv.pid, &st, WNOHANG) == g_srv.pid) {
        g_server_deaths++;
        fprintf(stderr, "the shared server DIED during the previous test (%s %d); restarting\n",
                WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        e2e_log_tail(&g_srv, 3000);
        g_srv.pid = 0;
        return e2e_server_start(&g_srv, g_srv.root, g_env) == 0 ? 0 : -1;
    }
    return 0;
}

static void test_server_survived(void **state) {
    (void)state;
    assert_int_equal(g_server_deaths, 0);
}

static int teardown_all(void **state) {
    (void)state;
    int rc = g_srv.pid > 0 ? e2e_server_stop(&g_srv) : 0;
    if (rc != 0) {
        fprintf(stderr, "shared server exit status %d after SIGTERM\n", rc);
        e2e_log_tail(&g_srv, 3000);
    }
    e2e_server_cleanup(&g_srv);
    e2e_server_cleanup_others(NULL);
    receiver_cleanup(&g_rv);
    receivers_cleanup_others(NULL);
    return rc == 0 ? 0 : -1;
}

int main(void) {
    /* WH_TESTS=test_timeout (a cmocka filter: '*' and '?' allowed) runs only those */
    if (getenv("WH_TESTS")) cmocka_set_test_filter(getenv("WH_TESTS"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_receiver_selftest, ensure_shared),
        cmocka_unit_test_setup(test_docs_snippets, ensure_shared),
        cmocka_unit_test_setup(test_webhook_crud, ensure_shared),
        cmocka_unit_test_setup(test_validation, ensure_shared),
        cmocka_unit_test_setup(test_face_enrolled, ensure_shared),
        cmocka_unit_test_setup(test_retry_500, ensure_shared),
        cmocka_unit_test_setup(test_retry_after, ensure_shared),
        cmocka_unit_test_setup(test_timeout, ensure_shared),
        cmocka_unit_test_setup(test_gone, ensure_shared),
        cmocka_unit_test_setup(test_redirect, ensure_shared),
        cmocka_unit_test_setup(test_rotation, ensure_shared),
        cmocka_unit_test_setup(test_delete_stops, ensure_shared),
        cmocka_unit_test_setup(test_isolation, ensure_shared),
        cmocka_unit_test_setup(test_opt_in, ensure_shared),
        cmocka_unit_test_setup(test_subject_face_events, ensure_shared),
        cmocka_unit_test_setup(test_test_event, ensure_shared),
        cmocka_unit_test_setup(test_manual_retry, ensure_shared),
        cmocka_unit_test_setup(test_status_metrics, ensure_shared),
        cmocka_unit_test_setup(test_private_refused, ensure_shared),
        cmocka_unit_test_setup(test_crash_outbox, ensure_shared),
        cmocka_unit_test_setup(test_server_survived, ensure_shared),
    };
    return cmocka_run_group_tests_name("webhooks", tests, setup_all, teardown_all);
}
