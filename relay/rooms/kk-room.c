/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-room: KkRoom and KkRoomRegistry (the field validators are in
 * kk-room-rules.c, in the base layer).
 *
 * A KkRoom's settings change only through the registry's edit (stored
 * first, like a creation); its live state (live, session, viewer count)
 * is set by the media side on the main thread and published as notifying
 * properties.
 *
 * The audience (how many workplaces and people are watching) is kept per
 * room as a table of the parties with a receiving connection. The
 * registry is told of each viewer connection that starts or stops
 * receiving (kk-relay.c connects each lecture's viewer signals to it:
 * rooms sit below the lecture and do not know it) and, on a party's first
 * connection, reads its people from the store (participants: the holder,
 * colleagues named at the join, colleagues who checked in since), so the
 * host's page can say "12 people at 5 workplaces" without a query per
 * poll.
 *
 * The registry keeps rooms by id and viewer parties by the SHA-256 of
 * their token. Creating a room or a party is a store write first and a
 * table insert second, both on the main context: until the store says the
 * row is on disk, nothing is visible, and a client's 201 means durable.
 * Room ids being created are held in a pending set so that two concurrent
 * POSTs for one id cannot both pass the existence check.
 *
 * Tokens are checked without timing leaks about their content: viewer
 * tokens are found by the hash of the candidate (a hash-table probe reveals
 * nothing useful about a secret whose hash you cannot invert), and host
 * tokens, few in number, are compared by digest with CRYPTO_memcmp against
 * every room, without an early exit.
 */

#include "kk-room.h"

#include <math.h>
#include <openssl/crypto.h>

gboolean
kk_room_config_validate (const KkRoomConfig *room, GError **error)
{
  return kk_room_validate_id (room->id, error)
      && kk_room_validate_text ("title", room->title, 1, KK_ROOM_TITLE_MAX,
          error)
      && kk_room_validate_completion_ratio (room->completion_ratio, error)
      && (room->source == NULL || kk_room_validate_source (room->source, error))
      && (room->source_uri == NULL
          || kk_room_validate_source_uri (room->source_uri, error));
}

/* KkRoom. */

/* A party with at least one connection receiving media. */
typedef struct {
  guint connections;
  guint people;                 /* 0 until read from the store */
  char **workplaces;            /* distinct, case-folded; NULL until read */
} Watcher;

static void
watcher_free (gpointer data)
{
  Watcher *watcher = data;

  g_strfreev (watcher->workplaces);
  g_free (watcher);
}

struct _KkRoom {
  GObject parent_instance;

  KkRoomConfig *config;         /* host_token and source always set */
  gboolean live;
  char *session_id;
  guint viewer_count;
  KkRoomAccess access;
  GHashTable *audience;         /* party id → Watcher (owned) */
};

G_DEFINE_FINAL_TYPE (KkRoom, kk_room, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LIVE,
  PROP_SESSION_ID,
  PROP_VIEWER_COUNT,
  N_PROPS
};

static GParamSpec *room_props[N_PROPS];

static void
kk_room_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  KkRoom *room = KK_ROOM (object);

  switch (prop_id) {
    case PROP_LIVE:
      g_value_set_boolean (value, room->live);
      break;
    case PROP_SESSION_ID:
      g_value_set_string (value, room->session_id);
      break;
    case PROP_VIEWER_COUNT:
      g_value_set_uint (value, room->viewer_count);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
kk_room_finalize (GObject *object)
{
  KkRoom *room = KK_ROOM (object);

  kk_room_config_free (room->config);
  g_free (room->session_id);
  g_hash_table_unref (room->audience);

  G_OBJECT_CLASS (kk_room_parent_class)->finalize (object);
}

static void
kk_room_class_init (KkRoomClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = kk_room_get_property;
  object_class->finalize = kk_room_finalize;

  room_props[PROP_LIVE] = g_param_spec_boolean ("live", NULL, NULL, FALSE,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  room_props[PROP_SESSION_ID] = g_param_spec_string ("session-id", NULL, NULL,
      NULL, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  room_props[PROP_VIEWER_COUNT] = g_param_spec_uint ("viewer-count", NULL,
      NULL, 0, G_MAXUINT, 0,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, room_props);
}

static void
kk_room_init (KkRoom *room)
{
  room->audience = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      watcher_free);
}

/* Returns: (transfer full): a room with the settings of @config, whose
 * host_token must be set. Not live, no viewers. Only the registry makes
 * rooms. */
static KkRoom *
room_new (const KkRoomConfig *config)
{
  KkRoom *room;

  g_return_val_if_fail (config != NULL && config->id != NULL, NULL);
  g_return_val_if_fail (config->host_token != NULL, NULL);

  room = g_object_new (KK_TYPE_ROOM, NULL);
  room->config = kk_room_config_copy (config);
  if (room->config->title == NULL)
    room->config->title = g_strdup (config->id);
  if (room->config->source == NULL)
    room->config->source = g_strdup (KK_ROOM_SOURCE_WHIP);
  return room;
}

const char *
kk_room_get_id (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), NULL);
  return room->config->id;
}

