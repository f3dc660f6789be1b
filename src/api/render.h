/* The JSON shapes of the service's results (docs/API.md), one function per
 * result, used by the HTTP API and by the CLI (facerec detect/embed/verify
 * --json print the API's data objects). Each returns a new reference, NULL
 * when out of memory. Numbers are rounded to 4 decimals; times are unix
 * milliseconds everywhere. */
#ifndef FR_API_RENDER_H
#define FR_API_RENDER_H

#include "service/service.h"

#include <jansson.h>

/* Frees what json_dumps returned, with jansson's own allocator (which may be
 * ours: fr_json_use_fr_alloc). */
static inline void fr_json_free(void *p) {
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    if (p && f) f(p);
}

/* What a face shows besides its box, score, quality and liveness. */
enum {
    FR_RENDER_LANDMARKS = 1,        /* 5 points, and the pose as its own object */
    FR_RENDER_ATTRIBUTES = 2,
    FR_RENDER_EMBEDDING = 4,
    FR_RENDER_NO_QUALITY = 8        /* embeddings: quality was not measured */
};
json_t *fr_render_face(const struct fr_svc_face *f, float liveness_threshold, int what);
json_t *fr_render_box(const float b[4]);
json_t *fr_render_quality(const struct fr_face_quality *q);

json_t *fr_render_detect(const struct fr_svc_faces *r, float liveness_threshold, int liveness, int attributes);
json_t *fr_render_embeddings(const struct fr_svc_faces *r, const char *submission_id);
json_t *fr_render_identify(const struct fr_svc_identify_result *r, float liveness_threshold);
json_t *fr_render_verify(const struct fr_svc_verify_result *r);
json_t *fr_render_enroll(const struct fr_svc_enroll_result *r, float liveness_threshold);
/* The details of a failed enrolment (what was measured), or NULL. */
json_t *fr_render_enroll_error(int rc, const struct fr_svc_enroll_result *r, const struct fr_svc_config *cfg);

json_t *fr_render_client(const struct fr_svc_client *c);
json_t *fr_render_subject(const struct fr_svc_subject *s);
json_t *fr_render_face_row(const struct fr_svc_face_row *f);
json_t *fr_render_audit(const struct fr_svc_audit *a);
json_t *fr_render_usage(const struct fr_svc_usage *u);
/* A list page's cursor: the id as a string, null at the end. */
json_t *fr_render_cursor(int64_t next);

#endif
