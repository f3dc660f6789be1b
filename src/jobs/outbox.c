/* The outbox dispatcher (src/jobs/outbox.h): claims due deliveries from a
 * source and POSTs them with libcurl's multi interface.
 *
 * DESIGN. One dispatcher thread drives one curl multi handle; a few resolver
 * threads check URLs (fr_outbox_check_url: getaddrinfo, every address
 * checked), because getaddrinfo blocks with no timeout of its own and must
 * not stall the transfers in flight. The dispatcher keeps a fixed table of
 * max_in_flight slots; a claimed item takes a slot and goes
 *     HELD (waiting for one of its endpoint's per_endpoint places)
 *     → RESOLVE (queued for, or on, a resolver thread)
 *     → SEND (an easy handle in the multi)
 *     → finish() and FREE,
 * or is given back unsent from HELD (its lease brings it back). A claim asks
 * for at most as many items as there are free slots, so the table is the
 * only bound; per endpoint at most per_endpoint are in RESOLVE or SEND and at
 * most per_endpoint more wait in HELD, the rest of a claim is given back at
 * once. With the source's optional claim_spread the claim itself skips the
 * endpoints that are full, so nothing has to be given back in practice.
 *
 * The loop: claim when the poll is due, after fr_outbox_wake, or at once
 * again when the last claim filled every free slot (a backlog); start the
 * HELD items that have a place; turn checked URLs into transfers; run the
 * multi; record what finished; then wait in curl_multi_poll, which wakes for
 * socket activity, curl's own timers, fr_outbox_wake and the resolvers
 * (curl_multi_wakeup from any thread). Every timeout is curl's
 * (CURLOPT_TIMEOUT_MS), so the loop has no clock of its own beyond the poll.
 *
 * The connection is pinned to the checked addresses (CURLOPT_RESOLVE, up
 * to 8, in getaddrinfo's order), so a second DNS answer cannot send it
 * elsewhere; an opensocket callback checks
 * the address again just before connect(), whatever libcurl resolved (an
 * IDN name in another form, say), so no path reaches a refused address. A
 * connection reused from the multi's cache was checked when it was opened.
 *
 * Memory: the slots, the resolver queue and the skip list are allocated at
 * start; per attempt an easy handle and two curl_slists (freed when the
 * attempt ends) and per claim one small batch record. */
#include "jobs/outbox.h"

#include "facerec/config.h"
#include "facerec/keys.h"
#include "facerec/metrics.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(FR_OUTBOX_MAX_SCHEDULE == FR_CONFIG_SCHEDULE_MAX, "one schedule syntax");

#define RESOLVERS         4        /* threads that check URLs: lookups in parallel */
#define RESPONSE_MAX      4096     /* bytes of a response body read; the transfer is cut after */
#define URL_MAX           2048
#define LEASE_MARGIN_MS   1000     /* an attempt ends this long before its lease, to be recorded */
#define ATTEMPT_MIN_MS    1000     /* nor started when the lease leaves less than this */
#define RETRY_AFTER_MAX_S 86400
#define IN_FLIGHT_MAX     4096
#define USER_AGENT        "facerec-webhooks/1"

/* ---- the URL check ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int curl_ready(void) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return fr_err_set(FR_E_SERVICE_UNAVAILABLE, "libcurl: %s",
                          curl_easy_strerror(curl_init_rc));
    return 0;
}

struct url_parts {
    char host[256];                 /* without the brackets of an IPv6 literal */
    char port[8];
    bool numeric;                   /* an address, not a name: nothing to pin */
};

/* Why an IPv4 address (host order) is not one to deliver to, or NULL. */
static const char *v4_refusal(uint32_t a) {
    static const struct {
        uint32_t net;
        int bits;
        const char *why;
    } ranges[] = {
        { 0x00000000, 8,  "unspecified" },               /* 0.0.0.0/8, "this network" */
        { 0x0A000000, 8,  "private" },                   /* RFC 1918 */
        { 0x64400000, 10, "shared (carrier-grade NAT)" }, /* 100.64/10, RFC 6598 */
        { 0x7F000000, 8,  "loopback" },
        { 0xA9FE0000, 16, "link-local" },                /* 169.254/16: cloud metadata lives here */
        { 0xAC100000, 12, "private" },
        { 0xC0000000, 24, "reserved" },                  /* 192.0.0/24, IETF protocol assignments */
        { 0xC0000200, 24, "documentation" },             /* 192.0.2/24 */
        { 0xC0A80000, 16, "private" },
        { 0xC6120000, 15, "reserved (benchmarking)" },   /* 198.18/15 */
        { 0xC6336400, 24, "documentation" },             /* 198.51.100/24 */
        { 0xCB007100, 24, "documentation" },             /* 203.0.113/24 */
        { 0xE0000000, 4,  "multicast" },
        { 0xFFFFFFFF, 32, "broadcast" },
        { 0xF0000000, 4,  "reserved" },                  /* 240/4 */
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        uint32_t mask = ranges[i].bits == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> ranges[i].bits);
        if ((a & mask) == ranges[i].net) return ranges[i].why;
    }
    return NULL;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Why an IPv6 address is not one to deliver to, or NULL. The forms that
 * carry an IPv4 address (mapped, NAT64, 6to4) answer for that address. */
