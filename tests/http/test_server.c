/* The HTTP server (src/http/server.c) on loopback with handlers of its own:
 * a handler, or an early handler, slower than the request deadline still
 * has its answer delivered. The deadline is the client's (a request that
 * trickles in); the time a handler takes is the server's and never cuts the
 * connection under it. */
#include "harness.h"

#include "facerec/base.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 200

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ?ms=N: sleeps N ms, then answers 200 "done" (with the body's length). */
static void handler(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp) {
    (void)ctx;
    const char *ms = fr_http_query(req, "ms");
    if (ms) sleep_ms(atoi(ms));
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = fr_malloc(64);
    if (resp->body) resp->len = (size_t)snprintf(resp->body, 64, "done %zu", req->body_len);
}

/* X-Early-Ms: N: sleeps N ms before the body is read, and lets it in. */
static void early(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp) {
    (void)ctx;
    (void)resp;
    const char *ms = fr_http_header(req, "X-Early-Ms");
    if (ms) sleep_ms(atoi(ms));
}

/* Sends rq on a new connection and reads until the server closes (at most
 * 5 s); returns the answer's status (0: closed with no status line, -1: no
 * end within the limit) and copies the answer's start into out. */
static int exchange(int port, const char *rq, char *out, size_t len) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(fd, rq, strlen(rq), MSG_NOSIGNAL), (ssize_t)strlen(rq));
    size_t n = 0;
    int end = 0;
    double t0 = fr_time_ms();
    out[0] = 0;
    while (!end && fr_time_ms() - t0 < 5000) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) != 1) continue;
        char b[1024];
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r > 0 && n + 1 < len) {
            size_t c = (size_t)r < len - 1 - n ? (size_t)r : len - 1 - n;
            memcpy(out + n, b, c);
            n += c;
            out[n] = 0;
        }
        end = r == 0 || (r < 0 && errno != EINTR);
    }
    close(fd);
    int st = 0;
    if (!end) return -1;
    if (sscanf(out, "HTTP/1.1 %d", &st) != 1) st = 0;
    return st;
}

static void test_slow_handler(void **state) {
    (void)state;
    struct fr_http_opts o = { .host = "127.0.0.1", .threads = 2, .max_body = 1 << 20,
                              .request_timeout_ms = TIMEOUT_MS, .handler = handler, .early = early };
    struct fr_http_server *s;
    assert_int_equal(fr_http_start(&o, &s), 0);
    int port = fr_http_port(s);
    struct { const char *what, *rq, *want; } cases[] = {
        /* the head is in: without a body the deadline is the head's (200 ms) */
        { "GET, handler 3 x the deadline",
          "GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "done 0" },
        /* with a body: the body's deadline is the head's plus a grace of 1 s */
        { "POST, handler past the deadline and its grace",
          "POST /slow?ms=1600 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", "done 5" },
        /* the early handler runs before the body is read */
        { "POST, early handler 3 x the deadline",
          "POST /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Early-Ms: 600\r\nContent-Length: 5\r\n\r\nhello",
          "done 5" },
        { "GET, a fresh connection after them",
          "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "done 0" },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[2048];
        double t0 = fr_time_ms();
        int st = exchange(port, cases[i].rq, got, sizeof got);
        int whole = st == 200 && strstr(got, cases[i].want) != NULL;
        printf("%-46s → %d in %.0f ms%s\n", cases[i].what, st, fr_time_ms() - t0, whole ? "" : " (no whole answer)");
        bad += !whole;
    }
    fr_http_stop(s, 1000);
    assert_int_equal(bad, 0);
}

/* The deadline still holds for the client: a head that stops coming is cut. */
static void test_slow_client_cut(void **state) {
    (void)state;
    struct fr_http_opts o = { .host = "127.0.0.1", .threads = 1, .max_body = 1 << 20,
                              .request_timeout_ms = TIMEOUT_MS, .handler = handler };
    struct fr_http_server *s;
    assert_int_equal(fr_http_start(&o, &s), 0);
    char got[256];
    double t0 = fr_time_ms();
    int st = exchange(fr_http_port(s), "GET /fast HTTP/1.1\r\nHost: x\r\n", got, sizeof got);
    double ms = fr_time_ms() - t0;
    printf("a head that stops coming: %d after %.0f ms\n", st, ms);
    assert_int_equal(st, 0);
    assert_true(ms >= TIMEOUT_MS && ms < 3000);
    fr_http_stop(s, 1000);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_handler),
        cmocka_unit_test(test_slow_client_cut),
    };
    return cmocka_run_group_tests_name("http_server", tests, NULL, NULL);
}
