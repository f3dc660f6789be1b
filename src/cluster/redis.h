/* facerec — the Redis layer of a scale-out deployment (DESIGN.md, issue 12).
 *
 * Redis holds what every node must see at once and may lose without harm:
 * the shared rate-limit windows, the leases that pin each camera session to
 * one node, and the registry of live nodes. PostgreSQL stays the system of
 * record; nothing here is durable (the test servers run with --save '' and
 * --appendonly no, and a restarted empty Redis only costs a fresh window and
 * a round of lease re-acquisitions).
 *
 *     struct fr_redis *r;
 *     if (fr_redis_open(getenv("FACEREC_REDIS_URL"), NULL, &r) < 0)
 *         ... fr_err_detail(): "FACEREC_REDIS_URL: port must be 1-65535"
 *     struct fr_redis_limit lim;
 *     int rc = fr_redis_ratelimit_check(r, client_id, 1000, 10000, FR_REDIS_SERVER_TIME, &lim);
 *     if (rc == -FR_E_RATE_LIMITED) ... 429, Retry-After: lim.retry_after
 *     if (rc == -FR_E_SERVICE_UNAVAILABLE) ... the per-node limiter with
 *         fr_redis_fallback_limit(1000, fr_redis_live_nodes(r)) (see below)
 *     fr_redis_close(r);
 *
 * URLs (FACEREC_REDIS_URL):
 *     redis://[[user]:password@]host[:port][/db]     host: a name, IPv4, or [IPv6]; port 6379; db 0
 *     unix://[[user]:password@]/abs/path[?db=N]       also ?password=P (percent-encoding in both)
 * A bad URL is -FR_E_VALIDATION_ERROR with the structured detail
 * field = FACEREC_REDIS_URL. The password is never printed: messages name
 * the server as fr_redis_where() does ("redis://127.0.0.1:6379/0").
 *
 * Connections. fr_redis_open only parses: it does not connect, so a node
 * starts while Redis is down. A small pool (opts.pool_size, default 4) of
 * blocking hiredis connections is shared by all threads under one mutex; a
 * call takes a free connection (waiting at most the command timeout), makes
 * it on first use (connect timeout, then AUTH and SELECT), runs its command
 * with the command timeout on the socket, and gives it back. Every failure —
 * refused connection, timeout, lost connection, an error reply — is
 * -FR_E_SERVICE_UNAVAILABLE with a sentence in fr_err_detail() and counts in
 * facerec_redis_errors_total{op} (op: ping, info, ratelimit, lease, registry;
 * the fast failures during a back-off count too). A failure that is not an error reply marks
 * Redis down: every pooled connection is dropped (they were made before the
 * failure and may be dead too), and for opts.backoff_ms every call fails at
 * once without touching the network, so a down Redis costs a request
 * nothing. The first call after the back-off reconnects; the client is never
 * re-created. Going down logs one warning; coming back logs one info line.
 * Each round trip waits at most the command timeout, so a call takes at most
 * the wait for a free connection (command timeout) + connect timeout + one
 * command timeout per round trip (AUTH and SELECT on a new connection, the
 * command, and the EVAL after a NOSCRIPT); the first one that times out ends
 * the call, so a frozen server costs one command timeout.
 *
 * hiredis writes with write(2): the process must ignore SIGPIPE (facerec
 * serve does), or a write to a killed server ends it.
 *
 * Thread-safe: every function may be called from any thread at once. */
#ifndef FR_CLUSTER_REDIS_H
#define FR_CLUSTER_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fr_redis;

/* ---- the URL ---- */

#define FR_REDIS_HOST_MAX 256       /* bytes of a host name, NUL included */
#define FR_REDIS_PATH_MAX 108       /* sizeof sun_path */
#define FR_REDIS_SECRET_MAX 256     /* bytes of a user name or password, decoded, NUL included */

struct fr_redis_url {
    bool unix_socket;               /* unix://: path is set, host and port are not */
    char host[FR_REDIS_HOST_MAX];   /* without the brackets of an IPv6 literal */
    int port;                       /* 1-65535 */
    char path[FR_REDIS_PATH_MAX];   /* absolute */
    char user[FR_REDIS_SECRET_MAX]; /* "" = AUTH password alone (or no AUTH) */
    char password[FR_REDIS_SECRET_MAX];   /* "" = no AUTH */
    int db;                         /* SELECT db, 0 to 2^31 - 1 (0: no SELECT) */
};

