/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-segmenter, kk-webm-split and kk-mp4-split: real encoded
 * media (VP8 or H.264, and Opus, made here by GStreamer's encoders and
 * payloaders) goes through a segmenter exactly as the feed's tap delivers
 * it, and what comes out is checked as a player would take it: an
 * initialization segment, then media segments that each start on a
 * keyframe where the publisher sent one, and about every second between
 * keyframes too, and are complete (WebM Clusters with their sizes known,
 * MP4 fragments from a video moof), so that the init segment followed by
 * any later run of segments from a keyframe segment on decodes from its
 * first frame. With a long GOP the segmenter asks for no keyframe to cut
 * segments, only for a player's start point when the newest keyframe is
 * old. The window stays within its bounds, and the splitters give the
 * same pieces however the bytes arrive, and refuse what is not theirs.
 */
#include "kk-mp4-split.h"
#include "kk-segmenter.h"
#include "kk-webm-split.h"
#include "test-media.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <kringkast/kk-rtp.h>
#include <string.h>

#define FPS 15

typedef struct {
  KkSegmenter *segmenter;
  guint keyframe_requests;
  /* need_keyframe says it folded the request (a feed's answer when it
   * asked the publisher less than its interval ago). */
  gboolean folding;
} Fixture;

/* ---- making media ---- */

/* @seconds of VP8 or H.264 and Opus with a keyframe every @gop frames
 * (test-media.h), each packet stamped with the capture time a live
 * ingest would give it, from @start_wall_us. */
static GPtrArray *
make_media (KkCodec codec, guint seconds, guint gop, gint64 start_wall_us)
{
  GPtrArray *packets = kk_test_media_make (codec, seconds, FPS, gop);
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };

  for (guint i = 0; i < packets->len; i++) {
    KkPacket *packet = packets->pdata[i];

    if (!seen[packet->kind]) {
      seen[packet->kind] = TRUE;
      first[packet->kind] = packet->timestamp;
    }
    packet->capture_wall_us = start_wall_us + (gint64) (kk_test_media_seconds (
            packet, first[packet->kind]) * G_USEC_PER_SEC);
  }
  return packets;
}

/* ---- the segmenter ---- */

static gboolean
on_need_keyframe (KkSegmenter *segmenter, gpointer user_data)
{
  Fixture *f = user_data;

  g_atomic_int_inc (&f->keyframe_requests);
  return !g_atomic_int_get (&f->folding);
}

static const KkSegmenterCallbacks callbacks = { on_need_keyframe };

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->segmenter = kk_segmenter_new (g_test_get_filename (G_TEST_DIST, "..",
          "pipelines", NULL), "test", &callbacks, f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  kk_segmenter_free (f->segmenter);
}

/* Pushes the packets as the tap would, letting the main context build the
 * pipeline meanwhile, except for the first @held packets, which come
 * before it runs (a main context busy elsewhere, or a slow machine: the
 * segmenter holds them while the pipeline is built); then waits until the
 * muxer has cut every segment it can (the last one ends only with the
 * next). */
static void
push_held (Fixture *f, GPtrArray *packets, guint held)
{
  gint64 deadline;
  guint last = G_MAXUINT, stable = 0;

  for (guint i = 0; i < packets->len; i++) {
    kk_segmenter_push (f->segmenter, packets->pdata[i]);
    while (i + 1 >= held && g_main_context_iteration (NULL, FALSE))
      ;
  }
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (stable < 20 && g_get_monotonic_time () < deadline) {
    g_autoptr (GPtrArray) list = kk_segmenter_list (f->segmenter);
    guint64 newest = list->len > 0
        ? ((KkSegment *) list->pdata[list->len - 1])->seq : G_MAXUINT;

    stable = newest == last ? stable + 1 : 0;
    last = newest;
    g_main_context_iteration (NULL, FALSE);
    g_usleep (20 * 1000);
  }
}

static void
push_all (Fixture *f, GPtrArray *packets)
{
  push_held (f, packets, 0);
}

