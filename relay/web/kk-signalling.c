/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-signalling: WHIP (RFC 9725) for hosts and WHEP (draft-ietf-wish-whep)
 * for viewers.
 *
 *   POST   /whip/{room}            host token, application/sdp offer -> 201 answer
 *   PATCH  /whip/{room}/{id}       trickle-ice-sdpfrag -> 204
 *   DELETE /whip/{room}/{id}       the broadcast ends
 *   POST   /whep/{room}            participant token, offer -> 201 answer;
 *                                  ?quality=...&start=...: the viewer's
 *                                  choice, from its first packet on
 *   PATCH  /whep/{room}/{id}       trickle: accepted and ignored (we are
 *                                  ICE-lite); application/json
 *                                  {"quality": ...}: the viewer's choice
 *   GET    /whep/{room}/{id}       the viewer's own connection statistics
 *   PUT    /whep/{room}/{id}/relay-protocol  {"relay_protocol": "udp" |
 *                                  "tcp" | "tls"}: how the viewer's browser
 *                                  reaches its TURN server -> 204
 *   DELETE /whep/{room}/{id}       the viewer leaves
 *   OPTIONS on all of them         CORS preflight, Accept-Post
 *   GET    /api/rooms/{room}/ice-servers  participant or host token: the
 *                                  TURN servers for the page's
 *                                  RTCPeerConnection, with credentials
 *   GET    /api/network-check      anyone: what the network check page
 *                                  tries (media port, addresses, TURN
 *                                  servers with a credential that lives
 *                                  two minutes and is named after the
 *                                  caller's address or /64)
 *   POST   /network-check/whep     anyone: WHEP for the check's test
 *                                  pattern (kk-network-check.h) -> 201
 *   DELETE /network-check/whep/{id}  that checker's stream ends
 *
 * The network check needs no token (it is sent to a workplace's IT), so
 * its two routes that cost something, minting TURN credentials and
 * starting a stream, take from a bucket per client address
 * (KK_CHECK_BURST, then one per KK_CHECK_INTERVAL_S): a check takes five.
 *
 * TURN servers and their credentials (kk-ice-servers.h) go out as Link
 * headers (rel="ice-server", RFC 9725 section 4.6) on every 201 of a WHIP
 * or WHEP POST, minted for the caller: the host as "host-<room>", a
 * viewer as its party. An OPTIONS request that carries the room's token
 * gets them too (the discovery request early WHIP drafts described, which
 * some clients still send); a browser's CORS preflight never carries an
 * Authorization header, so it gets none: credentials go only to a caller
 * who may publish or watch.
 *
 * Every refusal is a JSON error with the status the contract names: 401
 * for a missing or unknown token, 403 for a token of another room, 404 for
 * an unknown room or resource, 409 for a second publisher, 413 for a huge
 * body (kk-http), 415 for another content type, 400 for an offer we cannot
 * use, 429 for a token that holds KK_LECTURE_MAX_VIEWERS_PER_PARTY
 * resources already. Whether a token may publish or watch is kk-auth's
 * to say (401, 403); a viewer's resource belonging to another party is
 * a 403 of this module's own.
 */
#include "kk-signalling.h"

#include "kk-http.h"
#include "kk-json.h"
#include <kringkast/kk-sdp.h>
#include <json-glib/json-glib.h>

#include "kk-ratelimit.h"

#define SDP_TYPE "application/sdp"
#define KK_CHECK_BURST 20
#define KK_CHECK_INTERVAL_S 3
#define KK_CHECK_MAX_CLIENTS 4096
#define TRICKLE_TYPE "application/trickle-ice-sdpfrag"

/* The routes' data, kept by the server. */
typedef struct {
  KkAuth *auth;
  KkRoomRegistry *registry;
  KkIceServers *ice_servers;
  KkNetworkCheck *network_check;
  KkRateLimit *check_limit;
  KkSignallingLookupFunc lookup;
  gpointer lookup_data;
} KkSignalling;

static void
signalling_free (KkSignalling *signalling)
{
  g_clear_object (&signalling->auth);
  g_clear_object (&signalling->registry);
  g_clear_object (&signalling->ice_servers);
  g_clear_object (&signalling->network_check);
  kk_rate_limit_free (signalling->check_limit);
  g_free (signalling);
}

static KkLecture *
get_lecture (KkSignalling *signalling, KkRoom *room)
{
  return signalling->lookup (kk_room_get_id (room), signalling->lookup_data);
}

static void
add_cors (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  /* WHIP/WHEP clients run on other origins (a page of the host's own, a
   * player): tokens, not cookies, authorise them, so any origin may call. */
  soup_message_headers_replace (headers, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (headers, "Access-Control-Expose-Headers",
      "Location, Link, ETag, Accept-Patch");
}

static KkRoom *
find_room (KkSignalling *signalling, KkHttpRequest *request)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *id = kk_http_request_get_param (request, 0);
  KkRoom *room = kk_room_registry_lookup (signalling->registry, id);

  add_cors (msg);
  if (room == NULL)
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no room %s", id);
  return room;
}

/* The identity a host's TURN credential names: the room's host is one
 * person (or one OBS), whoever holds the token. */
static char *
host_identity (const char *room_id)
{
  return g_strdup_printf ("host-%s", room_id);
}

static gboolean
check_host (KkSignalling *signalling, KkHttpRequest *request, KkRoom *room)
{
  return kk_auth_require_host (signalling->auth,
      kk_http_request_get_message (request), kk_room_get_id (room),
      "a valid host token is required");
}

static gboolean
check_viewer (KkSignalling *signalling, KkHttpRequest *request, KkRoom *room,
    char **party_id)
{
  return kk_auth_require_participant (signalling->auth,
      kk_http_request_get_message (request), kk_room_get_id (room), FALSE,
      "a valid participant token is required", party_id, NULL);
}

static void
reply_created (SoupServerMessage *msg, const char *kind, const char *room,
    const char *resource_id, const char *answer)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree char *location = g_strdup_printf ("/%s/%s/%s", kind, room,
      resource_id);
  g_autofree char *etag = g_strdup_printf ("\"%s\"", resource_id);

  soup_message_headers_replace (headers, "Location", location);
  soup_message_headers_replace (headers, "ETag", etag);
  soup_message_headers_replace (headers, "Accept-Patch", TRICKLE_TYPE);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
  soup_server_message_set_response (msg, SDP_TYPE, SOUP_MEMORY_COPY, answer,
      strlen (answer));
}

/* ---- WHIP ---- */

typedef struct {
  KkHttpRequest *request;
  char *room_id;
  KkIceServers *ice_servers;
} KkPendingPublish;

static void
pending_publish_free (KkPendingPublish *pending)
{
  g_free (pending->room_id);
  g_object_unref (pending->ice_servers);
  g_free (pending);
}

static void
on_published (KkLecture *lecture, const char *resource_id,
    const char *answer_sdp, const GError *error, gpointer user_data)
{
  KkPendingPublish *pending = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (pending->request);

  if (error != NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "the offer could not be answered: %s", error->message);
  } else {
    g_autofree char *identity = host_identity (pending->room_id);

    reply_created (msg, "whip", pending->room_id, resource_id, answer_sdp);
    kk_ice_servers_add_links (pending->ice_servers,
        soup_server_message_get_response_headers (msg), identity);
  }
  kk_http_request_resume (pending->request);
  pending_publish_free (pending);
}

