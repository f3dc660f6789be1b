/* Image operations (src/image/ops.c) on small hand-made images whose
 * results are computed by hand from the OpenCV formulas:
 *  - resize: identity, the INTER_LINEAR coordinate mapping and clamping,
 *    INTER_AREA block means and fractional cells, enlarging with AREA is
 *    BILINEAR, a random-image comparison with a straightforward double
 *    reference;
 *  - warp: identity, translation with black fill, 90-degree rotation,
 *    half-pixel blending with the black border;
 *  - crop clamping, grey of pure colours, Laplacian variance, brightness,
 *    CHW packing in RGB and BGR;
 *  - argument errors, and allocation N failing for N = 1, 2, ...: NOMEM or
 *    success, never a leak, on the portable and the SIMD paths;
 *  - every ISA (fr_cpu_set_isa REF / AVX2 / AVX512) against the portable
 *    code, byte for byte and float for float: bilinear resize of random
 *    images of many sizes (1x1, odd widths, up and down, 250x250 and
 *    1126x661 -> 320x240), resize_to_chw against resize + to_chw, and affine
 *    warps with rotation, scale and borders outside the image.
 * Timings live in bench/micro_bench.c (make bench), not here. */
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

/* ---- every ISA against the portable code ---- */

static const int isas[] = { FR_ISA_AVX2, FR_ISA_AVX512 };

/* resize sizes: source w, h -> output w, h */
static const int rs_sizes[][4] = {
    { 1, 1, 1, 2 },      { 1, 1, 9, 5 },      { 2, 1, 17, 3 },     { 3, 2, 1, 1 },
    { 5, 300, 9, 17 },   { 7, 3, 33, 35 },    { 13, 7, 64, 64 },   { 31, 17, 8, 9 },
    { 40, 30, 97, 61 },  { 97, 61, 40, 30 },  { 101, 99, 64, 64 }, { 200, 150, 64, 64 },
    { 250, 250, 320, 240 }, { 1126, 661, 320, 240 }, { 320, 240, 321, 239 }, { 9, 1, 3, 7 },
};

static void resize_isa_case(const struct fr_image *src, int w, int h, int method, int isa0) {
    struct fr_image ref, got;
    fr_cpu_set_isa(FR_ISA_REF);
    assert_int_equal(fr_image_resize(src, w, h, method, &ref), 0);
    for (size_t k = 0; k < sizeof isas / sizeof *isas; k++) {
        fr_cpu_set_isa(isas[k]);
        assert_int_equal(fr_image_resize(src, w, h, method, &got), 0);
        if (memcmp(ref.data, got.data, (size_t)w * (size_t)h * (size_t)src->channels))
            fail_msg("resize %dx%dx%d -> %dx%d (method %d) differs on %s", src->w, src->h,
                     src->channels, w, h, method, fr_isa_name(fr_cpu_isa()));
        fr_image_free(&got);
    }
    fr_image_free(&ref);
    fr_cpu_set_isa(isa0);
}

static void test_isa_resize_equal(void **state) {
    (void)state;
    int isa0 = fr_cpu_isa();
    size_t before = fr_mem_used();
    for (size_t i = 0; i < sizeof rs_sizes / sizeof *rs_sizes; i++)
        for (int cn = 1; cn <= 3; cn += 2) {
            struct fr_image src;
            make(&src, rs_sizes[i][0], rs_sizes[i][1], cn);
            fill_random(&src);
            resize_isa_case(&src, rs_sizes[i][2], rs_sizes[i][3], FR_RESIZE_BILINEAR, isa0);
            /* AREA takes the bilinear code when both axes enlarge */
            resize_isa_case(&src, rs_sizes[i][2], rs_sizes[i][3], FR_RESIZE_AREA, isa0);
            /* extremes: all 0 and all 255 */
            memset(src.data, 255, (size_t)src.w * (size_t)src.h * (size_t)cn);
            resize_isa_case(&src, rs_sizes[i][2], rs_sizes[i][3], FR_RESIZE_BILINEAR, isa0);
            fr_image_free(&src);
        }
    /* random sizes */
    for (int t = 0; t < 60; t++) {
        struct fr_image src;
        int cn = t & 1 ? 3 : 1;
        make(&src, 1 + rnd8() % 90, 1 + rnd8() % 90, cn);
        fill_random(&src);
        resize_isa_case(&src, 1 + rnd8() % 130, 1 + rnd8() % 130, FR_RESIZE_BILINEAR, isa0);
        fr_image_free(&src);
    }
    assert_int_equal(fr_mem_used(), before);
}

