/* The service configuration: defaults < config file < environment (see
 * facerec/config.h for the keys and the file syntax).
 *
 * One table describes every key (file name, kind, field, range, default);
 * defaults, the file, the environment and fr_config_set all go through the
 * same parser, so a default can never be a value the parser would refuse and
 * every error message has the same shape: "<where>: expected <what>, got
 * '<value>'", where <where> is the variable ("FACEREC_THREADS") or the file,
 * line and key ("facerec.conf:3: threads"). The admin token is a secret: its
 * value never appears in a message or in the printed configuration. */
#include "facerec/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ENV_PREFIX "FACEREC_"
#define FILE_MAX_BYTES (1 << 20)
#define QUOTE_MAX 64                /* bytes of a bad value quoted back in a message */

enum kind {
    K_LISTEN,                       /* host:port → listen, listen_host, listen_port */
    K_PATH,                         /* non-empty string */
    K_NAME,                         /* "" or up to size - 1 printable characters without spaces */
    K_SECRET,                       /* token: printable, no spaces, length-checked, never echoed */
    K_I64,
    K_INT,
    K_F64,
    K_BOOL,
    K_LEVEL,                        /* log level name → enum fr_log_level */
    K_ORIGINS,                      /* "" (off), "*", or comma-separated scheme://host[:port] origins */
    K_URL,                          /* "" (unset) or <scheme>:<rest>; its password is never shown */
    K_SCHEDULE                      /* retry schedule "0,5,300" (fr_config_schedule_parse), kept as text */
};

struct key {
    const char *name;               /* file key; the variable is FACEREC_ + upper case */
    enum kind kind;
    size_t off, size;               /* the field in struct fr_config */
    double min, max;                /* numbers: inclusive range */
    const char *def;                /* default, as text; NULL: unset */
};

