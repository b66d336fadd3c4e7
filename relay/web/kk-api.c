/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-api: the handlers of the JSON control API.
 *
 * Each handler checks, in this order: the caller's role (401/403), that
 * the room exists (404), the body's media type (415), the body (400), and
 * only then acts. Writes go through the registry, which stores them before
 * the handler answers 201; the request is paused meanwhile, so the main
 * loop keeps serving others.
 *
 * Roles come from kk-auth. A room's JSON also says what other modules
 * know of it (the next planned session, whether the live session asks
 * for an attendance code): those modules are handed to kk_api_register()
 * and asked directly.
 */

#include "kk-api.h"

#include <string.h>

#include "kk-http.h"
#include "kk-ratelimit.h"
#include "kk-schedule-api.h"

typedef struct {
  KkAuth *auth;
  KkRoomRegistry *registry;
  KkStore *store;
  KkMetrics *metrics;
  KkPresence *presence;       /* nullable */
  KkRoster *roster;           /* nullable: access modes are not kept */
  KkSchedule *schedule;       /* nullable */
  KkRecordings *recordings;   /* nullable */
  GHashTable *responses;      /* status code → count, for /metrics */
  KkRateLimit *joins;         /* joins on open rooms, per client address */
} KkApi;

/* Body parsing, shared with the fuzzer. */

void
kk_join_request_free (KkJoinRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->name);
  g_free (request->workplace);
  g_strfreev (request->colleagues);
  g_free (request);
}

static gboolean
wrong_type (const char *member, const char *type, GError **error)
{
  g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
      "\"%s\" must be %s", member, type);
  return FALSE;
}

