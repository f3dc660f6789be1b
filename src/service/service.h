/* The application logic shared by the HTTP API and the CLI: enrol, identify,
 * verify, detect, embeddings; clients, subjects, faces, audit, usage; the
 * first start's credentials; and the service's state (store, index,
 * models), which no caller sees (struct fr_service is opaque).
 *
 * Results are structs, errors are -FR_E_x with fr_err_detail() and, where a
 * client can act on it, one structured detail (fr_err_key() / fr_err_value():
 * "field", "photo"). What a failed operation measured (the quality of a face
 * refused for enrolment, the number of faces found) stays in its result
 * struct for the caller to report. Nothing here knows JSON or HTTP:
 * src/api/render.c turns results into the API's shapes, for the API and for
 * the CLI alike.
 *
 * Start-up: the store opens first (a failure is fatal), then the models (a
 * failure is recorded, and the service runs without recognition: readiness
 * and the recognition routes say which model), then the index: snapshots
 * from data_dir/index are loaded and each collection's digest is compared
 * with the database's faces; any collection that differs (or a missing or
 * bad snapshot) is rebuilt from the database. The database is the record;
 * the index is derived. Snapshots are written at a clean stop. */
#ifndef FR_SERVICE_H
#define FR_SERVICE_H

#include "facerec/face.h"
#include "facerec/keys.h"
#include "jobs/outbox.h"

#include <stddef.h>
#include <stdint.h>

struct fr_service;

#define FR_SVC_LIST_MAX 1000        /* rows one list call returns at most */
#define FR_SVC_NAME_MAX 256         /* bytes of a client or subject name, external_id */

/* What fr_service_open brings up. */
enum {
    FR_SVC_STORE = 1,               /* the database (clients, subjects, faces, audit) */
    FR_SVC_MODELS = 2,              /* the face models and worker contexts */
    FR_SVC_INDEX = 4,               /* the in-memory index (needs STORE and MODELS) */
    FR_SVC_ALL = 7
};

struct fr_svc_config {
    int parts;                      /* FR_SVC_* (0: FR_SVC_ALL) */
    const char *data_dir;
    const char *database_url;       /* the store (facerec/store.h); NULL: sqlite:<data_dir> */
    const char *models_dir;
    size_t max_upload_bytes;
    int64_t max_pixels;
    int threads;                    /* worker contexts */
    float match_threshold;          /* cosine; verify, and the floor of identify's threshold */
    double identify_fpir;           /* identify: target FPIR (0: FR_OPENSET_DEFAULT_FPIR) */
    float identify_margin;          /* identify: ambiguity margin (< 0: none) */
    float quality_threshold;        /* enrolment: minimum quality score */
    float liveness_threshold;
    int require_liveness;           /* enrolment always checks liveness */
    int store_photos;
    int max_faces;                  /* identify default */
    int top_k;                      /* identify default */
    const char *index_kind;         /* every collection's index kind (NULL: "exact") */
    const char *node_id;            /* this node's name (the leases it holds); NULL: the host name */
    int webhook_allow_private;      /* webhooks may point at private addresses (FACEREC_WEBHOOK_ALLOW_PRIVATE) */
    int webhook_disable_after_hours;/* a webhook failing this long is disabled (0: never) */
    int webhook_retention_days;     /* delivered deliveries kept this long (0: forever) */
    int camera_timeout_ms;          /* FACEREC_CAMERA_TIMEOUT_MS (0: 5000) */
    int camera_reconnect_attempts;  /* FACEREC_CAMERA_RECONNECT_ATTEMPTS (< 0: none) */
    int camera_reconnect_delay_ms;  /* FACEREC_CAMERA_RECONNECT_DELAY_MS */
    int camera_allow_files;         /* FACEREC_CAMERA_ALLOW_FILES */
    int max_sessions;               /* FACEREC_MAX_SESSIONS: running sessions on this node */
    int max_cameras_per_session;    /* FACEREC_MAX_CAMERAS_PER_SESSION (0: 16) */
    int64_t default_rate_per_hour;  /* a new client's limits when none are given */
    int64_t default_rate_per_day;
};

FR_API int fr_service_open(const struct fr_svc_config *cfg, struct fr_service **out);
/* Saves the index snapshots and frees everything. */
FR_API void fr_service_close(struct fr_service *s);
/* Rebuild the index collections of every client from the database, where the
 * snapshot differs. */
