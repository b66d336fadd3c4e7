/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-segments-api: the routes of the HTTPS segments; see
 * kk-segments-api.h.
 *
 * Segment names carry the segmenter's id ("<id>-init.<ext>",
 * "<id>-<seq>.<ext>", ext "webm" or "mp4" as the codec has it): a
 * segmenter stopped and started again (nobody
 * watched for a while, or its pipeline failed) numbers from 0 again, and
 * a URL of the old one must be a 404, never another segment.
 *
 * The playlist gives each segment's media time and, in live_edge, the
 * media time of "now" on the relay's clock, so the page can tell how far
 * behind live it plays and catch up; and whether each segment starts on
 * a keyframe (where a player can start). "?start=1" on the playlist says
 * the player needs a start point (kk_segments_want_start_point (), rate
 * limited per token); "start_requested" in the reply says whether a
 * keyframe was asked of the publisher for it (not when the feed folded
 * the request into one it had just made).
 */
#include "kk-segments-api.h"

#include <stdlib.h>

#include "kk-http-guard.h"

/* The routes' data, kept by the server. */
typedef struct {
  KkAuth *auth;
  KkSegments *segments;
  KkSegmentsLookupFunc lookup;
  gpointer lookup_data;
  KkRateLimit *playlist_limit;   /* per participant */
  KkRateLimit *segment_limit;    /* per participant */
} KkSegmentsApi;

static void
api_free (KkSegmentsApi *api)
{
  g_clear_object (&api->auth);
  kk_rate_limit_free (api->playlist_limit);
  kk_rate_limit_free (api->segment_limit);
  g_free (api);
}

gboolean
kk_segments_api_take_slot (KkHttpRequest *request, KkRateLimit *limit,
    const char *key, const char *reason, const char *message)
{
  gint64 wait = kk_rate_limit_take (limit, key, g_get_monotonic_time ());

  if (wait == 0)
    return TRUE;
  kk_http_request_reply_limited (request, reason, wait, message);
  return FALSE;
}

/* The lecture of the request's room, for its participant; replies 404,
 * 401 or 403 and returns NULL otherwise. */
static KkLecture *
require_viewer (KkSegmentsApi *api, KkHttpRequest *request, char **party_id)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  KkLecture *lecture = api->lookup (room_id, api->lookup_data);

  if (lecture == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no room %s", room_id);
    return NULL;
  }
  if (!kk_auth_require_participant (api->auth, msg, room_id, FALSE,
          "a valid participant token is required (Authorization: Bearer)",
          party_id, NULL))
    return NULL;
  return lecture;
}

void
kk_segments_api_reply_playlist (SoupServerMessage *msg,
    KkSegmenter *segmenter, const char *url_prefix, gboolean live,
    gboolean start_requested)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GBytes) init = NULL;
  g_autofree char *init_url = NULL;
  g_autofree char *mime_type = NULL;
  const char *id;
  const char *extension;
  gint64 zero_wall_us;

  id = kk_segmenter_get_id (segmenter);
  init = kk_segmenter_get_init (segmenter);
  list = kk_segmenter_list (segmenter);
  zero_wall_us = kk_segmenter_get_zero_wall_us (segmenter);
  mime_type = kk_segmenter_get_mime_type (segmenter);
  extension = kk_segmenter_get_extension (segmenter);
  if (init != NULL)
    init_url = g_strdup_printf ("%s/%s-init.%s", url_prefix, id, extension);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "live");
  json_builder_add_boolean_value (builder, live);
  kk_http_json_add_string (builder, "id", id);
  kk_http_json_add_string (builder, "mime_type", mime_type);
  kk_http_json_add_string (builder, "init", init_url);
  json_builder_set_member_name (builder, "target_duration");
  json_builder_add_double_value (builder, KK_SEGMENTER_TARGET_MS / 1000.0);
  json_builder_set_member_name (builder, "start_requested");
  json_builder_add_boolean_value (builder, start_requested);
  json_builder_set_member_name (builder, "live_edge");
  if (zero_wall_us != 0)
    json_builder_add_double_value (builder,
        (g_get_real_time () - zero_wall_us) / 1e6);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "segments");
  json_builder_begin_array (builder);
  for (guint i = 0; init != NULL && i < list->len; i++) {
    KkSegment *segment = list->pdata[i];
    g_autofree char *url = g_strdup_printf (
        "%s/%s-%" G_GUINT64_FORMAT ".%s", url_prefix, id, segment->seq,
        extension);

    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "seq");
    json_builder_add_int_value (builder, segment->seq);
    kk_http_json_add_string (builder, "url", url);
    json_builder_set_member_name (builder, "start");
    json_builder_add_double_value (builder, segment->start_us / 1e6);
    json_builder_set_member_name (builder, "duration");
    json_builder_add_double_value (builder, segment->duration_us / 1e6);
    json_builder_set_member_name (builder, "keyframe");
    json_builder_add_boolean_value (builder, segment->keyframe);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  /* no-store: a proxy must never answer with an old list. */
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

