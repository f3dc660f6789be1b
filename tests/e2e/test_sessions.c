/* End-to-end tests of camera sessions (issue 11): the real `facerec serve`
 * on loopback reading a real RTSP camera (tests/sessions/rtsp_server.c on
 * gst-rtsp-server) and calling back a real receiver (tests/e2e/receiver.h).
 *
 * The camera's video is made here with the ffmpeg CLI from the committed
 * photos of tests/fixtures/sessions/ (640x480 H.264, 25 fps, no B-frames, a
 * key frame every second). Colin Powell and Serena Williams are enrolled from
 * other photos of theirs; Hugo Chavez and Tony Blair are strangers:
 *
 *   video A (17 s):  grey 0-1 | Colin 1-3.5 | Hugo 3.5-6.5 | Serena 6.5-9 |
 *                    Tony 9-12 | Colin 12-14.5 | Hugo 14.5-17
 *   video B (10 s):  grey 0-1 | Hugo 1-4 | Tony 4-7 | Hugo 7-10   (strangers only)
 *
 * Each RTSP client gets its own pipeline from the start of the file, so the
 * long sessions run side by side: group_setup starts them and the tests that
 * read them (first_seen, every, strangers, password) wait for their STOPPED
 * callback. They end (duration_seconds) before a reconnect could replay the
 * video. The short tests run meanwhile on their own sessions.
 *
 *   test_not_found_conflict_stop  404 SESSION_NOT_FOUND, 409, DELETE → STOPPED_BY_CLIENT, 422s
 *   test_duration_ended           duration_seconds 3 → STOPPED ENDED within 1 s
 *   test_backend_unresponsive     the receiver answers 500 → STOPPED BACKEND_UNRESPONSIVE
 *   test_cameras_crud             /cameras CRUD, url redacted, a session by camera_id, isolation
 *   test_first_seen               both people once, STARTED first, body, snapshot, signature, stats, paging
 *   test_strangers                a stream of strangers: nobody reported
 *   test_every                    every mode: reported again after the cooldown; first_seen once
 *   test_password_never_shown     the camera password in no response, log line or callback
 *
 * Every wait is bounded; every process (facerec, RTSP servers, receiver) is
 * stopped by its PID; temp dirs are removed (E2E_KEEP keeps them). Without the
 * models, the ffmpeg CLI or the RTSP server the tests skip, saying why. */
#include "harness.h"
#include "e2e.h"
#include "receiver.h"
#include "sessions/rtsp_fixture.h"

#define FIX "tests/fixtures/sessions/"
#define PASSWORD "s3cretPW"
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define LONG_DURATION_A 18.5   /* video A is 17 s; a replay's first face comes > 3 s after its end */
#define LONG_DURATION_B 11.5
#define COOLDOWN_S 3

static struct e2e_server g_srv;       /* shared: private callbacks allowed, debug log */
static struct receiver g_rv;          /* shared: one path per session */
static struct rtsp_server g_cam_a, g_cam_b;
static char g_dir[64];                /* videos */
static const char *g_skip;            /* why the tests cannot run, or NULL */
static char g_last[2400];             /* the last exchange, for failure messages */
static int g_leaks;                   /* responses that held the camera password */

static const char *const g_env[] = {
    "FACEREC_WEBHOOK_ALLOW_PRIVATE=true",
    "FACEREC_LOG_LEVEL=debug",
    "FACEREC_CAMERA_TIMEOUT_MS=3000",
    "FACEREC_CAMERA_RECONNECT_ATTEMPTS=2",
    "FACEREC_CAMERA_RECONNECT_DELAY_MS=3000",
    NULL,
};

struct client {
    char key[256];
    char hdr[320];          /* "X-API-Key: <key>\r\n" */
};

static struct client g_cl;            /* the sessions' client */
static long long g_colin, g_serena;   /* its enrolled subjects */

/* The long sessions group_setup starts. */
struct bg {
    const char *slot;
    char session_id[64];
    long long t_post;       /* unix ms just before its POST */
};
static struct bg g_first = { "first", "", 0 };
static struct bg g_every = { "every", "", 0 };
static struct bg g_strangers = { "strangers", "", 0 };

#define SKIP_IF_CANNOT_RUN() do { if (g_skip) { fprintf(stderr, "skipped: %s\n", g_skip); skip(); } } while (0)

/* ---- requests ---------------------------------------------------------------- */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last exchange and the server log's tail, on stderr. */
static void dump(const char *what) {
    fprintf(stderr, "%s: %s\n", what, g_last);
    if (g_srv.pid > 0) e2e_log_tail(&g_srv, 2500);
}

/* A JSON request to server s; fmt (printf) builds the body, NULL for none.
 * Every answer is searched for the camera password. */
static void req(const struct e2e_server *s, struct e2e_resp *r, const char *method, const char *path,
                const char *hdrs, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void req(const struct e2e_server *s, struct e2e_resp *r, const char *method, const char *path,
                const char *hdrs, const char *fmt, ...) {
    char body[8192] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(body, sizeof body, fmt, ap);
        va_end(ap);
    }
    e2e_http(s->port, method, path, hdrs, fmt ? "application/json" : NULL, fmt ? body : NULL, strlen(body), r);
    snprintf(g_last, sizeof g_last, "%s %.200s %.400s → %d: %.1700s", method, path, body, r->status,
             r->body ? r->body : "(no body)");
    if ((r->body && strstr(r->body, PASSWORD)) || (r->head && strstr(r->head, PASSWORD))) {
        g_leaks++;
        fprintf(stderr, "the camera password is in an answer: %s\n", g_last);
    }
}

static void expect_status(const struct e2e_resp *r, int status) {
    if (r->status != status) {
        dump("unexpected status");
        fail_msg("expected HTTP %d, got %d", status, r->status);
    }
}

/* The 2xx envelope with data. */
static void expect_ok(const struct e2e_resp *r, int status) {
    expect_status(r, status);
    if (!json_is_true(jget(r->json, "success")) || !jget(r->json, "data")) {
        dump("expected success");
        fail_msg("expected success true and data");
    }
}

/* An error envelope: status and code. */
static void expect_error(const struct e2e_resp *r, int status, const char *code) {
    expect_status(r, status);
    const char *c = jstr(r->json, "code");
    if (!json_is_false(jget(r->json, "success")) || !c || strcmp(c, code) != 0) {
        dump("error code");
        fail_msg("expected code %s, got %s", code, c ? c : "(none)");
    }
}

