/* HTTP request parsing (src/http/http.h): multipart/form-data, JSON bodies
 * and their typed getters, query strings, base64 images and the router.
 * Each parser gets happy cases and hostile ones (the list of issue 4's
 * parsing task), the allocating ones get allocation-failure injection, and
 * the fuzz corpora fuzz/corpus/{multipart,json,router,webhook,session} are replayed through
 * the very checks of the fuzz targets, which are included below. */
#include "harness.h"

#include "http/http.h"

#include <dirent.h>
#include <openssl/evp.h>

/* The fuzz targets' checking functions, without their libFuzzer entry points. */
#define FR_FUZZ_EMBED
#include "../../fuzz/fuzz_multipart.c"
#include "../../fuzz/fuzz_json.c"
#include "../../fuzz/fuzz_router.c"
#include "../../fuzz/fuzz_webhook.c"
#include "../../fuzz/fuzz_session.c"

#define assert_err(rc, code, needle) check_err((rc), -(code), (needle), __FILE__, __LINE__)

/* rc is want and the error detail contains needle. */
static void check_err(int rc, int want, const char *needle, const char *file, int line) {
    if (rc != want || (needle && !strstr(fr_err_detail(), needle))) {
        fprintf(stderr, "%s:%d: rc %d (%s), wanted %d (%s) with \"%s\"; detail: \"%s\"\n", file, line, rc,
                fr_err_name(rc), want, fr_err_name(want), needle ? needle : "", fr_err_detail());
        fail();
    }
}

/* ======================= multipart ======================= */

#define CT "multipart/form-data; boundary=XyZ"

static fr_multipart mp;     /* 13 KiB: kept off the test's stack */

static int parse_str(const char *ct, const char *body) {
    return fr_multipart_parse(ct, (const uint8_t *)body, strlen(body), &mp);
}

static void assert_part(size_t i, const char *name, const char *data) {
    assert_true(i < mp.n_parts);
    assert_string_equal(mp.parts[i].name, name);
    assert_int_equal(mp.parts[i].len, strlen(data));
    assert_memory_equal(mp.parts[i].data, data, strlen(data));
}

static void test_mp_basic(void **state) {
    (void)state;
    const char *body =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"top_k\"\r\n"
        "\r\n"
        "5\r\n"
        "--XyZ\r\n"
        "content-disposition: form-data; name=\"photo\"; filename=\"me.jpg\"\r\n"
        "Content-Type:  image/jpeg \r\n"
        "X-Other: ignored\r\n"
        "\r\n"
        "JPEGDATA\r\n"
        "--XyZ--\r\n";
    assert_int_equal(parse_str(CT, body), 0);
    assert_int_equal(mp.n_parts, 2);
    assert_part(0, "top_k", "5");
    assert_false(mp.parts[0].has_filename);
    assert_null(mp.parts[0].content_type);
    assert_part(1, "photo", "JPEGDATA");
    assert_true(mp.parts[1].has_filename);
    assert_string_equal(mp.parts[1].filename, "me.jpg");
    assert_int_equal(mp.parts[1].content_type_len, 10);
    assert_memory_equal(mp.parts[1].content_type, "image/jpeg", 10);
    /* zero-copy: the data points into the body */
    assert_ptr_equal(mp.parts[1].data, (const uint8_t *)strstr(body, "JPEGDATA"));
    assert_ptr_equal(fr_multipart_get(&mp, "photo"), &mp.parts[1]);
    assert_null(fr_multipart_get(&mp, "Photo"));
    assert_null(fr_multipart_get(&mp, "nope"));
}

static void test_mp_boundary_forms(void **state) {
    (void)state;
    const char *body = "--a b'(c)+_,-./:=?\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n"
                       "--a b'(c)+_,-./:=?--";
    /* quoted, every bchar, upper-case parameter name and media type, extra parameters */
    assert_int_equal(parse_str("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b'(c)+_,-./:=?\"", body), 0);
    assert_part(0, "x", "1");
    /* unquoted, spaces around '=' and ';' */
    assert_int_equal(parse_str("multipart/form-data ;boundary = XyZ ;",
                               "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--"), 0);
    assert_part(0, "a", "v");
    /* 70 characters is the most RFC 2046 allows; 71 is refused */
    char ct[128], b70[80], bd[256];
    memset(b70, 'b', 70);
    b70[70] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    snprintf(bd, sizeof bd, "--%s\r\nContent-Disposition: form-data; name=n\r\n\r\n\r\n--%s--", b70, b70);
    assert_int_equal(parse_str(ct, bd), 0);
    assert_part(0, "n", "");
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%sb", b70);
    assert_err(parse_str(ct, bd), FR_E_VALIDATION_ERROR, "boundary longer than 70");
}

static void test_mp_bad_content_type(void **state) {
    (void)state;
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--";
    assert_err(parse_str(NULL, body), FR_E_VALIDATION_ERROR, "no Content-Type");
    assert_err(parse_str("multipart/form-data", body), FR_E_VALIDATION_ERROR, "no boundary in Content-Type");
    assert_err(parse_str("multipart/form-data; boundary=", body), FR_E_VALIDATION_ERROR, "no boundary");
    assert_err(parse_str("multipart/form-data; boundary=\"\"", body), FR_E_VALIDATION_ERROR, "no boundary");
    assert_err(parse_str("multipart/mixed; boundary=XyZ", body), FR_E_VALIDATION_ERROR,
               "not multipart/form-data");
    assert_err(parse_str("application/json", body), FR_E_VALIDATION_ERROR, "not multipart/form-data");
    assert_err(parse_str("multipart/form-data; boundary=\"XyZ", body), FR_E_VALIDATION_ERROR, "malformed");
    assert_err(parse_str("multipart/form-data; boundary", body), FR_E_VALIDATION_ERROR, "malformed");
    assert_err(parse_str("multipart/form-data; boundary=a; boundary=b", body), FR_E_VALIDATION_ERROR,
               "two boundary");
    assert_err(parse_str("multipart/form-data; boundary=\"a\\\"b\"", body), FR_E_VALIDATION_ERROR,
               "invalid character in boundary");
    assert_err(parse_str("multipart/form-data; boundary=\"ab \"", body), FR_E_VALIDATION_ERROR,
               "ends with a space");
    assert_err(parse_str("multipart/form-data; boundary=QQQ", body), FR_E_VALIDATION_ERROR,
               "does not occur in the body");
}