static const char *v6_refusal(const unsigned char b[16]) {
    static const unsigned char zero[12] = { 0 };
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    if (memcmp(b, zero, 12) == 0) {
        uint32_t low = be32(b + 12);
        return low == 0 ? "unspecified" : low == 1 ? "loopback" : "reserved (IPv4-compatible)";
    }
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) return v4_refusal(be32(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) return v4_refusal(be32(b + 2));   /* 2002::/16, 6to4 */
    if (b[0] == 0x01 && b[1] == 0x00 && !b[2] && !b[3] && !b[4] && !b[5] && !b[6] && !b[7])
        return "reserved (discard)";                                     /* 100::/64 */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return "documentation";                                          /* 2001:db8::/32 */
    if ((b[0] & 0xfe) == 0xfc) return "private (unique local)";          /* fc00::/7 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";       /* fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "private (site-local)";   /* fec0::/10 */
    if (b[0] == 0xff) return "multicast";
    return NULL;
}

/* Why this socket address is refused (NULL: it is public); its text in
 * text[64]. */
static const char *addr_refusal(const struct sockaddr *sa, char text[64]) {
    text[0] = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, text, 64);
        return v4_refusal(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, 64);
        return v6_refusal(in6->sin6_addr.s6_addr);
    }
    snprintf(text, 64, "(family %d)", sa->sa_family);
    return "not an internet address";
}

/* The syntax rules of fr_outbox_check_url, with libcurl's URL parser (the
 * one the transfer will use, so the two cannot read the URL differently). */
static int url_parse(const char *url, const char *field, struct url_parts *u) {
    char *scheme = NULL, *host = NULL, *port = NULL, *part = NULL;
    CURLU *h = NULL;
    CURLUcode uc;
    int rc = 0;
    memset(u, 0, sizeof *u);
    if (!url || !*url)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "the URL is empty");
    if (strlen(url) > URL_MAX)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                             "the URL is longer than %d bytes", URL_MAX);
    if ((rc = curl_ready()) < 0) return rc;
    if (!(h = curl_url())) return fr_err_set(FR_E_NOMEM, "URL check: out of memory");
    if ((uc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)) != CURLUE_OK) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "not a valid URL (%s)",
                           curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                           "the URL's scheme must be http or https, not '%.16s'",
                           scheme ? scheme : "");
        goto out;
    }
    if (curl_url_get(h, CURLUPART_USER, &part, 0) == CURLUE_OK ||
        curl_url_get(h, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                           "the URL must not carry credentials (user:password@)");
        goto out;
    }
    if (curl_url_get(h, CURLUPART_ZONEID, &part, 0) == CURLUE_OK) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                           "the URL's IPv6 address must not have a zone id");
        goto out;
    }
    if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "the URL has no host");
        goto out;
    }
    size_t hl = strlen(host);
    const char *name = host;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        name = host + 1;
        hl -= 2;
    }
    if (hl >= sizeof u->host ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") < hl) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                           "the URL's host must be an ASCII name (an IDN as xn--) or an address");
        goto out;
    }
    memcpy(u->host, name, hl);
    u->host[hl] = 0;
    long p = 0;
    if (curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        p = strtol(port, NULL, 10);
    if (p < 1 || p > 65535) {
        rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                           "the URL's port must be in 1..65535");
        goto out;
    }
    snprintf(u->port, sizeof u->port, "%ld", p);
    unsigned char a[16];
    u->numeric = inet_pton(AF_INET, u->host, a) == 1 || inet_pton(AF_INET6, u->host, a) == 1;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(part);
    curl_url_cleanup(h);
    return rc;
}

#define PIN_ADDRS 8                 /* addresses a connection is pinned to, at most */
#define PIN_LEN   (PIN_ADDRS * 66)  /* "a,[b],...": each at most 46 chars + brackets + comma */

/* Resolves u's host and checks every address; addr_out: the first; pin
 * (may be NULL, PIN_LEN bytes): the first PIN_ADDRS of them as
 * CURLOPT_RESOLVE lists them ("192.0.2.1,[2001:db8::1]"), getaddrinfo's
 * order kept. */
static int url_resolve(const struct url_parts *u, int allow_private, const char *field,
                       char addr_out[64], char *pin) {
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0 || !res) {
        if (res) freeaddrinfo(res);
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field,
                             "cannot resolve host '%.200s': %s", u->host,
                             g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    }
    int rc = 0, n = 0;
    size_t pl = 0;
    if (pin) pin[0] = 0;
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        char text[64];
        const char *why = addr_refusal(ai->ai_addr, text);
        if (ai == res && addr_out) snprintf(addr_out, 64, "%s", text);
        if (pin && n++ < PIN_ADDRS)
            pl += (size_t)snprintf(pin + pl, PIN_LEN - pl,
                                   ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s", pl ? "," : "", text);
        if (why && (!allow_private || (ai->ai_family != AF_INET6 && ai->ai_family != AF_INET)))
            rc = fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "address refused: %s is %s",
                               text, why);
    }
    freeaddrinfo(res);
    return rc;
}

