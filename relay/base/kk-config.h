/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-config: the daemon's settings, from (highest first) command-line
 * options, KRINGKAST_* environment variables, the INI file given with
 * --config, and built-in defaults. Validated once at load; an error names
 * the file, group and key.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_CONFIG_ERROR (kk_config_error_quark ())
GQuark kk_config_error_quark (void);

typedef enum {
  KK_CONFIG_ERROR_INVALID,
  KK_CONFIG_ERROR_FILE,
} KkConfigError;

/* A room preconfigured in a [room ID] section of the config file. */
typedef struct {
  char *id;
  char *title;
  gboolean record;
  double completion_ratio;
  char *source;            /* "whip" (default) or a pipeline name from pipelines/ */
  char *source_uri;        /* for pipeline sources that take one (rtsp) */
  char *host_token;        /* nullable: made at first start and stored */
} KkRoomConfig;

typedef struct {
  guint16 http_port;       /* --http-port, KRINGKAST_HTTP_PORT, [server] http-port; 8080 */
  char *http_address;      /* [server] http-address; NULL = all interfaces */
  guint16 media_port;      /* --media-port, KRINGKAST_MEDIA_PORT, [media] port; 8189 */
  char **public_ips;       /* --public-ip (repeatable), KRINGKAST_PUBLIC_IP (comma list), [media] public-ip; NULL = autodetect */
  char *data_dir;          /* --data-dir, KRINGKAST_DATA_DIR, [server] data-dir; ./var */
  char *database;          /* --database, KRINGKAST_DATABASE, [server] database: a postgresql:// URL; NULL = SQLite in data_dir */
  gboolean demo;           /* --demo; adds room "demo" (source "demo") to @rooms unless the file has one */
  char *admin_token;       /* KRINGKAST_ADMIN_TOKEN only (never in a file or option) */
  guint workers;           /* --workers, [media] workers; 0 = one per core */
  guint ingest_latency_ms; /* [ingest] latency-ms; 100 */
  guint reconnect_grace_s; /* [ingest] reconnect-grace; 30 */
  guint consent_timeout_s; /* [media] consent-timeout; 30 (RFC 7675) */
  guint whep_connect_timeout_s; /* [media] connect-timeout; 30: unconnected WHEP resources expire */
  char *pipelines_dir;     /* [ingest] pipelines-dir; built-in path, overridable for tests */
  char **turn_urls;        /* --turn-url (repeatable), KRINGKAST_TURN_URL (comma list), [turn] url; NULL = no TURN server */
  char *turn_secret;       /* KRINGKAST_TURN_SECRET, [turn] secret: coturn's static-auth-secret; required with turn_urls */
  guint turn_credential_lifetime_s; /* [turn] credential-lifetime; 3600 */
  char **turn_relay_addresses; /* [turn] relay-address; NULL = the URLs' IP-literal hosts */
  GPtrArray *rooms;        /* element-type KkRoomConfig */
} KkConfig;

/* The longest [turn] url accepted: it goes into every Link header. */
#define KK_CONFIG_TURN_URL_MAX 512

/* Checks one TURN server URL as RFC 7065 writes it: "turn:" or "turns:",
 * a host (name, IPv4, or [IPv6]), an optional ":port", and an optional
 * "?transport=udp" or "?transport=tcp"; nothing else, and no character
 * that could break out of a Link header's <...>. */
gboolean kk_config_check_turn_url (const char *url, GError **error);

/* Parses @argv (options, including GStreamer's option group), then the
 * environment, then the file. On --help prints and exits like any GOption
 * program. Returns: (transfer full): the config, or NULL with @error. */
KkConfig *kk_config_load (int *argc, char ***argv, GError **error);

/* The file layer alone: built-in defaults overlaid with the GKeyFile text
 * @data (@length bytes, need not be NUL-terminated). No options, no
 * environment. @file_name (nullable) is only used in error messages. For
 * the config fuzzer and for tests that want a default config to adjust.
 * Returns: (transfer full): the config, or NULL with @error. */
KkConfig *kk_config_load_from_data (const char *data, gsize length,
    const char *file_name, GError **error);
void kk_config_free (KkConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkConfig, kk_config_free)

/* Returns: (transfer full): a deep copy of @room. */
KkRoomConfig *kk_room_config_copy (const KkRoomConfig *room);
void kk_room_config_free (KkRoomConfig *room);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkRoomConfig, kk_room_config_free)

G_END_DECLS
