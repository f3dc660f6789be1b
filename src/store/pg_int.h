/* Internals shared by the PostgreSQL backend's files: the migration list. */
#ifndef FR_STORE_PG_INT_H
#define FR_STORE_PG_INT_H

/* fr__pg_migrations[i] is migration i + 1: SQL texts (each of several
 * statements) to run in order, then NULL. */
extern const char *const *const fr__pg_migrations[];
extern const int fr__pg_n_migrations;

#endif
