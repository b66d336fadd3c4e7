/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-auth: kk-auth, the one place that turns a bearer token or a signed
 * link into a role and a refusal into 401 or 403. Small routes on a real
 * SoupServer (127.0.0.1:0) each ask kk-auth one question and answer 204
 * when it lets the caller through; a SoupSession in the same process asks
 * with every kind of token: none, a token nobody holds, the coordinator's,
 * each room's host token, a participant's, and signed links good, forged,
 * for another session and expired.
 */

#include <glib/gstdio.h>
#include <string.h>

#include "kk-auth.h"
#include "kk-http.h"
#include "test-database.h"

#define ADMIN "test-admin-token-0123456789abcdef"
#define HOST_KURS "host-kurs-token-0123456789abcdef"
#define HOST_OTHER "host-other-token-0123456789abcdef"
#define UNKNOWN "nobody-has-this-token-0123456789ab"

typedef struct {
  char *dir;
  KkConfig *config;
  KkStore *store;
  KkRoomRegistry *registry;
  KkAuth *auth;
  SoupServer *server;
  SoupSession *session;
  guint16 port;
  char *participant;            /* a viewer token of room "kurs" */
  char *party;                  /* its party */
} Fixture;

/* ---- the routes: one question to kk-auth each ---- */

static void
coordinator_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);

  if (kk_auth_require_coordinator (f->auth, msg))
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
host_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);

  if (kk_auth_require_host (f->auth, msg,
          kk_http_request_get_param (request, 0), "the host token, please"))
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
either_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  gboolean is_coordinator = FALSE;

  if (kk_auth_require_coordinator_or_host (f->auth, msg,
          kk_http_request_get_param (request, 0), &is_coordinator)) {
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "X-Coordinator",
        is_coordinator ? "yes" : "no");
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  }
}

static void
participant_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autofree char *party = NULL, *person = NULL;

  if (kk_auth_require_participant (f->auth, msg,
          kk_http_request_get_param (request, 0), FALSE,
          "a participant token, please", &party, &person)) {
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "X-Party", party);
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  }
}

static void
reader_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autofree char *party = NULL, *person = NULL;
  gboolean privileged = FALSE;

  if (kk_auth_require_room_reader (f->auth, msg,
          kk_http_request_get_param (request, 0), "a reader's token, please",
          &privileged, &party, &person)) {
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "X-Reader",
        privileged ? "privileged" : party);
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  }
}

static void
known_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);
  KkAuthRole role;
  g_autofree char *text = NULL;

  if (kk_auth_require_known (f->auth, msg, &role)) {
    text = g_strdup_printf ("%d", role);
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "X-Role", text);
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  }
}

