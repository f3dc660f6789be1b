/* Storage layer: every call's happy path and error paths on a real
 * database made fresh for each test, tenant isolation (client B can neither
 * see nor change client A's rows), cascades, cursor pagination, transaction
 * handles (visibility, nesting, threads), many threads writing at once,
 * allocation failures with no leaks, a clock of the test's own, and a child
 * killed with SIGKILL while enrolling: every id it acknowledged must survive
 * and the database must pass its check.
 *
 * The suite is written against the public interface only and runs once per
 * backend that fr_store_backend_name() lists: each test is named
 * "<backend>: <test>", and backend_fx[] below says how a backend gets a
 * fresh database (a backend without a row there fails the suite). Checks of
 * SQLite's files (modes, a junk file, backups as files) run for sqlite only.
 *
 * PostgreSQL: the suite starts a real server of its own (pg_fixture.h:
 * initdb in a temporary folder, a free loopback port) and gives each test
 * a fresh database; without PostgreSQL installed its cases are skipped
 * with a message. Where the backends differ by design (SQLite has one
 * writer at a time, PostgreSQL locks rows), a test says which it checks. */
#include "harness.h"

#include "facerec/keys.h"
#include "facerec/store.h"
#ifdef FR_WITH_PG
#include "store/pg_fixture.h"
#endif

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIM 512

/* How a backend's tests get a fresh, empty database. */
struct backend_fx {
    const char *name;            /* as fr_store_backend_name() gives it */
    /* The URL of a new database for one test; dir is the test's fresh scratch folder. 0 or -1. */
    int (*make_url)(const char *dir, char *url, size_t len);
    void (*drop)(const char *url);   /* at teardown (NULL: the scratch folder holds it all) */
    int sqlite_files;            /* the database is dir/facerec.db: SQLite's file checks apply */
    int schema_version;          /* the backend's latest migration */
    int one_writer;              /* writers queue one at a time (SQLite): a second transaction, or any
                                    write, waits for the open one; else only for rows it changed */
};

static int sqlite_url(const char *dir, char *url, size_t len) {
    snprintf(url, len, "sqlite:%s", dir);
    return 0;
}

#ifdef FR_WITH_PG
static struct pg_fixture pg_server;    /* started by main when a postgresql case will run */

static double pg_t0;                   /* when the first postgresql case began */

static int pg_url(const char *dir, char *url, size_t len) {
    (void)dir;
    if (!pg_t0) pg_t0 = fr_time_ms();
    return pg_fixture_create_db(&pg_server, url, len);
}

static void pg_drop(const char *url) { pg_fixture_drop_db(&pg_server, url); }
#endif

static struct backend_fx backend_fx[] = {   /* not const: each is a test's initial state */
    { "sqlite", sqlite_url, NULL, 1, 4, 1 },
#ifdef FR_WITH_PG
    { "postgresql", pg_url, pg_drop, 0, 2, 0 },
#endif
};

