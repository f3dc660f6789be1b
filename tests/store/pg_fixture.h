/* A real PostgreSQL server for tests, started and stopped by the test
 * itself: initdb in a temporary folder, then the postgres binary on a free
 * loopback port (its unix socket in the same folder), run as "nobody"
 * when the test runs as root (PostgreSQL refuses to run as root), and
 * stopped by its PID at the end. It dies with the test (PR_SET_PDEATHSIG)
 * if the test is killed first.
 *
 *   struct pg_fixture pg;
 *   char why[256], url[256];
 *   int rc = pg_fixture_start(&pg, why, sizeof why);
 *   if (rc == 0) printf("skipped: %s\n", why);      // PostgreSQL not installed
 *   else if (rc < 0) fail(why);
 *   pg_fixture_create_db(&pg, url, sizeof url);     // a fresh database: "postgresql://..."
 *   ... fr_store_open(url, &st) ...
 *   pg_fixture_drop_db(&pg, url);
 *   pg_fixture_stop(&pg);
 *
 * The binaries are Debian's (/usr/lib/postgresql/<version>/bin, newest
 * first), or FR_PG_BIN's. The server runs with fsync=off: it is thrown away
 * at the end, and no test kills the server itself (what a store call
 * acknowledged is committed in the server either way). Needs libpq (the
 * test links it with facerec when built with FR_WITH_PG). */
#ifndef FR_TESTS_PG_FIXTURE_H
#define FR_TESTS_PG_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pg_fixture {
    pid_t pid;                   /* the postmaster; 0 when not running */
    int port;
    char dir[64];                /* temporary folder: data/, the socket, postgres.log */
    char bin[200];               /* folder of initdb and postgres */
    uid_t uid;                   /* the user the server runs as */
    gid_t gid;
    int n_db;                    /* databases made so far (their names: fr_1, fr_2, ...) */
    int durable;                 /* fsync and full_page_writes on (PostgreSQL's defaults) */
};

