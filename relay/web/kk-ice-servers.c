/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ice-servers: mints TURN REST credentials and formats them for the
 * Link headers of WHIP/WHEP and for the pages' JSON; see kk-ice-servers.h.
 * The shared secret stays in this object and is never logged or sent; a
 * credential is made per request and kept nowhere, because coturn can
 * recompute and check it from the username alone.
 */
#include "kk-ice-servers.h"

#include <string.h>

#include "kk-time.h"

struct _KkIceServers {
  GObject parent;

  GStrv urls;                   /* empty when no TURN server is configured */
  char *secret;                 /* nullable exactly when urls is empty */
  guint lifetime_s;
};

G_DEFINE_FINAL_TYPE (KkIceServers, kk_ice_servers, G_TYPE_OBJECT)

static void
kk_ice_servers_finalize (GObject *object)
{
  KkIceServers *servers = KK_ICE_SERVERS (object);

  g_strfreev (servers->urls);
  if (servers->secret != NULL) {
    /* The secret lets anyone mint credentials: do not leave it in freed
     * memory. */
    memset (servers->secret, 0, strlen (servers->secret));
    g_free (servers->secret);
  }
  G_OBJECT_CLASS (kk_ice_servers_parent_class)->finalize (object);
}

static void
kk_ice_servers_class_init (KkIceServersClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_ice_servers_finalize;
}

static void
kk_ice_servers_init (G_GNUC_UNUSED KkIceServers *servers)
{
}

KkIceServers *
kk_ice_servers_new (const char *const *urls, const char *secret,
    guint lifetime_s)
{
  KkIceServers *servers;
  gboolean have_urls = urls != NULL && urls[0] != NULL;

  g_return_val_if_fail (!have_urls || (secret != NULL && secret[0] != '\0'),
      NULL);
  g_return_val_if_fail (lifetime_s > 0, NULL);

  servers = g_object_new (KK_TYPE_ICE_SERVERS, NULL);
  servers->urls = have_urls ? g_strdupv ((char **) urls) : g_new0 (char *, 1);
  servers->secret = have_urls ? g_strdup (secret) : NULL;
  servers->lifetime_s = lifetime_s;
  return servers;
}

gboolean
kk_ice_servers_is_empty (KkIceServers *servers)
{
  g_return_val_if_fail (KK_IS_ICE_SERVERS (servers), TRUE);

  return servers->urls[0] == NULL;
}

void
kk_turn_credential_free (KkTurnCredential *credential)
{
  if (credential == NULL)
    return;
  g_free (credential->username);
  g_free (credential->credential);
  g_free (credential);
}

static KkTurnCredential *
mint (KkIceServers *servers, const char *identity, gint64 now,
    guint lifetime_s)
{
  g_autoptr (GHmac) hmac = NULL;
  KkTurnCredential *credential;
  guint8 digest[20];
  gsize digest_len = sizeof (digest);

  credential = g_new0 (KkTurnCredential, 1);
  credential->expires = now + lifetime_s;
  credential->username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s",
      credential->expires, identity);
  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) servers->secret,
      strlen (servers->secret));
  g_hmac_update (hmac, (const guchar *) credential->username, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  credential->credential = g_base64_encode (digest, digest_len);
  return credential;
}

KkTurnCredential *
kk_ice_servers_mint (KkIceServers *servers, const char *identity, gint64 now)
{
  g_return_val_if_fail (KK_IS_ICE_SERVERS (servers), NULL);
  g_return_val_if_fail (!kk_ice_servers_is_empty (servers), NULL);
  g_return_val_if_fail (identity != NULL && identity[0] != '\0'
      && strchr (identity, ':') == NULL, NULL);

  return mint (servers, identity, now, servers->lifetime_s);
}

/* A network check's identity: "check-" and 16 hex digits of
 * HMAC-SHA256 (secret, @client_key), keyed with the secret so that the
 * name cannot be turned back into the address by hashing every IPv4
 * address. */
static char *
check_identity (KkIceServers *servers, const char *client_key)
{
  g_autofree char *digest = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) servers->secret, strlen (servers->secret), client_key,
      -1);

  return g_strdup_printf ("check-%.16s", digest);
}

