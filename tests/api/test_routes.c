/* The API's route table: well formed, every route in the OpenAPI document,
 * and every route of docs/API.md's table in both (so the three cannot drift). */
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

/* docs/API.md: "| METHOD | /path | auth | what |" rows of the routes table */
static void test_api_md_routes(void **state) {
    (void)state;
    FILE *f = fopen("docs/API.md", "r");
    if (!f) { skip(); return; }
    char line[512];
    int rows = 0;
    fr_route t[64];
    for (size_t i = 0; i < fr_api_n_routes; i++) t[i] = fr_api_routes[i].r;
    int seen[64] = { 0 };
    while (fgets(line, sizeof line, f)) {
        char method[16], path[256];
        if (sscanf(line, "| %15[A-Z] | %255[^ |] |", method, path) != 2 || path[0] != '/') continue;
        rows++;
        int hit = -1;
        for (size_t i = 0; i < fr_api_n_routes; i++)
            if (!strcmp(t[i].method, method) && !strcmp(t[i].pattern, path)) hit = (int)i;
        if (hit < 0) fprintf(stderr, "docs/API.md route not served: %s %s\n", method, path);
        assert_true(hit >= 0);
        seen[hit] = 1;
    }
    fclose(f);
    for (size_t i = 0; i < fr_api_n_routes; i++) {
        if (!seen[i]) fprintf(stderr, "route missing from docs/API.md: %s %s\n", t[i].method, t[i].pattern);
        assert_true(seen[i]);
    }
    assert_int_equal(rows, (int)fr_api_n_routes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_valid),
        cmocka_unit_test(test_openapi_has_every_route),
        cmocka_unit_test(test_api_md_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
