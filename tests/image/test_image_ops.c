/* Image operations (src/image/ops.c) on small hand-made images whose
 * results are computed by hand from the OpenCV formulas:
 *  - resize: identity, the INTER_LINEAR coordinate mapping and clamping,
 *    INTER_AREA block means and fractional cells, enlarging with AREA is
 *    BILINEAR, a random-image comparison with a straightforward double
 *    reference, and the timing of 1920x1080 -> 320x240;
 *  - warp: identity, translation with black fill, 90-degree rotation,
 *    half-pixel blending with the black border, a 112x112 timing;
 *  - crop clamping, grey of pure colours, Laplacian variance, brightness,
 *    CHW packing in RGB and BGR;
 *  - argument errors, and allocation N failing for N = 1, 2, ...: NOMEM or
 *    success, never a leak. */
#include "harness.h"

#include "facerec/image.h"

#include <math.h>

/* ---- helpers ---- */

static void make(struct fr_image *img, int w, int h, int cn) {
    img->w = w;
    img->h = h;
    img->channels = cn;
    img->data = fr_malloc((size_t)w * (size_t)h * (size_t)cn);
    assert_non_null(img->data);
}

static uint8_t *at(const struct fr_image *img, int x, int y) {
    return img->data + ((size_t)y * (size_t)img->w + (size_t)x) * (size_t)img->channels;
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

static void assert_same(const struct fr_image *a, const struct fr_image *b) {
    assert_int_equal(a->w, b->w);
    assert_int_equal(a->h, b->h);
    assert_int_equal(a->channels, b->channels);
    assert_memory_equal(a->data, b->data, (size_t)a->w * (size_t)a->h * (size_t)a->channels);
}

/* Grey w x h image from a row-major list. */
static void make_grey(struct fr_image *img, int w, int h, const uint8_t *v) {
    make(img, w, h, 1);
    memcpy(img->data, v, (size_t)w * (size_t)h);
}

/* ---- resize ---- */

static void test_resize_identity(void **state) {
    (void)state;
    size_t before = fr_mem_used();
    for (int cn = 1; cn <= 3; cn += 2)
        for (int method = 0; method < 2; method++) {
            struct fr_image src, out;
            make(&src, 37, 23, cn);
            fill_random(&src);
            assert_int_equal(fr_image_resize(&src, 37, 23, method, &out), 0);
            assert_same(&src, &out);
            fr_image_free(&out);
            fr_image_free(&src);
        }
    assert_int_equal(fr_mem_used(), before);
}

static void test_resize_bilinear_gradient(void **state) {
    (void)state;
    /* 2x1 -> 4x1: sx = (x + 0.5) * 2 / 4 - 0.5 = -0.25, 0.25, 0.75, 1.25;
     * clamped to [0, 1]: 0, 0.25, 0.75, 1 */
    struct fr_image src, out;
    make_grey(&src, 2, 1, (const uint8_t[]){ 0, 100 });
    assert_int_equal(fr_image_resize(&src, 4, 1, FR_RESIZE_BILINEAR, &out), 0);
    assert_int_equal(out.w, 4);
    assert_int_equal(out.h, 1);
    assert_int_equal(out.channels, 1);
    assert_memory_equal(out.data, ((const uint8_t[]){ 0, 25, 75, 100 }), 4);
    fr_image_free(&out);
    fr_image_free(&src);
    /* 10 .. 200: 10 + 0.25 * 190 = 57.5 rounds up to 58; 152.5 -> 153 */
    make_grey(&src, 2, 1, (const uint8_t[]){ 10, 200 });
    assert_int_equal(fr_image_resize(&src, 4, 1, FR_RESIZE_BILINEAR, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 10, 58, 153, 200 }), 4);
    fr_image_free(&out);
    fr_image_free(&src);
    /* the same vertically, RGB, each channel its own gradient */
    make(&src, 1, 2, 3);
    memcpy(src.data, (const uint8_t[]){ 0, 200, 40, 100, 0, 40 }, 6);
    assert_int_equal(fr_image_resize(&src, 1, 4, FR_RESIZE_BILINEAR, &out), 0);
    static const uint8_t want[12] = { 0, 200, 40, 25, 150, 40, 75, 50, 40, 100, 0, 40 };
    assert_memory_equal(out.data, want, 12);
    fr_image_free(&out);
    /* enlarging with AREA is BILINEAR */
    assert_int_equal(fr_image_resize(&src, 1, 4, FR_RESIZE_AREA, &out), 0);
    assert_memory_equal(out.data, want, 12);
    fr_image_free(&out);
    fr_image_free(&src);
}

