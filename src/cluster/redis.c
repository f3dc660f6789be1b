/* The Redis layer: URL parsing, a small pool of blocking hiredis connections,
 * and the scripts behind shared rate limits, leases and the node registry
 * (see redis.h for the contract).
 *
 * DESIGN. Blocking connections with socket timeouts, not hiredis's async
 * API: every caller (an HTTP worker, the session supervisor) wants one
 * answer now and has nothing else to do meanwhile, and a blocking call with
 * a deadline is what the rest of the service is written against. The pool
 * is a fixed array under one mutex; a connection is taken for exactly one
 * round trip (two when EVALSHA meets NOSCRIPT), so a handful serves many
 * threads. Connections carry the generation they were made in; an outage
 * bumps the generation, so connections made before it are dropped when next
 * taken instead of each failing once more after Redis returns.
 *
 * Health is one state machine: up → (any connection-level failure) → down
 * until retry_at; while down, calls fail at once, except that the first call
 * after retry_at claims the probe (moving retry_at on) and reconnects. So a
 * down Redis costs one connect attempt per back-off period, whatever the
 * request rate.
 *
 * Every multi-step decision is a Lua script, run with EVALSHA and sent
 * whole (EVAL) only when the server answers NOSCRIPT (a restarted or flushed
 * Redis): one round trip, atomic on the server. The scripts use TIME, so
 * they need effects replication, the default since Redis 5. The registry's
 * list script reads node cards by computed key names, which a Redis Cluster
 * would refuse; facerec talks to one Redis (or a Sentinel-managed primary). */
#include "cluster/redis.h"

#include "facerec/base.h"
#include "facerec/metrics.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define DEFAULT_CONNECT_MS 500
#define DEFAULT_COMMAND_MS 1000
#define DEFAULT_BACKOFF_MS 1000
#define DEFAULT_POOL 4
#define POOL_MAX 64
#define PREFIX_MAX 64
#define URL_MAX 1024
#define NAME_MAX_LEN 200            /* lease keys, node ids */
#define KEY_MAX (PREFIX_MAX + 16 + NAME_MAX_LEN + 8)
#define FIELD "FACEREC_REDIS_URL"

/* ---- scripts ---- */

/* Shared rate-limit windows: the ring of src/http/ratelimit.c, bucket by
 * bucket. KEYS: the hour hash, the day hash (field = bucket number, value =
 * count). ARGV: now_ms (< 0: TIME), per_hour, per_day. Returns {admitted,
 * window, limit, remaining, free_ms, now_ms}; free_ms is when the binding
 * window next frees room (ratelimit.c ring_free_at). A bucket newer than the
 * clock's (a clock that stepped back) is the head, as in ratelimit.c. */
static const char LUA_RATE[] =
    "local now = tonumber(ARGV[1])\n"
    "if now < 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local G = {60000, 900000}\n"
    "local S = {61, 97}\n"
    "local lim = {tonumber(ARGV[2]), tonumber(ARGV[3])}\n"
    "local head, tot, b, no = {}, {}, {}, {}\n"
    "for w = 1, 2 do\n"
    "  local h = math.floor(now / G[w])\n"
    "  local kv = redis.call('HGETALL', KEYS[w])\n"
    "  for i = 1, #kv, 2 do\n"
    "    local j = tonumber(kv[i])\n"
    "    if j > h then h = j end\n"
    "  end\n"
    "  local t, bw, old = 0, {}, {}\n"
    "  for i = 1, #kv, 2 do\n"
    "    local j, c = tonumber(kv[i]), tonumber(kv[i + 1])\n"
    "    if j <= h - S[w] then old[#old + 1] = kv[i] else bw[j] = c; t = t + c end\n"
    "  end\n"
    "  if #old > 0 then redis.call('HDEL', KEYS[w], unpack(old)) end\n"
    "  head[w], tot[w], b[w] = h, t, bw\n"
    "  no[w] = lim[w] > 0 and t >= lim[w]\n"
    "end\n"
    "local admit = not no[1] and not no[2]\n"
    "if admit then\n"
    "  for w = 1, 2 do\n"
    "    redis.call('HINCRBY', KEYS[w], string.format('%.0f', head[w]), 1)\n"
    "    redis.call('PEXPIRE', KEYS[w], string.format('%.0f', (head[w] + S[w]) * G[w] - now))\n"
    "    b[w][head[w]] = (b[w][head[w]] or 0) + 1\n"
    "    tot[w] = tot[w] + 1\n"
    "  end\n"
    "end\n"
    "local function free_at(w, target)\n"
    "  local left = tot[w]\n"
    "  local j = head[w] - S[w] + 1\n"
    "  while j < head[w] do\n"
    "    left = left - (b[w][j] or 0)\n"
    "    if left < target then break end\n"
    "    j = j + 1\n"
    "  end\n"
    "  return (j + S[w]) * G[w]\n"
    "end\n"
    "local v = {}\n"
    "for w = 1, 2 do\n"
    "  if lim[w] > 0 then\n"
    "    local f = 0\n"
    "    if no[w] then f = free_at(w, lim[w]) elseif tot[w] > 0 then f = free_at(w, tot[w]) end\n"
    "    local rem = lim[w] - tot[w]\n"
    "    if rem < 0 then rem = 0 end\n"
    "    v[#v + 1] = {w, lim[w], no[w], rem, f}\n"
    "  end\n"
    "end\n"
    "local bw = v[1]\n"
    "if v[2] then\n"
    "  local a, c = v[1], v[2]\n"
    "  if a[3] ~= c[3] then if a[3] then bw = a else bw = c end\n"
    "  elseif a[3] then if c[5] > a[5] then bw = c else bw = a end\n"
    "  else if c[4] < a[4] then bw = c else bw = a end end\n"
    "end\n"
    "if not bw then return {admit and 1 or 0, 0, 0, 0, 0, now} end\n"
    "return {admit and 1 or 0, bw[1], bw[2], bw[4], bw[5], now}\n";

