/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-questions: questions of a live session, their support and their
 * handling; see kk-questions.h.
 *
 * The store is the truth: every change is one store job, which returns
 * the question as it now is (with its support counted in SQL), and only
 * then is the change told to subscribers. So what a page is shown has
 * been written, and a page that reloads the list sees the same. Events
 * are numbered within the live session but not kept: what a page that
 * reconnects missed comes from the store, as it is now.
 */
#include "kk-questions.h"

#include "kk-json.h"

G_DEFINE_QUARK (kk-questions-error-quark, kk_questions_error)

static const char *const state_names[] = {
  [KK_QUESTION_OPEN] = "open",
  [KK_QUESTION_ANSWERING] = "answering",
  [KK_QUESTION_ANSWERED] = "answered",
  [KK_QUESTION_HIDDEN] = "hidden",
};

const char *
kk_question_state_to_string (KkQuestionState state)
{
  g_return_val_if_fail (state <= KK_QUESTION_HIDDEN, "open");

  return state_names[state];
}

gboolean
kk_question_state_from_string (const char *text, KkQuestionState *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (text, state_names[i]) == 0) {
      *state = i;
      return TRUE;
    }
  return FALSE;
}

KkQuestion *
kk_question_copy (const KkQuestion *question)
{
  KkQuestion *copy = g_memdup2 (question, sizeof *question);

  copy->id = g_strdup (question->id);
  copy->session_id = g_strdup (question->session_id);
  copy->room_id = g_strdup (question->room_id);
  copy->party_id = g_strdup (question->party_id);
  copy->participant_id = g_strdup (question->participant_id);
  copy->asker = g_strdup (question->asker);
  copy->text = g_strdup (question->text);
  return copy;
}

void
kk_question_free (KkQuestion *question)
{
  if (question == NULL)
    return;
  g_free (question->id);
  g_free (question->session_id);
  g_free (question->room_id);
  g_free (question->party_id);
  g_free (question->participant_id);
  g_free (question->asker);
  g_free (question->text);
  g_free (question);
}

/* ---- text and requests (pure) ---- */

/* Characters that change how the text around them is shown without
 * being seen: the bidirectional embeddings, overrides and isolates. A
 * question could otherwise display as something other than what was
 * asked (and stored, and exported). */
static gboolean
is_bidi_control (gunichar c)
{
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

char *
kk_question_clean_text (const char *text, GError **error)
{
  g_autoptr (GString) out = NULL;
  glong chars = 0;
  gboolean space = FALSE;

  if (text == NULL || !g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID,
        "the question must be UTF-8 text");
    return NULL;
  }
  out = g_string_new (NULL);
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_unichar_isspace (c)) {
      /* Line breaks and tabs become one space between words. */
      space = out->len > 0;
      continue;
    }
    if (g_unichar_type (c) == G_UNICODE_CONTROL || is_bidi_control (c))
      continue;
    if (space) {
      g_string_append_c (out, ' ');
      chars++;
      space = FALSE;
    }
    g_string_append_unichar (out, c);
    /* Counted as it grows, so that a huge body is refused early. */
    if (++chars > KK_QUESTION_MAX_CHARS) {
      g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_TOO_LONG,
          "a question may have at most %d characters",
          KK_QUESTION_MAX_CHARS);
      return NULL;
    }
  }
  if (out->len == 0) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID,
        "the question is empty");
    return NULL;
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* A kk-json error becomes ours, as invalid input. */
static void
invalid_request (GError **error, GError *json_error)
{
  g_set_error_literal (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID,
      json_error->message);
  g_error_free (json_error);
}

gboolean
kk_question_parse_ask (const char *data, gsize length, char **text,
    gboolean *anonymous, GError **error)
{
  static const char *const allowed[] = { "text", "anonymous", NULL };
  GError *json_error = NULL;
  g_autoptr (JsonObject) object = kk_json_parse_object (data, length, allowed,
      &json_error);
  JsonNode *node;

  if (object == NULL) {
    invalid_request (error, json_error);
    return FALSE;
  }
  node = json_object_get_member (object, "text");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID,
        "the body must be {\"text\": \"...\", \"anonymous\": false}");
    return FALSE;
  }
  *anonymous = FALSE;
  node = json_object_get_member (object, "anonymous");
  if (node != NULL) {
    if (!JSON_NODE_HOLDS_VALUE (node)
        || json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
      g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID,
          "\"anonymous\" must be true or false");
      return FALSE;
    }
    *anonymous = json_node_get_boolean (node);
  }
  *text = kk_question_clean_text (json_object_get_string_member (object,
          "text"), error);
  return *text != NULL;
}

