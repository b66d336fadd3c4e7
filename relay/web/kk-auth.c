/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-auth: the one place that turns a bearer token into a role and a
 * refusal into 401 or 403; see kk-auth.h. It holds no state of its own:
 * the registry and the roster know the tokens.
 */
#include "kk-auth.h"

#include "kk-http.h"

struct _KkAuth {
  GObject parent;

  KkRoomRegistry *registry;
  KkRoster *roster;             /* nullable */
};

G_DEFINE_FINAL_TYPE (KkAuth, kk_auth, G_TYPE_OBJECT)

/* No usable token: 401, saying whether one was sent at all. */
static void
refuse_missing_coordinator (SoupServerMessage *msg, KkAuthRole role)
{
  if (role == KK_AUTH_ANONYMOUS)
    kk_http_reply_error (msg, SOUP_STATUS_UNAUTHORIZED,
        "the coordinator token is required (Authorization: Bearer)");
  else
    kk_http_reply_error (msg, SOUP_STATUS_UNAUTHORIZED, "invalid token");
}

/* A room token's check: 403 for another room's, 401 with @required for
 * none or an unknown one. */
static gboolean
room_token_allowed (SoupServerMessage *msg, KkTokenResult result,
    const char *role, const char *required)
{
  switch (result) {
    case KK_TOKEN_OK:
      return TRUE;
    case KK_TOKEN_WRONG_ROOM:
      kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
          "this %s token is for another room", role);
      return FALSE;
    case KK_TOKEN_UNKNOWN:
      break;
  }
  kk_http_reply_error (msg, SOUP_STATUS_UNAUTHORIZED, "%s", required);
  return FALSE;
}

KkAuthRole
kk_auth_identify (KkAuth *auth, SoupServerMessage *msg)
{
  g_autofree char *token = kk_http_get_bearer_token (msg);

  g_return_val_if_fail (KK_IS_AUTH (auth), KK_AUTH_INVALID);

  if (token == NULL) {
    return soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Authorization") != NULL
        ? KK_AUTH_INVALID : KK_AUTH_ANONYMOUS;
  }
  if (kk_room_registry_check_admin_token (auth->registry, token))
    return KK_AUTH_COORDINATOR;
  if (kk_room_registry_check_host_token (auth->registry, NULL, token)
      == KK_TOKEN_OK)
    return KK_AUTH_HOST;
  if (kk_room_registry_check_viewer_token (auth->registry, NULL, token, NULL)
      == KK_TOKEN_OK)
    return KK_AUTH_PARTICIPANT;
  return KK_AUTH_INVALID;
}

gboolean
kk_auth_require_coordinator (KkAuth *auth, SoupServerMessage *msg)
{
  KkAuthRole role = kk_auth_identify (auth, msg);

  switch (role) {
    case KK_AUTH_COORDINATOR:
      return TRUE;
    case KK_AUTH_ANONYMOUS:
    case KK_AUTH_INVALID:
      refuse_missing_coordinator (msg, role);
      return FALSE;
    case KK_AUTH_HOST:
    case KK_AUTH_PARTICIPANT:
      kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
          "only the coordinator may do this");
      return FALSE;
  }
  g_return_val_if_reached (FALSE);
}

gboolean
kk_auth_require_coordinator_or_host (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, gboolean *is_coordinator)
{
  g_autofree char *token = kk_http_get_bearer_token (msg);
  KkTokenResult host;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (room_id != NULL, FALSE);

  if (token == NULL) {
    refuse_missing_coordinator (msg, soup_message_headers_get_one (
            soup_server_message_get_request_headers (msg), "Authorization")
        != NULL ? KK_AUTH_INVALID : KK_AUTH_ANONYMOUS);
    return FALSE;
  }
  if (kk_room_registry_check_admin_token (auth->registry, token)) {
    *is_coordinator = TRUE;
    return TRUE;
  }
  host = kk_room_registry_check_host_token (auth->registry, room_id, token);
  if (host == KK_TOKEN_OK) {
    *is_coordinator = FALSE;
    return TRUE;
  }
  if (host != KK_TOKEN_UNKNOWN || kk_room_registry_check_viewer_token (
          auth->registry, NULL, token, NULL) == KK_TOKEN_OK) {
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "only the coordinator or the room's host may do this");
    return FALSE;
  }
  kk_http_reply_error (msg, SOUP_STATUS_UNAUTHORIZED, "invalid token");
  return FALSE;
}

gboolean
kk_auth_require_host (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, const char *required)
{
  g_autofree char *token = kk_http_get_bearer_token (msg);

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);

  return room_token_allowed (msg, kk_room_registry_check_host_token (
          auth->registry, room_id, token), "host", required);
}

gboolean
kk_auth_require_participant (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, gboolean accept_receipt, const char *required,
    char **party_id, char **participant_id)
{
  g_autofree char *token = kk_http_get_bearer_token (msg);
  g_autofree char *party = NULL, *person = NULL;
  KkTokenResult result;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);

  result = kk_room_registry_check_viewer_token (auth->registry, room_id,
      token, &party);
  if (result == KK_TOKEN_UNKNOWN && accept_receipt && auth->roster != NULL)
    result = kk_roster_check_receipt (auth->roster, room_id, token, &person,
        &party);
  if (!room_token_allowed (msg, result, "participant", required))
    return FALSE;
  if (party_id != NULL)
    *party_id = g_steal_pointer (&party);
  if (participant_id != NULL)
    *participant_id = g_steal_pointer (&person);
  return TRUE;
}

static void
kk_auth_finalize (GObject *object)
{
  KkAuth *auth = KK_AUTH (object);

  g_clear_object (&auth->registry);
  g_clear_object (&auth->roster);
  G_OBJECT_CLASS (kk_auth_parent_class)->finalize (object);
}

static void
kk_auth_class_init (KkAuthClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_auth_finalize;
}

static void
kk_auth_init (KkAuth *auth)
{
}

KkAuth *
kk_auth_new (KkRoomRegistry *registry, KkRoster *roster)
{
  KkAuth *auth;

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), NULL);
  g_return_val_if_fail (roster == NULL || KK_IS_ROSTER (roster), NULL);

  auth = g_object_new (KK_TYPE_AUTH, NULL);
  auth->registry = g_object_ref (registry);
  auth->roster = roster != NULL ? g_object_ref (roster) : NULL;
  return auth;
}
