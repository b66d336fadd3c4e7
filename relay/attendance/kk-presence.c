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
 * A viewer's page asks for the open prompt with a long poll: the request
 * is paused until a prompt is issued, the session ends, or its wait is
 * over, and then answered 200 or 204. So a few hundred idle screens cost
 * a few hundred paused requests, not a stream of polls.
 *
 * Who answered is remembered per caller: "party:ID" for a screen's
 * viewer token, "person:ID" for a check-in receipt. A screen's answer
 * covers everyone at it, so a receipt holder whose screen has answered is
 * not asked again.
 */
#include "kk-presence.h"

#include <string.h>

#include "kk-http.h"

typedef struct {
  char *id;
  gint64 issued_us;             /* steady */
  gint64 expires_us;            /* steady */
  GHashTable *answered;         /* caller keys (set) */
} Prompt;

typedef struct _LiveSession LiveSession;

typedef struct {
  KkHttpRequest *request;
  LiveSession *session;
  char *party_key;
  char *person_key;             /* nullable */
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
  KkRoomRegistry *registry;
  KkRoster *roster;
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

/* ---- replies ---- */

static char *
wall_time (KkPresence *presence, gint64 steady_us)
{
  gint64 wall_us = steady_us + (g_get_real_time ()
      - kk_attendance_log_now (presence->log));
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (
      wall_us / G_USEC_PER_SEC);

  return time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ")
      : g_strdup ("");
}

static void
reply_prompt (KkPresence *presence, SoupServerMessage *msg, Prompt *prompt)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *issued = wall_time (presence, prompt->issued_us);
  g_autofree char *expires = wall_time (presence, prompt->expires_us);
  gint64 left = prompt->expires_us - kk_attendance_log_now (presence->log);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, prompt->id);
  json_builder_set_member_name (builder, "issued_at");
  json_builder_add_string_value (builder, issued);
  json_builder_set_member_name (builder, "expires_at");
  json_builder_add_string_value (builder, expires);
  json_builder_set_member_name (builder, "seconds_left");
  json_builder_add_int_value (builder, MAX (left, 0) / G_USEC_PER_SEC);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
}

/* ---- waiting polls ---- */

static void
waiter_finish (Waiter *waiter, Prompt *prompt)
{
  LiveSession *ls = waiter->session;
  SoupServerMessage *msg = kk_http_request_get_message (waiter->request);

  if (waiter->timer != 0)
    g_source_remove (waiter->timer);
  if (prompt != NULL)
    reply_prompt (ls->presence, msg, prompt);
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  kk_http_request_resume (waiter->request);
  kk_http_request_unref (waiter->request);
  ls->presence->n_waiters--;
  g_free (waiter->party_key);
  g_free (waiter->person_key);
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

/* Answers every waiting poll of @ls: with @prompt, or 204 if NULL. */
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
  g_clear_object (&presence->registry);
  g_clear_object (&presence->roster);
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
kk_presence_new (KkAttendanceLog *log, KkRoomRegistry *registry,
    KkRoster *roster)
{
  KkPresence *presence = g_object_new (KK_TYPE_PRESENCE, NULL);

  presence->log = g_object_ref (log);
  presence->registry = g_object_ref (registry);
  presence->roster = g_object_ref (roster);
  return presence;
}

/* ---- routes ---- */

static gboolean
token_refused (SoupServerMessage *msg, KkTokenResult result, const char *role)
{
  if (result == KK_TOKEN_OK)
    return FALSE;
  if (result == KK_TOKEN_WRONG_ROOM)
    kk_http_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "this %s token is for another room", role);
  else
    kk_http_reply_error (msg, SOUP_STATUS_UNAUTHORIZED,
        "a valid %s token is required (Authorization: Bearer)", role);
  return TRUE;
}

/* The room, if it exists and the caller holds its host token; otherwise
 * a 404/401/403 reply and NULL. */
static const char *
require_host (KkPresence *presence, KkHttpRequest *request)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *token = kk_http_get_bearer_token (msg);

  if (kk_room_registry_lookup (presence->registry, room_id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return NULL;
  }
  if (token_refused (msg, kk_room_registry_check_host_token (
              presence->registry, room_id, token), "host"))
    return NULL;
  return room_id;
}