static void test_mp_preamble_epilogue_lf(void **state) {
    (void)state;
    assert_int_equal(parse_str(CT, "This is a preamble.\r\nIgnore --XyZ here.\r\n"
                                   "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n"
                                   "--XyZ--\r\nThis is the epilogue, --XyZ\r\nContent-Disposition: x\r\n"), 0);
    assert_int_equal(mp.n_parts, 1);
    assert_part(0, "a", "A");
    /* bare LF everywhere, and transport padding after a delimiter */
    assert_int_equal(parse_str(CT, "--XyZ \t\nContent-Disposition: form-data; name=a\n\nline1\nline2\n"
                                   "--XyZ\nContent-Disposition: form-data; name=b\n\n\n--XyZ--"), 0);
    assert_int_equal(mp.n_parts, 2);
    assert_part(0, "a", "line1\nline2");
    assert_part(1, "b", "");
    /* a close delimiter that lacks its "--" at the very end */
    assert_int_equal(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--XyZ"), 0);
    assert_part(0, "a", "A");
    assert_int_equal(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--XyZ\r\n"), 0);
    assert_part(0, "a", "A");
    /* no parts at all: a valid, empty form */
    assert_int_equal(parse_str(CT, "--XyZ--\r\n"), 0);
    assert_int_equal(mp.n_parts, 0);
}

static void test_mp_boundary_inside_data(void **state) {
    (void)state;
    /* the boundary as a prefix of longer lines, and not at a line start, is data */
    const char *data = "a--XyZ\r\n--XyZa\r\n--XyZ_more\r\n--Xy\r\n--XyZ-x";
    char body[512];
    snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\n%s\r\n--XyZ--", data);
    assert_int_equal(parse_str(CT, body), 0);
    assert_int_equal(mp.n_parts, 1);
    assert_part(0, "f", data);
}

static void test_mp_binary_data(void **state) {
    (void)state;
    /* all 256 byte values, CR, LF, CRLF and NUL inside the data */
    static uint8_t body[1024];
    uint8_t data[300];
    for (int i = 0; i < 256; i++) data[i] = (uint8_t)i;
    memcpy(data + 256, "\r\n\r\n\n\r--X\r\n\0\0--XyZ\r", 20);
    const char *h = "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"x.bin\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n";
    size_t n = strlen(h);
    memcpy(body, h, n);
    memcpy(body + n, data, 276);
    memcpy(body + n + 276, "\r\n--XyZ--\r\n", 11);
    assert_int_equal(fr_multipart_parse(CT, body, n + 287, &mp), 0);
    assert_int_equal(mp.n_parts, 1);
    assert_int_equal(mp.parts[0].len, 276);
    assert_memory_equal(mp.parts[0].data, data, 276);
}

static void test_mp_unterminated(void **state) {
    (void)state;
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n"),
               FR_E_VALIDATION_ERROR, "multipart: unterminated body");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA--XyZ--"),
               FR_E_VALIDATION_ERROR, "unterminated body");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n"), FR_E_VALIDATION_ERROR,
               "unterminated body (in the headers of part 1)");
    assert_err(parse_str(CT, ""), FR_E_VALIDATION_ERROR, "does not occur");
    assert_err(fr_multipart_parse(CT, NULL, 0, &mp), FR_E_VALIDATION_ERROR, "does not occur");
    /* "--XyZ" glued to text is not a delimiter, so nothing starts */
    assert_err(parse_str(CT, "--XyZabc\r\n"), FR_E_VALIDATION_ERROR, "does not occur");
}

static void test_mp_names(void **state) {
    (void)state;
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n"
                             "--XyZ\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nB\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "multipart: part 2 has no name");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Type: text/plain\r\n\r\nA\r\n--XyZ--"), FR_E_VALIDATION_ERROR,
               "part 1 has no name");
    assert_err(parse_str(CT, "--XyZ\r\n\r\nA\r\n--XyZ--"), FR_E_VALIDATION_ERROR, "part 1 has no name");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "has no name");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "part 1 is not form-data");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "repeats a Content-Disposition parameter");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
                             "Content-Disposition: form-data; name=b\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "two Content-Disposition headers");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "malformed Content-Disposition");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\" junk\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "malformed Content-Disposition");
    /* 128 bytes of name is the limit */
    char name[200], body[512];
    memset(name, 'n', 128);
    name[128] = '\0';
    snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nA\r\n--XyZ--", name);
    assert_int_equal(parse_str(CT, body), 0);
    assert_string_equal(mp.parts[0].name, name);
    snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=\"%sn\"\r\n\r\nA\r\n--XyZ--", name);
    assert_err(parse_str(CT, body), FR_E_VALIDATION_ERROR, "part 1 name longer than 128 bytes");
}

static void test_mp_filename_escapes(void **state) {
    (void)state;
    assert_int_equal(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"p\\\"q\"; "
                                   "filename=\"my \\\"best\\\" \\\\ photo;=.jpg\"\r\n\r\nA\r\n--XyZ--"), 0);
    assert_string_equal(mp.parts[0].name, "p\"q");
    assert_string_equal(mp.parts[0].filename, "my \"best\" \\ photo;=.jpg");
    /* a raw Windows path keeps its backslashes; an empty filename is still a filename */
    assert_int_equal(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a; filename=\"C:\\dir\\x.jpg\"\r\n"
                                   "\r\nA\r\n--XyZ\r\nContent-Disposition: form-data; name=b; filename=\"\"\r\n\r\n"
                                   "B\r\n--XyZ--"), 0);
    assert_string_equal(mp.parts[0].filename, "C:\\dir\\x.jpg");
    assert_true(mp.parts[1].has_filename);
    assert_string_equal(mp.parts[1].filename, "");
    char fn[300], body[700];
    memset(fn, 'f', 256);
    fn[256] = '\0';
    snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=a; filename=\"%s\"\r\n\r\nA\r\n--XyZ--",
             fn);
    assert_err(parse_str(CT, body), FR_E_VALIDATION_ERROR, "filename longer than 255 bytes");
}