struct fx {
    const struct backend_fx *b;
    char dir[64];                /* scratch folder, removed at teardown */
    char url[160];
    fr_store *st;
    size_t mem0;
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int open_store(struct fx *f) { return fr_store_open(f->url, &f->st); }

/* *state comes in as the test's struct backend_fx and leaves as its struct fx. */
static int setup(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    f->b = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/fr_store_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    if (f->b->make_url(f->dir, f->url, sizeof f->url) < 0) return -1;
    f->mem0 = fr_mem_used();
    if (open_store(f) < 0) {
        fprintf(stderr, "open: %s\n", fr_err_detail());
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fx *f = *state;
    fr_store_close(f->st);
    size_t leaked = fr_mem_used() - f->mem0;
    if (f->b->drop) f->b->drop(f->url);
    nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    if (leaked) fprintf(stderr, "leaked %zu bytes\n", leaked);
    return leaked ? -1 : 0;
}

/* A client with a fresh random key; returns its id. */
static int64_t mk_client(fr_store *st, const char *name) {
    char key[FR_KEY_LEN + 1], prefix[FR_KEY_PREFIX_LEN + 1], hash[FR_KEY_HASH_LEN + 1];
    int64_t id = 0;
    assert_int_equal(fr_key_generate("frk", key), 0);
    fr_key_prefix(key, prefix);
    assert_int_equal(fr_key_hash(key, hash), 0);
    assert_int_equal(fr_store_client_create(st, name, prefix, hash, 100, 1000, &id), 0);
    assert_true(id > 0);
    return id;
}

static int64_t mk_subject(fr_store *st, int64_t client, const char *name, const char *ext) {
    int64_t id = 0;
    int rc = fr_store_subject_create(st, client, name, ext, NULL, &id);
    if (rc < 0) fprintf(stderr, "subject_create: %s\n", fr_err_detail());
    assert_int_equal(rc, 0);
    return id;
}

static void fill_emb(float *e, int64_t seed) {
    for (int i = 0; i < DIM; i++) e[i] = (float)sin((double)(seed * 31 + i)) * 0.05f;
}

static int64_t mk_face_model(fr_store *st, int64_t client, int64_t subject, int64_t seed,
                             const char *model) {
    float emb[DIM];
    int64_t id = 0;
    fill_emb(emb, seed);
    struct fr_store_face_new n = { .client_id = client, .subject_id = subject, .embedding = emb,
                                   .dim = DIM, .model_id = model, .quality = 0.75f,
                                   .liveness = -1, .bbox = { 1, 2, 30, 40 } };
    int rc = fr_store_face_add(st, &n, &id);
    if (rc < 0) fprintf(stderr, "face_add: %s\n", fr_err_detail());
    assert_int_equal(rc, 0);
    return id;
}

static int64_t mk_face(fr_store *st, int64_t client, int64_t subject, int64_t seed) {
    return mk_face_model(st, client, subject, seed, "fr_feature");
}

/* ---- opening ---------------------------------------------------------------- */

static void test_open_and_migrations(void **state) {
    struct fx *f = *state;
    int v = 0;
    assert_string_equal(fr_store_backend(f->st), f->b->name);
    assert_int_equal(fr_store_ping(f->st), 0);
    assert_int_equal(fr_store_schema_version(f->st, &v), 0);
    assert_int_equal(v, f->b->schema_version);
    int64_t c = mk_client(f->st, "a");
    mk_subject(f->st, c, "s", "x");
    /* reopening runs no migration twice and keeps the rows */
    for (int i = 0; i < 3; i++) {
        fr_store_close(f->st);
        assert_int_equal(open_store(f), 0);
        assert_int_equal(fr_store_schema_version(f->st, &v), 0);
        assert_int_equal(v, f->b->schema_version);
    }
    int64_t n = 0;
    assert_int_equal(fr_store_subject_count(f->st, c, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fr_store_check(f->st), 0);
    if (!f->b->sqlite_files) return;
    /* biometric data is for the service's user only */
    char path[128];
    struct stat sb;
    snprintf(path, sizeof path, "%s/facerec.db", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_open_errors(void **state) {
    struct fx *f = *state;
    fr_store *st = (fr_store *)1;
    char path[128], url[160], cwd[4096];
    assert_int_equal(fr_store_open(NULL, &st), -FR_E_INVALID_ARGUMENT);
    assert_null(st);
    assert_int_equal(fr_store_open(f->url, NULL), -FR_E_INVALID_ARGUMENT);
    fr_store_close(NULL);
    if (!f->b->sqlite_files) return;
    st = (fr_store *)1;
    assert_int_equal(fr_store_open("sqlite:", &st), -FR_E_INVALID_ARGUMENT);
    assert_null(st);
    assert_string_equal(fr_err_value(), "database_url");
    /* a file where the directory should be */
    snprintf(path, sizeof path, "%s/file", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("x", fp);
    fclose(fp);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(fr_store_open(url, &st), -FR_E_IO);
    /* a facerec.db that is not a database */
    snprintf(path, sizeof path, "%s/junk", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/junk/facerec.db", f->dir);
    fp = fopen(path, "w");
    for (int i = 0; i < 200; i++) fputs("this is not an SQLite database ", fp);
    fclose(fp);
    snprintf(url, sizeof url, "sqlite:%s/junk", f->dir);
    assert_int_equal(fr_store_open(url, &st), -FR_E_IO);
    assert_null(st);
    printf("not a database: %s\n", fr_err_detail());
    /* nested directories are created */
    snprintf(url, sizeof url, "sqlite:%s/a/b/c", f->dir);
    assert_int_equal(fr_store_open(url, &st), 0);
    fr_store_close(st);
    /* a relative folder is the working directory's; the scheme's case does not matter */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(fr_store_open("SQLite:rel/db", &st), 0);
    assert_string_equal(fr_store_backend(st), "sqlite");
    fr_store_close(st);
    assert_int_equal(chdir(cwd), 0);
    snprintf(path, sizeof path, "%s/rel/db/facerec.db", f->dir);
    assert_int_equal(access(path, F_OK), 0);
}

/* Backends by name: the list, an unknown scheme, a known one not built. */
static void test_open_by_url(void **state) {
    struct fx *f = *state;
    fr_store *st = (fr_store *)1;
    int listed = 0;
    assert_true(fr_store_backend_count() >= 1);
    for (size_t i = 0; i < fr_store_backend_count(); i++) {
        assert_non_null(fr_store_backend_name(i));
        listed += strcmp(fr_store_backend_name(i), f->b->name) == 0;
    }
    assert_int_equal(listed, 1);
    assert_null(fr_store_backend_name(fr_store_backend_count()));
    assert_string_equal(fr_store_backend(f->st), f->b->name);

    /* an unknown scheme names the field and lists what there is; the URL
     * itself (it may hold a password) is not quoted back */
    assert_int_equal(fr_store_open("mysql://app:s3cr3t@db.example/facerec", &st),
                     -FR_E_INVALID_ARGUMENT);
    assert_null(st);
    printf("unknown: %s\n", fr_err_detail());
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "database_url");
    assert_non_null(strstr(fr_err_detail(), "unknown backend 'mysql'"));
    assert_non_null(strstr(fr_err_detail(), "sqlite:"));
    assert_null(strstr(fr_err_detail(), "s3cr3t"));
    /* not a URL at all */
    static const char *const bad[] = { "", "/var/lib/facerec", ":x", "1db:x", "sq lite:x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = (fr_store *)1;
        assert_int_equal(fr_store_open(bad[i], &st), -FR_E_INVALID_ARGUMENT);
        assert_null(st);
        assert_string_equal(fr_err_value(), "database_url");
    }
}

/* postgresql: and postgres: URLs. Built in: a server that is not there is
 * SERVICE_UNAVAILABLE, facerec's own ?pool= is checked, and the password
 * is never quoted back. Built without (WITH_PG=no): refused as not built. */
static void test_open_postgresql_urls(void **state) {
    (void)state;
    static const char *const urls[] = { "postgresql://face:s3cr3t@127.0.0.1:1/facerec",
                                        "postgres://face:s3cr3t@127.0.0.1:1/facerec?pool=2",
                                        "PostgreSQL://face:s3cr3t@127.0.0.1:1/facerec?connect_timeout=2&pool=3" };
    int built = 0;
    for (size_t i = 0; i < fr_store_backend_count(); i++) built |= strcmp(fr_store_backend_name(i), "postgresql") == 0;
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        fr_store *st = (fr_store *)1;
        assert_int_equal(fr_store_open(urls[i], &st), built ? -FR_E_SERVICE_UNAVAILABLE : -FR_E_INVALID_ARGUMENT);
        assert_null(st);
        printf("%s\n", fr_err_detail());
        assert_null(strstr(fr_err_detail(), "s3cr3t"));
        if (built) continue;
        assert_string_equal(fr_err_key(), "field");
        assert_string_equal(fr_err_value(), "database_url");
        assert_non_null(strstr(fr_err_detail(), "not built"));
    }
    if (!built) return;
    static const char *const bad_pool[] = { "postgresql://face:s3cr3t@127.0.0.1:1/x?pool=0",
                                            "postgresql://face:s3cr3t@127.0.0.1:1/x?pool=many",
                                            "postgresql://face:s3cr3t@127.0.0.1:1/x?sslmode=disable&pool=100000" };
    for (size_t i = 0; i < sizeof bad_pool / sizeof bad_pool[0]; i++) {
        fr_store *st = (fr_store *)1;
        assert_int_equal(fr_store_open(bad_pool[i], &st), -FR_E_INVALID_ARGUMENT);
        assert_null(st);
        assert_string_equal(fr_err_value(), "database_url");
        assert_null(strstr(fr_err_detail(), "s3cr3t"));
    }
}

static void test_backup(void **state) {
    struct fx *f = *state;
    char dir2[128], path[160], url[160];
    int64_t c = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, c, "s", NULL);
    int64_t face = mk_face(f->st, c, s, 1);
    snprintf(dir2, sizeof dir2, "%s/copy", f->dir);
    mkdir(dir2, 0700);
    snprintf(path, sizeof path, "%s/facerec.db", dir2);
    assert_int_equal(fr_store_backup(f->st, path), 0);
    assert_true(fr_store_backup(f->st, path) < 0);   /* never overwrites */
#ifdef FR_WITH_PG
    if (strcmp(f->b->name, "postgresql") == 0) {      /* a pg_dump archive: pg_restore reads it */
        char url2[160], cmd[700];
        fr_store *r = NULL;
        struct fr_store_face face_row;
        assert_int_equal(pg_fixture_create_db(&pg_server, url2, sizeof url2), 0);
        snprintf(cmd, sizeof cmd, "%s/pg_restore --no-owner --exit-on-error -d '%s' '%s'", pg_server.bin, url2, path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(fr_store_open(url2, &r), 0);
        assert_int_equal(fr_store_face_get(r, c, face, &face_row), 0);
        assert_int_equal(face_row.dim, DIM);
        fr_store_face_free(&face_row);
        assert_int_equal(fr_store_check(r), 0);
        assert_true(mk_subject(r, c, "after restore", NULL) > s);   /* the ids go on */
        fr_store_close(r);
        pg_fixture_drop_db(&pg_server, url2);
        return;
    }
#endif
    if (!f->b->sqlite_files) return;                  /* the copy is a file only for sqlite */
    fr_store *b = NULL;
    struct fr_store_face row;
    snprintf(url, sizeof url, "sqlite:%s", dir2);
    assert_int_equal(fr_store_open(url, &b), 0);
    assert_int_equal(fr_store_face_get(b, c, face, &row), 0);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_check(b), 0);
    fr_store_close(b);
}

/* fr_store_restore on each backend: into a fresh database; refused for a
 * file that is no backup, for a database in use and for one with data
 * (unless forced), each with its structured field. */
static void test_restore(void **state) {
    struct fx *f = *state;
    char path[160], junk[160], url2[160];
    int64_t c = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, c, "s", NULL);
    int64_t face = mk_face(f->st, c, s, 1);
    snprintf(path, sizeof path, "%s/backup", f->dir);
    snprintf(junk, sizeof junk, "%s/junk", f->dir);
    assert_int_equal(fr_store_backup(f->st, path), 0);
    assert_int_equal(fr_file_write(junk, "junk junk junk junk", 19), 0);
    /* the database the store has open: in use */
    assert_int_equal(fr_store_restore(f->url, path, FR_STORE_RESTORE_FORCE), -FR_E_CONFLICT);
    assert_string_equal(fr_err_value(), "database");
    assert_int_equal(fr_store_restore(f->url, path, 2), -FR_E_INVALID_ARGUMENT);   /* unknown flag */
    url2[0] = 0;
#ifdef FR_WITH_PG
    if (strcmp(f->b->name, "postgresql") == 0) assert_int_equal(pg_fixture_create_db(&pg_server, url2, sizeof url2), 0);
#endif
    if (!url2[0]) snprintf(url2, sizeof url2, "sqlite:%s/restored", f->dir);
    assert_int_equal(fr_store_restore(url2, junk, FR_STORE_RESTORE_FORCE), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_value(), "file");
    assert_int_equal(fr_store_restore(url2, path, 0), 0);
    fr_store *r = NULL;
    struct fr_store_face row;
    assert_int_equal(fr_store_open(url2, &r), 0);
    assert_int_equal(fr_store_face_get(r, c, face, &row), 0);
    assert_int_equal(row.dim, DIM);
    fr_store_face_free(&row);
    assert_true(mk_subject(r, c, "after restore", NULL) > s);   /* the ids go on */
    fr_store_close(r);
    /* now it holds data: only forced */
    assert_int_equal(fr_store_restore(url2, path, 0), -FR_E_CONFLICT);
    assert_string_equal(fr_err_value(), "database");
    assert_int_equal(fr_store_restore(url2, path, FR_STORE_RESTORE_FORCE), 0);
    assert_int_equal(fr_store_open(url2, &r), 0);
    int64_t n = 0;
    assert_int_equal(fr_store_subject_count(r, c, &n), 0);
    assert_int_equal(n, 1);                                   /* the backup's, not the later one */
    fr_store_close(r);
#ifdef FR_WITH_PG
    if (strcmp(f->b->name, "postgresql") == 0) pg_fixture_drop_db(&pg_server, url2);
#endif
}

/* ---- keys, clients, settings ------------------------------------------------------ */

static void test_keys(void **state) {
    (void)state;
    char k1[FR_KEY_LEN + 1], k2[FR_KEY_LEN + 1], p[FR_KEY_PREFIX_LEN + 1], h[FR_KEY_HASH_LEN + 1];
    assert_int_equal(fr_key_generate("frk", k1), 0);
    assert_int_equal(fr_key_generate("frk", k2), 0);
    assert_int_equal(strlen(k1), FR_KEY_LEN);
    assert_memory_equal(k1, "frk_", 4);
    assert_string_not_equal(k1, k2);
    for (const char *c = k1 + 4; *c; c++)
        assert_true((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_');
    fr_key_prefix(k1, p);
    assert_int_equal(strlen(p), FR_KEY_PREFIX_LEN);
    assert_memory_equal(p, k1, FR_KEY_PREFIX_LEN);
    assert_int_equal(fr_key_hash(k1, h), 0);
    assert_int_equal(strlen(h), 64);
    assert_true(fr_key_verify(k1, h));
    assert_false(fr_key_verify(k2, h));
    assert_false(fr_key_verify(k1, "abc"));
    assert_false(fr_key_verify(NULL, h));
    h[63] = h[63] == '0' ? '1' : '0';
    assert_false(fr_key_verify(k1, h));
    /* a known SHA-256 */
    assert_int_equal(fr_key_hash("abc", h), 0);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(fr_key_generate("FRK", k1), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_key_generate("frkk", k1), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_key_generate("fra", k1), 0);
    assert_memory_equal(k1, "fra_", 4);
}

static void test_clients(void **state) {
    struct fx *f = *state;
    struct fr_store_client c;
    int64_t a = 0, b = 0;
    assert_int_equal(fr_store_client_create(f->st, "acme", "frk_aaaaaaaa", "h1", 10, 100, &a), 0);
    assert_int_equal(fr_store_client_create(f->st, "beta", "frk_bbbbbbbb", "h2", 0, 0, &b), 0);
    assert_true(b > a);
    /* the key prefix is unique: the service retries with a new key */
    int64_t x = 99;
    assert_int_equal(fr_store_client_create(f->st, "dup", "frk_aaaaaaaa", "h3", 0, 0, &x), -FR_E_CONFLICT);
    assert_int_equal(x, 0);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "key_prefix");

    assert_int_equal(fr_store_client_get(f->st, a, &c), 0);
    assert_int_equal(c.id, a);
    assert_string_equal(c.name, "acme");
    assert_string_equal(c.key_prefix, "frk_aaaaaaaa");
    assert_string_equal(c.key_hash, "h1");
    assert_int_equal(c.rate_limit_per_hour, 10);
    assert_int_equal(c.rate_limit_per_day, 100);
    assert_int_equal(c.disabled, 0);
    assert_true(c.created_at > 1600000000000LL);
    fr_store_client_free(&c);
    fr_store_client_free(&c);   /* twice is harmless */

    assert_int_equal(fr_store_client_get_by_prefix(f->st, "frk_bbbbbbbb", &c), 0);
    assert_int_equal(c.id, b);
    fr_store_client_free(&c);
    assert_int_equal(fr_store_client_get_by_prefix(f->st, "frk_zzzzzzzz", &c), -FR_E_NOT_FOUND);
    assert_null(c.name);
    assert_int_equal(fr_store_client_get(f->st, 9999, &c), -FR_E_NOT_FOUND);

    /* partial update: only what is given changes */
    struct fr_store_client_update u = FR_STORE_CLIENT_UPDATE_KEEP;
    u.rate_limit_per_day = 5;
    u.disabled = 1;
    assert_int_equal(fr_store_client_update(f->st, a, &u), 0);
    assert_int_equal(fr_store_client_get(f->st, a, &c), 0);
    assert_string_equal(c.name, "acme");
    assert_int_equal(c.rate_limit_per_hour, 10);
    assert_int_equal(c.rate_limit_per_day, 5);
    assert_int_equal(c.disabled, 1);
    fr_store_client_free(&c);
    u = (struct fr_store_client_update)FR_STORE_CLIENT_UPDATE_KEEP;
    u.name = "acme 2";
    u.disabled = 0;
    assert_int_equal(fr_store_client_update(f->st, a, &u), 0);
    assert_int_equal(fr_store_client_update(f->st, 9999, &u), -FR_E_NOT_FOUND);
    u.name = "";
    assert_int_equal(fr_store_client_update(f->st, a, &u), -FR_E_INVALID_ARGUMENT);

    /* key rotation */
    assert_int_equal(fr_store_client_set_key(f->st, a, "frk_cccccccc", "h9"), 0);
    assert_int_equal(fr_store_client_get_by_prefix(f->st, "frk_aaaaaaaa", &c), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_client_get_by_prefix(f->st, "frk_cccccccc", &c), 0);
    assert_string_equal(c.key_hash, "h9");
    assert_string_equal(c.name, "acme 2");
    assert_int_equal(c.disabled, 0);
    fr_store_client_free(&c);
    assert_int_equal(fr_store_client_set_key(f->st, a, "frk_bbbbbbbb", "h9"), -FR_E_CONFLICT);
    assert_int_equal(fr_store_client_set_key(f->st, 9999, "frk_dddddddd", "h9"), -FR_E_NOT_FOUND);

    struct fr_store_client *rows = NULL;
    size_t n = 0;
    assert_int_equal(fr_store_client_list(f->st, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, a);
    assert_int_equal(rows[1].id, b);
    assert_string_equal(rows[1].name, "beta");
    fr_store_clients_free(rows, n);

    assert_int_equal(fr_store_client_delete(f->st, b), 0);
    assert_int_equal(fr_store_client_delete(f->st, b), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_client_get(f->st, b, &c), -FR_E_NOT_FOUND);
    /* argument checks */
    assert_int_equal(fr_store_client_create(f->st, "", "p", "h", 0, 0, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_client_create(f->st, "n", NULL, "h", 0, 0, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_client_create(f->st, "n", "p", "h", -1, 0, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_client_get(f->st, 0, &c), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_client_get(NULL, 1, &c), -FR_E_INVALID_ARGUMENT);
}

static void test_admin_settings(void **state) {
    struct fx *f = *state;
    char *v = (char *)1;
    assert_int_equal(fr_store_admin_get(f->st, FR_STORE_ADMIN_TOKEN_HASH, &v), -FR_E_NOT_FOUND);
    assert_null(v);
    assert_int_equal(fr_store_admin_set(f->st, FR_STORE_ADMIN_TOKEN_HASH, "abc"), 0);
    assert_int_equal(fr_store_admin_get(f->st, FR_STORE_ADMIN_TOKEN_HASH, &v), 0);
    assert_string_equal(v, "abc");
    fr_free(v);
    assert_int_equal(fr_store_admin_set(f->st, FR_STORE_ADMIN_TOKEN_HASH, "def"), 0);
    assert_int_equal(fr_store_admin_get(f->st, FR_STORE_ADMIN_TOKEN_HASH, &v), 0);
    assert_string_equal(v, "def");
    fr_free(v);
    assert_int_equal(fr_store_admin_set(f->st, "", "x"), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_admin_set(f->st, "k", NULL), -FR_E_INVALID_ARGUMENT);
}

/* ---- subjects ----------------------------------------------------------------------- */

static void test_subjects(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b");
    int64_t s1 = 0, s2 = 0, sb = 0, x = 7;
    struct fr_store_subject s;
    assert_int_equal(fr_store_subject_create(f->st, a, "Ada", "emp-1", "{\"team\":1}", &s1), 0);
    assert_int_equal(fr_store_subject_create(f->st, a, "Bob", NULL, NULL, &s2), 0);
    /* many subjects without external_id are fine; "" means none */
    assert_true(mk_subject(f->st, a, "Cy", NULL) > 0);
    assert_true(mk_subject(f->st, a, "Di", "") > 0);
    /* external_id unique per client, not across clients */
    assert_int_equal(fr_store_subject_create(f->st, a, "Eve", "emp-1", NULL, &x), -FR_E_CONFLICT);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "external_id");
    assert_int_equal(x, 0);
    assert_int_equal(fr_store_subject_create(f->st, b, "Ada B", "emp-1", NULL, &sb), 0);
    /* a client that does not exist */
    assert_int_equal(fr_store_subject_create(f->st, 9999, "Z", NULL, NULL, &x), -FR_E_NOT_FOUND);

    assert_int_equal(fr_store_subject_get(f->st, a, s1, &s), 0);
    assert_int_equal(s.id, s1);
    assert_int_equal(s.client_id, a);
    assert_string_equal(s.name, "Ada");
    assert_string_equal(s.external_id, "emp-1");
    assert_string_equal(s.metadata, "{\"team\":1}");
    assert_int_equal(s.n_faces, 0);
    assert_true(s.updated_at >= s.created_at);
    fr_store_subject_free(&s);
    assert_int_equal(fr_store_subject_get(f->st, a, s2, &s), 0);
    assert_null(s.external_id);
    assert_null(s.metadata);
    fr_store_subject_free(&s);
    assert_int_equal(fr_store_subject_get(f->st, a, 9999, &s), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(fr_store_subject_get(f->st, a, -3, &s), -FR_E_SUBJECT_NOT_FOUND);

    /* updates: each field optional; "" clears external_id and metadata */
    struct fr_store_subject_update u = { .name = "Ada L" };
    assert_int_equal(fr_store_subject_update(f->st, a, s1, &u), 0);
    assert_int_equal(fr_store_subject_get(f->st, a, s1, &s), 0);
    assert_string_equal(s.name, "Ada L");
    assert_string_equal(s.external_id, "emp-1");
    assert_string_equal(s.metadata, "{\"team\":1}");
    fr_store_subject_free(&s);
    u = (struct fr_store_subject_update){ .external_id = "", .metadata = "{}" };
    assert_int_equal(fr_store_subject_update(f->st, a, s1, &u), 0);
    assert_int_equal(fr_store_subject_get(f->st, a, s1, &s), 0);
    assert_null(s.external_id);
    assert_string_equal(s.metadata, "{}");
    assert_string_equal(s.name, "Ada L");
    fr_store_subject_free(&s);
    u = (struct fr_store_subject_update){ .external_id = "emp-2" };
    assert_int_equal(fr_store_subject_update(f->st, a, s2, &u), 0);
    assert_int_equal(fr_store_subject_update(f->st, a, s1, &u), -FR_E_CONFLICT);
    assert_string_equal(fr_err_value(), "external_id");
    assert_int_equal(fr_store_subject_update(f->st, a, 9999, &u), -FR_E_SUBJECT_NOT_FOUND);
    u = (struct fr_store_subject_update){ .name = "" };
    assert_int_equal(fr_store_subject_update(f->st, a, s1, &u), -FR_E_INVALID_ARGUMENT);

    /* many at once for identify: foreign and missing ids come back empty */
    int64_t ids[5] = { s2, sb, s1, 9999, 0 };
    struct fr_store_subject many[5];
    assert_int_equal(fr_store_subject_get_many(f->st, a, ids, 5, many), 0);
    assert_int_equal(many[0].id, s2);
    assert_string_equal(many[0].external_id, "emp-2");
    assert_int_equal(many[1].id, 0);
    assert_null(many[1].name);
    assert_int_equal(many[2].id, s1);
    assert_string_equal(many[2].name, "Ada L");
    assert_int_equal(many[3].id, 0);
    assert_int_equal(many[4].id, 0);
    for (int i = 0; i < 5; i++) fr_store_subject_free(&many[i]);

    int64_t n = 0;
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(fr_store_subject_count(f->st, b, &n), 0);
    assert_int_equal(n, 1);

    /* limits */
    char big[FR_STORE_NAME_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(fr_store_subject_create(f->st, a, big, NULL, NULL, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_subject_create(f->st, a, "ok", big, NULL, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_subject_create(f->st, 0, "ok", NULL, NULL, &x), -FR_E_INVALID_ARGUMENT);
}

static void test_subject_pagination(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b");
    enum { N = 250 };
    int64_t want[N];
    char name[32];
    fr_store *tx = NULL;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "s%d", i);
        want[i] = mk_subject(tx, a, name, NULL);
        if (i % 3 == 0) mk_subject(tx, b, name, NULL);   /* interleaved foreign rows */
    }
    assert_int_equal(fr_store_tx_commit(tx), 0);
    int64_t cursor = 0;
    int got = 0, pages = 0;
    do {
        struct fr_store_subject *rows = NULL;
        size_t n = 0;
        int64_t next = -1;
        assert_int_equal(fr_store_subject_list(f->st, a, 7, cursor, &rows, &n, &next), 0);
        assert_true(n <= 7);
        for (size_t i = 0; i < n; i++) {
            assert_true(got < N);
            assert_int_equal(rows[i].id, want[got]);
            assert_int_equal(rows[i].client_id, a);
            got++;
        }
        fr_store_subjects_free(rows, n);
        pages++;
        cursor = next;
    } while (cursor);
    assert_int_equal(got, N);
    assert_int_equal(pages, (N + 6) / 7);
    /* exact fit: the last page says there is no next */
    struct fr_store_subject *rows = NULL;
    size_t n = 0;
    int64_t next = 0;
    assert_int_equal(fr_store_subject_list(f->st, a, 5, want[N - 6], &rows, &n, &next), 0);
    assert_int_equal(n, 5);
    assert_int_equal(next, 0);
    fr_store_subjects_free(rows, n);
    assert_int_equal(fr_store_subject_list(f->st, a, 5, want[N - 1], &rows, &n, &next), 0);
    assert_int_equal(n, 0);
    assert_null(rows);
    assert_int_equal(fr_store_subject_list(f->st, a, 0, 0, &rows, &n, &next), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_subject_list(f->st, a, FR_STORE_LIST_MAX + 1, 0, &rows, &n, &next),
                     -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_subject_list(f->st, a, 5, -1, &rows, &n, &next), -FR_E_INVALID_ARGUMENT);
}

/* ---- faces --------------------------------------------------------------------------- */

static void test_faces(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, a, "Ada", NULL);
    float emb[DIM];
    uint8_t photo[300];
    fill_emb(emb, 5);
    emb[0] = -0.0f;
    emb[1] = 1e-38f;   /* values survive bit for bit */
    for (size_t i = 0; i < sizeof photo; i++) photo[i] = (uint8_t)(i * 7);
    struct fr_store_face_new n = { .client_id = a, .subject_id = s, .embedding = emb, .dim = DIM,
                                   .model_id = "fr_feature", .quality = 0.8f, .liveness = 0.97f,
                                   .bbox = { 10.5f, 20, 100, 120 }, .image_sha256 = "ab12",
                                   .image = photo, .image_len = sizeof photo };
    int64_t f1 = 0, f2, f3;
    assert_int_equal(fr_store_face_add(f->st, &n, &f1), 0);
    f2 = mk_face(f->st, a, s, 6);
    struct fr_store_face row;
    assert_int_equal(fr_store_face_get(f->st, a, f1, &row), 0);
    assert_int_equal(row.id, f1);
    assert_int_equal(row.client_id, a);
    assert_int_equal(row.subject_id, s);
    assert_int_equal(row.dim, DIM);
    assert_memory_equal(row.embedding, emb, sizeof emb);
    assert_string_equal(row.model_id, "fr_feature");
    assert_true(row.quality == 0.8f);
    assert_true(row.liveness == 0.97f);
    assert_true(row.bbox[0] == 10.5f && row.bbox[3] == 120.0f);
    assert_string_equal(row.image_sha256, "ab12");
    assert_int_equal(row.has_image, 1);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_face_get(f->st, a, f2, &row), 0);
    assert_true(row.liveness < 0);   /* not measured */
    assert_null(row.image_sha256);
    assert_int_equal(row.has_image, 0);
    fr_store_face_free(&row);

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fr_store_face_image_get(f->st, a, f1, &buf, &len), 0);
    assert_int_equal(len, sizeof photo);
    assert_memory_equal(buf, photo, len);
    fr_free(buf);
    assert_int_equal(fr_store_face_image_get(f->st, a, f2, &buf, &len), -FR_E_NOT_FOUND);
    assert_null(buf);

    struct fr_store_subject sub;
    assert_int_equal(fr_store_subject_get(f->st, a, s, &sub), 0);
    assert_int_equal(sub.n_faces, 2);
    fr_store_subject_free(&sub);

    struct fr_store_face *rows = NULL;
    size_t nr = 0;
    assert_int_equal(fr_store_face_list(f->st, a, s, &rows, &nr), 0);
    assert_int_equal(nr, 2);
    assert_int_equal(rows[0].id, f1);
    assert_int_equal(rows[1].id, f2);
    assert_memory_equal(rows[0].embedding, emb, sizeof emb);
    fr_store_faces_free(rows, nr);
    int64_t s_empty = mk_subject(f->st, a, "Empty", NULL);
    assert_int_equal(fr_store_face_list(f->st, a, s_empty, &rows, &nr), 0);
    assert_int_equal(nr, 0);
    assert_int_equal(fr_store_face_list(f->st, a, 9999, &rows, &nr), -FR_E_SUBJECT_NOT_FOUND);

    /* a subject that does not exist */
    n.subject_id = 9999;
    assert_int_equal(fr_store_face_add(f->st, &n, &f3), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(f3, 0);
    n.subject_id = s;
    /* bad embeddings */
    n.dim = 0;
    assert_int_equal(fr_store_face_add(f->st, &n, &f3), -FR_E_INVALID_ARGUMENT);
    n.dim = DIM;
    emb[3] = NAN;
    assert_int_equal(fr_store_face_add(f->st, &n, &f3), -FR_E_INVALID_ARGUMENT);
    emb[3] = 0;
    n.model_id = NULL;
    assert_int_equal(fr_store_face_add(f->st, &n, &f3), -FR_E_INVALID_ARGUMENT);
    n.model_id = "fr_feature";

    /* retention: photos older than now go, the faces stay */
    int64_t purged = 0;
    assert_int_equal(fr_store_face_image_purge(f->st, 0, &purged), 0);
    assert_int_equal(purged, 0);
    assert_int_equal(fr_store_face_image_purge(f->st, fr_now_ms() + 1000, &purged), 0);
    assert_int_equal(purged, 1);
    assert_int_equal(fr_store_face_image_get(f->st, a, f1, &buf, &len), -FR_E_NOT_FOUND);

    int64_t cnt = 0, subj = 0;
    assert_int_equal(fr_store_face_count(f->st, a, &cnt), 0);
    assert_int_equal(cnt, 2);
    assert_int_equal(fr_store_face_delete(f->st, a, f1, &subj), 0);
    assert_int_equal(subj, s);
    assert_int_equal(fr_store_face_delete(f->st, a, f1, &subj), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_face_get(f->st, a, f1, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_face_count(f->st, a, &cnt), 0);
    assert_int_equal(cnt, 1);
    assert_int_equal(fr_store_face_count(f->st, 0, &cnt), 0);
    assert_int_equal(cnt, 1);
    /* ids are never reused */
    f3 = mk_face(f->st, a, s, 7);
    assert_true(f3 > f2);
}

struct walk {
    int n;
    int64_t last_id;
    int64_t ids[64];
    int stop_at;
};

static int walk_cb(void *ctx, const struct fr_store_face_ref *r) {
    struct walk *w = ctx;
    assert_true(r->id > w->last_id);   /* by id */
    w->last_id = r->id;
    assert_int_equal(r->dim, DIM);
    assert_true(r->client_id > 0 && r->subject_id > 0 && r->embedding);
    if (w->n < 64) w->ids[w->n] = r->id;
    w->n++;
    return w->stop_at && w->n == w->stop_at ? 42 : 0;
}

static void test_faces_foreach_and_stats(void **state) {
    struct fx *f = *state;
    int64_t c[3];
    int64_t all[30];
    int k = 0;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        c[i] = mk_client(f->st, name);
    }
    struct fr_store_face_stats st0, st1;
    assert_int_equal(fr_store_face_stats(f->st, NULL, &st0), 0);
    assert_int_equal(st0.count, 0);
    for (int r = 0; r < 10; r++) {
        for (int i = 0; i < 3; i++) {
            int64_t s = mk_subject(f->st, c[i], "s", NULL);
            all[k++] = mk_face_model(f->st, c[i], s, r, r % 2 ? "old_model" : "fr_feature");
        }
    }
    struct walk w = { 0 };
    assert_int_equal(fr_store_faces_foreach(f->st, NULL, walk_cb, &w), 0);
    assert_int_equal(w.n, 30);
    assert_memory_equal(w.ids, all, sizeof all);
    w = (struct walk){ 0 };
    assert_int_equal(fr_store_faces_foreach(f->st, "fr_feature", walk_cb, &w), 0);
    assert_int_equal(w.n, 15);
    w = (struct walk){ 0 };
    assert_int_equal(fr_store_faces_foreach(f->st, "no_such_model", walk_cb, &w), 0);
    assert_int_equal(w.n, 0);
    w = (struct walk){ .stop_at = 4 };
    assert_int_equal(fr_store_faces_foreach(f->st, NULL, walk_cb, &w), 42);
    assert_int_equal(w.n, 4);

    /* the embedding handed out is the one stored */
    struct fr_store_face row;
    assert_int_equal(fr_store_face_get(f->st, c[1], all[1], &row), 0);
    float e[DIM];
    fill_emb(e, 0);
    assert_memory_equal(row.embedding, e, sizeof e);
    fr_store_face_free(&row);

    assert_int_equal(fr_store_face_stats(f->st, NULL, &st0), 0);
    assert_int_equal(st0.count, 30);
    assert_int_equal(st0.max_id, all[29]);
    int64_t sum = 0;
    for (int i = 0; i < 30; i++) sum += all[i];
    assert_int_equal(st0.id_sum, sum);
    assert_int_equal(fr_store_face_stats(f->st, "fr_feature", &st1), 0);
    assert_int_equal(st1.count, 15);
    /* a delete then an add changes the stats even though the count is back */
    assert_int_equal(fr_store_face_delete(f->st, c[0], all[0], NULL), 0);
    int64_t s = mk_subject(f->st, c[0], "t", NULL);
    mk_face(f->st, c[0], s, 99);
    assert_int_equal(fr_store_face_stats(f->st, NULL, &st1), 0);
    assert_int_equal(st1.count, st0.count);
    assert_true(st1.max_id != st0.max_id && st1.id_sum != st0.id_sum);
    assert_int_equal(fr_store_faces_foreach(f->st, NULL, NULL, NULL), -FR_E_INVALID_ARGUMENT);
}

/* ---- tenancy and cascades --------------------------------------------------------- */

static void test_tenant_isolation(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b");
    int64_t sa = mk_subject(f->st, a, "Ada", "emp-1");
    int64_t fa = mk_face(f->st, a, sa, 1);
    int64_t sb = mk_subject(f->st, b, "Bob", NULL);
    struct fr_store_subject s;
    struct fr_store_face row;
    struct fr_store_face *rows = NULL;
    struct fr_store_subject *srows = NULL;
    size_t n = 9;
    int64_t next = 0, x = 0, *ids = NULL;
    uint8_t *buf = NULL;
    size_t len;

    /* B sees nothing of A's, and every miss looks like a plain "not found" */
    assert_int_equal(fr_store_subject_get(f->st, b, sa, &s), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(fr_store_subject_list(f->st, b, 100, 0, &srows, &n, &next), 0);
    assert_int_equal(n, 1);
    assert_int_equal(srows[0].id, sb);
    fr_store_subjects_free(srows, n);
    struct fr_store_subject_update u = { .name = "pwned" };
    assert_int_equal(fr_store_subject_update(f->st, b, sa, &u), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(fr_store_subject_delete(f->st, b, sa, &ids, &n), -FR_E_SUBJECT_NOT_FOUND);
    assert_null(ids);
    assert_int_equal(fr_store_face_get(f->st, b, fa, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_face_list(f->st, b, sa, &rows, &n), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(fr_store_face_delete(f->st, b, fa, NULL), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_face_image_get(f->st, b, fa, &buf, &len), -FR_E_NOT_FOUND);
    /* B cannot put a face into A's subject, even naming B as the owner */
    float emb[DIM];
    fill_emb(emb, 3);
    struct fr_store_face_new nf = { .client_id = b, .subject_id = sa, .embedding = emb,
                                    .dim = DIM, .model_id = "fr_feature", .liveness = -1 };
    assert_int_equal(fr_store_face_add(f->st, &nf, &x), -FR_E_SUBJECT_NOT_FOUND);
    /* nor into its own subject while naming A (the pair must match) */
    nf.client_id = a;
    nf.subject_id = sb;
    assert_int_equal(fr_store_face_add(f->st, &nf, &x), -FR_E_SUBJECT_NOT_FOUND);
    int64_t count = 0;
    assert_int_equal(fr_store_face_count(f->st, b, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(fr_store_idem_put(f->st, a, "k1", "h", 201, "{}"), 0);
    struct fr_store_idem idem;
    assert_int_equal(fr_store_idem_get(f->st, b, "k1", &idem), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_idem_put(f->st, b, "k1", "h2", 201, "{\"b\":1}"), 0);   /* own key space */

    /* A's rows are untouched */
    assert_int_equal(fr_store_subject_get(f->st, a, sa, &s), 0);
    assert_string_equal(s.name, "Ada");
    assert_int_equal(s.n_faces, 1);
    fr_store_subject_free(&s);
    assert_int_equal(fr_store_face_get(f->st, a, fa, &row), 0);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_idem_get(f->st, a, "k1", &idem), 0);
    assert_string_equal(idem.response, "{}");
    fr_store_idem_free(&idem);
}

static void test_cascades(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b");
    int64_t s1 = mk_subject(f->st, a, "one", NULL), s2 = mk_subject(f->st, a, "two", NULL);
    int64_t f11 = mk_face(f->st, a, s1, 1), f12 = mk_face(f->st, a, s1, 2);
    int64_t f21 = mk_face(f->st, a, s2, 3);
    int64_t sb = mk_subject(f->st, b, "b", NULL);
    int64_t fb = mk_face(f->st, b, sb, 4);
    int64_t *ids = NULL;
    size_t n = 0;
    struct fr_store_face row;
    /* subject delete: its faces go, and the caller learns which */
    assert_int_equal(fr_store_subject_delete(f->st, a, s1, &ids, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], f11);
    assert_int_equal(ids[1], f12);
    fr_free(ids);
    assert_int_equal(fr_store_face_get(f->st, a, f11, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_face_get(f->st, a, f12, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_face_get(f->st, a, f21, &row), 0);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_subject_delete(f->st, a, s1, NULL, NULL), -FR_E_SUBJECT_NOT_FOUND);
    /* without an id list */
    int64_t s3 = mk_subject(f->st, a, "three", NULL);
    mk_face(f->st, a, s3, 5);
    assert_int_equal(fr_store_subject_delete(f->st, a, s3, NULL, NULL), 0);

    /* client delete: everything of the client goes, audit stays, B stays */
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-01-02", "identify", 3), 0);
    assert_int_equal(fr_store_idem_put(f->st, a, "k", "h", 201, "{}"), 0);
    assert_int_equal(fr_store_audit_append(f->st, "admin", "client.delete", "client:1", "r1", NULL, NULL), 0);
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    int64_t cnt = -1;
    assert_int_equal(fr_store_face_count(f->st, a, &cnt), 0);
    assert_int_equal(cnt, 0);
    assert_int_equal(fr_store_subject_count(f->st, a, &cnt), 0);
    assert_int_equal(cnt, 0);
    struct fr_store_usage *u = NULL;
    assert_int_equal(fr_store_usage_list(f->st, a, NULL, &u, &n), 0);
    assert_int_equal(n, 0);
    struct fr_store_idem idem;
    assert_int_equal(fr_store_idem_get(f->st, a, "k", &idem), -FR_E_NOT_FOUND);
    struct fr_store_audit *au = NULL;
    int64_t next;
    assert_int_equal(fr_store_audit_list(f->st, 10, 0, &au, &n, &next), 0);
    assert_int_equal(n, 1);
    fr_store_audits_free(au, n);
    assert_int_equal(fr_store_face_get(f->st, b, fb, &row), 0);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_face_count(f->st, 0, &cnt), 0);
    assert_int_equal(cnt, 1);
    /* and no foreign key is left dangling */
    assert_int_equal(fr_store_check(f->st), 0);
}

/* ---- audit, usage, idempotency ---------------------------------------------------- */

static void test_audit(void **state) {
    struct fx *f = *state;
    int64_t ids[25];
    char target[32];
    for (int i = 0; i < 25; i++) {
        snprintf(target, sizeof target, "subject:%d", i);
        assert_int_equal(fr_store_audit_append(f->st, i % 2 ? "admin" : "client:1", "subject.create",
                                               target, "req-x", "{\"i\":1}", &ids[i]), 0);
        assert_true(i == 0 || ids[i] > ids[i - 1]);
    }
    assert_int_equal(fr_store_audit_append(f->st, "admin", "x", NULL, NULL, NULL, NULL), 0);
    int64_t cursor = 0, next = 0;
    struct fr_store_audit *rows = NULL;
    size_t n = 0;
    assert_int_equal(fr_store_audit_list(f->st, 1, 0, &rows, &n, &next), 0);   /* newest */
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].action, "x");
    assert_null(rows[0].target);
    assert_null(rows[0].details);
    cursor = next;
    fr_store_audits_free(rows, n);
    int seen = 24;
    do {
        assert_int_equal(fr_store_audit_list(f->st, 10, cursor, &rows, &n, &next), 0);
        for (size_t i = 0; i < n; i++, seen--) {
            assert_int_equal(rows[i].id, ids[seen]);
            snprintf(target, sizeof target, "subject:%d", seen);
            assert_string_equal(rows[i].target, target);
            assert_string_equal(rows[i].request_id, "req-x");
            assert_string_equal(rows[i].details, "{\"i\":1}");
            assert_string_equal(rows[i].actor, seen % 2 ? "admin" : "client:1");
            assert_true(rows[i].at > 0);
        }
        fr_store_audits_free(rows, n);
        cursor = next;
    } while (cursor);
    assert_int_equal(seen, -1);
    assert_int_equal(fr_store_audit_append(f->st, "", "x", NULL, NULL, NULL, NULL), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_audit_append(f->st, "admin", NULL, NULL, NULL, NULL, NULL), -FR_E_INVALID_ARGUMENT);
}

static void test_usage(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    char day[11];
    fr_utc_day(0, day);
    assert_string_equal(day, "1970-01-01");
    fr_utc_day(1709251200000LL, day);   /* 2024-03-01T00:00:00Z */
    assert_string_equal(day, "2024-03-01");
    fr_utc_day(fr_now_ms(), day);
    assert_int_equal(strlen(day), 10);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-03-01", "identify", 1), 0);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-03-01", "identify", 2), 0);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-03-01", "enroll", 1), 0);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-02-28", "identify", 5), 0);
    struct fr_store_usage *rows = NULL;
    size_t n = 0;
    assert_int_equal(fr_store_usage_list(f->st, a, NULL, &rows, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].day, "2024-02-28");
    assert_int_equal(rows[0].count, 5);
    assert_string_equal(rows[1].operation, "enroll");
    assert_string_equal(rows[2].operation, "identify");
    assert_int_equal(rows[2].count, 3);
    fr_store_usages_free(rows, n);
    assert_int_equal(fr_store_usage_list(f->st, a, "2024-03-01", &rows, &n), 0);
    assert_int_equal(n, 2);
    fr_store_usages_free(rows, n);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-3-01", "identify", 1), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-03-01'", "identify", 1), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-03-01", "", 1), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_usage_add(f->st, 9999, "2024-03-01", "identify", 1), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_usage_list(f->st, a, "yesterday", &rows, &n), -FR_E_INVALID_ARGUMENT);
}

static void test_idempotency(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    struct fr_store_idem r;
    assert_int_equal(fr_store_idem_get(f->st, a, "key-1", &r), -FR_E_NOT_FOUND);
    assert_null(r.response);
    assert_int_equal(fr_store_idem_put(f->st, a, "key-1", "sha-of-body", 201, "{\"face_id\":7}"), 0);
    assert_int_equal(fr_store_idem_get(f->st, a, "key-1", &r), 0);
    assert_string_equal(r.request_hash, "sha-of-body");
    assert_int_equal(r.status, 201);
    assert_string_equal(r.response, "{\"face_id\":7}");
    assert_true(r.created_at > 0);
    fr_store_idem_free(&r);
    assert_int_equal(fr_store_idem_put(f->st, a, "key-1", "other", 201, "{}"), -FR_E_CONFLICT);
    assert_string_equal(fr_err_value(), "Idempotency-Key");
    assert_int_equal(fr_store_idem_put(f->st, a, "key-2", "h", 99, "{}"), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_idem_put(f->st, 9999, "key-2", "h", 200, "{}"), -FR_E_NOT_FOUND);
    int64_t n = 0;
    assert_int_equal(fr_store_idem_purge(f->st, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fr_store_idem_purge(f->st, fr_now_ms() + 1000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fr_store_idem_get(f->st, a, "key-1", &r), -FR_E_NOT_FOUND);
}

/* ---- transactions -------------------------------------------------------------------- */

/* Enrolment as the service does it: face, idempotency row, audit row. */
static int enroll_tx(fr_store *st, int64_t client, int64_t subject, const char *key, int commit,
                     int64_t *face_out) {
    fr_store *tx = NULL;
    int rc = fr_store_tx_begin(st, &tx);
    if (rc < 0) return rc;
    char resp[64];
    *face_out = mk_face(tx, client, subject, 11);
    snprintf(resp, sizeof resp, "{\"face_id\":%lld}", (long long)*face_out);
    if ((rc = fr_store_idem_put(tx, client, key, "h", 201, resp)) == 0)
        rc = fr_store_audit_append(tx, "client:1", "face.add", "face", "req", NULL, NULL);
    if (rc < 0 || !commit) {
        fr_store_tx_rollback(tx);
        return rc;
    }
    return fr_store_tx_commit(tx);
}

static void test_transactions(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, a, "s", "ext");
    int64_t face = 0, n = 0;
    struct fr_store_face row;
    struct fr_store_idem idem;
    fr_store *tx = NULL, *in = NULL;
    /* rolled back: none of the three rows exist */
    assert_int_equal(enroll_tx(f->st, a, s, "k1", 0, &face), 0);
    assert_int_equal(fr_store_face_get(f->st, a, face, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_idem_get(f->st, a, "k1", &idem), -FR_E_NOT_FOUND);
    struct fr_store_audit *au = NULL;
    size_t na = 0;
    int64_t next;
    assert_int_equal(fr_store_audit_list(f->st, 10, 0, &au, &na, &next), 0);
    assert_int_equal(na, 0);
    /* committed: all three exist, and the stored response names the face */
    assert_int_equal(enroll_tx(f->st, a, s, "k1", 1, &face), 0);
    assert_int_equal(fr_store_face_get(f->st, a, face, &row), 0);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_idem_get(f->st, a, "k1", &idem), 0);
    char want[64];
    snprintf(want, sizeof want, "{\"face_id\":%lld}", (long long)face);
    assert_string_equal(idem.response, want);
    fr_store_idem_free(&idem);
    assert_int_equal(fr_store_audit_list(f->st, 10, 0, &au, &na, &next), 0);
    assert_int_equal(na, 1);
    fr_store_audits_free(au, na);
    /* the same key again: the idempotency row refuses, nothing is half-written */
    int64_t before = 0;
    assert_int_equal(fr_store_face_count(f->st, a, &before), 0);
    assert_int_equal(enroll_tx(f->st, a, s, "k1", 1, &face), -FR_E_CONFLICT);
    assert_int_equal(fr_store_face_count(f->st, a, &n), 0);
    assert_int_equal(n, before);

    /* a failed call inside a transaction undoes only itself */
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_string_equal(fr_store_backend(tx), f->b->name);
    int64_t s2 = mk_subject(tx, a, "s2", NULL);
    int64_t x;
    assert_int_equal(fr_store_subject_create(tx, a, "dup", "ext", NULL, &x), -FR_E_CONFLICT);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    struct fr_store_subject sub;
    assert_int_equal(fr_store_subject_get(f->st, a, s2, &sub), 0);
    fr_store_subject_free(&sub);

    /* nesting: the outer rollback undoes the committed inner level */
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_tx_begin(tx, &in), 0);
    int64_t s3 = mk_subject(in, a, "s3", NULL);
    assert_int_equal(fr_store_subject_delete(in, a, s2, NULL, NULL), 0);   /* itself a tx */
    /* while the inner one is open, the outer handle is refused */
    assert_int_equal(fr_store_ping(tx), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_tx_commit(tx), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_tx_commit(in), 0);
    assert_int_equal(fr_store_subject_get(tx, a, s3, &sub), 0);   /* the outer one sees it */
    fr_store_subject_free(&sub);
    fr_store_tx_rollback(tx);
    assert_int_equal(fr_store_subject_get(f->st, a, s3, &sub), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(fr_store_subject_get(f->st, a, s2, &sub), 0);
    fr_store_subject_free(&sub);
    /* an inner rollback keeps the outer level's own changes */
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    int64_t s4 = mk_subject(tx, a, "s4", NULL);
    assert_int_equal(fr_store_tx_begin(tx, &in), 0);
    int64_t s5 = mk_subject(in, a, "s5", NULL);
    fr_store_tx_rollback(in);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    assert_int_equal(fr_store_subject_get(f->st, a, s4, &sub), 0);
    fr_store_subject_free(&sub);
    assert_int_equal(fr_store_subject_get(f->st, a, s5, &sub), -FR_E_SUBJECT_NOT_FOUND);
    /* rolling back the outer one ends an inner one still open */
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_tx_begin(tx, &in), 0);
    assert_int_equal(fr_store_tx_begin(in, &in), 0);
    int64_t s6 = mk_subject(in, a, "s6", NULL);
    fr_store_tx_rollback(tx);
    assert_int_equal(fr_store_subject_get(f->st, a, s6, &sub), -FR_E_SUBJECT_NOT_FOUND);
    /* closing a transaction handle rolls it back */
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    int64_t s7 = mk_subject(tx, a, "s7", NULL);
    fr_store_close(tx);
    assert_int_equal(fr_store_subject_get(f->st, a, s7, &sub), -FR_E_SUBJECT_NOT_FOUND);

    /* ending what is not a transaction */
    assert_int_equal(fr_store_tx_commit(f->st), -FR_E_INVALID_ARGUMENT);
    fr_store_tx_rollback(f->st);   /* harmless */
    fr_store_tx_rollback(NULL);
    assert_int_equal(fr_store_ping(f->st), 0);
    /* backup is refused inside a transaction */
    char path[128];
    snprintf(path, sizeof path, "%s/b.db", f->dir);
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_backup(tx, path), -FR_E_INVALID_ARGUMENT);
    fr_store_tx_rollback(tx);
}

static int count_cb(void *ctx, const struct fr_store_face_ref *r) {
    (void)r;
    (*(int64_t *)ctx)++;
    return 0;
}

/* What a transaction changed is seen through its handle at once, by every
 * other caller only after the commit, and by nobody after a rollback. */
static void test_tx_visibility(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, a, "s", NULL);
    struct fr_store_subject sub;
    struct fr_store_face row;
    int64_t n = 0, walked = 0;
    fr_store *tx = NULL;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    int64_t s2 = mk_subject(tx, a, "inside", "in-1");
    int64_t face = mk_face(tx, a, s2, 1);
    assert_int_equal(fr_store_subject_get(tx, a, s2, &sub), 0);
    assert_int_equal(sub.n_faces, 1);
    fr_store_subject_free(&sub);
    assert_int_equal(fr_store_faces_foreach(tx, NULL, count_cb, &walked), 0);
    assert_int_equal(walked, 1);
    /* the store itself still reads what was committed */
    assert_int_equal(fr_store_subject_get(f->st, a, s2, &sub), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(fr_store_face_get(f->st, a, face, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    assert_int_equal(fr_store_subject_get(f->st, a, s2, &sub), 0);
    assert_string_equal(sub.external_id, "in-1");
    fr_store_subject_free(&sub);
    assert_int_equal(fr_store_face_get(f->st, a, face, &row), 0);
    fr_store_face_free(&row);

    /* rolled back: gone for everybody, the store's own rows untouched */
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    int64_t face2 = mk_face(tx, a, s, 2);
    assert_int_equal(fr_store_subject_delete(tx, a, s2, NULL, NULL), 0);
    assert_int_equal(fr_store_subject_count(tx, a, &n), 0);
    assert_int_equal(n, 1);
    fr_store_tx_rollback(tx);
    assert_int_equal(fr_store_face_get(f->st, a, face2, &row), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(fr_store_face_get(f->st, a, face, &row), 0);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_check(f->st), 0);
}

/* Two threads, each with a transaction handle: the second waits for the
 * first to end, so each one's rows are together; and a handle begun on one
 * thread may be ended on another. */
enum { TX_ROWS = 20 };

struct tx_worker {
    fr_store *st;                /* the store (begin here) or, with handed, a transaction */
    int handed;                  /* st is a transaction begun elsewhere: use and commit it */
    int64_t client;
    int64_t ids[TX_ROWS];
    int rc;
};

static void *tx_worker_main(void *arg) {
    struct tx_worker *w = arg;
    fr_store *tx = w->st;
    if (!w->handed && (w->rc = fr_store_tx_begin(w->st, &tx)) < 0) return NULL;
    for (int i = 0; i < TX_ROWS && w->rc == 0; i++) {
        w->rc = fr_store_subject_create(tx, w->client, "t", NULL, NULL, &w->ids[i]);
        if (i == TX_ROWS / 2) usleep(20000);   /* give the other thread a chance to cut in */
    }
    if (w->rc == 0) w->rc = fr_store_tx_commit(tx);
    else fr_store_tx_rollback(tx);
    return NULL;
}

static void test_tx_two_threads(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    struct tx_worker w[2] = { { .st = f->st, .client = a }, { .st = f->st, .client = a } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, tx_worker_main, &w[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(w[i].rc, 0);
        /* one writer at a time: each transaction's ids are consecutive; PostgreSQL runs
         * both at once and their ids interleave (a sequence is not transactional) */
        if (f->b->one_writer)
            for (int k = 1; k < TX_ROWS; k++) assert_int_equal(w[i].ids[k], w[i].ids[k - 1] + 1);
        else
            for (int k = 1; k < TX_ROWS; k++) assert_true(w[i].ids[k] > w[i].ids[k - 1]);
    }
    int64_t n = 0;
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 2 * TX_ROWS);
    /* handed over: begun here, used and committed by another thread, then again */
    for (int round = 0; round < 2; round++) {
        fr_store *tx = NULL;
        struct tx_worker h = { .handed = 1, .client = a };
        assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
        h.st = tx;
        assert_int_equal(pthread_create(&th[0], NULL, tx_worker_main, &h), 0);
        pthread_join(th[0], NULL);
        assert_int_equal(h.rc, 0);
    }
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 4 * TX_ROWS);
}

/* A write on the store from another thread while a transaction is open
 * waits for it and completes after the commit; reads go on meanwhile. The
 * write changes a row the transaction changed, so it waits on both
 * backends (SQLite makes every write wait for an open transaction,
 * PostgreSQL only one that touches its rows: a new subject, say, would not). */
struct writer {
    fr_store *st;
    int64_t client, id;
    int rc;
    atomic_int finished;
};

static void *writer_main(void *arg) {
    struct writer *w = arg;
    struct fr_store_subject_update u = { .name = "outside" };
    w->rc = fr_store_subject_update(w->st, w->client, w->id, &u);
    atomic_store(&w->finished, 1);
    return NULL;
}

static void test_tx_waits_for_commit(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, a, "before", NULL);
    fr_store *tx = NULL;
    int64_t n = 0;
    pthread_t th;
    struct fr_store_subject sub;
    struct fr_store_subject_update u = { .name = "inside" };
    struct writer w = { .st = f->st, .client = a, .id = s };
    atomic_init(&w.finished, 0);
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_subject_update(tx, a, s, &u), 0);
    mk_subject(tx, a, "new inside", NULL);
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    usleep(300000);
    assert_int_equal(atomic_load(&w.finished), 0);        /* still waiting */
    assert_int_equal(fr_store_ping(f->st), 0);             /* reads are not held up */
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fr_store_subject_get(f->st, a, s, &sub), 0);
    assert_string_equal(sub.name, "before");               /* the committed state */
    fr_store_subject_free(&sub);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&w.finished), 1);
    assert_int_equal(w.rc, 0);
    assert_int_equal(fr_store_subject_get(f->st, a, s, &sub), 0);
    assert_string_equal(sub.name, "outside");              /* it ran after the commit */
    fr_store_subject_free(&sub);
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 2);
}

