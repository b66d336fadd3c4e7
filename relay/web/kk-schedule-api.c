/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schedule-api: the routes of kk-schedule; see kk-schedule-api.h.
 *
 * The store is the authority on plans (kk-schedule.h says why): each
 * handler checks what a request may ask (role, room, body, bounds), asks
 * the store, and tells kk-schedule the answer, so that a room's JSON
 * knows its next session without a query.
 */
#include "kk-schedule-api.h"

#include <string.h>

#include "kk-http.h"
#include "kk-recordings-api.h"
#include "kk-time.h"

/* "2025-03-04T10:00:00.123456789+01:00" is 35; room for nothing more. */
#define KK_SCHEDULE_TIME_MAX 40

/* ---- JSON ---- */

void
kk_schedule_api_build_session (JsonBuilder *builder, KkRecordings *recordings,
    const KkStoreSession *session, gint64 now_us)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, session->id);
  json_builder_set_member_name (builder, "room");
  json_builder_add_string_value (builder, session->room_id);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder,
      kk_session_state_to_string (kk_session_state (session, now_us)));
  kk_http_json_add_time (builder, "scheduled_start", session->scheduled_start);
  kk_http_json_add_time (builder, "scheduled_end", session->scheduled_end);
  kk_http_json_add_time (builder, "started_at", session->started_at);
  kk_http_json_add_time (builder, "ended_at", session->ended_at);
  /* Its state, codecs, duration, pauses: kk-recordings knows them. */
  json_builder_set_member_name (builder, "recording");
  kk_recordings_api_add_json (builder, recordings, session->id);
  json_builder_end_object (builder);
}

void
kk_schedule_api_add_next_session (JsonBuilder *builder, KkSchedule *schedule,
    KkRoom *room)
{
  const KkStoreSession *next = schedule != NULL
      ? kk_schedule_next_session (schedule, kk_room_get_id (room)) : NULL;

  json_builder_set_member_name (builder, "next_session");
  if (next == NULL) {
    json_builder_add_null_value (builder);
    return;
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, next->id);
  kk_http_json_add_time (builder, "starts_at", next->scheduled_start);
  kk_http_json_add_time (builder, "ends_at", next->scheduled_end);
  json_builder_end_object (builder);
}

/* ---- bodies ---- */

static gboolean
bad_request (GError **error, const char *format, const char *member)
{
  g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST, format,
      member);
  return FALSE;
}

/* RFC 3339's date-time (section 5.6), with 't' and 'z' as 'T' and 'Z':
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm). Only the shape; GLib
 * checks the ranges. */
static gboolean
rfc3339_shape (const char *text)
{
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  const char *p = text;

  for (guint i = 0; shape[i] != '\0'; i++, p++) {
    if (shape[i] == 'd' ? !g_ascii_isdigit (*p)
        : shape[i] == 'T' ? (*p != 'T' && *p != 't') : *p != shape[i])
      return FALSE;
  }
  if (*p == '.') {
    const char *digits = ++p;

    while (g_ascii_isdigit (*p))
      p++;
    if (p == digits || p - digits > 9)
      return FALSE;
  }
  if (*p == 'Z' || *p == 'z')
    return p[1] == '\0';
  return (*p == '+' || *p == '-') && g_ascii_isdigit (p[1])
      && g_ascii_isdigit (p[2]) && p[3] == ':' && g_ascii_isdigit (p[4])
      && g_ascii_isdigit (p[5]) && p[6] == '\0';
}

static gboolean
parse_time (JsonObject *object, const char *member, gint64 *time_us,
    GError **error)
{
  JsonNode *node = json_object_get_member (object, member);
  g_autofree char *text = NULL;
  g_autoptr (GDateTime) time = NULL;

  *time_us = 0;
  /* Absent and null both mean "not given". */
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return bad_request (error, "\"%s\" must be an RFC 3339 time", member);
  text = g_strdup (json_node_get_string (node));
  if (strlen (text) > KK_SCHEDULE_TIME_MAX || !rfc3339_shape (text))
    return bad_request (error, "\"%s\" must be an RFC 3339 time with its "
        "offset, like 2025-03-04T10:00:00+01:00", member);
  /* GLib wants the capitals; the shape check left only ASCII. */
  g_strdelimit (text, "t", 'T');
  g_strdelimit (text, "z", 'Z');
  time = g_date_time_new_from_iso8601 (text, NULL);
  /* 0 is "not given" to the caller; no plan lies before 1970 anyway. */
  if (time == NULL || g_date_time_to_unix (time) <= 0)
    return bad_request (error, "\"%s\" is not a valid time", member);
  *time_us = g_date_time_to_unix (time) * G_USEC_PER_SEC;
  return TRUE;
}

