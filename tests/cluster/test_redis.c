/* The Redis layer (src/cluster/redis.h) against a real redis-server started
 * here (tests/cluster/redis_fixture.h): URL parsing (a table of good URLs, a
 * table of bad ones and random mutations, every refusal a VALIDATION_ERROR
 * naming FACEREC_REDIS_URL); connecting with AUTH and SELECT over TCP and a
 * unix socket; INFO; exact shared limits from 4 threads with 4 clients; the
 * shared windows answering field for field like the per-node limiter;
 * EVALSHA falling back to EVAL after SCRIPT FLUSH; leases (exclusive, renew
 * and release only by the owner, expiry); the node registry (expiry, pick);
 * and faults: a frozen server (SIGSTOP) fails calls within the command
 * timeout, a killed one (SIGKILL) is SERVICE_UNAVAILABLE at once during the
 * back-off, one warning per outage, and a restarted one is used again by the
 * same client. Skipped (with a message) when redis-server is not installed. */
#include "harness.h"

#include "cluster/redis.h"
#include "facerec/base.h"
#include "facerec/metrics.h"
#include "http/ratelimit.h"
#include "http/ratelimit_shared.h"
#include "redis_fixture.h"

#include <pthread.h>
#include <stdatomic.h>

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define T0 1699999200000LL          /* on a 15-minute boundary */

static struct redis_server srv;     /* the group's server, password "s3cret" */
static int have_server;
static unsigned prefix_seq;

/* A client of the group's server with its own key prefix (tests do not see
 * each other's keys). */
static struct fr_redis *client(int db, const struct fr_redis_opts *o) {
    char url[512], prefix[64];
    redis_server_url(&srv, db, url, sizeof url);
    struct fr_redis_opts opts = o ? *o : (struct fr_redis_opts){ 0 };
    if (!opts.prefix) {   /* only the main thread comes here */
        snprintf(prefix, sizeof prefix, "t%u-%d:", ++prefix_seq, (int)getpid());
        opts.prefix = prefix;
    }
    struct fr_redis *r = NULL;
    assert_int_equal(fr_redis_open(url, &opts, &r), 0);
    return r;
}

/* A server of the test's own (to freeze, kill and restart) and a client of it. */
static struct fr_redis *own_server(struct redis_server *own, struct fr_redis_opts o) {
    assert_int_equal(redis_server_start(own, NULL), 0);
    char url[256];
    redis_server_url(own, 0, url, sizeof url);
    struct fr_redis *r = NULL;
    assert_int_equal(fr_redis_open(url, &o, &r), 0);
    return r;
}

#define NEED_SERVER() do { if (!have_server) { skip(); } } while (0)

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    fr_log_set_level(FR_LOG_ERROR);
    if (!redis_server_found()) return 0;
    if (redis_server_start(&srv, "s3cret") < 0) return -1;
    have_server = 1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (have_server) redis_server_cleanup(&srv);
    return 0;
}

/* ---- URLs ---- */

static void test_url_good(void **state) {
    (void)state;
    static const struct {
        const char *url;
        int unix_socket;
        const char *host, *path, *user, *password;
        int port, db;
    } good[] = {
        { "redis://localhost", 0, "localhost", "", "", "", 6379, 0 },
        { "redis://127.0.0.1:6380", 0, "127.0.0.1", "", "", "", 6380, 0 },
        { "redis://127.0.0.1:6380/", 0, "127.0.0.1", "", "", "", 6380, 0 },
        { "redis://redis.internal:7000/3", 0, "redis.internal", "", "", "", 7000, 3 },
        { "redis://:pw@h:1/15", 0, "h", "", "", "pw", 1, 15 },
        { "redis://app:p%40ss%3Aw@h/2", 0, "h", "", "app", "p@ss:w", 6379, 2 },
        { "redis://:a@b@h", 0, "h", "", "", "a@b", 6379, 0 },
        { "redis://[::1]:6390/1", 0, "::1", "", "", "", 6390, 1 },
        { "redis://[::1]", 0, "::1", "", "", "", 6379, 0 },
        { "unix:///run/redis/redis.sock", 1, "", "/run/redis/redis.sock", "", "", 0, 0 },
        { "unix:///tmp/r.sock?db=4", 1, "", "/tmp/r.sock", "", "", 0, 4 },
        { "unix:///tmp/r.sock?db=4&password=x%20y", 1, "", "/tmp/r.sock", "", "x y", 0, 4 },
        { "unix://:pw@/tmp/r.sock?db=1", 1, "", "/tmp/r.sock", "", "pw", 0, 1 },
        { "unix://u:pw@/tmp/r.sock", 1, "", "/tmp/r.sock", "u", "pw", 0, 0 },
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct fr_redis_url u;
        int rc = fr_redis_url_parse(good[i].url, &u);
        if (rc < 0) fail_msg("%s: %s", good[i].url, fr_err_detail());
        assert_int_equal(u.unix_socket, good[i].unix_socket);
        assert_string_equal(u.host, good[i].host);
        assert_string_equal(u.path, good[i].path);
        assert_string_equal(u.user, good[i].user);
        assert_string_equal(u.password, good[i].password);
        assert_int_equal(u.port, good[i].port);
        assert_int_equal(u.db, good[i].db);
    }
}

