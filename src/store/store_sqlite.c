/* The SQLite backend of the store: one file dir/facerec.db in WAL mode,
 * opened by fr_store_open("sqlite:dir").
 *
 * Design. Two connections, each with every statement prepared once and kept
 * (the statement table below) and a mutex that one call holds at a time:
 * - main runs every call made on the store itself;
 * - txc runs the calls of the caller's transaction (fr_store_tx_begin), so a
 *   transaction is a handle bound to one connection, whichever threads use
 *   it, and calls on the store go on meanwhile, reading what was committed.
 * SQLite allows one writer at a time, and so does a gate in front of it
 * here: a transaction holds the gate from begin to end and each write on
 * main holds it for its call, so writers in this process queue on a
 * condition variable (SQLite's busy handler, which polls, is left to other
 * processes) and wait at most BUSY_TIMEOUT_MS, like writers of another
 * process. A connection of its own per transaction also keeps the last
 * insert id and changes() counts exact. Calls that change more than one row
 * open a transaction (BEGIN IMMEDIATE at the outside, so a second process
 * never fails half-way with SQLITE_BUSY on upgrade; a SAVEPOINT when nested,
 * as are the caller's inner transactions).
 *
 * Every statement runs through stmt_run(): bind the arguments from a small
 * table, step, and read each row through a row kind (its size, reader and
 * free), growing an array or filling the caller's row; a call is then one
 * stmt_run with its arguments and how its result reads.
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
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
#define CAMERA_COLS "id, client_id, name, url, transport, created_at, updated_at"
#define SESSION_COLS "id, client_id, uid, slot_id, running, reason, mode, cooldown_ms, fps, threshold, " \
                     "min_face_px, min_quality, liveness, report_unknown, snapshot, roster, max_failures, " \
                     "max_failure_ms, callback_url, policy, ends_at, hook_id, node, epoch, created_at, " \
                     "updated_at, stopped_at, frames_read, frames_analysed, faces_seen, recognitions, " \
                     "callback_failures"
#define QUERIES(X) \
    X(PING,            "SELECT 1") \
    X(VERSION,         "SELECT coalesce(max(version), 0) FROM schema_version") \
    X(VERSION_ADD,     "INSERT INTO schema_version(version, applied_at) VALUES (?, ?)") \
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
    X(SUBJECT_BY_EXT,  "SELECT id FROM subjects WHERE client_id = ? AND external_id = ?") \
    X(SUBJECT_COUNT,   "SELECT count(*) FROM subjects WHERE client_id = ?") \
    X(FACE_INSERT,     "INSERT INTO faces(client_id, subject_id, embedding, model_id, quality, " \
                       "liveness, bbox_x, bbox_y, bbox_w, bbox_h, image_sha256, image, created_at) " \
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") \
    X(FACE_GET,        "SELECT " FACE_COLS " FROM faces WHERE client_id = ? AND id = ?") \
    X(FACE_LIST,       "SELECT " FACE_COLS " FROM faces WHERE client_id = ? AND subject_id = ? " \
                       "ORDER BY id") \
    X(FACE_IMAGE,      "SELECT image FROM faces WHERE client_id = ? AND id = ? " \
                       "AND image IS NOT NULL") \
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
    X(IDEM_PURGE,      "DELETE FROM idempotency WHERE created_at < ?") \
    X(WH_INSERT,       "INSERT INTO webhooks(client_id, url, events, description, enabled, secret, created_at, " \
                       "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)") \
    X(WH_GET,          "SELECT id, client_id, url, events, description, enabled, secret, old_secret, coalesce(old_secret_until, 0), coalesce(failing_since, 0), disabled_reason, created_at, updated_at FROM webhooks WHERE client_id = ? AND id = ? AND session_id IS NULL") \
    X(WH_LIST,         "SELECT id, client_id, url, events, description, enabled, secret, old_secret, coalesce(old_secret_until, 0), coalesce(failing_since, 0), disabled_reason, created_at, updated_at FROM webhooks WHERE client_id = ? AND session_id IS NULL ORDER BY id") \
    X(WH_UPDATE,       "UPDATE webhooks SET url = coalesce(?3, url), events = coalesce(?4, events), " \
                       "description = CASE WHEN ?5 IS NULL THEN description WHEN ?5 = '' THEN NULL ELSE ?5 END, " \
                       "enabled = CASE WHEN ?6 < 0 THEN enabled ELSE ?6 END, " \
                       "disabled_reason = CASE WHEN ?6 = 1 THEN NULL ELSE disabled_reason END, " \
                       "failing_since = CASE WHEN ?6 = 1 THEN NULL ELSE failing_since END, updated_at = ?7 " \
                       "WHERE client_id = ?1 AND id = ?2 AND session_id IS NULL") \
    X(WH_ROTATE,       "UPDATE webhooks SET old_secret = secret, old_secret_until = ?4, secret = ?3, " \
                       "updated_at = ?5 WHERE client_id = ?1 AND id = ?2 AND session_id IS NULL") \
    X(WH_DELETE,       "DELETE FROM webhooks WHERE client_id = ? AND id = ? AND session_id IS NULL") \
    X(WH_HEALTH_OK,    "UPDATE webhooks SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL " \
                       "RETURNING client_id") \
    X(WH_HEALTH_FAIL,  "UPDATE webhooks SET failing_since = coalesce(failing_since, ?2) WHERE id = ?1 " \
                       "RETURNING client_id") \
    X(WH_DISABLE,      "UPDATE webhooks SET enabled = 0, disabled_reason = ?2, updated_at = ?3 " \
                       "WHERE id = ?1 AND enabled = 1 AND (?4 = 0 OR failing_since < ?4)") \
    X(WH_FAILING,      "SELECT count(*) FROM webhooks WHERE enabled = 1 AND failing_since < ? AND session_id IS NULL") \
    X(EV_INSERT,       "INSERT INTO events(id, client_id, type, body, created_at) VALUES (?, ?, ?, ?, ?)") \
    X(EV_DELETE,       "DELETE FROM events WHERE id = ?") \
    X(EV_ORPHANS,      "DELETE FROM events WHERE NOT EXISTS " \
                       "(SELECT 1 FROM deliveries d WHERE d.event_id = events.id)") \
    X(DL_FANOUT,       "INSERT INTO deliveries(client_id, webhook_id, event_id, next_attempt_at, created_at) " \
                       "SELECT client_id, id, ?3, ?4, ?4 FROM webhooks WHERE client_id = ?1 AND enabled = 1 AND " \
                       "CASE WHEN ?6 > 0 THEN id = ?6 ELSE (events = '*' AND ?5 = 0) OR " \
                       "instr(',' || events || ',', ',' || ?2 || ',') > 0 END") \
    X(DL_DUE,          "WITH due AS (SELECT id, webhook_id, next_attempt_at FROM deliveries WHERE status = 0 " \
                       "AND next_attempt_at <= ?1 AND lease_until <= ?1 " \
                       "AND webhook_id IN (SELECT id FROM webhooks WHERE enabled = 1) " \
                       "AND webhook_id NOT IN (SELECT value FROM json_each(?4)) " \
                       "ORDER BY next_attempt_at, id LIMIT ?5), " \
                       "pick AS (SELECT id FROM (SELECT id, next_attempt_at AS due_at, ROW_NUMBER() OVER " \
                       "(PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS rn FROM due) " \
                       "WHERE rn <= ?3 ORDER BY due_at, id LIMIT ?2) " \
                       "SELECT d.id, d.webhook_id, d.client_id, w.url, w.secret, " \
                       "CASE WHEN w.old_secret_until > ?1 THEN w.old_secret END, d.event_id, e.body, d.attempts, " \
                       "e.created_at, coalesce(w.session_id, 0), w.policy FROM pick JOIN deliveries d ON d.id = pick.id " \
                       "JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id " \
                       "ORDER BY d.next_attempt_at, d.id") \
    X(DL_LEASE,        "UPDATE deliveries SET lease_until = ?2, lease_owner = ?3 WHERE id = ?1") \
    X(DL_RELEASE,      "UPDATE deliveries SET lease_until = 0, lease_owner = NULL " \
                       "WHERE status = 0 AND lease_owner = ?1 AND lease_until > 0") \
    X(DL_FINISH,       "UPDATE deliveries SET status = ?2, attempts = ?3, last_status_code = ?4, last_error = ?5, " \
                       "next_attempt_at = ?6, delivered_at = ?7, lease_until = 0 WHERE id = ?1") \
    X(DL_LIST,         "SELECT d.id, d.webhook_id, d.client_id, d.event_id, e.type, d.status, d.attempts, coalesce(d.last_status_code, 0), d.last_error, CASE WHEN d.status = 0 THEN d.next_attempt_at ELSE 0 END, coalesce(d.delivered_at, 0), d.created_at FROM deliveries d JOIN events e ON e.id = d.event_id " \
                       "WHERE d.client_id = ?1 AND d.webhook_id = ?2 AND d.id < ?3 ORDER BY d.id DESC LIMIT ?4") \
    X(DL_GET,          "SELECT d.id, d.webhook_id, d.client_id, d.event_id, e.type, d.status, d.attempts, coalesce(d.last_status_code, 0), d.last_error, CASE WHEN d.status = 0 THEN d.next_attempt_at ELSE 0 END, coalesce(d.delivered_at, 0), d.created_at FROM deliveries d JOIN events e ON e.id = d.event_id " \
                       "WHERE d.client_id = ?1 AND d.webhook_id = ?2 AND d.id = ?3") \
    X(DL_RETRY,        "UPDATE deliveries SET status = 0, next_attempt_at = ?4, lease_until = 0 " \
                       "WHERE client_id = ?1 AND webhook_id = ?2 AND id = ?3") \
    X(DL_PURGE,        "DELETE FROM deliveries WHERE status = 1 AND delivered_at < ?") \
    X(CAM_INSERT,      "INSERT INTO cameras(client_id, name, url, transport, created_at, updated_at) " \
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?5)") \
    X(CAM_GET,         "SELECT " CAMERA_COLS " FROM cameras WHERE client_id = ? AND id = ?") \
    X(CAM_LIST,        "SELECT " CAMERA_COLS " FROM cameras WHERE client_id = ? ORDER BY id") \
    X(CAM_UPDATE,      "UPDATE cameras SET name = coalesce(?3, name), url = coalesce(?4, url), " \
                       "transport = CASE WHEN ?5 < 0 THEN transport ELSE ?5 END, updated_at = ?6 " \
                       "WHERE client_id = ?1 AND id = ?2") \
    X(CAM_DELETE,      "DELETE FROM cameras WHERE client_id = ? AND id = ?") \
    X(SES_INSERT,      "INSERT INTO sessions(client_id, uid, slot_id, mode, cooldown_ms, fps, threshold, " \
                       "min_face_px, min_quality, liveness, report_unknown, snapshot, roster, max_failures, " \
                       "max_failure_ms, callback_url, policy, ends_at, node, created_at, updated_at) VALUES " \
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20)") \
    X(SES_CAM_INSERT,  "INSERT INTO session_cameras(session_id, idx, key, name, url, transport, camera_id) " \
                       "VALUES (?, ?, ?, ?, ?, ?, ?)") \
    X(SES_HOOK_INSERT, "INSERT INTO webhooks(client_id, url, events, enabled, secret, created_at, updated_at, " \
                       "session_id, policy) VALUES (?1, ?2, '', 1, ?3, ?4, ?4, ?5, ?6)") \
    X(SES_SET_HOOK,    "UPDATE sessions SET hook_id = ?2 WHERE id = ?1") \
    X(SES_BY_SLOT,     "SELECT " SESSION_COLS " FROM sessions WHERE client_id = ? AND slot_id = ? " \
                       "ORDER BY running DESC, id DESC LIMIT 1") \
    X(SES_BY_ID,       "SELECT " SESSION_COLS " FROM sessions WHERE id = ?") \
    X(SES_LIST,        "SELECT " SESSION_COLS " FROM sessions WHERE (?1 = 0 OR client_id = ?1) " \
                       "AND (?2 = 0 OR running = 1) AND id < ?3 ORDER BY id DESC LIMIT ?4") \
    X(SES_RUNNING,     "SELECT " SESSION_COLS " FROM sessions WHERE running = 1 ORDER BY id LIMIT ?") \
    X(SES_CAMS,        "SELECT key, name, url, transport, camera_id FROM session_cameras WHERE session_id = ? " \
                       "ORDER BY idx") \
    X(SES_TAKE,        "UPDATE sessions SET node = ?2, epoch = epoch + 1, updated_at = ?3 WHERE id = ?1 " \
                       "AND running = 1 RETURNING epoch") \
    X(SES_STOP,        "UPDATE sessions SET running = 0, reason = ?2, stopped_at = ?3, updated_at = ?3 " \
                       "WHERE id = ?1 AND running = 1") \
    X(SES_PROGRESS,    "UPDATE sessions SET frames_read = ?2, frames_analysed = ?3, faces_seen = ?4, " \
                       "recognitions = ?5, callback_failures = ?6, updated_at = ?7 WHERE id = ?1") \
    X(REC_INSERT,      "INSERT INTO recognitions(client_id, session_id, kind, subject_id, camera, similarity, " \
                       "quality, x1, y1, x2, y2, seen_at, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") \
    X(REC_LIST,        "SELECT id, client_id, session_id, kind, subject_id, camera, similarity, quality, " \
                       "x1, y1, x2, y2, seen_at, event_id FROM recognitions WHERE client_id = ? AND " \
                       "session_id = ? AND id > ? ORDER BY id LIMIT ?") \
    X(REC_REPORTED,    "SELECT subject_id, max(seen_at) FROM recognitions WHERE session_id = ? AND kind = 0 " \
                       "GROUP BY subject_id ORDER BY subject_id") \
    X(LOG_HEAD,        "SELECT coalesce(max(seq), 0) FROM index_log") \
    X(LOG_SINCE,       "SELECT l.seq, l.deleted, l.client_id, l.face_id, l.subject_id, l.model_id, " \
                       "CASE WHEN l.deleted = 0 THEN f.embedding END, l.at FROM index_log l " \
                       "LEFT JOIN faces f ON f.id = l.face_id AND l.deleted = 0 WHERE l.seq > ? ORDER BY l.seq LIMIT ?") \
    X(LOG_PURGE_MAX,   "SELECT coalesce(max(seq), 0) FROM index_log WHERE at < ?") \
    X(LOG_PURGE,       "DELETE FROM index_log WHERE seq <= ?") \
    X(OUTBOX_STATS,    "SELECT count(*), coalesce(min(d.created_at), 0) FROM deliveries d " \
                       "JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 0 AND w.enabled = 1 AND w.session_id IS NULL")

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

/* One SQLite connection and its statements. */
struct conn {
    sqlite3 *db;                 /* NULL until opened (txc: at the first transaction) */
    pthread_mutex_t mu;          /* held by one call at a time; guards db and below */
    int depth;                   /* open transaction levels (ours and the caller's) */
    sqlite3_stmt *stmt[Q_COUNT];
};

