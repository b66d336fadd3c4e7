/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-questions-api: questions over HTTP, and their live push as
 * Server-Sent Events; see kk-questions-api.h.
 *
 * A stream is a chunked response that never completes: each event is one
 * chunk appended to the response body (not accumulated: libsoup drops a
 * chunk once written), and libsoup's I/O, which pauses itself when the
 * body runs dry, is unpaused. The guard (kk-http-guard) times only the
 * wait for a request and its headers, never a response under way, so a
 * stream needs no exemption there; its own bounds are here: streams per
 * address and in all, what may wait unwritten for one client, and for all
 * of them together.
 *
 * A stream's first burst (the whole list, which a long session can make
 * larger than what one client may leave unwritten) is exempt from the
 * client's bound, not from the overall one: it is only opened while the
 * overall budget has room, and a client that writes nothing of what it
 * was sent for two heartbeats is cut off all the same.
 *
 * The pages read the stream with fetch() rather than EventSource, because
 * EventSource cannot send the Authorization header our tokens travel in
 * (a token in the URL would land in proxy logs); the format is standard
 * SSE all the same, and a page that reconnects sends Last-Event-ID.
 */
#include "kk-questions-api.h"

#include "kk-http.h"
#include "kk-ratelimit.h"

/* The routes' data, kept by the server. */
typedef struct {
  KkAuth *auth;
  KkRoomRegistry *registry;
  KkQuestions *questions;
  KkMetrics *metrics;           /* not a ref: it outlives the server */
  KkRateLimit *asks;            /* per screen (party id) */
  KkRateLimit *supports;        /* per screen (party id) */
  GHashTable *streams;          /* Stream set, open ones */
  GHashTable *per_address;      /* client key → open streams (GUINT) */
  gsize unwritten;              /* of all open streams */
  guint64 streams_cut;          /* closed for not reading */
} KkQuestionsApi;

/* Who reads: a screen sees what other screens may see; the host and the
 * coordinator see everything. */
typedef struct {
  gboolean privileged;
  const char *party_id;         /* the screen's; NULL when privileged */
} Viewer;

/* ---- JSON ---- */

static void
add_question (JsonBuilder *builder, const KkQuestion *q, const Viewer *viewer)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, q->id);
  kk_http_json_add_string (builder, "state",
      kk_question_state_to_string (q->state));
  /* A hidden question is gone for the screens: its id says which. */
  if (!viewer->privileged && q->state == KK_QUESTION_HIDDEN) {
    json_builder_end_object (builder);
    return;
  }
  kk_http_json_add_string (builder, "session_id", q->session_id);
  kk_http_json_add_string (builder, "text", q->text);
  kk_http_json_add_string (builder, "asker",
      viewer->privileged || !q->anonymous ? q->asker : NULL);
  json_builder_set_member_name (builder, "anonymous");
  json_builder_add_boolean_value (builder, q->anonymous);
  json_builder_set_member_name (builder, "supports");
  json_builder_add_int_value (builder, q->supports);
  kk_http_json_add_time (builder, "asked_at", q->asked_at);
  kk_http_json_add_time (builder, "state_at", q->state_at);
  if (viewer->privileged) {
    kk_http_json_add_string (builder, "party_id", q->party_id);
    kk_http_json_add_string (builder, "participant_id", q->participant_id);
  } else {
    json_builder_set_member_name (builder, "mine");
    json_builder_add_boolean_value (builder,
        g_strcmp0 (q->party_id, viewer->party_id) == 0);
    json_builder_set_member_name (builder, "supported");
    json_builder_add_boolean_value (builder, q->supported);
  }
  json_builder_end_object (builder);
}

static void
add_list (JsonBuilder *builder, GPtrArray *list, const Viewer *viewer)
{
  json_builder_set_member_name (builder, "questions");
  json_builder_begin_array (builder);
  for (guint i = 0; list != NULL && i < list->len; i++) {
    const KkQuestion *q = list->pdata[i];

    if (viewer->privileged || q->state != KK_QUESTION_HIDDEN)
      add_question (builder, q, viewer);
  }
  json_builder_end_array (builder);
}

