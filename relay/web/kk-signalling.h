/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-signalling: the WHIP and WHEP routes (the routes and their statuses
 * are listed at the top of kk-signalling.c). Each acts on the lecture of
 * its room, which the caller's lookup function finds: the lectures are
 * made and kept above this layer (relay/kk-relay.c).
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-ice-servers.h"
#include "kk-lecture.h"
#include "kk-network-check.h"
#include "kk-room.h"

G_BEGIN_DECLS

/* Returns: (transfer none) (nullable): the lecture of @room_id. */
typedef KkLecture *(*KkSignallingLookupFunc) (const char *room_id,
    gpointer user_data);

/**
 * kk_signalling_register:
 * @auth: (transfer none): a reference is kept; hosts publish, participants
 *   watch
 * @registry: (transfer none): a reference is kept; for rooms
 * @ice_servers: (transfer none): a reference is kept; the TURN servers
 *   offered to hosts and viewers (none when it is empty)
 * @network_check: (transfer none): a reference is kept; the test pattern
 *   the network check page receives
 * @lookup: finds a room's lecture
 * @lookup_data: for @lookup; must outlive @server's routes
 *
 * Adds the WHIP and WHEP routes to @server (the route module shape of
 * kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_signalling_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkIceServers *ice_servers,
    KkNetworkCheck *network_check, KkSignallingLookupFunc lookup,
    gpointer lookup_data, GError **error);

/* Parses a viewer's choice of quality, the body of a WHEP PATCH in
 * application/json: {"quality": "auto" | "best" | "save-data" |
 * "sound-only", "start": "full" | "light"}, "start" optional (full).
 * FALSE with @error (KK_JSON_ERROR) for anything else. */
gboolean kk_signalling_parse_quality (const char *data, gsize len,
    KkQuality *quality, KkLayer *start, GError **error);

/* Parses the same choice made with the offer, from the query of a WHEP
 * POST's URL: quality=auto|best|save-data|sound-only and, optionally,
 * start=full|light; other parameters are left to whoever added them.
 * @query (nullable): the URL's query, undecoded. *@chosen is FALSE when
 * it names no quality (nor start): the viewer then starts automatic, on
 * the full layer. FALSE with @error (KK_JSON_ERROR, as for the PATCH's
 * body) for an unknown quality or start, a start without a quality, or
 * a query that cannot be decoded. */
gboolean kk_signalling_parse_quality_query (const char *query,
    gboolean *chosen, KkQuality *quality, KkLayer *start, GError **error);

G_END_DECLS
