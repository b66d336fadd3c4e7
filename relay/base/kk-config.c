/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-config: builds one KkConfig from four layers, lowest first: built-in
 * defaults, the GKeyFile named by --config, KRINGKAST_* environment
 * variables, and command-line options. Each layer is applied over the
 * previous one by a function of its own, so precedence is simply the call
 * order in kk_config_load().
 *
 * Everything is validated here, once, before the daemon starts anything:
 * unknown groups and keys are errors (a typo must not silently fall back to
 * a default), numbers are range-checked, addresses parsed, and the [room ID]
 * sections go through the same validators (kk-room-rules.h) that the HTTP API
 * uses for POST /api/rooms. Every message names where the bad value came
 * from: "FILE:LINE: [GROUP] KEY: ...", "KRINGKAST_X: ..." or "--option: ...".
 */

#include "kk-config.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk-build-config.h"
#include "kk-room-rules.h"

G_DEFINE_QUARK (kk-config-error-quark, kk_config_error)

#define KK_DEFAULT_HTTP_PORT 8080
#define KK_DEFAULT_MEDIA_PORT 8189
#define KK_DEFAULT_DATA_DIR "./var"
#define KK_DEFAULT_INGEST_LATENCY_MS 100
#define KK_DEFAULT_RECONNECT_GRACE_S 30
#define KK_DEFAULT_CONSENT_TIMEOUT_S 30
#define KK_DEFAULT_CONNECT_TIMEOUT_S 30
/* A TURN credential is needed only to make an allocation: coturn checks
 * its expiry then, and an allocation it accepted lives on, refreshed,
 * after the credential has expired (it-turn shows both; README, "TURN").
 * The pages fetch a fresh one before each offer, so an hour covers a
 * browser gathering again on the same connection, and a leaked one is of
 * use for no longer. */
#define KK_DEFAULT_TURN_CREDENTIAL_LIFETIME_S 3600
#define KK_MIN_TURN_CREDENTIAL_LIFETIME_S 60
#define KK_MAX_TURN_CREDENTIAL_LIFETIME_S (7 * 24 * 3600)

/* More worker threads than this is a configuration mistake, not a need. */
#define KK_MAX_WORKERS 256
#define KK_ROOM_GROUP_PREFIX "room "

/* Command-line values, with "unset" sentinels so that only options the
 * operator actually gave override the lower layers. */
typedef struct {
  char *config_file;
  int http_port;
  int media_port;
  char **public_ips;
  char *data_dir;
  char *database;
  char **turn_urls;
  gboolean demo;
  int workers;
  gboolean version;
} KkConfigOptions;

static void
options_clear (KkConfigOptions *options)
{
  g_clear_pointer (&options->config_file, g_free);
  g_clear_pointer (&options->public_ips, g_strfreev);
  g_clear_pointer (&options->data_dir, g_free);
  g_clear_pointer (&options->database, g_free);
  g_clear_pointer (&options->turn_urls, g_strfreev);
}

void
kk_room_config_free (KkRoomConfig *room)
{
  if (room == NULL)
    return;
  g_free (room->id);
  g_free (room->title);
  g_free (room->source);
  g_free (room->source_uri);
  g_free (room->host_token);
  g_free (room);
}

KkRoomConfig *
kk_room_config_copy (const KkRoomConfig *room)
{
  KkRoomConfig *copy;

  g_return_val_if_fail (room != NULL, NULL);

  copy = g_new0 (KkRoomConfig, 1);
  copy->id = g_strdup (room->id);
  copy->title = g_strdup (room->title);
  copy->record = room->record;
  copy->completion_ratio = room->completion_ratio;
  copy->source = g_strdup (room->source);
  copy->source_uri = g_strdup (room->source_uri);
  copy->host_token = g_strdup (room->host_token);
  return copy;
}

void
kk_config_free (KkConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->http_address);
  g_strfreev (config->public_ips);
  g_free (config->data_dir);
  g_free (config->database);
  g_free (config->admin_token);
  g_free (config->pipelines_dir);
  g_strfreev (config->turn_urls);
  g_free (config->turn_secret);
  g_strfreev (config->turn_relay_addresses);
  g_clear_pointer (&config->rooms, g_ptr_array_unref);
  g_free (config);
}

