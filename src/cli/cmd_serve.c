/* facerec serve | config | client: the HTTP service and its admin CLI.
 *
 *   facerec serve [--config FILE]
 *   facerec config [--config FILE]                 effective configuration, secrets masked
 *   facerec client create NAME [--per-hour N] [--per-day N] [--config FILE]
 *   facerec client list|rotate ID|disable ID|enable ID [--config FILE]
 *   facerec backup FILE [--config FILE]            a consistent copy of the database, while serving
 *   facerec restore FILE [--force] [--config FILE] the database replaced by a backup, every server stopped
 *
 * serve blocks SIGTERM/SIGINT in every thread and waits for them in the
 * main thread: on one it stops accepting, lets requests in flight finish
 * (30 s at most), writes the usage counts and index snapshots, and exits 0. */
#include "cli.h"
#include "cluster/redis.h"

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
#include <unistd.h>

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
    s->database_url = c->database_url[0] ? c->database_url : NULL;
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
    s->webhook_allow_private = c->webhook_allow_private;
    s->webhook_disable_after_hours = c->webhook_disable_after_hours;
    s->webhook_retention_days = c->webhook_retention_days;
    s->camera_timeout_ms = c->camera_timeout_ms;
    s->camera_reconnect_attempts = c->camera_reconnect_attempts;
    s->camera_reconnect_delay_ms = c->camera_reconnect_delay_ms;
    s->camera_allow_files = c->camera_allow_files;
    s->max_sessions = c->max_sessions;
    s->max_cameras_per_session = c->max_cameras_per_session;
    s->default_rate_per_hour = c->default_rate_per_hour;
    s->default_rate_per_day = c->default_rate_per_day;
}

int fr_cli_open_service(const struct fr_config *cfg, int parts, struct fr_service **out) {
    struct fr_svc_config sc;
    svc_config(cfg, &sc);
    /* this node's name in the leases it takes: host:port (several nodes may share a host) */
    char host[96] = "", node[128];
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "node");
    snprintf(node, sizeof node, "%s:%d", host, cfg->listen_port);
    sc.node_id = cfg->node_id[0] ? cfg->node_id : node;
    sc.parts = parts;
    int rc = fr_service_open(&sc, out);
    if (rc < 0) fr_cli_err(rc, parts & FR_SVC_STORE ? "cannot open the data directory" : "cannot start");
    return rc;
}

/* ---- housekeeping, run by src/jobs ---- */

struct housekeeping {
    struct fr_api *api;
    struct fr_service *svc;
    int photo_days;
    struct fr_redis_node card;      /* this node in the registry (with Redis) */
};

#define NODE_BEAT_MS 2000           /* the registry card is written this often ... */
#define NODE_TTL_MS 6000            /* ... and expires this long after the last write */

/* The node registry: the live nodes and what each runs (placement, /status,
 * the shared rate limit's fallback share). */
static void job_node_beat(void *arg) {
    struct housekeeping *h = arg;
    struct fr_svc_sessions_status ss;
    fr_svc_sessions_status(h->svc, &ss);
    h->card.running = ss.running;
    h->card.max_sessions = ss.max_sessions;
    if (fr_redis_node_beat(h->api->redis, &h->card, NODE_TTL_MS) < 0)
        fr_log(FR_LOG_DEBUG, "node registry: %s", fr_err_detail());
}

static void job_usage_flush(void *arg) { fr_svc_usage_flush(((struct housekeeping *)arg)->svc); }

static void job_ratelimit_sweep(void *arg) {
    fr_ratelimit_sweep(((struct housekeeping *)arg)->api->rl, fr_now_ms());
}

/* Retention: stored enrolment photos older than the configured days go (the
 * faces and embeddings stay); Idempotency-Keys older than a day go (the
 * table would otherwise grow forever). */
