/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-light-layer: one room's light video layer; see kk-light-layer.h for
 * its role.
 *
 * Timeline. Each full-layer frame taken in gets a PTS from its RTP
 * timestamp (unwrapped, 90 kHz, from the first frame on), and is noted in
 * a small ring with its RTP timestamp and capture time. Depayloader,
 * decoder, scaler and encoder all keep a frame's PTS, so each packet that
 * leaves finds its frame in the ring by PTS and takes that frame's RTP
 * timestamp and capture time: the light layer's timestamps are the full
 * layer's, whatever base the payloader picked. (videorate cannot thin a
 * stream decoded from RTP, whose frame rate is variable, "0/1", without
 * retiming it, so the thinning to KK_LIGHT_LAYER_MAX_FPS is a probe on the
 * decoder's output here.)
 *
 * Input states (the ingest's streaming thread only):
 *
 *   WAITING --keyframe--> RUNNING --gap, backlog, timestamp back--> WAITING
 *
 * A gap in the sequence numbers leaves every frame after it undecodable
 * until the next keyframe, so nothing more is fed until one comes; the
 * backlog is the media time pushed but not yet taken by the depayloader,
 * and past MAX_BACKLOG_NS the decoder cannot keep up, so input is dropped
 * the same way rather than queued.
 */
#include "kk-light-layer.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <kringkast/kk-rtp.h>
#include <string.h>

#include "kk-pipeline-feed.h"
#include "kk-pipeline-file.h"

GST_DEBUG_CATEGORY_STATIC (kk_light_layer_debug);
#define GST_CAT_DEFAULT kk_light_layer_debug

G_DEFINE_QUARK (kk-light-layer-error-quark, kk_light_layer_error)

/* Frames in flight between push () and the appsink: the decoder's backlog
 * and the leaky queue bound them far below this. */
#define RING_FRAMES 128
/* Frames between the scaler and the encoder: the queue's two, and room
 * for an operator's larger one. */
#define QUEUED_MAX 64
/* Media time queued for the decoder beyond which input is dropped: the
 * decoder is not keeping up, and a light layer late by more than this is
 * of no use to a viewer switching to it. */
#define MAX_BACKLOG_NS (250 * GST_MSECOND)
#define CLOCK_RATE 90000
/* A frame is kept if it comes at least this share of a frame interval
 * after the last one kept: a 30 fps lecture's RTP timestamps jitter by a
 * few ms, and every other frame must still pass. */
#define THIN_TOLERANCE 8
/* While waiting for a keyframe, it is asked for again after this much
 * media: a browser sends one only when asked, and a request can be lost. */
#define ASK_INTERVAL_NS GST_SECOND

typedef enum {
  INPUT_WAITING,
  INPUT_RUNNING,
} InputState;

typedef struct {
  GstClockTime pts;
  guint32 rtp_ts;
  gint64 capture_wall_us;
} FrameEntry;

struct _KkLightLayer {
  KkCodec codec;
  char *name;                 /* for the log: "room ID, VP8" */
  KkLightLayerCallbacks callbacks;
  gpointer user_data;
  GMainContext *context;
  GstElement *pipeline;
  GstAppSrc *src;
  GstElement *sink;
  KkPipelineWatch *watch;
  gint destroyed;             /* atomic: free () has begun */
  gint failed;                /* atomic: the pipeline posted an error */

  /* Input: the ingest's streaming thread only. */
  InputState state;
  gboolean priming;           /* in kk_light_layer_prime () */
  gboolean have_seq;
  guint16 last_seq;
  KkRtpUnwrap unwrap;         /* the frames' RTP timestamps */
  gint64 base_ext_ts;         /* the unwrapped timestamp at pts_base */
  GstClockTime pts_base;
  GstClockTime last_pts;
  GstClockTime last_fed_pts;  /* of the last frame given to the appsrc */
  GstClockTime asked_pts;     /* waiting: when a keyframe was last asked */
  gboolean discont;

  /* Output: each of these is touched by one streaming thread only. */
  GstClockTime last_kept_pts;   /* the decoder's */
  GstClockTime last_out_pts;    /* the appsink's */

  /* Under lock: the ring, the decoder's progress and the stats. */
  GMutex lock;
  FrameEntry ring[RING_FRAMES];
  guint ring_next;
  GstClockTime taken_pts;     /* last PTS the depayloader took */
  /* Frames scaled and not yet at the encoder, oldest first: the leaky
   * queue before the encoder drops its oldest, so a frame reaching the
   * encoder tells that those before it were dropped. */
  GstClockTime queued[QUEUED_MAX];
  guint queued_head;
  guint queued_len;
  KkLightLayerStats stats;
};

/* ---- output (streaming threads) ---- */

/* Lock held. Returns the frame noted with @pts, or NULL. */
static const FrameEntry *
find_frame (KkLightLayer *layer, GstClockTime pts)
{
  for (guint i = 1; i <= RING_FRAMES; i++) {
    const FrameEntry *entry =
        &layer->ring[(layer->ring_next + RING_FRAMES - i) % RING_FRAMES];

    if (entry->pts == pts)
      return entry;
  }
  return NULL;
}

/* @pts: the running time of @buffer, which is the PTS it went in with:
 * an encoder may move its timestamps and segment together (x264enc puts
 * them 1000 hours later, to leave room for B-frames' DTS). */
static void
send_packet (KkLightLayer *layer, GstBuffer *buffer, GstClockTime pts)
{
  guint8 data[KK_PACKET_MAX];
  const FrameEntry *frame;
  gint64 capture_wall_us;
  gboolean new_frame;
  gsize len = gst_buffer_get_size (buffer);
  KkRtpHeader hdr;

  if (len > sizeof data || gst_buffer_extract (buffer, 0, data, len) != len
      || !kk_rtp_parse (data, len, &hdr)) {
    GST_WARNING ("light layer %s: dropping a packet of %" G_GSIZE_FORMAT
        " bytes that is not RTP or too big", layer->name, len);
    return;
  }

  g_mutex_lock (&layer->lock);
  frame = find_frame (layer, pts);
  if (frame == NULL) {
    g_mutex_unlock (&layer->lock);
    GST_WARNING ("light layer %s: no full-layer frame at %" GST_TIME_FORMAT
        "; packet dropped", layer->name, GST_TIME_ARGS (pts));
    return;
  }
  capture_wall_us = frame->capture_wall_us;
  new_frame = pts != layer->last_out_pts;
  layer->last_out_pts = pts;
  layer->stats.packets_out++;
  if (new_frame) {
    layer->stats.frames_out++;
    if (layer->codec == KK_CODEC_H264
        ? kk_rtp_h264_is_keyframe_start (hdr.payload, hdr.payload_len)
        : kk_rtp_vp8_is_keyframe_start (hdr.payload, hdr.payload_len))
      layer->stats.keyframes_out++;
  }
  /* The full layer's timestamp, so that a viewer switching layers keeps
   * its timeline; a placeholder payload type, the worker's to set. */
  len = kk_rtp_write_stripped (&hdr, 0, hdr.seq, frame->rtp_ts, hdr.ssrc,
      data, sizeof data);
  g_mutex_unlock (&layer->lock);

  layer->callbacks.packet (data, len, capture_wall_us, layer->user_data);
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  KkLightLayer *layer = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  const GstSegment *segment;
  GstBufferList *list;
  GstBuffer *buffer;

  if (sample == NULL)
    return GST_FLOW_EOS;
  if (g_atomic_int_get (&layer->destroyed))
    return GST_FLOW_FLUSHING;
  segment = gst_sample_get_segment (sample);
  list = gst_sample_get_buffer_list (sample);
  if (list != NULL) {
    for (guint i = 0; i < gst_buffer_list_length (list); i++) {
      buffer = gst_buffer_list_get (list, i);
      send_packet (layer, buffer, gst_segment_to_running_time (segment,
              GST_FORMAT_TIME, GST_BUFFER_PTS (buffer)));
    }
  } else if ((buffer = gst_sample_get_buffer (sample)) != NULL) {
    send_packet (layer, buffer, gst_segment_to_running_time (segment,
            GST_FORMAT_TIME, GST_BUFFER_PTS (buffer)));
  }
  return GST_FLOW_OK;
}

/* On the decoder's output: thins the frames to KK_LIGHT_LAYER_MAX_FPS,
 * keeping each one's own timestamp. */
static GstPadProbeReturn
thin_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KkLightLayer *layer = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  const GstClockTime interval = GST_SECOND / KK_LIGHT_LAYER_MAX_FPS;
  gboolean keep;

  keep = !GST_CLOCK_TIME_IS_VALID (layer->last_kept_pts)
      || !GST_CLOCK_TIME_IS_VALID (pts)
      || pts < layer->last_kept_pts
      || pts - layer->last_kept_pts >= interval - interval / THIN_TOLERANCE;
  if (keep)
    layer->last_kept_pts = pts;
  g_mutex_lock (&layer->lock);
  layer->stats.frames_decoded++;
  if (!keep)
    layer->stats.frames_thinned++;
  g_mutex_unlock (&layer->lock);
  return keep ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

/* On the decoder's output, for its caps: a stream decoded from RTP says
 * its frame rate is variable ("0/1"), and encoders then assume one of
 * their own (x264 25 fps, spending a 15 fps layer's bitrate as if on 25
 * frames: 40 % short). After thinning it runs at KK_LIGHT_LAYER_MAX_FPS,
 * or below it for a slower lecture, so that is what it says. */
static GstPadProbeReturn
caps_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  caps = gst_caps_copy (caps);
  gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION,
      KK_LIGHT_LAYER_MAX_FPS, 1, NULL);
  GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_caps (caps);
  gst_caps_unref (caps);
  gst_event_unref (event);
  return GST_PAD_PROBE_OK;
}

