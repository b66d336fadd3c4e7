/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-store: kk-store against a real SQLite file in a temporary data dir.
 *
 * Checks that jobs run on the store's own thread and that results come
 * back on the caller's thread-default context (also from a second thread
 * with a context of its own), the pragmas (WAL, synchronous=FULL, foreign
 * keys), the schema version, rooms/parties/sessions round trips and their
 * survival across reopening, crash recovery of open sessions, the admin
 * token file, the token helpers against a SHA-256 test vector, and the
 * migration of a data dir the daemon wrote at schema version 2.
 */

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "kk-attendance-log.h"
#include "kk-store.h"
#include "test-database.h"

typedef struct {
  char *dir;
  char *database;               /* NULL: SQLite in @dir */
  KkStore *store;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-test-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->database = kk_test_database_new ();
  f->store = kk_store_open (f->dir, f->database, &error);
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
  if (f->store != NULL) {
    kk_store_close (f->store);
    g_clear_object (&f->store);
  }
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->database);
}

static void
reopen (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  kk_store_close (f->store);
  g_clear_object (&f->store);
  f->store = kk_store_open (f->dir, f->database, &error);
  g_assert_no_error (error);
}

/* Waiting for a result on a given context. */

typedef struct {
  GAsyncResult *result;
  GThread *callback_thread;
  GMainContext *callback_context;
} Waiter;

static void
waiter_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Waiter *waiter = user_data;

  g_assert_null (waiter->result);
  waiter->result = g_object_ref (result);
  waiter->callback_thread = g_thread_self ();
  waiter->callback_context = g_main_context_ref_thread_default ();
}

static void
waiter_wait (Waiter *waiter, GMainContext *context)
{
  while (waiter->result == NULL)
    g_main_context_iteration (context, TRUE);
}

/* Waits on the default context; the result stays until waiter_clear(). */
static GAsyncResult *
waiter_result (Waiter *waiter)
{
  waiter_wait (waiter, NULL);
  return waiter->result;
}

static void
waiter_clear (Waiter *waiter)
{
  g_clear_object (&waiter->result);
  g_clear_pointer (&waiter->callback_context, g_main_context_unref);
  waiter->callback_thread = NULL;
}

/* Runs @func as a store job from the test thread and returns its result. */
static gpointer
run_job (KkStore *store, KkStoreJobFunc func, gpointer data, GError **error)
{
  Waiter waiter = { 0 };
  gpointer result;

  kk_store_run_async (store, func, data, NULL, g_free, waiter_cb, &waiter);
  waiter_wait (&waiter, NULL);
  result = kk_store_run_finish (store, waiter.result, error);
  waiter_clear (&waiter);
  return result;
}

static gpointer
record_thread_job (KkDb *db, gpointer data, GError **error)
{
  GThread **thread = data;

  *thread = g_thread_self ();
  return NULL;
}

/* Reads the first column of the first row of @data, an SQL query. */
static gpointer
query_job (KkDb *db, gpointer data, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, data, error);

  if (stmt == NULL || kk_db_step (stmt, error) != KK_DB_ROW)
    return NULL;
  return kk_db_column_dup (stmt, 0);
}

static void
test_worker_thread (Fixture *f, gconstpointer data)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GError) error = NULL;
  GThread *job_thread = NULL;
  Waiter waiter = { 0 };

  /* A job called with @context as thread-default... */
  g_main_context_push_thread_default (context);
  kk_store_run_async (f->store, record_thread_job, &job_thread, NULL,
      NULL, waiter_cb, &waiter);
  g_main_context_pop_thread_default (context);

  /* ...is not delivered on the global default context, however long it is
   * iterated. */
  for (int i = 0; i < 50; i++) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
  g_assert_null (waiter.result);

  waiter_wait (&waiter, context);
  g_assert_null (kk_store_run_finish (f->store, waiter.result, &error));
  g_assert_no_error (error);
  g_assert_nonnull (job_thread);
  g_assert_true (job_thread != g_thread_self ());
  g_assert_true (waiter.callback_thread == g_thread_self ());
  g_assert_true (waiter.callback_context == context);
  waiter_clear (&waiter);
}

