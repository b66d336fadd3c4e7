/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-report-api: the session report's and the live chart's routes; see
 * kk-report-api.h.
 *
 * A report is four store jobs in a row, each queued after every
 * attendance event already received: the session as planned and
 * broadcast (kk-store), the attendance rows with their verdicts and bars
 * (kk-attendance-log), the audience series (kk-attendance-log), and the
 * session's questions (kk-questions, shown as the coordinator's list of
 * them shows them). The request is paused meanwhile and answered once, by
 * the last.
 *
 * Times are RFC 3339 in UTC, whole seconds, like every time in the API;
 * the page places them on its time axis itself.
 */
#include "kk-report-api.h"

#include "kk-http.h"
#include "kk-questions-api.h"
#include "kk-recordings-api.h"
#include "kk-schedule-api.h"

typedef struct {
  KkAuth *auth;
  KkAttendanceLog *log;
  KkRoomRegistry *registry;
  KkStore *store;
  KkRecordings *recordings;
  KkQuestions *questions;
} KkReportApi;

static void
api_free (gpointer data)
{
  KkReportApi *api = data;

  g_clear_object (&api->auth);
  g_clear_object (&api->log);
  g_clear_object (&api->registry);
  g_clear_object (&api->store);
  g_clear_object (&api->recordings);
  g_clear_object (&api->questions);
  g_free (api);
}

/* One report being gathered. */
typedef struct {
  KkReportApi *api;
  KkHttpRequest *request;
  KkStoreSession *session;
  KkAttendanceReport *report;
  KkAttendanceAudience *audience;
} ReportCall;

static void
report_call_finish (ReportCall *call)
{
  kk_http_request_resume (call->request);
  kk_http_request_unref (call->request);
  g_clear_pointer (&call->session, kk_store_session_free);
  g_clear_pointer (&call->report, kk_attendance_report_free);
  g_clear_pointer (&call->audience, kk_attendance_audience_free);
  g_free (call);
}

/* Unknown sessions are 404; anything else is the relay's fault. */
static void
reply_failure (SoupServerMessage *msg, const GError *error)
{
  if ((error->domain == KK_ATTENDANCE_ERROR
          && error->code == KK_ATTENDANCE_ERROR_NOT_FOUND)
      || (error->domain == KK_STORE_ERROR
          && error->code == KK_STORE_ERROR_NOT_FOUND)) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "%s", error->message);
    return;
  }
  g_warning ("report api: %s", error->message);
  kk_http_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s",
      error->message);
}

/* ---- JSON ---- */

