/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-presence: attendance codes and "still here?" prompts, through a
 * real SoupServer on 127.0.0.1:0 with the store, registry, attendance
 * log, roster and presence and all their routes. Sessions are made the
 * way the log stores them (a row in att_sessions with its frozen policy)
 * and opened with kk_presence_session_opened(), as a lecture's signal
 * would; the attendance report then shows what the evidence gives.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "kk-api.h"
#include "kk-attendance-api.h"
#include "kk-http.h"
#include "kk-presence-api.h"
#include "kk-roster-api.h"
#include "test-database.h"

#define ADMIN_TOKEN "test-admin-token-presence"

typedef struct {
  char *dir;
  KkConfig *config;
  KkStore *store;
  KkRoomRegistry *registry;
  KkAttendanceLog *log;
  KkRoster *roster;
  KkPresence *presence;
  KkMetrics *metrics;
  SoupServer *server;
  SoupSession *session;
  guint16 port;
} Fixture;

static void
start (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkAuth) auth = NULL;

  f->store = kk_store_open (f->dir, f->config->database, &error);
  g_assert_no_error (error);
  f->registry = kk_room_registry_new (f->store, f->config, &error);
  g_assert_no_error (error);
  f->log = kk_attendance_log_new (f->store);
  f->roster = kk_roster_new (f->store, f->registry, f->log, &error);
  g_assert_no_error (error);
  f->presence = kk_presence_new (f->log);
  f->metrics = kk_metrics_new ();
  f->server = kk_http_server_new (f->config, &error);
  g_assert_no_error (error);
  auth = kk_auth_new (f->registry, f->roster, &error);
  g_assert_no_error (error);
  g_assert_true (kk_api_register (f->server, auth, f->registry, f->store,
          f->metrics, f->presence, f->roster, NULL, NULL, &error));
  g_assert_true (kk_attendance_api_register (f->server, auth, f->log,
          f->registry, NULL, &error));
  g_assert_true (kk_roster_api_register (f->server, auth, f->roster,
          f->registry, &error));
  g_assert_true (kk_presence_api_register (f->server, auth, f->registry,
          f->presence, &error));
  g_assert_no_error (error);
  f->port = kk_http_server_get_port (f->server);
  f->session = soup_session_new ();
  soup_session_set_proxy_resolver (f->session, NULL);
}

static void
stop (Fixture *f)
{
  kk_presence_shutdown (f->presence);
  g_clear_object (&f->session);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_clear_pointer (&f->metrics, kk_metrics_free);
  g_clear_object (&f->presence);
  g_clear_object (&f->roster);
  kk_attendance_log_shutdown (f->log);
  g_clear_object (&f->log);
  g_clear_object (&f->registry);
  kk_store_close (f->store);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->store);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-test-presence-XXXXXX", NULL);
  f->config = kk_config_load_from_data ("", 0, NULL, &error);
  g_assert_no_error (error);
  f->config->http_address = g_strdup ("127.0.0.1");
  f->config->http_port = 0;
  f->config->admin_token = g_strdup (ADMIN_TOKEN);
  g_free (f->config->data_dir);
  f->config->data_dir = g_strdup (f->dir);
  f->config->database = kk_test_database_new ();
  start (f);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  stop (f);
  kk_config_free (f->config);
  remove_tree (f->dir);
  g_free (f->dir);
}

typedef struct {
  guint status;
  GBytes *body;
  JsonNode *json;
  char *content_type;
  gboolean done;
} Response;

static void
response_clear (Response *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->json, json_node_unref);
  g_clear_pointer (&r->content_type, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Response, response_clear)

typedef struct {
  SoupMessage *msg;
  Response *r;
} Pending;

static void
sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr (GError) error = NULL;
  const char *type;

  p->r->body = soup_session_send_and_read_finish (SOUP_SESSION (source),
      result, &error);
  g_assert_no_error (error);
  p->r->status = soup_message_get_status (p->msg);
  type = soup_message_headers_get_content_type (
      soup_message_get_response_headers (p->msg), NULL);
  p->r->content_type = g_strdup (type);
  if (g_strcmp0 (type, "application/json") == 0) {
    g_autoptr (JsonParser) parser = json_parser_new ();

    g_assert_true (json_parser_load_from_data (parser,
            g_bytes_get_data (p->r->body, NULL),
            g_bytes_get_size (p->r->body), NULL));
    p->r->json = json_node_ref (json_parser_get_root (parser));
  }
  p->r->done = TRUE;
}

