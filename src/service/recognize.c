/* Enrol, identify, verify, detect, embeddings: the face pipeline over one
 * photo, then the store and the index. Results are jansson objects in the
 * shapes of docs/API.md. */
#include "service/service_int.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Photos are decoded no larger than needed: a JPEG whose shorter side is at
 * least twice this is decoded at 1/2, 1/4 or 1/8 scale, keeping the shorter
 * side >= 960 px. The detector sees 320x240 anyway, so the smallest face it
 * finds (~6 % of the short side) still has >= 56 px in the decoded image,
 * enough for the 112x112 alignment; a 12 MP phone photo decodes in 11 instead
 * of 17 ms, a 36 MP one in 40 instead of 68 ms and 7 instead of 108 MB. */
#define SVC_MIN_SHORT_SIDE 960

struct svc_face {
    struct fr_face f;
    struct fr_face_quality q;
    float live;
    int has_live;
    struct fr_face_attributes a;
    int has_attr;
};

struct analysis {
    struct svc_face *faces;
    int n, n_detected, w, h;
};

static void analysis_free(struct analysis *a) {
    fr_free(a->faces);
    memset(a, 0, sizeof *a);
}

static int cmp_area(const void *x, const void *y) {
    const struct fr_face *a = x, *b = y;
    float aa = (a->box[2] - a->box[0]) * (a->box[3] - a->box[1]);
    float bb = (b->box[2] - b->box[0]) * (b->box[3] - b->box[1]);
    return aa > bb ? -1 : aa < bb;
}

/* A face that fills the whole frame (a pre-cropped export whose head touches
 * the borders: openface's 96x96 crops, face-api.js's 150x150 ones) leaves
 * the detector no context, and it finds nothing. When a pass over a photo of
 * at most SVC_PAD_MAX_SIDE px finds no face, the photo is searched again
 * inside a grey border a quarter of its longer side wide; *img becomes the
 * padded image and *pad its border, for the caller to map results back. */
#define SVC_PAD_MAX_SIDE 1024

