/* Image decoding: sniff the format from the magic bytes, enforce the limits,
 * hand the bytes to the decoder of that format (dec_<format>.c), then make
 * the result upright (EXIF orientation, exif.c).
 *
 * Why by content: uploads carry whatever name the client gave them (the
 * deepface test set has a WebP called img47.jpg), and a decoder chosen by
 * name would reject a good photo or feed a parser bytes it does not expect.
 *
 * The limits are the first defence against hostile files: the byte limit is
 * checked before a single byte is parsed, and every decoder reads the
 * declared width and height from the header and calls fr__image_check_size
 * before it allocates any pixel buffer, so a 100000 x 100000 PNG of a few
 * hundred bytes is refused in microseconds. The rest (corrupt streams,
 * truncation, libraries' error callbacks) is each decoder's business; all of
 * them leave *out zeroed on failure and free what they allocated. */
#include "image/image_int.h"

#include <string.h>

int fr_image_format_sniff(const void *buf, size_t len) {
    const uint8_t *p = buf;
    if (!p) return FR_IMAGE_FORMAT_UNKNOWN;
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return FR_IMAGE_FORMAT_JPEG;
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return FR_IMAGE_FORMAT_PNG;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return FR_IMAGE_FORMAT_WEBP;
    if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return FR_IMAGE_FORMAT_GIF;
    if (len >= 18 && p[0] == 'B' && p[1] == 'M') {
        /* "BM" alone is too weak a signature: also ask for a known DIB header size */
        uint32_t hs = (uint32_t)p[14] | (uint32_t)p[15] << 8 | (uint32_t)p[16] << 16 |
                      (uint32_t)p[17] << 24;
        if (hs == 12 || hs == 40 || hs == 52 || hs == 56 || hs == 64 || hs == 108 || hs == 124)
            return FR_IMAGE_FORMAT_BMP;
    }
    if (len >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0 ||
                     memcmp(p, "II+\0", 4) == 0 || memcmp(p, "MM\0+", 4) == 0))
        return FR_IMAGE_FORMAT_TIFF;
    return FR_IMAGE_FORMAT_UNKNOWN;
}

const char *fr_image_format_name(int format) {
    switch (format) {
    case FR_IMAGE_FORMAT_JPEG: return "jpeg";
    case FR_IMAGE_FORMAT_PNG:  return "png";
    case FR_IMAGE_FORMAT_WEBP: return "webp";
    case FR_IMAGE_FORMAT_GIF:  return "gif";
    case FR_IMAGE_FORMAT_BMP:  return "bmp";
    case FR_IMAGE_FORMAT_TIFF: return "tiff";
    default:                   return "unknown";
    }
}

/* Sides above this are refused whatever max_pixels says: it keeps
 * w * h * 4 far from overflowing and w * 4 inside an int. */
#define SIDE_MAX (1 << 24)

int fr__image_check_size(const struct fr__dec *d, const char *fmt, int64_t w, int64_t h) {
    if (w <= 0 || h <= 0)
        return fr_err_set(FR_E_INVALID_FILE_FORMAT, "%s header declares a %lldx%lld image", fmt,
                          (long long)w, (long long)h);
    if (w > SIDE_MAX || h > SIDE_MAX || w * h > d->max_pixels)
        return fr_err_set(FR_E_FILE_TOO_LARGE,
                          "%s image is %lldx%lld pixels, more than the limit of %lld pixels", fmt,
                          (long long)w, (long long)h, (long long)d->max_pixels);
    return 0;
}

int fr__image_alloc_rgb(struct fr_image *img, int w, int h) {
    memset(img, 0, sizeof *img);
    img->data = fr_malloc((size_t)w * (size_t)h * 3);
    if (!img->data) return fr_err_set(FR_E_NOMEM, "image of %dx%d pixels", w, h);
    img->w = w;
    img->h = h;
    img->channels = 3;
    return 0;
}

void fr__rgba_flatten(uint8_t *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned a = src[4 * i + 3], r = src[4 * i], g = src[4 * i + 1], b = src[4 * i + 2];
        unsigned bg = 255u * (255u - a);
        dst[3 * i]     = (uint8_t)((r * a + bg + 127u) / 255u);
        dst[3 * i + 1] = (uint8_t)((g * a + bg + 127u) / 255u);
        dst[3 * i + 2] = (uint8_t)((b * a + bg + 127u) / 255u);
    }
}

