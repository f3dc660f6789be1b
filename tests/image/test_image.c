/* Image decoding (src/image) on the committed fixtures of
 * tests/fixtures/images/ (written by tools/make_image_fixtures.sh):
 *  - most fixtures are one 64x48 pattern (quadrants red, green / blue,
 *    white): lossless formats give it exactly, lossy ones within a tolerance;
 *  - the eight EXIF orientations, both byte orders, and a real camera file
 *    stored 80x60 with orientation 6 that must come out 60x80;
 *  - alpha is flattened onto white; a WebP named .jpg decodes by content;
 *  - truncated, corrupt, empty and random files are INVALID_FILE_FORMAT, and
 *    headers claiming huge sizes are FILE_TOO_LARGE before any pixel buffer;
 *  - allocation N fails for N = 1, 2, ...: NOMEM or success, never a leak;
 *  - the fuzz corpus replays (fuzz/corpus/image);
 *  - every file of ../shared/data/broken gives an error or the right image,
 *    and every image under ../shared/data/photos decodes (skipped when the
 *    folder is absent).
 * Runs from the repository root. */
#include "harness.h"

#include "facerec/image.h"

#include <dirent.h>
#include <turbojpeg.h>
#include <sys/stat.h>

#define FX "tests/fixtures/images/"
#define CORPUS_DIR "fuzz/corpus/image"
#define SHARED_DATA "../shared/data"

/* ---- helpers ---- */

/* The whole file, malloc'd (not fr_malloc: the decoder's accounting is checked). */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

static int decode_file(const char *path, const struct fr_image_limits *lim, struct fr_image *img) {
    size_t len = 0;
    uint8_t *b = slurp(path, &len);
    assert_non_null(b);
    int rc = fr_image_decode(b, len, lim, img);
    free(b);
    return rc;
}

static const uint8_t *px(const struct fr_image *img, int x, int y) {
    return img->data + ((size_t)y * (size_t)img->w + (size_t)x) * (size_t)img->channels;
}

static void expect_px(const struct fr_image *img, int x, int y, int r, int g, int b, int tol,
                      const char *what) {
    const uint8_t *p = px(img, x, y);
    if (abs(p[0] - r) > tol || abs(p[1] - g) > tol || abs(p[2] - b) > tol) {
        fprintf(stderr, "%s: pixel (%d,%d) = %d,%d,%d, expected %d,%d,%d +- %d\n", what, x, y, p[0],
                p[1], p[2], r, g, b, tol);
        fail();
    }
}

enum { RED, GREEN, BLUE, WHITE };
static const int colour[4][3] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 255 } };

