/* The HTTP server's connection table (see conns.h). */
#include "http/conns.h"

#include "facerec/base.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct linger_slot {
    int fd;                         /* -1: free */
    uint32_t gen;                   /* tells a stale epoll event from the slot's next socket */
    double t0, t_last;
    size_t bytes;
};

struct fr_conns {
    pthread_mutex_t mu;             /* the list, the counts, the slots, every k->phase/closing */
    struct fr_conn *head, *tail;
    int n, n_closing;
    int max, timeout_ms;
    size_t linger_bytes;
    int efd;                        /* epoll of the lingering sockets */
    struct linger_slot ls[FR_CONNS_LINGER_MAX];
    int n_ls;
    struct fr_conns_stats st;
    pthread_t guard;
    atomic_int stop;
    uint8_t buf[65536];             /* the guard's: what lingering sockets send, thrown away */
};

static int overflow(const struct fr_conns *t) { return t->max / 4 > 8 ? t->max / 4 : 8; }

/* Bytes the kernel has received on fd (TCP_INFO, Linux >= 4.1); -1 when unknown. */
static int rx_bytes(int fd, uint64_t *out) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return -1;
    *out = ti.tcpi_bytes_received;
    return 0;
}

/* Under mu: shut k's socket down; libmicrohttpd then reads the end of the
 * stream and closes the connection (k stays in the list until it does). */
static void shut(struct fr_conns *t, struct fr_conn *k) {
    k->closing = 1;
    t->n_closing++;
    shutdown(k->fd, SHUT_RDWR);
}

/* Under mu: the connection longest in phase p, if for at least min_ms,
 * other than self. */
static struct fr_conn *oldest(struct fr_conns *t, enum fr_conn_phase p, double min_ms, const struct fr_conn *self,
                              double now) {
    struct fr_conn *v = NULL;
    for (struct fr_conn *k = t->head; k; k = k->next)
        if (k != self && !k->closing && k->phase == p && now - k->t_phase >= min_ms && (!v || k->t_phase < v->t_phase))
            v = k;
    return v;
}

/* Under mu: close the oldest idle kept-alive connection, else the oldest
 * head arriving for longer than FR_CONNS_SLOW_HEAD_MS. 1 when one was. */
static int evict(struct fr_conns *t, const struct fr_conn *self, double now) {
    struct fr_conn *v = oldest(t, FR_CONN_IDLE, 0, self, now);
    if (!v) v = oldest(t, FR_CONN_HEAD, FR_CONNS_SLOW_HEAD_MS, self, now);
    if (!v) return 0;
    shut(t, v);
    t->st.evicted++;
    return 1;
}

