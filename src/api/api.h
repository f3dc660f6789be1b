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
    struct fr_metric *open_connections;   /* gauge     facerec_open_connections */
};

struct fr_redis;

struct fr_api {
    struct fr_service *svc;
    struct fr_ratelimit *rl;
    struct fr_redis *redis;                 /* FACEREC_REDIS_URL: the windows shared by every node and the node
                                               registry; NULL: one node. Borrowed (serve closes it last) */
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
    const struct fr_api_route *route;       /* the row matched (NULL before) */
    const char *operation;
    struct fr_svc_timing t;
    json_t *json;                           /* parsed JSON body, or NULL */
    fr_multipart *mp;                       /* parsed multipart body, or NULL */
    uint8_t *decoded[2];                    /* base64 photos */
    int status;                             /* the row's success status; a handler may set another */
    char *raw;                              /* a TEXT or STATIC route's body (fr_malloc'd) */
    size_t raw_len;
    const char *content_type;               /* a STATIC route's file type (static string) */
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

/* The route table: one row per line of routes.def (its header says what
 * each column means and what the router checks before a handler runs). */
enum fr_api_body {
    FR_API_BODY_NONE,                       /* no body */
    FR_API_BODY_JSON,                       /* a JSON object */
    FR_API_BODY_MULTIPART,                  /* multipart/form-data */
    FR_API_BODY_EITHER                      /* multipart, JSON with base64 photos, or a bare photo */
};
enum fr_api_reply {
    FR_API_REPLY_ENVELOPE,                  /* {"success": true, "data": data, "request_id"} */
    FR_API_REPLY_BARE,                      /* data is the whole body */
    FR_API_REPLY_TEXT,                      /* c->raw, typed by the row's response */
    FR_API_REPLY_STATIC                     /* c->raw, typed by c->content_type, the console's headers */
};
#define FR_API_CONFLICT (1u << 0)           /* may answer 409 CONFLICT */
#define FR_API_TOKEN    (1u << 1)           /* public, but an optional bearer token may be required (401) */
#define FR_API_UNREADY  (1u << 2)           /* may answer 503 with its own bare body */
#define FR_API_REFERS   (1u << 3)           /* the body names a resource: may answer 404 without a path id */
#define FR_API_CAMERAS  (1u << 4)           /* opens cameras: may answer 502 ALL_CAMERAS_FAILED */

struct fr_api_route {
    fr_route r;                             /* method, pattern, row index, auth (enum fr_route_auth) */
    const char *operation;                  /* metrics label, usage rows, operationId: unique */
    fr_api_handler fn;
    int body;                               /* enum fr_api_body */
    int reply;                              /* enum fr_api_reply */
    int status;                             /* success status */
    unsigned flags;                         /* FR_API_CONFLICT | FR_API_TOKEN | FR_API_UNREADY | FR_API_REFERS |
                                               FR_API_CAMERAS */
    const char *request;                    /* schemas.def name of the body, or NULL */
    const char *response;                   /* schemas.def name of data / the body; media types of TEXT, STATIC */
    const char *params;                     /* schemas.def PARAMS list, or NULL */
    const char *summary;
};
extern const struct fr_api_route fr_api_routes[];
extern const size_t fr_api_n_routes;

/* The OpenAPI 3.0.3 document of fr_api_routes with the shapes of
 * schemas.def (openapi.c); NULL when out of memory. */
FR_API json_t *fr_api_openapi(void);
/* docs/API.md's route table (a Markdown table, header included), built from
 * the same rows; fr_free it. NULL when out of memory. */
FR_API char *fr_api_routes_markdown(void);
/* The status and public code of a failure rc, as the API answers it: codes a
 * client cannot act on become documented ones (INVALID_ARGUMENT →
 * VALIDATION_ERROR, NOMEM → SERVICE_UNAVAILABLE, ...). */
void fr__api_error_map(int rc, int *status, int *code);
/* 1 when the request may see operational figures: no FACEREC_METRICS_TOKEN
 * is set, or it came as Authorization: Bearer <token> (or the admin token). */
int fr_api_metrics_allowed(struct fr_api_call *c);

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
/* A webhook's fields from a JSON body (create: url and events required);
 * names holds FR_SVC_WEBHOOK_EVENTS_MAX pointers into body. */
int fr_api_webhook_fields(json_t *body, int create, struct fr_svc_webhook_fields *f, const char **names);
/* A session's body (POST /api/v1/sessions) as the service's request; the
 * strings point into body, the arrays into b (fr_api_session_buf_free). */
#define FR_API_SESSION_CAMERAS 64
struct fr_api_session_buf {
    struct fr_svc_session_camera_req cams[FR_API_SESSION_CAMERAS];
    int64_t *ids;
    const char **ext;
    double backoff[FR_SVC_CALLBACK_ATTEMPTS_MAX];
};
int fr_api_session_fields(json_t *body, struct fr_svc_session_req *r, struct fr_api_session_buf *b);
void fr_api_session_buf_free(struct fr_api_session_buf *b);
/* The JSON body (must be an object); VALIDATION_ERROR otherwise. */
int fr_api_json_body(struct fr_api_call *c, json_t **out);

/* The handlers, one per row of routes.def. */
#define ROUTE(method, path, op, fn, ...) int fn(struct fr_api_call *c, json_t **data, json_t **details);
#include "api/routes.def"
#undef ROUTE

#endif