int fr_outbox_check_url(const char *url, int allow_private, const char *field, char addr_out[64]) {
    struct url_parts u;
    if (addr_out) addr_out[0] = 0;
    if (!field) field = "url";
    int rc = url_parse(url, field, &u);
    if (rc == 0) rc = url_resolve(&u, allow_private, field, addr_out, NULL);
    if (rc < 0 && addr_out) addr_out[0] = 0;
    return rc;
}

int fr_outbox_check_url_syntax(const char *url, const char *field) {
    struct url_parts u;
    return url_parse(url, field ? field : "url", &u);
}

int fr_outbox_parse_schedule(const char *text, struct fr_outbox_policy *policy) {
    int64_t seconds[FR_OUTBOX_MAX_SCHEDULE];
    int n = 0;
    int rc = fr_config_schedule_parse(text, "FACEREC_WEBHOOK_SCHEDULE", seconds, &n);
    if (rc < 0) return rc;
    memcpy(policy->seconds, seconds, (size_t)n * sizeof seconds[0]);
    policy->n = n;
    return 0;
}

/* ---- metrics ---- */

struct outbox_metrics {
    struct fr_metric *deliveries, *duration;
};

static int register_metrics(struct outbox_metrics *m) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct outbox_metrics once;
    static int done;
    int rc = 0;
    pthread_mutex_lock(&mu);
    if (!done &&
        (rc = fr_metric_new("facerec_webhook_deliveries_total",
                            "Webhook delivery attempts by result: delivered, retry, failed, gone.",
                            FR_METRIC_COUNTER, "result", NULL, 0, &once.deliveries)) == 0 &&
        (rc = fr_metric_new("facerec_webhook_delivery_duration_seconds",
                            "Time of one webhook delivery attempt, DNS lookup to last byte.",
                            FR_METRIC_HISTOGRAM, NULL, NULL, 0, &once.duration)) == 0)
        done = 1;
    if (done) *m = once;
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- the dispatcher ---- */

enum slot_state { SLOT_FREE, SLOT_HELD, SLOT_RESOLVE, SLOT_SEND };

struct batch {                      /* one claim's array: released when its last item is done */
    struct fr_outbox_item *items;
    size_t n, open;
};

struct fr_outbox;

struct slot {
    enum slot_state state;
    struct fr_outbox *ob;
    struct batch *batch;
    const struct fr_outbox_item *it;
    const struct fr_outbox_policy *pol;
    int64_t lease_end;              /* unix ms: the claim's now + lease_ms */
    int64_t attempted_at;           /* unix ms at the attempt's start */
    double t0;                      /* fr_time_ms at the same moment */
    int64_t timeout_ms;             /* this attempt's: the policy's, cut to the lease */
    /* written by a resolver thread, then `checked` set, all under ob->mu */
    bool checked, ready;            /* ready: checked, seen by the dispatcher */
    int check_rc;
    struct url_parts url;
    char pin[PIN_LEN];              /* the checked addresses, for CURLOPT_RESOLVE */
    char error[200];
    /* the transfer */
    CURL *easy;
    struct curl_slist *headers, *resolve;
    size_t body_seen;               /* response bytes: past RESPONSE_MAX the transfer is cut */
    char refused[160];              /* set by the opensocket callback */
};

struct fr_outbox {
    struct fr_outbox_opts o;
    struct fr_outbox_source src;
    struct outbox_metrics m;
    CURLM *multi;
    struct slot *slots;
    int n_slots;
    int64_t *skip;                  /* claim_spread's list: room for n_slots */
    uint64_t rng;                   /* jitter */
    atomic_int wake, stop;
    pthread_t thread;
    int freed;                      /* slots freed since the last claim */
    /* the resolver queue: a ring of slot indices */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int *queue;
    int q_head, q_len, n_checked;
    bool quit;
    pthread_t resolvers[RESOLVERS];
    int n_resolvers;
};

static void *resolver_main(void *arg) {
    struct fr_outbox *ob = arg;
    pthread_mutex_lock(&ob->mu);
    for (;;) {
        while (!ob->q_len && !ob->quit) pthread_cond_wait(&ob->cv, &ob->mu);
        if (!ob->q_len) break;
        struct slot *s = &ob->slots[ob->queue[ob->q_head]];
        ob->q_head = (ob->q_head + 1) % ob->n_slots;
        ob->q_len--;
        pthread_mutex_unlock(&ob->mu);
        struct url_parts u;
        char pin[PIN_LEN] = "", error[200] = "";
        int rc = url_parse(s->it->url, "url", &u);
        if (rc == 0) rc = url_resolve(&u, ob->o.allow_private, "url", NULL, pin);
        if (rc < 0) snprintf(error, sizeof error, "%s", fr_err_detail());
        pthread_mutex_lock(&ob->mu);
        s->check_rc = rc;
        s->url = u;
        memcpy(s->pin, pin, sizeof pin);
        memcpy(s->error, error, sizeof error);
        s->checked = true;
        ob->n_checked++;
        pthread_mutex_unlock(&ob->mu);
        curl_multi_wakeup(ob->multi);
        pthread_mutex_lock(&ob->mu);
    }
    pthread_mutex_unlock(&ob->mu);
    return NULL;
}