const char *
kk_room_get_title (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), NULL);
  return room->config->title;
}

gboolean
kk_room_get_record (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), FALSE);
  return room->config->record;
}

double
kk_room_get_completion_ratio (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), 0.0);
  return room->config->completion_ratio;
}

const char *
kk_room_get_host_token (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), NULL);
  return room->config->host_token;
}

const char *
kk_room_get_source (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), NULL);
  return room->config->source;
}

const char *
kk_room_get_source_uri (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), NULL);
  return room->config->source_uri;
}

gboolean
kk_room_get_live (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), FALSE);
  return room->live;
}

const char *
kk_room_get_session_id (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), NULL);
  return room->session_id;
}

guint
kk_room_get_viewer_count (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), 0);
  return room->viewer_count;
}

void
kk_room_set_live (KkRoom *room, gboolean live, const char *session_id)
{
  g_return_if_fail (KK_IS_ROOM (room));

  live = !!live;
  if (!live)
    session_id = NULL;

  g_object_freeze_notify (G_OBJECT (room));
  if (room->live != live) {
    g_info ("room %s: %s", room->config->id, live ? "live" : "off air");
    room->live = live;
    g_object_notify_by_pspec (G_OBJECT (room), room_props[PROP_LIVE]);
  }
  if (g_strcmp0 (room->session_id, session_id) != 0) {
    g_free (room->session_id);
    room->session_id = g_strdup (session_id);
    g_object_notify_by_pspec (G_OBJECT (room), room_props[PROP_SESSION_ID]);
  }
  g_object_thaw_notify (G_OBJECT (room));
}

void
kk_room_set_viewer_count (KkRoom *room, guint count)
{
  g_return_if_fail (KK_IS_ROOM (room));

  if (room->viewer_count == count)
    return;
  room->viewer_count = count;
  g_object_notify_by_pspec (G_OBJECT (room), room_props[PROP_VIEWER_COUNT]);
}

/* A party's connection started receiving. Returns TRUE for its first,
 * when its people are to be read. */
static gboolean
audience_add (KkRoom *room, const char *party_id)
{
  Watcher *watcher = g_hash_table_lookup (room->audience, party_id);

  if (watcher != NULL) {
    watcher->connections++;
    return FALSE;
  }
  watcher = g_new0 (Watcher, 1);
  watcher->connections = 1;
  g_hash_table_insert (room->audience, g_strdup (party_id), watcher);
  return TRUE;
}

static void
audience_remove (KkRoom *room, const char *party_id)
{
  Watcher *watcher = g_hash_table_lookup (room->audience, party_id);

  if (watcher != NULL && --watcher->connections == 0)
    g_hash_table_remove (room->audience, party_id);
}

guint
kk_room_get_workplace_count (KkRoom *room)
{
  g_autoptr (GHashTable) seen = NULL;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (KK_IS_ROOM (room), 0);

  /* A few hundred parties at most, each with a workplace or two: counted
   * when asked, rather than kept up to date on every change. */
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, room->audience);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Watcher *watcher = value;

    for (guint i = 0; watcher->workplaces != NULL
        && watcher->workplaces[i] != NULL; i++)
      g_hash_table_add (seen, watcher->workplaces[i]);
  }
  return g_hash_table_size (seen);
}

guint
kk_room_get_people_count (KkRoom *room)
{
  GHashTableIter iter;
  gpointer value;
  guint people = 0;

  g_return_val_if_fail (KK_IS_ROOM (room), 0);

  g_hash_table_iter_init (&iter, room->audience);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    people += MAX (((Watcher *) value)->people, 1);
  return people;
}