int fr__image_orient(struct fr_image *img, int o) {
    if (o < 2 || o > 8) return 0;
    const int w = img->w, h = img->h, c = img->channels;
    const int swap = o >= 5;
    const int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *dst = fr_malloc((size_t)w * (size_t)h * (size_t)c);
    if (!dst) return fr_err_set(FR_E_NOMEM, "rotating a %dx%d image", w, h);
    const uint8_t *src = img->data;
    for (int y = 0; y < oh; y++) {
        uint8_t *drow = dst + (size_t)y * (size_t)ow * (size_t)c;
        for (int x = 0; x < ow; x++) {
            int sx, sy;   /* the source pixel shown at (x, y) of the upright image */
            switch (o) {
            case 2:  sx = w - 1 - x; sy = y;         break;   /* mirror horizontal */
            case 3:  sx = w - 1 - x; sy = h - 1 - y; break;   /* rotate 180 */
            case 4:  sx = x;         sy = h - 1 - y; break;   /* mirror vertical */
            case 5:  sx = y;         sy = x;         break;   /* transpose */
            case 6:  sx = y;         sy = h - 1 - x; break;   /* rotate 90 clockwise */
            case 7:  sx = w - 1 - y; sy = h - 1 - x; break;   /* transverse */
            default: sx = w - 1 - y; sy = x;         break;   /* 8: rotate 90 counter-clockwise */
            }
            memcpy(drow + (size_t)x * (size_t)c, src + ((size_t)sy * (size_t)w + (size_t)sx) * (size_t)c,
                   (size_t)c);
        }
    }
    fr_free(img->data);
    img->data = dst;
    img->w = ow;
    img->h = oh;
    return 0;
}

static int decode(const void *buf, size_t len, const struct fr_image_limits *lim, int min_short,
                  struct fr_image *out, int *full_w, int *full_h) {
    memset(out, 0, sizeof *out);
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : FR_IMAGE_DEFAULT_MAX_BYTES;
    int64_t max_pixels = lim && lim->max_pixels > 0 ? lim->max_pixels : FR_IMAGE_DEFAULT_MAX_PIXELS;
    if (!buf || len == 0) return fr_err_set(FR_E_INVALID_FILE_FORMAT, "the file is empty");
    if (len > max_bytes)
        return fr_err_set(FR_E_FILE_TOO_LARGE, "the file is %zu bytes, more than the limit of %zu",
                          len, max_bytes);
    struct fr__dec d = { buf, len, max_pixels, min_short, 0, 0 };
    int fmt = fr_image_format_sniff(buf, len);
    int rc;
    switch (fmt) {
    case FR_IMAGE_FORMAT_JPEG: rc = fr__dec_jpeg(&d, out); break;
    case FR_IMAGE_FORMAT_PNG:  rc = fr__dec_png(&d, out);  break;
    case FR_IMAGE_FORMAT_WEBP: rc = fr__dec_webp(&d, out); break;
    case FR_IMAGE_FORMAT_GIF:  rc = fr__dec_gif(&d, out);  break;
    case FR_IMAGE_FORMAT_BMP:  rc = fr__dec_bmp(&d, out);  break;
    case FR_IMAGE_FORMAT_TIFF: rc = fr__dec_tiff(&d, out); break;
    default:
        return fr_err_set(FR_E_INVALID_FILE_FORMAT,
                          "not a JPEG, PNG, WebP, GIF, BMP or TIFF file (unknown magic bytes)");
    }
    if (rc < 0) {
        fr_image_free(out);
        return rc;
    }
    int o = fmt == FR_IMAGE_FORMAT_JPEG ? fr__exif_jpeg_orientation(d.buf, d.len)
          : fmt == FR_IMAGE_FORMAT_PNG  ? fr__exif_png_orientation(d.buf, d.len)
          : fmt == FR_IMAGE_FORMAT_WEBP ? fr__exif_webp_orientation(d.buf, d.len) : 1;
    if (o != 1 && (rc = fr__image_orient(out, o)) < 0) fr_image_free(out);
    if (rc == 0 && full_w) {
        int fw = d.full_w ? d.full_w : out->w, fh = d.full_h ? d.full_h : out->h;
        if (d.full_w && o >= 5) { int t = fw; fw = fh; fh = t; }
        *full_w = fw;
        *full_h = fh;
    }
    return rc;
}

int fr_image_decode(const void *buf, size_t len, const struct fr_image_limits *lim, struct fr_image *out) {
    return decode(buf, len, lim, 0, out, NULL, NULL);
}

int fr_image_decode_reduced(const void *buf, size_t len, const struct fr_image_limits *lim, int min_short_side,
                            struct fr_image *out, int *full_w, int *full_h) {
    int fw = 0, fh = 0;
    int rc = decode(buf, len, lim, min_short_side > 0 ? min_short_side : 0, out, &fw, &fh);
    if (full_w) *full_w = rc == 0 ? fw : 0;
    if (full_h) *full_h = rc == 0 ? fh : 0;
    return rc;
}

void fr_image_free(struct fr_image *img) {
    if (!img) return;
    fr_free(img->data);
    memset(img, 0, sizeof *img);
}

int fr_image_load(const char *path, const struct fr_image_limits *lim, struct fr_image *out) {
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : FR_IMAGE_DEFAULT_MAX_BYTES;
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = fr_file_read(path, max_bytes, &buf, &len);
    if (rc == -FR_E_LIMIT_EXCEEDED) return fr_err_set(FR_E_FILE_TOO_LARGE, "%s: %s", path, fr_err_detail());
    if (rc < 0) return rc;
    rc = fr_image_decode(buf, len, lim, out);
    fr_free(buf);
    return rc;
}
