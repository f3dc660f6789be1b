/* Background work (src/jobs): periodic tasks run on their period and never
 * overlap themselves, one-off jobs run in order, stopping waits for running
 * work and still runs queued jobs, and bad arguments are refused. Timing
 * assertions are loose bounds (a busy CI machine may be slow), never speed
 * claims. */
#include "harness.h"

#include "facerec/jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static atomic_int ticks, inside, overlap;

static void tick(void *arg) {
    (void)arg;
    atomic_fetch_add(&ticks, 1);
}

/* takes 30 ms with a 5 ms period: must be delayed, never run twice at once */
static void slow(void *arg) {
    (void)arg;
    if (atomic_fetch_add(&inside, 1) > 0) atomic_fetch_add(&overlap, 1);
    sleep_ms(30);
    atomic_fetch_sub(&inside, 1);
}

static void test_periodic(void **state) {
    (void)state;
    struct fr_jobs *j;
    atomic_store(&ticks, 0);
    atomic_store(&overlap, 0);
    assert_int_equal(fr_jobs_start(3, &j), 0);
    assert_int_equal(fr_jobs_every(j, "tick", 10, 0, tick, NULL), 0);
    assert_int_equal(fr_jobs_every(j, "slow", 5, 0, slow, NULL), 0);
    assert_int_equal(fr_jobs_every(j, "later", 60000, 60000, tick, NULL), 0);
    for (int i = 0; i < 100 && atomic_load(&ticks) < 5; i++) sleep_ms(20);   /* bounded: 2 s */
    int64_t slow_runs = fr_jobs_runs(j, "slow");
    fr_jobs_stop(j);
    printf("tick ran %d times, slow %lld times\n", atomic_load(&ticks), (long long)slow_runs);
    assert_true(atomic_load(&ticks) >= 5);
    assert_int_equal(atomic_load(&overlap), 0);
    assert_true(slow_runs >= 1);
    assert_int_equal(fr_jobs_runs(NULL, "tick"), -1);
}

static int order[8], n_order;
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;

static void record(void *arg) {
    pthread_mutex_lock(&order_mu);
    order[n_order++] = (int)(intptr_t)arg;
    pthread_mutex_unlock(&order_mu);
    sleep_ms(5);
}

static void test_queue_and_stop(void **state) {
    (void)state;
    struct fr_jobs *j;
    n_order = 0;
    assert_int_equal(fr_jobs_start(1, &j), 0);   /* one worker: strict order */
    for (int i = 0; i < 8; i++) assert_int_equal(fr_jobs_submit(j, "record", record, (void *)(intptr_t)i), 0);
    fr_jobs_stop(j);                              /* the queued ones still run */
    assert_int_equal(n_order, 8);
    for (int i = 0; i < 8; i++) assert_int_equal(order[i], i);
}

static void test_bad_arguments(void **state) {
    (void)state;
    struct fr_jobs *j;
    assert_true(fr_jobs_start(0, &j) < 0);
    assert_true(fr_jobs_start(17, &j) < 0);
    assert_int_equal(fr_jobs_start(1, &j), 0);
    assert_true(fr_jobs_every(j, "x", 0, 0, tick, NULL) < 0);
    assert_true(fr_jobs_every(j, "x", 10, -1, tick, NULL) < 0);
    assert_true(fr_jobs_every(j, NULL, 10, 0, tick, NULL) < 0);
    assert_true(fr_jobs_submit(j, "x", NULL, NULL) < 0);
    for (int i = 0; i < 32; i++) assert_int_equal(fr_jobs_every(j, "t", 1e9, 1e9, tick, NULL), 0);
    assert_int_equal(fr_jobs_every(j, "one too many", 1e9, 1e9, tick, NULL), -FR_E_LIMIT_EXCEEDED);
    fr_jobs_stop(j);
    fr_jobs_stop(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_queue_and_stop),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
