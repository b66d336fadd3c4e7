/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-api: the control API through a real SoupServer on 127.0.0.1:0,
 * driven by a SoupSession in the same process (and, for requests a
 * well-behaved client cannot send, by a raw socket on a helper thread).
 *
 * Covers every route and auth case, body limits (413 by Content-Length,
 * by chunked count, and with Expect: 100-continue), 415, 400 for malformed
 * JSON and wrong types, 404 for unknown rooms and path tricks, 405, 409 on
 * concurrent creation, persistence of rooms and tokens across a restart,
 * the registry's token checks and config merge, and /metrics rendering.
 */

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "kk-api.h"
#include "kk-http.h"
#include "test-database.h"

#define ADMIN_TOKEN "test-admin-token-0123456789"

typedef struct {
  char *dir;
  KkConfig *config;
  KkStore *store;
  KkRoomRegistry *registry;
  KkMetrics *metrics;
  SoupServer *server;
  SoupSession *session;
  guint16 port;
  GPtrArray *added;             /* rooms seen by "room-added" */
} Fixture;

static void
room_added_cb (KkRoomRegistry *registry, KkRoom *room, Fixture *f)
{
  g_ptr_array_add (f->added, g_object_ref (room));
}

/* Brings up store, registry, server and API on f->dir and f->config. */
static void
start (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkAuth) auth = NULL;

  f->store = kk_store_open (f->dir, f->config->database, &error);
  g_assert_no_error (error);
  f->registry = kk_room_registry_new (f->store, f->config, &error);
  g_assert_no_error (error);
  g_signal_connect (f->registry, "room-added", G_CALLBACK (room_added_cb), f);
  f->metrics = kk_metrics_new ();
  f->server = kk_http_server_new (f->config, &error);
  g_assert_no_error (error);
  /* No presence, roster, schedule or recordings: the API alone. */
  auth = kk_auth_new (f->registry, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (kk_api_register (f->server, auth, f->registry, f->store,
          f->metrics, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  f->port = kk_http_server_get_port (f->server);
  g_assert_cmpuint (f->port, >, 0);
  f->session = soup_session_new ();
  /* Loopback only: no system proxy lookup (libproxy also throws C++
   * exceptions that trip ASan). */
  soup_session_set_proxy_resolver (f->session, NULL);
}

static void
stop (Fixture *f)
{
  g_clear_object (&f->session);
  /* Let the session's connections close before the server goes. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (f->server != NULL)
    soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_clear_pointer (&f->metrics, kk_metrics_free);
  g_clear_object (&f->registry);
  if (f->store != NULL)
    kk_store_close (f->store);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->store);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-test-api-XXXXXX", NULL);
  f->config = kk_config_load_from_data ("", 0, NULL, &error);
  g_assert_no_error (error);
  f->config->http_address = g_strdup ("127.0.0.1");
  f->config->http_port = 0;
  f->config->admin_token = g_strdup (ADMIN_TOKEN);
  g_free (f->config->data_dir);
  f->config->data_dir = g_strdup (f->dir);
  f->config->database = kk_test_database_new ();
  f->added = g_ptr_array_new_with_free_func (g_object_unref);
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
  g_ptr_array_unref (f->added);
  kk_config_free (f->config);
  remove_tree (f->dir);
  g_free (f->dir);
}

/* HTTP client helpers. */

typedef struct {
  guint status;
  GBytes *body;
  JsonNode *json;
  SoupMessageHeaders *headers;
  GError *error;
} Response;

static void
response_clear (Response *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->json, json_node_unref);
  g_clear_pointer (&r->headers, soup_message_headers_unref);
  g_clear_error (&r->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Response, response_clear)

typedef struct {
  SoupMessage *msg;
  Response *response;
  gboolean done;
} Pending;

static void
sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  Response *r = pending->response;

  r->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
      &r->error);
  r->status = soup_message_get_status (pending->msg);
  r->headers = soup_message_headers_ref (
      soup_message_get_response_headers (pending->msg));
  if (r->body != NULL && g_bytes_get_size (r->body) > 0) {
    const char *type = soup_message_headers_get_content_type (r->headers, NULL);

    if (g_strcmp0 (type, "application/json") == 0) {
      g_autoptr (JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_data (parser, g_bytes_get_data (r->body, NULL),
              g_bytes_get_size (r->body), NULL))
        r->json = json_node_ref (json_parser_get_root (parser));
    }
  }
  pending->done = TRUE;
}

static SoupMessage *
new_message (Fixture *f, const char *method, const char *path,
    const char *token)
{
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", f->port,
      path);
  SoupMessage *msg = soup_message_new (method, uri);

  g_assert_nonnull (msg);
  if (token != NULL) {
    g_autofree char *value = g_strdup_printf ("Bearer %s", token);

    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", value);
  }
  return msg;
}

static void
send_message (Fixture *f, SoupMessage *msg, Response *r)
{
  Pending pending = { msg, r, FALSE };

  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
      sent_cb, &pending);
  while (!pending.done)
    g_main_context_iteration (NULL, TRUE);
}

/* Sends a request; @body (nullable) is sent with @content_type. Returns
 * the status; the rest is in @r. */
static guint
request (Fixture *f, const char *method, const char *path, const char *token,
    const char *content_type, const char *body, Response *r)
{
  g_autoptr (SoupMessage) msg = new_message (f, method, path, token);

  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

    soup_message_set_request_body_from_bytes (msg, content_type, bytes);
  }
  send_message (f, msg, r);
  g_assert_no_error (r->error);
  return r->status;
}

static const char *
json_string (Response *r, const char *member)
{
  g_assert_nonnull (r->json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (r->json));
  return json_object_get_string_member_with_default (
      json_node_get_object (r->json), member, NULL);
}