static guint64
read_be (const guint8 *data, guint len)
{
  guint64 v = 0;

  for (guint i = 0; i < len; i++)
    v = (v << 8) | data[i];
  return v;
}

/* Decodes @bytes (a WebM or MP4 stream) in full (test-media.h). */
static void
decode (GBytes *bytes, KkTestDecoded *decoded)
{
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  int fd = g_file_open_tmp ("kk-segments-XXXXXX", &path, &error);

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL));
  close (fd);
  kk_test_media_decode (path, decoded);
  g_unlink (path);
}

/* What a player that starts at @list's segment @from gets: the init
 * segment, then every segment from there, decoded in full. */
static void
decode_from (Fixture *f, GPtrArray *list, guint from, KkTestDecoded *decoded)
{
  g_autoptr (GBytes) init = kk_segmenter_get_init (f->segmenter);
  g_autoptr (GByteArray) run = g_byte_array_new ();
  g_autoptr (GBytes) stream = NULL;

  g_byte_array_append (run, g_bytes_get_data (init, NULL),
      g_bytes_get_size (init));
  for (guint i = from; i < list->len; i++) {
    KkSegment *segment = list->pdata[i];

    g_byte_array_append (run, g_bytes_get_data (segment->bytes, NULL),
        g_bytes_get_size (segment->bytes));
  }
  stream = g_byte_array_free_to_bytes (g_steal_pointer (&run));
  decode (stream, decoded);
}

static void
test_segments (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  g_autoptr (GPtrArray) packets = make_media (codec, 6, FPS,
      g_get_real_time ());
  g_autofree char *mime_type = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GBytes) init = NULL;
  const guint8 *bytes;
  KkTestDecoded decoded;
  g_autoptr (KkSegment) found = NULL;
  KkSegment *last;
  guint from;

  g_assert_null (kk_segmenter_get_init (f->segmenter));
  push_all (f, packets);
  g_assert_true (kk_segmenter_is_healthy (f->segmenter, NULL));
  mime_type = kk_segmenter_get_mime_type (f->segmenter);
  if (codec == KK_CODEC_VP8)
    g_assert_cmpstr (mime_type, ==, "video/webm; codecs=\"vp8,opus\"");
  else
    /* Constrained baseline (42, constraints e0 or c0), its level. */
    g_assert_true (g_str_has_prefix (mime_type,
            "video/mp4; codecs=\"avc1.42")
        && g_str_has_suffix (mime_type, ",opus\""));
  g_assert_cmpint (kk_segmenter_get_zero_wall_us (f->segmenter), >, 0);

  /* The initialization segment: the EBML header, then the Segment; or
   * ftyp, then moov. */
  init = kk_segmenter_get_init (f->segmenter);
  g_assert_nonnull (init);
  bytes = g_bytes_get_data (init, NULL);
  if (codec == KK_CODEC_VP8)
    g_assert_cmphex (read_be (bytes, 4), ==, 0x1A45DFA3);
  else
    g_assert_cmphex (read_be (bytes + 4, 4), ==, 0x66747970);   /* ftyp */

  /* A segment a second (one GOP each); the last is still open. */
  list = kk_segmenter_list (f->segmenter);
  g_assert_cmpuint (list->len, >=, 4);
  g_assert_cmpuint (list->len, <=, 6);
  for (guint i = 0; i < list->len; i++) {
    KkSegment *segment = list->pdata[i];
    gsize size;
    const guint8 *c = g_bytes_get_data (segment->bytes, &size);

    g_assert_cmpuint (segment->seq, ==, i);
    g_assert_true (segment->keyframe);
    if (codec == KK_CODEC_VP8) {
      /* A Cluster whose 8-byte size is now known and right. */
      g_assert_cmphex (read_be (c, 4), ==, 0x1F43B675);
      g_assert_cmphex (c[4], ==, 0x01);
      g_assert_cmpuint (read_be (c + 5, 7), ==, size - 12);
    } else {
      /* Fragments, from a keyframe's moof. */
      g_assert_cmphex (read_be (c + 4, 4), ==, 0x6D6F6F66);     /* moof */
    }
    g_assert_cmpint (ABS (segment->start_us - (gint64) i * G_USEC_PER_SEC),
        <, 100 * 1000);
    /* A GOP of 15 frames at 15 fps. */
    g_assert_cmpint (ABS (segment->duration_us - G_USEC_PER_SEC), <=, 1000);
  }

  /* A viewer that comes in late: the init, then segments from the
   * second: it decodes from that segment's first frame on, both tracks. */
  from = 2;
  decode_from (f, list, from, &decoded);
  last = list->pdata[list->len - 1];
  /* Every frame of the run: one that did not start on a keyframe would
   * lose the frames up to the next; and audio to its end. */
  g_assert_cmpuint (decoded.video_frames, ==, (list->len - from) * FPS);
  g_assert_cmpfloat (decoded.audio_end / 1e9, >,
      (last->start_us + last->duration_us) / 1e6 - 0.1);
  g_free (decoded.video_caps);

  /* Each segment by its number; none after the window. */
  found = kk_segmenter_lookup (f->segmenter, 1);
  g_assert_nonnull (found);
  g_assert_cmpuint (found->seq, ==, 1);
  g_assert_null (kk_segmenter_lookup (f->segmenter, 999));
}