FR_API int fr_service_index_sync(struct fr_service *s, int *rebuilt_out);
FR_API const struct fr_svc_config *fr_svc_config_of(const struct fr_service *s);
/* This node's name (leases, the registry): cfg.node_id, else the host name. */
FR_API const char *fr_svc_node_id(const struct fr_service *s);
/* The recognition model's id (embeddings are comparable only within one); NULL without models. */
FR_API const char *fr_svc_model_id(const struct fr_service *s);
/* 1 when recognition can run; else 0 with the reason in why (may be NULL). */
FR_API int fr_svc_models_ready(const struct fr_service *s, const char **why);

/* ---- status ---- */

#define FR_SVC_MAX_MISSING 9
struct fr_svc_status {
    int recognition;                        /* detect + landmarks + embedding models loaded */
    const char *models_error;               /* why not ("" when it can) */
    const char *model_id;                   /* NULL without models */
    const char *missing[FR_SVC_MAX_MISSING];/* every model absent or refused ("fr_detect", ...) */
    int n_missing;
    int liveness, attributes;               /* the optional models */
    int has_store, database_ok;
    const char *database_backend;           /* "sqlite", "postgresql" */
    char database_version[32];              /* the server's version ("" when unknown) */
    int database_pool_size, database_pool_in_use;
    int64_t faces;                          /* faces in the database; -1 when not counted */
    int has_index, index_ok;
    const char *index_kind;
    int64_t index_faces;
    int64_t webhooks_pending;               /* deliveries waiting */
    double webhooks_oldest_s;               /* the oldest waiting one's age, s (0: none) */
    int64_t webhooks_failing;               /* enabled webhooks failing for over an hour */
    int threads;
    double uptime_s;
};
/* count: also count the database's faces (one query). */
FR_API void fr_svc_status(struct fr_service *s, int count, struct fr_svc_status *out);
/* Bring the service's gauges up to date before a scrape (its counters and
 * histograms are kept as it works): facerec_gallery_faces,
 * facerec_embedding_quality, facerec_identify_decisions_total. */
FR_API void fr_svc_metrics_update(struct fr_service *s);

/* ---- who acts: every change writes an audit row naming them ---- */

struct fr_svc_actor {
    int64_t client_id;              /* > 0: that client; 0: the admin */
    const char *name;               /* NULL: "client:<id>" or "admin"; else e.g. "admin:cli" */
    const char *request_id;         /* may be NULL */
};

/* ---- credentials: one place makes and checks keys ---- */

/* What the first start made; each secret is shown once. */
struct fr_svc_bootstrap {
    char admin_token[FR_KEY_LEN + 1];   /* "" when the token came from the configuration or was made before */
    int64_t first_client_id;            /* 0 when not the first start */
    char first_api_key[FR_KEY_LEN + 1];
};
/* The admin token: admin_token (from the configuration) when not empty, else
 * the stored one, else a new one. The first start also makes a client
 * "default" with the default limits. */
FR_API int fr_svc_bootstrap(struct fr_service *s, const char *admin_token, struct fr_svc_bootstrap *out);
/* 0 when token is the admin token; UNAUTHORIZED otherwise. */
FR_API int fr_svc_auth_admin(struct fr_service *s, const char *token);

struct fr_svc_client {
    int64_t id;
    char *name;
    char key_prefix[FR_KEY_PREFIX_LEN + 1];
    int64_t rate_limit_per_hour;    /* 0: unlimited */
    int64_t rate_limit_per_day;
    int disabled;
    int64_t created_at;             /* unix ms */
    int64_t subjects, faces;        /* -1: not counted */
    char api_key[FR_KEY_LEN + 1];   /* after create and rotate only (shown once); else "" */
};
FR_API void fr_svc_client_free(struct fr_svc_client *c);
FR_API void fr_svc_clients_free(struct fr_svc_client *v, size_t n);

/* The enabled client whose key this is; UNAUTHORIZED (missing, invalid,
 * disabled) otherwise. */
FR_API int fr_svc_auth_client(struct fr_service *s, const char *api_key, struct fr_svc_client *out);

struct fr_svc_client_update {
    const char *name;               /* NULL: keep */
    int64_t rate_limit_per_hour;    /* < 0: keep */
    int64_t rate_limit_per_day;     /* < 0: keep */
    int disabled;                   /* < 0: keep */
};
#define FR_SVC_CLIENT_UPDATE_KEEP { NULL, -1, -1, -1 }