/* The 64x48 pattern: quadrant centres. */
static void expect_pattern(const char *name, int tol) {
    char path[256];
    snprintf(path, sizeof path, FX "%s", name);
    size_t before = fr_mem_used();
    struct fr_image img;
    int rc = decode_file(path, NULL, &img);
    if (rc < 0) fprintf(stderr, "%s: %s (%s)\n", name, fr_err_name(rc), fr_err_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(img.w, 64);
    assert_int_equal(img.h, 48);
    assert_int_equal(img.channels, 3);
    const int cx[4] = { 16, 48, 16, 48 }, cy[4] = { 12, 12, 36, 36 };
    for (int q = 0; q < 4; q++) expect_px(&img, cx[q], cy[q], colour[q][0], colour[q][1], colour[q][2], tol, name);
    fr_image_free(&img);
    assert_null(img.data);
    assert_int_equal(fr_mem_used(), before);
}

/* ---- tests ---- */

static void test_sniff(void **state) {
    (void)state;
    assert_int_equal(fr_image_format_sniff("\xff\xd8\xff\xe0", 4), FR_IMAGE_FORMAT_JPEG);
    assert_int_equal(fr_image_format_sniff("\x89PNG\r\n\x1a\n", 8), FR_IMAGE_FORMAT_PNG);
    assert_int_equal(fr_image_format_sniff("RIFF\0\0\0\0WEBP", 12), FR_IMAGE_FORMAT_WEBP);
    assert_int_equal(fr_image_format_sniff("RIFF\0\0\0\0WAVE", 12), FR_IMAGE_FORMAT_UNKNOWN);
    assert_int_equal(fr_image_format_sniff("GIF89a", 6), FR_IMAGE_FORMAT_GIF);
    assert_int_equal(fr_image_format_sniff("MM\0*", 4), FR_IMAGE_FORMAT_TIFF);
    assert_int_equal(fr_image_format_sniff("BM", 2), FR_IMAGE_FORMAT_UNKNOWN);
    assert_int_equal(fr_image_format_sniff("\xff\xd8", 2), FR_IMAGE_FORMAT_UNKNOWN);
    assert_int_equal(fr_image_format_sniff(NULL, 0), FR_IMAGE_FORMAT_UNKNOWN);
    assert_string_equal(fr_image_format_name(FR_IMAGE_FORMAT_WEBP), "webp");
    assert_string_equal(fr_image_format_name(99), "unknown");
}

static void test_lossless_formats(void **state) {
    (void)state;
    static const char *const files[] = { "rgb.png",      "interlaced.png", "palette.png",
                                         "rgb16.png",    "lossless.webp",  "pattern.gif",
                                         "interlaced.gif", "rgb24.bmp",    "palette8.bmp",
                                         "lzw.tiff" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) expect_pattern(files[i], 0);
}

static void test_jpeg_variants(void **state) {
    (void)state;
    expect_pattern("baseline.jpg", 8);
    expect_pattern("progressive.jpg", 16);
    expect_pattern("cmyk.jpg", 24);
    expect_pattern("exif1.jpg", 16);
    /* greyscale JPEG and PNGs: expanded to R = G = B, white stays white */
    static const char *const grey[] = { "grey.jpg", "grey.png", "grey16.png" };
    for (size_t i = 0; i < sizeof grey / sizeof *grey; i++) {
        char path[256];
        snprintf(path, sizeof path, FX "%s", grey[i]);
        struct fr_image img;
        assert_int_equal(decode_file(path, NULL, &img), 0);
        assert_int_equal(img.w, 64);
        assert_int_equal(img.h, 48);
        for (int y = 0; y < img.h; y += 7)
            for (int x = 0; x < img.w; x += 7) {
                const uint8_t *p = px(&img, x, y);
                assert_int_equal(p[0], p[1]);
                assert_int_equal(p[1], p[2]);
            }
        expect_px(&img, 48, 36, 255, 255, 255, 4, grey[i]);
        const uint8_t *red = px(&img, 16, 12), *green = px(&img, 48, 12);
        assert_true(red[0] > 30 && red[0] < 100);      /* luma of red: 54 (709) .. 76 (601) */
        assert_true(green[0] > red[0]);
        fr_image_free(&img);
    }
}

static void test_alpha_flattened_onto_white(void **state) {
    (void)state;
    /* 48x16: opaque red | transparent | black at alpha 0.5 */
    static const char *const files[] = { "alpha.png", "alpha16.png", "alpha.webp", "alpha32.bmp" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[256];
        snprintf(path, sizeof path, FX "%s", files[i]);
        struct fr_image img;
        int rc = decode_file(path, NULL, &img);
        if (rc < 0) fprintf(stderr, "%s: %s\n", files[i], fr_err_detail());
        assert_int_equal(rc, 0);
        assert_int_equal(img.w, 48);
        assert_int_equal(img.h, 16);
        expect_px(&img, 8, 8, 255, 0, 0, 0, files[i]);
        expect_px(&img, 24, 8, 255, 255, 255, 0, files[i]);
        expect_px(&img, 40, 8, 128, 128, 128, 2, files[i]);
        fr_image_free(&img);
    }
}

static void test_exif_orientation(void **state) {
    (void)state;
    /* colours of the top-left and top-right corners of the upright image */
    static const int tl[9] = { 0, RED, GREEN, WHITE, BLUE, RED, BLUE, WHITE, GREEN };
    static const int tr[9] = { 0, GREEN, RED, BLUE, WHITE, BLUE, RED, GREEN, WHITE };
    for (int o = 1; o <= 8; o++) {
        char path[256];
        snprintf(path, sizeof path, FX "exif%d.jpg", o);
        struct fr_image img;
        assert_int_equal(decode_file(path, NULL, &img), 0);
        assert_int_equal(img.w, o >= 5 ? 48 : 64);
        assert_int_equal(img.h, o >= 5 ? 64 : 48);
        expect_px(&img, 4, 4, colour[tl[o]][0], colour[tl[o]][1], colour[tl[o]][2], 24, path);
        expect_px(&img, img.w - 5, 4, colour[tr[o]][0], colour[tr[o]][1], colour[tr[o]][2], 24, path);
        fr_image_free(&img);
    }
    /* PNG eXIf and WebP EXIF chunks (tools/make_image_fixtures.sh): 6 and 8 */
    static const char *const other[2] = { FX "exif6.png", FX "exif8.webp" };
    static const int oo[2] = { 6, 8 };
    for (int i = 0; i < 2; i++) {
        struct fr_image im;
        int o = oo[i];
        assert_int_equal(decode_file(other[i], NULL, &im), 0);
        assert_int_equal(im.w, 48);
        assert_int_equal(im.h, 64);
        expect_px(&im, 4, 4, colour[tl[o]][0], colour[tl[o]][1], colour[tl[o]][2], 2, other[i]);
        expect_px(&im, im.w - 5, 4, colour[tr[o]][0], colour[tr[o]][1], colour[tr[o]][2], 2, other[i]);
        fr_image_free(&im);
    }
    /* a camera file (Silent-Face image_T1): stored 80x60, orientation 6 -> portrait */
    struct fr_image img;
    assert_int_equal(decode_file(FX "antispoof_exif6.jpg", NULL, &img), 0);
    assert_int_equal(img.w, 60);
    assert_int_equal(img.h, 80);
    fr_image_free(&img);
}

/* A large JPEG decoded at a reduced DCT scale: the right size, the full size
 * reported (upright), the same picture; other formats and small JPEGs at
 * full size. */
static void test_decode_reduced(void **state) {
    (void)state;
    const int W = 2000, H = 1500;
    uint8_t *rgb = malloc((size_t)W * H * 3);
    assert_non_null(rgb);
    for (int y = 0; y < H; y++)                 /* smooth: a horizontal and a vertical ramp */
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + ((size_t)y * W + x) * 3;
            p[0] = (uint8_t)(x * 255 / (W - 1));
            p[1] = (uint8_t)(y * 255 / (H - 1));
            p[2] = 128;
        }
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long jlen = 0;
    assert_int_equal(tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpg, &jlen, TJSAMP_420, 90, 0), 0);
    struct { int min_short, w, h; } cases[] = {
        { 0, 2000, 1500 }, { 1500, 2000, 1500 }, { 1000, 2000, 1500 }, { 750, 1000, 750 },
        { 400, 1000, 750 }, { 375, 500, 375 }, { 100, 250, 188 }, { 1, 250, 188 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fr_image img;
        int fw = 0, fh = 0;
        assert_int_equal(fr_image_decode_reduced(jpg, jlen, NULL, cases[i].min_short, &img, &fw, &fh), 0);
        assert_int_equal(img.w, cases[i].w);
        assert_int_equal(img.h, cases[i].h);
        assert_int_equal(fw, W);
        assert_int_equal(fh, H);
        /* the same picture: the ramps at a few points, within JPEG's error */
        for (int k = 1; k < 4; k++) {
            int x = img.w * k / 4, y = img.h * k / 4;
            const uint8_t *p = img.data + ((size_t)y * img.w + x) * 3;
            int ex = (int)((double)x / img.w * 255), ey = (int)((double)y / img.h * 255);
            assert_true(abs(p[0] - ex) <= 6 && abs(p[1] - ey) <= 6 && abs(p[2] - 128) <= 6);
        }
        fr_image_free(&img);
    }
    tjFree(jpg);
    tjDestroy(tj);
    free(rgb);
    /* a small JPEG and a PNG: full size, and the full size reported */
    static const char *const small[2] = { FX "exif6.jpg", FX "rgb.png" };
    static const int sw[2] = { 48, 64 }, sh[2] = { 64, 48 };
    for (int i = 0; i < 2; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(fr_file_read(small[i], 1 << 20, &buf, &len), 0);
        struct fr_image img;
        int fw = 0, fh = 0;
        assert_int_equal(fr_image_decode_reduced(buf, len, NULL, 100, &img, &fw, &fh), 0);
        assert_int_equal(img.w, sw[i]);
        assert_int_equal(img.h, sh[i]);
        assert_int_equal(fw, sw[i]);
        assert_int_equal(fh, sh[i]);
        fr_image_free(&img);
        fr_free(buf);
    }
}