typedef struct {
  KkStore *store;
  GThread *job_thread;
  GThread *callback_thread;
  GMainContext *callback_context;
  GMainContext *own_context;
} OtherThread;

static gpointer
other_thread_main (gpointer user_data)
{
  OtherThread *other = user_data;
  Waiter waiter = { 0 };

  other->own_context = g_main_context_new ();
  g_main_context_push_thread_default (other->own_context);
  kk_store_run_async (other->store, record_thread_job,
      &other->job_thread, NULL, NULL, waiter_cb, &waiter);
  waiter_wait (&waiter, other->own_context);
  kk_store_run_finish (other->store, waiter.result, NULL);
  other->callback_thread = waiter.callback_thread;
  other->callback_context = g_main_context_ref (waiter.callback_context);
  waiter_clear (&waiter);
  g_main_context_pop_thread_default (other->own_context);
  return NULL;
}

static void
test_other_thread_context (Fixture *f, gconstpointer data)
{
  OtherThread other = { .store = f->store };
  GThread *thread = g_thread_new ("kk-test-caller", other_thread_main, &other);
  GThread *main_job_thread = NULL;
  g_autoptr (GError) error = NULL;

  g_thread_join (thread);
  g_assert_true (other.callback_thread == thread);
  g_assert_true (other.callback_context == other.own_context);
  g_assert_true (other.job_thread != thread);
  g_assert_true (other.job_thread != g_thread_self ());

  /* The same single worker serves every caller. */
  run_job (f->store, record_thread_job, &main_job_thread, &error);
  g_assert_no_error (error);
  g_assert_true (main_job_thread == other.job_thread);

  g_main_context_unref (other.callback_context);
  g_main_context_unref (other.own_context);
}

