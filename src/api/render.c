/* The service's results as the API's JSON (render.h). */
#include "api/render.h"

#include "facerec/openset.h"

#include <math.h>
#include <string.h>

static double r4(double v) { return round(v * 1e4) / 1e4; }

json_t *fr_render_box(const float b[4]) {
    return json_pack("[f,f,f,f]", r4(b[0]), r4(b[1]), r4(b[2]), r4(b[3]));
}

json_t *fr_render_quality(const struct fr_face_quality *q) {
    json_t *reasons = json_array();
    for (unsigned bit = 1; bit <= FR_Q_LOW_CONFIDENCE; bit <<= 1)
        if (q->reasons & bit) json_array_append_new(reasons, json_string(fr_face_quality_reason_name(bit)));
    json_t *o = json_pack("{s:f,s:f,s:f,s:f,s:f,s:o}", "score", r4(q->score), "sharpness", r4(q->sharpness),
                          "brightness", r4(q->brightness), "eye_distance_px", r4(q->eye_dist_px),
                          "detection_score", r4(q->det_score), "reasons", reasons);
    if (o && q->pose_measured) {
        json_object_set_new(o, "yaw", json_real(r4(q->yaw)));
        json_object_set_new(o, "pitch", json_real(r4(q->pitch)));
        json_object_set_new(o, "roll", json_real(r4(q->roll)));
    }
    return o;
}

static json_t *liveness(const struct fr_svc_face *f, float thr) {
    if (!f->has_live) return json_null();
    return json_pack("{s:f,s:b}", "score", r4(f->live), "live", f->live >= thr);
}

json_t *fr_render_face(const struct fr_svc_face *f, float liveness_threshold, int what) {
    json_t *o = json_pack("{s:o,s:f}", "box", fr_render_box(f->f.box), "score", r4(f->f.score));
    if (!o) return NULL;
    if (what & FR_RENDER_LANDMARKS) {
        json_t *a = json_array();
        for (int i = 0; i < 5; i++)
            json_array_append_new(a, json_pack("[f,f]", r4(f->f.lm5[2 * i]), r4(f->f.lm5[2 * i + 1])));
        json_object_set_new(o, "landmarks", a);
    }
    if (!(what & FR_RENDER_NO_QUALITY)) {
        json_object_set_new(o, "quality", fr_render_quality(&f->q));
        json_object_set_new(o, "liveness", liveness(f, liveness_threshold));
    }
    if (what & FR_RENDER_LANDMARKS)
        json_object_set_new(o, "pose", json_pack("{s:f,s:f,s:f}", "yaw", r4(f->q.yaw), "pitch", r4(f->q.pitch), "roll",
                                                 r4(f->q.roll)));
    if ((what & FR_RENDER_ATTRIBUTES) && f->has_attr) {
        const struct fr_face_attributes *a = &f->a;
        json_object_set_new(o, "attributes",
                            json_pack("{s:f,s:s,s:f,s:s,s:f,s:f,s:f}", "age", r4(a->age), "gender",
                                      a->gender_male >= 0.5f ? "male" : "female", "gender_male_probability",
                                      r4(a->gender_male), "expression", a->expression_name ? a->expression_name : "",
                                      "expression_probability", r4(a->expression_prob), "left_eye_open",
                                      r4(a->left_eye_open), "right_eye_open", r4(a->right_eye_open)));
    }
    if ((what & FR_RENDER_EMBEDDING) && f->f.has_emb) {
        json_t *a = json_array();
        for (int i = 0; i < FR_FACE_EMB_DIM; i++) json_array_append_new(a, json_real((double)f->f.emb[i]));
        json_object_set_new(o, "embedding", a);
    }
    return o;
}

json_t *fr_render_detect(const struct fr_svc_faces *r, float liveness_threshold, int live, int attributes) {
    json_t *faces = json_array();
    for (int i = 0; i < r->n; i++) {
        json_t *f = fr_render_face(&r->faces[i], liveness_threshold,
                                   FR_RENDER_LANDMARKS | (attributes ? FR_RENDER_ATTRIBUTES : 0));
        if (f && !live) json_object_del(f, "liveness");   /* detect shows liveness only when asked */
        json_array_append_new(faces, f);
    }
    return json_pack("{s:o,s:i,s:i,s:i}", "faces", faces, "faces_detected", r->faces_detected, "width", r->width,
                     "height", r->height);
}

