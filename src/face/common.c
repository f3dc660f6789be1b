/* Helpers shared by the face pipeline files (face_int.h). */
#include "face_int.h"

#include <math.h>
#include <stdio.h>

int fr__face_model_load(const char *dir, const char *name, struct fr_nn_model **out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    int rc = fr_nn_model_load(path, NULL, out);
    if (rc < 0) return fr_err_set_at(FR_E_SERVICE_UNAVAILABLE, "model", name, "model %s: %s", name, fr_err_detail());
    return 0;
}

void fr__face_softmax(const float *x, int n, double *p) {
    double mx = (double)x[0], s = 0;
    for (int i = 1; i < n; i++)
        if ((double)x[i] > mx) mx = (double)x[i];
    for (int i = 0; i < n; i++) s += (p[i] = exp((double)x[i] - mx));
    for (int i = 0; i < n; i++) p[i] /= s;
}

int fr__face_scaled_crop(const struct fr_image *img, const struct fr_face *f, double scale_max, struct fr_image *out) {
    double x1 = (double)(int)f->box[0], y1 = (double)(int)f->box[1];
    double bw = fabs((double)(int)f->box[2] - x1), bh = fabs((double)(int)f->box[3] - y1);
    if (bw < 1 || bh < 1) return fr_err_set(FR_E_INVALID_ARGUMENT, "face box too small");
    double sw = img->w, sh = img->h;
    double scale = fmin((sh - 1) / bh, fmin((sw - 1) / bw, scale_max));
    double nw = bw * scale, nh = bh * scale, cx = x1 + bw / 2, cy = y1 + bh / 2;
    double l = cx - nw / 2, t = cy - nh / 2, r = cx + nw / 2, b = cy + nh / 2;
    if (l < 0) { r -= l; l = 0; }
    if (t < 0) { b -= t; t = 0; }
    if (r > sw - 1) { l -= r - sw + 1; r = sw - 1; }
    if (b > sh - 1) { t -= b - sh + 1; b = sh - 1; }
    int x0 = l > 0 ? (int)l : 0, y0 = t > 0 ? (int)t : 0;
    int w = (int)(r - l), h = (int)(b - t);
    if (w > img->w - 1) w = img->w - 1;
    if (h > img->h - 1) h = img->h - 1;
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    return fr_image_crop(img, x0, y0, x0 + w, y0 + h, out);
}
