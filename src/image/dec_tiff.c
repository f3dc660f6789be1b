/* TIFF through libtiff, reading from our buffer via TIFFClientOpenExt.
 *
 * libtiff 4.5 (Debian 12) takes per-handle error and warning handlers
 * (TIFFOpenOptions), so nothing is printed on stderr and the message becomes
 * our error detail, without touching libtiff's process-wide handlers (which
 * would not be thread-safe). Its errors are return values, not longjmps. The
 * first directory is rendered with TIFFReadRGBAImageOriented, which handles
 * every photometric interpretation, bit depth and compression libtiff knows,
 * and stops at the first damaged strip or tile. The size is checked before
 * the raster exists, and libtiff's own single allocations are capped, so a
 * bogus strip size cannot ask for gigabytes. */
#include "image/image_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>

struct src {
    const uint8_t *p;
    size_t len, pos;
    char msg[256];       /* the first error libtiff reported */
};

static tmsize_t t_read(thandle_t h, void *dst, tmsize_t n) {
    struct src *s = h;
    if (n <= 0 || s->pos >= s->len) return 0;
    size_t k = s->len - s->pos;
    if ((size_t)n < k) k = (size_t)n;
    memcpy(dst, s->p + s->pos, k);
    s->pos += k;
    return (tmsize_t)k;
}

static tmsize_t t_write(thandle_t h, void *src, tmsize_t n) {
    (void)h; (void)src; (void)n;
    return -1;
}

static toff_t t_seek(thandle_t h, toff_t off, int whence) {
    struct src *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->len : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return (toff_t)-1;
    if (off > UINT64_MAX - base || base + off > s->len) return (toff_t)-1;
    s->pos = (size_t)(base + off);
    return s->pos;
}

static int t_close(thandle_t h) { (void)h; return 0; }
static toff_t t_size(thandle_t h) { return ((struct src *)h)->len; }
static int t_map(thandle_t h, void **base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void t_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

static int t_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    struct src *s = user;
    if (!s->msg[0]) {
        int n = snprintf(s->msg, sizeof s->msg, "%s: ", module ? module : "libtiff");
        if (n > 0 && (size_t)n < sizeof s->msg) vsnprintf(s->msg + n, sizeof s->msg - (size_t)n, fmt, ap);
    }
    return 1;   /* handled: do not call the global handler */
}

static int t_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;   /* silenced */
}

int fr__dec_tiff(const struct fr__dec *d, struct fr_image *out) {
    memset(out, 0, sizeof *out);
    struct src s = { d->buf, d->len, 0, "" };
    uint32_t *raster = NULL;
    int rc = 0;
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return fr_err_set(FR_E_NOMEM, "TIFF: options");
    int64_t cap = d->max_pixels * 8;
    if (cap < ((int64_t)64 << 20)) cap = (int64_t)64 << 20;
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)cap);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, t_error, &s);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, t_warning, &s);
    TIFF *tif = TIFFClientOpenExt("upload", "rm", &s, t_read, t_write, t_seek, t_close, t_size,
                                  t_map, t_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif) return fr_err_set(FR_E_INVALID_FILE_FORMAT, "TIFF header: %s", s.msg[0] ? s.msg : "unreadable");
    uint32_t w = 0, h = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h)) {
        rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "TIFF: no image size");
        goto out;
    }
    if ((rc = fr__image_check_size(d, "TIFF", w, h)) < 0) goto out;
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(tif, emsg)) {
        rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "TIFF: %s", emsg);
        goto out;
    }
    size_t n = (size_t)w * h;
    if (!(raster = fr_calloc(n, 4))) { rc = fr_err_set(FR_E_NOMEM, "TIFF raster of %ux%u", w, h); goto out; }
    if (!TIFFReadRGBAImageOriented(tif, w, h, raster, ORIENTATION_TOPLEFT, 1)) {
        rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "TIFF data: %s", s.msg[0] ? s.msg : "unreadable");
        goto out;
    }
    /* ABGR words (TIFFGetR = low byte) -> RGBA bytes, in place, then flatten */
    uint8_t *bytes = (uint8_t *)raster;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = raster[i];
        bytes[4 * i] = (uint8_t)TIFFGetR(v);
        bytes[4 * i + 1] = (uint8_t)TIFFGetG(v);
        bytes[4 * i + 2] = (uint8_t)TIFFGetB(v);
        bytes[4 * i + 3] = (uint8_t)TIFFGetA(v);
    }
    fr__rgba_flatten(bytes, bytes, n);
    uint8_t *shrunk = fr_realloc(raster, n * 3);
    out->data = shrunk ? shrunk : bytes;
    raster = NULL;
    out->w = (int)w;
    out->h = (int)h;
    out->channels = 3;
out:
    fr_free(raster);
    TIFFClose(tif);
    if (rc < 0) fr_image_free(out);
    return rc;
}
