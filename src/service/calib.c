/* The identify threshold of each collection, and its self-calibration.
 *
 * identify asks fr__svc_threshold for the threshold of a search: the
 * request's own, else the one the target FPIR gives over the collection's
 * size with the model's impostor tail (include/facerec/openset.h), never
 * below the 1:1 verify threshold. The tail is the shipped one until the
 * collection has been measured: a job of src/jobs samples the collection
 * (up to CALIB_ROWS faces), scores every pair of faces of two different
 * subjects, and shifts the shipped tail to match the collection's own
 * impostors (fr_tail_adjust). A collection is measured again when its size
 * has moved by 10 % since the last time, so the calibration follows the
 * gallery as it grows; searches never wait for it (they use the last
 * measurement, or the shipped tail).
 *
 * Cost: CALIB_ROWS = 3000 faces give 4.5 M pairs, one 3000 x 3000 x 512
 * sgemm (~0.1 s on one core), at most once per 10 % of growth. */
#include "service/service_int.h"

#include "facerec/jobs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CALIB_ROWS   3000
#define CALIB_PAIRS  ((size_t)5000000)

struct calib_entry {
    int64_t client;
    char model[65];
    size_t rows_at;                 /* the collection's size when measured (or queued) */
    int measured, queued;
    struct fr_tail tail;            /* shipped tail, adjusted */
    struct fr_tail_adjust_info info;
};

struct fr_svc_calib {
    pthread_mutex_t mu;
    struct fr_jobs *jobs;           /* one worker of src/jobs runs the measurements */
    int stop;
    struct calib_entry *e;
    size_t n, cap;
    uint64_t seed;
};

static struct calib_entry *find(struct fr_svc_calib *c, int64_t client, const char *model, int create) {
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].client == client && !strcmp(c->e[i].model, model)) return &c->e[i];
    if (!create) return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct calib_entry *ne = fr_realloc(c->e, sizeof *ne * cap);
        if (!ne) return NULL;
        c->e = ne;
        c->cap = cap;
    }
    struct calib_entry *e = &c->e[c->n++];
    memset(e, 0, sizeof *e);
    e->client = client;
    snprintf(e->model, sizeof e->model, "%s", model);
    return e;
}

/* One measurement: sample, score, adjust. Runs without the lock. */
static int measure(struct fr_service *s, int64_t client, const char *model, uint64_t seed, struct fr_tail *out,
                   struct fr_tail_adjust_info *info) {
    const struct fr_tail *ship = fr_tail_for_model(model);
    float *v = NULL, *sc = NULL;
    int64_t *l = NULL;
    size_t n = 0, ns = 0;
    if (!ship) return fr_err_set(FR_E_NOT_FOUND, "no impostor tail for model %s", model);
    int rc = fr_index_set_sample(s->index, client, model, CALIB_ROWS, seed, &v, &l, &n);
    if (rc == 0) rc = fr_impostor_scores(v, l, n, FR_FACE_EMB_DIM, CALIB_PAIRS, &sc, &ns);
    if (rc == 0) rc = fr_tail_adjust(ship, sc, ns, out, info);
    fr_free(v);
    fr_free(l);
    fr_free(sc);
    return rc;
}

/* A job of src/jobs: measures every queued collection, one at a time, the
 * lock released while measuring. Several submits are harmless: a job that
 * finds nothing queued returns. */
