/* facerec eval lfw --pairs P --images DIR [--json] [--threads N]
 * LFW View-2: 10 folds of 300 same + 300 different pairs. Every image is
 * embedded once (detect → landmarks → align → embed of the face nearest the
 * centre, as LFW's images are centred on the labelled person; when
 * the detector finds none, the central 60 % of the image stands in for the
 * box); the threshold of each fold is the best on the other nine; reports the
 * mean accuracy and its std, the threshold chosen on all pairs, TAR at
 * FAR 1e-3, and the time. */
#include "cli.h"

#include "facerec/face.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair { int a, b, same, fold; };

struct eval {
    char **paths;
    int n_paths, cap_paths;
    struct pair *pairs;
    int n_pairs;
    float (*emb)[FR_FACE_EMB_DIM];
    int *status;              /* 0 ok, 1 fallback box, <0 error */
    struct fr_face_models *m;
    atomic_int next, done;
    const char *dir;
};

static int path_index(struct eval *e, const char *dir, const char *name, int num) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/%s_%04d.jpg", dir, name, name, num);
    for (int i = e->n_paths - 1; i >= 0 && i >= e->n_paths - 64; i--)   /* pairs repeat names nearby */
        if (!strcmp(e->paths[i], p)) return i;
    for (int i = 0; i < e->n_paths; i++)
        if (!strcmp(e->paths[i], p)) return i;
    if (e->n_paths == e->cap_paths) {
        e->cap_paths = e->cap_paths ? 2 * e->cap_paths : 1024;
        e->paths = realloc(e->paths, sizeof *e->paths * (size_t)e->cap_paths);
        if (!e->paths) return -1;
    }
    e->paths[e->n_paths] = strdup(p);
    return e->n_paths++;
}