static KkConfig *
config_new_defaults (void)
{
  KkConfig *config = g_new0 (KkConfig, 1);

  config->http_port = KK_DEFAULT_HTTP_PORT;
  config->media_port = KK_DEFAULT_MEDIA_PORT;
  config->data_dir = g_strdup (KK_DEFAULT_DATA_DIR);
  config->ingest_latency_ms = KK_DEFAULT_INGEST_LATENCY_MS;
  config->reconnect_grace_s = KK_DEFAULT_RECONNECT_GRACE_S;
  config->consent_timeout_s = KK_DEFAULT_CONSENT_TIMEOUT_S;
  config->whep_connect_timeout_s = KK_DEFAULT_CONNECT_TIMEOUT_S;
  config->turn_credential_lifetime_s = KK_DEFAULT_TURN_CREDENTIAL_LIFETIME_S;
  /* An installed daemon reads its pipelines from the data directory; one
   * run from the build tree falls back to the source checkout. */
  if (g_file_test (KK_PIPELINES_DIR, G_FILE_TEST_IS_DIR))
    config->pipelines_dir = g_strdup (KK_PIPELINES_DIR);
  else
    config->pipelines_dir = g_strdup (KK_SOURCE_PIPELINES_DIR);
  config->rooms = g_ptr_array_new_with_free_func ((GDestroyNotify) kk_room_config_free);
  return config;
}

/* Checks one item of a list value (an address, a URL). */
typedef gboolean (*KkListItemCheck) (const char *item, GError **error);

/* ICE candidates and the TURN relays are addresses, not names. */
static gboolean
check_ip (const char *item, GError **error)
{
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (item);

  if (addr == NULL) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "'%s' is not an IP address", item);
    return FALSE;
  }
  return TRUE;
}

/* Splits a list on commas, semicolons or blanks (the env vars are
 * documented as comma lists, GKeyFile lists use ';') and checks each item
 * with @check; an empty list is an "empty @what list". */
static char **
parse_list (const char *text, KkListItemCheck check, const char *what,
    GError **error)
{
  g_auto (GStrv) parts = g_strsplit_set (text, ",; \t", -1);
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; parts[i] != NULL; i++) {
    if (parts[i][0] == '\0')
      continue;
    if (!check (parts[i], error))
      return NULL;
    g_ptr_array_add (items, g_strdup (parts[i]));
  }
  if (items->len == 0) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "empty %s list", what);
    return NULL;
  }
  g_ptr_array_add (items, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&items), FALSE);
}

/* parse_list() into *@list, replacing it; an error names @source (an
 * environment variable or an option). */
static gboolean
set_list (char ***list, const char *text, KkListItemCheck check,
    const char *what, const char *source, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  char **items = parse_list (text, check, what, &local_error);

  if (items == NULL) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID, "%s: %s",
        source, local_error->message);
    return FALSE;
  }
  g_strfreev (*list);
  *list = items;
  return TRUE;
}

static gboolean
parse_uint (const char *text, guint64 min, guint64 max, guint64 *out,
    GError **error)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  g_autoptr (GError) local_error = NULL;

  if (!g_ascii_string_to_unsigned (stripped, 10, min, max, out, &local_error)) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "'%s' is not a whole number in %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
        text, min, max);
    return FALSE;
  }
  return TRUE;
}

/* Splits a TURN URL (RFC 7065) and checks every part; @host (nullable)
 * receives the host without brackets. */
static gboolean
split_turn_url (const char *url, char **host, GError **error)
{
  const char *rest, *end, *query, *host_end;
  g_autofree char *host_text = NULL;

  if (strlen (url) > KK_CONFIG_TURN_URL_MAX)
    goto invalid;
  for (const char *p = url; *p != '\0'; p++) {
    /* Visible ASCII without the characters that end a Link header's
     * <URI> or quoted parameter. */
    if (*p < 0x21 || *p > 0x7e || strchr ("<>\"\\,;", *p) != NULL)
      goto invalid;
  }
  if (g_str_has_prefix (url, "turns:"))
    rest = url + strlen ("turns:");
  else if (g_str_has_prefix (url, "turn:"))
    rest = url + strlen ("turn:");
  else
    goto invalid;

  query = strchr (rest, '?');
  end = query != NULL ? query : rest + strlen (rest);
  if (query != NULL && strcmp (query, "?transport=udp") != 0
      && strcmp (query, "?transport=tcp") != 0)
    goto invalid;

  if (rest[0] == '[') {
    const char *close = memchr (rest, ']', end - rest);
    g_autoptr (GInetAddress) addr = NULL;

    if (close == NULL)
      goto invalid;
    host_text = g_strndup (rest + 1, close - rest - 1);
    addr = g_inet_address_new_from_string (host_text);
    if (addr == NULL || g_inet_address_get_family (addr) != G_SOCKET_FAMILY_IPV6)
      goto invalid;
    host_end = close + 1;
  } else {
    host_end = memchr (rest, ':', end - rest);
    if (host_end == NULL)
      host_end = end;
    host_text = g_strndup (rest, host_end - rest);
    for (const char *p = host_text; *p != '\0'; p++) {
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
        goto invalid;
    }
  }
  if (host_text[0] == '\0')
    goto invalid;
  if (host_end < end) {
    guint64 port;
    g_autofree char *port_text = NULL;

    if (*host_end != ':')
      goto invalid;
    port_text = g_strndup (host_end + 1, end - host_end - 1);
    if (!g_ascii_string_to_unsigned (port_text, 10, 1, G_MAXUINT16, &port,
            NULL))
      goto invalid;
  }
  if (host != NULL)
    *host = g_steal_pointer (&host_text);
  return TRUE;

invalid:
  g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
      "'%s' is not a TURN URL (turn: or turns:, host, optional :port, "
      "optional ?transport=udp or ?transport=tcp)", url);
  return FALSE;
}

