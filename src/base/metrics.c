/* Metrics registry and Prometheus text exposition (see facerec/metrics.h).
 *
 * DESIGN. Each metric owns a fixed open-addressing table of 2048 slots of
 * atomic pointers to its label sets ("series"); it never holds more than
 * FR_METRIC_SERIES_MAX + 1 of them, so the table is at most half full and
 * never grows, and a series, once published, is never moved or freed (until
 * fr_metrics_reset). That is what makes the hot path lock-free: a reader
 * hashes the label values and probes with acquire loads; only a miss takes
 * the metric's mutex, probes again, and publishes a new series with a release
 * store. Values are doubles kept as bit patterns in _Atomic uint64_t and
 * updated with compare-and-swap (C11 has no atomic add on floating types).
 *
 * Histograms keep one non-cumulative count per bucket plus the sum; the
 * cumulative _bucket lines and _count are summed at render time from one
 * read of the counts, so "+Inf" always equals _count in a scrape.
 *
 * The "other" series of a labelled metric is allocated at registration and
 * sits in the table like any other, so overflow never needs memory and a
 * caller that really passes "other" lands in the same place. */
#include "facerec/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SLOTS 2048                  /* power of two, > 2 * (FR_METRIC_SERIES_MAX + 1) */
_Static_assert(SLOTS >= 2 * (FR_METRIC_SERIES_MAX + 1), "series table must stay at most half full");
_Static_assert((SLOTS & (SLOTS - 1)) == 0, "SLOTS must be a power of two");

const double fr_metric_buckets_seconds[FR_METRIC_BUCKETS_SECONDS_N] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const double fr_metric_buckets_unit[FR_METRIC_BUCKETS_UNIT_N] = {
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
};

struct series {
    _Atomic uint64_t val;           /* counter/gauge value, or histogram sum: double bits */
    atomic_bool used;               /* the "other" series is rendered only once used */
    uint64_t hash;
    const char *values[FR_METRIC_LABELS_MAX];   /* unused ones point at "" */
    _Atomic uint64_t *counts;       /* histograms: n_bounds + 1 per-bucket counts (last is +Inf) */
};

