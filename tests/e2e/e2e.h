/* End-to-end test helpers: start and stop the real `facerec serve` binary on
 * a loopback port with a temporary data dir, and a tiny blocking HTTP/1.1
 * client to talk to it.
 *
 * Everything is header-only (static inline) because the Makefile builds each
 * tests/<dir>/test_*.c as one translation unit. The client is deliberately
 * dumb: one request per connection ("Connection: close"), the response read
 * until the server closes, chunked bodies decoded, JSON bodies parsed with
 * jansson. It writes and reads at the same time (poll), so a server that
 * answers 413 and closes before the whole body was sent is still heard.
 *
 * The server runs with PR_SET_PDEATHSIG, so it never outlives the tests, and
 * every started server is registered so that e2e_server_cleanup_others() can
 * stop one that a failed test (cmocka longjmps out of it) left behind.
 *
 *     static struct e2e_server s;                    // static: see the registry
 *     e2e_server_start(&s, NULL, NULL);              // fresh data dir, waits for readiness
 *     struct e2e_resp r;
 *     e2e_http(s.port, "GET", "/health", NULL, NULL, NULL, 0, &r);
 *     // r.status == 200, r.json is the parsed body
 *     e2e_resp_free(&r);
 *     e2e_server_stop(&s);                           // SIGTERM; returns the exit status
 *     e2e_server_cleanup(&s);                        // rm -rf the temp dir
 */
#ifndef FR_TESTS_E2E_H
#define FR_TESTS_E2E_H

#include "facerec/base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define E2E_BOUNDARY     "e2eBoundary7MA4YWxkTrZu0gW"
#define E2E_MP_CTYPE     "multipart/form-data; boundary=" E2E_BOUNDARY
#define E2E_IO_TIMEOUT_MS 120000   /* one request; generous for the ASan build */

/* ---- growable byte buffer ------------------------------------------------ */

struct e2e_buf {
    char *p;        /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
};