gboolean
kk_config_check_turn_url (const char *url, GError **error)
{
  g_return_val_if_fail (url != NULL, FALSE);

  return split_turn_url (url, NULL, error);
}

/* A bearer token goes into an HTTP header verbatim: visible ASCII only. */
static gboolean
validate_token (const char *token, GError **error)
{
  if (token[0] == '\0') {
    g_set_error_literal (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "the token is empty");
    return FALSE;
  }
  for (const char *p = token; *p != '\0'; p++) {
    if (*p < 0x21 || *p > 0x7e) {
      g_set_error_literal (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
          "the token may only contain visible ASCII characters");
      return FALSE;
    }
  }
  return TRUE;
}

/* Key-file layer. */

typedef struct {
  GKeyFile *key_file;
  const char *file_name;
  const char *data;             /* the file's text, for line numbers */
  gsize length;
  const char *group;
} KeyFileCursor;

/* GKeyFile keeps no line numbers, so find the line ourselves: that of the
 * last "@key =" in [@group] (GKeyFile keeps the last value of a repeated
 * key), or of the group's header when @key is NULL. 0 if not found. */
static guint
find_line (const KeyFileCursor *cur, const char *key)
{
  const char *p = cur->data;
  const char *end = cur->data + cur->length;
  gsize group_len = strlen (cur->group);
  gboolean in_group = FALSE;
  guint line = 0;
  guint found = 0;

  while (p < end) {
    const char *eol = memchr (p, '\n', end - p);
    const char *s = p;

    if (eol == NULL)
      eol = end;
    line++;
    while (s < eol && (*s == ' ' || *s == '\t'))
      s++;
    if (s < eol && *s == '[') {
      const char *close = memchr (s, ']', eol - s);

      in_group = close != NULL && (gsize) (close - s - 1) == group_len
          && memcmp (s + 1, cur->group, group_len) == 0;
      if (in_group && key == NULL)
        found = line;
    } else if (in_group && key != NULL) {
      gsize key_len = strlen (key);

      if ((gsize) (eol - s) > key_len && memcmp (s, key, key_len) == 0) {
        const char *q = s + key_len;

        while (q < eol && (*q == ' ' || *q == '\t'))
          q++;
        if (q < eol && *q == '=')
          found = line;
      }
    }
    p = eol + 1;
  }
  return found;
}

/* "FILE:LINE: [GROUP] KEY" (or without KEY), for error messages. */
static char *
kf_where (const KeyFileCursor *cur, const char *key)
{
  guint line = find_line (cur, key);
  g_autofree char *at = line > 0
      ? g_strdup_printf ("%s:%u", cur->file_name, line)
      : g_strdup (cur->file_name);

  if (key == NULL)
    return g_strdup_printf ("%s: [%s]", at, cur->group);
  return g_strdup_printf ("%s: [%s] %s", at, cur->group, key);
}

static gboolean
kf_fail (const KeyFileCursor *cur, const char *key, GError *cause,
    GError **error)
{
  g_autofree char *where = kf_where (cur, key);

  g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID, "%s: %s",
      where, cause->message);
  g_error_free (cause);
  return FALSE;
}

static gboolean
kf_get_string (const KeyFileCursor *cur, const char *key, char **out,
    GError **error)
{
  GError *local_error = NULL;
  char *value = g_key_file_get_string (cur->key_file, cur->group, key,
      &local_error);

  if (value == NULL)
    return kf_fail (cur, key, local_error, error);
  g_free (*out);
  *out = value;
  return TRUE;
}

