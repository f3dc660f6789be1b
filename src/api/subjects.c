/* Subjects and their faces: create, list, get, update, delete; enrol a face
 * from a photo, list and delete faces. */
#include "api/api.h"

#include <stdio.h>
#include <math.h>
#include <string.h>

static json_t *subject_json(const struct fr_store_subject *s) {
    json_error_t e;
    json_t *meta = s->metadata ? json_loads(s->metadata, 0, &e) : NULL;
    return json_pack("{s:I,s:s,s:s?,s:o,s:I,s:I,s:I}", "id", (json_int_t)s->id, "name", s->name, "external_id",
                     s->external_id, "metadata", meta ? meta : json_null(), "faces", (json_int_t)s->n_faces,
                     "created_at", (json_int_t)s->created_at, "updated_at", (json_int_t)s->updated_at);
}

static int subject_id(struct fr_api_call *c, int64_t *id) {
    int rc = fr_api_path_id(c, id);
    return rc == -FR_E_NOT_FOUND ? fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject not found") : rc;
}

/* name / external_id / metadata from a JSON body; metadata kept as JSON text */
static int subject_fields(json_t *body, int create, const char **name, const char **ext, char **meta) {
    json_t *m = NULL;
    int rc;
    *meta = NULL;
    if ((rc = fr_json_get_string(body, "name", create, FR_STORE_NAME_MAX, name)) < 0) return rc;
    if (*name && !**name) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "name", "field 'name' must not be empty");
    if ((rc = fr_json_get_string(body, "external_id", 0, FR_STORE_NAME_MAX, ext)) < 0) return rc;
    if ((rc = fr_json_get_object(body, "metadata", 0, FR_JSON_MAX_METADATA, &m)) < 0) return rc;
    if (m) {
        char *t = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        if (!t) return -FR_E_NOMEM;
        *meta = fr_strdup(t);
        fr_json_free(t);
        if (!*meta) return -FR_E_NOMEM;
    }
    return 0;
}

static int reply_subject(struct fr_api_call *c, int64_t id, json_t **data) {
    struct fr_store_subject s = { 0 };
    int rc = fr_store_subject_get(c->api->svc->store, c->client_id, id, &s);
    if (rc < 0) return rc;
    *data = subject_json(&s);
    fr_store_subject_free(&s);
    return 0;
}

int fr_api_subject_create(struct fr_api_call *c, json_t **data, json_t **details) {
    json_t *body;
    const char *name = NULL, *ext = NULL;
    char *meta = NULL;
    int64_t id;
    int rc = fr_api_json_body(c, &body);
    if (rc < 0 || (rc = subject_fields(body, 1, &name, &ext, &meta)) < 0) goto out;
    rc = fr_store_subject_create(c->api->svc->store, c->client_id, name, ext, meta, &id);
    if (rc < 0) {
        if (rc == -FR_E_INVALID_ARGUMENT) *details = json_pack("{s:s}", "field", "external_id");
        goto out;
    }
    fr_api_audit(c, "subject.create", "subject:%lld", id, NULL);
    c->status = 201;
    rc = reply_subject(c, id, data);
out:
    fr_free(meta);
    return rc;
}

int fr_api_subject_list(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t limit, cursor, next = 0;
    struct fr_store_subject *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = fr_api_page(c, &limit, &cursor);
    if (rc < 0) return rc;
    if ((rc = fr_store_subject_list(c->api->svc->store, c->client_id, (int)limit, cursor, &rows, &n, &next)) < 0)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, subject_json(&rows[i]));
    fr_store_subjects_free(rows, n);
    *data = json_pack("{s:o,s:o}", "subjects", a, "next_cursor", next ? json_sprintf("%lld", (long long)next) : json_null());
    return 0;
}

int fr_api_subject_get(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = subject_id(c, &id);
    return rc < 0 ? rc : reply_subject(c, id, data);
}

int fr_api_subject_patch(struct fr_api_call *c, json_t **data, json_t **details) {
    json_t *body;
    const char *name = NULL, *ext = NULL;
    char *meta = NULL;
    int64_t id;
    int rc = subject_id(c, &id);
    if (rc < 0 || (rc = fr_api_json_body(c, &body)) < 0 || (rc = subject_fields(body, 0, &name, &ext, &meta)) < 0)
        goto out;
    if (json_is_null(json_object_get(body, "external_id"))) ext = "";
    if (json_is_null(json_object_get(body, "metadata"))) meta = fr_strdup("");
    struct fr_store_subject_update u = { name, ext, meta };
    if ((rc = fr_store_subject_update(c->api->svc->store, c->client_id, id, &u)) < 0) {
        if (rc == -FR_E_INVALID_ARGUMENT) *details = json_pack("{s:s}", "field", "external_id");
        goto out;
    }
    fr_api_audit(c, "subject.update", "subject:%lld", id, NULL);
    rc = reply_subject(c, id, data);
out:
    fr_free(meta);
    return rc;
}