/* Asserts a JSON error body. */
static void
assert_error_body (Response *r)
{
  const char *message = json_string (r, "error");

  g_assert_nonnull (message);
  g_assert_cmpuint (strlen (message), >, 0);
}

static guint
post_json (Fixture *f, const char *path, const char *token, const char *body,
    Response *r)
{
  return request (f, "POST", path, token, "application/json", body, r);
}

/* Creates room @id as the coordinator; returns its host token. */
static char *
create_room (Fixture *f, const char *id)
{
  g_auto (Response) r = { 0 };
  g_autofree char *body = g_strdup_printf (
      "{\"id\": \"%s\", \"title\": \"Room %s\", \"record\": true, "
      "\"completion_ratio\": 0.75}", id, id);

  g_assert_cmpuint (post_json (f, "/api/rooms", ADMIN_TOKEN, body, &r), ==,
      201);
  return g_strdup (json_string (&r, "host_token"));
}

static void
make_room (Fixture *f, const char *id)
{
  g_free (create_room (f, id));
}

/* Joins room @id; returns the viewer token. */
static char *
join_room (Fixture *f, const char *id, const char *body, Response *r)
{
  g_autofree char *path = g_strdup_printf ("/api/rooms/%s/join", id);

  g_assert_cmpuint (post_json (f, path, NULL, body, r), ==, 201);
  return g_strdup (json_string (r, "token"));
}

/* Raw HTTP over a socket, on a helper thread, so the server (on this
 * thread's main context) can answer. */

typedef struct {
  guint16 port;
  char *request;
  gsize extra_body;             /* bytes of 'x' to send after @request */
  char *response;
  gboolean done;
} RawRequest;

