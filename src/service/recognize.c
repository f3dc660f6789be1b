/* Enrol, identify, verify, detect, embeddings: the face pipeline over one
 * photo (or one decoded frame), then the store and the index. Results are
 * the structs of service.h; src/api/render.c gives them their JSON shape. */
#include "service/service_int.h"

#include "facerec/metrics.h"

#include <math.h>
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

/* What a request asks of the face pipeline. */
struct svc_opts {
    int max_faces;          /* 0: all */
    int liveness;           /* run the liveness model */
    int attributes;         /* age, gender, expression, eyes */
    int embed;              /* compute embeddings */
    int quality;            /* quality (+ pose when `pose`) */
    int pose;               /* quality with the pose model (enrolment, detect, identify: one quality
                               everywhere); embeddings and verify skip it */
    int select;             /* FR_FACE_ALL, or keep only the face fr_face_select_one picks */
    int whole_face;         /* the image is the face: no detection */
    int pad_retry;          /* no face found: search again inside a border (photos, not frames) */
    int tiling;             /* small faces: tiled detector passes */
    int min_face_px;        /* skip faces narrower than this (0: none) */
};

struct analysis {
    struct fr_svc_face *faces;
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

/* The pipeline over decoded pixels: detect (or, for o->whole_face, the whole
 * image as the face's box) → (largest first, up to max_faces; or, with
 * o->select, only the face fr_face_select_one picks among all detected)
 * landmarks → align → embed, quality, liveness, attributes as asked.
 * out->n_detected counts every detected face. *img may be replaced (the
 * padded retry); sx, sy scale results to the photo's pixels (a photo decoded
 * smaller than stored). */
static int analyze_image(struct fr_svc_ctx *c, struct fr_image *img, float sx, float sy,
                         const struct svc_opts *o, struct fr_svc_timing *t, struct analysis *out) {
    struct fr_face *faces = NULL;
    int n = 0, rc = 0;
    const float sm = 0.5f * (sx + sy);
    struct fr_face_quality_opts qo = { 0 };
    qo.min_eye_dist_px = FR_Q_DEFAULT_MIN_EYE_DIST / sm;
    const int dec_w = img->w, dec_h = img->h;
    int pad = 0;
    double t1 = fr_time_ms();
    if (o->whole_face) {   /* the whole photo is the face: its box, aligned by its own landmarks */
        faces = fr_calloc(1, sizeof *faces);
        if (!faces) return -FR_E_NOMEM;
        faces[0].box[2] = (float)img->w;
        faces[0].box[3] = (float)img->h;
        faces[0].score = 1.0f;
        n = 1;
    } else {
        struct fr_face_detect_opts dop = { 0 };
        dop.tiling = o->tiling;
        if ((rc = fr_face_detect(c->face, img, &dop, &faces, &n)) < 0) goto out;
        if (n == 0 && o->pad_retry && (rc = detect_padded(c->face, img, &faces, &n, &pad)) < 0) goto out;
    }
    double t2 = fr_time_ms();
    t->detect += t2 - t1;
    if (o->min_face_px > 0) {   /* frames: faces too small to recognise are not looked at */
        int m = 0;
        for (int i = 0; i < n; i++)
            if ((faces[i].box[2] - faces[i].box[0]) * sx >= (float)o->min_face_px) faces[m++] = faces[i];
        n = m;
    }
    out->n_detected = n;
    if (o->select != FR_FACE_ALL && n > 1) {     /* boxes and img are both in decoded pixels here */
        faces[0] = faces[fr_face_select_one(faces, n, img->w, img->h, o->select)];
        n = 1;
    }
    if (n > 1) qsort(faces, (size_t)n, sizeof *faces, cmp_area);
    if (o->max_faces > 0 && n > o->max_faces) n = o->max_faces;
    out->faces = fr_calloc((size_t)n + 1, sizeof *out->faces);
    if (!out->faces) { rc = -FR_E_NOMEM; goto out; }
    for (int i = 0; i < n; i++) {
        struct fr_svc_face *sf = &out->faces[i];
        sf->f = faces[i];
        double a = fr_time_ms();
        if ((rc = fr_face_landmarks(c->face, img, &sf->f)) < 0) goto out;
        double b = fr_time_ms();
        t->landmarks += b - a;
        struct fr_image al = { 0 };
        if (o->embed) {
            if ((rc = fr_face_align(img, sf->f.lm5, &al)) == 0) rc = fr_face_embed_aligned(c->face, &al, sf->f.emb);
            if (rc < 0) { fr_image_free(&al); goto out; }
            sf->f.has_emb = 1;
            t->embed += fr_time_ms() - b;
        }
        if (o->quality)   /* on the embedding's own alignment when there is one */
            rc = fr_face_quality_aligned(o->pose ? c->extra : NULL, img, &sf->f, al.data ? &al : NULL, &qo, &sf->q);
        fr_image_free(&al);
        if (rc < 0) goto out;
        if (o->liveness) {
            if ((rc = fr_face_liveness(c->extra, img, &sf->f, &sf->live)) < 0) goto out;
            sf->has_live = 1;
        }
        if (o->attributes) {
            if ((rc = fr_face_attributes(c->attr, img, &sf->f, &sf->a)) < 0) goto out;
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
    fr_free(faces);
    return rc;
}

/* A worker context able to do what o asks. */
static int ctx_for(struct fr_service *s, const struct svc_opts *o, struct fr_svc_ctx **out) {
    int rc = fr__svc_ctx_get(s, out);
    if (rc < 0) return rc;
    if (o->attributes && !(*out)->attr)
        rc = fr_err_set_at(FR_E_SERVICE_UNAVAILABLE, "model", "fr_age", "attributes unavailable: %s", s->attr_error);
    else if (o->liveness && !(*out)->extra)
        rc = fr_err_set_at(FR_E_SERVICE_UNAVAILABLE, "model", "fr_liveness", "liveness unavailable: %s",
                           s->extra_error);
    if (rc < 0) {
        fr__svc_ctx_put(s, *out);
        *out = NULL;
    }
    return rc;
}

/* A photo: decode (reduced where that loses nothing), then analyze_image. */
static int analyze(struct fr_service *s, struct fr_svc_photo p, struct svc_opts o, struct fr_svc_timing *t,
                   struct analysis *out) {
    struct fr_svc_ctx *c = NULL;
    struct fr_image img = { 0 };
    int rc;
    memset(out, 0, sizeof *out);
    if (!p.buf || !p.len) return fr_err_set(FR_E_PHOTO_FILE_REQUIRED, "the photo is empty");
    if ((rc = ctx_for(s, &o, &c)) < 0) return rc;
    o.whole_face = p.whole_face;
    o.pad_retry = 1;
    double t0 = fr_time_ms();
    struct fr_image_limits lim = { s->cfg.max_upload_bytes, s->cfg.max_pixels };
    int full_w = 0, full_h = 0;
    if ((rc = fr_image_decode_reduced(p.buf, p.len, &lim, o.tiling ? 1 << 30 : SVC_MIN_SHORT_SIDE, &img, &full_w,
                                      &full_h)) == 0) {
        t->decode += fr_time_ms() - t0;
        out->w = full_w;
        out->h = full_h;
        rc = analyze_image(c, &img, (float)full_w / (float)img.w, (float)full_h / (float)img.h, &o, t, out);
    }
    fr__svc_ctx_put(s, c);
    fr_image_free(&img);
    if (rc < 0) analysis_free(out);
    return rc;
}

static int need_index(const struct fr_service *s) {
    int rc = fr__svc_need_store(s);
    if (rc == 0 && !s->index) rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "the index is not loaded by this command");
    return rc;
}

static int no_face(const char *which) {
    if (!which) return fr_err_set(FR_E_NO_FACE_IN_PHOTO, "no face detected in the photo");
    return fr_err_set_at(FR_E_NO_FACE_IN_PHOTO, "photo", which, "no face detected in %s", which);
}

/* ---- detect, embeddings ---- */

void fr_svc_faces_free(struct fr_svc_faces *r) {
    fr_free(r->faces);
    memset(r, 0, sizeof *r);
}

static int faces_of(struct fr_service *s, const struct fr_svc_analyze_req *r, int embed, struct fr_svc_timing *t,
                    struct fr_svc_faces *out) {
    struct analysis an;
    memset(out, 0, sizeof *out);
    struct svc_opts o = { 0 };
    o.max_faces = r->max_faces;
    o.liveness = r->liveness;
    o.attributes = r->attributes;
    o.tiling = r->small_faces;
    o.embed = embed;
    o.quality = !embed;
    o.pose = !embed;
    int rc = analyze(s, r->photo, o, t, &an);
    if (rc < 0) return rc;
    *out = (struct fr_svc_faces){ an.faces, an.n, an.n_detected, an.w, an.h, s->model_id };
    for (int i = 0; o.quality && i < an.n; i++) fr_metric_observe(s->m.embedding_quality, an.faces[i].q.score);
    return 0;
}

int fr_svc_detect(struct fr_service *s, const struct fr_svc_analyze_req *r, struct fr_svc_timing *t,
                  struct fr_svc_faces *out) {
    return faces_of(s, r, 0, t, out);
}

int fr_svc_embeddings(struct fr_service *s, const struct fr_svc_analyze_req *r, struct fr_svc_timing *t,
                      struct fr_svc_faces *out) {
    return faces_of(s, r, 1, t, out);
}

/* ---- enrol ---- */

void fr_svc_enroll_result_free(struct fr_svc_enroll_result *r) {
    fr_free(r->replay);
    memset(r, 0, sizeof *r);
}

int fr_svc_enroll_hash(const struct fr_svc_enroll_req *r, char out[65]) {
    /* the photo, the subject, and select when not the default (so keys
     * stored before select existed still match their retries) */
    char idpath[48];
    const char *sel = fr_face_select_name(r->select);
    if (!sel) return fr_err_set(FR_E_INVALID_ARGUMENT, "unknown face selection %d", r->select);
    if (r->select == FR_FACE_ALL) snprintf(idpath, sizeof idpath, "%lld", (long long)r->subject_id);
    else snprintf(idpath, sizeof idpath, "%lld;select=%s", (long long)r->subject_id, sel);
    return fr_sha256_hex(r->photo.buf, r->photo.buf ? r->photo.len : 0, idpath, strlen(idpath), out);
}

/* A key seen before: the first answer again, or CONFLICT for another request. */
static int replay(const struct fr_svc_enroll_req *r, struct fr_store_idem *prev, struct fr_svc_enroll_result *out) {
    if (strcmp(prev->request_hash ? prev->request_hash : "", r->idem.request_hash ? r->idem.request_hash : ""))
        return fr_err_set_at(FR_E_CONFLICT, "field", "Idempotency-Key",
                             "Idempotency-Key was used before with a different request");
    out->status = prev->status;
    out->replay = prev->response;
    prev->response = NULL;
    return 0;
}

/* face.enrolled, in the enrolment's transaction. */
static int enrolled_event(struct fr_service *s, fr_store *tx, const struct fr_svc_enroll_req *r,
                          const struct fr_svc_enroll_result *out, const struct fr_svc_subject *subj) {
    struct fr__jw w;
    char *data = NULL;
    int rc = fr__jw_begin(&w);
    if (rc < 0) return rc;
    fr__jw_open(&w, "face", 0);
    fr__jw_int(&w, "id", out->face_id);
    fr__jw_int(&w, "subject_id", r->subject_id);
    fr__jw_str(&w, "model_id", out->model_id);
    fr__jw_num(&w, "quality", out->face.q.score);
    if (out->face.has_live) fr__jw_num(&w, "liveness", out->face.live);
    else fr__jw_null(&w, "liveness");
    fr__jw_open(&w, "box", 1);
    for (int k = 0; k < 4; k++) fr__jw_num(&w, NULL, out->face.f.box[k]);
    fr__jw_close(&w);
    fr__jw_close(&w);
    fr__jw_subject(&w, "subject", subj->id, subj->external_id, subj->name);
    if ((rc = fr__jw_end(&w, &data)) < 0) return rc;
    rc = fr__svc_emit(s, tx, r->who.client_id, "face.enrolled", data, 0, NULL);
    fr_free(data);
    return rc;
}

int fr_svc_enroll(struct fr_service *s, const struct fr_svc_enroll_req *r, struct fr_svc_timing *t,
                  struct fr_svc_enroll_result *out) {
    struct analysis an = { 0 };
    struct fr_svc_subject subj = { 0 };
    struct fr_store_idem prev = { 0 };
    const int64_t client = r->who.client_id;
    const char *key = r->idem.key;
    char *text = NULL;
    fr_store *tx = NULL;
    int rc, in_tx = 0, locked = 0;
    memset(out, 0, sizeof *out);
    out->status = 201;
    if ((rc = fr__svc_need_store(s)) < 0) return rc;
    const char *sel = fr_face_select_name(r->select);
    if (!sel) return fr_err_set(FR_E_INVALID_ARGUMENT, "unknown face selection %d", r->select);
    /* a retry: the first answer, without running the models again */
    if (key) {
        rc = fr_store_idem_get(s->store, client, key, &prev);
        if (rc == 0) goto replay;
        if (rc != -FR_E_NOT_FOUND) return rc;
    }
    if ((rc = fr_svc_subject_get(s, client, r->subject_id, &subj)) < 0) goto out;
    int live = r->liveness || s->cfg.require_liveness;
    /* max_faces 0: with select, the pick is made among every detected face */
    struct svc_opts o = { 0 };
    o.liveness = live;
    o.embed = o.quality = o.pose = 1;
    o.select = r->select;
    if ((rc = analyze(s, r->photo, o, t, &an)) < 0) goto out;
    out->faces = an.n;
    out->faces_detected = an.n_detected;
    out->subject_id = r->subject_id;
    out->model_id = s->model_id;
    out->selected = an.n_detected == 1 ? "only" : sel;
    if (an.n == 0) { rc = no_face(NULL); goto out; }
    if (an.n > 1) {
        rc = fr_err_set(FR_E_MULTIPLE_FACES_DETECTED,
                        "%d faces in the photo; enrolment needs exactly one (or select=largest|central)", an.n);
        goto out;
    }
    /* the quality and liveness gates below judge the selected face only */
    const struct fr_svc_face *f = &an.faces[0];
    out->face = *f;
    if (f->q.reasons || f->q.score < s->cfg.quality_threshold) {
        rc = fr_err_set(FR_E_LOW_QUALITY_FACE, "face quality %.3f is too low for enrolment", (double)f->q.score);
        goto out;
    }
    if (live && f->live < s->cfg.liveness_threshold) {
        rc = fr_err_set(FR_E_SPOOF_DETECTED, "liveness %.3f is below %.2f", (double)f->live,
                        (double)s->cfg.liveness_threshold);
        goto out;
    }
    char img_hash[65];
    if ((rc = fr_sha256_hex(r->photo.buf, r->photo.len, NULL, 0, img_hash)) < 0) goto out;
    const float *b = f->f.box;
    struct fr_store_face_new nf = {
        .client_id = client, .subject_id = r->subject_id, .embedding = f->f.emb, .dim = FR_FACE_EMB_DIM,
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
    if (key && fr_store_idem_get(tx, client, key, &prev) == 0) {
        fr_store_tx_rollback(tx);
        in_tx = 0;
        pthread_mutex_unlock(&s->write_mu);
        locked = 0;
        goto replay;
    }
    if ((rc = fr_store_face_add(tx, &nf, &out->face_id)) < 0) goto out;
    out->created_at = fr_now_ms();
    if (key && r->idem.render) {
        if ((rc = r->idem.render(r->idem.ctx, out, &text)) < 0 ||
            (rc = fr_store_idem_put(tx, client, key, r->idem.request_hash, out->status, text)) < 0)
            goto out;
    }
    char details[48];
    snprintf(details, sizeof details, "{\"subject_id\":%lld}", (long long)r->subject_id);
    if ((rc = fr__svc_audit(s, tx, &r->who, "face.create", "face:%lld", out->face_id, details)) < 0 ||
        (rc = enrolled_event(s, tx, r, out, &subj)) < 0)
        goto out;
    in_tx = 0;
    if ((rc = fr_store_tx_commit(tx)) < 0) goto out;
    fr__svc_events_committed(s);
    /* committed: now searchable. A failure here is repaired at the next
     * start (the index digest differs from the database's). */
    if (s->index && fr_index_set_add(s->index, client, s->model_id, out->face_id, r->subject_id, f->f.emb) < 0)
        fr_log(FR_LOG_ERROR, "index: face %lld stored but not indexed: %s", (long long)out->face_id, fr_err_detail());
    goto out;
replay:
    rc = replay(r, &prev, out);
out:
    if (in_tx) fr_store_tx_rollback(tx);
    if (locked) pthread_mutex_unlock(&s->write_mu);
    fr_store_idem_free(&prev);
    fr_svc_subject_free(&subj);
    analysis_free(&an);
    fr_free(text);
    return rc;
}

/* ---- identify ---- */

void fr_svc_identify_result_free(struct fr_svc_identify_result *r) {
    for (int i = 0; r->faces && i < r->n; i++) {
        for (int j = 0; j < r->faces[i].n_cands; j++) {
            fr_free(r->faces[i].cands[j].name);
            fr_free(r->faces[i].cands[j].external_id);
        }
        fr_free(r->faces[i].cands);
    }
    fr_free(r->faces);
    memset(r, 0, sizeof *r);
}

/* The search and the decision for every face of an analysis. */
static int decide(struct fr_service *s, const struct fr_svc_identify_req *r, struct analysis *an,
                  struct fr_svc_timing *t, struct fr_svc_identify_result *out) {
    struct fr_hit *hits = NULL;
    int *nhits = NULL;
    float *q = NULL;
    int64_t *ids = NULL;
    struct fr_store_subject *subj = NULL;
    size_t nids = 0;
    int rc = 0;
    const int k = r->top_k > 0 ? r->top_k : s->cfg.top_k;
    const int ks = k < 2 ? 2 : k;     /* the runner-up subject is needed for the ambiguity rule */
    fr__svc_threshold(s, r->client_id, r->threshold, r->fpir, &out->rule);
    out->quality_gate = !r->allow_low_quality;
    const float thr = out->rule.threshold;
    out->faces = fr_calloc((size_t)an->n + 1, sizeof *out->faces);
    if (!out->faces) return -FR_E_NOMEM;
    if (an->n == 0) return 0;
    hits = fr_malloc(sizeof *hits * (size_t)(an->n * ks));
    nhits = fr_malloc(sizeof *nhits * (size_t)an->n);
    q = fr_malloc(sizeof *q * (size_t)an->n * FR_FACE_EMB_DIM);
    ids = fr_malloc(sizeof *ids * (size_t)(an->n * ks));
    if (!hits || !nhits || !q || !ids) { rc = -FR_E_NOMEM; goto out; }
    for (int i = 0; i < an->n; i++) memcpy(q + (size_t)i * FR_FACE_EMB_DIM, an->faces[i].f.emb, sizeof(float) * FR_FACE_EMB_DIM);
    double t0 = fr_time_ms();
    if ((rc = fr_index_set_search(s->index, r->client_id, s->model_id, q, an->n, ks, -INFINITY, FR_INDEX_PER_LABEL,
                                  hits, nhits)) < 0)
        goto out;
    t->search += fr_time_ms() - t0;
    /* names of every candidate subject, one store call per 1000 */
    for (int i = 0; i < an->n; i++)
        for (int j = 0; j < nhits[i]; j++) {
            int64_t l = hits[i * ks + j].label;
            size_t m = 0;
            while (m < nids && ids[m] != l) m++;
            if (m == nids) ids[nids++] = l;
        }
    if (nids) {
        subj = fr_calloc(nids, sizeof *subj);
        if (!subj) { rc = -FR_E_NOMEM; goto out; }
        for (size_t at = 0; at < nids; at += FR_STORE_LIST_MAX) {
            size_t m = nids - at < FR_STORE_LIST_MAX ? nids - at : FR_STORE_LIST_MAX;
            rc = fr_store_subject_get_many(s->store, r->client_id, ids + at, m, subj + at);
            if (rc == 0) fr__svc_cache_subjects_put(s, r->client_id, subj + at, m);
            else if (fr__svc_store_away(rc))   /* the database is away: the index's subjects, names as last read */
                rc = fr__svc_cache_subjects_get(s, r->client_id, ids + at, m, subj + at);
            if (rc < 0) goto out;
        }
    }
    for (int i = 0; i < an->n; i++) {
        struct fr_svc_identified *o = &out->faces[i];
        o->face = an->faces[i];
        o->match = -1;
        o->cands = fr_calloc((size_t)k + 1, sizeof *o->cands);
        out->n = i + 1;
        if (!o->cands) { rc = -FR_E_NOMEM; goto out; }
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
            struct fr_svc_candidate *c = &o->cands[o->n_cands++];
            c->subject_id = h->label;
            c->similarity = h->score;
            c->passes = h->score >= thr;
            c->name = fr_strdup(subj[m].name ? subj[m].name : "");
            c->external_id = subj[m].external_id ? fr_strdup(subj[m].external_id) : NULL;
            if (!c->name || (subj[m].external_id && !c->external_id)) { rc = -FR_E_NOMEM; goto out; }
        }
        o->decision = fr_openset_decide(best, second, thr, out->rule.margin, o->face.q.reasons, !r->allow_low_quality);
        fr_metric_observe(s->m.embedding_quality, o->face.q.score);
        fr_metric_inc(s->m.identify_decisions, fr_decision_name(o->decision));
        if (o->decision == FR_DECISION_MATCH) o->match = 0;
    }
out:
    if (subj) fr_store_subjects_free(subj, nids);
    fr_free(hits);
    fr_free(nhits);
    fr_free(q);
    fr_free(ids);
    return rc;
}

static struct svc_opts identify_opts(const struct fr_service *s, const struct fr_svc_identify_req *r) {
    struct svc_opts o = { 0 };
    o.max_faces = r->max_faces > 0 ? r->max_faces : s->cfg.max_faces;
    o.liveness = r->liveness;
    o.embed = o.quality = o.pose = 1;    /* quality as detect and enrolment measure it: with the pose model */
    o.min_face_px = r->min_face_px;
    return o;
}

/* identify.completed (opt-in): what was decided, on its own (identify changes nothing). */
static void identified_event(struct fr_service *s, int64_t client, const struct fr_svc_identify_result *res) {
    struct fr__jw w;
    char *data = NULL;
    if (fr__jw_begin(&w) < 0) return;
    fr__jw_int(&w, "faces_detected", res->faces_detected);
    fr__jw_str(&w, "model_id", res->model_id);
    fr__jw_num(&w, "threshold", res->rule.threshold);
    fr__jw_open(&w, "faces", 1);
    for (int i = 0; i < res->n; i++) {
        const struct fr_svc_identified *f = &res->faces[i];
        fr__jw_open(&w, NULL, 0);
        fr__jw_str(&w, "decision", fr_decision_name(f->decision));
        fr__jw_num(&w, "quality", f->face.q.score);
        if (f->match >= 0) {
            const struct fr_svc_candidate *c = &f->cands[f->match];
            fr__jw_subject(&w, "subject", c->subject_id, c->external_id, c->name);
            fr__jw_num(&w, "similarity", c->similarity);
        } else {
            fr__jw_null(&w, "subject");
            fr__jw_null(&w, "similarity");
        }
        fr__jw_close(&w);
    }
    fr__jw_close(&w);
    if (fr__jw_end(&w, &data) < 0) return;
    if (fr__svc_emit(s, NULL, client, "identify.completed", data, 0, NULL) < 0)
        fr_log(FR_LOG_WARN, "identify.completed not written: %s", fr_err_detail());
    else fr__svc_events_committed(s);
    fr_free(data);
}

int fr_svc_identify(struct fr_service *s, const struct fr_svc_identify_req *r, struct fr_svc_timing *t,
                    struct fr_svc_identify_result *out) {
    struct analysis an = { 0 };
    memset(out, 0, sizeof *out);
    int rc = need_index(s);
    if (rc < 0 || (rc = analyze(s, r->photo, identify_opts(s, r), t, &an)) < 0) return rc;
    out->faces_detected = an.n_detected;
    out->model_id = s->model_id;
    if (an.n == 0) rc = no_face(NULL);
    else rc = decide(s, r, &an, t, out);
    analysis_free(&an);
    if (rc < 0) fr_svc_identify_result_free(out);
    else identified_event(s, r->client_id, out);
    return rc;
}

int fr_svc_identify_frame(struct fr_service *s, const struct fr_image *frame, const struct fr_svc_identify_req *r,
                          struct fr_svc_timing *t, struct fr_svc_identify_result *out) {
    struct analysis an = { 0 };
    struct fr_svc_ctx *c = NULL;
    struct fr_image img = *frame;     /* analyze_image replaces it only on the padded retry, off here */
    memset(out, 0, sizeof *out);
    struct svc_opts o = identify_opts(s, r);
    int rc = need_index(s);
    if (rc < 0 || (rc = ctx_for(s, &o, &c)) < 0) return rc;
    rc = analyze_image(c, &img, 1.0f, 1.0f, &o, t, &an);
    fr__svc_ctx_put(s, c);
    an.w = frame->w;
    an.h = frame->h;
    out->faces_detected = an.n_detected;
    out->model_id = s->model_id;
    if (rc == 0) rc = decide(s, r, &an, t, out);
    analysis_free(&an);
    if (rc < 0) fr_svc_identify_result_free(out);
    return rc;
}

/* ---- verify ---- */

/* verify.completed (opt-in). */
static void verified_event(struct fr_service *s, int64_t client, const struct fr_svc_verify_result *res) {
    struct fr__jw w;
    char *data = NULL;
    if (!s->store || client <= 0 || fr__jw_begin(&w) < 0) return;
    fr__jw_bool(&w, "match", res->match);
    fr__jw_num(&w, "similarity", res->similarity);
    fr__jw_num(&w, "threshold", res->threshold);
    if (res->two_photos) fr__jw_null(&w, "subject_id");
    else fr__jw_int(&w, "subject_id", res->subject_id);
    if (fr__jw_end(&w, &data) < 0) return;
    if (fr__svc_emit(s, NULL, client, "verify.completed", data, 0, NULL) < 0)
        fr_log(FR_LOG_WARN, "verify.completed not written: %s", fr_err_detail());
    else fr__svc_events_committed(s);
    fr_free(data);
}

int fr_svc_verify(struct fr_service *s, const struct fr_svc_verify_req *r, struct fr_svc_timing *t,
                  struct fr_svc_verify_result *out) {
    struct analysis a = { 0 }, b = { 0 };
    struct fr_store_face *rows = NULL;
    size_t n = 0;
    int rc;
    memset(out, 0, sizeof *out);
    out->threshold = r->threshold >= 0 ? r->threshold : s->cfg.match_threshold;
    out->two_photos = r->b.buf != NULL;
    /* two photos: the largest face of each (the 1:1 form). A photo against a
     * subject: every face of the photo, largest first up to max_faces (the
     * subject may stand beside a larger face), the best one reported. */
    struct svc_opts o = { 0 };
    o.max_faces = 1;
    o.embed = 1;
    if (!r->b.buf) {
        struct fr_svc_subject subj;
        if ((rc = fr_svc_subject_get(s, r->client_id, r->subject_id, &subj)) < 0) return rc;
        fr_svc_subject_free(&subj);
        o.max_faces = s->cfg.max_faces;
        out->subject_id = r->subject_id;
    }
    if ((rc = analyze(s, r->a, o, t, &a)) < 0) goto out;
    out->faces_detected_a = a.n_detected;
    if (a.n == 0) { rc = no_face(r->b.buf ? "photo_a" : "photo"); goto out; }
    double sim = -1;
    if (r->b.buf) {
        if ((rc = analyze(s, r->b, o, t, &b)) < 0) goto out;
        out->faces_detected_b = b.n_detected;
        if (b.n == 0) { rc = no_face("photo_b"); goto out; }
        sim = fr_face_similarity_score(a.faces[0].f.emb, b.faces[0].f.emb);
        memcpy(out->box_a, a.faces[0].f.box, sizeof out->box_a);
        memcpy(out->box_b, b.faces[0].f.box, sizeof out->box_b);
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
            rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "subject_id", "subject %lld has no enrolled faces",
                               (long long)r->subject_id);
            goto out;
        }
        out->faces_compared = used;
        memcpy(out->box_a, a.faces[best].f.box, sizeof out->box_a);
    }
    out->similarity = sim;
    out->match = sim >= (double)out->threshold;
    verified_event(s, r->client_id, out);
out:
    fr_store_faces_free(rows, n);
    analysis_free(&a);
    analysis_free(&b);
    return rc;
}