static inline int pgfx_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int pgfx_why(char *why, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The folder holding initdb and postgres, or 0 when none is installed. */
static inline int pgfx_find_bin(struct pg_fixture *pg) {
    char path[256];
    const char *env = getenv("FR_PG_BIN");
    if (env && env[0]) {
        snprintf(pg->bin, sizeof pg->bin, "%s", env);
        snprintf(path, sizeof path, "%s/initdb", pg->bin);
        return access(path, X_OK) == 0;
    }
    for (int v = 20; v >= 12; v--) {
        snprintf(pg->bin, sizeof pg->bin, "/usr/lib/postgresql/%d/bin", v);
        snprintf(path, sizeof path, "%s/initdb", pg->bin);
        if (access(path, X_OK) == 0) return 1;
    }
    return 0;
}

/* A loopback port nothing listens on now. */
static inline int pgfx_free_port(void) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Run argv as the server's user with output to dir/postgres.log. wait: 1
 * waits and returns the exit status; 0 returns the child's pid. */
static pid_t pgfx_spawn(struct pg_fixture *pg, char *const argv[], int wait) {
    char log[128];
    snprintf(log, sizeof log, "%s/postgres.log", pg->dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (getuid() == 0 && (setgroups(0, NULL) < 0 || setgid(pg->gid) < 0 || setuid(pg->uid) < 0)) _exit(126);
        if (!wait) prctl(PR_SET_PDEATHSIG, SIGQUIT);   /* after setuid, which clears it */
        execv(argv[0], argv);
        _exit(127);
    }
    if (!wait) return pid;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static inline int pgfx_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* A connection string for database db of the server. */
static inline void pgfx_conninfo(const struct pg_fixture *pg, const char *db, char *out, size_t len) {
    snprintf(out, len, "host=127.0.0.1 port=%d user=facerec dbname=%s connect_timeout=5", pg->port, db);
}

static inline void pg_fixture_stop(struct pg_fixture *pg) {
    if (pg->pid > 0) {
        int status;
        kill(pg->pid, SIGINT);   /* fast shutdown: ends the sessions, then exits */
        for (int i = 0; i < 1000 && waitpid(pg->pid, &status, WNOHANG) == 0; i++) usleep(10000);
        if (waitpid(pg->pid, &status, WNOHANG) == 0) {
            kill(pg->pid, SIGKILL);
            waitpid(pg->pid, &status, 0);
        }
        pg->pid = 0;
    }
    if (pg->dir[0]) nftw(pg->dir, pgfx_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    pg->dir[0] = 0;
}

/* Start postgres on pg's data and port and wait up to 30 s for it to
 * answer. 1 running; 0 it exited at start (pg->pid 0); -1 it did not
 * answer (it is still running: the caller stops it). */
static inline int pgfx_launch(struct pg_fixture *pg, char *why, size_t len) {
    char data[96], port[16], sock[96], conninfo[160], postgres[256];
    snprintf(data, sizeof data, "%s/data", pg->dir);
    snprintf(port, sizeof port, "%d", pg->port);
    snprintf(sock, sizeof sock, "%s", pg->dir);
    snprintf(postgres, sizeof postgres, "%s/postgres", pg->bin);
    const char *sync = pg->durable ? "fsync=on" : "fsync=off";
    const char *fpw = pg->durable ? "full_page_writes=on" : "full_page_writes=off";
    char *const pg_argv[] = { postgres, "-D", data, "-p", port, "-k", sock, "-c", "listen_addresses=127.0.0.1",
                              "-c", (char *)(uintptr_t)sync, "-c", (char *)(uintptr_t)fpw, "-c",
                              "max_connections=200", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning",
                              NULL };
    pg->pid = pgfx_spawn(pg, pg_argv, 0);
    if (pg->pid < 0) {
        pg->pid = 0;
        return pgfx_why(why, len, "fork: %s", strerror(errno));
    }
    pgfx_conninfo(pg, "postgres", conninfo, sizeof conninfo);
    for (int i = 0; i < 3000; i++) {   /* up to 30 s */
        int status;
        if (PQping(conninfo) == PQPING_OK) return 1;
        if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
            pg->pid = 0;
            pgfx_why(why, len, "postgres exited at start (see %s/postgres.log)", pg->dir);
            return 0;
        }
        usleep(10000);
    }
    return pgfx_why(why, len, "postgres did not answer within 30 s");
}

/* 1: running; 0: PostgreSQL is not installed (why says so: skip); -1: it
 * is installed but did not start (why says why, with the log's path).
 * durable: fsync and full_page_writes on, as in production (the tests run
 * without: the server is thrown away at the end). */
static inline int pg_fixture_start_opts(struct pg_fixture *pg, int durable, char *why, size_t len) {
    char data[96];
    memset(pg, 0, sizeof *pg);
    pg->durable = durable;
    if (!pgfx_find_bin(pg)) {
        snprintf(why, len, "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; "
                           "tools/deps.sh installs postgresql-15)");
        return 0;
    }
    pg->uid = getuid();
    pg->gid = getgid();
    if (getuid() == 0) {   /* postgres refuses root: run it as nobody */
        struct passwd *pw = getpwnam("nobody");
        if (!pw) return pgfx_why(why, len, "running as root and there is no user 'nobody' to run PostgreSQL as");
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
    }
    snprintf(pg->dir, sizeof pg->dir, "/tmp/fr_pg_XXXXXX");
    if (!mkdtemp(pg->dir)) {
        pg->dir[0] = 0;
        return pgfx_why(why, len, "mkdtemp: %s", strerror(errno));
    }
    if (chown(pg->dir, pg->uid, pg->gid) < 0) {
        pg_fixture_stop(pg);
        return pgfx_why(why, len, "chown %s: %s", pg->dir, strerror(errno));
    }
    snprintf(data, sizeof data, "%s/data", pg->dir);
    char initdb[256];
    snprintf(initdb, sizeof initdb, "%s/initdb", pg->bin);
    char *const init_argv[] = { initdb, "-D", data, "-U", "facerec", "-A", "trust", "-E", "UTF8",
                                "--no-sync", "--no-instructions", NULL };
    int st = pgfx_spawn(pg, init_argv, 1);
    if (st != 0) {
        int rc = pgfx_why(why, len, "initdb exited with %d (see %s/postgres.log)", st, pg->dir);
        pg->dir[0] = 0;   /* keep the log for a look */
        return rc;
    }
    pg->port = pgfx_free_port();
    int rc = pgfx_launch(pg, why, len);
    if (rc == 1) return 1;
    if (rc == 0) pg->dir[0] = 0;   /* exited at start: keep the log for a look */
    pg_fixture_stop(pg);
    return -1;
}

static inline int pg_fixture_start(struct pg_fixture *pg, char *why, size_t len) {
    return pg_fixture_start_opts(pg, 0, why, len);
}

/* The server killed with SIGKILL (its backends follow), then started again
 * on the same data and port: crash recovery from its WAL. 1 running again,
 * -1 not (why says why). */
static inline int pg_fixture_kill_restart(struct pg_fixture *pg, char *why, size_t len) {
    if (pg->pid > 0) {
        kill(pg->pid, SIGKILL);
        waitpid(pg->pid, NULL, 0);
        pg->pid = 0;
    }
    /* the killed server's backends may hold its shared memory for a moment: try again for 20 s */
    for (int attempt = 0; attempt < 40; attempt++) {
        int rc = pgfx_launch(pg, why, len);
        if (rc != 0) return rc;
        usleep(500000);
    }
    return pgfx_why(why, len, "postgres did not start again (see %s/postgres.log)", pg->dir);
}

/* Run one statement on database db; 0 or -1 (the message on stderr). */
static inline int pgfx_admin(const struct pg_fixture *pg, const char *db, const char *sql) {
    char conninfo[160];
    pgfx_conninfo(pg, db, conninfo, sizeof conninfo);
    PGconn *c = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
        if (rc < 0) fprintf(stderr, "pg_fixture: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "pg_fixture: connect: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return rc;
}

/* A new, empty database; url gets its "postgresql://" URL. 0 or -1. */
static inline int pg_fixture_create_db(struct pg_fixture *pg, char *url, size_t len) {
    char sql[96];
    int n = ++pg->n_db;
    snprintf(sql, sizeof sql, "CREATE DATABASE fr_%d TEMPLATE template0", n);
    if (pgfx_admin(pg, "postgres", sql) < 0) return -1;
    snprintf(url, len, "postgresql://facerec@127.0.0.1:%d/fr_%d", pg->port, n);
    return 0;
}

/* Drop the database of a URL that pg_fixture_create_db gave (its
 * connections, a killed child's included, are ended first). */
static inline void pg_fixture_drop_db(struct pg_fixture *pg, const char *url) {
    const char *db = strrchr(url, '/');
    char sql[96];
    if (!db || strncmp(db, "/fr_", 4) != 0) return;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.40s WITH (FORCE)", db + 1);
    pgfx_admin(pg, "postgres", sql);
}

/* End every session connected to the database of url (as a server restart
 * or a network cut would, from the client's side). 0 or -1. */
static inline int pg_fixture_kill_sessions(struct pg_fixture *pg, const char *url) {
    const char *db = strrchr(url, '/');
    char sql[160];
    if (!db || strncmp(db, "/fr_", 4) != 0) return -1;
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%.40s'",
             db + 1);
    return pgfx_admin(pg, "postgres", sql);
}

#endif
