/* The HTTP server: libmicrohttpd underneath, a request/response pair on top.
 *
 * The server reads a request's body into memory (at most max_body bytes),
 * then calls the handler once on a worker thread with the whole request; the
 * handler fills the response. A body declared (Content-Length) larger than
 * max_body is not read: the handler is called with too_large set and its
 * response goes out at once; a chunked body that passes max_body gets the
 * same call, and its answer, as soon as it passes it.
 *
 * Before a body is read, the early handler (when set) sees the headers: a
 * response it fills (status != 0) goes out at once, no "100 Continue" is
 * sent and the body is not read. The API answers 401 there, so an
 * unauthenticated client cannot make the server hold its upload. And all
 * requests together hold at most max_buffered bytes of bodies: a body that
 * would pass it is dropped and the handler is called with overloaded set
 * (the API answers 503), at once.
 *
 * What the server answers itself, in the API's JSON error envelope
 * ({"success":false,"code","error_type","message","details","request_id"}):
 * 414 for a request line over FR_HTTP_MAX_LINE bytes or a query of more
 * than FR_HTTP_MAX_ARGS arguments, 431 for a header
 * section over FR_HTTP_MAX_HEAD bytes or FR_HTTP_MAX_HEADERS fields, 408 for
 * a body still arriving at the request deadline, 503 for a connection over
 * the connection limit and for a request that arrives after fr_http_stop
 * began. libmicrohttpd 0.9.75 still answers, in its own HTML, what it
 * refuses before the server sees the request: a head larger than its
 * per-connection memory (FR_HTTP_POOL_BYTES), a request line without a valid
 * "HTTP/x.y" (400) or with a major version other than 1 (505), a header line
 * without a colon (400), a malformed Content-Length (400, and 413 for one
 * past 2^64) and a malformed chunked body (400/413).
 *
 * Every answer given before the request was read to its end closes the
 * connection with a lingering close (conns.h): the client reads the answer
 * instead of a reset, even while it is still sending.
 *
 * Connections: at most max_conns, per_ip of them from one address; a
 * request (head and body) must arrive within request_timeout_ms of its first
 * byte, however slowly it trickles, or its connection is cut (the time the
 * handler and the early handler take is not counted: a slow handler's answer
 * is never cut under it); near the limit idle kept-alive connections are
 * closed first, then heads that are late; past it a new client gets 503 at
 * once or its connection closed at once (conns.h).
 *
 * Workers: a thread pool of `threads` event loops (epoll); a handler runs on
 * the loop's thread, so a slow handler holds one loop - size the pool to the
 * cores, as the handlers are CPU-bound (inference). fr_http_stop: every
 * request already begun is finished (its answer says Connection: close),
 * every request begun after it is answered 503 (Connection: close), up to
 * grace_ms; then the server closes. */
#ifndef FR_HTTP_SERVER_H
#define FR_HTTP_SERVER_H

#include "facerec/base.h"

#include <stdarg.h>

#define FR_HTTP_MAX_RESP_HEADERS 16
#define FR_HTTP_MAX_LINE     8192        /* bytes of the request line → 414 */
#define FR_HTTP_MAX_HEAD     32768       /* bytes of the header section → 431 */
#define FR_HTTP_MAX_HEADERS  100         /* header fields → 431 */
#define FR_HTTP_MAX_ARGS     100         /* query-string arguments → 414 */
#define FR_HTTP_POOL_BYTES   (128 * 1024) /* libmicrohttpd's memory per connection: heads that fit get our 414/431 */

struct fr_http_req {
    void *conn;                 /* struct MHD_Connection * */
    const char *method;         /* "GET", ... */
    const char *path;           /* decoded path, without the query string */
    const uint8_t *body;        /* NUL-terminated copy (body[body_len] == 0), may be NULL */
    size_t body_len;
    int too_large;              /* body over the limit: not read (or not read further) */
    int overloaded;             /* the bodies of all requests reached max_buffered: this one was dropped */
    int rejected;               /* answered by the early handler, body not read */
    const char *bad_framing;    /* the header that makes the body's length ambiguous (answered 400, closed);
                                   NULL when sound */
    int64_t content_length;     /* as declared, -1 when absent */
    double t_start;             /* fr_time_ms() at arrival */
};

struct fr_http_resp {
    int status;
    char *body;                 /* fr_malloc'd; the server frees it */
    size_t len;
    const char *content_type;   /* static string; default application/json */
    int n_headers;
    char name[FR_HTTP_MAX_RESP_HEADERS][40];
    char value[FR_HTTP_MAX_RESP_HEADERS][160];
};

typedef void (*fr_http_handler)(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp);

struct fr_http_opts {
    const char *host;           /* numeric IPv4 or IPv6 address */
    int port;                   /* 0: any free port (see fr_http_port) */
    int threads;                /* event loops, >= 1 */
    size_t max_body;            /* bytes */
    int per_ip;                 /* connections one address may hold at once; 0: no limit */
    int max_conns;              /* connections at once; 0: 1000 */
    int request_timeout_ms;     /* a request's head and body, from its first byte; 0: 30000 */
    size_t max_buffered;        /* bytes of all bodies held at once; 0: 8 x max_body */
    fr_http_handler handler;
    fr_http_handler early;      /* may be NULL: called with the headers of a request that has a body */
    void *ctx;
};

struct fr_http_server;

FR_API int fr_http_start(const struct fr_http_opts *o, struct fr_http_server **out);
FR_API int fr_http_port(const struct fr_http_server *s);
/* Finish the requests begun (at most grace_ms), answer later ones 503, close, free. */
FR_API void fr_http_stop(struct fr_http_server *s, int grace_ms);
FR_API int fr_http_open_connections(const struct fr_http_server *s);
FR_API int fr_http_in_flight(const struct fr_http_server *s);

/* Request header (case-insensitive) or query argument; NULL when absent. */
FR_API const char *fr_http_header(const struct fr_http_req *r, const char *name);
FR_API const char *fr_http_query(const struct fr_http_req *r, const char *name);
/* The peer's address as text ("127.0.0.1"), "" when unknown. */
FR_API void fr_http_peer(const struct fr_http_req *r, char *buf, size_t len);

/* Add a response header; silently dropped beyond FR_HTTP_MAX_RESP_HEADERS. */
FR_API void fr_http_resp_header(struct fr_http_resp *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
