/* facerec eval openset | eval impostors: identification (1:N) measured as
 * NIST FRVT and ISO/IEC 19795-1 measure it, and the impostor tail that the
 * service's decision is calibrated with.
 *
 *   facerec eval openset (--images DIR | --embeddings FILE) [--save-embeddings FILE]
 *                        [--half a|b|all] [--gallery-size N[,N...]] [--gallery-per-id K]
 *                        [--fpir X] [--margin M] [--aggregate max|mean2] [--draws R]
 *                        [--seed S] [--threads T] [--json]
 *   facerec eval impostors (--images DIR | --embeddings FILE) [--half a|b|all] [--out FILE]
 *
 * The data is a folder per identity (LFW: DIR/NAME/NAME_NNNN.jpg). Every
 * image goes through the service's pipeline once: detect, the face nearest
 * the centre (LFW's images are centred on their subject), 68 landmarks,
 * alignment, embedding, and quality with the pose model, exactly as the
 * service computes quality. --save-embeddings keeps the result; --embeddings
 * reads a file of that format instead (tools/ort_lfw_embed.js writes ONNX
 * Runtime's embeddings in it, so both engines go through one protocol).
 *
 * Protocol (openset): the gallery is the first K images of each identity
 * that has more than K; mated probes are their other images; non-mated
 * probes are the images of identities never enrolled (with K = 1 those with
 * a single image). A mated probe is missed (counts toward FNIR) unless the
 * decision is "match" to its own subject; a non-mated probe is a false
 * positive (FPIR) when the decision is "match" to anybody. Identities split
 * into halves a and b by a hash of their name: `eval impostors --half a`
 * fits the shipped tail, `eval openset --half b` grades it on people it
 * never saw. Random galleries of the given sizes (default 100, 1000 and the
 * whole gallery) are drawn --draws times (default 10) and averaged. */
#include "cli.h"

#include "facerec/face.h"
#include "facerec/openset.h"
#include "sessions/track.h"

#include <cblas.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DIM FR_FACE_EMB_DIM
#define VERIFY_FLOOR 0.28f      /* the service's floor: FACEREC_MATCH_THRESHOLD's default */

struct img {
    char *rel;                  /* NAME/NAME_0001.jpg */
    int id;                     /* identity index */
    int status;                 /* 0 face, 1 none found (central box used), < 0 error */
    float qscore;
    int reasons;                /* FR_Q_* bits; -1 unknown (not measured) */
};

struct data {
    struct img *im;
    int n, cap;
    char **names;               /* identity names */
    int n_ids, cap_ids;
    float *emb;                 /* n × DIM */
    char model_id[65];
    char source[32];
    /* embedding run */
    const char *dir;
    struct fr_face_models *m;
    struct fr_face_extra *x;
    atomic_int next, done;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image(const char *name) {
    const char *d = strrchr(name, '.');
    return d && (!strcasecmp(d, ".jpg") || !strcasecmp(d, ".jpeg") || !strcasecmp(d, ".png") || !strcasecmp(d, ".webp"));
}

/* Names in a folder (files or folders by want_dirs), sorted bytewise. */
static int list_dir(const char *path, int want_dirs, char ***out, int *n_out) {
    DIR *d = opendir(path);
    if (!d) return fr_err_set(FR_E_IO, "cannot open folder %s", path);
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int isdir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            DIR *t = opendir(p);
            isdir = t != NULL;
            if (t) closedir(t);
        }
        if (isdir != want_dirs || (!want_dirs && !is_image(e->d_name))) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) break;
            v = nv;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return 0;
}

static int add_identity(struct data *d, const char *name) {
    if (d->n_ids == d->cap_ids) {
        d->cap_ids = d->cap_ids ? 2 * d->cap_ids : 1024;
        d->names = realloc(d->names, sizeof *d->names * (size_t)d->cap_ids);
        if (!d->names) return -FR_E_NOMEM;
    }
    d->names[d->n_ids] = strdup(name);
    return d->n_ids++;
}

static int add_image(struct data *d, const char *rel, int id) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 4096;
        d->im = realloc(d->im, sizeof *d->im * (size_t)d->cap);
        if (!d->im) return -FR_E_NOMEM;
    }
    memset(&d->im[d->n], 0, sizeof d->im[d->n]);
    d->im[d->n].rel = strdup(rel);
    d->im[d->n].id = id;
    d->im[d->n].reasons = -1;
    d->n++;
    return 0;
}

static int scan_images(struct data *d, const char *dir) {
    char **ids = NULL;
    int n_ids = 0, rc = list_dir(dir, 1, &ids, &n_ids);
    for (int i = 0; i < n_ids && rc == 0; i++) {
        char p[4096], **files = NULL;
        int nf = 0;
        snprintf(p, sizeof p, "%s/%s", dir, ids[i]);
        if ((rc = list_dir(p, 0, &files, &nf)) == 0 && nf > 0) {
            int id = add_identity(d, ids[i]);
            for (int j = 0; j < nf && rc == 0; j++) {
                snprintf(p, sizeof p, "%s/%s", ids[i], files[j]);
                rc = id < 0 ? id : add_image(d, p, id);
            }
        }
        for (int j = 0; j < nf; j++) free(files[j]);
        free(files);
    }
    for (int i = 0; i < n_ids; i++) free(ids[i]);
    free(ids);
    if (rc == 0 && d->n == 0) rc = fr_err_set(FR_E_INVALID_ARGUMENT, "no images in %s/*/", dir);
    return rc;
}

/* ---- embedding ---- */

static int embed_image(struct fr_face_ctx *c, struct fr_face_extra_ctx *xc, const char *path, float *emb,
                       struct img *im) {
    struct fr_image img = { 0 }, al = { 0 };
    struct fr_face *faces = NULL;
    int n = 0, rc = fr_image_load(path, NULL, &img);
    if (rc < 0) return rc;
    if ((rc = fr_face_detect(c, &img, NULL, &faces, &n)) < 0) goto out;
    struct fr_face f;
    memset(&f, 0, sizeof f);
    if (n > 0) {   /* nearest the centre: the service's select=central */
        f = faces[fr_face_select_one(faces, n, img.w, img.h, FR_FACE_CENTRAL)];
        im->status = 0;
    } else {
        f.box[0] = 0.2f * (float)img.w;
        f.box[1] = 0.2f * (float)img.h;
        f.box[2] = 0.8f * (float)img.w;
        f.box[3] = 0.8f * (float)img.h;
        im->status = 1;
    }
    struct fr_face_quality q;
    if ((rc = fr_face_landmarks(c, &img, &f)) < 0 || (rc = fr_face_align(&img, f.lm5, &al)) < 0 ||
        (rc = fr_face_embed_aligned(c, &al, emb)) < 0 ||
        (rc = fr_face_quality_aligned(xc, &img, &f, &al, NULL, &q)) < 0)
        goto out;
    im->qscore = q.score;
    im->reasons = (int)(q.reasons | (im->status ? FR_Q_LOW_CONFIDENCE : 0));
out:
    fr_free(faces);
    fr_image_free(&img);
    fr_image_free(&al);
    return rc;
}

static void *embed_worker(void *arg) {
    struct data *d = arg;
    struct fr_face_ctx *c = NULL;
    struct fr_face_extra_ctx *xc = NULL;
    if (fr_face_ctx_new(d->m, &c) < 0 || fr_face_extra_ctx_new(d->x, &xc) < 0) {
        fr_face_ctx_free(c);
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(&d->next, 1);
        if (i >= d->n) break;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", d->dir, d->im[i].rel);
        int rc = embed_image(c, xc, p, d->emb + (size_t)i * DIM, &d->im[i]);
        if (rc < 0) d->im[i].status = rc;
        atomic_fetch_add(&d->done, 1);
    }
    fr_face_extra_ctx_free(xc);
    fr_face_ctx_free(c);
    return NULL;
}

