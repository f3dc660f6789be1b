/* EXIF orientation: our own reader of the one tag we need.
 *
 * Why not libexif: we need one SHORT from IFD0 (tag 0x0112). libexif parses
 * every IFD, maker notes included, allocates for each entry, and has had its
 * share of CVEs in exactly that code; this reader is ~80 lines, allocates
 * nothing, looks at each byte through one bounds-checked accessor, and runs
 * under the image fuzzer. Anything odd (bad byte order, offsets out of the
 * segment, a value outside 1..8) means "no orientation", i.e. 1: a damaged
 * EXIF block never fails a photo that decodes.
 *
 * JPEG layout walked here: SOI, then segments FF xx LEN(2, big-endian,
 * counting itself) DATA..., up to SOS (FF DA), after which entropy-coded data
 * follows. EXIF lives in APP1 (FF E1) starting "Exif\0\0", then a TIFF
 * structure: "II*\0" or "MM\0*", the offset of IFD0, IFD0 = count(2) then
 * 12-byte entries tag(2) type(2) count(4) value-or-offset(4). */
#include "image/image_int.h"

#include <string.h>

struct rd {
    const uint8_t *p;
    size_t len;
    int le;         /* little-endian ("II") */
};

/* 0 when [off, off + n) is outside the block. */
static int in(const struct rd *r, size_t off, size_t n) { return off <= r->len && n <= r->len - off; }

static unsigned u16(const struct rd *r, size_t off) {
    const uint8_t *q = r->p + off;
    return r->le ? (unsigned)q[0] | (unsigned)q[1] << 8 : (unsigned)q[0] << 8 | (unsigned)q[1];
}

static uint32_t u32(const struct rd *r, size_t off) {
    const uint8_t *q = r->p + off;
    return r->le ? (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24
                 : (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | (uint32_t)q[3];
}

int fr__exif_tiff_orientation(const uint8_t *tiff, size_t len) {
    struct rd r = { tiff, len, 0 };
    if (!in(&r, 0, 8)) return 1;
    if (memcmp(tiff, "II*\0", 4) == 0) r.le = 1;
    else if (memcmp(tiff, "MM\0*", 4) != 0) return 1;
    size_t ifd = u32(&r, 4);
    if (ifd < 8 || !in(&r, ifd, 2)) return 1;
    unsigned n = u16(&r, ifd);
    for (unsigned i = 0; i < n; i++) {
        size_t e = ifd + 2 + (size_t)i * 12;
        if (!in(&r, e, 12)) return 1;
        if (u16(&r, e) != 0x0112) continue;
        unsigned type = u16(&r, e + 2);
        uint32_t v;
        if (type == 3) v = u16(&r, e + 8);          /* SHORT, left-justified in the value field */
        else if (type == 4) v = u32(&r, e + 8);     /* LONG: not what the spec says, but seen */
        else return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int fr__exif_jpeg_orientation(const uint8_t *buf, size_t len) {
    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8) return 1;
    size_t pos = 2;
    while (pos + 4 <= len) {
        if (buf[pos] != 0xFF) return 1;           /* not at a marker: give up */
        uint8_t m = buf[pos + 1];
        if (m == 0xFF) { pos++; continue; }       /* fill byte */
        if (m == 0xD9 || m == 0xDA) return 1;     /* EOI, SOS: no EXIF before the image data */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { pos += 2; continue; }   /* no length */
        size_t seg = (size_t)buf[pos + 2] << 8 | buf[pos + 3];
        if (seg < 2 || seg > len - pos - 2) return 1;
        const uint8_t *data = buf + pos + 4;
        size_t dlen = seg - 2;
        if (m == 0xE1 && dlen >= 6 && memcmp(data, "Exif\0\0", 6) == 0)
            return fr__exif_tiff_orientation(data + 6, dlen - 6);
        pos += 2 + seg;
    }
    return 1;
}

/* PNG: the eXIf chunk holds the TIFF block itself. Chunks are walked by
 * their lengths up to IEND (the CRCs are libspng's business); anything
 * malformed is "no orientation". */
int fr__exif_png_orientation(const uint8_t *buf, size_t len) {
    size_t pos = 8;
    while (pos + 12 <= len) {
        uint32_t n = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 | (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];
        const uint8_t *type = buf + pos + 4;
        if (n > len - pos - 12) return 1;
        if (!memcmp(type, "eXIf", 4)) return fr__exif_tiff_orientation(buf + pos + 8, n);
        if (!memcmp(type, "IEND", 4)) return 1;
        pos += 12 + (size_t)n;
    }
    return 1;
}

/* WebP: the extended format's EXIF chunk; some writers put JPEG's
 * "Exif\0\0" before the TIFF block. Chunks are padded to even sizes. */
int fr__exif_webp_orientation(const uint8_t *buf, size_t len) {
    if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WEBP", 4)) return 1;
    size_t pos = 12;
    while (pos + 8 <= len) {
        uint32_t n = (uint32_t)buf[pos + 4] | (uint32_t)buf[pos + 5] << 8 | (uint32_t)buf[pos + 6] << 16 |
                     (uint32_t)buf[pos + 7] << 24;
        if (n > len - pos - 8) return 1;
        const uint8_t *data = buf + pos + 8;
        if (!memcmp(buf + pos, "EXIF", 4)) {
            if (n >= 6 && !memcmp(data, "Exif\0\0", 6)) return fr__exif_tiff_orientation(data + 6, n - 6);
            return fr__exif_tiff_orientation(data, n);
        }
        pos += 8 + (size_t)n + (n & 1);
    }
    return 1;
}
