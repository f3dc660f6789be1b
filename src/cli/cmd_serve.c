/* facerec serve | config | client: the HTTP service and its admin CLI.
 *
 *   facerec serve [--config FILE]
 *   facerec config [--config FILE]                 effective configuration, secrets masked
 *   facerec client create NAME [--per-hour N] [--per-day N] [--config FILE]
 *   facerec client list|rotate ID|disable ID|enable ID [--config FILE]
 *   facerec backup FILE [--config FILE]            a consistent copy of the database, while serving
 *
 * serve blocks SIGTERM/SIGINT in every thread and waits for them in the
 * main thread: on one it stops accepting, lets requests in flight finish
 * (30 s at most), writes the usage counts and index snapshots, and exits 0. */
#include "cli.h"

#include "api/api.h"
#include "facerec/config.h"
#include "facerec/keys.h"
#include "facerec/jobs.h"
#include "facerec/metrics.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ADMIN_INITIALIZED "initialized"

static int load_config(int argc, char **argv, int first, struct fr_config *cfg, char **rest, int *n_rest) {
    const char *file = NULL;
    *n_rest = 0;
    for (int i = first; i < argc; i++) {
        const char *v;
        if ((v = fr_cli_opt(argc, argv, &i, "--config"))) file = v;
        else rest[(*n_rest)++] = argv[i];
    }
    int rc = fr_config_load(cfg, file);
    if (rc < 0) {
        fprintf(stderr, "facerec: configuration: %s\n", fr_err_detail());
        return rc;
    }
    return 0;
}

static void svc_config(const struct fr_config *c, struct fr_svc_config *s) {
    memset(s, 0, sizeof *s);
    s->data_dir = c->data_dir;
    s->models_dir = c->models_dir;
    s->max_upload_bytes = (size_t)c->max_upload_bytes;
    s->max_pixels = c->max_pixels;
    s->threads = fr_config_threads(c);
    s->match_threshold = (float)c->match_threshold;
    s->identify_fpir = c->identify_fpir;
    s->identify_margin = (float)c->identify_margin;
    s->quality_threshold = (float)c->quality_threshold;
    s->liveness_threshold = (float)c->liveness_threshold;
    s->require_liveness = c->require_liveness;
    s->store_photos = c->store_photos;
    s->max_faces = c->max_faces;
    s->top_k = c->top_k;
}

/* The admin token's hash: from the configuration, else the stored one, else
 * a new token printed once. The first start also makes a first client. */
static int bootstrap(fr_store *st, const struct fr_config *cfg, char hash[FR_KEY_HASH_LEN + 1]) {
    char *stored = NULL;
    int rc;
    if (cfg->admin_token[0]) {
        if ((rc = fr_key_hash(cfg->admin_token, hash)) < 0) return rc;
        if ((rc = fr_store_admin_set(st, FR_STORE_ADMIN_TOKEN_HASH, hash)) < 0) return rc;
    } else if ((rc = fr_store_admin_get(st, FR_STORE_ADMIN_TOKEN_HASH, &stored)) == 0) {
        snprintf(hash, FR_KEY_HASH_LEN + 1, "%s", stored);
        fr_free(stored);
    } else if (rc == -FR_E_NOT_FOUND) {
        char tok[FR_KEY_LEN + 1];
        if ((rc = fr_key_generate("fra", tok)) < 0 || (rc = fr_key_hash(tok, hash)) < 0 ||
            (rc = fr_store_admin_set(st, FR_STORE_ADMIN_TOKEN_HASH, hash)) < 0)
            return rc;
        printf("admin token (shown once, store it now): %s\n", tok);
    } else {
        return rc;
    }
    if (fr_store_admin_get(st, ADMIN_INITIALIZED, &stored) == 0) {
        fr_free(stored);
        return 0;
    }
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], khash[FR_KEY_HASH_LEN + 1];
    int64_t id;
    if ((rc = fr_key_generate("frk", key)) < 0 || (rc = fr_key_hash(key, khash)) < 0) return rc;
    fr_key_prefix(key, prefix);
    if ((rc = fr_store_client_create(st, "default", prefix, khash, cfg->default_rate_per_hour,
                                     cfg->default_rate_per_day, &id)) < 0 ||
        (rc = fr_store_admin_set(st, ADMIN_INITIALIZED, "1")) < 0)
        return rc;
    fr_store_audit_append(st, "admin", "client.create", "client:1", NULL, "{\"name\":\"default\",\"first_start\":true}",
                          NULL);
    printf("first client \"default\" (id %lld), API key (shown once): %s\n", (long long)id, key);
    fflush(stdout);
    return 0;
}

