/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-presence-api: attendance codes and "still here?" prompts over HTTP;
 * see kk-presence-api.h.
 *
 * A viewer's page asks for the open prompt with a long poll: the request
 * is paused while kk-presence holds it as a waiter, and answered 200 when
 * a prompt is issued, or 204 when the session ends or the wait is over.
 */
#include "kk-presence-api.h"

#include "kk-http.h"

/* The routes' data, kept by the server. */
typedef struct {
  KkAuth *auth;
  KkRoomRegistry *registry;
  KkPresence *presence;
} KkPresenceApi;

static void
api_free (KkPresenceApi *api)
{
  g_clear_object (&api->auth);
  g_clear_object (&api->registry);
  g_clear_object (&api->presence);
  g_free (api);
}

/* ---- replies ---- */

static void
reply_prompt (SoupServerMessage *msg, const KkPresencePrompt *prompt)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, prompt->id);
  kk_http_json_add_time (builder, "issued_at", prompt->issued_wall_us);
  kk_http_json_add_time (builder, "expires_at", prompt->expires_wall_us);
  json_builder_set_member_name (builder, "seconds_left");
  json_builder_add_int_value (builder, prompt->left_us / G_USEC_PER_SEC);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
reply_code (KkPresenceApi *api, SoupServerMessage *msg, guint status,
    const char *room_id)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  KkPresenceCode code;

  kk_presence_get_code (api->presence, room_id, &code);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  if (code.code != NULL)
    json_builder_add_string_value (builder, code.code);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "session_id");
  if (code.session_id != NULL)
    json_builder_add_string_value (builder, code.session_id);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "required");
  json_builder_add_boolean_value (builder, code.required);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, status, builder);
}

/* ---- who calls ---- */

static gboolean
require_room (KkPresenceApi *api, SoupServerMessage *msg,
    const char *room_id)
{
  if (kk_room_registry_lookup (api->registry, room_id) != NULL)
    return TRUE;
  kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
  return FALSE;
}

/* The room, if it exists and the caller holds its host token; otherwise
 * a 404/401/403 reply and NULL. */
static const char *
require_host (KkPresenceApi *api, KkHttpRequest *request)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);

  if (!require_room (api, msg, room_id)
      || !kk_auth_require_host (api->auth, msg, room_id,
          "a valid host token is required (Authorization: Bearer)"))
    return NULL;
  return room_id;
}

/* A screen (viewer token) or a person at one (check-in receipt). */
static const char *
require_viewer (KkPresenceApi *api, KkHttpRequest *request, char **party_id,
    char **participant_id)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);

  if (!require_room (api, msg, room_id)
      || !kk_auth_require_participant (api->auth, msg, room_id, TRUE,
          "a valid participant token is required (Authorization: Bearer)",
          party_id, participant_id))
    return NULL;
  return room_id;
}

/* ---- routes ---- */

static void
get_code (KkHttpRequest *request, gpointer user_data)
{
  KkPresenceApi *api = user_data;
  const char *room_id = require_host (api, request);

  if (room_id != NULL)
    reply_code (api, kk_http_request_get_message (request), SOUP_STATUS_OK,
        room_id);
}

static void
post_code (KkHttpRequest *request, gpointer user_data)
{
  KkPresenceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = require_host (api, request);
  g_autoptr (GError) error = NULL;
  gboolean revealed_now;

  if (room_id == NULL)
    return;
  if (!kk_presence_reveal_code (api->presence, room_id, &revealed_now,
          &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT, "%s", error->message);
    return;
  }
  reply_code (api, msg, revealed_now ? SOUP_STATUS_CREATED : SOUP_STATUS_OK,
      room_id);
}

