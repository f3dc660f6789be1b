/* libFuzzer target: an untrusted webhook registration body.
 *
 * The bytes go through fr_json_parse_body (1 MiB), then the API's field
 * parser (fr_api_webhook_fields, as POST and as PATCH /api/v1/webhooks) and
 * the service's own rules (fr_svc_webhook_check: the URL's syntax with
 * libcurl's parser — no DNS here —, the event names, the description). Each
 * answer must be 0 or VALIDATION_ERROR naming a field of the body; an
 * accepted body must have an http(s) URL without credentials and known
 * event names. The counted allocator must end where it started.
 *
 *   make fuzz && build/fuzz/fuzz_webhook -max_len=8192 fuzz/corpus/webhook
 *
 * tests/http/test_parse.c includes this file with FR_FUZZ_EMBED defined and
 * replays fuzz/corpus/webhook through fuzz_webhook_one in make test. */
#include "api/api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WCHECK(x) do { if (!(x)) { \
    fprintf(stderr, "fuzz_webhook: %s failed (%s)\n", #x, fr_err_detail()); abort(); } } while (0)

/* A refusal is VALIDATION_ERROR naming one of the body's fields. */
static void refused_well(int rc) {
    WCHECK(rc == -FR_E_VALIDATION_ERROR);
    const char *k = fr_err_key(), *v = fr_err_value();
    WCHECK(!strcmp(k, "field"));
    WCHECK(!strcmp(v, "url") || !strcmp(v, "events") || !strcmp(v, "description") || !strcmp(v, "enabled"));
}

static void accepted_well(const struct fr_svc_webhook_fields *f, int create) {
    /* (credentials are libcurl's parser's to find: "http:/s/u:p@x" has none) */
    if (create || f->url) WCHECK(f->url && !strncasecmp(f->url, "http", 4) && strlen(f->url) <= 2048);
    for (int i = 0; i < f->n_events; i++)
        WCHECK(!strcmp(f->events[i], "*") || fr_svc_event_type_find(f->events[i]) != NULL);
}

static int fuzz_webhook_one(const uint8_t *data, size_t size) {
    size_t used0 = fr_mem_used();
    json_t *root = NULL;
    int rc = fr_json_parse_body(data, size, (size_t)1 << 20, &root);
    if (rc == 0) {
        for (int create = 0; create < 2; create++) {
            const char *names[FR_SVC_WEBHOOK_EVENTS_MAX];
            struct fr_svc_webhook_fields f;
            fr_err_clear();
            rc = fr_api_webhook_fields(root, create, &f, names);
            if (rc == 0) rc = fr_svc_webhook_check(&f, create);
            if (rc == 0) accepted_well(&f, create);
            else refused_well(rc);
        }
        json_decref(root);
    } else {
        WCHECK(!root && (rc == -FR_E_VALIDATION_ERROR || rc == -FR_E_FILE_TOO_LARGE));
    }
    WCHECK(fr_mem_used() == used0);
    return 0;
}

#ifndef FR_FUZZ_EMBED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int once;
    if (!once) {
        fr_json_use_fr_alloc();
        once = 1;
    }
    return fuzz_webhook_one(data, size);
}
#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
#endif
