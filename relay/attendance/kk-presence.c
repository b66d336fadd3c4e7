/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-presence: attendance codes and "still here?" prompts; see
 * kk-presence.h.
 *
 * One LiveSession per live room, from its lecture's session-opened to
 * session-closed. Its policy is read back from the attendance log once
 * the session is stored there (frozen at that moment, like everything
 * the report uses), and only then are prompts scheduled: prompt k at a
 * random moment of the k-th interval after the start
 * (kk_attendance_prompt_offset()), each one timer ahead.
 *
 * A viewer's page asks for the open prompt with a long poll
 * (kk-presence-api): a waiter here is called back when a prompt is
 * issued, the session ends, or its wait is over. So a few hundred idle
 * screens cost a few hundred paused requests, not a stream of polls.
 *
 * Who answered is remembered per caller: "party:ID" for a screen's
 * viewer token, "person:ID" for a check-in receipt. A screen's answer
 * covers everyone at it, so a receipt holder whose screen has answered is
 * not asked again.
 */
#include "kk-presence.h"

#include <string.h>

typedef struct {
  char *id;
  gint64 issued_us;             /* steady */
  gint64 expires_us;            /* steady */
  GHashTable *answered;         /* caller keys (set) */
} Prompt;

typedef struct _LiveSession LiveSession;

typedef struct {
  KkPresencePromptFunc func;
  gpointer user_data;
  LiveSession *session;
  guint timer;
} Waiter;

struct _LiveSession {
  KkPresence *presence;
  char *room_id;
  char *session_id;
  gboolean have_policy;
  KkAttendancePolicy policy;
  gint64 started_us;            /* steady, as stored */
  guint next_prompt;            /* the k of the next scheduled prompt */
  guint timer;
  char *code;                   /* revealed, or NULL */
  GHashTable *wrong;            /* caller key → wrong codes tried */
  GHashTable *code_given;       /* caller keys (set) */
  GPtrArray *prompts;           /* Prompt, oldest first */
  GPtrArray *waiters;           /* Waiter */
};

struct _KkPresence {
  GObject parent;

  KkAttendanceLog *log;
  GHashTable *sessions;         /* room id → LiveSession (owned) */
  GPtrArray *lectures;          /* watched, for disconnecting */
  guint n_waiters;
};

G_DEFINE_FINAL_TYPE (KkPresence, kk_presence, G_TYPE_OBJECT)

/* The one who answers: a screen, or a person at it. */
typedef struct {
  char *party_key;
  char *person_key;             /* nullable */
} Caller;

