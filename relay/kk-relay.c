/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-relay: builds the daemon from its parts, in dependency order, and
 * takes it down in reverse: broadcasts end first (so sessions close at the
 * moment of shutdown), then the viewers leave, then the store is flushed.
 */
#include "kk-relay.h"

#include "kk-api.h"
#include "kk-attendance-api.h"
#include "kk-check-segments-api.h"
#include "kk-http.h"
#include "kk-ice-servers.h"
#include "kk-pages.h"
#include "kk-presence-api.h"
#include "kk-questions-api.h"
#include "kk-recordings-api.h"
#include "kk-report-api.h"
#include "kk-roster-api.h"
#include "kk-schedule-api.h"
#include "kk-segments-api.h"
#include "kk-signalling.h"
#include <gst/gst.h>
#include <malloc.h>

GST_DEBUG_CATEGORY_STATIC (kk_relay_debug);
#define GST_CAT_DEFAULT kk_relay_debug

KkLecture *
kk_relay_get_lecture (KkRelay *relay, const char *room_id)
{
  return g_hash_table_lookup (relay->lectures, room_id);
}

/* A KkSignallingLookupFunc: the signalling routes act on our lectures. */
static KkLecture *
lookup_lecture (const char *room_id, gpointer user_data)
{
  return kk_relay_get_lecture (user_data, room_id);
}

/* The questions' share of a person's erasure: their questions and
 * supports go in its transaction, and once committed the pages open on
 * the room are told which are gone. */
static const KkRosterEraser questions_eraser = {
  .erase = kk_questions_erase_person,
  .erased_func = kk_questions_tell_erased,
  .erased_free = kk_questions_erased_free,
};

/* glibc's malloc over all its arenas: what is handed out, and what it
 * keeps free inside them. RSS alone cannot tell a leak (in use keeps
 * growing) from fragmentation (free grows, in use does not). */
static void
collect_heap (KkMetrics *metrics, gpointer user_data)
{
  struct mallinfo2 info = mallinfo2 ();
  const char *help = "Heap memory of the process's malloc, by state";

  kk_metrics_sample (metrics, "kringkast_heap_bytes", KK_METRIC_GAUGE, help,
      "state=\"in-use\"", (double) (info.uordblks + info.hblkhd));
  kk_metrics_sample (metrics, "kringkast_heap_bytes", KK_METRIC_GAUGE, help,
      "state=\"free\"", (double) info.fordblks);
}

/* Rooms and the schedule sit below the lecture, so the lecture's signals
 * are connected to them here. A session that goes live is no room's next
 * planned session any more (the store made it live already). */
static void
on_session_opened (KkLecture *lecture, const char *session_id,
    gint64 started_wall_us, gpointer user_data)
{
  kk_schedule_forget (user_data, session_id);
}

/* The audience of a room follows its lecture's viewers, for as long as
 * the registry lives. */
static void
on_viewer_connected (KkLecture *lecture, const char *resource_id,
    const char *party_id, gint64 wall_us, gpointer user_data)
{
  kk_room_registry_viewer_connected (user_data, kk_lecture_get_room (lecture),
      party_id);
}

static void
on_viewer_left (KkLecture *lecture, const char *resource_id,
    const char *party_id, const char *reason, gint64 last_seen_wall_us,
    gpointer user_data)
{
  kk_room_registry_viewer_left (user_data, kk_lecture_get_room (lecture),
      party_id);
}

static void
add_lecture (KkRelay *relay, KkRoom *room)
{
  KkLecture *lecture;
  g_autoptr (GError) error = NULL;

  if (g_hash_table_contains (relay->lectures, kk_room_get_id (room)))
    return;
  lecture = kk_lecture_new (room, relay->fanout, relay->store, relay->config);
  kk_attendance_log_watch (relay->attendance, lecture);
  kk_presence_watch (relay->presence, lecture);
  kk_recordings_watch (relay->recordings, lecture);
  kk_questions_watch (relay->questions, lecture);
  g_signal_connect_object (lecture, "session-opened",
      G_CALLBACK (on_session_opened), relay->schedule, 0);
  g_signal_connect_object (lecture, "viewer-connected",
      G_CALLBACK (on_viewer_connected), relay->registry, 0);
  g_signal_connect_object (lecture, "viewer-left",
      G_CALLBACK (on_viewer_left), relay->registry, 0);
  g_hash_table_insert (relay->lectures, g_strdup (kk_room_get_id (room)),
      lecture);
  if (g_strcmp0 (kk_room_get_source (room), "whip") != 0
      && !kk_lecture_start_pipeline (lecture, &error))
    g_warning ("room %s: source %s does not start: %s", kk_room_get_id (room),
        kk_room_get_source (room), error->message);
}

