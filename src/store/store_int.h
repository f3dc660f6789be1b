/* Storage internals: the table of functions a backend implements.
 *
 * The public fr_store_* functions (store.c) check their arguments, zero the
 * outputs and then call the backend through st->ops, so a backend sees only
 * well-formed requests and every backend gets the same checks. store.c also
 * holds the table of backends, by URL scheme: a new backend is one row there
 * and one struct fr_store_ops here. A backend embeds struct fr_store as the
 * first member of its store and of its transaction handles; the front fills
 * in the generic members. Every member is required unless its comment says
 * "optional"; an optional NULL member makes the public call return
 * -FR_E_INTERNAL_ERROR saying the backend lacks it.
 *
 * Every call but open, migrate and close may get a transaction handle
 * (st->parent != NULL) in place of the store; the backend then runs it on
 * the transaction's connection. */
#ifndef FR_STORE_INT_H
#define FR_STORE_INT_H

#include "facerec/store.h"

struct fr_store_ops {
    const char *name;                                   /* the URL scheme: "sqlite" */
    /* where: the URL after "<name>:", not empty. Allocates the store (zeroed
     * generic members; the front sets them) without touching the schema. */
    int (*open)(const char *where, fr_store **out);
    /* Bring the schema to the latest version: the backend's own numbered
     * migrations (SQLite: sqlite_schema.c). Runs after open, before any call. */
    int (*migrate)(fr_store *st);
    void (*close)(fr_store *st);
    int (*ping)(fr_store *st);
    int (*schema_version)(fr_store *st, int *version_out);
    int (*check)(fr_store *st);             /* optional: NULL when the database has no check */
    int (*backup)(fr_store *st, const char *path);  /* optional: NULL when it cannot copy itself */
    /* optional (NULL: no restore). where as for open; replace that database
     * with the backup at path (fr_store_restore's contract, up to the open
     * and check that the front does after it). force: FR_STORE_RESTORE_FORCE. */
    int (*restore)(const char *where, const char *path, int force);

    /* st is the store (begin a transaction) or a transaction (begin a
     * savepoint in it); *tx_out's generic members are the front's to fill. */
    int (*tx_begin)(fr_store *st, fr_store **tx_out);
    /* commit or roll back, then free tx; a failed commit rolls back. */
    int (*tx_end)(fr_store *tx, int commit);

    int (*client_create)(fr_store *st, const char *name, const char *key_prefix,
                         const char *key_hash, int64_t per_hour, int64_t per_day, int64_t *id_out);
    int (*client_get)(fr_store *st, int64_t id, struct fr_store_client *out);
    int (*client_get_by_prefix)(fr_store *st, const char *prefix, struct fr_store_client *out);
    int (*client_list)(fr_store *st, struct fr_store_client **rows_out, size_t *n_out);
    int (*client_update)(fr_store *st, int64_t id, const struct fr_store_client_update *u);
    int (*client_set_key)(fr_store *st, int64_t id, const char *prefix, const char *hash);
    int (*client_delete)(fr_store *st, int64_t id);
    int (*admin_get)(fr_store *st, const char *key, char **v_out);
    int (*admin_set)(fr_store *st, const char *key, const char *value);

    int (*subject_create)(fr_store *st, int64_t client_id, const char *name,
                          const char *external_id, const char *metadata, int64_t *id_out);
    int (*subject_get)(fr_store *st, int64_t client_id, int64_t id, struct fr_store_subject *out);
    int (*subject_get_many)(fr_store *st, int64_t client_id, const int64_t *ids, size_t n,
                            struct fr_store_subject *out);
    int (*subject_list)(fr_store *st, int64_t client_id, int limit, int64_t after_id,
                        struct fr_store_subject **rows_out, size_t *n_out, int64_t *next_out);
    int (*subject_update)(fr_store *st, int64_t client_id, int64_t id,
                          const struct fr_store_subject_update *u);
    int (*subject_delete)(fr_store *st, int64_t client_id, int64_t id,
                          int64_t **face_ids_out, size_t *n_out);
    int (*subject_count)(fr_store *st, int64_t client_id, int64_t *n_out);
    int (*subject_find_external)(fr_store *st, int64_t client_id, const char *external_id, int64_t *id_out);

