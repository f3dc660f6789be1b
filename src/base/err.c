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
static _Thread_local char err_key[32], err_value[128];

const char *fr_err_detail(void) { return err_detail; }
const char *fr_err_key(void) { return err_key; }
const char *fr_err_value(void) { return err_value; }
void fr_err_clear(void) { err_detail[0] = err_key[0] = err_value[0] = 0; }

static int set(int err, const char *key, const char *value, const char *fmt, va_list ap) {
    /* formatted aside first: the arguments may be fr_err_detail() itself */
    char buf[sizeof err_detail], k[sizeof err_key], v[sizeof err_value];
    vsnprintf(buf, sizeof buf, fmt, ap);
    snprintf(k, sizeof k, "%s", key && value ? key : "");
    snprintf(v, sizeof v, "%s", key && value ? value : "");
    memcpy(err_detail, buf, sizeof buf);
    memcpy(err_key, k, sizeof k);
    memcpy(err_value, v, sizeof v);
    return err > 0 ? -err : err;    /* the code is positive by convention; a negative one is tolerated */
}

int fr_err_set(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = set(err, NULL, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int fr_err_set_at(int err, const char *key, const char *value, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = set(err, key, value, fmt, ap);
    va_end(ap);
    return rc;
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
