/* SQLite schema migrations, numbered from 1. Migration N brings a database at
 * version N-1 to version N; store_sqlite.c applies the missing ones in one
 * transaction at open and records each in schema_version. Never edit a
 * migration that has shipped: append a new one (ALTER TABLE, new tables).
 *
 * Why the schema looks as it does:
 * - AUTOINCREMENT everywhere: ids are never reused, so a stale index entry,
 *   cursor or idempotent response can never point at a newer row, and
 *   (count, max id, id sum) of faces identifies a state of the table.
 * - subjects has UNIQUE(client_id, id) so faces can reference the PAIR
 *   (client_id, subject_id): the database itself refuses a face whose subject
 *   belongs to another client, and deleting a subject cascades to its faces.
 * - Every table a client's rows live in references clients(id) ON DELETE
 *   CASCADE, with an index that starts with client_id, so deleting a client
 *   removes everything it owns without a table scan. audit does not: it is
 *   the admins' record and outlives the client.
 * - Every foreign key has an index on its child columns (SQLite scans the
 *   child table on each parent delete otherwise).
 * - UNIQUE(client_id, external_id): NULLs are distinct in SQLite and in
 *   PostgreSQL, so any number of subjects may have no external_id.
 * - Times are unix milliseconds; the embedding is dim little-endian float32. */
#include "store/sqlite_int.h"

static const char migration_1[] =
    "CREATE TABLE clients ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL,"
    "  key_prefix TEXT NOT NULL UNIQUE,"
    "  key_hash TEXT NOT NULL,"
    "  rate_limit_per_hour INTEGER NOT NULL DEFAULT 0,"
    "  rate_limit_per_day INTEGER NOT NULL DEFAULT 0,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE admin ("
    "  k TEXT PRIMARY KEY,"
    "  v TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE subjects ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  external_id TEXT,"
    "  name TEXT NOT NULL,"
    "  metadata TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (client_id, id),"
    "  UNIQUE (client_id, external_id));"
    "CREATE TABLE faces ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  subject_id INTEGER NOT NULL,"
    "  embedding BLOB NOT NULL,"
    "  model_id TEXT NOT NULL,"
    "  quality REAL NOT NULL,"
    "  liveness REAL,"
    "  bbox_x REAL NOT NULL, bbox_y REAL NOT NULL, bbox_w REAL NOT NULL, bbox_h REAL NOT NULL,"
    "  image_sha256 TEXT,"
    "  image BLOB,"
    "  created_at INTEGER NOT NULL,"
    "  FOREIGN KEY (client_id, subject_id) REFERENCES subjects(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX faces_subject ON faces(client_id, subject_id);"
    "CREATE INDEX faces_image_age ON faces(created_at) WHERE image IS NOT NULL;"
    /* camera sessions and what they saw (filled by a later issue) */
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  name TEXT,"
    "  config TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'created',"
    "  node TEXT,"
    "  lease_until INTEGER,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  stopped_at INTEGER,"
    "  UNIQUE (client_id, id));"
    "CREATE TABLE recognitions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  session_id INTEGER,"
    "  at INTEGER NOT NULL,"
    "  camera TEXT,"
    "  subject_id INTEGER REFERENCES subjects(id) ON DELETE SET NULL,"
    "  similarity REAL,"
    "  details TEXT,"
    "  FOREIGN KEY (client_id, session_id) REFERENCES sessions(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX recognitions_session ON recognitions(client_id, session_id, at);"
    "CREATE INDEX recognitions_subject ON recognitions(subject_id);"
    /* webhooks and the outbox of events to deliver (filled by a later issue) */
    "CREATE TABLE webhooks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL,"
    "  secret TEXT NOT NULL,"
    "  events TEXT NOT NULL,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (client_id, id));"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  webhook_id INTEGER REFERENCES webhooks(id) ON DELETE CASCADE,"
    "  url TEXT,"
    "  event TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'pending',"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  delivered_at INTEGER);"
    "CREATE INDEX outbox_due ON outbox(status, next_attempt_at);"
    "CREATE INDEX outbox_client ON outbox(client_id);"
    "CREATE INDEX outbox_webhook ON outbox(webhook_id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  request_id TEXT,"
    "  details TEXT);"
    "CREATE TABLE usage ("
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  day TEXT NOT NULL,"
    "  operation TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (client_id, day, operation)) WITHOUT ROWID;"
    "CREATE TABLE idempotency ("
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  request_hash TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  response TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (client_id, key)) WITHOUT ROWID;"
    "CREATE INDEX idempotency_age ON idempotency(created_at);";

/* 2: webhooks, their events and deliveries (the outbox). The placeholder
 * tables of migration 1 were never written: replaced. An event is kept once,
 * with one delivery per webhook that wants it; a delivery is claimed with a
 * lease (lease_until, by lease_owner: a node's id, so that a node restarted
 * after a crash takes back its own leases at once) and its status is 0
 * pending, 1 delivered, 2 failed. */