/* KEYS: the lease. ARGV: node, ttl_ms. 1 extended, 0 not ours. */
static const char LUA_RENEW[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n";

/* KEYS: the lease. ARGV: node. 1 deleted, 0 not ours. */
static const char LUA_RELEASE[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* KEYS: the lease. nil when free, else {owner, pttl}. */
static const char LUA_OWNER[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return nil end\n"
    "return {v, redis.call('PTTL', KEYS[1])}\n";

/* KEYS: the node's card, the index (sorted set: id scored by expiry, ms).
 * ARGV: id, addr, running, max_sessions, started_at_ms, ttl_ms. Returns the
 * live nodes counted. */
static const char LUA_BEAT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'addr', ARGV[2], 'running', ARGV[3],\n"
    "           'max_sessions', ARGV[4], 'started_at_ms', ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[6])\n"
    "redis.call('ZADD', KEYS[2], string.format('%.0f', now + tonumber(ARGV[6])), ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))\n"
    "return redis.call('ZCARD', KEYS[2])\n";

/* KEYS: the index. ARGV: the card key prefix. Drops expired ids; returns
 * {{id, addr, running, max_sessions, started_at_ms, pttl}, ...}. */
static const char LUA_LIST[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  local k = ARGV[1] .. id\n"
    "  local h = redis.call('HMGET', k, 'addr', 'running', 'max_sessions', 'started_at_ms')\n"
    "  local ttl = redis.call('PTTL', k)\n"
    "  if h[1] and ttl > 0 then\n"
    "    out[#out + 1] = {id, h[1], h[2] or '0', h[3] or '0', h[4] or '0', ttl}\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[1], id)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: the card, the index. ARGV: id. */
static const char LUA_LEAVE[] =
    "redis.call('DEL', KEYS[1])\n"
    "return redis.call('ZREM', KEYS[2], ARGV[1])\n";

enum { S_RATE, S_RENEW, S_RELEASE, S_OWNER, S_BEAT, S_LIST, S_LEAVE, S_COUNT };
static const char *const SCRIPT_SRC[S_COUNT] = { LUA_RATE, LUA_RENEW, LUA_RELEASE, LUA_OWNER,
                                                 LUA_BEAT, LUA_LIST, LUA_LEAVE };

/* ---- the client ---- */

struct conn {
    redisContext *c;                /* NULL: not connected */
    uint64_t gen;                   /* r->gen when it was made */
    bool busy;
};

struct fr_redis {
    struct fr_redis_url url;
    char where[FR_REDIS_PATH_MAX + FR_REDIS_HOST_MAX + 32];
    char prefix[PREFIX_MAX];
    int connect_ms, command_ms, backoff_ms;
    char sha[S_COUNT][41];

    pthread_mutex_t mu;             /* guards everything below but `up` and `live_nodes` */
    pthread_cond_t cv;              /* a connection was given back, or Redis went down */
    struct conn *pool;
    int n_pool;
    uint64_t gen;                   /* bumped when Redis goes down */
    bool down;
    double retry_at;                /* monotonic ms: the next call may reconnect */
    double down_since;
    char last_error[256];

    atomic_bool up;                 /* !down, for lock-free readers */
    atomic_int live_nodes;
    struct fr_metric *errors;       /* facerec_redis_errors_total{op} */
};

/* ---- URL ---- */

static int url_bad(const char *why) {
    return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", FIELD, "%s: %s", FIELD, why);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0, n) into out (cap bytes with the NUL); -1 when bad or too long. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            if (c == 0) return -1;
            i += 2;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

/* Digits only, value in [lo, hi]. */
static int parse_int(const char *s, size_t n, long lo, long hi, int *out) {
    if (n == 0 || n > 10) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* "[user]:password" */
static int parse_userinfo(const char *s, size_t n, struct fr_redis_url *u) {
    const char *colon = memchr(s, ':', n);
    if (!colon) return url_bad("credentials must be [user]:password@");
    size_t un = (size_t)(colon - s);
    if (pct_decode(s, un, u->user, sizeof u->user) < 0)
        return url_bad("user name badly percent-encoded or too long");
    if (pct_decode(colon + 1, n - un - 1, u->password, sizeof u->password) < 0)
        return url_bad("password badly percent-encoded or too long");
    if (!u->password[0]) return url_bad("empty password after ':'");
    return 0;
}

static bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
}

static int parse_tcp(const char *s, struct fr_redis_url *u) {
    size_t auth_end = strcspn(s, "/?#");
    if (s[auth_end] == '?' || s[auth_end] == '#') return url_bad("redis:// takes no query or fragment");
    const char *at = NULL;
    for (const char *p = s; p < s + auth_end; p++)
        if (*p == '@') at = p;
    const char *h = s;
    if (at) {
        int rc = parse_userinfo(s, (size_t)(at - s), u);
        if (rc < 0) return rc;
        h = at + 1;
    }
    const char *end = s + auth_end;
    const char *port = NULL;
    if (h < end && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close) return url_bad("IPv6 address without ']'");
        size_t n = (size_t)(close - h - 1);
        if (n == 0 || n >= sizeof u->host) return url_bad("bad IPv6 address");
        for (size_t i = 1; i <= n; i++)
            if (hexval(h[i]) < 0 && h[i] != ':' && h[i] != '.') return url_bad("bad IPv6 address");
        memcpy(u->host, h + 1, n);
        u->host[n] = 0;
        if (close + 1 < end) {
            if (close[1] != ':') return url_bad("junk after the IPv6 address");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        const char *hend = colon ? colon : end;
        size_t n = (size_t)(hend - h);
        if (n == 0) return url_bad("no host");
        if (n >= sizeof u->host) return url_bad("host name too long");
        for (size_t i = 0; i < n; i++)
            if (!host_char(h[i])) return url_bad("host has a character not allowed in a host name");
        memcpy(u->host, h, n);
        u->host[n] = 0;
        if (colon) port = colon + 1;
    }
    u->port = 6379;
    if (port && parse_int(port, (size_t)(end - port), 1, 65535, &u->port) < 0)
        return url_bad("port must be 1-65535");
    if (*end == '/' && end[1] && parse_int(end + 1, strlen(end + 1), 0, INT_MAX, &u->db) < 0)
        return url_bad("the path must be /db, a database number");
    return 0;
}

static int parse_unix(const char *s, struct fr_redis_url *u) {
    const char *path = s;
    if (*s != '/') {
        const char *slash = strchr(s, '/');
        const char *at = slash ? memchr(s, '@', (size_t)(slash - s)) : NULL;
        if (!at || at + 1 != slash) return url_bad("unix:// needs an absolute socket path (unix:///path)");
        int rc = parse_userinfo(s, (size_t)(at - s), u);
        if (rc < 0) return rc;
        path = slash;
    }
    size_t n = strcspn(path, "?#");
    if (path[n] == '#') return url_bad("unix:// takes no fragment");
    if (n < 2) return url_bad("no socket path");
    if (n >= sizeof u->path) return url_bad("socket path longer than 107 bytes");
    memcpy(u->path, path, n);
    u->path[n] = 0;
    bool seen_db = false, seen_pw = false;
    for (const char *q = path[n] ? path + n + 1 : NULL; q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 3 && !strncmp(q, "db=", 3) && !seen_db) {
            if (parse_int(q + 3, len - 3, 0, INT_MAX, &u->db) < 0) return url_bad("db must be a number >= 0");
            seen_db = true;
        } else if (len > 9 && !strncmp(q, "password=", 9) && !seen_pw && !u->password[0]) {
            if (pct_decode(q + 9, len - 9, u->password, sizeof u->password) < 0)
                return url_bad("password badly percent-encoded or too long");
            seen_pw = true;
        } else {
            return url_bad("unix:// takes ?db=N and &password=P, each once");
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

int fr_redis_url_parse(const char *url, struct fr_redis_url *out) {
    memset(out, 0, sizeof *out);
    if (!url || !url[0]) return url_bad("empty");
    size_t len = strlen(url);
    if (len > URL_MAX) return url_bad("longer than 1024 bytes");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f) return url_bad("spaces or control characters");
    int rc;
    if (!strncmp(url, "redis://", 8)) {
        rc = parse_tcp(url + 8, out);
    } else if (!strncmp(url, "unix://", 7)) {
        out->unix_socket = true;
        rc = parse_unix(url + 7, out);
    } else if (!strncmp(url, "rediss://", 9)) {
        rc = url_bad("TLS (rediss://) is not supported: reach Redis on a private network or a unix socket");
    } else {
        rc = url_bad("must start redis:// or unix://");
    }
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}

/* ---- errors and health ---- */

static struct timeval tv_of(int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

/* A failure that is not the server's answer: the connection goes, Redis is
 * down until the back-off ends. Called with the slot taken (busy). */
static int fail(struct fr_redis *r, struct conn *slot, const char *op, const char *what) {
    redisContext *dead = NULL;
    bool went_down = false;
    pthread_mutex_lock(&r->mu);
    if (slot) {
        dead = slot->c;
        slot->c = NULL;
        slot->busy = false;
    }
    r->gen++;
    double now = fr_time_ms();
    if (!r->down) {
        r->down = true;
        r->down_since = now;
        went_down = true;
        atomic_store(&r->up, false);
    }
    r->retry_at = now + r->backoff_ms;
    snprintf(r->last_error, sizeof r->last_error, "%s", what);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (dead) redisFree(dead);
    if (r->errors) fr_metric_inc(r->errors, op);
    if (went_down)
        fr_log(FR_LOG_WARN,
               "redis: %s is unreachable (%s): rate limits fall back to per-node windows and no session "
               "moves until it is back; retrying every %d ms",
               r->where, what, r->backoff_ms);
    return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "redis %s: %s", r->where, what);
}

/* An error reply: the server is there, the command was refused. */
static int refused(struct fr_redis *r, const char *op, const char *cmd, const char *msg) {
    if (r->errors) fr_metric_inc(r->errors, op);
    return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "redis %s refused %s: %.200s", r->where, cmd, msg);
}

static void give_back(struct fr_redis *r, struct conn *slot) {
    double down_for = -1;
    pthread_mutex_lock(&r->mu);
    slot->busy = false;
    if (r->down && slot->gen == r->gen) {   /* a connection made since the outage answered */
        r->down = false;
        down_for = fr_time_ms() - r->down_since;
        atomic_store(&r->up, true);
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (down_for >= 0) fr_log(FR_LOG_INFO, "redis: %s is back after %.1f s", r->where, down_for / 1000.0);
}

/* AUTH and SELECT on a new connection; a message in err on failure. */
static int conn_setup(struct fr_redis *r, redisContext *c, char *err, size_t err_len) {
    const struct fr_redis_url *u = &r->url;
    if (u->password[0]) {
        redisReply *rep = u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->password)
                                     : redisCommand(c, "AUTH %s", u->password);
        if (!rep) {
            snprintf(err, err_len, "AUTH: %s", c->errstr[0] ? c->errstr : "no answer");
            return -1;
        }
        int bad = rep->type == REDIS_REPLY_ERROR;
        if (bad) snprintf(err, err_len, "AUTH refused: %.150s", rep->str);
        freeReplyObject(rep);
        if (bad) return -1;
    }
    if (u->db) {
        redisReply *rep = redisCommand(c, "SELECT %d", u->db);
        if (!rep) {
            snprintf(err, err_len, "SELECT: %s", c->errstr[0] ? c->errstr : "no answer");
            return -1;
        }
        int bad = rep->type == REDIS_REPLY_ERROR;
        if (bad) snprintf(err, err_len, "SELECT %d refused: %.150s", u->db, rep->str);
        freeReplyObject(rep);
        if (bad) return -1;
    }
    return 0;
}

/* Takes a connection, connected; 0 or -FR_E_SERVICE_UNAVAILABLE. */
static int take(struct fr_redis *r, const char *op, struct conn **out) {
    *out = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += r->command_ms / 1000;
    deadline.tv_nsec += (long)(r->command_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    char why[sizeof r->last_error];
    pthread_mutex_lock(&r->mu);
    struct conn *slot = NULL;
    for (;;) {
        if (r->down) {
            double now = fr_time_ms();
            if (now < r->retry_at) {
                snprintf(why, sizeof why, "%s", r->last_error);
                double wait = r->retry_at - now;
                pthread_mutex_unlock(&r->mu);
                if (r->errors) fr_metric_inc(r->errors, op);
                return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "redis %s is down (%s); next try in %.0f ms",
                                  r->where, why, wait);
            }
        }
        struct conn *idle = NULL;
        for (int i = 0; i < r->n_pool; i++) {
            struct conn *c = &r->pool[i];
            if (c->busy) continue;
            if (c->c && c->gen == r->gen) {
                slot = c;
                break;
            }
            if (!idle) idle = c;
        }
        if (!slot) slot = idle;
        if (slot) break;
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&r->mu);
            if (r->errors) fr_metric_inc(r->errors, op);
            return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "redis %s: all %d connections busy for %d ms",
                              r->where, r->n_pool, r->command_ms);
        }
    }
    slot->busy = true;
    redisContext *stale = NULL;
    if (slot->c && slot->gen != r->gen) {
        stale = slot->c;
        slot->c = NULL;
    }
    if (!slot->c && r->down) r->retry_at = fr_time_ms() + r->backoff_ms;   /* this call is the probe */
    slot->gen = r->gen;
    pthread_mutex_unlock(&r->mu);
    if (stale) redisFree(stale);
    if (!slot->c) {
        redisContext *c = r->url.unix_socket ? redisConnectUnixWithTimeout(r->url.path, tv_of(r->connect_ms))
                                             : redisConnectWithTimeout(r->url.host, r->url.port,
                                                                       tv_of(r->connect_ms));
        char err[200] = "";
        if (!c) return fail(r, slot, op, "out of memory for a connection");
        if (c->err) {
            snprintf(err, sizeof err, "connect: %s", c->errstr);
            redisFree(c);
            return fail(r, slot, op, err);
        }
        if (redisSetTimeout(c, tv_of(r->command_ms)) != REDIS_OK || conn_setup(r, c, err, sizeof err) < 0) {
            if (!err[0] || c->err) snprintf(err, sizeof err, "set-up: %s", c->errstr);
            redisFree(c);
            return fail(r, slot, op, err);
        }
        slot->c = c;
    }
    *out = slot;
    return 0;
}

/* One command (argv, NUL-terminated strings). A script (script >= 0) goes
 * as EVALSHA sha nkeys ..., argv[0] and argv[1] being filled in here; on
 * NOSCRIPT it is sent again as EVAL. *out: the reply, never an error reply;
 * freeReplyObject'd by the caller. */
static int call(struct fr_redis *r, const char *op, int script, int argc, const char **argv, redisReply **out) {
    *out = NULL;
    struct conn *slot;
    int rc = take(r, op, &slot);
    if (rc < 0) return rc;
    if (script >= 0) {
        argv[0] = "EVALSHA";
        argv[1] = r->sha[script];
    }
    redisReply *rep = redisCommandArgv(slot->c, argc, argv, NULL);
    if (rep && rep->type == REDIS_REPLY_ERROR && script >= 0 && !strncmp(rep->str, "NOSCRIPT", 8)) {
        freeReplyObject(rep);
        argv[0] = "EVAL";
        argv[1] = SCRIPT_SRC[script];
        rep = redisCommandArgv(slot->c, argc, argv, NULL);
    }
    if (!rep) {
        char err[200];
        int e = slot->c->err;
        snprintf(err, sizeof err, "%s: %s", op,
                 e == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
                     ? "no answer within the command timeout"
                     : slot->c->errstr[0] ? slot->c->errstr : "connection lost");
        return fail(r, slot, op, err);
    }
    give_back(r, slot);
    if (rep->type == REDIS_REPLY_ERROR) {
        rc = refused(r, op, script >= 0 ? "a script" : argv[0], rep->str);
        freeReplyObject(rep);
        return rc;
    }
    *out = rep;
    return 0;
}

static int bad_reply(struct fr_redis *r, const char *op, redisReply *rep) {
    if (rep) freeReplyObject(rep);
    if (r->errors) fr_metric_inc(r->errors, op);
    return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "redis %s: unexpected answer to %s", r->where, op);
}

/* ---- open, close ---- */

static void sha1_hex(const char *s, char out[41]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < n && i < 20; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[40] = 0;
}

static int opt_ms(int v, int def, const char *name, int *out) {
    if (v < 0 || v > 600000)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "redis: %s must be 0-600000 ms (got %d)", name, v);
    *out = v ? v : def;
    return 0;
}

