/* Camera sessions: deciding per person, not per frame.
 *
 * Why. A camera session identifies every sampled frame (5 fps). A stranger
 * in view for a minute is 300 probes; at the default 1 % FPIR a per-frame
 * decision would call them somebody about three times a minute. The tracker
 * follows each face across the sampled frames of one camera (a track) and
 * reports a subject only when the subject wins on several frames of that
 * track: min_frames of the track's last `window` observations (3 of 5).
 * Independent per-frame errors then need to coincide on one subject within
 * one second; what remains is the stranger who really resembles somebody
 * (docs/ACCURACY.md, "Sessions: deciding per person").
 *
 * A pure module: no threads, no I/O, no store, no clock. The session runner
 * calls fr_tracker_frame once per sampled frame of each camera with the faces
 * fr_svc_identify_frame decided (src/service/service.h), and the time of the
 * frame; it persists what the reports say and seeds a resumed session with
 * fr_tracker_mark_reported. One tracker = one session; not thread-safe (one
 * runner thread calls it).
 *
 * Association (per camera; a track never crosses cameras). Each face that
 * passes the gates (min_face_px, min_quality) is paired with at most one live
 * track of its camera and each track with at most one face, greedily by the
 * score below, best pair first:
 *   - both have embeddings: the pair is allowed when the cosine similarity of
 *     the face with the track's embedding (a running mean of its faces) is
 *     >= emb_min, whatever the boxes; score = similarity + IoU. Identity by
 *     embedding is what keeps two people apart when their boxes cross.
 *   - otherwise: allowed when IoU >= iou_min; score = IoU.
 * A face left over starts a new track. A face that fails the gates is not
 * tracked (it neither votes nor keeps a track alive).
 *
 * Votes. Each observation of a track votes for its matched subject when the
 * face's decision is FR_DECISION_MATCH (and the roster, if any, holds the
 * subject), else for nobody; UNKNOWN faces (and matches outside the roster)
 * count as "unknown" votes; ambiguous and low-quality faces count for neither.
 * The window is the track's own last `window` observations (frames where the
 * track had no face do not count; an absent track ages instead).
 *
 * Reports.
 *   - subject: a subject that wins the window by a clear majority, at least
 *     min_frames votes and at least twice the votes of all other subjects
 *     together (3 of 5 against at most 1: a track alternating A, B, A, B, A
 *     is reported as nobody), is reported if
 *       first_seen: it was never reported by this tracker (any camera, any
 *                   track, or seeded with fr_tracker_mark_reported);
 *       every:      its last report (any camera) is >= cooldown_ms old.
 *     The report's face is the best face of the track among the window's
 *     votes for the subject: highest quality, then highest similarity. With
 *     the defaults that is the best face of the first second (5 frames at
 *     5 fps) in which the subject was recognised.
 *   - unknown (report_unknown): a track with >= min_frames unknown votes in
 *     its window, never reported as anybody, yields one unknown report, at
 *     most one per unknown_interval_ms per tracker; a track held back by the
 *     rate limit stays eligible while it remains unknown.
 * A track ends when its camera has processed max_missed_frames sampled frames
 * without it, or its last face is older than max_gap_ms.
 *
 * Example:
 *
 *     struct fr_tracker_opts o;
 *     fr_tracker_opts_init(&o);                  // 3 of 5, first_seen, ...
 *     o.roster = ids; o.n_roster = n;            // copied
 *     struct fr_tracker *t;
 *     if (fr_tracker_new(&o, &t) < 0) ...;
 *     for (size_t i = 0; i < n_before; i++)     // a resumed session: what it reported
 *         fr_tracker_mark_reported(t, before[i].subject, before[i].reported_ms);
 *     ... per sampled frame, from fr_svc_identify_frame's result res:
 *     for (int i = 0; i < res.n; i++) {
 *         const struct fr_svc_identified *d = &res.faces[i];
 *         faces[i] = (struct fr_tracker_face){
 *             .quality = d->face.q.score, .emb = d->face.f.has_emb ? d->face.f.emb : NULL,
 *             .decision = d->decision,
 *             .subject_id = d->match >= 0 ? d->cands[d->match].subject_id : 0,
 *             .similarity = d->n_cands ? d->cands[0].similarity : 0,
 *             .frame_ref = frame_seq, .face_index = i };
 *         memcpy(faces[i].box, d->face.f.box, sizeof faces[i].box);
 *     }
 *     const struct fr_tracker_report *rep; int nrep;
 *     fr_tracker_frame(t, cam, wall_ms, faces, n, &rep, &nrep);
 *     for (i < nrep) persist + enqueue the callback (rep[i].best.frame_ref
 *                    tells which frame's snapshot to attach)
 *     fr_tracker_free(t);
 */
#ifndef FR_SESSIONS_TRACK_H
#define FR_SESSIONS_TRACK_H

#include "facerec/base.h"

#include <stddef.h>
#include <stdint.h>

