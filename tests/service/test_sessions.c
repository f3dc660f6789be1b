/* Camera sessions, the service's own rules without a database or a camera:
 * fr_svc_session_check takes a good request and refuses each bad field with
 * VALIDATION_ERROR naming that field (the API puts it in "details");
 * fr_svc_camera_check likewise for registered cameras; and the callbacks'
 * retry policy as stored text ("attempts;s0,s1,...;timeout_ms") reads back
 * to what was written and refuses anything else. */
#include "harness.h"

#include "service/service_int.h"

#include <math.h>

#define SECRET "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"   /* base64 of 24 bytes */

static const struct fr_svc_config g_cfg = { .camera_allow_files = 0 };

/* The cameras a case may change, and a request over them with every number at its default. */
struct fixture {
    struct fr_svc_session_camera_req cams[17];
    struct fr_svc_session_req r;
    int64_t ids[2];
    const char *ext[2];
    double backoff[FR_SVC_CALLBACK_ATTEMPTS_MAX + 1];
};

static void fixture_init(struct fixture *x) {
    memset(x, 0, sizeof *x);
    x->cams[0] = (struct fr_svc_session_camera_req){ "front", "Room 101 front", "rtsp://u:p@10.0.0.5/s", -1, 0 };
    x->cams[1] = (struct fr_svc_session_camera_req){ NULL, NULL, NULL, -1, 3 };
    for (int i = 2; i < 17; i++) {
        static char keys[17][8];
        snprintf(keys[i], sizeof keys[i], "c%d", i);
        x->cams[i] = (struct fr_svc_session_camera_req){ keys[i], NULL, "rtsp://10.0.0.9/s", -1, 0 };
    }
    struct fr_svc_session_req *r = &x->r;
    r->slot_id = "room101-2026-12-07-0800";
    r->cameras = x->cams;
    r->n_cameras = 2;
    r->callback_url = "https://backend.example/facerec";
    r->mode = r->min_face_px = r->max_failures = r->cb_attempts = r->snapshot = -1;
    r->cooldown_s = r->fps = r->min_quality = r->duration_s = r->max_failure_s = r->cb_timeout_s = -1;
    r->threshold = NAN;
    x->ids[0] = 1;
    x->ids[1] = 2;
    x->ext[0] = "emp-0042";
    x->ext[1] = "emp-0043";
    for (int i = 0; i <= FR_SVC_CALLBACK_ATTEMPTS_MAX; i++) x->backoff[i] = i;
}

static void expect_field(int rc, const char *field, const char *what) {
    if (rc != -FR_E_VALIDATION_ERROR || strcmp(fr_err_key(), "field") || strcmp(fr_err_value(), field))
        fail_msg("%s: rc %d, %s=%s (%s); expected VALIDATION_ERROR naming %s", what, rc, fr_err_key(),
                 fr_err_value(), fr_err_detail(), field);
}

/* A request with every field given, at the edges of the ranges, and one with none: both taken. */
static void test_session_check_accepts(void **state) {
    (void)state;
    struct fixture x;
    fixture_init(&x);
    assert_int_equal(fr_svc_session_check(&g_cfg, &x.r), 0);
    struct fr_svc_session_req *r = &x.r;
    r->callback_secret = SECRET;
    r->mode = 1;
    r->cooldown_s = 86400;
    r->fps = 0.1;
    r->threshold = 0;
    r->min_face_px = 4096;
    r->min_quality = 1;
    r->liveness = r->report_unknown = 1;
    r->snapshot = 0;
    r->roster_ids = x.ids;
    r->n_roster_ids = 2;
    r->roster_external = x.ext;
    r->n_roster_external = 2;
    r->duration_s = 604800;
    r->max_failures = 1000000;
    r->max_failure_s = 86400;
    r->cb_attempts = 10;
    r->cb_backoff_s = x.backoff;
    r->n_cb_backoff = 10;
    r->cb_timeout_s = 60;
    x.cams[0].transport = 1;
    x.cams[1].key = "back";                       /* a registered camera under a key of the client's */
    x.cams[1].name = "Back door";
    assert_int_equal(fr_svc_session_check(&g_cfg, r), 0);
    r->fps = 30;
    r->threshold = 1;
    r->cooldown_s = 0;
    r->duration_s = -1;
    r->ends_at = 1900000000000LL;                 /* the future is the start's to check (it needs the clock) */
    r->cb_timeout_s = 0.1;
    r->max_failures = 0;                          /* never */
    assert_int_equal(fr_svc_session_check(&g_cfg, r), 0);
    /* sixteen cameras by default, as many as FACEREC_MAX_CAMERAS_PER_SESSION says */
    x.r.n_cameras = 16;
    assert_int_equal(fr_svc_session_check(&g_cfg, &x.r), 0);
    struct fr_svc_config many = { .max_cameras_per_session = 17 };
    x.r.n_cameras = 17;
    assert_int_equal(fr_svc_session_check(&many, &x.r), 0);
    /* file: cameras only when allowed */
    fixture_init(&x);
    x.cams[0].url = "file:/tmp/clip.mp4";
    struct fr_svc_config files = { .camera_allow_files = 1 };
    assert_int_equal(fr_svc_session_check(&files, &x.r), 0);
    expect_field(fr_svc_session_check(&g_cfg, &x.r), "cameras", "file: not allowed");
}

