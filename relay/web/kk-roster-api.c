/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-roster-api: the routes of kk-roster; see kk-roster-api.h.
 *
 * Each handler checks the caller's role first (401/403), then the room
 * (404), the body's type (415) and the body (400), and only then asks the
 * roster, pausing the request until the store has answered. A CSV body is
 * validated whole before anything is stored, so a bad line 40 does not
 * leave 39 people registered and the coordinator guessing.
 */
#include "kk-roster-api.h"

#include <openssl/crypto.h>
#include <string.h>

#include "kk-http.h"

typedef struct {
  KkAuth *auth;
  KkRoster *roster;
  KkRoomRegistry *registry;
} KkRosterApi;

static void
api_free (gpointer data)
{
  KkRosterApi *api = data;

  g_clear_object (&api->auth);
  g_clear_object (&api->roster);
  g_clear_object (&api->registry);
  g_free (api);
}

static guint
error_status (const GError *error)
{
  if (error->domain == KK_HTTP_ERROR || error->domain == KK_JSON_ERROR)
    return SOUP_STATUS_BAD_REQUEST;
  if (error->domain == KK_ATTENDANCE_ERROR) {
    switch ((KkAttendanceError) error->code) {
      case KK_ATTENDANCE_ERROR_INVALID:
        return SOUP_STATUS_BAD_REQUEST;
      case KK_ATTENDANCE_ERROR_NOT_FOUND:
        return SOUP_STATUS_NOT_FOUND;
      case KK_ATTENDANCE_ERROR_FORBIDDEN:
        return SOUP_STATUS_FORBIDDEN;
      case KK_ATTENDANCE_ERROR_CONFLICT:
        return SOUP_STATUS_CONFLICT;
      case KK_ATTENDANCE_ERROR_LIMITED:
        return KK_HTTP_STATUS_TOO_MANY_REQUESTS;
      case KK_ATTENDANCE_ERROR_GONE:
        return SOUP_STATUS_GONE;
      case KK_ATTENDANCE_ERROR_FAILED:
        break;
    }
  }
  g_warning ("roster api: %s", error->message);
  return SOUP_STATUS_INTERNAL_SERVER_ERROR;
}

/* ---- JSON ---- */

/* Tokens are base64url and room ids [a-z0-9-]: nothing to escape. */
static char *
invitation_link (const char *room_id, const char *token)
{
  return g_strdup_printf ("/watch/%s#token=%s", room_id, token);
}

static void
build_invitation (JsonBuilder *builder, const char *room_id,
    const KkInvitation *invitation)
{
  g_autofree char *link = invitation->token != NULL
      ? invitation_link (room_id, invitation->token) : NULL;

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "room", room_id);
  kk_http_json_add_string (builder, "participant_id",
      invitation->participant_id);
  kk_http_json_add_string (builder, "name", invitation->name);
  kk_http_json_add_string (builder, "workplace", invitation->workplace);
  kk_http_json_add_string (builder, "email", invitation->email);
  kk_http_json_add_string (builder, "hpr", invitation->hpr);
  kk_http_json_add_string (builder, "token", invitation->token);
  kk_http_json_add_string (builder, "link", link);
  if (invitation->line > 0) {
    json_builder_set_member_name (builder, "line");
    json_builder_add_int_value (builder, invitation->line);
  }
  kk_http_json_add_string (builder, "skipped", invitation->skipped);
  json_builder_end_object (builder);
  if (link != NULL)
    OPENSSL_cleanse (link, strlen (link));
}

/* ---- calls ---- */

typedef struct {
  KkHttpRequest *request;
  KkRosterApi *api;
  char *room_id;
  char *participant_id;
  gboolean csv;
} Call;

static Call *
call_new (KkHttpRequest *request, KkRosterApi *api, const char *room_id)
{
  Call *call = g_new0 (Call, 1);

  call->request = kk_http_request_ref (request);
  call->api = api;
  call->room_id = g_strdup (room_id);
  kk_http_request_pause (request);
  return call;
}

static void
call_finish (Call *call)
{
  kk_http_request_resume (call->request);
  kk_http_request_unref (call->request);
  g_free (call->room_id);
  g_free (call->participant_id);
  g_free (call);
}

static gboolean
require_room (KkRosterApi *api, SoupServerMessage *msg, const char *room_id)
{
  if (kk_room_registry_lookup (api->registry, room_id) != NULL)
    return TRUE;
  kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
  return FALSE;
}

