/* The SQLite backend of the store: one file dir/facerec.db in WAL mode.
 *
 * Design. One connection, guarded by one recursive mutex, with every
 * statement prepared once and kept (the statement table below). One
 * connection is the simplest thing that is correct: SQLite allows one writer
 * at a time anyway, and a single connection makes the last-insert id and
 * changes() counts exact. The mutex is recursive so that fr_store_tx_begin
 * can keep it for the whole of a caller's transaction while the calls inside
 * it lock it again. Calls that change more than one row open a transaction
 * (BEGIN IMMEDIATE at the outside, so a second process never fails half-way
 * with SQLITE_BUSY on upgrade; a SAVEPOINT when nested).
 *
 * Durability: journal_mode=WAL with synchronous=FULL syncs the WAL on every
 * commit, so a commit that returned survives kill -9 and power loss
 * (NORMAL, the usual WAL choice, may lose the last commits on power loss).
 *
 * Errors: SQLite's codes become fr_err codes in sq_err(); the detail keeps
 * SQLite's message. Uniqueness and foreign-key failures are mapped by each
 * call to the words the API needs ("external_id", subject not found). */
#include "store/store_int.h"
#include "store/sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BUSY_TIMEOUT_MS 5000
#define DB_FILE "facerec.db"
#define CACHE_KIB "65536"         /* page cache, KiB */

/* Every statement the backend runs, prepared on first use. */
#define FACE_COLS "id, client_id, subject_id, embedding, model_id, quality, liveness, " \
                  "bbox_x, bbox_y, bbox_w, bbox_h, image_sha256, image IS NOT NULL, created_at"
#define SUBJECT_COLS "s.id, s.client_id, s.external_id, s.name, s.metadata, s.created_at, " \
                     "s.updated_at, (SELECT count(*) FROM faces f WHERE f.client_id = s.client_id " \
                     "AND f.subject_id = s.id)"
#define CLIENT_COLS "id, name, key_prefix, key_hash, rate_limit_per_hour, rate_limit_per_day, " \
                    "disabled, created_at"
#define QUERIES(X) \
    X(PING,            "SELECT 1") \
    X(VERSION,         "SELECT coalesce(max(version), 0) FROM schema_version") \
    X(CLIENT_INSERT,   "INSERT INTO clients(name, key_prefix, key_hash, rate_limit_per_hour, " \
                       "rate_limit_per_day, disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)") \
    X(CLIENT_GET,      "SELECT " CLIENT_COLS " FROM clients WHERE id = ?") \
    X(CLIENT_BY_PREFIX,"SELECT " CLIENT_COLS " FROM clients WHERE key_prefix = ?") \
    X(CLIENT_LIST,     "SELECT " CLIENT_COLS " FROM clients ORDER BY id") \
    X(CLIENT_UPDATE,   "UPDATE clients SET name = coalesce(?1, name), " \
                       "rate_limit_per_hour = CASE WHEN ?2 < 0 THEN rate_limit_per_hour ELSE ?2 END, " \
                       "rate_limit_per_day = CASE WHEN ?3 < 0 THEN rate_limit_per_day ELSE ?3 END, " \
                       "disabled = CASE WHEN ?4 < 0 THEN disabled ELSE ?4 END WHERE id = ?5") \
    X(CLIENT_SET_KEY,  "UPDATE clients SET key_prefix = ?, key_hash = ? WHERE id = ?") \
    X(CLIENT_DELETE,   "DELETE FROM clients WHERE id = ?") \
    X(ADMIN_GET,       "SELECT v FROM admin WHERE k = ?") \
    X(ADMIN_SET,       "INSERT INTO admin(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v") \
    X(SUBJECT_INSERT,  "INSERT INTO subjects(client_id, external_id, name, metadata, created_at, " \
                       "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)") \
    X(SUBJECT_GET,     "SELECT " SUBJECT_COLS " FROM subjects s WHERE s.client_id = ? AND s.id = ?") \
    X(SUBJECT_LIST,    "SELECT " SUBJECT_COLS " FROM subjects s WHERE s.client_id = ? AND s.id > ? " \
                       "ORDER BY s.id LIMIT ?") \
    X(SUBJECT_UPDATE,  "UPDATE subjects SET name = coalesce(?1, name), " \
                       "external_id = CASE WHEN ?2 IS NULL THEN external_id WHEN ?2 = '' THEN NULL " \
                       "ELSE ?2 END, " \
                       "metadata = CASE WHEN ?3 IS NULL THEN metadata WHEN ?3 = '' THEN NULL " \
                       "ELSE ?3 END, " \
                       "updated_at = ?4 WHERE client_id = ?5 AND id = ?6") \
    X(SUBJECT_FACE_IDS,"SELECT id FROM faces WHERE client_id = ? AND subject_id = ? ORDER BY id") \
    X(SUBJECT_DELETE,  "DELETE FROM subjects WHERE client_id = ? AND id = ?") \
    X(SUBJECT_EXISTS,  "SELECT 1 FROM subjects WHERE client_id = ? AND id = ?") \
    X(SUBJECT_COUNT,   "SELECT count(*) FROM subjects WHERE client_id = ?") \
    X(FACE_INSERT,     "INSERT INTO faces(client_id, subject_id, embedding, model_id, quality, " \
                       "liveness, bbox_x, bbox_y, bbox_w, bbox_h, image_sha256, image, created_at) " \
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") \
    X(FACE_GET,        "SELECT " FACE_COLS " FROM faces WHERE client_id = ? AND id = ?") \
    X(FACE_LIST,       "SELECT " FACE_COLS " FROM faces WHERE client_id = ? AND subject_id = ? " \
                       "ORDER BY id") \
    X(FACE_IMAGE,      "SELECT image FROM faces WHERE client_id = ? AND id = ?") \
    X(FACE_IMAGE_PURGE,"UPDATE faces SET image = NULL WHERE image IS NOT NULL AND created_at < ?") \
    X(FACE_STALE,      "SELECT client_id, id, subject_id FROM faces WHERE image IS NOT NULL AND model_id <> ? " \
                       "AND id > ? ORDER BY id LIMIT ?") \
    X(FACE_DELETE,     "DELETE FROM faces WHERE client_id = ? AND id = ? RETURNING subject_id") \
    X(FACE_COUNT_ALL,  "SELECT count(*) FROM faces") \
    X(FACE_COUNT,      "SELECT count(*) FROM faces WHERE client_id = ?") \
    X(FACE_FOREACH,    "SELECT client_id, id, subject_id, embedding FROM faces " \
                       "WHERE ?1 IS NULL OR model_id = ?1 ORDER BY id") \
    X(FACE_STATS,      "SELECT count(*), coalesce(max(id), 0), coalesce(sum(id), 0) FROM faces " \
                       "WHERE ?1 IS NULL OR model_id = ?1") \
    X(AUDIT_INSERT,    "INSERT INTO audit(at, actor, action, target, request_id, details) " \
                       "VALUES (?, ?, ?, ?, ?, ?)") \
    X(AUDIT_LIST,      "SELECT id, at, actor, action, target, request_id, details FROM audit " \
                       "WHERE id < ? ORDER BY id DESC LIMIT ?") \
    X(USAGE_ADD,       "INSERT INTO usage(client_id, day, operation, count) VALUES (?, ?, ?, ?) " \
                       "ON CONFLICT(client_id, day, operation) DO UPDATE SET count = count + excluded.count") \
    X(USAGE_LIST,      "SELECT day, operation, count FROM usage WHERE client_id = ? AND day >= ? " \
                       "ORDER BY day, operation") \
    X(IDEM_GET,        "SELECT request_hash, status, response, created_at FROM idempotency " \
                       "WHERE client_id = ? AND key = ?") \
    X(IDEM_PUT,        "INSERT INTO idempotency(client_id, key, request_hash, status, response, " \
                       "created_at) VALUES (?, ?, ?, ?, ?, ?)") \
    X(IDEM_PURGE,      "DELETE FROM idempotency WHERE created_at < ?")

enum q {
#define X(n, sql) Q_##n,
    QUERIES(X)
#undef X
    Q_COUNT
};

static const char *const q_sql[Q_COUNT] = {
#define X(n, sql) sql,
    QUERIES(X)
#undef X
};

struct sq {
    struct fr_store base;        /* first: a struct sq * is a fr_store * */
    sqlite3 *db;
    pthread_mutex_t mu;          /* recursive; guards everything below and db */
    int tx_depth;                /* open transaction levels (ours and the caller's) */
    int user_tx;                 /* of those, opened by fr_store_tx_begin */
    sqlite3_stmt *stmt[Q_COUNT];
};

static struct sq *SQ(fr_store *st) { return (struct sq *)st; }

/* ---- errors, statements, locking ------------------------------------------ */

static int map_code(int r) {
    switch (r & 0xff) {
    case SQLITE_NOMEM:      return FR_E_NOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:     return FR_E_SERVICE_UNAVAILABLE;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:      return FR_E_INVALID_ARGUMENT;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
    case SQLITE_NOLFS:      return FR_E_IO;
    default:                return FR_E_INTERNAL_ERROR;
    }
}

/* A failed SQLite call becomes -FR_E_x with SQLite's own words in the detail. */
static int sq_err(struct sq *s, int r, const char *what) {
    int code = map_code(r);
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r);
    if (code == FR_E_IO || code == FR_E_INTERNAL_ERROR)
        fr_log(FR_LOG_ERROR, "sqlite: %s: %s (code %d)", what, msg, r);
    return fr_err_set(code, "database: %s: %s", what, msg);
}