/* Absent and null both mean "not given" for optional members. */
static JsonNode *
optional_member (JsonObject *object, const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

static gboolean
get_string (JsonObject *object, const char *member, gboolean required,
    char **out, GError **error)
{
  JsonNode *node = optional_member (object, member);

  if (node == NULL) {
    if (required) {
      g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
          "\"%s\" is required", member);
      return FALSE;
    }
    return TRUE;
  }
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return wrong_type (member, "a string", error);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

/* The settings POST and PATCH share; each is left as it is when absent. */
static gboolean
get_boolean (JsonObject *object, const char *member, gboolean *set,
    gboolean *out, GError **error)
{
  JsonNode *node = optional_member (object, member);

  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return wrong_type (member, "true or false", error);
  *set = TRUE;
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
get_ratio (JsonObject *object, gboolean *set, double *out, GError **error)
{
  JsonNode *node = optional_member (object, "completion_ratio");
  GType type;

  if (node == NULL)
    return TRUE;
  type = json_node_get_value_type (node);
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return wrong_type ("completion_ratio", "a number from 0 to 1", error);
  *set = TRUE;
  *out = json_node_get_double (node);
  return TRUE;
}

static gboolean
get_access (JsonObject *object, gboolean *set, KkRoomAccess *out,
    GError **error)
{
  JsonNode *node = optional_member (object, "access");

  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_STRING
      || !kk_room_access_from_string (json_node_get_string (node), out))
    return wrong_type ("access", "\"open\" or \"invitation\"", error);
  *set = TRUE;
  return TRUE;
}

KkRoomConfig *
kk_api_parse_room_request (const char *data, gsize length, GError **error)
{
  return kk_api_parse_new_room (data, length, NULL, error);
}

KkRoomConfig *
kk_api_parse_new_room (const char *data, gsize length, KkRoomAccess *access,
    GError **error)
{
  static const char *const allowed[] = {
    "id", "title", "record", "completion_ratio", "access", NULL
  };
  g_autoptr (JsonObject) object = kk_json_parse_object (data, length,
      allowed, error);
  g_autoptr (KkRoomConfig) room = NULL;
  KkRoomAccess given = KK_ROOM_ACCESS_OPEN;
  gboolean set = FALSE;

  if (object == NULL)
    return NULL;

  room = g_new0 (KkRoomConfig, 1);
  room->completion_ratio = KK_ROOM_DEFAULT_COMPLETION_RATIO;
  room->source = g_strdup (KK_ROOM_SOURCE_WHIP);
  if (!get_string (object, "id", TRUE, &room->id, error)
      || !get_string (object, "title", TRUE, &room->title, error))
    return NULL;

  if (!get_boolean (object, "record", &set, &room->record, error)
      || !get_ratio (object, &set, &room->completion_ratio, error)
      || !get_access (object, &set, &given, error))
    return NULL;

  g_strstrip (room->title);
  if (!kk_room_config_validate (room, error))
    return NULL;
  if (access != NULL)
    *access = given;
  return g_steal_pointer (&room);
}

KkRoomEdit *
kk_api_parse_room_edit (const char *data, gsize length, GError **error)
{
  static const char *const allowed[] = {
    "title", "record", "completion_ratio", "access", NULL
  };
  /* Members are checked after "id", which has a message of its own. */
  g_autoptr (JsonObject) object = kk_json_parse_object (data, length, NULL,
      error);
  g_autoptr (KkRoomEdit) edit = NULL;

  if (object == NULL)
    return NULL;
  /* A room's id is in every link sent out and every row kept: it stays. */
  if (json_object_has_member (object, "id")) {
    g_set_error_literal (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
        "a room's id cannot be changed");
    return NULL;
  }
  if (!kk_json_check_members (object, allowed, error))
    return NULL;
  edit = g_new0 (KkRoomEdit, 1);
  if (!get_string (object, "title", FALSE, &edit->title, error)
      || !get_boolean (object, "record", &edit->set_record, &edit->record,
          error)
      || !get_ratio (object, &edit->set_completion_ratio,
          &edit->completion_ratio, error)
      || !get_access (object, &edit->set_access, &edit->access, error))
    return NULL;
  if (edit->title != NULL)
    g_strstrip (edit->title);
  if ((edit->title != NULL && !kk_room_validate_text ("title", edit->title, 1,
              KK_ROOM_TITLE_MAX, error))
      || (edit->set_completion_ratio && !kk_room_validate_completion_ratio (
              edit->completion_ratio, error)))
    return NULL;
  if (edit->title == NULL && !edit->set_record && !edit->set_completion_ratio
      && !edit->set_access) {
    g_set_error_literal (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
        "nothing to change: give \"title\", \"record\", "
        "\"completion_ratio\" or \"access\"");
    return NULL;
  }
  return g_steal_pointer (&edit);
}

KkJoinRequest *
kk_api_parse_join_request (const char *data, gsize length, GError **error)
{
  static const char *const allowed[] = {
    "name", "workplace", "colleagues", NULL
  };
  g_autoptr (JsonObject) object = kk_json_parse_object (data, length,
      allowed, error);
  g_autoptr (KkJoinRequest) request = NULL;
  g_autoptr (GPtrArray) colleagues = g_ptr_array_new_with_free_func (g_free);
  JsonNode *node;

  if (object == NULL)
    return NULL;

  request = g_new0 (KkJoinRequest, 1);
  if (!get_string (object, "name", TRUE, &request->name, error)
      || !get_string (object, "workplace", FALSE, &request->workplace, error))
    return NULL;
  if (request->workplace == NULL)
    request->workplace = g_strdup ("");
  g_strstrip (request->name);
  g_strstrip (request->workplace);
  if (!kk_room_validate_text ("name", request->name, 1, KK_ROOM_NAME_MAX,
          error)
      || !kk_room_validate_text ("workplace", request->workplace, 0,
          KK_ROOM_WORKPLACE_MAX, error))
    return NULL;

  node = optional_member (object, "colleagues");
  if (node != NULL) {
    JsonArray *array;

    if (!JSON_NODE_HOLDS_ARRAY (node)) {
      wrong_type ("colleagues", "an array of names", error);
      return NULL;
    }
    array = json_node_get_array (node);
    if (json_array_get_length (array) > KK_ROOM_COLLEAGUES_MAX) {
      g_set_error (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST,
          "at most %d colleagues", KK_ROOM_COLLEAGUES_MAX);
      return NULL;
    }
    for (guint i = 0; i < json_array_get_length (array); i++) {
      JsonNode *element = json_array_get_element (array, i);
      char *name;

      if (json_node_get_value_type (element) != G_TYPE_STRING) {
        wrong_type ("colleagues", "an array of names", error);
        return NULL;
      }
      name = g_strstrip (g_strdup (json_node_get_string (element)));
      g_ptr_array_add (colleagues, name);
      if (!kk_room_validate_text ("colleague name", name, 1, KK_ROOM_NAME_MAX,
              error))
        return NULL;
    }
  }
  g_ptr_array_add (colleagues, NULL);
  request->colleagues = (char **) g_ptr_array_free (
      g_steal_pointer (&colleagues), FALSE);
  return g_steal_pointer (&request);
}

/* JSON. */

static void
build_room (KkApi *api, JsonBuilder *builder, KkRoom *room, gboolean full)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, kk_room_get_id (room));
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, kk_room_get_title (room));
  json_builder_set_member_name (builder, "live");
  json_builder_add_boolean_value (builder, kk_room_get_live (room));
  json_builder_set_member_name (builder, "viewers");
  json_builder_add_int_value (builder, kk_room_get_viewer_count (room));
  /* Counts only, no names: public like "viewers", for the host's page. */
  json_builder_set_member_name (builder, "workplaces");
  json_builder_add_int_value (builder, kk_room_get_workplace_count (room));
  json_builder_set_member_name (builder, "people");
  json_builder_add_int_value (builder, kk_room_get_people_count (room));
  kk_http_json_add_string (builder, "session_id",
      kk_room_get_session_id (room));
  /* Public: the watch page says when the lecture starts. */
  kk_schedule_api_add_next_session (builder, api->schedule, room);
  /* Public: the watch page shows the attendance code form only then. */
  json_builder_set_member_name (builder, "attendance_code");
  json_builder_add_boolean_value (builder, api->presence != NULL
      && kk_presence_asks_for_code (api->presence, kk_room_get_id (room)));
  /* Public: the watch page shows the open form only when it can work. */
  json_builder_set_member_name (builder, "access");
  json_builder_add_string_value (builder,
      kk_room_access_to_string (kk_room_get_access (room)));
  if (full) {
    json_builder_set_member_name (builder, "record");
    json_builder_add_boolean_value (builder, kk_room_get_record (room));
    json_builder_set_member_name (builder, "completion_ratio");
    json_builder_add_double_value (builder, kk_room_get_completion_ratio (room));
    json_builder_set_member_name (builder, "source");
    json_builder_add_string_value (builder, kk_room_get_source (room));
    kk_http_json_add_string (builder, "source_uri",
        kk_room_get_source_uri (room));
    json_builder_set_member_name (builder, "host_token");
    json_builder_add_string_value (builder, kk_room_get_host_token (room));
  }
  json_builder_end_object (builder);
}