/* rate limits < 0: the configured defaults. */
FR_API int fr_svc_client_create(struct fr_service *s, const struct fr_svc_actor *who, const char *name,
                                int64_t per_hour, int64_t per_day, struct fr_svc_client *out);
FR_API int fr_svc_client_list(struct fr_service *s, struct fr_svc_client **rows, size_t *n);
/* With its subject and face counts. NOT_FOUND "client N not found". */
FR_API int fr_svc_client_get(struct fr_service *s, int64_t id, struct fr_svc_client *out);
FR_API int fr_svc_client_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                                const struct fr_svc_client_update *u, struct fr_svc_client *out);
FR_API int fr_svc_client_rotate_key(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                                    struct fr_svc_client *out);
/* The client and all of its data, store and index. */
FR_API int fr_svc_client_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id);

/* ---- audit, usage, housekeeping ---- */

struct fr_svc_audit {
    int64_t id, at;                 /* at: unix ms */
    char *actor, *action, *target, *request_id;   /* target, request_id may be NULL */
    char *details;                  /* JSON text or NULL */
};
FR_API void fr_svc_audits_free(struct fr_svc_audit *v, size_t n);
/* Newest first; *next: the cursor of the next page, 0 at the end. */
FR_API int fr_svc_audit_list(struct fr_service *s, int limit, int64_t cursor, struct fr_svc_audit **rows, size_t *n,
                             int64_t *next);

/* Requests are counted in memory and written by fr_svc_usage_flush (every
 * few seconds, and before a listing): an fsync per request would cost more
 * than the request. op must outlive the service (a route's name). */
FR_API void fr_svc_usage_count(struct fr_service *s, int64_t client, const char *op);
FR_API void fr_svc_usage_flush(struct fr_service *s);
struct fr_svc_usage {
    char day[11];                   /* "YYYY-MM-DD", UTC */
    char *operation;
    int64_t count;
};
FR_API void fr_svc_usages_free(struct fr_svc_usage *v, size_t n);
/* The client's counts of the last `days` days (from_day out: the first). */
FR_API int fr_svc_usage_list(struct fr_service *s, int64_t client, int days, char from_day[11],
                             struct fr_svc_usage **rows, size_t *n);

/* Stored enrolment photos older than photo_days (0: none), Idempotency-Keys
 * older than a day and delivered webhook deliveries older than the
 * configured retention are deleted; the outputs say how many. */
FR_API int fr_svc_purge(struct fr_service *s, int photo_days, int64_t *photos, int64_t *keys, int64_t *deliveries);
/* A consistent copy of the database at path (which must not exist). */
FR_API int fr_svc_backup(struct fr_service *s, const struct fr_svc_actor *who, const char *path);
/* Replace the database cfg names with the backup at path (fr_store_restore:
 * offline, refused while another process has the database open, while it
 * holds data unless force, and for a file that is not a facerec backup of
 * its backend), then append the audit row "store.restore" to the restored
 * rows. Needs no open service: the database is replaced under it. */
FR_API int fr_svc_restore(const struct fr_svc_config *cfg, const struct fr_svc_actor *who, const char *path,
                          int force);

/* ---- subjects and their faces ---- */

struct fr_svc_subject {
    int64_t id;
    char *name;
    char *external_id;              /* may be NULL */
    char *metadata;                 /* JSON text or NULL */
    int64_t faces;
    int64_t created_at, updated_at; /* unix ms */
};
FR_API void fr_svc_subject_free(struct fr_svc_subject *v);
FR_API void fr_svc_subjects_free(struct fr_svc_subject *v, size_t n);

/* Create: name required. Update: NULL keeps a field; "" clears external_id
 * and metadata. external_id unique per client: CONFLICT, field external_id. */
struct fr_svc_subject_fields {
    const char *name, *external_id, *metadata;
};
FR_API int fr_svc_subject_create(struct fr_service *s, const struct fr_svc_actor *who,
                                 const struct fr_svc_subject_fields *f, struct fr_svc_subject *out);
FR_API int fr_svc_subject_list(struct fr_service *s, int64_t client, int limit, int64_t cursor,
                               struct fr_svc_subject **rows, size_t *n, int64_t *next);
FR_API int fr_svc_subject_get(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_subject *out);
FR_API int fr_svc_subject_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                                 const struct fr_svc_subject_fields *f, struct fr_svc_subject *out);
/* The subject and its faces, store and index. */
FR_API int fr_svc_subject_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id);

