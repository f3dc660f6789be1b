/* The PostgreSQL backend of the store, through libpq: fr_store_open(
 * "postgresql://user:pass@host:port/db?pool=8") (or "postgres:", or
 * "postgresql:host=... dbname=..." in libpq's key=value form).
 *
 * Design. A pool of connections (8 unless the URL says ?pool=N, which is
 * facerec's own parameter and taken out before libpq sees the URL), each
 * opened at its first use. A call on the store borrows a free connection
 * for its length and waits for one at most BUSY_TIMEOUT_MS; a transaction
 * handle (fr_store_tx_begin) pins one from begin to end, so the calls made
 * through it are its transaction whichever threads make them, and its
 * savepoints (inner transactions) run on the same connection. Every
 * statement is prepared once per connection (the statement table below)
 * and run with text parameters (bytea ones binary) and binary results, so
 * an embedding crosses the wire as its 4*dim bytes both ways.
 *
 * Concurrency is PostgreSQL's, not a gate of ours as in the SQLite backend:
 * transactions run side by side (READ COMMITTED), and a change waits only
 * for a row another open transaction changed, at most lock_timeout (5 s,
 * the SQLite backend's busy timeout) before -FR_E_SERVICE_UNAVAILABLE. This
 * is what lets several facerec nodes share one database.
 *
 * Calls made through a transaction that write run inside a SAVEPOINT, so a
 * failed call undoes only itself (PostgreSQL otherwise aborts the whole
 * transaction at the first error), as the store's contract says. Calls that
 * run several statements on the store itself open their own transaction;
 * reads that need one snapshot open a REPEATABLE READ READ ONLY one.
 *
 * Durability: a call returns after COMMIT did, and PostgreSQL's default
 * synchronous_commit=on has flushed the WAL by then.
 *
 * Errors: the SQLSTATE decides the code (err_from_state); uniqueness and
 * foreign-key violations are mapped by each call to the words the API
 * needs, as in the SQLite backend. A lost connection (server restarted,
 * network) is -FR_E_SERVICE_UNAVAILABLE; the pool drops that connection and
 * opens a new one at the next call, so the store recovers by itself. The
 * URL is never quoted back in a message (it may hold a password). */
#ifdef FR_WITH_PG

#include "store/store_int.h"
#include "store/pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define POOL_DEFAULT    8
#define POOL_MAX        256
#define CONNECT_TIMEOUT "5"        /* seconds, unless the URL sets connect_timeout */
#define MIGRATION_LOCK  "7305613"  /* pg_advisory_xact_lock key: one migrator at a time */
#define WALK_PAGE       1000       /* faces per page of fr_store_faces_foreach */

/* Type OIDs (PostgreSQL's catalog/pg_type_d.h; libpq does not export them). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_INT8_ARRAY = 1016
};

/* Every statement the backend runs, prepared on a connection at its first use there. */
#define FACE_COLS "id, client_id, subject_id, embedding, model_id, quality, liveness, " \
                  "bbox_x, bbox_y, bbox_w, bbox_h, image_sha256, image IS NOT NULL, created_at"
#define SUBJECT_COLS "s.id, s.client_id, s.external_id, s.name, s.metadata, s.created_at, " \
                     "s.updated_at, (SELECT count(*) FROM faces f WHERE f.client_id = s.client_id " \
                     "AND f.subject_id = s.id)"
#define CLIENT_COLS "id, name, key_prefix, key_hash, rate_limit_per_hour, rate_limit_per_day, " \
                    "disabled, created_at"
#define WEBHOOK_COLS "id, client_id, url, events, description, enabled, secret, old_secret, " \
                     "coalesce(old_secret_until, 0), coalesce(failing_since, 0), disabled_reason, created_at, " \
                     "updated_at"
#define DELIVERY_COLS "d.id, d.webhook_id, d.client_id, d.event_id, e.type, d.status, d.attempts, " \
                      "coalesce(d.last_status_code, 0), d.last_error, CASE WHEN d.status = 0 THEN " \
                      "d.next_attempt_at ELSE 0 END, coalesce(d.delivered_at, 0), d.created_at"
#define CAMERA_COLS "id, client_id, name, url, transport, created_at, updated_at"
#define SESSION_COLS "id, client_id, uid, slot_id, running, reason, mode, cooldown_ms, fps, threshold, " \
                     "min_face_px, min_quality, liveness, report_unknown, snapshot, roster, max_failures, " \
                     "max_failure_ms, callback_url, policy, ends_at, hook_id, node, epoch, created_at, " \
                     "updated_at, stopped_at, frames_read, frames_analysed, faces_seen, recognitions, " \
                     "callback_failures"
#define QUERIES(X) \
    X(PING,            "SELECT 1") \
    X(VERSION,         "SELECT coalesce(max(version), 0) FROM schema_version") \
    X(VERSION_ADD,     "INSERT INTO schema_version(version, applied_at) VALUES ($1, $2)") \
    X(CLIENT_INSERT,   "INSERT INTO clients(name, key_prefix, key_hash, rate_limit_per_hour, " \
                       "rate_limit_per_day, disabled, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id") \
    X(CLIENT_GET,      "SELECT " CLIENT_COLS " FROM clients WHERE id = $1") \
    X(CLIENT_BY_PREFIX,"SELECT " CLIENT_COLS " FROM clients WHERE key_prefix = $1") \
    X(CLIENT_LIST,     "SELECT " CLIENT_COLS " FROM clients ORDER BY id") \
    X(CLIENT_UPDATE,   "UPDATE clients SET name = coalesce($1, name), " \
                       "rate_limit_per_hour = CASE WHEN $2 < 0 THEN rate_limit_per_hour ELSE $2 END, " \
                       "rate_limit_per_day = CASE WHEN $3 < 0 THEN rate_limit_per_day ELSE $3 END, " \
                       "disabled = CASE WHEN $4 < 0 THEN disabled ELSE $4 END WHERE id = $5") \
    X(CLIENT_SET_KEY,  "UPDATE clients SET key_prefix = $1, key_hash = $2 WHERE id = $3") \
    X(CLIENT_DELETE,   "DELETE FROM clients WHERE id = $1") \
    X(ADMIN_GET,       "SELECT v FROM admin WHERE k = $1") \
    X(ADMIN_SET,       "INSERT INTO admin(k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v") \
    X(SUBJECT_INSERT,  "INSERT INTO subjects(client_id, external_id, name, metadata, created_at, " \
                       "updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id") \
    X(SUBJECT_GET,     "SELECT " SUBJECT_COLS " FROM subjects s WHERE s.client_id = $1 AND s.id = $2") \
    X(SUBJECT_MANY,    "SELECT " SUBJECT_COLS ", u.ord FROM unnest($2) WITH ORDINALITY AS u(id, ord) " \
                       "JOIN subjects s ON s.id = u.id WHERE s.client_id = $1") \
    X(SUBJECT_LIST,    "SELECT " SUBJECT_COLS " FROM subjects s WHERE s.client_id = $1 AND s.id > $2 " \
                       "ORDER BY s.id LIMIT $3") \
    X(SUBJECT_UPDATE,  "UPDATE subjects SET name = coalesce($1, name), " \
                       "external_id = CASE WHEN $2 IS NULL THEN external_id WHEN $2 = '' THEN NULL " \
                       "ELSE $2 END, " \
                       "metadata = CASE WHEN $3 IS NULL THEN metadata WHEN $3 = '' THEN NULL " \
                       "ELSE $3 END, " \
                       "updated_at = $4 WHERE client_id = $5 AND id = $6") \
    X(SUBJECT_FACE_IDS,"SELECT id FROM faces WHERE client_id = $1 AND subject_id = $2 ORDER BY id") \
    X(SUBJECT_DELETE,  "DELETE FROM subjects WHERE client_id = $1 AND id = $2") \
    X(SUBJECT_EXISTS,  "SELECT 1 FROM subjects WHERE client_id = $1 AND id = $2") \
    X(SUBJECT_LOCK,    "SELECT 1 FROM subjects WHERE client_id = $1 AND id = $2 FOR UPDATE") \
    X(SUBJECT_BY_EXT,  "SELECT id FROM subjects WHERE client_id = $1 AND external_id = $2") \
    X(SUBJECT_COUNT,   "SELECT count(*) FROM subjects WHERE client_id = $1") \
    X(FACE_INSERT,     "INSERT INTO faces(client_id, subject_id, embedding, model_id, quality, " \
                       "liveness, bbox_x, bbox_y, bbox_w, bbox_h, image_sha256, image, created_at) " \
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id") \
    X(FACE_GET,        "SELECT " FACE_COLS " FROM faces WHERE client_id = $1 AND id = $2") \
    X(FACE_LIST,       "SELECT " FACE_COLS " FROM faces WHERE client_id = $1 AND subject_id = $2 " \
                       "ORDER BY id") \
    X(FACE_IMAGE,      "SELECT image FROM faces WHERE client_id = $1 AND id = $2 AND image IS NOT NULL") \
    X(FACE_IMAGE_PURGE,"UPDATE faces SET image = NULL WHERE image IS NOT NULL AND created_at < $1") \
    X(FACE_STALE,      "SELECT client_id, id, subject_id FROM faces WHERE image IS NOT NULL AND model_id <> $1 " \
                       "AND id > $2 ORDER BY id LIMIT $3") \
    X(FACE_DELETE,     "DELETE FROM faces WHERE client_id = $1 AND id = $2 RETURNING subject_id") \
    X(FACE_COUNT_ALL,  "SELECT count(*) FROM faces") \
    X(FACE_COUNT,      "SELECT count(*) FROM faces WHERE client_id = $1") \
    X(FACE_PAGE,       "SELECT client_id, id, subject_id, embedding FROM faces " \
                       "WHERE ($1::text IS NULL OR model_id = $1) AND id > $2 ORDER BY id LIMIT $3") \
    X(FACE_STATS,      "SELECT count(*), coalesce(max(id), 0), coalesce(sum(id), 0)::bigint FROM faces " \
                       "WHERE $1::text IS NULL OR model_id = $1") \
    X(FACE_BAD,        "SELECT count(*) FROM faces WHERE octet_length(embedding) = 0 " \
                       "OR octet_length(embedding) % 4 <> 0") \
    X(AUDIT_INSERT,    "INSERT INTO audit(at, actor, action, target, request_id, details) " \
                       "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id") \
    X(AUDIT_LIST,      "SELECT id, at, actor, action, target, request_id, details FROM audit " \
                       "WHERE id < $1 ORDER BY id DESC LIMIT $2") \
    X(USAGE_ADD,       "INSERT INTO usage(client_id, day, operation, count) VALUES ($1, $2, $3, $4) " \
                       "ON CONFLICT (client_id, day, operation) DO UPDATE SET count = usage.count + excluded.count") \
    X(USAGE_LIST,      "SELECT day, operation, count FROM usage WHERE client_id = $1 AND day >= $2 " \
                       "ORDER BY day, operation") \
    X(IDEM_GET,        "SELECT request_hash, status, response, created_at FROM idempotency " \
                       "WHERE client_id = $1 AND key = $2") \
    X(IDEM_PUT,        "INSERT INTO idempotency(client_id, key, request_hash, status, response, " \
                       "created_at) VALUES ($1, $2, $3, $4, $5, $6)") \
    X(IDEM_PURGE,      "DELETE FROM idempotency WHERE created_at < $1") \
    X(WH_INSERT,       "INSERT INTO webhooks(client_id, url, events, description, enabled, secret, created_at, " \
                       "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id") \
    X(WH_GET,          "SELECT " WEBHOOK_COLS " FROM webhooks WHERE client_id = $1 AND id = $2 " \
                       "AND session_id IS NULL") \
    X(WH_LIST,         "SELECT " WEBHOOK_COLS " FROM webhooks WHERE client_id = $1 AND session_id IS NULL " \
                       "ORDER BY id") \
    X(WH_UPDATE,       "UPDATE webhooks SET url = coalesce($3, url), events = coalesce($4, events), " \
                       "description = CASE WHEN $5 IS NULL THEN description WHEN $5 = '' THEN NULL ELSE $5 END, " \
                       "enabled = CASE WHEN $6 < 0 THEN enabled ELSE $6 END, " \
                       "disabled_reason = CASE WHEN $6 = 1 THEN NULL ELSE disabled_reason END, " \
                       "failing_since = CASE WHEN $6 = 1 THEN NULL ELSE failing_since END, updated_at = $7 " \
                       "WHERE client_id = $1 AND id = $2 AND session_id IS NULL") \
    X(WH_ROTATE,       "UPDATE webhooks SET old_secret = secret, old_secret_until = $4, secret = $3, " \
                       "updated_at = $5 WHERE client_id = $1 AND id = $2 AND session_id IS NULL") \
    X(WH_DELETE,       "DELETE FROM webhooks WHERE client_id = $1 AND id = $2 AND session_id IS NULL") \
    X(WH_HEALTH_OK,    "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL " \
                       "RETURNING client_id") \
    X(WH_HEALTH_FAIL,  "UPDATE webhooks SET failing_since = coalesce(failing_since, $2) WHERE id = $1 " \
                       "RETURNING client_id") \
    X(WH_DISABLE,      "UPDATE webhooks SET enabled = 0, disabled_reason = $2, updated_at = $3 " \
                       "WHERE id = $1 AND enabled = 1 AND ($4 = 0 OR failing_since < $4)") \
    X(WH_FAILING,      "SELECT count(*) FROM webhooks WHERE enabled = 1 AND failing_since < $1 " \
                       "AND session_id IS NULL") \
    X(EV_INSERT,       "INSERT INTO events(id, client_id, type, body, created_at) VALUES ($1, $2, $3, $4, $5)") \
    X(EV_DELETE,       "DELETE FROM events WHERE id = $1") \
    X(EV_ORPHANS,      "DELETE FROM events e WHERE NOT EXISTS " \
                       "(SELECT 1 FROM deliveries d WHERE d.event_id = e.id)") \
    X(DL_FANOUT,       "INSERT INTO deliveries(client_id, webhook_id, event_id, next_attempt_at, created_at) " \
                       "SELECT client_id, id, $3, $4, $4 FROM webhooks WHERE client_id = $1 AND enabled = 1 AND " \
                       "CASE WHEN $6 > 0 THEN id = $6 ELSE (events = '*' AND $5 = 0) OR " \
                       "strpos(',' || events || ',', ',' || $2 || ',') > 0 END") \
    /* One statement finds, locks (skipping rows another node is claiming \
     * right now) and leases the due deliveries; the window and the \
     * per-endpoint cap are the SQLite backend's (see pg_delivery_claim). */ \
    X(DL_CLAIM,        "WITH due AS (SELECT d.id, d.webhook_id, d.next_attempt_at FROM deliveries d " \
                       "WHERE d.status = 0 AND d.next_attempt_at <= $1 AND d.lease_until <= $1 " \
                       "AND d.webhook_id IN (SELECT id FROM webhooks WHERE enabled = 1) " \
                       "AND d.webhook_id <> ALL ($4) " \
                       "ORDER BY d.next_attempt_at, d.id LIMIT $5 FOR UPDATE OF d SKIP LOCKED), " \
                       "pick AS (SELECT id FROM (SELECT id, next_attempt_at AS due_at, row_number() OVER " \
                       "(PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS rn FROM due) x " \
                       "WHERE rn <= $3 ORDER BY due_at, id LIMIT $2), " \
                       "leased AS (UPDATE deliveries dl SET lease_until = $6, lease_owner = $7 FROM pick " \
                       "WHERE dl.id = pick.id RETURNING dl.id, dl.webhook_id, dl.client_id, dl.event_id, " \
                       "dl.attempts, dl.next_attempt_at) " \
                       "SELECT d.id, d.webhook_id, d.client_id, w.url, w.secret, " \
                       "CASE WHEN w.old_secret_until > $1 THEN w.old_secret END, d.event_id, e.body, d.attempts, " \
                       "e.created_at, coalesce(w.session_id, 0), w.policy FROM leased d " \
                       "JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id " \
                       "ORDER BY d.next_attempt_at, d.id") \
    X(DL_RELEASE,      "UPDATE deliveries SET lease_until = 0, lease_owner = NULL " \
                       "WHERE status = 0 AND lease_owner = $1 AND lease_until > 0") \
    X(DL_FINISH,       "UPDATE deliveries SET status = $2, attempts = $3, last_status_code = $4, last_error = $5, " \
                       "next_attempt_at = $6, delivered_at = $7, lease_until = 0 WHERE id = $1") \
    X(DL_LIST,         "SELECT " DELIVERY_COLS " FROM deliveries d JOIN events e ON e.id = d.event_id " \
                       "WHERE d.client_id = $1 AND d.webhook_id = $2 AND d.id < $3 ORDER BY d.id DESC LIMIT $4") \
    X(DL_GET,          "SELECT " DELIVERY_COLS " FROM deliveries d JOIN events e ON e.id = d.event_id " \
                       "WHERE d.client_id = $1 AND d.webhook_id = $2 AND d.id = $3") \
    X(DL_RETRY,        "UPDATE deliveries SET status = 0, next_attempt_at = $4, lease_until = 0 " \
                       "WHERE client_id = $1 AND webhook_id = $2 AND id = $3") \
    X(DL_PURGE,        "DELETE FROM deliveries WHERE status = 1 AND delivered_at < $1") \
    X(LOG_HEAD,        "SELECT coalesce(max(seq), 0) FROM index_log") \
    X(LOG_SINCE,       "SELECT l.seq, l.deleted, l.client_id, l.face_id, l.subject_id, l.model_id, " \
                       "CASE WHEN l.deleted = 0 THEN f.embedding END, l.at FROM index_log l " \
                       "LEFT JOIN faces f ON f.id = l.face_id AND l.deleted = 0 WHERE l.seq > $1 ORDER BY l.seq LIMIT $2") \
    X(LOG_PURGE_MAX,   "SELECT coalesce(max(seq), 0) FROM index_log WHERE at < $1") \
    X(LOG_PURGE,       "DELETE FROM index_log WHERE seq <= $1") \
    X(OUTBOX_STATS,    "SELECT count(*), coalesce(min(d.created_at), 0) FROM deliveries d " \
                       "JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 0 AND w.enabled = 1 " \
                       "AND w.session_id IS NULL") \
    X(CAM_INSERT,      "INSERT INTO cameras(client_id, name, url, transport, created_at, updated_at) " \
                       "VALUES ($1, $2, $3, $4, $5, $5) RETURNING id") \
    X(CAM_GET,         "SELECT " CAMERA_COLS " FROM cameras WHERE client_id = $1 AND id = $2") \
    X(CAM_LIST,        "SELECT " CAMERA_COLS " FROM cameras WHERE client_id = $1 ORDER BY id") \
    X(CAM_UPDATE,      "UPDATE cameras SET name = coalesce($3, name), url = coalesce($4, url), " \
                       "transport = CASE WHEN $5 < 0 THEN transport ELSE $5 END, updated_at = $6 " \
                       "WHERE client_id = $1 AND id = $2") \
    X(CAM_DELETE,      "DELETE FROM cameras WHERE client_id = $1 AND id = $2") \
    X(SES_INSERT,      "INSERT INTO sessions(client_id, uid, slot_id, mode, cooldown_ms, fps, threshold, " \
                       "min_face_px, min_quality, liveness, report_unknown, snapshot, roster, max_failures, " \
                       "max_failure_ms, callback_url, policy, ends_at, node, created_at, updated_at) VALUES " \
                       "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, " \
                       "$20, $20) RETURNING id") \
    X(SES_CAM_INSERT,  "INSERT INTO session_cameras(session_id, idx, key, name, url, transport, camera_id) " \
                       "VALUES ($1, $2, $3, $4, $5, $6, $7)") \
    X(SES_HOOK_INSERT, "INSERT INTO webhooks(client_id, url, events, enabled, secret, created_at, updated_at, " \
                       "session_id, policy) VALUES ($1, $2, '', 1, $3, $4, $4, $5, $6) RETURNING id") \
    X(SES_SET_HOOK,    "UPDATE sessions SET hook_id = $2 WHERE id = $1") \
    X(SES_BY_SLOT,     "SELECT " SESSION_COLS " FROM sessions WHERE client_id = $1 AND slot_id = $2 " \
                       "ORDER BY running DESC, id DESC LIMIT 1") \
    X(SES_BY_ID,       "SELECT " SESSION_COLS " FROM sessions WHERE id = $1") \
    X(SES_LIST,        "SELECT " SESSION_COLS " FROM sessions WHERE ($1 = 0 OR client_id = $1) " \
                       "AND ($2 = 0 OR running = 1) AND id < $3 ORDER BY id DESC LIMIT $4") \
    X(SES_RUNNING,     "SELECT " SESSION_COLS " FROM sessions WHERE running = 1 ORDER BY id LIMIT $1") \
    X(SES_CAMS,        "SELECT key, name, url, transport, camera_id FROM session_cameras WHERE session_id = $1 " \
                       "ORDER BY idx") \
    X(SES_TAKE,        "UPDATE sessions SET node = $2, epoch = epoch + 1, updated_at = $3 WHERE id = $1 " \
                       "AND running = 1 RETURNING epoch") \
    X(SES_STOP,        "UPDATE sessions SET running = 0, reason = $2, stopped_at = $3, updated_at = $3 " \
                       "WHERE id = $1 AND running = 1") \
    X(SES_PROGRESS,    "UPDATE sessions SET frames_read = $2, frames_analysed = $3, faces_seen = $4, " \
                       "recognitions = $5, callback_failures = $6, updated_at = $7 WHERE id = $1") \
    X(REC_INSERT,      "INSERT INTO recognitions(client_id, session_id, kind, subject_id, camera, similarity, " \
                       "quality, x1, y1, x2, y2, seen_at, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, " \
                       "$10, $11, $12, $13) RETURNING id") \
    X(REC_LIST,        "SELECT id, client_id, session_id, kind, subject_id, camera, similarity, quality, " \
                       "x1, y1, x2, y2, seen_at, event_id FROM recognitions WHERE client_id = $1 AND " \
                       "session_id = $2 AND id > $3 ORDER BY id LIMIT $4") \
    X(REC_REPORTED,    "SELECT subject_id, max(seen_at) FROM recognitions WHERE session_id = $1 AND kind = 0 " \
                       "GROUP BY subject_id ORDER BY subject_id")

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

/* One connection of the pool. */
struct pgc {
    PGconn *db;                  /* NULL until connected, and again after it was lost */
    int depth;                   /* open transaction levels (ours and the caller's) */
    int lent;                    /* borrowed by a call or pinned by a transaction */
    uint64_t prepared[(Q_COUNT + 63) / 64];  /* bit per statement: prepared on db */
};

struct pg {
    struct fr_store base;        /* first: a struct pg * is a fr_store * */
    char *conninfo;              /* the URL (or key=value string) for libpq, ?pool= taken out */
    int size;                    /* connections in the pool */
    struct pgc *pool;
    pthread_mutex_t mu;          /* guards lent */
    pthread_cond_t cv;           /* signalled when a connection is returned (CLOCK_MONOTONIC) */
    pthread_mutex_t listen_mu;   /* one waiter on the LISTEN connection at a time */
    struct pgc listen;           /* LISTEN facerec_index (fr_store_changes_wait); outside the pool */
};

/* A transaction handle: fr_store_tx_begin. */
struct pg_tx {
    struct fr_store base;        /* first */
    struct pg *s;
    struct pgc *c;               /* the pinned connection */
    int outer;                   /* 1: BEGIN, returns c to the pool at its end; 0: a SAVEPOINT */
};

static struct pg *PG(fr_store *st) {
    return st->parent ? ((struct pg_tx *)st)->s : (struct pg *)st;
}

/* ---- errors ------------------------------------------------------------------ */

/* SQLSTATE to our code (PostgreSQL's errcodes.txt). */
static int err_from_state(const char *state) {
    if (!state || strlen(state) != 5) return FR_E_INTERNAL_ERROR;
    if (strcmp(state, "53200") == 0) return FR_E_NOMEM;                  /* out_of_memory */
    if (strcmp(state, "53100") == 0) return FR_E_IO;                     /* disk_full */
    if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 ||   /* lock_not_available, query_canceled */
        strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)     /* serialization, deadlock */
        return FR_E_SERVICE_UNAVAILABLE;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||  /* connection, shutdown */
        strncmp(state, "53", 2) == 0)                                     /* too many connections */
        return FR_E_SERVICE_UNAVAILABLE;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) return FR_E_INVALID_ARGUMENT;
    if (strncmp(state, "58", 2) == 0 || strncmp(state, "XX", 2) == 0) return FR_E_IO;
    return FR_E_INTERNAL_ERROR;
}