static guint
room_error_status (const GError *error)
{
  if (error->domain == KK_ROOM_ERROR) {
    switch (error->code) {
      case KK_ROOM_ERROR_INVALID:
        return SOUP_STATUS_BAD_REQUEST;
      case KK_ROOM_ERROR_EXISTS:
        return SOUP_STATUS_CONFLICT;
      case KK_ROOM_ERROR_NOT_FOUND:
        return SOUP_STATUS_NOT_FOUND;
      case KK_ROOM_ERROR_FORBIDDEN:
        return SOUP_STATUS_FORBIDDEN;
      case KK_ROOM_ERROR_CONFIGURED:
        return SOUP_STATUS_CONFLICT;
      default:
        break;
    }
  }
  g_warning ("api: %s", error->message);
  return SOUP_STATUS_INTERNAL_SERVER_ERROR;
}

/* Handlers. */

/* A POST or PATCH of a room, across its store writes. */
typedef struct {
  KkApi *api;
  KkHttpRequest *request;
  char *room_id;
  KkRoomEdit *edit;           /* PATCH's; POST's access only */
  KkRoster *roster;           /* when the access is to be stored */
  guint status;               /* of the reply once all is stored */
} RoomCall;

/* @edit: (transfer full) (nullable). Replies 501 and returns NULL when
 * @edit sets the access and no roster keeps it, before anything is
 * stored. */