struct fr_svc_face_row {           /* an enrolled face as stored */
    int64_t id, subject_id;
    float box[4];                   /* x1, y1, x2, y2 in the enrolment photo */
    float quality;                  /* score */
    float liveness;                 /* < 0: not measured */
    char *model_id;
    int64_t created_at;
};
FR_API void fr_svc_face_rows_free(struct fr_svc_face_row *v, size_t n);
/* SUBJECT_NOT_FOUND when the subject is not the client's. */
FR_API int fr_svc_face_list(struct fr_service *s, int64_t client, int64_t subject, struct fr_svc_face_row **rows,
                            size_t *n);
FR_API int fr_svc_face_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t face_id);

/* ---- the face pipeline ---- */

/* Stage timings of one request, ms (for metrics). */
struct fr_svc_timing { double decode, detect, landmarks, embed, search; };

struct fr_svc_photo {
    const uint8_t *buf;
    size_t len;
    int whole_face;                 /* the photo IS one face (detect_faces=false): no detection, the whole
                                       image is the face's box, aligned by its landmarks */
};

/* One face as every route shows it, in the photo's pixels. */
struct fr_svc_face {
    struct fr_face f;               /* box, score, landmarks, embedding (f.has_emb) */
    struct fr_face_quality q;       /* with pose when the pose model ran (q.pose_measured) */
    float live;                     /* liveness score, when has_live */
    int has_live;
    struct fr_face_attributes a;    /* when has_attr */
    int has_attr;
};

/* detect and embeddings */
struct fr_svc_analyze_req {
    struct fr_svc_photo photo;
    int liveness;                   /* run the liveness model */
    int attributes;                 /* age, gender, expression, eyes */
    int small_faces;                /* tiled passes for faces down to ~20 px (slower) */
    int max_faces;                  /* 0: all */
};
struct fr_svc_faces {
    struct fr_svc_face *faces;      /* largest first */
    int n, faces_detected;
    int width, height;              /* the photo's */
    const char *model_id;           /* the embeddings' model */
};
FR_API void fr_svc_faces_free(struct fr_svc_faces *r);
FR_API int fr_svc_detect(struct fr_service *s, const struct fr_svc_analyze_req *r, struct fr_svc_timing *t,
                         struct fr_svc_faces *out);
FR_API int fr_svc_embeddings(struct fr_service *s, const struct fr_svc_analyze_req *r, struct fr_svc_timing *t,
                             struct fr_svc_faces *out);

/* enrol */
struct fr_svc_enroll_result;
/* An Idempotency-Key: a retry with the same key and request gets the first
 * answer without running the models again. The caller renders the answer
 * (render, called inside the enrolment's transaction, so the face and its
 * answer are stored together or not at all) and replays it. */
struct fr_svc_idempotency {
    const char *key;                /* NULL: none */
    const char *request_hash;       /* of what the key was sent with; another request → CONFLICT */
    int (*render)(void *ctx, const struct fr_svc_enroll_result *r, char **text_out /* fr_malloc'd */);
    void *ctx;
};
struct fr_svc_enroll_req {
    struct fr_svc_actor who;        /* who.client_id: whose subject */
    int64_t subject_id;
    struct fr_svc_photo photo;
    int liveness;
    int select;                     /* FR_FACE_ALL: the photo must hold exactly one face (else
                                       MULTIPLE_FACES_DETECTED); FR_FACE_LARGEST / FR_FACE_CENTRAL:
                                       enrol that face of several */
    struct fr_svc_idempotency idem;
};
struct fr_svc_enroll_result {
    int status;                     /* 201; a replay: the first answer's */
    char *replay;                   /* a replay: the first answer's text (fr_free); then nothing else is set */
    int64_t face_id, subject_id, created_at;
    struct fr_svc_face face;        /* the face (also measured on LOW_QUALITY_FACE, SPOOF_DETECTED) */
    int faces;                      /* faces in the photo (MULTIPLE_FACES_DETECTED: how many) */
    int faces_detected;
    const char *selected;           /* "only", "largest", "central" */
    const char *model_id;
};
FR_API void fr_svc_enroll_result_free(struct fr_svc_enroll_result *r);
/* The request's hash for its Idempotency-Key: the photo, the subject, the selection. */
FR_API int fr_svc_enroll_hash(const struct fr_svc_enroll_req *r, char out[65]);
FR_API int fr_svc_enroll(struct fr_service *s, const struct fr_svc_enroll_req *r, struct fr_svc_timing *t,
                         struct fr_svc_enroll_result *out);