struct sq {
    struct fr_store base;        /* first: a struct sq * is a fr_store * */
    char *path;                  /* dir/facerec.db */
    struct conn main;            /* calls on the store itself */
    struct conn txc;             /* calls through the caller's transaction */
    pthread_mutex_t gate_mu;     /* guards gate_held */
    pthread_cond_t gate_cv;      /* signalled when the gate opens (CLOCK_MONOTONIC) */
    int gate_held;               /* a transaction, or a write on main, is under way */
    int dir_fd;                  /* the data folder, flock'd shared while open (see dir_lock); -1 */
};

/* A transaction handle: fr_store_tx_begin. */
struct sq_tx {
    struct fr_store base;        /* first */
    struct sq *s;
    int outer;                   /* 1: holds the gate (BEGIN); 0: a SAVEPOINT inside one */
};

/* The store, given itself or one of its transactions. */
static struct sq *SQ(fr_store *st) {
    return st->parent ? ((struct sq_tx *)st)->s : (struct sq *)st;
}

/* ---- errors, statements ----------------------------------------------------- */

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
static int sq_err(struct conn *c, int r, const char *what) {
    int code = map_code(r);
    const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(r);
    if (code == FR_E_IO || code == FR_E_INTERNAL_ERROR)
        fr_log(FR_LOG_ERROR, "sqlite: %s: %s (code %d)", what, msg, r);
    return fr_err_set(code, "database: %s: %s", what, msg);
}

