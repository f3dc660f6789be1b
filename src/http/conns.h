/* The HTTP server's connection table: deadlines, the connection limit,
 * eviction and lingering close (internal to src/http; server.c is its one
 * user).
 *
 * libmicrohttpd 0.9.75 has an idle timeout (any byte resets it) and a hard
 * connection limit at which it stops accepting (new clients then wait in the
 * listen backlog). Neither stops a client that trickles a request one byte a
 * second, and the second leaves new clients hanging. This table tracks every
 * connection from its start (MHD_CONNECTION_NOTIFY_STARTED) to its close
 * (..._CLOSED) and the phase of the request on it:
 *
 *   HEAD   the request's head is arriving (from the connection's start, or
 *          from the first byte of the next request on a kept-alive one)
 *   BODY   the head is in, the body is arriving
 *   BUSY   the server works on the request (the early handler, the
 *          handler) or its answer goes out: no deadline
 *   IDLE   kept alive, between requests
 *
 * The deadline is the client's: the time the server's handlers take is
 * not counted, so that a handler slower than the deadline never has its
 * connection cut (and its answer lost) under it. A connection enters BUSY
 * before a handler is called, not after; back in BODY after the early
 * handler, the request's clock goes on from where BUSY stopped it.
 *
 * A guard thread looks at the table every FR_CONNS_TICK_MS: a connection in
 * HEAD for longer than the request timeout is cut (shutdown(2) of its
 * socket: libmicrohttpd reads the end of the stream and closes it),
 * whatever it keeps sending. In BODY the server answers 408 to the first
 * piece of body that arrives past the deadline (fr_conn_expired); a body that
 * has stopped coming is cut FR_CONNS_BODY_GRACE_MS later. An IDLE connection moves to HEAD when bytes of
 * a next request arrive (TCP_INFO's byte count), so the deadline runs from
 * the first byte, not from the request line.
 *
 * The limit (max): when a new connection brings the count near it, the
 * oldest idle kept-alive connection is closed; over it, the oldest
 * connection still sending its head after FR_CONNS_SLOW_HEAD_MS; when there
 * is none, the new connection is marked over the limit (the server answers
 * its request 503 at once and it gets a short deadline), and past
 * max + max/4 a new connection is closed as soon as it is accepted. Nobody
 * waits in the backlog.
 *
 * Lingering close: a connection answered before its request was read to the
 * end (413, 401 before the body, ...) would be reset by the kernel if closed
 * with unread bytes, and the client, still sending, would see "broken pipe"
 * instead of the answer. At its close the socket is kept (dup(2)) and read
 * and thrown away by the guard thread until the client closes, at most
 * linger_bytes bytes, FR_CONNS_LINGER_MS in all and FR_CONNS_LINGER_IDLE_MS
 * without a byte; only then is it closed. */
#ifndef FR_HTTP_CONNS_H
#define FR_HTTP_CONNS_H

#include <stddef.h>
#include <stdint.h>

#define FR_CONNS_TICK_MS        50
#define FR_CONNS_SLOW_HEAD_MS   1000    /* a head still arriving after this may be evicted at the limit */
#define FR_CONNS_OVER_MS        2000    /* the deadline of a connection over the limit (at most the timeout) */
#define FR_CONNS_BODY_GRACE_MS  1000    /* a body past the deadline: its next byte is answered 408, or cut after this */
#define FR_CONNS_LINGER_MS      5000
#define FR_CONNS_LINGER_IDLE_MS 2000
#define FR_CONNS_LINGER_MAX     256     /* sockets lingering at once; beyond, closed at once */

enum fr_conn_phase { FR_CONN_HEAD, FR_CONN_BODY, FR_CONN_BUSY, FR_CONN_IDLE };

struct fr_conns;

/* One connection; its owner (the libmicrohttpd thread serving it) reads and
 * writes it freely between open and close; the guard thread only under the
 * table's lock. */
struct fr_conn {
    struct fr_conn *prev, *next;    /* oldest first */
    int fd;
    enum fr_conn_phase phase;
    double t_phase;                 /* fr_time_ms() when the phase began (BODY: when the request began,
                                       less the time spent BUSY in the early handler) */
    double t_req;                   /* in BUSY: t_phase of the HEAD or BODY it came from, else when it began */
    uint64_t rx_idle;               /* bytes received when it went IDLE */
    int over_limit;                 /* accepted past the limit: its request is answered 503 */
    int closing;                    /* cut or evicted: shut down, waiting for libmicrohttpd to close it */
    int linger;                     /* answered before the request's end: linger at close */
};

struct fr_conns_stats {
    int open;                       /* connections tracked */
    int lingering;
    long long cut, evicted, refused, over_limit, lingered;
};

/* max: connections at once (>= 1); timeout_ms: the request deadline;
 * linger_bytes: how much a lingering close reads at most. Starts the guard
 * thread. */
int fr_conns_start(int max, int timeout_ms, size_t linger_bytes, struct fr_conns **out);
/* Ends lingering (waits at most FR_CONNS_LINGER_MS), stops the guard, frees.
 * Call after libmicrohttpd has closed every connection. */
void fr_conns_stop(struct fr_conns *t);

/* The accept policy: 0 when a new connection is to be closed at once. */
int fr_conns_admit(struct fr_conns *t);
/* A new connection (its socket): may evict others, may mark it over_limit.
 * NULL when out of memory (the connection is then not tracked). */
struct fr_conn *fr_conns_open(struct fr_conns *t, int fd);
/* libmicrohttpd closes the connection: linger (see above) or not, then free k. */
void fr_conns_close(struct fr_conns *t, struct fr_conn *k);

/* Phase changes, by the connection's owner. */
void fr_conn_set_phase(struct fr_conns *t, struct fr_conn *k, enum fr_conn_phase p);
/* 1 when k's request is past its deadline. */
int fr_conn_expired(struct fr_conns *t, const struct fr_conn *k);
/* The request timeout in milliseconds. */
int fr_conns_timeout_ms(const struct fr_conns *t);

void fr_conns_get_stats(struct fr_conns *t, struct fr_conns_stats *out);

#endif
