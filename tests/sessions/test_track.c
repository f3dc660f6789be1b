/* Camera sessions' tracker (src/sessions/track.h): people walking with jitter
 * reported once, single-frame false matches never, alternating tracks not,
 * two cameras, every mode's cooldown, the roster, crossing boxes kept apart by
 * embedding, expiry, unknown reports' rate limit, resume seeding, the gates,
 * the errors; and the measurement the camera-sessions issue asks for: the
 * false report rate on a stream of strangers only, per frame and per track
 * (docs/ACCURACY.md, "Sessions: deciding per person"). */
#include "harness.h"

#include "facerec/openset.h"
#include "sessions/track.h"

#include <math.h>

#define DIM FR_TRACKER_EMB_DIM
#define FRAME_MS 200                /* 5 fps */

static double rng_u01(uint64_t *s) { return ((double)(fr_test_rng(s) >> 11) + 0.5) * 0x1p-53; }

static double rng_normal(uint64_t *s) {   /* Box-Muller */
    return sqrt(-2.0 * log(rng_u01(s))) * cos(6.283185307179586 * rng_u01(s));
}

static void normalize(float *v) {
    double n2 = 0;
    for (int i = 0; i < DIM; i++) n2 += (double)v[i] * (double)v[i];
    float inv = (float)(1.0 / sqrt(n2));
    for (int i = 0; i < DIM; i++) v[i] *= inv;
}

static void random_unit(float *v, uint64_t *s) {
    for (int i = 0; i < DIM; i++) v[i] = (float)rng_normal(s);
    normalize(v);
}

/* A face of a person: its embedding = the person's plus noise (cosine about
 * 0.95 to the person's, about 0.9 between two frames), its box at (x, y)
 * +- 3 px of jitter. emb_buf holds the embedding during the call. */
struct person {
    float emb[DIM];
    int64_t subject;                /* 0: a stranger */
};

static struct fr_tracker_face face_of(const struct person *p, float x, float y, float size, float *emb_buf,
                                      uint64_t *s, int decision, int64_t subject, float quality, int64_t frame) {
    for (int i = 0; i < DIM; i++) emb_buf[i] = p->emb[i] + (float)(0.0145 * rng_normal(s));
    normalize(emb_buf);
    float jx = (float)(6.0 * rng_u01(s) - 3.0), jy = (float)(6.0 * rng_u01(s) - 3.0);
    struct fr_tracker_face f = { { x + jx, y + jy, x + jx + size, y + jy + size }, quality, emb_buf, decision,
                                 subject, decision == FR_DECISION_MATCH ? 0.55f : 0.2f, frame, 0 };
    return f;
}

static struct fr_tracker *tracker(void (*tweak)(struct fr_tracker_opts *)) {
    struct fr_tracker_opts o;
    fr_tracker_opts_init(&o);
    if (tweak) tweak(&o);
    struct fr_tracker *t = NULL;
    assert_int_equal(fr_tracker_new(&o, &t), 0);
    return t;
}

/* One frame; returns the number of reports, copying up to cap of them. */
static int frame(struct fr_tracker *t, int cam, int64_t ms, const struct fr_tracker_face *f, int n,
                 struct fr_tracker_report *out, int cap) {
    const struct fr_tracker_report *r;
    int nr = -1;
    assert_int_equal(fr_tracker_frame(t, cam, ms, f, n, &r, &nr), 0);
    for (int i = 0; i < nr && i < cap; i++) out[i] = r[i];
    return nr;
}

/* Two people walking across the frame (one left to right, one right to
 * left, on two rows) for 30 frames; each face matched except every 7th
 * (unknown): each reported exactly once, with the best face of its first
 * winning window. */