static uint64_t rng_next(uint64_t *s) {   /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int policy_valid(const struct fr_outbox_policy *p) {
    if (p->n < 1 || p->n > FR_OUTBOX_MAX_SCHEDULE || !(p->jitter >= 0 && p->jitter <= 1) ||
        p->timeout_ms < 1 || p->timeout_ms > 3600000)
        return 0;
    for (int i = 0; i < p->n; i++)
        if (p->seconds[i] < 0 || p->seconds[i] > FR_CONFIG_SCHEDULE_SECONDS_MAX ||
            (i && p->seconds[i] < p->seconds[i - 1]))
            return 0;
    return 1;
}

static const struct fr_outbox_policy *item_policy(struct fr_outbox *ob,
                                                  const struct fr_outbox_item *it) {
    if (!it->policy) return &ob->o.policy;
    if (policy_valid(it->policy)) return it->policy;
    fr_log(FR_LOG_WARN, "outbox: delivery %lld has an invalid policy; the default is used",
           (long long)it->id);
    return &ob->o.policy;
}

/* Attempts of this endpoint started (checking or sending), and waiting. */
static void endpoint_counts(const struct fr_outbox *ob, int64_t endpoint, int *active, int *held) {
    *active = *held = 0;
    for (int i = 0; i < ob->n_slots; i++) {
        const struct slot *s = &ob->slots[i];
        if (s->state == SLOT_FREE || s->it->endpoint != endpoint) continue;
        if (s->state == SLOT_HELD) ++*held;
        else ++*active;
    }
}

static void batch_done(struct fr_outbox *ob, struct batch *b) {
    if (--b->open > 0) return;
    ob->src.release(ob->src.ctx, b->items, b->n);
    fr_free(b);
}

static void slot_clear(struct fr_outbox *ob, struct slot *s) {
    if (s->easy) {
        curl_multi_remove_handle(ob->multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->resolve);
    struct batch *b = s->batch;
    memset(s, 0, sizeof *s);
    s->ob = ob;
    s->state = SLOT_FREE;
    ob->freed++;
    batch_done(ob, b);
}

/* Not attempted: no finish(), the lease brings the delivery back. */
static void give_back(struct fr_outbox *ob, struct slot *s, const char *why) {
    fr_log(FR_LOG_DEBUG, "outbox: delivery %lld not attempted (%s): claimed again after its lease",
           (long long)s->it->id, why);
    slot_clear(ob, s);
}

static const char *outcome_name(enum fr_outbox_outcome o) {
    switch (o) {
    case FR_OUTBOX_DELIVERED: return "delivered";
    case FR_OUTBOX_RETRY: return "retry";
    case FR_OUTBOX_FAILED: return "failed";
    case FR_OUTBOX_GONE: return "gone";
    }
    return "?";
}

/* The attempt is over: decide, record, log, count, free the slot. status:
 * the HTTP status or 0; error: "" when status says it all; retry_after:
 * seconds the response asked for (0: none). */
static void finish_attempt(struct fr_outbox *ob, struct slot *s, int status, const char *error,
                           int64_t retry_after) {
    const struct fr_outbox_item *it = s->it;
    const struct fr_outbox_policy *pol = s->pol;
    struct fr_outbox_result r;
    memset(&r, 0, sizeof r);
    r.id = it->id;
    r.endpoint = it->endpoint;
    r.tag = it->tag;
    r.created_at = it->created_at;
    r.status_code = status;
    r.attempts = it->attempts < 0 ? 1 : it->attempts + 1;
    r.attempted_at = s->attempted_at;
    r.duration_ms = fr_time_ms() - s->t0;
    if (!error[0] && status >= 200 && status < 300) {
        r.outcome = FR_OUTBOX_DELIVERED;
    } else {
        if (error[0]) snprintf(r.error, sizeof r.error, "%s", error);
        else if (status >= 300 && status < 400)
            snprintf(r.error, sizeof r.error, "redirect not followed (%d)", status);
        else snprintf(r.error, sizeof r.error, "HTTP %d", status);
        if (status == 410) {
            r.outcome = FR_OUTBOX_GONE;
        } else if (r.attempts >= pol->n) {
            r.outcome = FR_OUTBOX_FAILED;
        } else {
            r.outcome = FR_OUTBOX_RETRY;
            int64_t delay = pol->seconds[r.attempts] * 1000;
            /* u: uniform in [-1, 1) */
            double u = (double)(rng_next(&ob->rng) >> 11) * 0x1.0p-53 * 2 - 1;
            int64_t next = it->created_at + pol->seconds[0] * 1000 + delay +
                           (int64_t)(u * pol->jitter * (double)delay);
            int64_t now = fr_now_ms();
            if (next < now) next = now;
            if (retry_after > RETRY_AFTER_MAX_S) retry_after = RETRY_AFTER_MAX_S;
            if (retry_after > 0 && next < now + retry_after * 1000) next = now + retry_after * 1000;
            r.next_attempt_at = next;
        }
    }
    if (ob->src.finish(ob->src.ctx, &r) < 0)
        fr_log(FR_LOG_ERROR, "outbox: recording delivery %lld failed (%s): claimed again later",
               (long long)r.id, fr_err_detail());
    fr_log(r.outcome == FR_OUTBOX_DELIVERED ? FR_LOG_INFO : FR_LOG_WARN,
           "webhook attempt: event=%s delivery=%lld endpoint=%lld attempt=%d status=%d "
           "outcome=%s duration_ms=%.1f%s%s%s",
           it->event_id ? it->event_id : "", (long long)r.id, (long long)r.endpoint, r.attempts,
           r.status_code, outcome_name(r.outcome), r.duration_ms, r.error[0] ? " error=\"" : "",
           r.error, r.error[0] ? "\"" : "");
    fr_metric_inc(ob->m.deliveries, outcome_name(r.outcome));
    fr_metric_observe(ob->m.duration, r.duration_ms / 1000.0);
    slot_clear(ob, s);
}

/* A header value facerec writes itself: printable ASCII, no spaces. */
static bool token_ok(const char *s, size_t max) {
    size_t n = 0;
    for (; s && s[n]; n++)
        if (s[n] <= ' ' || s[n] > '~' || n >= max) return false;
    return s && n > 0;
}

/* HELD → RESOLVE: the attempt starts now. */
static void start(struct fr_outbox *ob, struct slot *s, int64_t now) {
    s->pol = item_policy(ob, s->it);
    int64_t timeout = s->pol->timeout_ms, left = s->lease_end - now - LEASE_MARGIN_MS;
    if (left < timeout) timeout = left;
    if (timeout < (s->pol->timeout_ms < ATTEMPT_MIN_MS ? s->pol->timeout_ms : ATTEMPT_MIN_MS)) {
        give_back(ob, s, "its lease leaves no time for an attempt");
        return;
    }
    s->timeout_ms = timeout;
    s->attempted_at = now;
    s->t0 = fr_time_ms();
    s->state = SLOT_RESOLVE;
    if (!s->it->url || !token_ok(s->it->event_id, 255) || (!s->it->body && s->it->body_len)) {
        finish_attempt(ob, s, 0, "invalid delivery: no URL or body, or a bad event id", 0);
        return;
    }
    pthread_mutex_lock(&ob->mu);
    ob->queue[(ob->q_head + ob->q_len) % ob->n_slots] = (int)(s - ob->slots);
    ob->q_len++;
    pthread_cond_signal(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
}

static void start_held(struct fr_outbox *ob) {
    int64_t now = fr_now_ms();
    for (int i = 0; i < ob->n_slots; i++) {
        struct slot *s = &ob->slots[i];
        int active, held;
        if (s->state != SLOT_HELD) continue;
        endpoint_counts(ob, s->it->endpoint, &active, &held);
        if (active < ob->o.per_endpoint) start(ob, s, now);
    }
}

static int free_slots(const struct fr_outbox *ob) {
    int n = 0;
    for (int i = 0; i < ob->n_slots; i++) n += ob->slots[i].state == SLOT_FREE;
    return n;
}

/* Claims up to the free slots. Returns 1 when more may be due as soon as a
 * slot frees: the claim returned items, or claim_spread skipped a full
 * endpoint; 0 when nothing was due, or what was over an endpoint's limit had
 * to be given back (claiming again at once would only churn the leases). */
static int claim(struct fr_outbox *ob) {
    int n_free = free_slots(ob);
    if (!n_free) return 0;
    struct fr_outbox_item *items = NULL;
    size_t n = 0, n_skip = 0;
    int64_t now = fr_now_ms();
    int rc;
    ob->freed = 0;
    if (ob->src.claim_spread) {
        for (int i = 0; i < ob->n_slots; i++) {
            const struct slot *s = &ob->slots[i];
            int active, held;
            bool known = false;
            if (s->state == SLOT_FREE) continue;
            for (size_t k = 0; k < n_skip && !known; k++) known = ob->skip[k] == s->it->endpoint;
            endpoint_counts(ob, s->it->endpoint, &active, &held);
            if (!known && active + held >= ob->o.per_endpoint) ob->skip[n_skip++] = s->it->endpoint;
        }
        rc = ob->src.claim_spread(ob->src.ctx, now, ob->o.lease_ms, n_free, ob->o.per_endpoint,
                                  ob->skip, n_skip, &items, &n);
    } else {
        rc = ob->src.claim(ob->src.ctx, now, ob->o.lease_ms, n_free, &items, &n);
    }
    if (rc < 0) {
        fr_log(FR_LOG_WARN, "outbox: claiming due deliveries failed: %s", fr_err_detail());
        return 0;
    }
    if (!n) {
        if (items) ob->src.release(ob->src.ctx, items, 0);
        return n_skip > 0;
    }
    struct batch *b = fr_calloc(1, sizeof *b);
    if (!b) {
        fr_log(FR_LOG_ERROR,
               "outbox: out of memory: %zu claimed deliveries come back after their lease", n);
        ob->src.release(ob->src.ctx, items, n);
        return 0;
    }
    b->items = items;
    b->n = b->open = n;
    int next = 0, given_back = 0;
    for (size_t i = 0; i < n; i++) {
        int active = 0, held = 0;
        while (next < ob->n_slots && ob->slots[next].state != SLOT_FREE) next++;
        if (next < ob->n_slots) endpoint_counts(ob, items[i].endpoint, &active, &held);
        if (next == ob->n_slots || active + held >= 2 * ob->o.per_endpoint) {
            fr_log(FR_LOG_DEBUG,
                   "outbox: delivery %lld not attempted (%s): claimed again after its lease",
                   (long long)items[i].id,
                   next == ob->n_slots ? "more than asked for" : "its endpoint is busy");
            given_back++;
            batch_done(ob, b);
            continue;
        }
        struct slot *s = &ob->slots[next];
        s->state = SLOT_HELD;
        s->batch = b;
        s->it = &items[i];
        s->lease_end = now + ob->o.lease_ms;
    }
    return !given_back;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
    struct slot *s = arg;
    (void)data;
    s->body_seen += size * nmemb;
    return s->body_seen <= RESPONSE_MAX ? size * nmemb : 0;   /* 0: cut (the status is known) */
}

/* The last check before connect(): whatever address libcurl is about to use
 * must pass the same rules as the checked one. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a) {
    struct slot *s = arg;
    char text[64];
    (void)purpose;
    const char *why = addr_refusal(&a->addr, text);
    if (why && (!s->ob->o.allow_private || (a->family != AF_INET && a->family != AF_INET6))) {
        snprintf(s->refused, sizeof s->refused, "address refused: %s is %s", text, why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* RESOLVE (checked, fine) → SEND; -1 with error set when it cannot start. */
static int send_attempt(struct fr_outbox *ob, struct slot *s, int64_t timeout, char *error,
                        size_t len) {
    const struct fr_outbox_item *it = s->it;
    char line[320], sig[FR_WEBHOOK_SIGNATURE_MAX(2)];
    int64_t ts = fr_now_ms() / 1000;
    if (it->secrets[0]) {
        const char *const secrets[2] = { it->secrets[0], it->secrets[1] };
        if (fr_webhook_sign(secrets, secrets[1] ? 2 : 1, it->event_id, ts, it->body, it->body_len,
                            sig, sizeof sig) < 0) {
            snprintf(error, len, "cannot sign: %s", fr_err_detail());
            return -1;
        }
    }
    struct curl_slist *h = NULL;
    bool ok = (h = curl_slist_append(h, "Content-Type: application/json")) &&
              (h = curl_slist_append(h, "Expect:"));
    snprintf(line, sizeof line, "webhook-id: %s", it->event_id);
    ok = ok && (h = curl_slist_append(h, line));
    snprintf(line, sizeof line, "webhook-timestamp: %lld", (long long)ts);
    ok = ok && (h = curl_slist_append(h, line));
    if (ok && it->secrets[0]) {
        snprintf(line, sizeof line, "webhook-signature: %s", sig);
        ok = (h = curl_slist_append(h, line)) != NULL;
    }
    s->headers = h;
    if (ok && !s->url.numeric) {   /* pin: HOST:PORT:ADDRESS[,ADDRESS...] */
        char entry[sizeof s->url.host + sizeof s->url.port + PIN_LEN + 2];
        snprintf(entry, sizeof entry, "%s:%s:%s", s->url.host, s->url.port, s->pin);
        ok = (s->resolve = curl_slist_append(NULL, entry)) != NULL;
    }
    CURL *e = ok ? curl_easy_init() : NULL;
    if (!e) {
        snprintf(error, len, "out of memory for the transfer");
        return -1;
    }
    s->easy = e;
    CURLcode c = CURLE_OK;
#define SET(opt, val) \
    if (c == CURLE_OK) c = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_PRIVATE, (void *)s);
    SET(CURLOPT_URL, it->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->body_len);
    SET(CURLOPT_POSTFIELDS, it->body_len ? it->body : "");
    SET(CURLOPT_HTTPHEADER, s->headers);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)s);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, (void *)s);
    if (s->resolve) SET(CURLOPT_RESOLVE, s->resolve);
