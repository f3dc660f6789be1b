/* Age, gender, expression and eyes (src/face/attributes.c) on a committed
 * LFW photo: Aaron_Peirsol_0001 (a young man, smiling, eyes open) measured
 * age 31.2, gender_male 0.962, expression happy 0.99, eyes open > 0.99.
 * Skipped when the models are missing. */
#include "harness.h"

#include "facerec/face.h"

static struct fr_face_models *models;
static struct fr_face_attr_models *attr;

static void test_names(void **state) {
    (void)state;
    assert_string_equal(fr_face_expression_name(3), "happy");
    assert_string_equal(fr_face_expression_name(6), "neutral");
    assert_string_equal(fr_face_expression_name(7), "unknown");
    assert_string_equal(fr_face_expression_name(-1), "unknown");
}

static void test_attributes(void **state) {
    (void)state;
    char mp[512];
    static const char *const need[] = { "fr_feature", "fr_age", "fr_gender", "fr_expression", "fr_eye" };
    for (int i = 0; i < 5; i++)
        if (!fr_test_model_path(need[i], mp, sizeof mp)) skip();
    assert_int_equal(fr_face_models_load(fr_test_models_dir(), &models), 0);
    assert_int_equal(fr_face_attr_load(fr_test_models_dir(), &attr), 0);
    struct fr_face_ctx *c;
    struct fr_face_attr_ctx *ac;
    assert_int_equal(fr_face_ctx_new(models, &c), 0);
    assert_int_equal(fr_face_attr_ctx_new(attr, &ac), 0);

    uint8_t *buf;
    size_t len;
    struct fr_image img = { 0 };
    assert_int_equal(fr_file_read("tests/fixtures/faces/Aaron_Peirsol_0001.jpg", 1 << 20, &buf, &len), 0);
    assert_int_equal(fr_image_decode(buf, len, NULL, &img), 0);
    fr_free(buf);
    struct fr_face *f;
    int n;
    assert_int_equal(fr_face_analyze(c, &img, NULL, FR_FACE_LARGEST, &f, &n), 0);
    assert_int_equal(n, 1);

    struct fr_face_attributes a;
    assert_int_equal(fr_face_attributes(ac, &img, &f[0], &a), 0);
    printf("age %.1f male %.3f expression %s (%d, %.3f) eyes %.3f %.3f\n", (double)a.age, (double)a.gender_male,
           a.expression_name, a.expression, (double)a.expression_prob, (double)a.left_eye_open,
           (double)a.right_eye_open);
    assert_true(a.age >= 15.0f && a.age <= 45.0f);
    assert_true(a.gender_male > 0.5f && a.gender_male <= 1.0f);
    assert_non_null(a.expression_name);
    assert_true(a.expression >= 0 && a.expression < 7);
    assert_string_equal(a.expression_name, fr_face_expression_name(a.expression));
    assert_true(a.expression_prob >= 0.0f && a.expression_prob <= 1.0f);
    assert_true(a.left_eye_open > 0.5f && a.left_eye_open <= 1.0f);
    assert_true(a.right_eye_open > 0.5f && a.right_eye_open <= 1.0f);

    /* a face without landmarks is refused */
    struct fr_face g = f[0];
    g.has_landmarks = 0;
    assert_true(fr_face_attributes(ac, &img, &g, &a) < 0);

    fr_free(f);
    fr_image_free(&img);
    fr_face_attr_ctx_free(ac);
    fr_face_ctx_free(c);
}

static int teardown(void **state) {
    (void)state;
    fr_face_attr_free(attr);
    fr_face_models_free(models);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
