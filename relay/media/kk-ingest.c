/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ingest: the part of every lecture source that is the same whatever the
 * source: appsinks that hand RTP to the feed, keyframe requests sent
 * upstream, the bus, and a watchdog that notices a source gone silent. And
 * the pipeline sources themselves, whose descriptions live in pipelines/ so
 * an operator can change them without rebuilding.
 *
 * Timing: each packet carries the wall-clock time its media was captured,
 * worked out from the buffer's running time. Audio and video come out of
 * the same pipeline clock (and, for WHIP, out of rtpbin's lip-sync), so the
 * sender reports built from these times keep viewers in sync.
 */
#include "kk-ingest-private.h"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <string.h>

GST_DEBUG_CATEGORY (kk_ingest_debug);
#define GST_CAT_DEFAULT kk_ingest_debug

G_DEFINE_QUARK (kk-ingest-error-quark, kk_ingest_error)

/* A source that sent media and then nothing for this long is gone; a
 * webrtcbin may take much longer to declare ICE failed. */
#define SILENCE_TIMEOUT_US (3 * G_USEC_PER_SEC)
/* A source that never sends anything is given up after this. */
#define START_TIMEOUT_US (30 * G_USEC_PER_SEC)

KkIngest *
kk_ingest_alloc (const char *name, KkFeed *feed,
    const KkIngestCallbacks *callbacks, gpointer user_data)
{
  KkIngest *ingest = g_new0 (KkIngest, 1);

  if (kk_ingest_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_ingest_debug, "kk-ingest", 0,
        "Kringkast lecture sources");

  ingest->refcount = 1;
  ingest->name = g_strdup (name);
  ingest->feed = feed;
  if (callbacks != NULL)
    ingest->callbacks = *callbacks;
  ingest->user_data = user_data;
  ingest->main_context = g_main_context_ref_thread_default ();
  ingest->created_mono_us = g_get_monotonic_time ();
  g_mutex_init (&ingest->lock);
  return ingest;
}

KkIngest *
kk_ingest_ref (KkIngest *ingest)
{
  g_atomic_int_inc (&ingest->refcount);
  return ingest;
}

void
kk_ingest_unref (KkIngest *ingest)
{
  if (!g_atomic_int_dec_and_test (&ingest->refcount))
    return;
  g_clear_object (&ingest->video_sink);
  g_clear_object (&ingest->webrtc);
  g_clear_object (&ingest->pipeline);
  g_clear_pointer (&ingest->offer, gst_sdp_message_free);
  g_free (ingest->answer_text);
  g_free (ingest->answer_error);
  g_mutex_clear (&ingest->lock);
  g_main_context_unref (ingest->main_context);
  g_free (ingest->name);
  g_free (ingest);
}

gint64
kk_ingest_get_last_packet_time (KkIngest *ingest)
{
  return __atomic_load_n (&ingest->last_packet_mono_us, __ATOMIC_RELAXED);
}

/* ---- hopping to the main context ---- */

typedef struct {
  KkIngest *ingest;
  void (*func) (KkIngest *ingest);
  char *reason;
} KkIngestCall;

static void
call_free (gpointer data)
{
  KkIngestCall *call = data;

  kk_ingest_unref (call->ingest);
  g_free (call->reason);
  g_free (call);
}

static void stop_now (KkIngest *ingest, const char *reason);

static gboolean
run_call (gpointer data)
{
  KkIngestCall *call = data;

  if (g_atomic_int_get (&call->ingest->destroyed))
    return G_SOURCE_REMOVE;
  if (call->reason != NULL)
    stop_now (call->ingest, call->reason);
  else
    call->func (call->ingest);
  return G_SOURCE_REMOVE;
}

void
kk_ingest_invoke (KkIngest *ingest, void (*func) (KkIngest *ingest))
{
  KkIngestCall *call = g_new0 (KkIngestCall, 1);

  call->ingest = kk_ingest_ref (ingest);
  call->func = func;
  g_main_context_invoke_full (ingest->main_context, G_PRIORITY_DEFAULT,
      run_call, call, call_free);
}

void
kk_ingest_stop_later (KkIngest *ingest, const char *reason)
{
  KkIngestCall *call = g_new0 (KkIngestCall, 1);

  call->ingest = kk_ingest_ref (ingest);
  call->reason = g_strdup (reason);
  g_main_context_invoke_full (ingest->main_context, G_PRIORITY_DEFAULT,
      run_call, call, call_free);
}

/* Main context. */
static void
stop_now (KkIngest *ingest, const char *reason)
{
  if (ingest->stopped)
    return;
  ingest->stopped = TRUE;
  GST_INFO ("source %s stopped: %s", ingest->name, reason);
  if (ingest->callbacks.stopped != NULL)
    ingest->callbacks.stopped (ingest, reason, ingest->user_data);
}

static void
notify_media_started (KkIngest *ingest)
{
  GST_INFO ("source %s: media flowing", ingest->name);
  if (ingest->callbacks.media_started != NULL)
    ingest->callbacks.media_started (ingest, ingest->user_data);
}

/* ---- appsinks ---- */

/* Owned by the appsink. It does not hold a ref on the ingest: the ingest
 * owns the pipeline and stops it (ending every callback) before it goes. */
typedef struct {
  KkIngest *ingest;
  KkTrackKind kind;
  GstCaps *caps;        /* the caps codec was read from */
  KkCodec codec;
} KkSinkContext;

static void
sink_context_free (gpointer data)
{
  KkSinkContext *ctx = data;

  gst_clear_caps (&ctx->caps);
  g_free (ctx);
}

static KkCodec
codec_from_caps (const GstCaps *caps)
{
  const GstStructure *s;
  const char *name;

  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return KK_CODEC_NONE;
  s = gst_caps_get_structure (caps, 0);
  name = gst_structure_get_string (s, "encoding-name");
  if (name == NULL)
    return KK_CODEC_NONE;
  if (g_ascii_strcasecmp (name, "VP8") == 0)
    return KK_CODEC_VP8;
  if (g_ascii_strcasecmp (name, "H264") == 0)
    return KK_CODEC_H264;
  if (g_ascii_strcasecmp (name, "OPUS") == 0)
    return KK_CODEC_OPUS;
  return KK_CODEC_NONE;
}

/* Wall-clock capture time of @buffer from its running time. */
static gint64
capture_time (GstAppSink *sink, GstSample *sample, GstBuffer *buffer)
{
  gint64 now_wall = g_get_real_time ();
  const GstSegment *segment = gst_sample_get_segment (sample);
  GstClock *clock;
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime running, now_running;

  if (!GST_CLOCK_TIME_IS_VALID (pts) || segment == NULL
      || segment->format != GST_FORMAT_TIME)
    return now_wall;
  running = gst_segment_to_running_time (segment, GST_FORMAT_TIME, pts);
  clock = gst_element_get_clock (GST_ELEMENT (sink));
  if (clock == NULL || !GST_CLOCK_TIME_IS_VALID (running)) {
    g_clear_object (&clock);
    return now_wall;
  }
  now_running = gst_clock_get_time (clock)
      - gst_element_get_base_time (GST_ELEMENT (sink));
  gst_object_unref (clock);
  return now_wall - GST_CLOCK_DIFF (running, now_running) / 1000;
}

static void
push_buffer (KkSinkContext *ctx, GstAppSink *sink, GstSample *sample,
    GstBuffer *buffer)
{
  GstMapInfo map;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return;
  kk_feed_push (ctx->ingest->feed, ctx->kind, ctx->codec, map.data, map.size,
      capture_time (sink, sample, buffer));
  gst_buffer_unmap (buffer, &map);
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  KkSinkContext *ctx = user_data;
  KkIngest *ingest = ctx->ingest;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstCaps *caps;
  GstBufferList *list;
  GstBuffer *buffer;

  if (sample == NULL)
    return GST_FLOW_EOS;
  if (g_atomic_int_get (&ingest->destroyed))
    return GST_FLOW_FLUSHING;

  caps = gst_sample_get_caps (sample);
  if (caps != ctx->caps) {
    gst_caps_replace (&ctx->caps, caps);
    ctx->codec = codec_from_caps (caps);
    GST_INFO ("source %s: %s codec %d", ingest->name,
        ctx->kind == KK_TRACK_VIDEO ? "video" : "audio", ctx->codec);
  }
  if (ctx->codec == KK_CODEC_NONE)
    return GST_FLOW_OK;

  list = gst_sample_get_buffer_list (sample);
  if (list != NULL) {
    for (guint i = 0; i < gst_buffer_list_length (list); i++)
      push_buffer (ctx, sink, sample, gst_buffer_list_get (list, i));
  } else if ((buffer = gst_sample_get_buffer (sample)) != NULL) {
    push_buffer (ctx, sink, sample, buffer);
  }

  __atomic_store_n (&ingest->last_packet_mono_us, g_get_monotonic_time (),
      __ATOMIC_RELAXED);
  if (g_atomic_int_compare_and_exchange (&ingest->media_started, 0, 1))
    kk_ingest_invoke (ingest, notify_media_started);
  return GST_FLOW_OK;
}

void
kk_ingest_attach_sink (KkIngest *ingest, GstElement *sink, KkTrackKind kind)
{
  GstAppSinkCallbacks callbacks = { 0 };
  KkSinkContext *ctx = g_new0 (KkSinkContext, 1);

  ctx->ingest = ingest;
  ctx->kind = kind;
  callbacks.new_sample = on_new_sample;
  /* No clock sync and no queue: packets go to the viewers as they come. */
  g_object_set (sink, "sync", FALSE, "async", FALSE, "max-buffers", 64,
      "drop", TRUE, "buffer-list", TRUE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, ctx,
      sink_context_free);
  if (kind == KK_TRACK_VIDEO) {
    g_mutex_lock (&ingest->lock);
    gst_object_replace ((GstObject **) &ingest->video_sink, GST_OBJECT (sink));
    g_mutex_unlock (&ingest->lock);
  }
}

void
kk_ingest_request_keyframe (KkIngest *ingest)
{
  GstElement *sink;
  GstPad *pad;

  g_mutex_lock (&ingest->lock);
  sink = ingest->video_sink ? gst_object_ref (ingest->video_sink) : NULL;
  g_mutex_unlock (&ingest->lock);
  if (sink == NULL)
    return;
  pad = gst_element_get_static_pad (sink, "sink");
  GST_DEBUG ("source %s: requesting a keyframe", ingest->name);
  gst_pad_push_event (pad, gst_video_event_new_upstream_force_key_unit (
          GST_CLOCK_TIME_NONE, TRUE, 0));
  gst_object_unref (pad);
  gst_object_unref (sink);
}

void
kk_ingest_add_candidate (KkIngest *ingest, guint mline_index,
    const char *candidate)
{
  if (ingest->webrtc == NULL)
    return;
  g_signal_emit_by_name (ingest->webrtc, "add-ice-candidate", mline_index,
      candidate);
}

/* ---- bus and watchdog ---- */

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer user_data)
{
  KkIngest *ingest = user_data;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) error = NULL;
      g_autofree char *debug = NULL;
      g_autofree char *reason = NULL;

      gst_message_parse_error (message, &error, &debug);
      GST_WARNING ("source %s: %s (%s)", ingest->name, error->message,
          debug ? debug : "");
      GST_DEBUG_BIN_TO_DOT_FILE_WITH_TS (GST_BIN (ingest->pipeline),
          GST_DEBUG_GRAPH_SHOW_ALL, "kringkast-ingest-error");
      reason = g_strdup_printf ("error: %s", error->message);
      stop_now (ingest, reason);
      break;
    }
    case GST_MESSAGE_EOS:
      stop_now (ingest, "end of stream");
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_watchdog (gpointer user_data)
{
  KkIngest *ingest = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 last = kk_ingest_get_last_packet_time (ingest);

  if (last != 0 && now - last > SILENCE_TIMEOUT_US)
    stop_now (ingest, "no media");
  else if (last == 0 && now - ingest->created_mono_us > START_TIMEOUT_US)
    stop_now (ingest, "no media arrived");
  return ingest->stopped ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

void
kk_ingest_watch (KkIngest *ingest)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (ingest->pipeline);
  GSource *source;

  /* Attach to the ingest's own context, not whatever is default. */
  source = gst_bus_create_watch (bus);
  g_source_set_callback (source, G_SOURCE_FUNC (on_bus_message), ingest, NULL);
  ingest->bus_watch = g_source_attach (source, ingest->main_context);
  g_source_unref (source);

  source = g_timeout_source_new (500);
  g_source_set_callback (source, on_watchdog, ingest, NULL);
  ingest->watchdog = g_source_attach (source, ingest->main_context);
  g_source_unref (source);
}

