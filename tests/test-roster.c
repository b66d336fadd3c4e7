/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-roster: who may attend.
 *
 * The import parsers (JSON; CSV as Norwegian Excel and as RFC 4180; the
 * HPR, e-mail and identity-number rules) as pure functions, then the whole
 * path through a real SoupServer on 127.0.0.1:0 with the store, registry,
 * attendance log, roster and their routes: pre-registration with links
 * whose tokens the registry accepts, re-issue (the old token refused),
 * access modes (join refused in an invitation-only room, kept across a
 * restart), and invited people who never came showing in a session's
 * attendance as absent.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "kk-api.h"
#include "kk-attendance-api.h"
#include "kk-http.h"
#include "kk-roster-api.h"
#include "test-database.h"

#define ADMIN_TOKEN "test-admin-token-roster"

/* ---- parsers ---- */

static KkRosterEntry *
entry (GPtrArray *entries, guint i)
{
  g_assert_cmpuint (i, <, entries->len);
  return entries->pdata[i];
}

static void
test_validators (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (kk_roster_validate_hpr ("1", NULL));
  g_assert_true (kk_roster_validate_hpr ("123456789", NULL));
  g_assert_false (kk_roster_validate_hpr ("1234567890", &error));
  g_assert_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (kk_roster_validate_hpr ("", NULL));
  g_assert_false (kk_roster_validate_hpr ("12a4", NULL));
  g_assert_false (kk_roster_validate_hpr ("-123", NULL));
  g_assert_false (kk_roster_validate_hpr ("１２３", NULL));

  g_assert_true (kk_roster_validate_email ("kari@sykehuset.no", NULL));
  g_assert_true (kk_roster_validate_email ("åse.ødegård@gjøvik.kommune.no",
          NULL));
  g_assert_false (kk_roster_validate_email ("kari", NULL));
  g_assert_false (kk_roster_validate_email ("kari@no", NULL));
  g_assert_false (kk_roster_validate_email ("@x.no", NULL));
  g_assert_false (kk_roster_validate_email ("a@b@c.no", NULL));
  g_assert_false (kk_roster_validate_email ("kari nordmann@x.no", NULL));
  g_assert_false (kk_roster_validate_email ("kari@x.", NULL));

  /* Eleven digits, with the usual separators, in any field: refused. */
  g_assert_false (kk_roster_check_no_national_id ("name", "01019912345",
          &error));
  g_assert_nonnull (strstr (error->message, "national identity number"));
  g_clear_error (&error);
  g_assert_false (kk_roster_check_no_national_id ("x", "Kari 010199 12345",
          NULL));
  g_assert_false (kk_roster_check_no_national_id ("x", "010.199.123-45",
          NULL));
  g_assert_true (kk_roster_check_no_national_id ("x", "Avd. 4, tlf 12345678",
          NULL));
  g_assert_true (kk_roster_check_no_national_id ("x", "0101991234 5", NULL)
      == FALSE);
  g_assert_true (kk_roster_check_no_national_id ("x", "1234 5678 ab 901",
          NULL));
}

static void
test_parse_json (void)
{
  const char *good =
      "[{\"name\": \" Kari Nordmann \", \"workplace\": \"Gjøvik\","
      " \"email\": \"kari@x.no\", \"hpr\": \"1234567\"},"
      " {\"name\": \"Ola\", \"hpr\": 98765},"
      " {\"name\": \"Per\", \"email\": \"\", \"hpr\": null}]";
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;

  entries = kk_roster_parse_json (good, strlen (good), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 3);
  g_assert_cmpstr (entry (entries, 0)->name, ==, "Kari Nordmann");
  g_assert_cmpstr (entry (entries, 0)->workplace, ==, "Gjøvik");
  g_assert_cmpstr (entry (entries, 0)->email, ==, "kari@x.no");
  g_assert_cmpstr (entry (entries, 0)->hpr, ==, "1234567");
  g_assert_cmpstr (entry (entries, 1)->hpr, ==, "98765");
  g_assert_cmpstr (entry (entries, 1)->workplace, ==, "");
  g_assert_null (entry (entries, 2)->email);
  g_assert_null (entry (entries, 2)->hpr);
  g_clear_pointer (&entries, g_ptr_array_unref);

  {
    const char *wrapped = "{\"participants\": [{\"name\": \"A\"}]}";

    entries = kk_roster_parse_json (wrapped, strlen (wrapped), &error);
  }
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);

  {
    static const struct {
      const char *body;
      const char *message;
    } bad[] = {
      { "[]", "1 to" },
      { "{}", "list of participants" },
      { "[1]", "participant 1: must be an object" },
      { "[{\"name\": \"A\"}, {\"name\": \"\"}]", "participant 2:" },
      { "[{\"name\": \"A\", \"fnr\": \"x\"}]", "unknown member \"fnr\"" },
      { "[{\"name\": \"A\", \"hpr\": \"1234567890\"}]", "HPR" },
      { "[{\"name\": \"A\", \"hpr\": -5}]", "must be a string" },
      { "[{\"name\": \"A\", \"workplace\": \"01019912345\"}]",
        "national identity" },
      { "[{\"name\": \"A\", \"email\": \"nope\"}]", "e-mail" },
      { "[{\"name\": 5}]", "must be a string" },
      { "[{\"name\": \"A\"}", NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      entries = kk_roster_parse_json (bad[i].body, strlen (bad[i].body),
          &error);
      g_assert_null (entries);
      g_assert_nonnull (error);
      if (bad[i].message != NULL && strstr (error->message,
              bad[i].message) == NULL)
        g_error ("%s: \"%s\" lacks \"%s\"", bad[i].body, error->message,
            bad[i].message);
      g_clear_error (&error);
    }
  }
}

