/* The outbox dispatcher (src/jobs/outbox.c) against a real HTTP receiver on
 * loopback and a fake source (tests/jobs/outbox_fixture.h): Standard
 * Webhooks signatures (the specification's vector, two secrets, bad
 * secrets), the schedule syntax, the URL check (schemes, credentials, every
 * kind of non-public address), and deliveries: delivered, retried with the
 * same webhook-id until delivered, timed out, gone, a redirect not followed,
 * a private address refused unless allowed, a refused connection, a large
 * response cut, the per-endpoint limit (with and without claim_spread),
 * Retry-After (seconds and date), failed after the last attempt, and stop
 * with attempts in flight. Every wait is a bounded loop; timing assertions
 * are loose bounds, never speed claims. */
#include "harness.h"

#include "facerec/keys.h"
#include "facerec/metrics.h"
#include "outbox_fixture.h"

#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct receiver rcv;
static char secret_b[FR_WEBHOOK_SECRET_LEN + 1];

static int group_setup(void **state) {
    (void)state;
    if (fr_webhook_secret_new(secret_b) < 0) return -1;
    return rcv_start(&rcv, SPEC_SECRET, secret_b);
}

static int group_teardown(void **state) {
    (void)state;
    rcv_stop(&rcv);
    return 0;
}

static void url_of(char *out, size_t len, const char *path) {
    snprintf(out, len, "http://127.0.0.1:%d%s", rcv.port, path);
}

/* A policy: schedule text, jitter 0, timeout_ms. */
static struct fr_outbox_opts opts_for(const char *schedule, int64_t timeout_ms) {
    struct fr_outbox_opts o;
    memset(&o, 0, sizeof o);
    assert_int_equal(fr_outbox_parse_schedule(schedule, &o.policy), 0);
    o.policy.timeout_ms = timeout_ms;
    o.allow_private = 1;
    o.poll_ms = 50;
    return o;
}

/* Waits (at most ms) until delivery i has at least n results; returns them. */
static struct fake_delivery wait_results(struct fake *f, int i, int n, int ms) {
    struct fake_delivery d = fake_get(f, i);
    for (int t = 0; t < ms && d.n_results < n; t += 10) {
        rcv_sleep_ms(10);
        d = fake_get(f, i);
    }
    return d;
}

/* Starts an outbox on f, runs nothing else. */
static struct fr_outbox *start(struct fr_outbox_opts *o, struct fake *f) {
    struct fr_outbox_source src = fake_source(f);
    struct fr_outbox *ob = NULL;
    assert_int_equal(fr_outbox_start(o, &src, &ob), 0);
    assert_non_null(ob);
    return ob;
}

static void stop_and_check(struct fr_outbox *ob, struct fake *f) {
    fr_outbox_stop(ob);
    assert_int_equal(f->outstanding, 0);   /* every claimed array released */
    assert_int_equal(f->claims, f->releases);
    assert_int_equal(f->violations, 0);
}

/* One delivery to the receiver's path (signed with SPEC_SECRET, and
 * secret1 when not NULL) through an outbox with this schedule and timeout;
 * waits (at most 8 s) for n results, stops, checks the source's contract,
 * and returns the delivery as the source has it. */
static struct fake_delivery deliver_one(const char *path, const char *secret1, const char *schedule,
                                        int64_t timeout_ms, int n) {
    struct fake f;
    char url[256];
    fake_init(&f, 1);
    url_of(url, sizeof url, path);
    fake_add(&f, 0, 1, url, "{\"n\":1}", SPEC_SECRET, secret1);
    struct fr_outbox_opts o = opts_for(schedule, timeout_ms);
    struct fr_outbox *ob = start(&o, &f);
    wait_results(&f, 0, n, 8000);
    rcv_sleep_ms(100);   /* nothing more comes after the n-th */
    struct fake_delivery d = fake_get(&f, 0);
    stop_and_check(ob, &f);
    fake_free(&f);
    return d;
}

/* ---- signing ---- */