/* A failed step of a write: uniqueness and foreign-key failures are the
 * caller's business and get its words; everything else goes to sq_err. */
/* on_unique names the field whose value is taken: a uniqueness violation is
 * -FR_E_CONFLICT with that field as the error's structured detail. */
static int write_err(struct sq *s, int r, const char *what, const char *on_unique, int fk_code,
                     const char *on_fk) {
    if (on_unique && (r == SQLITE_CONSTRAINT_UNIQUE || r == SQLITE_CONSTRAINT_PRIMARYKEY))
        return fr_err_set_at(FR_E_CONFLICT, "field", on_unique, "%s is already taken", on_unique);
    if (on_fk && r == SQLITE_CONSTRAINT_FOREIGNKEY) return fr_err_set(fk_code, "%s", on_fk);
    return sq_err(s, r, what);
}

static int prep(struct sq *s, enum q id, sqlite3_stmt **out) {
    if (!s->stmt[id]) {
        int r = sqlite3_prepare_v3(s->db, q_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
        if (r != SQLITE_OK) {
            *out = NULL;
            return sq_err(s, r, "preparing a statement");
        }
    }
    *out = s->stmt[id];
    return 0;
}

/* Every statement is reset and unbound after use, so none holds a read
 * snapshot open (which would stop WAL checkpoints) or points at our strings. */
static void done(sqlite3_stmt *q) {
    if (!q) return;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

static void lock(struct sq *s) { pthread_mutex_lock(&s->mu); }
static void unlock(struct sq *s) { pthread_mutex_unlock(&s->mu); }

/* Run SQL with no result rows; quiet: do not touch the error detail (used on
 * the way out of a failure, where the first error is the one to report). */
static int exec(struct sq *s, const char *sql, int quiet) {
    int r = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (r == SQLITE_OK) return 0;
    return quiet ? -map_code(r) : sq_err(s, r, sql);
}

/* ---- transactions ----------------------------------------------------------- */

/* Open a transaction level (caller holds the lock). */
static int tx_open(struct sq *s) {
    int rc = exec(s, s->tx_depth ? "SAVEPOINT fr" : "BEGIN IMMEDIATE", 0);
    if (rc == 0) s->tx_depth++;
    return rc;
}

/* A read transaction for calls that run several statements: one snapshot
 * for all of them, and one WAL read lock instead of one per statement (each
 * costs fcntl system calls; measured: 10 subject lookups 80 -> 35 us). */
static int rtx_open(struct sq *s) {
    int rc = exec(s, s->tx_depth ? "SAVEPOINT fr" : "BEGIN", 0);
    if (rc == 0) s->tx_depth++;
    return rc;
}

/* Close a level: keep its changes when rc == 0, undo them otherwise.
 * Returns rc, or the commit's failure. */
static int tx_close(struct sq *s, int rc) {
    s->tx_depth--;
    if (s->tx_depth > 0) {
        if (rc == 0) return exec(s, "RELEASE fr", 0);
        exec(s, "ROLLBACK TO fr", 1);
        exec(s, "RELEASE fr", 1);
        return rc;
    }
    if (rc == 0) {
        rc = exec(s, "COMMIT", 0);
        if (rc == 0) return 0;
    }
    /* A failed COMMIT (I/O error) can leave the transaction open. */
    if (!sqlite3_get_autocommit(s->db)) exec(s, "ROLLBACK", 1);
    return rc;
}

static int sq_tx_begin(fr_store *st) {
    struct sq *s = SQ(st);
    lock(s);                     /* held until commit or rollback */
    int rc = tx_open(s);
    if (rc < 0) {
        unlock(s);
        return rc;
    }
    s->user_tx++;
    return 0;
}

/* End the caller's innermost transaction; rc decides commit or rollback. */
static int user_tx_end(struct sq *s, int rc) {
    lock(s);
    if (s->user_tx == 0) {
        unlock(s);
        return fr_err_set(FR_E_INVALID_ARGUMENT, "no transaction is open on this thread");
    }
    s->user_tx--;
    rc = tx_close(s, rc);
    unlock(s);                   /* ours, just now */
    unlock(s);                   /* the one fr_store_tx_begin kept */
    return rc;
}

static int sq_tx_commit(fr_store *st) { return user_tx_end(SQ(st), 0); }

static void sq_tx_rollback(fr_store *st) {
    user_tx_end(SQ(st), -FR_E_INTERNAL_ERROR);
}

/* ---- small helpers for rows --------------------------------------------------- */

/* Copy a text column; SQL NULL gives NULL. */
static int col_str(sqlite3_stmt *q, int i, char **out) {
    *out = NULL;
    if (sqlite3_column_type(q, i) == SQLITE_NULL) return 0;   /* before a conversion */
    const unsigned char *t = sqlite3_column_text(q, i);
    if (!t) return fr_err_set(FR_E_NOMEM, "out of memory reading a row");
    *out = fr_strndup((const char *)t, (size_t)sqlite3_column_bytes(q, i));
    return *out ? 0 : fr_err_set(FR_E_NOMEM, "out of memory copying a row");
}

/* Make room for one more row in a growing array of rows of size elem. */
static int grow(void **rows, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = fr_realloc(*rows, nc * elem);
    if (!p) return fr_err_set(FR_E_NOMEM, "out of memory growing a list of %zu rows", n);
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *rows = p;
    *cap = nc;
    return 0;
}

/* Run a query that yields one integer (count(*), version). */
static int one_int(struct sq *s, sqlite3_stmt *q, int64_t *out, const char *what) {
    int r = sqlite3_step(q);
    int rc = 0;
    if (r == SQLITE_ROW) *out = sqlite3_column_int64(q, 0);
    else rc = sq_err(s, r == SQLITE_DONE ? SQLITE_INTERNAL : r, what);
    done(q);
    return rc;
}

/* ---- opening, migrations, housekeeping ---------------------------------------- */

/* mkdir -p with mode 0700: faces are biometric data, for the service's user only. */
static int make_dir(const char *dir) {
    char *p = fr_strdup(dir);
    int rc = 0;
    if (!p) return fr_err_set(FR_E_NOMEM, "out of memory");
    for (char *c = p + 1; ; c++) {
        if (*c != '/' && *c) continue;
        char saved = *c;
        *c = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = fr_err_set(FR_E_IO, "cannot create data directory %s: %s", p, strerror(errno));
            break;
        }
        *c = saved;
        if (!saved) break;
    }
    fr_free(p);
    return rc;
}

static int pragma_text(struct sq *s, const char *sql, char *out, size_t cap) {
    sqlite3_stmt *q = NULL;
    int r = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (r == SQLITE_OK) r = sqlite3_step(q);
    if (r != SQLITE_ROW) {
        int rc = sq_err(s, r, sql);
        sqlite3_finalize(q);
        return rc;
    }
    const unsigned char *t = sqlite3_column_text(q, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(q);
    return 0;
}

static int configure(struct sq *s) {
    char mode[16];
    int rc;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if ((rc = pragma_text(s, "PRAGMA journal_mode=WAL", mode, sizeof mode)) < 0) return rc;
    if (strcmp(mode, "wal") != 0)   /* e.g. a file system without shared memory */
        fr_log(FR_LOG_WARN, "sqlite: WAL unavailable, journal mode is %s", mode);
    if ((rc = exec(s, "PRAGMA synchronous=FULL", 0)) < 0) return rc;
    if ((rc = exec(s, "PRAGMA foreign_keys=ON", 0)) < 0) return rc;
    /* The page cache survives between transactions while no other process
     * writes; the default 2 MB is a few thousand faces. */
    if ((rc = exec(s, "PRAGMA cache_size=-" CACHE_KIB, 0)) < 0) return rc;
    return 0;
}

/* Bring the schema to the latest version. All missing migrations run in one
 * IMMEDIATE transaction, so two processes opening a new database at once
 * cannot both migrate it, and a crash leaves the old version intact. */
static int migrate(struct sq *s) {
    int64_t v = 0;
    sqlite3_stmt *q;
    int rc = exec(s, "CREATE TABLE IF NOT EXISTS schema_version ("
                     "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", 0);
    if (rc < 0 || (rc = tx_open(s)) < 0) return rc;
    if ((rc = prep(s, Q_VERSION, &q)) < 0 || (rc = one_int(s, q, &v, "reading the schema version")) < 0)
        goto out;
    if (v > fr__sqlite_n_migrations) {
        rc = fr_err_set(FR_E_IO, "database schema version %lld is newer than this facerec (%d)",
                        (long long)v, fr__sqlite_n_migrations);
        goto out;
    }
    for (int m = (int)v + 1; m <= fr__sqlite_n_migrations && rc == 0; m++) {
        char ins[128];
        if ((rc = exec(s, fr__sqlite_migrations[m - 1], 0)) < 0) break;
        snprintf(ins, sizeof ins, "INSERT INTO schema_version VALUES (%d, %lld)", m,
                 (long long)fr_now_ms());
        rc = exec(s, ins, 0);
        if (rc == 0) fr_log(FR_LOG_INFO, "sqlite: schema migrated to version %d", m);
    }
out:
    return tx_close(s, rc);
}

static void sq_close(fr_store *st) {
    struct sq *s = SQ(st);
    if (s->tx_depth) exec(s, "ROLLBACK", 1);
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->stmt[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        fr_log(FR_LOG_ERROR, "sqlite: close failed: %s", sqlite3_errmsg(s->db));
    pthread_mutex_destroy(&s->mu);
    fr_free(s);
}

static const struct fr_store_ops sq_ops;

static int open_db(struct sq *s, const char *dir) {
    size_t len = strlen(dir) + sizeof "/" DB_FILE;
    char *path = fr_malloc(len);
    struct stat sb;
    int rc;
    if (!path) return fr_err_set(FR_E_NOMEM, "out of memory");
    snprintf(path, len, "%s/%s", dir, DB_FILE);
    int created = stat(path, &sb) < 0;
    int r = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        rc = fr_err_set(FR_E_IO, "cannot open %s: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
    } else {
        /* the -wal and -shm files take the database file's mode */
        if (created) chmod(path, 0600);
        rc = 0;
    }
    fr_free(path);
    return rc;
}

int fr_store_open_sqlite(fr_store **out, const char *dir) {
    struct sq *s = NULL;
    pthread_mutexattr_t ma;
    int rc;
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!dir || !dir[0]) return fr_err_set(FR_E_INVALID_ARGUMENT, "data directory is required");
    if ((rc = make_dir(dir)) < 0) return rc;
    if (!(s = fr_calloc(1, sizeof *s))) return fr_err_set(FR_E_NOMEM, "out of memory");
    s->base.ops = &sq_ops;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    if ((rc = open_db(s, dir)) < 0 || (rc = configure(s)) < 0 || (rc = migrate(s)) < 0) {
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static int sq_ping(fr_store *st) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    int64_t one = 0;
    lock(s);
    int rc = prep(s, Q_PING, &q);
    if (rc == 0) rc = one_int(s, q, &one, "ping");
    unlock(s);
    return rc;
}

static int sq_schema_version(fr_store *st, int *version_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    int64_t v = 0;
    lock(s);
    int rc = prep(s, Q_VERSION, &q);
    if (rc == 0) rc = one_int(s, q, &v, "reading the schema version");
    unlock(s);
    if (rc == 0) *version_out = (int)v;
    return rc;
}

/* The first row of a check pragma that is not "ok" becomes the detail. */
static int run_check(struct sq *s, const char *sql, int want_ok) {
    sqlite3_stmt *q = NULL;
    int r = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    int rc = 0;
    if (r != SQLITE_OK) return sq_err(s, r, sql);
    r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        if (!want_ok || !t || strcmp(t, "ok") != 0)
            rc = fr_err_set(FR_E_IO, "database check failed (%s): %s", sql, t ? t : "?");
    } else if (r != SQLITE_DONE) {
        rc = sq_err(s, r, sql);
    }
    sqlite3_finalize(q);
    return rc;
}

static int sq_check(fr_store *st) {
    struct sq *s = SQ(st);
    lock(s);
    int rc = run_check(s, "PRAGMA integrity_check", 1);
    if (rc == 0) rc = run_check(s, "PRAGMA foreign_key_check", 0);
    unlock(s);
    return rc;
}

static int sq_backup(fr_store *st, const char *path) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q = NULL;
    int rc = 0;
    struct stat sb;
    if (stat(path, &sb) == 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "backup file %s exists", path);
    lock(s);
    if (s->tx_depth) {
        rc = fr_err_set(FR_E_INVALID_ARGUMENT, "cannot back up inside a transaction");
    } else {
        /* VACUUM INTO writes a consistent, compacted copy and refuses an existing file. */
        int r = sqlite3_prepare_v2(s->db, "VACUUM INTO ?", -1, &q, NULL);
        if (r == SQLITE_OK) r = sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
        if (r == SQLITE_OK) r = sqlite3_step(q);
        if (r != SQLITE_DONE) rc = sq_err(s, r, "backup");
        sqlite3_finalize(q);
    }
    unlock(s);
    return rc;
}

/* ---- clients and admin settings ------------------------------------------------ */

static int read_client(sqlite3_stmt *q, struct fr_store_client *c) {
    int rc;
    c->id = sqlite3_column_int64(q, 0);
    if ((rc = col_str(q, 1, &c->name)) < 0 || (rc = col_str(q, 2, &c->key_prefix)) < 0 ||
        (rc = col_str(q, 3, &c->key_hash)) < 0) {
        fr_store_client_free(c);
        return rc;
    }
    c->rate_limit_per_hour = sqlite3_column_int64(q, 4);
    c->rate_limit_per_day = sqlite3_column_int64(q, 5);
    c->disabled = sqlite3_column_int(q, 6) != 0;
    c->created_at = sqlite3_column_int64(q, 7);
    return 0;
}

static int sq_client_create(fr_store *st, const char *name, const char *key_prefix,
                            const char *key_hash, int64_t per_hour, int64_t per_day,
                            int64_t *id_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_CLIENT_INSERT, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, key_prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, key_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, per_hour);
        sqlite3_bind_int64(q, 5, per_day);
        sqlite3_bind_int64(q, 6, fr_now_ms());
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) *id_out = sqlite3_last_insert_rowid(s->db);
        else rc = write_err(s, r, "creating a client", "key_prefix", 0, NULL);
        done(q);
    }
    unlock(s);
    return rc;
}

