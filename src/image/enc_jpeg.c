/* JPEG encoding through libturbojpeg: the face snapshots of camera
 * sessions' callbacks. */
#include "facerec/image.h"

#include <string.h>
#include <turbojpeg.h>

int fr_image_encode_jpeg(const struct fr_image *img, int quality, uint8_t **buf_out, size_t *len_out) {
    if (buf_out) *buf_out = NULL;
    if (len_out) *len_out = 0;
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->channels != 3 && img->channels != 1) || !buf_out ||
        !len_out)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "JPEG: an RGB or grey image and outputs are required");
    if (quality < 1 || quality > 100) return fr_err_set(FR_E_INVALID_ARGUMENT, "JPEG: quality must be in 1..100");
    tjhandle tj = tjInitCompress();
    if (!tj) return fr_err_set(FR_E_NOMEM, "JPEG: cannot create a compressor");
    unsigned char *jpeg = NULL;
    unsigned long len = 0;
    const int grey = img->channels == 1;
    int rc = 0;
    if (tjCompress2(tj, img->data, img->w, img->w * img->channels, img->h, grey ? TJPF_GRAY : TJPF_RGB, &jpeg, &len,
                    grey ? TJSAMP_GRAY : TJSAMP_420, quality, 0) < 0) {
        rc = fr_err_set(FR_E_INTERNAL_ERROR, "JPEG: %s", tjGetErrorStr2(tj));
    } else {
        uint8_t *copy = fr_malloc(len);
        if (!copy) rc = -FR_E_NOMEM;
        else {
            memcpy(copy, jpeg, len);
            *buf_out = copy;
            *len_out = len;
        }
    }
    tjFree(jpeg);
    tjDestroy(tj);
    return rc;
}
