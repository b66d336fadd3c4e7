/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-recordings-api: the routes of kk-recordings; see
 * kk-recordings-api.h.
 *
 * Signed links: a <video src> or a plain download link cannot send the
 * coordinator's bearer token, so the coordinator asks for a link that
 * carries its own proof: ?expires=UNIX&sig=HEX, the HMAC-SHA256 of
 * "<session id>\n<expires>" under a key kk-auth draws at each start and
 * never lets out of the process, so links die with it (and at their
 * expiry). kk-auth signs and checks them; the routes here only ask.
 *
 * Files are served from a read-only mapping wrapped in a GBytes, so a
 * large recording is never copied into memory, also not for a Range
 * request: libsoup 3.2's own Range support flattens the body into one
 * heap copy, so ranges are answered here instead.
 */
#include "kk-recordings-api.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdlib.h>
#include <string.h>

#include "kk-http.h"
#include "kk-recorder.h"
#include "kk-time.h"

GST_DEBUG_CATEGORY_STATIC (kk_recordings_api_debug);
#define GST_CAT_DEFAULT kk_recordings_api_debug

/* Of the course title, in the download's file name. */
#define FILENAME_TITLE_MAX 80

/* The routes' data, kept by the server. */
typedef struct {
  KkAuth *auth;
  KkRoomRegistry *registry;
  KkRecordings *recordings;
} KkRecordingsApi;

static void
api_free (KkRecordingsApi *api)
{
  g_clear_object (&api->auth);
  g_clear_object (&api->registry);
  g_clear_object (&api->recordings);
  g_free (api);
}

/* ---- JSON ---- */

