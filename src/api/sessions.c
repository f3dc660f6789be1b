/* Cameras and camera sessions: register cameras; start, read, list and stop
 * sessions; page through what a session recognised. The service checks the
 * rules (src/service/sessions.c); here the JSON is read and rendered. */
#include "api/api.h"
#include "api/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- cameras ---- */

static json_t *camera_json(const struct fr_svc_camera *c) {
    return json_pack("{s:I,s:s,s:s,s:s,s:I,s:I}", "id", (json_int_t)c->id, "name", c->name ? c->name : "", "url",
                     c->url ? c->url : "", "transport", c->transport ? "udp" : "tcp", "created_at",
                     (json_int_t)c->created_at, "updated_at", (json_int_t)c->updated_at);
}

static int reply_camera(struct fr_svc_camera *c, json_t **data) {
    *data = camera_json(c);
    fr_svc_camera_free(c);
    return *data ? 0 : -FR_E_NOMEM;
}

/* "tcp" | "udp" → 0 | 1; absent: -1. */
static int transport_of(json_t *o, const char *field, int *out) {
    const char *t = NULL;
    int rc = fr_json_get_string(o, field, 0, 8, &t);
    *out = -1;
    if (rc < 0 || !t) return rc;
    if (!strcmp(t, "tcp")) *out = 0;
    else if (!strcmp(t, "udp")) *out = 1;
    else return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%s' must be \"tcp\" or \"udp\"", field);
    return 0;
}

static int camera_fields(json_t *body, int create, struct fr_svc_camera_fields *f) {
    memset(f, 0, sizeof *f);
    int rc;
    if ((rc = fr_json_get_string(body, "name", create, FR_SVC_SLOT_MAX, &f->name)) < 0 ||
        (rc = fr_json_get_string(body, "url", create, 2048, &f->url)) < 0 ||
        (rc = transport_of(body, "transport", &f->transport)) < 0)
        return rc;
    return 0;
}

static int camera_id(struct fr_api_call *c, int64_t *id) {
    int rc = fr_api_path_id(c, id);
    if (rc == -FR_E_NOT_FOUND) return fr_err_set(FR_E_NOT_FOUND, "camera %s not found", fr_api_path_param(c, "id"));
    return rc;
}

int fr_api_camera_create(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_camera_fields f;
    struct fr_svc_camera cam;
    json_t *body;
    (void)details;
    int rc = fr_api_json_body(c, &body);
    if (rc < 0 || (rc = camera_fields(body, 1, &f)) < 0 ||
        (rc = fr_svc_camera_create(c->api->svc, &c->who, &f, &cam)) < 0)
        return rc;
    return reply_camera(&cam, data);
}

int fr_api_camera_list(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_camera *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_svc_camera_list(c->api->svc, c->client_id, &rows, &n);
    if (rc < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, camera_json(&rows[i]));
    fr_svc_cameras_free(rows, n);
    *data = json_pack("{s:o}", "cameras", a);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_camera_get(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_camera cam;
    int64_t id;
    (void)details;
    int rc = camera_id(c, &id);
    if (rc < 0 || (rc = fr_svc_camera_get(c->api->svc, c->client_id, id, &cam)) < 0) return rc;
    return reply_camera(&cam, data);
}

int fr_api_camera_patch(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_camera_fields f;
    struct fr_svc_camera cam;
    json_t *body;
    int64_t id;
    (void)details;
    int rc = camera_id(c, &id);
    if (rc < 0 || (rc = fr_api_json_body(c, &body)) < 0 || (rc = camera_fields(body, 0, &f)) < 0 ||
        (rc = fr_svc_camera_update(c->api->svc, &c->who, id, &f, &cam)) < 0)
        return rc;
    return reply_camera(&cam, data);
}

int fr_api_camera_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = camera_id(c, &id);
    if (rc < 0 || (rc = fr_svc_camera_delete(c->api->svc, &c->who, id)) < 0) return rc;
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return *data ? 0 : -FR_E_NOMEM;
}

/* ---- a session's body ---- */

