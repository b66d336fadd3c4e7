/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-recordings: the daemon's recordings; see kk-recordings.h.
 *
 * Tables (times are wall-clock microseconds, like the store's):
 *
 *   recordings          one row per recorded session: file (relative to
 *                       <data-dir>/recordings), content type, codecs,
 *                       state, error, started/ended, duration, size
 *   recording_pauses    the host's pauses: paused_at, resumed_at (NULL
 *                       while paused)
 *   recording_settings  a room's retention_days (absent: 0, keep)
 *
 * Every row is also held in memory (the daemon answers from there, and
 * writes each change through to the store as a whole-row snapshot; jobs
 * run in order, so the last snapshot wins). Rows are never dropped from
 * memory while the daemon runs: deletion is a state, so pointers to rows
 * stay valid.
 *
 * Per lecture, a follower holds at most one active recording: the
 * recorder, the feed it taps, and its row. When the session closes the
 * active recording is detached (tap removed, recorder stopped) into the
 * "finishing" list and freed from an idle once the muxer has finished.
 *
 * The routes (kk-recordings-api, relay/web) read rows through
 * kk_recordings_lookup () and act through the few functions below; the
 * module itself knows nothing of HTTP.
 */
#include "kk-recordings.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <kringkast/kk-rtp.h>
#include <stdlib.h>
#include <string.h>

#include "kk-recorder.h"

/* The prefix of this module's SQL errors. */
#define SQL_WHAT "recordings"

GST_DEBUG_CATEGORY_STATIC (kk_recordings_debug);
#define GST_CAT_DEFAULT kk_recordings_debug

#define DAY_US ((gint64) 24 * 3600 * G_USEC_PER_SEC)

/* The states as stored and as the API names them. */
static const char *const state_names[] = {
  [KK_RECORDING_RECORDING] = "recording",
  [KK_RECORDING_PAUSED] = "paused",
  [KK_RECORDING_FINISHED] = "finished",
  [KK_RECORDING_FAILED] = "failed",
  [KK_RECORDING_EMPTY] = "empty",
  [KK_RECORDING_DELETED] = "deleted",
};

typedef KkRecordingPause Pause;

typedef struct _Active Active;

typedef struct {
  char *session_id;
  char *room_id;
  char *path;                   /* relative to the directory; nullable */
  char *content_type;
  char *video_codec;
  char *audio_codec;
  KkRecordingState state;
  char *error;
  gint64 started_at;
  gint64 ended_at;              /* 0 while being written */
  gint64 duration_us;
  gint64 size;
  GArray *pauses;               /* Pause, oldest first */
  Active *active;               /* not owned: while its recorder writes */
} Row;

/* One recording being written. */
struct _Active {
  KkRecordings *recordings;     /* not a ref: the module outlives it */
  KkFeed *feed;
  KkRecorder *recorder;
  Row *row;
  guint tap_id;                 /* 0 when not tapping the feed */
  gboolean ended;
};

/* One watched lecture. */
typedef struct {
  KkRecordings *recordings;
  KkLecture *lecture;
  Active *active;               /* the open session's, if recorded */
} Follower;

struct _KkRecordings {
  GObject parent;

  KkStore *store;
  KkMetrics *metrics;
  char *directory;              /* absolute, symlinks resolved */
  char *pipelines_dir;

  GHashTable *rows;             /* session id -> Row */
  GHashTable *retention;        /* room id -> days (GUINT_TO_POINTER) */
  GHashTable *followers;        /* room id -> Follower */
  GPtrArray *finishing;         /* Active, detached, muxer finishing */
  guint reap_idle;
  guint expiry_timer;
  GCancellable *cancellable;    /* the startup repairs */
  gboolean shut_down;

  /* Since the daemon started, for /metrics. */
  guint64 finished_total;
  guint64 failed_total;
  guint64 bytes_done;           /* sizes of the files that ended */
};

G_DEFINE_FINAL_TYPE (KkRecordings, kk_recordings, G_TYPE_OBJECT)

/* ---- rows ---- */

static Row *
row_new (const char *session_id, const char *room_id, gint64 started_at)
{
  Row *row = g_new0 (Row, 1);

  row->session_id = g_strdup (session_id);
  row->room_id = g_strdup (room_id);
  row->started_at = started_at;
  row->pauses = g_array_new (FALSE, FALSE, sizeof (Pause));
  return row;
}

static void
row_free (gpointer data)
{
  Row *row = data;

  g_free (row->session_id);
  g_free (row->room_id);
  g_free (row->path);
  g_free (row->content_type);
  g_free (row->video_codec);
  g_free (row->audio_codec);
  g_free (row->error);
  g_array_unref (row->pauses);
  g_free (row);
}

/* A snapshot for the store's thread. */
static Row *
row_copy (const Row *row)
{
  Row *copy = row_new (row->session_id, row->room_id, row->started_at);

  copy->path = g_strdup (row->path);
  copy->content_type = g_strdup (row->content_type);
  copy->video_codec = g_strdup (row->video_codec);
  copy->audio_codec = g_strdup (row->audio_codec);
  copy->state = row->state;
  copy->error = g_strdup (row->error);
  copy->ended_at = row->ended_at;
  copy->duration_us = row->duration_us;
  copy->size = row->size;
  g_array_append_vals (copy->pauses, row->pauses->data, row->pauses->len);
  return copy;
}

