/* The service after a model change: faces stored with their photos under an
 * older model id are embedded again by the current model and become
 * searchable; a photo without a face keeps its old row. */
#include "harness.h"

#include "facerec/keys.h"
#include "facerec/store.h"
#include "facerec/openset.h"
#include "service/service.h"

#include <stdlib.h>
#include <unistd.h>

static void test_reembed(void **state) {
    (void)state;
    char mp[512];
    if (!fr_test_model_path("fr_feature", mp, sizeof mp)) { skip(); return; }
    char dir[] = "/tmp/facerec-reembed-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t *photo = NULL, *noface = NULL;
    size_t len = 0, nlen = 0;
    assert_int_equal(fr_file_read("tests/fixtures/faces/Aaron_Peirsol_0001.jpg", 1 << 20, &photo, &len), 0);
    assert_int_equal(fr_file_read("tests/fixtures/images/baseline.jpg", 1 << 20, &noface, &nlen), 0);
    /* the old model's rows, written straight to the store */
    fr_store *st = NULL;
    char url[64];
    snprintf(url, sizeof url, "sqlite:%s", dir);
    assert_int_equal(fr_store_open(url, &st), 0);
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], hash[FR_KEY_HASH_LEN + 1];
    int64_t client, subject, f1, f2;
    assert_int_equal(fr_key_generate("frk", key), 0);
    fr_key_prefix(key, prefix);
    assert_int_equal(fr_key_hash(key, hash), 0);
    assert_int_equal(fr_store_client_create(st, "c", prefix, hash, 0, 0, &client), 0);
    assert_int_equal(fr_store_subject_create(st, client, "Aaron", NULL, NULL, &subject), 0);
    float emb[FR_FACE_EMB_DIM] = { 1.0f };
    struct fr_store_face_new nf = { .client_id = client, .subject_id = subject, .embedding = emb,
                                    .dim = FR_FACE_EMB_DIM, .model_id = "oldmodel", .quality = 0.9f,
                                    .liveness = -1.0f, .image = photo, .image_len = len };
    assert_int_equal(fr_store_face_add(st, &nf, &f1), 0);
    nf.image = noface;
    nf.image_len = nlen;
    assert_int_equal(fr_store_face_add(st, &nf, &f2), 0);
    fr_store_close(st);

    struct fr_svc_config cfg = { .data_dir = dir, .models_dir = fr_test_models_dir(), .max_upload_bytes = 1 << 24,
                                 .max_pixels = 50000000, .threads = 1, .match_threshold = 0.28f, .top_k = 5,
                                 .max_faces = 10 };
    struct fr_service *svc = NULL;
    assert_int_equal(fr_service_open(&cfg, &svc), 0);
    struct fr_svc_reembed_stats rs;
    assert_int_equal(fr_svc_reembed(svc, &rs), 0);
    assert_int_equal(rs.reembedded, 1);
    assert_int_equal(rs.failed, 1);
    /* a second run has nothing left that it can do */
    assert_int_equal(fr_svc_reembed(svc, &rs), 0);
    assert_int_equal(rs.reembedded, 0);
    struct fr_svc_face_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(fr_svc_face_list(svc, client, subject, &rows, &n), 0);
    assert_int_equal(n, 2);
    int current = 0;
    for (size_t i = 0; i < n; i++) current += !strcmp(rows[i].model_id, fr_svc_model_id(svc));
    assert_int_equal(current, 1);
    fr_svc_face_rows_free(rows, n);
    /* the same person's other photo finds the re-embedded face */
    uint8_t *probe = NULL;
    size_t plen = 0;
    assert_int_equal(fr_file_read("tests/fixtures/faces/Aaron_Peirsol_0003.jpg", 1 << 20, &probe, &plen), 0);
    struct fr_svc_identify_req r = { .client_id = client, .photo = { probe, plen }, .top_k = 1, .max_faces = 1,
                                     .threshold = -1 };
    struct fr_svc_timing t = { 0 };
    struct fr_svc_identify_result res;
    assert_int_equal(fr_svc_identify(svc, &r, &t, &res), 0);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.faces[0].decision, FR_DECISION_MATCH);
    assert_int_equal(res.faces[0].cands[res.faces[0].match].subject_id, subject);
    fr_svc_identify_result_free(&res);
    fr_free(probe);
    fr_service_close(svc);
    fr_free(photo);
    fr_free(noface);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_reembed) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