static RoomCall *
room_call_new (KkApi *api, KkHttpRequest *request, const char *room_id,
    KkRoomEdit *edit, guint status)
{
  KkRoster *roster = api->roster;
  RoomCall *call;

  if (edit != NULL && edit->set_access && roster == NULL) {
    kk_http_reply_error (kk_http_request_get_message (request),
        SOUP_STATUS_NOT_IMPLEMENTED, "this relay does not keep access modes");
    kk_room_edit_free (edit);
    return NULL;
  }
  call = g_new0 (RoomCall, 1);
  call->api = api;
  call->roster = roster;
  call->request = kk_http_request_ref (request);
  call->room_id = g_strdup (room_id);
  call->edit = edit;
  call->status = status;
  kk_http_request_pause (request);
  return call;
}

static void
room_call_finish (RoomCall *call)
{
  kk_http_request_resume (call->request);
  kk_http_request_unref (call->request);
  g_free (call->room_id);
  kk_room_edit_free (call->edit);
  g_free (call);
}

/* Replies with the room as the coordinator sees it. */
static void
reply_room (RoomCall *call)
{
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  KkRoom *room = kk_room_registry_lookup (call->api->registry, call->room_id);

  if (room == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  build_room (call->api, builder, room, TRUE);
  kk_http_reply_builder (msg, call->status, builder);
  if (call->status == SOUP_STATUS_CREATED) {
    g_autofree char *location = g_strdup_printf ("/api/rooms/%s",
        call->room_id);

    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Location", location);
  }
}

static void
access_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RoomCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GError) error = NULL;

  if (kk_roster_set_access_finish (KK_ROSTER (source), result, &error)) {
    reply_room (call);
  } else if (g_error_matches (error, KK_ATTENDANCE_ERROR,
          KK_ATTENDANCE_ERROR_NOT_FOUND)) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "%s", error->message);
  } else {
    KkRoom *room = kk_room_registry_lookup (call->api->registry,
        call->room_id);

    /* A new room was shut to strangers before it could be found (see
     * room_created_cb ()); with nothing stored it opens again, as it
     * would after a restart. */
    if (room != NULL && call->status == SOUP_STATUS_CREATED)
      kk_room_set_access (room, KK_ROOM_ACCESS_OPEN);
    g_warning ("api: room %s: storing access: %s", call->room_id,
        error->message);
    kk_http_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "room %s: its access could not be stored%s", call->room_id,
        call->status == SOUP_STATUS_CREATED
        ? " (the room was created, open to all)" : "");
  }
  room_call_finish (call);
}

/* The last step of a POST or PATCH: access, where the body set it. */
static void
store_access (RoomCall *call)
{
  if (call->edit == NULL || !call->edit->set_access) {
    reply_room (call);
    room_call_finish (call);
    return;
  }
  kk_roster_set_access_async (call->roster, call->room_id,
      call->edit->access, access_stored_cb, call);
}

static void
room_created_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RoomCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (KkRoom) room = NULL;
  g_autoptr (GError) error = NULL;

  room = kk_room_registry_create_room_finish (KK_ROOM_REGISTRY (source),
      result, &error);
  if (room == NULL) {
    kk_http_reply_error (msg, room_error_status (error), "%s", error->message);
    room_call_finish (call);
    return;
  }
  /* The room can be found from now on: shut it now, while its access is
   * being stored, so that no stranger joins meanwhile. */
  if (call->edit != NULL && call->edit->set_access)
    kk_room_set_access (room, call->edit->access);
  store_access (call);
}