static int prep(struct conn *c, enum q id, sqlite3_stmt **out) {
    if (!c->stmt[id]) {
        int r = sqlite3_prepare_v3(c->db, q_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
        if (r != SQLITE_OK) {
            *out = NULL;
            return sq_err(c, r, "preparing a statement");
        }
    }
    *out = c->stmt[id];
    return 0;
}

/* Every statement is reset and unbound after use, so none holds a read
 * snapshot open (which would stop WAL checkpoints) or points at our strings. */
static void done(sqlite3_stmt *q) {
    if (!q) return;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* Run SQL with no result rows; quiet: do not touch the error detail (used on
 * the way out of a failure, where the first error is the one to report). */
static int exec(struct conn *c, const char *sql, int quiet) {
    int r = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (r == SQLITE_OK) return 0;
    return quiet ? -map_code(r) : sq_err(c, r, sql);
}

/* ---- the write gate and the connection a call runs on ------------------------ */

/* Wait (at most BUSY_TIMEOUT_MS) until no other writer holds the gate, and take it. */
static int gate_enter(struct sq *s) {
    struct timespec until = { 0, 0 };
    int out_of_time = 0;
    pthread_mutex_lock(&s->gate_mu);
    if (s->gate_held) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += BUSY_TIMEOUT_MS / 1000;
        until.tv_nsec += (long)(BUSY_TIMEOUT_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    while (s->gate_held && !out_of_time)
        out_of_time = pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &until) == ETIMEDOUT &&
                      s->gate_held;
    if (!out_of_time) s->gate_held = 1;
    pthread_mutex_unlock(&s->gate_mu);
    if (out_of_time)
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: a transaction stayed open for "
                          "over %d ms (one open on this thread? call through its handle)",
                          BUSY_TIMEOUT_MS);
    return 0;
}

static void gate_leave(struct sq *s) {
    pthread_mutex_lock(&s->gate_mu);
    s->gate_held = 0;
    pthread_cond_signal(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

enum { READ, WRITE };

/* The connection one call runs on, locked: a transaction's own, or main
 * (behind the gate when the call writes). */
struct use {
    struct conn *c;
    struct sq *gated;            /* the store whose gate this call holds, or NULL */
};

static int use_begin(fr_store *st, int mode, struct use *u) {
    struct sq *s = SQ(st);
    u->c = st->parent ? &s->txc : &s->main;
    u->gated = NULL;
    if (mode == WRITE && !st->parent) {
        int rc = gate_enter(s);
        if (rc < 0) return rc;
        u->gated = s;
    }
    pthread_mutex_lock(&u->c->mu);
    return 0;
}

static void use_end(struct use *u) {
    pthread_mutex_unlock(&u->c->mu);
    if (u->gated) gate_leave(u->gated);
}

/* ---- transaction levels on one connection --------------------------------------- */

/* Open a write level (the connection is held). */
static int tx_open(struct conn *c) {
    int rc = exec(c, c->depth ? "SAVEPOINT fr" : "BEGIN IMMEDIATE", 0);
    if (rc == 0) c->depth++;
    return rc;
}

/* A read transaction for calls that run several statements: one snapshot
 * for all of them, and one WAL read lock instead of one per statement (each
 * costs fcntl system calls; measured: 10 subject lookups 80 -> 35 us). */
static int rtx_open(struct conn *c) {
    int rc = exec(c, c->depth ? "SAVEPOINT fr" : "BEGIN", 0);
    if (rc == 0) c->depth++;
    return rc;
}

/* Close a level: keep its changes when rc == 0, undo them otherwise.
 * Returns rc, or the commit's failure. */
static int tx_close(struct conn *c, int rc) {
    c->depth--;
    if (c->depth > 0) {
        if (rc == 0) return exec(c, "RELEASE fr", 0);
        exec(c, "ROLLBACK TO fr", 1);
        exec(c, "RELEASE fr", 1);
        return rc;
    }
    if (rc == 0) {
        rc = exec(c, "COMMIT", 0);
        if (rc == 0) return 0;
    }
    /* A failed COMMIT (I/O error) can leave the transaction open. */
    if (!sqlite3_get_autocommit(c->db)) exec(c, "ROLLBACK", 1);
    return rc;
}

/* ---- running a statement: arguments in, rows out ---------------------------------- */

/* One parameter of a statement, bound in order (?1, ?2, ...). */
enum arg_type { ARG_END, ARG_INT, ARG_REAL, ARG_TEXT, ARG_BLOB, ARG_NULL };
struct arg {
    enum arg_type type;
    int64_t i;
    double f;
    const void *p;               /* text (NUL-terminated) or blob; NULL binds SQL NULL */
    size_t len;                  /* bytes of a blob */
};
#define ARGS(...) ((const struct arg[]){ __VA_ARGS__, { .type = ARG_END } })

static struct arg a_int(int64_t v) { return (struct arg){ .type = ARG_INT, .i = v }; }
static struct arg a_real(double v) { return (struct arg){ .type = ARG_REAL, .f = v }; }
static struct arg a_text(const char *s) { return (struct arg){ .type = ARG_TEXT, .p = s }; }
static struct arg a_null(void) { return (struct arg){ .type = ARG_NULL }; }
static struct arg a_blob(const void *p, size_t len) {
    return (struct arg){ .type = ARG_BLOB, .p = p, .len = len };
}

/* Strings and blobs are bound SQLITE_STATIC: they are the caller's and
 * outlive the statement's run (done() unbinds them). */
static int bind_args(struct conn *c, sqlite3_stmt *q, const struct arg *a, const char *what) {
    int r = SQLITE_OK;
    for (int i = 1; a && a->type != ARG_END && r == SQLITE_OK; a++, i++) {
        switch (a->type) {
        case ARG_INT:  r = sqlite3_bind_int64(q, i, a->i); break;
        case ARG_REAL: r = sqlite3_bind_double(q, i, a->f); break;
        case ARG_TEXT: r = sqlite3_bind_text(q, i, a->p, -1, SQLITE_STATIC); break;
        /* (a blob of length 0 with a pointer is an empty blob, not NULL) */
        case ARG_BLOB: r = a->p ? sqlite3_bind_blob64(q, i, a->p, a->len, SQLITE_STATIC)
                                : sqlite3_bind_null(q, i); break;
        default:       r = sqlite3_bind_null(q, i); break;
        }
    }
    return r == SQLITE_OK ? 0 : sq_err(c, r, what);
}

/* How the rows of a statement become C values. */
struct row_kind {
    size_t size;                 /* bytes of one row; 0: every row is read into the same place */
    /* Columns to row: 0; -FR_E_x with the row left freed; > 0 stops the run (a walk's answer). */
    int (*read)(sqlite3_stmt *q, void *row);
    void (*free)(void *row);     /* NULL: a row holds nothing to free */
};

/* A statement's result. */
struct res {
    const struct row_kind *kind; /* in: how rows read; NULL: rows are skipped */
    size_t max;                  /* in: rows read at most; one more sets more */
    void *rows;                  /* in: NULL (grown here, fr_free'd by the caller), or room
                                  * for max rows of the caller's; out: the rows */
    size_t n;                    /* out: rows read */
    int more;                    /* out: there was a row beyond max */
    int code;                    /* out: SQLite's code when the step failed */
    int64_t changes;             /* out: rows a write changed */
    int64_t last_id;             /* out: the rowid an INSERT made */
    int fixed;                   /* rows were the caller's */
};

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

/* Free the rows read so far (the caller's own room stays). */
static void res_free(struct res *r) {
    const struct row_kind *k = r->kind;
    for (size_t i = 0; k && k->free && i < r->n; i++) k->free((char *)r->rows + i * k->size);
    if (!r->fixed) {
        fr_free(r->rows);
        r->rows = NULL;
    }
    r->n = 0;
}

/* Prepare (once), bind args (NULL: none), step to the end or past r->max
 * rows, reading each, and reset. The connection is held by the caller. A
 * failure leaves no rows. */
static int stmt_run(struct conn *c, enum q id, const struct arg *args, struct res *r,
                    const char *what) {
    const struct row_kind *k = r->kind;
    sqlite3_stmt *q = NULL;
    int sr = SQLITE_DONE;
    r->fixed = r->rows != NULL;
    size_t cap = r->fixed ? r->max : 0;
    int rc = prep(c, id, &q);
    if (rc == 0) rc = bind_args(c, q, args, what);
    while (rc == 0 && (sr = sqlite3_step(q)) == SQLITE_ROW) {
        if (!k) continue;
        if (r->n == r->max) {
            r->more = 1;
            sr = SQLITE_DONE;
            break;
        }
        if (!r->fixed && (rc = grow(&r->rows, &cap, r->n, k->size)) < 0) break;
        if ((rc = k->read(q, (char *)r->rows + r->n * k->size)) == 0) r->n++;
    }
    if (rc == 0 && sr != SQLITE_DONE) {
        r->code = sr;
        rc = sq_err(c, sr, what);
    }
    if (rc == 0) {
        r->changes = sqlite3_changes(c->db);
        r->last_id = sqlite3_last_insert_rowid(c->db);
    }
    done(q);
    if (rc < 0) res_free(r);
    return rc;
}

/* One statement as a whole call: the connection, the run, the release. */
static int call(fr_store *st, int mode, enum q id, const struct arg *args, struct res *r,
                const char *what) {
    struct use u;
    int rc = use_begin(st, mode, &u);
    if (rc < 0) return rc;
    rc = stmt_run(u.c, id, args, r, what);
    use_end(&u);
    return rc;
}

/* A write's constraint failures in the caller's words: a uniqueness
 * violation is -FR_E_CONFLICT with on_unique as the structured detail's
 * field, a foreign-key violation -fk_code with on_fk as the detail. */
static int constraint(int rc, const struct res *r, const char *on_unique, int fk_code,
                      const char *on_fk) {
    if (rc >= 0) return rc;
    if (on_unique && (r->code == SQLITE_CONSTRAINT_UNIQUE || r->code == SQLITE_CONSTRAINT_PRIMARYKEY))
        return fr_err_set_at(FR_E_CONFLICT, "field", on_unique, "%s is already taken", on_unique);
    if (on_fk && r->code == SQLITE_CONSTRAINT_FOREIGNKEY) return fr_err_set(fk_code, "%s", on_fk);
    return rc;
}

/* A call that succeeded but found (or changed) no row: -code with msg. */
static int missing(int rc, int64_t count, int code, const char *msg) {
    if (rc == 0 && count == 0) return fr_err_set(code, "%s", msg);
    return rc;
}

/* ---- row kinds ------------------------------------------------------------------------ */

/* Copy a text column; SQL NULL gives NULL. */
static int col_str(sqlite3_stmt *q, int i, char **out) {
    *out = NULL;
    if (sqlite3_column_type(q, i) == SQLITE_NULL) return 0;   /* before a conversion */
    const unsigned char *t = sqlite3_column_text(q, i);
    if (!t) return fr_err_set(FR_E_NOMEM, "out of memory reading a row");
    *out = fr_strndup((const char *)t, (size_t)sqlite3_column_bytes(q, i));
    return *out ? 0 : fr_err_set(FR_E_NOMEM, "out of memory copying a row");
}

/* An embedding blob: dim whole floats, or -FR_E_IO. */
static int col_embedding_bytes(sqlite3_stmt *q, int i, const void **b, int *bytes) {
    *b = sqlite3_column_blob(q, i);
    *bytes = sqlite3_column_bytes(q, i);
    if (!*b || *bytes <= 0 || *bytes % (int)sizeof(float) != 0)
        return fr_err_set(FR_E_IO, "database: stored embedding has %d bytes", *bytes);
    return 0;
}

static int read_i64(sqlite3_stmt *q, void *row) {
    *(int64_t *)row = sqlite3_column_int64(q, 0);
    return 0;
}
static const struct row_kind I64_ROW = { sizeof(int64_t), read_i64, NULL };

static int read_text(sqlite3_stmt *q, void *row) { return col_str(q, 0, row); }
static void free_text(void *row) {
    fr_free(*(char **)row);
    *(char **)row = NULL;
}
static const struct row_kind TEXT_ROW = { sizeof(char *), read_text, free_text };

static int read_client(sqlite3_stmt *q, void *row) {
    struct fr_store_client *c = row;
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
static void free_client(void *row) { fr_store_client_free(row); }
static const struct row_kind CLIENT_ROW = { sizeof(struct fr_store_client), read_client,
                                            free_client };

static int read_subject(sqlite3_stmt *q, void *row) {
    struct fr_store_subject *o = row;
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
static void free_subject(void *row) { fr_store_subject_free(row); }
static const struct row_kind SUBJECT_ROW = { sizeof(struct fr_store_subject), read_subject,
                                             free_subject };

static int read_face(sqlite3_stmt *q, void *row) {
    struct fr_store_face *f = row;
    const void *b;
    int bytes, rc;
    f->id = sqlite3_column_int64(q, 0);
    f->client_id = sqlite3_column_int64(q, 1);
    f->subject_id = sqlite3_column_int64(q, 2);
    if ((rc = col_embedding_bytes(q, 3, &b, &bytes)) < 0) return rc;
    if (!(f->embedding = fr_malloc((size_t)bytes))) return fr_err_set(FR_E_NOMEM, "out of memory");
    memcpy(f->embedding, b, (size_t)bytes);
    f->dim = bytes / (int)sizeof(float);
    if ((rc = col_str(q, 4, &f->model_id)) < 0 || (rc = col_str(q, 11, &f->image_sha256)) < 0) {
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
static void free_face(void *row) { fr_store_face_free(row); }
static const struct row_kind FACE_ROW = { sizeof(struct fr_store_face), read_face, free_face };

static int read_face_key(sqlite3_stmt *q, void *row) {
    struct fr_store_face_key *k = row;
    k->client_id = sqlite3_column_int64(q, 0);
    k->id = sqlite3_column_int64(q, 1);
    k->subject_id = sqlite3_column_int64(q, 2);
    return 0;
}
static const struct row_kind FACE_KEY_ROW = { sizeof(struct fr_store_face_key), read_face_key,
                                              NULL };

static int read_face_stats(sqlite3_stmt *q, void *row) {
    struct fr_store_face_stats *s = row;
    s->count = sqlite3_column_int64(q, 0);
    s->max_id = sqlite3_column_int64(q, 1);
    s->id_sum = sqlite3_column_int64(q, 2);
    return 0;
}
static const struct row_kind FACE_STATS_ROW = { sizeof(struct fr_store_face_stats), read_face_stats,
                                                NULL };

/* A stored photo. */
struct blob {
    uint8_t *buf;
    size_t len;
};
static int read_blob(sqlite3_stmt *q, void *row) {
    struct blob *b = row;
    const void *p = sqlite3_column_blob(q, 0);
    b->len = (size_t)sqlite3_column_bytes(q, 0);
    if (!(b->buf = fr_malloc(b->len))) return fr_err_set(FR_E_NOMEM, "out of memory");
    if (b->len) memcpy(b->buf, p, b->len);
    return 0;
}
static void free_blob(void *row) {
    struct blob *b = row;
    fr_free(b->buf);
    b->buf = NULL;
    b->len = 0;
}
static const struct row_kind BLOB_ROW = { sizeof(struct blob), read_blob, free_blob };

/* The walk of fr_store_faces_foreach: every row goes to the same struct
 * walk and on to the caller's callback. The blob is copied into an aligned
 * buffer: SQLite gives no alignment guarantee, and reading floats through a
 * misaligned pointer is undefined. */
struct walk {
    fr_store_face_fn fn;
    void *ctx;
    float *buf;
    size_t cap;                  /* bytes of buf */
};
static int read_walk(sqlite3_stmt *q, void *row) {
    struct walk *w = row;
    struct fr_store_face_ref f = { sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                                   sqlite3_column_int64(q, 2), NULL, 0 };
    const void *b;
    int bytes;
    int rc = col_embedding_bytes(q, 3, &b, &bytes);
    if (rc < 0) return rc;
    if ((size_t)bytes > w->cap) {
        float *nb = fr_realloc(w->buf, (size_t)bytes);
        if (!nb) return fr_err_set(FR_E_NOMEM, "out of memory");
        w->buf = nb;
        w->cap = (size_t)bytes;
    }
    memcpy(w->buf, b, (size_t)bytes);
    f.embedding = w->buf;
    f.dim = bytes / (int)sizeof(float);
    return w->fn(w->ctx, &f);
}
static const struct row_kind WALK_ROW = { 0, read_walk, NULL };

static int read_audit(sqlite3_stmt *q, void *row) {
    struct fr_store_audit *a = row;
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
static void free_audit(void *row) { fr_store_audit_free(row); }
static const struct row_kind AUDIT_ROW = { sizeof(struct fr_store_audit), read_audit, free_audit };

static int read_usage(sqlite3_stmt *q, void *row) {
    struct fr_store_usage *u = row;
    const unsigned char *d = sqlite3_column_text(q, 0);
    snprintf(u->day, sizeof u->day, "%s", d ? (const char *)d : "");
    u->count = sqlite3_column_int64(q, 2);
    return col_str(q, 1, &u->operation);
}
static void free_usage(void *row) { fr_free(((struct fr_store_usage *)row)->operation); }
static const struct row_kind USAGE_ROW = { sizeof(struct fr_store_usage), read_usage, free_usage };

static int read_idem(sqlite3_stmt *q, void *row) {
    struct fr_store_idem *r = row;
    int rc;
    r->status = sqlite3_column_int(q, 1);
    r->created_at = sqlite3_column_int64(q, 3);
    if ((rc = col_str(q, 0, &r->request_hash)) < 0 || (rc = col_str(q, 2, &r->response)) < 0)
        fr_store_idem_free(r);
    return rc;
}
static void free_idem(void *row) { fr_store_idem_free(row); }
static const struct row_kind IDEM_ROW = { sizeof(struct fr_store_idem), read_idem, free_idem };

static int read_webhook(sqlite3_stmt *q, void *row) {
    struct fr_store_webhook *w = row;
    int rc;
    w->id = sqlite3_column_int64(q, 0);
    w->client_id = sqlite3_column_int64(q, 1);
    w->enabled = sqlite3_column_int(q, 5) != 0;
    w->old_secret_until = sqlite3_column_int64(q, 8);
    w->failing_since = sqlite3_column_int64(q, 9);
    w->created_at = sqlite3_column_int64(q, 11);
    w->updated_at = sqlite3_column_int64(q, 12);
    if ((rc = col_str(q, 2, &w->url)) < 0 || (rc = col_str(q, 3, &w->events)) < 0 ||
        (rc = col_str(q, 4, &w->description)) < 0 || (rc = col_str(q, 6, &w->secret)) < 0 ||
        (rc = col_str(q, 7, &w->old_secret)) < 0 || (rc = col_str(q, 10, &w->disabled_reason)) < 0)
        fr_store_webhook_free(w);
    return rc;
}
static void free_webhook(void *row) { fr_store_webhook_free(row); }
static const struct row_kind WEBHOOK_ROW = { sizeof(struct fr_store_webhook), read_webhook, free_webhook };

static int read_claim(sqlite3_stmt *q, void *row) {
    struct fr_store_claim *c = row;
    int rc;
    c->id = sqlite3_column_int64(q, 0);
    c->webhook_id = sqlite3_column_int64(q, 1);
    c->client_id = sqlite3_column_int64(q, 2);
    c->attempts = sqlite3_column_int(q, 8);
    c->created_at = sqlite3_column_int64(q, 9);
    c->session_id = sqlite3_column_int64(q, 10);
    if ((rc = col_str(q, 3, &c->url)) < 0 || (rc = col_str(q, 4, &c->secret)) < 0 ||
        (rc = col_str(q, 5, &c->old_secret)) < 0 || (rc = col_str(q, 6, &c->event_id)) < 0 ||
        (rc = col_str(q, 7, &c->body)) < 0 || (rc = col_str(q, 11, &c->policy)) < 0)
        fr_store_claims_free_one(c);
    return rc;
}
static void free_claim(void *row) { fr_store_claims_free_one(row); }
static const struct row_kind CLAIM_ROW = { sizeof(struct fr_store_claim), read_claim, free_claim };

static int read_delivery(sqlite3_stmt *q, void *row) {
    struct fr_store_delivery *d = row;
    int rc;
    d->id = sqlite3_column_int64(q, 0);
    d->webhook_id = sqlite3_column_int64(q, 1);
    d->client_id = sqlite3_column_int64(q, 2);
    d->status = sqlite3_column_int(q, 5);
    d->attempts = sqlite3_column_int(q, 6);
    d->last_status_code = sqlite3_column_int(q, 7);
    d->next_attempt_at = sqlite3_column_int64(q, 9);
    d->delivered_at = sqlite3_column_int64(q, 10);
    d->created_at = sqlite3_column_int64(q, 11);
    if ((rc = col_str(q, 3, &d->event_id)) < 0 || (rc = col_str(q, 4, &d->event_type)) < 0 ||
        (rc = col_str(q, 8, &d->last_error)) < 0)
        fr_store_delivery_free(d);
    return rc;
}
static void free_delivery(void *row) { fr_store_delivery_free(row); }
static const struct row_kind DELIVERY_ROW = { sizeof(struct fr_store_delivery), read_delivery, free_delivery };

static int read_camera(sqlite3_stmt *q, void *row) {
    struct fr_store_camera *c = row;
    int rc;
    c->id = sqlite3_column_int64(q, 0);
    c->client_id = sqlite3_column_int64(q, 1);
    c->transport = sqlite3_column_int(q, 4);
    c->created_at = sqlite3_column_int64(q, 5);
    c->updated_at = sqlite3_column_int64(q, 6);
    if ((rc = col_str(q, 2, &c->name)) < 0 || (rc = col_str(q, 3, &c->url)) < 0) fr_store_camera_free(c);
    return rc;
}
static void free_camera(void *row) { fr_store_camera_free(row); }
static const struct row_kind CAMERA_ROW = { sizeof(struct fr_store_camera), read_camera, free_camera };

static int read_session(sqlite3_stmt *q, void *row) {
    struct fr_store_session *s = row;
    struct fr_store_session_settings *x = &s->set;
    int rc;
    s->id = sqlite3_column_int64(q, 0);
    s->client_id = sqlite3_column_int64(q, 1);
    s->running = sqlite3_column_int(q, 4);
    x->mode = sqlite3_column_int(q, 6);
    x->cooldown_ms = sqlite3_column_int64(q, 7);
    x->fps = sqlite3_column_double(q, 8);
    x->threshold = sqlite3_column_double(q, 9);
    x->min_face_px = sqlite3_column_int(q, 10);
    x->min_quality = sqlite3_column_double(q, 11);
    x->liveness = sqlite3_column_int(q, 12);
    x->report_unknown = sqlite3_column_int(q, 13);
    x->snapshot = sqlite3_column_int(q, 14);
    x->max_failures = sqlite3_column_int(q, 16);
    x->max_failure_ms = sqlite3_column_int64(q, 17);
    x->ends_at = sqlite3_column_int64(q, 20);
    s->hook_id = sqlite3_column_int64(q, 21);
    s->epoch = sqlite3_column_int64(q, 23);
    s->created_at = sqlite3_column_int64(q, 24);
    s->updated_at = sqlite3_column_int64(q, 25);
    s->stopped_at = sqlite3_column_int64(q, 26);
    s->stats.frames_read = sqlite3_column_int64(q, 27);
    s->stats.frames_analysed = sqlite3_column_int64(q, 28);
    s->stats.faces_seen = sqlite3_column_int64(q, 29);
    s->stats.recognitions = sqlite3_column_int64(q, 30);
    s->stats.callback_failures = sqlite3_column_int64(q, 31);
    if ((rc = col_str(q, 2, &s->uid)) < 0 || (rc = col_str(q, 3, &s->slot_id)) < 0 ||
        (rc = col_str(q, 5, &s->reason)) < 0 || (rc = col_str(q, 15, &x->roster)) < 0 ||
        (rc = col_str(q, 18, &x->callback_url)) < 0 || (rc = col_str(q, 19, &x->policy)) < 0 ||
        (rc = col_str(q, 22, &s->node)) < 0)
        fr_store_session_free(s);
    return rc;
}
static void free_session(void *row) { fr_store_session_free(row); }
static const struct row_kind SESSION_ROW = { sizeof(struct fr_store_session), read_session, free_session };

static void free_session_camera(void *row) {
    struct fr_store_session_camera *c = row;
    fr_free(c->key);
    fr_free(c->name);
    fr_free(c->url);
    memset(c, 0, sizeof *c);
}
static int read_session_camera(sqlite3_stmt *q, void *row) {
    struct fr_store_session_camera *c = row;
    int rc;
    c->transport = sqlite3_column_int(q, 3);
    c->camera_id = sqlite3_column_int64(q, 4);
    if ((rc = col_str(q, 0, &c->key)) < 0 || (rc = col_str(q, 1, &c->name)) < 0 || (rc = col_str(q, 2, &c->url)) < 0)
        free_session_camera(c);
    return rc;
}
static const struct row_kind SESSION_CAMERA_ROW = { sizeof(struct fr_store_session_camera), read_session_camera,
                                                    free_session_camera };

static int read_recognition(sqlite3_stmt *q, void *row) {
    struct fr_store_recognition *r = row;
    int rc;
    r->id = sqlite3_column_int64(q, 0);
    r->client_id = sqlite3_column_int64(q, 1);
    r->session_id = sqlite3_column_int64(q, 2);
    r->kind = sqlite3_column_int(q, 3);
    r->subject_id = sqlite3_column_int64(q, 4);
    r->similarity = (float)sqlite3_column_double(q, 6);
    r->quality = (float)sqlite3_column_double(q, 7);
    for (int i = 0; i < 4; i++) r->box[i] = (float)sqlite3_column_double(q, 8 + i);
    r->seen_at = sqlite3_column_int64(q, 12);
    if ((rc = col_str(q, 5, &r->camera)) < 0 || (rc = col_str(q, 13, &r->event_id)) < 0) {
        fr_free(r->camera);
        fr_free(r->event_id);
        memset(r, 0, sizeof *r);
    }
    return rc;
}
static void free_recognition(void *row) {
    struct fr_store_recognition *r = row;
    fr_free(r->camera);
    fr_free(r->event_id);
}
static const struct row_kind RECOGNITION_ROW = { sizeof(struct fr_store_recognition), read_recognition,
                                                 free_recognition };

static int read_change(sqlite3_stmt *q, void *row) {
    struct fr_store_change *c = row;
    int rc;
    c->seq = sqlite3_column_int64(q, 0);
    c->deleted = sqlite3_column_int(q, 1);
    c->client_id = sqlite3_column_int64(q, 2);
    c->face_id = sqlite3_column_int64(q, 3);
    c->subject_id = sqlite3_column_int64(q, 4);
    c->at = sqlite3_column_int64(q, 7);
    if ((rc = col_str(q, 5, &c->model_id)) < 0) return rc;
    if (sqlite3_column_type(q, 6) != SQLITE_NULL) {
        const void *b;
        int bytes;
        if ((rc = col_embedding_bytes(q, 6, &b, &bytes)) < 0 || !(c->embedding = fr_malloc((size_t)bytes))) {
            fr_free(c->model_id);
            c->model_id = NULL;
            return rc < 0 ? rc : fr_err_set(FR_E_NOMEM, "out of memory");
        }
        memcpy(c->embedding, b, (size_t)bytes);
        c->dim = bytes / (int)sizeof(float);
    }
    return 0;
}
static void free_change(void *row) {
    struct fr_store_change *c = row;
    fr_free(c->model_id);
    fr_free(c->embedding);
}
static const struct row_kind CHANGE_ROW = { sizeof(struct fr_store_change), read_change, free_change };

static int read_pair(sqlite3_stmt *q, void *row) {
    int64_t *p = row;
    p[0] = sqlite3_column_int64(q, 0);
    p[1] = sqlite3_column_int64(q, 1);
    return 0;
}
static const struct row_kind PAIR_ROW = { 2 * sizeof(int64_t), read_pair, NULL };

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

static int pragma_text(struct conn *c, const char *sql, char *out, size_t cap) {
    sqlite3_stmt *q = NULL;
    int r = sqlite3_prepare_v2(c->db, sql, -1, &q, NULL);
    if (r == SQLITE_OK) r = sqlite3_step(q);
    if (r != SQLITE_ROW) {
        int rc = sq_err(c, r, sql);
        sqlite3_finalize(q);
        return rc;
    }
    const unsigned char *t = sqlite3_column_text(q, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(q);
    return 0;
}

static int configure(struct conn *c) {
    char mode[16];
    int rc;
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if ((rc = pragma_text(c, "PRAGMA journal_mode=WAL", mode, sizeof mode)) < 0) return rc;
    if (strcmp(mode, "wal") != 0)   /* e.g. a file system without shared memory */
        fr_log(FR_LOG_WARN, "sqlite: WAL unavailable, journal mode is %s", mode);
    if ((rc = exec(c, "PRAGMA synchronous=FULL", 0)) < 0) return rc;
    if ((rc = exec(c, "PRAGMA foreign_keys=ON", 0)) < 0) return rc;
    /* The page cache survives between transactions while no other
     * connection writes; the default 2 MB is a few thousand faces. */
    if ((rc = exec(c, "PRAGMA cache_size=-" CACHE_KIB, 0)) < 0) return rc;
    return 0;
}

/* Close c's database and statements; c can be opened again. */
static void conn_close(struct conn *c) {
    for (int i = 0; i < Q_COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    if (c->db && sqlite3_close(c->db) != SQLITE_OK)
        fr_log(FR_LOG_ERROR, "sqlite: close failed: %s", sqlite3_errmsg(c->db));
    c->db = NULL;
    c->depth = 0;
}

static int conn_open(struct sq *s, struct conn *c) {
    int r = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_NOMUTEX, NULL);
    int rc = r == SQLITE_OK ? configure(c)
                            : fr_err_set(FR_E_IO, "cannot open %s: %s", s->path,
                                         c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(r));
    if (rc < 0) conn_close(c);
    return rc;
}

static void sq_close(fr_store *st) {
    struct sq *s = (struct sq *)st;
    if (s->txc.depth) fr_log(FR_LOG_ERROR, "sqlite: store closed in a transaction: rolled back");
    conn_close(&s->main);
    conn_close(&s->txc);
    pthread_mutex_destroy(&s->main.mu);
    pthread_mutex_destroy(&s->txc.mu);
    pthread_mutex_destroy(&s->gate_mu);
    pthread_cond_destroy(&s->gate_cv);
    if (s->dir_fd >= 0) close(s->dir_fd);   /* and with it the folder's shared lock */
    fr_free(s->path);
    fr_free(s);
}

/* The data folder's lock. Every open store holds a shared flock on the
 * folder for its life, and restore takes it exclusively: a restore runs
 * only while no process (facerec serve, a CLI command) has the database
 * open, and no store opens while it runs. The folder, not facerec.db, is
 * locked because restore renames a new file over facerec.db; flock locks
 * are apart from the fcntl locks SQLite keeps on its own files. how:
 * LOCK_SH or LOCK_EX; never waits. */
static int dir_lock(const char *dir, int how, int *fd_out) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *fd_out = -1;
    if (fd < 0) return fr_err_set(FR_E_IO, "cannot open data directory %s: %s", dir, strerror(errno));
    if (flock(fd, how | LOCK_NB) == 0) {
        *fd_out = fd;
        return 0;
    }
    int e = errno;
    close(fd);
    if (e != EWOULDBLOCK) return fr_err_set(FR_E_IO, "cannot lock data directory %s: %s", dir, strerror(e));
    if (how == LOCK_SH)
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "the database in %s is being restored", dir);
    return fr_err_set_at(FR_E_CONFLICT, "field", "database",
                         "the database in %s is open in another process (facerec serve, or another facerec "
                         "command): stop it before restoring", dir);
}

/* where: the folder of facerec.db. The transaction connection opens later,
 * at the first transaction; the schema is migrate's. */
static int sq_open(const char *dir, fr_store **out) {
    struct sq *s = NULL;
    pthread_condattr_t ca;
    struct stat sb;
    size_t len = strlen(dir) + sizeof "/" DB_FILE;
    int rc = make_dir(dir);
    if (rc < 0) return rc;
    if (!(s = fr_calloc(1, sizeof *s)) || !(s->path = fr_malloc(len))) {
        fr_free(s);
        return fr_err_set(FR_E_NOMEM, "out of memory");
    }
    snprintf(s->path, len, "%s/%s", dir, DB_FILE);
    s->dir_fd = -1;
    pthread_mutex_init(&s->main.mu, NULL);
    pthread_mutex_init(&s->txc.mu, NULL);
    pthread_mutex_init(&s->gate_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->gate_cv, &ca);
    pthread_condattr_destroy(&ca);
    int created = stat(s->path, &sb) < 0;
    if ((rc = dir_lock(dir, LOCK_SH, &s->dir_fd)) < 0 || (rc = conn_open(s, &s->main)) < 0) {
        sq_close(&s->base);
        return rc;
    }
    if (created) chmod(s->path, 0600);   /* the -wal and -shm files take its mode */
    *out = &s->base;
    return 0;
}

/* Bring the schema to the latest version. All missing migrations run in one
 * IMMEDIATE transaction, so two processes opening a new database at once
 * cannot both migrate it, and a crash leaves the old version intact. */
static int sq_migrate(fr_store *st) {
    struct use u;
    int64_t v = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &v };
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    rc = exec(u.c, "CREATE TABLE IF NOT EXISTS schema_version ("
                   "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", 0);
    if (rc == 0 && (rc = tx_open(u.c)) == 0) {
        rc = stmt_run(u.c, Q_VERSION, NULL, &r, "reading the schema version");
        if (rc == 0 && v > fr__sqlite_n_migrations)
            rc = fr_err_set(FR_E_IO, "database schema version %lld is newer than this facerec (%d)",
                            (long long)v, fr__sqlite_n_migrations);
        for (int m = (int)v + 1; m <= fr__sqlite_n_migrations && rc == 0; m++) {
            struct res ins = { 0 };
            if ((rc = exec(u.c, fr__sqlite_migrations[m - 1], 0)) < 0) break;
            rc = stmt_run(u.c, Q_VERSION_ADD, ARGS(a_int(m), a_int(fr__store_now(st))), &ins,
                          "recording a migration");
            if (rc == 0) fr_log(FR_LOG_INFO, "sqlite: schema migrated to version %d", m);
        }
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    return rc;
}

static int sq_ping(fr_store *st) {
    int64_t one = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &one };
    return call(st, READ, Q_PING, NULL, &r, "ping");
}

static int sq_schema_version(fr_store *st, int *version_out) {
    int64_t v = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &v };
    int rc = call(st, READ, Q_VERSION, NULL, &r, "reading the schema version");
    if (rc == 0) *version_out = (int)v;
    return rc;
}

/* The first row of a check pragma that is not "ok" becomes the detail. */
static int run_check(struct conn *c, const char *sql, int want_ok) {
    sqlite3_stmt *q = NULL;
    int r = sqlite3_prepare_v2(c->db, sql, -1, &q, NULL);
    int rc = 0;
    if (r != SQLITE_OK) return sq_err(c, r, sql);
    r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        if (!want_ok || !t || strcmp(t, "ok") != 0)
            rc = fr_err_set(FR_E_IO, "database check failed (%s): %s", sql, t ? t : "?");
    } else if (r != SQLITE_DONE) {
        rc = sq_err(c, r, sql);
    }
    sqlite3_finalize(q);
    return rc;
}

static int sq_check(fr_store *st) {
    struct use u;
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    rc = run_check(u.c, "PRAGMA integrity_check", 1);
    if (rc == 0) rc = run_check(u.c, "PRAGMA foreign_key_check", 0);
    use_end(&u);
    return rc;
}

/* VACUUM INTO writes a consistent, compacted copy and refuses an existing
 * file. It reads a snapshot: a transaction open meanwhile is not in it. */
static int sq_backup(fr_store *st, const char *path) {
    sqlite3_stmt *q = NULL;
    struct stat sb;
    struct use u;
    if (stat(path, &sb) == 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "backup file %s exists", path);
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    int r = sqlite3_prepare_v2(u.c->db, "VACUUM INTO ?", -1, &q, NULL);
    if (r == SQLITE_OK) r = sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    if (r == SQLITE_OK) r = sqlite3_step(q);
    if (r != SQLITE_DONE) rc = sq_err(u.c, r, "backup");
    sqlite3_finalize(q);
    use_end(&u);
    return rc;
}

/* ---- restore ------------------------------------------------------------------------- */

/* The first column of sql's first row as an integer (0 when NULL). */
static int query_i64(struct conn *c, const char *sql, int64_t *out) {
    char t[32];
    int rc = pragma_text(c, sql, t, sizeof t);
    *out = rc == 0 ? strtoll(t, NULL, 10) : 0;
    return rc;
}

/* 1 when the database on c has a row in any table that says it is in use. */
static int has_data(struct conn *c, int *yes) {
    static const char *const tables[] = { "clients", "subjects", "faces", "audit" };
    char sql[160];
    int64_t n = 0;
    int rc = 0;
    *yes = 0;
    for (size_t i = 0; rc == 0 && !*yes && i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        if ((rc = query_i64(c, sql, &n)) < 0 || n == 0) continue;
        snprintf(sql, sizeof sql, "SELECT EXISTS (SELECT 1 FROM %s)", tables[i]);
        if ((rc = query_i64(c, sql, &n)) == 0) *yes = n != 0;
    }
    return rc;
}

/* The copy at tmp is a whole facerec database this facerec can open, and a
 * file of its own (rollback journal: no -wal beside it to lose). */
static int check_copy(const char *tmp, const char *path) {
    struct conn c = { 0 };
    int64_t v = 0;
    int r = sqlite3_open_v2(tmp, &c.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    int rc = r == SQLITE_OK ? 0 : fr_err_set(FR_E_IO, "cannot open a copy of %s: %s", path, sqlite3_errstr(r));
    if (rc == 0 && (exec(&c, "PRAGMA journal_mode=DELETE", 1) < 0 || run_check(&c, "PRAGMA quick_check", 1) < 0))
        rc = fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s is not a facerec backup: an unreadable "
                           "or damaged SQLite database (%s)", path, fr_err_detail());
    if (rc == 0 && (query_i64(&c, "SELECT max(version) FROM schema_version", &v) < 0 || v < 1))
        rc = fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s is not a facerec backup: a SQLite "
                           "database without facerec's schema_version", path);
    if (rc == 0 && v > fr__sqlite_n_migrations)
        rc = fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s was written by a newer facerec (schema "
                           "version %lld, this one knows %d)", path, (long long)v, fr__sqlite_n_migrations);
    if (c.db) sqlite3_close(c.db);
    return rc;
}

/* Refuse (without force) when the database at db holds data; then leave it
 * checkpointed, so no -wal of it holds what the rename must replace. */
static int check_target(const char *db, const char *dir, int force) {
    struct conn c = { 0 };
    struct stat sb;
    int yes = 0;
    if (stat(db, &sb) < 0) return 0;   /* nothing there */
    int r = sqlite3_open_v2(db, &c.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    int rc = r == SQLITE_OK ? has_data(&c, &yes) : -FR_E_IO;
    if (rc < 0 && !force)
        rc = fr_err_set_at(FR_E_CONFLICT, "field", "database", "cannot read the database in %s (%s): "
                           "--force replaces it", dir, r == SQLITE_OK ? fr_err_detail() : sqlite3_errstr(r));
    else if (rc < 0)
        rc = 0;   /* unreadable, and to be replaced */
    else if (yes && !force)
        rc = fr_err_set_at(FR_E_CONFLICT, "field", "database", "the database in %s holds data: restore "
                           "replaces it only with --force", dir);
    if (rc == 0 && c.db) exec(&c, "PRAGMA wal_checkpoint(TRUNCATE)", 1);
    if (c.db) sqlite3_close(c.db);   /* the last connection: SQLite removes the -wal */
    return rc;
}

/* Copy path to a new file (mode 0600) under tmp, a mkstemp template, synced. */
static int copy_file(const char *path, char *tmp) {
    int in = open(path, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    char buf[65536];
    ssize_t n = 0;
    if (in < 0) return fr_err_set(FR_E_IO, "cannot read %s: %s", path, strerror(errno));
    if ((out = mkstemp(tmp)) < 0) {
        tmp[0] = 0;
        rc = fr_err_set(FR_E_IO, "cannot create a file beside the database: %s", strerror(errno));
    }
    while (rc == 0 && (n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = fr_err_set(FR_E_IO, "cannot read %s: %s", path, strerror(errno));
        for (ssize_t off = 0, w; rc == 0 && off < n; off += w) {
            if ((w = write(out, buf + off, (size_t)(n - off))) < 0 && errno != EINTR)
                rc = fr_err_set(FR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
            if (w < 0) w = 0;
        }
    }
    if (rc == 0 && fsync(out) != 0) rc = fr_err_set(FR_E_IO, "cannot sync %s: %s", tmp, strerror(errno));
    if (out >= 0 && close(out) != 0 && rc == 0) rc = fr_err_set(FR_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    close(in);
    return rc;
}

/* Replace dir/facerec.db with the backup at path: under the folder's
 * exclusive lock, the backup is copied to a temporary file in the folder,
 * synced and checked; the old database (when restore may replace it) is
 * checkpointed and its -wal, -shm and -journal removed; the copy is renamed
 * over it and the folder synced. A crash leaves the old database or the
 * new one; a leftover facerec.db.restore-* file is only a copy. */
static int sq_restore(const char *dir, const char *path, int force) {
    static const char *const sidecars[] = { "-wal", "-shm", "-journal" };
    size_t len = strlen(dir) + sizeof "/" DB_FILE ".restore-XXXXXX";
    char *db = fr_malloc(len), *tmp = fr_malloc(len), *side = fr_malloc(len);
    int lock = -1, dfd = -1;
    int rc = db && tmp && side ? 0 : fr_err_set(FR_E_NOMEM, "out of memory");
    if (tmp) tmp[0] = 0;   /* no copy made yet */
    if (rc == 0) rc = fr__store_need_backup(path, "sqlite");
    if (rc == 0) rc = make_dir(dir);
    if (rc == 0) rc = dir_lock(dir, LOCK_EX, &lock);
    if (rc == 0) {
        snprintf(db, len, "%s/%s", dir, DB_FILE);
        snprintf(tmp, len, "%s/%s.restore-XXXXXX", dir, DB_FILE);
        rc = copy_file(path, tmp);
    }
    if (rc == 0) rc = check_copy(tmp, path);
    if (rc == 0) rc = check_target(db, dir, force);
    for (size_t i = 0; rc == 0 && i < sizeof sidecars / sizeof sidecars[0]; i++) {
        snprintf(side, len, "%s%s", db, sidecars[i]);
        if (unlink(side) < 0 && errno != ENOENT)
            rc = fr_err_set(FR_E_IO, "cannot remove %s: %s", side, strerror(errno));
    }
    if (rc == 0 && rename(tmp, db) < 0) rc = fr_err_set(FR_E_IO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc == 0) {
        tmp[0] = 0;
        if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) != 0)
            rc = fr_err_set(FR_E_IO, "cannot sync data directory %s: %s", dir, strerror(errno));
        if (dfd >= 0) close(dfd);
    }
    if (tmp && tmp[0]) unlink(tmp);
    if (lock >= 0) close(lock);
    fr_free(db);
    fr_free(tmp);
    fr_free(side);
    return rc;
}

/* ---- the caller's transactions ------------------------------------------------------ */

static int sq_tx_begin(fr_store *st, fr_store **tx_out) {
    struct sq *s = SQ(st);
    struct sq_tx *t = fr_calloc(1, sizeof *t);
    int rc = 0;
    if (!t) return fr_err_set(FR_E_NOMEM, "out of memory");
    t->s = s;
    t->outer = !st->parent;
    if (t->outer && (rc = gate_enter(s)) < 0) {
        fr_free(t);
        return rc;
    }
    pthread_mutex_lock(&s->txc.mu);
    if (!s->txc.db) rc = conn_open(s, &s->txc);
    if (rc == 0) rc = tx_open(&s->txc);
    pthread_mutex_unlock(&s->txc.mu);
    if (rc < 0) {
        if (t->outer) gate_leave(s);
        fr_free(t);
        return rc;
    }
    *tx_out = &t->base;
    return 0;
}

static int sq_tx_end(fr_store *tx, int commit) {
    struct sq_tx *t = (struct sq_tx *)tx;
    struct sq *s = t->s;
    pthread_mutex_lock(&s->txc.mu);
    int rc = tx_close(&s->txc, commit ? 0 : -FR_E_INTERNAL_ERROR /* any failure: undo */);
    pthread_mutex_unlock(&s->txc.mu);
    if (t->outer) gate_leave(s);
    fr_free(t);
    return commit ? rc : 0;
}

/* ---- clients and admin settings ------------------------------------------------ */

static int sq_client_create(fr_store *st, const char *name, const char *key_prefix,
                            const char *key_hash, int64_t per_hour, int64_t per_day,
                            int64_t *id_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_INSERT,
                  ARGS(a_text(name), a_text(key_prefix), a_text(key_hash), a_int(per_hour),
                       a_int(per_day), a_int(fr__store_now(st))), &r, "creating a client");
    if (rc == 0) *id_out = r.last_id;
    return constraint(rc, &r, "key_prefix", 0, NULL);
}

/* A client query bound to one value, read into out. */
static int client_one(fr_store *st, enum q id, struct arg key, struct fr_store_client *out) {
    struct res r = { .kind = &CLIENT_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, id, ARGS(key), &r, "reading a client");
    return missing(rc, (int64_t)r.n, FR_E_NOT_FOUND, "client not found");
}

static int sq_client_get(fr_store *st, int64_t id, struct fr_store_client *out) {
    return client_one(st, Q_CLIENT_GET, a_int(id), out);
}

static int sq_client_get_by_prefix(fr_store *st, const char *prefix, struct fr_store_client *out) {
    return client_one(st, Q_CLIENT_BY_PREFIX, a_text(prefix), out);
}

static int sq_client_list(fr_store *st, struct fr_store_client **rows_out, size_t *n_out) {
    struct res r = { .kind = &CLIENT_ROW, .max = SIZE_MAX };
    int rc = call(st, READ, Q_CLIENT_LIST, NULL, &r, "listing clients");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int sq_client_update(fr_store *st, int64_t id, const struct fr_store_client_update *u) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_UPDATE,
                  ARGS(a_text(u->name), a_int(u->rate_limit_per_hour), a_int(u->rate_limit_per_day),
                       a_int(u->disabled), a_int(id)), &r, "updating a client");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "client not found");
}

static int sq_client_set_key(fr_store *st, int64_t id, const char *prefix, const char *hash) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_SET_KEY, ARGS(a_text(prefix), a_text(hash), a_int(id)), &r,
                  "setting a client key");
    rc = constraint(rc, &r, "key_prefix", 0, NULL);
    return missing(rc, r.changes, FR_E_NOT_FOUND, "client not found");
}

/* One statement: the cascades run inside it, so it is all or nothing. */
static int sq_client_delete(fr_store *st, int64_t id) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_DELETE, ARGS(a_int(id)), &r, "deleting a client");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "client not found");
}