/* Run a client query bound to one value and read its single row. */
static int client_one(struct sq *s, enum q id, int64_t key_id, const char *key_str,
                      struct fr_store_client *out) {
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, id, &q);
    if (rc == 0) {
        if (key_str) sqlite3_bind_text(q, 1, key_str, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(q, 1, key_id);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW) rc = read_client(q, out);
        else if (r == SQLITE_DONE) rc = fr_err_set(FR_E_NOT_FOUND, "client not found");
        else rc = sq_err(s, r, "reading a client");
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_client_get(fr_store *st, int64_t id, struct fr_store_client *out) {
    return client_one(SQ(st), Q_CLIENT_GET, id, NULL, out);
}

static int sq_client_get_by_prefix(fr_store *st, const char *prefix, struct fr_store_client *out) {
    return client_one(SQ(st), Q_CLIENT_BY_PREFIX, 0, prefix, out);
}

static int sq_client_list(fr_store *st, struct fr_store_client **rows_out, size_t *n_out) {
    struct sq *s = SQ(st);
    struct fr_store_client *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q;
    int r = SQLITE_DONE;
    lock(s);
    int rc = prep(s, Q_CLIENT_LIST, &q);
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = grow((void **)&rows, &cap, n, sizeof *rows)) == 0 && (rc = read_client(q, &rows[n])) == 0)
            n++;
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing clients");
    done(q);
    unlock(s);
    if (rc < 0) {
        fr_store_clients_free(rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return 0;
}

/* Run a prepared single-row write and report "not found" when it touched nothing. */
static int write_one(struct sq *s, sqlite3_stmt *q, const char *what, const char *on_unique,
                     int not_found_code, const char *not_found) {
    int r = sqlite3_step(q);
    int rc = 0;
    if (r != SQLITE_DONE) rc = write_err(s, r, what, on_unique, 0, NULL);
    else if (sqlite3_changes(s->db) == 0) rc = fr_err_set(not_found_code, "%s", not_found);
    done(q);
    return rc;
}

static int sq_client_update(fr_store *st, int64_t id, const struct fr_store_client_update *u) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_CLIENT_UPDATE, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, u->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, u->rate_limit_per_hour);
        sqlite3_bind_int64(q, 3, u->rate_limit_per_day);
        sqlite3_bind_int(q, 4, u->disabled);
        sqlite3_bind_int64(q, 5, id);
        rc = write_one(s, q, "updating a client", NULL, FR_E_NOT_FOUND, "client not found");
    }
    unlock(s);
    return rc;
}