static gboolean
kf_get_path (const KeyFileCursor *cur, const char *key, char **out,
    GError **error)
{
  if (!kf_get_string (cur, key, out, error))
    return FALSE;
  if ((*out)[0] == '\0')
    return kf_fail (cur, key, g_error_new_literal (KK_CONFIG_ERROR,
            KK_CONFIG_ERROR_INVALID, "empty path"), error);
  return TRUE;
}

static gboolean
kf_get_uint (const KeyFileCursor *cur, const char *key, guint64 min,
    guint64 max, guint64 *out, GError **error)
{
  GError *local_error = NULL;
  g_autofree char *value = NULL;

  if (!kf_get_string (cur, key, &value, error))
    return FALSE;
  if (!parse_uint (value, min, max, out, &local_error))
    return kf_fail (cur, key, local_error, error);
  return TRUE;
}

static gboolean
kf_get_boolean (const KeyFileCursor *cur, const char *key, gboolean *out,
    GError **error)
{
  GError *local_error = NULL;
  gboolean value = g_key_file_get_boolean (cur->key_file, cur->group, key,
      &local_error);

  if (local_error != NULL)
    return kf_fail (cur, key, local_error, error);
  *out = value;
  return TRUE;
}

static gboolean
kf_get_double (const KeyFileCursor *cur, const char *key, double *out,
    GError **error)
{
  GError *local_error = NULL;
  double value = g_key_file_get_double (cur->key_file, cur->group, key,
      &local_error);

  if (local_error != NULL)
    return kf_fail (cur, key, local_error, error);
  *out = value;
  return TRUE;
}

static gboolean
kf_get_list (const KeyFileCursor *cur, const char *key, KkListItemCheck check,
    const char *what, char ***out, GError **error)
{
  GError *local_error = NULL;
  g_autofree char *text = NULL;
  char **items;

  if (!kf_get_string (cur, key, &text, error))
    return FALSE;
  items = parse_list (text, check, what, &local_error);
  if (items == NULL)
    return kf_fail (cur, key, local_error, error);
  g_strfreev (*out);
  *out = items;
  return TRUE;
}

static gboolean
kf_unknown_key (const KeyFileCursor *cur, const char *key, GError **error)
{
  return kf_fail (cur, key, g_error_new_literal (KK_CONFIG_ERROR,
          KK_CONFIG_ERROR_INVALID, "unknown key"), error);
}

/* A shared database is named by a libpq connection URL. Only its scheme
 * is checked here: libpq parses the rest when the store connects, and
 * says there what is wrong with it. */
static gboolean
check_database (const char *text, const char *where, GError **error)
{
  if (!g_str_has_prefix (text, "postgresql://")
      && !g_str_has_prefix (text, "postgres://")) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "%s: not a postgresql:// URL", where);
    return FALSE;
  }
  return TRUE;
}

static gboolean
apply_server_group (KkConfig *config, const KeyFileCursor *cur,
    const char *key, GError **error)
{
  guint64 value;

  if (g_str_equal (key, "http-port")) {
    if (!kf_get_uint (cur, key, 0, G_MAXUINT16, &value, error))
      return FALSE;
    config->http_port = value;
  } else if (g_str_equal (key, "http-address")) {
    g_autoptr (GInetAddress) addr = NULL;

    if (!kf_get_string (cur, key, &config->http_address, error))
      return FALSE;
    addr = g_inet_address_new_from_string (config->http_address);
    if (addr == NULL)
      return kf_fail (cur, key, g_error_new (KK_CONFIG_ERROR,
              KK_CONFIG_ERROR_INVALID, "'%s' is not an IP address",
              config->http_address), error);
  } else if (g_str_equal (key, "data-dir")) {
    if (!kf_get_path (cur, key, &config->data_dir, error))
      return FALSE;
  } else if (g_str_equal (key, "database")) {
    g_autofree char *where = kf_where (cur, key);

    if (!kf_get_string (cur, key, &config->database, error)
        || !check_database (config->database, where, error))
      return FALSE;
  } else {
    return kf_unknown_key (cur, key, error);
  }
  return TRUE;
}

static gboolean
apply_media_group (KkConfig *config, const KeyFileCursor *cur,
    const char *key, GError **error)
{
  guint64 value;

  if (g_str_equal (key, "port")) {
    if (!kf_get_uint (cur, key, 0, G_MAXUINT16, &value, error))
      return FALSE;
    config->media_port = value;
  } else if (g_str_equal (key, "public-ip")) {
    if (!kf_get_list (cur, key, check_ip, "address", &config->public_ips,
            error))
      return FALSE;
  } else if (g_str_equal (key, "workers")) {
    if (!kf_get_uint (cur, key, 0, KK_MAX_WORKERS, &value, error))
      return FALSE;
    config->workers = value;
  } else if (g_str_equal (key, "consent-timeout")) {
    if (!kf_get_uint (cur, key, 1, 3600, &value, error))
      return FALSE;
    config->consent_timeout_s = value;
  } else if (g_str_equal (key, "connect-timeout")) {
    if (!kf_get_uint (cur, key, 1, 3600, &value, error))
      return FALSE;
    config->whep_connect_timeout_s = value;
  } else {
    return kf_unknown_key (cur, key, error);
  }
  return TRUE;
}

