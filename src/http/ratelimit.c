/* Per-client sliding-window rate limiter (see ratelimit.h for the contract
 * and the approximation it makes).
 *
 * DESIGN. Each window is a ring of N + 1 bucket counters (N = W / G) plus a
 * running total; `head` is the bucket number (time / G) of the newest slot.
 * Moving to a later bucket zeroes the slots that fall out and subtracts them
 * from the total, so a check costs O(1) amortised and the window always holds
 * exactly the buckets head - N … head. Why N + 1 and not N: an interval of
 * length W, placed anywhere, touches at most N + 1 consecutive buckets, so
 * capping every run of N + 1 buckets at the limit caps every interval of
 * length W. A clock that steps back counts into the newest bucket (the strict
 * side again).
 *
 * Clients live in 64 stripes chosen by a hash of the id, each a chained hash
 * table under its own mutex, so unrelated clients rarely contend. Per-client
 * state is fixed-size, allocated once. */
#include "http/ratelimit.h"

#include "facerec/base.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define STRIPES 64
#define HOUR_G_MS (60 * 1000LL)           /* hour window: 60 buckets of one minute */
#define HOUR_N 60
#define DAY_G_MS (15 * 60 * 1000LL)       /* day window: 96 buckets of 15 minutes */
#define DAY_N 96
#define SWEEP_EVERY_MS (60 * 1000LL)
#define DEFAULT_MAX_CLIENTS 100000

struct ring {
    int64_t head;                   /* bucket number of the newest slot */
    int64_t total;                  /* sum of the slots */
};

struct client {
    struct client *next;            /* hash chain */
    int64_t id;
    int64_t last_ms;                /* last check, for least-recently-seen eviction */
    struct ring hour, day;
    uint32_t hour_slot[HOUR_N + 1];
    uint32_t day_slot[DAY_N + 1];
};

/* One window's shape, so the ring code serves both. */
struct wshape {
    int64_t g_ms;                   /* bucket width */
    int n_slots;                    /* N + 1 */
};
static const struct wshape HOUR = { HOUR_G_MS, HOUR_N + 1 };
static const struct wshape DAY = { DAY_G_MS, DAY_N + 1 };

struct stripe {
    pthread_mutex_t lock;
    struct client **tab;            /* chains; cap is a power of two */
    size_t cap, n;
    int64_t next_sweep_ms;
};

