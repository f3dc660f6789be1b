/* libFuzzer target: an index snapshot file (data/index/c<client>-<model>.fidx), which the
 * service loads at start. The bytes go to an anonymous memory file and
 * through fr_index_load (twice: see fuzz_index_one); a loaded index must answer a search and report a
 * size that fits in the file; a failure must be a documented code; the
 * counted allocator must be back where it started.
 *
 *   make fuzz && build/fuzz/fuzz_index fuzz/corpus/index
 *
 * tests/index/test_index_fuzz.c includes this file with FR_FUZZ_EMBED
 * defined and replays fuzz/corpus/index in make test. */
#include "facerec/index.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int load_one(const uint8_t *data, size_t size) {
    size_t used0 = fr_mem_used();
    int fd = memfd_create("fidx", 0);
    if (fd < 0) return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fr_index *ix = NULL;
    int rc = fr_index_load(path, &ix);
    close(fd);
    if (rc == 0) {
        size_t n = fr_index_size(ix);
        int dim = fr_index_dim(ix);
        if (dim < 1 || n * (size_t)dim * 4 > size) {
            fprintf(stderr, "fuzz_index: %zu rows of %d floats from %zu bytes\n", n, dim, size);
            abort();
        }
        float *q = fr_calloc((size_t)dim * 4, sizeof *q);
        struct fr_hit hits[4 * 3];
        int nh[4];
        if (q) {
            for (int i = 0; i < dim * 4; i++) q[i] = (float)((i * 7919) % 13) / 13.0f - 0.5f;
            fr_index_search(ix, q, 1, 3, -INFINITY, 0, hits, nh);
            fr_index_search(ix, q, 4, 3, -INFINITY, FR_INDEX_PER_LABEL, hits, nh);
        }
        fr_free(q);
        fr_index_free(ix);
    } else if (rc != -FR_E_IO && rc != -FR_E_INVALID_ARGUMENT && rc != -FR_E_NOMEM && rc != -FR_E_LIMIT_EXCEEDED) {
        fprintf(stderr, "fuzz_index: undocumented error %d (%s)\n", rc, fr_err_detail());
        abort();
    }
    if (fr_mem_used() != used0) {
        fprintf(stderr, "fuzz_index: %zu bytes leaked\n", fr_mem_used() - used0);
        abort();
    }
    return 0;
}

/* Each input twice: as it is (mostly stopped by the checksum), and with the
 * header's SHA-256 (bytes 32..63, over bytes 0..31 and 64..) made right, so
 * the structural checks behind the checksum get fuzzed too. */
static int fuzz_index_one(const uint8_t *data, size_t size) {
    load_one(data, size);
    if (size < 64) return 0;
    uint8_t *c = malloc(size);
    if (!c) return 0;
    memcpy(c, data, size);
    unsigned n = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) && EVP_DigestUpdate(m, c, 32) &&
        EVP_DigestUpdate(m, c + 64, size - 64) && EVP_DigestFinal_ex(m, c + 32, &n))
        load_one(c, size);
    EVP_MD_CTX_free(m);
    free(c);
    return 0;
}

#ifndef FR_FUZZ_EMBED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_index_one(data, size); }
#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
#endif
