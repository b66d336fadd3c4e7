/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-presence-api: the routes of kk-presence, the presence checks of a
 * live session (room ids as in /api/rooms/{room}):
 *
 *   POST /api/rooms/{room}/attendance-code         host: reveal → {"code"}
 *   GET  /api/rooms/{room}/attendance-code         host: {"code" or null}
 *   POST /api/rooms/{room}/attendance-code/answer  viewer: {"code"} → 204,
 *                                                  422 wrong, 429 too many
 *                                                  wrong, 409 none revealed
 *   GET  /api/rooms/{room}/prompt[?wait=S]         viewer: the open prompt
 *                                                  → 200 {"id", ...}, or
 *                                                  204; waits up to S
 *                                                  (<= 30) s for one
 *   POST /api/rooms/{room}/prompt/{id}             viewer: answer → 204,
 *                                                  410 after the window
 *   POST /api/rooms/{room}/prompt                  host: a prompt now
 *
 * "host" is the room's host token; "viewer" a screen's participant token
 * or a check-in receipt of that room (kk-auth). Main thread only.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-presence.h"
#include "kk-room.h"

G_BEGIN_DECLS

/**
 * kk_presence_api_register:
 * @auth: (transfer none): a reference is kept; it must know the roster,
 *   for receipts
 * @registry: (transfer none): a reference is kept; for rooms
 * @presence: (transfer none): a reference is kept
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_presence_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkPresence *presence, GError **error);

G_END_DECLS
