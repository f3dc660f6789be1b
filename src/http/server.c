/* The HTTP server over libmicrohttpd (see server.h).
 *
 * libmicrohttpd calls us, per request: on_uri when the request line is in
 * (the request's state is made there, and the connection's phase moves to
 * HEAD), then on_request with the headers only, then once per piece of body,
 * then once more with no data. We keep the body in a growing buffer bounded
 * by max_body and answer on the last call.
 *
 * Answers before the end: on the first call libmicrohttpd takes a response
 * (MHD_queue_response) and closes the connection after it without reading
 * the body. In the middle of a body it takes none (0.9.75 refuses), so
 * there we write the answer to the socket ourselves (send_now: the stream
 * is ours, libmicrohttpd writes nothing while it reads a body) and return
 * MHD_NO, after which it closes the connection. Both lead to a lingering
 * close (conns.h). */
#include "http/server.h"

#include "http/conns.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_CONNS   1000
#define DEFAULT_TIMEOUT_MS  30000
#define IDLE_TIMEOUT_S      60      /* libmicrohttpd's: a connection with no byte either way */

struct fr_http_server {
    struct MHD_Daemon *d;
    struct fr_http_opts o;
    int port;
    struct fr_conns *conns;
    atomic_int in_flight;       /* requests from their request line to their end */
    atomic_int pre_stop;        /* of those, the ones begun before fr_http_stop */
    atomic_int stopping;
    atomic_size_t buffered;     /* bytes held by all requests' body buffers */
};

struct conn_req {
    struct fr_http_req req;
    struct fr_http_server *s;
    struct fr_conn *k;          /* the connection's entry in the table; NULL when untracked */
    uint8_t *buf;
    size_t len, cap;
    size_t uri_len;             /* bytes of the request target as sent */
    int n_args;                 /* query arguments, when over FR_HTTP_MAX_ARGS */
    int started;                /* the first call (headers) is done */
    int pre;                    /* counted in pre_stop */
    int answered;               /* a response is queued or sent */
};

/* Set before returning MHD_NO on purpose: libmicrohttpd then logs
 * "Application reported internal error", which is not one. 0.9.75 logs it
 * with the format "%s\n" (connection.c, connection_close_error), so the
 * formatted message is what is matched; on_completed, which libmicrohttpd
 * calls right after that message, clears the flag, so that it never hides
 * a later, real one. */
static _Thread_local int quiet_close;

const char *fr_http_header(const struct fr_http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *fr_http_query(const struct fr_http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void fr_http_peer(const struct fr_http_req *r, char *buf, size_t len) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    buf[0] = 0;
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)len);
}