static void test_two_people_first_seen(void **state) {
    (void)state;
    uint64_t s = 1;
    struct person a = { .subject = 11 }, b = { .subject = 22 };
    random_unit(a.emb, &s);
    random_unit(b.emb, &s);
    struct fr_tracker *t = tracker(NULL);
    float ea[DIM], eb[DIM];
    int got_a = 0, got_b = 0;
    for (int k = 0; k < 30; k++) {
        int dec = k % 7 == 6 ? FR_DECISION_UNKNOWN : FR_DECISION_MATCH;
        float qa = 0.5f + 0.01f * (float)k, qb = k == 1 ? 0.9f : 0.6f;   /* a: best = latest; b: frame 1 */
        struct fr_tracker_face f[2] = {
            face_of(&a, 20.0f * (float)k, 100, 80, ea, &s, dec, a.subject, qa, 1000 + k),
            face_of(&b, 600 - 20.0f * (float)k, 400, 80, eb, &s, dec, b.subject, qb, 1000 + k),
        };
        f[1].face_index = 1;
        struct fr_tracker_report r[4];
        int nr = frame(t, 0, k * FRAME_MS, f, 2, r, 4);
        for (int i = 0; i < nr; i++) {
            assert_int_equal(r[i].kind, FR_TRACKER_REPORT_SUBJECT);
            assert_int_equal(r[i].first_seen_ms, 0);
            assert_int_equal(r[i].last_seen_ms, k * FRAME_MS);
            assert_int_equal(r[i].votes, 3);
            if (r[i].subject_id == a.subject) {
                got_a++;
                assert_int_equal(k, 2);   /* the third frame */
                assert_int_equal(r[i].best.frame_ref, 1002);
                assert_int_equal(r[i].best.face_index, 0);
            } else {
                assert_int_equal(r[i].subject_id, b.subject);
                got_b++;
                assert_int_equal(r[i].best.frame_ref, 1001);
                assert_int_equal(r[i].best.face_index, 1);
                assert_true(r[i].best.quality == 0.9f);
                assert_true(r[i].best.box[0] < 600 - 20 + 4 && r[i].best.box[0] > 600 - 20 - 4);
            }
        }
    }
    assert_int_equal(got_a, 1);
    assert_int_equal(got_b, 1);
    assert_int_equal((int)fr_tracker_tracks_started(t), 2);
    int64_t ids[4];
    assert_int_equal((int)fr_tracker_reported(t, ids, 4), 2);
    assert_int_equal(ids[0], 11);
    assert_int_equal(ids[1], 22);
    fr_tracker_free(t);
}

/* A stranger in view for 60 frames, unknown but for one false match to
 * subject 7 (and later another, 10 frames away): never reported. */
static void test_single_false_match(void **state) {
    (void)state;
    uint64_t s = 2;
    struct person p = { 0 };
    random_unit(p.emb, &s);
    struct fr_tracker *t = tracker(NULL);
    float e[DIM];
    for (int k = 0; k < 60; k++) {
        int fm = k == 10 || k == 20;
        struct fr_tracker_face f = face_of(&p, 200 + 2.0f * (float)k, 200, 90, e, &s,
                                           fm ? FR_DECISION_MATCH : FR_DECISION_UNKNOWN, 7, 0.7f, k);
        struct fr_tracker_report r[2];
        assert_int_equal(frame(t, 0, k * FRAME_MS, &f, 1, r, 2), 0);
    }
    assert_int_equal((int)fr_tracker_reported(t, NULL, 0), 0);
    assert_int_equal((int)fr_tracker_tracks_started(t), 1);
    fr_tracker_free(t);
}

/* A track whose votes follow pattern (0: unknown): the subjects reported. */
static int run_pattern(const int64_t *pattern, int n, int64_t *reported, int cap) {
    uint64_t s = 3;
    struct person p = { 0 };
    random_unit(p.emb, &s);
    struct fr_tracker *t = tracker(NULL);
    float e[DIM];
    int nrep = 0;
    for (int k = 0; k < n; k++) {
        struct fr_tracker_face f = face_of(&p, 300, 200, 90, e, &s,
                                           pattern[k] ? FR_DECISION_MATCH : FR_DECISION_UNKNOWN, pattern[k], 0.7f, k);
        struct fr_tracker_report r[2];
        int nr = frame(t, 0, k * FRAME_MS, &f, 1, r, 2);
        for (int i = 0; i < nr && nrep < cap; i++) reported[nrep++] = r[i].subject_id;
    }
    assert_int_equal((int)fr_tracker_tracks_started(t), 1);
    fr_tracker_free(t);
    return nrep;
}