/* The one mistake a handle invites: writing through the store on the thread
 * that holds the transaction would wait for itself (for the rows it
 * changed). It gives up after the busy timeout (SQLite's) or lock timeout
 * (PostgreSQL's), 5 s, instead of hanging, and the transaction is still usable. */
static void test_tx_same_thread_write_gives_up(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), x = 0;
    int64_t s = mk_subject(f->st, a, "before", NULL);
    struct fr_store_subject_update u = { .name = "right handle" }, wrong = { .name = "wrong handle" };
    struct fr_store_subject sub;
    fr_store *tx = NULL;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_subject_update(tx, a, s, &u), 0);
    double t0 = fr_time_ms();
    assert_int_equal(fr_store_subject_update(f->st, a, s, &wrong), -FR_E_SERVICE_UNAVAILABLE);
    printf("gave up after %.0f ms: %s\n", fr_time_ms() - t0, fr_err_detail());
    mk_subject(tx, a, "right handle", NULL);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    assert_int_equal(fr_store_subject_count(f->st, a, &x), 0);
    assert_int_equal(x, 2);
    assert_int_equal(fr_store_subject_get(f->st, a, s, &sub), 0);
    assert_string_equal(sub.name, "right handle");
    fr_store_subject_free(&sub);
}

/* A clock of the test's own stamps the rows, so purges by age are exact. */
static int64_t test_clock(void *ctx) { return *(const int64_t *)ctx; }

