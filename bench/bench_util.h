/* What every benchmark prints beside its figures: the CPU model (figures
 * compare only within one machine) and the process's resident memory; and
 * what several measure with: CPU time, percentiles. */
#ifndef FR_BENCH_UTIL_H
#define FR_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* User + system CPU time of a rusage, ms (getrusage, wait4). */
static inline double bench_rusage_ms(const struct rusage *u) {
    return (double)u->ru_utime.tv_sec * 1e3 + (double)u->ru_utime.tv_usec / 1e3 + (double)u->ru_stime.tv_sec * 1e3 +
           (double)u->ru_stime.tv_usec / 1e3;
}

/* VmRSS of this process in KiB, -1 when unknown. */
static inline long bench_rss_kb(void) {
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* /proc/cpuinfo's first "model name". */
static inline void bench_cpu_model(char *cpu, size_t len) {
    char line[512];
    snprintf(cpu, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(cpu, len, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
}

/* User + system CPU time in ms of RUSAGE_SELF (all threads) or RUSAGE_CHILDREN. */
static inline double bench_cpu_ms(int who) {
    struct rusage u;
    getrusage(who, &u);
    return bench_rusage_ms(&u);
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile (0..1, nearest rank) of v[0..n); sorts v. 0 when n is 0. */
static inline double bench_pct(double *v, int n, double p) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

#endif
