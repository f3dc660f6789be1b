/* facerec — storage: the system of record for clients, subjects, faces,
 * audit, usage and idempotency, behind one interface with one backend per
 * database, chosen by the scheme of a URL (SQLite, PostgreSQL; every
 * backend runs the same test suite).
 *
 *   fr_store *st;
 *   int rc = fr_store_open("sqlite:./data", &st);       // creates ./data/facerec.db
 *   if (rc < 0) return rc;                               // fr_err_detail() says why
 *   int64_t client, subject, face;
 *   fr_store_client_create(st, "acme", prefix, hash, 1000, 10000, &client);
 *   fr_store_subject_create(st, client, "Ada", "emp-42", "{\"team\":1}", &subject);
 *   struct fr_store_face_new f = { .client_id = client, .subject_id = subject,
 *       .embedding = emb, .dim = 512, .model_id = "fr_feature", .quality = 0.9f,
 *       .liveness = -1 };
 *   fr_store_face_add(st, &f, &face);
 *   fr_store_close(st);
 *
 * Backends. A URL is <backend>:<where>. "sqlite:/var/lib/facerec" and
 * "sqlite:data" name the folder that holds facerec.db.
 * "postgresql://user:pass@host:5432/db" (or "postgres://...", or libpq's
 * "postgresql:host=h dbname=db") names a PostgreSQL database, with libpq's
 * parameters and facerec's own "?pool=N", the connections the store keeps
 * (default 8); a server that cannot be reached is -FR_E_SERVICE_UNAVAILABLE.
 * A backend facerec knows but this build lacks (WITH_PG=no) and an unknown
 * scheme are -FR_E_INVALID_ARGUMENT with the field "database_url";
 * fr_store_backend_name() lists the backends built in.
 *
 * Tenancy. Every per-client call takes the client id, and every query of
 * per-client rows filters by it: a subject or face of another client is
 * reported exactly like one that does not exist (-FR_E_SUBJECT_NOT_FOUND,
 * -FR_E_NOT_FOUND), so ids leak nothing.
 *
 * Durability. A call that returned 0 has been committed and synced
 * (SQLite: WAL, synchronous=FULL; PostgreSQL: synchronous_commit=on, the
 * server's default): kill -9 or power loss after it cannot lose it. Multi-row changes (deleting a subject and its faces, a client and all of
 * its data) are one transaction.
 *
 * Transactions across calls. fr_store_tx_begin(st, &tx) opens a transaction
 * and returns its handle, tx: every store call takes tx in place of st, and
 * the calls made through tx are the transaction until fr_store_tx_commit(tx)
 * or fr_store_tx_rollback(tx), which also free the handle. Calls on st itself
 * (from any thread) are not part of it: they read what was committed before,
 * and a change through st, or a second transaction, waits until tx ends
 * (fails with -FR_E_SERVICE_UNAVAILABLE after 5 s). SQLite: any change
 * waits (one writer at a time). PostgreSQL: transactions run side by side
 * and a change waits only for rows tx changed (lock_timeout 5 s); a call
 * also waits at most 5 s for a free connection of the pool, of which each
 * open transaction holds one. So keep a transaction
 * short, do slow work (decoding, embedding) before it, and inside it call the
 * store through tx only: a change through st from the thread that holds tx
 * would wait for itself. A handle may pass between threads, one at a time.
 * Enrolment with an Idempotency-Key is the case it exists for:
 *   fr_store *tx;
 *   if ((rc = fr_store_tx_begin(st, &tx)) < 0) return rc;
 *   if (fr_store_idem_get(tx, client, key, &prev) == 0) -> rollback, reply prev
 *   fr_store_face_add(tx, ...); build the response with the new id;
 *   fr_store_idem_put(tx, ...); fr_store_audit_append(tx, ...);
 *   rc < 0 ? fr_store_tx_rollback(tx) : (rc = fr_store_tx_commit(tx));
 * A retried request after a crash then finds all three rows or none. A call
 * that fails inside a transaction undoes only its own changes; the caller
 * decides whether to roll the rest back. Transactions nest:
 * fr_store_tx_begin(tx, &inner) opens a savepoint; while inner is open, tx
 * itself is refused (-FR_E_INVALID_ARGUMENT) except by fr_store_tx_rollback,
 * which ends inner first.
 *
 * Clock. Rows are stamped (created_at, updated_at, audit at) with the clock
 * of struct fr_store_opts, the wall clock unless a test sets its own.
 *
 * Conventions. Ids are positive int64 and never reused. Times are unix
 * milliseconds (UTC). Strings passed in are borrowed (copied by the store).
 * Rows returned are the caller's: free one with fr_store_<row>_free(&row)
 * (frees the fields, not the struct) and an array from a list call with
 * fr_store_<rows>_free(rows, n). Free helpers accept NULL. A failed call
 * leaves its outputs zeroed. Every call is thread-safe.
 *
 * Errors: -FR_E_INVALID_ARGUMENT for bad arguments; -FR_E_CONFLICT for a
 * uniqueness conflict, with the field as the error's structured detail
 * (fr_err_key() "field", fr_err_value() "external_id" / "key_prefix" /
 * "Idempotency-Key"; the API answers 409 with details.field), -FR_E_NOT_FOUND,
 * -FR_E_SUBJECT_NOT_FOUND, -FR_E_NOMEM, -FR_E_IO (disk, corruption),
 * -FR_E_SERVICE_UNAVAILABLE (database busy beyond the timeout; PostgreSQL:
 * unreachable, or the connection was lost, and the next call reconnects),
 * -FR_E_INTERNAL_ERROR. fr_err_detail() carries the database's own message. */