gboolean
kk_question_parse_state (const char *data, gsize length,
    KkQuestionState *state, GError **error)
{
  GError *json_error = NULL;
  g_autofree char *name = kk_json_parse_one_string (data, length, "state",
      "the body must be {\"state\": \"open\"|\"answering\"|\"answered\"|"
      "\"hidden\"}", &json_error);

  if (name == NULL) {
    invalid_request (error, json_error);
    return FALSE;
  }
  if (!kk_question_state_from_string (name, state)) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID,
        "a state is one of open, answering, answered, hidden");
    return FALSE;
  }
  return TRUE;
}

int
kk_question_compare (gconstpointer a, gconstpointer b)
{
  const KkQuestion *x = *(KkQuestion * const *) a;
  const KkQuestion *y = *(KkQuestion * const *) b;

  if (x->supports != y->supports)
    return x->supports > y->supports ? -1 : 1;
  if (x->asked_at != y->asked_at)
    return x->asked_at < y->asked_at ? -1 : 1;
  return g_strcmp0 (x->id, y->id);
}

/* ---- the object ---- */

/* One room's live session and the number of its last event. Only the
 * number is kept, never the events: a copy of a question as it was would
 * outlive its hiding and its asker's erasure, so a page that reconnects
 * is sent the store's current rows instead (kk-questions.h). */
typedef struct {
  char *session_id;
  guint64 last_seq;
} LiveSession;

typedef struct {
  guint id;
  char *room_id;
  KkQuestionsEventFunc func;
  gpointer user_data;
} Subscriber;

struct _KkQuestions {
  GObject parent;

  KkStore *store;
  GHashTable *rooms;            /* room id → LiveSession (owned) */
  GPtrArray *subscribers;       /* Subscriber (owned) */
  guint next_subscriber;
  guint64 erasures;             /* told so far: kk_questions_get_erasures () */
};

G_DEFINE_FINAL_TYPE (KkQuestions, kk_questions, G_TYPE_OBJECT)

static void
live_session_free (LiveSession *live)
{
  g_free (live->session_id);
  g_free (live);
}

static void
subscriber_free (Subscriber *subscriber)
{
  g_free (subscriber->room_id);
  g_free (subscriber);
}

static void
kk_questions_finalize (GObject *object)
{
  KkQuestions *questions = KK_QUESTIONS (object);

  g_hash_table_unref (questions->rooms);
  g_ptr_array_unref (questions->subscribers);
  g_clear_object (&questions->store);
  G_OBJECT_CLASS (kk_questions_parent_class)->finalize (object);
}

static void
kk_questions_class_init (KkQuestionsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_questions_finalize;
}

static void
kk_questions_init (KkQuestions *questions)
{
  questions->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) live_session_free);
  questions->subscribers = g_ptr_array_new_with_free_func (
      (GDestroyNotify) subscriber_free);
}

/* Calls the subscribers of @room_id (every room's when NULL) with @event.
 * A subscriber may unsubscribe (itself or another) while told. */
static void
notify (KkQuestions *questions, const char *room_id,
    const KkQuestionsEvent *event)
{
  g_autoptr (GPtrArray) subscribers = g_ptr_array_new ();

  for (guint i = 0; i < questions->subscribers->len; i++) {
    Subscriber *s = questions->subscribers->pdata[i];

    if (room_id == NULL || g_str_equal (s->room_id, room_id))
      g_ptr_array_add (subscribers, GUINT_TO_POINTER (s->id));
  }
  for (guint i = 0; i < subscribers->len; i++) {
    guint id = GPOINTER_TO_UINT (subscribers->pdata[i]);

    for (guint j = 0; j < questions->subscribers->len; j++) {
      Subscriber *s = questions->subscribers->pdata[j];

      if (s->id == id) {
        s->func (event, s->user_data);
        break;
      }
    }
  }
}