static int embed_all(struct data *d, const char *dir, int threads) {
    const char *md = fr_cli_models_dir();
    int rc = fr_face_models_load(md, &d->m);
    if (rc == 0) rc = fr_face_extra_load(md, &d->x);
    if (rc < 0) return rc;
    snprintf(d->model_id, sizeof d->model_id, "%s", fr_face_model_id(d->m));
    snprintf(d->source, sizeof d->source, "facerec");
    d->dir = dir;
    d->emb = calloc((size_t)d->n * DIM, sizeof *d->emb);
    if (!d->emb) return -FR_E_NOMEM;
    pthread_t th[64];
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, embed_worker, d);
    for (;;) {
        int k = atomic_load(&d->done);
        fprintf(stderr, "\r[%-40.*s] %d/%d images", 40 * k / d->n, "########################################", k, d->n);
        if (k >= d->n) break;
        struct timespec ts = { 0, 250000000 };
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "\n");
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    int errors = 0;
    for (int i = 0; i < d->n; i++)
        if (d->im[i].status < 0 && errors++ < 5)
            fprintf(stderr, "facerec eval: %s: %s\n", d->im[i].rel, fr_strerror(d->im[i].status));
    return errors ? fr_err_set(FR_E_IO, "%d images failed", errors) : 0;
}

/* ---- the embeddings file ----
 * line 1: "facerec-embeddings 1 count=N dim=512 model=ID source=NAME\n"
 * N lines: "REL\tSTATUS\tQUALITY\tREASONS\n" (quality and reasons -1: not measured)
 * then N × dim float32, little endian, row-major. */

static int save_embeddings(const struct data *d, const char *file) {
    FILE *f = fopen(file, "wb");
    if (!f) return fr_err_set(FR_E_IO, "cannot write %s", file);
    fprintf(f, "facerec-embeddings 1 count=%d dim=%d model=%s source=%s\n", d->n, DIM, d->model_id, d->source);
    for (int i = 0; i < d->n; i++)
        fprintf(f, "%s\t%d\t%.4f\t%d\n", d->im[i].rel, d->im[i].status, (double)d->im[i].qscore, d->im[i].reasons);
    size_t w = fwrite(d->emb, sizeof(float) * DIM, (size_t)d->n, f);
    int bad = fclose(f) != 0 || w != (size_t)d->n;
    return bad ? fr_err_set(FR_E_IO, "short write to %s", file) : 0;
}

static int load_embeddings(struct data *d, const char *file) {
    FILE *f = fopen(file, "rb");
    if (!f) return fr_err_set(FR_E_IO, "cannot open %s", file);
    char line[4096];
    int n = 0, dim = 0, rc = 0;
    char model[65] = "", source[32] = "";
    if (!fgets(line, sizeof line, f) ||
        sscanf(line, "facerec-embeddings 1 count=%d dim=%d model=%64s source=%31s", &n, &dim, model, source) != 4 ||
        n < 1 || n > 10000000 || dim != DIM) {
        fclose(f);
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: not a facerec-embeddings file of dim %d", file, DIM);
    }
    snprintf(d->model_id, sizeof d->model_id, "%s", model);
    snprintf(d->source, sizeof d->source, "%s", source);
    int prev_id = -1;
    char prev_name[1024] = "";
    for (int i = 0; i < n && rc == 0; i++) {
        char rel[2048];
        int st, rs;
        float qs;
        if (!fgets(line, sizeof line, f) || sscanf(line, "%2047[^\t]\t%d\t%f\t%d", rel, &st, &qs, &rs) != 4) {
            rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: bad image line %d", file, i + 2);
            break;
        }
        char *slash = strchr(rel, '/');
        if (!slash || slash - rel >= (ptrdiff_t)sizeof prev_name) {
            rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: %s is not NAME/FILE", file, rel);
            break;
        }
        if (prev_id < 0 || strncmp(prev_name, rel, (size_t)(slash - rel)) || prev_name[slash - rel]) {
            snprintf(prev_name, sizeof prev_name, "%.*s", (int)(slash - rel), rel);
            prev_id = add_identity(d, prev_name);
            if (prev_id < 0) rc = prev_id;
        }
        if (rc == 0) rc = add_image(d, rel, prev_id);
        if (rc == 0) {
            d->im[i].status = st;
            d->im[i].qscore = qs;
            d->im[i].reasons = rs;
        }
    }
    if (rc == 0) {
        d->emb = malloc(sizeof(float) * DIM * (size_t)n);
        if (!d->emb) rc = -FR_E_NOMEM;
        else if (fread(d->emb, sizeof(float) * DIM, (size_t)n, f) != (size_t)n)
            rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: fewer than %d embeddings", file, n);
    }
    fclose(f);
    return rc;
}

/* ---- identities, halves, galleries ---- */

static int half_of(const char *name) {   /* FNV-1a of the name: 'a' or 'b' */
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (h >> 32) & 1 ? 'b' : 'a';
}

struct ident { int first, count; };    /* images first .. first+count-1 (sorted by name) */

struct protocol {
    int k;                      /* gallery images per identity */
    int *gal_ids, n_gal_ids;    /* identities with > k images (candidates for the gallery) */
    int *nonmated, n_nonmated;  /* images of identities with <= k images */
};

static uint64_t rng_next(uint64_t *s) {   /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* What one probe's search gives. */
struct probe_res {
    float s1, s2;               /* best subject's score, best other subject's */
    int id1;                    /* best subject (identity index) */
    float genuine;              /* own subject's score (mated), -inf otherwise */
    int rank;                   /* own subject's rank, 1-based (mated) */
    int gated;                  /* quality reason */
    int mated;
};

enum agg { AGG_MAX, AGG_MEAN2 };

/* A subject's score from its k faces' scores: the best, or the mean of the best two. */
static float subject_score(const float *sj, int k, int agg) {
    if (k == 1) return sj[0];
    float b1 = -INFINITY, b2 = -INFINITY;
    for (int t = 0; t < k; t++) {
        if (sj[t] > b1) { b2 = b1; b1 = sj[t]; }
        else if (sj[t] > b2) b2 = sj[t];
    }
    return agg == AGG_MAX ? b1 : 0.5f * (b1 + b2);
}

/* Searches every probe against the gallery (identities sel[0..ns), first k
 * images each) with subject scores aggregated by agg. */
static int search(const struct data *d, const struct ident *ids, const int *sel, int ns, int k, const int *probes,
                  int np, const char *is_mated_id, int agg, struct probe_res *out) {
    int ng = ns * k;
    float *g = malloc(sizeof(float) * DIM * (size_t)ng), *s = malloc(sizeof(float) * (size_t)ng * 256);
    float *pq = malloc(sizeof(float) * DIM * 256), *sub = malloc(sizeof(float) * (size_t)ns);
    if (!g || !s || !pq || !sub) {
        free(g);
        free(s);
        free(pq);
        free(sub);
        return -FR_E_NOMEM;
    }
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < k; j++)
            memcpy(g + (size_t)(i * k + j) * DIM, d->emb + (size_t)(ids[sel[i]].first + j) * DIM, sizeof(float) * DIM);
    for (int p0 = 0; p0 < np; p0 += 256) {
        int pb = np - p0 < 256 ? np - p0 : 256;
        for (int i = 0; i < pb; i++) memcpy(pq + (size_t)i * DIM, d->emb + (size_t)probes[p0 + i] * DIM, sizeof(float) * DIM);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, pb, ng, DIM, 1.0f, pq, DIM, g, DIM, 0.0f, s, ng);
        for (int i = 0; i < pb; i++) {
            const struct img *im = &d->im[probes[p0 + i]];
            struct probe_res *r = &out[p0 + i];
            r->s1 = r->s2 = r->genuine = -INFINITY;
            r->id1 = -1;
            r->mated = is_mated_id[im->id];
            r->gated = im->reasons > 0;
            const float *row = s + (size_t)i * ng;
            /* subject scores, once: the best two, the own one, and the own one's rank */
            for (int j = 0; j < ns; j++) {
                float v = sub[j] = subject_score(row + (size_t)j * k, k, agg);
                int id = sel[j];
                if (id == im->id) r->genuine = v;
                if (v > r->s1) { r->s2 = r->s1; r->s1 = v; r->id1 = id; }
                else if (v > r->s2) r->s2 = v;
            }
            if (r->mated) {
                int rank = 1;
                for (int j = 0; j < ns; j++) rank += sel[j] != im->id && sub[j] > r->genuine;
                r->rank = rank;
            }
        }
    }
    free(g);
    free(s);
    free(pq);
    free(sub);
    return 0;
}