static int sq_client_set_key(fr_store *st, int64_t id, const char *prefix, const char *hash) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_CLIENT_SET_KEY, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, id);
        rc = write_one(s, q, "setting a client key", "key_prefix", FR_E_NOT_FOUND,
                       "client not found");
    }
    unlock(s);
    return rc;
}

/* One statement: the cascades run inside it, so it is all or nothing. */
static int sq_client_delete(fr_store *st, int64_t id) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_CLIENT_DELETE, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, id);
        rc = write_one(s, q, "deleting a client", NULL, FR_E_NOT_FOUND, "client not found");
    }
    unlock(s);
    return rc;
}

static int sq_admin_get(fr_store *st, const char *key, char **v_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_ADMIN_GET, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW) rc = col_str(q, 0, v_out);
        else if (r == SQLITE_DONE) rc = fr_err_set(FR_E_NOT_FOUND, "setting %s is not set", key);
        else rc = sq_err(s, r, "reading a setting");
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_admin_set(fr_store *st, const char *key, const char *value) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_ADMIN_SET, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        if (r != SQLITE_DONE) rc = sq_err(s, r, "writing a setting");
        done(q);
    }
    unlock(s);
    return rc;
}

/* ---- subjects --------------------------------------------------------------------- */

static int subject_missing(int64_t id) {
    return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
}