#ifndef FACEREC_STORE_H
#define FACEREC_STORE_H

#include "facerec/base.h"

typedef struct fr_store fr_store;

/* Limits the store enforces (the API may enforce tighter ones first). */
#define FR_STORE_NAME_MAX       256     /* bytes of a client or subject name, external_id */
#define FR_STORE_METADATA_MAX   65536   /* bytes of a subject's metadata JSON text */
#define FR_STORE_EMB_DIM_MAX    4096    /* floats in one embedding */
#define FR_STORE_LIST_MAX       1000    /* rows one list call returns at most */

/* ---- opening ---------------------------------------------------------- */

/* What a store is opened with; zeroed members take their default. */
struct fr_store_opts {
    int64_t (*now_ms)(void *ctx);   /* the clock rows are stamped with, unix ms; NULL: fr_now_ms */
    void *ctx;                      /* passed to now_ms */
};

/* Open the database url names (see "Backends" above) and bring its schema to
 * the latest version. sqlite: creates the folder with mode 0700 and
 * facerec.db with mode 0600 when absent. Fails with -FR_E_IO when the
 * database is unreadable or was written by a newer facerec. */
FR_API int fr_store_open(const char *url, fr_store **out);
FR_API int fr_store_open_opts(const char *url, const struct fr_store_opts *opts /* may be NULL */,
                              fr_store **out);
/* NULL: nothing. A transaction handle is rolled back (fr_store_tx_rollback).
 * Every transaction of st must have ended before st is closed. */
FR_API void fr_store_close(fr_store *st);
FR_API const char *fr_store_backend(const fr_store *st);  /* "sqlite", "postgresql" */
/* What /status shows of the database: its server's (or library's) version
 * and the connections in use of the pool. */
struct fr_store_info {
    char server_version[32];     /* "15.5", SQLite's "3.40.1" */
    int pool_size, pool_in_use;  /* connections */
};
FR_API int fr_store_info(fr_store *st, struct fr_store_info *out);
/* The backends built in, by the name their URLs start with: i < count. */
FR_API size_t fr_store_backend_count(void);
FR_API const char *fr_store_backend_name(size_t i);        /* NULL when i >= count */
FR_API int fr_store_ping(fr_store *st);                   /* 0 when the database answers */
FR_API int fr_store_schema_version(fr_store *st, int *version_out);
/* Full consistency check (SQLite: PRAGMA integrity_check; PostgreSQL: the
 * schema version and every stored embedding); -FR_E_IO with the first
 * problem in the detail. Reads the whole database: not for /health. */
FR_API int fr_store_check(fr_store *st);
/* Write a consistent, compacted copy of the database to path (must not
 * exist): SQLite a database file, PostgreSQL a pg_dump custom-format
 * archive (pg_restore reads it; pg_dump must be on PATH). Not through a
 * transaction handle. */
FR_API int fr_store_backup(fr_store *st, const char *path);

/* Replace the database url names with the copy fr_store_backup wrote to
 * path, then open it, bring its schema to the latest version and check it
 * (fr_store_check). Takes a URL, not a store: the database is replaced
 * under it. Restore is an offline operation: every process that has the
 * database open must be stopped first, and one that is still running is
 * refused (-FR_E_CONFLICT, field "database"): SQLite: any process with the
 * store open (each open holds a shared lock on the data folder, restore
 * takes it exclusively); PostgreSQL: any other session connected to the
 * database.
 *
 * Refusals, each before anything is changed:
 * - path is not a facerec backup of this backend (-FR_E_INVALID_ARGUMENT,
 *   field "file"): SQLite a database file with facerec's schema_version
 *   table, PostgreSQL a pg_dump custom-format archive holding one; a
 *   backup of the other backend says so; one written by a newer facerec
 *   (a higher schema version) is refused as well;
 * - the database holds data (a client, subject, face or audit row) and
 *   flags lacks FR_STORE_RESTORE_FORCE (-FR_E_CONFLICT, field "database").
 *
 * SQLite: the copy is written to a temporary file in the data folder,
 * synced, checked, and renamed over facerec.db (the old -wal and -shm go
 * first, after a checkpoint), so a crash leaves the old database or the
 * new one. PostgreSQL: pg_restore --clean --if-exists --no-owner
 * --single-transaction into the URL's database (pg_restore on PATH; the
 * connection's settings, password included, reach it in its environment,
 * never on its command line): all of the archive or nothing. Objects the
 * archive lacks (a table of a newer schema) are left in place. */
