/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-segments: the lectures' HTTPS segments and their viewers; see
 * kk-segments.h.
 */
#include "kk-segments.h"

#include <gst/gst.h>

#include "kk-random.h"

GST_DEBUG_CATEGORY_STATIC (kk_segments_debug);
#define GST_CAT_DEFAULT kk_segments_debug

/* How often idle segmenters and viewers are looked for. */
#define TICK_S 1

/* One party watching one lecture over HTTPS. */
typedef struct {
  char *resource_id;
  char *party_id;
  gint64 last_fetch_us;     /* monotonic: the gap is measured on it */
  gint64 seen_until_wall_us;  /* where the fetched media ends */
  guint generation;         /* of the segmenter whose segments these are */
  guint64 last_seq;         /* the run's newest segment */
} HttpsViewer;

/* One lecture that has (or had) HTTPS segments. */
typedef struct {
  KkSegments *segments;
  KkLecture *lecture;
  KkFeed *feed;
  KkSegmenter *segmenter;   /* NULL when stopped */
  guint tap_id;
  gint64 wanted_us;         /* monotonic: the last request */
  guint generation;         /* counts the segmenters started: seqs of
                             * different ones are not one run */
  GHashTable *viewers;      /* party id -> HttpsViewer */
  /* party id -> (gint64 *) monotonic time its start point was passed on */
  GHashTable *start_points;
} LectureEntry;

struct _KkSegments {
  char *pipelines_dir;
  GHashTable *lectures;     /* KkLecture * -> LectureEntry */
  guint tick;
  guint64 served;           /* media segments fetched */
};

static void
https_viewer_free (HttpsViewer *viewer)
{
  g_free (viewer->resource_id);
  g_free (viewer->party_id);
  g_free (viewer);
}

static void
stop_segmenter (LectureEntry *entry)
{
  if (entry->segmenter == NULL)
    return;
  GST_INFO ("segments %s: stopped",
      kk_room_get_id (kk_lecture_get_room (entry->lecture)));
  /* The tap no longer runs once this returns: then nothing pushes. */
  kk_feed_remove_tap (entry->feed, entry->tap_id);
  entry->tap_id = 0;
  g_clear_pointer (&entry->segmenter, kk_segmenter_free);
}

static void
end_viewer (LectureEntry *entry, HttpsViewer *viewer, const char *reason)
{
  GST_INFO ("segments %s: HTTPS viewer %s (%s) left: %s",
      kk_room_get_id (kk_lecture_get_room (entry->lecture)),
      viewer->resource_id, viewer->party_id, reason);
  kk_lecture_announce_viewer_left (entry->lecture, viewer->resource_id,
      viewer->party_id, reason, viewer->seen_until_wall_us);
}

static void
lecture_entry_free (LectureEntry *entry)
{
  GHashTableIter iter;
  gpointer value;

  stop_segmenter (entry);
  g_hash_table_iter_init (&iter, entry->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    end_viewer (entry, value, "closed");
    g_hash_table_iter_remove (&iter);
  }
  g_hash_table_unref (entry->viewers);
  g_hash_table_unref (entry->start_points);
  g_object_unref (entry->lecture);
  g_free (entry);
}

static gboolean
on_tick (gpointer user_data)
{
  KkSegments *segments = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter, viewers;
  gpointer value;

  g_hash_table_iter_init (&iter, segments->lectures);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    LectureEntry *entry = value;

    /* A party that stopped fetching has left, where its media ended. */
    g_hash_table_iter_init (&viewers, entry->viewers);
    while (g_hash_table_iter_next (&viewers, NULL, &value)) {
      HttpsViewer *viewer = value;

      if (now - viewer->last_fetch_us
          >= KK_SEGMENTS_VIEWER_GAP_S * G_USEC_PER_SEC) {
        end_viewer (entry, viewer, "https-stopped");
        g_hash_table_iter_remove (&viewers);
      }
    }
    /* A party's start point limit that has run out: forgotten, so the
     * table holds only the parties of the last few seconds. */
    g_hash_table_iter_init (&viewers, entry->start_points);
    while (g_hash_table_iter_next (&viewers, NULL, &value))
      if (now - *(gint64 *) value
          >= KK_SEGMENTS_START_INTERVAL_S * G_USEC_PER_SEC)
        g_hash_table_iter_remove (&viewers);
    if (entry->segmenter != NULL
        && now - entry->wanted_us >= KK_SEGMENTS_IDLE_S * G_USEC_PER_SEC)
      stop_segmenter (entry);
    if (entry->segmenter == NULL && g_hash_table_size (entry->viewers) == 0
        && g_hash_table_size (entry->start_points) == 0)
      g_hash_table_iter_remove (&iter);
  }
  return G_SOURCE_CONTINUE;
}