/* 422 VALIDATION_ERROR naming field in details.field. */
static void expect_validation(const struct e2e_resp *r, const char *field) {
    expect_error(r, 422, "VALIDATION_ERROR");
    const char *f = jstr(r->json, "details.field");
    if (!f || strcmp(f, field) != 0) {
        dump("details.field");
        fail_msg("details.field should be \"%s\", is \"%s\"", field, f ? f : "(none)");
    }
}

static long long jint(json_t *root, const char *path) {
    json_t *v = jget(root, path);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void new_client(const struct e2e_server *s, struct client *c, const char *name) {
    struct e2e_resp r;
    req(s, &r, "POST", "/api/v1/admin/clients", s->auth, "{\"name\":\"%s\"}", name);
    expect_ok(&r, 201);
    const char *key = jstr(r.json, "data.api_key");
    assert_non_null(key);
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->hdr, sizeof c->hdr, "X-API-Key: %s\r\n", c->key);
    e2e_resp_free(&r);
}

/* A subject with one face enrolled from photo; its id. */
static long long enrol(const struct e2e_server *s, const struct client *c, const char *name, const char *ext,
                       const char *photo) {
    struct e2e_resp r;
    req(s, &r, "POST", "/api/v1/subjects", c->hdr, "{\"name\":\"%s\",\"external_id\":\"%s\"}", name, ext);
    expect_ok(&r, 201);
    long long id = jint(r.json, "data.id");
    assert_true(id > 0);
    e2e_resp_free(&r);
    struct e2e_buf b = { 0 };
    uint8_t *p = NULL;
    size_t n = 0;
    if (fr_file_read(photo, 1 << 24, &p, &n) < 0) fail_msg("cannot read %s", photo);
    e2e_mp_file(&b, "photo", strrchr(photo, '/') + 1, "image/jpeg", p, n);
    fr_free(p);
    e2e_mp_end(&b);
    char path[96];
    snprintf(path, sizeof path, "/api/v1/subjects/%lld/faces", id);
    e2e_http(s->port, "POST", path, c->hdr, E2E_MP_CTYPE, b.p, b.len, &r);
    snprintf(g_last, sizeof g_last, "POST %s (%s) → %d: %.1800s", path, photo, r.status, r.body ? r.body : "");
    e2e_buf_free(&b);
    expect_ok(&r, 201);
    e2e_resp_free(&r);
    return id;
}

/* ---- sessions ------------------------------------------------------------------ */

/* rtsp://[user:PASSWORD@]127.0.0.1:<port>/cam */
static void cam_url(const struct rtsp_server *cam, int with_password, char *out, size_t len) {
    snprintf(out, len, "rtsp://%s127.0.0.1:%d/cam", with_password ? "user:" PASSWORD "@" : "", cam->port);
}

/* POST /api/v1/sessions for slot on one camera ("front", "Room 101 front")
 * calling back the shared receiver at /cb/<slot>; extra: more members of the
 * body (",\"mode\":\"every\"") or "". */
static void session_post(struct e2e_resp *r, const char *slot, const char *url, const char *extra) {
    req(&g_srv, r, "POST", "/api/v1/sessions", g_cl.hdr,
        "{\"slot_id\":\"%s\",\"cameras\":[{\"id\":\"front\",\"name\":\"Room 101 front\",\"url\":\"%s\"}],"
        "\"callback_url\":\"http://127.0.0.1:%d/cb/%s\"%s}",
        slot, url, g_rv.port, slot, extra);
}

static void session_start(struct bg *b, const char *url, const char *extra) {
    struct e2e_resp r;
    b->t_post = now_ms();
    session_post(&r, b->slot, url, extra);
    expect_ok(&r, 201);
    assert_string_equal(jstr(r.json, "data.status"), "running");
    const char *sid = jstr(r.json, "data.session_id");
    assert_non_null(sid);
    snprintf(b->session_id, sizeof b->session_id, "%s", sid);
    e2e_resp_free(&r);
}

static void cb_path(const char *slot, char *out, size_t len) { snprintf(out, len, "/cb/%s", slot); }

/* The receiver's lines for slot whose body is a status callback with status
 * st (NULL: any), as a new array. */
static json_t *status_lines(json_t *lines, const char *st) {
    json_t *out = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *t = jstr(l, "body.type"), *s = jstr(l, "body.status");
        if (t && !strcmp(t, "session_status") && (!st || (s && !strcmp(s, st)))) json_array_append(out, l);
    }
    return out;
}

static json_t *recognition_lines(json_t *lines) {
    json_t *out = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *t = jstr(l, "body.type");
        if (t && strcmp(t, "session_status") != 0) json_array_append(out, l);
    }
    return out;
}

/* Waits (at most ms) for the STOPPED callback of slot; all its lines. */
static json_t *wait_stopped(const char *slot, int ms) {
    char path[96];
    cb_path(slot, path, sizeof path);
    const double until = fr_time_ms() + ms;
    for (;;) {
        json_t *a = rv_lines(&g_rv, path);
        json_t *st = status_lines(a, "STOPPED");
        const size_t n = json_array_size(st);
        json_decref(st);
        if (n) return a;
        if (fr_time_ms() > until) {
            char *t = json_dumps(a, JSON_COMPACT);
            fprintf(stderr, "receiver %s after %d ms: %.3000s\n", path, ms, t ? t : "");
            fr_free(t);
            json_decref(a);
            e2e_log_tail(&g_srv, 3000);
            fail_msg("no STOPPED callback for slot %s within %d ms", slot, ms);
        }
        json_decref(a);
        usleep(100 * 1000);
    }
}