static void test_isa_resize_to_chw_equal(void **state) {
    (void)state;
    int isa0 = fr_cpu_isa();
    size_t before = fr_mem_used();
    static const float mean[3] = { 127.0f, 117.5f, 104.0f };
    static const float scale[3] = { 1.0f / 128, 0.017f, 1.0f / 3 };
    for (size_t i = 0; i < sizeof rs_sizes / sizeof *rs_sizes; i++)
        for (int cn = 1; cn <= 3; cn += 2)
            for (int variant = 0; variant < 3; variant++) {
                int w = rs_sizes[i][2], h = rs_sizes[i][3], bgr = variant == 1;
                const float *mp = variant == 2 ? NULL : mean, *sp = variant == 2 ? NULL : scale;
                size_t n = (size_t)w * (size_t)h * (size_t)cn;
                struct fr_image src, small;
                make(&src, rs_sizes[i][0], rs_sizes[i][1], cn);
                fill_random(&src);
                /* room for the output and for the same-size case below */
                size_t nmax = (size_t)src.w * (size_t)src.h * (size_t)cn;
                if (nmax < n) nmax = n;
                float *ref = fr_malloc(nmax * sizeof *ref), *got = fr_malloc(nmax * sizeof *got);
                assert_non_null(ref);
                assert_non_null(got);
                fr_cpu_set_isa(FR_ISA_REF);
                assert_int_equal(fr_image_resize(&src, w, h, FR_RESIZE_BILINEAR, &small), 0);
                fr_image_to_chw(&small, mp, sp, bgr, ref);
                fr_image_free(&small);
                for (int k = -1; k < (int)(sizeof isas / sizeof *isas); k++) {
                    fr_cpu_set_isa(k < 0 ? FR_ISA_REF : isas[k]);
                    memset(got, 0xff, n * sizeof *got);
                    assert_int_equal(fr_image_resize_to_chw(&src, w, h, mp, sp, bgr, got), 0);
                    if (memcmp(ref, got, n * sizeof *got))
                        fail_msg("resize_to_chw %dx%dx%d -> %dx%d (variant %d) differs on %s",
                                 src.w, src.h, cn, w, h, variant, fr_isa_name(fr_cpu_isa()));
                }
                /* the same size is a plain to_chw */
                fr_cpu_set_isa(isa0);
                assert_int_equal(fr_image_resize_to_chw(&src, src.w, src.h, mp, sp, bgr, got), 0);
                fr_image_to_chw(&src, mp, sp, bgr, ref);
                size_t same = (size_t)src.w * (size_t)src.h * (size_t)cn;
                assert_memory_equal(ref, got, same * sizeof *got);
                fr_free(ref);
                fr_free(got);
                fr_image_free(&src);
            }
    fr_cpu_set_isa(isa0);
    struct fr_image src;
    make(&src, 4, 4, 3);
    float buf[48];
    const int E = -FR_E_INVALID_ARGUMENT;
    assert_int_equal(fr_image_resize_to_chw(NULL, 2, 2, NULL, NULL, 0, buf), E);
    assert_int_equal(fr_image_resize_to_chw(&src, 2, 2, NULL, NULL, 0, NULL), E);
    assert_int_equal(fr_image_resize_to_chw(&src, 0, 2, NULL, NULL, 0, buf), E);
    assert_int_equal(fr_image_resize_to_chw(&src, 2, 32769, NULL, NULL, 0, buf), E);
    fr_image_free(&src);
    assert_int_equal(fr_mem_used(), before);
}

/* A similarity transform output -> source: scale s (source px per output px),
 * angle a, output centre (cx, cy) mapped to source point (tx, ty). */
static void similarity(float s, float a, float cx, float cy, float tx, float ty, float m[6]) {
    m[0] = s * cosf(a);
    m[1] = -s * sinf(a);
    m[3] = s * sinf(a);
    m[4] = s * cosf(a);
    m[2] = tx - (m[0] * cx + m[1] * cy);
    m[5] = ty - (m[3] * cx + m[4] * cy);
}

static void warp_isa_case(const struct fr_image *src, const float m[6], int w, int h, int isa0) {
    struct fr_image ref, got;
    fr_cpu_set_isa(FR_ISA_REF);
    assert_int_equal(fr_image_warp_affine(src, m, w, h, &ref), 0);
    for (size_t k = 0; k < sizeof isas / sizeof *isas; k++) {
        fr_cpu_set_isa(isas[k]);
        assert_int_equal(fr_image_warp_affine(src, m, w, h, &got), 0);
        if (memcmp(ref.data, got.data, (size_t)w * (size_t)h * (size_t)src->channels))
            fail_msg("warp of %dx%dx%d to %dx%d by [%g %g %g; %g %g %g] differs on %s", src->w,
                     src->h, src->channels, w, h, (double)m[0], (double)m[1], (double)m[2],
                     (double)m[3], (double)m[4], (double)m[5], fr_isa_name(fr_cpu_isa()));
        fr_image_free(&got);
    }
    fr_image_free(&ref);
    fr_cpu_set_isa(isa0);
}

