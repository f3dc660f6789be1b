/* facerec detect | embed | verify: the face pipeline from the command line,
 * through the same service functions as the HTTP API; --json prints the
 * API's data object (the same field names, src/api/render.c).
 *   facerec detect IMG [--json] [--liveness] [--attributes] [--small-faces]
 *                                             boxes, landmarks, quality and pose (and liveness);
 *                                             --attributes: age, gender, expression, eyes open;
 *                                             --small-faces adds tiled passes for faces down to ~20 px
 *   facerec embed IMG [--json]                 the same with embeddings
 *   facerec verify IMG1 IMG2 [--json] [--threshold T]   exit 0 match, 1 no match, 2 error
 * Configured as `facerec serve` is (FACEREC_MODELS_DIR, FACEREC_MATCH_THRESHOLD, ...). */
#include "cli.h"

#include "api/render.h"
#include "http/http.h"
#include "facerec/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The error as the API's envelope would carry it (--json), or a line on stderr. */
static int fail(int json, int rc, const char *what) {
    if (!json) return fr_cli_err(rc, what);
    json_t *e = json_pack("{s:b,s:s,s:s,s:s,s:{}}", "success", 0, "code", fr_err_name(rc), "error_type",
                          fr_err_type(rc), "message", fr_err_detail()[0] ? fr_err_detail() : fr_strerror(rc),
                          "details");
    const char *key = fr_err_key();
    if (e && key[0]) json_object_set_new(json_object_get(e, "details"), key, json_string(fr_err_value()));
    json_dumpf(e, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(e);
    return FR_EXIT_ERROR;
}

static int print_json(json_t *v) {
    if (!v) return -FR_E_NOMEM;
    int rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) == 0 ? 0 : -FR_E_IO;
    putchar('\n');
    json_decref(v);
    return rc;
}

/* The configuration and the service with the models only. */
static int open_models(struct fr_config *cfg, struct fr_service **svc) {
    int rc = fr_config_load(cfg, NULL);
    if (rc < 0) return fr_cli_err(rc, "configuration");
    fr_json_use_fr_alloc();
    return fr_cli_open_service(cfg, FR_SVC_MODELS, svc) < 0 ? FR_EXIT_ERROR : 0;
}

static int read_photo(const struct fr_config *cfg, const char *path, uint8_t **buf, struct fr_svc_photo *p) {
    size_t len = 0;
    int rc = fr_file_read(path, (size_t)cfg->max_upload_bytes, buf, &len);
    *p = (struct fr_svc_photo){ *buf, len, 0 };
    return rc;
}

static void print_text(const char *path, const struct fr_svc_faces *r) {
    printf("%s: %dx%d, %d face%s\n", path, r->width, r->height, r->n, r->n == 1 ? "" : "s");
    for (int i = 0; i < r->n; i++) {
        const struct fr_svc_face *f = &r->faces[i];
        printf("  face %d: box [%.0f, %.0f, %.0f, %.0f] score %.3f", i, (double)f->f.box[0], (double)f->f.box[1],
               (double)f->f.box[2], (double)f->f.box[3], (double)f->f.score);
        if (f->q.score > 0 || f->q.reasons)
            printf(", quality %.2f%s, yaw %.0f pitch %.0f roll %.0f", (double)f->q.score, f->q.reasons ? " (flagged)" : "",
                   (double)f->q.yaw, (double)f->q.pitch, (double)f->q.roll);
        if (f->has_live) printf(", live %.3f", (double)f->live);
        if (f->has_attr)
            printf(", age %.0f, male %.2f, %s", (double)f->a.age, (double)f->a.gender_male,
                   f->a.expression_name ? f->a.expression_name : "?");
        if (f->f.has_emb) printf(", embedding [%.4f, %.4f, ...]", (double)f->f.emb[0], (double)f->f.emb[1]);
        printf("\n");
    }
}

