/* Camera reader (camera.h): libavformat in, sampled RGB frames out.
 *
 * Sampling. Time (the pts, in ms from the connection's first packet) is cut
 * into slots of 1000/fps ms, shifted by 1/8 of a slot to absorb pts rounding;
 * the first decoded frame of each slot, in presentation order, is delivered,
 * the other decoded frames are "dropped". So the rate is fps exactly when the
 * stream has at least that many frames, and every frame when it has fewer.
 *
 * Skipped decoding, so that no frame is decoded only to be dropped where the
 * codec allows it:
 *   - key-frame-only mode: the reader measures the key-frame interval (the
 *     largest of the last four) from the packets' key flags. When fps is at
 *     most the key-frame rate (1000/fps >= interval), only key frames go to
 *     the decoder, and of those only the first of each slot; each is decoded
 *     on its own (send, drain, flush), so it comes out at once even from a
 *     decoder with a reordering delay. Everything else is "skipped" without
 *     touching the decoder. An intra-only codec (MJPEG) is in this mode from
 *     its first packet; others after their first key-frame interval.
 *   - otherwise every packet goes to the decoder, which must see the
 *     reference frames, but a packet is decoded with skip_frame =
 *     AVDISCARD_NONREF unless it is a key frame or the earliest frame seen so
 *     far of a slot not yet delivered: the decoder (H.264, HEVC, MPEG-2/4)
 *     drops such a packet unparsed if no other frame refers to it (x264's
 *     B-frames without b-pyramid are such). In decode order a P frame comes
 *     before the B frames shown before it, so a B frame of the same slot with
 *     a smaller pts is still decoded: the slot gets its first frame. Reference
 *     frames are decoded whatever their slot. The decoder runs one thread
 *     (thread_count 1) so that skip_frame applies to exactly the packet it is
 *     set for; cameras run in parallel, one thread each.
 *   - before the first key frame of a connection, packets are skipped.
 * Streams other than the chosen video stream are discarded (AVDISCARD_ALL).
 *
 * Deadlines: one interrupt callback, a deadline per phase (camera.h). */
#include "sessions/camera.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#define CLOSE_TIMEOUT_MS 500
#define GOP_RING 4
#define SLOT_RING 32

struct conn {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int vs;
    AVRational tb;
    int64_t first_ts;           /* the stream's start time, or its first timestamp */
    double t0;                  /* fr_time_ms() at connect (for streams without pts) */
    int nopts_run, wall_clock;
    int64_t last_pkt_ms, last_frame_ms;
    double wall0;               /* realtime: fr_time_ms() when pts 0 is due */
    int need_key;
    int64_t last_key_ms;
    int have_key;
    int64_t gops[GOP_RING];
    int ngop;
    int keyonly;
    int64_t last_slot;          /* the slot last delivered (INT64_MIN: none) */
    struct { int64_t slot, min_ms; } ring[SLOT_RING];   /* earliest pts decoded per slot */
};

struct fr_camera {
    struct fr_camera_opts o;
    char *url;
    char redacted[FR_CAMERA_URL_MAX + 64];
    int is_rtsp, is_file;
    double period_ms, tol_ms;
    atomic_int stop;
    int timed_out;              /* set by the interrupt callback (camera thread only) */
    double deadline;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started;
    struct conn c;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    struct fr_image img;
    atomic_llong n_read, n_skipped, n_decoded, n_sampled, n_dropped, n_reconnects, gop_ms;
    atomic_int keyonly;
};

const char *fr_camera_state_name(int state) {
    switch (state) {
    case FR_CAMERA_CONNECTED: return "connected";
    case FR_CAMERA_DISCONNECTED: return "disconnected";
    case FR_CAMERA_RECONNECTED: return "reconnected";
    case FR_CAMERA_DEAD: return "dead";
    default: return "unknown";
    }
}

/* ---- URLs ---- */

