/* make bench: what one camera of a recognition session costs. One 720p25
 * H.264 RTSP stream with faces, read by fr_camera at 5 fps:
 *   decode-only:  on_frame does nothing (decoding + RGB of the sampled frames);
 *   recognition:  on_frame runs fr_svc_identify_frame (one worker context,
 *                 threads = 1) against a client with two people enrolled, then
 *                 feeds the tracker (fr_tracker_frame), as a session runner will;
 *   ffmpeg CLI:   the peer, `ffmpeg -threads 1 -rtsp_transport tcp -i rtsp://... -f null -`
 *                 decoding every frame of the same stream, its CPU from wait4.
 * The figure is CPU per second of stream (process user + system, all
 * threads; the peer's from its own rusage), i.e. the share of one core a
 * camera takes; "cameras per core" is 1 / that share, a derived figure (one
 * core would also serve the HTTP API, the tracker's callbacks, ...).
 *
 * The stream: made here with the ffmpeg CLI from the committed photos (x264
 * veryfast, main profile, no B-frames, a key frame every 2 s, 2 Mbit/s: an
 * IP camera's usual encoding), the photos scaled so that faces are ~150-250 px
 * and drifting sideways over a noisy grey canvas, changing every 2-4 s. It is
 * served at its real rate by tests/sessions/rtsp_server (gst-rtsp-server) on a
 * free loopback port, each pass a fresh connection from the stream's start;
 * the passes run one after another, never at once.
 *
 * Recognition runs on the camera's thread. A sampled frame that arrives more
 * than one sampling period behind the stream's clock (the analysis before it
 * took too long) is not analysed, as a live session must not fall behind: the
 * table says how many were analysed of those sampled.
 *
 *   build/bench/session_bench [repetitions, default 3]
 * FACEREC_MODELS_DIR (default models), BUILD (default build: where rtsp_server is). */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "facerec/base.h"
#include "facerec/image.h"
#include "facerec/openset.h"
#include "service/service.h"
#include "sessions/camera.h"
#include "sessions/track.h"

#include "../tests/jobs/outbox_fixture.h"
#include "../tests/sessions/rtsp_fixture.h"
#include "bench_util.h"

#define SECONDS 20
#define FPS 5.0
#define MAX_REPS 10
#define MAX_FRAMES 1024          /* sampled frames one pass may record */
#define PASS_WAIT_MS ((SECONDS + 15) * 1000)

/* What the stream shows: each photo scaled to w x h at (x, y), drifting
 * +-30 px, from t0 to t1 s. Aaron Peirsol and Leonard are enrolled (from other
 * photos of theirs: ENROLLED below); the others are strangers. */
static const struct scene {
    const char *photo;
    int w, h, x, y;
    int t0, t1;
} scenes[] = {
    { "faces/Aaron_Peirsol_0003.jpg", 420, 420, 120, 150, 0, 8 },
    { "faces/AJ_Lamas_0001.jpg", 420, 420, 740, 150, 4, 8 },
    { "faces/obama_small.jpg", 560, 420, 360, 150, 8, 12 },
    { "e2e/precropped_leonard5.png", 220, 220, 200, 250, 12, 16 },
    { "e2e/precropped_carell.png", 220, 220, 800, 250, 12, 16 },
    { "e2e/two_faces.jpg", 900, 450, 190, 135, 16, 18 },
    { "faces/antispoof_T1.jpg", 360, 480, 460, 120, 18, 20 },
};
#define NSCENES ((int)(sizeof scenes / sizeof scenes[0]))

static const struct { const char *name, *photo; } ENROLLED[] = {
    { "Aaron Peirsol", "tests/fixtures/faces/Aaron_Peirsol_0001.jpg" },
    { "Leonard", "tests/fixtures/e2e/leonard1.png" },
};

