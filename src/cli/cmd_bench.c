/* facerec bench pipeline [IMAGES...] [--iters K]
 * Per-stage milliseconds (decode, detect, landmarks, align, embed) and faces
 * per second at 1 and 2 threads (one pipeline context per thread, images
 * shared out), beside the sum of the three models' own times measured in the
 * same run, so the overhead of everything that is not a network shows. */
#include "cli.h"

#include "facerec/config.h"
#include "facerec/face.h"
#include "facerec/store.h"

#include <math.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct img_buf { uint8_t *buf; size_t len; };

struct stage_times { double decode, detect, landmarks, align, embed; int faces; };

static int run_one(struct fr_face_ctx *c, const struct img_buf *b, struct stage_times *t) {
    struct fr_image img = { 0 }, al = { 0 };
    struct fr_face *faces = NULL;
    int n = 0;
    double t0 = fr_time_ms();
    int rc = fr_image_decode(b->buf, b->len, NULL, &img);
    double t1 = fr_time_ms();
    if (rc == 0) rc = fr_face_detect(c, &img, NULL, &faces, &n);
    double t2 = fr_time_ms();
    t->decode += t1 - t0;
    t->detect += t2 - t1;
    for (int i = 0; rc == 0 && i < n; i++) {
        double a = fr_time_ms();
        rc = fr_face_landmarks(c, &img, &faces[i]);
        double bb = fr_time_ms();
        if (rc == 0) rc = fr_face_align(&img, faces[i].lm5, &al);
        double cc = fr_time_ms();
        if (rc == 0) rc = fr_face_embed_aligned(c, &al, faces[i].emb);
        double d = fr_time_ms();
        fr_image_free(&al);
        t->landmarks += bb - a;
        t->align += cc - bb;
        t->embed += d - cc;
        t->faces++;
    }
    fr_free(faces);
    fr_image_free(&img);
    return rc;
}

struct job {
    struct fr_face_models *m;
    const struct img_buf *imgs;
    int n_imgs, iters;
    atomic_int next;
    atomic_int faces;
    atomic_int err;
};

static void *worker(void *arg) {
    struct job *j = arg;
    struct fr_face_ctx *c = NULL;
    if (fr_face_ctx_new(j->m, &c) < 0) { atomic_store(&j->err, 1); return NULL; }
    struct stage_times t;
    memset(&t, 0, sizeof t);
    for (;;) {
        int k = atomic_fetch_add(&j->next, 1);
        if (k >= j->n_imgs * j->iters) break;
        if (run_one(c, &j->imgs[k % j->n_imgs], &t) < 0) atomic_store(&j->err, 1);
    }
    atomic_fetch_add(&j->faces, t.faces);
    fr_face_ctx_free(c);
    return NULL;
}

/* One model run on its own (its own session and input), timed once per
 * pipeline pass, so both sides of the comparison see the same moments of a
 * noisy machine. */
struct solo {
    struct fr_nn_model *m;
    struct fr_nn_session *s;
    struct fr_tensor in;
    double *t;
    int n;
};

static int solo_open(struct solo *o, const char *dir, const char *name, int iters) {
    char path[4096];
    struct fr_tensor out[4];
    memset(o, 0, sizeof *o);
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    int rc = fr_nn_model_load(path, NULL, &o->m);
    if (rc == 0) rc = fr_nn_session_new(o->m, 1, &o->s);
    if (rc < 0) return rc;
    fr_nn_model_input(o->m, 0, &o->in);
    o->in.data = fr_malloc_aligned(fr_tensor_bytes(&o->in));
    o->t = calloc((size_t)iters, sizeof *o->t);
    if (!o->in.data || !o->t) return -FR_E_NOMEM;
    fr_nn_fill_pattern(&o->in, 1, -1.0f, 1.0f);
    for (int i = 0; i < 3; i++) fr_nn_session_run(o->s, &o->in, out);     /* warm-up */
    return 0;
}

static double median(double *t, int n);

/* A burst of 5 back-to-back runs, its median recorded: the model warm in
 * cache, as a tight loop of it (make bench) measures it. */
static void solo_run(struct solo *o) {
    struct fr_tensor out[4];
    double b[5];
    for (int i = 0; i < 5; i++) {
        double t0 = fr_time_ms();
        fr_nn_session_run(o->s, &o->in, out);
        b[i] = fr_time_ms() - t0;
    }
    o->t[o->n++] = median(b, 5);
}