static void test_resize_bilinear_shrink(void **state) {
    (void)state;
    /* 4x1 -> 2x1: sx = (x + 0.5) * 2 - 0.5 = 0.5, 2.5: the means of pairs */
    struct fr_image src, out;
    make_grey(&src, 4, 1, (const uint8_t[]){ 10, 20, 31, 40 });
    assert_int_equal(fr_image_resize(&src, 2, 1, FR_RESIZE_BILINEAR, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 15, 36 }), 2);   /* 35.5 -> 36 */
    fr_image_free(&out);
    fr_image_free(&src);
    /* 6x1 -> 2x1: sx = 1, 4 exactly: samples, no blending */
    make_grey(&src, 6, 1, (const uint8_t[]){ 1, 2, 3, 4, 5, 6 });
    assert_int_equal(fr_image_resize(&src, 2, 1, FR_RESIZE_BILINEAR, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 2, 5 }), 2);
    fr_image_free(&out);
    fr_image_free(&src);
}

/* Reference INTER_LINEAR in doubles with exact weights. */
static double ref_linear(const struct fr_image *s, int dw, int dh, int x, int y, int c) {
    double coord[2];
    int i0[2], i1[2];
    const int sn[2] = { s->w, s->h }, dn[2] = { dw, dh }, d[2] = { x, y };
    for (int a = 0; a < 2; a++) {
        double f = (d[a] + 0.5) * sn[a] / dn[a] - 0.5;
        int k = (int)floor(f);
        double fr = f - k;
        if (k < 0) k = 0, fr = 0;
        if (k >= sn[a] - 1) k = sn[a] - 1, fr = 0;
        i0[a] = k;
        i1[a] = k + 1 < sn[a] ? k + 1 : sn[a] - 1;
        coord[a] = fr;
    }
    double p00 = at(s, i0[0], i0[1])[c], p01 = at(s, i1[0], i0[1])[c];
    double p10 = at(s, i0[0], i1[1])[c], p11 = at(s, i1[0], i1[1])[c];
    double t = p00 + coord[0] * (p01 - p00), b = p10 + coord[0] * (p11 - p10);
    return t + coord[1] * (b - t);
}

static void test_resize_bilinear_random(void **state) {
    (void)state;
    static const int sizes[][4] = { { 97, 61, 40, 30 },  { 40, 30, 97, 61 }, { 13, 7, 64, 64 },
                                    { 200, 150, 64, 64 }, { 5, 300, 9, 17 }, { 1, 1, 3, 2 },
                                    { 3, 2, 1, 1 } };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (int cn = 1; cn <= 3; cn += 2) {
            struct fr_image src, out;
            make(&src, sizes[i][0], sizes[i][1], cn);
            fill_random(&src);
            assert_int_equal(fr_image_resize(&src, sizes[i][2], sizes[i][3], FR_RESIZE_BILINEAR, &out), 0);
            int worst = 0;
            for (int y = 0; y < out.h; y++)
                for (int x = 0; x < out.w; x++)
                    for (int c = 0; c < cn; c++) {
                        double r = ref_linear(&src, out.w, out.h, x, y, c);
                        int d = abs(at(&out, x, y)[c] - (int)floor(r + 0.5));
                        if (d > worst) worst = d;
                    }
            assert_true(worst <= 1);   /* 11-bit weights, as OpenCV: off by one at most */
            fr_image_free(&out);
            fr_image_free(&src);
        }
}