static void
whip_post (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRoom *room = find_room (signalling, request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  GstSDPMessage *offer;
  KkLecture *lecture;
  KkPendingPublish *pending;
  gsize len;
  const char *data;

  if (room == NULL || !check_host (signalling, request, room)
      || !kk_http_check_content_type (msg, SDP_TYPE))
    return;
  body = kk_http_request_get_body (request);
  data = g_bytes_get_data (body, &len);
  offer = kk_sdp_check_publisher_offer (data, len, &error);
  if (offer == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }

  lecture = get_lecture (signalling, room);
  pending = g_new0 (KkPendingPublish, 1);
  pending->request = request;
  pending->room_id = g_strdup (kk_room_get_id (room));
  pending->ice_servers = g_object_ref (signalling->ice_servers);
  kk_http_request_pause (request);
  if (!kk_lecture_publish (lecture, offer, on_published, pending, &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT, "%s", error->message);
    kk_http_request_resume (request);
    pending_publish_free (pending);
  }
  gst_sdp_message_free (offer);
}

static void
reply_lecture_error (SoupServerMessage *msg, const GError *error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

  if (g_error_matches (error, KK_LECTURE_ERROR, KK_LECTURE_ERROR_NOT_FOUND))
    status = SOUP_STATUS_NOT_FOUND;
  else if (g_error_matches (error, KK_LECTURE_ERROR,
          KK_LECTURE_ERROR_ICE_RESTART))
    status = SOUP_STATUS_UNPROCESSABLE_ENTITY;
  else if (error->domain == KK_LECTURE_ERROR)
    status = SOUP_STATUS_CONFLICT;
  kk_http_reply_error (msg, status, "%s", error->message);
}

/* A parser of a request's body: parse_viewer_offer (),
 * parse_trickle_fragment (). */
typedef gpointer (*BodyParseFunc) (const char *data, gsize len,
    GError **error);

/* The parsers in BodyParseFunc's type: calling them through a cast of
 * their own (typed) returns would be undefined behaviour. */
static gpointer
parse_trickle_fragment (const char *data, gsize len, GError **error)
{
  return kk_sdp_parse_trickle_fragment (data, len, error);
}

static gpointer
parse_viewer_offer (const char *data, gsize len, GError **error)
{
  return kk_sdp_parse_viewer_offer (data, len, error);
}

/* The request's body of @content_type as @parse made it, or NULL after
 * replying 415 (another type) or 400 (@parse's error). */
static gpointer
read_body (KkHttpRequest *request, const char *content_type,
    BodyParseFunc parse)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  gpointer parsed;
  gsize len;
  const char *data;

  if (!kk_http_check_content_type (msg, content_type))
    return NULL;
  body = kk_http_request_get_body (request);
  data = g_bytes_get_data (body, &len);
  parsed = parse (data, len, &error);
  if (parsed == NULL)
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
  return parsed;
}