static gboolean
apply_ingest_group (KkConfig *config, const KeyFileCursor *cur,
    const char *key, GError **error)
{
  guint64 value;

  if (g_str_equal (key, "latency-ms")) {
    if (!kf_get_uint (cur, key, 0, 10000, &value, error))
      return FALSE;
    config->ingest_latency_ms = value;
  } else if (g_str_equal (key, "reconnect-grace")) {
    if (!kf_get_uint (cur, key, 0, 3600, &value, error))
      return FALSE;
    config->reconnect_grace_s = value;
  } else if (g_str_equal (key, "pipelines-dir")) {
    if (!kf_get_path (cur, key, &config->pipelines_dir, error))
      return FALSE;
  } else {
    return kf_unknown_key (cur, key, error);
  }
  return TRUE;
}

static gboolean
apply_turn_group (KkConfig *config, const KeyFileCursor *cur,
    const char *key, GError **error)
{
  guint64 value;

  if (g_str_equal (key, "url")) {
    if (!kf_get_list (cur, key, kk_config_check_turn_url, "URL",
            &config->turn_urls, error))
      return FALSE;
  } else if (g_str_equal (key, "secret")) {
    if (!kf_get_string (cur, key, &config->turn_secret, error))
      return FALSE;
    if (config->turn_secret[0] == '\0')
      return kf_fail (cur, key, g_error_new_literal (KK_CONFIG_ERROR,
              KK_CONFIG_ERROR_INVALID, "the secret is empty"), error);
  } else if (g_str_equal (key, "credential-lifetime")) {
    if (!kf_get_uint (cur, key, KK_MIN_TURN_CREDENTIAL_LIFETIME_S,
            KK_MAX_TURN_CREDENTIAL_LIFETIME_S, &value, error))
      return FALSE;
    config->turn_credential_lifetime_s = value;
  } else if (g_str_equal (key, "relay-address")) {
    if (!kf_get_list (cur, key, check_ip, "address",
            &config->turn_relay_addresses, error))
      return FALSE;
  } else {
    return kf_unknown_key (cur, key, error);
  }
  return TRUE;
}

static gboolean
apply_room_group (KkRoomConfig *room, const KeyFileCursor *cur,
    const char *key, GError **error)
{
  GError *local_error = NULL;

  if (g_str_equal (key, "title")) {
    if (!kf_get_string (cur, key, &room->title, error))
      return FALSE;
    if (!kk_room_validate_text ("title", room->title, 1, KK_ROOM_TITLE_MAX,
            &local_error))
      return kf_fail (cur, key, local_error, error);
  } else if (g_str_equal (key, "record")) {
    if (!kf_get_boolean (cur, key, &room->record, error))
      return FALSE;
  } else if (g_str_equal (key, "completion-ratio")) {
    if (!kf_get_double (cur, key, &room->completion_ratio, error))
      return FALSE;
    if (!kk_room_validate_completion_ratio (room->completion_ratio,
            &local_error))
      return kf_fail (cur, key, local_error, error);
  } else if (g_str_equal (key, "source")) {
    if (!kf_get_string (cur, key, &room->source, error))
      return FALSE;
    if (!kk_room_validate_source (room->source, &local_error))
      return kf_fail (cur, key, local_error, error);
  } else if (g_str_equal (key, "source-uri")) {
    if (!kf_get_string (cur, key, &room->source_uri, error))
      return FALSE;
    if (!kk_room_validate_source_uri (room->source_uri, &local_error))
      return kf_fail (cur, key, local_error, error);
  } else if (g_str_equal (key, "host-token")) {
    if (!kf_get_string (cur, key, &room->host_token, error))
      return FALSE;
    if (!validate_token (room->host_token, &local_error))
      return kf_fail (cur, key, local_error, error);
  } else {
    return kf_unknown_key (cur, key, error);
  }
  return TRUE;
}