static gboolean
row_is_open (const Row *row)
{
  return row->state == KK_RECORDING_RECORDING || row->state == KK_RECORDING_PAUSED;
}

/* Ends a pause still open, at @at_us. */
static void
row_close_pause (Row *row, gint64 at_us)
{
  Pause *last;

  if (row->pauses->len == 0)
    return;
  last = &g_array_index (row->pauses, Pause, row->pauses->len - 1);
  if (last->to_us == 0)
    last->to_us = MAX (at_us, last->from_us);
}

static KkRecordingState
state_from_string (const char *text)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++) {
    if (g_strcmp0 (text, state_names[i]) == 0)
      return i;
  }
  /* A state this build does not know: not being written, at least. */
  return KK_RECORDING_FAILED;
}

/* ---- the store (its thread) ---- */

typedef struct {
  GHashTable *rows;             /* session id -> Row */
  GHashTable *retention;        /* room id -> days */
} Loaded;

static void
loaded_free (gpointer data)
{
  Loaded *loaded = data;

  g_hash_table_unref (loaded->rows);
  g_hash_table_unref (loaded->retention);
  g_free (loaded);
}

static gboolean
load_rows (KkDb *db, Loaded *loaded, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT session_id, room_id,"
      " path, content_type, video_codec, audio_codec, state, error,"
      " started_at, ended_at, duration_us, size FROM recordings", error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    Row *row = row_new (kk_db_column_text (stmt, 0),
        kk_db_column_text (stmt, 1), kk_db_column_int64 (stmt, 8));

    row->path = kk_db_column_dup (stmt, 2);
    row->content_type = kk_db_column_dup (stmt, 3);
    row->video_codec = kk_db_column_dup (stmt, 4);
    row->audio_codec = kk_db_column_dup (stmt, 5);
    row->state = state_from_string (kk_db_column_text (stmt, 6));
    row->error = kk_db_column_dup (stmt, 7);
    row->ended_at = kk_db_column_int64 (stmt, 9);
    row->duration_us = kk_db_column_int64 (stmt, 10);
    row->size = kk_db_column_int64 (stmt, 11);
    g_hash_table_replace (loaded->rows, row->session_id, row);
  }
  if (step == KK_DB_ERROR)
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "SELECT session_id, paused_at, resumed_at"
      " FROM recording_pauses ORDER BY session_id, paused_at", error);
  if (stmt == NULL)
    return FALSE;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    Row *row = g_hash_table_lookup (loaded->rows,
        kk_db_column_text (stmt, 0));
    Pause pause = {
      .from_us = kk_db_column_int64 (stmt, 1),
      .to_us = kk_db_column_int64 (stmt, 2),
    };

    if (row != NULL)
      g_array_append_val (row->pauses, pause);
  }
  if (step == KK_DB_ERROR)
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "SELECT room_id, retention_days"
      " FROM recording_settings", error);
  if (stmt == NULL)
    return FALSE;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    g_hash_table_replace (loaded->retention, kk_db_column_dup (stmt, 0),
        GUINT_TO_POINTER (CLAMP (kk_db_column_int64 (stmt, 1), 0,
                KK_RECORDINGS_RETENTION_MAX_DAYS)));
  }
  return step == KK_DB_DONE;
}

static gpointer
load_job (KkDb *db, gpointer job_data, GError **error)
{
  Loaded *loaded = g_new0 (Loaded, 1);

  loaded->rows = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      row_free);
  loaded->retention = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  if (!load_rows (db, loaded, error)) {
    g_prefix_error (error, "%s: ", SQL_WHAT);
    loaded_free (loaded);
    return NULL;
  }
  return loaded;
}

/* The row's snapshot replaces what was stored, pauses included. */
static gboolean
persist_row (KkDb *db, gpointer job_data, GError **error)
{
  Row *row = job_data;
  g_autoptr (KkDbStmt) stmt = NULL;

  stmt = kk_db_prepare (db, "INSERT INTO recordings (session_id, room_id,"
      " path, content_type, video_codec, audio_codec, state, error,"
      " started_at, ended_at, duration_us, size)"
      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT (session_id) DO UPDATE SET room_id = excluded.room_id,"
      " path = excluded.path, content_type = excluded.content_type,"
      " video_codec = excluded.video_codec,"
      " audio_codec = excluded.audio_codec, state = excluded.state,"
      " error = excluded.error, started_at = excluded.started_at,"
      " ended_at = excluded.ended_at, duration_us = excluded.duration_us,"
      " size = excluded.size", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, row->session_id);
  kk_db_bind_text (stmt, 2, row->room_id);
  kk_db_bind_text (stmt, 3, row->path);
  kk_db_bind_text (stmt, 4, row->content_type);
  kk_db_bind_text (stmt, 5, row->video_codec);
  kk_db_bind_text (stmt, 6, row->audio_codec);
  kk_db_bind_text (stmt, 7, state_names[row->state]);
  kk_db_bind_text (stmt, 8, row->error);
  kk_db_bind_int64 (stmt, 9, row->started_at);
  if (row->ended_at != 0)
    kk_db_bind_int64 (stmt, 10, row->ended_at);
  else
    kk_db_bind_null (stmt, 10);
  kk_db_bind_int64 (stmt, 11, row->duration_us);
  kk_db_bind_int64 (stmt, 12, row->size);
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "DELETE FROM recording_pauses"
      " WHERE session_id = ?", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, row->session_id);
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "INSERT INTO recording_pauses (session_id,"
      " paused_at, resumed_at) VALUES (?,?,?)"
      " ON CONFLICT (session_id, paused_at)"
      " DO UPDATE SET resumed_at = excluded.resumed_at", error);
  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < row->pauses->len; i++) {
    const Pause *pause = &g_array_index (row->pauses, Pause, i);

    kk_db_reset (stmt);
    kk_db_bind_text (stmt, 1, row->session_id);
    kk_db_bind_int64 (stmt, 2, pause->from_us);
    if (pause->to_us != 0)
      kk_db_bind_int64 (stmt, 3, pause->to_us);
    else
      kk_db_bind_null (stmt, 3);
    if (!kk_db_step_done (stmt, error))
      return FALSE;
  }
  return TRUE;
}