static void test_clock_stamps_rows(void **state) {
    struct fx *f = *state;
    int64_t now = 1000, n = 0;
    struct fr_store_opts o = { test_clock, &now };
    fr_store_close(f->st);
    assert_int_equal(fr_store_open_opts(f->url, &o, &f->st), 0);
    int64_t a = mk_client(f->st, "a");
    struct fr_store_client c;
    assert_int_equal(fr_store_client_get(f->st, a, &c), 0);
    assert_int_equal(c.created_at, 1000);
    fr_store_client_free(&c);
    int64_t s = mk_subject(f->st, a, "s", NULL);
    float emb[DIM];
    fill_emb(emb, 1);
    uint8_t photo[4] = { 1, 2, 3, 4 };
    struct fr_store_face_new nf = { .client_id = a, .subject_id = s, .embedding = emb, .dim = DIM,
                                    .model_id = "fr_feature", .liveness = -1, .image = photo,
                                    .image_len = sizeof photo };
    int64_t old_face = 0, new_face = 0;
    assert_int_equal(fr_store_face_add(f->st, &nf, &old_face), 0);
    assert_int_equal(fr_store_idem_put(f->st, a, "old", "h", 201, "{}"), 0);
    now = 5000;
    assert_int_equal(fr_store_face_add(f->st, &nf, &new_face), 0);
    assert_int_equal(fr_store_idem_put(f->st, a, "new", "h", 201, "{}"), 0);
    assert_int_equal(fr_store_audit_append(f->st, "admin", "x", NULL, NULL, NULL, NULL), 0);
    /* a transaction stamps with the same clock */
    fr_store *tx = NULL;
    now = 7000;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    struct fr_store_subject_update u = { .name = "renamed" };
    assert_int_equal(fr_store_subject_update(tx, a, s, &u), 0);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    struct fr_store_subject sub;
    assert_int_equal(fr_store_subject_get(f->st, a, s, &sub), 0);
    assert_int_equal(sub.created_at, 1000);
    assert_int_equal(sub.updated_at, 7000);
    fr_store_subject_free(&sub);
    struct fr_store_audit *au = NULL;
    size_t na = 0;
    int64_t next = 0;
    assert_int_equal(fr_store_audit_list(f->st, 10, 0, &au, &na, &next), 0);
    assert_int_equal(na, 1);
    assert_int_equal(au[0].at, 5000);
    fr_store_audits_free(au, na);

    /* photo retention: only the photo taken before 3000 goes */
    assert_int_equal(fr_store_face_image_purge(f->st, 1000, &n), 0);
    assert_int_equal(n, 0);                                 /* "before", not "at" */
    assert_int_equal(fr_store_face_image_purge(f->st, 3000, &n), 0);
    assert_int_equal(n, 1);
    struct fr_store_face row;
    assert_int_equal(fr_store_face_get(f->st, a, old_face, &row), 0);
    assert_int_equal(row.created_at, 1000);
    assert_false(row.has_image);
    fr_store_face_free(&row);
    assert_int_equal(fr_store_face_get(f->st, a, new_face, &row), 0);
    assert_true(row.has_image);
    fr_store_face_free(&row);
    /* idempotency keys by age */
    assert_int_equal(fr_store_idem_purge(f->st, 3000, &n), 0);
    assert_int_equal(n, 1);
    struct fr_store_idem idem;
    assert_int_equal(fr_store_idem_get(f->st, a, "old", &idem), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_idem_get(f->st, a, "new", &idem), 0);
    assert_int_equal(idem.created_at, 5000);
    fr_store_idem_free(&idem);
}

/* ---- concurrency ------------------------------------------------------------------ */

enum { THREADS = 8, PER_THREAD = 40 };