static void
get_playlist (KkHttpRequest *request, gpointer user_data)
{
  KkSegmentsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *party_id = NULL;
  KkLecture *lecture = require_viewer (api, request, &party_id);
  const char *start = kk_http_request_get_query (request, "start");
  g_autofree char *prefix = NULL;
  KkSegmenter *segmenter;
  gboolean start_requested = FALSE;

  if (lecture == NULL)
    return;
  if (start != NULL && !g_str_equal (start, "1")) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "start must be 1 (the player needs a start point) or absent");
    return;
  }
  /* Before any work for it: a refused poll neither keeps the segmenter
   * running nor asks for a start point (the next poll in time does). */
  if (!kk_segments_api_take_slot (request, api->playlist_limit, party_id,
          "https-playlist", "too many playlist requests for this token: "
          "poll once per target_duration"))
    return;
  segmenter = kk_segments_want (api->segments, lecture);
  if (start != NULL)
    start_requested = kk_segments_want_start_point (api->segments, lecture,
        party_id);
  prefix = g_strdup_printf ("/api/rooms/%s/segments", room_id);
  kk_segments_api_reply_playlist (msg, segmenter, prefix,
      kk_lecture_has_live_source (lecture), start_requested);
}

/* "<id>-init.<ext>" (@seq G_MAXUINT64) or "<id>-<seq>.<ext>" of
 * segmenter @id, whose segments have extension @ext; FALSE for anything
 * else. */
static gboolean
parse_name (const char *name, const char *id, const char *ext, guint64 *seq)
{
  gsize id_len = strlen (id);
  const char *rest;
  char *end;

  if (ext == NULL || strncmp (name, id, id_len) != 0 || name[id_len] != '-')
    return FALSE;
  rest = name + id_len + 1;
  if (g_str_has_prefix (rest, "init.") && g_str_equal (rest + 5, ext)) {
    *seq = G_MAXUINT64;
    return TRUE;
  }
  if (!g_ascii_isdigit (rest[0]))
    return FALSE;
  *seq = g_ascii_strtoull (rest, &end, 10);
  return end - rest <= 19 && end[0] == '.' && g_str_equal (end + 1, ext);
}

KkSegment *
kk_segments_api_reply_segment (SoupServerMessage *msg,
    KkSegmenter *segmenter, const char *name)
{
  g_autoptr (KkSegment) segment = NULL;
  g_autoptr (GBytes) bytes = NULL;
  SoupMessageHeaders *headers;
  guint64 seq;

  if (segmenter == NULL
      || !parse_name (name, kk_segmenter_get_id (segmenter),
          kk_segmenter_get_extension (segmenter), &seq)) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no segment %s", name);
    return NULL;
  }
  if (seq == G_MAXUINT64) {
    bytes = kk_segmenter_get_init (segmenter);
  } else {
    segment = kk_segmenter_lookup (segmenter, seq);
    if (segment != NULL)
      bytes = g_bytes_ref (segment->bytes);
  }
  if (bytes == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND,
        "no segment %s (any more)", name);
    return NULL;
  }

  headers = soup_server_message_get_response_headers (msg);
  /* Immutable, but only for this token: private keeps it out of shared
   * caches (a workplace proxy), which would hand it to anyone. */
  soup_message_headers_replace (headers, "Cache-Control",
      "private, max-age=60, immutable");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers,
      kk_segmenter_get_content_type (segmenter), NULL);
  /* The reply shares the segment's bytes: libsoup writes from them. */
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
      bytes);
  kk_http_guard_limit_response (msg, KK_SEGMENTS_API_SEND_TIMEOUT_S);
  if (g_str_equal (soup_server_message_get_method (msg), "HEAD"))
    return NULL;
  return g_steal_pointer (&segment);
}

static void
get_segment (KkHttpRequest *request, gpointer user_data)
{
  KkSegmentsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *name = kk_http_request_get_param (request, 1);
  g_autofree char *party_id = NULL;
  KkLecture *lecture = require_viewer (api, request, &party_id);
  g_autoptr (KkSegment) segment = NULL;

  if (lecture == NULL)
    return;
  if (!kk_segments_api_take_slot (request, api->segment_limit, party_id,
          "https-segments", "too many segment requests for this token: "
          "fetch each segment once"))
    return;
  /* Only a segmenter someone is watching: a segment URL alone does not
   * start one. */
  segment = kk_segments_api_reply_segment (msg,
      kk_segments_peek (api->segments, lecture), name);
  if (segment != NULL)
    kk_segments_note_fetch (api->segments, lecture, party_id, segment);
}

gboolean
kk_segments_api_register (SoupServer *server, KkAuth *auth,
    KkSegments *segments, KkSegmentsLookupFunc lookup, gpointer lookup_data,
    GError **error)
{
  KkSegmentsApi *api = g_new0 (KkSegmentsApi, 1);

  api->auth = g_object_ref (auth);
  api->segments = segments;
  api->lookup = lookup;
  api->lookup_data = lookup_data;
  api->playlist_limit = kk_rate_limit_new (KK_SEGMENTS_API_PLAYLIST_BURST,
      KK_SEGMENTS_API_PLAYLIST_INTERVAL_US, KK_SEGMENTS_API_MAX_CLIENTS);
  api->segment_limit = kk_rate_limit_new (KK_SEGMENTS_API_SEGMENT_BURST,
      KK_SEGMENTS_API_SEGMENT_INTERVAL_US, KK_SEGMENTS_API_MAX_CLIENTS);
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);

  kk_http_add_route (server, "GET", "/api/rooms/{room}/segments",
      get_playlist, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/segments/{name}",
      get_segment, api);
  return TRUE;
}
