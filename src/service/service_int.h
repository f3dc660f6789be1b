/* Internals shared by the files of src/service: the service's state. */
#ifndef FR_SERVICE_INT_H
#define FR_SERVICE_INT_H

#include "service/service.h"

#include "facerec/index.h"
#include "facerec/openset.h"
#include "facerec/store.h"

#include "jobs/outbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* One worker's inference state; checked out per request. */
struct fr_svc_ctx {
    struct fr_face_ctx *face;
    struct fr_face_extra_ctx *extra;
    struct fr_face_attr_ctx *attr;
    struct fr_svc_ctx *next;
};

struct fr_svc_calib;
struct svc_usage;
struct svc_hooks;
struct fr_metric;

/* The service's metrics (registered once per process by fr_service_open). */
struct fr_svc_metrics {
    struct fr_metric *gallery_faces;        /* gauge     facerec_gallery_faces{client} */
    struct fr_metric *embedding_quality;    /* histogram facerec_embedding_quality */
    struct fr_metric *identify_decisions;   /* counter   facerec_identify_decisions_total{decision} */
    struct fr_metric *webhook_pending;      /* gauge     facerec_webhook_pending */
    struct fr_metric *webhook_oldest;       /* gauge     facerec_webhook_oldest_pending_seconds */
    struct fr_metric *active_sessions;      /* gauge     facerec_active_sessions */
    struct fr_metric *camera_frames;        /* counter   facerec_camera_frames_total{result} */
    struct fr_metric *camera_reconnects;    /* counter   facerec_camera_reconnects_total */
    struct fr_metric *callback_latency;     /* histogram facerec_session_callback_latency_seconds */
    struct fr_metric *callbacks;            /* counter   facerec_session_callbacks_total{result} */
};

struct fr_service {
    struct fr_svc_config cfg;
    fr_store *store;                        /* NULL without FR_SVC_STORE */
    fr_index_set *index;                    /* NULL without FR_SVC_INDEX */
    struct fr_face_models *models;          /* NULL when not loaded */
    struct fr_face_extra *extra;
    struct fr_face_attr_models *attr;
    char models_error[512];                 /* why recognition is unavailable, "" when it is */
    char missing[FR_SVC_MAX_MISSING][24];   /* every model file absent or refused ("fr_detect", ...) */
    int n_missing;
    char extra_error[256];                  /* why liveness and head pose are unavailable, "" when they are */
    char attr_error[256];                   /* the same for the attribute models; both path-free */
    const char *model_id;
    char admin_hash[FR_KEY_HASH_LEN + 1];   /* "" until fr_svc_bootstrap */
    pthread_mutex_t write_mu;               /* a store change and its index change, as one step */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    struct fr_svc_ctx *pool;                /* free contexts */
    int pool_made, pool_max;
    int index_ok;
    struct fr_svc_calib *calib;             /* identify thresholds per collection (calib.c) */
    pthread_mutex_t usage_mu;
    struct svc_usage *usage;                /* counts not yet written to the store */
    size_t n_usage, cap_usage;
    struct fr_svc_metrics m;
    pthread_mutex_t hooks_mu;
    struct svc_hooks *hooks;                /* per client: the enabled webhooks' subscriptions (events.c) */
    size_t n_hooks, cap_hooks;
    struct fr_outbox *outbox;               /* the dispatcher, when started (webhooks.c) */
    pthread_mutex_t outcomes_mu;
    struct fr_outbox_result *outcomes;      /* delivery outcomes not yet written (webhooks.c) */
    size_t n_outcomes, cap_outcomes;
    double outcomes_since;
    char node_id[128];                      /* this node's name in leases: cfg.node_id or host:port */
    atomic_int events_queued;               /* an event was written: wake the dispatcher after the commit */
    double started_ms;
    struct svc_sessions *sessions;          /* the camera sessions this node runs (session_run.c) */
    struct svc_cache *cache;                /* clients and subject names for when the database is away (cache.c) */
    /* the index follows the change log (follow.c) */
    int64_t log_seq;                        /* the last change applied (the follower's) */
    atomic_llong log_applied;               /* changes that added a row this node did not have */
    atomic_int follow_stop;
    pthread_t follower;
    int follower_started;
};

/* cache.c: what identification needs while the database cannot be read. */
struct svc_cache;
int fr__svc_cache_init(struct fr_service *s);
void fr__svc_cache_fini(struct fr_service *s);
int fr__svc_store_away(int rc);   /* 1: the database cannot be reached (not: the row is not there) */
void fr__svc_cache_client_put(struct fr_service *s, const struct fr_store_client *r);
int fr__svc_cache_client_get(struct fr_service *s, const char *prefix, struct fr_store_client *out);
void fr__svc_cache_subjects_put(struct fr_service *s, int64_t client, const struct fr_store_subject *v, size_t n);
int fr__svc_cache_subjects_get(struct fr_service *s, int64_t client, const int64_t *ids, size_t n,
                               struct fr_store_subject *out);

int fr__svc_follow_start(struct fr_service *s);
void fr__svc_follow_stop(struct fr_service *s);

/* ---- camera sessions (session_run.c) ---- */
struct svc_sessions;
struct svc_run;
int fr__svc_sessions_init(struct fr_service *s);
/* Suspends every running session (no callbacks) and frees. */
void fr__svc_sessions_fini(struct fr_service *s);
/* Start running row (taken over: freed by the runner) on this node. wait:
 * return once every camera connected or failed its first attempt, with
 * *connected_out how many connected (then 0 means the session was stopped
 * ALL_CAMERAS_FAILED without callbacks). resumed: a restart's (STARTED
 * says so). */
