/* facerec — face liveness (anti-spoofing), head pose and a quality score.
 *
 * The two extra models (fr_liveness, fr_pose) live in their own loader so
 * the core pipeline (face.c) does not need them: struct fr_face_extra is
 * shared and read-only, struct fr_face_extra_ctx is per thread.
 *
 * Pre-processing, read from the package's lib/fr_liveness.js and fr_pose.js
 * and checked on real photos (see include/facerec/face.h for the numbers). */
#include "face_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_SIZE 128
#define POSE_SIZE 224
#define POSE_BINS 66
#define AL_SIZE 112

/* Measured on /work/shared/data/antispoof/silent-face (T1 live, F1 print,
 * F2 screen): see the numbers in face.h. */
#ifndef FR_LIVE_BGR
#define FR_LIVE_BGR 1
#endif
#ifndef FR_POSE_BGR
#define FR_POSE_BGR 0
#endif
#ifndef FR_LIVE_CLASS
#define FR_LIVE_CLASS 0
#endif

struct fr_face_extra {
    struct fr_nn_model *live, *pose;
    int pose_out[3];                /* graph output index of yaw, pitch, roll */
};

struct fr_face_extra_ctx {
    struct fr_face_extra *m;
    struct fr_nn_session *live, *pose;
    float *live_in, *pose_in;
};

int fr_face_extra_load(const char *dir, struct fr_face_extra **out) {
    struct fr_face_extra *m = fr_calloc(1, sizeof *m);
    int rc;
    *out = NULL;
    if (!m) return -FR_E_NOMEM;
    if ((rc = fr__face_model_load(dir, "fr_liveness", &m->live)) < 0 || (rc = fr__face_model_load(dir, "fr_pose", &m->pose)) < 0) {
        fr_face_extra_free(m);
        return rc;
    }
    int n = fr_nn_model_n_outputs(m->pose);
    if (n != 3) {
        fr_face_extra_free(m);
        return fr_err_set_at(FR_E_SERVICE_UNAVAILABLE, "model", "fr_pose", "model fr_pose: %d outputs, expected 3", n);
    }
    /* the package reads yaw from "output", pitch from "617", roll from "618";
     * fall back to graph order when the names differ */
    static const char *const names[3] = { "output", "617", "618" };
    for (int k = 0; k < 3; k++) {
        m->pose_out[k] = k;
        for (int i = 0; i < n; i++) {
            const char *nm = fr_nn_model_output(m->pose, i, NULL);
            if (nm && strcmp(nm, names[k]) == 0) m->pose_out[k] = i;
        }
    }
    *out = m;
    return 0;
}

void fr_face_extra_free(struct fr_face_extra *m) {
    if (!m) return;
    fr_nn_model_unref(m->live);
    fr_nn_model_unref(m->pose);
    fr_free(m);
}