gboolean
kk_schedule_api_parse_request (const char *data, gsize length, gboolean partial,
    gint64 *start_us, gint64 *end_us, GError **error)
{
  static const char *const allowed[] = { "starts_at", "ends_at", NULL };
  g_autoptr (JsonObject) object = NULL;

  *start_us = *end_us = 0;
  object = kk_json_parse_object (data, length, allowed, error);
  if (object == NULL)
    return FALSE;
  if (!parse_time (object, "starts_at", start_us, error)
      || !parse_time (object, "ends_at", end_us, error))
    return FALSE;
  if (!partial && *start_us == 0)
    return bad_request (error, "\"%s\" is required", "starts_at");
  if (!partial && *end_us == 0)
    return bad_request (error, "\"%s\" is required", "ends_at");
  if (partial && *start_us == 0 && *end_us == 0)
    return bad_request (error, "give \"starts_at\", \"ends_at\" or both%s",
        "");
  return TRUE;
}

gboolean
kk_schedule_api_validate_times (gint64 start_us, gint64 end_us, gint64 now_us,
    GError **error)
{
  if (end_us <= start_us)
    return bad_request (error, "\"ends_at\" must be after \"starts_at\"%s",
        "");
  if (end_us - start_us < (gint64) KK_SCHEDULE_MIN_DURATION_S * G_USEC_PER_SEC)
    return bad_request (error, "a session lasts at least a minute%s", "");
  if (end_us - start_us > (gint64) KK_SCHEDULE_MAX_DURATION_S * G_USEC_PER_SEC)
    return bad_request (error, "a session lasts at most 24 hours%s", "");
  if (start_us < now_us - (gint64) KK_SCHEDULE_MAX_PAST_S * G_USEC_PER_SEC)
    return bad_request (error, "\"%s\" is more than a year ago",
        "starts_at");
  if (start_us > now_us + (gint64) KK_SCHEDULE_MAX_AHEAD_S * G_USEC_PER_SEC)
    return bad_request (error, "\"%s\" is more than three years ahead",
        "starts_at");
  return TRUE;
}

/* ---- routes ---- */

/* The routes' data, kept by the server. */
typedef struct {
  KkAuth *auth;
  KkRoomRegistry *registry;
  KkStore *store;
  KkSchedule *schedule;
  KkRecordings *recordings;     /* nullable */
} KkScheduleApi;

static void
api_free (KkScheduleApi *api)
{
  g_clear_object (&api->auth);
  g_clear_object (&api->registry);
  g_clear_object (&api->store);
  g_clear_object (&api->schedule);
  g_clear_object (&api->recordings);
  g_free (api);
}

/* A request across its store jobs. It holds what its callbacks use, since
 * a job may finish after the server (and so the routes' data) has gone. */
typedef struct {
  KkStore *store;
  KkSchedule *schedule;
  KkRecordings *recordings;     /* nullable */
  KkHttpRequest *request;
  gboolean create;              /* POST: 201 with a Location */
  gint64 start_us;              /* PATCH: what the body gave (0: keep) */
  gint64 end_us;
} KkScheduleCall;

static KkScheduleCall *
call_new (KkScheduleApi *api, KkHttpRequest *request)
{
  KkScheduleCall *call = g_new0 (KkScheduleCall, 1);

  call->store = g_object_ref (api->store);
  call->schedule = g_object_ref (api->schedule);
  call->recordings = api->recordings != NULL
      ? g_object_ref (api->recordings) : NULL;
  call->request = request;
  kk_http_request_pause (request);
  return call;
}

static void
call_finish (KkScheduleCall *call)
{
  kk_http_request_resume (call->request);
  g_object_unref (call->store);
  g_object_unref (call->schedule);
  g_clear_object (&call->recordings);
  g_free (call);
}

static void
reply_store_error (SoupServerMessage *msg, const GError *error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

  if (g_error_matches (error, KK_STORE_ERROR, KK_STORE_ERROR_NOT_FOUND))
    status = SOUP_STATUS_NOT_FOUND;
  else if (g_error_matches (error, KK_STORE_ERROR, KK_STORE_ERROR_CONFLICT))
    status = SOUP_STATUS_CONFLICT;
  else
    g_warning ("schedule: %s", error->message);
  kk_http_reply_error (msg, status, "%s",
      status == SOUP_STATUS_INTERNAL_SERVER_ERROR ? "the store failed"
      : error->message);
}

static void
reply_session (KkScheduleCall *call, SoupServerMessage *msg, guint status,
    const KkStoreSession *session)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  kk_schedule_api_build_session (builder, call->recordings, session,
      g_get_real_time ());
  kk_http_reply_builder (msg, status, builder);
}

/* POST, PATCH: the store's answer. */
static void
scheduled_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkScheduleCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkStoreSession) session = NULL;
  g_autoptr (GError) error = NULL;
  gboolean created = call->create;

  session = kk_store_schedule_session_finish (KK_STORE (source), result,
      &error);
  if (session == NULL) {
    reply_store_error (msg, error);
  } else {
    g_autofree char *location = g_strconcat ("/api/sessions/", session->id,
        NULL);
    g_autofree char *start = kk_time_format_utc (session->scheduled_start);
    g_autofree char *end = kk_time_format_utc (session->scheduled_end);

    kk_schedule_remember (call->schedule, session);
    g_info ("schedule: room %s: session %s %s for %s to %s",
        session->room_id, session->id,
        created ? "scheduled" : "rescheduled", start, end);
    reply_session (call, msg,
        created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, session);
    if (created)
      soup_message_headers_replace (
          soup_server_message_get_response_headers (msg), "Location",
          location);
  }
  call_finish (call);
}

