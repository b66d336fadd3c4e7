/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-attendance-api: attendance routes; see kk-attendance-api.h.
 *
 * Reports are made on the store thread from the stored evidence and only
 * formatted here: JSON with the contract's fields first and the evidence
 * behind them after, or CSV in the Excel dialect (for the coordinator)
 * or RFC 4180 (for scripts). CSV values are what a person reads: whole
 * minutes and percentages (rounded down, so a row never shows more than
 * what counted), local times with their offset.
 */
#include "kk-attendance-api.h"

#include <string.h>

#include "kk-http.h"
#include "kk-segments.h"
#include "kk-time.h"

typedef struct {
  KkAuth *auth;
  KkAttendanceLog *log;
  KkRoomRegistry *registry;
  KkQuestions *questions;       /* nullable */
} KkAttendanceApi;

static void
api_free (gpointer data)
{
  KkAttendanceApi *api = data;

  g_clear_object (&api->auth);
  g_clear_object (&api->log);
  g_clear_object (&api->registry);
  g_clear_object (&api->questions);
  g_free (api);
}

/* ---- body parsing ---- */

static gboolean
bad_request (GError **error, const char *format, const char *member)
{
  g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST, format,
      member);
  return FALSE;
}

static JsonNode *
member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

/* An integer member in [min, max]; absent leaves *value as it is and sets
 * *given FALSE. */
static gboolean
get_int (JsonObject *object, const char *name, gint64 min, gint64 max,
    gint64 *value, gboolean *given, GError **error)
{
  JsonNode *node = member (object, name);

  if (given != NULL)
    *given = node != NULL;
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < min || json_node_get_int (node) > max) {
    g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
        "\"%s\" must be a whole number from %" G_GINT64_FORMAT " to %"
        G_GINT64_FORMAT, name, min, max);
    return FALSE;
  }
  *value = json_node_get_int (node);
  return TRUE;
}

static gboolean
get_bool (JsonObject *object, const char *name, gboolean required,
    gboolean *value, GError **error)
{
  JsonNode *node = member (object, name);

  if (node == NULL)
    return required ? bad_request (error, "\"%s\" is required", name) : TRUE;
  if (json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return bad_request (error, "\"%s\" must be true or false", name);
  *value = json_node_get_boolean (node);
  return TRUE;
}

KkAttendanceSettings *
kk_attendance_api_parse_settings (const char *data, gsize length,
    GError **error)
{
  static const char *const allowed[] = {
    "completion_ratio", "grace_seconds", "max_lateness_seconds",
    "require_code", "prompts", "prompt_window_seconds",
    "prompt_interval_seconds", "retention_days", NULL
  };
  g_autoptr (JsonObject) object = kk_json_parse_object (data, length,
      allowed, error);
  g_autofree KkAttendanceSettings *settings = NULL;
  gint64 grace = KK_ATTENDANCE_DEFAULT_GRACE_S, lateness = -1, prompts = 0;
  gint64 window = KK_ATTENDANCE_DEFAULT_PROMPT_WINDOW_S, retention = 0;
  gint64 interval = KK_ATTENDANCE_DEFAULT_PROMPT_INTERVAL_S;
  gboolean require_code = FALSE;
  JsonNode *node;

  if (object == NULL)
    return NULL;
  settings = g_new0 (KkAttendanceSettings, 1);
  kk_attendance_policy_init (&settings->policy);
  settings->policy.completion_ratio = -1;
  node = member (object, "completion_ratio");
  if (node != NULL) {
    GType type = json_node_get_value_type (node);
    double ratio;

    if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64) {
      bad_request (error, "\"%s\" must be a number", "completion_ratio");
      return NULL;
    }
    ratio = json_node_get_double (node);
    if (!kk_room_validate_completion_ratio (ratio, error))
      return NULL;
    settings->policy.completion_ratio = ratio;
  }
  if (!get_int (object, "grace_seconds", 0, 3600, &grace, NULL, error)
      || !get_int (object, "max_lateness_seconds", 0, 86400, &lateness, NULL,
          error)
      || !get_bool (object, "require_code", FALSE, &require_code, error)
      || !get_int (object, "prompts", 0, KK_ATTENDANCE_MAX_PROMPTS, &prompts,
          NULL, error)
      || !get_int (object, "prompt_window_seconds", 10, 3600, &window, NULL,
          error)
      || !get_int (object, "prompt_interval_seconds", 10, 86400, &interval,
          NULL, error)
      || !get_int (object, "retention_days", 0, 3650, &retention, NULL, error))
    return NULL;
  settings->policy.grace_us = grace * G_USEC_PER_SEC;
  settings->policy.max_lateness_us = lateness < 0 ? -1
      : lateness * G_USEC_PER_SEC;
  settings->policy.require_code = require_code;
  settings->policy.prompts = prompts;
  settings->policy.prompt_window_us = window * G_USEC_PER_SEC;
  settings->policy.prompt_interval_us = interval * G_USEC_PER_SEC;
  settings->retention_days = retention;
  return g_steal_pointer (&settings);
}

