/* facerec — images: decoding untrusted photos into 8-bit RGB pixels.
 *
 * A photo arrives as bytes (an HTTP upload, a file). fr_image_decode looks at
 * the content, never at a file name, picks the decoder, and returns the
 * upright image: row-major, interleaved RGB, 8 bits per channel, with the EXIF
 * orientation of a JPEG already applied and any alpha flattened onto white.
 *
 *   struct fr_image img;
 *   int rc = fr_image_decode(buf, len, NULL, &img);   // NULL: default limits
 *   if (rc < 0) return rc;            // -FR_E_INVALID_FILE_FORMAT, -FR_E_FILE_TOO_LARGE, ...
 *   uint8_t *px = img.data + ((size_t)y * img.w + x) * 3;   // R = px[0], G = px[1], B = px[2]
 *   fr_image_free(&img);
 *
 * Formats, recognised by their magic bytes:
 *   JPEG  libturbojpeg: baseline, progressive, greyscale, CMYK/YCCK (Adobe
 *         inverted CMYK, converted to RGB); EXIF orientation 1-8 applied.
 *         A truncated file ("premature end of JPEG file") is an error, not a
 *         half-grey image; other libjpeg warnings (extraneous bytes) are not.
 *   PNG   libspng: 1/2/4/8/16-bit, palette, grey, grey+alpha, RGBA, tRNS,
 *         interlaced. 16-bit samples are reduced to 8 bits.
 *   WebP  libwebp: lossy, lossless, alpha. Animated WebP: the first frame.
 *   GIF   giflib: the first frame, composed onto its logical screen.
 *   BMP   our own reader: 1/4/8-bit palette, 16/24/32-bit (BI_RGB and
 *         BI_BITFIELDS), bottom-up and top-down. RLE-compressed BMP is refused.
 *   TIFF  libtiff: the first directory, through TIFFReadRGBAImage (any
 *         photometric interpretation libtiff can render).
 *
 * Transparency is flattened onto WHITE: transparent PNG portraits are
 * usually cut-outs meant for a light page, and a white background keeps dark
 * hair and clothes apart from it (a black one would merge with them).
 *
 * Limits, checked in this order, so a decompression bomb costs nothing:
 *   1. len > max_bytes                       -> -FR_E_FILE_TOO_LARGE (before any parsing)
 *   2. width x height from the header > max_pixels
 *                                            -> -FR_E_FILE_TOO_LARGE (before any pixel buffer)
 * Unknown formats, corrupt and truncated data -> -FR_E_INVALID_FILE_FORMAT;
 * out of memory -> -FR_E_NOMEM. fr_err_detail() says what was wrong. A
 * failed call leaves *out zeroed (safe to fr_image_free). The decoder is
 * reentrant: it keeps no global state. */
#ifndef FACEREC_IMAGE_H
#define FACEREC_IMAGE_H

#include "facerec/base.h"

struct fr_image {
    int w;                  /* width in pixels, > 0 */
    int h;                  /* height in pixels, > 0 */
    int channels;           /* 3 = RGB (what fr_image_decode returns), 1 = grey */
    uint8_t *data;          /* row-major, interleaved, stride w * channels bytes; fr_malloc'd */
};

/* Zero fields take the defaults in brackets. */
struct fr_image_limits {
    size_t max_bytes;       /* [20 MiB] size of the encoded file: a 50 MP camera JPEG at high
                             * quality is 15-20 MB; larger uploads are refused unread */
    int64_t max_pixels;     /* [50 000 000] width x height as the header declares it */
};

#define FR_IMAGE_DEFAULT_MAX_BYTES ((size_t)20 << 20)
#define FR_IMAGE_DEFAULT_MAX_PIXELS ((int64_t)50000000)

/* The formats fr_image_decode knows, in the order of its magic-byte sniffing. */
enum fr_image_format {
    FR_IMAGE_FORMAT_UNKNOWN = 0,
    FR_IMAGE_FORMAT_JPEG,
    FR_IMAGE_FORMAT_PNG,
    FR_IMAGE_FORMAT_WEBP,
    FR_IMAGE_FORMAT_GIF,
    FR_IMAGE_FORMAT_BMP,
    FR_IMAGE_FORMAT_TIFF
};

/* The format of buf by its first bytes (no decoding). */
FR_API int fr_image_format_sniff(const void *buf, size_t len);
FR_API const char *fr_image_format_name(int format);   /* "jpeg", ..., "unknown" */

/* Decode buf (borrowed) into *out (OUT: fr_image_free it). lim may be NULL. */
FR_API int fr_image_decode(const void *buf, size_t len, const struct fr_image_limits *lim,
                           struct fr_image *out);

/* Frees img->data and zeroes *img; NULL and a zeroed image are fine. */
FR_API void fr_image_free(struct fr_image *img);

#endif
