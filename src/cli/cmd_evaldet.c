/* facerec eval-detect --dlib DIR [--no-tiling] [--tile-threshold T] [PHOTOS...]
 * Detection evidence (issue 3): (a) the boxes of DIR/training.xml (dlib imglab
 * XML, <image file=..><box top left width height/>) matched greedily to our
 * detections at IoU >= 0.4: found/total and the false detections (those that
 * match no labelled box) per image; (b) DIR/dogs.jpg, which has no human face;
 * (c) the face count of each further photo, with the time of its detect call.
 * Ends with one summary line. Exit 0 when all boxes are found, there is no
 * false face and none on dogs.jpg; 1 otherwise; 2 on errors. */
#include "cli.h"

#include "facerec/face.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GT 256

static int detect_file(struct fr_face_ctx *c, const char *path, const struct fr_face_detect_opts *o,
                       struct fr_face **faces, int *n, double *ms, int *w, int *h) {
    struct fr_image img = { 0 };
    int rc = fr_image_load(path, NULL, &img);
    if (rc == 0) {
        double t0 = fr_time_ms();
        rc = fr_face_detect(c, &img, o, faces, n);
        *ms = fr_time_ms() - t0;
        *w = img.w;
        *h = img.h;
    }
    fr_image_free(&img);
    return rc;
}

/* value of attribute key='..' or key=".." in line; 0 when absent */
static int attr(const char *line, const char *key, char *out, size_t cap) {
    char pat[32];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    p += strlen(pat);
    char q = *p;
    if (q != '\'' && q != '"') return 0;
    p++;
    const char *e = strchr(p, q);
    if (!e || (size_t)(e - p) >= cap) return 0;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    return 1;
}

static int attr_int(const char *line, const char *key, int *v) {
    char buf[32];
    return attr(line, key, buf, sizeof buf) && sscanf(buf, "%d", v) == 1;
}

struct tally { int gt, found, false_pos, images, errors; };

static void eval_image(struct fr_face_ctx *c, const char *dir, const char *file, float (*gt)[4], int ngt,
                       const struct fr_face_detect_opts *o, struct tally *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct fr_face *faces = NULL;
    int n = 0, w = 0, h = 0;
    double ms = 0;
    int rc = detect_file(c, path, o, &faces, &n, &ms, &w, &h);
    t->images++;
    t->gt += ngt;
    if (rc < 0) {
        fr_cli_err(rc, path);
        t->errors++;
        return;
    }
    unsigned char used[MAX_GT] = { 0 }, *matched = calloc((size_t)n + 1, 1);
    int found = 0;
    /* greedy: best IoU pair first */
    for (;;) {
        float best = 0.4f;
        int bi = -1, bj = -1;
        for (int i = 0; i < ngt; i++)
            for (int j = 0; j < n; j++) {
                if (used[i] || matched[j]) continue;
                float v = fr_face_iou(gt[i], faces[j].box);
                if (v >= best) { best = v; bi = i; bj = j; }
            }
        if (bi < 0) break;
        used[bi] = 1;
        matched[bj] = 1;
        found++;
    }
    int fp = 0;
    for (int j = 0; j < n; j++) fp += !matched[j];
    printf("%-26s %4dx%-4d found %d/%d, false %d, %d detections, %.0f ms\n", file, w, h, found, ngt, fp, n, ms);
    for (int i = 0; i < ngt; i++)
        if (!used[i]) printf("    missed  [%.0f, %.0f, %.0f, %.0f]\n", (double)gt[i][0], (double)gt[i][1], (double)gt[i][2], (double)gt[i][3]);
    for (int j = 0; j < n; j++)
        if (!matched[j])
            printf("    false   [%.0f, %.0f, %.0f, %.0f] score %.3f\n", (double)faces[j].box[0], (double)faces[j].box[1],
                   (double)faces[j].box[2], (double)faces[j].box[3], (double)faces[j].score);
    t->found += found;
    t->false_pos += fp;
    free(matched);
    fr_free(faces);
}