int fr__svc_run_start(struct fr_service *s, struct fr_store_session *row, int resumed, int wait, int leased,
                      int *connected_out);
/* Several nodes (Redis): take a session's lease for this node (0; CONFLICT
 * held elsewhere; SERVICE_UNAVAILABLE Redis down; 0 without Redis), and
 * where a new session should run (1: here; 0: node_out). */
int fr__svc_lease_take(struct fr_service *s, int64_t id);
int fr__svc_place(struct fr_service *s, char *node_out, size_t len);
/* Stop the session (reason: "STOPPED_BY_CLIENT", ...): the row, the
 * STOPPED callback and event in one transaction, then its runner (if this
 * node runs it) winds down. SESSION_NOT_FOUND when it was not running. */
int fr__svc_session_end(struct fr_service *s, int64_t id, const char *reason);
/* Live figures of a session this node runs (cameras' states, counters). */
void fr__svc_run_fill(struct fr_service *s, int64_t id, struct fr_svc_session *v);
/* A callback attempt's outcome (the dispatcher's thread): auto-stop, metrics. */
void fr__svc_session_outcome(struct fr_service *s, const struct fr_outbox_result *r);
/* "attempts;s0,s1,...;timeout_ms" ↔ an outbox policy. */
int fr__svc_policy_parse(const char *text, struct fr_outbox_policy *p);
/* A stored roster ("1,2,3") as ids (fr_free); NULL or "": *out NULL, *n_out 0. */
int fr__svc_roster_parse(const char *text, int64_t **out, int *n_out);

/* JSON text without jansson (events.c): a writer over open_memstream.
 *   struct fr__jw w; fr__jw_begin(&w); fr__jw_str(&w, "id", id);
 *   fr__jw_open(&w, "face", 0); ... fr__jw_close(&w); fr__jw_end(&w, &text);
 * A NULL key writes an array element. */
struct fr__jw {
    FILE *f;
    char *buf;
    size_t len;
    int depth;
    int first[8];
    char close[8];
};
int fr__jw_begin(struct fr__jw *w);
void fr__jw_str(struct fr__jw *w, const char *key, const char *v);      /* NULL: null */
void fr__jw_int(struct fr__jw *w, const char *key, int64_t v);
void fr__jw_num(struct fr__jw *w, const char *key, double v);
void fr__jw_bool(struct fr__jw *w, const char *key, int v);
void fr__jw_null(struct fr__jw *w, const char *key);
void fr__jw_raw(struct fr__jw *w, const char *key, const char *json);
void fr__jw_open(struct fr__jw *w, const char *key, int array);
void fr__jw_close(struct fr__jw *w);
int fr__jw_end(struct fr__jw *w, char **out);                           /* fr_free(*out) */
void fr__jw_abort(struct fr__jw *w);
/* {"id", "external_id", "name"} of a subject under key. */
void fr__jw_subject(struct fr__jw *w, const char *key, int64_t id, const char *external_id, const char *name);

/* Write event `type` with data (a JSON object's text) in tx (NULL: on its
 * own) when an enabled webhook of client wants it (webhook_id > 0: for that
 * webhook only); id_out (may be NULL): the event's id, "" when nobody wanted
 * it. Call fr__svc_events_committed after the commit. */
int fr__svc_emit(struct fr_service *s, fr_store *tx, int64_t client, const char *type, const char *data,
                 int64_t webhook_id, char id_out[40]);
void fr__svc_events_committed(struct fr_service *s);
/* prefix + 2·bytes hex digits of randomness (bytes 1..32); out holds them and the NUL. */
int fr__svc_random_id(const char *prefix, int bytes, char *out);
/* A session callback: body (the callback's JSON, sent as is) to the
 * session's endpoint hook, dated at (unix ms, 0: now), in tx. */
int fr__svc_callback(struct fr_service *s, fr_store *tx, int64_t client, int64_t hook, const char *type,
                     const char *body, int64_t at, char id_out[40]);
/* Drop the cached subscriptions of client (0: all) after its webhooks change. */
void fr__svc_hooks_forget(struct fr_service *s, int64_t client);
void fr__svc_hooks_free(struct fr_service *s);
/* Stop the dispatcher and write the outcomes it left (webhooks.c). */
void fr__svc_outbox_stop(struct fr_service *s);

/* A worker context from the pool (waits while all are busy);
 * SERVICE_UNAVAILABLE when the models are not loaded. */
int fr__svc_ctx_get(struct fr_service *s, struct fr_svc_ctx **out);
void fr__svc_ctx_put(struct fr_service *s, struct fr_svc_ctx *c);
/* The store's URL: cfg's database_url, else "sqlite:<data_dir>" written to buf. */
const char *fr__svc_store_url(const struct fr_svc_config *cfg, char *buf, size_t cap);
/* SERVICE_UNAVAILABLE when the service was opened without a database. */
int fr__svc_need_store(const struct fr_service *s);
/* An audit row; details: JSON text or NULL. A failure is logged and
 * returned (inside a transaction the caller rolls back; after a change that
 * is made, callers go on). */
int fr__svc_audit(struct fr_service *s, fr_store *st, const struct fr_svc_actor *who, const char *action,
                   const char *target_fmt, int64_t id, const char *details);

/* The rule for a search of client's collection: requested >= 0 wins; fpir
 * <= 0 takes the configured target. Queues a self-calibration when the
 * collection has grown or shrunk by 10 % since its last one (calib.c). */
void fr__svc_threshold(struct fr_service *s, int64_t client, float requested, double fpir, struct fr_svc_rule *rule);
int fr__svc_calib_start(struct fr_service *s);
void fr__svc_calib_stop(struct fr_service *s);

#endif
