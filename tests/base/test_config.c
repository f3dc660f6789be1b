/* Service configuration: the defaults and their printed form, precedence
 * (defaults < file < environment), the file syntax (comments, quotes, CRLF,
 * unknown and repeated keys, malformed lines), every validation error with
 * its exact message, listen parsing, and the admin token never shown. */
#include "harness.h"

#include "facerec/config.h"

#include <unistd.h>

static const char *const env_keys[] = {
    "FACEREC_LISTEN",           "FACEREC_DATA_DIR",         "FACEREC_MODELS_DIR",
    "FACEREC_DATABASE_URL",
    "FACEREC_ADMIN_TOKEN",      "FACEREC_MAX_UPLOAD_BYTES", "FACEREC_MAX_PIXELS",
    "FACEREC_THREADS",          "FACEREC_MATCH_THRESHOLD",  "FACEREC_QUALITY_THRESHOLD",
    "FACEREC_LIVENESS_THRESHOLD", "FACEREC_REQUIRE_LIVENESS", "FACEREC_STORE_PHOTOS", "FACEREC_PHOTO_RETENTION_DAYS",
    "FACEREC_DEFAULT_RATE_PER_HOUR", "FACEREC_DEFAULT_RATE_PER_DAY", "FACEREC_LOG_LEVEL",
    "FACEREC_MAX_FACES",        "FACEREC_TOP_K", "FACEREC_CORS_ORIGINS", "FACEREC_METRICS_TOKEN", "FACEREC_MAX_CONNECTIONS_PER_IP", "FACEREC_IDENTIFY_FPIR", "FACEREC_IDENTIFY_MARGIN",
    "FACEREC_MAX_CONNECTIONS", "FACEREC_REQUEST_TIMEOUT_MS",
    "FACEREC_WEBHOOK_TIMEOUT_MS", "FACEREC_WEBHOOK_SCHEDULE", "FACEREC_WEBHOOK_ALLOW_PRIVATE",
    "FACEREC_WEBHOOK_DISABLE_AFTER_HOURS", "FACEREC_WEBHOOK_RETENTION_DAYS",
    "FACEREC_CAMERA_TIMEOUT_MS", "FACEREC_CAMERA_RECONNECT_ATTEMPTS", "FACEREC_CAMERA_RECONNECT_DELAY_MS",
    "FACEREC_CAMERA_ALLOW_FILES", "FACEREC_MAX_SESSIONS", "FACEREC_MAX_CAMERAS_PER_SESSION",
    "FACEREC_REDIS_URL", "FACEREC_NODE_ID",
};
#define N_ENV (sizeof env_keys / sizeof env_keys[0])

static int clear_env(void **state) {
    (void)state;
    for (size_t i = 0; i < N_ENV; i++) unsetenv(env_keys[i]);
    return 0;
}

static char tmp_path[64];

static const char *write_file(const char *text, size_t len) {
    strcpy(tmp_path, "/tmp/fr_cfg_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static char *printed(const struct fr_config *cfg) {
    static char out[8192];
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fr_config_print(cfg, f), 0);
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    fclose(f);
    return out;
}

static const char *defaults_text =
    "listen = 127.0.0.1:8000\n"
    "data_dir = ./data\n"
    "database_url = sqlite:./data\n"
    "models_dir = ./models\n"
    "admin_token = (unset)\n"
    "metrics_token = (unset)\n"
    "max_upload_bytes = 10485760\n"
    "max_pixels = 50000000\n"
    "threads = 0\n"
    "match_threshold = 0.28\n"
    "identify_fpir = 0.01\n"
    "identify_margin = 0.03\n"
    "quality_threshold = 0.3\n"
    "liveness_threshold = 0.5\n"
    "require_liveness = false\n"
    "store_photos = false\n"
    "photo_retention_days = 0\n"
    "default_rate_per_hour = 0\n"
    "default_rate_per_day = 0\n"
    "log_level = info\n"
    "max_faces = 10\n"
    "top_k = 5\n"
    "cors_origins = \n"
    "max_connections_per_ip = 100\n"
    "max_connections = 1000\n"
    "request_timeout_ms = 30000\n"
    "webhook_timeout_ms = 15000\n"
    "webhook_schedule = 0,5,300,1800,7200,18000,36000,50400,72000,86400\n"
    "webhook_allow_private = false\n"
    "webhook_disable_after_hours = 120\n"
    "webhook_retention_days = 30\n"
    "camera_timeout_ms = 5000\n"
    "camera_reconnect_attempts = 3\n"
    "camera_reconnect_delay_ms = 2000\n"
    "camera_allow_files = false\n"
    "max_sessions = 32\n"
    "max_cameras_per_session = 16\n"
    "redis_url = \n"
    "node_id = \n";