static const char migration_2[] =
    "DROP TABLE outbox;"
    "DROP TABLE webhooks;"
    "CREATE TABLE webhooks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL,"
    "  events TEXT NOT NULL,"
    "  description TEXT,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  secret TEXT NOT NULL,"
    "  old_secret TEXT,"
    "  old_secret_until INTEGER,"
    "  failing_since INTEGER,"
    "  disabled_reason TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (client_id, id));"
    "CREATE TABLE events ("
    "  id TEXT PRIMARY KEY,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  type TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX events_client ON events(client_id);"
    "CREATE TABLE deliveries ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL,"
    "  webhook_id INTEGER NOT NULL,"
    "  event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  lease_until INTEGER NOT NULL DEFAULT 0,"
    "  lease_owner TEXT,"
    "  last_status_code INTEGER,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  delivered_at INTEGER,"
    "  FOREIGN KEY (client_id, webhook_id) REFERENCES webhooks(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 0;"
    "CREATE INDEX deliveries_webhook ON deliveries(client_id, webhook_id, id);"
    "CREATE INDEX deliveries_event ON deliveries(event_id);"
    "CREATE INDEX deliveries_delivered ON deliveries(delivered_at) WHERE status = 1;";

/* 3: cameras, camera sessions and their recognitions. The placeholder
 * tables of migration 1 were never written: replaced. A session's settings
 * are columns (set once), its cameras rows of session_cameras, and its
 * callback URL a webhooks row that belongs to it (session_id): callbacks
 * are deliveries like any webhook's, with the endpoint's own retry policy.
 * At most one running session per client and slot (a partial unique
 * index). Recognitions keep the subject id without a foreign key: a subject
 * deleted mid-session stays reported. */
static const char migration_3[] =
    "DROP TABLE recognitions;"
    "DROP TABLE sessions;"
    "CREATE TABLE cameras ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  transport INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX cameras_client ON cameras(client_id, id);"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  slot_id TEXT NOT NULL,"
    "  running INTEGER NOT NULL DEFAULT 1,"
    "  reason TEXT,"
    "  mode INTEGER NOT NULL,"
    "  cooldown_ms INTEGER NOT NULL,"
    "  fps REAL NOT NULL,"
    "  threshold REAL NOT NULL,"
    "  min_face_px INTEGER NOT NULL,"
    "  min_quality REAL NOT NULL,"
    "  liveness INTEGER NOT NULL,"
    "  report_unknown INTEGER NOT NULL,"
    "  snapshot INTEGER NOT NULL,"
    "  roster TEXT,"
    "  max_failures INTEGER NOT NULL,"
    "  max_failure_ms INTEGER NOT NULL,"
    "  callback_url TEXT NOT NULL,"
    "  policy TEXT NOT NULL,"
    "  ends_at INTEGER NOT NULL DEFAULT 0,"
    "  hook_id INTEGER NOT NULL DEFAULT 0,"
    "  node TEXT,"
    "  epoch INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  stopped_at INTEGER NOT NULL DEFAULT 0,"
    "  frames_read INTEGER NOT NULL DEFAULT 0,"
    "  frames_analysed INTEGER NOT NULL DEFAULT 0,"
    "  faces_seen INTEGER NOT NULL DEFAULT 0,"
    "  recognitions INTEGER NOT NULL DEFAULT 0,"
    "  callback_failures INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (client_id, id));"
    "CREATE UNIQUE INDEX sessions_running_slot ON sessions(client_id, slot_id) WHERE running = 1;"
    "CREATE INDEX sessions_slot ON sessions(client_id, slot_id, id);"
    "CREATE INDEX sessions_running ON sessions(id) WHERE running = 1;"
    "CREATE TABLE session_cameras ("
    "  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  name TEXT,"
    "  url TEXT NOT NULL,"
    "  transport INTEGER NOT NULL,"
    "  camera_id INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (session_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE recognitions ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL,"
    "  session_id INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  subject_id INTEGER NOT NULL DEFAULT 0,"
    "  camera TEXT NOT NULL,"
    "  similarity REAL NOT NULL,"
    "  quality REAL NOT NULL,"
    "  x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,"
    "  seen_at INTEGER NOT NULL,"
    "  event_id TEXT,"
    "  FOREIGN KEY (client_id, session_id) REFERENCES sessions(client_id, id) ON DELETE CASCADE);"
    "CREATE INDEX recognitions_session ON recognitions(session_id, id);"
    "ALTER TABLE webhooks ADD COLUMN session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE;"
    "ALTER TABLE webhooks ADD COLUMN policy TEXT;"
    "CREATE INDEX webhooks_session ON webhooks(session_id) WHERE session_id IS NOT NULL;";

/* 4: the index change log (include/facerec/store.h): triggers write a row
 * for every face added or deleted, cascades included, in the transaction
 * of the change. The faces that exist when it is created need no rows: a
 * node builds its index from the faces and follows the log from its head. */
static const char migration_4[] =
    "CREATE TABLE index_log ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  client_id INTEGER NOT NULL,"
    "  face_id INTEGER NOT NULL,"
    "  subject_id INTEGER NOT NULL,"
    "  model_id TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX index_log_at ON index_log(at);"
    "CREATE TRIGGER faces_log_add AFTER INSERT ON faces BEGIN"
    "  INSERT INTO index_log(client_id, face_id, subject_id, model_id, deleted, at)"
    "  VALUES (NEW.client_id, NEW.id, NEW.subject_id, NEW.model_id, 0, NEW.created_at);"
    " END;"
    "CREATE TRIGGER faces_log_delete AFTER DELETE ON faces BEGIN"
    "  INSERT INTO index_log(client_id, face_id, subject_id, model_id, deleted, at)"
    "  VALUES (OLD.client_id, OLD.id, OLD.subject_id, OLD.model_id, 1,"
    "          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
    " END;";

const char *const fr__sqlite_migrations[] = {
    migration_1,
    migration_2,
    migration_3,
    migration_4,
};

const int fr__sqlite_n_migrations =
    (int)(sizeof fr__sqlite_migrations / sizeof fr__sqlite_migrations[0]);
