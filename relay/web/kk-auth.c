/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-auth: the one place that turns a bearer token or a signed link into
 * a role and a refusal into 401 or 403; see kk-auth.h. The registry and
 * the roster know the tokens; the only secret of its own is the key of
 * recording links, drawn at each start and never written anywhere. A
 * link's signature is compared in constant time and never logged.
 */
#include "kk-auth.h"

#include <gst/gst.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "kk-http.h"

GST_DEBUG_CATEGORY_STATIC (kk_auth_debug);
#define GST_CAT_DEFAULT kk_auth_debug

struct _KkAuth {
  GObject parent;

  KkRoomRegistry *registry;
  KkRoster *roster;             /* nullable */
  guint8 link_key[32];          /* signs recording links; this run only */
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

/* The caller's role over all rooms. */
static KkAuthRole
identify (KkAuth *auth, SoupServerMessage *msg)
{
  g_autofree char *token = kk_http_get_bearer_token (msg);

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
kk_auth_require_known (KkAuth *auth, SoupServerMessage *msg,
    KkAuthRole *role)
{
  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);

  *role = identify (auth, msg);
  if (*role == KK_AUTH_INVALID) {
    kk_http_reply_error (msg, SOUP_STATUS_UNAUTHORIZED, "invalid token");
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_auth_require_coordinator (KkAuth *auth, SoupServerMessage *msg)
{
  KkAuthRole role = identify (auth, msg);

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

gboolean
kk_auth_require_room_reader (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, const char *required, gboolean *privileged,
    char **party_id, char **participant_id)
{
  g_autofree char *token = kk_http_get_bearer_token (msg);
  KkTokenResult host;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (room_id != NULL, FALSE);

  if (party_id != NULL)
    *party_id = NULL;
  if (participant_id != NULL)
    *participant_id = NULL;
  *privileged = TRUE;
  if (token != NULL
      && kk_room_registry_check_admin_token (auth->registry, token))
    return TRUE;
  host = kk_room_registry_check_host_token (auth->registry, room_id, token);
  if (host == KK_TOKEN_OK)
    return TRUE;
  if (host == KK_TOKEN_WRONG_ROOM)
    return room_token_allowed (msg, host, "host", required);
  *privileged = FALSE;
  return kk_auth_require_participant (auth, msg, room_id, TRUE, required,
      party_id, participant_id);
}

char *
kk_auth_sign_recording_link (KkAuth *auth, const char *session_id,
    guint64 expires)
{
  g_autofree char *message = g_strdup_printf ("%s\n%" G_GUINT64_FORMAT,
      session_id, expires);

  g_return_val_if_fail (KK_IS_AUTH (auth), NULL);

  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, auth->link_key,
      sizeof auth->link_key, message, -1);
}

gboolean
kk_auth_require_recording_link (KkAuth *auth, SoupServerMessage *msg,
    const char *session_id, const char *expires_text, const char *sig)
{
  g_autofree char *wanted = NULL;
  guint64 expires = 0;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);

  /* Lengths are not secret: a hex HMAC-SHA256 is 64 characters. */
  if (expires_text == NULL || sig == NULL || strlen (sig) != 64
      || strlen (expires_text) > 12
      || !g_ascii_string_to_unsigned (expires_text, 10, 1, G_MAXUINT64,
          &expires, NULL)) {
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "this link is not valid: ask the course coordinator for a new one");
    return FALSE;
  }
  wanted = kk_auth_sign_recording_link (auth, session_id, expires);
  if (CRYPTO_memcmp (wanted, sig, 64) != 0) {
    GST_INFO ("refused a recording link with a wrong signature");
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "this link is not valid: ask the course coordinator for a new one");
    return FALSE;
  }
  if ((guint64) (g_get_real_time () / G_USEC_PER_SEC) > expires) {
    GST_INFO ("session %s: refused an expired recording link", session_id);
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "this link has expired: open the recording again from the "
        "course page");
    return FALSE;
  }
  return TRUE;
}

static void
kk_auth_finalize (GObject *object)
{
  KkAuth *auth = KK_AUTH (object);

  OPENSSL_cleanse (auth->link_key, sizeof auth->link_key);
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
kk_auth_new (KkRoomRegistry *registry, KkRoster *roster, GError **error)
{
  g_autoptr (KkAuth) auth = NULL;

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), NULL);
  g_return_val_if_fail (roster == NULL || KK_IS_ROSTER (roster), NULL);

  if (kk_auth_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_auth_debug, "kk-auth", 0,
        "Kringkast authorisation");

  auth = g_object_new (KK_TYPE_AUTH, NULL);
  if (RAND_bytes (auth->link_key, sizeof auth->link_key) != 1) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "no random bytes for the recording links' key");
    return NULL;
  }
  auth->registry = g_object_ref (registry);
  auth->roster = roster != NULL ? g_object_ref (roster) : NULL;
  return g_steal_pointer (&auth);
}