void fr_http_resp_header(struct fr_http_resp *r, const char *name, const char *fmt, ...) {
    if (r->n_headers >= FR_HTTP_MAX_RESP_HEADERS) return;
    int i = r->n_headers++;
    snprintf(r->name[i], sizeof r->name[i], "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->value[i], sizeof r->value[i], fmt, ap);
    va_end(ap);
}

static void free_body(void *p) { fr_free(p); }

/* Sends resp (taking its body); close: the connection carries no further
 * request (the body was not read, or the server is stopping). */
static enum MHD_Result queue(struct conn_req *q, struct MHD_Connection *c, struct fr_http_resp *resp, int close) {
    if (resp->status < 100 || resp->status > 599) resp->status = 500;
    struct MHD_Response *r = resp->body
        ? MHD_create_response_from_buffer_with_free_callback(resp->len, resp->body, free_body)
        : MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
    resp->body = NULL;
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    for (int i = 0; i < resp->n_headers; i++) MHD_add_response_header(r, resp->name[i], resp->value[i]);
    if (close || atomic_load(&q->s->stopping)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    q->answered = 1;
    fr_conn_set_phase(q->s->conns, q->k, FR_CONN_BUSY);
    return ok;
}

/* Writes resp (taking its body) straight to the socket, as the whole of the
 * connection's last answer, for when libmicrohttpd takes none: in the middle
 * of a body. Returns MHD_NO: libmicrohttpd closes the connection. */
static enum MHD_Result send_now(struct conn_req *q, struct fr_http_resp *resp) {
    char head[4096], date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (resp->status < 100 || resp->status > 599) resp->status = 500;
    const char *reason = MHD_get_reason_phrase_for((unsigned)resp->status);
    size_t n = (size_t)snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n",
                                resp->status, reason && reason[0] ? reason : "Error", date,
                                resp->content_type ? resp->content_type : "application/json");
    for (int i = 0; i < resp->n_headers && n < sizeof head; i++)
        n += (size_t)snprintf(head + n, sizeof head - n, "%s: %s\r\n", resp->name[i], resp->value[i]);
    size_t blen = resp->body ? resp->len : 0;
    if (n < sizeof head)
        n += (size_t)snprintf(head + n, sizeof head - n, "Connection: close\r\nContent-Length: %zu\r\n\r\n", blen);
    /* head and body in one write, so they travel together */
    char *all = n < sizeof head ? fr_malloc(n + blen) : NULL;
    int fd = q->k ? q->k->fd : -1;
    if (fd < 0) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(q->req.conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        fd = ci ? ci->connect_fd : -1;
    }
    if (all && fd >= 0) {
        memcpy(all, head, n);
        if (blen) memcpy(all + n, resp->body, blen);
        /* at most a moment: the socket's buffer is empty (libmicrohttpd
         * wrote nothing since the last answer went), so this hardly waits */
        double until = fr_time_ms() + 200;
        for (size_t off = 0; off < n + blen;) {
            ssize_t w = send(fd, all + off, n + blen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            int left = (int)(until - fr_time_ms());
            if ((w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) || left <= 0) break;
            struct pollfd pf = { .fd = fd, .events = POLLOUT };
            poll(&pf, 1, left);
        }
    }
    fr_free(all);
    fr_free(resp->body);
    resp->body = NULL;
    q->answered = 1;
    if (q->k) q->k->linger = 1;
    fr_conn_set_phase(q->s->conns, q->k, FR_CONN_BUSY);
    quiet_close = 1;
    return MHD_NO;
}

/* ---- the answers of the server itself, in the API's error envelope ---- */

/* The request's id: its X-Request-Id when sound (as the API takes it), else a new one. */
static void request_id(const struct conn_req *q, char out[65]) {
    const char *h = q->req.conn ? fr_http_header(&q->req, "X-Request-Id") : NULL;
    size_t n = h ? strlen(h) : 0;
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) ok = isalnum((unsigned char)h[i]) || h[i] == '.' || h[i] == '_' || h[i] == '-';
    if (ok) {
        memcpy(out, h, n + 1);
        return;
    }
    uint8_t r[12];
    if (RAND_bytes(r, sizeof r) != 1) memset(r, 0, sizeof r);
    for (int i = 0; i < 12; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* resp = {"success":false,"code":<code>,"error_type":...,"message":...,
 * "details":details,"request_id":...} with the given HTTP status. Takes details. */
static void envelope(const struct conn_req *q, struct fr_http_resp *resp, int status, int code, json_t *details,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void envelope(const struct conn_req *q, struct fr_http_resp *resp, int status, int code, json_t *details,
                     const char *fmt, ...) {
    char msg[256], rid[65];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    request_id(q, rid);
    memset(resp, 0, sizeof *resp);
    resp->status = status;
    json_t *body = json_pack("{s:b,s:s,s:s,s:s,s:o,s:s}", "success", 0, "code", fr_err_name(code), "error_type",
                             fr_err_type(code), "message", msg, "details", details ? details : json_object(),
                             "request_id", rid);
    size_t n = body ? json_dumpb(body, NULL, 0, JSON_COMPACT) : 0;   /* measures only */
    if (n && (resp->body = fr_malloc(n + 1))) {
        resp->len = json_dumpb(body, resp->body, n, JSON_COMPACT);
        resp->body[resp->len] = 0;
    }
    json_decref(body);
    fr_http_resp_header(resp, "X-Request-Id", "%s", rid);
    fr_log(FR_LOG_INFO, "http: %d %s %s: %s (request %s)", status, q->req.method ? q->req.method : "-",
           fr_err_name(code), msg, rid);
}

/* Our own answer on the first call (before any body is read), closing. */
static enum MHD_Result refuse(struct conn_req *q, struct MHD_Connection *c, struct fr_http_resp *resp) {
    if (q->k && (q->req.content_length > 0 || fr_http_header(&q->req, MHD_HTTP_HEADER_TRANSFER_ENCODING)))
        q->k->linger = 1;       /* a body may be on its way: read it away before closing */
    return queue(q, c, resp, 1);
}

static enum MHD_Result respond(struct fr_http_server *s, struct MHD_Connection *c, struct conn_req *q) {
    struct fr_http_resp resp;
    memset(&resp, 0, sizeof resp);
    q->req.body = q->buf;
    q->req.body_len = q->len;
    fr_conn_set_phase(s->conns, q->k, FR_CONN_BUSY);    /* before the handler: its time is no deadline's */
    s->o.handler(s->o.ctx, &q->req, &resp);
    int close = q->req.too_large || q->req.overloaded || q->req.bad_framing;
    if (close && q->k) q->k->linger = 1;
    return queue(q, c, &resp, close);
}

/* The handler's answer in the middle of a body (too large, overloaded). */
static enum MHD_Result respond_now(struct fr_http_server *s, struct conn_req *q) {
    struct fr_http_resp resp;
    memset(&resp, 0, sizeof resp);
    q->req.body = NULL;
    q->req.body_len = 0;
    fr_conn_set_phase(s->conns, q->k, FR_CONN_BUSY);
    s->o.handler(s->o.ctx, &q->req, &resp);
    return send_now(q, &resp);
}

/* Message framing (RFC 9112 section 6.3): a request whose body length is
 * ambiguous is refused, never guessed at, since a proxy in front may read it
 * differently (request smuggling). NULL when the framing is sound, else
 * the header at fault. */
struct framing { int n_cl, differ, n_te; char cl[32]; const char *te; };

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    struct framing *f = cls;
    (void)kind;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->n_cl++ && strcmp(f->cl, value)) f->differ = 1;
        snprintf(f->cl, sizeof f->cl, "%s", value);
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->n_te++;
        f->te = value;
    }
    return MHD_YES;
}

static const char *bad_framing(struct MHD_Connection *c) {
    struct framing f;
    memset(&f, 0, sizeof f);
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.differ) return "Content-Length";                             /* two different lengths */
    if (f.n_cl && f.n_te) return "Transfer-Encoding";                  /* a length and a coding */
    if (f.n_te && (f.n_te > 1 || strcasecmp(f.te, "chunked"))) return "Transfer-Encoding";   /* only chunked */
    return NULL;
}

