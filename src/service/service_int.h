/* Internals shared by the files of src/service. */
#ifndef FR_SERVICE_INT_H
#define FR_SERVICE_INT_H

#include "service/service.h"

/* A worker context from the pool (waits while all are busy);
 * SERVICE_UNAVAILABLE when the models are not loaded. */
int fr__svc_ctx_get(struct fr_service *s, struct fr_svc_ctx **out);
void fr__svc_ctx_put(struct fr_service *s, struct fr_svc_ctx *c);

#endif