static void
post_session (KkHttpRequest *request, gpointer user_data)
{
  KkScheduleApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  KkScheduleCall *call;
  gint64 start, end;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  if (kk_room_registry_lookup (api->registry, room_id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  if (!kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_schedule_api_parse_request (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), FALSE, &start, &end, &error)
      || !kk_schedule_api_validate_times (start, end, g_get_real_time (),
          &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = call_new (api, request);
  call->create = TRUE;
  kk_store_schedule_session (api->store, room_id, start, end,
      scheduled_cb, call);
}

static void
got_session_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkScheduleCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkStoreSession) session = NULL;
  g_autoptr (GError) error = NULL;

  session = kk_store_get_session_finish (KK_STORE (source), result, &error);
  if (session == NULL)
    reply_store_error (msg, error);
  else
    reply_session (call, msg, SOUP_STATUS_OK, session);
  call_finish (call);
}

static void
get_session (KkHttpRequest *request, gpointer user_data)
{
  KkScheduleApi *api = user_data;

  if (!kk_auth_require_coordinator (api->auth,
          kk_http_request_get_message (request)))
    return;
  kk_store_get_session (api->store, kk_http_request_get_param (request,
          0), got_session_cb, call_new (api, request));
}

/* PATCH with one of the two times: the other is the session's own, read
 * first. Another change in between is the coordinator racing herself;
 * the store still refuses what is not allowed when it comes to write. */
static void
patch_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkScheduleCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkStoreSession) session = NULL;
  g_autoptr (GError) error = NULL;

  session = kk_store_get_session_finish (KK_STORE (source), result, &error);
  if (session == NULL) {
    reply_store_error (msg, error);
    call_finish (call);
    return;
  }
  if (session->started_at != 0) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT,
        "session %s has gone live", session->id);
    call_finish (call);
    return;
  }
  if (call->start_us == 0)
    call->start_us = session->scheduled_start;
  if (call->end_us == 0)
    call->end_us = session->scheduled_end;
  if (!kk_schedule_api_validate_times (call->start_us, call->end_us,
          g_get_real_time (), &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    call_finish (call);
    return;
  }
  kk_store_reschedule_session (call->store, session->id,
      call->start_us, call->end_us, scheduled_cb, call);
}

static void
patch_session (KkHttpRequest *request, gpointer user_data)
{
  KkScheduleApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  KkScheduleCall *call;
  gint64 start, end;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_schedule_api_parse_request (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), TRUE, &start, &end, &error)
      || (start != 0 && end != 0
          && !kk_schedule_api_validate_times (start, end, g_get_real_time (),
              &error))) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = call_new (api, request);
  call->start_us = start;
  call->end_us = end;
  if (start != 0 && end != 0)
    kk_store_reschedule_session (api->store, id, start, end,
        scheduled_cb, call);
  else
    kk_store_get_session (api->store, id, patch_read_cb, call);
}

static void
cancelled_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkScheduleCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  const char *id = kk_http_request_get_param (call->request, 0);
  g_autoptr (GError) error = NULL;

  if (!kk_store_cancel_session_finish (KK_STORE (source), result, &error)) {
    reply_store_error (msg, error);
  } else {
    kk_schedule_forget (call->schedule, id);
    g_info ("schedule: session %s cancelled", id);
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  }
  call_finish (call);
}

static void
delete_session (KkHttpRequest *request, gpointer user_data)
{
  KkScheduleApi *api = user_data;

  if (!kk_auth_require_coordinator (api->auth,
          kk_http_request_get_message (request)))
    return;
  kk_store_cancel_session (api->store, kk_http_request_get_param (
          request, 0), cancelled_cb, call_new (api, request));
}

gboolean
kk_schedule_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkStore *store, KkSchedule *schedule,
    KkRecordings *recordings, GError **error)
{
  KkScheduleApi *api;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (KK_IS_SCHEDULE (schedule), FALSE);

  api = g_new0 (KkScheduleApi, 1);
  api->auth = g_object_ref (auth);
  api->registry = g_object_ref (registry);
  api->store = g_object_ref (store);
  api->schedule = g_object_ref (schedule);
  api->recordings = recordings != NULL ? g_object_ref (recordings) : NULL;
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);

  kk_http_add_route (server, "POST", "/api/rooms/{room}/sessions",
      post_session, api);
  kk_http_add_route (server, "GET", "/api/sessions/{id}", get_session, api);
  kk_http_add_route (server, "PATCH", "/api/sessions/{id}", patch_session,
      api);
  kk_http_add_route (server, "DELETE", "/api/sessions/{id}", delete_session,
      api);
  return TRUE;
}