int fr_redis_open(const char *url, const struct fr_redis_opts *opts, struct fr_redis **out) {
    *out = NULL;
    struct fr_redis_opts o = { 0 };
    if (opts) o = *opts;
    struct fr_redis_url u;
    int rc = fr_redis_url_parse(url, &u);
    if (rc < 0) return rc;
    int pool = o.pool_size ? o.pool_size : DEFAULT_POOL;
    if (pool < 1 || pool > POOL_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "redis: pool_size must be 1-%d (got %d)", POOL_MAX, o.pool_size);
    const char *prefix = o.prefix ? o.prefix : "facerec:";
    if (strlen(prefix) >= PREFIX_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "redis: key prefix longer than %d bytes", PREFIX_MAX - 1);
    struct fr_redis *r = fr_calloc(1, sizeof *r);
    if (!r) return fr_err_set(FR_E_NOMEM, "out of memory for the Redis client");
    r->url = u;
    if ((rc = opt_ms(o.connect_timeout_ms, DEFAULT_CONNECT_MS, "connect_timeout_ms", &r->connect_ms)) < 0 ||
        (rc = opt_ms(o.command_timeout_ms, DEFAULT_COMMAND_MS, "command_timeout_ms", &r->command_ms)) < 0 ||
        (rc = opt_ms(o.backoff_ms, DEFAULT_BACKOFF_MS, "backoff_ms", &r->backoff_ms)) < 0) {
        fr_free(r);
        return rc;
    }
    if (!(r->pool = fr_calloc((size_t)pool, sizeof *r->pool))) {
        fr_free(r);
        return fr_err_set(FR_E_NOMEM, "out of memory for the Redis client");
    }
    r->n_pool = pool;
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    if (u.unix_socket) snprintf(r->where, sizeof r->where, "unix://%s?db=%d", u.path, u.db);
    else if (strchr(u.host, ':')) snprintf(r->where, sizeof r->where, "redis://[%s]:%d/%d", u.host, u.port, u.db);
    else snprintf(r->where, sizeof r->where, "redis://%s:%d/%d", u.host, u.port, u.db);
    for (int i = 0; i < S_COUNT; i++) sha1_hex(SCRIPT_SRC[i], r->sha[i]);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    atomic_init(&r->up, true);
    atomic_init(&r->live_nodes, 1);
    if ((rc = fr_metric_new("facerec_redis_errors_total",
                            "Redis calls that failed (connection, timeout or refused), by operation.",
                            FR_METRIC_COUNTER, "op", NULL, 0, &r->errors)) < 0) {
        fr_redis_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void fr_redis_close(struct fr_redis *r) {
    if (!r) return;
    for (int i = 0; i < r->n_pool; i++)
        if (r->pool[i].c) redisFree(r->pool[i].c);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    fr_free(r->pool);
    fr_free(r);
}

const char *fr_redis_where(const struct fr_redis *r) { return r->where; }

bool fr_redis_up(const struct fr_redis *r) { return atomic_load(&((struct fr_redis *)(uintptr_t)r)->up); }

int fr_redis_ping(struct fr_redis *r) {
    const char *argv[] = { "PING" };
    redisReply *rep;
    int rc = call(r, "ping", -1, 1, argv, &rep);
    if (rc < 0) return rc;
    freeReplyObject(rep);
    return 0;
}

/* "key:value\r\n" lines of INFO. */
static const char *info_field(const char *text, const char *key, size_t *len) {
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, key, kl) && p[kl] == ':') {
            const char *v = p + kl + 1;
            *len = strcspn(v, "\r\n");
            return v;
        }
    }
    *len = 0;
    return "";
}