/* Publishers: live sources, WHIP hosts apart from pipelines (cameras,
 * the test lecture). */
static void
collect_publishers (KkMetrics *metrics, gpointer user_data)
{
  KkRelay *relay = user_data;
  GHashTableIter iter;
  gpointer value;
  guint whip = 0, pipeline = 0;

  g_hash_table_iter_init (&iter, relay->lectures);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    KkLecture *lecture = value;

    if (!kk_lecture_has_live_source (lecture))
      continue;
    if (g_strcmp0 (kk_room_get_source (kk_lecture_get_room (lecture)),
            "whip") == 0)
      whip++;
    else
      pipeline++;
  }
  kk_metrics_sample (metrics, "kringkast_publishers", KK_METRIC_GAUGE,
      "Sources sending a live lecture", "kind=\"whip\"", whip);
  kk_metrics_sample (metrics, "kringkast_publishers", KK_METRIC_GAUGE,
      "Sources sending a live lecture", "kind=\"pipeline\"", pipeline);
}

static void
on_room_added (KkRoomRegistry *registry, KkRoom *room, gpointer user_data)
{
  add_lecture (user_data, room);
}

KkRelay *
kk_relay_new (const KkConfig *config, GError **error)
{
  KkRelay *relay = g_new0 (KkRelay, 1);
  KkFanoutConfig fanout_config = { 0 };
  g_autoptr (GPtrArray) rooms = NULL;
  g_autoptr (KkIceServers) ice_servers = kk_ice_servers_new (
      (const char *const *) config->turn_urls, config->turn_secret,
      config->turn_credential_lifetime_s);

  if (kk_relay_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_relay_debug, "kk-relay", 0, "Kringkast");

  relay->config = config;
  relay->lectures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_object_unref);
  relay->metrics = kk_metrics_new ();
  kk_metrics_add_collector (relay->metrics, collect_heap, NULL);

  relay->store = kk_store_open (config->data_dir, config->database, error);
  if (relay->store == NULL)
    goto error;
  relay->registry = kk_room_registry_new (relay->store, config, error);
  if (relay->registry == NULL)
    goto error;
  /* Before anything else queues store jobs: its recovery must run first. */
  relay->attendance = kk_attendance_log_new (relay->store);
  relay->roster = kk_roster_new (relay->store, relay->registry,
      relay->attendance, error);
  if (relay->roster == NULL)
    goto error;
  relay->presence = kk_presence_new (relay->attendance);
  relay->recordings = kk_recordings_new (relay->store, relay->metrics,
      config, error);
  if (relay->recordings == NULL)
    goto error;
  relay->schedule = kk_schedule_new (relay->store, error);
  if (relay->schedule == NULL)
    goto error;
  relay->questions = kk_questions_new (relay->store);
  kk_roster_add_eraser (relay->roster, &questions_eraser,
      g_object_ref (relay->questions), g_object_unref);
  kk_attendance_log_add_purger (relay->attendance, kk_questions_purge);
  relay->segments = kk_segments_new (config->pipelines_dir);
  kk_metrics_add_collector (relay->metrics, kk_segments_collect_metrics,
      relay->segments);

  fanout_config.port = config->media_port;
  fanout_config.public_ips = config->public_ips;
  fanout_config.workers = config->workers;
  fanout_config.consent_timeout_s = config->consent_timeout_s;
  fanout_config.connect_timeout_s = config->whep_connect_timeout_s;
  fanout_config.turn_relay_addresses = config->turn_relay_addresses;
  relay->fanout = kk_fanout_new (&fanout_config, error);
  if (relay->fanout == NULL)
    goto error;
  kk_metrics_add_collector (relay->metrics, kk_fanout_collect_metrics,
      relay->fanout);
  kk_metrics_add_collector (relay->metrics, collect_publishers, relay);
  relay->network_check = kk_network_check_new (relay->fanout, config);
  relay->check_segments = kk_check_segments_new (config->pipelines_dir,
      relay->network_check);

  rooms = kk_room_registry_list (relay->registry);
  for (guint i = 0; i < rooms->len; i++)
    add_lecture (relay, rooms->pdata[i]);
  g_signal_connect (relay->registry, "room-added", G_CALLBACK (on_room_added),
      relay);

  relay->server = kk_http_server_new (config, error);
  if (relay->server == NULL)
    goto error;
  kk_metrics_add_collector (relay->metrics, kk_http_collect_metrics,
      relay->server);
  /* Every route module is handed what it uses (kk-http.h). */
  relay->auth = kk_auth_new (relay->registry, relay->roster, error);
  if (relay->auth == NULL
      || !kk_api_register (relay->server, relay->auth, relay->registry,
          relay->store, relay->metrics, relay->presence, relay->roster,
          relay->schedule, relay->recordings, error)
      || !kk_attendance_api_register (relay->server, relay->auth,
          relay->attendance, relay->registry, relay->questions, error)
      || !kk_roster_api_register (relay->server, relay->auth, relay->roster,
          relay->registry, error)
      || !kk_presence_api_register (relay->server, relay->auth,
          relay->registry, relay->presence, error)
      || !kk_recordings_api_register (relay->server, relay->auth,
          relay->registry, relay->recordings, error)
      || !kk_schedule_api_register (relay->server, relay->auth, relay->registry,
          relay->store, relay->schedule, relay->recordings, error)
      || !kk_report_api_register (relay->server, relay->auth,
          relay->attendance, relay->registry, relay->store,
          relay->recordings, relay->questions, error)
      || !kk_questions_api_register (relay->server, relay->auth,
          relay->registry, relay->questions, relay->metrics, error)
      || !kk_signalling_register (relay->server, relay->auth, relay->registry,
          ice_servers, relay->network_check, lookup_lecture, relay, error)
      || !kk_segments_api_register (relay->server, relay->auth,
          relay->segments, lookup_lecture, relay, error)
      || !kk_check_segments_api_register (relay->server,
          relay->check_segments, error)
      || !kk_pages_register (relay->server, error))
    goto error;
  return relay;