static gpointer
persist_job (KkDb *db, gpointer job_data, GError **error)
{
  if (!kk_db_transaction (db, persist_row, job_data, error))
    g_prefix_error (error, "%s: ", SQL_WHAT);
  return NULL;
}

typedef struct {
  char *room_id;
  guint days;
} Retention;

static void
retention_free (gpointer data)
{
  Retention *retention = data;

  g_free (retention->room_id);
  g_free (retention);
}

static gpointer
retention_job (KkDb *db, gpointer job_data, GError **error)
{
  Retention *retention = job_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "INSERT INTO"
      " recording_settings (room_id, retention_days) VALUES (?,?)"
      " ON CONFLICT (room_id)"
      " DO UPDATE SET retention_days = excluded.retention_days", error);

  if (stmt != NULL) {
    kk_db_bind_text (stmt, 1, retention->room_id);
    kk_db_bind_int64 (stmt, 2, retention->days);
    kk_db_step_done (stmt, error);
  }
  g_prefix_error (error, "%s: ", SQL_WHAT);
  return NULL;
}

/* ---- writing rows through (main context) ---- */

static void
persist_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  kk_store_run_finish (KK_STORE (source), result, &error);
  if (error != NULL)
    g_warning ("recordings: a recording's row was not stored: %s",
        error->message);
}

static void
persist (KkRecordings *self, Row *row)
{
  kk_store_run_async (self->store, persist_job, row_copy (row), row_free,
      NULL, persist_done, NULL);
}

static char *
absolute_path (KkRecordings *self, const char *relative)
{
  /* Only a plain file name in the directory, as the recorder makes them. */
  if (relative == NULL || *relative == '\0' || *relative == '.'
      || strchr (relative, G_DIR_SEPARATOR) != NULL)
    return NULL;
  return g_build_filename (self->directory, relative, NULL);
}

static gint64
file_size (const char *path)
{
  GStatBuf st;

  if (path == NULL || g_stat (path, &st) != 0)
    return 0;
  return st.st_size;
}

static gint64
row_file_size (KkRecordings *self, const Row *row)
{
  g_autofree char *path = absolute_path (self, row->path);

  return file_size (path);
}

/* ---- recording a lecture ---- */

static void
tap_packet (KkPacket *packet, gpointer user_data)
{
  kk_recorder_push (user_data, packet);
}

static void
untap (Active *active)
{
  if (active->tap_id == 0)
    return;
  kk_feed_remove_tap (active->feed, active->tap_id);
  active->tap_id = 0;
}

static void
on_recorder_started (KkRecorder *recorder, gpointer user_data)
{
  Active *active = user_data;
  Row *row = active->row;

  g_free (row->path);
  row->path = g_path_get_basename (kk_recorder_get_path (recorder));
  g_free (row->content_type);
  row->content_type = g_strdup (kk_recorder_get_content_type (recorder));
  g_free (row->video_codec);
  row->video_codec = g_strdup (kk_recorder_get_video_codec (recorder));
  g_free (row->audio_codec);
  row->audio_codec = g_strdup (kk_recorder_get_audio_codec (recorder));
  GST_INFO ("room %s: session %s is recorded to %s (%s, %s)", row->room_id,
      row->session_id, row->path, row->video_codec, row->audio_codec);
  persist (active->recordings, row);
}

static gboolean reap (gpointer user_data);

static void
reap_soon (KkRecordings *self)
{
  if (self->reap_idle == 0 && !self->shut_down)
    self->reap_idle = g_idle_add (reap, self);
}

