/* The outbox's test fixtures, shared by tests/jobs/test_outbox.c and
 * bench/outbox_bench.c: a real HTTP/1.1 receiver on 127.0.0.1 and a fake
 * in-memory source of deliveries.
 *
 * The receiver: one accepting thread and one thread per connection
 * (keep-alive, as libcurl reuses connections), every thread joined at
 * rcv_stop; every wait polls in steps of at most 20 ms and watches the stop
 * flag, so nothing blocks for long. It answers by a script in the path:
 *     /r/<step>,<step>,.../<name>
 * where the n-th request to that path takes the n-th step (the last one
 * repeats) and a step is <status>[:<delay ms>][+ra<s>][+rd<s>][+b<bytes>]:
 * Retry-After in seconds, or as an HTTP date s seconds ahead, and a body of
 * that many bytes. A 3xx answers Location: /target/<name> on the same
 * receiver. Per path it counts the requests, those in progress and the most
 * in progress at once; each request's webhook headers are logged and its
 * webhook-signature is checked against the receiver's secrets with its own
 * HMAC-SHA256 (OpenSSL HMAC(), not fr_webhook_sign).
 *
 * The fake source: deliveries in an array, claimed with a lease exactly as
 * the contract of struct fr_outbox_source says (due, not leased, at most
 * max; claim_spread also at most per_endpoint per endpoint and none of the
 * skipped), finished with checks of what the dispatcher must respect
 * (attempts counted by one, the lease still held), and every claimed array
 * released once. */
#ifndef FR_TEST_OUTBOX_FIXTURE_H
#define FR_TEST_OUTBOX_FIXTURE_H

#include "facerec/base.h"
#include "jobs/outbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the receiver ---- */

#define RCV_CONNS   256
#define RCV_PATHS   256
#define RCV_LOG     512
#define RCV_HEAD    16384
#define RCV_BODY    65536

struct rcv_request {                /* one request, as received */
    char path[128];
    char id[128];                   /* webhook-id */
    long long timestamp;            /* webhook-timestamp; -1 when absent */
    char content_type[64], user_agent[64];
    int n_sigs, n_valid;            /* webhook-signature entries, those that verified */
    int64_t at_ms;                  /* unix ms when its head was read */
    size_t body_len;
    char seen_at[40];               /* a session recognition callback's "seen_at", else "" */
    char decided_at[40];            /* and its "decided_at" */
};

struct rcv_path {
    char path[128];
    int hits, active, max_active;
};

struct rcv_conn {
    pthread_t th;
    int fd;
    bool used;
    atomic_int done;
    struct receiver *r;
};

struct receiver {
    int fd, port;
    pthread_t acceptor;
    atomic_int stop;
    pthread_mutex_t mu;
    const char *secrets[2];         /* checked against; NULL: none */
    struct rcv_conn conns[RCV_CONNS];
    struct rcv_path paths[RCV_PATHS];
    int n_paths;
    struct rcv_request log[RCV_LOG];
    int n_log;
    long long total;                /* requests answered */
    int connections;                /* accepted in all */
};

static inline void rcv_sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Its own base64 decoding of a "whsec_" secret; the key length or -1. */
static inline int rcv_secret_key(const char *secret, unsigned char key[96]) {
    unsigned char text[132];
    if (!strncmp(secret, "whsec_", 6)) secret += 6;
    size_t n = strlen(secret);
    if (n == 0 || n > 128) return -1;
    memcpy(text, secret, n);
    while (n % 4) text[n++] = '=';
    int len = EVP_DecodeBlock(key, text, (int)n);
    if (len < 0) return -1;
    for (size_t i = n; i > 0 && text[i - 1] == '='; i--) len--;
    return len;
}

/* How many "v1,<b64>" entries of sig_header verify with some secret. */
static inline int rcv_verify(const struct receiver *r, const char *id, const char *ts,
                             const char *body, size_t len, const char *sig_header, int *n_sigs) {
    size_t mlen = strlen(id) + strlen(ts) + len + 2;
    char *msg = malloc(mlen + 1);
    int valid = 0;
    *n_sigs = 0;
    if (!msg) return 0;
    int off = snprintf(msg, mlen + 1, "%s.%s.", id, ts);
    memcpy(msg + off, body, len);
    char expect[2][64] = { "", "" };
    for (int k = 0; k < 2; k++) {
        unsigned char key[96], md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        int kl = r->secrets[k] ? rcv_secret_key(r->secrets[k], key) : -1;
        if (kl > 0 && HMAC(EVP_sha256(), key, kl, (const unsigned char *)msg, mlen, md, &md_len))
            EVP_EncodeBlock((unsigned char *)expect[k], md, (int)md_len);
    }
    free(msg);
    for (const char *p = sig_header; *p;) {
        size_t l = strcspn(p, " ");
        if (l) {
            ++*n_sigs;
            for (int k = 0; k < 2; k++)
                if (expect[k][0] && l == 3 + strlen(expect[k]) && !strncmp(p, "v1,", 3) &&
                    !strncmp(p + 3, expect[k], l - 3)) {
                    valid++;
                    break;
                }
        }
        p += l;
        while (*p == ' ') p++;
    }
    return valid;
}