/* Into the element that feeds the encoder (the leaky queue). */
static GstPadProbeReturn
scaled_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KkLightLayer *layer = user_data;

  g_mutex_lock (&layer->lock);
  layer->stats.frames_scaled++;
  if (layer->queued_len == QUEUED_MAX) {
    layer->queued_head = (layer->queued_head + 1) % QUEUED_MAX;
    layer->queued_len--;
    layer->stats.frames_dropped++;
  }
  layer->queued[(layer->queued_head + layer->queued_len++) % QUEUED_MAX] =
      GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
  g_mutex_unlock (&layer->lock);
  return GST_PAD_PROBE_OK;
}

/* On the encoder's input: what the leaky queue before it let through. */
static GstPadProbeReturn
encoder_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KkLightLayer *layer = user_data;
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));

  g_mutex_lock (&layer->lock);
  layer->stats.frames_encoded++;
  while (layer->queued_len > 0) {
    GstClockTime oldest = layer->queued[layer->queued_head];

    layer->queued_head = (layer->queued_head + 1) % QUEUED_MAX;
    layer->queued_len--;
    if (oldest == pts)
      break;
    layer->stats.frames_dropped++;
  }
  g_mutex_unlock (&layer->lock);
  return GST_PAD_PROBE_OK;
}

/* On the appsrc's output: how far the depayloader (and so the decoder,
 * in the same thread) has got. */
