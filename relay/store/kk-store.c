/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-store: the database (an embedded SQLite file, or a PostgreSQL server
 * that several relays share) on one worker thread.
 *
 * One connection, owned by one thread for its whole life, fed by a
 * GAsyncQueue of jobs (the model is redis's bio.c): the database is never
 * called from the main loop or the media threads, jobs run strictly in the order
 * they were queued (so "start session" cannot overtake "insert room"), and
 * there is no locking around the database at all.
 *
 * A job is a function of the connection. An asynchronous job carries a
 * GTask made on the caller's thread, which captured the caller's
 * thread-default GMainContext; when the job is done the worker attaches an
 * idle source to that context, and the task is returned there. So the
 * worker never touches the task's reference count: the last reference to
 * a task (and through it to the store) is always dropped on the caller's
 * context, never on the worker, which could otherwise end up finalizing
 * the store and joining itself. Synchronous jobs (startup only) wait on a
 * GCond instead.
 *
 * Durability: on SQLite, WAL journal with synchronous=FULL, so a job whose
 * callback reported success survives a power cut; on PostgreSQL, the
 * server's own (a commit returns once its log is flushed, by default).
 * Foreign keys enforced; schema
 * changes are numbered migrations (kk-schema.c) recorded in table
 * schema_version. Queries go through kk-db (kk-db.h), in the SQL dialect
 * every backend accepts.
 */

#include "kk-store.h"

#include "kk-db-pg.h"
#include "kk-db-private.h"
#include "kk-db-sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <openssl/rand.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (kk-store-error-quark, kk_store_error)

#define KK_STORE_DB_NAME "kringkast.db"
#define KK_STORE_ADMIN_TOKEN_NAME "admin-token"
#define KK_STORE_TOKEN_BYTES 32
/* A token file longer than this is not one we wrote. */
#define KK_STORE_TOKEN_FILE_MAX 1024

struct _KkStore {
  GObject parent_instance;

  char *data_dir;
  char *database;               /* nullable: PostgreSQL URL */
  GThread *thread;
  GAsyncQueue *queue;           /* element-type KkStoreJob */
  GMutex lock;                  /* orders submissions against close */
  gboolean closed;              /* under @lock */

  KkDb *db;                     /* worker thread only */
};

G_DEFINE_FINAL_TYPE (KkStore, kk_store, G_TYPE_OBJECT)

typedef struct {
  KkStoreJobFunc func;
  gpointer data;
  GDestroyNotify data_free;
  GDestroyNotify result_free;
  gpointer result;
  GError *error;
  gboolean quit;

  GTask *task;                  /* asynchronous jobs */

  gboolean sync;                /* synchronous jobs */
  GMutex mutex;
  GCond cond;
  gboolean done;
} KkStoreJob;

/* Plain data. */

void
kk_store_participant_free (KkStoreParticipant *participant)
{
  if (participant == NULL)
    return;
  g_free (participant->id);
  g_free (participant->name);
  g_free (participant->workplace);
  g_free (participant);
}

KkStoreParty *
kk_store_party_new (void)
{
  KkStoreParty *party = g_new0 (KkStoreParty, 1);

  party->participants = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_store_participant_free);
  return party;
}

void
kk_store_party_free (KkStoreParty *party)
{
  if (party == NULL)
    return;
  g_free (party->id);
  g_free (party->room_id);
  g_free (party->token_hash);
  g_ptr_array_unref (party->participants);
  g_free (party);
}

static KkStoreParty *
party_copy (const KkStoreParty *party)
{
  KkStoreParty *copy = kk_store_party_new ();

  copy->id = g_strdup (party->id);
  copy->room_id = g_strdup (party->room_id);
  copy->token_hash = g_strdup (party->token_hash);
  copy->created_at = party->created_at;
  for (guint i = 0; i < party->participants->len; i++) {
    const KkStoreParticipant *p = g_ptr_array_index (party->participants, i);
    KkStoreParticipant *c = g_new0 (KkStoreParticipant, 1);

    c->id = g_strdup (p->id);
    c->name = g_strdup (p->name);
    c->workplace = g_strdup (p->workplace != NULL ? p->workplace : "");
    g_ptr_array_add (copy->participants, c);
  }
  return copy;
}

void
kk_store_session_free (KkStoreSession *session)
{
  if (session == NULL)
    return;
  g_free (session->id);
  g_free (session->room_id);
  g_free (session->recording);
  g_free (session);
}

/* Tokens. */

char *
kk_store_new_token (void)
{
  guint8 bytes[KK_STORE_TOKEN_BYTES];
  char *token;
  gsize len;

  /* Without a working CSPRNG no token we could hand out would be safe, and
   * OpenSSL only fails here if the kernel's entropy source is gone: this
   * is not something to recover from. */
  if (RAND_bytes (bytes, sizeof bytes) != 1)
    g_error ("OpenSSL RAND_bytes failed: no secure random source");

  token = g_base64_encode (bytes, sizeof bytes);
  OPENSSL_cleanse (bytes, sizeof bytes);
  g_strdelimit (token, "+", '-');
  g_strdelimit (token, "/", '_');
  len = strlen (token);
  while (len > 0 && token[len - 1] == '=')
    token[--len] = '\0';
  return token;
}