void
kk_questions_api_build_list (JsonBuilder *builder, GPtrArray *list)
{
  const Viewer coordinator = { TRUE, NULL };

  add_list (builder, list, &coordinator);
}

static char *
builder_to_string (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static void
reply_question (SoupServerMessage *msg, guint status, const KkQuestion *q,
    const Viewer *viewer)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  add_question (builder, q, viewer);
  kk_http_reply_builder (msg, status, builder);
}

/* Our errors as HTTP: kk-questions.h says which is which. */
static void
reply_questions_error (KkHttpRequest *request, const GError *error)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

  if (error->domain == KK_QUESTIONS_ERROR) {
    switch ((KkQuestionsError) error->code) {
      case KK_QUESTIONS_ERROR_INVALID:
        status = SOUP_STATUS_BAD_REQUEST;
        break;
      case KK_QUESTIONS_ERROR_TOO_LONG:
        status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
        break;
      case KK_QUESTIONS_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND;
        break;
      case KK_QUESTIONS_ERROR_NOT_LIVE:
      case KK_QUESTIONS_ERROR_CONFLICT:
        status = SOUP_STATUS_CONFLICT;
        break;
    }
  } else {
    g_warning ("questions: %s", error->message);
  }
  kk_http_reply_error (msg, status, "%s", error->message);
}

/* ---- who calls ---- */

static gboolean
require_room (KkQuestionsApi *api, SoupServerMessage *msg,
    const char *room_id)
{
  if (kk_room_registry_lookup (api->registry, room_id) != NULL)
    return TRUE;
  kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such room");
  return FALSE;
}

static const char *const viewer_required =
    "a valid participant token is required (Authorization: Bearer)";

/* A screen of the room (viewer token or check-in receipt): its party and
 * the person whose receipt it was, or a 404/401/403 reply and FALSE. */
static gboolean
require_screen (KkQuestionsApi *api, SoupServerMessage *msg,
    const char *room_id, char **party_id, char **participant_id)
{
  return require_room (api, msg, room_id)
      && kk_auth_require_participant (api->auth, msg, room_id, TRUE,
          viewer_required, party_id, participant_id);
}

/* A screen of the room (viewer token or check-in receipt), or its host,
 * or the coordinator: sets @viewer (@party_id holds the screen's party).
 * A receipt's holder reads as the screen they sit at: the same anonymity
 * rules, and "mine" is the screen's. */
static gboolean
require_reader (KkQuestionsApi *api, SoupServerMessage *msg,
    const char *room_id, Viewer *viewer, char **party_id,
    char **participant_id)
{
  if (!require_room (api, msg, room_id)
      || !kk_auth_require_room_reader (api->auth, msg, room_id,
          viewer_required, &viewer->privileged, party_id, participant_id))
    return FALSE;
  viewer->party_id = *party_id;
  return TRUE;
}

/* ---- routes ---- */

/* A GET of a list across its store read. */
typedef struct {
  KkHttpRequest *request;
  gboolean privileged;
  char *party_id;
  char *session_id;
  guint64 last_seq;
} ListCall;

static void
list_call_free (ListCall *call)
{
  kk_http_request_resume (call->request);
  g_free (call->party_id);
  g_free (call->session_id);
  g_free (call);
}

static void
listed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ListCall *call = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (call->request);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = kk_questions_list_finish (KK_QUESTIONS (source),
      result, &error);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  Viewer viewer = { call->privileged, call->party_id };

  if (list == NULL) {
    reply_questions_error (call->request, error);
    list_call_free (call);
    return;
  }
  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "session_id", call->session_id);
  add_list (builder, list, &viewer);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
  list_call_free (call);
}

