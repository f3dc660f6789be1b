/* Face pipeline pieces with known answers: the least-squares similarity
 * transform, IoU, NMS; and the whole pipeline on committed photos (LFW
 * images and one photo of face_recognition's examples): one face found,
 * same/different person decided right at the default threshold, and the
 * embedding equal to the stored reference by cosine >= 0.999. The reference
 * (Aaron_Peirsol_0001.emb.npy) was written by this pipeline with
 * FR_WRITE_GOLDEN=1 at the LFW-evaluated version (docs/ACCURACY.md); it
 * guards against regressions, it is not an independent implementation. */
#include "harness.h"

#include "facerec/face.h"

#include <math.h>

static const float tmpl[10] = { 38.2946f, 51.6963f, 73.5318f, 51.5014f, 56.0252f,
                                71.7366f, 41.5493f, 92.3655f, 70.7299f, 92.2041f };

static void apply(const float t[4], float x, float y, float *ox, float *oy) {
    *ox = t[0] * x - t[1] * y + t[2];
    *oy = t[1] * x + t[0] * y + t[3];
}

/* Points made from the template by a known similarity map back exactly. */
static void test_similarity_known(void **state) {
    (void)state;
    const double angles[] = { 0.0, 0.3, -1.2, 3.0 }, scales[] = { 1.0, 2.5, 0.4 };
    for (size_t ai = 0; ai < 4; ai++)
        for (size_t si = 0; si < 3; si++) {
            double th = angles[ai], sc = scales[si], dx = 123.4, dy = -56.7;
            float pts[10], t[4];
            /* pts = inverse of (scale sc, rotation th, shift) applied to the template */
            for (int i = 0; i < 5; i++) {
                double x = tmpl[2 * i], y = tmpl[2 * i + 1];
                pts[2 * i] = (float)(sc * (cos(th) * x - sin(th) * y) + dx);
                pts[2 * i + 1] = (float)(sc * (sin(th) * x + cos(th) * y) + dy);
            }
            fr_face_similarity(pts, t);
            for (int i = 0; i < 5; i++) {
                float ox, oy;
                apply(t, pts[2 * i], pts[2 * i + 1], &ox, &oy);
                assert_true(fabsf(ox - tmpl[2 * i]) < 1e-3f);
                assert_true(fabsf(oy - tmpl[2 * i + 1]) < 1e-3f);
            }
            assert_true(fabs(sqrt((double)t[0] * (double)t[0] + (double)t[1] * (double)t[1]) - 1.0 / sc) < 1e-4);
        }
}

/* With noise, it is the least-squares fit: no nearby map does better. */
static void test_similarity_least_squares(void **state) {
    (void)state;
    float pts[10] = { 10, 20, 50, 22, 31, 45, 15, 60, 48, 61 }, t[4];
    fr_face_similarity(pts, t);
    double best = 0;
    for (int i = 0; i < 5; i++) {
        float ox, oy;
        apply(t, pts[2 * i], pts[2 * i + 1], &ox, &oy);
        best += (double)((ox - tmpl[2 * i]) * (ox - tmpl[2 * i]) + (oy - tmpl[2 * i + 1]) * (oy - tmpl[2 * i + 1]));
    }
    for (int k = 0; k < 4; k++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            float u[4] = { t[0], t[1], t[2], t[3] };
            u[k] += (float)sgn * (k < 2 ? 1e-3f : 1e-1f);
            double e = 0;
            for (int i = 0; i < 5; i++) {
                float ox, oy;
                apply(u, pts[2 * i], pts[2 * i + 1], &ox, &oy);
                e += (double)((ox - tmpl[2 * i]) * (ox - tmpl[2 * i]) + (oy - tmpl[2 * i + 1]) * (oy - tmpl[2 * i + 1]));
            }
            assert_true(e >= best - 1e-6);
        }
}

