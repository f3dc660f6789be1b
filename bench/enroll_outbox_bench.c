/* make bench: what the transactional outbox adds to an acknowledged
 * enrolment. The same build enrols the same photo through the service
 * (fr_svc_enroll: decode, detect, embed, then one transaction with the face,
 * its audit row and — when a webhook wants it — the face.enrolled event and
 * its delivery), alternating blocks with the client's webhook disabled (no
 * event written: the baseline) and enabled (the event written, and sent by
 * the running dispatcher to the loopback receiver of tests/jobs/
 * outbox_fixture.h, which checks every signature). Prints the CPU model, then
 * the median and p99 of each arm and their ratio; every delivery is then
 * awaited and counted.
 *   build/bench/enroll_outbox_bench [N per arm, default 200] */
#include "facerec/base.h"
#include "facerec/keys.h"
#include "service/service.h"

#include "../tests/jobs/outbox_fixture.h"
#include "bench_util.h"

#define BLOCK 10

static int die(const char *what) {
    fprintf(stderr, "enroll_outbox_bench: %s: %s\n", what, fr_err_detail());
    return 1;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < BLOCK || n > 10000) {
        fprintf(stderr, "usage: enroll_outbox_bench [N per arm, %d..10000]\n", BLOCK);
        return 2;
    }
    n -= n % BLOCK;
    char cpu[256], dir[] = "/tmp/facerec-enroll-outbox-XXXXXX";
    bench_cpu_model(cpu, sizeof cpu);
    printf("enrolment with and without the outbox, CPU: %s\n", cpu);
    fr_log_set_level(FR_LOG_WARN);
    const char *models = getenv("FACEREC_MODELS_DIR");
    if (!mkdtemp(dir)) return die("mkdtemp");
    struct fr_svc_config cfg = { .data_dir = dir, .models_dir = models && *models ? models : "models",
                                 .max_upload_bytes = 1 << 24, .max_pixels = 50000000, .threads = 1,
                                 .match_threshold = 0.28f, .top_k = 5, .max_faces = 10,
                                 .webhook_allow_private = 1 };
    struct fr_service *s = NULL;
    if (fr_service_open(&cfg, &s) < 0) return die("service");
    uint8_t *photo = NULL;
    size_t len = 0;
    if (fr_file_read("tests/fixtures/faces/Aaron_Peirsol_0001.jpg", 1 << 20, &photo, &len) < 0) return die("photo");
    struct fr_svc_actor admin = { 0, NULL, NULL };
    struct fr_svc_client c;
    if (fr_svc_client_create(s, &admin, "bench", 0, 0, &c) < 0) return die("client");
    struct fr_svc_actor who = { c.id, NULL, NULL };
    struct fr_svc_subject_fields sf = { "Aaron", NULL, NULL };
    struct fr_svc_subject subj;
    if (fr_svc_subject_create(s, &who, &sf, &subj) < 0) return die("subject");

    static struct receiver rcv;
    char url[128];
    const char *const events[] = { "face.enrolled" };
    struct fr_svc_webhook_fields wf = { url, events, 1, NULL, 1 };
    struct fr_svc_webhook w;
    if (rcv_start(&rcv, NULL, NULL) < 0) return die("receiver");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", rcv.port);
    if (fr_svc_webhook_create(s, &who, &wf, &w) < 0) return die("webhook");
    pthread_mutex_lock(&rcv.mu);
    rcv.secrets[0] = w.secret;      /* the one facerec made */
    pthread_mutex_unlock(&rcv.mu);
    struct fr_outbox_opts oo = { 0 };
    oo.allow_private = 1;
    oo.policy.jitter = 0.2;
    oo.policy.timeout_ms = 15000;
    if (fr_outbox_parse_schedule("0,5,300", &oo.policy) < 0 || fr_svc_outbox_start(s, &oo) < 0) return die("outbox");

    double *base = calloc((size_t)n, sizeof *base), *with = calloc((size_t)n, sizeof *with);
    int nb = 0, nw = 0;
    struct fr_svc_enroll_req r = { .who = who, .subject_id = subj.id, .photo = { photo, len, 0 } };
    struct fr_svc_webhook_fields off = { NULL, NULL, -1, NULL, 0 };
    struct fr_svc_webhook ow;
    if (fr_svc_webhook_update(s, &who, w.id, &off, &ow) < 0) return die("toggle");
    fr_svc_webhook_free(&ow);
    for (int i = 0; i < 3; i++) {     /* warm-up, no event */
        struct fr_svc_enroll_result res;
        struct fr_svc_timing t = { 0 };
        fr_svc_enroll(s, &r, &t, &res);
        fr_svc_enroll_result_free(&res);
    }
    for (int blk = 0; blk < 2 * n / BLOCK; blk++) {
        const int on = blk % 2;
        struct fr_svc_webhook_fields toggle = { NULL, NULL, -1, NULL, on };
        struct fr_svc_webhook tw;
        if (fr_svc_webhook_update(s, &who, w.id, &toggle, &tw) < 0) return die("toggle");
        fr_svc_webhook_free(&tw);
        for (int i = 0; i < BLOCK; i++) {
            struct fr_svc_enroll_result res;
            struct fr_svc_timing t = { 0 };
            double t0 = fr_time_ms();
            if (fr_svc_enroll(s, &r, &t, &res) < 0) return die("enrol");
            double ms = fr_time_ms() - t0;
            fr_svc_enroll_result_free(&res);
            if (on) with[nw++] = ms;
            else base[nb++] = ms;
        }
    }
    /* every event of the enabled arm is delivered */
    int delivered = 0, valid = 0;
    for (int t = 0; t < 30000 && delivered < nw; t += 20) {
        pthread_mutex_lock(&rcv.mu);
        delivered = (int)rcv.total;
        valid = 0;
        for (int i = 0; i < rcv.n_log; i++) valid += rcv.log[i].n_valid > 0;
        pthread_mutex_unlock(&rcv.mu);
        if (delivered < nw) rcv_sleep_ms(20);
    }
    double bm = bench_pct(base, nb, 0.5), b99 = bench_pct(base, nb, 0.99);
    double wm = bench_pct(with, nw, 0.5), w99 = bench_pct(with, nw, 0.99);
    printf("| arm | enrolments | median ms | p99 ms |\n|---|---|---|---|\n");
    printf("| no webhook (baseline) | %d | %.2f | %.2f |\n", nb, bm, b99);
    printf("| face.enrolled to a webhook | %d | %.2f | %.2f |\n", nw, wm, w99);
    printf("outbox cost: median %+.2f ms (%+.1f %%), p99 %+.2f ms (%+.1f %%); delivered: %d of %d (%d signatures verified by the receiver)\n",
           wm - bm, 100.0 * (wm - bm) / bm, w99 - b99, 100.0 * (w99 - b99) / b99, delivered, nw, valid);
    free(base);
    free(with);
    fr_svc_webhook_free(&w);
    fr_svc_subject_free(&subj);
    fr_svc_client_free(&c);
    fr_free(photo);
    fr_service_close(s);
    rcv_stop(&rcv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && delivered == nw ? 0 : 1;
}
