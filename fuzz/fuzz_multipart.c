/* libFuzzer target: an untrusted multipart/form-data request.
 *
 * The first line of the input is the Content-Type header value, the rest the
 * body. A parse that succeeds must describe parts that lie inside the body,
 * with sane names; every text getter must answer 0 or VALIDATION_ERROR; a
 * failure must be VALIDATION_ERROR with a detail. The parser allocates
 * nothing, and the counted allocator must say so.
 *
 *   make fuzz && build/fuzz/fuzz_multipart -max_len=16384 fuzz/corpus/multipart
 *
 * tests/http/test_parse.c includes this file with FR_FUZZ_EMBED defined and
 * replays fuzz/corpus/multipart through fuzz_multipart_one in make test;
 * built with -DFR_FUZZ_REPLAY it gets the main() of replay_main.c. */
#include "http/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(x) do { if (!(x)) { \
    fprintf(stderr, "fuzz_multipart: %s failed (%s)\n", #x, fr_err_detail()); abort(); } } while (0)

static void check_part(const fr_multipart *mp, size_t i, const uint8_t *body, size_t len) {
    const fr_part *p = &mp->parts[i];
    size_t nl = strnlen(p->name, sizeof p->name);
    FUZZ_CHECK(nl > 0 && nl <= FR_MP_MAX_NAME);
    FUZZ_CHECK(strnlen(p->filename, sizeof p->filename) <= FR_MP_MAX_FILENAME);
    FUZZ_CHECK(p->has_filename || p->filename[0] == '\0');
    FUZZ_CHECK(p->data >= body && p->len <= len && (size_t)(p->data - body) <= len - p->len);
    if (p->content_type) {
        const uint8_t *ct = (const uint8_t *)p->content_type;
        FUZZ_CHECK(ct >= body && (size_t)(ct - body) + p->content_type_len <= len);
    }
    for (size_t k = 0; k < nl; k++) FUZZ_CHECK((unsigned char)p->name[k] >= 0x20 || p->name[k] == '\t');
    const fr_part *g = fr_multipart_get(mp, p->name);
    FUZZ_CHECK(g && g <= p && strcmp(g->name, p->name) == 0);
    char buf[64];
    int rc = fr_multipart_text(mp, p->name, 1, buf, sizeof buf);
    FUZZ_CHECK(rc == 0 || rc == -FR_E_VALIDATION_ERROR);
    if (rc == 0) FUZZ_CHECK(strlen(buf) == g->len);
}

static int fuzz_multipart_one(const uint8_t *data, size_t size) {
    size_t used0 = fr_mem_used();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : size;
    char *ct = malloc(ct_len + 1);
    if (!ct) return 0;
    memcpy(ct, data, ct_len);
    ct[ct_len] = '\0';
    /* the body is an exact-size copy, so a read past its end is caught */
    size_t len = nl ? size - ct_len - 1 : 0;
    uint8_t *body = malloc(len ? len : 1);
    if (!body) { free(ct); return 0; }
    if (len) memcpy(body, nl + 1, len);
    fr_multipart *mp = malloc(sizeof *mp);
    if (!mp) { free(ct); free(body); return 0; }
    fr_err_clear();
    int rc = fr_multipart_parse(ct, body, len, mp);
    if (rc == 0) {
        FUZZ_CHECK(mp->n_parts <= FR_MP_MAX_PARTS);
        for (size_t i = 0; i < mp->n_parts; i++) check_part(mp, i, body, len);
        char buf[8] = "keep";
        FUZZ_CHECK(fr_multipart_text(mp, "\x01" "absent", 0, buf, sizeof buf) == 0 && strcmp(buf, "keep") == 0);
    } else {
        FUZZ_CHECK(rc == -FR_E_VALIDATION_ERROR && fr_err_detail()[0] != '\0');
    }
    FUZZ_CHECK(fr_mem_used() == used0);
    free(mp);
    free(body);
    free(ct);
    return 0;
}

#ifndef FR_FUZZ_EMBED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_multipart_one(data, size); }
#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
#endif