/* identify: the open-set decision of include/facerec/openset.h */
struct fr_svc_rule {
    float threshold;
    const char *source;             /* "request", "fpir", "verify_floor" (the FPIR's threshold was below the
                                       1:1 one), "fixed" (no impostor tail for this model) */
    double fpir;                    /* the target */
    float margin;                   /* ambiguity margin, 0: none */
    size_t gallery_size;            /* faces in the searched collection */
    const char *calibration;        /* "model" (the shipped tail), "collection" (self-calibrated), NULL */
    float shift;                    /* the collection's shift of the tail */
    size_t pairs;                   /* impostor pairs it was measured on */
    double predicted_fpir;          /* what the tail predicts at threshold; < 0 unknown */
};
struct fr_svc_identify_req {
    int64_t client_id;
    struct fr_svc_photo photo;      /* fr_svc_identify; fr_svc_identify_frame takes pixels instead */
    int top_k, max_faces, liveness; /* 0: the configured defaults */
    float threshold;                /* >= 0: this threshold; < 0: the one the target FPIR gives for the
                                       collection's size */
    double fpir;                    /* > 0: this target FPIR instead of the configured one */
    int allow_low_quality;          /* decide faces with a quality reason too (else "low_quality") */
    int min_face_px;                /* frames: faces narrower than this are skipped (0: none) */
};
struct fr_svc_candidate {
    int64_t subject_id;
    char *external_id;              /* may be NULL */
    char *name;
    float similarity;
    int passes;                     /* similarity >= the threshold */
};
struct fr_svc_identified {
    struct fr_svc_face face;
    struct fr_svc_candidate *cands; /* best first, at most top_k */
    int n_cands;
    int decision;                   /* FR_DECISION_* (include/facerec/openset.h) */
    int match;                      /* index in cands of the matched subject; -1 unless decision is match */
};
struct fr_svc_identify_result {
    struct fr_svc_identified *faces;
    int n, faces_detected;
    struct fr_svc_rule rule;
    int quality_gate;               /* faces with a quality reason were not decided (!allow_low_quality) */
    const char *model_id;
};
FR_API void fr_svc_identify_result_free(struct fr_svc_identify_result *r);
FR_API int fr_svc_identify(struct fr_service *s, const struct fr_svc_identify_req *r, struct fr_svc_timing *t,
                           struct fr_svc_identify_result *out);
/* The same on decoded pixels (a camera's frame): no decoding, no padded
 * retry; faces narrower than r->min_face_px skipped. A frame without faces
 * is no error: out->n is 0. */
FR_API int fr_svc_identify_frame(struct fr_service *s, const struct fr_image *frame,
                                 const struct fr_svc_identify_req *r, struct fr_svc_timing *t,
                                 struct fr_svc_identify_result *out);

/* verify */
struct fr_svc_verify_req {
    int64_t client_id;
    struct fr_svc_photo a, b;       /* b.buf NULL: compare every face of a (up to max_faces) with
                                       subject_id's faces; else the largest face of a with b's */
    int64_t subject_id;
    float threshold;                /* < 0: the configured one */
};
struct fr_svc_verify_result {
    double similarity;
    float threshold;
    int match;
    int two_photos;
    float box_a[4], box_b[4];       /* two photos: each one's face; a subject: box_a is the best face */
    int faces_detected_a, faces_detected_b;
    int64_t subject_id;
    int faces_compared;             /* the subject's faces of the current model */
};
FR_API int fr_svc_verify(struct fr_service *s, const struct fr_svc_verify_req *r, struct fr_svc_timing *t,
                         struct fr_svc_verify_result *out);

/* ---- webhooks (Standard Webhooks 1.0) and their deliveries ---- */

/* The event types a webhook may subscribe to; opt_in ones only by name
 * (never by "*"). The table ends with a NULL name. */
struct fr_svc_event_type { const char *name; int opt_in; };
FR_API extern const struct fr_svc_event_type fr_svc_event_types[];
FR_API const struct fr_svc_event_type *fr_svc_event_type_find(const char *name);

#define FR_SVC_WEBHOOK_EVENTS_MAX 32
#define FR_SVC_ROTATION_MS (24LL * 3600 * 1000)   /* the old secret still signs for a day */

