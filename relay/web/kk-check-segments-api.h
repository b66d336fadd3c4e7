/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-check-segments-api: the network check's HTTPS path, for the check
 * page (/check) to measure the lecture over plain HTTP(S) segments from
 * a workplace that lets nothing else out:
 *
 *   POST /network-check/segments              a checker: 201
 *        {"id","playlist","seconds"}, Location: the playlist
 *   GET  /network-check/segments/{id}         its playlist (the JSON of
 *                                              kk-segments-api.h)
 *   GET  /network-check/segments/{id}/{name}  the init segment or a segment
 *
 * Like the check's WHEP, nobody needs a token (the page is sent to a
 * workplace's IT), nothing joins a course or counts as attendance, a
 * checker's id lasts KK_NETWORK_CHECK_SECONDS and at most
 * KK_NETWORK_CHECK_MAX_VIEWERS run at once (429 beyond); POSTs are
 * limited per address (KK_CHECK_SEGMENTS_BURST, then one per
 * KK_CHECK_SEGMENTS_INTERVAL_S: one check takes one), programs on this
 * machine excepted. An unknown or expired id, or an unknown segment, is
 * 404. The segments' replies are bounded like a lecture's
 * (KK_SEGMENTS_API_SEND_TIMEOUT_S). A checker's playlist and segments
 * have a lecture token's budgets (kk-segments-api.h), kept per checker
 * id: an id is had only from a POST, which is limited per address, so
 * one address's requests are bounded by both; and the checkers of one
 * workplace's address (its IT testing several screens at once) do not
 * share one budget. Refusals are counted under reason
 * "network-check-https-playlist" and "network-check-https-segments".
 */
#pragma once

#include <libsoup/soup.h>
#include "kk-check-segments.h"

G_BEGIN_DECLS

#define KK_CHECK_SEGMENTS_BURST 5
#define KK_CHECK_SEGMENTS_INTERVAL_S 12
#define KK_CHECK_SEGMENTS_MAX_CLIENTS 4096

/**
 * kk_check_segments_api_register:
 * @segments: (transfer none): must outlive @server's routes
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 */
gboolean kk_check_segments_api_register (SoupServer *server,
    KkCheckSegments *segments, GError **error);

G_END_DECLS
