/* identify, verify, detect, embeddings: parse the photo(s) and parameters,
 * then src/service. */
#include "api/api.h"


#include <string.h>

int fr_api_identify(struct fr_api_call *c, json_t **data, json_t **details) {
    const struct fr_svc_config *cfg = fr_svc_config_of(c->api->svc);
    struct fr_svc_identify_req r = { 0 };
    struct fr_svc_identify_result res;
    int64_t k, mf;
    double thr, fpir;
    (void)details;
    int rc = fr_api_photo(c, "photo", "image_base64", 0, &r.photo, 1);
    if (rc < 0 || (rc = fr_api_param_int(c, "top_k", cfg->top_k, 1, 100, &k)) < 0 ||
        (rc = fr_api_param_int(c, "max_faces", cfg->max_faces, 1, 100, &mf)) < 0 ||
        (rc = fr_api_param_float(c, "threshold", -1, 0, 1, &thr)) < 0 ||
        (rc = fr_api_param_float(c, "fpir", 0, 1e-6, 0.5, &fpir)) < 0 ||
        (rc = fr_api_param_bool(c, "allow_low_quality", 0, &r.allow_low_quality)) < 0 ||
        (rc = fr_api_param_bool(c, "liveness", 0, &r.liveness)) < 0)
        return rc;
    r.client_id = c->client_id;
    r.fpir = fpir;
    r.top_k = (int)k;
    r.max_faces = (int)mf;
    r.threshold = (float)thr;
    if ((rc = fr_svc_identify(c->api->svc, &r, &c->t, &res)) < 0) return rc;
    *data = fr_render_identify(&res, cfg->liveness_threshold);
    fr_svc_identify_result_free(&res);
    return *data ? 0 : -FR_E_NOMEM;
}

/* The name under which the body carries a photo (multipart field, or JSON
 * base64 field), NULL when it does not; nothing is decoded. The body has
 * been parsed by an fr_api_param_* call before. */
static const char *photo_given(const struct fr_api_call *c, const char *field, const char *b64_field) {
    if (c->mp) {
        const fr_part *p = fr_multipart_get(c->mp, field);
        return p && p->len ? field : NULL;
    }
    json_t *v = c->json ? json_object_get(c->json, b64_field) : NULL;
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v))) return NULL;
    return b64_field;
}

int fr_api_verify(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_verify_req r = { 0 };
    (void)details;
    double thr;
    int64_t sid;
    int rc = fr_api_param_int(c, "subject_id", 0, 0, INT64_MAX, &sid);
    if (rc < 0 || (rc = fr_api_param_float(c, "threshold", -1, 0, 1, &thr)) < 0) return rc;
    r.client_id = c->client_id;
    r.threshold = (float)thr;
    r.subject_id = sid;
    /* two forms, never mixed: photo (or photo_a) + subject_id, or photo_a + photo_b */
    const char *one = photo_given(c, "photo", "image_base64"), *pa = photo_given(c, "photo_a", "image_a_base64"),
               *pb = photo_given(c, "photo_b", "image_b_base64");
    const char *clash = NULL, *why = NULL;
    if (sid > 0 && pb) {
        clash = pb;
        why = "belongs to the two-photo form; with subject_id send one photo";
    } else if (sid > 0 && one && pa) {
        clash = pa;
        why = "repeats the photo; with subject_id send one photo";
    } else if (sid <= 0 && one && (pa || pb)) {
        clash = one;
        why = "goes with subject_id; the two-photo form takes photo_a and photo_b";
    }
    if (clash) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", clash, "'%s' %s", clash, why);
    if (sid > 0) {
        /* one photo: "photo" (or "photo_a") */
        if ((rc = fr_api_photo(c, "photo", "image_base64", 0, &r.a, 0)) < 0) return rc;
        if (!r.a.buf && (rc = fr_api_photo(c, "photo_a", "image_a_base64", 1, &r.a, 1)) < 0) return rc;
    } else {
        if ((rc = fr_api_photo(c, "photo_a", "image_a_base64", 0, &r.a, 1)) < 0 ||
            (rc = fr_api_photo(c, "photo_b", "image_b_base64", 1, &r.b, 1)) < 0)
            return rc;
    }
    struct fr_svc_verify_result res;
    if ((rc = fr_svc_verify(c->api->svc, &r, &c->t, &res)) < 0) return rc;
    *data = fr_render_verify(&res);
    return *data ? 0 : -FR_E_NOMEM;
}

/* detect and embeddings: the photo, liveness, attributes */
static int analyze_req(struct fr_api_call *c, struct fr_svc_analyze_req *r) {
    memset(r, 0, sizeof *r);
    int rc = fr_api_photo(c, "photo", "image_base64", 0, &r->photo, 1);
    if (rc < 0 || (rc = fr_api_param_bool(c, "liveness", 0, &r->liveness)) < 0) return rc;
    return fr_api_param_bool(c, "attributes", 0, &r->attributes);
}

int fr_api_detect(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_analyze_req r;
    struct fr_svc_faces res;
    (void)details;
    int rc = analyze_req(c, &r);
    if (rc < 0 || (rc = fr_svc_detect(c->api->svc, &r, &c->t, &res)) < 0) return rc;
    *data = fr_render_detect(&res, fr_svc_config_of(c->api->svc)->liveness_threshold, r.liveness, r.attributes);
    fr_svc_faces_free(&res);
    return *data ? 0 : -FR_E_NOMEM;
}

int fr_api_embeddings(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_analyze_req r;
    struct fr_svc_faces res;
    char sub[129];
    int present;
    (void)details;
    int rc = analyze_req(c, &r);
    if (rc < 0 || (rc = fr_api_param_string(c, "submission_id", 128, sub, sizeof sub, &present)) < 0 ||
        (rc = fr_svc_embeddings(c->api->svc, &r, &c->t, &res)) < 0)
        return rc;
    *data = fr_render_embeddings(&res, present ? sub : NULL);
    fr_svc_faces_free(&res);
    return *data ? 0 : -FR_E_NOMEM;
}