int fr_face_extra_ctx_new(struct fr_face_extra *m, struct fr_face_extra_ctx **out) {
    struct fr_face_extra_ctx *c = fr_calloc(1, sizeof *c);
    int rc = 0;
    *out = NULL;
    if (!c) return -FR_E_NOMEM;
    c->m = m;
    c->live_in = fr_malloc_aligned(sizeof(float) * 3 * LIVE_SIZE * LIVE_SIZE);
    c->pose_in = fr_malloc_aligned(sizeof(float) * 3 * POSE_SIZE * POSE_SIZE);
    if (!c->live_in || !c->pose_in) { rc = -FR_E_NOMEM; goto fail; }
    if ((rc = fr_nn_session_new(m->live, 1, &c->live)) < 0 || (rc = fr_nn_session_new(m->pose, 1, &c->pose)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    fr_face_extra_ctx_free(c);
    return rc;
}

void fr_face_extra_ctx_free(struct fr_face_extra_ctx *c) {
    if (!c) return;
    fr_nn_session_free(c->live);
    fr_nn_session_free(c->pose);
    fr_free(c->live_in);
    fr_free(c->pose_in);
    fr_free(c);
}

/* ---- liveness ---- */

/* The three class probabilities with the given channel order (exported for
 * the calibration tool and tests; not in the public header). */
FR_API int fr_face_liveness_probs(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                                  int bgr, float probs[3]);
int fr_face_liveness_probs(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                           int bgr, float probs[3]) {
    if (!c || !img || !img->data || img->channels != 3 || !f || !probs)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "liveness: bad arguments");
    struct fr_image crop = { 0 }, small = { 0 };
    int rc;
    if ((rc = fr__face_scaled_crop(img, f, 2.7, &crop)) < 0) goto out;
    if ((rc = fr_image_resize(&crop, LIVE_SIZE, LIVE_SIZE, FR_RESIZE_BILINEAR, &small)) < 0) goto out;
    fr_image_to_chw(&small, NULL, NULL, bgr, c->live_in);
    struct fr_tensor in = { .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { 1, 3, LIVE_SIZE, LIVE_SIZE },
                            .data = c->live_in };
    struct fr_tensor o;
    if ((rc = fr_nn_session_run(c->live, &in, &o)) < 0) goto out;
    if (fr_tensor_numel(&o) != 3) {
        rc = fr_err_set(FR_E_IMAGE_PROCESSING_FAILED, "liveness: %lld outputs", (long long)fr_tensor_numel(&o));
        goto out;
    }
    double p[3];
    fr__face_softmax(o.data, 3, p);
    for (int i = 0; i < 3; i++) probs[i] = (float)p[i];
out:
    fr_image_free(&crop);
    fr_image_free(&small);
    return rc;
}

int fr_face_liveness(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                     float *p_live) {
    float probs[3] = { 0.0f, 0.0f, 0.0f };
    if (!p_live) return fr_err_set(FR_E_INVALID_ARGUMENT, "liveness: bad arguments");
    int rc = fr_face_liveness_probs(c, img, f, FR_LIVE_BGR, probs);
    if (rc < 0) return rc;
    *p_live = probs[FR_LIVE_CLASS];
    return 0;
}

/* ---- head pose ---- */

int fr_face_pose(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f, float ypr[3]) {
    if (!c || !img || !img->data || img->channels != 3 || !f || !ypr)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "pose: bad arguments");
    int x1 = (int)f->box[0], y1 = (int)f->box[1], x2 = (int)f->box[2], y2 = (int)f->box[3];
    int w = abs(x2 - x1), h = abs(y2 - y1);
    if (w < 1 || h < 1) return fr_err_set(FR_E_INVALID_ARGUMENT, "face box too small");
    /* grown by a quarter of the box on each side, clamped to the image */
    int gx = (int)((double)x1 - w / 4.0), gy = (int)((double)y1 - h / 4.0);
    int gx2 = (int)((double)x2 + w / 4.0), gy2 = (int)((double)y2 + h / 4.0);
    struct fr_image crop = { 0 }, small = { 0 };
    int rc;
    if ((rc = fr_image_crop(img, gx, gy, gx2, gy2, &crop)) < 0) goto out;
    if ((rc = fr_image_resize(&crop, POSE_SIZE, POSE_SIZE, FR_RESIZE_BILINEAR, &small)) < 0) goto out;
    /* ImageNet mean/std in R, G, B order on RGB planes (see face.h for the check) */
    static const float mean[3] = { 0.485f * 255, 0.456f * 255, 0.406f * 255 };
    static const float scale[3] = { 1.0f / (0.229f * 255), 1.0f / (0.224f * 255), 1.0f / (0.225f * 255) };
    fr_image_to_chw(&small, mean, scale, FR_POSE_BGR, c->pose_in);
    struct fr_tensor in = { .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { 1, 3, POSE_SIZE, POSE_SIZE },
                            .data = c->pose_in };
    struct fr_tensor o[3];
    if ((rc = fr_nn_session_run(c->pose, &in, o)) < 0) goto out;
    for (int k = 0; k < 3; k++) {
        const struct fr_tensor *t = &o[c->m->pose_out[k]];
        if (fr_tensor_numel(t) != POSE_BINS) {
            rc = fr_err_set(FR_E_IMAGE_PROCESSING_FAILED, "pose: output of %lld bins", (long long)fr_tensor_numel(t));
            goto out;
        }
        double p[POSE_BINS], s = 0;
        fr__face_softmax(t->data, POSE_BINS, p);
        for (int i = 0; i < POSE_BINS; i++) s += p[i] * i;
        ypr[k] = (float)(s * 3.0 - 99.0);
    }
out:
    fr_image_free(&crop);
    fr_image_free(&small);
    return rc;
}

/* ---- quality ---- */

const char *fr_face_quality_reason_name(unsigned bit) {
    switch (bit) {
    case FR_Q_LOW_SHARPNESS: return "LOW_SHARPNESS";
    case FR_Q_SMALL_FACE: return "SMALL_FACE";
    case FR_Q_EXTREME_POSE: return "EXTREME_POSE";
    case FR_Q_LOW_BRIGHTNESS: return "LOW_BRIGHTNESS";
    case FR_Q_LOW_CONFIDENCE: return "LOW_CONFIDENCE";
    default: return "UNKNOWN";
    }
}

static float clamp01(double v) { return (float)(v < 0 ? 0 : v > 1 ? 1 : v); }

int fr_face_quality(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                    const struct fr_face_quality_opts *o, struct fr_face_quality *q) {
    return fr_face_quality_aligned(c, img, f, NULL, o, q);
}