/* The first line of libpq's message (they end with a newline, some run on). */
static const char *first_line(const char *msg, int *len) {
    const char *nl = msg ? strchr(msg, '\n') : NULL;
    if (!msg) msg = "";
    *len = nl ? (int)(nl - msg) : (int)strlen(msg);
    return msg;
}

/* A failed statement (res may be NULL) becomes -FR_E_x with PostgreSQL's
 * words; a connection that is gone says so. state_out (6 bytes) gets the SQLSTATE. */
static int pg_err(struct pgc *c, const PGresult *res, const char *what, char *state_out) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    int len, code;
    if (!msg || !msg[0]) msg = c->db ? PQerrorMessage(c->db) : "no connection";
    msg = first_line(msg, &len);
    if (state_out) snprintf(state_out, 6, "%s", state ? state : "");
    if (!c->db || PQstatus(c->db) == CONNECTION_BAD) {
        fr_log(FR_LOG_WARN, "postgresql: %s: connection lost: %.*s", what, len, msg);
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: %s: connection to PostgreSQL lost (%.*s); "
                          "the next call reconnects", what, len, msg);
    }
    code = err_from_state(state);
    if (code == FR_E_IO || code == FR_E_INTERNAL_ERROR)
        fr_log(FR_LOG_ERROR, "postgresql: %s: %.*s (SQLSTATE %s)", what, len, msg, state ? state : "?");
    return fr_err_set(code, "database: %s: %.*s", what, len, msg);
}

/* ---- connections and the pool --------------------------------------------------- */

static void conn_drop(struct pgc *c) {
    if (c->db) PQfinish(c->db);
    c->db = NULL;
    c->depth = 0;
    memset(c->prepared, 0, sizeof c->prepared);
}

/* Notices ("relation already exists, skipping") are not errors: not printed. */
static void quiet_notice(void *arg, const char *msg) {
    (void)arg;
    (void)msg;
}

/* Connect c (it has no connection). Settings ride in libpq's options: a
 * lock wait ends after BUSY_TIMEOUT_MS like the SQLite backend's, and
 * times are never formatted by the server (they are BIGINT ms). Keywords
 * before dbname are defaults the URL's own values override. */
static int conn_open(struct pg *s, struct pgc *c) {
    static const char *const keys[] = { "connect_timeout", "application_name", "options", "dbname", NULL };
    const char *vals[] = { CONNECT_TIMEOUT, "facerec", "-c lock_timeout=" "5000", s->conninfo, NULL };
    c->db = PQconnectdbParams(keys, vals, 1);
    if (!c->db) return fr_err_set(FR_E_NOMEM, "out of memory connecting to PostgreSQL");
    if (PQstatus(c->db) != CONNECTION_OK) {
        int len;
        const char *msg = first_line(PQerrorMessage(c->db), &len);
        int rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: cannot connect to PostgreSQL: %.*s", len, msg);
        fr_log(FR_LOG_WARN, "postgresql: cannot connect: %.*s", len, msg);
        conn_drop(c);
        return rc;
    }
    PQsetNoticeProcessor(c->db, quiet_notice, NULL);
    memset(c->prepared, 0, sizeof c->prepared);
    c->depth = 0;
    return 0;
}

/* Borrow a free connection of the pool, waiting at most BUSY_TIMEOUT_MS,
 * connected (again) when it has none. */
static int pool_get(struct pg *s, struct pgc **out) {
    struct timespec until;
    struct pgc *c = NULL;
    int out_of_time = 0;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += BUSY_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->size && !c; i++) {
            if (!s->pool[i].lent) c = &s->pool[i];
        }
        if (c || out_of_time) break;
        out_of_time = pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT;
    }
    if (c) c->lent = 1;
    pthread_mutex_unlock(&s->mu);
    if (!c)
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: all %d connections stayed busy for over %d ms "
                          "(transactions left open? call through their handles)", s->size, BUSY_TIMEOUT_MS);
    if (c->db && PQstatus(c->db) != CONNECTION_OK) conn_drop(c);
    int rc = c->db ? 0 : conn_open(s, c);
    if (rc < 0) {
        pthread_mutex_lock(&s->mu);
        c->lent = 0;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    *out = c;
    return 0;
}

/* Return c; a connection that was lost, or left inside a transaction by a
 * failure on the way out, is closed and reopened at its next use. */
static void pool_put(struct pg *s, struct pgc *c) {
    if (c->db && (PQstatus(c->db) != CONNECTION_OK || PQtransactionStatus(c->db) != PQTRANS_IDLE)) conn_drop(c);
    pthread_mutex_lock(&s->mu);
    c->lent = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Run SQL without parameters or rows (levels, migrations); quiet keeps the
 * error detail of the failure being unwound. */
static int exec_sql(struct pgc *c, const char *sql, int quiet, const char *what) {
    PGresult *res = PQexec(c->db, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (quiet) rc = -FR_E_INTERNAL_ERROR;
        else rc = pg_err(c, res, what, NULL);
    }
    PQclear(res);
    return rc;
}

/* ---- transaction levels on one connection ------------------------------------------ */

enum level { LV_NONE, LV_WRITE, LV_READ };

/* Open a level: BEGIN at the outside (a read: one REPEATABLE READ snapshot),
 * a SAVEPOINT inside a transaction. */
static int lv_open(struct pgc *c, enum level kind) {
    const char *sql = c->depth ? "SAVEPOINT fr"
                      : kind == LV_READ ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
    int rc = exec_sql(c, sql, 0, "opening a transaction");
    if (rc == 0) c->depth++;
    return rc;
}

/* Close a level: keep its changes when rc == 0, undo them otherwise.
 * Returns rc, or the commit's failure. A COMMIT of a transaction that an
 * error aborted answers ROLLBACK: that is a failure too. */
static int lv_close(struct pgc *c, int rc) {
    c->depth--;
    if (c->depth > 0) {
        if (rc == 0) return exec_sql(c, "RELEASE fr", 0, "ending a savepoint");
        exec_sql(c, "ROLLBACK TO fr", 1, NULL);
        exec_sql(c, "RELEASE fr", 1, NULL);
        return rc;
    }
    if (rc == 0) {
        PGresult *res = PQexec(c->db, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) rc = pg_err(c, res, "commit", NULL);
        else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
            rc = fr_err_set(FR_E_INTERNAL_ERROR, "database: the transaction had failed and was rolled back");
        PQclear(res);
        return rc;
    }
    if (c->db && PQtransactionStatus(c->db) != PQTRANS_IDLE) exec_sql(c, "ROLLBACK", 1, NULL);
    return rc;
}

/* The connection one call runs on: a transaction's own, or one borrowed
 * from the pool; with the level the call needs. */
struct use {
    struct pg *s;
    struct pgc *c;
    int borrowed;                /* c goes back to the pool at the end */
    int level;                   /* a level was opened */
};

/* What a call does: reads (one statement, or several in one snapshot),
 * one write (in a savepoint when inside a transaction), several writes. */
enum mode { READ, READ_MANY, WRITE, WRITE_MANY };

static int use_begin(fr_store *st, enum mode mode, struct use *u) {
    int rc = 0;
    u->s = PG(st);
    u->borrowed = !st->parent;
    u->level = 0;
    if (st->parent) u->c = ((struct pg_tx *)st)->c;
    else if ((rc = pool_get(u->s, &u->c)) < 0) return rc;
    /* (a single write through a transaction makes its savepoint itself: call()) */
    enum level want = mode == WRITE_MANY ? LV_WRITE : mode == READ_MANY && !st->parent ? LV_READ : LV_NONE;
    if (want != LV_NONE) {
        if (!u->c->db) rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: connection to PostgreSQL lost "
                                       "in this transaction; roll it back");
        else rc = lv_open(u->c, want);
        if (rc == 0) u->level = 1;
    }
    if (rc < 0 && u->borrowed) pool_put(u->s, u->c);
    return rc;
}