static double median(double *t, int n) {
    for (int i = 1; i < n; i++)      /* insertion sort: small */
        for (int k = i; k > 0 && t[k] < t[k - 1]; k--) { double x = t[k]; t[k] = t[k - 1]; t[k - 1] = x; }
    return n ? t[n / 2] : 0;
}

static void solo_close(struct solo *o) {
    fr_nn_session_free(o->s);
    fr_nn_model_unref(o->m);
    fr_free(o->in.data);
    free(o->t);
}

static int bench_pipeline(int argc, char **argv) {
    const char *paths[256];
    int n = 0, iters = 20;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--iters"))) iters = atoi(v);
        else if (argv[i][0] != '-' && n < 256) paths[n++] = argv[i];
        else { fprintf(stderr, "facerec bench: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (n == 0 || iters < 1) {
        fprintf(stderr, "usage: facerec bench pipeline IMAGE... [--iters K]\n");
        return FR_EXIT_USAGE;
    }
    const char *md = fr_cli_models_dir();
    struct img_buf imgs[256];
    for (int i = 0; i < n; i++) {
        int rc = fr_file_read(paths[i], (size_t)64 << 20, &imgs[i].buf, &imgs[i].len);
        if (rc < 0) return fr_cli_err(rc, paths[i]);
    }
    struct fr_face_models *m = NULL;
    struct fr_face_ctx *c = NULL;
    int rc = fr_face_models_load(md, &m);
    if (rc == 0) rc = fr_face_ctx_new(m, &c);
    if (rc < 0) return fr_cli_err(rc, "bench pipeline");
    /* one thread, stage by stage (first pass warms up) */
    struct stage_times t;
    for (int i = 0; i < n; i++) run_one(c, &imgs[i], &(struct stage_times){ 0 });
    memset(&t, 0, sizeof t);
    /* each pass over the images timed whole too: its median is compared with
     * the models' medians (means would let one slow moment of the VM count) */
    double *pass = calloc((size_t)iters, sizeof *pass);
    struct solo so[3];
    static const char *const solo_names[3] = { "fr_detect", "fr_landmark", "fr_feature" };
    memset(so, 0, sizeof so);
    if (!pass) rc = -FR_E_NOMEM;
    for (int k = 0; k < 3 && rc == 0; k++) rc = solo_open(&so[k], md, solo_names[k], iters);
    for (int it = 0; it < iters && rc == 0; it++) {
        double p0 = fr_time_ms();
        for (int i = 0; i < n && rc == 0; i++) rc = run_one(c, &imgs[i], &t);
        pass[it] = fr_time_ms() - p0;
        for (int k = 0; k < 3; k++) solo_run(&so[k]);
    }
    double pass_median = pass && rc == 0 ? median(pass, iters) : 0;
    double md_det = median(so[0].t, so[0].n), md_lm = median(so[1].t, so[1].n), md_ft = median(so[2].t, so[2].n);
    for (int k = 0; k < 3; k++) solo_close(&so[k]);
    free(pass);
    fr_face_ctx_free(c);
    if (rc < 0) { fr_face_models_free(m); return fr_cli_err(rc, "bench pipeline"); }
    int runs = n * iters;
    double per_img = (t.decode + t.detect) / runs, per_face = t.faces ? (t.landmarks + t.align + t.embed) / t.faces : 0;
    printf("%d images, %d faces per pass, %d passes, 1 thread:\n", n, t.faces / iters, iters);
    printf("  decode     %7.3f ms per image\n", t.decode / runs);
    printf("  detect     %7.3f ms per image   (fr_detect alone %.3f ms)\n", t.detect / runs, md_det);
    printf("  landmarks  %7.3f ms per face    (fr_landmark alone %.3f ms)\n", t.faces ? t.landmarks / t.faces : 0.0, md_lm);
    printf("  align      %7.3f ms per face\n", t.faces ? t.align / t.faces : 0.0);
    printf("  embed      %7.3f ms per face    (fr_feature alone %.3f ms)\n", t.faces ? t.embed / t.faces : 0.0, md_ft);
    double faces_per_img = (double)t.faces / runs;
    double e2e_mean = faces_per_img > 0 ? (per_img + per_face * faces_per_img) / faces_per_img : 0;
    double e2e = t.faces ? pass_median / ((double)t.faces / iters) : 0;
    double models = faces_per_img > 0 ? md_det / faces_per_img + md_lm + md_ft : 0;
    printf("  end to end %7.3f ms per face (median pass; mean %.3f); sum of model times %.3f ms per face (ratio %.2f)\n",
           e2e, e2e_mean, models, models > 0 ? e2e / models : 0.0);
    for (int th = 1; th <= 2; th++) {
        struct job j;
        memset(&j, 0, sizeof j);
        j.m = m;
        j.imgs = imgs;
        j.n_imgs = n;
        j.iters = iters;
        pthread_t w[2];
        double t0 = fr_time_ms();
        for (int k = 0; k < th; k++) pthread_create(&w[k], NULL, worker, &j);
        for (int k = 0; k < th; k++) pthread_join(w[k], NULL);
        double secs = (fr_time_ms() - t0) / 1000.0;
        printf("  %d thread%s: %.1f faces/s, %.1f images/s%s\n", th, th > 1 ? "s" : "", atomic_load(&j.faces) / secs,
               runs / secs, atomic_load(&j.err) ? " (errors)" : "");
    }
    for (int i = 0; i < n; i++) fr_free(imgs[i].buf);
    fr_face_models_free(m);
    return FR_EXIT_OK;
}

/* facerec bench seed N [--client ID]: N subjects with one synthetic face
 * each (random unit vectors tagged with the current model id) in the data
 * directory's database, for load tests against a large gallery. The
 * service builds its index from them at the next start. */
static int bench_seed(int argc, char **argv) {
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    int64_t client = 1;
    for (int i = 3; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--client"))) client = strtoll(v, NULL, 10);
        else { fprintf(stderr, "facerec bench seed: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (n < 1 || n > 10000000 || client < 1) {
        fprintf(stderr, "usage: facerec bench seed N [--client ID]   (FACEREC_DATA_DIR, FACEREC_MODELS_DIR)\n");
        return FR_EXIT_USAGE;
    }
    struct fr_config cfg;
    if (fr_config_load(&cfg, NULL) < 0) return fr_cli_err(-FR_E_INVALID_ARGUMENT, "configuration");
    struct fr_face_models *m = NULL;
    fr_store *st = NULL;
    int rc = fr_face_models_load(cfg.models_dir, &m);
    char url[FR_CONFIG_URL_MAX];
    if (rc == 0) rc = fr_store_open(fr_config_database_url(&cfg, url, sizeof url), &st);
    if (rc < 0) { fr_face_models_free(m); return fr_cli_err(rc, "bench seed"); }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    float emb[FR_FACE_EMB_DIM];
    double t0 = fr_time_ms();
    for (long i = 0; i < n && rc == 0; i += 10000) {
        fr_store *tx = NULL;
        if ((rc = fr_store_tx_begin(st, &tx)) < 0) break;
        for (long j = i; j < n && j < i + 10000 && rc == 0; j++) {
            double ss = 0;
            for (int k = 0; k < FR_FACE_EMB_DIM; k++) {     /* xorshift, roughly normal by summing */
                float v = 0;
                for (int r = 0; r < 3; r++) {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    v += (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
                }
                emb[k] = v;
                ss += (double)v * (double)v;
            }
            for (int k = 0; k < FR_FACE_EMB_DIM; k++) emb[k] = (float)((double)emb[k] / sqrt(ss));
            char name[32];
            snprintf(name, sizeof name, "seed-%ld", j);
            int64_t sid, fid;
            rc = fr_store_subject_create(tx, client, name, NULL, NULL, &sid);
            struct fr_store_face_new f = { .client_id = client, .subject_id = sid, .embedding = emb,
                                           .dim = FR_FACE_EMB_DIM, .model_id = fr_face_model_id(m), .quality = 0.9f,
                                           .liveness = -1.0f, .bbox = { 0, 0, 100, 100 } };
            if (rc == 0) rc = fr_store_face_add(tx, &f, &fid);
        }
        if (rc == 0) rc = fr_store_tx_commit(tx);
        else fr_store_tx_rollback(tx);
    }
    fr_store_close(st);
    fr_face_models_free(m);
    if (rc < 0) return fr_cli_err(rc, "bench seed");
    printf("seeded %ld faces for client %lld in %.1f s\n", n, (long long)client, (fr_time_ms() - t0) / 1000);
    return FR_EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "seed")) return bench_seed(argc, argv);
    if (argc < 2 || strcmp(argv[1], "pipeline")) {
        fprintf(stderr, "usage: facerec bench pipeline IMAGE... [--iters K] | bench seed N [--client ID]\n");
        return FR_EXIT_USAGE;
    }
    return bench_pipeline(argc, argv);
}