static void
get_questions (KkHttpRequest *request, gpointer user_data)
{
  KkQuestionsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  Viewer viewer = { 0 };
  const char *session_id;
  ListCall *call;

  if (!require_reader (api, msg, room_id, &viewer, &party_id,
          &participant_id))
    return;
  session_id = kk_questions_get_live_session (api->questions, room_id);
  if (session_id == NULL) {
    g_autoptr (JsonBuilder) builder = json_builder_new ();

    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "session_id", NULL);
    add_list (builder, NULL, &viewer);
    json_builder_end_object (builder);
    kk_http_reply_builder (msg, SOUP_STATUS_OK, builder);
    return;
  }
  call = g_new0 (ListCall, 1);
  call->request = request;
  call->privileged = viewer.privileged;
  call->party_id = g_steal_pointer (&party_id);
  call->session_id = g_strdup (session_id);
  kk_http_request_pause (request);
  kk_questions_list_async (api->questions, session_id, call->party_id,
      listed_cb, call);
}

static void
get_session_questions (KkHttpRequest *request, gpointer user_data)
{
  KkQuestionsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  ListCall *call;

  if (!kk_auth_require_coordinator (api->auth, msg))
    return;
  call = g_new0 (ListCall, 1);
  call->request = request;
  call->privileged = TRUE;
  call->session_id = g_strdup (kk_http_request_get_param (request, 0));
  kk_http_request_pause (request);
  kk_questions_list_async (api->questions, call->session_id, NULL, listed_cb,
      call);
}

/* A change across its store write, answered as @viewer sees it. */
typedef struct {
  KkHttpRequest *request;
  guint status;
  gboolean privileged;
  char *party_id;
} ChangeCall;

static void
changed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChangeCall *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (KkQuestion) question = kk_questions_change_finish (
      KK_QUESTIONS (source), result, &error);
  Viewer viewer = { call->privileged, call->party_id };

  if (question == NULL) {
    reply_questions_error (call->request, error);
  } else {
    /* The screen that supports a question supports it, whatever the
     * row said when read back. */
    if (!call->privileged && call->status == SOUP_STATUS_OK)
      question->supported = TRUE;
    reply_question (kk_http_request_get_message (call->request),
        call->status, question, &viewer);
  }
  kk_http_request_resume (call->request);
  g_free (call->party_id);
  g_free (call);
}

static ChangeCall *
change_call_new (KkHttpRequest *request, guint status, gboolean privileged,
    char *party_id)
{
  ChangeCall *call = g_new0 (ChangeCall, 1);

  call->request = request;
  call->status = status;
  call->privileged = privileged;
  call->party_id = party_id;
  kk_http_request_pause (request);
  return call;
}

static void
post_question (KkHttpRequest *request, gpointer user_data)
{
  KkQuestionsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *party_id = NULL, *participant_id = NULL, *text = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  gboolean anonymous;
  gint64 wait;
  ChangeCall *call;

  if (!require_screen (api, msg, room_id, &party_id, &participant_id)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_question_parse_ask (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), &text, &anonymous, &error)) {
    reply_questions_error (request, error);
    return;
  }
  if (kk_questions_get_live_session (api->questions, room_id) == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_CONFLICT, "the lecture is not "
        "live: questions can be asked during the session");
    return;
  }
  /* Counted per screen, whoever at it asks: a few a minute is more than
   * a course ever sees from one screen. */
  wait = kk_rate_limit_take (api->asks, party_id, g_get_monotonic_time ());
  if (wait > 0) {
    kk_http_request_reply_limited (request, "question-rate", wait,
        "too many questions from this screen; try again shortly");
    return;
  }
  call = change_call_new (request, SOUP_STATUS_CREATED, FALSE,
      g_strdup (party_id));
  kk_questions_ask_async (api->questions, room_id, party_id, participant_id,
      text, anonymous, changed_cb, call);
}

