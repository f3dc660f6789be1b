/* Storage front: the public fr_store_* calls. Each checks its arguments once
 * here, for every backend, zeroes its outputs (so a failed call leaves them
 * safe to free) and dispatches through st->ops. Also the table of backends
 * that fr_store_open picks from by the URL's scheme (as curl's vtls.c picks
 * a TLS backend from available_backends[]), the bookkeeping of transaction
 * handles that no backend needs to redo, and the row free helpers. */
#include "store/store_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- argument checks -------------------------------------------------------- */

static int bad(const char *what) {
    return fr_err_set(FR_E_INVALID_ARGUMENT, "%s", what);
}

/* A required string: present, non-empty, at most max bytes. */
static int need_str(const char *s, const char *what, size_t max) {
    if (!s || !s[0]) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s is required", what);
    if (strlen(s) > max)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s is longer than %zu bytes", what, max);
    return 0;
}

/* An optional string: NULL is fine; otherwise at most max bytes. */
static int opt_str(const char *s, const char *what, size_t max) {
    if (s && strlen(s) > max)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "%s is longer than %zu bytes", what, max);
    return 0;
}

static int need_id(int64_t id, const char *what) {
    if (id <= 0) return fr_err_set(FR_E_INVALID_ARGUMENT, "%s must be a positive id", what);
    return 0;
}

/* A store, or a transaction whose inner transaction (if any) has ended. */
static int need_store(const fr_store *st) {
    if (!st) return bad("store is NULL");
    if (st->inner)
        return bad("this transaction has an open inner transaction: call through that one");
    return 0;
}

static int need_limit(int limit) {
    if (limit < 1 || limit > FR_STORE_LIST_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "limit must be between 1 and %d",
                          FR_STORE_LIST_MAX);
    return 0;
}

/* "YYYY-MM-DD": digits where digits go, so string order is date order. */
static int need_day(const char *d, const char *what) {
    static const char pat[] = "dddd-dd-dd";
    if (!d || strlen(d) != 10) goto no;
    for (int i = 0; i < 10; i++) {
        if (pat[i] == 'd' ? (d[i] < '0' || d[i] > '9') : d[i] != '-') goto no;
    }
    return 0;
no:
    return fr_err_set(FR_E_INVALID_ARGUMENT, "%s must be YYYY-MM-DD", what);
}

#define TRY(x) do { int rc_ = (x); if (rc_ < 0) return rc_; } while (0)

/* ---- backends and opening ------------------------------------------------ */

/* The backends built in, by URL scheme. A new backend adds one row. */
static const struct fr_store_ops *const backends[] = {
    &fr__store_sqlite_ops,
#ifdef FR_WITH_PG
    &fr__store_pg_ops,
#endif
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

/* Other names of a backend's scheme: "postgres:" is PostgreSQL's own
 * short form (libpq takes both). */
static const struct {
    const char *alias;
    const char *scheme;
} aliases[] = {
    { "postgres", "postgresql" },
};

/* Schemes of backends facerec has that this build lacks (make WITH_PG=no):
 * a URL naming one gets a clearer error than an unknown scheme. */
static const struct {
    const char *scheme;
    const char *why;
} not_built[] = {
#ifndef FR_WITH_PG
    { "postgresql", "the PostgreSQL backend is not built into this facerec (built with WITH_PG=no)" },
#endif
    { "", "" },
};

size_t fr_store_backend_count(void) { return N_BACKENDS; }

const char *fr_store_backend_name(size_t i) { return i < N_BACKENDS ? backends[i]->name : NULL; }

static int bad_url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_url(const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "database_url", "%s", msg);
}

/* The backend of url's scheme (letters, digits, + - . before the first ':',
 * case-insensitive as in RFC 3986); *where_out is the rest. The URL itself
 * is never quoted back: it may hold a password. */
static int find_backend(const char *url, const struct fr_store_ops **ops_out,
                        const char **where_out) {
    char names[128] = "";
    size_t n = 0;
    if (!url || !url[0]) return bad_url("database URL is required (e.g. sqlite:./data)");
    while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.') n++;
    if (n == 0 || n > 32 || url[n] != ':' || !isalpha((unsigned char)url[0]))
        return bad_url("database URL must be <backend>:<where>, e.g. sqlite:./data");
    char scheme[33];
    for (size_t i = 0; i <= n; i++) scheme[i] = i < n ? (char)tolower((unsigned char)url[i]) : 0;
    if (!url[n + 1])
        return bad_url("database URL '%s:' names nothing after the scheme", scheme);
    const char *name = scheme;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(scheme, aliases[i].alias) == 0) name = aliases[i].scheme;
    }
    for (size_t i = 0; i < N_BACKENDS; i++) {
        if (strcmp(name, backends[i]->name) == 0) {
            *ops_out = backends[i];
            *where_out = url + n + 1;
            return 0;
        }
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s:", i ? ", " : "", backends[i]->name);
    }
    for (size_t i = 0; i < sizeof not_built / sizeof not_built[0]; i++) {
        if (not_built[i].scheme[0] && strcmp(name, not_built[i].scheme) == 0)
            return bad_url("database URL '%s:': %s", scheme, not_built[i].why);
    }
    return bad_url("database URL: unknown backend '%s' (this facerec has %s)", scheme, names);
}

static int64_t wall_clock(void *ctx) {
    (void)ctx;
    return fr_now_ms();
}

