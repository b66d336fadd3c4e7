/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-api: the JSON control API (rooms, joining, sessions), /healthz and
 * /metrics, with the contract's auth rules:
 *
 *   - the coordinator (admin token) may do everything under /api/;
 *   - rooms are readable by anyone (public fields), the coordinator also
 *     sees host tokens and settings;
 *   - anyone may join a room, unless it is by invitation only (403), up
 *     to KK_API_JOIN_BURST joins at once per client address (429).
 *
 * A missing, malformed or unknown token is 401, a valid token of a lesser
 * role 403 (kk-auth decides).
 *
 * The body parsers are public so the fuzzer exercises exactly what the
 * handlers run.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-metrics.h"
#include "kk-presence.h"
#include "kk-recordings.h"
#include "kk-room.h"
#include "kk-roster.h"
#include "kk-schedule.h"
#include "kk-store.h"

G_BEGIN_DECLS

/* Joins on open rooms per client address (kk-ratelimit): a burst of
 * KK_API_JOIN_BURST, then one per KK_API_JOIN_INTERVAL_S; over it, 429
 * with Retry-After. A whole hospital or municipality may sit behind one
 * NAT address, and a course of up to ~100 people joins in the same few
 * minutes (a reload keeps its token and does not join again): the burst
 * lets two such courses start in the same minute from one address, and
 * the refill (60 a minute, 3600 an hour) is more than any number of
 * courses behind it can use, yet bounds what one client can store:
 * 3000 joins in 2 s become 200. Addresses kept at once are bounded by
 * KK_API_JOIN_CLIENTS_MAX (about 100 bytes each). Clients on the relay's
 * own machine (kk_http_is_local_client()) are not limited. */
#define KK_API_JOIN_BURST 200
#define KK_API_JOIN_INTERVAL_S 1
#define KK_API_JOIN_CLIENTS_MAX 4096

/* A parsed POST /api/rooms/{room}/join body. */
typedef struct {
  char *name;                 /* trimmed, 1..KK_ROOM_NAME_MAX characters */
  char *workplace;            /* trimmed, possibly "" */
  char **colleagues;          /* trimmed names, at most KK_ROOM_COLLEAGUES_MAX; never NULL */
} KkJoinRequest;

void kk_join_request_free (KkJoinRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkJoinRequest, kk_join_request_free)

/**
 * kk_api_parse_new_room:
 * @access: (out) (optional): the "access" member, %KK_ROOM_ACCESS_OPEN
 *   when absent
 *
 * Parses and validates a POST /api/rooms body:
 * `{"id": string, "title": string, "record": bool (default false),
 * "completion_ratio": number (default 0.8), "access": "open" (default)
 * or "invitation"}`. Unknown members are refused so that a misspelt
 * setting is not silently ignored.
 *
 * Returns: (transfer full): the room (source "whip", no host token), or
 * NULL with an error that maps to 400.
 */
KkRoomConfig *kk_api_parse_new_room (const char *data, gsize length,
    KkRoomAccess *access, GError **error);
/* The same, for callers that do not need the access. */
KkRoomConfig *kk_api_parse_room_request (const char *data, gsize length,
    GError **error);

/**
 * kk_api_parse_room_edit:
 *
 * Parses and validates a PATCH /api/rooms/{room} body: at least one of
 * `{"title": string, "record": bool, "completion_ratio": number from 0
 * to 1, "access": "open" or "invitation"}`; null is the same as absent.
 * The id cannot be changed; unknown members are refused.
 *
 * Returns: (transfer full): the edit (title trimmed), or NULL with an
 * error that maps to 400.
 */
KkRoomEdit *kk_api_parse_room_edit (const char *data, gsize length,
    GError **error);

/**
 * kk_api_parse_join_request:
 *
 * Parses and validates a join body: `{"name": string, "workplace": string
 * (optional), "colleagues": [string, ...] (optional)}`. Unknown members
 * are refused.
 *
 * Returns: (transfer full): the request, or NULL with an error that maps
 * to 400.
 */
KkJoinRequest *kk_api_parse_join_request (const char *data, gsize length,
    GError **error);

/**
 * kk_api_register:
 * @server: from kk_http_server_new()
 * @auth: (transfer none): a reference is kept; who may call
 * @registry: (transfer none): a reference is kept
 * @store: (transfer none): a reference is kept
 * @metrics: must outlive @server; a collector for rooms and HTTP
 *   responses is added to it (and removed when @server is finalized)
 * @presence: (transfer none) (nullable): a reference is kept; says
 *   whether a room's live session asks for an attendance code
 * @roster: (transfer none) (nullable): a reference is kept; stores access
 *   modes (POST and PATCH "access"); without one they are refused with
 *   501
 * @schedule: (transfer none) (nullable): a reference is kept; a room's
 *   next planned session
 * @recordings: (transfer none) (nullable): a reference is kept; the
 *   recording of each listed session
 *
 * Adds the routes `POST|GET /api/rooms`, `GET|PATCH /api/rooms/{room}`,
 * `POST /api/rooms/{room}/join`, `GET /api/sessions`, `GET /healthz` and
 * `GET /metrics` (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkStore *store, KkMetrics *metrics,
    KkPresence *presence, KkRoster *roster, KkSchedule *schedule,
    KkRecordings *recordings, GError **error);

G_END_DECLS