void fr_api_session_buf_free(struct fr_api_session_buf *b) {
    fr_free(b->ids);
    fr_free(b->ext);
    memset(b, 0, sizeof *b);
}

/* A field that is there and not null (null means "not given": the default). */
static int given(json_t *o, const char *field) {
    json_t *v = json_object_get(o, field);
    return v && !json_is_null(v);
}

static int bad(const char *field, const char *msg) {
    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "field '%s' %s", field, msg);
}

/* An RFC 3339 time ("2026-12-07T09:00:00Z", "+01:00", fractions) as unix ms. */
static int rfc3339(const char *t, int64_t *out) {
    int y, mo, d, h, mi, n = 0;
    double sec;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !n) return -1;
    const char *z = t + n;
    int off = 0;
    if (*z == 'Z' || *z == 'z') z++;
    else if (*z == '+' || *z == '-') {
        int oh, om, k = 0;
        if (sscanf(z + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5) return -1;
        off = (oh * 60 + om) * (*z == '+' ? 1 : -1);
        z += 6;
    } else return -1;
    if (*z || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || !(sec >= 0 && sec < 61))
        return -1;
    /* days from the civil date (proleptic Gregorian) */
    int yy = y - (mo <= 2);
    int era = yy / 400, yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out = ((days * 86400 + h * 3600 + mi * 60 - off * 60) * 1000) + (int64_t)llround(sec * 1000);
    return 0;
}