/* Each bad field alone: VALIDATION_ERROR naming it. */
static void test_session_check_refuses(void **state) {
    (void)state;
    static char long_text[FR_SVC_SLOT_MAX + 2], long_ext[FR_SVC_NAME_MAX + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    memset(long_ext, 'e', sizeof long_ext - 1);
    static int64_t many_ids[FR_SVC_SESSION_ROSTER_MAX + 1];
    for (int i = 0; i <= FR_SVC_SESSION_ROSTER_MAX; i++) many_ids[i] = i + 1;
    static const double frac[] = { 1.5 }, neg[] = { -1 }, big[] = { 3601 };
    static const int64_t zero_id[] = { 0 };
    static const char *const empty_ext[] = { "" };
    static const char *const long_ext_v[] = { long_ext };
    /* each row: the field named, and the one change to a good request that makes it bad */
#define REFUSALS(X) \
    X("slot_id", r->slot_id = NULL) \
    X("slot_id", r->slot_id = "") \
    X("slot_id", r->slot_id = long_text) \
    X("slot_id", r->slot_id = "room\001") \
    X("slot_id", r->slot_id = "room\177") \
    X("cameras", r->n_cameras = 0) \
    X("cameras", r->cameras = NULL) \
    X("cameras", r->n_cameras = 17) \
    X("cameras", c[1].url = "rtsp://h/s") \
    X("cameras", c[0].camera_id = -1) \
    X("cameras", c[0].key = NULL) \
    X("cameras", c[0].key = "") \
    X("cameras", c[0].url = NULL) \
    X("cameras", c[0].url = "ftp://10.0.0.5/s") \
    X("cameras", c[0].url = "rtsp://") \
    X("cameras", c[0].url = "rtsp://h/a b") \
    X("cameras", c[0].name = "front\n") \
    X("cameras", c[0].name = "") \
    X("cameras", c[0].transport = 2) \
    X("cameras", c[1].transport = 2) \
    X("cameras", c[1].key = "") \
    X("cameras", c[1].key = "back\033") \
    X("cameras", c[1].key = "front") \
    X("cameras", c[0].key = "3") \
    X("cameras", c[0].camera_id = 3; c[0].url = NULL; c[0].key = NULL) \
    X("callback_url", r->callback_url = NULL) \
    X("callback_url", r->callback_url = "") \
    X("callback_url", r->callback_url = "ftp://backend.example/x") \
    X("callback_url", r->callback_url = "backend.example/x") \
    X("callback_secret", r->callback_secret = "nope") \
    X("callback_secret", r->callback_secret = "whsec_") \
    X("mode", r->mode = 2) \
    X("cooldown_seconds", r->cooldown_s = 86401) \
    X("fps", r->fps = 0.05) \
    X("fps", r->fps = 30.5) \
    X("threshold", r->threshold = 1.01) \
    X("threshold", r->threshold = -0.1) \
    X("min_face_px", r->min_face_px = 4097) \
    X("min_quality", r->min_quality = 1.5) \
    X("subjects", r->n_roster_ids = -1) \
    X("subjects", r->roster_ids = zero_id; r->n_roster_ids = 1) \
    X("subjects", r->roster_external = empty_ext; r->n_roster_external = 1) \
    X("subjects", r->roster_external = long_ext_v; r->n_roster_external = 1) \
    X("subjects", r->roster_ids = many_ids; r->n_roster_ids = FR_SVC_SESSION_ROSTER_MAX + 1) \
    X("duration_seconds", r->duration_s = 60; r->ends_at = 1900000000000LL) \
    X("duration_seconds", r->duration_s = 0.5) \
    X("duration_seconds", r->duration_s = 604801) \
    X("ends_at", r->ends_at = -5) \
    X("auto_stop", r->max_failures = 1000001) \
    X("auto_stop", r->max_failure_s = 86401) \
    X("callback_policy", r->cb_attempts = 0) \
    X("callback_policy", r->cb_attempts = 11) \
    X("callback_policy", r->n_cb_backoff = 11; r->cb_backoff_s = x.backoff) \
    X("callback_policy", r->cb_backoff_s = frac; r->n_cb_backoff = 1) \
    X("callback_policy", r->cb_backoff_s = neg; r->n_cb_backoff = 1) \
    X("callback_policy", r->cb_backoff_s = big; r->n_cb_backoff = 1) \
    X("callback_policy", r->cb_timeout_s = 0.05) \
    X("callback_policy", r->cb_timeout_s = 61)
    for (int i = 0;; i++) {
        struct fixture x;
        fixture_init(&x);
        struct fr_svc_session_req *r = &x.r;
        struct fr_svc_session_camera_req *c = x.cams;
        const char *field = NULL, *what = NULL;
        int k = 0;
#define ROW(f, ...) if (i == k++) { __VA_ARGS__; field = f; what = #__VA_ARGS__; }
        REFUSALS(ROW)
#undef ROW
        (void)c;
        if (!field) {
            assert_int_equal(i, 58);            /* every row ran */
            break;
        }
        fr_err_clear();
        expect_field(fr_svc_session_check(&g_cfg, r), field, what);
    }
#undef REFUSALS
    /* FACEREC_MAX_CAMERAS_PER_SESSION below the request's count */
    struct fixture x;
    fixture_init(&x);
    struct fr_svc_config one = { .max_cameras_per_session = 1 };
    expect_field(fr_svc_session_check(&one, &x.r), "cameras", "max_cameras_per_session 1");
}

/* Registered cameras: name and url required on create, each field checked when given. */
static void test_camera_check(void **state) {
    (void)state;
    struct fr_svc_camera_fields f = { "Front", "rtsp://u:p@10.0.0.5:554/s", -1 };
    assert_int_equal(fr_svc_camera_check(&g_cfg, &f, 1), 0);
    f.transport = 1;
    assert_int_equal(fr_svc_camera_check(&g_cfg, &f, 1), 0);
    static const char *const good_urls[] = { "rtsps://cam.example/s", "http://10.0.0.5/mjpeg", "https://cam.example/x.m3u8" };
    for (size_t i = 0; i < 3; i++) {
        f.url = good_urls[i];
        assert_int_equal(fr_svc_camera_check(&g_cfg, &f, 1), 0);
    }
    /* update: nothing given is fine, what is given is checked */
    struct fr_svc_camera_fields u = { NULL, NULL, -1 };
    assert_int_equal(fr_svc_camera_check(&g_cfg, &u, 0), 0);
    u.name = "Back";
    assert_int_equal(fr_svc_camera_check(&g_cfg, &u, 0), 0);
    u.name = "";
    expect_field(fr_svc_camera_check(&g_cfg, &u, 0), "name", "update: empty name");
    u.name = NULL;
    u.url = "gopher://h/";
    expect_field(fr_svc_camera_check(&g_cfg, &u, 0), "url", "update: gopher");
    u.url = NULL;
    u.transport = 2;
    expect_field(fr_svc_camera_check(&g_cfg, &u, 0), "transport", "update: transport 2");
    /* create */
    struct fr_svc_camera_fields c = { NULL, "rtsp://h/s", -1 };
    expect_field(fr_svc_camera_check(&g_cfg, &c, 1), "name", "no name");
    c.name = "n\001";
    expect_field(fr_svc_camera_check(&g_cfg, &c, 1), "name", "control character");
    c.name = "n";
    c.url = NULL;
    expect_field(fr_svc_camera_check(&g_cfg, &c, 1), "url", "no url");
    static const char *const bad_urls[] = { "", "ftp://h/s", "rtsp://", "rtsp:///s", "rtsp://h/a b", "rtsp://h/\001",
                                            "h/s", "file:/tmp/clip.mp4" };
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        c.url = bad_urls[i];
        expect_field(fr_svc_camera_check(&g_cfg, &c, 1), "url", bad_urls[i]);
    }
    struct fr_svc_config files = { .camera_allow_files = 1 };
    c.url = "file:/tmp/clip.mp4";
    assert_int_equal(fr_svc_camera_check(&files, &c, 1), 0);
}