static void test_resize_area(void **state) {
    (void)state;
    /* 4x4 -> 2x2: the 2x2 block means (26.5 rounds up) */
    struct fr_image src, out;
    make_grey(&src, 4, 4,
              (const uint8_t[]){ 0, 10, 100, 100,   20, 30, 100, 101,
                                 7, 7, 255, 255,    7, 8, 255, 254 });
    assert_int_equal(fr_image_resize(&src, 2, 2, FR_RESIZE_AREA, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 15, 100, 7, 255 }), 4);
    fr_image_free(&out);
    fr_image_free(&src);
    make_grey(&src, 2, 2, (const uint8_t[]){ 10, 20, 30, 46 });   /* 106 / 4 = 26.5 */
    assert_int_equal(fr_image_resize(&src, 1, 1, FR_RESIZE_AREA, &out), 0);
    assert_int_equal(out.data[0], 27);
    fr_image_free(&out);
    fr_image_free(&src);
    /* 3x1 -> 2x1: cells [0, 1.5) and [1.5, 3): (a + b / 2) / 1.5 */
    make_grey(&src, 3, 1, (const uint8_t[]){ 30, 60, 90 });
    assert_int_equal(fr_image_resize(&src, 2, 1, FR_RESIZE_AREA, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 40, 80 }), 2);
    fr_image_free(&out);
    fr_image_free(&src);
    /* RGB: each channel on its own */
    make(&src, 2, 2, 3);
    memcpy(src.data, (const uint8_t[]){ 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255 }, 12);
    assert_int_equal(fr_image_resize(&src, 1, 1, FR_RESIZE_AREA, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 128, 128, 128 }), 3);   /* 127.5 */
    fr_image_free(&out);
    fr_image_free(&src);
    /* mixed: x shrinks by area (4 -> 2), y enlarges bilinearly (1 -> 2) */
    make_grey(&src, 4, 1, (const uint8_t[]){ 10, 20, 30, 40 });
    assert_int_equal(fr_image_resize(&src, 2, 2, FR_RESIZE_AREA, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 15, 35, 15, 35 }), 4);
    fr_image_free(&out);
    fr_image_free(&src);
    /* a constant image stays constant whatever the ratio */
    make(&src, 1920, 1080, 3);
    memset(src.data, 77, (size_t)1920 * 1080 * 3);
    assert_int_equal(fr_image_resize(&src, 333, 187, FR_RESIZE_AREA, &out), 0);
    for (size_t i = 0; i < (size_t)333 * 187 * 3; i++) assert_int_equal(out.data[i], 77);
    fr_image_free(&out);
    fr_image_free(&src);
}