int fr_store_open_opts(const char *url, const struct fr_store_opts *opts, fr_store **out) {
    const struct fr_store_ops *ops = NULL;
    const char *where = NULL;
    fr_store *st = NULL;
    if (!out) return bad("out is NULL");
    *out = NULL;
    TRY(find_backend(url, &ops, &where));
    TRY(ops->open(where, &st));
    st->ops = ops;
    st->opts.now_ms = opts && opts->now_ms ? opts->now_ms : wall_clock;
    st->opts.ctx = opts ? opts->ctx : NULL;
    int rc = ops->migrate(st);
    if (rc < 0) {
        ops->close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int fr_store_open(const char *url, fr_store **out) { return fr_store_open_opts(url, NULL, out); }

/* ---- housekeeping ---------------------------------------------------------- */

void fr_store_close(fr_store *st) {
    if (!st) return;
    if (st->parent) fr_store_tx_rollback(st);
    else st->ops->close(st);
}

const char *fr_store_backend(const fr_store *st) { return st ? st->ops->name : "none"; }

int fr_store_ping(fr_store *st) {
    TRY(need_store(st));
    return st->ops->ping(st);
}

int fr_store_schema_version(fr_store *st, int *version_out) {
    if (version_out) *version_out = 0;
    TRY(need_store(st));
    if (!version_out) return bad("version_out is NULL");
    return st->ops->schema_version(st, version_out);
}

int fr_store_check(fr_store *st) {
    TRY(need_store(st));
    if (!st->ops->check)
        return fr_err_set(FR_E_INTERNAL_ERROR, "the %s store has no check", st->ops->name);
    return st->ops->check(st);
}

int fr_store_backup(fr_store *st, const char *path) {
    TRY(need_store(st));
    TRY(need_str(path, "backup path", 4096));
    if (st->parent) return bad("cannot back up inside a transaction");
    if (!st->ops->backup)
        return fr_err_set(FR_E_INTERNAL_ERROR, "the %s store has no backup", st->ops->name);
    return st->ops->backup(st, path);
}

int fr__store_need_backup(const char *path, const char *want) {
    static const struct {
        const char *backend;
        const char *magic;
        size_t len;
        const char *what;
    } kinds[] = {
        { "sqlite",     "SQLite format 3", 16, "a SQLite database (a sqlite: backup)" },
        { "postgresql", "PGDMP",            5, "a pg_dump archive (a postgresql: backup)" },
    };
    char head[16] = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f) return fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "cannot read backup file %s: %s", path,
                                 strerror(errno));
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (n < kinds[i].len || memcmp(head, kinds[i].magic, kinds[i].len) != 0) continue;
        if (strcmp(kinds[i].backend, want) == 0) return 0;
        return fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s is %s: restore it with a %s: database URL, "
                             "not into this %s database", path, kinds[i].what, kinds[i].backend, want);
    }
    return fr_err_set_at(FR_E_INVALID_ARGUMENT, "field", "file", "%s is not a facerec backup (neither a SQLite "
                         "database nor a pg_dump archive)", path);
}

int fr_store_restore(const char *url, const char *path, unsigned flags) {
    const struct fr_store_ops *ops = NULL;
    const char *where = NULL;
    fr_store *st = NULL;
    int version = 0;
    TRY(need_str(path, "backup file", 4096));
    if (flags & ~FR_STORE_RESTORE_FORCE) return bad("unknown restore flags");
    TRY(find_backend(url, &ops, &where));
    if (!ops->restore) return fr_err_set(FR_E_INTERNAL_ERROR, "the %s store has no restore", ops->name);
    TRY(ops->restore(where, path, (flags & FR_STORE_RESTORE_FORCE) != 0));
    /* the restored database, as every later open finds it: migrated and whole */
    int rc = fr_store_open(url, &st);
    if (rc == 0) rc = fr_store_check(st);
    if (rc == 0) rc = fr_store_schema_version(st, &version);
    if (rc == 0) fr_log(FR_LOG_INFO, "%s: restored from %s (schema version %d)", ops->name, path, version);
    fr_store_close(st);
    return rc;
}

/* ---- transactions ------------------------------------------------------------ */

int fr_store_tx_begin(fr_store *st, fr_store **tx_out) {
    fr_store *tx = NULL;
    if (tx_out) *tx_out = NULL;
    TRY(need_store(st));
    if (!tx_out) return bad("tx_out is NULL");
    TRY(st->ops->tx_begin(st, &tx));
    tx->ops = st->ops;
    tx->parent = st;
    tx->inner = NULL;
    tx->opts = st->opts;
    if (st->parent) st->inner = tx;
    *tx_out = tx;
    return 0;
}

/* End tx (its inner transaction has ended) and forget it in its parent. */
static int tx_end(fr_store *tx, int commit) {
    fr_store *parent = tx->parent;
    int rc = tx->ops->tx_end(tx, commit);
    if (parent->parent) parent->inner = NULL;
    return rc;
}

int fr_store_tx_commit(fr_store *tx) {
    TRY(need_store(tx));
    if (!tx->parent) return bad("not a transaction: fr_store_tx_begin makes one");
    return tx_end(tx, 1);
}

void fr_store_tx_rollback(fr_store *tx) {
    if (!tx || !tx->parent) return;
    while (tx->inner) {             /* innermost first */
        fr_store *in = tx->inner;
        while (in->inner) in = in->inner;
        tx_end(in, 0);
    }
    tx_end(tx, 0);
}

/* ---- clients ------------------------------------------------------------------ */

static int check_key_parts(const char *prefix, const char *hash) {
    TRY(need_str(prefix, "key prefix", FR_STORE_NAME_MAX));
    TRY(need_str(hash, "key hash", FR_STORE_NAME_MAX));
    return 0;
}

int fr_store_client_create(fr_store *st, const char *name, const char *key_prefix,
                           const char *key_hash, int64_t rate_limit_per_hour,
                           int64_t rate_limit_per_day, int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    TRY(need_str(name, "client name", FR_STORE_NAME_MAX));
    TRY(check_key_parts(key_prefix, key_hash));
    if (rate_limit_per_hour < 0 || rate_limit_per_day < 0)
        return bad("rate limits must be >= 0 (0: unlimited)");
    int64_t id = 0;
    int rc = st->ops->client_create(st, name, key_prefix, key_hash, rate_limit_per_hour,
                                    rate_limit_per_day, &id);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}

int fr_store_client_get(fr_store *st, int64_t id, struct fr_store_client *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(id, "client id"));
    return st->ops->client_get(st, id, out);
}

int fr_store_client_get_by_prefix(fr_store *st, const char *prefix, struct fr_store_client *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_str(prefix, "key prefix", FR_STORE_NAME_MAX));
    return st->ops->client_get_by_prefix(st, prefix, out);
}