/* A GOP of 4 s (a publisher that sends keyframes only now and then):
 * segments still end about every second, between keyframes too; only
 * those at a keyframe say so; the segmenter asks for no keyframe beyond
 * the one to start; and a player that starts at a keyframe segment and
 * appends every later one decodes every frame from there. */
static void
test_long_gop (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  g_autoptr (GPtrArray) packets = make_media (codec, 9, 4 * FPS,
      g_get_real_time ());
  g_autoptr (GPtrArray) list = NULL;
  KkTestDecoded decoded;
  KkSegment *from = NULL, *last;
  guint keyframes = 0;

  /* One at once, to start soon. */
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 1);
  push_all (f, packets);
  g_assert_true (kk_segmenter_is_healthy (f->segmenter, NULL));
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 1);

  list = kk_segmenter_list (f->segmenter);
  /* About a second each (the last, still open, is not listed). */
  g_assert_cmpuint (list->len, >=, 7);
  g_assert_cmpuint (list->len, <=, 9);
  for (guint i = 0; i < list->len; i++) {
    KkSegment *segment = list->pdata[i];
    gint64 in_gop = segment->start_us % (4 * G_USEC_PER_SEC);

    g_assert_cmpint (segment->duration_us, <=, 1300 * 1000);
    g_assert_cmpint (segment->duration_us, >=, 200 * 1000);
    /* Keyframes at 0, 4 and 8 s: those segments, and only those, start
     * on one. */
    g_assert_cmpint (segment->keyframe, ==, in_gop < 30 * 1000);
    if (segment->keyframe) {
      keyframes++;
      if (segment->start_us > 0 && from == NULL)
        from = segment;
    }
  }
  g_assert_cmpuint (keyframes, >=, 2);
  g_assert_nonnull (from);
  g_assert_cmpint (ABS (from->start_us - 4 * G_USEC_PER_SEC), <, 30 * 1000);

  /* A player that starts at 4 s: every frame from there decodes. */
  decode_from (f, list, from->seq - ((KkSegment *) list->pdata[0])->seq,
      &decoded);
  last = list->pdata[list->len - 1];
  /* Within a frame (durations are whole milliseconds): a segment that
   * could not continue the one before would lose the frames up to the
   * next keyframe, seconds of them. */
  g_assert_cmpint (ABS ((gint64) decoded.video_frames - (last->start_us
              + last->duration_us - from->start_us) * FPS
          / G_USEC_PER_SEC), <=, 1);
  g_free (decoded.video_caps);

  /* The newest keyframe (8 s) is fresh: a new player needs none. */
  g_assert_false (kk_segmenter_want_start_point (f->segmenter));
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 1);
}

