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
 * A missing, malformed or unknown token is 401. A valid token of a lesser
 * role (a host or viewer token on a coordinator route) is 403: it did
 * authenticate, it is just not allowed there (RFC 9110 15.5.4).
 *
 * The body parsers are public so the fuzzer exercises exactly what the
 * handlers run.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-config.h"
#include "kk-metrics.h"
#include "kk-room.h"
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

/* For every coordinator-only route: replies 401 (no or unknown token) or
 * 403 (a host's or participant's token) and returns FALSE unless the
 * request carries the coordinator's token. */
gboolean kk_api_require_coordinator (KkRoomRegistry *registry,
    SoupServerMessage *msg);

/**
 * kk_api_register:
 * @server: from kk_http_server_new()
 * @registry: (transfer none): a reference is kept
 * @store: (transfer none): a reference is kept
 * @metrics: must outlive @server; a collector for rooms and HTTP
 *   responses is added to it (and removed when @server is finalized)
 * @config: the daemon's configuration
 *
 * Adds the routes `POST|GET /api/rooms`, `GET|PATCH /api/rooms/{room}`,
 * `POST /api/rooms/{room}/join`, `GET /api/sessions`, `GET /healthz` and
 * `GET /metrics`. Access modes (POST and PATCH "access") are stored by
 * the roster registered on @server (kk_roster_api_register (), before or
 * after this); without one they are refused with 501.
 *
 * The coordinator is recognised by @registry (kk_room_registry_check_admin_token()).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_api_register (SoupServer *server, KkRoomRegistry *registry,
    KkStore *store, KkMetrics *metrics, const KkConfig *config,
    GError **error);

G_END_DECLS