int fr_store_client_list(fr_store *st, struct fr_store_client **rows_out, size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    return st->ops->client_list(st, rows_out, n_out);
}

int fr_store_client_update(fr_store *st, int64_t id, const struct fr_store_client_update *u) {
    TRY(need_store(st));
    TRY(need_id(id, "client id"));
    if (!u) return bad("update is NULL");
    if (u->name) TRY(need_str(u->name, "client name", FR_STORE_NAME_MAX));
    if (u->disabled > 1) return bad("disabled must be 0 or 1");
    return st->ops->client_update(st, id, u);
}

int fr_store_client_set_key(fr_store *st, int64_t id, const char *key_prefix,
                            const char *key_hash) {
    TRY(need_store(st));
    TRY(need_id(id, "client id"));
    TRY(check_key_parts(key_prefix, key_hash));
    return st->ops->client_set_key(st, id, key_prefix, key_hash);
}

int fr_store_client_delete(fr_store *st, int64_t id) {
    TRY(need_store(st));
    TRY(need_id(id, "client id"));
    return st->ops->client_delete(st, id);
}

void fr_store_client_free(struct fr_store_client *c) {
    if (!c) return;
    fr_free(c->name);
    fr_free(c->key_prefix);
    fr_free(c->key_hash);
    memset(c, 0, sizeof *c);
}

void fr_store_clients_free(struct fr_store_client *rows, size_t n) {
    if (!rows) return;
    for (size_t i = 0; i < n; i++) fr_store_client_free(&rows[i]);
    fr_free(rows);
}

int fr_store_admin_get(fr_store *st, const char *key, char **v_out) {
    if (v_out) *v_out = NULL;
    TRY(need_store(st));
    TRY(need_str(key, "setting name", FR_STORE_NAME_MAX));
    if (!v_out) return bad("v_out is NULL");
    return st->ops->admin_get(st, key, v_out);
}

int fr_store_admin_set(fr_store *st, const char *key, const char *value) {
    TRY(need_store(st));
    TRY(need_str(key, "setting name", FR_STORE_NAME_MAX));
    if (!value) return bad("setting value is NULL");
    TRY(opt_str(value, "setting value", FR_STORE_METADATA_MAX));
    return st->ops->admin_set(st, key, value);
}

/* ---- subjects ------------------------------------------------------------------ */

int fr_store_subject_create(fr_store *st, int64_t client_id, const char *name,
                            const char *external_id, const char *metadata, int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    TRY(need_str(name, "subject name", FR_STORE_NAME_MAX));
    TRY(opt_str(external_id, "external_id", FR_STORE_NAME_MAX));
    TRY(opt_str(metadata, "metadata", FR_STORE_METADATA_MAX));
    /* "" would be a second spelling of "none" that is not NULL in SQL, and
     * could collide in the uniqueness index: store NULL instead. */
    if (external_id && !external_id[0]) external_id = NULL;
    if (metadata && !metadata[0]) metadata = NULL;
    int64_t id = 0;
    int rc = st->ops->subject_create(st, client_id, name, external_id, metadata, &id);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}

int fr_store_subject_get(fr_store *st, int64_t client_id, int64_t id,
                         struct fr_store_subject *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
    return st->ops->subject_get(st, client_id, id, out);
}

int fr_store_subject_get_many(fr_store *st, int64_t client_id, const int64_t *ids, size_t n,
                              struct fr_store_subject *out) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (n == 0) return 0;
    if (!ids || !out) return bad("ids and out are required");
    if (n > FR_STORE_LIST_MAX) return bad("too many ids in one lookup");
    memset(out, 0, n * sizeof *out);
    return st->ops->subject_get_many(st, client_id, ids, n, out);
}

int fr_store_subject_list(fr_store *st, int64_t client_id, int limit, int64_t after_id,
                          struct fr_store_subject **rows_out, size_t *n_out, int64_t *next_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    if (next_out) *next_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out || !next_out) return bad("rows_out, n_out and next_out are required");
    TRY(need_id(client_id, "client id"));
    TRY(need_limit(limit));
    if (after_id < 0) return bad("cursor must be >= 0");
    return st->ops->subject_list(st, client_id, limit, after_id, rows_out, n_out, next_out);
}

int fr_store_subject_update(fr_store *st, int64_t client_id, int64_t id,
                            const struct fr_store_subject_update *u) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (!u) return bad("update is NULL");
    if (u->name) TRY(need_str(u->name, "subject name", FR_STORE_NAME_MAX));
    TRY(opt_str(u->external_id, "external_id", FR_STORE_NAME_MAX));
    TRY(opt_str(u->metadata, "metadata", FR_STORE_METADATA_MAX));
    if (id <= 0) return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
    return st->ops->subject_update(st, client_id, id, u);
}

int fr_store_subject_delete(fr_store *st, int64_t client_id, int64_t id,
                            int64_t **face_ids_out, size_t *n_out) {
    if (face_ids_out) *face_ids_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (face_ids_out && !n_out) return bad("n_out is required with face_ids_out");
    if (id <= 0) return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)id);
    return st->ops->subject_delete(st, client_id, id, face_ids_out, n_out);
}

int fr_store_subject_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (!n_out) return bad("n_out is NULL");
    return st->ops->subject_count(st, client_id, n_out);
}

void fr_store_subject_free(struct fr_store_subject *s) {
    if (!s) return;
    fr_free(s->external_id);
    fr_free(s->name);
    fr_free(s->metadata);
    memset(s, 0, sizeof *s);
}

void fr_store_subjects_free(struct fr_store_subject *rows, size_t n) {
    if (!rows) return;
    for (size_t i = 0; i < n; i++) fr_store_subject_free(&rows[i]);
    fr_free(rows);
}

/* ---- faces ------------------------------------------------------------------- */

