/* make bench: several nodes on PostgreSQL + Redis (issue 12). Real processes
 * on loopback, started as tests/e2e/test_cluster.c starts them: a PostgreSQL
 * server (tests/store/pg_fixture.h), a redis-server
 * (tests/cluster/redis_fixture.h) and `facerec serve` nodes (tests/e2e/e2e.h)
 * with FACEREC_DATABASE_URL, FACEREC_REDIS_URL and FACEREC_NODE_ID. Three
 * measurements:
 *
 *   1. Enrolment latency by store: one node on SQLite (its own data
 *      directory: WAL, synchronous=FULL), one on the test PostgreSQL
 *      (fsync=off, as pg_fixture.h starts it: a commit there never waits for
 *      the disk, so it is cheaper than in production) and one on a second
 *      PostgreSQL started here with fsync=on and full_page_writes=on (Debian's
 *      defaults: pg_fixture_start_opts with durable 1). N_ENROL sequential enrolments each (POST
 *      /api/v1/subjects/{id}/faces, multipart, the photos of
 *      tests/fixtures/faces and tests/fixtures/sessions in turn, each to a
 *      fresh subject made before the clock starts), the three nodes taking
 *      turns request by request, so that a noisy moment of the machine hits
 *      all three; p50/p99 and the ratio PostgreSQL/SQLite.
 *   2. Identify requests/s with 1, 2 and 3 nodes on the fsync=off PostgreSQL
 *      and Redis, against a gallery of GALLERY faces (a client of its own;
 *      the same photos enrolled again and again, one subject per person, so
 *      that identify answers "match" and not "ambiguous"), beside the same
 *      load on one node on SQLite without Redis (the single-node deployment,
 *      the reference; its gallery built the same way): LOAD_CONNS client
 *      threads here, each with one keep-alive HTTP/1.1 connection per node in
 *      use, requests spread round-robin over the nodes (one counter shared
 *      by the threads), WARM_S s of warm-up then LOAD_S s measured: the
 *      answers completed in the window, p50/p99 of their latency, and the
 *      CPU of the facerec processes, of PostgreSQL + Redis, of this process
 *      and of the rest of the machine (/proc) in the window. All of it
 *      (nodes, PostgreSQL, Redis and this load generator) shares the
 *      machine's cores: on a 2-core machine a second and third node cannot
 *      add throughput, and the figures show what the coordination costs,
 *      not how the service scales.
 *   3. Enrol-to-visible on another node: a face enrolled on node A while a
 *      thread here polls node B's /status every POLL_MS, from before A's
 *      request starts, until B's index holds one face more
 *      (index.details.faces: the change log applied there); the time is the
 *      end of the first answer that shows it, given from A's request start
 *      and from A's 201 (negative when B showed it first). N_VISIBLE samples,
 *      p50/p99 (of 50, p99 is the largest). /status is polled rather than
 *      identify because it costs no face analysis on B (identify takes tens
 *      of ms, which would be the resolution); each sample is then checked
 *      with one identify on B (it must match the new subject), and the
 *      subject is deleted and gone from B's index before the next one.
 *
 * Every process is stopped by its PID (facerec: SIGTERM, 10 s, then
 * SIGKILL; PostgreSQL: SIGINT, 10 s, then SIGKILL; Redis: SIGTERM, 3 s, then
 * SIGKILL) and every temporary folder removed; every wait is bounded. The
 * children die with this process (PR_SET_PDEATHSIG) if it is killed.
 *
 *   build/bench/cluster_bench        (from the repository root; about 70 s on 2 cores)
 * BUILD (default build: where facerec is), FR_MODELS_DIR (default models), FR_PG_BIN. */
#include <dirent.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "facerec/base.h"

#include "../tests/cluster/redis_fixture.h"
#include "../tests/e2e/e2e.h"
#ifdef FR_WITH_PG
#include "../tests/store/pg_fixture.h"
#endif
#include "bench_util.h"

#define N_ENROL     100        /* enrolments per store */
#define GALLERY     200        /* faces in the index before the identify load */
#define LOAD_CONNS  4          /* client threads, one keep-alive connection per node each */
#define WARM_S      1          /* s of load before the measured window */
#define LOAD_S      10         /* s measured per configuration */
#define N_VISIBLE   50         /* enrol-to-visible samples */
#define POLL_MS     2          /* between two looks at node B's /status */
#define VISIBLE_WAIT_MS 10000  /* the longest one sample waits */
#define MAX_LAT     65536      /* latencies one load thread records */
#define RESP_CAP    (256 * 1024)

#define FACES "tests/fixtures/faces/"
#define SESS  "tests/fixtures/sessions/"