struct fr_metric {
    char *name, *help;
    enum fr_metric_type type;
    int n_labels;
    char *label_names[FR_METRIC_LABELS_MAX];
    double bounds[FR_METRIC_BUCKETS_MAX];
    int n_bounds;
    struct series *single;          /* the only series of an unlabelled metric */
    struct series *other;           /* overflow series of a labelled metric */
    _Atomic(struct series *) *slots;   /* SLOTS entries, labelled metrics only */
    void *slots_mem;                /* the same memory, for fr_free */
    atomic_int n_series;            /* real label sets (not "other"); changed under lock */
    pthread_mutex_t lock;           /* taken only to add a series */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fr_metric **reg;      /* registered metrics, under reg_lock */
static int reg_n, reg_cap;

/* ---- doubles in atomics ---- */

static uint64_t dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_add_double(_Atomic uint64_t *p, double v) {
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, dbits(bitsd(old) + v), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

/* ---- label values ---- */

static const char *value_or_empty(const char *v) { return v ? v : ""; }

/* Bytes of v that are kept: at most FR_METRIC_VALUE_MAX, cut before a UTF-8
 * continuation byte so the kept text stays valid UTF-8. */
static size_t value_len(const char *v) {
    size_t n = strnlen(v, FR_METRIC_VALUE_MAX + 1);
    if (n <= FR_METRIC_VALUE_MAX) return n;
    n = FR_METRIC_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80) n--;
    return n;
}

static uint64_t hash_values(int n, const char *const *values) {
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    for (int i = 0; i < n; i++) {
        const char *v = value_or_empty(values[i]);
        size_t len = value_len(v);
        for (size_t k = 0; k < len; k++) h = (h ^ (unsigned char)v[k]) * 1099511628211ull;
        h = (h ^ 0xffu) * 1099511628211ull;     /* separator: ("ab","") != ("a","b") */
    }
    return h;
}

static bool values_equal(const struct series *s, int n, const char *const *values) {
    for (int i = 0; i < n; i++) {
        const char *v = value_or_empty(values[i]);
        size_t len = value_len(v);
        if (strncmp(s->values[i], v, len) != 0 || s->values[i][len] != 0) return false;
    }
    return true;
}

/* One allocation: the series, its bucket counts, then its value strings. */
static struct series *series_alloc(const struct fr_metric *m, const char *const *values) {
    size_t n_counts = m->type == FR_METRIC_HISTOGRAM ? (size_t)m->n_bounds + 1 : 0;
    size_t size = sizeof(struct series) + n_counts * sizeof(_Atomic uint64_t);
    for (int i = 0; i < m->n_labels; i++) size += value_len(value_or_empty(values[i])) + 1;
    struct series *s = fr_calloc(1, size);
    if (!s) return NULL;
    s->counts = n_counts ? (_Atomic uint64_t *)(s + 1) : NULL;
    char *str = (char *)(s + 1) + n_counts * sizeof(_Atomic uint64_t);
    for (int i = 0; i < FR_METRIC_LABELS_MAX; i++) {
        if (i >= m->n_labels) {
            s->values[i] = "";
            continue;
        }
        const char *v = value_or_empty(values[i]);
        size_t len = value_len(v);
        memcpy(str, v, len);
        str[len] = 0;
        s->values[i] = str;
        str += len + 1;
    }
    s->hash = hash_values(m->n_labels, values);
    atomic_init(&s->val, dbits(0.0));
    atomic_init(&s->used, false);
    for (size_t i = 0; i < n_counts; i++) atomic_init(&s->counts[i], 0);
    return s;
}

/* The slot holding values, or the empty slot where they would go. */
static size_t table_probe(const struct fr_metric *m, uint64_t h, const char *const *values,
                          struct series **found) {
    size_t i = (size_t)h & (SLOTS - 1);
    for (;; i = (i + 1) & (SLOTS - 1)) {
        struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
        if (!s || (s->hash == h && values_equal(s, m->n_labels, values))) {
            *found = s;
            return i;
        }
    }
}

static struct series *mark_other(struct fr_metric *m) {
    atomic_store_explicit(&m->other->used, true, memory_order_relaxed);
    return m->other;
}

/* Slow path: first sight of a label set. Past the cap, or out of memory,
 * the update goes to "other". */
static struct series *series_insert(struct fr_metric *m, uint64_t h, const char *const *values) {
    struct series *s;
    pthread_mutex_lock(&m->lock);
    size_t slot = table_probe(m, h, values, &s);
    if (!s) {
        if (atomic_load(&m->n_series) < FR_METRIC_SERIES_MAX && (s = series_alloc(m, values)) != NULL) {
            atomic_store_explicit(&m->slots[slot], s, memory_order_release);
            atomic_fetch_add(&m->n_series, 1);
        } else {
            s = mark_other(m);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

static struct series *series_get(struct fr_metric *m, const char *const *values) {
    if (m->n_labels == 0) return m->single;
    uint64_t h = hash_values(m->n_labels, values);
    struct series *s;
    table_probe(m, h, values, &s);
    if (!s) return series_insert(m, h, values);
    if (s == m->other) mark_other(m);
    return s;
}

/* ---- registration ---- */

static bool valid_name(const char *s, bool colon_ok) {
    if (!s || !*s || isdigit((unsigned char)*s)) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '_' || (colon_ok && c == ':')) || c > 0x7f) return false;
    }
    return true;
}

/* Names of the families rendered from the process at scrape time. */
static const char *const builtin_names[] = {
    "facerec_allocated_bytes",      "process_cpu_seconds_total", "process_max_fds",
    "process_open_fds",             "process_resident_memory_bytes", "process_start_time_seconds",
    "process_virtual_memory_bytes",
};
#define N_BUILTIN ((int)(sizeof builtin_names / sizeof builtin_names[0]))

static void metric_free(struct fr_metric *m) {
    if (!m) return;
    if (m->slots) {
        for (int i = 0; i < SLOTS; i++) fr_free(atomic_load_explicit(&m->slots[i], memory_order_relaxed));
        fr_free(m->slots_mem);
    } else {
        fr_free(m->single);
    }
    for (int i = 0; i < m->n_labels; i++) fr_free(m->label_names[i]);
    fr_free(m->name);
    fr_free(m->help);
    pthread_mutex_destroy(&m->lock);
    fr_free(m);
}

/* Splits "a,b,c" into m->label_names (allocated). */
static int parse_labels(struct fr_metric *m, const char *labels) {
    m->n_labels = 0;
    if (!labels || !*labels) return 0;
    const char *p = labels;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (m->n_labels == FR_METRIC_LABELS_MAX)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: more than %d labels", m->name,
                              FR_METRIC_LABELS_MAX);
        char *name = fr_strndup(p, len);
        if (!name) return fr_err_set(FR_E_NOMEM, "metric %s: out of memory", m->name);
        m->label_names[m->n_labels++] = name;
        if (!valid_name(name, false) || strncmp(name, "__", 2) == 0 ||
            (m->type == FR_METRIC_HISTOGRAM && strcmp(name, "le") == 0))
            return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: invalid label name '%s'", m->name, name);
        for (int i = 0; i < m->n_labels - 1; i++)
            if (strcmp(m->label_names[i], name) == 0)
                return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: label '%s' twice", m->name, name);
        if (!end) return 0;
        p = end + 1;
    }
}