struct fr_svc_webhook {
    int64_t id;
    char *url;
    char *events;                   /* "*" or a comma list */
    char *description;              /* may be NULL */
    int enabled;
    char *disabled_reason;          /* "gone" (410), "failing" (too long), NULL */
    int64_t failing_since;          /* unix ms, 0: healthy */
    int64_t old_secret_until;       /* unix ms while the previous secret still signs; 0 */
    int64_t created_at, updated_at;
    char *secret;                   /* after create and rotate-secret only (shown once); else NULL */
};
FR_API void fr_svc_webhook_free(struct fr_svc_webhook *w);
FR_API void fr_svc_webhooks_free(struct fr_svc_webhook *v, size_t n);

/* Create: url and events required. Update: NULL / n_events < 0 / enabled < 0 keep. */
struct fr_svc_webhook_fields {
    const char *url;
    const char *const *events;      /* names of fr_svc_event_types, or the one name "*" */
    int n_events;
    const char *description;        /* "" clears */
    int enabled;
};
/* VALIDATION_ERROR naming the field: a URL that is not http(s), has
 * credentials or points at a private address (unless allowed); an unknown
 * event name. */
/* The fields' own rules, without the database or DNS (the fuzz target's). */
FR_API int fr_svc_webhook_check(const struct fr_svc_webhook_fields *f, int create);
FR_API int fr_svc_webhook_create(struct fr_service *s, const struct fr_svc_actor *who,
                                 const struct fr_svc_webhook_fields *f, struct fr_svc_webhook *out);
FR_API int fr_svc_webhook_list(struct fr_service *s, int64_t client, struct fr_svc_webhook **rows, size_t *n);
FR_API int fr_svc_webhook_get(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_webhook *out);
FR_API int fr_svc_webhook_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                                 const struct fr_svc_webhook_fields *f, struct fr_svc_webhook *out);
FR_API int fr_svc_webhook_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id);
FR_API int fr_svc_webhook_rotate(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                                 struct fr_svc_webhook *out);
/* Queues a webhook.test event to that webhook only; event_id out. */
FR_API int fr_svc_webhook_test(struct fr_service *s, const struct fr_svc_actor *who, int64_t id, char event_id[40]);

struct fr_svc_delivery {
    int64_t id, webhook_id;
    char *event_id, *event_type;
    const char *status;             /* "pending", "delivered", "failed" */
    int attempts;
    int last_status_code;           /* 0: none */
    char *last_error;               /* NULL: none */
    int64_t next_attempt_at;        /* unix ms; 0 unless pending */
    int64_t delivered_at;           /* unix ms; 0 unless delivered */
    int64_t created_at;
};
FR_API void fr_svc_deliveries_free(struct fr_svc_delivery *v, size_t n);
FR_API int fr_svc_delivery_list(struct fr_service *s, int64_t client, int64_t webhook, int limit, int64_t cursor,
                                struct fr_svc_delivery **rows, size_t *n, int64_t *next);
/* Pending again, due now; the delivery as it then is. */
FR_API int fr_svc_delivery_retry(struct fr_service *s, const struct fr_svc_actor *who, int64_t webhook, int64_t id,
                                 struct fr_svc_delivery *out);

/* Start the dispatcher over this service's outbox (stopped by fr_service_close). */
FR_API int fr_svc_outbox_start(struct fr_service *s, const struct fr_outbox_opts *o);


/* ---- cameras and camera sessions (sessions.c, session_run.c) ----
 *
 * A session watches one or more cameras for a slot (a class, a shift): each
 * camera's sampled frames go through fr_svc_identify_frame, the tracker
 * (src/sessions/track.h) decides per person, and each report becomes a
 * recognition row and a callback (an outbox delivery to the session's
 * callback URL with the session's own retry policy, and a webhook event
 * session.recognition), written in one transaction. Status changes
 * (STARTED, CAMERA_DISCONNECTED, CAMERA_RECONNECTED, STOPPED) are callbacks
 * and session.status events too. Sessions are rows: fr_svc_sessions_start
 * resumes the running ones after a restart (STARTED with resumed true), the
 * subjects they reported kept; fr_service_close suspends them (no STOPPED). */

#define FR_SVC_SLOT_MAX 128            /* bytes of a slot_id, a camera key or name */

