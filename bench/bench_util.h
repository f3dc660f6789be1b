/* What every benchmark prints beside its figures: the CPU model (figures
 * compare only within one machine) and the process's resident memory. */
#ifndef FR_BENCH_UTIL_H
#define FR_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