/* Tells the room's subscribers @event (its question and removed ids
 * set) as the next event of @room_id's live session, if that is
 * @session_id. A change that comes back from the store after its session
 * ended is not an event of a live session: the pages reloaded at the
 * end. */
static void
tell (KkQuestions *questions, const char *room_id, const char *session_id,
    gboolean live, KkQuestionsEvent *event)
{
  LiveSession *session = g_hash_table_lookup (questions->rooms, room_id);

  if (session == NULL || g_strcmp0 (session->session_id, session_id) != 0)
    return;
  event->seq = ++session->last_seq;
  event->session_id = session->session_id;
  event->live = live;
  notify (questions, room_id, event);
}

/* Tells @question (taken), or with NULL the session's start or end. */
static void
publish (KkQuestions *questions, const char *room_id, const char *session_id,
    gboolean live, KkQuestion *question)
{
  KkQuestionsEvent event = { .question = question };

  tell (questions, room_id, session_id, live, &event);
  kk_question_free (question);
}

/* ---- sessions ---- */

static void
on_session_opened (KkLecture *lecture, const char *session_id,
    gint64 started_wall_us, gpointer user_data)
{
  KkQuestions *questions = user_data;
  const char *room_id = kk_room_get_id (kk_lecture_get_room (lecture));
  LiveSession *live = g_new0 (LiveSession, 1);

  live->session_id = g_strdup (session_id);
  g_hash_table_replace (questions->rooms, g_strdup (room_id), live);
  /* So that pages open for the room know they may ask now. */
  publish (questions, room_id, session_id, TRUE, NULL);
}

static void
on_session_closed (KkLecture *lecture, const char *session_id,
    gint64 ended_wall_us, gpointer user_data)
{
  KkQuestions *questions = user_data;
  const char *room_id = kk_room_get_id (kk_lecture_get_room (lecture));

  /* The end is an event too, so that pages know to stop asking. */
  publish (questions, room_id, session_id, FALSE, NULL);
  g_hash_table_remove (questions->rooms, room_id);
}

void
kk_questions_watch (KkQuestions *questions, KkLecture *lecture)
{
  const char *session_id = kk_lecture_get_session_id (lecture);

  g_signal_connect_object (lecture, "session-opened",
      G_CALLBACK (on_session_opened), questions, 0);
  g_signal_connect_object (lecture, "session-closed",
      G_CALLBACK (on_session_closed), questions, 0);
  if (session_id != NULL)
    on_session_opened (lecture, session_id, 0, questions);
}

const char *
kk_questions_get_live_session (KkQuestions *questions, const char *room_id)
{
  LiveSession *live = g_hash_table_lookup (questions->rooms, room_id);

  return live != NULL ? live->session_id : NULL;
}

/* ---- store jobs (store thread) ---- */

#define QUESTION_COLUMNS \
  "q.id, q.session_id, q.room_id, q.party_id, q.participant_id," \
  " COALESCE(p.name, ''), q.anonymous, q.text, q.state, q.asked_at," \
  " q.state_at," \
  " (SELECT COUNT(*) FROM question_supports s WHERE s.question_id = q.id)," \
  " (SELECT COUNT(*) FROM question_supports s WHERE s.question_id = q.id" \
  "   AND s.party_id = ?2)" \
  " FROM questions q LEFT JOIN participants p ON p.id = q.participant_id"

static KkQuestion *
read_question (KkDbStmt *stmt)
{
  KkQuestion *q = g_new0 (KkQuestion, 1);

  q->id = kk_db_column_dup (stmt, 0);
  q->session_id = kk_db_column_dup (stmt, 1);
  q->room_id = kk_db_column_dup (stmt, 2);
  q->party_id = kk_db_column_dup (stmt, 3);
  q->participant_id = kk_db_column_dup (stmt, 4);
  q->asker = kk_db_column_dup (stmt, 5);
  q->anonymous = kk_db_column_int64 (stmt, 6) != 0;
  q->text = kk_db_column_dup (stmt, 7);
  if (!kk_question_state_from_string (kk_db_column_text (stmt, 8),
          &q->state))
    q->state = KK_QUESTION_OPEN;
  q->asked_at = kk_db_column_int64 (stmt, 9);
  q->state_at = kk_db_column_int64 (stmt, 10);
  q->supports = kk_db_column_int64 (stmt, 11);
  q->supported = kk_db_column_int64 (stmt, 12) > 0;
  return q;
}

