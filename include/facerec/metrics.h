/* facerec — metrics: a process-wide registry of counters, gauges and
 * histograms, rendered in the Prometheus text exposition format 0.0.4.
 *
 * Register a metric once (at start-up), keep the handle, and update it from
 * any thread. Updates are lock-free (C11 atomics); the only lock taken on the
 * way is when a label set is seen for the first time. Label values are passed
 * as exactly as many `const char *` arguments as the metric has label names:
 *
 *     struct fr_metric *req, *dur;
 *     fr_metric_new("facerec_requests_total", "Requests served.", FR_METRIC_COUNTER,
 *                   "operation,status", NULL, 0, &req);
 *     fr_metric_new("facerec_request_duration_seconds", "Request latency.",
 *                   FR_METRIC_HISTOGRAM, "operation", NULL, 0, &dur);  // seconds ladder
 *     fr_metric_inc(req, "identify", "200");
 *     fr_metric_observe(dur, 0.042, "identify");
 *
 *     char *text; size_t len;
 *     fr_metrics_render(&text, &len);    // "# HELP facerec_requests_total ..."
 *     fr_free(text);
 *
 * Bounded memory: a metric keeps at most FR_METRIC_SERIES_MAX label sets.
 * Later new label sets all go to one overflow set whose every label value is
 * "other", so a runaway label (a client id, a path) costs nothing more.
 * Label values longer than FR_METRIC_VALUE_MAX bytes are cut (at a UTF-8
 * character boundary).
 *
 * Rendering also reports the process: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_start_time_seconds, process_open_fds, process_max_fds (from /proc
 * and getrusage/getrlimit, read at render time) and facerec_allocated_bytes
 * (fr_mem_used()). Families come out sorted by name, label sets sorted by
 * their values. */
#ifndef FACEREC_METRICS_H
#define FACEREC_METRICS_H

#include "facerec/base.h"

#include <stddef.h>

#define FR_METRIC_LABELS_MAX 3      /* label names per metric */
#define FR_METRIC_SERIES_MAX 1000   /* label sets per metric, besides the "other" set */
#define FR_METRIC_BUCKETS_MAX 32    /* histogram upper bounds, besides +Inf */
#define FR_METRIC_VALUE_MAX 128     /* bytes of a label value kept */

enum fr_metric_type {
    FR_METRIC_COUNTER,              /* only goes up; negative or NaN additions are ignored */
    FR_METRIC_GAUGE,                /* goes up and down, or is set */
    FR_METRIC_HISTOGRAM             /* observations counted into fixed buckets, with _sum and _count */
};

/* Histogram bucket ladders (upper bounds, "le"). Seconds: 1 ms … 10 s;
 * scores in [0, 1]: 0.1 … 1.0. */
#define FR_METRIC_BUCKETS_SECONDS_N 13
#define FR_METRIC_BUCKETS_UNIT_N 10
FR_API extern const double fr_metric_buckets_seconds[FR_METRIC_BUCKETS_SECONDS_N];
FR_API extern const double fr_metric_buckets_unit[FR_METRIC_BUCKETS_UNIT_N];

struct fr_metric;                   /* lives until fr_metrics_reset(); never freed by the caller */

/* Registers a metric. name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: any text;
 * labels: comma-separated label names ("operation,status"), NULL or "" for
 * none, at most FR_METRIC_LABELS_MAX, "le" and names starting "__" refused.
 * Histograms take strictly increasing finite bounds (NULL: the seconds
 * ladder); others pass NULL, 0. Registering the same name again with the same
 * type, labels and bounds returns the same handle (the first help text stays);
 * anything else under a known name is -FR_E_INVALID_ARGUMENT. */
FR_API int fr_metric_new(const char *name, const char *help, enum fr_metric_type type, const char *labels,
                         const double *bounds, int n_bounds, struct fr_metric **out /* OUT */);

/* Updates. The variadic forms take exactly n_labels `const char *` label
 * values (a NULL value counts as ""); the ...v forms take them as an array
 * (NULL when the metric has no labels). Using the wrong kind of call for a
 * metric's type (observe on a counter, inc on a histogram) aborts. */
FR_API void fr_metric_inc(struct fr_metric *m, ...);                 /* add 1 */
FR_API void fr_metric_dec(struct fr_metric *m, ...);                 /* gauges: add -1 */
FR_API void fr_metric_add(struct fr_metric *m, double v, ...);
FR_API void fr_metric_set(struct fr_metric *m, double v, ...);       /* gauges (and counters mirrored from elsewhere) */
FR_API void fr_metric_observe(struct fr_metric *m, double v, ...);   /* histograms; NaN is ignored */
FR_API void fr_metric_addv(struct fr_metric *m, double v, const char *const *values);
FR_API void fr_metric_setv(struct fr_metric *m, double v, const char *const *values);
FR_API void fr_metric_observev(struct fr_metric *m, double v, const char *const *values);

/* Current value of one label set without creating it (0 when absent):
 * counters and gauges their value, histograms their observation count. */
FR_API double fr_metric_value(const struct fr_metric *m, const char *const *values);
FR_API int fr_metric_series_count(const struct fr_metric *m);       /* label sets in use, "other" included */

/* The exposition text of every family (or of those whose name starts with
 * prefix); *out is NUL-terminated, fr_free'd by the caller. -FR_E_NOMEM. */
FR_API int fr_metrics_render(char **out /* OUT */, size_t *len /* OUT */);
FR_API int fr_metrics_render_prefix(const char *prefix, char **out /* OUT */, size_t *len /* OUT */);

/* Forgets every metric and frees its memory; handles become invalid. For
 * tests only: no other thread may touch a metric meanwhile. */
FR_API void fr_metrics_reset(void);


#endif
