/* facerec — the service configuration.
 *
 * The effective configuration is built in three layers, each overriding the
 * one before: built-in defaults < an optional config file < environment
 * variables (FACEREC_*). The file has one `key = value` per line, where key is
 * the variable's name in lower case without the FACEREC_ prefix; blank lines
 * and lines starting with # are ignored, a value may be put in double quotes
 * (to keep spaces at its ends), an unknown or repeated key is an error naming
 * the line. An environment variable that is set but empty counts as unset.
 *
 *     # facerec.conf
 *     listen = 0.0.0.0:8080
 *     data_dir = /var/lib/facerec
 *     match_threshold = 0.30
 *
 *     struct fr_config cfg;
 *     if (fr_config_load(&cfg, "facerec.conf") < 0)
 *         fprintf(stderr, "%s\n", fr_err_detail());   // "facerec.conf:3: match_threshold: ..."
 *     fr_config_print(&cfg, stdout);                  // every key; the admin token as (set)/(unset)
 *
 *   key                    env                           default        accepted
 *   listen                 FACEREC_LISTEN                127.0.0.1:8000 host:port, [v6]:port; port 0-65535
 *   data_dir               FACEREC_DATA_DIR              ./data         non-empty path
 *   database_url           FACEREC_DATABASE_URL          sqlite:<data_dir> <backend>:<where>, the store
 *                                                                       (facerec/store.h); its password never shown
 *   models_dir             FACEREC_MODELS_DIR            ./models       non-empty path
 *   admin_token            FACEREC_ADMIN_TOKEN           (unset)        16-255 printable chars, no spaces
 *   metrics_token          FACEREC_METRICS_TOKEN         (unset)        the same: /metrics and the counts of /status
 *                                                                       then need Authorization: Bearer <it>
 *   max_upload_bytes       FACEREC_MAX_UPLOAD_BYTES      10485760       [1024, 1073741824]
 *   max_pixels             FACEREC_MAX_PIXELS            50000000       [1, 1000000000]
 *   threads                FACEREC_THREADS               0 (= cores)    [0, 256]
 *   match_threshold        FACEREC_MATCH_THRESHOLD       0.28           [-1, 1] (cosine similarity): verify (1:1),
 *                                                                       and the floor of identify's threshold
 *   identify_fpir          FACEREC_IDENTIFY_FPIR         0.01           [1e-6, 0.5]: identify's target false-positive
 *                                                                       identification rate (docs/ACCURACY.md)
 *   identify_margin        FACEREC_IDENTIFY_MARGIN       0.03           [0, 1]: two subjects closer than this: ambiguous
 *   quality_threshold      FACEREC_QUALITY_THRESHOLD     0.3            [0, 1]
 *   liveness_threshold     FACEREC_LIVENESS_THRESHOLD    0.5            [0, 1]
 *   require_liveness       FACEREC_REQUIRE_LIVENESS      false          true/false/1/0/yes/no/on/off
 *   store_photos           FACEREC_STORE_PHOTOS          false          (same)
 *   photo_retention_days   FACEREC_PHOTO_RETENTION_DAYS  0 (forever)    [0, 36500]: stored photos older are deleted
 *   default_rate_per_hour  FACEREC_DEFAULT_RATE_PER_HOUR 0 (unlimited)  [0, 1000000000]
 *   default_rate_per_day   FACEREC_DEFAULT_RATE_PER_DAY  0 (unlimited)  [0, 1000000000]
 *   log_level              FACEREC_LOG_LEVEL             info           debug, info, warn, error
 *   max_faces              FACEREC_MAX_FACES             10             [1, 1000]
 *   top_k                  FACEREC_TOP_K                 5              [1, 1000]
 *   max_connections_per_ip FACEREC_MAX_CONNECTIONS_PER_IP 100          [0, 1000]: 0 = no limit (of max_connections)
 *   max_connections        FACEREC_MAX_CONNECTIONS       1000           [1, 100000]: connections at once; near it idle
 *                                                                       kept-alive ones are closed first, past it 503
 *   request_timeout_ms     FACEREC_REQUEST_TIMEOUT_MS    30000          [100, 3600000]: a request's head and body must
 *                                                                       arrive within this of its first byte, or cut
 *   cors_origins           FACEREC_CORS_ORIGINS          "" (off)       "*" or scheme://host[:port],...: browsers on
 *                                                                       these origins may call the API
 *   webhook_timeout_ms     FACEREC_WEBHOOK_TIMEOUT_MS    15000          [100, 600000]: one delivery attempt, connect
 *                                                                       to last byte
 *   webhook_schedule       FACEREC_WEBHOOK_SCHEDULE      0,5,300,1800,7200,18000,36000,50400,72000,86400
 *                                                                       seconds after the first attempt, one per
 *                                                                       attempt (fr_config_schedule_parse)
 *   webhook_allow_private  FACEREC_WEBHOOK_ALLOW_PRIVATE false          true/false...: deliver to loopback and
 *                                                                       private addresses too
 *   webhook_disable_after_hours FACEREC_WEBHOOK_DISABLE_AFTER_HOURS 120 [0, 87600]: an endpoint failing this long
 *                                                                       is disabled; 0 = never
 *   webhook_retention_days FACEREC_WEBHOOK_RETENTION_DAYS 30           [0, 36500]: delivered deliveries
 *                                                                       older are deleted; 0 = kept
 */