/* The question @id, as it is now; %KK_QUESTIONS_ERROR_NOT_FOUND. */
static KkQuestion *
load_question (KkDb *db, const char *id, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " QUESTION_COLUMNS
      " WHERE q.id = ?1", error);
  KkDbStep step;

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, id);
  kk_db_bind_null (stmt, 2);
  step = kk_db_step (stmt, error);
  if (step == KK_DB_ROW)
    return read_question (stmt);
  if (step == KK_DB_DONE)
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_NOT_FOUND,
        "no such question");
  return NULL;
}

GPtrArray *
kk_questions_list_in_db (KkDb *db, const char *session_id,
    const char *viewer_party_id, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " QUESTION_COLUMNS
      " WHERE q.session_id = ?1", error);
  g_autoptr (GPtrArray) list = NULL;
  KkDbStep step;

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, session_id);
  kk_db_bind_text (stmt, 2, viewer_party_id);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) kk_question_free);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW)
    g_ptr_array_add (list, read_question (stmt));
  if (step == KK_DB_ERROR)
    return NULL;
  g_ptr_array_sort (list, kk_question_compare);
  return g_steal_pointer (&list);
}

typedef struct {
  char *room_id;
  char *session_id;
  char *question_id;
  char *party_id;
  char *participant_id;
  char *text;
  gboolean anonymous;
  KkQuestionState state;
  gint64 now_us;
  KkDbTransactionFunc work;     /* the change, in one transaction */
  /* Set by state_in_transaction: the question that was answering before,
   * now answered, to be published too. */
  KkQuestion *previous;
} ChangeJob;

static void
change_job_free (ChangeJob *job)
{
  g_free (job->room_id);
  g_free (job->session_id);
  g_free (job->question_id);
  g_free (job->party_id);
  g_free (job->participant_id);
  g_free (job->text);
  kk_question_free (job->previous);
  g_free (job);
}

/* The first column of @sql's first row with ?1 = @key, into @value (NULL
 * without a row). */
static gboolean
select_text (KkDb *db, const char *sql, const char *key, char **value,
    GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, key);
  step = kk_db_step (stmt, error);
  if (step == KK_DB_ROW)
    *value = kk_db_column_dup (stmt, 0);
  return step != KK_DB_ERROR;
}

static gboolean
ask_in_transaction (KkDb *db, gpointer user_data, GError **error)
{
  ChangeJob *job = user_data;
  g_autoptr (KkDbStmt) stmt = NULL;
  g_autofree char *participant_id = g_strdup (job->participant_id);

  /* Signed with the name given at the join: the screen's own person. */
  if (participant_id == NULL
      && !select_text (db, "SELECT id FROM participants"
          " WHERE party_id = ?1 AND ord = 0", job->party_id, &participant_id,
          error))
    return FALSE;
  stmt = kk_db_prepare (db, "INSERT INTO questions (id, session_id, room_id,"
      " party_id, participant_id, anonymous, text, state, asked_at, state_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?8)", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->question_id);
  kk_db_bind_text (stmt, 2, job->session_id);
  kk_db_bind_text (stmt, 3, job->room_id);
  kk_db_bind_text (stmt, 4, job->party_id);
  kk_db_bind_text (stmt, 5, participant_id);
  kk_db_bind_int64 (stmt, 6, job->anonymous);
  kk_db_bind_text (stmt, 7, job->text);
  kk_db_bind_int64 (stmt, 8, job->now_us);
  return kk_db_step_done (stmt, error);
}

