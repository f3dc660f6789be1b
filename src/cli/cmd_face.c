/* facerec detect | embed | verify: the face pipeline from the command line.
 *   facerec detect IMG [--json] [--liveness] [--small-faces]
 *                                             boxes, landmarks, quality and pose (and liveness);
 *                                             --attributes: age, gender, expression, eyes open;
 *                                             --small-faces adds tiled passes for faces down to ~20 px
 *   facerec embed IMG [--json] [--liveness]    the same with embeddings
 *   facerec verify IMG1 IMG2 [--json] [--threshold T]   exit 0 match, 1 no match, 2 error */
#include "cli.h"

#include "facerec/face.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default verification threshold (cosine): the best LFW View-2 threshold of
 * `facerec eval lfw` (0.2816; docs/ACCURACY.md has the FAR/FRR table). */
#define FR_VERIFY_THRESHOLD 0.28f

static const char *models_dir(void) { return fr_cli_models_dir(); }

static void json_err(int json, int rc, const char *what) {
    if (json)
        printf("{\"error\": {\"code\": \"%s\", \"message\": \"%s\", \"what\": \"%s\"}}\n", fr_err_name(rc), fr_strerror(rc),
               what);
    else
        fr_cli_err(rc, what);
}

/* The pipeline on one image: all faces (or the largest) with embeddings. */
/* The pipeline's models and one context, loaded once per command. */
struct pipeline {
    struct fr_face_models *m;
    struct fr_face_ctx *c;
};

static int pipeline_open(struct pipeline *p) {
    p->m = NULL;
    p->c = NULL;
    int rc = fr_face_models_load(models_dir(), &p->m);
    if (rc == 0) rc = fr_face_ctx_new(p->m, &p->c);
    return rc;
}

static void pipeline_close(struct pipeline *p) {
    fr_face_ctx_free(p->c);
    fr_face_models_free(p->m);
}

static int analyze(struct pipeline *p, const char *path, int select, const struct fr_face_detect_opts *o,
                   struct fr_face **faces, int *n, struct fr_image *img) {
    int rc = fr_image_load(path, NULL, img);
    if (rc == 0) rc = fr_face_analyze(p->c, img, o, select, faces, n);
    return rc;
}

/* Quality (with pose) and, when asked, liveness of each face. */
struct extras {
    struct fr_face_quality q;
    struct fr_face_attributes at;
    float live;
    int has_q, has_live, has_attr;
};

static void print_face(const struct fr_face *f, const struct extras *x, int with_emb) {
    printf("{\"box\": [%.1f, %.1f, %.1f, %.1f], \"score\": %.4f, \"landmarks5\": [", (double)f->box[0], (double)f->box[1],
           (double)f->box[2], (double)f->box[3], (double)f->score);
    for (int k = 0; k < 5; k++) printf("%s[%.1f, %.1f]", k ? ", " : "", (double)f->lm5[2 * k], (double)f->lm5[2 * k + 1]);
    printf("]");
    if (x && x->has_q) {
        printf(", \"quality\": {\"score\": %.3f, \"reasons\": [", (double)x->q.score);
        int first = 1;
        for (unsigned bit = 1; bit <= FR_Q_LOW_CONFIDENCE; bit <<= 1)
            if (x->q.reasons & bit) {
                printf("%s\"%s\"", first ? "" : ", ", fr_face_quality_reason_name(bit));
                first = 0;
            }
        printf("], \"sharpness\": %.1f, \"brightness\": %.1f, \"eye_distance_px\": %.1f}", (double)x->q.sharpness,
               (double)x->q.brightness, (double)x->q.eye_dist_px);
        printf(", \"pose\": {\"yaw\": %.1f, \"pitch\": %.1f, \"roll\": %.1f}", (double)x->q.yaw, (double)x->q.pitch,
               (double)x->q.roll);
    }
    if (x && x->has_attr)
        printf(", \"attributes\": {\"age\": %.1f, \"gender_male\": %.3f, \"expression\": \"%s\", \"expression_prob\": %.3f, "
               "\"left_eye_open\": %.3f, \"right_eye_open\": %.3f}",
               (double)x->at.age, (double)x->at.gender_male, x->at.expression_name ? x->at.expression_name : "",
               (double)x->at.expression_prob, (double)x->at.left_eye_open, (double)x->at.right_eye_open);
    if (x && x->has_live)
        printf(", \"liveness\": {\"live\": %.4f, \"threshold\": %.2f, \"is_live\": %s}", (double)x->live,
               (double)FR_LIVENESS_THRESHOLD, x->live >= FR_LIVENESS_THRESHOLD ? "true" : "false");
    if (with_emb) {
        printf(", \"embedding\": [");
        for (int k = 0; k < FR_FACE_EMB_DIM; k++) printf("%s%.6f", k ? ", " : "", (double)f->emb[k]);
        printf("]");
    }
    printf("}");
}