static inline struct rcv_path *rcv_path_get(struct receiver *r, const char *path) {   /* under mu */
    for (int i = 0; i < r->n_paths; i++)
        if (!strcmp(r->paths[i].path, path)) return &r->paths[i];
    if (r->n_paths == RCV_PATHS) return &r->paths[RCV_PATHS - 1];
    struct rcv_path *p = &r->paths[r->n_paths++];
    snprintf(p->path, sizeof p->path, "%.127s", path);
    return p;
}

/* The step for the hit-th request (from 1) of a /r/ path. */
struct rcv_step {
    int status, delay_ms, retry_after, retry_date, body;
};

static inline struct rcv_step rcv_script(const char *path, int hit) {
    struct rcv_step st = { 200, 0, -1, -1, 0 };
    if (strncmp(path, "/r/", 3) != 0) return st;
    const char *p = path + 3, *end = strchr(p, '/');
    if (!end) end = p + strlen(p);
    for (int i = 1; p < end; i++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        struct rcv_step s = { atoi(p), 0, -1, -1, 0 };
        for (const char *q = p; q < stop; q++) {
            if (*q == ':') s.delay_ms = atoi(q + 1);
            else if (*q == '+' && q[1] == 'r' && q[2] == 'a') s.retry_after = atoi(q + 3);
            else if (*q == '+' && q[1] == 'r' && q[2] == 'd') s.retry_date = atoi(q + 3);
            else if (*q == '+' && q[1] == 'b') s.body = atoi(q + 2);
        }
        st = s;
        if (i == hit || !comma) break;
        p = comma + 1;
    }
    return st;
}

static inline int rcv_send_all(int fd, const char *buf, size_t len) {
    while (len) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads into buf[*have..cap) until it holds need bytes or "\r\n\r\n" (need
 * 0); 0, or -1 on EOF, error, stop or a full buffer. */
static inline int rcv_read(struct receiver *r, int fd, char *buf, size_t cap, size_t *have,
                           size_t need) {
    for (;;) {
        if (need ? *have >= need : (*have >= 4 && memmem(buf, *have, "\r\n\r\n", 4))) return 0;
        if (*have == cap || atomic_load(&r->stop)) return -1;
        struct pollfd pf = { fd, POLLIN, 0 };
        int pr = poll(&pf, 1, 20);
        if (pr < 0 && errno != EINTR) return -1;
        if (pr <= 0) continue;
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n <= 0) return -1;
        *have += (size_t)n;
    }
}

static inline void rcv_header(const char *head, const char *name, char *out, size_t len) {
    size_t nl = strlen(name);
    out[0] = 0;
    for (const char *p = strstr(head, "\r\n"); p && p[2] && p[2] != '\r';
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            size_t vl = strcspn(v, "\r");
            snprintf(out, len, "%.*s", (int)vl, v);
            return;
        }
    }
}