/* A new player before the first keyframe (the request to start may have
 * been lost), and one when the newest keyframe is 3 s old (a GOP of 4 s):
 * the segmenter asks for a start point, once for each time it is told,
 * and says it did only when the request was not folded into an earlier
 * one (the playlist's start_requested). */
static void
test_start_point (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) packets = make_media (KK_CODEC_VP8, 7, 4 * FPS,
      g_get_real_time ());

  g_assert_true (kk_segmenter_want_start_point (f->segmenter));
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 2);
  push_all (f, packets);
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 2);
  g_assert_true (kk_segmenter_want_start_point (f->segmenter));
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 3);
  g_atomic_int_set (&f->folding, TRUE);
  g_assert_false (kk_segmenter_want_start_point (f->segmenter));
  g_assert_cmpuint (g_atomic_int_get (&f->keyframe_requests), ==, 4);
}

/* The publisher paused for 20 s: the feed's RTP timestamps run on
 * without the pause, the capture times do not. Live, in media time, is
 * where the newest packets are, not 20 s ahead. */
static void
test_live_after_pause (Fixture *f, gconstpointer data)
{
  gint64 start = g_get_real_time () - 30 * G_USEC_PER_SEC;
  g_autoptr (GPtrArray) packets = make_media (KK_CODEC_VP8, 6, FPS, start);
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };

  for (guint i = 0; i < packets->len; i++) {
    KkPacket *packet = packets->pdata[i];

    if (!seen[packet->kind]) {
      seen[packet->kind] = TRUE;
      first[packet->kind] = packet->timestamp;
    }
    if (kk_test_media_seconds (packet, first[packet->kind]) >= 3)
      packet->capture_wall_us += 20 * G_USEC_PER_SEC;
  }
  push_all (f, packets);
  g_assert_cmpint (ABS (kk_segmenter_get_zero_wall_us (f->segmenter)
          - (start + 20 * G_USEC_PER_SEC)), <, 100 * 1000);
}

/* The pipeline is built on the main context while packets keep coming
 * (under a sanitizer, tens of milliseconds: frames and audio arrive
 * meanwhile). What was held then is pushed as it came, each packet at its
 * own time: the first segment starts on the keyframe, at 0, and from it
 * every frame decodes, as when nothing was held. */
static void
test_held (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  g_autoptr (GPtrArray) packets = make_media (codec, 5, FPS,
      g_get_real_time ());
  g_autoptr (GPtrArray) list = NULL;
  KkTestDecoded decoded;
  KkSegment *first, *last;
  guint32 first_ts = 0;
  guint held = 0;

  /* The packets of the first 0.3 s of media come before the main
   * context runs. */
  for (held = 0; held < packets->len; held++) {
    KkPacket *packet = packets->pdata[held];

    if (packet->kind != KK_TRACK_VIDEO)
      continue;
    if (first_ts == 0)
      first_ts = packet->timestamp;
    if (kk_test_media_seconds (packet, first_ts) >= 0.3)
      break;
  }
  push_held (f, packets, held);
  g_assert_true (kk_segmenter_is_healthy (f->segmenter, NULL));
  list = kk_segmenter_list (f->segmenter);
  g_assert_cmpuint (list->len, >=, 3);
  first = list->pdata[0];
  g_assert_true (first->keyframe);
  g_assert_cmpint (first->start_us, <, 30 * 1000);
  for (guint i = 0; i < list->len; i++) {
    KkSegment *segment = list->pdata[i];

    g_assert_cmpint (ABS (segment->start_us - (gint64) i * G_USEC_PER_SEC),
        <, 100 * 1000);
    g_assert_cmpint (ABS (segment->duration_us - G_USEC_PER_SEC), <=, 1000);
  }

  /* Every frame from the first, and audio to the end. */
  decode_from (f, list, 0, &decoded);
  last = list->pdata[list->len - 1];
  g_assert_cmpuint (decoded.video_frames, ==, list->len * FPS);
  g_assert_cmpfloat (decoded.audio_end / 1e9, >,
      (last->start_us + last->duration_us) / 1e6 - 0.1);
  g_free (decoded.video_caps);
}