void
kk_recordings_api_add_json (JsonBuilder *builder, KkRecordings *recordings,
    const char *session_id)
{
  g_autofree char *url = NULL;
  KkRecording rec;

  if (recordings == NULL || !kk_recordings_lookup (recordings, session_id,
          &rec)) {
    json_builder_add_null_value (builder);
    return;
  }
  if (rec.has_file)
    url = g_strdup_printf ("/api/sessions/%s/recording", rec.session_id);

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "url", url);
  kk_http_json_add_string (builder, "state", rec.state_name);
  kk_http_json_add_string (builder, "content_type", rec.content_type);
  kk_http_json_add_string (builder, "video_codec", rec.video_codec);
  kk_http_json_add_string (builder, "audio_codec", rec.audio_codec);
  json_builder_set_member_name (builder, "duration_seconds");
  json_builder_add_double_value (builder, rec.duration_us / 1000 / 1000.0);
  json_builder_set_member_name (builder, "size_bytes");
  json_builder_add_int_value (builder, rec.size);
  kk_http_json_add_time (builder, "started_at", rec.started_at);
  kk_http_json_add_time (builder, "ended_at", rec.ended_at);
  kk_http_json_add_string (builder, "error", rec.error);
  json_builder_set_member_name (builder, "paused");
  json_builder_begin_array (builder);
  for (guint i = 0; i < rec.n_pauses; i++) {
    const KkRecordingPause *pause = &rec.pauses[i];
    gint64 to = pause->to_us != 0 ? pause->to_us : g_get_real_time ();

    json_builder_begin_object (builder);
    kk_http_json_add_time (builder, "from", pause->from_us);
    kk_http_json_add_time (builder, "to", pause->to_us);
    json_builder_set_member_name (builder, "seconds");
    json_builder_add_double_value (builder,
        MAX (to - pause->from_us, 0) / 1000 / 1000.0);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

/* ---- routes ---- */

/* The recording of the route's session, or FALSE after replying 404. */
static gboolean
request_row (KkRecordingsApi *api, KkHttpRequest *request, KkRecording *rec)
{
  if (kk_recordings_lookup (api->recordings,
          kk_http_request_get_param (request, 0), rec))
    return TRUE;
  kk_http_reply_error (kk_http_request_get_message (request),
      SOUP_STATUS_NOT_FOUND, "this session has no recording");
  return FALSE;
}

/* Replies and returns FALSE unless @rec has a file to read or delete. */
static gboolean
check_row_state (SoupServerMessage *msg, const KkRecording *rec)
{
  switch (rec->state) {
    case KK_RECORDING_RECORDING:
    case KK_RECORDING_PAUSED:
      kk_http_reply_error (msg, SOUP_STATUS_CONFLICT,
          "the recording is still being written");
      return FALSE;
    case KK_RECORDING_DELETED:
      kk_http_reply_error (msg, SOUP_STATUS_GONE,
          "the recording was deleted");
      return FALSE;
    case KK_RECORDING_EMPTY:
    case KK_RECORDING_FINISHED:
    case KK_RECORDING_FAILED:
      break;
  }
  return TRUE;
}

/* @path resolved, if it lies inside the recordings directory. */
static char *
resolve_inside (KkRecordingsApi *api, const char *path)
{
  const char *directory = kk_recordings_get_directory (api->recordings);
  g_autofree char *real = path != NULL ? realpath (path, NULL) : NULL;
  gsize len = strlen (directory);

  if (real == NULL || strncmp (real, directory, len) != 0
      || real[len] != G_DIR_SEPARATOR)
    return NULL;
  return g_steal_pointer (&real);
}

/* Whether the request carries a signed link's query at all. */
static gboolean
is_signed_request (KkHttpRequest *request)
{
  return kk_http_request_get_query (request, "sig") != NULL
      || kk_http_request_get_query (request, "expires") != NULL;
}

static void
get_recording (KkHttpRequest *request, gpointer user_data)
{
  KkRecordingsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  SoupMessageHeaders *request_headers =
      soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree char *candidate = NULL;
  g_autofree char *path = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *disposition = NULL;
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  const char *range;
  const char *if_range;
  const char *extension;
  KkRoom *room;
  guint64 size, start = 0, end = 0;
  guint status = SOUP_STATUS_OK;
  GStatBuf st;
  KkRecording rec;

  /* A signed link stands in for the coordinator's token. */
  if (is_signed_request (request)) {
    /* Checked before the session is looked up, so strangers learn
     * nothing of which exist. */
    if (!kk_auth_require_recording_link (api->auth, msg,
            kk_http_request_get_param (request, 0),
            kk_http_request_get_query (request, "expires"),
            kk_http_request_get_query (request, "sig"))
        || !request_row (api, request, &rec)
        || !check_row_state (msg, &rec))
      return;
  } else if (!kk_auth_require_coordinator (api->auth, msg)
      || !request_row (api, request, &rec)
      || !check_row_state (msg, &rec)) {
    return;
  }
  candidate = kk_recordings_get_path (api->recordings, &rec);
  path = resolve_inside (api, candidate);
  if (path == NULL || g_stat (path, &st) != 0 || st.st_size == 0) {
    if (rec.file != NULL)
      g_warning ("recordings: the file of session %s (%s) is missing or "
          "empty", rec.session_id, rec.file);
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND,
        "there is no file for this recording");
    return;
  }
  mapped = g_mapped_file_new (path, FALSE, &error);
  if (mapped == NULL) {
    g_warning ("recordings: %s", error->message);
    kk_http_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "the recording cannot be read");
    return;
  }
  bytes = g_mapped_file_get_bytes (mapped);
  size = g_bytes_get_size (bytes);
  if (size == 0) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND,
        "there is no file for this recording");
    return;
  }

  room = kk_room_registry_lookup (api->registry, rec.room_id);
  extension = strrchr (rec.file, '.');
  disposition = kk_recordings_api_content_disposition (
      room != NULL ? kk_room_get_title (room) : rec.room_id, rec.started_at,
      extension != NULL ? extension + 1 : "bin");
  etag = g_strdup_printf ("\"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
      "x-%" G_GINT64_MODIFIER "x\"", (gint64) st.st_ino, (gint64) size,
      (gint64) st.st_mtime);

  range = soup_message_headers_get_one (request_headers, "Range");
  if_range = soup_message_headers_get_one (request_headers, "If-Range");
  if (if_range != NULL && g_strcmp0 (if_range, etag) != 0)
    range = NULL;
  switch (kk_recordings_api_parse_range (range, size, &start, &end)) {
    case KK_RANGE_PARTIAL:
      status = SOUP_STATUS_PARTIAL_CONTENT;
      body = g_bytes_new_from_bytes (bytes, start, end - start + 1);
      soup_message_headers_set_content_range (headers, start, end, size);
      break;
    case KK_RANGE_UNSATISFIABLE: {
      g_autofree char *unsatisfied = g_strdup_printf ("bytes */%"
          G_GUINT64_FORMAT, size);

      kk_http_reply_error (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE,
          "the range is outside the recording (%" G_GUINT64_FORMAT
          " bytes)", size);
      soup_message_headers_replace (headers, "Content-Range", unsatisfied);
      return;
    }
    case KK_RANGE_NONE:
      /* libsoup would answer a Range it understands (several ranges, say)
       * itself, from a flattened copy of the whole body: it is not
       * asked. */
      soup_message_headers_remove (request_headers, "Range");
      body = g_bytes_ref (bytes);
      break;
  }

  soup_message_headers_replace (headers, "Content-Type",
      rec.content_type != NULL ? rec.content_type
      : kk_recorder_content_type_for_path (rec.file));
  soup_message_headers_replace (headers, "Content-Disposition", disposition);
  soup_message_headers_replace (headers, "Accept-Ranges", "bytes");
  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Cache-Control", "private, no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_status (msg, status, NULL);
  /* The mapping is read as it is sent; nothing is copied. */
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
      body);
}