static void test_decode_by_content(void **state) {
    (void)state;
    size_t len = 0;
    uint8_t *b = slurp(FX "webp_named.jpg", &len);
    assert_non_null(b);
    assert_int_equal(fr_image_format_sniff(b, len), FR_IMAGE_FORMAT_WEBP);
    struct fr_image img;
    assert_int_equal(fr_image_decode(b, len, NULL, &img), 0);
    assert_int_equal(img.w, 100);
    assert_int_equal(img.h, 100);
    fr_image_free(&img);
    free(b);
}

static void test_bad_files(void **state) {
    (void)state;
    /* claims_7000x7000.jpg: a JPEG whose header says 7000x7000 in 631 bytes */
    static const char *const files[] = { "truncated.jpg", "corrupted.png", "empty.jpg", "random.bin",
                                         "claims_7000x7000.jpg" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[256];
        snprintf(path, sizeof path, FX "%s", files[i]);
        size_t before = fr_mem_used();
        struct fr_image img;
        fr_err_clear();
        int rc = decode_file(path, NULL, &img);
        printf("%-16s %s: %s\n", files[i], fr_err_name(rc), fr_err_detail());
        assert_int_equal(rc, -FR_E_INVALID_FILE_FORMAT);
        assert_int_equal(fr_err_http_status(FR_E_INVALID_FILE_FORMAT), 400);
        assert_true(strlen(fr_err_detail()) > 0);
        assert_null(img.data);
        assert_int_equal(img.w, 0);
        assert_int_equal(fr_mem_used(), before);
        fr_image_free(&img);
    }
    struct fr_image img;
    assert_int_equal(fr_image_decode(NULL, 0, NULL, &img), -FR_E_INVALID_FILE_FORMAT);
}