/* Enrolment and gallery photos; Colin Powell is kept out of them for part 3. */
static const char *const PHOTOS[] = {
    FACES "AJ_Lamas_0001.jpg",       FACES "Aaron_Peirsol_0001.jpg",   FACES "Aaron_Peirsol_0003.jpg",
    FACES "obama_small.jpg",         FACES "antispoof_T1.jpg",         SESS "Hugo_Chavez_0002.jpg",
    SESS "Hugo_Chavez_0027.jpg",     SESS "Serena_Williams_0001.jpg",  SESS "Serena_Williams_0003.jpg",
    SESS "Tony_Blair_0018.jpg",
};
#define N_PHOTOS ((int)(sizeof PHOTOS / sizeof PHOTOS[0]))
#define VIS_ENROL SESS "Colin_Powell_0040.jpg"
#define VIS_QUERY SESS "Colin_Powell_0049.jpg"
#define LOAD_QUERY FACES "Aaron_Peirsol_0003.jpg"

struct photo {
    const char *path;
    uint8_t *data;
    size_t len;
};

static struct photo g_photo[N_PHOTOS];
static int g_good[N_PHOTOS], g_n_good;    /* photos the enrolment accepts */

/* A node and the API key header its client uses. */
struct node {
    struct e2e_server s;
    char env[8][320];
    const char *envp[9];
    char key[160];                         /* "X-API-Key: ...\r\n" */
};

#define N_NODES 6
static struct node g_n[N_NODES];           /* 0 SQLite, 1 PG fsync=off, 2 PG fsync=on; 3..5 the cluster */
#ifdef FR_WITH_PG
static struct pg_fixture g_pg, g_pgd;
#endif
static struct redis_server g_redis = { .pid = -1 };

static void fail(const char *what) { fprintf(stderr, "cluster bench: %s\n", what); }

/* ---- nodes -------------------------------------------------------------- */

/* Starts node n with the settings in env (NULL-terminated "KEY=value"),
 * log level warn; 0 or -1. */
static int node_start(int n, const char *const *env) {
    struct node *x = &g_n[n];
    int k = 0;
    snprintf(x->env[k++], sizeof x->env[0], "FACEREC_LOG_LEVEL=warn");
    for (; env && *env && k < 8; env++) snprintf(x->env[k++], sizeof x->env[0], "%s", *env);
    for (int i = 0; i < k; i++) x->envp[i] = x->env[i];
    x->envp[k] = NULL;
    return e2e_server_start(&x->s, NULL, x->envp);
}

static void node_stop(int n) {
    if (g_n[n].s.pid > 0) e2e_server_stop(&g_n[n].s);
    if (g_n[n].s.root[0]) e2e_server_cleanup(&g_n[n].s);
}

/* A client made through node n's admin token; its key header in g_n[n].key. */
static int node_client(int n) {
    struct e2e_resp r;
    const char *body = "{\"name\":\"bench\"}";
    int rc = e2e_http(g_n[n].s.port, "POST", "/api/v1/admin/clients", g_n[n].s.auth, "application/json", body,
                      strlen(body), &r);
    const char *key = rc == 0 && r.status == 201 ? jstr(r.json, "data.api_key") : NULL;
    if (key) snprintf(g_n[n].key, sizeof g_n[n].key, "X-API-Key: %s\r\n", key);
    e2e_resp_free(&r);
    return key ? 0 : -1;
}

/* A new subject on node n with key header key; its id, or -1. */
static int64_t subject_create(int n, const char *key, const char *name) {
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    struct e2e_resp r;
    int64_t id = -1;
    if (e2e_http(g_n[n].s.port, "POST", "/api/v1/subjects", key, "application/json", body, strlen(body), &r) == 0 &&
        r.status == 201)
        id = (int64_t)json_integer_value(jget(r.json, "data.id"));
    e2e_resp_free(&r);
    return id;
}

static int subject_delete(int n, const char *key, int64_t id) {
    char path[64];
    snprintf(path, sizeof path, "/api/v1/subjects/%lld", (long long)id);
    struct e2e_resp r;
    int st = e2e_http(g_n[n].s.port, "DELETE", path, key, NULL, NULL, 0, &r) == 0 ? r.status : 0;
    e2e_resp_free(&r);
    return st == 200 ? 0 : -1;
}

/* One enrolment of p into subject id on node n; the HTTP status (0: none)
 * and the time from the request's start to the whole answer in *ms. */
static int enrol(int n, const char *key, int64_t id, const struct photo *p, double *ms) {
    struct e2e_buf b = { 0 };
    e2e_mp_file(&b, "photo", "p.jpg", "image/jpeg", p->data, p->len);
    e2e_mp_end(&b);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/subjects/%lld/faces", (long long)id);
    struct e2e_resp r;
    const double t0 = fr_time_ms();
    int st = e2e_http(g_n[n].s.port, "POST", path, key, E2E_MP_CTYPE, b.p, b.len, &r) == 0 ? r.status : 0;
    if (ms) *ms = fr_time_ms() - t0;
    e2e_buf_free(&b);
    e2e_resp_free(&r);
    return st;
}