/* "2026-12-07T08:00:01.234Z" → unix ms; -1 when it is not that. */
static long long iso_ms(const char *t) {
    struct tm tm;
    int ms = 0, n = 0;
    memset(&tm, 0, sizeof tm);
    if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || t[n] != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

/* GET /api/v1/sessions/<slot> until its status is stopped and the integer at
 * stat (NULL: none) is at least at_least, for at most ms; the answer in r.
 * (The counters are written a moment after the stop.) */
static void session_get_stopped(const char *slot, struct e2e_resp *r, const char *stat, long long at_least, int ms) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/sessions/%s", slot);
    const double until = fr_time_ms() + ms;
    for (;;) {
        req(&g_srv, r, "GET", path, g_cl.hdr, NULL);
        expect_ok(r, 200);
        const char *st = jstr(r->json, "data.status");
        const int stopped = st && !strcmp(st, "stopped");
        if (stopped && (!stat || jint(r->json, stat) >= at_least)) return;
        if (stopped) fprintf(stderr, "  %s stopped, %s %lld so far\n", slot, stat, jint(r->json, stat));
        if (fr_time_ms() > until) {
            dump("session not stopped");
            fail_msg("session %s: status %s, %s %lld after %d ms", slot, st ? st : "?", stat ? stat : "",
                     stat ? jint(r->json, stat) : 0, ms);
        }
        e2e_resp_free(r);
        usleep(100 * 1000);
    }
}

/* The session in r ended on time: stopped_at within 1 s of ends_at. The
 * long sessions' videos end a little before their end time and the camera
 * then waits FACEREC_CAMERA_RECONNECT_DELAY_MS (3 s) to reconnect: no frame
 * wakes the runner meanwhile, and it must end the session all the same. */
static void check_ended_on_time(const struct e2e_resp *r) {
    const long long ends = jint(r->json, "data.ends_at"), stopped = jint(r->json, "data.stopped_at");
    fprintf(stderr, "  %s: stopped %lld ms after its end time\n", jstr(r->json, "data.slot_id"), stopped - ends);
    assert_string_equal(jstr(r->json, "data.reason"), "ENDED");
    assert_true(ends > 0 && stopped >= ends && stopped <= ends + 1000);
}

/* How many recognitions of subject id the lines hold. */
static int count_subject(json_t *recs, long long id) {
    int n = 0;
    size_t i;
    json_t *l;
    json_array_foreach(recs, i, l) n += jint(l, "body.subject.id") == id;
    return n;
}

/* ---- the video ------------------------------------------------------------------ */

struct seg {
    const char *photo;      /* tests/fixtures/sessions/<photo>.jpg; NULL: grey */
    double seconds;
};

/* segs as one 640x480 25 fps H.264 mp4 (the photos scaled to 360x360 on grey). */
static int make_video(const struct seg *segs, int n, const char *out) {
    char cmd[8192], inputs[3072] = "", filt[3072] = "", cat[256] = "";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(inputs);
        if (segs[i].photo)
            snprintf(inputs + l, sizeof inputs - l, " -loop 1 -framerate 25 -t %.1f -i " FIX "%s.jpg", segs[i].seconds,
                     segs[i].photo);
        else
            snprintf(inputs + l, sizeof inputs - l, " -f lavfi -t %.1f -i color=c=gray:s=640x480:r=25", segs[i].seconds);
        l = strlen(filt);
        if (segs[i].photo)
            snprintf(filt + l, sizeof filt - l,
                     "[%d:v]scale=360:360,pad=640:480:140:60:color=gray,setsar=1,format=yuv420p,fps=25[v%d];", i, i);
        else
            snprintf(filt + l, sizeof filt - l, "[%d:v]setsar=1,format=yuv420p,fps=25[v%d];", i, i);
        l = strlen(cat);
        snprintf(cat + l, sizeof cat - l, "[v%d]", i);
    }
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y%s -filter_complex '%s%sconcat=n=%d:v=1:a=0[out]' -map '[out]' "
             "-c:v libx264 -preset ultrafast -tune zerolatency -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 "
             "-pix_fmt yuv420p -r 25 %s 2>&1",
             inputs, filt, cat, n, out);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the tests ------------------------------------------------------------------ */