static gboolean
support_in_transaction (KkDb *db, gpointer user_data, GError **error)
{
  ChangeJob *job = user_data;
  g_autoptr (KkQuestion) question = load_question (db, job->question_id,
      error);
  g_autoptr (KkDbStmt) stmt = NULL;
  g_autoptr (GError) insert_error = NULL;

  if (question == NULL)
    return FALSE;
  if (g_strcmp0 (question->room_id, job->room_id) != 0
      || g_strcmp0 (question->session_id, job->session_id) != 0
      || question->state == KK_QUESTION_HIDDEN) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_NOT_FOUND,
        "no such question in this room's live session");
    return FALSE;
  }
  if (g_strcmp0 (question->party_id, job->party_id) == 0) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_CONFLICT,
        "this screen asked the question itself");
    return FALSE;
  }
  stmt = kk_db_prepare (db, "INSERT INTO question_supports (question_id,"
      " party_id, participant_id, supported_at) VALUES (?1, ?2, ?3, ?4)",
      error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->question_id);
  kk_db_bind_text (stmt, 2, job->party_id);
  kk_db_bind_text (stmt, 3, job->participant_id);
  kk_db_bind_int64 (stmt, 4, job->now_us);
  if (kk_db_step_done (stmt, &insert_error))
    return TRUE;
  if (g_error_matches (insert_error, KK_STORE_ERROR, KK_STORE_ERROR_EXISTS))
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_CONFLICT,
        "this screen supports the question already");
  else
    g_propagate_error (error, g_steal_pointer (&insert_error));
  return FALSE;
}

static gboolean
state_in_transaction (KkDb *db, gpointer user_data, GError **error)
{
  ChangeJob *job = user_data;
  g_autoptr (KkQuestion) question = load_question (db, job->question_id,
      error);
  g_autoptr (KkDbStmt) stmt = NULL;

  if (question == NULL)
    return FALSE;
  if (g_strcmp0 (question->room_id, job->room_id) != 0) {
    g_set_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_NOT_FOUND,
        "no such question in this room");
    return FALSE;
  }
  job->session_id = g_strdup (question->session_id);
  if (question->state == job->state)
    return TRUE;
  /* At most one question is being answered: the host moved on from the
   * one before, which is answered now. */
  if (job->state == KK_QUESTION_ANSWERING) {
    g_autofree char *previous_id = NULL;

    if (!select_text (db, "SELECT id FROM questions WHERE session_id = ?1"
            " AND state = 'answering'", question->session_id, &previous_id,
            error))
      return FALSE;
    if (previous_id != NULL) {
      stmt = kk_db_prepare (db, "UPDATE questions SET state = 'answered',"
          " state_at = ?2 WHERE id = ?1", error);
      if (stmt == NULL)
        return FALSE;
      kk_db_bind_text (stmt, 1, previous_id);
      kk_db_bind_int64 (stmt, 2, job->now_us);
      if (!kk_db_step_done (stmt, error))
        return FALSE;
      g_clear_pointer (&stmt, kk_db_stmt_free);
      job->previous = load_question (db, previous_id, error);
      if (job->previous == NULL)
        return FALSE;
    }
  }
  stmt = kk_db_prepare (db, "UPDATE questions SET state = ?2, state_at = ?3"
      " WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->question_id);
  kk_db_bind_text (stmt, 2, kk_question_state_to_string (job->state));
  kk_db_bind_int64 (stmt, 3, job->now_us);
  return kk_db_step_done (stmt, error);
}

/* Every change: its work in one transaction, then the question as it
 * now is. */
static gpointer
change_job (KkDb *db, gpointer job_data, GError **error)
{
  ChangeJob *job = job_data;

  if (!kk_db_transaction (db, job->work, job, error))
    return NULL;
  return load_question (db, job->question_id, error);
}

/* ---- changes (main) ---- */

static void
change_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkQuestions *questions = g_task_get_source_object (task);
  ChangeJob *job = g_task_get_task_data (task);
  GError *error = NULL;
  KkQuestion *question = kk_store_run_finish (KK_STORE (source), result,
      &error);

  if (question == NULL) {
    g_task_return_error (task, error);
    return;
  }
  if (job->previous != NULL) {
    KkQuestion *previous = g_steal_pointer (&job->previous);

    publish (questions, job->room_id, previous->session_id, TRUE,
        previous);
  }
  publish (questions, job->room_id, question->session_id, TRUE,
      kk_question_copy (question));
  g_task_return_pointer (task, question, (GDestroyNotify) kk_question_free);
}