static void test_resize_timing(void **state) {
    (void)state;
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

/* ---- warp ---- */

static void test_warp_identity_translate(void **state) {
    (void)state;
    size_t before = fr_mem_used();
    struct fr_image src, out;
    make(&src, 9, 7, 3);
    fill_random(&src);
    const float id[6] = { 1, 0, 0, 0, 1, 0 };
    assert_int_equal(fr_image_warp_affine(&src, id, 9, 7, &out), 0);
    assert_same(&src, &out);
    fr_image_free(&out);
    /* output x samples source x - 1: shifted right, column 0 black */
    const float tr[6] = { 1, 0, -1, 0, 1, 0 };
    assert_int_equal(fr_image_warp_affine(&src, tr, 9, 7, &out), 0);
    for (int y = 0; y < 7; y++) {
        assert_memory_equal(at(&out, 0, y), ((const uint8_t[]){ 0, 0, 0 }), 3);
        for (int x = 1; x < 9; x++) assert_memory_equal(at(&out, x, y), at(&src, x - 1, y), 3);
    }
    fr_image_free(&out);
    /* an output larger than the source: black beyond it */
    assert_int_equal(fr_image_warp_affine(&src, id, 12, 8, &out), 0);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 12; x++) {
            if (x < 9 && y < 7) assert_memory_equal(at(&out, x, y), at(&src, x, y), 3);
            else assert_memory_equal(at(&out, x, y), ((const uint8_t[]){ 0, 0, 0 }), 3);
        }
    fr_image_free(&out);
    fr_image_free(&src);
    /* half a pixel past the edge: half the edge pixel, half black */
    make_grey(&src, 2, 1, (const uint8_t[]){ 100, 201 });
    const float half[6] = { 1, 0, 0.5f, 0, 1, 0 };
    assert_int_equal(fr_image_warp_affine(&src, half, 2, 1, &out), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){ 151, 101 }), 2);   /* 150.5, 100.5 */
    fr_image_free(&out);
    /* just inside the far edges, where sx + 1 may round up to sw + 1: in
     * bounds (ASan checks), and almost all weight is on the black outside */
    struct fr_image white;
    make(&white, 4, 4, 1);
    memset(white.data, 255, 16);
    const float edge[6] = { 0, 0, nextafterf(4.0f, 0.0f), 0, 0, nextafterf(4.0f, 0.0f) };
    assert_int_equal(fr_image_warp_affine(&white, edge, 2, 2, &out), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(out.data[i], 0);
    fr_image_free(&out);
    const float lo[6] = { 0, 0, nextafterf(-1.0f, 0.0f), 0, 0, nextafterf(-1.0f, 0.0f) };
    assert_int_equal(fr_image_warp_affine(&white, lo, 2, 2, &out), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(out.data[i], 0);
    fr_image_free(&out);
    fr_image_free(&white);
    /* a matrix of NaN or huge values: black, no crash */
    const float bad[6] = { NAN, 0, 0, 0, 1e30f, -1e30f };
    assert_int_equal(fr_image_warp_affine(&src, bad, 3, 3, &out), 0);
    for (int i = 0; i < 9; i++) assert_int_equal(out.data[i], 0);
    fr_image_free(&out);
    fr_image_free(&src);
    assert_int_equal(fr_mem_used(), before);
}

static void test_warp_rotate90(void **state) {
    (void)state;
    /* 90 degrees about the centre c = (n - 1) / 2 of an n x n image: output
     * (x, y) samples (y, n - 1 - x), i.e. m = [0 1 0; -1 0 n-1]. The source
     * corners TL, TR, BR, BL land on TR, BR, BL, TL... checked for all. */
    const int n = 5;
    struct fr_image src, out;
    make(&src, n, n, 1);
    fill_random(&src);
    const float m[6] = { 0, 1, 0, -1, 0, (float)(n - 1) };
    assert_int_equal(fr_image_warp_affine(&src, m, n, n, &out), 0);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) assert_int_equal(*at(&out, x, y), *at(&src, y, n - 1 - x));
    /* the corners by name */
    assert_int_equal(*at(&out, 0, 0), *at(&src, 0, n - 1));           /* BL -> TL */
    assert_int_equal(*at(&out, n - 1, 0), *at(&src, 0, 0));           /* TL -> TR */
    assert_int_equal(*at(&out, n - 1, n - 1), *at(&src, n - 1, 0));   /* TR -> BR */
    assert_int_equal(*at(&out, 0, n - 1), *at(&src, n - 1, n - 1));   /* BR -> BL */
    fr_image_free(&out);
    /* the same rotation built from cos/sin about the centre */
    const float c = (float)(n - 1) / 2, a = (float)(M_PI / 2);
    const float cs = cosf(a), sn = sinf(a);
    /* source = R(-90) (out - c) + c with R rows (cos, sin; -sin, cos) */
    const float m2[6] = { cs, sn, c - cs * c - sn * c, -sn, cs, c + sn * c - cs * c };
    assert_int_equal(fr_image_warp_affine(&src, m2, n, n, &out), 0);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) assert_int_equal(*at(&out, x, y), *at(&src, y, n - 1 - x));
    fr_image_free(&out);
    fr_image_free(&src);
}

