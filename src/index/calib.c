/* Open-set calibration: the impostor tail of a model (measure, interpolate,
 * invert), the threshold for a target FPIR over a gallery, the
 * self-calibration from a collection's own impostor scores, and the
 * decision rule. See include/facerec/openset.h for the reasoning.
 *
 * The tail is a table, not a formula, because the body of the impostor
 * distribution is measured well by plain quantiles (millions of scores give
 * thousands of exceedances at 1e-3) and only the far tail needs a model. The
 * model there is the generalised Pareto distribution (GPD), the limit law of
 * exceedances over a high threshold (Pickands-Balkema-de Haan), fitted by
 * probability-weighted moments (Hosking and Wallis, Technometrics 29, 1987):
 * closed form, no iteration, and robust for the bounded (xi < 0) tails that
 * cosine scores have. */
#include "facerec/openset.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct fr_tail shipped[] = {
#define FR_TAIL(id, n, u, sigma, xi, zeta, ...) { id, n, { __VA_ARGS__ }, u, sigma, xi, zeta },
#include "index/tails.def"
#undef FR_TAIL
    { "", 0, { 0 }, 0, 0, 0, 0 }    /* the end (and no empty array while tails.def is) */
};

const struct fr_tail *fr_tail_for_model(const char *model_id) {
    if (!model_id || !model_id[0]) return NULL;
    for (size_t i = 0; shipped[i].model_id[0]; i++)
        if (!strcmp(shipped[i].model_id, model_id)) return &shipped[i];
    return NULL;
}



#define FIT_ZETA 1e-4      /* the GPD models the top 0.01 % (at least 200 scores); see docs/ACCURACY.md */
static double grid_log(int i) { return FR_TAIL_LOG_HI - i * FR_TAIL_LOG_STEP; }

/* ---- selection ---- */