static int detect_padded(struct fr_face_ctx *fc, struct fr_image *img, struct fr_face **faces, int *n, int *pad) {
    int side = img->w > img->h ? img->w : img->h;
    *pad = 0;
    if (side > SVC_PAD_MAX_SIDE) return 0;
    int px = side / 4 > 8 ? side / 4 : 8;
    struct fr_image padded = { 0 };
    struct fr_face *f = NULL;
    int nf = 0, rc = fr_image_pad(img, px, px, 128, &padded);
    if (rc == 0) rc = fr_face_detect(fc, &padded, NULL, &f, &nf);
    if (rc < 0 || nf == 0) {
        fr_image_free(&padded);
        fr_free(f);
        return rc < 0 ? rc : 0;
    }
    fr_image_free(img);
    *img = padded;
    fr_free(*faces);
    *faces = f;
    *n = nf;
    *pad = px;
    return 0;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* decode → detect (or, for p.whole_face, the whole photo as the face's box)
 * → (largest first, up to max_faces; or, with select FR_FACE_LARGEST /
 * FR_FACE_CENTRAL, only the face fr_face_select_one picks among all
 * detected) landmarks → align → embed, quality, liveness, attributes as
 * asked. out->n_detected counts every detected face. pose: run the pose
 * model for quality (enrolment, detect, identify: one quality everywhere);
 * embeddings and verify skip it. */
static int analyze_select(struct fr_service *s, struct fr_svc_photo p, const struct fr_svc_opts *o, int pose,
                          int select, struct fr_svc_timing *t, struct analysis *out) {
    struct fr_svc_ctx *c = NULL;
    struct fr_image img = { 0 };
    struct fr_face *faces = NULL;
    int n = 0, rc;
    memset(out, 0, sizeof *out);
    if (!p.buf || !p.len) return fr_err_set(FR_E_PHOTO_FILE_REQUIRED, "the photo is empty");
    if ((rc = fr__svc_ctx_get(s, &c)) < 0) return rc;
    if (o->attributes && !c->attr) {
        rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "attributes unavailable: %s", s->attr_error);
        goto out;
    }
    if (o->liveness && !c->extra) {
        rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "liveness unavailable: %s", s->extra_error);
        goto out;
    }
    double t0 = fr_time_ms();
    struct fr_image_limits lim = { s->cfg.max_upload_bytes, s->cfg.max_pixels };
    int full_w = 0, full_h = 0;
    if ((rc = fr_image_decode_reduced(p.buf, p.len, &lim, SVC_MIN_SHORT_SIDE, &img, &full_w, &full_h)) < 0) goto out;
    double t1 = fr_time_ms();
    t->decode += t1 - t0;
    /* decoded smaller than stored: results are scaled back to the photo's pixels */
    const float sx = (float)full_w / (float)img.w, sy = (float)full_h / (float)img.h, sm = 0.5f * (sx + sy);
    struct fr_face_quality_opts qo = { 0 };
    qo.min_eye_dist_px = FR_Q_DEFAULT_MIN_EYE_DIST / sm;
    const int dec_w = img.w, dec_h = img.h;
    int pad = 0;
    if (p.whole_face) {   /* the whole photo is the face: its box, aligned by its own landmarks */
        faces = fr_calloc(1, sizeof *faces);
        if (!faces) { rc = -FR_E_NOMEM; goto out; }
        faces[0].box[2] = (float)img.w;
        faces[0].box[3] = (float)img.h;
        faces[0].score = 1.0f;
        n = 1;
    } else {
        if ((rc = fr_face_detect(c->face, &img, NULL, &faces, &n)) < 0) goto out;
        if (n == 0 && (rc = detect_padded(c->face, &img, &faces, &n, &pad)) < 0) goto out;
    }
    double t2 = fr_time_ms();
    t->detect += t2 - t1;
    out->n_detected = n;
    out->w = full_w;
    out->h = full_h;
    if (select != FR_FACE_ALL && n > 1) {     /* boxes and img are both in decoded pixels here */
        faces[0] = faces[fr_face_select_one(faces, n, img.w, img.h, select)];
        n = 1;
    }
    if (n > 1) qsort(faces, (size_t)n, sizeof *faces, cmp_area);
    if (o->max_faces > 0 && n > o->max_faces) n = o->max_faces;
    out->faces = fr_calloc((size_t)n + 1, sizeof *out->faces);
    if (!out->faces) { rc = -FR_E_NOMEM; goto out; }
    for (int i = 0; i < n; i++) {
        struct svc_face *sf = &out->faces[i];
        sf->f = faces[i];
        double a = fr_time_ms();
        if ((rc = fr_face_landmarks(c->face, &img, &sf->f)) < 0) goto out;
        double b = fr_time_ms();
        t->landmarks += b - a;
        struct fr_image al = { 0 };
        if (o->embed) {
            if ((rc = fr_face_align(&img, sf->f.lm5, &al)) == 0) rc = fr_face_embed_aligned(c->face, &al, sf->f.emb);
            if (rc < 0) { fr_image_free(&al); goto out; }
            sf->f.has_emb = 1;
            t->embed += fr_time_ms() - b;
        }
        if (o->quality)   /* on the embedding's own alignment when there is one */
            rc = fr_face_quality_aligned(pose ? c->extra : NULL, &img, &sf->f, al.data ? &al : NULL, &qo, &sf->q);
        fr_image_free(&al);
        if (rc < 0) goto out;
        if (o->liveness) {
            if ((rc = fr_face_liveness(c->extra, &img, &sf->f, &sf->live)) < 0) goto out;
            sf->has_live = 1;
        }
        if (o->attributes) {
            if ((rc = fr_face_attributes(c->attr, &img, &sf->f, &sf->a)) < 0) goto out;
            sf->has_attr = 1;
        }
        if (pad) {   /* back from the padded image; the box stays inside the photo */
            for (int k = 0; k < 4; k++)
                sf->f.box[k] = clampf(sf->f.box[k] - (float)pad, 0.0f, (float)(k % 2 ? dec_h : dec_w));
            for (int k = 0; k < 10; k++) sf->f.lm5[k] -= (float)pad;
            for (int k = 0; k < 136; k++) sf->f.lm68[k] -= (float)pad;
        }
        if (sx != 1.0f || sy != 1.0f) {
            for (int k = 0; k < 4; k++) sf->f.box[k] *= k % 2 ? sy : sx;
            for (int k = 0; k < 10; k++) sf->f.lm5[k] *= k % 2 ? sy : sx;
            for (int k = 0; k < 136; k++) sf->f.lm68[k] *= k % 2 ? sy : sx;
            sf->q.eye_dist_px *= sm;
        }
    }
    out->n = n;
out:
    fr__svc_ctx_put(s, c);
    fr_image_free(&img);
    fr_free(faces);
    if (rc < 0) analysis_free(out);
    return rc;
}