/* An hour would not fit: the window keeps its bounds. */
static void
test_window (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) packets = make_media (KK_CODEC_VP8, 30, FPS / 3,
      g_get_real_time ());
  g_autoptr (GPtrArray) list = NULL;
  KkSegment *oldest, *newest;

  push_all (f, packets);
  list = kk_segmenter_list (f->segmenter);
  g_assert_cmpuint (list->len, <=, KK_SEGMENTER_MAX_SEGMENTS);
  oldest = list->pdata[0];
  newest = list->pdata[list->len - 1];
  g_assert_cmpint (newest->start_us - oldest->start_us, <=,
      KK_SEGMENTER_WINDOW_US);
  /* 90 segments were made; the first ones are gone. */
  g_assert_cmpuint (newest->seq, >=, 80);
  g_assert_cmpuint (oldest->seq, >, 0);
  g_assert_null (kk_segmenter_lookup (f->segmenter, 0));
}

/* ---- the splitter alone ---- */

/* What a cutter handed out: the init segment, the segments, and (MP4)
 * what it said of each. */
typedef struct {
  GBytes *init;
  GPtrArray *segments;        /* GBytes */
  GArray *infos;              /* KkMp4SegmentInfo */
  GArray *clusters;           /* KkWebmClusterInfo */
} Pieces;

static void
on_split_init (GBytes *bytes, gpointer user_data)
{
  Pieces *pieces = user_data;

  g_assert_null (pieces->init);
  pieces->init = g_bytes_ref (bytes);
}

static void
on_split_cluster (GBytes *bytes, const KkWebmClusterInfo *info,
    gpointer user_data)
{
  Pieces *pieces = user_data;

  g_ptr_array_add (pieces->segments, g_bytes_ref (bytes));
  g_array_append_val (pieces->clusters, *info);
}

static void
on_split_segment (GBytes *bytes, const KkMp4SegmentInfo *info,
    gpointer user_data)
{
  Pieces *pieces = user_data;

  g_ptr_array_add (pieces->segments, g_bytes_ref (bytes));
  g_array_append_val (pieces->infos, *info);
}

static const KkWebmSplitCallbacks webm_callbacks = {
  on_split_init, on_split_cluster
};
static const KkMp4SplitCallbacks mp4_callbacks = {
  on_split_init, on_split_segment
};

/* What a muxer writes live: the appsink "s" of @description's pipeline,
 * all of it. */
static GBytes *
live_stream (const char *description)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, &error);
  g_autoptr (GstElement) sink = NULL;
  GByteArray *out = g_byte_array_new ();
  GstSample *sample;

  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "s");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstMapInfo map;

    gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ);
    g_byte_array_append (out, map.data, map.size);
    gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return g_byte_array_free_to_bytes (out);
}

/* Live WebM (unknown sizes) of three seconds, a keyframe every @gop
 * frames at 15 fps, muxed as segments-vp8.pipeline does (a Cluster at
 * every keyframe, and after a second). */
static GBytes *
live_webm (guint gop)
{
  g_autofree char *description = g_strdup_printf ("videotestsrc "
      "num-buffers=45 ! video/x-raw,width=64,height=48,framerate=15/1 "
      "! vp8enc deadline=1 keyframe-max-dist=%u ! m. audiotestsrc "
      "num-buffers=150 samplesperbuffer=960 ! opusenc ! m. webmmux name=m "
      "streamable=true min-cluster-duration=0 "
      "max-cluster-duration=1050000000 ! appsink name=s sync=false", gop);

  return live_stream (description);
}

/* Cuts @stream (fragmented MP4 if @mp4, else WebM), fed in pieces of
 * @piece bytes, with elements bounded by @max. */