static gpointer
raw_thread (gpointer user_data)
{
  RawRequest *raw = user_data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GString) response = g_string_new (NULL);
  GOutputStream *out;
  GInputStream *in;
  char buf[4096];
  gssize n;

  g_socket_client_set_timeout (client, 10);
  g_socket_client_set_enable_proxy (client, FALSE);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", raw->port, NULL,
      NULL);
  if (conn != NULL) {
    out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
    if (g_output_stream_write_all (out, raw->request, strlen (raw->request),
            NULL, NULL, NULL)) {
      g_autofree char *chunk = g_malloc (64 * 1024);
      gsize sent = 0;

      memset (chunk, 'x', 64 * 1024);
      while (sent < raw->extra_body) {
        gsize len = MIN (64 * 1024, raw->extra_body - sent);

        if (!g_output_stream_write_all (out, chunk, len, NULL, NULL, NULL))
          break;
        sent += len;
      }
      while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0) {
        g_string_append_len (response, buf, n);
        /* One response is all we want; the server may keep the
         * connection open. */
        if (strstr (response->str, "\r\n\r\n") != NULL
            && strstr (response->str, "}") != NULL)
          break;
      }
    }
  }
  raw->response = g_string_free (g_steal_pointer (&response), FALSE);
  g_atomic_int_set (&raw->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

/* Returns the status of the response to @text, 0 if there was none. */
static guint
raw_request (Fixture *f, const char *text, gsize extra_body)
{
  RawRequest raw = { f->port, g_strdup (text), extra_body, NULL, FALSE };
  GThread *thread = g_thread_new ("kk-test-raw", raw_thread, &raw);
  guint status = 0;

  while (!g_atomic_int_get (&raw.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_test_message ("raw: %.60s → %.40s", text, raw.response);
  if (g_str_has_prefix (raw.response, "HTTP/1.1 "))
    status = atoi (raw.response + 9);
  g_free (raw.request);
  g_free (raw.response);
  return status;
}

static guint
count_open_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Tests. */

static void
test_healthz (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_auto (Response) head = { 0 };

  g_assert_cmpuint (request (f, "GET", "/healthz", NULL, NULL, NULL, &r), ==,
      200);
  g_assert_cmpstr (json_string (&r, "status"), ==, "ok");
  g_assert_cmpuint (request (f, "HEAD", "/healthz", NULL, NULL, NULL, &head),
      ==, 200);
}

/* A client that asks to keep its connection and then closes it while idle
 * (as browsers do) must not leave the server holding its socket: libsoup
 * 3.2 would keep such a connection, and its memory, for good. */
static void
test_connection_released (Fixture *f, gconstpointer data)
{
  const char *get = "GET /healthz HTTP/1.1\r\nHost: relay\r\n"
      "Connection: keep-alive\r\n\r\n";
  gint64 deadline;
  guint before;

  /* The first request may set up what lives on (GLib's worker, say). */
  g_assert_cmpuint (raw_request (f, get, 0), ==, 200);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  before = count_open_fds ();

  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (raw_request (f, get, 0), ==, 200);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (count_open_fds () > before && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (count_open_fds (), ==, before);
}

static void
test_create_room (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_auto (Response) get = { 0 };
  JsonObject *room;

  g_assert_cmpuint (post_json (f, "/api/rooms", ADMIN_TOKEN,
          "{\"id\": \"anatomy-1\", \"title\": \"  Anatomy  \", "
          "\"record\": true, \"completion_ratio\": 0.9}", &r), ==, 201);
  room = json_node_get_object (r.json);
  g_assert_cmpstr (json_object_get_string_member (room, "id"), ==,
      "anatomy-1");
  g_assert_cmpstr (json_object_get_string_member (room, "title"), ==,
      "Anatomy");
  g_assert_false (json_object_get_boolean_member (room, "live"));
  g_assert_cmpint (json_object_get_int_member (room, "viewers"), ==, 0);
  g_assert_true (json_object_get_null_member (room, "session_id"));
  g_assert_true (json_object_get_boolean_member (room, "record"));
  g_assert_cmpfloat (json_object_get_double_member (room, "completion_ratio"),
      ==, 0.9);
  g_assert_cmpuint (strlen (json_object_get_string_member (room,
              "host_token")), ==, 43);
  g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Location"), ==,
      "/api/rooms/anatomy-1");
  g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Cache-Control"),
      ==, "no-store");

  /* The registry has it, and announced it. */
  g_assert_nonnull (kk_room_registry_lookup (f->registry, "anatomy-1"));
  g_assert_cmpuint (f->added->len, ==, 1);
  g_assert_cmpstr (kk_room_get_id (g_ptr_array_index (f->added, 0)), ==,
      "anatomy-1");

  /* Defaults: record false, ratio 0.8. */
  g_assert_cmpuint (post_json (f, "/api/rooms", ADMIN_TOKEN,
          "{\"id\": \"b\", \"title\": \"B\"}", &get), ==, 201);
  room = json_node_get_object (get.json);
  g_assert_false (json_object_get_boolean_member (room, "record"));
  g_assert_cmpfloat (json_object_get_double_member (room, "completion_ratio"),
      ==, 0.8);
}

static void
test_get_rooms (Fixture *f, gconstpointer data)
{
  g_autofree char *host_a = create_room (f, "room-a");
  g_autofree char *host_b = create_room (f, "room-b");
  g_auto (Response) pub = { 0 };
  g_auto (Response) admin = { 0 };
  g_auto (Response) one = { 0 };
  g_auto (Response) missing = { 0 };
  g_auto (Response) bad = { 0 };
  g_auto (Response) host = { 0 };
  g_auto (Response) live = { 0 };
  JsonArray *rooms;
  JsonObject *room;
  KkRoom *room_a;

  g_assert_cmpuint (request (f, "GET", "/api/rooms", NULL, NULL, NULL, &pub),
      ==, 200);
  rooms = json_node_get_array (pub.json);
  g_assert_cmpuint (json_array_get_length (rooms), ==, 2);
  room = json_array_get_object_element (rooms, 0);
  g_assert_cmpstr (json_object_get_string_member (room, "id"), ==, "room-a");
  g_assert_true (json_object_has_member (room, "title"));
  g_assert_true (json_object_has_member (room, "live"));
  g_assert_true (json_object_has_member (room, "viewers"));
  g_assert_true (json_object_has_member (room, "session_id"));
  /* Public view: no secrets. */
  g_assert_false (json_object_has_member (room, "host_token"));

  g_assert_cmpuint (request (f, "GET", "/api/rooms", ADMIN_TOKEN, NULL, NULL,
          &admin), ==, 200);
  room = json_array_get_object_element (json_node_get_array (admin.json), 1);
  g_assert_cmpstr (json_object_get_string_member (room, "host_token"), ==,
      host_b);

  /* A host token is a valid token, but not the coordinator's. */
  g_assert_cmpuint (request (f, "GET", "/api/rooms/room-a", host_a, NULL, NULL,
          &host), ==, 200);
  g_assert_false (json_object_has_member (json_node_get_object (host.json),
          "host_token"));

  g_assert_cmpuint (request (f, "GET", "/api/rooms/room-b", ADMIN_TOKEN, NULL,
          NULL, &one), ==, 200);
  g_assert_cmpstr (json_string (&one, "host_token"), ==, host_b);

  g_assert_cmpuint (request (f, "GET", "/api/rooms/nope", NULL, NULL, NULL,
          &missing), ==, 404);
  assert_error_body (&missing);
  g_assert_cmpuint (request (f, "GET", "/api/rooms", "wrong", NULL, NULL,
          &bad), ==, 401);
  assert_error_body (&bad);

  /* Live state set by the media side shows. */
  room_a = kk_room_registry_lookup (f->registry, "room-a");
  kk_room_set_live (room_a, TRUE, "session-42");
  kk_room_set_viewer_count (room_a, 7);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/room-a", NULL, NULL, NULL,
          &live), ==, 200);
  room = json_node_get_object (live.json);
  g_assert_true (json_object_get_boolean_member (room, "live"));
  g_assert_cmpint (json_object_get_int_member (room, "viewers"), ==, 7);
  g_assert_cmpstr (json_object_get_string_member (room, "session_id"), ==,
      "session-42");
  kk_room_set_live (room_a, FALSE, "ignored");
  g_assert_null (kk_room_get_session_id (room_a));
}

static void
test_auth (Fixture *f, gconstpointer data)
{
  g_autofree char *host = create_room (f, "auth-room");
  g_autofree char *viewer = NULL;
  const char *body = "{\"id\": \"x\", \"title\": \"X\"}";
  struct {
    const char *method;
    const char *path;
  } admin_routes[] = {
    { "POST", "/api/rooms" },
    { "GET", "/api/sessions" },
    { "GET", "/api/sessions?room=auth-room" },
  };
  g_auto (Response) joined = { 0 };

  viewer = join_room (f, "auth-room", "{\"name\": \"Nurse\"}", &joined);

  for (guint i = 0; i < G_N_ELEMENTS (admin_routes); i++) {
    const char *method = admin_routes[i].method;
    const char *path = admin_routes[i].path;
    const char *ct = g_str_equal (method, "POST") ? "application/json" : NULL;
    const char *b = g_str_equal (method, "POST") ? body : NULL;
    g_auto (Response) none = { 0 };
    g_auto (Response) bad = { 0 };
    g_auto (Response) as_host = { 0 };
    g_auto (Response) as_viewer = { 0 };
    g_auto (Response) malformed = { 0 };
    g_autoptr (SoupMessage) msg = NULL;

    g_test_message ("%s %s", method, path);
    g_assert_cmpuint (request (f, method, path, NULL, ct, b, &none), ==, 401);
    assert_error_body (&none);
    g_assert_cmpstr (soup_message_headers_get_one (none.headers,
            "WWW-Authenticate"), ==, "Bearer realm=\"kringkast\"");
    g_assert_cmpuint (request (f, method, path, "not-a-token", ct, b, &bad),
        ==, 401);
    assert_error_body (&bad);
    /* A real token of a lesser role: authenticated, not allowed. */
    g_assert_cmpuint (request (f, method, path, host, ct, b, &as_host), ==,
        403);
    assert_error_body (&as_host);
    g_assert_cmpuint (request (f, method, path, viewer, ct, b, &as_viewer), ==,
        403);
    /* Another scheme, or the admin token with a prefix, is not Bearer. */
    msg = new_message (f, method, path, NULL);
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", "Basic " ADMIN_TOKEN);
    send_message (f, msg, &malformed);
    g_assert_cmpuint (malformed.status, ==, 401);
  }

  /* Near misses of the admin token fail. */
  {
    g_auto (Response) prefix = { 0 };
    g_auto (Response) longer = { 0 };

    g_assert_cmpuint (request (f, "GET", "/api/sessions", "test-admin-token",
            NULL, NULL, &prefix), ==, 401);
    g_assert_cmpuint (request (f, "GET", "/api/sessions", ADMIN_TOKEN "x",
            NULL, NULL, &longer), ==, 401);
  }
}

