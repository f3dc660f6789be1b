/* The outbox dispatcher: delivers the events of the outbox (webhooks now,
 * session callbacks next) over HTTP with libcurl's multi interface, many in
 * flight on one thread, a few at most per endpoint; signs them (Standard
 * Webhooks 1.0), refuses private addresses unless allowed, never follows a
 * redirect, and decides each attempt's outcome and the next attempt's time.
 *
 * It knows nothing of the store: whoever starts it hands it a source (the
 * service: claim due deliveries with a lease, record each outcome), so a
 * delivery whose sender died mid-send is claimed again after its lease
 * (sent twice at worst, never dropped). */
#ifndef FR_JOBS_OUTBOX_H
#define FR_JOBS_OUTBOX_H

#include "facerec/base.h"

#include <stddef.h>
#include <stdint.h>

#define FR_OUTBOX_MAX_SCHEDULE 32

/* When to try again: seconds after the FIRST attempt, one per attempt
 * (schedule[0] is the first attempt's delay after the event, usually 0);
 * each delay gets ± jitter (a fraction: 0.2 = ±20 %). */
struct fr_outbox_policy {
    int n;
    int64_t seconds[FR_OUTBOX_MAX_SCHEDULE];
    double jitter;
    int64_t timeout_ms;             /* one attempt, connect to last byte */
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
};

struct fr_outbox_source {
    /* Up to max due deliveries (pending, next attempt <= now, no live lease),
     * each leased until now + lease_ms. *items is the source's until release. */
    int (*claim)(void *ctx, int64_t now_ms, int64_t lease_ms, int max, struct fr_outbox_item **items, size_t *n);
    void (*release)(void *ctx, struct fr_outbox_item *items, size_t n);
    /* The outcome of one attempt (the lease ends). A failure here is logged;
     * the delivery is then claimed again after its lease. */
    int (*finish)(void *ctx, const struct fr_outbox_result *r);
    void *ctx;
};

struct fr_outbox_opts {
    struct fr_outbox_policy policy; /* webhooks' (FACEREC_WEBHOOK_SCHEDULE, FACEREC_WEBHOOK_TIMEOUT_MS) */
    int allow_private;              /* FACEREC_WEBHOOK_ALLOW_PRIVATE */
    int max_in_flight;              /* all endpoints (0: 64) */
    int per_endpoint;               /* one endpoint (0: 4) */
    int64_t lease_ms;               /* 0: the policy's timeout + 30 s */
    int64_t poll_ms;                /* claim at least this often (0: 1000); fr_outbox_wake sooner */
};

struct fr_outbox;

FR_API int fr_outbox_start(const struct fr_outbox_opts *o, const struct fr_outbox_source *src, struct fr_outbox **out);
/* Something is due now (an event was written): claim without waiting for the poll. */
FR_API void fr_outbox_wake(struct fr_outbox *ob);
/* Stops claiming, lets the attempts in flight finish (their outcomes are
 * recorded) or abandons them after the timeout (their leases bring them
 * back), and frees. NULL: nothing. */
FR_API void fr_outbox_stop(struct fr_outbox *ob);

/* "0,5,300" → policy->seconds (non-negative, non-decreasing, 1..FR_OUTBOX_MAX_SCHEDULE
 * entries); VALIDATION_ERROR with field "FACEREC_WEBHOOK_SCHEDULE" otherwise. */
FR_API int fr_outbox_parse_schedule(const char *text, struct fr_outbox_policy *policy);

/* Is this URL one facerec may deliver to? http or https, a host, no
 * credentials (user:pass@), a port in range; its host resolves, and unless
 * allow_private no address is loopback, private (RFC 1918, fc00::/7),
 * link-local (169.254/16, fe80::/10), multicast, unspecified or otherwise
 * not globally routable. VALIDATION_ERROR with field (fr_err_set_at) `field`
 * and a message saying which rule. addr_out (may be NULL, 64 bytes): the
 * address that was checked, for pinning the connection to it. */
FR_API int fr_outbox_check_url(const char *url, int allow_private, const char *field, char addr_out[64]);

#endif
