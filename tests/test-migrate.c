/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-migrate: a data dir written by the daemon before every table was
 * in the store's migration list opens, migrates, and keeps its rows.
 *
 * The fixture, tests/data/schema-v2-2026-12-07.sql, is the database a
 * real daemon of that time (commit e53d1e5) left after a few API calls
 * and a short broadcast with one viewer (how it was made is at its top).
 * Three data dirs are made from it: as it is; as an earlier build left
 * it, without the columns later builds added by ALTER; and as a version-2
 * database no module had opened, without the attendance and recording
 * tables. Each opens at schema version 3 with its rows intact, and each
 * module's tables take the module's writes: the attendance log through
 * its public functions, the roster's, presence's and recordings' tables
 * through their statements.
 */

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "kk-attendance-log.h"
#include "kk-store.h"

/* The rows of the fixture this test checks. */
#define SESSION_ID "63108772-630b-40be-8c6c-c553dd8f67a7"
#define PLANNED_ID "59956d35-f068-4cc6-a4cf-e367b645d2db"
#define PARTY_ID "f28a8655-c49c-4689-929b-56af6959a45b"
#define PERSON_ID "0791df97-88f6-4bfe-8672-4c517d0a08f7"
#define INVITED_ID "6eb5c696-cca4-4ce5-b8d7-3d0842d6aab5"
#define INVITED_PARTY_ID "ca06bab5-dd6c-49bd-982d-d06a7f5f8495"

/* What was done to the fixture before the store opens it. */
typedef enum {
  AS_WRITTEN,
  WITHOUT_ADDED_COLUMNS,
  WITHOUT_MODULE_TABLES,
} Variant;

/* SQLite 3.35 and later drop a column in place. */
static const char without_added_columns[] =
  "ALTER TABLE att_sessions DROP COLUMN prompt_interval_s;"
  "ALTER TABLE att_sessions DROP COLUMN scheduled_start;"
  "ALTER TABLE att_settings DROP COLUMN prompt_interval_s;";

static const char without_module_tables[] =
  "DROP TABLE att_events; DROP TABLE att_connections;"
  "DROP TABLE att_sessions; DROP TABLE att_settings;"
  "DROP TABLE att_overrides; DROP TABLE att_access; DROP TABLE att_people;"
  "DROP TABLE att_checkins; DROP TABLE att_codes;"
  "DROP TABLE att_code_answers; DROP TABLE att_prompts;"
  "DROP TABLE att_prompt_answers; DROP TABLE recordings;"
  "DROP TABLE recording_pauses; DROP TABLE recording_settings;";

typedef struct {
  char *dir;
  KkStore *store;
} Fixture;

static void
exec_file_sql (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", path, message);
  sqlite3_close (db);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  Variant variant = GPOINTER_TO_INT (data);
  g_autofree char *dump_path = g_test_build_filename (G_TEST_DIST, "data",
      "schema-v2-2026-12-07.sql", NULL);
  g_autofree char *dump = NULL;
  g_autofree char *db_path = NULL;
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-test-migrate-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  db_path = g_build_filename (f->dir, "kringkast.db", NULL);
  g_assert_true (g_file_get_contents (dump_path, &dump, NULL, &error));
  g_assert_no_error (error);
  exec_file_sql (db_path, dump);
  if (variant == WITHOUT_ADDED_COLUMNS)
    exec_file_sql (db_path, without_added_columns);
  else if (variant == WITHOUT_MODULE_TABLES)
    exec_file_sql (db_path, without_module_tables);

  f->store = kk_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  kk_store_close (f->store);
  g_clear_object (&f->store);
  remove_tree (f->dir);
  g_free (f->dir);
}

/* Waiting for an asynchronous result on the default context. */

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/* Reads the first column of the first row of @data, an SQL query, as
 * text; NULL for no row or SQL NULL. */
static gpointer
query_job (KkDb *db, gpointer data, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, data, error);

  if (stmt == NULL || kk_db_step (stmt, error) != KK_DB_ROW)
    return NULL;
  return kk_db_column_dup (stmt, 0);
}

static char *
query (Fixture *f, const char *sql)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  char *value;

  kk_store_run_db_async (f->store, query_job, (gpointer) sql, NULL, g_free,
      result_cb, &result);
  value = kk_store_run_finish (f->store, wait_result (&result), &error);
  g_assert_no_error (error);
  return value;
}