static void
test_bad_bodies (Fixture *f, gconstpointer data)
{
  static const char *const bad_rooms[] = {
    "",
    "{",
    "[]",
    "\"text\"",
    "{\"id\": 5, \"title\": \"T\"}",
    "{\"id\": \"a\", \"title\": 5}",
    "{\"id\": \"a\", \"title\": \"T\", \"record\": \"yes\"}",
    "{\"id\": \"a\", \"title\": \"T\", \"record\": 1}",
    "{\"id\": \"a\", \"title\": \"T\", \"completion_ratio\": \"0.5\"}",
    "{\"id\": \"a\", \"title\": \"T\", \"completion_ratio\": 1.5}",
    "{\"id\": \"a\", \"title\": \"T\", \"completion_ratio\": -1}",
    "{\"id\": \"Caps\", \"title\": \"T\"}",
    "{\"id\": \"../etc\", \"title\": \"T\"}",
    "{\"id\": \"a\", \"title\": \"\"}",
    "{\"id\": \"a\"}",
    "{\"title\": \"T\"}",
    "{\"id\": \"a\", \"title\": \"T\", \"colour\": \"red\"}",
    "{\"id\": \"a\", \"title\": {\"nested\": true}}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
  };
  static const char *const bad_joins[] = {
    "{}",
    "{\"name\": \"\"}",
    "{\"name\": \"   \"}",
    "{\"name\": 12}",
    "{\"name\": \"A\", \"workplace\": 3}",
    "{\"name\": \"A\", \"colleagues\": \"B\"}",
    "{\"name\": \"A\", \"colleagues\": [\"B\", 3]}",
    "{\"name\": \"A\", \"colleagues\": [\"\"]}",
    "{\"name\": \"A\", \"colleagues\": [[\"B\"]]}",
    "{\"name\": \"A\", \"token\": \"x\"}",
    "{\"name\": \"A\\u0000B\"}",
  };
  g_autoptr (GString) many = g_string_new ("{\"name\": \"A\", \"colleagues\": [");
  g_autoptr (GString) long_name = g_string_new ("{\"name\": \"");

  make_room (f, "bodies");

  for (guint i = 0; i < G_N_ELEMENTS (bad_rooms); i++) {
    g_auto (Response) r = { 0 };

    g_test_message ("room body: %s", bad_rooms[i]);
    g_assert_cmpuint (post_json (f, "/api/rooms", ADMIN_TOKEN, bad_rooms[i],
            &r), ==, 400);
    assert_error_body (&r);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad_joins); i++) {
    g_auto (Response) r = { 0 };

    g_test_message ("join body: %s", bad_joins[i]);
    g_assert_cmpuint (post_json (f, "/api/rooms/bodies/join", NULL,
            bad_joins[i], &r), ==, 400);
    assert_error_body (&r);
  }

  /* 21 colleagues is one too many; 20 is fine. */
  for (int i = 0; i < 21; i++)
    g_string_append_printf (many, "%s\"C%d\"", i > 0 ? ", " : "", i);
  g_string_append (many, "]}");
  {
    g_auto (Response) r = { 0 };
    g_auto (Response) ok = { 0 };
    g_autoptr (GString) twenty = g_string_new (
        "{\"name\": \"A\", \"colleagues\": [");

    g_assert_cmpuint (post_json (f, "/api/rooms/bodies/join", NULL, many->str,
            &r), ==, 400);
    for (int i = 0; i < 20; i++)
      g_string_append_printf (twenty, "%s\"C%d\"", i > 0 ? ", " : "", i);
    g_string_append (twenty, "]}");
    g_assert_cmpuint (post_json (f, "/api/rooms/bodies/join", NULL,
            twenty->str, &ok), ==, 201);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                json_node_get_object (ok.json), "colleague_ids")), ==, 20);
  }

  /* 201 characters of name. */
  for (int i = 0; i < 201; i++)
    g_string_append (long_name, "ø");
  g_string_append (long_name, "\"}");
  {
    g_auto (Response) r = { 0 };

    g_assert_cmpuint (post_json (f, "/api/rooms/bodies/join", NULL,
            long_name->str, &r), ==, 400);
  }

  /* Invalid UTF-8. */
  {
    g_auto (Response) r = { 0 };

    g_assert_cmpuint (post_json (f, "/api/rooms/bodies/join", NULL,
            "{\"name\": \"\xff\xfe\"}", &r), ==, 400);
  }
}

