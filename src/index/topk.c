/* Top-k selection for the index searches: a bounded min-heap kept in the
 * caller's hit slots, whose root is the worst hit kept so far.
 *
 * Why a heap: a scan offers every row, but after the first few thousand rows
 * almost none beats the root, so the common case is one compare against
 * t->bar (inlined in fr__topk_scan) and the heap work is O(k log n) in all.
 *
 * Per-label mode keeps one entry per label (its best row). A row whose label
 * is already kept raises that entry in place; otherwise it competes with the
 * root like any row. This is exact: a label outside the heap has no row
 * better than the root (it was never offered one, or was rejected or evicted
 * when the root was at most where it is now, and the root only rises), so
 * its new best is the row at hand. Finding the label is a linear scan of the
 * k entries, paid only by rows that beat the root. */
#include "index/index_int.h"

/* The result order: a before b when a scores higher, or equal and smaller id. */
static inline bool better(const struct fr_hit *a, const struct fr_hit *b) {
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}

static void sift_up(struct fr_hit *h, int i) {
    struct fr_hit x = h[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!better(&h[p], &x)) break;   /* parent already worse: stop */
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void sift_down(struct fr_hit *h, int n, int i) {
    struct fr_hit x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(&h[c], &h[c + 1])) c++;   /* the worse child */
        if (!better(&x, &h[c])) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

void fr__topk_init(struct fr_topk *t, struct fr_hit *slots, int k, float min_score, bool per_label) {
    t->h = slots;
    t->k = k;
    t->n = 0;
    t->per_label = per_label;
    t->bar = min_score;
}

static void update_bar(struct fr_topk *t) {
    if (t->n == t->k && t->h[0].score > t->bar) t->bar = t->h[0].score;
}

static int find_label(const struct fr_topk *t, int64_t label) {
    for (int i = 0; i < t->n; i++)
        if (t->h[i].label == label) return i;
    return -1;
}

void fr__topk_offer(struct fr_topk *t, float score, int64_t id, int64_t label) {
    struct fr_hit c = { .id = id, .label = label, .score = score };
    if (t->per_label) {
        int i = find_label(t, label);
        if (i >= 0) {
            if (better(&c, &t->h[i])) {
                t->h[i] = c;
                sift_down(t->h, t->n, i);   /* a min-heap entry that got better sinks */
                update_bar(t);
            }
            return;
        }
    }
    if (t->n < t->k) {
        t->h[t->n++] = c;
        sift_up(t->h, t->n - 1);
    } else {
        if (!better(&c, &t->h[0])) return;
        t->h[0] = c;
        sift_down(t->h, t->n, 0);
    }
    update_bar(t);
}

int fr__topk_finish(struct fr_topk *t) {
    /* heapsort: each step moves the worst left to the end, so h[0] ends best */
    for (int m = t->n; m > 1; m--) {
        struct fr_hit x = t->h[0];
        t->h[0] = t->h[m - 1];
        t->h[m - 1] = x;
        sift_down(t->h, m - 1, 0);
    }
    return t->n;
}
