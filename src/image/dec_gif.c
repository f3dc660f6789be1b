/* GIF through giflib: the first frame, composed onto the logical screen.
 *
 * DGifSlurp would read every frame into memory (an animated GIF of 10000
 * frames is a memory bomb), so the records are walked by hand and reading
 * stops at the first image. giflib reports errors by return value and an
 * error code, never by longjmp, so the one handle and two buffers here are
 * freed on every path. Both the screen size and the frame size are checked
 * before anything of that size is allocated; a frame that sticks out of the
 * screen is clipped. Pixels the frame does not cover, and transparent ones,
 * are white (the module's rule for transparency). Frames without any colour
 * map use a grey ramp; indices beyond the map are black. */
#include "image/image_int.h"

#include <gif_lib.h>
#include <string.h>

struct src {
    const uint8_t *p;
    size_t len, pos;
};

static int read_fn(GifFileType *g, GifByteType *dst, int n) {
    struct src *s = g->UserData;
    if (n <= 0) return 0;
    size_t k = s->len - s->pos;
    if ((size_t)n < k) k = (size_t)n;
    memcpy(dst, s->p + s->pos, k);
    s->pos += k;
    return (int)k;
}

static int gif_err(int code, const char *what) {
    const char *m = GifErrorString(code);
    return fr_err_set(code == D_GIF_ERR_NOT_ENOUGH_MEM ? FR_E_NOMEM : FR_E_INVALID_FILE_FORMAT,
                      "GIF %s: %s", what, m ? m : "error");
}

int fr__dec_gif(const struct fr__dec *d, struct fr_image *out) {
    memset(out, 0, sizeof *out);
    struct src s = { d->buf, d->len, 0 };
    int err = 0, rc = 0;
    GifByteType *line = NULL;
    GifFileType *g = DGifOpen(&s, read_fn, &err);
    if (!g) return gif_err(err, "header");
    if ((rc = fr__image_check_size(d, "GIF", g->SWidth, g->SHeight)) < 0) goto out;
    int transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(g, &type) == GIF_ERROR) { rc = gif_err(g->Error, "record"); goto out; }
        if (type == TERMINATE_RECORD_TYPE) {
            rc = fr_err_set(FR_E_INVALID_FILE_FORMAT, "GIF has no image");
            goto out;
        }
        if (type == EXTENSION_RECORD_TYPE) {
            int code = 0;
            GifByteType *ext = NULL;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) { rc = gif_err(g->Error, "extension"); goto out; }
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
            while (ext) {
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) { rc = gif_err(g->Error, "extension"); goto out; }
            }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(g) == GIF_ERROR) { rc = gif_err(g->Error, "image descriptor"); goto out; }
        break;
    }
    const GifImageDesc *im = &g->Image;
    const int fw = im->Width, fh = im->Height, W = g->SWidth, H = g->SHeight;
    if ((rc = fr__image_check_size(d, "GIF frame", fw, fh)) < 0) goto out;
    const ColorMapObject *cm = im->ColorMap ? im->ColorMap : g->SColorMap;
    if (cm && (!cm->Colors || cm->ColorCount < 0)) cm = NULL;
    if ((rc = fr__image_alloc_rgb(out, W, H)) < 0) goto out;
    memset(out->data, 255, (size_t)W * (size_t)H * 3);
    if (!(line = fr_malloc((size_t)fw))) { rc = fr_err_set(FR_E_NOMEM, "GIF line"); goto out; }
    /* interlaced frames store rows in four passes: 0, 8, 16.. then 4, 12.. then 2, 6.. then 1, 3.. */
    static const int start[4] = { 0, 4, 2, 1 }, step[4] = { 8, 8, 4, 2 };
    const int passes = im->Interlace ? 4 : 1;
    for (int p = 0; p < passes; p++) {
        for (int y = im->Interlace ? start[p] : 0; y < fh; y += im->Interlace ? step[p] : 1) {
            if (DGifGetLine(g, line, fw) == GIF_ERROR) { rc = gif_err(g->Error, "data"); goto out; }
            int64_t cy = (int64_t)im->Top + y;
            if (cy < 0 || cy >= H) continue;
            uint8_t *row = out->data + (size_t)cy * (size_t)W * 3;
            for (int x = 0; x < fw; x++) {
                int64_t cx = (int64_t)im->Left + x;
                int idx = line[x];
                if (cx < 0 || cx >= W || idx == transparent) continue;
                uint8_t *px = row + (size_t)cx * 3;
                if (!cm) {
                    px[0] = px[1] = px[2] = (uint8_t)idx;
                } else if (idx < cm->ColorCount) {
                    px[0] = cm->Colors[idx].Red;
                    px[1] = cm->Colors[idx].Green;
                    px[2] = cm->Colors[idx].Blue;
                } else {
                    px[0] = px[1] = px[2] = 0;
                }
            }
        }
    }
out:
    fr_free(line);
    DGifCloseFile(g, &err);
    if (rc < 0) fr_image_free(out);
    return rc;
}