char *
kk_store_hash_token (const char *token)
{
  g_return_val_if_fail (token != NULL, NULL);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

static gboolean
token_text_is_valid (const char *token)
{
  if (token[0] == '\0')
    return FALSE;
  for (const char *p = token; *p != '\0'; p++) {
    if (*p < 0x21 || *p > 0x7e)
      return FALSE;
  }
  return TRUE;
}

static char *
read_admin_token (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  GStatBuf st;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  if (length > KK_STORE_TOKEN_FILE_MAX || memchr (contents, '\0', length)) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "%s: not a token file", path);
    return NULL;
  }
  g_strstrip (contents);
  if (!token_text_is_valid (contents)) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "%s: the token must be one line of visible ASCII characters", path);
    return NULL;
  }
  if (g_stat (path, &st) == 0 && (st.st_mode & 077) != 0)
    g_message ("%s is readable by other users; chmod 600 it", path);
  return g_steal_pointer (&contents);
}

char *
kk_store_load_admin_token (const char *data_dir, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, KK_STORE_ADMIN_TOKEN_NAME,
      NULL);
  g_autofree char *token = NULL;
  g_autofree char *line = NULL;
  gsize written = 0;
  int fd;

  /* O_EXCL makes "create if missing" atomic, so two daemons started on
   * the same directory agree on one token. */
  fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int saved_errno = errno;

    if (saved_errno == EEXIST)
      return read_admin_token (path, error);
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "%s: %s", path, g_strerror (saved_errno));
    return NULL;
  }

  token = kk_store_new_token ();
  line = g_strconcat (token, "\n", NULL);
  while (written < strlen (line)) {
    gssize n = write (fd, line + written, strlen (line) - written);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    written += n;
  }
  if (written != strlen (line) || fsync (fd) != 0) {
    int saved_errno = errno;

    close (fd);
    g_unlink (path);
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "%s: %s", path, g_strerror (saved_errno));
    return NULL;
  }
  close (fd);

  g_printerr ("kringkast: created the coordinator token (saved in %s):\n"
      "kringkast:   %s\n", path, token);
  return g_steal_pointer (&token);
}

/* The job queue. */

static void
job_free (KkStoreJob *job)
{
  if (job->data_free != NULL && job->data != NULL)
    job->data_free (job->data);
  if (job->result_free != NULL && job->result != NULL)
    job->result_free (job->result);
  g_clear_error (&job->error);
  g_clear_object (&job->task);
  if (job->sync) {
    g_mutex_clear (&job->mutex);
    g_cond_clear (&job->cond);
  }
  g_free (job);
}

/* On the caller's context. */
static gboolean
job_deliver (gpointer user_data)
{
  KkStoreJob *job = user_data;

  if (job->error != NULL)
    g_task_return_error (job->task, g_steal_pointer (&job->error));
  else
    g_task_return_pointer (job->task, g_steal_pointer (&job->result),
        job->result_free);
  job_free (job);
  return G_SOURCE_REMOVE;
}

static gpointer
worker_main (gpointer user_data)
{
  KkStore *store = user_data;

  for (;;) {
    KkStoreJob *job = g_async_queue_pop (store->queue);
    gboolean quit = job->quit;

    if (quit) {
      g_clear_pointer (&store->db, kk_db_close);
      job_free (job);
      break;
    }

    job->result = job->func (store->db, job->data, &job->error);
    if (job->data_free != NULL)
      job->data_free (job->data);
    job->data = NULL;

    if (job->sync) {
      g_mutex_lock (&job->mutex);
      job->done = TRUE;
      g_cond_signal (&job->cond);
      g_mutex_unlock (&job->mutex);
    } else {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, job_deliver, job, NULL);
      g_source_set_static_name (source, "[kk-store] deliver");
      g_source_attach (source, g_task_get_context (job->task));
      g_source_unref (source);
    }
  }
  return NULL;
}

/* Queues @job unless the store is closed. */
static gboolean
submit (KkStore *store, KkStoreJob *job)
{
  gboolean ok;

  g_mutex_lock (&store->lock);
  ok = !store->closed;
  if (ok)
    g_async_queue_push (store->queue, job);
  g_mutex_unlock (&store->lock);
  return ok;
}

static gpointer
run_sync (KkStore *store, KkStoreJobFunc func, gpointer data,
    GDestroyNotify data_free, GError **error)
{
  KkStoreJob *job = g_new0 (KkStoreJob, 1);
  gpointer result;

  job->func = func;
  job->data = data;
  job->data_free = data_free;
  job->sync = TRUE;
  g_mutex_init (&job->mutex);
  g_cond_init (&job->cond);

  if (!submit (store, job)) {
    job_free (job);
    g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_CLOSED,
        "the store is closed");
    return NULL;
  }

  g_mutex_lock (&job->mutex);
  while (!job->done)
    g_cond_wait (&job->cond, &job->mutex);
  g_mutex_unlock (&job->mutex);

  result = g_steal_pointer (&job->result);
  if (job->error != NULL)
    g_propagate_error (error, g_steal_pointer (&job->error));
  job_free (job);
  return result;
}

