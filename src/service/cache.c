/* What the service needs to go on answering while the database is away
 * (several nodes on PostgreSQL: a restart, a failover, a network cut):
 * identification runs from the in-memory index, and needs the caller's
 * client (to check the API key) and the names of the subjects it finds.
 * Both are kept here as they are read, and used only when the database
 * cannot be read: while it can, every answer comes from it, so a key
 * rotated or a client disabled takes effect at once. Fixed size, direct
 * mapped by a hash of the key: an entry is replaced by the next one that
 * maps to its slot. */
#include "service_int.h"

#include <string.h>

#define CLIENT_SLOTS 1024
#define SUBJECT_SLOTS 8192

struct cached_client {
    int used;
    int64_t id;
    char name[FR_SVC_NAME_MAX + 1];
    char prefix[FR_KEY_PREFIX_LEN + 1];
    char hash[FR_KEY_HASH_LEN + 1];
    int64_t per_hour, per_day, created_at;
    int disabled;
};

struct cached_subject {
    int64_t client, id;            /* id 0: empty */
    char name[FR_SVC_NAME_MAX + 1];
    char ext[FR_SVC_NAME_MAX + 1];
    int has_ext;
};

struct svc_cache {
    pthread_mutex_t mu;
    struct cached_client clients[CLIENT_SLOTS];
    struct cached_subject subjects[SUBJECT_SLOTS];
};

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int fr__svc_cache_init(struct fr_service *s) {
    struct svc_cache *c = fr_calloc(1, sizeof *c);
    if (!c) return -FR_E_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    s->cache = c;
    return 0;
}

void fr__svc_cache_fini(struct fr_service *s) {
    if (!s->cache) return;
    pthread_mutex_destroy(&s->cache->mu);
    fr_free(s->cache);
    s->cache = NULL;
}

int fr__svc_store_away(int rc) { return rc == -FR_E_SERVICE_UNAVAILABLE || rc == -FR_E_IO; }

void fr__svc_cache_client_put(struct fr_service *s, const struct fr_store_client *r) {
    struct svc_cache *c = s->cache;
    if (!c || !r->key_prefix || !r->key_hash) return;
    pthread_mutex_lock(&c->mu);
    struct cached_client *e = &c->clients[hash_str(r->key_prefix) % CLIENT_SLOTS];
    e->used = 1;
    e->id = r->id;
    snprintf(e->name, sizeof e->name, "%s", r->name ? r->name : "");
    snprintf(e->prefix, sizeof e->prefix, "%s", r->key_prefix);
    snprintf(e->hash, sizeof e->hash, "%s", r->key_hash);
    e->per_hour = r->rate_limit_per_hour;
    e->per_day = r->rate_limit_per_day;
    e->created_at = r->created_at;
    e->disabled = r->disabled;
    pthread_mutex_unlock(&c->mu);
}

int fr__svc_cache_client_get(struct fr_service *s, const char *prefix, struct fr_store_client *out) {
    struct svc_cache *c = s->cache;
    int rc = -FR_E_NOT_FOUND;
    memset(out, 0, sizeof *out);
    if (!c) return rc;
    pthread_mutex_lock(&c->mu);
    const struct cached_client *e = &c->clients[hash_str(prefix) % CLIENT_SLOTS];
    if (e->used && !strcmp(e->prefix, prefix)) {
        out->id = e->id;
        out->name = fr_strdup(e->name);
        out->key_prefix = fr_strdup(e->prefix);
        out->key_hash = fr_strdup(e->hash);
        out->rate_limit_per_hour = e->per_hour;
        out->rate_limit_per_day = e->per_day;
        out->disabled = e->disabled;
        out->created_at = e->created_at;
        rc = out->name && out->key_prefix && out->key_hash ? 0 : -FR_E_NOMEM;
        if (rc < 0) fr_store_client_free(out);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void fr__svc_cache_subjects_put(struct fr_service *s, int64_t client, const struct fr_store_subject *v, size_t n) {
    struct svc_cache *c = s->cache;
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        if (!v[i].id) continue;
        struct cached_subject *e = &c->subjects[mix((uint64_t)v[i].id ^ ((uint64_t)client << 40)) % SUBJECT_SLOTS];
        e->client = client;
        e->id = v[i].id;
        snprintf(e->name, sizeof e->name, "%s", v[i].name ? v[i].name : "");
        e->has_ext = v[i].external_id != NULL;
        snprintf(e->ext, sizeof e->ext, "%s", v[i].external_id ? v[i].external_id : "");
    }
    pthread_mutex_unlock(&c->mu);
}

int fr__svc_cache_subjects_get(struct fr_service *s, int64_t client, const int64_t *ids, size_t n,
                               struct fr_store_subject *out) {
    struct svc_cache *c = s->cache;
    if (!c) return -FR_E_NOT_FOUND;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        const struct cached_subject *e = &c->subjects[mix((uint64_t)ids[i] ^ ((uint64_t)client << 40)) % SUBJECT_SLOTS];
        memset(&out[i], 0, sizeof out[i]);
        out[i].id = ids[i];          /* in the index: taken as existing */
        out[i].client_id = client;
        const int hit = e->id == ids[i] && e->client == client;
        out[i].name = fr_strdup(hit ? e->name : "");
        out[i].external_id = hit && e->has_ext ? fr_strdup(e->ext) : NULL;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}