static void
test_content_type (Fixture *f, gconstpointer data)
{
  g_auto (Response) text = { 0 };
  g_auto (Response) none = { 0 };
  g_auto (Response) join = { 0 };
  g_auto (Response) charset = { 0 };

  make_room (f, "ct");

  g_assert_cmpuint (request (f, "POST", "/api/rooms", ADMIN_TOKEN,
          "text/plain", "{\"id\": \"a\", \"title\": \"T\"}", &text), ==, 415);
  assert_error_body (&text);
  g_assert_cmpuint (request (f, "POST", "/api/rooms", ADMIN_TOKEN, NULL, NULL,
          &none), ==, 415);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/ct/join", NULL,
          "application/x-www-form-urlencoded", "name=A", &join), ==, 415);
  /* Parameters do not matter. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms", ADMIN_TOKEN,
          "application/json; charset=utf-8", "{\"id\": \"a\", \"title\": \"T\"}",
          &charset), ==, 201);
}

static void
test_join (Fixture *f, gconstpointer data)
{
  g_autofree char *host = create_room (f, "join-room");
  g_autofree char *token = NULL;
  g_autofree char *party_id = NULL;
  g_auto (Response) r = { 0 };
  g_auto (Response) missing = { 0 };
  g_auto (Response) solo = { 0 };
  JsonArray *colleagues;
  const char *participant_id;

  token = join_room (f, "join-room", "{\"name\": \"Kari Nordmann\", "
      "\"workplace\": \"Ward 4\", \"colleagues\": [\"Ola\", \"Per\"]}", &r);
  g_assert_cmpuint (strlen (token), ==, 43);
  participant_id = json_string (&r, "participant_id");
  g_assert_nonnull (participant_id);
  colleagues = json_object_get_array_member (json_node_get_object (r.json),
      "colleague_ids");
  g_assert_cmpuint (json_array_get_length (colleagues), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (colleagues, 0), !=,
      participant_id);

  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry,
          "join-room", token, &party_id), ==, KK_TOKEN_OK);
  g_assert_nonnull (party_id);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry,
          "other-room", token, NULL), ==, KK_TOKEN_WRONG_ROOM);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry,
          "join-room", "guess", NULL), ==, KK_TOKEN_UNKNOWN);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, NULL,
          token, NULL), ==, KK_TOKEN_OK);

  /* Host tokens. */
  g_assert_cmpint (kk_room_registry_check_host_token (f->registry,
          "join-room", host), ==, KK_TOKEN_OK);
  g_assert_cmpint (kk_room_registry_check_host_token (f->registry, "x", host),
      ==, KK_TOKEN_WRONG_ROOM);
  g_assert_cmpint (kk_room_registry_check_host_token (f->registry,
          "join-room", token), ==, KK_TOKEN_UNKNOWN);

  g_assert_cmpuint (post_json (f, "/api/rooms/nowhere/join", NULL,
          "{\"name\": \"A\"}", &missing), ==, 404);
  assert_error_body (&missing);

  /* Colleagues and workplace are optional. */
  g_free (join_room (f, "join-room", "{\"name\": \"Solo\"}", &solo));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
              json_node_get_object (solo.json), "colleague_ids")), ==, 0);
}

/* Bodies over 64 KiB. */

static void
test_body_limit (Fixture *f, gconstpointer data)
{
  gsize size = 100 * 1024;
  g_autofree char *big = g_malloc (size);
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *expect = NULL;

  make_room (f, "limit");

  /* A JSON string of 100 KiB: the body is well-formed, just too big. */
  memset (big, 'a', size);
  memcpy (big, "{\"name\": \"", 10);
  memcpy (big + size - 2, "\"}", 2);
  bytes = g_bytes_new_static (big, size);

  /* With Content-Length. */
  {
    g_autoptr (SoupMessage) msg = new_message (f, "POST",
        "/api/rooms/limit/join", NULL);
    g_auto (Response) r = { 0 };

    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    send_message (f, msg, &r);
    g_assert_no_error (r.error);
    g_assert_cmpuint (r.status, ==, 413);
    assert_error_body (&r);
  }

  /* Chunked: the size is not known until the body has arrived. */
  {
    g_autoptr (SoupMessage) msg = new_message (f, "POST", "/api/rooms", ADMIN_TOKEN);
    g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (
        bytes);
    g_auto (Response) r = { 0 };

    soup_message_set_request_body (msg, "application/json", stream, -1);
    send_message (f, msg, &r);
    g_assert_no_error (r.error);
    g_assert_cmpuint (r.status, ==, 413);
    assert_error_body (&r);
  }

  /* Exactly at the limit is accepted (and then fails as a name that is
   * too long, which proves the body reached the handler). */
  {
    g_autoptr (GBytes) at_limit = g_bytes_new_from_bytes (bytes, 0,
        KK_HTTP_MAX_BODY);
    g_autofree char *copy = g_memdup2 (g_bytes_get_data (at_limit, NULL),
        KK_HTTP_MAX_BODY);
    g_autoptr (GBytes) body = NULL;
    g_autoptr (SoupMessage) msg = new_message (f, "POST",
        "/api/rooms/limit/join", NULL);
    g_auto (Response) r = { 0 };

    memcpy (copy + KK_HTTP_MAX_BODY - 2, "\"}", 2);
    body = g_bytes_new_take (g_steal_pointer (&copy), KK_HTTP_MAX_BODY);
    soup_message_set_request_body_from_bytes (msg, "application/json", body);
    send_message (f, msg, &r);
    g_assert_cmpuint (r.status, ==, 400);
  }

  /* Expect: 100-continue with a huge declared length: refused before a
   * byte of body is sent. */
  expect = g_strdup_printf ("POST /api/rooms/limit/join HTTP/1.1\r\n"
      "Host: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
      "Content-Length: 10737418240\r\nExpect: 100-continue\r\n\r\n", f->port);
  g_assert_cmpuint (raw_request (f, expect, 0), ==, 413);

  /* A client that sends a refused body anyway and keeps going past the
   * discard allowance loses the connection; the server survives. */
  {
    g_autofree char *huge = g_strdup_printf (
        "POST /api/rooms/limit/join HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
        "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n",
        f->port, 8 * 1024 * 1024);
    guint status = raw_request (f, huge, 8 * 1024 * 1024);
    g_auto (Response) r = { 0 };

    g_assert_true (status == 0 || status == 413);
    g_assert_cmpuint (request (f, "GET", "/healthz", NULL, NULL, NULL, &r), ==,
        200);
  }
}