#define FR_STORE_RESTORE_FORCE 1u   /* replace a database that holds data */
FR_API int fr_store_restore(const char *url, const char *path, unsigned flags);

/* ---- transactions (see the overview) ------------------------------------ */
/* st: a store, or a transaction (then *tx_out is a savepoint within it). */
FR_API int fr_store_tx_begin(fr_store *st, fr_store **tx_out);
/* Both end the transaction and free tx. A commit that fails rolls back. */
FR_API int fr_store_tx_commit(fr_store *tx);
FR_API void fr_store_tx_rollback(fr_store *tx);           /* NULL or not a transaction: nothing */

/* ---- clients and the admin settings -------------------------------------- */

struct fr_store_client {
    int64_t id;
    char *name;
    char *key_prefix;            /* the API key's first FR_KEY_PREFIX_LEN chars; unique */
    char *key_hash;              /* SHA-256 of the whole key, lowercase hex */
    int64_t rate_limit_per_hour; /* requests; 0 = unlimited */
    int64_t rate_limit_per_day;  /* requests; 0 = unlimited */
    int disabled;                /* 1: every request is refused */
    int64_t created_at;
};

/* Fields left at their "keep" value are not changed. */
struct fr_store_client_update {
    const char *name;            /* NULL: keep */
    int64_t rate_limit_per_hour; /* < 0: keep */
    int64_t rate_limit_per_day;  /* < 0: keep */
    int disabled;                /* < 0: keep; 0 or 1 */
};
#define FR_STORE_CLIENT_UPDATE_KEEP { NULL, -1, -1, -1 }

FR_API int fr_store_client_create(fr_store *st, const char *name, const char *key_prefix,
                                  const char *key_hash, int64_t rate_limit_per_hour,
                                  int64_t rate_limit_per_day, int64_t *id_out);
FR_API int fr_store_client_get(fr_store *st, int64_t id, struct fr_store_client *out);
/* The client whose key starts with prefix; -FR_E_NOT_FOUND when none. The
 * caller then checks the whole key with fr_key_verify(key, out->key_hash) (facerec/keys.h). */
FR_API int fr_store_client_get_by_prefix(fr_store *st, const char *prefix,
                                         struct fr_store_client *out);
FR_API int fr_store_client_list(fr_store *st, struct fr_store_client **rows_out, size_t *n_out);
FR_API int fr_store_client_update(fr_store *st, int64_t id, const struct fr_store_client_update *u);
FR_API int fr_store_client_set_key(fr_store *st, int64_t id, const char *key_prefix,
                                   const char *key_hash);
/* Deletes the client and all of its rows (subjects, faces, sessions, webhooks,
 * usage, idempotency keys). Audit rows are kept: they are the admins' record. */
FR_API int fr_store_client_delete(fr_store *st, int64_t id);
FR_API void fr_store_client_free(struct fr_store_client *c);
FR_API void fr_store_clients_free(struct fr_store_client *rows, size_t n);

/* Settings for the service itself, e.g. FR_STORE_ADMIN_TOKEN_HASH. get gives
 * -FR_E_NOT_FOUND when unset; *v_out is fr_free'd by the caller. */
#define FR_STORE_ADMIN_TOKEN_HASH "admin_token_hash"
FR_API int fr_store_admin_get(fr_store *st, const char *key, char **v_out);
FR_API int fr_store_admin_set(fr_store *st, const char *key, const char *value);

/* ---- subjects ------------------------------------------------------------ */

struct fr_store_subject {
    int64_t id;                  /* 0 in fr_store_subject_get_many: not found */
    int64_t client_id;
    char *external_id;           /* NULL when none; unique per client */
    char *name;
    char *metadata;              /* JSON text as given, NULL when none */
    int64_t n_faces;
    int64_t created_at;
    int64_t updated_at;
};

/* NULL keeps a field; "" clears external_id or metadata (name cannot be empty). */
struct fr_store_subject_update {
    const char *name;
    const char *external_id;
    const char *metadata;
};

/* external_id and metadata may be NULL. metadata is stored as given: the
 * caller has checked that it is JSON. */
FR_API int fr_store_subject_create(fr_store *st, int64_t client_id, const char *name,
                                   const char *external_id, const char *metadata,
                                   int64_t *id_out);
FR_API int fr_store_subject_get(fr_store *st, int64_t client_id, int64_t id,
                                struct fr_store_subject *out);
/* For identify results: out[i] is the subject ids[i] (out[i].id == 0 when it
 * is gone or foreign). n <= FR_STORE_LIST_MAX. out must hold n rows. */
FR_API int fr_store_subject_get_many(fr_store *st, int64_t client_id, const int64_t *ids,
                                     size_t n, struct fr_store_subject *out);