static inline void *rcv_conn_main(void *arg) {
    struct rcv_conn *c = arg;
    struct receiver *r = c->r;
    char *buf = malloc(RCV_HEAD + RCV_BODY);
    size_t have = 0;
    while (buf && !atomic_load(&r->stop)) {
        if (rcv_read(r, c->fd, buf, RCV_HEAD, &have, 0) < 0) break;
        char *eoh = memmem(buf, have, "\r\n\r\n", 4);
        size_t head_len = (size_t)(eoh - buf) + 4;
        char head[RCV_HEAD + 1], value[512], path[128] = "", id[128], ts[32], sig[512], cl[32];
        memcpy(head, buf, head_len);
        head[head_len] = 0;
        sscanf(head, "%*s %127s", path);
        rcv_header(head, "content-length", cl, sizeof cl);
        size_t body_len = (size_t)atol(cl);
        if (body_len > RCV_BODY - 1) break;
        if (rcv_read(r, c->fd, buf, RCV_HEAD + RCV_BODY, &have, head_len + body_len) < 0) break;
        const char *body = buf + head_len;
        rcv_header(head, "webhook-id", id, sizeof id);
        rcv_header(head, "webhook-timestamp", ts, sizeof ts);
        rcv_header(head, "webhook-signature", sig, sizeof sig);
        int n_sigs = 0, n_valid = rcv_verify(r, id, ts, body, body_len, sig, &n_sigs);

        pthread_mutex_lock(&r->mu);
        struct rcv_path *p = rcv_path_get(r, path);
        int hit = ++p->hits;
        if (++p->active > p->max_active) p->max_active = p->active;
        if (r->n_log < RCV_LOG) {
            struct rcv_request *q = &r->log[r->n_log++];
            memset(q, 0, sizeof *q);
            snprintf(q->path, sizeof q->path, "%.127s", path);
            snprintf(q->id, sizeof q->id, "%.127s", id);
            q->timestamp = ts[0] ? atoll(ts) : -1;
            rcv_header(head, "content-type", value, sizeof value);
            snprintf(q->content_type, sizeof q->content_type, "%.63s", value);
            rcv_header(head, "user-agent", value, sizeof value);
            snprintf(q->user_agent, sizeof q->user_agent, "%.63s", value);
            q->n_sigs = n_sigs;
            q->n_valid = n_valid;
            q->at_ms = fr_now_ms();
            q->body_len = body_len;
            const char *sa = memmem(body, body_len, "\"seen_at\":\"", 11);
            if (sa && (size_t)(body + body_len - sa) > 11 + 24) snprintf(q->seen_at, sizeof q->seen_at, "%.24s", sa + 11);
            const char *da = memmem(body, body_len, "\"decided_at\":\"", 14);
            if (da && (size_t)(body + body_len - da) > 14 + 24)
                snprintf(q->decided_at, sizeof q->decided_at, "%.24s", da + 14);
        }
        pthread_mutex_unlock(&r->mu);

        struct rcv_step st = rcv_script(path, hit);
        for (int waited = 0; waited < st.delay_ms && !atomic_load(&r->stop); waited += 10)
            rcv_sleep_ms(10);
        char extra[256] = "";
        size_t xl = 0;
        if (st.status >= 300 && st.status < 400) {
            const char *name = strrchr(path, '/');
            xl += (size_t)snprintf(extra + xl, sizeof extra - xl,
                                   "Location: http://127.0.0.1:%d/target%s\r\n", r->port,
                                   name ? name : "/");
        }
        if (st.retry_after >= 0)
            xl += (size_t)snprintf(extra + xl, sizeof extra - xl, "Retry-After: %d\r\n",
                                   st.retry_after);
        if (st.retry_date >= 0) {
            time_t t = time(NULL) + st.retry_date;
            struct tm tm;
            char date[64];
            gmtime_r(&t, &tm);
            strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
            xl += (size_t)snprintf(extra + xl, sizeof extra - xl, "Retry-After: %s\r\n", date);
        }
        char resp[512];
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d Scripted\r\nContent-Length: %d\r\n%s\r\n",
                         st.status, st.body, extra);
        int bad = rcv_send_all(c->fd, resp, (size_t)n);
        for (int sent = 0; !bad && sent < st.body; sent += 512) {
            char chunk[512];
            memset(chunk, 'x', sizeof chunk);
            bad = rcv_send_all(c->fd, chunk, (size_t)(st.body - sent < 512 ? st.body - sent : 512));
        }
        pthread_mutex_lock(&r->mu);
        p->active--;
        r->total++;
        pthread_mutex_unlock(&r->mu);
        if (bad) break;
        memmove(buf, buf + head_len + body_len, have - head_len - body_len);
        have -= head_len + body_len;
    }
    free(buf);
    close(c->fd);
    atomic_store(&c->done, 1);
    return NULL;
}

static inline void rcv_reap(struct receiver *r, bool all) {
    for (int i = 0; i < RCV_CONNS; i++) {
        struct rcv_conn *c = &r->conns[i];
        if (c->used && (all || atomic_load(&c->done))) {
            pthread_join(c->th, NULL);
            c->used = false;
        }
    }
}