static void
on_recorder_ended (KkRecorder *recorder, const GError *error,
    gpointer user_data)
{
  Active *active = user_data;
  KkRecordings *self = active->recordings;
  Row *row = active->row;
  gint64 now = g_get_real_time ();

  active->ended = TRUE;
  /* A recording that failed while the session goes on: stop feeding it. */
  untap (active);
  row->active = NULL;
  row_close_pause (row, now);
  row->ended_at = now;
  row->duration_us = kk_recorder_get_duration_us (recorder);
  row->size = row_file_size (self, row);
  if (error == NULL) {
    row->state = KK_RECORDING_FINISHED;
    self->finished_total++;
    GST_INFO ("room %s: recording of session %s finished: %.1f s, %"
        G_GINT64_FORMAT " bytes", row->room_id, row->session_id,
        row->duration_us / 1e6, row->size);
  } else if (g_error_matches (error, KK_RECORDER_ERROR,
          KK_RECORDER_ERROR_EMPTY)) {
    row->state = KK_RECORDING_EMPTY;
    g_clear_pointer (&row->path, g_free);
    GST_INFO ("room %s: nothing of session %s was recorded: %s",
        row->room_id, row->session_id, error->message);
  } else {
    row->state = KK_RECORDING_FAILED;
    g_free (row->error);
    row->error = g_strdup (error->message);
    self->failed_total++;
    g_warning ("room %s: the recording of session %s failed after %.1f s "
        "(%" G_GINT64_FORMAT " bytes kept): %s", row->room_id,
        row->session_id, row->duration_us / 1e6, row->size, error->message);
  }
  self->bytes_done += row->size;
  persist (self, row);
  reap_soon (self);
}

static void
on_recorder_need_keyframe (KkRecorder *recorder, gpointer user_data)
{
  Active *active = user_data;

  kk_feed_request_keyframe (active->feed);
}

static const KkRecorderCallbacks recorder_callbacks = {
  .started = on_recorder_started,
  .ended = on_recorder_ended,
  .need_keyframe = on_recorder_need_keyframe,
};

static void
active_free (Active *active)
{
  untap (active);
  if (active->row->active == active)
    active->row->active = NULL;
  kk_recorder_free (active->recorder);
  g_free (active);
}

/* Frees the finishing recordings whose muxer is done. */
static gboolean
reap (gpointer user_data)
{
  KkRecordings *self = user_data;

  self->reap_idle = 0;
  for (guint i = self->finishing->len; i > 0; i--) {
    Active *active = self->finishing->pdata[i - 1];

    if (active->ended)
      g_ptr_array_remove_index (self->finishing, i - 1);
  }
  return G_SOURCE_REMOVE;
}

/* The session ended: the file is finished from here on, without us. */
static void
detach (Follower *follower)
{
  Active *active = g_steal_pointer (&follower->active);

  if (active == NULL)
    return;
  untap (active);
  g_ptr_array_add (follower->recordings->finishing, active);
  /* May report "ended" at once (nothing recorded yet). */
  kk_recorder_stop (active->recorder);
  reap_soon (follower->recordings);
}

/* Whether a recording can start with @gop. The feed restarts its GOP at
 * every keyframe start, and for H.264 the SPS and the IDR slice after it
 * both are one: a GOP taken after the IDR's first packet lacks the
 * parameter sets, and h264parse would drop everything up to the next
 * keyframe that has them (seconds, and the MP4's tracks would start
 * apart). */
static gboolean
gop_is_decodable (GPtrArray *gop)
{
  KkPacket *first;
  KkRtpHeader hdr;
  guint8 type;

  if (gop == NULL || gop->len == 0)
    return FALSE;
  first = gop->pdata[0];
  if (first->codec != KK_CODEC_H264)
    return TRUE;
  if (!kk_rtp_parse (first->data, first->len, &hdr) || hdr.payload_len < 1)
    return FALSE;
  type = hdr.payload[0] & 0x1f;
  /* An SPS alone, or first in a STAP-A (RFC 6184 5.7.1). */
  return type == 7
      || (type == 24 && hdr.payload_len >= 4 && (hdr.payload[3] & 0x1f) == 7);
}

static void
on_session_opened (KkLecture *lecture, const char *session_id,
    gint64 started_wall_us, gpointer user_data)
{
  Follower *follower = user_data;
  KkRecordings *self = follower->recordings;
  KkRoom *room = kk_lecture_get_room (lecture);
  KkRecorderConfig config = {
    .pipelines_dir = self->pipelines_dir,
    .directory = self->directory,
    .basename = session_id,
  };
  g_autoptr (GPtrArray) gop = NULL;
  g_autoptr (GPtrArray) audio = NULL;
  gint64 keyframe_age_us;
  Active *active;
  Row *row;

  if (self->shut_down || !kk_room_get_record (room))
    return;
  if (g_hash_table_contains (self->rows, session_id)) {
    g_warning ("room %s: session %s already has a recording",
        kk_room_get_id (room), session_id);
    return;
  }
  detach (follower);

  row = row_new (session_id, kk_room_get_id (room), started_wall_us);
  g_hash_table_replace (self->rows, row->session_id, row);
  active = g_new0 (Active, 1);
  active->recordings = self;
  active->feed = kk_lecture_get_feed (lecture);
  active->row = row;
  row->active = active;
  follower->active = active;
  persist (self, row);

  active->recorder = kk_recorder_new (&config, &recorder_callbacks, active);
  /* Tap first, then the GOP and the audio captured with it (which may
   * have come well before it): the recorder drops what both delivered. */
  active->tap_id = kk_feed_add_tap (active->feed, tap_packet, active->recorder);
  gop = kk_feed_get_gop (active->feed, &keyframe_age_us);
  audio = kk_feed_get_recent (active->feed, KK_TRACK_AUDIO,
      g_get_real_time () - KK_RECORDER_AUDIO_PREROLL_US);
  if (!gop_is_decodable (gop)) {
    /* The recorder then asks the publisher for a fresh keyframe. */
    g_clear_pointer (&gop, g_ptr_array_unref);
    keyframe_age_us = G_MAXINT64;
  }
  kk_recorder_prime (active->recorder, gop, keyframe_age_us, audio);
  GST_INFO ("room %s: recording session %s (cached: %u audio packets, a GOP "
      "of %u from %" G_GINT64_FORMAT " ms ago)", row->room_id, session_id,
      audio->len, gop ? gop->len : 0,
      gop ? keyframe_age_us / 1000 : -1);
}

