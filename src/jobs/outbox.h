/* The outbox dispatcher: delivers the events of the outbox (webhooks now,
 * session callbacks next) over HTTP with libcurl's multi interface, many in
 * flight on one thread, a few at most per endpoint; signs them (Standard
 * Webhooks 1.0), refuses private addresses unless allowed, never follows a
 * redirect, and decides each attempt's outcome and the next attempt's time.
 *
 * It knows nothing of the store: whoever starts it hands it a source (the
 * service: claim due deliveries with a lease, record each outcome), so a
 * delivery whose sender died mid-send is claimed again after its lease
 * (sent twice at worst, never dropped).
 *
 *     struct fr_outbox_opts o = { .allow_private = 0 };
 *     fr_outbox_parse_schedule("0,5,300,1800", &o.policy);   // FACEREC_WEBHOOK_SCHEDULE
 *     o.policy.jitter = 0.2;
 *     o.policy.timeout_ms = 15000;                            // FACEREC_WEBHOOK_TIMEOUT_MS
 *     struct fr_outbox_source src = { my_claim, my_release, my_finish, store, NULL };
 *     struct fr_outbox *ob;
 *     if (fr_outbox_start(&o, &src, &ob) < 0) ...;
 *     ... fr_outbox_wake(ob);      // after the transaction that wrote an event commits
 *     fr_outbox_stop(ob);
 *
 * What it does with a claimed item (each one exactly one of these):
 *   - attempts it: its URL is checked on a resolver thread (fr_outbox_check_url:
 *     getaddrinfo, every address checked), the connection pinned to the checked
 *     addresses (CURLOPT_RESOLVE), then the POST runs on the dispatcher's one
 *     curl multi handle; the outcome goes to finish().
 *   - gives it back unsent: not finish()ed, so its lease brings it back (claimed
 *     again lease_ms after its claim). This happens to items beyond what an
 *     endpoint may take (per_endpoint in flight plus per_endpoint waiting for a
 *     slot), to items whose lease no longer leaves time for an attempt, and to
 *     those not yet sent when fr_outbox_stop is called.
 * The array of each claim is released once all its items are done either way.
 *
 * Outcomes: 2xx DELIVERED; 410 GONE; anything else a failure: every other
 * status (3xx: "redirect not followed (302)"; 4xx too, as the sender cannot
 * tell a receiver's bug being fixed from a permanent refusal, and a 429 or 408
 * asks for it outright), a timeout, a connection or TLS error, an address
 * refused (the host may move to a public address: checked again each time)
 * or an unresolvable host. A failure is RETRY at
 *     created_at + seconds[0]*1000 + seconds[attempts]*1000 ± jitter·seconds[attempts]*1000
 * (attempts counting this one; uniform jitter), never earlier than now nor
 * than now + Retry-After (seconds or an HTTP date, capped at 24 h); after the
 * policy's n-th attempt it is FAILED. Each attempt logs one line (fr_log:
 * event, delivery, endpoint, attempt, status, outcome, duration, error; never
 * a secret, the body or the URL) and counts in facerec_webhook_deliveries_total
 * {result} and facerec_webhook_delivery_duration_seconds.
 *
 * DNS: getaddrinfo has no timeout of its own (resolv.conf's timeout and
 * attempts bound it), so it runs on a few resolver threads, never on the
 * thread that drives the transfers; the attempt's timeout counts from the
 * start of the lookup, and fr_outbox_stop waits for a lookup in progress. */
#ifndef FR_JOBS_OUTBOX_H
#define FR_JOBS_OUTBOX_H

#include "facerec/base.h"

#include <stddef.h>
#include <stdint.h>

#define FR_OUTBOX_MAX_SCHEDULE 32

