/* Metrics registry: the exposition text byte for byte on a small registry,
 * escaping, histogram bucket edges, exact totals under concurrent updates and
 * concurrent first sight of label sets, the cardinality cap ("other"), the
 * registration rules, the process metrics, and memory (reset frees all,
 * failure injection at every allocation leaks nothing). */
#include "harness.h"

#include "facerec/metrics.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

/* noinline: inlined, gcc 12 -O3 mistakes strstr() results on the returned
 * text for pointers into this frame (-Wdangling-pointer false positive). */
__attribute__((noinline)) static char *render(const char *prefix) {
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(fr_metrics_render_prefix(prefix, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static int reset(void **state) {
    (void)state;
    fr_metrics_reset();
    return 0;
}

static void test_exposition_exact(void **state) {
    (void)state;
    struct fr_metric *req, *g, *h, *empty, *plain;
    const double bounds[] = { 0.5, 1 };
    assert_int_equal(fr_metric_new("t_req_total", "Requests \\ served.\nSecond line", FR_METRIC_COUNTER,
                                   "op,status", NULL, 0, &req), 0);
    assert_int_equal(fr_metric_new("t_gauge", "A gauge.", FR_METRIC_GAUGE, NULL, NULL, 0, &g), 0);
    assert_int_equal(fr_metric_new("t_hist", "A histogram.", FR_METRIC_HISTOGRAM, "op", bounds, 2, &h), 0);
    assert_int_equal(fr_metric_new("t_empty", "Never set.", FR_METRIC_GAUGE, "x", NULL, 0, &empty), 0);
    assert_int_equal(fr_metric_new("t_plain_total", "", FR_METRIC_COUNTER, "", NULL, 0, &plain), 0);
    fr_metric_inc(req, "b", "200");
    fr_metric_inc(req, "b", "200");
    fr_metric_add(req, 3.5, "a", "say \"hi\"\\\n");
    fr_metric_set(g, -2.25);
    fr_metric_observe(h, 0.5, "x");
    fr_metric_observe(h, 0.75, "x");
    fr_metric_observe(h, 3.0, "x");
    fr_metric_inc(plain);
    fr_metric_add(plain, 1e15);
    char *text = render("t_");
    const char *want =
        "# HELP t_empty Never set.\n"
        "# TYPE t_empty gauge\n"
        "# HELP t_gauge A gauge.\n"
        "# TYPE t_gauge gauge\n"
        "t_gauge -2.25\n"
        "# HELP t_hist A histogram.\n"
        "# TYPE t_hist histogram\n"
        "t_hist_bucket{op=\"x\",le=\"0.5\"} 1\n"
        "t_hist_bucket{op=\"x\",le=\"1\"} 2\n"
        "t_hist_bucket{op=\"x\",le=\"+Inf\"} 3\n"
        "t_hist_sum{op=\"x\"} 4.25\n"
        "t_hist_count{op=\"x\"} 3\n"
        "# HELP t_plain_total \n"
        "# TYPE t_plain_total counter\n"
        "t_plain_total 1000000000000001\n"
        "# HELP t_req_total Requests \\\\ served.\\nSecond line\n"
        "# TYPE t_req_total counter\n"
        "t_req_total{op=\"a\",status=\"say \\\"hi\\\"\\\\\\n\"} 3.5\n"
        "t_req_total{op=\"b\",status=\"200\"} 2\n";
    printf("%s", text);
    assert_string_equal(text, want);
    fr_free(text);
    /* values read back; absent label sets read 0 and are not created */
    const char *b200[] = { "b", "200" }, *nope[] = { "z", "z" }, *x[] = { "x" };
    assert_true(fr_metric_value(req, b200) == 2.0);
    assert_true(fr_metric_value(req, nope) == 0.0);
    assert_int_equal(fr_metric_series_count(req), 2);
    assert_true(fr_metric_value(h, x) == 3.0);
    assert_true(fr_metric_value(g, NULL) == -2.25);
}

static void test_values_and_numbers(void **state) {
    (void)state;
    struct fr_metric *c, *g;
    assert_int_equal(fr_metric_new("t_c_total", "c", FR_METRIC_COUNTER, NULL, NULL, 0, &c), 0);
    assert_int_equal(fr_metric_new("t_g", "g", FR_METRIC_GAUGE, "k", NULL, 0, &g), 0);
    fr_metric_add(c, -5);       /* counters never go down */
    fr_metric_add(c, NAN);
    fr_metric_add(c, 0.1);
    fr_metric_add(c, 0.2);
    assert_true(fr_metric_value(c, NULL) == 0.1 + 0.2);
    fr_metric_set(g, 10, "a");
    fr_metric_dec(g, "a");
    fr_metric_inc(g, NULL);     /* a NULL value is "" */
    fr_metric_set(g, INFINITY, "inf");
    fr_metric_set(g, -INFINITY, "minf");
    fr_metric_set(g, NAN, "nan");
    fr_metric_set(g, 123456789, "int");
    char *text = render("t_");
    printf("%s", text);
    assert_non_null(strstr(text, "t_c_total 0.30000000000000004\n"));   /* shortest exact text */
    assert_non_null(strstr(text, "t_g{k=\"\"} 1\n"));
    assert_non_null(strstr(text, "t_g{k=\"a\"} 9\n"));
    assert_non_null(strstr(text, "t_g{k=\"inf\"} +Inf\n"));
    assert_non_null(strstr(text, "t_g{k=\"minf\"} -Inf\n"));
    assert_non_null(strstr(text, "t_g{k=\"nan\"} NaN\n"));
    assert_non_null(strstr(text, "t_g{k=\"int\"} 123456789\n"));
    /* label sets sorted by value: "" < a < inf < int < minf < nan */
    const char *order[] = { "k=\"\"", "k=\"a\"", "k=\"inf\"", "k=\"int\"", "k=\"minf\"", "k=\"nan\"" };
    const char *prev = text;
    for (int i = 0; i < 6; i++) {
        const char *at = strstr(text, order[i]);
        assert_non_null(at);
        assert_true(at >= prev);
        prev = at;
    }
    fr_free(text);
}

static void test_histogram_edges(void **state) {
    (void)state;
    struct fr_metric *h, *q;
    assert_int_equal(fr_metric_new("t_lat_seconds", "l", FR_METRIC_HISTOGRAM, NULL, NULL, 0, &h), 0);
    /* the default ladder is the seconds one: 1 ms ... 10 s */
    double obs[] = { 0.001, 0.0010000001, 0, -1, 10, 10.5, 1e300, NAN };
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) fr_metric_observe(h, obs[i]);
    char *text = render("t_lat");
    printf("%s", text);
    /* le is inclusive: 0.001, 0 and -1 go to le=0.001; 0.0010000001 to le=0.0025; 10 to le=10 */
    assert_non_null(strstr(text, "t_lat_seconds_bucket{le=\"0.001\"} 3\n"));
    assert_non_null(strstr(text, "t_lat_seconds_bucket{le=\"0.0025\"} 4\n"));
    assert_non_null(strstr(text, "t_lat_seconds_bucket{le=\"5\"} 4\n"));
    assert_non_null(strstr(text, "t_lat_seconds_bucket{le=\"10\"} 5\n"));
    assert_non_null(strstr(text, "t_lat_seconds_bucket{le=\"+Inf\"} 7\n"));   /* NaN is dropped */
    assert_non_null(strstr(text, "t_lat_seconds_count 7\n"));
    /* all thirteen bounds, in order */
    const char *les[] = { "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                          "0.25",  "0.5",    "1",     "2.5",  "5",     "10" };
    const char *prev = text;
    for (int i = 0; i < 13; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "{le=\"%s\"}", les[i]);
        const char *at = strstr(text, pat);
        assert_non_null(at);
        assert_true(at > prev);
        prev = at;
    }
    fr_free(text);
    /* the unit ladder, for quality scores */
    assert_int_equal(fr_metric_new("t_quality", "q", FR_METRIC_HISTOGRAM, NULL, fr_metric_buckets_unit,
                                   FR_METRIC_BUCKETS_UNIT_N, &q), 0);
    fr_metric_observe(q, 0.1);
    fr_metric_observe(q, 0.30000000000000004);   /* just above 0.3 */
    fr_metric_observe(q, 1.0);
    text = render("t_quality");
    assert_non_null(strstr(text, "t_quality_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(text, "t_quality_bucket{le=\"0.3\"} 1\n"));
    assert_non_null(strstr(text, "t_quality_bucket{le=\"0.4\"} 2\n"));
    assert_non_null(strstr(text, "t_quality_bucket{le=\"1\"} 3\n"));
    assert_non_null(strstr(text, "t_quality_bucket{le=\"+Inf\"} 3\n"));
    fr_free(text);
}

static void test_registration_rules(void **state) {
    (void)state;
    struct fr_metric *a, *b;
    const double bad[] = { 1, 1 }, inf[] = { 1, INFINITY }, ok[] = { 1, 2 };
    assert_int_equal(fr_metric_new("t_a", "a", FR_METRIC_COUNTER, "x,y", NULL, 0, &a), 0);
    assert_int_equal(fr_metric_new("t_a", "other help", FR_METRIC_COUNTER, "x,y", NULL, 0, &b), 0);
    assert_ptr_equal(a, b);                              /* same shape: the same metric */
    assert_int_equal(fr_metric_new("t_a", "a", FR_METRIC_GAUGE, "x,y", NULL, 0, &b), -FR_E_INVALID_ARGUMENT);
    assert_null(b);
    puts(fr_err_detail());
    assert_int_equal(fr_metric_new("t_a", "a", FR_METRIC_COUNTER, "x", NULL, 0, &b), -FR_E_INVALID_ARGUMENT);
    struct {
        const char *name, *labels;
        enum fr_metric_type type;
        const double *bounds;
        int n;
    } refused[] = {
        { "", NULL, FR_METRIC_COUNTER, NULL, 0 },
        { "9lives", NULL, FR_METRIC_COUNTER, NULL, 0 },
        { "has-dash", NULL, FR_METRIC_COUNTER, NULL, 0 },
        { "t_b", "a,b,c,d", FR_METRIC_COUNTER, NULL, 0 },          /* four labels */
        { "t_b", "a,,b", FR_METRIC_COUNTER, NULL, 0 },
        { "t_b", "a:b", FR_METRIC_COUNTER, NULL, 0 },              /* colons only in metric names */
        { "t_b", "__reserved", FR_METRIC_COUNTER, NULL, 0 },
        { "t_b", "x,x", FR_METRIC_COUNTER, NULL, 0 },
        { "t_b", "le", FR_METRIC_HISTOGRAM, NULL, 0 },
        { "t_b", NULL, FR_METRIC_COUNTER, ok, 2 },                 /* buckets on a counter */
        { "t_b", NULL, FR_METRIC_HISTOGRAM, bad, 2 },
        { "t_b", NULL, FR_METRIC_HISTOGRAM, inf, 2 },
        { "t_b", NULL, FR_METRIC_HISTOGRAM, ok, 0 },
        { "t_b", NULL, FR_METRIC_HISTOGRAM, ok, FR_METRIC_BUCKETS_MAX + 1 },
        { "t_b", NULL, (enum fr_metric_type)7, NULL, 0 },
        { "process_open_fds", NULL, FR_METRIC_GAUGE, NULL, 0 },    /* the process's own */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        b = (struct fr_metric *)1;
        int rc = fr_metric_new(refused[i].name, "h", refused[i].type, refused[i].labels, refused[i].bounds,
                               refused[i].n, &b);
        printf("%-18s %-12s -> %d %s\n", refused[i].name, refused[i].labels ? refused[i].labels : "",
               rc, fr_err_detail());
        assert_int_equal(rc, -FR_E_INVALID_ARGUMENT);
        assert_null(b);
    }
    assert_int_equal(fr_metric_new("ns:t_colon_ok", "", FR_METRIC_GAUGE, "le", NULL, 0, &b), 0);
    char *text = render("t_b");   /* nothing refused was registered */
    assert_string_equal(text, "");
    fr_free(text);
}

static void test_cardinality_cap(void **state) {
    (void)state;
    struct fr_metric *m;
    assert_int_equal(fr_metric_new("t_per_client", "c", FR_METRIC_COUNTER, "client,op", NULL, 0, &m), 0);
    char id[32];
    for (int i = 0; i < FR_METRIC_SERIES_MAX; i++) {
        snprintf(id, sizeof id, "c%d", i);
        fr_metric_inc(m, id, "x");
    }
    assert_int_equal(fr_metric_series_count(m), FR_METRIC_SERIES_MAX);
    char *text = render("t_per_client");
    assert_null(strstr(text, "other"));                  /* not shown before it is used */
    fr_free(text);
    size_t mem = fr_mem_used();
    for (int i = FR_METRIC_SERIES_MAX; i < 3 * FR_METRIC_SERIES_MAX; i++) {
        snprintf(id, sizeof id, "c%d", i);
        fr_metric_inc(m, id, "x");
    }
    assert_int_equal(fr_mem_used(), mem);                /* past the cap: no memory at all */
    assert_int_equal(fr_metric_series_count(m), FR_METRIC_SERIES_MAX + 1);
    const char *other[] = { "other", "other" }, *c5[] = { "c5", "x" };
    assert_true(fr_metric_value(m, other) == 2 * FR_METRIC_SERIES_MAX);
    fr_metric_inc(m, "c5", "x");                         /* known sets still count on their own */
    assert_true(fr_metric_value(m, c5) == 2.0);
    fr_metric_inc(m, "other", "other");                  /* and "other" named outright is the same set */
    assert_true(fr_metric_value(m, other) == 2 * FR_METRIC_SERIES_MAX + 1);
    text = render("t_per_client");
    assert_non_null(strstr(text, "t_per_client{client=\"other\",op=\"other\"} 2001\n"));
    /* every series line, summed, is every increment made */
    double sum = 0;
    int lines = 0;
    for (const char *p = text; (p = strstr(p, "\nt_per_client{")) != NULL; p++, lines++)
        sum += strtod(strchr(p, '}') + 1, NULL);
    assert_int_equal(lines, FR_METRIC_SERIES_MAX + 1);
    assert_true(sum == 3 * FR_METRIC_SERIES_MAX + 2);
    fr_free(text);
}

static void test_long_label_values(void **state) {
    (void)state;
    struct fr_metric *m;
    assert_int_equal(fr_metric_new("t_long", "l", FR_METRIC_GAUGE, "v", NULL, 0, &m), 0);
    char v[300];
    memset(v, 'a', 127);
    strcpy(v + 127, "\xc3\xa9zzzz");                     /* "é" straddles byte 128: cut before it */
    fr_metric_set(m, 1, v);
    v[127] = 0;                                          /* exactly the kept part: the same set */
    fr_metric_set(m, 2, v);
    memset(v, 'a', 128);
    strcpy(v + 128, "zz");                               /* plain ASCII: cut at 128 bytes */
    fr_metric_set(m, 3, v);
    assert_int_equal(fr_metric_series_count(m), 2);
    char *text = render("t_long");
    printf("%s", text);
    char want[200];
    snprintf(want, sizeof want, "t_long{v=\"%.127s\"} 2\n", v);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "t_long{v=\"%.128s\"} 3\n", v);
    assert_non_null(strstr(text, want));
    fr_free(text);
}

struct worker {
    struct fr_metric *c, *h;
    int id, n;
};

static void *hammer(void *arg) {
    struct worker *w = arg;
    static const char *ops[] = { "identify", "verify", "detect", "enroll" };
    char fresh[16];
    for (int i = 0; i < w->n; i++) {
        fr_metric_inc(w->c, ops[i & 3], "200");
        fr_metric_observe(w->h, 1.0, ops[(i + w->id) & 3]);
        if (i % 100 == 0) {   /* label sets first seen by several threads at once */
            snprintf(fresh, sizeof fresh, "f%d", (i / 100) % 200);
            fr_metric_inc(w->c, fresh, "new");
        }
    }
    return NULL;
}

static void test_concurrent_exact(void **state) {
    (void)state;
    struct fr_metric *c, *h;
    assert_int_equal(fr_metric_new("t_conc_total", "c", FR_METRIC_COUNTER, "op,status", NULL, 0, &c), 0);
    assert_int_equal(fr_metric_new("t_conc_seconds", "h", FR_METRIC_HISTOGRAM, "op", NULL, 0, &h), 0);
    enum { T = 4, N = 200000 };
    pthread_t th[T];
    struct worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){ c, h, i, N };
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    const char *ops[] = { "identify", "verify", "detect", "enroll" };
    double total = 0;
    for (int k = 0; k < 4; k++) {
        const char *lv[] = { ops[k], "200" }, *hv[] = { ops[k] };
        assert_true(fr_metric_value(c, lv) == (double)T * N / 4);
        assert_true(fr_metric_value(h, hv) == (double)T * N / 4);
        total += fr_metric_value(h, hv);
    }
    assert_true(total == (double)T * N);
    /* 200 fresh sets, each made once although raced for; each seen N/100/200 times per thread */
    assert_int_equal(fr_metric_series_count(c), 4 + 200);
    const char *f7[] = { "f7", "new" };
    assert_true(fr_metric_value(c, f7) == (double)T * (N / 100 / 200));
    char *text = render("t_conc_seconds");
    assert_non_null(strstr(text, "t_conc_seconds_sum{op=\"identify\"} 200000\n"));
    assert_non_null(strstr(text, "t_conc_seconds_count{op=\"identify\"} 200000\n"));
    fr_free(text);
}

static double metric_line(const char *text, const char *name) {
    char pat[96];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *at = strstr(text, pat);
    assert_non_null(at);
    return strtod(at + strlen(pat), NULL);
}

static void test_process_metrics(void **state) {
    (void)state;
    char *text = render(NULL);
    printf("%s", text);
    assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(text, "# TYPE process_resident_memory_bytes gauge\n"));
    assert_true(metric_line(text, "process_resident_memory_bytes") > 1e5);
    assert_true(metric_line(text, "process_virtual_memory_bytes") >= metric_line(text, "process_resident_memory_bytes"));
    assert_true(metric_line(text, "process_cpu_seconds_total") >= 0);
    assert_true(metric_line(text, "process_open_fds") >= 3);     /* stdin, stdout, stderr */
    assert_true(metric_line(text, "process_max_fds") >= metric_line(text, "process_open_fds"));
    double start = metric_line(text, "process_start_time_seconds"), now = (double)time(NULL);
    assert_true(start > now - 3600 && start <= now + 2);         /* started within the hour */
    assert_true(metric_line(text, "facerec_allocated_bytes") > 0);
    /* families are sorted by name */
    assert_true(strstr(text, "# HELP facerec_allocated_bytes") < strstr(text, "# HELP process_cpu_seconds_total"));
    assert_true(strstr(text, "# HELP process_open_fds") < strstr(text, "# HELP process_resident_memory_bytes"));
    fr_free(text);
}