static void
post_code_answer (KkHttpRequest *request, gpointer user_data)
{
  KkPresenceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  const char *room_id = require_viewer (api, request, &party_id,
      &participant_id);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *typed = NULL;
  guint tries_left = 0;

  if (room_id == NULL || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  typed = kk_json_parse_one_string (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), "code", "the body must be {\"code\": \"...\"}",
      &error);
  if (typed == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  switch (kk_presence_answer_code (api->presence, room_id, party_id,
          participant_id, typed, &tries_left)) {
    case KK_PRESENCE_CODE_ACCEPTED:
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      break;
    case KK_PRESENCE_CODE_NOT_REVEALED:
      kk_http_reply_error (msg, SOUP_STATUS_CONFLICT,
          "no attendance code has been given in this lecture yet");
      break;
    case KK_PRESENCE_CODE_TOO_MANY_WRONG:
      kk_http_reply_error (msg, KK_HTTP_STATUS_TOO_MANY_REQUESTS,
          "too many wrong codes; the course coordinator can still confirm "
          "your attendance");
      break;
    case KK_PRESENCE_CODE_WRONG:
      kk_http_reply_error (msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
          "that is not the code; %u tries left", tries_left);
      break;
  }
}

/* A waiting poll's answer: the prompt, or 204. */
static void
prompt_came (const KkPresencePrompt *prompt, gpointer user_data)
{
  KkHttpRequest *request = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);

  if (prompt != NULL)
    reply_prompt (msg, prompt);
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  kk_http_request_resume (request);
  kk_http_request_unref (request);
}

static void
get_prompt (KkHttpRequest *request, gpointer user_data)
{
  KkPresenceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  const char *room_id = require_viewer (api, request, &party_id,
      &participant_id);
  const char *wait_text = kk_http_request_get_query (request, "wait");
  KkPresencePrompt prompt;
  guint64 wait = 0;

  if (room_id == NULL)
    return;
  if (wait_text != NULL && (!g_ascii_string_to_unsigned (wait_text, 10, 0,
              KK_PRESENCE_MAX_WAIT_S, &wait, NULL))) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "wait must be a whole number of seconds from 0 to %d",
        KK_PRESENCE_MAX_WAIT_S);
    return;
  }
  if (kk_presence_find_open_prompt (api->presence, room_id, party_id,
          participant_id, &prompt)) {
    reply_prompt (msg, &prompt);
    return;
  }
  if (!kk_presence_wait_prompt (api->presence, room_id, (guint) wait,
          prompt_came, kk_http_request_ref (request))) {
    kk_http_request_unref (request);
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
    return;
  }
  kk_http_request_pause (request);
}

static void
post_prompt_answer (KkHttpRequest *request, gpointer user_data)
{
  KkPresenceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  const char *room_id = require_viewer (api, request, &party_id,
      &participant_id);

  if (room_id == NULL)
    return;
  switch (kk_presence_answer_prompt (api->presence, room_id,
          kk_http_request_get_param (request, 1), party_id,
          participant_id)) {
    case KK_PRESENCE_PROMPT_ANSWERED:
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      break;
    case KK_PRESENCE_PROMPT_LATE:
      kk_http_reply_error (msg, SOUP_STATUS_GONE,
          "the time to answer this prompt is over");
      break;
    case KK_PRESENCE_PROMPT_UNKNOWN:
      kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND,
          "no such prompt in the live session");
      break;
  }
}

static void
post_prompt (KkHttpRequest *request, gpointer user_data)
{
  KkPresenceApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = require_host (api, request);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  KkPresencePrompt prompt;

  if (room_id == NULL)
    return;
  id = kk_presence_issue_prompt (api->presence, room_id, &error);
  if (id == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT, "%s", error->message);
    return;
  }
  kk_presence_get_prompt (api->presence, room_id, id, &prompt);
  reply_prompt (msg, &prompt);
  soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
}

gboolean
kk_presence_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkPresence *presence, GError **error)
{
  KkPresenceApi *api;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (KK_IS_PRESENCE (presence), FALSE);

  api = g_new0 (KkPresenceApi, 1);
  api->auth = g_object_ref (auth);
  api->registry = g_object_ref (registry);
  api->presence = g_object_ref (presence);
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);

  kk_http_add_route (server, "GET", "/api/rooms/{room}/attendance-code",
      get_code, api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/attendance-code",
      post_code, api);
  kk_http_add_route (server, "POST",
      "/api/rooms/{room}/attendance-code/answer", post_code_answer, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/prompt", get_prompt,
      api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/prompt", post_prompt,
      api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/prompt/{id}",
      post_prompt_answer, api);
  return TRUE;
}