static int sq_admin_get(fr_store *st, const char *key, char **v_out) {
    struct res r = { .kind = &TEXT_ROW, .max = 1, .rows = v_out };
    int rc = call(st, READ, Q_ADMIN_GET, ARGS(a_text(key)), &r, "reading a setting");
    if (rc == 0 && r.n == 0) rc = fr_err_set(FR_E_NOT_FOUND, "setting %s is not set", key);
    return rc;
}

static int sq_admin_set(fr_store *st, const char *key, const char *value) {
    struct res r = { 0 };
    return call(st, WRITE, Q_ADMIN_SET, ARGS(a_text(key), a_text(value)), &r, "writing a setting");
}

/* ---- subjects --------------------------------------------------------------------- */

static int subject_missing(int64_t id) {
    return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
}

static int sq_subject_create(fr_store *st, int64_t client_id, const char *name,
                             const char *external_id, const char *metadata, int64_t *id_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SUBJECT_INSERT,
                  ARGS(a_int(client_id), a_text(external_id), a_text(name), a_text(metadata),
                       a_int(fr__store_now(st))), &r, "creating a subject");
    if (rc == 0) *id_out = r.last_id;
    return constraint(rc, &r, "external_id", FR_E_NOT_FOUND, "client not found");
}

/* One subject of one client into o (the connection held); r.n says whether it was there. */
static int subject_read(struct conn *c, int64_t client_id, int64_t id, struct fr_store_subject *o,
                        size_t *n_out) {
    struct res r = { .kind = &SUBJECT_ROW, .max = 1, .rows = o };
    int rc = stmt_run(c, Q_SUBJECT_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a subject");
    *n_out = r.n;
    return rc;
}

static int sq_subject_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_subject *out) {
    struct use u;
    size_t n = 0;
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    rc = subject_read(u.c, client_id, id, out, &n);
    use_end(&u);
    return rc == 0 && n == 0 ? subject_missing(id) : rc;
}

