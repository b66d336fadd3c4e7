/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-media: real encoded media for the tests; see test-media.h.
 */
#include "test-media.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <kringkast/kk-rtp.h>
#include <string.h>

/* The RTP an appsink gets, as the feed's packets. */
static void
pull_all (GstElement *sink, GPtrArray *out, KkTrackKind kind, KkCodec codec)
{
  GstSample *sample;

  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;
    KkRtpHeader hdr;
    KkPacket *packet;

    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    g_assert_true (kk_rtp_parse (map.data, map.size, &hdr));
    g_assert_cmpuint (map.size, <=, KK_PACKET_MAX);
    packet = g_new0 (KkPacket, 1);
    packet->refcount = 1;
    packet->kind = kind;
    packet->codec = codec;
    packet->seq = hdr.seq;
    packet->timestamp = hdr.timestamp;
    packet->len = map.size;
    memcpy (packet->data, map.data, map.size);
    /* The feed leaves a placeholder payload type. */
    packet->data[1] &= 0x80;
    if (kind == KK_TRACK_VIDEO)
      packet->keyframe_start = codec == KK_CODEC_VP8
          ? kk_rtp_vp8_is_keyframe_start (hdr.payload, hdr.payload_len)
          : kk_rtp_h264_is_keyframe_start (hdr.payload, hdr.payload_len);
    g_ptr_array_add (out, packet);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
}

gdouble
kk_test_media_seconds (KkPacket *packet, guint32 first_ts)
{
  return (guint32) (packet->timestamp - first_ts)
      / (packet->kind == KK_TRACK_VIDEO ? 90000.0 : 48000.0);
}

GPtrArray *
kk_test_media_make (KkCodec codec, guint seconds, guint fps, guint gop)
{
  g_autofree char *encoder = codec == KK_CODEC_VP8
      ? g_strdup_printf ("vp8enc deadline=1 keyframe-max-dist=%u "
          "! rtpvp8pay mtu=1200", gop)
      : g_strdup_printf ("x264enc tune=zerolatency key-int-max=%u "
          "speed-preset=ultrafast ! video/x-h264,profile=constrained-baseline "
          "! rtph264pay mtu=1200 config-interval=-1", gop);
  g_autofree char *description = g_strdup_printf (
      "videotestsrc num-buffers=%u pattern=ball "
      "! video/x-raw,width=160,height=120,framerate=%u/1 ! %s "
      "! appsink name=v sync=false "
      "audiotestsrc num-buffers=%u samplesperbuffer=960 "
      "! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=20 "
      "! rtpopuspay ! appsink name=a sync=false",
      seconds * fps, fps, encoder, seconds * 50);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, &error);
  g_autoptr (GstElement) v = NULL;
  g_autoptr (GstElement) a = NULL;
  g_autoptr (GPtrArray) video = g_ptr_array_new ();
  g_autoptr (GPtrArray) audio = g_ptr_array_new ();
  GPtrArray *all = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_packet_unref);
  guint i = 0, j = 0;

  g_assert_no_error (error);
  v = gst_bin_get_by_name (GST_BIN (pipeline), "v");
  a = gst_bin_get_by_name (GST_BIN (pipeline), "a");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  /* Pull both: appsink's queue is unbounded, so one can wait. */
  pull_all (v, video, KK_TRACK_VIDEO, codec);
  pull_all (a, audio, KK_TRACK_AUDIO, KK_CODEC_OPUS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_cmpuint (video->len, >=, seconds * fps);
  g_assert_cmpuint (audio->len, >=, seconds * 50);

  while (i < video->len || j < audio->len) {
    KkPacket *pv = i < video->len ? video->pdata[i] : NULL;
    KkPacket *pa = j < audio->len ? audio->pdata[j] : NULL;

    if (pa == NULL || (pv != NULL
            && kk_test_media_seconds (pv,
                ((KkPacket *) video->pdata[0])->timestamp)
            <= kk_test_media_seconds (pa,
                ((KkPacket *) audio->pdata[0])->timestamp))) {
      g_ptr_array_add (all, pv);
      i++;
    } else {
      g_ptr_array_add (all, pa);
      j++;
    }
  }
  return all;
}

/* ---- decoding ---- */

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KkTestDecoded *decoded = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  gboolean video = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (pad),
          "video"));
  GstClockTime end = GST_BUFFER_PTS (buffer);
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad,
      GST_EVENT_SEGMENT, 0);
  const GstSegment *segment = NULL;
  GstClockTime start;

  gst_event_parse_segment (event, &segment);
  start = gst_segment_to_running_time (segment, GST_FORMAT_TIME, end);
  if (GST_BUFFER_DURATION_IS_VALID (buffer))
    end += GST_BUFFER_DURATION (buffer);
  if (video) {
    decoded->video_frames++;
    decoded->video_end = MAX (decoded->video_end, end);
    if (!GST_CLOCK_TIME_IS_VALID (decoded->video_start))
      decoded->video_start = start;
  } else {
    decoded->audio_end = MAX (decoded->audio_end, end);
    if (!GST_CLOCK_TIME_IS_VALID (decoded->audio_start))
      decoded->audio_start = start;
  }
  return GST_PAD_PROBE_OK;
}

static void
decode_pad_added (GstElement *decodebin, GstPad *pad, gpointer user_data)
{
  KkTestDecoded *decoded = user_data;
  GstElement *pipeline = GST_ELEMENT (gst_element_get_parent (decodebin));
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstPad) sinkpad = NULL;

  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add (GST_BIN (pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  g_assert_cmpint (gst_pad_link (pad, sinkpad), ==, GST_PAD_LINK_OK);
  g_object_set_data (G_OBJECT (pad), "video", GINT_TO_POINTER (
          g_str_has_prefix (gst_structure_get_name (
                  gst_caps_get_structure (caps, 0)), "video/")));
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_probe, decoded,
      NULL);
  gst_object_unref (pipeline);
}

void
kk_test_media_decode (const char *path, KkTestDecoded *decoded)
{
  g_autoptr (GstElement) pipeline = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("filesrc", NULL);
  GstElement *decodebin = gst_element_factory_make ("decodebin", NULL);
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) message = NULL;

  memset (decoded, 0, sizeof *decoded);
  decoded->video_start = decoded->audio_start = GST_CLOCK_TIME_NONE;
  g_object_set (src, "location", path, NULL);
  gst_bin_add_many (GST_BIN (pipeline), src, decodebin, NULL);
  gst_element_link (src, decodebin);
  g_signal_connect (decodebin, "pad-added", G_CALLBACK (decode_pad_added),
      decoded);
  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  message = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (message);
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (message, &error, NULL);
    g_error ("decoding %s: %s", path, error->message);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_test_message ("%s: %u video frames from %.3f s to %.3f s, audio from "
      "%.3f s to %.3f s", path, decoded->video_frames,
      decoded->video_start / 1e9, decoded->video_end / 1e9,
      decoded->audio_start / 1e9, decoded->audio_end / 1e9);
}