static int use_end(struct use *u, int rc) {
    if (u->level) rc = lv_close(u->c, rc);
    if (u->borrowed) pool_put(u->s, u->c);
    return rc;
}

/* ---- running a statement: arguments in, rows out ------------------------------------ */

enum arg_type { ARG_END, ARG_INT, ARG_REAL, ARG_TEXT, ARG_BLOB, ARG_NULL, ARG_IDS };
struct arg {
    enum arg_type type;
    int64_t i;
    double f;
    const void *p;               /* text (NUL-terminated), blob or id array text; NULL binds SQL NULL */
    size_t len;                  /* bytes of a blob */
};
#define ARGS(...) ((const struct arg[]){ __VA_ARGS__, { .type = ARG_END } })
#define MAX_ARGS 24

static struct arg a_int(int64_t v) { return (struct arg){ .type = ARG_INT, .i = v }; }
static struct arg a_real(double v) { return (struct arg){ .type = ARG_REAL, .f = v }; }
static struct arg a_text(const char *s) { return (struct arg){ .type = ARG_TEXT, .p = s }; }
static struct arg a_null(void) { return (struct arg){ .type = ARG_NULL }; }
static struct arg a_blob(const void *p, size_t len) {
    return (struct arg){ .type = ARG_BLOB, .p = p, .len = len };
}
/* A bigint[] in PostgreSQL's text form, "{1,2,3}". */
static struct arg a_ids(const char *s) { return (struct arg){ .type = ARG_IDS, .p = s }; }

/* How the rows of a statement become C values. */
struct row_kind {
    size_t size;                 /* bytes of one row; 0: every row is read into the same place */
    /* Row i of q to row: 0; -FR_E_x with the row left freed; > 0 stops the run (a walk's answer). */
    int (*read)(const PGresult *q, int i, void *row);
    void (*free)(void *row);     /* NULL: a row holds nothing to free */
};

/* A statement's result (as in the SQLite backend). */
struct res {
    const struct row_kind *kind; /* in: how rows read; NULL: rows are skipped */
    size_t max;                  /* in: rows read at most; one more sets more */
    void *rows;                  /* in: NULL (grown here, fr_free'd by the caller), or room
                                  * for max rows of the caller's; out: the rows */
    size_t n;                    /* out: rows read */
    int more;                    /* out: there was a row beyond max */
    char state[6];               /* out: the SQLSTATE when the statement failed */
    int64_t changes;             /* out: rows a write changed (or a query returned) */
    int fixed;                   /* rows were the caller's */
};

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

static void res_free(struct res *r) {
    const struct row_kind *k = r->kind;
    for (size_t i = 0; k && k->free && i < r->n; i++) k->free((char *)r->rows + i * k->size);
    if (!r->fixed) {
        fr_free(r->rows);
        r->rows = NULL;
    }
    r->n = 0;
}

/* A statement's parameters, bound from args: text, except bytea (binary). */
struct params {
    const char *vals[MAX_ARGS];
    int lens[MAX_ARGS], fmts[MAX_ARGS];
    Oid types[MAX_ARGS];         /* from the first call, when the statement is prepared; 0: the server's choice */
    char num[MAX_ARGS][32];
    int n;
    char name[16];               /* the prepared statement's, "fr<id>" */
};

static void bind_args(struct params *p, enum q id, const struct arg *a) {
    int n = 0;
    snprintf(p->name, sizeof p->name, "fr%d", (int)id);
    for (; a && a->type != ARG_END && n < MAX_ARGS; a++, n++) {
        p->lens[n] = 0;
        p->fmts[n] = 0;
        switch (a->type) {
        case ARG_INT:
            snprintf(p->num[n], sizeof p->num[n], "%lld", (long long)a->i);
            p->vals[n] = p->num[n];
            p->types[n] = OID_INT8;
            break;
        case ARG_REAL:   /* %.17g: the double's exact value back */
            snprintf(p->num[n], sizeof p->num[n], "%.17g", a->f);
            p->vals[n] = p->num[n];
            p->types[n] = OID_FLOAT8;
            break;
        case ARG_TEXT: p->vals[n] = a->p; p->types[n] = OID_TEXT; break;
        case ARG_IDS:  p->vals[n] = a->p; p->types[n] = OID_INT8_ARRAY; break;
        case ARG_BLOB:   /* binary: the bytes as they are (a NULL pointer: SQL NULL) */
            p->vals[n] = a->p ? (a->len ? a->p : "") : NULL;
            p->lens[n] = (int)a->len;
            p->fmts[n] = 1;
            p->types[n] = OID_BYTEA;
            break;
        default: p->vals[n] = NULL; p->types[n] = 0; break;
        }
    }
    p->n = n;
}

static int is_prepared(const struct pgc *c, enum q id) { return (int)(c->prepared[id / 64] >> (id % 64) & 1); }
static void set_prepared(struct pgc *c, enum q id) { c->prepared[id / 64] |= (uint64_t)1 << (id % 64); }

/* Read res's rows into r (up to r->max; one more sets r->more). */
static int read_rows(PGresult *res, struct res *r) {
    const struct row_kind *k = r->kind;
    size_t cap = r->fixed ? r->max : 0;
    int nt = PQntuples(res), rc = 0;
    const char *tuples = PQcmdTuples(res);
    r->changes = tuples && tuples[0] ? strtoll(tuples, NULL, 10) : nt;
    for (int i = 0; k && i < nt && rc == 0; i++) {
        if (r->n == r->max) {
            r->more = 1;
            break;
        }
        if (!r->fixed && (rc = grow(&r->rows, &cap, r->n, k->size)) < 0) break;
        if ((rc = k->read(res, i, (char *)r->rows + r->n * k->size)) == 0) r->n++;
    }
    if (rc < 0) res_free(r);
    return rc;
}

static int ok_status(const PGresult *res) {
    ExecStatusType es = PQresultStatus(res);
    return es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK;
}

/* Bind args (NULL: none), prepare id on c (once per connection), run it,
 * read the rows with r->kind. A failure leaves no rows. */
static int stmt_run(struct pgc *c, enum q id, const struct arg *a, struct res *r, const char *what) {
    struct params p;
    int rc = 0;
    r->fixed = r->rows != NULL;
    if (!c->db) return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: %s: connection to PostgreSQL lost", what);
    bind_args(&p, id, a);
    if (!is_prepared(c, id)) {
        PGresult *res = PQprepare(c->db, p.name, q_sql[id], p.n, p.types);
        rc = ok_status(res) ? 0 : pg_err(c, res, what, r->state);
        PQclear(res);
        if (rc < 0) return rc;
        set_prepared(c, id);
    }
    PGresult *res = PQexecPrepared(c->db, p.name, p.n, p.vals, p.lens, p.fmts, 1 /* binary rows */);
    rc = ok_status(res) ? read_rows(res, r) : pg_err(c, res, what, r->state);
    PQclear(res);
    return rc;
}

/* The same inside the caller's transaction, in a savepoint so that a
 * failure undoes only this statement (PostgreSQL would otherwise abort the
 * whole transaction): SAVEPOINT, (PREPARE), EXECUTE and RELEASE go out as
 * one pipeline, one round trip (three made bulk enrolment 4x slower). */
static int stmt_run_savepoint(struct pgc *c, enum q id, const struct arg *a, struct res *r, const char *what) {
    struct params p;
    PGresult *rows = NULL, *err = NULL;
    int rc = 0, sent = 0, q = 0, sp_ok = 0, prep_ok = 0, exec_ok = 0;
    const int want_prep = !is_prepared(c, id);
    const int q_prep = want_prep ? 1 : -1, q_exec = want_prep ? 2 : 1;
    r->fixed = r->rows != NULL;
    if (!c->db) return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: %s: connection to PostgreSQL lost", what);
    bind_args(&p, id, a);
    if (PQenterPipelineMode(c->db) &&
        PQsendQueryParams(c->db, "SAVEPOINT fr", 0, NULL, NULL, NULL, NULL, 0) &&
        (!want_prep || PQsendPrepare(c->db, p.name, q_sql[id], p.n, p.types)) &&
        PQsendQueryPrepared(c->db, p.name, p.n, p.vals, p.lens, p.fmts, 1) &&
        PQsendQueryParams(c->db, "RELEASE fr", 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c->db))
        sent = 1;
    /* each query's results end with NULL; the sync's result ends the pipeline */
    while (sent && q <= 8 && PQstatus(c->db) == CONNECTION_OK) {
        PGresult *res = PQgetResult(c->db);
        if (!res) {
            q++;
            continue;
        }
        ExecStatusType es = PQresultStatus(res);
        if (es == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        int ok = ok_status(res);
        if (q == 0) sp_ok = ok;
        else if (q == q_prep) prep_ok = ok;
        else if (q == q_exec) exec_ok = ok;
        if (q == q_exec && ok && !rows) rows = res;
        else if (!ok && es != PGRES_PIPELINE_ABORTED && !err) err = res;
        else PQclear(res);
    }
    if (PQpipelineStatus(c->db) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->db) && !err)
        rc = fr_err_set(FR_E_INTERNAL_ERROR, "database: %s: the pipeline did not end", what);
    if (want_prep && prep_ok) set_prepared(c, id);
    if (rc == 0 && sent && exec_ok && rows) rc = read_rows(rows, r);
    else if (rc == 0) rc = pg_err(c, err, what, r->state);
    /* the statement failed after its savepoint was made: back to it */
    if (sp_ok && !exec_ok && PQstatus(c->db) == CONNECTION_OK) {
        exec_sql(c, "ROLLBACK TO fr", 1, NULL);
        exec_sql(c, "RELEASE fr", 1, NULL);
    }
    PQclear(rows);
    PQclear(err);
    return rc;
}

/* One statement as a whole call; a write through a transaction in a savepoint. */
static int call(fr_store *st, enum mode mode, enum q id, const struct arg *args, struct res *r, const char *what) {
    struct use u;
    int rc = use_begin(st, mode, &u);
    if (rc < 0) return rc;
    rc = mode == WRITE && st->parent ? stmt_run_savepoint(u.c, id, args, r, what) : stmt_run(u.c, id, args, r, what);
    return use_end(&u, rc);
}

/* A write's constraint failures in the caller's words (as in the SQLite backend). */
static int constraint(int rc, const struct res *r, const char *on_unique, int fk_code, const char *on_fk) {
    if (rc >= 0) return rc;
    if (on_unique && strcmp(r->state, "23505") == 0)
        return fr_err_set_at(FR_E_CONFLICT, "field", on_unique, "%s is already taken", on_unique);
    if (on_fk && strcmp(r->state, "23503") == 0) return fr_err_set(fk_code, "%s", on_fk);
    return rc;
}

static int missing(int rc, int64_t count, int code, const char *msg) {
    if (rc == 0 && count == 0) return fr_err_set(code, "%s", msg);
    return rc;
}

/* ---- columns (binary format) ------------------------------------------------------------ */

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* An integer column of any integer type (or a bool); NULL reads 0. */
static int64_t col_i64(const PGresult *q, int i, int col) {
    if (PQgetisnull(q, i, col)) return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(q, i, col);
    switch (PQftype(q, col)) {
    case OID_INT8: return (int64_t)be(p, 8);
    case OID_INT4: return (int32_t)(uint32_t)be(p, 4);
    case OID_INT2: return (int16_t)(uint16_t)be(p, 2);
    case OID_BOOL: return p[0] != 0;
    default:       return 0;
    }
}

static double col_f64(const PGresult *q, int i, int col) {
    if (PQgetisnull(q, i, col)) return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(q, i, col);
    if (PQftype(q, col) == OID_FLOAT8) {
        uint64_t b = be(p, 8);
        double d;
        memcpy(&d, &b, sizeof d);
        return d;
    }
    if (PQftype(q, col) == OID_FLOAT4) {
        uint32_t b = (uint32_t)be(p, 4);
        float f;
        memcpy(&f, &b, sizeof f);
        return (double)f;
    }
    return (double)col_i64(q, i, col);
}

static int col_int(const PGresult *q, int i, int col) { return (int)col_i64(q, i, col); }

/* Copy a text column; SQL NULL gives NULL. */
static int col_str(const PGresult *q, int i, int col, char **out) {
    *out = NULL;
    if (PQgetisnull(q, i, col)) return 0;
    *out = fr_strndup(PQgetvalue(q, i, col), (size_t)PQgetlength(q, i, col));
    return *out ? 0 : fr_err_set(FR_E_NOMEM, "out of memory copying a row");
}

/* An embedding: dim whole floats, or -FR_E_IO. */
static int col_embedding(const PGresult *q, int i, int col, const void **b, int *bytes) {
    *b = PQgetvalue(q, i, col);
    *bytes = PQgetisnull(q, i, col) ? 0 : PQgetlength(q, i, col);
    if (*bytes <= 0 || *bytes % (int)sizeof(float) != 0)
        return fr_err_set(FR_E_IO, "database: stored embedding has %d bytes", *bytes);
    return 0;
}

/* ---- row kinds ---------------------------------------------------------------------------- */

static int read_i64(const PGresult *q, int i, void *row) {
    *(int64_t *)row = col_i64(q, i, 0);
    return 0;
}
static const struct row_kind I64_ROW = { sizeof(int64_t), read_i64, NULL };

static int read_pair(const PGresult *q, int i, void *row) {
    int64_t *p = row;
    p[0] = col_i64(q, i, 0);
    p[1] = col_i64(q, i, 1);
    return 0;
}
static const struct row_kind PAIR_ROW = { 2 * sizeof(int64_t), read_pair, NULL };