static void
post_support (KkHttpRequest *request, gpointer user_data)
{
  KkQuestionsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  gint64 wait;
  ChangeCall *call;

  if (!require_screen (api, msg, room_id, &party_id, &participant_id))
    return;
  /* Each support is a store transaction: a script that supports in a
   * loop is held to a pace no screen clicking "me too" ever reaches. */
  wait = kk_rate_limit_take (api->supports, party_id,
      g_get_monotonic_time ());
  if (wait > 0) {
    kk_http_request_reply_limited (request, "question-support-rate", wait,
        "too many supports from this screen; try again shortly");
    return;
  }
  call = change_call_new (request, SOUP_STATUS_OK, FALSE,
      g_strdup (party_id));
  kk_questions_support_async (api->questions, room_id,
      kk_http_request_get_param (request, 1), party_id, participant_id,
      changed_cb, call);
}

static void
put_state (KkHttpRequest *request, gpointer user_data)
{
  KkQuestionsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  KkQuestionState state;
  gboolean is_coordinator;
  ChangeCall *call;

  if (!require_room (api, msg, room_id)
      || !kk_auth_require_coordinator_or_host (api->auth, msg, room_id,
          &is_coordinator)
      || !kk_http_check_content_type (msg, "application/json"))
    return;
  body = kk_http_request_get_body (request);
  if (!kk_question_parse_state (g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), &state, &error)) {
    reply_questions_error (request, error);
    return;
  }
  call = change_call_new (request, SOUP_STATUS_OK, TRUE, NULL);
  kk_questions_set_state_async (api->questions, room_id,
      kk_http_request_get_param (request, 1), state, changed_cb, call);
}

/* ---- event streams ---- */

typedef struct {
  int refs;
  KkQuestionsApi *api;          /* NULL once closed */
  SoupServerMessage *msg;
  char *room_id;
  char *party_id;               /* nullable: privileged */
  char *participant_id;         /* nullable: read with a check-in receipt */
  guint64 erasures_at_open;     /* kk_questions_get_erasures () then */
  gboolean privileged;
  char *client_key;
  guint subscription;
  guint heartbeat_id;
  gboolean first_burst;         /* what is sent now is exempt */
  gsize queued;                 /* appended, not yet written, not exempt */
  gsize unwritten;              /* appended, not yet written, all */
  /* Of the chunks not yet written, oldest first: CHUNK_ENTRY(). */
  GQueue chunks;
  guint stalled_beats;          /* heartbeats since a chunk was written */
  gulong finished_id, disconnected_id, wrote_id;
} Stream;

static Stream *
stream_ref (Stream *stream)
{
  stream->refs++;
  return stream;
}

static void
stream_unref (Stream *stream)
{
  if (--stream->refs > 0)
    return;
  g_object_unref (stream->msg);
  g_free (stream->room_id);
  g_free (stream->party_id);
  g_free (stream->participant_id);
  g_free (stream->client_key);
  g_queue_clear (&stream->chunks);
  g_free (stream);
}

/* Lets go of everything the stream holds in @api; what libsoup still
 * does with the message is its own. */
static void
stream_close (Stream *stream)
{
  KkQuestionsApi *api = stream->api;
  guint count;

  if (api == NULL)
    return;
  stream->api = NULL;
  /* What libsoup still holds of it is freed with the message. */
  api->unwritten -= stream->unwritten;
  stream->unwritten = 0;
  if (stream->subscription != 0)
    kk_questions_unsubscribe (api->questions, stream->subscription);
  g_clear_handle_id (&stream->heartbeat_id, g_source_remove);
  g_signal_handler_disconnect (stream->msg, stream->finished_id);
  g_signal_handler_disconnect (stream->msg, stream->disconnected_id);
  g_signal_handler_disconnect (stream->msg, stream->wrote_id);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (api->per_address,
          stream->client_key));
  if (count <= 1)
    g_hash_table_remove (api->per_address, stream->client_key);
  else
    g_hash_table_insert (api->per_address, g_strdup (stream->client_key),
        GUINT_TO_POINTER (count - 1));
  g_hash_table_remove (api->streams, stream);   /* drops its reference */
}

static void
stream_finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  stream_close (user_data);
}