static void test_alternating(void **state) {
    (void)state;
    int64_t rep[8];
    /* A, B, A, B, ...: 3 of 5 against 2, never a clear winner */
    static const int64_t abab[20] = { 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2 };
    assert_int_equal(run_pattern(abab, 20, rep, 8), 0);
    /* A, B, unknown, ...: at most 2 of 5 each */
    static const int64_t abu[21] = { 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0 };
    assert_int_equal(run_pattern(abu, 21, rep, 8), 0);
    /* A wins 3 of 5 with B once: A reported (once), B never */
    static const int64_t a_wins[12] = { 1, 2, 1, 0, 1, 1, 2, 1, 0, 1, 1, 1 };
    assert_int_equal(run_pattern(a_wins, 12, rep, 8), 1);
    assert_int_equal(rep[0], 1);
    /* B, then A takes over the track for good: both reported, A after its 3rd vote */
    static const int64_t switch_[12] = { 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 };
    assert_int_equal(run_pattern(switch_, 12, rep, 8), 2);
    assert_int_equal(rep[0], 2);
    assert_int_equal(rep[1], 1);
}

/* Two cameras see the same person at the same time: one report. */
static void test_two_cameras(void **state) {
    (void)state;
    uint64_t s = 4;
    struct person p = { .subject = 5 };
    random_unit(p.emb, &s);
    struct fr_tracker *t = tracker(NULL);
    float e[DIM];
    int total = 0;
    for (int k = 0; k < 20; k++)
        for (int cam = 0; cam < 2; cam++) {
            struct fr_tracker_face f = face_of(&p, 100 + 300.0f * (float)cam, 100, 90, e, &s, FR_DECISION_MATCH, 5,
                                               0.7f, k);
            struct fr_tracker_report r[2];
            total += frame(t, cam, k * FRAME_MS + cam * 40, &f, 1, r, 2);
        }
    assert_int_equal(total, 1);
    assert_int_equal((int)fr_tracker_tracks_started(t), 2);   /* one track per camera */
    fr_tracker_free(t);
}

static void every_mode(struct fr_tracker_opts *o) { o->mode = FR_TRACKER_EVERY; }

/* every: a person in view for 150 s is reported at 0.4 s, then each time
 * the cooldown (60 s) has passed: at 60.4 and 120.4 s; one who leaves and
 * comes back within the cooldown is not reported, after it is. */
static void test_every_cooldown(void **state) {
    (void)state;
    uint64_t s = 5;
    struct person p = { .subject = 9 };
    random_unit(p.emb, &s);
    struct fr_tracker *t = tracker(every_mode);
    float e[DIM];
    int64_t at[8];
    int nat = 0;
    for (int k = 0; k < 750; k++) {
        struct fr_tracker_face f = face_of(&p, 300, 200, 90, e, &s, FR_DECISION_MATCH, 9, 0.7f, k);
        struct fr_tracker_report r[2];
        int nr = frame(t, 0, (int64_t)k * FRAME_MS, &f, 1, r, 2);
        for (int i = 0; i < nr; i++) at[nat++] = r[i].last_seen_ms;
    }
    assert_int_equal(nat, 3);
    assert_int_equal(at[0], 400);
    assert_int_equal(at[1], 60400);
    assert_int_equal(at[2], 120400);
    /* gone for 5 s (the track ends), back at 155 s: within 60 s of 120.4 s */
    int n_back = 0;
    for (int64_t ms = 155000; ms < 200000; ms += FRAME_MS) {
        struct fr_tracker_face f = face_of(&p, 300, 200, 90, e, &s, FR_DECISION_MATCH, 9, 0.7f, 0);
        struct fr_tracker_report r[2];
        int nr = frame(t, 0, ms, &f, 1, r, 2);
        if (nr) assert_int_equal(r[0].last_seen_ms, 180400);
        n_back += nr;
    }
    assert_int_equal(n_back, 1);
    assert_int_equal((int)fr_tracker_tracks_started(t), 2);
    fr_tracker_free(t);
}

static const int64_t roster_ids[] = { 31, 33 };
static void roster_opts(struct fr_tracker_opts *o) {
    o->roster = roster_ids;
    o->n_roster = 2;
    o->report_unknown = 1;
}

/* Roster {31, 33}: subject 32 matched on every frame is not reported (and
 * counts as unknown: one unknown report); 33 is. */