/* The request's trickle-ice-sdpfrag, or NULL after replying 415 or 400. */
static KkTrickleFragment *
read_fragment (KkHttpRequest *request)
{
  return read_body (request, TRICKLE_TYPE, parse_trickle_fragment);
}

static void
whip_patch (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRoom *room = find_room (signalling, request);
  g_autoptr (GError) error = NULL;
  g_autoptr (KkTrickleFragment) fragment = NULL;
  KkLecture *lecture;

  if (room == NULL || !check_host (signalling, request, room)
      || (fragment = read_fragment (request)) == NULL)
    return;
  lecture = get_lecture (signalling, room);
  if (!kk_lecture_publisher_trickle (lecture,
          kk_http_request_get_param (request, 1), fragment, &error)) {
    reply_lecture_error (msg, error);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
whip_delete (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRoom *room = find_room (signalling, request);
  g_autoptr (GError) error = NULL;
  KkLecture *lecture;

  if (room == NULL || !check_host (signalling, request, room))
    return;
  lecture = get_lecture (signalling, room);
  if (!kk_lecture_unpublish (lecture, kk_http_request_get_param (request, 1),
          &error)) {
    reply_lecture_error (msg, error);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
}

/* ---- WHEP ---- */

/* A viewer on this machine (a browser or kringkast-load beside the demo)
 * may only be able to use loopback; a reverse proxy on this machine makes
 * every viewer look local, and then loopback candidates simply lose to
 * the others' checks. */
static gboolean
from_loopback (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return G_IS_INET_SOCKET_ADDRESS (remote)
      && g_inet_address_get_is_loopback (g_inet_socket_address_get_address
      (G_INET_SOCKET_ADDRESS (remote)));
}

/* The request's viewer offer, or NULL after replying 415 or 400. */
static KkViewerOffer *
read_viewer_offer (KkHttpRequest *request)
{
  return read_body (request, SDP_TYPE, parse_viewer_offer);
}

static void
whep_post (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRoom *room = find_room (signalling, request);
  g_autoptr (GError) error = NULL;
  g_autoptr (KkViewerOffer) offer = NULL;
  g_autofree char *party_id = NULL;
  g_autofree char *resource_id = NULL;
  g_autofree char *answer = NULL;
  KkLecture *lecture;
  gint64 wait;
  gboolean chosen;
  KkQuality quality;
  KkLayer start;

  if (room == NULL || !check_viewer (signalling, request, room, &party_id))
    return;
  /* The choice comes with the offer, so that a screen on save data or
   * sound only is never sent the full layer's fast start first. */
  if (!kk_signalling_parse_quality_query (g_uri_get_query (
              soup_server_message_get_uri (msg)), &chosen, &quality, &start,
          &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if ((offer = read_viewer_offer (request)) == NULL)
    return;
  lecture = get_lecture (signalling, room);
  wait = kk_lecture_party_wait_us (lecture, party_id);
  if (wait > 0) {
    kk_http_request_reply_limited (request, "whep-resources", wait,
        "this token already holds " G_STRINGIFY (
            KK_LECTURE_MAX_VIEWERS_PER_PARTY) " connections to the room; "
        "end one (WHEP DELETE) or wait until an unused one expires");
    return;
  }
  answer = kk_lecture_add_viewer (lecture, offer, from_loopback (msg),
      party_id, &resource_id, &error);
  if (answer == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  /* Queued on the viewer's worker behind the viewer itself, long before
   * its DTLS handshake ends and its first packet goes. */
  if (chosen)
    kk_viewer_set_quality (kk_lecture_get_viewer (lecture, resource_id),
        quality, start);
  reply_created (msg, "whep", kk_room_get_id (room), resource_id, answer);
  kk_ice_servers_add_links (signalling->ice_servers,
      soup_server_message_get_response_headers (msg), party_id);
}

/* The viewer's own token ends its resource; nobody else's does. */
static KkLecture *
check_viewer_resource (KkSignalling *signalling, KkHttpRequest *request)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRoom *room = find_room (signalling, request);
  g_autofree char *party_id = NULL;
  KkLecture *lecture;
  const char *owner;

  if (room == NULL || !check_viewer (signalling, request, room, &party_id))
    return NULL;
  lecture = get_lecture (signalling, room);
  owner = kk_lecture_get_viewer_party (lecture,
      kk_http_request_get_param (request, 1));
  if (owner == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such viewer");
    return NULL;
  }
  if (g_strcmp0 (owner, party_id) != 0) {
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "this viewer belongs to another participant");
    return NULL;
  }
  return lecture;
}

#define QUALITY_SHAPE "the body must be {\"quality\": \"auto\", \"best\", " \
    "\"save-data\" or \"sound-only\", \"start\": \"full\" or \"light\" " \
    "(optional)}"

/* The string member @name of @object, or NULL with @error if it is there
 * and not a string (or missing and @required). */
static gboolean
get_string_member (JsonObject *object, const char *name, gboolean required,
    const char **value, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *value = NULL;
  if (node == NULL && !required)
    return TRUE;
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        QUALITY_SHAPE);
    return FALSE;
  }
  *value = json_node_get_string (node);
  return TRUE;
}

/* The quality named @name and the layer named @start_name (nullable:
 * full), or FALSE with @error. */
static gboolean
read_choice (const char *name, const char *start_name, KkQuality *quality,
    KkLayer *start, GError **error)
{
  if (!kk_quality_from_string (name, quality)) {
    g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "unknown quality \"%s\": auto, best, save-data or sound-only", name);
    return FALSE;
  }
  if (start_name == NULL || g_strcmp0 (start_name, "full") == 0) {
    *start = KK_LAYER_FULL;
  } else if (g_strcmp0 (start_name, "light") == 0) {
    *start = KK_LAYER_LIGHT;
  } else {
    g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "unknown start \"%s\": full or light", start_name);
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_signalling_parse_quality (const char *data, gsize len, KkQuality *quality,
    KkLayer *start, GError **error)
{
  static const char *const allowed[] = { "quality", "start", NULL };
  g_autoptr (JsonObject) object = kk_json_parse_object (data, len, allowed,
      error);
  const char *name, *start_name;

  if (object == NULL
      || !get_string_member (object, "quality", TRUE, &name, error)
      || !get_string_member (object, "start", FALSE, &start_name, error))
    return FALSE;
  return read_choice (name, start_name, quality, start, error);
}

gboolean
kk_signalling_parse_quality_query (const char *query, gboolean *chosen,
    KkQuality *quality, KkLayer *start, GError **error)
{
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GError) uri_error = NULL;
  const char *name, *start_name;

  *chosen = FALSE;
  if (query == NULL)
    return TRUE;
  params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, &uri_error);
  if (params == NULL) {
    g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "the URL's query cannot be read: %s", uri_error->message);
    return FALSE;
  }
  name = g_hash_table_lookup (params, "quality");
  start_name = g_hash_table_lookup (params, "start");
  if (name == NULL && start_name == NULL)
    return TRUE;
  if (name == NULL) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "start= needs a quality= beside it");
    return FALSE;
  }
  if (!read_choice (name, start_name, quality, start, error))
    return FALSE;
  *chosen = TRUE;
  return TRUE;
}