static inline void e2e_buf_add(struct e2e_buf *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = fr_realloc(b->p, cap);
        if (!np) abort();               /* a test helper: out of memory is fatal */
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void e2e_buf_printf(struct e2e_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void e2e_buf_printf(struct e2e_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    char *tmp = fr_malloc((size_t)n + 1);
    if (!tmp) abort();
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    e2e_buf_add(b, tmp, (size_t)n);
    fr_free(tmp);
}

static inline void e2e_buf_free(struct e2e_buf *b) {
    fr_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- multipart/form-data bodies (boundary E2E_BOUNDARY) ----------------- */

static inline void e2e_mp_file(struct e2e_buf *b, const char *name, const char *filename,
                               const char *ctype, const void *data, size_t n) {
    e2e_buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                      "Content-Type: %s\r\n\r\n", E2E_BOUNDARY, name, filename,
                   ctype ? ctype : "application/octet-stream");
    e2e_buf_add(b, data, n);
    e2e_buf_add(b, "\r\n", 2);
}

static inline void e2e_mp_text(struct e2e_buf *b, const char *name, const char *value) {
    e2e_buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n",
                   E2E_BOUNDARY, name, value);
}

static inline void e2e_mp_end(struct e2e_buf *b) {
    e2e_buf_printf(b, "--%s--\r\n", E2E_BOUNDARY);
}

/* Base64 of n bytes (OpenSSL), fr_free'd by the caller. */
static inline char *e2e_base64(const void *data, size_t n) {
    char *out = fr_malloc(4 * ((n + 2) / 3) + 1);
    if (!out) abort();
    EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

/* ---- HTTP client ---------------------------------------------------------- */

struct e2e_resp {
    int status;          /* 0 when no status line came back */
    char *head;          /* the header block after the status line, NUL-terminated */
    char *body;          /* NUL-terminated; body_len bytes (chunked already decoded) */
    size_t body_len;
    json_t *json;        /* the body parsed as JSON, or NULL */
    int io_errno;        /* errno of a failed send/recv (e.g. ECONNRESET after a 413), or 0 */
};

static inline void e2e_resp_free(struct e2e_resp *r) {
    fr_free(r->head);
    fr_free(r->body);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Value of header NAME (case-insensitive) copied into buf, or NULL. */
static inline const char *e2e_header(const struct e2e_resp *r, const char *name, char *buf,
                                     size_t len) {
    size_t nl = strlen(name);
    for (const char *line = r->head; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t vl = ll - (size_t)(v - line);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            if (vl >= len) vl = len - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

/* Decode a chunked body in place; returns the decoded length. */
static inline size_t e2e_dechunk(char *p, size_t n) {
    size_t in = 0, out = 0;
    while (in < n) {
        char *end = NULL;
        unsigned long sz = strtoul(p + in, &end, 16);
        char *crlf = strstr(p + in, "\r\n");
        if (!crlf || end == p + in) break;
        in = (size_t)(crlf - p) + 2;
        if (sz == 0 || in + sz > n) break;
        memmove(p + out, p + in, sz);
        out += sz;
        in += sz + 2;
    }
    p[out] = '\0';
    return out;
}

/* Split the raw bytes of a response into status, head, body and JSON. */
static inline int e2e_parse_response(struct e2e_buf *raw, struct e2e_resp *out) {
    if (!raw->p) return -1;
    char *eoh = strstr(raw->p, "\r\n\r\n");
    int minor = 0;
    if (sscanf(raw->p, "HTTP/1.%d %d", &minor, &out->status) != 2) {
        out->status = 0;
        return -1;
    }
    char *first_eol = strstr(raw->p, "\r\n");
    size_t hstart = first_eol ? (size_t)(first_eol - raw->p) + 2 : raw->len;
    size_t hend = eoh ? (size_t)(eoh - raw->p) + 2 : raw->len;
    if (hend < hstart) hend = hstart;
    out->head = fr_strndup(raw->p + hstart, hend - hstart);
    size_t bstart = eoh ? (size_t)(eoh - raw->p) + 4 : raw->len;
    size_t blen = raw->len - bstart;
    out->body = fr_malloc(blen + 1);
    if (!out->head || !out->body) abort();
    memcpy(out->body, raw->p + bstart, blen);
    out->body[blen] = '\0';
    char v[64];
    if (e2e_header(out, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked")) {
        blen = e2e_dechunk(out->body, blen);
    } else if (e2e_header(out, "Content-Length", v, sizeof v)) {
        size_t cl = (size_t)strtoull(v, NULL, 10);
        if (cl < blen) blen = cl;
        out->body[blen] = '\0';
    }
    out->body_len = blen;
    out->json = json_loadb(out->body, blen, 0, NULL);
    return 0;
}

/* A free loopback port: bind port 0, read it, close. */
static inline int e2e_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static inline int e2e_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send the request bytes and read the response until the server closes,
 * interleaved so an early answer is read even while we are still sending. */
static inline int e2e_exchange(int fd, const struct e2e_buf *req, struct e2e_buf *raw,
                               int *io_errno) {
    size_t sent = 0;
    int sending = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    double deadline = fr_time_ms() + E2E_IO_TIMEOUT_MS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sending ? POLLOUT : 0)};
        int left = (int)(deadline - fr_time_ms());
        if (left <= 0) {
            *io_errno = ETIMEDOUT;
            return -1;
        }
        int pr = poll(&p, 1, left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        if (sending && (p.revents & POLLOUT)) {
            ssize_t w = send(fd, req->p + sent, req->len - sent, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                *io_errno = errno;  /* the server closed early: keep reading what it said */
                sending = 0;
            }
            if (sent == req->len) sending = 0;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[16384];
            ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            if (n > 0) e2e_buf_add(raw, chunk, (size_t)n);
            else if (n == 0) return 0;
            else if (errno != EAGAIN && errno != EINTR) {
                *io_errno = errno;
                return raw->len ? 0 : -1;
            }
        }
    }
}

/* One request on a new connection. extra_headers: "Name: value\r\n" lines or
 * NULL; content_type NULL sends none. Returns 0 when a status line came back
 * (out->status), else -1 (out->status 0, out->io_errno says why). */
static inline int e2e_http(int port, const char *method, const char *path,
                           const char *extra_headers, const char *content_type,
                           const void *body, size_t body_len, struct e2e_resp *out) {
    memset(out, 0, sizeof *out);
    struct e2e_buf req = {0}, raw = {0};
    e2e_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                   method, path, port);
    if (content_type) e2e_buf_printf(&req, "Content-Type: %s\r\n", content_type);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
        strcmp(method, "PUT") == 0)
        e2e_buf_printf(&req, "Content-Length: %zu\r\n", body_len);
    if (extra_headers) e2e_buf_printf(&req, "%s", extra_headers);
    e2e_buf_add(&req, "\r\n", 2);
    if (body_len) e2e_buf_add(&req, body, body_len);
    int rc = -1;
    int fd = e2e_connect(port);
    if (fd < 0) {
        out->io_errno = errno;
        goto out;
    }
    e2e_exchange(fd, &req, &raw, &out->io_errno);
    close(fd);
    rc = e2e_parse_response(&raw, out);
out:
    e2e_buf_free(&req);
    e2e_buf_free(&raw);
    return rc;
}

/* Enrol the photo file at path as a face of subject subj (one multipart
 * POST /api/v1/subjects/{id}/faces with the headers hdr, e.g. the API key).
 * The response status (201 on success; its body is printed on stderr
 * otherwise), or -1 when the file or the exchange failed. */
static inline int e2e_enrol_file(int port, const char *hdr, int64_t subj, const char *path) {
    uint8_t *p = NULL;
    size_t n = 0;
    if (fr_file_read(path, 1 << 24, &p, &n) < 0) return -1;
    struct e2e_buf b = { 0 };
    e2e_mp_file(&b, "photo", "p.jpg", "image/jpeg", p, n);
    e2e_mp_end(&b);
    fr_free(p);
    char url[96];
    snprintf(url, sizeof url, "/api/v1/subjects/%lld/faces", (long long)subj);
    struct e2e_resp r;
    int rc = e2e_http(port, "POST", url, hdr, E2E_MP_CTYPE, b.p, b.len, &r);
    e2e_buf_free(&b);
    int status = rc == 0 ? r.status : -1;
    if (rc == 0 && r.status != 201) fprintf(stderr, "enrol %s: %d %.300s\n", path, r.status, r.body ? r.body : "");
    e2e_resp_free(&r);
    return status;
}

/* ---- the server process --------------------------------------------------- */

struct e2e_server {
    pid_t pid;            /* 0 when not running */
    int port;
    char root[128];       /* mkdtemp dir: data/ and server.log */
    char data_dir[160];
    char log[160];
    char token[64];       /* FACEREC_ADMIN_TOKEN */
    char auth[128];       /* "Authorization: Bearer <token>\r\n" */
};

/* Every started server, so that one left behind by a failed test (cmocka
 * jumps out of it) is still stopped and its temp dir removed: pass structs
 * with static storage. */
#define E2E_MAX_SERVERS 16
static struct e2e_server *e2e_servers[E2E_MAX_SERVERS];

static inline void e2e_server_register(struct e2e_server *s) {
    for (int i = 0; i < E2E_MAX_SERVERS; i++) if (e2e_servers[i] == s) return;
    for (int i = 0; i < E2E_MAX_SERVERS; i++) {
        if (!e2e_servers[i]) {
            e2e_servers[i] = s;
            return;
        }
    }
}

static inline const char *e2e_build_dir(void) {
    const char *b = getenv("BUILD");
    return b && b[0] ? b : "build";
}

/* The models dir given to the server: FR_MODELS_DIR as in harness.h, else
 * "models" (tests run from the repository root). */
static inline const char *e2e_models_dir(void) {
    const char *d = getenv("FR_MODELS_DIR");
    return d && d[0] ? d : "models";
}

/* 1 when all nine model files are there (recognition tests need them). */
static inline int e2e_have_models(void) {
    static const char *names[] = {"fr_detect", "fr_landmark", "fr_feature", "fr_liveness",
                                  "fr_pose",
                                  "fr_eye", "fr_age", "fr_gender", "fr_expression"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s.onnx", e2e_models_dir(), names[i]);
        if (access(p, R_OK) != 0) return 0;
    }
    return 1;
}

/* Print the last `bytes` bytes of the server log on stderr. */
static inline void e2e_log_tail(const struct e2e_server *s, long bytes) {
    FILE *f = fopen(s->log, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > bytes ? size - bytes : 0, SEEK_SET);
    fprintf(stderr, "---- tail of %s ----\n", s->log);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stderr);
    fprintf(stderr, "---- end of log ----\n");
    fclose(f);
}

/* In the child: drop inherited FACEREC_* settings, set ours, exec. */
static inline void e2e_exec_server(const struct e2e_server *s, const char *const *extra_env) {
    char names[64][128];
    int n = 0;
    for (char **e = environ; *e && n < 64; e++) {
        if (strncmp(*e, "FACEREC_", 8) != 0) continue;
        const char *eq = strchr(*e, '=');
        size_t l = eq ? (size_t)(eq - *e) : strlen(*e);
        if (l >= sizeof names[0]) continue;
        memcpy(names[n], *e, l);
        names[n++][l] = '\0';
    }
    for (int i = 0; i < n; i++) unsetenv(names[i]);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    setenv("FACEREC_LISTEN", listen, 1);
    setenv("FACEREC_DATA_DIR", s->data_dir, 1);
    setenv("FACEREC_ADMIN_TOKEN", s->token, 1);
    setenv("FACEREC_MODELS_DIR", e2e_models_dir(), 1);
    for (const char *const *e = extra_env; e && *e; e++) {
        size_t l = strlen(*e);
        char name[128];
        if (l > 1 && (*e)[l - 1] == '=' && l <= sizeof name) {   /* "KEY=": unset KEY */
            memcpy(name, *e, l - 1);
            name[l - 1] = '\0';
            unsetenv(name);
        } else {
            putenv((char *)(uintptr_t)*e);
        }
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test process */
    int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    char bin[256];
    snprintf(bin, sizeof bin, "%s/facerec", e2e_build_dir());
    char *const argv[] = {(char *)(uintptr_t)"facerec", (char *)(uintptr_t)"serve", NULL};
    execv(bin, argv);
    fprintf(stderr, "e2e: cannot exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* Start the server. reuse_root: the root of an earlier e2e_server (restart on
 * the same data dir, same admin token) or NULL for a fresh temp dir.
 * extra_env: NULL-terminated "KEY=value" strings (kept alive by the caller) or
 * NULL; "KEY=" removes KEY (e.g. "FACEREC_ADMIN_TOKEN=" for an unconfigured
 * token). Waits until GET /health/ready answers 200 (only /health when the
 * models are absent or FACEREC_MODELS_DIR is overridden), at most 30 s (90 s
 * for a sanitizer build). Returns 0, or -1 with the log tail printed. */
static inline int e2e_server_start(struct e2e_server *s, const char *reuse_root,
                                   const char *const *extra_env) {
    if (!reuse_root) {
        memset(s, 0, sizeof *s);
        snprintf(s->root, sizeof s->root, "/tmp/facerec-e2e-XXXXXX");
        if (!mkdtemp(s->root)) return -1;
        unsigned char rnd[12];
        FILE *ur = fopen("/dev/urandom", "rb");
        if (!ur || fread(rnd, 1, sizeof rnd, ur) != sizeof rnd) abort();
        fclose(ur);
        snprintf(s->token, sizeof s->token, "e2e-admin-");
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(s->token + strlen(s->token), 3, "%02x", rnd[i]);
        snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s\r\n", s->token);
        snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->root);
        snprintf(s->log, sizeof s->log, "%s/server.log", s->root);
        mkdir(s->data_dir, 0700);
        e2e_server_register(s);
    } else if (reuse_root != s->root) {
        return -1;      /* a restart reuses the same struct */
    }
    s->port = e2e_free_port();
    if (s->port <= 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) e2e_exec_server(s, extra_env);
    s->pid = pid;
    int models = e2e_have_models();
    for (const char *const *e = extra_env; e && *e; e++)
        if (strncmp(*e, "FACEREC_MODELS_DIR=", 19) == 0) models = 0;   /* models missing */
    const char *probe = models ? "/health/ready" : "/health";
    double limit = strstr(e2e_build_dir(), "san") ? 90000.0 : 30000.0;
    double t0 = fr_time_ms();
    int last = 0;
    while (fr_time_ms() - t0 < limit) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "e2e: facerec serve exited early (status 0x%x)\n", (unsigned)st);
            s->pid = 0;
            e2e_log_tail(s, 4000);
            return -1;
        }
        struct e2e_resp r;
        if (e2e_http(s->port, "GET", probe, NULL, NULL, NULL, 0, &r) == 0) last = r.status;
        e2e_resp_free(&r);
        if (last == 200) return 0;
        usleep(50 * 1000);
    }
    fprintf(stderr, "e2e: %s not 200 within %.0f s (last status %d)\n", probe, limit / 1000, last);
    e2e_log_tail(s, 4000);
    return -1;
}