static int check_face_new(const struct fr_store_face_new *f) {
    if (!f) return bad("face is NULL");
    TRY(need_id(f->client_id, "client id"));
    if (!f->embedding || f->dim < 1 || f->dim > FR_STORE_EMB_DIM_MAX)
        return fr_err_set(FR_E_INVALID_ARGUMENT, "embedding must have 1 to %d floats",
                          FR_STORE_EMB_DIM_MAX);
    for (int32_t i = 0; i < f->dim; i++) {
        if (!isfinite(f->embedding[i])) return bad("embedding has a value that is not finite");
    }
    TRY(need_str(f->model_id, "model id", FR_STORE_NAME_MAX));
    TRY(opt_str(f->image_sha256, "image hash", FR_STORE_NAME_MAX));
    if (!isfinite(f->quality) || !isfinite(f->liveness)) return bad("quality and liveness must be finite");
    for (int i = 0; i < 4; i++) {
        if (!isfinite(f->bbox[i])) return bad("bbox must be finite");
    }
    if (f->image_len && !f->image) return bad("image_len without image");
    return 0;
}

int fr_store_face_add(fr_store *st, const struct fr_store_face_new *f, int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    TRY(check_face_new(f));
    if (f->subject_id <= 0)
        return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)f->subject_id);
    int64_t id = 0;
    int rc = st->ops->face_add(st, f, &id);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}

static int face_not_found(int64_t id) {
    return fr_err_set(FR_E_NOT_FOUND, "face %lld not found", (long long)id);
}

int fr_store_face_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_face *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return face_not_found(id);
    return st->ops->face_get(st, client_id, id, out);
}

int fr_store_face_list(fr_store *st, int64_t client_id, int64_t subject_id,
                       struct fr_store_face **rows_out, size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    TRY(need_id(client_id, "client id"));
    if (subject_id <= 0)
        return fr_err_set(FR_E_SUBJECT_NOT_FOUND, "subject %lld not found", (long long)subject_id);
    return st->ops->face_list(st, client_id, subject_id, rows_out, n_out);
}

int fr_store_face_image_get(fr_store *st, int64_t client_id, int64_t id, uint8_t **buf_out,
                            size_t *len_out) {
    if (buf_out) *buf_out = NULL;
    if (len_out) *len_out = 0;
    TRY(need_store(st));
    if (!buf_out || !len_out) return bad("buf_out and len_out are required");
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return face_not_found(id);
    return st->ops->face_image_get(st, client_id, id, buf_out, len_out);
}

int fr_store_face_stale(fr_store *st, const char *model_id, int64_t after_id, int limit,
                        struct fr_store_face_key **rows_out, size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!model_id || !rows_out || !n_out) return bad("model_id, rows_out and n_out are required");
    if (limit < 1 || limit > FR_STORE_LIST_MAX) return bad("limit must be 1..1000");
    return st->ops->face_stale(st, model_id, after_id, limit, rows_out, n_out);
}

int fr_store_face_image_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    int64_t n = 0;
    int rc = st->ops->face_image_purge(st, before_ms, &n);
    if (rc == 0 && n_out) *n_out = n;
    return rc;
}

int fr_store_face_delete(fr_store *st, int64_t client_id, int64_t id, int64_t *subject_out) {
    if (subject_out) *subject_out = 0;
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return face_not_found(id);
    int64_t subject = 0;
    int rc = st->ops->face_delete(st, client_id, id, &subject);
    if (rc == 0 && subject_out) *subject_out = subject;
    return rc;
}

int fr_store_face_count(fr_store *st, int64_t client_id, int64_t *n_out) {
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!n_out) return bad("n_out is NULL");
    if (client_id < 0) return bad("client id must be >= 0 (0: all clients)");
    return st->ops->face_count(st, client_id, n_out);
}

int fr_store_faces_foreach(fr_store *st, const char *model_id, fr_store_face_fn fn, void *ctx) {
    TRY(need_store(st));
    if (!fn) return bad("callback is NULL");
    return st->ops->faces_foreach(st, model_id, fn, ctx);
}

int fr_store_face_stats(fr_store *st, const char *model_id, struct fr_store_face_stats *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    return st->ops->face_stats(st, model_id, out);
}

void fr_store_face_free(struct fr_store_face *f) {
    if (!f) return;
    fr_free(f->embedding);
    fr_free(f->model_id);
    fr_free(f->image_sha256);
    memset(f, 0, sizeof *f);
}

void fr_store_faces_free(struct fr_store_face *rows, size_t n) {
    if (!rows) return;
    for (size_t i = 0; i < n; i++) fr_store_face_free(&rows[i]);
    fr_free(rows);
}

/* ---- audit --------------------------------------------------------------------- */

int fr_store_audit_append(fr_store *st, const char *actor, const char *action,
                          const char *target, const char *request_id, const char *details,
                          int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    TRY(need_str(actor, "audit actor", FR_STORE_NAME_MAX));
    TRY(need_str(action, "audit action", FR_STORE_NAME_MAX));
    TRY(opt_str(target, "audit target", FR_STORE_NAME_MAX));
    TRY(opt_str(request_id, "request id", FR_STORE_NAME_MAX));
    TRY(opt_str(details, "audit details", FR_STORE_METADATA_MAX));
    int64_t id = 0;
    int rc = st->ops->audit_append(st, actor, action, target, request_id, details, &id);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}

int fr_store_audit_list(fr_store *st, int limit, int64_t before_id,
                        struct fr_store_audit **rows_out, size_t *n_out, int64_t *next_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    if (next_out) *next_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out || !next_out) return bad("rows_out, n_out and next_out are required");
    TRY(need_limit(limit));
    if (before_id < 0) return bad("cursor must be >= 0");
    return st->ops->audit_list(st, limit, before_id, rows_out, n_out, next_out);
}

void fr_store_audit_free(struct fr_store_audit *a) {
    if (!a) return;
    fr_free(a->actor);
    fr_free(a->action);
    fr_free(a->target);
    fr_free(a->request_id);
    fr_free(a->details);
    memset(a, 0, sizeof *a);
}

void fr_store_audits_free(struct fr_store_audit *rows, size_t n) {
    if (!rows) return;
    for (size_t i = 0; i < n; i++) fr_store_audit_free(&rows[i]);
    fr_free(rows);
}