/* A chunk not yet written, as kept in Stream.chunks: its size, and
 * whether it was part of the exempt first burst. */
#define CHUNK_ENTRY(size, exempt) GSIZE_TO_POINTER ((size) << 1 | !!(exempt))
#define CHUNK_SIZE(entry) (GPOINTER_TO_SIZE (entry) >> 1)
#define CHUNK_EXEMPT(entry) (GPOINTER_TO_SIZE (entry) & 1)

static void
stream_wrote_chunk_cb (SoupServerMessage *msg, gpointer user_data)
{
  Stream *stream = user_data;
  gpointer entry;

  if (g_queue_is_empty (&stream->chunks))
    return;
  entry = g_queue_pop_head (&stream->chunks);
  stream->unwritten -= CHUNK_SIZE (entry);
  stream->api->unwritten -= CHUNK_SIZE (entry);
  if (!CHUNK_EXEMPT (entry))
    stream->queued -= CHUNK_SIZE (entry);
  stream->stalled_beats = 0;
}

/* Lets go of the stream and closes its connection, taken from libsoup,
 * which frees what was queued. */
static void
stream_drop (Stream *stream)
{
  GIOStream *connection;

  stream_ref (stream);
  stream_close (stream);
  connection = soup_server_message_steal_connection (stream->msg);
  if (connection != NULL) {
    g_io_stream_close (connection, NULL, NULL);
    g_object_unref (connection);
  }
  stream_unref (stream);
}

/* Cuts off a client that does not read; it comes back and gets the list
 * as it then is. */
static void
stream_cut (Stream *stream)
{
  g_message ("questions: room %s: a stream that does not read is cut off",
      stream->room_id);
  stream->api->streams_cut++;
  stream_drop (stream);
}

/* Sends @text (taken) as the next chunk. Outside the first burst, a
 * client that has let KK_QUESTIONS_STREAM_MAX_QUEUED bytes pile up is cut
 * off. A first burst that would take all streams together past
 * KK_QUESTIONS_QUEUED_MAX is not sent: the stream is closed (its page
 * comes back later, as after a 429), and so is one that is behind at all
 * when an event would: one that keeps up keeps its events. */
static void
stream_send (Stream *stream, char *text)
{
  KkQuestionsApi *api = stream->api;
  gsize length = strlen (text);

  if (api == NULL) {
    g_free (text);
    return;
  }
  if ((!stream->first_burst
          && stream->queued + length > KK_QUESTIONS_STREAM_MAX_QUEUED)
      || ((stream->first_burst || stream->unwritten > 0)
          && api->unwritten + length > KK_QUESTIONS_QUEUED_MAX)) {
    g_free (text);
    stream_cut (stream);
    return;
  }
  if (!stream->first_burst)
    stream->queued += length;
  stream->unwritten += length;
  api->unwritten += length;
  g_queue_push_tail (&stream->chunks, CHUNK_ENTRY (length,
          stream->first_burst));
  soup_message_body_append (soup_server_message_get_response_body (
          stream->msg), SOUP_MEMORY_TAKE, text, length);
  soup_server_message_unpause (stream->msg);
}

static void
stream_send_event (Stream *stream, const KkQuestionsEvent *event)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  Viewer viewer = { stream->privileged, stream->party_id };
  g_autofree char *data = NULL;
  const char *name;

  if (event->question != NULL) {
    name = "question";
    add_question (builder, event->question, &viewer);
  } else if (event->removed != NULL) {
    /* Gone for everyone, the host too: their asker was erased. */
    name = "removed";
    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "session_id", event->session_id);
    json_builder_set_member_name (builder, "ids");
    json_builder_begin_array (builder);
    for (guint i = 0; event->removed[i] != NULL; i++)
      json_builder_add_string_value (builder, event->removed[i]);
    json_builder_end_array (builder);
    json_builder_end_object (builder);
  } else {
    name = "session";
    json_builder_begin_object (builder);
    kk_http_json_add_string (builder, "session_id", event->session_id);
    json_builder_set_member_name (builder, "live");
    json_builder_add_boolean_value (builder, event->live);
    json_builder_end_object (builder);
  }
  data = builder_to_string (builder);
  stream_send (stream, g_strdup_printf ("id: %s:%" G_GUINT64_FORMAT
          "\nevent: %s\ndata: %s\n\n", event->session_id, event->seq, name,
          data));
}