static guint
check_lifetime (KkIceServers *servers)
{
  return MIN (servers->lifetime_s, KK_ICE_SERVERS_CHECK_LIFETIME_S);
}

KkTurnCredential *
kk_ice_servers_mint_check (KkIceServers *servers, const char *client_key,
    gint64 now)
{
  g_autofree char *identity = NULL;

  g_return_val_if_fail (KK_IS_ICE_SERVERS (servers), NULL);
  g_return_val_if_fail (!kk_ice_servers_is_empty (servers), NULL);
  g_return_val_if_fail (client_key != NULL, NULL);

  identity = check_identity (servers, client_key);
  return mint (servers, identity, now, check_lifetime (servers));
}

GStrv
kk_ice_servers_format_links (KkIceServers *servers,
    const KkTurnCredential *credential)
{
  g_autoptr (GStrvBuilder) links = g_strv_builder_new ();

  g_return_val_if_fail (KK_IS_ICE_SERVERS (servers), NULL);
  g_return_val_if_fail (credential != NULL, NULL);

  for (guint i = 0; servers->urls[i] != NULL; i++) {
    g_autofree char *link = g_strdup_printf ("<%s>; rel=\"ice-server\"; "
        "username=\"%s\"; credential=\"%s\"; credential-type=\"password\"",
        servers->urls[i], credential->username, credential->credential);

    g_strv_builder_add (links, link);
  }
  return g_strv_builder_end (links);
}

void
kk_ice_servers_add_links (KkIceServers *servers, SoupMessageHeaders *headers,
    const char *identity)
{
  g_autoptr (KkTurnCredential) credential = NULL;
  g_auto (GStrv) links = NULL;

  g_return_if_fail (KK_IS_ICE_SERVERS (servers));

  if (kk_ice_servers_is_empty (servers))
    return;
  credential = kk_ice_servers_mint (servers, identity,
      g_get_real_time () / G_USEC_PER_SEC);
  links = kk_ice_servers_format_links (servers, credential);
  for (guint i = 0; links[i] != NULL; i++)
    soup_message_headers_append (headers, "Link", links[i]);
}

/* Adds "ice_servers" and "expires_at" with a credential for @identity,
 * valid for @lifetime_s from now; @identity is NULL exactly when no
 * server is configured. */
static void
add_json (KkIceServers *servers, JsonBuilder *builder, const char *identity,
    guint lifetime_s)
{
  g_autoptr (KkTurnCredential) credential = NULL;
  g_autofree char *expires_at = NULL;

  json_builder_set_member_name (builder, "ice_servers");
  json_builder_begin_array (builder);
  if (identity != NULL) {
    credential = mint (servers, identity, g_get_real_time () / G_USEC_PER_SEC,
        lifetime_s);
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "urls");
    json_builder_begin_array (builder);
    for (guint i = 0; servers->urls[i] != NULL; i++)
      json_builder_add_string_value (builder, servers->urls[i]);
    json_builder_end_array (builder);
    json_builder_set_member_name (builder, "username");
    json_builder_add_string_value (builder, credential->username);
    json_builder_set_member_name (builder, "credential");
    json_builder_add_string_value (builder, credential->credential);
    json_builder_end_object (builder);
    expires_at = kk_time_format_utc (credential->expires * G_USEC_PER_SEC);
  }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "expires_at");
  if (expires_at != NULL)
    json_builder_add_string_value (builder, expires_at);
  else
    json_builder_add_null_value (builder);
}

void
kk_ice_servers_add_json (KkIceServers *servers, JsonBuilder *builder,
    const char *identity)
{
  g_return_if_fail (KK_IS_ICE_SERVERS (servers));
  g_return_if_fail (identity != NULL && identity[0] != '\0'
      && strchr (identity, ':') == NULL);

  add_json (servers, builder,
      kk_ice_servers_is_empty (servers) ? NULL : identity, servers->lifetime_s);
}

void
kk_ice_servers_add_check_json (KkIceServers *servers, JsonBuilder *builder,
    const char *client_key)
{
  g_autofree char *identity = NULL;

  g_return_if_fail (KK_IS_ICE_SERVERS (servers));
  g_return_if_fail (client_key != NULL);

  if (!kk_ice_servers_is_empty (servers))
    identity = check_identity (servers, client_key);
  add_json (servers, builder, identity, check_lifetime (servers));
}