static void test_not_found_conflict_stop(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    struct e2e_resp r;
    char url[128];
    cam_url(&g_cam_a, 0, url, sizeof url);
    /* an unknown slot */
    const char *unknown[][2] = { { "GET", "/api/v1/sessions/nope" },
                                 { "DELETE", "/api/v1/sessions/nope" },
                                 { "GET", "/api/v1/sessions/nope/recognitions" } };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        req(&g_srv, &r, unknown[i][0], unknown[i][1], g_cl.hdr, NULL);
        expect_error(&r, 404, "SESSION_NOT_FOUND");
        e2e_resp_free(&r);
    }
    /* running: a second POST for the slot is a conflict */
    struct bg b = { "stopme", "", 0 };
    session_start(&b, url, "");
    session_post(&r, "stopme", url, "");
    expect_error(&r, 409, "SESSION_ALREADY_EXISTS");
    assert_string_equal(jstr(r.json, "details.field"), "slot_id");
    e2e_resp_free(&r);
    /* STARTED, then stop it */
    char path[64];
    cb_path("stopme", path, sizeof path);
    json_t *a = rv_wait(&g_rv, path, 1, 10000);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(jstr(json_array_get(a, 0), "body.status"), "STARTED");
    json_decref(a);
    req(&g_srv, &r, "DELETE", "/api/v1/sessions/stopme", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    assert_string_equal(jstr(r.json, "data.status"), "stopped");
    assert_string_equal(jstr(r.json, "data.reason"), "STOPPED_BY_CLIENT");
    assert_string_equal(jstr(r.json, "data.session_id"), b.session_id);
    e2e_resp_free(&r);
    a = wait_stopped("stopme", 10000);
    json_t *st = status_lines(a, "STOPPED");
    assert_int_equal(json_array_size(st), 1);
    json_t *l = json_array_get(st, 0);
    assert_string_equal(jstr(l, "body.reason"), "STOPPED_BY_CLIENT");
    assert_string_equal(jstr(l, "body.session_id"), b.session_id);
    assert_string_equal(jstr(l, "body.slot_id"), "stopme");
    json_decref(st);
    json_decref(a);
    /* stopped: DELETE again is 404, GET shows the stopped session */
    req(&g_srv, &r, "DELETE", "/api/v1/sessions/stopme", g_cl.hdr, NULL);
    expect_error(&r, 404, "SESSION_NOT_FOUND");
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/sessions/stopme", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    assert_string_equal(jstr(r.json, "data.status"), "stopped");
    assert_string_equal(jstr(r.json, "data.reason"), "STOPPED_BY_CLIENT");
    e2e_resp_free(&r);
    /* a new session may take the slot once it stopped */
    struct bg again = { "stopme", "", 0 };
    session_start(&again, url, "");
    assert_true(strcmp(again.session_id, b.session_id) != 0);
    req(&g_srv, &r, "DELETE", "/api/v1/sessions/stopme", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    e2e_resp_free(&r);

    /* validation: 422 VALIDATION_ERROR naming the field */
    char cam[192], cb[96];
    snprintf(cam, sizeof cam, "[{\"id\":\"front\",\"url\":\"%s\"}]", url);
    snprintf(cb, sizeof cb, "http://127.0.0.1:%d/cb/invalid", g_rv.port);
    struct {
        const char *field;
        char body[512];
    } bad[8];
    int nb = 0;
    snprintf(bad[nb].body, sizeof bad[nb].body, "{\"cameras\":%s,\"callback_url\":\"%s\"}", cam, cb);
    bad[nb++].field = "slot_id";
    snprintf(bad[nb].body, sizeof bad[nb].body, "{\"slot_id\":\"v\",\"callback_url\":\"%s\"}", cb);
    bad[nb++].field = "cameras";
    snprintf(bad[nb].body, sizeof bad[nb].body, "{\"slot_id\":\"v\",\"cameras\":%s}", cam);
    bad[nb++].field = "callback_url";
    snprintf(bad[nb].body, sizeof bad[nb].body, "{\"slot_id\":\"v\",\"cameras\":%s,\"callback_url\":\"%s\",\"fps\":0}",
             cam, cb);
    bad[nb++].field = "fps";
    snprintf(bad[nb].body, sizeof bad[nb].body,
             "{\"slot_id\":\"v\",\"cameras\":%s,\"callback_url\":\"%s\",\"fps\":\"five\"}", cam, cb);
    bad[nb++].field = "fps";
    snprintf(bad[nb].body, sizeof bad[nb].body,
             "{\"slot_id\":\"v\",\"cameras\":%s,\"callback_url\":\"%s\",\"mode\":\"sometimes\"}", cam, cb);
    bad[nb++].field = "mode";
    snprintf(bad[nb].body, sizeof bad[nb].body,
             "{\"slot_id\":\"v\",\"cameras\":[{\"id\":\"f\",\"url\":\"file:///etc/hostname\"}],\"callback_url\":\"%s\"}",
             cb);
    bad[nb++].field = "cameras";
    for (int i = 0; i < nb; i++) {
        req(&g_srv, &r, "POST", "/api/v1/sessions", g_cl.hdr, "%s", bad[i].body);
        expect_validation(&r, bad[i].field);
        e2e_resp_free(&r);
    }
    /* nothing was started by them */
    req(&g_srv, &r, "GET", "/api/v1/sessions/v", g_cl.hdr, NULL);
    expect_error(&r, 404, "SESSION_NOT_FOUND");
    e2e_resp_free(&r);
    assert_int_equal(rv_count(&g_rv, "/cb/invalid"), 0);

    /* a private callback address without FACEREC_WEBHOOK_ALLOW_PRIVATE */
    static struct e2e_server strict;
    static const char *const strict_env[] = { "FACEREC_WEBHOOK_ALLOW_PRIVATE=false", NULL };
    assert_int_equal(e2e_server_start(&strict, NULL, strict_env), 0);
    struct client c2;
    new_client(&strict, &c2, "strict");
    req(&strict, &r, "POST", "/api/v1/sessions", c2.hdr,
        "{\"slot_id\":\"p\",\"cameras\":%s,\"callback_url\":\"%s\"}", cam, cb);
    expect_validation(&r, "callback_url");
    e2e_resp_free(&r);
    req(&strict, &r, "GET", "/api/v1/sessions/p", c2.hdr, NULL);
    expect_error(&r, 404, "SESSION_NOT_FOUND");
    e2e_resp_free(&r);
    assert_int_equal(e2e_server_stop(&strict), 0);
    e2e_server_cleanup(&strict);
}

static void test_duration_ended(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    char url[128];
    cam_url(&g_cam_a, 0, url, sizeof url);
    struct bg b = { "short", "", 0 };
    session_start(&b, url, ",\"duration_seconds\":3");
    struct e2e_resp r;
    req(&g_srv, &r, "GET", "/api/v1/sessions/short", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    const long long created = jint(r.json, "data.created_at"), ends = jint(r.json, "data.ends_at");
    assert_true(created > 0);
    assert_true(ends - created >= 2990 && ends - created <= 3010);
    e2e_resp_free(&r);
    json_t *a = wait_stopped("short", 10000);
    json_t *st = status_lines(a, "STOPPED");
    json_t *l = json_array_get(st, 0);
    assert_string_equal(jstr(l, "body.reason"), "ENDED");
    const long long at = iso_ms(jstr(l, "body.at"));
    fprintf(stderr, "duration 3 s: STOPPED at created + %lld ms, received %lld ms after the POST\n", at - created,
            (long long)(json_real_value(jget(l, "received_at")) * 1000) - b.t_post);
    assert_true(at >= ends && at <= ends + 1000);
    json_decref(st);
    json_decref(a);
    session_get_stopped("short", &r, NULL, 0, 5000);
    assert_string_equal(jstr(r.json, "data.reason"), "ENDED");
    assert_true(jint(r.json, "data.stopped_at") >= ends);
    e2e_resp_free(&r);
}

static void test_backend_unresponsive(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    /* every callback at /cb/dead answers 500 */
    char script[4096] = "";
    for (int i = 0; i < 100; i++) strcat(script, i ? ",{\"status\":500}" : "{\"status\":500}");
    rv_control(&g_rv, "{\"path\":\"/cb/dead\",\"responses\":[%s]}", script);
    char url[128];
    cam_url(&g_cam_a, 0, url, sizeof url);
    struct bg b = { "dead", "", 0 };
    /* every mode without a cooldown: a callback for each frame Colin wins */
    session_start(&b, url,
                  ",\"mode\":\"every\",\"cooldown_seconds\":0,\"auto_stop\":{\"max_consecutive_failures\":3},"
                  "\"callback_policy\":{\"attempts\":1,\"timeout_seconds\":2}");
    struct e2e_resp r;
    session_get_stopped("dead", &r, "data.stats.callback_failures", 3, 25000);
    assert_string_equal(jstr(r.json, "data.reason"), "BACKEND_UNRESPONSIVE");
    assert_true(jint(r.json, "data.stats.callback_failures") >= 3);
    assert_int_equal(jint(r.json, "data.callback_policy.attempts"), 1);
    assert_int_equal(jint(r.json, "data.auto_stop.max_consecutive_failures"), 3);
    e2e_resp_free(&r);
    /* the receiver heard each callback once (attempts 1), all answered 500 */
    json_t *a = rv_wait(&g_rv, "/cb/dead", 3, 5000);
    assert_true(json_array_size(a) >= 3);
    size_t i;
    json_t *l;
    json_array_foreach(a, i, l) assert_int_equal(jint(l, "answered"), 500);
    assert_string_equal(jstr(json_array_get(a, 0), "body.status"), "STARTED");
    json_decref(a);
}

static void test_cameras_crud(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    char url[128];
    cam_url(&g_cam_a, 1, url, sizeof url);
    struct e2e_resp r;
    req(&g_srv, &r, "POST", "/api/v1/cameras", g_cl.hdr, "{\"name\":\"Hall\",\"url\":\"%s\"}", url);
    expect_ok(&r, 201);
    const long long id = jint(r.json, "data.id");
    assert_true(id > 0);
    assert_string_equal(jstr(r.json, "data.name"), "Hall");
    assert_string_equal(jstr(r.json, "data.transport"), "tcp");
    const char *shown = jstr(r.json, "data.url");
    assert_non_null(shown);
    assert_null(strstr(shown, PASSWORD));
    assert_non_null(strstr(shown, "127.0.0.1"));
    e2e_resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/api/v1/cameras/%lld", id);
    req(&g_srv, &r, "GET", path, g_cl.hdr, NULL);
    expect_ok(&r, 200);
    assert_int_equal(jint(r.json, "data.id"), id);
    assert_string_equal(jstr(r.json, "data.name"), "Hall");
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/cameras", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    json_t *cams = jget(r.json, "data.cameras");
    assert_true(json_array_size(cams) >= 1);
    int found = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cams, i, c) found += jint(c, "id") == id;
    assert_int_equal(found, 1);
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, g_cl.hdr, "{\"name\":\"Hall east\",\"transport\":\"udp\"}");
    expect_ok(&r, 200);
    assert_string_equal(jstr(r.json, "data.name"), "Hall east");
    assert_string_equal(jstr(r.json, "data.transport"), "udp");
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, g_cl.hdr, "{\"transport\":\"tcp\"}");
    expect_ok(&r, 200);
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, g_cl.hdr, "{\"url\":\"ftp://x/y\"}");
    expect_validation(&r, "url");
    e2e_resp_free(&r);

    /* a session on the registered camera */
    req(&g_srv, &r, "POST", "/api/v1/sessions", g_cl.hdr,
        "{\"slot_id\":\"bycam\",\"cameras\":[{\"camera_id\":%lld}],\"callback_url\":\"http://127.0.0.1:%d/cb/bycam\"}",
        id, g_rv.port);
    expect_ok(&r, 201);
    assert_int_equal(jint(r.json, "data.cameras.0.camera_id"), id);
    assert_string_equal(jstr(r.json, "data.cameras.0.name"), "Hall east");
    assert_null(strstr(jstr(r.json, "data.cameras.0.url"), PASSWORD));
    e2e_resp_free(&r);
    json_t *a = rv_wait(&g_rv, "/cb/bycam", 1, 10000);
    assert_string_equal(jstr(json_array_get(a, 0), "body.status"), "STARTED");
    json_decref(a);
    req(&g_srv, &r, "DELETE", "/api/v1/sessions/bycam", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    e2e_resp_free(&r);

    /* another client sees none of it */
    struct client other;
    new_client(&g_srv, &other, "other");
    req(&g_srv, &r, "GET", path, other.hdr, NULL);
    expect_error(&r, 404, "NOT_FOUND");
    e2e_resp_free(&r);
    req(&g_srv, &r, "PATCH", path, other.hdr, "{\"name\":\"mine\"}");
    expect_error(&r, 404, "NOT_FOUND");
    e2e_resp_free(&r);
    req(&g_srv, &r, "DELETE", path, other.hdr, NULL);
    expect_error(&r, 404, "NOT_FOUND");
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/cameras", other.hdr, NULL);
    expect_ok(&r, 200);
    assert_int_equal(json_array_size(jget(r.json, "data.cameras")), 0);
    e2e_resp_free(&r);
    req(&g_srv, &r, "POST", "/api/v1/sessions", other.hdr,
        "{\"slot_id\":\"theirs\",\"cameras\":[{\"camera_id\":%lld}],\"callback_url\":\"http://127.0.0.1:%d/cb/theirs\"}",
        id, g_rv.port);
    expect_error(&r, 404, "NOT_FOUND");
    assert_string_equal(jstr(r.json, "details.field"), "cameras");
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/sessions/bycam", other.hdr, NULL);
    expect_error(&r, 404, "SESSION_NOT_FOUND");
    e2e_resp_free(&r);

    /* deleted */
    req(&g_srv, &r, "DELETE", path, g_cl.hdr, NULL);
    expect_ok(&r, 200);
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", path, g_cl.hdr, NULL);
    expect_error(&r, 404, "NOT_FOUND");
    e2e_resp_free(&r);
    req(&g_srv, &r, "DELETE", path, g_cl.hdr, NULL);
    expect_error(&r, 404, "NOT_FOUND");
    e2e_resp_free(&r);
}