/* ---- usage --------------------------------------------------------------------- */

int fr_store_usage_add(fr_store *st, int64_t client_id, const char *day, const char *operation,
                       int64_t n) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    TRY(need_day(day, "day"));
    TRY(need_str(operation, "operation", FR_STORE_NAME_MAX));
    if (n < 0) return bad("usage count must be >= 0");
    return st->ops->usage_add(st, client_id, day, operation, n);
}

int fr_store_usage_list(fr_store *st, int64_t client_id, const char *from_day,
                        struct fr_store_usage **rows_out, size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    TRY(need_id(client_id, "client id"));
    if (from_day) TRY(need_day(from_day, "from_day"));
    return st->ops->usage_list(st, client_id, from_day, rows_out, n_out);
}

void fr_store_usages_free(struct fr_store_usage *rows, size_t n) {
    if (!rows) return;
    for (size_t i = 0; i < n; i++) fr_free(rows[i].operation);
    fr_free(rows);
}

/* ---- idempotency ------------------------------------------------------------- */

int fr_store_idem_get(fr_store *st, int64_t client_id, const char *key, struct fr_store_idem *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    TRY(need_str(key, "idempotency key", FR_STORE_NAME_MAX));
    return st->ops->idem_get(st, client_id, key, out);
}

int fr_store_idem_put(fr_store *st, int64_t client_id, const char *key, const char *request_hash,
                      int status, const char *response) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    TRY(need_str(key, "idempotency key", FR_STORE_NAME_MAX));
    TRY(need_str(request_hash, "request hash", FR_STORE_NAME_MAX));
    if (status < 100 || status > 599) return bad("status must be an HTTP status");
    if (!response) return bad("response is NULL");
    return st->ops->idem_put(st, client_id, key, request_hash, status, response);
}

int fr_store_idem_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    int64_t n = 0;
    int rc = st->ops->idem_purge(st, before_ms, &n);
    if (rc == 0 && n_out) *n_out = n;
    return rc;
}

void fr_store_idem_free(struct fr_store_idem *r) {
    if (!r) return;
    fr_free(r->request_hash);
    fr_free(r->response);
    memset(r, 0, sizeof *r);
}

/* ---- webhooks and the outbox ------------------------------------------------ */

#define URL_MAX 2048
#define SECRET_MAX 128

int fr_store_webhook_create(fr_store *st, int64_t client_id, const char *url, const char *events,
                            const char *description, int enabled, const char *secret, int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    if (!id_out) return bad("id_out is NULL");
    TRY(need_id(client_id, "client id"));
    TRY(need_str(url, "url", URL_MAX));
    TRY(need_str(events, "events", FR_STORE_EVENTS_MAX));
    TRY(opt_str(description, "description", FR_STORE_NAME_MAX));
    TRY(need_str(secret, "secret", SECRET_MAX));
    if (enabled != 0 && enabled != 1) return bad("enabled must be 0 or 1");
    return st->ops->webhook_create(st, client_id, url, events, description && *description ? description : NULL,
                                   enabled, secret, id_out);
}

int fr_store_webhook_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_webhook *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "webhook not found");
    return st->ops->webhook_get(st, client_id, id, out);
}

int fr_store_webhook_list(fr_store *st, int64_t client_id, struct fr_store_webhook **rows_out, size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    TRY(need_id(client_id, "client id"));
    return st->ops->webhook_list(st, client_id, rows_out, n_out);
}

int fr_store_webhook_update(fr_store *st, int64_t client_id, int64_t id, const struct fr_store_webhook_update *u) {
    TRY(need_store(st));
    if (!u) return bad("update is NULL");
    TRY(need_id(client_id, "client id"));
    if (u->url) TRY(need_str(u->url, "url", URL_MAX));
    if (u->events) TRY(need_str(u->events, "events", FR_STORE_EVENTS_MAX));
    TRY(opt_str(u->description, "description", FR_STORE_NAME_MAX));
    if (u->enabled > 1) return bad("enabled must be 0, 1 or < 0 (keep)");
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "webhook not found");
    return st->ops->webhook_update(st, client_id, id, u);
}

int fr_store_webhook_rotate(fr_store *st, int64_t client_id, int64_t id, const char *new_secret, int64_t old_until) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    TRY(need_str(new_secret, "secret", SECRET_MAX));
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "webhook not found");
    return st->ops->webhook_rotate(st, client_id, id, new_secret, old_until);
}

int fr_store_webhook_delete(fr_store *st, int64_t client_id, int64_t id) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "webhook not found");
    return st->ops->webhook_delete(st, client_id, id);
}

int fr_store_webhook_health(fr_store *st, int64_t id, int ok, int64_t at, int64_t disable_before, const char *reason,
                            int *disabled_out, int64_t *client_out) {
    int disabled = 0;
    int64_t client = 0;
    if (disabled_out) *disabled_out = 0;
    if (client_out) *client_out = 0;
    TRY(need_store(st));
    TRY(need_id(id, "webhook id"));
    TRY(opt_str(reason, "reason", FR_STORE_NAME_MAX));
    int rc = st->ops->webhook_health(st, id, ok != 0, at, disable_before, reason, &disabled, &client);
    if (rc == 0 && disabled_out) *disabled_out = disabled;
    if (rc == 0 && client_out) *client_out = client;
    return rc;
}

int fr_store_webhook_failing_count(fr_store *st, int64_t since, int64_t *n_out) {
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!n_out) return bad("n_out is NULL");
    return st->ops->webhook_failing_count(st, since, n_out);
}

void fr_store_webhook_free(struct fr_store_webhook *w) {
    if (!w) return;
    fr_free(w->url);
    fr_free(w->events);
    fr_free(w->description);
    fr_free(w->secret);
    fr_free(w->old_secret);
    fr_free(w->disabled_reason);
    memset(w, 0, sizeof *w);
}

void fr_store_webhooks_free(struct fr_store_webhook *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) fr_store_webhook_free(&rows[i]);
    fr_free(rows);
}