static KkRoomConfig *
room_config_new (const char *id)
{
  KkRoomConfig *room = g_new0 (KkRoomConfig, 1);

  room->id = g_strdup (id);
  room->title = g_strdup (id);
  room->completion_ratio = KK_ROOM_DEFAULT_COMPLETION_RATIO;
  room->source = g_strdup (KK_ROOM_SOURCE_WHIP);
  return room;
}

static gboolean
apply_key_file (KkConfig *config, GKeyFile *key_file, const char *file_name,
    const char *data, gsize length, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (key_file, NULL);

  for (guint g = 0; groups[g] != NULL; g++) {
    KeyFileCursor cur = { key_file, file_name, data, length, groups[g] };
    g_auto (GStrv) keys = g_key_file_get_keys (key_file, groups[g], NULL, NULL);
    g_autoptr (KkRoomConfig) room = NULL;
    gboolean (*apply) (KkConfig *, const KeyFileCursor *, const char *,
        GError **) = NULL;

    if (g_str_equal (groups[g], "server")) {
      apply = apply_server_group;
    } else if (g_str_equal (groups[g], "media")) {
      apply = apply_media_group;
    } else if (g_str_equal (groups[g], "ingest")) {
      apply = apply_ingest_group;
    } else if (g_str_equal (groups[g], "turn")) {
      apply = apply_turn_group;
    } else if (g_str_has_prefix (groups[g], KK_ROOM_GROUP_PREFIX)) {
      const char *id = groups[g] + strlen (KK_ROOM_GROUP_PREFIX);
      GError *local_error = NULL;

      if (!kk_room_validate_id (id, &local_error))
        return kf_fail (&cur, NULL, local_error, error);
      room = room_config_new (id);
    } else {
      return kf_fail (&cur, NULL, g_error_new_literal (KK_CONFIG_ERROR,
              KK_CONFIG_ERROR_INVALID, "unknown group (expected server, "
              "media, ingest, turn or \"room ID\")"), error);
    }

    for (guint k = 0; keys != NULL && keys[k] != NULL; k++) {
      gboolean ok = room != NULL
          ? apply_room_group (room, &cur, keys[k], error)
          : apply (config, &cur, keys[k], error);

      if (!ok)
        return FALSE;
    }
    if (room != NULL)
      g_ptr_array_add (config->rooms, g_steal_pointer (&room));
  }
  return TRUE;
}

static gboolean
load_key_file (KkConfig *config, const char *data, gsize length,
    const char *file_name, GError **error)
{
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;

  if (!g_key_file_load_from_data (key_file, data, length, G_KEY_FILE_NONE,
          &local_error)) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_FILE, "%s: %s",
        file_name, local_error->message);
    return FALSE;
  }
  return apply_key_file (config, key_file, file_name, data, length, error);
}

/* Environment layer. */

static gboolean
env_uint (const char *name, guint64 min, guint64 max, guint64 *out,
    gboolean *found, GError **error)
{
  const char *text = g_getenv (name);
  g_autoptr (GError) local_error = NULL;

  *found = text != NULL;
  if (text == NULL)
    return TRUE;
  if (!parse_uint (text, min, max, out, &local_error)) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID, "%s: %s",
        name, local_error->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
apply_env (KkConfig *config, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  guint64 value;
  gboolean found;
  const char *text;

  if (!env_uint ("KRINGKAST_HTTP_PORT", 0, G_MAXUINT16, &value, &found, error))
    return FALSE;
  if (found)
    config->http_port = value;
  if (!env_uint ("KRINGKAST_MEDIA_PORT", 0, G_MAXUINT16, &value, &found, error))
    return FALSE;
  if (found)
    config->media_port = value;
  if (!env_uint ("KRINGKAST_WORKERS", 0, KK_MAX_WORKERS, &value, &found, error))
    return FALSE;
  if (found)
    config->workers = value;

  text = g_getenv ("KRINGKAST_PUBLIC_IP");
  if (text != NULL && !set_list (&config->public_ips, text, check_ip,
          "address", "KRINGKAST_PUBLIC_IP", error))
    return FALSE;

  text = g_getenv ("KRINGKAST_DATA_DIR");
  if (text != NULL) {
    if (text[0] == '\0') {
      g_set_error_literal (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
          "KRINGKAST_DATA_DIR: empty path");
      return FALSE;
    }
    g_free (config->data_dir);
    config->data_dir = g_strdup (text);
  }

  text = g_getenv ("KRINGKAST_DATABASE");
  if (text != NULL) {
    if (!check_database (text, "KRINGKAST_DATABASE", error))
      return FALSE;
    g_free (config->database);
    config->database = g_strdup (text);
  }

  text = g_getenv ("KRINGKAST_ADMIN_TOKEN");
  if (text != NULL) {
    if (!validate_token (text, &local_error)) {
      g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
          "KRINGKAST_ADMIN_TOKEN: %s", local_error->message);
      return FALSE;
    }
    g_free (config->admin_token);
    config->admin_token = g_strdup (text);
  }

  text = g_getenv ("KRINGKAST_TURN_URL");
  if (text != NULL && !set_list (&config->turn_urls, text,
          kk_config_check_turn_url, "URL", "KRINGKAST_TURN_URL", error))
    return FALSE;

  text = g_getenv ("KRINGKAST_TURN_SECRET");
  if (text != NULL) {
    if (text[0] == '\0') {
      g_set_error_literal (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
          "KRINGKAST_TURN_SECRET: the secret is empty");
      return FALSE;
    }
    g_free (config->turn_secret);
    config->turn_secret = g_strdup (text);
  }
  return TRUE;
}