static gint64
rounded_seconds (gint64 us)
{
  return (us + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC;
}

static void
add_int (JsonBuilder *builder, const char *member, gint64 value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_int_value (builder, value);
}

static void
add_live (JsonBuilder *builder, const KkAttendanceSession *session)
{
  json_builder_set_member_name (builder, "live");
  json_builder_begin_object (builder);
  kk_http_json_add_time (builder, "from", session->started_us);
  kk_http_json_add_time (builder, "to", session->live_end_us);
  json_builder_set_member_name (builder, "running");
  json_builder_add_boolean_value (builder, session->ended_us == 0);
  json_builder_end_object (builder);
}

static void
add_audience (JsonBuilder *builder, const GArray *points)
{
  json_builder_set_member_name (builder, "audience");
  json_builder_begin_array (builder);
  for (guint i = 0; points != NULL && i < points->len; i++) {
    const KkAudiencePoint *p = &g_array_index (points, KkAudiencePoint, i);

    json_builder_begin_object (builder);
    kk_http_json_add_time (builder, "at", p->at_us);
    add_int (builder, "screens", p->screens);
    add_int (builder, "people", p->people);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
}

/* A person's line of the report: who, the verdict, and their bar. */
static void
add_person (JsonBuilder *builder, const KkAttendanceRow *row)
{
  const KkAttendanceResult *r = &row->result;

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "participant_id", row->participant_id);
  kk_http_json_add_string (builder, "name", row->name);
  kk_http_json_add_string (builder, "workplace", row->workplace);
  kk_http_json_add_string (builder, "verdict",
      kk_attendance_verdict_to_string (r->verdict));
  json_builder_set_member_name (builder, "completed");
  json_builder_add_boolean_value (builder, row->completed);
  json_builder_set_member_name (builder, "overridden");
  json_builder_add_boolean_value (builder, row->overridden);
  add_int (builder, "attended_seconds", rounded_seconds (r->attended_us));
  json_builder_set_member_name (builder, "attended_ratio");
  json_builder_add_double_value (builder,
      (double) (gint64) (r->attended_ratio * 10000 + 0.5) / 10000);
  json_builder_set_member_name (builder, "lateness_seconds");
  if (r->lateness_us >= 0)
    json_builder_add_int_value (builder, rounded_seconds (r->lateness_us));
  else
    json_builder_add_null_value (builder);
  kk_http_json_add_time (builder, "first_join", r->first_join_us);
  kk_http_json_add_time (builder, "last_leave", r->last_leave_us);
  json_builder_set_member_name (builder, "intervals");
  json_builder_begin_array (builder);
  for (guint i = 0; row->intervals != NULL && i < row->intervals->len; i++) {
    const KkInterval *iv = &g_array_index (row->intervals, KkInterval, i);

    json_builder_begin_object (builder);
    kk_http_json_add_time (builder, "from", iv->start_us);
    kk_http_json_add_time (builder, "to", iv->end_us);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
add_recording_link (JsonBuilder *builder, KkReportApi *api,
    const char *session_id)
{
  g_autofree char *url = NULL;
  g_autofree char *expires_at = NULL;
  KkRecording rec;

  json_builder_set_member_name (builder, "recording_link");
  /* Only a file that is there to play gets a link. */
  if (api->recordings == NULL
      || !kk_recordings_lookup (api->recordings, session_id, &rec)
      || !rec.has_file
      || (rec.state != KK_RECORDING_FINISHED
          && rec.state != KK_RECORDING_FAILED)) {
    json_builder_add_null_value (builder);
    return;
  }
  url = kk_recordings_api_signed_url (api->auth, session_id,
      KK_RECORDINGS_LINK_LIFETIME_S, &expires_at);
  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "url", url);
  kk_http_json_add_string (builder, "expires_at", expires_at);
  json_builder_end_object (builder);
}

static void
reply_report (ReportCall *call, GPtrArray *questions)
{
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  const KkAttendanceAudience *audience = call->audience;
  const KkAttendanceSession *session = audience->session;
  KkRoom *room = kk_room_registry_lookup (call->api->registry,
      call->session->room_id);

  json_builder_begin_object (builder);
  /* The plan and the broadcast, with the recording and its pauses. */
  json_builder_set_member_name (builder, "session");
  kk_schedule_api_build_session (builder, call->api->recordings,
      call->session, g_get_real_time ());
  /* A course deleted since keeps its id as its name. */
  kk_http_json_add_string (builder, "title", room != NULL
      ? kk_room_get_title (room) : call->session->room_id);
  add_live (builder, session);
  json_builder_set_member_name (builder, "completion_ratio");
  json_builder_add_double_value (builder, session->policy.completion_ratio);
  add_int (builder, "grace_seconds", session->policy.grace_us
      / G_USEC_PER_SEC);
  add_audience (builder, audience->points);
  json_builder_set_member_name (builder, "people");
  json_builder_begin_array (builder);
  for (guint i = 0; i < call->report->rows->len; i++)
    add_person (builder, call->report->rows->pdata[i]);
  json_builder_end_array (builder);
  kk_questions_api_build_list (builder, questions);
  add_recording_link (builder, call->api, call->session->id);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-store");
}

/* ---- GET /api/sessions/{id}/report ---- */

static void
questions_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReportCall *call = user_data;
  g_autoptr (GPtrArray) questions = NULL;
  g_autoptr (GError) error = NULL;

  questions = kk_questions_list_finish (call->api->questions, result,
      &error);
  if (questions == NULL)
    reply_failure (kk_http_request_get_message (call->request), error);
  else
    reply_report (call, questions);
  report_call_finish (call);
}

static void
audience_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReportCall *call = user_data;
  g_autoptr (GError) error = NULL;

  call->audience = kk_attendance_log_audience_finish (call->api->log, result,
      &error);
  if (call->audience == NULL) {
    reply_failure (kk_http_request_get_message (call->request), error);
    report_call_finish (call);
    return;
  }
  kk_questions_list_async (call->api->questions, call->session->id, NULL,
      questions_read, call);
}

