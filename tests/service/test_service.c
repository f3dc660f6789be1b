/* The service's own contract, without HTTP: the first start's credentials,
 * API-key checks, the audit rows of every change, usage counts, and
 * identification on decoded frames (the camera sessions' entry point), and two
 * services on one database keeping their indexes in step (the change log). */
#include "harness.h"

#include "facerec/openset.h"
#include "service/service.h"

#include <stdlib.h>
#include <unistd.h>

static char g_dir[64];

static struct fr_service *open_svc(int parts) {
    struct fr_svc_config cfg = { .parts = parts, .data_dir = g_dir, .models_dir = fr_test_models_dir(),
                                 .max_upload_bytes = 1 << 24, .max_pixels = 50000000, .threads = 1,
                                 .match_threshold = 0.28f, .top_k = 5, .max_faces = 10,
                                 .default_rate_per_hour = 77, .default_rate_per_day = 0 };
    struct fr_service *s = NULL;
    assert_int_equal(fr_service_open(&cfg, &s), 0);
    return s;
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/facerec-svc-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The first start makes an admin token and a client, once; a token from the
 * configuration replaces the stored one. */
static void test_bootstrap(void **state) {
    (void)state;
    struct fr_service *s = open_svc(FR_SVC_STORE);
    struct fr_svc_bootstrap b;
    assert_int_equal(fr_svc_bootstrap(s, NULL, &b), 0);
    assert_int_equal(strlen(b.admin_token), FR_KEY_LEN);
    assert_true(b.first_client_id > 0);
    assert_int_equal(strncmp(b.first_api_key, "frk_", 4), 0);
    assert_int_equal(fr_svc_auth_admin(s, b.admin_token), 0);
    assert_int_equal(fr_svc_auth_admin(s, "fra_wrong"), -FR_E_UNAUTHORIZED);
    assert_int_equal(fr_svc_auth_admin(s, NULL), -FR_E_UNAUTHORIZED);
    struct fr_svc_client c;
    assert_int_equal(fr_svc_auth_client(s, b.first_api_key, &c), 0);
    assert_int_equal(c.id, b.first_client_id);
    assert_int_equal(c.rate_limit_per_hour, 77);      /* the configured default */
    fr_svc_client_free(&c);
    char token[FR_KEY_LEN + 1];
    memcpy(token, b.admin_token, sizeof token);
    fr_service_close(s);

    s = open_svc(FR_SVC_STORE);       /* a restart: nothing new is made, the token still works */
    assert_int_equal(fr_svc_bootstrap(s, NULL, &b), 0);
    assert_string_equal(b.admin_token, "");
    assert_int_equal(b.first_client_id, 0);
    assert_int_equal(fr_svc_auth_admin(s, token), 0);
    assert_int_equal(fr_svc_bootstrap(s, "configured-admin-token-0123456789", &b), 0);
    assert_int_equal(fr_svc_auth_admin(s, token), -FR_E_UNAUTHORIZED);
    assert_int_equal(fr_svc_auth_admin(s, "configured-admin-token-0123456789"), 0);
    fr_service_close(s);
}

/* Keys: a wrong one, a rotated-away one, a disabled client's are refused;
 * every change leaves an audit row naming who made it. */
static void test_clients_and_audit(void **state) {
    (void)state;
    struct fr_service *s = open_svc(FR_SVC_STORE);
    struct fr_svc_actor admin = { 0, NULL, "req-1" };
    struct fr_svc_client c, r;
    assert_int_equal(fr_svc_client_create(s, &admin, "acme \"quoted\"", 10, 100, &c), 0);
    char old[FR_KEY_LEN + 1];
    memcpy(old, c.api_key, sizeof old);
    assert_int_equal(fr_svc_client_rotate_key(s, &admin, c.id, &r), 0);
    assert_string_not_equal(r.api_key, old);
    struct fr_svc_client none;
    assert_int_equal(fr_svc_auth_client(s, old, &none), -FR_E_UNAUTHORIZED);
    struct fr_svc_client_update u = FR_SVC_CLIENT_UPDATE_KEEP;
    u.disabled = 1;
    struct fr_svc_client d;
    assert_int_equal(fr_svc_client_update(s, &admin, r.id, &u, &d), 0);
    assert_int_equal(d.disabled, 1);
    assert_int_equal(d.rate_limit_per_hour, 10);      /* kept */
    struct fr_svc_client x;
    assert_int_equal(fr_svc_auth_client(s, r.api_key, &x), -FR_E_UNAUTHORIZED);
    assert_int_equal(fr_svc_auth_client(s, "short", &x), -FR_E_UNAUTHORIZED);
    assert_int_equal(fr_svc_client_get(s, 999999, &x), -FR_E_NOT_FOUND);

    struct fr_svc_actor cli = { r.id, NULL, "req-2" };
    struct fr_svc_subject_fields f = { "Ada", "emp-1", "{\"team\":1}" };
    struct fr_svc_subject subj;
    assert_int_equal(fr_svc_subject_create(s, &cli, &f, &subj), 0);
    struct fr_svc_subject dup;
    assert_int_equal(fr_svc_subject_create(s, &cli, &f, &dup), -FR_E_CONFLICT);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "external_id");
    assert_int_equal(fr_svc_subject_delete(s, &cli, subj.id), 0);
    assert_int_equal(fr_svc_subject_delete(s, &cli, subj.id), -FR_E_SUBJECT_NOT_FOUND);
    fr_svc_subject_free(&subj);