/* Outcome counts at one decision rule. */
struct outcome {
    int n_mated, n_non;
    int fp;                     /* non-mated decided "match" */
    int hit;                    /* mated decided "match" to their own subject */
    int wrong;                  /* mated decided "match" to someone else */
    int ambiguous_m, lowq_m, unknown_m;
};

static struct outcome decide_all(const struct probe_res *r, int np, float thr, float margin, int gate) {
    struct outcome o;
    memset(&o, 0, sizeof o);
    for (int i = 0; i < np; i++) {
        int dcs = fr_openset_decide(r[i].s1, r[i].s2, thr, margin, r[i].gated ? FR_Q_LOW_SHARPNESS : 0, gate);
        if (r[i].mated) {
            o.n_mated++;
            if (dcs == FR_DECISION_MATCH) {
                if (r[i].genuine >= r[i].s1) o.hit++;
                else o.wrong++;
            } else if (dcs == FR_DECISION_AMBIGUOUS) o.ambiguous_m++;
            else if (dcs == FR_DECISION_LOW_QUALITY) o.lowq_m++;
            else o.unknown_m++;
        } else {
            o.n_non++;
            o.fp += dcs == FR_DECISION_MATCH;
        }
    }
    return o;
}

static double fpir_of(const struct outcome *o) { return o->n_non ? (double)o->fp / o->n_non : 0; }
static double fnir_of(const struct outcome *o) { return o->n_mated ? 1.0 - (double)o->hit / o->n_mated : 0; }

static int cmp_desc_f(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return a > b ? -1 : a < b;
}

/* The lowest threshold whose FPIR is <= target (no margin, no quality gate:
 * the score-based figure NIST reports): just above the (floor(target·n)+1)-th
 * largest non-mated best score. */
static float threshold_at_fpir(const struct probe_res *r, int np, double target) {
    int n = 0;
    float *v = malloc(sizeof *v * (size_t)np);
    for (int i = 0; i < np; i++)
        if (!r[i].mated) v[n++] = r[i].s1;
    qsort(v, (size_t)n, sizeof *v, cmp_desc_f);
    int a = (int)floor(target * n + 1e-9);
    float t = a < n ? nextafterf(v[a], INFINITY) : -1.0f;
    free(v);
    return t;
}

/* ---- one gallery ---- */

struct gal_result {
    int size, n_mated, n_non;
    double rank1, rank5;
    double fnir_at[3], thr_at[3];           /* at FPIR 10 %, 1 %, 0.1 % */
    double def_thr, def_fpir, def_fnir, def_fnir_nogate, def_fpir_nogate;
    double def_wrong, def_ambig, def_lowq, def_unknown;   /* shares of mated probes */
    double old_fpir, old_fnir;              /* the old fixed 0.28 decision */
    double pred_ship, pred_coll;            /* FPIR predicted at def_thr by the shipped / adjusted tail */
    double adj_thr, adj_fpir, adj_fnir, shift;
    double pairs;
};

static const double FPIRS[3] = { 0.1, 0.01, 0.001 };

struct opts {
    int k, agg, draws, json;
    int probes_from;            /* mated probes: images from this index on (default k) */
    double fpir;
    float margin;
    uint64_t seed;
    const struct fr_tail *tail;
};

static void add_result(struct gal_result *acc, const struct gal_result *r, double w) {
    double *a = &acc->rank1;
    const double *b = &r->rank1;
    size_t nd = (sizeof *acc - offsetof(struct gal_result, rank1)) / sizeof(double);
    for (size_t i = 0; i < nd; i++) a[i] += w * b[i];
}