static void
caller_clear (Caller *caller)
{
  g_clear_pointer (&caller->party_key, g_free);
  g_clear_pointer (&caller->person_key, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Caller, caller_clear)

static void
caller_init (Caller *caller, const char *party_id, const char *participant_id)
{
  caller->party_key = g_strconcat ("party:", party_id, NULL);
  if (participant_id != NULL)
    caller->person_key = g_strconcat ("person:", participant_id, NULL);
}

/* Who answers for @caller: the person where known, else the screen. */
static const char *
caller_key (const Caller *caller)
{
  return caller->person_key != NULL ? caller->person_key : caller->party_key;
}

static void
prompt_free (Prompt *prompt)
{
  g_free (prompt->id);
  g_hash_table_unref (prompt->answered);
  g_free (prompt);
}

static gboolean
answered (Prompt *prompt, const char *party_key, const char *person_key)
{
  return g_hash_table_contains (prompt->answered, party_key)
      || (person_key != NULL && g_hash_table_contains (prompt->answered,
              person_key));
}

/* ---- what callers are told ---- */

static gint64
wall_us (KkPresence *presence, gint64 steady_us)
{
  return steady_us + (g_get_real_time ()
      - kk_attendance_log_now (presence->log));
}

static void
describe_prompt (KkPresence *presence, Prompt *prompt,
    KkPresencePrompt *out)
{
  out->id = prompt->id;
  out->issued_wall_us = wall_us (presence, prompt->issued_us);
  out->expires_wall_us = wall_us (presence, prompt->expires_us);
  out->left_us = MAX (prompt->expires_us
      - kk_attendance_log_now (presence->log), 0);
}

/* ---- waiting polls ---- */

static void
waiter_finish (Waiter *waiter, Prompt *prompt)
{
  LiveSession *ls = waiter->session;
  KkPresencePrompt told;

  if (waiter->timer != 0)
    g_source_remove (waiter->timer);
  if (prompt != NULL)
    describe_prompt (ls->presence, prompt, &told);
  waiter->func (prompt != NULL ? &told : NULL, waiter->user_data);
  ls->presence->n_waiters--;
  g_free (waiter);
}

static gboolean
waiter_timeout (gpointer user_data)
{
  Waiter *waiter = user_data;

  waiter->timer = 0;
  g_ptr_array_remove_fast (waiter->session->waiters, waiter);
  waiter_finish (waiter, NULL);
  return G_SOURCE_REMOVE;
}

/* Calls every waiter of @ls back: with @prompt, or NULL for none. */
static void
wake_waiters (LiveSession *ls, Prompt *prompt)
{
  g_autoptr (GPtrArray) waiters = g_steal_pointer (&ls->waiters);

  ls->waiters = g_ptr_array_new ();
  for (guint i = 0; i < waiters->len; i++)
    waiter_finish (waiters->pdata[i], prompt);
}

/* ---- sessions ---- */

static void
live_session_free (LiveSession *ls)
{
  if (ls->timer != 0)
    g_source_remove (ls->timer);
  wake_waiters (ls, NULL);
  g_ptr_array_unref (ls->waiters);
  g_ptr_array_unref (ls->prompts);
  g_hash_table_unref (ls->wrong);
  g_hash_table_unref (ls->code_given);
  g_free (ls->code);
  g_free (ls->room_id);
  g_free (ls->session_id);
  g_free (ls);
}

static Prompt *
issue (LiveSession *ls, GError **error)
{
  KkPresence *presence = ls->presence;
  gint64 window = ls->have_policy ? ls->policy.prompt_window_us
      : KK_ATTENDANCE_DEFAULT_PROMPT_WINDOW_S * G_USEC_PER_SEC;
  Prompt *prompt;

  if (ls->prompts->len >= KK_PRESENCE_MAX_PROMPTS) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_CONFLICT,
        "this session had %d prompts already", KK_PRESENCE_MAX_PROMPTS);
    return NULL;
  }
  prompt = g_new0 (Prompt, 1);
  prompt->id = g_uuid_string_random ();
  prompt->issued_us = kk_attendance_log_now (presence->log);
  prompt->expires_us = prompt->issued_us + window;
  prompt->answered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  g_ptr_array_add (ls->prompts, prompt);
  kk_attendance_log_record_prompt (presence->log, ls->room_id,
      ls->session_id, prompt->id, prompt->issued_us);
  g_info ("room %s: prompt %s (session %s), %u viewers waiting", ls->room_id,
      prompt->id, ls->session_id, ls->waiters->len);
  wake_waiters (ls, prompt);
  return prompt;
}

static void schedule_prompt (LiveSession *ls);

static gboolean
on_prompt_due (gpointer user_data)
{
  LiveSession *ls = user_data;
  g_autoptr (GError) error = NULL;

  ls->timer = 0;
  ls->next_prompt++;
  if (issue (ls, &error) == NULL)
    g_info ("room %s: no scheduled prompt: %s", ls->room_id, error->message);
  schedule_prompt (ls);
  return G_SOURCE_REMOVE;
}

static void
schedule_prompt (LiveSession *ls)
{
  gint64 due, delay;

  if (!ls->have_policy || ls->next_prompt >= ls->policy.prompts)
    return;
  due = ls->started_us + kk_attendance_prompt_offset (&ls->policy,
      ls->next_prompt, g_random_int ());
  delay = MAX (due - kk_attendance_log_now (ls->presence->log), 0);
  ls->timer = g_timeout_add ((guint) MIN (delay / 1000, G_MAXUINT),
      on_prompt_due, ls);
}

typedef struct {
  KkPresence *presence;
  char *room_id;
  char *session_id;
} PolicyRead;

