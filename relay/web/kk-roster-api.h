/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-roster-api: the routes of kk-roster (who may attend).
 *
 * Coordinator (admin token; 401 without a valid token, 403 for a host or
 * viewer token):
 *
 *   POST /api/rooms/{room}/participants     pre-register people: a JSON
 *                                           list, or text/csv; 201 with
 *                                           each person's invitation link
 *                                           (?format=csv: the same as CSV)
 *   GET  /api/rooms/{room}/participants     everyone in the room
 *   POST /api/participants/{id}/invitation  a new link for a pre-registered
 *                                           person; the old one stops
 *                                           working
 *   DELETE /api/participants/{id}           erase one person on request
 *                                           (see kk_roster_erase_async())
 *   GET|PUT /api/rooms/{room}/access        {"access": "open"|"invitation"}
 *
 * A screen (its viewer token):
 *
 *   GET  /api/rooms/{room}/checkin-code     {"code", "expires_at"} for
 *                                           colleagues to check in with
 *                                           (POST does the same)
 *
 * Anyone with a code (no token; failed attempts limited per address, 429
 * with Retry-After):
 *
 *   POST /api/rooms/{room}/checkin          {"code", "name", "workplace"}
 *                                           → 201 {"participant_id",
 *                                           "receipt", "checked_in_at"}
 *
 * Invitation links are paths, /watch/{room}#token=TOKEN: the relay does
 * not know the name it is reached by behind a proxy, the admin page does.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-roster.h"

G_BEGIN_DECLS

/**
 * kk_roster_api_register:
 * @auth: (transfer none): a reference is kept; who may call
 * @roster: (transfer none): a reference is kept
 * @registry: (transfer none): a reference is kept; for rooms
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_roster_api_register (SoupServer *server, KkAuth *auth,
    KkRoster *roster, KkRoomRegistry *registry, GError **error);

G_END_DECLS