static void test_bombs_refused_from_the_header(void **state) {
    (void)state;
    static const char *const files[] = { "bomb.png", "bomb.gif", "bomb.bmp", "bomb.jpg", "bomb.webp",
                                         "bomb.tiff" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[256];
        snprintf(path, sizeof path, FX "%s", files[i]);
        size_t before = fr_mem_used();
        struct fr_image img;
        double t0 = fr_time_ms();
        int rc = decode_file(path, NULL, &img);
        double ms = fr_time_ms() - t0;
        printf("%-10s %s in %.2f ms: %s\n", files[i], fr_err_name(rc), ms, fr_err_detail());
        /* a pixel buffer of that size would have failed as NOMEM (or taken seconds) */
        assert_int_equal(rc, -FR_E_FILE_TOO_LARGE);
        assert_true(ms < 500.0);
        assert_null(img.data);
        assert_int_equal(fr_mem_used(), before);
    }
}

static void test_limits(void **state) {
    (void)state;
    struct fr_image img;
    struct fr_image_limits lim = { 0, 64 * 48 - 1 };
    assert_int_equal(decode_file(FX "rgb.png", &lim, &img), -FR_E_FILE_TOO_LARGE);
    assert_int_equal(decode_file(FX "baseline.jpg", &lim, &img), -FR_E_FILE_TOO_LARGE);
    /* the limit applies to the stored size, before rotation */
    assert_int_equal(decode_file(FX "exif6.jpg", &lim, &img), -FR_E_FILE_TOO_LARGE);
    lim.max_pixels = 64 * 48;
    assert_int_equal(decode_file(FX "rgb.png", &lim, &img), 0);
    fr_image_free(&img);
    lim.max_bytes = 100;
    assert_int_equal(decode_file(FX "rgb.png", &lim, &img), -FR_E_FILE_TOO_LARGE);
    assert_non_null(strstr(fr_err_detail(), "bytes"));
    fr_image_free(NULL);
}