struct worker {
    fr_store *st;
    int64_t client, subject;
    int64_t ids[PER_THREAD];
    int failures;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    float emb[DIM];
    for (int i = 0; i < PER_THREAD; i++) {
        fill_emb(emb, i);
        struct fr_store_face_new n = { .client_id = w->client, .subject_id = w->subject,
                                       .embedding = emb, .dim = DIM, .model_id = "fr_feature",
                                       .quality = 0.5f, .liveness = -1 };
        if (fr_store_face_add(w->st, &n, &w->ids[i]) < 0) w->failures++;
        /* readers interleave with the writers */
        struct fr_store_subject s;
        if (fr_store_subject_get(w->st, w->client, w->subject, &s) < 0) w->failures++;
        fr_store_subject_free(&s);
        if (i % 10 == 0) {   /* and whole transactions too */
            fr_store *tx = NULL;
            int64_t x;
            if (fr_store_tx_begin(w->st, &tx) < 0) {
                w->failures++;
                continue;
            }
            if (fr_store_audit_append(tx, "client:1", "t", NULL, NULL, NULL, &x) < 0) w->failures++;
            if (fr_store_tx_commit(tx) < 0) w->failures++;
        }
    }
    return NULL;
}

static void test_concurrent_writers(void **state) {
    struct fx *f = *state;
    struct worker w[THREADS];
    pthread_t th[THREADS];
    int64_t clients[2] = { mk_client(f->st, "a"), mk_client(f->st, "b") };
    int64_t subjects[2] = { mk_subject(f->st, clients[0], "s", NULL), mk_subject(f->st, clients[1], "s", NULL) };
    double t0 = fr_time_ms();
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ .st = f->st, .client = clients[i % 2], .subject = subjects[i % 2] };
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    double ms = fr_time_ms() - t0;
    printf("%d threads added %d faces (each its own synced commit) in %.0f ms: %.0f commits/s\n",
           THREADS, THREADS * PER_THREAD, ms, THREADS * PER_THREAD * 1000.0 / ms);
    int64_t n = 0;
    for (int i = 0; i < THREADS; i++) assert_int_equal(w[i].failures, 0);
    assert_int_equal(fr_store_face_count(f->st, 0, &n), 0);
    assert_int_equal(n, THREADS * PER_THREAD);
    assert_int_equal(fr_store_face_count(f->st, clients[0], &n), 0);
    assert_int_equal(n, THREADS / 2 * PER_THREAD);
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < PER_THREAD; j++) {
            struct fr_store_face row;
            assert_int_equal(fr_store_face_get(f->st, w[i].client, w[i].ids[j], &row), 0);
            fr_store_face_free(&row);
        }
    }
    assert_int_equal(fr_store_check(f->st), 0);
}

/* ---- crash safety --------------------------------------------------------------------- */

/* The child enrols faces as fast as it can and reports each id only after
 * fr_store_face_add returned: those are the acknowledged writes. */
static _Noreturn void crash_child(const char *url, int64_t client, int64_t subject, int fd) {
    fr_store *st = NULL;
    if (fr_store_open(url, &st) < 0) _exit(2);
    float emb[DIM];
    for (int64_t i = 0;; i++) {
        int64_t id = 0;
        fill_emb(emb, i);
        struct fr_store_face_new n = { .client_id = client, .subject_id = subject, .embedding = emb,
                                       .dim = DIM, .model_id = "fr_feature", .liveness = -1 };
        if (fr_store_face_add(st, &n, &id) < 0) _exit(3);
        if (write(fd, &id, sizeof id) != (ssize_t)sizeof id) _exit(4);
    }
}

static void test_crash_kill9(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    int64_t s = mk_subject(f->st, a, "s", NULL);
    fr_store_close(f->st);   /* the child opens its own connection */
    f->st = NULL;
    int total = 0;
    for (int round = 0; round < 3; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(f->url, a, s, p[1]);
        }
        close(p[1]);
        /* let it run a varying while, then kill it mid-write */
        int64_t ids[4096];
        size_t n = 0;
        double t0 = fr_time_ms();
        while (n < 4096 && fr_time_ms() - t0 < 150 + 100 * round) {
            ssize_t r = read(p[0], &ids[n], sizeof ids[n]);
            assert_int_equal(r, (ssize_t)sizeof ids[n]);
            n++;
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        while (n < 4096 && read(p[0], &ids[n], sizeof ids[n]) == (ssize_t)sizeof ids[n]) n++;
        close(p[0]);
        /* every acknowledged id is there, and the file is sound */
        assert_int_equal(open_store(f), 0);
        for (size_t i = 0; i < n; i++) {
            struct fr_store_face row;
            int rc = fr_store_face_get(f->st, a, ids[i], &row);
            if (rc < 0) fprintf(stderr, "acknowledged face %lld lost\n", (long long)ids[i]);
            assert_int_equal(rc, 0);
            fr_store_face_free(&row);
        }
        assert_int_equal(fr_store_check(f->st), 0);
        fr_store_close(f->st);
        f->st = NULL;
        total += (int)n;
        printf("round %d: %zu acknowledged faces before SIGKILL, all present\n", round, n);
    }
    assert_true(total > 0);
    assert_int_equal(open_store(f), 0);
}

/* ---- allocation failures ------------------------------------------------------------- */

/* Fail allocation 1, 2, ... of op until it succeeds: every failure must be
 * -FR_E_NOMEM and leave nothing allocated. */
#define TORTURE(what, setup_stmt, op, cleanup) do { \
    int ok_ = 0; \
    for (long k_ = 1; k_ < 200 && !ok_; k_++) { \
        size_t m0_ = fr_mem_used(); \
        setup_stmt; \
        fr_alloc_fail_after(k_); \
        int rc_ = (op); \
        fr_alloc_fail_after(0); \
        if (rc_ == 0) { ok_ = 1; cleanup; } \
        else { \
            if (rc_ != -FR_E_NOMEM) fprintf(stderr, "%s at %ld: %s\n", what, k_, fr_err_detail()); \
            assert_int_equal(rc_, -FR_E_NOMEM); \
        } \
        if (!ok_) assert_int_equal(fr_mem_used(), m0_); \
    } \
    assert_true(ok_); \
} while (0)

static void test_alloc_failures(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a");
    mk_client(f->st, "b");
    int64_t s = mk_subject(f->st, a, "Ada", "emp-1");
    int64_t s2 = mk_subject(f->st, a, "Bob", NULL);
    for (int i = 0; i < 5; i++) mk_face(f->st, a, s, i);
    int64_t fid = mk_face(f->st, a, s2, 9);
    assert_int_equal(fr_store_audit_append(f->st, "admin", "x", "t", "r", "{}", NULL), 0);
    assert_int_equal(fr_store_usage_add(f->st, a, "2024-01-01", "identify", 1), 0);
    assert_int_equal(fr_store_idem_put(f->st, a, "k", "h", 201, "{}"), 0);
    assert_int_equal(fr_store_admin_set(f->st, "k", "v"), 0);

    fr_store *st2 = NULL;
    TORTURE("open", , fr_store_open(f->url, &st2), fr_store_close(st2));
    fr_store *tx = NULL;
    TORTURE("tx_begin", , fr_store_tx_begin(f->st, &tx), fr_store_tx_rollback(tx));
    struct fr_store_client *cl = NULL;
    size_t n = 0;
    TORTURE("client_list", , fr_store_client_list(f->st, &cl, &n), fr_store_clients_free(cl, n));
    struct fr_store_client c;
    TORTURE("client_get", , fr_store_client_get(f->st, a, &c), fr_store_client_free(&c));
    struct fr_store_subject *sr = NULL;
    int64_t next;
    TORTURE("subject_list", , fr_store_subject_list(f->st, a, 10, 0, &sr, &n, &next),
            fr_store_subjects_free(sr, n));
    int64_t ids[3] = { s, s2, s };
    struct fr_store_subject many[3];
    TORTURE("subject_get_many", , fr_store_subject_get_many(f->st, a, ids, 3, many),
            for (int i = 0; i < 3; i++) fr_store_subject_free(&many[i]));
    struct fr_store_face *fr = NULL;
    TORTURE("face_list", , fr_store_face_list(f->st, a, s, &fr, &n), fr_store_faces_free(fr, n));
    struct fr_store_face row;
    TORTURE("face_get", , fr_store_face_get(f->st, a, fid, &row), fr_store_face_free(&row));
    struct walk w;
    TORTURE("foreach", w = (struct walk){ 0 }, fr_store_faces_foreach(f->st, NULL, walk_cb, &w), );
    struct fr_store_audit *au = NULL;
    TORTURE("audit_list", , fr_store_audit_list(f->st, 10, 0, &au, &n, &next), fr_store_audits_free(au, n));
    struct fr_store_usage *us = NULL;
    TORTURE("usage_list", , fr_store_usage_list(f->st, a, NULL, &us, &n), fr_store_usages_free(us, n));
    struct fr_store_idem idem;
    TORTURE("idem_get", , fr_store_idem_get(f->st, a, "k", &idem), fr_store_idem_free(&idem));
    char *v = NULL;
    TORTURE("admin_get", , fr_store_admin_get(f->st, "k", &v), fr_free(v));
    /* a delete that fails for memory changes nothing */
    int64_t *del = NULL;
    TORTURE("subject_delete", , fr_store_subject_delete(f->st, a, s, &del, &n), fr_free(del));
    assert_int_equal(n, 5);
    int64_t cnt = 0;
    assert_int_equal(fr_store_face_count(f->st, a, &cnt), 0);
    assert_int_equal(cnt, 1);
}

/* ---- bad arguments and throughput ------------------------------------------------------ */

static void test_null_arguments(void **state) {
    (void)state;
    int64_t x;
    int v;
    assert_int_equal(fr_store_ping(NULL), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_schema_version(NULL, &v), -FR_E_INVALID_ARGUMENT);
    fr_store *tx = (fr_store *)1;
    assert_int_equal(fr_store_tx_begin(NULL, &tx), -FR_E_INVALID_ARGUMENT);
    assert_null(tx);
    assert_int_equal(fr_store_tx_commit(NULL), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_subject_create(NULL, 1, "n", NULL, NULL, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_face_add(NULL, NULL, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_face_count(NULL, 0, &x), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_store_backend(NULL), "none");
    fr_store_tx_rollback(NULL);
    fr_store_clients_free(NULL, 3);
    fr_store_subjects_free(NULL, 3);
    fr_store_faces_free(NULL, 3);
    fr_store_audits_free(NULL, 3);
    fr_store_usages_free(NULL, 3);
    fr_store_client_free(NULL);
    fr_store_subject_free(NULL);
    fr_store_face_free(NULL);
    fr_store_audit_free(NULL);
    fr_store_idem_free(NULL);
}

/* Figures for the report: bulk enrolment in one transaction, the start-up
 * walk over every face, and identify's subject lookups. */
static void test_throughput(void **state) {
    struct fx *f = *state;
    enum { FACES = 10000, SUBJECTS = 1000 };
    int64_t a = mk_client(f->st, "a");
    int64_t subj[SUBJECTS];
    double t0 = fr_time_ms();
    fr_store *tx = NULL;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    for (int i = 0; i < SUBJECTS; i++) subj[i] = mk_subject(tx, a, "s", NULL);
    for (int i = 0; i < FACES; i++) mk_face(tx, a, subj[i % SUBJECTS], i);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    double t1 = fr_time_ms();
    int64_t n = 0;
    assert_int_equal(fr_store_faces_foreach(f->st, "fr_feature", count_cb, &n), 0);
    double t2 = fr_time_ms();
    assert_int_equal(n, FACES);
    struct fr_store_subject out[10];
    int64_t ids[10];
    enum { LOOKUPS = 2000 };
    for (int r = 0; r < LOOKUPS; r++) {
        for (int i = 0; i < 10; i++) ids[i] = subj[(r * 7 + i * 13) % SUBJECTS];
        assert_int_equal(fr_store_subject_get_many(f->st, a, ids, 10, out), 0);
        for (int i = 0; i < 10; i++) fr_store_subject_free(&out[i]);
    }
    double t3 = fr_time_ms();
    printf("bulk: %d subjects + %d faces in one transaction: %.0f ms (%.0f faces/s)\n", SUBJECTS,
           FACES, t1 - t0, FACES * 1000.0 / (t1 - t0));
    printf("foreach over %d faces (512-d): %.1f ms (%.2f M faces/s)\n", FACES, t2 - t1,
           FACES / (t2 - t1) / 1000.0);
    printf("subject_get_many of 10 ids: %.1f us per call\n", (t3 - t2) * 1000.0 / LOOKUPS);
    /* synced single commits, the cost of one acknowledged enrolment */
    double t4 = fr_time_ms();
    for (int i = 0; i < 100; i++) mk_face(f->st, a, subj[0], i);
    printf("face_add, each its own synced commit: %.2f ms per face\n", (fr_time_ms() - t4) / 100);
}

/* Webhooks and the outbox: fan-out by subscription in the caller's
 * transaction, claims with a lease, outcomes, listing, retry, purge, health,
 * rotation, cascades and tenancy. */
static void test_webhooks_outbox(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b"), w1, w2, w3, wb, n = 0;
    assert_int_equal(fr_store_webhook_create(f->st, a, "https://a.example/hook", "face.enrolled,subject.created", "one",
                                             1, "whsec_one", &w1), 0);
    assert_int_equal(fr_store_webhook_create(f->st, a, "https://a.example/all", "*", NULL, 1, "whsec_two", &w2), 0);
    assert_int_equal(fr_store_webhook_create(f->st, a, "https://a.example/off", "*", NULL, 0, "whsec_off", &w3), 0);
    assert_int_equal(fr_store_webhook_create(f->st, b, "https://b.example/hook", "*", NULL, 1, "whsec_b", &wb), 0);
    /* tenancy: b cannot see a's */
    struct fr_store_webhook w = { 0 };
    assert_int_equal(fr_store_webhook_get(f->st, b, w1, &w), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_webhook_get(f->st, a, w1, &w), 0);
    assert_string_equal(w.events, "face.enrolled,subject.created");
    assert_string_equal(w.description, "one");
    assert_null(w.old_secret);
    fr_store_webhook_free(&w);
    struct fr_store_webhook *list = NULL;
    size_t nl = 0;
    assert_int_equal(fr_store_webhook_list(f->st, a, &list, &nl), 0);
    assert_int_equal(nl, 3);
    fr_store_webhooks_free(list, nl);

    /* fan-out in a transaction: rolled back, nothing stays */
    fr_store *tx = NULL;
    struct fr_store_event_new e = { a, "evt_1", "face.enrolled", 0, "{\"x\":1}", 0, 0 };
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_event_add(tx, &e, &n), 0);
    assert_int_equal(n, 2);                        /* w1 by name, w2 by "*"; w3 is disabled */
    fr_store_tx_rollback(tx);
    int64_t pending = 0, oldest = 0;
    assert_int_equal(fr_store_outbox_stats(f->st, &pending, &oldest), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    assert_int_equal(fr_store_event_add(tx, &e, &n), 0);
    assert_int_equal(fr_store_tx_commit(tx), 0);
    assert_int_equal(fr_store_outbox_stats(f->st, &pending, &oldest), 0);
    assert_int_equal(pending, 2);
    assert_true(oldest > 0);
    /* opt-in types: "*" does not take them, and nobody names it: nothing written */
    struct fr_store_event_new e2 = { a, "evt_2", "identify.completed", 1, "{}", 0, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e2, &n), 0);
    assert_int_equal(n, 0);
    struct fr_store_event_new e3 = { a, "evt_3", "subject.deleted", 0, "{}", 0, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e3, &n), 0);
    assert_int_equal(n, 1);                        /* w2 only */
    struct fr_store_event_new e4 = { a, "evt_4", "webhook.test", 0, "{}", w1, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e4, &n), 0);
    assert_int_equal(n, 1);                        /* to that webhook, whatever it subscribes to */
    assert_int_equal(fr_store_event_add(f->st, &e4, &n), -FR_E_CONFLICT);   /* event ids are unique */

    /* claims: each due delivery once until its lease ends */
    const int64_t now = fr_now_ms() + 1000;
    struct fr_store_claim *c = NULL;
    size_t nc = 0;
    assert_int_equal(fr_store_delivery_claim(f->st, now, 60000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    assert_int_equal(nc, 4);
    for (size_t i = 0; i < nc; i++) {
        assert_non_null(c[i].url);
        assert_non_null(c[i].secret);
        assert_null(c[i].old_secret);
        assert_non_null(c[i].body);
        assert_int_equal(c[i].client_id, a);
    }
    struct fr_store_claim *c2 = NULL;
    size_t nc2 = 0;
    assert_int_equal(fr_store_delivery_claim(f->st, now + 1000, 60000, 10, 0, NULL, 0, "node-a", &c2, &nc2), 0);
    assert_int_equal(nc2, 0);                      /* all leased */
    fr_free(c2);
    int64_t freed = -1;
    assert_int_equal(fr_store_delivery_release(f->st, "node-b", &freed), 0);
    assert_int_equal(freed, 0);                    /* another node's leases are not touched */
    /* outcomes: delivered, retry later, failed, and one left to its lease */
    struct fr_store_delivery_done d0 = { c[0].id, FR_DELIVERY_DELIVERED, 1, 200, NULL, 0, now };
    struct fr_store_delivery_done d1 = { c[1].id, FR_DELIVERY_PENDING, 1, 500, "HTTP 500", now + 5000, 0 };
    struct fr_store_delivery_done d2 = { c[2].id, FR_DELIVERY_FAILED, 10, 0, "connection refused", 0, 0 };
    assert_int_equal(fr_store_delivery_finish(f->st, &d0), 0);
    assert_int_equal(fr_store_delivery_finish(f->st, &d1), 0);
    assert_int_equal(fr_store_delivery_finish(f->st, &d2), 0);
    const int64_t leased = c[3].id, retried = c[1].id, failed = c[2].id, failed_hook = c[2].webhook_id;
    fr_store_claims_free(c, nc);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 4000, 60000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    assert_int_equal(nc, 0);                       /* the retry is not due, the lease still runs */
    fr_free(c);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 61000, 60000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    assert_int_equal(nc, 2);                       /* the retry is due and the lease has ended */
    assert_true((c[0].id == retried && c[1].id == leased) || (c[0].id == leased && c[1].id == retried));
    for (size_t i = 0; i < nc; i++) assert_int_equal(c[i].attempts, c[i].id == retried ? 1 : 0);
    fr_store_claims_free(c, nc);

    /* listing, newest first, paged; get; retry a failed one */
    struct fr_store_delivery *dl = NULL;
    size_t nd = 0;
    int64_t next = 0;
    assert_int_equal(fr_store_delivery_list(f->st, a, failed_hook, 1, 0, &dl, &nd, &next), 0);
    assert_int_equal(nd, 1);
    fr_store_deliveries_free(dl, nd);
    struct fr_store_delivery one = { 0 };
    assert_int_equal(fr_store_delivery_get(f->st, a, failed_hook, failed, &one), 0);
    assert_int_equal(one.status, FR_DELIVERY_FAILED);
    assert_int_equal(one.attempts, 10);
    assert_string_equal(one.last_error, "connection refused");
    fr_store_delivery_free(&one);
    assert_int_equal(fr_store_delivery_get(f->st, b, failed_hook, failed, &one), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_delivery_retry(f->st, b, failed_hook, failed, now), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_delivery_retry(f->st, a, failed_hook, failed, now), 0);
    assert_int_equal(fr_store_delivery_get(f->st, a, failed_hook, failed, &one), 0);
    assert_int_equal(one.status, FR_DELIVERY_PENDING);
    assert_int_equal(one.next_attempt_at, now);
    fr_store_delivery_free(&one);

    /* purge: delivered rows older than the cut, and their events */
    int64_t purged = 0;
    assert_int_equal(fr_store_delivery_purge(f->st, now - 1, &purged), 0);
    assert_int_equal(purged, 0);
    assert_int_equal(fr_store_delivery_purge(f->st, now + 1, &purged), 0);
    assert_int_equal(purged, 1);

    /* health: failing since before the cut disables; 410 disables at once */
    int disabled = 0;
    int64_t client = 0;
    assert_int_equal(fr_store_webhook_health(f->st, w2, 0, now, now - 1000, NULL, &disabled, &client), 0);
    assert_int_equal(disabled, 0);
    assert_int_equal(client, a);
    assert_int_equal(fr_store_webhook_health(f->st, w2, 0, now + 5000, now + 2000, NULL, &disabled, &client), 0);
    assert_int_equal(disabled, 1);
    assert_int_equal(fr_store_webhook_get(f->st, a, w2, &w), 0);
    assert_false(w.enabled);
    assert_string_equal(w.disabled_reason, "failing");
    assert_int_equal(w.failing_since, now);
    fr_store_webhook_free(&w);
    assert_int_equal(fr_store_webhook_failing_count(f->st, now + 1, &n), 0);
    assert_int_equal(n, 0);                        /* disabled ones are not counted */
    assert_int_equal(fr_store_webhook_health(f->st, w1, 0, now, 0, "gone", &disabled, &client), 0);
    assert_int_equal(disabled, 1);
    /* enabling again clears the reason and the failure */
    struct fr_store_webhook_update u = FR_STORE_WEBHOOK_UPDATE_KEEP;
    u.enabled = 1;
    u.description = "";
    assert_int_equal(fr_store_webhook_update(f->st, a, w1, &u), 0);
    assert_int_equal(fr_store_webhook_get(f->st, a, w1, &w), 0);
    assert_true(w.enabled);
    assert_null(w.disabled_reason);
    assert_null(w.description);
    assert_int_equal(w.failing_since, 0);
    fr_store_webhook_free(&w);

    /* rotation: both secrets at a claim until the old one expires */
    assert_int_equal(fr_store_webhook_rotate(f->st, a, w1, "whsec_new", now + 100000), 0);
    struct fr_store_event_new e5 = { a, "evt_5", "subject.created", 0, "{}", 0, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e5, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 62000, 1000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    int seen = 0;
    for (size_t i = 0; i < nc; i++)
        if (c[i].webhook_id == w1) {
            assert_string_equal(c[i].secret, "whsec_new");
            assert_string_equal(c[i].old_secret, "whsec_one");
            seen++;
        }
    assert_true(seen >= 1);
    fr_store_claims_free(c, nc);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 200000, 1000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    for (size_t i = 0; i < nc; i++)
        if (c[i].webhook_id == w1) assert_null(c[i].old_secret);
    fr_store_claims_free(c, nc);

    /* deleting a webhook takes its deliveries */
    assert_int_equal(fr_store_webhook_delete(f->st, b, w1), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_webhook_delete(f->st, a, w1), 0);
    assert_int_equal(fr_store_delivery_list(f->st, a, w1, 10, 0, &dl, &nd, &next), 0);
    assert_int_equal(nd, 0);
    fr_free(dl);
    struct fr_store_delivery_done gone = { leased, FR_DELIVERY_DELIVERED, 1, 200, NULL, 0, now };
    if (fr_store_delivery_finish(f->st, &gone) == -FR_E_NOT_FOUND) n = 0;   /* was w1's: gone with it */
    /* a node started again takes back its own leases at once */
    assert_int_equal(fr_store_webhook_update(f->st, a, w2, &u), 0);      /* enabled again */
    struct fr_store_event_new e6 = { a, "evt_6", "subject.deleted", 0, "{}", 0, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e6, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 300000, 60000, 10, 0, NULL, 0, "node-z", &c, &nc), 0);
    assert_true(nc >= 1);
    const size_t held = nc;
    fr_store_claims_free(c, nc);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 300001, 60000, 10, 0, NULL, 0, "node-z", &c, &nc), 0);
    assert_int_equal(nc, 0);
    fr_free(c);
    assert_int_equal(fr_store_delivery_release(f->st, "node-z", &freed), 0);
    assert_int_equal(freed, (int64_t)held);
    assert_int_equal(fr_store_delivery_claim(f->st, now + 300002, 60000, 10, 0, NULL, 0, "node-z", &c, &nc), 0);
    assert_int_equal(nc, held);
    fr_store_claims_free(c, nc);
    /* deleting the client takes the rest */
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    assert_int_equal(fr_store_outbox_stats(f->st, &pending, &oldest), 0);
    assert_int_equal(pending, 0);
}

