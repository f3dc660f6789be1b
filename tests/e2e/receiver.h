/* The webhook receiver (tests/e2e/webhook_receiver.py) as a child process,
 * for the e2e tests that need a real HTTP endpoint to deliver to (webhooks,
 * camera-session callbacks): started on a loopback port, scripted through its
 * /_control endpoint, read back through /_log, stopped by its PID. Every
 * started receiver is registered, so that one a failed test left behind is
 * still stopped (receivers_cleanup_others). Include after harness.h and e2e.h.
 *
 *     static struct receiver rv;                  // static: see the registry
 *     receiver_start(&rv, 0, NULL);               // any port; rv.port
 *     rv_control(&rv, "{\"path\":\"/a\",\"responses\":[{\"status\":500}]}");
 *     json_t *lines = rv_wait(&rv, "/a", 1, 5000); // what it recorded at /a
 *     receiver_cleanup(&rv);                      // SIGTERM, rm -rf its dir
 */
#ifndef FR_TESTS_E2E_RECEIVER_H
#define FR_TESTS_E2E_RECEIVER_H

#ifndef RECEIVER_PY
#define RECEIVER_PY "tests/e2e/webhook_receiver.py"
#endif
#ifndef UNCONST
#define UNCONST(s) ((char *)(uintptr_t)(s))
#endif

struct receiver {
    pid_t pid;              /* 0: not running */
    int port;
    char dir[128];          /* mkdtemp: receiver.log (its JSON lines), receiver.err */
    char log[160];
    char err[160];
};

#define MAX_RECEIVERS 8
static struct receiver *g_receivers[MAX_RECEIVERS];

/* Start (or restart) rv on port (0: any; the receiver prints the one it got),
 * verifying with secret (NULL: none yet; /_control sets them). 0 or -1. */
static inline int receiver_start(struct receiver *rv, int port, const char *secret) {
    if (!rv->dir[0]) {
        snprintf(rv->dir, sizeof rv->dir, "/tmp/facerec-whrecv-XXXXXX");
        if (!mkdtemp(rv->dir)) return -1;
        snprintf(rv->log, sizeof rv->log, "%s/receiver.log", rv->dir);
        snprintf(rv->err, sizeof rv->err, "%s/receiver.err", rv->dir);
        for (int i = 0; i < MAX_RECEIVERS; i++) {
            if (!g_receivers[i] || g_receivers[i] == rv) {
                g_receivers[i] = rv;
                break;
            }
        }
    }
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        close(pfd[1]);
        int fd = open(rv->err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);    /* never outlive the tests */
        char *argv[] = {UNCONST("python3"), UNCONST(RECEIVER_PY), UNCONST("--port"), ports,
                        UNCONST("--log"), rv->log, UNCONST(secret ? "--secret" : NULL),
                        UNCONST(secret), NULL};
        execvp("python3", argv);
        fprintf(stderr, "cannot exec python3: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    rv->pid = pid;
    char line[32] = "";
    size_t n = 0;
    double until = fr_time_ms() + 15000;
    while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
        int left = (int)(until - fr_time_ms());
        if (left <= 0) break;
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, left) <= 0) continue;
        ssize_t got = read(pfd[0], line + n, sizeof line - 1 - n);
        if (got <= 0) break;
        n += (size_t)got;
        line[n] = '\0';
    }
    close(pfd[0]);
    rv->port = atoi(line);
    if (rv->port <= 0 || (port && rv->port != port)) {
        fprintf(stderr, "receiver: no port on its first line (got \"%s\"); its stderr:\n", line);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "tail -c 2000 %s >&2", rv->err);
        if (system(cmd) != 0) fprintf(stderr, "(none)\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rv->pid = 0;
        return -1;
    }
    return 0;
}

/* SIGTERM, at most 5 s, then SIGKILL. */
static inline void receiver_stop(struct receiver *rv) {
    if (rv->pid <= 0) return;
    kill(rv->pid, SIGTERM);
    int st;
    double t0 = fr_time_ms();
    while (waitpid(rv->pid, &st, WNOHANG) != rv->pid) {
        if (fr_time_ms() - t0 > 5000) {
            fprintf(stderr, "receiver %d did not stop on SIGTERM: killed\n", (int)rv->pid);
            kill(rv->pid, SIGKILL);
            waitpid(rv->pid, &st, 0);
            break;
        }
        usleep(20 * 1000);
    }
    rv->pid = 0;
}

static inline void receiver_cleanup(struct receiver *rv) {
    receiver_stop(rv);
    if (rv->dir[0] && !getenv("E2E_KEEP")) nftw(rv->dir, e2e_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    rv->dir[0] = '\0';
    for (int i = 0; i < MAX_RECEIVERS; i++) if (g_receivers[i] == rv) g_receivers[i] = NULL;
}

static inline void receivers_cleanup_others(const struct receiver *keep) {
    for (int i = 0; i < MAX_RECEIVERS; i++)
        if (g_receivers[i] && g_receivers[i] != keep) receiver_cleanup(g_receivers[i]);
}

/* POST /_control with a JSON body built by fmt. */
static inline void rv_control(const struct receiver *rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void rv_control(const struct receiver *rv, const char *fmt, ...) {
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    struct e2e_resp r;
    e2e_http(rv->port, "POST", "/_control", NULL, "application/json", body, strlen(body), &r);
    if (r.status != 200) fail_msg("receiver /_control %s → %d %s", body, r.status, r.body ? r.body : "");
    e2e_resp_free(&r);
}

/* What the receiver recorded at path: an array of its JSON lines (decref). */
static inline json_t *rv_lines(const struct receiver *rv, const char *path) {
    char q[256];
    snprintf(q, sizeof q, "/_log?path=%s", path);
    struct e2e_resp r;
    e2e_http(rv->port, "GET", q, NULL, NULL, NULL, 0, &r);
    if (r.status != 200) fail_msg("receiver /_log → %d", r.status);
    json_t *a = json_array();
    for (char *line = r.body; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        json_t *j = json_loadb(line, l, 0, NULL);
        if (j) json_array_append_new(a, j);
        line = nl ? nl + 1 : NULL;
    }
    e2e_resp_free(&r);
    return a;
}

/* The lines at path once there are at least n, or what there is after ms. */
static inline json_t *rv_wait(const struct receiver *rv, const char *path, size_t n, int ms) {
    double until = fr_time_ms() + ms;
    for (;;) {
        json_t *a = rv_lines(rv, path);
        if (json_array_size(a) >= n || fr_time_ms() > until) return a;
        json_decref(a);
        usleep(25 * 1000);
    }
}

static inline size_t rv_count(const struct receiver *rv, const char *path) {
    json_t *a = rv_lines(rv, path);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

#endif