static void
policy_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PolicyRead *read = user_data;
  g_autoptr (KkAttendanceSession) session = NULL;
  g_autoptr (GError) error = NULL;
  LiveSession *ls;

  session = kk_attendance_log_get_session_finish (read->presence->log, result,
      &error);
  ls = g_hash_table_lookup (read->presence->sessions, read->room_id);
  if (session == NULL) {
    g_warning ("room %s: no presence checks for session %s: %s",
        read->room_id, read->session_id, error->message);
  } else if (ls != NULL && g_str_equal (ls->session_id, read->session_id)) {
    ls->policy = session->policy;
    ls->started_us = session->started_us;
    ls->have_policy = TRUE;
    if (ls->policy.prompts > 0)
      g_info ("room %s: %u prompts, one every %" G_GINT64_FORMAT " s, "
          "%" G_GINT64_FORMAT " s to answer", ls->room_id,
          ls->policy.prompts, ls->policy.prompt_interval_us / G_USEC_PER_SEC,
          ls->policy.prompt_window_us / G_USEC_PER_SEC);
    schedule_prompt (ls);
  }
  g_object_unref (read->presence);
  g_free (read->room_id);
  g_free (read->session_id);
  g_free (read);
}

void
kk_presence_session_opened (KkPresence *presence, const char *room_id,
    const char *session_id)
{
  LiveSession *ls = g_new0 (LiveSession, 1);
  PolicyRead *read = g_new0 (PolicyRead, 1);

  g_return_if_fail (KK_IS_PRESENCE (presence));

  ls->presence = presence;
  ls->room_id = g_strdup (room_id);
  ls->session_id = g_strdup (session_id);
  ls->wrong = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ls->code_given = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  ls->prompts = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_free);
  ls->waiters = g_ptr_array_new ();
  g_hash_table_replace (presence->sessions, ls->room_id, ls);

  read->presence = g_object_ref (presence);
  read->room_id = g_strdup (room_id);
  read->session_id = g_strdup (session_id);
  kk_attendance_log_get_session_async (presence->log, session_id,
      policy_read, read);
}

void
kk_presence_session_closed (KkPresence *presence, const char *room_id)
{
  g_return_if_fail (KK_IS_PRESENCE (presence));

  g_hash_table_remove (presence->sessions, room_id);
}

static void
on_session_opened (KkLecture *lecture, const char *session_id,
    gint64 started_wall_us, gpointer user_data)
{
  kk_presence_session_opened (user_data,
      kk_room_get_id (kk_lecture_get_room (lecture)), session_id);
}

static void
on_session_closed (KkLecture *lecture, const char *session_id,
    gint64 ended_wall_us, gpointer user_data)
{
  kk_presence_session_closed (user_data,
      kk_room_get_id (kk_lecture_get_room (lecture)));
}

void
kk_presence_watch (KkPresence *presence, KkLecture *lecture)
{
  g_signal_connect (lecture, "session-opened", G_CALLBACK (on_session_opened),
      presence);
  g_signal_connect (lecture, "session-closed", G_CALLBACK (on_session_closed),
      presence);
  g_ptr_array_add (presence->lectures, g_object_ref (lecture));
}

char *
kk_presence_issue_prompt (KkPresence *presence, const char *room_id,
    GError **error)
{
  LiveSession *ls;
  Prompt *prompt;

  g_return_val_if_fail (KK_IS_PRESENCE (presence), NULL);

  ls = g_hash_table_lookup (presence->sessions, room_id);
  if (ls == NULL) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_CONFLICT,
        "room %s is not live", room_id);
    return NULL;
  }
  prompt = issue (ls, error);
  return prompt != NULL ? g_strdup (prompt->id) : NULL;
}

gboolean
kk_presence_asks_for_code (KkPresence *presence, const char *room_id)
{
  LiveSession *ls;

  g_return_val_if_fail (KK_IS_PRESENCE (presence), FALSE);

  ls = g_hash_table_lookup (presence->sessions, room_id);
  return ls != NULL && (ls->code != NULL
      || (ls->have_policy && ls->policy.require_code));
}

/* ---- codes ---- */

/* The ids a caller's key stands for, for the log. */
static const char *
key_id (const char *key)
{
  return key != NULL ? strchr (key, ':') + 1 : NULL;
}

void
kk_presence_get_code (KkPresence *presence, const char *room_id,
    KkPresenceCode *out)
{
  LiveSession *ls;

  g_return_if_fail (KK_IS_PRESENCE (presence));

  ls = g_hash_table_lookup (presence->sessions, room_id);
  out->session_id = ls != NULL ? ls->session_id : NULL;
  out->code = ls != NULL ? ls->code : NULL;
  out->required = ls != NULL && ls->have_policy && ls->policy.require_code;
}