KkSegments *
kk_segments_new (const char *pipelines_dir)
{
  KkSegments *segments = g_new0 (KkSegments, 1);

  if (kk_segments_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_segments_debug, "kk-segments", 0,
        "Kringkast HTTPS segments of the lectures");
  segments->pipelines_dir = g_strdup (pipelines_dir);
  segments->lectures = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) lecture_entry_free);
  segments->tick = g_timeout_add_seconds (TICK_S, on_tick, segments);
  return segments;
}

void
kk_segments_shutdown (KkSegments *segments)
{
  g_hash_table_remove_all (segments->lectures);
}

void
kk_segments_free (KkSegments *segments)
{
  if (segments == NULL)
    return;
  kk_segments_shutdown (segments);
  g_source_remove (segments->tick);
  g_hash_table_unref (segments->lectures);
  g_free (segments->pipelines_dir);
  g_free (segments);
}

/* Any thread: the segmenter wants a keyframe; the feed folds requests
 * and says whether this one reached the publisher. */
static gboolean
on_need_keyframe (KkSegmenter *segmenter, gpointer user_data)
{
  LectureEntry *entry = user_data;

  return kk_feed_request_keyframe (entry->feed);
}

static void
tap (KkPacket *packet, gpointer user_data)
{
  kk_segmenter_push (user_data, packet);
}

static LectureEntry *
get_entry (KkSegments *segments, KkLecture *lecture)
{
  LectureEntry *entry = g_hash_table_lookup (segments->lectures, lecture);

  if (entry != NULL)
    return entry;
  entry = g_new0 (LectureEntry, 1);
  entry->segments = segments;
  entry->lecture = g_object_ref (lecture);
  entry->feed = kk_lecture_get_feed (lecture);
  entry->viewers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) https_viewer_free);
  entry->start_points = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  g_hash_table_insert (segments->lectures, lecture, entry);
  return entry;
}

KkSegmenter *
kk_segments_want (KkSegments *segments, KkLecture *lecture)
{
  static const KkSegmenterCallbacks callbacks = { on_need_keyframe };
  LectureEntry *entry = get_entry (segments, lecture);
  g_autoptr (GError) error = NULL;
  const char *room_id = kk_room_get_id (kk_lecture_get_room (lecture));

  entry->wanted_us = g_get_monotonic_time ();
  if (entry->segmenter != NULL
      && !kk_segmenter_is_healthy (entry->segmenter, &error)) {
    GST_WARNING ("segments %s: replacing a failed segmenter: %s", room_id,
        error != NULL ? error->message : "?");
    stop_segmenter (entry);
  }
  if (entry->segmenter == NULL) {
    GST_INFO ("segments %s: started", room_id);
    entry->segmenter = kk_segmenter_new (segments->pipelines_dir, room_id,
        &callbacks, entry);
    entry->generation++;
    entry->tap_id = kk_feed_add_tap (entry->feed, tap, entry->segmenter);
  }
  return entry->segmenter;
}

KkSegmenter *
kk_segments_peek (KkSegments *segments, KkLecture *lecture)
{
  LectureEntry *entry = g_hash_table_lookup (segments->lectures, lecture);

  return entry != NULL ? entry->segmenter : NULL;
}

