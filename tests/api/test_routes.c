/* The API's route table (src/api/routes.def): well formed, its flags
 * consistent, every route in the OpenAPI document with every reference
 * resolved, and docs/API.md's route table exactly the one generated from it
 * (so the three cannot drift). */
#include "harness.h"

#include "api/api.h"

static void test_table_valid(void **state) {
    (void)state;
    fr_route t[64];
    assert_true(fr_api_n_routes <= 64);
    for (size_t i = 0; i < fr_api_n_routes; i++) t[i] = fr_api_routes[i].r;
    assert_int_equal(fr_route_table_check(t, fr_api_n_routes), 0);
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        assert_non_null(fr_api_routes[i].fn);
        assert_non_null(fr_api_routes[i].operation);
        fr_route_params p;
        /* each pattern, with ids filled in, routes to itself */
        char path[256];
        const char *s = t[i].pattern;
        size_t n = 0;
        while (*s && n < sizeof path - 8) {
            if (*s == '{') { while (*s && *s != '}') s++; if (*s) s++; n += (size_t)snprintf(path + n, 8, "7"); }
            else path[n++] = *s++;
        }
        path[n] = 0;
        assert_int_equal(fr_route_match(t, fr_api_n_routes, t[i].method, path, &p), (int)i);
    }
}

static void test_openapi_has_every_route(void **state) {
    (void)state;
    json_t *doc = fr_api_openapi();
    assert_non_null(doc);
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        char m[8];
        size_t k = 0;
        for (; fr_api_routes[i].r.method[k] && k < 7; k++) m[k] = (char)(fr_api_routes[i].r.method[k] | 0x20);
        m[k] = 0;
        json_t *p = json_object_get(paths, fr_api_routes[i].r.pattern);
        assert_non_null(p);
        assert_non_null(json_object_get(p, m));
    }
    json_decref(doc);
}

/* The flags of each row say something coherent. */
static void test_table_flags(void **state) {
    (void)state;
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        const struct fr_api_route *r = &fr_api_routes[i];
        for (size_t j = 0; j < i; j++) assert_string_not_equal(fr_api_routes[j].operation, r->operation);
        assert_true(r->status == 200 || r->status == 201 || r->status == 202);   /* 202: queued (webhook test) */
        assert_non_null(r->summary);
        assert_null(strchr(r->summary, '|'));      /* a Markdown table cell */
        assert_true(r->body >= FR_API_BODY_NONE && r->body <= FR_API_BODY_EITHER);
        assert_true(r->reply >= FR_API_REPLY_ENVELOPE && r->reply <= FR_API_REPLY_STATIC);
        assert_int_equal(r->request != NULL, r->body != FR_API_BODY_NONE);
        assert_non_null(r->response);
        if (r->reply == FR_API_REPLY_TEXT || r->reply == FR_API_REPLY_STATIC)
            assert_non_null(strchr(r->response, '/'));          /* media types */
        if (r->body != FR_API_BODY_NONE) assert_string_not_equal(r->r.method, "GET");
        if (r->flags & (FR_API_TOKEN | FR_API_UNREADY)) assert_int_equal(r->r.auth, FR_ROUTE_AUTH_NONE);
        if (r->flags & FR_API_UNREADY) assert_int_equal(r->reply, FR_API_REPLY_BARE);
    }
}

/* Every "$ref" under j points at something in doc. */
static int refs_resolve(json_t *doc, json_t *j, int *n) {
    int bad = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (!strcmp(k, "$ref") && json_is_string(v)) {
                char kind[32], name[96];
                (*n)++;
                if (sscanf(json_string_value(v), "#/components/%31[^/]/%95s", kind, name) != 2 ||
                    !json_object_get(json_object_get(json_object_get(doc, "components"), kind), name)) {
                    fprintf(stderr, "unresolved $ref %s\n", json_string_value(v));
                    bad++;
                }
            } else {
                bad += refs_resolve(doc, v, n);
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) bad += refs_resolve(doc, v, n);
    }
    return bad;
}

static const char *method_lower(const char *m, char out[8]) {
    size_t k = 0;
    for (; m[k] && k < 7; k++) out[k] = (char)(m[k] | 0x20);
    out[k] = 0;
    return out;
}

/* The document: OpenAPI 3.0.3, every route with its success status, its
 * request body kinds and its error statuses; every reference resolves. */