#undef SET
    if (c != CURLE_OK) {
        snprintf(error, len, "cannot set up the transfer: %s", curl_easy_strerror(c));
        return -1;
    }
    CURLMcode mc = curl_multi_add_handle(ob->multi, e);
    if (mc != CURLM_OK) {
        curl_easy_cleanup(e);
        s->easy = NULL;
        snprintf(error, len, "cannot start the transfer: %s", curl_multi_strerror(mc));
        return -1;
    }
    s->state = SLOT_SEND;
    return 0;
}

/* RESOLVE → SEND, or finished with the check's error, for every checked slot. */
static void take_checked(struct fr_outbox *ob, bool stopping) {
    pthread_mutex_lock(&ob->mu);
    int any = ob->n_checked;
    ob->n_checked = 0;
    for (int i = 0; any && i < ob->n_slots; i++) {
        struct slot *s = &ob->slots[i];
        if (s->state == SLOT_RESOLVE && s->checked) {
            s->checked = false;
            s->ready = true;
        }
    }
    pthread_mutex_unlock(&ob->mu);
    for (int i = 0; any && i < ob->n_slots; i++) {
        struct slot *s = &ob->slots[i];
        char error[200];
        if (s->state != SLOT_RESOLVE || !s->ready) continue;
        s->ready = false;
        int64_t left = s->timeout_ms - (int64_t)(fr_time_ms() - s->t0);
        if (stopping) {
            give_back(ob, s, "stopping");
        } else if (s->check_rc < 0) {
            finish_attempt(ob, s, 0, s->error, 0);
        } else if (left < 1) {
            snprintf(error, sizeof error, "timeout after %lld ms (looking up the host)",
                     (long long)s->timeout_ms);
            finish_attempt(ob, s, 0, error, 0);
        } else if (send_attempt(ob, s, left, error, sizeof error) < 0) {
            finish_attempt(ob, s, 0, error, 0);
        }
    }
}