static int set_bounds(struct fr_metric *m, const double *bounds, int n) {
    if (m->type != FR_METRIC_HISTOGRAM) {
        if (bounds || n)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: only histograms have buckets", m->name);
        return 0;
    }
    if (!bounds) {
        bounds = fr_metric_buckets_seconds;
        n = FR_METRIC_BUCKETS_SECONDS_N;
    }
    if (n < 1 || n > FR_METRIC_BUCKETS_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: %d buckets (1 to %d allowed)", m->name, n,
                          FR_METRIC_BUCKETS_MAX);
    for (int i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: bucket bounds must be finite and increasing",
                              m->name);
        m->bounds[i] = bounds[i];
    }
    m->n_bounds = n;
    return 0;
}

static int make_series(struct fr_metric *m) {
    if (m->n_labels == 0) {
        m->single = series_alloc(m, NULL);
        return m->single ? 0 : fr_err_set(FR_E_NOMEM, "metric %s: out of memory", m->name);
    }
    m->slots = m->slots_mem = fr_calloc(SLOTS, sizeof *m->slots);
    const char *other[FR_METRIC_LABELS_MAX] = { "other", "other", "other" };
    if (!m->slots || !(m->other = series_alloc(m, other)))
        return fr_err_set(FR_E_NOMEM, "metric %s: out of memory", m->name);
    for (int i = 0; i < SLOTS; i++) atomic_init(&m->slots[i], NULL);
    struct series *none;
    size_t slot = table_probe(m, m->other->hash, other, &none);
    atomic_store_explicit(&m->slots[slot], m->other, memory_order_release);
    return 0;
}

