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
 * The routes that reveal codes, answer them and poll for prompts are
 * kk-presence-api's (relay/web); this module knows nothing of HTTP.
 *
 * Main thread only.
 */
#pragma once

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

/* Returns: (transfer full). A reference to @log is kept: it takes the
 * evidence. */
KkPresence *kk_presence_new (KkAttendanceLog *log);

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

/* Ends every session here and calls every waiter back with no prompt.
 * For the relay's teardown, before the HTTP server goes. */
void kk_presence_shutdown (KkPresence *presence);

/* ---- the attendance code ---- */

/* A room's code, as the host sees it. The strings belong to the live
 * session: valid until it changes. */
typedef struct {
  const char *session_id;       /* NULL when the room is not live */
  const char *code;             /* NULL until the host reveals it */
  gboolean required;            /* by the session's frozen policy */
} KkPresenceCode;

void kk_presence_get_code (KkPresence *presence, const char *room_id,
    KkPresenceCode *out);

/**
 * kk_presence_reveal_code:
 * @revealed_now: (out): FALSE when it had been revealed already (the same
 *   code is shown again)
 *
 * Reveals @room_id's code for its live session (recorded in the log).
 * Fails with %KK_ATTENDANCE_ERROR_CONFLICT when the room is not live.
 */
gboolean kk_presence_reveal_code (KkPresence *presence, const char *room_id,
    gboolean *revealed_now, GError **error);

typedef enum {
  KK_PRESENCE_CODE_ACCEPTED,    /* now, or before */
  KK_PRESENCE_CODE_NOT_REVEALED, /* not live, or no code yet */
  KK_PRESENCE_CODE_TOO_MANY_WRONG, /* KK_PRESENCE_MAX_WRONG_CODES tried */
  KK_PRESENCE_CODE_WRONG,       /* counted against the caller */
} KkPresenceCodeAnswer;

/**
 * kk_presence_answer_code:
 * @party_id: the screen that answers
 * @participant_id: (nullable): the person at it, when they answer with a
 *   check-in receipt (for themselves only)
 * @typed: the code as typed (normalised here)
 * @tries_left: (out): on %KK_PRESENCE_CODE_WRONG, the tries left
 */
KkPresenceCodeAnswer kk_presence_answer_code (KkPresence *presence,
    const char *room_id, const char *party_id, const char *participant_id,
    const char *typed, guint *tries_left);

/* ---- prompts ---- */

/* A prompt, as a viewer is told it. @id belongs to the live session. */
typedef struct {
  const char *id;
  gint64 issued_wall_us;
  gint64 expires_wall_us;
  gint64 left_us;               /* until it expires; 0 after */
} KkPresencePrompt;

/* @prompt_id in @room_id's live session, if there is one. */
gboolean kk_presence_get_prompt (KkPresence *presence, const char *room_id,
    const char *prompt_id, KkPresencePrompt *out);

/* The oldest prompt of @room_id's live session that is still open and
 * that this caller (@party_id, or @participant_id where given) has not
 * answered. */
gboolean kk_presence_find_open_prompt (KkPresence *presence,
    const char *room_id, const char *party_id, const char *participant_id,
    KkPresencePrompt *out);

/**
 * KkPresencePromptFunc:
 * @prompt: (nullable): the prompt just issued, or NULL when the wait is
 *   over or the session ended; valid during the call
 */
typedef void (*KkPresencePromptFunc) (const KkPresencePrompt *prompt,
    gpointer user_data);

/**
 * kk_presence_wait_prompt:
 *
 * Calls @func once, with the next prompt of @room_id's live session or
 * with NULL after @wait_s seconds or when the session ends. Refused
 * (FALSE, @func never called) when the room is not live, @wait_s is 0, or
 * KK_PRESENCE_MAX_WAITERS wait already.
 */
gboolean kk_presence_wait_prompt (KkPresence *presence, const char *room_id,
    guint wait_s, KkPresencePromptFunc func, gpointer user_data);

typedef enum {
  KK_PRESENCE_PROMPT_ANSWERED,  /* now, or before */
  KK_PRESENCE_PROMPT_LATE,      /* recorded, but after its window */
  KK_PRESENCE_PROMPT_UNKNOWN,   /* no such prompt in the live session */
} KkPresencePromptAnswer;

/* Records the caller's answer to @prompt_id (see
 * kk_presence_answer_code() for @party_id and @participant_id). */
KkPresencePromptAnswer kk_presence_answer_prompt (KkPresence *presence,
    const char *room_id, const char *prompt_id, const char *party_id,
    const char *participant_id);

G_END_DECLS