/* The subject identify on node n finds for p: its id, 0 for nobody, -1 on an error. */
static int64_t identify(int n, const char *key, const struct photo *p) {
    struct e2e_buf b = { 0 };
    e2e_mp_file(&b, "photo", "q.jpg", "image/jpeg", p->data, p->len);
    e2e_mp_end(&b);
    struct e2e_resp r;
    int64_t who = -1;
    if (e2e_http(g_n[n].s.port, "POST", "/api/v1/identify", key, E2E_MP_CTYPE, b.p, b.len, &r) == 0 &&
        r.status == 200) {
        const char *d = jstr(r.json, "data.faces.0.decision");
        who = d && !strcmp(d, "match") ? (int64_t)json_integer_value(jget(r.json, "data.faces.0.match.subject_id")) : 0;
    }
    e2e_buf_free(&b);
    e2e_resp_free(&r);
    return who;
}

/* Faces in node n's in-memory index (GET /status), -1 when unknown. */
static long index_faces(int n) {
    struct e2e_resp r;
    long f = -1;
    if (e2e_http(g_n[n].s.port, "GET", "/status", NULL, NULL, NULL, 0, &r) == 0 && r.status == 200) {
        json_t *v = jget(r.json, "data.services.index.details.faces");
        if (json_is_integer(v)) f = (long)json_integer_value(v);
    }
    e2e_resp_free(&r);
    return f;
}

/* Live nodes in node n's registry (GET /status), -1 when unknown. */
static int live_nodes(int n) {
    struct e2e_resp r;
    int k = -1;
    if (e2e_http(g_n[n].s.port, "GET", "/status", NULL, NULL, NULL, 0, &r) == 0 && r.status == 200) {
        json_t *v = jget(r.json, "data.services.redis.details.nodes");
        if (json_is_array(v)) k = (int)json_array_size(v);
    }
    e2e_resp_free(&r);
    return k;
}

/* ---- the load generator: keep-alive HTTP/1.1 --------------------------- */

static int ka_connect(int port) {
    int fd = e2e_connect(port);
    if (fd < 0) return -1;
    int one = 1;
    struct timeval tv = { 30, 0 };
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void ka_close(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* One request on the keep-alive connection *fd to port (connected when -1,
 * again once when a kept connection turns out closed); buf (cap bytes) holds
 * the answer's head, the body is read and dropped. The HTTP status, or -1. */
static int ka_request(int *fd, int port, const char *req, size_t len, char *buf, size_t cap) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*fd < 0 && (*fd = ka_connect(port)) < 0) return -1;
        size_t off = 0;
        while (off < len) {
            ssize_t w = send(*fd, req + off, len - off, MSG_NOSIGNAL);
            if (w <= 0) break;
            off += (size_t)w;
        }
        size_t have = 0;
        char *eoh = NULL;
        while (off == len && !eoh && have < cap - 1) {
            ssize_t r = recv(*fd, buf + have, cap - 1 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
            buf[have] = 0;
            eoh = strstr(buf, "\r\n\r\n");
        }
        if (!eoh) {
            ka_close(fd);
            if (have == 0) continue;   /* the server had closed the kept connection: once more, fresh */
            return -1;
        }
        *eoh = 0;
        int status = 0;
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) status = -1;
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        const int closing = strcasestr(buf, "\r\nConnection: close") != NULL;
        if (!cl) {   /* no length (not what facerec sends): read to the close */
            while (recv(*fd, buf, cap, 0) > 0) {}
            ka_close(fd);
            return status;
        }
        const size_t want = (size_t)strtoull(cl + 17, NULL, 10);
        size_t body = have - (size_t)(eoh + 4 - buf);
        while (body < want) {
            ssize_t r = recv(*fd, buf, want - body < cap ? want - body : cap, 0);
            if (r <= 0) {
                ka_close(fd);
                return -1;
            }
            body += (size_t)r;
        }
        if (closing) ka_close(fd);
        return status;
    }
    return -1;
}

struct load {
    int port[3];
    int n_nodes;
    const char *req;              /* the whole request, head and multipart body */
    size_t req_len;
    double w0, w1;                /* the measured window, fr_time_ms */
    atomic_uint rr;               /* round-robin counter over the nodes */
};

