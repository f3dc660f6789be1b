/* Liveness, head pose and quality (src/face/quality.c) on committed photos:
 * silent-face's live (T1), printed-photo (F1) and screen-replay (F2) samples
 * (re-encoded at quality 80, EXIF orientation applied) decided right at
 * FR_LIVENESS_THRESHOLD; a frontal LFW face has a small yaw and no
 * SMALL_FACE / LOW_CONFIDENCE; the same face blurred (down to 20x20 and back)
 * is LOW_SHARPNESS. Skipped when the models are missing. */
#include "harness.h"

#include "facerec/face.h"

#include <math.h>

static struct fr_face_models *models;
static struct fr_face_extra *extra;

static void test_reason_names(void **state) {
    (void)state;
    assert_string_equal(fr_face_quality_reason_name(FR_Q_LOW_SHARPNESS), "LOW_SHARPNESS");
    assert_string_equal(fr_face_quality_reason_name(FR_Q_SMALL_FACE), "SMALL_FACE");
    assert_string_equal(fr_face_quality_reason_name(FR_Q_EXTREME_POSE), "EXTREME_POSE");
    assert_string_equal(fr_face_quality_reason_name(FR_Q_LOW_BRIGHTNESS), "LOW_BRIGHTNESS");
    assert_string_equal(fr_face_quality_reason_name(FR_Q_LOW_CONFIDENCE), "LOW_CONFIDENCE");
    assert_string_equal(fr_face_quality_reason_name(0), "UNKNOWN");
}

static int setup_models(struct fr_face_ctx **c, struct fr_face_extra_ctx **x) {
    char mp[512];
    if (!fr_test_model_path("fr_feature", mp, sizeof mp) || !fr_test_model_path("fr_liveness", mp, sizeof mp) ||
        !fr_test_model_path("fr_pose", mp, sizeof mp))
        return 0;
    if (!models) assert_int_equal(fr_face_models_load(fr_test_models_dir(), &models), 0);
    if (!extra) assert_int_equal(fr_face_extra_load(fr_test_models_dir(), &extra), 0);
    assert_int_equal(fr_face_ctx_new(models, c), 0);
    assert_int_equal(fr_face_extra_ctx_new(extra, x), 0);
    return 1;
}

/* The largest face of a fixture, with landmarks; img is kept for the caller. */
static void load_face(struct fr_face_ctx *c, const char *name, struct fr_image *img, struct fr_face *face) {
    char path[256];
    uint8_t *buf;
    size_t len;
    snprintf(path, sizeof path, "tests/fixtures/faces/%s", name);
    assert_int_equal(fr_file_read(path, 1 << 20, &buf, &len), 0);
    assert_int_equal(fr_image_decode(buf, len, NULL, img), 0);
    fr_free(buf);
    struct fr_face *f;
    int n;
    assert_int_equal(fr_face_analyze(c, img, NULL, FR_FACE_LARGEST, &f, &n), 0);
    assert_int_equal(n, 1);
    *face = f[0];
    fr_free(f);
}

static void test_liveness(void **state) {
    (void)state;
    struct fr_face_ctx *c;
    struct fr_face_extra_ctx *x;
    if (!setup_models(&c, &x)) skip();
    static const char *const names[3] = { "antispoof_T1.jpg", "antispoof_F1.jpg", "antispoof_F2.jpg" };
    for (int i = 0; i < 3; i++) {
        struct fr_image img = { 0 };
        struct fr_face f;
        load_face(c, names[i], &img, &f);
        assert_int_equal(img.w, 480);
        assert_int_equal(img.h, 640);
        float p = -1;
        assert_int_equal(fr_face_liveness(x, &img, &f, &p), 0);
        printf("%s p_live %.4f\n", names[i], (double)p);
        assert_true(p >= 0.0f && p <= 1.0f);
        if (i == 0)
            assert_true(p >= FR_LIVENESS_THRESHOLD + 0.2f);
        else
            assert_true(p < FR_LIVENESS_THRESHOLD - 0.2f);
        fr_image_free(&img);
    }
    fr_face_extra_ctx_free(x);
    fr_face_ctx_free(c);
}

static void test_pose_quality(void **state) {
    (void)state;
    struct fr_face_ctx *c;
    struct fr_face_extra_ctx *x;
    if (!setup_models(&c, &x)) skip();
    struct fr_image img = { 0 };
    struct fr_face f;
    load_face(c, "Aaron_Peirsol_0001.jpg", &img, &f);
    float ypr[3];
    assert_int_equal(fr_face_pose(x, &img, &f, ypr), 0);
    printf("pose yaw %.2f pitch %.2f roll %.2f\n", (double)ypr[0], (double)ypr[1], (double)ypr[2]);
    assert_true(fabsf(ypr[0]) < 20.0f);
    assert_true(fabsf(ypr[1]) < 30.0f && fabsf(ypr[2]) < 30.0f);

    struct fr_face_quality q;
    assert_int_equal(fr_face_quality(x, &img, &f, NULL, &q), 0);
    printf("quality %.3f sharp %.1f bright %.1f eyes %.1f det %.3f reasons %u\n", (double)q.score,
           (double)q.sharpness, (double)q.brightness, (double)q.eye_dist_px, (double)q.det_score, q.reasons);
    assert_false(q.reasons & (FR_Q_SMALL_FACE | FR_Q_LOW_CONFIDENCE));
    assert_false(q.reasons & FR_Q_LOW_SHARPNESS);
    assert_true(q.score > 0.0f && q.score <= 1.0f);
    assert_true(q.yaw == ypr[0]);

    /* thresholds from the options: a huge eye-distance minimum flags SMALL_FACE */
    struct fr_face_quality_opts o = { 0 };
    o.min_eye_dist_px = 1000.0f;
    struct fr_face_quality q2;
    assert_int_equal(fr_face_quality(x, &img, &f, &o, &q2), 0);
    assert_true(q2.reasons & FR_Q_SMALL_FACE);
    assert_true(q2.score < q.score);

    /* blurred: down to 20x20 and back up; same landmarks */
    struct fr_image small = { 0 }, blur = { 0 };
    assert_int_equal(fr_image_resize(&img, 20, 20, FR_RESIZE_AREA, &small), 0);
    assert_int_equal(fr_image_resize(&small, img.w, img.h, FR_RESIZE_BILINEAR, &blur), 0);
    struct fr_face_quality qb;
    assert_int_equal(fr_face_quality(x, &blur, &f, NULL, &qb), 0);
    printf("blurred: quality %.3f sharp %.2f reasons %u\n", (double)qb.score, (double)qb.sharpness, qb.reasons);
    assert_true(qb.reasons & FR_Q_LOW_SHARPNESS);
    assert_true(qb.score < q.score);

    /* no landmarks: refused */
    struct fr_face nolm = f;
    nolm.has_landmarks = 0;
    assert_true(fr_face_quality(x, &img, &nolm, NULL, &q2) < 0);

    fr_image_free(&small);
    fr_image_free(&blur);
    fr_image_free(&img);
    fr_face_extra_ctx_free(x);
    fr_face_ctx_free(c);
}

static int teardown(void **state) {
    (void)state;
    fr_face_models_free(models);
    fr_face_extra_free(extra);
    models = NULL;
    extra = NULL;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_liveness),
        cmocka_unit_test(test_pose_quality),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