/* Up to limit subjects with id > after_id, by id. *next_out is the cursor
 * for the next page (the last id returned), 0 when there are no more. */
FR_API int fr_store_subject_list(fr_store *st, int64_t client_id, int limit, int64_t after_id,
                                 struct fr_store_subject **rows_out, size_t *n_out,
                                 int64_t *next_out);
FR_API int fr_store_subject_update(fr_store *st, int64_t client_id, int64_t id,
                                   const struct fr_store_subject_update *u);
/* Deletes the subject and its faces. face_ids_out (may be NULL) receives the
 * ids of the deleted faces, for the index to drop; fr_free it. */
FR_API int fr_store_subject_delete(fr_store *st, int64_t client_id, int64_t id,
                                   int64_t **face_ids_out, size_t *n_out);
FR_API int fr_store_subject_count(fr_store *st, int64_t client_id, int64_t *n_out);
/* The id of the client's subject with this external_id; SUBJECT_NOT_FOUND. */
FR_API int fr_store_subject_find_external(fr_store *st, int64_t client_id, const char *external_id, int64_t *id_out);
FR_API void fr_store_subject_free(struct fr_store_subject *s);
FR_API void fr_store_subjects_free(struct fr_store_subject *rows, size_t n);

/* ---- faces --------------------------------------------------------------- */

struct fr_store_face_new {
    int64_t client_id;
    int64_t subject_id;          /* must be a subject of client_id */
    const float *embedding;      /* dim floats */
    int32_t dim;
    const char *model_id;        /* the model that made the embedding */
    float quality;               /* [0, 1] */
    float liveness;              /* [0, 1]; negative: not measured */
    float bbox[4];               /* x, y, w, h in pixels of the upright photo */
    const char *image_sha256;    /* hex of the photo, may be NULL */
    const uint8_t *image;        /* the photo, kept only when not NULL */
    size_t image_len;
};

struct fr_store_face {
    int64_t id;
    int64_t client_id;
    int64_t subject_id;
    float *embedding;            /* dim floats, fr_malloc'd */
    int32_t dim;
    char *model_id;
    float quality;
    float liveness;              /* negative: not measured */
    float bbox[4];
    char *image_sha256;          /* NULL when not given */
    int has_image;               /* the photo is stored: fr_store_face_image_get */
    int64_t created_at;
};

/* What foreach hands out; the pointers are valid only during the callback. */
struct fr_store_face_ref {
    int64_t client_id;
    int64_t id;
    int64_t subject_id;
    const float *embedding;
    int32_t dim;
};
/* Return 0 to go on; anything else stops the walk and is returned by it. */
typedef int (*fr_store_face_fn)(void *ctx, const struct fr_store_face_ref *f);

/* Index consistency: with ids never reused, (count, max_id, id_sum) changes
 * with every add and delete, so a snapshot tagged with them is known stale. */
struct fr_store_face_stats {
    int64_t count;
    int64_t max_id;
    int64_t id_sum;
};

/* -FR_E_SUBJECT_NOT_FOUND when the subject is not the client's. */
FR_API int fr_store_face_add(fr_store *st, const struct fr_store_face_new *f, int64_t *id_out);
FR_API int fr_store_face_get(fr_store *st, int64_t client_id, int64_t id,
                             struct fr_store_face *out);
/* All faces of one subject by id, embeddings included (verify against a subject). */
FR_API int fr_store_face_list(fr_store *st, int64_t client_id, int64_t subject_id,
                              struct fr_store_face **rows_out, size_t *n_out);
/* The stored photo; -FR_E_NOT_FOUND when the face is absent or has none. */
FR_API int fr_store_face_image_get(fr_store *st, int64_t client_id, int64_t id,
                                   uint8_t **buf_out, size_t *len_out);
/* Faces with a stored photo whose embedding was made by another model than
 * model_id (to re-embed after a model change), by id after after_id, at most
 * limit (1..1000). *rows_out is fr_free'd by the caller. */
struct fr_store_face_key {
    int64_t client_id;
    int64_t id;
    int64_t subject_id;
};
FR_API int fr_store_face_stale(fr_store *st, const char *model_id, int64_t after_id, int limit,
                               struct fr_store_face_key **rows_out, size_t *n_out);
/* Retention: drop stored photos of faces created before before_ms. */
FR_API int fr_store_face_image_purge(fr_store *st, int64_t before_ms, int64_t *n_out);
/* -FR_E_NOT_FOUND when absent or foreign. *subject_out (may be NULL) gets its subject. */
FR_API int fr_store_face_delete(fr_store *st, int64_t client_id, int64_t id,
                                int64_t *subject_out);
/* client_id 0: all clients. */
FR_API int fr_store_face_count(fr_store *st, int64_t client_id, int64_t *n_out);
/* Every face made by model_id (NULL: every face), by id, across all clients:
 * for building the index at start. The store is held for the whole walk, so
 * fn must not call the store. */
FR_API int fr_store_faces_foreach(fr_store *st, const char *model_id, fr_store_face_fn fn,
                                  void *ctx);