static GstPadProbeReturn
taken_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KkLightLayer *layer = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);

  /* Only forward: after a prime the backlog counts from its last frame,
   * while the depayloader is still taking the frames before it. */
  g_mutex_lock (&layer->lock);
  if (!GST_CLOCK_TIME_IS_VALID (layer->taken_pts)
      || GST_BUFFER_PTS (buffer) > layer->taken_pts)
    layer->taken_pts = GST_BUFFER_PTS (buffer);
  g_mutex_unlock (&layer->lock);
  return GST_PAD_PROBE_OK;
}

/* ---- input (the ingest's streaming thread) ---- */

static const char *
input_state_name (InputState state)
{
  return state == INPUT_WAITING ? "waiting for a keyframe" : "running";
}

static void
set_input_state (KkLightLayer *layer, InputState state, const char *why)
{
  if (layer->state == state)
    return;
  layer->asked_pts = GST_CLOCK_TIME_NONE;
  GST_INFO ("light layer %s: %s -> %s (%s)", layer->name,
      input_state_name (layer->state), input_state_name (state), why);
  layer->state = state;
}

/* The PTS of a new frame with RTP timestamp @ts: FALSE when it goes
 * back, which a feed's timeline never does but within one frame. */
static gboolean
frame_pts (KkLightLayer *layer, guint32 ts, GstClockTime *pts)
{
  gboolean first = !layer->unwrap.started;
  gint32 step;
  gint64 ext_ts = kk_rtp_unwrap_next (&layer->unwrap, ts, &step);

  if (first) {
    layer->base_ext_ts = ext_ts;
    layer->pts_base = 0;
  } else if (step <= 0) {
    /* Start a new base just after the last frame, so PTS never goes
     * back: the ring maps them to RTP timestamps either way. */
    layer->base_ext_ts = ext_ts;
    layer->pts_base = layer->last_pts + GST_MSECOND;
    *pts = layer->pts_base;
    return FALSE;
  }
  *pts = layer->pts_base + kk_rtp_ticks_to_time (ext_ts - layer->base_ext_ts,
      CLOCK_RATE, GST_SECOND);
  return TRUE;
}