static int64_t info_int(const char *text, const char *key) {
    size_t n;
    const char *v = info_field(text, key, &n);
    return n ? strtoll(v, NULL, 10) : 0;
}

int fr_redis_info(struct fr_redis *r, struct fr_redis_info *out) {
    memset(out, 0, sizeof *out);
    const char *argv[] = { "INFO" };
    redisReply *rep;
    int rc = call(r, "info", -1, 1, argv, &rep);
    if (rc < 0) return rc;
    if (rep->type != REDIS_REPLY_STRING) return bad_reply(r, "info", rep);
    size_t n;
    const char *v = info_field(rep->str, "redis_version", &n);
    snprintf(out->version, sizeof out->version, "%.*s", (int)n, v);
    out->used_memory = info_int(rep->str, "used_memory");
    out->connected_clients = info_int(rep->str, "connected_clients");
    out->uptime_s = info_int(rep->str, "uptime_in_seconds");
    freeReplyObject(rep);
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_pool; i++) out->pool_open += r->pool[i].c != NULL;
    pthread_mutex_unlock(&r->mu);
    out->pool_size = r->n_pool;
    return 0;
}

/* ---- shared rate limits ---- */

static int64_t ceil_div_pos(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

int fr_redis_ratelimit_check(struct fr_redis *r, int64_t client, int64_t per_hour, int64_t per_day, int64_t now_ms,
                             struct fr_redis_limit *out) {
    struct fr_redis_limit tmp;
    if (!out) out = &tmp;
    memset(out, 0, sizeof *out);
    if (per_hour < 0 || per_day < 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "rate limits must be >= 0 (got %lld/hour, %lld/day)",
                          (long long)per_hour, (long long)per_day);
    char kh[KEY_MAX], kd[KEY_MAX], now[24], lh[24], ld[24];
    snprintf(kh, sizeof kh, "%srl:%lld:h", r->prefix, (long long)client);
    snprintf(kd, sizeof kd, "%srl:%lld:d", r->prefix, (long long)client);
    snprintf(now, sizeof now, "%lld", (long long)(now_ms < 0 ? -1 : now_ms));
    snprintf(lh, sizeof lh, "%lld", (long long)per_hour);
    snprintf(ld, sizeof ld, "%lld", (long long)per_day);
    const char *argv[] = { NULL, NULL, "2", kh, kd, now, lh, ld };
    redisReply *rep;
    int rc = call(r, "ratelimit", S_RATE, 8, argv, &rep);
    if (rc < 0) return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 6) return bad_reply(r, "ratelimit", rep);
    long long v[6];
    for (int i = 0; i < 6; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER) return bad_reply(r, "ratelimit", rep);
        v[i] = rep->element[i]->integer;
    }
    freeReplyObject(rep);
    bool admitted = v[0] == 1;
    out->window = (int)v[1];
    out->limit = v[2];
    out->remaining = v[3];
    out->reset = ceil_div_pos(v[4], 1000);
    if (!admitted) {
        out->retry_after = ceil_div_pos(v[4] - v[5], 1000);
        if (out->retry_after < 1) out->retry_after = 1;
        return fr_err_set(FR_E_RATE_LIMITED, "%s limit of %lld requests reached; retry in %lld s",
                          out->window == 1 ? "hourly" : "daily", (long long)out->limit,
                          (long long)out->retry_after);
    }
    return 0;
}