static void test_alloc_failure(void **state) {
    (void)state;
    static const char *const files[] = { "rgb.png", "alpha16.png", "baseline.jpg", "exif6.jpg", "cmyk.jpg",
                                         "lossless.webp", "alpha.webp", "pattern.gif", "rgb24.bmp",
                                         "lzw.tiff" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[256];
        snprintf(path, sizeof path, FX "%s", files[i]);
        size_t len = 0;
        uint8_t *b = slurp(path, &len);
        assert_non_null(b);
        size_t before = fr_mem_used();
        int ok = 0;
        for (long n = 1; n < 500 && !ok; n++) {
            struct fr_image img;
            fr_alloc_fail_after(n);
            int rc = fr_image_decode(b, len, NULL, &img);
            fr_alloc_fail_after(0);
            if (rc != 0 && rc != -FR_E_NOMEM)
                fprintf(stderr, "%s, allocation %ld failing: %s (%s)\n", files[i], n, fr_err_name(rc),
                        fr_err_detail());
            assert_true(rc == 0 || rc == -FR_E_NOMEM);
            if (rc == 0) {
                ok = 1;
                assert_int_equal(img.w * img.h > 0, 1);
            } else {
                assert_null(img.data);
            }
            fr_image_free(&img);
            assert_int_equal(fr_mem_used(), before);
        }
        assert_true(ok);
        free(b);
    }
}

/* ---- directories ---- */

typedef void (*file_fn)(const char *path, void *arg);

/* Calls fn on every regular file under dir (recursively), in sorted order per
 * folder; returns 0 when dir cannot be opened. */
static int walk(const char *dir, file_fn fn, void *arg) {
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char path[1024];
            int pn = snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
            struct stat st;
            if (pn > 0 && (size_t)pn < sizeof path && stat(path, &st) == 0) {
                if (S_ISDIR(st.st_mode)) walk(path, fn, arg);
                else if (S_ISREG(st.st_mode)) fn(path, arg);
            }
        }
        free(ents[i]);
    }
    free(ents);
    return 1;
}

struct tally {
    int files, decoded;
};

/* The limits of fuzz/fuzz_image.c. */
static const struct fr_image_limits fuzz_limits = { (size_t)1 << 20, (int64_t)4 << 20 };

static void replay_one(const char *path, void *arg) {
    struct tally *t = arg;
    size_t before = fr_mem_used();
    struct fr_image img;
    int rc = decode_file(path, &fuzz_limits, &img);
    if (rc != 0 && rc != -FR_E_INVALID_FILE_FORMAT && rc != -FR_E_FILE_TOO_LARGE) {
        fprintf(stderr, "%s: unexpected %s (%s)\n", path, fr_err_name(rc), fr_err_detail());
        fail();
    }
    if (rc == 0) {
        assert_true(img.w > 0 && img.h > 0 && (int64_t)img.w * img.h <= fuzz_limits.max_pixels);
        volatile uint8_t sink = img.data[(size_t)img.w * (size_t)img.h * 3 - 1];
        (void)sink;
        t->decoded++;
    }
    fr_image_free(&img);
    assert_int_equal(fr_mem_used(), before);
    t->files++;
}

static void test_fuzz_corpus_replay(void **state) {
    (void)state;
    struct tally t = { 0, 0 };
    assert_true(walk(CORPUS_DIR, replay_one, &t));
    printf("%s: %d files, %d decoded\n", CORPUS_DIR, t.files, t.decoded);
    assert_true(t.files >= 20);
    assert_true(t.decoded >= 10);
}