/* 0, or -FR_E_VALIDATION_ERROR (field FACEREC_REDIS_URL) naming what is wrong. */
int fr_redis_url_parse(const char *url, struct fr_redis_url *out /* OUT */);

/* ---- the client ---- */

struct fr_redis_opts {
    int connect_timeout_ms;         /* TCP/unix connect; 0: 500 */
    int command_timeout_ms;         /* each reply (and the wait for a pooled connection); 0: 1000 */
    int backoff_ms;                 /* after a failure, calls fail at once for this long; 0: 1000 */
    int pool_size;                  /* connections at most, 1-64; 0: 4 */
    const char *prefix;             /* put before every key; NULL: "facerec:" */
};

/* Parses url (see above) and keeps opts (NULL: the defaults); connects later.
 * -FR_E_VALIDATION_ERROR (bad URL), -FR_E_INVALID_ARGUMENT (bad opts),
 * -FR_E_NOMEM. */
int fr_redis_open(const char *url, const struct fr_redis_opts *opts, struct fr_redis **out /* OUT */);
void fr_redis_close(struct fr_redis *r);     /* NULL: nothing */

/* "redis://host:port/db" or "unix:///path?db=N": the server, without secrets. */
const char *fr_redis_where(const struct fr_redis *r);

/* PING: 0 when Redis answers, else -FR_E_SERVICE_UNAVAILABLE. */
int fr_redis_ping(struct fr_redis *r);

/* False from a failure until the next success (what /health/ready and the
 * fallback decisions read without a round trip). */
bool fr_redis_up(const struct fr_redis *r);

/* What /status shows of the server (INFO server, memory, clients). */
struct fr_redis_info {
    char version[32];               /* redis_version, "7.0.15" */
    int64_t used_memory;            /* bytes */
    int64_t connected_clients;
    int64_t uptime_s;
    int pool_open;                  /* this client's connections open now */
    int pool_size;
};
int fr_redis_info(struct fr_redis *r, struct fr_redis_info *out /* OUT */);

/* ---- shared rate-limit windows ----
 *
 * The same windows as the per-node limiter (src/http/ratelimit.h): the hour
 * a ring of 60 one-minute buckets plus the current one, the day 96
 * fifteen-minute buckets plus the current one, a request admitted only when
 * both have room and then counted in both, a refused one not counted, limit
 * 0 = unlimited. One Lua script (EVALSHA, EVAL when the server answers
 * NOSCRIPT) reads, decides and counts atomically, so a client limited to N
 * gets exactly N across every node and thread. The windows live in two
 * hashes per client (bucket number → count) that expire when their newest
 * bucket leaves the ring. The answers are the per-node limiter's, field for
 * field: for the same sequence of (time, limits) both say the same. */
#define FR_REDIS_SERVER_TIME (-1)   /* now_ms: Redis's clock (TIME), one clock for every node */

struct fr_redis_limit {             /* = struct fr_ratelimit_info, field for field */
    int64_t limit;                  /* the binding window's limit; 0 when unlimited */
    int64_t remaining;              /* left in it after this request */
    int64_t reset;                  /* unix seconds when it next frees room; 0 when unlimited */
    int64_t retry_after;            /* seconds, >= 1 when refused; 0 when admitted */
    int window;                     /* 0 none, 1 hour, 2 day (enum fr_ratelimit_window) */
};

/* 0 admitted and counted; -FR_E_RATE_LIMITED refused (nothing counted);
 * -FR_E_INVALID_ARGUMENT for a negative limit; -FR_E_SERVICE_UNAVAILABLE
 * when Redis did not answer (then *out is zero, and the caller falls back to
 * its own limiter, see fr_redis_fallback_limit). now_ms: unix milliseconds,
 * or FR_REDIS_SERVER_TIME. out may be NULL. */
int fr_redis_ratelimit_check(struct fr_redis *r, int64_t client, int64_t per_hour, int64_t per_day,
                             int64_t now_ms, struct fr_redis_limit *out /* OUT */);

/* Forgets a client's shared windows (deleted, or its limits reset). */
int fr_redis_ratelimit_forget(struct fr_redis *r, int64_t client);

/* The fallback while Redis is down: each node limits a client to its share,
 * limit / live_nodes rounded down, so the nodes together admit at most the
 * limit; but at least 1 (0 would mean unlimited), so with more nodes than
 * the limit they admit up to one each. 0 stays unlimited; live_nodes < 1
 * counts as 1. */
int64_t fr_redis_fallback_limit(int64_t limit, int live_nodes);