static void
test_parse_csv (void)
{
  /* As Excel saves it in Norway: BOM, ';', CRLF, a quoted field, a column
   * order of its own, Norwegian headers and a trailing empty column. */
  const char excel[] =
      "\xef\xbb\xbf" "HPR-nummer;Navn;Arbeidssted;E-post;\r\n"
      "1234567;Åse Ødegård;\"Gjøvik; sjukehus\";ase@x.no;\r\n"
      ";Ola Nordmann;Hamar;;\r\n"
      "\r\n"
      "98765;  Per  ;;;\r\n";
  const char rfc[] = "name,workplace,email,hpr\n"
      "\"Nordmann, Kari\",Lillehammer,kari@x.no,\n";
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;

  entries = kk_roster_parse_csv (excel, sizeof excel - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 3);
  g_assert_cmpstr (entry (entries, 0)->name, ==, "Åse Ødegård");
  g_assert_cmpstr (entry (entries, 0)->workplace, ==, "Gjøvik; sjukehus");
  g_assert_cmpstr (entry (entries, 0)->email, ==, "ase@x.no");
  g_assert_cmpstr (entry (entries, 0)->hpr, ==, "1234567");
  g_assert_cmpuint (entry (entries, 0)->line, ==, 2);
  g_assert_null (entry (entries, 1)->hpr);
  g_assert_null (entry (entries, 1)->email);
  g_assert_cmpstr (entry (entries, 2)->name, ==, "Per");
  g_clear_pointer (&entries, g_ptr_array_unref);

  entries = kk_roster_parse_csv (rfc, sizeof rfc - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
  g_assert_cmpstr (entry (entries, 0)->name, ==, "Nordmann, Kari");
  g_assert_cmpstr (entry (entries, 0)->workplace, ==, "Lillehammer");
  g_clear_pointer (&entries, g_ptr_array_unref);

  {
    static const struct {
      const char *body;
      const char *message;
    } bad[] = {
      /* A sheet with identity numbers is refused whole. */
      { "navn;fødselsnummer\nKari;01019912345\n", "unknown column "
        "\"fødselsnummer\"" },
      { "workplace;email\nX;a@b.no\n", "no name column" },
      { "name\n", "at least one person" },
      { "name;name\nA;B\n", "appears twice" },
      { "name;hpr\nKari;12345678901\n", "row 2:" },
      { "name;hpr\nKari;1\n;2\n", "row 3: name" },
      { "name;\nKari;x\n", "row 2: a value in a column without a name" },
      { "name\n\"Kari\n", "not closed" },
      { "name;workplace\nKari;Avd 010199 12345\n", "national identity" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      entries = kk_roster_parse_csv (bad[i].body, strlen (bad[i].body),
          &error);
      g_assert_null (entries);
      g_assert_error (error, KK_ATTENDANCE_ERROR,
          KK_ATTENDANCE_ERROR_INVALID);
      if (strstr (error->message, bad[i].message) == NULL)
        g_error ("%s: \"%s\" lacks \"%s\"", bad[i].body, error->message,
            bad[i].message);
      g_clear_error (&error);
    }
  }
}

/* ---- through the server ---- */

typedef struct {
  char *dir;
  KkConfig *config;
  KkStore *store;
  KkRoomRegistry *registry;
  KkAttendanceLog *log;
  KkRoster *roster;
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
  f->metrics = kk_metrics_new ();
  f->server = kk_http_server_new (f->config, &error);
  g_assert_no_error (error);
  auth = kk_auth_new (f->registry, f->roster, &error);
  g_assert_no_error (error);
  g_assert_true (kk_api_register (f->server, auth, f->registry, f->store,
          f->metrics, NULL, f->roster, NULL, NULL, &error));
  g_assert_true (kk_attendance_api_register (f->server, auth, f->log,
          f->registry, NULL, &error));
  g_assert_true (kk_roster_api_register (f->server, auth, f->roster,
          f->registry, &error));
  g_assert_no_error (error);
  f->port = kk_http_server_get_port (f->server);
  f->session = soup_session_new ();
  soup_session_set_proxy_resolver (f->session, NULL);
}

static void
stop (Fixture *f)
{
  g_clear_object (&f->session);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_clear_pointer (&f->metrics, kk_metrics_free);
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

  f->dir = g_dir_make_tmp ("kk-test-roster-XXXXXX", NULL);
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

static void
make_room (Fixture *f, const char *id)
{
  g_auto (Response) r = { 0 };
  g_autofree char *body = g_strdup_printf ("{\"id\": \"%s\", \"title\": "
      "\"Kurs %s\"}", id, id);

  g_assert_cmpuint (request (f, "POST", "/api/rooms", ADMIN_TOKEN,
          "application/json", body, 0, &r), ==, 201);
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

static void
test_invite_json (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  const char *body = "[{\"name\": \"Kari Nordmann\", \"workplace\": "
      "\"Gjøvik\", \"email\": \"Kari@X.no\", \"hpr\": \"1234567\"},"
      " {\"name\": \"Ola\", \"hpr\": \"7654321\"}]";
  g_autofree char *token = NULL;
  g_autofree char *party = NULL;
  g_autofree char *kari = NULL;
  JsonArray *people;
  JsonObject *first;

  make_room (f, "kurs");
  /* Only the coordinator; only for a room that exists; only JSON or CSV. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants", NULL,
          "application/json", body, 0, &r), ==, 401);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          "nonsense", "application/json", body, 0, &r), ==, 401);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/nope/participants",
          ADMIN_TOKEN, "application/json", body, 0, &r), ==, 404);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "text/plain", body, 0, &r), ==, 415);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"\"}]", 0, &r), ==,
      400);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_people"), ==, 0);

  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", body, 0, &r), ==, 201);
  g_assert_cmpint (json_object_get_int_member (object (&r), "invited"), ==,
      2);
  people = json_object_get_array_member (object (&r), "participants");
  g_assert_cmpuint (json_array_get_length (people), ==, 2);
  first = json_array_get_object_element (people, 0);
  g_assert_cmpstr (member_string (first, "name"), ==, "Kari Nordmann");
  g_assert_cmpstr (member_string (first, "hpr"), ==, "1234567");
  token = g_strdup (member_string (first, "token"));
  kari = g_strdup (member_string (first, "participant_id"));
  g_assert_nonnull (token);
  g_assert_true (g_str_has_prefix (member_string (first, "link"),
          "/watch/kurs#token="));
  g_assert_true (g_str_has_suffix (member_string (first, "link"), token));
  g_assert_null (member_string (first, "skipped"));

  /* The link's token is a viewer token of this room, and only of it. */
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          token, &party), ==, KK_TOKEN_OK);
  g_assert_nonnull (party);
  /* Stored hashed, never as it is. */
  g_assert_cmpint (sql (f, "SELECT count(*) FROM parties WHERE token_hash"
          " = '%s'", token), ==, 0);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_people WHERE"
          " participant_id = '%s' AND party_id = '%s' AND hpr = '1234567'",
          kari, party), ==, 1);

  /* Importing the same people again doubles no one: HPR and e-mail (any
   * case) name them. A new person in the same list is added. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"K. Nordmann\", "
          "\"email\": \"kari@x.NO\"}, {\"name\": \"Ola N\", \"hpr\": 7654321},"
          " {\"name\": \"Per\", \"hpr\": \"555\"}, {\"name\": \"Per igjen\","
          " \"hpr\": \"555\"}]", 0, &r), ==, 201);
  g_assert_cmpint (json_object_get_int_member (object (&r), "invited"), ==,
      1);
  g_assert_cmpint (json_object_get_int_member (object (&r), "skipped"), ==,
      3);
  people = json_object_get_array_member (object (&r), "participants");
  first = json_array_get_object_element (people, 0);
  g_assert_cmpstr (member_string (first, "participant_id"), ==, kari);
  g_assert_null (member_string (first, "token"));
  g_assert_nonnull (strstr (member_string (first, "skipped"), "e-mail"));
  g_assert_nonnull (strstr (member_string (json_array_get_object_element (
                  people, 3), "skipped"), "HPR number"));
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_people"), ==, 3);

  /* The coordinator's list: everyone, self-registered too. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Åse\", \"colleagues\": "
          "[\"Bjørn\"]}", 0, &r), ==, 201);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  people = array (&r);
  g_assert_cmpuint (json_array_get_length (people), ==, 5);
  {
    g_autoptr (GString) kinds = g_string_new (NULL);

    for (guint i = 0; i < json_array_get_length (people); i++) {
      JsonObject *p = json_array_get_object_element (people, i);

      g_string_append_printf (kinds, "%s:%s ", member_string (p, "name"),
          member_string (p, "kind"));
      g_assert_false (json_object_has_member (p, "token"));
    }
    /* Å is the last letter, in Norwegian as in code points. */
    g_assert_cmpstr (kinds->str, ==, "Bjørn:colleague Kari Nordmann:invited "
        "Ola:invited Per:invited Åse:joined ");
  }
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/participants", token,
          NULL, NULL, 0, &r), ==, 403);
}

