/* facerec — the face pipeline: detect → 68 landmarks → 5-point similarity
 * alignment to 112×112 → 512-d embedding (L2-normalised).
 *
 * Models are loaded once (struct fr_face_models, shared, read-only); each
 * thread uses its own struct fr_face_ctx (one inference session per model). */
#ifndef FACEREC_FACE_H
#define FACEREC_FACE_H

#include "facerec/image.h"
#include "facerec/nn.h"

#define FR_FACE_EMB_DIM 512

struct fr_face {
    float box[4];                   /* x1, y1, x2, y2 in pixels of the (upright) image */
    float score;                    /* detector confidence */
    float lm68[136];                /* 68 landmarks, x,y pairs, pixels */
    float lm5[10];                  /* eyes (left, right), nose, mouth corners (left, right) */
    float emb[FR_FACE_EMB_DIM];     /* unit length */
    int has_landmarks, has_emb;
};

struct fr_face_detect_opts {
    float score_threshold;          /* [0.65] */
    float nms_iou;                  /* [0.4] */
    int min_face_px;                /* [0]: faces smaller (box width) are dropped */
    int max_faces;                  /* [0 = 1000] */
    /* Extra passes for small faces in large photos: when the image is more than
     * 1.5x the detector input (320x240) in either axis, it is also cut into
     * overlapping tiles at coarse-to-fine scales (each tile resized to 320x240,
     * at most 64 tiles, finest about 1:1), and one NMS runs over all passes. */
    int tiling;                     /* [0: off] > 0: extra tiled passes for faces down to ~20 px in large
                                       photos (about 30 detector runs on a 1000 px photo) */
    float tile_score_threshold;     /* [0 = default 0.95]: score a tile detection needs */
};

struct fr_face_models;
struct fr_face_ctx;

/* Loads fr_detect, fr_landmark and fr_feature from dir (required). */
FR_API int fr_face_models_load(const char *dir, struct fr_face_models **out);
FR_API void fr_face_models_free(struct fr_face_models *m);
/* The embedding model's id: the first 16 hex digits of the SHA-256 of
 * fr_feature.onnx. Embeddings from different ids are never compared. */
#define FR_FACE_MODEL_ID_LEN 16
FR_API const char *fr_face_model_id(const struct fr_face_models *m);
FR_API int fr_face_ctx_new(struct fr_face_models *m, struct fr_face_ctx **out);
FR_API void fr_face_ctx_free(struct fr_face_ctx *c);

/* Faces of img, best score first; *faces_out is fr_free'd by the caller. */
FR_API int fr_face_detect(struct fr_face_ctx *c, const struct fr_image *img, const struct fr_face_detect_opts *o,
                          struct fr_face **faces_out, int *n_out);
/* 68 + 5 landmarks of a detected face (fills face->lm68, lm5). */
FR_API int fr_face_landmarks(struct fr_face_ctx *c, const struct fr_image *img, struct fr_face *face);
/* The similarity transform (a, b, tx, ty: x' = a·x − b·y + tx, y' = b·x + a·y + ty)
 * that maps the 5 points onto the 112×112 template, least squares. */
FR_API void fr_face_similarity(const float lm5[10], float t_out[4]);
/* Aligned 112×112 RGB crop of a face with landmarks. */
FR_API int fr_face_align(const struct fr_image *img, const float lm5[10], struct fr_image *out);
/* Embedding of an aligned 112×112 face (face->emb). */
FR_API int fr_face_embed_aligned(struct fr_face_ctx *c, const struct fr_image *aligned, float emb[FR_FACE_EMB_DIM]);
/* Which faces fr_face_analyze keeps. */
enum fr_face_select {
    FR_FACE_ALL = 0,
    FR_FACE_LARGEST = 1,            /* the biggest box (verify, enrolment) */
    FR_FACE_CENTRAL = 2             /* the box nearest the image centre (LFW's protocol images) */
};
/* detect → landmarks → align → embed for the selected faces. */
FR_API int fr_face_analyze(struct fr_face_ctx *c, const struct fr_image *img, const struct fr_face_detect_opts *o,
                           int select, struct fr_face **faces_out, int *n_out);
/* The index, among n >= 1 faces of a w×h image, of the one that select
 * (FR_FACE_LARGEST or FR_FACE_CENTRAL) keeps: the largest box, or the box
 * whose centre is nearest the image centre; the first on a tie, 0 for
 * FR_FACE_ALL. fr_face_analyze and the service's enrolment use this one rule. */