static gboolean
get_text (JsonObject *object, const char *name, char **out, GError **error)
{
  JsonNode *node = member (object, name);
  g_autofree char *text = NULL;

  if (node == NULL)
    return bad_request (error, "\"%s\" is required", name);
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return bad_request (error, "\"%s\" must be a string", name);
  text = g_strstrip (g_strdup (json_node_get_string (node)));
  if (!kk_room_validate_text (name, text, 1, KK_ATTENDANCE_REASON_MAX, error))
    return FALSE;
  *out = g_steal_pointer (&text);
  return TRUE;
}

gboolean
kk_attendance_api_parse_override (const char *data, gsize length,
    gboolean *completed, char **reason, char **by, GError **error)
{
  static const char *const allowed[] = { "completed", "reason", "by", NULL };
  g_autoptr (JsonObject) object = kk_json_parse_object (data, length,
      allowed, error);
  g_autofree char *r = NULL, *b = NULL;

  if (object == NULL
      || !get_bool (object, "completed", TRUE, completed, error)
      || !get_text (object, "reason", &r, error)
      || !get_text (object, "by", &b, error))
    return FALSE;
  *reason = g_steal_pointer (&r);
  *by = g_steal_pointer (&b);
  return TRUE;
}

static guint
error_status (const GError *error)
{
  if (error->domain == KK_ATTENDANCE_ERROR
      && error->code == KK_ATTENDANCE_ERROR_NOT_FOUND)
    return SOUP_STATUS_NOT_FOUND;
  if (error->domain == KK_ATTENDANCE_ERROR
      && error->code == KK_ATTENDANCE_ERROR_INVALID)
    return SOUP_STATUS_BAD_REQUEST;
  g_warning ("attendance api: %s", error->message);
  return SOUP_STATUS_INTERNAL_SERVER_ERROR;
}

/* ---- formatting ---- */