/* ---- pre-registration ---- */

static GBytes *
invitations_csv (const char *room_id, GPtrArray *invitations)
{
  static const char *const header[] = {
    "participant_id", "name", "workplace", "email", "hpr", "link", "skipped",
    NULL
  };
  KkCsvWriter *csv = kk_csv_writer_new (KK_CSV_EXCEL);

  for (guint i = 0; header[i] != NULL; i++)
    kk_csv_writer_add (csv, header[i]);
  kk_csv_writer_end_row (csv);
  for (guint i = 0; i < invitations->len; i++) {
    const KkInvitation *invitation = invitations->pdata[i];
    g_autofree char *link = invitation->token != NULL
        ? invitation_link (room_id, invitation->token) : NULL;

    kk_csv_writer_add (csv, invitation->participant_id);
    kk_csv_writer_add (csv, invitation->name);
    kk_csv_writer_add (csv, invitation->workplace);
    kk_csv_writer_add (csv, invitation->email);
    kk_csv_writer_add (csv, invitation->hpr);
    kk_csv_writer_add (csv, link);
    kk_csv_writer_add (csv, invitation->skipped);
    kk_csv_writer_end_row (csv);
    if (link != NULL)
      OPENSSL_cleanse (link, strlen (link));
  }
  return kk_csv_writer_finish (csv);
}

static void
invited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GPtrArray) invitations = NULL;
  g_autoptr (GError) error = NULL;
  guint added = 0;

  invitations = kk_roster_invite_finish (KK_ROSTER (source), result, &error);
  if (invitations == NULL) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
    call_finish (call);
    return;
  }
  for (guint i = 0; i < invitations->len; i++)
    if (((KkInvitation *) invitations->pdata[i])->token != NULL)
      added++;

  if (call->csv) {
    g_autoptr (GBytes) bytes = invitations_csv (call->room_id, invitations);
    g_autofree char *disposition = g_strdup_printf (
        "attachment; filename=\"invitations-%s.csv\"", call->room_id);
    SoupMessageHeaders *headers =
        soup_server_message_get_response_headers (msg);

    soup_message_headers_replace (headers, "Content-Disposition",
        disposition);
    soup_message_headers_replace (headers, "Cache-Control", "no-store");
    soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
    soup_server_message_set_response (msg, "text/csv; charset=utf-8",
        SOUP_MEMORY_COPY, g_bytes_get_data (bytes, NULL),
        g_bytes_get_size (bytes));
  } else {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "room", call->room_id);
    json_builder_set_member_name (builder, "invited");
    json_builder_add_int_value (builder, added);
    json_builder_set_member_name (builder, "skipped");
    json_builder_add_int_value (builder, invitations->len - added);
    json_builder_set_member_name (builder, "participants");
    json_builder_begin_array (builder);
    for (guint i = 0; i < invitations->len; i++)
      build_invitation (builder, call->room_id, invitations->pdata[i]);
    json_builder_end_array (builder);
    json_builder_end_object (builder);
    kk_http_reply_builder (msg, SOUP_STATUS_CREATED, builder);
  }
  call_finish (call);
}

/* What Excel and browsers call a CSV upload. */
static gboolean
is_csv_type (const char *type)
{
  return g_strcmp0 (type, "text/csv") == 0
      || g_strcmp0 (type, "application/csv") == 0
      || g_strcmp0 (type, "application/vnd.ms-excel") == 0;
}

static void
post_participants (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  const char *format = kk_http_request_get_query (request, "format");
  const char *type = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), NULL);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  Call *call;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !require_room (api, msg, room_id))
    return;
  if (format != NULL && !g_str_equal (format, "json")
      && !g_str_equal (format, "csv")) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "format must be json or csv");
    return;
  }
  body = kk_http_request_get_body (request);
  if (g_strcmp0 (type, "application/json") == 0) {
    entries = kk_roster_parse_json (g_bytes_get_data (body, NULL),
        g_bytes_get_size (body), &error);
  } else if (is_csv_type (type)) {
    entries = kk_roster_parse_csv (g_bytes_get_data (body, NULL),
        g_bytes_get_size (body), &error);
  } else {
    kk_http_reply_error (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
        "the list must be application/json or text/csv");
    return;
  }
  if (entries == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  call = call_new (request, api, room_id);
  call->csv = g_strcmp0 (format, "csv") == 0;
  kk_roster_invite_async (api->roster, room_id, entries, invited, call);
}

