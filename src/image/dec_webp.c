/* WebP through libwebp (libwebpdemux for animations).
 *
 * WebPGetFeatures reads the size (the canvas size for an extended file) and
 * whether there is alpha or animation, without decoding; the size is checked
 * before any buffer exists. A still image is decoded straight into our
 * buffer (RGB, or RGBA then flattened onto white). An animated one goes
 * through WebPAnimDecoder, which composes frames onto the canvas as a viewer
 * would; we take the first frame. libwebp reports errors as status codes:
 * there is no callback or longjmp to handle. */
#include "image/image_int.h"

#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

static int first_frame(const struct fr__dec *d, int w, int h, struct fr_image *out) {
    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt)) return fr_err_set(FR_E_INTERNAL_ERROR, "WebP: libwebpdemux ABI");
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPData data = { d->buf, d->len };
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&data, &opt);
    if (!dec) return fr_err_set(FR_E_INVALID_FILE_FORMAT, "WebP: bad animation container");
    int rc = 0;
    WebPAnimInfo info;
    uint8_t *rgba = NULL;
    int ts = 0;
    if (!WebPAnimDecoderGetInfo(dec, &info) || (int64_t)info.canvas_width != w ||
        (int64_t)info.canvas_height != h) {
        rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "WebP: canvas size disagrees with the header");
        goto out;
    }
    if (!WebPAnimDecoderGetNext(dec, &rgba, &ts) || !rgba) {
        rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "WebP: cannot decode the first frame");
        goto out;
    }
    if ((rc = fr__image_alloc_rgb(out, w, h)) < 0) goto out;
    fr__rgba_flatten(out->data, rgba, (size_t)w * (size_t)h);
out:
    WebPAnimDecoderDelete(dec);   /* owns rgba */
    return rc;
}

int fr__dec_webp(const struct fr__dec *d, struct fr_image *out) {
    memset(out, 0, sizeof *out);
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(d->buf, d->len, &f);
    if (st != VP8_STATUS_OK)
        return fr_err_set(FR_E_INVALID_FILE_FORMAT, "WebP header: status %d", (int)st);
    int rc = fr__image_check_size(d, "WebP", f.width, f.height);
    if (rc < 0) return rc;
    if (f.has_animation) return first_frame(d, f.width, f.height, out);
    size_t n = (size_t)f.width * (size_t)f.height;
    if (!f.has_alpha) {
        if ((rc = fr__image_alloc_rgb(out, f.width, f.height)) < 0) return rc;
        if (!WebPDecodeRGBInto(d->buf, d->len, out->data, n * 3, f.width * 3)) {
            fr_image_free(out);
            return fr_err_set(FR_E_INVALID_FILE_FORMAT, "WebP data: cannot decode");
        }
        return 0;
    }
    uint8_t *rgba = fr_malloc(n * 4);
    if (!rgba) return fr_err_set(FR_E_NOMEM, "WebP image of %dx%d pixels", f.width, f.height);
    if (!WebPDecodeRGBAInto(d->buf, d->len, rgba, n * 4, f.width * 4)) {
        fr_free(rgba);
        return fr_err_set(FR_E_INVALID_FILE_FORMAT, "WebP data: cannot decode");
    }
    fr__rgba_flatten(rgba, rgba, n);
    uint8_t *shrunk = fr_realloc(rgba, n * 3);
    out->data = shrunk ? shrunk : rgba;
    out->w = f.width;
    out->h = f.height;
    out->channels = 3;
    return 0;
}
