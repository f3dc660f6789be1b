/* Camera reader CPU: what one 720p25 H.264 stream costs at full rate and
 * sampled, beside the ffmpeg CLI decoding the same file (one thread, frames
 * thrown away: the floor of decoding everything).
 *
 * Two encodings made here with the ffmpeg CLI from testsrc2 (moving content):
 *   "camera": main/high profile, no B-frames, a key frame every 2 s (what most
 *             IP cameras send): every frame is a reference, so between key
 *             frames nothing can be skipped;
 *   "bframes": 3 B-frames without b-pyramid (non-reference), a key frame every 1 s.
 * Each is read as a file (as fast as it decodes) by fr_camera at 25, 5, 1 and
 * 0.5 fps; the figure is process CPU per second of video (decode + RGB
 * conversion of the sampled frames), i.e. the share of one core per stream. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_util.h"
#include "sessions/camera.h"

#define SECONDS 12

struct done { pthread_mutex_t mu; int dead; };

static void on_frame(void *ctx, const struct fr_image *rgb, int64_t pts_ms, int64_t wall_ms) {
    (void)ctx, (void)rgb, (void)pts_ms, (void)wall_ms;
}

static void on_state(void *ctx, int state, const char *reason) {
    (void)reason;
    struct done *d = ctx;
    if (state == FR_CAMERA_DEAD) {
        pthread_mutex_lock(&d->mu);
        d->dead = 1;
        pthread_mutex_unlock(&d->mu);
    }
}

static int run(const char *path, double fps) {
    char url[512];
    snprintf(url, sizeof url, "file://%s", path);
    struct done d = { PTHREAD_MUTEX_INITIALIZER, 0 };
    struct fr_camera_opts o = { .url = url, .fps = fps, .allow_files = 1, .on_frame = on_frame,
                                .on_state = on_state, .ctx = &d };
    struct fr_camera *cam;
    double c0 = bench_cpu_ms(RUSAGE_SELF), t0 = fr_time_ms();
    if (fr_camera_open(&o, &cam) < 0) { fprintf(stderr, "open: %s\n", fr_err_detail()); return -1; }
    for (int i = 0; i < 60000; i++) {   /* 60 s at most */
        pthread_mutex_lock(&d.mu);
        int dead = d.dead;
        pthread_mutex_unlock(&d.mu);
        if (dead) break;
        usleep(1000);
    }
    struct fr_camera_stats st;
    fr_camera_stats(cam, &st);
    double cpu = bench_cpu_ms(RUSAGE_SELF) - c0, wall = fr_time_ms() - t0;
    fr_camera_stop(cam);
    printf("  fr_camera %4.1f fps   %6.1f ms CPU per video second (%5.1f %% of a core)   read %4lld decoded %4lld "
           "sampled %4lld%s   (%.0f ms wall)\n", fps, cpu / SECONDS, cpu / SECONDS / 10, (long long)st.read,
           (long long)st.decoded, (long long)st.sampled, st.keyframe_only ? "  key frames only" : "", wall);
    return 0;
}

static void peer(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -threads 1 -i '%s' -f null - 2>&1", path);
    double c0 = bench_cpu_ms(RUSAGE_CHILDREN);
    if (system(cmd) != 0) { printf("  ffmpeg CLI failed\n"); return; }
    double cpu = bench_cpu_ms(RUSAGE_CHILDREN) - c0;
    printf("  ffmpeg CLI (peer)   %6.1f ms CPU per video second (%5.1f %% of a core)   every frame, 1 thread\n",
           cpu / SECONDS, cpu / SECONDS / 10);
}

int main(void) {
    char cpu[256], dir[] = "/tmp/fr_camera_bench_XXXXXX";
    bench_cpu_model(cpu, sizeof cpu);
    if (!mkdtemp(dir)) return 1;
    fr_log_set_level(FR_LOG_ERROR);
    printf("camera reader: one 720p25 H.264 stream, %d s, read as a file (%s)\n", SECONDS, cpu);
    const char *kinds[2][2] = {
        { "camera (no B-frames, key frame every 2 s)", "-g 50 -keyint_min 50 -sc_threshold 0 -bf 0" },
        { "bframes (3 non-reference B-frames, key frame every 1 s)",
          "-g 25 -keyint_min 25 -sc_threshold 0 -bf 3 -x264-params b-pyramid=none" },
    };
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char path[128], cmd[1024];
        snprintf(path, sizeof path, "%s/v%d.mp4", dir, k);
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -t %d "
                 "-c:v libx264 -preset veryfast %s -pix_fmt yuv420p '%s'", SECONDS, kinds[k][1], path);
        if (system(cmd) != 0) { fprintf(stderr, "ffmpeg CLI missing or failed (make deps)\n"); rc = 1; break; }
        printf("%s\n", kinds[k][0]);
        peer(path);
        const double fps[] = { 25, 5, 1, 0.5 };
        for (int i = 0; i < 4 && rc == 0; i++) rc = run(path, fps[i]);
    }
    printf("resident memory: %ld KiB\n", bench_rss_kb());
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
