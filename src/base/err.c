/* Error names, types, statuses and messages, all from FR_ERR_MAP. */
#include "facerec/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static const struct {
    const char *name, *type, *msg;
    int http;
} err_tab[] = {
#define X(n, h, t, m) { #n, t, m, h },
    FR_ERR_MAP(X)
#undef X
};

_Static_assert(sizeof(err_tab) / sizeof(err_tab[0]) == FR_E_COUNT, "error table size");

static int err_index(int err) {
    if (err < 0) err = -err;
    return err < FR_E_COUNT ? err : FR_E_INTERNAL_ERROR;
}

const char *fr_strerror(int err) { return err_tab[err_index(err)].msg; }
const char *fr_err_name(int err) { return err_tab[err_index(err)].name; }
const char *fr_err_type(int err) { return err_tab[err_index(err)].type; }
int fr_err_http_status(int err) { return err_tab[err_index(err)].http; }

static _Thread_local char err_detail[512];

const char *fr_err_detail(void) { return err_detail; }
void fr_err_clear(void) { err_detail[0] = 0; }

int fr_err_set(int err, const char *fmt, ...) {
    /* formatted aside first: the arguments may be fr_err_detail() itself */
    char buf[sizeof err_detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(err_detail, buf, sizeof buf);
    return err > 0 ? -err : err;
}

void fr_abort(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "facerec: fatal: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