static void
link_route (KkHttpRequest *request, gpointer user_data)
{
  Fixture *f = user_data;
  SoupServerMessage *msg = kk_http_request_get_message (request);

  if (kk_auth_require_recording_link (f->auth, msg,
          kk_http_request_get_param (request, 0),
          kk_http_request_get_query (request, "expires"),
          kk_http_request_get_query (request, "sig")))
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* ---- fixture ---- */

static void
joined (GObject *source, GAsyncResult *result, gpointer user_data)
{
  KkJoinResult **out = user_data;
  g_autoptr (GError) error = NULL;

  *out = kk_room_registry_join_finish (KK_ROOM_REGISTRY (source), result,
      &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  static const char conf[] =
      "[room kurs]\ntitle=Kurs\nhost-token=" HOST_KURS "\n"
      "[room other]\ntitle=Other\nhost-token=" HOST_OTHER "\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (KkJoinResult) join = NULL;

  f->dir = g_dir_make_tmp ("kk-test-auth-XXXXXX", NULL);
  f->config = kk_config_load_from_data (conf, strlen (conf), NULL, &error);
  g_assert_no_error (error);
  f->config->http_address = g_strdup ("127.0.0.1");
  f->config->http_port = 0;
  f->config->admin_token = g_strdup (ADMIN);
  f->config->database = kk_test_database_new ();
  f->store = kk_store_open (f->dir, f->config->database, &error);
  g_assert_no_error (error);
  f->registry = kk_room_registry_new (f->store, f->config, &error);
  g_assert_no_error (error);
  f->auth = kk_auth_new (f->registry, NULL, &error);
  g_assert_no_error (error);

  kk_room_registry_join_async (f->registry, "kurs", "Anne", NULL, NULL,
      joined, &join);
  while (join == NULL)
    g_main_context_iteration (NULL, TRUE);
  f->participant = g_strdup (join->token);
  f->party = g_strdup (join->party_id);

  f->server = kk_http_server_new (f->config, &error);
  g_assert_no_error (error);
  kk_http_add_route (f->server, "GET", "/t/coordinator", coordinator_route,
      f);
  kk_http_add_route (f->server, "GET", "/t/host/{room}", host_route, f);
  kk_http_add_route (f->server, "GET", "/t/either/{room}", either_route, f);
  kk_http_add_route (f->server, "GET", "/t/participant/{room}",
      participant_route, f);
  kk_http_add_route (f->server, "GET", "/t/known", known_route, f);
  kk_http_add_route (f->server, "GET", "/t/reader/{room}", reader_route, f);
  kk_http_add_route (f->server, "GET", "/t/link/{id}", link_route, f);
  f->port = kk_http_server_get_port (f->server);
  f->session = soup_session_new ();
  soup_session_set_proxy_resolver (f->session, NULL);
}

/* The store's files, then the directory. */
static void
remove_files (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *child = g_build_filename (path, name, NULL);

    g_unlink (child);
  }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->session);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_clear_object (&f->auth);
  g_clear_object (&f->registry);
  kk_store_close (f->store);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->store);
  kk_config_free (f->config);
  remove_files (f->dir);
  g_free (f->dir);
  g_free (f->participant);
  g_free (f->party);
}

/* ---- requests ---- */

typedef struct {
  guint status;
  char *body;
  char *header;                 /* the one asked for, if any */
  char *authenticate;           /* WWW-Authenticate */
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->body, g_free);
  g_clear_pointer (&r->header, g_free);
  g_clear_pointer (&r->authenticate, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reply, reply_clear)

static void
sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GBytes **body = user_data;
  g_autoptr (GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
      &error);
  g_assert_no_error (error);
}

/* GET @path with @token (nullable) as the bearer; @header names a
 * response header to keep. The server runs on this thread's context, so
 * the request is sent asynchronously and the context spun until done. */
static guint
get (Fixture *f, const char *path, const char *token, const char *header,
    Reply *r)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", f->port,
      path);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  SoupMessageHeaders *headers;

  if (token != NULL) {
    g_autofree char *value = g_strdup_printf ("Bearer %s", token);

    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", value);
  }
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
      sent, &body);
  while (body == NULL)
    g_main_context_iteration (NULL, TRUE);
  headers = soup_message_get_response_headers (msg);
  reply_clear (r);
  r->status = soup_message_get_status (msg);
  r->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  if (header != NULL)
    r->header = g_strdup (soup_message_headers_get_one (headers, header));
  r->authenticate = g_strdup (soup_message_headers_get_one (headers,
          "WWW-Authenticate"));
  return r->status;
}

/* ---- tests ---- */

static void
test_coordinator (Fixture *f, gconstpointer data)
{
  g_auto (Reply) r = { 0 };

  /* No token, or one nobody holds: 401, with a challenge. */
  g_assert_cmpuint (get (f, "/t/coordinator", NULL, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "the coordinator token is required"));
  g_assert_nonnull (r.authenticate);
  g_assert_cmpuint (get (f, "/t/coordinator", UNKNOWN, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "invalid token"));
  /* A token someone else holds: known, but not allowed. */
  g_assert_cmpuint (get (f, "/t/coordinator", HOST_KURS, NULL, &r), ==, 403);
  g_assert_cmpuint (get (f, "/t/coordinator", f->participant, NULL, &r), ==,
      403);
  g_assert_cmpuint (get (f, "/t/coordinator", ADMIN, NULL, &r), ==, 204);
}