int fr_api_session_fields(json_t *body, struct fr_svc_session_req *r, struct fr_api_session_buf *b) {
    int rc;
    memset(r, 0, sizeof *r);
    memset(b, 0, sizeof *b);
    r->mode = -1;
    r->cooldown_s = r->fps = r->min_quality = r->duration_s = r->max_failure_s = r->cb_timeout_s = -1;
    r->threshold = NAN;
    r->min_face_px = r->max_failures = r->cb_attempts = -1;
    r->snapshot = -1;
    if (!json_is_object(body)) return bad("body", "must be a JSON object");
    if ((rc = fr_json_get_string(body, "slot_id", 1, FR_SVC_SLOT_MAX, &r->slot_id)) < 0 ||
        (rc = fr_json_get_string(body, "callback_url", 1, 2048, &r->callback_url)) < 0 ||
        (rc = fr_json_get_string(body, "callback_secret", 0, 128, &r->callback_secret)) < 0)
        return rc;
    /* cameras */
    json_t *cams = json_object_get(body, "cameras");
    if (!json_is_array(cams) || json_array_size(cams) < 1 || json_array_size(cams) > FR_API_SESSION_CAMERAS)
        return bad("cameras", "must be an array of 1 to 64 cameras");
    size_t i;
    json_t *v;
    json_array_foreach(cams, i, v) {
        struct fr_svc_session_camera_req *c = &b->cams[i];
        int64_t id = 0;
        if (!json_is_object(v)) return bad("cameras", "must hold objects");
        if (given(v, "camera_id")) {
            if ((rc = fr_json_get_int(v, "camera_id", 1, 1, INT64_MAX, &id)) < 0) return bad("cameras", "camera_id must be a positive integer");
        }
        c->camera_id = id;
        if ((rc = fr_json_get_string(v, "id", 0, FR_SVC_SLOT_MAX, &c->key)) < 0 ||
            (rc = fr_json_get_string(v, "name", 0, FR_SVC_SLOT_MAX, &c->name)) < 0 ||
            (rc = fr_json_get_string(v, "url", 0, 2048, &c->url)) < 0 || (rc = transport_of(v, "transport", &c->transport)) < 0) {
            const char *msg = fr_err_detail();
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "cameras", "cameras[%zu]: %s", i, msg);
        }
    }
    r->cameras = b->cams;
    r->n_cameras = (int)json_array_size(cams);
    /* settings */
    const char *mode = NULL;
    if ((rc = fr_json_get_string(body, "mode", 0, 16, &mode)) < 0) return rc;
    if (mode) {
        if (!strcmp(mode, "first_seen")) r->mode = 0;
        else if (!strcmp(mode, "every")) r->mode = 1;
        else return bad("mode", "must be \"first_seen\" or \"every\"");
    }
    int64_t i64;
    double d;
    int flag;
    if ((rc = fr_json_get_number(body, "cooldown_seconds", 0, 0, 86400, &d)) < 0) return rc;
    if (given(body, "cooldown_seconds")) r->cooldown_s = d;
    if ((rc = fr_json_get_number(body, "fps", 0, 0.1, 30, &d)) < 0) return rc;
    if (given(body, "fps")) r->fps = d;
    if ((rc = fr_json_get_number(body, "threshold", 0, 0, 1, &d)) < 0) return rc;
    if (given(body, "threshold")) r->threshold = d;
    if ((rc = fr_json_get_int(body, "min_face_px", 0, 0, 4096, &i64)) < 0) return rc;
    if (given(body, "min_face_px")) r->min_face_px = (int)i64;
    if ((rc = fr_json_get_number(body, "min_quality", 0, 0, 1, &d)) < 0) return rc;
    if (given(body, "min_quality")) r->min_quality = d;
    if ((rc = fr_json_get_bool(body, "liveness", 0, &flag)) < 0) return rc;
    if (given(body, "liveness")) r->liveness = flag;
    if ((rc = fr_json_get_bool(body, "report_unknown", 0, &flag)) < 0) return rc;
    if (given(body, "report_unknown")) r->report_unknown = flag;
    if ((rc = fr_json_get_bool(body, "snapshot", 0, &flag)) < 0) return rc;
    if (given(body, "snapshot")) r->snapshot = flag;
    if ((rc = fr_json_get_number(body, "duration_seconds", 0, 1, 604800, &d)) < 0) return rc;
    if (given(body, "duration_seconds")) r->duration_s = d;
    const char *ends = NULL;
    if ((rc = fr_json_get_string(body, "ends_at", 0, 64, &ends)) < 0) return rc;
    if (ends && (rfc3339(ends, &r->ends_at) < 0 || r->ends_at <= 0))
        return bad("ends_at", "must be an RFC 3339 time (2026-12-07T09:00:00Z)");
    /* the roster: ids and external_ids */
    json_t *subj = json_object_get(body, "subjects");
    if (subj && !json_is_null(subj)) {
        if (!json_is_array(subj) || json_array_size(subj) > FR_SVC_SESSION_ROSTER_MAX)
            return bad("subjects", "must be an array of at most 10000 subject ids or external_ids");
        size_t n = json_array_size(subj);
        b->ids = fr_calloc(n + 1, sizeof *b->ids);
        b->ext = fr_calloc(n + 1, sizeof *b->ext);
        if (!b->ids || !b->ext) return -FR_E_NOMEM;
        json_array_foreach(subj, i, v) {
            int64_t id;
            if (json_is_string(v) && json_string_length(v) >= 1 && json_string_length(v) <= FR_SVC_NAME_MAX)
                b->ext[r->n_roster_external++] = json_string_value(v);
            else if (json_is_integer(v) && (id = (int64_t)json_integer_value(v)) > 0)
                b->ids[r->n_roster_ids++] = id;
            else
                return bad("subjects", "must hold positive subject ids or external_id strings of 1 to 256 bytes");
        }
        r->roster_ids = b->ids;
        r->roster_external = b->ext;
    }
    /* auto_stop and the callback policy */
    json_t *as = json_object_get(body, "auto_stop");
    if (as && !json_is_null(as)) {
        if (!json_is_object(as)) return bad("auto_stop", "must be an object");
        if ((rc = fr_json_get_int(as, "max_consecutive_failures", 0, 0, 1000000, &i64)) < 0) return bad("auto_stop", "max_consecutive_failures must be an integer in [0, 1000000]");
        if (given(as, "max_consecutive_failures")) r->max_failures = (int)i64;
        if ((rc = fr_json_get_number(as, "max_failure_seconds", 0, 0, 86400, &d)) < 0) return bad("auto_stop", "max_failure_seconds must be in [0, 86400]");
        if (given(as, "max_failure_seconds")) r->max_failure_s = d;
    }
    json_t *cp = json_object_get(body, "callback_policy");
    if (cp && !json_is_null(cp)) {
        if (!json_is_object(cp)) return bad("callback_policy", "must be an object");
        if ((rc = fr_json_get_int(cp, "attempts", 0, 1, FR_SVC_CALLBACK_ATTEMPTS_MAX, &i64)) < 0)
            return bad("callback_policy", "attempts must be an integer in [1, 10]");
        if (given(cp, "attempts")) r->cb_attempts = (int)i64;
        if ((rc = fr_json_get_number(cp, "timeout_seconds", 0, 0.1, 60, &d)) < 0)
            return bad("callback_policy", "timeout_seconds must be in [0.1, 60]");
        if (given(cp, "timeout_seconds")) r->cb_timeout_s = d;
        json_t *bo = json_object_get(cp, "backoff_seconds");
        if (bo && !json_is_null(bo)) {
            if (!json_is_array(bo) || json_array_size(bo) < 1 || json_array_size(bo) > FR_SVC_CALLBACK_ATTEMPTS_MAX)
                return bad("callback_policy", "backoff_seconds must be an array of 1 to 10 whole seconds");
            json_array_foreach(bo, i, v) {
                if (!json_is_number(v)) return bad("callback_policy", "backoff_seconds must hold numbers");
                b->backoff[i] = json_number_value(v);
            }
            r->cb_backoff_s = b->backoff;
            r->n_cb_backoff = (int)json_array_size(bo);
        }
    }
    return 0;
}