static struct fr_conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request line is in: the request's state begins here (it becomes the
 * access handler's *con_cls). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    struct fr_http_server *s = cls;
    struct conn_req *q = fr_calloc(1, sizeof *q);
    struct fr_conn *k = conn_of(c);
    fr_conn_set_phase(s->conns, k, FR_CONN_HEAD);
    if (!q) return NULL;
    q->s = s;
    q->k = k;
    q->uri_len = uri ? strlen(uri) : 0;
    const char *query = uri ? memchr(uri, '?', q->uri_len) : NULL;
    if (query) {
        int n = 1;
        for (const char *p = query + 1; *p; p++) n += *p == '&';
        if (n > FR_HTTP_MAX_ARGS) {
            /* libmicrohttpd 0.9.75 splits the query into its per-connection
             * memory right after this call; ~2,000 arguments exhaust it, and
             * it then queues its HTML 431 and hangs the connection (its state
             * is overwritten). The request is refused (414) anyway: empty
             * the query it is about to split (the URI lies in its writable
             * read buffer), so that it splits nothing. */
            ((char *)(uintptr_t)query)[1] = '\0';
            q->n_args = n;
        }
    }
    atomic_fetch_add(&s->in_flight, 1);
    /* counted before stopping is read; fr_http_stop sets stopping before it
     * reads the count: one of the two sees the other */
    atomic_fetch_add(&s->pre_stop, 1);
    if (atomic_load(&s->stopping)) atomic_fetch_sub(&s->pre_stop, 1);
    else q->pre = 1;
    return q;
}