static int read_text(const PGresult *q, int i, void *row) { return col_str(q, i, 0, row); }
static void free_text(void *row) {
    fr_free(*(char **)row);
    *(char **)row = NULL;
}
static const struct row_kind TEXT_ROW = { sizeof(char *), read_text, free_text };

static int read_client(const PGresult *q, int i, void *row) {
    struct fr_store_client *c = row;
    int rc;
    c->id = col_i64(q, i, 0);
    c->rate_limit_per_hour = col_i64(q, i, 4);
    c->rate_limit_per_day = col_i64(q, i, 5);
    c->disabled = col_i64(q, i, 6) != 0;
    c->created_at = col_i64(q, i, 7);
    if ((rc = col_str(q, i, 1, &c->name)) < 0 || (rc = col_str(q, i, 2, &c->key_prefix)) < 0 ||
        (rc = col_str(q, i, 3, &c->key_hash)) < 0)
        fr_store_client_free(c);
    return rc;
}
static void free_client(void *row) { fr_store_client_free(row); }
static const struct row_kind CLIENT_ROW = { sizeof(struct fr_store_client), read_client, free_client };

static int read_subject(const PGresult *q, int i, void *row) {
    struct fr_store_subject *o = row;
    int rc;
    o->id = col_i64(q, i, 0);
    o->client_id = col_i64(q, i, 1);
    o->created_at = col_i64(q, i, 5);
    o->updated_at = col_i64(q, i, 6);
    o->n_faces = col_i64(q, i, 7);
    if ((rc = col_str(q, i, 2, &o->external_id)) < 0 || (rc = col_str(q, i, 3, &o->name)) < 0 ||
        (rc = col_str(q, i, 4, &o->metadata)) < 0)
        fr_store_subject_free(o);
    return rc;
}
static void free_subject(void *row) { fr_store_subject_free(row); }
static const struct row_kind SUBJECT_ROW = { sizeof(struct fr_store_subject), read_subject, free_subject };

static int read_face(const PGresult *q, int i, void *row) {
    struct fr_store_face *f = row;
    const void *b;
    int bytes, rc;
    f->id = col_i64(q, i, 0);
    f->client_id = col_i64(q, i, 1);
    f->subject_id = col_i64(q, i, 2);
    if ((rc = col_embedding(q, i, 3, &b, &bytes)) < 0) return rc;
    if (!(f->embedding = fr_malloc((size_t)bytes))) return fr_err_set(FR_E_NOMEM, "out of memory");
    memcpy(f->embedding, b, (size_t)bytes);
    f->dim = bytes / (int)sizeof(float);
    f->quality = (float)col_f64(q, i, 5);
    f->liveness = PQgetisnull(q, i, 6) ? -1.0f : (float)col_f64(q, i, 6);
    for (int k = 0; k < 4; k++) f->bbox[k] = (float)col_f64(q, i, 7 + k);
    f->has_image = col_i64(q, i, 12) != 0;
    f->created_at = col_i64(q, i, 13);
    if ((rc = col_str(q, i, 4, &f->model_id)) < 0 || (rc = col_str(q, i, 11, &f->image_sha256)) < 0)
        fr_store_face_free(f);
    return rc;
}
static void free_face(void *row) { fr_store_face_free(row); }
static const struct row_kind FACE_ROW = { sizeof(struct fr_store_face), read_face, free_face };

static int read_face_key(const PGresult *q, int i, void *row) {
    struct fr_store_face_key *k = row;
    k->client_id = col_i64(q, i, 0);
    k->id = col_i64(q, i, 1);
    k->subject_id = col_i64(q, i, 2);
    return 0;
}
static const struct row_kind FACE_KEY_ROW = { sizeof(struct fr_store_face_key), read_face_key, NULL };

static int read_face_stats(const PGresult *q, int i, void *row) {
    struct fr_store_face_stats *s = row;
    s->count = col_i64(q, i, 0);
    s->max_id = col_i64(q, i, 1);
    s->id_sum = col_i64(q, i, 2);
    return 0;
}
static const struct row_kind FACE_STATS_ROW = { sizeof(struct fr_store_face_stats), read_face_stats, NULL };

struct blob {
    uint8_t *buf;
    size_t len;
};
static int read_blob(const PGresult *q, int i, void *row) {
    struct blob *b = row;
    b->len = (size_t)PQgetlength(q, i, 0);
    if (!(b->buf = fr_malloc(b->len ? b->len : 1))) return fr_err_set(FR_E_NOMEM, "out of memory");
    if (b->len) memcpy(b->buf, PQgetvalue(q, i, 0), b->len);
    return 0;
}
static void free_blob(void *row) {
    struct blob *b = row;
    fr_free(b->buf);
    b->buf = NULL;
    b->len = 0;
}
static const struct row_kind BLOB_ROW = { sizeof(struct blob), read_blob, free_blob };

/* The walk of fr_store_faces_foreach, a page at a time: every row goes to
 * the same struct walk and on to the caller's callback. The bytes are
 * copied into an aligned buffer (libpq's value has no float alignment). */
struct walk {
    fr_store_face_fn fn;
    void *ctx;
    float *buf;
    size_t cap;                  /* bytes of buf */
    int64_t last;                /* the id of the last row walked */
};
static int read_walk(const PGresult *q, int i, void *row) {
    struct walk *w = row;
    struct fr_store_face_ref f = { col_i64(q, i, 0), col_i64(q, i, 1), col_i64(q, i, 2), NULL, 0 };
    const void *b;
    int bytes;
    int rc = col_embedding(q, i, 3, &b, &bytes);
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
    w->last = f.id;
    return w->fn(w->ctx, &f);
}
static const struct row_kind WALK_ROW = { 0, read_walk, NULL };

static int read_audit(const PGresult *q, int i, void *row) {
    struct fr_store_audit *a = row;
    int rc;
    a->id = col_i64(q, i, 0);
    a->at = col_i64(q, i, 1);
    if ((rc = col_str(q, i, 2, &a->actor)) < 0 || (rc = col_str(q, i, 3, &a->action)) < 0 ||
        (rc = col_str(q, i, 4, &a->target)) < 0 || (rc = col_str(q, i, 5, &a->request_id)) < 0 ||
        (rc = col_str(q, i, 6, &a->details)) < 0)
        fr_store_audit_free(a);
    return rc;
}
static void free_audit(void *row) { fr_store_audit_free(row); }
static const struct row_kind AUDIT_ROW = { sizeof(struct fr_store_audit), read_audit, free_audit };

static int read_usage(const PGresult *q, int i, void *row) {
    struct fr_store_usage *u = row;
    int len = PQgetlength(q, i, 0);
    snprintf(u->day, sizeof u->day, "%.*s", len, PQgetvalue(q, i, 0));
    u->count = col_i64(q, i, 2);
    return col_str(q, i, 1, &u->operation);
}
static void free_usage(void *row) { fr_free(((struct fr_store_usage *)row)->operation); }
static const struct row_kind USAGE_ROW = { sizeof(struct fr_store_usage), read_usage, free_usage };

static int read_idem(const PGresult *q, int i, void *row) {
    struct fr_store_idem *r = row;
    int rc;
    r->status = col_int(q, i, 1);
    r->created_at = col_i64(q, i, 3);
    if ((rc = col_str(q, i, 0, &r->request_hash)) < 0 || (rc = col_str(q, i, 2, &r->response)) < 0)
        fr_store_idem_free(r);
    return rc;
}
static void free_idem(void *row) { fr_store_idem_free(row); }
static const struct row_kind IDEM_ROW = { sizeof(struct fr_store_idem), read_idem, free_idem };

static int read_webhook(const PGresult *q, int i, void *row) {
    struct fr_store_webhook *w = row;
    int rc;
    w->id = col_i64(q, i, 0);
    w->client_id = col_i64(q, i, 1);
    w->enabled = col_i64(q, i, 5) != 0;
    w->old_secret_until = col_i64(q, i, 8);
    w->failing_since = col_i64(q, i, 9);
    w->created_at = col_i64(q, i, 11);
    w->updated_at = col_i64(q, i, 12);
    if ((rc = col_str(q, i, 2, &w->url)) < 0 || (rc = col_str(q, i, 3, &w->events)) < 0 ||
        (rc = col_str(q, i, 4, &w->description)) < 0 || (rc = col_str(q, i, 6, &w->secret)) < 0 ||
        (rc = col_str(q, i, 7, &w->old_secret)) < 0 || (rc = col_str(q, i, 10, &w->disabled_reason)) < 0)
        fr_store_webhook_free(w);
    return rc;
}
static void free_webhook(void *row) { fr_store_webhook_free(row); }
static const struct row_kind WEBHOOK_ROW = { sizeof(struct fr_store_webhook), read_webhook, free_webhook };

static int read_claim(const PGresult *q, int i, void *row) {
    struct fr_store_claim *c = row;
    int rc;
    c->id = col_i64(q, i, 0);
    c->webhook_id = col_i64(q, i, 1);
    c->client_id = col_i64(q, i, 2);
    c->attempts = col_int(q, i, 8);
    c->created_at = col_i64(q, i, 9);
    c->session_id = col_i64(q, i, 10);
    if ((rc = col_str(q, i, 3, &c->url)) < 0 || (rc = col_str(q, i, 4, &c->secret)) < 0 ||
        (rc = col_str(q, i, 5, &c->old_secret)) < 0 || (rc = col_str(q, i, 6, &c->event_id)) < 0 ||
        (rc = col_str(q, i, 7, &c->body)) < 0 || (rc = col_str(q, i, 11, &c->policy)) < 0)
        fr_store_claims_free_one(c);
    return rc;
}
static void free_claim(void *row) { fr_store_claims_free_one(row); }
static const struct row_kind CLAIM_ROW = { sizeof(struct fr_store_claim), read_claim, free_claim };

static int read_delivery(const PGresult *q, int i, void *row) {
    struct fr_store_delivery *d = row;
    int rc;
    d->id = col_i64(q, i, 0);
    d->webhook_id = col_i64(q, i, 1);
    d->client_id = col_i64(q, i, 2);
    d->status = col_int(q, i, 5);
    d->attempts = col_int(q, i, 6);
    d->last_status_code = col_int(q, i, 7);
    d->next_attempt_at = col_i64(q, i, 9);
    d->delivered_at = col_i64(q, i, 10);
    d->created_at = col_i64(q, i, 11);
    if ((rc = col_str(q, i, 3, &d->event_id)) < 0 || (rc = col_str(q, i, 4, &d->event_type)) < 0 ||
        (rc = col_str(q, i, 8, &d->last_error)) < 0)
        fr_store_delivery_free(d);
    return rc;
}
static void free_delivery(void *row) { fr_store_delivery_free(row); }
static const struct row_kind DELIVERY_ROW = { sizeof(struct fr_store_delivery), read_delivery, free_delivery };

static int read_camera(const PGresult *q, int i, void *row) {
    struct fr_store_camera *c = row;
    int rc;
    c->id = col_i64(q, i, 0);
    c->client_id = col_i64(q, i, 1);
    c->transport = col_int(q, i, 4);
    c->created_at = col_i64(q, i, 5);
    c->updated_at = col_i64(q, i, 6);
    if ((rc = col_str(q, i, 2, &c->name)) < 0 || (rc = col_str(q, i, 3, &c->url)) < 0) fr_store_camera_free(c);
    return rc;
}
static void free_camera(void *row) { fr_store_camera_free(row); }
static const struct row_kind CAMERA_ROW = { sizeof(struct fr_store_camera), read_camera, free_camera };

static int read_session(const PGresult *q, int i, void *row) {
    struct fr_store_session *s = row;
    struct fr_store_session_settings *x = &s->set;
    int rc;
    s->id = col_i64(q, i, 0);
    s->client_id = col_i64(q, i, 1);
    s->running = col_int(q, i, 4);
    x->mode = col_int(q, i, 6);
    x->cooldown_ms = col_i64(q, i, 7);
    x->fps = col_f64(q, i, 8);
    x->threshold = col_f64(q, i, 9);
    x->min_face_px = col_int(q, i, 10);
    x->min_quality = col_f64(q, i, 11);
    x->liveness = col_int(q, i, 12);
    x->report_unknown = col_int(q, i, 13);
    x->snapshot = col_int(q, i, 14);
    x->max_failures = col_int(q, i, 16);
    x->max_failure_ms = col_i64(q, i, 17);
    x->ends_at = col_i64(q, i, 20);
    s->hook_id = col_i64(q, i, 21);
    s->epoch = col_i64(q, i, 23);
    s->created_at = col_i64(q, i, 24);
    s->updated_at = col_i64(q, i, 25);
    s->stopped_at = col_i64(q, i, 26);
    s->stats.frames_read = col_i64(q, i, 27);
    s->stats.frames_analysed = col_i64(q, i, 28);
    s->stats.faces_seen = col_i64(q, i, 29);
    s->stats.recognitions = col_i64(q, i, 30);
    s->stats.callback_failures = col_i64(q, i, 31);
    if ((rc = col_str(q, i, 2, &s->uid)) < 0 || (rc = col_str(q, i, 3, &s->slot_id)) < 0 ||
        (rc = col_str(q, i, 5, &s->reason)) < 0 || (rc = col_str(q, i, 15, &x->roster)) < 0 ||
        (rc = col_str(q, i, 18, &x->callback_url)) < 0 || (rc = col_str(q, i, 19, &x->policy)) < 0 ||
        (rc = col_str(q, i, 22, &s->node)) < 0)
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
static int read_session_camera(const PGresult *q, int i, void *row) {
    struct fr_store_session_camera *c = row;
    int rc;
    c->transport = col_int(q, i, 3);
    c->camera_id = col_i64(q, i, 4);
    if ((rc = col_str(q, i, 0, &c->key)) < 0 || (rc = col_str(q, i, 1, &c->name)) < 0 ||
        (rc = col_str(q, i, 2, &c->url)) < 0)
        free_session_camera(c);
    return rc;
}
static const struct row_kind SESSION_CAMERA_ROW = { sizeof(struct fr_store_session_camera), read_session_camera,
                                                    free_session_camera };

static void free_recognition(void *row) {
    struct fr_store_recognition *r = row;
    fr_free(r->camera);
    fr_free(r->event_id);
    memset(r, 0, sizeof *r);
}
static int read_recognition(const PGresult *q, int i, void *row) {
    struct fr_store_recognition *r = row;
    int rc;
    r->id = col_i64(q, i, 0);
    r->client_id = col_i64(q, i, 1);
    r->session_id = col_i64(q, i, 2);
    r->kind = col_int(q, i, 3);
    r->subject_id = col_i64(q, i, 4);
    r->similarity = (float)col_f64(q, i, 6);
    r->quality = (float)col_f64(q, i, 7);
    for (int k = 0; k < 4; k++) r->box[k] = (float)col_f64(q, i, 8 + k);
    r->seen_at = col_i64(q, i, 12);
    if ((rc = col_str(q, i, 5, &r->camera)) < 0 || (rc = col_str(q, i, 13, &r->event_id)) < 0)
        free_recognition(r);
    return rc;
}
static const struct row_kind RECOGNITION_ROW = { sizeof(struct fr_store_recognition), read_recognition,
                                                 free_recognition };

static void free_change(void *row) {
    struct fr_store_change *c = row;
    fr_free(c->model_id);
    fr_free(c->embedding);
    memset(c, 0, sizeof *c);
}
static int read_change(const PGresult *q, int i, void *row) {
    struct fr_store_change *c = row;
    int rc;
    c->seq = col_i64(q, i, 0);
    c->deleted = col_int(q, i, 1);
    c->client_id = col_i64(q, i, 2);
    c->face_id = col_i64(q, i, 3);
    c->subject_id = col_i64(q, i, 4);
    c->at = col_i64(q, i, 7);
    if ((rc = col_str(q, i, 5, &c->model_id)) < 0) return rc;
    if (!PQgetisnull(q, i, 6)) {
        const void *b;
        int bytes;
        if ((rc = col_embedding(q, i, 6, &b, &bytes)) < 0 || !(c->embedding = fr_malloc((size_t)bytes))) {
            free_change(c);
            return rc < 0 ? rc : fr_err_set(FR_E_NOMEM, "out of memory");
        }
        memcpy(c->embedding, b, (size_t)bytes);
        c->dim = bytes / (int)sizeof(float);
    }
    return 0;
}
static const struct row_kind CHANGE_ROW = { sizeof(struct fr_store_change), read_change, free_change };

/* ---- opening, migrations, housekeeping ------------------------------------------------ */

static void pg_close(fr_store *st) {
    struct pg *s = (struct pg *)st;
    conn_drop(&s->listen);
    pthread_mutex_destroy(&s->listen_mu);
    for (int i = 0; s->pool && i < s->size; i++) {
        if (s->pool[i].lent) fr_log(FR_LOG_ERROR, "postgresql: store closed with a transaction open: rolled back");
        conn_drop(&s->pool[i]);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    fr_free(s->pool);
    fr_free(s->conninfo);
    fr_free(s);
}

/* Take facerec's own "pool=N" out of the URL's query (libpq refuses
 * parameters it does not know); *size_out gets N, or the default. */
static int take_pool_size(char *url, int *size_out) {
    char *q = strchr(url, '?');
    *size_out = POOL_DEFAULT;
    if (!q || strncmp(url, "//", 2) != 0) return 0;   /* key=value strings have no query */
    char *w = q + 1, *p = q + 1;
    while (*p) {
        char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 5 && strncmp(p, "pool=", 5) == 0) {
            char *end;
            long v = strtol(p + 5, &end, 10);
            if (end != p + len || v < 1 || v > POOL_MAX)
                return fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "database_url",
                                     "database URL: pool must be 1 to %d connections", POOL_MAX);
            *size_out = (int)v;
        } else {
            if (w != q + 1) *w++ = '&';
            memmove(w, p, len);
            w += len;
        }
        p += len + (amp ? 1 : 0);
    }
    if (w == q + 1) w = q;   /* nothing left: no '?' either */
    *w = 0;
    return 0;
}