static void test_isa_warp_equal(void **state) {
    (void)state;
    int isa0 = fr_cpu_isa();
    size_t before = fr_mem_used();
    static const int src_sizes[][2] = { { 1, 1 }, { 2, 2 }, { 3, 5 }, { 17, 9 }, { 64, 64 },
                                        { 250, 250 }, { 251, 187 } };
    static const int out_sizes[][2] = { { 112, 112 }, { 1, 1 }, { 7, 3 }, { 9, 13 }, { 33, 17 } };
    for (size_t i = 0; i < sizeof src_sizes / sizeof *src_sizes; i++)
        for (int cn = 1; cn <= 3; cn += 2) {
            struct fr_image src;
            make(&src, src_sizes[i][0], src_sizes[i][1], cn);
            fill_random(&src);
            float sw = (float)src.w, sh = (float)src.h;
            for (size_t o = 0; o < sizeof out_sizes / sizeof *out_sizes; o++) {
                int w = out_sizes[o][0], h = out_sizes[o][1];
                float cx = (float)(w - 1) / 2, cy = (float)(h - 1) / 2, m[6];
                for (int t = 0; t < 12; t++) {
                    /* scales from 0.2 to 3 source px per output px, any angle,
                     * centres inside, near the edges and outside the image */
                    float s = 0.2f + (float)(rnd8() % 100) * 0.028f;
                    float a = (float)(rnd8() % 64) * 0.1f;
                    float tx = ((float)(rnd8() % 160) - 30.0f) / 100.0f * sw;
                    float ty = ((float)(rnd8() % 160) - 30.0f) / 100.0f * sh;
                    similarity(s, a, cx, cy, tx, ty, m);
                    warp_isa_case(&src, m, w, h, isa0);
                }
                /* identity, exact half pixels, a face-like alignment */
                similarity(1, 0, 0, 0, 0, 0, m);
                warp_isa_case(&src, m, w, h, isa0);
                similarity(1, 0, 0, 0, 0.5f, 0.5f, m);
                warp_isa_case(&src, m, w, h, isa0);
                similarity(sw / 112 * 0.6f, 0.2f, cx, cy, sw / 2, sh / 2, m);
                warp_isa_case(&src, m, w, h, isa0);
            }
            /* NaN and huge coefficients: all black */
            const float nan_m[6] = { NAN, 0, 0, 0, 1, 0 };
            const float huge[6] = { 1e30f, 0, 0, 0, 1e30f, -1e30f };
            warp_isa_case(&src, nan_m, 17, 5, isa0);
            warp_isa_case(&src, huge, 17, 5, isa0);
            fr_image_free(&src);
        }
    assert_int_equal(fr_mem_used(), before);
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
    case 8: {
        static float chw[3 * 13 * 11];
        memset(out, 0, sizeof *out);
        return fr_image_resize_to_chw(src, 13, 11, NULL, NULL, 1, chw);
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
    int isa0 = fr_cpu_isa();
    for (int op = 0; op < 18; op++) {
        /* each op on the portable and on the machine's own path */
        fr_cpu_set_isa(op < 9 ? FR_ISA_REF : isa0);
        int ok = 0;
        for (long n = 1; n < 50 && !ok; n++) {
            struct fr_image out;
            fr_alloc_fail_after(n);
            int rc = run_op(op % 9, &src, &out);
            fr_alloc_fail_after(0);
            assert_true(rc == 0 || rc == -FR_E_NOMEM);
            if (rc == 0) ok = 1;
            else assert_null(out.data);
            fr_image_free(&out);
            assert_int_equal(fr_mem_used(), before);
        }
        assert_true(ok);
    }
    fr_cpu_set_isa(isa0);
    fr_image_free(&src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_identity),
        cmocka_unit_test(test_resize_bilinear_gradient),
        cmocka_unit_test(test_resize_bilinear_shrink),
        cmocka_unit_test(test_resize_bilinear_random),
        cmocka_unit_test(test_resize_area),
        cmocka_unit_test(test_warp_identity_translate),
        cmocka_unit_test(test_warp_rotate90),
        cmocka_unit_test(test_crop),
        cmocka_unit_test(test_grey),
        cmocka_unit_test(test_laplacian_var),
        cmocka_unit_test(test_brightness),
        cmocka_unit_test(test_to_chw),
        cmocka_unit_test(test_isa_resize_equal),
        cmocka_unit_test(test_isa_resize_to_chw_equal),
        cmocka_unit_test(test_isa_warp_equal),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
