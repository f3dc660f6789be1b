/* The HTTP server's connection table (src/http/conns.c) on socket pairs, as
 * libmicrohttpd would drive it: the request deadline (stopped while the
 * server works on the request), eviction near and past the limit (idle
 * kept-alive ones first, longest idle first; then late heads), the accept
 * policy, and the lingering close with its byte bound. */
#include "harness.h"

#include "facerec/base.h"
#include "http/conns.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct pair { int ours, peer; };

static struct pair new_pair(void) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct pair p = { sv[0], sv[1] };
    return p;
}

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* 1 when the peer sees the end of the stream within ms (our side was shut down). */
static int peer_sees_end(int peer, int ms) {
    struct pollfd p = { .fd = peer, .events = POLLIN };
    char b[64];
    return poll(&p, 1, ms) == 1 && recv(peer, b, sizeof b, MSG_DONTWAIT) == 0;
}

static void test_deadline(void **state) {
    (void)state;
    struct fr_conns *t;
    assert_int_equal(fr_conns_start(8, 200, 1 << 20, &t), 0);
    struct pair a = new_pair(), b = new_pair();
    struct fr_conn *ka = fr_conns_open(t, a.ours), *kb = fr_conns_open(t, b.ours);
    assert_non_null(ka);
    assert_non_null(kb);
    fr_conn_set_phase(t, kb, FR_CONN_BUSY);         /* the handler runs: no deadline */
    assert_false(fr_conn_expired(t, ka));
    sleep_ms(120);
    fr_conn_set_phase(t, ka, FR_CONN_BODY);         /* head → body keeps the request's clock */
    assert_true(peer_sees_end(a.peer, 2000));       /* cut at 200 ms (body: + the grace) */
    assert_false(peer_sees_end(b.peer, 300));
    struct fr_conns_stats st;
    fr_conns_get_stats(t, &st);
    assert_int_equal(st.cut, 1);
    assert_int_equal(st.open, 2);
    fr_conns_close(t, ka);                          /* cut: closed without lingering */
    fr_conns_close(t, kb);
    fr_conns_get_stats(t, &st);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.lingering, 0);
    close(a.ours), close(a.peer), close(b.ours), close(b.peer);
    fr_conns_stop(t);
}

/* A handler's time is the server's: in BUSY the request's clock stops, and
 * a body after the early handler has what was left of the deadline. */
static void test_busy_stops_clock(void **state) {
    (void)state;
    struct fr_conns *t;
    assert_int_equal(fr_conns_start(8, 400, 1 << 20, &t), 0);
    struct pair a = new_pair();
    struct fr_conn *k = fr_conns_open(t, a.ours);
    sleep_ms(100);                                  /* the head: 100 ms of the 400 */
    fr_conn_set_phase(t, k, FR_CONN_BUSY);          /* the early handler runs past the deadline... */
    assert_false(peer_sees_end(a.peer, 600));       /* ...and is not cut under it */
    fr_conn_set_phase(t, k, FR_CONN_BODY);          /* the body: about 300 ms left, not a new 400 */
    assert_false(fr_conn_expired(t, k));
    sleep_ms(350);                                  /* 450 ms of the client's: past it */
    assert_true(fr_conn_expired(t, k));
    assert_true(peer_sees_end(a.peer, 3000));       /* cut (body: + the grace) */
    struct fr_conns_stats st;
    fr_conns_get_stats(t, &st);
    assert_int_equal(st.cut, 1);
    fr_conns_close(t, k);
    close(a.ours), close(a.peer);
    fr_conns_stop(t);
}