static void
stream_event_cb (const KkQuestionsEvent *event, gpointer user_data)
{
  Stream *stream = user_data;

  if (event->revoked_participant_id != NULL) {
    if (g_strcmp0 (stream->participant_id,
            event->revoked_participant_id) == 0
        || (event->revoked_party_id != NULL
            && g_strcmp0 (stream->party_id, event->revoked_party_id) == 0))
      stream_drop (stream);   /* the page comes back, and gets 401 */
    return;
  }
  stream_send_event (stream, event);
}

/* A client that has written nothing of what waits for it across two
 * heartbeats is gone or stuck, even with less than its bound waiting
 * (an exempt first burst): it holds no part of the budget any longer. */
static gboolean
stream_heartbeat_cb (gpointer user_data)
{
  Stream *stream = user_data;

  if (stream->unwritten > 0 && ++stream->stalled_beats >= 2) {
    stream->heartbeat_id = 0;
    stream_cut (stream);
    return G_SOURCE_REMOVE;
  }
  stream_send (stream, g_strdup (": keep-alive\n\n"));
  return G_SOURCE_CONTINUE;
}

/* The first burst is over: live events from now on. */
static void
stream_subscribe (Stream *stream)
{
  stream->first_burst = FALSE;
  stream->subscription = kk_questions_subscribe (stream->api->questions,
      stream->room_id, stream_event_cb, stream);
  stream->heartbeat_id = g_timeout_add_seconds (KK_QUESTIONS_HEARTBEAT_S,
      stream_heartbeat_cb, stream);
}

/* The "reset" event: the whole list, as of the last event kept, whose id
 * it takes so that a page resumes after it. */
static void
stream_send_reset (Stream *stream, const char *session_id, GPtrArray *list)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  Viewer viewer = { stream->privileged, stream->party_id };
  g_autofree char *data = NULL;
  g_autofree char *id = NULL;

  json_builder_begin_object (builder);
  kk_http_json_add_string (builder, "session_id", session_id);
  json_builder_set_member_name (builder, "live");
  json_builder_add_boolean_value (builder, session_id != NULL);
  add_list (builder, list, &viewer);
  json_builder_end_object (builder);
  data = builder_to_string (builder);
  if (session_id != NULL)
    id = g_strdup_printf ("id: %s:%" G_GUINT64_FORMAT "\n", session_id,
        kk_questions_last_seq (stream->api->questions, stream->room_id));
  stream_send (stream, g_strdup_printf ("%sevent: reset\ndata: %s\n\n",
          id != NULL ? id : "", data));
}

static void
stream_listed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Stream *stream = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = kk_questions_list_finish (KK_QUESTIONS (source),
      result, &error);
  const char *session_id;

  /* An erasure told while the list was read (its job may have run just
   * before this one) may have revoked what this stream was opened with,
   * and the stream was not yet subscribed to be told: it is closed, and
   * the page comes back to be let in again, or refused. Erasures are
   * rare: the streams caught by one lose nothing but a reconnect. */
  if (stream->api != NULL && kk_questions_get_erasures (
          stream->api->questions) != stream->erasures_at_open)
    stream_drop (stream);
  if (stream->api != NULL) {
    session_id = kk_questions_get_live_session (stream->api->questions,
        stream->room_id);
    if (list == NULL)
      g_warning ("questions: room %s: list for a stream: %s",
          stream->room_id, error->message);
    /* Jobs run in order: every change published by now was written
     * before this list was read, and every later one will be sent. */
    stream_send_reset (stream, session_id, list);
    /* Unless the list did not fit in the overall budget. */
    if (stream->api != NULL)
      stream_subscribe (stream);
  }
  stream_unref (stream);
}