FR_API int fr_store_face_stats(fr_store *st, const char *model_id,
                               struct fr_store_face_stats *out);
FR_API void fr_store_face_free(struct fr_store_face *f);
FR_API void fr_store_faces_free(struct fr_store_face *rows, size_t n);

/* ---- audit --------------------------------------------------------------- */

struct fr_store_audit {
    int64_t id;
    int64_t at;
    char *actor;                 /* "admin" or "client:<id>" */
    char *action;                /* "subject.create", "client.delete", ... */
    char *target;                /* "subject:12", may be NULL */
    char *request_id;            /* may be NULL */
    char *details;               /* JSON text, may be NULL */
};

FR_API int fr_store_audit_append(fr_store *st, const char *actor, const char *action,
                                 const char *target, const char *request_id,
                                 const char *details, int64_t *id_out /* may be NULL */);
/* Newest first: up to limit rows with id < before_id (0: from the newest).
 * *next_out is the cursor for the next page, 0 when there are no more. */
FR_API int fr_store_audit_list(fr_store *st, int limit, int64_t before_id,
                               struct fr_store_audit **rows_out, size_t *n_out,
                               int64_t *next_out);
FR_API void fr_store_audit_free(struct fr_store_audit *a);
FR_API void fr_store_audits_free(struct fr_store_audit *rows, size_t n);

/* ---- usage --------------------------------------------------------------- */

struct fr_store_usage {
    char day[11];                /* "YYYY-MM-DD" (UTC) */
    char *operation;             /* "identify", "enroll", ... */
    int64_t count;
};

FR_API int fr_store_usage_add(fr_store *st, int64_t client_id, const char *day,
                              const char *operation, int64_t n);
/* Rows with day >= from_day (NULL: all), by day then operation. */
FR_API int fr_store_usage_list(fr_store *st, int64_t client_id, const char *from_day,
                               struct fr_store_usage **rows_out, size_t *n_out);
FR_API void fr_store_usages_free(struct fr_store_usage *rows, size_t n);

/* ---- idempotency ------------------------------------------------------------ */

struct fr_store_idem {
    char *request_hash;          /* what the first request looked like: a retry with
                                  * the same key and another body is an error */
    int status;                  /* HTTP status of the first response */
    char *response;              /* its JSON body */
    int64_t created_at;
};

/* -FR_E_NOT_FOUND when the key is new for this client. */
FR_API int fr_store_idem_get(fr_store *st, int64_t client_id, const char *key,
                             struct fr_store_idem *out);
/* -FR_E_CONFLICT (field "Idempotency-Key") when it is not new. */
FR_API int fr_store_idem_put(fr_store *st, int64_t client_id, const char *key,
                             const char *request_hash, int status, const char *response);
/* Forget keys created before before_ms. */
FR_API int fr_store_idem_purge(fr_store *st, int64_t before_ms, int64_t *n_out);
FR_API void fr_store_idem_free(struct fr_store_idem *r);

/* ---- webhooks and the outbox ------------------------------------------------
 * An event is written with one pending delivery per enabled webhook of its
 * client that subscribes to its type, in the caller's transaction: the change
 * and its event commit together or not at all. The dispatcher claims due
 * deliveries with a lease (a claimed delivery is invisible to other claims
 * until the lease ends or it is finished), so a delivery whose sender died is
 * claimed again after its lease: at least once, never dropped. */

#define FR_STORE_EVENTS_MAX 1024  /* bytes of a webhook's event list */

struct fr_store_webhook {
    int64_t id;
    int64_t client_id;
    char *url;
    char *events;                /* "*" or a comma list: "face.enrolled,subject.created" */
    char *description;           /* NULL when none */
    int enabled;
    char *secret;                /* "whsec_...": the current signing secret */
    char *old_secret;            /* the previous one during a rotation, else NULL */
    int64_t old_secret_until;    /* unix ms; 0 when none */
    int64_t failing_since;       /* unix ms of the first failure of the current run; 0 healthy */
    char *disabled_reason;       /* why facerec disabled it ("gone", "failing"); NULL otherwise */
    int64_t created_at, updated_at;
};

/* Fields left at their "keep" value are not changed. Enabling clears
 * disabled_reason and failing_since. */
struct fr_store_webhook_update {
    const char *url;             /* NULL: keep */
    const char *events;          /* NULL: keep */
    const char *description;     /* NULL: keep; "": none */
    int enabled;                 /* < 0: keep */
};
#define FR_STORE_WEBHOOK_UPDATE_KEEP { NULL, NULL, NULL, -1 }

FR_API int fr_store_webhook_create(fr_store *st, int64_t client_id, const char *url, const char *events,
                                   const char *description, int enabled, const char *secret,
                                   int64_t *id_out);
FR_API int fr_store_webhook_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_webhook *out);
FR_API int fr_store_webhook_list(fr_store *st, int64_t client_id, struct fr_store_webhook **rows_out,
                                 size_t *n_out);