/* Queues @job (taken) for @callback. */
static void
run_change (KkQuestions *questions, ChangeJob *job,
    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (questions, NULL, callback, user_data);

  job->now_us = g_get_real_time ();
  g_task_set_task_data (task, job, (GDestroyNotify) change_job_free);
  kk_store_run_async (questions->store, change_job, job, NULL,
      (GDestroyNotify) kk_question_free, change_done, task);
}

/* A change a screen makes in @room_id's live session; NULL after
 * answering @callback with NOT_LIVE when there is none. */
static ChangeJob *
screen_change_new (KkQuestions *questions, const char *room_id,
    const char *party_id, const char *participant_id,
    KkDbTransactionFunc work, GAsyncReadyCallback callback,
    gpointer user_data)
{
  const char *session_id = kk_questions_get_live_session (questions,
      room_id);
  ChangeJob *job;

  if (session_id == NULL) {
    g_task_report_new_error (questions, callback, user_data,
        screen_change_new, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_NOT_LIVE,
        "the lecture is not live: questions can be asked during the "
        "session");
    return NULL;
  }
  job = g_new0 (ChangeJob, 1);
  job->room_id = g_strdup (room_id);
  job->session_id = g_strdup (session_id);
  job->party_id = g_strdup (party_id);
  job->participant_id = g_strdup (participant_id);
  job->work = work;
  return job;
}

void
kk_questions_ask_async (KkQuestions *questions, const char *room_id,
    const char *party_id, const char *participant_id, const char *text,
    gboolean anonymous, GAsyncReadyCallback callback, gpointer user_data)
{
  ChangeJob *job = screen_change_new (questions, room_id, party_id,
      participant_id, ask_in_transaction, callback, user_data);

  if (job == NULL)
    return;
  job->question_id = g_uuid_string_random ();
  job->text = g_strdup (text);
  job->anonymous = anonymous;
  run_change (questions, job, callback, user_data);
}

void
kk_questions_support_async (KkQuestions *questions, const char *room_id,
    const char *question_id, const char *party_id,
    const char *participant_id, GAsyncReadyCallback callback,
    gpointer user_data)
{
  ChangeJob *job = screen_change_new (questions, room_id, party_id,
      participant_id, support_in_transaction, callback, user_data);

  if (job == NULL)
    return;
  job->question_id = g_strdup (question_id);
  run_change (questions, job, callback, user_data);
}

void
kk_questions_set_state_async (KkQuestions *questions, const char *room_id,
    const char *question_id, KkQuestionState state,
    GAsyncReadyCallback callback, gpointer user_data)
{
  ChangeJob *job = g_new0 (ChangeJob, 1);

  job->room_id = g_strdup (room_id);
  job->question_id = g_strdup (question_id);
  job->state = state;
  job->work = state_in_transaction;
  run_change (questions, job, callback, user_data);
}

KkQuestion *
kk_questions_change_finish (KkQuestions *questions, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, questions), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- lists ---- */

typedef struct {
  char *session_id;
  char *viewer_party_id;
} ListJob;

static void
list_job_free (ListJob *job)
{
  g_free (job->session_id);
  g_free (job->viewer_party_id);
  g_free (job);
}

static gpointer
list_job (KkDb *db, gpointer job_data, GError **error)
{
  ListJob *job = job_data;

  return kk_questions_list_in_db (db, job->session_id, job->viewer_party_id,
      error);
}

static void
list_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  GPtrArray *list = kk_store_run_finish (KK_STORE (source), result, &error);

  if (list == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, list, (GDestroyNotify) g_ptr_array_unref);
}

void
kk_questions_list_async (KkQuestions *questions, const char *session_id,
    const char *viewer_party_id, GAsyncReadyCallback callback,
    gpointer user_data)
{
  GTask *task = g_task_new (questions, NULL, callback, user_data);
  ListJob *job = g_new0 (ListJob, 1);

  job->session_id = g_strdup (session_id);
  job->viewer_party_id = g_strdup (viewer_party_id);
  kk_store_run_async (questions->store, list_job, job,
      (GDestroyNotify) list_job_free, (GDestroyNotify) g_ptr_array_unref,
      list_done, task);
}