static void
add_int (JsonBuilder *builder, const char *name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static gint64
rounded_seconds (gint64 us)
{
  return (us + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC;
}

static gint64
connection_end (const KkAttendanceConnection *c, gint64 now_us)
{
  return c->left_us != 0 ? c->left_us : MAX (now_us, c->connected_us);
}

/* How a connection received the lecture: HTTPS segments (kk-segments
 * names those connections), or WebRTC. */
static const char *
connection_transport (const KkAttendanceConnection *c)
{
  return g_str_has_prefix (c->resource_id, KK_SEGMENTS_RESOURCE_PREFIX)
      ? "https" : "webrtc";
}

static void
build_row (JsonBuilder *builder, const KkAttendanceRow *row, gint64 now_us)
{
  const KkAttendanceResult *r = &row->result;

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "participant_id", row->participant_id);
  kk_http_json_add_string (builder, "name", row->name);
  kk_http_json_add_string (builder, "workplace", row->workplace);
  kk_http_json_add_time (builder, "first_join", r->first_join_us);
  kk_http_json_add_time (builder, "last_leave", r->last_leave_us);
  add_int (builder, "attended_seconds", rounded_seconds (r->attended_us));
  json_builder_set_member_name (builder, "attended_ratio");
  json_builder_add_double_value (builder,
      (double) (gint64) (r->attended_ratio * 10000 + 0.5) / 10000);
  json_builder_set_member_name (builder, "completed");
  json_builder_add_boolean_value (builder, row->completed);
  /* The evidence and the reasoning behind the contract's fields. */
  kk_http_json_add_string (builder, "session_id", row->session->id);
  kk_http_json_add_time (builder, "checked_in_at", row->checked_in_us);
  add_int (builder, "live_seconds", rounded_seconds (r->live_us));
  add_int (builder, "rejoins", r->rejoins);
  json_builder_set_member_name (builder, "lateness_seconds");
  if (r->lateness_us >= 0)
    json_builder_add_int_value (builder, rounded_seconds (r->lateness_us));
  else
    json_builder_add_null_value (builder);
  kk_http_json_add_string (builder, "verdict",
      kk_attendance_verdict_to_string (r->verdict));
  json_builder_set_member_name (builder, "code_given");
  json_builder_add_boolean_value (builder, row->code_given);
  add_int (builder, "prompts_seen", r->prompts_seen);
  add_int (builder, "prompts_missed", r->prompts_missed);
  json_builder_set_member_name (builder, "override");
  if (row->overridden) {
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "completed");
    json_builder_add_boolean_value (builder, row->completed);
    kk_http_json_add_string (builder, "reason", row->override_reason);
    kk_http_json_add_string (builder, "by", row->override_by);
    kk_http_json_add_time (builder, "at", row->override_at_us);
    json_builder_end_object (builder);
  } else {
    json_builder_add_null_value (builder);
  }
  json_builder_set_member_name (builder, "connections");
  json_builder_begin_array (builder);
  for (guint i = 0; i < row->connections->len; i++) {
    const KkAttendanceConnection *c = row->connections->pdata[i];

    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "connection_id", c->resource_id);
    kk_http_json_add_string (builder, "transport", connection_transport (c));
    kk_http_json_add_string (builder, "relay_protocol", c->relay_protocol);
    kk_http_json_add_time (builder, "connected_at", c->connected_us);
    kk_http_json_add_time (builder, "left_at", c->left_us);
    add_int (builder, "seconds",
        rounded_seconds (connection_end (c, now_us) - c->connected_us));
    kk_http_json_add_string (builder, "reason", c->reason);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
csv_time (KkCsvWriter *csv, gint64 time_us)
{
  g_autofree char *text = time_us != 0
      ? kk_time_format_local (time_us) : NULL;

  kk_csv_writer_add (csv, text);
}

/* A session's questions after its attendance, below an empty row, for
 * the coordinator who archives the one file (?include=questions). */
static void
questions_csv (KkCsvWriter *csv, GPtrArray *questions)
{
  static const char *const header[] = {
    "question_id", "asked_at", "participant_id", "asker", "anonymous",
    "text", "supports", "state", "state_at", NULL
  };

  kk_csv_writer_end_row (csv);
  for (guint i = 0; header[i] != NULL; i++)
    kk_csv_writer_add (csv, header[i]);
  kk_csv_writer_end_row (csv);
  for (guint i = 0; i < questions->len; i++) {
    const KkQuestion *q = questions->pdata[i];

    kk_csv_writer_add (csv, q->id);
    csv_time (csv, q->asked_at);
    kk_csv_writer_add (csv, q->participant_id);
    kk_csv_writer_add (csv, q->asker);
    kk_csv_writer_add (csv, q->anonymous ? "yes" : "no");
    kk_csv_writer_add (csv, q->text);
    kk_csv_writer_add_int (csv, q->supports);
    kk_csv_writer_add (csv, kk_question_state_to_string (q->state));
    csv_time (csv, q->state_at);
    kk_csv_writer_end_row (csv);
  }
}

static void
questions_json (JsonBuilder *builder, GPtrArray *questions)
{
  json_builder_set_member_name (builder, "questions");
  json_builder_begin_array (builder);
  for (guint i = 0; i < questions->len; i++) {
    const KkQuestion *q = questions->pdata[i];

    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "id");
    json_builder_add_string_value (builder, q->id);
    kk_http_json_add_time (builder, "asked_at", q->asked_at);
    kk_http_json_add_string (builder, "participant_id", q->participant_id);
    kk_http_json_add_string (builder, "party_id", q->party_id);
    kk_http_json_add_string (builder, "asker", q->asker);
    json_builder_set_member_name (builder, "anonymous");
    json_builder_add_boolean_value (builder, q->anonymous);
    kk_http_json_add_string (builder, "text", q->text);
    add_int (builder, "supports", q->supports);
    kk_http_json_add_string (builder, "state",
        kk_question_state_to_string (q->state));
    kk_http_json_add_time (builder, "state_at", q->state_at);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
}

static GBytes *
attendance_csv (const KkAttendanceReport *report, KkCsvDialect dialect,
    GPtrArray *questions)
{
  static const char *const header[] = {
    "session_id", "session_start", "participant_id", "name", "workplace",
    "first_join", "last_leave", "attended_minutes", "live_minutes",
    "attended_percent", "rejoins", "completed", "reason", "override_by",
    "override_at", "override_reason", NULL
  };
  KkCsvWriter *csv = kk_csv_writer_new (dialect);

  for (guint i = 0; header[i] != NULL; i++)
    kk_csv_writer_add (csv, header[i]);
  kk_csv_writer_end_row (csv);
  for (guint i = 0; i < report->rows->len; i++) {
    const KkAttendanceRow *row = report->rows->pdata[i];
    const KkAttendanceResult *r = &row->result;

    kk_csv_writer_add (csv, row->session->id);
    csv_time (csv, row->session->started_us);
    kk_csv_writer_add (csv, row->participant_id);
    kk_csv_writer_add (csv, row->name);
    kk_csv_writer_add (csv, row->workplace);
    csv_time (csv, r->first_join_us);
    csv_time (csv, r->last_leave_us);
    kk_csv_writer_add_int (csv, r->attended_us / (60 * G_USEC_PER_SEC));
    kk_csv_writer_add_int (csv, r->live_us / (60 * G_USEC_PER_SEC));
    kk_csv_writer_add_int (csv, r->live_us > 0
        ? r->attended_us * 100 / r->live_us : 0);
    kk_csv_writer_add_int (csv, r->rejoins);
    kk_csv_writer_add (csv, row->completed ? "yes" : "no");
    kk_csv_writer_add (csv, row->overridden ? "override"
        : kk_attendance_verdict_to_string (r->verdict));
    kk_csv_writer_add (csv, row->override_by);
    csv_time (csv, row->overridden ? row->override_at_us : 0);
    kk_csv_writer_add (csv, row->override_reason);
    kk_csv_writer_end_row (csv);
  }
  if (questions != NULL)
    questions_csv (csv, questions);
  return kk_csv_writer_finish (csv);
}

static GBytes *
connections_csv (const KkAttendanceReport *report, KkCsvDialect dialect,
    gint64 now_us)
{
  static const char *const header[] = {
    "session_id", "participant_id", "name", "workplace", "party_id",
    "connection_id", "connected_at", "left_at", "seconds", "end_reason",
    "transport", "relay_protocol", NULL
  };
  KkCsvWriter *csv = kk_csv_writer_new (dialect);

  for (guint i = 0; header[i] != NULL; i++)
    kk_csv_writer_add (csv, header[i]);
  kk_csv_writer_end_row (csv);
  for (guint i = 0; i < report->rows->len; i++) {
    const KkAttendanceRow *row = report->rows->pdata[i];

    for (guint j = 0; j < row->connections->len; j++) {
      const KkAttendanceConnection *c = row->connections->pdata[j];

      kk_csv_writer_add (csv, row->session->id);
      kk_csv_writer_add (csv, row->participant_id);
      kk_csv_writer_add (csv, row->name);
      kk_csv_writer_add (csv, row->workplace);
      kk_csv_writer_add (csv, c->party_id);
      kk_csv_writer_add (csv, c->resource_id);
      csv_time (csv, c->connected_us);
      csv_time (csv, c->left_us);
      kk_csv_writer_add_int (csv,
          rounded_seconds (connection_end (c, now_us) - c->connected_us));
      kk_csv_writer_add (csv, c->reason);
      kk_csv_writer_add (csv, connection_transport (c));
      kk_csv_writer_add (csv, c->relay_protocol);
      kk_csv_writer_end_row (csv);
    }
  }
  return kk_csv_writer_finish (csv);
}

static void
connections_json (JsonBuilder *builder, const KkAttendanceReport *report,
    gint64 now_us)
{
  json_builder_begin_array (builder);
  for (guint i = 0; i < report->rows->len; i++) {
    const KkAttendanceRow *row = report->rows->pdata[i];

    for (guint j = 0; j < row->connections->len; j++) {
      const KkAttendanceConnection *c = row->connections->pdata[j];

      json_builder_begin_object (builder);
      kk_http_json_add_string (builder, "session_id", row->session->id);
      kk_http_json_add_string (builder, "participant_id", row->participant_id);
      kk_http_json_add_string (builder, "name", row->name);
      kk_http_json_add_string (builder, "workplace", row->workplace);
      kk_http_json_add_string (builder, "party_id", c->party_id);
      kk_http_json_add_string (builder, "connection_id", c->resource_id);
      kk_http_json_add_string (builder, "transport",
          connection_transport (c));
      kk_http_json_add_string (builder, "relay_protocol", c->relay_protocol);
      kk_http_json_add_time (builder, "connected_at", c->connected_us);
      kk_http_json_add_time (builder, "left_at", c->left_us);
      add_int (builder, "seconds",
          rounded_seconds (connection_end (c, now_us) - c->connected_us));
      kk_http_json_add_string (builder, "end_reason", c->reason);
      json_builder_end_object (builder);
    }
  }
  json_builder_end_array (builder);
}

/* ---- handlers ---- */

typedef struct {
  KkHttpRequest *request;
  KkAttendanceApi *api;
  gboolean connections;         /* the connection log, not the summary */
  gboolean csv;
  KkCsvDialect dialect;
  char *file_name;
  char *session_id;             /* with its questions: ?include=questions */
  KkAttendanceReport *report;   /* waiting for those */
} ReportCall;

static void
report_call_free (ReportCall *call)
{
  kk_http_request_unref (call->request);
  g_free (call->file_name);
  g_free (call->session_id);
  g_clear_pointer (&call->report, kk_attendance_report_free);
  g_free (call);
}

static void
reply_csv (SoupServerMessage *msg, GBytes *bytes, const char *file_name)
{
  g_autofree char *disposition = g_strdup_printf (
      "attachment; filename=\"%s\"", file_name);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize size;
  gconstpointer data = g_bytes_get_data (bytes, &size);

  soup_message_headers_replace (headers, "Content-Disposition", disposition);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/csv; charset=utf-8",
      SOUP_MEMORY_COPY, data, size);
}