static void
attendance_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReportCall *call = user_data;
  g_autoptr (GError) error = NULL;

  call->report = kk_attendance_log_report_finish (call->api->log, result,
      &error);
  if (call->report == NULL) {
    reply_failure (kk_http_request_get_message (call->request), error);
    report_call_finish (call);
    return;
  }
  kk_attendance_log_audience_async (call->api->log, call->session->id, NULL,
      audience_read, call);
}

static void
session_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReportCall *call = user_data;
  g_autoptr (GError) error = NULL;

  call->session = kk_store_get_session_finish (KK_STORE (source), result,
      &error);
  if (call->session == NULL) {
    reply_failure (kk_http_request_get_message (call->request), error);
    report_call_finish (call);
    return;
  }
  if (call->session->started_at == 0) {
    kk_http_reply_error (kk_http_request_get_message (call->request),
        SOUP_STATUS_NOT_FOUND, "session %s has not been broadcast: "
        "there is nothing to report yet", call->session->id);
    report_call_finish (call);
    return;
  }
  kk_attendance_log_report_async (call->api->log, call->session->id, NULL,
      attendance_read, call);
}

static void
get_report (KkHttpRequest *request, gpointer user_data)
{
  KkReportApi *api = user_data;
  ReportCall *call;

  if (!kk_auth_require_coordinator (api->auth,
          kk_http_request_get_message (request)))
    return;
  call = g_new0 (ReportCall, 1);
  call->api = api;
  call->request = kk_http_request_ref (request);
  kk_http_request_pause (request);
  kk_store_get_session (api->store, kk_http_request_get_param (request, 0),
      session_read, call);
}

/* ---- GET /api/rooms/{room}/audience ---- */

typedef struct {
  KkReportApi *api;
  KkHttpRequest *request;
} AudienceCall;

static void
live_audience_read (GObject *source, GAsyncResult *result,
    gpointer user_data)
{
  g_autofree AudienceCall *call = user_data;
  g_autoptr (KkHttpRequest) request = call->request;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (KkAttendanceAudience) audience = NULL;
  g_autoptr (GError) error = NULL;

  audience = kk_attendance_log_audience_finish (call->api->log, result,
      &error);
  if (audience == NULL && !g_error_matches (error, KK_ATTENDANCE_ERROR,
          KK_ATTENDANCE_ERROR_NOT_FOUND)) {
    reply_failure (msg, error);
    kk_http_request_resume (request);
    return;
  }
  /* Nothing live is an empty chart, not an error: the host's page asks
   * before the broadcast starts and after it ends. */
  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "session_id",
      audience != NULL ? audience->session->id : NULL);
  if (audience != NULL) {
    add_live (builder, audience->session);
  } else {
    json_builder_set_member_name (builder, "live");
    json_builder_add_null_value (builder);
  }
  add_audience (builder, audience != NULL ? audience->points : NULL);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-store");
  kk_http_request_resume (request);
}

static void
get_live_audience (KkHttpRequest *request, gpointer user_data)
{
  KkReportApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  gboolean is_coordinator;
  AudienceCall *call;

  if (!kk_auth_require_coordinator_or_host (api->auth, msg, room_id,
          &is_coordinator))
    return;
  if (kk_room_registry_lookup (api->registry, room_id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  call = g_new0 (AudienceCall, 1);
  call->api = api;
  call->request = kk_http_request_ref (request);
  kk_http_request_pause (request);
  kk_attendance_log_audience_async (api->log, NULL, room_id,
      live_audience_read, call);
}

gboolean
kk_report_api_register (SoupServer *server, KkAuth *auth,
    KkAttendanceLog *log, KkRoomRegistry *registry, KkStore *store,
    KkRecordings *recordings, KkQuestions *questions, GError **error)
{
  KkReportApi *api;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (KK_IS_QUESTIONS (questions), FALSE);

  api = g_new0 (KkReportApi, 1);
  api->auth = g_object_ref (auth);
  api->log = g_object_ref (log);
  api->registry = g_object_ref (registry);
  api->store = g_object_ref (store);
  api->recordings = recordings != NULL ? g_object_ref (recordings) : NULL;
  api->questions = g_object_ref (questions);
  kk_http_server_keep (server, api, api_free);

  kk_http_add_route (server, "GET", "/api/sessions/{id}/report", get_report,
      api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/audience",
      get_live_audience, api);
  return TRUE;
}