static void
split (gboolean mp4, GBytes *stream, gsize piece, gsize max, Pieces *pieces,
    GError **error)
{
  g_autoptr (KkWebmSplit) webm = mp4 ? NULL
      : kk_webm_split_new (max, &webm_callbacks, pieces);
  g_autoptr (KkMp4Split) fmp4 = mp4 ? kk_mp4_split_new (max,
      G_USEC_PER_SEC, &mp4_callbacks, pieces) : NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (stream, &size);

  pieces->init = NULL;
  pieces->segments = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_bytes_unref);
  pieces->infos = g_array_new (FALSE, FALSE, sizeof (KkMp4SegmentInfo));
  pieces->clusters = g_array_new (FALSE, FALSE, sizeof (KkWebmClusterInfo));
  for (gsize at = 0; at < size; at += piece)
    if (!(mp4 ? kk_mp4_split_push (fmp4, data + at, MIN (piece, size - at),
                error) : kk_webm_split_push (webm, data + at,
                MIN (piece, size - at), error)))
      return;
  if (mp4)
    kk_mp4_split_finish (fmp4, error);
  else
    kk_webm_split_finish (webm, error);
}

static void
pieces_clear (Pieces *pieces)
{
  g_clear_pointer (&pieces->init, g_bytes_unref);
  g_clear_pointer (&pieces->segments, g_ptr_array_unref);
  g_clear_pointer (&pieces->infos, g_array_unref);
  g_clear_pointer (&pieces->clusters, g_array_unref);
}

/* @stream cut one byte at a time gives the same pieces as @whole. */
static void
assert_bytewise_same (gboolean mp4, GBytes *stream, Pieces *whole)
{
  g_autoptr (GError) error = NULL;
  Pieces bytewise;

  split (mp4, stream, 1, 1 << 20, &bytewise, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (whole->init, bytewise.init));
  g_assert_cmpuint (bytewise.segments->len, ==, whole->segments->len);
  for (guint i = 0; i < whole->segments->len; i++)
    g_assert_true (g_bytes_equal (whole->segments->pdata[i],
            bytewise.segments->pdata[i]));
  pieces_clear (&bytewise);
}

static void
test_split (void)
{
  g_autoptr (GBytes) stream = live_webm (15);
  g_autoptr (GError) error = NULL;
  Pieces whole, bounded;
  gsize total = 0;

  split (FALSE, stream, G_MAXSIZE, 1 << 20, &whole, &error);
  g_assert_no_error (error);
  g_assert_nonnull (whole.init);
  g_assert_cmpuint (whole.segments->len, ==, 3);
  /* Only the sizes changed: every byte is in a piece, in order. */
  total = g_bytes_get_size (whole.init);
  for (guint i = 0; i < whole.segments->len; i++)
    total += g_bytes_get_size (whole.segments->pdata[i]);
  g_assert_cmpuint (total, ==, g_bytes_get_size (stream));
  assert_bytewise_same (FALSE, stream, &whole);

  /* A Cluster over the bound is refused, not buffered. */
  split (FALSE, stream, 4096, 1000, &bounded, &error);
  g_assert_error (error, KK_WEBM_SPLIT_ERROR, KK_WEBM_SPLIT_ERROR_TOO_BIG);
  pieces_clear (&bounded);
  pieces_clear (&whole);
}