static void expect_bad(const char *url) {
    struct fr_redis_url u;
    int rc = fr_redis_url_parse(url, &u);
    if (rc != -FR_E_VALIDATION_ERROR) fail_msg("accepted or wrong code for \"%s\": %d", url, rc);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "FACEREC_REDIS_URL");
    assert_non_null(strstr(fr_err_detail(), "FACEREC_REDIS_URL"));
    assert_int_equal(u.port, 0);    /* nothing half-parsed left behind */
    assert_string_equal(u.password, "");
}

static void test_url_bad(void **state) {
    (void)state;
    static const char *const bad[] = {
        "", "redis", "redis:/h", "http://h:6379", "REDIS://h", "rediss://h:6380", "redis://", "redis://:6379",
        "redis://h:", "redis://h:0", "redis://h:65536", "redis://h:99999999999", "redis://h:-1", "redis://h:6x",
        "redis://h:6379/x", "redis://h/-1", "redis://h/1/2", "redis://h/1x", "redis://h/99999999999",
        "redis://h?db=1", "redis://h#frag", "redis://h x", "redis://h\tx", "redis://h\n", "redis://ho$t",
        "redis://[::1", "redis://[]:1", "redis://[::1]x", "redis://[::g]", "redis://pw@h", "redis://:@h",
        "redis://:%zz@h", "redis://:%4@h", "redis://:%00@h", "redis://u%@h", "unix://", "unix:///",
        "unix://relative/path", "unix://tmp/x.sock", "unix:///x.sock?db=", "unix:///x.sock?db=a",
        "unix:///x.sock?db=1&db=2", "unix:///x.sock?foo=1", "unix:///x.sock?password=", "unix:///x.sock#f",
        "unix://pw@/x.sock", "unix://:pw@/x.sock?password=other", "unix:///x.sock?db=1&",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_bad(bad[i]);
    /* limits: host, socket path, password, the whole URL */
    char big[2048];
    snprintf(big, sizeof big, "redis://%0300d:1", 0);
    expect_bad(big);
    snprintf(big, sizeof big, "unix:///%0120d", 0);
    expect_bad(big);
    snprintf(big, sizeof big, "redis://:%0300d@h", 0);
    expect_bad(big);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "redis://", 8);
    expect_bad(big);
    /* fr_redis_open refuses the same way, and bad options too */
    struct fr_redis *r = (struct fr_redis *)(uintptr_t)1;
    assert_int_equal(fr_redis_open("redis://h:0", NULL, &r), -FR_E_VALIDATION_ERROR);
    assert_null(r);
    assert_string_equal(fr_err_value(), "FACEREC_REDIS_URL");
    assert_int_equal(fr_redis_open(NULL, NULL, &r), -FR_E_VALIDATION_ERROR);
    struct fr_redis_opts o = { .pool_size = 65 };
    assert_int_equal(fr_redis_open("redis://h", &o, &r), -FR_E_INVALID_ARGUMENT);
    o = (struct fr_redis_opts){ .command_timeout_ms = -1 };
    assert_int_equal(fr_redis_open("redis://h", &o, &r), -FR_E_INVALID_ARGUMENT);
}

/* Random byte edits of good URLs: never a crash; a refusal is always a
 * VALIDATION_ERROR naming the field; an acceptance is in range. */
static void test_url_mutations(void **state) {
    (void)state;
    static const char *const seeds[] = { "redis://:pw@127.0.0.1:6379/2", "unix://:pw@/tmp/r.sock?db=3&password=x",
                                         "redis://[::1]:7000/1" };
    static const char alphabet[] = "redis:/unix?&=@[]%0123456789abcdefgh.-_# \x01\x7f\xff";
    uint64_t rng = 12;
    int accepted = 0, refused = 0;
    for (int it = 0; it < 20000; it++) {
        char buf[96];
        const char *seed = seeds[fr_test_rng(&rng) % 3];
        snprintf(buf, sizeof buf, "%s", seed);
        int edits = 1 + (int)(fr_test_rng(&rng) % 3);
        for (int e = 0; e < edits; e++) {
            size_t n = strlen(buf);
            size_t at = n ? fr_test_rng(&rng) % n : 0;
            char c = alphabet[fr_test_rng(&rng) % (sizeof alphabet - 1)];
            switch (fr_test_rng(&rng) % 3) {
            case 0: buf[at] = c; break;                                    /* replace */
            case 1: memmove(buf + at, buf + at + 1, n - at); break;        /* delete */
            default:                                                       /* insert */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at + 1);
                    buf[at] = c;
                }
            }
        }
        struct fr_redis_url u;
        int rc = fr_redis_url_parse(buf, &u);
        if (rc == 0) {
            accepted++;
            if (u.unix_socket) assert_true(u.path[0] == '/' && strlen(u.path) > 1);
            else assert_true(u.port >= 1 && u.port <= 65535 && u.host[0]);
            assert_true(u.db >= 0);
        } else {
            refused++;
            if (rc != -FR_E_VALIDATION_ERROR) fail_msg("\"%s\": %d", buf, rc);
            assert_string_equal(fr_err_value(), "FACEREC_REDIS_URL");
        }
    }
    assert_true(accepted > 100 && refused > 100);
}

