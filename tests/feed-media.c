/* SPDX-License-Identifier: Apache-2.0 */
/*
 * feed-media: see feed-media.h.
 */
#include "feed-media.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <kringkast/kk-rtp.h>

/* Any SSRC: the track's own replaces the payloader's. */
#define TRACK_SSRC 0x11223344
#define WALL_BASE_US G_GINT64_CONSTANT (1700000000000000)

/* Writes a big-endian timestamp at any alignment. */
static void
set_timestamp (guint8 *rtp, guint32 timestamp)
{
  rtp[4] = timestamp >> 24;
  rtp[5] = timestamp >> 16;
  rtp[6] = timestamp >> 8;
  rtp[7] = timestamp;
}

GPtrArray *
kk_feed_media_make (const char *description, KkCodec codec,
    KkFeedMediaRetime retime, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch_full (description, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_autoptr (GstElement) sink = NULL;
  GPtrArray *packets = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_packet_unref);
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, TRACK_SSRC, 90000);
  gboolean have_frame = FALSE;
  guint32 frame_in_ts = 0, frame_ts = 0;
  gint64 frame_capture_us = 0;
  guint frame = 0;
  GstSample *sample;

  if (pipeline == NULL)
    g_error ("%s: %s", description, error->message);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "v");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    g_autofree guint8 *rtp = NULL;
    gsize len = 0;
    KkRtpHeader hdr;
    KkPacket *packet = NULL;
    gboolean need_keyframe;

    gst_buffer_extract_dup (buffer, 0, gst_buffer_get_size (buffer),
        (gpointer *) &rtp, &len);
    if (!kk_rtp_parse (rtp, len, &hdr))
      g_error ("the payloader made a packet that is not RTP");
    if (!have_frame || hdr.timestamp != frame_in_ts) {
      if (have_frame)
        frame++;
      have_frame = TRUE;
      frame_in_ts = frame_ts = hdr.timestamp;
      frame_capture_us = WALL_BASE_US + GST_BUFFER_PTS (buffer) / 1000;
      if (retime != NULL)
        retime (frame, &frame_ts, &frame_capture_us, user_data);
    }
    set_timestamp (rtp, frame_ts);
    if (kk_track_push (track, rtp, len, codec, frame_capture_us, &packet,
            &need_keyframe) != KK_TRACK_PUSH_OK)
      g_error ("the track refused packet %u", hdr.seq);
    g_ptr_array_add (packets, packet);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  kk_track_free (track);
  return packets;
}

gboolean
kk_feed_media_light_layer_idle (const KkLightLayerStats *s, guint incomplete)
{
  return s->frames_decoded + incomplete >= s->frames_in - s->frames_lost
      && s->frames_scaled >= s->frames_decoded - s->frames_thinned
      && s->frames_waiting == 0
      && s->frames_out >= s->frames_encoded
      && s->frames_encoded + s->frames_dropped >= s->frames_scaled;
}

GstElement *
kk_feed_media_decode (KkCodec codec, GPtrArray *packets, guint32 first_ts,
    const char *after)
{
  g_autofree char *description = g_strdup_printf (
      "appsrc name=src format=time caps=application/x-rtp,media=video,"
      "clock-rate=90000,encoding-name=%s,payload=96 ! %s %s "
      "! appsink name=sink sync=false max-buffers=2",
      codec == KK_CODEC_VP8 ? "VP8" : "H264",
      codec == KK_CODEC_VP8 ? "rtpvp8depay ! vp8dec"
      : "rtph264depay ! avdec_h264", after != NULL ? after : "");
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch_full (description, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_autoptr (GstElement) src = NULL;

  if (pipeline == NULL)
    g_error ("%s: %s", description, error->message);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (src, "max-bytes", (guint64) 0, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (guint i = 0; i < packets->len; i++) {
    gsize len;
    const guint8 *rtp = g_bytes_get_data (packets->pdata[i], &len);
    g_autofree guint8 *copy = g_memdup2 (rtp, len);
    GstBuffer *buffer;
    KkRtpHeader hdr;

    if (!kk_rtp_parse (copy, len, &hdr))
      g_error ("packet %u is not RTP", i);
    /* The payload type the caps say, instead of the relay's placeholder. */
    len = kk_rtp_write_stripped (&hdr, 96, hdr.seq, hdr.timestamp, hdr.ssrc,
        copy, len);
    buffer = gst_buffer_new_wrapped (g_steal_pointer (&copy), len);
    GST_BUFFER_PTS (buffer) = gst_util_uint64_scale_int (
        (guint32) (hdr.timestamp - first_ts), GST_SECOND, 90000);
    if (gst_app_src_push_buffer (GST_APP_SRC (src), buffer) != GST_FLOW_OK)
      g_error ("the decoder refused packet %u", i);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  return pipeline;
}