/* Only what @edit sets; the registry has validated and stored it. */
static void
apply_edit (KkRoom *room, const KkRoomEdit *edit)
{
  if (edit->title != NULL) {
    g_free (room->config->title);
    room->config->title = g_strdup (edit->title);
  }
  if (edit->set_record)
    room->config->record = edit->record;
  if (edit->set_completion_ratio)
    room->config->completion_ratio = edit->completion_ratio;
}

const char *
kk_room_access_to_string (KkRoomAccess access)
{
  return access == KK_ROOM_ACCESS_INVITATION ? "invitation" : "open";
}

gboolean
kk_room_access_from_string (const char *text, KkRoomAccess *access)
{
  if (g_strcmp0 (text, "open") == 0)
    *access = KK_ROOM_ACCESS_OPEN;
  else if (g_strcmp0 (text, "invitation") == 0)
    *access = KK_ROOM_ACCESS_INVITATION;
  else
    return FALSE;
  return TRUE;
}

void
kk_room_set_access (KkRoom *room, KkRoomAccess access)
{
  g_return_if_fail (KK_IS_ROOM (room));

  if (room->access != access)
    g_info ("room %s: access %s", room->config->id,
        kk_room_access_to_string (access));
  room->access = access;
}

KkRoomAccess
kk_room_get_access (KkRoom *room)
{
  g_return_val_if_fail (KK_IS_ROOM (room), KK_ROOM_ACCESS_OPEN);

  return room->access;
}

/* KkJoinResult. */

void
kk_join_result_free (KkJoinResult *result)
{
  if (result == NULL)
    return;
  g_free (result->party_id);
  g_free (result->participant_id);
  if (result->token != NULL)
    OPENSSL_cleanse (result->token, strlen (result->token));
  g_free (result->token);
  g_clear_pointer (&result->colleague_ids, g_ptr_array_unref);
  g_free (result);
}

void
kk_room_edit_free (KkRoomEdit *edit)
{
  if (edit == NULL)
    return;
  g_free (edit->title);
  g_free (edit);
}

/* KkRoomRegistry. */

typedef struct {
  char *id;
  char *room_id;
} KkParty;

static void
party_free (KkParty *party)
{
  g_free (party->id);
  g_free (party->room_id);
  g_free (party);
}

static void
digest (const char *text, guint8 out[32])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32;

  g_checksum_update (checksum, (const guchar *) text, -1);
  g_checksum_get_digest (checksum, out, &len);
}

struct _KkRoomRegistry {
  GObject parent_instance;

  KkStore *store;
  GHashTable *rooms;            /* id → KkRoom (owned) */
  GHashTable *pending;          /* ids of rooms being stored (set) */
  GHashTable *configured;       /* ids of the config file's rooms (set) */
  GHashTable *parties;          /* token hash (hex) → KkParty (owned) */
  guint8 admin_digest[32];      /* SHA-256 of the coordinator's token */
};

G_DEFINE_FINAL_TYPE (KkRoomRegistry, kk_room_registry, G_TYPE_OBJECT)

enum {
  SIGNAL_ROOM_ADDED,
  N_SIGNALS
};

static guint registry_signals[N_SIGNALS];

static void
kk_room_registry_finalize (GObject *object)
{
  KkRoomRegistry *registry = KK_ROOM_REGISTRY (object);

  g_hash_table_unref (registry->rooms);
  g_hash_table_unref (registry->pending);
  g_hash_table_unref (registry->configured);
  g_hash_table_unref (registry->parties);
  g_clear_object (&registry->store);
  OPENSSL_cleanse (registry->admin_digest, sizeof registry->admin_digest);

  G_OBJECT_CLASS (kk_room_registry_parent_class)->finalize (object);
}

static void
kk_room_registry_class_init (KkRoomRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_room_registry_finalize;

  /**
   * KkRoomRegistry::room-added:
   * @room: the new room
   *
   * A room was created (and stored) after startup.
   */
  registry_signals[SIGNAL_ROOM_ADDED] = g_signal_new ("room-added",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, KK_TYPE_ROOM);
}

static void
kk_room_registry_init (KkRoomRegistry *registry)
{
  registry->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      g_object_unref);
  registry->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  registry->configured = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  registry->parties = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) party_free);
}