struct worker {
    struct load *l;
    pthread_t th;
    double *lat;                  /* ms of the answers completed in the window */
    int n_lat;
    int errors, non2xx;           /* in the window */
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct load *l = w->l;
    int fd[3] = { -1, -1, -1 };
    char *buf = fr_malloc(RESP_CAP);
    if (!buf) return NULL;
    for (double t0; (t0 = fr_time_ms()) < l->w1;) {
        const int n = (int)(atomic_fetch_add(&l->rr, 1) % (unsigned)l->n_nodes);
        const int st = ka_request(&fd[n], l->port[n], l->req, l->req_len, buf, RESP_CAP);
        const double t1 = fr_time_ms();
        if (t1 < l->w0 || t1 > l->w1) continue;
        if (st < 0) w->errors++;
        else if (st != 200) w->non2xx++;
        else if (w->n_lat < MAX_LAT) w->lat[w->n_lat++] = t1 - t0;
    }
    for (int i = 0; i < 3; i++) ka_close(&fd[i]);
    fr_free(buf);
    return NULL;
}

/* CPU ticks of process pid (utime + stime, /proc/pid/stat), 0 when unknown;
 * its parent's pid in *ppid when not NULL. */
static double proc_ticks(pid_t pid, pid_t *ppid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');   /* the fields after the command's name */
    unsigned long long ut = 0, st = 0;
    int pp = 0;
    if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut, &st) != 3) return 0;
    if (ppid) *ppid = pp;
    return (double)(ut + st);
}

/* CPU ticks of PostgreSQL (the postmaster and its children) and Redis. */
static double stores_ticks(void) {
    double t = g_redis.pid > 0 ? proc_ticks(g_redis.pid, NULL) : 0;
#ifdef FR_WITH_PG
    if (g_pg.pid <= 0) return t;
    t += proc_ticks(g_pg.pid, NULL);
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        pid_t pid = (pid_t)atoi(e->d_name), pp = 0;
        if (pid <= 0) continue;
        const double k = proc_ticks(pid, &pp);
        if (pp == g_pg.pid) t += k;
    }
    if (d) closedir(d);
#endif
    return t;
}

/* The machine's busy and total ticks (/proc/stat, all cores; idle, iowait and steal are not busy). */
static void machine_ticks(double *busy, double *total) {
    unsigned long long v[8] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                       &v[6], &v[7]) : 0;
    if (f) fclose(f);
    double t = 0;
    for (int i = 0; i < 8 && i < n; i++) t += (double)v[i];
    *total = t;
    *busy = t - (double)v[3] - (double)v[4] - (double)v[7];
}

struct cpu_mark {
    double nodes;                 /* ticks of the facerec nodes running (in use or idle) */
    double stores;                /* ticks of PostgreSQL and Redis */
    double self_ms;               /* this process (the load threads) */
    double busy, total;           /* the machine */
};

static void cpu_mark(struct cpu_mark *m) {
    m->nodes = 0;
    for (int i = 0; i < N_NODES; i++) m->nodes += g_n[i].s.pid > 0 ? proc_ticks(g_n[i].s.pid, NULL) : 0;
    m->stores = stores_ticks();
    m->self_ms = bench_cpu_ms(RUSAGE_SELF);
    machine_ticks(&m->busy, &m->total);
}

static void sleep_until(double t) {
    for (double now; (now = fr_time_ms()) < t;) usleep((useconds_t)((t - now < 100 ? t - now : 100) * 1000));
}

/* Identify over nodes[0..n) (indices into g_n); one Markdown row, labelled. */
static int load_run(const int *nodes, int n, const char *label, const struct photo *q, const char *key) {
    struct e2e_buf req = { 0 }, body = { 0 };
    e2e_mp_file(&body, "photo", "q.jpg", "image/jpeg", q->data, q->len);
    e2e_mp_end(&body);
    e2e_buf_printf(&req, "POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: %s\r\n"
                         "Content-Length: %zu\r\n\r\n", key, E2E_MP_CTYPE, body.len);
    e2e_buf_add(&req, body.p, body.len);
    e2e_buf_free(&body);
    static struct load l;
    memset(&l, 0, sizeof l);
    for (int i = 0; i < n; i++) l.port[i] = g_n[nodes[i]].s.port;
    l.n_nodes = n;
    l.req = req.p;
    l.req_len = req.len;
    const double start = fr_time_ms();
    l.w0 = start + WARM_S * 1000.0;
    l.w1 = l.w0 + LOAD_S * 1000.0;
    struct worker w[LOAD_CONNS];
    memset(w, 0, sizeof w);
    int started = 0, rc = -1;
    for (; started < LOAD_CONNS; started++) {
        w[started].l = &l;
        if (!(w[started].lat = fr_malloc(MAX_LAT * sizeof(double)))) break;
        if (pthread_create(&w[started].th, NULL, worker_main, &w[started]) != 0) {
            fr_free(w[started].lat);
            break;
        }
    }
    struct cpu_mark c0, c1;
    sleep_until(l.w0);
    cpu_mark(&c0);
    sleep_until(l.w1);
    cpu_mark(&c1);
    for (int i = 0; i < started; i++) pthread_join(w[i].th, NULL);
    const double window_s = (l.w1 - l.w0) / 1000.0, hz = (double)sysconf(_SC_CLK_TCK);
    const double nodes_cores = (c1.nodes - c0.nodes) / hz / window_s;
    const double self_cores = (c1.self_ms - c0.self_ms) / 1000.0 / window_s;
    const double stores_cores = (c1.stores - c0.stores) / hz / window_s;
    const double busy_cores = c1.total > c0.total ? (double)sysconf(_SC_NPROCESSORS_ONLN) * (c1.busy - c0.busy) /
                                                        (c1.total - c0.total) : 0;
    const double other_cores = busy_cores - nodes_cores - self_cores - stores_cores;
    if (started == LOAD_CONNS) {
        int total = 0, errors = 0, non2xx = 0;
        for (int i = 0; i < started; i++) total += w[i].n_lat;
        double *all = fr_malloc((size_t)(total ? total : 1) * sizeof(double));
        if (all) {
            int k = 0;
            for (int i = 0; i < started; i++) {
                memcpy(all + k, w[i].lat, (size_t)w[i].n_lat * sizeof(double));
                k += w[i].n_lat;
                errors += w[i].errors;
                non2xx += w[i].non2xx;
            }
            printf("| %s | %d | %.1f | %.1f | %.1f | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", label, total,
                   total / window_s, bench_pct(all, total, 0.50), bench_pct(all, total, 0.99), errors, non2xx,
                   nodes_cores, stores_cores, self_cores, other_cores > 0 ? other_cores : 0, busy_cores);
            fflush(stdout);
            fr_free(all);
            rc = errors || non2xx || !total ? -1 : 0;
        }
    } else {
        fail("cannot start the load threads");
    }
    for (int i = 0; i < started; i++) fr_free(w[i].lat);
    e2e_buf_free(&req);
    return rc;
}