static void
listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GPtrArray) people = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  people = kk_roster_list_finish (KK_ROSTER (source), result, &error);
  if (people == NULL) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
    call_finish (call);
    return;
  }
  json_builder_begin_array (builder);
  for (guint i = 0; i < people->len; i++) {
    const KkRosterPerson *person = people->pdata[i];

    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "participant_id", person->participant_id);
    kk_http_json_add_string (builder, "name", person->name);
    kk_http_json_add_string (builder, "workplace", person->workplace);
    kk_http_json_add_string (builder, "email", person->email);
    kk_http_json_add_string (builder, "hpr", person->hpr);
    kk_http_json_add_string (builder, "kind", person->kind);
    kk_http_json_add_string (builder, "party_id", person->party_id);
    kk_http_json_add_time (builder, "created_at", person->created_us);
    kk_http_json_add_time (builder, "invitation_issued_at", person->token_issued_us);
    json_builder_set_member_name (builder, "connected");
    json_builder_add_boolean_value (builder, person->connected_ever);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  call_finish (call);
}

static void
get_participants (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  Call *call;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !require_room (api, msg, room_id))
    return;
  call = call_new (request, api, room_id);
  kk_roster_list_async (api->roster, room_id, listed, call);
}

static void
reissued (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GError) error = NULL;
  KkInvitation *invitation;

  invitation = kk_roster_reissue_finish (KK_ROSTER (source), result, &error);
  if (invitation == NULL) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
  } else {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    build_invitation (builder, invitation->room_id, invitation);
    kk_http_reply_builder (msg, SOUP_STATUS_CREATED, builder);
    kk_invitation_free (invitation);
  }
  call_finish (call);
}

static void
post_invitation (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  Call *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  call = call_new (request, api, NULL);
  kk_roster_reissue_async (api->roster, kk_http_request_get_param (request, 0),
      reissued, call);
}

/* ---- erasure ---- */

static void
erased (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkErasure) erasure = NULL;
  g_autoptr (GError) error = NULL;

  erasure = kk_roster_erase_finish (KK_ROSTER (source), result, &error);
  if (erasure == NULL) {
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
  } else {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "participant_id", call->participant_id);
    kk_http_json_add_string (builder, "room", erasure->room_id);
    json_builder_set_member_name (builder, "party_erased");
    json_builder_add_boolean_value (builder, erasure->party_erased);
    json_builder_set_member_name (builder, "connections_erased");
    json_builder_add_int_value (builder, erasure->connections);
    json_builder_set_member_name (builder, "events_erased");
    json_builder_add_int_value (builder, erasure->events);
    json_builder_end_object (builder);
    kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  }
  call_finish (call);
}

static void
delete_participant (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  Call *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  call = call_new (request, api, NULL);
  call->participant_id = g_strdup (id);
  kk_roster_erase_async (api->roster, id, erased, call);
}

/* ---- check-in ---- */

static void
get_checkin_code (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *party_id = NULL;
  g_autofree char *code = NULL;
  gint64 expires;

  if (!require_room (api, msg, room_id)
      || !kk_auth_require_participant (api->auth, msg, room_id, FALSE,
          "the screen's participant token is required "
          "(Authorization: Bearer)", &party_id, NULL))
    return;
  code = kk_roster_get_checkin_code (api->roster, room_id, party_id,
      &expires);
  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "room", room_id);
  kk_http_json_add_string (builder, "code", code);
  kk_http_json_add_time (builder, "expires_at", expires);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
checked_in (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkCheckin) checkin = NULL;
  g_autoptr (GError) error = NULL;

  checkin = kk_roster_checkin_finish (KK_ROSTER (source), result, &error);
  if (checkin == NULL) {
    guint status = error_status (error);

    if (status == KK_HTTP_STATUS_TOO_MANY_REQUESTS)
      kk_http_request_reply_limited (call->request, "checkin-rate",
          KK_CHECKIN_FAILURE_REFILL_S * G_USEC_PER_SEC, error->message);
    else
      kk_http_reply_error (msg, status, "%s", error->message);
  } else {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "room", checkin->room_id);
    kk_http_json_add_string (builder, "participant_id",
        checkin->participant_id);
    kk_http_json_add_string (builder, "receipt", checkin->receipt);
    kk_http_json_add_time (builder, "checked_in_at", checkin->checked_in_us);
    json_builder_end_object (builder);
    kk_http_reply_builder (msg, SOUP_STATUS_CREATED, builder);
    /* One more person at that screen, for the host's audience count. */
    kk_room_registry_refresh_party (call->api->registry, checkin->room_id,
        checkin->party_id);
  }
  call_finish (call);
}