static void test_sign_spec_vector(void **state) {
    (void)state;
    const char *const one[] = { SPEC_SECRET };
    const char *body = "{\"test\": 2432232314}";
    char sig[FR_WEBHOOK_SIGNATURE_MAX(2)];
    assert_int_equal(fr_webhook_sign(one, 1, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig, sizeof sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* the same secret without its prefix signs the same */
    const char *const bare[] = { SPEC_SECRET + 6 };
    assert_int_equal(fr_webhook_sign(bare, 1, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig, sizeof sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* two secrets: two entries, the first the same as alone */
    const char *const two[] = { SPEC_SECRET, secret_b };
    assert_int_equal(fr_webhook_sign(two, 2, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig, sizeof sig),
                     0);
    assert_int_equal(strlen(sig), 2 * FR_WEBHOOK_SIG_LEN + 1);
    assert_memory_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,",
                        FR_WEBHOOK_SIG_LEN + 4);
    struct receiver check = { .secrets = { SPEC_SECRET, secret_b } };
    int n_sigs = 0;
    assert_int_equal(rcv_verify(&check, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
                                strlen(body), sig, &n_sigs),
                     2);
    assert_int_equal(n_sigs, 2);
}

static void test_sign_bad_secrets(void **state) {
    (void)state;
    char sig[FR_WEBHOOK_SIGNATURE_MAX(2)];
    static const char *const bad[] = {
        "whsec_", "whsec_not base64!", "whsec_QUJD", /* 3 bytes: too short */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwX", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const one[] = { bad[i] };
        assert_int_equal(fr_webhook_sign(one, 1, "msg_1", 1, "{}", 2, sig, sizeof sig),
                         -FR_E_INVALID_ARGUMENT);
        assert_string_equal(sig, "");
        if (bad[i][6])
            assert_null(strstr(fr_err_detail(), bad[i] + 6)); /* the secret is never quoted */
    }
    const char *const good_then_bad[] = { SPEC_SECRET, NULL };
    assert_int_equal(fr_webhook_sign(good_then_bad, 2, "msg_1", 1, "{}", 2, sig, sizeof sig),
                     -FR_E_INVALID_ARGUMENT);
    const char *const one[] = { SPEC_SECRET };
    assert_int_equal(fr_webhook_sign(one, 0, "msg_1", 1, "{}", 2, sig, sizeof sig),
                     -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_webhook_sign(one, 1, "msg_1", 1, "{}", 2, sig, FR_WEBHOOK_SIG_LEN),
                     -FR_E_LIMIT_EXCEEDED);
    assert_int_equal(fr_webhook_sign(one, 1, "msg_1", 1, NULL, 0, sig, sizeof sig),
                     0); /* an empty body */
}

static void test_secret_new(void **state) {
    (void)state;
    char a[FR_WEBHOOK_SECRET_LEN + 1], b[FR_WEBHOOK_SECRET_LEN + 1];
    assert_int_equal(fr_webhook_secret_new(a), 0);
    assert_int_equal(fr_webhook_secret_new(b), 0);
    printf("%s\n", a);
    assert_int_equal(strlen(a), FR_WEBHOOK_SECRET_LEN);
    assert_memory_equal(a, "whsec_", 6);
    assert_string_not_equal(a, b);
    unsigned char key[96];
    assert_int_equal(rcv_secret_key(a, key), 32);   /* decodes to 32 bytes */
    const char *const one[] = { a };
    char sig[FR_WEBHOOK_SIGNATURE_MAX(1)];
    assert_int_equal(fr_webhook_sign(one, 1, "msg_1", 1, "{}", 2, sig, sizeof sig), 0);
}

/* ---- the schedule and the URL check ---- */

static void test_parse_schedule(void **state) {
    (void)state;
    struct fr_outbox_policy p;
    memset(&p, 0, sizeof p);
    assert_int_equal(
        fr_outbox_parse_schedule("0,5,300,1800,7200,18000,36000,50400,72000,86400", &p), 0);
    assert_int_equal(p.n, 10);
    assert_int_equal(p.seconds[0], 0);
    assert_int_equal(p.seconds[9], 86400);
    assert_int_equal(fr_outbox_parse_schedule(" 1 , 1,2 ", &p), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.seconds[1], 1);
    static const char *const bad[] = {
        "",
        "5,1",
        "-1",
        "1,,2",
        "1,",
        "a",
        "1.5",
        "0,31536001",
        "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fr_outbox_parse_schedule(bad[i], &p), -FR_E_VALIDATION_ERROR);
        assert_string_equal(fr_err_key(), "field");
        assert_string_equal(fr_err_value(), "FACEREC_WEBHOOK_SCHEDULE");
        assert_int_equal(p.n, 3);   /* unchanged */
    }
    printf("%s\n", fr_err_detail());
}

static void expect_refused(const char *url, int allow_private, const char *message_start) {
    char addr[64] = "x";
    int rc = fr_outbox_check_url(url, allow_private, "url", addr);
    printf("%-40s -> %s\n", url, rc < 0 ? fr_err_detail() : "ok");
    assert_int_equal(rc, -FR_E_VALIDATION_ERROR);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "url");
    assert_string_equal(addr, "");
    assert_memory_equal(fr_err_detail(), message_start, strlen(message_start));
}

static void test_check_url(void **state) {
    (void)state;
    char addr[64];
    /* syntax */
    expect_refused("ftp://93.184.216.34/x", 1, "the URL's scheme must be http or https");
    expect_refused("file:///etc/passwd", 1, "");
    expect_refused("gopher://93.184.216.34/", 1, "the URL's scheme must be http or https");
    expect_refused("http://user:pass@93.184.216.34/", 1, "the URL must not carry credentials");
    expect_refused("https://user@93.184.216.34/", 1, "the URL must not carry credentials");
    expect_refused("93.184.216.34/hook", 1, "");
    expect_refused("", 1, "the URL is empty");
    expect_refused("http://93.184.216.34:0/", 1, "");
    expect_refused("http://93.184.216.34:70000/", 1, "");
    expect_refused("http://b\xc3\xbc""cher.example/", 1, "");
    expect_refused("http://name.invalid/", 1, "cannot resolve host 'name.invalid'");
    /* non-public addresses, refused unless allowed */
    static const char *const private_urls[][2] = {
        {"http://127.0.0.1:8000/hook", "address refused: 127.0.0.1 is loopback"},
        {"http://127.1.2.3/", "address refused: 127.1.2.3 is loopback"},
        {"http://2130706433/", "address refused: 127.0.0.1 is loopback"},
        {"http://localhost/", "address refused: "},
        {"http://[::1]/", "address refused: ::1 is loopback"},
        {"http://10.0.0.7/", "address refused: 10.0.0.7 is private"},
        {"http://172.16.5.4/", "address refused: 172.16.5.4 is private"},
        {"http://192.168.1.1/", "address refused: 192.168.1.1 is private"},
        {"http://100.64.0.1/", "address refused: 100.64.0.1 is shared (carrier-grade NAT)"},
        {"http://169.254.169.254/latest/meta-data",
         "address refused: 169.254.169.254 is link-local"},
        {"http://0.0.0.0/", "address refused: 0.0.0.0 is unspecified"},
        {"http://[::]/", "address refused: :: is unspecified"},
        {"http://224.0.0.1/", "address refused: 224.0.0.1 is multicast"},
        {"http://255.255.255.255/", "address refused: 255.255.255.255 is broadcast"},
        {"http://192.0.2.10/", "address refused: 192.0.2.10 is documentation"},
        {"http://[fe80::1]/", "address refused: fe80::1 is link-local"},
        {"http://[fd00::1]/", "address refused: fd00::1 is private (unique local)"},
        {"http://[ff02::1]/", "address refused: ff02::1 is multicast"},
        {"http://[::ffff:127.0.0.1]/", "address refused: ::ffff:127.0.0.1 is loopback"},
        {"http://[::ffff:10.1.2.3]/", "address refused: ::ffff:10.1.2.3 is private"},
        {"http://[64:ff9b::a9fe:a9fe]/", "address refused: 64:ff9b::a9fe:a9fe is link-local"},
        {"http://[2002:c0a8:101::1]/", "address refused: 2002:c0a8:101::1 is private"},
        {"http://[2001:db8::1]/", "address refused: 2001:db8::1 is documentation"},
    };
    for (size_t i = 0; i < sizeof private_urls / sizeof private_urls[0]; i++) {
        expect_refused(private_urls[i][0], 0, private_urls[i][1]);
        if (strstr(private_urls[i][0], "localhost"))
            continue; /* may have no address on some hosts */
        assert_int_equal(fr_outbox_check_url(private_urls[i][0], 1, "url", addr), 0);
        assert_true(addr[0] != 0);
    }
    /* public addresses (numeric: no DNS needed) */
    assert_int_equal(fr_outbox_check_url("https://93.184.216.34/hook?x=1", 0, "url", addr), 0);
    assert_string_equal(addr, "93.184.216.34");
    assert_int_equal(
        fr_outbox_check_url("http://[2606:2800:220:1:248:1893:25c8:1946]:8443/", 0, "url", addr),
        0);
    assert_string_equal(addr, "2606:2800:220:1:248:1893:25c8:1946");
    assert_int_equal(fr_outbox_check_url("HTTP://8.8.8.8", 0, NULL, NULL), 0);
}

/* ---- deliveries ---- */

static void test_delivered(void **state) {
    (void)state;
    struct fr_metric *m;
    assert_int_equal(fr_metric_new("facerec_webhook_deliveries_total", "", FR_METRIC_COUNTER,
                                   "result", NULL, 0, &m),
                     0);
    const char *const delivered[] = { "delivered" };
    double before = fr_metric_value(m, delivered);
    struct fake f;
    char url[256];
    fake_init(&f, 2);
    url_of(url, sizeof url, "/r/200/delivered");
    fake_add(&f, 0, 1, url, "{\"type\":\"face.enrolled\"}", SPEC_SECRET, NULL);
    url_of(url, sizeof url, "/r/200/unsigned");
    fake_add(&f, 1, 2, url, "{}", NULL, NULL);
    struct fr_outbox_opts o = opts_for("0,1,2", 2000);
    double t0 = fr_time_ms();
    struct fr_outbox *ob = start(&o, &f);
    fr_outbox_wake(ob);
    struct fake_delivery d = wait_results(&f, 0, 1, 5000);
    double took = fr_time_ms() - t0;
    struct fake_delivery u = wait_results(&f, 1, 1, 5000);
    stop_and_check(ob, &f);
    printf("delivered in %.0f ms\n", took);
    assert_int_equal(d.state, FAKE_DELIVERED);
    assert_true(took < 1000);
    assert_int_equal(d.results[0].outcome, FR_OUTBOX_DELIVERED);
    assert_int_equal(d.results[0].status_code, 200);
    assert_int_equal(d.results[0].attempts, 1);
    assert_string_equal(d.results[0].error, "");
    assert_true(d.results[0].duration_ms >= 0 && d.results[0].duration_ms < 1000);
    struct rcv_request q;
    assert_int_equal(rcv_request_get(&rcv, "/r/200/delivered", 0, &q), 0);
    assert_string_equal(q.id, d.event_id);
    assert_string_equal(q.content_type, "application/json");
    assert_string_equal(q.user_agent, "facerec-webhooks/1");
    assert_true(llabs(q.timestamp - (long long)(fr_now_ms() / 1000)) <= 5);
    assert_int_equal(q.n_sigs, 1);
    assert_int_equal(q.n_valid, 1);
    assert_int_equal(q.body_len, strlen(d.body));
    assert_int_equal(u.state, FAKE_DELIVERED);
    assert_int_equal(rcv_request_get(&rcv, "/r/200/unsigned", 0, &q), 0);
    assert_int_equal(q.n_sigs, 0);   /* no secret: no signature header */
    assert_true(fr_metric_value(m, delivered) >= before + 2);
    fake_free(&f);
}

static void test_retried_until_delivered(void **state) {
    (void)state;
    struct fake_delivery d = deliver_one("/r/500,500,200/flaky", NULL, "0,1,2", 2000, 3);
    assert_int_equal(d.n_results, 3);
    assert_int_equal(d.state, FAKE_DELIVERED);
    assert_int_equal(d.results[0].outcome, FR_OUTBOX_RETRY);
    assert_int_equal(d.results[0].status_code, 500);
    assert_string_equal(d.results[0].error, "HTTP 500");
    assert_int_equal(d.results[0].next_attempt_at, d.created_at + 1000);   /* jitter 0 */
    assert_int_equal(d.results[1].outcome, FR_OUTBOX_RETRY);
    assert_int_equal(d.results[1].attempts, 2);
    assert_int_equal(d.results[1].next_attempt_at, d.created_at + 2000);
    assert_int_equal(d.results[2].outcome, FR_OUTBOX_DELIVERED);
    assert_int_equal(d.results[2].attempts, 3);
    struct rcv_request q[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rcv_request_get(&rcv, "/r/500,500,200/flaky", i, &q[i]), 0);
        assert_string_equal(q[i].id, d.event_id);   /* the same webhook-id on every attempt */
        assert_int_equal(q[i].n_valid, 1);          /* each signed afresh, with its own timestamp */
    }
    printf("attempts at +%lld, +%lld, +%lld ms\n", (long long)(q[0].at_ms - d.created_at),
           (long long)(q[1].at_ms - d.created_at), (long long)(q[2].at_ms - d.created_at));
    assert_true(q[1].at_ms >= d.created_at + 1000);
    assert_true(q[2].at_ms >= d.created_at + 2000);
}

static void test_timeout(void **state) {
    (void)state;
    struct fake_delivery d = deliver_one("/r/200:3000/slow", NULL, "0,60", 300, 1);
    assert_int_equal(d.results[0].outcome, FR_OUTBOX_RETRY);
    assert_int_equal(d.results[0].status_code, 0);
    assert_string_equal(d.results[0].error, "timeout after 300 ms");
    assert_true(d.results[0].duration_ms >= 250 && d.results[0].duration_ms < 2500);
    assert_true(d.results[0].next_attempt_at >= d.created_at + 60000 - 100);
}

static void test_gone(void **state) {
    (void)state;
    struct fake_delivery d = deliver_one("/r/410/gone", NULL, "0,1,2", 2000, 1);
    assert_int_equal(d.state, FAKE_GONE);
    assert_int_equal(d.n_results, 1);
    assert_int_equal(d.results[0].outcome, FR_OUTBOX_GONE);
    assert_int_equal(d.results[0].status_code, 410);
}

static void test_redirect_not_followed(void **state) {
    (void)state;
    struct fake_delivery d = deliver_one("/r/302/redir", NULL, "0,1", 2000, 2);
    assert_int_equal(d.results[0].outcome, FR_OUTBOX_RETRY);
    assert_int_equal(d.results[0].status_code, 302);
    assert_string_equal(d.results[0].error, "redirect not followed (302)");
    assert_int_equal(d.results[1].outcome, FR_OUTBOX_FAILED);   /* the last of 2 attempts */
    assert_int_equal(d.state, FAKE_FAILED);
    assert_int_equal(rcv_path_stats(&rcv, "/r/302/redir").hits, 2);
    assert_int_equal(rcv_path_stats(&rcv, "/target/redir").hits, 0);   /* Location never requested */
}

static void test_private_refused_unless_allowed(void **state) {
    (void)state;
    struct fake f;
    char url[256];
    fake_init(&f, 1);
    url_of(url, sizeof url, "/r/200/private");
    fake_add(&f, 0, 1, url, "{}", SPEC_SECRET, NULL);
    struct fr_outbox_opts o = opts_for("0,60", 2000);
    o.allow_private = 0;
    struct fr_outbox *ob = start(&o, &f);
    struct fake_delivery d = wait_results(&f, 0, 1, 5000);
    stop_and_check(ob, &f);
    assert_int_equal(d.results[0].outcome,
                     FR_OUTBOX_RETRY); /* the address may change: tried again */
    assert_int_equal(d.results[0].status_code, 0);
    assert_string_equal(d.results[0].error, "address refused: 127.0.0.1 is loopback");
    assert_int_equal(rcv_path_stats(&rcv, "/r/200/private").hits, 0);
    /* allowed: delivered (due again at once) */
    pthread_mutex_lock(&f.mu);
    f.d[0].next_at = fr_now_ms();
    pthread_mutex_unlock(&f.mu);
    o.allow_private = 1;
    ob = start(&o, &f);
    d = wait_results(&f, 0, 2, 5000);
    stop_and_check(ob, &f);
    assert_int_equal(d.state, FAKE_DELIVERED);
    assert_int_equal(d.results[1].attempts, 2);
    assert_int_equal(rcv_path_stats(&rcv, "/r/200/private").hits, 1);
    fake_free(&f);
}

/* A host name: resolved and checked on a resolver thread, then pinned
 * (CURLOPT_RESOLVE with every checked address: localhost may list ::1
 * first, where nothing listens). */
static void test_host_name_pinned(void **state) {
    (void)state;
    struct fake f;
    char url[256];
    fake_init(&f, 1);
    snprintf(url, sizeof url, "http://localhost:%d/r/200/byname", rcv.port);
    fake_add(&f, 0, 1, url, "{}", SPEC_SECRET, NULL);
    struct fr_outbox_opts o = opts_for("0,60", 2000);
    struct fr_outbox *ob = start(&o, &f);
    struct fake_delivery d = wait_results(&f, 0, 1, 5000);
    stop_and_check(ob, &f);
    printf("%s: %s\n", url, d.results[0].error);
    assert_int_equal(d.state, FAKE_DELIVERED);
    assert_int_equal(rcv_path_stats(&rcv, "/r/200/byname").hits, 1);
    fake_free(&f);
}

static void test_connection_errors(void **state) {
    (void)state;
    /* a port nobody listens on */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    struct fake f;
    char url[256];
    fake_init(&f, 4);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/closed", ntohs(a.sin_port));
    fake_add(&f, 0, 1, url, "{}", SPEC_SECRET, NULL);
    fake_add(&f, 1, 2, "ftp://127.0.0.1/x", "{}", SPEC_SECRET, NULL);
    fake_add(&f, 2, 3, "http://name.invalid/", "{}", SPEC_SECRET, NULL);
    url_of(url, sizeof url, "/r/200+b100000/big");   /* a large answer: read 4 KB, then cut */
    fake_add(&f, 3, 4, url, "{}", SPEC_SECRET, NULL);
    struct fr_outbox_opts o = opts_for("0,60", 2000);
    struct fr_outbox *ob = start(&o, &f);
    struct fake_delivery d[4];
    for (int i = 0; i < 4; i++) d[i] = wait_results(&f, i, 1, 5000);
    stop_and_check(ob, &f);
    for (int i = 0; i < 4; i++) printf("%s: %s\n", d[i].url, d[i].results[0].error);
    assert_string_equal(d[0].results[0].error, "connection refused");
    assert_int_equal(d[0].results[0].outcome, FR_OUTBOX_RETRY);
    assert_memory_equal(d[1].results[0].error, "the URL's scheme must be http or https", 38);
    /* without a reachable DNS server the lookup may outlast the attempt instead */
    assert_true(!strncmp(d[2].results[0].error, "cannot resolve host 'name.invalid'", 34) ||
                !strncmp(d[2].results[0].error, "timeout after 2000 ms (looking up the host)", 43));
    assert_int_equal(d[3].state, FAKE_DELIVERED);
    fake_free(&f);
}

/* 2 endpoints, 6 deliveries each, answered after 150 ms, per_endpoint 2. */
static void per_endpoint_case(bool spread) {
    struct fake f;
    char url[2][256], path[2][64];
    fake_init(&f, 12);
    f.spread = spread;
    for (int e = 0; e < 2; e++) {
        snprintf(path[e], sizeof path[e], "/r/200:150/ep%d%s", e, spread ? "s" : "p");
        url_of(url[e], sizeof url[e], path[e]);
    }
    for (int i = 0; i < 12; i++) fake_add(&f, i, 1 + i % 2, url[i % 2], "{}", SPEC_SECRET, NULL);
    struct fr_outbox_opts o = opts_for("0,60", 1000);
    o.per_endpoint = 2;
    o.max_in_flight = 16;
    o.lease_ms = 2500;   /* what is given back unsent comes back soon */
    if (spread) o.poll_ms = 1000;   /* a freed slot is claimed into at once, not at the poll */
    double t0 = fr_time_ms();
    struct fr_outbox *ob = start(&o, &f);
    for (int i = 0; i < 12; i++)
        assert_int_equal(wait_results(&f, i, 1, 10000).state, FAKE_DELIVERED);
    double took = fr_time_ms() - t0;
    stop_and_check(ob, &f);
    for (int e = 0; e < 2; e++) {
        struct rcv_path p = rcv_path_stats(&rcv, path[e]);
        printf("%s: claim%s, %d requests, at most %d at once, all in %.0f ms, %lld items claimed\n",
               path[e], spread ? "_spread" : "", p.hits, p.max_active, took, f.claimed);
        assert_int_equal(p.hits, 6);             /* each delivery sent once */
        assert_true(p.max_active <= 2);
        assert_true(p.max_active >= 1);
    }
    for (int i = 0; i < 12; i++) assert_int_equal(fake_get(&f, i).attempts, 1);
    if (spread) assert_true(took < 1800);   /* 3 rounds of 150 ms; waiting for the poll: > 2 s */
    fake_free(&f);
}

static void test_per_endpoint_limit(void **state) {
    (void)state;
    per_endpoint_case(true);
    per_endpoint_case(false);
}

static void test_two_secrets(void **state) {
    (void)state;
    struct fake_delivery d = deliver_one("/r/200/rotation", secret_b, "0,1", 2000, 1);
    assert_int_equal(d.state, FAKE_DELIVERED);
    struct rcv_request q;
    assert_int_equal(rcv_request_get(&rcv, "/r/200/rotation", 0, &q), 0);
    assert_int_equal(q.n_sigs, 2);
    assert_int_equal(q.n_valid, 2);   /* both verify, each with its own secret */
}

static void test_retry_after(void **state) {
    (void)state;
    struct fake f;
    char url[256];
    fake_init(&f, 3);
    url_of(url, sizeof url, "/r/429+ra3/busy");
    fake_add(&f, 0, 1, url, "{}", SPEC_SECRET, NULL);
    url_of(url, sizeof url, "/r/503+rd5/busydate");
    fake_add(&f, 1, 2, url, "{}", SPEC_SECRET, NULL);
    url_of(url, sizeof url, "/r/429+ra999999/busylong");
    fake_add(&f, 2, 3, url, "{}", SPEC_SECRET, NULL);
    struct fr_outbox_opts o = opts_for("0,1,2", 2000);
    struct fr_outbox *ob = start(&o, &f);
    struct fake_delivery d[3];
    for (int i = 0; i < 3; i++) d[i] = wait_results(&f, i, 1, 5000);
    stop_and_check(ob, &f);
    for (int i = 0; i < 3; i++) {
        const struct fr_outbox_result *r = &d[i].results[0];
        printf("%s: %s, next attempt in %lld ms\n", d[i].url, r->error,
               (long long)(r->next_attempt_at - r->attempted_at - (int64_t)r->duration_ms));
        assert_int_equal(r->outcome, FR_OUTBOX_RETRY);
    }
    assert_int_equal(d[0].results[0].status_code, 429);
    assert_true(d[0].results[0].next_attempt_at >=
                d[0].results[0].attempted_at + 3000); /* not the schedule's 1 s */
    assert_true(d[0].results[0].next_attempt_at <= d[0].results[0].attempted_at + 4000);
    assert_int_equal(d[1].results[0].status_code, 503);
    assert_true(d[1].results[0].next_attempt_at >=
                d[1].results[0].attempted_at + 3500); /* a date: whole seconds */
    assert_true(d[1].results[0].next_attempt_at <= d[1].results[0].attempted_at + 6500);
    int64_t capped = d[2].results[0].next_attempt_at - d[2].results[0].attempted_at;
    assert_true(capped >= 86400000 - 1000 && capped <= 86400000 + 5000);   /* capped at a day */
    fake_free(&f);
}

static void test_failed_after_last_attempt(void **state) {
    (void)state;
    struct fake_delivery d = deliver_one("/r/500/always", NULL, "0,0,0", 2000, 3);
    assert_int_equal(d.n_results, 3);   /* nothing after the last */
    assert_int_equal(d.results[0].outcome, FR_OUTBOX_RETRY);
    assert_int_equal(d.results[1].outcome, FR_OUTBOX_RETRY);
    assert_int_equal(d.results[2].outcome, FR_OUTBOX_FAILED);
    assert_int_equal(d.results[2].attempts, 3);
    assert_string_equal(d.results[2].error, "HTTP 500");
    assert_int_equal(d.state, FAKE_FAILED);
    assert_int_equal(rcv_path_stats(&rcv, "/r/500/always").hits, 3);
}

/* Stop while one attempt is in flight (answered after 700 ms), one waits for
 * its endpoint and one more was given back: the first is recorded, the
 * others are not attempted and keep their leases; nothing leaks. */
static void test_stop_in_flight(void **state) {
    (void)state;
    struct fake f;
    char url[256];
    fake_init(&f, 3);
    url_of(url, sizeof url, "/r/200:700/stopping");
    for (int i = 0; i < 3; i++) fake_add(&f, i, 1, url, "{}", SPEC_SECRET, NULL);
    struct fr_outbox_opts o = opts_for("0,1", 5000);
    o.per_endpoint = 1;
    struct fr_outbox *ob = start(&o, &f);
    for (int t = 0; t < 5000 && rcv_path_stats(&rcv, "/r/200:700/stopping").active < 1; t += 10)
        rcv_sleep_ms(10);
    double t0 = fr_time_ms();
    fr_outbox_stop(ob);
    double took = fr_time_ms() - t0;
    printf("stop took %.0f ms\n", took);
    assert_int_equal(f.outstanding, 0);
    assert_int_equal(f.violations, 0);
    assert_true(took < 5000);
    int delivered = 0, untouched = 0;
    for (int i = 0; i < 3; i++) {
        struct fake_delivery d = fake_get(&f, i);
        if (d.state == FAKE_DELIVERED) delivered++;
        if (d.state == FAKE_PENDING && d.attempts == 0 && d.n_results == 0 && d.lease_until > 0)
            untouched++;
    }
    assert_int_equal(delivered, 1);
    assert_int_equal(untouched, 2);
    assert_int_equal(rcv_path_stats(&rcv, "/r/200:700/stopping").hits, 1);
    fake_free(&f);
}

static void test_bad_options(void **state) {
    (void)state;
    struct fake f;
    fake_init(&f, 1);
    struct fr_outbox_source src = fake_source(&f);
    struct fr_outbox *ob = (struct fr_outbox *)&f;
    struct fr_outbox_opts o = opts_for("0,1", 1000);
    struct fr_outbox_opts bad = o;
    bad.policy.n = 0;
    assert_int_equal(fr_outbox_start(&bad, &src, &ob), -FR_E_INVALID_ARGUMENT);
    assert_null(ob);
    bad = o;
    bad.policy.timeout_ms = 0;
    assert_int_equal(fr_outbox_start(&bad, &src, &ob), -FR_E_INVALID_ARGUMENT);
    bad = o;
    bad.policy.seconds[1] = -5;
    assert_int_equal(fr_outbox_start(&bad, &src, &ob), -FR_E_INVALID_ARGUMENT);
    bad = o;
    bad.per_endpoint = 100;
    bad.max_in_flight = 10;
    assert_int_equal(fr_outbox_start(&bad, &src, &ob), -FR_E_INVALID_ARGUMENT);
    struct fr_outbox_source no_finish = src;
    no_finish.finish = NULL;
    assert_int_equal(fr_outbox_start(&o, &no_finish, &ob), -FR_E_INVALID_ARGUMENT);
    fr_outbox_stop(NULL);
    fr_outbox_wake(NULL);
    /* nothing due: starts, polls, stops */
    f.d[0].state = FAKE_DELIVERED;
    assert_int_equal(fr_outbox_start(&o, &src, &ob), 0);
    rcv_sleep_ms(120);
    stop_and_check(ob, &f);
    assert_true(f.claims >= 2);
    fake_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_spec_vector),
        cmocka_unit_test(test_sign_bad_secrets),
        cmocka_unit_test(test_secret_new),
        cmocka_unit_test(test_parse_schedule),
        cmocka_unit_test(test_check_url),
        cmocka_unit_test(test_delivered),
        cmocka_unit_test(test_retried_until_delivered),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_gone),
        cmocka_unit_test(test_redirect_not_followed),
        cmocka_unit_test(test_private_refused_unless_allowed),
        cmocka_unit_test(test_host_name_pinned),
        cmocka_unit_test(test_connection_errors),
        cmocka_unit_test(test_per_endpoint_limit),
        cmocka_unit_test(test_two_secrets),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_failed_after_last_attempt),
        cmocka_unit_test(test_stop_in_flight),
        cmocka_unit_test(test_bad_options),
    };
    fr_log_set_level(FR_LOG_WARN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
