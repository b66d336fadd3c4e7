/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-pipeline-feed: RTP timestamps unwrapped across the 32-bit
 * wrap-around in both directions and across backward jumps, and turned
 * into times with symmetric rounding; a pipeline's "video" and "audio"
 * appsrcs found and set up, or refused when one is missing; a packet
 * pushed through a real appsrc into a real appsink, arriving with the
 * caps' payload type, its marker bit, its time and its discontinuity;
 * and the bus watch on a context of its own, reporting the first of
 * several errors once, the end of stream only when asked, and nothing
 * after it is freed, also from within its own callback (run under ASan
 * in CI).
 */
#include "kk-pipeline-feed.h"

#include <gst/app/gstappsink.h>
#include <string.h>

/* ---- unwrapping ---- */

static void
test_unwrap_wrap_around (void)
{
  KkRtpUnwrap unwrap;
  gint32 step = -1;
  gint64 previous;

  kk_rtp_unwrap_init (&unwrap, 90000);
  g_assert_false (unwrap.started);
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 0xffffff00u, &step), ==,
      G_GINT64_CONSTANT (0xffffff00));
  g_assert_cmpint (step, ==, 0);
  g_assert_true (unwrap.started);

  /* Forward across the wrap: past 2^32, not back to 0x100. */
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 0x00000100u, &step), ==,
      G_GINT64_CONSTANT (0x100000100));
  g_assert_cmpint (step, ==, 0x200);
  g_assert_cmpuint (unwrap.last, ==, 0x100);
  g_assert_cmpint (kk_rtp_unwrap_elapsed (&unwrap, GST_SECOND), ==,
      kk_rtp_ticks_to_time (0x200, 90000, GST_SECOND));

  /* A day of 30 fps frames, wrapping several times at 90 kHz: every step
   * forward, the timeline never folding back. */
  previous = unwrap.extended;
  for (guint i = 0; i < 24 * 3600 * 30; i++) {
    guint32 next = unwrap.last + 3000;

    g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, next, NULL), ==,
        previous + 3000);
    previous = unwrap.extended;
  }
  g_assert_cmpint (unwrap.extended - unwrap.first, ==,
      G_GINT64_CONSTANT (3000) * 24 * 3600 * 30 + 0x200);
  g_assert_cmpint (kk_rtp_unwrap_elapsed (&unwrap, G_USEC_PER_SEC), ==,
      G_GINT64_CONSTANT (24) * 3600 * G_USEC_PER_SEC
      + kk_rtp_ticks_to_time (0x200, 90000, G_USEC_PER_SEC));
}

static void
test_unwrap_backwards (void)
{
  KkRtpUnwrap unwrap;
  gint32 step = 0;

  kk_rtp_unwrap_init (&unwrap, 48000);
  kk_rtp_unwrap_next (&unwrap, 1000, NULL);

  /* A little back: a step back, not almost 2^32 forward. */
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 520, &step), ==, 520);
  g_assert_cmpint (step, ==, -480);
  g_assert_cmpint (kk_rtp_unwrap_elapsed (&unwrap, GST_SECOND), ==,
      -10 * GST_MSECOND);
  g_assert_cmpint (kk_rtp_unwrap_elapsed (&unwrap, G_USEC_PER_SEC), ==,
      -10000);

  /* Back across the wrap, below the first timestamp and below 0. */
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 0xfffffe00u, &step), ==,
      -0x200);
  g_assert_cmpint (step, ==, -(520 + 0x200));
  g_assert_cmpint (unwrap.first, ==, 1000);

  /* Forward again across it, then a jump back within the positive side. */
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 48000, &step), ==, 48000);
  g_assert_cmpint (step, ==, 48000 + 0x200);
  g_assert_cmpint (kk_rtp_unwrap_elapsed (&unwrap, GST_SECOND), ==,
      GST_SECOND - kk_rtp_ticks_to_time (1000, 48000, GST_SECOND));
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 47040, &step), ==, 47040);
  g_assert_cmpint (step, ==, -960);

  /* A repeated timestamp (a frame's later packets) is no step. */
  g_assert_cmpint (kk_rtp_unwrap_next (&unwrap, 47040, &step), ==, 47040);
  g_assert_cmpint (step, ==, 0);
}