static void test_limit(void **state) {
    (void)state;
    enum { MAX = 8 };
    struct fr_conns *t;
    assert_int_equal(fr_conns_start(MAX, 60000, 1 << 20, &t), 0);
    struct pair p[32];
    struct fr_conn *k[32];
    for (int i = 0; i < MAX; i++) {
        p[i] = new_pair();
        assert_true(fr_conns_admit(t));
        k[i] = fr_conns_open(t, p[i].ours);
        assert_false(k[i]->over_limit);
        fr_conn_set_phase(t, k[i], FR_CONN_BUSY);
    }
    fr_conn_set_phase(t, k[5], FR_CONN_IDLE);        /* idle longest */
    sleep_ms(20);
    fr_conn_set_phase(t, k[2], FR_CONN_IDLE);
    /* near the limit: the longest idle goes first, then the next */
    p[8] = new_pair();
    k[8] = fr_conns_open(t, p[8].ours);
    fr_conn_set_phase(t, k[8], FR_CONN_BUSY);
    assert_true(peer_sees_end(p[5].peer, 500));
    assert_false(peer_sees_end(p[2].peer, 50));
    assert_false(k[8]->over_limit);
    p[9] = new_pair();
    k[9] = fr_conns_open(t, p[9].ours);
    fr_conn_set_phase(t, k[9], FR_CONN_BUSY);
    assert_true(peer_sees_end(p[2].peer, 500));
    /* past it, nothing idle and no late head: over the limit (answered 503) */
    p[10] = new_pair();
    k[10] = fr_conns_open(t, p[10].ours);
    assert_true(k[10]->over_limit);
    /* a head arriving for over a second gives way to a new client */
    fr_conn_set_phase(t, k[0], FR_CONN_IDLE);
    fr_conn_set_phase(t, k[0], FR_CONN_HEAD);       /* its next request began */
    fr_conn_set_phase(t, k[10], FR_CONN_BUSY);
    fr_conns_close(t, k[10]);
    close(p[10].ours);
    close(p[10].peer);
    sleep_ms(FR_CONNS_SLOW_HEAD_MS + 50);
    p[11] = new_pair();
    k[11] = fr_conns_open(t, p[11].ours);
    fr_conn_set_phase(t, k[11], FR_CONN_BUSY);
    assert_false(k[11]->over_limit);
    assert_true(peer_sees_end(p[0].peer, 500));
    /* the accept policy: up to max + max/4 (at least 8) live ones, then closed at once */
    int n = 0;
    for (int i = 12; i < 32; i++) {
        if (!fr_conns_admit(t)) break;
        p[i] = new_pair();
        k[i] = fr_conns_open(t, p[i].ours);
        fr_conn_set_phase(t, k[i], FR_CONN_BUSY);
        n = i + 1;
    }
    struct fr_conns_stats st;
    fr_conns_get_stats(t, &st);
    printf("limit %d: evicted %lld, over the limit %lld, refused %lld, %d open\n", MAX, st.evicted, st.over_limit,
           st.refused, st.open);
    assert_int_equal(st.evicted, 3);
    assert_true(st.refused >= 1);
    assert_true(st.open - 3 >= MAX + 8 - 1 && st.open - 3 <= MAX + 8);
    for (int i = 0; i < n; i++) {
        if (i == 10) continue;
        fr_conns_close(t, k[i]);
        close(p[i].ours);
        close(p[i].peer);
    }
    fr_conns_get_stats(t, &st);
    assert_int_equal(st.open, 0);
    fr_conns_stop(t);
}

static void test_linger(void **state) {
    (void)state;
    struct fr_conns *t;
    assert_int_equal(fr_conns_start(8, 60000, 100000, &t), 0);
    /* answered early: at close the socket stays open and is read away, so
     * the client's sending succeeds; it ends when the client closes */
    struct pair a = new_pair();
    struct fr_conn *k = fr_conns_open(t, a.ours);
    k->linger = 1;
    fr_conns_close(t, k);
    close(a.ours);                                  /* libmicrohttpd closes its descriptor */
    char buf[8192];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 8; i++) assert_int_equal(send(a.peer, buf, sizeof buf, MSG_NOSIGNAL), (ssize_t)sizeof buf);
    struct fr_conns_stats st;
    fr_conns_get_stats(t, &st);
    assert_int_equal(st.lingering, 1);
    close(a.peer);
    for (int i = 0; i < 100 && st.lingering; i++) {
        sleep_ms(10);
        fr_conns_get_stats(t, &st);
    }
    assert_int_equal(st.lingering, 0);
    /* a client that keeps sending: read away up to the bound, then closed */
    struct pair b = new_pair();
    k = fr_conns_open(t, b.ours);
    k->linger = 1;
    fr_conns_close(t, k);
    close(b.ours);
    fcntl(b.peer, F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    int err = 0;
    double t0 = fr_time_ms();
    while (!err && fr_time_ms() - t0 < 5000 && sent < ((size_t)32 << 20)) {
        ssize_t w = send(b.peer, buf, sizeof buf, MSG_NOSIGNAL);
        if (w > 0) sent += (size_t)w;
        else if (errno == EAGAIN) sleep_ms(1);
        else err = errno;
    }
    printf("lingering: the client could send %zu bytes, then errno %d\n", sent, err);
    assert_true(err == EPIPE || err == ECONNRESET);
    assert_true(sent >= 100000 && sent < ((size_t)4 << 20));
    close(b.peer);
    /* idle and finished: no lingering */
    struct pair c = new_pair();
    k = fr_conns_open(t, c.ours);
    fr_conn_set_phase(t, k, FR_CONN_BUSY);
    fr_conn_set_phase(t, k, FR_CONN_IDLE);
    fr_conns_close(t, k);
    fr_conns_get_stats(t, &st);
    assert_int_equal(st.lingering, 0);
    assert_int_equal(st.lingered, 2);
    close(c.ours);
    close(c.peer);
    fr_conns_stop(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_busy_stops_clock),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_linger),
    };
    return cmocka_run_group_tests_name("http_conns", tests, NULL, NULL);
}