/* Replies @report, with @questions after it when asked for. */
static void
reply_report (ReportCall *call, const KkAttendanceReport *report,
    GPtrArray *questions)
{
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  gint64 now_us = kk_attendance_log_now (call->api->log);

  if (call->csv) {
    g_autoptr (GBytes) bytes = call->connections
        ? connections_csv (report, call->dialect, now_us)
        : attendance_csv (report, call->dialect, questions);

    reply_csv (msg, bytes, call->file_name);
  } else {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    if (call->connections) {
      connections_json (builder, report, now_us);
    } else {
      /* The contract's list stays a list; with its questions it becomes
       * {"attendance": [...], "questions": [...]}. */
      if (questions != NULL) {
        json_builder_begin_object (builder);
        json_builder_set_member_name (builder, "attendance");
      }
      json_builder_begin_array (builder);
      for (guint i = 0; i < report->rows->len; i++)
        build_row (builder, report->rows->pdata[i], now_us);
      json_builder_end_array (builder);
      if (questions != NULL) {
        questions_json (builder, questions);
        json_builder_end_object (builder);
      }
    }
    kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  }
}

static void
questions_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReportCall *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) questions = kk_questions_list_finish (
      KK_QUESTIONS (source), result, &error);

  if (questions == NULL)
    kk_http_reply_error (kk_http_request_get_message (call->request),
        SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", error->message);
  else
    reply_report (call, call->report, questions);
  kk_http_request_resume (call->request);
  report_call_free (call);
}

