/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-recordings-api: the routes of the recordings (kk-recordings).
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
 * The pure helpers below are public for the tests and the fuzzers.
 * Main context only.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-recordings.h"
#include "kk-room.h"

G_BEGIN_DECLS

/* Signed links: how long one lasts unless asked otherwise, and at most.
 * Short, because whoever holds one may fetch the file; a page playing a
 * long recording asks for a new one when the old one runs out. */
#define KK_RECORDINGS_LINK_LIFETIME_S 900
#define KK_RECORDINGS_LINK_MAX_S 3600

/**
 * kk_recordings_api_register:
 * @auth: (transfer none): a reference is kept; who may call
 * @registry: (transfer none): a reference is kept; rooms and their titles
 * @recordings: (transfer none): a reference is kept
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_recordings_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkRecordings *recordings, GError **error);

/**
 * kk_recordings_api_add_json:
 * @recordings: (nullable): none on a relay that records nothing
 *
 * Adds the recording of @session_id as the next value of @builder: null
 * when there is none, else `{"url", "state", "content_type",
 * "video_codec", "audio_codec", "duration_seconds", "size_bytes",
 * "started_at", "ended_at", "error", "paused": [{"from", "to",
 * "seconds"}]}` ("url" is null when there is no file to fetch).
 */
void kk_recordings_api_add_json (JsonBuilder *builder,
    KkRecordings *recordings, const char *session_id);

/**
 * kk_recordings_api_signed_url:
 * @lifetime_s: how long the link lasts, at most %KK_RECORDINGS_LINK_MAX_S
 * @expires_at: (out) (transfer full): its last valid second, as UTC text
 *
 * A signed link to @session_id's recording (see kk_auth_sign_recording_link()),
 * as POST /api/sessions/{id}/recording/link gives it; for the routes of
 * other pages that show the recording (the session report).
 *
 * Returns: (transfer full): the link's path and query.
 */
char *kk_recordings_api_signed_url (KkAuth *auth, const char *session_id,
    guint lifetime_s, char **expires_at);

/* ---- pure helpers, public for the tests ---- */

typedef enum {
  KK_RANGE_NONE,              /* no usable Range: the whole file (200) */
  KK_RANGE_PARTIAL,           /* [*start, *end] inclusive (206) */
  KK_RANGE_UNSATISFIABLE,     /* 416 */
} KkRangeResult;

/**
 * kk_recordings_api_parse_range:
 * @header: (nullable): the Range header's value
 * @total: the file's size
 *
 * One "bytes=" range (first-last, first-, or -suffix). Several ranges, a
 * malformed header or another unit are ignored (RFC 9110 14.2 allows it).
 */
KkRangeResult kk_recordings_api_parse_range (const char *header, guint64 total,
    guint64 *start, guint64 *end);

/**
 * kk_recordings_api_content_disposition:
 * @title: the course title (UTF-8)
 * @started_wall_us: when the broadcast began (its date, in Europe/Oslo)
 * @extension: "webm", "mp4", ...
 *
 * Returns: (transfer full): `attachment; filename="ASCII"; filename*=UTF-8''…`
 * (RFC 6266, RFC 5987), e.g. for "Legemiddelhåndtering" on 4 March 2025:
 * filename="Legemiddelhandtering-2025-03-04.webm".
 */
char *kk_recordings_api_content_disposition (const char *title,
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
gboolean kk_recordings_api_parse_request (const char *data, gsize length,
    KkRecordingRequest *request, GError **error);

/* A POST /api/sessions/{id}/recording/link body: `{}` or `{"expires_in":
 * 1..KK_RECORDINGS_LINK_MAX_S}`. Sets *@lifetime_s only when given;
 * FALSE with an error that maps to 400. */
gboolean kk_recordings_api_parse_link_request (const char *data, gsize length,
    guint *lifetime_s, GError **error);

G_END_DECLS