int fr_face_quality_aligned(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                            const struct fr_image *aligned, const struct fr_face_quality_opts *o,
                            struct fr_face_quality *q) {
    if (!img || !img->data || !f || !q) return fr_err_set(FR_E_INVALID_ARGUMENT, "quality: bad arguments");
    if (!f->has_landmarks) return fr_err_set(FR_E_INVALID_ARGUMENT, "quality: face has no landmarks");
    struct fr_face_quality_opts d = { 0 };
    if (o) d = *o;
    if (d.min_sharpness <= 0) d.min_sharpness = FR_Q_DEFAULT_MIN_SHARPNESS;
    if (d.min_eye_dist_px <= 0) d.min_eye_dist_px = FR_Q_DEFAULT_MIN_EYE_DIST;
    if (d.max_yaw <= 0) d.max_yaw = FR_Q_DEFAULT_MAX_YAW;
    if (d.max_pitch <= 0) d.max_pitch = FR_Q_DEFAULT_MAX_PITCH;
    if (d.max_roll <= 0) d.max_roll = FR_Q_DEFAULT_MAX_ROLL;
    if (d.min_brightness <= 0) d.min_brightness = FR_Q_DEFAULT_MIN_BRIGHTNESS;
    if (d.max_brightness <= 0) d.max_brightness = FR_Q_DEFAULT_MAX_BRIGHTNESS;
    if (d.min_det_score <= 0) d.min_det_score = FR_Q_DEFAULT_MIN_DET_SCORE;

    memset(q, 0, sizeof *q);
    struct fr_image al = { 0 };
    int rc = aligned ? 0 : fr_face_align(img, f->lm5, &al);
    if (rc < 0) return rc;
    const struct fr_image *a = aligned ? aligned : &al;
    double sharp = fr_image_laplacian_var(a), bright = fr_image_brightness(a);
    fr_image_free(&al);
    if (sharp < 0 || bright < 0) return fr_err_set(FR_E_IMAGE_PROCESSING_FAILED, "quality: %s", fr_err_detail());
    float ypr[3] = { 0.0f, 0.0f, 0.0f };
    if (c && (rc = fr_face_pose(c, img, f, ypr)) < 0) return rc;
    q->pose_measured = c != NULL;
    double ex = (double)f->lm5[2] - (double)f->lm5[0], ey = (double)f->lm5[3] - (double)f->lm5[1];
    q->sharpness = (float)sharp;
    q->brightness = (float)bright;
    q->eye_dist_px = (float)sqrt(ex * ex + ey * ey);
    q->yaw = ypr[0];
    q->pitch = ypr[1];
    q->roll = ypr[2];
    q->det_score = f->score;

    unsigned r = 0;
    if (q->sharpness < d.min_sharpness) r |= FR_Q_LOW_SHARPNESS;
    if (q->eye_dist_px < d.min_eye_dist_px) r |= FR_Q_SMALL_FACE;
    if (fabsf(q->yaw) > d.max_yaw || fabsf(q->pitch) > d.max_pitch || fabsf(q->roll) > d.max_roll)
        r |= FR_Q_EXTREME_POSE;
    if (q->brightness < d.min_brightness || q->brightness > d.max_brightness) r |= FR_Q_LOW_BRIGHTNESS;
    if (q->det_score < d.min_det_score) r |= FR_Q_LOW_CONFIDENCE;
    q->reasons = r;

    /* score: the product of per-factor terms in 0..1, each 1 well inside
     * its limit and falling to 0.5 at the threshold */
    double s_sharp = clamp01(0.5 * sqrt((double)q->sharpness / (double)d.min_sharpness));
    double s_size = clamp01(0.5 * (double)q->eye_dist_px / (double)d.min_eye_dist_px);
    double pose_r = fmax(fabs((double)q->yaw) / (double)d.max_yaw,
                         fmax(fabs((double)q->pitch) / (double)d.max_pitch, fabs((double)q->roll) / (double)d.max_roll));
    double s_pose = clamp01(1.0 - 0.5 * pose_r * pose_r);
    double mid = 0.5 * ((double)d.min_brightness + (double)d.max_brightness);
    double half = 0.5 * ((double)d.max_brightness - (double)d.min_brightness);
    double br = fabs((double)q->brightness - mid) / (half > 0 ? half : 1);
    double s_bright = clamp01(1.0 - 0.5 * br * br);
    double s_det = clamp01(0.5 + 0.5 * ((double)q->det_score - (double)d.min_det_score) /
                                     fmax(1e-6, 1.0 - (double)d.min_det_score));
    if (q->det_score < d.min_det_score) s_det = clamp01(0.5 * (double)q->det_score / (double)d.min_det_score);
    q->score = clamp01(s_sharp * s_size * s_pose * s_bright * s_det);
    return 0;
}