/* ---- cameras and camera sessions ---- */

/* Registered cameras: the URL kept whole (credentials are the service's to
 * hide), partial updates, and another client's id is NOT_FOUND everywhere. */
static void test_cameras(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b"), c1 = 0, c2 = 0, cb = 0;
    assert_int_equal(fr_store_camera_create(f->st, a, "Front", "rtsp://u:p@10.0.0.1/s", 0, &c1), 0);
    assert_int_equal(fr_store_camera_create(f->st, a, "Back", "http://10.0.0.2/mjpeg", 1, &c2), 0);
    assert_int_equal(fr_store_camera_create(f->st, b, "Gate", "rtsps://10.9.0.1/s", 0, &cb), 0);
    assert_true(c1 > 0 && c2 > c1 && cb > c2);
    struct fr_store_camera c = { 0 };
    assert_int_equal(fr_store_camera_get(f->st, a, c1, &c), 0);
    assert_int_equal(c.id, c1);
    assert_int_equal(c.client_id, a);
    assert_string_equal(c.name, "Front");
    assert_string_equal(c.url, "rtsp://u:p@10.0.0.1/s");
    assert_int_equal(c.transport, 0);
    assert_true(c.created_at > 0 && c.updated_at >= c.created_at);
    fr_store_camera_free(&c);
    /* tenancy: b's calls on a's camera find nothing and change nothing */
    assert_int_equal(fr_store_camera_get(f->st, b, c1, &c), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_camera_update(f->st, b, c1, "mine", NULL, -1), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_camera_delete(f->st, b, c1), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_camera_get(f->st, a, 0, &c), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_camera_get(f->st, a, cb + 100, &c), -FR_E_NOT_FOUND);
    struct fr_store_camera *rows = NULL;
    size_t n = 0;
    assert_int_equal(fr_store_camera_list(f->st, a, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, c1);
    assert_int_equal(rows[1].id, c2);
    assert_string_equal(rows[1].url, "http://10.0.0.2/mjpeg");
    assert_int_equal(rows[1].transport, 1);
    fr_store_cameras_free(rows, n);
    assert_int_equal(fr_store_camera_list(f->st, b, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].name, "Gate");
    fr_store_cameras_free(rows, n);
    /* updates: NULL and transport < 0 keep */
    assert_int_equal(fr_store_camera_update(f->st, a, c1, "Front door", NULL, -1), 0);
    assert_int_equal(fr_store_camera_get(f->st, a, c1, &c), 0);
    assert_string_equal(c.name, "Front door");
    assert_string_equal(c.url, "rtsp://u:p@10.0.0.1/s");
    assert_int_equal(c.transport, 0);
    fr_store_camera_free(&c);
    assert_int_equal(fr_store_camera_update(f->st, a, c1, NULL, "rtsp://10.0.0.3/t", 1), 0);
    assert_int_equal(fr_store_camera_get(f->st, a, c1, &c), 0);
    assert_string_equal(c.name, "Front door");
    assert_string_equal(c.url, "rtsp://10.0.0.3/t");
    assert_int_equal(c.transport, 1);
    fr_store_camera_free(&c);
    /* the front's own checks */
    int64_t x = 0;
    assert_int_equal(fr_store_camera_create(f->st, a, "", "rtsp://h/s", 0, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_camera_create(f->st, a, "n", NULL, 0, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_camera_create(f->st, a, "n", "rtsp://h/s", 2, &x), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_camera_update(f->st, a, c1, NULL, NULL, 2), -FR_E_INVALID_ARGUMENT);
    assert_int_equal(fr_store_camera_create(f->st, cb + 1000, "n", "rtsp://h/s", 0, &x), -FR_E_NOT_FOUND);
    assert_int_equal(x, 0);
    /* delete: once */
    assert_int_equal(fr_store_camera_delete(f->st, a, c1), 0);
    assert_int_equal(fr_store_camera_get(f->st, a, c1, &c), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_camera_delete(f->st, a, c1), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_camera_update(f->st, a, c1, "x", NULL, -1), -FR_E_NOT_FOUND);
    /* the client's deletion takes the rest */
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    assert_int_equal(fr_store_camera_list(f->st, a, &rows, &n), 0);
    assert_int_equal(n, 0);
    fr_free(rows);
    assert_int_equal(fr_store_camera_get(f->st, b, cb, &c), 0);   /* b's stays */
    fr_store_camera_free(&c);
}

#define CB_URL "https://backend.example/cb"
#define CB_POLICY "3;0,1,3;10000"

/* A session of client for slot with two cameras (one inline, one registered);
 * returns its id, *hook_out its callback endpoint. */
static int64_t mk_session(fr_store *st, int64_t client, const char *uid, const char *slot, int64_t *hook_out) {
    struct fr_store_session_settings set = {
        .mode = 1, .cooldown_ms = 30000, .fps = 2.5, .threshold = 0.31, .min_face_px = 48, .min_quality = 0.4,
        .liveness = 1, .report_unknown = 1, .snapshot = 0, .roster = "3,5,8", .max_failures = 7,
        .max_failure_ms = 90000, .callback_url = CB_URL, .policy = CB_POLICY, .ends_at = 1900000000000LL,
    };
    struct fr_store_session_camera cams[2] = {
        { "front", "Room 101 front", "rtsp://u:secret@10.0.0.1/s", 0, 0 },
        { "7", NULL, "rtsp://10.0.0.2/s", 1, 7 },
    };
    struct fr_store_session_new n = { client, uid, slot, &set, cams, 2, "whsec_c2Vzc2lvbi1zZWNyZXQtMTIzNDU2", "node-a" };
    int64_t id = 0, hook = 0;
    int rc = fr_store_session_create(st, &n, &id, &hook);
    if (rc < 0) fprintf(stderr, "session_create: %s\n", fr_err_detail());
    assert_int_equal(rc, 0);
    assert_true(id > 0 && hook > 0);
    if (hook_out) *hook_out = hook;
    return id;
}

/* Sessions: what was set comes back, one running session per client and
 * slot, the running one else the latest by slot, listing and paging,
 * taking (epoch), stopping once, progress. */
static void test_sessions(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b"), hook = 0;
    const int64_t s1 = mk_session(f->st, a, "ses_1", "room101", &hook);
    struct fr_store_session s = { 0 };
    assert_int_equal(fr_store_session_get(f->st, a, "room101", &s), 0);
    assert_int_equal(s.id, s1);
    assert_int_equal(s.client_id, a);
    assert_string_equal(s.uid, "ses_1");
    assert_string_equal(s.slot_id, "room101");
    assert_true(s.running);
    assert_null(s.reason);
    assert_int_equal(s.set.mode, 1);
    assert_int_equal(s.set.cooldown_ms, 30000);
    assert_true(s.set.fps == 2.5);
    assert_true(fabs(s.set.threshold - 0.31) < 1e-9);
    assert_int_equal(s.set.min_face_px, 48);
    assert_true(fabs(s.set.min_quality - 0.4) < 1e-9);
    assert_true(s.set.liveness && s.set.report_unknown && !s.set.snapshot);
    assert_string_equal(s.set.roster, "3,5,8");
    assert_int_equal(s.set.max_failures, 7);
    assert_int_equal(s.set.max_failure_ms, 90000);
    assert_string_equal(s.set.callback_url, CB_URL);
    assert_string_equal(s.set.policy, CB_POLICY);
    assert_int_equal(s.set.ends_at, 1900000000000LL);
    assert_int_equal(s.n_cameras, 2);
    assert_string_equal(s.cameras[0].key, "front");
    assert_string_equal(s.cameras[0].name, "Room 101 front");
    assert_string_equal(s.cameras[0].url, "rtsp://u:secret@10.0.0.1/s");
    assert_int_equal(s.cameras[0].transport, 0);
    assert_int_equal(s.cameras[0].camera_id, 0);
    assert_string_equal(s.cameras[1].key, "7");
    assert_null(s.cameras[1].name);
    assert_int_equal(s.cameras[1].transport, 1);
    assert_int_equal(s.cameras[1].camera_id, 7);
    assert_int_equal(s.hook_id, hook);
    assert_string_equal(s.node, "node-a");
    assert_int_equal(s.epoch, 0);
    assert_true(s.created_at > 0);
    assert_int_equal(s.stopped_at, 0);
    assert_int_equal(s.stats.frames_read + s.stats.frames_analysed + s.stats.faces_seen + s.stats.recognitions +
                         s.stats.callback_failures, 0);
    fr_store_session_free(&s);
    /* by id: the same row, any client */
    assert_int_equal(fr_store_session_get_id(f->st, s1, &s), 0);
    assert_string_equal(s.slot_id, "room101");
    assert_int_equal(s.n_cameras, 2);
    fr_store_session_free(&s);
    assert_int_equal(fr_store_session_get_id(f->st, s1 + 1000, &s), -FR_E_SESSION_NOT_FOUND);
    /* tenancy: b has no session for the slot, and may run its own */
    assert_int_equal(fr_store_session_get(f->st, b, "room101", &s), -FR_E_SESSION_NOT_FOUND);
    assert_int_equal(fr_store_session_get(f->st, a, "room999", &s), -FR_E_SESSION_NOT_FOUND);
    const int64_t sb = mk_session(f->st, b, "ses_b1", "room101", NULL);
    /* a second running session of the slot: CONFLICT naming slot_id, nothing written */
    struct fr_store_session_settings set = { .fps = 5, .threshold = -1, .callback_url = CB_URL, .policy = CB_POLICY };
    struct fr_store_session_camera cam = { "c", NULL, "rtsp://10.0.0.9/s", 0, 0 };
    struct fr_store_session_new nw = { a, "ses_2", "room101", &set, &cam, 1, NULL, NULL };
    int64_t id = 0, h2 = 0;
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), -FR_E_CONFLICT);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "slot_id");
    assert_int_equal(id, 0);
    assert_int_equal(h2, 0);
    /* the front's checks */
    nw.slot_id = "room102";
    nw.n_cameras = 0;
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), -FR_E_INVALID_ARGUMENT);
    nw.n_cameras = 1;
    set.fps = 0;
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), -FR_E_INVALID_ARGUMENT);
    set.fps = 5;
    set.policy = NULL;
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), -FR_E_INVALID_ARGUMENT);
    set.policy = CB_POLICY;
    nw.client_id = sb + 1000;
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), -FR_E_NOT_FOUND);   /* no such client */
    nw.client_id = a;
    /* a session without a secret, name or node: unsigned callbacks */
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), 0);
    const int64_t s2 = id;
    assert_int_equal(fr_store_session_get_id(f->st, s2, &s), 0);
    assert_null(s.node);
    assert_null(s.set.roster);
    assert_null(s.cameras[0].name);
    fr_store_session_free(&s);

    /* take: the node and a new epoch each time; progress counters */
    int64_t epoch = 0;
    assert_int_equal(fr_store_session_take(f->st, s1, "node-b", &epoch), 0);
    assert_int_equal(epoch, 1);
    assert_int_equal(fr_store_session_take(f->st, s1, "node-c", &epoch), 0);
    assert_int_equal(epoch, 2);
    struct fr_store_session_stats st = { 100, 40, 12, 3, 1 };
    assert_int_equal(fr_store_session_progress(f->st, s1, &st), 0);
    assert_int_equal(fr_store_session_get(f->st, a, "room101", &s), 0);
    assert_string_equal(s.node, "node-c");
    assert_int_equal(s.epoch, 2);
    assert_int_equal(s.stats.frames_read, 100);
    assert_int_equal(s.stats.frames_analysed, 40);
    assert_int_equal(s.stats.faces_seen, 12);
    assert_int_equal(s.stats.recognitions, 3);
    assert_int_equal(s.stats.callback_failures, 1);
    fr_store_session_free(&s);

    /* list: newest first, paged, running only */
    const int64_t s3 = mk_session(f->st, a, "ses_3", "room103", NULL);
    assert_int_equal(fr_store_session_stop(f->st, s2, "ENDED", fr_now_ms()), 0);
    struct fr_store_session *rows = NULL;
    size_t n = 0;
    int64_t next = 0;
    assert_int_equal(fr_store_session_list(f->st, a, 0, 10, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].id, s3);
    assert_int_equal(rows[1].id, s2);
    assert_int_equal(rows[2].id, s1);
    assert_int_equal(rows[2].n_cameras, 2);      /* each row with its cameras */
    assert_string_equal(rows[2].cameras[1].key, "7");
    assert_int_equal(next, 0);
    fr_store_sessions_free(rows, n);
    assert_int_equal(fr_store_session_list(f->st, a, 0, 2, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[1].id, s2);
    assert_int_equal(next, s2);
    fr_store_sessions_free(rows, n);
    assert_int_equal(fr_store_session_list(f->st, a, 0, 2, next, &rows, &n, &next), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, s1);
    assert_int_equal(next, 0);
    fr_store_sessions_free(rows, n);
    assert_int_equal(fr_store_session_list(f->st, a, 1, 10, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, s3);
    assert_int_equal(rows[1].id, s1);
    fr_store_sessions_free(rows, n);
    assert_int_equal(fr_store_session_list(f->st, b, 0, 10, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, sb);
    fr_store_sessions_free(rows, n);
    assert_int_equal(fr_store_session_list(f->st, a, 0, 0, 0, &rows, &n, &next), -FR_E_INVALID_ARGUMENT);
    /* running, every client, oldest first */
    assert_int_equal(fr_store_session_running(f->st, &rows, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].id, s1);
    assert_int_equal(rows[1].id, sb);
    assert_int_equal(rows[2].id, s3);
    assert_int_equal(rows[1].client_id, b);
    assert_int_equal(rows[0].n_cameras, 2);
    fr_store_sessions_free(rows, n);

    /* stop: once; then the slot is free again, and the slot's row is the running one, else the latest */
    const int64_t at = fr_now_ms();
    assert_int_equal(fr_store_session_stop(f->st, s1, "STOPPED_BY_CLIENT", at), 0);
    assert_int_equal(fr_store_session_stop(f->st, s1, "STOPPED_BY_CLIENT", at), -FR_E_SESSION_NOT_FOUND);
    assert_int_equal(fr_store_session_take(f->st, s1, "node-d", &epoch), -FR_E_SESSION_NOT_FOUND);
    assert_int_equal(fr_store_session_get(f->st, a, "room101", &s), 0);
    assert_int_equal(s.id, s1);
    assert_false(s.running);
    assert_string_equal(s.reason, "STOPPED_BY_CLIENT");
    assert_int_equal(s.stopped_at, at);
    fr_store_session_free(&s);
    nw.uid = "ses_4";
    nw.slot_id = "room101";
    assert_int_equal(fr_store_session_create(f->st, &nw, &id, &h2), 0);
    const int64_t s4 = id;
    assert_int_equal(fr_store_session_get(f->st, a, "room101", &s), 0);
    assert_int_equal(s.id, s4);
    assert_true(s.running);
    fr_store_session_free(&s);
    assert_int_equal(fr_store_session_stop(f->st, s4, "ENDED", at + 1), 0);
    assert_int_equal(fr_store_session_get(f->st, a, "room101", &s), 0);
    assert_int_equal(s.id, s4);                   /* both stopped: the latest */
    assert_string_equal(s.reason, "ENDED");
    fr_store_session_free(&s);
    assert_int_equal(fr_store_session_running(f->st, &rows, &n), 0);
    assert_int_equal(n, 2);                       /* sb, s3 */
    fr_store_sessions_free(rows, n);
    assert_int_equal(fr_store_session_stop(f->st, s4 + 1000, "ENDED", at), -FR_E_SESSION_NOT_FOUND);
    assert_int_equal(fr_store_session_stop(f->st, 0, "ENDED", at), -FR_E_SESSION_NOT_FOUND);
    struct fr_store_session_stats none = { 0 };
    assert_int_equal(fr_store_session_progress(f->st, s4 + 1000, &none), -FR_E_SESSION_NOT_FOUND);

    /* the client's deletion takes its sessions, and only its own */
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    assert_int_equal(fr_store_session_get_id(f->st, s3, &s), -FR_E_SESSION_NOT_FOUND);
    assert_int_equal(fr_store_session_get_id(f->st, s1, &s), -FR_E_SESSION_NOT_FOUND);
    assert_int_equal(fr_store_session_running(f->st, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, sb);
    fr_store_sessions_free(rows, n);
}

/* A session's callback endpoint is a webhooks row of the session's: never
 * listed, read, changed or deleted as a webhook, never fanned out to,
 * outside the webhook health and outbox figures; an event addressed to it is
 * delivered, and its claim carries the session and the endpoint's policy. */
static void test_session_callbacks(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), w = 0, hook = 0, n = 0;
    assert_int_equal(fr_store_webhook_create(f->st, a, "https://a.example/all", "*", NULL, 1, "whsec_w", &w), 0);
    const int64_t sid = mk_session(f->st, a, "ses_1", "room101", &hook);
    assert_true(hook != w);
    struct fr_store_webhook *list = NULL;
    size_t nl = 0;
    assert_int_equal(fr_store_webhook_list(f->st, a, &list, &nl), 0);
    assert_int_equal(nl, 1);
    assert_int_equal(list[0].id, w);
    fr_store_webhooks_free(list, nl);
    struct fr_store_webhook wh = { 0 };
    assert_int_equal(fr_store_webhook_get(f->st, a, hook, &wh), -FR_E_NOT_FOUND);
    struct fr_store_webhook_update u = FR_STORE_WEBHOOK_UPDATE_KEEP;
    u.enabled = 0;
    assert_int_equal(fr_store_webhook_update(f->st, a, hook, &u), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_webhook_rotate(f->st, a, hook, "whsec_x", fr_now_ms() + 1000), -FR_E_NOT_FOUND);
    assert_int_equal(fr_store_webhook_delete(f->st, a, hook), -FR_E_NOT_FOUND);

    /* fan-out (webhook_id 0) reaches the webhook only, whatever the type */
    struct fr_store_event_new e1 = { a, "evt_1", "face.enrolled", 0, "{\"n\":1}", 0, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e1, &n), 0);
    assert_int_equal(n, 1);
    struct fr_store_event_new e2 = { a, "evt_2", "session.recognition", 0, "{\"n\":2}", 0, 0 };
    assert_int_equal(fr_store_event_add(f->st, &e2, &n), 0);
    assert_int_equal(n, 1);
    /* addressed to the session's endpoint, with the frame's time (in the past) */
    const int64_t t0 = fr_now_ms() - 5000;
    struct fr_store_event_new e3 = { a, "evt_3", "session.recognition", 0, "{\"cb\":3}", hook, t0 };
    assert_int_equal(fr_store_event_add(f->st, &e3, &n), 0);
    assert_int_equal(n, 1);
    /* one in the future: not due before its time */
    const int64_t t1 = fr_now_ms() + 100000;
    struct fr_store_event_new e4 = { a, "evt_4", "session.status", 0, "{\"cb\":4}", hook, t1 };
    assert_int_equal(fr_store_event_add(f->st, &e4, &n), 0);
    assert_int_equal(n, 1);
    /* the outbox figures count the webhook's deliveries only */
    int64_t pending = 0, oldest = 0;
    assert_int_equal(fr_store_outbox_stats(f->st, &pending, &oldest), 0);
    assert_int_equal(pending, 2);
    assert_true(oldest > t0);

    const int64_t now = fr_now_ms() + 1000;
    struct fr_store_claim *c = NULL;
    size_t nc = 0;
    assert_int_equal(fr_store_delivery_claim(f->st, now, 60000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    assert_int_equal(nc, 3);                      /* e4 is not due yet */
    assert_int_equal(c[0].webhook_id, hook);      /* oldest due first: e3 was due at t0 */
    int seen_cb = 0, seen_wh = 0;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].webhook_id == hook) {
            seen_cb++;
            assert_int_equal(c[i].session_id, sid);
            assert_string_equal(c[i].policy, CB_POLICY);
            assert_string_equal(c[i].url, CB_URL);
            assert_string_equal(c[i].secret, "whsec_c2Vzc2lvbi1zZWNyZXQtMTIzNDU2");
            assert_string_equal(c[i].event_id, "evt_3");
            assert_string_equal(c[i].body, "{\"cb\":3}");
            assert_int_equal(c[i].created_at, t0);
        } else {
            seen_wh++;
            assert_int_equal(c[i].webhook_id, w);
            assert_int_equal(c[i].session_id, 0);
            assert_null(c[i].policy);
            assert_true(c[i].created_at > t0);
        }
    }
    assert_int_equal(seen_cb, 1);
    assert_int_equal(seen_wh, 2);
    for (size_t i = 0; i < nc; i++) {
        struct fr_store_delivery_done d = { c[i].id, FR_DELIVERY_DELIVERED, 1, 200, NULL, 0, now };
        assert_int_equal(fr_store_delivery_finish(f->st, &d), 0);
    }
    fr_store_claims_free(c, nc);
    assert_int_equal(fr_store_delivery_claim(f->st, t1 + 1, 60000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    assert_int_equal(nc, 1);                      /* e4, due at its own time */
    assert_string_equal(c[0].event_id, "evt_4");
    assert_int_equal(c[0].created_at, t1);
    assert_int_equal(c[0].session_id, sid);
    fr_store_claims_free(c, nc);
    struct fr_store_delivery *dl = NULL;
    size_t nd = 0;
    int64_t next = 0;
    assert_int_equal(fr_store_delivery_list(f->st, a, hook, 10, 0, &dl, &nd, &next), 0);
    assert_int_equal(nd, 2);
    assert_int_equal(dl[0].created_at, t1);       /* newest first */
    assert_int_equal(dl[1].created_at, t0);
    fr_store_deliveries_free(dl, nd);

    /* health: a failing callback endpoint is not a failing webhook */
    int disabled = 0;
    int64_t client = 0;
    assert_int_equal(fr_store_webhook_health(f->st, hook, 0, now - 10000, 0, NULL, &disabled, &client), 0);
    assert_int_equal(client, a);
    assert_int_equal(fr_store_webhook_failing_count(f->st, now, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fr_store_webhook_health(f->st, w, 0, now - 10000, 0, NULL, &disabled, &client), 0);
    assert_int_equal(fr_store_webhook_failing_count(f->st, now, &n), 0);
    assert_int_equal(n, 1);

    /* the client's deletion takes the session, its endpoint and its deliveries */
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    assert_int_equal(fr_store_outbox_stats(f->st, &pending, &oldest), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(fr_store_delivery_claim(f->st, t1 + 100000, 60000, 10, 0, NULL, 0, "node-a", &c, &nc), 0);
    assert_int_equal(nc, 0);
    fr_free(c);
    struct fr_store_session s = { 0 };
    assert_int_equal(fr_store_session_get_id(f->st, sid, &s), -FR_E_SESSION_NOT_FOUND);
}

/* Recognitions: oldest first with a cursor, the client's own only, the
 * subjects a session reported (distinct, last time each, unknown faces
 * not), and subjects found by external_id. */
static void test_recognitions(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b");
    const int64_t sid = mk_session(f->st, a, "ses_1", "room101", NULL);
    const int64_t other = mk_session(f->st, a, "ses_2", "room102", NULL);
    const int64_t p1 = mk_subject(f->st, a, "Ann", "e-1"), p2 = mk_subject(f->st, a, "Bob", "e-2");
    const int64_t pb = mk_subject(f->st, b, "Bea", "e-1");
    struct fr_store_recognition r[4] = {
        { 0, a, sid, 0, p2, "front", 0.61f, 0.8f, { 1, 2, 30, 40 }, 1000, "evt_1" },
        { 0, a, sid, 0, p1, "7", 0.55f, 0.7f, { 5, 6, 50, 60 }, 2000, "evt_2" },
        { 0, a, sid, 1, 0, "front", 0.1f, 0.5f, { 7, 8, 20, 30 }, 2500, NULL },
        { 0, a, sid, 0, p2, "front", 0.66f, 0.9f, { 2, 3, 31, 41 }, 3000, "evt_4" },
    };
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fr_store_recognition_add(f->st, &r[i], &ids[i]), 0);
        if (i) assert_true(ids[i] > ids[i - 1]);
    }
    int64_t x = 0;
    struct fr_store_recognition ro = { 0, a, other, 0, p1, "front", 0.5f, 0.5f, { 0, 0, 1, 1 }, 4000, NULL };
    assert_int_equal(fr_store_recognition_add(f->st, &ro, &x), 0);
    /* the front's checks; another client's or a missing session: SESSION_NOT_FOUND */
    struct fr_store_recognition bad = r[0];
    bad.subject_id = 0;
    assert_int_equal(fr_store_recognition_add(f->st, &bad, &x), -FR_E_INVALID_ARGUMENT);
    bad = r[0];
    bad.kind = 2;
    assert_int_equal(fr_store_recognition_add(f->st, &bad, &x), -FR_E_INVALID_ARGUMENT);
    bad = r[0];
    bad.camera = "";
    assert_int_equal(fr_store_recognition_add(f->st, &bad, &x), -FR_E_INVALID_ARGUMENT);
    bad = r[0];
    bad.client_id = b;
    assert_int_equal(fr_store_recognition_add(f->st, &bad, &x), -FR_E_SESSION_NOT_FOUND);
    bad = r[0];
    bad.session_id = other + 1000;
    assert_int_equal(fr_store_recognition_add(f->st, &bad, &x), -FR_E_SESSION_NOT_FOUND);

    /* paging, oldest first */
    struct fr_store_recognition *rows = NULL;
    size_t n = 0;
    int64_t next = 0;
    assert_int_equal(fr_store_recognition_list(f->st, a, sid, 3, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 3);
    assert_int_equal(next, ids[2]);
    assert_int_equal(rows[0].id, ids[0]);
    assert_int_equal(rows[0].client_id, a);
    assert_int_equal(rows[0].session_id, sid);
    assert_int_equal(rows[0].kind, 0);
    assert_int_equal(rows[0].subject_id, p2);
    assert_string_equal(rows[0].camera, "front");
    assert_true(fabsf(rows[0].similarity - 0.61f) < 1e-6f);
    assert_true(fabsf(rows[0].quality - 0.8f) < 1e-6f);
    assert_true(rows[0].box[0] == 1 && rows[0].box[1] == 2 && rows[0].box[2] == 30 && rows[0].box[3] == 40);
    assert_int_equal(rows[0].seen_at, 1000);
    assert_string_equal(rows[0].event_id, "evt_1");
    assert_int_equal(rows[2].kind, 1);
    assert_int_equal(rows[2].subject_id, 0);
    assert_null(rows[2].event_id);
    fr_store_recognitions_free(rows, n);
    assert_int_equal(fr_store_recognition_list(f->st, a, sid, 3, next, &rows, &n, &next), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, ids[3]);
    assert_int_equal(next, 0);
    fr_store_recognitions_free(rows, n);
    assert_int_equal(fr_store_recognition_list(f->st, a, sid, 4, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 4);
    assert_int_equal(next, 0);                    /* exactly a page: no more */
    fr_store_recognitions_free(rows, n);
    assert_int_equal(fr_store_recognition_list(f->st, b, sid, 10, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 0);                       /* a's session, listed by b */
    fr_free(rows);

    /* reported: distinct subjects by id with their last time; the unknown face is not one */
    int64_t *subj = NULL, *when = NULL;
    size_t ns = 0;
    assert_int_equal(fr_store_session_reported(f->st, sid, &subj, &when, &ns), 0);
    assert_int_equal(ns, 2);
    const int64_t lo = p1 < p2 ? p1 : p2, hi = p1 < p2 ? p2 : p1;
    assert_int_equal(subj[0], lo);
    assert_int_equal(subj[1], hi);
    assert_int_equal(when[lo == p1 ? 0 : 1], 2000);
    assert_int_equal(when[lo == p2 ? 0 : 1], 3000);
    fr_free(subj);
    fr_free(when);
    assert_int_equal(fr_store_session_reported(f->st, other + 1000, &subj, &when, &ns), 0);
    assert_int_equal(ns, 0);
    fr_free(subj);
    fr_free(when);

    /* subjects by external_id, per client */
    assert_int_equal(fr_store_subject_find_external(f->st, a, "e-1", &x), 0);
    assert_int_equal(x, p1);
    assert_int_equal(fr_store_subject_find_external(f->st, b, "e-1", &x), 0);
    assert_int_equal(x, pb);
    assert_int_equal(fr_store_subject_find_external(f->st, b, "e-2", &x), -FR_E_SUBJECT_NOT_FOUND);
    assert_int_equal(x, 0);
    assert_int_equal(fr_store_subject_find_external(f->st, a, "", &x), -FR_E_INVALID_ARGUMENT);

    /* the client's deletion takes the recognitions */
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    assert_int_equal(fr_store_recognition_list(f->st, a, sid, 10, 0, &rows, &n, &next), 0);
    assert_int_equal(n, 0);
    fr_free(rows);
    assert_int_equal(fr_store_session_reported(f->st, sid, &subj, &when, &ns), 0);
    assert_int_equal(ns, 0);
    fr_free(subj);
    fr_free(when);
}

/* ---- the index change log ------------------------------------------------------ */

/* Additions, deletions and cascades are logged by the database in the
 * change's own transaction, in order; a rolled-back change leaves nothing;
 * an addition whose face is gone has no embedding; purge and its mark. */
static void test_change_log(void **state) {
    struct fx *f = *state;
    int64_t head0 = -1, head = 0;
    assert_int_equal(fr_store_changes_head(f->st, &head0), 0);
    assert_true(head0 >= 0);
    assert_int_equal(fr_store_changes_wait(f->st, head0, 0), 0);   /* nothing new */
    int64_t a = mk_client(f->st, "a"), b = mk_client(f->st, "b");
    int64_t sa = mk_subject(f->st, a, "s", NULL), sb = mk_subject(f->st, b, "t", NULL);
    int64_t f1 = mk_face(f->st, a, sa, 1), f2 = mk_face(f->st, a, sa, 2), f3 = mk_face(f->st, b, sb, 3);
    assert_int_equal(fr_store_changes_wait(f->st, head0, 1000), 1);
    /* a rolled-back addition is not in the log */
    fr_store *tx = NULL;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    mk_face(tx, a, sa, 4);
    fr_store_tx_rollback(tx);
    int64_t subj_of = 0;
    assert_int_equal(fr_store_face_delete(f->st, a, f1, &subj_of), 0);
    int64_t *gone = NULL;
    size_t n_gone = 0;
    assert_int_equal(fr_store_subject_delete(f->st, b, sb, &gone, &n_gone), 0);   /* f3 by cascade */
    fr_free(gone);
    struct fr_store_change *v = NULL;
    size_t n = 0;
    assert_int_equal(fr_store_changes_since(f->st, head0, 100, &v, &n), 0);
    assert_int_equal(n, 5);
    const struct { int deleted; int64_t face, client; int has_emb; } want[] = {
        { 0, f1, a, 0 },   /* added, deleted since: no embedding */
        { 0, f2, a, 1 },
        { 0, f3, b, 0 },
        { 1, f1, a, 0 },
        { 1, f3, b, 0 },
    };
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].deleted, want[i].deleted);
        assert_int_equal(v[i].face_id, want[i].face);
        assert_int_equal(v[i].client_id, want[i].client);
        assert_string_equal(v[i].model_id, "fr_feature");
        assert_int_equal(v[i].embedding != NULL, want[i].has_emb);
        if (i) assert_true(v[i].seq > v[i - 1].seq);
        assert_true(v[i].at > 0);
    }
    float emb[DIM];
    fill_emb(emb, 2);
    assert_int_equal(v[1].dim, DIM);
    assert_memory_equal(v[1].embedding, emb, sizeof emb);
    assert_int_equal(v[1].subject_id, sa);
    const int64_t last = v[n - 1].seq;
    fr_store_changes_free(v, n);
    assert_int_equal(fr_store_changes_head(f->st, &head), 0);
    assert_int_equal(head, last);
    /* paging by sequence */
    assert_int_equal(fr_store_changes_since(f->st, head0, 2, &v, &n), 0);
    assert_int_equal(n, 2);
    int64_t mid = v[1].seq;
    fr_store_changes_free(v, n);
    assert_int_equal(fr_store_changes_since(f->st, mid, 100, &v, &n), 0);
    assert_int_equal(n, 3);
    fr_store_changes_free(v, n);
    /* deleting a client logs its faces' deletions */
    assert_int_equal(fr_store_client_delete(f->st, a), 0);
    assert_int_equal(fr_store_changes_since(f->st, last, 100, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].deleted, 1);
    assert_int_equal(v[0].face_id, f2);
    fr_store_changes_free(v, n);
    /* purge: nothing is old yet; then everything, and the mark says how far */
    int64_t purged = 0, through = -1;
    assert_int_equal(fr_store_changes_purge(f->st, 1, &purged, &through), 0);
    assert_int_equal(purged, 0);
    assert_int_equal(through, 0);
    assert_int_equal(fr_store_changes_head(f->st, &head), 0);
    assert_int_equal(fr_store_changes_purge(f->st, INT64_MAX, &purged, &through), 0);
    assert_true(purged >= 6);
    assert_int_equal(through, head);
    assert_int_equal(fr_store_changes_purged_through(f->st, &through), 0);
    assert_int_equal(through, head);
    assert_int_equal(fr_store_changes_since(f->st, 0, 100, &v, &n), 0);
    assert_int_equal(n, 0);
    fr_store_changes_free(v, n);
    assert_int_equal(fr_store_changes_since(f->st, -1, 100, &v, &n), -FR_E_INVALID_ARGUMENT);
}

/* Two nodes (two stores on one database) claim one outbox from four threads
 * each, at once: every delivery is claimed exactly once (PostgreSQL: rows
 * locked FOR UPDATE SKIP LOCKED and leased in one statement; SQLite: one
 * writer at a time). A thread stops when a claim finds nothing due; the
 * last one to stop found the outbox empty. */
enum { CLAIM_EVENTS = 150, CLAIM_THREADS = 4, CLAIM_IDS = 1024 };

struct claimer {
    fr_store *st;
    const char *owner;
    int64_t now;
    atomic_int *seen;            /* claims per delivery id */
    int rc, n;
};

static void *claimer_main(void *arg) {
    struct claimer *c = arg;
    for (;;) {
        struct fr_store_claim *rows = NULL;
        size_t n = 0;
        c->rc = fr_store_delivery_claim(c->st, c->now, 60000, 7, 0, NULL, 0, c->owner, &rows, &n);
        if (c->rc < 0 || n == 0) {
            fr_free(rows);
            break;
        }
        for (size_t i = 0; i < n && c->rc == 0; i++) {
            struct fr_store_delivery_done d = { rows[i].id, FR_DELIVERY_DELIVERED, 1, 200, NULL, 0, c->now };
            if (rows[i].id > 0 && rows[i].id < CLAIM_IDS) atomic_fetch_add(&c->seen[rows[i].id], 1);
            c->rc = fr_store_delivery_finish(c->st, &d);
        }
        c->n += (int)n;
        fr_store_claims_free(rows, n);
        if (c->rc < 0) break;
    }
    return NULL;
}

static void test_claims_two_nodes(void **state) {
    struct fx *f = *state;
    int64_t a = mk_client(f->st, "a"), w1 = 0, w2 = 0, n = 0;
    assert_int_equal(fr_store_webhook_create(f->st, a, "https://a.example/1", "*", NULL, 1, "whsec_1", &w1), 0);
    assert_int_equal(fr_store_webhook_create(f->st, a, "https://a.example/2", "*", NULL, 1, "whsec_2", &w2), 0);
    for (int i = 0; i < CLAIM_EVENTS; i++) {
        char id[32];
        snprintf(id, sizeof id, "evt_%d", i);
        struct fr_store_event_new e = { a, id, "face.enrolled", 0, "{}", 0, 0 };
        assert_int_equal(fr_store_event_add(f->st, &e, &n), 0);
        assert_int_equal(n, 2);
    }
    fr_store *node_b = NULL;
    assert_int_equal(fr_store_open(f->url, &node_b), 0);
    static atomic_int seen[CLAIM_IDS];
    for (int i = 0; i < CLAIM_IDS; i++) atomic_init(&seen[i], 0);
    struct claimer c[2 * CLAIM_THREADS];
    pthread_t th[2 * CLAIM_THREADS];
    const int64_t now = fr_now_ms() + 1000;
    double t0 = fr_time_ms();
    for (int i = 0; i < 2 * CLAIM_THREADS; i++) {
        c[i] = (struct claimer){ i % 2 ? node_b : f->st, i % 2 ? "node-b" : "node-a", now, seen, 0, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, claimer_main, &c[i]), 0);
    }
    int total = 0, by_b = 0;
    for (int i = 0; i < 2 * CLAIM_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (c[i].rc < 0) fprintf(stderr, "claimer %d: %s\n", i, fr_err_detail());
        assert_int_equal(c[i].rc, 0);
        total += c[i].n;
        by_b += i % 2 ? c[i].n : 0;
    }
    printf("%d deliveries claimed by 2 nodes x %d threads in %.0f ms (node b: %d), each once\n", total,
           CLAIM_THREADS, fr_time_ms() - t0, by_b);
    assert_int_equal(total, 2 * CLAIM_EVENTS);
    for (int i = 0; i < CLAIM_IDS; i++) assert_true(atomic_load(&seen[i]) <= 1);
    int64_t pending = -1, oldest = -1;
    assert_int_equal(fr_store_outbox_stats(f->st, &pending, &oldest), 0);
    assert_int_equal(pending, 0);
    fr_store_close(node_b);
}

/* A database server that ends the store's connections (restarted, or the
 * network cut): the call that finds its connection gone fails with
 * SERVICE_UNAVAILABLE and says so, and the next call reconnects by itself;
 * a transaction on a lost connection fails, its commit too, and the store
 * goes on. SQLite has no connection to lose: PostgreSQL only. */
static void test_connection_lost(void **state) {
    struct fx *f = *state;
#ifdef FR_WITH_PG
    if (strcmp(f->b->name, "postgresql") != 0) return;
    int64_t a = mk_client(f->st, "a"), n = 0;
    mk_subject(f->st, a, "before", NULL);
    assert_int_equal(pg_fixture_kill_sessions(&pg_server, f->url), 0);
    int rc = fr_store_subject_count(f->st, a, &n);
    printf("after the server ended the connection: %s\n", rc < 0 ? fr_err_detail() : "(answered)");
    assert_int_equal(rc, -FR_E_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(fr_err_detail(), "connection"));
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);   /* reconnected */
    assert_int_equal(n, 1);
    /* in a transaction */
    fr_store *tx = NULL;
    assert_int_equal(fr_store_tx_begin(f->st, &tx), 0);
    mk_subject(tx, a, "lost", NULL);
    assert_int_equal(pg_fixture_kill_sessions(&pg_server, f->url), 0);
    int64_t x = 0;
    assert_int_equal(fr_store_subject_create(tx, a, "after", NULL, NULL, &x), -FR_E_SERVICE_UNAVAILABLE);
    assert_int_equal(fr_store_tx_commit(tx), -FR_E_SERVICE_UNAVAILABLE);
    assert_int_equal(fr_store_subject_count(f->st, a, &n), 0);
    assert_int_equal(n, 1);                                       /* nothing of it was kept */
    mk_subject(f->st, a, "after", NULL);
    assert_int_equal(fr_store_ping(f->st), 0);
#else
    (void)f;
#endif
}