static void test_warp_timing(void **state) {
    (void)state;
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

/* ---- crop, grey ---- */

static void test_crop(void **state) {
    (void)state;
    struct fr_image src, out;
    make(&src, 10, 8, 3);
    fill_random(&src);
    assert_int_equal(fr_image_crop(&src, 2, 3, 6, 5, &out), 0);
    assert_int_equal(out.w, 4);
    assert_int_equal(out.h, 2);
    assert_int_equal(out.channels, 3);
    for (int y = 0; y < 2; y++) assert_memory_equal(at(&out, 0, y), at(&src, 2, 3 + y), 12);
    fr_image_free(&out);
    /* clamped to the image */
    assert_int_equal(fr_image_crop(&src, -5, -5, 3, 100, &out), 0);
    assert_int_equal(out.w, 3);
    assert_int_equal(out.h, 8);
    for (int y = 0; y < 8; y++) assert_memory_equal(at(&out, 0, y), at(&src, 0, y), 9);
    fr_image_free(&out);
    assert_int_equal(fr_image_crop(&src, -100, -100, 100, 100, &out), 0);
    assert_same(&src, &out);
    fr_image_free(&out);
    /* empty after clamping */
    assert_int_equal(fr_image_crop(&src, 10, 0, 20, 8, &out), -FR_E_INVALID_ARGUMENT);
    assert_null(out.data);
    assert_int_equal(fr_image_crop(&src, 5, 2, 5, 6, &out), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_image_crop(&src, 6, 2, 4, 6, &out), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_image_crop(&src, -9, -9, -1, -1, &out), -FR_E_INVALID_ARGUMENT);
    fr_image_free(&src);
}

static void test_grey(void **state) {
    (void)state;
    struct fr_image src, out;
    make(&src, 5, 1, 3);
    memcpy(src.data, (const uint8_t[]){ 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0 }, 15);
    assert_int_equal(fr_image_to_grey(&src, &out), 0);
    assert_int_equal(out.channels, 1);
    assert_int_equal(out.w, 5);
    /* OpenCV COLOR_RGB2GRAY: red 76, green 150, blue 29 */
    assert_memory_equal(out.data, ((const uint8_t[]){ 76, 150, 29, 255, 0 }), 5);
    struct fr_image again;
    assert_int_equal(fr_image_to_grey(&out, &again), 0);   /* grey: a copy */
    assert_same(&out, &again);
    assert_true(again.data != out.data);
    fr_image_free(&again);
    fr_image_free(&out);
    fr_image_free(&src);
}

/* ---- measures ---- */

static void test_laplacian_var(void **state) {
    (void)state;
    size_t before = fr_mem_used();
    struct fr_image img;
    make(&img, 16, 12, 3);
    memset(img.data, 123, (size_t)16 * 12 * 3);
    assert_true(fr_image_laplacian_var(&img) == 0.0);
    fr_image_free(&img);
    /* checkerboard 0/255: interior Laplacian +-1020, mean 0, variance 1020^2 */
    make(&img, 16, 12, 1);
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 16; x++) *at(&img, x, y) = (x + y) % 2 ? 255 : 0;
    double v = fr_image_laplacian_var(&img);
    assert_true(fabs(v - 1020.0 * 1020.0) < 1e-6);
    /* a linear ramp has Laplacian 0 */
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 16; x++) *at(&img, x, y) = (uint8_t)(3 * x + 5 * y);
    assert_true(fr_image_laplacian_var(&img) == 0.0);
    /* one bright pixel in 3x3: one interior value */
    fr_image_free(&img);
    make_grey(&img, 3, 3, (const uint8_t[]){ 0, 0, 0, 0, 10, 0, 0, 0, 0 });
    assert_true(fr_image_laplacian_var(&img) == 0.0);   /* a single sample */
    fr_image_free(&img);
    /* 4x3: interior L = -40, +10: mean -15, variance 625 */
    make_grey(&img, 4, 3, (const uint8_t[]){ 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0 });
    assert_true(fabs(fr_image_laplacian_var(&img) - 625.0) < 1e-9);
    fr_image_free(&img);
    make(&img, 2, 5, 1);
    memset(img.data, 0, 10);
    assert_true(fr_image_laplacian_var(&img) == -1.0);
    fr_image_free(&img);
    assert_true(fr_image_laplacian_var(NULL) == -1.0);
    assert_int_equal(fr_mem_used(), before);
}