/* The room's id string is owned by the room, and is the key. */
static void
add_room (KkRoomRegistry *registry, KkRoom *room)
{
  g_hash_table_replace (registry->rooms, (gpointer) kk_room_get_id (room),
      room);
}

static void
add_party (KkRoomRegistry *registry, const char *token_hash,
    const char *party_id, const char *room_id)
{
  KkParty *party = g_new0 (KkParty, 1);

  party->id = g_strdup (party_id);
  party->room_id = g_strdup (room_id);
  g_hash_table_replace (registry->parties, g_strdup (token_hash), party);
}

KkRoomRegistry *
kk_room_registry_new (KkStore *store, const KkConfig *config, GError **error)
{
  g_autoptr (KkRoomRegistry) registry = NULL;
  g_autoptr (GPtrArray) rooms = NULL;
  g_autoptr (GPtrArray) parties = NULL;

  g_return_val_if_fail (KK_IS_STORE (store), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  registry = g_object_new (KK_TYPE_ROOM_REGISTRY, NULL);
  registry->store = g_object_ref (store);

  if (config->admin_token != NULL) {
    digest (config->admin_token, registry->admin_digest);
  } else {
    g_autofree char *file_token = kk_store_load_admin_token (
        kk_store_get_data_dir (store), error);

    if (file_token == NULL)
      return NULL;
    digest (file_token, registry->admin_digest);
    OPENSSL_cleanse (file_token, strlen (file_token));
  }

  rooms = kk_store_load_rooms (store, error);
  if (rooms == NULL)
    return NULL;
  for (guint i = 0; i < rooms->len; i++)
    add_room (registry, room_new (g_ptr_array_index (rooms, i)));

  for (guint i = 0; config->rooms != NULL && i < config->rooms->len; i++) {
    const KkRoomConfig *wanted = g_ptr_array_index (config->rooms, i);
    g_autoptr (KkRoomConfig) stored = NULL;

    if (!kk_room_config_validate (wanted, error))
      return NULL;
    stored = kk_store_ensure_room (store, wanted, error);
    if (stored == NULL)
      return NULL;
    add_room (registry, room_new (stored));
    g_hash_table_add (registry->configured, g_strdup (wanted->id));
  }

  parties = kk_store_load_parties (store, error);
  if (parties == NULL)
    return NULL;
  for (guint i = 0; i < parties->len; i++) {
    const KkStoreParty *party = g_ptr_array_index (parties, i);

    add_party (registry, party->token_hash, party->id, party->room_id);
  }

  g_info ("registry: %u rooms, %u parties", g_hash_table_size (registry->rooms),
      g_hash_table_size (registry->parties));
  return g_steal_pointer (&registry);
}

KkRoom *
kk_room_registry_lookup (KkRoomRegistry *registry, const char *id)
{
  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), NULL);

  if (id == NULL)
    return NULL;
  return g_hash_table_lookup (registry->rooms, id);
}

static int
compare_rooms (gconstpointer a, gconstpointer b)
{
  KkRoom *room_a = *(KkRoom **) a;
  KkRoom *room_b = *(KkRoom **) b;

  return strcmp (kk_room_get_id (room_a), kk_room_get_id (room_b));
}

GPtrArray *
kk_room_registry_list (KkRoomRegistry *registry)
{
  GPtrArray *rooms;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), NULL);

  rooms = g_ptr_array_new_full (g_hash_table_size (registry->rooms),
      g_object_unref);
  g_hash_table_iter_init (&iter, registry->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (rooms, g_object_ref (value));
  g_ptr_array_sort (rooms, compare_rooms);
  return rooms;
}

/* Room creation. */

static void
room_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoomRegistry *registry = g_task_get_source_object (task);
  const KkRoomConfig *config = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  KkRoom *room;

  g_hash_table_remove (registry->pending, config->id);

  if (!kk_store_insert_room_finish (KK_STORE (source), result, &error)) {
    if (g_error_matches (error, KK_STORE_ERROR, KK_STORE_ERROR_EXISTS))
      g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_EXISTS,
          "room %s already exists", config->id);
    else
      g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_FAILED,
          "storing room %s: %s", config->id, error->message);
    return;
  }

  room = room_new (config);
  add_room (registry, room);
  g_info ("room %s: created (\"%s\")", config->id, config->title);
  g_signal_emit (registry, registry_signals[SIGNAL_ROOM_ADDED], 0, room);
  g_task_return_pointer (task, g_object_ref (room), g_object_unref);
}