/* A recognition callback's body: every field and its type. */
static void check_recognition(json_t *l, const struct bg *b, const char *mode) {
    json_t *body = jget(l, "body");
    assert_string_equal(jstr(body, "type"), "recognition");
    assert_string_equal(jstr(body, "slot_id"), b->slot);
    assert_string_equal(jstr(body, "session_id"), b->session_id);
    assert_string_equal(jstr(body, "mode"), mode);
    assert_string_equal(jstr(body, "camera.id"), "front");
    assert_string_equal(jstr(body, "camera.name"), "Room 101 front");
    const long long sid = jint(body, "subject.id");
    assert_true(sid == g_colin || sid == g_serena);
    assert_string_equal(jstr(body, "subject.external_id"), sid == g_colin ? "emp-colin" : "emp-serena");
    assert_string_equal(jstr(body, "subject.name"), sid == g_colin ? "Colin Powell" : "Serena Williams");
    json_t *sim = jget(body, "similarity"), *q = jget(body, "quality"), *box = jget(body, "box");
    assert_true(json_is_number(sim) && json_number_value(sim) > 0.2 && json_number_value(sim) <= 1);
    assert_true(json_is_number(q) && json_number_value(q) >= 0 && json_number_value(q) <= 1);
    assert_true(json_is_array(box) && json_array_size(box) == 4);
    for (size_t i = 0; i < 4; i++) assert_true(json_is_number(json_array_get(box, i)));
    const double x1 = json_number_value(json_array_get(box, 0)), y1 = json_number_value(json_array_get(box, 1));
    const double x2 = json_number_value(json_array_get(box, 2)), y2 = json_number_value(json_array_get(box, 3));
    /* the face is inside the 360x360 photo at (140, 60) of the 640x480 frame */
    assert_true(x1 >= 100 && x1 < x2 && x2 <= 540 && y1 >= 20 && y1 < y2 && y2 <= 460);
    assert_true(x2 - x1 >= 40);
    const long long seen = iso_ms(jstr(body, "seen_at")), decided = iso_ms(jstr(body, "decided_at"));
    assert_true(seen > 0 && decided >= seen);   /* the best face, then the frame that decided */
    assert_true(json_is_integer(jget(body, "votes")) && jint(body, "votes") >= 3);
    /* nothing else */
    static const char *const known[] = { "type", "slot_id", "session_id", "mode", "camera", "subject",
                                         "similarity", "quality", "box", "seen_at", "decided_at", "votes",
                                         "snapshot_jpeg_base64" };
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= !strcmp(k, known[i]);
        if (!ok) fail_msg("unexpected member \"%s\" in a recognition callback", k);
    }
    /* delivered as a webhook is: Standard Webhooks headers */
    assert_non_null(jstr(l, "headers.webhook-id"));
    assert_non_null(jstr(l, "headers.webhook-timestamp"));
}