static int read_subject(sqlite3_stmt *q, struct fr_store_subject *o) {
    int rc;
    o->id = sqlite3_column_int64(q, 0);
    o->client_id = sqlite3_column_int64(q, 1);
    if ((rc = col_str(q, 2, &o->external_id)) < 0 || (rc = col_str(q, 3, &o->name)) < 0 ||
        (rc = col_str(q, 4, &o->metadata)) < 0) {
        fr_store_subject_free(o);
        return rc;
    }
    o->created_at = sqlite3_column_int64(q, 5);
    o->updated_at = sqlite3_column_int64(q, 6);
    o->n_faces = sqlite3_column_int64(q, 7);
    return 0;
}

static int sq_subject_create(fr_store *st, int64_t client_id, const char *name,
                             const char *external_id, const char *metadata, int64_t *id_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_SUBJECT_INSERT, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_text(q, 2, external_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, metadata, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, fr_now_ms());
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) *id_out = sqlite3_last_insert_rowid(s->db);
        else rc = write_err(s, r, "creating a subject", "external_id", FR_E_NOT_FOUND,
                            "client not found");
        done(q);
    }
    unlock(s);
    return rc;
}

/* One subject of one client, read with the lock held. A missing subject
 * leaves *o zeroed and returns 1 (not an error for get_many). */
static int subject_read_locked(struct sq *s, int64_t client_id, int64_t id,
                               struct fr_store_subject *o) {
    sqlite3_stmt *q;
    int rc = prep(s, Q_SUBJECT_GET, &q);
    if (rc < 0) return rc;
    sqlite3_bind_int64(q, 1, client_id);
    sqlite3_bind_int64(q, 2, id);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) rc = read_subject(q, o);
    else if (r == SQLITE_DONE) rc = 1;
    else rc = sq_err(s, r, "reading a subject");
    done(q);
    return rc;
}

static int sq_subject_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_subject *out) {
    struct sq *s = SQ(st);
    lock(s);
    int rc = subject_read_locked(s, client_id, id, out);
    unlock(s);
    return rc == 1 ? subject_missing(id) : rc;
}

static int sq_subject_get_many(fr_store *st, int64_t client_id, const int64_t *ids, size_t n,
                               struct fr_store_subject *out) {
    struct sq *s = SQ(st);
    size_t i = 0;
    lock(s);
    int rc = rtx_open(s);
    if (rc == 0) {
        for (; i < n && rc >= 0; i++) {
            rc = ids[i] > 0 ? subject_read_locked(s, client_id, ids[i], &out[i]) : 1;
        }
        rc = tx_close(s, rc < 0 ? rc : 0);
    }
    unlock(s);
    if (rc == 0) return 0;
    while (i > 0) fr_store_subject_free(&out[--i]);
    return rc;
}

static int sq_subject_list(fr_store *st, int64_t client_id, int limit, int64_t after_id,
                           struct fr_store_subject **rows_out, size_t *n_out, int64_t *next_out) {
    struct sq *s = SQ(st);
    struct fr_store_subject *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q;
    int r = SQLITE_DONE, more = 0;
    lock(s);
    int rc = prep(s, Q_SUBJECT_LIST, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, after_id);
        sqlite3_bind_int(q, 3, limit + 1);   /* one more tells whether there is a next page */
    }
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == (size_t)limit) {
            more = 1;
            r = SQLITE_DONE;
            break;
        }
        if ((rc = grow((void **)&rows, &cap, n, sizeof *rows)) == 0 && (rc = read_subject(q, &rows[n])) == 0)
            n++;
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing subjects");
    done(q);
    unlock(s);
    if (rc < 0) {
        fr_store_subjects_free(rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    *next_out = more ? rows[n - 1].id : 0;
    return 0;
}

static int sq_subject_update(fr_store *st, int64_t client_id, int64_t id,
                             const struct fr_store_subject_update *u) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_SUBJECT_UPDATE, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, u->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, u->external_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, u->metadata, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, fr_now_ms());
        sqlite3_bind_int64(q, 5, client_id);
        sqlite3_bind_int64(q, 6, id);
        rc = write_one(s, q, "updating a subject", "external_id", FR_E_SUBJECT_NOT_FOUND,
                       "subject not found");
    }
    unlock(s);
    return rc;
}

