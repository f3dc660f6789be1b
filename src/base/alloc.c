/* Counted allocation with failure injection (see base.h). */
#include "facerec/base.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t mem_used;
static atomic_long alloc_count;
static atomic_long fail_after;   /* 0: off; else fail when alloc_count reaches it */

void fr_alloc_fail_after(long n) {
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_after, n);
}

long fr_alloc_count(void) { return atomic_load(&alloc_count); }

static int should_fail(void) {
    long c = atomic_fetch_add(&alloc_count, 1) + 1;
    long f = atomic_load(&fail_after);
    return f > 0 && c >= f;
}

static void *account(void *p) {
    if (p) atomic_fetch_add(&mem_used, malloc_usable_size(p));
    return p;
}

void *fr_malloc(size_t n) {
    if (should_fail()) return NULL;
    return account(malloc(n ? n : 1));
}

void *fr_calloc(size_t n, size_t size) {
    if (should_fail()) return NULL;
    if (n == 0 || size == 0) n = size = 1;
    return account(calloc(n, size));
}

void *fr_realloc(void *p, size_t n) {
    if (!p) return fr_malloc(n);
    if (should_fail()) return NULL;
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) return NULL;
    atomic_fetch_sub(&mem_used, old);
    return account(q);
}

void *fr_malloc_aligned(size_t n) {
    void *p = NULL;
    if (should_fail()) return NULL;
    if (posix_memalign(&p, 64, n ? (n + 63) & ~(size_t)63 : 64) != 0) return NULL;
    return account(p);
}

char *fr_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = fr_malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

char *fr_strdup(const char *s) { return fr_strndup(s, strlen(s)); }

void fr_free(void *p) {
    if (!p) return;
    atomic_fetch_sub(&mem_used, malloc_usable_size(p));
    free(p);
}

size_t fr_mem_used(void) { return atomic_load(&mem_used); }