/* Mean absolute difference of two images of the same size. */
static double mad(const struct fr_image *a, const struct fr_image *b) {
    size_t n = (size_t)a->w * (size_t)a->h * 3;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += abs(a->data[i] - b->data[i]);
    return s / (double)n;
}

static void broken_one(const char *path, void *arg) {
    const struct fr_image *ref = arg;
    struct fr_image img;
    int rc = decode_file(path, NULL, &img);
    printf("%-60s %s %dx%d %s\n", path, rc ? fr_err_name(rc) : "OK", img.w, img.h, rc ? fr_err_detail() : "");
    assert_true(rc == 0 || rc == -FR_E_INVALID_FILE_FORMAT);
    /* the einstein.* files are one portrait in six formats: each decodes to it */
    if (strstr(path, "/einstein.") && !strstr(path, ".ico")) {
        assert_int_equal(rc, 0);
        assert_int_equal(img.w, ref->w);
        assert_int_equal(img.h, ref->h);
        double d = mad(&img, ref);
        printf("    mean abs difference to einstein.png: %.2f\n", d);
        assert_true(d < 6.0);
    }
    fr_image_free(&img);
}

static void test_shared_broken(void **state) {
    (void)state;
    const char *dir = SHARED_DATA "/broken/compreface_imgtools";
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "%s absent: skipped\n", dir);
        skip();
    }
    struct fr_image ref;
    assert_int_equal(decode_file(SHARED_DATA "/broken/compreface_imgtools/einstein.png", NULL, &ref), 0);
    size_t before = fr_mem_used();
    assert_true(walk(dir, broken_one, &ref));
    assert_int_equal(fr_mem_used(), before);
    fr_image_free(&ref);
}

static void photo_one(const char *path, void *arg) {
    struct tally *t = arg;
    const char *dot = strrchr(path, '.');
    if (!dot || !(strcmp(dot, ".jpg") == 0 || strcmp(dot, ".jpeg") == 0 || strcmp(dot, ".png") == 0 ||
                  strcmp(dot, ".webp") == 0))
        return;   /* the face-api.js video and the like */
    struct fr_image img;
    int rc = decode_file(path, NULL, &img);
    if (rc < 0) fprintf(stderr, "%s: %s (%s)\n", path, fr_err_name(rc), fr_err_detail());
    assert_int_equal(rc, 0);
    assert_true(img.w >= 64 && img.h >= 64);
    fr_image_free(&img);
    t->files++;
}

static void test_shared_photos(void **state) {
    (void)state;
    const char *dir = SHARED_DATA "/photos";
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "%s absent: skipped\n", dir);
        skip();
    }
    struct tally t = { 0, 0 };
    size_t before = fr_mem_used();
    double t0 = fr_time_ms();
    walk(dir, photo_one, &t);
    printf("%s: %d images decoded in %.0f ms\n", dir, t.files, fr_time_ms() - t0);
    assert_true(t.files > 100);
    assert_int_equal(fr_mem_used(), before);
    /* the Silent-Face images are stored 640x480 with orientation 6 */
    static const char *const spoof[] = { "image_F1.jpg", "image_F2.jpg", "image_T1.jpg" };
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, SHARED_DATA "/antispoof/silent-face/%s", spoof[i]);
        if (stat(path, &st) != 0) continue;
        struct fr_image img;
        assert_int_equal(decode_file(path, NULL, &img), 0);
        assert_int_equal(img.w, 480);
        assert_int_equal(img.h, 640);
        fr_image_free(&img);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_lossless_formats),
        cmocka_unit_test(test_jpeg_variants),
        cmocka_unit_test(test_alpha_flattened_onto_white),
        cmocka_unit_test(test_exif_orientation),
        cmocka_unit_test(test_decode_reduced),
        cmocka_unit_test(test_decode_by_content),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bombs_refused_from_the_header),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_fuzz_corpus_replay),
        cmocka_unit_test(test_shared_broken),
        cmocka_unit_test(test_shared_photos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