static void
test_invite_csv (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  const char excel[] = "\xef\xbb\xbfNavn;Arbeidssted;E-post;HPR-nummer\r\n"
      "Åse Ødegård;Gjøvik sjukehus;;1234567\r\n"
      "=Ola;Hamar;ola@x.no;\r\n";
  g_autoptr (GPtrArray) rows = NULL;
  const char *text;
  gsize size;
  char **row;

  make_room (f, "kurs");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants"
          "?format=csv", ADMIN_TOKEN, "text/csv", excel, sizeof excel - 1,
          &r), ==, 201);
  g_assert_cmpstr (r.content_type, ==, "text/csv");
  text = g_bytes_get_data (r.body, &size);
  g_assert_true (size > 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0);
  rows = kk_csv_parse (text, size, NULL);
  g_assert_nonnull (rows);
  g_assert_cmpuint (rows->len, ==, 3);
  row = rows->pdata[0];
  g_assert_cmpstr (row[0], ==, "participant_id");
  g_assert_cmpstr (row[5], ==, "link");
  row = rows->pdata[1];
  g_assert_cmpstr (row[1], ==, "Åse Ødegård");
  g_assert_cmpstr (row[4], ==, "1234567");
  g_assert_true (g_str_has_prefix (row[5], "/watch/kurs#token="));
  /* A name that Excel would run is neutralised on the way out. */
  row = rows->pdata[2];
  g_assert_cmpstr (row[1], ==, "'=Ola");
  g_assert_cmpint (sql (f, "SELECT count(*) FROM participants WHERE name ="
          " '=Ola'"), ==, 1);

  /* An RFC 4180 upload (a script's), and a refused sheet that stores
   * nothing. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "text/csv; charset=utf-8",
          "name,workplace\nPer,Elverum\n", 0, &r), ==, 201);
  g_assert_cmpint (json_object_get_int_member (object (&r), "invited"), ==,
      1);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "text/csv", "navn;personnummer\nKari;01019912345\n",
          0, &r), ==, 400);
  g_assert_nonnull (strstr (member_string (object (&r), "error"),
          "personnummer"));
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "text/csv", "navn;hpr\nKari;1\nOla;1234567890\n", 0,
          &r), ==, 400);
  g_assert_nonnull (strstr (member_string (object (&r), "error"), "row 3"));
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_people"), ==, 3);
}

static void
test_reissue (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *old = NULL, *id = NULL, *path = NULL;
  const char *fresh;

  make_room (f, "kurs");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"Kari\"}]", 0, &r),
      ==, 201);
  {
    JsonObject *p = json_array_get_object_element (
        json_object_get_array_member (object (&r), "participants"), 0);

    old = g_strdup (member_string (p, "token"));
    id = g_strdup (member_string (p, "participant_id"));
  }
  path = g_strdup_printf ("/api/participants/%s/invitation", id);
  g_assert_cmpuint (request (f, "POST", path, old, NULL, NULL, 0, &r), ==,
      403);
  g_assert_cmpuint (request (f, "POST", path, ADMIN_TOKEN, NULL, NULL, 0, &r),
      ==, 201);
  fresh = member_string (object (&r), "token");
  g_assert_nonnull (fresh);
  g_assert_cmpstr (fresh, !=, old);
  g_assert_cmpstr (member_string (object (&r), "participant_id"), ==, id);
  g_assert_cmpstr (member_string (object (&r), "room"), ==, "kurs");
  g_assert_true (g_str_has_suffix (member_string (object (&r), "link"),
          fresh));
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          fresh, NULL), ==, KK_TOKEN_OK);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          old, NULL), ==, KK_TOKEN_UNKNOWN);

  /* Still so after a restart: the store has the new hash only. */
  stop (f);
  start (f);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          old, NULL), ==, KK_TOKEN_UNKNOWN);

  g_assert_cmpuint (request (f, "POST", "/api/participants/nobody/invitation",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 404);
  /* Someone who joined on their own keeps their own token. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Ola\"}", 0, &r), ==, 201);
  g_free (path);
  path = g_strdup_printf ("/api/participants/%s/invitation",
      member_string (object (&r), "participant_id"));
  g_assert_cmpuint (request (f, "POST", path, ADMIN_TOKEN, NULL, NULL, 0, &r),
      ==, 409);
}

static void
test_access (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };

  make_room (f, "open");
  make_room (f, "closed");
  g_assert_cmpuint (request (f, "GET", "/api/rooms/closed", NULL, NULL, NULL,
          0, &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "access"), ==, "open");

  g_assert_cmpuint (request (f, "PUT", "/api/rooms/closed/access", NULL,
          "application/json", "{\"access\": \"invitation\"}", 0, &r), ==, 401);
  g_assert_cmpuint (request (f, "PUT", "/api/rooms/closed/access",
          ADMIN_TOKEN, "application/json", "{\"access\": \"secret\"}", 0, &r),
      ==, 400);
  g_assert_cmpuint (request (f, "PUT", "/api/rooms/closed/access",
          ADMIN_TOKEN, "application/json", "{\"access\": \"invitation\", "
          "\"x\": 1}", 0, &r), ==, 400);
  g_assert_cmpuint (request (f, "PUT", "/api/rooms/nope/access",
          ADMIN_TOKEN, "application/json", "{\"access\": \"open\"}", 0, &r),
      ==, 404);
  g_assert_cmpuint (request (f, "PUT", "/api/rooms/closed/access",
          ADMIN_TOKEN, "application/json", "{\"access\": \"invitation\"}", 0,
          &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "access"), ==, "invitation");

  /* Self-registration is refused there, not in the other room. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/closed/join", NULL,
          "application/json", "{\"name\": \"Kari\"}", 0, &r), ==, 403);
  g_assert_nonnull (strstr (member_string (object (&r), "error"),
          "invitation"));
  g_assert_cmpuint (request (f, "POST", "/api/rooms/open/join", NULL,
          "application/json", "{\"name\": \"Kari\"}", 0, &r), ==, 201);
  /* Pre-registered people still get in. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/closed/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"Ola\"}]", 0, &r),
      ==, 201);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "closed",
          member_string (json_array_get_object_element (
                  json_object_get_array_member (object (&r), "participants"),
                  0), "token"), NULL), ==, KK_TOKEN_OK);

  /* Kept across a restart, and shown to anyone (the watch page asks). */
  stop (f);
  start (f);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/closed", NULL, NULL, NULL,
          0, &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "access"), ==, "invitation");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/closed/join", NULL,
          "application/json", "{\"name\": \"Kari\"}", 0, &r), ==, 403);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/closed/access",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "access"), ==, "invitation");
  g_assert_cmpuint (request (f, "PUT", "/api/rooms/closed/access",
          ADMIN_TOKEN, "application/json", "{\"access\": \"open\"}", 0, &r),
      ==, 200);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/closed/join", NULL,
          "application/json", "{\"name\": \"Kari\"}", 0, &r), ==, 201);
}

