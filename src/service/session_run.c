/* Running camera sessions on this node.
 *
 * Threads of one session:
 *   - a keeper per camera: opens it (fr_camera_open), waits while it runs,
 *     and when the reader gives up (DEAD: its reconnect attempts spent) tries
 *     again every REVIVE interval, for as long as the session runs. The
 *     reader's own thread (src/sessions/camera.c) calls on_frame, which only
 *     copies the frame into the camera's one-frame mailbox: a newer frame
 *     replaces one not yet analysed (counted "busy"), so a slow analysis
 *     never backs the stream up.
 *   - the worker: takes the mailboxes' frames, runs fr_svc_identify_frame
 *     and the tracker (one per session: a person seen by two cameras is one
 *     report), writes each report (recognition row + callback + webhook event,
 *     one transaction), handles the cameras' state changes, and ends the
 *     session: ENDED at its end time, ALL_CAMERAS_FAILED when no camera is
 *     left, BACKEND_UNRESPONSIVE when its callbacks keep failing.
 *
 * Ending: fr__svc_session_end writes the stop (row + STOPPED callback) under
 * the session's write lock, so no report can follow the STOPPED callback;
 * the threads then wind down (joined by the reaper, or at shutdown). A
 * shutdown suspends instead: threads stop, the row stays running, no
 * callback; the next start resumes it. */
#include "service_int.h"

#include "cluster/redis.h"
#include "facerec/metrics.h"
#include "sessions/camera.h"
#include "sessions/track.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRESS_MS 5000          /* the row's counters written this often */
#define USAGE_MS 60000            /* a session minute counted in /usage (each started one) */
#define SNAP_RING 48              /* face crops kept for the snapshots of reports to come */
#define SNAP_MAX_SIDE 256         /* a snapshot's longer side at most */
#define SESSION_MAX_FACES 64      /* faces analysed per frame */

struct snap {                     /* a face crop of a recent frame */
    int64_t frame_ref;
    int face_index;
    struct fr_image img;
};

struct run_cam {
    struct svc_run *run;
    int index;
    char *key, *name, *url;
    int transport;
    pthread_t keeper;
    int keeper_started;
    struct fr_camera *cam;        /* while open (keeper's; read under run->mu) */
    /* under run->mu: */
    const char *state;            /* "connecting", "connected", "reconnecting", "disconnected", "stopped" */
    int first_done;               /* the first open attempt is over */
    int dead;                     /* the reader gave up (DEAD), or every attempt failed */
    int reader_dead;              /* the open reader said DEAD: the keeper closes it */
    int announced_dead;           /* CAMERA_DISCONNECTED was called back */
    int revived;                  /* open again after being dead: CAMERA_RECONNECTED due */
    struct fr_image frame;        /* the mailbox */
    int has_frame;
    int64_t frame_wall;
    int64_t read_base, read_last; /* packets read by readers closed before / the open one */
    int64_t analysed, busy, reconnects;
};

/* A callback (and its recognition row) not written because the database
 * was away: kept in order and written when it is back. */
#define PENDING_MAX 256
struct pending {
    const char *type;             /* "session.recognition", "session.status" */
    char *body;
    int64_t at;
    int is_rec;
    struct fr_store_recognition rec;   /* camera is the run's */
};

struct svc_run {
    struct fr_service *s;
    struct fr_store_session row;  /* settings, cameras, ids */
    int resumed;
    struct fr_tracker *tr;
    struct run_cam *cams;
    int n_cams;
    pthread_t worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* frames, state changes, stop */
    int stopping;                 /* the threads wind down */
    int opened;                   /* the first open phase is over (cv) */
    int connected_at_open;
    int finished;                 /* the worker returned (reaper joins it) */
    int leased;                   /* Redis: this node holds the session's lease (0: to acquire) */
    struct pending pend[PENDING_MAX];   /* under write_mu */
    int n_pend;
    int64_t pend_retry_at;
    pthread_mutex_t write_mu;     /* reports and the end, one at a time */
    int ended;                    /* the stop was written: nothing more goes out */
    /* callbacks' health (dispatcher thread, under mu) */
    int consecutive_failures;
    int64_t last_ok_ms;           /* the last delivered callback (the start when none yet) */
    int64_t callback_failures;
    /* worker's */
    int64_t frame_seq, faces_seen, recognitions;
    struct snap snaps[SNAP_RING];
    int snap_next;
    struct svc_run *next;
};

struct svc_sessions {
    pthread_mutex_t mu;
    struct svc_run *runs;         /* running on this node */
    int n;
    pthread_t reaper;
    pthread_cond_t reaper_cv;
    int reaper_started, closing;
    /* several nodes (fr_svc_sessions_start with Redis): each session this node
     * runs is leased in Redis; the leaser renews them and takes over those
     * whose node died */
    struct fr_redis *redis;
    pthread_t leaser;
    int leaser_started;
};

#define LEASE_TTL_MS 10000        /* a dead node's sessions are free this long after its last renewal */
#define LEASE_RENEW_MS 2000       /* renewed this often (a fifth of the TTL) */
#define LEASE_SCAN_MS 2000        /* sessions without an owner looked for this often */

static void lease_key(int64_t id, char out[48]) { snprintf(out, 48, "session:%lld", (long long)id); }

/* ---- helpers ---- */