void
kk_room_registry_create_room_async (KkRoomRegistry *registry,
    const KkRoomConfig *room, GAsyncReadyCallback callback,
    gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  KkRoomConfig *config;
  GError *error = NULL;

  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));
  g_return_if_fail (room != NULL);

  task = g_task_new (registry, NULL, callback, user_data);
  g_task_set_source_tag (task, kk_room_registry_create_room_async);

  if (!kk_room_config_validate (room, &error)) {
    g_task_return_error (task, error);
    return;
  }
  if (g_hash_table_contains (registry->rooms, room->id)
      || g_hash_table_contains (registry->pending, room->id)) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_EXISTS,
        "room %s already exists", room->id);
    return;
  }

  config = kk_room_config_copy (room);
  if (config->source == NULL)
    config->source = g_strdup (KK_ROOM_SOURCE_WHIP);
  if (config->host_token == NULL)
    config->host_token = kk_store_new_token ();
  g_task_set_task_data (task, config, (GDestroyNotify) kk_room_config_free);
  g_hash_table_add (registry->pending, g_strdup (config->id));

  kk_store_insert_room_async (registry->store, config, room_stored_cb,
      g_steal_pointer (&task));
}

KkRoom *
kk_room_registry_create_room_finish (KkRoomRegistry *registry,
    GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, registry), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Editing. */

typedef struct {
  char *room_id;
  KkRoomEdit *edit;
} EditData;

static void
edit_data_free (EditData *data)
{
  g_free (data->room_id);
  kk_room_edit_free (data->edit);
  g_free (data);
}

static void
room_updated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoomRegistry *registry = g_task_get_source_object (task);
  EditData *data = g_task_get_task_data (task);
  const char *room_id = data->room_id;
  g_autoptr (GError) error = NULL;
  KkRoom *room;

  if (!kk_store_update_room_finish (KK_STORE (source), result, &error)) {
    int code = g_error_matches (error, KK_STORE_ERROR,
        KK_STORE_ERROR_NOT_FOUND) ? KK_ROOM_ERROR_NOT_FOUND
        : KK_ROOM_ERROR_FAILED;

    g_task_return_new_error (task, KK_ROOM_ERROR, code, "storing room %s: %s",
        room_id, error->message);
    return;
  }
  room = kk_room_registry_lookup (registry, room_id);
  if (room == NULL) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_NOT_FOUND,
        "no room %s", room_id);
    return;
  }
  apply_edit (room, data->edit);
  g_info ("room %s: edited (title \"%s\", record %s, completion ratio %.2f)",
      room_id, kk_room_get_title (room),
      kk_room_get_record (room) ? "on" : "off",
      kk_room_get_completion_ratio (room));
  g_task_return_pointer (task, g_object_ref (room), g_object_unref);
}

void
kk_room_registry_edit_room_async (KkRoomRegistry *registry,
    const char *room_id, const KkRoomEdit *edit, GAsyncReadyCallback callback,
    gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  EditData *data;
  GError *error = NULL;
  KkRoom *room;

  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));
  g_return_if_fail (edit != NULL);

  task = g_task_new (registry, NULL, callback, user_data);
  g_task_set_source_tag (task, kk_room_registry_edit_room_async);

  room = kk_room_registry_lookup (registry, room_id);
  if (room == NULL) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_NOT_FOUND,
        "no room %s", room_id);
    return;
  }
  if ((edit->title != NULL && !kk_room_validate_text ("title", edit->title, 1,
              KK_ROOM_TITLE_MAX, &error))
      || (edit->set_completion_ratio && !kk_room_validate_completion_ratio (
              edit->completion_ratio, &error))) {
    g_task_return_error (task, error);
    return;
  }
  if (edit->title == NULL && !edit->set_record && !edit->set_completion_ratio) {
    g_task_return_pointer (task, g_object_ref (room), g_object_unref);
    return;
  }
  if (g_hash_table_contains (registry->configured, room_id)) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_CONFIGURED,
        "room %s is set in the config file ([room %s]); change it there",
        room_id, room_id);
    return;
  }

  data = g_new0 (EditData, 1);
  data->room_id = g_strdup (room_id);
  data->edit = g_memdup2 (edit, sizeof *edit);
  data->edit->title = g_strdup (edit->title);
  g_task_set_task_data (task, data, (GDestroyNotify) edit_data_free);
  kk_store_update_room_async (registry->store, room_id, edit->title,
      edit->set_record ? edit->record : -1,
      edit->set_completion_ratio ? edit->completion_ratio : NAN,
      room_updated_cb, g_steal_pointer (&task));
}