static void
test_paths (Fixture *f, gconstpointer data)
{
  /* Each target must be refused with one of two statuses: which layer
   * catches a trick (GUri's dot-segment removal, libsoup's decoding
   * checks, or our router) decides between 400 and 404. */
  static const struct {
    const char *target;
    guint status;
    guint or_status;
  } cases[] = {
    { "/api/rooms/%2e%2e/join", 404, 400 },
    { "/api/rooms/%2e%2e%2f%2e%2e%2fetc", 404, 400 },
    { "/api/rooms/..%2Fapi", 404, 400 },
    { "/api/rooms/../../etc/passwd", 404, 400 },
    { "/api/rooms/a%00b", 400, 400 },
    { "/api/rooms/a%01b", 400, 400 },
    { "/api//rooms", 404, 404 },
    { "/api/rooms/", 404, 404 },
    { "/api/rooms/./x", 404, 404 },
    { "/api/nothing", 404, 404 },
    { "/", 404, 404 },
    { "/api/rooms/nope", 404, 404 },
  };
  g_autoptr (GString) long_segment = g_string_new ("/api/rooms/");

  make_room (f, "paths");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = g_strdup_printf ("GET %s HTTP/1.1\r\n"
        "Host: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", cases[i].target,
        f->port);
    guint status;

    g_test_message ("path %s", cases[i].target);
    status = raw_request (f, text, 0);
    if (status != cases[i].status)
      g_assert_cmpuint (status, ==, cases[i].or_status);
  }

  for (int i = 0; i < 200; i++)
    g_string_append_c (long_segment, 'a');
  {
    g_auto (Response) r = { 0 };

    g_assert_cmpuint (request (f, "GET", long_segment->str, NULL, NULL, NULL,
            &r), ==, 400);
    assert_error_body (&r);
  }

  /* Wrong method on a known path. */
  {
    g_auto (Response) r = { 0 };

    g_assert_cmpuint (request (f, "DELETE", "/api/rooms", ADMIN_TOKEN, NULL,
            NULL, &r), ==, 405);
    g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Allow"), ==,
        "POST, GET");
  }
}

static void
race_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  guint *done = user_data;
  g_autoptr (GBytes) body = NULL;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
      NULL);
  (*done)++;
}

static void
test_concurrent_create (Fixture *f, gconstpointer data)
{
  g_autoptr (SoupMessage) a = new_message (f, "POST", "/api/rooms",
      ADMIN_TOKEN);
  g_autoptr (SoupMessage) b = new_message (f, "POST", "/api/rooms",
      ADMIN_TOKEN);
  static const char text[] = "{\"id\": \"same\", \"title\": \"Same\"}";
  g_autoptr (GBytes) body = g_bytes_new_static (text, sizeof text - 1);
  guint done = 0;
  guint created, conflict;

  soup_message_set_request_body_from_bytes (a, "application/json", body);
  soup_message_set_request_body_from_bytes (b, "application/json", body);
  soup_session_send_and_read_async (f->session, a, G_PRIORITY_DEFAULT, NULL,
      race_cb, &done);
  soup_session_send_and_read_async (f->session, b, G_PRIORITY_DEFAULT, NULL,
      race_cb, &done);
  while (done < 2)
    g_main_context_iteration (NULL, TRUE);

  created = (soup_message_get_status (a) == 201)
      + (soup_message_get_status (b) == 201);
  conflict = (soup_message_get_status (a) == 409)
      + (soup_message_get_status (b) == 409);
  g_assert_cmpuint (created, ==, 1);
  g_assert_cmpuint (conflict, ==, 1);
  g_assert_cmpuint (f->added->len, ==, 1);
}

typedef struct {
  GAsyncResult *result;
} Wait;

static void
wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->result = g_object_ref (result);
}