/* Sends a request and returns at once; @r->done says when it is in. */
static Pending *
send_request (Fixture *f, const char *method, const char *path,
    const char *token, const char *type, const char *body, Response *r)
{
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", f->port,
      path);
  Pending *p = g_new0 (Pending, 1);
  SoupMessage *msg = soup_message_new (method, uri);

  p->msg = msg;
  p->r = r;
  response_clear (r);
  r->done = FALSE;
  if (token != NULL) {
    g_autofree char *value = g_strdup_printf ("Bearer %s", token);

    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", value);
  }
  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

    soup_message_set_request_body_from_bytes (msg, type, bytes);
  }
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
      sent, p);
  return p;
}

static guint
wait_response (Pending *p)
{
  Response *r = p->r;

  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (p->msg);
  g_free (p);
  return r->status;
}

static guint
request (Fixture *f, const char *method, const char *path, const char *token,
    const char *type, const char *body, gsize length, Response *r)
{
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", f->port,
      path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  Pending p = { msg, r };

  response_clear (r);
  r->done = FALSE;
  if (token != NULL) {
    g_autofree char *value = g_strdup_printf ("Bearer %s", token);

    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", value);
  }
  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body,
        length != 0 ? length : strlen (body));

    soup_message_set_request_body_from_bytes (msg, type, bytes);
  }
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
      sent, &p);
  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
  return r->status;
}

static JsonObject *
object (Response *r)
{
  g_assert_nonnull (r->json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (r->json));
  return json_node_get_object (r->json);
}

static JsonArray *
array (Response *r)
{
  g_assert_nonnull (r->json);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (r->json));
  return json_node_get_array (r->json);
}

/* Returns the room's host token. */
static char *
make_room (Fixture *f, const char *id)
{
  g_auto (Response) r = { 0 };
  g_autofree char *body = g_strdup_printf ("{\"id\": \"%s\", \"title\": "
      "\"Kurs %s\"}", id, id);

  g_assert_cmpuint (request (f, "POST", "/api/rooms", ADMIN_TOKEN,
          "application/json", body, 0, &r), ==, 201);
  return g_strdup (json_object_get_string_member (object (&r),
          "host_token"));
}

/* Runs @sql on the store's thread (the tests' way to make evidence
 * without a broadcast) and waits. */
typedef struct {
  char *sql;
  gint64 value;
  gboolean done;
} SqlJob;

static gpointer
sql_job (KkDb *db, gpointer data, GError **error)
{
  SqlJob *job = data;
  g_autoptr (KkDbStmt) stmt = NULL;

  if (!g_str_has_prefix (job->sql, "SELECT"))
    return kk_db_exec (db, job->sql, error) ? GINT_TO_POINTER (1) : NULL;
  stmt = kk_db_prepare (db, job->sql, error);
  if (stmt == NULL)
    return NULL;
  job->value = kk_db_step (stmt, NULL) == KK_DB_ROW
      ? kk_db_column_int64 (stmt, 0) : -1;
  return GINT_TO_POINTER (1);
}

static void
sql_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SqlJob *job = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (kk_store_run_finish (KK_STORE (source), result, &error));
  g_assert_no_error (error);
  job->done = TRUE;
}

static gint64
sql (Fixture *f, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gint64
sql (Fixture *f, const char *format, ...)
{
  SqlJob job = { 0 };
  va_list args;

  va_start (args, format);
  job.sql = g_strdup_vprintf (format, args);
  va_end (args);
  kk_store_run_async (f->store, sql_job, &job, NULL, NULL, sql_done,
      &job);
  while (!job.done)
    g_main_context_iteration (NULL, TRUE);
  g_free (job.sql);
  return job.value;
}

static const char *
member_string (JsonObject *o, const char *name)
{
  return json_object_get_string_member_with_default (o, name, NULL);
}

/* Joins @room as @name; returns the token, and the party in @party. */
static char *
join (Fixture *f, const char *room, const char *name, char **party)
{
  g_auto (Response) r = { 0 };
  g_autofree char *path = g_strdup_printf ("/api/rooms/%s/join", room);
  g_autofree char *body = g_strdup_printf ("{\"name\": \"%s\"}", name);
  char *token;

  g_assert_cmpuint (request (f, "POST", path, NULL, "application/json", body,
          0, &r), ==, 201);
  token = g_strdup (member_string (object (&r), "token"));
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, room,
          token, party), ==, KK_TOKEN_OK);
  return token;
}