static int metric_build(const char *name, const char *help, enum fr_metric_type type, const char *labels,
                        const double *bounds, int n_bounds, struct fr_metric **out) {
    struct fr_metric *m = fr_calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return fr_err_set(FR_E_NOMEM, "metric %s: out of memory", name);
    pthread_mutex_init(&m->lock, NULL);
    m->type = type;
    int rc = 0;
    if (!(m->name = fr_strdup(name)) || !(m->help = fr_strdup(help ? help : ""))) {
        rc = fr_err_set(FR_E_NOMEM, "metric %s: out of memory", name);
        goto out;
    }
    if ((rc = parse_labels(m, labels)) < 0 || (rc = set_bounds(m, bounds, n_bounds)) < 0) goto out;
    rc = make_series(m);
out:
    if (rc < 0) {
        metric_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* Same type, labels and bounds: a second registration of the same metric. */
static bool same_shape(const struct fr_metric *a, const struct fr_metric *b) {
    if (a->type != b->type || a->n_labels != b->n_labels || a->n_bounds != b->n_bounds) return false;
    for (int i = 0; i < a->n_labels; i++)
        if (strcmp(a->label_names[i], b->label_names[i]) != 0) return false;
    for (int i = 0; i < a->n_bounds; i++)
        if (a->bounds[i] != b->bounds[i]) return false;
    return true;
}

static struct fr_metric *reg_find(const char *name) {
    for (int i = 0; i < reg_n; i++)
        if (strcmp(reg[i]->name, name) == 0) return reg[i];
    return NULL;
}

static int reg_add(struct fr_metric *m) {
    if (reg_n == reg_cap) {
        int cap = reg_cap ? reg_cap * 2 : 16;
        struct fr_metric **r = fr_realloc(reg, (size_t)cap * sizeof *r);
        if (!r) return fr_err_set(FR_E_NOMEM, "metric %s: out of memory", m->name);
        reg = r;
        reg_cap = cap;
    }
    reg[reg_n++] = m;
    return 0;
}

int fr_metric_new(const char *name, const char *help, enum fr_metric_type type, const char *labels,
                  const double *bounds, int n_bounds, struct fr_metric **out) {
    *out = NULL;
    if (!valid_name(name, true))
        return fr_err_set(FR_E_INVALID_ARGUMENT, "invalid metric name '%s'", name ? name : "(null)");
    if (type != FR_METRIC_COUNTER && type != FR_METRIC_GAUGE && type != FR_METRIC_HISTOGRAM)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s: unknown type %d", name, (int)type);
    for (int i = 0; i < N_BUILTIN; i++)
        if (strcmp(name, builtin_names[i]) == 0)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s is reported by the process", name);
    struct fr_metric *m;
    int rc = metric_build(name, help, type, labels, bounds, n_bounds, &m);
    if (rc < 0) return rc;
    pthread_mutex_lock(&reg_lock);
    struct fr_metric *old = reg_find(name);
    if (old) {
        if (same_shape(old, m)) *out = old;
        else rc = fr_err_set(FR_E_INVALID_ARGUMENT, "metric %s is already registered differently", name);
        metric_free(m);
    } else if ((rc = reg_add(m)) == 0) {
        *out = m;
    } else {
        metric_free(m);
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

void fr_metrics_reset(void) {
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < reg_n; i++) metric_free(reg[i]);
    fr_free(reg);
    reg = NULL;
    reg_n = reg_cap = 0;
    pthread_mutex_unlock(&reg_lock);
}

/* ---- updates ---- */

static void check_type(const struct fr_metric *m, bool histogram) {
    FR_ASSERT(m != NULL);
    if ((m->type == FR_METRIC_HISTOGRAM) != histogram)
        fr_abort(__FILE__, __LINE__, "metric %s: wrong update for its type", m->name);
}

void fr_metric_addv(struct fr_metric *m, double v, const char *const *values) {
    check_type(m, false);
    if (m->type == FR_METRIC_COUNTER && !(v >= 0)) return;   /* also drops NaN */
    atomic_add_double(&series_get(m, values)->val, v);
}

void fr_metric_setv(struct fr_metric *m, double v, const char *const *values) {
    check_type(m, false);
    atomic_store_explicit(&series_get(m, values)->val, dbits(v), memory_order_relaxed);
}

void fr_metric_observev(struct fr_metric *m, double v, const char *const *values) {
    check_type(m, true);
    if (isnan(v)) return;
    struct series *s = series_get(m, values);
    int b = 0;
    while (b < m->n_bounds && !(v <= m->bounds[b])) b++;   /* "le": the first bound >= v */
    atomic_fetch_add_explicit(&s->counts[b], 1, memory_order_relaxed);
    atomic_add_double(&s->val, v);
}

/* Reads the metric's label values off a va_list. */
static void va_values(const struct fr_metric *m, va_list ap, const char *values[FR_METRIC_LABELS_MAX]) {
    FR_ASSERT(m != NULL);
    for (int i = 0; i < m->n_labels; i++) values[i] = va_arg(ap, const char *);
}

#define WITH_VALUES(m, last, call)                    \
    do {                                              \
        const char *vals_[FR_METRIC_LABELS_MAX];      \
        va_list ap_;                                  \
        va_start(ap_, last);                          \
        va_values(m, ap_, vals_);                     \
        va_end(ap_);                                  \
        call;                                         \
    } while (0)

void fr_metric_inc(struct fr_metric *m, ...) { WITH_VALUES(m, m, fr_metric_addv(m, 1.0, vals_)); }
void fr_metric_dec(struct fr_metric *m, ...) { WITH_VALUES(m, m, fr_metric_addv(m, -1.0, vals_)); }
void fr_metric_add(struct fr_metric *m, double v, ...) { WITH_VALUES(m, v, fr_metric_addv(m, v, vals_)); }
void fr_metric_set(struct fr_metric *m, double v, ...) { WITH_VALUES(m, v, fr_metric_setv(m, v, vals_)); }
void fr_metric_observe(struct fr_metric *m, double v, ...) {
    WITH_VALUES(m, v, fr_metric_observev(m, v, vals_));
}

static uint64_t series_count(const struct fr_metric *m, const struct series *s) {
    uint64_t n = 0;
    for (int b = 0; b <= m->n_bounds; b++) n += atomic_load_explicit(&s->counts[b], memory_order_relaxed);
    return n;
}

double fr_metric_value(const struct fr_metric *m, const char *const *values) {
    const struct series *s = m->single;
    if (m->n_labels > 0) {
        struct series *f;
        table_probe(m, hash_values(m->n_labels, values), values, &f);
        s = f;
    }
    if (!s) return 0;
    if (m->type == FR_METRIC_HISTOGRAM) return (double)series_count(m, s);
    return bitsd(atomic_load_explicit(&s->val, memory_order_relaxed));
}

int fr_metric_series_count(const struct fr_metric *m) {
    if (m->n_labels == 0) return 1;
    return atomic_load(&m->n_series) + (atomic_load(&m->other->used) ? 1 : 0);
}

/* ---- text output ---- */

struct buf {
    char *p;
    size_t len, cap;
    bool failed;                    /* sticky: out of memory somewhere on the way */
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 > b->len + (size_t)n + 1 ? b->cap * 2 : b->len + (size_t)n + 1;
        char *p = fr_realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Shortest text that reads back as the same double; Prometheus spellings of
 * the infinities and NaN. */
static void fmt_double(char out[32], double v) {
    if (isnan(v)) {
        strcpy(out, "NaN");
    } else if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 32, "%.0f", v);   /* counts and bytes read best as plain integers */
    } else {
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(out, 32, "%.*g", prec, v);
            if (strtod(out, NULL) == v) break;
        }
    }
}

/* Escapes for HELP text (backslash, newline) and label values (also "). */
static void buf_escaped(struct buf *b, const char *s, bool quote) {
    for (; *s; s++) {
        if (*s == '\\') buf_printf(b, "\\\\");
        else if (*s == '\n') buf_printf(b, "\\n");
        else if (quote && *s == '"') buf_printf(b, "\\\"");
        else buf_printf(b, "%c", *s);
    }
}

/* {a="x",b="y"[,le="0.5"]}, or nothing when there are no labels at all. */
static void buf_labels(struct buf *b, const struct fr_metric *m, const struct series *s, const char *le) {
    if (m->n_labels == 0 && !le) return;
    buf_printf(b, "{");
    for (int i = 0; i < m->n_labels; i++) {
        buf_printf(b, "%s%s=\"", i ? "," : "", m->label_names[i]);
        buf_escaped(b, s->values[i], true);
        buf_printf(b, "\"");
    }
    if (le) buf_printf(b, "%sle=\"%s\"", m->n_labels ? "," : "", le);
    buf_printf(b, "}");
}

static void header(struct buf *b, const char *name, const char *help, const char *type) {
    buf_printf(b, "# HELP %s ", name);
    buf_escaped(b, help, false);
    buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void render_series(struct buf *b, const struct fr_metric *m, const struct series *s) {
    char num[32];
    if (m->type != FR_METRIC_HISTOGRAM) {
        buf_printf(b, "%s", m->name);
        buf_labels(b, m, s, NULL);
        fmt_double(num, bitsd(atomic_load_explicit(&s->val, memory_order_relaxed)));
        buf_printf(b, " %s\n", num);
        return;
    }
    uint64_t cum = 0;
    for (int i = 0; i <= m->n_bounds; i++) {
        cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        char le[32];
        fmt_double(le, i < m->n_bounds ? m->bounds[i] : HUGE_VAL);
        buf_printf(b, "%s_bucket", m->name);
        buf_labels(b, m, s, le);
        buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    fmt_double(num, bitsd(atomic_load_explicit(&s->val, memory_order_relaxed)));
    buf_printf(b, "%s_sum", m->name);
    buf_labels(b, m, s, NULL);
    buf_printf(b, " %s\n%s_count", num, m->name);
    buf_labels(b, m, s, NULL);
    buf_printf(b, " %llu\n", (unsigned long long)cum);
}

static int series_cmp(const void *pa, const void *pb) {
    const struct series *a = *(const struct series *const *)pa, *b = *(const struct series *const *)pb;
    for (int i = 0; i < FR_METRIC_LABELS_MAX; i++) {
        int c = strcmp(a->values[i], b->values[i]);
        if (c) return c;
    }
    return 0;
}

static void render_metric(struct buf *b, const struct fr_metric *m) {
    static const char *const type_names[] = { "counter", "gauge", "histogram" };
    header(b, m->name, m->help, type_names[m->type]);
    if (m->n_labels == 0) {
        render_series(b, m, m->single);
        return;
    }
    struct series **list = fr_malloc(SLOTS * sizeof *list);
    if (!list) {
        b->failed = true;
        return;
    }
    int n = 0;
    for (int i = 0; i < SLOTS; i++) {
        struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
        if (s && (s != m->other || atomic_load_explicit(&s->used, memory_order_relaxed))) list[n++] = s;
    }
    qsort(list, (size_t)n, sizeof *list, series_cmp);
    for (int i = 0; i < n; i++) render_series(b, m, list[i]);
    fr_free(list);
}

/* ---- process figures, read at render time; NaN when unavailable ---- */

#define NO_VALUE ((double)NAN)   /* NAN is a float constant */

static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NO_VALUE;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double statm_field(int field) {   /* 0: size, 1: resident; in bytes */
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return NO_VALUE;
    unsigned long long v[2];
    int n = fscanf(f, "%llu %llu", &v[0], &v[1]);
    fclose(f);
    return n == 2 ? (double)v[field] * (double)sysconf(_SC_PAGESIZE) : NO_VALUE;
}

static double resident_bytes(void) { return statm_field(1); }
static double virtual_bytes(void) { return statm_field(0); }

/* Boot time (btime of /proc/stat) + starttime (field 22 of /proc/self/stat,
 * in clock ticks since boot). The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'. */
static double start_time(void) {
    static double cached;           /* a process starts once */
    if (cached > 0) return cached;
    char line[1024];
    double btime = NO_VALUE, ticks = NO_VALUE;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return NO_VALUE;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "btime ", 6) == 0) btime = strtod(line + 6, NULL);
    fclose(f);
    if (!(f = fopen("/proc/self/stat", "r"))) return NO_VALUE;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');
    for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
    if (p) ticks = strtod(p + 1, NULL);
    double t = btime + ticks / (double)sysconf(_SC_CLK_TCK);
    if (isfinite(t)) cached = t;
    return t;
}

static double open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return NO_VALUE;
    int own = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && atoi(e->d_name) != own) n++;
    closedir(d);
    return n;
}