static void
report_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ReportCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkAttendanceReport) report = NULL;
  g_autoptr (GError) error = NULL;

  report = kk_attendance_log_report_finish (call->api->log, result, &error);
  if (report == NULL) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
  } else if (call->session_id != NULL) {
    call->report = g_steal_pointer (&report);
    kk_questions_list_async (call->api->questions, call->session_id, NULL,
        questions_done, call);
    return;
  } else {
    reply_report (call, report, NULL);
  }
  kk_http_request_resume (call->request);
  report_call_free (call);
}

static void
get_report (KkHttpRequest *request, KkAttendanceApi *api,
    gboolean per_room, gboolean connections)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  const char *format = kk_http_request_get_query (request, "format");
  const char *dialect = kk_http_request_get_query (request, "dialect");
  const char *include = kk_http_request_get_query (request, "include");
  ReportCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  if (per_room && kk_room_registry_lookup (api->registry, id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  call = g_new0 (ReportCall, 1);
  call->api = api;
  call->connections = connections;
  if (format != NULL && !g_str_equal (format, "json")) {
    if (!g_str_equal (format, "csv")) {
      kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
          "format must be json or csv");
      g_free (call);
      return;
    }
    call->csv = TRUE;
  }
  if (!kk_csv_dialect_from_string (dialect, &call->dialect)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "dialect must be excel or rfc4180");
    g_free (call);
    return;
  }
  if (include != NULL) {
    if (!g_str_equal (include, "questions") || per_room || connections
        || api->questions == NULL) {
      kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
          "include=questions is for one session's attendance");
      g_free (call);
      return;
    }
    call->session_id = g_strdup (id);
  }
  /* Ids are [A-Za-z0-9_-] (rooms) or the store's session ids; either way
   * checked path segments, but keep the header value plain. */
  call->file_name = g_strdup_printf ("%s-%s.csv",
      connections ? "connections" : "attendance", id);
  g_strcanon (call->file_name,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
      '_');
  call->request = kk_http_request_ref (request);
  kk_http_request_pause (request);
  kk_attendance_log_report_async (api->log, per_room ? NULL : id,
      per_room ? id : NULL, report_done, call);
}