static void put(char *out, size_t len, size_t *o, const char *s, size_t n) {
    for (size_t i = 0; i < n && *o + 1 < len; i++) out[(*o)++] = s[i];
}

void fr_camera_redact(const char *text, char *out, size_t len) {
    if (!out || !len) return;
    size_t o = 0;
    const char *p = text ? text : "";
    for (int guard = 0; *p && guard < 4096; guard++) {
        const char *sep = strstr(p, "://");
        if (!sep) { put(out, len, &o, p, strlen(p)); break; }
        const char *auth = sep + 3;
        put(out, len, &o, p, (size_t)(auth - p));
        const char *e = auth;
        while (*e && !strchr("/?# \t\r\n\"'<>", *e)) e++;
        const char *at = NULL;
        for (const char *q = auth; q < e; q++) if (*q == '@') at = q;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            put(out, len, &o, auth, (size_t)(colon + 1 - auth));
            put(out, len, &o, "****", 4);
            put(out, len, &o, at, (size_t)(e - at));
        } else {
            put(out, len, &o, auth, (size_t)(e - auth));
        }
        p = e;
    }
    out[o] = 0;
}

static const char *const schemes[] = { "rtsp", "rtsps", "http", "https", "file" };

/* The index of url's scheme in schemes[], or -1. */
static int scheme_of(const char *url) {
    const char *c = strchr(url, ':');
    if (!c) return -1;
    size_t n = (size_t)(c - url);
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strlen(schemes[i]) == n && strncasecmp(url, schemes[i], n) == 0) return (int)i;
    return -1;
}

int fr_camera_check_url(const char *url, int allow_files) {
    if (!url || !url[0]) return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url", "the camera URL is empty");
    size_t n = strnlen(url, FR_CAMERA_URL_MAX + 1);
    if (n > FR_CAMERA_URL_MAX)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url", "the camera URL is longer than %d bytes",
                             FR_CAMERA_URL_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch == 0x7f)
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url",
                                 "the camera URL contains a space or a control character");
    }
    int s = scheme_of(url);
    if (s < 0)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url",
                             "the camera URL's scheme is not rtsp, rtsps, http or https");
    if (strcmp(schemes[s], "file") == 0) {
        if (!allow_files)
            return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url",
                                 "file: camera URLs are not allowed (FACEREC_CAMERA_ALLOW_FILES)");
        return 0;
    }
    const char *host = url + strlen(schemes[s]) + 1;
    if (strncmp(host, "//", 2) != 0 || !host[2] || host[2] == '/')
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "url", "the camera URL has no host");
    return 0;
}

/* ---- FFmpeg's log, redacted, into ours ---- */

static void av_log_to_ours(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > av_log_get_level()) return;
    char line[1024], red[1100];
    int prefix = 1;
    va_list cp;
    va_copy(cp, vl);
    av_log_format_line2(avcl, level, fmt, cp, line, sizeof line, &prefix);
    va_end(cp);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (!n) return;
    fr_camera_redact(line, red, sizeof red);
    fr_log(level <= AV_LOG_ERROR ? FR_LOG_WARN : FR_LOG_DEBUG, "camera: ffmpeg: %s", red);
}

static pthread_once_t av_once = PTHREAD_ONCE_INIT;
static void av_setup(void) {
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(av_log_to_ours);
    avformat_network_init();
}

/* ---- deadlines ---- */

static int interrupt_cb(void *p) {
    struct fr_camera *cam = p;
    if (atomic_load(&cam->stop)) return 1;
    if (fr_time_ms() > cam->deadline) { cam->timed_out = 1; return 1; }
    return 0;
}

static void phase(struct fr_camera *cam, int ms) {
    cam->timed_out = 0;
    cam->deadline = fr_time_ms() + ms;
}

static void av_reason(int rc, char *out, size_t len) {
    char e[128];
    av_strerror(rc, e, sizeof e);
    snprintf(out, len, "%s", e);
}