static void
on_session_closed (KkLecture *lecture, const char *session_id,
    gint64 ended_wall_us, gpointer user_data)
{
  Follower *follower = user_data;

  if (follower->active != NULL
      && g_str_equal (follower->active->row->session_id, session_id))
    detach (follower);
}

static void
follower_free (gpointer data)
{
  Follower *follower = data;

  detach (follower);
  g_signal_handlers_disconnect_by_data (follower->lecture, follower);
  g_object_unref (follower->lecture);
  g_free (follower);
}

void
kk_recordings_watch (KkRecordings *self, KkLecture *lecture)
{
  Follower *follower;

  g_return_if_fail (KK_IS_RECORDINGS (self));
  g_return_if_fail (!self->shut_down);

  follower = g_new0 (Follower, 1);
  follower->recordings = self;
  follower->lecture = g_object_ref (lecture);
  g_signal_connect (lecture, "session-opened",
      G_CALLBACK (on_session_opened), follower);
  g_signal_connect (lecture, "session-closed",
      G_CALLBACK (on_session_closed), follower);
  g_hash_table_replace (self->followers,
      g_strdup (kk_room_get_id (kk_lecture_get_room (lecture))), follower);
}

/* The room's recording being written now, if any. */
static Active *
room_active (KkRecordings *self, const char *room_id)
{
  Follower *follower = g_hash_table_lookup (self->followers, room_id);

  if (follower == NULL || follower->active == NULL || follower->active->ended)
    return NULL;
  return follower->active;
}

static void
set_paused (Active *active, gboolean paused)
{
  Row *row = active->row;
  gint64 now = g_get_real_time ();

  if ((row->state == KK_RECORDING_PAUSED) == paused)
    return;
  kk_recorder_set_paused (active->recorder, paused);
  if (paused) {
    Pause pause = { .from_us = now, .to_us = 0 };

    g_array_append_val (row->pauses, pause);
    row->state = KK_RECORDING_PAUSED;
  } else {
    row_close_pause (row, now);
    row->state = KK_RECORDING_RECORDING;
  }
  GST_INFO ("room %s: recording of session %s %s", row->room_id,
      row->session_id, paused ? "paused" : "resumed");
  persist (active->recordings, row);
}

/* ---- what a crash left (a worker thread, then main) ---- */

typedef struct {
  char *session_id;
  char *path;                   /* absolute; nullable: never started */
  gboolean done;
  KkRecordingState state;
  char *error;
  gint64 ended_at;
  gint64 duration_us;
  gint64 size;
} Repair;

static void
repair_free (gpointer data)
{
  Repair *repair = data;

  g_free (repair->session_id);
  g_free (repair->path);
  g_free (repair->error);
  g_free (repair);
}

static void
repair_one (Repair *repair)
{
  g_autoptr (GError) error = NULL;
  GStatBuf st;

  repair->done = TRUE;
  if (repair->path == NULL) {
    repair->state = KK_RECORDING_EMPTY;
    return;
  }
  if (g_stat (repair->path, &st) != 0) {
    int saved = errno;

    repair->state = KK_RECORDING_FAILED;
    repair->error = g_strdup_printf ("the file is gone: %s",
        g_strerror (saved));
    return;
  }
  /* The last write before the crash is as good an end as any. */
  repair->ended_at = (gint64) st.st_mtime * G_USEC_PER_SEC;
  if (st.st_size == 0) {
    repair->state = KK_RECORDING_EMPTY;
    g_unlink (repair->path);
    return;
  }
  if (kk_recorder_repair (repair->path, &repair->duration_us, &error)) {
    repair->state = KK_RECORDING_FINISHED;
    repair->size = file_size (repair->path);
  } else if (g_error_matches (error, KK_RECORDER_ERROR,
          KK_RECORDER_ERROR_EMPTY)) {
    repair->state = KK_RECORDING_EMPTY;
    g_unlink (repair->path);
  } else {
    repair->state = KK_RECORDING_FAILED;
    repair->error = g_strdup (error->message);
    repair->size = st.st_size;
  }
}

static void
repair_thread (GTask *task, gpointer source, gpointer task_data,
    GCancellable *cancellable)
{
  GPtrArray *repairs = task_data;

  for (guint i = 0; i < repairs->len; i++) {
    if (g_cancellable_is_cancelled (cancellable))
      break;
    repair_one (repairs->pdata[i]);
  }
  g_task_return_boolean (task, TRUE);
}

static void sweep (KkRecordings *self);

