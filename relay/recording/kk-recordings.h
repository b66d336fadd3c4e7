/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-recordings: the daemon's recordings. One per broadcast of a room
 * whose "record" is set, written by a KkRecorder fed from the lecture's
 * feed tap, kept under <data-dir>/recordings and described in the store.
 *
 * It follows every lecture: when a session opens it installs the tap and
 * primes the recorder with the feed's current GOP; when the session closes
 * it removes the tap and lets the muxer finish the file. A host who
 * reconnects within the grace period continues the same session, so the
 * same recording (the feed's packets are continuous). A recording that
 * cannot be written (disk full, directory gone) ends with what it had, in
 * state "failed" with the reason; viewers never notice, since the tap
 * never waits.
 *
 * States: "recording" and "paused" while being written (never served),
 * then "finished", "failed" (what was written before the error), "empty"
 * (no keyframe ever came: no file), or "deleted" (by the coordinator or
 * by the room's retention). At startup, before anything is answered, the
 * tables are created and loaded; rows a crash left "recording" or
 * "paused" are remuxed (kk_recorder_repair (), on a worker thread) into
 * files that play, and marked "finished".
 *
 * The routes that serve, link, delete, pause and set retention are
 * kk-recordings-api's (relay/web); they call the functions below.
 *
 * Main context only.
 */
#pragma once

#include "kk-config.h"
#include "kk-lecture.h"
#include "kk-metrics.h"
#include "kk-store.h"

G_BEGIN_DECLS

/* Retention is applied at startup, when a recording comes due, and at
 * least this often. */
#define KK_RECORDINGS_EXPIRY_INTERVAL_S 3600
#define KK_RECORDINGS_RETENTION_MAX_DAYS 3650

#define KK_TYPE_RECORDINGS (kk_recordings_get_type ())
G_DECLARE_FINAL_TYPE (KkRecordings, kk_recordings, KK, RECORDINGS, GObject)

/**
 * kk_recordings_new:
 * @store: (transfer none): a reference is kept
 * @metrics: must outlive the module; a collector is added until
 *   kk_recordings_shutdown ()
 * @config: data_dir and pipelines_dir
 *
 * Makes <data-dir>/recordings, loads the module's tables
 * (blocking until the store has done so), queues the repair of what a
 * crash left unfinished, applies retention and starts its timer.
 *
 * Returns: (transfer full): the module, or NULL with @error.
 */
KkRecordings *kk_recordings_new (KkStore *store, KkMetrics *metrics,
    const KkConfig *config, GError **error);

/* Records @lecture's sessions (when its room's "record" is set) until
 * kk_recordings_shutdown (). */
void kk_recordings_watch (KkRecordings *recordings, KkLecture *lecture);

/* Finishes every recording (kk_recorder_finish_sync (): the files play),
 * queues their last rows, and lets go of the lectures and the metrics.
 * Call after the lectures have stopped and before kk_store_close (). */
void kk_recordings_shutdown (KkRecordings *recordings);

/* ---- what the routes use ---- */

typedef enum {
  KK_RECORDING_RECORDING,       /* being written */
  KK_RECORDING_PAUSED,          /* being written, paused by the host */
  KK_RECORDING_FINISHED,
  KK_RECORDING_FAILED,          /* what was written before the error */
  KK_RECORDING_EMPTY,           /* no keyframe ever came: no file */
  KK_RECORDING_DELETED,
} KkRecordingState;

typedef struct {
  gint64 from_us;               /* wall clock */
  gint64 to_us;                 /* 0 while paused */
} KkRecordingPause;

/* One recording as the module holds it. The strings and @pauses belong
 * to the module: valid until it next changes (main context). */
typedef struct {
  const char *session_id;
  const char *room_id;
  const char *file;             /* in the directory; nullable */
  const char *content_type;     /* nullable, also below */
  const char *video_codec;
  const char *audio_codec;
  const char *error;
  KkRecordingState state;
  const char *state_name;       /* "recording", "paused", "finished", ... */
  gboolean has_file;            /* finished or failed, with a file */
  gint64 started_at;            /* wall clock */
  gint64 ended_at;              /* 0 while being written */
  gint64 duration_us;           /* so far, while being written */
  gint64 size;                  /* likewise */
  const KkRecordingPause *pauses; /* oldest first */
  guint n_pauses;
} KkRecording;

/* The recording of @session_id, if there is one (ids not shaped like the
 * store's are never looked up). */
gboolean kk_recordings_lookup (KkRecordings *recordings,
    const char *session_id, KkRecording *out);

/* Returns: (transfer none): the recordings directory, absolute, with
 * symlinks resolved: every file served must resolve to inside it. */
const char *kk_recordings_get_directory (KkRecordings *recordings);

/* Returns: (transfer full) (nullable): the absolute path of
 * @recording's file (not resolved), or NULL if it names none. */
char *kk_recordings_get_path (KkRecordings *recordings,
    const KkRecording *recording);

/* Deletes the file of @session_id's recording (which must exist); the
 * row stays, as "deleted". @why goes to the log. */
gboolean kk_recordings_delete (KkRecordings *recordings,
    const char *session_id, const char *why, GError **error);

/* What a room's recording is doing now. */
typedef struct {
  gboolean recording;           /* a recording is being written */
  gboolean paused;
  const char *session_id;       /* of that recording, or NULL */
  guint retention_days;         /* 0: keep */
} KkRecordingRoom;

void kk_recordings_get_room (KkRecordings *recordings, const char *room_id,
    KkRecordingRoom *out);

/* Pauses or resumes the recording being written in @room_id; FALSE when
 * none is. */
gboolean kk_recordings_set_paused (KkRecordings *recordings,
    const char *room_id, gboolean paused);

/* Sets @room_id's retention (0: keep) at once, and stores it; once
 * stored, retention is applied. Finishes with an error if it could not
 * be stored. */
void kk_recordings_set_retention_async (KkRecordings *recordings,
    const char *room_id, guint days, GAsyncReadyCallback callback,
    gpointer user_data);
gboolean kk_recordings_set_retention_finish (KkRecordings *recordings,
    GAsyncResult *result, GError **error);

G_END_DECLS