/* ---- connections ---- */

static void conn_close(struct fr_camera *cam) {
    struct conn *c = &cam->c;
    avcodec_free_context(&c->dec);
    if (c->fmt) {
        phase(cam, CLOSE_TIMEOUT_MS);   /* RTSP TEARDOWN: best effort */
        avformat_close_input(&c->fmt);
    }
    memset(c, 0, sizeof *c);
}

/* Connects and probes; on failure why says what went wrong (no password in it). */
static int conn_open(struct fr_camera *cam, char *why, size_t wlen) {
    struct conn *c = &cam->c;
    memset(c, 0, sizeof *c);
    c->first_ts = AV_NOPTS_VALUE;
    c->need_key = 1;
    c->last_slot = INT64_MIN;
    for (int i = 0; i < SLOT_RING; i++) c->ring[i].slot = INT64_MIN;
    c->t0 = fr_time_ms();
    AVFormatContext *fmt = avformat_alloc_context();
    if (!fmt) { snprintf(why, wlen, "out of memory"); return -FR_E_NOMEM; }
    fmt->interrupt_callback.callback = interrupt_cb;
    fmt->interrupt_callback.opaque = cam;
    AVDictionary *opt = NULL;
    /* the protocols libavformat may open underneath, per scheme */
    if (cam->is_rtsp) {
        av_dict_set(&opt, "protocol_whitelist", "rtsp,rtsps,rtp,srtp,udp,tcp,tls", 0);
        av_dict_set(&opt, "rtsp_transport", cam->o.transport == FR_CAMERA_UDP ? "udp" : "tcp", 0);
    } else if (cam->is_file) {
        av_dict_set(&opt, "protocol_whitelist", "file,crypto", 0);
    } else {
        av_dict_set(&opt, "protocol_whitelist", "http,https,tcp,tls,crypto", 0);
    }
    phase(cam, cam->o.open_timeout_ms);
    int rc = avformat_open_input(&fmt, cam->url, NULL, &opt);   /* frees fmt on failure */
    av_dict_free(&opt);
    if (rc < 0) {
        if (cam->timed_out) snprintf(why, wlen, "open timed out after %d ms", cam->o.open_timeout_ms);
        else av_reason(rc, why, wlen);
        return -FR_E_SERVICE_UNAVAILABLE;
    }
    c->fmt = fmt;
    phase(cam, cam->o.probe_timeout_ms);
    rc = avformat_find_stream_info(fmt, NULL);
    if (rc < 0) {
        if (cam->timed_out) snprintf(why, wlen, "probe timed out after %d ms", cam->o.probe_timeout_ms);
        else av_reason(rc, why, wlen);
        conn_close(cam);
        return -FR_E_SERVICE_UNAVAILABLE;
    }
    const AVCodec *codec = NULL;
    int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vs < 0 || !codec) {
        snprintf(why, wlen, vs == AVERROR_DECODER_NOT_FOUND ? "no decoder for the video stream" : "no video stream");
        conn_close(cam);
        return -FR_E_SERVICE_UNAVAILABLE;
    }
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if ((int)i != vs) fmt->streams[i]->discard = AVDISCARD_ALL;
    c->vs = vs;
    c->tb = fmt->streams[vs]->time_base;
    c->first_ts = fmt->streams[vs]->start_time;   /* the smallest pts probed; NOPTS if unknown */
    c->dec = avcodec_alloc_context3(codec);
    if (!c->dec) { snprintf(why, wlen, "out of memory"); conn_close(cam); return -FR_E_NOMEM; }
    if (avcodec_parameters_to_context(c->dec, fmt->streams[vs]->codecpar) < 0) {
        snprintf(why, wlen, "bad codec parameters");
        conn_close(cam);
        return -FR_E_SERVICE_UNAVAILABLE;
    }
    c->dec->thread_count = 1;
    /* an intra-only codec (MJPEG): every frame is a key frame, so key-frame
     * mode from the first packet, without waiting to measure the interval */
    const AVCodecDescriptor *desc = avcodec_descriptor_get(codec->id);
    c->keyonly = desc && (desc->props & AV_CODEC_PROP_INTRA_ONLY);
    atomic_store(&cam->keyonly, c->keyonly);
    c->dec->pkt_timebase = c->tb;
    rc = avcodec_open2(c->dec, codec, NULL);
    if (rc < 0) { av_reason(rc, why, wlen); conn_close(cam); return -FR_E_SERVICE_UNAVAILABLE; }
    return 0;
}

