/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-config: kk_config_load() and kk_config_load_from_data(): defaults,
 * every key of the file, the precedence option > env > file > default,
 * and error messages that name the file, group and key (or the variable,
 * or the option) of a bad value.
 */

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "kk-config.h"
#include "kk-room.h"

static const char *const env_vars[] = {
  "KRINGKAST_HTTP_PORT", "KRINGKAST_MEDIA_PORT", "KRINGKAST_PUBLIC_IP",
  "KRINGKAST_DATA_DIR", "KRINGKAST_WORKERS", "KRINGKAST_ADMIN_TOKEN",
  "KRINGKAST_DATABASE",
};

typedef struct {
  char *dir;
  char *file;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("kk-test-config-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->file = g_build_filename (f->dir, "kringkast.conf", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (env_vars); i++)
    g_unsetenv (env_vars[i]);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (env_vars); i++)
    g_unsetenv (env_vars[i]);
  g_unlink (f->file);
  g_rmdir (f->dir);
  g_free (f->file);
  g_free (f->dir);
}

static void
write_file (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->file, text, -1, &error);
  g_assert_no_error (error);
}

/* Runs kk_config_load() on "kringkast ARGS...". */
static KkConfig *
load_args (const char *const *args, GError **error)
{
  g_autoptr (GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autofree char **argv = NULL;
  char **argv_copy;
  int argc;

  g_ptr_array_add (owned, g_strdup ("kringkast"));
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (owned, g_strdup (args[i]));
  argc = owned->len;
  /* GOption shuffles the pointers of the array it is given; keep the
   * strings owned by @owned. */
  argv = g_new0 (char *, argc + 1);
  memcpy (argv, owned->pdata, argc * sizeof (char *));
  argv_copy = argv;
  return kk_config_load (&argc, &argv_copy, error);
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = kk_config_load_from_data ("", 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->http_port, ==, 8080);
  g_assert_null (config->http_address);
  g_assert_cmpuint (config->media_port, ==, 8189);
  g_assert_null (config->public_ips);
  g_assert_cmpstr (config->data_dir, ==, "./var");
  g_assert_null (config->database);
  g_assert_false (config->demo);
  g_assert_null (config->admin_token);
  g_assert_cmpuint (config->workers, ==, 0);
  g_assert_cmpuint (config->ingest_latency_ms, ==, 100);
  g_assert_cmpuint (config->reconnect_grace_s, ==, 30);
  g_assert_cmpuint (config->consent_timeout_s, ==, 30);
  g_assert_cmpuint (config->whep_connect_timeout_s, ==, 30);
  g_assert_nonnull (config->pipelines_dir);
  g_assert_cmpuint (config->rooms->len, ==, 0);
}

static void
test_every_key (void)
{
  static const char text[] =
      "# a comment\n"
      "[server]\n"
      "http-port = 9000\n"
      "http-address = 127.0.0.1\n"
      "data-dir = /srv/kk\n"
      "[media]\n"
      "port = 9001\n"
      "public-ip = 192.0.2.1;2001:db8::1\n"
      "workers = 4\n"
      "consent-timeout = 20\n"
      "connect-timeout = 15\n"
      "[ingest]\n"
      "latency-ms = 250\n"
      "reconnect-grace = 10\n"
      "pipelines-dir = /srv/pipelines\n"
      "[room anatomy-101]\n"
      "title = Anatomy 101 — the heart\n"
      "record = true\n"
      "completion-ratio = 0.75\n"
      "source = rtsp\n"
      "source-uri = rtsp://192.0.2.7/lecture\n"
      "host-token = secret-host-token\n"
      "[room b]\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = kk_config_load_from_data (text,
      sizeof text - 1, "test.conf", &error);
  KkRoomConfig *room;

  g_assert_no_error (error);
  g_assert_cmpuint (config->http_port, ==, 9000);
  g_assert_cmpstr (config->http_address, ==, "127.0.0.1");
  g_assert_cmpstr (config->data_dir, ==, "/srv/kk");
  g_assert_cmpuint (config->media_port, ==, 9001);
  g_assert_cmpuint (g_strv_length (config->public_ips), ==, 2);
  g_assert_cmpstr (config->public_ips[0], ==, "192.0.2.1");
  g_assert_cmpstr (config->public_ips[1], ==, "2001:db8::1");
  g_assert_cmpuint (config->workers, ==, 4);
  g_assert_cmpuint (config->consent_timeout_s, ==, 20);
  g_assert_cmpuint (config->whep_connect_timeout_s, ==, 15);
  g_assert_cmpuint (config->ingest_latency_ms, ==, 250);
  g_assert_cmpuint (config->reconnect_grace_s, ==, 10);
  g_assert_cmpstr (config->pipelines_dir, ==, "/srv/pipelines");

  g_assert_cmpuint (config->rooms->len, ==, 2);
  room = g_ptr_array_index (config->rooms, 0);
  g_assert_cmpstr (room->id, ==, "anatomy-101");
  g_assert_cmpstr (room->title, ==, "Anatomy 101 — the heart");
  g_assert_true (room->record);
  g_assert_cmpfloat (room->completion_ratio, ==, 0.75);
  g_assert_cmpstr (room->source, ==, "rtsp");
  g_assert_cmpstr (room->source_uri, ==, "rtsp://192.0.2.7/lecture");
  g_assert_cmpstr (room->host_token, ==, "secret-host-token");

  /* A bare section gets the defaults. */
  room = g_ptr_array_index (config->rooms, 1);
  g_assert_cmpstr (room->id, ==, "b");
  g_assert_cmpstr (room->title, ==, "b");
  g_assert_false (room->record);
  g_assert_cmpfloat (room->completion_ratio, ==, 0.8);
  g_assert_cmpstr (room->source, ==, "whip");
  g_assert_null (room->source_uri);
  g_assert_null (room->host_token);
}