void
kk_store_run_async (KkStore *store, KkStoreJobFunc func, gpointer job_data,
    GDestroyNotify job_data_free, GDestroyNotify result_free,
    GAsyncReadyCallback callback, gpointer user_data)
{
  KkStoreJob *job;

  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (func != NULL);

  job = g_new0 (KkStoreJob, 1);
  job->func = func;
  job->data = job_data;
  job->data_free = job_data_free;
  job->result_free = result_free;
  job->task = g_task_new (store, NULL, callback, user_data);
  g_task_set_source_tag (job->task, kk_store_run_async);

  if (!submit (store, job)) {
    /* Returned in a later iteration (the task was made in this one), so
     * the callback never runs before this function returns. */
    g_task_return_new_error (job->task, KK_STORE_ERROR, KK_STORE_ERROR_CLOSED,
        "the store is closed");
    job_free (job);
  }
}

gpointer
kk_store_run_finish (KkStore *store, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, store), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
      kk_store_run_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Opening, on the worker. */

/* A session still open at startup was live when the previous process
 * died. Nothing tells when its broadcast really stopped, so it is closed
 * at its own start (zero length) rather than left open forever. In a
 * transaction (kk_db_transaction, with its write lock), so that on a
 * shared database the sessions closed are those logged, whatever other
 * relays write meanwhile. */
static gboolean
close_stale_sessions (KkDb *db, gpointer unused, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT id, room_id "
      "FROM sessions WHERE ended_at IS NULL AND started_at IS NOT NULL",
      error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    g_message ("store: room %s: session %s was left open by an unclean stop; "
        "closing it at its start time", kk_db_column_text (stmt, 1),
        kk_db_column_text (stmt, 0));
  }
  if (step == KK_DB_ERROR) {
    g_prefix_error (error, "reading open sessions: ");
    return FALSE;
  }

  return kk_db_exec (db, "UPDATE sessions SET ended_at = started_at "
      "WHERE ended_at IS NULL AND started_at IS NOT NULL", error);
}

static gpointer
open_job (KkDb *unused, gpointer data, GError **error)
{
  KkStore *store = data;
  g_autofree char *path = NULL;
  KkDb *db;

  if (store->database != NULL) {
    db = kk_db_pg_open (store->database, error);
  } else {
    path = g_build_filename (store->data_dir, KK_STORE_DB_NAME, NULL);
    db = kk_db_sqlite_open (path, error);
  }
  if (db == NULL)
    return NULL;
  if (!kk_schema_migrate (db, error)
      || !kk_db_transaction (db, close_stale_sessions, NULL, error)) {
    g_prefix_error (error, "%s: ", path != NULL ? path : "PostgreSQL");
    kk_db_close (db);
    return NULL;
  }
  store->db = db;
  return NULL;
}

KkStore *
kk_store_open (const char *data_dir, const char *database, GError **error)
{
  g_autoptr (KkStore) store = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (data_dir != NULL, NULL);

  if (g_mkdir_with_parents (data_dir, 0750) != 0) {
    int saved_errno = errno;

    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "cannot create data directory %s: %s", data_dir,
        g_strerror (saved_errno));
    return NULL;
  }

  store = g_object_new (KK_TYPE_STORE, NULL);
  store->data_dir = g_strdup (data_dir);
  store->database = g_strdup (database);
  store->thread = g_thread_new ("kk-store", worker_main, store);

  run_sync (store, open_job, store, NULL, &local_error);
  if (local_error != NULL) {
    g_propagate_error (error, local_error);
    return NULL;
  }
  return g_steal_pointer (&store);
}

void
kk_store_close (KkStore *store)
{
  KkStoreJob *quit;
  GThread *thread;

  g_return_if_fail (KK_IS_STORE (store));

  g_mutex_lock (&store->lock);
  if (store->closed) {
    g_mutex_unlock (&store->lock);
    return;
  }
  store->closed = TRUE;
  quit = g_new0 (KkStoreJob, 1);
  quit->quit = TRUE;
  g_async_queue_push (store->queue, quit);
  thread = g_steal_pointer (&store->thread);
  g_mutex_unlock (&store->lock);

  g_thread_join (thread);
}

const char *
kk_store_get_data_dir (KkStore *store)
{
  g_return_val_if_fail (KK_IS_STORE (store), NULL);

  return store->data_dir;
}

static void
kk_store_finalize (GObject *object)
{
  KkStore *store = KK_STORE (object);

  if (store->thread != NULL)
    kk_store_close (store);
  g_async_queue_unref (store->queue);
  g_mutex_clear (&store->lock);
  g_free (store->data_dir);
  g_free (store->database);

  G_OBJECT_CLASS (kk_store_parent_class)->finalize (object);
}

static void
kk_store_class_init (KkStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_store_finalize;
}

static void
kk_store_init (KkStore *store)
{
  store->queue = g_async_queue_new ();
  g_mutex_init (&store->lock);
}

/* Rooms. */

static KkRoomConfig *
room_from_row (KkDbStmt *stmt)
{
  KkRoomConfig *room = g_new0 (KkRoomConfig, 1);

  room->id = kk_db_column_dup (stmt, 0);
  room->title = kk_db_column_dup (stmt, 1);
  room->record = kk_db_column_int64 (stmt, 2) != 0;
  room->completion_ratio = kk_db_column_double (stmt, 3);
  room->host_token = kk_db_column_dup (stmt, 4);
  room->source = kk_db_column_dup (stmt, 5);
  room->source_uri = kk_db_column_dup (stmt, 6);
  return room;
}

