/* Internals shared by the files of src/face. */
#ifndef FR_FACE_INT_H
#define FR_FACE_INT_H

#include "facerec/face.h"

/* Load DIR/NAME.onnx; a failure is SERVICE_UNAVAILABLE naming the model. */
int fr__face_model_load(const char *dir, const char *name, struct fr_nn_model **out);
/* p = softmax(x[0..n)) in double. */
void fr__face_softmax(const float *x, int n, double *p);
/* The model package's face crop: the box (integer corners) scaled by up to
 * `scale` about its centre (less when the image is too small), then shifted,
 * not shrunk, to lie inside the image. */
int fr__face_scaled_crop(const struct fr_image *img, const struct fr_face *f, double scale, struct fr_image *out);

#endif
