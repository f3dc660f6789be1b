/* JPEG through libturbojpeg (libjpeg-turbo's TurboJPEG API, 2.1 in Debian 12).
 *
 * The header is read first (tjDecompressHeader3) and its size checked before
 * the pixel buffer exists. TJFLAG_LIMITSCANS caps progressive JPEGs at 500
 * scans, which defeats the "many tiny scans" CPU bomb. TurboJPEG turns
 * libjpeg's longjmp error exits into return codes inside its own handle, so
 * nothing here can be jumped over: the one handle and one buffer are freed on
 * every path.
 *
 * Warnings: libjpeg reports recoverable damage as warnings and still returns
 * pixels. "Extraneous bytes before marker" and friends are common in real
 * photos and harmless, so they pass; "Premature end of JPEG file" means the
 * bottom of the image is libjpeg's grey filler, so it is an error (the
 * caller gets INVALID_FILE_FORMAT rather than a half image whose faces would
 * be wrong). TurboJPEG gives no warning code, only its message, so the test
 * is on the message, which libjpeg has not changed since 1994 (JWRN_JPEG_EOF).
 *
 * Colour: RGB and YCbCr are converted by libjpeg; greyscale is expanded to
 * RGB by libjpeg; CMYK and YCCK are decoded as CMYK and converted here,
 * assuming Adobe's inverted CMYK (what Photoshop writes, and what nearly
 * every CMYK JPEG is): R = C * K / 255 on the stored values. */
#include "image/image_int.h"

#include <string.h>
#include <turbojpeg.h>

_Static_assert(sizeof(unsigned long) >= sizeof(size_t), "TurboJPEG takes the length as unsigned long");

int fr__dec_jpeg(struct fr__dec *d, struct fr_image *out) {
    memset(out, 0, sizeof *out);
    uint8_t *cmyk = NULL;
    int rc = 0;
    tjhandle tj = tjInitDecompress();
    if (!tj) return fr_err_set(FR_E_NOMEM, "JPEG: cannot create a decompressor");
    int w = 0, h = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(tj, d->buf, (unsigned long)d->len, &w, &h, &subsamp, &cs) < 0) {
        rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "JPEG header: %s", tjGetErrorStr2(tj));
        goto out;
    }
    if ((rc = fr__image_check_size(d, "JPEG", w, h)) < 0) goto out;
    d->full_w = w;
    d->full_h = h;
    /* the smallest DCT scale that keeps the shorter side >= min_short */
    for (int denom = 8; d->min_short > 0 && denom > 1; denom /= 2) {
        tjscalingfactor sf = { 1, denom };
        int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
        if ((sw < sh ? sw : sh) >= d->min_short) {
            w = sw;
            h = sh;
            break;
        }
    }
    if ((rc = fr__image_alloc_rgb(out, w, h)) < 0) goto out;
    const int flags = TJFLAG_LIMITSCANS;
    int r;
    const int is_cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    if (is_cmyk) {
        cmyk = fr_malloc((size_t)w * (size_t)h * 4);
        if (!cmyk) {
            rc = fr_err_set(FR_E_NOMEM, "JPEG: CMYK buffer of %dx%d", w, h);
            goto out;
        }
        r = tjDecompress2(tj, d->buf, (unsigned long)d->len, cmyk, w, 0, h, TJPF_CMYK, flags);
    } else {
        r = tjDecompress2(tj, d->buf, (unsigned long)d->len, out->data, w, 0, h, TJPF_RGB, flags);
    }
    if (r < 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || strstr(msg, "Premature end")) {
            rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "JPEG data: %s", msg);
            goto out;
        }
    }
    if (is_cmyk) {
        size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++) {
            unsigned k = cmyk[4 * i + 3];
            out->data[3 * i]     = (uint8_t)((cmyk[4 * i] * k + 127u) / 255u);
            out->data[3 * i + 1] = (uint8_t)((cmyk[4 * i + 1] * k + 127u) / 255u);
            out->data[3 * i + 2] = (uint8_t)((cmyk[4 * i + 2] * k + 127u) / 255u);
        }
    }
out:
    fr_free(cmyk);
    tjDestroy(tj);
    if (rc < 0) fr_image_free(out);
    return rc;
}