/* Every test, run once per backend built in. */
#define T(fn) { #fn, fn }
static const struct {
    const char *name;
    CMUnitTestFunction fn;
} cases[] = {
    T(test_open_and_migrations),
    T(test_open_errors),
    T(test_open_by_url),
    T(test_open_postgresql_urls),
    T(test_backup),
    T(test_restore),
    T(test_keys),
    T(test_clients),
    T(test_admin_settings),
    T(test_subjects),
    T(test_subject_pagination),
    T(test_faces),
    T(test_faces_foreach_and_stats),
    T(test_tenant_isolation),
    T(test_cascades),
    T(test_audit),
    T(test_usage),
    T(test_idempotency),
    T(test_transactions),
    T(test_tx_visibility),
    T(test_tx_two_threads),
    T(test_tx_waits_for_commit),
    T(test_tx_same_thread_write_gives_up),
    T(test_clock_stamps_rows),
    T(test_webhooks_outbox),
    T(test_cameras),
    T(test_sessions),
    T(test_session_callbacks),
    T(test_recognitions),
    T(test_change_log),
    T(test_claims_two_nodes),
    T(test_concurrent_writers),
    T(test_crash_kill9),
    T(test_alloc_failures),
    T(test_null_arguments),
    T(test_throughput),
    T(test_connection_lost),
};
#undef T
#define N_CASES (sizeof cases / sizeof cases[0])

