/* make test replays the index snapshot fuzz corpus (fuzz/corpus/index)
 * through the fuzz target's own checks (fuzz/fuzz_index.c). */
#include "harness.h"

#include <dirent.h>

#define FR_FUZZ_EMBED
#include "../../fuzz/fuzz_index.c"

static void test_index_corpus(void **state) {
    (void)state;
    DIR *d = opendir("fuzz/corpus/index");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "fuzz/corpus/index/%s", e->d_name);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (fr_file_read(path, (size_t)1 << 22, &buf, &len) < 0) continue;
        uint8_t *exact = malloc(len ? len : 1);     /* exact size: ASan sees overreads */
        assert_non_null(exact);
        if (len) memcpy(exact, buf, len);
        fr_free(buf);
        fuzz_index_one(exact, len);
        free(exact);
        n++;
    }
    closedir(d);
    printf("index corpus: %d files replayed\n", n);
    assert_true(n >= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_index_corpus) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