static void
post_checkin (KkHttpRequest *request, gpointer user_data)
{
  static const char *const allowed[] = {
    "code", "name", "workplace", NULL
  };
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  const char *values[3] = { NULL, NULL, "" };
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *unknown = NULL;
  g_autofree char *name = NULL, *workplace = NULL, *client = NULL;
  JsonObject *object;

  if (!require_room (api, msg, room_id)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  root = kk_json_parse (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &error);
  if (root == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (object == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "the body must be {\"code\", \"name\", \"workplace\"}");
    return;
  }
  unknown = kk_json_find_unknown_member (object, allowed);
  if (unknown != NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "unknown member: only code, name and workplace");
    return;
  }
  for (guint i = 0; allowed[i] != NULL; i++) {
    JsonNode *node = json_object_get_member (object, allowed[i]);

    if (node == NULL || JSON_NODE_HOLDS_NULL (node))
      continue;
    if (json_node_get_value_type (node) != G_TYPE_STRING) {
      kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
          "\"%s\" must be a string", allowed[i]);
      return;
    }
    values[i] = json_node_get_string (node);
  }
  if (values[0] == NULL || values[1] == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "\"code\" and \"name\" are required");
    return;
  }
  name = g_strstrip (g_strdup (values[1]));
  workplace = g_strstrip (g_strdup (values[2]));
  client = kk_http_get_client_address (msg);
  kk_roster_checkin_async (api->roster, room_id, values[0], name, workplace,
      client, checked_in,
      call_new (request, api, room_id));
}

/* ---- access ---- */

static void
reply_access (SoupServerMessage *msg, KkRoom *room)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "room", kk_room_get_id (room));
  kk_http_json_add_string (builder, "access",
      kk_room_access_to_string (kk_room_get_access (room)));
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
get_access (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !require_room (api, msg, room_id))
    return;
  reply_access (msg, kk_room_registry_lookup (api->registry, room_id));
}

static void
access_set (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GError) error = NULL;
  KkRoom *room;

  if (!kk_roster_set_access_finish (KK_ROSTER (source), result, &error))
    kk_http_reply_error (msg, error_status (error), "%s", error->message);
  else if ((room = kk_room_registry_lookup (call->api->registry,
              call->room_id)) == NULL)
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
  else
    reply_access (msg, room);
  call_finish (call);
}

static void
put_access (KkHttpRequest *request, gpointer user_data)
{
  KkRosterApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  static const char shape[] = "the body must be {\"access\": \"open\"} or "
      "{\"access\": \"invitation\"}";
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  KkRoomAccess access;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !require_room (api, msg, room_id)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  value = kk_json_parse_one_string (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), "access", shape, &error);
  if (value == NULL || !kk_room_access_from_string (value, &access)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s",
        value == NULL ? error->message : shape);
    return;
  }
  kk_roster_set_access_async (api->roster, room_id, access, access_set,
      call_new (request, api, room_id));
}

gboolean
kk_roster_api_register (SoupServer *server, KkAuth *auth, KkRoster *roster,
    KkRoomRegistry *registry, GError **error)
{
  KkRosterApi *api;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);

  api = g_new0 (KkRosterApi, 1);
  api->auth = g_object_ref (auth);
  api->roster = g_object_ref (roster);
  api->registry = g_object_ref (registry);
  kk_http_server_keep (server, api, api_free);

  kk_http_add_route (server, "POST", "/api/rooms/{room}/participants",
      post_participants, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/participants",
      get_participants, api);
  kk_http_add_route (server, "POST", "/api/participants/{id}/invitation",
      post_invitation, api);
  kk_http_add_route (server, "DELETE", "/api/participants/{id}",
      delete_participant, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/checkin-code",
      get_checkin_code, api);
  /* The same, for pages that fetch it with POST. */
  kk_http_add_route (server, "POST", "/api/rooms/{room}/checkin-code",
      get_checkin_code, api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/checkin",
      post_checkin, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/access", get_access,
      api);
  kk_http_add_route (server, "PUT", "/api/rooms/{room}/access", put_access,
      api);
  return TRUE;
}