/* Parses a Last-Event-ID of ours, SESSION:SEQ. */
static gboolean
parse_event_id (const char *text, char **session_id, guint64 *seq)
{
  const char *colon = text != NULL ? strrchr (text, ':') : NULL;

  if (colon == NULL || colon == text)
    return FALSE;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXUINT64, seq, NULL))
    return FALSE;
  *session_id = g_strndup (text, colon - text);
  return TRUE;
}

static void
get_events (KkHttpRequest *request, gpointer user_data)
{
  KkQuestionsApi *api = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (
      msg);
  const char *room_id = kk_http_request_get_param (request, 0);
  g_autofree char *party_id = NULL, *participant_id = NULL;
  g_autofree char *client = NULL, *key = NULL, *last_session = NULL;
  const char *session_id;
  Viewer viewer = { 0 };
  Stream *stream;
  guint count;
  guint64 last_seq = 0;

  if (!require_reader (api, msg, room_id, &viewer, &party_id,
          &participant_id))
    return;
  client = kk_http_get_client_address (msg);
  key = kk_rate_limit_client_key (client);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (api->per_address, key));
  if (count >= KK_QUESTIONS_STREAMS_PER_ADDRESS
      || g_hash_table_size (api->streams) >= KK_QUESTIONS_STREAMS_MAX) {
    kk_http_request_reply_limited (request, "question-streams",
        KK_QUESTIONS_HEARTBEAT_S * G_USEC_PER_SEC,
        "too many question streams open; try again shortly");
    return;
  }
  /* A new stream's list may be large: it waits while the streams open
   * hold (nearly) all the budget; they write it, or are cut, within two
   * heartbeats. */
  if (api->unwritten + KK_QUESTIONS_STREAM_MAX_QUEUED
      > KK_QUESTIONS_QUEUED_MAX) {
    kk_http_request_reply_limited (request, "question-budget",
        KK_QUESTIONS_HEARTBEAT_S * G_USEC_PER_SEC,
        "the relay is busy sending questions; try again shortly");
    return;
  }

  stream = g_new0 (Stream, 1);
  stream->refs = 1;             /* api->streams' */
  stream->api = api;
  stream->msg = g_object_ref (msg);
  stream->room_id = g_strdup (room_id);
  stream->party_id = g_steal_pointer (&party_id);
  stream->participant_id = g_steal_pointer (&participant_id);
  stream->erasures_at_open = kk_questions_get_erasures (api->questions);
  stream->privileged = viewer.privileged;
  stream->client_key = g_strdup (key);
  stream->first_burst = TRUE;
  g_queue_init (&stream->chunks);
  g_hash_table_add (api->streams, stream);
  g_hash_table_insert (api->per_address, g_steal_pointer (&key),
      GUINT_TO_POINTER (count + 1));

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  /* nginx passes it on at once rather than buffering it (deploy/). */
  soup_message_headers_replace (headers, "X-Accel-Buffering", "no");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (
          msg), FALSE);
  /* A stream ends when its client goes, or when the server shuts down
   * (which disconnects without finishing). */
  stream->finished_id = g_signal_connect (msg, "finished",
      G_CALLBACK (stream_finished_cb), stream);
  stream->disconnected_id = g_signal_connect (msg, "disconnected",
      G_CALLBACK (stream_finished_cb), stream);
  stream->wrote_id = g_signal_connect (msg, "wrote-chunk",
      G_CALLBACK (stream_wrote_chunk_cb), stream);
  stream_send (stream, g_strdup (": kringkast questions\n\n"));
  if (stream->api == NULL)
    return;                     /* the overall budget is spent */

  /* A page that comes back having missed nothing just goes on; any
   * other gets the list as the store has it now, never the events it
   * missed as they were: a question hidden or a person erased meanwhile
   * must not come back. */
  session_id = kk_questions_get_live_session (api->questions, room_id);
  if (session_id == NULL) {
    stream_send_reset (stream, NULL, NULL);
    if (stream->api != NULL)
      stream_subscribe (stream);
  } else if (parse_event_id (soup_message_headers_get_one (
              soup_server_message_get_request_headers (msg), "Last-Event-ID"),
          &last_session, &last_seq)
      && g_str_equal (last_session, session_id)
      && last_seq == kk_questions_last_seq (api->questions, room_id)) {
    stream_subscribe (stream);
  } else {
    kk_questions_list_async (api->questions, session_id, stream->party_id,
        stream_listed_cb, stream_ref (stream));
  }
}