/* ---- the three parts ---------------------------------------------------- */

static int stats_row(const char *store, double *ms, int n, double base50, double base99) {
    const double p50 = bench_pct(ms, n, 0.50), p99 = bench_pct(ms, n, 0.99);
    double mean = 0;
    for (int i = 0; i < n; i++) mean += ms[i];
    mean /= n > 0 ? n : 1;
    if (base50 > 0)
        printf("| %s | %d | %.1f | %.1f | %.1f | %.2f | %.2f |\n", store, n, p50, p99, mean, p50 / base50,
               p99 / base99);
    else
        printf("| %s | %d | %.1f | %.1f | %.1f | 1 | 1 |\n", store, n, p50, p99, mean);
    return 0;
}

/* Part 1 on nodes 0 (SQLite), 1 (PostgreSQL fsync=off), 2 (fsync=on). */
static int part_enrol(void) {
    static double ms[3][N_ENROL];
    /* which photos enrolment takes (tried on the SQLite node; also its warm-up) */
    for (int i = 0; i < N_PHOTOS; i++) {
        char name[32];
        snprintf(name, sizeof name, "probe-%d", i);
        int64_t s = subject_create(0, g_n[0].key, name);
        const int st = s > 0 ? enrol(0, g_n[0].key, s, &g_photo[i], NULL) : 0;
        if (st == 201) g_good[g_n_good++] = i;
        else printf("not enrolled (HTTP %d), left out: %s\n", st, g_photo[i].path);
    }
    if (g_n_good == 0) {
        fail("no photo was accepted for enrolment");
        return -1;
    }
    for (int n = 1; n < 3; n++) {   /* warm-up: the PostgreSQL nodes' first enrolment */
        int64_t s = subject_create(n, g_n[n].key, "warm-up");
        if (s <= 0 || enrol(n, g_n[n].key, s, &g_photo[g_good[0]], NULL) != 201) {
            fail("warm-up enrolment failed on a PostgreSQL node");
            return -1;
        }
    }
    for (int i = 0; i < N_ENROL; i++) {
        const struct photo *p = &g_photo[g_good[i % g_n_good]];
        for (int n = 0; n < 3; n++) {
            char name[32];
            snprintf(name, sizeof name, "enrol-%d", i);
            int64_t s = subject_create(n, g_n[n].key, name);
            int st = s > 0 ? enrol(n, g_n[n].key, s, p, &ms[n][i]) : 0;
            if (st != 201) {
                fprintf(stderr, "cluster bench: enrolment %d on node %d: HTTP %d (%s)\n", i, n, st, p->path);
                return -1;
            }
        }
    }
    printf("\nEnrolment latency by store: %d sequential enrolments each (POST /api/v1/subjects/{id}/faces, "
           "%d photos in turn, one connection per request), the three nodes taking turns; one node each, no "
           "Redis\n\n",
           N_ENROL, g_n_good);
    printf("| store | n | p50 ms | p99 ms | mean ms | p50 / SQLite | p99 / SQLite |\n|---|---|---|---|---|---|---|\n");
    double b50 = bench_pct(ms[0], N_ENROL, 0.50), b99 = bench_pct(ms[0], N_ENROL, 0.99);
    stats_row("SQLite (WAL, synchronous=FULL)", ms[0], N_ENROL, 0, 0);
    stats_row("PostgreSQL, fsync=off (test fixture)", ms[1], N_ENROL, b50, b99);
    stats_row("PostgreSQL, fsync=on (production setting)", ms[2], N_ENROL, b50, b99);
    fflush(stdout);
    return 0;
}

