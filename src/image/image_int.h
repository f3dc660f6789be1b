/* Internals of src/image shared by the decoders (dec_*.c), the EXIF reader
 * (exif.c) and the dispatcher (decode.c), and the per-ISA kernels of the
 * image operations (ops.c, ops_avx2.c). */
#ifndef FR_IMAGE_INT_H
#define FR_IMAGE_INT_H

#include "facerec/image.h"

/* One decode call: the input and the pixel limit; a decoder that can decode
 * smaller (JPEG) may do so while the shorter side stays >= min_short (0: full
 * size), and reports the stored full size in full_w, full_h. */
struct fr__dec {
    const uint8_t *buf;
    size_t len;
    int64_t max_pixels;
    int min_short;
    int full_w, full_h;
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
int fr__dec_jpeg(struct fr__dec *d, struct fr_image *out);
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

/* ---- kernels of the image operations (ops.c, ops_avx2.c) ----
 * ops.c calls the _avx2 ones when fr_cpu_isa() >= FR_ISA_AVX2; each gives
 * exactly the bytes and floats of the portable code. */

/* Bilinear resize, horizontal pass: d[j] = s[e0[j]] * b + s[e0[j] + cn] * a
 * for n output elements, with wt[j] = b | a << 16 (11-bit weights). The
 * elements go in groups of 8, and grp[g] says where group g finds its
 * bytes: s + base[k] are 16-byte windows (the list ends at the first
 * base < 0) and ctl[k] the byte shuffle from window k to the 16-bit pairs
 * (p, q) (-1: zero); base[0] < 0 means the group is gathered at e0. s must
 * be readable 32 bytes past the row. */
#define FR__LIN_WIN 3
struct fr__lin_grp {
    int32_t base[FR__LIN_WIN];
    int8_t ctl[FR__LIN_WIN][32];
};
void fr__img_lin_hrow_avx2(const uint8_t *s, int32_t *d, int n, const int32_t *e0,
                           const int32_t *wt, const struct fr__lin_grp *grp, int cn);
/* Vertical pass: (r0[i] * b0 + r1[i] * b1 + (1 << 21)) >> 22 as bytes. */
void fr__img_lin_vrow_u8_avx2(const int32_t *r0, const int32_t *r1, int32_t b0, int32_t b1,
                              uint8_t *o, int n);

/* n RGB pixels to three float planes: oc[i] = (p[3 i + chan[c]] - mean[c]) *
 * scale[c], as fr_image_to_chw. */
void fr__img_chw_row_avx2(const uint8_t *p, size_t n, const int chan[3], const float mean[3],
                          const float scale[3], float *o0, float *o1, float *o2);

/* Affine warp: output pixel sampled at source (sx, sy), the portable code
 * (any channels), and one whole output row y of width w with the AVX2
 * kernels (which fall back to the former for pixels near the border). */
void fr__img_warp_px(const struct fr_image *src, float sx, float sy, uint8_t *o);
void fr__img_warp_row_avx2(const struct fr_image *src, const float m[6], int y, int w,
                           uint8_t *o);

#endif
