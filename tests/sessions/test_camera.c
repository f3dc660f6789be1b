/* Camera reader against a real RTSP server (tests/sessions/rtsp_server.c,
 * gst-rtsp-server) serving an H.264 mp4 made here with the ffmpeg CLI from the
 * committed face photos: 2 s of each at 25 fps, 640x480, a key frame every 25
 * frames, 3 B-frames without b-pyramid (non-reference, as x264 makes them
 * for most cameras' main profile).
 *
 * Every server is started on a free loopback port and stopped by its PID
 * (rtsp_fixture.h).
 * stderr is captured for the whole run: the last test checks that the
 * camera's password ("secret") appears in no log line, then the capture is
 * copied back to the real stderr. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "rtsp_fixture.h"
#include "sessions/camera.h"

static char g_dir[64];
static char g_video[128];
static char g_server[256];
static char g_capture[128];
static int g_saved_stderr = -1;
static const char *g_skip;   /* why the stream tests cannot run, or NULL */
static int g_frames_in_video;

/* ---- fixtures ---- */

static int server_start(struct rtsp_server *s) { return rtsp_server_start(g_server, g_video, s); }
static void server_stop(struct rtsp_server *s) { rtsp_server_stop(s, SIGKILL); }

/* What the callbacks saw. */
#define MAXF 512
struct rec {
    pthread_mutex_t mu;
    int n;
    int64_t pts[MAXF], wall[MAXF];
    int w, h, channels, bad_pixels;
    int nstates;
    int states[16];
    double state_ms[16];
    char reasons[16][160];
};

static void rec_frame(void *ctx, const struct fr_image *rgb, int64_t pts_ms, int64_t wall_ms) {
    struct rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAXF) { r->pts[r->n] = pts_ms; r->wall[r->n] = wall_ms; }
    r->n++;
    r->w = rgb->w, r->h = rgb->h, r->channels = rgb->channels;
    /* a decoded photo is not a flat grey frame */
    int lo = 255, hi = 0;
    for (int i = 0; i < rgb->w * rgb->h * 3; i += 997) {
        if (rgb->data[i] < lo) lo = rgb->data[i];
        if (rgb->data[i] > hi) hi = rgb->data[i];
    }
    if (hi - lo < 20) r->bad_pixels++;
    pthread_mutex_unlock(&r->mu);
}

static void rec_state(void *ctx, int state, const char *reason) {
    struct rec *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->nstates < 16) {
        r->states[r->nstates] = state;
        r->state_ms[r->nstates] = fr_time_ms();
        snprintf(r->reasons[r->nstates], sizeof r->reasons[0], "%s", reason);
        r->nstates++;
    }
    pthread_mutex_unlock(&r->mu);
}

