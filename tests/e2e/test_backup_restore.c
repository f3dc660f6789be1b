/* The backup and restore drill (issue 12), on each store backend: a real
 * `facerec serve` with a client, subjects and enrolled faces answers
 * identify for a few probe photos, and its audit list is kept; the server
 * stops, `facerec backup FILE` copies the database, the data is destroyed
 * (SQLite: facerec.db deleted; PostgreSQL: the database dropped and created
 * again, empty), `facerec restore FILE` brings it back, and a server started
 * again gives the same identify answers (subject ids, decisions) and the
 * same audit rows, plus the restore's own "store.restore".
 *
 * Around it, what restore refuses, each with exit status 2 and nothing
 * changed: a file that is not a backup (garbage, and the other backend's
 * backup), a database that holds data (without --force), and a database a
 * running server has open.
 *
 *   test_drill_sqlite       the drill on a SQLite data directory
 *   test_drill_postgresql   the drill on a real PostgreSQL 15 (tests/store/pg_fixture.h; skipped with a
 *                           message when PostgreSQL is not installed)
 *
 * Skipped without the models (make models). */
#include "harness.h"
#include "e2e.h"
#ifdef FR_WITH_PG
#include "store/pg_fixture.h"
#endif

#define SESS "tests/fixtures/sessions/"
#define FACES "tests/fixtures/faces/"

static const char *const g_enrol[][2] = {
    { "Colin", SESS "Colin_Powell_0040.jpg" },
    { "Serena", SESS "Serena_Williams_0001.jpg" },
    { "Hugo", SESS "Hugo_Chavez_0002.jpg" },
    { "Aaron", FACES "Aaron_Peirsol_0001.jpg" },
};
#define N_ENROL (sizeof g_enrol / sizeof g_enrol[0])
static const char *const g_probe[] = {
    SESS "Colin_Powell_0049.jpg", SESS "Serena_Williams_0003.jpg", SESS "Hugo_Chavez_0027.jpg",
    FACES "Aaron_Peirsol_0003.jpg", SESS "Tony_Blair_0018.jpg",   /* the last: nobody enrolled */
};
#define N_PROBE (sizeof g_probe / sizeof g_probe[0])

static const char *g_skip;
#ifdef FR_WITH_PG
static struct pg_fixture g_pg;
static int g_have_pg;
static char g_pg_why[256];
#endif

/* One drill's world: the server, its environment and the backup file. */
struct drill {
    struct e2e_server srv;
    char url[256];             /* FACEREC_DATABASE_URL, "" for SQLite */
    char env_url[300];
    const char *env[2];
    char key[160];             /* "X-API-Key: ...\r\n" */
    char backup[200];
};

static struct drill g_sq, g_pgd;

/* `facerec ARGS...` with the drill's settings (as the server has them);
 * its output goes to ours. The exit status. */
static int cli(const struct drill *d, const char *a1, const char *a2, const char *a3) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        for (char **e = environ; *e;) {   /* no inherited FACEREC_* */
            if (strncmp(*e, "FACEREC_", 8) == 0) {
                char name[128];
                size_t l = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)l, *e);
                unsetenv(name);
            } else {
                e++;
            }
        }
        setenv("FACEREC_DATA_DIR", d->srv.data_dir, 1);
        setenv("FACEREC_MODELS_DIR", e2e_models_dir(), 1);
        if (d->url[0]) setenv("FACEREC_DATABASE_URL", d->url, 1);
        char bin[256];
        snprintf(bin, sizeof bin, "%s/facerec", e2e_build_dir());
        char *const argv[] = { (char *)(uintptr_t)"facerec", (char *)(uintptr_t)a1, (char *)(uintptr_t)a2,
                               (char *)(uintptr_t)a3, NULL };
        execv(bin, argv);
        _exit(127);
    }
    int st = 0;
    assert_true(pid > 0);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void start(struct drill *d, int again) {
    d->env[0] = d->url[0] ? d->env_url : NULL;
    d->env[1] = NULL;
    assert_int_equal(e2e_server_start(&d->srv, again ? d->srv.root : NULL, d->env), 0);
}