/* ---- rendering ---- */

static json_t *time_or_null(int64_t ms) { return ms > 0 ? json_integer(ms) : json_null(); }

static json_t *session_json(const struct fr_svc_session *v) {
    json_t *cams = json_array();
    for (int i = 0; i < v->n_cameras; i++) {
        const struct fr_svc_session_camera *c = &v->cameras[i];
        json_array_append_new(cams, json_pack("{s:s,s:s?,s:s,s:s,s:o,s:s,s:I,s:I,s:I}", "id", c->key, "name", c->name,
                                              "url", c->url ? c->url : "", "transport", c->transport ? "udp" : "tcp",
                                              "camera_id", c->camera_id ? json_integer(c->camera_id) : json_null(),
                                              "state", c->state ? c->state : "stopped", "frames_read",
                                              (json_int_t)c->frames_read, "frames_analysed",
                                              (json_int_t)c->frames_analysed, "reconnects", (json_int_t)c->reconnects));
    }
    json_t *roster = json_null();
    if (v->roster) {
        roster = json_array();
        for (int i = 0; i < v->n_roster; i++) json_array_append_new(roster, json_integer(v->roster[i]));
    }
    json_t *backoff = json_array();
    for (int i = 0; i + 1 < v->cb_attempts; i++) json_array_append_new(backoff, json_real(v->cb_backoff_s[i]));
    json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:f,s:f,s:o,s:i,s:f,s:b,s:b,s:b,s:o,s:s,s:o,s:o}", "session_id",
                          v->session_id, "slot_id", v->slot_id, "status", v->running ? "running" : "stopped", "reason",
                          v->reason, "mode", v->mode ? "every" : "first_seen", "cooldown_seconds", v->cooldown_s,
                          "fps", v->fps, "threshold", v->threshold >= 0 ? json_real(v->threshold) : json_null(),
                          "min_face_px", v->min_face_px, "min_quality", v->min_quality, "liveness", v->liveness,
                          "report_unknown", v->report_unknown, "snapshot", v->snapshot, "subjects", roster,
                          "callback_url", v->callback_url ? v->callback_url : "", "auto_stop",
                          json_pack("{s:i,s:f}", "max_consecutive_failures", v->max_failures, "max_failure_seconds",
                                    v->max_failure_s),
                          "callback_policy",
                          json_pack("{s:i,s:o,s:f}", "attempts", v->cb_attempts, "backoff_seconds", backoff,
                                    "timeout_seconds", v->cb_timeout_s));
    if (!o) {
        json_decref(cams);
        return NULL;
    }
    json_object_set_new(o, "cameras", cams);
    json_object_set_new(o, "stats",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "frames_read", (json_int_t)v->frames_read,
                                  "frames_analysed", (json_int_t)v->frames_analysed, "faces_seen",
                                  (json_int_t)v->faces_seen, "recognitions", (json_int_t)v->recognitions,
                                  "subjects_recognised", (json_int_t)v->subjects_recognised, "callback_failures",
                                  (json_int_t)v->callback_failures));
    json_object_set_new(o, "node", v->node ? json_string(v->node) : json_null());
    json_object_set_new(o, "created_at", json_integer(v->created_at));
    json_object_set_new(o, "ends_at", time_or_null(v->ends_at));
    json_object_set_new(o, "stopped_at", time_or_null(v->stopped_at));
    return o;
}

