/* make bench: the whole webhook path's throughput, store included. N events
 * (default 10 000) are written to the outbox of a real SQLite store (one
 * transaction, so the writing is not what is timed), then the service's
 * dispatcher claims them with leases, signs and sends them to the loopback
 * receiver of tests/jobs/outbox_fixture.h (each signature checked), and
 * records every outcome in the store, until all are delivered. Prints the
 * CPU model, events/s and the resident memory before and after (flat: nothing
 * is kept per event). Outcomes are written one transaction each, synced
 * (SQLite synchronous=FULL), so the figure includes the disk.
 *   build/bench/outbox_store_bench [N] */
#include "facerec/base.h"
#include "facerec/keys.h"
#include "facerec/store.h"
#include "service/service.h"

#include "../tests/jobs/outbox_fixture.h"
#include "bench_util.h"

static int die(const char *what) {
    fprintf(stderr, "outbox_store_bench: %s: %s\n", what, fr_err_detail());
    return 1;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "usage: outbox_store_bench [N in 1..1000000]\n");
        return 2;
    }
    char cpu[256], dir[] = "/tmp/facerec-outbox-store-XXXXXX", url[256];
    bench_cpu_model(cpu, sizeof cpu);
    printf("webhook delivery through the store, CPU: %s\n", cpu);
    fr_log_set_level(FR_LOG_WARN);
    if (!mkdtemp(dir)) return die("mkdtemp");
    struct fr_svc_config cfg = { .parts = FR_SVC_STORE, .data_dir = dir, .threads = 1, .webhook_allow_private = 1 };
    struct fr_service *s = NULL;
    if (fr_service_open(&cfg, &s) < 0) return die("service");
    struct fr_svc_actor admin = { 0, NULL, NULL };
    struct fr_svc_client c;
    if (fr_svc_client_create(s, &admin, "bench", 0, 0, &c) < 0) return die("client");
    struct fr_svc_actor who = { c.id, NULL, NULL };
    static struct receiver rcv;
    if (rcv_start(&rcv, NULL, NULL) < 0) return die("receiver");
    char hook[128];
    snprintf(hook, sizeof hook, "http://127.0.0.1:%d/ok", rcv.port);
    const char *const events[] = { "*" };
    struct fr_svc_webhook_fields wf = { hook, events, 1, NULL, 1 };
    struct fr_svc_webhook w;
    if (fr_svc_webhook_create(s, &who, &wf, &w) < 0) return die("webhook");
    pthread_mutex_lock(&rcv.mu);
    rcv.secrets[0] = w.secret;
    pthread_mutex_unlock(&rcv.mu);

    /* the events, written through a second handle on the same database */
    fr_store *st = NULL, *tx = NULL;
    snprintf(url, sizeof url, "sqlite:%s", dir);
    if (fr_store_open(url, &st) < 0 || fr_store_tx_begin(st, &tx) < 0) return die("store");
    static const char body[] = "{\"id\":\"evt_x\",\"type\":\"face.enrolled\",\"created_at\":\"2026-12-07T00:00:00.000Z\","
                               "\"data\":{\"face\":{\"id\":1,\"subject_id\":1,\"model_id\":\"87aacdfe57510db2\","
                               "\"quality\":0.7239},\"subject\":{\"id\":1,\"external_id\":\"emp-1\",\"name\":\"Ada\"}}}";
    for (int i = 0; i < n; i++) {
        char id[40];
        int64_t k = 0;
        snprintf(id, sizeof id, "evt_bench_%08d", i);
        struct fr_store_event_new e = { c.id, id, "face.enrolled", 0, body, 0 };
        if (fr_store_event_add(tx, &e, &k) < 0 || k != 1) return die("event");
    }
    if (fr_store_tx_commit(tx) < 0) return die("commit");
    fr_store_close(st);

    long rss0 = bench_rss_kb();
    struct fr_outbox_opts oo = { 0 };
    oo.allow_private = 1;
    oo.policy.jitter = 0.2;
    oo.policy.timeout_ms = 15000;
    double t0 = fr_time_ms();
    if (fr_outbox_parse_schedule("0,5,300", &oo.policy) < 0 || fr_svc_outbox_start(s, &oo) < 0) return die("outbox");
    long long got = 0;
    for (int t = 0; t < 600000 && got < n; t += 20) {
        pthread_mutex_lock(&rcv.mu);
        got = rcv.total;
        pthread_mutex_unlock(&rcv.mu);
        if (got < n) rcv_sleep_ms(20);
    }
    double secs = (fr_time_ms() - t0) / 1000.0;
    /* the last outcomes are recorded by the time nothing is pending */
    int64_t pending = -1, oldest = 0;
    struct fr_svc_status stt;
    for (int t = 0; t < 30000; t += 20) {
        fr_svc_status(s, 1, &stt);
        pending = stt.webhooks_pending;
        if (pending == 0) break;
        rcv_sleep_ms(20);
    }
    (void)oldest;
    long rss1 = bench_rss_kb();
    printf("| events | seconds | events/s | RSS before MB | RSS after MB | left pending |\n|---|---|---|---|---|---|\n");
    printf("| %d | %.2f | %.0f | %.1f | %.1f | %lld |\n", n, secs, (double)got / secs, rss0 / 1024.0, rss1 / 1024.0,
           (long long)pending);
    fr_svc_webhook_free(&w);
    fr_svc_client_free(&c);
    fr_service_close(s);
    rcv_stop(&rcv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && got >= n && pending == 0 ? 0 : 1;
}