int fr_redis_ratelimit_forget(struct fr_redis *r, int64_t client) {
    char kh[KEY_MAX], kd[KEY_MAX];
    snprintf(kh, sizeof kh, "%srl:%lld:h", r->prefix, (long long)client);
    snprintf(kd, sizeof kd, "%srl:%lld:d", r->prefix, (long long)client);
    const char *argv[] = { "DEL", kh, kd };
    redisReply *rep;
    int rc = call(r, "ratelimit", -1, 3, argv, &rep);
    if (rc < 0) return rc;
    freeReplyObject(rep);
    return 0;
}

int64_t fr_redis_fallback_limit(int64_t limit, int live_nodes) {
    if (limit <= 0) return 0;
    if (live_nodes < 1) live_nodes = 1;
    int64_t share = limit / live_nodes;
    return share < 1 ? 1 : share;
}

int fr_redis_live_nodes(const struct fr_redis *r) {
    int n = atomic_load(&((struct fr_redis *)(uintptr_t)r)->live_nodes);
    return n < 1 ? 1 : n;
}

/* ---- leases ---- */

static int check_name(const char *what, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > NAME_MAX_LEN) return fr_err_set(FR_E_INVALID_ARGUMENT, "redis: %s must be 1-%d bytes", what,
                                                     NAME_MAX_LEN);
    return 0;
}