static void job_purge(void *arg) {
    const struct housekeeping *h = arg;
    int64_t photos = 0, keys = 0, deliveries = 0;
    if (fr_svc_purge(h->svc, h->photo_days, &photos, &keys, &deliveries) < 0)
        fr_log(FR_LOG_WARN, "purge: %s", fr_err_detail());
    if (photos > 0)
        fr_log(FR_LOG_INFO, "photo retention: %lld stored photos older than %d days deleted", (long long)photos,
               h->photo_days);
    if (keys > 0) fr_log(FR_LOG_INFO, "idempotency purge: %lld keys older than a day deleted", (long long)keys);
    if (deliveries > 0)
        fr_log(FR_LOG_INFO, "webhook retention: %lld delivered deliveries deleted", (long long)deliveries);
}

static int start_jobs(struct housekeeping *h, struct fr_jobs **out) {
    struct fr_jobs *j;
    int rc = fr_jobs_start(1, &j);
    if (rc < 0) return rc;
    if ((rc = fr_jobs_every(j, "usage flush", 5000, 5000, job_usage_flush, h)) == 0 &&
        (rc = fr_jobs_every(j, "rate-limit sweep", 30000, 30000, job_ratelimit_sweep, h)) == 0 &&
        (!h->api->redis || (rc = fr_jobs_every(j, "node registry", NODE_BEAT_MS, 0, job_node_beat, h)) == 0))
        rc = fr_jobs_every(j, "purge", h->photo_days > 0 ? 30000 : 600000, 0, job_purge, h);
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

    struct fr_service *svc = NULL;
    if (fr_cli_open_service(&cfg, FR_SVC_ALL, &svc) < 0) return FR_EXIT_ERROR;
    /* the first start's secrets, shown once */
    struct fr_svc_bootstrap first;
    int rc = fr_svc_bootstrap(svc, cfg.admin_token, &first);
    if (rc < 0) {
        fr_service_close(svc);
        return fr_cli_err(rc, "first start");
    }
    if (first.admin_token[0]) printf("admin token (shown once, store it now): %s\n", first.admin_token);
    if (first.first_client_id)
        printf("first client \"default\" (id %lld), API key (shown once): %s\n", (long long)first.first_client_id,
               first.first_api_key);
    fflush(stdout);
    struct fr_api api;
    if ((rc = fr_api_init(&api, svc)) < 0) {
        fr_service_close(svc);
        return fr_cli_err(rc, "api");
    }
    snprintf(api.cors_origins, sizeof api.cors_origins, "%s", cfg.cors_origins);
    if (cfg.metrics_token[0] && (rc = fr_key_hash(cfg.metrics_token, api.metrics_hash)) < 0) {
        fr_api_fini(&api);
        fr_service_close(svc);
        fr_redis_close(api.redis);
        return fr_cli_err(rc, "metrics token");
    }
    /* several nodes: the shared rate-limit windows and the node registry in Redis (opened without
     * connecting: a node starts while Redis is down, and falls back to its share) */
    if (cfg.redis_url[0] && (rc = fr_redis_open(cfg.redis_url, NULL, &api.redis)) < 0) {
        fr_api_fini(&api);
        fr_service_close(svc);
        fr_redis_close(api.redis);
        return fr_cli_err(rc, "redis");
    }
    const char *host = strcmp(cfg.listen_host, "localhost") ? cfg.listen_host : "127.0.0.1";
    const int threads = fr_svc_config_of(svc)->threads;
    struct fr_http_opts ho = { .host = host, .port = cfg.listen_port, .threads = threads,
                               .max_body = (size_t)cfg.max_upload_bytes, .per_ip = cfg.max_connections_per_ip,
                               .max_conns = cfg.max_connections, .request_timeout_ms = cfg.request_timeout_ms,
                               .handler = fr_api_handle,
                               .early = fr_api_early, .ctx = &api };
    struct fr_http_server *http = NULL;
    if ((rc = fr_http_start(&ho, &http)) < 0) {
        fr_api_fini(&api);
        fr_service_close(svc);
        fr_redis_close(api.redis);
        return fr_cli_err(rc, "listen");
    }
    api.http = http;
    struct housekeeping hk;
    memset(&hk, 0, sizeof hk);
    hk.api = &api;
    hk.svc = svc;
    hk.photo_days = cfg.photo_retention_days;
    snprintf(hk.card.id, sizeof hk.card.id, "%.127s", fr_svc_node_id(svc));
    snprintf(hk.card.addr, sizeof hk.card.addr, "%.100s:%d", host, fr_http_port(http));
    hk.card.started_at_ms = fr_now_ms();
    struct fr_jobs *jobs = NULL;
    if ((rc = start_jobs(&hk, &jobs)) < 0) {
        fr_http_stop(http, 0);
        fr_api_fini(&api);
        fr_service_close(svc);
        fr_redis_close(api.redis);
        return fr_cli_err(rc, "background jobs");
    }
    /* the webhook dispatcher: what a previous run left pending goes out now */
    struct fr_outbox_opts oo = { 0 };
    oo.allow_private = cfg.webhook_allow_private;
    oo.policy.jitter = 0.2;
    oo.policy.timeout_ms = cfg.webhook_timeout_ms;
    if ((rc = fr_outbox_parse_schedule(cfg.webhook_schedule, &oo.policy)) < 0 ||
        (rc = fr_svc_outbox_start(svc, &oo)) < 0) {
        fr_jobs_stop(jobs);
        fr_http_stop(http, 0);
        fr_api_fini(&api);
        fr_service_close(svc);
        fr_redis_close(api.redis);
        return fr_cli_err(rc, "webhook dispatcher");
    }
    /* camera sessions: those running when this node stopped go on */
    if ((rc = fr_svc_sessions_start(svc, api.redis)) < 0)
        fr_log(FR_LOG_ERROR, "camera sessions not resumed: %s", fr_err_detail());
    fr_log(FR_LOG_INFO, "listening on http://%s:%d (%d workers, data %s, models %s)", host, fr_http_port(http),
           threads, cfg.data_dir, fr_svc_models_ready(svc, NULL) ? "loaded" : "NOT loaded");
    int sig = 0;
    while (sigwait(&set, &sig) != 0 || (sig != SIGTERM && sig != SIGINT)) continue;
    fr_log(FR_LOG_INFO, "signal %d: stopping (finishing requests in flight)", sig);
    fr_http_stop(http, 30000);
    fr_jobs_stop(jobs);     /* after the last request, before what the jobs use goes */
    if (api.redis && fr_redis_node_leave(api.redis, hk.card.id) < 0)   /* else its card expires */
        fr_log(FR_LOG_WARN, "node registry: %s", fr_err_detail());
    api.http = NULL;
    fr_api_fini(&api);
    fr_service_close(svc);         /* sessions suspended, their leases released: before Redis goes */
    fr_redis_close(api.redis);
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

static void print_client(const struct fr_svc_client *c) {
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
    struct fr_service *svc = NULL;
    if (fr_cli_open_service(&cfg, FR_SVC_STORE, &svc) < 0) return FR_EXIT_ERROR;
    const struct fr_svc_actor who = { 0, "admin:cli", NULL };
    const char *what = rest[0];
    int64_t id = n_rest > 1 ? strtoll(rest[1], NULL, 10) : 0;
    struct fr_svc_client c = { 0 };
    int ex = FR_EXIT_OK, rc = 0;
    if (!strcmp(what, "create") && n_rest >= 2) {
        int64_t ph = -1, pd = -1;
        for (int i = 2; i < n_rest; i++) {
            const char *v;
            if ((v = fr_cli_opt(n_rest, rest, &i, "--per-hour"))) ph = strtoll(v, NULL, 10);
            else if ((v = fr_cli_opt(n_rest, rest, &i, "--per-day"))) pd = strtoll(v, NULL, 10);
            else { fputs(usage, stderr); ex = FR_EXIT_USAGE; goto out; }
        }
        if ((rc = fr_svc_client_create(svc, &who, rest[1], ph, pd, &c)) < 0) goto err;
        printf("client %lld \"%s\", API key (shown once): %s\n", (long long)c.id, c.name, c.api_key);
    } else if (!strcmp(what, "list")) {
        struct fr_svc_client *rows = NULL;
        size_t n = 0;
        if ((rc = fr_svc_client_list(svc, &rows, &n)) < 0) goto err;
        printf("id\tname\tkey prefix\thour\tday\tstate\n");
        for (size_t i = 0; i < n; i++) print_client(&rows[i]);
        fr_svc_clients_free(rows, n);
    } else if (!strcmp(what, "rotate") && id > 0) {
        if ((rc = fr_svc_client_rotate_key(svc, &who, id, &c)) < 0) goto err;
        printf("client %lld, new API key (shown once): %s\n", (long long)id, c.api_key);
    } else if ((!strcmp(what, "disable") || !strcmp(what, "enable")) && id > 0) {
        struct fr_svc_client_update u = FR_SVC_CLIENT_UPDATE_KEEP;
        u.disabled = !strcmp(what, "disable");
        if ((rc = fr_svc_client_update(svc, &who, id, &u, &c)) < 0) goto err;
        printf("client %lld %sd\n", (long long)id, what);
    } else {
        fputs(usage, stderr);
        ex = FR_EXIT_USAGE;
    }
    goto out;
err:
    ex = fr_cli_err(rc, what);
out:
    fr_svc_client_free(&c);
    fr_service_close(svc);
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
    struct fr_service *svc = NULL;
    umask(077);                     /* the copy holds key hashes and embeddings: owner only */
    if (fr_cli_open_service(&cfg, FR_SVC_STORE, &svc) < 0) return FR_EXIT_ERROR;
    const struct fr_svc_actor who = { 0, "admin:cli", NULL };
    int rc = fr_svc_backup(svc, &who, rest[0]);
    fr_service_close(svc);
    if (rc < 0) return fr_cli_err(rc, "backup");
    printf("database copied to %s\n", rest[0]);
    return FR_EXIT_OK;
}

/* The database replaced by a copy `facerec backup` wrote (fr_svc_restore):
 * offline, with every facerec process on the database stopped. Refused,
 * with nothing changed, for a file that is not a facerec backup of the
 * configured backend, while another process has the database open, and
 * while the database holds data unless --force. The index is rebuilt from
 * the restored faces when the service starts. */
int cmd_restore(int argc, char **argv) {
    static const char usage[] = "usage: facerec restore FILE [--force] [--config FILE]\n"
                                "  replaces the database with the backup FILE; stop every facerec serve first;\n"
                                "  --force: also when the database holds data (it is lost)\n";
    struct fr_config cfg;
    struct fr_svc_config sc;
    char *rest[64];
    const char *file = NULL;
    int n_rest, force = 0, extra = 0;
    if (argc > 60 || load_config(argc, argv, 1, &cfg, rest, &n_rest) < 0) return FR_EXIT_ERROR;
    for (int i = 0; i < n_rest; i++) {
        if (!strcmp(rest[i], "--force")) force = 1;
        else if (rest[i][0] != '-' && !file) file = rest[i];
        else extra = 1;
    }
    if (!file || extra) {
        fputs(usage, stderr);
        return FR_EXIT_USAGE;
    }
    umask(077);                     /* the restored database holds key hashes and embeddings: owner only */
    svc_config(&cfg, &sc);
    const struct fr_svc_actor who = { 0, "admin:cli", NULL };
    int rc = fr_svc_restore(&sc, &who, file, force);
    if (rc < 0) return fr_cli_err(rc, "restore");
    printf("database restored from %s\n", file);
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
    struct fr_service *svc = NULL;
    if (fr_cli_open_service(&cfg, FR_SVC_ALL, &svc) < 0) return FR_EXIT_ERROR;
    struct fr_svc_reembed_stats st;
    char model[FR_FACE_MODEL_ID_LEN + 1] = "";
    int rc = fr_svc_reembed(svc, &st);
    if (fr_svc_model_id(svc)) snprintf(model, sizeof model, "%s", fr_svc_model_id(svc));
    fr_service_close(svc);
    if (rc < 0) return fr_cli_err(rc, "reembed");
    printf("re-embedded %lld faces with model %s; %lld kept on their old model (no face found)\n",
           (long long)st.reembedded, model, (long long)st.failed);
    return st.failed ? FR_EXIT_FAIL : FR_EXIT_OK;
}