static void
repairs_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkRecordings *self = KK_RECORDINGS (source);
  GPtrArray *repairs = g_task_get_task_data (G_TASK (result));

  g_task_propagate_boolean (G_TASK (result), NULL);
  if (self->shut_down)
    return;
  for (guint i = 0; i < repairs->len; i++) {
    Repair *repair = repairs->pdata[i];
    Row *row = g_hash_table_lookup (self->rows, repair->session_id);

    if (!repair->done || row == NULL || !row_is_open (row))
      continue;
    row->state = repair->state;
    row->ended_at = MAX (repair->ended_at, row->started_at);
    row_close_pause (row, row->ended_at);
    row->duration_us = repair->duration_us;
    row->size = repair->size;
    g_free (row->error);
    row->error = g_strdup (repair->error);
    if (repair->state == KK_RECORDING_EMPTY)
      g_clear_pointer (&row->path, g_free);
    if (repair->state == KK_RECORDING_FINISHED) {
      self->finished_total++;
      g_message ("recordings: session %s (room %s) was cut off by an "
          "unclean stop; %.1f s saved", row->session_id, row->room_id,
          row->duration_us / 1e6);
    } else if (repair->state == KK_RECORDING_EMPTY) {
      g_message ("recordings: session %s (room %s) was cut off by an "
          "unclean stop before anything was recorded", row->session_id,
          row->room_id);
    } else {
      self->failed_total++;
      g_warning ("recordings: session %s (room %s) was cut off by an "
          "unclean stop and could not be saved: %s", row->session_id,
          row->room_id, repair->error);
    }
    persist (self, row);
  }
  /* Finished now, they may be past their room's retention already. */
  sweep (self);
}

static void
start_repairs (KkRecordings *self)
{
  g_autoptr (GPtrArray) repairs = g_ptr_array_new_with_free_func (
      repair_free);
  g_autoptr (GTask) task = NULL;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Row *row = value;
    Repair *repair;

    if (!row_is_open (row))
      continue;
    repair = g_new0 (Repair, 1);
    repair->session_id = g_strdup (row->session_id);
    repair->path = absolute_path (self, row->path);
    g_ptr_array_add (repairs, repair);
  }
  if (repairs->len == 0)
    return;
  g_message ("recordings: repairing %u recording(s) left unfinished by an "
      "unclean stop", repairs->len);
  task = g_task_new (self, self->cancellable, repairs_done, NULL);
  g_task_set_task_data (task, g_ptr_array_ref (repairs),
      (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, repair_thread);
}

/* ---- retention and deletion ---- */

/* Removes the row's file; the row stays, as "deleted". */
static gboolean
delete_recording (KkRecordings *self, Row *row, const char *why,
    GError **error)
{
  g_autofree char *path = absolute_path (self, row->path);

  if (path != NULL && g_unlink (path) != 0 && errno != ENOENT) {
    int saved = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
        "cannot delete %s: %s", path, g_strerror (saved));
    return FALSE;
  }
  GST_INFO ("room %s: recording of session %s deleted (%s)", row->room_id,
      row->session_id, why);
  row->state = KK_RECORDING_DELETED;
  persist (self, row);
  return TRUE;
}

/* When the room's retention deletes the row's file; 0: never (no
 * retention, still being written, or gone already). */
static gint64
row_expires_at (KkRecordings *self, const Row *row)
{
  guint days = GPOINTER_TO_UINT (g_hash_table_lookup (self->retention,
          row->room_id));
  gint64 end = row->ended_at != 0 ? row->ended_at : row->started_at;

  if (days == 0 || row_is_open (row) || row->state == KK_RECORDING_DELETED)
    return 0;
  return end + days * DAY_US;
}

/* Deletes the files of recordings older than their room's retention
 * (ended before @now_wall_us minus retention_days; rooms with 0 keep
 * everything), at startup, when one comes due, and every
 * KK_RECORDINGS_EXPIRY_INTERVAL_S. Returns: how many were deleted. */
static guint
expire (KkRecordings *self, gint64 now_wall_us)
{
  GHashTableIter iter;
  gpointer value;
  guint deleted = 0;

  g_return_val_if_fail (KK_IS_RECORDINGS (self), 0);

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Row *row = value;
    gint64 expires = row_expires_at (self, row);
    g_autoptr (GError) error = NULL;

    if (expires == 0 || expires > now_wall_us)
      continue;
    if (delete_recording (self, row, "retention", &error))
      deleted++;
    else
      g_warning ("recordings: %s", error->message);
  }
  if (deleted > 0)
    g_message ("recordings: %u recording(s) past their room's retention "
        "deleted", deleted);
  return deleted;
}

static gboolean on_expiry_timer (gpointer user_data);

/* Applies retention now, and again when the next recording comes due:
 * within a second of its time, or an hour from now if that is sooner (a
 * wall clock that jumps is caught up with; a file that could not be
 * deleted is tried again in a minute). */
static void
sweep (KkRecordings *self)
{
  gint64 now = g_get_real_time ();
  gint64 next = now
      + (gint64) KK_RECORDINGS_EXPIRY_INTERVAL_S * G_USEC_PER_SEC;
  gint64 delay_s;
  GHashTableIter iter;
  gpointer value;

  expire (self, now);
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    gint64 expires = row_expires_at (self, value);

    if (expires != 0)
      next = MIN (next, expires);
  }
  delay_s = next <= now ? 60 : (next - now + G_USEC_PER_SEC - 1)
      / G_USEC_PER_SEC;
  if (self->expiry_timer != 0)
    g_source_remove (self->expiry_timer);
  self->expiry_timer = g_timeout_add_seconds ((guint) delay_s,
      on_expiry_timer, self);
}

