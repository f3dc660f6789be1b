/* libFuzzer target: an untrusted request line against the route table.
 *
 * The input up to the first space or line break is the method, the rest the
 * request target (path and query). It is matched against a copy of the
 * service's route table (issue 4). The answer must be a row whose method and
 * pattern fit, 404, 405 with a non-empty Allow list of the table's methods,
 * 413-style LIMIT_EXCEEDED for a long path, or VALIDATION_ERROR for a bad
 * parameter; parameters must be short and free of '/' and control bytes.
 * The query string is then searched with fr_query_param.
 *
 *   make fuzz && build/fuzz/fuzz_router -max_len=4096 fuzz/corpus/router
 *
 * tests/http/test_parse.c includes this file with FR_FUZZ_EMBED defined and
 * replays fuzz/corpus/router through fuzz_router_one in make test. */
#include "http/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RCHECK(x) do { if (!(x)) { \
    fprintf(stderr, "fuzz_router: %s failed (%s)\n", #x, fr_err_detail()); abort(); } } while (0)

static const fr_route fuzz_routes[] = {
    { "GET",    "/health",                              1,  FR_ROUTE_AUTH_NONE },
    { "GET",    "/health/ready",                        2,  FR_ROUTE_AUTH_NONE },
    { "GET",    "/status",                              3,  FR_ROUTE_AUTH_NONE },
    { "GET",    "/metrics",                             4,  FR_ROUTE_AUTH_NONE },
    { "GET",    "/openapi.json",                        5,  FR_ROUTE_AUTH_NONE },
    { "GET",    "/",                                    6,  FR_ROUTE_AUTH_NONE },
    { "POST",   "/api/v1/admin/clients",                10, FR_ROUTE_AUTH_ADMIN },
    { "GET",    "/api/v1/admin/clients",                11, FR_ROUTE_AUTH_ADMIN },
    { "GET",    "/api/v1/admin/clients/{id}",           12, FR_ROUTE_AUTH_ADMIN },
    { "PATCH",  "/api/v1/admin/clients/{id}",           13, FR_ROUTE_AUTH_ADMIN },
    { "DELETE", "/api/v1/admin/clients/{id}",           14, FR_ROUTE_AUTH_ADMIN },
    { "POST",   "/api/v1/admin/clients/{id}/rotate-key", 15, FR_ROUTE_AUTH_ADMIN },
    { "GET",    "/api/v1/admin/audit",                  16, FR_ROUTE_AUTH_ADMIN },
    { "GET",    "/api/v1/usage",                        20, FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/subjects",                     21, FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/subjects",                     22, FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/subjects/{id}",                23, FR_ROUTE_AUTH_CLIENT },
    { "PATCH",  "/api/v1/subjects/{id}",                24, FR_ROUTE_AUTH_CLIENT },
    { "DELETE", "/api/v1/subjects/{id}",                25, FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/subjects/{id}/faces",          26, FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/subjects/{id}/faces",          27, FR_ROUTE_AUTH_CLIENT },
    { "DELETE", "/api/v1/faces/{id}",                   28, FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/identify",                     29, FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/verify",                       30, FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/detect",                       31, FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/embeddings",                   32, FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/t/{a}/{b}/{c}/{d}",            33, FR_ROUTE_AUTH_CLIENT },
};
#define N_FUZZ_ROUTES (sizeof fuzz_routes / sizeof fuzz_routes[0])

static int known_method(const char *m, size_t n) {
    static const char *const ms[] = { "GET", "HEAD", "POST", "PATCH", "DELETE" };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        if (strlen(ms[i]) == n && memcmp(ms[i], m, n) == 0) return 1;
    return 0;
}

static void check_allow(const char *allow) {
    RCHECK(allow[0] != '\0');
    for (const char *p = allow; *p;) {
        size_t l = strcspn(p, ",");
        RCHECK(known_method(p, l));
        p += l;
        if (*p) { RCHECK(p[1] == ' '); p += 2; }
    }
}

static void check_match(int r, const char *method, const fr_route_params *rp) {
    RCHECK(r < (int)N_FUZZ_ROUTES);
    const fr_route *row = &fuzz_routes[r];
    RCHECK(strcmp(row->method, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(row->method, "GET") == 0));
    RCHECK(rp->n <= FR_ROUTE_MAX_PARAMS);
    for (size_t i = 0; i < rp->n; i++) {
        const char *v = rp->v[i].value;
        size_t vl = strnlen(v, sizeof rp->v[i].value);
        RCHECK(vl > 0 && vl <= FR_ROUTE_PARAM_MAX);
        for (size_t k = 0; k < vl; k++) RCHECK(v[k] != '/' && (unsigned char)v[k] >= 0x20 && v[k] != 0x7f);
        RCHECK(strstr(row->pattern, rp->v[i].name) != NULL);
        RCHECK(fr_route_param(rp, rp->v[i].name) != NULL);
    }
}

static int fuzz_router_one(const uint8_t *data, size_t size) {
    char *in = malloc(size + 1);
    if (!in) return 0;
    if (size) memcpy(in, data, size);
    in[size] = '\0';
    size_t ml = strcspn(in, " \n");
    const char *path = in[ml] ? in + ml + 1 : in + ml;
    in[ml] = '\0';
    fr_route_params rp;
    int r = fr_route_match(fuzz_routes, N_FUZZ_ROUTES, in, path, &rp);
    if (r >= 0) check_match(r, in, &rp);
    else if (r == FR_ROUTE_METHOD_NOT_ALLOWED) check_allow(rp.allow);
    else RCHECK(r == -FR_E_NOT_FOUND || r == -FR_E_LIMIT_EXCEEDED || r == -FR_E_VALIDATION_ERROR);
    if (r != -FR_E_LIMIT_EXCEEDED && rp.query) {
        RCHECK(rp.query > path && rp.query[-1] == '?');
        static const char *const names[] = { "limit", "cursor", "", "a" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char buf[16];
            int rc = fr_query_param(rp.query, names[i], buf, sizeof buf);
            RCHECK(rc == 0 || rc == -FR_E_NOT_FOUND || rc == -FR_E_VALIDATION_ERROR);
            if (rc == 0) RCHECK(strlen(buf) < sizeof buf);
        }
    }
    free(in);
    return 0;
}

#ifndef FR_FUZZ_EMBED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_router_one(data, size); }
#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
#endif