FR_API int fr_store_webhook_update(fr_store *st, int64_t client_id, int64_t id,
                                   const struct fr_store_webhook_update *u);
/* The current secret becomes the old one, valid until old_until (unix ms). */
FR_API int fr_store_webhook_rotate(fr_store *st, int64_t client_id, int64_t id, const char *new_secret,
                                   int64_t old_until);
/* The webhook and its deliveries. */
FR_API int fr_store_webhook_delete(fr_store *st, int64_t client_id, int64_t id);
/* After an attempt: ok clears failing_since; a failure sets it (when unset)
 * to at. The webhook is disabled with reason when reason is not NULL, or
 * ("failing") when it has been failing since before disable_before (> 0);
 * *disabled_out: 1 when this call disabled it; *client_out its client (0
 * after an ok of a webhook that was not failing: nothing was written).
 * -FR_E_NOT_FOUND for a failure of a webhook that is gone. */
FR_API int fr_store_webhook_health(fr_store *st, int64_t id, int ok, int64_t at, int64_t disable_before,
                                   const char *reason, int *disabled_out, int64_t *client_out);
FR_API void fr_store_webhook_free(struct fr_store_webhook *w);
FR_API void fr_store_webhooks_free(struct fr_store_webhook *rows, size_t n);
/* Enabled webhooks failing since before `since` (unix ms), all clients. */
FR_API int fr_store_webhook_failing_count(fr_store *st, int64_t since, int64_t *n_out);

struct fr_store_event_new {
    int64_t client_id;
    const char *id;              /* "evt_..." (unique) */
    const char *type;            /* "face.enrolled", ... */
    int opt_in;                  /* only webhooks naming the type get it, "*" does not */
    const char *body;            /* the whole JSON body to deliver */
    int64_t webhook_id;          /* > 0: to this webhook only (webhook.test, a session's callback),
                                    whatever it subscribes to */
    int64_t created_at;          /* unix ms the event happened (a camera frame's time); 0: now. The
                                    first attempt is due then, the retry schedule counts from it */
};
/* The event and its deliveries (due now); *n_out: how many (0: no webhook
 * wants it, and nothing is written). */
FR_API int fr_store_event_add(fr_store *st, const struct fr_store_event_new *e, int64_t *n_out);

enum fr_store_delivery_status {
    FR_DELIVERY_PENDING = 0,
    FR_DELIVERY_DELIVERED,
    FR_DELIVERY_FAILED
};

struct fr_store_delivery {
    int64_t id;
    int64_t webhook_id;
    int64_t client_id;
    char *event_id;
    char *event_type;
    int status;                  /* enum fr_store_delivery_status */
    int attempts;
    int last_status_code;        /* 0: none */
    char *last_error;            /* NULL: none */
    int64_t next_attempt_at;     /* unix ms; pending only (0 otherwise) */
    int64_t delivered_at;        /* 0: not delivered */
    int64_t created_at;
};

/* A claimed delivery: what the dispatcher needs to send it. */
struct fr_store_claim {
    int64_t id, webhook_id, client_id;
    char *url;
    char *secret, *old_secret;   /* old_secret: NULL unless a rotation is under way at the claim */
    char *event_id;
    char *body;
    int attempts;
    int64_t created_at;          /* the event's */
    int64_t session_id;          /* > 0: a camera session's callback (its endpoint belongs to the session) */
    char *policy;                /* the endpoint's own retry policy, "attempts;s0,s1,...;timeout_ms"; NULL: the default */
};

/* Up to max pending deliveries due at now, of enabled webhooks, oldest due
 * first, each leased to owner (a node's id, may be NULL) until now +
 * lease_ms; at most per_endpoint (> 0) of any one webhook, none of the
 * n_skip webhooks in skip (may be NULL). */
FR_API int fr_store_delivery_claim(fr_store *st, int64_t now, int64_t lease_ms, int max, int per_endpoint,
                                   const int64_t *skip, size_t n_skip, const char *owner,
                                   struct fr_store_claim **rows_out, size_t *n_out);
/* A node starting again after a crash: the leases it held end now (its
 * sends died with it), so those deliveries go out at once instead of after
 * their lease. *n_out: how many. */
FR_API int fr_store_delivery_release(fr_store *st, const char *owner, int64_t *n_out);
FR_API void fr_store_claims_free(struct fr_store_claim *rows, size_t n);
FR_API void fr_store_claims_free_one(struct fr_store_claim *c);

struct fr_store_delivery_done {
    int64_t id;
    int status;                  /* enum fr_store_delivery_status */
    int attempts;
    int last_status_code;
    const char *last_error;      /* NULL: none */
    int64_t next_attempt_at;     /* pending: when */
    int64_t delivered_at;        /* delivered: when */
};
/* The outcome of an attempt; the lease ends. -FR_E_NOT_FOUND when the
 * delivery is gone (its webhook was deleted meanwhile). */