static char *
start_session (Fixture *f, const char *room, gint64 at)
{
  Wait wait = { 0 };
  char *id;

  kk_store_session_start (f->store, room, at, wait_cb, &wait);
  while (wait.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  id = kk_store_session_start_finish (f->store, wait.result, NULL);
  g_object_unref (wait.result);
  g_assert_nonnull (id);
  return id;
}

static void
test_sessions (Fixture *f, gconstpointer data)
{
  /* 2024-03-01T10:00:00Z and an hour later */
  const gint64 ten = G_GINT64_CONSTANT (1709287200) * G_USEC_PER_SEC;
  const gint64 eleven = ten + G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_auto (Response) one = { 0 };
  g_auto (Response) all = { 0 };
  g_auto (Response) missing = { 0 };
  Wait wait = { 0 };
  JsonArray *list;
  JsonObject *s;

  make_room (f, "s-one");
  make_room (f, "s-two");
  s1 = start_session (f, "s-one", ten);
  s2 = start_session (f, "s-two", eleven);
  kk_store_session_end (f->store, s1, eleven, wait_cb, &wait);
  while (wait.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (kk_store_session_end_finish (f->store, wait.result, NULL));
  g_clear_object (&wait.result);

  g_assert_cmpuint (request (f, "GET", "/api/sessions?room=s-one",
          ADMIN_TOKEN, NULL, NULL, &one), ==, 200);
  list = json_node_get_array (one.json);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  s = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (s, "id"), ==, s1);
  g_assert_cmpstr (json_object_get_string_member (s, "room"), ==, "s-one");
  g_assert_cmpstr (json_object_get_string_member (s, "started_at"), ==,
      "2024-03-01T10:00:00Z");
  g_assert_cmpstr (json_object_get_string_member (s, "ended_at"), ==,
      "2024-03-01T11:00:00Z");
  g_assert_true (json_object_get_null_member (s, "recording"));

  g_assert_cmpuint (request (f, "GET", "/api/sessions", ADMIN_TOKEN, NULL,
          NULL, &all), ==, 200);
  list = json_node_get_array (all.json);
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  s = json_array_get_object_element (list, 1);
  g_assert_cmpstr (json_object_get_string_member (s, "id"), ==, s2);
  g_assert_true (json_object_get_null_member (s, "ended_at"));

  g_assert_cmpuint (request (f, "GET", "/api/sessions?room=nope", ADMIN_TOKEN,
          NULL, NULL, &missing), ==, 404);
}

static gpointer
slow_job (KkDb *db, gpointer data, GError **error)
{
  g_usleep (300 * 1000);
  return NULL;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The server goes away while a handler waits for the store: the late
 * reply must be dropped quietly (a critical would fail the test). */
static void
test_client_gone (Fixture *f, gconstpointer data)
{
  g_autoptr (SoupMessage) msg = new_message (f, "POST",
      "/api/rooms/gone/join", NULL);
  g_autoptr (GBytes) body = g_bytes_new_static ("{\"name\": \"A\"}", 13);
  g_auto (Response) r = { 0 };
  Pending pending = { msg, &r, FALSE };
  Wait slow = { 0 };
  gboolean waited = FALSE;

  make_room (f, "gone");
  /* Hold the store's worker, so the join stays paused. */
  kk_store_run_async (f->store, slow_job, NULL, NULL, NULL, wait_cb,
      &slow);
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
      sent_cb, &pending);
  g_timeout_add (100, set_flag, &waited);
  while (!waited)
    g_main_context_iteration (NULL, TRUE);

  soup_server_disconnect (f->server);
  while (!pending.done || slow.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (r.error);
  g_clear_object (&slow.result);
  /* Let the join's own completion (reply dropped) run. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_persistence (Fixture *f, gconstpointer data)
{
  g_autofree char *host = create_room (f, "durable");
  g_autofree char *token = NULL;
  g_autofree char *party_before = NULL;
  g_autofree char *party_after = NULL;
  g_auto (Response) joined = { 0 };
  g_auto (Response) after = { 0 };
  g_auto (Response) again = { 0 };

  token = join_room (f, "durable", "{\"name\": \"A\", \"colleagues\": "
      "[\"B\"]}", &joined);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry,
          "durable", token, &party_before), ==, KK_TOKEN_OK);

  /* A restart: everything torn down, the data dir kept. */
  stop (f);
  start (f);

  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry,
          "durable", token, &party_after), ==, KK_TOKEN_OK);
  g_assert_cmpstr (party_before, ==, party_after);
  g_assert_cmpint (kk_room_registry_check_host_token (f->registry, "durable",
          host), ==, KK_TOKEN_OK);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/durable", ADMIN_TOKEN, NULL,
          NULL, &after), ==, 200);
  g_assert_cmpstr (json_string (&after, "host_token"), ==, host);
  g_assert_cmpstr (json_string (&after, "title"), ==, "Room durable");

  /* The room id is still taken. */
  g_assert_cmpuint (post_json (f, "/api/rooms", ADMIN_TOKEN,
          "{\"id\": \"durable\", \"title\": \"Again\"}", &again), ==, 409);
}

static void
test_config_rooms (Fixture *f, gconstpointer data)
{
  static const char text[] =
      "[room configured]\ntitle = From the file\nhost-token = file-token\n"
      "[room tokenless]\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) file = kk_config_load_from_data (text, sizeof text - 1,
      "test.conf", &error);
  g_autofree char *made = NULL;
  KkRoom *room;

  g_assert_no_error (error);
  stop (f);
  g_ptr_array_extend_and_steal (f->config->rooms,
      g_steal_pointer (&file->rooms));
  start (f);

  room = kk_room_registry_lookup (f->registry, "configured");
  g_assert_nonnull (room);
  g_assert_cmpstr (kk_room_get_title (room), ==, "From the file");
  g_assert_cmpstr (kk_room_get_host_token (room), ==, "file-token");
  room = kk_room_registry_lookup (f->registry, "tokenless");
  g_assert_cmpuint (strlen (kk_room_get_host_token (room)), ==, 43);
  made = g_strdup (kk_room_get_host_token (room));
  /* Rooms present at startup are listed, not announced. */
  g_assert_cmpuint (f->added->len, ==, 0);

  /* The made token survives restarts. */
  stop (f);
  start (f);
  room = kk_room_registry_lookup (f->registry, "tokenless");
  g_assert_cmpstr (kk_room_get_host_token (room), ==, made);
}

static void
test_admin_token_file (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "admin-token", NULL);
  g_autofree char *contents = NULL;
  g_auto (Response) with_file = { 0 };
  g_auto (Response) with_env = { 0 };

  stop (f);
  g_clear_pointer (&f->config->admin_token, g_free);
  start (f);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_strstrip (contents);
  g_assert_cmpuint (request (f, "GET", "/api/sessions", contents, NULL, NULL,
          &with_file), ==, 200);
  g_assert_cmpuint (request (f, "GET", "/api/sessions", ADMIN_TOKEN, NULL,
          NULL, &with_env), ==, 401);
}