/* A live session of "kurs" that started @ago_s seconds ago, with this
 * policy frozen (ratio 0.5, no grace), and a connection of each party in
 * @parties (NULL-terminated) since then, still open. */
static void
open_session (Fixture *f, gint64 ago_s, gboolean require_code, guint prompts,
    guint window_s, guint interval_s, const char *const *parties)
{
  gint64 start = kk_attendance_log_now (f->log) - ago_s * G_USEC_PER_SEC;

  sql (f, "INSERT INTO att_sessions (id, room_id, started_at, alive_at,"
      " completion_ratio, grace_s, max_lateness_s, require_code, prompts,"
      " prompt_window_s, prompt_interval_s) VALUES ('s1', 'kurs',"
      " %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", 0.5, 0, NULL, %d, %u, %u,"
      " %u)", start, start, require_code, prompts, window_s, interval_s);
  for (guint i = 0; parties[i] != NULL; i++)
    sql (f, "INSERT INTO att_connections (resource_id, room_id, party_id,"
        " connected_at, alive_at) VALUES ('c%u', 'kurs', '%s',"
        " %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")", i, parties[i], start,
        start);
  kk_presence_session_opened (f->presence, "kurs", "s1");
  /* The session's policy is read by a store job; jobs run, and their
   * results come back, in order, so once this one is back the policy is
   * in place and no request below races it. */
  sql (f, "SELECT 1");
}

/* A check-in at @party's screen; returns the receipt. */
static char *
check_in (Fixture *f, const char *party, const char *name)
{
  g_auto (Response) r = { 0 };
  g_autofree char *code = kk_roster_get_checkin_code (f->roster, "kurs",
      party, NULL);
  g_autofree char *body = g_strdup_printf ("{\"code\": \"%s\", \"name\": "
      "\"%s\"}", code, name);

  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin", NULL,
          "application/json", body, 0, &r), ==, 201);
  return g_strdup (member_string (object (&r), "receipt"));
}

static JsonObject *
row_of (JsonArray *rows, const char *name)
{
  for (guint i = 0; i < json_array_get_length (rows); i++) {
    JsonObject *row = json_array_get_object_element (rows, i);

    if (g_strcmp0 (member_string (row, "name"), name) == 0)
      return row;
  }
  g_error ("no row for %s", name);
}

static guint
answer_code (Fixture *f, const char *token, const char *code)
{
  g_auto (Response) r = { 0 };
  g_autofree char *body = g_strdup_printf ("{\"code\": \"%s\"}", code);

  return request (f, "POST", "/api/rooms/kurs/attendance-code/answer", token,
      "application/json", body, 0, &r);
}