static int make_video(const char *path) {
    char cmd[8192], inputs[2048] = "", filt[4096] = "";
    size_t li = 0, lf = 0;
    lf += (size_t)snprintf(filt, sizeof filt, "[0:v]noise=alls=6:allf=t[bg0];");
    for (int i = 0; i < NSCENES && li < sizeof inputs && lf < sizeof filt; i++) {
        const struct scene *s = &scenes[i];
        li += (size_t)snprintf(inputs + li, sizeof inputs - li, " -loop 1 -i tests/fixtures/%s", s->photo);
        lf += (size_t)snprintf(filt + lf, sizeof filt - lf,
                               "[%d:v]scale=%d:%d,setsar=1[p%d];[bg%d][p%d]overlay=x='%d%c30*sin(t)':y=%d:"
                               "enable='between(t,%d,%d)'%s[bg%d];", i + 1, s->w, s->h, i, i, i, s->x,
                               i % 2 ? '-' : '+', s->y, s->t0, s->t1, i == 0 ? ":shortest=1" : "", i + 1);
    }
    if (li >= sizeof inputs || lf >= sizeof filt) return -1;
    filt[lf - 1] = 0;   /* the last ';' */
    int n = snprintf(cmd, sizeof cmd,
                     "ffmpeg -nostdin -v error -y -f lavfi -i color=c=0x4a5058:s=1280x720:r=25:d=%d%s "
                     "-filter_complex \"%s\" -map '[bg%d]' -t %d -c:v libx264 -preset veryfast -profile:v main "
                     "-bf 0 -g 50 -keyint_min 50 -sc_threshold 0 -b:v 2M -maxrate 2M -bufsize 2M "
                     "-pix_fmt yuv420p '%s'", SECONDS, inputs, filt, NSCENES, SECONDS, path);
    if (n < 0 || (size_t)n >= sizeof cmd) return -1;
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- one pass over the stream ---- */

struct pass {
    pthread_mutex_t mu;
    int dead;
    /* set before the pass */
    int recognise;
    struct fr_service *svc;
    int64_t client;
    struct fr_tracker *trk;
    /* the camera thread's, read after fr_camera_stop */
    int started;
    int64_t wall0, pts0;
    int sampled, analysed, late, faces, errors;
    double ms[MAX_FRAMES];       /* per analysed frame: identify + tracker */
    int64_t reported[16];
    int nreported;
    /* results */
    double cpu_ms, wall_ms;
    struct fr_camera_stats st;
};

static void analyse(struct pass *p, const struct fr_image *rgb, int64_t wall_ms) {
    struct fr_svc_identify_req r = { .client_id = p->client, .threshold = -1 };
    struct fr_svc_identify_result ir;
    struct fr_svc_timing t = { 0 };
    double t0 = fr_time_ms();
    if (fr_svc_identify_frame(p->svc, rgb, &r, &t, &ir) < 0) { p->errors++; return; }
    static struct fr_tracker_face faces[FR_TRACKER_MAX_FACES];   /* the camera thread's only */
    int n = ir.n < FR_TRACKER_MAX_FACES ? ir.n : FR_TRACKER_MAX_FACES;
    for (int i = 0; i < n; i++) {
        const struct fr_svc_identified *d = &ir.faces[i];
        faces[i] = (struct fr_tracker_face){
            .quality = d->face.q.score, .emb = d->face.f.has_emb ? d->face.f.emb : NULL,
            .decision = d->decision, .subject_id = d->match >= 0 ? d->cands[d->match].subject_id : 0,
            .similarity = d->n_cands ? d->cands[0].similarity : 0, .frame_ref = p->sampled, .face_index = i };
        memcpy(faces[i].box, d->face.f.box, sizeof faces[i].box);
    }
    const struct fr_tracker_report *rep;
    int nrep = 0;
    if (fr_tracker_frame(p->trk, 0, wall_ms, faces, n, &rep, &nrep) < 0) p->errors++;
    double ms = fr_time_ms() - t0;
    for (int i = 0; i < nrep; i++)
        if (rep[i].kind == FR_TRACKER_REPORT_SUBJECT && p->nreported < 16)
            p->reported[p->nreported++] = rep[i].subject_id;
    fr_svc_identify_result_free(&ir);
    if (p->analysed < MAX_FRAMES) p->ms[p->analysed] = ms;
    p->analysed++;
    p->faces += n;
}

static void on_frame(void *ctx, const struct fr_image *rgb, int64_t pts_ms, int64_t wall_ms) {
    struct pass *p = ctx;
    p->sampled++;
    if (!p->recognise) return;
    if (!p->started) p->started = 1, p->wall0 = wall_ms, p->pts0 = pts_ms;
    if ((wall_ms - p->wall0) - (pts_ms - p->pts0) > (int64_t)(1000 / FPS)) { p->late++; return; }
    analyse(p, rgb, wall_ms);
}

static void on_state(void *ctx, int state, const char *reason) {
    (void)reason;
    struct pass *p = ctx;
    if (state != FR_CAMERA_DEAD) return;
    pthread_mutex_lock(&p->mu);
    p->dead = 1;
    pthread_mutex_unlock(&p->mu);
}

/* Reads the stream from its start to its end (the server's EOS; no
 * reconnect), measuring the process's CPU over it. */
static int run_pass(const char *url, struct pass *p) {
    pthread_mutex_init(&p->mu, NULL);
    struct fr_camera_opts o = { .url = url, .fps = FPS, .reconnect_attempts = -1, .on_frame = on_frame,
                                .on_state = on_state, .ctx = p };
    struct fr_camera *cam;
    double c0 = bench_cpu_ms(RUSAGE_SELF), t0 = fr_time_ms();
    if (fr_camera_open(&o, &cam) < 0) {
        fprintf(stderr, "session_bench: camera: %s\n", fr_err_detail());
        return -1;
    }
    int dead = 0;
    while (!dead && fr_time_ms() - t0 < PASS_WAIT_MS) {
        usleep(5000);
        pthread_mutex_lock(&p->mu);
        dead = p->dead;
        pthread_mutex_unlock(&p->mu);
    }
    p->cpu_ms = bench_cpu_ms(RUSAGE_SELF) - c0;
    p->wall_ms = fr_time_ms() - t0;
    fr_camera_stats(cam, &p->st);
    fr_camera_stop(cam);
    pthread_mutex_destroy(&p->mu);
    if (!dead) fprintf(stderr, "session_bench: the stream did not end within %d s\n", PASS_WAIT_MS / 1000);
    return dead ? 0 : -1;
}

/* The peer: the ffmpeg CLI decoding every frame of the stream on one thread;
 * its own CPU ms from wait4, or -1. Killed if it outlives the stream by 15 s. */
static double run_ffmpeg(const char *url) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execlp("ffmpeg", "ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-rtsp_transport", "tcp", "-i",
               url, "-f", "null", "-", (char *)NULL);
        _exit(127);
    }
    struct rusage ru;
    int status = 0;
    double end = fr_time_ms() + PASS_WAIT_MS;
    pid_t r;
    while ((r = wait4(pid, &status, WNOHANG, &ru)) == 0 && fr_time_ms() < end) usleep(10000);
    if (r == 0) {
        fprintf(stderr, "session_bench: ffmpeg did not end within %d s; killed\n", PASS_WAIT_MS / 1000);
        kill(pid, SIGKILL);
        wait4(pid, &status, 0, &ru);
        return -1;
    }
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return bench_rusage_ms(&ru);
}