static void
test_ticks_to_time (void)
{
  /* 1/90000 s is 11111.1 ns and 11.1 µs: to the nearest, either sign. */
  g_assert_cmpint (kk_rtp_ticks_to_time (1, 90000, GST_SECOND), ==, 11111);
  g_assert_cmpint (kk_rtp_ticks_to_time (-1, 90000, GST_SECOND), ==, -11111);
  g_assert_cmpint (kk_rtp_ticks_to_time (5, 90000, G_USEC_PER_SEC), ==, 56);
  g_assert_cmpint (kk_rtp_ticks_to_time (-5, 90000, G_USEC_PER_SEC), ==,
      -56);
  g_assert_cmpint (kk_rtp_ticks_to_time (0, 48000, GST_SECOND), ==, 0);
  g_assert_cmpint (kk_rtp_ticks_to_time (G_GINT64_CONSTANT (90000) * 86400,
          90000, GST_SECOND), ==, G_GINT64_CONSTANT (86400) * GST_SECOND);
}

/* ---- the appsrc side ---- */

static void
fill_packet (KkPacket *packet, KkTrackKind kind, gboolean marker)
{
  memset (packet, 0, sizeof *packet);
  packet->refcount = 1;
  packet->kind = kind;
  packet->len = 20;
  packet->data[0] = 0x80;
  /* A placeholder payload type, as the fan-out leaves it. */
  packet->data[1] = (marker ? 0x80 : 0) | 0x7f;
  for (guint i = 2; i < packet->len; i++)
    packet->data[i] = i;
}

static GstSample *
push_and_pull (KkCodec codec, const KkPacket *packet, GstClockTime pts,
    gboolean discont)
{
  g_autoptr (GstElement) pipeline = gst_parse_launch (
      "appsrc name=src ! appsink name=sink sync=false", NULL);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline),
      "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline),
      "sink");
  g_autoptr (GstCaps) caps = kk_pipeline_feed_rtp_caps (codec);
  GstSample *sample;

  kk_pipeline_feed_configure (GST_APP_SRC (src), caps, 65536);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  /* The source marks its first buffer a discontinuity itself: the one
   * tested comes second. */
  g_assert_cmpint (kk_pipeline_feed_push (GST_APP_SRC (src), packet, 0,
          FALSE), ==, GST_FLOW_OK);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
      10 * GST_SECOND);
  g_assert_nonnull (sample);
  gst_sample_unref (sample);
  g_assert_cmpint (kk_pipeline_feed_push (GST_APP_SRC (src), packet, pts,
          discont), ==, GST_FLOW_OK);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
      10 * GST_SECOND);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_nonnull (sample);
  return sample;
}

/* Checks @sample's caps and returns the payload type they announce. */
static gint
check_rtp_caps (GstSample *sample, const char *media,
    const char *encoding_name, gint clock_rate)
{
  GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
  gint value = 0;

  g_assert_cmpstr (gst_structure_get_name (s), ==, "application/x-rtp");
  g_assert_cmpstr (gst_structure_get_string (s, "media"), ==, media);
  g_assert_cmpstr (gst_structure_get_string (s, "encoding-name"), ==,
      encoding_name);
  g_assert_true (gst_structure_get_int (s, "clock-rate", &value));
  g_assert_cmpint (value, ==, clock_rate);
  g_assert_true (gst_structure_get_int (s, "payload", &value));
  return value;
}