KkRoom *
kk_room_registry_edit_room_finish (KkRoomRegistry *registry,
    GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, registry), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Joining. */

typedef struct {
  KkStoreParty *party;
  KkJoinResult *result;
} JoinData;

static void
join_data_free (JoinData *data)
{
  kk_store_party_free (data->party);
  kk_join_result_free (data->result);
  g_free (data);
}

static void
party_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoomRegistry *registry = g_task_get_source_object (task);
  JoinData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!kk_store_insert_party_finish (KK_STORE (source), result, &error)) {
    int code = g_error_matches (error, KK_STORE_ERROR,
        KK_STORE_ERROR_NOT_FOUND) ? KK_ROOM_ERROR_NOT_FOUND
        : KK_ROOM_ERROR_FAILED;

    g_task_return_new_error (task, KK_ROOM_ERROR, code,
        "storing party in room %s: %s", data->party->room_id, error->message);
    return;
  }

  add_party (registry, data->party->token_hash, data->party->id,
      data->party->room_id);
  g_info ("room %s: party %s joined (%u people)", data->party->room_id,
      data->party->id, data->party->participants->len);
  g_task_return_pointer (task, g_steal_pointer (&data->result),
      (GDestroyNotify) kk_join_result_free);
}

static KkStoreParticipant *
participant_new (const char *name, const char *workplace)
{
  KkStoreParticipant *participant = g_new0 (KkStoreParticipant, 1);

  participant->id = g_uuid_string_random ();
  participant->name = g_strdup (name);
  participant->workplace = g_strdup (workplace != NULL ? workplace : "");
  return participant;
}

void
kk_room_registry_join_async (KkRoomRegistry *registry, const char *room_id,
    const char *name, const char *workplace, const char *const *colleagues,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  guint n_colleagues = colleagues != NULL
      ? g_strv_length ((char **) colleagues) : 0;
  KkStoreParticipant *self;
  GError *error = NULL;
  JoinData *data;
  KkRoom *room;

  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));

  task = g_task_new (registry, NULL, callback, user_data);
  g_task_set_source_tag (task, kk_room_registry_join_async);

  room = kk_room_registry_lookup (registry, room_id);
  if (room == NULL) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_NOT_FOUND,
        "no room %s", room_id);
    return;
  }
  if (kk_room_get_access (room) == KK_ROOM_ACCESS_INVITATION) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_FORBIDDEN,
        "room %s is by invitation only: use the personal link you were sent",
        room_id);
    return;
  }
  if (!kk_room_validate_text ("name", name, 1, KK_ROOM_NAME_MAX, &error)
      || (workplace != NULL && !kk_room_validate_text ("workplace", workplace,
              0, KK_ROOM_WORKPLACE_MAX, &error))) {
    g_task_return_error (task, error);
    return;
  }
  if (n_colleagues > KK_ROOM_COLLEAGUES_MAX) {
    g_task_return_new_error (task, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
        "at most %d colleagues", KK_ROOM_COLLEAGUES_MAX);
    return;
  }
  for (guint i = 0; i < n_colleagues; i++) {
    if (!kk_room_validate_text ("colleague name", colleagues[i], 1,
            KK_ROOM_NAME_MAX, &error)) {
      g_task_return_error (task, error);
      return;
    }
  }

  data = g_new0 (JoinData, 1);
  data->party = kk_store_party_new ();
  data->party->id = g_uuid_string_random ();
  data->party->room_id = g_strdup (room_id);
  data->result = g_new0 (KkJoinResult, 1);
  data->result->token = kk_store_new_token ();
  data->result->party_id = g_strdup (data->party->id);
  data->result->colleague_ids = g_ptr_array_new_with_free_func (g_free);
  data->party->token_hash = kk_store_hash_token (data->result->token);

  /* The token holder's workplace is shared by the colleagues at the same
   * screen: they are, by definition, in the same place. */
  self = participant_new (name, workplace);
  data->result->participant_id = g_strdup (self->id);
  g_ptr_array_add (data->party->participants, self);
  for (guint i = 0; i < n_colleagues; i++) {
    KkStoreParticipant *colleague = participant_new (colleagues[i], workplace);

    g_ptr_array_add (data->result->colleague_ids, g_strdup (colleague->id));
    g_ptr_array_add (data->party->participants, colleague);
  }
  g_task_set_task_data (task, data, (GDestroyNotify) join_data_free);

  kk_store_insert_party_async (registry->store, data->party, party_stored_cb,
      g_steal_pointer (&task));
}