char *
kk_recordings_api_signed_url (KkAuth *auth, const char *session_id,
    guint lifetime_s, char **expires_at)
{
  guint64 expires = g_get_real_time () / G_USEC_PER_SEC
      + MIN (lifetime_s, KK_RECORDINGS_LINK_MAX_S);
  g_autofree char *sig = kk_auth_sign_recording_link (auth, session_id,
      expires);

  *expires_at = kk_time_format_utc ((gint64) expires * G_USEC_PER_SEC);
  return g_strdup_printf ("/api/sessions/%s/recording?expires=%"
      G_GUINT64_FORMAT "&sig=%s", session_id, expires, sig);
}

/* POST /api/sessions/{id}/recording/link {"expires_in": seconds}. */
static void
post_recording_link (KkHttpRequest *request, gpointer user_data)
{
  KkRecordingsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *until_text = NULL;
  guint lifetime = KK_RECORDINGS_LINK_LIFETIME_S;
  KkRecording rec;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !request_row (api, request, &rec)
      || !check_row_state (msg, &rec))
    return;
  if (!rec.has_file) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND,
        "there is no file for this recording");
    return;
  }
  body = kk_http_request_get_body (request);
  if (g_bytes_get_size (body) > 0) {
    if (!kk_http_check_content_type (msg, "application/json"))
      return;
    if (!kk_recordings_api_parse_link_request (g_bytes_get_data (body, NULL),
            g_bytes_get_size (body), &lifetime, &error)) {
      kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s",
          error->message);
      return;
    }
  }

  url = kk_recordings_api_signed_url (api->auth, rec.session_id, lifetime,
      &until_text);
  GST_INFO ("session %s: a recording link valid for %u s issued",
      rec.session_id, lifetime);

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "url", url);
  kk_http_json_add_string (builder, "expires_at", until_text);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-store");
}

static void
delete_recording_route (KkHttpRequest *request, gpointer user_data)
{
  KkRecordingsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GError) error = NULL;
  KkRecording rec;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !request_row (api, request, &rec)
      || !check_row_state (msg, &rec))
    return;
  if (!kk_recordings_delete (api->recordings, rec.session_id,
          "by the coordinator", &error)) {
    g_warning ("recordings: %s", error->message);
    kk_http_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "the recording cannot be deleted");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