static int detect_or_embed(int argc, char **argv, int with_emb) {
    const char *path = NULL;
    int json = 0, liveness = 0, small_faces = 0, attributes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--attributes")) attributes = 1;
        else if (!strcmp(argv[i], "--liveness")) liveness = 1;
        else if (!strcmp(argv[i], "--small-faces")) small_faces = 1;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { fprintf(stderr, "facerec %s: bad option %s\n", argv[0], argv[i]); return FR_EXIT_USAGE; }
    }
    if (!path) { fprintf(stderr, "usage: facerec %s IMG [--json] [--liveness] [--attributes] [--small-faces]\n", argv[0]); return FR_EXIT_USAGE; }
    struct fr_image img = { 0 };
    struct fr_face *faces = NULL;
    struct extras *ex = NULL;
    struct fr_face_extra *xm = NULL;
    struct fr_face_extra_ctx *xc = NULL;
    struct fr_face_attr_models *am = NULL;
    struct fr_face_attr_ctx *ac = NULL;
    struct fr_face_detect_opts o = { 0 };
    o.tiling = small_faces;
    struct pipeline pl;
    int n = 0, rc = pipeline_open(&pl);
    if (rc == 0) rc = analyze(&pl, path, FR_FACE_ALL, &o, &faces, &n, &img);
    if (rc == 0 && n > 0) {
        /* quality and pose for every face; liveness when asked */
        ex = calloc((size_t)n, sizeof *ex);
        if (!ex) rc = -FR_E_NOMEM;
        if (rc == 0) rc = fr_face_extra_load(models_dir(), &xm);
        if (rc == 0) rc = fr_face_extra_ctx_new(xm, &xc);
        if (rc == 0 && attributes) rc = fr_face_attr_load(models_dir(), &am);
        if (rc == 0 && attributes) rc = fr_face_attr_ctx_new(am, &ac);
        for (int i = 0; rc == 0 && i < n; i++) {
            if ((rc = fr_face_quality(xc, &img, &faces[i], NULL, &ex[i].q)) == 0) ex[i].has_q = 1;
            if (rc == 0 && liveness && (rc = fr_face_liveness(xc, &img, &faces[i], &ex[i].live)) == 0) ex[i].has_live = 1;
            if (rc == 0 && attributes && (rc = fr_face_attributes(ac, &img, &faces[i], &ex[i].at)) == 0) ex[i].has_attr = 1;
        }
    }
    fr_face_attr_ctx_free(ac);
    fr_face_attr_free(am);
    fr_face_extra_ctx_free(xc);
    fr_face_extra_free(xm);
    pipeline_close(&pl);
    if (rc < 0) {
        json_err(json, rc, path);
        fr_free(faces);
        free(ex);
        fr_image_free(&img);
        return FR_EXIT_ERROR;
    }
    if (json) {
        printf("{\"width\": %d, \"height\": %d, \"faces\": [", img.w, img.h);
        for (int i = 0; i < n; i++) {
            if (i) printf(", ");
            print_face(&faces[i], ex ? &ex[i] : NULL, with_emb);
        }
        printf("]}\n");
    } else {
        printf("%s: %dx%d, %d face%s\n", path, img.w, img.h, n, n == 1 ? "" : "s");
        for (int i = 0; i < n; i++) {
            printf("  face %d: box [%.0f, %.0f, %.0f, %.0f] score %.3f", i, (double)faces[i].box[0],
                   (double)faces[i].box[1], (double)faces[i].box[2], (double)faces[i].box[3], (double)faces[i].score);
            if (ex && ex[i].has_q)
                printf(", quality %.2f%s, yaw %.0f pitch %.0f roll %.0f", (double)ex[i].q.score,
                       ex[i].q.reasons ? " (flagged)" : "", (double)ex[i].q.yaw, (double)ex[i].q.pitch, (double)ex[i].q.roll);
            if (ex && ex[i].has_live) printf(", live %.3f", (double)ex[i].live);
            if (ex && ex[i].has_attr)
                printf(", age %.0f, male %.2f, %s", (double)ex[i].at.age, (double)ex[i].at.gender_male,
                       ex[i].at.expression_name ? ex[i].at.expression_name : "?");
            printf("\n");
        }
    }
    free(ex);
    fr_free(faces);
    fr_image_free(&img);
    return FR_EXIT_OK;
}

int cmd_detect(int argc, char **argv) { return detect_or_embed(argc, argv, 0); }
int cmd_embed(int argc, char **argv) { return detect_or_embed(argc, argv, 1); }

int cmd_verify(int argc, char **argv) {
    const char *paths[2] = { NULL, NULL };
    int json = 0, np = 0;
    float thr = FR_VERIFY_THRESHOLD;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--json")) json = 1;
        else if ((v = fr_cli_opt(argc, argv, &i, "--threshold"))) thr = strtof(v, NULL);
        else if (argv[i][0] != '-' && np < 2) paths[np++] = argv[i];
        else { fprintf(stderr, "facerec verify: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (np != 2) { fprintf(stderr, "usage: facerec verify IMG1 IMG2 [--json] [--threshold T]\n"); return FR_EXIT_USAGE; }
    float emb[2][FR_FACE_EMB_DIM];
    struct pipeline pl;
    int prc = pipeline_open(&pl);
    for (int k = 0; k < 2; k++) {
        struct fr_image img = { 0 };
        struct fr_face *faces = NULL;
        int n = 0, rc = prc < 0 ? prc : analyze(&pl, paths[k], FR_FACE_LARGEST, NULL, &faces, &n, &img);
        if (rc == 0 && n == 0) rc = fr_err_set(FR_E_NO_FACE_IN_PHOTO, "no face in %s", paths[k]);
        if (rc == 0) memcpy(emb[k], faces[0].emb, sizeof emb[k]);
        fr_free(faces);
        fr_image_free(&img);
        if (rc < 0) {
            json_err(json, rc, paths[k]);
            pipeline_close(&pl);
            return FR_EXIT_ERROR;
        }
    }
    pipeline_close(&pl);
    float sim = fr_face_similarity_score(emb[0], emb[1]);
    int match = sim >= thr;
    if (json) printf("{\"similarity\": %.4f, \"threshold\": %.4f, \"match\": %s}\n", (double)sim, (double)thr, match ? "true" : "false");
    else printf("similarity %.4f, threshold %.4f: %s\n", (double)sim, (double)thr, match ? "match" : "no match");
    return match ? FR_EXIT_OK : FR_EXIT_FAIL;
}