int fr_store_event_add(fr_store *st, const struct fr_store_event_new *e, int64_t *n_out) {
    int64_t n = 0;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!e) return bad("event is NULL");
    TRY(need_id(e->client_id, "client id"));
    TRY(need_str(e->id, "event id", FR_STORE_NAME_MAX));
    TRY(need_str(e->type, "event type", FR_STORE_NAME_MAX));
    if (!e->body) return bad("event body is NULL");
    if (e->webhook_id < 0) return bad("webhook id must be >= 0");
    if (e->created_at < 0) return bad("created_at must be >= 0");
    int rc = st->ops->event_add(st, e, &n);
    if (rc == 0 && n_out) *n_out = n;
    return rc;
}

void fr_store_claims_free_one(struct fr_store_claim *c) {
    if (!c) return;
    fr_free(c->url);
    fr_free(c->secret);
    fr_free(c->old_secret);
    fr_free(c->event_id);
    fr_free(c->body);
    fr_free(c->policy);
    memset(c, 0, sizeof *c);
}

void fr_store_claims_free(struct fr_store_claim *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) fr_store_claims_free_one(&rows[i]);
    fr_free(rows);
}

int fr_store_delivery_claim(fr_store *st, int64_t now, int64_t lease_ms, int max, int per_endpoint,
                            const int64_t *skip, size_t n_skip, const char *owner, struct fr_store_claim **rows_out,
                            size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    TRY(need_limit(max));
    if (lease_ms <= 0) return bad("lease_ms must be > 0");
    if (n_skip && !skip) return bad("skip is NULL");
    if (n_skip > FR_STORE_LIST_MAX) return bad("too many webhooks to skip");
    TRY(opt_str(owner, "lease owner", FR_STORE_NAME_MAX));
    /* the endpoints to skip as a JSON array: one bound parameter for any number */
    char *json = fr_malloc(n_skip * 21 + 3), *p = json;
    if (!json) return -FR_E_NOMEM;
    *p++ = '[';
    for (size_t i = 0; i < n_skip; i++) p += sprintf(p, "%s%lld", i ? "," : "", (long long)skip[i]);
    *p++ = ']';
    *p = 0;
    int rc = st->ops->delivery_claim(st, now, lease_ms, max, per_endpoint > 0 ? per_endpoint : max, json, owner,
                                     rows_out, n_out);
    fr_free(json);
    return rc;
}

int fr_store_delivery_release(fr_store *st, const char *owner, int64_t *n_out) {
    int64_t n = 0;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    TRY(need_str(owner, "lease owner", FR_STORE_NAME_MAX));
    int rc = st->ops->delivery_release(st, owner, &n);
    if (rc == 0 && n_out) *n_out = n;
    return rc;
}

int fr_store_delivery_finish(fr_store *st, const struct fr_store_delivery_done *d) {
    TRY(need_store(st));
    if (!d) return bad("outcome is NULL");
    TRY(need_id(d->id, "delivery id"));
    if (d->status < FR_DELIVERY_PENDING || d->status > FR_DELIVERY_FAILED) return bad("unknown delivery status");
    if (d->attempts < 0) return bad("attempts must be >= 0");
    TRY(opt_str(d->last_error, "last error", FR_STORE_NAME_MAX));
    return st->ops->delivery_finish(st, d);
}

int fr_store_delivery_list(fr_store *st, int64_t client_id, int64_t webhook_id, int limit, int64_t before_id,
                           struct fr_store_delivery **rows_out, size_t *n_out, int64_t *next_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    if (next_out) *next_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out || !next_out) return bad("rows_out, n_out and next_out are required");
    TRY(need_id(client_id, "client id"));
    TRY(need_id(webhook_id, "webhook id"));
    TRY(need_limit(limit));
    if (before_id < 0) return bad("cursor must be >= 0");
    return st->ops->delivery_list(st, client_id, webhook_id, limit, before_id, rows_out, n_out, next_out);
}

int fr_store_delivery_get(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id,
                          struct fr_store_delivery *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    if (webhook_id <= 0 || id <= 0) return fr_err_set(FR_E_NOT_FOUND, "delivery not found");
    return st->ops->delivery_get(st, client_id, webhook_id, id, out);
}

int fr_store_delivery_retry(fr_store *st, int64_t client_id, int64_t webhook_id, int64_t id, int64_t now) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (webhook_id <= 0 || id <= 0) return fr_err_set(FR_E_NOT_FOUND, "delivery not found");
    return st->ops->delivery_retry(st, client_id, webhook_id, id, now);
}

int fr_store_delivery_purge(fr_store *st, int64_t before_ms, int64_t *n_out) {
    int64_t n = 0;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    int rc = st->ops->delivery_purge(st, before_ms, &n);
    if (rc == 0 && n_out) *n_out = n;
    return rc;
}

int fr_store_outbox_stats(fr_store *st, int64_t *pending_out, int64_t *oldest_out) {
    if (pending_out) *pending_out = 0;
    if (oldest_out) *oldest_out = 0;
    TRY(need_store(st));
    if (!pending_out || !oldest_out) return bad("pending_out and oldest_out are required");
    return st->ops->outbox_stats(st, pending_out, oldest_out);
}

void fr_store_delivery_free(struct fr_store_delivery *d) {
    if (!d) return;
    fr_free(d->event_id);
    fr_free(d->event_type);
    fr_free(d->last_error);
    memset(d, 0, sizeof *d);
}

void fr_store_deliveries_free(struct fr_store_delivery *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) fr_store_delivery_free(&rows[i]);
    fr_free(rows);
}

/* ---- cameras and camera sessions -------------------------------------------- */

#define POLICY_MAX 512
#define ROSTER_MAX (21 * 100000)

static int check_transport(int t) { return t == 0 || t == 1 ? 0 : bad("transport must be 0 or 1"); }