/* ---- pipeline sources ---- */

KkIngest *
kk_ingest_new_pipeline (const char *name, GstElement *pipeline,
    KkFeed *feed, const KkIngestCallbacks *callbacks, gpointer user_data,
    GError **error)
{
  KkIngest *ingest;
  gboolean any_sink = FALSE;

  ingest = kk_ingest_alloc (name, feed, callbacks, user_data);
  ingest->pipeline = pipeline;
  for (guint kind = 0; kind < KK_TRACK_N; kind++) {
    const char *sink_name = kind == KK_TRACK_VIDEO ? "video" : "audio";
    g_autoptr (GstElement) sink =
        gst_bin_get_by_name (GST_BIN (pipeline), sink_name);

    if (sink == NULL)
      continue;
    if (!GST_IS_APP_SINK (sink)) {
      g_set_error (error, KK_INGEST_ERROR, KK_INGEST_ERROR_PIPELINE,
          "source %s: element \"%s\" must be an appsink", name, sink_name);
      kk_ingest_free (ingest);
      return NULL;
    }
    kk_ingest_attach_sink (ingest, sink, kind);
    any_sink = TRUE;
  }
  if (!any_sink) {
    g_set_error (error, KK_INGEST_ERROR, KK_INGEST_ERROR_PIPELINE,
        "source %s: no appsink named \"video\" or \"audio\"", name);
    kk_ingest_free (ingest);
    return NULL;
  }

  kk_ingest_watch (ingest);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, KK_INGEST_ERROR, KK_INGEST_ERROR_PIPELINE,
        "source %s: the pipeline does not start", name);
    kk_ingest_free (ingest);
    return NULL;
  }
  GST_INFO ("source %s: pipeline started", name);
  return ingest;
}

static void
destroy_source (KkIngest *ingest, guint *id)
{
  GSource *source;

  if (*id == 0)
    return;
  source = g_main_context_find_source_by_id (ingest->main_context, *id);
  if (source != NULL)
    g_source_destroy (source);
  *id = 0;
}

static gboolean
free_idle (gpointer data)
{
  kk_ingest_free (data);
  return G_SOURCE_REMOVE;
}

void
kk_ingest_free_later (KkIngest *ingest)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, free_idle, ingest, NULL);
  g_source_attach (source, ingest->main_context);
  g_source_unref (source);
}

void
kk_ingest_free (KkIngest *ingest)
{
  if (ingest == NULL)
    return;
  g_atomic_int_set (&ingest->destroyed, 1);
  destroy_source (ingest, &ingest->bus_watch);
  destroy_source (ingest, &ingest->watchdog);
  destroy_source (ingest, &ingest->gather_timeout);
  if (ingest->pipeline != NULL)
    gst_element_set_state (ingest->pipeline, GST_STATE_NULL);
  kk_ingest_unref (ingest);
}