json_t *fr_render_embeddings(const struct fr_svc_faces *r, const char *submission_id) {
    json_t *faces = json_array();
    for (int i = 0; i < r->n; i++)
        json_array_append_new(faces, fr_render_face(&r->faces[i], 0, FR_RENDER_EMBEDDING | FR_RENDER_NO_QUALITY));
    return json_pack("{s:o,s:s?,s:s?,s:i}", "faces", faces, "model_id", r->model_id, "submission_id", submission_id,
                     "faces_detected", r->faces_detected);
}

static json_t *rule_json(const struct fr_svc_rule *rule, int quality_gate) {
    json_t *jr = json_pack("{s:f,s:s,s:f,s:I,s:f,s:b}", "threshold", r4(rule->threshold), "threshold_source",
                           rule->source, "fpir", rule->fpir, "gallery_size", (json_int_t)rule->gallery_size, "margin",
                           r4(rule->margin), "quality_gate", quality_gate);
    if (jr && rule->calibration) {
        json_object_set_new(jr, "calibration", json_string(rule->calibration));
        if (rule->predicted_fpir >= 0)
            json_object_set_new(jr, "predicted_fpir", json_real(round(rule->predicted_fpir * 1e6) / 1e6));
        if (!strcmp(rule->calibration, "collection")) {
            json_object_set_new(jr, "calibration_pairs", json_integer((json_int_t)rule->pairs));
            json_object_set_new(jr, "calibration_shift", json_real(r4(rule->shift)));
        }
    }
    return jr;
}

json_t *fr_render_identify(const struct fr_svc_identify_result *r, float liveness_threshold) {
    json_t *faces = json_array();
    for (int i = 0; i < r->n; i++) {
        const struct fr_svc_identified *f = &r->faces[i];
        json_t *cands = json_array(), *match = json_null();
        for (int j = 0; j < f->n_cands; j++) {
            const struct fr_svc_candidate *c = &f->cands[j];
            json_t *cj = json_pack("{s:I,s:s?,s:s,s:f,s:b}", "subject_id", (json_int_t)c->subject_id, "external_id",
                                   c->external_id, "name", c->name, "similarity", r4(c->similarity), "passes",
                                   c->passes);
            if (j == f->match) {
                json_decref(match);
                match = json_incref(cj);
            }
            json_array_append_new(cands, cj);
        }
        json_t *o = fr_render_face(&f->face, liveness_threshold, 0);
        if (o) {
            json_object_set_new(o, "candidates", cands);
            json_object_set_new(o, "decision", json_string(fr_decision_name(f->decision)));
            json_object_set_new(o, "match", match);
        } else {
            json_decref(cands);
            json_decref(match);
        }
        json_array_append_new(faces, o);
    }
    return json_pack("{s:o,s:f,s:o,s:s?,s:i}", "faces", faces, "threshold", r4(r->rule.threshold), "decision_rule",
                     rule_json(&r->rule, r->quality_gate), "model_id", r->model_id, "faces_detected", r->faces_detected);
}

json_t *fr_render_verify(const struct fr_svc_verify_result *r) {
    if (r->two_photos)
        return json_pack("{s:f,s:f,s:b,s:o,s:o,s:i,s:i}", "similarity", r4(r->similarity), "threshold",
                         r4(r->threshold), "match", r->match, "box_a", fr_render_box(r->box_a), "box_b",
                         fr_render_box(r->box_b), "faces_detected_a", r->faces_detected_a, "faces_detected_b",
                         r->faces_detected_b);
    return json_pack("{s:f,s:f,s:b,s:I,s:i,s:o,s:i}", "similarity", r4(r->similarity), "threshold", r4(r->threshold),
                     "match", r->match, "subject_id", (json_int_t)r->subject_id, "faces_compared", r->faces_compared,
                     "box", fr_render_box(r->box_a), "faces_detected", r->faces_detected_a);
}