static int eval_dlib(struct fr_face_ctx *c, const char *dir, const struct fr_face_detect_opts *o, struct tally *t) {
    char path[4096], line[1024], file[1024] = "";
    snprintf(path, sizeof path, "%s/training.xml", dir);
    FILE *f = fopen(path, "r");
    if (!f) return fr_err_set(FR_E_IO, "cannot open %s", path);
    static float gt[MAX_GT][4];
    int ngt = 0, in_image = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "<image ")) {
            if (!attr(line, "file", file, sizeof file)) continue;
            in_image = 1;
            ngt = 0;
            if (strstr(line, "/>")) {   /* an image with no boxes */
                eval_image(c, dir, file, gt, 0, o, t);
                in_image = 0;
            }
        } else if (in_image && strstr(line, "<box ")) {
            int top, left, width, height;
            if (strstr(line, "ignore='1'") || strstr(line, "ignore=\"1\"")) continue;
            if (ngt < MAX_GT && attr_int(line, "top", &top) && attr_int(line, "left", &left) &&
                attr_int(line, "width", &width) && attr_int(line, "height", &height)) {
                gt[ngt][0] = (float)left;
                gt[ngt][1] = (float)top;
                gt[ngt][2] = (float)(left + width);
                gt[ngt][3] = (float)(top + height);
                ngt++;
            }
        } else if (in_image && strstr(line, "</image>")) {
            eval_image(c, dir, file, gt, ngt, o, t);
            in_image = 0;
        }
    }
    fclose(f);
    return 0;
}

int cmd_evaldet(int argc, char **argv) {
    const char *dlib = NULL;
    const char *photos[256];
    int np = 0;
    struct fr_face_detect_opts o = { 0 };
    o.tiling = 1;                 /* the evidence is about small faces: on unless --no-tiling */
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--dlib"))) dlib = v;
        else if (!strcmp(argv[i], "--no-tiling")) o.tiling = -1;
        else if ((v = fr_cli_opt(argc, argv, &i, "--tile-threshold"))) o.tile_score_threshold = strtof(v, NULL);
        else if ((v = fr_cli_opt(argc, argv, &i, "--threshold"))) o.score_threshold = strtof(v, NULL);
        else if (argv[i][0] != '-' && np < 256) photos[np++] = argv[i];
        else {
            fprintf(stderr, "facerec eval-detect: bad option %s\n", argv[i]);
            return FR_EXIT_USAGE;
        }
    }
    if (!dlib && !np) {
        fprintf(stderr, "usage: facerec eval-detect --dlib DIR [--no-tiling] [--tile-threshold T] [PHOTOS...]\n");
        return FR_EXIT_USAGE;
    }
    const char *md = fr_cli_models_dir();
    struct fr_face_models *m = NULL;
    struct fr_face_ctx *c = NULL;
    int rc = fr_face_models_load(md, &m);
    if (rc == 0) rc = fr_face_ctx_new(m, &c);
    if (rc < 0) {
        fr_face_models_free(m);
        return fr_cli_err(rc, "models");
    }
    struct tally t = { 0 };
    int dogs = -1;
    if (dlib) {
        printf("dlib training.xml (IoU >= 0.4, greedy):\n");
        if ((rc = eval_dlib(c, dlib, &o, &t)) < 0) {
            fr_cli_err(rc, dlib);
            t.errors++;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/dogs.jpg", dlib);
        struct fr_face *faces = NULL;
        int n = 0, w, h;
        double ms;
        if ((rc = detect_file(c, path, &o, &faces, &n, &ms, &w, &h)) < 0) {
            fr_cli_err(rc, path);
            t.errors++;
        } else {
            dogs = n;
            printf("dogs.jpg: %d face%s (expect 0)\n", n, n == 1 ? "" : "s");
        }
        fr_free(faces);
    }
    if (np) printf("photos (face counts):\n");
    for (int k = 0; k < np; k++) {
        struct fr_face *faces = NULL;
        int n = 0, w = 0, h = 0;
        double ms = 0;
        if ((rc = detect_file(c, photos[k], &o, &faces, &n, &ms, &w, &h)) < 0) {
            fr_cli_err(rc, photos[k]);
            t.errors++;
        } else {
            printf("  %-60s %5dx%-5d %4d face%s  %.0f ms\n", photos[k], w, h, n, n == 1 ? " " : "s", ms);
        }
        fr_free(faces);
    }
    if (dlib)
        printf("summary: dlib found %d/%d, false faces %d, dogs %d, errors %d, tiling %s\n", t.found, t.gt, t.false_pos, dogs,
               t.errors, o.tiling < 0 ? "off" : "on");
    else
        printf("summary: %d photos, errors %d, tiling %s\n", np, t.errors, o.tiling < 0 ? "off" : "on");
    fr_face_ctx_free(c);
    fr_face_models_free(m);
    if (t.errors) return FR_EXIT_ERROR;
    return (dlib && (t.found < t.gt || t.false_pos > 0 || dogs != 0)) ? FR_EXIT_FAIL : FR_EXIT_OK;
}