/* Registration, label sets, updates and a render, with allocation n failing. */
static int exercise(void) {
    struct fr_metric *a, *h;
    int rc = fr_metric_new("t_fail_total", "f", FR_METRIC_COUNTER, "k,v", NULL, 0, &a);
    if (rc < 0) return rc;
    if ((rc = fr_metric_new("t_fail_seconds", "f", FR_METRIC_HISTOGRAM, "k", NULL, 0, &h)) < 0) return rc;
    fr_metric_inc(a, "x", "1");
    fr_metric_inc(a, "y", "2");
    fr_metric_observe(h, 0.1, "x");
    char *text;
    size_t len;
    if ((rc = fr_metrics_render(&text, &len)) < 0) return rc;
    /* every increment is somewhere: in its own set or in "other" */
    double sum = 0;
    for (const char *p = text; (p = strstr(p, "\nt_fail_total{")) != NULL; p++)
        sum += strtod(strchr(p, '}') + 1, NULL);
    fr_free(text);
    return sum == 2 ? 0 : -FR_E_INTERNAL_ERROR;
}

static void test_memory_and_failures(void **state) {
    (void)state;
    fr_metrics_reset();
    size_t base = fr_mem_used();
    assert_int_equal(exercise(), 0);
    fr_metrics_reset();
    assert_int_equal(fr_mem_used(), base);
    int n_ok = 0;
    for (long n = 1; n < 60; n++) {
        fr_alloc_fail_after(n);
        int rc = exercise();
        fr_alloc_fail_after(0);
        assert_true(rc == 0 || rc == -FR_E_NOMEM);
        n_ok += rc == 0;
        fr_metrics_reset();
        assert_int_equal(fr_mem_used(), base);
    }
    assert_true(n_ok > 0);
}