/* ---- decoding and sampling ---- */

/* A timestamp in ms from the start of the stream on this connection. A packet
 * or frame without one takes the last time seen (*last); a stream whose
 * packets carry none at all (3 in a row) is timed by the wall clock. */
static int64_t ts_ms(struct fr_camera *cam, int64_t ts, int64_t *last) {
    struct conn *c = &cam->c;
    if (!c->wall_clock && ts == AV_NOPTS_VALUE && ++c->nopts_run >= 3) c->wall_clock = 1;
    if (c->wall_clock) return *last = (int64_t)(fr_time_ms() - c->t0);
    if (ts == AV_NOPTS_VALUE) return *last;
    c->nopts_run = 0;
    if (c->first_ts == AV_NOPTS_VALUE) c->first_ts = ts;
    return *last = av_rescale_q(ts - c->first_ts, c->tb, (AVRational){ 1, 1000 });
}

static int64_t slot_of(struct fr_camera *cam, int64_t ms) {
    return (int64_t)floor(((double)ms + cam->tol_ms) / cam->period_ms);
}

/* Whether a packet at ms is the earliest seen so far of a slot not yet
 * delivered; if so it is recorded as that slot's earliest. */
static int wanted(struct fr_camera *cam, int64_t ms) {
    struct conn *c = &cam->c;
    int64_t s = slot_of(cam, ms);
    if (s <= c->last_slot) return 0;
    int i = (int)(((s % SLOT_RING) + SLOT_RING) % SLOT_RING);
    if (c->ring[i].slot == s && ms >= c->ring[i].min_ms) return 0;
    c->ring[i].slot = s;
    c->ring[i].min_ms = ms;
    return 1;
}

static void deliver(struct fr_camera *cam, AVFrame *f, int64_t ms) {
    int w = f->width, h = f->height;
    if (w <= 0 || h <= 0 || (int64_t)w * h > FR_IMAGE_DEFAULT_MAX_PIXELS) {
        atomic_fetch_add(&cam->n_dropped, 1);
        return;
    }
    if (cam->img.w != w || cam->img.h != h || !cam->img.data) {
        fr_free(cam->img.data);
        cam->img.data = fr_malloc((size_t)w * (size_t)h * 3);
        cam->img.w = cam->img.data ? w : 0;
        cam->img.h = cam->img.data ? h : 0;
        cam->img.channels = 3;
        if (!cam->img.data) { atomic_fetch_add(&cam->n_dropped, 1); return; }
    }
    cam->sws = sws_getCachedContext(cam->sws, w, h, (enum AVPixelFormat)f->format, w, h, AV_PIX_FMT_RGB24,
                                    SWS_BILINEAR, NULL, NULL, NULL);
    if (!cam->sws) { atomic_fetch_add(&cam->n_dropped, 1); return; }
    uint8_t *dst[4] = { cam->img.data, NULL, NULL, NULL };
    int dst_stride[4] = { w * 3, 0, 0, 0 };
    sws_scale(cam->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dst_stride);
    atomic_fetch_add(&cam->n_sampled, 1);
    if (cam->o.on_frame) cam->o.on_frame(cam->o.ctx, &cam->img, ms, fr_now_ms());
}

