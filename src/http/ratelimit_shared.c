/* Shared rate limits with the per-node fallback (see ratelimit_shared.h).
 * Kept apart from ratelimit.c, which knows nothing of Redis: this file is
 * the one place that chooses between the two. */
#include "http/ratelimit_shared.h"

#include "facerec/base.h"
#include "facerec/metrics.h"

#include <string.h>

static void count_fallback(void) {
    /* Registered on use: only during an outage, and safe across fr_metrics_reset. */
    struct fr_metric *m;
    if (fr_metric_new("facerec_ratelimit_fallback_total",
                      "Rate-limit decisions made by the node's own windows because Redis was down.",
                      FR_METRIC_COUNTER, NULL, NULL, 0, &m) == 0)
        fr_metric_inc(m);
}

int fr_ratelimit_shared_check(struct fr_redis *redis, struct fr_ratelimit *local, int64_t client, int64_t per_hour,
                              int64_t per_day, int64_t now_ms, struct fr_ratelimit_info *info) {
    if (!redis) return fr_ratelimit_check(local, client, per_hour, per_day, now_ms, info);
    struct fr_redis_limit lim;
    int rc = fr_redis_ratelimit_check(redis, client, per_hour, per_day, FR_REDIS_SERVER_TIME, &lim);
    if (rc == 0 || rc == -FR_E_RATE_LIMITED) {
        if (info) {
            memset(info, 0, sizeof *info);
            info->limit = lim.limit;
            info->remaining = lim.remaining;
            info->reset = lim.reset;
            info->retry_after = lim.retry_after;
            info->window = (enum fr_ratelimit_window)lim.window;
        }
        if (rc == 0) (void)fr_ratelimit_check(local, client, 0, 0, now_ms, NULL);   /* this node's share */
        return rc;
    }
    if (rc != -FR_E_SERVICE_UNAVAILABLE) return rc;
    count_fallback();
    int nodes = fr_redis_live_nodes(redis);
    return fr_ratelimit_check(local, client, fr_redis_fallback_limit(per_hour, nodes),
                              fr_redis_fallback_limit(per_day, nodes), now_ms, info);
}
