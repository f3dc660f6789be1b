/* PostgreSQL schema migrations, numbered from 1, PostgreSQL's own (the
 * SQLite backend has its list in sqlite_schema.c). Migration N brings a
 * database at version N-1 to version N; store_pg.c applies the missing ones
 * in one transaction under an advisory lock (so nodes starting together do
 * not race) and records each in schema_version. Never edit a migration that
 * has shipped: append a new one.
 *
 * A migration is a NULL-terminated list of SQL texts, run in order.
 *
 * Migration 1 is the logical schema of SQLite's migrations 1 to 3 in one
 * step (PostgreSQL had no database to carry forward), with the same tables,
 * columns, constraints and cascades, so both backends answer every store
 * call alike. Where it differs, and why:
 * - BIGSERIAL ids: a sequence never hands out a value twice, even after a
 *   rollback, which is what SQLite's AUTOINCREMENT gives (ids never reused).
 *   Unlike SQLite's, ids of concurrent transactions interleave.
 * - BIGINT for every time and count, DOUBLE PRECISION where SQLite has REAL
 *   (the same 8-byte float), BYTEA for the embedding (dim little-endian
 *   float32, as in SQLite) and the photo: pgvector is not packaged for
 *   Debian 12, and the vector index is ours, in memory.
 * - The foreign keys are declared the same way, ON DELETE CASCADE included;
 *   PostgreSQL checks them always (SQLite needs PRAGMA foreign_keys=ON). An
 *   index starts with each foreign key's child columns, so a cascading
 *   delete does not scan the child table.
 * - "At most one running session per client and slot" is the same partial
 *   unique index (WHERE running = 1).
 * - Tables are created parents first: PostgreSQL checks a REFERENCES clause
 *   when the table is created, SQLite only when rows are written. */
#include "store/pg_int.h"

#include <stddef.h>

static const char migration_1_core[] =
    "CREATE TABLE clients ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  key_prefix TEXT NOT NULL UNIQUE,"
    "  key_hash TEXT NOT NULL,"
    "  rate_limit_per_hour BIGINT NOT NULL DEFAULT 0,"
    "  rate_limit_per_day BIGINT NOT NULL DEFAULT 0,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL);"
    "CREATE TABLE admin ("
    "  k TEXT PRIMARY KEY,"
    "  v TEXT NOT NULL);"
    "CREATE TABLE subjects ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  external_id TEXT,"
    "  name TEXT NOT NULL,"
    "  metadata TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  UNIQUE (client_id, id),"
    "  UNIQUE (client_id, external_id));"
    "CREATE TABLE faces ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  subject_id BIGINT NOT NULL,"
    "  embedding BYTEA NOT NULL,"
    "  model_id TEXT NOT NULL,"
    "  quality DOUBLE PRECISION NOT NULL,"
    "  liveness DOUBLE PRECISION,"
    "  bbox_x DOUBLE PRECISION NOT NULL, bbox_y DOUBLE PRECISION NOT NULL,"
    "  bbox_w DOUBLE PRECISION NOT NULL, bbox_h DOUBLE PRECISION NOT NULL,"
    "  image_sha256 TEXT,"
    "  image BYTEA,"
    "  created_at BIGINT NOT NULL,"
    "  FOREIGN KEY (client_id, subject_id) REFERENCES subjects(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX faces_subject ON faces(client_id, subject_id);"
    "CREATE INDEX faces_image_age ON faces(created_at) WHERE image IS NOT NULL;"
    "CREATE TABLE audit ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  at BIGINT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  request_id TEXT,"
    "  details TEXT);"
    "CREATE TABLE usage ("
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  day TEXT NOT NULL,"
    "  operation TEXT NOT NULL,"
    "  count BIGINT NOT NULL,"
    "  PRIMARY KEY (client_id, day, operation));"
    "CREATE TABLE idempotency ("
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  request_hash TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  response TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  PRIMARY KEY (client_id, key));"
    "CREATE INDEX idempotency_age ON idempotency(created_at);";