#define FIELD(f) offsetof(struct fr_config, f), sizeof(((struct fr_config *)0)->f)
static const struct key keys[] = {
    { "listen",                K_LISTEN, FIELD(listen),                0, 0,     "127.0.0.1:8000" },
    { "data_dir",              K_PATH,   FIELD(data_dir),              0, 0,     "./data" },
    { "database_url",          K_URL,    FIELD(database_url),          0, 0,     "" },
    { "models_dir",            K_PATH,   FIELD(models_dir),            0, 0,     "./models" },
    { "admin_token",           K_SECRET, FIELD(admin_token),           0, 0,     NULL },
    { "metrics_token",         K_SECRET, FIELD(metrics_token),         0, 0,     NULL },
    { "max_upload_bytes",      K_I64,    FIELD(max_upload_bytes),      1024, 1073741824, "10485760" },
    { "max_pixels",            K_I64,    FIELD(max_pixels),            1, 1e9,   "50000000" },
    { "threads",               K_INT,    FIELD(threads),               0, 256,   "0" },
    { "match_threshold",       K_F64,    FIELD(match_threshold),       -1, 1,    "0.28" },
    { "identify_fpir",         K_F64,    FIELD(identify_fpir),         1e-6, 0.5, "0.01" },
    { "identify_margin",       K_F64,    FIELD(identify_margin),       0, 1,     "0.03" },
    { "quality_threshold",     K_F64,    FIELD(quality_threshold),     0, 1,     "0.3" },
    { "liveness_threshold",    K_F64,    FIELD(liveness_threshold),    0, 1,     "0.5" },
    { "require_liveness",      K_BOOL,   FIELD(require_liveness),      0, 0,     "false" },
    { "store_photos",          K_BOOL,   FIELD(store_photos),          0, 0,     "false" },
    { "photo_retention_days",  K_INT,    FIELD(photo_retention_days),  0, 36500, "0" },
    { "default_rate_per_hour", K_I64,    FIELD(default_rate_per_hour), 0, 1e9,   "0" },
    { "default_rate_per_day",  K_I64,    FIELD(default_rate_per_day),  0, 1e9,   "0" },
    { "log_level",             K_LEVEL,  FIELD(log_level),             0, 0,     "info" },
    { "max_faces",             K_INT,    FIELD(max_faces),             1, 1000,  "10" },
    { "top_k",                 K_INT,    FIELD(top_k),                 1, 1000,  "5" },
    { "cors_origins",          K_ORIGINS, FIELD(cors_origins),         0, 0,     "" },
    { "max_connections_per_ip", K_INT,   FIELD(max_connections_per_ip), 0, 1000, "100" },
    { "max_connections",       K_INT,    FIELD(max_connections),       1, 100000, "1000" },
    { "request_timeout_ms",    K_INT,    FIELD(request_timeout_ms),    100, 3600000, "30000" },
    { "webhook_timeout_ms",    K_I64,    FIELD(webhook_timeout_ms),    100, 600000, "15000" },
    { "webhook_schedule",      K_SCHEDULE, FIELD(webhook_schedule),    0, 0,
      "0,5,300,1800,7200,18000,36000,50400,72000,86400" },
    { "webhook_allow_private", K_BOOL,   FIELD(webhook_allow_private), 0, 0,     "false" },
    { "webhook_disable_after_hours", K_INT, FIELD(webhook_disable_after_hours), 0, 87600, "120" },
    { "webhook_retention_days", K_INT,   FIELD(webhook_retention_days), 0, 36500, "30" },
    { "camera_timeout_ms",     K_INT,    FIELD(camera_timeout_ms),     200, 600000, "5000" },
    { "camera_reconnect_attempts", K_INT, FIELD(camera_reconnect_attempts), 0, 1000, "3" },
    { "camera_reconnect_delay_ms", K_INT, FIELD(camera_reconnect_delay_ms), 0, 600000, "2000" },
    { "camera_allow_files",    K_BOOL,   FIELD(camera_allow_files),    0, 0,     "false" },
    { "max_sessions",          K_INT,    FIELD(max_sessions),          0, 10000, "32" },
    { "max_cameras_per_session", K_INT,  FIELD(max_cameras_per_session), 1, 64,  "16" },
    { "redis_url",             K_URL,    FIELD(redis_url),             0, 0,     "" },
    { "node_id",               K_NAME,   FIELD(node_id),               0, 0,     "" },
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* ---- values ---- */

static void env_name(const struct key *k, char out[64]) {
    size_t n = strlen(ENV_PREFIX);
    memcpy(out, ENV_PREFIX, n);
    for (const char *p = k->name; *p && n < 63; p++) out[n++] = (char)toupper((unsigned char)*p);
    out[n] = 0;
}

/* Writes "expected <what>, got '<value>'" into why; returns -1. */
static int expected(char *why, size_t len, const char *what, const char *value) {
    size_t n = strlen(value);
    snprintf(why, len, "expected %s, got '%.*s%s'", what, QUOTE_MAX, value, n > QUOTE_MAX ? "..." : "");
    return -1;
}

/* A whole decimal integer, optionally signed; nothing else around it. */
static bool parse_i64(const char *s, int64_t *out) {
    if (!*s || isspace((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static int set_number(const struct key *k, const char *v, void *field, char *why, size_t len) {
    char what[96];
    if (k->kind == K_F64) {
        snprintf(what, sizeof what, "a number in [%g, %g]", k->min, k->max);
        if (!*v || isspace((unsigned char)*v)) return expected(why, len, what, v);
        char *end;
        errno = 0;
        double d = strtod(v, &end);   /* NaN fails the range test below */
        if (errno || *end || !(d >= k->min && d <= k->max)) return expected(why, len, what, v);
        *(double *)field = d;
        return 0;
    }
    snprintf(what, sizeof what, "an integer in [%.0f, %.0f]", k->min, k->max);
    int64_t i;
    if (!parse_i64(v, &i) || i < (int64_t)k->min || i > (int64_t)k->max) return expected(why, len, what, v);
    if (k->kind == K_INT) *(int *)field = (int)i;
    else *(int64_t *)field = i;
    return 0;
}

static int set_bool(const char *v, bool *field, char *why, size_t len) {
    static const char *const yes[] = { "true", "1", "yes", "on" }, *const no[] = { "false", "0", "no", "off" };
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *field = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return expected(why, len, "true or false (also 1/0, yes/no, on/off)", v);
}

static int set_level(const char *v, int *field, char *why, size_t len) {
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, level_names[i]) == 0) {
            *field = i;
            return 0;
        }
    }
    if (strcasecmp(v, "warning") == 0) {
        *field = FR_LOG_WARN;
        return 0;
    }
    return expected(why, len, "one of debug, info, warn, error", v);
}

/* A DNS name (letters, digits, hyphens, dot-separated labels of 1-63) or, if
 * it looks numeric, a real IPv4 address. */
static bool valid_host(const char *h) {
    size_t n = strlen(h);
    if (n == 0 || n > 253) return false;
    if (strspn(h, "0123456789.") == n) {
        struct in_addr a;
        return inet_pton(AF_INET, h, &a) == 1;
    }
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = h[i];
        if (c == '.' || c == 0) {
            if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-') return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

static int set_listen(struct fr_config *cfg, const char *v, char *why, size_t len) {
    static const char *what = "host:port or [ipv6]:port with a port in [0, 65535]";
    char host[256];
    const char *port;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        struct in6_addr a;
        size_t hl = close ? (size_t)(close - v - 1) : 0;
        if (!close || close[1] != ':' || hl == 0 || hl >= sizeof host) return expected(why, len, what, v);
        memcpy(host, v + 1, hl);
        host[hl] = 0;
        if (inet_pton(AF_INET6, host, &a) != 1) return expected(why, len, what, v);
        port = close + 2;
    } else {
        const char *colon = strrchr(v, ':');
        size_t hl = colon ? (size_t)(colon - v) : 0;
        if (!colon || hl == 0 || hl >= sizeof host) return expected(why, len, what, v);
        memcpy(host, v, hl);
        host[hl] = 0;
        if (!valid_host(host)) return expected(why, len, what, v);
        port = colon + 1;
    }
    int64_t p;
    if (strspn(port, "0123456789") != strlen(port) || !parse_i64(port, &p) || p > 65535)
        return expected(why, len, what, v);
    if (strlen(v) >= sizeof cfg->listen) return expected(why, len, what, v);
    strcpy(cfg->listen, v);
    strcpy(cfg->listen_host, host);
    cfg->listen_port = (int)p;
    return 0;
}

static int set_string(const struct key *k, const char *v, char *field, char *why, size_t len) {
    size_t n = strlen(v);
    if (k->kind == K_SECRET) {
        bool ok = n >= FR_CONFIG_TOKEN_MIN && n < k->size;
        for (size_t i = 0; ok && i < n; i++) ok = isgraph((unsigned char)v[i]);
        if (!ok) {   /* never echo a secret, not even a wrong one */
            snprintf(why, len, "expected %d to %zu printable characters without spaces, got %zu characters",
                     FR_CONFIG_TOKEN_MIN, k->size - 1, n);
            return -1;
        }
    } else if (k->kind == K_NAME) {
        bool ok = n < k->size;
        for (size_t i = 0; ok && i < n; i++) ok = isgraph((unsigned char)v[i]);
        if (!ok) {
            char what[96];
            snprintf(what, sizeof what, "up to %zu printable characters without spaces", k->size - 1);
            return expected(why, len, what, v);
        }
    } else if (n == 0 || n >= k->size) {
        char what[64];
        snprintf(what, sizeof what, "a path of 1 to %zu bytes", k->size - 1);
        return expected(why, len, what, v);
    }
    memcpy(field, v, n + 1);
    return 0;
}

/* "" (CORS off), "*" (any origin), or origins "scheme://host[:port]" (http
 * or https, no path, no trailing slash) separated by commas. */
static int set_origins(const struct key *k, const char *v, char *field, char *why, size_t len) {
    size_t n = strlen(v);
    if (n >= k->size) return expected(why, len, "at most 1023 bytes of origins", v);
    if (n && strcmp(v, "*")) {
        for (const char *p = v; *p;) {
            size_t l = strcspn(p, ",");
            const char *host = !strncmp(p, "http://", 7) ? p + 7 : !strncmp(p, "https://", 8) ? p + 8 : NULL;
            int ok = host && (size_t)(host - p) < l;
            for (const char *q = host; ok && q < p + l; q++)
                ok = isalnum((unsigned char)*q) || *q == '.' || *q == '-' || *q == ':' || *q == '[' || *q == ']';
            if (ok && p[l] == ',' && !p[l + 1]) ok = 0;   /* a trailing comma */
            if (!ok) return expected(why, len, "\"*\" or origins like https://app.example.com,http://localhost:3000", v);
            p += l;
            if (*p == ',') p++;
        }
    }
    memcpy(field, v, n + 1);
    return 0;
}

/* url with the password of a "scheme://user:password@host" masked. */
static void mask_url(const char *url, char *out, size_t len) {
    const char *auth = strstr(url, "://");
    const char *at = auth ? strchr(auth + 3, '@') : NULL;
    const char *colon = at ? memchr(auth + 3, ':', (size_t)(at - auth - 3)) : NULL;
    if (!colon || memchr(auth + 3, '/', (size_t)(at - auth - 3))) snprintf(out, len, "%s", url);
    else snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
    char copy[FR_CONFIG_URL_MAX];
    const char *pw = strstr(out, "password=");   /* unix://...?password=P (Redis) */
    if (pw && strlen(out) < sizeof copy) {
        memcpy(copy, out, strlen(out) + 1);
        pw = copy + (pw - out);
        const char *rest = pw + 9 + strcspn(pw + 9, "&");
        snprintf(out, len, "%.*s***%s", (int)(pw + 9 - copy), copy, rest);
    }
}

/* "" (the default: sqlite:<data_dir>) or <scheme>:<rest>, the scheme as RFC
 * 3986 spells one; which backends exist is the store's to say. */
static int set_url(const struct key *k, const char *v, char *field, char *why, size_t len) {
    size_t n = strlen(v), s = 0;
    while (isalnum((unsigned char)v[s]) || v[s] == '+' || v[s] == '-' || v[s] == '.') s++;
    bool ok = n < k->size && (n == 0 || (isalpha((unsigned char)v[0]) && v[s] == ':' && v[s + 1]));
    const bool redis = !strcmp(k->name, "redis_url");
    if (ok && redis && n) ok = !strncmp(v, "redis://", 8) || !strncmp(v, "unix://", 7);
    for (size_t i = 0; ok && i < n; i++) ok = !iscntrl((unsigned char)v[i]);
    if (!ok) {
        char shown[FR_CONFIG_URL_MAX];
        mask_url(v, shown, sizeof shown);
        return expected(why, len,
                        redis ? "a Redis URL like redis://127.0.0.1:6379/0 or unix:///run/redis.sock"
                              : "a database URL like sqlite:/var/lib/facerec",
                        shown);
    }
    memcpy(field, v, n + 1);
    return 0;
}

/* The retry schedule's rules (facerec/config.h); on error writes the reason. */
static int parse_schedule(const char *v, int64_t seconds[FR_CONFIG_SCHEDULE_MAX], int *n_out, char *why, size_t len) {
    char what[160];
    snprintf(what, sizeof what, "1 to %d non-decreasing seconds in [0, %d] separated by commas, like 0,5,300",
             FR_CONFIG_SCHEDULE_MAX, FR_CONFIG_SCHEDULE_SECONDS_MAX);
    int n = 0;
    for (const char *p = v;; p++) {   /* one entry per turn; p is at its comma after it */
        while (*p == ' ' || *p == '\t') p++;
        size_t digits = strspn(p, "0123456789");
        int64_t x = 0;
        for (size_t i = 0; i < digits && x <= FR_CONFIG_SCHEDULE_SECONDS_MAX; i++) x = x * 10 + (p[i] - '0');
        if (!digits || x > FR_CONFIG_SCHEDULE_SECONDS_MAX || n == FR_CONFIG_SCHEDULE_MAX || (n && x < seconds[n - 1]))
            return expected(why, len, what, v);
        seconds[n++] = x;
        p += digits;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (*p != ',') return expected(why, len, what, v);
    }
    *n_out = n;
    return 0;
}

int fr_config_schedule_parse(const char *text, const char *field, int64_t seconds[FR_CONFIG_SCHEDULE_MAX], int *n_out) {
    char why[256];
    int n = 0;
    if (!field) field = "schedule";
    if (parse_schedule(text ? text : "", seconds, &n, why, sizeof why) < 0)
        return fr_err_set_at(FR_E_VALIDATION_ERROR, "field", field, "%s: %s", field, why);
    *n_out = n;
    return 0;
}

static int set_schedule(const struct key *k, const char *v, char *field, char *why, size_t len) {
    int64_t seconds[FR_CONFIG_SCHEDULE_MAX];
    int n;
    if (strlen(v) >= k->size) return expected(why, len, "a schedule of at most 511 bytes", v);
    if (parse_schedule(v, seconds, &n, why, len) < 0) return -1;
    memcpy(field, v, strlen(v) + 1);
    return 0;
}

/* Parses v into k's field; on error writes the reason (without the key). */
static int key_set(struct fr_config *cfg, const struct key *k, const char *v, char *why, size_t len) {
    void *field = (char *)cfg + k->off;
    switch (k->kind) {
    case K_LISTEN: return set_listen(cfg, v, why, len);
    case K_PATH:
    case K_NAME:
    case K_SECRET: return set_string(k, v, field, why, len);
    case K_I64:
    case K_INT:
    case K_F64: return set_number(k, v, field, why, len);
    case K_BOOL: return set_bool(v, field, why, len);
    case K_LEVEL: return set_level(v, field, why, len);
    case K_ORIGINS: return set_origins(k, v, field, why, len);
    case K_URL: return set_url(k, v, field, why, len);
    case K_SCHEDULE: return set_schedule(k, v, field, why, len);
    }
    return -1;
}

/* A key by its file name or its variable name. */
static const struct key *key_find(const char *name) {
    for (int i = 0; i < N_KEYS; i++) {
        char env[64];
        env_name(&keys[i], env);
        if (strcmp(name, keys[i].name) == 0 || strcmp(name, env) == 0) return &keys[i];
    }
    return NULL;
}

/* ---- layers ---- */

void fr_config_defaults(struct fr_config *cfg) {
    char why[256];
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < N_KEYS; i++)
        if (keys[i].def && key_set(cfg, &keys[i], keys[i].def, why, sizeof why) < 0)
            fr_abort(__FILE__, __LINE__, "default of %s: %s", keys[i].name, why);
}

int fr_config_set(struct fr_config *cfg, const char *key, const char *value) {
    const struct key *k = key_find(key);
    char why[256];
    if (!k) return fr_err_set(FR_E_INVALID_ARGUMENT, "unknown configuration key '%s'", key);
    if (key_set(cfg, k, value, why, sizeof why) < 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: %s", k->name, why);
    return 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* One non-blank, non-comment line. seen[] holds the line each key was set on. */
static int file_line(struct fr_config *cfg, const char *path, int lineno, char *line, int seen[N_KEYS]) {
    char why[256];
    char *eq = strchr(line, '=');
    if (!eq) {
        snprintf(why, sizeof why, "%.*s%s", QUOTE_MAX, line, strlen(line) > QUOTE_MAX ? "..." : "");
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s:%d: expected 'key = value', got '%s'", path, lineno, why);
    }
    *eq = 0;
    char *name = trim(line), *value = trim(eq + 1);
    size_t vn = strlen(value);
    if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
        value[vn - 1] = 0;
        value++;
    }
    const struct key *k = NULL;
    for (int i = 0; i < N_KEYS && !k; i++)
        if (strcmp(name, keys[i].name) == 0) k = &keys[i];
    if (!k) {
        const struct key *alias = key_find(name);
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s:%d: unknown key '%.64s'%s%s%s", path, lineno, name,
                          alias ? " (in the file write '" : "", alias ? alias->name : "", alias ? "')" : "");
    }
    int ki = (int)(k - keys);
    if (seen[ki])
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s:%d: %s is already set on line %d", path, lineno, k->name,
                          seen[ki]);
    seen[ki] = lineno;
    if (key_set(cfg, k, value, why, sizeof why) < 0)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s:%d: %s: %s", path, lineno, k->name, why);
    return 0;
}

static int load_file(struct fr_config *cfg, const char *path) {
    uint8_t *buf;
    size_t len;
    int rc = fr_file_read(path, FILE_MAX_BYTES, &buf, &len);
    if (rc < 0) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", fr_err_detail());
        return fr_err_set(-rc, "config file: %s", detail);
    }
    int seen[N_KEYS] = { 0 };
    if (memchr(buf, 0, len)) rc = fr_err_set(FR_E_INVALID_ARGUMENT, "%s: not a text file (NUL byte)", path);
    char *p = (char *)buf;
    for (int lineno = 1; rc == 0 && p; lineno++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        char *line = trim(p);
        if (*line && *line != '#') rc = file_line(cfg, path, lineno, line, seen);
        p = nl ? nl + 1 : NULL;
    }
    fr_free(buf);
    return rc;
}