/* Ids that are gone or foreign leave their row zeroed. */
static int sq_subject_get_many(fr_store *st, int64_t client_id, const int64_t *ids, size_t n,
                               struct fr_store_subject *out) {
    struct use u;
    size_t i = 0, found;
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    if ((rc = rtx_open(u.c)) == 0) {
        for (; i < n && rc == 0; i++) {
            if (ids[i] > 0) rc = subject_read(u.c, client_id, ids[i], &out[i], &found);
        }
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) {
        while (i > 0) fr_store_subject_free(&out[--i]);
    }
    return rc;
}

static int sq_subject_list(fr_store *st, int64_t client_id, int limit, int64_t after_id,
                           struct fr_store_subject **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &SUBJECT_ROW, .max = (size_t)limit };
    /* one more than limit tells whether there is a next page */
    int rc = call(st, READ, Q_SUBJECT_LIST,
                  ARGS(a_int(client_id), a_int(after_id), a_int(limit + 1)), &r,
                  "listing subjects");
    struct fr_store_subject *rows = r.rows;
    *rows_out = rows;
    *n_out = r.n;
    *next_out = r.more ? rows[r.n - 1].id : 0;
    return rc;
}

static int sq_subject_update(fr_store *st, int64_t client_id, int64_t id,
                             const struct fr_store_subject_update *u) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SUBJECT_UPDATE,
                  ARGS(a_text(u->name), a_text(u->external_id), a_text(u->metadata),
                       a_int(fr__store_now(st)), a_int(client_id), a_int(id)),
                  &r, "updating a subject");
    rc = constraint(rc, &r, "external_id", 0, NULL);
    return missing(rc, r.changes, FR_E_SUBJECT_NOT_FOUND, "subject not found");
}

