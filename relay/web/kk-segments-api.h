/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-segments-api: the lecture over plain HTTPS, for the nurse's page
 * when no WebRTC path connects (a workplace that lets nothing out but
 * HTTP(S), often through a proxy):
 *
 *   GET /api/rooms/{room}/segments          the playlist (JSON)
 *   GET /api/rooms/{room}/segments/{name}   the init segment or a segment
 *
 * Both need the room's participant token (the join's token) as a bearer
 * token: none or an unknown one is 401, another room's 403; an unknown
 * room, or a segment that does not exist (any more), is 404. The playlist
 * is never cached (no-store); a segment is immutable, and private to the
 * token that fetched it, so shared proxies do not keep it. Fetching a
 * segment counts as watching (kk-segments.h). A segment's reply shares
 * the segment's bytes (no copy per reader) and must be written within
 * KK_SEGMENTS_API_SEND_TIMEOUT_S, after which the guard shuts the
 * connection: a slow reader holds neither memory nor a connection long.
 */
#pragma once

#include <libsoup/soup.h>
#include "kk-auth.h"
#include "kk-lecture.h"
#include "kk-segments.h"

G_BEGIN_DECLS

/* A segment is a second or two of media: a reader that needs longer
 * than this for one cannot follow the lecture anyway. */
#define KK_SEGMENTS_API_SEND_TIMEOUT_S 20

/* Returns: (transfer none) (nullable): the lecture of @room_id. */
typedef KkLecture *(*KkSegmentsLookupFunc) (const char *room_id,
    gpointer user_data);

/**
 * kk_segments_api_register:
 * @auth: (transfer none): a reference is kept
 * @segments: (transfer none): must outlive @server's routes
 * @lookup: finds a room's lecture
 * @lookup_data: for @lookup; must outlive @server's routes
 *
 * Adds the segment routes to @server (the route module shape of
 * kk-http.h).
 */
gboolean kk_segments_api_register (SoupServer *server, KkAuth *auth,
    KkSegments *segments, KkSegmentsLookupFunc lookup, gpointer lookup_data,
    GError **error);

/**
 * kk_segments_api_reply_playlist:
 * @segmenter: (transfer none): whose window is listed
 * @url_prefix: the segments' URLs are "@url_prefix/<name>"
 * @live: whether the source is live now
 * @start_requested: whether a keyframe was asked of the publisher for
 *   this request's start point (kk_segments_want_start_point ())
 *
 * Replies with @segmenter's playlist (the JSON above). Also the network
 * check's HTTPS path (kk-check-segments-api.h) lists its segments so.
 */
void kk_segments_api_reply_playlist (SoupServerMessage *msg,
    KkSegmenter *segmenter, const char *url_prefix, gboolean live,
    gboolean start_requested);

/**
 * kk_segments_api_reply_segment:
 * @segmenter: (transfer none) (nullable): NULL when none runs (404)
 * @name: the last part of the segment's URL
 *
 * Replies with @segmenter's segment @name, or 404.
 *
 * Returns: (transfer full) (nullable): the media segment sent, for
 * counting it as watched; NULL for the init segment, a HEAD or a 404.
 */
KkSegment *kk_segments_api_reply_segment (SoupServerMessage *msg,
    KkSegmenter *segmenter, const char *name);

G_END_DECLS
