/* libFuzzer target: an untrusted image file (any format fr_image_decode
 * knows; the format is sniffed from the bytes, so one target covers every
 * decoder, the EXIF reader and the rotation).
 *
 * Tight limits (1 MiB, 4 MP) keep each input fast. A decoded image must have
 * a sane size within the limit and every byte of it readable; a failure must
 * be one of the documented codes. The counted allocator must be back where
 * it started (a leak of our own accounting aborts, so the fuzzer reports it).
 *
 *   make fuzz && build/fuzz/fuzz_image -max_len=65536 fuzz/corpus/image
 *
 * Built with -DFR_FUZZ_REPLAY (any C compiler, no libFuzzer) it gets the
 * main() of replay_main.c. tests/image/test_image.c replays the corpus with
 * the same limits in make test. */
#include "facerec/image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const struct fr_image_limits lim = { (size_t)1 << 20, (int64_t)4 << 20 };
    size_t used0 = fr_mem_used();
    struct fr_image img;
    int rc = fr_image_decode(data, size, &lim, &img);
    if (rc == 0) {
        if (img.w <= 0 || img.h <= 0 || (int64_t)img.w * img.h > lim.max_pixels || img.channels != 3 ||
            !img.data) {
            fprintf(stderr, "fuzz_image: bad image %dx%dx%d\n", img.w, img.h, img.channels);
            abort();
        }
        /* touch every byte so a short buffer shows up here */
        size_t n = (size_t)img.w * (size_t)img.h * 3;
        unsigned sum = 0;
        for (size_t i = 0; i < n; i++) sum += img.data[i];
        volatile unsigned sink = sum;
        (void)sink;
    } else if (rc != -FR_E_INVALID_FILE_FORMAT && rc != -FR_E_FILE_TOO_LARGE && rc != -FR_E_NOMEM) {
        fprintf(stderr, "fuzz_image: unexpected error %s (%s)\n", fr_err_name(rc), fr_err_detail());
        abort();
    }
    fr_image_free(&img);
    /* the reduced-scale path (JPEG DCT scaling): never larger than the full
     * size it reports, never empty, the same verdict as the full decode */
    int fw = 0, fh = 0;
    int rc2 = fr_image_decode_reduced(data, size, &lim, 16, &img, &fw, &fh);
    if ((rc2 == 0) != (rc == 0) && rc2 != -FR_E_NOMEM && rc != -FR_E_NOMEM) {
        fprintf(stderr, "fuzz_image: full decode %d, reduced decode %d\n", rc, rc2);
        abort();
    }
    if (rc2 == 0 && (img.w <= 0 || img.h <= 0 || img.w > fw || img.h > fh || !img.data)) {
        fprintf(stderr, "fuzz_image: reduced %dx%d of %dx%d\n", img.w, img.h, fw, fh);
        abort();
    }
    fr_image_free(&img);
    if (fr_mem_used() != used0) {
        fprintf(stderr, "fuzz_image: decoder leaked %zu bytes (%s)\n", fr_mem_used() - used0, fr_err_detail());
        abort();
    }
    return 0;
}

#ifdef FR_FUZZ_REPLAY
#include "replay_main.c"
#endif
