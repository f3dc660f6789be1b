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
};

struct fr_face_models;
struct fr_face_ctx;

/* Loads fr_detect, fr_landmark and fr_feature from dir (required). */
FR_API int fr_face_models_load(const char *dir, struct fr_face_models **out);
FR_API void fr_face_models_free(struct fr_face_models *m);
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
FR_API float fr_face_similarity_score(const float a[FR_FACE_EMB_DIM], const float b[FR_FACE_EMB_DIM]);

/* Intersection over union of two x1,y1,x2,y2 boxes. */
FR_API float fr_face_iou(const float a[4], const float b[4]);
/* Greedy NMS over boxes sorted by score (best first): keep[i] set to 1/0;
 * returns the number kept. */
FR_API int fr_face_nms(const float *boxes, int n, float iou, unsigned char *keep);

#endif