/* The ids of a subject's faces (lock held, inside the delete's transaction). */
static int face_ids_locked(struct sq *s, int64_t client_id, int64_t id, int64_t **ids_out,
                           size_t *n_out) {
    sqlite3_stmt *q;
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    int r = SQLITE_DONE;
    int rc = prep(s, Q_SUBJECT_FACE_IDS, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, id);
    }
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = grow((void **)&ids, &cap, n, sizeof *ids)) == 0) ids[n++] = sqlite3_column_int64(q, 0);
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing a subject's faces");
    done(q);
    if (rc < 0) {
        fr_free(ids);
        return rc;
    }
    *ids_out = ids;
    *n_out = n;
    return 0;
}

static int sq_subject_delete(fr_store *st, int64_t client_id, int64_t id, int64_t **face_ids_out,
                             size_t *n_out) {
    struct sq *s = SQ(st);
    int64_t *ids = NULL;
    size_t n = 0;
    sqlite3_stmt *q;
    lock(s);
    int rc = tx_open(s);
    if (rc < 0) goto out;
    /* The ids are read in the same transaction as the delete, so they are
     * exactly the faces that the cascade removes. */
    if (n_out) rc = face_ids_locked(s, client_id, id, &ids, &n);
    if (rc == 0) rc = prep(s, Q_SUBJECT_DELETE, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, id);
        rc = write_one(s, q, "deleting a subject", NULL, FR_E_SUBJECT_NOT_FOUND, "subject not found");
    }
    rc = tx_close(s, rc);
out:
    unlock(s);
    if (rc < 0) {
        fr_free(ids);
        return rc;
    }
    if (n_out) *n_out = n;
    if (face_ids_out) *face_ids_out = ids;
    else fr_free(ids);
    return 0;
}

static int count_by(struct sq *s, enum q id, int64_t client_id, int64_t *n_out) {
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, id, &q);
    if (rc == 0) {
        if (client_id) sqlite3_bind_int64(q, 1, client_id);
        rc = one_int(s, q, n_out, "counting rows");
    }
    unlock(s);
    return rc;
}

static int sq_subject_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    return count_by(SQ(st), Q_SUBJECT_COUNT, client_id, n_out);
}

/* ---- faces ------------------------------------------------------------------------- */

static int face_missing(int64_t id) {
    return fr_err_set(FR_E_NOT_FOUND, "face %lld not found", (long long)id);
}

/* A blob column as dim floats; rejects a length that is no whole float. */
static int col_embedding(sqlite3_stmt *q, int i, float **out, int32_t *dim) {
    const void *b = sqlite3_column_blob(q, i);
    int bytes = sqlite3_column_bytes(q, i);
    *out = NULL;
    *dim = 0;
    if (!b || bytes <= 0 || bytes % (int)sizeof(float) != 0)
        return fr_err_set(FR_E_IO, "database: stored embedding has %d bytes", bytes);
    if (!(*out = fr_malloc((size_t)bytes))) return fr_err_set(FR_E_NOMEM, "out of memory");
    memcpy(*out, b, (size_t)bytes);
    *dim = bytes / (int)sizeof(float);
    return 0;
}

static int read_face(sqlite3_stmt *q, struct fr_store_face *f) {
    int rc;
    f->id = sqlite3_column_int64(q, 0);
    f->client_id = sqlite3_column_int64(q, 1);
    f->subject_id = sqlite3_column_int64(q, 2);
    if ((rc = col_embedding(q, 3, &f->embedding, &f->dim)) < 0 || (rc = col_str(q, 4, &f->model_id)) < 0 ||
        (rc = col_str(q, 11, &f->image_sha256)) < 0) {
        fr_store_face_free(f);
        return rc;
    }
    f->quality = (float)sqlite3_column_double(q, 5);
    f->liveness = sqlite3_column_type(q, 6) == SQLITE_NULL ? -1.0f : (float)sqlite3_column_double(q, 6);
    for (int k = 0; k < 4; k++) f->bbox[k] = (float)sqlite3_column_double(q, 7 + k);
    f->has_image = sqlite3_column_int(q, 12) != 0;
    f->created_at = sqlite3_column_int64(q, 13);
    return 0;
}

static void bind_face(sqlite3_stmt *q, const struct fr_store_face_new *f) {
    sqlite3_bind_int64(q, 1, f->client_id);
    sqlite3_bind_int64(q, 2, f->subject_id);
    sqlite3_bind_blob(q, 3, f->embedding, f->dim * (int)sizeof(float), SQLITE_STATIC);
    sqlite3_bind_text(q, 4, f->model_id, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 5, (double)f->quality);
    if (f->liveness >= 0) sqlite3_bind_double(q, 6, (double)f->liveness);
    for (int k = 0; k < 4; k++) sqlite3_bind_double(q, 7 + k, (double)f->bbox[k]);
    sqlite3_bind_text(q, 11, f->image_sha256, -1, SQLITE_STATIC);
    /* (sqlite3_bind_blob64 with length 0 and a pointer stores an empty blob) */
    if (f->image) sqlite3_bind_blob64(q, 12, f->image, f->image_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 13, fr_now_ms());
}

static int sq_face_add(fr_store *st, const struct fr_store_face_new *f, int64_t *id_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_FACE_INSERT, &q);
    if (rc == 0) {
        bind_face(q, f);
        int r = sqlite3_step(q);
        /* the (client_id, subject_id) foreign key is the tenancy check */
        if (r == SQLITE_DONE) *id_out = sqlite3_last_insert_rowid(s->db);
        else if (r == SQLITE_CONSTRAINT_FOREIGNKEY) rc = subject_missing(f->subject_id);
        else rc = sq_err(s, r, "adding a face");
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_face_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_face *out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_FACE_GET, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, id);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW) rc = read_face(q, out);
        else if (r == SQLITE_DONE) rc = face_missing(id);
        else rc = sq_err(s, r, "reading a face");
        done(q);
    }
    unlock(s);
    return rc;
}