/* What went wrong with a transfer that got no HTTP status, in words that
 * never carry the URL (its query may hold a token). */
static void transfer_error(const struct slot *s, CURLcode res, char *out, size_t len) {
    long os = 0;
    char buf[128];
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(out, len, "timeout after %lld ms", (long long)s->timeout_ms);
        break;
    case CURLE_COULDNT_CONNECT:
        if (s->refused[0]) {
            snprintf(out, len, "%s", s->refused);
            break;
        }
        curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &os);
        if (os == ECONNREFUSED) snprintf(out, len, "connection refused");
        else if (os)
            snprintf(out, len, "connection failed: %s", strerror_r((int)os, buf, sizeof buf));
        else snprintf(out, len, "connection failed");
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE: snprintf(out, len, "TLS: %s", curl_easy_strerror(res)); break;
    default: snprintf(out, len, "%s", curl_easy_strerror(res)); break;
    }
}

/* SEND → finished, for every transfer curl reports done. */
static void take_done(struct fr_outbox *ob) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(ob->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result;   /* msg is gone once the handle is removed */
        char *priv = NULL;
        long code = 0;
        curl_off_t retry_after = 0;
        char error[200] = "";
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct slot *s = (struct slot *)(void *)priv;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK || retry_after < 0)
            retry_after = 0;
        /* A status decides, even if the rest of the response was cut or
         * late: the receiver has answered. Without one, the error does. */
        if (code < 100 || code > 999) {
            code = 0;
            transfer_error(s, res == CURLE_OK ? CURLE_GOT_NOTHING : res, error, sizeof error);
        }
        finish_attempt(ob, s, (int)code, error, (int64_t)retry_after);
    }
}