/* Waiting, on a frame that cannot be used: TRUE if a keyframe should be
 * asked for now. */
static gboolean
should_ask (KkLightLayer *layer, GstClockTime pts)
{
  if (GST_CLOCK_TIME_IS_VALID (layer->asked_pts)
      && pts < layer->asked_pts + ASK_INTERVAL_NS)
    return FALSE;
  layer->asked_pts = pts;
  return TRUE;
}

/* Returns: the decoder's backlog, media time pushed but not yet taken. */
static GstClockTime
get_backlog (KkLightLayer *layer)
{
  GstClockTime backlog = 0;

  g_mutex_lock (&layer->lock);
  if (GST_CLOCK_TIME_IS_VALID (layer->taken_pts)
      && GST_CLOCK_TIME_IS_VALID (layer->last_fed_pts)
      && layer->last_fed_pts > layer->taken_pts)
    backlog = layer->last_fed_pts - layer->taken_pts;
  g_mutex_unlock (&layer->lock);
  return backlog;
}

/* Lock held. */
static void
note_frame (KkLightLayer *layer, GstClockTime pts, KkPacket *packet)
{
  FrameEntry *entry = &layer->ring[layer->ring_next];

  entry->pts = pts;
  entry->rtp_ts = packet->timestamp;
  entry->capture_wall_us = packet->capture_wall_us;
  layer->ring_next = (layer->ring_next + 1) % RING_FRAMES;
}

/* The first packet of a frame (timestamp @ts): decides whether the frame
 * goes to the decoder. Returns TRUE if it does, with its PTS in @pts;
 * @ask_keyframe is set when a keyframe should be asked for. */