static void
post_rooms (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (KkRoomConfig) room = NULL;
  g_autoptr (GError) error = NULL;
  KkRoomAccess access = KK_ROOM_ACCESS_OPEN;
  KkRoomEdit *edit = NULL;
  RoomCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg)
      || !kk_http_check_content_type (msg, "application/json"))
    return;

  body = kk_http_request_get_body (request);
  room = kk_api_parse_new_room (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &access, &error);
  if (room == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  /* New rooms are open: only "invitation" has anything to store. */
  if (access != KK_ROOM_ACCESS_OPEN) {
    edit = g_new0 (KkRoomEdit, 1);
    edit->set_access = TRUE;
    edit->access = access;
  }

  call = room_call_new (api, request, room->id, edit, SOUP_STATUS_CREATED);
  if (call != NULL)
    kk_room_registry_create_room_async (api->registry, room, room_created_cb,
        call);
}

static void
room_edited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RoomCall *call = user_data;
  g_autoptr (KkRoom) room = NULL;
  g_autoptr (GError) error = NULL;

  room = kk_room_registry_edit_room_finish (KK_ROOM_REGISTRY (source), result,
      &error);
  if (room == NULL) {
    kk_http_reply_error (kk_http_request_get_message (call->request),
        room_error_status (error), "%s", error->message);
    room_call_finish (call);
    return;
  }
  store_access (call);
}

/* The room's settings first (one row, only the fields given), then its
 * access (kk-roster's row): an error in the second leaves the first
 * done, and says so with a 500. */
