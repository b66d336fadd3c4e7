/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-store: kk-store against a real SQLite file in a temporary data dir.
 *
 * Checks that jobs run on the store's own thread and that results come
 * back on the caller's thread-default context (also from a second thread
 * with a context of its own), the pragmas (WAL, synchronous=FULL, foreign
 * keys), the schema version, rooms/parties/sessions round trips and their
 * survival across reopening, crash recovery of open sessions, the admin
 * token file, and the token helpers against a SHA-256 test vector.
 */

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kk-store.h"

typedef struct {
  char *dir;
  KkStore *store;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-test-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
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
  if (f->store != NULL) {
    kk_store_close (f->store);
    g_clear_object (&f->store);
  }
  remove_tree (f->dir);
  g_free (f->dir);
}

static void
reopen (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  kk_store_close (f->store);
  g_clear_object (&f->store);
  f->store = kk_store_open (f->dir, &error);
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

static void
waiter_clear (Waiter *waiter)
{
  g_clear_object (&waiter->result);
  g_clear_pointer (&waiter->callback_context, g_main_context_unref);
  waiter->callback_thread = NULL;
}

/* Runs @func as a store job from the test thread and returns its result. */
static gpointer
run_job (KkStore *store, KkStoreDbJobFunc func, gpointer data, GError **error)
{
  Waiter waiter = { 0 };
  gpointer result;

  kk_store_run_db_async (store, func, data, NULL, g_free, waiter_cb, &waiter);
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
  kk_store_run_db_async (f->store, record_thread_job, &job_thread, NULL,
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
  kk_store_run_db_async (other->store, record_thread_job,
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

  journal = run_job (f->store, query_job, "PRAGMA journal_mode", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (journal, ==, "wal");
  synchronous = run_job (f->store, query_job, "PRAGMA synchronous", &error);
  g_assert_cmpstr (synchronous, ==, "2");   /* FULL */
  foreign_keys = run_job (f->store, query_job, "PRAGMA foreign_keys",
      &error);
  g_assert_cmpstr (foreign_keys, ==, "1");
  version = run_job (f->store, query_job,
      "SELECT version FROM schema_version", &error);
  g_assert_no_error (error);
  g_assert_cmpint (atoi (version), ==, KK_STORE_SCHEMA_VERSION);
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
  f->store = kk_store_open (f->dir, &error);
  rooms = kk_store_load_rooms (f->store, &error);
  g_assert_cmpuint (rooms->len, ==, 1);
}

static void
test_open_failure (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkStore) store = NULL;

  /* A data dir that cannot be created. */
  store = kk_store_open ("/proc/kk-no-such-dir/data", &error);
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

  return g_test_run ();
}
