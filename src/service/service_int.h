/* Internals shared by the files of src/service: the service's state. */
#ifndef FR_SERVICE_INT_H
#define FR_SERVICE_INT_H

#include "service/service.h"

#include "facerec/index.h"
#include "facerec/openset.h"
#include "facerec/store.h"

#include <pthread.h>

/* One worker's inference state; checked out per request. */
struct fr_svc_ctx {
    struct fr_face_ctx *face;
    struct fr_face_extra_ctx *extra;
    struct fr_face_attr_ctx *attr;
    struct fr_svc_ctx *next;
};

struct fr_svc_calib;
struct svc_usage;
struct fr_metric;

/* The service's metrics (registered once per process by fr_service_open). */
struct fr_svc_metrics {
    struct fr_metric *gallery_faces;        /* gauge     facerec_gallery_faces{client} */
    struct fr_metric *embedding_quality;    /* histogram facerec_embedding_quality */
    struct fr_metric *identify_decisions;   /* counter   facerec_identify_decisions_total{decision} */
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
    double started_ms;
};

/* A worker context from the pool (waits while all are busy);
 * SERVICE_UNAVAILABLE when the models are not loaded. */
int fr__svc_ctx_get(struct fr_service *s, struct fr_svc_ctx **out);
void fr__svc_ctx_put(struct fr_service *s, struct fr_svc_ctx *c);
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