/* where: the URL after "postgresql:" ("//host/db...") or libpq's key=value
 * string. The first connection is opened here, so a wrong URL fails the open. */
static int pg_open(const char *where, fr_store **out) {
    struct pg *s = fr_calloc(1, sizeof *s);
    pthread_condattr_t ca;
    size_t len = strlen(where) + sizeof "postgresql:";
    if (!s) return fr_err_set(FR_E_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->listen_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!(s->conninfo = fr_malloc(len))) {
        pg_close(&s->base);
        return fr_err_set(FR_E_NOMEM, "out of memory");
    }
    /* a URI is given to libpq with the scheme it knows; key=value as it is */
    if (strncmp(where, "//", 2) == 0) snprintf(s->conninfo, len, "postgresql:%s", where);
    else snprintf(s->conninfo, len, "%s", where);
    int rc = take_pool_size(s->conninfo + (strncmp(where, "//", 2) == 0 ? strlen("postgresql:") : 0), &s->size);
    if (rc == 0 && !(s->pool = fr_calloc((size_t)s->size, sizeof *s->pool)))
        rc = fr_err_set(FR_E_NOMEM, "out of memory");
    if (rc == 0) {
        struct pgc *c = NULL;
        if ((rc = pool_get(s, &c)) == 0) pool_put(s, c);
    }
    if (rc < 0) {
        pg_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

/* Bring the schema to the latest version: all missing migrations in one
 * transaction, after an advisory lock that a second node opening the same
 * new database waits on (it then finds the schema done). */
static int pg_migrate(fr_store *st) {
    struct use u;
    int64_t v = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &v };
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
    rc = exec_sql(u.c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", 0, "waiting for the migration lock");
    if (rc == 0)
        rc = exec_sql(u.c, "CREATE TABLE IF NOT EXISTS schema_version ("
                           "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)", 0, "creating schema_version");
    if (rc == 0) rc = stmt_run(u.c, Q_VERSION, NULL, &r, "reading the schema version");
    if (rc == 0 && v > fr__pg_n_migrations)
        rc = fr_err_set(FR_E_IO, "database schema version %lld is newer than this facerec (%d)", (long long)v,
                        fr__pg_n_migrations);
    for (int m = (int)v + 1; m <= fr__pg_n_migrations && rc == 0; m++) {
        struct res ins = { 0 };
        for (const char *const *part = fr__pg_migrations[m - 1]; *part && rc == 0; part++)
            rc = exec_sql(u.c, *part, 0, "migrating the schema");
        if (rc < 0) break;
        rc = stmt_run(u.c, Q_VERSION_ADD, ARGS(a_int(m), a_int(fr__store_now(st))), &ins, "recording a migration");
        if (rc == 0) fr_log(FR_LOG_INFO, "postgresql: schema migrated to version %d", m);
    }
    return use_end(&u, rc);
}

static int pg_ping(fr_store *st) {
    int64_t one = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &one };
    return call(st, READ, Q_PING, NULL, &r, "ping");
}

static int pg_schema_version(fr_store *st, int *version_out) {
    int64_t v = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &v };
    int rc = call(st, READ, Q_VERSION, NULL, &r, "reading the schema version");
    if (rc == 0) *version_out = (int)v;
    return rc;
}

/* PostgreSQL checks its pages itself (and amcheck needs a superuser); what
 * we check is ours: the schema is the one we know, and every stored
 * embedding has whole floats, which reads the whole faces table. */
static int pg_check(fr_store *st) {
    int v = 0;
    int64_t bad = 0;
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = &bad };
    int rc = pg_schema_version(st, &v);
    if (rc == 0 && v != fr__pg_n_migrations)
        return fr_err_set(FR_E_IO, "database check failed: schema version %d, expected %d", v, fr__pg_n_migrations);
    if (rc == 0) rc = call(st, READ, Q_FACE_BAD, NULL, &r, "checking the faces");
    if (rc == 0 && bad)
        return fr_err_set(FR_E_IO, "database check failed: %lld faces have a malformed embedding", (long long)bad);
    return rc;
}

/* ---- backup and restore: PostgreSQL's own client tools --------------------------------- */

extern char **environ;

static void env_free(char **env) {
    for (size_t i = 0; env && env[i]; i++) fr_free(env[i]);
    fr_free(env);
}

/* The environment of a client tool: ours without PG* variables of its own,
 * plus the connection's settings as libpq's variables (PGHOST, PGPASSWORD,
 * ... from libpq's own table of them), never on its command line, where ps
 * would show a password. NULL-terminated; env_free. */
static int tool_env(const char *conninfo, char ***env_out) {
    char *err = NULL;
    size_t n_env = 0, n = 0, n_opt = 0;
    *env_out = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        PQfreemem(err);
        return fr_err_set(FR_E_INVALID_ARGUMENT, "the database URL does not parse");
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) n_opt++;
    while (environ[n_env]) n_env++;
    char **env = fr_calloc(n_env + n_opt + 1, sizeof *env);
    int rc = env ? 0 : fr_err_set(FR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n_env; i++) {
        if (strncmp(environ[i], "PG", 2) == 0) continue;
        if (!(env[n++] = fr_strdup(environ[i]))) rc = fr_err_set(FR_E_NOMEM, "out of memory");
    }
    for (PQconninfoOption *o = opts; rc == 0 && o->keyword; o++) {
        if (!o->envvar || !o->val || !o->val[0]) continue;
        size_t len = strlen(o->envvar) + strlen(o->val) + 2;
        if (!(env[n] = fr_malloc(len))) {
            rc = fr_err_set(FR_E_NOMEM, "out of memory");
            break;
        }
        snprintf(env[n++], len, "%s=%s", o->envvar, o->val);
    }
    PQconninfoFree(opts);
    if (rc < 0) env_free(env);
    else *env_out = env;
    return rc;
}

/* Run a client tool (argv[0]: pg_dump, pg_restore, found on PATH: Debian's
 * /usr/bin wrappers pick the version) with the connection's environment and
 * wait for it. out: NULL, or cap bytes for what it writes on stdout (cut at
 * cap - 1, NUL-terminated). What it says on stderr goes to ours. 0 when it
 * exited 0; else -FR_E_IO naming the tool and its exit status. */
static int run_tool(const char *conninfo, char *const argv[], char *out, size_t cap) {
    char **env = NULL;
    int fds[2] = { -1, -1 };
    int rc = tool_env(conninfo, &env);
    if (rc < 0) return fr_err_set(rc == -FR_E_NOMEM ? FR_E_NOMEM : FR_E_INVALID_ARGUMENT, "%s: %s", argv[0],
                                  fr_err_detail());
    if (out && pipe2(fds, O_CLOEXEC) < 0) rc = fr_err_set(FR_E_IO, "%s: pipe: %s", argv[0], strerror(errno));
    pid_t pid = -1;
    if (rc == 0 && (pid = fork()) < 0) rc = fr_err_set(FR_E_IO, "%s: fork: %s", argv[0], strerror(errno));
    if (pid == 0) {
        if (out) dup2(fds[1], 1);
        execvpe(argv[0], argv, env);
        _exit(127);
    }
    env_free(env);
    if (fds[1] >= 0) close(fds[1]);
    size_t got = 0;
    for (ssize_t r = 1; rc == 0 && out && r != 0;) {
        char sink[4096];
        char *to = got + 1 < cap ? out + got : sink;
        size_t room = got + 1 < cap ? cap - 1 - got : sizeof sink;
        if ((r = read(fds[0], to, room)) < 0 && errno != EINTR) break;
        if (r > 0 && to != sink) got += (size_t)r;
    }
    if (out) out[got] = 0;
    if (fds[0] >= 0) close(fds[0]);
    if (rc < 0) return rc;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return fr_err_set(FR_E_IO, "%s not found (install postgresql-client-15)", argv[0]);
    return fr_err_set(FR_E_IO, "%s failed (exit status %d)", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* pg_dump's custom format (pg_restore reads it): PostgreSQL's own
 * consistent copy, from one snapshot. */
static int pg_backup(fr_store *st, const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "backup file %s exists", path);
    char *file = fr_strdup(path);   /* (execvpe's argv is not const) */
    if (!file) return fr_err_set(FR_E_NOMEM, "out of memory");
    int rc = run_tool(PG(st)->conninfo, (char *const[]){ "pg_dump", "--format=custom", "--no-owner", "--file", file,
                                                         NULL }, NULL, 0);
    fr_free(file);
    if (rc < 0) {
        unlink(path);
        return fr_err_set(-rc, "backup: %s", fr_err_detail());
    }
    return 0;
}

/* The archive's schema version: the rows of its schema_version table, as
 * pg_restore prints them (a COPY block: "version<TAB>applied_at" lines,
 * ending "\."); -FR_E_INVALID_ARGUMENT when it has none: not a facerec backup. */
static int archive_version(const char *conninfo, const char *path, int *version_out) {
    char *file = fr_strdup(path), *buf = fr_malloc(1 << 16);
    long v = 0;
    int rc = file && buf ? 0 : fr_err_set(FR_E_NOMEM, "out of memory");
    *version_out = 0;
    if (rc == 0)
        rc = run_tool(conninfo, (char *const[]){ "pg_restore", "--data-only", "--table=schema_version", "--file=-",
                                                 file, NULL }, buf, 1 << 16);
    if (rc < 0) {
        rc = fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s is not a readable pg_dump archive (%s)", path,
                           fr_err_detail());
    } else {
        const char *p = strstr(buf, "\nCOPY ");
        p = p && strstr(p, "schema_version") ? strchr(p + 1, '\n') : NULL;
        while (p && p[1] >= '0' && p[1] <= '9') {
            long m = strtol(p + 1, NULL, 10);
            if (m > v) v = m;
            p = strchr(p + 1, '\n');
        }
        if (v < 1)
            rc = fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s is not a facerec backup: a pg_dump "
                               "archive without facerec's schema_version", path);
        else if (v > fr__pg_n_migrations)
            rc = fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s was written by a newer facerec (schema "
                               "version %ld, this one knows %d)", path, v, fr__pg_n_migrations);
    }
    *version_out = rc == 0 ? (int)v : 0;
    fr_free(file);
    fr_free(buf);
    return rc;
}

/* The first column of sql's first row, as an integer ("t"/"f": 1/0). */
static int query_i64(struct pgc *c, const char *sql, int64_t *out) {
    PGresult *res = PQexec(c->db, sql);
    int rc = 0;
    *out = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) rc = pg_err(c, res, "checking the database", NULL);
    else if (PQntuples(res) > 0) {
        const char *t = PQgetvalue(res, 0, 0);
        *out = t[0] == 't' ? 1 : strtoll(t, NULL, 10);
    }
    PQclear(res);
    return rc;
}

/* Before a restore, on c: no other session on the database (every facerec
 * node stopped; a session that just ended may linger for a moment, so this
 * waits up to 3 s), and no data unless force. db_out gets the database's name. */