static int eval_gallery(const struct data *d, const struct ident *ids, const struct protocol *pr, int size,
                        const struct opts *o, struct gal_result *res) {
    memset(res, 0, sizeof *res);
    int draws = size >= pr->n_gal_ids ? 1 : o->draws;
    uint64_t rs = o->seed + (uint64_t)size * 7919u;
    int *perm = malloc(sizeof *perm * (size_t)pr->n_gal_ids);
    char *mated = calloc((size_t)d->n_ids, 1);
    int *probes = malloc(sizeof *probes * (size_t)d->n);
    struct probe_res *pres = malloc(sizeof *pres * (size_t)d->n);
    int rc = perm && mated && probes && pres ? 0 : -FR_E_NOMEM;
    if (size > pr->n_gal_ids) size = pr->n_gal_ids;
    for (int dr = 0; dr < draws && rc == 0; dr++) {
        memcpy(perm, pr->gal_ids, sizeof *perm * (size_t)pr->n_gal_ids);
        for (int i = 0; i < size && size < pr->n_gal_ids; i++) {   /* partial Fisher-Yates */
            int j = i + (int)(rng_next(&rs) % (uint64_t)(pr->n_gal_ids - i));
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        memset(mated, 0, (size_t)d->n_ids);
        int np = 0;
        for (int i = 0; i < size; i++) {
            const struct ident *id = &ids[perm[i]];
            mated[perm[i]] = 1;
            for (int j = o->probes_from; j < id->count; j++) probes[np++] = id->first + j;
        }
        for (int i = 0; i < pr->n_nonmated; i++) probes[np++] = pr->nonmated[i];
        if ((rc = search(d, ids, perm, size, o->k, probes, np, mated, o->agg, pres)) < 0) break;
        struct gal_result r;
        memset(&r, 0, sizeof r);
        r.size = size;
        int r1 = 0, r5 = 0;
        for (int i = 0; i < np; i++)
            if (pres[i].mated) {
                r.n_mated++;
                r1 += pres[i].rank == 1;
                r5 += pres[i].rank <= 5;
            } else {
                r.n_non++;
            }
        r.rank1 = (double)r1 / r.n_mated;
        r.rank5 = (double)r5 / r.n_mated;
        for (int f = 0; f < 3; f++) {
            float t = threshold_at_fpir(pres, np, FPIRS[f]);
            struct outcome oc = decide_all(pres, np, t, 0, 0);
            r.fnir_at[f] = fnir_of(&oc);
            r.thr_at[f] = t;
        }
        size_t n_faces = (size_t)size * (size_t)o->k;
        float thr = o->tail ? fr_openset_threshold(o->tail, o->fpir, n_faces) : VERIFY_FLOOR;
        if (thr < VERIFY_FLOOR) thr = VERIFY_FLOOR;
        r.def_thr = thr;
        struct outcome oc = decide_all(pres, np, thr, o->margin, 1);
        r.def_fpir = fpir_of(&oc);
        r.def_fnir = fnir_of(&oc);
        r.def_wrong = (double)oc.wrong / oc.n_mated;
        r.def_ambig = (double)oc.ambiguous_m / oc.n_mated;
        r.def_lowq = (double)oc.lowq_m / oc.n_mated;
        r.def_unknown = (double)oc.unknown_m / oc.n_mated;
        oc = decide_all(pres, np, thr, o->margin, 0);
        r.def_fpir_nogate = fpir_of(&oc);
        r.def_fnir_nogate = fnir_of(&oc);
        oc = decide_all(pres, np, VERIFY_FLOOR, 0, 0);
        r.old_fpir = fpir_of(&oc);
        r.old_fnir = fnir_of(&oc);
        /* self-calibration from the gallery's own cross-subject scores */
        if (o->tail) {
            float *gv = malloc(sizeof(float) * DIM * n_faces);
            int64_t *gl = malloc(sizeof *gl * n_faces);
            float *sc = NULL;
            size_t ns = 0;
            if (!gv || !gl) rc = -FR_E_NOMEM;
            for (int i = 0; rc == 0 && i < size; i++)
                for (int j = 0; j < o->k; j++) {
                    memcpy(gv + (size_t)(i * o->k + j) * DIM, d->emb + (size_t)(ids[perm[i]].first + j) * DIM,
                           sizeof(float) * DIM);
                    gl[i * o->k + j] = perm[i];
                }
            if (rc == 0) rc = fr_impostor_scores(gv, gl, n_faces, DIM, (size_t)50000000, &sc, &ns);
            struct fr_tail adj;
            struct fr_tail_adjust_info info;
            if (rc == 0) rc = fr_tail_adjust(o->tail, sc, ns, &adj, &info);
            if (rc == 0) {
                r.pairs = (double)ns;
                r.shift = info.shift;
                r.pred_ship = fr_openset_fpir(o->tail, thr, n_faces);
                r.pred_coll = fr_openset_fpir(&adj, thr, n_faces);
                float at = fr_openset_threshold(&adj, o->fpir, n_faces);
                if (at < VERIFY_FLOOR) at = VERIFY_FLOOR;
                r.adj_thr = at;
                oc = decide_all(pres, np, at, o->margin, 1);
                r.adj_fpir = fpir_of(&oc);
                r.adj_fnir = fnir_of(&oc);
            }
            free(gv);
            free(gl);
            fr_free(sc);
        }
        add_result(res, &r, 1.0 / draws);
        res->size = size;
        res->n_mated += r.n_mated;
        res->n_non = r.n_non;
    }
    res->n_mated /= draws;
    free(perm);
    free(mated);
    free(probes);
    free(pres);
    return rc;
}

/* ---- reports ---- */

static void print_gallery(const struct gal_result *r, const struct opts *o, int draws) {
    printf("\n### gallery of %d subjects (%d face%s each%s): %d mated, %d non-mated probes\n\n", r->size, o->k,
           o->k > 1 ? "s" : "", draws > 1 ? "; mean of random draws" : "", r->n_mated, r->n_non);
    printf("| measure | value |\n|---|---|\n");
    printf("| rank-1 / rank-5 hit rate (closed set) | %.2f%% / %.2f%% |\n", 100 * r->rank1, 100 * r->rank5);
    for (int f = 0; f < 3; f++)
        printf("| FNIR at FPIR %g%% | %.2f%% (threshold %.3f) |\n", 100 * FPIRS[f], 100 * r->fnir_at[f], r->thr_at[f]);
    printf("| default decision (FPIR target %g%%, margin %.2f, quality gate): threshold | %.3f |\n", 100 * o->fpir,
           (double)o->margin, r->def_thr);
    printf("| ... measured FPIR / FNIR | **%.2f%% / %.2f%%** |\n", 100 * r->def_fpir, 100 * r->def_fnir);
    printf("| ... mated probes: wrong subject / ambiguous / low_quality / unknown | %.2f%% / %.2f%% / %.2f%% / %.2f%% |\n",
           100 * r->def_wrong, 100 * r->def_ambig, 100 * r->def_lowq, 100 * r->def_unknown);
    printf("| ... without the quality gate: FPIR / FNIR | %.2f%% / %.2f%% |\n", 100 * r->def_fpir_nogate,
           100 * r->def_fnir_nogate);
    if (o->tail) {
        printf("| ... FPIR predicted by the shipped tail / by the gallery's own impostors (%.0f pairs, shift %+.3f) | %.2f%% / %.2f%% |\n",
               r->pairs, r->shift, 100 * r->pred_ship, 100 * r->pred_coll);
        printf("| self-calibrated threshold; measured FPIR / FNIR | %.3f; %.2f%% / %.2f%% |\n", r->adj_thr,
               100 * r->adj_fpir, 100 * r->adj_fnir);
    }
    printf("| the old fixed 0.28 decision: FPIR / FNIR | %.2f%% / %.2f%% |\n", 100 * r->old_fpir, 100 * r->old_fnir);
}

static json_t *gallery_json(const struct gal_result *r) {
    return json_pack("{s:i,s:i,s:i,s:f,s:f,s:{s:f,s:f,s:f},s:{s:f,s:f,s:f},s:{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f},"
                     "s:{s:f,s:f,s:f,s:f,s:f,s:f},s:{s:f,s:f}}",
                     "subjects", r->size, "mated_probes", r->n_mated, "nonmated_probes", r->n_non, "rank1", r->rank1,
                     "rank5", r->rank5, "fnir_at_fpir", "0.1", r->fnir_at[0], "0.01", r->fnir_at[1], "0.001", r->fnir_at[2],
                     "threshold_at_fpir", "0.1", r->thr_at[0], "0.01", r->thr_at[1], "0.001", r->thr_at[2], "default",
                     "threshold", r->def_thr, "fpir", r->def_fpir, "fnir", r->def_fnir, "wrong_subject", r->def_wrong,
                     "ambiguous", r->def_ambig, "low_quality", r->def_lowq, "unknown", r->def_unknown,
                     "fpir_no_quality_gate", r->def_fpir_nogate, "fnir_no_quality_gate", r->def_fnir_nogate,
                     "predicted_fpir_shipped", r->pred_ship, "predicted_fpir_collection", r->pred_coll, "collection_pairs",
                     r->pairs, "self_calibrated", "threshold", r->adj_thr, "fpir", r->adj_fpir, "fnir", r->adj_fnir,
                     "shift", r->shift, "predicted_fpir_shipped", r->pred_ship, "predicted_fpir_collection", r->pred_coll,
                     "fixed_0.28", "fpir", r->old_fpir, "fnir", r->old_fnir);
}

/* The DET curve, the margin's effect and the cost of larger galleries, on the
 * whole gallery. */
static int details_full(const struct data *d, const struct ident *ids, const struct protocol *pr,
                        const struct opts *o, json_t *js) {
    int size = pr->n_gal_ids, np = 0;
    char *mated = calloc((size_t)d->n_ids, 1);
    int *probes = malloc(sizeof *probes * (size_t)d->n);
    struct probe_res *pres = malloc(sizeof *pres * (size_t)d->n);
    if (!mated || !probes || !pres) {
        free(mated);
        free(probes);
        free(pres);
        return -FR_E_NOMEM;
    }
    for (int i = 0; i < size; i++) {
        mated[pr->gal_ids[i]] = 1;
        for (int j = o->probes_from; j < ids[pr->gal_ids[i]].count; j++) probes[np++] = ids[pr->gal_ids[i]].first + j;
    }
    for (int i = 0; i < pr->n_nonmated; i++) probes[np++] = pr->nonmated[i];
    int rc = search(d, ids, pr->gal_ids, size, o->k, probes, np, mated, o->agg, pres);
    if (rc < 0) goto out;
    /* DET */
    static const double det[] = { 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001 };
    json_t *jd = json_array();
    if (!o->json) printf("\n### DET curve, whole gallery (scores only: no margin, no quality gate)\n\n| FPIR | FNIR | threshold |\n|---|---|---|\n");
    for (size_t i = 0; i < sizeof det / sizeof det[0]; i++) {
        float t = threshold_at_fpir(pres, np, det[i]);
        struct outcome oc = decide_all(pres, np, t, 0, 0);
        if (!o->json) printf("| %g%% | %.2f%% | %.3f |\n", 100 * det[i], 100 * fnir_of(&oc), (double)t);
        json_array_append_new(jd, json_pack("{s:f,s:f,s:f}", "fpir", fpir_of(&oc), "fnir", fnir_of(&oc), "threshold", (double)t));
    }
    json_object_set_new(js, "det", jd);
    /* margin */
    size_t n_faces = (size_t)size * (size_t)o->k;
    float thr = o->tail ? fr_openset_threshold(o->tail, o->fpir, n_faces) : VERIFY_FLOOR;
    if (thr < VERIFY_FLOOR) thr = VERIFY_FLOOR;
    static const float margins[] = { 0.0f, 0.01f, 0.02f, 0.03f, 0.05f, 0.08f, 0.10f };
    json_t *jm = json_array();
    if (!o->json)
        printf("\n### The ambiguity margin, whole gallery, threshold %.3f (quality gate on)\n\n"
               "| margin | FPIR | FNIR | mated: wrong subject | mated: ambiguous | non-mated: ambiguous |\n|---|---|---|---|---|---|\n",
               (double)thr);
    for (size_t i = 0; i < sizeof margins / sizeof margins[0]; i++) {
        struct outcome oc = decide_all(pres, np, thr, margins[i], 1);
        int amb_non = 0;
        for (int p = 0; p < np; p++)
            if (!pres[p].mated && fr_openset_decide(pres[p].s1, pres[p].s2, thr, margins[i], pres[p].gated, 1) ==
                                      FR_DECISION_AMBIGUOUS)
                amb_non++;
        if (!o->json)
            printf("| %.2f | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% |\n", (double)margins[i], 100 * fpir_of(&oc),
                   100 * fnir_of(&oc), 100.0 * oc.wrong / oc.n_mated, 100.0 * oc.ambiguous_m / oc.n_mated,
                   100.0 * amb_non / oc.n_non);
        json_array_append_new(jm, json_pack("{s:f,s:f,s:f,s:f,s:f}", "margin", (double)margins[i], "fpir", fpir_of(&oc),
                                            "fnir", fnir_of(&oc), "wrong_subject", (double)oc.wrong / oc.n_mated,
                                            "ambiguous", (double)oc.ambiguous_m / oc.n_mated));
    }
    json_object_set_new(js, "margins", jm);
    /* larger galleries: the threshold the tail gives, and the share of this
     * gallery's mated probes whose own score falls below it */
    if (o->tail) {
        static const double sizes[] = { 100, 1e3, 1e4, 1e5, 1e6 };
        json_t *je = json_array();
        if (!o->json)
            printf("\n### Larger galleries, extrapolated from the impostor tail (FPIR %g%%)\n\n"
                   "| gallery faces | per-comparison FAR | threshold | FNIR (mated scores below it, this set) |\n|---|---|---|---|\n",
                   100 * o->fpir);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            float t = fr_openset_threshold(o->tail, o->fpir, (size_t)sizes[i]);
            if (t < VERIFY_FLOOR) t = VERIFY_FLOOR;
            int below = 0, nm = 0;
            for (int p = 0; p < np; p++)
                if (pres[p].mated) {
                    nm++;
                    below += !(pres[p].genuine >= t) || pres[p].rank > 1;
                }
            double far = -expm1(log1p(-o->fpir) / sizes[i]);
            if (!o->json)
                printf("| %.0f | %.1e | %.3f | %.2f%% |\n", sizes[i], far, (double)t, 100.0 * below / nm);
            json_array_append_new(je, json_pack("{s:f,s:f,s:f,s:f}", "gallery", sizes[i], "far", far, "threshold",
                                                (double)t, "fnir", (double)below / nm));
        }
        json_object_set_new(js, "extrapolation", je);
    }
    /* quality gate */
    int gm = 0, gn = 0, nm = 0, nn = 0;
    for (int p = 0; p < np; p++) {
        if (pres[p].mated) { nm++; gm += pres[p].gated; }
        else { nn++; gn += pres[p].gated; }
    }
    if (!o->json)
        printf("\nProbes with a quality reason (decided low_quality): %d of %d mated (%.1f%%), %d of %d non-mated (%.1f%%)\n",
               gm, nm, 100.0 * gm / nm, gn, nn, 100.0 * gn / nn);
out:
    free(mated);
    free(probes);
    free(pres);
    return rc;
}