static void test_roster(void **state) {
    (void)state;
    uint64_t s = 6;
    struct person a = { .subject = 32 }, b = { .subject = 33 };
    random_unit(a.emb, &s);
    random_unit(b.emb, &s);
    struct fr_tracker *t = tracker(roster_opts);
    float ea[DIM], eb[DIM];
    int n32 = 0, n33 = 0, nunk = 0;
    for (int k = 0; k < 20; k++) {
        struct fr_tracker_face f[2] = {
            face_of(&a, 100, 100, 90, ea, &s, FR_DECISION_MATCH, 32, 0.7f, k),
            face_of(&b, 400, 100, 90, eb, &s, FR_DECISION_MATCH, 33, 0.7f, k),
        };
        struct fr_tracker_report r[4];
        int nr = frame(t, 0, k * FRAME_MS, f, 2, r, 4);
        for (int i = 0; i < nr; i++) {
            n32 += r[i].subject_id == 32;
            n33 += r[i].subject_id == 33;
            nunk += r[i].kind == FR_TRACKER_REPORT_UNKNOWN;
        }
    }
    assert_int_equal(n32, 0);
    assert_int_equal(n33, 1);
    assert_int_equal(nunk, 1);
    fr_tracker_free(t);
}

/* Two people walking towards each other on one row: their boxes cross
 * (IoU with the other's track near 1 mid-way); the embeddings keep each
 * face on its own track, and each is reported once with its own track. */
static void test_crossing(void **state) {
    (void)state;
    uint64_t s = 7;
    struct person a = { .subject = 1 }, b = { .subject = 2 };
    random_unit(a.emb, &s);
    random_unit(b.emb, &s);
    struct fr_tracker *t = tracker(NULL);
    float ea[DIM], eb[DIM];
    uint64_t ta = 0, tb = 0;
    int na = 0, nb = 0;
    for (int k = 0; k < 40; k++) {   /* a: x 0 -> 780, b: x 780 -> 0; they meet at k = 19.5 */
        /* identification only succeeds after the crossing: a swap would report a's subject on b's track */
        int dec = k >= 22 ? FR_DECISION_MATCH : FR_DECISION_UNKNOWN;
        struct fr_tracker_face f[2] = {
            face_of(&b, 780 - 20.0f * (float)k, 200, 100, eb, &s, dec, 2, 0.7f, k),
            face_of(&a, 20.0f * (float)k, 200, 100, ea, &s, dec, 1, 0.7f, k),
        };
        if (k % 2) {   /* the detector's order changes too */
            struct fr_tracker_face x = f[0];
            f[0] = f[1];
            f[1] = x;
        }
        struct fr_tracker_report r[4];
        int nr = frame(t, 0, k * FRAME_MS, f, 2, r, 4);
        int ia = k % 2 ? 0 : 1;
        uint64_t fa = fr_tracker_face_track(t, ia), fb = fr_tracker_face_track(t, 1 - ia);
        if (k == 0) {
            ta = fa;
            tb = fb;
        }
        assert_true(fa == ta && fb == tb);
        for (int i = 0; i < nr; i++) {
            if (r[i].subject_id == 1) {
                assert_true(r[i].track_id == ta);
                na++;
            } else {
                assert_true(r[i].subject_id == 2 && r[i].track_id == tb);
                nb++;
            }
        }
    }
    assert_int_equal(na, 1);
    assert_int_equal(nb, 1);
    assert_int_equal((int)fr_tracker_tracks_started(t), 2);
    fr_tracker_free(t);
}

/* Expiry: two matched frames, then the person is gone; back with one
 * matched frame. After a short absence (2 empty frames) the track goes on
 * and 2 + 1 votes report; after max_missed_frames (10) empty frames, or
 * after more than max_gap_ms (3 s) without frames, it is a new track with 1
 * vote: no report. */
static int expiry_case(int empty_frames, int64_t gap_ms) {
    uint64_t s = 8;
    struct person p = { .subject = 4 };
    random_unit(p.emb, &s);
    struct fr_tracker *t = tracker(NULL);
    float e[DIM];
    int64_t ms = 0;
    int total = 0;
    struct fr_tracker_report r[2];
    for (int k = 0; k < 2; k++, ms += FRAME_MS) {
        struct fr_tracker_face f = face_of(&p, 300, 200, 90, e, &s, FR_DECISION_MATCH, 4, 0.7f, k);
        total += frame(t, 0, ms, &f, 1, r, 2);
    }
    for (int k = 0; k < empty_frames; k++, ms += FRAME_MS) total += frame(t, 0, ms, NULL, 0, r, 2);
    if (empty_frames >= 10) assert_int_equal(fr_tracker_live_tracks(t), 0);
    ms += gap_ms;
    struct fr_tracker_face f = face_of(&p, 300, 200, 90, e, &s, FR_DECISION_MATCH, 4, 0.7f, 9);
    total += frame(t, 0, ms, &f, 1, r, 2);
    assert_int_equal(fr_tracker_live_tracks(t), 1);
    int started = (int)fr_tracker_tracks_started(t);
    fr_tracker_free(t);
    assert_int_equal(started, total ? 1 : 2);
    return total;
}