    int (*face_add)(fr_store *st, const struct fr_store_face_new *f, int64_t *id_out);
    int (*face_get)(fr_store *st, int64_t client_id, int64_t id, struct fr_store_face *out);
    int (*face_list)(fr_store *st, int64_t client_id, int64_t subject_id,
                     struct fr_store_face **rows_out, size_t *n_out);
    int (*face_image_get)(fr_store *st, int64_t client_id, int64_t id, uint8_t **buf_out,
                          size_t *len_out);
    int (*face_image_purge)(fr_store *st, int64_t before_ms, int64_t *n_out);
    int (*face_stale)(fr_store *st, const char *model_id, int64_t after_id, int limit,
                      struct fr_store_face_key **rows_out, size_t *n_out);
    int (*face_delete)(fr_store *st, int64_t client_id, int64_t id, int64_t *subject_out);
    int (*face_count)(fr_store *st, int64_t client_id, int64_t *n_out);
    int (*faces_foreach)(fr_store *st, const char *model_id, fr_store_face_fn fn, void *ctx);
    int (*face_stats)(fr_store *st, const char *model_id, struct fr_store_face_stats *out);

    int (*audit_append)(fr_store *st, const char *actor, const char *action, const char *target,
                        const char *request_id, const char *details, int64_t *id_out);
    int (*audit_list)(fr_store *st, int limit, int64_t before_id,
                      struct fr_store_audit **rows_out, size_t *n_out, int64_t *next_out);

    int (*usage_add)(fr_store *st, int64_t client_id, const char *day, const char *operation,
                     int64_t n);
    int (*usage_list)(fr_store *st, int64_t client_id, const char *from_day,
                      struct fr_store_usage **rows_out, size_t *n_out);

    int (*idem_get)(fr_store *st, int64_t client_id, const char *key, struct fr_store_idem *out);
    int (*idem_put)(fr_store *st, int64_t client_id, const char *key, const char *request_hash,
                    int status, const char *response);
    int (*idem_purge)(fr_store *st, int64_t before_ms, int64_t *n_out);

    int (*webhook_create)(fr_store *st, int64_t client_id, const char *url, const char *events,
                          const char *description, int enabled, const char *secret, int64_t *id_out);
    int (*webhook_get)(fr_store *st, int64_t client_id, int64_t id, struct fr_store_webhook *out);
    int (*webhook_list)(fr_store *st, int64_t client_id, struct fr_store_webhook **rows_out, size_t *n_out);
    int (*webhook_update)(fr_store *st, int64_t client_id, int64_t id, const struct fr_store_webhook_update *u);
    int (*webhook_rotate)(fr_store *st, int64_t client_id, int64_t id, const char *new_secret, int64_t old_until);
    int (*webhook_delete)(fr_store *st, int64_t client_id, int64_t id);
    int (*webhook_health)(fr_store *st, int64_t id, int ok, int64_t at, int64_t disable_before,
                          const char *reason, int *disabled_out, int64_t *client_out);
    int (*webhook_failing_count)(fr_store *st, int64_t since, int64_t *n_out);
    int (*event_add)(fr_store *st, const struct fr_store_event_new *e, int64_t *n_out);
    int (*delivery_claim)(fr_store *st, int64_t now, int64_t lease_ms, int max, int per_endpoint,
                          const char *skip_json, const char *owner, struct fr_store_claim **rows_out, size_t *n_out);
    int (*delivery_release)(fr_store *st, const char *owner, int64_t *n_out);
    int (*delivery_finish)(fr_store *st, const struct fr_store_delivery_done *d);
    int (*delivery_list)(fr_store *st, int64_t client_id, int64_t webhook_id, int limit, int64_t before_id,
                         struct fr_store_delivery **rows_out, size_t *n_out, int64_t *next_out);
    int (*delivery_get)(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id,
                        struct fr_store_delivery *out);
    int (*delivery_retry)(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id, int64_t now);
    int (*delivery_purge)(fr_store *st, int64_t before_ms, int64_t *n_out);
    int (*outbox_stats)(fr_store *st, int64_t *pending_out, int64_t *oldest_out);