/* A screen (viewer token) or a person at one (check-in receipt). */
static const char *
require_viewer (KkPresence *presence, KkHttpRequest *request, Caller *caller)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *token = kk_http_get_bearer_token (msg);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  KkTokenResult result;

  if (kk_room_registry_lookup (presence->registry, room_id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
    return NULL;
  }
  result = kk_room_registry_check_viewer_token (presence->registry, room_id,
      token, &party_id);
  if (result == KK_TOKEN_UNKNOWN)
    result = kk_roster_check_receipt (presence->roster, room_id, token,
        &participant_id, &party_id);
  if (token_refused (msg, result, "participant"))
    return NULL;
  caller->party_key = g_strconcat ("party:", party_id, NULL);
  if (participant_id != NULL)
    caller->person_key = g_strconcat ("person:", participant_id, NULL);
  return room_id;
}

/* The ids a caller's key stands for, for the log. */
static const char *
key_id (const char *key)
{
  return key != NULL ? strchr (key, ':') + 1 : NULL;
}

static void
reply_code (SoupServerMessage *msg, guint status, LiveSession *ls)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  if (ls != NULL && ls->code != NULL)
    json_builder_add_string_value (builder, ls->code);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "session_id");
  if (ls != NULL)
    json_builder_add_string_value (builder, ls->session_id);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "required");
  json_builder_add_boolean_value (builder, ls != NULL && ls->have_policy
      && ls->policy.require_code);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, status, builder);
}

static void
get_code (KkHttpRequest *request, gpointer user_data)
{
  KkPresence *presence = user_data;
  const char *room_id = require_host (presence, request);

  if (room_id != NULL)
    reply_code (kk_http_request_get_message (request), SOUP_STATUS_OK,
        g_hash_table_lookup (presence->sessions, room_id));
}

static void
post_code (KkHttpRequest *request, gpointer user_data)
{
  KkPresence *presence = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = require_host (presence, request);
  LiveSession *ls;

  if (room_id == NULL)
    return;
  ls = g_hash_table_lookup (presence->sessions, room_id);
  if (ls == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT,
        "the room is not live: a code belongs to a live session");
    return;
  }
  if (ls->code != NULL) {
    reply_code (msg, SOUP_STATUS_OK, ls);
    return;
  }
  ls->code = kk_roster_random_code (KK_PRESENCE_CODE_LENGTH);
  kk_attendance_log_record_code (presence->log, ls->room_id, ls->session_id,
      ls->code, kk_attendance_log_now (presence->log));
  g_info ("room %s: attendance code revealed (session %s)", ls->room_id,
      ls->session_id);
  reply_code (msg, SOUP_STATUS_CREATED, ls);
}