static const char migration_1_sessions[] =
    /* cameras, camera sessions and their recognitions (SQLite's migration 3) */
    "CREATE TABLE cameras ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  transport INTEGER NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE INDEX cameras_client ON cameras(client_id, id);"
    "CREATE TABLE sessions ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  slot_id TEXT NOT NULL,"
    "  running INTEGER NOT NULL DEFAULT 1,"
    "  reason TEXT,"
    "  mode INTEGER NOT NULL,"
    "  cooldown_ms BIGINT NOT NULL,"
    "  fps DOUBLE PRECISION NOT NULL,"
    "  threshold DOUBLE PRECISION NOT NULL,"
    "  min_face_px INTEGER NOT NULL,"
    "  min_quality DOUBLE PRECISION NOT NULL,"
    "  liveness INTEGER NOT NULL,"
    "  report_unknown INTEGER NOT NULL,"
    "  snapshot INTEGER NOT NULL,"
    "  roster TEXT,"
    "  max_failures INTEGER NOT NULL,"
    "  max_failure_ms BIGINT NOT NULL,"
    "  callback_url TEXT NOT NULL,"
    "  policy TEXT NOT NULL,"
    "  ends_at BIGINT NOT NULL DEFAULT 0,"
    "  hook_id BIGINT NOT NULL DEFAULT 0,"
    "  node TEXT,"
    "  epoch BIGINT NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  stopped_at BIGINT NOT NULL DEFAULT 0,"
    "  frames_read BIGINT NOT NULL DEFAULT 0,"
    "  frames_analysed BIGINT NOT NULL DEFAULT 0,"
    "  faces_seen BIGINT NOT NULL DEFAULT 0,"
    "  recognitions BIGINT NOT NULL DEFAULT 0,"
    "  callback_failures BIGINT NOT NULL DEFAULT 0,"
    "  UNIQUE (client_id, id));"
    "CREATE UNIQUE INDEX sessions_running_slot ON sessions(client_id, slot_id) WHERE running = 1;"
    "CREATE INDEX sessions_slot ON sessions(client_id, slot_id, id);"
    "CREATE INDEX sessions_running ON sessions(id) WHERE running = 1;"
    "CREATE TABLE session_cameras ("
    "  session_id BIGINT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  name TEXT,"
    "  url TEXT NOT NULL,"
    "  transport INTEGER NOT NULL,"
    "  camera_id BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (session_id, idx));"
    "CREATE TABLE recognitions ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL,"
    "  session_id BIGINT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  subject_id BIGINT NOT NULL DEFAULT 0,"
    "  camera TEXT NOT NULL,"
    "  similarity DOUBLE PRECISION NOT NULL,"
    "  quality DOUBLE PRECISION NOT NULL,"
    "  x1 DOUBLE PRECISION NOT NULL, y1 DOUBLE PRECISION NOT NULL,"
    "  x2 DOUBLE PRECISION NOT NULL, y2 DOUBLE PRECISION NOT NULL,"
    "  seen_at BIGINT NOT NULL,"
    "  event_id TEXT,"
    "  FOREIGN KEY (client_id, session_id) REFERENCES sessions(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX recognitions_session ON recognitions(session_id, id);";

static const char migration_1_outbox[] =
    /* webhooks, their events and deliveries (SQLite's migration 2, with the
     * columns migration 3 added: a session's callback endpoint) */
    "CREATE TABLE webhooks ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL,"
    "  events TEXT NOT NULL,"
    "  description TEXT,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  secret TEXT NOT NULL,"
    "  old_secret TEXT,"
    "  old_secret_until BIGINT,"
    "  failing_since BIGINT,"
    "  disabled_reason TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  session_id BIGINT REFERENCES sessions(id) ON DELETE CASCADE,"
    "  policy TEXT,"
    "  UNIQUE (client_id, id));"
    "CREATE INDEX webhooks_session ON webhooks(session_id) WHERE session_id IS NOT NULL;"
    "CREATE TABLE events ("
    "  id TEXT PRIMARY KEY,"
    "  client_id BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  type TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX events_client ON events(client_id);"
    "CREATE TABLE deliveries ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL,"
    "  webhook_id BIGINT NOT NULL,"
    "  event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at BIGINT NOT NULL,"
    "  lease_until BIGINT NOT NULL DEFAULT 0,"
    "  lease_owner TEXT,"
    "  last_status_code INTEGER,"
    "  last_error TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  delivered_at BIGINT,"
    "  FOREIGN KEY (client_id, webhook_id) REFERENCES webhooks(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 0;"
    "CREATE INDEX deliveries_webhook ON deliveries(client_id, webhook_id, id);"
    "CREATE INDEX deliveries_event ON deliveries(event_id);"
    "CREATE INDEX deliveries_delivered ON deliveries(delivered_at) WHERE status = 1;";

/* (in parts: C compilers need not take string literals over 4095 bytes) */
static const char *const migration_1[] = { migration_1_core, migration_1_sessions, migration_1_outbox, NULL };

/* 2: the index change log (SQLite's migration 4): triggers write a row for
 * every face added or deleted, cascades included, in the change's
 * transaction, and NOTIFY facerec_index (delivered at commit; the followers
 * LISTEN, and read the log from their last sequence whatever the payload). */
static const char migration_2_log[] =
    "CREATE TABLE index_log ("
    "  seq BIGSERIAL PRIMARY KEY,"
    "  client_id BIGINT NOT NULL,"
    "  face_id BIGINT NOT NULL,"
    "  subject_id BIGINT NOT NULL,"
    "  model_id TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL,"
    "  at BIGINT NOT NULL);"
    "CREATE INDEX index_log_at ON index_log(at);"
    "CREATE FUNCTION facerec_index_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    INSERT INTO index_log(client_id, face_id, subject_id, model_id, deleted, at)"
    "    VALUES (NEW.client_id, NEW.id, NEW.subject_id, NEW.model_id, 0, NEW.created_at);"
    "  ELSE"
    "    INSERT INTO index_log(client_id, face_id, subject_id, model_id, deleted, at)"
    "    VALUES (OLD.client_id, OLD.id, OLD.subject_id, OLD.model_id, 1,"
    "            (extract(epoch FROM clock_timestamp()) * 1000)::bigint);"
    "  END IF;"
    "  PERFORM pg_notify('facerec_index', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER faces_log AFTER INSERT OR DELETE ON faces FOR EACH ROW EXECUTE FUNCTION facerec_index_log();";
static const char *const migration_2[] = { migration_2_log, NULL };

const char *const *const fr__pg_migrations[] = {
    migration_1,
    migration_2,
};

const int fr__pg_n_migrations = (int)(sizeof fr__pg_migrations / sizeof fr__pg_migrations[0]);