reply_room_status (KkRecordings *recordings, SoupServerMessage *msg,
    KkRoom *room)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  const char *room_id = kk_room_get_id (room);
  KkRecordingRoom now;

  kk_recordings_get_room (recordings, room_id, &now);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "room");
  json_builder_add_string_value (builder, room_id);
  json_builder_set_member_name (builder, "record");
  json_builder_add_boolean_value (builder, kk_room_get_record (room));
  json_builder_set_member_name (builder, "recording");
  json_builder_add_boolean_value (builder, now.recording);
  json_builder_set_member_name (builder, "paused");
  json_builder_add_boolean_value (builder, now.paused);
  kk_http_json_add_string (builder, "session_id", now.session_id);
  json_builder_set_member_name (builder, "retention_days");
  json_builder_add_int_value (builder, now.retention_days);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static KkRoom *
request_room (KkRecordingsApi *api, KkHttpRequest *request)
{
  KkRoom *room = kk_room_registry_lookup (api->registry,
      kk_http_request_get_param (request, 0));

  if (room == NULL)
    kk_http_reply_error (kk_http_request_get_message (request),
        SOUP_STATUS_NOT_FOUND, "no such room");
  return room;
}

static void
get_room_recording (KkHttpRequest *request, gpointer user_data)
{
  KkRecordingsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  gboolean is_coordinator;
  KkRoom *room;

  if (!kk_auth_require_coordinator_or_host (api->auth, msg,
          kk_http_request_get_param (request, 0), &is_coordinator)
      || (room = request_room (api, request)) == NULL)
    return;
  reply_room_status (api->recordings, msg, room);
}

typedef struct {
  KkRecordings *recordings;
  KkHttpRequest *request;
  KkRoom *room;
} RetentionReply;

static void
retention_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RetentionReply *reply = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (reply->request);
  g_autoptr (GError) error = NULL;

  if (!kk_recordings_set_retention_finish (KK_RECORDINGS (source), result,
          &error))
    kk_http_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "the setting could not be stored");
  else
    reply_room_status (reply->recordings, msg, reply->room);
  kk_http_request_resume (reply->request);
  g_object_unref (reply->recordings);
  g_object_unref (reply->room);
  g_free (reply);
}

/* Answers once stored: what the coordinator was told survives a restart. */
static void
store_retention (KkRecordingsApi *api, KkHttpRequest *request, KkRoom *room,
    guint days)
{
  RetentionReply *reply = g_new0 (RetentionReply, 1);

  reply->recordings = g_object_ref (api->recordings);
  reply->request = request;
  reply->room = g_object_ref (room);
  kk_http_request_pause (request);
  kk_recordings_set_retention_async (api->recordings, kk_room_get_id (room),
      days, retention_stored, reply);
}

static void
post_room_recording (KkHttpRequest *request, gpointer user_data)
{
  KkRecordingsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRecordingRequest change;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  gboolean is_coordinator;
  KkRecordingRoom now;
  KkRoom *room;

  if (!kk_auth_require_coordinator_or_host (api->auth, msg,
          kk_http_request_get_param (request, 0), &is_coordinator)
      || (room = request_room (api, request)) == NULL
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_recordings_api_parse_request (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), &change, &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (change.set_retention && !is_coordinator) {
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "only the coordinator sets the retention");
    return;
  }
  kk_recordings_get_room (api->recordings, kk_room_get_id (room), &now);
  if (change.set_paused && !now.recording) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT,
        "the room is not being recorded now");
    return;
  }

  if (change.set_paused)
    kk_recordings_set_paused (api->recordings, kk_room_get_id (room),
        change.paused);
  if (change.set_retention)
    store_retention (api, request, room, change.retention_days);
  else
    reply_room_status (api->recordings, msg, room);
}