static int parse_pairs(struct eval *e, const char *file, const char *dir) {
    FILE *f = fopen(file, "r");
    if (!f) return fr_err_set(FR_E_IO, "cannot open %s", file);
    int folds, per, rc = 0;
    if (fscanf(f, "%d %d", &folds, &per) != 2 || folds < 2 || per < 1 || folds * per > 100000) {
        fclose(f);
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: bad header", file);
    }
    e->pairs = calloc((size_t)folds * per * 2, sizeof *e->pairs);
    char line[1024];
    if (!fgets(line, sizeof line, f)) line[0] = 0;     /* rest of the header line */
    for (int fo = 0; fo < folds && rc == 0; fo++)
        for (int k = 0; k < 2 * per; k++) {
            char n1[256], n2[256];
            int i, j;
            if (!fgets(line, sizeof line, f)) { rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: short file", file); break; }
            struct pair *p = &e->pairs[e->n_pairs];
            if (sscanf(line, "%255s %d %255s %d", n1, &i, n2, &j) == 4) {
                p->a = path_index(e, dir, n1, i);
                p->b = path_index(e, dir, n2, j);
                p->same = 0;
            } else if (sscanf(line, "%255s %d %d", n1, &i, &j) == 3) {
                p->a = path_index(e, dir, n1, i);
                p->b = path_index(e, dir, n1, j);
                p->same = 1;
            } else {
                rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: bad line: %s", file, line);
                break;
            }
            p->fold = fo;
            e->n_pairs++;
        }
    fclose(f);
    return rc;
}

static int embed_one(struct fr_face_ctx *c, const char *path, float *emb, int *fallback) {
    struct fr_image img = { 0 }, al = { 0 };
    struct fr_face *faces = NULL;
    int n = 0;
    int rc = fr_image_load(path, NULL, &img);
    if (rc < 0) return rc;
    if ((rc = fr_face_analyze(c, &img, NULL, FR_FACE_CENTRAL, &faces, &n)) < 0) goto out;
    *fallback = 0;
    if (n > 0) {
        memcpy(emb, faces[0].emb, sizeof(float) * FR_FACE_EMB_DIM);
    } else {
        struct fr_face f;
        memset(&f, 0, sizeof f);
        f.box[0] = 0.2f * (float)img.w;
        f.box[1] = 0.2f * (float)img.h;
        f.box[2] = 0.8f * (float)img.w;
        f.box[3] = 0.8f * (float)img.h;
        if ((rc = fr_face_landmarks(c, &img, &f)) < 0 || (rc = fr_face_align(&img, f.lm5, &al)) < 0 ||
            (rc = fr_face_embed_aligned(c, &al, emb)) < 0)
            goto out;
        *fallback = 1;
    }
out:
    fr_free(faces);
    fr_image_free(&img);
    fr_image_free(&al);
    return rc;
}

static void *worker(void *arg) {
    struct eval *e = arg;
    struct fr_face_ctx *c = NULL;
    if (fr_face_ctx_new(e->m, &c) < 0) return NULL;
    for (;;) {
        int i = atomic_fetch_add(&e->next, 1);
        if (i >= e->n_paths) break;
        int fb = 0, rc = embed_one(c, e->paths[i], e->emb[i], &fb);
        e->status[i] = rc < 0 ? rc : fb;
        atomic_fetch_add(&e->done, 1);
    }
    fr_face_ctx_free(c);
    return NULL;
}

struct scored { float s; int same; };

static int cmp_scored(const void *a, const void *b) {
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return x < y ? -1 : x > y;
}

/* Accuracy of threshold t on pairs of folds in/out of `fold` (fold < 0: all). */
static double accuracy(const struct eval *e, const float *sim, float t, int fold, int in_fold) {
    int right = 0, total = 0;
    for (int k = 0; k < e->n_pairs; k++) {
        int in = e->pairs[k].fold == fold;
        if (fold >= 0 && in != in_fold) continue;
        total++;
        right += (sim[k] >= t) == e->pairs[k].same;
    }
    return total ? (double)right / total : 0.0;
}

/* The threshold with the best accuracy on the pairs outside `fold` (all pairs when fold < 0). */
static float best_threshold(const struct eval *e, const float *sim, int fold) {
    float best_t = 0.0f;
    double best_acc = -1;
    for (int k = 0; k < e->n_pairs; k++) {
        if (fold >= 0 && e->pairs[k].fold == fold) continue;
        /* candidate: just above each score (a threshold separates at a score) */
        float t = sim[k] + 1e-6f;
        double acc = accuracy(e, sim, t, fold, 0);
        if (acc > best_acc || (acc == best_acc && t < best_t)) { best_acc = acc; best_t = t; }
    }
    return best_t;
}

int cmd_eval(int argc, char **argv) {
    const char *pairs = NULL, *dir = NULL, *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "openset") || !strcmp(what, "impostors") || !strcmp(what, "session"))
        return cmd_eval_openset(argc, argv);
    int json = 0, threads = 2, ret = FR_EXIT_ERROR;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--pairs"))) pairs = v;
        else if ((v = fr_cli_opt(argc, argv, &i, "--images"))) dir = v;
        else if ((v = fr_cli_opt(argc, argv, &i, "--threads"))) threads = atoi(v);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else { fprintf(stderr, "facerec eval: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (strcmp(what, "lfw") || !pairs || !dir || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: facerec eval lfw --pairs pairs.txt --images DIR [--json] [--threads N]\n"
                        "       facerec eval openset --images DIR ... | --embeddings FILE ... (facerec eval openset --help)\n"
                        "       facerec eval impostors --images DIR | --embeddings FILE [--half a|b|all] [--out FILE]\n"
                        "       facerec eval session --images DIR | --embeddings FILE [--gallery-size N] [--fpir X] [--stay P]\n");
        return FR_EXIT_USAGE;
    }
    struct eval e;
    memset(&e, 0, sizeof e);
    double t0 = fr_time_ms();
    const char *md = fr_cli_models_dir();
    int rc = parse_pairs(&e, pairs, dir);
    if (rc == 0) rc = fr_face_models_load(md, &e.m);
    if (rc < 0) { fr_cli_err(rc, "eval lfw"); goto out; }
    e.emb = calloc((size_t)e.n_paths, sizeof *e.emb);
    e.status = calloc((size_t)e.n_paths, sizeof *e.status);
    pthread_t th[64];
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, &e);
    for (;;) {   /* progress bar on stderr */
        int d = atomic_load(&e.done);
        fprintf(stderr, "\r[%-40.*s] %d/%d images", 40 * d / (e.n_paths ? e.n_paths : 1),
                "########################################", d, e.n_paths);
        if (d >= e.n_paths) break;
        struct timespec ts = { 0, 200000000 };
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "\n");
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    int errors = 0, fallbacks = 0;
    for (int i = 0; i < e.n_paths; i++) {
        if (e.status[i] < 0) {
            if (errors++ < 5) fprintf(stderr, "facerec eval: %s: %s\n", e.paths[i], fr_strerror(e.status[i]));
        } else {
            fallbacks += e.status[i];
        }
    }
    if (errors) { fprintf(stderr, "facerec eval: %d images failed\n", errors); goto out; }
    float *sim = malloc(sizeof(float) * (size_t)e.n_pairs);
    for (int k = 0; k < e.n_pairs; k++) sim[k] = fr_face_similarity_score(e.emb[e.pairs[k].a], e.emb[e.pairs[k].b]);
    int folds = e.pairs[e.n_pairs - 1].fold + 1;
    double acc[64], mean = 0, var = 0;
    for (int f = 0; f < folds && f < 64; f++) {
        float t = best_threshold(&e, sim, f);
        acc[f] = accuracy(&e, sim, t, f, 1);
        mean += acc[f] / folds;
    }
    for (int f = 0; f < folds && f < 64; f++) var += (acc[f] - mean) * (acc[f] - mean) / folds;
    float thr = best_threshold(&e, sim, -1);
    /* TAR at FAR 1e-3: threshold above all but 0.1 % of the different-person scores */
    struct scored *neg = malloc(sizeof *neg * (size_t)e.n_pairs);
    int nn = 0, np = 0;
    for (int k = 0; k < e.n_pairs; k++)
        if (!e.pairs[k].same) neg[nn++] = (struct scored){ sim[k], 0 };
    qsort(neg, (size_t)nn, sizeof *neg, cmp_scored);
    int allowed = (int)floor(nn * 1e-3);
    float far_t = nn ? neg[nn - 1 - allowed].s + 1e-6f : 1.0f;
    int tar = 0;
    for (int k = 0; k < e.n_pairs; k++)
        if (e.pairs[k].same) { np++; tar += sim[k] >= far_t; }
    double secs = (fr_time_ms() - t0) / 1000.0;
    /* FAR / FRR over all pairs at a ladder of thresholds */
    static const float ladder[] = { 0.15f, 0.20f, 0.24f, 0.26f, 0.28f, 0.30f, 0.33f, 0.36f, 0.40f, 0.45f };
    enum { NL = sizeof ladder / sizeof ladder[0] };
    double far[NL], frr[NL];
    for (int l = 0; l < NL; l++) {
        int fa = 0, fr_ = 0;
        for (int k = 0; k < e.n_pairs; k++) {
            bool accept = sim[k] >= ladder[l];
            if (e.pairs[k].same) fr_ += !accept;
            else fa += accept;
        }
        far[l] = nn ? (double)fa / nn : 0.0;
        frr[l] = np ? (double)fr_ / np : 0.0;
    }
    if (json)
        printf("{\"accuracy\": %.5f, \"std\": %.5f, \"threshold\": %.4f, \"tar_at_far_1e-3\": %.4f, \"far_threshold\": %.4f, "
               "\"pairs\": %d, \"images\": %d, \"no_face_fallbacks\": %d, \"seconds\": %.1f}\n",
               mean, sqrt(var), (double)thr, np ? (double)tar / np : 0.0, (double)far_t, e.n_pairs, e.n_paths, fallbacks,
               secs);
    else {
        printf("LFW View-2: accuracy %.2f%% ± %.2f%% (10-fold), best threshold %.4f, TAR %.2f%% at FAR 1e-3 "
               "(threshold %.4f); %d pairs, %d images (%d without a detected face), %.1f s\n",
               100 * mean, 100 * sqrt(var), (double)thr, np ? 100.0 * tar / np : 0.0, (double)far_t, e.n_pairs, e.n_paths,
               fallbacks, secs);
        printf("\n| threshold | FAR (different people accepted) | FRR (same person rejected) |\n|---|---|---|\n");
        for (int l = 0; l < NL; l++)
            printf("| %.2f | %.2f%% | %.2f%% |\n", (double)ladder[l], 100 * far[l], 100 * frr[l]);
    }
    free(sim);
    free(neg);
    ret = FR_EXIT_OK;
out:
    for (int i = 0; i < e.n_paths; i++) free(e.paths[i]);
    free(e.paths);
    free(e.pairs);
    free(e.emb);
    free(e.status);
    fr_face_models_free(e.m);
    return ret;
}