static gboolean
take_frame (KkLightLayer *layer, KkPacket *packet, GstClockTime *pts,
    gboolean *ask_keyframe)
{
  GstClockTime backlog = get_backlog (layer);
  gboolean forward;

  if (!frame_pts (layer, packet->timestamp, pts))
    set_input_state (layer, INPUT_WAITING, "timestamp went back");
  if (backlog > MAX_BACKLOG_NS && !layer->priming)
    set_input_state (layer, INPUT_WAITING, "the decoder is behind");
  else if (layer->state == INPUT_WAITING && packet->keyframe_start)
    set_input_state (layer, INPUT_RUNNING, "keyframe");
  forward = layer->state == INPUT_RUNNING;
  if (!forward)
    *ask_keyframe = should_ask (layer, *pts);

  g_mutex_lock (&layer->lock);
  layer->stats.frames_in++;
  if (forward) {
    note_frame (layer, *pts, packet);
    layer->last_fed_pts = *pts;
    /* Until the depayloader takes one, the first is its progress. */
    if (!GST_CLOCK_TIME_IS_VALID (layer->taken_pts))
      layer->taken_pts = *pts;
  } else {
    layer->stats.frames_lost++;
  }
  g_mutex_unlock (&layer->lock);
  layer->last_pts = *pts;
  return forward;
}

void
kk_light_layer_push (KkLightLayer *layer, KkPacket *packet)
{
  gboolean ask_keyframe = FALSE;
  GstClockTime pts = layer->last_pts;
  gboolean forward;

  if (g_atomic_int_get (&layer->destroyed) || g_atomic_int_get (&layer->failed)
      || packet->kind != KK_TRACK_VIDEO || packet->codec != layer->codec
      || packet->len < 12)
    return;
  if (layer->have_seq && kk_seq_diff (packet->seq, layer->last_seq) <= 0)
    return;
  if (layer->have_seq && kk_seq_diff (packet->seq, layer->last_seq) > 1) {
    set_input_state (layer, INPUT_WAITING, "packets lost");
    layer->discont = TRUE;
  }
  layer->have_seq = TRUE;
  layer->last_seq = packet->seq;

  if (!layer->unwrap.started || packet->timestamp != layer->unwrap.last)
    forward = take_frame (layer, packet, &pts, &ask_keyframe);
  else
    forward = layer->state == INPUT_RUNNING;

  if (forward) {
    kk_pipeline_feed_push (layer->src, packet, pts, layer->discont);
    layer->discont = FALSE;
  }

  if (ask_keyframe && layer->callbacks.need_keyframe != NULL)
    layer->callbacks.need_keyframe (layer->user_data);
}

/* ---- control ---- */

void
kk_light_layer_prime (KkLightLayer *layer, GPtrArray *gop)
{
  layer->priming = TRUE;
  for (guint i = 0; i < gop->len; i++)
    kk_light_layer_push (layer, gop->pdata[i]);
  layer->priming = FALSE;
  g_mutex_lock (&layer->lock);
  if (GST_CLOCK_TIME_IS_VALID (layer->last_fed_pts))
    layer->taken_pts = layer->last_fed_pts;
  g_mutex_unlock (&layer->lock);
}

void
kk_light_layer_request_keyframe (KkLightLayer *layer)
{
  if (g_atomic_int_get (&layer->destroyed))
    return;
  /* Upstream from the appsink: the payloader passes it on, and the
   * encoder makes its next frame a keyframe. */
  gst_element_send_event (layer->sink,
      gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE,
          0));
}

void
kk_light_layer_set_name (KkLightLayer *layer, const char *name)
{
  char *old = layer->name;

  layer->name = g_strdup_printf ("%s, %s", name,
      layer->codec == KK_CODEC_H264 ? "H264" : "VP8");
  g_free (old);
}

void
kk_light_layer_get_stats (KkLightLayer *layer, KkLightLayerStats *out)
{
  g_mutex_lock (&layer->lock);
  *out = layer->stats;
  out->frames_waiting = layer->queued_len;
  g_mutex_unlock (&layer->lock);
}

static void
on_pipeline_error (const GError *gst_error, const char *debug,
    gpointer user_data)
{
  KkLightLayer *layer = user_data;
  g_autoptr (GError) error = NULL;

  GST_WARNING ("light layer %s: %s (%s)", layer->name, gst_error->message,
      debug ? debug : "");
  g_atomic_int_set (&layer->failed, TRUE);
  error = g_error_new (KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_FAILED,
      "light layer: %s", gst_error->message);
  /* Last: the callback may free the layer. */
  layer->callbacks.error (error, layer->user_data);
}