GPtrArray *
kk_questions_list_finish (KkQuestions *questions, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, questions), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- subscribers ---- */

guint
kk_questions_subscribe (KkQuestions *questions, const char *room_id,
    KkQuestionsEventFunc func, gpointer user_data)
{
  Subscriber *subscriber = g_new0 (Subscriber, 1);

  subscriber->id = ++questions->next_subscriber;
  subscriber->room_id = g_strdup (room_id);
  subscriber->func = func;
  subscriber->user_data = user_data;
  g_ptr_array_add (questions->subscribers, subscriber);
  return subscriber->id;
}

void
kk_questions_unsubscribe (KkQuestions *questions, guint id)
{
  for (guint i = 0; i < questions->subscribers->len; i++)
    if (((Subscriber *) questions->subscribers->pdata[i])->id == id) {
      g_ptr_array_remove_index_fast (questions->subscribers, i);
      return;
    }
}

guint64
kk_questions_get_erasures (KkQuestions *questions)
{
  return questions->erasures;
}

guint64
kk_questions_last_seq (KkQuestions *questions, const char *room_id)
{
  LiveSession *live = g_hash_table_lookup (questions->rooms, room_id);

  return live != NULL ? live->last_seq : 0;
}

/* ---- erasure and retention (store thread) ---- */

static gboolean
delete_by (KkDb *db, const char *sql, const char *key, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, key);
  return kk_db_step_done (stmt, error);
}

/* What an erasure took of the questions, told once it is committed. */
typedef struct {
  GPtrArray *removed;           /* KkQuestion: id, room and session only */
  GPtrArray *changed;           /* KkQuestion as it now is */
  char *participant_id;         /* whose receipts no longer read */
  char *party_id;               /* nullable: the screen, when it went too */
} Erased;

void
kk_questions_erased_free (gpointer data)
{
  Erased *erased = data;

  if (erased == NULL)
    return;
  g_ptr_array_unref (erased->removed);
  g_ptr_array_unref (erased->changed);
  g_free (erased->participant_id);
  g_free (erased->party_id);
  g_free (erased);
}

/* The questions that are about to go (their asker's, and the screen's
 * when it goes too), and the ids of others that are about to lose a
 * support of theirs. ?3 is 1 when the party goes. */
static gboolean
find_erased (KkDb *db, const char *participant_id, const char *party_id,
    gboolean party_erased, Erased *erased, GPtrArray *lowered,
    GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT id, room_id,"
      " session_id FROM questions WHERE participant_id = ?1"
      " OR (?3 = 1 AND party_id = ?2)", error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, participant_id);
  kk_db_bind_text (stmt, 2, party_id);
  kk_db_bind_int64 (stmt, 3, party_erased);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    KkQuestion *q = g_new0 (KkQuestion, 1);

    q->id = kk_db_column_dup (stmt, 0);
    q->room_id = kk_db_column_dup (stmt, 1);
    q->session_id = kk_db_column_dup (stmt, 2);
    g_ptr_array_add (erased->removed, q);
  }
  if (step == KK_DB_ERROR)
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "SELECT DISTINCT s.question_id"
      " FROM question_supports s JOIN questions q ON q.id = s.question_id"
      " WHERE (s.participant_id = ?1 OR (?3 = 1 AND s.party_id = ?2))"
      " AND COALESCE(q.participant_id, '') <> ?1"
      " AND NOT (?3 = 1 AND q.party_id = ?2)", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, participant_id);
  kk_db_bind_text (stmt, 2, party_id);
  kk_db_bind_int64 (stmt, 3, party_erased);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW)
    g_ptr_array_add (lowered, kk_db_column_dup (stmt, 0));
  return step != KK_DB_ERROR;
}

