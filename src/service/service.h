/* The application logic shared by the HTTP API and the CLI: enrol, identify,
 * verify, detect, embeddings, and the service's state (store, index, models).
 * No transport code here: results are jansson objects that the API layer
 * wraps in its envelope, errors are -FR_E_x with fr_err_detail() and, where
 * useful, a details object.
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
#include "facerec/index.h"
#include "facerec/store.h"

#include <jansson.h>
#include <pthread.h>

/* Frees what json_dumps returned, with jansson's own allocator (which may be
 * ours: fr_json_use_fr_alloc). */
static inline void fr_json_free(void *p) {
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    if (p && f) f(p);
}

struct fr_svc_config {
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
};

/* One worker's inference state; checked out per request. */
struct fr_svc_ctx {
    struct fr_face_ctx *face;
    struct fr_face_extra_ctx *extra;
    struct fr_face_attr_ctx *attr;
    struct fr_svc_ctx *next;
};

struct fr_svc_calib;

struct fr_service {
    struct fr_svc_config cfg;
    fr_store *store;
    fr_index_set *index;
    struct fr_face_models *models;          /* NULL when not loaded */
    struct fr_face_extra *extra;
    struct fr_face_attr_models *attr;
    char models_error[512];                 /* why recognition is unavailable, "" when it is */
    char missing[9][24];                    /* every model file absent or refused ("fr_detect", ...) */
    int n_missing;
    char extra_error[256];                  /* why liveness and head pose are unavailable, "" when they are */
    char attr_error[256];                   /* the same for the attribute models; both path-free */
    const char *model_id;
    pthread_mutex_t write_mu;               /* a store change and its index change, as one step */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    struct fr_svc_ctx *pool;                /* free contexts */
    int pool_made, pool_max;
    int index_ok;
    struct fr_svc_calib *calib;             /* identify thresholds per collection (calib.c) */
    double started_ms;
};

FR_API int fr_service_open(const struct fr_svc_config *cfg, struct fr_service **out);
/* Saves the index snapshots and frees everything. */
FR_API void fr_service_close(struct fr_service *s);
/* Rebuild the index collections of every client from the database, where the
 * snapshot differs. */
FR_API int fr_service_index_sync(struct fr_service *s, int *rebuilt_out);

/* Stage timings of one request, ms (for metrics). */
struct fr_svc_timing { double decode, detect, landmarks, embed, search; };

/* What a request asks of the face pipeline. */
struct fr_svc_opts {
    int max_faces;          /* 0: all */
    int liveness;           /* run the liveness model */
    int attributes;         /* age, gender, expression, eyes */
    int embed;              /* compute embeddings */
    int quality;            /* quality + pose */
};

/* Operations. Each returns 0 and sets *data_out (a new reference) or
 * -FR_E_x with fr_err_detail(); *details_out may get an object with more
 * (measured values) on failure. *status_out: 200 or 201. */
struct fr_svc_photo {
    const uint8_t *buf;
    size_t len;
    int whole_face;                 /* the photo IS one face (detect_faces=false): no detection, the whole
                                       image is the face's box, aligned by its landmarks */
};

struct fr_svc_enroll_req {
    int64_t client_id, subject_id;
    struct fr_svc_photo photo;
    int liveness;
    int select;                     /* FR_FACE_ALL: the photo must hold exactly one face (else
                                       MULTIPLE_FACES_DETECTED); FR_FACE_LARGEST / FR_FACE_CENTRAL:
                                       enrol that face of several. Part of the idempotency hash. */
    const char *idempotency_key;    /* may be NULL */
    const char *request_id;
};
FR_API int fr_svc_enroll(struct fr_service *s, const struct fr_svc_enroll_req *r, struct fr_svc_timing *t,
                         json_t **data_out, json_t **details_out, int *status_out);

struct fr_svc_identify_req {
    int64_t client_id;
    struct fr_svc_photo photo;
    int top_k, max_faces, liveness;
    float threshold;                /* >= 0: this threshold; < 0: the one the target FPIR gives for the
                                       collection's size (include/facerec/openset.h) */
    double fpir;                    /* > 0: this target FPIR instead of the configured one */
    int allow_low_quality;          /* decide faces with a quality reason too (else "low_quality") */
};
FR_API int fr_svc_identify(struct fr_service *s, const struct fr_svc_identify_req *r, struct fr_svc_timing *t,
                           json_t **data_out, json_t **details_out);

struct fr_svc_verify_req {
    int64_t client_id;
    struct fr_svc_photo a, b;       /* b.buf NULL: compare every face of a (up to max_faces) with
                                       subject_id's faces; else the largest face of a with b's */
    int64_t subject_id;
    float threshold;
};
FR_API int fr_svc_verify(struct fr_service *s, const struct fr_svc_verify_req *r, struct fr_svc_timing *t,
                         json_t **data_out, json_t **details_out);

FR_API int fr_svc_detect(struct fr_service *s, struct fr_svc_photo p, int liveness, int attributes,
                         struct fr_svc_timing *t, json_t **data_out, json_t **details_out);
FR_API int fr_svc_embeddings(struct fr_service *s, struct fr_svc_photo p, const char *submission_id,
                             struct fr_svc_timing *t, json_t **data_out, json_t **details_out);

/* After a model change: every face with a stored photo whose embedding came
 * from another model is embedded again by the current one (largest face of
 * the photo) and replaces the old row (same subject; one transaction each,
 * audited). A photo that no longer gives a face keeps its old row. */
struct fr_svc_reembed_stats { int64_t reembedded, failed; };
FR_API int fr_svc_reembed(struct fr_service *s, struct fr_svc_reembed_stats *st);

/* Deleting data keeps the index in step with the store. */
FR_API int fr_svc_subject_delete(struct fr_service *s, int64_t client_id, int64_t subject_id);
FR_API int fr_svc_face_delete(struct fr_service *s, int64_t client_id, int64_t face_id);
FR_API int fr_svc_client_delete(struct fr_service *s, int64_t client_id);

/* 1 when recognition can run; else 0 with the reason in why (may be NULL). */
FR_API int fr_svc_models_ready(const struct fr_service *s, const char **why);

#endif