static inline void *rcv_accept_main(void *arg) {
    struct receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd pf = { r->fd, POLLIN, 0 };
        if (poll(&pf, 1, 20) <= 0) continue;
        int fd = accept(r->fd, NULL, NULL);
        if (fd < 0) continue;
        rcv_reap(r, false);
        struct rcv_conn *c = NULL;
        for (int i = 0; i < RCV_CONNS && !c; i++)
            if (!r->conns[i].used) c = &r->conns[i];
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->r = r;
        c->used = true;
        atomic_store(&c->done, 0);
        pthread_mutex_lock(&r->mu);
        r->connections++;
        pthread_mutex_unlock(&r->mu);
        if (pthread_create(&c->th, NULL, rcv_conn_main, c) != 0) {
            close(fd);
            c->used = false;
        }
    }
    rcv_reap(r, true);
    return NULL;
}

/* Listens on 127.0.0.1:<ephemeral>; r->port. 0 or -1. */
static inline int rcv_start(struct receiver *r, const char *secret0, const char *secret1) {
    memset(r, 0, sizeof *r);
    r->secrets[0] = secret0;
    r->secrets[1] = secret1;
    pthread_mutex_init(&r->mu, NULL);
    struct sockaddr_in a = { 0 };
    socklen_t al = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->fd, 512) < 0 ||
        getsockname(r->fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    r->port = ntohs(a.sin_port);
    return pthread_create(&r->acceptor, NULL, rcv_accept_main, r) == 0 ? 0 : -1;
}

static inline void rcv_stop(struct receiver *r) {
    atomic_store(&r->stop, 1);
    pthread_join(r->acceptor, NULL);
    close(r->fd);
    pthread_mutex_destroy(&r->mu);
}

/* A copy of one path's counters (zeros when never requested). */
static inline struct rcv_path rcv_path_stats(struct receiver *r, const char *path) {
    struct rcv_path out = { "", 0, 0, 0 };
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_paths; i++)
        if (!strcmp(r->paths[i].path, path)) out = r->paths[i];
    pthread_mutex_unlock(&r->mu);
    return out;
}

/* The n-th (from 0) logged request to path; 0 or -1. */
static inline int rcv_request_get(struct receiver *r, const char *path, int nth,
                                  struct rcv_request *out) {
    int rc = -1;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_log && rc < 0; i++)
        if (!strcmp(r->log[i].path, path) && nth-- == 0) {
            *out = r->log[i];
            rc = 0;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- the fake source ---- */

enum fake_state { FAKE_PENDING, FAKE_DELIVERED, FAKE_FAILED, FAKE_GONE };

#define FAKE_RESULTS 8

struct fake_delivery {
    int64_t id, endpoint;           /* id: its index + 1 */
    char url[256], event_id[64];
    const char *body;
    size_t body_len;
    const char *secrets[2];
    const struct fr_outbox_policy *policy;
    int attempts;
    int64_t created_at, next_at, lease_until;
    enum fake_state state;
    struct fr_outbox_result results[FAKE_RESULTS];   /* the first ones */
    int n_results;
};

struct fake {
    pthread_mutex_t mu;
    struct fake_delivery *d;
    int n;
    bool spread;                    /* offer claim_spread */
    int claims, releases, outstanding;
    long long claimed;              /* items handed out */
    int n_final;                    /* deliveries finished for good (delivered, failed, gone) */
    int violations;                 /* contract breaches seen (details on stderr) */
};

static inline void fake_init(struct fake *f, int n) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->d = calloc((size_t)n, sizeof *f->d);
    f->n = n;
}

static inline void fake_free(struct fake *f) {
    free(f->d);
    pthread_mutex_destroy(&f->mu);
}

/* Delivery i (from 0): to url, due now. */
static inline struct fake_delivery *fake_add(struct fake *f, int i, int64_t endpoint,
                                             const char *url, const char *body, const char *secret0,
                                             const char *secret1) {
    struct fake_delivery *d = &f->d[i];
    memset(d, 0, sizeof *d);
    d->id = i + 1;
    d->endpoint = endpoint;
    snprintf(d->url, sizeof d->url, "%.255s", url);
    snprintf(d->event_id, sizeof d->event_id, "msg_test%d_%lld", i, (long long)fr_now_ms());
    d->body = body;
    d->body_len = body ? strlen(body) : 0;
    d->secrets[0] = secret0;
    d->secrets[1] = secret1;
    d->created_at = d->next_at = fr_now_ms();
    return d;
}