static int check_ttl(int64_t ttl_ms) {
    if (ttl_ms < 1 || ttl_ms > INT_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "redis: a TTL must be 1-%d ms (got %lld)", INT_MAX,
                          (long long)ttl_ms);
    return 0;
}

static int lease_key(struct fr_redis *r, const char *key, const char *node, char out[KEY_MAX]) {
    int rc;
    if ((rc = check_name("a lease key", key)) < 0 || (node && (rc = check_name("a node id", node)) < 0)) return rc;
    snprintf(out, KEY_MAX, "%slease:%s", r->prefix, key);
    return 0;
}

int fr_redis_lease_acquire(struct fr_redis *r, const char *key, const char *node, int64_t ttl_ms) {
    char k[KEY_MAX], ttl[24];
    int rc;
    if ((rc = lease_key(r, key, node, k)) < 0 || (rc = check_ttl(ttl_ms)) < 0) return rc;
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = { "SET", k, node, "NX", "PX", ttl };
    redisReply *rep;
    if ((rc = call(r, "lease", -1, 6, argv, &rep)) < 0) return rc;
    bool got = rep->type == REDIS_REPLY_STATUS;
    bool held = rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    if (got) return 0;
    if (held) return fr_err_set(FR_E_CONFLICT, "lease %s is held by another node (or already by %s)", key, node);
    return bad_reply(r, "lease", NULL);
}