#define ROOM_COLUMNS \
  "id, title, record, completion_ratio, host_token, source, source_uri"

static gpointer
load_rooms_job (KkDb *db, gpointer data, GError **error)
{
  g_autoptr (GPtrArray) rooms = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_room_config_free);
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " ROOM_COLUMNS
      " FROM rooms ORDER BY id", error);
  KkDbStep step;

  if (stmt == NULL)
    return NULL;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW)
    g_ptr_array_add (rooms, room_from_row (stmt));
  if (step == KK_DB_ERROR) {
    g_prefix_error (error, "loading rooms: ");
    return NULL;
  }
  return g_steal_pointer (&rooms);
}

GPtrArray *
kk_store_load_rooms (KkStore *store, GError **error)
{
  g_return_val_if_fail (KK_IS_STORE (store), NULL);

  return run_sync (store, load_rooms_job, NULL, NULL, error);
}

static gboolean
insert_room (KkDb *db, const KkRoomConfig *room, gboolean upsert,
    gboolean token_given, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, upsert
      ? "INSERT INTO rooms (" ROOM_COLUMNS ", created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
        "record = excluded.record, "
        "completion_ratio = excluded.completion_ratio, "
        "source = excluded.source, source_uri = excluded.source_uri, "
        "host_token = CASE WHEN ?9 = 1 THEN excluded.host_token "
        "ELSE rooms.host_token END"
      : "INSERT INTO rooms (" ROOM_COLUMNS ", created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, room->id);
  kk_db_bind_text (stmt, 2, room->title);
  kk_db_bind_int64 (stmt, 3, room->record ? 1 : 0);
  kk_db_bind_double (stmt, 4, room->completion_ratio);
  kk_db_bind_text (stmt, 5, room->host_token);
  kk_db_bind_text (stmt, 6, room->source != NULL ? room->source : "whip");
  kk_db_bind_text (stmt, 7, room->source_uri);
  kk_db_bind_int64 (stmt, 8, g_get_real_time ());
  if (upsert)
    kk_db_bind_int64 (stmt, 9, token_given ? 1 : 0);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "storing room: ");
    return FALSE;
  }
  return TRUE;
}

typedef struct {
  KkRoomConfig *room;
  gboolean token_given;
} EnsureRoomData;

static void
ensure_room_data_free (EnsureRoomData *data)
{
  kk_room_config_free (data->room);
  g_free (data);
}

static gpointer
ensure_room_job (KkDb *db, gpointer user_data, GError **error)
{
  EnsureRoomData *data = user_data;
  g_autoptr (KkDbStmt) stmt = NULL;

  if (!insert_room (db, data->room, TRUE, data->token_given, error))
    return NULL;

  stmt = kk_db_prepare (db, "SELECT " ROOM_COLUMNS " FROM rooms "
      "WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, data->room->id);
  switch (kk_db_step (stmt, error)) {
    case KK_DB_ROW:
      return room_from_row (stmt);
    case KK_DB_DONE:
      /* The row was written just now, in this job: not finding it is a
       * failure of the database, not a missing room. */
      g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
          "not found");
      G_GNUC_FALLTHROUGH;
    case KK_DB_ERROR:
    default:
      g_prefix_error (error, "reading back room: ");
      return NULL;
  }
}

KkRoomConfig *
kk_store_ensure_room (KkStore *store, const KkRoomConfig *room,
    GError **error)
{
  EnsureRoomData *data;

  g_return_val_if_fail (KK_IS_STORE (store), NULL);
  g_return_val_if_fail (room != NULL && room->id != NULL, NULL);

  data = g_new0 (EnsureRoomData, 1);
  data->room = kk_room_config_copy (room);
  data->token_given = room->host_token != NULL;
  if (data->room->host_token == NULL)
    data->room->host_token = kk_store_new_token ();
  return run_sync (store, ensure_room_job, data,
      (GDestroyNotify) ensure_room_data_free, error);
}

static gpointer
insert_room_job (KkDb *db, gpointer data, GError **error)
{
  insert_room (db, data, FALSE, TRUE, error);
  return NULL;
}

void
kk_store_insert_room_async (KkStore *store, const KkRoomConfig *room,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (room != NULL && room->id != NULL && room->title != NULL);
  g_return_if_fail (room->host_token != NULL);

  kk_store_run_async (store, insert_room_job, kk_room_config_copy (room),
      (GDestroyNotify) kk_room_config_free, NULL, callback, user_data);
}

/* For jobs that return no value. */
static gboolean
finish_boolean (KkStore *store, GAsyncResult *result, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  kk_store_run_finish (store, result, &local_error);
  if (local_error != NULL) {
    g_propagate_error (error, g_steal_pointer (&local_error));
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_store_insert_room_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return finish_boolean (store, result, error);
}

typedef struct {
  char *id;
  char *title;
  int record;
  double completion_ratio;
} RoomUpdate;

static void
room_update_free (RoomUpdate *update)
{
  g_free (update->id);
  g_free (update->title);
  g_free (update);
}

/* NULL binds leave a column as it is (COALESCE). */
static gpointer
update_room_job (KkDb *db, gpointer data, GError **error)
{
  RoomUpdate *update = data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "UPDATE rooms SET "
      "title = COALESCE (?2, title), record = COALESCE (?3, record), "
      "completion_ratio = COALESCE (?4, completion_ratio) WHERE id = ?1",
      error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, update->id);
  kk_db_bind_text (stmt, 2, update->title);
  if (update->record >= 0)
    kk_db_bind_int64 (stmt, 3, update->record);
  else
    kk_db_bind_null (stmt, 3);
  if (!isnan (update->completion_ratio))
    kk_db_bind_double (stmt, 4, update->completion_ratio);
  else
    kk_db_bind_null (stmt, 4);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "updating room: ");
    return NULL;
  }
  if (kk_db_changes (db) == 0)
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND,
        "no room %s", update->id);
  return NULL;
}

