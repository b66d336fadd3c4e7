/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-questions: the questions nurses ask the lecturer during a live
 * session, the support other screens give them, and what the host (or the
 * coordinator, as a co-host) does with them.
 *
 * A question belongs to the live session of a room and is asked by a
 * screen (a party) in the name of a person: the party's own person (the
 * name given at the join), or the person whose check-in receipt was used.
 * It may be asked "without my name shown to others": the host and the
 * coordinator still see who asked. Each other screen may support it once.
 * Its state is open, answering (at most one per session: marking another
 * one answers the one before), answered or hidden.
 *
 * Text is text: kk_question_clean_text() removes control characters and
 * caps the length; nothing here or in the pages ever reads it as HTML.
 *
 * Every change is written to the store first (kk_store_run_async) and then
 * told to the subscribers of the room (kk_questions_subscribe()) as an
 * event with a sequence number (kk_questions_last_seq()). The events are
 * not kept: a page that lost its stream is sent the list as the store has
 * it now, so that a question hidden or a person erased meanwhile is not
 * sent again as it was.
 *
 * The erasure of a person (kk_questions_erase_person(), handed to
 * kk-roster) deletes their questions and supports, and once it is
 * committed kk_questions_tell_erased() tells the room's subscribers which
 * questions are gone (a "removed" event) and how the support of others
 * changed, so that no page open across it keeps them; the retention of a
 * room's raw attendance events deletes its questions of the same age
 * (kk_questions_purge(), handed to kk-attendance-log).
 *
 * Main context only, except the functions on a KkDb, which run on the
 * store's thread.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "kk-lecture.h"
#include "kk-store.h"

G_BEGIN_DECLS

#define KK_QUESTIONS_ERROR (kk_questions_error_quark ())
GQuark kk_questions_error_quark (void);

typedef enum {
  KK_QUESTIONS_ERROR_INVALID,     /* malformed request, empty text */
  KK_QUESTIONS_ERROR_TOO_LONG,    /* over KK_QUESTION_MAX_CHARS */
  KK_QUESTIONS_ERROR_NOT_LIVE,    /* the room has no live session */
  KK_QUESTIONS_ERROR_NOT_FOUND,   /* no such question in that room */
  KK_QUESTIONS_ERROR_CONFLICT,    /* supported already, or one's own */
} KkQuestionsError;

/* Characters (not bytes) a question may have once cleaned. A spoken
 * question of a minute is some 150 words; this leaves room for that. */
#define KK_QUESTION_MAX_CHARS 600

typedef enum {
  KK_QUESTION_OPEN,
  KK_QUESTION_ANSWERING,          /* "answering now" */
  KK_QUESTION_ANSWERED,
  KK_QUESTION_HIDDEN,
} KkQuestionState;

/* Returns: (transfer none): "open", "answering", "answered", "hidden". */
const char *kk_question_state_to_string (KkQuestionState state);
/* Returns: FALSE if @text names no state. */
gboolean kk_question_state_from_string (const char *text,
    KkQuestionState *state);

typedef struct {
  char *id;
  char *session_id;
  char *room_id;
  char *party_id;                 /* the screen that asked */
  char *participant_id;           /* nullable: the person in whose name */
  char *asker;                    /* that person's name; "" if unknown */
  gboolean anonymous;             /* name not shown to other screens */
  char *text;
  KkQuestionState state;
  guint supports;                 /* screens that support it */
  gboolean supported;             /* by the screen that listed it */
  gint64 asked_at;                /* wall-clock microseconds */
  gint64 state_at;                /* when the state last changed */
} KkQuestion;

KkQuestion *kk_question_copy (const KkQuestion *question);
void kk_question_free (KkQuestion *question);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkQuestion, kk_question_free)

/**
 * kk_question_clean_text:
 * @text: (nullable): what was sent, not necessarily valid UTF-8
 *
 * Removes control characters and the bidirectional overrides that would
 * make a text read other than it is stored, turns line breaks and tabs
 * into spaces, collapses runs of spaces and trims both ends.
 *
 * Returns: (transfer full): the text, or NULL with
 * %KK_QUESTIONS_ERROR_INVALID (not UTF-8, or nothing left) or
 * %KK_QUESTIONS_ERROR_TOO_LONG.
 */
char *kk_question_clean_text (const char *text, GError **error);

/**
 * kk_question_parse_ask:
 * @text: (out) (transfer full): the cleaned text
 * @anonymous: (out): whether the name is to be hidden from other screens
 *
 * Parses a question request body, `{"text": "...", "anonymous": bool}`
 * (anonymous optional, default false; no other members).
 */
gboolean kk_question_parse_ask (const char *data, gsize length, char **text,
    gboolean *anonymous, GError **error);

/* Parses `{"state": "open"|"answering"|"answered"|"hidden"}`. */
gboolean kk_question_parse_state (const char *data, gsize length,
    KkQuestionState *state, GError **error);

/* The order of the host's list: more support first, then older first,
 * then by id so that the order is total. A GCompareFunc on KkQuestion **
 * (g_ptr_array_sort). */
int kk_question_compare (gconstpointer a, gconstpointer b);

/* One change told to a room's subscribers: the question as it is now
 * (new, supported or changed state); or with @removed, the ids of
 * questions gone (their asker was erased); or with
 * @revoked_participant_id, a person erased (told to every room, no
 * session event: @seq 0): whoever reads with their check-in receipt, or
 * with @revoked_party_id's token when their screen went too, may read no
 * more; or, with none of these, the start (@live) or the end of the
 * session. */