static int subject_exists_locked(struct sq *s, int64_t client_id, int64_t id) {
    sqlite3_stmt *q;
    int rc = prep(s, Q_SUBJECT_EXISTS, &q);
    if (rc < 0) return rc;
    sqlite3_bind_int64(q, 1, client_id);
    sqlite3_bind_int64(q, 2, id);
    int r = sqlite3_step(q);
    if (r == SQLITE_DONE) rc = subject_missing(id);
    else if (r != SQLITE_ROW) rc = sq_err(s, r, "looking up a subject");
    done(q);
    return rc;
}

static int sq_face_list(fr_store *st, int64_t client_id, int64_t subject_id,
                        struct fr_store_face **rows_out, size_t *n_out) {
    struct sq *s = SQ(st);
    struct fr_store_face *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q = NULL;
    int r = SQLITE_DONE;
    lock(s);
    int rc = rtx_open(s);   /* the subject check and the list see one snapshot */
    if (rc < 0) goto out;
    rc = subject_exists_locked(s, client_id, subject_id);
    if (rc == 0) rc = prep(s, Q_FACE_LIST, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, subject_id);
    }
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = grow((void **)&rows, &cap, n, sizeof *rows)) == 0 && (rc = read_face(q, &rows[n])) == 0)
            n++;
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing faces");
    done(q);
    rc = tx_close(s, rc);
out:
    unlock(s);
    if (rc < 0) {
        fr_store_faces_free(rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return 0;
}

static int sq_face_image_get(fr_store *st, int64_t client_id, int64_t id, uint8_t **buf_out,
                             size_t *len_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_FACE_IMAGE, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, id);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
            const void *b = sqlite3_column_blob(q, 0);
            size_t len = (size_t)sqlite3_column_bytes(q, 0);
            if (!(*buf_out = fr_malloc(len))) rc = fr_err_set(FR_E_NOMEM, "out of memory");
            else if (len) memcpy(*buf_out, b, len);
            if (rc == 0) *len_out = len;
        } else if (r == SQLITE_ROW || r == SQLITE_DONE) {
            rc = fr_err_set(FR_E_NOT_FOUND, "face %lld has no stored photo", (long long)id);
        } else {
            rc = sq_err(s, r, "reading a photo");
        }
        done(q);
    }
    unlock(s);
    return rc;
}

/* A write that affects many rows; *n_out gets how many. */
static int write_many(struct sq *s, enum q id, int64_t arg, int64_t *n_out, const char *what) {
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, id, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, arg);
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) *n_out = sqlite3_changes(s->db);
        else rc = sq_err(s, r, what);
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_face_stale(fr_store *st, const char *model_id, int64_t after_id, int limit,
                         struct fr_store_face_key **rows_out, size_t *n_out) {
    struct sq *s = SQ(st);
    struct fr_store_face_key *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q = NULL;
    int r = SQLITE_DONE;
    lock(s);
    int rc = prep(s, Q_FACE_STALE, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, model_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, after_id);
        sqlite3_bind_int(q, 3, limit);
    }
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = grow((void **)&rows, &cap, n, sizeof *rows)) < 0) break;
        rows[n].client_id = sqlite3_column_int64(q, 0);
        rows[n].id = sqlite3_column_int64(q, 1);
        rows[n].subject_id = sqlite3_column_int64(q, 2);
        n++;
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing faces to re-embed");
    if (q) done(q);
    unlock(s);
    if (rc < 0) {
        fr_free(rows);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return 0;
}

static int sq_face_image_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    return write_many(SQ(st), Q_FACE_IMAGE_PURGE, before_ms, n_out, "purging photos");
}

static int sq_face_delete(fr_store *st, int64_t client_id, int64_t id, int64_t *subject_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_FACE_DELETE, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_int64(q, 2, id);
        int r = sqlite3_step(q);   /* the delete happens here, RETURNING gives the row */
        if (r == SQLITE_ROW) {
            *subject_out = sqlite3_column_int64(q, 0);
            r = sqlite3_step(q);
        } else if (r == SQLITE_DONE) {
            rc = face_missing(id);
        }
        if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "deleting a face");
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_face_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    return count_by(SQ(st), client_id ? Q_FACE_COUNT : Q_FACE_COUNT_ALL, client_id, n_out);
}

/* The blob is copied into an aligned buffer: SQLite gives no alignment
 * guarantee, and reading floats through a misaligned pointer is undefined. */
static int sq_faces_foreach(fr_store *st, const char *model_id, fr_store_face_fn fn, void *ctx) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    float *buf = NULL;
    size_t buf_bytes = 0;
    int r = SQLITE_DONE;
    lock(s);
    int rc = prep(s, Q_FACE_FOREACH, &q);
    if (rc == 0) sqlite3_bind_text(q, 1, model_id, -1, SQLITE_STATIC);
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        struct fr_store_face_ref f = { sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                                       sqlite3_column_int64(q, 2), NULL, 0 };
        const void *b = sqlite3_column_blob(q, 3);
        int bytes = sqlite3_column_bytes(q, 3);
        if (!b || bytes <= 0 || bytes % (int)sizeof(float) != 0) {
            rc = fr_err_set(FR_E_IO, "database: face %lld has a %d-byte embedding", (long long)f.id, bytes);
            break;
        }
        if ((size_t)bytes > buf_bytes) {
            float *nb = fr_realloc(buf, (size_t)bytes);
            if (!nb) {
                rc = fr_err_set(FR_E_NOMEM, "out of memory");
                break;
            }
            buf = nb;
            buf_bytes = (size_t)bytes;
        }
        memcpy(buf, b, (size_t)bytes);
        f.embedding = buf;
        f.dim = bytes / (int)sizeof(float);
        rc = fn(ctx, &f);
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "reading faces");
    done(q);
    unlock(s);
    fr_free(buf);
    return rc;
}

static int sq_face_stats(fr_store *st, const char *model_id, struct fr_store_face_stats *out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_FACE_STATS, &q);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, model_id, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW) {
            out->count = sqlite3_column_int64(q, 0);
            out->max_id = sqlite3_column_int64(q, 1);
            out->id_sum = sqlite3_column_int64(q, 2);
        } else {
            rc = sq_err(s, r, "counting faces");
        }
        done(q);
    }
    unlock(s);
    return rc;
}

/* ---- audit ------------------------------------------------------------------------ */

