/* Camera sessions: per-track decisions (track.h says what and why). */
#include "sessions/track.h"

#include "facerec/openset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VOTE_NONE    0              /* ambiguous, low quality: neither a subject nor unknown */
#define VOTE_UNKNOWN (-1)           /* subject votes are the subject id (> 0) */
#define EMB_MEAN_MAX 10             /* the track's embedding: a running mean over about this many faces */

struct obs {
    int64_t vote;
    float box[4];
    float quality, similarity;
    int64_t frame_ref, wall_ms;
    int face_index;
};

struct track {
    uint64_t id;
    int camera, missed, n_emb;
    int n_obs, head;                /* observations so far; head: where the next one goes in ring */
    int reported_any;               /* a subject was reported from this track */
    int unknown_reported;
    int64_t first_ms, last_ms;
    float box[4];
    float emb[FR_TRACKER_EMB_DIM];
    struct obs ring[FR_TRACKER_MAX_WINDOW];
};

struct reported {
    int64_t subject, last_ms;
};

struct pair {
    float score;
    int face, track;
};

struct fr_tracker {
    struct fr_tracker_opts o;
    int64_t *roster;                /* sorted copy */
    struct track **tracks;
    int n_tracks, cap_tracks;
    uint64_t next_id;
    struct reported *rep;           /* sorted by subject */
    size_t n_rep, cap_rep;
    struct fr_tracker_report *out;
    int cap_out;
    struct pair *pairs;
    size_t cap_pairs;
    int64_t last_unknown_ms;
    int any_unknown;
    uint64_t face_track[FR_TRACKER_MAX_FACES];   /* the last frame's faces' track ids (0: not tracked) */
    int n_faces;
};

void fr_tracker_opts_init(struct fr_tracker_opts *o) {
    memset(o, 0, sizeof *o);
    o->min_frames = 3;
    o->window = 5;
    o->iou_min = 0.3f;
    o->emb_min = 0.5f;
    o->max_missed_frames = 10;
    o->max_gap_ms = 3000;
    o->mode = FR_TRACKER_FIRST_SEEN;
    o->cooldown_ms = 60000;
    o->unknown_interval_ms = 10000;
}

static int bad_opt(const char *field, const char *why) {
    return fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", field, "tracker option %s: %s", field, why);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int fr_tracker_new(const struct fr_tracker_opts *o, struct fr_tracker **out) {
    struct fr_tracker_opts d;
    if (!out) return fr_err_set(FR_E_INVALID_ARGUMENT, "fr_tracker_new: out is NULL");
    *out = NULL;
    if (!o) {
        fr_tracker_opts_init(&d);
        o = &d;
    }
    if (o->window < 1 || o->window > FR_TRACKER_MAX_WINDOW) return bad_opt("window", "not in 1..32");
    if (o->min_frames < 1 || o->min_frames > o->window) return bad_opt("min_frames", "not in 1..window");
    if (!(o->iou_min >= 0.0f && o->iou_min <= 1.0f)) return bad_opt("iou_min", "not in 0..1");
    if (!(o->emb_min >= -1.0f && o->emb_min <= 1.0f)) return bad_opt("emb_min", "not in -1..1");
    if (o->max_missed_frames < 1) return bad_opt("max_missed_frames", "less than 1");
    if (o->max_gap_ms < 0) return bad_opt("max_gap_ms", "negative");
    if (o->mode != FR_TRACKER_FIRST_SEEN && o->mode != FR_TRACKER_EVERY) return bad_opt("mode", "unknown mode");
    if (o->cooldown_ms < 0) return bad_opt("cooldown_ms", "negative");
    if (o->n_roster < 0 || o->n_roster > FR_TRACKER_MAX_ROSTER || (o->n_roster > 0 && !o->roster))
        return bad_opt("roster", "bad size");
    if (o->unknown_interval_ms < 0) return bad_opt("unknown_interval_ms", "negative");
    if (o->min_face_px < 0) return bad_opt("min_face_px", "negative");
    if (!(o->min_quality >= 0.0f && o->min_quality <= 1.0f)) return bad_opt("min_quality", "not in 0..1");
    for (int i = 0; i < o->n_roster; i++)
        if (o->roster[i] <= 0) return bad_opt("roster", "subject ids are positive");

    struct fr_tracker *t = fr_calloc(1, sizeof *t);
    if (!t) return fr_err_set(FR_E_NOMEM, "tracker");
    t->o = *o;
    t->o.roster = NULL;
    t->next_id = 1;
    if (o->n_roster > 0) {
        t->roster = fr_malloc(sizeof *t->roster * (size_t)o->n_roster);
        if (!t->roster) {
            fr_free(t);
            return fr_err_set(FR_E_NOMEM, "tracker roster");
        }
        memcpy(t->roster, o->roster, sizeof *t->roster * (size_t)o->n_roster);
        qsort(t->roster, (size_t)o->n_roster, sizeof *t->roster, cmp_i64);
    }
    *out = t;
    return 0;
}