/* The pipeline's only element of @klass ("Decoder", "Encoder") for
 * video, or NULL. */
static GstElement *
find_video_element (GstElement *pipeline, const char *klass)
{
  g_auto (GValue) item = G_VALUE_INIT;
  GstIterator *iter = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GstElement *found = NULL;

  while (found == NULL && gst_iterator_next (iter, &item) == GST_ITERATOR_OK) {
    GstElement *element = g_value_get_object (&item);
    GstElementFactory *factory = gst_element_get_factory (element);

    if (factory != NULL && gst_element_factory_list_is_type (factory,
            GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO)
        && strstr (gst_element_factory_get_metadata (factory,
                GST_ELEMENT_METADATA_KLASS), klass) != NULL)
      found = gst_object_ref (element);
    g_value_reset (&item);
  }
  gst_iterator_free (iter);
  return found;
}

/* Returns: (transfer full) (nullable): the element that feeds @encoder
 * (the leaky queue). */
static GstElement *
find_feeder (GstElement *encoder)
{
  g_autoptr (GstPad) sink = gst_element_get_static_pad (encoder, "sink");
  g_autoptr (GstPad) peer = sink ? gst_pad_get_peer (sink) : NULL;

  return peer ? gst_pad_get_parent_element (peer) : NULL;
}

static void
add_probe (GstElement *element, const char *pad_name, GstPadProbeType type,
    GstPadProbeCallback probe, KkLightLayer *layer)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (element, pad_name);

  gst_pad_add_probe (pad, type, probe, layer, NULL);
}

/* Loads and checks the pipeline and hooks the layer into it. */
static gboolean
build_pipeline (KkLightLayer *layer, const char *pipelines_dir,
    GError **error)
{
  const char *name = layer->codec == KK_CODEC_H264 ? "light-h264"
      : "light-vp8";
  g_autofree char *path = kk_pipeline_file_path (pipelines_dir, name);
  g_autoptr (GError) load_error = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) decoder = NULL;
  g_autoptr (GstElement) encoder = NULL;
  g_autoptr (GstElement) feeder = NULL;
  g_autoptr (GstCaps) caps = NULL;
  GstAppSinkCallbacks sink_callbacks = { .new_sample = on_new_sample };
  static const KkPipelineWatchCallbacks watch_callbacks = {
    .error = on_pipeline_error,
  };

  layer->pipeline = kk_pipeline_file_load (pipelines_dir, name, NULL, NULL,
      &load_error);
  if (layer->pipeline == NULL) {
    g_set_error_literal (error, KK_LIGHT_LAYER_ERROR,
        KK_LIGHT_LAYER_ERROR_PIPELINE, load_error->message);
    return FALSE;
  }
  src = gst_bin_get_by_name (GST_BIN (layer->pipeline), "full");
  layer->sink = gst_bin_get_by_name (GST_BIN (layer->pipeline), "light");
  decoder = find_video_element (layer->pipeline, "Decoder");
  encoder = find_video_element (layer->pipeline, "Encoder");
  if (encoder != NULL)
    feeder = find_feeder (encoder);
  if (!GST_IS_APP_SRC (src) || !GST_IS_APP_SINK (layer->sink)
      || decoder == NULL || encoder == NULL || feeder == NULL) {
    g_set_error (error, KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_PIPELINE,
        "%s: needs an appsrc named \"full\", a video decoder, a video "
        "encoder and an appsink named \"light\"", path);
    return FALSE;
  }
  layer->src = GST_APP_SRC (g_steal_pointer (&src));

  caps = kk_pipeline_feed_rtp_caps (layer->codec);
  if (layer->codec == KK_CODEC_H264)
    gst_caps_set_simple (caps, "packetization-mode", G_TYPE_STRING, "1",
        NULL);
  /* Unbounded here: push () bounds the backlog itself, by media time,
   * and drops whole stretches up to a keyframe rather than packets. */
  kk_pipeline_feed_configure (layer->src, caps, 0);
  /* Packets leave as soon as they are made: the viewers' pacing is the
   * workers' business, not the pipeline clock's. */
  g_object_set (layer->sink, "sync", FALSE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (layer->sink), &sink_callbacks,
      layer, NULL);
  add_probe (GST_ELEMENT (layer->src), "src", GST_PAD_PROBE_TYPE_BUFFER,
      taken_probe, layer);
  add_probe (decoder, "src", GST_PAD_PROBE_TYPE_BUFFER, thin_probe, layer);
  add_probe (decoder, "src", GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, caps_probe,
      layer);
  add_probe (feeder, "sink", GST_PAD_PROBE_TYPE_BUFFER, scaled_probe,
      layer);
  add_probe (encoder, "sink", GST_PAD_PROBE_TYPE_BUFFER, encoder_probe,
      layer);

  layer->watch = kk_pipeline_watch_new (layer->pipeline, layer->context,
      "kk-light-layer-error", &watch_callbacks, layer);

  if (gst_element_set_state (layer->pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_PIPELINE,
        "%s: the pipeline does not start", path);
    return FALSE;
  }
  return TRUE;
}