/* ---- connecting ---- */

static void test_connect_auth_select(void **state) {
    (void)state;
    NEED_SERVER();
    /* the right password, db 3: a lease lands in db 3 */
    struct fr_redis *r = client(3, NULL);
    assert_int_equal(fr_redis_ping(r), 0);
    assert_true(fr_redis_up(r));
    assert_int_equal(fr_redis_lease_acquire(r, "db-probe", "n1", 60000), 0);
    redisContext *raw = redis_server_raw(&srv, 3);
    assert_non_null(raw);
    redisReply *rep = redisCommand(raw, "KEYS *lease:db-probe");
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 1);
    freeReplyObject(rep);
    redisFree(raw);
    raw = redis_server_raw(&srv, 0);
    rep = redisCommand(raw, "KEYS *lease:db-probe");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    redisFree(raw);

    struct fr_redis_info info;
    assert_int_equal(fr_redis_info(r, &info), 0);
    assert_int_equal(info.version[0], '7');
    assert_true(info.used_memory > 0);
    assert_true(info.connected_clients >= 1);
    assert_int_equal(info.pool_open, 1);
    assert_int_equal(info.pool_size, 4);
    char where[64];
    snprintf(where, sizeof where, "redis://127.0.0.1:%d/3", srv.port);
    assert_string_equal(fr_redis_where(r), where);
    fr_redis_close(r);

    /* the unix socket, password in the query */
    char url[512];
    snprintf(url, sizeof url, "unix://%s?db=2&password=%s", srv.sock, srv.password);
    assert_int_equal(fr_redis_open(url, NULL, &r), 0);
    assert_int_equal(fr_redis_ping(r), 0);
    assert_null(strstr(fr_redis_where(r), srv.password));
    fr_redis_close(r);

    /* a wrong password, no password, a database that does not exist: every
     * one SERVICE_UNAVAILABLE, saying why, never showing the password */
    snprintf(url, sizeof url, "redis://:wrong-pass@127.0.0.1:%d/0", srv.port);
    assert_int_equal(fr_redis_open(url, NULL, &r), 0);
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(fr_err_detail(), "AUTH refused"));
    assert_null(strstr(fr_err_detail(), "wrong-pass"));
    assert_false(fr_redis_up(r));
    fr_redis_close(r);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv.port);
    assert_int_equal(fr_redis_open(url, NULL, &r), 0);
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(fr_err_detail(), "NOAUTH"));
    fr_redis_close(r);
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/999", srv.password, srv.port);
    assert_int_equal(fr_redis_open(url, NULL, &r), 0);
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(fr_err_detail(), "SELECT 999 refused"));
    fr_redis_close(r);

    /* nothing listening: refused at once */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rtsp_free_port());
    assert_int_equal(fr_redis_open(url, NULL, &r), 0);
    double t = fr_time_ms();
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    assert_true(fr_time_ms() - t < 500);
    assert_non_null(strstr(fr_err_detail(), "connect"));
    fr_redis_close(r);
}

/* ---- shared rate limits ---- */

struct limit_arg {
    int64_t client, per_hour, per_day;
    int calls;
    int admitted, refused, other;
    int64_t max_retry_after, min_retry_after;
};

static void *limit_worker(void *p) {
    struct limit_arg *a = p;
    struct fr_redis *r = client(0, &(struct fr_redis_opts){ .prefix = "shared-limit:", .pool_size = 1 });
    a->min_retry_after = INT64_MAX;
    for (int i = 0; i < a->calls; i++) {
        struct fr_redis_limit lim;
        int rc = fr_redis_ratelimit_check(r, a->client, a->per_hour, a->per_day, FR_REDIS_SERVER_TIME, &lim);
        if (rc == 0) a->admitted++;
        else if (rc == -FR_E_RATE_LIMITED) {
            a->refused++;
            if (lim.retry_after > a->max_retry_after) a->max_retry_after = lim.retry_after;
            if (lim.retry_after < a->min_retry_after) a->min_retry_after = lim.retry_after;
        } else a->other++;
    }
    fr_redis_close(r);
    return NULL;
}

static void run_limit(int64_t client, int64_t per_hour, int64_t per_day, int calls_each, int expect) {
    pthread_t th[4];
    struct limit_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct limit_arg){ .client = client, .per_hour = per_hour, .per_day = per_day, .calls = calls_each };
        assert_int_equal(pthread_create(&th[i], NULL, limit_worker, &a[i]), 0);
    }
    int admitted = 0, refused = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        admitted += a[i].admitted;
        refused += a[i].refused;
        assert_int_equal(a[i].other, 0);
        if (a[i].refused) {
            assert_true(a[i].min_retry_after >= 1);
            /* the hour frees room within 61 minutes, the day within a day and 15 minutes */
            assert_true(a[i].max_retry_after <= (per_day ? 87300 : 3660));
        }
    }
    assert_int_equal(admitted, expect);
    assert_int_equal(refused, 4 * calls_each - expect);
}