FR_API int fr_store_delivery_finish(fr_store *st, const struct fr_store_delivery_done *d);
/* A webhook's deliveries, newest first; cursor: the id to continue below (0: the first page). */
FR_API int fr_store_delivery_list(fr_store *st, int64_t client_id, int64_t webhook_id, int limit,
                                  int64_t before_id, struct fr_store_delivery **rows_out, size_t *n_out,
                                  int64_t *next_out);
FR_API int fr_store_delivery_get(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id,
                                 struct fr_store_delivery *out);
/* Pending again, due at now (attempts kept). */
FR_API int fr_store_delivery_retry(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id,
                                   int64_t now);
/* Delivered rows older than before_ms, and the events left without deliveries. */
FR_API int fr_store_delivery_purge(fr_store *st, int64_t before_ms, int64_t *n_out);
/* Pending deliveries (of enabled webhooks) and the oldest one's event time (0: none). */
FR_API int fr_store_outbox_stats(fr_store *st, int64_t *pending_out, int64_t *oldest_out);
FR_API void fr_store_delivery_free(struct fr_store_delivery *d);
FR_API void fr_store_deliveries_free(struct fr_store_delivery *rows, size_t n);

/* ---- the index change log ----------------------------------------------------
 * Every face row added or deleted — an enrolment, a deletion, a subject's or
 * a client's deletion by cascade, a re-embedding — is a row of the change log,
 * written by the database itself in the same transaction (SQLite: triggers;
 * PostgreSQL: triggers that also NOTIFY), numbered by an increasing sequence.
 * Each node keeps its in-memory index in step by applying the log in order
 * from the last sequence it applied (at start: the head it read before it
 * built its index from the faces), so a missed wake-up delays a node, never
 * leaves it stale. Rows older than the retention are purged; a node that
 * fell behind the purge rebuilds its index from the faces. */

struct fr_store_change {
    int64_t seq;
    int deleted;                 /* 0: the face was added; 1: deleted */
    int64_t client_id, face_id, subject_id;
    char *model_id;
    float *embedding;            /* an addition whose face still exists: its embedding (dim floats); else NULL */
    int dim;
    int64_t at;                  /* unix ms */
};
/* The last sequence written (0: none). */
FR_API int fr_store_changes_head(fr_store *st, int64_t *seq_out);
/* Up to limit changes after after_seq, in order. */
FR_API int fr_store_changes_since(fr_store *st, int64_t after_seq, int limit, struct fr_store_change **rows_out,
                                  size_t *n_out);
/* Returns within timeout_ms: 1 when a change after after_seq may exist, 0
 * when none came (PostgreSQL: a NOTIFY wakes it at once; SQLite: polls the
 * head every 50 ms). */
FR_API int fr_store_changes_wait(fr_store *st, int64_t after_seq, int timeout_ms);
/* Deletes the changes older than before_ms; *purged_through_out: the highest
 * sequence ever purged (a node whose last applied sequence is below it
 * missed changes and must rebuild). */
FR_API int fr_store_changes_purge(fr_store *st, int64_t before_ms, int64_t *n_out, int64_t *purged_through_out);
FR_API int fr_store_changes_purged_through(fr_store *st, int64_t *seq_out);
FR_API void fr_store_changes_free(struct fr_store_change *rows, size_t n);

/* ---- cameras and camera sessions ---------------------------------------------
 * A session's callback URL is an endpoint of the outbox like a webhook (a
 * webhooks row that belongs to the session: never listed, updated or fanned
 * out to as a webhook; events reach it only by its id), so callbacks are
 * deliveries with the claims, leases and outcomes of webhooks, and the
 * endpoint's own retry policy. Recognitions are rows; the subjects a session
 * reported are read back from them when it resumes. */

#define FR_STORE_URL_MAX 2048
#define FR_STORE_SESSION_CAMERAS_MAX 64

struct fr_store_camera {
    int64_t id, client_id;
    char *name;
    char *url;                   /* with its credentials: never shown */
    int transport;               /* 0 tcp, 1 udp */
    int64_t created_at, updated_at;
};
FR_API int fr_store_camera_create(fr_store *st, int64_t client_id, const char *name, const char *url, int transport,
                                  int64_t *id_out);
FR_API int fr_store_camera_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_camera *out);
FR_API int fr_store_camera_list(fr_store *st, int64_t client_id, struct fr_store_camera **rows_out, size_t *n_out);
/* NULL / transport < 0: keep. */
FR_API int fr_store_camera_update(fr_store *st, int64_t client_id, int64_t id, const char *name, const char *url,
                                  int transport);
FR_API int fr_store_camera_delete(fr_store *st, int64_t client_id, int64_t id);
FR_API void fr_store_camera_free(struct fr_store_camera *c);
FR_API void fr_store_cameras_free(struct fr_store_camera *rows, size_t n);

/* One camera of a session, as the session was started with it. */
struct fr_store_session_camera {
    char *key;                   /* the client's id for it ("front"), or the registered camera's id */
    char *name;
    char *url;
    int transport;
    int64_t camera_id;           /* the registered camera it came from; 0: given inline */
};