static void
test_code (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *host = make_room (f, "kurs");
  g_autofree char *other_host = make_room (f, "other");
  g_autofree char *party_a = NULL, *party_b = NULL;
  g_autofree char *a = join (f, "kurs", "Anne", &party_a);
  g_autofree char *b = join (f, "kurs", "Bjørn", &party_b);
  g_autofree char *at_a = NULL, *at_b = NULL, *code = NULL, *typed = NULL;
  const char *parties[] = { party_a, party_b, NULL };
  JsonArray *rows;

  /* Only the room's host reveals, and only while it is live. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/attendance-code",
          a, NULL, NULL, 0, &r), ==, 401);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/attendance-code",
          other_host, NULL, NULL, 0, &r), ==, 403);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/attendance-code",
          host, NULL, NULL, 0, &r), ==, 409);
  g_assert_cmpuint (answer_code (f, a, "ABCDEF"), ==, 409);

  open_session (f, 100, TRUE, 0, 180, 900, parties);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/attendance-code",
          host, NULL, NULL, 0, &r), ==, 200);
  g_assert_true (json_object_get_null_member (object (&r), "code"));
  g_assert_cmpuint (answer_code (f, a, "ABCDEF"), ==, 409);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/attendance-code",
          host, NULL, NULL, 0, &r), ==, 201);
  code = g_strdup (member_string (object (&r), "code"));
  g_assert_cmpuint (strlen (code), ==, KK_PRESENCE_CODE_LENGTH);
  g_assert_cmpuint (strspn (code, KK_CHECKIN_ALPHABET), ==,
      KK_PRESENCE_CODE_LENGTH);
  g_assert_cmpstr (member_string (object (&r), "session_id"), ==, "s1");
  g_assert_true (json_object_get_boolean_member (object (&r), "required"));
  /* Asked again: the same code. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/attendance-code",
          host, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "code"), ==, code);

  /* Colleagues checked in at each screen. */
  at_a = check_in (f, party_a, "Ved Anne");
  at_b = check_in (f, party_b, "Ved Bjørn");

  /* Anne's screen answers, typed in lower case: for everyone at it.
   * Bjørn's screen guesses until it may not; his colleague, with her
   * receipt, gives the code for herself. */
  typed = g_ascii_strdown (code, -1);
  g_assert_cmpuint (answer_code (f, NULL, code), ==, 401);
  g_assert_cmpuint (answer_code (f, host, code), ==, 401);
  g_assert_cmpuint (answer_code (f, a, typed), ==, 204);
  g_assert_cmpuint (answer_code (f, a, "WRONG1"), ==, 204);
  for (guint i = 0; i < KK_PRESENCE_MAX_WRONG_CODES; i++)
    g_assert_cmpuint (answer_code (f, b, "AAAAAA"), ==, 422);
  g_assert_cmpuint (answer_code (f, b, code), ==, 429);
  g_assert_cmpuint (answer_code (f, at_b, code), ==, 204);
  g_assert_cmpuint (request (f, "POST",
          "/api/rooms/kurs/attendance-code/answer", a, "application/json",
          "{\"code\": 5}", 0, &r), ==, 400);

  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  rows = array (&r);
  g_assert_cmpuint (json_array_get_length (rows), ==, 4);
  g_assert_true (json_object_get_boolean_member (row_of (rows, "Anne"),
          "code_given"));
  g_assert_true (json_object_get_boolean_member (row_of (rows, "Anne"),
          "completed"));
  g_assert_true (json_object_get_boolean_member (row_of (rows, "Ved Anne"),
          "code_given"));
  g_assert_false (json_object_get_boolean_member (row_of (rows, "Bjørn"),
          "code_given"));
  g_assert_cmpstr (member_string (row_of (rows, "Bjørn"), "verdict"), ==,
      "no-code");
  g_assert_false (json_object_get_boolean_member (row_of (rows, "Bjørn"),
          "completed"));
  g_assert_true (json_object_get_boolean_member (row_of (rows, "Ved Bjørn"),
          "code_given"));
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_codes WHERE"
          " session_id = 's1' AND code = '%s'", code), ==, 1);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_events WHERE kind ="
          " 'code-answer'"), ==, 2);

  /* Over when the session is. */
  kk_presence_session_closed (f->presence, "kurs");
  g_assert_cmpuint (answer_code (f, b, code), ==, 409);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/attendance-code",
          host, NULL, NULL, 0, &r), ==, 409);
}