static void test_shared_limit_threads(void **state) {
    (void)state;
    NEED_SERVER();
    run_limit(101, 50, 0, 40, 50);         /* 160 tries, 50 an hour: exactly 50 */
    run_limit(102, 0, 37, 25, 37);         /* the day window alone */
    run_limit(103, 1000, 20, 10, 20);      /* both: the day binds */
    /* and afterwards one more is refused, naming the window, Retry-After sane */
    struct fr_redis *r = client(0, &(struct fr_redis_opts){ .prefix = "shared-limit:" });
    struct fr_redis_limit lim;
    assert_int_equal(fr_redis_ratelimit_check(r, 101, 50, 0, FR_REDIS_SERVER_TIME, &lim), -FR_E_RATE_LIMITED);
    assert_int_equal(lim.window, 1);
    assert_int_equal(lim.limit, 50);
    assert_int_equal(lim.remaining, 0);
    assert_true(lim.retry_after >= 3540 && lim.retry_after <= 3660);
    assert_true(lim.reset * 1000 > fr_now_ms());
    assert_int_equal(fr_redis_ratelimit_check(r, 103, 1000, 20, FR_REDIS_SERVER_TIME, &lim), -FR_E_RATE_LIMITED);
    assert_int_equal(lim.window, 2);
    /* forgetting a client frees it */
    assert_int_equal(fr_redis_ratelimit_forget(r, 101), 0);
    assert_int_equal(fr_redis_ratelimit_check(r, 101, 50, 0, FR_REDIS_SERVER_TIME, &lim), 0);
    assert_int_equal(lim.remaining, 49);
    assert_int_equal(fr_redis_ratelimit_check(r, 101, -1, 0, FR_REDIS_SERVER_TIME, &lim), -FR_E_INVALID_ARGUMENT);
    fr_redis_close(r);
}

/* The shared windows and the per-node limiter, fed the same times and
 * limits, answer the same, field for field (synthetic time, some of it
 * stepping back). */
static void test_shared_matches_local(void **state) {
    (void)state;
    NEED_SERVER();
    struct fr_redis *r = client(0, NULL);
    struct fr_ratelimit *rl;
    assert_int_equal(fr_ratelimit_new(0, &rl), 0);
    uint64_t rng = 7;
    static const int64_t limits[][2] = { { 5, 20 }, { 3, 0 }, { 0, 4 }, { 0, 0 }, { 10, 12 } };
    for (int client_id = 0; client_id < 5; client_id++) {
        int64_t t = T0 + (int64_t)(fr_test_rng(&rng) % HOUR_MS);
        int64_t ph = limits[client_id][0], pd = limits[client_id][1];
        for (int i = 0; i < 120; i++) {
            uint64_t x = fr_test_rng(&rng) % 100;
            if (x < 50) t += (int64_t)(fr_test_rng(&rng) % (2 * MIN_MS));
            else if (x < 80) t += (int64_t)(fr_test_rng(&rng) % (30 * MIN_MS));
            else if (x < 95) t += 0;
            else t -= (int64_t)(fr_test_rng(&rng) % (5 * MIN_MS));   /* the clock steps back */
            struct fr_ratelimit_info a;
            struct fr_redis_limit b;
            int ra = fr_ratelimit_check(rl, client_id, ph, pd, t, &a);
            int rb = fr_redis_ratelimit_check(r, client_id, ph, pd, t, &b);
            if (ra != rb || a.limit != b.limit || a.remaining != b.remaining || a.reset != b.reset ||
                a.retry_after != b.retry_after || (int)a.window != b.window)
                fail_msg("client %d step %d t=%lld: local rc %d %lld/%lld/%lld/%lld/%d, shared rc %d "
                         "%lld/%lld/%lld/%lld/%d", client_id, i, (long long)t, ra, (long long)a.limit,
                         (long long)a.remaining, (long long)a.reset, (long long)a.retry_after, (int)a.window, rb,
                         (long long)b.limit, (long long)b.remaining, (long long)b.reset, (long long)b.retry_after,
                         b.window);
        }
    }
    fr_ratelimit_free(rl);
    fr_redis_close(r);
}

/* EVALSHA meets NOSCRIPT after SCRIPT FLUSH: the script is sent whole. */
static void test_noscript_fallback(void **state) {
    (void)state;
    NEED_SERVER();
    struct fr_redis *r = client(0, NULL);
    assert_int_equal(fr_redis_ratelimit_check(r, 1, 10, 0, FR_REDIS_SERVER_TIME, NULL), 0);
    redisContext *raw = redis_server_raw(&srv, 0);
    freeReplyObject(redisCommand(raw, "SCRIPT FLUSH"));
    redisFree(raw);
    struct fr_redis_limit lim;
    assert_int_equal(fr_redis_ratelimit_check(r, 1, 10, 0, FR_REDIS_SERVER_TIME, &lim), 0);
    assert_int_equal(lim.remaining, 8);
    assert_int_equal(fr_redis_lease_acquire(r, "ns", "a", 10000), 0);
    assert_int_equal(fr_redis_lease_renew(r, "ns", "a", 10000), 0);
    fr_redis_close(r);
}