static void test_expiry(void **state) {
    (void)state;
    assert_int_equal(expiry_case(2, 0), 1);
    assert_int_equal(expiry_case(9, 0), 1);
    assert_int_equal(expiry_case(10, 0), 0);
    assert_int_equal(expiry_case(0, 2800), 1);
    assert_int_equal(expiry_case(0, 3000), 0);   /* 3.2 s after the last face */
}

static void unknown_opts(struct fr_tracker_opts *o) { o->report_unknown = 1; }

/* Unknown reports: at most one per 10 s per tracker, one per track; a track
 * held back by the limit is reported when the limit allows, if still unknown. */
static void test_unknown_rate_limit(void **state) {
    (void)state;
    uint64_t s = 9;
    struct person p[3];
    for (int i = 0; i < 3; i++) {
        p[i].subject = 0;
        random_unit(p[i].emb, &s);
    }
    struct fr_tracker *t = tracker(unknown_opts);
    float e[DIM];
    int64_t at[8];
    int64_t track_of[8];
    int nat = 0;
    /* stranger 0 at 0-2 s; stranger 1 at 3-5 s; stranger 2 at 6-16 s; stranger 0 again 20-22 s (a new track) */
    for (int64_t ms = 0; ms < 23000; ms += FRAME_MS) {
        int who = ms < 2000 ? 0 : ms >= 3000 && ms < 5000 ? 1 : ms >= 6000 && ms < 16000 ? 2 : ms >= 20000 ? 0 : -1;
        struct fr_tracker_report r[2];
        int nr;
        if (who < 0) nr = frame(t, 0, ms, NULL, 0, r, 2);
        else {
            struct fr_tracker_face f = face_of(&p[who], 300, 200, 90, e, &s, FR_DECISION_UNKNOWN, 0, 0.7f, ms);
            nr = frame(t, 0, ms, &f, 1, r, 2);
        }
        for (int i = 0; i < nr; i++) {
            assert_int_equal(r[i].kind, FR_TRACKER_REPORT_UNKNOWN);
            assert_int_equal(r[i].subject_id, 0);
            assert_true(r[i].votes >= 3);
            track_of[nat] = (int64_t)r[i].track_id;
            at[nat++] = ms;
        }
    }
    assert_int_equal(nat, 3);
    assert_int_equal(at[0], 400);      /* stranger 0, 3rd frame */
    assert_int_equal(at[1], 10400);    /* stranger 1 held back and gone; stranger 2 once 10 s have passed */
    assert_int_equal(at[2], 20400);    /* stranger 0's second visit: a new track */
    assert_true(track_of[0] != track_of[1] && track_of[1] != track_of[2]);
    fr_tracker_free(t);
}

/* A resumed session seeded with the subjects reported before the restart:
 * first_seen never reports them again; every only after the cooldown. */
static void test_resume_seed(void **state) {
    (void)state;
    uint64_t s = 10;
    struct person p = { .subject = 77 };
    random_unit(p.emb, &s);
    float e[DIM];
    for (int mode = 0; mode < 2; mode++) {
        struct fr_tracker *t = tracker(mode ? every_mode : NULL);
        assert_int_equal(fr_tracker_mark_reported(t, 77, 1000), 0);
        assert_int_equal(fr_tracker_mark_reported(t, 12, 1000), 0);
        assert_int_equal(fr_tracker_mark_reported(t, 77, 500), 0);   /* earlier: kept 1000 */
        int64_t ids[4];
        assert_int_equal((int)fr_tracker_reported(t, ids, 4), 2);
        assert_int_equal(ids[0], 12);
        assert_int_equal(ids[1], 77);
        int64_t first = -1;
        for (int64_t ms = 2000; ms < 70000; ms += FRAME_MS) {
            struct fr_tracker_face f = face_of(&p, 300, 200, 90, e, &s, FR_DECISION_MATCH, 77, 0.7f, ms);
            struct fr_tracker_report r[2];
            if (frame(t, 0, ms, &f, 1, r, 2) && first < 0) first = ms;
        }
        if (mode == 0) assert_int_equal(first, -1);
        else assert_int_equal(first, 61000);
        assert_int_equal(fr_tracker_mark_reported(t, 0, 0), -FR_E_INVALID_ARGUMENT);
        fr_tracker_free(t);
    }
}