KkJoinResult *
kk_room_registry_join_finish (KkRoomRegistry *registry, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, registry), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Tokens. */

KkTokenResult
kk_room_registry_check_viewer_token (KkRoomRegistry *registry,
    const char *room_id, const char *token, char **party_id)
{
  g_autofree char *hash = NULL;
  KkParty *party;

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), KK_TOKEN_UNKNOWN);

  if (party_id != NULL)
    *party_id = NULL;
  if (token == NULL)
    return KK_TOKEN_UNKNOWN;

  hash = kk_store_hash_token (token);
  party = g_hash_table_lookup (registry->parties, hash);
  if (party == NULL)
    return KK_TOKEN_UNKNOWN;
  if (room_id != NULL && strcmp (party->room_id, room_id) != 0)
    return KK_TOKEN_WRONG_ROOM;
  if (party_id != NULL)
    *party_id = g_strdup (party->id);
  return KK_TOKEN_OK;
}

void
kk_room_registry_add_party (KkRoomRegistry *registry, const char *token_hash,
    const char *party_id, const char *room_id)
{
  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));
  g_return_if_fail (token_hash != NULL && party_id != NULL && room_id != NULL);

  add_party (registry, token_hash, party_id, room_id);
}

gboolean
kk_room_registry_remove_party (KkRoomRegistry *registry, const char *party_id)
{
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), FALSE);

  /* Keyed by token hash, which the caller need not know: a scan, but only
   * on a coordinator's rare request. */
  g_hash_table_iter_init (&iter, registry->parties);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    KkParty *party = value;

    if (g_strcmp0 (party->id, party_id) == 0) {
      g_hash_table_iter_remove (&iter);
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
kk_room_registry_check_admin_token (KkRoomRegistry *registry,
    const char *token)
{
  guint8 have[32];

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), FALSE);

  if (token == NULL)
    return FALSE;
  digest (token, have);
  return CRYPTO_memcmp (have, registry->admin_digest, sizeof have) == 0;
}

KkTokenResult
kk_room_registry_check_host_token (KkRoomRegistry *registry,
    const char *room_id, const char *token)
{
  guint8 wanted[32];
  gboolean any_room = FALSE;
  gboolean this_room = FALSE;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (KK_IS_ROOM_REGISTRY (registry), KK_TOKEN_UNKNOWN);

  if (token == NULL)
    return KK_TOKEN_UNKNOWN;

  digest (token, wanted);
  g_hash_table_iter_init (&iter, registry->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    guint8 have[32];

    digest (kk_room_get_host_token (value), have);
    if (CRYPTO_memcmp (wanted, have, sizeof wanted) == 0) {
      /* Config files may give two rooms one host token. */
      any_room = TRUE;
      if (room_id == NULL || strcmp (kk_room_get_id (value), room_id) == 0)
        this_room = TRUE;
    }
  }

  if (this_room)
    return KK_TOKEN_OK;
  return any_room ? KK_TOKEN_WRONG_ROOM : KK_TOKEN_UNKNOWN;
}

/* The audience. */

/* One party's people, read on the store's thread. */
typedef struct {
  guint people;
  char **workplaces;            /* distinct, case-folded */
} PartyPeople;

static void
party_people_free (gpointer data)
{
  PartyPeople *people = data;

  g_strfreev (people->workplaces);
  g_free (people);
}

/* "Sengepost 3" and "sengepost  3 " are one workplace; "" is none. */
static char *
fold_workplace (const char *workplace)
{
  g_autofree char *normal = g_utf8_normalize (workplace, -1,
      G_NORMALIZE_ALL_COMPOSE);
  g_autofree char *folded = normal != NULL ? g_utf8_casefold (normal, -1)
      : NULL;
  g_auto (GStrv) words = folded != NULL ? g_strsplit_set (folded, " \t", -1)
      : NULL;
  g_autoptr (GString) joined = g_string_new (NULL);

  for (guint i = 0; words != NULL && words[i] != NULL; i++) {
    if (words[i][0] == '\0')
      continue;
    if (joined->len > 0)
      g_string_append_c (joined, ' ');
    g_string_append (joined, words[i]);
  }
  return joined->len > 0 ? g_string_free (g_steal_pointer (&joined), FALSE)
      : NULL;
}