static void
test_push_video (void)
{
  KkPacket packet;
  g_autoptr (GstSample) sample = NULL;
  GstBuffer *buffer;
  GstMapInfo map;
  gint value;

  fill_packet (&packet, KK_TRACK_VIDEO, TRUE);
  sample = push_and_pull (KK_CODEC_H264, &packet, 3 * GST_SECOND, TRUE);
  value = check_rtp_caps (sample, "video", "H264", 90000);

  buffer = gst_sample_get_buffer (sample);
  g_assert_cmpuint (GST_BUFFER_PTS (buffer), ==, 3 * GST_SECOND);
  g_assert_true (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT));
  g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
  g_assert_cmpuint (map.size, ==, packet.len);
  /* The caps' payload type, the marker kept, the rest as it was. */
  g_assert_cmpint (map.data[1] & 0x7f, ==, value);
  g_assert_cmpint (map.data[1] & 0x80, ==, 0x80);
  g_assert_cmpmem (map.data + 2, map.size - 2, packet.data + 2,
      packet.len - 2);
  gst_buffer_unmap (buffer, &map);
  /* The packet itself is the fan-out's, shared: never written. */
  g_assert_cmpint (packet.data[1], ==, 0xff);
}

static void
test_push_audio (void)
{
  KkPacket packet;
  g_autoptr (GstSample) sample = NULL;
  GstBuffer *buffer;
  guint8 header[2];
  gint value;

  fill_packet (&packet, KK_TRACK_AUDIO, FALSE);
  sample = push_and_pull (KK_CODEC_OPUS, &packet, 20 * GST_MSECOND, FALSE);
  value = check_rtp_caps (sample, "audio", "OPUS", 48000);

  buffer = gst_sample_get_buffer (sample);
  g_assert_cmpuint (GST_BUFFER_PTS (buffer), ==, 20 * GST_MSECOND);
  g_assert_false (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT));
  g_assert_cmpuint (gst_buffer_extract (buffer, 0, header, 2), ==, 2);
  g_assert_cmpint (header[1], ==, value);
}

static void
test_configure (void)
{
  g_autoptr (GstElement) bounded = gst_element_factory_make ("appsrc", NULL);
  g_autoptr (GstElement) unbounded = gst_element_factory_make ("appsrc",
      NULL);
  g_autoptr (GstCaps) caps = kk_pipeline_feed_rtp_caps (KK_CODEC_VP8);
  g_autoptr (GstCaps) set = NULL;
  guint64 max_bytes = 0;
  gboolean block = TRUE, live = TRUE;
  GstFormat format = GST_FORMAT_UNDEFINED;
  int leaky_bounded = -1, leaky_unbounded = -1;

  kk_pipeline_feed_configure (GST_APP_SRC (bounded), caps, 4096);
  kk_pipeline_feed_configure (GST_APP_SRC (unbounded), caps, 0);
  g_object_get (bounded, "max-bytes", &max_bytes, "block", &block,
      "is-live", &live, "format", &format, NULL);
  g_assert_cmpuint (max_bytes, ==, 4096);
  g_assert_false (block);
  g_assert_false (live);
  g_assert_cmpint (format, ==, GST_FORMAT_TIME);
  set = gst_app_src_get_caps (GST_APP_SRC (bounded));
  g_assert_true (gst_caps_is_equal (set, caps));
  g_object_get (unbounded, "max-bytes", &max_bytes, NULL);
  g_assert_cmpuint (max_bytes, ==, 0);

  /* GStreamer 1.20 and later: a bound drops the oldest; no bound, none. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (bounded),
          "leaky-type")) {
    g_object_get (bounded, "leaky-type", &leaky_bounded, NULL);
    g_object_get (unbounded, "leaky-type", &leaky_unbounded, NULL);
    g_assert_cmpint (leaky_bounded, ==, 2);       /* downstream */
    g_assert_cmpint (leaky_unbounded, ==, 0);     /* none */
  }
}