static void test_fallback_limit(void **state) {
    (void)state;
    assert_int_equal(fr_redis_fallback_limit(0, 3), 0);       /* unlimited stays unlimited */
    assert_int_equal(fr_redis_fallback_limit(100, 3), 33);    /* never more than the limit together */
    assert_int_equal(fr_redis_fallback_limit(100, 1), 100);
    assert_int_equal(fr_redis_fallback_limit(100, 0), 100);
    assert_int_equal(fr_redis_fallback_limit(2, 3), 1);       /* at least one, never 0 (= unlimited) */
    assert_int_equal(fr_redis_fallback_limit(-5, 3), 0);
}

/* The node's limiter: shared while Redis is up (its own windows counting
 * along), limit / live nodes from its own windows while Redis is down, shared
 * again once Redis is back. */
static void test_shared_fallback(void **state) {
    (void)state;
    NEED_SERVER();
    struct redis_server own;
    struct fr_redis *r = own_server(&own, (struct fr_redis_opts){ .backoff_ms = 200 });
    struct fr_ratelimit *local;
    assert_int_equal(fr_ratelimit_new(0, &local), 0);
    struct fr_metric *fallbacks;
    assert_int_equal(fr_metric_new("facerec_ratelimit_fallback_total",
                                   "Rate-limit decisions made by the node's own windows because Redis was down.",
                                   FR_METRIC_COUNTER, NULL, NULL, 0, &fallbacks), 0);
    double f0 = fr_metric_value(fallbacks, NULL);
    /* two live nodes in the registry */
    struct fr_redis_node a = { .id = "a", .addr = "127.0.0.1:1", .max_sessions = 1 };
    struct fr_redis_node b = { .id = "b", .addr = "127.0.0.1:2", .max_sessions = 1 };
    assert_int_equal(fr_redis_node_beat(r, &a, 60000), 0);
    assert_int_equal(fr_redis_node_beat(r, &b, 60000), 0);
    assert_int_equal(fr_redis_live_nodes(r), 2);
    /* up: the shared windows answer; another node's requests count too */
    struct fr_ratelimit_info info;
    int64_t now = fr_now_ms();
    for (int i = 0; i < 3; i++) assert_int_equal(fr_ratelimit_shared_check(r, local, 5, 10, 0, now, &info), 0);
    assert_int_equal(info.remaining, 7);
    assert_int_equal(info.window, FR_RATELIMIT_HOUR);
    assert_int_equal(fr_redis_ratelimit_check(r, 5, 10, 0, FR_REDIS_SERVER_TIME, NULL), 0);   /* "node b" */
    assert_int_equal(fr_ratelimit_shared_check(r, local, 5, 10, 0, now, &info), 0);
    assert_int_equal(info.remaining, 5);
    assert_true(fr_metric_value(fallbacks, NULL) == f0);
    /* down: this node's own windows with 10 / 2 = 5; it has admitted 4 */
    redis_server_stop(&own, SIGKILL);
    assert_int_equal(fr_ratelimit_shared_check(r, local, 5, 10, 0, now, &info), 0);
    assert_int_equal(info.limit, 5);
    assert_int_equal(info.remaining, 0);
    assert_int_equal(fr_ratelimit_shared_check(r, local, 5, 10, 0, now, &info), -FR_E_RATE_LIMITED);
    assert_true(info.retry_after >= 1);
    assert_int_equal(fr_ratelimit_shared_check(r, local, 6, 0, 3, now, &info), 0);   /* the day: 3 / 2 = 1 */
    assert_int_equal(fr_ratelimit_shared_check(r, local, 6, 0, 3, now, &info), -FR_E_RATE_LIMITED);
    assert_int_equal(fr_ratelimit_shared_check(r, local, 7, 0, 0, now, &info), 0);   /* unlimited stays so */
    assert_true(fr_metric_value(fallbacks, NULL) == f0 + 5);
    /* back (an empty Redis): shared again */
    assert_int_equal(redis_server_restart(&own), 0);
    usleep(250 * 1000);
    assert_int_equal(fr_ratelimit_shared_check(r, local, 5, 10, 0, now, &info), 0);
    assert_int_equal(info.remaining, 9);
    assert_true(fr_metric_value(fallbacks, NULL) == f0 + 5);
    /* no Redis configured: the node's own windows, full limits */
    assert_int_equal(fr_ratelimit_shared_check(NULL, local, 8, 2, 0, now, &info), 0);
    assert_int_equal(info.limit, 2);
    fr_ratelimit_free(local);
    fr_redis_close(r);
    redis_server_cleanup(&own);
}

/* ---- leases ---- */

