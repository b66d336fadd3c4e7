/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-pipeline-feed: feeding RTP packets into a pipeline's appsrcs,
 * unwrapping their timestamps and watching the pipeline's bus; see
 * kk-pipeline-feed.h.
 */
#include "kk-pipeline-feed.h"

#include <string.h>

/* The payload types the caps announce and the pushed packets carry: the
 * pipeline's own, since a KkPacket's is a placeholder. Any dynamic ones
 * would do; these are the ones browsers offer first. */
#define PT_VIDEO 96
#define PT_AUDIO 111

/* ---- the appsrc side ---- */

GstCaps *
kk_pipeline_feed_rtp_caps (KkCodec codec)
{
  g_return_val_if_fail (codec == KK_CODEC_VP8 || codec == KK_CODEC_H264
      || codec == KK_CODEC_OPUS, NULL);

  if (codec == KK_CODEC_OPUS)
    return gst_caps_new_simple ("application/x-rtp",
        "media", G_TYPE_STRING, "audio", "clock-rate", G_TYPE_INT, 48000,
        "encoding-name", G_TYPE_STRING, "OPUS",
        "payload", G_TYPE_INT, PT_AUDIO, NULL);
  return gst_caps_new_simple ("application/x-rtp",
      "media", G_TYPE_STRING, "video", "clock-rate", G_TYPE_INT, 90000,
      "encoding-name", G_TYPE_STRING,
      codec == KK_CODEC_H264 ? "H264" : "VP8",
      "payload", G_TYPE_INT, PT_VIDEO, NULL);
}

void
kk_pipeline_feed_configure (GstAppSrc *src, GstCaps *caps, guint64 max_bytes)
{
  gst_app_src_set_caps (src, caps);
  /* Not live: the buffers' own times are the timeline, and nothing waits
   * for a clock. */
  g_object_set (src, "format", GST_FORMAT_TIME, "is-live", FALSE,
      "block", FALSE, "max-bytes", max_bytes, NULL);
  /* Since GStreamer 1.20: past the bound, rather lose the oldest data than
   * grow without bound when what reads the appsrc stalls (a muxer, a
   * disk). */
  if (max_bytes > 0 && g_object_class_find_property (
          G_OBJECT_GET_CLASS (src), "leaky-type"))
    gst_util_set_object_arg (G_OBJECT (src), "leaky-type", "downstream");
}

gboolean
kk_pipeline_feed_get_srcs (GstElement *pipeline, KkCodec video_codec,
    guint64 max_bytes, GstAppSrc *srcs[KK_TRACK_N])
{
  GstElement *found[KK_TRACK_N];

  found[KK_TRACK_VIDEO] = gst_bin_get_by_name (GST_BIN (pipeline), "video");
  found[KK_TRACK_AUDIO] = gst_bin_get_by_name (GST_BIN (pipeline), "audio");
  if (!GST_IS_APP_SRC (found[KK_TRACK_VIDEO])
      || !GST_IS_APP_SRC (found[KK_TRACK_AUDIO])) {
    for (guint i = 0; i < KK_TRACK_N; i++)
      g_clear_object (&found[i]);
    return FALSE;
  }
  for (guint i = 0; i < KK_TRACK_N; i++) {
    g_autoptr (GstCaps) caps = kk_pipeline_feed_rtp_caps (
        i == KK_TRACK_VIDEO ? video_codec : KK_CODEC_OPUS);

    srcs[i] = GST_APP_SRC (found[i]);
    kk_pipeline_feed_configure (srcs[i], caps, max_bytes);
  }
  return TRUE;
}

GstFlowReturn
kk_pipeline_feed_push (GstAppSrc *src, const KkPacket *packet,
    GstClockTime pts, gboolean discont)
{
  guint8 *data = g_malloc (packet->len);
  GstBuffer *buffer;

  memcpy (data, packet->data, packet->len);
  /* Keep the marker bit, set the payload type the caps announce. */
  data[1] = (data[1] & 0x80)
      | (packet->kind == KK_TRACK_VIDEO ? PT_VIDEO : PT_AUDIO);
  buffer = gst_buffer_new_wrapped (data, packet->len);
  GST_BUFFER_PTS (buffer) = pts;
  if (discont)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  return gst_app_src_push_buffer (src, buffer);
}