static int sq_audit_append(fr_store *st, const char *actor, const char *action, const char *target,
                           const char *request_id, const char *details, int64_t *id_out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_AUDIT_INSERT, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, fr_now_ms());
        sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, target, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, request_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, details, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        if (r == SQLITE_DONE) *id_out = sqlite3_last_insert_rowid(s->db);
        else rc = sq_err(s, r, "writing an audit row");
        done(q);
    }
    unlock(s);
    return rc;
}

static int read_audit(sqlite3_stmt *q, struct fr_store_audit *a) {
    int rc;
    a->id = sqlite3_column_int64(q, 0);
    a->at = sqlite3_column_int64(q, 1);
    if ((rc = col_str(q, 2, &a->actor)) < 0 || (rc = col_str(q, 3, &a->action)) < 0 ||
        (rc = col_str(q, 4, &a->target)) < 0 || (rc = col_str(q, 5, &a->request_id)) < 0 ||
        (rc = col_str(q, 6, &a->details)) < 0) {
        fr_store_audit_free(a);
        return rc;
    }
    return 0;
}

static int sq_audit_list(fr_store *st, int limit, int64_t before_id, struct fr_store_audit **rows_out,
                         size_t *n_out, int64_t *next_out) {
    struct sq *s = SQ(st);
    struct fr_store_audit *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q;
    int r = SQLITE_DONE, more = 0;
    lock(s);
    int rc = prep(s, Q_AUDIT_LIST, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, before_id ? before_id : INT64_MAX);
        sqlite3_bind_int(q, 2, limit + 1);
    }
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == (size_t)limit) {
            more = 1;
            r = SQLITE_DONE;
            break;
        }
        if ((rc = grow((void **)&rows, &cap, n, sizeof *rows)) == 0 && (rc = read_audit(q, &rows[n])) == 0)
            n++;
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing audit rows");
    done(q);
    unlock(s);
    if (rc < 0) {
        fr_store_audits_free(rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    *next_out = more ? rows[n - 1].id : 0;
    return 0;
}

/* ---- usage ------------------------------------------------------------------------ */

static int sq_usage_add(fr_store *st, int64_t client_id, const char *day, const char *operation,
                        int64_t n) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_USAGE_ADD, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_text(q, 2, day, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, operation, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, n);
        int r = sqlite3_step(q);
        if (r != SQLITE_DONE)
            rc = write_err(s, r, "counting usage", NULL, FR_E_NOT_FOUND, "client not found");
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_usage_list(fr_store *st, int64_t client_id, const char *from_day,
                         struct fr_store_usage **rows_out, size_t *n_out) {
    struct sq *s = SQ(st);
    struct fr_store_usage *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q;
    int r = SQLITE_DONE;
    lock(s);
    int rc = prep(s, Q_USAGE_LIST, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_text(q, 2, from_day ? from_day : "", -1, SQLITE_STATIC);
    }
    while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = grow((void **)&rows, &cap, n, sizeof *rows)) < 0) break;
        const unsigned char *d = sqlite3_column_text(q, 0);
        snprintf(rows[n].day, sizeof rows[n].day, "%s", d ? (const char *)d : "");
        rows[n].count = sqlite3_column_int64(q, 2);
        if ((rc = col_str(q, 1, &rows[n].operation)) == 0) n++;
    }
    if (rc == 0 && r != SQLITE_DONE) rc = sq_err(s, r, "listing usage");
    done(q);
    unlock(s);
    if (rc < 0) {
        fr_store_usages_free(rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return 0;
}

/* ---- idempotency ------------------------------------------------------------------ */

static int sq_idem_get(fr_store *st, int64_t client_id, const char *key, struct fr_store_idem *out) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_IDEM_GET, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW) {
            out->status = sqlite3_column_int(q, 1);
            out->created_at = sqlite3_column_int64(q, 3);
            if ((rc = col_str(q, 0, &out->request_hash)) < 0 || (rc = col_str(q, 2, &out->response)) < 0)
                fr_store_idem_free(out);
        } else if (r == SQLITE_DONE) {
            rc = fr_err_set(FR_E_NOT_FOUND, "idempotency key not seen");
        } else {
            rc = sq_err(s, r, "reading an idempotency key");
        }
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_idem_put(fr_store *st, int64_t client_id, const char *key, const char *request_hash,
                       int status, const char *response) {
    struct sq *s = SQ(st);
    sqlite3_stmt *q;
    lock(s);
    int rc = prep(s, Q_IDEM_PUT, &q);
    if (rc == 0) {
        sqlite3_bind_int64(q, 1, client_id);
        sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, request_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, status);
        sqlite3_bind_text(q, 5, response, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 6, fr_now_ms());
        int r = sqlite3_step(q);
        if (r != SQLITE_DONE)
            rc = write_err(s, r, "storing an idempotency key", "Idempotency-Key",
                           FR_E_NOT_FOUND, "client not found");
        done(q);
    }
    unlock(s);
    return rc;
}

static int sq_idem_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    return write_many(SQ(st), Q_IDEM_PURGE, before_ms, n_out, "purging idempotency keys");
}

static const struct fr_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .schema_version = sq_schema_version,
    .check = sq_check,
    .backup = sq_backup,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .client_create = sq_client_create,
    .client_get = sq_client_get,
    .client_get_by_prefix = sq_client_get_by_prefix,
    .client_list = sq_client_list,
    .client_update = sq_client_update,
    .client_set_key = sq_client_set_key,
    .client_delete = sq_client_delete,
    .admin_get = sq_admin_get,
    .admin_set = sq_admin_set,
    .subject_create = sq_subject_create,
    .subject_get = sq_subject_get,
    .subject_get_many = sq_subject_get_many,
    .subject_list = sq_subject_list,
    .subject_update = sq_subject_update,
    .subject_delete = sq_subject_delete,
    .subject_count = sq_subject_count,
    .face_add = sq_face_add,
    .face_get = sq_face_get,
    .face_list = sq_face_list,
    .face_image_get = sq_face_image_get,
    .face_image_purge = sq_face_image_purge,
    .face_stale = sq_face_stale,
    .face_delete = sq_face_delete,
    .face_count = sq_face_count,
    .faces_foreach = sq_faces_foreach,
    .face_stats = sq_face_stats,
    .audit_append = sq_audit_append,
    .audit_list = sq_audit_list,
    .usage_add = sq_usage_add,
    .usage_list = sq_usage_list,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .idem_purge = sq_idem_purge,
};