static void test_brightness(void **state) {
    (void)state;
    struct fr_image img;
    make_grey(&img, 2, 2, (const uint8_t[]){ 0, 100, 200, 255 });
    assert_true(fabs(fr_image_brightness(&img) - 138.75) < 1e-9);
    fr_image_free(&img);
    make(&img, 2, 1, 3);
    memcpy(img.data, (const uint8_t[]){ 255, 255, 255, 0, 0, 0 }, 6);
    assert_true(fabs(fr_image_brightness(&img) - 127.5) < 1e-9);
    memcpy(img.data, (const uint8_t[]){ 255, 0, 0, 255, 0, 0 }, 6);
    assert_true(fabs(fr_image_brightness(&img) - 255.0 * 0.299) < 0.05);
    fr_image_free(&img);
    assert_true(fr_image_brightness(NULL) == -1.0);
}

/* ---- network input ---- */

static void test_to_chw(void **state) {
    (void)state;
    struct fr_image img;
    make(&img, 3, 2, 3);
    for (int i = 0; i < 18; i++) img.data[i] = (uint8_t)(10 * i);   /* pixel p: 30p, 30p+10, 30p+20 */
    const float mean[3] = { 1, 2, 3 }, scale[3] = { 0.5f, 2, -1 };
    float out[18];
    fr_image_to_chw(&img, mean, scale, 0, out);
    for (int p = 0; p < 6; p++) {
        assert_true(out[p] == (30.0f * p - 1) * 0.5f);             /* R plane */
        assert_true(out[6 + p] == (30.0f * p + 10 - 2) * 2);      /* G plane */
        assert_true(out[12 + p] == (30.0f * p + 20 - 3) * -1);    /* B plane */
    }
    fr_image_to_chw(&img, mean, scale, 1, out);
    for (int p = 0; p < 6; p++) {
        assert_true(out[p] == (30.0f * p + 20 - 1) * 0.5f);        /* B plane, mean[0] */
        assert_true(out[6 + p] == (30.0f * p + 10 - 2) * 2);      /* G plane */
        assert_true(out[12 + p] == (30.0f * p - 3) * -1);         /* R plane, mean[2] */
    }
    /* NULL mean and scale: the raw values */
    fr_image_to_chw(&img, NULL, NULL, 0, out);
    for (int p = 0; p < 6; p++) assert_true(out[p] == 30.0f * p);
    fr_image_free(&img);
    /* grey: one plane */
    make_grey(&img, 2, 2, (const uint8_t[]){ 0, 127, 128, 255 });
    const float m1 = 127.5f, s1 = 1 / 127.5f;
    float g[4];
    fr_image_to_chw(&img, &m1, &s1, 1, g);
    assert_true(fabsf(g[0] + 1.0f) < 1e-6f);
    assert_true(fabsf(g[3] - 1.0f) < 1e-6f);
    assert_true(fabsf(g[1] + 0.5f / 127.5f) < 1e-6f);
    fr_image_free(&img);
}

/* ---- errors ---- */