json_t *fr_render_enroll(const struct fr_svc_enroll_result *r, float liveness_threshold) {
    const struct fr_svc_face *f = &r->face;
    return json_pack("{s:I,s:I,s:o,s:o,s:o,s:s?,s:I,s:i,s:s?}", "face_id", (json_int_t)r->face_id, "subject_id",
                     (json_int_t)r->subject_id, "box", fr_render_box(f->f.box), "quality", fr_render_quality(&f->q),
                     "liveness", liveness(f, liveness_threshold), "model_id", r->model_id, "created_at",
                     (json_int_t)r->created_at, "faces_detected", r->faces_detected, "selected", r->selected);
}

json_t *fr_render_enroll_error(int rc, const struct fr_svc_enroll_result *r, const struct fr_svc_config *cfg) {
    switch (rc < 0 ? -rc : rc) {
    case FR_E_MULTIPLE_FACES_DETECTED: return json_pack("{s:i}", "faces", r->faces);
    case FR_E_LOW_QUALITY_FACE: {
        json_t *q = fr_render_quality(&r->face.q);
        return json_pack("{s:O,s:o,s:f}", "reasons", json_object_get(q, "reasons"), "quality", q, "min_score",
                         r4(cfg->quality_threshold));
    }
    case FR_E_SPOOF_DETECTED:
        return json_pack("{s:f,s:f}", "liveness", r4(r->face.live), "threshold", r4(cfg->liveness_threshold));
    default: return NULL;
    }
}

json_t *fr_render_client(const struct fr_svc_client *c) {
    json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:I,s:b,s:I}", "id", (json_int_t)c->id, "name", c->name ? c->name : "",
                          "key_prefix", c->key_prefix, "rate_limit_per_hour", (json_int_t)c->rate_limit_per_hour,
                          "rate_limit_per_day", (json_int_t)c->rate_limit_per_day, "disabled", c->disabled,
                          "created_at", (json_int_t)c->created_at);
    if (!o) return NULL;
    if (c->subjects >= 0) json_object_set_new(o, "subjects", json_integer(c->subjects));
    if (c->faces >= 0) json_object_set_new(o, "faces", json_integer(c->faces));
    if (c->api_key[0]) json_object_set_new(o, "api_key", json_string(c->api_key));
    return o;
}

/* JSON text the service keeps (metadata, audit details) as a value; null when absent. */
static json_t *stored_json(const char *text) {
    json_error_t e;
    json_t *v = text && *text ? json_loads(text, JSON_DECODE_ANY, &e) : NULL;
    return v ? v : json_null();
}

json_t *fr_render_subject(const struct fr_svc_subject *s) {
    return json_pack("{s:I,s:s,s:s?,s:o,s:I,s:I,s:I}", "id", (json_int_t)s->id, "name", s->name ? s->name : "",
                     "external_id", s->external_id, "metadata", stored_json(s->metadata), "faces", (json_int_t)s->faces,
                     "created_at", (json_int_t)s->created_at, "updated_at", (json_int_t)s->updated_at);
}

/* An enrolled face: the face shape of every route, with what was stored of
 * it (quality and liveness scores). */
json_t *fr_render_face_row(const struct fr_svc_face_row *f) {
    return json_pack("{s:I,s:I,s:o,s:{s:f},s:o,s:s,s:I}", "face_id", (json_int_t)f->id, "subject_id",
                     (json_int_t)f->subject_id, "box", fr_render_box(f->box), "quality", "score", r4(f->quality),
                     "liveness", f->liveness >= 0 ? json_pack("{s:f}", "score", r4(f->liveness)) : json_null(),
                     "model_id", f->model_id ? f->model_id : "", "created_at", (json_int_t)f->created_at);
}

json_t *fr_render_audit(const struct fr_svc_audit *a) {
    return json_pack("{s:I,s:I,s:s,s:s,s:s?,s:s?,s:o}", "id", (json_int_t)a->id, "at", (json_int_t)a->at, "actor",
                     a->actor ? a->actor : "", "action", a->action ? a->action : "", "target", a->target, "request_id",
                     a->request_id, "details", stored_json(a->details));
}

json_t *fr_render_usage(const struct fr_svc_usage *u) {
    return json_pack("{s:s,s:s,s:I}", "day", u->day, "operation", u->operation ? u->operation : "", "count",
                     (json_int_t)u->count);
}

json_t *fr_render_cursor(int64_t next) { return next ? json_sprintf("%lld", (long long)next) : json_null(); }