#ifndef FACEREC_CONFIG_H
#define FACEREC_CONFIG_H

#include "facerec/base.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define FR_CONFIG_PATH_MAX 4096
#define FR_CONFIG_TOKEN_MIN 16
#define FR_CONFIG_URL_MAX (FR_CONFIG_PATH_MAX + 8)   /* "sqlite:" + a data_dir */
#define FR_CONFIG_SCHEDULE_MAX 32                     /* entries of a retry schedule */
#define FR_CONFIG_SCHEDULE_SECONDS_MAX 31536000       /* one entry: at most a year */

/* Plain data: copy it freely, nothing to free. */
struct fr_config {
    char listen[512];                       /* as given, "127.0.0.1:8000" */
    char listen_host[256];                  /* "127.0.0.1", "::1" (without brackets), "localhost" */
    int listen_port;                        /* 0: any free port */
    char data_dir[FR_CONFIG_PATH_MAX];
    char database_url[FR_CONFIG_PATH_MAX];  /* "" when unset: fr_config_database_url() */
    char models_dir[FR_CONFIG_PATH_MAX];
    char admin_token[256];                  /* "" when unset (the service then makes one) */
    char metrics_token[256];                /* "" when unset: /metrics and /status's counts are public */
    int64_t max_upload_bytes;
    int64_t max_pixels;
    int threads;                            /* 0: one per core (fr_config_threads) */
    double match_threshold;
    double identify_fpir;
    double identify_margin;
    double quality_threshold;
    double liveness_threshold;
    bool require_liveness;
    bool store_photos;
    int photo_retention_days;               /* 0: keep stored photos */
    int64_t default_rate_per_hour;          /* 0: unlimited */
    int64_t default_rate_per_day;           /* 0: unlimited */
    int log_level;                          /* enum fr_log_level */
    int max_faces;
    int top_k;
    char cors_origins[1024];                /* "" off, "*", or "https://a.example,http://localhost:3000" */
    int max_connections_per_ip;             /* 0: no limit (behind a proxy that limits them itself) */
    int max_connections;                    /* at once, all addresses */
    int request_timeout_ms;                 /* the whole request (head + body), however it trickles */
    int64_t webhook_timeout_ms;             /* one attempt */
    char webhook_schedule[512];             /* "0,5,300,...", valid (fr_config_schedule_parse) */
    bool webhook_allow_private;
    int webhook_disable_after_hours;        /* 0: never */
    int webhook_retention_days;             /* 0: kept */
    int camera_timeout_ms;                  /* a stream without packets this long is stalled */
    int camera_reconnect_attempts;          /* before a camera is dead */
    int camera_reconnect_delay_ms;          /* before each reconnect attempt */
    bool camera_allow_files;                /* file: camera URLs (tests, replays) */
    int max_sessions;                       /* running camera sessions on this node (0: none allowed) */
    int max_cameras_per_session;
    char redis_url[FR_CONFIG_PATH_MAX];     /* "" when unset: one node, its own rate-limit windows */
    char node_id[128];                      /* this node's name in leases and the registry; "" = host:port */
};

/* The built-in defaults. */
FR_API void fr_config_defaults(struct fr_config *cfg /* OUT */);

/* Defaults, then file (NULL: none), then the environment. Errors
 * (-FR_E_INVALID_ARGUMENT; for the file also -FR_E_IO when unreadable,
 * -FR_E_LIMIT_EXCEEDED over 1 MiB, -FR_E_NOMEM) leave a
 * sentence in fr_err_detail() naming the file and line or the variable, e.g.
 * "FACEREC_THREADS: expected an integer in [0, 256], got 'x'"; *cfg is then
 * not to be used. */
FR_API int fr_config_load(struct fr_config *cfg /* OUT */, const char *file_or_null);

/* Sets one key from text, as the file would (key: "threads" or
 * "FACEREC_THREADS"); for command-line overrides. -FR_E_INVALID_ARGUMENT. */
FR_API int fr_config_set(struct fr_config *cfg, const char *key, const char *value);

/* Writes every key as a `key = value` line in file syntax, with the admin
 * token shown only as "(set)" or "(unset)". -FR_E_IO when writing fails. */
FR_API int fr_config_print(const struct fr_config *cfg, FILE *f);

/* The store's URL: database_url, or "sqlite:<data_dir>" when it is unset,
 * written to buf (len >= FR_CONFIG_URL_MAX always fits). Returns buf. */
FR_API const char *fr_config_database_url(const struct fr_config *cfg, char *buf, size_t len);

/* A retry schedule, "0,5,300": decimal seconds separated by commas (blanks
 * around an entry allowed), 1..FR_CONFIG_SCHEDULE_MAX entries, each in
 * [0, FR_CONFIG_SCHEDULE_SECONDS_MAX], non-decreasing. Fills seconds[] and
 * *n_out; else -FR_E_VALIDATION_ERROR with the structured detail ("field",
 * field) and "<field>: expected ..., got '<text>'". FACEREC_WEBHOOK_SCHEDULE is
 * checked with it at load; fr_outbox_parse_schedule is it for a policy. */
FR_API int fr_config_schedule_parse(const char *text, const char *field, int64_t seconds[FR_CONFIG_SCHEDULE_MAX],
                                    int *n_out);

/* threads, with 0 resolved to the number of online cores. */
FR_API int fr_config_threads(const struct fr_config *cfg);

#endif