static void *dispatcher_main(void *arg) {
    struct fr_outbox *ob = arg;
    double next_poll = 0, stop_at = 0;
    bool more = false, stopping = false;
    /* with a backlog, claim again (before the poll) once this many slots are free */
    const int refill = (ob->n_slots + 3) / 4;
    for (;;) {
        double now = fr_time_ms();
        /* stopping: claim no more, give back what has not started */
        if (!stopping && atomic_load(&ob->stop)) {
            stopping = true;
            int64_t longest = 0;
            pthread_mutex_lock(&ob->mu);
            for (; ob->q_len; ob->q_len--, ob->q_head = (ob->q_head + 1) % ob->n_slots)
                ob->slots[ob->queue[ob->q_head]].state = SLOT_HELD;
            pthread_mutex_unlock(&ob->mu);
            for (int i = 0; i < ob->n_slots; i++) {
                struct slot *s = &ob->slots[i];
                if (s->state == SLOT_HELD) give_back(ob, s, "stopping");
                else if (s->state != SLOT_FREE && s->timeout_ms > longest) longest = s->timeout_ms;
            }
            stop_at = now + (double)longest + LEASE_MARGIN_MS;
        }
        if (!stopping) {
            int n_free = free_slots(ob);
            bool backlog = more && ob->freed && n_free >= refill;
            if (n_free && (atomic_exchange(&ob->wake, 0) || now >= next_poll || backlog)) {
                more = claim(ob);
                next_poll = now + (double)ob->o.poll_ms;
            }
            start_held(ob);
        }
        take_checked(ob, stopping);
        int running = 0;
        curl_multi_perform(ob->multi, &running);
        take_done(ob);
        if (stopping) {
            bool busy = false, sending = false;
            for (int i = 0; i < ob->n_slots; i++) {
                busy |= ob->slots[i].state != SLOT_FREE;
                sending |= ob->slots[i].state == SLOT_SEND;
            }
            /* curl's own timeouts should have ended them before */
            if (sending && fr_time_ms() >= stop_at) {
                for (int i = 0; i < ob->n_slots; i++)
                    if (ob->slots[i].state == SLOT_SEND)
                        give_back(ob, &ob->slots[i], "stopped mid-send");
                continue;
            }
            if (!busy) break;
        }
        /* Sleep until the poll is due; not at all when a backlog can be
         * claimed into freed slots; while every slot is busy, until a
         * transfer or a lookup ends (curl_multi_poll wakes for both). */
        int n_free = free_slots(ob);
        double wait = next_poll - fr_time_ms();
        if (stopping) wait = 100;
        else if (!n_free) wait = 1000;
        else if (more && ob->freed && n_free >= refill) wait = 0;
        int ms = wait < 0 ? 0 : wait > 1000 ? 1000 : (int)wait;
        curl_multi_poll(ob->multi, NULL, 0, ms, NULL);
    }
    return NULL;
}

