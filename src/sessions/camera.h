/* Camera reader: one thread per camera reads a stream with FFmpeg's
 * libavformat, decodes only what it must with libavcodec, converts the
 * sampled frames to 8-bit RGB with libswscale and hands them to a callback.
 * The sessions layer (next) owns the cameras; this module knows nothing of
 * sessions, faces or storage.
 *
 *     struct fr_camera_opts o = { .url = "rtsp://user:pass@10.0.0.5/stream1",
 *                                 .fps = 5, .on_frame = got_frame, .on_state = got_state,
 *                                 .ctx = me };
 *     struct fr_camera *cam;
 *     int rc = fr_camera_open(&o, &cam);   // connects and probes before it returns
 *     if (rc < 0) ...;                     // -FR_E_VALIDATION_ERROR (field "url"/"fps"/...),
 *                                          // -FR_E_SERVICE_UNAVAILABLE (unreachable, no video)
 *     ...
 *     fr_camera_stop(cam);                 // joins the thread, frees; after DEAD too
 *
 * URLs: rtsp, rtsps, http, https (MJPEG, HLS, anything libavformat reads
 * over HTTP); file: only with allow_files (FACEREC_CAMERA_ALLOW_FILES). The
 * protocols libavformat may use underneath are whitelisted per scheme, so a
 * playlist cannot reach file: or other protocols. RTSP runs over TCP unless
 * transport is FR_CAMERA_UDP.
 *
 * Credentials: camera URLs usually carry them (rtsp://user:pass@host/...).
 * The password is never logged, never put in a reason string or a callback:
 * every log line of this module, FFmpeg's own log lines included, passes
 * through fr_camera_redact. (The first fr_camera_open installs, once for the
 * process, an av_log callback that sends FFmpeg's errors into fr_log, and sets
 * FFmpeg's log level to errors.)
 *
 * Deadlines: every blocking libavformat call runs under an interrupt
 * callback with a deadline of its phase: opening (connect, RTSP DESCRIBE/
 * SETUP/PLAY) open_timeout_ms, probing (avformat_find_stream_info)
 * probe_timeout_ms, each av_read_frame read_timeout_ms (a server alive but
 * sending nothing is "stalled" after that long), closing 500 ms. fr_camera_stop
 * interrupts whatever is blocking at once.
 *
 * A file: URL is read as fast as it decodes, or at its own frame rate with
 * realtime (a replay in a session); its end is DISCONNECTED "eof" then DEAD
 * "eof", without reconnects.
 *
 * Threads: on_frame and on_state are called on the camera's thread, one call
 * at a time. A callback must not call fr_camera_stop on its own camera.
 *
 * Sampling and skipped decoding: see camera.c's head comment. */
#ifndef FR_SESSIONS_CAMERA_H
#define FR_SESSIONS_CAMERA_H

#include "facerec/base.h"
#include "facerec/image.h"

struct fr_camera;

enum fr_camera_transport { FR_CAMERA_TCP = 0, FR_CAMERA_UDP = 1 };

enum fr_camera_state {
    FR_CAMERA_CONNECTED = 1,     /* first connection made (reason "") */
    FR_CAMERA_DISCONNECTED,      /* reason "stalled", "eof" or "error: ..." */
    FR_CAMERA_RECONNECTED,       /* a reconnect attempt succeeded (reason "attempt N") */
    FR_CAMERA_DEAD               /* no more frames will come; reason says why */
};
const char *fr_camera_state_name(int state);   /* "connected", ... */

#define FR_CAMERA_URL_MAX 2048

struct fr_camera_opts {
    const char *url;             /* copied */
    int transport;               /* FR_CAMERA_TCP [default] or FR_CAMERA_UDP (RTSP only) */
    double fps;                  /* sampled frames per second, 0 < fps <= 60 */
    /* Zero fields take the defaults in brackets. */
    int open_timeout_ms;         /* [10000] connect + RTSP handshake */
    int probe_timeout_ms;        /* [10000] avformat_find_stream_info */
    int read_timeout_ms;         /* [5000] FACEREC_CAMERA_TIMEOUT_MS: stall deadline per read */
    int reconnect_attempts;      /* [3] FACEREC_CAMERA_RECONNECT_ATTEMPTS; < 0: none */
    int reconnect_delay_ms;      /* [2000] FACEREC_CAMERA_RECONNECT_DELAY_MS, before each attempt */
    int allow_files;             /* FACEREC_CAMERA_ALLOW_FILES: file: URLs allowed */
    int realtime;                /* read a file at its own frame rate, as a camera would send it
                                    (else as fast as it decodes) */
    /* rgb is borrowed for the call: 8-bit interleaved RGB, the stream's size.
     * pts_ms: the frame's presentation time in ms from the first packet of the
     * current connection (it restarts after a reconnect); wall_ms: fr_now_ms(). */
    void (*on_frame)(void *ctx, const struct fr_image *rgb, int64_t pts_ms, int64_t wall_ms);
    void (*on_state)(void *ctx, int state, const char *reason);   /* may be NULL */
    void *ctx;
};

/* What the reader did; every field only grows. */
struct fr_camera_stats {
    int64_t read;                /* video packets read */
    int64_t skipped;             /* packets never given to the decoder (key-frame-only mode,
                                  * or before the first key frame of a connection) */
    int64_t decoded;             /* frames the decoder returned (non-reference frames it was
                                  * told to discard return nothing) */
    int64_t sampled;             /* frames given to on_frame */
    int64_t dropped;             /* decoded but not sampled: decoding spent for nothing */
    int64_t reconnects;          /* successful reconnects */
    int keyframe_only;           /* 1 while the reader decodes key frames only */
    int64_t gop_ms;              /* the last key-frame interval seen (0: not yet known) */
};

/* Checks url: not empty, at most FR_CAMERA_URL_MAX bytes, no spaces or
 * control characters, scheme rtsp/rtsps/http/https, or file with allow_files.
 * -FR_E_VALIDATION_ERROR with field "url" otherwise. */
int fr_camera_check_url(const char *url, int allow_files);

/* Copies text into out (len bytes, always terminated, truncated if need be)
 * with the password of every URL in it replaced: "rtsp://user:pass@host/x"
 * becomes "rtsp://user:****@host/x". Works on a URL or on a whole log line. */
void fr_camera_redact(const char *text, char *out, size_t len);

/* Validates o, connects and probes (within open_timeout_ms +
 * probe_timeout_ms), then starts the reader thread, which reports CONNECTED
 * first. On failure nothing is left running and *out is NULL. */
int fr_camera_open(const struct fr_camera_opts *o, struct fr_camera **out);
void fr_camera_stats(struct fr_camera *cam, struct fr_camera_stats *out);
/* Stops the thread (interrupting any blocking call), frees everything. NULL ok. */
void fr_camera_stop(struct fr_camera *cam);

#endif
