/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-ice-servers: TURN REST credentials (kk-ice-servers) checked against
 * a vector computed independently (Python's hmac and `openssl dgst
 * -sha1 -hmac`, the way coturn's use-auth-secret recomputes them), their
 * expiry and their binding to one identity; the Link header values of
 * RFC 9725 section 4.6 and the pages' JSON; and the [turn] section of the
 * configuration that feeds them.
 */
#include <string.h>

#include "kk-config.h"
#include "kk-ice-servers.h"

static const char *const two_urls[] = {
  "turns:turn.example.no:443?transport=tcp",
  "turn:192.0.2.7:3478?transport=udp",
  NULL,
};

static void
test_known_vector (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 3600);
  g_autoptr (KkTurnCredential) credential = kk_ice_servers_mint (servers,
      "party-1", 1700000000);

  /* echo -n '1700003600:party-1' | openssl dgst -sha1 -hmac north-secret
   * -binary | base64 */
  g_assert_cmpstr (credential->username, ==, "1700003600:party-1");
  g_assert_cmpstr (credential->credential, ==, "RfzZa4T75CevhCybf+AgbsNeUKw=");
  g_assert_cmpint (credential->expires, ==, 1700003600);
}

static void
test_expiry_and_binding (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 600);
  g_autoptr (KkIceServers) other_secret = kk_ice_servers_new (two_urls,
      "south-secret", 600);
  g_autoptr (KkTurnCredential) a = kk_ice_servers_mint (servers, "party-1",
      1000);
  g_autoptr (KkTurnCredential) b = kk_ice_servers_mint (servers, "party-2",
      1000);
  g_autoptr (KkTurnCredential) later = kk_ice_servers_mint (servers,
      "party-1", 1001);
  g_autoptr (KkTurnCredential) foreign = kk_ice_servers_mint (other_secret,
      "party-1", 1000);

  /* The expiry is the lifetime after minting, and it is inside the
   * username coturn checks: a later mint is a different credential. */
  g_assert_cmpint (a->expires, ==, 1600);
  g_assert_cmpstr (a->username, ==, "1600:party-1");
  g_assert_cmpstr (later->username, ==, "1601:party-1");
  g_assert_cmpstr (a->credential, !=, later->credential);
  /* One person's password is not another's, nor another secret's. */
  g_assert_cmpstr (b->username, ==, "1600:party-2");
  g_assert_cmpstr (a->credential, !=, b->credential);
  g_assert_cmpstr (a->username, ==, foreign->username);
  g_assert_cmpstr (a->credential, !=, foreign->credential);
}

/* A network check's credential: short-lived whatever the configured
 * lifetime, and one name per checking address (an IPv4 address, an IPv6
 * /64 as kk_rate_limit_client_key() gives it), so that coturn's
 * user-quota counts an address's checks together. */
static void
test_check_credential (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 3600);
  g_autoptr (KkIceServers) brief = kk_ice_servers_new (two_urls,
      "north-secret", 60);
  g_autoptr (KkIceServers) other_secret = kk_ice_servers_new (two_urls,
      "south-secret", 3600);
  g_autoptr (KkTurnCredential) a = kk_ice_servers_mint_check (servers,
      "198.51.100.7", 1000);
  g_autoptr (KkTurnCredential) a_again = kk_ice_servers_mint_check (servers,
      "198.51.100.7", 1030);
  g_autoptr (KkTurnCredential) b = kk_ice_servers_mint_check (servers,
      "198.51.100.8", 1000);
  g_autoptr (KkTurnCredential) net = kk_ice_servers_mint_check (servers,
      "2001:0db8:0001:0002::/64", 1000);
  g_autoptr (KkTurnCredential) short_config = kk_ice_servers_mint_check (
      brief, "198.51.100.7", 1000);
  g_autoptr (KkTurnCredential) foreign = kk_ice_servers_mint_check (
      other_secret, "198.51.100.7", 1000);
  g_autofree char *expected = NULL;
  const char *name = strchr (a->username, ':') + 1;

  g_assert_cmpint (KK_ICE_SERVERS_CHECK_LIFETIME_S, ==, 120);
  g_assert_cmpint (a->expires, ==, 1000 + 120);
  g_assert_cmpint (short_config->expires, ==, 1000 + 60);
  /* "check-" and 16 hex digits of HMAC-SHA256 (secret, address). */
  expected = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) "north-secret", strlen ("north-secret"),
      "198.51.100.7", -1);
  expected[16] = '\0';
  g_assert_true (g_str_has_prefix (name, "check-"));
  g_assert_cmpstr (name + strlen ("check-"), ==, expected);
  g_assert_null (strstr (a->username, "198.51"));
  /* The same address, later: the same name. Another address, another
   * /64, another secret: another name. */
  g_assert_cmpstr (strchr (a_again->username, ':'), ==, strchr (a->username,
          ':'));
  g_assert_cmpstr (strchr (b->username, ':'), !=, strchr (a->username, ':'));
  g_assert_cmpstr (strchr (net->username, ':'), !=, strchr (a->username, ':'));
  g_assert_cmpstr (strchr (foreign->username, ':'), !=,
      strchr (a->username, ':'));
}

static void
test_links (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 3600);
  g_autoptr (KkTurnCredential) credential = kk_ice_servers_mint (servers,
      "party-1", 1700000000);
  g_auto (GStrv) links = kk_ice_servers_format_links (servers, credential);

  g_assert_cmpuint (g_strv_length (links), ==, 2);
  g_assert_cmpstr (links[0], ==,
      "<turns:turn.example.no:443?transport=tcp>; rel=\"ice-server\"; "
      "username=\"1700003600:party-1\"; "
      "credential=\"RfzZa4T75CevhCybf+AgbsNeUKw=\"; "
      "credential-type=\"password\"");
  g_assert_cmpstr (links[1], ==,
      "<turn:192.0.2.7:3478?transport=udp>; rel=\"ice-server\"; "
      "username=\"1700003600:party-1\"; "
      "credential=\"RfzZa4T75CevhCybf+AgbsNeUKw=\"; "
      "credential-type=\"password\"");
}

static void
test_headers (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 3600);
  g_autoptr (KkIceServers) none = kk_ice_servers_new (NULL, NULL, 3600);
  SoupMessageHeaders *headers = soup_message_headers_new (
      SOUP_MESSAGE_HEADERS_RESPONSE);
  const char *list;
  g_autofree char *prefix = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 expires;

  kk_ice_servers_add_links (none, headers, "party-1");
  g_assert_null (soup_message_headers_get_list (headers, "Link"));
  g_assert_true (kk_ice_servers_is_empty (none));

  kk_ice_servers_add_links (servers, headers, "party-1");
  list = soup_message_headers_get_list (headers, "Link");
  g_assert_nonnull (list);
  g_assert_true (g_str_has_prefix (list,
          "<turns:turn.example.no:443?transport=tcp>; rel=\"ice-server\"; "
          "username=\""));
  g_assert_nonnull (strstr (list, ", <turn:192.0.2.7:3478?transport=udp>"));
  /* Minted now: the expiry is an hour from the clock, give or take the
   * second the test may straddle. */
  expires = g_ascii_strtoll (strstr (list, "username=\"") + 10, NULL, 10);
  g_assert_cmpint (expires, >=, now + 3600);
  g_assert_cmpint (expires, <=, now + 3601);
  prefix = g_strdup_printf ("%" G_GINT64_FORMAT ":party-1\"", expires);
  g_assert_nonnull (strstr (list, prefix));
  soup_message_headers_unref (headers);
}

static void
test_json (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 3600);
  g_autoptr (KkIceServers) none = kk_ice_servers_new (NULL, NULL, 3600);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonBuilder) empty = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) empty_root = NULL;
  JsonObject *object, *server;
  JsonArray *urls;

  json_builder_begin_object (builder);
  kk_ice_servers_add_json (servers, builder, "host-anatomy");
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  object = json_node_get_object (root);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
              object, "ice_servers")), ==, 1);
  server = json_array_get_object_element (json_object_get_array_member (
          object, "ice_servers"), 0);
  urls = json_object_get_array_member (server, "urls");
  g_assert_cmpuint (json_array_get_length (urls), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (urls, 0), ==, two_urls[0]);
  g_assert_cmpstr (json_array_get_string_element (urls, 1), ==, two_urls[1]);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (server,
              "username"), ":host-anatomy"));
  g_assert_cmpuint (strlen (json_object_get_string_member (server,
              "credential")), ==, 28);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (object,
              "expires_at"), "Z"));

  json_builder_begin_object (empty);
  kk_ice_servers_add_json (none, empty, "party-1");
  json_builder_end_object (empty);
  empty_root = json_builder_get_root (empty);
  object = json_node_get_object (empty_root);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
              object, "ice_servers")), ==, 0);
  g_assert_true (json_object_get_null_member (object, "expires_at"));
}

/* The network check's JSON carries the short, address-named credential. */
static void
test_check_json (void)
{
  g_autoptr (KkIceServers) servers = kk_ice_servers_new (two_urls,
      "north-secret", 3600);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (KkTurnCredential) expected = NULL;
  JsonObject *server;
  const char *username;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 expires;

  json_builder_begin_object (builder);
  kk_ice_servers_add_check_json (servers, builder, "203.0.113.5");
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  server = json_array_get_object_element (json_object_get_array_member (
          json_node_get_object (root), "ice_servers"), 0);
  username = json_object_get_string_member (server, "username");
  expires = g_ascii_strtoll (username, NULL, 10);
  g_assert_cmpint (expires, >=, now + 120);
  g_assert_cmpint (expires, <=, now + 121);
  expected = kk_ice_servers_mint_check (servers, "203.0.113.5", expires - 120);
  g_assert_cmpstr (username, ==, expected->username);
  g_assert_cmpstr (json_object_get_string_member (server, "credential"), ==,
      expected->credential);
}

static KkConfig *
load (const char *text, GError **error)
{
  return kk_config_load_from_data (text, strlen (text), "t.conf", error);
}

static void
test_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  static const char *const bad[] = {
    "http://turn.example.no",
    "turn:",
    "turn::3478",
    "turn:turn.example.no:0",
    "turn:turn.example.no:70000",
    "turn:turn.example.no?transport=sctp",
    "turn:turn.example.no?transport=udp&x=1",
    "turn:turn\">.example.no",
    "turn:[192.0.2.1]:3478",
    "turn:[2001:db8::1",
    "turns:turn_example.no",
  };

  config = load ("[turn]\nurl = turns:turn.example.no:443?transport=tcp;"
      "turn:192.0.2.7:3478;turn:[2001:db8::7]:3478?transport=tcp\n"
      "secret = s3\ncredential-lifetime = 120\n", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (config->turn_urls), ==, 3);
  g_assert_cmpstr (config->turn_secret, ==, "s3");
  g_assert_cmpuint (config->turn_credential_lifetime_s, ==, 120);
  /* The URLs' literal addresses are where coturn relays from, unless the
   * operator says otherwise; a name is not resolved. */
  g_assert_cmpuint (g_strv_length (config->turn_relay_addresses), ==, 2);
  g_assert_cmpstr (config->turn_relay_addresses[0], ==, "192.0.2.7");
  g_assert_cmpstr (config->turn_relay_addresses[1], ==, "2001:db8::7");
  g_clear_pointer (&config, kk_config_free);

  config = load ("[turn]\nurl = turns:turn.example.no\nsecret = s3\n"
      "relay-address = 198.51.100.4\n", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (config->turn_relay_addresses), ==, 1);
  g_assert_cmpstr (config->turn_relay_addresses[0], ==, "198.51.100.4");
  g_assert_cmpuint (config->turn_credential_lifetime_s, ==, 3600);
  g_clear_pointer (&config, kk_config_free);

  config = load ("[server]\nhttp-port = 1\n", &error);
  g_assert_no_error (error);
  g_assert_null (config->turn_urls);
  g_assert_null (config->turn_relay_addresses);
  g_clear_pointer (&config, kk_config_free);

  config = load ("[turn]\nurl = turn:192.0.2.7\n", &error);
  g_assert_null (config);
  g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "t.conf: [turn] url"));
  g_assert_nonnull (strstr (error->message, "must be given together"));
  g_clear_error (&error);

  config = load ("[turn]\nsecret = x\ncredential-lifetime = 10\n", &error);
  g_assert_null (config);
  g_assert_nonnull (strstr (error->message, "t.conf:3: [turn] credential-lifetime"));
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *text = g_strdup_printf ("[turn]\nsecret = x\nurl = %s\n",
        bad[i]);

    g_assert_false (kk_config_check_turn_url (bad[i], NULL));
    config = load (text, &error);
    g_assert_null (config);
    g_assert_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "t.conf:3: [turn] url"));
    g_clear_error (&error);
  }
}

/* The option and environment layers: --turn-url beats KRINGKAST_TURN_URL,
 * and the secret comes from the environment alone. */
static void
test_config_options (void)
{
  char *args[] = { "kringkast", "--turn-url", "turns:192.0.2.9:443?transport=tcp",
    "--turn-url", "turn:192.0.2.9", NULL };
  char *lone[] = { "kringkast", "--turn-url", "turn:192.0.2.9", NULL };
  char *bad[] = { "kringkast", "--turn-url", "http://192.0.2.9", NULL };
  int argc = 5;
  char **argv = args;
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;

  g_setenv ("KRINGKAST_TURN_URL", "turn:198.51.100.1", TRUE);
  g_setenv ("KRINGKAST_TURN_SECRET", "from-env", TRUE);
  config = kk_config_load (&argc, &argv, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (config->turn_urls), ==, 2);
  g_assert_cmpstr (config->turn_urls[1], ==, "turn:192.0.2.9");
  g_assert_cmpstr (config->turn_secret, ==, "from-env");
  g_assert_cmpstr (config->turn_relay_addresses[0], ==, "192.0.2.9");
  g_assert_null (config->turn_relay_addresses[1]);
  g_clear_pointer (&config, kk_config_free);

  argc = 3;
  argv = bad;
  config = kk_config_load (&argc, &argv, &error);
  g_assert_null (config);
  g_assert_nonnull (strstr (error->message, "--turn-url: 'http://192.0.2.9'"));
  g_clear_error (&error);

  g_unsetenv ("KRINGKAST_TURN_URL");
  g_unsetenv ("KRINGKAST_TURN_SECRET");
  argc = 3;
  argv = lone;
  config = kk_config_load (&argc, &argv, &error);
  g_assert_null (config);
  g_assert_nonnull (strstr (error->message,
          "configuration: [turn] url (or --turn-url"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ice-servers/known-vector", test_known_vector);
  g_test_add_func ("/ice-servers/expiry-and-binding", test_expiry_and_binding);
  g_test_add_func ("/ice-servers/check-credential", test_check_credential);
  g_test_add_func ("/ice-servers/check-json", test_check_json);
  g_test_add_func ("/ice-servers/links", test_links);
  g_test_add_func ("/ice-servers/headers", test_headers);
  g_test_add_func ("/ice-servers/json", test_json);
  g_test_add_func ("/ice-servers/config", test_config);
  g_test_add_func ("/ice-servers/config-options", test_config_options);
  return g_test_run ();
}