static void
test_host (Fixture *f, gconstpointer data)
{
  g_auto (Reply) r = { 0 };

  g_assert_cmpuint (get (f, "/t/host/kurs", NULL, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "the host token, please"));
  g_assert_cmpuint (get (f, "/t/host/kurs", UNKNOWN, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "the host token, please"));
  /* Another room's host: 403, and says so. */
  g_assert_cmpuint (get (f, "/t/host/kurs", HOST_OTHER, NULL, &r), ==, 403);
  g_assert_nonnull (strstr (r.body, "this host token is for another room"));
  g_assert_cmpuint (get (f, "/t/host/kurs", HOST_KURS, NULL, &r), ==, 204);
  g_assert_cmpuint (get (f, "/t/host/other", HOST_OTHER, NULL, &r), ==, 204);

  /* Host or coordinator, told apart. */
  g_assert_cmpuint (get (f, "/t/either/kurs", ADMIN, "X-Coordinator", &r), ==,
      204);
  g_assert_cmpstr (r.header, ==, "yes");
  g_assert_cmpuint (get (f, "/t/either/kurs", HOST_KURS, "X-Coordinator",
          &r), ==, 204);
  g_assert_cmpstr (r.header, ==, "no");
  g_assert_cmpuint (get (f, "/t/either/kurs", HOST_OTHER, NULL, &r), ==, 403);
  g_assert_cmpuint (get (f, "/t/either/kurs", f->participant, NULL, &r), ==,
      403);
  g_assert_cmpuint (get (f, "/t/either/kurs", NULL, NULL, &r), ==, 401);
  g_assert_cmpuint (get (f, "/t/either/kurs", UNKNOWN, NULL, &r), ==, 401);
}

static void
test_participant (Fixture *f, gconstpointer data)
{
  g_auto (Reply) r = { 0 };

  g_assert_cmpuint (get (f, "/t/participant/kurs", f->participant, "X-Party",
          &r), ==, 204);
  g_assert_cmpstr (r.header, ==, f->party);
  /* The token is the room's: elsewhere it is known but refused. */
  g_assert_cmpuint (get (f, "/t/participant/other", f->participant, NULL,
          &r), ==, 403);
  g_assert_cmpuint (get (f, "/t/participant/kurs", NULL, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "a participant token, please"));
  g_assert_cmpuint (get (f, "/t/participant/kurs", UNKNOWN, NULL, &r), ==,
      401);
  /* A host's token is not a participant's. */
  g_assert_cmpuint (get (f, "/t/participant/kurs", HOST_KURS, NULL, &r), ==,
      401);
}

/* What a room's screens read, and its host and the coordinator read more
 * of (check-in receipts, which need a roster, are in it-questions). */
static void
test_reader (Fixture *f, gconstpointer data)
{
  g_auto (Reply) r = { 0 };

  g_assert_cmpuint (get (f, "/t/reader/kurs", ADMIN, "X-Reader", &r), ==,
      204);
  g_assert_cmpstr (r.header, ==, "privileged");
  g_assert_cmpuint (get (f, "/t/reader/kurs", HOST_KURS, "X-Reader", &r), ==,
      204);
  g_assert_cmpstr (r.header, ==, "privileged");
  g_assert_cmpuint (get (f, "/t/reader/kurs", f->participant, "X-Reader",
          &r), ==, 204);
  g_assert_cmpstr (r.header, ==, f->party);
  /* Another room's host or screen: known, and refused. */
  g_assert_cmpuint (get (f, "/t/reader/kurs", HOST_OTHER, NULL, &r), ==, 403);
  g_assert_nonnull (strstr (r.body, "this host token is for another room"));
  g_assert_cmpuint (get (f, "/t/reader/other", f->participant, NULL, &r), ==,
      403);
  g_assert_cmpuint (get (f, "/t/reader/kurs", NULL, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "a reader's token, please"));
  g_assert_nonnull (r.authenticate);
  g_assert_cmpuint (get (f, "/t/reader/kurs", UNKNOWN, NULL, &r), ==, 401);
}