/* What a session runs with: set at creation, never changed. */
struct fr_store_session_settings {
    int mode;                    /* 0 first_seen, 1 every */
    int64_t cooldown_ms;
    double fps;
    double threshold;            /* < 0: the collection's FPIR threshold */
    int min_face_px;
    double min_quality;
    int liveness, report_unknown, snapshot;
    char *roster;                /* subject ids "1,2,3"; NULL: everyone */
    int max_failures;            /* auto-stop: consecutive failed callback attempts (0: never) */
    int64_t max_failure_ms;      /* auto-stop: time without a delivered callback (0: never) */
    char *callback_url;
    char *policy;                /* the callbacks' "attempts;s0,s1,...;timeout_ms" */
    int64_t ends_at;             /* unix ms; 0: no end */
};

/* Counters the runner writes as it goes (absolute values). */
struct fr_store_session_stats {
    int64_t frames_read, frames_analysed, faces_seen, recognitions, callback_failures;
};

struct fr_store_session {
    int64_t id, client_id;
    char *uid;                   /* "ses_...": the session_id callbacks carry */
    char *slot_id;
    int running;
    char *reason;                /* why it stopped: "STOPPED_BY_CLIENT", "ENDED", ...; NULL while running */
    struct fr_store_session_settings set;
    struct fr_store_session_camera *cameras;
    int n_cameras;
    int64_t hook_id;             /* its callback endpoint */
    char *node;                  /* the node running it (NULL: none yet) */
    int64_t epoch;               /* bumped each time a node takes it (fencing) */
    int64_t created_at, updated_at, stopped_at;
    struct fr_store_session_stats stats;
};

struct fr_store_session_new {
    int64_t client_id;
    const char *uid, *slot_id;
    const struct fr_store_session_settings *set;
    const struct fr_store_session_camera *cameras;
    int n_cameras;               /* 1..FR_STORE_SESSION_CAMERAS_MAX */
    const char *callback_secret; /* NULL: callbacks unsigned */
    const char *node;
};
/* The session, its cameras and its callback endpoint. -FR_E_CONFLICT (field
 * "slot_id") when the client has a running session for the slot. */
FR_API int fr_store_session_create(fr_store *st, const struct fr_store_session_new *n, int64_t *id_out,
                                   int64_t *hook_out);
/* The running session of the slot, else its latest one; NOT_FOUND. */
FR_API int fr_store_session_get(fr_store *st, int64_t client_id, const char *slot_id, struct fr_store_session *out);
/* By id, any client (the runner's). */
FR_API int fr_store_session_get_id(fr_store *st, int64_t id, struct fr_store_session *out);
/* Newest first; running: only the running ones. */
FR_API int fr_store_session_list(fr_store *st, int64_t client_id, int running, int limit, int64_t before_id,
                                 struct fr_store_session **rows_out, size_t *n_out, int64_t *next_out);
/* Running sessions of every client, oldest first (a node resuming). */
FR_API int fr_store_session_running(fr_store *st, struct fr_store_session **rows_out, size_t *n_out);
/* A node takes a running session: node set, epoch + 1 (*epoch_out). */
FR_API int fr_store_session_take(fr_store *st, int64_t id, const char *node, int64_t *epoch_out);
/* Stops a running session; SESSION_NOT_FOUND when it was not running. The
 * session calls below answer SESSION_NOT_FOUND for an id that is not there. */
FR_API int fr_store_session_stop(fr_store *st, int64_t id, const char *reason, int64_t at);
FR_API int fr_store_session_progress(fr_store *st, int64_t id, const struct fr_store_session_stats *s);
FR_API void fr_store_session_free(struct fr_store_session *s);
FR_API void fr_store_sessions_free(struct fr_store_session *rows, size_t n);

struct fr_store_recognition {
    int64_t id, client_id, session_id;
    int kind;                    /* 0 a subject, 1 an unknown face */
    int64_t subject_id;          /* 0 for unknown */
    char *camera;                /* the session camera's key */
    float similarity, quality;
    float box[4];
    int64_t seen_at;             /* unix ms of the frame */
    char *event_id;              /* the callback's event */
};
FR_API int fr_store_recognition_add(fr_store *st, const struct fr_store_recognition *r, int64_t *id_out);
/* Oldest first, ids above after_id; *next_out: the last id when more may follow, else 0. */
FR_API int fr_store_recognition_list(fr_store *st, int64_t client_id, int64_t session_id, int limit,
                                     int64_t after_id, struct fr_store_recognition **rows_out, size_t *n_out,
                                     int64_t *next_out);
/* The subjects the session reported and the last time of each, by subject id. */
FR_API int fr_store_session_reported(fr_store *st, int64_t session_id, int64_t **subjects_out, int64_t **at_out,
                                     size_t *n_out);
FR_API void fr_store_recognitions_free(struct fr_store_recognition *rows, size_t n);

#endif
