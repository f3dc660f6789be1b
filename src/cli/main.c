/* facerec: the service and the command-line tool in one binary. */
#include "cli.h"

#include "facerec/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
#define CMD(name, fn, help) { name, fn, help },
#include "cmds.def"
#undef CMD
};

const char *fr_cli_opt(int argc, char **argv, int *i, const char *key) {
    size_t kl = strlen(key);
    const char *a = argv[*i];
    if (strncmp(a, key, kl) != 0) return NULL;
    if (a[kl] == '=') return a + kl + 1;
    if (a[kl] != 0) return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "facerec: %s needs a value\n", key);
        return NULL;
    }
    return argv[++*i];
}

const char *fr_cli_models_dir(void) {
    const char *d = getenv("FACEREC_MODELS_DIR");
    return d && d[0] ? d : "models";
}

int fr_cli_err(int rc, const char *what) {
    const char *d = fr_err_detail();
    /* the detail says what happened; the table's generic sentence only when there is none */
    if (d[0]) fprintf(stderr, "facerec: %s: %s (%s)\n", what, d, fr_err_name(rc));
    else fprintf(stderr, "facerec: %s: %s\n", what, fr_strerror(rc));
    return FR_EXIT_ERROR;
}

static void usage(FILE *f) {
    fprintf(f, "usage: facerec COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n'facerec COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FR_EXIT_USAGE : FR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "facerec: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return FR_EXIT_USAGE;
}
