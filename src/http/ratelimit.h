/* Per-client request rate limits: an hourly and a daily sliding window.
 *
 * fr_ratelimit_check() admits a request only when BOTH windows have room and
 * then counts it in both; a refused request is not counted. Time is passed
 * in (unix-epoch milliseconds), so tests drive it; limits are passed per call
 * (0 = unlimited), so a changed client limit applies at once and keeps the
 * counts already made.
 *
 * Windows are rings of buckets: the hour has 60 one-minute buckets, the day
 * 96 fifteen-minute buckets, each ring plus one bucket for the current,
 * partly elapsed one. A request is counted in the bucket of its time and is
 * forgotten when that bucket leaves the ring: between W and W + G after it
 * was made (W the window, G its bucket width: hour 60–61 min, day 24 h–24 h
 * 15 min). So the limiter errs only on the strict side: over ANY interval of
 * length W (not just bucket-aligned ones) it never admits more than the
 * limit, and it may refuse at most G later than an exact sliding log would
 * have allowed (≤ 1/60 of the hour, ≤ 1/96 of the day). Memory per client is
 * fixed: 158 four-byte counters plus bookkeeping (about 700 bytes).
 *
 *     struct fr_ratelimit *rl;
 *     fr_ratelimit_new(0, &rl);
 *     struct fr_ratelimit_info info;
 *     if (fr_ratelimit_check(rl, client_id, 1000, 10000, now_ms, &info) < 0)
 *         ... 429, Retry-After: info.retry_after
 *     ... X-RateLimit-Limit: info.limit, -Remaining: info.remaining, -Reset: info.reset
 *
 * Thread-safe: clients are spread over 64 independently locked stripes.
 * Memory is bounded: a client whose windows are both empty (idle for more than
 * a day and a quarter hour) is dropped on a periodic sweep, which changes
 * nothing it would be told; past max_clients the least recently seen client
 * of a stripe is dropped (it then starts from empty windows). */
#ifndef FR_HTTP_RATELIMIT_H
#define FR_HTTP_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct fr_ratelimit;

/* Which window an answer is about. */
enum fr_ratelimit_window {
    FR_RATELIMIT_NONE = 0,          /* both windows unlimited */
    FR_RATELIMIT_HOUR = 1,
    FR_RATELIMIT_DAY = 2
};

/* What the response headers say. The binding window is the one that refused
 * (when both refused, the one that frees later), else the one with fewer
 * requests remaining (the hour on a tie). */
struct fr_ratelimit_info {
    int64_t limit;                  /* X-RateLimit-Limit: the binding window's limit; 0 when unlimited */
    int64_t remaining;              /* X-RateLimit-Remaining: requests left in it after this one, >= 0 */
    int64_t reset;                  /* X-RateLimit-Reset: unix seconds (rounded up) when it next frees
                                       room: when refused, room for one request; else its oldest counted
                                       request is forgotten. 0 when unlimited */
    int64_t retry_after;            /* Retry-After seconds when refused (>= 1; both windows must have room
                                       by then); 0 when admitted */
    enum fr_ratelimit_window window;   /* the binding window */
};

/* max_clients: clients tracked at once before least-recently-seen ones are
 * dropped (rounded up to a multiple of 64, the stripes); 0 means 100000. */
int fr_ratelimit_new(size_t max_clients, struct fr_ratelimit **out /* OUT */);
void fr_ratelimit_free(struct fr_ratelimit *rl);   /* NULL: nothing */

/* 0: admitted and counted. -FR_E_RATE_LIMITED: refused, nothing counted,
 * fr_err_detail() names the window. -FR_E_INVALID_ARGUMENT for a negative
 * limit, -FR_E_NOMEM when a new client cannot be tracked (the request is then
 * neither admitted nor counted). info may be NULL. */
int fr_ratelimit_check(struct fr_ratelimit *rl, int64_t client, int64_t per_hour, int64_t per_day,
                       int64_t now_ms, struct fr_ratelimit_info *info /* OUT */);

/* Forgets a client (deleted, or its limits reset by an admin). */
void fr_ratelimit_forget(struct fr_ratelimit *rl, int64_t client);

/* Drops every client whose windows are empty at now_ms; returns how many.
 * fr_ratelimit_check also does this for a stripe about once a minute. */
size_t fr_ratelimit_sweep(struct fr_ratelimit *rl, int64_t now_ms);

size_t fr_ratelimit_clients(struct fr_ratelimit *rl);   /* clients tracked now */

#endif