/* ---- registration ---- */

static void
collect (KkMetrics *metrics, gpointer user_data)
{
  KkQuestionsApi *api = user_data;

  kk_metrics_sample (metrics, "kringkast_question_streams", KK_METRIC_GAUGE,
      "Question event streams open (one per page).", NULL,
      g_hash_table_size (api->streams));
  kk_metrics_sample (metrics, "kringkast_question_streams_unwritten_bytes",
      KK_METRIC_GAUGE, "Bytes sent to question event streams and not yet "
      "written to their sockets, all streams together.", NULL,
      api->unwritten);
  kk_metrics_sample (metrics, "kringkast_question_streams_cut_total",
      KK_METRIC_COUNTER, "Question event streams closed because their "
      "client left too much unread.", NULL, api->streams_cut);
}

static void
api_free (KkQuestionsApi *api)
{
  GList *streams = g_hash_table_get_keys (api->streams);

  kk_metrics_remove_collector (api->metrics, collect, api);

  for (GList *l = streams; l != NULL; l = l->next)
    stream_close (l->data);
  g_list_free (streams);
  g_hash_table_unref (api->streams);
  g_hash_table_unref (api->per_address);
  kk_rate_limit_free (api->asks);
  kk_rate_limit_free (api->supports);
  g_clear_object (&api->auth);
  g_clear_object (&api->registry);
  g_clear_object (&api->questions);
  g_free (api);
}

gboolean
kk_questions_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkQuestions *questions, KkMetrics *metrics,
    GError **error)
{
  KkQuestionsApi *api = g_new0 (KkQuestionsApi, 1);

  api->auth = g_object_ref (auth);
  api->registry = g_object_ref (registry);
  api->questions = g_object_ref (questions);
  api->asks = kk_rate_limit_new (KK_QUESTIONS_ASK_BURST,
      KK_QUESTIONS_ASK_INTERVAL_S * G_USEC_PER_SEC,
      KK_QUESTIONS_ASK_CLIENTS_MAX);
  api->supports = kk_rate_limit_new (KK_QUESTIONS_SUPPORT_BURST,
      KK_QUESTIONS_SUPPORT_INTERVAL_S * G_USEC_PER_SEC,
      KK_QUESTIONS_ASK_CLIENTS_MAX);
  api->streams = g_hash_table_new_full (g_direct_hash, g_direct_equal,
      (GDestroyNotify) stream_unref, NULL);
  api->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  api->metrics = metrics;
  kk_http_server_keep (server, api, (GDestroyNotify) api_free);
  kk_metrics_add_collector (metrics, collect, api);

  kk_http_add_route (server, "GET", "/api/rooms/{room}/questions/events",
      get_events, api);
  kk_http_add_route (server, "GET", "/api/rooms/{room}/questions",
      get_questions, api);
  kk_http_add_route (server, "POST", "/api/rooms/{room}/questions",
      post_question, api);
  kk_http_add_route (server, "POST",
      "/api/rooms/{room}/questions/{id}/support", post_support, api);
  kk_http_add_route (server, "PUT", "/api/rooms/{room}/questions/{id}/state",
      put_state, api);
  kk_http_add_route (server, "GET", "/api/sessions/{session}/questions",
      get_session_questions, api);
  return TRUE;
}