static void
patch_room (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (KkRoomEdit) edit = NULL;
  g_autoptr (GError) error = NULL;
  RoomCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  if (kk_room_registry_lookup (api->registry, id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  if (!kk_http_check_content_type (msg, "application/json"))
    return;

  body = kk_http_request_get_body (request);
  edit = kk_api_parse_room_edit (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &error);
  if (edit == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }

  call = room_call_new (api, request, id, g_steal_pointer (&edit),
      SOUP_STATUS_OK);
  if (call != NULL)
    kk_room_registry_edit_room_async (api->registry, id, call->edit,
        room_edited_cb, call);
}

static void
get_rooms (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GPtrArray) rooms = NULL;
  KkAuthRole role;

  if (!kk_auth_require_known (api->auth, msg, &role))
    return;

  rooms = kk_room_registry_list (api->registry);
  json_builder_begin_array (builder);
  for (guint i = 0; i < rooms->len; i++)
    build_room (api, builder, g_ptr_array_index (rooms, i),
        role == KK_AUTH_COORDINATOR);
  json_builder_end_array (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
get_room (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  const char *id = kk_http_request_get_param (request, 0);
  KkAuthRole role;
  KkRoom *room;

  if (!kk_auth_require_known (api->auth, msg, &role))
    return;
  room = kk_room_registry_lookup (api->registry, id);
  if (room == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  build_room (api, builder, room, role == KK_AUTH_COORDINATOR);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
joined_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkHttpRequest *request = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (KkJoinResult) joined = NULL;
  g_autoptr (GError) error = NULL;

  joined = kk_room_registry_join_finish (KK_ROOM_REGISTRY (source), result,
      &error);
  if (joined == NULL) {
    kk_http_reply_error (msg, room_error_status (error), "%s", error->message);
    kk_http_request_resume (request);
    return;
  }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "participant_id");
  json_builder_add_string_value (builder, joined->participant_id);
  json_builder_set_member_name (builder, "token");
  json_builder_add_string_value (builder, joined->token);
  json_builder_set_member_name (builder, "colleague_ids");
  json_builder_begin_array (builder);
  for (guint i = 0; i < joined->colleague_ids->len; i++)
    json_builder_add_string_value (builder,
        g_ptr_array_index (joined->colleague_ids, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_CREATED, builder);
  kk_http_request_resume (request);
}

static void
post_join (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  g_autoptr (KkJoinRequest) join = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  KkRoom *room = kk_room_registry_lookup (api->registry, id);

  if (room == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }
  if (!kk_http_check_content_type (msg, "application/json"))
    return;

  body = kk_http_request_get_body (request);
  join = kk_api_parse_join_request (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &error);
  if (join == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  /* Only a join that will be stored counts: a room by invitation refuses
   * it (403) without storing anything. Programs on the relay's own
   * machine (kringkast-load, the benchmarks) join hundreds at once and
   * are not limited; people come from elsewhere, or through a local
   * proxy that names them in X-Forwarded-For. */
  if (kk_room_get_access (room) == KK_ROOM_ACCESS_OPEN
      && !kk_http_is_local_client (msg)) {
    g_autofree char *client = kk_http_get_client_address (msg);
    g_autofree char *key = kk_rate_limit_client_key (client);
    gint64 wait = kk_rate_limit_take (api->joins, key,
        g_get_monotonic_time ());

    if (wait > 0) {
      kk_http_request_reply_limited (request, "join-rate", wait,
          "too many joins from this address; try again shortly");
      return;
    }
  }

  kk_http_request_pause (request);
  kk_room_registry_join_async (api->registry, id, join->name, join->workplace,
      (const char *const *) join->colleagues, joined_cb, request);
}

/* A GET /api/sessions across its store read. */
typedef struct {
  KkRecordings *recordings;   /* nullable */
  KkHttpRequest *request;
} SessionsCall;

static void
sessions_listed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree SessionsCall *call = user_data;
  g_autoptr (KkRecordings) recordings = call->recordings;
  KkHttpRequest *request = call->request;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();

  sessions = kk_store_list_sessions_finish (KK_STORE (source), result, &error);
  if (sessions == NULL) {
    g_warning ("api: listing sessions: %s", error->message);
    kk_http_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "cannot list sessions");
    kk_http_request_resume (request);
    return;
  }

  json_builder_begin_array (builder);
  for (guint i = 0; i < sessions->len; i++)
    kk_schedule_api_build_session (builder, recordings,
        g_ptr_array_index (sessions, i), now);
  json_builder_end_array (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  kk_http_request_resume (request);
}

static void
get_sessions (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_query (request, "room");
  SessionsCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  if (room_id != NULL && kk_room_registry_lookup (api->registry, room_id)
      == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return;
  }

  call = g_new0 (SessionsCall, 1);
  call->recordings = api->recordings != NULL
      ? g_object_ref (api->recordings) : NULL;
  call->request = request;
  kk_http_request_pause (request);
  kk_store_list_sessions (api->store, room_id, sessions_listed_cb, call);
}

static void
get_healthz (KkHttpRequest *request, gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, "ok");
  json_builder_end_object (builder);
  kk_http_reply_builder (kk_http_request_get_message (request),
      SOUP_STATUS_OK, builder);
}

static void
get_metrics (KkHttpRequest *request, gpointer user_data)
{
  KkApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  char *page = kk_metrics_render (api->metrics);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg,
      "text/plain; version=0.0.4; charset=utf-8", SOUP_MEMORY_TAKE, page,
      strlen (page));
}

/* Metrics. */

static int
compare_codes (gconstpointer a, gconstpointer b)
{
  return (int) GPOINTER_TO_UINT (a) - (int) GPOINTER_TO_UINT (b);
}

static void
collect (KkMetrics *metrics, gpointer user_data)
{
  KkApi *api = user_data;
  g_autoptr (GPtrArray) rooms = kk_room_registry_list (api->registry);
  g_autoptr (GList) codes = g_hash_table_get_keys (api->responses);

  kk_metrics_sample (metrics, "kringkast_rooms", KK_METRIC_GAUGE,
      "Rooms known to the relay.", NULL, rooms->len);
  for (guint i = 0; i < rooms->len; i++) {
    KkRoom *room = g_ptr_array_index (rooms, i);
    g_autofree char *escaped = kk_metrics_escape_label_value (
        kk_room_get_id (room));
    g_autofree char *labels = g_strdup_printf ("room=\"%s\"", escaped);

    kk_metrics_sample (metrics, "kringkast_room_live", KK_METRIC_GAUGE,
        "1 while the room's lecture is being broadcast.", labels,
        kk_room_get_live (room) ? 1 : 0);
    kk_metrics_sample (metrics, "kringkast_room_viewers", KK_METRIC_GAUGE,
        "Viewers connected to the room.", labels,
        kk_room_get_viewer_count (room));
  }

  /* Sorted, so the page is stable from one scrape to the next. */
  codes = g_list_sort (codes, compare_codes);
  for (GList *l = codes; l != NULL; l = l->next) {
    g_autofree char *labels = g_strdup_printf ("code=\"%u\"",
        GPOINTER_TO_UINT (l->data));

    kk_metrics_sample (metrics, "kringkast_http_responses_total",
        KK_METRIC_COUNTER, "HTTP responses sent, by status code.", labels,
        GPOINTER_TO_UINT (g_hash_table_lookup (api->responses, l->data)));
  }
}

static void
request_done_cb (SoupServer *server, SoupServerMessage *msg, KkApi *api)
{
  guint code = soup_server_message_get_status (msg);
  gpointer count = g_hash_table_lookup (api->responses,
      GUINT_TO_POINTER (code));

  if (code < 100 || code >= 600)
    return;
  g_hash_table_insert (api->responses, GUINT_TO_POINTER (code),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (count) + 1));
}

static void
api_free (KkApi *api)
{
  kk_metrics_remove_collector (api->metrics, collect, api);
  g_hash_table_unref (api->responses);
  kk_rate_limit_free (api->joins);
  g_clear_object (&api->auth);
  g_clear_object (&api->registry);
  g_clear_object (&api->store);
  g_clear_object (&api->presence);
  g_clear_object (&api->roster);
  g_clear_object (&api->schedule);
  g_clear_object (&api->recordings);
  g_free (api);
}

gboolean
kk_api_register (SoupServer *server, KkAuth *auth, KkRoomRegistry *registry,
    KkStore *store, KkMetrics *metrics, KkPresence *presence,
    KkRoster *roster, KkSchedule *schedule, KkRecordings *recordings,
    GError **error)
{
  KkApi *api;

  g_return_val_if_fail (SOUP_IS_SERVER (server), FALSE);
  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), FALSE);
  g_return_val_if_fail (KK_IS_STORE (store), FALSE);
  g_return_val_if_fail (metrics != NULL, FALSE);

  api = g_new0 (KkApi, 1);
  api->auth = g_object_ref (auth);
  api->registry = g_object_ref (registry);
  api->store = g_object_ref (store);
  api->metrics = metrics;
  api->presence = presence != NULL ? g_object_ref (presence) : NULL;
  api->roster = roster != NULL ? g_object_ref (roster) : NULL;
  api->schedule = schedule != NULL ? g_object_ref (schedule) : NULL;
  api->recordings = recordings != NULL ? g_object_ref (recordings) : NULL;
  api->responses = g_hash_table_new (g_direct_hash, g_direct_equal);
  api->joins = kk_rate_limit_new (KK_API_JOIN_BURST,
      KK_API_JOIN_INTERVAL_S * G_USEC_PER_SEC, KK_API_JOIN_CLIENTS_MAX);
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);

  kk_metrics_add_collector (metrics, collect, api);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_done_cb),
      api);

  kk_http_add_route (server, "POST", "/api/rooms", post_rooms, api);
  kk_http_add_route (server, "GET", "/api/rooms", get_rooms, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}", get_room, api);
  kk_http_add_route (server, "PATCH", "/api/rooms/{room}", patch_room, api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/join", post_join, api);
  kk_http_add_route (server, "GET", "/api/sessions", get_sessions, api);
  kk_http_add_route (server, "GET", "/healthz", get_healthz, api);
  kk_http_add_route (server, "GET", "/metrics", get_metrics, api);
  return TRUE;
}
