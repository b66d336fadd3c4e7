/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-check-segments-api: the routes of the network check's HTTPS path;
 * see kk-check-segments-api.h. The playlist and the segments are served
 * by kk-segments-api's own replies, so a check measures exactly what a
 * nurse's page would fetch.
 */
#include "kk-check-segments-api.h"

#include "kk-http.h"
#include "kk-segments-api.h"

typedef struct {
  KkCheckSegments *segments;
  KkRateLimit *limit;            /* POSTs per address */
  KkRateLimit *playlist_limit;   /* per checker */
  KkRateLimit *segment_limit;    /* per checker */
} KkCheckSegmentsApi;

static void
api_free (KkCheckSegmentsApi *api)
{
  kk_rate_limit_free (api->limit);
  kk_rate_limit_free (api->playlist_limit);
  kk_rate_limit_free (api->segment_limit);
  g_free (api);
}

static void
post_checker (KkHttpRequest *request, gpointer user_data)
{
  KkCheckSegmentsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autofree char *id = NULL;
  g_autofree char *playlist = NULL;

  if (!kk_http_request_take_client_slot (request, api->limit,
          "network-check-https",
          "too many network checks from this address; wait a little"))
    return;
  id = kk_check_segments_start (api->segments, &error);
  if (id == NULL) {
    if (g_error_matches (error, KK_NETWORK_CHECK_ERROR,
            KK_NETWORK_CHECK_ERROR_BUSY))
      kk_http_request_reply_limited (request, "network-check-busy",
          (gint64) KK_NETWORK_CHECK_SECONDS * G_USEC_PER_SEC, error->message);
    else
      kk_http_reply_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s",
          error->message);
    return;
  }
  playlist = g_strdup_printf ("/network-check/segments/%s", id);
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "id", id);
  kk_http_json_add_string (builder, "playlist", playlist);
  json_builder_set_member_name (builder, "seconds");
  json_builder_add_int_value (builder, KK_NETWORK_CHECK_SECONDS);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_CREATED, builder);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Location", playlist);
}

/* The segmenter of the request's checker; replies 404 and returns NULL
 * for an unknown or expired one. */
static KkSegmenter *
require_checker (KkCheckSegmentsApi *api, KkHttpRequest *request)
{
  const char *id = kk_http_request_get_param (request, 0);
  KkSegmenter *segmenter = kk_check_segments_lookup (api->segments, id);

  if (segmenter == NULL)
    kk_http_reply_error (kk_http_request_get_message (request),
        SOUP_STATUS_NOT_FOUND, "no network check %s (any more)", id);
  return segmenter;
}

static void
get_playlist (KkHttpRequest *request, gpointer user_data)
{
  KkCheckSegmentsApi *api = user_data;
  KkSegmenter *segmenter = require_checker (api, request);
  g_autofree char *prefix = NULL;

  if (segmenter == NULL)
    return;
  if (!kk_segments_api_take_slot (request, api->playlist_limit,
          kk_http_request_get_param (request, 0),
          "network-check-https-playlist", "too many playlist requests for "
          "this check: poll once per target_duration"))
    return;
  prefix = g_strdup_printf ("/network-check/segments/%s",
      kk_http_request_get_param (request, 0));
  kk_segments_api_reply_playlist (kk_http_request_get_message (request),
      segmenter, prefix, TRUE, FALSE);
}

static void
get_segment (KkHttpRequest *request, gpointer user_data)
{
  KkCheckSegmentsApi *api = user_data;
  KkSegmenter *segmenter = require_checker (api, request);
  g_autoptr (KkSegment) segment = NULL;

  if (segmenter == NULL
      || !kk_segments_api_take_slot (request, api->segment_limit,
          kk_http_request_get_param (request, 0),
          "network-check-https-segments", "too many segment requests for "
          "this check: fetch each segment once"))
    return;
  /* A check's segment counts for nothing: no attendance. */
  segment = kk_segments_api_reply_segment (kk_http_request_get_message
        (request), segmenter, kk_http_request_get_param (request, 1));
}

gboolean
kk_check_segments_api_register (SoupServer *server,
    KkCheckSegments *segments, GError **error)
{
  KkCheckSegmentsApi *api = g_new0 (KkCheckSegmentsApi, 1);

  api->segments = segments;
  api->limit = kk_rate_limit_new (KK_CHECK_SEGMENTS_BURST,
      (gint64) KK_CHECK_SEGMENTS_INTERVAL_S * G_USEC_PER_SEC,
      KK_CHECK_SEGMENTS_MAX_CLIENTS);
  api->playlist_limit = kk_rate_limit_new (KK_SEGMENTS_API_PLAYLIST_BURST,
      KK_SEGMENTS_API_PLAYLIST_INTERVAL_US, KK_CHECK_SEGMENTS_MAX_CLIENTS);
  api->segment_limit = kk_rate_limit_new (KK_SEGMENTS_API_SEGMENT_BURST,
      KK_SEGMENTS_API_SEGMENT_INTERVAL_US, KK_CHECK_SEGMENTS_MAX_CLIENTS);
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);

  kk_http_add_route (server, "POST", "/network-check/segments",
      post_checker, api);
  kk_http_add_route (server, "GET", "/network-check/segments/{id}",
      get_playlist, api);
  kk_http_add_route (server, "GET", "/network-check/segments/{id}/{name}",
      get_segment, api);
  return TRUE;
}
