/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schedule: sessions planned ahead; see kk-schedule.h.
 *
 * The store is the authority: it refuses overlapping plans and changes
 * to a session that went live inside its own transactions, so a PATCH
 * racing the host's first packet gets either the old plan moved or a
 * 409, never a live session with new times. This module checks what a
 * request may ask (role, room, body, bounds), asks the store, and mirrors
 * the answer in its memory of sessions not yet broadcast.
 */
#include "kk-schedule.h"

#include <string.h>

#include "kk-api.h"
#include "kk-http.h"
#include "kk-recordings.h"

/* Where a room and the HTTP server keep the schedule. */
#define KK_SCHEDULE_KEY "kk-schedule"
/* "2025-03-04T10:00:00.123456789+01:00" is 35; room for nothing more. */
#define KK_SCHEDULE_TIME_MAX 40

struct _KkSchedule {
  GObject parent;

  KkStore *store;
  KkRoomRegistry *registry;
  GHashTable *pending;          /* session id -> KkStoreSession, not yet
                                 * broadcast */
};

G_DEFINE_FINAL_TYPE (KkSchedule, kk_schedule, G_TYPE_OBJECT)

/* ---- states and JSON ---- */

const char *
kk_session_state_to_string (KkSessionState state)
{
  switch (state) {
    case KK_SESSION_SCHEDULED:
      return "scheduled";
    case KK_SESSION_LIVE:
      return "live";
    case KK_SESSION_ENDED:
      return "ended";
    case KK_SESSION_MISSED:
      return "missed";
  }
  return "?";
}

KkSessionState
kk_session_state (const KkStoreSession *session, gint64 now_us)
{
  if (session->started_at != 0)
    return session->ended_at == 0 ? KK_SESSION_LIVE : KK_SESSION_ENDED;
  return session->scheduled_end <= now_us ? KK_SESSION_MISSED
      : KK_SESSION_SCHEDULED;
}

/* Returns: (transfer full) (nullable): @time_us in UTC, NULL for 0
 * (none). */
static char *
format_utc (gint64 time_us)
{
  g_autoptr (GDateTime) time = time_us != 0
      ? g_date_time_new_from_unix_utc (time_us / G_USEC_PER_SEC) : NULL;

  return time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ")
      : NULL;
}

/* A time member in UTC, or null. */
static void
add_time (JsonBuilder *builder, const char *member, gint64 time_us)
{
  g_autofree char *text = format_utc (time_us);

  json_builder_set_member_name (builder, member);
  if (text != NULL)
    json_builder_add_string_value (builder, text);
  else
    json_builder_add_null_value (builder);
}