void fr_tracker_free(struct fr_tracker *t) {
    if (!t) return;
    for (int i = 0; i < t->n_tracks; i++) fr_free(t->tracks[i]);
    fr_free(t->tracks);
    fr_free(t->roster);
    fr_free(t->rep);
    fr_free(t->out);
    fr_free(t->pairs);
    fr_free(t);
}

/* ---- the reported set ---- */

/* Index of subject in t->rep, or -(insertion point) - 1. */
static ptrdiff_t rep_find(const struct fr_tracker *t, int64_t subject) {
    size_t lo = 0, hi = t->n_rep;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->rep[mid].subject < subject) lo = mid + 1;
        else hi = mid;
    }
    if (lo < t->n_rep && t->rep[lo].subject == subject) return (ptrdiff_t)lo;
    return -(ptrdiff_t)lo - 1;
}

static int rep_reserve(struct fr_tracker *t, size_t more) {
    if (t->n_rep + more <= t->cap_rep) return 0;
    size_t cap = t->cap_rep ? t->cap_rep : 16;
    while (cap < t->n_rep + more) cap *= 2;
    struct reported *p = fr_realloc(t->rep, sizeof *p * cap);
    if (!p) return fr_err_set(FR_E_NOMEM, "tracker reported set");
    t->rep = p;
    t->cap_rep = cap;
    return 0;
}

/* Records subject as reported at ms (capacity reserved by the caller). */
static void rep_set(struct fr_tracker *t, int64_t subject, int64_t ms) {
    ptrdiff_t i = rep_find(t, subject);
    if (i >= 0) {
        if (ms > t->rep[i].last_ms) t->rep[i].last_ms = ms;
        return;
    }
    size_t at = (size_t)(-i - 1);
    memmove(t->rep + at + 1, t->rep + at, sizeof *t->rep * (t->n_rep - at));
    t->rep[at].subject = subject;
    t->rep[at].last_ms = ms;
    t->n_rep++;
}

int fr_tracker_mark_reported(struct fr_tracker *t, int64_t subject_id, int64_t wall_ms) {
    if (!t || subject_id <= 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "fr_tracker_mark_reported: subject %lld",
                                                 (long long)subject_id);
    int rc = rep_reserve(t, 1);
    if (rc < 0) return rc;
    rep_set(t, subject_id, wall_ms);
    return 0;
}

size_t fr_tracker_reported(const struct fr_tracker *t, int64_t *out, size_t cap) {
    for (size_t i = 0; i < t->n_rep && i < cap; i++) out[i] = t->rep[i].subject;
    return t->n_rep;
}

int fr_tracker_live_tracks(const struct fr_tracker *t) { return t->n_tracks; }

uint64_t fr_tracker_tracks_started(const struct fr_tracker *t) { return t->next_id - 1; }

uint64_t fr_tracker_face_track(const struct fr_tracker *t, int i) {
    return i >= 0 && i < t->n_faces ? t->face_track[i] : 0;
}

/* ---- association ---- */

static float iou(const float *a, const float *b) {
    float ix = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), iy = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (ix <= 0.0f || iy <= 0.0f) return 0.0f;
    float inter = ix * iy;
    float ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0.0f ? inter / ua : 0.0f;
}