gboolean
kk_presence_reveal_code (KkPresence *presence, const char *room_id,
    gboolean *revealed_now, GError **error)
{
  LiveSession *ls;

  g_return_val_if_fail (KK_IS_PRESENCE (presence), FALSE);

  ls = g_hash_table_lookup (presence->sessions, room_id);
  if (ls == NULL) {
    g_set_error_literal (error, KK_ATTENDANCE_ERROR,
        KK_ATTENDANCE_ERROR_CONFLICT,
        "the room is not live: a code belongs to a live session");
    return FALSE;
  }
  *revealed_now = ls->code == NULL;
  if (ls->code != NULL)
    return TRUE;
  ls->code = kk_roster_random_code (KK_PRESENCE_CODE_LENGTH);
  kk_attendance_log_record_code (presence->log, ls->room_id, ls->session_id,
      ls->code, kk_attendance_log_now (presence->log));
  g_info ("room %s: attendance code revealed (session %s)", ls->room_id,
      ls->session_id);
  return TRUE;
}

KkPresenceCodeAnswer
kk_presence_answer_code (KkPresence *presence, const char *room_id,
    const char *party_id, const char *participant_id, const char *typed,
    guint *tries_left)
{
  g_auto (Caller) caller = { 0 };
  g_autofree char *normalised = NULL;
  const char *key;
  LiveSession *ls;
  guint wrong;

  g_return_val_if_fail (KK_IS_PRESENCE (presence),
      KK_PRESENCE_CODE_NOT_REVEALED);

  caller_init (&caller, party_id, participant_id);
  key = caller_key (&caller);
  ls = g_hash_table_lookup (presence->sessions, room_id);
  if (ls == NULL || ls->code == NULL)
    return KK_PRESENCE_CODE_NOT_REVEALED;
  if (g_hash_table_contains (ls->code_given, key))
    return KK_PRESENCE_CODE_ACCEPTED;
  wrong = GPOINTER_TO_UINT (g_hash_table_lookup (ls->wrong, key));
  if (wrong >= KK_PRESENCE_MAX_WRONG_CODES)
    return KK_PRESENCE_CODE_TOO_MANY_WRONG;
  normalised = kk_roster_normalise_code (typed);
  if (!g_str_equal (normalised, ls->code)) {
    g_hash_table_replace (ls->wrong, g_strdup (key),
        GUINT_TO_POINTER (wrong + 1));
    *tries_left = KK_PRESENCE_MAX_WRONG_CODES - wrong - 1;
    return KK_PRESENCE_CODE_WRONG;
  }
  g_hash_table_add (ls->code_given, g_strdup (key));
  kk_attendance_log_record_code_answer (presence->log, ls->room_id,
      ls->session_id, key_id (caller.party_key), key_id (caller.person_key),
      kk_attendance_log_now (presence->log));
  return KK_PRESENCE_CODE_ACCEPTED;
}

/* ---- prompts ---- */

static Prompt *
find_prompt (LiveSession *ls, const char *prompt_id)
{
  Prompt *prompt = NULL;

  for (guint i = 0; ls != NULL && i < ls->prompts->len; i++)
    if (g_str_equal (((Prompt *) ls->prompts->pdata[i])->id, prompt_id))
      prompt = ls->prompts->pdata[i];
  return prompt;
}

gboolean
kk_presence_get_prompt (KkPresence *presence, const char *room_id,
    const char *prompt_id, KkPresencePrompt *out)
{
  Prompt *prompt;

  g_return_val_if_fail (KK_IS_PRESENCE (presence), FALSE);

  prompt = find_prompt (g_hash_table_lookup (presence->sessions, room_id),
      prompt_id);
  if (prompt == NULL)
    return FALSE;
  describe_prompt (presence, prompt, out);
  return TRUE;
}