static void test_openapi_document(void **state) {
    (void)state;
    json_t *doc = fr_api_openapi();
    assert_non_null(doc);   /* NULL: a fragment of schemas.def is not JSON (the log says which) */
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    int n = 0;
    assert_int_equal(refs_resolve(doc, doc, &n), 0);
    assert_true(n > 100);
    json_t *paths = json_object_get(doc, "paths");
    size_t ops = 0;
    const char *k;
    json_t *v;
    json_object_foreach(paths, k, v) ops += json_object_size(v);
    assert_int_equal(ops, fr_api_n_routes);
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        const struct fr_api_route *r = &fr_api_routes[i];
        char m[8], st[8];
        json_t *op = json_object_get(json_object_get(paths, r->r.pattern), method_lower(r->r.method, m));
        assert_non_null(op);
        assert_string_equal(json_string_value(json_object_get(op, "operationId")), r->operation);
        json_t *resp = json_object_get(op, "responses");
        snprintf(st, sizeof st, "%d", r->status);
        assert_non_null(json_object_get(resp, st));
        assert_non_null(json_object_get(resp, "default"));
        assert_non_null(json_object_get(resp, "400"));
        assert_int_equal(json_object_get(resp, "401") != NULL,
                         r->r.auth != FR_ROUTE_AUTH_NONE || (r->flags & FR_API_TOKEN));
        assert_int_equal(json_object_get(resp, "429") != NULL, r->r.auth == FR_ROUTE_AUTH_CLIENT);
        assert_int_equal(json_object_get(resp, "409") != NULL, (r->flags & FR_API_CONFLICT) != 0);
        assert_int_equal(json_object_get(resp, "502") != NULL, (r->flags & FR_API_CAMERAS) != 0);
        assert_int_equal(json_object_get(resp, "404") != NULL,
                         strchr(r->r.pattern, '{') != NULL || (r->flags & FR_API_REFERS));
        json_t *content = json_object_get(json_object_get(op, "requestBody"), "content");
        assert_int_equal(content != NULL, r->body != FR_API_BODY_NONE);
        if (r->body == FR_API_BODY_EITHER) {
            assert_non_null(json_object_get(content, "multipart/form-data"));
            assert_non_null(json_object_get(content, "application/json"));
            assert_non_null(json_object_get(content, "application/octet-stream"));
        }
        if (r->body == FR_API_BODY_JSON) assert_int_equal(json_object_size(content), 1);
        /* one path parameter per {name} */
        size_t np = 0;
        for (const char *p = strchr(r->r.pattern, '{'); p; p = strchr(p + 1, '{')) np++;
        size_t in_path = 0, j;
        json_t *par;
        json_array_foreach(json_object_get(op, "parameters"), j, par)
            in_path += !strcmp(json_string_value(json_object_get(par, "in")), "path");
        assert_int_equal(in_path, np);
    }
    /* the error envelope's codes are the table's public ones */
    json_t *codes = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(doc, "components"),
                                                                                     "schemas"), "Error"),
                                                    "properties"), "code");
    codes = json_object_get(codes, "enum");
    assert_true(json_array_size(codes) >= 15);
    int has_unauth = 0, has_nomem = 0;
    size_t j;
    json_t *c;
    json_array_foreach(codes, j, c) {
        has_unauth |= !strcmp(json_string_value(c), "UNAUTHORIZED");
        has_nomem |= !strcmp(json_string_value(c), "NOMEM");
    }
    assert_true(has_unauth);
    assert_false(has_nomem);
    json_decref(doc);
}

/* docs/API.md's route table, between its markers, is the generated one. */
static void test_api_md_generated(void **state) {
    (void)state;
    FILE *f = fopen("docs/API.md", "r");
    assert_non_null(f);
    static char doc[1 << 18];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = 0;
    const char *begin = strstr(doc, "<!-- routes.def: begin");
    const char *end = begin ? strstr(begin, "<!-- routes.def: end -->") : NULL;
    assert_non_null(begin);
    assert_non_null(end);
    begin = strchr(begin, '\n') + 1;
    char *want = fr_api_routes_markdown();
    assert_non_null(want);
    size_t len = (size_t)(end - begin);
    if (len != strlen(want) || memcmp(begin, want, len))
        fprintf(stderr, "docs/API.md's route table differs from `facerec openapi --markdown`; regenerate it:\n%s", want);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(begin, want, len);
    fr_free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_valid),
        cmocka_unit_test(test_table_flags),
        cmocka_unit_test(test_openapi_has_every_route),
        cmocka_unit_test(test_openapi_document),
        cmocka_unit_test(test_api_md_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