/* Option layer. */

static gboolean
option_port (const char *option, int value, guint16 *out, GError **error)
{
  if (value == -1)
    return TRUE;
  if (value < 0 || value > G_MAXUINT16) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "%s: %d is not a port number (0..65535)", option, value);
    return FALSE;
  }
  *out = value;
  return TRUE;
}

static gboolean
apply_options (KkConfig *config, const KkConfigOptions *options,
    GError **error)
{
  if (!option_port ("--http-port", options->http_port, &config->http_port,
          error))
    return FALSE;
  if (!option_port ("--media-port", options->media_port, &config->media_port,
          error))
    return FALSE;

  if (options->workers != -1) {
    if (options->workers < 0 || options->workers > KK_MAX_WORKERS) {
      g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
          "--workers: %d is not in 0..%d", options->workers, KK_MAX_WORKERS);
      return FALSE;
    }
    config->workers = options->workers;
  }

  if (options->public_ips != NULL) {
    g_autofree char *joined = g_strjoinv (",", options->public_ips);

    if (!set_list (&config->public_ips, joined, check_ip, "address",
            "--public-ip", error))
      return FALSE;
  }

  if (options->data_dir != NULL) {
    if (options->data_dir[0] == '\0') {
      g_set_error_literal (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
          "--data-dir: empty path");
      return FALSE;
    }
    g_free (config->data_dir);
    config->data_dir = g_strdup (options->data_dir);
  }

  if (options->database != NULL) {
    if (!check_database (options->database, "--database", error))
      return FALSE;
    g_free (config->database);
    config->database = g_strdup (options->database);
  }

  if (options->turn_urls != NULL) {
    g_autofree char *joined = g_strjoinv (",", options->turn_urls);

    if (!set_list (&config->turn_urls, joined, kk_config_check_turn_url,
            "URL", "--turn-url", error))
      return FALSE;
  }

  if (options->demo)
    config->demo = TRUE;
  return TRUE;
}

/* --demo asks for a room "demo" fed by the built-in test-pattern lecture.
 * It is added here as an ordinary preconfigured room, so the registry and
 * the media side treat it like any other; a [room demo] section in the file
 * wins, so an operator can retitle it. */
static void
add_demo_room (KkConfig *config)
{
  KkRoomConfig *room;

  for (guint i = 0; i < config->rooms->len; i++) {
    room = g_ptr_array_index (config->rooms, i);
    if (g_str_equal (room->id, KK_ROOM_DEMO_ID))
      return;
  }
  room = room_config_new (KK_ROOM_DEMO_ID);
  g_free (room->title);
  room->title = g_strdup ("Demo lecture (test pattern)");
  g_free (room->source);
  room->source = g_strdup (KK_ROOM_SOURCE_DEMO);
  g_ptr_array_add (config->rooms, room);
}

/* TURN servers without the secret could only be handed out with no
 * credentials, which coturn refuses; a secret without servers is a
 * forgotten line. Both are mistakes worth stopping for. Without
 * relay-address, the relay learns which viewers come through TURN from
 * the URLs' hosts when they are IP literals (a name is not resolved: the
 * address coturn relays from may differ from the one it listens on). */