static void time_text(int64_t ms, char out[48]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void cv_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

static const char *mode_name(int mode) { return mode ? "every" : "first_seen"; }

/* ---- writing callbacks ---- */

/* Fencing: 0 when the row still says this node's epoch (nobody took the
 * session over); SESSION_NOT_FOUND otherwise, and nothing may be written. */
static int fence(fr_store *tx, const struct fr_store_session *row) {
    struct fr_store_session now = { 0 };
    int rc = fr_store_session_get_id(tx, row->id, &now);
    if (rc == 0 && (now.epoch != row->epoch || !now.running))
        rc = fr_err_set(FR_E_SESSION_NOT_FOUND, "session %s was taken over (epoch %lld, ours %lld) or stopped",
                        row->uid, (long long)now.epoch, (long long)row->epoch);
    fr_store_session_free(&now);
    return rc;
}

/* A status callback's body, dated now. */
static int status_body(const struct fr_store_session *row, const char *status, const char *reason,
                       const struct run_cam *cam, int resumed, int64_t now, char **body) {
    char at[48];
    time_text(now, at);
    struct fr__jw w;
    int rc = fr__jw_begin(&w);
    if (rc < 0) return rc;
    fr__jw_str(&w, "type", "session_status");
    fr__jw_str(&w, "slot_id", row->slot_id);
    fr__jw_str(&w, "session_id", row->uid);
    fr__jw_str(&w, "status", status);
    fr__jw_str(&w, "reason", reason);
    if (cam) {
        fr__jw_str(&w, "camera_id", cam->key);
        fr__jw_str(&w, "camera_name", cam->name);
    }
    if (!strcmp(status, "STARTED")) fr__jw_bool(&w, "resumed", resumed);
    fr__jw_str(&w, "at", at);
    return fr__jw_end(&w, body);
}

/* A status callback (and its session.status event) in tx. */
static int status_callback(struct fr_service *s, fr_store *tx, const struct fr_store_session *row, const char *status,
                           const char *reason, const struct run_cam *cam, int resumed) {
    const int64_t now = fr_now_ms();
    char *body = NULL;
    int rc = status_body(row, status, reason, cam, resumed, now, &body);
    if (rc < 0) return rc;
    rc = fr__svc_callback(s, tx, row->client_id, row->hook_id, "session.status", body, now, NULL);
    if (rc == 0) rc = fr__svc_emit(s, tx, row->client_id, "session.status", body, 0, NULL);
    fr_free(body);
    return rc;
}


/* The row stopped and the STOPPED callback, one transaction. */
static int write_stop(struct fr_service *s, const struct fr_store_session *row, const char *reason, int fenced) {
    fr_store *tx = NULL;
    int rc = fr_store_tx_begin(s->store, &tx);
    if (rc < 0) return rc;
    rc = fenced ? fence(tx, row) : 0;   /* the runner's own stop: only while it still owns it */
    if (rc == 0) rc = fr_store_session_stop(tx, row->id, reason, fr_now_ms());
    if (rc == 0) rc = status_callback(s, tx, row, "STOPPED", reason, NULL, 0);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    if (rc == 0) {
        fr__svc_events_committed(s);
        fr_log(FR_LOG_INFO, "session %s (slot %s) stopped: %s", row->uid, row->slot_id, reason);
    }
    return rc;
}

/* ---- runs on this node ---- */

static struct svc_run *run_find(struct svc_sessions *ss, int64_t id) {
    for (struct svc_run *r = ss->runs; r; r = r->next)
        if (r->row.id == id) return r;
    return NULL;
}

static void run_signal_stop(struct svc_run *r) {
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Ends the session once: row + STOPPED callback; then the threads wind down.
 * Returns what writing the stop returned. */
static void pending_flush(struct svc_run *r);

static int run_end(struct svc_run *r, const char *reason, int fenced) {
    pthread_mutex_lock(&r->write_mu);
    int rc = 0;
    if (r->n_pend && !r->ended) pending_flush(r);   /* what waited goes before STOPPED */
    if (!r->ended) {
        rc = write_stop(r->s, &r->row, reason, fenced);
        if (rc == 0 || rc == -FR_E_SESSION_NOT_FOUND) r->ended = 1;
    } else {
        rc = fr_err_set(FR_E_SESSION_NOT_FOUND, "the session has ended");
    }
    pthread_mutex_unlock(&r->write_mu);
    if (r->ended) run_signal_stop(r);
    return rc;
}

static void run_free(struct svc_run *r) {
    if (r->n_pend)
        fr_log(FR_LOG_ERROR, "session %s: %d callbacks were never written (the database stayed away)", r->row.uid,
               r->n_pend);
    for (int i = 0; i < r->n_pend; i++) fr_free(r->pend[i].body);
    struct svc_sessions *ss = r->s->sessions;
    if (ss && ss->redis && r->leased) {   /* free for another node at once (a lost one is not ours: nothing) */
        char key[48];
        lease_key(r->row.id, key);
        fr_redis_lease_release(ss->redis, key, r->s->node_id);
    }
    for (int i = 0; i < r->n_cams; i++) {
        fr_free(r->cams[i].key);
        fr_free(r->cams[i].name);
        fr_free(r->cams[i].url);
        fr_image_free(&r->cams[i].frame);
    }
    for (int i = 0; i < SNAP_RING; i++) fr_image_free(&r->snaps[i].img);
    fr_free(r->cams);
    fr_tracker_free(r->tr);
    fr_store_session_free(&r->row);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->write_mu);
    pthread_cond_destroy(&r->cv);
    fr_free(r);
}

/* ---- camera threads ---- */

static void cam_on_frame(void *ctx, const struct fr_image *rgb, int64_t pts_ms, int64_t wall_ms) {
    (void)pts_ms;
    struct run_cam *c = ctx;
    struct svc_run *r = c->run;
    pthread_mutex_lock(&r->mu);
    if (!r->stopping) {
        struct fr_image *f = &c->frame;
        const size_t bytes = (size_t)rgb->w * (size_t)rgb->h * (size_t)rgb->channels;
        if (!f->data || f->w != rgb->w || f->h != rgb->h || f->channels != rgb->channels) {
            fr_image_free(f);
            f->data = fr_malloc(bytes);
            f->w = f->data ? rgb->w : 0;
            f->h = f->data ? rgb->h : 0;
            f->channels = f->data ? rgb->channels : 0;
        }
        if (f->data) {
            memcpy(f->data, rgb->data, bytes);
            if (c->has_frame) {
                c->busy++;
                fr_metric_inc(r->s->m.camera_frames, "busy");
            }
            c->has_frame = 1;
            c->frame_wall = wall_ms;
            pthread_cond_broadcast(&r->cv);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static void cam_on_state(void *ctx, int state, const char *reason) {
    struct run_cam *c = ctx;
    struct svc_run *r = c->run;
    pthread_mutex_lock(&r->mu);
    switch (state) {
    case FR_CAMERA_DISCONNECTED: c->state = "reconnecting"; break;
    case FR_CAMERA_RECONNECTED:
        c->state = "connected";
        c->reconnects++;
        fr_metric_inc(r->s->m.camera_reconnects);
        break;
    case FR_CAMERA_DEAD: c->reader_dead = 1; break;
    default: break;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (state != FR_CAMERA_CONNECTED)
        fr_log(FR_LOG_INFO, "session %s camera %s: %s %s", r->row.uid, c->key, fr_camera_state_name(state),
               reason ? reason : "");
}

static void cam_open_opts(struct run_cam *c, struct fr_camera_opts *o) {
    const struct fr_svc_config *cfg = &c->run->s->cfg;
    memset(o, 0, sizeof *o);
    o->url = c->url;
    o->transport = c->transport;
    o->fps = c->run->row.set.fps;
    o->read_timeout_ms = cfg->camera_timeout_ms > 0 ? cfg->camera_timeout_ms : 5000;
    o->reconnect_attempts = cfg->camera_reconnect_attempts > 0 ? cfg->camera_reconnect_attempts : -1;
    o->reconnect_delay_ms = cfg->camera_reconnect_delay_ms;
    o->allow_files = cfg->camera_allow_files;
    o->realtime = 1;            /* a file (only) is a replay: at the pace a camera sends it */
    o->on_frame = cam_on_frame;
    o->on_state = cam_on_state;
    o->ctx = c;
}

/* Waits ms or until the run stops; 1 when it stops. (r->mu held.) */
static int wait_or_stop(struct svc_run *r, int64_t ms) {
    const int64_t until = fr_now_ms() + ms;
    while (!r->stopping) {
        int64_t left = until - fr_now_ms();
        if (left <= 0) break;
        cv_wait_ms(&r->cv, &r->mu, left);
    }
    return r->stopping;
}

static void *keeper_main(void *arg) {
    struct run_cam *c = arg;
    struct svc_run *r = c->run;
    const struct fr_svc_config *cfg = &r->s->cfg;
    const int attempts = cfg->camera_reconnect_attempts > 0 ? cfg->camera_reconnect_attempts : 0;
    const int64_t delay = cfg->camera_reconnect_delay_ms > 0 ? cfg->camera_reconnect_delay_ms : 0;
    const int64_t revive = delay * 5 > 10000 ? delay * 5 : 10000;
    int failures = 0;   /* failed opens since the last success */
    for (;;) {
        struct fr_camera_opts o;
        cam_open_opts(c, &o);
        struct fr_camera *cam = NULL;
        int rc = fr_camera_open(&o, &cam);
        char why[256];
        snprintf(why, sizeof why, "%s", rc < 0 ? fr_err_detail() : "");
        pthread_mutex_lock(&r->mu);
        if (rc == 0) {
            failures = 0;
            c->cam = cam;
            c->reader_dead = 0;
            c->read_last = 0;
            if (c->dead) c->revived = 1;   /* the worker calls CAMERA_RECONNECTED back */
            c->dead = 0;
            c->state = "connected";
            c->first_done = 1;
            pthread_cond_broadcast(&r->cv);
            while (!r->stopping && !c->reader_dead) cv_wait_ms(&r->cv, &r->mu, 1000);
            c->cam = NULL;
            pthread_mutex_unlock(&r->mu);
            struct fr_camera_stats st;
            fr_camera_stats(cam, &st);
            fr_camera_stop(cam);
            pthread_mutex_lock(&r->mu);
            c->read_base += st.read;
            c->read_last = 0;
            if (r->stopping) {
                c->state = "stopped";
                pthread_mutex_unlock(&r->mu);
                break;
            }
            /* the reader spent its reconnect attempts */
            c->dead = 1;
            c->state = "disconnected";
            pthread_cond_broadcast(&r->cv);
            int stop = wait_or_stop(r, revive);
            pthread_mutex_unlock(&r->mu);
            if (stop) break;
            continue;
        }
        failures++;
        fr_log(FR_LOG_WARN, "session %s camera %s: cannot open (attempt %d): %s", r->row.uid, c->key, failures, why);
        const int was_first = !c->first_done;
        c->first_done = 1;
        if (was_first) {
            /* the first attempt failed: the session starts without it; it is
             * retried like a lost stream */
            c->state = "reconnecting";
        }
        if (failures > attempts && !c->dead) {
            c->dead = 1;
            c->state = "disconnected";
        }
        pthread_cond_broadcast(&r->cv);
        int stop = wait_or_stop(r, c->dead ? revive : delay);
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
    }
    pthread_mutex_lock(&r->mu);
    c->state = "stopped";
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- the worker ---- */

static void snap_keep(struct svc_run *r, int64_t frame_ref, int face_index, const struct fr_image *img,
                      const float box[4]) {
    const float w = box[2] - box[0], h = box[3] - box[1];
    const int x0 = (int)floorf(box[0] - 0.2f * w), y0 = (int)floorf(box[1] - 0.2f * h);
    const int x1 = (int)ceilf(box[2] + 0.2f * w), y1 = (int)ceilf(box[3] + 0.2f * h);
    struct snap *sn = &r->snaps[r->snap_next];
    r->snap_next = (r->snap_next + 1) % SNAP_RING;
    fr_image_free(&sn->img);
    sn->frame_ref = frame_ref;
    sn->face_index = face_index;
    struct fr_image crop = { 0 };
    if (fr_image_crop(img, x0, y0, x1, y1, &crop) < 0) return;
    const int side = crop.w > crop.h ? crop.w : crop.h;
    if (side > SNAP_MAX_SIDE) {
        const int nw = crop.w * SNAP_MAX_SIDE / side, nh = crop.h * SNAP_MAX_SIDE / side;
        if (nw > 0 && nh > 0 && fr_image_resize(&crop, nw, nh, FR_RESIZE_AREA, &sn->img) == 0) {
            fr_image_free(&crop);
            return;
        }
    }
    sn->img = crop;
}

/* base64 of the JPEG of the kept crop, or NULL. */
static char *snap_base64(struct svc_run *r, int64_t frame_ref, int face_index) {
    for (int i = 0; i < SNAP_RING; i++) {
        const struct snap *sn = &r->snaps[i];
        if (!sn->img.data || sn->frame_ref != frame_ref || sn->face_index != face_index) continue;
        uint8_t *jpg = NULL;
        size_t len = 0;
        if (fr_image_encode_jpeg(&sn->img, 85, &jpg, &len) < 0) return NULL;
        char *b64 = fr_malloc(4 * ((len + 2) / 3) + 1);
        if (b64) EVP_EncodeBlock((unsigned char *)b64, jpg, (int)len);
        fr_free(jpg);
        return b64;
    }
    return NULL;
}

/* One callback (with its recognition row when rec) in one transaction,
 * fenced; write_mu held. */
static int persist(struct svc_run *r, const char *type, const char *body, int64_t at,
                   const struct fr_store_recognition *rec) {
    struct fr_service *s = r->s;
    const struct fr_store_session *row = &r->row;
    fr_store *tx = NULL;
    char ev[40] = "";
    int rc = fr_store_tx_begin(s->store, &tx);
    if (rc < 0) return rc;
    rc = fence(tx, row);
    if (rc == 0) rc = fr__svc_callback(s, tx, row->client_id, row->hook_id, type, body, at, ev);
    if (rc == 0 && rec) {
        struct fr_store_recognition x = *rec;
        x.event_id = ev[0] ? ev : NULL;
        int64_t rid = 0;
        rc = fr_store_recognition_add(tx, &x, &rid);
    }
    if (rc == 0) rc = fr__svc_emit(s, tx, row->client_id, type, body, 0, NULL);
    rc = rc == 0 ? fr_store_tx_commit(tx) : (fr_store_tx_rollback(tx), rc);
    if (rc == 0) fr__svc_events_committed(s);
    return rc;
}

/* Writes what waits, in order, while the database takes it; write_mu held. */
static void pending_flush(struct svc_run *r) {
    int done = 0;
    while (done < r->n_pend) {
        struct pending *p = &r->pend[done];
        if (persist(r, p->type, p->body, p->at, p->is_rec ? &p->rec : NULL) < 0) break;
        if (p->is_rec) r->recognitions++;
        fr_free(p->body);
        done++;
    }
    if (done) {
        memmove(r->pend, r->pend + done, (size_t)(r->n_pend - done) * sizeof r->pend[0]);
        r->n_pend -= done;
        fr_log(FR_LOG_INFO, "session %s: %d callbacks written now that the database is back (%d still waiting)",
               r->row.uid, done, r->n_pend);
    }
    r->pend_retry_at = fr_now_ms() + 1000;
}

/* A callback: written now, or kept for when the database is back (after
 * the ones already waiting: callbacks keep their order). write_mu held. */
static void deliver(struct svc_run *r, const char *type, char *body, int64_t at, const struct fr_store_recognition *rec) {
    if (r->n_pend) pending_flush(r);
    int rc = r->n_pend ? -FR_E_SERVICE_UNAVAILABLE : persist(r, type, body, at, rec);
    if (rc == 0) {
        if (rec) r->recognitions++;
        fr_free(body);
        return;
    }
    if (!fr__svc_store_away(rc) || r->n_pend == PENDING_MAX) {
        fr_log(FR_LOG_ERROR, "session %s: a %s callback was not written: %s", r->row.uid, type, fr_err_detail());
        fr_free(body);
        return;
    }
    struct pending *p = &r->pend[r->n_pend++];
    p->type = type;
    p->body = body;
    p->at = at;
    p->is_rec = rec != NULL;
    if (rec) p->rec = *rec;
    if (r->n_pend == 1) {
        fr_log(FR_LOG_WARN, "session %s: the database is away (%s): callbacks wait here until it is back",
               r->row.uid, fr_err_detail());
        r->pend_retry_at = fr_now_ms() + 1000;
    }
}

/* One status callback (written now, or when the database is back). */
static void status_now(struct svc_run *r, const char *status, const struct run_cam *cam) {
    char *body = NULL;
    const int64_t now = fr_now_ms();
    if (status_body(&r->row, status, NULL, cam, r->resumed, now, &body) < 0) return;
    pthread_mutex_lock(&r->write_mu);
    if (!r->ended) deliver(r, "session.status", body, now, NULL);
    else fr_free(body);
    pthread_mutex_unlock(&r->write_mu);
}

/* One report: the recognition row, its callback and its event. */
static void report(struct svc_run *r, const struct fr_tracker_report *rep) {
    struct fr_service *s = r->s;
    const struct fr_store_session *row = &r->row;
    const struct run_cam *cam = &r->cams[rep->camera_index];
    const int unknown = rep->kind == FR_TRACKER_REPORT_UNKNOWN;
    struct fr_store_subject sub = { 0 };
    int rc = unknown ? 0 : fr_store_subject_get(s->store, row->client_id, rep->subject_id, &sub);
    if (rc < 0 && fr__svc_store_away(rc))   /* the database is away: the name as last read */
        rc = fr__svc_cache_subjects_get(s, row->client_id, &rep->subject_id, 1, &sub);
    if (rc < 0) {
        fr_log(FR_LOG_WARN, "session %s: subject %lld reported but gone: %s", row->uid, (long long)rep->subject_id,
               fr_err_detail());
        return;
    }
    char seen[48], decided[48];
    time_text(rep->best.wall_ms, seen);
    time_text(rep->last_seen_ms, decided);
    char *snap = row->set.snapshot ? snap_base64(r, rep->best.frame_ref, rep->best.face_index) : NULL;
    struct fr__jw w;
    char *body = NULL;
    rc = fr__jw_begin(&w);
    if (rc == 0) {
        fr__jw_str(&w, "type", unknown ? "unknown_face" : "recognition");
        fr__jw_str(&w, "slot_id", row->slot_id);
        fr__jw_str(&w, "session_id", row->uid);
        fr__jw_str(&w, "mode", mode_name(row->set.mode));
        fr__jw_open(&w, "camera", 0);
        fr__jw_str(&w, "id", cam->key);
        fr__jw_str(&w, "name", cam->name);
        fr__jw_close(&w);
        if (unknown) fr__jw_null(&w, "subject");
        else fr__jw_subject(&w, "subject", sub.id, sub.external_id, sub.name);
        fr__jw_num(&w, "similarity", rep->best.similarity);
        fr__jw_num(&w, "quality", rep->best.quality);
        fr__jw_open(&w, "box", 1);
        for (int i = 0; i < 4; i++) fr__jw_num(&w, NULL, roundf(rep->best.box[i] * 10) / 10);
        fr__jw_close(&w);
        fr__jw_str(&w, "seen_at", seen);
        fr__jw_str(&w, "decided_at", decided);
        fr__jw_int(&w, "votes", rep->votes);
        if (snap) fr__jw_str(&w, "snapshot_jpeg_base64", snap);
        rc = fr__jw_end(&w, &body);
    }
    fr_free(snap);
    fr_store_subject_free(&sub);
    if (rc < 0) return;
    struct fr_store_recognition rec = { .client_id = row->client_id, .session_id = row->id, .kind = unknown,
                                        .subject_id = unknown ? 0 : rep->subject_id, .camera = cam->key,
                                        .similarity = rep->best.similarity, .quality = rep->best.quality,
                                        .seen_at = rep->best.wall_ms };
    memcpy(rec.box, rep->best.box, sizeof rec.box);
    fr_log(FR_LOG_INFO, "session %s: %s %lld on camera %s (similarity %.3f, %d votes)", row->uid,
           unknown ? "unknown face" : "subject", (long long)rep->subject_id, cam->key, (double)rep->best.similarity,
           rep->votes);
    pthread_mutex_lock(&r->write_mu);
    if (!r->ended) deliver(r, "session.recognition", body, rep->best.wall_ms, &rec);
    else fr_free(body);
    pthread_mutex_unlock(&r->write_mu);
}

static void analyse(struct svc_run *r, int ci, const struct fr_image *img, int64_t wall_ms) {
    struct fr_service *s = r->s;
    const struct fr_store_session_settings *x = &r->row.set;
    struct fr_svc_identify_req q = { .client_id = r->row.client_id, .top_k = 2, .max_faces = SESSION_MAX_FACES,
                                     .liveness = x->liveness, .threshold = (float)x->threshold,
                                     .min_face_px = x->min_face_px };
    struct fr_svc_identify_result res = { 0 };
    struct fr_svc_timing t;
    const int64_t ref = ++r->frame_seq;
    int rc = fr_svc_identify_frame(s, img, &q, &t, &res);
    r->cams[ci].analysed++;
    fr_metric_inc(s->m.camera_frames, "analysed");
    if (rc < 0) {
        fr_log(FR_LOG_WARN, "session %s camera %s: frame not analysed: %s", r->row.uid, r->cams[ci].key,
               fr_err_detail());
        return;
    }
    struct fr_tracker_face faces[SESSION_MAX_FACES];
    const int n = res.n < SESSION_MAX_FACES ? res.n : SESSION_MAX_FACES;
    r->faces_seen += n;
    for (int i = 0; i < n; i++) {
        const struct fr_svc_identified *d = &res.faces[i];
        int decision = d->decision;
        /* liveness asked: a face that fails it is nobody */
        if (x->liveness && d->face.has_live && d->face.live < s->cfg.liveness_threshold) decision = FR_DECISION_LOW_QUALITY;
        faces[i] = (struct fr_tracker_face){ .quality = d->face.q.score,
                                             .emb = d->face.f.has_emb ? d->face.f.emb : NULL,
                                             .decision = decision,
                                             .subject_id = decision == FR_DECISION_MATCH && d->match >= 0
                                                               ? d->cands[d->match].subject_id : 0,
                                             .similarity = d->n_cands ? d->cands[0].similarity : 0,
                                             .frame_ref = ref, .face_index = i };
        memcpy(faces[i].box, d->face.f.box, sizeof faces[i].box);
    }
    const struct fr_tracker_report *rep = NULL;
    int nrep = 0;
    rc = fr_tracker_frame(r->tr, ci, wall_ms, faces, n, &rep, &nrep);
    if (rc == 0 && x->snapshot)
        for (int i = 0; i < n; i++)
            if (fr_tracker_face_track(r->tr, i) &&
                (faces[i].decision == FR_DECISION_MATCH || (x->report_unknown && faces[i].decision == FR_DECISION_UNKNOWN)))
                snap_keep(r, ref, i, img, faces[i].box);
    fr_svc_identify_result_free(&res);
    if (rc < 0) {
        fr_log(FR_LOG_WARN, "session %s: tracker: %s", r->row.uid, fr_err_detail());
        return;
    }
    for (int i = 0; i < nrep; i++) report(r, &rep[i]);   /* valid until the next fr_tracker_frame */
}

static void progress(struct svc_run *r) {
    struct fr_store_session_stats st = { 0 };
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_cams; i++) {
        struct run_cam *c = &r->cams[i];
        if (c->cam) {
            struct fr_camera_stats cs;
            fr_camera_stats(c->cam, &cs);
            if (cs.read > c->read_last) {
                fr_metric_add(r->s->m.camera_frames, (double)(cs.read - c->read_last), "read");
                c->read_last = cs.read;
            }
        }
        st.frames_read += c->read_base + c->read_last;
        st.frames_analysed += c->analysed;
    }
    st.callback_failures = r->callback_failures;
    pthread_mutex_unlock(&r->mu);
    st.faces_seen = r->faces_seen;
    st.recognitions = r->recognitions;
    if (fr_store_session_progress(r->s->store, r->row.id, &st) < 0)
        fr_log(FR_LOG_WARN, "session %s: progress not written: %s", r->row.uid, fr_err_detail());
}

static void *worker_main(void *arg) {
    struct svc_run *r = arg;
    struct fr_service *s = r->s;
    const struct fr_store_session *row = &r->row;
    for (int i = 0; i < r->n_cams; i++) {
        if (pthread_create(&r->cams[i].keeper, NULL, keeper_main, &r->cams[i]) == 0) r->cams[i].keeper_started = 1;
        else {
            pthread_mutex_lock(&r->mu);
            r->cams[i].first_done = 1;
            r->cams[i].dead = 1;
            pthread_mutex_unlock(&r->mu);
        }
    }
    /* the first open phase */
    int connected = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        int done = 1;
        connected = 0;
        for (int i = 0; i < r->n_cams; i++) {
            done &= r->cams[i].first_done;
            connected += r->cams[i].cam != NULL;
        }
        if (done || r->stopping) break;
        cv_wait_ms(&r->cv, &r->mu, 200);
    }
    r->connected_at_open = connected;
    /* none opened at a client's start: the caller answers ALL_CAMERAS_FAILED, so the row says
     * stopped before it answers (no callback at all) */
    const int refused = connected == 0 && !r->stopping && !r->resumed;
    pthread_mutex_unlock(&r->mu);
    if (refused) {
        pthread_mutex_lock(&r->write_mu);
        if (fr_store_session_stop(s->store, row->id, "ALL_CAMERAS_FAILED", fr_now_ms()) < 0)
            fr_log(FR_LOG_ERROR, "session %s: stop not written: %s", row->uid, fr_err_detail());
        r->ended = 1;
        pthread_mutex_unlock(&r->write_mu);
    }
    pthread_mutex_lock(&r->mu);
    r->opened = 1;
    r->last_ok_ms = fr_now_ms();
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (refused) {
        run_signal_stop(r);
    } else if (connected == 0 && !r->stopping) {
        run_end(r, "ALL_CAMERAS_FAILED", 1);   /* a resumed session: called back */
    } else if (!r->stopping) {
        status_now(r, "STARTED", NULL);
        fr_log(FR_LOG_INFO, "session %s (slot %s) %s: %d of %d cameras connected", row->uid, row->slot_id,
               r->resumed ? "resumed" : "started", connected, r->n_cams);
    }
    /* usage counts started minutes: the first at once */
    int64_t last_progress = fr_now_ms(), last_usage = last_progress - USAGE_MS;
    struct fr_image work = { 0 };
    while (1) {
        pthread_mutex_lock(&r->mu);
        /* a frame from the mailboxes, round robin; else wait a little (then the
         * end time and the callbacks' health are checked all the same) */
        int ci = -1, events = 0;
        for (int k = 0; k < r->n_cams && ci < 0; k++) {
            int i = (int)((r->frame_seq + (int64_t)k) % r->n_cams);
            if (r->cams[i].has_frame) ci = i;
        }
        for (int i = 0; i < r->n_cams; i++)
            events |= (r->cams[i].dead && !r->cams[i].announced_dead) || r->cams[i].revived;
        if (ci < 0 && !events && !r->stopping) cv_wait_ms(&r->cv, &r->mu, 250);
        if (r->stopping) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        /* the cameras' state changes, as callbacks */
        int alive = 0;
        struct run_cam *down[FR_STORE_SESSION_CAMERAS_MAX], *up[FR_STORE_SESSION_CAMERAS_MAX];
        int n_down = 0, n_up = 0;
        for (int i = 0; i < r->n_cams; i++) {
            struct run_cam *c = &r->cams[i];
            alive += !c->dead;
            if (c->dead && !c->announced_dead) {
                c->announced_dead = 1;
                down[n_down++] = c;
            }
            if (c->revived) {
                c->revived = 0;
                if (c->announced_dead) up[n_up++] = c;
                c->announced_dead = 0;
            }
        }
        int64_t frame_wall = 0;
        if (ci >= 0) {
            struct run_cam *c = &r->cams[ci];
            struct fr_image t = work;   /* swap the mailbox with the work buffer */
            work = c->frame;
            c->frame = t;
            c->has_frame = 0;
            frame_wall = c->frame_wall;
        }
        const int64_t cb_fail = r->consecutive_failures, since_ok = fr_now_ms() - r->last_ok_ms;
        pthread_mutex_unlock(&r->mu);

        if (alive == 0) {
            run_end(r, "ALL_CAMERAS_FAILED", 1);
            break;
        }
        for (int i = 0; i < n_down; i++) status_now(r, "CAMERA_DISCONNECTED", down[i]);
        for (int i = 0; i < n_up; i++) status_now(r, "CAMERA_RECONNECTED", up[i]);
        if (ci >= 0) analyse(r, ci, &work, frame_wall);
        pthread_mutex_lock(&r->write_mu);   /* callbacks that wait for the database: again every second */
        if (r->n_pend && fr_now_ms() >= r->pend_retry_at && !r->ended) pending_flush(r);
        pthread_mutex_unlock(&r->write_mu);

        const int64_t now = fr_now_ms();
        if (row->set.ends_at > 0 && now >= row->set.ends_at) {
            run_end(r, "ENDED", 1);
            break;
        }
        if ((row->set.max_failures > 0 && cb_fail >= row->set.max_failures) ||
            (row->set.max_failure_ms > 0 && cb_fail > 0 && since_ok >= row->set.max_failure_ms)) {
            fr_log(FR_LOG_WARN, "session %s: %lld callbacks failed in a row, none delivered for %.1f s: stopping",
                   row->uid, (long long)cb_fail, (double)since_ok / 1000);
            run_end(r, "BACKEND_UNRESPONSIVE", 1);
            break;
        }
        if (now - last_progress >= PROGRESS_MS) {
            progress(r);
            last_progress = now;
        }
        if (now - last_usage >= USAGE_MS) {
            fr_svc_usage_count(s, row->client_id, "session_minutes");
            last_usage += USAGE_MS;
        }
    }
    fr_image_free(&work);
    run_signal_stop(r);
    for (int i = 0; i < r->n_cams; i++)
        if (r->cams[i].keeper_started) pthread_join(r->cams[i].keeper, NULL);
    progress(r);
    pthread_mutex_lock(&r->mu);
    r->finished = 1;
    pthread_mutex_unlock(&r->mu);
    struct svc_sessions *ss = s->sessions;
    pthread_mutex_lock(&ss->mu);
    pthread_cond_broadcast(&ss->reaper_cv);
    pthread_mutex_unlock(&ss->mu);
    return NULL;
}

/* Joins and frees the runs whose worker returned. */
static void *reaper_main(void *arg) {
    struct fr_service *s = arg;
    struct svc_sessions *ss = s->sessions;
    pthread_mutex_lock(&ss->mu);
    while (!ss->closing) {
        struct svc_run **pp = &ss->runs, *done = NULL;
        while (*pp) {
            struct svc_run *r = *pp;
            pthread_mutex_lock(&r->mu);
            int fin = r->finished;
            pthread_mutex_unlock(&r->mu);
            if (fin) {
                *pp = r->next;
                r->next = done;
                done = r;
                ss->n--;
            } else {
                pp = &r->next;
            }
        }
        fr_metric_set(s->m.active_sessions, (double)ss->n);
        pthread_mutex_unlock(&ss->mu);
        while (done) {
            struct svc_run *r = done;
            done = r->next;
            pthread_join(r->worker, NULL);
            run_free(r);
        }
        pthread_mutex_lock(&ss->mu);
        if (!ss->closing) cv_wait_ms(&ss->reaper_cv, &ss->mu, 1000);
    }
    pthread_mutex_unlock(&ss->mu);
    return NULL;
}

/* ---- leases (several nodes, with Redis) ---- */

int fr__svc_lease_take(struct fr_service *s, int64_t id) {
    struct svc_sessions *ss = s->sessions;
    if (!ss || !ss->redis) return 0;
    char key[48];
    lease_key(id, key);
    return fr_redis_lease_acquire(ss->redis, key, s->node_id, LEASE_TTL_MS);
}

/* Where a new session runs: the live node with the most free room. 1: here
 * (also without Redis, or while it is down); 0: node_out names another. */
int fr__svc_place(struct fr_service *s, char *node_out, size_t len) {
    struct svc_sessions *ss = s->sessions;
    snprintf(node_out, len, "%s", s->node_id);
    if (!ss || !ss->redis) return 1;
    struct fr_redis_node *nodes = NULL;
    size_t n = 0;
    if (fr_redis_nodes_list(ss->redis, &nodes, &n) < 0) return 1;
    int pick = fr_redis_nodes_pick(nodes, n), here = 1;
    if (pick >= 0 && strcmp(nodes[pick].id, s->node_id)) {
        snprintf(node_out, len, "%s", nodes[pick].id);
        here = 0;
    }
    fr_free(nodes);
    return here;
}

/* Renews this node's leases; a session whose lease another node holds now
 * is suspended here at once (that node runs it; the fencing epoch refuses
 * whatever this one might still write). A lease found free (Redis lost its
 * keys, or this run started while Redis was down) is taken again. */
static void leases_renew(struct fr_service *s) {
    struct svc_sessions *ss = s->sessions;
    int64_t ids[256];
    int leased[256], n = 0;
    pthread_mutex_lock(&ss->mu);
    for (struct svc_run *r = ss->runs; r && n < 256; r = r->next)
        if (!r->stopping) {
            ids[n] = r->row.id;
            leased[n++] = r->leased;
        }
    pthread_mutex_unlock(&ss->mu);
    for (int i = 0; i < n; i++) {
        char key[48], owner[FR_REDIS_NODE_ID_MAX] = "";
        lease_key(ids[i], key);
        int rc = leased[i] ? fr_redis_lease_renew(ss->redis, key, s->node_id, LEASE_TTL_MS) : -FR_E_CONFLICT;
        if (rc == -FR_E_CONFLICT) {
            rc = fr_redis_lease_owner(ss->redis, key, owner, sizeof owner, NULL);
            if (rc == -FR_E_NOT_FOUND) rc = fr_redis_lease_acquire(ss->redis, key, s->node_id, LEASE_TTL_MS);
            else if (rc == 0 && strcmp(owner, s->node_id)) rc = -FR_E_CONFLICT;
        }
        if (rc == -FR_E_SERVICE_UNAVAILABLE) continue;   /* Redis down: it stays here; nobody can take it */
        pthread_mutex_lock(&ss->mu);
        struct svc_run *r = run_find(ss, ids[i]);
        if (r && rc == 0) r->leased = 1;
        if (r && rc == -FR_E_CONFLICT) {
            fr_log(FR_LOG_WARN, "session %s: its lease is held by %s now: suspended here", r->row.uid,
                   owner[0] ? owner : "another node");
            r->leased = 0;
            run_signal_stop(r);
        }
        pthread_mutex_unlock(&ss->mu);
    }
}

/* Takes over the running sessions nobody holds: those recorded on this
 * node, and those of nodes that left the registry when this node is where
 * a new session would go. */
static void leases_scan(struct fr_service *s) {
    struct svc_sessions *ss = s->sessions;
    struct fr_redis_node *nodes = NULL;
    size_t n_nodes = 0;
    if (fr_redis_nodes_list(ss->redis, &nodes, &n_nodes) < 0) return;   /* Redis down: no failover */
    struct fr_store_session *rows = NULL;
    size_t n = 0;
    if (fr_store_session_running(s->store, &rows, &n) < 0) {
        fr_free(nodes);
        return;
    }
    const int pick = fr_redis_nodes_pick(nodes, n_nodes);
    const int here_is_pick = pick >= 0 && !strcmp(nodes[pick].id, s->node_id);
    for (size_t i = 0; i < n; i++) {
        struct fr_store_session *row = &rows[i];
        pthread_mutex_lock(&ss->mu);
        const int local = run_find(ss, row->id) != NULL, full = ss->n >= s->cfg.max_sessions;
        pthread_mutex_unlock(&ss->mu);
        if (local || full) continue;
        int node_live = 0;
        for (size_t k = 0; row->node && k < n_nodes; k++) node_live |= !strcmp(nodes[k].id, row->node);
        const int mine = row->node && !strcmp(row->node, s->node_id);
        if (!mine && (node_live || !here_is_pick)) continue;
        char key[48], owner[FR_REDIS_NODE_ID_MAX];
        lease_key(row->id, key);
        int rc = fr_redis_lease_owner(ss->redis, key, owner, sizeof owner, NULL);
        if (rc == -FR_E_NOT_FOUND) rc = fr_redis_lease_acquire(ss->redis, key, s->node_id, LEASE_TTL_MS);
        else if (rc == 0 && !strcmp(owner, s->node_id))   /* this node's, from before it restarted */
            rc = fr_redis_lease_renew(ss->redis, key, s->node_id, LEASE_TTL_MS);
        else continue;
        if (rc < 0) continue;
        const int64_t id = row->id;
        const char *from = row->node ? row->node : "nobody";
        char from_copy[FR_REDIS_NODE_ID_MAX], uid[48];
        snprintf(from_copy, sizeof from_copy, "%s", from);
        snprintf(uid, sizeof uid, "%s", row->uid);
        const int resumed = row->epoch > 0;   /* placed here by another node: it never ran */
        if (fr__svc_run_start(s, row, resumed, 0, 1, NULL) == 0) {
            (void)id;
            fr_log(FR_LOG_INFO, "session %s: %s here (it was on %s)", uid, resumed ? "taken over" : "started",
                   from_copy);
        } else {
            fr_redis_lease_release(ss->redis, key, s->node_id);
        }
    }
    fr_store_sessions_free(rows, n);
    fr_free(nodes);
}

static void *leaser_main(void *arg) {
    struct fr_service *s = arg;
    struct svc_sessions *ss = s->sessions;
    int64_t last_renew = 0, last_scan = 0;
    pthread_mutex_lock(&ss->mu);
    while (!ss->closing) {
        cv_wait_ms(&ss->reaper_cv, &ss->mu, 500);
        if (ss->closing) break;
        const int64_t now = fr_now_ms();
        pthread_mutex_unlock(&ss->mu);
        if (now - last_renew >= LEASE_RENEW_MS) {
            leases_renew(s);
            last_renew = now;
        }
        if (now - last_scan >= LEASE_SCAN_MS) {
            leases_scan(s);
            last_scan = now;
        }
        pthread_mutex_lock(&ss->mu);
    }
    pthread_mutex_unlock(&ss->mu);
    return NULL;
}

/* ---- the service's side ---- */

int fr__svc_sessions_init(struct fr_service *s) {
    struct svc_sessions *ss = fr_calloc(1, sizeof *ss);
    if (!ss) return -FR_E_NOMEM;
    pthread_mutex_init(&ss->mu, NULL);
    pthread_cond_init(&ss->reaper_cv, NULL);
    s->sessions = ss;
    return 0;
}

void fr__svc_sessions_fini(struct fr_service *s) {
    struct svc_sessions *ss = s->sessions;
    if (!ss) return;
    pthread_mutex_lock(&ss->mu);
    ss->closing = 1;
    pthread_cond_broadcast(&ss->reaper_cv);
    pthread_mutex_unlock(&ss->mu);
    if (ss->reaper_started) pthread_join(ss->reaper, NULL);
    if (ss->leaser_started) pthread_join(ss->leaser, NULL);
    /* suspend: the threads stop, the rows stay running (their leases are
     * released by run_free: another node takes them over at once) */
    for (struct svc_run *r = ss->runs; r; r = r->next) run_signal_stop(r);
    while (ss->runs) {
        struct svc_run *r = ss->runs;
        ss->runs = r->next;
        pthread_join(r->worker, NULL);
        run_free(r);
    }
    if (s->m.active_sessions) fr_metric_set(s->m.active_sessions, 0);
    pthread_mutex_destroy(&ss->mu);
    pthread_cond_destroy(&ss->reaper_cv);
    fr_free(ss);
    s->sessions = NULL;
}


int fr__svc_run_start(struct fr_service *s, struct fr_store_session *row, int resumed, int wait, int leased,
                      int *connected_out) {
    struct svc_sessions *ss = s->sessions;
    if (connected_out) *connected_out = 0;
    struct svc_run *r = fr_calloc(1, sizeof *r);
    if (!r) {
        fr_store_session_free(row);
        return -FR_E_NOMEM;
    }
    r->s = s;
    r->row = *row;
    memset(row, 0, sizeof *row);
    r->resumed = resumed;
    r->leased = leased;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->write_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = 0;
    /* the tracker, seeded with what the session reported before (a resume) */
    struct fr_tracker_opts to;
    fr_tracker_opts_init(&to);
    to.mode = r->row.set.mode ? FR_TRACKER_EVERY : FR_TRACKER_FIRST_SEEN;
    to.cooldown_ms = r->row.set.cooldown_ms;
    to.report_unknown = r->row.set.report_unknown;
    to.min_face_px = r->row.set.min_face_px;
    to.min_quality = (float)r->row.set.min_quality;
    int64_t *roster = NULL;
    if ((rc = fr__svc_roster_parse(r->row.set.roster, &roster, &to.n_roster)) == 0) {
        to.roster = roster;
        rc = fr_tracker_new(&to, &r->tr);
    }
    fr_free(roster);
    int64_t *subj = NULL, *at = NULL;
    size_t n_rep = 0;
    if (rc == 0 && (rc = fr_store_session_reported(s->store, r->row.id, &subj, &at, &n_rep)) == 0)
        for (size_t i = 0; i < n_rep; i++) fr_tracker_mark_reported(r->tr, subj[i], at[i]);
    fr_free(subj);
    fr_free(at);
    r->n_cams = r->row.n_cameras;
    r->cams = fr_calloc((size_t)r->n_cams + 1, sizeof *r->cams);
    if (rc == 0 && !r->cams) rc = -FR_E_NOMEM;
    for (int i = 0; rc == 0 && i < r->n_cams; i++) {
        struct run_cam *c = &r->cams[i];
        const struct fr_store_session_camera *sc = &r->row.cameras[i];
        c->run = r;
        c->index = i;
        c->key = fr_strdup(sc->key);
        c->name = fr_strdup(sc->name ? sc->name : sc->key);
        c->url = fr_strdup(sc->url);
        c->transport = sc->transport;
        c->state = "connecting";
        if (!c->key || !c->name || !c->url) rc = -FR_E_NOMEM;
    }
    /* this node takes it */
    int64_t epoch = 0;
    if (rc == 0) rc = fr_store_session_take(s->store, r->row.id, s->node_id, &epoch);
    r->row.epoch = epoch;
    pthread_mutex_lock(&ss->mu);
    const int limit = s->cfg.max_sessions;
    if (rc == 0 && ss->n >= limit)
        rc = fr_err_set(FR_E_SERVICE_UNAVAILABLE, "this node runs its maximum of %d sessions (FACEREC_MAX_SESSIONS)",
                        limit);
    if (rc == 0 && !ss->reaper_started) {
        if (pthread_create(&ss->reaper, NULL, reaper_main, s) == 0) ss->reaper_started = 1;
        else rc = fr_err_set(FR_E_INTERNAL_ERROR, "cannot start a thread");
    }
    if (rc == 0 && pthread_create(&r->worker, NULL, worker_main, r) != 0)
        rc = fr_err_set(FR_E_INTERNAL_ERROR, "cannot start a session's thread");
    if (rc == 0) {
        r->next = ss->runs;
        ss->runs = r;
        ss->n++;
        fr_metric_set(s->m.active_sessions, (double)ss->n);
    }
    pthread_mutex_unlock(&ss->mu);
    if (rc < 0) {
        run_free(r);
        return rc;
    }
    if (wait) {
        pthread_mutex_lock(&r->mu);
        while (!r->opened) cv_wait_ms(&r->cv, &r->mu, 200);
        if (connected_out) *connected_out = r->connected_at_open;
        pthread_mutex_unlock(&r->mu);
    }
    return 0;
}

int fr__svc_session_end(struct fr_service *s, int64_t id, const char *reason) {
    struct svc_sessions *ss = s->sessions;
    pthread_mutex_lock(&ss->mu);
    struct svc_run *r = run_find(ss, id);
    int rc;
    if (r) {
        /* under ss->mu the run cannot be freed: the reaper takes ss->mu first */
        rc = run_end(r, reason, 0);   /* the client's stop: whoever holds it now */
        pthread_mutex_unlock(&ss->mu);
        return rc;
    }
    pthread_mutex_unlock(&ss->mu);
    /* not running here (its node died, or it never started): the row alone */
    struct fr_store_session row = { 0 };
    if ((rc = fr_store_session_get_id(s->store, id, &row)) < 0) return rc;
    rc = row.running ? write_stop(s, &row, reason, 0) : fr_err_set(FR_E_SESSION_NOT_FOUND, "session not running");
    fr_store_session_free(&row);
    return rc;
}

void fr__svc_run_fill(struct fr_service *s, int64_t id, struct fr_svc_session *v) {
    struct svc_sessions *ss = s->sessions;
    pthread_mutex_lock(&ss->mu);
    struct svc_run *r = run_find(ss, id);
    if (r) {
        pthread_mutex_lock(&r->mu);
        v->frames_read = v->frames_analysed = 0;
        for (int i = 0; i < r->n_cams && i < v->n_cameras; i++) {
            struct run_cam *c = &r->cams[i];
            struct fr_svc_session_camera *o = &v->cameras[i];
            o->state = c->state;
            int64_t last = c->read_last;
            if (c->cam) {
                struct fr_camera_stats cs;
                fr_camera_stats(c->cam, &cs);
                last = cs.read;
            }
            o->frames_read = c->read_base + last;
            o->frames_analysed = c->analysed;
            o->reconnects = c->reconnects;
            v->frames_read += o->frames_read;
            v->frames_analysed += o->frames_analysed;
        }
        v->callback_failures = r->callback_failures;
        v->faces_seen = r->faces_seen;
        v->recognitions = r->recognitions;
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&ss->mu);
}

void fr__svc_session_outcome(struct fr_service *s, const struct fr_outbox_result *res) {
    const int ok = res->outcome == FR_OUTBOX_DELIVERED;
    fr_metric_inc(s->m.callbacks, ok ? "delivered" : "failed");
    if (ok && res->created_at > 0)   /* a recognition's event time is its frame's */
        fr_metric_observe(s->m.callback_latency,
                          ((double)res->attempted_at + res->duration_ms - (double)res->created_at) / 1000);
    struct svc_sessions *ss = s->sessions;
    if (!ss) return;
    pthread_mutex_lock(&ss->mu);
    struct svc_run *r = run_find(ss, res->tag);
    if (r) {
        pthread_mutex_lock(&r->mu);
        if (ok) {
            r->consecutive_failures = 0;
            r->last_ok_ms = res->attempted_at;
        } else {
            r->consecutive_failures++;
            r->callback_failures++;
        }
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&ss->mu);
}

int fr_svc_sessions_start(struct fr_service *s, struct fr_redis *redis) {
    int rc = fr__svc_need_store(s);
    if (rc < 0) return rc;
    struct svc_sessions *ss = s->sessions;
    ss->redis = redis;
    if (redis) {   /* the leaser: renewals, and the sessions of nodes that died */
        if (pthread_create(&ss->leaser, NULL, leaser_main, s) != 0)
            return fr_err_set(FR_E_INTERNAL_ERROR, "cannot start the session leaser");
        ss->leaser_started = 1;
    }
    struct fr_store_session *rows = NULL;
    size_t n = 0;
    if ((rc = fr_store_session_running(s->store, &rows, &n)) < 0) return rc;
    const int64_t now = fr_now_ms();
    int resumed = 0;
    for (size_t i = 0; i < n; i++) {
        struct fr_store_session *row = &rows[i];
        if (row->set.ends_at > 0 && now >= row->set.ends_at) {
            write_stop(s, row, "ENDED", 0);   /* it ended while facerec was down */
            continue;
        }
        const char *why = NULL;
        if (!fr_svc_models_ready(s, &why)) {
            fr_log(FR_LOG_ERROR, "session %s not resumed: recognition is unavailable (%s)", row->uid, why);
            continue;
        }
        /* several nodes: this node resumes what it ran (nobody took it over: the
         * row would name the taker); the others' are the leaser's to judge */
        int leased = 0;
        if (redis) {
            if (!row->node || strcmp(row->node, s->node_id)) continue;
            leased = fr__svc_lease_take(s, row->id) == 0;
        }
        if (fr__svc_run_start(s, row, 1, 0, leased, NULL) == 0) resumed++;
        else fr_log(FR_LOG_ERROR, "session %s not resumed: %s", rows[i].uid ? rows[i].uid : "?", fr_err_detail());
    }
    fr_store_sessions_free(rows, n);
    if (n) fr_log(FR_LOG_INFO, "camera sessions: %d of %zu running sessions resumed", resumed, n);
    return 0;
}

void fr_svc_sessions_status(struct fr_service *s, struct fr_svc_sessions_status *out) {
    memset(out, 0, sizeof *out);
    out->max_sessions = s->cfg.max_sessions;
    struct svc_sessions *ss = s->sessions;
    if (!ss) return;
    pthread_mutex_lock(&ss->mu);
    for (struct svc_run *r = ss->runs; r; r = r->next) {
        pthread_mutex_lock(&r->mu);
        if (!r->stopping) {
            out->running++;
            for (int i = 0; i < r->n_cams; i++) {
                out->cameras_total++;
                out->cameras_connected += r->cams[i].cam != NULL && !r->cams[i].dead;
            }
        }
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&ss->mu);
}