static inline int fake_take(struct fake *f, int64_t now, int64_t lease_ms, int max,
                            int per_endpoint, const int64_t *skip, size_t n_skip,
                            struct fr_outbox_item **items, size_t *n) {
    struct fr_outbox_item *out = calloc((size_t)(max > 0 ? max : 1), sizeof *out);
    int64_t *taken_ep = calloc((size_t)(max > 0 ? max : 1), sizeof *taken_ep);
    size_t k = 0;
    *items = NULL;
    *n = 0;
    if (!out || !taken_ep) {
        free(out);
        free(taken_ep);
        return -FR_E_NOMEM;
    }
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n && (int)k < max; i++) {
        struct fake_delivery *d = &f->d[i];
        if (d->state != FAKE_PENDING || d->next_at > now || d->lease_until > now) continue;
        if (per_endpoint > 0) {
            int same = 0;
            bool skipped = false;
            for (size_t s = 0; s < n_skip; s++) skipped |= skip[s] == d->endpoint;
            for (size_t s = 0; s < k; s++) same += taken_ep[s] == d->endpoint;
            if (skipped || same >= per_endpoint) continue;
        }
        d->lease_until = now + lease_ms;
        struct fr_outbox_item *it = &out[k];
        taken_ep[k++] = d->endpoint;
        it->id = d->id;
        it->endpoint = d->endpoint;
        it->url = d->url;
        it->event_id = d->event_id;
        it->body = d->body;
        it->body_len = d->body_len;
        it->secrets[0] = d->secrets[0];
        it->secrets[1] = d->secrets[1];
        it->attempts = d->attempts;
        it->created_at = d->created_at;
        it->policy = d->policy;
    }
    f->claims++;
    f->outstanding++;
    f->claimed += (long long)k;
    pthread_mutex_unlock(&f->mu);
    free(taken_ep);
    *items = out;
    *n = k;
    return 0;
}

static inline int fake_claim(void *ctx, int64_t now, int64_t lease_ms, int max,
                             struct fr_outbox_item **items, size_t *n) {
    return fake_take(ctx, now, lease_ms, max, 0, NULL, 0, items, n);
}

static inline int fake_claim_spread(void *ctx, int64_t now, int64_t lease_ms, int max,
                                    int per_endpoint, const int64_t *skip, size_t n_skip,
                                    struct fr_outbox_item **items, size_t *n) {
    return fake_take(ctx, now, lease_ms, max, per_endpoint, skip, n_skip, items, n);
}

static inline void fake_release(void *ctx, struct fr_outbox_item *items, size_t n) {
    struct fake *f = ctx;
    (void)n;
    free(items);
    pthread_mutex_lock(&f->mu);
    f->releases++;
    f->outstanding--;
    pthread_mutex_unlock(&f->mu);
}

static inline int fake_finish(void *ctx, const struct fr_outbox_result *r) {
    struct fake *f = ctx;
    int64_t now = fr_now_ms();
    pthread_mutex_lock(&f->mu);
    if (r->id < 1 || r->id > f->n) {
        f->violations++;
        pthread_mutex_unlock(&f->mu);
        return -FR_E_NOT_FOUND;
    }
    struct fake_delivery *d = &f->d[r->id - 1];
    if (d->lease_until < now || d->state != FAKE_PENDING || r->attempts != d->attempts + 1 ||
        (r->outcome == FR_OUTBOX_RETRY && r->next_attempt_at < r->attempted_at)) {
        fprintf(stderr,
                "fake source: bad finish of %lld (lease %lld, now %lld, attempts %d after %d)\n",
                (long long)r->id, (long long)d->lease_until, (long long)now, r->attempts,
                d->attempts);
        f->violations++;
    }
    if (d->n_results < FAKE_RESULTS) d->results[d->n_results] = *r;
    d->n_results++;
    d->attempts = r->attempts;
    d->lease_until = 0;
    switch (r->outcome) {
    case FR_OUTBOX_DELIVERED: d->state = FAKE_DELIVERED; break;
    case FR_OUTBOX_FAILED: d->state = FAKE_FAILED; break;
    case FR_OUTBOX_GONE: d->state = FAKE_GONE; break;
    case FR_OUTBOX_RETRY: d->next_at = r->next_attempt_at; break;
    }
    if (d->state != FAKE_PENDING) f->n_final++;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static inline struct fr_outbox_source fake_source(struct fake *f) {
    struct fr_outbox_source s = {fake_claim, fake_release, fake_finish, f,
                                 f->spread ? fake_claim_spread : NULL};
    return s;
}

/* A copy of delivery i, under the lock. */
static inline struct fake_delivery fake_get(struct fake *f, int i) {
    pthread_mutex_lock(&f->mu);
    struct fake_delivery d = f->d[i];
    pthread_mutex_unlock(&f->mu);
    return d;
}

#endif