static int restore_target(struct pgc *c, int force, char *db_out, size_t cap) {
    static const char *const tables[] = { "clients", "subjects", "faces", "audit" };
    char sql[160];
    int64_t n = 0;
    int rc = 0;
    snprintf(db_out, cap, "%s", PQdb(c->db));
    for (int i = 0; i < 30; i++) {
        rc = query_i64(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid() AND backend_type = 'client backend'", &n);
        if (rc < 0 || n == 0) break;
        usleep(100 * 1000);
    }
    if (rc == 0 && n > 0)
        return fr_err_set_at(FR_E_CONFLICT, "field", "database", "%lld other sessions are connected to database "
                             "%s: stop every facerec node (and other clients) before restoring", (long long)n, db_out);
    for (size_t i = 0; rc == 0 && i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", tables[i]);
        if ((rc = query_i64(c, sql, &n)) < 0 || !n) continue;
        snprintf(sql, sizeof sql, "SELECT EXISTS (SELECT 1 FROM %s)", tables[i]);
        if ((rc = query_i64(c, sql, &n)) == 0 && n && !force)
            return fr_err_set_at(FR_E_CONFLICT, "field", "database", "database %s holds data: restore replaces "
                                 "it only with --force", db_out);
    }
    return rc;
}

/* pg_restore --clean --if-exists --no-owner --single-transaction into the
 * URL's database: PostgreSQL's supported way back from pg_dump's archive,
 * all of it or nothing. Checked first: the archive (a facerec backup this
 * facerec can open), the database (nobody else connected; no data, unless
 * force). */
static int pg_restore_db(const char *where, const char *path, int force) {
    fr_store *st = NULL;
    struct pgc *c = NULL;
    char db[256] = "", target[600];
    int version = 0;
    int rc = fr__store_need_backup(path, "postgresql");
    if (rc == 0) rc = pg_open(where, &st);
    if (rc == 0) rc = archive_version(PG(st)->conninfo, path, &version);
    if (rc == 0 && (rc = pool_get(PG(st), &c)) == 0) {
        rc = restore_target(c, force, db, sizeof db);
        pool_put(PG(st), c);
    }
    char *conninfo = rc == 0 ? fr_strdup(PG(st)->conninfo) : NULL, *file = rc == 0 ? fr_strdup(path) : NULL;
    if (rc == 0 && (!conninfo || !file)) rc = fr_err_set(FR_E_NOMEM, "out of memory");
    if (st) pg_close(st);   /* its connections end before pg_restore's begins */
    /* the database by name in libpq's key=value form (quotes and backslashes escaped); the rest from the environment */
    size_t k = (size_t)snprintf(target, sizeof target, "--dbname=dbname='");
    for (const char *p = db; *p && k + 4 < sizeof target; p++) {
        if (*p == '\'' || *p == '\\') target[k++] = '\\';
        target[k++] = *p;
    }
    snprintf(target + k, sizeof target - k, "'");
    if (rc == 0) {
        fr_log(FR_LOG_INFO, "postgresql: restoring %s (schema version %d) into database %s", path, version, db);
        if ((rc = run_tool(conninfo, (char *const[]){ "pg_restore", "--clean", "--if-exists", "--no-owner",
                                                      "--single-transaction", target, file, NULL }, NULL, 0)) < 0)
            rc = fr_err_set(-rc, "restore: %s; the database was left as it was (one transaction)", fr_err_detail());
    }
    fr_free(conninfo);
    fr_free(file);
    return rc;
}

/* ---- the caller's transactions ------------------------------------------------------- */

static int pg_tx_begin(fr_store *st, fr_store **tx_out) {
    struct pg_tx *t = fr_calloc(1, sizeof *t);
    int rc = 0;
    if (!t) return fr_err_set(FR_E_NOMEM, "out of memory");
    t->s = PG(st);
    t->outer = !st->parent;
    if (t->outer) rc = pool_get(t->s, &t->c);
    else t->c = ((struct pg_tx *)st)->c;
    if (rc == 0) {
        rc = t->c->db ? lv_open(t->c, LV_WRITE)
                      : fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: connection to PostgreSQL lost in this "
                                   "transaction; roll it back");
        if (rc < 0 && t->outer) pool_put(t->s, t->c);
    }
    if (rc < 0) {
        fr_free(t);
        return rc;
    }
    *tx_out = &t->base;
    return 0;
}

static int pg_tx_end(fr_store *tx, int commit) {
    struct pg_tx *t = (struct pg_tx *)tx;
    int rc = 0;
    if (t->c->db && t->c->depth > 0) rc = lv_close(t->c, commit ? 0 : -FR_E_INTERNAL_ERROR);
    else if (commit) rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: connection to PostgreSQL lost before "
                                     "the commit: the transaction was rolled back");
    if (t->outer) pool_put(t->s, t->c);
    fr_free(t);
    return commit ? rc : 0;
}

/* ---- clients and admin settings ------------------------------------------------------ */

/* An INSERT ... RETURNING id: *id_out. */
static int insert(fr_store *st, enum q id, const struct arg *args, struct res *r, int64_t *id_out,
                  const char *what) {
    r->kind = &I64_ROW;
    r->max = 1;
    r->rows = id_out;
    return call(st, WRITE, id, args, r, what);
}

static int pg_client_create(fr_store *st, const char *name, const char *key_prefix, const char *key_hash,
                            int64_t per_hour, int64_t per_day, int64_t *id_out) {
    struct res r = { 0 };
    int rc = insert(st, Q_CLIENT_INSERT,
                    ARGS(a_text(name), a_text(key_prefix), a_text(key_hash), a_int(per_hour), a_int(per_day),
                         a_int(fr__store_now(st))),
                    &r, id_out, "creating a client");
    return constraint(rc, &r, "key_prefix", 0, NULL);
}

static int client_one(fr_store *st, enum q id, struct arg key, struct fr_store_client *out) {
    struct res r = { .kind = &CLIENT_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, id, ARGS(key), &r, "reading a client");
    return missing(rc, (int64_t)r.n, FR_E_NOT_FOUND, "client not found");
}

static int pg_client_get(fr_store *st, int64_t id, struct fr_store_client *out) {
    return client_one(st, Q_CLIENT_GET, a_int(id), out);
}

static int pg_client_get_by_prefix(fr_store *st, const char *prefix, struct fr_store_client *out) {
    return client_one(st, Q_CLIENT_BY_PREFIX, a_text(prefix), out);
}

/* A whole list into *rows_out / *n_out. */
static int list(fr_store *st, enum q id, const struct arg *args, const struct row_kind *kind, size_t max,
                void **rows_out, size_t *n_out, const char *what) {
    struct res r = { .kind = kind, .max = max };
    int rc = call(st, READ, id, args, &r, what);
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int pg_client_list(fr_store *st, struct fr_store_client **rows_out, size_t *n_out) {
    return list(st, Q_CLIENT_LIST, NULL, &CLIENT_ROW, SIZE_MAX, (void **)rows_out, n_out, "listing clients");
}

static int pg_client_update(fr_store *st, int64_t id, const struct fr_store_client_update *u) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_UPDATE,
                  ARGS(a_text(u->name), a_int(u->rate_limit_per_hour), a_int(u->rate_limit_per_day),
                       a_int(u->disabled), a_int(id)),
                  &r, "updating a client");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "client not found");
}

static int pg_client_set_key(fr_store *st, int64_t id, const char *prefix, const char *hash) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_SET_KEY, ARGS(a_text(prefix), a_text(hash), a_int(id)), &r,
                  "setting a client key");
    rc = constraint(rc, &r, "key_prefix", 0, NULL);
    return missing(rc, r.changes, FR_E_NOT_FOUND, "client not found");
}

/* One statement: the cascades run inside it, so it is all or nothing. */
static int pg_client_delete(fr_store *st, int64_t id) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CLIENT_DELETE, ARGS(a_int(id)), &r, "deleting a client");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "client not found");
}

static int pg_admin_get(fr_store *st, const char *key, char **v_out) {
    struct res r = { .kind = &TEXT_ROW, .max = 1, .rows = v_out };
    int rc = call(st, READ, Q_ADMIN_GET, ARGS(a_text(key)), &r, "reading a setting");
    if (rc == 0 && r.n == 0) rc = fr_err_set(FR_E_NOT_FOUND, "setting %s is not set", key);
    return rc;
}

static int pg_admin_set(fr_store *st, const char *key, const char *value) {
    struct res r = { 0 };
    return call(st, WRITE, Q_ADMIN_SET, ARGS(a_text(key), a_text(value)), &r, "writing a setting");
}

/* ---- subjects ------------------------------------------------------------------------- */

static int subject_missing(int64_t id) {
    return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
}

static int pg_subject_create(fr_store *st, int64_t client_id, const char *name, const char *external_id,
                             const char *metadata, int64_t *id_out) {
    struct res r = { 0 };
    int rc = insert(st, Q_SUBJECT_INSERT,
                    ARGS(a_int(client_id), a_text(external_id), a_text(name), a_text(metadata),
                         a_int(fr__store_now(st))),
                    &r, id_out, "creating a subject");
    return constraint(rc, &r, "external_id", FR_E_NOT_FOUND, "client not found");
}

static int pg_subject_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_subject *out) {
    struct res r = { .kind = &SUBJECT_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_SUBJECT_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a subject");
    return rc == 0 && r.n == 0 ? subject_missing(id) : rc;
}

/* One query for all ids: each row carries the position it answers (ids
 * may repeat), so it is read straight into out[position]. Ids that are
 * gone or foreign leave their row zeroed. */
struct many {
    struct fr_store_subject *out;
    size_t n;
};
static int read_many(const PGresult *q, int i, void *row) {
    struct many *m = row;
    int64_t ord = col_i64(q, i, 8);
    if (ord < 1 || (size_t)ord > m->n) return fr_err_set(FR_E_INTERNAL_ERROR, "database: bad position %lld",
                                                         (long long)ord);
    return read_subject(q, i, &m->out[ord - 1]);
}
static const struct row_kind MANY_ROW = { 0, read_many, NULL };

static int pg_subject_get_many(fr_store *st, int64_t client_id, const int64_t *ids, size_t n,
                               struct fr_store_subject *out) {
    struct many m = { out, n };
    struct res r = { .kind = &MANY_ROW, .max = SIZE_MAX, .rows = &m };
    char *arr = fr_malloc(n * 21 + 3), *p = arr;
    if (!arr) return fr_err_set(FR_E_NOMEM, "out of memory");
    *p++ = '{';
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s%lld", i ? "," : "", (long long)ids[i]);
    *p++ = '}';
    *p = 0;
    int rc = call(st, READ, Q_SUBJECT_MANY, ARGS(a_int(client_id), a_ids(arr)), &r, "reading subjects");
    fr_free(arr);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++) fr_store_subject_free(&out[i]);
    }
    return rc;
}

static int pg_subject_list(fr_store *st, int64_t client_id, int limit, int64_t after_id,
                           struct fr_store_subject **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &SUBJECT_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_SUBJECT_LIST, ARGS(a_int(client_id), a_int(after_id), a_int(limit + 1)), &r,
                  "listing subjects");
    struct fr_store_subject *rows = r.rows;
    *rows_out = rows;
    *n_out = r.n;
    *next_out = r.more ? rows[r.n - 1].id : 0;
    return rc;
}

static int pg_subject_update(fr_store *st, int64_t client_id, int64_t id, const struct fr_store_subject_update *u) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SUBJECT_UPDATE,
                  ARGS(a_text(u->name), a_text(u->external_id), a_text(u->metadata), a_int(fr__store_now(st)),
                       a_int(client_id), a_int(id)),
                  &r, "updating a subject");
    rc = constraint(rc, &r, "external_id", 0, NULL);
    return missing(rc, r.changes, FR_E_SUBJECT_NOT_FOUND, "subject not found");
}

static int pg_subject_delete(fr_store *st, int64_t client_id, int64_t id, int64_t **face_ids_out, size_t *n_out) {
    int64_t one = 0;
    struct res lock = { .kind = &I64_ROW, .max = 1, .rows = &one };
    struct res ids = { .kind = &I64_ROW, .max = SIZE_MAX }, del = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
    /* The subject's row is locked first: a face being added to it holds a
     * share lock on it (the foreign key check), so the lock waits for those
     * and keeps new ones out, and the ids read next are exactly the faces
     * that the cascade removes. */
    rc = stmt_run(u.c, Q_SUBJECT_LOCK, ARGS(a_int(client_id), a_int(id)), &lock, "locking a subject");
    rc = missing(rc, (int64_t)lock.n, FR_E_SUBJECT_NOT_FOUND, "subject not found");
    if (rc == 0 && n_out)
        rc = stmt_run(u.c, Q_SUBJECT_FACE_IDS, ARGS(a_int(client_id), a_int(id)), &ids, "listing a subject's faces");
    if (rc == 0) rc = stmt_run(u.c, Q_SUBJECT_DELETE, ARGS(a_int(client_id), a_int(id)), &del, "deleting a subject");
    rc = use_end(&u, rc);
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

static int pg_subject_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    return count_by(st, Q_SUBJECT_COUNT, client_id, n_out);
}

static int pg_info(fr_store *st, struct fr_store_info *out) {
    struct pg *s = PG(st);
    struct pgc *c = NULL;
    pthread_mutex_lock(&s->mu);
    out->pool_size = s->size;
    for (int i = 0; i < s->size; i++) out->pool_in_use += s->pool[i].lent != 0;
    pthread_mutex_unlock(&s->mu);
    int rc = pool_get(s, &c);
    if (rc < 0) return rc;
    const char *v = c->db ? PQparameterStatus(c->db, "server_version") : NULL;
    snprintf(out->server_version, sizeof out->server_version, "%s", v ? v : "");
    pool_put(s, c);
    return 0;
}

/* ---- the index change log ---------------------------------------------------------------- */

static int pg_changes_head(fr_store *st, int64_t *seq_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = seq_out };
    return call(st, READ, Q_LOG_HEAD, NULL, &r, "reading the index log's head");
}

static int pg_changes_since(fr_store *st, int64_t after_seq, int limit, struct fr_store_change **rows_out,
                            size_t *n_out) {
    struct res r = { .kind = &CHANGE_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_LOG_SINCE, ARGS(a_int(after_seq), a_int(limit)), &r, "reading the index log");
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

/* The LISTEN connection, made (and LISTENing) when it has none; listen_mu held. */
static int listen_ready(struct pg *s) {
    if (s->listen.db && PQstatus(s->listen.db) == CONNECTION_OK) return 0;
    conn_drop(&s->listen);
    int rc = conn_open(s, &s->listen);
    if (rc < 0) return rc;
    PGresult *q = PQexec(s->listen.db, "LISTEN facerec_index");
    const int ok = PQresultStatus(q) == PGRES_COMMAND_OK;
    PQclear(q);
    if (!ok) {
        conn_drop(&s->listen);
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: LISTEN facerec_index failed");
    }
    return 0;
}

/* A NOTIFY wakes the waiter at once; the head is read after LISTEN is in
 * place, so a change committed before the wait began is not missed either. */
static int pg_changes_wait(fr_store *st, int64_t after_seq, int timeout_ms) {
    struct pg *s = PG(st);
    pthread_mutex_lock(&s->listen_mu);
    int rc = listen_ready(s);
    int64_t head = 0;
    if (rc == 0) rc = pg_changes_head(st, &head);
    if (rc == 0 && head > after_seq) rc = 1;
    const double until = fr_time_ms() + timeout_ms;
    while (rc == 0) {
        PGnotify *n;
        if (!PQconsumeInput(s->listen.db)) {
            conn_drop(&s->listen);
            rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: the connection to PostgreSQL was lost");
            break;
        }
        while ((n = PQnotifies(s->listen.db))) {
            PQfreemem(n);
            rc = 1;
        }
        const double left = until - fr_time_ms();
        if (rc || left <= 0) break;
        struct pollfd pf = { PQsocket(s->listen.db), POLLIN, 0 };
        if (poll(&pf, 1, left > 1000 ? 1000 : (int)left + 1) < 0 && errno != EINTR) {
            rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "database: waiting for a change failed");
            break;
        }
    }
    pthread_mutex_unlock(&s->listen_mu);
    return rc;
}

static int pg_changes_purged_through(fr_store *st, int64_t *seq_out) {
    char *v = NULL;
    int rc = pg_admin_get(st, "index_log_purged_through", &v);
    if (rc == -FR_E_NOT_FOUND) return 0;
    if (rc == 0 && v) *seq_out = strtoll(v, NULL, 10);
    fr_free(v);
    return rc;
}

static int pg_changes_purge(fr_store *st, int64_t before_ms, int64_t *n_out, int64_t *purged_through_out) {
    int64_t upto = 0;
    struct res m = { .kind = &I64_ROW, .max = 1, .rows = &upto }, d = { 0 }, w = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
    rc = stmt_run(u.c, Q_LOG_PURGE_MAX, ARGS(a_int(before_ms)), &m, "finding old index log rows");
    if (rc == 0 && upto > 0) rc = stmt_run(u.c, Q_LOG_PURGE, ARGS(a_int(upto)), &d, "purging the index log");
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)upto);
    if (rc == 0 && upto > 0)
        rc = stmt_run(u.c, Q_ADMIN_SET, ARGS(a_text("index_log_purged_through"), a_text(v)), &w,
                      "recording the index log's purge");
    rc = use_end(&u, rc);
    if (rc < 0) return rc;
    *n_out = d.changes;
    return upto > 0 ? (*purged_through_out = upto, 0) : pg_changes_purged_through(st, purged_through_out);
}