error:
  kk_relay_free (relay);
  return NULL;
}

void
kk_relay_free (KkRelay *relay)
{
  GList *lectures;

  if (relay == NULL)
    return;
  /* Polls waiting for a prompt are answered while their clients are
   * still connected. */
  if (relay->presence != NULL)
    kk_presence_shutdown (relay->presence);
  if (relay->server != NULL) {
    kk_metrics_remove_collector (relay->metrics, kk_http_collect_metrics,
        relay->server);
    kk_http_server_disconnect (relay->server);
  }
  /* Stopping a lecture runs handlers that may iterate the main context:
   * stop from a snapshot, not while iterating the table. */
  lectures = g_hash_table_get_values (relay->lectures);
  for (GList *l = lectures; l != NULL; l = l->next)
    kk_lecture_stop (l->data);
  g_list_free (lectures);
  /* The HTTPS checks' tap goes while the check's feed is there. */
  g_clear_pointer (&relay->check_segments, kk_check_segments_free);
  if (relay->network_check != NULL)
    kk_network_check_stop (relay->network_check);
  /* The lectures' sessions closed: their recordings finish now. */
  if (relay->recordings != NULL)
    kk_recordings_shutdown (relay->recordings);
  /* HTTPS viewers leave, and the segmenters' taps go, while the lectures
   * and their feeds are still there. */
  if (relay->segments != NULL)
    kk_metrics_remove_collector (relay->metrics, kk_segments_collect_metrics,
        relay->segments);
  g_clear_pointer (&relay->segments, kk_segments_free);
  /* Delivers every viewer's leave before the lectures go. */
  if (relay->fanout != NULL) {
    kk_metrics_remove_collector (relay->metrics, collect_publishers, relay);
    kk_metrics_remove_collector (relay->metrics, kk_fanout_collect_metrics,
        relay->fanout);
    kk_fanout_free (relay->fanout);
  }
  g_hash_table_unref (relay->lectures);
  g_clear_object (&relay->network_check);
  if (relay->registry != NULL)
    g_signal_handlers_disconnect_by_data (relay->registry, relay);
  g_clear_object (&relay->server);
  g_clear_object (&relay->auth);
  g_clear_object (&relay->presence);
  g_clear_object (&relay->roster);
  g_clear_object (&relay->recordings);
  g_clear_object (&relay->schedule);
  g_clear_object (&relay->questions);
  g_clear_object (&relay->registry);
  /* After the viewers' last leaves, before the store's last jobs. */
  if (relay->attendance != NULL)
    kk_attendance_log_shutdown (relay->attendance);
  g_clear_object (&relay->attendance);
  if (relay->store != NULL)
    kk_store_close (relay->store);
  g_clear_object (&relay->store);
  kk_metrics_free (relay->metrics);
  g_free (relay);
}