static void test_argument_errors(void **state) {
    (void)state;
    size_t before = fr_mem_used();
    struct fr_image src, out;
    make(&src, 4, 4, 3);
    fill_random(&src);
    const float id[6] = { 1, 0, 0, 0, 1, 0 };
    const int E = -FR_E_INVALID_ARGUMENT;
    assert_int_equal(fr_image_resize(NULL, 2, 2, 0, &out), E);
    assert_null(out.data);
    assert_int_equal(fr_image_resize(&src, 2, 2, 0, NULL), E);
    assert_int_equal(fr_image_resize(&src, 0, 2, 0, &out), E);
    assert_int_equal(fr_image_resize(&src, 2, -1, 0, &out), E);
    assert_int_equal(fr_image_resize(&src, 32769, 2, 0, &out), E);
    assert_int_equal(fr_image_resize(&src, 2, 2, 2, &out), E);
    assert_int_equal(fr_image_resize(&src, 2, 2, -1, &out), E);
    assert_int_equal(fr_image_resize(&src, 2, 2, 0, &src), E);   /* out is src */
    assert_non_null(src.data);
    assert_int_equal(fr_image_warp_affine(&src, NULL, 2, 2, &out), E);
    assert_int_equal(fr_image_warp_affine(&src, id, 0, 2, &out), E);
    assert_int_equal(fr_image_warp_affine(&src, id, 2, 40000, &out), E);
    assert_int_equal(fr_image_warp_affine(NULL, id, 2, 2, &out), E);
    assert_int_equal(fr_image_crop(NULL, 0, 0, 1, 1, &out), E);
    assert_int_equal(fr_image_to_grey(NULL, &out), E);
    assert_int_equal(fr_image_to_grey(&src, NULL), E);
    /* broken source images */
    struct fr_image bad = src;
    bad.channels = 4;
    assert_int_equal(fr_image_resize(&bad, 2, 2, 0, &out), E);
    assert_int_equal(fr_image_to_grey(&bad, &out), E);
    assert_true(fr_image_brightness(&bad) == -1.0);
    assert_true(fr_image_laplacian_var(&bad) == -1.0);
    bad = src;
    bad.w = 0;
    assert_int_equal(fr_image_crop(&bad, 0, 0, 1, 1, &out), E);
    bad = src;
    bad.data = NULL;
    assert_int_equal(fr_image_warp_affine(&bad, id, 2, 2, &out), E);
    assert_null(out.data);
    assert_true(strlen(fr_err_detail()) > 0);
    /* the largest output side is fine */
    assert_int_equal(fr_image_resize(&src, 32768, 1, 0, &out), 0);
    fr_image_free(&out);
    fr_image_free(&src);
    assert_int_equal(fr_mem_used(), before);
}

/* Every function that allocates, with allocation N failing. */
static int run_op(int op, const struct fr_image *src, struct fr_image *out) {
    const float m[6] = { 0.9f, 0.1f, 1.5f, -0.1f, 0.9f, 2.0f };
    switch (op) {
    case 0: return fr_image_resize(src, 13, 11, FR_RESIZE_BILINEAR, out);
    case 1: return fr_image_resize(src, 13, 11, FR_RESIZE_AREA, out);
    case 2: return fr_image_resize(src, 13, 60, FR_RESIZE_AREA, out);   /* mixed axes */
    case 3: return fr_image_resize(src, 40, 30, FR_RESIZE_AREA, out);   /* enlarge */
    case 4: return fr_image_warp_affine(src, m, 16, 16, out);
    case 5: return fr_image_crop(src, 3, 4, 20, 21, out);
    case 6: return fr_image_to_grey(src, out);
    case 7: {
        memset(out, 0, sizeof *out);
        double v = fr_image_laplacian_var(src);
        return v < 0 ? -FR_E_NOMEM : 0;
    }
    default: return -FR_E_INTERNAL_ERROR;
    }
}

static void test_alloc_failure(void **state) {
    (void)state;
    struct fr_image src;
    make(&src, 31, 27, 3);
    fill_random(&src);
    size_t before = fr_mem_used();
    for (int op = 0; op < 8; op++) {
        int ok = 0;
        for (long n = 1; n < 50 && !ok; n++) {
            struct fr_image out;
            fr_alloc_fail_after(n);
            int rc = run_op(op, &src, &out);
            fr_alloc_fail_after(0);
            assert_true(rc == 0 || rc == -FR_E_NOMEM);
            if (rc == 0) ok = 1;
            else assert_null(out.data);
            fr_image_free(&out);
            assert_int_equal(fr_mem_used(), before);
        }
        assert_true(ok);
    }
    fr_image_free(&src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_identity),
        cmocka_unit_test(test_resize_bilinear_gradient),
        cmocka_unit_test(test_resize_bilinear_shrink),
        cmocka_unit_test(test_resize_bilinear_random),
        cmocka_unit_test(test_resize_area),
        cmocka_unit_test(test_resize_timing),
        cmocka_unit_test(test_warp_identity_translate),
        cmocka_unit_test(test_warp_rotate90),
        cmocka_unit_test(test_warp_timing),
        cmocka_unit_test(test_crop),
        cmocka_unit_test(test_grey),
        cmocka_unit_test(test_laplacian_var),
        cmocka_unit_test(test_brightness),
        cmocka_unit_test(test_to_chw),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
