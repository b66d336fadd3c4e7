/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ice-servers: the TURN servers a viewer's or host's browser may use to
 * reach the relay, with credentials minted for that caller alone.
 *
 * The relay is an ICE-lite agent on a public address and needs no STUN or
 * TURN server itself; its clients may, when their network lets nothing out
 * but TCP 443 (TURN over TLS) or blocks the media port. Credentials follow
 * the TURN REST scheme that coturn's `use-auth-secret` checks
 * (draft-uberti-behave-turn-rest): the username is
 * "<expiry, Unix seconds>:<identity>", the password is
 * base64 (HMAC-SHA1 (shared secret, username)). coturn recomputes the
 * password from the username and refuses it once the expiry has passed,
 * so no password is ever stored, and one handed to a participant names
 * that participant in coturn's log and stops working by itself.
 *
 * They are handed out two ways: as `Link: <turn:...>; rel="ice-server"`
 * headers (RFC 9725 section 4.6, WHEP likewise) on WHIP and WHEP answers,
 * and as an RTCIceServer list in JSON for the pages. Main context only.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define KK_TYPE_ICE_SERVERS (kk_ice_servers_get_type ())
G_DECLARE_FINAL_TYPE (KkIceServers, kk_ice_servers, KK, ICE_SERVERS, GObject)

/**
 * kk_ice_servers_new:
 * @urls: (array zero-terminated=1) (nullable): TURN URLs, already checked
 *   (kk_config_check_turn_url()); NULL or empty: there are none, and
 *   nothing is ever handed out
 * @secret: (nullable): coturn's static-auth-secret; required with @urls
 * @lifetime_s: how long a minted credential is valid
 *
 * Returns: (transfer full): the servers.
 */
KkIceServers *kk_ice_servers_new (const char *const *urls, const char *secret,
    guint lifetime_s);

/* Whether any TURN server is configured. */
gboolean kk_ice_servers_is_empty (KkIceServers *servers);

typedef struct {
  char *username;               /* "<expires>:<identity>" */
  char *credential;             /* base64 HMAC-SHA1 of username */
  gint64 expires;               /* Unix seconds */
} KkTurnCredential;

void kk_turn_credential_free (KkTurnCredential *credential);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkTurnCredential, kk_turn_credential_free)

/**
 * kk_ice_servers_mint:
 * @identity: who it is for: a participant's party id, or "host-<room>";
 *   no ':' (coturn splits the username at the first one)
 * @now: the current time, Unix seconds
 *
 * Returns: (transfer full): a credential valid until @now plus the
 * lifetime.
 */
KkTurnCredential *kk_ice_servers_mint (KkIceServers *servers,
    const char *identity, gint64 now);

/**
 * kk_ice_servers_format_links:
 * @credential: (transfer none): from kk_ice_servers_mint()
 *
 * Returns: (transfer full): one Link header value per server,
 * `<URL>; rel="ice-server"; username="..."; credential="...";
 * credential-type="password"` (RFC 9725 section 4.6; the quoted strings
 * need no escaping: usernames are made of ids and digits, credentials of
 * base64).
 */
GStrv kk_ice_servers_format_links (KkIceServers *servers,
    const KkTurnCredential *credential);

/* Mints a credential for @identity now and appends its Link headers to
 * @headers. Nothing when no server is configured. */
void kk_ice_servers_add_links (KkIceServers *servers,
    SoupMessageHeaders *headers, const char *identity);

/* How long a network check's credential lives: the check's TURN steps
 * take seconds, and the check page needs no token, so what it hands out
 * must be worth little to whoever collects it. */
#define KK_ICE_SERVERS_CHECK_LIFETIME_S 120

/**
 * kk_ice_servers_mint_check:
 * @client_key: the checker's address as kk_rate_limit_client_key() gives
 *   it (an IPv4 address, or an IPv6 /64)
 * @now: the current time, Unix seconds
 *
 * A network check's credential: valid for the shorter of the lifetime and
 * KK_ICE_SERVERS_CHECK_LIFETIME_S, and named "check-" and 16 hex digits
 * of HMAC-SHA256 (secret, @client_key), so that every check from one
 * address (or /64) is one user to coturn and its user-quota bounds what
 * that address holds, while coturn's log does not name the address.
 *
 * Returns: (transfer full): the credential.
 */
KkTurnCredential *kk_ice_servers_mint_check (KkIceServers *servers,
    const char *client_key, gint64 now);

/* Mints a credential for @identity now and adds
 * `"ice_servers": [{"urls": [...], "username", "credential"}]` (an empty
 * list when no server is configured) and `"expires_at"` (RFC 3339, or
 * null) to the object @builder is in: what a page hands to
 * RTCPeerConnection as its iceServers. */
void kk_ice_servers_add_json (KkIceServers *servers, JsonBuilder *builder,
    const char *identity);

/* As kk_ice_servers_add_json(), with a network check's credential
 * (kk_ice_servers_mint_check()) for @client_key. */
void kk_ice_servers_add_check_json (KkIceServers *servers,
    JsonBuilder *builder, const char *client_key);

G_END_DECLS