/* The first call: the head is in. Our own limits, then the handlers'. */
static enum MHD_Result on_head(struct fr_http_server *s, struct MHD_Connection *c, struct conn_req *q,
                               const char *version) {
    struct fr_http_resp r;
    size_t line = strlen(q->req.method) + q->uri_len + strlen(version ? version : "") + 2;
    if (line > FR_HTTP_MAX_LINE) {
        envelope(q, &r, 414, FR_E_VALIDATION_ERROR, json_pack("{s:s,s:i}", "field", "request_line", "limit", FR_HTTP_MAX_LINE),
                 "the request line is longer than %d bytes", FR_HTTP_MAX_LINE);
        return refuse(q, c, &r);
    }
    if (q->n_args) {
        envelope(q, &r, 414, FR_E_VALIDATION_ERROR, json_pack("{s:s,s:i}", "field", "query", "limit", FR_HTTP_MAX_ARGS),
                 "the query string has %d arguments, more than %d", q->n_args, FR_HTTP_MAX_ARGS);
        return refuse(q, c, &r);
    }
    const union MHD_ConnectionInfo *hi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head = hi && hi->header_size > line + 2 ? hi->header_size - line - 2 : 0;
    int fields = MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);
    if (head > FR_HTTP_MAX_HEAD || fields > FR_HTTP_MAX_HEADERS) {
        envelope(q, &r, 431, FR_E_VALIDATION_ERROR,
                 json_pack("{s:s,s:i,s:i}", "field", "headers", "limit_bytes", FR_HTTP_MAX_HEAD, "limit_fields",
                           FR_HTTP_MAX_HEADERS),
                 "the header section is over %d bytes or %d fields", FR_HTTP_MAX_HEAD, FR_HTTP_MAX_HEADERS);
        return refuse(q, c, &r);
    }
    if ((q->k && q->k->over_limit) || !q->pre) {
        int stopping = !q->pre;
        envelope(q, &r, 503, FR_E_SERVICE_UNAVAILABLE, NULL, "%s",
                 stopping ? "the server is shutting down" : "too many connections; retry shortly");
        fr_http_resp_header(&r, "Retry-After", "1");
        return refuse(q, c, &r);
    }
    if ((q->req.bad_framing = bad_framing(c))) return respond(s, c, q);
    if (q->req.content_length > (int64_t)s->o.max_body) {
        q->req.too_large = 1;
        return respond(s, c, q);
    }
    /* a body is coming: the early handler may answer before any of it is read */
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (q->req.content_length > 0 || te) {
        if (s->o.early) {
            struct fr_http_resp early;
            memset(&early, 0, sizeof early);
            fr_conn_set_phase(s->conns, q->k, FR_CONN_BUSY);    /* BODY below goes on with the request's clock */
            s->o.early(s->o.ctx, &q->req, &early);
            if (early.status) {
                q->req.rejected = 1;
                return refuse(q, c, &early);
            }
        }
        fr_conn_set_phase(s->conns, q->k, FR_CONN_BODY);
    }
    return MHD_YES;
}