static void
test_known (Fixture *f, gconstpointer data)
{
  g_auto (Reply) r = { 0 };
  g_autofree char *anonymous = g_strdup_printf ("%d", KK_AUTH_ANONYMOUS);
  g_autofree char *coordinator = g_strdup_printf ("%d", KK_AUTH_COORDINATOR);
  g_autofree char *host = g_strdup_printf ("%d", KK_AUTH_HOST);
  g_autofree char *participant = g_strdup_printf ("%d", KK_AUTH_PARTICIPANT);

  g_assert_cmpuint (get (f, "/t/known", NULL, "X-Role", &r), ==, 204);
  g_assert_cmpstr (r.header, ==, anonymous);
  g_assert_cmpuint (get (f, "/t/known", ADMIN, "X-Role", &r), ==, 204);
  g_assert_cmpstr (r.header, ==, coordinator);
  g_assert_cmpuint (get (f, "/t/known", HOST_OTHER, "X-Role", &r), ==, 204);
  g_assert_cmpstr (r.header, ==, host);
  g_assert_cmpuint (get (f, "/t/known", f->participant, "X-Role", &r), ==,
      204);
  g_assert_cmpstr (r.header, ==, participant);
  /* A mistyped token is refused, not taken for an anonymous caller. */
  g_assert_cmpuint (get (f, "/t/known", UNKNOWN, NULL, &r), ==, 401);
  g_assert_nonnull (strstr (r.body, "invalid token"));
}

static void
test_recording_link (Fixture *f, gconstpointer data)
{
  g_auto (Reply) r = { 0 };
  guint64 later = g_get_real_time () / G_USEC_PER_SEC + 600;
  guint64 past = g_get_real_time () / G_USEC_PER_SEC - 1;
  g_autofree char *sig = kk_auth_sign_recording_link (f->auth, "s1", later);
  g_autofree char *old = kk_auth_sign_recording_link (f->auth, "s1", past);
  g_autofree char *good = g_strdup_printf ("/t/link/s1?expires=%"
      G_GUINT64_FORMAT "&sig=%s", later, sig);
  g_autofree char *other = g_strdup_printf ("/t/link/s2?expires=%"
      G_GUINT64_FORMAT "&sig=%s", later, sig);
  g_autofree char *stretched = g_strdup_printf ("/t/link/s1?expires=%"
      G_GUINT64_FORMAT "&sig=%s", later + 1, sig);
  g_autofree char *expired = g_strdup_printf ("/t/link/s1?expires=%"
      G_GUINT64_FORMAT "&sig=%s", past, old);
  g_autofree char *forged = g_strdup (good);
  g_autoptr (GError) error = NULL;
  g_autoptr (KkAuth) restarted = NULL;
  g_autofree char *after_restart = NULL;

  g_assert_cmpuint (strlen (sig), ==, 64);
  g_assert_cmpuint (get (f, good, NULL, NULL, &r), ==, 204);
  /* The signature covers the session and the expiry. */
  g_assert_cmpuint (get (f, other, NULL, NULL, &r), ==, 403);
  g_assert_nonnull (strstr (r.body, "this link is not valid"));
  g_assert_cmpuint (get (f, stretched, NULL, NULL, &r), ==, 403);
  forged[strlen (forged) - 1] = forged[strlen (forged) - 1] == '0' ? '1' : '0';
  g_assert_cmpuint (get (f, forged, NULL, NULL, &r), ==, 403);
  g_assert_cmpuint (get (f, expired, NULL, NULL, &r), ==, 403);
  g_assert_nonnull (strstr (r.body, "this link has expired"));
  g_assert_cmpuint (get (f, "/t/link/s1?expires=1", NULL, NULL, &r), ==, 403);
  g_assert_cmpuint (get (f, "/t/link/s1?sig=abc", NULL, NULL, &r), ==, 403);
  g_assert_cmpuint (get (f, "/t/link/s1", NULL, NULL, &r), ==, 403);

  /* Another process (a restart) has another key: old links die. */
  restarted = kk_auth_new (f->registry, NULL, &error);
  g_assert_no_error (error);
  after_restart = kk_auth_sign_recording_link (restarted, "s1", later);
  g_assert_cmpstr (after_restart, !=, sig);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/auth/coordinator", test_coordinator);
  ADD ("/auth/host", test_host);
  ADD ("/auth/participant", test_participant);
  ADD ("/auth/reader", test_reader);
  ADD ("/auth/known", test_known);
  ADD ("/auth/recording-link", test_recording_link);
#undef ADD

  return g_test_run ();
}
