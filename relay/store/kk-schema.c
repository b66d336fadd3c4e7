/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schema: the daemon's tables, all of them, and the numbered
 * migrations that make them; see kk-schema.h.
 *
 * Who writes what:
 *   rooms, parties, participants, sessions    kk-store
 *   att_events, att_connections, att_sessions,
 *   att_settings, att_overrides               kk-attendance-log
 *   att_access, att_people, att_checkins      kk-roster
 *   att_codes, att_code_answers, att_prompts,
 *   att_prompt_answers                        kk-presence
 *   recordings, recording_pauses,
 *   recording_settings                        kk-recordings
 *   questions, question_supports              kk-questions
 * The modules' own files say what their rows mean.
 *
 * A migration is SQL, then optionally a function for what SQL alone
 * cannot say in the dialect of kk-db.h (such as "add this column unless a
 * build before this list added it"). Each runs in one transaction
 * together with the new version number, so a database is always at one
 * version or the next, never between. Never edit a released entry: add
 * the next one. Times are microseconds since the Unix epoch.
 */
#include "kk-schema.h"

typedef struct {
  const char *sql;
  /* Runs after @sql, in the same transaction; nullable. */
  gboolean (*update) (KkDb *db, GError **error);
} Migration;

static gboolean add_missing_columns (KkDb *db, GError **error);

static const Migration migrations[] = {
  { /* 1 */
    "CREATE TABLE rooms ("
    "  id TEXT PRIMARY KEY,"
    "  title TEXT NOT NULL,"
    "  record INTEGER NOT NULL DEFAULT 0,"
    "  completion_ratio REAL NOT NULL,"
    "  host_token TEXT NOT NULL,"
    "  source TEXT NOT NULL DEFAULT 'whip',"
    "  source_uri TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE parties ("
    "  id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  workplace TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX parties_room ON parties (room_id);"
    /* ord 0 is the party's own person, colleagues follow in the order given. */
    "CREATE TABLE participants ("
    "  id TEXT PRIMARY KEY,"
    "  party_id TEXT NOT NULL REFERENCES parties (id) ON DELETE CASCADE,"
    "  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
    "  ord INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  workplace TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (party_id, ord));"
    "CREATE INDEX participants_room ON participants (room_id);"
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  recording TEXT);"
    "CREATE INDEX sessions_room ON sessions (room_id, started_at);"
  },
  {
    /* 2: sessions planned ahead. One not yet broadcast has no started_at,
     * and SQLite cannot drop a NOT NULL in place: the table is rebuilt
     * (no other table refers to it by foreign key, so dropping it deletes
     * nothing else). */
    "CREATE TABLE sessions_v2 ("
    "  id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,"
    "  started_at INTEGER,"
    "  ended_at INTEGER,"
    "  recording TEXT,"
    "  scheduled_start INTEGER,"
    "  scheduled_end INTEGER,"
    "  CHECK ((scheduled_start IS NULL) = (scheduled_end IS NULL)),"
    "  CHECK (started_at IS NOT NULL OR scheduled_start IS NOT NULL));"
    "INSERT INTO sessions_v2 (id, room_id, started_at, ended_at, recording)"
    "  SELECT id, room_id, started_at, ended_at, recording FROM sessions;"
    "DROP TABLE sessions;"
    "ALTER TABLE sessions_v2 RENAME TO sessions;"
    "CREATE INDEX sessions_room ON sessions (room_id, started_at);"
    "CREATE INDEX sessions_schedule ON sessions (room_id, scheduled_start);"
  },
  /* 3: the attendance and recording tables join the list. Until now
   * kk-attendance-log (for itself, kk-roster and kk-presence) and
   * kk-recordings made them at each start, with CREATE TABLE IF NOT
   * EXISTS and, for columns added later, an ALTER when missing. So a
   * database at version 2 may have all of them, or some (an older build
   * made fewer), or none (a version-2 database no module has opened yet):
   * IF NOT EXISTS makes what is missing in its final shape, and
   * add_missing_columns() brings older tables up to it. The statements
   * are those the modules ran, unchanged, so tables made here and tables
   * made by them are the same. */
  {
    "CREATE TABLE IF NOT EXISTS att_events ("
    "  seq INTEGER PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  party_id TEXT,"
    "  at INTEGER NOT NULL,"
    "  wall_at INTEGER NOT NULL,"
    "  detail TEXT);"
    "CREATE INDEX IF NOT EXISTS att_events_room ON att_events (room_id, at);"
    "CREATE TABLE IF NOT EXISTS att_connections ("
    "  resource_id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  party_id TEXT NOT NULL,"
    "  connected_at INTEGER NOT NULL,"
    "  alive_at INTEGER NOT NULL,"
    "  left_at INTEGER,"
    "  reason TEXT);"
    "CREATE INDEX IF NOT EXISTS att_connections_room"
    "  ON att_connections (room_id, connected_at);"
    "CREATE INDEX IF NOT EXISTS att_connections_party"
    "  ON att_connections (party_id);"
    "CREATE TABLE IF NOT EXISTS att_sessions ("
    "  id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  alive_at INTEGER NOT NULL,"
    "  completion_ratio REAL NOT NULL,"
    "  grace_s INTEGER NOT NULL,"
    "  max_lateness_s INTEGER,"
    "  require_code INTEGER NOT NULL,"
    "  prompts INTEGER NOT NULL,"
    "  prompt_window_s INTEGER NOT NULL,"
    "  prompt_interval_s INTEGER,"
    "  scheduled_start INTEGER);"
    "CREATE INDEX IF NOT EXISTS att_sessions_room"
    "  ON att_sessions (room_id, started_at);"
    "CREATE TABLE IF NOT EXISTS att_settings ("
    "  room_id TEXT PRIMARY KEY,"
    "  completion_ratio REAL,"
    "  grace_s INTEGER NOT NULL,"
    "  max_lateness_s INTEGER,"
    "  require_code INTEGER NOT NULL,"
    "  prompts INTEGER NOT NULL,"
    "  prompt_window_s INTEGER NOT NULL,"
    "  retention_days INTEGER NOT NULL,"
    "  prompt_interval_s INTEGER);"
    "CREATE TABLE IF NOT EXISTS att_overrides ("
    "  session_id TEXT NOT NULL,"
    "  participant_id TEXT NOT NULL,"
    "  completed INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  decided_by TEXT NOT NULL,"
    "  decided_at INTEGER NOT NULL,"
    "  PRIMARY KEY (session_id, participant_id));"
    /* kk-roster's: who may attend, beyond the store's parties. */
    "CREATE TABLE IF NOT EXISTS att_access ("
    "  room_id TEXT PRIMARY KEY,"
    "  access TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS att_people ("
    "  participant_id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  party_id TEXT NOT NULL,"
    "  email TEXT,"
    "  hpr TEXT,"
    "  invited_at INTEGER NOT NULL,"
    "  token_issued_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS att_people_room ON att_people (room_id);"
    "CREATE TABLE IF NOT EXISTS att_checkins ("
    "  participant_id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  party_id TEXT NOT NULL,"
    "  checked_in_at INTEGER NOT NULL,"
    "  receipt_hash TEXT NOT NULL UNIQUE);"
    "CREATE INDEX IF NOT EXISTS att_checkins_party ON att_checkins (party_id);"
    /* kk-presence's: the presence checks of a session and their answers
     * (participant_id NULL: the screen answered for everyone at it). */
    "CREATE TABLE IF NOT EXISTS att_codes ("
    "  session_id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  code TEXT NOT NULL,"
    "  revealed_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS att_code_answers ("
    "  session_id TEXT NOT NULL,"
    "  party_id TEXT NOT NULL,"
    "  participant_id TEXT,"
    "  answered_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS att_code_answers_session"
    "  ON att_code_answers (session_id, party_id);"
    "CREATE TABLE IF NOT EXISTS att_prompts ("
    "  id TEXT PRIMARY KEY,"
    "  session_id TEXT NOT NULL,"
    "  room_id TEXT NOT NULL,"
    "  issued_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS att_prompts_session"
    "  ON att_prompts (session_id, issued_at);"
    "CREATE TABLE IF NOT EXISTS att_prompt_answers ("
    "  prompt_id TEXT NOT NULL,"
    "  party_id TEXT NOT NULL,"
    "  participant_id TEXT,"
    "  answered_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS att_prompt_answers_prompt"
    "  ON att_prompt_answers (prompt_id, party_id);"
    "CREATE TABLE IF NOT EXISTS recordings ("
    "  session_id TEXT PRIMARY KEY,"
    "  room_id TEXT NOT NULL,"
    "  path TEXT,"
    "  content_type TEXT,"
    "  video_codec TEXT,"
    "  audio_codec TEXT,"
    "  state TEXT NOT NULL,"
    "  error TEXT,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  duration_us INTEGER NOT NULL DEFAULT 0,"
    "  size INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS recordings_room"
    "  ON recordings (room_id, started_at);"
    "CREATE TABLE IF NOT EXISTS recording_pauses ("
    "  session_id TEXT NOT NULL,"
    "  paused_at INTEGER NOT NULL,"
    "  resumed_at INTEGER,"
    "  PRIMARY KEY (session_id, paused_at));"
    "CREATE TABLE IF NOT EXISTS recording_settings ("
    "  room_id TEXT PRIMARY KEY,"
    "  retention_days INTEGER NOT NULL);",
    add_missing_columns,
  },
  /* 4: questions asked during a live session, by a screen (party_id) in
   * the name of a person (participant_id: the party's own person, or the
   * one whose check-in receipt was used; erasing that person deletes the
   * question), and the screens that support each, once each. Times are
   * wall-clock microseconds. */
  {
    "CREATE TABLE questions ("
    "  id TEXT PRIMARY KEY,"
    "  session_id TEXT NOT NULL,"
    "  room_id TEXT NOT NULL,"
    "  party_id TEXT NOT NULL,"
    "  participant_id TEXT,"
    "  anonymous INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  asked_at INTEGER NOT NULL,"
    "  state_at INTEGER NOT NULL);"
    "CREATE INDEX questions_session ON questions (session_id, asked_at);"
    "CREATE INDEX questions_party ON questions (party_id);"
    "CREATE INDEX questions_participant ON questions (participant_id);"
    "CREATE TABLE question_supports ("
    "  question_id TEXT NOT NULL REFERENCES questions (id) ON DELETE CASCADE,"
    "  party_id TEXT NOT NULL,"
    "  participant_id TEXT,"
    "  supported_at INTEGER NOT NULL,"
    "  PRIMARY KEY (question_id, party_id));"
    "CREATE INDEX question_supports_party ON question_supports (party_id);",
  },
  /* 5: how the browser of a connection through a TURN
   * server reached that server ("udp", "tcp" or "tls", as its page
   * reported; NULL when not told or not through TURN), kept with the
   * attendance evidence so that the coordinator sees which workplaces
   * needed TURN over TLS. */
  {
    "ALTER TABLE att_connections ADD COLUMN relay_protocol TEXT;",
  },
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == KK_STORE_SCHEMA_VERSION);