/* A session of @room from @start_s to @end_s seconds ago, as the log would
 * have frozen it (ratio 0.5, grace 0). */
static void
add_session (Fixture *f, const char *id, const char *room, gint64 start_s,
    gint64 end_s)
{
  gint64 now = kk_attendance_log_now (f->log);

  sql (f, "INSERT INTO att_sessions (id, room_id, started_at, ended_at,"
      " alive_at, completion_ratio, grace_s, max_lateness_s, require_code,"
      " prompts, prompt_window_s) VALUES ('%s', '%s', %" G_GINT64_FORMAT
      ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", 0.5, 0, NULL, 0, 0,"
      " 180)", id, room, now - start_s * G_USEC_PER_SEC,
      now - end_s * G_USEC_PER_SEC, now - end_s * G_USEC_PER_SEC);
}

static JsonObject *
row_of (JsonArray *rows, const char *name)
{
  for (guint i = 0; i < json_array_get_length (rows); i++) {
    JsonObject *row = json_array_get_object_element (rows, i);

    if (g_strcmp0 (member_string (row, "name"), name) == 0)
      return row;
  }
  return NULL;
}

static void
test_absent_invited (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *party = NULL, *csv = NULL;
  g_autofree char *early = NULL;
  JsonObject *row;
  JsonArray *rows;
  gint64 now;

  make_room (f, "kurs");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"Kari\"},"
          " {\"name\": \"Ola\"}]", 0, &r), ==, 201);
  early = g_strdup (member_string (json_array_get_object_element (
              json_object_get_array_member (object (&r), "participants"), 0),
          "token"));
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          early, &party), ==, KK_TOKEN_OK);
  /* Invited well before a session that ran for 100 s and ended 10 s ago;
   * Kari watched 60 s of it, Ola never came. */
  sql (f, "UPDATE att_people SET invited_at = invited_at - 200000000");
  add_session (f, "s1", "kurs", 110, 10);
  now = kk_attendance_log_now (f->log);
  sql (f, "INSERT INTO att_connections (resource_id, room_id, party_id,"
      " connected_at, alive_at, left_at, reason) VALUES ('c1', 'kurs', '%s',"
      " %" G_GINT64_FORMAT ", 0, %" G_GINT64_FORMAT ", 'closed')", party,
      now - 100 * G_USEC_PER_SEC, now - 40 * G_USEC_PER_SEC);
  /* Someone invited after the session had ended is not in it. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"Per\"}]", 0, &r),
      ==, 201);

  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  rows = array (&r);
  g_assert_cmpuint (json_array_get_length (rows), ==, 2);
  row = row_of (rows, "Kari");
  g_assert_nonnull (row);
  g_assert_cmpint (json_object_get_int_member (row, "attended_seconds"), ==,
      60);
  g_assert_true (json_object_get_boolean_member (row, "completed"));
  row = row_of (rows, "Ola");
  g_assert_nonnull (row);
  g_assert_cmpint (json_object_get_int_member (row, "attended_seconds"), ==,
      0);
  g_assert_false (json_object_get_boolean_member (row, "completed"));
  g_assert_cmpstr (member_string (row, "verdict"), ==, "absent");
  g_assert_true (json_object_get_null_member (row, "first_join"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (row,
              "connections")), ==, 0);

  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance"
          "?format=csv", ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  csv = g_strndup (g_bytes_get_data (r.body, NULL),
      g_bytes_get_size (r.body));
  g_assert_nonnull (strstr (csv, ";Ola;;;;0;"));
}

typedef struct {
  KkCheckin *checkin;
  GError *error;
  gboolean done;
} CheckinWait;

static void
checkin_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CheckinWait *wait = user_data;

  wait->checkin = kk_roster_checkin_finish (KK_ROSTER (source), result,
      &wait->error);
  wait->done = TRUE;
}

/* A check-in straight through the roster, as from @client; returns the
 * error code, or -1 on success. */
