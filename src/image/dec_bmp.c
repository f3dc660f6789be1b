/* BMP: our own reader (Debian has no well-kept BMP-only library, and the
 * format is a header, an optional palette and rows of pixels).
 *
 * Supported: OS/2 (12-byte) and Windows (40, 52, 56, 64, 108, 124-byte)
 * headers; 1/4/8-bit palette; 16-bit (5-5-5 or bit fields); 24-bit; 32-bit
 * (BGRx, or bit fields with an optional alpha mask: alpha is flattened onto
 * white unless it is zero everywhere, which is how many writers fill an
 * unused alpha channel). Bottom-up and top-down rows. Refused with
 * INVALID_FILE_FORMAT: RLE4/RLE8 and embedded JPEG/PNG compression, and a
 * file shorter than its rows. Every offset is checked against the buffer
 * before it is read; the size is checked before the image is allocated. */
#include "image/image_int.h"

#include <string.h>

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One channel of a bit-fields pixel: the bits under mask, scaled to 0..255. */
struct field {
    uint32_t mask;
    int shift;
    uint32_t max;       /* (1 << bits) - 1; 0 when mask is 0 */
};

static struct field field_of(uint32_t mask) {
    struct field f = { mask, 0, 0 };
    if (!mask) return f;
    while (!((mask >> f.shift) & 1)) f.shift++;
    uint64_t m = mask >> f.shift;
    f.max = (uint32_t)m;   /* a mask with holes still maps its top value to 255 */
    return f;
}

static uint8_t field_get(const struct field *f, uint32_t px) {
    if (!f->max) return 0;
    uint64_t v = (px & f->mask) >> f->shift;
    return (uint8_t)((v * 255u + f->max / 2) / f->max);
}

static int bad(const char *what) { return fr_err_set(FR_E_INVALID_FILE_FORMAT, "BMP: %s", what); }

int fr__dec_bmp(const struct fr__dec *d, struct fr_image *out) {
    memset(out, 0, sizeof *out);
    const uint8_t *p = d->buf;
    const size_t len = d->len;
    if (len < 26) return bad("header truncated");
    const uint32_t data_off = le32(p + 10), hs = le32(p + 14);
    int64_t w, h;
    uint32_t bpp, comp = 0, n_colors = 0;
    size_t pal_off, pal_entry;
    if (hs == 12) {
        w = le16(p + 18);
        h = le16(p + 20);
        bpp = le16(p + 24);
        pal_entry = 3;
    } else {
        if (len < 14 + (size_t)hs || hs < 40) return bad("header truncated");
        w = (int32_t)le32(p + 18);
        h = (int32_t)le32(p + 22);
        bpp = le16(p + 28);
        comp = le32(p + 30);
        n_colors = le32(p + 46);
        pal_entry = 4;
    }
    pal_off = 14 + (size_t)hs;
    const int top_down = h < 0;
    if (top_down) h = -h;
    int rc = fr__image_check_size(d, "BMP", w, h);
    if (rc < 0) return rc;
    /* masks: in the header from 52 bytes on, else right after a 40-byte header */
    uint32_t rm = 0, gm = 0, bm = 0, am = 0;
    if (comp == 3 || comp == 6) {
        if (bpp != 16 && bpp != 32) return bad("bit fields need 16 or 32 bits per pixel");
        size_t moff = 54, nm = comp == 6 || hs >= 56 ? 4 : 3;
        if (len < moff + 4 * nm) return bad("bit masks truncated");
        rm = le32(p + moff);
        gm = le32(p + moff + 4);
        bm = le32(p + moff + 8);
        if (nm == 4) am = le32(p + moff + 12);
        if (hs == 40) pal_off += 4 * nm;
    } else if (comp != 0) {
        return bad("RLE and embedded JPEG/PNG compression are not supported");
    } else if (bpp == 16) {
        rm = 0x7C00; gm = 0x03E0; bm = 0x001F;
    } else if (bpp == 32) {
        rm = 0x00FF0000; gm = 0x0000FF00; bm = 0x000000FF;   /* the fourth byte is unused */
    }
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return bad("unsupported bits per pixel");
    uint8_t pal[256][3];
    int n_pal = 0;
    if (bpp <= 8) {
        uint32_t n = n_colors ? n_colors : 1u << bpp;
        if (n > (1u << bpp)) n = 1u << bpp;
        if (pal_off > len || (len - pal_off) / pal_entry < n) return bad("palette truncated");
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *e = p + pal_off + i * pal_entry;
            pal[i][0] = e[2];
            pal[i][1] = e[1];
            pal[i][2] = e[0];
        }
        n_pal = (int)n;
    }
    const size_t stride = (((size_t)w * bpp + 31) / 32) * 4;
    if (data_off > len || (len - data_off) / stride < (size_t)h) return bad("pixel data truncated");
    const struct field fr = field_of(rm), fg = field_of(gm), fb = field_of(bm), fa = field_of(am);
    /* alpha counts only if some pixel has a non-zero alpha */
    int use_alpha = 0;
    if (fa.max) {
        for (int64_t y = 0; y < h && !use_alpha; y++) {
            const uint8_t *row = p + data_off + (size_t)y * stride;
            for (int64_t x = 0; x < w; x++) {
                uint32_t px = bpp == 32 ? le32(row + 4 * x) : le16(row + 2 * x);
                if (px & am) { use_alpha = 1; break; }
            }
        }
    }
    if ((rc = fr__image_alloc_rgb(out, (int)w, (int)h)) < 0) return rc;
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *row = p + data_off + (size_t)(top_down ? y : h - 1 - y) * stride;
        uint8_t *o = out->data + (size_t)y * (size_t)w * 3;
        for (int64_t x = 0; x < w; x++, o += 3) {
            if (bpp <= 8) {
                unsigned idx;
                if (bpp == 8) idx = row[x];
                else if (bpp == 4) idx = (row[x / 2] >> (x & 1 ? 0 : 4)) & 15;
                else idx = (row[x / 8] >> (7 - (x & 7))) & 1;
                if ((int)idx < n_pal) memcpy(o, pal[idx], 3);
                else o[0] = o[1] = o[2] = 0;
            } else if (bpp == 24) {
                o[0] = row[3 * x + 2];
                o[1] = row[3 * x + 1];
                o[2] = row[3 * x];
            } else {
                uint32_t px = bpp == 32 ? le32(row + 4 * x) : le16(row + 2 * x);
                uint8_t rgba[4] = { field_get(&fr, px), field_get(&fg, px), field_get(&fb, px),
                                    use_alpha ? field_get(&fa, px) : 255 };
                fr__rgba_flatten(o, rgba, 1);
            }
        }
    }
    return 0;
}