gboolean
kk_recordings_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkRecordings *recordings, GError **error)
{
  KkRecordingsApi *api;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (KK_IS_RECORDINGS (recordings), FALSE);

  if (kk_recordings_api_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_recordings_api_debug, "kk-recordings-api", 0,
        "Kringkast recording routes");

  api = g_new0 (KkRecordingsApi, 1);
  api->auth = g_object_ref (auth);
  api->registry = g_object_ref (registry);
  api->recordings = g_object_ref (recordings);
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);

  kk_http_add_route (server, "GET", "/api/sessions/{id}/recording",
      get_recording, api);
  kk_http_add_route (server, "DELETE", "/api/sessions/{id}/recording",
      delete_recording_route, api);
  kk_http_add_route (server, "POST", "/api/sessions/{id}/recording/link",
      post_recording_link, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/recording",
      get_room_recording, api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/recording",
      post_room_recording, api);
  return TRUE;
}
/* ---- pure helpers ---- */

/* Reads 1..18 digits (never overflows); -1 when there are more. */
static int
parse_digits (const char **p, guint64 *value)
{
  guint n = 0;

  *value = 0;
  while (g_ascii_isdigit (**p)) {
    if (++n > 18)
      return -1;
    *value = *value * 10 + (**p - '0');
    (*p)++;
  }
  return n > 0 ? 1 : 0;
}