static void
get_session_attendance (KkHttpRequest *request, gpointer user_data)
{
  get_report (request, user_data, FALSE, FALSE);
}

static void
get_session_connections (KkHttpRequest *request, gpointer user_data)
{
  get_report (request, user_data, FALSE, TRUE);
}

static void
get_room_attendance (KkHttpRequest *request, gpointer user_data)
{
  get_report (request, user_data, TRUE, FALSE);
}

static void
get_room_connections (KkHttpRequest *request, gpointer user_data)
{
  get_report (request, user_data, TRUE, TRUE);
}

static void
build_settings (JsonBuilder *builder, const KkAttendanceSettings *settings,
    KkRoom *room)
{
  const KkAttendancePolicy *p = &settings->policy;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "completion_ratio");
  if (p->completion_ratio >= 0)
    json_builder_add_double_value (builder, p->completion_ratio);
  else
    json_builder_add_null_value (builder);
  /* What a session starting now would freeze. */
  json_builder_set_member_name (builder, "effective_completion_ratio");
  json_builder_add_double_value (builder, p->completion_ratio >= 0
      ? p->completion_ratio : kk_room_get_completion_ratio (room));
  add_int (builder, "grace_seconds", p->grace_us / G_USEC_PER_SEC);
  json_builder_set_member_name (builder, "max_lateness_seconds");
  if (p->max_lateness_us >= 0)
    json_builder_add_int_value (builder, p->max_lateness_us / G_USEC_PER_SEC);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "require_code");
  json_builder_add_boolean_value (builder, p->require_code);
  add_int (builder, "prompts", p->prompts);
  add_int (builder, "prompt_window_seconds",
      p->prompt_window_us / G_USEC_PER_SEC);
  add_int (builder, "prompt_interval_seconds",
      p->prompt_interval_us / G_USEC_PER_SEC);
  add_int (builder, "retention_days", settings->retention_days);
  json_builder_end_object (builder);
}