struct fr_svc_camera {
    int64_t id;
    char *name;
    char *url;                      /* the password replaced by "****" */
    int transport;                  /* 0 tcp, 1 udp */
    int64_t created_at, updated_at;
};
FR_API void fr_svc_camera_free(struct fr_svc_camera *c);
FR_API void fr_svc_cameras_free(struct fr_svc_camera *v, size_t n);
struct fr_svc_camera_fields {
    const char *name, *url;         /* update: NULL keeps */
    int transport;                  /* < 0: tcp on create, keep on update */
};
/* VALIDATION_ERROR naming the field: name, url (scheme rtsp, rtsps, http,
 * https; file only with FACEREC_CAMERA_ALLOW_FILES), transport. */
FR_API int fr_svc_camera_check(const struct fr_svc_config *cfg, const struct fr_svc_camera_fields *f, int create);
FR_API int fr_svc_camera_create(struct fr_service *s, const struct fr_svc_actor *who,
                                const struct fr_svc_camera_fields *f, struct fr_svc_camera *out);
FR_API int fr_svc_camera_list(struct fr_service *s, int64_t client, struct fr_svc_camera **rows, size_t *n);
FR_API int fr_svc_camera_get(struct fr_service *s, int64_t client, int64_t id, struct fr_svc_camera *out);
FR_API int fr_svc_camera_update(struct fr_service *s, const struct fr_svc_actor *who, int64_t id,
                                const struct fr_svc_camera_fields *f, struct fr_svc_camera *out);
FR_API int fr_svc_camera_delete(struct fr_service *s, const struct fr_svc_actor *who, int64_t id);

struct fr_svc_session_camera_req {
    const char *key;                /* the client's id for it ("front"); NULL with camera_id */
    const char *name;               /* may be NULL */
    const char *url;                /* NULL with camera_id */
    int transport;                  /* < 0: tcp (or the registered camera's) */
    int64_t camera_id;              /* > 0: a registered camera */
};

#define FR_SVC_SESSION_ROSTER_MAX 10000
#define FR_SVC_CALLBACK_ATTEMPTS_MAX 10

/* A session to start. Numbers < 0 (NaN for thresholds) take the defaults in brackets. */
struct fr_svc_session_req {
    struct fr_svc_actor who;
    const char *slot_id;            /* required, 1..128 bytes, no control characters */
    const struct fr_svc_session_camera_req *cameras;
    int n_cameras;                  /* 1..max_cameras_per_session */
    const char *callback_url;       /* required; the SSRF rules of webhooks */
    const char *callback_secret;    /* NULL: unsigned; else "whsec_" + base64 of 24..64 bytes */
    int mode;                       /* [0] 0 first_seen, 1 every */
    double cooldown_s;              /* [60] every mode */
    double fps;                     /* [5] 0.1..30 */
    double threshold;               /* [NaN: the collection's FPIR threshold] 0..1 */
    int min_face_px;                /* [40] */
    double min_quality;             /* [0.3] 0..1 */
    int liveness;                   /* [0] */
    const int64_t *roster_ids;      /* subject ids; with roster_external: NULL/0 both: everyone */
    int n_roster_ids;
    const char *const *roster_external;   /* subject external_ids */
    int n_roster_external;
    int report_unknown;             /* [0] */
    int snapshot;                   /* [1] a JPEG of the face in recognition callbacks */
    double duration_s;              /* [none] 1..7 days; or ends_at */
    int64_t ends_at;                /* unix ms (> 0), in the future, within 7 days */
    int max_failures;               /* [10] auto-stop after this many failed callback attempts in a row (0: never) */
    double max_failure_s;           /* [120] auto-stop after this long without a delivered callback (0: never) */
    int cb_attempts;                /* [3] 1..10 */
    const double *cb_backoff_s;     /* [1, 2, 4] waits after each failed attempt */
    int n_cb_backoff;
    double cb_timeout_s;            /* [10] one attempt, 0.1..60 */
};
/* The request's own rules (no database, no DNS): the fuzz target's. */
FR_API int fr_svc_session_check(const struct fr_svc_config *cfg, const struct fr_svc_session_req *r);