static gpointer
read_party_job (KkDb *db, gpointer job_data, GError **error)
{
  const char *party_id = job_data;
  g_autoptr (GPtrArray) workplaces = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (KkDbStmt) stmt = NULL;
  PartyPeople *people;
  KkDbStep step;

  stmt = kk_db_prepare (db,
      "SELECT workplace FROM participants WHERE party_id = ?1", error);
  if (stmt == NULL) {
    g_prefix_error (error, "rooms: ");
    return NULL;
  }
  kk_db_bind_text (stmt, 1, party_id);
  people = g_new0 (PartyPeople, 1);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    const char *text = kk_db_column_text (stmt, 0);
    char *folded = text != NULL ? fold_workplace (text) : NULL;

    people->people++;
    if (folded == NULL)
      continue;
    if (g_ptr_array_find_with_equal_func (workplaces, folded, g_str_equal,
            NULL))
      g_free (folded);
    else
      g_ptr_array_add (workplaces, folded);
  }
  if (step == KK_DB_ERROR) {
    party_people_free (people);
    g_prefix_error (error, "rooms: reading a party's people: ");
    return NULL;
  }
  g_ptr_array_add (workplaces, NULL);
  people->workplaces = (char **) g_ptr_array_free (
      g_steal_pointer (&workplaces), FALSE);
  return people;
}

typedef struct {
  KkRoomRegistry *registry;
  char *room_id;
  char *party_id;
} PartyRead;

static void
party_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PartyRead *read = user_data;
  g_autoptr (GError) error = NULL;
  PartyPeople *people;
  KkRoom *room;
  Watcher *watcher;

  people = kk_store_run_finish (KK_STORE (source), result, &error);
  room = kk_room_registry_lookup (read->registry, read->room_id);
  watcher = room != NULL
      ? g_hash_table_lookup (room->audience, read->party_id) : NULL;
  if (people == NULL) {
    /* The party then counts as one person: the count is a guide for the
     * host, not the attendance record. */
    g_warning ("room %s: party %s: %s", read->room_id, read->party_id,
        error->message);
  } else if (watcher != NULL) {
    g_strfreev (watcher->workplaces);
    watcher->workplaces = g_steal_pointer (&people->workplaces);
    watcher->people = people->people;
  }
  if (people != NULL)
    party_people_free (people);
  g_object_unref (read->registry);
  g_free (read->room_id);
  g_free (read->party_id);
  g_free (read);
}

static void
read_party (KkRoomRegistry *registry, const char *room_id,
    const char *party_id)
{
  PartyRead *read = g_new0 (PartyRead, 1);

  read->registry = g_object_ref (registry);
  read->room_id = g_strdup (room_id);
  read->party_id = g_strdup (party_id);
  kk_store_run_async (registry->store, read_party_job, g_strdup (party_id),
      g_free, party_people_free, party_read_cb, read);
}

void
kk_room_registry_viewer_connected (KkRoomRegistry *registry, KkRoom *room,
    const char *party_id)
{
  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));
  g_return_if_fail (KK_IS_ROOM (room));

  if (party_id != NULL && audience_add (room, party_id))
    read_party (registry, kk_room_get_id (room), party_id);
}

void
kk_room_registry_viewer_left (KkRoomRegistry *registry, KkRoom *room,
    const char *party_id)
{
  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));
  g_return_if_fail (KK_IS_ROOM (room));

  if (party_id != NULL)
    audience_remove (room, party_id);
}

void
kk_room_registry_refresh_party (KkRoomRegistry *registry,
    const char *room_id, const char *party_id)
{
  KkRoom *room;

  g_return_if_fail (KK_IS_ROOM_REGISTRY (registry));

  room = kk_room_registry_lookup (registry, room_id);
  if (room != NULL && party_id != NULL
      && g_hash_table_contains (room->audience, party_id))
    read_party (registry, room_id, party_id);
}
