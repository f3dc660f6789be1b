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
/* fr_image_decode, except that a JPEG much larger than needed is decoded at
 * 1/2, 1/4 or 1/8 scale (libjpeg-turbo's DCT scaling: a 36 MP photo in 40
 * instead of 68 ms and 7 instead of 108 MB) as long as its shorter side stays
 * >= min_short_side. *full_w, *full_h: the upright size at full scale, so
 * out->w / *full_w is the scale; other formats come at full size. The
 * pixel limit still applies to the full size. */
FR_API int fr_image_decode_reduced(const void *buf, size_t len, const struct fr_image_limits *lim,
                                   int min_short_side, struct fr_image *out, int *full_w, int *full_h);
/* Read a file and decode it (a file over the byte limit is FILE_TOO_LARGE
 * without being read). */
FR_API int fr_image_load(const char *path, const struct fr_image_limits *lim, struct fr_image *out);

/* Frees img->data and zeroes *img; NULL and a zeroed image are fine. */
FR_API void fr_image_free(struct fr_image *img);

/* ---- Operations (src/image/ops.c) ----
 *
 * The geometry and pixel helpers the face pipeline needs between decoding and
 * the networks: resize a photo for the detector, crop and warp a face,
 * measure sharpness and brightness, pack pixels into a float tensor.
 *
 *   struct fr_image small;
 *   int rc = fr_image_resize(&img, 320, 240, FR_RESIZE_BILINEAR, &small);
 *   ...
 *   fr_image_to_chw(&small, mean, scale, 1, tensor);   // 3 * 240 * 320 floats, B, G, R planes
 *   fr_image_free(&small);
 *
 * Sources are any valid image (w, h >= 1, channels 1 or 3, data non-NULL);
 * output sizes are 1..FR_IMAGE_OPS_SIDE_MAX a side. Bad arguments give
 * -FR_E_INVALID_ARGUMENT, allocation failure -FR_E_NOMEM. A function that
 * fills *out allocates out->data (fr_image_free it); on failure *out is left
 * zeroed. out must not be src. Pixel values round half up (x.5 -> x + 1). */

#define FR_IMAGE_OPS_SIDE_MAX 32768

enum fr_resize {
    FR_RESIZE_BILINEAR = 0,     /* OpenCV INTER_LINEAR */
    FR_RESIZE_AREA = 1          /* OpenCV INTER_AREA: area mean when shrinking */
};

/* Resize to w x h (same channels).
 * BILINEAR follows OpenCV's INTER_LINEAR: source coordinate
 * sx = (x + 0.5) * src_w / w - 0.5, clamped to the image, bilinear between the
 * 4 neighbours (11-bit fixed-point weights, as OpenCV).
 * AREA: on an axis that shrinks, each output pixel is the area-weighted mean
 * of the source pixels it covers (OpenCV INTER_AREA); when both axes enlarge
 * (or keep their size) it is BILINEAR; when one shrinks and the other
 * enlarges, each axis is resampled with its own rule. */
FR_API int fr_image_resize(const struct fr_image *src, int w, int h, int method,
                           struct fr_image *out);

/* Affine warp: output pixel (x, y) samples the source at
 * (m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]): m maps OUTPUT to SOURCE
 * coordinates, pixel centres at integers. Bilinear; source pixels outside the
 * image count as 0 (black), as OpenCV warpAffine with WARP_INVERSE_MAP and
 * BORDER_CONSTANT 0. out is w x h, same channels. */
FR_API int fr_image_warp_affine(const struct fr_image *src, const float m[6], int w, int h,
                                struct fr_image *out);

/* JPEG of an RGB (4:2:0) or grey image at quality 1..100; *buf_out is
 * fr_malloc'd (fr_free). */
FR_API int fr_image_encode_jpeg(const struct fr_image *img, int quality, uint8_t **buf_out, size_t *len_out);

/* Copy of the rectangle [x0, x1) x [y0, y1), clamped to the image;
 * -FR_E_INVALID_ARGUMENT if it is empty after clamping. */
FR_API int fr_image_crop(const struct fr_image *src, int x0, int y0, int x1, int y1,
                         struct fr_image *out);

/* src inside a border: out is (w + 2·px) x (h + 2·py), src at (px, py), the
 * border filled with value in every channel. */
FR_API int fr_image_pad(const struct fr_image *src, int px, int py, uint8_t value, struct fr_image *out);

/* RGB -> grey (channels 1) with ITU-R BT.601 weights, as OpenCV
 * COLOR_RGB2GRAY: Y = (R*4899 + G*9617 + B*1868 + 8192) >> 14. A grey input
 * is copied. */
FR_API int fr_image_to_grey(const struct fr_image *src, struct fr_image *out);

/* Variance of the 3x3 Laplacian [0 1 0; 1 -4 1; 0 1 0] (OpenCV Laplacian,
 * ksize 1) over the interior pixels of the grey image (RGB is converted
 * first): the usual sharpness measure. -1 on error (invalid image, smaller
 * than 3x3, out of memory; fr_err_detail says which). */
FR_API double fr_image_laplacian_var(const struct fr_image *img);

/* Mean brightness, grey level 0..255 (BT.601 luma of RGB, unrounded); -1 for
 * an invalid image. */
FR_API double fr_image_brightness(const struct fr_image *img);

/* Pack img into a float tensor in CHW order for a network:
 * out[c][y][x] = (v - mean[c]) * scale[c], where c counts OUTPUT channels:
 * with bgr != 0 the planes are B, G, R and mean/scale are given in that
 * order. A grey image gives one plane with mean[0]/scale[0] (bgr ignored).
 * mean NULL: 0; scale NULL: 1. out holds channels * h * w floats. */
FR_API void fr_image_to_chw(const struct fr_image *img, const float *mean, const float *scale,
                            int bgr, float *out);

/* fr_image_resize(src, w, h, FR_RESIZE_BILINEAR, ...) followed by
 * fr_image_to_chw(..., mean, scale, bgr, out), in one pass and without the
 * intermediate image: the same floats, bit for bit. out holds
 * channels * h * w floats. The detector input is made this way. */
FR_API int fr_image_resize_to_chw(const struct fr_image *src, int w, int h, const float *mean,
                                  const float *scale, int bgr, float *out);

#endif