static int build_protocol(const struct data *d, int half, int k, int min_images, struct ident **ids_out,
                          struct protocol *pr) {
    struct ident *ids = calloc((size_t)d->n_ids, sizeof *ids);
    pr->gal_ids = malloc(sizeof(int) * (size_t)d->n_ids);
    pr->nonmated = malloc(sizeof(int) * (size_t)d->n);
    if (!ids || !pr->gal_ids || !pr->nonmated) {
        free(ids);
        return -FR_E_NOMEM;
    }
    for (int i = 0; i < d->n_ids; i++) ids[i].first = -1;
    for (int i = 0; i < d->n; i++) {
        struct ident *id = &ids[d->im[i].id];
        if (id->first < 0) id->first = i;
        id->count++;
    }
    pr->k = k;
    pr->n_gal_ids = pr->n_nonmated = 0;
    for (int i = 0; i < d->n_ids; i++) {
        if (half != 'x' && half_of(d->names[i]) != half) continue;
        if (ids[i].count > k && ids[i].count >= min_images) pr->gal_ids[pr->n_gal_ids++] = i;
        else if (ids[i].count <= k)
            for (int j = 0; j < ids[i].count; j++) pr->nonmated[pr->n_nonmated++] = ids[i].first + j;
    }
    *ids_out = ids;
    return 0;
}

static void data_free(struct data *d) {
    for (int i = 0; i < d->n; i++) free(d->im[i].rel);
    for (int i = 0; i < d->n_ids; i++) free(d->names[i]);
    free(d->im);
    free(d->names);
    free(d->emb);
    fr_face_models_free(d->m);
    fr_face_extra_free(d->x);
}


static int parse_half(const char *v) {
    return !strcmp(v, "a") ? 'a' : !strcmp(v, "b") ? 'b' : !strcmp(v, "all") ? 'x' : 0;
}