static int pg_subject_find_external(fr_store *st, int64_t client_id, const char *external_id, int64_t *id_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = id_out };
    int rc = call(st, READ, Q_SUBJECT_BY_EXT, ARGS(a_int(client_id), a_text(external_id)), &r, "finding a subject");
    return rc == 0 && r.n == 0 ? fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject not found") : rc;
}

/* ---- faces -------------------------------------------------------------------------------- */

static int face_missing(int64_t id) { return fr_err_set(FR_E_NOT_FOUND, "face %lld not found", (long long)id); }

static int pg_face_add(fr_store *st, const struct fr_store_face_new *f, int64_t *id_out) {
    struct res r = { 0 };
    const float *b = f->bbox;
    struct arg live = f->liveness >= 0 ? a_real((double)f->liveness) : a_null();
    int rc = insert(st, Q_FACE_INSERT,
                    ARGS(a_int(f->client_id), a_int(f->subject_id),
                         a_blob(f->embedding, (size_t)f->dim * sizeof(float)), a_text(f->model_id),
                         a_real((double)f->quality), live, a_real((double)b[0]), a_real((double)b[1]),
                         a_real((double)b[2]), a_real((double)b[3]), a_text(f->image_sha256),
                         a_blob(f->image, f->image_len), a_int(fr__store_now(st))),
                    &r, id_out, "adding a face");
    /* the (client_id, subject_id) foreign key is the tenancy check */
    if (rc < 0 && strcmp(r.state, "23503") == 0) rc = subject_missing(f->subject_id);
    return rc;
}

static int pg_face_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_face *out) {
    struct res r = { .kind = &FACE_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_FACE_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a face");
    return rc == 0 && r.n == 0 ? face_missing(id) : rc;
}

static int pg_face_list(fr_store *st, int64_t client_id, int64_t subject_id, struct fr_store_face **rows_out,
                        size_t *n_out) {
    int64_t one = 0;
    struct res exists = { .kind = &I64_ROW, .max = 1, .rows = &one };
    struct res r = { .kind = &FACE_ROW, .max = SIZE_MAX };
    struct use u;
    int rc = use_begin(st, READ_MANY, &u);   /* the subject check and the list see one snapshot */
    if (rc < 0) return rc;
    rc = stmt_run(u.c, Q_SUBJECT_EXISTS, ARGS(a_int(client_id), a_int(subject_id)), &exists, "looking up a subject");
    if (rc == 0 && exists.n == 0) rc = subject_missing(subject_id);
    if (rc == 0)
        rc = stmt_run(u.c, Q_FACE_LIST, ARGS(a_int(client_id), a_int(subject_id)), &r, "listing faces");
    rc = use_end(&u, rc);
    if (rc < 0) res_free(&r);
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int pg_face_image_get(fr_store *st, int64_t client_id, int64_t id, uint8_t **buf_out, size_t *len_out) {
    struct blob b = { NULL, 0 };
    struct res r = { .kind = &BLOB_ROW, .max = 1, .rows = &b };
    int rc = call(st, READ, Q_FACE_IMAGE, ARGS(a_int(client_id), a_int(id)), &r, "reading a photo");
    if (rc == 0 && r.n == 0) return fr_err_set(FR_E_NOT_FOUND, "face %lld has no stored photo", (long long)id);
    *buf_out = b.buf;
    *len_out = b.len;
    return rc;
}

static int pg_face_stale(fr_store *st, const char *model_id, int64_t after_id, int limit,
                         struct fr_store_face_key **rows_out, size_t *n_out) {
    return list(st, Q_FACE_STALE, ARGS(a_text(model_id), a_int(after_id), a_int(limit)), &FACE_KEY_ROW,
                (size_t)limit, (void **)rows_out, n_out, "listing faces to re-embed");
}

/* A write that affects many rows; *n_out gets how many. */
static int write_many(fr_store *st, enum q id, int64_t arg, int64_t *n_out, const char *what) {
    struct res r = { 0 };
    int rc = call(st, WRITE, id, ARGS(a_int(arg)), &r, what);
    if (rc == 0) *n_out = r.changes;
    return rc;
}

static int pg_face_image_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    return write_many(st, Q_FACE_IMAGE_PURGE, before_ms, n_out, "purging photos");
}

static int pg_face_delete(fr_store *st, int64_t client_id, int64_t id, int64_t *subject_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = subject_out };
    int rc = call(st, WRITE, Q_FACE_DELETE, ARGS(a_int(client_id), a_int(id)), &r, "deleting a face");
    return rc == 0 && r.n == 0 ? face_missing(id) : rc;
}

static int pg_face_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    return count_by(st, client_id ? Q_FACE_COUNT : Q_FACE_COUNT_ALL, client_id, n_out);
}

/* By pages of WALK_PAGE ids in one snapshot (READ_MANY), so memory stays
 * bounded however many faces there are. */
static int pg_faces_foreach(fr_store *st, const char *model_id, fr_store_face_fn fn, void *ctx) {
    struct walk w = { fn, ctx, NULL, 0, 0 };
    struct use u;
    int rc = use_begin(st, READ_MANY, &u);
    if (rc < 0) return rc;
    for (;;) {
        struct res r = { .kind = &WALK_ROW, .max = SIZE_MAX, .rows = &w };
        rc = stmt_run(u.c, Q_FACE_PAGE, ARGS(a_text(model_id), a_int(w.last), a_int(WALK_PAGE)), &r,
                      "reading faces");
        if (rc != 0 || r.changes < WALK_PAGE) break;
    }
    int end = use_end(&u, rc < 0 ? rc : 0);   /* a callback's own answer (> 0) is no failure */
    if (end < 0) rc = end;
    fr_free(w.buf);
    return rc;
}

static int pg_face_stats(fr_store *st, const char *model_id, struct fr_store_face_stats *out) {
    struct res r = { .kind = &FACE_STATS_ROW, .max = 1, .rows = out };
    return call(st, READ, Q_FACE_STATS, ARGS(a_text(model_id)), &r, "counting faces");
}

/* ---- audit, usage, idempotency ---------------------------------------------------------- */

static int pg_audit_append(fr_store *st, const char *actor, const char *action, const char *target,
                           const char *request_id, const char *details, int64_t *id_out) {
    struct res r = { 0 };
    return insert(st, Q_AUDIT_INSERT,
                  ARGS(a_int(fr__store_now(st)), a_text(actor), a_text(action), a_text(target), a_text(request_id),
                       a_text(details)),
                  &r, id_out, "writing an audit row");
}

static int pg_audit_list(fr_store *st, int limit, int64_t before_id, struct fr_store_audit **rows_out, size_t *n_out,
                         int64_t *next_out) {
    struct res r = { .kind = &AUDIT_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_AUDIT_LIST, ARGS(a_int(before_id ? before_id : INT64_MAX), a_int(limit + 1)), &r,
                  "listing audit rows");
    struct fr_store_audit *rows = r.rows;
    *rows_out = rows;
    *n_out = r.n;
    *next_out = r.more ? rows[r.n - 1].id : 0;
    return rc;
}

static int pg_usage_add(fr_store *st, int64_t client_id, const char *day, const char *operation, int64_t n) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_USAGE_ADD, ARGS(a_int(client_id), a_text(day), a_text(operation), a_int(n)), &r,
                  "counting usage");
    return constraint(rc, &r, NULL, FR_E_NOT_FOUND, "client not found");
}

static int pg_usage_list(fr_store *st, int64_t client_id, const char *from_day, struct fr_store_usage **rows_out,
                         size_t *n_out) {
    return list(st, Q_USAGE_LIST, ARGS(a_int(client_id), a_text(from_day ? from_day : "")), &USAGE_ROW, SIZE_MAX,
                (void **)rows_out, n_out, "listing usage");
}

static int pg_idem_get(fr_store *st, int64_t client_id, const char *key, struct fr_store_idem *out) {
    struct res r = { .kind = &IDEM_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_IDEM_GET, ARGS(a_int(client_id), a_text(key)), &r, "reading an idempotency key");
    return missing(rc, (int64_t)r.n, FR_E_NOT_FOUND, "idempotency key not seen");
}

static int pg_idem_put(fr_store *st, int64_t client_id, const char *key, const char *request_hash, int status,
                       const char *response) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_IDEM_PUT,
                  ARGS(a_int(client_id), a_text(key), a_text(request_hash), a_int(status), a_text(response),
                       a_int(fr__store_now(st))),
                  &r, "storing an idempotency key");
    return constraint(rc, &r, "Idempotency-Key", FR_E_NOT_FOUND, "client not found");
}

static int pg_idem_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    return write_many(st, Q_IDEM_PURGE, before_ms, n_out, "purging idempotency keys");
}

/* ---- webhooks and the outbox ------------------------------------------------------------ */

static int webhook_missing(void) { return fr_err_set(FR_E_NOT_FOUND, "webhook not found"); }

static int pg_webhook_create(fr_store *st, int64_t client_id, const char *url, const char *events,
                             const char *description, int enabled, const char *secret, int64_t *id_out) {
    struct res r = { 0 };
    int rc = insert(st, Q_WH_INSERT,
                    ARGS(a_int(client_id), a_text(url), a_text(events), a_text(description), a_int(enabled),
                         a_text(secret), a_int(fr__store_now(st))),
                    &r, id_out, "creating a webhook");
    return constraint(rc, &r, NULL, FR_E_NOT_FOUND, "client not found");
}

static int pg_webhook_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_webhook *out) {
    struct res r = { .kind = &WEBHOOK_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_WH_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a webhook");
    return rc == 0 && r.n == 0 ? webhook_missing() : rc;
}

static int pg_webhook_list(fr_store *st, int64_t client_id, struct fr_store_webhook **rows_out, size_t *n_out) {
    return list(st, Q_WH_LIST, ARGS(a_int(client_id)), &WEBHOOK_ROW, SIZE_MAX, (void **)rows_out, n_out,
                "listing webhooks");
}

static int pg_webhook_update(fr_store *st, int64_t client_id, int64_t id, const struct fr_store_webhook_update *u) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_UPDATE,
                  ARGS(a_int(client_id), a_int(id), a_text(u->url), a_text(u->events), a_text(u->description),
                       a_int(u->enabled), a_int(fr__store_now(st))),
                  &r, "updating a webhook");
    return rc == 0 && r.changes == 0 ? webhook_missing() : rc;
}

static int pg_webhook_rotate(fr_store *st, int64_t client_id, int64_t id, const char *new_secret, int64_t old_until) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_ROTATE,
                  ARGS(a_int(client_id), a_int(id), a_text(new_secret), a_int(old_until), a_int(fr__store_now(st))),
                  &r, "rotating a webhook's secret");
    return rc == 0 && r.changes == 0 ? webhook_missing() : rc;
}

static int pg_webhook_delete(fr_store *st, int64_t client_id, int64_t id) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_WH_DELETE, ARGS(a_int(client_id), a_int(id)), &r, "deleting a webhook");
    return rc == 0 && r.changes == 0 ? webhook_missing() : rc;
}

static int pg_webhook_health(fr_store *st, int64_t id, int ok, int64_t at, int64_t disable_before,
                             const char *reason, int *disabled_out, int64_t *client_out) {
    struct res h = { .kind = &I64_ROW, .max = 1, .rows = client_out }, d = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
    /* a healthy webhook's row is not written again */
    rc = ok ? stmt_run(u.c, Q_WH_HEALTH_OK, ARGS(a_int(id)), &h, "recording a webhook's health")
            : stmt_run(u.c, Q_WH_HEALTH_FAIL, ARGS(a_int(id), a_int(at)), &h, "recording a webhook's health");
    if (rc == 0 && h.n == 0 && !ok) rc = webhook_missing();
    if (rc == 0 && (reason || (!ok && disable_before > 0)))
        rc = stmt_run(u.c, Q_WH_DISABLE,
                      ARGS(a_int(id), a_text(reason ? reason : "failing"), a_int(fr__store_now(st)),
                           a_int(reason ? 0 : disable_before)),
                      &d, "disabling a webhook");
    rc = use_end(&u, rc);
    if (rc == 0) *disabled_out = d.changes > 0;
    return rc;
}

static int pg_webhook_failing_count(fr_store *st, int64_t since, int64_t *n_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = n_out };
    return call(st, READ, Q_WH_FAILING, ARGS(a_int(since)), &r, "counting failing webhooks");
}

static int pg_event_add(fr_store *st, const struct fr_store_event_new *e, int64_t *n_out) {
    struct res ev = { 0 }, fan = { 0 }, del = { 0 };
    const int64_t now = e->created_at > 0 ? e->created_at : fr__store_now(st);
    struct use u;
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
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
    rc = use_end(&u, rc);
    if (rc == 0) *n_out = fan.changes;
    return rc;
}

#define CLAIM_SCAN 1024

/* One statement: due rows locked FOR UPDATE SKIP LOCKED (a row another
 * node is claiming at this moment is passed over, not waited for), capped
 * per endpoint, and leased to owner until now + lease_ms. The window looks
 * at the first max * per_endpoint due rows (32 to CLAIM_SCAN), as the
 * SQLite backend does. */
static int pg_delivery_claim(fr_store *st, int64_t now, int64_t lease_ms, int max, int per_endpoint,
                             const char *skip_json, const char *owner, struct fr_store_claim **rows_out,
                             size_t *n_out) {
    int64_t scan = (int64_t)max * per_endpoint;
    scan = scan < 32 ? 32 : scan > CLAIM_SCAN ? CLAIM_SCAN : scan;
    /* the front's JSON array "[1,2]" is PostgreSQL's array "{1,2}" */
    size_t len = strlen(skip_json);
    char *arr = fr_strndup(skip_json, len);
    if (!arr) return fr_err_set(FR_E_NOMEM, "out of memory");
    if (len >= 2) {
        arr[0] = '{';
        arr[len - 1] = '}';
    }
    struct res r = { .kind = &CLAIM_ROW, .max = (size_t)max };
    int rc = call(st, WRITE, Q_DL_CLAIM,
                  ARGS(a_int(now), a_int(max), a_int(per_endpoint), a_ids(arr), a_int(scan), a_int(now + lease_ms),
                       a_text(owner)),
                  &r, "claiming due deliveries");
    fr_free(arr);
    *rows_out = r.rows;
    *n_out = r.n;
    return rc;
}

static int pg_delivery_release(fr_store *st, const char *owner, int64_t *n_out) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_DL_RELEASE, ARGS(a_text(owner)), &r, "releasing a node's leases");
    if (rc == 0) *n_out = r.changes;
    return rc;
}

static int pg_delivery_finish(fr_store *st, const struct fr_store_delivery_done *d) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_DL_FINISH,
                  ARGS(a_int(d->id), a_int(d->status), a_int(d->attempts),
                       d->last_status_code ? a_int(d->last_status_code) : a_null(), a_text(d->last_error),
                       a_int(d->status == FR_DELIVERY_PENDING ? d->next_attempt_at : 0),
                       d->status == FR_DELIVERY_DELIVERED ? a_int(d->delivered_at) : a_null()),
                  &r, "recording a delivery");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "delivery not found");
}