static int
checkin (Fixture *f, const char *code, const char *client)
{
  CheckinWait wait = { 0 };
  int result;

  kk_roster_checkin_async (f->roster, "kurs", code, "Kollega", "Avd. 2",
      client, checkin_done, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true ((wait.checkin == NULL) == (wait.error != NULL));
  if (wait.error != NULL)
    g_assert_true (wait.error->domain == KK_ATTENDANCE_ERROR);
  result = wait.error != NULL ? wait.error->code : -1;
  g_clear_error (&wait.error);
  kk_checkin_free (wait.checkin);
  return result;
}

static void
test_checkin (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *screen = NULL, *party = NULL, *code = NULL;
  g_autofree char *receipt = NULL, *typed = NULL, *who = NULL;
  g_autofree char *body = NULL;
  const char *expires;

  make_room (f, "kurs");
  make_room (f, "other");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Skjerm\", \"workplace\": "
          "\"Avd. 2\"}", 0, &r), ==, 201);
  screen = g_strdup (member_string (object (&r), "token"));
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          screen, &party), ==, KK_TOKEN_OK);

  /* Only the screen's own token shows its code. */
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/checkin-code", NULL,
          NULL, NULL, 0, &r), ==, 401);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/checkin-code",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 401);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/other/checkin-code",
          screen, NULL, NULL, 0, &r), ==, 403);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/checkin-code",
          screen, NULL, NULL, 0, &r), ==, 200);
  code = g_strdup (member_string (object (&r), "code"));
  g_assert_cmpuint (strlen (code), ==, KK_CHECKIN_CODE_LENGTH);
  g_assert_cmpuint (strspn (code, KK_CHECKIN_ALPHABET), ==,
      KK_CHECKIN_CODE_LENGTH);
  expires = member_string (object (&r), "expires_at");
  g_assert_nonnull (expires);
  /* Asked again (POST too): the same code while it is valid. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin-code",
          screen, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpstr (member_string (object (&r), "code"), ==, code);

  /* Typed on a phone, lower case and with a dash. */
  typed = g_ascii_strdown (code, -1);
  body = g_strdup_printf ("{\"code\": \"%.3s-%s\", \"name\": \" Kari "
      "Kollega \", \"workplace\": \"Avd. 2\"}", typed, typed + 3);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/other/checkin", NULL,
          "application/json", body, 0, &r), ==, 403);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin", NULL,
          "application/json", "{\"code\": \"x\"}", 0, &r), ==, 400);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin", NULL,
          "application/json", body, 0, &r), ==, 201);
  receipt = g_strdup (member_string (object (&r), "receipt"));
  who = g_strdup (member_string (object (&r), "participant_id"));
  g_assert_nonnull (receipt);
  g_assert_nonnull (member_string (object (&r), "checked_in_at"));
  g_assert_cmpint (sql (f, "SELECT count(*) FROM participants WHERE"
          " party_id = '%s' AND id = '%s' AND name = 'Kari Kollega'", party,
          who), ==, 1);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_checkins WHERE"
          " receipt_hash = '%s'", receipt), ==, 0);

  /* The receipt answers for her and opens nothing else. */
  {
    g_autofree char *pid = NULL, *pparty = NULL;

    g_assert_cmpint (kk_roster_check_receipt (f->roster, "kurs", receipt,
            &pid, &pparty), ==, KK_TOKEN_OK);
    g_assert_cmpstr (pid, ==, who);
    g_assert_cmpstr (pparty, ==, party);
  }
  g_assert_cmpint (kk_roster_check_receipt (f->roster, "other", receipt,
          NULL, NULL), ==, KK_TOKEN_WRONG_ROOM);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          receipt, NULL), ==, KK_TOKEN_UNKNOWN);
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/checkin-code",
          receipt, NULL, NULL, 0, &r), ==, 401);

  /* In the coordinator's list, and known after a restart; the code is
   * not (it lives in memory), the screen just asks for a new one. */
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpstr (member_string (row_of (array (&r), "Kari Kollega"),
          "kind"), ==, "checked-in");
  stop (f);
  start (f);
  g_assert_cmpint (kk_roster_check_receipt (f->roster, "kurs", receipt,
          NULL, NULL), ==, KK_TOKEN_OK);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin", NULL,
          "application/json", body, 0, &r), ==, 403);
}