/* When to try again: seconds after the FIRST attempt, one per attempt
 * (schedule[0] is the first attempt's delay after the event, usually 0);
 * each delay gets ± jitter (a fraction: 0.2 = ±20 %). fr_outbox_start
 * refuses (-FR_E_INVALID_ARGUMENT) a policy outside: n in [1, 32], seconds as
 * fr_outbox_parse_schedule allows, jitter in [0, 1], timeout_ms in
 * [1, 3600000]; an item's own invalid policy is logged and the default used. */
struct fr_outbox_policy {
    int n;                          /* attempts at most */
    int64_t seconds[FR_OUTBOX_MAX_SCHEDULE];
    double jitter;
    int64_t timeout_ms;             /* one attempt, DNS lookup and connect to last byte; cut to
                                       what its lease leaves (lease end - 1 s) when that is shorter */
};

/* One due delivery, claimed for the lease; the strings are the source's
 * until it is finished. */
struct fr_outbox_item {
    int64_t id;                     /* the delivery */
    int64_t endpoint;               /* the webhook: at most per_endpoint in flight for one endpoint */
    const char *url;
    const char *event_id;           /* webhook-id: the same on every attempt */
    const char *body;               /* the event's JSON, sent as is */
    size_t body_len;
    const char *secrets[2];         /* "whsec_..." keys to sign with: one, or two during a rotation
                                       (secrets[1] NULL when not); secrets[0] NULL: unsigned */
    int attempts;                   /* attempts made before this one */
    int64_t created_at;             /* unix ms of the event: the schedule counts from the first attempt,
                                       which is at created_at + seconds[0] */
    const struct fr_outbox_policy *policy;   /* NULL: the dispatcher's default (webhooks) */
    int64_t tag;                    /* the source's own, returned in the result (a session's id) */
};

enum fr_outbox_outcome {
    FR_OUTBOX_DELIVERED,            /* 2xx */
    FR_OUTBOX_RETRY,                /* a failure with attempts left: next_attempt_at says when */
    FR_OUTBOX_FAILED,               /* a failure after the last attempt: kept, retryable by hand */
    FR_OUTBOX_GONE                  /* 410 Gone: the endpoint asks to be disabled */
};

struct fr_outbox_result {
    int64_t id;
    int64_t endpoint;
    enum fr_outbox_outcome outcome;
    int status_code;                /* the HTTP status; 0 when none came (timeout, refused, ...) */
    char error[200];                /* "" on success; else what went wrong, no secrets: "HTTP 500",
                                       "timeout after 15000 ms", "connection refused",
                                       "redirect not followed (302)", "address refused: 10.0.0.7 is private" */
    int attempts;                   /* including this one */
    int64_t attempted_at;           /* unix ms */
    int64_t next_attempt_at;        /* FR_OUTBOX_RETRY: unix ms (Retry-After honoured when later) */
    double duration_ms;
    int64_t tag;                    /* the item's */
    int64_t created_at;             /* the item's (the event's time) */
};

struct fr_outbox_source {
    /* Up to max due deliveries (pending, next attempt <= now, no live lease),
     * each leased until now + lease_ms. *items is the source's until release. */
    int (*claim)(void *ctx, int64_t now_ms, int64_t lease_ms, int max, struct fr_outbox_item **items, size_t *n);
    /* Called once for every claim that returned 0 with n > 0 or a non-NULL
     * *items, after the last of its items was finished or given back (see
     * above): frees the array; it does not end the leases of those given back. */
    void (*release)(void *ctx, struct fr_outbox_item *items, size_t n);
    /* The outcome of one attempt (the lease ends). A failure here is logged;
     * the delivery is then claimed again after its lease. */
    int (*finish)(void *ctx, const struct fr_outbox_result *r);
    void *ctx;
    /* Optional (NULL: claim is used). claim, and also: at most per_endpoint
     * deliveries of any one endpoint, and none of the n_skip endpoints in
     * skip[] (those that already have all they may take). With it one busy
     * endpoint's backlog cannot fill the claims and hold the others back (in
     * SQL: ROW_NUMBER() OVER (PARTITION BY endpoint ...) <= per_endpoint AND
     * endpoint NOT IN skip); without it, what is over the limit is given back
     * unsent and comes back after its lease. */
    int (*claim_spread)(void *ctx, int64_t now_ms, int64_t lease_ms, int max, int per_endpoint, const int64_t *skip,
                        size_t n_skip, struct fr_outbox_item **items, size_t *n);
};