static void test_defaults(void **state) {
    (void)state;
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, NULL), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8000);
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.database_url, "");
    char url[FR_CONFIG_URL_MAX];
    assert_string_equal(fr_config_database_url(&c, url, sizeof url), "sqlite:./data");
    assert_string_equal(c.admin_token, "");
    assert_int_equal(c.max_upload_bytes, 10485760);
    assert_int_equal(c.max_pixels, 50000000);
    assert_int_equal(c.threads, 0);
    assert_true(c.match_threshold == 0.28);
    assert_true(c.identify_fpir == 0.01);
    assert_true(c.identify_margin == 0.03);
    assert_true(c.quality_threshold == 0.3);
    assert_true(c.liveness_threshold == 0.5);
    assert_false(c.require_liveness);
    assert_false(c.store_photos);
    assert_int_equal(c.default_rate_per_hour, 0);
    assert_int_equal(c.log_level, FR_LOG_INFO);
    assert_int_equal(c.max_faces, 10);
    assert_int_equal(c.top_k, 5);
    assert_int_equal(c.max_connections, 1000);
    assert_int_equal(c.request_timeout_ms, 30000);
    assert_int_equal(c.webhook_timeout_ms, 15000);
    assert_string_equal(c.webhook_schedule, "0,5,300,1800,7200,18000,36000,50400,72000,86400");
    assert_false(c.webhook_allow_private);
    assert_int_equal(c.webhook_disable_after_hours, 120);
    assert_int_equal(c.webhook_retention_days, 30);
    assert_int_equal(c.camera_timeout_ms, 5000);
    assert_int_equal(c.camera_reconnect_attempts, 3);
    assert_int_equal(c.camera_reconnect_delay_ms, 2000);
    assert_false(c.camera_allow_files);
    assert_int_equal(c.max_sessions, 32);
    assert_int_equal(c.max_cameras_per_session, 16);
    assert_true(fr_config_threads(&c) >= 1);
    char *text = printed(&c);
    printf("%s", text);
    assert_string_equal(text, defaults_text);
    struct fr_config d;
    fr_config_defaults(&d);
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_cors_origins(void **state) {
    (void)state;
    struct fr_config c;
    static const char *const good[] = { "", "*", "https://app.example.com", "http://localhost:3000,https://a.b.c" };
    static const char *const bad[] = { "app.example.com", "https://a.example/path", "ftp://x", "https://a,", "http://" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        setenv("FACEREC_CORS_ORIGINS", good[i], 1);
        assert_int_equal(fr_config_load(&c, NULL), 0);
        assert_string_equal(c.cors_origins, good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("FACEREC_CORS_ORIGINS", bad[i], 1);
        assert_true(fr_config_load(&c, NULL) < 0);
        assert_non_null(strstr(fr_err_detail(), "CORS_ORIGINS"));
    }
    unsetenv("FACEREC_CORS_ORIGINS");
}

static void test_precedence(void **state) {
    (void)state;
    const char *file =
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "listen = 0.0.0.0:9000\r\n"              /* CRLF is fine */
        "threads=3\n"
        "  data_dir   =   \"  /srv/face data  \"  \n"   /* quotes keep the spaces */
        "match_threshold = 0.31\n"
        "require_liveness = YES\n"
        "log_level = debug\n"
        "request_timeout_ms = 5000\n"
        "max_connections = 64\n";
    const char *path = write_file(file, strlen(file));
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, path), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(c.threads, 3);
    assert_int_equal(fr_config_threads(&c), 3);
    assert_string_equal(c.data_dir, "  /srv/face data  ");
    assert_true(c.match_threshold == 0.31);
    assert_true(c.require_liveness);
    assert_int_equal(c.log_level, FR_LOG_DEBUG);
    assert_int_equal(c.top_k, 5);                           /* untouched: the default */
    assert_int_equal(c.request_timeout_ms, 5000);
    assert_int_equal(c.max_connections, 64);
    /* the environment beats the file; an empty variable counts as unset */
    setenv("FACEREC_THREADS", "7", 1);
    setenv("FACEREC_LISTEN", "", 1);
    setenv("FACEREC_TOP_K", "12", 1);
    setenv("FACEREC_STORE_PHOTOS", "on", 1);
    setenv("FACEREC_MATCH_THRESHOLD", "-0.5", 1);
    setenv("FACEREC_REQUEST_TIMEOUT_MS", "2000", 1);
    assert_int_equal(fr_config_load(&c, path), 0);
    assert_int_equal(c.request_timeout_ms, 2000);
    assert_int_equal(c.max_connections, 64);
    assert_int_equal(c.threads, 7);
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(c.top_k, 12);
    assert_true(c.store_photos);
    assert_true(c.match_threshold == -0.5);
    assert_int_equal(c.log_level, FR_LOG_DEBUG);            /* from the file still */
    /* and the environment alone, over the defaults */
    assert_int_equal(fr_config_load(&c, NULL), 0);
    assert_int_equal(c.threads, 7);
    assert_int_equal(c.listen_port, 8000);
    char *text = printed(&c);
    assert_non_null(strstr(text, "match_threshold = -0.5\n"));
    unlink(path);
    /* what fr_config_print writes reads back as the same configuration */
    text = printed(&c);
    /* the unset secrets print as "(unset)", which is not a value: drop them */
    static const char *const unset[] = { "admin_token = (unset)\n", "metrics_token = (unset)\n" };
    for (int u = 0; u < 2; u++) {
        char *tok = strstr(text, unset[u]);
        assert_non_null(tok);
        memmove(tok, tok + strlen(unset[u]), strlen(tok + strlen(unset[u])) + 1);
    }
    clear_env(NULL);
    path = write_file(text, strlen(text));
    struct fr_config back;
    assert_int_equal(fr_config_load(&back, path), 0);
    unlink(path);
    char *want = strdup(printed(&c));
    assert_string_equal(printed(&back), want);
    free(want);
    /* a command-line override goes through the same parser */
    assert_int_equal(fr_config_set(&back, "FACEREC_TOP_K", "3"), 0);
    assert_int_equal(fr_config_set(&back, "max_faces", "2"), 0);
    assert_int_equal(back.top_k, 3);
    assert_int_equal(back.max_faces, 2);
    assert_int_equal(fr_config_set(&back, "max_faces", "0"), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_detail(), "max_faces: expected an integer in [1, 1000], got '0'");
    assert_int_equal(fr_config_set(&back, "nope", "0"), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(fr_err_detail(), "unknown configuration key 'nope'");
}

/* Every kind of bad value, through the environment, with the exact message. */
static void test_env_errors(void **state) {
    (void)state;
    static const struct {
        const char *var, *value, *msg;
    } cases[] = {
        { "FACEREC_THREADS", "x", "FACEREC_THREADS: expected an integer in [0, 256], got 'x'" },
        { "FACEREC_THREADS", "257", "FACEREC_THREADS: expected an integer in [0, 256], got '257'" },
        { "FACEREC_THREADS", "-1", "FACEREC_THREADS: expected an integer in [0, 256], got '-1'" },
        { "FACEREC_THREADS", "4 ", "FACEREC_THREADS: expected an integer in [0, 256], got '4 '" },
        { "FACEREC_THREADS", " 4", "FACEREC_THREADS: expected an integer in [0, 256], got ' 4'" },
        { "FACEREC_THREADS", "4.0", "FACEREC_THREADS: expected an integer in [0, 256], got '4.0'" },
        { "FACEREC_THREADS", "99999999999999999999",
          "FACEREC_THREADS: expected an integer in [0, 256], got '99999999999999999999'" },
        { "FACEREC_MAX_UPLOAD_BYTES", "10", "FACEREC_MAX_UPLOAD_BYTES: expected an integer in [1024, 1073741824], got '10'" },
        { "FACEREC_MAX_PIXELS", "0", "FACEREC_MAX_PIXELS: expected an integer in [1, 1000000000], got '0'" },
        { "FACEREC_DEFAULT_RATE_PER_HOUR", "-5",
          "FACEREC_DEFAULT_RATE_PER_HOUR: expected an integer in [0, 1000000000], got '-5'" },
        { "FACEREC_DEFAULT_RATE_PER_DAY", "1e3",
          "FACEREC_DEFAULT_RATE_PER_DAY: expected an integer in [0, 1000000000], got '1e3'" },
        { "FACEREC_MAX_FACES", "0", "FACEREC_MAX_FACES: expected an integer in [1, 1000], got '0'" },
        { "FACEREC_TOP_K", "1001", "FACEREC_TOP_K: expected an integer in [1, 1000], got '1001'" },
        { "FACEREC_MATCH_THRESHOLD", "1.5", "FACEREC_MATCH_THRESHOLD: expected a number in [-1, 1], got '1.5'" },
        { "FACEREC_MATCH_THRESHOLD", "nan", "FACEREC_MATCH_THRESHOLD: expected a number in [-1, 1], got 'nan'" },
        { "FACEREC_MATCH_THRESHOLD", "0.3x", "FACEREC_MATCH_THRESHOLD: expected a number in [-1, 1], got '0.3x'" },
        { "FACEREC_QUALITY_THRESHOLD", "-0.1", "FACEREC_QUALITY_THRESHOLD: expected a number in [0, 1], got '-0.1'" },
        { "FACEREC_LIVENESS_THRESHOLD", "inf", "FACEREC_LIVENESS_THRESHOLD: expected a number in [0, 1], got 'inf'" },
        { "FACEREC_REQUIRE_LIVENESS", "maybe",
          "FACEREC_REQUIRE_LIVENESS: expected true or false (also 1/0, yes/no, on/off), got 'maybe'" },
        { "FACEREC_STORE_PHOTOS", "2",
          "FACEREC_STORE_PHOTOS: expected true or false (also 1/0, yes/no, on/off), got '2'" },
        { "FACEREC_LOG_LEVEL", "loud", "FACEREC_LOG_LEVEL: expected one of debug, info, warn, error, got 'loud'" },
        { "FACEREC_LISTEN", "8000",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got '8000'" },
        { "FACEREC_LISTEN", ":8000",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got ':8000'" },
        { "FACEREC_LISTEN", "localhost:65536",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got 'localhost:65536'" },
        { "FACEREC_LISTEN", "localhost:",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got 'localhost:'" },
        { "FACEREC_LISTEN", "localhost:+80",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got 'localhost:+80'" },
        { "FACEREC_LISTEN", "::1:8000",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got '::1:8000'" },
        { "FACEREC_LISTEN", "[::g]:8000",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got '[::g]:8000'" },
        { "FACEREC_LISTEN", "[::1]8000",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got '[::1]8000'" },
        { "FACEREC_LISTEN", "300.1.1.1:80",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got '300.1.1.1:80'" },
        { "FACEREC_LISTEN", "bad_host:80",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got 'bad_host:80'" },
        { "FACEREC_LISTEN", "-a.com:80",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got '-a.com:80'" },
        { "FACEREC_LISTEN", "a..com:80",
          "FACEREC_LISTEN: expected host:port or [ipv6]:port with a port in [0, 65535], got 'a..com:80'" },
        { "FACEREC_MAX_CONNECTIONS", "0", "FACEREC_MAX_CONNECTIONS: expected an integer in [1, 100000], got '0'" },
        { "FACEREC_MAX_CONNECTIONS", "100001",
          "FACEREC_MAX_CONNECTIONS: expected an integer in [1, 100000], got '100001'" },
        { "FACEREC_REQUEST_TIMEOUT_MS", "99",
          "FACEREC_REQUEST_TIMEOUT_MS: expected an integer in [100, 3600000], got '99'" },
        { "FACEREC_REQUEST_TIMEOUT_MS", "30s",
          "FACEREC_REQUEST_TIMEOUT_MS: expected an integer in [100, 3600000], got '30s'" },
        { "FACEREC_WEBHOOK_TIMEOUT_MS", "99",
          "FACEREC_WEBHOOK_TIMEOUT_MS: expected an integer in [100, 600000], got '99'" },
        { "FACEREC_WEBHOOK_SCHEDULE", "0,5,1",
          "FACEREC_WEBHOOK_SCHEDULE: expected 1 to 32 non-decreasing seconds in [0, 31536000] separated by commas, "
          "like 0,5,300, got '0,5,1'" },
        { "FACEREC_WEBHOOK_SCHEDULE", "0,,5",
          "FACEREC_WEBHOOK_SCHEDULE: expected 1 to 32 non-decreasing seconds in [0, 31536000] separated by commas, "
          "like 0,5,300, got '0,,5'" },
        { "FACEREC_WEBHOOK_SCHEDULE", "5s",
          "FACEREC_WEBHOOK_SCHEDULE: expected 1 to 32 non-decreasing seconds in [0, 31536000] separated by commas, "
          "like 0,5,300, got '5s'" },
        { "FACEREC_WEBHOOK_ALLOW_PRIVATE", "sometimes",
          "FACEREC_WEBHOOK_ALLOW_PRIVATE: expected true or false (also 1/0, yes/no, on/off), got 'sometimes'" },
        { "FACEREC_WEBHOOK_DISABLE_AFTER_HOURS", "-1",
          "FACEREC_WEBHOOK_DISABLE_AFTER_HOURS: expected an integer in [0, 87600], got '-1'" },
        { "FACEREC_CAMERA_TIMEOUT_MS", "100",
          "FACEREC_CAMERA_TIMEOUT_MS: expected an integer in [200, 600000], got '100'" },
        { "FACEREC_CAMERA_ALLOW_FILES", "perhaps",
          "FACEREC_CAMERA_ALLOW_FILES: expected true or false (also 1/0, yes/no, on/off), got 'perhaps'" },
        { "FACEREC_MAX_SESSIONS", "-1", "FACEREC_MAX_SESSIONS: expected an integer in [0, 10000], got '-1'" },
        { "FACEREC_REDIS_URL", "http://cache:6379",
          "FACEREC_REDIS_URL: expected a Redis URL like redis://127.0.0.1:6379/0 or unix:///run/redis.sock, got "
          "'http://cache:6379'" },
        { "FACEREC_REDIS_URL", "redis://:hunter2@cache:6379/\x01",
          "FACEREC_REDIS_URL: expected a Redis URL like redis://127.0.0.1:6379/0 or unix:///run/redis.sock, got "
          "'redis://:***@cache:6379/\x01'" },
        { "FACEREC_NODE_ID", "node 1", "FACEREC_NODE_ID: expected up to 127 printable characters without spaces, got 'node 1'" },
        { "FACEREC_MAX_CAMERAS_PER_SESSION", "65",
          "FACEREC_MAX_CAMERAS_PER_SESSION: expected an integer in [1, 64], got '65'" },
        { "FACEREC_WEBHOOK_RETENTION_DAYS", "36501",
          "FACEREC_WEBHOOK_RETENTION_DAYS: expected an integer in [0, 36500], got '36501'" },
        { "FACEREC_ADMIN_TOKEN", "short",
          "FACEREC_ADMIN_TOKEN: expected 16 to 255 printable characters without spaces, got 5 characters" },
        { "FACEREC_ADMIN_TOKEN", "has a space inside it",
          "FACEREC_ADMIN_TOKEN: expected 16 to 255 printable characters without spaces, got 21 characters" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env(NULL);
        setenv(cases[i].var, cases[i].value, 1);
        struct fr_config c;
        int rc = fr_config_load(&c, NULL);
        printf("%s='%s' -> %s\n", cases[i].var, cases[i].value, fr_err_detail());
        assert_int_equal(rc, -FR_E_INVALID_ARGUMENT);
        assert_string_equal(fr_err_detail(), cases[i].msg);
    }
    /* long values are quoted back cut short */
    char longv[300];
    memset(longv, '9', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    clear_env(NULL);
    setenv("FACEREC_TOP_K", longv, 1);
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, NULL), -FR_E_INVALID_ARGUMENT);
    assert_true(strlen(fr_err_detail()) < 160);
    assert_non_null(strstr(fr_err_detail(), "...'"));
    /* too long for a path */
    char *path = malloc(FR_CONFIG_PATH_MAX + 10);
    memset(path, 'p', FR_CONFIG_PATH_MAX + 9);
    path[FR_CONFIG_PATH_MAX + 9] = 0;
    clear_env(NULL);
    setenv("FACEREC_DATA_DIR", path, 1);
    assert_int_equal(fr_config_load(&c, NULL), -FR_E_INVALID_ARGUMENT);
    assert_non_null(strstr(fr_err_detail(), "FACEREC_DATA_DIR: expected a path of 1 to 4095 bytes"));
    free(path);
}

static void test_listen_forms(void **state) {
    (void)state;
    static const struct {
        const char *v, *host;
        int port;
    } ok[] = {
        { "127.0.0.1:8000", "127.0.0.1", 8000 },
        { "0.0.0.0:0", "0.0.0.0", 0 },
        { "localhost:65535", "localhost", 65535 },
        { "api.example-1.com:443", "api.example-1.com", 443 },
        { "[::1]:8080", "::1", 8080 },
        { "[::]:80", "::", 80 },
        { "[fe80::1:2]:1", "fe80::1:2", 1 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct fr_config c;
        fr_config_defaults(&c);
        assert_int_equal(fr_config_set(&c, "listen", ok[i].v), 0);
        assert_string_equal(c.listen, ok[i].v);
        assert_string_equal(c.listen_host, ok[i].host);
        assert_int_equal(c.listen_port, ok[i].port);
    }
}

static void test_file_errors(void **state) {
    (void)state;
    static const struct {
        const char *text, *msg;   /* msg after "<path>:" */
    } cases[] = {
        { "threads = 2\nthreads = 3\n", "2: threads is already set on line 1" },
        { "# ok\nthread = 2\n", "2: unknown key 'thread'" },
        { "FACEREC_THREADS = 2\n", "1: unknown key 'FACEREC_THREADS' (in the file write 'threads')" },
        { "\n\nthreads 2\n", "3: expected 'key = value', got 'threads 2'" },
        { "threads = x\n", "1: threads: expected an integer in [0, 256], got 'x'" },
        { "threads =\n", "1: threads: expected an integer in [0, 256], got ''" },
        { "data_dir = \"\"\n", "1: data_dir: expected a path of 1 to 4095 bytes, got ''" },
        { "listen = localhost\n",
          "1: listen: expected host:port or [ipv6]:port with a port in [0, 65535], got 'localhost'" },
        { "top_k = 3\n= 4\n", "2: unknown key ''" },
        { "admin_token = abc\n", "1: admin_token: expected 16 to 255 printable characters without spaces, got 3 characters" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = write_file(cases[i].text, strlen(cases[i].text));
        struct fr_config c;
        int rc = fr_config_load(&c, path);
        printf("%s\n", fr_err_detail());
        char want[512];
        snprintf(want, sizeof want, "%s:%s", path, cases[i].msg);
        assert_int_equal(rc, -FR_E_INVALID_ARGUMENT);
        assert_string_equal(fr_err_detail(), want);
        unlink(path);
    }
    /* not text */
    const char *path = write_file("threads = 1\n\0x", 14);
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, path), -FR_E_INVALID_ARGUMENT);
    assert_non_null(strstr(fr_err_detail(), "NUL byte"));
    unlink(path);
    /* missing */
    assert_int_equal(fr_config_load(&c, "/nonexistent/facerec.conf"), -FR_E_IO);
    printf("%s\n", fr_err_detail());
    assert_string_equal(fr_err_detail(), "config file: cannot open /nonexistent/facerec.conf: No such file or directory");
    /* a directory is not a config file */
    assert_true(fr_config_load(&c, "/tmp") < 0);
    /* an error in the file wins even when the environment would fix it: the file is wrong */
    path = write_file("threads = x\n", 12);
    setenv("FACEREC_THREADS", "2", 1);
    assert_int_equal(fr_config_load(&c, path), -FR_E_INVALID_ARGUMENT);
    unlink(path);
}

static void test_secret_masked(void **state) {
    (void)state;
    const char *token = "s3cr3t-t0ken-0123456789";
    setenv("FACEREC_ADMIN_TOKEN", token, 1);
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, NULL), 0);
    assert_string_equal(c.admin_token, token);
    char *text = printed(&c);
    printf("%s", text);
    assert_non_null(strstr(text, "admin_token = (set)\n"));
    assert_null(strstr(text, "s3cr3t"));
    /* a bad token is not echoed in the error either */
    setenv("FACEREC_ADMIN_TOKEN", "s3cr3t sp", 1);
    assert_int_equal(fr_config_load(&c, NULL), -FR_E_INVALID_ARGUMENT);
    assert_null(strstr(fr_err_detail(), "s3cr3t"));
    const char *file = "admin_token = s3cr3t\tsp\n";
    const char *path = write_file(file, strlen(file));
    unsetenv("FACEREC_ADMIN_TOKEN");
    assert_int_equal(fr_config_load(&c, path), -FR_E_INVALID_ARGUMENT);
    assert_null(strstr(fr_err_detail(), "s3cr3t"));
    unlink(path);
}

/* FACEREC_DATABASE_URL: unset follows data_dir; any <scheme>:<where> is taken
 * (the store knows which backends exist); a password is never shown. */
/* The webhook keys: from a file and the environment, and the schedule
 * syntax on its own (fr_config_schedule_parse, also the outbox's). */
static void test_webhook_settings(void **state) {
    (void)state;
    const char *file =
        "webhook_schedule = \"0, 1, 1, 60\"\n"
        "webhook_allow_private = yes\n"
        "webhook_timeout_ms = 2500\n";
    const char *path = write_file(file, strlen(file));
    setenv("FACEREC_WEBHOOK_RETENTION_DAYS", "0", 1);
    setenv("FACEREC_WEBHOOK_DISABLE_AFTER_HOURS", "0", 1);
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, path), 0);
    unlink(path);
    assert_string_equal(c.webhook_schedule, "0, 1, 1, 60");
    assert_true(c.webhook_allow_private);
    assert_int_equal(c.webhook_timeout_ms, 2500);
    assert_int_equal(c.webhook_retention_days, 0);
    assert_int_equal(c.webhook_disable_after_hours, 0);
    assert_non_null(strstr(printed(&c), "webhook_schedule = 0, 1, 1, 60\n"));
    int64_t sec[FR_CONFIG_SCHEDULE_MAX];
    int n = 0;
    assert_int_equal(fr_config_schedule_parse(c.webhook_schedule, "webhook_schedule", sec, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(sec[3], 60);
    assert_int_equal(fr_config_schedule_parse("31536000", NULL, sec, &n), 0);
    assert_int_equal(sec[0], 31536000);
    assert_int_equal(fr_config_schedule_parse("1,0", "callbacks", sec, &n), -FR_E_VALIDATION_ERROR);
    assert_string_equal(fr_err_key(), "field");
    assert_string_equal(fr_err_value(), "callbacks");
    assert_int_equal(fr_config_schedule_parse(NULL, "callbacks", sec, &n), -FR_E_VALIDATION_ERROR);
    assert_int_equal(fr_config_set(&c, "webhook_schedule", "9,8"), -FR_E_INVALID_ARGUMENT);
    assert_string_equal(c.webhook_schedule, "0, 1, 1, 60");   /* unchanged */
}

static void test_database_url(void **state) {
    (void)state;
    struct fr_config c;
    char url[FR_CONFIG_URL_MAX];
    setenv("FACEREC_DATA_DIR", "/srv/facerec", 1);
    assert_int_equal(fr_config_load(&c, NULL), 0);
    assert_string_equal(fr_config_database_url(&c, url, sizeof url), "sqlite:/srv/facerec");
    assert_non_null(strstr(printed(&c), "database_url = sqlite:/srv/facerec\n"));
    setenv("FACEREC_DATABASE_URL", "sqlite:/var/lib/facerec", 1);
    assert_int_equal(fr_config_load(&c, NULL), 0);
    assert_string_equal(c.database_url, "sqlite:/var/lib/facerec");
    assert_string_equal(fr_config_database_url(&c, url, sizeof url), "sqlite:/var/lib/facerec");
    /* the syntax is checked here, the backend by the store */
    setenv("FACEREC_DATABASE_URL", "nosuchdb:x", 1);
    assert_int_equal(fr_config_load(&c, NULL), 0);
    static const char *const bad[] = { "/var/lib/facerec", "sqlite:", ":x", "1db:x", "sq lite:x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("FACEREC_DATABASE_URL", bad[i], 1);
        assert_int_equal(fr_config_load(&c, NULL), -FR_E_INVALID_ARGUMENT);
        printf("%s\n", fr_err_detail());
        assert_non_null(strstr(fr_err_detail(), "FACEREC_DATABASE_URL: expected a database URL like "
                                                "sqlite:/var/lib/facerec, got '"));
    }
    /* the password stays out of the printed configuration and of errors */
    setenv("FACEREC_DATABASE_URL", "postgresql://face:s3cr3t@db.example/facerec", 1);
    assert_int_equal(fr_config_load(&c, NULL), 0);
    char *text = printed(&c);
    assert_non_null(strstr(text, "database_url = postgresql://face:***@db.example/facerec\n"));
    assert_null(strstr(text, "s3cr3t"));
    setenv("FACEREC_DATABASE_URL", "postgresql://face:s3cr3t@db.example/\x01", 1);
    assert_int_equal(fr_config_load(&c, NULL), -FR_E_INVALID_ARGUMENT);
    assert_null(strstr(fr_err_detail(), "s3cr3t"));
    /* the file's key */
    const char *file = "database_url = sqlite:rel/dir\n";
    const char *path = write_file(file, strlen(file));
    unsetenv("FACEREC_DATABASE_URL");
    assert_int_equal(fr_config_load(&c, path), 0);
    assert_string_equal(c.database_url, "sqlite:rel/dir");
    unlink(path);
}

static void test_unknown_env_is_only_a_warning(void **state) {
    (void)state;
    setenv("FACEREC_THREAD", "4", 1);   /* a typo: warned about on stderr, not fatal */
    struct fr_config c;
    assert_int_equal(fr_config_load(&c, NULL), 0);
    assert_int_equal(c.threads, 0);
    unsetenv("FACEREC_THREAD");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_cors_origins, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_precedence, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_env_errors, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_listen_forms, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_file_errors, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_secret_masked, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_webhook_settings, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_database_url, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_unknown_env_is_only_a_warning, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