static void
test_checkin_limits (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *screen = NULL, *code = NULL, *other = NULL;
  g_autofree char *full_party = NULL, *full_code = NULL;
  int i;

  make_room (f, "kurs");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Skjerm\"}", 0, &r), ==, 201);
  screen = g_strdup (member_string (object (&r), "token"));
  g_assert_cmpuint (request (f, "GET", "/api/rooms/kurs/checkin-code",
          screen, NULL, NULL, 0, &r), ==, 200);
  code = g_strdup (member_string (object (&r), "code"));
  /* A wrong code that is still a valid-looking one. */
  other = g_strdup (code);
  other[0] = other[0] == 'A' ? 'C' : 'A';

  /* Ten wrong guesses from one address, then even the right code waits;
   * the same /64 shares the limit, another address does not. */
  for (i = 0; i < KK_CHECKIN_FAILURE_BURST; i++)
    g_assert_cmpint (checkin (f, other, "2001:db8:0:7::1"), ==,
        KK_ATTENDANCE_ERROR_FORBIDDEN);
  g_assert_cmpint (checkin (f, other, "2001:db8:0:7::1"), ==,
      KK_ATTENDANCE_ERROR_LIMITED);
  g_assert_cmpint (checkin (f, code, "2001:db8:0:7::99"), ==,
      KK_ATTENDANCE_ERROR_LIMITED);
  g_assert_cmpint (checkin (f, code, "2001:db8:0:8::1"), ==, -1);
  g_assert_cmpint (checkin (f, code, "192.0.2.1"), ==, -1);

  /* Over HTTP the refusal says when to come back. */
  for (i = 0; i < KK_CHECKIN_FAILURE_BURST; i++)
    g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin", NULL,
            "application/json", "{\"code\": \"AAAAAA\", \"name\": "
            "\"X\"}", 0, &r), ==, 403);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/checkin", NULL,
          "application/json", "{\"code\": \"AAAAAA\", \"name\": \"X\"}",
          0, &r), ==, 429);

  /* Uses of one code per minute: two were made above. */
  for (i = 2; i < KK_CHECKIN_PER_CODE_PER_MINUTE; i++)
    g_assert_cmpint (checkin (f, code, "192.0.2.2"), ==, -1);
  g_assert_cmpint (checkin (f, code, "192.0.2.3"), ==,
      KK_ATTENDANCE_ERROR_LIMITED);

  /* A full screen. */
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Full\"}", 0, &r), ==, 201);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          member_string (object (&r), "token"), &full_party), ==,
      KK_TOKEN_OK);
  full_code = kk_roster_get_checkin_code (f->roster, "kurs", full_party,
      NULL);
  sql (f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
      " WHERE i < %d) INSERT INTO participants (id, party_id, room_id, ord,"
      " name, workplace, created_at) SELECT 'p' || i, '%s', 'kurs', i, 'P',"
      " '', 0 FROM n", KK_CHECKIN_MAX_PER_PARTY - 1, full_party);
  g_assert_cmpint (checkin (f, full_code, "192.0.2.4"), ==,
      KK_ATTENDANCE_ERROR_CONFLICT);
}

static void
test_checkin_attendance (Fixture *f, gconstpointer data)
{
  g_auto (Response) r = { 0 };
  g_autofree char *party = NULL, *code = NULL;
  JsonArray *rows;
  JsonObject *row;
  gint64 now;

  make_room (f, "kurs");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Skjerm\", \"colleagues\": "
          "[\"Med\"]}", 0, &r), ==, 201);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          member_string (object (&r), "token"), &party), ==, KK_TOKEN_OK);
  code = kk_roster_get_checkin_code (f->roster, "kurs", party, NULL);
  g_assert_cmpint (checkin (f, code, "192.0.2.1"), ==, -1);
  /* The session ran from 100 s to 10 s ago and the screen received all of
   * it; the check-in was 40 s ago. */
  add_session (f, "s1", "kurs", 100, 10);
  now = kk_attendance_log_now (f->log);
  sql (f, "UPDATE att_checkins SET checked_in_at = %" G_GINT64_FORMAT,
      now - 40 * G_USEC_PER_SEC);
  sql (f, "INSERT INTO att_connections (resource_id, room_id, party_id,"
      " connected_at, alive_at, left_at, reason) VALUES ('c1', 'kurs', '%s',"
      " %" G_GINT64_FORMAT ", 0, %" G_GINT64_FORMAT ", 'closed')", party,
      now - 120 * G_USEC_PER_SEC, now - 5 * G_USEC_PER_SEC);

  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  rows = array (&r);
  g_assert_cmpuint (json_array_get_length (rows), ==, 3);
  row = row_of (rows, "Skjerm");
  g_assert_cmpint (json_object_get_int_member (row, "attended_seconds"), ==,
      90);
  g_assert_true (json_object_get_null_member (row, "checked_in_at"));
  row = row_of (rows, "Med");
  g_assert_cmpint (json_object_get_int_member (row, "attended_seconds"), ==,
      90);
  /* From the check-in on: 30 of 90 s, below the ratio of 0.5. */
  row = row_of (rows, "Kollega");
  g_assert_nonnull (row);
  g_assert_cmpint (json_object_get_int_member (row, "attended_seconds"), ==,
      30);
  g_assert_false (json_object_get_boolean_member (row, "completed"));
  g_assert_cmpstr (member_string (row, "verdict"), ==, "too-short");
  g_assert_nonnull (member_string (row, "checked_in_at"));
  g_assert_nonnull (member_string (row, "first_join"));
}

/* On PostgreSQL, whose files are the server's: whether any row version
 * in the pages of the test's tables, live or dead, holds @needle, read
 * as stored by pageinspect. What an erasure guarantees there is that none
 * does once it has committed (its VACUUM; see pg_secure_delete). */
static gboolean
in_pg_pages (Fixture *f, const char *needle)
{
  sql (f, "CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA public");
  return sql (f, "SELECT count(*) FROM pg_class c"
      " CROSS JOIN LATERAL generate_series (0, pg_relation_size (c.oid)"
      "   / current_setting ('block_size')::int - 1) AS b"
      " CROSS JOIN LATERAL public.heap_page_items (public.get_raw_page ("
      "   c.oid::regclass::text, b::int)) AS t"
      " WHERE c.relnamespace = current_schema ()::regnamespace"
      " AND c.relkind = 'r'"
      " AND position (convert_to ('%s', 'UTF8') IN t.t_data) > 0",
      needle) > 0;
}