static int sq_subject_delete(fr_store *st, int64_t client_id, int64_t id, int64_t **face_ids_out,
                             size_t *n_out) {
    struct res ids = { .kind = &I64_ROW, .max = SIZE_MAX }, del = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        /* The ids are read in the same transaction as the delete, so they
         * are exactly the faces that the cascade removes. */
        if (n_out)
            rc = stmt_run(u.c, Q_SUBJECT_FACE_IDS, ARGS(a_int(client_id), a_int(id)), &ids,
                          "listing a subject's faces");
        if (rc == 0)
            rc = stmt_run(u.c, Q_SUBJECT_DELETE, ARGS(a_int(client_id), a_int(id)), &del,
                          "deleting a subject");
        rc = missing(rc, del.changes, FR_E_SUBJECT_NOT_FOUND, "subject not found");
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) {
        res_free(&ids);
        return rc;
    }
    if (n_out) *n_out = ids.n;
    if (face_ids_out) *face_ids_out = ids.rows;
    else res_free(&ids);
    return 0;
}

static int count_by(fr_store *st, enum q id, int64_t client_id, int64_t *n_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = n_out };
    return call(st, READ, id, client_id ? ARGS(a_int(client_id)) : NULL, &r, "counting rows");
}

static int sq_subject_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    return count_by(st, Q_SUBJECT_COUNT, client_id, n_out);
}

/* ---- faces ------------------------------------------------------------------------- */

static int face_missing(int64_t id) {
    return fr_err_set(FR_E_NOT_FOUND, "face %lld not found", (long long)id);
}

static int sq_face_add(fr_store *st, const struct fr_store_face_new *f, int64_t *id_out) {
    struct res r = { 0 };
    const float *b = f->bbox;
    struct arg live = f->liveness >= 0 ? a_real((double)f->liveness) : a_null();
    int rc = call(st, WRITE, Q_FACE_INSERT,
                  ARGS(a_int(f->client_id), a_int(f->subject_id),
                       a_blob(f->embedding, (size_t)f->dim * sizeof(float)), a_text(f->model_id),
                       a_real((double)f->quality), live, a_real((double)b[0]), a_real((double)b[1]),
                       a_real((double)b[2]), a_real((double)b[3]), a_text(f->image_sha256),
                       a_blob(f->image, f->image_len), a_int(fr__store_now(st))),
                  &r, "adding a face");
    if (rc == 0) *id_out = r.last_id;
    /* the (client_id, subject_id) foreign key is the tenancy check */
    if (rc < 0 && r.code == SQLITE_CONSTRAINT_FOREIGNKEY) rc = subject_missing(f->subject_id);
    return rc;
}

static int sq_face_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_face *out) {
    struct res r = { .kind = &FACE_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_FACE_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a face");
    return rc == 0 && r.n == 0 ? face_missing(id) : rc;
}

static int sq_face_list(fr_store *st, int64_t client_id, int64_t subject_id,
                        struct fr_store_face **rows_out, size_t *n_out) {
    int64_t one = 0;
    struct res exists = { .kind = &I64_ROW, .max = 1, .rows = &one };
    struct res r = { .kind = &FACE_ROW, .max = SIZE_MAX };
    struct use u;
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    if ((rc = rtx_open(u.c)) == 0) {   /* the subject check and the list see one snapshot */
        rc = stmt_run(u.c, Q_SUBJECT_EXISTS, ARGS(a_int(client_id), a_int(subject_id)), &exists,
                      "looking up a subject");
        if (rc == 0 && exists.n == 0) rc = subject_missing(subject_id);
        if (rc == 0)
            rc = stmt_run(u.c, Q_FACE_LIST, ARGS(a_int(client_id), a_int(subject_id)), &r,
                          "listing faces");
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) res_free(&r);
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int sq_face_image_get(fr_store *st, int64_t client_id, int64_t id, uint8_t **buf_out,
                             size_t *len_out) {
    struct blob b = { NULL, 0 };
    struct res r = { .kind = &BLOB_ROW, .max = 1, .rows = &b };
    int rc = call(st, READ, Q_FACE_IMAGE, ARGS(a_int(client_id), a_int(id)), &r, "reading a photo");
    if (rc == 0 && r.n == 0)
        return fr_err_set(FR_E_NOT_FOUND, "face %lld has no stored photo", (long long)id);
    *buf_out = b.buf;
    *len_out = b.len;
    return rc;
}

static int sq_face_stale(fr_store *st, const char *model_id, int64_t after_id, int limit,
                         struct fr_store_face_key **rows_out, size_t *n_out) {
    struct res r = { .kind = &FACE_KEY_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_FACE_STALE, ARGS(a_text(model_id), a_int(after_id), a_int(limit)), &r,
                  "listing faces to re-embed");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

/* A write that affects many rows; *n_out gets how many. */
static int write_many(fr_store *st, enum q id, int64_t arg, int64_t *n_out, const char *what) {
    struct res r = { 0 };
    int rc = call(st, WRITE, id, ARGS(a_int(arg)), &r, what);
    if (rc == 0) *n_out = r.changes;
    return rc;
}

static int sq_face_image_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    return write_many(st, Q_FACE_IMAGE_PURGE, before_ms, n_out, "purging photos");
}

/* The delete happens at the first step; RETURNING gives the row. */
static int sq_face_delete(fr_store *st, int64_t client_id, int64_t id, int64_t *subject_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = subject_out };
    int rc = call(st, WRITE, Q_FACE_DELETE, ARGS(a_int(client_id), a_int(id)), &r,
                  "deleting a face");
    return rc == 0 && r.n == 0 ? face_missing(id) : rc;
}

static int sq_face_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    return count_by(st, client_id ? Q_FACE_COUNT : Q_FACE_COUNT_ALL, client_id, n_out);
}

static int sq_faces_foreach(fr_store *st, const char *model_id, fr_store_face_fn fn, void *ctx) {
    struct walk w = { fn, ctx, NULL, 0 };
    struct res r = { .kind = &WALK_ROW, .max = SIZE_MAX, .rows = &w };
    int rc = call(st, READ, Q_FACE_FOREACH, ARGS(a_text(model_id)), &r, "reading faces");
    fr_free(w.buf);
    return rc;
}

static int sq_face_stats(fr_store *st, const char *model_id, struct fr_store_face_stats *out) {
    struct res r = { .kind = &FACE_STATS_ROW, .max = 1, .rows = out };
    return call(st, READ, Q_FACE_STATS, ARGS(a_text(model_id)), &r, "counting faces");
}

/* ---- audit, usage, idempotency --------------------------------------------------------- */

static int sq_audit_append(fr_store *st, const char *actor, const char *action, const char *target,
                           const char *request_id, const char *details, int64_t *id_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_AUDIT_INSERT,
                  ARGS(a_int(fr__store_now(st)), a_text(actor), a_text(action), a_text(target),
                       a_text(request_id), a_text(details)), &r, "writing an audit row");
    if (rc == 0) *id_out = r.last_id;
    return rc;
}

static int sq_audit_list(fr_store *st, int limit, int64_t before_id, struct fr_store_audit **rows_out,
                         size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &AUDIT_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_AUDIT_LIST,
                  ARGS(a_int(before_id ? before_id : INT64_MAX), a_int(limit + 1)), &r,
                  "listing audit rows");
    struct fr_store_audit *rows = r.rows;
    *rows_out = rows;
    *n_out = r.n;
    *next_out = r.more ? rows[r.n - 1].id : 0;
    return rc;
}

static int sq_usage_add(fr_store *st, int64_t client_id, const char *day, const char *operation,
                        int64_t n) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_USAGE_ADD,
                  ARGS(a_int(client_id), a_text(day), a_text(operation), a_int(n)), &r,
                  "counting usage");
    return constraint(rc, &r, NULL, FR_E_NOT_FOUND, "client not found");
}

