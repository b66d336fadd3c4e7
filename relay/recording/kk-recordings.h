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
 * Routes (the admin token, except where the room's host token is said):
 *
 *   GET    /api/sessions/{id}/recording   the file, with single-range
 *                                         Range support (206, 416); 409
 *                                         while it is being written.
 *                                         Instead of the token, a signed
 *                                         link's ?expires=&sig= (403 when
 *                                         expired or forged)
 *   POST   /api/sessions/{id}/recording/link
 *                                         {"expires_in": s} (optional) →
 *                                         {"url", "expires_at"}: a signed
 *                                         link to the file, for a <video>
 *                                         or a download without the token
 *   DELETE /api/sessions/{id}/recording   removes the file: "deleted"
 *   GET    /api/rooms/{room}/recording    host or coordinator: whether it
 *                                         records now, paused, retention
 *   POST   /api/rooms/{room}/recording    host or coordinator:
 *                                         {"paused": bool}; coordinator
 *                                         only: {"retention_days": n}
 *
 * Files are served from a read-only mapping wrapped in a GBytes, so a
 * large recording is never copied into memory, also not for a Range
 * request: libsoup 3.2's own Range support flattens the body into one
 * heap copy, so ranges are answered here instead.
 *
 * Main context only.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kk-config.h"
#include "kk-lecture.h"
#include "kk-metrics.h"
#include "kk-room.h"
#include "kk-store.h"

G_BEGIN_DECLS

/* Retention is applied at startup, when a recording comes due, and at
 * least this often. */
#define KK_RECORDINGS_EXPIRY_INTERVAL_S 3600
#define KK_RECORDINGS_RETENTION_MAX_DAYS 3650
/* Signed links: how long one lasts unless asked otherwise, and at most.
 * Short, because whoever holds one may fetch the file; a page playing a
 * long recording asks for a new one when the old one runs out. */
#define KK_RECORDINGS_LINK_LIFETIME_S 900
#define KK_RECORDINGS_LINK_MAX_S 3600

#define KK_TYPE_RECORDINGS (kk_recordings_get_type ())
G_DECLARE_FINAL_TYPE (KkRecordings, kk_recordings, KK, RECORDINGS, GObject)

/**
 * kk_recordings_new:
 * @store: (transfer none): a reference is kept
 * @registry: (transfer none): rooms (record, title, host token); a
 *   reference is kept
 * @metrics: must outlive the module; a collector is added until
 *   kk_recordings_shutdown ()
 * @config: data_dir, pipelines_dir and the admin token (as for kk-api)
 *
 * Makes <data-dir>/recordings, creates and loads the module's tables
 * (blocking until the store has done so), queues the repair of what a
 * crash left unfinished, applies retention and starts its timer.
 *
 * Returns: (transfer full): the module, or NULL with @error.
 */
KkRecordings *kk_recordings_new (KkStore *store, KkRoomRegistry *registry,
    KkMetrics *metrics, const KkConfig *config, GError **error);

/* Records @lecture's sessions (when its room's "record" is set) until
 * kk_recordings_shutdown (). */
void kk_recordings_watch (KkRecordings *recordings, KkLecture *lecture);

/* Adds the routes listed above to @server (from kk_http_server_new ()). */
void kk_recordings_register (KkRecordings *recordings, SoupServer *server);

/* Finishes every recording (kk_recorder_finish_sync (): the files play),
 * queues their last rows, and lets go of the lectures and the metrics.
 * Call after the lectures have stopped and before kk_store_close (). */
void kk_recordings_shutdown (KkRecordings *recordings);

/**
 * kk_recordings_add_json:
 * @recordings: (nullable)
 *
 * Adds the recording of @session_id as the next value of @builder: null
 * when there is none, else `{"url", "state", "content_type",
 * "video_codec", "audio_codec", "duration_seconds", "size_bytes",
 * "started_at", "ended_at", "error", "paused": [{"from", "to",
 * "seconds"}]}` ("url" is null when there is no file to fetch).
 */
void kk_recordings_add_json (KkRecordings *recordings, JsonBuilder *builder,
    const char *session_id);

/* Deletes the files of recordings older than their room's retention
 * (ended before @now_wall_us minus retention_days; rooms with 0 keep
 * everything). The module runs it on its own (see
 * KK_RECORDINGS_EXPIRY_INTERVAL_S). Returns: how many were deleted. */
guint kk_recordings_expire (KkRecordings *recordings, gint64 now_wall_us);

/* ---- pure helpers, public for the tests ---- */

typedef enum {
  KK_RANGE_NONE,              /* no usable Range: the whole file (200) */
  KK_RANGE_PARTIAL,           /* [*start, *end] inclusive (206) */
  KK_RANGE_UNSATISFIABLE,     /* 416 */
} KkRangeResult;

/**
 * kk_recordings_parse_range:
 * @header: (nullable): the Range header's value
 * @total: the file's size
 *
 * One "bytes=" range (first-last, first-, or -suffix). Several ranges, a
 * malformed header or another unit are ignored (RFC 9110 14.2 allows it).
 */
KkRangeResult kk_recordings_parse_range (const char *header, guint64 total,
    guint64 *start, guint64 *end);

/**
 * kk_recordings_content_disposition:
 * @title: the course title (UTF-8)
 * @started_wall_us: when the broadcast began (its date, in Europe/Oslo)
 * @extension: "webm", "mp4", ...
 *
 * Returns: (transfer full): `attachment; filename="ASCII"; filename*=UTF-8''…`
 * (RFC 6266, RFC 5987), e.g. for "Legemiddelhåndtering" on 4 March 2025:
 * filename="Legemiddelhandtering-2025-03-04.webm".
 */
char *kk_recordings_content_disposition (const char *title,
    gint64 started_wall_us, const char *extension);

/* A POST /api/rooms/{room}/recording body: `{"paused": bool,
 * "retention_days": 0..KK_RECORDINGS_RETENTION_MAX_DAYS}`, at least one
 * of them, nothing else. */
typedef struct {
  gboolean set_paused;
  gboolean paused;
  gboolean set_retention;
  guint retention_days;
} KkRecordingRequest;

/* Returns FALSE with an error that maps to 400. */
gboolean kk_recordings_parse_request (const char *data, gsize length,
    KkRecordingRequest *request, GError **error);

/* A POST /api/sessions/{id}/recording/link body: `{}` or `{"expires_in":
 * 1..KK_RECORDINGS_LINK_MAX_S}`. Sets *@lifetime_s only when given;
 * FALSE with an error that maps to 400. */
gboolean kk_recordings_parse_link_request (const char *data, gsize length,
    guint *lifetime_s, GError **error);

G_END_DECLS