/* A piece of body. */
static enum MHD_Result on_body(struct fr_http_server *s, struct conn_req *q, const char *upload, size_t n) {
    if (fr_conn_expired(s->conns, q->k)) {       /* trickling past the deadline: 408, closed */
        struct fr_http_resp r;
        int ms = fr_conns_timeout_ms(s->conns);
        envelope(q, &r, 408, FR_E_VALIDATION_ERROR, json_pack("{s:s,s:i}", "field", "body", "timeout_ms", ms),
                 "the request did not arrive within %d ms", ms);
        return send_now(q, &r);
    }
    if (q->len + n > s->o.max_body) {           /* passed the limit: 413 now, not at the end */
        q->req.too_large = 1;
        atomic_fetch_sub(&s->buffered, q->cap);
        fr_free(q->buf);
        q->buf = NULL;
        q->len = q->cap = 0;
        return respond_now(s, q);
    }
    if (q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 16384;
        while (cap < q->len + n + 1) cap *= 2;
        if (cap > s->o.max_body + 1) cap = s->o.max_body + 1;
        size_t limit = s->o.max_buffered ? s->o.max_buffered : 8 * s->o.max_body;
        size_t was = atomic_fetch_add(&s->buffered, cap - q->cap);
        if (was + (cap - q->cap) > limit) {       /* over the global cap: drop this body, 503 now */
            atomic_fetch_sub(&s->buffered, cap);
            q->req.overloaded = 1;
            fr_free(q->buf);
            q->buf = NULL;
            q->len = q->cap = 0;
            return respond_now(s, q);
        }
        uint8_t *b = fr_realloc(q->buf, cap);
        if (!b) {
            atomic_fetch_sub(&s->buffered, cap - q->cap);
            return MHD_NO;
        }
        q->buf = b;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, upload, n);
    q->len += n;
    q->buf[q->len] = 0;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    struct fr_http_server *s = cls;
    struct conn_req *q = *con_cls;
    if (!q) return MHD_NO;                      /* on_uri ran out of memory */
    if (!q->started) {
        q->started = 1;
        q->req.conn = c;
        q->req.method = method;
        q->req.path = url;
        q->req.t_start = fr_time_ms();
        q->req.content_length = -1;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            q->req.content_length = end != cl && !*end && v < (1ull << 62) ? (int64_t)v : INT64_MAX;
        }
        return on_head(s, c, q, version);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->answered) return MHD_YES;        /* not reached: libmicrohttpd stops reading once answered */
        return on_body(s, q, upload, n);
    }
    if (q->answered) return MHD_YES;
    return respond(s, c, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    struct fr_http_server *s = cls;
    struct conn_req *q = *con_cls;
    (void)toe;
    quiet_close = 0;        /* past the message our own MHD_NO causes (see quiet_close) */
    if (!q) return;
    /* kept alive: idle until the next request's first byte */
    fr_conn_set_phase(s->conns, q->k ? q->k : conn_of(c), FR_CONN_IDLE);
    atomic_fetch_sub(&s->buffered, q->cap);
    if (q->pre) atomic_fetch_sub(&s->pre_stop, 1);
    fr_free(q->buf);
    fr_free(q);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code) {
    struct fr_http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_ctx = ci ? fr_conns_open(s->conns, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        fr_conns_close(s->conns, *socket_ctx);
        *socket_ctx = NULL;
    }
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
    struct fr_http_server *s = cls;
    (void)addr;
    (void)addrlen;
    return fr_conns_admit(s->conns) ? MHD_YES : MHD_NO;
}

/* Percent-decoding of the path and the query arguments, in place. %00 and
 * %2F stay encoded: a NUL would cut the path short ("/subjects/5%00/faces"
 * read as "/subjects/5") and an encoded '/' would add a segment; left as
 * they are, the router refuses them as a bad parameter. */