/* ---- housekeeping, run by src/jobs ---- */

struct housekeeping {
    struct fr_api *api;
    fr_store *store;
    int photo_days;
};

#define IDEM_KEEP_MS (24.0 * 3600 * 1000)   /* an Idempotency-Key is honoured for a day */

static void job_usage_flush(void *arg) { fr_api_flush_usage(((struct housekeeping *)arg)->api); }

static void job_ratelimit_sweep(void *arg) {
    fr_ratelimit_sweep(((struct housekeeping *)arg)->api->rl, fr_now_ms());
}

/* Retention: stored enrolment photos older than the configured days go
 * (the faces and embeddings stay). */
static void job_photo_retention(void *arg) {
    const struct housekeeping *h = arg;
    int64_t n = 0;
    if (fr_store_face_image_purge(h->store, fr_now_ms() - (int64_t)h->photo_days * 86400000, &n) < 0)
        fr_log(FR_LOG_WARN, "photo retention: %s", fr_err_detail());
    else if (n > 0)
        fr_log(FR_LOG_INFO, "photo retention: %lld stored photos older than %d days deleted", (long long)n,
               h->photo_days);
}

/* Idempotency keys older than a day: the table would otherwise grow forever. */
static void job_idem_purge(void *arg) {
    const struct housekeeping *h = arg;
    int64_t n = 0;
    if (fr_store_idem_purge(h->store, fr_now_ms() - (int64_t)IDEM_KEEP_MS, &n) < 0)
        fr_log(FR_LOG_WARN, "idempotency purge: %s", fr_err_detail());
    else if (n > 0)
        fr_log(FR_LOG_INFO, "idempotency purge: %lld keys older than a day deleted", (long long)n);
}

static int start_jobs(struct housekeeping *h, struct fr_jobs **out) {
    struct fr_jobs *j;
    int rc = fr_jobs_start(1, &j);
    if (rc < 0) return rc;
    if ((rc = fr_jobs_every(j, "usage flush", 5000, 5000, job_usage_flush, h)) == 0 &&
        (rc = fr_jobs_every(j, "rate-limit sweep", 30000, 30000, job_ratelimit_sweep, h)) == 0 &&
        (rc = fr_jobs_every(j, "idempotency purge", 600000, 0, job_idem_purge, h)) == 0 && h->photo_days > 0)
        rc = fr_jobs_every(j, "photo retention", 30000, 0, job_photo_retention, h);
    if (rc < 0) {
        fr_jobs_stop(j);
        return rc;
    }
    *out = j;
    return 0;
}

int cmd_serve(int argc, char **argv) {
    struct fr_config cfg;
    char *rest[64];
    int n_rest;
    if (argc > 60) return FR_EXIT_USAGE;
    if (load_config(argc, argv, 1, &cfg, rest, &n_rest) < 0) return FR_EXIT_ERROR;
    if (n_rest) {
        fprintf(stderr, "usage: facerec serve [--config FILE]\n");
        return FR_EXIT_USAGE;
    }
    fr_log_set_level(cfg.log_level);
    fr_json_use_fr_alloc();
    /* signals: handled by sigwait here, never by the server's threads */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct fr_svc_config sc;
    svc_config(&cfg, &sc);
    struct fr_service *svc = NULL;
    int rc = fr_service_open(&sc, &svc);
    if (rc < 0) return fr_cli_err(rc, "cannot open the data directory");
    char hash[FR_KEY_HASH_LEN + 1];
    if ((rc = bootstrap(svc->store, &cfg, hash)) < 0) {
        fr_service_close(svc);
        return fr_cli_err(rc, "first start");
    }
    struct fr_api api;
    if ((rc = fr_api_init(&api, svc, hash, cfg.default_rate_per_hour, cfg.default_rate_per_day)) < 0) {
        fr_service_close(svc);
        return fr_cli_err(rc, "api");
    }
    snprintf(api.cors_origins, sizeof api.cors_origins, "%s", cfg.cors_origins);
    if (cfg.metrics_token[0] && (rc = fr_key_hash(cfg.metrics_token, api.metrics_hash)) < 0) {
        fr_api_fini(&api);
        fr_service_close(svc);
        return fr_cli_err(rc, "metrics token");
    }
    const char *host = strcmp(cfg.listen_host, "localhost") ? cfg.listen_host : "127.0.0.1";
    struct fr_http_opts ho = { .host = host, .port = cfg.listen_port, .threads = sc.threads,
                               .max_body = (size_t)cfg.max_upload_bytes, .per_ip = cfg.max_connections_per_ip,
                               .max_conns = cfg.max_connections, .request_timeout_ms = cfg.request_timeout_ms,
                               .handler = fr_api_handle,
                               .early = fr_api_early, .ctx = &api };
    struct fr_http_server *http = NULL;
    if ((rc = fr_http_start(&ho, &http)) < 0) {
        fr_api_fini(&api);
        fr_service_close(svc);
        return fr_cli_err(rc, "listen");
    }
    api.http = http;
    struct housekeeping hk = { &api, svc->store, cfg.photo_retention_days };
    struct fr_jobs *jobs = NULL;
    if ((rc = start_jobs(&hk, &jobs)) < 0) {
        fr_http_stop(http, 0);
        fr_api_fini(&api);
        fr_service_close(svc);
        return fr_cli_err(rc, "background jobs");
    }
    fr_log(FR_LOG_INFO, "listening on http://%s:%d (%d workers, data %s, models %s)", host, fr_http_port(http),
           sc.threads, cfg.data_dir, svc->models ? "loaded" : "NOT loaded");
    int sig = 0;
    while (sigwait(&set, &sig) != 0 || (sig != SIGTERM && sig != SIGINT)) continue;
    fr_log(FR_LOG_INFO, "signal %d: stopping (finishing requests in flight)", sig);
    fr_http_stop(http, 30000);
    fr_jobs_stop(jobs);     /* after the last request, before what the jobs use goes */
    api.http = NULL;
    fr_api_fini(&api);
    fr_service_close(svc);
    fr_log(FR_LOG_INFO, "stopped cleanly");
    return FR_EXIT_OK;
}

