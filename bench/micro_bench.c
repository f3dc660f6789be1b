/* make bench: micro-benchmarks of the pixel steps and the rate limiter
 * (moved out of the unit tests, which must not time anything): resize
 * 1920x1080 -> 320x240, warp 640x480 -> 112x112, the pipeline's pixel
 * steps per ISA (medians), and a rate-limit check. Prints the CPU model
 * first; figures are only comparable within one run.
 *   build/bench/micro_bench */
#include "facerec/base.h"
#include "facerec/image.h"
#include "http/ratelimit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_int_equal(a, b) do { if ((a) != (b)) { fprintf(stderr, "micro_bench: %s failed\n", #a); exit(1); } } while (0)
#define assert_non_null(p) do { if (!(p)) { fprintf(stderr, "micro_bench: out of memory\n"); exit(1); } } while (0)

static void make(struct fr_image *img, int w, int h, int cn) {
    img->w = w;
    img->h = h;
    img->channels = cn;
    img->data = fr_malloc((size_t)w * (size_t)h * (size_t)cn);
    assert_non_null(img->data);
}

static uint32_t rng_state = 12345;
static uint8_t rnd8(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (uint8_t)(rng_state >> 24);
}

static void fill_random(struct fr_image *img) {
    size_t n = (size_t)img->w * (size_t)img->h * (size_t)img->channels;
    for (size_t i = 0; i < n; i++) img->data[i] = rnd8();
}

static void similarity(float s, float a, float cx, float cy, float tx, float ty, float m[6]) {
    m[0] = s * cosf(a);
    m[1] = -s * sinf(a);
    m[3] = s * sinf(a);
    m[4] = s * cosf(a);
    m[2] = tx - (m[0] * cx + m[1] * cy);
    m[5] = ty - (m[3] * cx + m[4] * cy);
}

/* ---- timings of the pipeline's pixel steps, per ISA (medians) ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { TIME_REPS = 101 };

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

static void test_resize_timing(void) {
    struct fr_image src, out;
    make(&src, 1920, 1080, 3);
    fill_random(&src);
    for (int method = 0; method < 2; method++) {
        double best = 1e9;
        for (int rep = 0; rep < 20; rep++) {
            double t0 = fr_time_ms();
            assert_int_equal(fr_image_resize(&src, 320, 240, method, &out), 0);
            double t = fr_time_ms() - t0;
            if (t < best) best = t;
            fr_image_free(&out);
        }
        printf("resize 1920x1080 -> 320x240 %s: %.3f ms\n", method ? "area" : "bilinear", best);
    }
    fr_image_free(&src);
}

static void test_warp_timing(void) {
    struct fr_image src, out;
    make(&src, 640, 480, 3);
    fill_random(&src);
    /* a similarity transform like face alignment: scale 0.3, 20 degrees */
    const float s = 1 / 0.3f, a = 0.35f;
    const float m[6] = { s * cosf(a), -s * sinf(a), 250, s * sinf(a), s * cosf(a), 150 };
    double best = 1e9;
    for (int rep = 0; rep < 50; rep++) {
        double t0 = fr_time_ms();
        assert_int_equal(fr_image_warp_affine(&src, m, 112, 112, &out), 0);
        double t = fr_time_ms() - t0;
        if (t < best) best = t;
        fr_image_free(&out);
    }
    printf("warp_affine 640x480 -> 112x112 RGB: %.3f ms\n", best);
    fr_image_free(&src);
}

static void test_isa_timing(void) {
    int isa0 = fr_cpu_isa();
    struct fr_image src, small, crop, lm, grey, al;
    make(&src, 250, 250, 3);
    fill_random(&src);
    float *chw = fr_malloc((size_t)3 * 320 * 240 * sizeof *chw);
    assert_non_null(chw);
    static const float mean[3] = { 127, 127, 127 };
    static const float scale[3] = { 1.0f / 128, 1.0f / 128, 1.0f / 128 };
    float m[6];
    similarity(1.1f, 0.15f, 55.5f, 55.5f, 125, 120, m);
    static const int order[] = { FR_ISA_REF, FR_ISA_AVX2, FR_ISA_AVX512 };
    for (size_t k = 0; k < 3; k++) {
        fr_cpu_set_isa(order[k]);
        if (fr_cpu_isa() != order[k]) continue;   /* not on this CPU */
        double t[5][TIME_REPS];
        for (int r = 0; r < TIME_REPS; r++) {
            double t0 = fr_time_ms();
            assert_int_equal(fr_image_resize(&src, 320, 240, FR_RESIZE_BILINEAR, &small), 0);
            double t1 = fr_time_ms();
            fr_image_to_chw(&small, mean, scale, 0, chw);
            double t2 = fr_time_ms();
            assert_int_equal(fr_image_resize_to_chw(&src, 320, 240, mean, scale, 0, chw), 0);
            double t3 = fr_time_ms();
            assert_int_equal(fr_image_warp_affine(&src, m, 112, 112, &al), 0);
            double t4 = fr_time_ms();
            assert_int_equal(fr_image_crop(&src, 60, 50, 190, 200, &crop), 0);
            assert_int_equal(fr_image_resize(&crop, 64, 64, FR_RESIZE_BILINEAR, &lm), 0);
            assert_int_equal(fr_image_to_grey(&lm, &grey), 0);
            double t5 = fr_time_ms();
            t[0][r] = t1 - t0;
            t[1][r] = t2 - t1;
            t[2][r] = t3 - t2;
            t[3][r] = t4 - t3;
            t[4][r] = t5 - t4;
            fr_image_free(&small);
            fr_image_free(&al);
            fr_image_free(&crop);
            fr_image_free(&lm);
            fr_image_free(&grey);
        }
        printf("%-6s resize 250x250->320x240 %.3f ms, to_chw %.3f ms, resize_to_chw %.3f ms, "
               "warp 112x112 %.3f ms, crop+resize 64x64+grey %.3f ms (medians of %d)\n",
               fr_isa_name(order[k]), median(t[0], TIME_REPS), median(t[1], TIME_REPS),
               median(t[2], TIME_REPS), median(t[3], TIME_REPS), median(t[4], TIME_REPS),
               TIME_REPS);
    }
    fr_cpu_set_isa(isa0);
    fr_free(chw);
    fr_image_free(&src);
}

#define T0 1699999200000LL

static void ratelimit_speed(void) {
    struct fr_ratelimit *rl;
    assert_int_equal(fr_ratelimit_new(0, &rl), 0);
    enum { N = 2000000 };
    double t0 = fr_time_ms();
    for (int i = 0; i < N; i++) fr_ratelimit_check(rl, i % 5000, 1000000, 10000000, T0 + i / 10, NULL);
    double ms = fr_time_ms() - t0;
    struct fr_ratelimit_info in;
    t0 = fr_time_ms();
    for (int i = 0; i < N; i++) fr_ratelimit_check(rl, i % 5000, 1000000, 10000000, T0 + i / 10, &in);
    double ms_info = fr_time_ms() - t0;
    printf("rate limit: %.0f ns per check, %.0f ns with the header figures (5000 clients, one thread)\n",
           ms * 1e6 / N, ms_info * 1e6 / N);
    fr_ratelimit_free(rl);
}

int main(void) {
    char cpu[256] = "unknown CPU", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
    printf("micro benchmarks, CPU: %s\n", cpu);
    test_resize_timing();
    test_warp_timing();
    test_isa_timing();
    ratelimit_speed();
    return 0;
}