/* Takes every frame the decoder has ready (at most 64: a decoder returns a
 * few per packet). deliver_all: the packet was chosen already (key-frame mode). */
static void receive(struct fr_camera *cam, int deliver_all) {
    struct conn *c = &cam->c;
    for (int i = 0; i < 64; i++) {
        int rc = avcodec_receive_frame(c->dec, cam->frame);
        if (rc < 0) break;   /* EAGAIN, EOF or a decoding error */
        atomic_fetch_add(&cam->n_decoded, 1);
        int64_t ms = ts_ms(cam, cam->frame->best_effort_timestamp, &c->last_frame_ms);
        int64_t slot = slot_of(cam, ms);
        if (deliver_all || slot > c->last_slot) {
            c->last_slot = slot;
            deliver(cam, cam->frame, ms);
        } else {
            atomic_fetch_add(&cam->n_dropped, 1);
        }
        av_frame_unref(cam->frame);
    }
}

static void note_key(struct fr_camera *cam, int64_t ms) {
    struct conn *c = &cam->c;
    if (c->have_key && ms > c->last_key_ms) {
        c->gops[c->ngop++ % GOP_RING] = ms - c->last_key_ms;
        int64_t gop = 0;
        for (int i = 0; i < GOP_RING && i < c->ngop; i++) if (c->gops[i] > gop) gop = c->gops[i];
        atomic_store(&cam->gop_ms, gop);
        int keyonly = (double)gop <= cam->period_ms + 1.0;
        if (keyonly != c->keyonly) {
            avcodec_flush_buffers(c->dec);   /* a clean start at this key frame, either way */
            c->keyonly = keyonly;
            atomic_store(&cam->keyonly, keyonly);
        }
    }
    c->have_key = 1;
    c->last_key_ms = ms;
}

static int nap(struct fr_camera *cam, int ms);

static void on_packet(struct fr_camera *cam, AVPacket *pkt) {
    struct conn *c = &cam->c;
    atomic_fetch_add(&cam->n_read, 1);
    int64_t ms = ts_ms(cam, pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts, &c->last_pkt_ms);
    /* A file played as a camera sends it: at its own pace. Only a file: a
     * network stream already comes at its sender's pace, and pacing it again
     * from its first packet would keep the reader behind by whatever the
     * sender sent ahead at the start (gst-rtsp-server sends ~3 s at once),
     * delaying every frame, and the detection of a stall or a dead server,
     * by that much for the whole connection. */
    if (cam->o.realtime && cam->is_file) {
        const double now = fr_time_ms();
        if (c->wall0 <= 0) c->wall0 = now - (double)ms;
        const double due = c->wall0 + (double)ms - now;
        if (due > 1 && nap(cam, due > 60000 ? 60000 : (int)due)) return;
    }
    int key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    if (key) note_key(cam, ms);
    if (c->need_key && !key) { atomic_fetch_add(&cam->n_skipped, 1); return; }
    c->need_key = 0;
    if (c->keyonly) {
        if (!key || slot_of(cam, ms) <= c->last_slot) {
            atomic_fetch_add(&cam->n_skipped, 1);
            return;
        }
        if (avcodec_send_packet(c->dec, pkt) >= 0 && avcodec_send_packet(c->dec, NULL) >= 0) receive(cam, 1);
        avcodec_flush_buffers(c->dec);
        return;
    }
    int want = wanted(cam, ms);
    c->dec->skip_frame = want || key ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
    int rc = avcodec_send_packet(c->dec, pkt);
    if (rc == AVERROR(EAGAIN)) {   /* output first, then the packet again */
        receive(cam, 0);
        rc = avcodec_send_packet(c->dec, pkt);
    }
    receive(cam, 0);
}