int fr_store_camera_create(fr_store *st, int64_t client_id, const char *name, const char *url, int transport,
                           int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    if (!id_out) return bad("id_out is NULL");
    TRY(need_id(client_id, "client id"));
    TRY(need_str(name, "name", FR_STORE_NAME_MAX));
    TRY(need_str(url, "url", FR_STORE_URL_MAX));
    TRY(check_transport(transport));
    return st->ops->camera_create(st, client_id, name, url, transport, id_out);
}

int fr_store_camera_get(fr_store *st, int64_t client_id, int64_t id, struct fr_store_camera *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "camera not found");
    return st->ops->camera_get(st, client_id, id, out);
}

int fr_store_camera_list(fr_store *st, int64_t client_id, struct fr_store_camera **rows_out, size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    TRY(need_id(client_id, "client id"));
    return st->ops->camera_list(st, client_id, rows_out, n_out);
}

int fr_store_camera_update(fr_store *st, int64_t client_id, int64_t id, const char *name, const char *url,
                           int transport) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (name) TRY(need_str(name, "name", FR_STORE_NAME_MAX));
    if (url) TRY(need_str(url, "url", FR_STORE_URL_MAX));
    if (transport >= 0) TRY(check_transport(transport));
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "camera not found");
    return st->ops->camera_update(st, client_id, id, name, url, transport < 0 ? -1 : transport);
}

int fr_store_camera_delete(fr_store *st, int64_t client_id, int64_t id) {
    TRY(need_store(st));
    TRY(need_id(client_id, "client id"));
    if (id <= 0) return fr_err_set(FR_E_NOT_FOUND, "camera not found");
    return st->ops->camera_delete(st, client_id, id);
}

void fr_store_camera_free(struct fr_store_camera *c) {
    if (!c) return;
    fr_free(c->name);
    fr_free(c->url);
    memset(c, 0, sizeof *c);
}

void fr_store_cameras_free(struct fr_store_camera *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) fr_store_camera_free(&rows[i]);
    fr_free(rows);
}

static int check_settings(const struct fr_store_session_settings *x) {
    if (!x) return bad("settings are NULL");
    if (x->mode != 0 && x->mode != 1) return bad("mode must be 0 or 1");
    if (x->cooldown_ms < 0 || x->max_failure_ms < 0 || x->ends_at < 0 || x->max_failures < 0 || x->min_face_px < 0)
        return bad("settings must not be negative");
    if (!(x->fps > 0 && x->fps <= 1000)) return bad("fps out of range");
    TRY(need_str(x->callback_url, "callback url", FR_STORE_URL_MAX));
    TRY(need_str(x->policy, "callback policy", POLICY_MAX));
    TRY(opt_str(x->roster, "roster", ROSTER_MAX));
    return 0;
}

int fr_store_session_create(fr_store *st, const struct fr_store_session_new *n, int64_t *id_out, int64_t *hook_out) {
    if (id_out) *id_out = 0;
    if (hook_out) *hook_out = 0;
    TRY(need_store(st));
    if (!n || !id_out || !hook_out) return bad("session, id_out and hook_out are required");
    TRY(need_id(n->client_id, "client id"));
    TRY(need_str(n->uid, "session uid", FR_STORE_NAME_MAX));
    TRY(need_str(n->slot_id, "slot id", FR_STORE_NAME_MAX));
    TRY(check_settings(n->set));
    if (n->n_cameras < 1 || n->n_cameras > FR_STORE_SESSION_CAMERAS_MAX || !n->cameras)
        return bad("a session has 1 to 64 cameras");
    for (int i = 0; i < n->n_cameras; i++) {
        const struct fr_store_session_camera *c = &n->cameras[i];
        TRY(need_str(c->key, "camera key", FR_STORE_NAME_MAX));
        TRY(opt_str(c->name, "camera name", FR_STORE_NAME_MAX));
        TRY(need_str(c->url, "camera url", FR_STORE_URL_MAX));
        TRY(check_transport(c->transport));
        if (c->camera_id < 0) return bad("camera id must be >= 0");
    }
    TRY(opt_str(n->callback_secret, "callback secret", SECRET_MAX));
    TRY(opt_str(n->node, "node", FR_STORE_NAME_MAX));
    return st->ops->session_create(st, n, id_out, hook_out);
}

int fr_store_session_get(fr_store *st, int64_t client_id, const char *slot_id, struct fr_store_session *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    TRY(need_id(client_id, "client id"));
    TRY(need_str(slot_id, "slot id", FR_STORE_NAME_MAX));
    return st->ops->session_get(st, client_id, slot_id, 0, out);
}

int fr_store_session_get_id(fr_store *st, int64_t id, struct fr_store_session *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    if (id <= 0) return fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found");
    return st->ops->session_get(st, 0, NULL, id, out);
}

int fr_store_session_list(fr_store *st, int64_t client_id, int running, int limit, int64_t before_id,
                          struct fr_store_session **rows_out, size_t *n_out, int64_t *next_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    if (next_out) *next_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out || !next_out) return bad("rows_out, n_out and next_out are required");
    TRY(need_id(client_id, "client id"));
    TRY(need_limit(limit));
    if (before_id < 0) return bad("cursor must be >= 0");
    return st->ops->session_list(st, client_id, running != 0, limit, before_id, rows_out, n_out, next_out);
}

int fr_store_session_running(fr_store *st, struct fr_store_session **rows_out, size_t *n_out) {
    int64_t next = 0;
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    return st->ops->session_list(st, 0, 1, FR_STORE_LIST_MAX, 0, rows_out, n_out, &next);
}

int fr_store_session_take(fr_store *st, int64_t id, const char *node, int64_t *epoch_out) {
    if (epoch_out) *epoch_out = 0;
    TRY(need_store(st));
    if (!epoch_out) return bad("epoch_out is NULL");
    TRY(need_str(node, "node", FR_STORE_NAME_MAX));
    if (id <= 0) return fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found");
    return st->ops->session_take(st, id, node, epoch_out);
}

int fr_store_session_stop(fr_store *st, int64_t id, const char *reason, int64_t at) {
    TRY(need_store(st));
    TRY(need_str(reason, "reason", FR_STORE_NAME_MAX));
    if (id <= 0) return fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found");
    return st->ops->session_stop(st, id, reason, at);
}