static double max_fds(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return NO_VALUE;
    return rl.rlim_cur == RLIM_INFINITY ? HUGE_VAL : (double)rl.rlim_cur;
}

static double allocated_bytes(void) { return (double)fr_mem_used(); }

static const struct {
    const char *type, *help;
    double (*read)(void);
} builtins[N_BUILTIN] = {   /* same order as builtin_names */
    { "gauge",   "Bytes currently allocated through the facerec allocator.", allocated_bytes },
    { "counter", "Total user and system CPU time spent in seconds.",          cpu_seconds },
    { "gauge",   "Maximum number of open file descriptors.",                  max_fds },
    { "gauge",   "Number of open file descriptors.",                          open_fds },
    { "gauge",   "Resident memory size in bytes.",                            resident_bytes },
    { "gauge",   "Start time of the process since unix epoch in seconds.",    start_time },
    { "gauge",   "Virtual memory size in bytes.",                             virtual_bytes },
};

static void render_builtin(struct buf *b, int i) {
    double v = builtins[i].read();
    if (isnan(v)) return;
    char num[32];
    fmt_double(num, v);
    header(b, builtin_names[i], builtins[i].help, builtins[i].type);
    buf_printf(b, "%s %s\n", builtin_names[i], num);
}

/* A family to render: a registered metric (idx >= 0) or a builtin (~idx). */
struct family {
    const char *name;
    int idx;
};