static void test_leases(void **state) {
    (void)state;
    NEED_SERVER();
    struct fr_redis *a = client(0, NULL);
    char owner[64];
    int64_t ttl;
    assert_int_equal(fr_redis_lease_owner(a, "s1", owner, sizeof owner, &ttl), -FR_E_NOT_FOUND);
    assert_string_equal(owner, "");
    assert_int_equal(fr_redis_lease_acquire(a, "s1", "node-a", 10000), 0);
    assert_int_equal(fr_redis_lease_acquire(a, "s1", "node-b", 10000), -FR_E_CONFLICT);
    assert_int_equal(fr_redis_lease_acquire(a, "s1", "node-a", 10000), -FR_E_CONFLICT);   /* renew instead */
    assert_int_equal(fr_redis_lease_owner(a, "s1", owner, sizeof owner, &ttl), 0);
    assert_string_equal(owner, "node-a");
    assert_true(ttl > 9000 && ttl <= 10000);
    /* renew: only the owner */
    assert_int_equal(fr_redis_lease_renew(a, "s1", "node-b", 60000), -FR_E_CONFLICT);
    assert_int_equal(fr_redis_lease_owner(a, "s1", owner, sizeof owner, &ttl), 0);
    assert_true(ttl <= 10000);
    assert_int_equal(fr_redis_lease_renew(a, "s1", "node-a", 60000), 0);
    assert_int_equal(fr_redis_lease_owner(a, "s1", owner, sizeof owner, &ttl), 0);
    assert_true(ttl > 59000);
    /* release: only the owner */
    assert_int_equal(fr_redis_lease_release(a, "s1", "node-b"), -FR_E_CONFLICT);
    assert_int_equal(fr_redis_lease_owner(a, "s1", owner, sizeof owner, NULL), 0);
    assert_string_equal(owner, "node-a");
    assert_int_equal(fr_redis_lease_release(a, "s1", "node-a"), 0);
    assert_int_equal(fr_redis_lease_release(a, "s1", "node-a"), -FR_E_CONFLICT);
    assert_int_equal(fr_redis_lease_owner(a, "s1", owner, sizeof owner, NULL), -FR_E_NOT_FOUND);
    /* expiry: a lease not renewed within its TTL is free, the old owner can
     * neither renew nor release the new owner's lease */
    assert_int_equal(fr_redis_lease_acquire(a, "s2", "node-a", 200), 0);
    usleep(350 * 1000);
    assert_int_equal(fr_redis_lease_owner(a, "s2", owner, sizeof owner, NULL), -FR_E_NOT_FOUND);
    assert_int_equal(fr_redis_lease_acquire(a, "s2", "node-b", 10000), 0);
    assert_int_equal(fr_redis_lease_renew(a, "s2", "node-a", 10000), -FR_E_CONFLICT);
    assert_int_equal(fr_redis_lease_release(a, "s2", "node-a"), -FR_E_CONFLICT);
    assert_int_equal(fr_redis_lease_owner(a, "s2", owner, sizeof owner, NULL), 0);
    assert_string_equal(owner, "node-b");
    /* arguments */
    assert_int_equal(fr_redis_lease_acquire(a, "", "n", 1000), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_redis_lease_acquire(a, "k", "", 1000), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_redis_lease_acquire(a, "k", "n", 0), -FR_E_INVALID_ARGUMENT);
    fr_redis_close(a);
}

/* Many nodes race for one lease: exactly one wins. */
struct race_arg { const char *node; int won; };

static void *race_worker(void *p) {
    struct race_arg *a = p;
    struct fr_redis *r = client(0, &(struct fr_redis_opts){ .prefix = "race:", .pool_size = 1 });
    a->won = fr_redis_lease_acquire(r, "contested", a->node, 30000) == 0;
    fr_redis_close(r);
    return NULL;
}

static void test_lease_race(void **state) {
    (void)state;
    NEED_SERVER();
    static const char *const nodes[] = { "n1", "n2", "n3", "n4" };
    pthread_t th[4];
    struct race_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct race_arg){ nodes[i], 0 };
        pthread_create(&th[i], NULL, race_worker, &a[i]);
    }
    int wins = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        wins += a[i].won;
    }
    assert_int_equal(wins, 1);
}

/* ---- the node registry ---- */