static void test_mp_bad_headers(void **state) {
    (void)state;
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition form-data; name=a\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "part 1 has a malformed header line");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "malformed header line");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition : form-data; name=a\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "malformed header line");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\rb\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "control character");
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Type: a\r\n"
                             "Content-Type: b\r\n\r\nA\r\n--XyZ--"),
               FR_E_VALIDATION_ERROR, "two Content-Type headers");
    static const uint8_t nul[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\nA\r\n--XyZ--";
    assert_err(fr_multipart_parse(CT, nul, sizeof nul - 1, &mp), FR_E_VALIDATION_ERROR, "control character");
    /* a part without the blank line: its delimiter is read as a header line */
    assert_err(parse_str(CT, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n--XyZ--\r\n"),
               FR_E_VALIDATION_ERROR, "malformed header line");
}

static char big[1 << 17];

static void test_mp_header_limit(void **state) {
    (void)state;
    /* a header block of exactly FR_MP_MAX_HEADER bytes, blank line included, passes */
    const char *cd = "Content-Disposition: form-data; name=a\r\n";
    size_t fixed = strlen(cd) + strlen("X-Pad: \r\n") + 2;
    size_t pad = FR_MP_MAX_HEADER - fixed;
    char *p = big;
    p += sprintf(p, "--XyZ\r\n%sX-Pad: ", cd);
    memset(p, 'p', pad);
    p += pad;
    p += sprintf(p, "\r\n\r\nA\r\n--XyZ--");
    assert_int_equal(fr_multipart_parse(CT, (uint8_t *)big, (size_t)(p - big), &mp), 0);
    assert_part(0, "a", "A");
    /* one byte more is refused, and so is a huge one */
    p = big;
    p += sprintf(p, "--XyZ\r\n%sX-Pad: ", cd);
    memset(p, 'p', pad + 1);
    p += pad + 1;
    p += sprintf(p, "\r\n\r\nA\r\n--XyZ--");
    assert_err(fr_multipart_parse(CT, (uint8_t *)big, (size_t)(p - big), &mp), FR_E_VALIDATION_ERROR,
               "part 1 header block larger than 8192 bytes");
    p = big;
    p += sprintf(p, "--XyZ\r\n%sX-Pad: ", cd);
    memset(p, 'p', 100000);
    p += 100000;
    p += sprintf(p, "\r\n\r\nA\r\n--XyZ--");
    assert_err(fr_multipart_parse(CT, (uint8_t *)big, (size_t)(p - big), &mp), FR_E_VALIDATION_ERROR,
               "header block larger");
}

static size_t many_parts(int n) {
    char *p = big;
    for (int i = 0; i < n; i++)
        p += sprintf(p, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\n%d\r\n", i, i);
    p += sprintf(p, "--XyZ--\r\n");
    return (size_t)(p - big);
}

static void test_mp_part_limit(void **state) {
    (void)state;
    assert_int_equal(fr_multipart_parse(CT, (uint8_t *)big, many_parts(32), &mp), 0);
    assert_int_equal(mp.n_parts, 32);
    assert_part(31, "f31", "31");
    assert_err(fr_multipart_parse(CT, (uint8_t *)big, many_parts(33), &mp), FR_E_VALIDATION_ERROR,
               "multipart: more than 32 parts");
}

static void test_mp_text(void **state) {
    (void)state;
    static const uint8_t body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nhello\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nsecond\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=nul\r\n\r\nx\0y\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=utf\r\n\r\nJos\xc3\xa9\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=bad\r\n\r\n\xc3\x28\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=over\r\n\r\n\xe0\x80\xaf\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=sur\r\n\r\n\xed\xa0\x80\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=cut\r\n\r\n\xf0\x9f\x98\r\n"
        "--XyZ--";
    assert_int_equal(fr_multipart_parse(CT, body, sizeof body - 1, &mp), 0);
    assert_int_equal(mp.n_parts, 8);
    char buf[6];
    assert_int_equal(fr_multipart_text(&mp, "a", 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "hello");     /* the first of two, exactly filling buf */
    assert_err(fr_multipart_text(&mp, "a", 1, buf, 5), FR_E_VALIDATION_ERROR, "field 'a' must be at most 4 bytes");
    assert_int_equal(fr_multipart_text(&mp, "utf", 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "Jos\xc3\xa9");
    assert_err(fr_multipart_text(&mp, "nul", 0, buf, sizeof buf), FR_E_VALIDATION_ERROR, "NUL");
    assert_err(fr_multipart_text(&mp, "bad", 0, buf, sizeof buf), FR_E_VALIDATION_ERROR,
               "field 'bad' is not valid UTF-8");
    assert_err(fr_multipart_text(&mp, "over", 0, buf, sizeof buf), FR_E_VALIDATION_ERROR, "UTF-8");
    assert_err(fr_multipart_text(&mp, "sur", 0, buf, sizeof buf), FR_E_VALIDATION_ERROR, "UTF-8");
    assert_err(fr_multipart_text(&mp, "cut", 0, buf, sizeof buf), FR_E_VALIDATION_ERROR, "UTF-8");
    assert_err(fr_multipart_text(&mp, "missing", 1, buf, sizeof buf), FR_E_VALIDATION_ERROR,
               "field 'missing' is required");
    strcpy(buf, "dflt");
    assert_int_equal(fr_multipart_text(&mp, "missing", 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "dflt");
}

/* ======================= JSON ======================= */

static int parse_json(const char *s, json_t **root) {
    return fr_json_parse_body((const uint8_t *)s, strlen(s), 0, root);
}

/* A top-level object holding a string full of brackets (which must not
 * count) and depth - 1 nested arrays, or objects when objs: depth in all. */
static char *nested(int depth, int objs) {
    char *p = big + sprintf(big, "{\"a\": \"[[[{{{\\\"\", \"b\": ");
    for (int i = 1; i < depth; i++) p += sprintf(p, objs ? "{\"k\": " : "[");
    *p++ = '1';
    for (int i = 1; i < depth; i++) *p++ = objs ? '}' : ']';
    strcpy(p, "}");
    return big;
}

static void test_json_parse(void **state) {
    (void)state;
    json_t *root = NULL;
    assert_int_equal(parse_json("{\"name\": \"Ann\", \"n\": [1, {\"x\": null}]}", &root), 0);
    assert_true(json_is_object(root));
    json_decref(root);
    assert_err(parse_json("[1, 2]", &root), FR_E_VALIDATION_ERROR, "JSON body must be an object");
    assert_null(root);
    assert_err(parse_json("\"text\"", &root), FR_E_VALIDATION_ERROR, NULL);
    assert_err(parse_json("42", &root), FR_E_VALIDATION_ERROR, NULL);
    assert_err(parse_json("", &root), FR_E_VALIDATION_ERROR, "JSON body is empty");
    assert_err(parse_json("{\"a\": 1,\n \"b\": }", &root), FR_E_VALIDATION_ERROR, "at line 2, column");
    assert_err(parse_json("{\"a\": 1} trailing", &root), FR_E_VALIDATION_ERROR, "JSON body:");
    assert_err(parse_json("{\"a\": 1, \"a\": 2}", &root), FR_E_VALIDATION_ERROR, "duplicate");
    assert_err(parse_json("{\"a\": \"\\u0000\"}", &root), FR_E_VALIDATION_ERROR, NULL);
    assert_err(parse_json("{\"a\": \"\xc3\x28\"}", &root), FR_E_VALIDATION_ERROR, NULL);
    static const uint8_t nul[] = "{\"a\": \"x\0y\"}";
    assert_err(fr_json_parse_body(nul, sizeof nul - 1, 0, &root), FR_E_VALIDATION_ERROR, NULL);
    assert_err(fr_json_parse_body((const uint8_t *)"{\"a\": 1}", 8, 7, &root), FR_E_FILE_TOO_LARGE,
               "larger than 7 bytes");
    assert_int_equal(fr_json_parse_body((const uint8_t *)"{\"a\": 1}", 8, 8, &root), 0);
    json_decref(root);
}

static void test_json_depth(void **state) {
    (void)state;
    json_t *root = NULL;
    for (int d = 1; d <= 32; d++) {
        assert_int_equal(parse_json(nested(d, d % 2), &root), 0);
        json_decref(root);
    }
    assert_int_equal(parse_json(nested(32, 1), &root), 0);
    json_decref(root);
    assert_err(parse_json(nested(33, 0), &root), FR_E_VALIDATION_ERROR, "nested deeper than 32 levels");
    assert_null(root);
    assert_err(parse_json(nested(33, 1), &root), FR_E_VALIDATION_ERROR, "nested deeper than 32 levels");
    /* a deep bomb never reaches jansson's recursion */
    memset(big, '[', 100000);
    big[100000] = '\0';
    assert_err(parse_json(big, &root), FR_E_VALIDATION_ERROR, "nested deeper");
}

static const char *doc =
    "{\"name\": \"Ann\", \"long\": \"abcdefghij\", \"top_k\": 5, \"f_int\": 3.0, \"f_half\": 2.5,"
    " \"s_int\": \"5\", \"big\": 1e300, \"neg\": -7, \"huge\": 9223372036854775807, \"thr\": 0.25,"
    " \"yes\": true, \"no\": false, \"nul\": null, \"meta\": {\"a\": [1, 2]}, \"arr\": [1]}";

static void test_json_getters(void **state) {
    (void)state;
    json_t *root = NULL;
    assert_int_equal(parse_json(doc, &root), 0);
    const char *s = "dflt";
    assert_int_equal(fr_json_get_string(root, "name", 1, 3, &s), 0);
    assert_string_equal(s, "Ann");
    assert_err(fr_json_get_string(root, "long", 1, 9, &s), FR_E_VALIDATION_ERROR,
               "field 'long' must be at most 9 bytes");
    assert_err(fr_json_get_string(root, "top_k", 1, 9, &s), FR_E_VALIDATION_ERROR, "field 'top_k' must be a string");
    assert_err(fr_json_get_string(root, "absent", 1, 9, &s), FR_E_VALIDATION_ERROR, "field 'absent' is required");
    assert_err(fr_json_get_string(root, "nul", 1, 9, &s), FR_E_VALIDATION_ERROR, "field 'nul' is required");
    s = "dflt";
    assert_int_equal(fr_json_get_string(root, "absent", 0, 9, &s), 0);
    assert_int_equal(fr_json_get_string(root, "nul", 0, 9, &s), 0);
    assert_string_equal(s, "dflt");
    assert_int_equal(fr_json_get_string(NULL, "x", 0, 9, &s), 0);

    int64_t i = 42;
    assert_int_equal(fr_json_get_int(root, "top_k", 1, 1, 100, &i), 0);
    assert_int_equal(i, 5);
    assert_int_equal(fr_json_get_int(root, "f_int", 1, 1, 100, &i), 0);    /* 3.0 is an integer */
    assert_int_equal(i, 3);
    assert_err(fr_json_get_int(root, "top_k", 1, 6, 100, &i), FR_E_VALIDATION_ERROR,
               "field 'top_k' must be an integer in [6, 100]");
    assert_err(fr_json_get_int(root, "top_k", 1, 1, 4, &i), FR_E_VALIDATION_ERROR, "in [1, 4]");
    assert_err(fr_json_get_int(root, "f_half", 1, 1, 100, &i), FR_E_VALIDATION_ERROR, "must be an integer");
    assert_err(fr_json_get_int(root, "s_int", 1, 1, 100, &i), FR_E_VALIDATION_ERROR, "must be an integer");
    assert_err(fr_json_get_int(root, "big", 1, INT64_MIN, INT64_MAX, &i), FR_E_VALIDATION_ERROR, NULL);
    assert_err(fr_json_get_int(root, "yes", 1, 0, 1, &i), FR_E_VALIDATION_ERROR, NULL);
    assert_int_equal(fr_json_get_int(root, "neg", 1, -10, 0, &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(fr_json_get_int(root, "huge", 1, INT64_MIN, INT64_MAX, &i), 0);
    assert_true(i == INT64_MAX);
    i = 9;
    assert_int_equal(fr_json_get_int(root, "absent", 0, 1, 100, &i), 0);
    assert_int_equal(i, 9);
    assert_err(fr_json_get_int(root, "absent", 1, 1, 100, &i), FR_E_VALIDATION_ERROR, "field 'absent' is required");

    double d = 0;
    assert_int_equal(fr_json_get_number(root, "thr", 1, 0.0, 1.0, &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(fr_json_get_number(root, "top_k", 1, 0.0, 10.0, &d), 0);   /* an integer is a number */
    assert_true(d == 5.0);
    assert_err(fr_json_get_number(root, "top_k", 1, 0.0, 1.0, &d), FR_E_VALIDATION_ERROR,
               "field 'top_k' must be a number in [0, 1]");
    assert_err(fr_json_get_number(root, "name", 1, 0.0, 1.0, &d), FR_E_VALIDATION_ERROR, "must be a number");

    int b = 5;
    assert_int_equal(fr_json_get_bool(root, "yes", 1, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(fr_json_get_bool(root, "no", 1, &b), 0);
    assert_int_equal(b, 0);
    assert_err(fr_json_get_bool(root, "top_k", 1, &b), FR_E_VALIDATION_ERROR, "field 'top_k' must be true or false");

    json_t *o = NULL;
    assert_int_equal(fr_json_get_object(root, "meta", 1, FR_JSON_MAX_METADATA, &o), 0);
    assert_true(json_is_object(o));
    assert_int_equal(fr_json_get_object(root, "meta", 1, 11, &o), 0);   /* {"a":[1,2]} is 11 bytes */
    assert_err(fr_json_get_object(root, "meta", 1, 10, &o), FR_E_VALIDATION_ERROR,
               "field 'meta' must be at most 10 bytes as JSON");
    assert_err(fr_json_get_object(root, "arr", 1, 0, &o), FR_E_VALIDATION_ERROR, "field 'arr' must be an object");
    json_decref(root);

    /* metadata over 16 KiB */
    char *p = big;
    p += sprintf(p, "{\"metadata\": {\"k\": \"");
    memset(p, 'v', 16384);
    p += 16384;
    p += sprintf(p, "\"}}");
    assert_int_equal(parse_json(big, &root), 0);
    assert_err(fr_json_get_object(root, "metadata", 0, FR_JSON_MAX_METADATA, &o), FR_E_VALIDATION_ERROR,
               "at most 16384 bytes");
    json_decref(root);
}

static void test_query_int(void **state) {
    (void)state;
    int64_t v = 0;
    assert_int_equal(fr_query_get_int(NULL, "limit", 20, 1, 100, &v), 0);
    assert_int_equal(v, 20);
    assert_int_equal(fr_query_get_int("", "limit", 21, 1, 100, &v), 0);
    assert_int_equal(v, 21);
    assert_int_equal(fr_query_get_int("100", "limit", 20, 1, 100, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(fr_query_get_int("-3", "off", 0, -5, 5, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(fr_query_get_int("-9223372036854775808", "x", 0, INT64_MIN, 0, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(fr_query_get_int("9223372036854775807", "x", 0, 0, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    const char *bad[] = { "101", "0", "abc", "12abc", " 12", "+5", "-", "1.5", "9223372036854775808",
                          "99999999999999999999999", "1e3" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_err(fr_query_get_int(bad[k], "limit", 20, 1, 100, &v), FR_E_VALIDATION_ERROR,
                   "query parameter 'limit' must be an integer in [1, 100]");
}

/* Allocation failure anywhere inside jansson gives NOMEM and leaks nothing.
 * Every token of this document is shorter than 16 bytes: jansson 2.14 aborts
 * (assert in lex_unget_unsave, akheron/jansson#362, open as of 2026) when
 * growing its token buffer fails, and that is not ours to test. */
static void test_json_alloc_failure(void **state) {
    (void)state;
    static const char *small = "{\"name\": \"Ann\", \"top_k\": 5, \"thr\": 0.25, \"yes\": true, \"nul\": null,"
                               " \"meta\": {\"a\": [1, 2, {\"b\": \"c\"}]}, \"arr\": [1], \"x\": -3e2}";
    size_t used0 = fr_mem_used();
    int ok = 0;
    for (long n = 1; n < 200 && !ok; n++) {
        json_t *root = NULL;
        fr_alloc_fail_after(n);
        int rc = parse_json(small, &root);
        fr_alloc_fail_after(0);
        if (rc == 0) {
            ok = 1;
            json_decref(root);
        } else {
            assert_err(rc, FR_E_NOMEM, "out of memory");
            assert_null(root);
        }
        assert_int_equal(fr_mem_used(), used0);
    }
    assert_true(ok);
}

/* ======================= base64 ======================= */

static int b64(const char *s, uint8_t **out, size_t *n, size_t max_out) {
    return fr_base64_decode(s, strlen(s), out, n, max_out);
}

static void expect_b64(const char *s, const void *want, size_t want_len) {
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = b64(s, &out, &n, 1 << 20);
    if (rc != 0) fprintf(stderr, "\"%s\": %s\n", s, fr_err_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
    fr_free(out);
}

static void test_base64_happy(void **state) {
    (void)state;
    expect_b64("aGVsbG8=", "hello", 5);
    expect_b64("aGVsbG8", "hello", 5);             /* padding missing */
    expect_b64("aGVsbA==", "hell", 4);
    expect_b64("aGVsbA=", "hell", 4);              /* padding partial */
    expect_b64("aGVsbA", "hell", 4);
    expect_b64("aGVs", "hel", 3);
    expect_b64("  aG\r\nVs\tbG8=\n\n ", "hello", 5);
    static const uint8_t raw[] = { 0xfb, 0xff, 0xbf, 0xfe };
    expect_b64("+/+//g==", raw, 4);                 /* standard alphabet */
    expect_b64("-_-__g", raw, 4);                   /* URL-safe, unpadded */
    expect_b64("-/+_/g==", raw, 4);                 /* mixed */
    expect_b64("data:image/jpeg;base64,aGVsbG8=", "hello", 5);
    expect_b64("DATA:image/png;BASE64,aGVsbG8", "hello", 5);
    expect_b64("data:;base64,aGVsbG8", "hello", 5);
}

static void test_base64_hostile(void **state) {
    (void)state;
    uint8_t *out = (uint8_t *)1;
    size_t n = 1;
    assert_err(b64("aGV$bG8=", &out, &n, 100), FR_E_VALIDATION_ERROR,
               "field 'image_base64' is not valid base64 (invalid character at offset 3)");
    assert_null(out);
    assert_int_equal(n, 0);
    assert_err(b64("aGU=aGU=", &out, &n, 100), FR_E_VALIDATION_ERROR, "data after padding");
    assert_err(b64("aGVsbG8===", &out, &n, 100), FR_E_VALIDATION_ERROR, "not valid base64");
    assert_err(b64("aGVsb", &out, &n, 100), FR_E_VALIDATION_ERROR, "truncated");
    assert_err(b64("aGVsbG8h=", &out, &n, 100), FR_E_VALIDATION_ERROR, "not valid base64");
    assert_err(b64("", &out, &n, 100), FR_E_VALIDATION_ERROR, "field 'image_base64' is empty");
    assert_err(b64(" \r\n", &out, &n, 100), FR_E_VALIDATION_ERROR, "is empty");
    assert_err(b64("==", &out, &n, 100), FR_E_VALIDATION_ERROR, "not valid base64");
    assert_err(b64("data:image/jpeg,aGVsbG8=", &out, &n, 100), FR_E_VALIDATION_ERROR, "data: URL");
    assert_err(b64("data:image/jpeg;base64", &out, &n, 100), FR_E_VALIDATION_ERROR, "data: URL");
    assert_err(fr_base64_decode("aGVs\0bG8=", 9, &out, &n, 100), FR_E_VALIDATION_ERROR, "invalid character");
    assert_err(fr_base64_decode(NULL, 5, &out, &n, 100), FR_E_VALIDATION_ERROR, "empty");
    /* the size limit is exact, and is checked before allocating */
    assert_int_equal(b64("aGVsbG8=", &out, &n, 5), 0);
    fr_free(out);
    fr_alloc_fail_after(1);
    assert_err(b64("aGVsbG8=", &out, &n, 4), FR_E_FILE_TOO_LARGE, "decodes to 5 bytes, more than 4");
    fr_alloc_fail_after(0);
    assert_null(out);
}

static void test_base64_large_and_alloc_failure(void **state) {
    (void)state;
    /* 96 KiB of random-ish bytes, encoded by OpenSSL with a line break every 64 characters */
    size_t n_raw = 96 * 1024;
    uint8_t *raw = fr_malloc(n_raw);
    char *enc = fr_malloc(n_raw * 2);
    assert_non_null(raw);
    assert_non_null(enc);
    uint32_t x = 12345;
    for (size_t i = 0; i < n_raw; i++) raw[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int l1 = 0, l2 = 0;
    EVP_EncodeInit(ctx);
    assert_int_equal(EVP_EncodeUpdate(ctx, (unsigned char *)enc, &l1, raw, (int)n_raw), 1);
    EVP_EncodeFinal(ctx, (unsigned char *)enc + l1, &l2);
    EVP_ENCODE_CTX_free(ctx);
    size_t elen = (size_t)(l1 + l2);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(fr_base64_decode(enc, elen, &out, &n, n_raw), 0);
    assert_int_equal(n, n_raw);
    assert_memory_equal(out, raw, n_raw);
    fr_free(out);
    assert_err(fr_base64_decode(enc, elen, &out, &n, n_raw - 1), FR_E_FILE_TOO_LARGE, NULL);
    size_t used0 = fr_mem_used();
    fr_alloc_fail_after(1);
    assert_err(fr_base64_decode(enc, elen, &out, &n, n_raw), FR_E_NOMEM, "out of memory");
    fr_alloc_fail_after(0);
    assert_null(out);
    assert_int_equal(fr_mem_used(), used0);
    fr_free(raw);
    fr_free(enc);
}

static void test_json_base64_field(void **state) {
    (void)state;
    json_t *root = NULL;
    assert_int_equal(parse_json("{\"photo_b64\": \"data:image/png;base64,aGVsbG8\", \"n\": 1, \"bad\": \"@@\"}",
                                &root), 0);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(fr_json_get_base64(root, "photo_b64", 1, 100, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    fr_free(out);
    assert_err(fr_json_get_base64(root, "bad", 1, 100, &out, &n), FR_E_VALIDATION_ERROR,
               "field 'bad' is not valid base64");
    assert_err(fr_json_get_base64(root, "n", 1, 100, &out, &n), FR_E_VALIDATION_ERROR, "field 'n' must be a string");
    assert_err(fr_json_get_base64(root, "photo_b64", 1, 4, &out, &n), FR_E_FILE_TOO_LARGE, "field 'photo_b64'");
    assert_err(fr_json_get_base64(root, "image_base64", 1, 4, &out, &n), FR_E_VALIDATION_ERROR,
               "field 'image_base64' is required");
    assert_int_equal(fr_json_get_base64(root, "image_base64", 0, 4, &out, &n), 0);
    assert_null(out);
    json_decref(root);
}

/* ======================= router ======================= */

enum { H_HEALTH, H_ROOT, H_SUBJ_LIST, H_SUBJ_CREATE, H_SUBJ_GET, H_SUBJ_PATCH, H_SUBJ_DEL, H_SEARCH,
       H_FACES_ADD, H_FACES_LIST, H_FACE_DEL, H_ROTATE, H_HEAD_ONLY, H_FOUR };

static const fr_route routes[] = {
    { "GET",    "/health",                               H_HEALTH,      FR_ROUTE_AUTH_NONE },
    { "GET",    "/",                                     H_ROOT,        FR_ROUTE_AUTH_NONE },
    { "GET",    "/api/v1/subjects",                      H_SUBJ_LIST,   FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/subjects",                      H_SUBJ_CREATE, FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/subjects/search",               H_SEARCH,      FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/subjects/{id}",                 H_SUBJ_GET,    FR_ROUTE_AUTH_CLIENT },
    { "PATCH",  "/api/v1/subjects/{id}",                 H_SUBJ_PATCH,  FR_ROUTE_AUTH_CLIENT },
    { "DELETE", "/api/v1/subjects/{id}",                 H_SUBJ_DEL,    FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/subjects/{id}/faces",           H_FACES_ADD,   FR_ROUTE_AUTH_CLIENT },
    { "GET",    "/api/v1/subjects/{id}/faces",           H_FACES_LIST,  FR_ROUTE_AUTH_CLIENT },
    { "DELETE", "/api/v1/faces/{id}",                    H_FACE_DEL,    FR_ROUTE_AUTH_CLIENT },
    { "POST",   "/api/v1/admin/clients/{id}/rotate-key", H_ROTATE,      FR_ROUTE_AUTH_ADMIN },
    { "HEAD",   "/probe",                                H_HEAD_ONLY,   FR_ROUTE_AUTH_NONE },
    { "GET",    "/x/{a}/{b}/y/{c}/{d}",                  H_FOUR,        FR_ROUTE_AUTH_NONE },
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

static fr_route_params rp;

static int route(const char *method, const char *path) {
    return fr_route_match(routes, N_ROUTES, method, path, &rp);
}

static int handler_of(const char *method, const char *path) {
    int r = route(method, path);
    if (r < 0) {
        fprintf(stderr, "%s %s: %d (%s)\n", method, path, r, fr_err_detail());
        return -1;
    }
    return routes[r].handler;
}

static void test_route_matches(void **state) {
    (void)state;
    assert_int_equal(fr_route_table_check(routes, N_ROUTES), 0);
    assert_int_equal(fr_route_table_check(fuzz_routes, N_FUZZ_ROUTES), 0);
    assert_int_equal(handler_of("GET", "/health"), H_HEALTH);
    assert_int_equal(rp.n, 0);
    assert_null(rp.query);
    assert_int_equal(handler_of("GET", "/"), H_ROOT);
    assert_int_equal(handler_of("GET", "/api/v1/subjects"), H_SUBJ_LIST);
    assert_int_equal(handler_of("POST", "/api/v1/subjects"), H_SUBJ_CREATE);
    assert_int_equal(handler_of("GET", "/api/v1/subjects/search"), H_SEARCH);   /* literal row first */
    assert_int_equal(handler_of("GET", "/api/v1/subjects/42"), H_SUBJ_GET);
    assert_int_equal(rp.n, 1);
    assert_string_equal(rp.v[0].name, "id");
    assert_string_equal(fr_route_param(&rp, "id"), "42");
    assert_null(fr_route_param(&rp, "ID"));
    assert_int_equal(handler_of("PATCH", "/api/v1/subjects/42"), H_SUBJ_PATCH);
    assert_int_equal(handler_of("DELETE", "/api/v1/subjects/42"), H_SUBJ_DEL);
    assert_int_equal(handler_of("POST", "/api/v1/subjects/7/faces"), H_FACES_ADD);
    assert_string_equal(fr_route_param(&rp, "id"), "7");
    assert_int_equal(handler_of("GET", "/api/v1/subjects/7/faces"), H_FACES_LIST);
    assert_int_equal(handler_of("DELETE", "/api/v1/faces/99"), H_FACE_DEL);
    assert_int_equal(handler_of("POST", "/api/v1/admin/clients/3/rotate-key"), H_ROTATE);
    assert_int_equal(routes[route("POST", "/api/v1/admin/clients/3/rotate-key")].auth, FR_ROUTE_AUTH_ADMIN);
    assert_int_equal(handler_of("GET", "/x/1/2/y/3/4"), H_FOUR);
    assert_int_equal(rp.n, 4);
    assert_string_equal(fr_route_param(&rp, "a"), "1");
    assert_string_equal(fr_route_param(&rp, "d"), "4");
    /* HEAD matches GET; an explicit HEAD row matches HEAD only */
    assert_int_equal(handler_of("HEAD", "/api/v1/subjects/42"), H_SUBJ_GET);
    assert_int_equal(handler_of("HEAD", "/probe"), H_HEAD_ONLY);
    /* trailing slash */
    assert_int_equal(handler_of("GET", "/api/v1/subjects/"), H_SUBJ_LIST);
    assert_int_equal(handler_of("POST", "/api/v1/subjects/5/faces/"), H_FACES_ADD);
    assert_int_equal(handler_of("GET", "/health/?x=1"), H_HEALTH);
    assert_string_equal(rp.query, "x=1");
    /* decoded parameters */
    assert_int_equal(handler_of("GET", "/api/v1/subjects/%41b%63"), H_SUBJ_GET);
    assert_string_equal(fr_route_param(&rp, "id"), "Abc");
    assert_int_equal(handler_of("GET", "/api/v1/subjects/a+b%20c"), H_SUBJ_GET);
    assert_string_equal(fr_route_param(&rp, "id"), "a+b c");
}

static void test_route_404_405(void **state) {
    (void)state;
    const char *missing[] = { "/nope", "/api/v1/subjects/42/x", "/api/v1/subjects//faces", "", "health",
                              "/api/v1/%73ubjects", "/HEALTH", "/health//", "/api/v1", "/api/v1/faces",
                              "?/health", "/x/1/2/y/3", "/x/1/2/y/3/4/5" };
    for (size_t k = 0; k < sizeof missing / sizeof missing[0]; k++) {
        int r = route("GET", missing[k]);
        if (r != -FR_E_NOT_FOUND) fprintf(stderr, "%s: %d\n", missing[k], r);
        assert_int_equal(r, -FR_E_NOT_FOUND);
    }
    assert_int_equal(fr_route_match(routes, N_ROUTES, "GET", NULL, &rp), -FR_E_NOT_FOUND);
    assert_int_equal(fr_route_match(routes, 0, "GET", "/health", &rp), -FR_E_NOT_FOUND);

    assert_int_equal(route("PUT", "/api/v1/subjects/42"), FR_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(rp.allow, "GET, HEAD, PATCH, DELETE");
    assert_int_equal(route("DELETE", "/api/v1/subjects/"), FR_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(rp.allow, "GET, HEAD, POST");
    /* "search" is also an {id}: both rows' methods are allowed */
    assert_int_equal(route("POST", "/api/v1/subjects/search"), FR_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(rp.allow, "GET, HEAD, PATCH, DELETE");
    assert_int_equal(route("POST", "/health"), FR_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(rp.allow, "GET, HEAD");
    assert_int_equal(route("HEAD", "/api/v1/faces/1"), FR_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(rp.allow, "DELETE");
    assert_int_equal(route("GET", "/probe"), FR_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(rp.allow, "HEAD");
    assert_int_equal(route("get", "/health"), FR_ROUTE_METHOD_NOT_ALLOWED);  /* methods are case-sensitive */
    assert_int_equal(route("", "/health"), FR_ROUTE_METHOD_NOT_ALLOWED);
}

static void test_route_hostile_params(void **state) {
    (void)state;
    char path[4096], id[100];
    memset(id, '7', 64);
    id[64] = '\0';
    snprintf(path, sizeof path, "/api/v1/subjects/%s", id);
    assert_int_equal(handler_of("GET", path), H_SUBJ_GET);
    assert_string_equal(fr_route_param(&rp, "id"), id);
    snprintf(path, sizeof path, "/api/v1/subjects/%s7", id);
    assert_err(route("GET", path), FR_E_VALIDATION_ERROR, "path parameter 'id' longer than 64 bytes");
    assert_int_equal(rp.n, 0);
    /* 64 decoded bytes may take 192 encoded ones */
    char *p = path + sprintf(path, "/api/v1/subjects/");
    for (int i = 0; i < 64; i++) p += sprintf(p, "%%41");
    assert_int_equal(handler_of("GET", path), H_SUBJ_GET);
    assert_int_equal(strlen(fr_route_param(&rp, "id")), 64);
    assert_err(route("GET", "/api/v1/subjects/1%2F2"), FR_E_VALIDATION_ERROR, "must not contain '/'");
    assert_err(route("GET", "/api/v1/subjects/1%2f2/faces"), FR_E_VALIDATION_ERROR, "must not contain");
    assert_err(route("GET", "/api/v1/subjects/1%00"), FR_E_VALIDATION_ERROR, "must not contain");
    assert_err(route("GET", "/api/v1/subjects/1%0A"), FR_E_VALIDATION_ERROR, "control characters");
    assert_err(route("GET", "/api/v1/subjects/1\x01"), FR_E_VALIDATION_ERROR, "control characters");
    assert_err(route("GET", "/api/v1/subjects/%zz"), FR_E_VALIDATION_ERROR, "broken %-escape");
    assert_err(route("GET", "/api/v1/subjects/1%4"), FR_E_VALIDATION_ERROR, "broken %-escape");
    assert_err(route("GET", "/api/v1/subjects/1%"), FR_E_VALIDATION_ERROR, "broken %-escape");
    assert_err(route("GET", "/api/v1/subjects/.."), FR_E_VALIDATION_ERROR, "'..'");
    assert_err(route("GET", "/api/v1/subjects/%2E%2e"), FR_E_VALIDATION_ERROR, "'..'");
    assert_err(route("GET", "/api/v1/subjects/."), FR_E_VALIDATION_ERROR, "'.'");
    /* the path limit counts the query too */
    memset(path, 'a', sizeof path);
    memcpy(path, "/health?", 8);
    path[2048] = '\0';
    assert_int_equal(handler_of("GET", path), H_HEALTH);
    path[2048] = 'a';
    path[2049] = '\0';
    assert_err(route("GET", path), FR_E_LIMIT_EXCEEDED, "path longer than 2048 bytes");
}

static void test_query_param(void **state) {
    (void)state;
    assert_int_equal(handler_of("GET", "/api/v1/subjects?limit=10&cursor=ab%2Fc+d&flag&empty=&limit=11"),
                     H_SUBJ_LIST);
    assert_string_equal(rp.query, "limit=10&cursor=ab%2Fc+d&flag&empty=&limit=11");
    char buf[8];
    assert_int_equal(fr_query_param(rp.query, "limit", buf, sizeof buf), 0);
    assert_string_equal(buf, "10");    /* the first one */
    assert_int_equal(fr_query_param(rp.query, "cursor", buf, sizeof buf), 0);
    assert_string_equal(buf, "ab/c d");
    assert_int_equal(fr_query_param(rp.query, "flag", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(fr_query_param(rp.query, "empty", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_err(fr_query_param(rp.query, "lim", buf, sizeof buf), FR_E_NOT_FOUND, NULL);
    assert_err(fr_query_param(rp.query, "cursor", buf, 6), FR_E_VALIDATION_ERROR,
               "query parameter 'cursor' longer than 5 bytes");
    assert_err(fr_query_param(NULL, "a", buf, sizeof buf), FR_E_NOT_FOUND, NULL);
    assert_int_equal(fr_query_param("?a=1", "a", buf, sizeof buf), 0);
    assert_string_equal(buf, "1");
    assert_err(fr_query_param("a=%00", "a", buf, sizeof buf), FR_E_VALIDATION_ERROR, "NUL");
    assert_err(fr_query_param("a=%g1", "a", buf, sizeof buf), FR_E_VALIDATION_ERROR, "broken");
    /* the query value feeds the integer parser */
    int64_t v = 0;
    assert_int_equal(fr_query_param("limit=50", "limit", buf, sizeof buf), 0);
    assert_int_equal(fr_query_get_int(buf, "limit", 20, 1, 100, &v), 0);
    assert_int_equal(v, 50);
}

static void test_route_table_check(void **state) {
    (void)state;
    static const fr_route bad[][1] = {
        { { "get", "/a", 0, 0 } },
        { { "GET", "a", 0, 0 } },
        { { "GET", "/a/", 0, 0 } },
        { { "GET", "/a//b", 0, 0 } },
        { { "GET", "/a/{id", 0, 0 } },
        { { "GET", "/a/x{id}", 0, 0 } },
        { { "GET", "/a/{}", 0, 0 } },
        { { "GET", "/a/{Id}", 0, 0 } },
        { { "GET", "/{a}/{b}/{c}/{d}/{e}", 0, 0 } },
        { { "GET", "/a?b", 0, 0 } },
        { { "GET", "/a", 0, 3 } },
        { { NULL, "/a", 0, 0 } },
        { { "GET", NULL, 0, 0 } },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_err(fr_route_table_check(bad[k], 1), FR_E_INVALID_ARGUMENT, "route 0");
}

/* ======================= fuzz corpora ======================= */

/* Replay every file of dir through one(); the number of files. */
static int replay(const char *dir, int (*one)(const uint8_t *, size_t)) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open (run from the repository root)\n", dir);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (fr_file_read(path, (size_t)1 << 20, &buf, &len) < 0) continue;
        /* an exact-size copy, so that a read past the end is caught by ASan */
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        if (len) memcpy(exact, buf, len);
        fr_free(buf);
        one(exact, len);
        free(exact);
        n++;
    }
    closedir(d);
    return n;
}

static void test_fuzz_corpora(void **state) {
    (void)state;
    int a = replay("fuzz/corpus/multipart", fuzz_multipart_one);
    int b = replay("fuzz/corpus/json", fuzz_json_one);
    int c = replay("fuzz/corpus/router", fuzz_router_one);
    int d = replay("fuzz/corpus/webhook", fuzz_webhook_one);
    int e = replay("fuzz/corpus/session", fuzz_session_one);
    printf("fuzz corpora replayed: multipart %d, json %d, router %d, webhook %d, session %d files\n", a, b, c, d, e);
    assert_true(a >= 10 && b >= 10 && c >= 10 && d >= 10 && e >= 10);
}

int main(void) {
    fr_json_use_fr_alloc();     /* before any json_t exists: jansson's memory is counted */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_basic),
        cmocka_unit_test(test_mp_boundary_forms),
        cmocka_unit_test(test_mp_bad_content_type),
        cmocka_unit_test(test_mp_preamble_epilogue_lf),
        cmocka_unit_test(test_mp_boundary_inside_data),
        cmocka_unit_test(test_mp_binary_data),
        cmocka_unit_test(test_mp_unterminated),
        cmocka_unit_test(test_mp_names),
        cmocka_unit_test(test_mp_filename_escapes),
        cmocka_unit_test(test_mp_bad_headers),
        cmocka_unit_test(test_mp_header_limit),
        cmocka_unit_test(test_mp_part_limit),
        cmocka_unit_test(test_mp_text),
        cmocka_unit_test(test_json_parse),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_query_int),
        cmocka_unit_test(test_json_alloc_failure),
        cmocka_unit_test(test_base64_happy),
        cmocka_unit_test(test_base64_hostile),
        cmocka_unit_test(test_base64_large_and_alloc_failure),
        cmocka_unit_test(test_json_base64_field),
        cmocka_unit_test(test_route_matches),
        cmocka_unit_test(test_route_404_405),
        cmocka_unit_test(test_route_hostile_params),
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_route_table_check),
        cmocka_unit_test(test_fuzz_corpora),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