static void
test_pragmas (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *journal = NULL;
  g_autofree char *synchronous = NULL;
  g_autofree char *foreign_keys = NULL;
  g_autofree char *version = NULL;
  g_autofree char *wal_path = g_build_filename (f->dir, "kringkast.db-wal",
      NULL);

  version = run_job (f->store, query_job,
      "SELECT version FROM schema_version", &error);
  g_assert_no_error (error);
  g_assert_cmpint (atoi (version), ==, KK_STORE_SCHEMA_VERSION);
  if (f->database != NULL) {
    g_test_skip ("the pragmas are SQLite's");
    return;
  }

  journal = run_job (f->store, query_job, "PRAGMA journal_mode", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (journal, ==, "wal");
  synchronous = run_job (f->store, query_job, "PRAGMA synchronous", &error);
  g_assert_cmpstr (synchronous, ==, "2");   /* FULL */
  foreign_keys = run_job (f->store, query_job, "PRAGMA foreign_keys",
      &error);
  g_assert_cmpstr (foreign_keys, ==, "1");
  g_assert_true (g_file_test (wal_path, G_FILE_TEST_EXISTS));
}

static KkRoomConfig *
room_new (const char *id, const char *title, const char *token)
{
  KkRoomConfig *room = g_new0 (KkRoomConfig, 1);

  room->id = g_strdup (id);
  room->title = g_strdup (title);
  room->record = TRUE;
  room->completion_ratio = 0.5;
  room->source = g_strdup ("whip");
  room->host_token = g_strdup (token);
  return room;
}

static gboolean
insert_room (KkStore *store, const KkRoomConfig *room, GError **error)
{
  Waiter waiter = { 0 };
  gboolean ok;

  kk_store_insert_room_async (store, room, waiter_cb, &waiter);
  waiter_wait (&waiter, NULL);
  ok = kk_store_insert_room_finish (store, waiter.result, error);
  waiter_clear (&waiter);
  return ok;
}

static void
test_rooms (Fixture *f, gconstpointer data)
{
  g_autoptr (KkRoomConfig) room = room_new ("physics", "Physics", "tok-p");
  g_autoptr (KkRoomConfig) wanted = room_new ("config-room", "First", NULL);
  g_autoptr (KkRoomConfig) stored = NULL;
  g_autoptr (GPtrArray) rooms = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *first_token = NULL;
  KkRoomConfig *r;

  g_assert_true (insert_room (f->store, room, &error));
  g_assert_no_error (error);
  g_assert_false (insert_room (f->store, room, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_EXISTS);
  g_clear_error (&error);

  /* A config room without a token gets one, and keeps it. */
  stored = kk_store_ensure_room (f->store, wanted, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (stored->host_token), ==, 43);
  first_token = g_strdup (stored->host_token);
  g_clear_pointer (&stored, kk_room_config_free);

  g_free (wanted->title);
  wanted->title = g_strdup ("Second");
  stored = kk_store_ensure_room (f->store, wanted, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored->title, ==, "Second");
  g_assert_cmpstr (stored->host_token, ==, first_token);
  g_clear_pointer (&stored, kk_room_config_free);

  /* A token given in the config replaces the stored one. */
  wanted->host_token = g_strdup ("from-config");
  stored = kk_store_ensure_room (f->store, wanted, &error);
  g_assert_cmpstr (stored->host_token, ==, "from-config");

  reopen (f);
  rooms = kk_store_load_rooms (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rooms->len, ==, 2);
  r = g_ptr_array_index (rooms, 0);
  g_assert_cmpstr (r->id, ==, "config-room");
  g_assert_cmpstr (r->title, ==, "Second");
  g_assert_cmpstr (r->host_token, ==, "from-config");
  r = g_ptr_array_index (rooms, 1);
  g_assert_cmpstr (r->id, ==, "physics");
  g_assert_cmpstr (r->title, ==, "Physics");
  g_assert_true (r->record);
  g_assert_cmpfloat (r->completion_ratio, ==, 0.5);
  g_assert_cmpstr (r->source, ==, "whip");
  g_assert_null (r->source_uri);
  g_assert_cmpstr (r->host_token, ==, "tok-p");
}

static KkStoreParty *
party_new (const char *room_id, const char *token, guint n_people)
{
  KkStoreParty *party = kk_store_party_new ();

  party->id = g_uuid_string_random ();
  party->room_id = g_strdup (room_id);
  party->token_hash = kk_store_hash_token (token);
  for (guint i = 0; i < n_people; i++) {
    KkStoreParticipant *p = g_new0 (KkStoreParticipant, 1);

    p->id = g_strdup_printf ("%s-p%u", party->id, i);
    p->name = g_strdup_printf ("Person %u", i);
    p->workplace = g_strdup ("Ward 3");
    g_ptr_array_add (party->participants, p);
  }
  return party;
}

static gboolean
insert_party (KkStore *store, const KkStoreParty *party, GError **error)
{
  Waiter waiter = { 0 };
  gboolean ok;

  kk_store_insert_party_async (store, party, waiter_cb, &waiter);
  waiter_wait (&waiter, NULL);
  ok = kk_store_insert_party_finish (store, waiter.result, error);
  waiter_clear (&waiter);
  return ok;
}

static void
test_parties (Fixture *f, gconstpointer data)
{
  g_autoptr (KkRoomConfig) room = room_new ("chem", "Chemistry", "t");
  g_autoptr (KkStoreParty) group = party_new ("chem", "token-a", 3);
  g_autoptr (KkStoreParty) single = party_new ("chem", "token-b", 1);
  g_autoptr (KkStoreParty) orphan = party_new ("no-such-room", "token-c", 1);
  g_autoptr (KkStoreParty) reused = party_new ("chem", "token-a", 1);
  g_autoptr (GPtrArray) parties = NULL;
  g_autoptr (GError) error = NULL;
  KkStoreParty *loaded;

  g_assert_true (insert_room (f->store, room, &error));
  g_assert_true (insert_party (f->store, group, &error));
  g_assert_no_error (error);
  g_assert_true (insert_party (f->store, single, &error));

  /* Foreign keys are enforced: a party needs its room. */
  g_assert_false (insert_party (f->store, orphan, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Token hashes are unique. */
  g_assert_false (insert_party (f->store, reused, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_EXISTS);
  g_clear_error (&error);

  reopen (f);
  parties = kk_store_load_parties (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (parties->len, ==, 2);
  loaded = g_ptr_array_index (parties, 0);
  if (g_strcmp0 (loaded->id, group->id) != 0)
    loaded = g_ptr_array_index (parties, 1);
  g_assert_cmpstr (loaded->id, ==, group->id);
  g_assert_cmpstr (loaded->room_id, ==, "chem");
  g_assert_cmpstr (loaded->token_hash, ==, group->token_hash);
  g_assert_cmpuint (loaded->participants->len, ==, 3);
  for (guint i = 0; i < 3; i++) {
    KkStoreParticipant *want = g_ptr_array_index (group->participants, i);
    KkStoreParticipant *have = g_ptr_array_index (loaded->participants, i);

    g_assert_cmpstr (have->id, ==, want->id);
    g_assert_cmpstr (have->name, ==, want->name);
    g_assert_cmpstr (have->workplace, ==, "Ward 3");
  }
  g_assert_cmpint (loaded->created_at, >, 0);
}

static char *
session_start (KkStore *store, const char *room, gint64 at, GError **error)
{
  Waiter waiter = { 0 };
  char *id;

  kk_store_session_start (store, room, at, waiter_cb, &waiter);
  waiter_wait (&waiter, NULL);
  id = kk_store_session_start_finish (store, waiter.result, error);
  waiter_clear (&waiter);
  return id;
}

static gboolean
session_end (KkStore *store, const char *id, gint64 at, GError **error)
{
  Waiter waiter = { 0 };
  gboolean ok;

  kk_store_session_end (store, id, at, waiter_cb, &waiter);
  waiter_wait (&waiter, NULL);
  ok = kk_store_session_end_finish (store, waiter.result, error);
  waiter_clear (&waiter);
  return ok;
}

static GPtrArray *
list_sessions (KkStore *store, const char *room)
{
  g_autoptr (GError) error = NULL;
  Waiter waiter = { 0 };
  GPtrArray *sessions;

  kk_store_list_sessions (store, room, waiter_cb, &waiter);
  waiter_wait (&waiter, NULL);
  sessions = kk_store_list_sessions_finish (store, waiter.result, &error);
  g_assert_no_error (error);
  waiter_clear (&waiter);
  return sessions;
}

static void
test_sessions (Fixture *f, gconstpointer data)
{
  g_autoptr (KkRoomConfig) a = room_new ("room-a", "A", "ta");
  g_autoptr (KkRoomConfig) b = room_new ("room-b", "B", "tb");
  g_autoptr (GError) error = NULL;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_autofree char *s3 = NULL;
  g_autoptr (GPtrArray) sessions = NULL;
  KkStoreSession *s;

  g_assert_true (insert_room (f->store, a, &error));
  g_assert_true (insert_room (f->store, b, &error));

  s1 = session_start (f->store, "room-a", 1000000, &error);
  g_assert_no_error (error);
  s2 = session_start (f->store, "room-b", 2000000, &error);
  s3 = session_start (f->store, "room-a", 3000000, &error);
  g_assert_nonnull (s3);
  g_assert_cmpstr (s1, !=, s3);

  g_assert_true (session_end (f->store, s1, 1500000, &error));
  g_assert_no_error (error);
  /* Ending twice, or ending what does not exist, is NOT_FOUND. */
  g_assert_false (session_end (f->store, s1, 1600000, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (session_end (f->store, "nope", 1600000, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A session for an unknown room is refused by the foreign key. */
  g_assert_null (session_start (f->store, "room-x", 1, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  sessions = list_sessions (f->store, "room-a");
  g_assert_cmpuint (sessions->len, ==, 2);
  s = g_ptr_array_index (sessions, 0);
  g_assert_cmpstr (s->id, ==, s1);
  g_assert_cmpstr (s->room_id, ==, "room-a");
  g_assert_cmpint (s->started_at, ==, 1000000);
  g_assert_cmpint (s->ended_at, ==, 1500000);
  s = g_ptr_array_index (sessions, 1);
  g_assert_cmpstr (s->id, ==, s3);
  g_assert_cmpint (s->ended_at, ==, 0);
  g_clear_pointer (&sessions, g_ptr_array_unref);

  sessions = list_sessions (f->store, NULL);
  g_assert_cmpuint (sessions->len, ==, 3);
  s = g_ptr_array_index (sessions, 1);
  g_assert_cmpstr (s->id, ==, s2);
  g_clear_pointer (&sessions, g_ptr_array_unref);

  /* s2 and s3 are still open when the process "dies": a reopen closes
   * them at their start. */
  reopen (f);
  sessions = list_sessions (f->store, NULL);
  g_assert_cmpuint (sessions->len, ==, 3);
  s = g_ptr_array_index (sessions, 0);
  g_assert_cmpint (s->ended_at, ==, 1500000);
  s = g_ptr_array_index (sessions, 1);
  g_assert_cmpint (s->ended_at, ==, 2000000);
  s = g_ptr_array_index (sessions, 2);
  g_assert_cmpint (s->ended_at, ==, 3000000);
}

static void
test_closed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gboolean returned = FALSE;
  Waiter waiter = { 0 };

  kk_store_close (f->store);
  kk_store_close (f->store);
  kk_store_session_start (f->store, "any", 1, waiter_cb, &waiter);
  returned = TRUE;
  /* Never called back from within the call. */
  g_assert_null (waiter.result);
  g_assert_true (returned);
  waiter_wait (&waiter, NULL);
  g_assert_null (kk_store_session_start_finish (f->store, waiter.result,
          &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CLOSED);
  waiter_clear (&waiter);
  g_clear_error (&error);

  g_assert_null (kk_store_load_rooms (f->store, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CLOSED);
}

/* Jobs queued before close still run and are delivered. */
static void
test_close_drains (Fixture *f, gconstpointer data)
{
  g_autoptr (KkRoomConfig) room = room_new ("drain", "Drain", "t");
  g_autoptr (GPtrArray) rooms = NULL;
  g_autoptr (GError) error = NULL;
  Waiter waiter = { 0 };

  kk_store_insert_room_async (f->store, room, waiter_cb, &waiter);
  kk_store_close (f->store);
  waiter_wait (&waiter, NULL);
  g_assert_true (kk_store_insert_room_finish (f->store, waiter.result,
          &error));
  g_assert_no_error (error);
  waiter_clear (&waiter);

  g_clear_object (&f->store);
  f->store = kk_store_open (f->dir, f->database, &error);
  rooms = kk_store_load_rooms (f->store, &error);
  g_assert_cmpuint (rooms->len, ==, 1);
}

static void
test_open_failure (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkStore) store = NULL;

  /* A data dir that cannot be created. */
  store = kk_store_open ("/proc/kk-no-such-dir/data", NULL, &error);
  g_assert_null (store);
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED);
  g_test_message ("%s", error->message);
}

static void
test_admin_token (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "admin-token", NULL);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *contents = NULL;
  GStatBuf st;

  first = kk_store_load_admin_token (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (first), ==, 43);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_true (g_str_has_prefix (contents, first));

  second = kk_store_load_admin_token (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, second);

  /* A damaged file is an error, not a silent new token. */
  g_assert_true (g_file_set_contents (path, "two words\n", -1, NULL));
  g_assert_null (kk_store_load_admin_token (f->dir, &error));
  g_assert_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED);
}

static void
test_tokens (void)
{
  g_autofree char *hash = kk_store_hash_token ("abc");
  g_autofree char *a = kk_store_new_token ();
  g_autofree char *b = kk_store_new_token ();

  /* FIPS 180-2, appendix B.1 */
  g_assert_cmpstr (hash, ==,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_assert_cmpuint (strlen (a), ==, 43);
  g_assert_cmpstr (a, !=, b);
  for (const char *p = a; *p != '\0'; p++)
    g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');
}

/* Migration of a data dir the daemon wrote before every table was in
 * the store's list (schema version 2).
 *
 * The fixture, tests/data/schema-v2-2026-12-07.sql, is the database a
 * real daemon of that time (commit e53d1e5) left after a few API calls
 * and a short broadcast with one viewer (how it was made is at its top).
 * Three data dirs are made from it: as it is; as an earlier build left
 * it, without the columns later builds added by ALTER; and as a
 * version-2 database no module had opened, without the attendance and
 * recording tables. Each opens at schema version 3 with its rows intact,
 * and each module's tables take the module's writes: the attendance log
 * through its public functions, the roster's, presence's and recordings'
 * tables through their statements. */

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
migrate_setup (Fixture *f, gconstpointer data)
{
  Variant variant = GPOINTER_TO_INT (data);
  g_autofree char *dump_path = g_test_build_filename (G_TEST_DIST, "data",
      "schema-v2-2026-12-07.sql", NULL);
  g_autofree char *dump = NULL;
  g_autofree char *db_path = NULL;
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-test-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  db_path = g_build_filename (f->dir, "kringkast.db", NULL);
  g_assert_true (g_file_get_contents (dump_path, &dump, NULL, &error));
  g_assert_no_error (error);
  exec_file_sql (db_path, dump);
  if (variant == WITHOUT_ADDED_COLUMNS)
    exec_file_sql (db_path, without_added_columns);
  else if (variant == WITHOUT_MODULE_TABLES)
    exec_file_sql (db_path, without_module_tables);

  f->store = kk_store_open (f->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
}

static void
assert_query (Fixture *f, const char *sql, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *value = run_job (f->store, query_job, (gpointer) sql,
      &error);

  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, expected);
}

static gpointer
exec_job (KkDb *db, gpointer data, GError **error)
{
  kk_db_exec (db, data, error);
  return NULL;
}

/* Runs @sql, statements that return no rows, and asserts they succeed. */
static void
exec (Fixture *f, const char *sql)
{
  g_autoptr (GError) error = NULL;

  run_job (f->store, exec_job, (gpointer) sql, &error);
  g_assert_no_error (error);
}

/* The rows of the store's own tables, read through kk-store. */
static void
check_store_rows (Fixture *f)
{
  g_autoptr (GPtrArray) rooms = NULL;
  g_autoptr (GPtrArray) parties = NULL;
  g_autoptr (GPtrArray) planned = NULL;
  Waiter waiter = { 0 };
  g_autoptr (KkStoreSession) session = NULL;
  g_autoptr (GError) error = NULL;
  KkRoomConfig *room;
  KkStoreParty *party;
  KkStoreParticipant *person;

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
  person = party->participants->pdata[0];
  g_assert_cmpstr (person->id, ==, PERSON_ID);
  g_assert_cmpstr (person->name, ==, "Kari Nordmann");
  person = party->participants->pdata[1];
  g_assert_cmpstr (person->name, ==, "Per Hansen");

  kk_store_get_session (f->store, SESSION_ID, waiter_cb, &waiter);
  session = kk_store_get_session_finish (f->store, waiter_result (&waiter),
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (session->room_id, ==, "lecture");
  g_assert_cmpint (session->started_at, ==, 1796631019946360);
  g_assert_cmpint (session->ended_at, ==, 1796631025302700);
  waiter_clear (&waiter);

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
  /* The old connection gained a relay protocol, not told (migration 5). */
  assert_query (f, "SELECT COUNT(*) FROM att_connections "
      "WHERE party_id = '" PARTY_ID "' AND relay_protocol IS NULL", "1");
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
  g_autoptr (GError) error = NULL;
  g_autofree char *id = session_start (f->store, "anatomy",
      1796717419000000, &error);

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
  Waiter waiter = { 0 };
  g_autofree KkAttendanceSettings *stored = NULL;
  g_autoptr (GError) error = NULL;

  kk_attendance_policy_init (&settings.policy);
  settings.policy.prompts = 2;
  settings.policy.prompt_interval_us = 600 * G_USEC_PER_SEC;
  kk_attendance_log_set_settings_async (log, "lecture", &settings,
      waiter_cb, &waiter);
  g_assert_true (kk_attendance_log_set_settings_finish (log,
          waiter_result (&waiter), &error));
  g_assert_no_error (error);
  waiter_clear (&waiter);
  kk_attendance_log_get_settings_async (log, "lecture", waiter_cb, &waiter);
  stored = kk_attendance_log_get_settings_finish (log, waiter_result (&waiter),
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->policy.prompts, ==, 2);
  g_assert_cmpint (stored->policy.prompt_interval_us, ==,
      600 * G_USEC_PER_SEC);
  g_assert_cmpuint (stored->retention_days, ==, 7);
  waiter_clear (&waiter);

  if (with_evidence) {
    g_autoptr (KkAttendanceSession) session = NULL;
    g_autoptr (KkAttendanceReport) report = NULL;
    KkAttendanceRow *row;

    kk_attendance_log_get_session_async (log, SESSION_ID, waiter_cb,
        &waiter);
    session = kk_attendance_log_get_session_finish (log,
        waiter_result (&waiter), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (session->room_id, ==, "lecture");
    g_assert_cmpint (session->started_us, ==, 1796631019946357);
    g_assert_cmpint (session->scheduled_start_us, ==, 0);
    waiter_clear (&waiter);

    kk_attendance_log_override_async (log, SESSION_ID, PERSON_ID, TRUE,
        "was in the room", "test", waiter_cb, &waiter);
    g_assert_true (kk_attendance_log_override_finish (log,
            waiter_result (&waiter), &error));
    g_assert_no_error (error);
    waiter_clear (&waiter);

    kk_attendance_log_report_async (log, SESSION_ID, NULL, waiter_cb,
        &waiter);
    report = kk_attendance_log_report_finish (log, waiter_result (&waiter),
        &error);
    g_assert_no_error (error);
    waiter_clear (&waiter);
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
test_migrate_as_written (Fixture *f, gconstpointer data)
{
  assert_query (f, "SELECT version FROM schema_version", "5");
  g_assert_cmpint (KK_STORE_SCHEMA_VERSION, ==, 5);
  check_store_rows (f);
  check_module_rows (f);
  check_other_writes (f);
  check_attendance_log (f, TRUE);
  check_store_writes (f);
}

static void
test_migrate_without_added_columns (Fixture *f, gconstpointer data)
{
  assert_query (f, "SELECT version FROM schema_version", "5");
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
test_migrate_without_module_tables (Fixture *f, gconstpointer data)
{
  assert_query (f, "SELECT version FROM schema_version", "5");
  assert_query (f, "SELECT COUNT(*) FROM att_events", "0");
  assert_query (f, "SELECT COUNT(*) FROM recordings", "0");
  check_store_rows (f);
  check_other_writes (f);
  check_attendance_log (f, FALSE);
  check_store_writes (f);
}

/* Opening again migrates nothing: the version and the rows stay. */
static void
test_migrate_reopen (Fixture *f, gconstpointer data)
{
  reopen (f);
  assert_query (f, "SELECT version FROM schema_version", "5");
  assert_query (f, "SELECT COUNT(*) FROM schema_version", "1");
  check_store_rows (f);
  check_module_rows (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store/tokens", test_tokens);
  g_test_add_func ("/store/open-failure", test_open_failure);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/store/worker-thread", test_worker_thread);
  ADD ("/store/other-thread-context", test_other_thread_context);
  ADD ("/store/pragmas", test_pragmas);
  ADD ("/store/rooms", test_rooms);
  ADD ("/store/parties", test_parties);
  ADD ("/store/sessions", test_sessions);
  ADD ("/store/closed", test_closed);
  ADD ("/store/close-drains", test_close_drains);
  ADD ("/store/admin-token", test_admin_token);
#undef ADD
  /* Data dirs of older builds are SQLite files: PostgreSQL starts at the
   * current version. */
  if (g_getenv ("KK_TEST_DATABASE") == NULL) {
#define ADD(path, variant, func) \
  g_test_add (path, Fixture, GINT_TO_POINTER (variant), migrate_setup, \
      func, fixture_teardown)
  ADD ("/store/migrate/as-written", AS_WRITTEN, test_migrate_as_written);
  ADD ("/store/migrate/without-added-columns", WITHOUT_ADDED_COLUMNS,
      test_migrate_without_added_columns);
  ADD ("/store/migrate/without-module-tables", WITHOUT_MODULE_TABLES,
      test_migrate_without_module_tables);
  ADD ("/store/migrate/reopen", AS_WRITTEN, test_migrate_reopen);
#undef ADD
  }

  return g_test_run ();
}