void
kk_store_update_room_async (KkStore *store, const char *room_id,
    const char *title, int record, double completion_ratio,
    GAsyncReadyCallback callback, gpointer user_data)
{
  RoomUpdate *update;

  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (room_id != NULL);

  update = g_new0 (RoomUpdate, 1);
  update->id = g_strdup (room_id);
  update->title = g_strdup (title);
  update->record = record < 0 ? -1 : record != 0;
  update->completion_ratio = completion_ratio;
  kk_store_run_async (store, update_room_job, update,
      (GDestroyNotify) room_update_free, NULL, callback, user_data);
}

gboolean
kk_store_update_room_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return finish_boolean (store, result, error);
}

/* Parties. */

static gpointer
load_parties_job (KkDb *db, gpointer data, GError **error)
{
  g_autoptr (GPtrArray) parties = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_store_party_free);
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (KkDbStmt) stmt = NULL;
  KkDbStep step;

  stmt = kk_db_prepare (db, "SELECT id, room_id, token_hash, created_at "
      "FROM parties ORDER BY created_at, id", error);
  if (stmt == NULL)
    return NULL;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    KkStoreParty *party = kk_store_party_new ();

    party->id = kk_db_column_dup (stmt, 0);
    party->room_id = kk_db_column_dup (stmt, 1);
    party->token_hash = kk_db_column_dup (stmt, 2);
    party->created_at = kk_db_column_int64 (stmt, 3);
    g_ptr_array_add (parties, party);
    g_hash_table_insert (by_id, party->id, party);
  }
  if (step == KK_DB_ERROR) {
    g_prefix_error (error, "loading parties: ");
    return NULL;
  }
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "SELECT id, party_id, name, workplace "
      "FROM participants ORDER BY party_id, ord", error);
  if (stmt == NULL)
    return NULL;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    KkStoreParty *party = g_hash_table_lookup (by_id,
        kk_db_column_text (stmt, 1));
    KkStoreParticipant *participant;

    if (party == NULL)
      continue;
    participant = g_new0 (KkStoreParticipant, 1);
    participant->id = kk_db_column_dup (stmt, 0);
    participant->name = kk_db_column_dup (stmt, 2);
    participant->workplace = kk_db_column_dup (stmt, 3);
    g_ptr_array_add (party->participants, participant);
  }
  if (step == KK_DB_ERROR) {
    g_prefix_error (error, "loading participants: ");
    return NULL;
  }
  return g_steal_pointer (&parties);
}

GPtrArray *
kk_store_load_parties (KkStore *store, GError **error)
{
  g_return_val_if_fail (KK_IS_STORE (store), NULL);

  return run_sync (store, load_parties_job, NULL, NULL, error);
}

static gboolean
insert_party (KkDb *db, gpointer user_data, GError **error)
{
  const KkStoreParty *party = user_data;
  const KkStoreParticipant *self = g_ptr_array_index (party->participants, 0);
  g_autoptr (KkDbStmt) stmt = NULL;

  stmt = kk_db_prepare (db, "INSERT INTO parties (id, room_id, token_hash, "
      "name, workplace, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, party->id);
  kk_db_bind_text (stmt, 2, party->room_id);
  kk_db_bind_text (stmt, 3, party->token_hash);
  kk_db_bind_text (stmt, 4, self->name);
  kk_db_bind_text (stmt, 5, self->workplace);
  kk_db_bind_int64 (stmt, 6, party->created_at);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "storing party: ");
    return FALSE;
  }
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "INSERT INTO participants (id, party_id, "
      "room_id, ord, name, workplace, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", error);
  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < party->participants->len; i++) {
    const KkStoreParticipant *p = g_ptr_array_index (party->participants, i);

    kk_db_reset (stmt);
    kk_db_bind_text (stmt, 1, p->id);
    kk_db_bind_text (stmt, 2, party->id);
    kk_db_bind_text (stmt, 3, party->room_id);
    kk_db_bind_int64 (stmt, 4, i);
    kk_db_bind_text (stmt, 5, p->name);
    kk_db_bind_text (stmt, 6, p->workplace);
    kk_db_bind_int64 (stmt, 7, party->created_at);
    if (!kk_db_step_done (stmt, error)) {
      g_prefix_error (error, "storing participant: ");
      return FALSE;
    }
  }
  return TRUE;
}

static gpointer
insert_party_job (KkDb *db, gpointer data, GError **error)
{
  KkStoreParty *party = data;

  if (party->created_at == 0)
    party->created_at = g_get_real_time ();
  kk_db_transaction (db, insert_party, party, error);
  return NULL;
}

