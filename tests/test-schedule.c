/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-schedule: sessions planned ahead.
 *
 * The request bodies (RFC 3339 times with their offsets, the bounds), and
 * the store against a real SQLite file: scheduling, overlaps, which
 * broadcast takes over which planned session (the window, earliest
 * first, never one already broadcast), rescheduling and cancelling before
 * and after a session went live, the derived states, survival across a
 * restart, and a data directory written by the first schema (version 1)
 * opening with its sessions intact.
 */

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "kk-http.h"
#include "kk-schedule-api.h"
#include "kk-store.h"
#include "test-database.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)
#define H(x) (S (x) * 3600)

/* 2025-03-04T09:00:00Z, 10:00 in Oslo. */
#define T0 S (G_GINT64_CONSTANT (1741078800))

/* ---- bodies ---- */

static gboolean
parse (const char *body, gboolean partial, gint64 *start, gint64 *end,
    GError **error)
{
  return kk_schedule_api_parse_request (body, strlen (body), partial, start,
      end, error);
}

static void
test_parse (void)
{
  static const char *const bad[] = {
    "",
    "[]",
    "{\"starts_at\": \"2025-03-04T10:00:00+01:00\"}",
    "{\"ends_at\": \"2025-03-04T10:00:00+01:00\"}",
    /* no offset: whose 10:00? */
    "{\"starts_at\": \"2025-03-04T10:00:00\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-03-04 10:00\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-03-04T10:00:00+0100\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-02-30T10:00:00Z\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-03-04T25:00:00Z\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-03-04T10:00:00.1234567890Z\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-03-04T10:00:00Z \", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"1970-01-01T00:00:00Z\", \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": 1741078800, \"ends_at\": \"2025-03-04T11:00:00Z\"}",
    "{\"starts_at\": \"2025-03-04T10:00:00Z\", \"ends_at\": \"2025-03-04T11:00:00Z\", \"room\": \"x\"}",
  };
  g_autoptr (GError) error = NULL;
  gint64 start, end;

  g_assert_true (parse ("{\"starts_at\": \"2025-03-04T10:00:00+01:00\","
          " \"ends_at\": \"2025-03-04T09:45:30.75-01:30\"}", FALSE, &start,
          &end, &error));
  g_assert_no_error (error);
  g_assert_cmpint (start, ==, T0);
  /* 09:45:30 at -01:30 is 11:15:30Z; the fraction is dropped. */
  g_assert_cmpint (end, ==, T0 + H (2) + S (15 * 60 + 30));

  g_assert_true (parse ("{\"starts_at\": \"2025-03-04t09:00:00z\","
          " \"ends_at\": \"2025-03-04T10:00:00Z\"}", FALSE, &start, &end,
          &error));
  g_assert_cmpint (start, ==, T0);
  g_assert_cmpint (end, ==, T0 + H (1));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (parse (bad[i], FALSE, &start, &end, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
  }

  /* A PATCH may leave either out, not both. */
  g_assert_true (parse ("{\"ends_at\": \"2025-03-04T10:00:00Z\","
          " \"starts_at\": null}", TRUE, &start, &end, &error));
  g_assert_cmpint (start, ==, 0);
  g_assert_cmpint (end, ==, T0 + H (1));
  g_assert_false (parse ("{}", TRUE, &start, &end, &error));
  g_clear_error (&error);
}

static void
test_validate (void)
{
  g_autoptr (GError) error = NULL;
  gint64 now = T0;

  g_assert_true (kk_schedule_api_validate_times (now, now + H (1), now,
          &error));
  g_assert_no_error (error);
  /* A plan of the past, entered late; the bounds, exactly. */
  g_assert_true (kk_schedule_api_validate_times (now - H (3), now - H (2), now,
          NULL));
  g_assert_true (kk_schedule_api_validate_times (now, now + S (60), now,
          NULL));
  g_assert_true (kk_schedule_api_validate_times (now, now + H (24), now,
          NULL));
  g_assert_true (kk_schedule_api_validate_times (now - H (366 * 24),
          now - H (366 * 24) + H (1), now, NULL));

  g_assert_false (kk_schedule_api_validate_times (now, now, now, &error));
  g_assert_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST);
  g_clear_error (&error);
  g_assert_false (kk_schedule_api_validate_times (now, now - H (1), now,
          NULL));
  g_assert_false (kk_schedule_api_validate_times (now, now + S (59), now,
          NULL));
  g_assert_false (kk_schedule_api_validate_times (now, now + H (24) + 1, now,
          NULL));
  g_assert_false (kk_schedule_api_validate_times (now - H (366 * 24) - 1,
          now + H (1), now, NULL));
  g_assert_false (kk_schedule_api_validate_times (now + H (3 * 366 * 24) + 1,
          now + H (3 * 366 * 24 + 1), now, NULL));
}