static int sq_usage_list(fr_store *st, int64_t client_id, const char *from_day,
                         struct fr_store_usage **rows_out, size_t *n_out) {
    struct res r = { .kind = &USAGE_ROW, .max = SIZE_MAX };
    int rc = call(st, READ, Q_USAGE_LIST,
                  ARGS(a_int(client_id), a_text(from_day ? from_day : "")), &r, "listing usage");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int sq_idem_get(fr_store *st, int64_t client_id, const char *key, struct fr_store_idem *out) {
    struct res r = { .kind = &IDEM_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_IDEM_GET, ARGS(a_int(client_id), a_text(key)), &r,
                  "reading an idempotency key");
    return missing(rc, (int64_t)r.n, FR_E_NOT_FOUND, "idempotency key not seen");
}

static int sq_idem_put(fr_store *st, int64_t client_id, const char *key, const char *request_hash,
                       int status, const char *response) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_IDEM_PUT,
                  ARGS(a_int(client_id), a_text(key), a_text(request_hash), a_int(status),
                       a_text(response), a_int(fr__store_now(st))),
                  &r, "storing an idempotency key");
    return constraint(rc, &r, "Idempotency-Key", FR_E_NOT_FOUND, "client not found");
}

static int sq_idem_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    return write_many(st, Q_IDEM_PURGE, before_ms, n_out, "purging idempotency keys");
}

/* ---- webhooks and the outbox ------------------------------------------------------ */

static int webhook_missing(void) { return fr_err_set(FR_E_NOT_FOUND, "webhook not found"); }

static int sq_webhook_create(fr_store *st, int64_t client_id, const char *url, const char *events,
                             const char *description, int enabled, const char *secret, int64_t *id_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_INSERT,
                  ARGS(a_int(client_id), a_text(url), a_text(events), a_text(description), a_int(enabled),
                       a_text(secret), a_int(fr__store_now(st))),
                  &r, "creating a webhook");
    if (rc == 0) *id_out = r.last_id;
    return constraint(rc, &r, NULL, FR_E_NOT_FOUND, "client not found");
}

static int sq_webhook_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_webhook *out) {
    struct res r = { .kind = &WEBHOOK_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_WH_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a webhook");
    return rc == 0 && r.n == 0 ? webhook_missing() : rc;
}

static int sq_webhook_list(fr_store *st, int64_t client_id, struct fr_store_webhook **rows_out, size_t *n_out) {
    struct res r = { .kind = &WEBHOOK_ROW, .max = SIZE_MAX };
    int rc = call(st, READ, Q_WH_LIST, ARGS(a_int(client_id)), &r, "listing webhooks");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int sq_webhook_update(fr_store *st, int64_t client_id, int64_t id, const struct fr_store_webhook_update *u) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_UPDATE,
                  ARGS(a_int(client_id), a_int(id), a_text(u->url), a_text(u->events), a_text(u->description),
                       a_int(u->enabled), a_int(fr__store_now(st))),
                  &r, "updating a webhook");
    return rc == 0 && r.changes == 0 ? webhook_missing() : rc;
}

static int sq_webhook_rotate(fr_store *st, int64_t client_id, int64_t id, const char *new_secret, int64_t old_until) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_ROTATE,
                  ARGS(a_int(client_id), a_int(id), a_text(new_secret), a_int(old_until), a_int(fr__store_now(st))),
                  &r, "rotating a webhook's secret");
    return rc == 0 && r.changes == 0 ? webhook_missing() : rc;
}

static int sq_webhook_delete(fr_store *st, int64_t client_id, int64_t id) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_DELETE, ARGS(a_int(client_id), a_int(id)), &r, "deleting a webhook");
    return rc == 0 && r.changes == 0 ? webhook_missing() : rc;
}

static int sq_webhook_health(fr_store *st, int64_t id, int ok, int64_t at, int64_t disable_before,
                             const char *reason, int *disabled_out, int64_t *client_out) {
    struct res h = { .kind = &I64_ROW, .max = 1, .rows = client_out }, d = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        /* a healthy webhook's row is not written again (no write, no sync) */
        rc = ok ? stmt_run(u.c, Q_WH_HEALTH_OK, ARGS(a_int(id)), &h, "recording a webhook's health")
                : stmt_run(u.c, Q_WH_HEALTH_FAIL, ARGS(a_int(id), a_int(at)), &h, "recording a webhook's health");
        if (rc == 0 && h.n == 0 && !ok) rc = webhook_missing();
        if (rc == 0 && (reason || (!ok && disable_before > 0)))
            rc = stmt_run(u.c, Q_WH_DISABLE,
                          ARGS(a_int(id), a_text(reason ? reason : "failing"), a_int(fr__store_now(st)),
                               a_int(reason ? 0 : disable_before)),
                          &d, "disabling a webhook");
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc == 0) *disabled_out = d.changes > 0;
    return rc;
}

static int sq_webhook_failing_count(fr_store *st, int64_t since, int64_t *n_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = n_out };
    return call(st, READ, Q_WH_FAILING, ARGS(a_int(since)), &r, "counting failing webhooks");
}

static int sq_event_add(fr_store *st, const struct fr_store_event_new *e, int64_t *n_out) {
    struct res ev = { 0 }, fan = { 0 }, del = { 0 };
    const int64_t now = e->created_at > 0 ? e->created_at : fr__store_now(st);
    struct use u;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        rc = stmt_run(u.c, Q_EV_INSERT, ARGS(a_text(e->id), a_int(e->client_id), a_text(e->type), a_text(e->body),
                                             a_int(now)),
                      &ev, "writing an event");
        rc = constraint(rc, &ev, "event id", FR_E_NOT_FOUND, "client not found");
        if (rc == 0)
            rc = stmt_run(u.c, Q_DL_FANOUT,
                          ARGS(a_int(e->client_id), a_text(e->type), a_text(e->id), a_int(now), a_int(e->opt_in),
                               a_int(e->webhook_id)),
                          &fan, "queueing an event's deliveries");
        /* nobody listens: the event is not kept */
        if (rc == 0 && fan.changes == 0)
            rc = stmt_run(u.c, Q_EV_DELETE, ARGS(a_text(e->id)), &del, "dropping an event nobody wants");
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc == 0) *n_out = fan.changes;
    return rc;
}

#define CLAIM_SCAN 1024

static int sq_delivery_claim(fr_store *st, int64_t now, int64_t lease_ms, int max, int per_endpoint,
                             const char *skip_json, const char *owner, struct fr_store_claim **rows_out,
                             size_t *n_out) {
    struct res r = { .kind = &CLAIM_ROW, .max = (size_t)max };
    struct use u;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        /* the window looks at the first max * per_endpoint due rows (32 to
         * CLAIM_SCAN) of the endpoints not skipped: a claim's cost does not grow
         * with the backlog, and a busy endpoint, once full (skipped), leaves
         * the window to the others */
        int64_t scan = (int64_t)max * per_endpoint;
        scan = scan < 32 ? 32 : scan > CLAIM_SCAN ? CLAIM_SCAN : scan;
        rc = stmt_run(u.c, Q_DL_DUE, ARGS(a_int(now), a_int(max), a_int(per_endpoint), a_text(skip_json), a_int(scan)),
                      &r, "finding due deliveries");
        const struct fr_store_claim *c = r.rows;
        for (size_t i = 0; rc == 0 && i < r.n; i++) {
            struct res l = { 0 };
            rc = stmt_run(u.c, Q_DL_LEASE, ARGS(a_int(c[i].id), a_int(now + lease_ms), a_text(owner)), &l,
                          "leasing a delivery");
        }
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) {
        res_free(&r);
        return rc;
    }
    *rows_out = r.rows;
    *n_out = r.n;
    return 0;
}

static int sq_delivery_release(fr_store *st, const char *owner, int64_t *n_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_DL_RELEASE, ARGS(a_text(owner)), &r, "releasing a node's leases");
    if (rc == 0) *n_out = r.changes;
    return rc;
}

static int sq_delivery_finish(fr_store *st, const struct fr_store_delivery_done *d) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_DL_FINISH,
                  ARGS(a_int(d->id), a_int(d->status), a_int(d->attempts),
                       d->last_status_code ? a_int(d->last_status_code) : a_null(), a_text(d->last_error),
                       a_int(d->status == FR_DELIVERY_PENDING ? d->next_attempt_at : 0),
                       d->status == FR_DELIVERY_DELIVERED ? a_int(d->delivered_at) : a_null()),
                  &r, "recording a delivery");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "delivery not found");
}

static int sq_delivery_list(fr_store *st, int64_t client_id, int64_t webhook_id, int limit, int64_t before_id,
                            struct fr_store_delivery **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &DELIVERY_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_DL_LIST,
                  ARGS(a_int(client_id), a_int(webhook_id), a_int(before_id > 0 ? before_id : INT64_MAX),
                       a_int(limit + 1)),
                  &r, "listing deliveries");
    *rows_out = r.rows;
    *n_out = r.n;
    *next_out = rc == 0 && r.more && r.n ? ((struct fr_store_delivery *)r.rows)[r.n - 1].id : 0;
    return rc;
}

static int sq_delivery_get(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id,
                           struct fr_store_delivery *out) {
    struct res r = { .kind = &DELIVERY_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_DL_GET, ARGS(a_int(client_id), a_int(webhook_id), a_int(id)), &r,
                  "reading a delivery");
    return missing(rc, (int64_t)r.n, FR_E_NOT_FOUND, "delivery not found");
}

static int sq_delivery_retry(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id, int64_t now) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_DL_RETRY, ARGS(a_int(client_id), a_int(webhook_id), a_int(id), a_int(now)), &r,
                  "retrying a delivery");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "delivery not found");
}

static int sq_delivery_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    struct res d = { 0 }, e = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        rc = stmt_run(u.c, Q_DL_PURGE, ARGS(a_int(before_ms)), &d, "purging delivered rows");
        if (rc == 0) rc = stmt_run(u.c, Q_EV_ORPHANS, NULL, &e, "purging delivered events");
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc == 0) *n_out = d.changes;
    return rc;
}

static int read_stats(sqlite3_stmt *q, void *row) {
    int64_t *v = row;
    v[0] = sqlite3_column_int64(q, 0);
    v[1] = sqlite3_column_int64(q, 1);
    return 0;
}
static const struct row_kind STATS_ROW = { 2 * sizeof(int64_t), read_stats, NULL };

static int sq_outbox_stats(fr_store *st, int64_t *pending_out, int64_t *oldest_out) {
    int64_t v[2] = { 0, 0 };
    struct res r = { .kind = &STATS_ROW, .max = 1, .rows = v };
    int rc = call(st, READ, Q_OUTBOX_STATS, NULL, &r, "counting pending deliveries");
    *pending_out = v[0];
    *oldest_out = v[1];
    return rc;
}


/* ---- cameras and camera sessions ------------------------------------------------------ */

static int sq_subject_find_external(fr_store *st, int64_t client_id, const char *external_id, int64_t *id_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = id_out };
    int rc = call(st, READ, Q_SUBJECT_BY_EXT, ARGS(a_int(client_id), a_text(external_id)), &r, "finding a subject");
    return rc == 0 && r.n == 0 ? fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject not found") : rc;
}

static int sq_changes_head(fr_store *st, int64_t *seq_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = seq_out };
    return call(st, READ, Q_LOG_HEAD, NULL, &r, "reading the index log's head");
}

