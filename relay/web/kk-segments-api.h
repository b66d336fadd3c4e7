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
 *
 * Limits per token. Every request costs the relay work (the token's
 * check, the playlist's JSON), so a page that polls far too often (a
 * bug, a reload loop, a script) or a proxy that retries in a loop is
 * answered 429 with Retry-After (whole seconds) beyond a budget no
 * playing page comes near: the playlist KK_SEGMENTS_API_PLAYLIST_BURST
 * times at once, then once per KK_SEGMENTS_API_PLAYLIST_INTERVAL_US (a
 * page polls once per target duration: four of the token's screens may
 * poll side by side); segments (the init included)
 * KK_SEGMENTS_API_SEGMENT_BURST at once (a page catching up fetches at
 * most the window), then once per KK_SEGMENTS_API_SEGMENT_INTERVAL_US.
 * A refusal loses nothing: the next request in time is answered as
 * ever. Refusals are counted in kringkast_http_rejected_total under
 * reason "https-playlist" and "https-segments".
 */
#pragma once

#include <libsoup/soup.h>
#include "kk-auth.h"
#include "kk-http.h"
#include "kk-lecture.h"
#include "kk-segments.h"

G_BEGIN_DECLS

/* A segment is a second or two of media: a reader that needs longer
 * than this for one cannot follow the lecture anyway. */
#define KK_SEGMENTS_API_SEND_TIMEOUT_S 20

/* The limits per token (above). */
#define KK_SEGMENTS_API_PLAYLIST_BURST 8
#define KK_SEGMENTS_API_PLAYLIST_INTERVAL_US (KK_SEGMENTER_TARGET_MS * 1000 / 4)
#define KK_SEGMENTS_API_SEGMENT_BURST (2 * KK_SEGMENTER_MAX_SEGMENTS)
#define KK_SEGMENTS_API_SEGMENT_INTERVAL_US (KK_SEGMENTER_TARGET_MS * 1000 / 4)
/* Tokens whose budgets are kept (kk-ratelimit.h: past it, the one
 * closest to a full budget is forgotten, never anyone refused). */
#define KK_SEGMENTS_API_MAX_CLIENTS 16384

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

/**
 * kk_segments_api_take_slot:
 * @limit: a limiter of KK_SEGMENTS_API_PLAYLIST_* or _SEGMENT_*
 * @key: whose budget (a participant, a network checker)
 * @reason: (a static string) the refusal's label in
 *   kringkast_http_rejected_total
 * @message: the 429's error text
 *
 * Takes one from @key's budget in @limit.
 *
 * Returns: TRUE if there was one; else FALSE after replying 429 with
 *   Retry-After.
 */
gboolean kk_segments_api_take_slot (KkHttpRequest *request,
    KkRateLimit *limit, const char *key, const char *reason,
    const char *message);

G_END_DECLS