    struct fr_svc_audit *a = NULL;
    size_t n = 0;
    int64_t next = 0;
    assert_int_equal(fr_svc_audit_list(s, 10, 0, &a, &n, &next), 0);
    assert_int_equal(n, 5);   /* newest first: subject delete, subject create, update, rotate, create */
    assert_string_equal(a[0].action, "subject.delete");
    assert_string_equal(a[0].request_id, "req-2");
    char actor[32];
    snprintf(actor, sizeof actor, "client:%lld", (long long)r.id);
    assert_string_equal(a[0].actor, actor);
    assert_string_equal(a[2].action, "client.update");
    assert_non_null(strstr(a[2].details, "\"disabled\":1"));
    assert_string_equal(a[4].action, "client.create");
    assert_string_equal(a[4].actor, "admin");
    assert_string_equal(a[4].details, "{\"name\":\"acme \\\"quoted\\\"\"}");   /* valid JSON, escaped */
    fr_svc_audits_free(a, n);
    fr_svc_client_free(&c);
    fr_svc_client_free(&r);
    fr_svc_client_free(&d);
    fr_service_close(s);
}

/* Usage is counted in memory and written on flush (and before a listing). */
static void test_usage(void **state) {
    (void)state;
    struct fr_service *s = open_svc(FR_SVC_STORE);
    struct fr_svc_actor admin = { 0, NULL, NULL };
    struct fr_svc_client c;
    assert_int_equal(fr_svc_client_create(s, &admin, "u", -1, -1, &c), 0);
    static const char op_a[] = "identify", op_b[] = "detect";
    for (int i = 0; i < 3; i++) fr_svc_usage_count(s, c.id, op_a);
    fr_svc_usage_count(s, c.id, op_b);
    struct fr_svc_usage *u = NULL;
    size_t n = 0;
    char from[11];
    assert_int_equal(fr_svc_usage_list(s, c.id, 1, from, &u, &n), 0);
    assert_int_equal(n, 2);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) total += u[i].count * (strcmp(u[i].operation, "identify") ? 1 : 10);
    assert_int_equal(total, 31);
    fr_svc_usages_free(u, n);
    fr_svc_client_free(&c);
    fr_service_close(s);
}

/* A decoded frame in, faces with their decisions out; a frame without faces
 * is no error; faces narrower than min_face_px are not looked at. */
/* A client, a subject "Aaron" made through `meta`, and his face enrolled through `enrol`. */
static void make_aaron(struct fr_service *meta, struct fr_service *enrol, const char *client, struct fr_svc_client *c,
                       struct fr_svc_subject *subj) {
    struct fr_svc_actor admin = { 0, NULL, NULL };
    assert_int_equal(fr_svc_client_create(meta, &admin, client, -1, -1, c), 0);
    struct fr_svc_actor who = { c->id, NULL, NULL };
    struct fr_svc_subject_fields f = { "Aaron", NULL, NULL };
    assert_int_equal(fr_svc_subject_create(meta, &who, &f, subj), 0);
    uint8_t *photo = NULL;
    size_t len = 0;
    assert_int_equal(fr_file_read("tests/fixtures/faces/Aaron_Peirsol_0001.jpg", 1 << 20, &photo, &len), 0);
    struct fr_svc_enroll_req er = { .who = who, .subject_id = subj->id, .photo = { photo, len, 0 } };
    struct fr_svc_enroll_result res;
    struct fr_svc_timing t = { 0 };
    assert_int_equal(fr_svc_enroll(enrol, &er, &t, &res), 0);
    assert_true(res.face_id > 0);
    fr_svc_enroll_result_free(&res);
    fr_free(photo);
}

