/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-auth: who may call a route, decided in one place.
 *
 * Roles come from the bearer token alone (kk_http_get_bearer_token()),
 * checked by the room registry by SHA-256 digest with CRYPTO_memcmp, so
 * neither content nor length leaks through timing:
 *
 *   - the coordinator (the admin token) may do everything under /api/;
 *   - a room's host (its host token) broadcasts and runs that room's
 *     lecture;
 *   - a participant (a screen's viewer token, or, where a route allows
 *     it, a person's check-in receipt) watches and answers in that room;
 *   - a signed link stands in for the coordinator on one recording
 *     (kk_auth_sign_recording_link()); the key that signs it is kk-auth's
 *     own, drawn at each start.
 *
 * A missing, malformed or unknown token is 401, with
 * `WWW-Authenticate: Bearer realm="kringkast"` (kk_http_reply_error()). A
 * valid token of a lesser role, or of another room, is 403: it did
 * authenticate, it is just not allowed there (RFC 9110 15.5.4). The
 * wording of a 401 for a room token is the route's own (@required below):
 * the pages show it, and each says what that page must send.
 *
 * Each require function replies with the refusal and returns FALSE, so a
 * handler reads `if (!kk_auth_require_... (...)) return;`.
 * Main context only.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-room.h"
#include "kk-roster.h"

G_BEGIN_DECLS

typedef enum {
  KK_AUTH_ANONYMOUS,            /* no Authorization header */
  KK_AUTH_INVALID,              /* a token we do not know, or malformed */
  KK_AUTH_PARTICIPANT,          /* some room's viewer token */
  KK_AUTH_HOST,                 /* some room's host token */
  KK_AUTH_COORDINATOR,          /* the admin token */
} KkAuthRole;

#define KK_TYPE_AUTH (kk_auth_get_type ())
G_DECLARE_FINAL_TYPE (KkAuth, kk_auth, KK, AUTH, GObject)

/**
 * kk_auth_new:
 * @registry: (transfer none): a reference is kept; it knows the
 *   coordinator's, the hosts' and the participants' tokens
 * @roster: (transfer none) (nullable): a reference is kept; it knows
 *   check-in receipts (kk_auth_require_participant() with
 *   @accept_receipt); without one, receipts are unknown tokens
 *
 * Draws the key that signs recording links (kk_auth_sign_recording_link()):
 * it lives in memory only, so every link dies with the process.
 *
 * Returns: (transfer full): the authority every route module is handed,
 * or NULL with @error when there are no random bytes for the key.
 */
KkAuth *kk_auth_new (KkRoomRegistry *registry, KkRoster *roster,
    GError **error);

/* For routes open to anyone that show more to some (a room's JSON:
 * settings and host tokens for the coordinator only): sets @role, the
 * caller's role over all rooms (%KK_AUTH_ANONYMOUS without a token).
 * Replies 401 and returns FALSE when a token is sent that nobody holds:
 * a mistyped token must not look like a successful anonymous call. */
gboolean kk_auth_require_known (KkAuth *auth, SoupServerMessage *msg,
    KkAuthRole *role);

/* For every coordinator-only route: replies 401 (no or unknown token) or
 * 403 (a host's or participant's token) unless the request carries the
 * coordinator's token. */
gboolean kk_auth_require_coordinator (KkAuth *auth, SoupServerMessage *msg);

/**
 * kk_auth_require_coordinator_or_host:
 * @is_coordinator: (out): TRUE for the coordinator, FALSE for the host
 *
 * The coordinator, or @room_id's host; 401 and 403 as for
 * kk_auth_require_coordinator() otherwise (another room's host is 403).
 */
gboolean kk_auth_require_coordinator_or_host (KkAuth *auth,
    SoupServerMessage *msg, const char *room_id, gboolean *is_coordinator);

/**
 * kk_auth_require_host:
 * @required: the message of the 401 (no or unknown token)
 *
 * @room_id's host token; 403 for another room's.
 */
gboolean kk_auth_require_host (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, const char *required);

/**
 * kk_auth_require_participant:
 * @accept_receipt: whether a check-in receipt (a person at a screen)
 *   counts as well as the screen's viewer token
 * @required: the message of the 401 (no or unknown token)
 * @party_id: (out) (optional) (transfer full): the screen's party
 * @participant_id: (out) (optional) (transfer full) (nullable): the
 *   person, when a receipt was used
 *
 * @room_id's participant; 403 for a token of another room.
 */
gboolean kk_auth_require_participant (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, gboolean accept_receipt, const char *required,
    char **party_id, char **participant_id);

/**
 * kk_auth_require_room_reader:
 * @required: the message of the 401 (no or unknown token)
 * @privileged: (out): TRUE for the coordinator and @room_id's host
 * @party_id: (out) (optional) (transfer full) (nullable): the screen's
 *   party, for a participant
 * @participant_id: (out) (optional) (transfer full) (nullable): the
 *   person, when a check-in receipt was used
 *
 * For what a room's screens read and its host and the coordinator read
 * more of: the coordinator, @room_id's host, or its participant (a viewer
 * token or a check-in receipt). 403 for another room's host token,
 * viewer token or receipt; 401 with @required otherwise.
 */
gboolean kk_auth_require_room_reader (KkAuth *auth, SoupServerMessage *msg,
    const char *room_id, const char *required, gboolean *privileged,
    char **party_id, char **participant_id);

/**
 * kk_auth_sign_recording_link:
 * @expires: the link's last valid second (Unix time)
 *
 * A signed link stands in for the coordinator's token for one session's
 * recording, for a <video> element or a download that cannot send a
 * header: `?expires=@expires&sig=<this>`.
 *
 * Returns: (transfer full): the signature, 64 lowercase hex digits.
 */
char *kk_auth_sign_recording_link (KkAuth *auth, const char *session_id,
    guint64 expires);

/* Replies 403 and returns FALSE unless @expires_text and @sig (the link's
 * query, either may be NULL) are a link to @session_id's recording signed
 * by this process and not expired. */
gboolean kk_auth_require_recording_link (KkAuth *auth, SoupServerMessage *msg,
    const char *session_id, const char *expires_text, const char *sig);

G_END_DECLS