static gboolean
finish_turn (KkConfig *config, const char *where, GError **error)
{
  g_autoptr (GPtrArray) hosts = NULL;

  if (config->turn_urls == NULL && config->turn_secret == NULL)
    return TRUE;
  if (config->turn_urls == NULL || config->turn_secret == NULL) {
    g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_INVALID,
        "%s: [turn] url (or --turn-url, KRINGKAST_TURN_URL) and secret (or "
        "KRINGKAST_TURN_SECRET) must be given together", where);
    return FALSE;
  }
  if (config->turn_relay_addresses != NULL)
    return TRUE;
  hosts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; config->turn_urls[i] != NULL; i++) {
    g_autofree char *host = NULL;
    g_autoptr (GInetAddress) addr = NULL;

    if (!split_turn_url (config->turn_urls[i], &host, error))
      return FALSE;
    addr = g_inet_address_new_from_string (host);
    if (addr != NULL && !g_ptr_array_find_with_equal_func (hosts, host,
            g_str_equal, NULL))
      g_ptr_array_add (hosts, g_steal_pointer (&host));
  }
  if (hosts->len > 0) {
    g_ptr_array_add (hosts, NULL);
    config->turn_relay_addresses =
        (char **) g_ptr_array_free (g_steal_pointer (&hosts), FALSE);
  }
  return TRUE;
}

/* @where names the configuration in messages: the file, if any. */
static KkConfig *
config_finish (KkConfig *config, const char *where, GError **error)
{
  if (!finish_turn (config, where, error)) {
    kk_config_free (config);
    return NULL;
  }
  if (config->demo)
    add_demo_room (config);
  return config;
}

KkConfig *
kk_config_load_from_data (const char *data, gsize length,
    const char *file_name, GError **error)
{
  g_autoptr (KkConfig) config = config_new_defaults ();

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (file_name == NULL)
    file_name = "(config)";
  if (length > 0 && !load_key_file (config, data, length, file_name, error))
    return NULL;
  return config_finish (g_steal_pointer (&config), file_name, error);
}

KkConfig *
kk_config_load (int *argc, char ***argv, GError **error)
{
  KkConfigOptions options = {
    .http_port = -1,
    .media_port = -1,
    .workers = -1,
  };
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options.config_file,
      "INI file with [server], [media], [ingest], [turn] and [room ID] "
      "sections",
      "FILE" },
    { "http-port", 0, 0, G_OPTION_ARG_INT, &options.http_port,
      "HTTP listen port, all interfaces (default 8080)", "PORT" },
    { "media-port", 0, 0, G_OPTION_ARG_INT, &options.media_port,
      "UDP and ICE-TCP port for all viewers' media (default 8189)", "PORT" },
    { "public-ip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.public_ips,
      "Address to put in ICE candidates (repeatable; default: the host's "
      "addresses)", "ADDR" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.data_dir,
      "Directory for the database and recordings (default ./var)", "DIR" },
    { "database", 0, 0, G_OPTION_ARG_STRING, &options.database,
      "PostgreSQL database shared by several relays, as a postgresql:// "
      "URL (default: SQLite in the data directory)", "URL" },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &options.demo,
      "Create room 'demo', live at once with a test-pattern lecture", NULL },
    { "workers", 0, 0, G_OPTION_ARG_INT, &options.workers,
      "Media worker threads (default 0: one per core)", "N" },
    { "turn-url", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.turn_urls,
      "TURN server offered to viewers and hosts (repeatable; turn: or "
      "turns: URL; the secret comes from KRINGKAST_TURN_SECRET or [turn] "
      "secret)", "URL" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options.version,
      "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (KkConfig) config = NULL;
  KkConfig *finished = NULL;
  gboolean ok;

  context = g_option_context_new ("- lecture relay (WHIP in, WHEP out)");
  g_option_context_set_summary (context,
      "Options beat KRINGKAST_* environment variables, which beat the "
      "config file,\nwhich beats the built-in defaults. KRINGKAST_ADMIN_TOKEN "
      "sets the coordinator token.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());

  ok = g_option_context_parse (context, argc, argv, error);
  if (!ok)
    goto out;

  if (options.version) {
    printf ("kringkast %s\n", KK_VERSION);
    exit (EXIT_SUCCESS);
  }

  config = config_new_defaults ();
  if (options.config_file != NULL) {
    g_autofree char *contents = NULL;
    g_autoptr (GError) local_error = NULL;
    gsize length;

    if (!g_file_get_contents (options.config_file, &contents, &length,
            &local_error)) {
      g_set_error (error, KK_CONFIG_ERROR, KK_CONFIG_ERROR_FILE, "%s: %s",
          options.config_file, local_error->message);
      ok = FALSE;
      goto out;
    }
    ok = load_key_file (config, contents, length, options.config_file, error);
    if (!ok)
      goto out;
  }
  ok = apply_env (config, error) && apply_options (config, &options, error);

out:
  if (ok)
    finished = config_finish (g_steal_pointer (&config),
        options.config_file != NULL ? options.config_file : "configuration",
        error);
  options_clear (&options);
  return finished;
}