struct fr_svc_session_camera {
    char *key, *name;
    char *url;                      /* redacted */
    int transport;
    int64_t camera_id;              /* 0: given inline */
    const char *state;              /* "connecting", "connected", "reconnecting", "disconnected", "stopped" */
    int64_t frames_read, frames_analysed, reconnects;
};
struct fr_svc_session {
    int64_t id;
    char *session_id;               /* "ses_..." */
    char *slot_id;
    int running;
    char *reason;                   /* NULL while running */
    int mode;
    double cooldown_s, fps, threshold; /* threshold < 0: the collection's */
    int min_face_px;
    double min_quality;
    int liveness, report_unknown, snapshot;
    int64_t *roster;                /* NULL: everyone */
    int n_roster;
    char *callback_url;
    int max_failures;
    double max_failure_s;
    int cb_attempts;
    double cb_backoff_s[FR_SVC_CALLBACK_ATTEMPTS_MAX];
    double cb_timeout_s;
    struct fr_svc_session_camera *cameras;
    int n_cameras;
    int64_t frames_read, frames_analysed, faces_seen, recognitions, subjects_recognised, callback_failures;
    char *node;                     /* the node running it; NULL when none */
    int64_t created_at, ends_at, stopped_at;   /* unix ms; 0: none */
};
FR_API void fr_svc_session_free(struct fr_svc_session *v);
FR_API void fr_svc_sessions_free(struct fr_svc_session *v, size_t n);

/* 201: running. VALIDATION_ERROR (field), SESSION_ALREADY_EXISTS (the slot
 * has a running session), SUBJECT_NOT_FOUND (field "subjects"), NOT_FOUND
 * (a registered camera), SERVICE_UNAVAILABLE (FACEREC_MAX_SESSIONS reached;
 * no models), ALL_CAMERAS_FAILED (no camera could be opened: the session is
 * stopped, nothing was called back). Returns once each camera has connected
 * or failed its first attempt. */
FR_API int fr_svc_session_start(struct fr_service *s, const struct fr_svc_session_req *r,
                                struct fr_svc_session *out);
/* The slot's running session, else its latest; SESSION_NOT_FOUND. */
FR_API int fr_svc_session_get(struct fr_service *s, int64_t client, const char *slot_id, struct fr_svc_session *out);
FR_API int fr_svc_session_list(struct fr_service *s, int64_t client, int running_only, int limit, int64_t cursor,
                               struct fr_svc_session **rows, size_t *n, int64_t *next);
/* Stops the slot's running session (STOPPED, STOPPED_BY_CLIENT);
 * SESSION_NOT_FOUND when none runs; STOP_SESSION_FAILED when the row could
 * not be written. out: the session as stopped (may be NULL). */
FR_API int fr_svc_session_stop(struct fr_service *s, const struct fr_svc_actor *who, const char *slot_id,
                               struct fr_svc_session *out);

struct fr_svc_recognition {
    int64_t id;
    int unknown;                    /* an unknown face (report_unknown) */
    int64_t subject_id;             /* 0 for unknown */
    char *external_id, *name;       /* NULL when unknown or the subject was deleted since */
    char *camera;                   /* the session camera's key */
    float similarity, quality;
    float box[4];
    int64_t seen_at;
    char *event_id;
};
FR_API void fr_svc_recognitions_free(struct fr_svc_recognition *v, size_t n);
/* The recognitions of the slot's running (else latest) session, oldest first. */
FR_API int fr_svc_recognition_list(struct fr_service *s, int64_t client, const char *slot_id, int limit,
                                   int64_t cursor, struct fr_svc_recognition **rows, size_t *n, int64_t *next);

/* Resume the running sessions (serve, after the outbox started). redis
 * (several nodes; NULL: one) must outlive the service: each session is then
 * leased to one node (src/cluster/redis.h): this node resumes those it ran,
 * renews its leases, and takes over the sessions of nodes that died (their
 * leases expired, their registry cards gone) when it has the most free room;
 * a session another node took is suspended here. New sessions go to the live
 * node with the most free room. */
struct fr_redis;
FR_API int fr_svc_sessions_start(struct fr_service *s, struct fr_redis *redis);
struct fr_svc_sessions_status {
    int running, cameras_connected, cameras_total, max_sessions;
};
FR_API void fr_svc_sessions_status(struct fr_service *s, struct fr_svc_sessions_status *out);

/* After a model change: every face with a stored photo whose embedding came
 * from another model is embedded again by the current one (largest face of
 * the photo) and replaces the old row (same subject; one transaction each,
 * audited). A photo that no longer gives a face keeps its old row. */
struct fr_svc_reembed_stats { int64_t reembedded, failed; };
FR_API int fr_svc_reembed(struct fr_service *s, struct fr_svc_reembed_stats *st);

#endif