/* FACEREC_* variables that name no key are most likely typos: say so. */
static void warn_unknown_env(void) {
    size_t pl = strlen(ENV_PREFIX);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, ENV_PREFIX, pl) != 0) continue;
        const char *eq = strchr(*e, '=');
        char name[128];
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - *e) : 0, *e);
        if (eq && !key_find(name)) fr_log(FR_LOG_WARN, "environment variable %s is not a facerec setting", name);
    }
}

static int load_env(struct fr_config *cfg) {
    char why[256];
    for (int i = 0; i < N_KEYS; i++) {
        char env[64];
        env_name(&keys[i], env);
        const char *v = getenv(env);
        if (!v || !*v) continue;
        if (key_set(cfg, &keys[i], v, why, sizeof why) < 0)
            return fr_err_set(FR_E_INVALID_ARGUMENT, "%s: %s", env, why);
    }
    warn_unknown_env();
    return 0;
}

int fr_config_load(struct fr_config *cfg, const char *file_or_null) {
    int rc;
    fr_config_defaults(cfg);
    if (file_or_null && (rc = load_file(cfg, file_or_null)) < 0) return rc;
    return load_env(cfg);
}

/* ---- output ---- */

static void fmt_double(char out[32], double v) {   /* shortest text that reads back the same */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void print_string(FILE *f, const char *name, const char *s) {
    size_t n = strlen(s);
    bool quote = n > 0 && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]) || s[0] == '"');
    fprintf(f, quote ? "%s = \"%s\"\n" : "%s = %s\n", name, s);
}