/* ---- set-up: a service in a temp data dir, a client with two people ---- */

static int fail(const char *what) {
    fprintf(stderr, "session_bench: %s\n", what);
    return -1;
}

static int die(const char *what) {
    fprintf(stderr, "session_bench: %s: %s\n", what, fr_err_detail());
    return -1;
}

static int enrol(struct fr_service *s, int64_t client, int64_t ids[2]) {
    struct fr_svc_actor who = { client, NULL, NULL };
    for (int i = 0; i < 2; i++) {
        struct fr_svc_subject_fields f = { ENROLLED[i].name, NULL, NULL };
        struct fr_svc_subject subj;
        if (fr_svc_subject_create(s, &who, &f, &subj) < 0) return die("subject");
        ids[i] = subj.id;
        fr_svc_subject_free(&subj);
        uint8_t *photo = NULL;
        size_t len = 0;
        if (fr_file_read(ENROLLED[i].photo, 1 << 22, &photo, &len) < 0) return die(ENROLLED[i].photo);
        struct fr_svc_enroll_req er = { .who = who, .subject_id = ids[i], .photo = { photo, len, 0 } };
        struct fr_svc_enroll_result res;
        struct fr_svc_timing t = { 0 };
        int rc = fr_svc_enroll(s, &er, &t, &res);
        fr_free(photo);
        if (rc < 0) return die("enrol");
        fr_svc_enroll_result_free(&res);
    }
    return 0;
}