static float dot(const float *a, const float *b) {
    float s = 0.0f;
    for (int i = 0; i < FR_TRACKER_EMB_DIM; i++) s += a[i] * b[i];
    return s;
}

static int cmp_pair(const void *a, const void *b) {
    const struct pair *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->face != y->face) return x->face - y->face;
    return x->track - y->track;
}

static int in_roster(const struct fr_tracker *t, int64_t subject) {
    if (t->o.n_roster == 0) return 1;
    return bsearch(&subject, t->roster, (size_t)t->o.n_roster, sizeof *t->roster, cmp_i64) != NULL;
}

static int face_passes(const struct fr_tracker *t, const struct fr_tracker_face *f) {
    if (t->o.min_face_px > 0 && f->box[2] - f->box[0] < (float)t->o.min_face_px) return 0;
    if (t->o.min_quality > 0.0f && !(f->quality >= t->o.min_quality)) return 0;
    return 1;
}

static void track_observe(struct fr_tracker *t, struct track *k, const struct fr_tracker_face *f, int64_t wall_ms) {
    struct obs *ob = &k->ring[k->head];
    if (f->decision == FR_DECISION_MATCH) ob->vote = in_roster(t, f->subject_id) ? f->subject_id : VOTE_UNKNOWN;
    else if (f->decision == FR_DECISION_UNKNOWN) ob->vote = VOTE_UNKNOWN;
    else ob->vote = VOTE_NONE;
    memcpy(ob->box, f->box, sizeof ob->box);
    ob->quality = f->quality;
    ob->similarity = f->similarity;
    ob->frame_ref = f->frame_ref;
    ob->face_index = f->face_index;
    ob->wall_ms = wall_ms;
    k->head = (k->head + 1) % t->o.window;
    k->n_obs++;
    k->missed = 0;
    k->last_ms = wall_ms;
    memcpy(k->box, f->box, sizeof k->box);
    if (f->emb) {   /* running mean over about EMB_MEAN_MAX faces, kept at unit length */
        float w = (float)(k->n_emb < EMB_MEAN_MAX ? k->n_emb : EMB_MEAN_MAX), n2 = 0.0f;
        for (int i = 0; i < FR_TRACKER_EMB_DIM; i++) {
            k->emb[i] = k->emb[i] * w + f->emb[i];
            n2 += k->emb[i] * k->emb[i];
        }
        float inv = n2 > 0.0f ? 1.0f / sqrtf(n2) : 0.0f;
        for (int i = 0; i < FR_TRACKER_EMB_DIM; i++) k->emb[i] *= inv;
        k->n_emb++;
    }
}

/* ---- decisions ---- */

static int better_face(const struct obs *a, const struct obs *b) {   /* a better than b */
    if (a->quality != b->quality) return a->quality > b->quality;
    return a->similarity > b->similarity;
}

/* The decision of track k after its latest observation: at most one report
 * written to *r (returns 1 when written). */
