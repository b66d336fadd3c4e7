/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-presence: the presence checks of a live session, which a room's
 * policy may require for completion (see KkAttendancePolicy):
 *
 * - the attendance code: the host reveals it (once per session; asking
 *   again shows the same one) and says or shows it in the lecture;
 *   viewers type it in;
 * - "still here?" prompts: the relay issues them at random moments (one
 *   in each prompt interval, as many as the policy's prompts), and the
 *   host may issue one at any time; each must be answered within the
 *   policy's window.
 *
 * A screen answers with its viewer token, for everyone watching it; a
 * colleague who checked in may answer with their receipt, for
 * themselves. Every reveal, prompt and answer goes to the attendance log
 * as evidence, and the report weighs it under the session's frozen
 * policy; what is kept here, in memory, is only what the live session
 * needs to answer quickly (the code, open prompts, who answered, viewers
 * waiting for the next prompt).
 *
 * Routes (room ids as in /api/rooms/{room}):
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
 * Main thread only.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kk-attendance-log.h"
#include "kk-lecture.h"
#include "kk-roster.h"

G_BEGIN_DECLS

#define KK_PRESENCE_CODE_LENGTH 6
/* Wrong codes one viewer may try per session. */
#define KK_PRESENCE_MAX_WRONG_CODES 5
/* The longest a prompt poll waits. */
#define KK_PRESENCE_MAX_WAIT_S 30
/* Polls waiting at once, over all rooms; more are answered at once. */
#define KK_PRESENCE_MAX_WAITERS 4096
/* Prompts per session, scheduled and the host's together. */
#define KK_PRESENCE_MAX_PROMPTS 100

#define KK_TYPE_PRESENCE (kk_presence_get_type ())
G_DECLARE_FINAL_TYPE (KkPresence, kk_presence, KK, PRESENCE, GObject)

/* Returns: (transfer full). References to all three are kept. */
KkPresence *kk_presence_new (KkAttendanceLog *log, KkRoomRegistry *registry,
    KkRoster *roster);

/* Follows @lecture's sessions (session-opened, session-closed). */
void kk_presence_watch (KkPresence *presence, KkLecture *lecture);

/* What kk_presence_watch() does on a lecture's signals; a test drives a
 * presence with them, without a broadcast. The session must be known to
 * the log (its session-opened event queued) before it opens here. */
void kk_presence_session_opened (KkPresence *presence, const char *room_id,
    const char *session_id);
void kk_presence_session_closed (KkPresence *presence, const char *room_id);

/**
 * kk_presence_issue_prompt:
 *
 * A "still here?" prompt in @room_id's live session now: recorded, and
 * sent to every viewer waiting for one.
 * Fails with %KK_ATTENDANCE_ERROR_CONFLICT when the room is not live or
 * the session had %KK_PRESENCE_MAX_PROMPTS already.
 *
 * Returns: (transfer full): the prompt's id, or NULL with @error.
 */
char *kk_presence_issue_prompt (KkPresence *presence, const char *room_id,
    GError **error);

/* Whether @room_id's live session asks for an attendance code (its
 * frozen policy requires one, or the host has revealed one): a room's
 * public JSON says so, and the nurse's page shows the code form only
 * then. */
gboolean kk_presence_asks_for_code (KkPresence *presence,
    const char *room_id);

/* Ends every session here and answers every waiting poll (204). For the
 * relay's teardown, before the HTTP server goes. */
void kk_presence_shutdown (KkPresence *presence);

/* Adds the routes above to @server. */
void kk_presence_register (SoupServer *server, KkPresence *presence);

G_END_DECLS