static void calib_job(void *arg) {
    struct fr_service *s = arg;
    struct fr_svc_calib *c = s->calib;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        struct calib_entry *job = NULL;
        for (size_t i = 0; i < c->n && !job; i++)
            if (c->e[i].queued) job = &c->e[i];
        if (c->stop || !job) break;
        int64_t client = job->client;
        char model[65];
        snprintf(model, sizeof model, "%s", job->model);
        uint64_t seed = ++c->seed;
        pthread_mutex_unlock(&c->mu);
        struct fr_tail t;
        struct fr_tail_adjust_info info;
        double t0 = fr_time_ms();
        int rc = measure(s, client, model, seed, &t, &info);
        pthread_mutex_lock(&c->mu);
        struct calib_entry *e = find(c, client, model, 0);   /* the array may have moved */
        if (!e) continue;
        e->queued = 0;
        if (rc < 0) {
            fr_log(FR_LOG_WARN, "calibration of client %lld: %s", (long long)client, fr_err_detail());
            continue;
        }
        e->tail = t;
        e->info = info;
        e->measured = 1;
        fr_log(FR_LOG_DEBUG, "calibration of client %lld (%zu faces): %zu impostor pairs, shift %+.4f, %.0f ms",
               (long long)client, e->rows_at, info.pairs, (double)info.shift, fr_time_ms() - t0);
    }
    pthread_mutex_unlock(&c->mu);
}

int fr__svc_calib_start(struct fr_service *s) {
    struct fr_svc_calib *c = fr_calloc(1, sizeof *c);
    if (!c) return -FR_E_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    s->calib = c;
    return fr_jobs_start(1, &c->jobs);
}

void fr__svc_calib_stop(struct fr_service *s) {
    struct fr_svc_calib *c = s->calib;
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;                    /* queued measurements are dropped, a running one finishes */
    pthread_mutex_unlock(&c->mu);
    fr_jobs_stop(c->jobs);
    pthread_mutex_destroy(&c->mu);
    fr_free(c->e);
    fr_free(c);
    s->calib = NULL;
}

static int stale(const struct calib_entry *e, size_t rows) {
    if (e->queued) return 0;
    if (!e->measured) return rows >= 2;
    double r = (double)rows, a = (double)e->rows_at;
    return r > 1.1 * a || r < 0.9 * a;
}

void fr__svc_threshold(struct fr_service *s, int64_t client, float requested, double fpir, struct fr_svc_rule *rule) {
    memset(rule, 0, sizeof *rule);
    rule->fpir = fpir > 0 ? fpir : s->cfg.identify_fpir > 0 ? s->cfg.identify_fpir : FR_OPENSET_DEFAULT_FPIR;
    rule->margin = s->cfg.identify_margin > 0 ? s->cfg.identify_margin : 0.0f;
    rule->gallery_size = fr_index_set_count(s->index, client, s->model_id);
    rule->predicted_fpir = -1;
    if (requested >= 0) {
        rule->threshold = requested;
        rule->source = "request";
        return;
    }
    const struct fr_tail *ship = fr_tail_for_model(s->model_id);
    if (!ship) {   /* a model we have no tail for: the 1:1 threshold, said so */
        rule->threshold = s->cfg.match_threshold;
        rule->source = "fixed";
        return;
    }
    struct fr_tail t = *ship;
    struct fr_svc_calib *c = s->calib;
    rule->calibration = "model";
    if (c) {
        pthread_mutex_lock(&c->mu);
        struct calib_entry *e = find(c, client, s->model_id, 1);
        if (e && e->measured && e->info.adjusted) {
            t = e->tail;
            rule->calibration = "collection";
            rule->shift = e->info.shift;
            rule->pairs = e->info.pairs;
        }
        if (e && stale(e, rule->gallery_size)) {
            e->rows_at = rule->gallery_size;
            e->queued = fr_jobs_submit(c->jobs, "calibration", calib_job, s) == 0;
        }
        pthread_mutex_unlock(&c->mu);
    }
    size_t n = rule->gallery_size ? rule->gallery_size : 1;
    float thr = fr_openset_threshold(&t, rule->fpir, n);
    rule->source = "fpir";
    if (thr < s->cfg.match_threshold) {   /* tiny galleries: never below a 1:1 match */
        thr = s->cfg.match_threshold;
        rule->source = "verify_floor";
    }
    rule->threshold = thr;
    rule->predicted_fpir = fr_openset_fpir(&t, thr, n);
}