static void
test_precedence (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  g_autofree char *file_data_dir = g_build_filename (f->dir, "from-file", NULL);
  g_autofree char *text = g_strdup_printf (
      "[server]\nhttp-port = 1111\ndata-dir = %s\n"
      "[media]\nport = 2222\nworkers = 3\npublic-ip = 10.0.0.1\n"
      "consent-timeout = 12\n", file_data_dir);
  const char *args[] = {
    "--config", f->file, "--http-port", "5555", "--public-ip", "10.0.0.4",
    "--public-ip", "10.0.0.5", NULL
  };

  write_file (f, text);
  g_setenv ("KRINGKAST_HTTP_PORT", "3333", TRUE);
  g_setenv ("KRINGKAST_MEDIA_PORT", "4444", TRUE);
  g_setenv ("KRINGKAST_DATA_DIR", "/from-env", TRUE);
  g_setenv ("KRINGKAST_PUBLIC_IP", "10.0.0.2,10.0.0.3", TRUE);
  g_setenv ("KRINGKAST_ADMIN_TOKEN", "admin-from-env", TRUE);

  config = load_args (args, &error);
  g_assert_no_error (error);
  /* option > env > file > default, one field per level */
  g_assert_cmpuint (config->http_port, ==, 5555);
  g_assert_cmpuint (config->media_port, ==, 4444);
  g_assert_cmpstr (config->data_dir, ==, "/from-env");
  g_assert_cmpuint (config->workers, ==, 3);
  g_assert_cmpuint (config->consent_timeout_s, ==, 12);
  g_assert_cmpuint (config->reconnect_grace_s, ==, 30);
  g_assert_cmpuint (g_strv_length (config->public_ips), ==, 2);
  g_assert_cmpstr (config->public_ips[0], ==, "10.0.0.4");
  g_assert_cmpstr (config->public_ips[1], ==, "10.0.0.5");
  g_assert_cmpstr (config->admin_token, ==, "admin-from-env");
  g_clear_pointer (&config, kk_config_free);

  /* Without the options, env wins over the file... */
  {
    const char *only_file[] = { "--config", f->file, NULL };

    config = load_args (only_file, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (config->http_port, ==, 3333);
    g_assert_cmpstr (config->public_ips[0], ==, "10.0.0.2");
    g_assert_cmpstr (config->public_ips[1], ==, "10.0.0.3");
    g_clear_pointer (&config, kk_config_free);

    /* ...and without env, the file wins over the defaults. */
    for (guint i = 0; i < G_N_ELEMENTS (env_vars); i++)
      g_unsetenv (env_vars[i]);
    config = load_args (only_file, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (config->http_port, ==, 1111);
    g_assert_cmpuint (config->media_port, ==, 2222);
    g_assert_cmpstr (config->data_dir, ==, file_data_dir);
    g_assert_cmpstr (config->public_ips[0], ==, "10.0.0.1");
    g_assert_null (config->admin_token);
  }
  g_clear_pointer (&config, kk_config_free);

  /* Env alone, no file. */
  g_setenv ("KRINGKAST_WORKERS", "7", TRUE);
  config = load_args (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->workers, ==, 7);
  g_assert_cmpuint (config->http_port, ==, 8080);
}

static void
test_options (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  const char *args[] = {
    "--media-port", "6000", "--data-dir", "/opt/kk", "--demo", "--workers",
    "2", NULL
  };
  KkRoomConfig *room;

  config = load_args (args, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->media_port, ==, 6000);
  g_assert_cmpstr (config->data_dir, ==, "/opt/kk");
  g_assert_cmpuint (config->workers, ==, 2);
  g_assert_true (config->demo);
  /* --demo brings its room. */
  g_assert_cmpuint (config->rooms->len, ==, 1);
  room = g_ptr_array_index (config->rooms, 0);
  g_assert_cmpstr (room->id, ==, "demo");
  g_assert_cmpstr (room->source, ==, KK_ROOM_SOURCE_DEMO);
  g_clear_pointer (&config, kk_config_free);

  /* A [room demo] section in the file is used as it is. */
  {
    const char *with_file[] = { "--demo", "--config", f->file, NULL };

    write_file (f, "[room demo]\ntitle = Our demo\n");
    config = load_args (with_file, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (config->rooms->len, ==, 1);
    room = g_ptr_array_index (config->rooms, 0);
    g_assert_cmpstr (room->title, ==, "Our demo");
    g_assert_cmpstr (room->source, ==, "whip");
  }
}

/* Checks that loading @text fails and that the message contains every one
 * of @needles. */
static void
expect_file_error (Fixture *f, const char *text, int code,
    const char *const *needles)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  const char *args[] = { "--config", f->file, NULL };

  write_file (f, text);
  config = load_args (args, &error);
  g_assert_null (config);
  g_assert_error (error, KK_CONFIG_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_true (strstr (error->message, f->file) != NULL);
  for (guint i = 0; needles[i] != NULL; i++) {
    if (strstr (error->message, needles[i]) == NULL)
      g_error ("\"%s\" lacks \"%s\"", error->message, needles[i]);
  }
}

static void
test_file_errors (Fixture *f, gconstpointer data)
{
  expect_file_error (f, "[media]\nport = 70000\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[media]", "port", "70000", NULL });
  /* The line is found even with the key repeated (the last one counts). */
  expect_file_error (f, "# x\n[media]\nport = 1\n\n[server]\n[media]\n"
      "  port  = 99999\n",
      KK_CONFIG_ERROR_INVALID, (const char *[]) { ":7: [media] port", NULL });
  expect_file_error (f, "[server]\nhttp-port = eighty\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[server]", "http-port", NULL });
  expect_file_error (f, "[server]\nhttp-address = example.org\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[server]", "http-address", NULL });
  expect_file_error (f, "[server]\nhttp-prot = 80\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[server]", "http-prot", "unknown key", NULL });
  expect_file_error (f, "[server]\n[sever]\nhttp-port = 80\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { ":2: [sever]", "unknown group", NULL });
  expect_file_error (f, "[media]\npublic-ip = 10.0.0.1,not-an-ip\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[media]", "public-ip", "not-an-ip", NULL });
  expect_file_error (f, "[media]\nworkers = 100000\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[media]", "workers", NULL });
  expect_file_error (f, "[ingest]\nlatency-ms = -5\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[ingest]", "latency-ms", NULL });
  expect_file_error (f, "[room Big]\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room Big]", "room id", NULL });
  expect_file_error (f, "[room a]\nrecord = perhaps\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "record", NULL });
  expect_file_error (f, "[room a]\ncompletion-ratio = 1.5\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "completion-ratio", NULL });
  expect_file_error (f, "[room a]\ncompletion-ratio = nan\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "completion-ratio", NULL });
  expect_file_error (f, "[room a]\ntitle =\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "title", NULL });
  expect_file_error (f, "[room a]\nsource = ../../etc/passwd\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "source", NULL });
  expect_file_error (f, "[room a]\nsource-uri = not a uri\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "source-uri", NULL });
  expect_file_error (f, "[room a]\nhost-token = has space\n",
      KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "host-token", NULL });
  expect_file_error (f, "[room a]\ncolour = red\n", KK_CONFIG_ERROR_INVALID,
      (const char *[]) { "[room a]", "colour", "unknown key", NULL });
  /* Syntax errors come from GKeyFile, which names the line. */
  expect_file_error (f, "[server]\nthis line is no key\n",
      KK_CONFIG_ERROR_FILE, (const char *[]) { "this line is no key", NULL });
}

static void
test_missing_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  const char *args[] = { "--config", f->file, NULL };

  config = load_args (args, &error);
  g_assert_null (config);
  g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_FILE);
  g_assert_true (strstr (error->message, f->file) != NULL);
}

static void
expect_env_error (const char *name, const char *value)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;

  g_setenv (name, value, TRUE);
  config = load_args (NULL, &error);
  g_unsetenv (name);
  g_assert_null (config);
  g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, name));
}