static void test_iou_nms(void **state) {
    (void)state;
    float a[4] = { 0, 0, 10, 10 }, b[4] = { 5, 0, 15, 10 }, c[4] = { 20, 20, 30, 30 };
    assert_true(fabsf(fr_face_iou(a, b) - 50.0f / 150.0f) < 1e-6f);
    assert_true(fr_face_iou(a, c) == 0.0f);
    assert_true(fr_face_iou(a, a) == 1.0f);
    /* sorted by score: a, b (overlaps a by 1/3), c, a copy of c */
    float boxes[16] = { 0, 0, 10, 10, 5, 0, 15, 10, 20, 20, 30, 30, 21, 21, 31, 31 };
    unsigned char keep[4];
    assert_int_equal(fr_face_nms(boxes, 4, 0.4f, keep), 3);
    assert_int_equal(keep[0], 1);
    assert_int_equal(keep[1], 1);      /* IoU 0.33 < 0.4 */
    assert_int_equal(keep[2], 1);
    assert_int_equal(keep[3], 0);      /* IoU 0.68 with c */
    assert_int_equal(fr_face_nms(boxes, 4, 0.3f, keep), 2);
}

/* ---- the whole pipeline on committed photos (needs the models) ---- */

static struct fr_face_models *models;

static int load_face(struct fr_face_ctx *c, const char *name, int select, struct fr_face **faces, int *n) {
    char path[256];
    uint8_t *buf;
    size_t len;
    struct fr_image img = { 0 };
    snprintf(path, sizeof path, "tests/fixtures/faces/%s", name);
    int rc = fr_file_read(path, 1 << 20, &buf, &len);
    if (rc == 0) {
        rc = fr_image_decode(buf, len, NULL, &img);
        fr_free(buf);
    }
    if (rc == 0) rc = fr_face_analyze(c, &img, NULL, select, faces, n);
    fr_image_free(&img);
    return rc;
}

static void test_pipeline(void **state) {
    (void)state;
    char mp[512];
    if (!fr_test_model_path("fr_feature", mp, sizeof mp)) skip();
    if (!models) assert_int_equal(fr_face_models_load(fr_test_models_dir(), &models), 0);
    struct fr_face_ctx *c;
    assert_int_equal(fr_face_ctx_new(models, &c), 0);
    struct fr_face *f[4];
    int n[4];
    assert_int_equal(load_face(c, "obama_small.jpg", FR_FACE_ALL, &f[0], &n[0]), 0);
    assert_int_equal(n[0], 1);
    assert_true(f[0][0].score > 0.9f);
    assert_int_equal(load_face(c, "Aaron_Peirsol_0001.jpg", FR_FACE_CENTRAL, &f[1], &n[1]), 0);
    assert_int_equal(load_face(c, "Aaron_Peirsol_0003.jpg", FR_FACE_CENTRAL, &f[2], &n[2]), 0);
    assert_int_equal(load_face(c, "AJ_Lamas_0001.jpg", FR_FACE_CENTRAL, &f[3], &n[3]), 0);
    assert_true(n[1] == 1 && n[2] == 1 && n[3] == 1);
    float same = fr_face_similarity_score(f[1][0].emb, f[2][0].emb);
    float diff = fr_face_similarity_score(f[1][0].emb, f[3][0].emb);
    printf("same person %.4f, different %.4f\n", (double)same, (double)diff);
    assert_true(same >= 0.28f);
    assert_true(diff < 0.28f);
    /* the embedding is unit length and equals the stored reference (cosine >= 0.999) */
    double nrm = 0;
    for (int i = 0; i < FR_FACE_EMB_DIM; i++) nrm += (double)f[1][0].emb[i] * (double)f[1][0].emb[i];
    assert_true(fabs(nrm - 1.0) < 1e-4);
    const char *golden = "tests/fixtures/faces/Aaron_Peirsol_0001.emb.npy";
    struct fr_tensor t = { .dtype = FR_DTYPE_FLOAT, .ndim = 1, .dims = { FR_FACE_EMB_DIM }, .data = f[1][0].emb };
    if (getenv("FR_WRITE_GOLDEN")) assert_int_equal(fr_npy_save(golden, &t), 0);
    struct fr_tensor g;
    assert_int_equal(fr_npy_load(golden, &g), 0);
    assert_int_equal(fr_tensor_numel(&g), FR_FACE_EMB_DIM);
    float cosv = fr_face_similarity_score(f[1][0].emb, g.data);
    printf("golden cosine %.6f\n", (double)cosv);
    assert_true(cosv >= 0.999f);
    fr_free(g.data);
    for (int i = 0; i < 4; i++) fr_free(f[i]);
    fr_face_ctx_free(c);
}

static int teardown(void **state) {
    (void)state;
    fr_face_models_free(models);
    models = NULL;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_similarity_known),
        cmocka_unit_test(test_similarity_least_squares),
        cmocka_unit_test(test_iou_nms),
        cmocka_unit_test(test_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