static int analyze(struct fr_service *s, struct fr_svc_photo p, const struct fr_svc_opts *o, int pose,
                   struct fr_svc_timing *t, struct analysis *out) {
    return analyze_select(s, p, o, pose, FR_FACE_ALL, t, out);
}

/* ---- JSON pieces ---- */

static double r4(double v) { return round(v * 1e4) / 1e4; }

static json_t *box_json(const float b[4]) {
    return json_pack("[f,f,f,f]", r4(b[0]), r4(b[1]), r4(b[2]), r4(b[3]));
}

static json_t *quality_json(const struct fr_face_quality *q) {
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

static json_t *liveness_json(const struct svc_face *f, float thr) {
    if (!f->has_live) return json_null();
    return json_pack("{s:f,s:b}", "score", r4(f->live), "live", f->live >= thr);
}

static json_t *landmarks_json(const float lm5[10]) {
    json_t *a = json_array();
    for (int i = 0; i < 5; i++) json_array_append_new(a, json_pack("[f,f]", r4(lm5[2 * i]), r4(lm5[2 * i + 1])));
    return a;
}

static json_t *attributes_json(const struct fr_face_attributes *a) {
    return json_pack("{s:f,s:s,s:f,s:s,s:f,s:f,s:f}", "age", r4(a->age), "gender", a->gender_male >= 0.5f ? "male" : "female",
                     "gender_male_probability", r4(a->gender_male), "expression", a->expression_name,
                     "expression_probability", r4(a->expression_prob), "left_eye_open", r4(a->left_eye_open),
                     "right_eye_open", r4(a->right_eye_open));
}

static json_t *embedding_json(const float *e) {
    json_t *a = json_array();
    for (int i = 0; i < FR_FACE_EMB_DIM; i++) json_array_append_new(a, json_real((double)e[i]));
    return a;
}

static void sha256_hex(const void *buf, size_t len, const char *extra, char out[65]) {
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    out[0] = 0;
    if (!m) return;
    if (EVP_DigestInit_ex(m, EVP_sha256(), NULL) && EVP_DigestUpdate(m, buf, len) &&
        (!extra || EVP_DigestUpdate(m, extra, strlen(extra))) && EVP_DigestFinal_ex(m, md, &n))
        for (unsigned i = 0; i < n && i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(m);
}

static int no_face(const char *which, json_t **details) {
    if (details && which) *details = json_pack("{s:s}", "photo", which);
    return fr_err_set(FR_E_NO_FACE_IN_PHOTO, "no face detected in %s", which ? which : "the photo");
}

/* ---- enrol ---- */

static int enroll_reply(const char *text, json_t **data_out) {
    json_error_t e;
    *data_out = json_loads(text, 0, &e);
    return *data_out ? 0 : fr_err_set(FR_E_INTERNAL_ERROR, "stored idempotent response is not JSON");
}

int fr_svc_enroll(struct fr_service *s, const struct fr_svc_enroll_req *r, struct fr_svc_timing *t,
                  json_t **data_out, json_t **details_out, int *status_out) {
    struct analysis an = { 0 };
    struct fr_store_subject subj = { 0 };
    struct fr_store_idem prev = { 0 };
    char req_hash[65], idpath[48];
    json_t *data = NULL;
    char *text = NULL;
    int rc, in_tx = 0, locked = 0;
    fr_store *tx = NULL;
    *data_out = NULL;
    *status_out = 201;
    /* the request: photo, subject, and select when not the default (so keys
     * stored before select existed still match their retries) */
    const char *sel = fr_face_select_name(r->select);
    if (!sel) return fr_err_set(FR_E_INVALID_ARGUMENT, "unknown face selection %d", r->select);
    if (r->select == FR_FACE_ALL) snprintf(idpath, sizeof idpath, "%lld", (long long)r->subject_id);
    else snprintf(idpath, sizeof idpath, "%lld;select=%s", (long long)r->subject_id, sel);
    sha256_hex(r->photo.buf ? (const void *)r->photo.buf : "", r->photo.len, idpath, req_hash);
    /* a retry: the first answer, without running the models again */
    if (r->idempotency_key) {
        rc = fr_store_idem_get(s->store, r->client_id, r->idempotency_key, &prev);
        if (rc == 0) goto replay;
        if (rc != -FR_E_NOT_FOUND) return rc;
    }
    if ((rc = fr_store_subject_get(s->store, r->client_id, r->subject_id, &subj)) < 0) goto out;
    int live = r->liveness || s->cfg.require_liveness;
    /* max_faces 0: with select, the pick is made among every detected face */
    struct fr_svc_opts o = { 0, live, 0, 1, 1 };
    if ((rc = analyze_select(s, r->photo, &o, 1, r->select, t, &an)) < 0) goto out;
    if (an.n == 0) { rc = no_face(NULL, NULL); goto out; }
    if (an.n > 1) {
        *details_out = json_pack("{s:i}", "faces", an.n);
        rc = fr_err_set(FR_E_MULTIPLE_FACES_DETECTED,
                        "%d faces in the photo; enrolment needs exactly one (or select=largest|central)", an.n);
        goto out;
    }
    /* the quality and liveness gates below judge the selected face only */
    struct svc_face *f = &an.faces[0];
    if (f->q.reasons || f->q.score < s->cfg.quality_threshold) {
        json_t *q = quality_json(&f->q);
        *details_out = json_pack("{s:O,s:o,s:f}", "reasons", json_object_get(q, "reasons"), "quality", q,
                                 "min_score", r4(s->cfg.quality_threshold));
        rc = fr_err_set(FR_E_LOW_QUALITY_FACE, "face quality %.3f is too low for enrolment", (double)f->q.score);
        goto out;
    }
    if (live && f->live < s->cfg.liveness_threshold) {
        *details_out = json_pack("{s:f,s:f}", "liveness", r4(f->live), "threshold", r4(s->cfg.liveness_threshold));
        rc = fr_err_set(FR_E_SPOOF_DETECTED, "liveness %.3f is below %.2f", (double)f->live,
                        (double)s->cfg.liveness_threshold);
        goto out;
    }
    char img_hash[65];
    sha256_hex(r->photo.buf, r->photo.len, NULL, img_hash);
    const float *b = f->f.box;
    struct fr_store_face_new nf = {
        .client_id = r->client_id, .subject_id = r->subject_id, .embedding = f->f.emb, .dim = FR_FACE_EMB_DIM,
        .model_id = s->model_id, .quality = f->q.score, .liveness = f->has_live ? f->live : -1.0f,
        .bbox = { b[0], b[1], b[2] - b[0], b[3] - b[1] }, .image_sha256 = img_hash,
        .image = s->cfg.store_photos ? r->photo.buf : NULL, .image_len = s->cfg.store_photos ? r->photo.len : 0
    };
    /* the face, the idempotency record and the audit row: all or nothing;
     * write_mu keeps a concurrent delete from slipping between the commit
     * and the index add */
    pthread_mutex_lock(&s->write_mu);
    locked = 1;
    if ((rc = fr_store_tx_begin(s->store, &tx)) < 0) goto out;
    in_tx = 1;
    if (r->idempotency_key && fr_store_idem_get(tx, r->client_id, r->idempotency_key, &prev) == 0) {
        fr_store_tx_rollback(tx);
        in_tx = 0;
        pthread_mutex_unlock(&s->write_mu);
        locked = 0;
        goto replay;
    }
    int64_t face_id;
    if ((rc = fr_store_face_add(tx, &nf, &face_id)) < 0) goto out;
    data = json_pack("{s:I,s:I,s:o,s:o,s:o,s:s,s:I,s:i,s:s}", "face_id", (json_int_t)face_id, "subject_id",
                     (json_int_t)r->subject_id, "box", box_json(b), "quality", quality_json(&f->q), "liveness",
                     liveness_json(f, s->cfg.liveness_threshold), "model_id", s->model_id, "created_at",
                     (json_int_t)fr_now_ms(), "faces_detected", an.n_detected, "selected",
                     an.n_detected == 1 ? "only" : sel);
    text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (!text) { rc = -FR_E_NOMEM; goto out; }
    if (r->idempotency_key &&
        (rc = fr_store_idem_put(tx, r->client_id, r->idempotency_key, req_hash, 201, text)) < 0)
        goto out;
    char actor[32], target[32], details[96];
    snprintf(actor, sizeof actor, "client:%lld", (long long)r->client_id);
    snprintf(target, sizeof target, "face:%lld", (long long)face_id);
    snprintf(details, sizeof details, "{\"subject_id\":%lld}", (long long)r->subject_id);
    if ((rc = fr_store_audit_append(tx, actor, "face.create", target, r->request_id, details, NULL)) < 0)
        goto out;
    in_tx = 0;
    if ((rc = fr_store_tx_commit(tx)) < 0) goto out;
    /* committed: now searchable. A failure here is repaired at the next
     * start (the index digest differs from the database's). */
    if (fr_index_set_add(s->index, r->client_id, s->model_id, face_id, r->subject_id, f->f.emb) < 0)
        fr_log(FR_LOG_ERROR, "index: face %lld stored but not indexed: %s", (long long)face_id, fr_err_detail());
    pthread_mutex_unlock(&s->write_mu);
    locked = 0;
    *data_out = data;
    data = NULL;
    goto out;
replay:
    if (strcmp(prev.request_hash ? prev.request_hash : "", req_hash)) {
        rc = fr_err_set_at(FR_E_CONFLICT, "field", "Idempotency-Key",
                           "Idempotency-Key was used before with a different request");
    } else {
        *status_out = prev.status;
        rc = enroll_reply(prev.response, data_out);
    }
out:
    if (in_tx) fr_store_tx_rollback(tx);
    if (locked) pthread_mutex_unlock(&s->write_mu);
    fr_store_idem_free(&prev);
    fr_store_subject_free(&subj);
    analysis_free(&an);
    json_decref(data);
    fr_json_free(text);
    return rc;
}

/* ---- identify ---- */

int fr_svc_identify(struct fr_service *s, const struct fr_svc_identify_req *r, struct fr_svc_timing *t,
                    json_t **data_out, json_t **details_out) {
    struct analysis an = { 0 };
    struct fr_hit *hits = NULL;
    int *nhits = NULL;
    float *q = NULL;
    int64_t *ids = NULL;
    struct fr_store_subject *subj = NULL;
    size_t nids = 0;
    int rc;
    (void)details_out;
    *data_out = NULL;
    int k = r->top_k > 0 ? r->top_k : s->cfg.top_k;
    int ks = k < 2 ? 2 : k;     /* the runner-up subject is needed for the ambiguity rule */
    /* quality as detect and enrolment measure it: with the pose model */
    struct fr_svc_opts o = { r->max_faces > 0 ? r->max_faces : s->cfg.max_faces, r->liveness, 0, 1, 1 };
    if ((rc = analyze(s, r->photo, &o, 1, t, &an)) < 0) goto out;
    if (an.n == 0) { rc = no_face(NULL, NULL); goto out; }
    struct fr_svc_rule rule;
    fr__svc_threshold(s, r->client_id, r->threshold, r->fpir, &rule);
    const float thr = rule.threshold;
    hits = fr_malloc(sizeof *hits * (size_t)(an.n * ks));
    nhits = fr_malloc(sizeof *nhits * (size_t)an.n);
    q = fr_malloc(sizeof *q * (size_t)an.n * FR_FACE_EMB_DIM);
    ids = fr_malloc(sizeof *ids * (size_t)(an.n * ks));
    if (!hits || !nhits || !q || !ids) { rc = -FR_E_NOMEM; goto out; }
    for (int i = 0; i < an.n; i++) memcpy(q + (size_t)i * FR_FACE_EMB_DIM, an.faces[i].f.emb, sizeof(float) * FR_FACE_EMB_DIM);
    double t0 = fr_time_ms();
    if ((rc = fr_index_set_search(s->index, r->client_id, s->model_id, q, an.n, ks, -INFINITY, FR_INDEX_PER_LABEL,
                                  hits, nhits)) < 0)
        goto out;
    t->search += fr_time_ms() - t0;
    /* names of every candidate subject, one store call */
    for (int i = 0; i < an.n; i++)
        for (int j = 0; j < nhits[i]; j++) {
            int64_t l = hits[i * ks + j].label;
            size_t m = 0;
            while (m < nids && ids[m] != l) m++;
            if (m == nids) ids[nids++] = l;
        }
    if (nids) {
        subj = fr_calloc(nids, sizeof *subj);
        if (!subj) { rc = -FR_E_NOMEM; goto out; }
        for (size_t at = 0; at < nids; at += FR_STORE_LIST_MAX) {     /* the store takes 1000 at a time */
            size_t m = nids - at < FR_STORE_LIST_MAX ? nids - at : FR_STORE_LIST_MAX;
            if ((rc = fr_store_subject_get_many(s->store, r->client_id, ids + at, m, subj + at)) < 0) goto out;
        }
    }
    json_t *faces = json_array();
    for (int i = 0; i < an.n; i++) {
        json_t *cands = json_array(), *match = NULL;
        float best = -INFINITY, second = -INFINITY;
        int n_valid = 0;
        for (int j = 0; j < nhits[i]; j++) {
            const struct fr_hit *h = &hits[i * ks + j];
            size_t m = 0;
            while (m < nids && ids[m] != h->label) m++;
            if (m == nids || subj[m].id == 0) continue;     /* deleted meanwhile */
            if (n_valid == 0) best = h->score;
            else if (n_valid == 1) second = h->score;
            if (n_valid++ >= k) continue;
            json_t *c = json_pack("{s:I,s:s?,s:s,s:f,s:b}", "subject_id", (json_int_t)h->label, "external_id",
                                  subj[m].external_id, "name", subj[m].name, "similarity", r4(h->score), "passes",
                                  h->score >= thr);
            if (n_valid == 1) match = json_incref(c);
            json_array_append_new(cands, c);
        }
        struct svc_face *f = &an.faces[i];
        int d = fr_openset_decide(best, second, thr, rule.margin, f->q.reasons, !r->allow_low_quality);
        if (d != FR_DECISION_MATCH) {
            json_decref(match);
            match = json_null();
        }
        json_array_append_new(faces, json_pack("{s:o,s:f,s:o,s:o,s:o,s:s,s:o}", "box", box_json(f->f.box), "score",
                                               r4(f->f.score), "quality", quality_json(&f->q), "liveness",
                                               liveness_json(f, s->cfg.liveness_threshold), "candidates", cands,
                                               "decision", fr_decision_name(d), "match", match));
    }
    json_t *jr = json_pack("{s:f,s:s,s:f,s:I,s:f,s:b}", "threshold", r4(thr), "threshold_source", rule.source, "fpir",
                           rule.fpir, "gallery_size", (json_int_t)rule.gallery_size, "margin", r4(rule.margin),
                           "quality_gate", !r->allow_low_quality);
    if (jr && rule.calibration) {
        json_object_set_new(jr, "calibration", json_string(rule.calibration));
        if (rule.predicted_fpir >= 0) json_object_set_new(jr, "predicted_fpir", json_real(round(rule.predicted_fpir * 1e6) / 1e6));
        if (!strcmp(rule.calibration, "collection")) {
            json_object_set_new(jr, "calibration_pairs", json_integer((json_int_t)rule.pairs));
            json_object_set_new(jr, "calibration_shift", json_real(r4(rule.shift)));
        }
    }
    *data_out = json_pack("{s:o,s:f,s:o,s:s,s:i}", "faces", faces, "threshold", r4(thr), "decision_rule", jr,
                          "model_id", s->model_id, "faces_detected", an.n_detected);
    if (!*data_out) rc = -FR_E_NOMEM;
out:
    if (subj) fr_store_subjects_free(subj, nids);
    fr_free(hits);
    fr_free(nhits);
    fr_free(q);
    fr_free(ids);
    analysis_free(&an);
    return rc;
}

/* ---- verify ---- */

int fr_svc_verify(struct fr_service *s, const struct fr_svc_verify_req *r, struct fr_svc_timing *t,
                  json_t **data_out, json_t **details_out) {
    struct analysis a = { 0 }, b = { 0 };
    struct fr_store_face *rows = NULL;
    size_t n = 0;
    int rc;
    *data_out = NULL;
    float thr = r->threshold >= 0 ? r->threshold : s->cfg.match_threshold;
    /* two photos: the largest face of each (the 1:1 form). A photo against a
     * subject: every face of the photo, largest first up to max_faces (the
     * subject may stand beside a larger face), the best one reported. */
    struct fr_svc_opts o = { 1, 0, 0, 1, 0 };
    if (!r->b.buf) {
        struct fr_store_subject subj = { 0 };
        if ((rc = fr_store_subject_get(s->store, r->client_id, r->subject_id, &subj)) < 0) return rc;
        fr_store_subject_free(&subj);
        o.max_faces = s->cfg.max_faces;
    }
    if ((rc = analyze(s, r->a, &o, 0, t, &a)) < 0) goto out;
    if (a.n == 0) { rc = no_face(r->b.buf ? "photo_a" : "photo", details_out); goto out; }
    double sim = -1;
    if (r->b.buf) {
        if ((rc = analyze(s, r->b, &o, 0, t, &b)) < 0) goto out;
        if (b.n == 0) { rc = no_face("photo_b", details_out); goto out; }
        sim = fr_face_similarity_score(a.faces[0].f.emb, b.faces[0].f.emb);
        *data_out = json_pack("{s:f,s:f,s:b,s:o,s:o,s:i,s:i}", "similarity", r4(sim), "threshold", r4(thr), "match",
                              sim >= (double)thr, "box_a", box_json(a.faces[0].f.box), "box_b",
                              box_json(b.faces[0].f.box), "faces_detected_a", a.n_detected, "faces_detected_b",
                              b.n_detected);
    } else {
        if ((rc = fr_store_face_list(s->store, r->client_id, r->subject_id, &rows, &n)) < 0) goto out;
        int used = 0, best = 0;
        for (size_t i = 0; i < n; i++) {
            if (rows[i].dim != FR_FACE_EMB_DIM || strcmp(rows[i].model_id, s->model_id)) continue;
            for (int k = 0; k < a.n; k++) {
                double v = fr_face_similarity_score(a.faces[k].f.emb, rows[i].embedding);
                if (v > sim) {
                    sim = v;
                    best = k;
                }
            }
            used++;
        }
        if (!used) {
            *details_out = json_pack("{s:s}", "field", "subject_id");
            rc = fr_err_set(FR_E_VALIDATION_ERROR, "subject %lld has no enrolled faces", (long long)r->subject_id);
            goto out;
        }
        *data_out = json_pack("{s:f,s:f,s:b,s:I,s:i,s:o,s:i}", "similarity", r4(sim), "threshold", r4(thr), "match",
                              sim >= (double)thr, "subject_id", (json_int_t)r->subject_id, "faces_compared", used,
                              "box", box_json(a.faces[best].f.box), "faces_detected", a.n_detected);
    }
    if (!*data_out) rc = -FR_E_NOMEM;
out:
    fr_store_faces_free(rows, n);
    analysis_free(&a);
    analysis_free(&b);
    return rc;
}

/* ---- detect, embeddings ---- */

int fr_svc_detect(struct fr_service *s, struct fr_svc_photo p, int liveness, int attributes, struct fr_svc_timing *t,
                  json_t **data_out, json_t **details_out) {
    struct analysis an = { 0 };
    (void)details_out;
    *data_out = NULL;
    struct fr_svc_opts o = { 0, liveness, attributes, 0, 1 };
    int rc = analyze(s, p, &o, 1, t, &an);
    if (rc < 0) return rc;
    json_t *faces = json_array();
    for (int i = 0; i < an.n; i++) {
        struct svc_face *f = &an.faces[i];
        json_t *j = json_pack("{s:o,s:f,s:o,s:o,s:{s:f,s:f,s:f}}", "box", box_json(f->f.box), "score", r4(f->f.score),
                              "landmarks", landmarks_json(f->f.lm5), "quality", quality_json(&f->q), "pose", "yaw",
                              r4(f->q.yaw), "pitch", r4(f->q.pitch), "roll", r4(f->q.roll));
        if (j && liveness) json_object_set_new(j, "liveness", liveness_json(f, s->cfg.liveness_threshold));
        if (j && attributes) json_object_set_new(j, "attributes", attributes_json(&f->a));
        json_array_append_new(faces, j);
    }
    *data_out = json_pack("{s:o,s:i,s:i}", "faces", faces, "width", an.w, "height", an.h);
    analysis_free(&an);
    return *data_out ? 0 : -FR_E_NOMEM;
}

int fr_svc_embeddings(struct fr_service *s, struct fr_svc_photo p, const char *submission_id, struct fr_svc_timing *t,
                      json_t **data_out, json_t **details_out) {
    struct analysis an = { 0 };
    (void)details_out;
    *data_out = NULL;
    struct fr_svc_opts o = { 0, 0, 0, 1, 0 };
    int rc = analyze(s, p, &o, 0, t, &an);
    if (rc < 0) return rc;
    json_t *faces = json_array();
    for (int i = 0; i < an.n; i++)
        json_array_append_new(faces, json_pack("{s:o,s:f,s:o}", "box", box_json(an.faces[i].f.box), "score",
                                               r4(an.faces[i].f.score), "embedding", embedding_json(an.faces[i].f.emb)));
    *data_out = json_pack("{s:o,s:s,s:s?}", "faces", faces, "model_id", s->model_id, "submission_id", submission_id);
    analysis_free(&an);
    return *data_out ? 0 : -FR_E_NOMEM;
}

/* ---- re-embedding after a model change ---- */

int fr_svc_reembed(struct fr_service *s, struct fr_svc_reembed_stats *st) {
    memset(st, 0, sizeof *st);
    if (!s->model_id) return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "%s", s->models_error);
    int64_t after = 0;
    for (;;) {
        struct fr_store_face_key *keys = NULL;
        size_t n = 0;
        int rc = fr_store_face_stale(s->store, s->model_id, after, 100, &keys, &n);
        if (rc < 0) return rc;
        if (n == 0) {
            fr_free(keys);
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            const struct fr_store_face_key *k = &keys[i];
            uint8_t *photo = NULL;
            size_t len = 0;
            struct analysis an = { 0 };
            struct fr_svc_timing t = { 0 };
            struct fr_svc_opts o = { 1, 0, 0, 1, 1 };
            after = k->id;
            if (fr_store_face_image_get(s->store, k->client_id, k->id, &photo, &len) < 0 ||
                analyze(s, (struct fr_svc_photo){ photo, len, 0 }, &o, 1, &t, &an) < 0 || an.n == 0) {
                fr_log(FR_LOG_WARN, "re-embed: face %lld kept on its old model (%s)", (long long)k->id,
                       an.n == 0 && !fr_err_detail()[0] ? "no face found" : fr_err_detail());
                st->failed++;
                fr_free(photo);
                analysis_free(&an);
                continue;
            }
            const struct svc_face *f = &an.faces[0];
            char img_hash[65];
            sha256_hex(photo, len, NULL, img_hash);
            const float *b = f->f.box;
            struct fr_store_face_new nf = {
                .client_id = k->client_id, .subject_id = k->subject_id, .embedding = f->f.emb,
                .dim = FR_FACE_EMB_DIM, .model_id = s->model_id, .quality = f->q.score, .liveness = -1.0f,
                .bbox = { b[0], b[1], b[2] - b[0], b[3] - b[1] }, .image_sha256 = img_hash, .image = photo,
                .image_len = len
            };
            int64_t id = 0;
            char target[32], details[96];
            snprintf(target, sizeof target, "face:%lld", (long long)k->id);
            pthread_mutex_lock(&s->write_mu);
            fr_store *tx = NULL;
            rc = fr_store_tx_begin(s->store, &tx);
            if (rc == 0) rc = fr_store_face_add(tx, &nf, &id);
            if (rc == 0) rc = fr_store_face_delete(tx, k->client_id, k->id, NULL);
            if (rc == 0) {
                snprintf(details, sizeof details, "{\"new_face_id\":%lld,\"model_id\":\"%s\"}", (long long)id,
                         s->model_id);
                rc = fr_store_audit_append(tx, "admin:cli", "face.reembed", target, NULL, details, NULL);
            }
            if (rc == 0) rc = fr_store_tx_commit(tx);
            else fr_store_tx_rollback(tx);
            if (rc == 0) fr_index_set_add(s->index, k->client_id, s->model_id, id, k->subject_id, f->f.emb);
            pthread_mutex_unlock(&s->write_mu);
            fr_free(photo);
            analysis_free(&an);
            if (rc < 0) return rc;
            st->reembedded++;
        }
        fr_free(keys);
    }
}