static void
test_get_srcs (void)
{
  g_autoptr (GstElement) both = gst_parse_launch ("appsrc name=video ! "
      "fakesink appsrc name=audio ! fakesink", NULL);
  g_autoptr (GstElement) no_audio = gst_parse_launch ("appsrc name=video ! "
      "fakesink fakesrc name=audio ! fakesink", NULL);
  GstAppSrc *srcs[KK_TRACK_N] = { NULL, NULL };
  guint64 max_bytes = 0;

  /* An element named "audio" that is no appsrc will not do. */
  g_assert_false (kk_pipeline_feed_get_srcs (no_audio, KK_CODEC_VP8, 1024,
          srcs));
  g_assert_null (srcs[KK_TRACK_VIDEO]);
  g_assert_null (srcs[KK_TRACK_AUDIO]);

  g_assert_true (kk_pipeline_feed_get_srcs (both, KK_CODEC_H264, 1024,
          srcs));
  for (guint i = 0; i < KK_TRACK_N; i++) {
    g_autoptr (GstCaps) caps = gst_app_src_get_caps (srcs[i]);
    GstStructure *s = gst_caps_get_structure (caps, 0);

    g_assert_cmpstr (GST_OBJECT_NAME (srcs[i]), ==,
        i == KK_TRACK_VIDEO ? "video" : "audio");
    g_assert_cmpstr (gst_structure_get_string (s, "encoding-name"), ==,
        i == KK_TRACK_VIDEO ? "H264" : "OPUS");
    g_object_get (srcs[i], "max-bytes", &max_bytes, NULL);
    g_assert_cmpuint (max_bytes, ==, 1024);
    g_clear_object (&srcs[i]);
  }
}

/* ---- the bus ---- */

/* A real pipeline, ready (its bus passes messages on), whose two
 * elements each report an error: the way a pipeline fails, one element's
 * error followed by its neighbours'. The watch runs on a context of its
 * own. */
typedef struct {
  GMainContext *context;
  GstElement *pipeline;
  GstElement *first;
  GstElement *second;
  KkPipelineWatch *watch;
  gboolean free_in_callback;  /* the callbacks free the watch */
  guint errors;
  guint eos;
  GError *first_error;
  char *first_debug;
} WatchFixture;

static void
on_error (const GError *error, const char *debug, gpointer user_data)
{
  WatchFixture *f = user_data;

  if (f->errors++ == 0) {
    f->first_error = g_error_copy (error);
    f->first_debug = g_strdup (debug);
  }
  if (f->free_in_callback)
    g_clear_pointer (&f->watch, kk_pipeline_watch_free);
}

static void
on_eos (gpointer user_data)
{
  WatchFixture *f = user_data;

  f->eos++;
  if (f->free_in_callback)
    g_clear_pointer (&f->watch, kk_pipeline_watch_free);
}

static void
watch_setup (WatchFixture *f, gconstpointer data)
{
  f->free_in_callback = GPOINTER_TO_INT (data);
  f->context = g_main_context_new ();
  f->pipeline = gst_parse_launch ("fakesrc name=first ! fakesink name=second",
      NULL);
  g_assert_nonnull (f->pipeline);
  g_assert_cmpint (gst_element_set_state (f->pipeline, GST_STATE_READY), ==,
      GST_STATE_CHANGE_SUCCESS);
  f->first = gst_bin_get_by_name (GST_BIN (f->pipeline), "first");
  f->second = gst_bin_get_by_name (GST_BIN (f->pipeline), "second");
}

static void
watch_teardown (WatchFixture *f, gconstpointer data)
{
  g_clear_pointer (&f->watch, kk_pipeline_watch_free);
  gst_element_set_state (f->pipeline, GST_STATE_NULL);
  g_clear_object (&f->first);
  g_clear_object (&f->second);
  g_clear_object (&f->pipeline);
  g_clear_error (&f->first_error);
  g_clear_pointer (&f->first_debug, g_free);
  g_main_context_unref (f->context);
}

/* @with_eos: whether the end of the stream is watched too. */
static void
start_watch (WatchFixture *f, gboolean with_eos)
{
  KkPipelineWatchCallbacks callbacks = {
    .error = on_error,
    .eos = with_eos ? on_eos : NULL,
  };

  f->watch = kk_pipeline_watch_new (f->pipeline, f->context, "test-watch",
      &callbacks, f);
}

static void
run_until_idle (GMainContext *context)
{
  while (g_main_context_iteration (context, FALSE))
    ;
}