static int pg_delivery_list(fr_store *st, int64_t client_id, int64_t webhook_id, int limit, int64_t before_id,
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

static int pg_delivery_get(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id,
                           struct fr_store_delivery *out) {
    struct res r = { .kind = &DELIVERY_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_DL_GET, ARGS(a_int(client_id), a_int(webhook_id), a_int(id)), &r,
                  "reading a delivery");
    return missing(rc, (int64_t)r.n, FR_E_NOT_FOUND, "delivery not found");
}

static int pg_delivery_retry(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id, int64_t now) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_DL_RETRY, ARGS(a_int(client_id), a_int(webhook_id), a_int(id), a_int(now)), &r,
                  "retrying a delivery");
    return missing(rc, r.changes, FR_E_NOT_FOUND, "delivery not found");
}

static int pg_delivery_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    struct res d = { 0 }, e = { 0 };
    struct use u;
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
    rc = stmt_run(u.c, Q_DL_PURGE, ARGS(a_int(before_ms)), &d, "purging delivered rows");
    if (rc == 0) rc = stmt_run(u.c, Q_EV_ORPHANS, NULL, &e, "purging delivered events");
    rc = use_end(&u, rc);
    if (rc == 0) *n_out = d.changes;
    return rc;
}

static int pg_outbox_stats(fr_store *st, int64_t *pending_out, int64_t *oldest_out) {
    int64_t v[2] = { 0, 0 };
    struct res r = { .kind = &PAIR_ROW, .max = 1, .rows = v };
    int rc = call(st, READ, Q_OUTBOX_STATS, NULL, &r, "counting pending deliveries");
    *pending_out = v[0];
    *oldest_out = v[1];
    return rc;
}

/* ---- cameras and camera sessions --------------------------------------------------------- */

static int camera_missing(void) { return fr_err_set(FR_E_NOT_FOUND, "camera not found"); }

static int pg_camera_create(fr_store *st, int64_t client_id, const char *name, const char *url, int transport,
                            int64_t *id_out) {
    struct res r = { 0 };
    int rc = insert(st, Q_CAM_INSERT,
                    ARGS(a_int(client_id), a_text(name), a_text(url), a_int(transport), a_int(fr__store_now(st))),
                    &r, id_out, "creating a camera");
    return constraint(rc, &r, NULL, FR_E_NOT_FOUND, "client not found");
}

static int pg_camera_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_camera *out) {
    struct res r = { .kind = &CAMERA_ROW, .max = 1, .rows = out };
    int rc = call(st, READ, Q_CAM_GET, ARGS(a_int(client_id), a_int(id)), &r, "reading a camera");
    return rc == 0 && r.n == 0 ? camera_missing() : rc;
}

static int pg_camera_list(fr_store *st, int64_t client_id, struct fr_store_camera **rows_out, size_t *n_out) {
    return list(st, Q_CAM_LIST, ARGS(a_int(client_id)), &CAMERA_ROW, FR_STORE_LIST_MAX, (void **)rows_out, n_out,
                "listing cameras");
}

static int pg_camera_update(fr_store *st, int64_t client_id, int64_t id, const char *name, const char *url,
                            int transport) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CAM_UPDATE,
                  ARGS(a_int(client_id), a_int(id), a_text(name), a_text(url), a_int(transport),
                       a_int(fr__store_now(st))),
                  &r, "updating a camera");
    return rc == 0 && r.changes == 0 ? camera_missing() : rc;
}

static int pg_camera_delete(fr_store *st, int64_t client_id, int64_t id) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_CAM_DELETE, ARGS(a_int(client_id), a_int(id)), &r, "deleting a camera");
    return rc == 0 && r.changes == 0 ? camera_missing() : rc;
}

static int pg_session_create(fr_store *st, const struct fr_store_session_new *n, int64_t *id_out, int64_t *hook_out) {
    const struct fr_store_session_settings *x = n->set;
    const int64_t now = fr__store_now(st);
    struct res r = { .kind = &I64_ROW, .max = 1 };
    struct use u;
    int64_t id = 0, hook = 0;
    int rc = use_begin(st, WRITE_MANY, &u);
    if (rc < 0) return rc;
    r.rows = &id;
    rc = stmt_run(u.c, Q_SES_INSERT,
                  ARGS(a_int(n->client_id), a_text(n->uid), a_text(n->slot_id), a_int(x->mode), a_int(x->cooldown_ms),
                       a_real(x->fps), a_real(x->threshold), a_int(x->min_face_px), a_real(x->min_quality),
                       a_int(x->liveness), a_int(x->report_unknown), a_int(x->snapshot), a_text(x->roster),
                       a_int(x->max_failures), a_int(x->max_failure_ms), a_text(x->callback_url), a_text(x->policy),
                       a_int(x->ends_at), a_text(n->node), a_int(now)),
                  &r, "creating a session");
    rc = constraint(rc, &r, "slot_id", FR_E_NOT_FOUND, "client not found");
    for (int i = 0; rc == 0 && i < n->n_cameras; i++) {
        const struct fr_store_session_camera *c = &n->cameras[i];
        struct res cr = { 0 };
        rc = stmt_run(u.c, Q_SES_CAM_INSERT,
                      ARGS(a_int(id), a_int(i), a_text(c->key), a_text(c->name), a_text(c->url), a_int(c->transport),
                           a_int(c->camera_id)),
                      &cr, "writing a session's camera");
        rc = constraint(rc, &cr, "cameras", 0, NULL);
    }
    if (rc == 0) {
        struct res hr = { .kind = &I64_ROW, .max = 1, .rows = &hook };
        rc = stmt_run(u.c, Q_SES_HOOK_INSERT,
                      ARGS(a_int(n->client_id), a_text(x->callback_url),
                           a_text(n->callback_secret ? n->callback_secret : ""), a_int(now), a_int(id),
                           a_text(x->policy)),
                      &hr, "writing a session's callback endpoint");
    }
    if (rc == 0) {
        struct res sr = { 0 };
        rc = stmt_run(u.c, Q_SES_SET_HOOK, ARGS(a_int(id), a_int(hook)), &sr, "linking a session's callbacks");
    }
    rc = use_end(&u, rc);
    if (rc == 0) {
        *id_out = id;
        *hook_out = hook;
    }
    return rc;
}

/* Each session's cameras (on the call's connection). */
static int session_cameras(struct pgc *c, struct fr_store_session *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct res r = { .kind = &SESSION_CAMERA_ROW, .max = FR_STORE_SESSION_CAMERAS_MAX };
        int rc = stmt_run(c, Q_SES_CAMS, ARGS(a_int(rows[i].id)), &r, "reading a session's cameras");
        if (rc < 0) return rc;
        rows[i].cameras = r.rows;
        rows[i].n_cameras = (int)r.n;
    }
    return 0;
}

static int pg_session_get(fr_store *st, int64_t client_id, const char *slot_id, int64_t id,
                          struct fr_store_session *out) {
    struct res r = { .kind = &SESSION_ROW, .max = 1, .rows = out };
    struct use u;
    int rc = use_begin(st, READ_MANY, &u);
    if (rc < 0) return rc;
    rc = slot_id ? stmt_run(u.c, Q_SES_BY_SLOT, ARGS(a_int(client_id), a_text(slot_id)), &r, "reading a session")
                 : stmt_run(u.c, Q_SES_BY_ID, ARGS(a_int(id)), &r, "reading a session");
    if (rc == 0 && r.n == 1) rc = session_cameras(u.c, out, 1);
    rc = use_end(&u, rc);
    if (rc < 0) fr_store_session_free(out);
    if (rc == 0 && r.n == 0) return fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found");
    return rc;
}

static int pg_session_list(fr_store *st, int64_t client_id, int running, int limit, int64_t before_id,
                           struct fr_store_session **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &SESSION_ROW, .max = (size_t)limit };
    struct use u;
    int rc = use_begin(st, READ_MANY, &u);
    if (rc < 0) return rc;
    rc = client_id == 0 && running
             ? stmt_run(u.c, Q_SES_RUNNING, ARGS(a_int(limit)), &r, "listing running sessions")
             : stmt_run(u.c, Q_SES_LIST,
                        ARGS(a_int(client_id), a_int(running), a_int(before_id > 0 ? before_id : INT64_MAX),
                             a_int(limit + 1)),
                        &r, "listing sessions");
    if (rc == 0) rc = session_cameras(u.c, r.rows, r.n);
    rc = use_end(&u, rc);
    if (rc < 0) {
        res_free(&r);
        return rc;
    }
    *rows_out = r.rows;
    *n_out = r.n;
    *next_out = r.more && r.n ? ((struct fr_store_session *)r.rows)[r.n - 1].id : 0;
    return 0;
}

static int pg_session_take(fr_store *st, int64_t id, const char *node, int64_t *epoch_out) {
    struct res r = { .kind = &I64_ROW, .max = 1, .rows = epoch_out };
    int rc = call(st, WRITE, Q_SES_TAKE, ARGS(a_int(id), a_text(node), a_int(fr__store_now(st))), &r,
                  "taking a session");
    return rc == 0 && r.n == 0 ? fr_err_set(FR_E_SESSION_NOT_FOUND, "session not running") : rc;
}

static int pg_session_stop(fr_store *st, int64_t id, const char *reason, int64_t at) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SES_STOP, ARGS(a_int(id), a_text(reason), a_int(at)), &r, "stopping a session");
    return rc == 0 && r.changes == 0 ? fr_err_set(FR_E_SESSION_NOT_FOUND, "session not running") : rc;
}

static int pg_session_progress(fr_store *st, int64_t id, const struct fr_store_session_stats *x) {
    struct res r = { 0 };
    int rc = call(st, WRITE, Q_SES_PROGRESS,
                  ARGS(a_int(id), a_int(x->frames_read), a_int(x->frames_analysed), a_int(x->faces_seen),
                       a_int(x->recognitions), a_int(x->callback_failures), a_int(fr__store_now(st))),
                  &r, "recording a session's progress");
    return rc == 0 && r.changes == 0 ? fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found") : rc;
}

static int pg_recognition_add(fr_store *st, const struct fr_store_recognition *x, int64_t *id_out) {
    struct res r = { 0 };
    int rc = insert(st, Q_REC_INSERT,
                    ARGS(a_int(x->client_id), a_int(x->session_id), a_int(x->kind), a_int(x->subject_id),
                         a_text(x->camera), a_real((double)x->similarity), a_real((double)x->quality),
                         a_real((double)x->box[0]), a_real((double)x->box[1]), a_real((double)x->box[2]),
                         a_real((double)x->box[3]), a_int(x->seen_at), a_text(x->event_id)),
                    &r, id_out, "writing a recognition");
    return constraint(rc, &r, NULL, FR_E_SESSION_NOT_FOUND, "session not found");
}

static int pg_recognition_list(fr_store *st, int64_t client_id, int64_t session_id, int limit, int64_t after_id,
                               struct fr_store_recognition **rows_out, size_t *n_out, int64_t *next_out) {
    struct res r = { .kind = &RECOGNITION_ROW, .max = (size_t)limit };
    int rc = call(st, READ, Q_REC_LIST, ARGS(a_int(client_id), a_int(session_id), a_int(after_id), a_int(limit + 1)),
                  &r, "listing recognitions");
    *rows_out = r.rows;
    *n_out = r.n;
    *next_out = rc == 0 && r.more && r.n ? ((struct fr_store_recognition *)r.rows)[r.n - 1].id : 0;
    return rc;
}

static int pg_session_reported(fr_store *st, int64_t session_id, int64_t **subjects_out, int64_t **at_out,
                               size_t *n_out) {
    struct res r = { .kind = &PAIR_ROW, .max = SIZE_MAX - 1 };
    int rc = call(st, READ, Q_REC_REPORTED, ARGS(a_int(session_id)), &r, "reading a session's reports");
    if (rc < 0) return rc;
    int64_t *p = r.rows, *a = fr_calloc(r.n + 1, sizeof *a), *b = fr_calloc(r.n + 1, sizeof *b);
    if (!a || !b) {
        fr_free(a);
        fr_free(b);
        fr_free(p);
        return fr_err_set(FR_E_NOMEM, "out of memory");
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

const struct fr_store_ops fr__store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .migrate = pg_migrate,
    .close = pg_close,
    .ping = pg_ping,
    .schema_version = pg_schema_version,
    .check = pg_check,
    .backup = pg_backup,
    .restore = pg_restore_db,
    .tx_begin = pg_tx_begin,
    .tx_end = pg_tx_end,
    .client_create = pg_client_create,
    .client_get = pg_client_get,
    .client_get_by_prefix = pg_client_get_by_prefix,
    .client_list = pg_client_list,
    .client_update = pg_client_update,
    .client_set_key = pg_client_set_key,
    .client_delete = pg_client_delete,
    .admin_get = pg_admin_get,
    .admin_set = pg_admin_set,
    .subject_create = pg_subject_create,
    .subject_get = pg_subject_get,
    .subject_get_many = pg_subject_get_many,
    .subject_list = pg_subject_list,
    .subject_update = pg_subject_update,
    .subject_delete = pg_subject_delete,
    .subject_count = pg_subject_count,
    .subject_find_external = pg_subject_find_external,
    .info = pg_info,
    .changes_head = pg_changes_head,
    .changes_since = pg_changes_since,
    .changes_wait = pg_changes_wait,
    .changes_purge = pg_changes_purge,
    .changes_purged_through = pg_changes_purged_through,
    .face_add = pg_face_add,
    .face_get = pg_face_get,
    .face_list = pg_face_list,
    .face_image_get = pg_face_image_get,
    .face_image_purge = pg_face_image_purge,
    .face_stale = pg_face_stale,
    .face_delete = pg_face_delete,
    .face_count = pg_face_count,
    .faces_foreach = pg_faces_foreach,
    .face_stats = pg_face_stats,
    .audit_append = pg_audit_append,
    .audit_list = pg_audit_list,
    .usage_add = pg_usage_add,
    .usage_list = pg_usage_list,
    .idem_get = pg_idem_get,
    .idem_put = pg_idem_put,
    .idem_purge = pg_idem_purge,
    .webhook_create = pg_webhook_create,
    .webhook_get = pg_webhook_get,
    .webhook_list = pg_webhook_list,
    .webhook_update = pg_webhook_update,
    .webhook_rotate = pg_webhook_rotate,
    .webhook_delete = pg_webhook_delete,
    .webhook_health = pg_webhook_health,
    .webhook_failing_count = pg_webhook_failing_count,
    .event_add = pg_event_add,
    .delivery_claim = pg_delivery_claim,
    .delivery_release = pg_delivery_release,
    .delivery_finish = pg_delivery_finish,
    .delivery_list = pg_delivery_list,
    .delivery_get = pg_delivery_get,
    .delivery_retry = pg_delivery_retry,
    .delivery_purge = pg_delivery_purge,
    .outbox_stats = pg_outbox_stats,
    .camera_create = pg_camera_create,
    .camera_get = pg_camera_get,
    .camera_list = pg_camera_list,
    .camera_update = pg_camera_update,
    .camera_delete = pg_camera_delete,
    .session_create = pg_session_create,
    .session_get = pg_session_get,
    .session_list = pg_session_list,
    .session_take = pg_session_take,
    .session_stop = pg_session_stop,
    .session_progress = pg_session_progress,
    .recognition_add = pg_recognition_add,
    .recognition_list = pg_recognition_list,
    .session_reported = pg_session_reported,
};

#else  /* !FR_WITH_PG: built without libpq (make WITH_PG=no) */
typedef int fr__store_pg_omitted;
#endif