/* Send sig (SIGTERM, SIGINT), then wait at most 10 s. Returns the exit status
 * (0..255), 128+N when killed by signal N, or -1 when it did not stop (it is
 * then killed). */
static inline int e2e_server_stop_sig(struct e2e_server *s, int sig) {
    if (s->pid <= 0) return -1;
    kill(s->pid, sig);
    double t0 = fr_time_ms();
    int st = 0;
    while (fr_time_ms() - t0 < 10000.0) {
        pid_t w = waitpid(s->pid, &st, WNOHANG);
        if (w == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20 * 1000);
    }
    fprintf(stderr, "e2e: facerec serve did not exit within 10 s of signal %d\n", sig);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return -1;
}

static inline int e2e_server_stop(struct e2e_server *s) {
    return e2e_server_stop_sig(s, SIGTERM);
}

/* SIGKILL and reap: the crash test. */
static inline void e2e_server_kill(struct e2e_server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
}

static inline int e2e_rm_entry(const char *path, const struct stat *sb, int flag,
                               struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Kill if still running and remove the temp dir (kept when E2E_KEEP is set). */
static inline void e2e_server_cleanup(struct e2e_server *s) {
    if (s->pid > 0) e2e_server_kill(s);
    if (s->root[0] && !getenv("E2E_KEEP")) nftw(s->root, e2e_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    s->root[0] = '\0';
    for (int i = 0; i < E2E_MAX_SERVERS; i++) if (e2e_servers[i] == s) e2e_servers[i] = NULL;
}

/* Clean up every registered server except keep (NULL: all of them). */
static inline void e2e_server_cleanup_others(const struct e2e_server *keep) {
    for (int i = 0; i < E2E_MAX_SERVERS; i++)
        if (e2e_servers[i] && e2e_servers[i] != keep) e2e_server_cleanup(e2e_servers[i]);
}

/* Follow a dotted path ("data.face.box") in a parsed body; numeric
 * segments index arrays. NULL when absent. */
static inline json_t *jget(json_t *root, const char *path) {
    char seg[128];
    json_t *cur = root;
    while (cur && *path) {
        size_t l = strcspn(path, ".");
        if (l >= sizeof seg) return NULL;
        memcpy(seg, path, l);
        seg[l] = '\0';
        path += l + (path[l] == '.');
        if (json_is_array(cur)) {
            char *end;
            long i = strtol(seg, &end, 10);
            cur = (*end == '\0' && i >= 0) ? json_array_get(cur, (size_t)i) : NULL;
        } else {
            cur = json_object_get(cur, seg);
        }
    }
    return cur;
}

static inline const char *jstr(json_t *root, const char *path) {
    return json_string_value(jget(root, path));
}

/* A connection from loopback address src (127.0.0.x) to port; -1 on failure. */
static inline int connect_from(const char *src, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

#endif