/* One identify on a still photo, so that the first measured frame does not
 * pay for the worker context's first allocations. */
static int warm_up(struct fr_service *s, int64_t client) {
    struct fr_image img = { 0 };
    if (fr_image_load("tests/fixtures/faces/Aaron_Peirsol_0003.jpg", NULL, &img) < 0) return die("warm-up photo");
    struct fr_svc_identify_req r = { .client_id = client, .threshold = -1 };
    struct fr_svc_identify_result ir;
    struct fr_svc_timing t = { 0 };
    int rc = fr_svc_identify_frame(s, &img, &r, &t, &ir);
    fr_image_free(&img);
    if (rc < 0) return die("warm-up identify");
    fr_svc_identify_result_free(&ir);
    return 0;
}

/* ---- the table ---- */

static double median(const double *v, int n) {
    double c[MAX_REPS];
    memcpy(c, v, (size_t)n * sizeof *v);
    return bench_pct(c, n, 0.5);
}

static void list(char *out, size_t len, const double *v, int n, double scale) {
    size_t l = 0;
    out[0] = 0;
    for (int i = 0; i < n && l < len; i++)
        l += (size_t)snprintf(out + l, len - l, "%s%.1f", i ? ", " : "", v[i] * scale);
}

static void row(const char *what, const double *cpu, int n, const char *extra) {
    char each[128];
    list(each, sizeof each, cpu, n, 1.0 / SECONDS);
    double m = median(cpu, n) / SECONDS;   /* ms of CPU per s of stream */
    printf("| %s | %.1f ms (%s) | %.1f %% | %.1f | %s |\n", what, m, each, m / 10, 1000 / m, extra);
}

static int bench(const char *url, struct fr_service *s, int64_t client, const int64_t ids[2], int reps) {
    static struct pass dec[MAX_REPS], rec[MAX_REPS];
    double cpu_dec[MAX_REPS], cpu_rec[MAX_REPS], cpu_ff[MAX_REPS];
    static double ms[MAX_REPS * MAX_FRAMES];
    int nms = 0;
    for (int k = 0; k < reps; k++) {
        printf("repetition %d of %d: ffmpeg CLI, decode-only, recognition (%d s each)\n", k + 1, reps, SECONDS);
        fflush(stdout);
        if ((cpu_ff[k] = run_ffmpeg(url)) < 0) return fail("the ffmpeg CLI failed on the stream");
        if (run_pass(url, &dec[k]) < 0) return -1;
        struct pass *p = &rec[k];
        p->recognise = 1, p->svc = s, p->client = client;
        if (fr_tracker_new(NULL, &p->trk) < 0) return die("tracker");
        int rc = run_pass(url, p);
        fr_tracker_free(p->trk);
        if (rc < 0) return -1;
        cpu_dec[k] = dec[k].cpu_ms, cpu_rec[k] = p->cpu_ms;
        for (int i = 0; i < p->analysed && i < MAX_FRAMES; i++) ms[nms++] = p->ms[i];
    }
    printf("\n| %d s of 720p25 H.264 over RTSP, 5 fps sampled | CPU per s of stream: median (each run) | "
           "share of a core | cameras per core (derived: 1 / share) | |\n|---|---|---|---|---|\n", SECONDS);
    row("ffmpeg CLI, every frame, 1 thread (peer)", cpu_ff, reps, "decodes all frames, no RGB");
    char extra[256];
    const struct fr_camera_stats *d = &dec[0].st;
    snprintf(extra, sizeof extra, "read %lld, decoded %lld, sampled %lld", (long long)d->read,
             (long long)d->decoded, (long long)d->sampled);
    row("fr_camera decode-only", cpu_dec, reps, extra);
    int sampled = 0, analysed = 0, late = 0, faces = 0, errors = 0;
    for (int k = 0; k < reps; k++)
        sampled += rec[k].sampled, analysed += rec[k].analysed, late += rec[k].late, faces += rec[k].faces,
            errors += rec[k].errors;
    snprintf(extra, sizeof extra, "analysed %d of %d sampled (%d late), %.1f faces per frame", analysed, sampled,
             late, analysed ? (double)faces / analysed : 0);
    row("fr_camera + identify + tracker", cpu_rec, reps, extra);
    double md = median(cpu_dec, reps), mf = median(cpu_ff, reps), mr = median(cpu_rec, reps);
    printf("\ndecode-only, ours / ffmpeg CLI: %.2f; recognition / decode-only: %.1fx\n", md / mf, mr / md);
    printf("recognition per analysed frame (identify_frame + tracker, %d frames): p50 %.1f ms, p99 %.1f ms, "
           "max %.1f ms\n", nms, bench_pct(ms, nms, 0.5), bench_pct(ms, nms, 0.99), bench_pct(ms, nms, 1.0));
    for (int k = 0; k < reps; k++) {
        printf("run %d reported:", k + 1);
        for (int i = 0; i < rec[k].nreported; i++)
            printf(" %s", rec[k].reported[i] == ids[0] ? ENROLLED[0].name
                          : rec[k].reported[i] == ids[1] ? ENROLLED[1].name : "somebody else (wrong)");
        printf("%s\n", rec[k].nreported ? "" : " nobody");
    }
    if (errors) printf("errors: %d identify or tracker calls failed\n", errors);
    return errors ? -1 : 0;
}