/* Reads until the stream ends, stalls, fails or stop; 1 when stopped. */
static int read_loop(struct fr_camera *cam, char *why, size_t wlen) {
    for (;;) {
        phase(cam, cam->o.read_timeout_ms);
        int rc = av_read_frame(cam->c.fmt, cam->pkt);
        if (atomic_load(&cam->stop)) { av_packet_unref(cam->pkt); return 1; }
        if (rc < 0) {
            if (cam->timed_out) snprintf(why, wlen, "stalled");
            else if (rc == AVERROR_EOF) snprintf(why, wlen, "eof");
            else {
                char e[128];
                av_reason(rc, e, sizeof e);
                snprintf(why, wlen, "error: %s", e);
            }
            return 0;
        }
        if (cam->pkt->stream_index == cam->c.vs) on_packet(cam, cam->pkt);
        av_packet_unref(cam->pkt);
        /* A read cut by its deadline can still return a packet: libavformat
         * flushes its parser's last frame when the input fails. */
        if (cam->timed_out) { snprintf(why, wlen, "stalled"); return 0; }
    }
}

static void state(struct fr_camera *cam, int st, const char *reason) {
    fr_log(st == FR_CAMERA_CONNECTED || st == FR_CAMERA_RECONNECTED ? FR_LOG_INFO : FR_LOG_WARN,
           "camera %s: %s%s%s", cam->redacted, fr_camera_state_name(st), reason[0] ? ": " : "", reason);
    if (cam->o.on_state) cam->o.on_state(cam->o.ctx, st, reason);
}

/* Sleeps ms unless stopped; 1 when stopped. */
static int nap(struct fr_camera *cam, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&cam->mu);
    for (int i = 0; i < 1000 && !atomic_load(&cam->stop); i++)
        if (pthread_cond_timedwait(&cam->cv, &cam->mu, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&cam->mu);
    return atomic_load(&cam->stop);
}

static void *camera_main(void *p) {
    struct fr_camera *cam = p;
    state(cam, FR_CAMERA_CONNECTED, "");
    for (;;) {
        char why[256], last[256] = "";
        if (read_loop(cam, why, sizeof why)) break;
        conn_close(cam);
        state(cam, FR_CAMERA_DISCONNECTED, why);
        if (cam->is_file && strcmp(why, "eof") == 0) { state(cam, FR_CAMERA_DEAD, "eof"); break; }
        int ok = 0, a = 0;
        while (!ok && a < cam->o.reconnect_attempts) {
            a++;
            if (nap(cam, cam->o.reconnect_delay_ms)) break;
            if (conn_open(cam, last, sizeof last) == 0) ok = 1;
            else if (!atomic_load(&cam->stop))
                fr_log(FR_LOG_WARN, "camera %s: reconnect attempt %d of %d failed: %s", cam->redacted, a,
                       cam->o.reconnect_attempts, last);
        }
        if (atomic_load(&cam->stop)) break;
        if (!ok) {
            char r[320];
            snprintf(r, sizeof r, "reconnect failed (%d attempt%s)%s%s", a, a == 1 ? "" : "s", last[0] ? ": " : "",
                     last);
            state(cam, FR_CAMERA_DEAD, r);
            break;
        }
        atomic_fetch_add(&cam->n_reconnects, 1);
        char r[32];
        snprintf(r, sizeof r, "attempt %d", a);
        state(cam, FR_CAMERA_RECONNECTED, r);
    }
    conn_close(cam);
    return NULL;
}

/* ---- the public face ---- */

static void cam_free(struct fr_camera *cam) {
    conn_close(cam);
    av_packet_free(&cam->pkt);
    av_frame_free(&cam->frame);
    sws_freeContext(cam->sws);
    fr_free(cam->img.data);
    pthread_cond_destroy(&cam->cv);
    pthread_mutex_destroy(&cam->mu);
    fr_free(cam->url);
    fr_free(cam);
}