KkLightLayer *
kk_light_layer_new (const char *pipelines_dir, KkCodec codec,
    const KkLightLayerCallbacks *callbacks, gpointer user_data,
    GError **error)
{
  KkLightLayer *layer;

  g_return_val_if_fail (callbacks != NULL && callbacks->packet != NULL
      && callbacks->error != NULL, NULL);

  if (kk_light_layer_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_light_layer_debug, "kk-light-layer", 0,
        "Kringkast light video layer");
  if (codec != KK_CODEC_VP8 && codec != KK_CODEC_H264) {
    g_set_error (error, KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_CODEC,
        "no light layer for video codec %d", codec);
    return NULL;
  }

  layer = g_new0 (KkLightLayer, 1);
  layer->codec = codec;
  layer->name = g_strdup (codec == KK_CODEC_H264 ? "H264" : "VP8");
  layer->callbacks = *callbacks;
  layer->user_data = user_data;
  layer->context = g_main_context_ref_thread_default ();
  layer->state = INPUT_WAITING;
  kk_rtp_unwrap_init (&layer->unwrap, CLOCK_RATE);
  layer->last_pts = 0;
  layer->last_fed_pts = GST_CLOCK_TIME_NONE;
  layer->asked_pts = GST_CLOCK_TIME_NONE;
  layer->last_kept_pts = GST_CLOCK_TIME_NONE;
  layer->last_out_pts = GST_CLOCK_TIME_NONE;
  layer->taken_pts = GST_CLOCK_TIME_NONE;
  for (guint i = 0; i < RING_FRAMES; i++)
    layer->ring[i].pts = GST_CLOCK_TIME_NONE;
  g_mutex_init (&layer->lock);

  if (!build_pipeline (layer, pipelines_dir, error)) {
    kk_light_layer_free (layer);
    return NULL;
  }
  GST_INFO ("light layer %s: started", layer->name);
  return layer;
}

void
kk_light_layer_free (KkLightLayer *layer)
{
  if (layer == NULL)
    return;
  g_atomic_int_set (&layer->destroyed, TRUE);
  kk_pipeline_watch_free (layer->watch);
  /* Joins the streaming threads: no callback runs after this. */
  if (layer->pipeline != NULL)
    gst_element_set_state (layer->pipeline, GST_STATE_NULL);
  g_clear_object (&layer->src);
  g_clear_object (&layer->sink);
  g_clear_object (&layer->pipeline);
  g_main_context_unref (layer->context);
  g_mutex_clear (&layer->lock);
  g_free (layer->name);
  g_free (layer);
}