static int family_cmp(const void *pa, const void *pb) {
    return strcmp(((const struct family *)pa)->name, ((const struct family *)pb)->name);
}

int fr_metrics_render_prefix(const char *prefix, char **out, size_t *len) {
    struct buf b = { NULL, 0, 0, false };
    size_t plen = prefix ? strlen(prefix) : 0;
    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&reg_lock);
    struct family *fam = fr_malloc((size_t)(reg_n + N_BUILTIN) * sizeof *fam);
    int n = 0;
    if (fam) {
        for (int i = 0; i < reg_n; i++)
            if (strncmp(reg[i]->name, prefix ? prefix : "", plen) == 0) fam[n++] = (struct family){ reg[i]->name, i };
        for (int i = 0; i < N_BUILTIN; i++)
            if (strncmp(builtin_names[i], prefix ? prefix : "", plen) == 0)
                fam[n++] = (struct family){ builtin_names[i], ~i };
        qsort(fam, (size_t)n, sizeof *fam, family_cmp);
        b.p = fr_malloc(b.cap = 4096);
        if (b.p) b.p[0] = 0;
    }
    b.failed = !fam || !b.p;
    for (int i = 0; i < n && !b.failed; i++) {
        if (fam[i].idx >= 0) render_metric(&b, reg[fam[i].idx]);
        else render_builtin(&b, ~fam[i].idx);
    }
    pthread_mutex_unlock(&reg_lock);
    fr_free(fam);
    if (b.failed) {
        fr_free(b.p);
        return fr_err_set(FR_E_NOMEM, "out of memory rendering metrics");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int fr_metrics_render(char **out, size_t *len) { return fr_metrics_render_prefix(NULL, out, len); }