/* ---- RTP timestamps as a timeline ---- */

void
kk_rtp_unwrap_init (KkRtpUnwrap *unwrap, guint clock_rate)
{
  g_return_if_fail (clock_rate > 0);

  memset (unwrap, 0, sizeof *unwrap);
  unwrap->clock_rate = clock_rate;
}

gint64
kk_rtp_unwrap_next (KkRtpUnwrap *unwrap, guint32 timestamp, gint32 *step)
{
  gint32 delta = 0;

  if (!unwrap->started) {
    unwrap->started = TRUE;
    unwrap->extended = timestamp;
    unwrap->first = unwrap->extended;
  } else {
    /* The difference modulo 2^32, read as signed: the shorter way. */
    delta = (gint32) (timestamp - unwrap->last);
    unwrap->extended += delta;
  }
  unwrap->last = timestamp;
  if (step != NULL)
    *step = delta;
  return unwrap->extended;
}

gint64
kk_rtp_ticks_to_time (gint64 ticks, guint clock_rate, gint64 units_per_second)
{
  guint64 magnitude = gst_util_uint64_scale_round (
      ticks >= 0 ? (guint64) ticks : -(guint64) ticks, units_per_second,
      clock_rate);

  return ticks >= 0 ? (gint64) magnitude : -(gint64) magnitude;
}

gint64
kk_rtp_unwrap_elapsed (const KkRtpUnwrap *unwrap, gint64 units_per_second)
{
  g_return_val_if_fail (unwrap->started, 0);

  return kk_rtp_ticks_to_time (unwrap->extended - unwrap->first,
      unwrap->clock_rate, units_per_second);
}

/* ---- the bus ---- */

struct _KkPipelineWatch {
  GstElement *pipeline;
  char *dot_name;
  KkPipelineWatchCallbacks callbacks;
  gpointer user_data;
  GSource *source;
};

/* The callbacks may free @watch: nothing of it is touched after them. */
static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  KkPipelineWatch *watch = data;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) error = NULL;
      g_autofree char *debug = NULL;

      gst_message_parse_error (message, &error, &debug);
      GST_DEBUG_BIN_TO_DOT_FILE_WITH_TS (GST_BIN (watch->pipeline),
          GST_DEBUG_GRAPH_SHOW_ALL, watch->dot_name);
      watch->callbacks.error (error, debug, watch->user_data);
      /* One error is the pipeline's end; those it posts after it (every
       * element that then fails posts one) would only say so again. */
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
      if (watch->callbacks.eos == NULL)
        return G_SOURCE_CONTINUE;
      watch->callbacks.eos (watch->user_data);
      return G_SOURCE_REMOVE;
    default:
      return G_SOURCE_CONTINUE;
  }
}

KkPipelineWatch *
kk_pipeline_watch_new (GstElement *pipeline, GMainContext *context,
    const char *dot_name, const KkPipelineWatchCallbacks *callbacks,
    gpointer user_data)
{
  KkPipelineWatch *watch;
  g_autoptr (GstBus) bus = NULL;

  g_return_val_if_fail (GST_IS_PIPELINE (pipeline) && dot_name != NULL
      && callbacks != NULL && callbacks->error != NULL, NULL);

  watch = g_new0 (KkPipelineWatch, 1);
  watch->pipeline = gst_object_ref (pipeline);
  watch->dot_name = g_strdup (dot_name);
  watch->callbacks = *callbacks;
  watch->user_data = user_data;
  bus = gst_element_get_bus (pipeline);
  /* A source of our own on the owner's context, rather than
   * gst_bus_add_watch () (the thread-default context, one watch a bus). */
  watch->source = gst_bus_create_watch (bus);
  g_source_set_callback (watch->source, G_SOURCE_FUNC (on_bus_message),
      watch, NULL);
  g_source_attach (watch->source, context);
  return watch;
}

void
kk_pipeline_watch_free (KkPipelineWatch *watch)
{
  if (watch == NULL)
    return;
  /* Also from within its own callback: GLib keeps the source alive
   * until its dispatch returns, and on_bus_message () touches nothing
   * of the watch after the callback. */
  g_source_destroy (watch->source);
  g_source_unref (watch->source);
  gst_object_unref (watch->pipeline);
  g_free (watch->dot_name);
  g_free (watch);
}