static void gate_opts(struct fr_tracker_opts *o) {
    o->min_face_px = 60;
    o->min_quality = 0.4f;
}

/* min_face_px and min_quality: gated faces are not tracked, vote nothing. */
static void test_gates(void **state) {
    (void)state;
    uint64_t s = 11;
    struct person p = { .subject = 3 };
    random_unit(p.emb, &s);
    struct fr_tracker *t = tracker(gate_opts);
    float e[DIM], e2[DIM];
    int total = 0;
    for (int k = 0; k < 10; k++) {
        struct fr_tracker_face f[2] = {
            face_of(&p, 100, 100, 50, e, &s, FR_DECISION_MATCH, 3, 0.9f, k),  /* too small */
            face_of(&p, 300, 100, 90, e2, &s, FR_DECISION_MATCH, 3, 0.3f, k), /* too poor */
        };
        struct fr_tracker_report r[2];
        total += frame(t, 0, k * FRAME_MS, f, 2, r, 2);
        assert_true(fr_tracker_face_track(t, 0) == 0 && fr_tracker_face_track(t, 1) == 0);
    }
    assert_int_equal(total, 0);
    assert_int_equal(fr_tracker_live_tracks(t), 0);
    fr_tracker_free(t);
}

/* Errors are data: the option at fault in the structured detail; a bad
 * frame changes nothing. */
static void test_errors(void **state) {
    (void)state;
    struct fr_tracker_opts o;
    struct fr_tracker *t = NULL;
    fr_tracker_opts_init(&o);
    o.min_frames = 6;
    assert_int_equal(fr_tracker_new(&o, &t), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "min_frames");
    assert_null(t);
    fr_tracker_opts_init(&o);
    o.window = 33;
    assert_int_equal(fr_tracker_new(&o, &t), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_value(), "window");
    fr_tracker_opts_init(&o);
    o.mode = 7;
    assert_int_equal(fr_tracker_new(&o, &t), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_value(), "mode");
    fr_tracker_opts_init(&o);
    o.n_roster = 1;
    assert_int_equal(fr_tracker_new(&o, &t), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_value(), "roster");
    assert_int_equal(fr_tracker_new(NULL, &t), 0);   /* the defaults */

    struct fr_tracker_face f = { { 10, 10, 50, 50 }, 0.7f, NULL, FR_DECISION_MATCH, 0, 0.6f, 0, 0 };
    const struct fr_tracker_report *r = (const void *)&f;
    int nr = 5;
    assert_int_equal(fr_tracker_frame(t, 0, 0, &f, 1, &r, &nr), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_value(), "faces.subject_id");
    assert_null(r);
    assert_int_equal(nr, 0);
    f.subject_id = 1;
    f.box[2] = NAN;
    assert_int_equal(fr_tracker_frame(t, 0, 0, &f, 1, &r, &nr), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_tracker_frame(t, -1, 0, NULL, 0, &r, &nr), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_tracker_frame(t, 0, 0, NULL, FR_TRACKER_MAX_FACES + 1, &r, &nr), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_tracker_live_tracks(t), 0);
    /* boxes only (no embeddings): IoU associates */
    f.box[2] = 50;
    for (int k = 0; k < 3; k++) {
        f.box[0] += 2;
        f.box[2] += 2;
        assert_int_equal(fr_tracker_frame(t, 0, k * FRAME_MS, &f, 1, &r, &nr), 0);
    }
    assert_int_equal(nr, 1);
    assert_int_equal(r[0].subject_id, 1);
    assert_int_equal((int)fr_tracker_tracks_started(t), 1);
    fr_tracker_free(t);

    /* allocation failures: an error, nothing half-done, no leak */
    size_t before = fr_mem_used();
    for (long fail = 1; fail <= 8; fail++) {   /* allocations from the fail-th on fail */
        t = NULL;
        fr_alloc_fail_after(fail);
        int rc = fr_tracker_new(NULL, &t);
        if (rc == 0) {
            rc = fr_tracker_frame(t, 0, 0, &f, 1, &r, &nr);
            assert_true(rc == 0 || rc == -FR_E_NOMEM);
            if (rc < 0) assert_int_equal(fr_tracker_live_tracks(t), 0);
        } else assert_int_equal(rc, -FR_E_NOMEM);
        fr_alloc_fail_after(0);
        fr_tracker_free(t);
    }
    assert_int_equal(fr_mem_used(), before);
}