/* ---- the store ---- */

typedef struct {
  char *dir;
  char *database;               /* NULL: SQLite in @dir */
  KkStore *store;
} Fixture;

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
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("kk-test-schedule-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->database = kk_test_database_new ();
}

static void
fixture_open (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  if (f->store != NULL) {
    kk_store_close (f->store);
    g_clear_object (&f->store);
  }
  f->store = kk_store_open (f->dir, f->database, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->store != NULL) {
    kk_store_close (f->store);
    g_clear_object (&f->store);
  }
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->database);
}

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

static void
add_room (Fixture *f, const char *id)
{
  g_autoptr (KkRoomConfig) room = g_new0 (KkRoomConfig, 1);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  room->id = g_strdup (id);
  room->title = g_strdup (id);
  room->completion_ratio = 0.8;
  room->source = g_strdup ("whip");
  room->host_token = g_strdup_printf ("host-%s", id);
  kk_store_insert_room_async (f->store, room, result_cb, &result);
  g_assert_true (kk_store_insert_room_finish (f->store, wait_result (&result),
          &error));
  g_assert_no_error (error);
}

/* Returns: (transfer full) (nullable): the session, or NULL with @error. */
static KkStoreSession *
schedule (Fixture *f, const char *room, gint64 start, gint64 end,
    GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  kk_store_schedule_session (f->store, room, start, end, result_cb, &result);
  return kk_store_schedule_session_finish (f->store, wait_result (&result),
      error);
}

static KkStoreSession *
reschedule (Fixture *f, const char *id, gint64 start, gint64 end,
    GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  kk_store_reschedule_session (f->store, id, start, end, result_cb, &result);
  return kk_store_schedule_session_finish (f->store, wait_result (&result),
      error);
}

static gboolean
cancel (Fixture *f, const char *id, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  kk_store_cancel_session (f->store, id, result_cb, &result);
  return kk_store_cancel_session_finish (f->store, wait_result (&result),
      error);
}

static KkStoreSession *
get (Fixture *f, const char *id, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  kk_store_get_session (f->store, id, result_cb, &result);
  return kk_store_get_session_finish (f->store, wait_result (&result), error);
}

/* A broadcast of @room starts at @at: the id of its session. */
static char *
broadcast (Fixture *f, const char *room, gint64 at)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  char *id;

  kk_store_session_start (f->store, room, at, result_cb, &result);
  id = kk_store_session_start_finish (f->store, wait_result (&result),
      &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static void
end_broadcast (Fixture *f, const char *id, gint64 at)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  kk_store_session_end (f->store, id, at, result_cb, &result);
  g_assert_true (kk_store_session_end_finish (f->store,
          wait_result (&result), &error));
  g_assert_no_error (error);
}

static GPtrArray *
list (Fixture *f, const char *room)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *sessions;

  kk_store_list_sessions (f->store, room, result_cb, &result);
  sessions = kk_store_list_sessions_finish (f->store, wait_result (&result),
      &error);
  g_assert_no_error (error);
  return sessions;
}