static void test_identify_frame(void **state) {
    (void)state;
    char mp[512];
    if (!fr_test_model_path("fr_feature", mp, sizeof mp) || access(mp, R_OK) != 0) { skip(); return; }
    struct fr_service *s = open_svc(FR_SVC_ALL);
    struct fr_svc_client c;
    struct fr_svc_subject subj;
    struct fr_svc_timing t = { 0 };
    make_aaron(s, s, "cam", &c, &subj);

    struct fr_image frame = { 0 };
    assert_int_equal(fr_image_load("tests/fixtures/faces/Aaron_Peirsol_0003.jpg", NULL, &frame), 0);
    struct fr_svc_identify_req r = { .client_id = c.id, .threshold = -1 };
    struct fr_svc_identify_result ir;
    assert_int_equal(fr_svc_identify_frame(s, &frame, &r, &t, &ir), 0);
    assert_int_equal(ir.n, 1);
    assert_int_equal(ir.faces[0].decision, FR_DECISION_MATCH);
    assert_int_equal(ir.faces[0].cands[ir.faces[0].match].subject_id, subj.id);
    assert_string_equal(ir.faces[0].cands[0].name, "Aaron");
    fr_svc_identify_result_free(&ir);
    r.min_face_px = frame.w + 1;      /* every face is too small: nothing to report, no error */
    assert_int_equal(fr_svc_identify_frame(s, &frame, &r, &t, &ir), 0);
    assert_int_equal(ir.n, 0);
    fr_svc_identify_result_free(&ir);
    fr_image_free(&frame);

    assert_int_equal(fr_image_load("tests/fixtures/images/baseline.jpg", NULL, &frame), 0);
    r.min_face_px = 0;
    assert_int_equal(fr_svc_identify_frame(s, &frame, &r, &t, &ir), 0);
    assert_int_equal(ir.n, 0);
    fr_svc_identify_result_free(&ir);
    fr_image_free(&frame);
    fr_svc_subject_free(&subj);
    fr_svc_client_free(&c);
    fr_service_close(s);
}

/* Two services on one database (two nodes): what one enrols the other's
 * index finds through the change log, within a second, and a deletion on
 * the other leaves the first's index too; the log also carries the
 * cascade of a subject's deletion. */
static int64_t wait_match(struct fr_service *s, int64_t client, const struct fr_image *frame, int want, double *ms) {
    struct fr_svc_identify_req r = { .client_id = client, .threshold = -1 };
    struct fr_svc_identify_result ir;
    struct fr_svc_timing t = { 0 };
    double t0 = fr_time_ms();
    int64_t got = -1;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(fr_svc_identify_frame(s, frame, &r, &t, &ir), 0);
        const int match = ir.n == 1 && ir.faces[0].decision == FR_DECISION_MATCH;
        got = match ? ir.faces[0].cands[ir.faces[0].match].subject_id : 0;
        fr_svc_identify_result_free(&ir);
        if ((want && match) || (!want && !match)) break;
        usleep(10000);
    }
    *ms = fr_time_ms() - t0;
    return got;
}

static void test_two_nodes_follow(void **state) {
    (void)state;
    char mp[512];
    if (!fr_test_model_path("fr_feature", mp, sizeof mp) || access(mp, R_OK) != 0) { skip(); return; }
    struct fr_service *a = open_svc(FR_SVC_ALL), *b = open_svc(FR_SVC_ALL);
    struct fr_svc_client c;
    struct fr_svc_subject subj;
    struct fr_image frame = { 0 };
    assert_int_equal(fr_image_load("tests/fixtures/faces/Aaron_Peirsol_0003.jpg", NULL, &frame), 0);
    double ms = 0;
    make_aaron(a, a, "two", &c, &subj);                                  /* enrolled on a ... */
    assert_int_equal(wait_match(b, c.id, &frame, 1, &ms), subj.id);       /* ... found on b */
    struct fr_svc_actor who = { c.id, NULL, NULL };
    printf("enrolled on a, identified on b after %.0f ms\n", ms);
    assert_true(ms < 1000);
    assert_int_equal(fr_svc_subject_delete(b, &who, subj.id), 0);        /* deleted on b ... */
    assert_int_equal(wait_match(a, c.id, &frame, 0, &ms), 0);             /* ... gone on a */
    printf("deleted on b, gone on a after %.0f ms\n", ms);
    assert_true(ms < 1000);
    fr_image_free(&frame);
    fr_svc_subject_free(&subj);
    fr_svc_client_free(&c);
    fr_service_close(b);
    fr_service_close(a);
}

/* Without the parts that a call needs, it answers SERVICE_UNAVAILABLE. */
static void test_parts(void **state) {
    (void)state;
    struct fr_service *s = open_svc(FR_SVC_MODELS);
    struct fr_svc_client c;
    struct fr_svc_actor admin = { 0, NULL, NULL };
    assert_int_equal(fr_svc_client_create(s, &admin, "x", -1, -1, &c), -FR_E_SERVICE_UNAVAILABLE);
    struct fr_svc_identify_req r = { .client_id = 1, .threshold = -1 };
    struct fr_svc_identify_result ir;
    struct fr_svc_timing t = { 0 };
    struct fr_image frame = { 0 };
    assert_int_equal(fr_svc_identify_frame(s, &frame, &r, &t, &ir), -FR_E_SERVICE_UNAVAILABLE);
    struct fr_svc_status st;
    fr_svc_status(s, 1, &st);
    assert_false(st.has_store);
    assert_false(st.database_ok);
    assert_false(st.has_index);
    fr_service_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clients_and_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identify_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_nodes_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