/* Columns that builds before migration 3 added to their tables after
 * first making them; a table of such an earlier build lacks them. NULL
 * in them means "the default". */
static const struct {
  const char *table;
  const char *column;
  const char *declaration;
} added_columns[] = {
  { "att_sessions", "prompt_interval_s", "INTEGER" },
  { "att_settings", "prompt_interval_s", "INTEGER" },
  { "att_sessions", "scheduled_start", "INTEGER" },
};

static gboolean
add_missing_columns (KkDb *db, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (added_columns); i++) {
    g_autofree char *alter = NULL;
    gboolean found = FALSE;

    if (!kk_db_has_column (db, added_columns[i].table,
            added_columns[i].column, &found, error))
      return FALSE;
    if (found)
      continue;
    alter = g_strdup_printf ("ALTER TABLE %s ADD COLUMN %s %s",
        added_columns[i].table, added_columns[i].column,
        added_columns[i].declaration);
    if (!kk_db_exec (db, alter, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean read_version (KkDb *db, int *version, GError **error);

/* Migrates to version GPOINTER_TO_INT (@user_data) from the one before,
 * unless another relay sharing the database did so while this one waited
 * for the write lock that kk_db_transaction() takes. */
static gboolean
run_migration (KkDb *db, gpointer user_data, GError **error)
{
  int version = GPOINTER_TO_INT (user_data);
  const Migration *migration = &migrations[version - 1];
  g_autoptr (KkDbStmt) record = NULL;
  int current = 0;

  if (!read_version (db, &current, error))
    return FALSE;
  if (current >= version)
    return TRUE;
  if (!kk_db_exec (db, migration->sql, error))
    return FALSE;
  if (migration->update != NULL && !migration->update (db, error))
    return FALSE;
  if (!kk_db_exec (db, "DELETE FROM schema_version", error))
    return FALSE;
  record = kk_db_prepare (db, "INSERT INTO schema_version (version) "
      "VALUES (?1)", error);
  if (record == NULL)
    return FALSE;
  kk_db_bind_int64 (record, 1, version);
  return kk_db_step_done (record, error);
}

/* Reads the version @db is at: 0 for a new database, for which table
 * schema_version is made here. */
static gboolean
read_version (KkDb *db, int *version, GError **error)
{
  g_autoptr (KkDbStmt) stmt = NULL;

  if (!kk_db_exec (db, "CREATE TABLE IF NOT EXISTS schema_version ("
          "version INTEGER NOT NULL)", error))
    return FALSE;
  stmt = kk_db_prepare (db, "SELECT MAX(version) FROM schema_version",
      error);
  if (stmt == NULL)
    return FALSE;
  if (!kk_db_step_row (stmt, error))
    return FALSE;
  /* MAX() of no rows is NULL, which reads as 0. */
  *version = (int) kk_db_column_int64 (stmt, 0);
  return TRUE;
}

/* In a transaction of its own, because relays sharing a PostgreSQL
 * database may start together: CREATE TABLE IF NOT EXISTS run by two at
 * once can fail in the one that loses the race. */
static gboolean
read_version_locked (KkDb *db, gpointer user_data, GError **error)
{
  return read_version (db, user_data, error);
}

gboolean
kk_schema_migrate (KkDb *db, GError **error)
{
  int version = 0;

  if (!kk_db_transaction (db, read_version_locked, &version, error))
    return FALSE;
  if (version > KK_STORE_SCHEMA_VERSION) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "the database has schema version %d; this kringkast knows up to %d",
        version, KK_STORE_SCHEMA_VERSION);
    return FALSE;
  }

  for (int v = version + 1; v <= KK_STORE_SCHEMA_VERSION; v++) {
    if (!kk_db_transaction (db, run_migration, GINT_TO_POINTER (v), error)) {
      g_prefix_error (error, "migration to schema version %d: ", v);
      return FALSE;
    }
    g_info ("store: database schema now at version %d", v);
  }
  return TRUE;
}
