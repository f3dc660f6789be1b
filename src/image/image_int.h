/* Internals of src/image shared by the decoders (dec_*.c), the EXIF reader
 * (exif.c) and the dispatcher (decode.c). */
#ifndef FR_IMAGE_INT_H
#define FR_IMAGE_INT_H

#include "facerec/image.h"

/* One decode call: the input and the pixel limit. */
struct fr__dec {
    const uint8_t *buf;
    size_t len;
    int64_t max_pixels;
};

/* 0 when w x h is a sane size within d->max_pixels; else -FR_E_FILE_TOO_LARGE
 * (too many pixels) or -FR_E_INVALID_FILE_FORMAT (zero or negative sides),
 * with a detail naming fmt ("PNG"). Every decoder calls it on the header's
 * size before it allocates pixels. */
int fr__image_check_size(const struct fr__dec *d, const char *fmt, int64_t w, int64_t h);

/* Allocate img as w x h RGB (uninitialised pixels). */
int fr__image_alloc_rgb(struct fr_image *img, int w, int h);

/* n RGBA pixels -> n RGB pixels, alpha flattened onto white; dst may equal src
 * (it is written front to back and never runs ahead of the reader). */
void fr__rgba_flatten(uint8_t *dst, const uint8_t *src, size_t n);

/* The decoders: the format is already known from the magic bytes. Each leaves
 * *out zeroed on failure. */
int fr__dec_jpeg(const struct fr__dec *d, struct fr_image *out);
int fr__dec_png(const struct fr__dec *d, struct fr_image *out);
int fr__dec_webp(const struct fr__dec *d, struct fr_image *out);
int fr__dec_gif(const struct fr__dec *d, struct fr_image *out);
int fr__dec_bmp(const struct fr__dec *d, struct fr_image *out);
int fr__dec_tiff(const struct fr__dec *d, struct fr_image *out);

/* EXIF orientation (1..8) of a JPEG: the first APP1 "Exif" segment's IFD0
 * tag 0x0112. 1 when absent or unreadable: a bad EXIF block never fails a
 * decode. */
int fr__exif_jpeg_orientation(const uint8_t *buf, size_t len);
/* The same from a PNG's eXIf chunk and a WebP's EXIF chunk. */
int fr__exif_png_orientation(const uint8_t *buf, size_t len);
int fr__exif_webp_orientation(const uint8_t *buf, size_t len);
/* The same from a bare TIFF-structured EXIF block ("II*\0..." / "MM\0*..."). */
int fr__exif_tiff_orientation(const uint8_t *tiff, size_t len);

/* Apply EXIF orientation o (1..8) to img in place (a new buffer for o != 1;
 * w and h swap for 5..8). */
int fr__image_orient(struct fr_image *img, int o);

#endif
