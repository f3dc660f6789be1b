/* The rate limit a node applies when it is one of several: the windows
 * shared in Redis (src/cluster/redis.h), and the node's own windows
 * (ratelimit.h) as the fallback while Redis is down.
 *
 *     rc = fr_ratelimit_shared_check(redis, local, client, per_hour, per_day, fr_now_ms(), &info);
 *     // exactly as fr_ratelimit_check: 0, -FR_E_RATE_LIMITED (429 + Retry-After: info.retry_after), ...
 *
 * With Redis up the shared windows decide (Redis's clock, exact across
 * nodes), and the admitted request is also counted in the node's own windows
 * (with no limit: counted, never refused), so those hold this node's share
 * of the recent traffic. With Redis down (any -FR_E_SERVICE_UNAVAILABLE,
 * including the instant failures of its back-off) the node's own windows
 * decide, each limit cut to fr_redis_fallback_limit(limit, live nodes), the
 * live nodes being the count the registry last reported: together the nodes
 * then admit about the limit, never more than it per node. Each fallback
 * decision counts in facerec_ratelimit_fallback_total; the Redis layer logs
 * one warning per outage. redis NULL: the node's own windows with the full
 * limits (one node). */
#ifndef FR_HTTP_RATELIMIT_SHARED_H
#define FR_HTTP_RATELIMIT_SHARED_H

#include "cluster/redis.h"
#include "http/ratelimit.h"

int fr_ratelimit_shared_check(struct fr_redis *redis, struct fr_ratelimit *local, int64_t client, int64_t per_hour,
                              int64_t per_day, int64_t now_ms, struct fr_ratelimit_info *info /* OUT */);

#endif
