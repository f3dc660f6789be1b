/* identify, verify, detect, embeddings: parse the photo(s) and parameters,
 * then src/service. */
#include "api/api.h"

#include "facerec/metrics.h"

#include <string.h>

static void observe_quality(const struct fr_api *api, json_t *data) {
    const struct fr_api_metrics *m = &api->m;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(data, "faces"), i, f) {
        json_t *q = json_object_get(json_object_get(f, "quality"), "score");
        if (json_is_number(q)) fr_metric_observe(m->embedding_quality, json_number_value(q));
        const char *d = json_string_value(json_object_get(f, "decision"));
        if (d) fr_metric_inc(m->identify_decisions, d);
    }
}

int fr_api_identify(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_identify_req r = { 0 };
    int64_t k, mf;
    double thr, fpir;
    int rc = fr_api_photo(c, "photo", "image_base64", 0, &r.photo, 1);
    if (rc < 0 || (rc = fr_api_param_int(c, "top_k", c->api->svc->cfg.top_k, 1, 100, &k)) < 0 ||
        (rc = fr_api_param_int(c, "max_faces", c->api->svc->cfg.max_faces, 1, 100, &mf)) < 0 ||
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
    rc = fr_svc_identify(c->api->svc, &r, &c->t, data, details);
    if (rc == 0) observe_quality(c->api, *data);
    return rc;
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
    if (clash) {
        *details = json_pack("{s:s}", "field", clash);
        return fr_err_set(FR_E_VALIDATION_ERROR, "'%s' %s", clash, why);
    }
    if (sid > 0) {
        /* one photo: "photo" (or "photo_a") */
        if ((rc = fr_api_photo(c, "photo", "image_base64", 0, &r.a, 0)) < 0) return rc;
        if (!r.a.buf && (rc = fr_api_photo(c, "photo_a", "image_a_base64", 1, &r.a, 1)) < 0) return rc;
    } else {
        if ((rc = fr_api_photo(c, "photo_a", "image_a_base64", 0, &r.a, 1)) < 0 ||
            (rc = fr_api_photo(c, "photo_b", "image_b_base64", 1, &r.b, 1)) < 0)
            return rc;
    }
    return fr_svc_verify(c->api->svc, &r, &c->t, data, details);
}

int fr_api_detect(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_photo p;
    int live, attr;
    int rc = fr_api_photo(c, "photo", "image_base64", 0, &p, 1);
    if (rc < 0 || (rc = fr_api_param_bool(c, "liveness", 0, &live)) < 0 ||
        (rc = fr_api_param_bool(c, "attributes", 0, &attr)) < 0)
        return rc;
    return fr_svc_detect(c->api->svc, p, live, attr, &c->t, data, details);
}

int fr_api_embeddings(struct fr_api_call *c, json_t **data, json_t **details) {
    struct fr_svc_photo p;
    char sub[129];
    int present;
    int rc = fr_api_photo(c, "photo", "image_base64", 0, &p, 1);
    if (rc < 0 || (rc = fr_api_param_string(c, "submission_id", 128, sub, sizeof sub, &present)) < 0) return rc;
    return fr_svc_embeddings(c->api->svc, p, present ? sub : NULL, &c->t, data, details);
}