static int track_decide(struct fr_tracker *t, struct track *k, int64_t wall_ms, struct fr_tracker_report *r) {
    int w = k->n_obs < t->o.window ? k->n_obs : t->o.window;
    int64_t subj[FR_TRACKER_MAX_WINDOW];
    int votes[FR_TRACKER_MAX_WINDOW], nsub = 0, unknown = 0;
    for (int i = 0; i < w; i++) {
        const struct obs *ob = &k->ring[i];
        if (ob->vote == VOTE_UNKNOWN) unknown++;
        if (ob->vote <= 0) continue;
        int j = 0;
        while (j < nsub && subj[j] != ob->vote) j++;
        if (j == nsub) {
            subj[nsub] = ob->vote;
            votes[nsub++] = 0;
        }
        votes[j]++;
    }
    int win = -1, all = 0;   /* a clear majority: min_frames votes, and twice all other subjects' together */
    for (int j = 0; j < nsub; j++) all += votes[j];
    for (int j = 0; j < nsub; j++)
        if (votes[j] >= t->o.min_frames && votes[j] >= 2 * (all - votes[j])) win = j;
    int64_t vote;
    int nv;
    if (win >= 0) {
        vote = subj[win];
        nv = votes[win];
        ptrdiff_t i = rep_find(t, vote);
        if (i >= 0 && (t->o.mode == FR_TRACKER_FIRST_SEEN || wall_ms - t->rep[i].last_ms < t->o.cooldown_ms))
            return 0;
        rep_set(t, vote, wall_ms);
        k->reported_any = 1;
    } else {
        if (!t->o.report_unknown || unknown < t->o.min_frames || k->reported_any || k->unknown_reported) return 0;
        if (t->any_unknown && wall_ms - t->last_unknown_ms < t->o.unknown_interval_ms) return 0;
        vote = VOTE_UNKNOWN;
        nv = unknown;
        k->unknown_reported = 1;
        t->any_unknown = 1;
        t->last_unknown_ms = wall_ms;
    }
    const struct obs *best = NULL;
    for (int i = 0; i < w; i++)
        if (k->ring[i].vote == vote && (!best || better_face(&k->ring[i], best))) best = &k->ring[i];
    memset(r, 0, sizeof *r);
    r->kind = vote > 0 ? FR_TRACKER_REPORT_SUBJECT : FR_TRACKER_REPORT_UNKNOWN;
    r->subject_id = vote > 0 ? vote : 0;
    r->camera_index = k->camera;
    r->track_id = k->id;
    r->votes = nv;
    memcpy(r->best.box, best->box, sizeof r->best.box);
    r->best.quality = best->quality;
    r->best.similarity = best->similarity;
    r->best.frame_ref = best->frame_ref;
    r->best.wall_ms = best->wall_ms;
    r->best.face_index = best->face_index;
    r->first_seen_ms = k->first_ms;
    r->last_seen_ms = wall_ms;
    return 1;
}

/* ---- one frame ---- */

static int check_faces(const struct fr_tracker_face *faces, int n) {
    for (int i = 0; i < n; i++) {
        const struct fr_tracker_face *f = &faces[i];
        for (int j = 0; j < 4; j++)
            if (!isfinite(f->box[j])) return bad_opt("faces.box", "not finite");
        if (f->box[2] < f->box[0] || f->box[3] < f->box[1]) return bad_opt("faces.box", "x2 < x1 or y2 < y1");
        if (f->decision < FR_DECISION_MATCH || f->decision > FR_DECISION_LOW_QUALITY)
            return bad_opt("faces.decision", "not an FR_DECISION_*");
        if (f->decision == FR_DECISION_MATCH && f->subject_id <= 0)
            return bad_opt("faces.subject_id", "a match needs a positive subject id");
    }
    return 0;
}

static void track_remove(struct fr_tracker *t, int i) {
    fr_free(t->tracks[i]);
    t->tracks[i] = t->tracks[--t->n_tracks];
}