static void
test_watch_error_once (WatchFixture *f, gconstpointer data)
{
  start_watch (f, FALSE);
  /* The end of the stream is not watched: it passes unreported. */
  gst_element_post_message (f->pipeline,
      gst_message_new_eos (GST_OBJECT (f->pipeline)));
  GST_ELEMENT_ERROR (f->first, RESOURCE, WRITE, ("the first error"),
      ("its details"));
  GST_ELEMENT_ERROR (f->second, STREAM, FAILED, ("the second error"),
      (NULL));
  /* Only the watch's context runs it. */
  run_until_idle (NULL);
  g_assert_cmpuint (f->errors, ==, 0);
  run_until_idle (f->context);

  g_assert_cmpuint (f->errors, ==, 1);
  g_assert_cmpuint (f->eos, ==, 0);
  g_assert_error (f->first_error, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_WRITE);
  g_assert_cmpstr (f->first_error->message, ==, "the first error");
  g_assert_nonnull (strstr (f->first_debug, "its details"));
  g_assert_true (f->free_in_callback == (f->watch == NULL));

  /* Nor is a later one reported. */
  GST_ELEMENT_ERROR (f->second, STREAM, FAILED, ("a third error"), (NULL));
  run_until_idle (f->context);
  g_assert_cmpuint (f->errors, ==, 1);
}

static void
test_watch_eos (WatchFixture *f, gconstpointer data)
{
  start_watch (f, TRUE);
  gst_element_post_message (f->pipeline,
      gst_message_new_eos (GST_OBJECT (f->pipeline)));
  /* After the end, an error is no longer the watch's business. */
  GST_ELEMENT_ERROR (f->first, RESOURCE, WRITE, ("after the end"), (NULL));
  run_until_idle (f->context);
  g_assert_cmpuint (f->eos, ==, 1);
  g_assert_cmpuint (f->errors, ==, 0);
  g_assert_true (f->free_in_callback == (f->watch == NULL));
}

static void
test_watch_freed (WatchFixture *f, gconstpointer data)
{
  /* Freed with an error waiting on the bus: it is never reported, and
   * the pipeline outlives the watch. */
  start_watch (f, TRUE);
  GST_ELEMENT_ERROR (f->first, RESOURCE, WRITE, ("unheard"), (NULL));
  g_clear_pointer (&f->watch, kk_pipeline_watch_free);
  run_until_idle (f->context);
  g_assert_cmpuint (f->errors, ==, 0);
  g_assert_cmpuint (f->eos, ==, 0);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pipeline-feed/unwrap/wrap-around",
      test_unwrap_wrap_around);
  g_test_add_func ("/pipeline-feed/unwrap/backwards", test_unwrap_backwards);
  g_test_add_func ("/pipeline-feed/unwrap/ticks-to-time", test_ticks_to_time);
  g_test_add_func ("/pipeline-feed/push/video", test_push_video);
  g_test_add_func ("/pipeline-feed/push/audio", test_push_audio);
  g_test_add_func ("/pipeline-feed/configure", test_configure);
  g_test_add_func ("/pipeline-feed/get-srcs", test_get_srcs);
  g_test_add ("/pipeline-feed/watch/error-once", WatchFixture,
      GINT_TO_POINTER (FALSE), watch_setup, test_watch_error_once,
      watch_teardown);
  g_test_add ("/pipeline-feed/watch/error-once-freed-in-callback",
      WatchFixture, GINT_TO_POINTER (TRUE), watch_setup,
      test_watch_error_once, watch_teardown);
  g_test_add ("/pipeline-feed/watch/eos", WatchFixture,
      GINT_TO_POINTER (FALSE), watch_setup, test_watch_eos, watch_teardown);
  g_test_add ("/pipeline-feed/watch/eos-freed-in-callback", WatchFixture,
      GINT_TO_POINTER (TRUE), watch_setup, test_watch_eos, watch_teardown);
  g_test_add ("/pipeline-feed/watch/freed", WatchFixture,
      GINT_TO_POINTER (FALSE), watch_setup, test_watch_freed,
      watch_teardown);
  return g_test_run ();
}