/* The person a fixture photo shows: its file name up to the last '_'. */
static void person_of(const char *path, char *out, size_t len) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *u = strrchr(b, '_');
    snprintf(out, len, "%.*s", (int)(u ? u - b : (long)strlen(b)), b);
}

/* GALLERY faces for the client of key, enrolled round-robin through
 * nodes[0..n), one subject per person of the photos; then every node's index
 * holds them (their count rises by GALLERY). The number of people, or -1. */
static int build_gallery(const int *nodes, int n, const char *key) {
    long base[3];
    for (int k = 0; k < n; k++) base[k] = index_faces(nodes[k]);
    int64_t subj[N_PHOTOS] = { 0 };
    char who[N_PHOTOS][64];
    for (int i = 0; i < g_n_good; i++) person_of(g_photo[g_good[i]].path, who[i], sizeof who[i]);
    for (int i = 0; i < GALLERY; i++) {
        const int g = i % g_n_good, node = nodes[i % n];
        int first = g;   /* the first good photo of the same person holds the subject */
        for (int k = 0; k < g; k++)
            if (!strcmp(who[k], who[g])) { first = k; break; }
        if (!subj[first] && (subj[first] = subject_create(node, key, who[g])) <= 0) {
            fail("gallery subject create failed");
            return -1;
        }
        if (enrol(node, key, subj[first], &g_photo[g_good[g]], NULL) != 201) {
            fail("gallery enrolment failed");
            return -1;
        }
    }
    for (int k = 0; k < n; k++) {
        const double end = fr_time_ms() + 10000;
        while (index_faces(nodes[k]) < base[k] + GALLERY && fr_time_ms() < end) usleep(20000);
        if (index_faces(nodes[k]) < base[k] + GALLERY) {
            fail("a node's index did not reach the gallery's size");
            return -1;
        }
    }
    int persons = 0;
    for (int i = 0; i < g_n_good; i++) persons += subj[i] > 0;
    return persons;
}

/* Part 2: the reference, one node on SQLite without Redis (node 0, a client
 * of its own), then the cluster, nodes 3..5 with the cluster's client. */