static void cpu_model(char *out, size_t n) {
    snprintf(out, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(out, n, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
}

/* Where the embeddings come from: the options both subcommands take. */
struct source {
    const char *images, *embfile, *save;
    const char *subset;             /* a file of identity names (one per line) to keep; NULL: all */
    int half, threads;
};

/* Consumes argv[*i] when it is --images, --embeddings, --save-embeddings,
 * --half or --threads: 1, else 0. */
static int source_opt(int argc, char **argv, int *i, struct source *src) {
    const char *v;
    if ((v = fr_cli_opt(argc, argv, i, "--images"))) src->images = v;
    else if ((v = fr_cli_opt(argc, argv, i, "--embeddings"))) src->embfile = v;
    else if ((v = fr_cli_opt(argc, argv, i, "--save-embeddings"))) src->save = v;
    else if ((v = fr_cli_opt(argc, argv, i, "--half"))) src->half = parse_half(v);
    else if ((v = fr_cli_opt(argc, argv, i, "--threads"))) src->threads = atoi(v);
    else if ((v = fr_cli_opt(argc, argv, i, "--subset"))) src->subset = v;
    else return 0;
    return 1;
}

static int source_ok(const struct source *src) {
    return !src->images != !src->embfile && src->half && src->threads >= 1 && src->threads <= 64;
}

/* Keeps the images of the identities named in file (one name per line):
 * a population of its own (one gender, one age band) for the
 * self-calibration's check. Identity indices are kept; dropped identities
 * simply have no images left. */
static int keep_subset(struct data *d, const char *file) {
    FILE *f = fopen(file, "r");
    if (!f) return fr_err_set(FR_E_IO, "cannot open %s", file);
    char *keep = calloc((size_t)d->n_ids, 1), line[1024];
    if (!keep) {
        fclose(f);
        return -FR_E_NOMEM;
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *key = line;
        char **hit = line[0] ? bsearch(&key, d->names, (size_t)d->n_ids, sizeof *d->names, cmp_str) : NULL;
        if (hit) keep[hit - d->names] = 1;
    }
    fclose(f);
    int m = 0;
    for (int i = 0; i < d->n; i++) {
        if (!keep[d->im[i].id]) {
            free(d->im[i].rel);
            continue;
        }
        if (m != i) {
            d->im[m] = d->im[i];
            memmove(d->emb + (size_t)m * DIM, d->emb + (size_t)i * DIM, sizeof(float) * DIM);
        }
        m++;
    }
    d->n = m;
    free(keep);
    return m ? 0 : fr_err_set(FR_E_INVALID_ARGUMENT, "%s: no identity of the data is named", file);
}

static int get_data(struct data *d, const struct source *src) {
    int rc;
    if (src->embfile) {
        rc = load_embeddings(d, src->embfile);
    } else {
        rc = scan_images(d, src->images);
        if (rc == 0) rc = embed_all(d, src->images, src->threads);
    }
    if (rc == 0 && src->save) rc = save_embeddings(d, src->save);
    if (rc == 0 && src->subset) rc = keep_subset(d, src->subset);
    return rc;
}

static int cmd_openset(int argc, char **argv) {
    const char *sizes = "100,1000,0";
    struct source src = { .half = 'x', .threads = 2 };
    struct opts o = { .k = 1, .agg = AGG_MAX, .draws = 10, .fpir = 0.01, .margin = -1, .seed = 42, .probes_from = -1 };
    int min_images = 0;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (source_opt(argc, argv, &i, &src)) continue;
        if ((v = fr_cli_opt(argc, argv, &i, "--gallery-size"))) sizes = v;
        else if ((v = fr_cli_opt(argc, argv, &i, "--gallery-per-id"))) o.k = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--min-images"))) min_images = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--probes-from"))) o.probes_from = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--fpir"))) o.fpir = atof(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--margin"))) o.margin = (float)atof(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--aggregate"))) o.agg = !strcmp(v, "mean2") ? AGG_MEAN2 : !strcmp(v, "max") ? AGG_MAX : -1;
        else if ((v = fr_cli_opt(argc, argv, &i, "--draws"))) o.draws = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--seed"))) o.seed = (uint64_t)strtoull(v, NULL, 10);
        else if (!strcmp(argv[i], "--json")) o.json = 1;
        else { fprintf(stderr, "facerec eval openset: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!source_ok(&src) || o.k < 1 || o.k > 20 || o.agg < 0 || o.draws < 1 || o.draws > 1000 ||
        !(o.fpir > 0 && o.fpir < 1)) {
        fprintf(stderr, "usage: facerec eval openset (--images DIR | --embeddings FILE) [--save-embeddings FILE]\n"
                        "         [--half a|b|all] [--gallery-size N[,N...] (0: all)] [--gallery-per-id K]\n"
                        "         [--min-images M] [--probes-from J] [--subset NAMES_FILE]\n"
                        "         [--fpir X] [--margin M] [--aggregate max|mean2] [--draws R] [--seed S]\n"
                        "         [--threads T] [--json]\n");
        return FR_EXIT_USAGE;
    }
    if (o.margin < 0) o.margin = FR_OPENSET_DEFAULT_MARGIN;
    if (o.probes_from < o.k) o.probes_from = o.k;
    struct data d;
    memset(&d, 0, sizeof d);
    struct ident *ids = NULL;
    struct protocol pr;
    memset(&pr, 0, sizeof pr);
    int ret = FR_EXIT_ERROR;
    double t0 = fr_time_ms();
    const int half = src.half;
    int rc = get_data(&d, &src);
    if (rc == 0) rc = build_protocol(&d, half, o.k, min_images, &ids, &pr);
    if (rc < 0) { fr_cli_err(rc, "eval openset"); goto out; }
    o.tail = fr_tail_for_model(d.model_id);
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    json_t *js = json_object();
    if (!o.json) {
        printf("## facerec eval openset: %d images of %d identities (%s embeddings, model %s), half %s, %s\n",
               d.n, d.n_ids, d.source, d.model_id, half == 'x' ? "all" : half == 'a' ? "a" : "b", cpu);
        printf("gallery candidates: %d identities with > %d images; %d non-mated probe images; aggregate %s; "
               "impostor tail: %s (%.0f scores)\n",
               pr.n_gal_ids, o.k, pr.n_nonmated, o.agg == AGG_MAX ? "max" : "mean of best two",
               o.tail ? "shipped" : "none for this model (fixed 0.28)", o.tail ? o.tail->n_scores : 0.0);
    }
    json_object_set_new(js, "images", json_integer(d.n));
    json_object_set_new(js, "source", json_string(d.source));
    json_object_set_new(js, "model_id", json_string(d.model_id));
    json_object_set_new(js, "cpu", json_string(cpu));
    json_t *jg = json_array();
    for (const char *p = sizes; *p;) {
        int size = atoi(p);
        if (size <= 0 || size > pr.n_gal_ids) size = pr.n_gal_ids;
        struct gal_result r;
        if ((rc = eval_gallery(&d, ids, &pr, size, &o, &r)) < 0) break;
        if (!o.json) print_gallery(&r, &o, size >= pr.n_gal_ids ? 1 : o.draws);
        json_array_append_new(jg, gallery_json(&r));
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    json_object_set_new(js, "galleries", jg);
    if (rc == 0) rc = details_full(&d, ids, &pr, &o, js);
    if (rc < 0) {
        fr_cli_err(rc, "eval openset");
        json_decref(js);
        goto out;
    }
    json_object_set_new(js, "seconds", json_real((fr_time_ms() - t0) / 1000.0));
    if (o.json) {
        char *s = json_dumps(js, JSON_INDENT(1));
        if (s) puts(s);
        free(s);
    } else {
        printf("\n%.1f s\n", (fr_time_ms() - t0) / 1000.0);
    }
    json_decref(js);
    ret = FR_EXIT_OK;
out:
    free(ids);
    free(pr.gal_ids);
    free(pr.nonmated);
    data_free(&d);
    return ret;
}

/* ---- eval impostors: fit (and print) the tail ---- */

static int write_tail(const struct fr_tail *t, const char *file, const char *why) {
    FILE *f = fopen(file, "w");
    if (!f) return fr_err_set(FR_E_IO, "cannot write %s", file);
    fprintf(f, "/* Automatically generated by `facerec eval impostors`, do not edit (docs/ACCURACY.md).\n"
               " * %s\n"
               " * FR_TAIL(model id, scores, u, sigma, xi, zeta, thresholds at log10 FAR -1, -1.25, ... -9) */\n", why);
    fprintf(f, "FR_TAIL(\"%s\", %.0f, %.6f, %.6f, %.6f, %.8f,\n       ", t->model_id, t->n_scores, t->u, t->sigma, t->xi, t->zeta);
    for (int i = 0; i < FR_TAIL_POINTS; i++)
        fprintf(f, " %.5ff%s%s", (double)t->thr[i], i + 1 < FR_TAIL_POINTS ? "," : ")\n", (i % 8 == 7 && i + 1 < FR_TAIL_POINTS) ? "\n       " : "");
    return fclose(f) ? fr_err_set(FR_E_IO, "cannot write %s", file) : 0;
}

static int cmd_impostors(int argc, char **argv) {
    const char *out = NULL;
    struct source src = { .half = 'a', .threads = 2 };
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (source_opt(argc, argv, &i, &src)) continue;
        if ((v = fr_cli_opt(argc, argv, &i, "--out"))) out = v;
        else { fprintf(stderr, "facerec eval impostors: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!source_ok(&src)) {
        fprintf(stderr, "usage: facerec eval impostors (--images DIR | --embeddings FILE) [--half a|b|all] [--out FILE]\n");
        return FR_EXIT_USAGE;
    }
    struct data d;
    memset(&d, 0, sizeof d);
    const int half = src.half;
    int ret = FR_EXIT_ERROR, rc = get_data(&d, &src);
    float *vec = NULL, *sc = NULL, *copy = NULL;
    int64_t *lab = NULL;
    size_t n = 0, ns = 0;
    if (rc < 0) { fr_cli_err(rc, "eval impostors"); goto out; }
    vec = malloc(sizeof(float) * DIM * (size_t)d.n);
    lab = malloc(sizeof *lab * (size_t)d.n);
    if (!vec || !lab) goto out;
    for (int i = 0; i < d.n; i++)
        if (half == 'x' || half_of(d.names[d.im[i].id]) == half) {
            memcpy(vec + n * DIM, d.emb + (size_t)i * DIM, sizeof(float) * DIM);
            lab[n++] = d.im[i].id;
        }
    if ((rc = fr_impostor_scores(vec, lab, n, DIM, (size_t)1 << 31, &sc, &ns)) < 0 || !(copy = malloc(sizeof *copy * ns))) {
        fr_cli_err(rc < 0 ? rc : -FR_E_NOMEM, "eval impostors");
        goto out;
    }
    memcpy(copy, sc, sizeof *copy * ns);
    struct fr_tail t;
    if ((rc = fr_tail_fit(sc, ns, d.model_id, &t)) < 0) { fr_cli_err(rc, "eval impostors"); goto out; }
    qsort(copy, ns, sizeof *copy, cmp_desc_f);
    const struct fr_tail *ship = fr_tail_for_model(d.model_id);
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("## facerec eval impostors: %zu images of half %s, %zu cross-identity scores (%s embeddings, model %s; %s)\n\n",
           n, half == 'x' ? "all" : half == 'a' ? "a" : "b", ns, d.source, d.model_id, cpu);
    printf("GPD fit above u = %.4f (top %.3g%%): sigma %.5f, xi %.4f\n\n", t.u, 100 * t.zeta, t.sigma, t.xi);
    printf("| FAR | empirical threshold (exceedances) | this fit | shipped tail |\n|---|---|---|---|\n");
    static const double fars[] = { 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8 };
    for (size_t i = 0; i < sizeof fars / sizeof fars[0]; i++) {
        double c = fars[i] * (double)ns;
        char emp[64] = "-";
        if (c >= 1) snprintf(emp, sizeof emp, "%.4f (%.0f)", (double)copy[(size_t)ceil(c) - 1], ceil(c));
        char sh[32] = "-";
        if (ship) snprintf(sh, sizeof sh, "%.4f", (double)fr_tail_threshold(ship, fars[i]));
        printf("| %.0e | %s | %.4f | %s |\n", fars[i], emp, (double)fr_tail_threshold(&t, fars[i]), sh);
    }
    if (out) {
        char why[512];
        /* no path: the file is committed, and the folder's name (LFW's, say) is in its basename */
        const char *from = src.images ? src.images : src.embfile, *base = strrchr(from, '/');
        int n_ids = 0;
        for (size_t i = 0; i < n; i++) n_ids += i == 0 || lab[i] != lab[i - 1];   /* images are sorted by identity */
        snprintf(why, sizeof why, "Measured on %zu cross-identity scores of %zu images of %d identities (%s embeddings, "
                 "half %s of %s).", ns, n, n_ids, d.source, half == 'x' ? "all" : half == 'a' ? "a" : "b",
                 base && base[1] ? base + 1 : from);
        if ((rc = write_tail(&t, out, why)) < 0) { fr_cli_err(rc, "eval impostors"); goto out; }
        printf("\nwrote %s\n", out);
    }
    ret = FR_EXIT_OK;
out:
    free(vec);
    free(lab);
    free(copy);
    fr_free(sc);
    data_free(&d);
    return ret;
}

/* ---- eval session: the session tracker on streams of real embeddings ----
 *
 * A camera session decides per person (src/sessions/track.h). This measures
 * what that gives on LFW's real embeddings and the service's real decision
 * rule: a gallery of N identities (their first image enrolled), a "stream"
 * per identity = `seconds` × `fps` frames, each frame one of the identity's
 * images (the first frame a random one; then the same image with probability
 * `stay`, else another random one of them: consecutive frames of a video are
 * nearly the same picture, a person's other photos are other conditions).
 * Each frame: the image's search against the gallery (subject scores),
 * fr_openset_decide with the threshold the service takes for that gallery
 * size and FPIR target (never below the 1:1 floor) and its margin, then
 * fr_tracker_frame with the image's embedding and quality. Strangers (never
 * enrolled) measure false reports; enrolled people (their other images)
 * measure how often the tracker still reports them. A single-image stranger's
 * stream repeats one picture: the fully correlated case, resemblance itself. */
struct sess_count {
    int streams;
    long frames, frame_false, frame_right;   /* per-frame decisions */
    long naive_false;                         /* per-frame false matches (what a per-frame system reports) */
    int naive_minutes;                        /* streams with >= 1 of them */
    long trk_false, trk_right;                /* tracker reports */
    int trk_false_minutes, trk_right_minutes;
};

static int session_stream(const struct data *d, const struct probe_res *res, const int *pos, const int *imgs, int nimg,
                          int own, int frames, double stay, float thr, float margin, uint64_t *rs, struct sess_count *c) {
    struct fr_tracker *t = NULL;
    int rc = fr_tracker_new(NULL, &t);
    if (rc < 0) return rc;
    long nf = 0, tf = 0, tr = 0;
    int cur = imgs[rng_next(rs) % (uint64_t)nimg];
    for (int f = 0; f < frames && rc == 0; f++) {
        if (f && (double)(rng_next(rs) >> 11) * 0x1.0p-53 >= stay) cur = imgs[rng_next(rs) % (uint64_t)nimg];
        const struct probe_res *r = &res[pos[cur]];
        const struct img *im = &d->im[cur];
        int dec = fr_openset_decide(r->s1, r->s2, thr, margin, r->gated ? FR_Q_LOW_SHARPNESS : 0, 1);
        struct fr_tracker_face face = { .box = { 100, 100, 220, 250 }, .quality = im->qscore > 0 ? im->qscore : 0.9f,
                                        .emb = d->emb + (size_t)cur * DIM, .decision = dec,
                                        .subject_id = dec == FR_DECISION_MATCH ? r->id1 + 1 : 0,
                                        .similarity = r->s1, .frame_ref = f };
        c->frames++;
        if (dec == FR_DECISION_MATCH) {
            if (r->id1 == own) c->frame_right++;
            else {
                c->frame_false++;
                nf++;
            }
        }
        const struct fr_tracker_report *rep = NULL;
        int nrep = 0;
        rc = fr_tracker_frame(t, 0, (int64_t)(f * 1000.0 / 5), &face, 1, &rep, &nrep);
        for (int i = 0; rc == 0 && i < nrep; i++) {
            if (rep[i].kind != FR_TRACKER_REPORT_SUBJECT) continue;
            if (rep[i].subject_id == own + 1) tr++;
            else tf++;
        }
    }
    fr_tracker_free(t);
    c->streams++;
    c->naive_false += nf;
    c->naive_minutes += nf > 0;
    c->trk_false += tf;
    c->trk_right += tr;
    c->trk_false_minutes += tf > 0;
    c->trk_right_minutes += tr > 0;
    return rc;
}

static void session_row(const char *what, const struct sess_count *c, double minutes_per_stream, int mated) {
    const double mins = c->streams * minutes_per_stream;
    printf("| %s | %d | %.4f | %.2f | %.1f %% | %.3f | %.1f %% | %s |\n", what, c->streams,
           c->frames ? (double)(mated ? c->frame_right : c->frame_false) / (double)c->frames : 0,
           mins > 0 ? (double)c->naive_false / mins : 0, c->streams ? 100.0 * c->naive_minutes / c->streams : 0,
           mins > 0 ? (double)c->trk_false / mins : 0, c->streams ? 100.0 * c->trk_false_minutes / c->streams : 0,
           mated ? "" : "-");
    if (mated)
        printf("|   (enrolled people, reported as themselves) | | | | | | | %.1f %% of streams, %ld reports |\n",
               c->streams ? 100.0 * c->trk_right_minutes / c->streams : 0, c->trk_right);
}

static int cmd_session(int argc, char **argv) {
    struct source src = { .half = 'x', .threads = 2 };
    int gallery = 1000, seconds = 60;
    double fpir = 0.01, stay = 0.8, fps = 5;
    uint64_t seed = 42;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (source_opt(argc, argv, &i, &src)) continue;
        if ((v = fr_cli_opt(argc, argv, &i, "--gallery-size"))) gallery = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--fpir"))) fpir = atof(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--seconds"))) seconds = atoi(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--stay"))) stay = atof(v);
        else if ((v = fr_cli_opt(argc, argv, &i, "--seed"))) seed = (uint64_t)strtoull(v, NULL, 10);
        else { fprintf(stderr, "facerec eval session: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (!source_ok(&src) || gallery < 1 || !(fpir > 0 && fpir < 1) || seconds < 1 || seconds > 3600 ||
        !(stay >= 0 && stay <= 1)) {
        fprintf(stderr, "usage: facerec eval session (--images DIR | --embeddings FILE) [--gallery-size N]\n"
                        "         [--fpir X] [--seconds S] [--stay P] [--seed S] [--threads T]\n");
        return FR_EXIT_USAGE;
    }
    struct data d;
    memset(&d, 0, sizeof d);
    struct ident *ids = NULL;
    struct protocol pr;
    memset(&pr, 0, sizeof pr);
    int ret = FR_EXIT_ERROR, rc = get_data(&d, &src);
    if (rc == 0) rc = build_protocol(&d, src.half, 1, 0, &ids, &pr);
    if (rc < 0) { fr_cli_err(rc, "eval session"); goto out; }
    if (gallery > pr.n_gal_ids) gallery = pr.n_gal_ids;
    uint64_t rs = seed;
    int *sel = malloc(sizeof *sel * (size_t)pr.n_gal_ids), *probes = malloc(sizeof *probes * (size_t)d.n);
    int *pos = malloc(sizeof *pos * (size_t)d.n), *imgs = malloc(sizeof *imgs * (size_t)d.n);
    char *mated = calloc((size_t)d.n_ids, 1);
    struct probe_res *res = malloc(sizeof *res * (size_t)d.n);
    if (!sel || !probes || !pos || !imgs || !mated || !res) { fr_cli_err(-FR_E_NOMEM, "eval session"); goto free; }
    memcpy(sel, pr.gal_ids, sizeof *sel * (size_t)pr.n_gal_ids);
    for (int i = 0; i < gallery; i++) {   /* partial Fisher-Yates */
        int j = i + (int)(rng_next(&rs) % (uint64_t)(pr.n_gal_ids - i));
        int t = sel[i];
        sel[i] = sel[j];
        sel[j] = t;
        mated[sel[i]] = 1;
    }
    /* every image but the enrolled ones, searched once */
    int np = 0;
    for (int i = 0; i < d.n; i++) {
        pos[i] = -1;
        if (mated[d.im[i].id] && ids[d.im[i].id].first == i) continue;
        pos[i] = np;
        probes[np++] = i;
    }
    if ((rc = search(&d, ids, sel, gallery, 1, probes, np, mated, AGG_MAX, res)) < 0) {
        fr_cli_err(rc, "eval session");
        goto free;
    }
    const struct fr_tail *tail = fr_tail_for_model(d.model_id);
    float thr = tail ? fr_openset_threshold(tail, fpir, (size_t)gallery) : VERIFY_FLOOR;
    if (thr < VERIFY_FLOOR) thr = VERIFY_FLOOR;
    const float margin = FR_OPENSET_DEFAULT_MARGIN;
    const int frames = (int)(seconds * fps);
    struct sess_count strangers1 = { 0 }, strangersn = { 0 }, enrolled = { 0 };
    for (int id = 0; id < d.n_ids && rc == 0; id++) {
        const struct ident *x = &ids[id];
        int n = 0;
        for (int j = 0; j < x->count; j++)
            if (pos[x->first + j] >= 0) imgs[n++] = x->first + j;
        if (!n || x->first < 0) continue;
        struct sess_count *c = mated[id] ? &enrolled : n == 1 ? &strangers1 : &strangersn;
        rc = session_stream(&d, res, pos, imgs, n, mated[id] ? id : -1, frames, stay, thr, margin, &rs, c);
    }
    if (rc < 0) { fr_cli_err(rc, "eval session"); goto free; }
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("## facerec eval session: %d images of %d identities (%s embeddings, model %s), %s\n", d.n, d.n_ids,
           d.source, d.model_id, cpu);
    printf("gallery %d identities (first image each), threshold %.4f (FPIR target %g for that size, floor %.2f), "
           "margin %.2f; streams of %d s at %.0f fps (%d frames), stay %.2f; tracker defaults (3 of 5, first_seen)\n\n",
           gallery, (double)thr, fpir, (double)VERIFY_FLOOR, (double)margin, seconds, fps, frames, stay);
    printf("| streams | n | per-frame match rate (false for strangers, own for enrolled) | per-frame false reports / "
           "min | minutes with one | tracker false reports / min | minutes with one | tracker: enrolled reported |\n"
           "|---|---|---|---|---|---|---|---|\n");
    const double mps = seconds / 60.0;
    session_row("strangers, one photo (every frame the same picture)", &strangers1, mps, 0);
    session_row("strangers, several photos", &strangersn, mps, 0);
    session_row("enrolled people, their other photos (false = as someone else)", &enrolled, mps, 1);
    ret = FR_EXIT_OK;
free:
    free(sel);
    free(probes);
    free(pos);
    free(imgs);
    free(mated);
    free(res);
out:
    free(ids);
    free(pr.gal_ids);
    free(pr.nonmated);
    data_free(&d);
    return ret;
}

int cmd_eval_openset(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "impostors")) return cmd_impostors(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "session")) return cmd_session(argc, argv);
    return cmd_openset(argc, argv);
}