static int lease_script(struct fr_redis *r, int script, const char *key, const char *node, int64_t ttl_ms,
                        const char *verb) {
    char k[KEY_MAX], ttl[24];
    int rc;
    if ((rc = lease_key(r, key, node, k)) < 0 || (script == S_RENEW && (rc = check_ttl(ttl_ms)) < 0)) return rc;
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = { NULL, NULL, "1", k, node, ttl };
    redisReply *rep;
    if ((rc = call(r, "lease", script, script == S_RENEW ? 6 : 5, argv, &rep)) < 0) return rc;
    if (rep->type != REDIS_REPLY_INTEGER) return bad_reply(r, "lease", rep);
    long long v = rep->integer;
    freeReplyObject(rep);
    if (v == 1) return 0;
    return fr_err_set(FR_E_CONFLICT, "lease %s is not held by %s: not %s", key, node, verb);
}

int fr_redis_lease_renew(struct fr_redis *r, const char *key, const char *node, int64_t ttl_ms) {
    return lease_script(r, S_RENEW, key, node, ttl_ms, "renewed");
}

int fr_redis_lease_release(struct fr_redis *r, const char *key, const char *node) {
    return lease_script(r, S_RELEASE, key, node, 0, "released");
}

int fr_redis_lease_owner(struct fr_redis *r, const char *key, char *owner, size_t owner_len, int64_t *ttl_ms) {
    if (owner_len) owner[0] = 0;
    if (ttl_ms) *ttl_ms = 0;
    char k[KEY_MAX];
    int rc;
    if ((rc = lease_key(r, key, NULL, k)) < 0) return rc;
    const char *argv[] = { NULL, NULL, "1", k };
    redisReply *rep;
    if ((rc = call(r, "lease", S_OWNER, 4, argv, &rep)) < 0) return rc;
    if (rep->type == REDIS_REPLY_NIL) {
        freeReplyObject(rep);
        return fr_err_set(FR_E_NOT_FOUND, "lease %s is free", key);
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_INTEGER)
        return bad_reply(r, "lease", rep);
    if (owner_len) snprintf(owner, owner_len, "%s", rep->element[0]->str);
    if (ttl_ms) *ttl_ms = rep->element[1]->integer;
    freeReplyObject(rep);
    return 0;
}