struct fr_ratelimit {
    struct stripe stripes[STRIPES];
    size_t per_stripe_max;
};

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static uint64_t mix(int64_t id) {   /* splitmix64 finaliser: spreads sequential ids */
    uint64_t z = (uint64_t)id + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- one window ---- */

static int slot_of(int64_t bucket, const struct wshape *w) {
    int64_t m = bucket % w->n_slots;
    return (int)(m < 0 ? m + w->n_slots : m);
}

static void ring_start(struct ring *r, uint32_t *slot, const struct wshape *w, int64_t now_ms) {
    r->head = floor_div(now_ms, w->g_ms);
    r->total = 0;
    memset(slot, 0, (size_t)w->n_slots * sizeof *slot);
}

static void ring_advance(struct ring *r, uint32_t *slot, const struct wshape *w, int64_t now_ms) {
    int64_t b = floor_div(now_ms, w->g_ms);
    if (b <= r->head) return;
    if (b - r->head >= w->n_slots) {
        memset(slot, 0, (size_t)w->n_slots * sizeof *slot);
        r->total = 0;
    } else {
        for (int64_t k = r->head + 1; k <= b; k++) {
            uint32_t *s = &slot[slot_of(k, w)];
            r->total -= *s;
            *s = 0;
        }
    }
    r->head = b;
}

static void ring_count(struct ring *r, uint32_t *slot, const struct wshape *w) {
    slot[slot_of(r->head, w)]++;
    r->total++;
}

/* The time (ms) at which the window's total first drops below target, as its
 * oldest buckets leave the ring: bucket j leaves when head reaches j + N + 1.
 * target is in [1, total]. */
static int64_t ring_free_at(const struct ring *r, const uint32_t *slot, const struct wshape *w, int64_t target) {
    int64_t left = r->total;
    int64_t j = r->head - w->n_slots + 1;
    for (; j < r->head; j++) {
        left -= slot[slot_of(j, w)];
        if (left < target) break;
    }
    return (j + w->n_slots) * w->g_ms;
}

/* ---- clients in stripes ---- */

static struct stripe *stripe_of(struct fr_ratelimit *rl, uint64_t h) { return &rl->stripes[h >> 58]; }

static struct client **chain_of(struct stripe *s, uint64_t h) { return &s->tab[h & (s->cap - 1)]; }

static struct client *client_find(struct stripe *s, int64_t id, uint64_t h) {
    for (struct client *c = *chain_of(s, h); c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static void client_unlink(struct stripe *s, struct client *gone) {
    for (struct client **pp = chain_of(s, mix(gone->id)); *pp; pp = &(*pp)->next) {
        if (*pp == gone) {
            *pp = gone->next;
            s->n--;
            fr_free(gone);
            return;
        }
    }
}

/* Doubles the table; on allocation failure the chains just grow longer. */
static void stripe_grow(struct stripe *s) {
    size_t cap = s->cap * 2;
    struct client **tab = fr_calloc(cap, sizeof *tab);
    if (!tab) return;
    for (size_t i = 0; i < s->cap; i++) {
        for (struct client *c = s->tab[i], *next; c; c = next) {
            next = c->next;
            struct client **chain = &tab[mix(c->id) & (cap - 1)];
            c->next = *chain;
            *chain = c;
        }
    }
    fr_free(s->tab);
    s->tab = tab;
    s->cap = cap;
}

static bool client_idle(struct client *c, int64_t now_ms) {
    ring_advance(&c->hour, c->hour_slot, &HOUR, now_ms);
    ring_advance(&c->day, c->day_slot, &DAY, now_ms);
    return c->hour.total == 0 && c->day.total == 0;
}

static size_t stripe_sweep(struct stripe *s, int64_t now_ms) {
    size_t dropped = 0;
    for (size_t i = 0; i < s->cap; i++) {
        struct client **pp = &s->tab[i];
        while (*pp) {
            struct client *c = *pp;
            if (client_idle(c, now_ms)) {
                *pp = c->next;
                fr_free(c);
                s->n--;
                dropped++;
            } else {
                pp = &c->next;
            }
        }
    }
    s->next_sweep_ms = now_ms + SWEEP_EVERY_MS;
    return dropped;
}

static void stripe_evict_lru(struct stripe *s) {
    struct client *oldest = NULL;
    for (size_t i = 0; i < s->cap; i++)
        for (struct client *c = s->tab[i]; c; c = c->next)
            if (!oldest || c->last_ms < oldest->last_ms) oldest = c;
    if (oldest) client_unlink(s, oldest);
}

static struct client *client_get(struct fr_ratelimit *rl, struct stripe *s, int64_t id, uint64_t h,
                                 int64_t now_ms) {
    struct client *c = client_find(s, id, h);
    if (c) return c;
    if (s->n >= rl->per_stripe_max) {
        stripe_sweep(s, now_ms);
        if (s->n >= rl->per_stripe_max) stripe_evict_lru(s);
    }
    if (!(c = fr_malloc(sizeof *c))) return NULL;
    c->id = id;
    c->last_ms = now_ms;
    ring_start(&c->hour, c->hour_slot, &HOUR, now_ms);
    ring_start(&c->day, c->day_slot, &DAY, now_ms);
    struct client **chain = chain_of(s, h);
    c->next = *chain;
    *chain = c;
    if (++s->n > s->cap) stripe_grow(s);
    return c;
}

/* ---- public ---- */

int fr_ratelimit_new(size_t max_clients, struct fr_ratelimit **out) {
    struct fr_ratelimit *rl = fr_calloc(1, sizeof *rl);
    *out = NULL;
    if (!rl) return fr_err_set(FR_E_NOMEM, "out of memory for the rate limiter");
    if (!max_clients) max_clients = DEFAULT_MAX_CLIENTS;
    rl->per_stripe_max = (max_clients + STRIPES - 1) / STRIPES;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&rl->stripes[i].lock, NULL);
    for (int i = 0; i < STRIPES; i++) {
        struct stripe *s = &rl->stripes[i];
        s->cap = 16;
        if (!(s->tab = fr_calloc(s->cap, sizeof *s->tab))) {
            fr_ratelimit_free(rl);
            return fr_err_set(FR_E_NOMEM, "out of memory for the rate limiter");
        }
    }
    *out = rl;
    return 0;
}

void fr_ratelimit_free(struct fr_ratelimit *rl) {
    if (!rl) return;
    for (int i = 0; i < STRIPES; i++) {
        struct stripe *s = &rl->stripes[i];
        for (size_t k = 0; s->tab && k < s->cap; k++) {
            for (struct client *c = s->tab[k], *next; c; c = next) {
                next = c->next;
                fr_free(c);
            }
        }
        fr_free(s->tab);
        pthread_mutex_destroy(&s->lock);
    }
    fr_free(rl);
}

/* One window's figures after the decision. */
struct wview {
    enum fr_ratelimit_window which;
    int64_t limit;                  /* > 0 */
    bool refused;
    int64_t remaining;
    int64_t free_ms;                /* when it next frees room (see info.reset) */
};

static struct wview view(enum fr_ratelimit_window which, const struct ring *r, const uint32_t *slot,
                         const struct wshape *w, int64_t limit, bool refused) {
    struct wview v = { which, limit, refused, 0, 0 };
    v.remaining = limit > r->total ? limit - r->total : 0;
    if (refused) v.free_ms = ring_free_at(r, slot, w, limit);
    else if (r->total > 0) v.free_ms = ring_free_at(r, slot, w, r->total);
    return v;
}

/* The window the headers report: see struct fr_ratelimit_info. */
static const struct wview *binding(const struct wview *a, const struct wview *b) {
    if (!a) return b;
    if (!b) return a;
    if (a->refused != b->refused) return a->refused ? a : b;
    if (a->refused) return b->free_ms > a->free_ms ? b : a;
    return b->remaining < a->remaining ? b : a;
}

static int64_t ceil_div_pos(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

static void fill_info(struct fr_ratelimit_info *info, const struct wview *hv, const struct wview *dv,
                      int64_t now_ms) {
    memset(info, 0, sizeof *info);
    const struct wview *bw = binding(hv, dv);
    if (!bw) return;
    info->window = bw->which;
    info->limit = bw->limit;
    info->remaining = bw->remaining;
    info->reset = ceil_div_pos(bw->free_ms, 1000);
    if (bw->refused) {
        int64_t wait_ms = bw->free_ms - now_ms;   /* bw frees last among the refusing windows */
        info->retry_after = ceil_div_pos(wait_ms, 1000);
        if (info->retry_after < 1) info->retry_after = 1;
    }
}

int fr_ratelimit_check(struct fr_ratelimit *rl, int64_t client, int64_t per_hour, int64_t per_day,
                       int64_t now_ms, struct fr_ratelimit_info *info) {
    if (per_hour < 0 || per_day < 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "rate limits must be >= 0 (got %lld/hour, %lld/day)",
                          (long long)per_hour, (long long)per_day);
    uint64_t h = mix(client);
    struct stripe *s = stripe_of(rl, h);
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (now_ms >= s->next_sweep_ms) stripe_sweep(s, now_ms);
    struct client *c = client_get(rl, s, client, h, now_ms);
    if (!c) {
        pthread_mutex_unlock(&s->lock);
        return fr_err_set(FR_E_NOMEM, "out of memory tracking client %lld", (long long)client);
    }
    c->last_ms = now_ms;
    ring_advance(&c->hour, c->hour_slot, &HOUR, now_ms);
    ring_advance(&c->day, c->day_slot, &DAY, now_ms);
    bool hour_no = per_hour > 0 && c->hour.total >= per_hour;
    bool day_no = per_day > 0 && c->day.total >= per_day;
    if (!hour_no && !day_no) {
        ring_count(&c->hour, c->hour_slot, &HOUR);
        ring_count(&c->day, c->day_slot, &DAY);
    }
    struct fr_ratelimit_info tmp;
    if (info || hour_no || day_no) {   /* the figures cost a ring scan: only when someone reads them */
        struct wview hv = { 0 }, dv = { 0 };
        if (per_hour > 0) hv = view(FR_RATELIMIT_HOUR, &c->hour, c->hour_slot, &HOUR, per_hour, hour_no);
        if (per_day > 0) dv = view(FR_RATELIMIT_DAY, &c->day, c->day_slot, &DAY, per_day, day_no);
        if (!info) info = &tmp;
        fill_info(info, per_hour > 0 ? &hv : NULL, per_day > 0 ? &dv : NULL, now_ms);
    }
    pthread_mutex_unlock(&s->lock);
    if (hour_no || day_no)
        rc = fr_err_set(FR_E_RATE_LIMITED, "%s limit of %lld requests reached; retry in %lld s",
                        info->window == FR_RATELIMIT_HOUR ? "hourly" : "daily", (long long)info->limit,
                        (long long)info->retry_after);
    return rc;
}

void fr_ratelimit_forget(struct fr_ratelimit *rl, int64_t client) {
    uint64_t h = mix(client);
    struct stripe *s = stripe_of(rl, h);
    pthread_mutex_lock(&s->lock);
    struct client *c = client_find(s, client, h);
    if (c) client_unlink(s, c);
    pthread_mutex_unlock(&s->lock);
}

size_t fr_ratelimit_sweep(struct fr_ratelimit *rl, int64_t now_ms) {
    size_t dropped = 0;
    for (int i = 0; i < STRIPES; i++) {
        struct stripe *s = &rl->stripes[i];
        pthread_mutex_lock(&s->lock);
        dropped += stripe_sweep(s, now_ms);
        pthread_mutex_unlock(&s->lock);
    }
    return dropped;
}

size_t fr_ratelimit_clients(struct fr_ratelimit *rl) {
    size_t n = 0;
    for (int i = 0; i < STRIPES; i++) {
        struct stripe *s = &rl->stripes[i];
        pthread_mutex_lock(&s->lock);
        n += s->n;
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}