int fr_camera_open(const struct fr_camera_opts *o, struct fr_camera **out) {
    *out = NULL;
    if (!o) return fr_err_set(FR_E_INVALID_ARGUMENT, "no camera options");
    int rc = fr_camera_check_url(o->url, o->allow_files);
    if (rc < 0) return rc;
    if (!(o->fps > 0 && o->fps <= 60))
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "fps", "fps must be in (0, 60]");
    if (o->transport != FR_CAMERA_TCP && o->transport != FR_CAMERA_UDP)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", "transport", "transport must be tcp or udp");
    if (o->open_timeout_ms < 0 || o->probe_timeout_ms < 0 || o->read_timeout_ms < 0 || o->reconnect_delay_ms < 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "negative camera timeout");
    pthread_once(&av_once, av_setup);

    struct fr_camera *cam = fr_calloc(1, sizeof *cam);
    if (!cam) return fr_err_set(FR_E_NOMEM, "camera");
    cam->o = *o;
    cam->url = fr_strdup(o->url);
    cam->o.url = cam->url;
    if (!cam->o.open_timeout_ms) cam->o.open_timeout_ms = 10000;
    if (!cam->o.probe_timeout_ms) cam->o.probe_timeout_ms = 10000;
    if (!cam->o.read_timeout_ms) cam->o.read_timeout_ms = 5000;
    if (!cam->o.reconnect_attempts) cam->o.reconnect_attempts = 3;
    if (cam->o.reconnect_attempts < 0) cam->o.reconnect_attempts = 0;
    if (!cam->o.reconnect_delay_ms) cam->o.reconnect_delay_ms = 2000;
    cam->period_ms = 1000.0 / o->fps;
    cam->tol_ms = cam->period_ms / 8;
    fr_camera_redact(o->url, cam->redacted, sizeof cam->redacted);
    int s = scheme_of(o->url);
    cam->is_rtsp = s == 0 || s == 1;
    cam->is_file = s == 4;
    atomic_init(&cam->stop, 0);
    pthread_mutex_init(&cam->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cam->cv, &ca);
    pthread_condattr_destroy(&ca);
    cam->pkt = av_packet_alloc();
    cam->frame = av_frame_alloc();
    if (!cam->url || !cam->pkt || !cam->frame) { cam_free(cam); return fr_err_set(FR_E_NOMEM, "camera"); }

    char why[256];
    rc = conn_open(cam, why, sizeof why);
    if (rc < 0) {
        fr_log(FR_LOG_WARN, "camera %s: cannot open: %s", cam->redacted, why);
        rc = fr_err_set(-rc, "camera %s: %s", cam->redacted, why);
        cam_free(cam);
        return rc;
    }
    if (pthread_create(&cam->th, NULL, camera_main, cam) != 0) {
        cam_free(cam);
        return fr_err_set(FR_E_INTERNAL_ERROR, "camera: cannot start a thread");
    }
    cam->started = 1;
    *out = cam;
    return 0;
}

void fr_camera_stats(struct fr_camera *cam, struct fr_camera_stats *out) {
    memset(out, 0, sizeof *out);
    if (!cam) return;
    out->read = atomic_load(&cam->n_read);
    out->skipped = atomic_load(&cam->n_skipped);
    out->decoded = atomic_load(&cam->n_decoded);
    out->sampled = atomic_load(&cam->n_sampled);
    out->dropped = atomic_load(&cam->n_dropped);
    out->reconnects = atomic_load(&cam->n_reconnects);
    out->keyframe_only = atomic_load(&cam->keyonly);
    out->gop_ms = atomic_load(&cam->gop_ms);
}

void fr_camera_stop(struct fr_camera *cam) {
    if (!cam) return;
    pthread_mutex_lock(&cam->mu);
    atomic_store(&cam->stop, 1);
    pthread_cond_broadcast(&cam->cv);
    pthread_mutex_unlock(&cam->mu);
    if (cam->started) pthread_join(cam->th, NULL);
    cam_free(cam);
}
