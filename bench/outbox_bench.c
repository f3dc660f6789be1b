/* make bench: the outbox dispatcher's throughput and memory. Two rounds of
 * N events (default 10 000) go through one dispatcher to the test receiver on
 * loopback (tests/jobs/outbox_fixture.h: keep-alive HTTP/1.1, every
 * signature checked with its own HMAC) spread over 16 endpoints, 64 in
 * flight and 4 per endpoint, from the fake in-memory source with
 * claim_spread; it prints the CPU model first, then events/s per round and
 * the process's resident memory before and after each round, which should
 * stay flat (nothing is kept per event). The receiver shares the CPU, so the
 * figure is a floor, comparable only on the same machine.
 *   build/bench/outbox_bench [N] */
#include "facerec/base.h"
#include "facerec/keys.h"

#include "../tests/jobs/outbox_fixture.h"
#include "bench_util.h"

#define ENDPOINTS 16

/* Makes deliveries [from, from + n) due now; waits (at most 120 s) until the
 * source has `want` final outcomes. Returns the seconds taken, or -1. */
static double round_run(struct fr_outbox *ob, struct fake *f, int from, int n, int want) {
    double t0 = fr_time_ms();
    pthread_mutex_lock(&f->mu);
    for (int i = from; i < from + n; i++) {
        f->d[i].state = FAKE_PENDING;
        f->d[i].created_at = f->d[i].next_at = fr_now_ms();
    }
    pthread_mutex_unlock(&f->mu);
    fr_outbox_wake(ob);
    for (int t = 0; t < 120000; t += 5) {
        pthread_mutex_lock(&f->mu);
        int done = f->n_final;
        pthread_mutex_unlock(&f->mu);
        if (done >= want) return (fr_time_ms() - t0) / 1000.0;
        rcv_sleep_ms(5);
    }
    return -1;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    char cpu[256], secret[FR_WEBHOOK_SECRET_LEN + 1];
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "usage: outbox_bench [N in 1..1000000]\n");
        return 2;
    }
    bench_cpu_model(cpu, sizeof cpu);
    printf("outbox dispatcher benchmark, CPU: %s\n", cpu);
    fr_log_set_level(FR_LOG_WARN);   /* one line per attempt otherwise */
    static struct receiver rcv;
    if (fr_webhook_secret_new(secret) < 0 || rcv_start(&rcv, secret, NULL) < 0) {
        fprintf(stderr, "outbox_bench: cannot start the receiver\n");
        return 1;
    }
    struct fake f;
    fake_init(&f, 2 * n);
    f.spread = true;
    static const char body[] =
        "{\"type\":\"face.enrolled\",\"data\":{"
        "\"subject_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
        "\"face_id\":123456,\"quality\":0.87}}";
    for (int i = 0; i < 2 * n; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/r/200/endpoint%d", rcv.port, i % ENDPOINTS);
        fake_add(&f, i, 1 + i % ENDPOINTS, url, body, secret, NULL);
        f.d[i].state = FAKE_DELIVERED;   /* not due until its round */
    }
    struct fr_outbox_opts o;
    memset(&o, 0, sizeof o);
    fr_outbox_parse_schedule("0,5,300", &o.policy);
    o.policy.jitter = 0.2;
    o.policy.timeout_ms = 15000;
    o.allow_private = 1;
    o.max_in_flight = 64;
    o.per_endpoint = 4;
    struct fr_outbox_source src = fake_source(&f);
    struct fr_outbox *ob;
    if (fr_outbox_start(&o, &src, &ob) < 0) {
        fprintf(stderr, "outbox_bench: %s\n", fr_err_detail());
        return 1;
    }
    long rss0 = bench_rss_kb();
    printf(
        "%d events per round, %d endpoints, %d in flight, %d per endpoint; RSS before: %ld KiB\n",
        n, ENDPOINTS, o.max_in_flight, o.per_endpoint, rss0);
    int rc = 0;
    for (int round = 0; round < 2; round++) {
        double s = round_run(ob, &f, round * n, n, (round + 1) * n);
        if (s < 0) {
            fprintf(stderr, "outbox_bench: round %d did not finish in 120 s\n", round + 1);
            rc = 1;
            break;
        }
        printf("round %d: %d events in %.2f s: %.0f events/s; RSS after: %ld KiB\n", round + 1, n,
               s, n / s, bench_rss_kb());
    }
    fr_outbox_stop(ob);
    int delivered = 0, bad = 0;
    for (int i = 0; i < 2 * n; i++) {
        delivered += f.d[i].state == FAKE_DELIVERED && f.d[i].attempts == 1;
        bad += f.d[i].attempts > 1;
    }
    int connections = rcv.connections;
    rcv_stop(&rcv);
    printf(
        "delivered at the first attempt: %d of %d; retried: %d; receiver connections: %d; "
           "contract violations: %d\n",
        delivered, 2 * n, bad, connections, f.violations);
    rc = rc || delivered != 2 * n || f.violations;
    fake_free(&f);
    return rc;
}
