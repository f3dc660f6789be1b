/* facerec — face attributes: age, gender, expression, eye openness.
 *
 * Four more models (fr_age, fr_gender, fr_expression, fr_eye), loaded apart
 * from the core pipeline. Pre- and post-processing follow the package's
 * lib/fr_age.js, fr_gender.js, fr_expression.js and fr_eye.js; the channel
 * orders and class meanings were measured on real photos (see face.h). */
#include "face_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSR_SIZE 64
#define EXPR_SIZE 224
#define EXPR_N 7
#define EYE_SIZE 24

/* Channel orders and class meanings, measured with both orders on the
 * fixtures and deepface's dataset photos (Angelina Jolie img1,2,4,5,6,7,10,11):
 *  - gender_male on the 8 Jolie photos: B,G,R planes 0.014-0.60 (7 of 8
 *    below 0.5), R,G,B planes 0.025-1.0 (3 of 8 below 0.5); Aaron Peirsol
 *    0.962 / 0.983, Obama 1.000 / 0.539. So B, G, R (cv2-trained, like
 *    fr_feature and fr_liveness), used for age too (Aaron_Peirsol_0001:
 *    31.2 BGR / 37.1 RGB).
 *  - eyes: class 1 wins (> 0.99) on open frontal eyes (Aaron, Obama, most
 *    of deepface), class 0 on squinting/laughing eyes: class 1 = open (the
 *    JS's "left_res[0] > left_res[1]" is true for CLOSED). Grey weights as
 *    the JS's cvtColor(BGR2GRAY) on R,G,B data; the two orders agree here.
 *  - expression: the package has no labels; the FER2013 order is assumed:
 *    class 3 (happy) wins on every smiling face, 6 (neutral) on the
 *    straight-faced antispoof F1/F2. Order B,G,R for consistency; R,G,B
 *    gives the same winner on most photos (unverified which is right). */
#ifndef FR_SSR_BGR
#define FR_SSR_BGR 1
#endif
#ifndef FR_EXPR_BGR
#define FR_EXPR_BGR 1
#endif
#ifndef FR_EYE_BGR
#define FR_EYE_BGR 1                /* grey weights as the JS's BGR2GRAY on RGBA */
#endif
#ifndef FR_EYE_OPEN_CLASS
#define FR_EYE_OPEN_CLASS 1
#endif

static const char *const expr_names[EXPR_N] = {
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"
};

struct fr_face_attr_models {
    struct fr_nn_model *age, *gender, *expr, *eye;
    int age_out[9], gender_out[9];  /* graph output index of each SSR-Net tensor */
};

struct fr_face_attr_ctx {
    struct fr_face_attr_models *m;
    struct fr_nn_session *age, *gender, *expr, *eye;
    float *ssr_in, *expr_in, *eye_in;
};

/* The package reads the 9 SSR-Net outputs by name, in this order. */
static const char *const ssr_names[9] = {
    "prob_stage_1", "prob_stage_2", "prob_stage_3", "stage1_delta_k", "stage2_delta_k", "stage3_delta_k",
    "index_offset_stage1", "index_offset_stage2", "index_offset_stage3"
};

static int map_ssr(struct fr_nn_model *m, const char *name, int idx[9]) {
    int n = fr_nn_model_n_outputs(m);
    if (n != 9) return fr_err_set_at(FR_E_SERVICE_UNAVAILABLE, "model", name, "model %s: %d outputs, expected 9", name, n);
    for (int k = 0; k < 9; k++) {
        idx[k] = k;
        for (int i = 0; i < n; i++) {
            const char *nm = fr_nn_model_output(m, i, NULL);
            if (nm && strcmp(nm, ssr_names[k]) == 0) idx[k] = i;
        }
    }
    return 0;
}