int fr_store_session_progress(fr_store *st, int64_t id, const struct fr_store_session_stats *s) {
    TRY(need_store(st));
    if (!s) return bad("stats are NULL");
    if (id <= 0) return fr_err_set(FR_E_SESSION_NOT_FOUND, "session not found");
    return st->ops->session_progress(st, id, s);
}

void fr_store_session_free(struct fr_store_session *s) {
    if (!s) return;
    fr_free(s->uid);
    fr_free(s->slot_id);
    fr_free(s->reason);
    fr_free(s->set.roster);
    fr_free(s->set.callback_url);
    fr_free(s->set.policy);
    for (int i = 0; s->cameras && i < s->n_cameras; i++) {
        fr_free(s->cameras[i].key);
        fr_free(s->cameras[i].name);
        fr_free(s->cameras[i].url);
    }
    fr_free(s->cameras);
    fr_free(s->node);
    memset(s, 0, sizeof *s);
}

void fr_store_sessions_free(struct fr_store_session *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) fr_store_session_free(&rows[i]);
    fr_free(rows);
}

int fr_store_recognition_add(fr_store *st, const struct fr_store_recognition *r, int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    if (!r || !id_out) return bad("recognition and id_out are required");
    TRY(need_id(r->client_id, "client id"));
    TRY(need_id(r->session_id, "session id"));
    if (r->kind != 0 && r->kind != 1) return bad("kind must be 0 or 1");
    if (r->kind == 0) TRY(need_id(r->subject_id, "subject id"));
    TRY(need_str(r->camera, "camera", FR_STORE_NAME_MAX));
    TRY(opt_str(r->event_id, "event id", FR_STORE_NAME_MAX));
    return st->ops->recognition_add(st, r, id_out);
}

int fr_store_recognition_list(fr_store *st, int64_t client_id, int64_t session_id, int limit, int64_t after_id,
                              struct fr_store_recognition **rows_out, size_t *n_out, int64_t *next_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    if (next_out) *next_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out || !next_out) return bad("rows_out, n_out and next_out are required");
    TRY(need_id(client_id, "client id"));
    TRY(need_id(session_id, "session id"));
    TRY(need_limit(limit));
    if (after_id < 0) return bad("cursor must be >= 0");
    return st->ops->recognition_list(st, client_id, session_id, limit, after_id, rows_out, n_out, next_out);
}

int fr_store_session_reported(fr_store *st, int64_t session_id, int64_t **subjects_out, int64_t **at_out,
                              size_t *n_out) {
    if (subjects_out) *subjects_out = NULL;
    if (at_out) *at_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!subjects_out || !at_out || !n_out) return bad("subjects_out, at_out and n_out are required");
    TRY(need_id(session_id, "session id"));
    return st->ops->session_reported(st, session_id, subjects_out, at_out, n_out);
}

void fr_store_recognitions_free(struct fr_store_recognition *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) {
        fr_free(rows[i].camera);
        fr_free(rows[i].event_id);
    }
    fr_free(rows);
}

int fr_store_subject_find_external(fr_store *st, int64_t client_id, const char *external_id, int64_t *id_out) {
    if (id_out) *id_out = 0;
    TRY(need_store(st));
    if (!id_out) return bad("id_out is NULL");
    TRY(need_id(client_id, "client id"));
    TRY(need_str(external_id, "external_id", FR_STORE_NAME_MAX));
    return st->ops->subject_find_external(st, client_id, external_id, id_out);
}

/* ---- the index change log ----------------------------------------------------- */

int fr_store_changes_head(fr_store *st, int64_t *seq_out) {
    if (seq_out) *seq_out = 0;
    TRY(need_store(st));
    if (!seq_out) return bad("seq_out is NULL");
    return st->ops->changes_head(st, seq_out);
}

int fr_store_changes_since(fr_store *st, int64_t after_seq, int limit, struct fr_store_change **rows_out,
                           size_t *n_out) {
    if (rows_out) *rows_out = NULL;
    if (n_out) *n_out = 0;
    TRY(need_store(st));
    if (!rows_out || !n_out) return bad("rows_out and n_out are required");
    TRY(need_limit(limit));
    if (after_seq < 0) return bad("after_seq must be >= 0");
    return st->ops->changes_since(st, after_seq, limit, rows_out, n_out);
}

int fr_store_changes_wait(fr_store *st, int64_t after_seq, int timeout_ms) {
    TRY(need_store(st));
    if (after_seq < 0 || timeout_ms < 0 || timeout_ms > 600000) return bad("after_seq >= 0, timeout_ms 0..600000");
    return st->ops->changes_wait(st, after_seq, timeout_ms);
}

int fr_store_changes_purge(fr_store *st, int64_t before_ms, int64_t *n_out, int64_t *purged_through_out) {
    int64_t n = 0, through = 0;
    if (n_out) *n_out = 0;
    if (purged_through_out) *purged_through_out = 0;
    TRY(need_store(st));
    int rc = st->ops->changes_purge(st, before_ms, &n, &through);
    if (rc == 0 && n_out) *n_out = n;
    if (rc == 0 && purged_through_out) *purged_through_out = through;
    return rc;
}

int fr_store_changes_purged_through(fr_store *st, int64_t *seq_out) {
    if (seq_out) *seq_out = 0;
    TRY(need_store(st));
    if (!seq_out) return bad("seq_out is NULL");
    return st->ops->changes_purged_through(st, seq_out);
}

void fr_store_changes_free(struct fr_store_change *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) {
        fr_free(rows[i].model_id);
        fr_free(rows[i].embedding);
    }
    fr_free(rows);
}

int fr_store_info(fr_store *st, struct fr_store_info *out) {
    if (out) memset(out, 0, sizeof *out);
    TRY(need_store(st));
    if (!out) return bad("out is NULL");
    if (!st->ops->info) return fr_err_set(FR_E_INTERNAL_ERROR, "the %s backend has no info", st->ops->name);
    return st->ops->info(st, out);
}