static gboolean
on_expiry_timer (gpointer user_data)
{
  KkRecordings *self = user_data;

  self->expiry_timer = 0;
  sweep (self);
  return G_SOURCE_REMOVE;
}

/* ---- what the routes use ---- */

static gboolean
row_has_file (const Row *row)
{
  return row->path != NULL
      && (row->state == KK_RECORDING_FINISHED || row->state == KK_RECORDING_FAILED);
}

/* Only ids of the store's shape are looked up at all. */
static Row *
lookup_row (KkRecordings *self, const char *session_id)
{
  return g_uuid_string_is_valid (session_id)
      ? g_hash_table_lookup (self->rows, session_id) : NULL;
}

gboolean
kk_recordings_lookup (KkRecordings *self, const char *session_id,
    KkRecording *out)
{
  Row *row;

  g_return_val_if_fail (KK_IS_RECORDINGS (self), FALSE);

  row = lookup_row (self, session_id);
  if (row == NULL)
    return FALSE;
  out->session_id = row->session_id;
  out->room_id = row->room_id;
  out->file = row->path;
  out->content_type = row->content_type;
  out->video_codec = row->video_codec;
  out->audio_codec = row->audio_codec;
  out->error = row->error;
  out->state = row->state;
  out->state_name = state_names[row->state];
  out->has_file = row_has_file (row);
  out->started_at = row->started_at;
  out->ended_at = row->ended_at;
  out->duration_us = row->duration_us;
  out->size = row->size;
  if (row->active != NULL) {
    out->duration_us = kk_recorder_get_duration_us (row->active->recorder);
    out->size = row_file_size (self, row);
  }
  out->pauses = (const KkRecordingPause *) row->pauses->data;
  out->n_pauses = row->pauses->len;
  return TRUE;
}

const char *
kk_recordings_get_directory (KkRecordings *self)
{
  g_return_val_if_fail (KK_IS_RECORDINGS (self), NULL);

  return self->directory;
}

char *
kk_recordings_get_path (KkRecordings *self, const KkRecording *recording)
{
  g_return_val_if_fail (KK_IS_RECORDINGS (self), NULL);

  return absolute_path (self, recording->file);
}

gboolean
kk_recordings_delete (KkRecordings *self, const char *session_id,
    const char *why, GError **error)
{
  Row *row;

  g_return_val_if_fail (KK_IS_RECORDINGS (self), FALSE);

  row = lookup_row (self, session_id);
  g_return_val_if_fail (row != NULL, FALSE);
  return delete_recording (self, row, why, error);
}

void
kk_recordings_get_room (KkRecordings *self, const char *room_id,
    KkRecordingRoom *out)
{
  Active *active;

  g_return_if_fail (KK_IS_RECORDINGS (self));

  active = room_active (self, room_id);
  out->recording = active != NULL;
  out->paused = active != NULL && active->row->state == KK_RECORDING_PAUSED;
  out->session_id = active != NULL ? active->row->session_id : NULL;
  out->retention_days = GPOINTER_TO_UINT (g_hash_table_lookup (
          self->retention, room_id));
}

gboolean
kk_recordings_set_paused (KkRecordings *self, const char *room_id,
    gboolean paused)
{
  Active *active;

  g_return_val_if_fail (KK_IS_RECORDINGS (self), FALSE);

  active = room_active (self, room_id);
  if (active == NULL)
    return FALSE;
  set_paused (active, paused);
  return TRUE;
}

static void
retention_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRecordings *self = g_task_get_source_object (task);
  GError *error = NULL;

  kk_store_run_finish (KK_STORE (source), result, &error);
  if (error != NULL) {
    g_warning ("recordings: retention not stored: %s", error->message);
    g_task_return_error (task, error);
    return;
  }
  if (!self->shut_down)
    sweep (self);
  g_task_return_boolean (task, TRUE);
}

void
kk_recordings_set_retention_async (KkRecordings *self, const char *room_id,
    guint days, GAsyncReadyCallback callback, gpointer user_data)
{
  Retention *retention;

  g_return_if_fail (KK_IS_RECORDINGS (self));

  retention = g_new0 (Retention, 1);
  retention->room_id = g_strdup (room_id);
  retention->days = days;
  g_hash_table_replace (self->retention, g_strdup (retention->room_id),
      GUINT_TO_POINTER (days));
  kk_store_run_async (self->store, retention_job, retention, retention_free,
      NULL, retention_stored, g_task_new (self, NULL, callback, user_data));
}

gboolean
kk_recordings_set_retention_finish (KkRecordings *self, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- metrics ---- */

static void
collect (KkMetrics *metrics, gpointer user_data)
{
  KkRecordings *self = user_data;
  guint64 bytes = self->bytes_done;
  guint active = 0;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Row *row = value;

    if (row->active != NULL) {
      active++;
      bytes += row_file_size (self, row);
    }
  }
  kk_metrics_sample (metrics, "kringkast_recordings_active", KK_METRIC_GAUGE,
      "Recordings being written.", NULL, active);
  kk_metrics_sample (metrics, "kringkast_recordings_finished_total",
      KK_METRIC_COUNTER, "Recordings finished (also repaired after a crash).",
      NULL, self->finished_total);
  kk_metrics_sample (metrics, "kringkast_recordings_failed_total",
      KK_METRIC_COUNTER, "Recordings that could not be written to the end "
      "(disk full, ...).", NULL, self->failed_total);
  kk_metrics_sample (metrics, "kringkast_recording_bytes_written_total",
      KK_METRIC_COUNTER, "Bytes written to recording files.", NULL, bytes);
}