#define FR_TRACKER_EMB_DIM    512   /* FR_FACE_EMB_DIM */
#define FR_TRACKER_MAX_WINDOW 32
#define FR_TRACKER_MAX_FACES  1024  /* faces per call */
#define FR_TRACKER_MAX_ROSTER 100000

enum fr_tracker_mode {
    FR_TRACKER_FIRST_SEEN = 0,      /* each subject reported once per tracker (session) */
    FR_TRACKER_EVERY                /* again once cooldown_ms has passed since its last report */
};

struct fr_tracker_opts {
    int min_frames;                 /* [3] votes a subject needs in the window; 1..window */
    int window;                     /* [5] the track's last observations counted; 1..FR_TRACKER_MAX_WINDOW */
    float iou_min;                  /* [0.3] box overlap continuing a track (faces without embedding) */
    float emb_min;                  /* [0.5] cosine similarity to the track's embedding continuing it */
    int max_missed_frames;          /* [10] sampled frames of its camera without a face: the track ends */
    int64_t max_gap_ms;             /* [3000] ms since its last face: the track ends (0: no limit) */
    int mode;                       /* [FR_TRACKER_FIRST_SEEN] enum fr_tracker_mode */
    int64_t cooldown_ms;            /* [60000] every mode: the least time between two reports of a subject */
    const int64_t *roster;          /* subject ids that may be recognised; NULL / 0: everyone (copied) */
    int n_roster;
    int report_unknown;             /* [0] report tracks that stay unknown */
    int64_t unknown_interval_ms;    /* [10000] at most one unknown report per this interval */
    int min_face_px;                /* [0] faces narrower (box width) are not tracked */
    float min_quality;              /* [0] faces with a lower quality score are not tracked */
};

/* The defaults above. */
void fr_tracker_opts_init(struct fr_tracker_opts *o);

/* One face of a sampled frame, as identification decided it. */
struct fr_tracker_face {
    float box[4];                   /* x1, y1, x2, y2, pixels */
    float quality;                  /* fr_face_quality score, 0..1 */
    const float *emb;               /* FR_TRACKER_EMB_DIM floats, unit length; NULL: boxes only.
                                       Read during the call only. */
    int decision;                   /* FR_DECISION_* (facerec/openset.h) */
    int64_t subject_id;             /* the matched subject (decision MATCH), else ignored */
    float similarity;               /* the best candidate's similarity */
    int64_t frame_ref;              /* the caller's reference to the frame, returned in reports */
    int face_index;                 /* the face's index in that frame, returned in reports */
};

enum fr_tracker_report_kind { FR_TRACKER_REPORT_SUBJECT = 0, FR_TRACKER_REPORT_UNKNOWN };

struct fr_tracker_report {
    int kind;                       /* enum fr_tracker_report_kind */
    int64_t subject_id;             /* 0 for unknown */
    int camera_index;
    uint64_t track_id;              /* 1, 2, ... per tracker */
    int votes;                      /* the window's votes for the subject (or unknown votes) */
    struct {                        /* the best face of the track for this report */
        float box[4];
        float quality, similarity;
        int64_t frame_ref, wall_ms;
        int face_index;
    } best;
    int64_t first_seen_ms;          /* the track's first face */
    int64_t last_seen_ms;           /* the frame that decided the report */
};

struct fr_tracker;

/* o NULL: the defaults. -FR_E_INVALID_ARGUMENT for an option out of range
 * (fr_err_key "field", fr_err_value the option); -FR_E_NOMEM. */
int fr_tracker_new(const struct fr_tracker_opts *o, struct fr_tracker **out);
void fr_tracker_free(struct fr_tracker *t);

/* One sampled frame of camera camera_index (>= 0) at wall_ms (non-decreasing
 * per camera) with its n faces (0 <= n <= FR_TRACKER_MAX_FACES). *reports
 * points into the tracker and stays valid until the next fr_tracker_frame or
 * fr_tracker_free; *n_reports may be 0. On error nothing changed and no
 * report is returned. */
int fr_tracker_frame(struct fr_tracker *t, int camera_index, int64_t wall_ms, const struct fr_tracker_face *faces,
                     int n, const struct fr_tracker_report **reports, int *n_reports);

/* Seeds a resumed session: subject counts as reported at wall_ms (first_seen:
 * never again; every: again cooldown_ms after wall_ms). A later time than the
 * one held replaces it. */
int fr_tracker_mark_reported(struct fr_tracker *t, int64_t subject_id, int64_t wall_ms);

/* The subjects reported (or marked) so far, ascending: writes up to cap ids
 * (out may be NULL when cap is 0) and returns how many there are. */
size_t fr_tracker_reported(const struct fr_tracker *t, int64_t *out, size_t cap);

/* Live tracks (all cameras), and tracks started since fr_tracker_new. */
int fr_tracker_live_tracks(const struct fr_tracker *t);
uint64_t fr_tracker_tracks_started(const struct fr_tracker *t);
/* The track of face i of the last fr_tracker_frame call (0: the face was
 * not tracked: it failed the gates, or i is out of range). */
uint64_t fr_tracker_face_track(const struct fr_tracker *t, int i);

#endif