static void test_registry(void **state) {
    (void)state;
    NEED_SERVER();
    struct fr_redis *r = client(0, NULL);
    struct fr_redis_node *nodes;
    size_t n;
    assert_int_equal(fr_redis_nodes_list(r, &nodes, &n), 0);
    assert_int_equal(n, 0);
    assert_null(nodes);
    struct fr_redis_node b = { .id = "node-b", .addr = "127.0.0.1:8002", .running = 1, .max_sessions = 4,
                               .started_at_ms = 1700000000123LL };
    struct fr_redis_node a = { .id = "node-a", .addr = "127.0.0.1:8001", .running = 3, .max_sessions = 4,
                               .started_at_ms = 1700000000000LL };
    assert_int_equal(fr_redis_node_beat(r, &b, 400), 0);
    assert_int_equal(fr_redis_node_beat(r, &a, 10000), 0);
    assert_int_equal(fr_redis_live_nodes(r), 2);
    assert_int_equal(fr_redis_nodes_list(r, &nodes, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(nodes[0].id, "node-a");
    assert_string_equal(nodes[0].addr, "127.0.0.1:8001");
    assert_int_equal(nodes[0].running, 3);
    assert_int_equal(nodes[0].max_sessions, 4);
    assert_int_equal(nodes[0].started_at_ms, 1700000000000LL);
    assert_true(nodes[0].expires_in_ms > 9000 && nodes[0].expires_in_ms <= 10000);
    assert_string_equal(nodes[1].id, "node-b");
    assert_int_equal(nodes[1].started_at_ms, 1700000000123LL);
    assert_int_equal(fr_redis_nodes_pick(nodes, n), 1);   /* b has 3 free, a 1 */
    fr_free(nodes);
    /* b stops beating: gone after its TTL */
    usleep(600 * 1000);
    assert_int_equal(fr_redis_nodes_list(r, &nodes, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(nodes[0].id, "node-a");
    assert_int_equal(fr_redis_live_nodes(r), 1);
    fr_free(nodes);
    /* a beat refreshes the card */
    a.running = 0;
    assert_int_equal(fr_redis_node_beat(r, &a, 10000), 0);
    assert_int_equal(fr_redis_nodes_list(r, &nodes, &n), 0);
    assert_int_equal(nodes[0].running, 0);
    fr_free(nodes);
    /* leaving removes it at once */
    assert_int_equal(fr_redis_node_leave(r, "node-a"), 0);
    assert_int_equal(fr_redis_nodes_list(r, &nodes, &n), 0);
    assert_int_equal(n, 0);
    fr_redis_close(r);
}

static void test_nodes_pick(void **state) {
    (void)state;
    struct fr_redis_node n[4] = {
        { .id = "c", .running = 2, .max_sessions = 4 },   /* 2 free */
        { .id = "b", .running = 0, .max_sessions = 2 },   /* 2 free, fewer running: wins the tie */
        { .id = "a", .running = 4, .max_sessions = 4 },   /* full */
        { .id = "d", .running = 5, .max_sessions = 4 },   /* over */
    };
    assert_int_equal(fr_redis_nodes_pick(n, 4), 1);
    n[1].running = 2;                                      /* 0 free now */
    assert_int_equal(fr_redis_nodes_pick(n, 4), 0);
    n[1] = (struct fr_redis_node){ .id = "a0", .running = 2, .max_sessions = 4 };   /* same room and load: smaller id */
    assert_int_equal(fr_redis_nodes_pick(n, 4), 1);
    assert_int_equal(fr_redis_nodes_pick(n + 2, 2), -1);
    assert_int_equal(fr_redis_nodes_pick(NULL, 0), -1);
}

/* ---- faults ---- */

/* Counts lines containing needle in a file. */
static int count_in_file(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static void test_faults(void **state) {
    (void)state;
    NEED_SERVER();
    struct redis_server own;
    struct fr_redis *r = own_server(&own, (struct fr_redis_opts){ .connect_timeout_ms = 300,
                                                                  .command_timeout_ms = 400, .backoff_ms = 250 });
    struct fr_metric *errors;
    assert_int_equal(fr_metric_new("facerec_redis_errors_total",
                                   "Redis calls that failed (connection, timeout or refused), by operation.",
                                   FR_METRIC_COUNTER, "op", NULL, 0, &errors), 0);
    const char *ping_label[] = { "ping" };
    double errors0 = fr_metric_value(errors, ping_label);
    /* the log goes to a file for this test */
    char logpath[128];
    snprintf(logpath, sizeof logpath, "%s/client.log", own.dir);
    fflush(stderr);
    int saved = dup(2);
    int lf = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && lf >= 0);
    dup2(lf, 2);
    close(lf);
    fr_log_set_level(FR_LOG_INFO);

    assert_int_equal(fr_redis_ping(r), 0);
    assert_int_equal(fr_redis_ratelimit_check(r, 9, 100, 0, FR_REDIS_SERVER_TIME, NULL), 0);

    /* frozen: the call fails within the command timeout (400 ms) */
    redis_server_signal(&own, SIGSTOP);
    double t = fr_time_ms();
    int rc = fr_redis_ratelimit_check(r, 9, 100, 0, FR_REDIS_SERVER_TIME, NULL);
    double took = fr_time_ms() - t;
    assert_int_equal(rc, -FR_E_SERVICE_UNAVAILABLE);
    assert_true(took >= 350 && took < 400 + 300);
    assert_non_null(strstr(fr_err_detail(), "command timeout"));
    assert_false(fr_redis_up(r));
    /* during the back-off every call fails at once, without the network */
    t = fr_time_ms();
    for (int i = 0; i < 100; i++) assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    assert_true(fr_time_ms() - t < 50);
    assert_non_null(strstr(fr_err_detail(), "is down"));
    /* after it, one probe (a fresh connection to a frozen server: its
     * command times out too), then the back-off again */
    usleep(300 * 1000);
    t = fr_time_ms();
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    took = fr_time_ms() - t;
    assert_true(took < 300 + 400 + 300);
    /* thawed: back after the back-off, the same client */
    redis_server_signal(&own, SIGCONT);
    usleep(300 * 1000);
    assert_int_equal(fr_redis_ping(r), 0);
    assert_true(fr_redis_up(r));

    /* killed: SERVICE_UNAVAILABLE for every kind of call */
    redis_server_stop(&own, SIGKILL);
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);
    assert_int_equal(fr_redis_ratelimit_check(r, 9, 100, 0, FR_REDIS_SERVER_TIME, NULL), -FR_E_SERVICE_UNAVAILABLE);
    assert_int_equal(fr_redis_lease_acquire(r, "k", "n", 1000), -FR_E_SERVICE_UNAVAILABLE);
    struct fr_redis_node *nodes = NULL;
    size_t n = 0;
    assert_int_equal(fr_redis_nodes_list(r, &nodes, &n), -FR_E_SERVICE_UNAVAILABLE);
    struct fr_redis_info info;
    assert_int_equal(fr_redis_info(r, &info), -FR_E_SERVICE_UNAVAILABLE);
    usleep(300 * 1000);
    t = fr_time_ms();
    assert_int_equal(fr_redis_ping(r), -FR_E_SERVICE_UNAVAILABLE);   /* refused: fast */
    assert_true(fr_time_ms() - t < 300);
    assert_non_null(strstr(fr_err_detail(), "connect"));
    assert_true(fr_metric_value(errors, ping_label) >= errors0 + 100 + 3);   /* fast failures count too */

    /* restarted (empty: no scripts, no windows): the same client recovers */
    assert_int_equal(redis_server_restart(&own), 0);
    usleep(300 * 1000);
    assert_int_equal(fr_redis_ping(r), 0);
    struct fr_redis_limit lim;
    assert_int_equal(fr_redis_ratelimit_check(r, 9, 100, 0, FR_REDIS_SERVER_TIME, &lim), 0);
    assert_int_equal(lim.remaining, 99);
    assert_int_equal(fr_redis_lease_acquire(r, "k", "n", 1000), 0);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fr_log_set_level(FR_LOG_ERROR);
    /* two outages (frozen, killed), one warning each; two recoveries */
    assert_int_equal(count_in_file(logpath, "is unreachable"), 2);
    assert_int_equal(count_in_file(logpath, "is back after"), 2);
    unlink(logpath);
    fr_redis_close(r);
    redis_server_cleanup(&own);
}

/* Many threads on one client (a pool of 2) while the server is killed and
 * restarted: no call hangs past its bound, every answer is 0 or
 * SERVICE_UNAVAILABLE, and all succeed again at the end. */
struct storm_arg { struct fr_redis *r; atomic_int *stop; int ok, down, other; double worst_ms; };

static void *storm_worker(void *p) {
    struct storm_arg *a = p;
    while (!atomic_load(a->stop)) {
        double t = fr_time_ms();
        int rc = fr_redis_ratelimit_check(a->r, 77, 0, 0, FR_REDIS_SERVER_TIME, NULL);
        double took = fr_time_ms() - t;
        if (took > a->worst_ms) a->worst_ms = took;
        if (rc == 0) a->ok++;
        else if (rc == -FR_E_SERVICE_UNAVAILABLE) a->down++;
        else a->other++;
        usleep(2000);
    }
    return NULL;
}

static void test_pool_storm(void **state) {
    (void)state;
    NEED_SERVER();
    struct redis_server own;
    struct fr_redis *r = own_server(&own, (struct fr_redis_opts){ .connect_timeout_ms = 300, .command_timeout_ms = 400,
                                                                  .backoff_ms = 200, .pool_size = 2 });
    atomic_int stop = 0;
    pthread_t th[6];
    struct storm_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (struct storm_arg){ .r = r, .stop = &stop };
        pthread_create(&th[i], NULL, storm_worker, &a[i]);
    }
    usleep(200 * 1000);
    redis_server_stop(&own, SIGKILL);
    usleep(500 * 1000);
    assert_int_equal(redis_server_restart(&own), 0);
    usleep(600 * 1000);
    atomic_store(&stop, 1);
    int ok = 0, down = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].ok;
        down += a[i].down;
        assert_int_equal(a[i].other, 0);
        assert_true(a[i].worst_ms < 300 + 2 * 400 + 300);
    }
    assert_true(ok > 0 && down > 0);
    assert_int_equal(fr_redis_ping(r), 0);
    fr_redis_close(r);
    redis_server_cleanup(&own);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_url_mutations),
        cmocka_unit_test(test_fallback_limit),
        cmocka_unit_test(test_nodes_pick),
        cmocka_unit_test(test_connect_auth_select),
        cmocka_unit_test(test_shared_limit_threads),
        cmocka_unit_test(test_shared_matches_local),
        cmocka_unit_test(test_noscript_fallback),
        cmocka_unit_test(test_shared_fallback),
        cmocka_unit_test(test_leases),
        cmocka_unit_test(test_lease_race),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_pool_storm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