int fr_face_attr_load(const char *dir, struct fr_face_attr_models **out) {
    struct fr_face_attr_models *m = fr_calloc(1, sizeof *m);
    int rc;
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "attributes: bad arguments");
    *out = NULL;
    if (!m) return -FR_E_NOMEM;
    if ((rc = fr__face_model_load(dir, "fr_age", &m->age)) < 0 || (rc = fr__face_model_load(dir, "fr_gender", &m->gender)) < 0 ||
        (rc = fr__face_model_load(dir, "fr_expression", &m->expr)) < 0 || (rc = fr__face_model_load(dir, "fr_eye", &m->eye)) < 0 ||
        (rc = map_ssr(m->age, "fr_age", m->age_out)) < 0 || (rc = map_ssr(m->gender, "fr_gender", m->gender_out)) < 0) {
        fr_face_attr_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void fr_face_attr_free(struct fr_face_attr_models *m) {
    if (!m) return;
    fr_nn_model_unref(m->age);
    fr_nn_model_unref(m->gender);
    fr_nn_model_unref(m->expr);
    fr_nn_model_unref(m->eye);
    fr_free(m);
}

int fr_face_attr_ctx_new(struct fr_face_attr_models *m, struct fr_face_attr_ctx **out) {
    if (!m || !out) return fr_err_set(FR_E_INVALID_ARGUMENT, "attributes: bad arguments");
    struct fr_face_attr_ctx *c = fr_calloc(1, sizeof *c);
    int rc = 0;
    *out = NULL;
    if (!c) return -FR_E_NOMEM;
    c->m = m;
    c->ssr_in = fr_malloc_aligned(sizeof(float) * 3 * SSR_SIZE * SSR_SIZE);
    c->expr_in = fr_malloc_aligned(sizeof(float) * 3 * EXPR_SIZE * EXPR_SIZE);
    c->eye_in = fr_malloc_aligned(sizeof(float) * EYE_SIZE * EYE_SIZE);
    if (!c->ssr_in || !c->expr_in || !c->eye_in) { rc = -FR_E_NOMEM; goto fail; }
    if ((rc = fr_nn_session_new(m->age, 1, &c->age)) < 0 || (rc = fr_nn_session_new(m->gender, 1, &c->gender)) < 0 ||
        (rc = fr_nn_session_new(m->expr, 1, &c->expr)) < 0 || (rc = fr_nn_session_new(m->eye, 1, &c->eye)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    fr_face_attr_ctx_free(c);
    return rc;
}

void fr_face_attr_ctx_free(struct fr_face_attr_ctx *c) {
    if (!c) return;
    fr_nn_session_free(c->age);
    fr_nn_session_free(c->gender);
    fr_nn_session_free(c->expr);
    fr_nn_session_free(c->eye);
    fr_free(c->ssr_in);
    fr_free(c->expr_in);
    fr_free(c->eye_in);
    fr_free(c);
}

/* SSR-Net stage combination (3 stages of 3 bins, lambda_local = lambda_d = 1):
 * x holds the 9 tensors' values in ssr_names order (21 floats: 3 x 3
 * probabilities, 3 delta_k, 3 x 3 index offsets). */
static double ssr_merge(const float *x, double v) {
    double a = 0, b = 0, c = 0;
    for (int i = 0; i < 3; i++) a += (i + (double)x[12 + i]) * (double)x[i];
    double d1 = 3 * (1 + (double)x[9]), d2 = 3 * (1 + (double)x[10]), d3 = 3 * (1 + (double)x[11]);
    a /= d1;
    for (int i = 0; i < 3; i++) b += (i + (double)x[15 + i]) * (double)x[3 + i];
    b = b / d1 / d2;
    for (int i = 0; i < 3; i++) c += (i + (double)x[18 + i]) * (double)x[6 + i];
    c = c / d1 / d2 / d3;
    return (a + b + c) * v;
}

static int ssr_run(struct fr_nn_session *s, const int idx[9], float *in, double v, float *res) {
    struct fr_tensor t = { .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { 1, 3, SSR_SIZE, SSR_SIZE },
                           .data = in };
    struct fr_tensor o[9];
    int rc = fr_nn_session_run(s, &t, o);
    if (rc < 0) return rc;
    float x[21];
    int n = 0;
    for (int k = 0; k < 9; k++) {
        const struct fr_tensor *ot = &o[idx[k]];
        int want = k >= 3 && k < 6 ? 1 : 3;     /* delta_k: one value per stage */
        if (fr_tensor_numel(ot) != want)
            return fr_err_set(FR_E_IMAGE_PROCESSING_FAILED, "SSR-Net output %s: %lld values", ssr_names[k],
                              (long long)fr_tensor_numel(ot));
        for (int j = 0; j < want; j++) x[n++] = ((const float *)ot->data)[j];
    }
    *res = (float)ssr_merge(x, v);
    return 0;
}

/* The eye boxes of the package: centre of points 37, 38, 40, 41 (left, in
 * the image) or 43, 44, 46, 47 (right), side 1.6 x the corner distance
 * (36-39 or 42-45), clamped. */
static void eye_box(const float *lm, int p0, int p1, int pa, int pb, int pc, int pd, int W, int H, int box[4]) {
    int cx = (int)((lm[2 * pa] + lm[2 * pb] + lm[2 * pc] + lm[2 * pd]) / 4);
    int cy = (int)((lm[2 * pa + 1] + lm[2 * pb + 1] + lm[2 * pc + 1] + lm[2 * pd + 1]) / 4);
    int size = (int)((lm[2 * p1] - lm[2 * p0]) * 1.6f);
    int x = (int)(cx - size / 2.0), y = (int)(cy - size / 2.0);
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x + size >= W) size = W - x - 1;
    if (y + size >= H) size = H - y - 1;
    box[0] = x; box[1] = y; box[2] = size; box[3] = size;
}

/* P(open) of one eye box, grey 24x24, v / 255. */
static int eye_run(struct fr_face_attr_ctx *c, const struct fr_image *img, const int box[4], int bgr, float *p_open,
                   float probs_out[2]) {
    if (box[2] < 2 || box[3] < 2) return fr_err_set(FR_E_INVALID_ARGUMENT, "attributes: eye too small");
    struct fr_image crop = { 0 }, small = { 0 };
    int rc;
    if ((rc = fr_image_crop(img, box[0], box[1], box[0] + box[2], box[1] + box[3], &crop)) < 0) goto out;
    if ((rc = fr_image_resize(&crop, EYE_SIZE, EYE_SIZE, FR_RESIZE_BILINEAR, &small)) < 0) goto out;
    for (int i = 0; i < EYE_SIZE * EYE_SIZE; i++) {
        const uint8_t *p = small.data + (size_t)i * 3;
        int r = p[0], g = p[1], b = p[2];
        if (bgr) { int t = r; r = b; b = t; }     /* cvtColor BGR2GRAY on R, G, B data */
        int y = (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
        c->eye_in[i] = (float)y / 255.0f;
    }
    struct fr_tensor in = { .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { 1, 1, EYE_SIZE, EYE_SIZE },
                            .data = c->eye_in };
    struct fr_tensor o;
    if ((rc = fr_nn_session_run(c->eye, &in, &o)) < 0) goto out;
    if (fr_tensor_numel(&o) != 2) {
        rc = fr_err_set(FR_E_IMAGE_PROCESSING_FAILED, "eye: %lld outputs", (long long)fr_tensor_numel(&o));
        goto out;
    }
    double p[2];
    fr__face_softmax(o.data, 2, p);
    if (probs_out) { probs_out[0] = (float)p[0]; probs_out[1] = (float)p[1]; }
    *p_open = (float)p[FR_EYE_OPEN_CLASS];
out:
    fr_image_free(&crop);
    fr_image_free(&small);
    return rc;
}

/* Every attribute with explicit channel orders (exported for calibration
 * and tests; not in the public header). expr_probs / eye_probs may be NULL. */
FR_API int fr_face_attributes_ex(struct fr_face_attr_ctx *c, const struct fr_image *img, const struct fr_face *f,
                                 int ssr_bgr, int expr_bgr, int eye_bgr, struct fr_face_attributes *a,
                                 float expr_probs[7], float eye_probs[4]);
int fr_face_attributes_ex(struct fr_face_attr_ctx *c, const struct fr_image *img, const struct fr_face *f,
                          int ssr_bgr, int expr_bgr, int eye_bgr, struct fr_face_attributes *a, float expr_probs[7],
                          float eye_probs[4]) {
    if (!c || !img || !img->data || img->channels != 3 || !f || !a)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "attributes: bad arguments");
    if (!f->has_landmarks) return fr_err_set(FR_E_INVALID_ARGUMENT, "attributes: face has no landmarks");
    memset(a, 0, sizeof *a);
    struct fr_image crop = { 0 }, small = { 0 };
    int rc;

    /* age and gender: 1.4x box, 64x64, ImageNet mean/std */
    static const float mean[3] = { 0.485f * 255, 0.456f * 255, 0.406f * 255 };
    static const float scale[3] = { 1.0f / (0.229f * 255), 1.0f / (0.224f * 255), 1.0f / (0.225f * 255) };
    if ((rc = fr__face_scaled_crop(img, f, 1.4, &crop)) < 0) goto out;
    if ((rc = fr_image_resize(&crop, SSR_SIZE, SSR_SIZE, FR_RESIZE_BILINEAR, &small)) < 0) goto out;
    fr_image_to_chw(&small, mean, scale, ssr_bgr, c->ssr_in);
    if ((rc = ssr_run(c->age, c->m->age_out, c->ssr_in, 101.0, &a->age)) < 0) goto out;
    float g = 0;
    if ((rc = ssr_run(c->gender, c->m->gender_out, c->ssr_in, 1.0, &g)) < 0) goto out;
    a->gender_male = g < 0 ? 0.0f : g > 1 ? 1.0f : g;
    fr_image_free(&crop);
    fr_image_free(&small);

    /* expression: (x1, y1) + 1.2x the box size, 224x224, v / 255 */
    {
        int x1 = (int)f->box[0], y1 = (int)f->box[1];
        int bw = abs((int)f->box[2] - x1), bh = abs((int)f->box[3] - y1);
        int w = (int)(bw * 1.2), h = (int)(bh * 1.2);
        if (w > img->w - 1) w = img->w - 1;
        if (h > img->h - 1) h = img->h - 1;
        if ((rc = fr_image_crop(img, x1, y1, x1 + w, y1 + h, &crop)) < 0) goto out;
    }
    if ((rc = fr_image_resize(&crop, EXPR_SIZE, EXPR_SIZE, FR_RESIZE_BILINEAR, &small)) < 0) goto out;
    static const float escale[3] = { 1.0f / 255, 1.0f / 255, 1.0f / 255 };
    fr_image_to_chw(&small, NULL, escale, expr_bgr, c->expr_in);
    {
        struct fr_tensor in = { .dtype = FR_DTYPE_FLOAT, .ndim = 4, .dims = { 1, 3, EXPR_SIZE, EXPR_SIZE },
                                .data = c->expr_in };
        struct fr_tensor o;
        if ((rc = fr_nn_session_run(c->expr, &in, &o)) < 0) goto out;
        if (fr_tensor_numel(&o) != EXPR_N) {
            rc = fr_err_set(FR_E_IMAGE_PROCESSING_FAILED, "expression: %lld outputs", (long long)fr_tensor_numel(&o));
            goto out;
        }
        double p[EXPR_N];
        fr__face_softmax(o.data, EXPR_N, p);
        int best = 0;
        for (int i = 1; i < EXPR_N; i++)
            if (p[i] > p[best]) best = i;
        if (expr_probs)
            for (int i = 0; i < EXPR_N; i++) expr_probs[i] = (float)p[i];
        a->expression = best;
        a->expression_name = expr_names[best];
        a->expression_prob = (float)p[best];
    }

    /* eyes */
    {
        int lb[4], rb[4];
        eye_box(f->lm68, 36, 39, 37, 38, 40, 41, img->w, img->h, lb);
        eye_box(f->lm68, 42, 45, 43, 44, 46, 47, img->w, img->h, rb);
        if ((rc = eye_run(c, img, lb, eye_bgr, &a->left_eye_open, eye_probs)) < 0) goto out;
        if ((rc = eye_run(c, img, rb, eye_bgr, &a->right_eye_open, eye_probs ? eye_probs + 2 : NULL)) < 0) goto out;
    }
out:
    fr_image_free(&crop);
    fr_image_free(&small);
    return rc;
}

int fr_face_attributes(struct fr_face_attr_ctx *c, const struct fr_image *img, const struct fr_face *f,
                       struct fr_face_attributes *a) {
    return fr_face_attributes_ex(c, img, f, FR_SSR_BGR, FR_EXPR_BGR, FR_EYE_BGR, a, NULL, NULL);
}

const char *fr_face_expression_name(int i) {
    return i >= 0 && i < EXPR_N ? expr_names[i] : "unknown";
}