int fr_conns_admit(struct fr_conns *t) {
    pthread_mutex_lock(&t->mu);
    int ok = t->n - t->n_closing < t->max + overflow(t) || evict(t, NULL, fr_time_ms());
    if (!ok) t->st.refused++;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

struct fr_conn *fr_conns_open(struct fr_conns *t, int fd) {
    struct fr_conn *k = fr_calloc(1, sizeof *k);
    if (!k) return NULL;
    double now = fr_time_ms();
    k->fd = fd;
    k->phase = FR_CONN_HEAD;
    k->t_phase = now;
    pthread_mutex_lock(&t->mu);
    k->prev = t->tail;
    if (t->tail) t->tail->next = k;
    else t->head = k;
    t->tail = k;
    t->n++;
    int live = t->n - t->n_closing, near = t->max / 8 > 1 ? t->max / 8 : 1;
    struct fr_conn *v;
    if (live > t->max - near && (v = oldest(t, FR_CONN_IDLE, 0, k, now))) {    /* idle kept-alive ones first */
        shut(t, v);
        t->st.evicted++;
        live--;
    }
    if (live > t->max && !evict(t, k, now)) {      /* then the slowest heads; else 503 */
        k->over_limit = 1;
        t->st.over_limit++;
    }
    pthread_mutex_unlock(&t->mu);
    return k;
}

/* Under mu: a free linger slot for fd, or -1. */
static int linger_add(struct fr_conns *t, int fd) {
    if (t->n_ls >= FR_CONNS_LINGER_MAX) return -1;
    for (int i = 0; i < FR_CONNS_LINGER_MAX; i++) {
        struct linger_slot *l = &t->ls[i];
        if (l->fd >= 0) continue;
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = (uint64_t)(unsigned)i | (uint64_t)(l->gen + 1) << 32;
        if (epoll_ctl(t->efd, EPOLL_CTL_ADD, fd, &ev) != 0) return -1;
        l->gen++;
        l->fd = fd;
        l->t0 = l->t_last = fr_time_ms();
        l->bytes = 0;
        t->n_ls++;
        t->st.lingered++;
        return i;
    }
    return -1;
}

/* Under mu: stop lingering on slot i and close its socket. */
static void linger_end(struct fr_conns *t, int i) {
    struct linger_slot *l = &t->ls[i];
    epoll_ctl(t->efd, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    l->fd = -1;
    t->n_ls--;
}

void fr_conns_close(struct fr_conns *t, struct fr_conn *k) {
    if (!k) return;
    int unread = 0;
    if (ioctl(k->fd, FIONREAD, &unread) != 0) unread = 0;
    pthread_mutex_lock(&t->mu);
    if (k->prev) k->prev->next = k->next;
    else t->head = k->next;
    if (k->next) k->next->prev = k->prev;
    else t->tail = k->prev;
    t->n--;
    if (k->closing) t->n_closing--;
    /* a connection cut at its deadline is not waited for */
    int linger = !k->closing && (k->linger || unread > 0 || k->phase == FR_CONN_HEAD || k->phase == FR_CONN_BODY);
    if (linger) {
        int fd = fcntl(k->fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0 && linger_add(t, fd) < 0) close(fd);
    }
    pthread_mutex_unlock(&t->mu);
    fr_free(k);
}

void fr_conn_set_phase(struct fr_conns *t, struct fr_conn *k, enum fr_conn_phase p) {
    if (!k) return;
    uint64_t rx = UINT64_MAX;
    if (p == FR_CONN_IDLE && rx_bytes(k->fd, &rx) < 0) rx = UINT64_MAX;   /* unknown: IDLE until the request line */
    double now = fr_time_ms();
    pthread_mutex_lock(&t->mu);
    int client = k->phase == FR_CONN_HEAD || k->phase == FR_CONN_BODY;
    if (p == FR_CONN_BUSY && k->phase != FR_CONN_BUSY)
        k->t_req = client ? k->t_phase : now;           /* the request's clock stops while the server works */
    if (k->phase == FR_CONN_BUSY && p == FR_CONN_BODY)
        k->t_phase = k->t_req + (now - k->t_phase);     /* after the early handler: its time was the server's */
    else if (!(k->phase == p || (k->phase == FR_CONN_HEAD && p == FR_CONN_BODY)))
        k->t_phase = now;                               /* HEAD → BODY keeps the request's start */
    k->phase = p;
    if (p == FR_CONN_IDLE) k->rx_idle = rx;
    pthread_mutex_unlock(&t->mu);
}

static double limit_ms(const struct fr_conns *t, const struct fr_conn *k) {
    return k->over_limit && t->timeout_ms > FR_CONNS_OVER_MS ? FR_CONNS_OVER_MS : t->timeout_ms;
}

int fr_conn_expired(struct fr_conns *t, const struct fr_conn *k) {
    if (!k) return 0;
    pthread_mutex_lock(&t->mu);
    int e = (k->phase == FR_CONN_HEAD || k->phase == FR_CONN_BODY) && fr_time_ms() - k->t_phase > limit_ms(t, k);
    pthread_mutex_unlock(&t->mu);
    return e;
}

int fr_conns_timeout_ms(const struct fr_conns *t) { return t->timeout_ms; }

void fr_conns_get_stats(struct fr_conns *t, struct fr_conns_stats *out) {
    pthread_mutex_lock(&t->mu);
    *out = t->st;
    out->open = t->n;
    out->lingering = t->n_ls;
    pthread_mutex_unlock(&t->mu);
}

/* ---- the guard thread ---- */

/* Deadlines, and IDLE connections whose next request has begun. */
static void tick(struct fr_conns *t, double now) {
    pthread_mutex_lock(&t->mu);
    for (struct fr_conn *k = t->head; k; k = k->next) {
        if (k->closing) continue;
        if (k->phase == FR_CONN_IDLE) {
            uint64_t rx;
            if (k->rx_idle != UINT64_MAX && rx_bytes(k->fd, &rx) == 0 && rx > k->rx_idle) {
                k->phase = FR_CONN_HEAD;    /* the first bytes of the next request: its clock starts */
                k->t_phase = now;
            }
        } else if ((k->phase == FR_CONN_HEAD && now - k->t_phase > limit_ms(t, k)) ||
                   (k->phase == FR_CONN_BODY && now - k->t_phase > limit_ms(t, k) + FR_CONNS_BODY_GRACE_MS)) {
            shut(t, k);
            t->st.cut++;
        }
    }
    for (int i = 0; i < FR_CONNS_LINGER_MAX; i++) {
        const struct linger_slot *l = &t->ls[i];
        if (l->fd >= 0 && (now - l->t0 > FR_CONNS_LINGER_MS || now - l->t_last > FR_CONNS_LINGER_IDLE_MS))
            linger_end(t, i);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Read and throw away what a lingering socket has; end it at the client's
 * end of stream, an error, or linger_bytes. Only the guard thread ends a
 * slot, so its socket stays open while it reads unlocked. */
static void linger_read(struct fr_conns *t, uint64_t tag) {
    int i = (int)(tag & 0xffffffffu);
    uint32_t gen = (uint32_t)(tag >> 32);
    if (i < 0 || i >= FR_CONNS_LINGER_MAX) return;
    struct linger_slot *l = &t->ls[i];
    pthread_mutex_lock(&t->mu);
    int fd = l->fd >= 0 && l->gen == gen ? l->fd : -1;
    pthread_mutex_unlock(&t->mu);
    if (fd < 0) return;
    size_t got = 0;
    int done = 0;
    for (int round = 0; round < 16 && !done; round++) {
        ssize_t r = recv(fd, t->buf, sizeof t->buf, MSG_DONTWAIT);
        if (r > 0) got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) done = 1;
        else break;
    }
    pthread_mutex_lock(&t->mu);
    if (got) {
        l->bytes += got;
        l->t_last = fr_time_ms();
    }
    if (done || l->bytes > t->linger_bytes) linger_end(t, i);
    pthread_mutex_unlock(&t->mu);
}

static void *guard_main(void *arg) {
    struct fr_conns *t = arg;
    double next = fr_time_ms() + FR_CONNS_TICK_MS;
    while (!atomic_load(&t->stop)) {
        struct epoll_event ev[64];
        double now = fr_time_ms();
        int wait = next > now ? (int)(next - now) + 1 : 0;
        int n = epoll_wait(t->efd, ev, 64, wait);
        for (int i = 0; i < n; i++) linger_read(t, ev[i].data.u64);
        now = fr_time_ms();
        if (now >= next) {
            tick(t, now);
            next = now + FR_CONNS_TICK_MS;
        }
    }
    return NULL;
}

int fr_conns_start(int max, int timeout_ms, size_t linger_bytes, struct fr_conns **out) {
    *out = NULL;
    if (max < 1 || timeout_ms < 1) return fr_err_set(FR_E_INVALID_ARGUMENT, "http: bad connection limits");
    struct fr_conns *t = fr_calloc(1, sizeof *t);
    if (!t) return -FR_E_NOMEM;
    t->max = max;
    t->timeout_ms = timeout_ms;
    t->linger_bytes = linger_bytes;
    for (int i = 0; i < FR_CONNS_LINGER_MAX; i++) t->ls[i].fd = -1;
    t->efd = epoll_create1(EPOLL_CLOEXEC);
    if (t->efd < 0) {
        fr_free(t);
        return fr_err_set(FR_E_IO, "http: epoll_create1: %s", strerror(errno));
    }
    pthread_mutex_init(&t->mu, NULL);
    if (pthread_create(&t->guard, NULL, guard_main, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        close(t->efd);
        fr_free(t);
        return fr_err_set(FR_E_IO, "http: cannot start the connection guard thread");
    }
    *out = t;
    return 0;
}

void fr_conns_stop(struct fr_conns *t) {
    if (!t) return;
    double until = fr_time_ms() + FR_CONNS_LINGER_MS + FR_CONNS_TICK_MS;
    for (;;) {      /* the guard ends the lingering, each within FR_CONNS_LINGER_MS */
        pthread_mutex_lock(&t->mu);
        int n = t->n_ls;
        pthread_mutex_unlock(&t->mu);
        if (!n || fr_time_ms() > until) break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    atomic_store(&t->stop, 1);
    pthread_join(t->guard, NULL);
    for (int i = 0; i < FR_CONNS_LINGER_MAX; i++)
        if (t->ls[i].fd >= 0) linger_end(t, i);
    while (t->head) {               /* none, once libmicrohttpd has stopped */
        struct fr_conn *k = t->head;
        t->head = k->next;
        fr_free(k);
    }
    close(t->efd);
    pthread_mutex_destroy(&t->mu);
    fr_free(t);
}