/* The live nodes the last successful registry call saw (fr_redis_nodes_list
 * or fr_redis_node_beat), at least 1: the divisor above, still known while
 * Redis is down. */
int fr_redis_live_nodes(const struct fr_redis *r);

/* ---- leases ----
 *
 * A lease is a key holding its owner's node id with a TTL: whoever holds it
 * may run the thing it names (a camera session: "session:<client>:<slot>").
 * A lease alone is not enough to act safely: a node paused past the TTL (GC,
 * SIGSTOP, a slow disk) wakes up believing it still owns the session while
 * another node has taken it. The fencing epoch lives in the database
 * (sessions.epoch, bumped by fr_store_session_take), and every write the
 * owner makes carries the epoch it took and is refused when the row's epoch
 * has moved on. A caller combines them in this order:
 *
 *   1. fr_redis_lease_acquire(r, key, node, ttl)   -- 0, else someone else runs it
 *   2. fr_store_session_take(...)                  -- epoch E; the database now says "ours, epoch E"
 *   3. run, and every ttl/3 fr_redis_lease_renew(r, key, node, ttl):
 *        0                  -> go on (writes still carry E)
 *        -FR_E_CONFLICT     -> lost: stop at once, write nothing more
 *        -FR_E_SERVICE_UNAVAILABLE -> Redis down: keep running (nobody can take
 *                              it over either, since acquiring needs Redis), but
 *                              stop if the lease would have expired by now and
 *                              Redis is back and says it is someone else's
 *   4. done: fr_redis_lease_release(r, key, node)
 *
 * Renew and release compare the owner first (a Lua script), so a node never
 * extends or deletes a lease another node took after its own expired. ttl_ms:
 * 1 to 2^31 - 1. Keys and node ids: 1-200 bytes. */
int fr_redis_lease_acquire(struct fr_redis *r, const char *key, const char *node, int64_t ttl_ms);
/* 0 acquired; -FR_E_CONFLICT held (by another node, or already by this one:
 * renew it instead); -FR_E_SERVICE_UNAVAILABLE. */

int fr_redis_lease_renew(struct fr_redis *r, const char *key, const char *node, int64_t ttl_ms);
/* 0 extended to ttl_ms from now; -FR_E_CONFLICT not held by node (expired,
 * released or taken): nothing changed. */

int fr_redis_lease_release(struct fr_redis *r, const char *key, const char *node);
/* 0 deleted; -FR_E_CONFLICT not held by node: nothing changed. */

int fr_redis_lease_owner(struct fr_redis *r, const char *key, char *owner, size_t owner_len,
                         int64_t *ttl_ms /* OUT, may be NULL */);
/* 0 held: owner gets the node id (cut to owner_len - 1 bytes), *ttl_ms what
 * is left of it; -FR_E_NOT_FOUND free (owner ""). */

/* ---- the node registry ----
 *
 * Each node writes its card (a hash with a TTL, plus its id in a sorted set
 * scored by expiry) every ttl/3 or so; a node that stops writing drops out of
 * the list when its TTL runs out. */
#define FR_REDIS_NODE_ID_MAX 128
#define FR_REDIS_ADDR_MAX 128

struct fr_redis_node {
    char id[FR_REDIS_NODE_ID_MAX];  /* FACEREC_NODE_ID, default host:port */
    char addr[FR_REDIS_ADDR_MAX];   /* where its HTTP listens, host:port */
    int64_t running;                /* camera sessions it runs now */
    int64_t max_sessions;           /* FACEREC_MAX_SESSIONS */
    int64_t started_at_ms;          /* unix ms */
    int64_t expires_in_ms;          /* fr_redis_nodes_list: TTL left (ignored by beat) */
};

/* Writes (or refreshes) the node's card for ttl_ms (1 to 2^31 - 1). */
int fr_redis_node_beat(struct fr_redis *r, const struct fr_redis_node *node, int64_t ttl_ms);
/* Removes it at once (a clean shutdown). */
int fr_redis_node_leave(struct fr_redis *r, const char *id);
/* The live nodes, sorted by id; *out fr_free'd by the caller (NULL when none). */
int fr_redis_nodes_list(struct fr_redis *r, struct fr_redis_node **out /* OUT */, size_t *n /* OUT */);
/* Where a new session goes: the index of the node with the most free
 * capacity (max_sessions - running), ties to fewer running, then the smaller
 * id; -1 when no node has room. */
int fr_redis_nodes_pick(const struct fr_redis_node *nodes, size_t n);

#endif