/* Whether @needle is anywhere in the database's files. */
static gboolean
on_disk (Fixture *f, const char *needle)
{
  const char *names[] = { "kringkast.db", "kringkast.db-wal" };

  if (f->config->database != NULL)
    return in_pg_pages (f, needle);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *path = g_build_filename (f->dir, names[i], NULL);
    g_autofree char *data = NULL;
    gsize size = 0;

    if (g_file_get_contents (path, &data, &size, NULL)
        && memmem (data, size, needle, strlen (needle)) != NULL)
      return TRUE;
  }
  return FALSE;
}

/* A module above the roster, as kk-relay.c hands one over: its part of
 * each erasure runs in the transaction and says whom it erased; what it
 * says is told on the main context once committed, and only then. */
static gboolean
erase_in_transaction (KkDb *db, const char *participant_id,
    const char *party_id, gboolean party_erased, gpointer *erased,
    GError **error)
{
  *erased = g_strdup_printf ("%s %s", participant_id,
      party_erased ? "alone" : "in a group");
  return TRUE;
}

static void
erased_told (gpointer erased, gpointer user_data)
{
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_ptr_array_add (user_data, g_strdup (erased));
}

static const KkRosterEraser test_eraser = {
  .erase = erase_in_transaction,
  .erased_func = erased_told,
  .erased_free = g_free,
};

/* Whether @count erasures were told, the last one @participant_id's,
 * @how. */
static void
assert_told (GPtrArray *told, guint count, const char *participant_id,
    const char *how)
{
  g_autofree char *wanted = g_strdup_printf ("%s %s", participant_id, how);

  g_assert_cmpuint (told->len, ==, count);
  g_assert_cmpstr (told->pdata[count - 1], ==, wanted);
}

