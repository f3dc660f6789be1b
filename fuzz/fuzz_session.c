/* libFuzzer target: an untrusted camera session body (POST /api/v1/sessions).
 *
 * The bytes go through fr_json_parse_body (1 MiB, as the API reads a body),
 * then the API's field parser (fr_api_session_fields) and the service's own
 * rules (fr_svc_session_check: no database, no DNS), once with file: camera
 * URLs allowed (FACEREC_CAMERA_ALLOW_FILES) and once without. Each answer
 * must be 0, NOMEM, or VALIDATION_ERROR naming a field of the body. An
 * accepted body must be in range field by field: a slot_id of 1 to 128
 * bytes without control characters, 1 to 16 cameras with distinct keys,
 * each a registered camera or a URL the camera reader takes (file: only
 * when allowed), an http(s) callback URL, every number in its documented
 * range, and a field given as null left at its default (null means "not
 * given"). The counted allocator must end where it started.
 *
 *   make fuzz && build/fuzz/fuzz_session -max_len=16384 fuzz/corpus/session
 *
 * tests/http/test_parse.c includes this file with FR_FUZZ_EMBED defined and
 * replays fuzz/corpus/session through fuzz_session_one in make test. */
#include "api/api.h"
#include "sessions/camera.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHECK(x) do { if (!(x)) { \
    fprintf(stderr, "fuzz_session: %s failed (%s)\n", #x, fr_err_detail()); abort(); } } while (0)

/* The fields a refusal may name: the body's top-level keys (a camera's own
 * fields are reported as "cameras", auto_stop's and callback_policy's as
 * theirs). */
static const char *const session_fields[] = {
    "body", "slot_id", "cameras", "callback_url", "callback_secret", "mode", "cooldown_seconds", "fps",
    "threshold", "min_face_px", "min_quality", "liveness", "report_unknown", "snapshot", "subjects",
    "duration_seconds", "ends_at", "auto_stop", "callback_policy",
};

static void session_refused_well(int rc) {
    if (rc == -FR_E_NOMEM) return;
    SCHECK(rc == -FR_E_VALIDATION_ERROR);
    SCHECK(!strcmp(fr_err_key(), "field"));
    const char *v = fr_err_value();
    int known = 0;
    for (size_t i = 0; i < sizeof session_fields / sizeof session_fields[0]; i++) known |= !strcmp(v, session_fields[i]);
    if (!known) fprintf(stderr, "fuzz_session: refused naming field '%s'\n", v);
    SCHECK(known);
}

/* 1..128 bytes, no control characters. */
static int session_text_ok(const char *s) {
    if (!s || !*s || strlen(s) > FR_SVC_SLOT_MAX) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* x is the default (-1) or within [lo, hi]. */
static int in_range_or_default(double x, double lo, double hi) { return x == -1 || (x >= lo && x <= hi); }

/* A key given as null is not given: its field keeps the default. */
static int session_null(json_t *o, const char *key) { return json_is_null(json_object_get(o, key)); }

static void session_accepted_well(json_t *root, const struct fr_svc_session_req *r, int allow_files) {
    SCHECK(session_text_ok(r->slot_id));
    SCHECK(r->n_cameras >= 1 && r->n_cameras <= 16 && r->cameras);
    for (int i = 0; i < r->n_cameras; i++) {
        const struct fr_svc_session_camera_req *c = &r->cameras[i];
        SCHECK(c->camera_id >= 0);
        if (c->camera_id > 0) {
            SCHECK(!c->url);
        } else {
            SCHECK(c->url && fr_camera_check_url(c->url, allow_files) == 0);
            SCHECK(allow_files || strncasecmp(c->url, "file:", 5) != 0);
        }
        /* the key the session stores: the given one, else the registered camera's id */
        char ki[24];
        snprintf(ki, sizeof ki, "%lld", (long long)c->camera_id);
        const char *k = c->key ? c->key : ki;
        SCHECK(session_text_ok(k));
        SCHECK(!c->name || session_text_ok(c->name));
        SCHECK(c->transport >= -1 && c->transport <= 1);
        for (int j = 0; j < i; j++) {
            const struct fr_svc_session_camera_req *d = &r->cameras[j];
            char kj[24];
            snprintf(kj, sizeof kj, "%lld", (long long)d->camera_id);
            SCHECK(strcmp(k, d->key ? d->key : kj) != 0);
        }
    }
    SCHECK(r->callback_url && !strncasecmp(r->callback_url, "http", 4) && strlen(r->callback_url) <= 2048);
    SCHECK(r->mode >= -1 && r->mode <= 1);
    SCHECK(in_range_or_default(r->cooldown_s, 0, 86400));
    SCHECK(in_range_or_default(r->fps, 0.1, 30));
    SCHECK(isnan(r->threshold) || (r->threshold >= 0 && r->threshold <= 1));
    SCHECK(r->min_face_px >= -1 && r->min_face_px <= 4096);
    SCHECK(in_range_or_default(r->min_quality, 0, 1));
    SCHECK(r->liveness == 0 || r->liveness == 1);
    SCHECK(r->report_unknown == 0 || r->report_unknown == 1);
    SCHECK(r->snapshot >= -1 && r->snapshot <= 1);
    SCHECK(r->n_roster_ids >= 0 && r->n_roster_external >= 0 &&
           r->n_roster_ids + r->n_roster_external <= FR_SVC_SESSION_ROSTER_MAX);
    for (int i = 0; i < r->n_roster_ids; i++) SCHECK(r->roster_ids[i] > 0);
    for (int i = 0; i < r->n_roster_external; i++)
        SCHECK(r->roster_external[i] && *r->roster_external[i] && strlen(r->roster_external[i]) <= FR_SVC_NAME_MAX);
    SCHECK(in_range_or_default(r->duration_s, 1, 604800));
    SCHECK(r->ends_at >= 0);
    SCHECK(r->duration_s == -1 || r->ends_at == 0);
    SCHECK(r->max_failures >= -1 && r->max_failures <= 1000000);
    SCHECK(in_range_or_default(r->max_failure_s, 0, 86400));
    SCHECK(r->cb_attempts == -1 || (r->cb_attempts >= 1 && r->cb_attempts <= FR_SVC_CALLBACK_ATTEMPTS_MAX));
    SCHECK(r->n_cb_backoff >= 0 && r->n_cb_backoff <= FR_SVC_CALLBACK_ATTEMPTS_MAX);
    for (int i = 0; i < r->n_cb_backoff; i++)
        SCHECK(r->cb_backoff_s[i] >= 0 && r->cb_backoff_s[i] <= 3600 && r->cb_backoff_s[i] == floor(r->cb_backoff_s[i]));
    SCHECK(in_range_or_default(r->cb_timeout_s, 0.1, 60));
    /* null is "not given" */
    if (session_null(root, "mode")) SCHECK(r->mode == -1);
    if (session_null(root, "cooldown_seconds")) SCHECK(r->cooldown_s == -1);
    if (session_null(root, "fps")) SCHECK(r->fps == -1);
    if (session_null(root, "threshold")) SCHECK(isnan(r->threshold));
    if (session_null(root, "min_face_px")) SCHECK(r->min_face_px == -1);
    if (session_null(root, "min_quality")) SCHECK(r->min_quality == -1);
    if (session_null(root, "liveness")) SCHECK(r->liveness == 0);
    if (session_null(root, "report_unknown")) SCHECK(r->report_unknown == 0);
    if (session_null(root, "snapshot")) SCHECK(r->snapshot == -1);
    if (session_null(root, "duration_seconds")) SCHECK(r->duration_s == -1);
    if (session_null(root, "ends_at")) SCHECK(r->ends_at == 0);
    if (session_null(root, "subjects")) SCHECK(r->n_roster_ids + r->n_roster_external == 0);
    json_t *as = json_object_get(root, "auto_stop");
    if (session_null(as, "max_consecutive_failures")) SCHECK(r->max_failures == -1);
    if (session_null(as, "max_failure_seconds")) SCHECK(r->max_failure_s == -1);
    json_t *cp = json_object_get(root, "callback_policy");
    if (session_null(cp, "attempts")) SCHECK(r->cb_attempts == -1);
    if (session_null(cp, "timeout_seconds")) SCHECK(r->cb_timeout_s == -1);
}

static int fuzz_session_one(const uint8_t *data, size_t size) {
    size_t used0 = fr_mem_used();
    json_t *root = NULL;
    int rc = fr_json_parse_body(data, size, (size_t)1 << 20, &root);
    if (rc == 0) {
        for (int allow_files = 0; allow_files < 2; allow_files++) {
            struct fr_svc_config cfg;
            struct fr_svc_session_req r;
            struct fr_api_session_buf b;
            memset(&cfg, 0, sizeof cfg);
            cfg.camera_allow_files = allow_files;
            fr_err_clear();
            rc = fr_api_session_fields(root, &r, &b);
            if (rc == 0) rc = fr_svc_session_check(&cfg, &r);
            if (rc == 0) session_accepted_well(root, &r, allow_files);
            else session_refused_well(rc);
            fr_api_session_buf_free(&b);
        }
        json_decref(root);
    } else {
        SCHECK(!root && (rc == -FR_E_VALIDATION_ERROR || rc == -FR_E_FILE_TOO_LARGE || rc == -FR_E_NOMEM));
    }
    SCHECK(fr_mem_used() == used0);
    return 0;
}

#ifndef FR_FUZZ_EMBED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int once;
    if (!once) {
        fr_json_use_fr_alloc();
        fr_log_set_level(FR_LOG_ERROR);
        once = 1;
    }
    return fuzz_session_one(data, size);
}
#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
#endif