void
kk_store_insert_party_async (KkStore *store, const KkStoreParty *party,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (party != NULL && party->id != NULL);
  g_return_if_fail (party->room_id != NULL && party->token_hash != NULL);
  g_return_if_fail (party->participants->len >= 1);

  kk_store_run_async (store, insert_party_job, party_copy (party),
      (GDestroyNotify) kk_store_party_free, NULL, callback, user_data);
}

gboolean
kk_store_insert_party_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return finish_boolean (store, result, error);
}

/* Sessions. */

typedef struct {
  char *id;
  char *room_id;
  gint64 time;
} SessionData;

static void
session_data_free (SessionData *data)
{
  g_free (data->id);
  g_free (data->room_id);
  g_free (data);
}

#define SESSION_COLUMNS "id, room_id, started_at, ended_at, recording, " \
  "scheduled_start, scheduled_end"

static KkStoreSession *
session_from_row (KkDbStmt *stmt)
{
  KkStoreSession *session = g_new0 (KkStoreSession, 1);

  /* NULL columns read as 0, which is what the struct means by "none". */
  session->id = kk_db_column_dup (stmt, 0);
  session->room_id = kk_db_column_dup (stmt, 1);
  session->started_at = kk_db_column_int64 (stmt, 2);
  session->ended_at = kk_db_column_int64 (stmt, 3);
  session->recording = kk_db_column_dup (stmt, 4);
  session->scheduled_start = kk_db_column_int64 (stmt, 5);
  session->scheduled_end = kk_db_column_int64 (stmt, 6);
  return session;
}

typedef struct {
  const SessionData *data;
  char *id;                     /* out: the session's id */
} SessionStart;

/* The broadcast takes over the room's scheduled session whose window
 * covers its start, or is a new ad hoc one: in one transaction, so a
 * reschedule or cancel queued at the same moment sees either the planned
 * session or the live one, never half of each. */
static gboolean
session_start (KkDb *db, gpointer user_data, GError **error)
{
  SessionStart *start = user_data;
  const SessionData *data = start->data;
  g_autofree char *planned = NULL;
  g_autoptr (KkDbStmt) stmt = NULL;

  stmt = kk_db_prepare (db, "SELECT id FROM sessions WHERE room_id = ?1 "
      "AND started_at IS NULL AND scheduled_start - ?3 <= ?2 "
      "AND ?2 < scheduled_end ORDER BY scheduled_start, id LIMIT 1", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, data->room_id);
  kk_db_bind_int64 (stmt, 2, data->time);
  kk_db_bind_int64 (stmt, 3,
      (gint64) KK_STORE_SCHEDULE_LEAD_S * G_USEC_PER_SEC);
  switch (kk_db_step (stmt, error)) {
    case KK_DB_ROW:
      planned = kk_db_column_dup (stmt, 0);
      break;
    case KK_DB_DONE:
      break;
    case KK_DB_ERROR:
    default:
      g_prefix_error (error, "finding the scheduled session: ");
      return FALSE;
  }
  g_clear_pointer (&stmt, kk_db_stmt_free);

  if (planned != NULL) {
    stmt = kk_db_prepare (db, "UPDATE sessions SET started_at = ?2 "
        "WHERE id = ?1", error);
    if (stmt == NULL)
      return FALSE;
    kk_db_bind_text (stmt, 1, planned);
    kk_db_bind_int64 (stmt, 2, data->time);
    if (!kk_db_step_done (stmt, error)) {
      g_prefix_error (error, "starting session: ");
      return FALSE;
    }
    g_info ("store: room %s: the broadcast is scheduled session %s",
        data->room_id, planned);
    start->id = g_steal_pointer (&planned);
    return TRUE;
  }

  stmt = kk_db_prepare (db, "INSERT INTO sessions (id, room_id, "
      "started_at) VALUES (?1, ?2, ?3)", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, data->id);
  kk_db_bind_text (stmt, 2, data->room_id);
  kk_db_bind_int64 (stmt, 3, data->time);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "starting session: ");
    return FALSE;
  }
  start->id = g_strdup (data->id);
  return TRUE;
}

static gpointer
session_start_job (KkDb *db, gpointer user_data, GError **error)
{
  SessionStart start = { user_data, NULL };

  if (!kk_db_transaction (db, session_start, &start, error)) {
    g_free (start.id);
    return NULL;
  }
  return start.id;
}

void
kk_store_session_start (KkStore *store, const char *room_id,
    gint64 started_at_us, GAsyncReadyCallback callback, gpointer user_data)
{
  SessionData *data;

  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (room_id != NULL);

  data = g_new0 (SessionData, 1);
  data->id = g_uuid_string_random ();
  data->room_id = g_strdup (room_id);
  data->time = started_at_us;
  kk_store_run_async (store, session_start_job, data,
      (GDestroyNotify) session_data_free, g_free, callback, user_data);
}

char *
kk_store_session_start_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return kk_store_run_finish (store, result, error);
}

static gpointer
session_end_job (KkDb *db, gpointer user_data, GError **error)
{
  SessionData *data = user_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "UPDATE sessions "
      "SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL", error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, data->id);
  kk_db_bind_int64 (stmt, 2, data->time);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "updating session: ");
    return NULL;
  }
  if (kk_db_changes (db) == 0)
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND,
        "no open session %s", data->id);
  return NULL;
}