static void swapf(float *a, float *b) {
    float t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges a[0..n) so that a[k] is the value of rank k in ascending
 * order, everything before it <= and everything after it >= (Hoare's
 * quickselect with a median-of-three pivot). */
static void select_kth(float *a, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swapf(&a[mid], &a[lo]);
        if (a[hi] < a[lo]) swapf(&a[hi], &a[lo]);
        if (a[hi] < a[mid]) swapf(&a[hi], &a[mid]);
        float p = a[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) {
                swapf(&a[i], &a[j]);
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

static int cmp_desc(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return a > b ? -1 : a < b;
}

/* The score that the top ceil(q·n) of n scores reach: the value of rank
 * ceil(q·n) - 1 in descending order (a is reordered). */
static float upper_quantile(float *a, size_t n, double q) {
    size_t c = (size_t)ceil(q * (double)n);
    if (c < 1) c = 1;
    if (c > n) c = n;
    select_kth(a, n, n - c);
    return a[n - c];
}

/* ---- the tail ---- */

static float gpd_threshold(const struct fr_tail *t, double q) {
    double r = q / t->zeta;
    double y = fabs(t->xi) < 1e-9 ? -t->sigma * log(r) : t->sigma / t->xi * (pow(r, -t->xi) - 1.0);
    return (float)(t->u + y);
}

int fr_tail_fit(float *scores, size_t n, const char *model_id, struct fr_tail *out) {
    if (!scores || !out || n < 1000) return fr_err_set(FR_E_INVALID_ARGUMENT, "tail fit: needs >= 1000 scores");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(scores[i])) return fr_err_set(FR_E_INVALID_ARGUMENT, "tail fit: score %zu is not finite", i);
    memset(out, 0, sizeof *out);
    snprintf(out->model_id, sizeof out->model_id, "%s", model_id ? model_id : "");
    out->n_scores = (double)n;
    double zeta = fmax(FIT_ZETA, 200.0 / (double)n);
    if (zeta > 0.1) zeta = 0.1;
    size_t k = (size_t)ceil(zeta * (double)n);                 /* exceedances */
    size_t m = (size_t)ceil(0.1 * (double)n) + 1;              /* the top 10 %, sorted */
    if (m < k + 1) m = k + 1;
    if (m > n) m = n;
    select_kth(scores, n, n - m);
    float *top = scores + (n - m);
    qsort(top, m, sizeof *top, cmp_desc);
    out->zeta = (double)k / (double)n;
    out->u = top[k];
    /* PWM on the exceedances y_(1) <= ... <= y_(k) (top[] is descending) */
    double a0 = 0, a1 = 0;
    for (size_t i = 0; i < k; i++) {
        double y = (double)top[k - 1 - i] - out->u;            /* ascending */
        double p = ((double)(i + 1) - 0.35) / (double)k;
        a0 += y;
        a1 += (1.0 - p) * y;
    }
    a0 /= (double)k;
    a1 /= (double)k;
    double den = a0 - 2.0 * a1;
    if (!(a0 > 0) || !(den > 0)) {   /* degenerate (all exceedances equal): exponential of the mean */
        out->xi = 0;
        out->sigma = a0 > 0 ? a0 : 1e-6;
    } else {
        double kappa = a0 / den - 2.0;          /* Hosking-Wallis shape; xi = -kappa */
        out->sigma = 2.0 * a0 * a1 / den;
        out->xi = -kappa;
    }
    for (int i = 0; i < FR_TAIL_POINTS; i++) {
        double q = pow(10.0, grid_log(i));
        float v;
        if (q >= out->zeta) {
            size_t j = (size_t)ceil(q * (double)n);
            v = top[(j < 1 ? 1 : j > m ? m : j) - 1];
        } else {
            v = gpd_threshold(out, q);
        }
        if (i > 0 && v < out->thr[i - 1]) v = out->thr[i - 1];
        out->thr[i] = v;
    }
    return 0;
}

float fr_tail_threshold(const struct fr_tail *t, double far) {
    if (!(far > 0)) return t->thr[FR_TAIL_POINTS - 1];
    double pos = (FR_TAIL_LOG_HI - log10(far)) / FR_TAIL_LOG_STEP;
    if (pos <= 0) return t->thr[0];
    if (pos >= FR_TAIL_POINTS - 1) return t->thr[FR_TAIL_POINTS - 1];
    int i = (int)pos;
    double w = pos - i;
    return (float)((1.0 - w) * (double)t->thr[i] + w * (double)t->thr[i + 1]);
}

double fr_tail_far(const struct fr_tail *t, float thr) {
    if (thr <= t->thr[0]) return pow(10.0, grid_log(0));
    for (int i = 0; i + 1 < FR_TAIL_POINTS; i++) {
        if (thr > t->thr[i + 1]) continue;
        double span = (double)t->thr[i + 1] - (double)t->thr[i];
        double w = span > 0 ? ((double)thr - (double)t->thr[i]) / span : 0.0;
        return pow(10.0, grid_log(i) - w * FR_TAIL_LOG_STEP);
    }
    return pow(10.0, grid_log(FR_TAIL_POINTS - 1));
}

static double per_comparison(double fpir, size_t n) {
    if (fpir <= 0) fpir = 1e-12;
    if (fpir >= 1) fpir = 1 - 1e-12;
    return -expm1(log1p(-fpir) / (double)(n ? n : 1));
}

float fr_openset_threshold(const struct fr_tail *t, double fpir, size_t n) {
    return fr_tail_threshold(t, per_comparison(fpir, n));
}

double fr_openset_fpir(const struct fr_tail *t, float thr, size_t n) {
    double f = fr_tail_far(t, thr);
    return -expm1((double)(n ? n : 1) * log1p(-f));
}

/* ---- self-calibration ---- */

int fr_tail_adjust(const struct fr_tail *ship, float *scores, size_t n, struct fr_tail *out,
                   struct fr_tail_adjust_info *info) {
    if (!ship || !out || !info || (n && !scores)) return fr_err_set(FR_E_INVALID_ARGUMENT, "tail adjust: NULL argument");
    memset(info, 0, sizeof *info);
    *out = *ship;
    info->pairs = n;
    if (n < FR_CALIB_MIN_PAIRS) return 0;
    double q = (double)FR_CALIB_MIN_EXCEED / (double)n;
    if (q < pow(10.0, grid_log(FR_TAIL_POINTS - 1))) q = pow(10.0, grid_log(FR_TAIL_POINTS - 1));
    info->ref_far = q;
    info->ref_collection = upper_quantile(scores, n, q);
    info->ref_shipped = fr_tail_threshold(ship, q);
    float d = info->ref_collection - info->ref_shipped;
    if (d > FR_CALIB_MAX_SHIFT) d = FR_CALIB_MAX_SHIFT;
    if (d < -FR_CALIB_MAX_SHIFT) d = -FR_CALIB_MAX_SHIFT;
    info->shift = d;
    info->adjusted = 1;
    for (int i = 0; i < FR_TAIL_POINTS; i++) out->thr[i] += d;
    out->u += (double)d;
    return 0;
}

int fr_impostor_scores(const float *vecs, const int64_t *labels, size_t n, int dim, size_t max_scores,
                       float **scores_out, size_t *n_out) {
    if (!vecs || !labels || !scores_out || !n_out || dim < 1)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "impostor scores: bad argument");
    *scores_out = NULL;
    *n_out = 0;
    size_t pairs = n * (n ? n - 1 : 0) / 2, cap = pairs < max_scores ? pairs : max_scores;
    if (cap == 0) return 0;
    enum { B = 128 };
    float *out = fr_malloc(sizeof *out * cap), *blk = fr_malloc(sizeof *blk * B * n);
    if (!out || !blk) {
        fr_free(out);
        fr_free(blk);
        return -FR_E_NOMEM;
    }
    size_t got = 0;
    for (size_t r0 = 0; r0 < n && got < cap; r0 += B) {
        size_t rb = n - r0 < B ? n - r0 : B;
        /* rows r0..r0+rb against every row: blk[i][j] = v_(r0+i) . v_j */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rb, (int)n, dim, 1.0f, vecs + r0 * (size_t)dim, dim,
                    vecs, dim, 0.0f, blk, (int)n);
        for (size_t i = 0; i < rb && got < cap; i++)
            for (size_t j = r0 + i + 1; j < n && got < cap; j++)
                if (labels[r0 + i] != labels[j]) out[got++] = blk[i * n + j];
    }
    fr_free(blk);
    *scores_out = out;
    *n_out = got;
    return 0;
}

/* ---- the decision ---- */

const char *fr_decision_name(int d) {
    switch (d) {
    case FR_DECISION_MATCH: return "match";
    case FR_DECISION_UNKNOWN: return "unknown";
    case FR_DECISION_AMBIGUOUS: return "ambiguous";
    case FR_DECISION_LOW_QUALITY: return "low_quality";
    default: return "unknown";
    }
}

int fr_openset_decide(float best, float second, float threshold, float margin, unsigned quality_reasons,
                      int gate_quality) {
    if (gate_quality && quality_reasons) return FR_DECISION_LOW_QUALITY;
    if (!(best >= threshold)) return FR_DECISION_UNKNOWN;
    if (margin > 0 && second > -INFINITY && best - second < margin) return FR_DECISION_AMBIGUOUS;
    return FR_DECISION_MATCH;
}
