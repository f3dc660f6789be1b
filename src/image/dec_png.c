/* PNG through libspng.
 *
 * libspng instead of libpng: it returns error codes instead of longjmp-ing
 * out of the decoder (libpng's png_error needs setjmp in every caller, and
 * anything allocated between setjmp and the jump leaks unless it is held in
 * volatile locals), it converts every PNG colour type and bit depth to RGBA8
 * in one call, and it takes our allocator, so its memory is counted and
 * fails on cue in the allocation-failure tests.
 *
 * Every PNG is decoded as RGBA8 with tRNS applied (palette, grey, 16-bit and
 * interlaced included), then flattened onto white in place and shrunk to RGB.
 * The header's size is checked before the buffer exists. Ancillary chunks with
 * bad CRCs are dropped (they carry nothing we use); critical ones fail. The
 * chunk cache (text, ICC profiles) is capped at 8 MiB. */
#include "image/image_int.h"

#include <spng.h>
#include <string.h>

/* libspng reports a failed allocation inside zlib as SPNG_EZLIB_INIT and the
 * like, not SPNG_EMEM; these wrappers note any failure so that it is
 * reported as NOMEM. The callbacks take no user pointer, hence thread-local. */
static _Thread_local int png_oom;
static void *png_malloc(size_t n) {
    void *p = fr_malloc(n);
    if (!p) png_oom = 1;
    return p;
}
static void *png_realloc(void *q, size_t n) {
    void *p = fr_realloc(q, n);
    if (!p) png_oom = 1;
    return p;
}
static void *png_calloc(size_t n, size_t size) {
    void *p = fr_calloc(n, size);
    if (!p) png_oom = 1;
    return p;
}

/* NOMEM when an allocation failed during the call, else corrupt data. */
static int png_err(int e, const char *what) {
    return fr_err_set(png_oom || e == SPNG_EMEM ? FR_E_NOMEM : FR_E_INVALID_FILE_FORMAT, "PNG %s: %s",
                      what, spng_strerror(e));
}

int fr__dec_png(const struct fr__dec *d, struct fr_image *out) {
    memset(out, 0, sizeof *out);
    png_oom = 0;
    struct spng_alloc alloc = { png_malloc, png_realloc, png_calloc, fr_free };
    spng_ctx *ctx = spng_ctx_new2(&alloc, 0);
    if (!ctx) return fr_err_set(FR_E_NOMEM, "PNG: cannot create a decoder");
    struct spng_ihdr ihdr;
    size_t need = 0;
    int e, rc = 0;
    spng_set_crc_action(ctx, SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
    spng_set_chunk_limits(ctx, d->len, (size_t)8 << 20);
    if ((e = spng_set_png_buffer(ctx, d->buf, d->len)) != 0 || (e = spng_get_ihdr(ctx, &ihdr)) != 0) {
        rc = png_err(e, "header");
        goto out;
    }
    if ((rc = fr__image_check_size(d, "PNG", ihdr.width, ihdr.height)) < 0) goto out;
    if ((e = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &need)) != 0) {
        rc = png_err(e, "size");
        goto out;
    }
    size_t n = (size_t)ihdr.width * ihdr.height;
    if (need != n * 4) {
        rc = fr_err_set(FR_E_INTERNAL_ERROR, "PNG: libspng wants %zu bytes for %zu pixels", need, n);
        goto out;
    }
    if (!(out->data = fr_malloc(need))) {
        rc = fr_err_set(FR_E_NOMEM, "PNG image of %ux%u pixels", ihdr.width, ihdr.height);
        goto out;
    }
    if ((e = spng_decode_image(ctx, out->data, need, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS)) != 0) {
        rc = png_err(e, "data");
        goto out;
    }
    fr__rgba_flatten(out->data, out->data, n);
    uint8_t *shrunk = fr_realloc(out->data, n * 3);
    if (shrunk) out->data = shrunk;   /* a failed shrink keeps the larger block */
    out->w = (int)ihdr.width;
    out->h = (int)ihdr.height;
    out->channels = 3;
out:
    spng_ctx_free(ctx);
    if (rc < 0) fr_image_free(out);
    return rc;
}
