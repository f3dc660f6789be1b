/* A main() for any libFuzzer target, without libFuzzer: every file named on
 * the command line, and every regular file in a named directory, is read and
 * passed to LLVMFuzzerTestOneInput once. Lets the corpus run in `make test`
 * with gcc, and under valgrind.
 *
 * Either link this file with a target or #include it from the target when
 * FR_FUZZ_REPLAY is defined (fuzz_onnx.c does the latter). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replay one file; 0 on success, -1 if it cannot be read. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); fprintf(stderr, "%s: out of memory\n", path); return -1; }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { fprintf(stderr, "%s: read error\n", path); free(buf); return -1; }
    /* an exact-size copy, so that a read past the end is caught by ASan/valgrind */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) { free(buf); return -1; }
    if (len) memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of a directory, in name order; the count replayed. */
static long replay_dir(const char *dir, int *failed) {
    DIR *d = opendir(dir);
    if (!d) { perror(dir); *failed = 1; return 0; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(l))) break;
        snprintf(names[n], l, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(names[i]) == 0) count++;
            else *failed = 1;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv) {
    long count = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;   /* libFuzzer flags such as -runs=1 are ignored */
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); failed = 1; continue; }
        if (S_ISDIR(st.st_mode)) count += replay_dir(argv[i], &failed);
        else if (replay_file(argv[i]) == 0) count++;
        else failed = 1;
    }
    printf("%ld inputs replayed\n", count);
    return failed ? 1 : 0;
}