static void test_speed(void **state) {
    (void)state;
    struct fr_metric *c, *h;
    assert_int_equal(fr_metric_new("t_speed_total", "c", FR_METRIC_COUNTER, "operation,status", NULL, 0, &c), 0);
    assert_int_equal(fr_metric_new("t_speed_seconds", "h", FR_METRIC_HISTOGRAM, "operation", NULL, 0, &h), 0);
    enum { N = 2000000 };
    double t0 = fr_time_ms();
    for (int i = 0; i < N; i++) fr_metric_inc(c, "identify", "200");
    double t1 = fr_time_ms();
    for (int i = 0; i < N; i++) fr_metric_observe(h, 0.03, "identify");
    double t2 = fr_time_ms();
    char *text = render(NULL);
    double t3 = fr_time_ms();
    printf("inc with 2 labels %.1f ns, observe with 1 label %.1f ns, render %.2f ms (%zu bytes)\n",
           (t1 - t0) * 1e6 / N, (t2 - t1) * 1e6 / N, t3 - t2, strlen(text));
    fr_free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_exposition_exact, reset),
        cmocka_unit_test_teardown(test_values_and_numbers, reset),
        cmocka_unit_test_teardown(test_histogram_edges, reset),
        cmocka_unit_test_teardown(test_registration_rules, reset),
        cmocka_unit_test_teardown(test_cardinality_cap, reset),
        cmocka_unit_test_teardown(test_long_label_values, reset),
        cmocka_unit_test_teardown(test_concurrent_exact, reset),
        cmocka_unit_test_teardown(test_process_metrics, reset),
        cmocka_unit_test_teardown(test_memory_and_failures, reset),
        cmocka_unit_test_teardown(test_speed, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