static void
test_metrics_route (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *page = NULL;
  KkRoom *room;

  make_room (f, "metered");
  room = kk_room_registry_lookup (f->registry, "metered");

  kk_room_set_viewer_count (room, 3);
  kk_room_set_live (room, TRUE, "s");
  g_assert_cmpuint (request (f, "GET", "/metrics", NULL, NULL, NULL, &r), ==,
      200);
  g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Content-Type"),
      ==, "text/plain; version=0.0.4; charset=utf-8");
  page = g_strndup (g_bytes_get_data (r.body, NULL), g_bytes_get_size (r.body));
  g_test_message ("%s", page);
  g_assert_nonnull (strstr (page, "# TYPE kringkast_rooms gauge\n"
          "kringkast_rooms 1\n"));
  g_assert_nonnull (strstr (page, "kringkast_room_viewers{room=\"metered\"} 3\n"));
  g_assert_nonnull (strstr (page, "kringkast_room_live{room=\"metered\"} 1\n"));
  /* The POST that made the room was counted. */
  g_assert_nonnull (strstr (page, "kringkast_http_responses_total{code=\"201\"} 1\n"));
}

/* kk-metrics on its own. */

static void
collect_a (KkMetrics *metrics, gpointer user_data)
{
  kk_metrics_sample (metrics, "kk_x_total", KK_METRIC_COUNTER,
      "Xs, with a \\ and a\nnewline.", "k=\"1\"", 1);
  kk_metrics_sample (metrics, "kk_y", KK_METRIC_GAUGE, "Y.", NULL, 0.5);
}

static void
collect_b (KkMetrics *metrics, gpointer user_data)
{
  /* Interleaved with the other collector's family: must be grouped. */
  kk_metrics_sample (metrics, "kk_x_total", KK_METRIC_COUNTER, "ignored",
      "k=\"2\"", 12345678901.0);
  kk_metrics_sample (metrics, "kk_z", KK_METRIC_GAUGE, "Z.", NULL,
      *(double *) user_data);
}

static void
test_metrics_render (void)
{
  g_autoptr (KkMetrics) metrics = kk_metrics_new ();
  g_autofree char *page = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *escaped = kk_metrics_escape_label_value ("a\"b\\c\nd");
  double z = INFINITY;

  empty = kk_metrics_render (metrics);
  g_assert_cmpstr (empty, ==, "");

  kk_metrics_add_collector (metrics, collect_a, NULL);
  kk_metrics_add_collector (metrics, collect_b, &z);
  page = kk_metrics_render (metrics);
  g_assert_cmpstr (page, ==,
      "# HELP kk_x_total Xs, with a \\\\ and a\\nnewline.\n"
      "# TYPE kk_x_total counter\n"
      "kk_x_total{k=\"1\"} 1\n"
      "kk_x_total{k=\"2\"} 12345678901\n"
      "# HELP kk_y Y.\n"
      "# TYPE kk_y gauge\n"
      "kk_y 0.5\n"
      "# HELP kk_z Z.\n"
      "# TYPE kk_z gauge\n"
      "kk_z +Inf\n");
  g_assert_cmpstr (escaped, ==, "a\\\"b\\\\c\\nd");

  kk_metrics_remove_collector (metrics, collect_a, NULL);
  g_clear_pointer (&page, g_free);
  z = NAN;
  page = kk_metrics_render (metrics);
  g_assert_cmpstr (page, ==,
      "# HELP kk_x_total ignored\n"
      "# TYPE kk_x_total counter\n"
      "kk_x_total{k=\"2\"} 12345678901\n"
      "# HELP kk_z Z.\n"
      "# TYPE kk_z gauge\n"
      "kk_z NaN\n");
}

/* The request parsers the fuzzer runs, directly. */
static void
test_parsers (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkJoinRequest) join = NULL;
  g_autoptr (KkRoomConfig) room = NULL;
  static const char join_text[] =
      "{\"name\": \" Kari \", \"workplace\": null, \"colleagues\": [\" Ola\"]}";
  static const char room_text[] =
      "{\"id\": \"r1\", \"title\": \"T\", \"completion_ratio\": 1}";

  join = kk_api_parse_join_request (join_text, sizeof join_text - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (join->name, ==, "Kari");
  g_assert_cmpstr (join->workplace, ==, "");
  g_assert_cmpuint (g_strv_length (join->colleagues), ==, 1);
  g_assert_cmpstr (join->colleagues[0], ==, "Ola");

  room = kk_api_parse_room_request (room_text, sizeof room_text - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (room->id, ==, "r1");
  g_assert_cmpfloat (room->completion_ratio, ==, 1.0);
  g_assert_cmpstr (room->source, ==, "whip");
  g_assert_null (room->host_token);

  /* Embedded NUL within the given length. */
  g_assert_null (kk_api_parse_join_request ("{\"name\":\"a\"}\0x", 14, &error));
  g_assert_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/api/parsers", test_parsers);
  g_test_add_func ("/api/metrics-render", test_metrics_render);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/api/healthz", test_healthz);
  ADD ("/api/connection-released", test_connection_released);
  ADD ("/api/create-room", test_create_room);
  ADD ("/api/get-rooms", test_get_rooms);
  ADD ("/api/auth", test_auth);
  ADD ("/api/bad-bodies", test_bad_bodies);
  ADD ("/api/content-type", test_content_type);
  ADD ("/api/join", test_join);
  ADD ("/api/body-limit", test_body_limit);
  ADD ("/api/paths", test_paths);
  ADD ("/api/concurrent-create", test_concurrent_create);
  ADD ("/api/sessions", test_sessions);
  ADD ("/api/client-gone", test_client_gone);
  ADD ("/api/persistence", test_persistence);
  ADD ("/api/config-rooms", test_config_rooms);
  ADD ("/api/admin-token-file", test_admin_token_file);
  ADD ("/api/metrics", test_metrics_route);
#undef ADD

  return g_test_run ();
}