gboolean
kk_presence_find_open_prompt (KkPresence *presence, const char *room_id,
    const char *party_id, const char *participant_id, KkPresencePrompt *out)
{
  g_auto (Caller) caller = { 0 };
  gint64 now = kk_attendance_log_now (presence->log);
  LiveSession *ls;

  g_return_val_if_fail (KK_IS_PRESENCE (presence), FALSE);

  caller_init (&caller, party_id, participant_id);
  ls = g_hash_table_lookup (presence->sessions, room_id);
  for (guint i = 0; ls != NULL && i < ls->prompts->len; i++) {
    Prompt *prompt = ls->prompts->pdata[i];

    if (prompt->expires_us > now
        && !answered (prompt, caller.party_key, caller.person_key)) {
      describe_prompt (presence, prompt, out);
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
kk_presence_wait_prompt (KkPresence *presence, const char *room_id,
    guint wait_s, KkPresencePromptFunc func, gpointer user_data)
{
  LiveSession *ls;
  Waiter *waiter;

  g_return_val_if_fail (KK_IS_PRESENCE (presence), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  ls = g_hash_table_lookup (presence->sessions, room_id);
  if (ls == NULL || wait_s == 0
      || presence->n_waiters >= KK_PRESENCE_MAX_WAITERS)
    return FALSE;
  waiter = g_new0 (Waiter, 1);
  waiter->func = func;
  waiter->user_data = user_data;
  waiter->session = ls;
  waiter->timer = g_timeout_add_seconds (wait_s, waiter_timeout, waiter);
  g_ptr_array_add (ls->waiters, waiter);
  presence->n_waiters++;
  return TRUE;
}

KkPresencePromptAnswer
kk_presence_answer_prompt (KkPresence *presence, const char *room_id,
    const char *prompt_id, const char *party_id, const char *participant_id)
{
  g_auto (Caller) caller = { 0 };
  gint64 now = kk_attendance_log_now (presence->log);
  const char *key;
  LiveSession *ls;
  Prompt *prompt;

  g_return_val_if_fail (KK_IS_PRESENCE (presence),
      KK_PRESENCE_PROMPT_UNKNOWN);

  caller_init (&caller, party_id, participant_id);
  key = caller_key (&caller);
  ls = g_hash_table_lookup (presence->sessions, room_id);
  prompt = find_prompt (ls, prompt_id);
  if (prompt == NULL)
    return KK_PRESENCE_PROMPT_UNKNOWN;
  if (g_hash_table_contains (prompt->answered, key))
    return KK_PRESENCE_PROMPT_ANSWERED;
  /* A late answer is evidence too (of when they came back). */
  g_hash_table_add (prompt->answered, g_strdup (key));
  kk_attendance_log_record_prompt_answer (presence->log, ls->room_id,
      prompt->id, key_id (caller.party_key), key_id (caller.person_key), now);
  return now > prompt->expires_us ? KK_PRESENCE_PROMPT_LATE
      : KK_PRESENCE_PROMPT_ANSWERED;
}

static void
disconnect_lectures (KkPresence *presence)
{
  for (guint i = 0; i < presence->lectures->len; i++)
    g_signal_handlers_disconnect_by_data (presence->lectures->pdata[i],
        presence);
  g_ptr_array_set_size (presence->lectures, 0);
}

void
kk_presence_shutdown (KkPresence *presence)
{
  g_return_if_fail (KK_IS_PRESENCE (presence));

  disconnect_lectures (presence);
  g_hash_table_remove_all (presence->sessions);
}

/* ---- the object ---- */

static void
kk_presence_dispose (GObject *object)
{
  KkPresence *presence = KK_PRESENCE (object);

  disconnect_lectures (presence);
  g_hash_table_remove_all (presence->sessions);
  G_OBJECT_CLASS (kk_presence_parent_class)->dispose (object);
}

static void
kk_presence_finalize (GObject *object)
{
  KkPresence *presence = KK_PRESENCE (object);

  g_hash_table_unref (presence->sessions);
  g_ptr_array_unref (presence->lectures);
  g_clear_object (&presence->log);
  G_OBJECT_CLASS (kk_presence_parent_class)->finalize (object);
}

static void
kk_presence_class_init (KkPresenceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kk_presence_dispose;
  object_class->finalize = kk_presence_finalize;
}

static void
kk_presence_init (KkPresence *presence)
{
  presence->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) live_session_free);
  presence->lectures = g_ptr_array_new_with_free_func (g_object_unref);
}

KkPresence *
kk_presence_new (KkAttendanceLog *log)
{
  KkPresence *presence = g_object_new (KK_TYPE_PRESENCE, NULL);

  presence->log = g_object_ref (log);
  return presence;
}