typedef struct {
  KkHttpRequest *request;
  KkAttendanceApi *api;
  char *room_id;
} SettingsCall;

static void
settings_call_free (SettingsCall *call)
{
  kk_http_request_unref (call->request);
  g_free (call->room_id);
  g_free (call);
}

static void
settings_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SettingsCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autofree KkAttendanceSettings *settings = NULL;
  g_autoptr (GError) error = NULL;
  KkRoom *room = kk_room_registry_lookup (call->api->registry, call->room_id);

  settings = kk_attendance_log_get_settings_finish (call->api->log, result,
      &error);
  if (settings == NULL) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
  } else if (room == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
  } else {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    build_settings (builder, settings, room);
    kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  }
  kk_http_request_resume (call->request);
  settings_call_free (call);
}

static SettingsCall *
settings_call_new (KkHttpRequest *request, KkAttendanceApi *api)
{
  SettingsCall *call = g_new0 (SettingsCall, 1);

  call->request = kk_http_request_ref (request);
  call->api = api;
  call->room_id = g_strdup (kk_http_request_get_param (request, 0));
  kk_http_request_pause (request);
  return call;
}

static void
override_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SettingsCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GError) error = NULL;

  if (!kk_attendance_log_override_finish (call->api->log, result, &error))
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  kk_http_request_resume (call->request);
  settings_call_free (call);
}

static void
post_override (KkHttpRequest *request, gpointer user_data)
{
  KkAttendanceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *reason = NULL, *by = NULL;
  gboolean completed;
  SettingsCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_attendance_api_parse_override (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), &completed, &reason, &by, &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = settings_call_new (request, api);
  kk_attendance_log_override_async (api->log,
      kk_http_request_get_param (request, 0),
      kk_http_request_get_param (request, 1), completed, reason, by,
      override_done, call);
}

static void
get_settings (KkHttpRequest *request, gpointer user_data)
{
  KkAttendanceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  SettingsCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  if (kk_room_registry_lookup (api->registry,
          kk_http_request_get_param (request, 0)) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  call = settings_call_new (request, api);
  kk_attendance_log_get_settings_async (api->log, call->room_id,
      settings_read, call);
}

static void
settings_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SettingsCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GError) error = NULL;

  if (!kk_attendance_log_set_settings_finish (call->api->log, result,
          &error)) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
    kk_http_request_resume (call->request);
    settings_call_free (call);
    return;
  }
  /* Answer with what is now stored, read back in order behind the write. */
  kk_attendance_log_get_settings_async (call->api->log, call->room_id,
      settings_read, call);
}

static void
put_settings (KkHttpRequest *request, gpointer user_data)
{
  KkAttendanceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree KkAttendanceSettings *settings = NULL;
  SettingsCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  if (kk_room_registry_lookup (api->registry,
          kk_http_request_get_param (request, 0)) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  if (!kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  settings = kk_attendance_api_parse_settings (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &error);
  if (settings == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = settings_call_new (request, api);
  kk_attendance_log_set_settings_async (api->log, call->room_id, settings,
      settings_written, call);
}

gboolean
kk_attendance_api_register (SoupServer *server, KkAuth *auth,
    KkAttendanceLog *log, KkRoomRegistry *registry, KkQuestions *questions,
    GError **error)
{
  KkAttendanceApi *api;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);

  api = g_new0 (KkAttendanceApi, 1);
  api->auth = g_object_ref (auth);
  api->log = g_object_ref (log);
  api->registry = g_object_ref (registry);
  api->questions = questions != NULL ? g_object_ref (questions) : NULL;
  kk_http_server_keep (server, api, api_free);

  kk_http_add_route (server, "GET", "/api/sessions/{id}/attendance",
      get_session_attendance, api);
  kk_http_add_route (server, "GET", "/api/sessions/{id}/connections",
      get_session_connections, api);
  kk_http_add_route (server, "POST",
      "/api/sessions/{id}/attendance/{participant}/override", post_override,
      api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/attendance",
      get_room_attendance, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/connections",
      get_room_connections, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/attendance-settings",
      get_settings, api);
  kk_http_add_route (server, "PUT", "/api/rooms/{room}/attendance-settings",
      put_settings, api);
  return TRUE;
}