int main(void) {
    fr_log_set_level(FR_LOG_WARN);   /* "schema migrated" on every fresh directory */
    size_t n_backends = fr_store_backend_count(), n = 0;
    struct CMUnitTest *tests = calloc(n_backends * N_CASES, sizeof *tests);
    char (*names)[96] = calloc(n_backends * N_CASES, sizeof *names);
    int pg_started = 0;
    for (size_t b = 0; b < n_backends; b++) {
        const char *name = fr_store_backend_name(b);
        struct backend_fx *bx = NULL;
        for (size_t k = 0; k < sizeof backend_fx / sizeof backend_fx[0]; k++)
            if (strcmp(backend_fx[k].name, name) == 0) bx = &backend_fx[k];
        if (!bx) {
            fprintf(stderr, "backend %s has no row in backend_fx[] (tests/store/test_store.c)\n",
                    name);
            return 1;
        }
#ifdef FR_WITH_PG
        if (strcmp(name, "postgresql") == 0) {
            char why[256];
            double t0 = fr_time_ms();
            int rc = pg_fixture_start(&pg_server, why, sizeof why);
            if (rc == 0) {
                printf("postgresql: %zu cases skipped: %s\n", N_CASES, why);
                continue;
            }
            if (rc < 0) {
                fprintf(stderr, "postgresql: the test server did not start: %s\n", why);
                return 1;
            }
            printf("postgresql: test server (%s) on 127.0.0.1:%d started in %.0f ms\n", pg_server.bin,
                   pg_server.port, fr_time_ms() - t0);
            pg_started = 1;
        }
#endif
        for (size_t c = 0; c < N_CASES; c++, n++) {
            snprintf(names[n], sizeof names[n], "%s: %s", name, cases[c].name);
            tests[n] = (struct CMUnitTest){ names[n], cases[c].fn, setup, teardown, bx };
        }
    }
    int failed = _cmocka_run_group_tests("store", tests, n, NULL, NULL);
#ifdef FR_WITH_PG
    if (pg_started) {
        printf("postgresql: %zu cases in %.1f s (a fresh database each)\n", N_CASES, (fr_time_ms() - pg_t0) / 1000);
        pg_fixture_stop(&pg_server);
    }
#else
    (void)pg_started;
#endif
    free(tests);
    free(names);
    return failed;
}