int fr_tracker_frame(struct fr_tracker *t, int camera_index, int64_t wall_ms, const struct fr_tracker_face *faces,
                     int n, const struct fr_tracker_report **reports, int *n_reports) {
    if (!t || !reports || !n_reports) return fr_err_set(FR_E_INVALID_ARGUMENT, "fr_tracker_frame: NULL argument");
    *reports = NULL;
    *n_reports = 0;
    if (camera_index < 0) return bad_opt("camera_index", "negative");
    if (n < 0 || n > FR_TRACKER_MAX_FACES || (n > 0 && !faces)) return bad_opt("faces", "bad count");
    int rc = check_faces(faces, n);
    if (rc < 0) return rc;

    /* Everything that can fail first: nothing changes before this succeeds. */
    int accepted = 0;
    for (int i = 0; i < n; i++) accepted += face_passes(t, &faces[i]);
    int cam_tracks = 0;
    for (int j = 0; j < t->n_tracks; j++) cam_tracks += t->tracks[j]->camera == camera_index;
    size_t need_pairs = (size_t)accepted * (size_t)cam_tracks;
    if (need_pairs > t->cap_pairs) {
        struct pair *p = fr_realloc(t->pairs, sizeof *p * need_pairs);
        if (!p) return fr_err_set(FR_E_NOMEM, "tracker pairs");
        t->pairs = p;
        t->cap_pairs = need_pairs;
    }
    if (t->n_tracks + accepted > t->cap_tracks) {
        int cap = t->cap_tracks ? t->cap_tracks : 16;
        while (cap < t->n_tracks + accepted) cap *= 2;
        struct track **p = fr_realloc(t->tracks, sizeof *p * (size_t)cap);
        if (!p) return fr_err_set(FR_E_NOMEM, "tracker tracks");
        t->tracks = p;
        t->cap_tracks = cap;
    }
    if (accepted > t->cap_out) {
        struct fr_tracker_report *p = fr_realloc(t->out, sizeof *p * (size_t)accepted);
        if (!p) return fr_err_set(FR_E_NOMEM, "tracker reports");
        t->out = p;
        t->cap_out = accepted;
    }
    if ((rc = rep_reserve(t, (size_t)accepted)) < 0) return rc;
    /* new tracks: allocated up front, freed if unused */
    struct track *fresh[FR_TRACKER_MAX_FACES];
    for (int i = 0; i < accepted; i++) {
        fresh[i] = fr_malloc(sizeof *fresh[i]);
        if (!fresh[i]) {
            while (i--) fr_free(fresh[i]);
            return fr_err_set(FR_E_NOMEM, "tracker track");
        }
    }

    /* tracks of this camera whose last face is too old end before association */
    for (int j = t->n_tracks - 1; j >= 0; j--) {
        struct track *k = t->tracks[j];
        if (k->camera == camera_index && t->o.max_gap_ms > 0 && wall_ms - k->last_ms > t->o.max_gap_ms)
            track_remove(t, j);
    }

    /* candidate pairs, best first, assigned greedily */
    size_t np = 0;
    for (int i = 0; i < n; i++) {
        const struct fr_tracker_face *f = &faces[i];
        if (!face_passes(t, f)) continue;
        for (int j = 0; j < t->n_tracks; j++) {
            const struct track *k = t->tracks[j];
            if (k->camera != camera_index) continue;
            float ov = iou(f->box, k->box), score;
            if (f->emb && k->n_emb > 0) {
                float s = dot(f->emb, k->emb);
                if (!(s >= t->o.emb_min)) continue;
                score = s + ov;
            } else {
                if (!(ov >= t->o.iou_min) || ov <= 0.0f) continue;
                score = ov;
            }
            t->pairs[np++] = (struct pair){ score, i, j };
        }
    }
    if (np > 1) qsort(t->pairs, np, sizeof *t->pairs, cmp_pair);
    int face_track[FR_TRACKER_MAX_FACES];
    for (int i = 0; i < n; i++) face_track[i] = -1;
    int n_before = t->n_tracks;
    for (int j = 0; j < n_before; j++) t->tracks[j]->missed += t->tracks[j]->camera == camera_index;
    for (size_t p = 0; p < np; p++) {
        struct pair *q = &t->pairs[p];
        struct track *k = t->tracks[q->track];
        if (face_track[q->face] >= 0 || k->missed == 0) continue;   /* missed 0: already observed this frame */
        face_track[q->face] = q->track;
        track_observe(t, k, &faces[q->face], wall_ms);
    }

    int nf = 0, nrep = 0;
    t->n_faces = n;
    for (int i = 0; i < n; i++) {
        const struct fr_tracker_face *f = &faces[i];
        t->face_track[i] = 0;
        if (!face_passes(t, f)) continue;
        struct track *k = fresh[nf++];
        if (face_track[i] >= 0) {
            fr_free(k);
            k = t->tracks[face_track[i]];
        } else {
            memset(k, 0, sizeof *k);
            k->id = t->next_id++;
            k->camera = camera_index;
            k->first_ms = wall_ms;
            k->missed = 1;   /* observed next */
            t->tracks[t->n_tracks++] = k;
            track_observe(t, k, f, wall_ms);
        }
        t->face_track[i] = k->id;
        nrep += track_decide(t, k, wall_ms, &t->out[nrep]);
    }

    /* tracks of this camera that saw no face this frame age */
    for (int j = t->n_tracks - 1; j >= 0; j--) {
        struct track *k = t->tracks[j];
        if (k->camera == camera_index && k->missed >= t->o.max_missed_frames) track_remove(t, j);
    }
    *reports = t->out;
    *n_reports = nrep;
    return 0;
}