/* ---- The measurement: false reports on a stream of strangers only ----
 *
 * 1,000 stranger-minutes: a stranger walks through one camera's view for 60
 * s, sampled at 5 fps (300 probes), a fresh session (first_seen) each. Every
 * probe is identified against a gallery of N = 1,000 subjects at the target
 * FPIR p = 1 %: it is a false match with probability p. Which probes: a
 * latent score per probe, z_t = sqrt(r)·Z + sqrt(1 - r)·u_t, Z ~ N(0,1) per
 * stranger (how much they resemble somebody enrolled), u_t an AR(1) series
 * (u_t = phi·u_{t-1} + sqrt(1 - phi²)·e_t: consecutive frames are nearly the
 * same image), standard normal at every t; a false match when z_t > z_{1-p}
 * (2.3263), so the per-probe rate is exactly p whatever r and phi. To whom:
 * with probability q the stranger's own look-alike (one subject per
 * stranger), else a uniformly drawn subject. Naive per-frame system: every
 * false match is a report. Per track: what the tracker reports. */
struct sim_case {
    const char *name;
    double r, phi, q;
    double p, z;                    /* the per-probe FPIR and the normal quantile at 1 - p */
};
struct sim_result {
    long frame_reports, naive_distinct, naive_minutes, track_reports, track_minutes, tracks;
};

#define SIM_MINUTES 1000
#define SIM_FRAMES  300
#define SIM_GALLERY 1000
#define SIM_P       0.01
#define SIM_Z       2.3263478740408408   /* the normal quantile at 1 - SIM_P */
#define SIM_Z_1E3   3.0902323061678132   /* ... at 1 - 0.001 */

static void simulate(const struct sim_case *c, uint64_t seed, struct sim_result *res) {
    memset(res, 0, sizeof *res);
    uint64_t s = seed;
    static float noise[64][DIM];
    for (int v = 0; v < 64; v++)
        for (int i = 0; i < DIM; i++) noise[v][i] = (float)(0.0145 * rng_normal(&s));
    struct person p = { 0 };
    float e[DIM];
    for (int m = 0; m < SIM_MINUTES; m++) {
        struct fr_tracker *t = tracker(NULL);
        random_unit(p.emb, &s);
        double zs = rng_normal(&s), u = rng_normal(&s);
        int64_t lookalike = 1 + (int64_t)(fr_test_rng(&s) % SIM_GALLERY);
        static unsigned char seen[SIM_GALLERY + 1];
        memset(seen, 0, sizeof seen);
        long minute_frames = 0, minute_tracks = 0;
        float x = (float)(rng_u01(&s) * 200.0), vx = (float)(rng_u01(&s) * 4.0 - 2.0);
        for (int k = 0; k < SIM_FRAMES; k++) {
            if (k) u = c->phi * u + sqrt(1.0 - c->phi * c->phi) * rng_normal(&s);
            double z = sqrt(c->r) * zs + sqrt(1.0 - c->r) * u;
            int fm = z > c->z;
            int64_t who = 0;
            if (fm) {
                who = rng_u01(&s) < c->q ? lookalike : 1 + (int64_t)(fr_test_rng(&s) % SIM_GALLERY);
                minute_frames++;
                if (!seen[who]) {
                    seen[who] = 1;
                    res->naive_distinct++;
                }
            }
            const float *nv = noise[fr_test_rng(&s) % 64];
            for (int i = 0; i < DIM; i++) e[i] = p.emb[i] + nv[i];
            normalize(e);
            x += vx;
            float jx = (float)(6.0 * rng_u01(&s) - 3.0), jy = (float)(6.0 * rng_u01(&s) - 3.0);
            struct fr_tracker_face f = { { 300 + x + jx, 200 + jy, 390 + x + jx, 290 + jy }, 0.7f, e,
                                         fm ? FR_DECISION_MATCH : FR_DECISION_UNKNOWN, who,
                                         fm ? 0.5f : 0.3f, k, 0 };
            const struct fr_tracker_report *r;
            int nr;
            assert_int_equal(fr_tracker_frame(t, 0, (int64_t)k * FRAME_MS, &f, 1, &r, &nr), 0);
            minute_tracks += nr;
        }
        res->frame_reports += minute_frames;
        res->naive_minutes += minute_frames > 0;
        res->track_reports += minute_tracks;
        res->track_minutes += minute_tracks > 0;
        res->tracks += (long)fr_tracker_tracks_started(t);
        fr_tracker_free(t);
    }
}