/* The snapshot decodes to a JPEG. */
static void check_snapshot(json_t *l) {
    const char *b64 = jstr(l, "body.snapshot_jpeg_base64");
    assert_non_null(b64);
    const size_t n = strlen(b64);
    assert_true(n > 100 && n % 4 == 0);
    unsigned char *raw = fr_malloc(n);
    assert_non_null(raw);
    const int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    assert_true(len > 100);
    assert_int_equal(raw[0], 0xFF);
    assert_int_equal(raw[1], 0xD8);
    fr_free(raw);
}

/* A person's report fell into their time in the video: offset (ms after the
 * STARTED callback's time) within [from - 1.5 s, to + 1 s]. */
static void check_when(json_t *l, long long started, double from, double to) {
    const long long t = iso_ms(jstr(l, "body.seen_at")) - started;
    fprintf(stderr, "  subject %lld seen at +%lld ms (in the video %.1f-%.1f s)\n", jint(l, "body.subject.id"), t,
            from, to);
    assert_true(t >= (long long)(from * 1000) - 1500 && t <= (long long)(to * 1000) + 1000);
}

static void test_first_seen(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    json_t *a = wait_stopped("first", 40000);
    /* STARTED first, not resumed */
    json_t *l0 = json_array_get(a, 0);
    assert_string_equal(jstr(l0, "body.type"), "session_status");
    assert_string_equal(jstr(l0, "body.status"), "STARTED");
    assert_true(json_is_false(jget(l0, "body.resumed")));
    assert_true(json_is_null(jget(l0, "body.reason")));
    assert_string_equal(jstr(l0, "body.session_id"), g_first.session_id);
    assert_string_equal(jstr(l0, "body.slot_id"), "first");
    const long long started = iso_ms(jstr(l0, "body.at"));
    assert_true(started >= g_first.t_post);
    /* every callback signed with the session's secret */
    size_t i;
    json_t *l;
    json_array_foreach(a, i, l) {
        if (!json_is_true(jget(l, "signature_ok"))) fail_msg("callback %zu: the signature does not verify", i);
    }
    /* Colin and Serena, once each, in their time of the video; nobody else */
    json_t *recs = recognition_lines(a);
    assert_int_equal(json_array_size(recs), 2);
    assert_int_equal(count_subject(recs, g_colin), 1);
    assert_int_equal(count_subject(recs, g_serena), 1);
    json_array_foreach(recs, i, l) {
        check_recognition(l, &g_first, "first_seen");
        check_snapshot(l);
        if (jint(l, "body.subject.id") == g_colin) check_when(l, started, 1.0, 3.5);
        else check_when(l, started, 6.5, 9.0);
    }
    /* then STOPPED, ENDED, last */
    json_t *last = json_array_get(a, json_array_size(a) - 1);
    assert_string_equal(jstr(last, "body.status"), "STOPPED");
    assert_string_equal(jstr(last, "body.reason"), "ENDED");
    assert_int_equal(json_array_size(a), 4);
    json_decref(recs);
    json_decref(a);

    /* the session's counters */
    struct e2e_resp r;
    session_get_stopped("first", &r, "data.stats.recognitions", 2, 10000);
    check_ended_on_time(&r);
    assert_true(jint(r.json, "data.stats.frames_read") > 0);
    assert_true(jint(r.json, "data.stats.frames_analysed") > 10);
    assert_true(jint(r.json, "data.stats.faces_seen") > 10);
    assert_int_equal(jint(r.json, "data.stats.subjects_recognised"), 2);
    assert_int_equal(jint(r.json, "data.stats.recognitions"), 2);
    assert_int_equal(jint(r.json, "data.stats.callback_failures"), 0);
    assert_string_equal(jstr(r.json, "data.mode"), "first_seen");
    assert_string_equal(jstr(r.json, "data.cameras.0.id"), "front");
    e2e_resp_free(&r);

    /* the recognitions, a page of one at a time */
    char path[256] = "/api/v1/sessions/first/recognitions?limit=1";
    long long seen[4] = { 0 };
    int n = 0;
    for (int page = 0; page < 4; page++) {
        req(&g_srv, &r, "GET", path, g_cl.hdr, NULL);
        expect_ok(&r, 200);
        json_t *items = jget(r.json, "data.recognitions");
        assert_true(json_array_size(items) <= 1);
        json_array_foreach(items, i, l) {
            assert_string_equal(jstr(l, "type"), "recognition");
            assert_string_equal(jstr(l, "camera_id"), "front");
            assert_true(json_is_number(jget(l, "similarity")) && json_array_size(jget(l, "box")) == 4);
            assert_true(jint(l, "seen_at") > 0);
            seen[n++] = jint(l, "subject.id");
        }
        const char *next = jstr(r.json, "data.next_cursor");
        if (page == 0) assert_non_null(next);
        if (!next) {
            e2e_resp_free(&r);
            break;
        }
        snprintf(path, sizeof path, "/api/v1/sessions/first/recognitions?limit=1&cursor=%s", next);
        e2e_resp_free(&r);
    }
    assert_int_equal(n, 2);
    assert_true((seen[0] == g_colin && seen[1] == g_serena) || (seen[0] == g_serena && seen[1] == g_colin));
}