/* What identify answers for each probe: "decision:subject_id" of its first face. */
static void identify_all(struct drill *d, char out[N_PROBE][64]) {
    for (size_t i = 0; i < N_PROBE; i++) {
        uint8_t *p = NULL;
        size_t n = 0;
        assert_int_equal(fr_file_read(g_probe[i], 1 << 24, &p, &n), 0);
        struct e2e_buf b = { 0 };
        e2e_mp_file(&b, "photo", "q.jpg", "image/jpeg", p, n);
        e2e_mp_end(&b);
        fr_free(p);
        struct e2e_resp r;
        assert_int_equal(e2e_http(d->srv.port, "POST", "/api/v1/identify", d->key, E2E_MP_CTYPE, b.p, b.len, &r), 0);
        e2e_buf_free(&b);
        assert_int_equal(r.status, 200);
        const char *dec = jstr(r.json, "data.faces.0.decision");
        json_t *sid = jget(r.json, "data.faces.0.match.subject_id");
        assert_non_null(dec);
        snprintf(out[i], 64, "%s:%lld", dec, sid ? (long long)json_integer_value(sid) : 0LL);
        e2e_resp_free(&r);
    }
}

/* The audit rows, newest first (a JSON array, json_decref). */
static json_t *audit_rows(struct drill *d) {
    struct e2e_resp r;
    assert_int_equal(e2e_http(d->srv.port, "GET", "/api/v1/admin/audit?limit=1000", d->srv.auth, NULL, NULL, 0, &r),
                     0);
    assert_int_equal(r.status, 200);
    json_t *rows = json_incref(jget(r.json, "data.entries"));
    e2e_resp_free(&r);
    assert_true(json_is_array(rows));
    return rows;
}

/* The row of rows with this id, or NULL. */
static json_t *row_by_id(json_t *rows, json_int_t id) {
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (json_integer_value(json_object_get(row, "id")) == id) return row;
    }
    return NULL;
}

/* The database's data gone, as a lost disk or a dropped database leaves it. */
static void destroy(struct drill *d) {
    if (!d->url[0]) {
        static const char *const files[] = { "facerec.db", "facerec.db-wal", "facerec.db-shm" };
        char p[256];
        for (size_t i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s/%s", d->srv.data_dir, files[i]);
            unlink(p);
        }
        snprintf(p, sizeof p, "%s/facerec.db", d->srv.data_dir);
        assert_int_not_equal(access(p, F_OK), 0);
        return;
    }
#ifdef FR_WITH_PG
    const char *db = strrchr(d->url, '/') + 1;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db);
    assert_int_equal(pgfx_admin(&g_pg, "postgres", sql), 0);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0", db);
    assert_int_equal(pgfx_admin(&g_pg, "postgres", sql), 0);
#endif
}

