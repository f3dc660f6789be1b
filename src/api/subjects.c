/* Subjects and their faces: create, list, get, update, delete; enrol a face
 * from a photo (with Idempotency-Key replay), list and delete faces. */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

/* {id} of the path: a positive integer, else the subject is not found. */
static int subject_id(struct fr_api_call *c, int64_t *id) {
    int rc = fr_api_path_id(c, id);
    if (rc == -FR_E_NOT_FOUND)
        return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %s not found", fr_api_path_param(c, "id"));
    return rc;
}

/* name / external_id / metadata from a JSON body; metadata kept as JSON
 * text (*meta, fr_free). On update, null clears external_id and metadata. */
static int subject_fields(json_t *body, int create, struct fr_svc_subject_fields *f, char **meta) {
    json_t *m = NULL;
    int rc;
    *meta = NULL;
    memset(f, 0, sizeof *f);
    if ((rc = fr_json_get_string(body, "name", create, FR_SVC_NAME_MAX, &f->name)) < 0) return rc;
    if (f->name && !*f->name) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "name", "field 'name' must not be empty");
    if ((rc = fr_json_get_string(body, "external_id", 0, FR_SVC_NAME_MAX, &f->external_id)) < 0) return rc;
    if ((rc = fr_json_get_object(body, "metadata", 0, FR_JSON_MAX_METADATA, &m)) < 0) return rc;
    if (m) {
        char *t = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        if (!t) return -FR_E_NOMEM;
        *meta = fr_strdup(t);
        fr_json_free(t);
        if (!*meta) return -FR_E_NOMEM;
        f->metadata = *meta;
    }
    if (!create && json_is_null(json_object_get(body, "external_id"))) f->external_id = "";
    if (!create && json_is_null(json_object_get(body, "metadata"))) f->metadata = "";
    return 0;
}

static int reply_subject(struct fr_svc_subject *s, json_t **data) {
    *data = fr_render_subject(s);
    fr_svc_subject_free(s);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_subject_create(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_subject_fields f;
    struct fr_svc_subject s;
    json_t *body;
    char *meta = NULL;
    (void)details;
    int rc = fr_api_json_body(c, &body);
    if (rc == 0 && (rc = subject_fields(body, 1, &f, &meta)) == 0 &&
        (rc = fr_svc_subject_create(c->api->svc, &c->who, &f, &s)) == 0) {
        rc = reply_subject(&s, data);
    }
    fr_free(meta);
    return rc;
}

int fr_api_subject_list(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t limit, cursor, next = 0;
    struct fr_svc_subject *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_api_page(c, &limit, &cursor);
    if (rc < 0 || (rc = fr_svc_subject_list(c->api->svc, c->client_id, (int)limit, cursor, &rows, &n, &next)) < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, fr_render_subject(&rows[i]));
    fr_svc_subjects_free(rows, n);
    *data = json_pack("{s:o,s:o}", "subjects", a, "next_cursor", fr_render_cursor(next));
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_subject_get(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_subject s;
    int64_t id;
    (void)details;
    int rc = subject_id(c, &id);
    if (rc < 0 || (rc = fr_svc_subject_get(c->api->svc, c->client_id, id, &s)) < 0) return rc;
    return reply_subject(&s, data);
}

int fr_api_subject_patch(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_subject_fields f;
    struct fr_svc_subject s;
    json_t *body;
    char *meta = NULL;
    int64_t id;
    (void)details;
    int rc = subject_id(c, &id);
    if (rc == 0 && (rc = fr_api_json_body(c, &body)) == 0 && (rc = subject_fields(body, 0, &f, &meta)) == 0 &&
        (rc = fr_svc_subject_update(c->api->svc, &c->who, id, &f, &s)) == 0)
        rc = reply_subject(&s, data);
    fr_free(meta);
    return rc;
}

int fr_api_subject_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = subject_id(c, &id);
    if (rc < 0 || (rc = fr_svc_subject_delete(c->api->svc, &c->who, id)) < 0) return rc;
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return 0;
}

/* The answer a retry with the same Idempotency-Key gets: enrolment's data
 * object, as text; the service stores it with the face. */
static int render_enrolment(void *ctx, const struct fr_svc_enroll_result *r, char **text) {
    const struct fr_api_call *c = ctx;
    json_t *d = fr_render_enroll(r, fr_svc_config_of(c->api->svc)->liveness_threshold);
    char *t = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    *text = t ? fr_strdup(t) : NULL;
    fr_json_free(t);
    return *text ? 0 : -FR_E_NOMEM;
}

/* select=largest|central: enrol that face of a photo with several; absent
 * (or empty): the photo must hold exactly one */
static int face_selection(struct fr_api_call *c, int *select) {
    static const int choices[] = { FR_FACE_LARGEST, FR_FACE_CENTRAL };
    char sel[32];
    int present;
    *select = FR_FACE_ALL;
    int rc = fr_api_param_string(c, "select", sizeof sel - 1, sel, sizeof sel, &present);
    if (rc < 0 || !present || !sel[0]) return rc;
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (!strcmp(sel, fr_face_select_name(choices[i]))) {
            *select = choices[i];
            return 0;
        }
    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "select", "select must be largest or central");
}