static void outbox_free(struct fr_outbox *ob) {
    pthread_mutex_lock(&ob->mu);
    ob->quit = true;
    pthread_cond_broadcast(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
    for (int i = 0; i < ob->n_resolvers; i++) pthread_join(ob->resolvers[i], NULL);
    /* after the dispatcher's end, or a failed start: nothing is claimed */
    for (int i = 0; ob->slots && i < ob->n_slots; i++)
        FR_ASSERT(ob->slots[i].state == SLOT_FREE);
    if (ob->multi) curl_multi_cleanup(ob->multi);
    pthread_cond_destroy(&ob->cv);
    pthread_mutex_destroy(&ob->mu);
    fr_free(ob->slots);
    fr_free(ob->queue);
    fr_free(ob->skip);
    fr_free(ob);
}

int fr_outbox_start(const struct fr_outbox_opts *o, const struct fr_outbox_source *src,
                    struct fr_outbox **out) {
    int rc;
    *out = NULL;
    if (!o || !src || !src->claim || !src->release || !src->finish)
        return fr_err_set(FR_E_INVALID_ARGUMENT,
                          "outbox: a source needs claim, release and finish");
    if (!policy_valid(&o->policy))
        return fr_err_set(FR_E_INVALID_ARGUMENT,
                          "outbox: the policy needs 1..%d non-decreasing delays, jitter in [0, 1] "
                          "and a timeout in [1, 3600000] ms",
                          FR_OUTBOX_MAX_SCHEDULE);
    struct fr_outbox_opts opts = *o;
    if (!opts.max_in_flight) opts.max_in_flight = 64;
    if (!opts.per_endpoint) opts.per_endpoint = 4;
    if (!opts.lease_ms) opts.lease_ms = opts.policy.timeout_ms + 30000;
    if (!opts.poll_ms) opts.poll_ms = 1000;
    if (opts.max_in_flight < 1 || opts.max_in_flight > IN_FLIGHT_MAX || opts.per_endpoint < 1 ||
        opts.per_endpoint > opts.max_in_flight || opts.lease_ms < 1 || opts.poll_ms < 1)
        return fr_err_set(FR_E_INVALID_ARGUMENT,
                          "outbox: max_in_flight in [1, %d], per_endpoint in [1, max_in_flight], "
                          "lease_ms and poll_ms positive",
                          IN_FLIGHT_MAX);
    if ((rc = curl_ready()) < 0) return rc;
    struct outbox_metrics m;
    if ((rc = register_metrics(&m)) < 0) return rc;
    struct fr_outbox *ob = fr_calloc(1, sizeof *ob);
    if (!ob) return fr_err_set(FR_E_NOMEM, "outbox: out of memory");
    pthread_mutex_init(&ob->mu, NULL);
    pthread_cond_init(&ob->cv, NULL);
    ob->o = opts;
    ob->src = *src;
    ob->m = m;
    ob->n_slots = opts.max_in_flight;
    ob->rng = (uint64_t)fr_now_ms() ^ (uint64_t)(uintptr_t)ob;
    ob->slots = fr_calloc((size_t)ob->n_slots, sizeof *ob->slots);
    ob->queue = fr_calloc((size_t)ob->n_slots, sizeof *ob->queue);
    ob->skip = fr_calloc((size_t)ob->n_slots, sizeof *ob->skip);
    ob->multi = curl_multi_init();
    if (!ob->slots || !ob->queue || !ob->skip || !ob->multi) {
        rc = fr_err_set(FR_E_NOMEM, "outbox: out of memory for %d slots", ob->n_slots);
        goto fail;
    }
    for (int i = 0; i < ob->n_slots; i++) ob->slots[i].ob = ob;
    curl_multi_setopt(ob->multi, CURLMOPT_MAXCONNECTS, (long)ob->n_slots);
    for (; ob->n_resolvers < RESOLVERS; ob->n_resolvers++) {
        if (pthread_create(&ob->resolvers[ob->n_resolvers], NULL, resolver_main, ob) != 0) {
            rc = fr_err_set(FR_E_INTERNAL_ERROR, "outbox: cannot start a resolver thread");
            goto fail;
        }
    }
    if (pthread_create(&ob->thread, NULL, dispatcher_main, ob) != 0) {
        rc = fr_err_set(FR_E_INTERNAL_ERROR, "outbox: cannot start the dispatcher thread");
        goto fail;
    }
    *out = ob;
    return 0;
fail:
    outbox_free(ob);
    return rc;
}

void fr_outbox_wake(struct fr_outbox *ob) {
    if (!ob) return;
    atomic_store(&ob->wake, 1);
    curl_multi_wakeup(ob->multi);
}

void fr_outbox_stop(struct fr_outbox *ob) {
    if (!ob) return;
    atomic_store(&ob->stop, 1);
    curl_multi_wakeup(ob->multi);
    pthread_join(ob->thread, NULL);
    outbox_free(ob);
}