void
kk_segments_note_fetch (KkSegments *segments, KkLecture *lecture,
    const char *party_id, const KkSegment *segment)
{
  LectureEntry *entry = get_entry (segments, lecture);
  HttpsViewer *viewer = g_hash_table_lookup (entry->viewers, party_id);
  gint64 start_wall = g_get_real_time ();

  entry->wanted_us = g_get_monotonic_time ();
  segments->served++;
  if (viewer != NULL && (viewer->generation != entry->generation
          || segment->seq > viewer->last_seq + 1)) {
    /* Segments were skipped (or a new segmenter began): the run so far
     * ends where its media ended, and the time between is not counted. */
    start_wall = MAX (start_wall, viewer->seen_until_wall_us);
    end_viewer (entry, viewer, "https-gap");
    g_hash_table_remove (entry->viewers, party_id);
    viewer = NULL;
  }
  if (viewer == NULL) {
    g_autofree char *random = kk_random_hex (8);

    viewer = g_new0 (HttpsViewer, 1);
    viewer->resource_id = g_strconcat (KK_SEGMENTS_RESOURCE_PREFIX, random,
        NULL);
    viewer->party_id = g_strdup (party_id);
    viewer->generation = entry->generation;
    viewer->last_seq = segment->seq;
    viewer->seen_until_wall_us = start_wall + segment->duration_us;
    g_hash_table_insert (entry->viewers, viewer->party_id, viewer);
    GST_INFO ("segments %s: HTTPS viewer %s (%s) connected",
        kk_room_get_id (kk_lecture_get_room (lecture)), viewer->resource_id,
        party_id);
    kk_lecture_announce_viewer_connected (lecture, viewer->resource_id,
        party_id, start_wall);
  } else if (segment->seq == viewer->last_seq + 1) {
    /* The run goes on by exactly this segment's length, however late it
     * was fetched: its time is what the party watched. */
    viewer->last_seq = segment->seq;
    viewer->seen_until_wall_us += segment->duration_us;
  }
  /* A segment of the run fetched again (a retry, a seek back) keeps the
   * party present but adds no time. */
  viewer->last_fetch_us = g_get_monotonic_time ();
}

gboolean
kk_segments_want_start_point (KkSegments *segments, KkLecture *lecture,
    const char *party_id)
{
  LectureEntry *entry = get_entry (segments, lecture);
  gint64 now = g_get_monotonic_time ();
  gint64 *last = g_hash_table_lookup (entry->start_points, party_id);

  if (entry->segmenter == NULL)
    return FALSE;
  if (last != NULL && now - *last
      < KK_SEGMENTS_START_INTERVAL_S * G_USEC_PER_SEC)
    return FALSE;
  if (last == NULL) {
    last = g_new (gint64, 1);
    g_hash_table_insert (entry->start_points, g_strdup (party_id), last);
  }
  *last = now;
  return kk_segmenter_want_start_point (entry->segmenter);
}

guint
kk_segments_count_viewers (KkSegments *segments)
{
  GHashTableIter iter;
  gpointer value;
  guint count = 0;

  g_hash_table_iter_init (&iter, segments->lectures);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    count += g_hash_table_size (((LectureEntry *) value)->viewers);
  return count;
}

void
kk_segments_collect_metrics (KkMetrics *metrics, gpointer user_data)
{
  KkSegments *segments = user_data;
  GHashTableIter iter;
  gpointer value;
  guint running = 0;

  g_hash_table_iter_init (&iter, segments->lectures);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((LectureEntry *) value)->segmenter != NULL)
      running++;
  kk_metrics_sample (metrics, "kringkast_viewers", KK_METRIC_GAUGE,
      "Viewers whose media is flowing", "transport=\"https\"",
      kk_segments_count_viewers (segments));
  kk_metrics_sample (metrics, "kringkast_https_segmenters", KK_METRIC_GAUGE,
      "Rooms whose lecture is being cut into HTTPS segments", NULL, running);
  kk_metrics_sample (metrics, "kringkast_https_segments_served_total",
      KK_METRIC_COUNTER, "Media segments fetched by HTTPS viewers", NULL,
      segments->served);
}