/* "2026-12-07T08:03:11.412Z" → unix ms, or -1. */
static int64_t seen_ms(const char *t) {
    struct tm tm = { 0 };
    int ms = 0;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Frame → callback: a real session (the service's runner, tracker, outbox
 * dispatcher and libcurl) on the stream, in `every` mode with no cooldown so
 * that each frame a person wins is a callback, to a loopback receiver; the
 * latency of each is its arrival minus its frame's wall time (seen_at). */
static int latency(const char *url, struct fr_service *s, const struct fr_svc_client *c) {
    static struct receiver rcv;
    if (rcv_start(&rcv, NULL, NULL) < 0) return fail("receiver");
    struct fr_outbox_opts oo = { .allow_private = 1 };
    fr_outbox_parse_schedule("0,1,3", &oo.policy);
    oo.policy.timeout_ms = 10000;
    char cb[128];
    snprintf(cb, sizeof cb, "http://127.0.0.1:%d/r/200/cb", rcv.port);
    struct fr_svc_session_camera_req cam = { .key = "bench", .url = url, .transport = -1 };
    struct fr_svc_session_req r = { .who = { c->id, NULL, NULL }, .slot_id = "latency", .cameras = &cam,
                                    .n_cameras = 1, .callback_url = cb, .mode = 1, .cooldown_s = 0, .fps = FPS,
                                    .threshold = NAN, .min_face_px = -1, .min_quality = -1, .snapshot = 1,
                                    .duration_s = -1, .max_failures = -1, .max_failure_s = -1, .cb_attempts = -1,
                                    .cb_timeout_s = -1 };
    struct fr_svc_session v = { 0 };
    int rc = fr_svc_outbox_start(s, &oo);
    if (rc == 0) rc = fr_svc_session_start(s, &r, &v);
    fr_svc_session_free(&v);
    if (rc < 0) {
        rcv_stop(&rcv);
        return die("session");
    }
    printf("frame -> callback: a session in every mode without cooldown on the stream for %d s ...\n", SECONDS);
    fflush(stdout);
    rcv_sleep_ms(SECONDS * 1000 + 1500);
    struct fr_svc_actor who = { c->id, NULL, NULL };
    fr_svc_session_stop(s, &who, "latency", NULL);
    rcv_sleep_ms(500);
    static double lat[RCV_LOG], dec[RCV_LOG];
    int n = 0;
    pthread_mutex_lock(&rcv.mu);
    for (int i = 0; i < rcv.n_log; i++) {
        int64_t t = rcv.log[i].seen_at[0] ? seen_ms(rcv.log[i].seen_at) : -1;
        int64_t d = rcv.log[i].decided_at[0] ? seen_ms(rcv.log[i].decided_at) : -1;
        if (t > 0 && d > 0) {
            lat[n] = (double)(rcv.log[i].at_ms - t);
            dec[n++] = (double)(rcv.log[i].at_ms - d);
        }
    }
    const int total = rcv.n_log;
    pthread_mutex_unlock(&rcv.mu);
    rcv_stop(&rcv);
    if (n == 0) return fail("no recognition callback arrived");
    printf("frame -> callback delivered (%d recognition callbacks of %d requests):\n"
           "  from the deciding frame (decided_at): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n"
           "  from the best face's frame (seen_at, up to a window earlier): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
           n, total, bench_pct(dec, n, 0.5), bench_pct(dec, n, 0.99), bench_pct(dec, n, 1.0), bench_pct(lat, n, 0.5),
           bench_pct(lat, n, 0.99), bench_pct(lat, n, 1.0));
    return 0;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: session_bench [repetitions 1..%d, default 3] [--latency-only]\n", MAX_REPS);
        return 2;
    }
    char cpu[256], dir[] = "/tmp/fr_session_bench_XXXXXX", video[128], server[256];
    bench_cpu_model(cpu, sizeof cpu);
    printf("camera sessions: CPU per stream, CPU: %s (%ld cores)\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
    const char *build = getenv("BUILD"), *models = getenv("FACEREC_MODELS_DIR");
    snprintf(server, sizeof server, "%s/tests/sessions/rtsp_server", build && *build ? build : "build");
    if (access(server, X_OK) != 0) return -fail("rtsp_server not built (make build/tests/sessions/rtsp_server)");
    if (!mkdtemp(dir)) return 1;
    snprintf(video, sizeof video, "%s/cam.mp4", dir);
    fr_log_set_level(FR_LOG_ERROR);
    int rc = 1;
    struct fr_service *s = NULL;
    struct rtsp_server srv = { -1, 0 };
    struct fr_svc_config cfg = { .data_dir = dir, .models_dir = models && *models ? models : "models",
                                 .max_upload_bytes = 1 << 24, .max_pixels = 50000000, .threads = 1,
                                 .match_threshold = 0.28f, .top_k = 5, .max_faces = 10,
                                 .webhook_allow_private = 1, .max_sessions = 1 };
    struct fr_svc_actor admin = { 0, NULL, NULL };
    struct fr_svc_client c = { 0 };
    int64_t ids[2];
    char url[128];
    double t0 = fr_time_ms();
    if (make_video(video) < 0) { fail("the ffmpeg CLI is missing or failed (make deps)"); goto out; }
    if (fr_service_open(&cfg, &s) < 0) { die("service"); goto out; }
    if (fr_svc_client_create(s, &admin, "cameras", 0, 0, &c) < 0) { die("client"); goto out; }
    if (enrol(s, c.id, ids) < 0 || warm_up(s, c.id) < 0) goto out;
    if (rtsp_server_start(server, video, &srv) < 0) { fail("rtsp_server did not start"); goto out; }
    snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/cam", srv.port);
    printf("stream: %s (%d s, made in %.1f s with the ffmpeg CLI), service threads = 1, 2 people enrolled\n",
           url, SECONDS, (fr_time_ms() - t0) / 1000);
    const int only_latency = argc > 2 && !strcmp(argv[2], "--latency-only");
    rc = only_latency ? 0 : bench(url, s, c.id, ids, reps) < 0;
    if (!rc) rc = latency(url, s, &c) < 0;
    printf("resident memory: %ld KiB; whole run %.0f s\n", bench_rss_kb(), (fr_time_ms() - t0) / 1000);
out:
    rtsp_server_stop(&srv, SIGTERM);
    fr_svc_client_free(&c);
    fr_service_close(s);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