static void
test_erase (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) told = g_ptr_array_new_with_free_func (g_free);
  g_auto (Response) r = { 0 };
  g_autofree char *solo = NULL, *solo_party = NULL, *solo_token = NULL;
  g_autofree char *group = NULL, *group_party = NULL, *colleague = NULL;
  g_autofree char *invited = NULL, *path = NULL;
  gint64 now;

  kk_roster_add_eraser (f->roster, &test_eraser, told, NULL);
  make_room (f, "kurs");
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Pål Personvern\", "
          "\"workplace\": \"Sletteby\"}", 0, &r), ==, 201);
  solo = g_strdup (member_string (object (&r), "participant_id"));
  solo_token = g_strdup (member_string (object (&r), "token"));
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          solo_token, &solo_party), ==, KK_TOKEN_OK);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/join", NULL,
          "application/json", "{\"name\": \"Gro Gruppe\", \"colleagues\":"
          " [\"Kåre Kollega\"]}", 0, &r), ==, 201);
  group = g_strdup (member_string (object (&r), "participant_id"));
  colleague = g_strdup (json_array_get_string_element (
          json_object_get_array_member (object (&r), "colleague_ids"), 0));
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          member_string (object (&r), "token"), &group_party), ==,
      KK_TOKEN_OK);
  g_assert_cmpuint (request (f, "POST", "/api/rooms/kurs/participants",
          ADMIN_TOKEN, "application/json", "[{\"name\": \"Inga Invitert\","
          " \"hpr\": \"4242\"}]", 0, &r), ==, 201);
  invited = g_strdup (member_string (json_array_get_object_element (
              json_object_get_array_member (object (&r), "participants"), 0),
          "participant_id"));
  sql (f, "UPDATE att_people SET invited_at = invited_at - 200000000");

  /* Evidence of a session: both screens watched 60 s of it; overrides
   * and presence answers name people; raw events name the parties. */
  add_session (f, "s1", "kurs", 110, 10);
  now = kk_attendance_log_now (f->log);
  sql (f, "INSERT INTO att_connections (resource_id, room_id, party_id,"
      " connected_at, alive_at, left_at, reason) VALUES"
      " ('c-solo', 'kurs', '%s', %" G_GINT64_FORMAT ", 0, %" G_GINT64_FORMAT
      ", 'closed'), ('c-group', 'kurs', '%s', %" G_GINT64_FORMAT ", 0, %"
      G_GINT64_FORMAT ", 'closed')", solo_party, now - 100 * G_USEC_PER_SEC,
      now - 40 * G_USEC_PER_SEC, group_party, now - 100 * G_USEC_PER_SEC,
      now - 40 * G_USEC_PER_SEC);
  sql (f, "INSERT INTO att_events (room_id, kind, subject, party_id, at,"
      " wall_at) VALUES ('kurs', 'connect', 'c-solo', '%s', 1, 1),"
      " ('kurs', 'leave', 'c-solo', '%s', 2, 2),"
      " ('kurs', 'connect', 'c-group', '%s', 1, 1)", solo_party, solo_party,
      group_party);
  kk_attendance_log_record_code_answer (f->log, "kurs", "s1", solo_party,
      NULL, now);
  kk_attendance_log_record_prompt_answer (f->log, "kurs", "p1", group_party,
      colleague, now);
  for (guint i = 0; i < 2; i++) {
    g_free (path);
    path = g_strdup_printf ("/api/sessions/s1/attendance/%s/override",
        i == 0 ? solo : colleague);
    g_assert_cmpuint (request (f, "POST", path, ADMIN_TOKEN,
            "application/json", "{\"completed\": true, \"reason\": "
            "\"Sykdom\", \"by\": \"Koordinator\"}", 0, &r), ==, 204);
  }
  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpuint (json_array_get_length (array (&r)), ==, 4);
  g_assert_true (on_disk (f, "Pål Personvern"));

  /* Only the coordinator; only someone who exists. */
  g_free (path);
  path = g_strdup_printf ("/api/participants/%s", solo);
  g_assert_cmpuint (request (f, "DELETE", path, NULL, NULL, NULL, 0, &r), ==,
      401);
  g_assert_cmpuint (request (f, "DELETE", path, solo_token, NULL, NULL, 0,
          &r), ==, 403);
  g_assert_cmpuint (request (f, "DELETE", "/api/participants/nobody",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 404);
  g_assert_cmpuint (told->len, ==, 0);

  /* Someone who watched alone: everything of theirs goes. */
  g_assert_cmpuint (request (f, "DELETE", path, ADMIN_TOKEN, NULL, NULL, 0,
          &r), ==, 200);
  g_assert_true (json_object_get_boolean_member (object (&r),
          "party_erased"));
  assert_told (told, 1, solo, "alone");
  g_assert_cmpint (json_object_get_int_member (object (&r),
          "connections_erased"), ==, 1);
  /* connect, leave, code answer, override */
  g_assert_cmpint (json_object_get_int_member (object (&r),
          "events_erased"), ==, 4);
  g_assert_cmpuint (request (f, "DELETE", path, ADMIN_TOKEN, NULL, NULL, 0,
          &r), ==, 404);
  g_assert_cmpint (kk_room_registry_check_viewer_token (f->registry, "kurs",
          solo_token, NULL), ==, KK_TOKEN_UNKNOWN);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM parties WHERE id = '%s'",
          solo_party), ==, 0);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_events WHERE party_id"
          " = '%s' OR subject = '%s' OR detail = '%s'", solo_party, solo,
          solo), ==, 0);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_overrides WHERE"
          " participant_id = '%s'", solo), ==, 0);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_code_answers"), ==, 0);
  g_assert_false (on_disk (f, "Pål Personvern"));
  g_assert_false (on_disk (f, "Sletteby"));
  /* What stays is anonymous: the session, and a trace of the erasure. */
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_sessions"), ==, 1);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_events WHERE kind ="
          " 'erasure' AND subject = '' AND party_id IS NULL"), ==, 1);

  /* One of a group: their own data goes, the screen's evidence stays for
   * the other. */
  g_free (path);
  path = g_strdup_printf ("/api/participants/%s", colleague);
  g_assert_cmpuint (request (f, "DELETE", path, ADMIN_TOKEN, NULL, NULL, 0,
          &r), ==, 200);
  g_assert_false (json_object_get_boolean_member (object (&r),
          "party_erased"));
  assert_told (told, 2, colleague, "in a group");
  g_assert_cmpint (json_object_get_int_member (object (&r),
          "connections_erased"), ==, 0);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_prompt_answers"), ==, 0);
  g_assert_false (on_disk (f, "Kåre Kollega"));
  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpuint (json_array_get_length (array (&r)), ==, 2);
  g_assert_cmpint (json_object_get_int_member (row_of (array (&r),
              "Gro Gruppe"), "attended_seconds"), ==, 60);
  g_assert_nonnull (row_of (array (&r), "Inga Invitert"));

  /* The holder, now alone at the screen, goes with it; the store's copy
   * of her name on the party too. */
  g_free (path);
  path = g_strdup_printf ("/api/participants/%s", group);
  g_assert_cmpuint (request (f, "DELETE", path, ADMIN_TOKEN, NULL, NULL, 0,
          &r), ==, 200);
  g_assert_true (json_object_get_boolean_member (object (&r),
          "party_erased"));
  g_assert_false (on_disk (f, "Gro Gruppe"));

  /* Not while they watch. */
  sql (f, "INSERT INTO att_connections (resource_id, room_id, party_id,"
      " connected_at, alive_at) SELECT 'c-live', 'kurs', party_id, 1, 1"
      " FROM participants WHERE id = '%s'", invited);
  g_free (path);
  path = g_strdup_printf ("/api/participants/%s", invited);
  g_assert_cmpuint (request (f, "DELETE", path, ADMIN_TOKEN, NULL, NULL, 0,
          &r), ==, 409);
  g_assert_cmpuint (told->len, ==, 3);      /* the holder's, before */
  sql (f, "UPDATE att_connections SET left_at = 2 WHERE resource_id ="
      " 'c-live'");
  g_assert_cmpuint (request (f, "DELETE", path, ADMIN_TOKEN, NULL, NULL, 0,
          &r), ==, 200);
  g_assert_cmpint (sql (f, "SELECT count(*) FROM att_people"), ==, 0);
  assert_told (told, 4, invited, "alone");
  g_assert_cmpuint (request (f, "GET", "/api/sessions/s1/attendance",
          ADMIN_TOKEN, NULL, NULL, 0, &r), ==, 200);
  g_assert_cmpuint (json_array_get_length (array (&r)), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/roster/validators", test_validators);
  g_test_add_func ("/roster/parse/json", test_parse_json);
  g_test_add_func ("/roster/parse/csv", test_parse_csv);
  g_test_add ("/roster/invite/json", Fixture, NULL, fixture_setup,
      test_invite_json, fixture_teardown);
  g_test_add ("/roster/invite/csv", Fixture, NULL, fixture_setup,
      test_invite_csv, fixture_teardown);
  g_test_add ("/roster/invite/reissue", Fixture, NULL, fixture_setup,
      test_reissue, fixture_teardown);
  g_test_add ("/roster/access", Fixture, NULL, fixture_setup, test_access,
      fixture_teardown);
  g_test_add ("/roster/absent-invited", Fixture, NULL, fixture_setup,
      test_absent_invited, fixture_teardown);
  g_test_add ("/roster/checkin", Fixture, NULL, fixture_setup, test_checkin,
      fixture_teardown);
  g_test_add ("/roster/checkin/limits", Fixture, NULL, fixture_setup,
      test_checkin_limits, fixture_teardown);
  g_test_add ("/roster/checkin/attendance", Fixture, NULL, fixture_setup,
      test_checkin_attendance, fixture_teardown);
  g_test_add ("/roster/erase", Fixture, NULL, fixture_setup, test_erase,
      fixture_teardown);
  return g_test_run ();
}