    int (*info)(fr_store *st, struct fr_store_info *out);   /* optional */
    int (*changes_head)(fr_store *st, int64_t *seq_out);
    int (*changes_since)(fr_store *st, int64_t after_seq, int limit, struct fr_store_change **rows_out,
                         size_t *n_out);
    int (*changes_wait)(fr_store *st, int64_t after_seq, int timeout_ms);
    int (*changes_purge)(fr_store *st, int64_t before_ms, int64_t *n_out, int64_t *purged_through_out);
    int (*changes_purged_through)(fr_store *st, int64_t *seq_out);
    int (*camera_create)(fr_store *st, int64_t client_id, const char *name, const char *url, int transport,
                         int64_t *id_out);
    int (*camera_get)(fr_store *st, int64_t client_id, int64_t id, struct fr_store_camera *out);
    int (*camera_list)(fr_store *st, int64_t client_id, struct fr_store_camera **rows_out, size_t *n_out);
    int (*camera_update)(fr_store *st, int64_t client_id, int64_t id, const char *name, const char *url,
                         int transport);
    int (*camera_delete)(fr_store *st, int64_t client_id, int64_t id);
    int (*session_create)(fr_store *st, const struct fr_store_session_new *n, int64_t *id_out, int64_t *hook_out);
    /* client_id 0: any client; slot_id NULL: by id */
    int (*session_get)(fr_store *st, int64_t client_id, const char *slot_id, int64_t id,
                       struct fr_store_session *out);
    /* client_id 0: every client */
    int (*session_list)(fr_store *st, int64_t client_id, int running, int limit, int64_t before_id,
                        struct fr_store_session **rows_out, size_t *n_out, int64_t *next_out);
    int (*session_take)(fr_store *st, int64_t id, const char *node, int64_t *epoch_out);
    int (*session_stop)(fr_store *st, int64_t id, const char *reason, int64_t at);
    int (*session_progress)(fr_store *st, int64_t id, const struct fr_store_session_stats *s);
    int (*recognition_add)(fr_store *st, const struct fr_store_recognition *r, int64_t *id_out);
    int (*recognition_list)(fr_store *st, int64_t client_id, int64_t session_id, int limit, int64_t after_id,
                            struct fr_store_recognition **rows_out, size_t *n_out, int64_t *next_out);
    int (*session_reported)(fr_store *st, int64_t session_id, int64_t **subjects_out, int64_t **at_out,
                            size_t *n_out);
};

struct fr_store {
    const struct fr_store_ops *ops;
    fr_store *parent;            /* NULL: a store; else what the transaction was begun on */
    fr_store *inner;             /* a transaction's open inner transaction, NULL when none */
    struct fr_store_opts opts;   /* now_ms is never NULL; a transaction has its store's */
};

/* The time to stamp rows with. */
static inline int64_t fr__store_now(const fr_store *st) { return st->opts.now_ms(st->opts.ctx); }

/* 0 when path is a backup that backend `want` ("sqlite", "postgresql")
 * restores, judged by its first bytes (a SQLite database file, a pg_dump
 * custom-format archive); else -FR_E_INVALID_ARGUMENT with the field "file"
 * saying what it is (the other backend's backup, or not a backup at all). */
int fr__store_need_backup(const char *path, const char *want);

/* The SQLite backend (store_sqlite.c). */
extern const struct fr_store_ops fr__store_sqlite_ops;
/* The PostgreSQL backend (store_pg.c), when built with libpq (FR_WITH_PG). */
extern const struct fr_store_ops fr__store_pg_ops;

#endif