FR_API int fr_face_select_one(const struct fr_face *faces, int n, int w, int h, int select);
/* "all", "largest", "central" (the API's spelling); NULL for another value. */
FR_API const char *fr_face_select_name(int select);
FR_API float fr_face_similarity_score(const float a[FR_FACE_EMB_DIM], const float b[FR_FACE_EMB_DIM]);

/* Intersection over union of two x1,y1,x2,y2 boxes. */
FR_API float fr_face_iou(const float a[4], const float b[4]);
/* Greedy NMS over boxes sorted by score (best first): keep[i] set to 1/0;
 * returns the number kept. */
FR_API int fr_face_nms(const float *boxes, int n, float iou, unsigned char *keep);

/* ---- Liveness, head pose and quality (src/face/quality.c) ----
 *
 * Two more models, loaded apart from the core pipeline: fr_liveness
 * (anti-spoofing, MiniFASNet-like) and fr_pose (head pose, 66-bin
 * yaw/pitch/roll). struct fr_face_extra is shared and read-only; each thread
 * uses its own struct fr_face_extra_ctx.
 *
 * Liveness: the box scaled 2.7x about its centre (the scale lowered so the
 * crop fits, then shifted inside the image), 128x128, raw 0..255 values,
 * softmax over 3 classes. Checked on silent-face's samples (T1 live, F1
 * printed photo, F2 screen replay) over both channel orders and all three
 * classes: class 0 = live (the class the package reports), class 1 takes
 * the spoofs (0.998-0.9997 on F1 and F2), class 2 stays < 0.003. Class-0
 * probability, RGB planes / BGR planes:
 *   T1 (live)    0.652 / 0.817      F1 (print) 0.0006 / 0.0001
 *   F2 (screen)  0.0017 / 0.0003
 * and the LFW fixtures (live people): RGB 0.30-0.97, BGR 0.987-0.9999. BGR
 * separates better, so the planes are B, G, R (as upstream MiniFASNet, fed
 * by cv2). The re-encoded fixtures (tests/fixtures/faces/antispoof_*.jpg)
 * give T1 0.950, F1 0.0001, F2 0.0002. Three spoof samples are little
 * evidence: FR_LIVENESS_THRESHOLD 0.5 sits far from both sides on them, but
 * calibrate on your own capture conditions before relying on it.
 *
 * Pose: the box grown by 1/4 of its size on each side (clamped), 224x224,
 * ImageNet mean/std on R, G, B planes (Hopenet's training order; the JS's
 * BGR2RGB on an RGBA canvas actually feeds B, G, R - measured, the two
 * orders differ by < 6 degrees on the fixtures); outputs "output", "617",
 * "618" are yaw, pitch, roll; angle = sum(softmax(bins) * i) * 3 - 99 deg.
 *
 * Quality defaults, and why: sharpness 30 - sharp LFW 250x250 faces measure
 * 75-156 on the aligned crop, phone photos 400-1300, a face blurred through
 * 20x20 single digits; eye distance 20 px - below it the 112x112 alignment
 * upsamples ~2x and recognition accuracy drops; yaw 45 / pitch 30 / roll 30
 * degrees - the embedding's frontal training range; brightness 40..220 of
 * 255; detector score 0.8 (the detector keeps >= 0.65; real faces score
 * > 0.99). */
struct fr_face_extra;
struct fr_face_extra_ctx;

/* Loads fr_liveness and fr_pose from dir. */
FR_API int fr_face_extra_load(const char *dir, struct fr_face_extra **out);
FR_API void fr_face_extra_free(struct fr_face_extra *m);
FR_API int fr_face_extra_ctx_new(struct fr_face_extra *m, struct fr_face_extra_ctx **out);
FR_API void fr_face_extra_ctx_free(struct fr_face_extra_ctx *c);

/* Probability (0..1) that the face is a live person, not a photo or screen. */
#define FR_LIVENESS_THRESHOLD 0.5f
FR_API int fr_face_liveness(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                            float *p_live);
/* Head pose in degrees: ypr[0] yaw, ypr[1] pitch, ypr[2] roll. */
FR_API int fr_face_pose(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                        float ypr[3]);

/* Reasons a face is poor for recognition (bit flags in fr_face_quality.reasons). */
#define FR_Q_LOW_SHARPNESS  1u
#define FR_Q_SMALL_FACE     2u
#define FR_Q_EXTREME_POSE   4u
#define FR_Q_LOW_BRIGHTNESS 8u      /* too dark or too bright */
#define FR_Q_LOW_CONFIDENCE 16u