static void
test_schedule_and_take_over (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkStoreSession) first = NULL;
  g_autoptr (KkStoreSession) second = NULL;
  g_autoptr (KkStoreSession) third = NULL;
  g_autoptr (KkStoreSession) fourth = NULL;
  g_autoptr (KkStoreSession) past = NULL;
  g_autoptr (KkStoreSession) moved = NULL;
  g_autoptr (KkStoreSession) got = NULL;
  g_autoptr (GPtrArray) sessions = NULL;
  g_autofree char *early = NULL;
  g_autofree char *taken = NULL;
  g_autofree char *again = NULL;
  g_autofree char *next = NULL;
  g_autofree char *after = NULL;
  g_autofree char *at_end = NULL;
  g_autofree char *other = NULL;
  KkStoreSession *s;

  fixture_open (f);
  add_room (f, "r");
  add_room (f, "q");

  /* 10:00-11:00, and two back to back in the afternoon. */
  first = schedule (f, "r", T0, T0 + H (1), &error);
  g_assert_no_error (error);
  g_assert_nonnull (first->id);
  g_assert_cmpstr (first->room_id, ==, "r");
  g_assert_cmpint (first->scheduled_start, ==, T0);
  g_assert_cmpint (first->scheduled_end, ==, T0 + H (1));
  g_assert_cmpint (first->started_at, ==, 0);
  g_assert_cmpint (kk_session_state (first, T0 - 1), ==, KK_SESSION_SCHEDULED);
  g_assert_cmpint (kk_session_state (first, T0 + H (1)), ==,
      KK_SESSION_MISSED);
  second = schedule (f, "r", T0 + H (4), T0 + H (5), &error);
  third = schedule (f, "r", T0 + H (5), T0 + H (6), &error);
  fourth = schedule (f, "r", T0 + H (8), T0 + H (9), &error);
  g_assert_no_error (error);

  /* One room, one lecture at a time; another room is free. */
  g_assert_null (schedule (f, "r", T0 + H (4) + S (60 * 59),
          T0 + H (7), &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_null (schedule (f, "nowhere", T0, T0 + H (1), &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Earlier than the hour's lead: ad hoc. From the lead on: the planned
   * one, and only once. */
  early = broadcast (f, "r", T0 - H (1) - 1);
  g_assert_cmpstr (early, !=, first->id);
  end_broadcast (f, early, T0 - H (1));
  taken = broadcast (f, "r", T0 - H (1));
  g_assert_cmpstr (taken, ==, first->id);
  other = broadcast (f, "q", T0);
  g_assert_cmpstr (other, !=, first->id);
  end_broadcast (f, taken, T0 + S (60));
  again = broadcast (f, "r", T0 + S (120));
  g_assert_cmpstr (again, !=, first->id);
  end_broadcast (f, again, T0 + S (180));

  /* Once live, it is no longer the plan's to change. */
  g_assert_null (reschedule (f, first->id, T0 + H (2), T0 + H (3), &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_false (cancel (f, first->id, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_false (cancel (f, early, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT);
  g_clear_error (&error);

  /* 13:30 lies in both afternoon windows: the earlier one. At 13:59 the
   * other, since the first is taken. */
  next = broadcast (f, "r", T0 + H (4) + S (1800));
  g_assert_cmpstr (next, ==, second->id);
  end_broadcast (f, next, T0 + H (4) + S (3540));
  after = broadcast (f, "r", T0 + H (4) + S (3540));
  g_assert_cmpstr (after, ==, third->id);
  end_broadcast (f, after, T0 + H (6));
  /* A window ends at the scheduled end. */
  at_end = broadcast (f, "r", T0 + H (9));
  g_assert_cmpstr (at_end, !=, fourth->id);
  end_broadcast (f, at_end, T0 + H (9) + S (60));

  /* Rescheduled, a session keeps its id; a missed one may be moved. */
  past = schedule (f, "r", T0 - H (30), T0 - H (29), &error);
  g_assert_no_error (error);
  g_assert_cmpint (kk_session_state (past, T0), ==, KK_SESSION_MISSED);
  moved = reschedule (f, past->id, T0 + H (24), T0 + H (25), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (moved->id, ==, past->id);
  g_assert_cmpint (moved->scheduled_start, ==, T0 + H (24));
  g_assert_cmpint (moved->scheduled_end, ==, T0 + H (25));
  g_assert_cmpint (kk_session_state (moved, T0), ==, KK_SESSION_SCHEDULED);
  g_assert_null (reschedule (f, moved->id, T0 + H (5), T0 + H (6) + 1,
          &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT);
  g_clear_error (&error);
  g_assert_null (reschedule (f, "nope", T0, T0 + H (1), &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Ordered by planned start, else broadcast start: early, first, again,
   * second, third, fourth, at_end, moved. */
  sessions = list (f, "r");
  g_assert_cmpuint (sessions->len, ==, 8);
  g_assert_cmpstr (((KkStoreSession *) sessions->pdata[0])->id, ==, early);
  s = sessions->pdata[1];
  g_assert_cmpstr (s->id, ==, first->id);
  g_assert_cmpint (s->started_at, ==, T0 - H (1));
  g_assert_cmpint (s->ended_at, ==, T0 + S (60));
  g_assert_cmpint (s->scheduled_start, ==, T0);
  g_assert_cmpint (s->scheduled_end, ==, T0 + H (1));
  g_assert_cmpint (kk_session_state (s, T0), ==, KK_SESSION_ENDED);
  g_assert_cmpstr (((KkStoreSession *) sessions->pdata[2])->id, ==, again);
  s = sessions->pdata[5];
  g_assert_cmpstr (s->id, ==, fourth->id);
  g_assert_cmpint (kk_session_state (s, T0 + H (9)), ==, KK_SESSION_MISSED);
  g_assert_cmpstr (((KkStoreSession *) sessions->pdata[6])->id, ==, at_end);
  g_assert_cmpstr (((KkStoreSession *) sessions->pdata[7])->id, ==,
      moved->id);

  /* Cancelled, it is gone. */
  g_assert_true (cancel (f, moved->id, &error));
  g_assert_no_error (error);
  g_assert_null (get (f, moved->id, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (cancel (f, moved->id, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  got = get (f, first->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got->scheduled_end, ==, T0 + H (1));
}

static void
test_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkStoreSession) live = NULL;
  g_autoptr (KkStoreSession) planned = NULL;
  g_autoptr (KkStoreSession) past = NULL;
  g_autoptr (KkStoreSession) got = NULL;
  g_autoptr (GPtrArray) pending = NULL;
  g_autofree char *id = NULL;
  gint64 now = g_get_real_time ();

  fixture_open (f);
  add_room (f, "r");
  live = schedule (f, "r", now - H (1), now + H (1), &error);
  planned = schedule (f, "r", now + H (2), now + H (3), &error);
  past = schedule (f, "r", now - H (5), now - H (4), &error);
  g_assert_no_error (error);
  id = broadcast (f, "r", now - S (60));
  g_assert_cmpstr (id, ==, live->id);

  /* The process dies while live. */
  fixture_open (f);
  got = get (f, live->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got->ended_at, ==, now - S (60));
  g_clear_pointer (&got, kk_store_session_free);
  /* The plans are as they were, not "closed". */
  got = get (f, planned->id, &error);
  g_assert_cmpint (got->started_at, ==, 0);
  g_assert_cmpint (got->ended_at, ==, 0);
  g_assert_cmpint (got->scheduled_start, ==, now + H (2));

  pending = kk_store_load_scheduled (f->store, now, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pending->len, ==, 1);
  g_assert_cmpstr (((KkStoreSession *) pending->pdata[0])->id, ==,
      planned->id);
}

/* The first schema, as release 1 wrote it. */
static const char schema_v1[] =
  "CREATE TABLE schema_version (version INTEGER NOT NULL);"
  "INSERT INTO schema_version VALUES (1);"
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
  "INSERT INTO rooms VALUES ('old', 'Old', 1, 0.8, 'tok', 'whip', NULL, 1);"
  "INSERT INTO sessions VALUES ('s-done', 'old', 1000000, 2000000,"
  "  '/rec/s-done.webm');"
  "INSERT INTO sessions VALUES ('s-open', 'old', 3000000, NULL, NULL);";

static gpointer
version_job (KkDb *db, gpointer data, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db,
      "SELECT version FROM schema_version", error);

  if (stmt == NULL || kk_db_step (stmt, error) != KK_DB_ROW)
    return NULL;
  return GINT_TO_POINTER (kk_db_column_int64 (stmt, 0));
}

static void
test_old_data_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "kringkast.db", NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (KkStoreSession) planned = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  KkStoreSession *s;
  sqlite3 *db = NULL;

  if (f->database != NULL) {
    g_test_skip ("a data dir of an older build is a SQLite file");
    return;
  }
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, schema_v1, NULL, NULL, NULL), ==,
      SQLITE_OK);
  sqlite3_close (db);

  fixture_open (f);
  kk_store_run_async (f->store, version_job, NULL, NULL, NULL, result_cb,
      &result);
  g_assert_cmpint (GPOINTER_TO_INT (kk_store_run_finish (f->store,
              wait_result (&result), NULL)), ==, KK_STORE_SCHEMA_VERSION);
  g_assert_cmpint (KK_STORE_SCHEMA_VERSION, ==, 5);

  /* Both sessions are there, as they were (the open one closed at its
   * start, as after any crash), ad hoc. */
  sessions = list (f, "old");
  g_assert_cmpuint (sessions->len, ==, 2);
  s = sessions->pdata[0];
  g_assert_cmpstr (s->id, ==, "s-done");
  g_assert_cmpint (s->started_at, ==, 1000000);
  g_assert_cmpint (s->ended_at, ==, 2000000);
  g_assert_cmpstr (s->recording, ==, "/rec/s-done.webm");
  g_assert_cmpint (s->scheduled_start, ==, 0);
  g_assert_cmpint (s->scheduled_end, ==, 0);
  s = sessions->pdata[1];
  g_assert_cmpstr (s->id, ==, "s-open");
  g_assert_cmpint (s->ended_at, ==, 3000000);
  g_assert_cmpint (kk_session_state (s, T0), ==, KK_SESSION_ENDED);

  /* And the old room takes plans and broadcasts like a new one. */
  planned = schedule (f, "old", T0, T0 + H (1), &error);
  g_assert_no_error (error);
  id = broadcast (f, "old", T0 + S (30));
  g_assert_cmpstr (id, ==, planned->id);

  /* Opening it again migrates nothing twice. */
  fixture_open (f);
  g_clear_pointer (&sessions, g_ptr_array_unref);
  sessions = list (f, "old");
  g_assert_cmpuint (sessions->len, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/schedule/parse", test_parse);
  g_test_add_func ("/schedule/validate", test_validate);
  g_test_add ("/schedule/store/take-over", Fixture, NULL, fixture_setup,
      test_schedule_and_take_over, fixture_teardown);
  g_test_add ("/schedule/store/restart", Fixture, NULL, fixture_setup,
      test_restart, fixture_teardown);
  g_test_add ("/schedule/store/old-data-dir", Fixture, NULL, fixture_setup,
      test_old_data_dir, fixture_teardown);
  return g_test_run ();
}