/* The nurse's choice of quality (her page keeps it per screen and sends
 * it each time it connects), with the layer the screen had last time
 * when that was the light one: it starts there. */
static void
set_quality (KkHttpRequest *request, KkLecture *lecture)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GBytes) body = kk_http_request_get_body (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  KkQuality quality;
  KkLayer start;
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  if (!kk_signalling_parse_quality (data, len, &quality, &start, &error)) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  kk_viewer_set_quality (kk_lecture_get_viewer (lecture,
          kk_http_request_get_param (request, 1)), quality, start);
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "quality");
  json_builder_add_string_value (builder, kk_quality_to_string (quality));
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static gboolean
is_json (SoupServerMessage *msg)
{
  const char *type = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), NULL);

  return type != NULL && g_ascii_strcasecmp (type, "application/json") == 0;
}

static void
whep_patch (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (KkTrickleFragment) fragment = NULL;
  KkLecture *lecture = check_viewer_resource (signalling, request);

  if (lecture == NULL)
    return;
  if (is_json (msg)) {
    set_quality (request, lecture);
    return;
  }
  if ((fragment = read_fragment (request)) == NULL)
    return;
  /* Parsed only to refuse malformed bodies: an ICE-lite agent learns the
   * viewer's addresses from its checks. */
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* The page's report of its relayProtocol, kept for the statistics. */
static void
whep_put_relay_protocol (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkLecture *lecture = check_viewer_resource (signalling, request);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  KkRelayProtocol protocol;
  gsize len;
  const char *data;

  if (lecture == NULL || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  data = g_bytes_get_data (body, &len);
  value = kk_json_parse_one_string (data, len, "relay_protocol",
      "the body must be {\"relay_protocol\": \"udp\" | \"tcp\" | \"tls\"}",
      &error);
  if (value == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  protocol = kk_relay_protocol_from_string (value);
  if (protocol == KK_RELAY_PROTOCOL_UNKNOWN) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "relay_protocol must be \"udp\", \"tcp\" or \"tls\"");
    return;
  }
  kk_lecture_set_viewer_relay_protocol (lecture,
      kk_http_request_get_param (request, 1), protocol);
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* What the relay knows of this viewer's connection, from its receiver
 * reports and our counters: the nurse's page shows it as quality. */
static void
whep_get (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkLecture *lecture = check_viewer_resource (signalling, request);
  g_autoptr (JsonBuilder) builder = NULL;
  KkViewerStats stats;
  KkViewer *viewer;

  if (lecture == NULL)
    return;
  viewer = kk_lecture_get_viewer (lecture, kk_http_request_get_param (request, 1));
  kk_viewer_get_stats (viewer, &stats);
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "connected");
  json_builder_add_boolean_value (builder, stats.connected);
  json_builder_set_member_name (builder, "transport");
  json_builder_add_string_value (builder,
      stats.turn ? "turn" : stats.tcp ? "tcp" : "udp");
  /* What the browser said of its way to the TURN server; only it knows
   * (the relay sees the server's UDP), so only on TURN, and null until
   * the page has told. */
  json_builder_set_member_name (builder, "relay_protocol");
  if (stats.turn && stats.relay_protocol != KK_RELAY_PROTOCOL_UNKNOWN)
    json_builder_add_string_value (builder,
        kk_relay_protocol_to_string (stats.relay_protocol));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "srtp_profile");
  json_builder_add_string_value (builder, stats.srtp_profile);
  json_builder_set_member_name (builder, "packets_sent");
  json_builder_add_int_value (builder, stats.packets_sent);
  json_builder_set_member_name (builder, "bytes_sent");
  json_builder_add_int_value (builder, stats.bytes_sent);
  json_builder_set_member_name (builder, "nacks_received");
  json_builder_add_int_value (builder, stats.nacks_received);
  json_builder_set_member_name (builder, "retransmissions");
  json_builder_add_int_value (builder, stats.retransmissions);
  json_builder_set_member_name (builder, "plis_received");
  json_builder_add_int_value (builder, stats.plis_received);
  json_builder_set_member_name (builder, "fraction_lost");
  json_builder_add_double_value (builder, stats.fraction_lost / 256.0);
  json_builder_set_member_name (builder, "cumulative_lost");
  json_builder_add_int_value (builder, stats.cumulative_lost);
  json_builder_set_member_name (builder, "jitter_ms");
  json_builder_add_int_value (builder, stats.jitter_ms);
  json_builder_set_member_name (builder, "rtt_ms");
  if (stats.rtt_ms >= 0)
    json_builder_add_int_value (builder, stats.rtt_ms);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "layer");
  json_builder_add_string_value (builder, kk_layer_to_string (stats.layer));
  json_builder_set_member_name (builder, "layer_switches");
  json_builder_add_int_value (builder, stats.layer_switches);
  json_builder_set_member_name (builder, "quality");
  json_builder_add_string_value (builder, kk_quality_to_string (stats.quality));
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
whep_delete (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GError) error = NULL;
  KkLecture *lecture = check_viewer_resource (signalling, request);

  if (lecture == NULL)
    return;
  if (!kk_lecture_remove_viewer (lecture, kk_http_request_get_param (request, 1),
          &error)) {
    reply_lecture_error (msg, error);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
}