/* P(at least k of n) for Binomial(n, p). */
static double binom_tail(int n, int k, double p) {
    double sum = 0, c = 1;   /* c = C(n, i) */
    for (int i = 0; i <= n; i++) {
        if (i >= k) sum += c * pow(p, i) * pow(1 - p, n - i);
        c = c * (n - i) / (i + 1);
    }
    return sum;
}

static void test_strangers_false_reports(void **state) {
    (void)state;
    static const struct sim_case cases[] = {
        { "independent, random subject", 0.0, 0.0, 0.0, SIM_P, SIM_Z },
        { "independent, same subject", 0.0, 0.0, 1.0, SIM_P, SIM_Z },
        { "correlated (r 0.5, phi 0.8, q 0.9)", 0.5, 0.8, 0.9, SIM_P, SIM_Z },
        { "correlated, per-probe FPIR 0.1 %", 0.5, 0.8, 0.9, 0.001, SIM_Z_1E3 },
    };
    /* The bound for independent probes: a report needs 3 of a 5-probe window
     * to be false matches to one subject; at most SIM_FRAMES windows per
     * minute, each with probability <= P(Bin(5, p) >= 3) (= 9.85e-6, the
     * case where every false match goes to the same subject): an expected
     * <= 2.95e-3 reports per stranger-minute, 2.95 per 1,000. Allowed: 10
     * (Poisson(2.95) exceeds 10 with probability 4e-4). */
    double per_window = binom_tail(5, 3, SIM_P);
    double bound = SIM_MINUTES * SIM_FRAMES * per_window;
    printf("strangers only: %d stranger-minutes at 5 fps (%d probes each), gallery %d, "
           "per-probe FPIR %.0f %% unless stated\n", SIM_MINUTES, SIM_FRAMES, SIM_GALLERY, SIM_P * 100);
    printf("  independent-probe bound per track: %.2f expected reports per 1,000 minutes (P(Bin(5,p)>=3) = %.3g)\n",
           bound, per_window);
    printf("  %-36s %12s %12s %12s | %12s %12s\n", "case", "naive/min", "distinct/min", "min w/ rep", "track/min",
           "min w/ rep");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_result r;
        simulate(&cases[i], 100 + i, &r);
        printf("  %-36s %12.3f %12.3f %11.1f%% | %12.4f %11.2f%%\n", cases[i].name,
               (double)r.frame_reports / SIM_MINUTES, (double)r.naive_distinct / SIM_MINUTES,
               100.0 * (double)r.naive_minutes / SIM_MINUTES, (double)r.track_reports / SIM_MINUTES,
               100.0 * (double)r.track_minutes / SIM_MINUTES);
        /* the stranger is followed by one track all minute */
        assert_int_equal(r.tracks, SIM_MINUTES);
        /* the per-probe rate is p: about 3 naive reports a minute (correlated
         * probes cluster in a few strangers: a wider band) */
        double want = cases[i].p * SIM_FRAMES * SIM_MINUTES, band = cases[i].r > 0 ? 0.3 : 0.2;
        if (cases[i].p == SIM_P)
            assert_true(r.frame_reports > (1 - band) * want && r.frame_reports < (1 + band) * want);
        if (cases[i].r == 0.0 && cases[i].phi == 0.0) assert_true(r.track_reports <= 10);
        else {
            /* correlated: independence gives no bound; what the tracker must
             * still do: at least 10x fewer reports than per-frame decisions,
             * and fewer stranger-minutes with a report than per-frame */
            assert_true(r.track_reports * 10 < r.frame_reports);
            assert_true(r.track_minutes < r.naive_minutes);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_people_first_seen),
        cmocka_unit_test(test_single_false_match),
        cmocka_unit_test(test_alternating),
        cmocka_unit_test(test_two_cameras),
        cmocka_unit_test(test_every_cooldown),
        cmocka_unit_test(test_roster),
        cmocka_unit_test(test_crossing),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_unknown_rate_limit),
        cmocka_unit_test(test_resume_seed),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_strangers_false_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