static void
assert_query (Fixture *f, const char *sql, const char *expected)
{
  g_autofree char *value = query (f, sql);

  g_assert_cmpstr (value, ==, expected);
}

static gpointer
exec_job (KkDb *db, gpointer data, GError **error)
{
  return kk_db_exec (db, data, error) ? GINT_TO_POINTER (1) : NULL;
}

/* Runs @sql, statements that return no rows, and asserts they succeed. */
static void
exec (Fixture *f, const char *sql)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  kk_store_run_db_async (f->store, exec_job, (gpointer) sql, NULL, NULL,
      result_cb, &result);
  kk_store_run_finish (f->store, wait_result (&result), &error);
  g_assert_no_error (error);
}

/* The rows of the store's own tables, read through kk-store. */
static void
check_store_rows (Fixture *f)
{
  g_autoptr (GPtrArray) rooms = NULL;
  g_autoptr (GPtrArray) parties = NULL;
  g_autoptr (GPtrArray) planned = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (KkStoreSession) session = NULL;
  g_autoptr (GError) error = NULL;
  KkRoomConfig *room;
  KkStoreParty *party;

  rooms = kk_store_load_rooms (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rooms->len, ==, 2);
  room = rooms->pdata[0];
  g_assert_cmpstr (room->id, ==, "anatomy");
  g_assert_cmpstr (room->title, ==, "Anatomy 101");
  g_assert_true (room->record);
  g_assert_cmpstr (room->source, ==, "whip");
  g_assert_cmpstr (room->host_token, ==,
      "0Expd82Ka4daHAc9uB3rjeZgcbjIhkqXEen9WqE4i-Y");
  room = rooms->pdata[1];
  g_assert_cmpstr (room->id, ==, "lecture");
  g_assert_cmpstr (room->source, ==, "testsrc-small");
  g_assert_cmpfloat (room->completion_ratio, ==, 0.8);

  parties = kk_store_load_parties (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (parties->len, ==, 2);
  party = parties->pdata[1];
  g_assert_cmpstr (party->id, ==, PARTY_ID);
  g_assert_cmpuint (party->participants->len, ==, 2);
  g_assert_cmpstr (((KkStoreParticipant *) party->participants->pdata[0])->name,
      ==, "Kari Nordmann");
  g_assert_cmpstr (((KkStoreParticipant *) party->participants->pdata[1])->name,
      ==, "Per Hansen");

  kk_store_get_session (f->store, SESSION_ID, result_cb, &result);
  session = kk_store_get_session_finish (f->store, wait_result (&result),
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (session->room_id, ==, "lecture");
  g_assert_cmpint (session->started_at, ==, 1796631019946360);
  g_assert_cmpint (session->ended_at, ==, 1796631025302700);

  planned = kk_store_load_scheduled (f->store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (planned->len, ==, 1);
  g_assert_cmpstr (((KkStoreSession *) planned->pdata[0])->id, ==,
      PLANNED_ID);
  g_assert_cmpint (((KkStoreSession *) planned->pdata[0])->scheduled_start,
      ==, 1796717419000000);
}

/* The modules' rows, as the old daemon wrote them. */
static void
check_module_rows (Fixture *f)
{
  assert_query (f, "SELECT COUNT(*) FROM att_events", "4");
  assert_query (f, "SELECT kind FROM att_events WHERE seq = 2", "connect");
  assert_query (f, "SELECT reason FROM att_connections "
      "WHERE party_id = '" PARTY_ID "'", "closed");
  assert_query (f, "SELECT grace_s FROM att_sessions "
      "WHERE id = '" SESSION_ID "'", "60");
  assert_query (f, "SELECT max_lateness_s FROM att_settings "
      "WHERE room_id = 'anatomy'", "600");
  assert_query (f, "SELECT access FROM att_access", "invitation");
  assert_query (f, "SELECT hpr FROM att_people", "1234567");
  assert_query (f, "SELECT size FROM recordings "
      "WHERE session_id = '" SESSION_ID "'", "60656");
  assert_query (f, "SELECT retention_days FROM recording_settings "
      "WHERE room_id = 'anatomy'", "30");
}

/* The store's tables take kk-store's writes. */
static void
check_store_writes (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  kk_store_session_start (f->store, "anatomy", 1796717419000000,
      result_cb, &result);
  id = kk_store_session_start_finish (f->store, wait_result (&result),
      &error);
  g_assert_no_error (error);
  /* The broadcast took over the planned session. */
  g_assert_cmpstr (id, ==, PLANNED_ID);
}

/* The attendance log's tables take its writes, and its reads find the
 * old evidence: through its public functions. */
static void
check_attendance_log (Fixture *f, gboolean with_evidence)
{
  g_autoptr (KkAttendanceLog) log = kk_attendance_log_new (f->store);
  KkAttendanceSettings settings = { .retention_days = 7 };
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree KkAttendanceSettings *stored = NULL;
  g_autoptr (GError) error = NULL;

  kk_attendance_policy_init (&settings.policy);
  settings.policy.prompts = 2;
  settings.policy.prompt_interval_us = 600 * G_USEC_PER_SEC;
  kk_attendance_log_set_settings_async (log, "lecture", &settings,
      result_cb, &result);
  g_assert_true (kk_attendance_log_set_settings_finish (log,
          wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  kk_attendance_log_get_settings_async (log, "lecture", result_cb, &result);
  stored = kk_attendance_log_get_settings_finish (log, wait_result (&result),
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->policy.prompts, ==, 2);
  g_assert_cmpint (stored->policy.prompt_interval_us, ==,
      600 * G_USEC_PER_SEC);
  g_assert_cmpuint (stored->retention_days, ==, 7);
  g_clear_object (&result);

  if (with_evidence) {
    g_autoptr (KkAttendanceSession) session = NULL;
    g_autoptr (KkAttendanceReport) report = NULL;
    KkAttendanceRow *row;

    kk_attendance_log_get_session_async (log, SESSION_ID, result_cb,
        &result);
    session = kk_attendance_log_get_session_finish (log,
        wait_result (&result), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (session->room_id, ==, "lecture");
    g_assert_cmpint (session->started_us, ==, 1796631019946357);
    g_assert_cmpint (session->scheduled_start_us, ==, 0);
    g_clear_object (&result);

    kk_attendance_log_override_async (log, SESSION_ID, PERSON_ID, TRUE,
        "was in the room", "test", result_cb, &result);
    g_assert_true (kk_attendance_log_override_finish (log,
            wait_result (&result), &error));
    g_assert_no_error (error);
    g_clear_object (&result);

    kk_attendance_log_report_async (log, SESSION_ID, NULL, result_cb,
        &result);
    report = kk_attendance_log_report_finish (log, wait_result (&result),
        &error);
    g_assert_no_error (error);
    g_clear_object (&result);
    /* Both people at the screen, with its one connection. */
    g_assert_cmpuint (report->rows->len, ==, 2);
    row = report->rows->pdata[0];
    g_assert_cmpstr (row->name, ==, "Kari Nordmann");
    g_assert_cmpuint (row->connections->len, ==, 1);
    g_assert_true (row->overridden);
    g_assert_true (row->completed);
    g_assert_cmpstr (row->override_reason, ==, "was in the room");
  }
  kk_attendance_log_shutdown (log);
}

/* The roster's, presence's and recordings' tables take the statements
 * those modules write with, every column named. */
static void
check_other_writes (Fixture *f)
{
  exec (f, "INSERT INTO att_access (room_id, access) VALUES ('lecture', "
      "'open') ON CONFLICT (room_id) DO UPDATE SET access = excluded.access");
  exec (f, "INSERT INTO att_people (participant_id, room_id, party_id, "
      "email, hpr, invited_at, token_issued_at) VALUES ('p-new', 'anatomy', "
      "'" INVITED_PARTY_ID "', NULL, NULL, 1, 1)");
  exec (f, "INSERT INTO att_checkins (participant_id, room_id, party_id, "
      "checked_in_at, receipt_hash) VALUES ('" INVITED_ID "', 'anatomy', "
      "'" INVITED_PARTY_ID "', 2, 'receipt')");
  exec (f, "INSERT INTO att_codes (session_id, room_id, code, revealed_at) "
      "VALUES ('" SESSION_ID "', 'lecture', '1234', 3)");
  exec (f, "INSERT INTO att_code_answers (session_id, party_id, "
      "participant_id, answered_at) VALUES ('" SESSION_ID "', "
      "'" PARTY_ID "', NULL, 4)");
  exec (f, "INSERT INTO att_prompts (id, session_id, room_id, issued_at) "
      "VALUES ('q1', '" SESSION_ID "', 'lecture', 5)");
  exec (f, "INSERT INTO att_prompt_answers (prompt_id, party_id, "
      "participant_id, answered_at) VALUES ('q1', '" PARTY_ID "', "
      "'" PERSON_ID "', 6)");
  exec (f, "INSERT INTO recordings (session_id, room_id, path, "
      "content_type, video_codec, audio_codec, state, error, started_at, "
      "ended_at, duration_us, size) VALUES ('" SESSION_ID "', 'lecture', "
      "'a.webm', 'video/webm', 'VP8', 'opus', 'deleted', NULL, 1, 2, 3, 4) "
      "ON CONFLICT (session_id) DO UPDATE SET state = excluded.state");
  exec (f, "INSERT INTO recording_pauses (session_id, paused_at, "
      "resumed_at) VALUES ('" SESSION_ID "', 7, NULL) "
      "ON CONFLICT (session_id, paused_at) "
      "DO UPDATE SET resumed_at = excluded.resumed_at");
  exec (f, "INSERT INTO recording_settings (room_id, retention_days) "
      "VALUES ('lecture', 1) ON CONFLICT (room_id) "
      "DO UPDATE SET retention_days = excluded.retention_days");
  assert_query (f, "SELECT state FROM recordings "
      "WHERE session_id = '" SESSION_ID "'", "deleted");
}

static void
test_as_written (Fixture *f, gconstpointer data)
{
  assert_query (f, "SELECT version FROM schema_version", "3");
  g_assert_cmpint (KK_STORE_SCHEMA_VERSION, ==, 3);
  check_store_rows (f);
  check_module_rows (f);
  check_other_writes (f);
  check_attendance_log (f, TRUE);
  check_store_writes (f);
}

static void
test_without_added_columns (Fixture *f, gconstpointer data)
{
  assert_query (f, "SELECT version FROM schema_version", "3");
  /* The columns are back, NULL (the default) in the old rows. */
  assert_query (f, "SELECT COUNT(*) FROM att_sessions WHERE "
      "prompt_interval_s IS NULL AND scheduled_start IS NULL", "1");
  assert_query (f, "SELECT COUNT(*) FROM att_settings "
      "WHERE prompt_interval_s IS NULL", "1");
  check_store_rows (f);
  check_module_rows (f);
  check_other_writes (f);
  check_attendance_log (f, TRUE);
}

static void
test_without_module_tables (Fixture *f, gconstpointer data)
{
  assert_query (f, "SELECT version FROM schema_version", "3");
  assert_query (f, "SELECT COUNT(*) FROM att_events", "0");
  assert_query (f, "SELECT COUNT(*) FROM recordings", "0");
  check_store_rows (f);
  check_other_writes (f);
  check_attendance_log (f, FALSE);
  check_store_writes (f);
}

/* Opening again migrates nothing: the version and the rows stay. */
static void
test_reopen (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  kk_store_close (f->store);
  g_clear_object (&f->store);
  f->store = kk_store_open (f->dir, &error);
  g_assert_no_error (error);
  assert_query (f, "SELECT version FROM schema_version", "3");
  assert_query (f, "SELECT COUNT(*) FROM schema_version", "1");
  check_store_rows (f);
  check_module_rows (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, variant, func) \
  g_test_add (path, Fixture, GINT_TO_POINTER (variant), fixture_setup, \
      func, fixture_teardown)
  ADD ("/migrate/as-written", AS_WRITTEN, test_as_written);
  ADD ("/migrate/without-added-columns", WITHOUT_ADDED_COLUMNS,
      test_without_added_columns);
  ADD ("/migrate/without-module-tables", WITHOUT_MODULE_TABLES,
      test_without_module_tables);
  ADD ("/migrate/reopen", AS_WRITTEN, test_reopen);
#undef ADD

  return g_test_run ();
}