int cmd_config(int argc, char **argv) {
    struct fr_config cfg;
    char *rest[64];
    int n_rest;
    if (argc > 60 || load_config(argc, argv, 1, &cfg, rest, &n_rest) < 0) return FR_EXIT_ERROR;
    return fr_config_print(&cfg, stdout) < 0 ? FR_EXIT_ERROR : FR_EXIT_OK;
}

static void print_client(const struct fr_store_client *c) {
    printf("%lld\t%s\t%s\t%lld/h\t%lld/day\t%s\n", (long long)c->id, c->name, c->key_prefix,
           (long long)c->rate_limit_per_hour, (long long)c->rate_limit_per_day, c->disabled ? "disabled" : "enabled");
}

int cmd_client(int argc, char **argv) {
    struct fr_config cfg;
    char *rest[64];
    int n_rest;
    const char *usage = "usage: facerec client create NAME [--per-hour N] [--per-day N] | list | rotate ID | "
                        "disable ID | enable ID   [--config FILE]\n";
    if (argc > 60 || load_config(argc, argv, 1, &cfg, rest, &n_rest) < 0) return FR_EXIT_ERROR;
    if (n_rest < 1) {
        fputs(usage, stderr);
        return FR_EXIT_USAGE;
    }
    fr_store *st = NULL;
    int rc = fr_store_open_sqlite(&st, cfg.data_dir);
    if (rc < 0) return fr_cli_err(rc, cfg.data_dir);
    const char *what = rest[0];
    int64_t id = n_rest > 1 ? strtoll(rest[1], NULL, 10) : 0;
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], hash[FR_KEY_HASH_LEN + 1];
    int ex = FR_EXIT_OK;
    if (!strcmp(what, "create") && n_rest >= 2) {
        int64_t ph = cfg.default_rate_per_hour, pd = cfg.default_rate_per_day;
        for (int i = 2; i < n_rest; i++) {
            const char *v;
            if ((v = fr_cli_opt(n_rest, rest, &i, "--per-hour"))) ph = strtoll(v, NULL, 10);
            else if ((v = fr_cli_opt(n_rest, rest, &i, "--per-day"))) pd = strtoll(v, NULL, 10);
            else { fputs(usage, stderr); ex = FR_EXIT_USAGE; goto out; }
        }
        if ((rc = fr_key_generate("frk", key)) < 0 || (rc = fr_key_hash(key, hash)) < 0) goto err;
        fr_key_prefix(key, prefix);
        if ((rc = fr_store_client_create(st, rest[1], prefix, hash, ph < 0 ? 0 : ph, pd < 0 ? 0 : pd, &id)) < 0) goto err;
        fr_store_audit_append(st, "admin:cli", "client.create", NULL, NULL, NULL, NULL);
        printf("client %lld \"%s\", API key (shown once): %s\n", (long long)id, rest[1], key);
    } else if (!strcmp(what, "list")) {
        struct fr_store_client *rows = NULL;
        size_t n = 0;
        if ((rc = fr_store_client_list(st, &rows, &n)) < 0) goto err;
        printf("id\tname\tkey prefix\thour\tday\tstate\n");
        for (size_t i = 0; i < n; i++) print_client(&rows[i]);
        fr_store_clients_free(rows, n);
    } else if (!strcmp(what, "rotate") && id > 0) {
        if ((rc = fr_key_generate("frk", key)) < 0 || (rc = fr_key_hash(key, hash)) < 0) goto err;
        fr_key_prefix(key, prefix);
        if ((rc = fr_store_client_set_key(st, id, prefix, hash)) < 0) goto err;
        fr_store_audit_append(st, "admin:cli", "client.rotate_key", NULL, NULL, NULL, NULL);
        printf("client %lld, new API key (shown once): %s\n", (long long)id, key);
    } else if ((!strcmp(what, "disable") || !strcmp(what, "enable")) && id > 0) {
        struct fr_store_client_update u = FR_STORE_CLIENT_UPDATE_KEEP;
        u.disabled = !strcmp(what, "disable");
        if ((rc = fr_store_client_update(st, id, &u)) < 0) goto err;
        fr_store_audit_append(st, "admin:cli", u.disabled ? "client.disable" : "client.enable", NULL, NULL, NULL, NULL);
        printf("client %lld %sd\n", (long long)id, what);
    } else {
        fputs(usage, stderr);
        ex = FR_EXIT_USAGE;
    }
    goto out;
