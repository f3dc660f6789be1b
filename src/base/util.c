/* Logging, time, CPU features, floating-point mode, whole-file I/O. */
#include "facerec/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define FR_MXCSR_FTZ_DAZ 0x8040u    /* bit 15 flush-to-zero, bit 6 denormals-are-zero */
#endif

static int log_level = FR_LOG_INFO;

unsigned fr_fp_flush_denormals(void) {
#ifdef FR_MXCSR_FTZ_DAZ
    unsigned old = _mm_getcsr();
    if ((old & FR_MXCSR_FTZ_DAZ) != FR_MXCSR_FTZ_DAZ) _mm_setcsr(old | FR_MXCSR_FTZ_DAZ);
    return old;
#else
    return 0;
#endif
}

void fr_fp_restore(unsigned state) {
#ifdef FR_MXCSR_FTZ_DAZ
    if (_mm_getcsr() != state) _mm_setcsr(state);
#else
    (void)state;
#endif
}

void fr_log_set_level(int level) { log_level = level; }

void fr_json_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

void fr_log_timestamp(char out[32]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000) % 1000u;
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = 0;
}

void fr_log(int level, const char *fmt, ...) {
    static const char *names[] = { "debug", "info", "warn", "error" };
    char msg[1024];
    va_list ap;
    if (level < log_level) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char when[32];
    fr_log_timestamp(when);
    flockfile(stderr);
    fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", when,
            names[level < 0 ? 0 : level > 3 ? 3 : level]);
    fr_json_escape(stderr, msg);
    fputs("\"}\n", stderr);
    funlockfile(stderr);
}

double fr_time_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int64_t fr_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fr_utc_day(int64_t unix_ms, char day_out[11]) {
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(day_out, 11, "%Y-%m-%d", &tm) != 10)
        memcpy(day_out, "1970-01-01", 11);
}

static int isa_chosen = -1;

static int isa_probe(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return FR_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FR_ISA_AVX2;
    return FR_ISA_REF;
}

const char *fr_isa_name(int isa) {
    return isa == FR_ISA_AVX512 ? "avx512" : isa == FR_ISA_AVX2 ? "avx2" : "ref";
}

void fr_cpu_set_isa(int isa) {
    int hw = isa_probe();
    isa_chosen = isa < hw ? isa : hw;
}

int fr_cpu_isa(void) {
    if (isa_chosen < 0) {
        int isa = isa_probe();
        const char *env = getenv("FR_ISA");
        if (env) {
            int want = !strcmp(env, "ref") ? FR_ISA_REF : !strcmp(env, "avx2") ? FR_ISA_AVX2 : FR_ISA_AVX512;
            if (want < isa) isa = want;
        }
        isa_chosen = isa;
    }
    return isa_chosen;
}

int fr_file_read(const char *path, size_t max_bytes, uint8_t **buf_out, size_t *len_out) {
    *buf_out = NULL;
    *len_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fr_err_set(FR_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    uint8_t *buf = NULL;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fr_err_set(FR_E_IO, "%s is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = fr_err_set(FR_E_LIMIT_EXCEEDED, "%s is %lld bytes, the limit is %zu", path,
                        (long long)st.st_size, max_bytes);
        goto out;
    }
    buf = fr_malloc((size_t)st.st_size + 1);
    if (!buf) { rc = fr_err_set(FR_E_NOMEM, "reading %s", path); goto out; }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        rc = fr_err_set(FR_E_IO, "short read on %s", path);
        goto out;
    }
    buf[st.st_size] = 0;
    *buf_out = buf;
    *len_out = (size_t)st.st_size;
    buf = NULL;
out:
    fr_free(buf);
    fclose(f);
    return rc;
}

int fr_file_write(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return fr_err_set(FR_E_IO, "cannot create %s: %s", path, strerror(errno));
    size_t n = fwrite(buf, 1, len, f);
    int bad = fclose(f) != 0 || n != len;
    return bad ? fr_err_set(FR_E_IO, "cannot write %s", path) : 0;
}