/* ---- lifecycle ---- */

typedef struct {
  gboolean done;
  Loaded *loaded;
  GError *error;
} LoadWait;

static void
load_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadWait *wait = user_data;

  wait->loaded = kk_store_run_finish (KK_STORE (source), result,
      &wait->error);
  wait->done = TRUE;
}

/* Blocks until the store has read the tables: nothing is
 * answered about recordings before they are known. The result comes on a
 * context of our own, so nothing else runs meanwhile. */
static gboolean
load (KkRecordings *self, GError **error)
{
  GMainContext *context = g_main_context_new ();
  LoadWait wait = { 0 };

  g_main_context_push_thread_default (context);
  kk_store_run_async (self->store, load_job, NULL, NULL, loaded_free,
      load_done, &wait);
  while (!wait.done)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  if (wait.loaded == NULL) {
    g_propagate_prefixed_error (error, wait.error,
        "cannot load the recordings: ");
    return FALSE;
  }
  g_hash_table_unref (self->rows);
  self->rows = g_hash_table_ref (wait.loaded->rows);
  g_hash_table_unref (self->retention);
  self->retention = g_hash_table_ref (wait.loaded->retention);
  loaded_free (wait.loaded);
  return TRUE;
}

KkRecordings *
kk_recordings_new (KkStore *store, KkMetrics *metrics,
    const KkConfig *config, GError **error)
{
  g_autoptr (KkRecordings) self = NULL;
  g_autofree char *directory = NULL;

  g_return_val_if_fail (KK_IS_STORE (store), NULL);

  directory = g_build_filename (kk_store_get_data_dir (store), "recordings",
      NULL);
  if (g_mkdir_with_parents (directory, 0750) != 0) {
    int saved = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
        "cannot make %s: %s", directory, g_strerror (saved));
    return NULL;
  }

  self = g_object_new (KK_TYPE_RECORDINGS, NULL);
  self->directory = realpath (directory, NULL);
  if (self->directory == NULL) {
    int saved = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
        "cannot resolve %s: %s", directory, g_strerror (saved));
    return NULL;
  }
  self->store = g_object_ref (store);
  self->pipelines_dir = g_strdup (config->pipelines_dir);
  if (!load (self, error))
    return NULL;

  self->metrics = metrics;
  kk_metrics_add_collector (metrics, collect, self);
  start_repairs (self);
  sweep (self);
  GST_INFO ("recordings in %s: %u known", self->directory,
      g_hash_table_size (self->rows));
  return g_steal_pointer (&self);
}

void
kk_recordings_shutdown (KkRecordings *self)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (KK_IS_RECORDINGS (self));
  if (self->shut_down)
    return;

  /* EOS to every muxer first, so they finish side by side. */
  g_hash_table_iter_init (&iter, self->followers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    detach (value);
  self->shut_down = TRUE;
  for (guint i = 0; i < self->finishing->len; i++)
    kk_recorder_finish_sync (((Active *) self->finishing->pdata[i])->recorder);
  g_ptr_array_set_size (self->finishing, 0);
  if (self->reap_idle != 0) {
    g_source_remove (self->reap_idle);
    self->reap_idle = 0;
  }
  g_hash_table_remove_all (self->followers);

  g_cancellable_cancel (self->cancellable);
  if (self->expiry_timer != 0) {
    g_source_remove (self->expiry_timer);
    self->expiry_timer = 0;
  }
  if (self->metrics != NULL) {
    kk_metrics_remove_collector (self->metrics, collect, self);
    self->metrics = NULL;
  }
}

static void
kk_recordings_dispose (GObject *object)
{
  KkRecordings *self = KK_RECORDINGS (object);

  if (self->store != NULL)
    kk_recordings_shutdown (self);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (kk_recordings_parent_class)->dispose (object);
}

static void
kk_recordings_finalize (GObject *object)
{
  KkRecordings *self = KK_RECORDINGS (object);

  g_hash_table_unref (self->followers);
  g_ptr_array_unref (self->finishing);
  g_hash_table_unref (self->rows);
  g_hash_table_unref (self->retention);
  g_object_unref (self->cancellable);
  free (self->directory);
  g_free (self->pipelines_dir);
  G_OBJECT_CLASS (kk_recordings_parent_class)->finalize (object);
}

static void
kk_recordings_class_init (KkRecordingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kk_recordings_dispose;
  object_class->finalize = kk_recordings_finalize;
  GST_DEBUG_CATEGORY_INIT (kk_recordings_debug, "kk-recordings", 0,
      "Kringkast recordings (the daemon's)");
}

static void
kk_recordings_init (KkRecordings *self)
{
  self->rows = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      row_free);
  self->retention = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  self->followers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      follower_free);
  self->finishing = g_ptr_array_new_with_free_func (
      (GDestroyNotify) active_free);
  self->cancellable = g_cancellable_new ();
}
