/* The HTTP server over libmicrohttpd (see server.h).
 *
 * libmicrohttpd calls on_request several times per request: first with the
 * headers only, then once per chunk of body, then once more with no data.
 * We keep the body in a growing buffer bounded by max_body, and answer on
 * the last call. A body that is declared too large is answered on the first
 * call, before any of it is read; libmicrohttpd then closes the connection
 * instead of reading on. */
#include "http/server.h"

#include "http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct fr_http_server {
    struct MHD_Daemon *d;
    struct fr_http_opts o;
    int port;
    atomic_int in_flight;
    atomic_int open_conns;
    atomic_size_t buffered;     /* bytes held by all requests' body buffers */
};

struct conn_req {
    struct fr_http_req req;
    uint8_t *buf;
    size_t len, cap;
    size_t drained;             /* bytes of a refused body read and thrown away */
};

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

/* Sends resp (taking its body); close: the body was not read, so the
 * connection cannot carry another request. */
static enum MHD_Result queue(struct MHD_Connection *c, struct fr_http_resp *resp, int close) {
    if (resp->status < 100 || resp->status > 599) resp->status = 500;
    struct MHD_Response *r = resp->body
        ? MHD_create_response_from_buffer_with_free_callback(resp->len, resp->body, free_body)
        : MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        fr_free(resp->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    for (int i = 0; i < resp->n_headers; i++) MHD_add_response_header(r, resp->name[i], resp->value[i]);
    if (close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result respond(struct fr_http_server *s, struct MHD_Connection *c, struct conn_req *q) {
    struct fr_http_resp resp;
    memset(&resp, 0, sizeof resp);
    q->req.body = q->buf;
    q->req.body_len = q->len;
    s->o.handler(s->o.ctx, &q->req, &resp);
    return queue(c, &resp, q->req.too_large || q->req.overloaded || q->req.bad_framing);
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

/* How much of a refused body is read (and thrown away) before the
 * connection is cut: the upload limit, at least 1 MiB. */
static size_t drain_limit(const struct fr_http_server *s) {
    return s->o.max_body > ((size_t)1 << 20) ? s->o.max_body : (size_t)1 << 20;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    struct fr_http_server *s = cls;
    struct conn_req *q = *con_cls;
    (void)version;
    if (!q) {
        q = fr_calloc(1, sizeof *q);
        if (!q) return MHD_NO;
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
        *con_cls = q;
        atomic_fetch_add(&s->in_flight, 1);
        if ((q->req.bad_framing = bad_framing(c))) return respond(s, c, q);
        if (q->req.content_length > (int64_t)s->o.max_body) {
            q->req.too_large = 1;
            return respond(s, c, q);
        }
        /* a body is coming: the early handler may answer before any of it is read */
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (s->o.early && (q->req.content_length > 0 || te)) {
            struct fr_http_resp early;
            memset(&early, 0, sizeof early);
            s->o.early(s->o.ctx, &q->req, &early);
            if (early.status) {
                q->req.rejected = 1;
                return queue(c, &early, 1);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->req.too_large || q->req.overloaded || q->req.rejected || q->req.bad_framing) {
            /* discard the rest, but only so much: a body that ends within the
             * drain still gets its 413/503 (libmicrohttpd 0.9.75 cannot answer
             * in the middle of a body), an endless one is cut off */
            q->drained += n;
            return q->drained > drain_limit(s) ? MHD_NO : MHD_YES;
        }
        if (q->len + n > s->o.max_body) {
            q->req.too_large = 1;
            atomic_fetch_sub(&s->buffered, q->cap);
            fr_free(q->buf);
            q->buf = NULL;
            q->len = q->cap = 0;
            return MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = q->cap ? q->cap : 16384;
            while (cap < q->len + n + 1) cap *= 2;
            if (cap > s->o.max_body + 1) cap = s->o.max_body + 1;
            size_t limit = s->o.max_buffered ? s->o.max_buffered : 8 * s->o.max_body;
            size_t was = atomic_fetch_add(&s->buffered, cap - q->cap);
            if (was + (cap - q->cap) > limit) {       /* over the global cap: drop this body, answer 503 */
                atomic_fetch_sub(&s->buffered, cap);
                q->req.overloaded = 1;
                fr_free(q->buf);
                q->buf = NULL;
                q->len = q->cap = 0;
                return MHD_YES;
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
    if (q->req.rejected || q->req.bad_framing) return MHD_YES;      /* answered already */
    return respond(s, c, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    struct fr_http_server *s = cls;
    struct conn_req *q = *con_cls;
    (void)c;
    (void)toe;
    if (!q) return;
    atomic_fetch_sub(&s->buffered, q->cap);
    fr_free(q->buf);
    fr_free(q);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code) {
    struct fr_http_server *s = cls;
    (void)c;
    (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&s->open_conns, 1);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED) atomic_fetch_sub(&s->open_conns, 1);
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
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    fr_log(FR_LOG_WARN, "http: %s", msg);
}

int fr_http_start(const struct fr_http_opts *o, struct fr_http_server **out) {
    *out = NULL;
    if (!o->handler || o->threads < 1 || o->port < 0 || o->port > 65535)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "http: bad server options");
    struct fr_http_server *s = fr_calloc(1, sizeof *s);
    if (!s) return -FR_E_NOMEM;
    s->o = *o;
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
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(o->per_ip > 0 ? o->per_ip : 0),
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)512,
                            MHD_OPTION_END);
    if (!s->d) {
        fr_free(s);
        return fr_err_set(FR_E_IO, "http: cannot listen on %s:%d (address in use or not permitted)", o->host, o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return 0;
}

int fr_http_port(const struct fr_http_server *s) { return s->port; }
int fr_http_open_connections(const struct fr_http_server *s) { return atomic_load(&s->open_conns); }
int fr_http_in_flight(const struct fr_http_server *s) { return atomic_load(&s->in_flight); }

void fr_http_stop(struct fr_http_server *s, int grace_ms) {
    if (!s) return;
    MHD_socket fd = MHD_quiesce_daemon(s->d);    /* no new connections */
    double until = fr_time_ms() + grace_ms;
    while (atomic_load(&s->in_flight) > 0 && fr_time_ms() < until) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    fr_free(s);
}