static void
test_env_errors (Fixture *f, gconstpointer data)
{
  expect_env_error ("KRINGKAST_HTTP_PORT", "http");
  expect_env_error ("KRINGKAST_HTTP_PORT", "65536");
  expect_env_error ("KRINGKAST_MEDIA_PORT", "-1");
  expect_env_error ("KRINGKAST_WORKERS", "1000");
  expect_env_error ("KRINGKAST_PUBLIC_IP", "relay.example.org");
  expect_env_error ("KRINGKAST_PUBLIC_IP", "");
  expect_env_error ("KRINGKAST_DATA_DIR", "");
  expect_env_error ("KRINGKAST_ADMIN_TOKEN", "two words");
}

static void
expect_option_error (const char *option, const char *value)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  const char *args[] = { option, value, NULL };

  config = load_args (args, &error);
  g_assert_null (config);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (strstr (error->message, option) != NULL);
}

static void
test_option_errors (Fixture *f, gconstpointer data)
{
  expect_option_error ("--http-port", "70000");
  expect_option_error ("--http-port", "-2");
  expect_option_error ("--media-port", "port");
  expect_option_error ("--workers", "300");
  expect_option_error ("--public-ip", "localhost");
  expect_option_error ("--data-dir", "");
}

/* The room validators shared with the HTTP API. */
static void
test_room_validators (void)
{
  g_autoptr (GString) long_id = g_string_new (NULL);
  g_autoptr (GString) long_title = g_string_new (NULL);

  g_assert_true (kk_room_validate_id ("a", NULL));
  g_assert_true (kk_room_validate_id ("0-lecture-9", NULL));
  g_assert_false (kk_room_validate_id ("", NULL));
  g_assert_false (kk_room_validate_id ("-a", NULL));
  g_assert_false (kk_room_validate_id ("A", NULL));
  g_assert_false (kk_room_validate_id ("a_b", NULL));
  g_assert_false (kk_room_validate_id ("a/b", NULL));
  g_assert_false (kk_room_validate_id ("..", NULL));
  for (int i = 0; i < 64; i++)
    g_string_append_c (long_id, 'x');
  g_assert_true (kk_room_validate_id (long_id->str, NULL));
  g_string_append_c (long_id, 'x');
  g_assert_false (kk_room_validate_id (long_id->str, NULL));

  /* Characters, not bytes: 200 two-byte characters are fine. */
  for (int i = 0; i < 200; i++)
    g_string_append (long_title, "é");
  g_assert_true (kk_room_validate_text ("t", long_title->str, 1, 200, NULL));
  g_string_append (long_title, "é");
  g_assert_false (kk_room_validate_text ("t", long_title->str, 1, 200, NULL));
  g_assert_false (kk_room_validate_text ("t", "", 1, 200, NULL));
  g_assert_true (kk_room_validate_text ("t", "", 0, 200, NULL));
  g_assert_false (kk_room_validate_text ("t", "   ", 1, 200, NULL));
  g_assert_false (kk_room_validate_text ("t", "a\nb", 1, 200, NULL));
  g_assert_false (kk_room_validate_text ("t", "\xff\xfe", 1, 200, NULL));

  g_assert_true (kk_room_validate_completion_ratio (0.0, NULL));
  g_assert_true (kk_room_validate_completion_ratio (1.0, NULL));
  g_assert_false (kk_room_validate_completion_ratio (-0.01, NULL));
  g_assert_false (kk_room_validate_completion_ratio (1.01, NULL));
  g_assert_false (kk_room_validate_completion_ratio (NAN, NULL));
  g_assert_false (kk_room_validate_completion_ratio (INFINITY, NULL));
}