struct fr_outbox_opts {
    struct fr_outbox_policy policy; /* webhooks' (FACEREC_WEBHOOK_SCHEDULE, FACEREC_WEBHOOK_TIMEOUT_MS) */
    int allow_private;              /* FACEREC_WEBHOOK_ALLOW_PRIVATE */
    int max_in_flight;              /* all endpoints: claimed and not yet done, waiting ones included
                                       (0: 64; at most 4096) */
    int per_endpoint;               /* one endpoint: attempts at once (0: 4; at most max_in_flight) */
    int64_t lease_ms;               /* 0: the policy's timeout + 30 s */
    int64_t poll_ms;                /* claim at least this often (0: 1000); fr_outbox_wake sooner */
};

struct fr_outbox;

/* Starts the dispatcher thread and its resolver threads; the source (copied)
 * and its ctx must outlive fr_outbox_stop. -FR_E_INVALID_ARGUMENT for bad
 * options or a source without claim, release or finish. */
FR_API int fr_outbox_start(const struct fr_outbox_opts *o, const struct fr_outbox_source *src, struct fr_outbox **out);
/* Something is due now (an event was written): claim without waiting for the
 * poll. Any thread; not concurrently with fr_outbox_stop. NULL: nothing. */
FR_API void fr_outbox_wake(struct fr_outbox *ob);
/* Stops claiming, lets the attempts in flight finish (their outcomes are
 * recorded) or abandons them after the timeout (their leases bring them
 * back), and frees. Items waiting for a slot or for a resolver thread are
 * given back unsent; a lookup in progress is waited for. NULL: nothing. */
FR_API void fr_outbox_stop(struct fr_outbox *ob);

/* "0,5,300" → policy->seconds and policy->n (non-negative, non-decreasing,
 * 1..FR_OUTBOX_MAX_SCHEDULE entries of at most a year each: the rules of
 * fr_config_schedule_parse); VALIDATION_ERROR with field
 * "FACEREC_WEBHOOK_SCHEDULE" otherwise, *policy then unchanged. */
FR_API int fr_outbox_parse_schedule(const char *text, struct fr_outbox_policy *policy);

/* Is this URL one facerec may deliver to? http or https, a host (ASCII: an
 * IDN in its punycode form; an IPv6 literal without a zone), no credentials
 * (user:pass@), a port in 1..65535, at most 2048 bytes (parsed by libcurl's URL
 * parser, the one the transfer uses); its host resolves, and unless
 * allow_private no address is loopback, private (RFC 1918, fc00::/7),
 * link-local (169.254/16, fe80::/10), multicast, unspecified or otherwise
 * not globally routable (100.64/10 CGNAT, broadcast, the documentation and
 * benchmarking ranges, 240/4, IPv4-mapped, NAT64 and 6to4 forms of those).
 * VALIDATION_ERROR with field (fr_err_set_at) `field` and a message saying
 * which rule ("address refused: 10.0.0.7 is private", "cannot resolve host
 * 'x': ..."). addr_out (may be NULL, 64 bytes): the first address that was
 * checked (getaddrinfo's order), for pinning the connection to it. Blocks
 * for as long as the lookup takes. */
FR_API int fr_outbox_check_url(const char *url, int allow_private, const char *field, char addr_out[64]);
/* The same rules without resolving the host (no DNS): scheme, credentials,
 * host, port, length. */
FR_API int fr_outbox_check_url_syntax(const char *url, const char *field);

#endif