static void test_strangers(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    /* every mode without a cooldown: each frame a stranger won would be a report */
    json_t *a = wait_stopped("strangers", 30000);
    json_t *recs = recognition_lines(a);
    if (json_array_size(recs)) {
        char *t = json_dumps(recs, JSON_COMPACT);
        fprintf(stderr, "strangers reported: %.3000s\n", t ? t : "");
        fr_free(t);
    }
    assert_int_equal(json_array_size(recs), 0);
    assert_string_equal(jstr(json_array_get(a, 0), "body.status"), "STARTED");
    json_decref(recs);
    json_decref(a);
    struct e2e_resp r;
    session_get_stopped("strangers", &r, "data.stats.faces_seen", 10, 10000);
    check_ended_on_time(&r);
    assert_int_equal(jint(r.json, "data.stats.recognitions"), 0);
    assert_int_equal(jint(r.json, "data.stats.subjects_recognised"), 0);
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/sessions/strangers/recognitions", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    assert_int_equal(json_array_size(jget(r.json, "data.recognitions")), 0);
    e2e_resp_free(&r);
}

static void test_every(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    json_t *a = wait_stopped("every", 40000);
    const long long started = iso_ms(jstr(json_array_get(a, 0), "body.at"));
    json_t *recs = recognition_lines(a);
    /* Colin twice (his two appearances, 8.5 s apart, cooldown 3 s), Serena once */
    assert_int_equal(count_subject(recs, g_colin), 2);
    assert_int_equal(count_subject(recs, g_serena), 1);
    assert_int_equal(json_array_size(recs), 3);
    long long colin_at[2];
    int k = 0;
    size_t i;
    json_t *l;
    json_array_foreach(a, i, l) assert_int_equal(jint(l, "signatures_count"), 0);   /* no callback_secret */
    json_array_foreach(recs, i, l) {
        check_recognition(l, &g_every, "every");
        if (jint(l, "body.subject.id") == g_colin) {
            colin_at[k] = iso_ms(jstr(l, "body.seen_at"));
            check_when(l, started, k ? 12.0 : 1.0, k ? 14.5 : 3.5);
            k++;
        } else {
            check_when(l, started, 6.5, 9.0);
        }
    }
    assert_true(colin_at[1] - colin_at[0] >= COOLDOWN_S * 1000);
    json_decref(recs);
    json_decref(a);
    struct e2e_resp r;
    session_get_stopped("every", &r, "data.stats.recognitions", 3, 10000);
    assert_string_equal(jstr(r.json, "data.mode"), "every");
    assert_true(json_number_value(jget(r.json, "data.cooldown_seconds")) == COOLDOWN_S);
    assert_int_equal(jint(r.json, "data.stats.subjects_recognised"), 2);
    e2e_resp_free(&r);
    /* first_seen on the same video: Colin once */
    a = wait_stopped("first", 40000);
    recs = recognition_lines(a);
    assert_int_equal(count_subject(recs, g_colin), 1);
    json_decref(recs);
    json_decref(a);
}

/* 1 when the file at path holds needle. */
static int file_has(const char *path, const char *needle) {
    uint8_t *p = NULL;
    size_t n = 0;
    if (fr_file_read(path, 1 << 28, &p, &n) < 0) fail_msg("cannot read %s", path);
    char *s = fr_malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    for (size_t i = 0; i < n; i++) if (!s[i]) s[i] = ' ';
    const int has = strstr(s, needle) != NULL;
    fr_free(s);
    fr_free(p);
    return has;
}