void
kk_schedule_build_session (JsonBuilder *builder, KkStore *store,
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
  add_time (builder, "scheduled_start", session->scheduled_start);
  add_time (builder, "scheduled_end", session->scheduled_end);
  add_time (builder, "started_at", session->started_at);
  add_time (builder, "ended_at", session->ended_at);
  /* Its state, codecs, duration, pauses: kk-recordings knows them. */
  json_builder_set_member_name (builder, "recording");
  kk_recordings_add_json (kk_recordings_for_store (store), builder,
      session->id);
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
kk_schedule_parse_request (const char *data, gsize length, gboolean partial,
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
kk_schedule_validate_times (gint64 start_us, gint64 end_us, gint64 now_us,
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

/* ---- memory of sessions not yet broadcast ---- */

static KkStoreSession *
session_copy (const KkStoreSession *session)
{
  KkStoreSession *copy = g_new0 (KkStoreSession, 1);

  copy->id = g_strdup (session->id);
  copy->room_id = g_strdup (session->room_id);
  copy->started_at = session->started_at;
  copy->ended_at = session->ended_at;
  copy->recording = g_strdup (session->recording);
  copy->scheduled_start = session->scheduled_start;
  copy->scheduled_end = session->scheduled_end;
  return copy;
}

/* Mirrors what the store now holds for @session. */
static void
remember (KkSchedule *schedule, const KkStoreSession *session)
{
  if (session->started_at == 0 && session->scheduled_start != 0)
    g_hash_table_replace (schedule->pending, g_strdup (session->id),
        session_copy (session));
  else
    g_hash_table_remove (schedule->pending, session->id);
}

static gboolean
is_over (gpointer key, gpointer value, gpointer user_data)
{
  const KkStoreSession *session = value;

  return session->scheduled_end <= *(const gint64 *) user_data;
}

void
kk_schedule_add_next_session (JsonBuilder *builder, KkRoom *room)
{
  KkSchedule *schedule = g_object_get_data (G_OBJECT (room), KK_SCHEDULE_KEY);
  const KkStoreSession *next = NULL;
  gint64 now = g_get_real_time ();

  json_builder_set_member_name (builder, "next_session");
  if (schedule != NULL) {
    GHashTableIter iter;
    gpointer value;

    /* Missed sessions are of no more use here; a reschedule brings one
     * back. */
    g_hash_table_foreach_remove (schedule->pending, is_over, &now);
    g_hash_table_iter_init (&iter, schedule->pending);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
      const KkStoreSession *s = value;

      if (g_strcmp0 (s->room_id, kk_room_get_id (room)) != 0)
        continue;
      if (next == NULL || s->scheduled_start < next->scheduled_start
          || (s->scheduled_start == next->scheduled_start
              && strcmp (s->id, next->id) < 0))
        next = s;
    }
  }
  if (next == NULL) {
    json_builder_add_null_value (builder);
    return;
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, next->id);
  add_time (builder, "starts_at", next->scheduled_start);
  add_time (builder, "ends_at", next->scheduled_end);
  json_builder_end_object (builder);
}

static void
on_session_opened (KkLecture *lecture, const char *session_id,
    gint64 started_wall_us, gpointer user_data)
{
  KkSchedule *schedule = user_data;

  /* The store made it live already; it is nobody's next session now. */
  g_hash_table_remove (schedule->pending, session_id);
}

void
kk_schedule_watch (KkSchedule *schedule, KkLecture *lecture)
{
  g_return_if_fail (KK_IS_SCHEDULE (schedule));

  g_signal_connect_object (lecture, "session-opened",
      G_CALLBACK (on_session_opened), schedule, 0);
  /* Not a reference: the schedule holds the registry, which holds the
   * rooms. Its dispose takes this off again. */
  g_object_set_data (G_OBJECT (kk_lecture_get_room (lecture)),
      KK_SCHEDULE_KEY, schedule);
}

/* ---- HTTP ---- */

typedef struct {
  KkSchedule *schedule;
  KkHttpRequest *request;
  gboolean create;              /* POST: 201 with a Location */
  gint64 start_us;              /* PATCH: what the body gave (0: keep) */
  gint64 end_us;
} KkScheduleCall;

static KkScheduleCall *
call_new (KkSchedule *schedule, KkHttpRequest *request)
{
  KkScheduleCall *call = g_new0 (KkScheduleCall, 1);

  call->schedule = g_object_ref (schedule);
  call->request = request;
  kk_http_request_pause (request);
  return call;
}

static void
call_finish (KkScheduleCall *call)
{
  kk_http_request_resume (call->request);
  g_object_unref (call->schedule);
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
reply_session (KkSchedule *schedule, SoupServerMessage *msg, guint status,
    const KkStoreSession *session)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  kk_schedule_build_session (builder, schedule->store, session,
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
    g_autofree char *start = format_utc (session->scheduled_start);
    g_autofree char *end = format_utc (session->scheduled_end);

    remember (call->schedule, session);
    g_info ("schedule: room %s: session %s %s for %s to %s",
        session->room_id, session->id,
        created ? "scheduled" : "rescheduled", start, end);
    reply_session (call->schedule, msg,
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
  KkSchedule *schedule = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  KkScheduleCall *call;
  gint64 start, end;

  if (!kk_api_require_coordinator (schedule->registry, msg))
    return;
  if (kk_room_registry_lookup (schedule->registry, room_id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  if (!kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_schedule_parse_request (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), FALSE, &start, &end, &error)
      || !kk_schedule_validate_times (start, end, g_get_real_time (),
          &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = call_new (schedule, request);
  call->create = TRUE;
  kk_store_schedule_session (schedule->store, room_id, start, end,
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
    reply_session (call->schedule, msg, SOUP_STATUS_OK, session);
  call_finish (call);
}

static void
get_session (KkHttpRequest *request, gpointer user_data)
{
  KkSchedule *schedule = user_data;

  if (!kk_api_require_coordinator (schedule->registry,
          kk_http_request_get_message (request)))
    return;
  kk_store_get_session (schedule->store, kk_http_request_get_param (request,
          0), got_session_cb, call_new (schedule, request));
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
  if (!kk_schedule_validate_times (call->start_us, call->end_us,
          g_get_real_time (), &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    call_finish (call);
    return;
  }
  kk_store_reschedule_session (call->schedule->store, session->id,
      call->start_us, call->end_us, scheduled_cb, call);
}

static void
patch_session (KkHttpRequest *request, gpointer user_data)
{
  KkSchedule *schedule = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  KkScheduleCall *call;
  gint64 start, end;

  if (!kk_api_require_coordinator (schedule->registry, msg)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_schedule_parse_request (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), TRUE, &start, &end, &error)
      || (start != 0 && end != 0
          && !kk_schedule_validate_times (start, end, g_get_real_time (),
              &error))) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = call_new (schedule, request);
  call->start_us = start;
  call->end_us = end;
  if (start != 0 && end != 0)
    kk_store_reschedule_session (schedule->store, id, start, end,
        scheduled_cb, call);
  else
    kk_store_get_session (schedule->store, id, patch_read_cb, call);
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
    g_hash_table_remove (call->schedule->pending, id);
    g_info ("schedule: session %s cancelled", id);
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  }
  call_finish (call);
}

static void
delete_session (KkHttpRequest *request, gpointer user_data)
{
  KkSchedule *schedule = user_data;

  if (!kk_api_require_coordinator (schedule->registry,
          kk_http_request_get_message (request)))
    return;
  kk_store_cancel_session (schedule->store, kk_http_request_get_param (
          request, 0), cancelled_cb, call_new (schedule, request));
}

void
kk_schedule_register (KkSchedule *schedule, SoupServer *server)
{
  g_return_if_fail (KK_IS_SCHEDULE (schedule));

  /* The routes' user data lives as long as the server. */
  g_object_set_data_full (G_OBJECT (server), KK_SCHEDULE_KEY,
      g_object_ref (schedule), g_object_unref);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/sessions",
      post_session, schedule);
  kk_http_add_route (server, "GET", "/api/sessions/{id}", get_session,
      schedule);
  kk_http_add_route (server, "PATCH", "/api/sessions/{id}", patch_session,
      schedule);
  kk_http_add_route (server, "DELETE", "/api/sessions/{id}", delete_session,
      schedule);
}

/* ---- lifecycle ---- */

KkSchedule *
kk_schedule_new (KkStore *store, KkRoomRegistry *registry, GError **error)
{
  g_autoptr (KkSchedule) schedule = NULL;
  g_autoptr (GPtrArray) planned = NULL;

  g_return_val_if_fail (KK_IS_STORE (store), NULL);
  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), NULL);

  planned = kk_store_load_scheduled (store, g_get_real_time (), error);
  if (planned == NULL)
    return NULL;
  schedule = g_object_new (KK_TYPE_SCHEDULE, NULL);
  schedule->store = g_object_ref (store);
  schedule->registry = g_object_ref (registry);
  for (guint i = 0; i < planned->len; i++)
    remember (schedule, planned->pdata[i]);
  return g_steal_pointer (&schedule);
}

static void
kk_schedule_dispose (GObject *object)
{
  KkSchedule *schedule = KK_SCHEDULE (object);

  if (schedule->registry != NULL) {
    g_autoptr (GPtrArray) rooms = kk_room_registry_list (schedule->registry);

    for (guint i = 0; i < rooms->len; i++) {
      GObject *room = rooms->pdata[i];

      if (g_object_get_data (room, KK_SCHEDULE_KEY) == schedule)
        g_object_set_data (room, KK_SCHEDULE_KEY, NULL);
    }
  }
  g_clear_object (&schedule->registry);
  g_clear_object (&schedule->store);
  G_OBJECT_CLASS (kk_schedule_parent_class)->dispose (object);
}

static void
kk_schedule_finalize (GObject *object)
{
  KkSchedule *schedule = KK_SCHEDULE (object);

  g_hash_table_unref (schedule->pending);
  G_OBJECT_CLASS (kk_schedule_parent_class)->finalize (object);
}

static void
kk_schedule_class_init (KkScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kk_schedule_dispose;
  object_class->finalize = kk_schedule_finalize;
}

static void
kk_schedule_init (KkSchedule *schedule)
{
  schedule->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) kk_store_session_free);
}