static int detect_or_embed(int argc, char **argv, int embed) {
    const char *path = NULL;
    int json = 0;
    struct fr_svc_analyze_req r = { 0 };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--attributes") && !embed) r.attributes = 1;
        else if (!strcmp(argv[i], "--liveness") && !embed) r.liveness = 1;
        else if (!strcmp(argv[i], "--small-faces")) r.small_faces = 1;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { fprintf(stderr, "facerec %s: bad option %s\n", argv[0], argv[i]); return FR_EXIT_USAGE; }
    }
    if (!path) {
        fprintf(stderr, "usage: facerec %s IMG [--json]%s [--small-faces]\n", argv[0],
                embed ? "" : " [--liveness] [--attributes]");
        return FR_EXIT_USAGE;
    }
    struct fr_config cfg;
    struct fr_service *svc = NULL;
    struct fr_svc_faces res = { 0 };
    struct fr_svc_timing t = { 0 };
    uint8_t *buf = NULL;
    int ex = open_models(&cfg, &svc);
    if (ex) return ex;
    int rc = read_photo(&cfg, path, &buf, &r.photo);
    if (rc == 0) rc = embed ? fr_svc_embeddings(svc, &r, &t, &res) : fr_svc_detect(svc, &r, &t, &res);
    if (rc < 0) ex = fail(json, rc, path);
    else if (!json) print_text(path, &res);
    else if ((rc = print_json(embed ? fr_render_embeddings(&res, NULL)
                                    : fr_render_detect(&res, (float)cfg.liveness_threshold, r.liveness,
                                                       r.attributes))) < 0)
        ex = fail(json, rc, path);
    fr_svc_faces_free(&res);
    fr_free(buf);
    fr_service_close(svc);
    return ex;
}

int cmd_detect(int argc, char **argv) { return detect_or_embed(argc, argv, 0); }
int cmd_embed(int argc, char **argv) { return detect_or_embed(argc, argv, 1); }

int cmd_verify(int argc, char **argv) {
    const char *paths[2] = { NULL, NULL };
    int json = 0, np = 0;
    struct fr_svc_verify_req r = { 0 };
    r.threshold = -1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        char *end;
        if (!strcmp(argv[i], "--json")) json = 1;
        else if ((v = fr_cli_opt(argc, argv, &i, "--threshold"))) {
            r.threshold = strtof(v, &end);
            if (*end || r.threshold < 0 || r.threshold > 1) {
                fprintf(stderr, "facerec verify: --threshold must be a number in [0, 1]\n");
                return FR_EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && np < 2) paths[np++] = argv[i];
        else { fprintf(stderr, "facerec verify: bad option %s\n", argv[i]); return FR_EXIT_USAGE; }
    }
    if (np != 2) { fprintf(stderr, "usage: facerec verify IMG1 IMG2 [--json] [--threshold T]\n"); return FR_EXIT_USAGE; }
    struct fr_config cfg;
    struct fr_service *svc = NULL;
    struct fr_svc_verify_result res;
    struct fr_svc_timing t = { 0 };
    uint8_t *buf[2] = { NULL, NULL };
    int ex = open_models(&cfg, &svc);
    if (ex) return ex;
    int rc = read_photo(&cfg, paths[0], &buf[0], &r.a);
    if (rc == 0) rc = read_photo(&cfg, paths[1], &buf[1], &r.b);
    if (rc == 0) rc = fr_svc_verify(svc, &r, &t, &res);
    if (rc < 0) ex = fail(json, rc, !strcmp(fr_err_value(), "photo_b") ? paths[1] : paths[0]);
    else if (json && (rc = print_json(fr_render_verify(&res))) < 0) ex = fail(json, rc, "verify");
    else if (!json)
        printf("similarity %.4f, threshold %.4f: %s\n", res.similarity, (double)res.threshold,
               res.match ? "match" : "no match");
    if (!ex) ex = res.match ? FR_EXIT_OK : FR_EXIT_FAIL;
    fr_free(buf[0]);
    fr_free(buf[1]);
    fr_service_close(svc);
    return ex;
}