void
kk_store_session_end (KkStore *store, const char *session_id,
    gint64 ended_at_us, GAsyncReadyCallback callback, gpointer user_data)
{
  SessionData *data;

  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (session_id != NULL);

  data = g_new0 (SessionData, 1);
  data->id = g_strdup (session_id);
  data->time = ended_at_us;
  kk_store_run_async (store, session_end_job, data,
      (GDestroyNotify) session_data_free, NULL, callback, user_data);
}

gboolean
kk_store_session_end_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return finish_boolean (store, result, error);
}

static void
session_list_free (gpointer data)
{
  g_ptr_array_unref (data);
}

/* Runs @stmt and collects its rows as sessions; @what names the query in
 * an error. */
static GPtrArray *
read_sessions (KkDbStmt *stmt, const char *what, GError **error)
{
  g_autoptr (GPtrArray) sessions = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_store_session_free);
  KkDbStep step;

  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW)
    g_ptr_array_add (sessions, session_from_row (stmt));
  if (step == KK_DB_ERROR) {
    g_prefix_error (error, "%s: ", what);
    return NULL;
  }
  return g_steal_pointer (&sessions);
}

static gpointer
list_sessions_job (KkDb *db, gpointer user_data, GError **error)
{
  SessionData *data = user_data;
  /* COALESCE rather than `?1 IS NULL OR room_id = ?1`, where PostgreSQL
   * cannot tell the type of a NULL ?1. */
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " SESSION_COLUMNS
      " FROM sessions WHERE room_id = COALESCE (?1, room_id)"
      " ORDER BY COALESCE (scheduled_start, started_at), id", error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, data->room_id);
  return read_sessions (stmt, "listing sessions", error);
}

void
kk_store_list_sessions (KkStore *store, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  SessionData *data;

  g_return_if_fail (KK_IS_STORE (store));

  data = g_new0 (SessionData, 1);
  data->room_id = g_strdup (room_id);
  kk_store_run_async (store, list_sessions_job, data,
      (GDestroyNotify) session_data_free, session_list_free, callback,
      user_data);
}

GPtrArray *
kk_store_list_sessions_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return kk_store_run_finish (store, result, error);
}

/* Planned sessions. */

typedef struct {
  char *id;                     /* NULL for a new session */
  char *room_id;
  gint64 start;
  gint64 end;
  KkStoreSession *session;      /* out: as stored */
} ScheduleData;

static void
schedule_data_free (ScheduleData *data)
{
  g_free (data->id);
  g_free (data->room_id);
  kk_store_session_free (data->session);
  g_free (data);
}

static void
session_result_free (gpointer data)
{
  kk_store_session_free (data);
}

/* Reads session @id; a NULL return without error means there is none. */
static KkStoreSession *
read_session (KkDb *db, const char *id, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " SESSION_COLUMNS
      " FROM sessions WHERE id = ?1", error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, id);
  switch (kk_db_step (stmt, error)) {
    case KK_DB_ROW:
      return session_from_row (stmt);
    case KK_DB_DONE:
      return NULL;
    case KK_DB_ERROR:
    default:
      g_prefix_error (error, "reading session: ");
      return NULL;
  }
}

/* The session @id, if it may still be changed: it exists (NOT_FOUND) and
 * has not been broadcast (CONFLICT; an ad hoc session always was). */
static KkStoreSession *
read_planned_session (KkDb *db, const char *id, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (KkStoreSession) session = read_session (db, id, &local_error);

  if (local_error != NULL) {
    g_propagate_error (error, g_steal_pointer (&local_error));
    return NULL;
  }
  if (session == NULL) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND,
        "no session %s", id);
    return NULL;
  }
  if (session->started_at != 0) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT,
        "session %s has gone live", id);
    return NULL;
  }
  return g_steal_pointer (&session);
}

/* Refuses planned times that overlap another session of the room: one
 * room carries one lecture at a time. */
static gboolean
check_no_overlap (KkDb *db, const ScheduleData *data, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT id FROM sessions "
      "WHERE room_id = ?1 AND id IS DISTINCT FROM ?2 "
      "AND scheduled_start < ?4 AND scheduled_end > ?3 "
      "ORDER BY scheduled_start LIMIT 1", error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, data->room_id);
  kk_db_bind_text (stmt, 2, data->id);
  kk_db_bind_int64 (stmt, 3, data->start);
  kk_db_bind_int64 (stmt, 4, data->end);
  switch (kk_db_step (stmt, error)) {
    case KK_DB_DONE:
      return TRUE;
    case KK_DB_ROW:
      g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT,
          "the time overlaps session %s of room %s",
          kk_db_column_text (stmt, 0), data->room_id);
      return FALSE;
    case KK_DB_ERROR:
    default:
      g_prefix_error (error, "checking the schedule: ");
      return FALSE;
  }
}

