/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-check-segments: the network check's HTTPS segments; see
 * kk-check-segments.h. A checker's time is kept as a monotonic deadline;
 * a one-second tick forgets the checkers whose time is up and stops the
 * segmenter after the last one. Each checker holds the test pattern
 * running (kk_network_check_hold_source ()), so that a pattern that
 * failed is started again by the next checker, as by a WebRTC one.
 */
#include "kk-check-segments.h"

#include <gst/gst.h>

#include "kk-random.h"

GST_DEBUG_CATEGORY_STATIC (kk_check_segments_debug);
#define GST_CAT_DEFAULT kk_check_segments_debug

struct _KkCheckSegments {
  char *pipelines_dir;
  KkNetworkCheck *check;
  KkSegmenter *segmenter;       /* NULL while nobody checks */
  guint tap_id;
  GHashTable *checkers;         /* id -> gint64 * deadline (monotonic) */
  guint tick;                   /* 0 while nobody checks */
};

/* The segmenter and its tap go. */
static void
stop_segmenter (KkCheckSegments *segments)
{
  if (segments->segmenter == NULL)
    return;
  GST_INFO ("network check: HTTPS segments stopped");
  /* The tap no longer runs once this returns: then nothing pushes. */
  kk_feed_remove_tap (kk_network_check_get_feed (segments->check),
      segments->tap_id);
  segments->tap_id = 0;
  g_clear_pointer (&segments->segmenter, kk_segmenter_free);
}

/* Forgets the checkers whose time is up; after the last, stops. */
static void
prune (KkCheckSegments *segments)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, segments->checkers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (*(gint64 *) value <= now) {
      g_hash_table_iter_remove (&iter);
      kk_network_check_release_source (segments->check);
    }
  if (g_hash_table_size (segments->checkers) == 0)
    stop_segmenter (segments);
}

static gboolean
on_tick (gpointer user_data)
{
  KkCheckSegments *segments = user_data;

  prune (segments);
  if (segments->segmenter != NULL)
    return G_SOURCE_CONTINUE;
  segments->tick = 0;
  return G_SOURCE_REMOVE;
}

/* Any thread: the segmenter wants a keyframe; the feed folds requests
 * and asks the pattern's encoder on the main context. */
static gboolean
on_need_keyframe (KkSegmenter *segmenter, gpointer user_data)
{
  KkCheckSegments *segments = user_data;

  return kk_feed_request_keyframe (kk_network_check_get_feed (
          segments->check));
}

static void
tap (KkPacket *packet, gpointer user_data)
{
  kk_segmenter_push (user_data, packet);
}

static void
start_segmenter (KkCheckSegments *segments)
{
  static const KkSegmenterCallbacks callbacks = { on_need_keyframe };
  g_autoptr (GError) health = NULL;

  if (segments->segmenter != NULL
      && !kk_segmenter_is_healthy (segments->segmenter, &health)) {
    GST_WARNING ("network check: replacing a failed segmenter: %s",
        health != NULL ? health->message : "?");
    stop_segmenter (segments);
  }
  if (segments->segmenter != NULL)
    return;
  GST_INFO ("network check: HTTPS segments started");
  segments->segmenter = kk_segmenter_new (segments->pipelines_dir,
      "network-check", &callbacks, segments);
  segments->tap_id = kk_feed_add_tap (kk_network_check_get_feed
      (segments->check), tap, segments->segmenter);
  if (segments->tick == 0)
    segments->tick = g_timeout_add_seconds (1, on_tick, segments);
}

char *
kk_check_segments_start (KkCheckSegments *segments, GError **error)
{
  char *id;
  gint64 *deadline;

  prune (segments);
  if (g_hash_table_size (segments->checkers) >= KK_NETWORK_CHECK_MAX_VIEWERS) {
    g_set_error (error, KK_NETWORK_CHECK_ERROR, KK_NETWORK_CHECK_ERROR_BUSY,
        "%d network checks are running; try again in a minute",
        KK_NETWORK_CHECK_MAX_VIEWERS);
    return NULL;
  }
  if (!kk_network_check_hold_source (segments->check, error))
    return NULL;
  start_segmenter (segments);
  /* The id is the checker's only key: unguessable. */
  id = kk_random_hex (16);
  deadline = g_new (gint64, 1);
  *deadline = g_get_monotonic_time ()
      + (gint64) KK_NETWORK_CHECK_SECONDS * G_USEC_PER_SEC;
  g_hash_table_insert (segments->checkers, g_strdup (id), deadline);
  return id;
}

KkSegmenter *
kk_check_segments_lookup (KkCheckSegments *segments, const char *id)
{
  gint64 *deadline = g_hash_table_lookup (segments->checkers, id);

  if (deadline == NULL || *deadline <= g_get_monotonic_time ())
    return NULL;
  return segments->segmenter;
}

guint
kk_check_segments_count (KkCheckSegments *segments)
{
  prune (segments);
  return g_hash_table_size (segments->checkers);
}

KkCheckSegments *
kk_check_segments_new (const char *pipelines_dir, KkNetworkCheck *check)
{
  KkCheckSegments *segments = g_new0 (KkCheckSegments, 1);

  if (kk_check_segments_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_check_segments_debug, "kk-check-segments",
        0, "Kringkast network check over HTTPS segments");
  segments->pipelines_dir = g_strdup (pipelines_dir);
  segments->check = check;
  segments->checkers = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  return segments;
}

void
kk_check_segments_stop (KkCheckSegments *segments)
{
  for (guint i = g_hash_table_size (segments->checkers); i > 0; i--)
    kk_network_check_release_source (segments->check);
  g_hash_table_remove_all (segments->checkers);
  stop_segmenter (segments);
  if (segments->tick != 0) {
    g_source_remove (segments->tick);
    segments->tick = 0;
  }
}

void
kk_check_segments_free (KkCheckSegments *segments)
{
  if (segments == NULL)
    return;
  kk_check_segments_stop (segments);
  g_hash_table_unref (segments->checkers);
  g_free (segments->pipelines_dir);
  g_free (segments);
}
