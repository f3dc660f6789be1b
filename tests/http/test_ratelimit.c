/* Rate limiter: sliding behaviour across bucket boundaries with synthetic
 * time, both windows and which one the headers report, exact reset and
 * Retry-After values, refused requests not counted, the guarantee checked by
 * brute force on random traffic (never more than the limit in any interval of
 * the window's length, never refusing unless the limit was reached within
 * W + G), forgetting, eviction and bounded memory, and concurrent clients. */
#include "harness.h"

#include "facerec/base.h"
#include "http/ratelimit.h"

#include <pthread.h>

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
/* A moment on a 15-minute boundary, so bucket edges in the tests are plain. */
#define T0 1699999200000LL

static struct fr_ratelimit *rl_new(size_t max) {
    struct fr_ratelimit *rl;
    assert_int_equal(fr_ratelimit_new(max, &rl), 0);
    return rl;
}

static int check(struct fr_ratelimit *rl, int64_t c, int64_t ph, int64_t pd, int64_t t,
                 struct fr_ratelimit_info *info) {
    return fr_ratelimit_check(rl, c, ph, pd, t, info);
}

static void test_hour_window(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    struct fr_ratelimit_info in;
    /* three requests in minute 0 */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(check(rl, 1, 3, 0, T0 + 10000 * (i + 1), &in), 0);
        assert_int_equal(in.window, FR_RATELIMIT_HOUR);
        assert_int_equal(in.limit, 3);
        assert_int_equal(in.remaining, 2 - i);
        assert_int_equal(in.reset, (T0 + 61 * MIN_MS) / 1000);   /* minute 0 leaves the ring at 61 min */
        assert_int_equal(in.retry_after, 0);
    }
    /* the fourth is refused until minute 0 has left the window */
    assert_int_equal(check(rl, 1, 3, 0, T0 + 40000, &in), -FR_E_RATE_LIMITED);
    printf("%s\n", fr_err_detail());
    assert_int_equal(in.window, FR_RATELIMIT_HOUR);
    assert_int_equal(in.remaining, 0);
    assert_int_equal(in.reset, (T0 + 61 * MIN_MS) / 1000);
    assert_int_equal(in.retry_after, (61 * MIN_MS - 40000) / 1000);
    /* refused requests are not counted: hammering changes nothing */
    for (int64_t t = T0 + MIN_MS; t < T0 + 61 * MIN_MS; t += 7919)
        assert_int_equal(check(rl, 1, 3, 0, t, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(check(rl, 1, 3, 0, T0 + 61 * MIN_MS - 1, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.retry_after, 1);                     /* never 0 when refused */
    /* at 61 min all three are forgotten at once: exactly three fit again */
    for (int i = 0; i < 3; i++) assert_int_equal(check(rl, 1, 3, 0, T0 + 61 * MIN_MS + i, &in), 0);
    assert_int_equal(check(rl, 1, 3, 0, T0 + 61 * MIN_MS + 3, &in), -FR_E_RATE_LIMITED);
    fr_ratelimit_free(rl);
}

static void test_bucket_boundaries(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    struct fr_ratelimit_info in;
    /* one request at the end of minute 0, two at the start of minute 1 */
    assert_int_equal(check(rl, 2, 3, 0, T0 + 59999, &in), 0);
    assert_int_equal(check(rl, 2, 3, 0, T0 + 60000, &in), 0);
    assert_int_equal(check(rl, 2, 3, 0, T0 + 60001, &in), 0);
    assert_int_equal(in.reset, (T0 + 61 * MIN_MS) / 1000);  /* the oldest (minute 0) goes first */
    assert_int_equal(check(rl, 2, 3, 0, T0 + 62000, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.retry_after, (61 * MIN_MS - 62000) / 1000);
    /* minute 0 leaves at 61 min: room for one; minute 1 (two) leaves at 62 min */
    assert_int_equal(check(rl, 2, 3, 0, T0 + 61 * MIN_MS, &in), 0);
    assert_int_equal(in.remaining, 0);
    assert_int_equal(in.reset, (T0 + 62 * MIN_MS) / 1000);
    assert_int_equal(check(rl, 2, 3, 0, T0 + 61 * MIN_MS + 1, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.reset, (T0 + 62 * MIN_MS) / 1000);
    assert_int_equal(check(rl, 2, 3, 0, T0 + 62 * MIN_MS, &in), 0);
    assert_int_equal(check(rl, 2, 3, 0, T0 + 62 * MIN_MS, &in), 0);
    assert_int_equal(check(rl, 2, 3, 0, T0 + 62 * MIN_MS, &in), -FR_E_RATE_LIMITED);
    /* a lowered limit: 3 counted (minutes 61, 62, 62), limit 1 needs both buckets gone */
    assert_int_equal(check(rl, 2, 1, 0, T0 + 70 * MIN_MS, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.limit, 1);
    assert_int_equal(in.reset, (T0 + 123 * MIN_MS) / 1000);
    assert_int_equal(in.retry_after, (123 * MIN_MS - 70 * MIN_MS) / 1000);
    /* raised again: counts were kept */
    assert_int_equal(check(rl, 2, 5, 0, T0 + 70 * MIN_MS, &in), 0);
    assert_int_equal(in.remaining, 1);
    /* a long pause empties the whole ring */
    assert_int_equal(check(rl, 2, 5, 0, T0 + 10 * HOUR_MS, &in), 0);
    assert_int_equal(in.remaining, 4);
    fr_ratelimit_free(rl);
}

static void test_day_window(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    struct fr_ratelimit_info in;
    const int64_t g = 15 * MIN_MS;
    assert_int_equal(check(rl, 3, 0, 2, T0 + 14 * MIN_MS, &in), 0);     /* day bucket 0 */
    assert_int_equal(in.window, FR_RATELIMIT_DAY);
    assert_int_equal(in.reset, (T0 + 97 * g) / 1000);                  /* bucket 0 leaves at 24 h 15 min */
    assert_int_equal(check(rl, 3, 0, 2, T0 + 5 * HOUR_MS, &in), 0);    /* bucket 20 */
    assert_int_equal(check(rl, 3, 0, 2, T0 + 6 * HOUR_MS, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.window, FR_RATELIMIT_DAY);
    assert_int_equal(in.retry_after, (97 * g - 6 * HOUR_MS) / 1000);
    assert_int_equal(check(rl, 3, 0, 2, T0 + 97 * g - 1, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(check(rl, 3, 0, 2, T0 + 97 * g, &in), 0);
    assert_int_equal(check(rl, 3, 0, 2, T0 + 97 * g, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.reset, (T0 + 117 * g) / 1000);                 /* next out: bucket 20 */
    fr_ratelimit_free(rl);
}

static void test_both_windows(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    struct fr_ratelimit_info in;
    const int64_t g = 15 * MIN_MS;
    /* 2/hour, 3/day: the tighter window is reported */
    assert_int_equal(check(rl, 4, 2, 3, T0, &in), 0);
    assert_int_equal(in.window, FR_RATELIMIT_HOUR);
    assert_int_equal(in.limit, 2);
    assert_int_equal(in.remaining, 1);
    assert_int_equal(check(rl, 4, 2, 3, T0 + 1000, &in), 0);
    assert_int_equal(in.remaining, 0);
    assert_int_equal(in.window, FR_RATELIMIT_HOUR);
    assert_int_equal(check(rl, 4, 2, 3, T0 + MIN_MS, &in), -FR_E_RATE_LIMITED);   /* the hour refuses */
    assert_int_equal(in.window, FR_RATELIMIT_HOUR);
    assert_int_equal(in.retry_after, 60 * 60);
    /* an hour later the hour has room, the day has one left: the day binds */
    assert_int_equal(check(rl, 4, 2, 3, T0 + 61 * MIN_MS, &in), 0);
    assert_int_equal(in.window, FR_RATELIMIT_DAY);
    assert_int_equal(in.limit, 3);
    assert_int_equal(in.remaining, 0);
    assert_int_equal(check(rl, 4, 2, 3, T0 + 62 * MIN_MS, &in), -FR_E_RATE_LIMITED);   /* the day refuses */
    printf("%s\n", fr_err_detail());
    assert_int_equal(in.window, FR_RATELIMIT_DAY);
    assert_int_equal(in.reset, (T0 + 97 * g) / 1000);
    assert_int_equal(in.retry_after, (97 * g - 62 * MIN_MS) / 1000);
    /* both refuse: the later one tells when to come back */
    assert_int_equal(check(rl, 5, 1, 1, T0, &in), 0);
    assert_int_equal(check(rl, 5, 1, 1, T0 + 1000, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.window, FR_RATELIMIT_DAY);
    assert_int_equal(in.retry_after, (97 * g - 1000) / 1000);
    /* unlimited both ways: always admitted, nothing to report */
    for (int i = 0; i < 1000; i++) assert_int_equal(check(rl, 6, 0, 0, T0, &in), 0);
    assert_int_equal(in.window, FR_RATELIMIT_NONE);
    assert_int_equal(in.limit, 0);
    assert_int_equal(in.reset, 0);
    assert_int_equal(check(rl, 6, 0, 0, T0, NULL), 0);                 /* info is optional */
    /* limits that make no sense */
    assert_int_equal(check(rl, 6, -1, 0, T0, &in), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(check(rl, 6, 0, -5, T0, &in), -FR_E_INVALID_ARGUMENT);
    fr_ratelimit_free(rl);
}

/* Random traffic against brute force over the admitted log. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t count_in(const int64_t *t, int n, int64_t from, int64_t to) {   /* admitted in [from, to] */
    int64_t c = 0;
    for (int i = 0; i < n; i++) c += t[i] >= from && t[i] <= to;
    return c;
}

static void test_random_traffic_guarantee(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    enum { N = 20000 };
    const int64_t ph = 20, pd = 100, g_h = MIN_MS, g_d = 15 * MIN_MS;
    int64_t *adm = malloc(N * sizeof *adm);
    int n_adm = 0, refused = 0;
    int64_t t = T0 + 12345;
    for (int i = 0; i < N; i++) {
        /* bursts and lulls: gaps from 0 to ~40 min, mostly short */
        uint64_t r = next_rand();
        t += (int64_t)(r % 8 == 0 ? r % (40 * MIN_MS) : r % 20000);
        struct fr_ratelimit_info in;
        int rc = check(rl, 77, ph, pd, t, &in);
        if (rc == 0) {
            adm[n_adm++] = t;
            /* never more than the limit in ANY interval of the window's length ending now */
            assert_true(count_in(adm, n_adm, t - HOUR_MS + 1, t) <= ph);
            assert_true(count_in(adm, n_adm, t - DAY_MS + 1, t) <= pd);
        } else {
            assert_int_equal(rc, -FR_E_RATE_LIMITED);
            refused++;
            /* refused only when a limit was reached within W + G */
            int64_t h = count_in(adm, n_adm, t - HOUR_MS - g_h, t), d = count_in(adm, n_adm, t - DAY_MS - g_d, t);
            assert_true(h >= ph || d >= pd);
            assert_true(in.retry_after >= 1);
            assert_true(in.reset * 1000 >= t);
            assert_true(in.retry_after <= (in.window == FR_RATELIMIT_HOUR ? HOUR_MS + g_h : DAY_MS + g_d) / 1000);
        }
    }
    printf("%d requests over %.1f days: %d admitted, %d refused\n", N, (double)(t - T0) / DAY_MS, n_adm, refused);
    assert_true(n_adm > 100 && refused > 100);
    free(adm);
    fr_ratelimit_free(rl);
}

static void test_retry_after_is_enough(void **state) {
    (void)state;
    /* whenever refused, coming back after Retry-After seconds is admitted */
    struct fr_ratelimit *rl = rl_new(0);
    int64_t t = T0 + 777;
    int checked = 0;
    for (int i = 0; i < 3000; i++) {
        struct fr_ratelimit_info in;
        t += (int64_t)(next_rand() % 90000);
        int64_t ph = 5 + (int64_t)(next_rand() % 3), pd = 40;
        if (check(rl, 9, ph, pd, t, &in) == 0) continue;
        t += in.retry_after * 1000;
        assert_int_equal(check(rl, 9, ph, pd, t, &in), 0);
        checked++;
    }
    assert_true(checked > 50);
    fr_ratelimit_free(rl);
}

static void test_clock_steps_back(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    struct fr_ratelimit_info in;
    assert_int_equal(check(rl, 10, 2, 0, T0 + 30 * MIN_MS, &in), 0);
    assert_int_equal(check(rl, 10, 2, 0, T0, &in), 0);   /* counted into the newest bucket */
    assert_int_equal(check(rl, 10, 2, 0, T0 - HOUR_MS, &in), -FR_E_RATE_LIMITED);
    assert_int_equal(in.reset, (T0 + 91 * MIN_MS) / 1000);
    assert_int_equal(check(rl, 10, 2, 0, T0 + 91 * MIN_MS, &in), 0);
    fr_ratelimit_free(rl);
}

static void test_forget_and_eviction(void **state) {
    (void)state;
    size_t base = fr_mem_used();
    struct fr_ratelimit *rl = rl_new(0);
    struct fr_ratelimit_info in;
    assert_int_equal(check(rl, 11, 1, 0, T0, &in), 0);
    assert_int_equal(check(rl, 11, 1, 0, T0, &in), -FR_E_RATE_LIMITED);
    fr_ratelimit_forget(rl, 11);
    fr_ratelimit_forget(rl, 12345);                      /* unknown: nothing */
    assert_int_equal(fr_ratelimit_clients(rl), 0);
    assert_int_equal(check(rl, 11, 1, 0, T0, &in), 0);    /* a fresh start */
    fr_ratelimit_forget(rl, 11);
    /* 5000 clients, then idle for a day and more: the sweep drops every one */
    for (int64_t c = 0; c < 5000; c++) assert_int_equal(check(rl, c * 7919 - 2500, 100, 1000, T0 + c, &in), 0);
    assert_int_equal(fr_ratelimit_clients(rl), 5000);
    size_t per_client = (fr_mem_used() - base) / 5000;
    printf("about %zu bytes per client\n", per_client);
    assert_true(per_client < 1024);
    assert_int_equal(fr_ratelimit_sweep(rl, T0 + DAY_MS), 0);           /* still in the day window */
    assert_int_equal(fr_ratelimit_sweep(rl, T0 + DAY_MS + 15 * MIN_MS + 5000), 5000);
    assert_int_equal(fr_ratelimit_clients(rl), 0);
    /* the periodic sweep in check does it too, stripe by stripe */
    for (int64_t c = 0; c < 640; c++) assert_int_equal(check(rl, c, 100, 1000, T0, &in), 0);
    for (int64_t c = 1000; c < 5000; c++) assert_int_equal(check(rl, c, 100, 1000, T0 + 2 * DAY_MS, &in), 0);
    assert_int_equal(fr_ratelimit_clients(rl), 4000);
    fr_ratelimit_free(rl);
    assert_int_equal(fr_mem_used(), base);
    /* a hard bound: 128 clients tracked at most, the least recently seen go first */
    rl = rl_new(128);
    for (int64_t c = 0; c < 10000; c++) assert_int_equal(check(rl, c, 10, 0, T0 + c, &in), 0);
    assert_true(fr_ratelimit_clients(rl) <= 128);
    assert_true(fr_ratelimit_clients(rl) >= 64);
    fr_ratelimit_free(rl);
    assert_int_equal(fr_mem_used(), base);
}

static void test_alloc_failure(void **state) {
    (void)state;
    size_t base = fr_mem_used();
    struct fr_ratelimit *rl;
    for (long n = 1; n < 70; n++) {   /* the limiter itself */
        fr_alloc_fail_after(n);
        int rc = fr_ratelimit_new(0, &rl);
        fr_alloc_fail_after(0);
        if (rc == 0) fr_ratelimit_free(rl);
        else assert_int_equal(rc, -FR_E_NOMEM);
        assert_int_equal(fr_mem_used(), base);
    }
    rl = rl_new(0);
    struct fr_ratelimit_info in;
    fr_alloc_fail_after(1);   /* a new client cannot be tracked: neither admitted nor counted */
    assert_int_equal(check(rl, 1, 1, 0, T0, &in), -FR_E_NOMEM);
    fr_alloc_fail_after(0);
    assert_int_equal(check(rl, 1, 1, 0, T0, &in), 0);
    assert_int_equal(check(rl, 1, 1, 0, T0, &in), -FR_E_RATE_LIMITED);
    fr_ratelimit_free(rl);
    fr_ratelimit_free(NULL);
    assert_int_equal(fr_mem_used(), base);
}

struct hammer_arg {
    struct fr_ratelimit *rl;
    int id;
    int admitted_shared, admitted_own;
};

static void *hammer(void *p) {
    struct hammer_arg *a = p;
    for (int i = 0; i < 20000; i++) {
        int64_t t = T0 + i;                                /* the same minute for every thread */
        if (fr_ratelimit_check(a->rl, 42, 5000, 0, t, NULL) == 0) a->admitted_shared++;
        if (fr_ratelimit_check(a->rl, 1000 + a->id * 100 + i % 100, 100, 0, t, NULL) == 0) a->admitted_own++;
    }
    return NULL;
}

static void test_concurrent(void **state) {
    (void)state;
    struct fr_ratelimit *rl = rl_new(0);
    enum { T = 4 };
    pthread_t th[T];
    struct hammer_arg a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (struct hammer_arg){ rl, i, 0, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &a[i]), 0);
    }
    int shared = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        shared += a[i].admitted_shared;
        assert_int_equal(a[i].admitted_own, 100 * 100);   /* 100 clients × 100 each, none over */
    }
    assert_int_equal(shared, 5000);                       /* exactly the limit, across threads */
    assert_int_equal(fr_ratelimit_clients(rl), 1 + T * 100);
    fr_ratelimit_free(rl);
}


int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hour_window),
        cmocka_unit_test(test_bucket_boundaries),
        cmocka_unit_test(test_day_window),
        cmocka_unit_test(test_both_windows),
        cmocka_unit_test(test_random_traffic_guarantee),
        cmocka_unit_test(test_retry_after_is_enough),
        cmocka_unit_test(test_clock_steps_back),
        cmocka_unit_test(test_forget_and_eviction),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