static gboolean
schedule (KkDb *db, gpointer user_data, GError **error)
{
  ScheduleData *data = user_data;
  g_autofree char *new_id = NULL;
  g_autoptr (KkDbStmt) stmt = NULL;
  g_autoptr (GError) local_error = NULL;

  if (data->id != NULL) {
    g_autoptr (KkStoreSession) planned = read_planned_session (db, data->id,
        error);

    if (planned == NULL)
      return FALSE;
    data->room_id = g_strdup (planned->room_id);
  }
  if (!check_no_overlap (db, data, error))
    return FALSE;

  if (data->id != NULL) {
    stmt = kk_db_prepare (db, "UPDATE sessions SET scheduled_start = ?2, "
        "scheduled_end = ?3 WHERE id = ?1", error);
  } else {
    new_id = g_uuid_string_random ();
    stmt = kk_db_prepare (db, "INSERT INTO sessions (id, scheduled_start, "
        "scheduled_end, room_id) VALUES (?1, ?2, ?3, ?4)", error);
  }
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, data->id != NULL ? data->id : new_id);
  kk_db_bind_int64 (stmt, 2, data->start);
  kk_db_bind_int64 (stmt, 3, data->end);
  if (data->id == NULL)
    kk_db_bind_text (stmt, 4, data->room_id);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "scheduling session: ");
    return FALSE;
  }
  data->session = read_session (db, data->id != NULL ? data->id : new_id,
      &local_error);
  if (local_error != NULL) {
    g_propagate_error (error, g_steal_pointer (&local_error));
    return FALSE;
  }
  /* Read back in the transaction that wrote it: a session that is not
   * there is a failure of the database. */
  if (data->session == NULL) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "session %s vanished", data->id != NULL ? data->id : new_id);
    return FALSE;
  }
  return TRUE;
}

static gpointer
schedule_job (KkDb *db, gpointer user_data, GError **error)
{
  ScheduleData *data = user_data;

  if (!kk_db_transaction (db, schedule, data, error))
    return NULL;
  return g_steal_pointer (&data->session);
}

static void
schedule_async (KkStore *store, const char *session_id, const char *room_id,
    gint64 start_us, gint64 end_us, GAsyncReadyCallback callback,
    gpointer user_data)
{
  ScheduleData *data = g_new0 (ScheduleData, 1);

  data->id = g_strdup (session_id);
  data->room_id = g_strdup (room_id);
  data->start = start_us;
  data->end = end_us;
  kk_store_run_async (store, schedule_job, data,
      (GDestroyNotify) schedule_data_free, session_result_free, callback,
      user_data);
}

void
kk_store_schedule_session (KkStore *store, const char *room_id,
    gint64 start_us, gint64 end_us, GAsyncReadyCallback callback,
    gpointer user_data)
{
  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (room_id != NULL);
  g_return_if_fail (start_us < end_us);

  schedule_async (store, NULL, room_id, start_us, end_us, callback,
      user_data);
}

void
kk_store_reschedule_session (KkStore *store, const char *session_id,
    gint64 start_us, gint64 end_us, GAsyncReadyCallback callback,
    gpointer user_data)
{
  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (session_id != NULL);
  g_return_if_fail (start_us < end_us);

  schedule_async (store, session_id, NULL, start_us, end_us, callback,
      user_data);
}

KkStoreSession *
kk_store_schedule_session_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return kk_store_run_finish (store, result, error);
}

static gboolean
cancel (KkDb *db, gpointer user_data, GError **error)
{
  const char *id = user_data;
  g_autoptr (KkStoreSession) planned = read_planned_session (db, id, error);
  g_autoptr (KkDbStmt) stmt = NULL;

  if (planned == NULL)
    return FALSE;
  stmt = kk_db_prepare (db, "DELETE FROM sessions WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, id);
  if (!kk_db_step_done (stmt, error)) {
    g_prefix_error (error, "cancelling session: ");
    return FALSE;
  }
  return TRUE;
}

static gpointer
cancel_job (KkDb *db, gpointer user_data, GError **error)
{
  kk_db_transaction (db, cancel, user_data, error);
  return NULL;
}

void
kk_store_cancel_session (KkStore *store, const char *session_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (session_id != NULL);

  kk_store_run_async (store, cancel_job, g_strdup (session_id), g_free,
      NULL, callback, user_data);
}

gboolean
kk_store_cancel_session_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return finish_boolean (store, result, error);
}

static gpointer
get_session_job (KkDb *db, gpointer user_data, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  KkStoreSession *session = read_session (db, user_data, &local_error);

  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  else if (session == NULL)
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND,
        "no session %s", (const char *) user_data);
  return session;
}

void
kk_store_get_session (KkStore *store, const char *session_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (KK_IS_STORE (store));
  g_return_if_fail (session_id != NULL);

  kk_store_run_async (store, get_session_job, g_strdup (session_id),
      g_free, session_result_free, callback, user_data);
}

KkStoreSession *
kk_store_get_session_finish (KkStore *store, GAsyncResult *result,
    GError **error)
{
  return kk_store_run_finish (store, result, error);
}

static gpointer
load_scheduled_job (KkDb *db, gpointer user_data, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " SESSION_COLUMNS
      " FROM sessions WHERE started_at IS NULL AND scheduled_end > ?1"
      " ORDER BY scheduled_start, id", error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_int64 (stmt, 1, *(gint64 *) user_data);
  return read_sessions (stmt, "loading scheduled sessions", error);
}

GPtrArray *
kk_store_load_scheduled (KkStore *store, gint64 now_us, GError **error)
{
  g_return_val_if_fail (KK_IS_STORE (store), NULL);

  return run_sync (store, load_scheduled_job, g_memdup2 (&now_us,
          sizeof now_us), g_free, error);
}
