/* Internals shared by the files of src/service. */
#ifndef FR_SERVICE_INT_H
#define FR_SERVICE_INT_H

#include "service/service.h"

#include "facerec/openset.h"

/* A worker context from the pool (waits while all are busy);
 * SERVICE_UNAVAILABLE when the models are not loaded. */
int fr__svc_ctx_get(struct fr_service *s, struct fr_svc_ctx **out);
void fr__svc_ctx_put(struct fr_service *s, struct fr_svc_ctx *c);

/* The decision rule of one identify search (src/service/calib.c). */
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
/* The rule for a search of client's collection: requested >= 0 wins; fpir
 * <= 0 takes the configured target. Queues a self-calibration when the
 * collection has grown or shrunk by 10 % since its last one. */
void fr__svc_threshold(struct fr_service *s, int64_t client, float requested, double fpir, struct fr_svc_rule *rule);
int fr__svc_calib_start(struct fr_service *s);
void fr__svc_calib_stop(struct fr_service *s);

#endif