static void drill(struct drill *d, const char *label) {
    struct e2e_resp r;
    char before[N_PROBE][64], after[N_PROBE][64];
    double t0 = fr_time_ms();
    if (d->url[0]) snprintf(d->env_url, sizeof d->env_url, "FACEREC_DATABASE_URL=%s", d->url);
    start(d, 0);
    snprintf(d->backup, sizeof d->backup, "%s/backup.%s", d->srv.root, d->url[0] ? "dump" : "db");
    /* a client, subjects, faces */
    assert_int_equal(e2e_http(d->srv.port, "POST", "/api/v1/admin/clients", d->srv.auth, "application/json",
                              "{\"name\":\"drill\"}", 16, &r), 0);
    assert_int_equal(r.status, 201);
    snprintf(d->key, sizeof d->key, "X-API-Key: %s\r\n", jstr(r.json, "data.api_key"));
    e2e_resp_free(&r);
    for (size_t i = 0; i < N_ENROL; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"name\":\"%s\"}", g_enrol[i][0]);
        assert_int_equal(e2e_http(d->srv.port, "POST", "/api/v1/subjects", d->key, "application/json", body,
                                  strlen(body), &r), 0);
        assert_int_equal(r.status, 201);
        int64_t id = (int64_t)json_integer_value(jget(r.json, "data.id"));
        e2e_resp_free(&r);
        assert_int_equal(e2e_enrol_file(d->srv.port, d->key, id, g_enrol[i][1]), 201);
    }
    identify_all(d, before);
    int matches = 0;
    for (size_t i = 0; i < N_PROBE; i++) matches += strncmp(before[i], "match:", 6) == 0;
    assert_int_equal(matches, N_PROBE - 1);    /* each enrolled person, and not the stranger */
    json_t *rows0 = audit_rows(d);
    assert_true(json_array_size(rows0) >= 1 + 2 * N_ENROL);
    assert_int_equal(e2e_server_stop(&d->srv), 0);
    double t_enrolled = fr_time_ms();

    assert_int_equal(cli(d, "backup", d->backup, NULL), 0);
    /* refused while the database holds data, without --force */
    assert_int_equal(cli(d, "restore", d->backup, NULL), 2);
    destroy(d);
    /* garbage, and the other backend's backup, are no backups: refused, nothing made */
    char junk[200];
    snprintf(junk, sizeof junk, "%s/junk.bin", d->srv.root);
    assert_int_equal(fr_file_write(junk, "not a backup at all, just some bytes\n", 37), 0);
    assert_int_equal(cli(d, "restore", junk, NULL), 2);
    assert_int_equal(cli(d, "restore", junk, "--force"), 2);
    if (d->url[0] && g_sq.backup[0]) assert_int_equal(cli(d, "restore", g_sq.backup, NULL), 2);
    if (!d->url[0]) {
        char p[256];
        snprintf(p, sizeof p, "%s/facerec.db", d->srv.data_dir);
        assert_int_not_equal(access(p, F_OK), 0);
    }
    double t1 = fr_time_ms();
    assert_int_equal(cli(d, "restore", d->backup, NULL), 0);
    double t_restore = fr_time_ms() - t1;

    start(d, 1);
    /* a running server holds the database: refused even with --force */
    assert_int_equal(cli(d, "restore", d->backup, "--force"), 2);
    identify_all(d, after);
    for (size_t i = 0; i < N_PROBE; i++) assert_string_equal(after[i], before[i]);
    json_t *rows1 = audit_rows(d);
    size_t i;
    json_t *row;
    json_int_t max0 = 0;
    json_array_foreach(rows0, i, row) {   /* every row of before, the same */
        json_t *same = row_by_id(rows1, json_integer_value(json_object_get(row, "id")));
        if (!same || !json_equal(row, same)) {
            char *t = json_dumps(row, 0);
            fprintf(stderr, "audit row lost or changed by the restore: %s\n", t);
            free(t);
        }
        assert_true(same && json_equal(row, same));
        if (json_integer_value(json_object_get(row, "id")) > max0) max0 = json_integer_value(json_object_get(row, "id"));
    }
    int restores = 0;
    json_array_foreach(rows1, i, row) {   /* and after them, the restore's own */
        if (row_by_id(rows0, json_integer_value(json_object_get(row, "id")))) continue;
        assert_true(json_integer_value(json_object_get(row, "id")) > max0);
        const char *action = json_string_value(json_object_get(row, "action"));
        restores += action && strcmp(action, "store.restore") == 0;
    }
    assert_int_equal(restores, 1);
    printf("%s: %zu faces, %zu identify answers and %zu audit rows the same after backup, destroy, restore "
           "(restore %.0f ms; drill %.1f s, of which enrolment %.1f s)\n", label, N_ENROL, N_PROBE,
           json_array_size(rows0), t_restore, (fr_time_ms() - t0) / 1000, (t_enrolled - t0) / 1000);
    json_decref(rows0);
    json_decref(rows1);
    assert_int_equal(e2e_server_stop(&d->srv), 0);
}

static void test_drill_sqlite(void **state) {
    (void)state;
    if (g_skip) { fprintf(stderr, "skipped: %s\n", g_skip); skip(); }
    g_sq.url[0] = 0;
    drill(&g_sq, "sqlite");
}

static void test_drill_postgresql(void **state) {
    (void)state;
    if (g_skip) { fprintf(stderr, "skipped: %s\n", g_skip); skip(); }
#ifdef FR_WITH_PG
    if (!g_have_pg) {
        fprintf(stderr, "skipped: %s\n", g_pg_why);
        printf("postgresql drill skipped: %s\n", g_pg_why);
        skip();
    }
    assert_int_equal(pg_fixture_create_db(&g_pg, g_pgd.url, sizeof g_pgd.url), 0);
    drill(&g_pgd, "postgresql");
#else
    fprintf(stderr, "skipped: built with WITH_PG=no\n");
    skip();
#endif
}

static int setup_all(void **state) {
    (void)state;
    json_set_alloc_funcs(fr_malloc, fr_free);
    if (!e2e_have_models()) g_skip = "the models are missing (make models)";
    if (g_skip) return 0;
#ifdef FR_WITH_PG
    int pg = pg_fixture_start(&g_pg, g_pg_why, sizeof g_pg_why);
    if (pg < 0) {
        fprintf(stderr, "postgresql: %s\n", g_pg_why);
        return -1;
    }
    g_have_pg = pg == 1;
#endif
    return 0;
}

static int teardown_all(void **state) {
    (void)state;
    e2e_server_cleanup(&g_sq.srv);
    e2e_server_cleanup(&g_pgd.srv);
#ifdef FR_WITH_PG
    pg_fixture_stop(&g_pg);
#endif
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drill_sqlite),
        cmocka_unit_test(test_drill_postgresql),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
