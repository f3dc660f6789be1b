/* The facerec command line: one table of subcommands (cmds.def). */
#ifndef FR_CLI_H
#define FR_CLI_H

/* Exit statuses */
enum fr_exit {
    FR_EXIT_OK = 0,
    FR_EXIT_FAIL = 1,      /* ran, and the answer is "no" (a test failed, no match) */
    FR_EXIT_ERROR = 2,     /* could not do it: bad input, missing file, runtime error */
    FR_EXIT_USAGE = 64
};

#define CMD(name, fn, help) int fn(int argc, char **argv);
#include "cmds.def"
#undef CMD
/* eval openset | eval impostors (cmd_openset.c), reached through cmd_eval */
int cmd_eval_openset(int argc, char **argv);

/* "--key value" / "--key=value" option parsing helper: returns the value of
 * option `key` at argv[*i] (advancing *i), or NULL when argv[*i] is not it. */
const char *fr_cli_opt(int argc, char **argv, int *i, const char *key);
int fr_cli_err(int rc, const char *what);
/* The models folder of every command: FACEREC_MODELS_DIR (the server's
 * setting of the same name), else ./models. */
const char *fr_cli_models_dir(void);   /* prints "facerec: what: detail", returns FR_EXIT_ERROR */

struct fr_config;
struct fr_service;
/* The service with only what a command needs (FR_SVC_* of
 * src/service/service.h), configured as `facerec serve` is; prints why not. */
int fr_cli_open_service(const struct fr_config *cfg, int parts, struct fr_service **out);

#endif