static int reply_session(struct fr_svc_session *v, json_t **data) {
    *data = session_json(v);
    fr_svc_session_free(v);
    return *data ? 0 : -FR_E_NOMEM;
}

/* ---- sessions ---- */

int fr_api_session_create(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_session_req r;
    struct fr_api_session_buf b;
    struct fr_svc_session v;
    json_t *body;
    (void)details;
    int rc = fr_api_json_body(c, &body);
    if (rc == 0 && (rc = fr_api_session_fields(body, &r, &b)) == 0) {
        r.who = c->who;
        rc = fr_svc_session_start(c->api->svc, &r, &v);
    }
    fr_api_session_buf_free(&b);
    return rc < 0 ? rc : reply_session(&v, data);
}

int fr_api_session_list(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_session *rows = NULL;
    int64_t limit, cursor, next = 0;
    size_t n = 0;
    int running = 0;
    (void)details;
    int rc = fr_api_page(c, &limit, &cursor);
    if (rc < 0 || (rc = fr_api_param_bool(c, "running", 0, &running)) < 0 ||
        (rc = fr_svc_session_list(c->api->svc, c->client_id, running, (int)limit, cursor, &rows, &n, &next)) < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, session_json(&rows[i]));
    fr_svc_sessions_free(rows, n);
    *data = json_pack("{s:o,s:o}", "sessions", a, "next_cursor", fr_render_cursor(next));
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_session_get(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_session v;
    (void)details;
    int rc = fr_svc_session_get(c->api->svc, c->client_id, fr_api_path_param(c, "slot_id"), &v);
    return rc < 0 ? rc : reply_session(&v, data);
}

int fr_api_session_stop(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_session v;
    (void)details;
    int rc = fr_svc_session_stop(c->api->svc, &c->who, fr_api_path_param(c, "slot_id"), &v);
    return rc < 0 ? rc : reply_session(&v, data);
}

int fr_api_session_recognitions(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_recognition *rows = NULL;
    int64_t limit, cursor, next = 0;
    size_t n = 0;
    (void)details;
    int rc = fr_api_page(c, &limit, &cursor);
    if (rc < 0 || (rc = fr_svc_recognition_list(c->api->svc, c->client_id, fr_api_path_param(c, "slot_id"),
                                                 (int)limit, cursor, &rows, &n, &next)) < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct fr_svc_recognition *x = &rows[i];
        json_t *subject = json_null();
        if (!x->unknown)
            subject = json_pack("{s:I,s:s?,s:s?}", "id", (json_int_t)x->subject_id, "external_id", x->external_id,
                                "name", x->name);
        json_array_append_new(a, json_pack("{s:I,s:s,s:o,s:s,s:f,s:f,s:o,s:I,s:s?}", "id", (json_int_t)x->id, "type",
                                           x->unknown ? "unknown_face" : "recognition", "subject", subject, "camera_id",
                                           x->camera, "similarity", (double)x->similarity, "quality",
                                           (double)x->quality, "box", fr_render_box(x->box), "seen_at",
                                           (json_int_t)x->seen_at, "event_id", x->event_id));
    }
    fr_svc_recognitions_free(rows, n);
    *data = json_pack("{s:o,s:o}", "recognitions", a, "next_cursor", fr_render_cursor(next));
    return *data ? 0 : -FR_E_NOMEM;
}