static void
post_code_answer (KkHttpRequest *request, gpointer user_data)
{
  KkPresence *presence = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_auto (Caller) caller = { 0 };
  const char *room_id = require_viewer (presence, request, &caller);
  const char *key;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *typed = NULL;
  JsonObject *object;
  JsonNode *node;
  LiveSession *ls;
  guint wrong;

  if (room_id == NULL || !kk_http_check_content_type (msg, "application/json"))
    return;
  key = caller.person_key != NULL ? caller.person_key : caller.party_key;
  body = kk_http_request_get_body (request);
  root = kk_json_parse (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), &error);
  if (root == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  node = object != NULL ? json_object_get_member (object, "code") : NULL;
  if (node == NULL || json_object_get_size (object) != 1
      || json_node_get_value_type (node) != G_TYPE_STRING) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "the body must be {\"code\": \"...\"}");
    return;
  }
  ls = g_hash_table_lookup (presence->sessions, room_id);
  if (ls == NULL || ls->code == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT,
        "no attendance code has been given in this lecture yet");
    return;
  }
  if (g_hash_table_contains (ls->code_given, key)) {
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
    return;
  }
  wrong = GPOINTER_TO_UINT (g_hash_table_lookup (ls->wrong, key));
  if (wrong >= KK_PRESENCE_MAX_WRONG_CODES) {
    kk_http_reply_error (msg, 429, "too many wrong codes; the course "
        "coordinator can still confirm your attendance");
    return;
  }
  typed = kk_roster_normalise_code (json_node_get_string (node));
  if (!g_str_equal (typed, ls->code)) {
    g_hash_table_replace (ls->wrong, g_strdup (key),
        GUINT_TO_POINTER (wrong + 1));
    kk_http_reply_error (msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
        "that is not the code; %u tries left",
        KK_PRESENCE_MAX_WRONG_CODES - wrong - 1);
    return;
  }
  g_hash_table_add (ls->code_given, g_strdup (key));
  kk_attendance_log_record_code_answer (presence->log, ls->room_id,
      ls->session_id, key_id (caller.party_key), key_id (caller.person_key),
      kk_attendance_log_now (presence->log));
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
get_prompt (KkHttpRequest *request, gpointer user_data)
{
  KkPresence *presence = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_auto (Caller) caller = { 0 };
  const char *room_id = require_viewer (presence, request, &caller);
  const char *wait_text = kk_http_request_get_query (request, "wait");
  gint64 now = kk_attendance_log_now (presence->log);
  guint64 wait = 0;
  LiveSession *ls;
  Waiter *waiter;

  if (room_id == NULL)
    return;
  if (wait_text != NULL && (!g_ascii_string_to_unsigned (wait_text, 10, 0,
              KK_PRESENCE_MAX_WAIT_S, &wait, NULL))) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "wait must be a whole number of seconds from 0 to %d",
        KK_PRESENCE_MAX_WAIT_S);
    return;
  }
  ls = g_hash_table_lookup (presence->sessions, room_id);
  for (guint i = 0; ls != NULL && i < ls->prompts->len; i++) {
    Prompt *prompt = ls->prompts->pdata[i];

    if (prompt->expires_us > now
        && !answered (prompt, caller.party_key, caller.person_key)) {
      reply_prompt (presence, msg, prompt);
      return;
    }
  }
  if (ls == NULL || wait == 0
      || presence->n_waiters >= KK_PRESENCE_MAX_WAITERS) {
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
    return;
  }
  waiter = g_new0 (Waiter, 1);
  waiter->request = kk_http_request_ref (request);
  waiter->session = ls;
  waiter->party_key = g_steal_pointer (&caller.party_key);
  waiter->person_key = g_steal_pointer (&caller.person_key);
  waiter->timer = g_timeout_add_seconds ((guint) wait, waiter_timeout,
      waiter);
  g_ptr_array_add (ls->waiters, waiter);
  presence->n_waiters++;
  kk_http_request_pause (request);
}

static void
post_prompt_answer (KkHttpRequest *request, gpointer user_data)
{
  KkPresence *presence = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_auto (Caller) caller = { 0 };
  const char *room_id = require_viewer (presence, request, &caller);
  const char *id = kk_http_request_get_param (request, 1);
  const char *key;
  gint64 now = kk_attendance_log_now (presence->log);
  Prompt *prompt = NULL;
  LiveSession *ls;

  if (room_id == NULL)
    return;
  key = caller.person_key != NULL ? caller.person_key : caller.party_key;
  ls = g_hash_table_lookup (presence->sessions, room_id);
  for (guint i = 0; ls != NULL && i < ls->prompts->len; i++)
    if (g_str_equal (((Prompt *) ls->prompts->pdata[i])->id, id))
      prompt = ls->prompts->pdata[i];
  if (prompt == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND,
        "no such prompt in the live session");
    return;
  }
  if (g_hash_table_contains (prompt->answered, key)) {
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
    return;
  }
  /* A late answer is evidence too (of when they came back). */
  g_hash_table_add (prompt->answered, g_strdup (key));
  kk_attendance_log_record_prompt_answer (presence->log, ls->room_id,
      prompt->id, key_id (caller.party_key), key_id (caller.person_key), now);
  if (now > prompt->expires_us)
    kk_http_reply_error (msg, SOUP_STATUS_GONE,
        "the time to answer this prompt is over");
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
post_prompt (KkHttpRequest *request, gpointer user_data)
{
  KkPresence *presence = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = require_host (presence, request);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  LiveSession *ls;

  if (room_id == NULL)
    return;
  id = kk_presence_issue_prompt (presence, room_id, &error);
  if (id == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT, "%s", error->message);
    return;
  }
  ls = g_hash_table_lookup (presence->sessions, room_id);
  reply_prompt (presence, msg, ls->prompts->pdata[ls->prompts->len - 1]);
  soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
}

void
kk_presence_register (SoupServer *server, KkPresence *presence)
{
  kk_http_server_keep (server, g_object_ref (presence), g_object_unref);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/attendance-code",
      get_code, presence);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/attendance-code",
      post_code, presence);
  kk_http_add_route (server, "POST",
      "/api/rooms/{room}/attendance-code/answer", post_code_answer, presence);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/prompt", get_prompt,
      presence);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/prompt", post_prompt,
      presence);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/prompt/{id}",
      post_prompt_answer, presence);
}