static void
test_prompts (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_auto (Response) waited = { 0 };
  g_autofree char *host = make_room (f, "kurs");
  g_autofree char *party_a = NULL, *party_b = NULL;
  g_autofree char *a = join (f, "kurs", "Anne", &party_a);
  g_autofree char *b = join (f, "kurs", "Bjørn", &party_b);
  g_autofree char *first = NULL, *path = NULL;
  g_autofree char *at_a = NULL;
  const char *parties[] = { party_a, party_b, NULL };
  Pending *pending;
  JsonArray *rows;
  JsonObject *row;

  /* No session, no prompt; and nobody waits for one. */
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt?wait=5", a,
          NULL, NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/prompt", host,
          NULL, NULL, 0, &r), ==, 409);

  /* Two seconds to answer; no scheduled prompts, the host's only. */
  open_session (f, 100, FALSE, 0, 2, 900, parties);
  at_a = check_in (f, party_a, "Ved Anne");
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt", a, NULL,
          NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt?wait=99", a,
          NULL, NULL, 0, &r), ==, 400);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/prompt", a, NULL,
          NULL, 0, &r), ==, 401);

  /* Bjørn's page is waiting when the host asks: it hears at once. */
  pending = send_request (f, "GET", "/api/rooms/kurs/prompt?wait=20", b,
      NULL, NULL, &waited);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_false (waited.done);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/prompt", host,
          NULL, NULL, 0, &r), ==, 201);
  first = g_strdup (member_string (object (&r), "id"));
  g_assert_cmpuint (wait_response (pending), ==, 200);
  g_assert_cmpstr (member_string (object (&waited), "id"), ==, first);
  g_assert_cmpint (json_object_get_int_member (object (&waited),
          "seconds_left"), <=, 2);

  /* Anne's screen answers in time; then it has nothing open. Her
   * colleague is covered by the screen's answer. */
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt", a, NULL,
          NULL, 0, &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "id"), ==, first);
  path = g_strdup_printf ("/api/rooms/kurs/prompt/%s", first);
  g_assert_cmpuint (request (f, "POST", path, a, NULL, NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "POST", path, a, NULL, NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt", a, NULL,
          NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt", at_a, NULL,
          NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/prompt/nope", a,
          NULL, NULL, 0, &r), ==, 404);

  /* Bjørn answers after the window: told so, and it counts as missed. */
  g_usleep (2100 * 1000);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt", b, NULL,
          NULL, 0, &r), ==, 204);
  g_assert_cmpuint (request (f, "POST", path, b, NULL, NULL, 0, &r), ==, 410);

  /* A waiting poll ends empty when its wait is over, and at once when the
   * session ends. */
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt?wait=1", b,
          NULL, NULL, 0, &r), ==, 204);

  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  rows = array (&r);
  row = row_of (rows, "Anne");
  g_assert_cmpint (json_object_get_int_member (row, "prompts_seen"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (row, "prompts_missed"), ==, 0);
  g_assert_true (json_object_get_boolean_member (row, "completed"));
  row = row_of (rows, "Ved Anne");
  /* Checked in before it, and covered by her screen's answer. */
  g_assert_cmpint (json_object_get_int_member (row, "prompts_seen"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (row, "prompts_missed"), ==, 0);
  row = row_of (rows, "Bjørn");
  g_assert_cmpint (json_object_get_int_member (row, "prompts_missed"), ==, 1);
  g_assert_cmpstr (member_string (row, "verdict"), ==, "missed-prompt");
  g_assert_false (json_object_get_boolean_member (row, "completed"));

  pending = send_request (f, "GET", "/api/rooms/kurs/prompt?wait=20", b,
      NULL, NULL, &waited);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_false (waited.done);
  kk_presence_session_closed (f->presence, "kurs");
  g_assert_cmpuint (wait_response (pending), ==, 204);
  g_assert_cmpuint (request (f, "POST", path, a, NULL, NULL, 0, &r), ==, 404);
}

static void
test_scheduled (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *host = make_room (f, "kurs");
  g_autofree char *party = NULL;
  g_autofree char *a = join (f, "kurs", "Anne", &party);
  const char *parties[] = { party, NULL };
  gint64 deadline;

  /* A session that started long ago with two prompts in 10 s intervals:
   * both are overdue, so both go out now, and no more. */
  open_session (f, 1000, FALSE, 2, 60, 10, parties);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (sql (f, "SELECT count(*) FROM att_prompts WHERE session_id = 's1'")
      < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_prompts"), ==, 2);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/prompt", a, NULL,
          NULL, 0, &r), ==, 200);
  /* The host's come on top, up to the cap. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/prompt", host,
          NULL, NULL, 0, &r), ==, 201);
  for (guint i = 3; i < KK_PRESENCE_MAX_PROMPTS; i++)
    g_free (kk_presence_issue_prompt (f->presence, "kurs", NULL));
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/prompt", host,
          NULL, NULL, 0, &r), ==, 409);
  /* Written in the log's next transactions. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (sql (f, "SELECT count(*) FROM att_prompts")
      < KK_PRESENCE_MAX_PROMPTS && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_prompts"), ==,
      KK_PRESENCE_MAX_PROMPTS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/presence/code", Fixture, NULL, fixture_setup, test_code,
      fixture_teardown);
  g_test_add ("/presence/prompts", Fixture, NULL, fixture_setup,
      test_prompts, fixture_teardown);
  g_test_add ("/presence/scheduled", Fixture, NULL, fixture_setup,
      test_scheduled, fixture_teardown);
  return g_test_run ();
}