/* --database, KRINGKAST_DATABASE, [server] database: a postgresql:// (or
 * postgres://) URL, each level over the one below; anything else is
 * refused at its level, named. */
static void
test_database (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  const char *file_only[] = { "--config", f->file, NULL };
  const char *option[] = { "--config", f->file, "--database",
    "postgres://kk@db3/kringkast", NULL };
  const char *bad_option[] = { "--database", "/var/lib/kk.db", NULL };

  write_file (f, "[server]\ndatabase = postgresql://kk@db1:5432/kringkast"
      "?sslmode=verify-full\n");
  config = load_args (file_only, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->database, ==,
      "postgresql://kk@db1:5432/kringkast?sslmode=verify-full");
  g_clear_pointer (&config, kk_config_free);

  g_setenv ("KRINGKAST_DATABASE", "postgresql:///kringkast?host=/run/pg",
      TRUE);
  config = load_args (file_only, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->database, ==,
      "postgresql:///kringkast?host=/run/pg");
  g_clear_pointer (&config, kk_config_free);

  config = load_args (option, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->database, ==, "postgres://kk@db3/kringkast");
  g_clear_pointer (&config, kk_config_free);

  g_assert_null (load_args (bad_option, &error));
  g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "--database"));
  g_clear_error (&error);

  g_setenv ("KRINGKAST_DATABASE", "mysql://kk@db/kringkast", TRUE);
  g_assert_null (load_args (NULL, &error));
  g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "KRINGKAST_DATABASE"));
  g_clear_error (&error);
  g_unsetenv ("KRINGKAST_DATABASE");

  write_file (f, "[server]\ndatabase = kringkast.db\n");
  g_assert_null (load_args (file_only, &error));
  g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "database"));
  g_assert_nonnull (strstr (error->message, "not a postgresql:// URL"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/every-key", test_every_key);
  g_test_add_func ("/config/room-validators", test_room_validators);
  g_test_add ("/config/precedence", Fixture, NULL, fixture_setup,
      test_precedence, fixture_teardown);
  g_test_add ("/config/database", Fixture, NULL, fixture_setup,
      test_database, fixture_teardown);
  g_test_add ("/config/options", Fixture, NULL, fixture_setup, test_options,
      fixture_teardown);
  g_test_add ("/config/file-errors", Fixture, NULL, fixture_setup,
      test_file_errors, fixture_teardown);
  g_test_add ("/config/missing-file", Fixture, NULL, fixture_setup,
      test_missing_file, fixture_teardown);
  g_test_add ("/config/env-errors", Fixture, NULL, fixture_setup,
      test_env_errors, fixture_teardown);
  g_test_add ("/config/option-errors", Fixture, NULL, fixture_setup,
      test_option_errors, fixture_teardown);

  return g_test_run ();
}