err:
    ex = fr_cli_err(rc, what);
out:
    fr_store_close(st);
    return ex;
}

/* A consistent, compacted copy of the database (SQLite's backup: safe while
 * the service runs). The index needs no backup: it is rebuilt from the
 * faces on start. */
int cmd_backup(int argc, char **argv) {
    struct fr_config cfg;
    char *rest[64];
    int n_rest;
    if (argc > 60 || load_config(argc, argv, 1, &cfg, rest, &n_rest) < 0) return FR_EXIT_ERROR;
    if (n_rest != 1) {
        fprintf(stderr, "usage: facerec backup FILE [--config FILE]   (FILE must not exist)\n");
        return FR_EXIT_USAGE;
    }
    fr_store *st = NULL;
    umask(077);                     /* the copy holds key hashes and embeddings: owner only */
    int rc = fr_store_open_sqlite(&st, cfg.data_dir);
    if (rc == 0) rc = fr_store_backup(st, rest[0]);
    if (rc == 0) rc = fr_store_audit_append(st, "admin:cli", "store.backup", NULL, NULL, NULL, NULL);
    fr_store_close(st);
    if (rc < 0) return fr_cli_err(rc, "backup");
    printf("database copied to %s\n", rest[0]);
    return FR_EXIT_OK;
}

/* facerec reembed: after a model change, the faces whose photos were kept
 * (FACEREC_STORE_PHOTOS) are embedded again by the current model. Run it
 * with the service stopped (or restart the service after it: its index is
 * then rebuilt from the database). */
int cmd_reembed(int argc, char **argv) {
    struct fr_config cfg;
    char *rest[64];
    int n_rest;
    if (argc > 60 || load_config(argc, argv, 1, &cfg, rest, &n_rest) < 0) return FR_EXIT_ERROR;
    if (n_rest) {
        fprintf(stderr, "usage: facerec reembed [--config FILE]\n");
        return FR_EXIT_USAGE;
    }
    struct fr_svc_config sc;
    svc_config(&cfg, &sc);
    struct fr_service *svc = NULL;
    int rc = fr_service_open(&sc, &svc);
    if (rc < 0) return fr_cli_err(rc, "cannot open the data directory");
    struct fr_svc_reembed_stats st;
    char model[FR_FACE_MODEL_ID_LEN + 1] = "";
    rc = fr_svc_reembed(svc, &st);
    if (svc->model_id) snprintf(model, sizeof model, "%s", svc->model_id);
    fr_service_close(svc);
    if (rc < 0) return fr_cli_err(rc, "reembed");
    printf("re-embedded %lld faces with model %s; %lld kept on their old model (no face found)\n",
           (long long)st.reembedded, model, (long long)st.failed);
    return st.failed ? FR_EXIT_FAIL : FR_EXIT_OK;
}
