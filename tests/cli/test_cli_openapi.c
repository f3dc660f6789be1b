/* facerec openapi, through the real binary: the document it prints is the
 * one GET /openapi.json serves (fr_api_openapi), --markdown prints the route
 * table (which tests/api/test_routes.c holds docs/API.md to), and a bad
 * option is a usage error. Run from the
 * repository root; BUILD selects the binary folder (default build). */
#include "harness.h"

#include "api/api.h"

static char bin[512];
static char out[1 << 20];

static int setup(void **state) {
    (void)state;
    const char *b = getenv("BUILD");
    snprintf(bin, sizeof bin, "%s/facerec", b && b[0] ? b : "build");
    return 0;
}

static void test_openapi_json(void **state) {
    (void)state;
    assert_int_equal(fr_test_run(bin, "openapi 2>/dev/null", out, sizeof out), 0);
    json_error_t e;
    json_t *printed = json_loads(out, 0, &e);
    if (!printed) fprintf(stderr, "not JSON: %s (line %d)\n", e.text, e.line);
    assert_non_null(printed);
    json_t *doc = fr_api_openapi();
    assert_non_null(doc);
    assert_true(json_equal(printed, doc));
    assert_string_equal(json_string_value(json_object_get(printed, "openapi")), "3.0.3");
    json_decref(printed);
    json_decref(doc);
}

static void test_openapi_markdown(void **state) {
    (void)state;
    assert_int_equal(fr_test_run(bin, "openapi --markdown", out, sizeof out), 0);
    char *want = fr_api_routes_markdown();
    assert_non_null(want);
    assert_string_equal(out, want);
    fr_free(want);
}

static void test_openapi_usage(void **state) {
    (void)state;
    assert_int_equal(fr_test_run(bin, "openapi --yaml", out, sizeof out), 64);
    assert_non_null(strstr(out, "usage: facerec openapi"));
    assert_int_equal(fr_test_run(bin, "openapi --help", out, sizeof out), 0);
    assert_int_equal(fr_test_run(bin, "--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "openapi"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_json),
        cmocka_unit_test(test_openapi_markdown),
        cmocka_unit_test(test_openapi_usage),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