/* The identity whose TURN credentials the caller may have in @room: its
 * host or one of its participants. NULL after replying 401 or 403. */
static char *
caller_identity (KkSignalling *signalling, KkHttpRequest *request,
    KkRoom *room)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  char *party_id = NULL;
  KkAuthRole role;

  if (!kk_auth_require_known (signalling->auth, msg, &role))
    return NULL;
  if (role == KK_AUTH_HOST) {
    if (!check_host (signalling, request, room))
      return NULL;
    return host_identity (kk_room_get_id (room));
  }
  if (!kk_auth_require_participant (signalling->auth, msg,
          kk_room_get_id (room), FALSE,
          "a valid participant or host token is required", &party_id, NULL))
    return NULL;
  return party_id;
}

/* The page's RTCIceServer list, fetched before it makes its offer. */
static void
ice_servers_get (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkRoom *room = find_room (signalling, request);
  g_autofree char *identity = NULL;
  g_autoptr (JsonBuilder) builder = NULL;

  if (room == NULL
      || (identity = caller_identity (signalling, request, room)) == NULL)
    return;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-store");
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  kk_ice_servers_add_json (signalling->ice_servers, builder, identity);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

/* ---- the network check ---- */

/* Takes one from the caller's bucket; FALSE after replying 429. Programs
 * on this machine (tests, benchmarks) are not limited. */
static gboolean
take_check_slot (KkSignalling *signalling, KkHttpRequest *request)
{
  return kk_http_request_take_client_slot (request, signalling->check_limit,
      "network-check",
      "too many network checks from this address; wait a little");
}

static void
network_check_get (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *const *addresses;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autofree char *client = NULL;
  g_autofree char *client_key = NULL;

  if (!take_check_slot (signalling, request))
    return;
  client = kk_http_get_client_address (msg);
  client_key = kk_rate_limit_client_key (client);
  addresses = kk_network_check_get_addresses (signalling->network_check);
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "media_port");
  json_builder_add_int_value (builder,
      kk_network_check_get_media_port (signalling->network_check));
  json_builder_set_member_name (builder, "addresses");
  json_builder_begin_array (builder);
  for (guint i = 0; addresses[i] != NULL; i++)
    json_builder_add_string_value (builder, addresses[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "seconds");
  json_builder_add_int_value (builder, KK_NETWORK_CHECK_SECONDS);
  /* Short-lived, and named after the checker's address, so that
   * coturn's user-quota counts an address's checks together. */
  kk_ice_servers_add_check_json (signalling->ice_servers, builder,
      client_key);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
network_check_post (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (KkViewerOffer) offer = NULL;
  g_autofree char *resource_id = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *client = NULL;
  g_autofree char *client_key = NULL;

  if ((offer = read_viewer_offer (request)) == NULL
      || !take_check_slot (signalling, request))
    return;
  /* Programs on this machine are spared the per-address limit, as they
   * are the rate limit. */
  if (!kk_http_is_local_client (msg)) {
    client = kk_http_get_client_address (msg);
    client_key = kk_rate_limit_client_key (client);
  }
  answer = kk_network_check_add_viewer (signalling->network_check, offer,
      from_loopback (msg), client_key, &resource_id, &error);
  if (answer == NULL) {
    if (g_error_matches (error, KK_NETWORK_CHECK_ERROR,
            KK_NETWORK_CHECK_ERROR_BUSY))
      kk_http_request_reply_limited (request, "network-check-busy",
          (gint64) KK_NETWORK_CHECK_SECONDS * G_USEC_PER_SEC, error->message);
    else if (error->domain == KK_NETWORK_CHECK_ERROR)
      kk_http_reply_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s",
          error->message);
    else
      kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  reply_created (msg, "network-check", "whep", resource_id, answer);
}

static void
network_check_delete (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);

  if (!kk_network_check_remove_viewer (signalling->network_check,
          kk_http_request_get_param (request, 0))) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such check");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
}

static void
preflight (KkHttpRequest *request, gpointer user_data)
{
  KkSignalling *signalling = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  KkRoom *room;

  /* Only a caller that shows the room's token learns its TURN servers; a
   * CORS preflight (no Authorization) is answered as before. */
  if (soup_message_headers_get_one (
          soup_server_message_get_request_headers (msg), "Authorization")
      != NULL) {
    g_autofree char *identity = NULL;

    room = find_room (signalling, request);
    if (room == NULL
        || (identity = caller_identity (signalling, request, room)) == NULL)
      return;
    kk_ice_servers_add_links (signalling->ice_servers, headers, identity);
  }
  add_cors (msg);
  soup_message_headers_replace (headers, "Access-Control-Allow-Methods",
      "POST, PATCH, DELETE, OPTIONS");
  soup_message_headers_replace (headers, "Access-Control-Allow-Headers",
      "Authorization, Content-Type, If-Match");
  soup_message_headers_replace (headers, "Access-Control-Max-Age", "86400");
  soup_message_headers_replace (headers, "Accept-Post", SDP_TYPE);
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

gboolean
kk_signalling_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkIceServers *ice_servers,
    KkNetworkCheck *network_check, KkSignallingLookupFunc lookup,
    gpointer lookup_data, GError **error)
{
  KkSignalling *signalling;

  g_return_val_if_fail (KK_IS_AUTH (auth), FALSE);
  g_return_val_if_fail (lookup != NULL, FALSE);

  signalling = g_new0 (KkSignalling, 1);
  signalling->auth = g_object_ref (auth);
  signalling->registry = g_object_ref (registry);
  signalling->ice_servers = g_object_ref (ice_servers);
  signalling->network_check = g_object_ref (network_check);
  signalling->check_limit = kk_rate_limit_new (KK_CHECK_BURST,
      (gint64) KK_CHECK_INTERVAL_S * G_USEC_PER_SEC, KK_CHECK_MAX_CLIENTS);
  signalling->lookup = lookup;
  signalling->lookup_data = lookup_data;
  kk_http_server_keep (server, signalling, (GDestroyNotify) signalling_free);

  kk_http_add_route (server, "POST", "/whip/{room}", whip_post, signalling);
  kk_http_add_route (server, "PATCH", "/whip/{room}/{id}", whip_patch,
      signalling);
  kk_http_add_route (server, "DELETE", "/whip/{room}/{id}", whip_delete,
      signalling);
  kk_http_add_route (server, "POST", "/whep/{room}", whep_post, signalling);
  kk_http_add_route (server, "PATCH", "/whep/{room}/{id}", whep_patch,
      signalling);
  kk_http_add_route (server, "GET", "/whep/{room}/{id}", whep_get,
      signalling);
  kk_http_add_route (server, "DELETE", "/whep/{room}/{id}", whep_delete,
      signalling);
  kk_http_add_route (server, "PUT", "/whep/{room}/{id}/relay-protocol",
      whep_put_relay_protocol, signalling);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/ice-servers",
      ice_servers_get, signalling);
  kk_http_add_route (server, "GET", "/api/network-check", network_check_get,
      signalling);
  kk_http_add_route (server, "POST", "/network-check/whep", network_check_post,
      signalling);
  kk_http_add_route (server, "DELETE", "/network-check/whep/{id}",
      network_check_delete, signalling);
  kk_http_add_route (server, "OPTIONS", "/whip/{room}", preflight, signalling);
  kk_http_add_route (server, "OPTIONS", "/whip/{room}/{id}", preflight,
      signalling);
  kk_http_add_route (server, "OPTIONS", "/whep/{room}", preflight, signalling);
  kk_http_add_route (server, "OPTIONS", "/whep/{room}/{id}", preflight,
      signalling);
  return TRUE;
}