typedef struct {
  guint64 seq;                    /* 1, 2, ... within the session */
  const char *session_id;
  gboolean live;                  /* FALSE: the session ended */
  KkQuestion *question;           /* nullable */
  const char *const *removed;     /* nullable, NULL-terminated ids */
  const char *revoked_participant_id;   /* nullable */
  const char *revoked_party_id;         /* nullable */
} KkQuestionsEvent;

#define KK_TYPE_QUESTIONS (kk_questions_get_type ())
G_DECLARE_FINAL_TYPE (KkQuestions, kk_questions, KK, QUESTIONS, GObject)

/* Returns: (transfer full): questions kept in @store (a reference is
 * kept). */
KkQuestions *kk_questions_new (KkStore *store);

/* Follows @lecture's sessions: questions may be asked while one is open. */
void kk_questions_watch (KkQuestions *questions, KkLecture *lecture);

/* Returns: (transfer none) (nullable): @room_id's live session. */
const char *kk_questions_get_live_session (KkQuestions *questions,
    const char *room_id);

/**
 * kk_questions_ask_async:
 * @participant_id: (nullable): the person whose receipt was used; NULL
 *   for the screen's own person
 * @text: already cleaned (kk_question_parse_ask())
 *
 * %KK_QUESTIONS_ERROR_NOT_LIVE without a live session. Finish returns:
 * (transfer full): the question.
 */
void kk_questions_ask_async (KkQuestions *questions, const char *room_id,
    const char *party_id, const char *participant_id, const char *text,
    gboolean anonymous, GAsyncReadyCallback callback, gpointer user_data);
/* Support of @question_id by @party_id: %KK_QUESTIONS_ERROR_NOT_FOUND
 * (not in @room_id's live session, or hidden), %KK_QUESTIONS_ERROR_CONFLICT
 * (supported already, or asked by that screen). Finish returns the
 * question as it now is. */
void kk_questions_support_async (KkQuestions *questions, const char *room_id,
    const char *question_id, const char *party_id,
    const char *participant_id, GAsyncReadyCallback callback,
    gpointer user_data);
/* A new state for a question of @room_id (%KK_QUESTIONS_ERROR_NOT_FOUND).
 * Finish returns the question as it now is. */
void kk_questions_set_state_async (KkQuestions *questions,
    const char *room_id, const char *question_id, KkQuestionState state,
    GAsyncReadyCallback callback, gpointer user_data);
KkQuestion *kk_questions_change_finish (KkQuestions *questions,
    GAsyncResult *result, GError **error);

/**
 * kk_questions_list_async:
 * @viewer_party_id: (nullable): sets each question's @supported for that
 *   screen
 *
 * The questions of @session_id, hidden ones too, in kk_question_compare()
 * order. Finish returns: (transfer full) (element-type KkQuestion).
 */
void kk_questions_list_async (KkQuestions *questions, const char *session_id,
    const char *viewer_party_id, GAsyncReadyCallback callback,
    gpointer user_data);
GPtrArray *kk_questions_list_finish (KkQuestions *questions,
    GAsyncResult *result, GError **error);

/* The same, for the store's thread (a report that reads it among other
 * rows). Returns: (transfer full): NULL with @error. */
GPtrArray *kk_questions_list_in_db (KkDb *db, const char *session_id,
    const char *viewer_party_id, GError **error);

typedef void (*KkQuestionsEventFunc) (const KkQuestionsEvent *event,
    gpointer user_data);

/* Calls @func for every event of @room_id from now on, until
 * kk_questions_unsubscribe() with the id returned (never 0). The event is
 * valid during the call only. */
guint kk_questions_subscribe (KkQuestions *questions, const char *room_id,
    KkQuestionsEventFunc func, gpointer user_data);
void kk_questions_unsubscribe (KkQuestions *questions, guint id);

/* How many erasures have been told (kk_questions_tell_erased()): one who
 * was not yet subscribed when one was told (a stream waiting for its
 * list) cannot know whether it was revoked, and must check again. */
guint64 kk_questions_get_erasures (KkQuestions *questions);

/* The sequence number of @room_id's last event, 0 if none. */
guint64 kk_questions_last_seq (KkQuestions *questions, const char *room_id);

/**
 * kk_questions_erase_person:
 * @party_erased: the whole screen was theirs alone: its questions and
 *   supports go too
 * @erased: (out) (transfer full): what went, for
 *   kk_questions_tell_erased(); freed with kk_questions_erased_free()
 *
 * Store thread, inside the erasure's transaction (a KkRosterEraser's
 * erase; see kk-roster.h): deletes @participant_id's questions (with the
 * supports they had) and supports.
 */
gboolean kk_questions_erase_person (KkDb *db, const char *participant_id,
    const char *party_id, gboolean party_erased, gpointer *erased,
    GError **error);

/**
 * kk_questions_tell_erased:
 * @erased: (nullable): what kk_questions_erase_person() set
 * @user_data: the #KkQuestions
 *
 * Main context, once the erasure is committed (a KkRosterEraser's
 * erased_func): tells each room's subscribers, if the questions were of
 * its live session, a "removed" event with their ids, then the questions
 * whose support the erasure lowered as they now are; then every room's
 * subscribers that the person's receipts (and the screen's token, when
 * it went too) read no more.
 */
void kk_questions_tell_erased (gpointer erased, gpointer user_data);
void kk_questions_erased_free (gpointer erased);

/**
 * kk_questions_purge:
 * @now_us: the attendance log's now
 *
 * Store thread, a KkAttendancePurgeFunc (kk-attendance-log.h): deletes
 * the questions (and their supports) of rooms with a retention, asked
 * longer ago than it. Returns: the questions deleted, or -1 with @error.
 */
gint64 kk_questions_purge (KkDb *db, gint64 now_us, GError **error);

G_END_DECLS
