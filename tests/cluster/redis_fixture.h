/* A real redis-server (Debian's redis-server package, Redis 7) as a child
 * process, for the cluster tests and later the multi-node end-to-end tests:
 * a fresh temporary folder, a free loopback port and a unix socket in that
 * folder, nothing saved (--save '' --appendonly no), stopped by its PID,
 * every wait bounded.
 *
 *     struct redis_server s;
 *     if (!redis_server_found()) { skip(); }              // says why on stderr
 *     if (redis_server_start(&s, "secret") < 0) ...;      // NULL: no password
 *     char url[512];
 *     redis_server_url(&s, 0, url, sizeof url);           // redis://:secret@127.0.0.1:<port>/0
 *     redis_server_signal(&s, SIGSTOP);                   // freeze it; SIGCONT thaws it
 *     redis_server_stop(&s, SIGKILL);                     // dies abruptly; the folder stays
 *     redis_server_restart(&s);                           // same port, socket and password
 *     redis_server_cleanup(&s);                           // stops it, removes the folder
 */
#ifndef FR_TEST_REDIS_FIXTURE_H
#define FR_TEST_REDIS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "facerec/base.h"
#include "sessions/rtsp_fixture.h"   /* its child-process helpers */

struct redis_server {
    pid_t pid;                      /* -1 when not running */
    int port;                       /* 127.0.0.1:port */
    char dir[64];                   /* its folder (logfile redis.log) */
    char sock[128];                 /* dir/redis.sock */
    char password[64];              /* "" = none */
};

/* redis-server on PATH? Prints why not when it is missing. */
static inline int redis_server_found(void) {
    if (system("command -v redis-server >/dev/null 2>&1") == 0) return 1;
    fprintf(stderr, "redis-server not installed (Debian: redis-server; make deps): skipped\n");
    return 0;
}

/* A hiredis connection to the server's socket, authenticated, on db (NULL
 * when it does not answer PONG): for tests that look behind the client. */
static inline redisContext *redis_server_raw(const struct redis_server *s, int db) {
    struct timeval tv = { 0, 300000 };
    redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
    if (!c || c->err) goto fail;
    redisSetTimeout(c, tv);
    redisReply *r;
    if (s->password[0]) {
        if (!(r = redisCommand(c, "AUTH %s", s->password))) goto fail;
        freeReplyObject(r);
    }
    if (db) {
        if (!(r = redisCommand(c, "SELECT %d", db))) goto fail;
        freeReplyObject(r);
    }
    if (!(r = redisCommand(c, "PING"))) goto fail;
    int ok = r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
    freeReplyObject(r);
    if (ok) return c;
fail:
    if (c) redisFree(c);
    return NULL;
}

/* Sends sig (after SIGCONT, in case it was stopped), waits up to 3 s, then
 * SIGKILL; the child is reaped either way. The folder stays. */
static inline void redis_server_stop(struct redis_server *s, int sig) {
    struct rtsp_server child = { s->pid, s->port };   /* the same child-process stop */
    rtsp_server_stop(&child, sig);
    s->pid = -1;
}

/* SIGSTOP / SIGCONT. */
static inline void redis_server_signal(struct redis_server *s, int sig) {
    if (s->pid > 0) kill(s->pid, sig);
}

/* Starts redis-server on s->port, s->sock and s->dir as they are and waits
 * (5 s at most) until it answers PING. */
static inline int redis_server_restart(struct redis_server *s) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* a test that dies (a failed assert) leaves no server behind */
        char port[16], log[128];
        snprintf(port, sizeof port, "%d", s->port);
        snprintf(log, sizeof log, "%s/redis.log", s->dir);
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) {
            dup2(dn, 0);
            dup2(dn, 1);
            dup2(dn, 2);
        }
        const char *argv[32] = { "redis-server", "--port", port, "--bind", "127.0.0.1", "--unixsocket", s->sock,
                                 "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", s->dir,
                                 "--logfile", log, "--daemonize", "no" };
        int n = 19;
        if (s->password[0]) {
            argv[n++] = "--requirepass";
            argv[n++] = s->password;
        }
        argv[n] = NULL;
        execvp("redis-server", (char **)(uintptr_t)argv);
        _exit(127);
    }
    s->pid = pid;
    double end = fr_time_ms() + 5000;
    while (fr_time_ms() < end) {
        redisContext *c = redis_server_raw(s, 0);
        if (c) {
            redisFree(c);
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = -1;
            fprintf(stderr, "redis-server exited at start (see %s/redis.log)\n", s->dir);
            return -1;
        }
        usleep(20000);
    }
    fprintf(stderr, "redis-server did not answer within 5 s (see %s/redis.log)\n", s->dir);
    redis_server_stop(s, SIGKILL);
    return -1;
}

/* A fresh server: a new folder under /tmp, a free port, password (NULL or
 * "" for none). On failure nothing is left running. */
static inline int redis_server_start(struct redis_server *s, const char *password) {
    memset(s, 0, sizeof *s);
    s->pid = -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/fr-redis-XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir);
    snprintf(s->password, sizeof s->password, "%s", password ? password : "");
    if ((s->port = rtsp_free_port()) <= 0) return -1;
    return redis_server_restart(s);
}

/* Stops the server (SIGTERM) and removes its folder. */
static inline void redis_server_cleanup(struct redis_server *s) {
    redis_server_stop(s, SIGTERM);
    if (s->dir[0]) {
        char path[160];
        snprintf(path, sizeof path, "%s/redis.log", s->dir);
        unlink(path);
        unlink(s->sock);
        rmdir(s->dir);
        s->dir[0] = 0;
    }
}

/* redis://[:password@]127.0.0.1:port/db */
static inline void redis_server_url(const struct redis_server *s, int db, char *out, size_t len) {
    if (s->password[0]) snprintf(out, len, "redis://:%s@127.0.0.1:%d/%d", s->password, s->port, db);
    else snprintf(out, len, "redis://127.0.0.1:%d/%d", s->port, db);
}

#endif
