/* id → row map of the exact index: open addressing, linear probing, at most
 * half full, and backward-shift deletion (no tombstones, so lookups stay
 * short however many removes a long-lived gallery sees). */
#include "index/index_int.h"

#include <string.h>

/* splitmix64's finaliser: ids are database row ids, i.e. sequential, which
 * would cluster badly under the identity hash. */
static inline size_t home(int64_t id, size_t mask) {
    uint64_t x = (uint64_t)id;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x & mask;
}

void fr__idmap_free(struct fr_idmap *m) {
    fr_free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t probe(const struct fr_idmap *m, int64_t id) {
    size_t mask = m->cap - 1, i = home(id, mask);
    while (m->slots[i].row >= 0 && m->slots[i].id != id) i = (i + 1) & mask;
    return i;
}

int64_t fr__idmap_get(const struct fr_idmap *m, int64_t id) {
    if (!m->cap) return -1;
    return m->slots[probe(m, id)].row;
}

static int rehash(struct fr_idmap *m, size_t cap) {
    struct fr_idmap_slot *s = fr_malloc(cap * sizeof *s);
    if (!s) return fr_err_set(FR_E_NOMEM, "index id map: cannot allocate %zu slots", cap);
    for (size_t i = 0; i < cap; i++) s[i].row = -1;
    struct fr_idmap old = *m;
    m->slots = s;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].row >= 0) m->slots[probe(m, old.slots[i].id)] = old.slots[i];
    fr_free(old.slots);
    return 0;
}

int fr__idmap_reserve(struct fr_idmap *m, size_t n) {
    size_t cap = m->cap ? m->cap : 16;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4 / sizeof(struct fr_idmap_slot))
            return fr_err_set(FR_E_NOMEM, "index id map: %zu entries is too many", n);
        cap *= 2;
    }
    return cap == m->cap ? 0 : rehash(m, cap);
}

void fr__idmap_put(struct fr_idmap *m, int64_t id, int64_t row) {
    size_t i = probe(m, id);
    if (m->slots[i].row < 0) m->n++;
    m->slots[i].id = id;
    m->slots[i].row = row;
}

void fr__idmap_del(struct fr_idmap *m, int64_t id) {
    size_t mask = m->cap - 1, i = probe(m, id);
    if (m->slots[i].row < 0) return;
    /* Shift later members of the probe run back into the hole when their
     * home is not between the hole and where they sit (cyclically). */
    for (size_t j = (i + 1) & mask; m->slots[j].row >= 0; j = (j + 1) & mask) {
        size_t h = home(m->slots[j].id, mask);
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays) continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    m->slots[i].row = -1;
    m->n--;
}