/* The stored policy text reads back to what was written. */
static void test_policy_parse(void **state) {
    (void)state;
    struct fr_outbox_policy p;
    assert_int_equal(fr__svc_policy_parse("3;0,1,3;10000", &p), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.seconds[0], 0);
    assert_int_equal(p.seconds[1], 1);
    assert_int_equal(p.seconds[2], 3);
    assert_int_equal(p.timeout_ms, 10000);
    assert_true(p.jitter == 0);
    static const char *const good[] = { "1;0;1", "3;0,1,3;10000", "10;0,1,3,7,15,31,63,127,255,511;60000",
                                        "2;5,5;3600000", "4;0,0,0,0;100" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(fr__svc_policy_parse(good[i], &p), 0);
        char text[512];
        size_t n = (size_t)snprintf(text, sizeof text, "%d;", p.n);
        for (int k = 0; k < p.n; k++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%lld", k ? "," : "", (long long)p.seconds[k]);
        snprintf(text + n, sizeof text - n, ";%lld", (long long)p.timeout_ms);
        assert_string_equal(text, good[i]);
    }
    static const char *const bad[] = { "", ";", "x;0;1", "0;;10", "33;0;1", "-1;0;1", "2;0;100", "2;0,1,2;100",
                                       "2;1,0;100", "2;0,-1;100", "2;0,1;0", "2;0,1;3600001", "2;0,1;100x",
                                       "2;0,1", "2;0,,1;100", "2;0,1;", "1;0;1;", "1;x;1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fr__svc_policy_parse(bad[i], &p) != -FR_E_INVALID_ARGUMENT) fail_msg("policy \"%s\" was taken", bad[i]);
}

int main(void) {
    fr_log_set_level(FR_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_check_accepts),
        cmocka_unit_test(test_session_check_refuses),
        cmocka_unit_test(test_camera_check),
        cmocka_unit_test(test_policy_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