static void test_password_never_shown(void **state) {
    (void)state;
    SKIP_IF_CANNOT_RUN();
    /* the every session's camera URL carries it */
    json_t *a = wait_stopped("every", 40000);
    json_decref(a);
    struct e2e_resp r;
    req(&g_srv, &r, "GET", "/api/v1/sessions/every", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    const char *u = jstr(r.json, "data.cameras.0.url");
    assert_non_null(u);
    assert_non_null(strstr(u, "127.0.0.1"));
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/sessions", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    assert_true(json_array_size(jget(r.json, "data.sessions")) >= 3);
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/sessions?running=true", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    e2e_resp_free(&r);
    /* a session whose camera cannot be opened: its errors are logged */
    char url[128];
    snprintf(url, sizeof url, "rtsp://user:" PASSWORD "@127.0.0.1:%d/cam", rtsp_free_port());
    session_post(&r, "closed", url, "");
    expect_error(&r, 502, "ALL_CAMERAS_FAILED");
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/sessions/closed", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    assert_string_equal(jstr(r.json, "data.reason"), "ALL_CAMERAS_FAILED");
    e2e_resp_free(&r);
    /* a registered camera */
    req(&g_srv, &r, "POST", "/api/v1/cameras", g_cl.hdr, "{\"name\":\"Door\",\"url\":\"%s\"}", url);
    expect_ok(&r, 201);
    char path[64];
    snprintf(path, sizeof path, "/api/v1/cameras/%lld", jint(r.json, "data.id"));
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", path, g_cl.hdr, NULL);
    expect_ok(&r, 200);
    e2e_resp_free(&r);
    req(&g_srv, &r, "GET", "/api/v1/cameras", g_cl.hdr, NULL);
    expect_ok(&r, 200);
    e2e_resp_free(&r);
    /* no answer of this run held it (req searches each one) */
    assert_int_equal(g_leaks, 0);
    /* no callback, to any path */
    e2e_http(g_rv.port, "GET", "/_log", NULL, NULL, NULL, 0, &r);
    expect_status(&r, 200);
    assert_true(r.body_len > 0);
    assert_non_null(strstr(r.body, "/cb/every"));
    assert_null(strstr(r.body, PASSWORD));
    e2e_resp_free(&r);
    /* no log line: the server's log holds the camera's URLs, redacted */
    assert_false(file_has(g_srv.log, PASSWORD));
    assert_true(file_has(g_srv.log, "rtsp://user:"));
}

/* ---- the group ------------------------------------------------------------------ */

static int start_all(void) {
    char server[256], va[128], vb[128];
    snprintf(server, sizeof server, "%s/tests/sessions/rtsp_server", e2e_build_dir());
    if (!e2e_have_models()) return g_skip = "models missing (make models)", 0;
    if (access(server, X_OK) != 0) return g_skip = "rtsp_server not built (make build/tests/sessions/rtsp_server)", 0;
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0) return g_skip = "the ffmpeg CLI is missing (make deps)", 0;
    snprintf(g_dir, sizeof g_dir, "/tmp/fr_sessions_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(va, sizeof va, "%s/a.mp4", g_dir);
    snprintf(vb, sizeof vb, "%s/b.mp4", g_dir);
    const struct seg a[] = { { NULL, 1 },
                             { "Colin_Powell_0049", 2.5 },
                             { "Hugo_Chavez_0002", 3 },
                             { "Serena_Williams_0003", 2.5 },
                             { "Tony_Blair_0018", 3 },
                             { "Colin_Powell_0049", 2.5 },
                             { "Hugo_Chavez_0027", 2.5 } };
    const struct seg b[] = { { NULL, 1 }, { "Hugo_Chavez_0002", 3 }, { "Tony_Blair_0018", 3 }, { "Hugo_Chavez_0027", 3 } };
    if (make_video(a, 7, va) < 0 || make_video(b, 4, vb) < 0) return g_skip = "ffmpeg could not make the videos", 0;
    if (receiver_start(&g_rv, 0, NULL) != 0) return -1;
    rv_control(&g_rv, "{\"path\":\"/cb/first\",\"secrets\":[\"" SECRET "\"]}");
    if (e2e_server_start(&g_srv, NULL, g_env) != 0) return -1;
    if (rtsp_server_start(server, va, &g_cam_a) < 0 || rtsp_server_start(server, vb, &g_cam_b) < 0) return -1;
    new_client(&g_srv, &g_cl, "sessions");
    g_colin = enrol(&g_srv, &g_cl, "Colin Powell", "emp-colin", FIX "Colin_Powell_0040.jpg");
    g_serena = enrol(&g_srv, &g_cl, "Serena Williams", "emp-serena", FIX "Serena_Williams_0001.jpg");
    /* the long sessions, side by side */
    char url[128], extra[256];
    cam_url(&g_cam_a, 0, url, sizeof url);
    snprintf(extra, sizeof extra, ",\"callback_secret\":\"%s\",\"duration_seconds\":%.1f", SECRET, LONG_DURATION_A);
    session_start(&g_first, url, extra);
    cam_url(&g_cam_a, 1, url, sizeof url);
    snprintf(extra, sizeof extra, ",\"mode\":\"every\",\"cooldown_seconds\":%d,\"duration_seconds\":%.1f", COOLDOWN_S,
             LONG_DURATION_A);
    session_start(&g_every, url, extra);
    cam_url(&g_cam_b, 0, url, sizeof url);
    snprintf(extra, sizeof extra, ",\"mode\":\"every\",\"cooldown_seconds\":0,\"duration_seconds\":%.1f",
             LONG_DURATION_B);
    session_start(&g_strangers, url, extra);
    return 0;
}

static int group_teardown(void **state);

static int group_setup(void **state) {
    (void)state;
    json_set_alloc_funcs(fr_malloc, fr_free);
    g_cam_a.pid = g_cam_b.pid = -1;
    const double t0 = fr_time_ms();
    int rc = start_all();
    if (rc < 0) {
        fprintf(stderr, "setup failed: %s\n", g_last);
        group_teardown(state);
    } else fprintf(stderr, "setup: %.1f s%s%s\n", (fr_time_ms() - t0) / 1000, g_skip ? "; skipping: " : "",
                 g_skip ? g_skip : "");
    return rc;
}

/* Before each test: a server or receiver that a failed test left behind is stopped. */
static int each_setup(void **state) {
    (void)state;
    g_last[0] = '\0';
    e2e_server_cleanup_others(&g_srv);
    receivers_cleanup_others(&g_rv);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    int rc = g_srv.pid > 0 ? e2e_server_stop(&g_srv) : 0;
    if (rc != 0) {
        fprintf(stderr, "facerec exit status %d after SIGTERM\n", rc);
        e2e_log_tail(&g_srv, 3000);
    }
    e2e_server_cleanup(&g_srv);
    e2e_server_cleanup_others(NULL);
    receiver_cleanup(&g_rv);
    receivers_cleanup_others(NULL);
    rtsp_server_stop(&g_cam_a, SIGTERM);
    rtsp_server_stop(&g_cam_b, SIGTERM);
    if (g_dir[0] && !getenv("E2E_KEEP")) nftw(g_dir, e2e_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : -1;
}

int main(void) {
    /* SES_TESTS=test_every (a cmocka filter) runs only those */
    if (getenv("SES_TESTS")) cmocka_set_test_filter(getenv("SES_TESTS"));
    const struct CMUnitTest tests[] = {
        /* the short ones first, while the long sessions play */
        cmocka_unit_test_setup(test_not_found_conflict_stop, each_setup),
        cmocka_unit_test_setup(test_duration_ended, each_setup),
        cmocka_unit_test_setup(test_backend_unresponsive, each_setup),
        cmocka_unit_test_setup(test_cameras_crud, each_setup),
        cmocka_unit_test_setup(test_first_seen, each_setup),
        cmocka_unit_test_setup(test_strangers, each_setup),
        cmocka_unit_test_setup(test_every, each_setup),
        cmocka_unit_test_setup(test_password_never_shown, each_setup),
    };
    return cmocka_run_group_tests_name("sessions", tests, group_setup, group_teardown);
}