static void rec_init(struct rec *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

static int rec_frames(struct rec *r) {
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* The index of the first state st, or -1; waits up to ms for it. */
static int wait_state(struct rec *r, int st, int ms) {
    double end = fr_time_ms() + ms;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int found = -1;
        for (int i = 0; i < r->nstates && found < 0; i++) if (r->states[i] == st) found = i;
        pthread_mutex_unlock(&r->mu);
        if (found >= 0 || fr_time_ms() > end) return found;
        usleep(10000);
    }
}

static int wait_frames(struct rec *r, int n, int ms) {
    double end = fr_time_ms() + ms;
    while (rec_frames(r) < n && fr_time_ms() < end) usleep(10000);
    return rec_frames(r) >= n;
}

static void opts_for(struct fr_camera_opts *o, struct rec *r, const char *url, double fps) {
    memset(o, 0, sizeof *o);
    o->url = url;
    o->fps = fps;
    o->on_frame = rec_frame;
    o->on_state = rec_state;
    o->ctx = r;
}

static void print_stats(const char *what, struct fr_camera *cam) {
    struct fr_camera_stats st;
    fr_camera_stats(cam, &st);
    fprintf(stdout, "  %s: read %lld, skipped %lld, decoded %lld, sampled %lld, dropped %lld, "
            "key-frame-only %d, gop %lld ms\n", what, (long long)st.read, (long long)st.skipped,
            (long long)st.decoded, (long long)st.sampled, (long long)st.dropped, st.keyframe_only,
            (long long)st.gop_ms);
    fflush(stdout);
}

/* A server and a camera on it, as the stream tests use them: rig_serve
 * starts the server and fills the options (user:secret@ in the URL), the
 * test adjusts them, rig_open opens the camera. */
struct rig {
    struct rtsp_server s;
    char url[128];
    struct rec r;
    struct fr_camera_opts o;
    struct fr_camera *cam;
};

static void rig_serve(struct rig *g, double fps) {
    assert_int_equal(server_start(&g->s), 0);
    snprintf(g->url, sizeof g->url, "rtsp://user:secret@127.0.0.1:%d/cam", g->s.port);
    rec_init(&g->r);
    opts_for(&g->o, &g->r, g->url, fps);
}

static void rig_open(struct rig *g) {
    if (fr_camera_open(&g->o, &g->cam) < 0) { server_stop(&g->s); fail_msg("open: %s", fr_err_detail()); }
}

#define SKIP_IF_NO_STREAM() do { if (g_skip) { fprintf(stdout, "skipped: %s\n", g_skip); skip(); } } while (0)

static int group_setup(void **state) {
    (void)state;
    fr_log_set_level(FR_LOG_DEBUG);
    snprintf(g_dir, sizeof g_dir, "/tmp/fr_camera_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_capture, sizeof g_capture, "%s/stderr.log", g_dir);
    int fd = open(g_capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    fflush(stderr);
    g_saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);

    const char *build = getenv("BUILD");
    snprintf(g_server, sizeof g_server, "%s/tests/sessions/rtsp_server", build && build[0] ? build : "build");
    snprintf(g_video, sizeof g_video, "%s/cam.mp4", g_dir);
    if (access(g_server, X_OK) != 0) { g_skip = "rtsp_server not built (make build/tests/sessions/rtsp_server)"; return 0; }
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0) { g_skip = "the ffmpeg CLI is missing (make deps)"; return 0; }
    /* 2 s of each photo, 640x480, 25 fps */
    char cmd[12288], inputs[4096] = "", filt[4096] = "", cat[512] = "";
    const char *photos[] = { "AJ_Lamas_0001", "Aaron_Peirsol_0001", "Aaron_Peirsol_0003", "obama_small",
                             "antispoof_F1", "antispoof_T1", "antispoof_F2" };
    int np = (int)(sizeof photos / sizeof photos[0]);
    for (int i = 0; i < np; i++) {
        size_t l = strlen(inputs);
        snprintf(inputs + l, sizeof inputs - l, " -loop 1 -t 2 -i tests/fixtures/faces/%s.jpg", photos[i]);
        l = strlen(filt);
        snprintf(filt + l, sizeof filt - l, "[%d:v]scale=640:480,setsar=1,format=yuv420p[v%d];", i, i);
        l = strlen(cat);
        snprintf(cat + l, sizeof cat - l, "[v%d]", i);
    }
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y%s -filter_complex '%s%sconcat=n=%d:v=1:a=0,fps=25[out]' -map '[out]' "
             "-c:v libx264 -preset ultrafast -g 25 -keyint_min 25 -sc_threshold 0 -bf 3 "
             "-x264-params b-pyramid=none -pix_fmt yuv420p %s 2>&1",
             inputs, filt, cat, np, g_video);
    if (system(cmd) != 0) { g_skip = "ffmpeg could not make the test video"; return 0; }
    g_frames_in_video = np * 50;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    fflush(stderr);
    if (g_saved_stderr >= 0) {
        dup2(g_saved_stderr, 2);
        close(g_saved_stderr);
        FILE *f = fopen(g_capture, "r");
        if (f) {   /* the log lines, for whoever reads a failure */
            char line[2048];
            while (fgets(line, sizeof line, f)) fputs(line, stderr);
            fclose(f);
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return 0;
}

/* ---- tests ---- */

static void expect_url_error(const char *url, int allow_files) {
    assert_int_equal(fr_camera_check_url(url, allow_files), -FR_E_VALIDATION_ERROR);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "url");
}

static void test_check_url(void **state) {
    (void)state;
    assert_int_equal(fr_camera_check_url("rtsp://u:p@10.0.0.5:554/stream1", 0), 0);
    assert_int_equal(fr_camera_check_url("RTSPS://cam.example/x", 0), 0);
    assert_int_equal(fr_camera_check_url("http://cam/mjpg/video.mjpg", 0), 0);
    assert_int_equal(fr_camera_check_url("https://cdn/live.m3u8", 0), 0);
    assert_int_equal(fr_camera_check_url("file:///tmp/x.mp4", 1), 0);
    expect_url_error("file:///tmp/x.mp4", 0);
    expect_url_error(NULL, 0);
    expect_url_error("", 0);
    expect_url_error("ftp://host/x", 0);
    expect_url_error("concat:a|b", 0);
    expect_url_error("/etc/passwd", 0);
    expect_url_error("rtsp://host/a b", 0);
    expect_url_error("rtsp:///nohost", 0);
    expect_url_error("rtsp://host/\r\nx", 0);
    char *big = malloc(FR_CAMERA_URL_MAX + 16);
    assert_non_null(big);
    memcpy(big, "rtsp://h/", 9);
    memset(big + 9, 'a', FR_CAMERA_URL_MAX);
    big[FR_CAMERA_URL_MAX + 9] = 0;
    expect_url_error(big, 0);
    free(big);
    /* fr_camera_open validates before it connects */
    struct rec r;
    rec_init(&r);
    struct fr_camera_opts o;
    struct fr_camera *cam = (struct fr_camera *)&r;
    opts_for(&o, &r, "gopher://x/", 5);
    assert_int_equal(fr_camera_open(&o, &cam), -FR_E_VALIDATION_ERROR);
    assert_null(cam);
    opts_for(&o, &r, "rtsp://127.0.0.1:1/x", 0);
    assert_int_equal(fr_camera_open(&o, &cam), -FR_E_VALIDATION_ERROR);
    assert_string_equal(fr_err_value(), "fps");
    opts_for(&o, &r, "rtsp://127.0.0.1:1/x", 5);
    o.transport = 7;
    assert_int_equal(fr_camera_open(&o, &cam), -FR_E_VALIDATION_ERROR);
    assert_string_equal(fr_err_value(), "transport");
}

static void test_redact(void **state) {
    (void)state;
    char out[256];
    fr_camera_redact("rtsp://admin:secret@10.0.0.5:554/s1?x=1", out, sizeof out);
    assert_string_equal(out, "rtsp://admin:****@10.0.0.5:554/s1?x=1");
    fr_camera_redact("rtsp://admin@10.0.0.5/s1", out, sizeof out);
    assert_string_equal(out, "rtsp://admin@10.0.0.5/s1");
    fr_camera_redact("rtsp://10.0.0.5/s1", out, sizeof out);
    assert_string_equal(out, "rtsp://10.0.0.5/s1");
    fr_camera_redact("rtsp://a:p@ss:w@h/x", out, sizeof out);   /* an unescaped @ in the password */
    assert_string_equal(out, "rtsp://a:****@h/x");
    fr_camera_redact("opening 'http://u:secret@h/a' and rtsp://v:secret2@g failed", out, sizeof out);
    assert_string_equal(out, "opening 'http://u:****@h/a' and rtsp://v:****@g failed");
    fr_camera_redact("rtsp://admin:secret@10.0.0.5/", out, 12);   /* truncated, still terminated */
    assert_int_equal(strlen(out), 11);
    fr_camera_redact(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

/* 5 fps from a 25 fps stream: the rate, the images, and how little was decoded. */
static void test_rtsp_sampled(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    struct rig g;
    rig_serve(&g, 5);
    double t0 = fr_time_ms();
    rig_open(&g);
    fprintf(stdout, "  open + probe: %.0f ms\n", fr_time_ms() - t0);
    assert_true(wait_frames(&g.r, 1, 5000));
    usleep(4000 * 1000);
    fr_camera_stop(g.cam);
    server_stop(&g.s);
    assert_int_equal(g.r.states[0], FR_CAMERA_CONNECTED);
    assert_int_equal(g.r.w, 640);
    assert_int_equal(g.r.h, 480);
    assert_int_equal(g.r.channels, 3);
    assert_int_equal(g.r.bad_pixels, 0);
    int n = g.r.n < MAXF ? g.r.n : MAXF;
    assert_true(n >= 10);
    /* pts: one frame every 200 ms */
    double mean = (double)(g.r.pts[n - 1] - g.r.pts[0]) / (n - 1);
    double wall = (double)(g.r.wall[n - 1] - g.r.wall[0]) / (n - 1);
    fprintf(stdout, "  5 fps asked: %d frames, mean pts step %.1f ms, mean wall step %.1f ms\n", n, mean, wall);
    assert_true(fabs(mean - 200) <= 10);
    assert_true(wall > 150 && wall < 250);
    int odd = 0;
    for (int i = 1; i < n; i++) {
        int64_t step = g.r.pts[i] - g.r.pts[i - 1];
        if (step < 160 || step > 240) {
            fprintf(stdout, "  pts step %d: %lld -> %lld\n", i, (long long)g.r.pts[i - 1], (long long)g.r.pts[i]);
            odd++;
        }
    }
    assert_true(odd <= 1);
}

/* The same, with the counters read while the camera runs. */
static void run_counts(double fps, int seconds, int expect_keyonly, double max_decoded) {
    struct rig g;
    rig_serve(&g, fps);
    rig_open(&g);
    usleep((useconds_t)seconds * 1000 * 1000);
    struct fr_camera_stats st;
    fr_camera_stats(g.cam, &st);
    char what[64];
    snprintf(what, sizeof what, "%.1f fps for %d s", fps, seconds);
    print_stats(what, g.cam);
    fr_camera_stop(g.cam);
    server_stop(&g.s);
    assert_true(st.read >= 20 * seconds);   /* 25 fps at real time, less the start */
    /* the counters were read while the camera ran: a frame may be in flight */
    assert_true(g.r.n >= st.sampled && g.r.n <= st.sampled + 1);
    assert_true(st.decoded >= st.sampled + st.dropped && st.decoded <= st.sampled + st.dropped + 1);
    assert_int_equal(st.keyframe_only, expect_keyonly);
    /* the stream time read (25 fps; what the probe read is buffered, so more than the wall time) */
    double want = (fps < 25 ? fps : 25) * (double)st.read / 25;
    assert_true(st.sampled >= want * 0.8 - 1 && st.sampled <= want * 1.1 + 1);
    assert_true((double)st.decoded <= max_decoded * (double)st.read);
}

static void test_rtsp_counts_5fps(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    run_counts(5, 5, 0, 0.5);   /* I and P frames (1 in 4) plus one B frame per slot */
}

static void test_rtsp_keyframes_only(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    run_counts(0.5, 6, 1, 0.1);   /* the key frames that are due, nothing else */
}

static void test_rtsp_full_rate(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    run_counts(25, 3, 0, 1.0);
}

/* "transport": "udp": RTP over UDP on loopback */
static void test_rtsp_udp(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    struct rig g;
    rig_serve(&g, 5);
    g.o.transport = FR_CAMERA_UDP;
    rig_open(&g);
    int got = wait_frames(&g.r, 10, 6000);
    print_stats("udp, 5 fps", g.cam);
    fr_camera_stop(g.cam);
    server_stop(&g.s);
    assert_true(got);
    assert_int_equal(g.r.w, 640);
}

/* http: MJPEG (multipart/x-mixed-replace) served by the ffmpeg CLI: an
 * intra-only codec, so only the sampled frames are decoded. */
static void test_http_mjpeg(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    int port = rtsp_free_port();
    char listen_url[64], url[128];
    snprintf(listen_url, sizeof listen_url, "http://127.0.0.1:%d/cam.mjpg", port);
    snprintf(url, sizeof url, "http://user:secret@127.0.0.1:%d/cam.mjpg", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) { dup2(dn, 1); dup2(dn, 2); }
        execlp("ffmpeg", "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", g_video, "-c:v", "mjpeg", "-q:v", "5",
               "-f", "mpjpeg", "-listen", "1", listen_url, (char *)NULL);
        _exit(127);
    }
    struct rec r;
    rec_init(&r);
    struct fr_camera_opts o;
    opts_for(&o, &r, url, 5);
    struct fr_camera *cam = NULL;
    int rc = -1;
    for (int i = 0; i < 50 && rc < 0; i++) {   /* until it listens: a refused connect costs it nothing */
        rc = fr_camera_open(&o, &cam);
        if (rc < 0) usleep(100 * 1000);
    }
    int got = rc == 0 && wait_frames(&r, 10, 6000);
    struct fr_camera_stats st = { 0 };
    if (cam) {
        fr_camera_stats(cam, &st);
        print_stats("http mjpeg, 5 fps", cam);
    }
    fr_camera_stop(cam);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(rc, 0);
    assert_true(got);
    assert_int_equal(r.w, 640);
    assert_int_equal(st.keyframe_only, 1);
    assert_true(st.decoded <= st.sampled + 1);
    assert_true(st.read >= 3 * st.decoded);
}

static void test_server_killed(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    struct rig g;
    rig_serve(&g, 5);
    g.o.reconnect_attempts = 2;
    g.o.reconnect_delay_ms = 200;
    g.o.open_timeout_ms = 1000;
    rig_open(&g);
    assert_true(wait_frames(&g.r, 2, 5000));
    double killed = fr_time_ms();
    server_stop(&g.s);   /* SIGKILL */
    int d = wait_state(&g.r, FR_CAMERA_DISCONNECTED, 3000);
    int dead = wait_state(&g.r, FR_CAMERA_DEAD, 5000);
    fr_camera_stop(g.cam);
    assert_true(d > 0 && dead > d);
    fprintf(stdout, "  killed: disconnected (%s) after %.0f ms, dead (%s) after %.0f ms\n", g.r.reasons[d],
            g.r.state_ms[d] - killed, g.r.reasons[dead], g.r.state_ms[dead] - killed);
    assert_true(g.r.state_ms[d] - killed < 1500);
    /* 2 attempts x (200 ms delay + a refused connect) */
    assert_true(g.r.state_ms[dead] - killed < 2500);
    assert_non_null(strstr(g.r.reasons[dead], "reconnect failed (2 attempts)"));
    assert_null(strstr(g.r.reasons[dead], "secret"));
}

static void test_server_stalled(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    struct rig g;
    rig_serve(&g, 5);
    g.o.read_timeout_ms = 1000;
    g.o.open_timeout_ms = 500;
    g.o.reconnect_attempts = 1;
    g.o.reconnect_delay_ms = 100;
    rig_open(&g);
    assert_true(wait_frames(&g.r, 2, 5000));
    double stopped = fr_time_ms();
    kill(g.s.pid, SIGSTOP);   /* alive (the socket stays open), sends nothing */
    int d = wait_state(&g.r, FR_CAMERA_DISCONNECTED, 3000);
    int dead = wait_state(&g.r, FR_CAMERA_DEAD, 3000);   /* the reconnect's handshake times out */
    fr_camera_stop(g.cam);
    server_stop(&g.s);   /* SIGCONT + SIGKILL */
    assert_true(d > 0);
    fprintf(stdout, "  stalled: disconnected (%s) after %.0f ms (deadline 1000), dead (%s) after %.0f ms\n",
            g.r.reasons[d], g.r.state_ms[d] - stopped, dead > 0 ? g.r.reasons[dead] : "-",
            dead > 0 ? g.r.state_ms[dead] - stopped : -1.0);
    assert_string_equal(g.r.reasons[d], "stalled");
    assert_true(g.r.state_ms[d] - stopped < 1500);
    assert_true(dead > d);
    assert_non_null(strstr(g.r.reasons[dead], "timed out"));
}

static void test_open_failures(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    struct rec r;
    rec_init(&r);
    struct fr_camera_opts o;
    struct fr_camera *cam;
    char url[128];
    /* nothing listens */
    snprintf(url, sizeof url, "rtsp://user:secret@127.0.0.1:%d/cam", rtsp_free_port());
    opts_for(&o, &r, url, 5);
    double t0 = fr_time_ms();
    assert_int_equal(fr_camera_open(&o, &cam), -FR_E_SERVICE_UNAVAILABLE);
    assert_null(cam);
    fprintf(stdout, "  refused: %.0f ms: %s\n", fr_time_ms() - t0, fr_err_detail());
    assert_true(fr_time_ms() - t0 < 2000);
    assert_null(strstr(fr_err_detail(), "secret"));
    assert_non_null(strstr(fr_err_detail(), "user:****@"));
    /* a listener that never answers: the open deadline */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof url, "rtsp://user:secret@127.0.0.1:%d/cam", ntohs(a.sin_port));
    opts_for(&o, &r, url, 5);
    o.open_timeout_ms = 700;
    t0 = fr_time_ms();
    assert_int_equal(fr_camera_open(&o, &cam), -FR_E_SERVICE_UNAVAILABLE);
    double took = fr_time_ms() - t0;
    fprintf(stdout, "  silent server: %.0f ms (open deadline 700): %s\n", took, fr_err_detail());
    close(fd);
    assert_true(took >= 650 && took < 1500);
    assert_non_null(strstr(fr_err_detail(), "timed out"));
    /* a live server, a wrong path */
    struct rtsp_server s;
    assert_int_equal(server_start(&s), 0);
    snprintf(url, sizeof url, "rtsp://user:secret@127.0.0.1:%d/nope", s.port);
    opts_for(&o, &r, url, 5);
    t0 = fr_time_ms();
    int rc = fr_camera_open(&o, &cam);
    server_stop(&s);
    fprintf(stdout, "  wrong path: %.0f ms: %s\n", fr_time_ms() - t0, fr_err_detail());
    assert_int_equal(rc, -FR_E_SERVICE_UNAVAILABLE);
    assert_int_equal(r.nstates, 0);
}

static void test_files(void **state) {
    (void)state;
    SKIP_IF_NO_STREAM();
    char url[200];
    snprintf(url, sizeof url, "file://%s", g_video);
    struct rec r;
    rec_init(&r);
    struct fr_camera_opts o;
    struct fr_camera *cam;
    opts_for(&o, &r, url, 5);
    assert_int_equal(fr_camera_open(&o, &cam), -FR_E_VALIDATION_ERROR);
    assert_string_equal(fr_err_value(), "url");
    o.allow_files = 1;
    assert_int_equal(fr_camera_open(&o, &cam), 0);
    int dead = wait_state(&r, FR_CAMERA_DEAD, 10000);
    print_stats("file, 5 fps", cam);
    struct fr_camera_stats st;
    fr_camera_stats(cam, &st);
    fr_camera_stop(cam);
    assert_true(dead > 0);
    assert_string_equal(r.reasons[dead], "eof");
    assert_int_equal(st.read, g_frames_in_video);
    /* 14 s of video at 5 fps */
    assert_true(r.n >= g_frames_in_video / 5 - 2 && r.n <= g_frames_in_video / 5 + 1);
    assert_true(st.decoded * 2 <= st.read);
}

/* Last: nothing logged carried the password. */
static void test_no_password_logged(void **state) {
    (void)state;
    fflush(stderr);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fr_file_read(g_capture, 64 << 20, &buf, &len), 0);
    char *text = fr_malloc(len + 1);
    assert_non_null(text);
    memcpy(text, buf, len);
    text[len] = 0;
    fr_free(buf);
    fprintf(stdout, "  %zu bytes of log; \"secret\" %s; \"user:****@\" %s\n", len,
            strstr(text, "secret") ? "FOUND" : "absent", strstr(text, "user:****@") ? "present" : "absent");
    if (!g_skip) assert_non_null(strstr(text, "user:****@"));
    assert_null(strstr(text, "secret"));
    fr_free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_url),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_rtsp_sampled),
        cmocka_unit_test(test_rtsp_counts_5fps),
        cmocka_unit_test(test_rtsp_keyframes_only),
        cmocka_unit_test(test_rtsp_full_rate),
        cmocka_unit_test(test_rtsp_udp),
        cmocka_unit_test(test_http_mjpeg),
        cmocka_unit_test(test_server_killed),
        cmocka_unit_test(test_server_stalled),
        cmocka_unit_test(test_open_failures),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_no_password_logged),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