static int sq_changes_since(fr_store *st, int64_t after_seq, int limit, struct fr_store_change **rows_out,
                            size_t *n_out) {
    struct res r = { .kind = &CHANGE_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_LOG_SINCE, ARGS(a_int(after_seq), a_int(limit)), &r, "reading the index log");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

/* One process writes an SQLite database: its own writes reach its index
 * directly, so the head is polled (a cheap read) for the rest. */
static int sq_changes_wait(fr_store *st, int64_t after_seq, int timeout_ms) {
    for (int waited = 0;; waited += 50) {
        int64_t head = 0;
        int rc = sq_changes_head(st, &head);
        if (rc < 0) return rc;
        if (head > after_seq) return 1;
        if (waited >= timeout_ms) return 0;
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static int sq_changes_purged_through(fr_store *st, int64_t *seq_out) {
    char *v = NULL;
    int rc = sq_admin_get(st, "index_log_purged_through", &v);
    if (rc == -FR_E_NOT_FOUND) return 0;
    if (rc == 0 && v) *seq_out = strtoll(v, NULL, 10);
    fr_free(v);
    return rc;
}

static int sq_changes_purge(fr_store *st, int64_t before_ms, int64_t *n_out, int64_t *purged_through_out) {
    int64_t upto = 0;
    struct res m = { .kind = &I64_ROW, .max = 1, .rows = &upto }, d = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        rc = stmt_run(u.c, Q_LOG_PURGE_MAX, ARGS(a_int(before_ms)), &m, "finding old index log rows");
        if (rc == 0 && upto > 0) rc = stmt_run(u.c, Q_LOG_PURGE, ARGS(a_int(upto)), &d, "purging the index log");
        if (rc == 0 && upto > 0) {
            char v[24];
            struct res w = { 0 };
            snprintf(v, sizeof v, "%lld", (long long)upto);
            rc = stmt_run(u.c, Q_ADMIN_SET, ARGS(a_text("index_log_purged_through"), a_text(v)), &w,
                          "recording the index log's purge");
        }
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) return rc;
    *n_out = d.changes;
    return upto > 0 ? (*purged_through_out = upto, 0) : sq_changes_purged_through(st, purged_through_out);
}

static int sq_info(fr_store *st, struct fr_store_info *out) {
    struct sq *s = SQ(st);
    snprintf(out->server_version, sizeof out->server_version, "%s", sqlite3_libversion());
    out->pool_size = 2;   /* the store's connection and the transactions' */
    out->pool_in_use = s->gate_held ? 1 : 0;
    return 0;
}

static int camera_missing(void) { return fr_err_set(FR_E_NOT_FOUND, "camera not found"); }

static int sq_camera_create(fr_store *st, int64_t client_id, const char *name, const char *url, int transport,
                            int64_t *id_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CAM_INSERT,
                  ARGS(a_int(client_id), a_text(name), a_text(url), a_int(transport), a_int(fr__store_now(st))), &r,
                  "creating a camera");
    if (rc == 0) *id_out = r.last_id;
    return constraint(rc, &r, NULL, FR_E_NOT_FOUND, "client not found");
}

static int sq_camera_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_camera *out) {
    struct res r = { .kind = &CAMERA_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_CAM_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a camera");
    return rc == 0 && r.n == 0 ? camera_missing() : rc;
}

static int sq_camera_list(fr_store *st, int64_t client_id, struct fr_store_camera **rows_out, size_t *n_out) {
    struct res r = { .kind = &CAMERA_ROW, .max = FR_STORE_LIST_MAX };
    int rc = call(st, READ, Q_CAM_LIST, ARGS(a_int(client_id)), &r, "listing cameras");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int sq_camera_update(fr_store *st, int64_t client_id, int64_t id, const char *name, const char *url,
                            int transport) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CAM_UPDATE,
                  ARGS(a_int(client_id), a_int(id), a_text(name), a_text(url), a_int(transport),
                       a_int(fr__store_now(st))),
                  &r, "updating a camera");
    return rc == 0 && r.changes == 0 ? camera_missing() : rc;
}

static int sq_camera_delete(fr_store *st, int64_t client_id, int64_t id) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CAM_DELETE, ARGS(a_int(client_id), a_int(id)), &r, "deleting a camera");
    return rc == 0 && r.changes == 0 ? camera_missing() : rc;
}

static int sq_session_create(fr_store *st, const struct fr_store_session_new *n, int64_t *id_out, int64_t *hook_out) {
    const struct fr_store_session_settings *x = n->set;
    const int64_t now = fr__store_now(st);
    struct res r = { 0 };
    struct use u;
    int64_t id = 0, hook = 0;
    int rc = use_begin(st, WRITE, &u);
    if (rc < 0) return rc;
    if ((rc = tx_open(u.c)) == 0) {
        rc = stmt_run(u.c, Q_SES_INSERT,
                      ARGS(a_int(n->client_id), a_text(n->uid), a_text(n->slot_id), a_int(x->mode),
                           a_int(x->cooldown_ms), a_real(x->fps), a_real(x->threshold), a_int(x->min_face_px),
                           a_real(x->min_quality), a_int(x->liveness), a_int(x->report_unknown), a_int(x->snapshot),
                           a_text(x->roster), a_int(x->max_failures), a_int(x->max_failure_ms),
                           a_text(x->callback_url), a_text(x->policy), a_int(x->ends_at), a_text(n->node), a_int(now)),
                      &r, "creating a session");
        rc = constraint(rc, &r, "slot_id", FR_E_NOT_FOUND, "client not found");
        id = r.last_id;
        for (int i = 0; rc == 0 && i < n->n_cameras; i++) {
            const struct fr_store_session_camera *c = &n->cameras[i];
            struct res cr = { 0 };
            rc = stmt_run(u.c, Q_SES_CAM_INSERT,
                          ARGS(a_int(id), a_int(i), a_text(c->key), a_text(c->name), a_text(c->url),
                               a_int(c->transport), a_int(c->camera_id)),
                          &cr, "writing a session's camera");
            rc = constraint(rc, &cr, "cameras", 0, NULL);
        }
        if (rc == 0) {
            struct res hr = { 0 };
            rc = stmt_run(u.c, Q_SES_HOOK_INSERT,
                          ARGS(a_int(n->client_id), a_text(x->callback_url),
                               a_text(n->callback_secret ? n->callback_secret : ""), a_int(now), a_int(id),
                               a_text(x->policy)),
                          &hr, "writing a session's callback endpoint");
            hook = hr.last_id;
        }
        if (rc == 0) {
            struct res sr = { 0 };
            rc = stmt_run(u.c, Q_SES_SET_HOOK, ARGS(a_int(id), a_int(hook)), &sr, "linking a session's callbacks");
        }
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc == 0) {
        *id_out = id;
        *hook_out = hook;
    }
    return rc;
}

/* Each session's cameras (the connection is held). */
static int session_cameras(struct conn *c, struct fr_store_session *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct res r = { .kind = &SESSION_CAMERA_ROW, .max = FR_STORE_SESSION_CAMERAS_MAX };
        int rc = stmt_run(c, Q_SES_CAMS, ARGS(a_int(rows[i].id)), &r, "reading a session's cameras");
        if (rc < 0) return rc;
        rows[i].cameras = r.rows;
        rows[i].n_cameras = (int)r.n;
    }
    return 0;
}

static int sq_session_get(fr_store *st, int64_t client_id, const char *slot_id, int64_t id,
                          struct fr_store_session *out) {
    struct res r = { .kind = &SESSION_ROW, .max = 1, .rows = out };
    struct use u;
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    if ((rc = rtx_open(u.c)) == 0) {
        rc = slot_id ? stmt_run(u.c, Q_SES_BY_SLOT, ARGS(a_int(client_id), a_text(slot_id)), &r, "reading a session")
                     : stmt_run(u.c, Q_SES_BY_ID, ARGS(a_int(id)), &r, "reading a session");
        if (rc == 0 && r.n == 1) rc = session_cameras(u.c, out, 1);
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) fr_store_session_free(out);
    if (rc == 0 && r.n == 0) return fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found");
    return rc;
}

static int sq_session_list(fr_store *st, int64_t client_id, int running, int limit, int64_t before_id,
                           struct fr_store_session **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &SESSION_ROW, .max = (size_t)limit };
    struct use u;
    int rc = use_begin(st, READ, &u);
    if (rc < 0) return rc;
    if ((rc = rtx_open(u.c)) == 0) {
        rc = client_id == 0 && running
                 ? stmt_run(u.c, Q_SES_RUNNING, ARGS(a_int(limit)), &r, "listing running sessions")
                 : stmt_run(u.c, Q_SES_LIST,
                            ARGS(a_int(client_id), a_int(running), a_int(before_id > 0 ? before_id : INT64_MAX),
                                 a_int(limit + 1)),
                            &r, "listing sessions");
        if (rc == 0) rc = session_cameras(u.c, r.rows, r.n);
        rc = tx_close(u.c, rc);
    }
    use_end(&u);
    if (rc < 0) {
        res_free(&r);
        return rc;
    }
    *rows_out = r.rows;
    *n_out = r.n;
    *next_out = r.more && r.n ? ((struct fr_store_session *)r.rows)[r.n - 1].id : 0;
    return 0;
}

static int sq_session_take(fr_store *st, int64_t id, const char *node, int64_t *epoch_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = epoch_out };
    int rc = call(st, WRITE, Q_SES_TAKE, ARGS(a_int(id), a_text(node), a_int(fr__store_now(st))), &r,
                  "taking a session");
    return rc == 0 && r.n == 0 ? fr_err_set(FR_E_SESSION_NOT_FOUND, "session not running") : rc;
}

static int sq_session_stop(fr_store *st, int64_t id, const char *reason, int64_t at) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SES_STOP, ARGS(a_int(id), a_text(reason), a_int(at)), &r, "stopping a session");
    return rc == 0 && r.changes == 0 ? fr_err_set(FR_E_SESSION_NOT_FOUND, "session not running") : rc;
}

static int sq_session_progress(fr_store *st, int64_t id, const struct fr_store_session_stats *x) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SES_PROGRESS,
                  ARGS(a_int(id), a_int(x->frames_read), a_int(x->frames_analysed), a_int(x->faces_seen),
                       a_int(x->recognitions), a_int(x->callback_failures), a_int(fr__store_now(st))),
                  &r, "recording a session's progress");
    return rc == 0 && r.changes == 0 ? fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found") : rc;
}

static int sq_recognition_add(fr_store *st, const struct fr_store_recognition *x, int64_t *id_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_REC_INSERT,
                  ARGS(a_int(x->client_id), a_int(x->session_id), a_int(x->kind), a_int(x->subject_id),
                       a_text(x->camera), a_real(x->similarity), a_real(x->quality), a_real(x->box[0]),
                       a_real(x->box[1]), a_real(x->box[2]), a_real(x->box[3]), a_int(x->seen_at),
                       a_text(x->event_id)),
                  &r, "writing a recognition");
    if (rc == 0) *id_out = r.last_id;
    return constraint(rc, &r, NULL, FR_E_SESSION_NOT_FOUND, "session not found");
}

static int sq_recognition_list(fr_store *st, int64_t client_id, int64_t session_id, int limit, int64_t after_id,
                               struct fr_store_recognition **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &RECOGNITION_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_REC_LIST, ARGS(a_int(client_id), a_int(session_id), a_int(after_id), a_int(limit + 1)),
                  &r, "listing recognitions");
    *rows_out = r.rows;
    *n_out = r.n;
    *next_out = rc == 0 && r.more && r.n ? ((struct fr_store_recognition *)r.rows)[r.n - 1].id : 0;
    return rc;
}

static int sq_session_reported(fr_store *st, int64_t session_id, int64_t **subjects_out, int64_t **at_out,
                               size_t *n_out) {
    struct res r = { .kind = &PAIR_ROW, .max = SIZE_MAX - 1 };
    int rc = call(st, READ, Q_REC_REPORTED, ARGS(a_int(session_id)), &r, "reading a session's reports");
    if (rc < 0) return rc;
    int64_t *p = r.rows, *a = fr_calloc(r.n + 1, sizeof *a), *b = fr_calloc(r.n + 1, sizeof *b);
    if (!a || !b) {
        fr_free(a);
        fr_free(b);
        fr_free(p);
        return -FR_E_NOMEM;
    }
    for (size_t i = 0; i < r.n; i++) {
        a[i] = p[2 * i];
        b[i] = p[2 * i + 1];
    }
    fr_free(p);
    *subjects_out = a;
    *at_out = b;
    *n_out = r.n;
    return 0;
}

const struct fr_store_ops fr__store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .migrate = sq_migrate,
    .close = sq_close,
    .ping = sq_ping,
    .schema_version = sq_schema_version,
    .check = sq_check,
    .backup = sq_backup,
    .restore = sq_restore,
    .tx_begin = sq_tx_begin,
    .tx_end = sq_tx_end,
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
    .webhook_create = sq_webhook_create,
    .webhook_get = sq_webhook_get,
    .webhook_list = sq_webhook_list,
    .webhook_update = sq_webhook_update,
    .webhook_rotate = sq_webhook_rotate,
    .webhook_delete = sq_webhook_delete,
    .webhook_health = sq_webhook_health,
    .webhook_failing_count = sq_webhook_failing_count,
    .event_add = sq_event_add,
    .delivery_claim = sq_delivery_claim,
    .delivery_finish = sq_delivery_finish,
    .delivery_release = sq_delivery_release,
    .delivery_list = sq_delivery_list,
    .delivery_get = sq_delivery_get,
    .delivery_retry = sq_delivery_retry,
    .delivery_purge = sq_delivery_purge,
    .outbox_stats = sq_outbox_stats,
    .subject_find_external = sq_subject_find_external,
    .info = sq_info,
    .changes_head = sq_changes_head,
    .changes_since = sq_changes_since,
    .changes_wait = sq_changes_wait,
    .changes_purge = sq_changes_purge,
    .changes_purged_through = sq_changes_purged_through,
    .camera_create = sq_camera_create,
    .camera_get = sq_camera_get,
    .camera_list = sq_camera_list,
    .camera_update = sq_camera_update,
    .camera_delete = sq_camera_delete,
    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_list = sq_session_list,
    .session_take = sq_session_take,
    .session_stop = sq_session_stop,
    .session_progress = sq_session_progress,
    .recognition_add = sq_recognition_add,
    .recognition_list = sq_recognition_list,
    .session_reported = sq_session_reported,
};