static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s) {
    char *w = s;
    (void)cls;
    (void)c;
    for (const char *r = s; *r; ) {
        int hi, lo;
        if (r[0] == '%' && (hi = fr_http_hex_value((unsigned char)r[1])) >= 0 &&
            (lo = fr_http_hex_value((unsigned char)r[2])) >= 0 && (hi || lo) && !(hi == 2 && lo == 15)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (quiet_close) {      /* our own MHD_NO after an answer we wrote */
        quiet_close = 0;
        if (strstr(msg, "Application reported internal error")) return;
    }
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    fr_log(FR_LOG_WARN, "http: %s", msg);
}

/* File descriptors for max connections: libmicrohttpd's own limit (twice
 * ours, so that it never stops accepting: past it new clients would wait
 * in the backlog), the lingering sockets, and some for the rest. Raises the
 * soft limit when it can; returns the connections it leaves room for. */
static int fit_fd_limit(int max) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return max;
    rlim_t need = (rlim_t)max * 3 + FR_CONNS_LINGER_MAX + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit nl = { want, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return max;
    long fit = ((long)rl.rlim_cur - FR_CONNS_LINGER_MAX - 256) / 3;
    if (fit < 1) fit = 1;
    fr_log(FR_LOG_WARN, "http: %lld file descriptors allow %ld connections, not %d", (long long)rl.rlim_cur, fit, max);
    return (int)fit;
}

int fr_http_start(const struct fr_http_opts *o, struct fr_http_server **out) {
    *out = NULL;
    if (!o->handler || o->threads < 1 || o->port < 0 || o->port > 65535 || o->max_conns < 0 ||
        o->request_timeout_ms < 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "http: bad server options");
    struct fr_http_server *s = fr_calloc(1, sizeof *s);
    if (!s) return -FR_E_NOMEM;
    s->o = *o;
    int max = fit_fd_limit(o->max_conns > 0 ? o->max_conns : DEFAULT_MAX_CONNS);
    int timeout = o->request_timeout_ms > 0 ? o->request_timeout_ms : DEFAULT_TIMEOUT_MS;
    size_t linger = o->max_body > ((size_t)1 << 19) ? 2 * o->max_body : (size_t)1 << 20;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, o->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)o->port);
    } else if (inet_pton(AF_INET6, o->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)o->port);
        flags |= MHD_USE_IPv6;
    } else {
        fr_free(s);
        return fr_err_set(FR_E_INVALID_ARGUMENT, "http: listen address '%s' is not a numeric IPv4 or IPv6 address",
                          o->host);
    }
    int rc = fr_conns_start(max, timeout, linger, &s->conns);
    if (rc < 0) {
        fr_free(s);
        return rc;
    }
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, on_accept, s, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FR_HTTP_POOL_BYTES,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(2 * max + 64),
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(o->per_ip > 0 ? o->per_ip : 0),
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)512,
                            MHD_OPTION_END);
    if (!s->d) {
        fr_conns_stop(s->conns);
        fr_free(s);
        return fr_err_set(FR_E_IO, "http: cannot listen on %s:%d (address in use or not permitted)", o->host, o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return 0;
}

int fr_http_port(const struct fr_http_server *s) { return s->port; }

int fr_http_open_connections(const struct fr_http_server *s) {
    struct fr_conns_stats st;
    fr_conns_get_stats(s->conns, &st);
    return st.open;
}

int fr_http_in_flight(const struct fr_http_server *s) { return atomic_load(&s->in_flight); }

void fr_http_stop(struct fr_http_server *s, int grace_ms) {
    if (!s) return;
    /* from here every new request is answered 503 + close, every answer closes */
    atomic_store(&s->stopping, 1);
    double until = fr_time_ms() + grace_ms;
    while (atomic_load(&s->pre_stop) > 0 && fr_time_ms() < until) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);      /* closes the rest: idle ones, and those past the grace (lingering) */
    struct fr_conns_stats st;
    fr_conns_get_stats(s->conns, &st);
    fr_conns_stop(s->conns);
    fr_log(FR_LOG_INFO, "http: stopped (connections cut at the deadline %lld, evicted %lld, refused %lld, "
           "over the limit %lld, lingering closes %lld)", st.cut, st.evicted, st.refused, st.over_limit, st.lingered);
    fr_free(s);
}
