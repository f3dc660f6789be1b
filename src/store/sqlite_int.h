/* Internals shared by the SQLite backend's files: the migration list. */
#ifndef FR_STORE_SQLITE_INT_H
#define FR_STORE_SQLITE_INT_H

/* fr__sqlite_migrations[i] is the SQL of migration i + 1. */
extern const char *const fr__sqlite_migrations[];
extern const int fr__sqlite_n_migrations;

#endif