int fr_config_print(const struct fr_config *cfg, FILE *f) {
    for (int i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        const void *field = (const char *)cfg + k->off;
        char num[32];
        switch (k->kind) {
        case K_LISTEN:
        case K_PATH:
        case K_NAME:
        case K_ORIGINS:
        case K_SCHEDULE: print_string(f, k->name, field); break;
        case K_SECRET: fprintf(f, "%s = %s\n", k->name, *(const char *)field ? "(set)" : "(unset)"); break;
        case K_URL: {
            char url[FR_CONFIG_URL_MAX], shown[FR_CONFIG_URL_MAX];
            mask_url(k->off == offsetof(struct fr_config, database_url) ? fr_config_database_url(cfg, url, sizeof url)
                                                                        : (const char *)field,
                     shown, sizeof shown);
            print_string(f, k->name, shown);
            break;
        }
        case K_I64: fprintf(f, "%s = %lld\n", k->name, (long long)*(const int64_t *)field); break;
        case K_INT: fprintf(f, "%s = %d\n", k->name, *(const int *)field); break;
        case K_F64:
            fmt_double(num, *(const double *)field);
            fprintf(f, "%s = %s\n", k->name, num);
            break;
        case K_BOOL: fprintf(f, "%s = %s\n", k->name, *(const bool *)field ? "true" : "false"); break;
        case K_LEVEL: {
            int l = *(const int *)field;
            fprintf(f, "%s = %s\n", k->name, level_names[l < 0 ? 0 : l > 3 ? 3 : l]);
            break;
        }
        }
    }
    if (fflush(f) != 0 || ferror(f)) return fr_err_set(FR_E_IO, "cannot write the configuration");
    return 0;
}

const char *fr_config_database_url(const struct fr_config *cfg, char *buf, size_t len) {
    if (cfg->database_url[0]) snprintf(buf, len, "%s", cfg->database_url);
    else snprintf(buf, len, "sqlite:%s", cfg->data_dir);
    return buf;
}

int fr_config_threads(const struct fr_config *cfg) {
    if (cfg->threads > 0) return cfg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
