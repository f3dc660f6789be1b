/* facerec openapi: the HTTP API's description, printed without a server.
 *
 *   facerec openapi               the OpenAPI 3.0.3 document (what GET /openapi.json serves)
 *   facerec openapi --markdown    docs/API.md's route table
 *
 * Both come from src/api/routes.def and src/api/schemas.def; a test holds
 * docs/API.md's table (between its "routes.def" markers) to the second. */
#include "cli.h"

#include "api/api.h"

#include <stdio.h>
#include <string.h>

int cmd_openapi(int argc, char **argv) {
    int markdown = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown")) {
            markdown = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: facerec openapi [--markdown]\n");
            return FR_EXIT_OK;
        } else {
            fprintf(stderr, "facerec openapi: unknown option '%s'\nusage: facerec openapi [--markdown]\n", argv[i]);
            return FR_EXIT_USAGE;
        }
    }
    if (markdown) {
        char *t = fr_api_routes_markdown();
        if (!t) return fr_cli_err(-FR_E_NOMEM, "openapi --markdown");
        fputs(t, stdout);
        fr_free(t);
        return FR_EXIT_OK;
    }
    json_t *doc = fr_api_openapi();
    if (!doc) return fr_cli_err(-FR_E_NOMEM, "openapi");
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    json_decref(doc);
    fputc('\n', stdout);
    return rc == 0 ? FR_EXIT_OK : FR_EXIT_ERROR;
}
