/* The HTTP API: the route table, the envelope, auth, rate limits, metrics
 * and request logs around thin handlers (one file per resource) that parse
 * the request, call src/service, and return a jansson object. */
#ifndef FR_API_H
#define FR_API_H

#include "http/http.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "api/render.h"
#include "service/service.h"

#include <stdatomic.h>

/* The request metrics the API records, registered once by fr_api_init: the
 * per-request path only updates them (no registry lookup, no global lock). */
struct fr_api_metrics {
    struct fr_metric *requests_total;     /* counter   facerec_requests_total{operation,status} */
    struct fr_metric *request_duration;   /* histogram facerec_request_duration_seconds{operation} */
    struct fr_metric *stage_duration;     /* histogram facerec_stage_duration_seconds{stage} */
    struct fr_metric *gallery_faces;      /* gauge     facerec_gallery_faces{client} */
    struct fr_metric *embedding_quality;  /* histogram facerec_embedding_quality */
    struct fr_metric *open_connections;   /* gauge     facerec_open_connections */
    struct fr_metric *identify_decisions; /* counter   facerec_identify_decisions_total{decision} */
};

struct fr_api {
    struct fr_service *svc;
    struct fr_ratelimit *rl;
    struct fr_http_server *http;            /* set after start, for connection counts */
    char cors_origins[1024];                /* FACEREC_CORS_ORIGINS: "" off, "*", or a comma list */
    char metrics_hash[65];                  /* FACEREC_METRICS_TOKEN's hash; "" when /metrics is public */
    struct fr_api_metrics m;
};

/* One request on its way through. */
struct fr_api_call {
    struct fr_api *api;
    struct fr_http_req *req;
    fr_route_params params;
    char request_id[65];
    int64_t client_id;                      /* 0: admin or public */
    struct fr_svc_actor who;                /* for the audit rows of the changes it makes */
    const char *operation;
    struct fr_svc_timing t;
    json_t *json;                           /* parsed JSON body, or NULL */
    fr_multipart *mp;                       /* parsed multipart body, or NULL */
    uint8_t *decoded[2];                    /* base64 photos */
    int status;                             /* success status (200, 201) */
    const char *content_type;               /* non-JSON success body (metrics) */
    char *raw;                              /* its bytes (fr_malloc'd) */
    size_t raw_len;
    json_t *raw_json;                       /* a bare JSON body (health, openapi), no envelope */
    int raw_status;
    int static_page;                        /* raw is a console file: the page's security headers go out */
    int bad_body;                           /* the body did not parse: 400, not 422 */
};

typedef int (*fr_api_handler)(struct fr_api_call *c, json_t **data, json_t **details);

FR_API int fr_api_init(struct fr_api *a, struct fr_service *svc);
FR_API void fr_api_fini(struct fr_api *a);
/* The server's handler (struct fr_http_opts.handler, ctx = struct fr_api *). */
FR_API void fr_api_handle(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp);
/* The early handler (struct fr_http_opts.early): the credentials of a
 * request whose body is still to come; a 401 goes out before it is read. */
FR_API void fr_api_early(void *ctx, struct fr_http_req *req, struct fr_http_resp *resp);

/* The route table (api.c) and the OpenAPI document built from it (health.c). */
struct fr_api_route {
    fr_route r;
    const char *operation;
    fr_api_handler fn;
    const char *summary;
};
extern const struct fr_api_route fr_api_routes[];
extern const size_t fr_api_n_routes;
FR_API json_t *fr_api_openapi(void);
/* 1 when the request may see operational figures: no FACEREC_METRICS_TOKEN
 * is set, or it came as Authorization: Bearer <token> (or the admin token). */
int fr_api_metrics_allowed(struct fr_api_call *c);
/* GET /console, /console/, /console/{file}: the embedded console (health.c). */
int fr_api_console(struct fr_api_call *c, json_t **data, json_t **details);

/* Request helpers for handlers. */
const char *fr_api_path_param(struct fr_api_call *c, const char *name);
int fr_api_path_id(struct fr_api_call *c, int64_t *id);
/* ?limit= (1..1000, default 100) and ?cursor= (default 0) of a list route. */
int fr_api_page(struct fr_api_call *c, int64_t *limit, int64_t *cursor);           /* {id}: a positive integer, else 404 */
/* A parameter from the JSON body, a multipart text field, or the query. */
int fr_api_param_int(struct fr_api_call *c, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out);
int fr_api_param_float(struct fr_api_call *c, const char *name, double def, double min, double max, double *out);
int fr_api_param_bool(struct fr_api_call *c, const char *name, int def, int *out);
int fr_api_param_string(struct fr_api_call *c, const char *name, size_t max_len, char *buf, size_t cap, int *present);
/* The photo in multipart field `field`, JSON field `b64_field` (base64), or a raw image body. */
int fr_api_photo(struct fr_api_call *c, const char *field, const char *b64_field, int slot, struct fr_svc_photo *out,
                 int required);
/* The JSON body (must be an object); VALIDATION_ERROR otherwise. */
int fr_api_json_body(struct fr_api_call *c, json_t **out);

/* Handlers */
int fr_api_health(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_ready(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_status(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_metrics(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_openapi_route(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_client_create(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_client_list(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_client_get(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_client_patch(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_client_delete(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_client_rotate(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_audit_list(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_usage(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_subject_create(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_subject_list(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_subject_get(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_subject_patch(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_subject_delete(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_face_create(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_face_list(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_face_delete(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_identify(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_verify(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_detect(struct fr_api_call *c, json_t **data, json_t **details);
int fr_api_embeddings(struct fr_api_call *c, json_t **data, json_t **details);

#endif