int fr_api_face_create(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_enroll_req r = { 0 };
    struct fr_svc_enroll_result res;
    char hash[65];
    int rc = subject_id(c, &r.subject_id);
    if (rc < 0) return rc;
    r.who = c->who;
    r.idem.key = fr_http_header(c->req, "Idempotency-Key");
    if (r.idem.key && (!*r.idem.key || strlen(r.idem.key) > 128))
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "Idempotency-Key",
                             "Idempotency-Key must be 1-128 characters");
    if ((rc = fr_api_photo(c, "photo", "image_base64", 0, &r.photo, 1)) < 0 ||
        (rc = fr_api_param_bool(c, "liveness", 0, &r.liveness)) < 0 || (rc = face_selection(c, &r.select)) < 0)
        return rc;
    if (r.idem.key) {
        if ((rc = fr_svc_enroll_hash(&r, hash)) < 0) return rc;
        r.idem.request_hash = hash;
        r.idem.render = render_enrolment;
        r.idem.ctx = c;
    }
    const struct fr_svc_config *cfg = fr_svc_config_of(c->api->svc);
    rc = fr_svc_enroll(c->api->svc, &r, &c->t, &res);
    if (rc < 0) {
        *details = fr_render_enroll_error(rc, &res, cfg);
    } else if (res.replay) {    /* the first answer, as it was */
        json_error_t e;
        *data = json_loads(res.replay, 0, &e);
        c->status = res.status;
        if (!*data) rc = fr_err_set(FR_E_INTERNAL_ERROR, "the stored answer of this Idempotency-Key is not JSON");
    } else {
        *data = fr_render_enroll(&res, cfg->liveness_threshold);
        if (!*data) rc = -FR_E_NOMEM;
    }
    fr_svc_enroll_result_free(&res);
    return rc;
}

int fr_api_face_list(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    struct fr_svc_face_row *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = subject_id(c, &id);
    if (rc < 0 || (rc = fr_svc_face_list(c->api->svc, c->client_id, id, &rows, &n)) < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, fr_render_face_row(&rows[i]));
    fr_svc_face_rows_free(rows, n);
    *data = json_pack("{s:I,s:o}", "subject_id", (json_int_t)id, "faces", a);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_face_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = fr_api_path_id(c, &id);
    if (rc == -FR_E_NOT_FOUND) rc = fr_err_set(FR_E_NOT_FOUND, "face %s not found", fr_api_path_param(c, "id"));
    if (rc < 0 || (rc = fr_svc_face_delete(c->api->svc, &c->who, id)) < 0) return rc;
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return 0;
}