/* Defaults (a zero field in fr_face_quality_opts takes these). */
#define FR_Q_DEFAULT_MIN_SHARPNESS  30.0f   /* Laplacian variance of the aligned 112x112 face */
#define FR_Q_DEFAULT_MIN_EYE_DIST   20.0f   /* pixels between the eye centres in the photo */
#define FR_Q_DEFAULT_MAX_YAW        45.0f   /* degrees */
#define FR_Q_DEFAULT_MAX_PITCH      30.0f
#define FR_Q_DEFAULT_MAX_ROLL       30.0f
#define FR_Q_DEFAULT_MIN_BRIGHTNESS 40.0f   /* mean grey level of the aligned face */
#define FR_Q_DEFAULT_MAX_BRIGHTNESS 220.0f
#define FR_Q_DEFAULT_MIN_DET_SCORE  0.8f

struct fr_face_quality_opts {
    float min_sharpness, min_eye_dist_px;
    float max_yaw, max_pitch, max_roll;
    float min_brightness, max_brightness;
    float min_det_score;
};

struct fr_face_quality {
    float score;                    /* 0..1: product of per-factor terms, 0.5 at a threshold */
    float sharpness, brightness, eye_dist_px, yaw, pitch, roll, det_score;
    unsigned reasons;               /* FR_Q_* bits */
    int pose_measured;              /* 0: yaw, pitch, roll not measured (0) */
};

/* Quality of a face with landmarks; o may be NULL (defaults). c may be NULL:
 * then the pose model does not run (2 ms less) and pose counts as frontal. */
FR_API int fr_face_quality(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                           const struct fr_face_quality_opts *o, struct fr_face_quality *q);
/* The same, measuring sharpness and brightness on aligned (the face's
 * fr_face_align crop, when the caller has it already; NULL: made here). */
FR_API int fr_face_quality_aligned(struct fr_face_extra_ctx *c, const struct fr_image *img, const struct fr_face *f,
                                   const struct fr_image *aligned, const struct fr_face_quality_opts *o,
                                   struct fr_face_quality *q);
/* "LOW_SHARPNESS", ... for one FR_Q_* bit; "UNKNOWN" otherwise. */
FR_API const char *fr_face_quality_reason_name(unsigned bit);

/* ---- Attributes: age, gender, expression, eyes (src/face/attributes.c) ----
 *
 * Four more models, loaded apart: fr_age and fr_gender (SSR-Net, 9 output
 * tensors, 3 stages of 3 bins combined as the package does: age scaled by
 * 101, gender by 1), fr_expression (7 classes), fr_eye (open/closed).
 * Pre-processing as the package's JS: age/gender crop the box scaled 1.4x
 * about its centre (fitted, shifted inside), 64x64, ImageNet mean/std;
 * expression crops from the box's top-left corner 1.2x its size, 224x224,
 * v / 255; each eye is a square 1.6x its corner distance about the centre of
 * its four lid points (68-point landmarks), 24x24 grey, v / 255. Left eye is
 * the one on the left of the image (points 36-41). Inputs are B, G, R planes
 * (measured on known-gender photos); eye class 1 = open; expression names
 * assume the FER2013 order (angry, disgust, fear, happy, sad, surprise,
 * neutral) - the package gives none. Numbers in src/face/attributes.c. */
struct fr_face_attributes {
    float age;                      /* years */
    float gender_male;              /* 0..1: SSR-Net gender output, 1 = male */
    int expression;                 /* class index 0..6 */
    const char *expression_name;    /* static string */
    float expression_prob;
    float left_eye_open, right_eye_open;    /* probability open */
};
struct fr_face_attr_models;
struct fr_face_attr_ctx;

/* Loads fr_age, fr_gender, fr_expression and fr_eye from dir. */
FR_API int fr_face_attr_load(const char *dir, struct fr_face_attr_models **out);
FR_API void fr_face_attr_free(struct fr_face_attr_models *m);
FR_API int fr_face_attr_ctx_new(struct fr_face_attr_models *m, struct fr_face_attr_ctx **out);
FR_API void fr_face_attr_ctx_free(struct fr_face_attr_ctx *c);
/* Attributes of a face with landmarks. */
FR_API int fr_face_attributes(struct fr_face_attr_ctx *c, const struct fr_image *img, const struct fr_face *f,
                              struct fr_face_attributes *a);
/* Name of expression class i; "unknown" outside 0..6. */
FR_API const char *fr_face_expression_name(int i);

#endif