/* ---- re-embedding after a model change ---- */

int fr_svc_reembed(struct fr_service *s, struct fr_svc_reembed_stats *st) {
    memset(st, 0, sizeof *st);
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    if (!s->model_id) return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "%s", s->models_error);
    const struct fr_svc_actor who = { 0, "admin:cli", NULL };
    int64_t after = 0;
    for (;;) {
        struct fr_store_face_key *keys = NULL;
        size_t n = 0;
        if ((rc = fr_store_face_stale(s->store, s->model_id, after, 100, &keys, &n)) < 0) return rc;
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
            struct svc_opts o = { 0 };
            o.max_faces = 1;
            o.embed = o.quality = o.pose = 1;
            after = k->id;
            if (fr_store_face_image_get(s->store, k->client_id, k->id, &photo, &len) < 0 ||
                analyze(s, (struct fr_svc_photo){ photo, len, 0 }, o, &t, &an) < 0 || an.n == 0) {
                fr_log(FR_LOG_WARN, "re-embed: face %lld kept on its old model (%s)", (long long)k->id,
                       an.n == 0 && !fr_err_detail()[0] ? "no face found" : fr_err_detail());
                st->failed++;
                fr_free(photo);
                analysis_free(&an);
                continue;
            }
            const struct fr_svc_face *f = &an.faces[0];
            char img_hash[65];
            fr_sha256_hex(photo, len, NULL, 0, img_hash);
            const float *b = f->f.box;
            struct fr_store_face_new nf = {
                .client_id = k->client_id, .subject_id = k->subject_id, .embedding = f->f.emb,
                .dim = FR_FACE_EMB_DIM, .model_id = s->model_id, .quality = f->q.score, .liveness = -1.0f,
                .bbox = { b[0], b[1], b[2] - b[0], b[3] - b[1] }, .image_sha256 = img_hash, .image = photo,
                .image_len = len
            };
            int64_t id = 0;
            char details[96];
            pthread_mutex_lock(&s->write_mu);
            fr_store *tx = NULL;
            rc = fr_store_tx_begin(s->store, &tx);
            if (rc == 0) rc = fr_store_face_add(tx, &nf, &id);
            if (rc == 0) rc = fr_store_face_delete(tx, k->client_id, k->id, NULL);
            if (rc == 0) {
                snprintf(details, sizeof details, "{\"new_face_id\":%lld,\"model_id\":\"%s\"}", (long long)id,
                         s->model_id);
                rc = fr__svc_audit(s, tx, &who, "face.reembed", "face:%lld", k->id, details);
            }
            if (rc == 0) rc = fr_store_tx_commit(tx);
            else if (tx) fr_store_tx_rollback(tx);
            if (rc == 0 && s->index) fr_index_set_add(s->index, k->client_id, s->model_id, id, k->subject_id, f->f.emb);
            pthread_mutex_unlock(&s->write_mu);
            fr_free(photo);
            analysis_free(&an);
            if (rc < 0) return rc;
            st->reembedded++;
        }
        fr_free(keys);
    }
}