/* ---- node registry ---- */

int fr_redis_node_beat(struct fr_redis *r, const struct fr_redis_node *node, int64_t ttl_ms) {
    int rc;
    if ((rc = check_name("a node id", node->id)) < 0 || (rc = check_ttl(ttl_ms)) < 0) return rc;
    char card[KEY_MAX], idx[KEY_MAX], running[24], max[24], started[24], ttl[24];
    snprintf(card, sizeof card, "%snode:%s", r->prefix, node->id);
    snprintf(idx, sizeof idx, "%snodes", r->prefix);
    snprintf(running, sizeof running, "%lld", (long long)node->running);
    snprintf(max, sizeof max, "%lld", (long long)node->max_sessions);
    snprintf(started, sizeof started, "%lld", (long long)node->started_at_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = { NULL, NULL, "2", card, idx, node->id, node->addr, running, max, started, ttl };
    redisReply *rep;
    if ((rc = call(r, "registry", S_BEAT, 11, argv, &rep)) < 0) return rc;
    if (rep->type != REDIS_REPLY_INTEGER) return bad_reply(r, "registry", rep);
    atomic_store(&r->live_nodes, (int)(rep->integer < 1 ? 1 : rep->integer > INT_MAX ? INT_MAX : rep->integer));
    freeReplyObject(rep);
    return 0;
}

int fr_redis_node_leave(struct fr_redis *r, const char *id) {
    int rc;
    if ((rc = check_name("a node id", id)) < 0) return rc;
    char card[KEY_MAX], idx[KEY_MAX];
    snprintf(card, sizeof card, "%snode:%s", r->prefix, id);
    snprintf(idx, sizeof idx, "%snodes", r->prefix);
    const char *argv[] = { NULL, NULL, "2", card, idx, id };
    redisReply *rep;
    if ((rc = call(r, "registry", S_LEAVE, 6, argv, &rep)) < 0) return rc;
    freeReplyObject(rep);
    return 0;
}

static int node_cmp(const void *a, const void *b) {
    return strcmp(((const struct fr_redis_node *)a)->id, ((const struct fr_redis_node *)b)->id);
}

static int64_t str_int(const redisReply *e) {
    return e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : e->type == REDIS_REPLY_INTEGER ? e->integer : 0;
}

int fr_redis_nodes_list(struct fr_redis *r, struct fr_redis_node **out, size_t *n) {
    *out = NULL;
    *n = 0;
    char idx[KEY_MAX], card[KEY_MAX];
    snprintf(idx, sizeof idx, "%snodes", r->prefix);
    snprintf(card, sizeof card, "%snode:", r->prefix);
    const char *argv[] = { NULL, NULL, "1", idx, card };
    redisReply *rep;
    int rc = call(r, "registry", S_LIST, 5, argv, &rep);
    if (rc < 0) return rc;
    if (rep->type != REDIS_REPLY_ARRAY) return bad_reply(r, "registry", rep);
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 6 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING)
            return bad_reply(r, "registry", rep);
    }
    struct fr_redis_node *nodes = NULL;
    if (rep->elements && !(nodes = fr_calloc(rep->elements, sizeof *nodes))) {
        freeReplyObject(rep);
        return fr_err_set(FR_E_NOMEM, "out of memory listing %zu nodes", rep->elements);
    }
    for (size_t i = 0; i < rep->elements; i++) {
        redisReply **f = rep->element[i]->element;
        snprintf(nodes[i].id, sizeof nodes[i].id, "%s", f[0]->str);
        snprintf(nodes[i].addr, sizeof nodes[i].addr, "%s", f[1]->str);
        nodes[i].running = str_int(f[2]);
        nodes[i].max_sessions = str_int(f[3]);
        nodes[i].started_at_ms = str_int(f[4]);
        nodes[i].expires_in_ms = str_int(f[5]);
    }
    *n = rep->elements;
    freeReplyObject(rep);
    if (*n) qsort(nodes, *n, sizeof *nodes, node_cmp);
    atomic_store(&r->live_nodes, *n < 1 ? 1 : *n > INT_MAX ? INT_MAX : (int)*n);
    *out = nodes;
    return 0;
}

int fr_redis_nodes_pick(const struct fr_redis_node *nodes, size_t n) {
    int best = -1;
    for (size_t i = 0; i < n && i < INT_MAX; i++) {
        int64_t room = nodes[i].max_sessions - nodes[i].running;
        if (room <= 0) continue;
        if (best >= 0) {
            const struct fr_redis_node *b = &nodes[best];
            int64_t broom = b->max_sessions - b->running;
            if (room < broom) continue;
            if (room == broom && (nodes[i].running > b->running ||
                                  (nodes[i].running == b->running && strcmp(nodes[i].id, b->id) >= 0)))
                continue;
        }
        best = (int)i;
    }
    return best;
}