int fr_api_subject_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = subject_id(c, &id);
    if (rc < 0 || (rc = fr_svc_subject_delete(c->api->svc, c->client_id, id)) < 0) return rc;
    fr_api_audit(c, "subject.delete", "subject:%lld", id, NULL);
    *data = json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1);
    return 0;
}

int fr_api_face_create(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_enroll_req r = { 0 };
    int rc = subject_id(c, &r.subject_id);
    if (rc < 0) return rc;
    r.client_id = c->client_id;
    r.request_id = c->request_id;
    r.idempotency_key = fr_http_header(c->req, "Idempotency-Key");
    if (r.idempotency_key && (!*r.idempotency_key || strlen(r.idempotency_key) > 128)) {
        *details = json_pack("{s:s}", "field", "Idempotency-Key");
        return fr_err_set(FR_E_VALIDATION_ERROR, "Idempotency-Key must be 1-128 characters");
    }
    if ((rc = fr_api_photo(c, "photo", "image_base64", 0, &r.photo, 1)) < 0) return rc;
    if ((rc = fr_api_param_bool(c, "liveness", 0, &r.liveness)) < 0) return rc;
    /* select=largest|central: enrol that face of a photo with several; absent
     * (or empty): the photo must hold exactly one */
    char sel[32];
    int present;
    r.select = FR_FACE_ALL;
    if ((rc = fr_api_param_string(c, "select", sizeof sel - 1, sel, sizeof sel, &present)) < 0) {
        *details = json_pack("{s:s}", "field", "select");
        return rc;
    }
    if (present && sel[0]) {
        static const int choices[] = { FR_FACE_LARGEST, FR_FACE_CENTRAL };
        r.select = -1;
        for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
            if (!strcmp(sel, fr_face_select_name(choices[i]))) r.select = choices[i];
        if (r.select < 0) {
            *details = json_pack("{s:s}", "field", "select");
            return fr_err_set(FR_E_VALIDATION_ERROR, "select must be largest or central");
        }
    }
    return fr_svc_enroll(c->api->svc, &r, &c->t, data, details, &c->status);
}

static double r4(double v) { return round(v * 1e4) / 1e4; }

int fr_api_face_list(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    struct fr_store_subject s = { 0 };
    struct fr_store_face *rows = NULL;
    size_t n = 0;
    (void)details;
    int rc = subject_id(c, &id);
    if (rc < 0 || (rc = fr_store_subject_get(c->api->svc->store, c->client_id, id, &s)) < 0) return rc;
    fr_store_subject_free(&s);
    if ((rc = fr_store_face_list(c->api->svc->store, c->client_id, id, &rows, &n)) < 0) return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const float *b = rows[i].bbox;
        /* the face's shape of every route: box rounded as enrolment gives it, quality and liveness as
         * objects (what was stored of them: the score) */
        json_array_append_new(
            a, json_pack("{s:I,s:I,s:[f,f,f,f],s:{s:f},s:o,s:s,s:I}", "face_id", (json_int_t)rows[i].id, "subject_id",
                         (json_int_t)id, "box", r4(b[0]), r4(b[1]), r4(b[0] + b[2]), r4(b[1] + b[3]), "quality",
                         "score", r4(rows[i].quality), "liveness",
                         rows[i].liveness >= 0 ? json_pack("{s:f}", "score", r4(rows[i].liveness)) : json_null(),
                         "model_id", rows[i].model_id, "created_at", (json_int_t)rows[i].created_at));
    }
    fr_store_faces_free(rows, n);
    *data = json_pack("{s:I,s:o}", "subject_id", (json_int_t)id, "faces", a);
    return 0;
}

int fr_api_face_delete(struct fr_api_call *c, json_t **data, json_t **details) {
    int64_t id;
    (void)details;
    int rc = fr_api_path_id(c, &id);
    if (rc < 0 || (rc = fr_svc_face_delete(c->api->svc, c->client_id, id)) < 0) return rc;
    fr_api_audit(c, "face.delete", "face:%lld", id, NULL);
    *data = json_pack("{s:I,s:b}", "face_id", (json_int_t)id, "deleted", 1);
    return 0;
}
