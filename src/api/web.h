/* The console's static files, embedded in the binary at build time
 * (tools/embed_web.sh writes BUILD/gen/web_assets.c from web/console/). */
#ifndef FR_API_WEB_H
#define FR_API_WEB_H

#include <stddef.h>

struct fr_web_asset {
    const char *name;           /* "index.html" */
    const char *type;           /* Content-Type */
    const unsigned char *data;
    size_t len;
};
/* Ends with an entry whose name is NULL. */
extern const struct fr_web_asset fr_web_assets[];

#endif