static int part_identify(void) {
    static const int sqlite_node[1] = { 0 }, cluster[3] = { 3, 4, 5 };
    const int persons = build_gallery(cluster, 3, g_n[3].key);
    if (persons < 0 || build_gallery(sqlite_node, 1, g_n[0].key) < 0) return -1;
    struct photo *q = NULL;
    for (int i = 0; i < N_PHOTOS; i++)
        if (!strcmp(g_photo[i].path, LOAD_QUERY)) q = &g_photo[i];
    for (int n = 0; n < N_NODES; n++) {
        if (n >= 1 && n <= 2) continue;
        const int64_t found = identify(n, g_n[n].key, q);
        if (found <= 0) {
            fprintf(stderr, "cluster bench: identify on node %d before the load: %s\n", n,
                    found ? "failed" : "nobody found");
            return -1;
        }
    }
    printf("\nIdentify (photo %s, one face, answered \"match\") against a gallery of %d faces of %d people "
           "(the client's collection): %d client threads, each with one keep-alive connection per node, requests "
           "round-robin over the nodes; %d s warm-up, %d s measured. Nodes, PostgreSQL, Redis and the load "
           "generator share %ld cores; all four facerec nodes run throughout (the unused ones idle)\n\n",
           strrchr(q->path, '/') + 1, GALLERY, persons, LOAD_CONNS, WARM_S, LOAD_S, sysconf(_SC_NPROCESSORS_ONLN));
    printf("CPU in the window, in cores: the facerec processes (all four), PostgreSQL (all its processes) + "
           "Redis, this load generator, the rest of the machine (other processes, the kernel), the machine in "
           "all\n\n");
    printf("| nodes | requests | requests/s | p50 ms | p99 ms | errors | non-200 | CPU facerec | CPU PostgreSQL + "
           "Redis | CPU load generator | CPU other | CPU machine |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    int rc = load_run(sqlite_node, 1, "1, SQLite, no Redis (reference)", q, g_n[0].key);
    rc |= load_run(cluster, 1, "1, PostgreSQL + Redis", q, g_n[3].key);
    rc |= load_run(cluster, 2, "2, PostgreSQL + Redis", q, g_n[3].key);
    rc |= load_run(cluster, 3, "3, PostgreSQL + Redis", q, g_n[3].key);
    return rc;
}

/* Watches node B's index (GET /status every POLL_MS) from before A's
 * enrolment starts until it holds more than `before` faces: t_vis is the end
 * of the first answer that shows the new face. */
struct watch {
    long before;
    double t_vis;                 /* 0: not seen within VISIBLE_WAIT_MS */
    int polls;
};

static void *watch_main(void *arg) {
    struct watch *w = arg;
    const double t0 = fr_time_ms();
    while (fr_time_ms() - t0 < VISIBLE_WAIT_MS) {
        const long f = index_faces(4);
        w->polls++;
        if (f > w->before) {
            w->t_vis = fr_time_ms();
            return NULL;
        }
        usleep(POLL_MS * 1000);
    }
    return NULL;
}

/* Part 3: enrolled on A (node 3), visible on B (node 4). */
static int part_visible(void) {
    const char *key = g_n[3].key;
    static double after_ack[N_VISIBLE], after_send[N_VISIBLE], enrol_ms[N_VISIBLE];
    struct photo pe = { VIS_ENROL, NULL, 0 }, pq = { VIS_QUERY, NULL, 0 };
    int rc = -1, before_ack = 0, wrong = 0;
    if (fr_file_read(pe.path, 1 << 24, &pe.data, &pe.len) < 0 || fr_file_read(pq.path, 1 << 24, &pq.data, &pq.len) < 0) {
        fail("cannot read the Colin Powell photos");
        goto out;
    }
    for (int i = 0; i < N_VISIBLE; i++) {
        char name[32];
        snprintf(name, sizeof name, "visible-%d", i);
        int64_t s = subject_create(3, key, name);
        struct watch w = { .before = index_faces(4) };
        pthread_t th;
        if (s <= 0 || w.before < 0 || pthread_create(&th, NULL, watch_main, &w) != 0) {
            fail("subject create, /status or the watch thread failed");
            goto out;
        }
        const double t_send = fr_time_ms();
        double ms = 0;
        const int st = enrol(3, key, s, &pe, &ms);
        const double t_ack = t_send + ms;
        pthread_join(th, NULL);
        if (st != 201) {
            fail("enrolment on node A failed");
            goto out;
        }
        if (w.t_vis <= 0) {
            fail("the face did not reach node B's index within 10 s");
            goto out;
        }
        after_ack[i] = w.t_vis - t_ack;
        after_send[i] = w.t_vis - t_send;
        enrol_ms[i] = ms;
        before_ack += w.t_vis < t_ack;
        wrong += identify(4, key, &pq) != s;   /* B finds the new subject */
        /* gone from B's index before the next sample (the same person again) */
        if (subject_delete(3, key, s) < 0) {
            fail("subject delete failed");
            goto out;
        }
        const double t_del = fr_time_ms();
        while (index_faces(4) > w.before && fr_time_ms() - t_del < VISIBLE_WAIT_MS) usleep(5000);
    }
    const double a50 = bench_pct(after_ack, N_VISIBLE, 0.50), a99 = bench_pct(after_ack, N_VISIBLE, 0.99);
    const double a_max = after_ack[N_VISIBLE - 1];
    const double s50 = bench_pct(after_send, N_VISIBLE, 0.50), s99 = bench_pct(after_send, N_VISIBLE, 0.99);
    const double s_max = after_send[N_VISIBLE - 1];
    const double e50 = bench_pct(enrol_ms, N_VISIBLE, 0.50), e99 = bench_pct(enrol_ms, N_VISIBLE, 0.99);
    printf("\nEnrolled on node A, in node B's index: B's GET /status (index.details.faces) polled every %d ms from "
           "before A's request starts until it shows the face; the time is the end of the first answer that "
           "shows it; %d samples\n\n", POLL_MS, N_VISIBLE);
    printf("| measured from | p50 ms | p99 ms | max ms |\n|---|---|---|---|\n");
    printf("| the enrolment request's start (A) | %.1f | %.1f | %.1f |\n", s50, s99, s_max);
    printf("| A's 201 (negative: B showed it first) | %.1f | %.1f | %.1f |\n", a50, a99, a_max);
    printf("| (the enrolment itself, A's 201) | %.1f | %.1f | |\n", e50, e99);
    printf("\nB showed the face before A's 201 arrived: %d of %d; identify on B then matched the new subject %d of "
           "%d times\n", before_ack, N_VISIBLE, N_VISIBLE - wrong, N_VISIBLE);
    rc = wrong ? -1 : 0;
out:
    fr_free(pe.data);
    fr_free(pq.data);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

static void cleanup(void) {
    for (int n = N_NODES - 1; n >= 0; n--) node_stop(n);
    if (g_redis.pid > 0 || g_redis.dir[0]) redis_server_cleanup(&g_redis);
#ifdef FR_WITH_PG
    pg_fixture_stop(&g_pg);
    pg_fixture_stop(&g_pgd);
#endif
    for (int i = 0; i < N_PHOTOS; i++) fr_free(g_photo[i].data);
}

int main(void) {
    char cpu[256];
    bench_cpu_model(cpu, sizeof cpu);
    printf("several nodes (PostgreSQL + Redis), CPU: %s (%ld cores)\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    json_set_alloc_funcs(fr_malloc, fr_free);
#ifndef FR_WITH_PG
    printf("skipped: built without PostgreSQL (WITH_PG=no)\n");
    return 0;
#else
    if (!e2e_have_models()) {
        printf("skipped: the models are missing (make models)\n");
        return 0;
    }
    if (!redis_server_found()) {
        printf("skipped: redis-server is missing (make deps)\n");
        return 0;
    }
    const double t_start = fr_time_ms();
    int rc = 1;
    char why[256], url_pg[256], url_pgd[256], url_redis[256], env[6][320];
    for (int i = 0; i < N_PHOTOS; i++) {
        g_photo[i].path = PHOTOS[i];
        if (fr_file_read(PHOTOS[i], 1 << 24, &g_photo[i].data, &g_photo[i].len) < 0) {
            fprintf(stderr, "cluster bench: cannot read %s (run from the repository root)\n", PHOTOS[i]);
            goto out;
        }
    }
    int pg = pg_fixture_start(&g_pg, why, sizeof why);
    if (pg == 0) {
        printf("skipped: %s\n", why);
        rc = 0;
        goto out;
    }
    if (pg < 0 || pg_fixture_create_db(&g_pg, url_pg, sizeof url_pg) < 0) { fail(why); goto out; }
    if (pg_fixture_start_opts(&g_pgd, 1, why, sizeof why) != 1 || pg_fixture_create_db(&g_pgd, url_pgd, sizeof url_pgd) < 0) {
        fail(why);
        goto out;
    }
    printf("PostgreSQL: %s/postgres; store files under /tmp\n", g_pg.bin);
    /* part 1: one node per store, no Redis */
    snprintf(env[0], sizeof env[0], "FACEREC_DATABASE_URL=%s", url_pg);
    snprintf(env[1], sizeof env[1], "FACEREC_DATABASE_URL=%s", url_pgd);
    const char *const env_sqlite[] = { NULL }, *const env_pg[] = { env[0], NULL }, *const env_pgd[] = { env[1], NULL };
    if (node_start(0, env_sqlite) < 0 || node_start(1, env_pg) < 0 || node_start(2, env_pgd) < 0) {
        fail("a node did not start");
        goto out;
    }
    if (node_client(0) < 0 || node_client(1) < 0 || node_client(2) < 0) { fail("client create"); goto out; }
    if (part_enrol() < 0) goto out;
    node_stop(1);   /* the SQLite node stays: the reference of part 2 */
    node_stop(2);
    pg_fixture_stop(&g_pgd);
    /* parts 2 and 3: three nodes on the fsync=off database (part 1's faces stay there, in another client's
     * collection) and Redis; the SQLite node stays for part 2's reference */
    if (redis_server_start(&g_redis, NULL) < 0) { fail("redis-server did not start"); goto out; }
    redis_server_url(&g_redis, 0, url_redis, sizeof url_redis);
    static const char *const ids[3] = { "node-a", "node-b", "node-c" };
    for (int i = 0; i < 3; i++) {
        snprintf(env[2], sizeof env[2], "FACEREC_REDIS_URL=%s", url_redis);
        snprintf(env[3], sizeof env[3], "FACEREC_NODE_ID=%s", ids[i]);
        snprintf(env[4], sizeof env[4], "FACEREC_ADMIN_TOKEN=%s", i ? g_n[3].s.token : "");
        const char *const e[] = { env[0], env[2], env[3], i ? env[4] : NULL, NULL };
        if (node_start(3 + i, e) < 0) { fail("a cluster node did not start"); goto out; }
    }
    /* the cluster's own client: its gallery is its own collection, apart from part 1's faces */
    if (node_client(3) < 0 || node_client(0) < 0) { fail("client create"); goto out; }
    snprintf(g_n[4].key, sizeof g_n[4].key, "%s", g_n[3].key);
    snprintf(g_n[5].key, sizeof g_n[5].key, "%s", g_n[3].key);
    for (double end = fr_time_ms() + 10000; live_nodes(3) < 3 && fr_time_ms() < end;) usleep(100000);
    if (live_nodes(3) < 3) { fail("the registry does not list three nodes"); goto out; }
    if (part_identify() < 0 || part_visible() < 0) goto out;
    rc = 0;
    printf("\ncluster bench: %.0f s in all\n", (fr_time_ms() - t_start) / 1000);
out:
    cleanup();
    return rc;
#endif
}