gboolean
kk_questions_erase_person (KkDb *db, const char *participant_id,
    const char *party_id, gboolean party_erased, gpointer *erased_out,
    GError **error)
{
  g_autoptr (GPtrArray) lowered = g_ptr_array_new_with_free_func (g_free);
  Erased *erased = g_new0 (Erased, 1);

  /* Handed over at once, so that a failure below frees it too. */
  erased->removed = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_question_free);
  erased->changed = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_question_free);
  erased->participant_id = g_strdup (participant_id);
  erased->party_id = party_erased ? g_strdup (party_id) : NULL;
  *erased_out = erased;
  if (!find_erased (db, participant_id, party_id, party_erased, erased,
          lowered, error))
    return FALSE;

  /* The supports of a deleted question go with it (ON DELETE CASCADE). */
  if (!delete_by (db, "DELETE FROM question_supports"
          " WHERE participant_id = ?1", participant_id, error)
      || !delete_by (db, "DELETE FROM questions WHERE participant_id = ?1",
          participant_id, error))
    return FALSE;
  if (party_erased
      && (!delete_by (db, "DELETE FROM question_supports"
              " WHERE party_id = ?1", party_id, error)
          || !delete_by (db, "DELETE FROM questions WHERE party_id = ?1",
              party_id, error)))
    return FALSE;
  for (guint i = 0; i < lowered->len; i++) {
    KkQuestion *q = load_question (db, lowered->pdata[i], error);

    if (q == NULL)
      return FALSE;
    g_ptr_array_add (erased->changed, q);
  }
  return TRUE;
}

void
kk_questions_tell_erased (gpointer data, gpointer user_data)
{
  Erased *erased = data;
  KkQuestions *questions = user_data;
  g_autoptr (GHashTable) told = g_hash_table_new (g_str_hash, g_str_equal);

  if (erased == NULL)
    return;
  /* One event per session: a person's questions are of one room, but a
   * screen may have asked in several of its sessions (only the live one
   * has subscribers). Erasures are rare and small: the quadratic grouping
   * costs nothing. */
  for (guint i = 0; i < erased->removed->len; i++) {
    KkQuestion *q = erased->removed->pdata[i];
    g_autoptr (GPtrArray) ids = NULL;
    KkQuestionsEvent event = { 0 };

    if (!g_hash_table_add (told, q->session_id))
      continue;
    ids = g_ptr_array_new ();
    for (guint j = i; j < erased->removed->len; j++) {
      KkQuestion *other = erased->removed->pdata[j];

      if (g_str_equal (other->session_id, q->session_id))
        g_ptr_array_add (ids, other->id);
    }
    g_ptr_array_add (ids, NULL);
    event.removed = (const char *const *) ids->pdata;
    tell (questions, q->room_id, q->session_id, TRUE, &event);
  }
  for (guint i = 0; i < erased->changed->len; i++) {
    KkQuestion *q = erased->changed->pdata[i];

    publish (questions, q->room_id, q->session_id, TRUE,
        kk_question_copy (q));
  }
  /* Streams opened with the person's receipt, or with the screen's token
   * when the screen went too, read no more: in whichever room. */
  questions->erasures++;
  notify (questions, NULL, &(KkQuestionsEvent) {
        .revoked_participant_id = erased->participant_id,
        .revoked_party_id = erased->party_id,
      });
}

/* The room's retention is the attendance's (att_settings, kk-attendance-
 * log's table, read here only): a question is kept as long as the raw
 * events of the moment it was asked. */
gint64
kk_questions_purge (KkDb *db, gint64 now_us, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "DELETE FROM questions"
      " WHERE id IN (SELECT q.id FROM questions q JOIN att_settings s"
      "  ON s.room_id = q.room_id"
      "  WHERE s.retention_days > 0"
      "  AND q.asked_at < ?1 - s.retention_days * 86400000000)", error);

  if (stmt == NULL)
    return -1;
  kk_db_bind_int64 (stmt, 1, now_us);
  if (!kk_db_step_done (stmt, error))
    return -1;
  return kk_db_changes (db);
}

KkQuestions *
kk_questions_new (KkStore *store)
{
  KkQuestions *questions = g_object_new (KK_TYPE_QUESTIONS, NULL);

  questions->store = g_object_ref (store);
  return questions;
}