static const char *
skip_ows (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

KkRangeResult
kk_recordings_api_parse_range (const char *header, guint64 total,
    guint64 *start, guint64 *end)
{
  const char *p = header;
  guint64 first = 0, last = 0;
  int have_first, have_last;

  if (p == NULL)
    return KK_RANGE_NONE;
  p = skip_ows (p);
  if (g_ascii_strncasecmp (p, "bytes", 5) != 0)
    return KK_RANGE_NONE;
  p = skip_ows (p + 5);
  if (*p != '=')
    return KK_RANGE_NONE;
  p = skip_ows (p + 1);
  have_first = parse_digits (&p, &first);
  if (have_first < 0 || *p != '-')
    return KK_RANGE_NONE;
  p++;
  have_last = parse_digits (&p, &last);
  /* A second range (",") or anything else: the header is not used. */
  if (have_last < 0 || *skip_ows (p) != '\0'
      || (!have_first && !have_last)
      || (have_first && have_last && last < first))
    return KK_RANGE_NONE;

  if (!have_first) {
    /* The last @last bytes (RFC 9110 14.1.2); none of nothing. */
    if (last == 0 || total == 0)
      return KK_RANGE_UNSATISFIABLE;
    *start = last >= total ? 0 : total - last;
    *end = total - 1;
    return KK_RANGE_PARTIAL;
  }
  if (first >= total)
    return KK_RANGE_UNSATISFIABLE;
  *start = first;
  *end = have_last && last < total ? last : total - 1;
  return KK_RANGE_PARTIAL;
}

/* RFC 5987 attr-char. */
static gboolean
is_attr_char (guchar c)
{
  return g_ascii_isalnum (c) || strchr ("!#$&+-.^_`|~", c) != NULL;
}

char *
kk_recordings_api_content_disposition (const char *title,
    gint64 started_wall_us, const char *extension)
{
  g_autofree char *local = kk_time_format_local (started_wall_us);
  g_autofree char *date = g_strndup (local, 10);
  g_autofree char *short_title = g_utf8_substring (title, 0,
      MIN (g_utf8_strlen (title, -1), FILENAME_TITLE_MAX));
  g_autofree char *ascii = g_str_to_ascii (short_title, "C");
  g_autoptr (GString) safe = g_string_new (NULL);
  g_autoptr (GString) name = g_string_new (NULL);
  g_autoptr (GString) encoded = g_string_new (NULL);
  g_autofree char *ascii_name = NULL;

  /* The plain name: letters, digits, '_' and '.', everything else folded
   * into single dashes, no dot or dash first (no hidden files). */
  for (const char *p = ascii; *p != '\0'; p++) {
    if (g_ascii_isalnum (*p) || *p == '_' || (*p == '.' && safe->len > 0))
      g_string_append_c (safe, *p);
    else if (safe->len > 0 && safe->str[safe->len - 1] != '-')
      g_string_append_c (safe, '-');
  }
  while (safe->len > 0 && (safe->str[safe->len - 1] == '-'
          || safe->str[safe->len - 1] == '.'))
    g_string_truncate (safe, safe->len - 1);
  if (safe->len == 0)
    g_string_append (safe, "recording");
  ascii_name = g_strdup_printf ("%s%s%s.%s", safe->str, *date ? "-" : "",
      date, extension);

  /* The UTF-8 name: the title as given, but never a path. */
  for (const char *p = short_title; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (c == '/' || c == '\\' || g_unichar_iscntrl (c)
        || (name->len == 0 && c == '.'))
      g_string_append_c (name, '-');
    else
      g_string_append_unichar (name, c);
  }
  g_string_append_printf (name, "%s%s.%s", *date ? " " : "", date, extension);
  for (gsize i = 0; i < name->len; i++) {
    guchar c = name->str[i];

    if (is_attr_char (c))
      g_string_append_c (encoded, c);
    else
      g_string_append_printf (encoded, "%%%02X", c);
  }
  return g_strdup_printf ("attachment; filename=\"%s\"; filename*=UTF-8''%s",
      ascii_name, encoded->str);
}

gboolean
kk_recordings_api_parse_request (const char *data, gsize length,
    KkRecordingRequest *request, GError **error)
{
  static const char *const allowed[] = { "paused", "retention_days", NULL };
  g_autoptr (JsonObject) object = NULL;
  JsonNode *node;

  memset (request, 0, sizeof *request);
  object = kk_json_parse_object (data, length, allowed, error);
  if (object == NULL)
    return FALSE;
  if ((node = json_object_get_member (object, "paused")) != NULL) {
    if (json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
      g_set_error_literal (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
          "\"paused\" must be true or false");
      return FALSE;
    }
    request->set_paused = TRUE;
    request->paused = json_node_get_boolean (node);
  }
  if ((node = json_object_get_member (object, "retention_days")) != NULL) {
    gint64 days;

    if (json_node_get_value_type (node) != G_TYPE_INT64
        || (days = json_node_get_int (node)) < 0
        || days > KK_RECORDINGS_RETENTION_MAX_DAYS) {
      g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
          "\"retention_days\" must be a whole number from 0 (keep) to %d",
          KK_RECORDINGS_RETENTION_MAX_DAYS);
      return FALSE;
    }
    request->set_retention = TRUE;
    request->retention_days = days;
  }
  if (!request->set_paused && !request->set_retention) {
    g_set_error_literal (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
        "give \"paused\" or \"retention_days\"");
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_recordings_api_parse_link_request (const char *data, gsize length,
    guint *lifetime_s, GError **error)
{
  g_autoptr (JsonNode) root = kk_json_parse (data, length, error);
  JsonObject *object;
  JsonNode *node;
  gint64 seconds;

  if (root == NULL)
    return FALSE;
  object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  node = object != NULL ? json_object_get_member (object, "expires_in")
      : NULL;
  if (object == NULL || json_object_get_size (object) > (node != NULL ? 1 : 0)) {
    g_set_error_literal (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
        "the body must be {} or {\"expires_in\": seconds}");
    return FALSE;
  }
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_INT64
      || (seconds = json_node_get_int (node)) < 1
      || seconds > KK_RECORDINGS_LINK_MAX_S) {
    g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
        "\"expires_in\" must be a whole number of seconds from 1 to %d",
        KK_RECORDINGS_LINK_MAX_S);
    return FALSE;
  }
  *lifetime_s = seconds;
  return TRUE;
}