static void
test_split_invalid (void)
{
  static const guint8 not_webm[] = "GET / HTTP/1.1\r\n\r\n";
  g_autoptr (KkWebmSplit) split = kk_webm_split_new (1 << 20,
      &webm_callbacks, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (kk_webm_split_push (split, not_webm, sizeof not_webm,
          &error));
  g_assert_error (error, KK_WEBM_SPLIT_ERROR, KK_WEBM_SPLIT_ERROR_INVALID);
  g_clear_error (&error);
  /* And nothing more after that. */
  g_assert_false (kk_webm_split_push (split, not_webm, 1, &error));
  g_assert_error (error, KK_WEBM_SPLIT_ERROR, KK_WEBM_SPLIT_ERROR_INVALID);
}

/* Live fragmented MP4 of three seconds, a keyframe every @gop frames at
 * 15 fps. */
static GBytes *
live_mp4 (guint gop)
{
  g_autofree char *description = g_strdup_printf ("videotestsrc "
      "num-buffers=45 ! video/x-raw,width=64,height=48,framerate=15/1 "
      "! x264enc key-int-max=%u speed-preset=ultrafast tune=zerolatency "
      "! h264parse ! m. audiotestsrc num-buffers=150 samplesperbuffer=960 "
      "! opusenc ! m. mp4mux name=m fragment-duration=200 streamable=true "
      "! appsink name=s sync=false", gop);

  return live_stream (description);
}

static void
test_mp4_split (void)
{
  g_autoptr (GBytes) stream = live_mp4 (15);
  g_autoptr (GError) error = NULL;
  Pieces whole, bounded;
  const guint8 *init, *dops;
  gsize size;

  split (TRUE, stream, G_MAXSIZE, 1 << 20, &whole, &error);
  g_assert_no_error (error);
  g_assert_nonnull (whole.init);
  /* A keyframe a second for three seconds: three segments, each a
   * second from its keyframe. */
  g_assert_cmpuint (whole.segments->len, ==, 3);
  for (guint i = 0; i < whole.infos->len; i++) {
    KkMp4SegmentInfo *info = &g_array_index (whole.infos, KkMp4SegmentInfo,
        i);

    g_assert_true (info->keyframe);
    g_assert_cmpint (info->start_us, ==, i * G_USEC_PER_SEC);
    g_assert_cmpint (info->duration_us, ==, G_USEC_PER_SEC);
  }
  /* The Opus header as ISOBMFF has it (big-endian InputSampleRate),
   * whatever byte order the muxer wrote it in. */
  init = g_bytes_get_data (whole.init, &size);
  dops = memmem (init, size, "dOps", 4);
  g_assert_nonnull (dops);
  g_assert_cmpuint (read_be (dops + 4 + 4, 4), ==, 48000);
  assert_bytewise_same (TRUE, stream, &whole);

  /* A segment over the bound is refused, not buffered. */
  split (TRUE, stream, 4096, 8000, &bounded, &error);
  g_assert_error (error, KK_MP4_SPLIT_ERROR, KK_MP4_SPLIT_ERROR_TOO_BIG);
  pieces_clear (&bounded);
  pieces_clear (&whole);
}

/* Three seconds with a single keyframe, at the start: three segments of
 * about a second all the same, the first on the keyframe, the others
 * continuing it; every byte after the init is in one, in order. */
static void
test_split_long_gop (gconstpointer data)
{
  gboolean mp4 = GPOINTER_TO_INT (data);
  g_autoptr (GBytes) stream = mp4 ? live_mp4 (1000) : live_webm (1000);
  g_autoptr (GError) error = NULL;
  Pieces whole;
  gsize total;

  split (mp4, stream, G_MAXSIZE, 1 << 20, &whole, &error);
  g_assert_no_error (error);
  g_assert_nonnull (whole.init);
  g_assert_cmpuint (whole.segments->len, ==, 3);
  total = g_bytes_get_size (whole.init);
  for (guint i = 0; i < whole.segments->len; i++) {
    gsize size;
    const guint8 *c = g_bytes_get_data (whole.segments->pdata[i], &size);

    total += size;
    if (mp4) {
      KkMp4SegmentInfo *info = &g_array_index (whole.infos,
          KkMp4SegmentInfo, i);

      g_assert_cmpint (info->keyframe, ==, i == 0);
      g_assert_cmpint (info->start_us, ==, i * G_USEC_PER_SEC);
      g_assert_cmpint (info->duration_us, ==, G_USEC_PER_SEC);
      g_assert_cmphex (read_be (c + 4, 4), ==, 0x6D6F6F66);   /* moof */
    } else {
      KkWebmClusterInfo *info = &g_array_index (whole.clusters,
          KkWebmClusterInfo, i);

      g_assert_cmpint (info->keyframe, ==, i == 0);
      /* Each cut at the first frame after 1.05 s (15 fps: 67 ms). */
      g_assert_cmpint (info->timecode, >=, i * 1050);
      g_assert_cmpint (info->timecode, <=, i * (1050 + 67));
      /* A Cluster whose 8-byte size is now known and right. */
      g_assert_cmphex (read_be (c, 4), ==, 0x1F43B675);
      g_assert_cmpuint (read_be (c + 5, 7), ==, size - 12);
    }
  }
  if (!mp4)
    g_assert_cmpuint (total, ==, g_bytes_get_size (stream));
  assert_bytewise_same (mp4, stream, &whole);
  pieces_clear (&whole);
}

static void
test_mp4_split_invalid (void)
{
  /* A box claiming to be smaller than its own header. */
  static const guint8 not_mp4[] = { 0, 0, 0, 4, 'f', 't', 'y', 'p' };
  /* A moof before any moov: no track to read it with. */
  static const guint8 early_moof[] = { 0, 0, 0, 8, 'm', 'o', 'o', 'f' };
  g_autoptr (KkMp4Split) split = kk_mp4_split_new (1 << 20,
      G_USEC_PER_SEC, &mp4_callbacks, NULL);
  g_autoptr (KkMp4Split) early = kk_mp4_split_new (1 << 20,
      G_USEC_PER_SEC, &mp4_callbacks, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (kk_mp4_split_push (split, not_mp4, sizeof not_mp4,
          &error));
  g_assert_error (error, KK_MP4_SPLIT_ERROR, KK_MP4_SPLIT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (kk_mp4_split_push (split, not_mp4, 1, &error));
  g_assert_error (error, KK_MP4_SPLIT_ERROR, KK_MP4_SPLIT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (kk_mp4_split_push (early, early_moof, sizeof early_moof,
          &error));
  g_assert_error (error, KK_MP4_SPLIT_ERROR, KK_MP4_SPLIT_ERROR_INVALID);
}

/* @test for a VP8 lecture and for an H.264 one: "/segmenter/@name-vp8"
 * and "/segmenter/@name-h264". */
static void
add_per_codec (const char *name, void (*test) (Fixture *, gconstpointer))
{
  static const struct {
    KkCodec codec;
    const char *suffix;
  } codecs[] = { { KK_CODEC_VP8, "vp8" }, { KK_CODEC_H264, "h264" } };

  for (guint i = 0; i < G_N_ELEMENTS (codecs); i++) {
    g_autofree char *path = g_strdup_printf ("/segmenter/%s-%s", name,
        codecs[i].suffix);

    g_test_add (path, Fixture, GINT_TO_POINTER (codecs[i].codec),
        fixture_setup, test, fixture_teardown);
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/segmenter/vp8-webm", Fixture,
      GINT_TO_POINTER (KK_CODEC_VP8), fixture_setup, test_segments,
      fixture_teardown);
  g_test_add ("/segmenter/h264-mp4", Fixture,
      GINT_TO_POINTER (KK_CODEC_H264), fixture_setup, test_segments,
      fixture_teardown);
  add_per_codec ("long-gop", test_long_gop);
  add_per_codec ("held", test_held);
  g_test_add ("/segmenter/start-point", Fixture, NULL, fixture_setup,
      test_start_point, fixture_teardown);
  g_test_add ("/segmenter/window", Fixture, NULL, fixture_setup,
      test_window, fixture_teardown);
  g_test_add ("/segmenter/live-after-pause", Fixture, NULL, fixture_setup,
      test_live_after_pause, fixture_teardown);
  g_test_add_func ("/webm-split/pieces", test_split);
  g_test_add_func ("/webm-split/invalid", test_split_invalid);
  g_test_add_func ("/mp4-split/pieces", test_mp4_split);
  g_test_add_data_func ("/webm-split/long-gop", GINT_TO_POINTER (FALSE),
      test_split_long_gop);
  g_test_add_data_func ("/mp4-split/long-gop", GINT_TO_POINTER (TRUE),
      test_split_long_gop);
  g_test_add_func ("/mp4-split/invalid", test_mp4_split_invalid);
  return g_test_run ();
}
