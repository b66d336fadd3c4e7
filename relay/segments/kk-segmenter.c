/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-segmenter: a lecture as MSE segments; see kk-segmenter.h.
 *
 * States (under the lock, logged on every transition):
 *
 *   WAITING --video keyframe--> STARTING --pipeline built (main)--> RUNNING
 *   any --pipeline error--> FAILED
 *
 * Keyframes are asked for only to start (kk_segmenter_new), after video
 * was lost on the way in (the frames after a loss do not decode until
 * one), and when a player needs a start point and the newest keyframe is
 * too old (kk_segmenter_want_start_point): never merely because a
 * segment ends, since every keyframe asked for here reaches every WebRTC
 * viewer of the lecture too.
 *
 * Packets that arrive while the pipeline is being built are held in a
 * bounded queue and pushed in order once it runs, so the first segment
 * starts on the keyframe that started the segmenter and the tap never
 * waits for GStreamer. Each keeps the media time it arrived with: the
 * track's clock moves on with every later packet, and frames pushed with
 * the time of the newest would share one timestamp. h264parse (like any
 * GstBaseParse) takes a repeated timestamp for none, and mp4mux, which
 * always muxes the track whose next buffer is earliest, then takes the
 * video track's untimed frame for the latest of all and muxes audio
 * alone from then on: no video segment ever. Building the pipeline takes
 * a few milliseconds, but under a sanitizer or on a busy machine tens,
 * enough for the frame after the keyframe to be held too.
 *
 * Two locks, so that the tap (which runs before the fan-out, on the
 * packet path of every WebRTC viewer) never waits while the muxer's
 * output is cut and a segment copied: @lock guards what the tap uses,
 * @window_lock the cutter, the init segment and the window, which the
 * muxer's thread and the HTTP readers use.
 */
#include "kk-segmenter.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>

#include "kk-mp4-split.h"
#include "kk-pipeline-feed.h"
#include "kk-pipeline-file.h"
#include "kk-webm-split.h"

GST_DEBUG_CATEGORY_STATIC (kk_segmenter_debug);
#define GST_CAT_DEFAULT kk_segmenter_debug

G_DEFINE_QUARK (kk-segmenter-error-quark, kk_segmenter_error)

/* Held while the pipeline is built (a few ms): far more than enough. */
#define MAX_HELD 1024
/* Bound on what each appsrc queues; past it the oldest data goes. */
#define APPSRC_MAX_BYTES (4 * 1024 * 1024)

typedef enum {
  STATE_WAITING,
  STATE_STARTING,
  STATE_RUNNING,
  STATE_FAILED,
} SegmenterState;

/* A packet held while the pipeline is built, with its media time and
 * the wall-clock time it was captured (or arrived) at, as they were when
 * it came. */
typedef struct {
  KkPacket *packet;
  gint64 pts_us;
  gint64 wall_us;
} HeldPacket;

typedef struct {
  KkRtpUnwrap unwrap;       /* from the first packet on */
  gint64 ref_wall_us;       /* capture time of the first packet */
  gboolean have_seq;
  guint16 last_seq;
} TrackClock;

struct _KkSegmenter {
  GMutex lock;
  GMutex window_lock;
  char *pipelines_dir;
  char *name;
  char *id;
  KkSegmenterCallbacks callbacks;
  gpointer user_data;
  GMainContext *context;

  /* Under lock. */
  SegmenterState state;
  GError *failure;
  GQueue held;              /* HeldPacket, while STARTING */
  KkCodec codec;            /* these three are set before the pipeline is */
  const char *extension;    /* "webm" or "mp4" */
  const char *content_type;
  TrackClock clocks[KK_TRACK_N];
  gint64 zero_wall_us;      /* capture time of media time 0 (the start) */
  gint64 live_zero_wall_us; /* the same, as the newest video packet has it */
  gint64 last_keyframe_us;  /* media time of the last keyframe pushed */
  gint64 last_video_us;     /* media time of the newest video packet */
  gboolean keyframe_wanted;
  GstAppSrc *srcs[KK_TRACK_N];
  guint64 dropped;          /* packets lost: held too long, or refused by an appsrc */

  /* Under window_lock. */
  KkWebmSplit *webm_split;  /* VP8: one of the two splitters */
  KkMp4Split *mp4_split;    /* H.264 */
  char *mime_type;          /* with the codecs, once the init is there */
  GBytes *init;
  GQueue window;            /* KkSegment, oldest first */
  gsize window_bytes;
  guint64 next_seq;

  /* Set before the pipeline runs. */
  GstElement *mux;          /* whose inputs' caps name the codecs */

  /* Main context only. */
  GSource *build_source;
  GstElement *pipeline;
  KkPipelineWatch *watch;
};

static const char *
state_name (SegmenterState state)
{
  switch (state) {
    case STATE_WAITING:
      return "waiting";
    case STATE_STARTING:
      return "starting";
    case STATE_RUNNING:
      return "running";
    case STATE_FAILED:
      return "failed";
  }
  return "?";
}

/* Lock held. */
static void
set_state (KkSegmenter *segmenter, SegmenterState state)
{
  if (segmenter->state == state)
    return;
  GST_INFO ("segments %s: %s -> %s", segmenter->name,
      state_name (segmenter->state), state_name (state));
  segmenter->state = state;
}

static void
held_packet_free (HeldPacket *held)
{
  kk_packet_unref (held->packet);
  g_free (held);
}

KkSegment *
kk_segment_copy (const KkSegment *segment)
{
  KkSegment *copy = g_memdup2 (segment, sizeof *segment);

  copy->bytes = g_bytes_ref (segment->bytes);
  return copy;
}

void
kk_segment_free (KkSegment *segment)
{
  if (segment == NULL)
    return;
  g_bytes_unref (segment->bytes);
  g_free (segment);
}

KkSegmenter *
kk_segmenter_new (const char *pipelines_dir, const char *name,
    const KkSegmenterCallbacks *callbacks, gpointer user_data)
{
  KkSegmenter *segmenter = g_new0 (KkSegmenter, 1);
  guint8 random[8];

  if (kk_segmenter_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_segmenter_debug, "kk-segmenter", 0,
        "Kringkast HTTPS segments");

  g_mutex_init (&segmenter->lock);
  g_mutex_init (&segmenter->window_lock);
  segmenter->pipelines_dir = g_strdup (pipelines_dir);
  segmenter->name = g_strdup (name);
  /* Not a secret (the segments need the participant's token): only
   * distinct from every earlier segmenter's. */
  for (guint i = 0; i < sizeof random; i++)
    random[i] = g_random_int_range (0, 256);
  segmenter->id = g_strdup_printf ("%02x%02x%02x%02x%02x%02x%02x%02x",
      random[0], random[1], random[2], random[3], random[4], random[5],
      random[6], random[7]);
  if (callbacks != NULL)
    segmenter->callbacks = *callbacks;
  segmenter->user_data = user_data;
  segmenter->context = g_main_context_ref_thread_default ();
  kk_rtp_unwrap_init (&segmenter->clocks[KK_TRACK_AUDIO].unwrap, 48000);
  kk_rtp_unwrap_init (&segmenter->clocks[KK_TRACK_VIDEO].unwrap, 90000);
  g_queue_init (&segmenter->held);
  g_queue_init (&segmenter->window);

  if (segmenter->callbacks.need_keyframe != NULL)
    segmenter->callbacks.need_keyframe (segmenter, segmenter->user_data);
  return segmenter;
}

/* ---- the packet path (lock held) ---- */

/* Media time of the track's newest packet, in wall-clock µs: the anchor
 * (its first packet's capture time) advanced by its RTP clock. */
static gint64
track_wall_us (TrackClock *clock)
{
  return clock->ref_wall_us + kk_rtp_unwrap_elapsed (&clock->unwrap,
      G_USEC_PER_SEC);
}

static void
update_clock (TrackClock *clock, KkPacket *packet, gint64 wall_us)
{
  if (!clock->unwrap.started)
    clock->ref_wall_us = wall_us;
  kk_rtp_unwrap_next (&clock->unwrap, packet->timestamp, NULL);
}

/* @pts_us: its media time; @wall_us: when it was captured (or arrived). */
static void
push_packet (KkSegmenter *segmenter, KkPacket *packet, gint64 pts_us,
    gint64 wall_us)
{
  GstAppSrc *src = segmenter->srcs[packet->kind];

  /* Audio from before the first keyframe. */
  if (pts_us < 0 || src == NULL)
    return;
  if (packet->kind == KK_TRACK_VIDEO && packet->keyframe_start)
    segmenter->last_keyframe_us = pts_us;
  if (packet->kind == KK_TRACK_VIDEO)
    segmenter->live_zero_wall_us = wall_us - pts_us;
  if (kk_pipeline_feed_push (src, packet, pts_us * GST_USECOND, FALSE)
      != GST_FLOW_OK)
    segmenter->dropped++;

  if (packet->kind == KK_TRACK_VIDEO)
    segmenter->last_video_us = pts_us;
}

/* Keeps @packet, with its times, until the pipeline runs. */
static void
hold (KkSegmenter *segmenter, KkPacket *packet, gint64 pts_us, gint64 wall_us)
{
  HeldPacket *held = g_new (HeldPacket, 1);

  held->packet = kk_packet_ref (packet);
  held->pts_us = pts_us;
  held->wall_us = wall_us;
  g_queue_push_tail (&segmenter->held, held);
}

static gboolean build_pipeline (gpointer data);

static void
process (KkSegmenter *segmenter, KkPacket *packet, gint64 arrival_wall_us)
{
  TrackClock *clock;
  gboolean keyframe = packet->kind == KK_TRACK_VIDEO
      && packet->keyframe_start;
  gint64 wall_us = packet->capture_wall_us != 0 ? packet->capture_wall_us
      : arrival_wall_us;

  if (packet->kind >= KK_TRACK_N)
    return;
  clock = &segmenter->clocks[packet->kind];
  /* Video lost: the frames after it do not decode until a keyframe.
   * Logged, since each such keyframe also cuts a segment short. */
  if (packet->kind == KK_TRACK_VIDEO && clock->have_seq
      && kk_seq_diff (packet->seq, clock->last_seq) > 1) {
    GST_INFO ("segments %s: video lost on the way in (packet %u after %u): "
        "a keyframe is asked for", segmenter->name, packet->seq,
        clock->last_seq);
    segmenter->keyframe_wanted = TRUE;
  }
  if (clock->have_seq && kk_seq_diff (packet->seq, clock->last_seq) <= 0)
    return;
  clock->have_seq = TRUE;
  clock->last_seq = packet->seq;
  update_clock (clock, packet, wall_us);

  switch (segmenter->state) {
    case STATE_WAITING:
      if (!keyframe)
        return;
      if (packet->codec != KK_CODEC_VP8 && packet->codec != KK_CODEC_H264) {
        g_set_error (&segmenter->failure, KK_SEGMENTER_ERROR,
            KK_SEGMENTER_ERROR_CODEC,
            "HTTPS segments are made of VP8 or H.264 video only");
        set_state (segmenter, STATE_FAILED);
        return;
      }
      segmenter->codec = packet->codec;
      segmenter->extension = packet->codec == KK_CODEC_VP8 ? "webm" : "mp4";
      segmenter->content_type = packet->codec == KK_CODEC_VP8 ? "video/webm"
          : "video/mp4";
      segmenter->zero_wall_us = track_wall_us (clock);
      segmenter->last_keyframe_us = 0;
      set_state (segmenter, STATE_STARTING);
      hold (segmenter, packet, 0, wall_us);
      segmenter->build_source = g_idle_source_new ();
      g_source_set_callback (segmenter->build_source, build_pipeline,
          segmenter, NULL);
      g_source_attach (segmenter->build_source, segmenter->context);
      return;
    case STATE_STARTING:
      if (g_queue_get_length (&segmenter->held) >= MAX_HELD) {
        held_packet_free (g_queue_pop_head (&segmenter->held));
        segmenter->dropped++;
      }
      hold (segmenter, packet, track_wall_us (clock) - segmenter->zero_wall_us,
          wall_us);
      return;
    case STATE_RUNNING:
      push_packet (segmenter, packet,
          track_wall_us (clock) - segmenter->zero_wall_us, wall_us);
      return;
    case STATE_FAILED:
      return;
  }
}

void
kk_segmenter_push (KkSegmenter *segmenter, KkPacket *packet)
{
  gboolean ask;

  g_mutex_lock (&segmenter->lock);
  process (segmenter, packet, g_get_real_time ());
  ask = segmenter->keyframe_wanted;
  segmenter->keyframe_wanted = FALSE;
  g_mutex_unlock (&segmenter->lock);

  if (ask && segmenter->callbacks.need_keyframe != NULL)
    segmenter->callbacks.need_keyframe (segmenter, segmenter->user_data);
}

/* ---- the muxer's output (a streaming thread, window_lock held) ---- */

/* The MSE type: the container, and the codecs as RFC 6381 names them
 * (for H.264 the profile and level: "avc1.42e01f"), from what the muxer
 * was given. WebM's codec names are plain (GStreamer's "vp08" is the MP4
 * one). */
static char *
mime_type_of (KkSegmenter *segmenter)
{
  g_autoptr (GPtrArray) codecs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GstIterator) pads = gst_element_iterate_sink_pads (
      segmenter->mux);
  GValue item = G_VALUE_INIT;
  g_autofree char *joined = NULL;

  if (segmenter->codec == KK_CODEC_VP8)
    return g_strdup ("video/webm; codecs=\"vp8,opus\"");
  while (gst_iterator_next (pads, &item) == GST_ITERATOR_OK) {
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (
        g_value_get_object (&item));
    char *codec = caps != NULL ? gst_codec_utils_caps_get_mime_codec (caps)
        : NULL;

    /* Video first, as players list them. */
    if (codec != NULL && caps != NULL && g_str_has_prefix (
            gst_structure_get_name (gst_caps_get_structure (caps, 0)),
            "video/"))
      g_ptr_array_insert (codecs, 0, codec);
    else if (codec != NULL)
      g_ptr_array_add (codecs, codec);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  g_ptr_array_add (codecs, NULL);
  joined = g_strjoinv (",", (char **) codecs->pdata);
  return g_strdup_printf ("%s; codecs=\"%s\"", segmenter->content_type,
      joined);
}

static void
on_init (GBytes *bytes, gpointer user_data)
{
  KkSegmenter *segmenter = user_data;

  g_clear_pointer (&segmenter->init, g_bytes_unref);
  segmenter->init = g_bytes_ref (bytes);
  g_free (segmenter->mime_type);
  segmenter->mime_type = mime_type_of (segmenter);
  GST_INFO ("segments %s: %s", segmenter->name, segmenter->mime_type);
}

/* The window: dropped from its oldest end until within every bound. */
static void
trim_window (KkSegmenter *segmenter)
{
  KkSegment *newest = g_queue_peek_tail (&segmenter->window);
  KkSegment *oldest;

  while ((oldest = g_queue_peek_head (&segmenter->window)) != NULL
      && oldest != newest
      && (g_queue_get_length (&segmenter->window) > KK_SEGMENTER_MAX_SEGMENTS
          || segmenter->window_bytes > KK_SEGMENTER_MAX_BYTES
          || newest->start_us - oldest->start_us > KK_SEGMENTER_WINDOW_US)) {
    g_queue_pop_head (&segmenter->window);
    segmenter->window_bytes -= g_bytes_get_size (oldest->bytes);
    kk_segment_free (oldest);
  }
}

static void
add_segment (KkSegmenter *segmenter, GBytes *bytes, gint64 start_us,
    gint64 duration_us, gboolean keyframe)
{
  KkSegment *segment = g_new0 (KkSegment, 1);

  segment->seq = segmenter->next_seq++;
  segment->bytes = g_bytes_ref (bytes);
  segment->start_us = start_us;
  segment->duration_us = duration_us;
  segment->keyframe = keyframe;
  g_queue_push_tail (&segmenter->window, segment);
  segmenter->window_bytes += g_bytes_get_size (bytes);
  trim_window (segmenter);
  GST_LOG ("segments %s: segment %" G_GUINT64_FORMAT " at %.3f s, %.3f s, "
      "%zu bytes%s", segmenter->name, segment->seq, segment->start_us / 1e6,
      segment->duration_us / 1e6, g_bytes_get_size (bytes),
      segment->keyframe ? ", keyframe" : "");
}

static void
on_cluster (GBytes *bytes, const KkWebmClusterInfo *info, gpointer user_data)
{
  /* webmmux's TimecodeScale is 1 ms. */
  add_segment (user_data, bytes, info->timecode * 1000,
      info->duration * 1000, info->keyframe);
}

static void
on_mp4_segment (GBytes *bytes, const KkMp4SegmentInfo *info,
    gpointer user_data)
{
  add_segment (user_data, bytes, info->start_us, info->duration_us,
      info->keyframe);
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  KkSegmenter *segmenter = user_data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  g_autoptr (GError) error = NULL;
  GstBuffer *buffer = sample != NULL ? gst_sample_get_buffer (sample) : NULL;
  GstMapInfo map;
  gboolean ok = TRUE;

  if (buffer == NULL || !gst_buffer_map (buffer, &map, GST_MAP_READ))
    return GST_FLOW_OK;
  g_mutex_lock (&segmenter->window_lock);
  if (segmenter->webm_split != NULL)
    ok = kk_webm_split_push (segmenter->webm_split, map.data, map.size,
        &error);
  else if (segmenter->mp4_split != NULL)
    ok = kk_mp4_split_push (segmenter->mp4_split, map.data, map.size, &error);
  g_mutex_unlock (&segmenter->window_lock);
  gst_buffer_unmap (buffer, &map);
  if (!ok) {
    GST_WARNING ("segments %s: %s", segmenter->name, error->message);
    g_mutex_lock (&segmenter->lock);
    g_clear_error (&segmenter->failure);
    segmenter->failure = g_error_new (KK_SEGMENTER_ERROR,
        KK_SEGMENTER_ERROR_FAILED, "the muxer's output: %s", error->message);
    set_state (segmenter, STATE_FAILED);
    g_mutex_unlock (&segmenter->lock);
  }
  return ok ? GST_FLOW_OK : GST_FLOW_ERROR;
}

/* ---- the pipeline (main context) ---- */

static void
fail_pipeline (KkSegmenter *segmenter, GError *error)
{
  g_mutex_lock (&segmenter->lock);
  GST_WARNING ("segments %s: %s", segmenter->name, error->message);
  if (segmenter->failure == NULL)
    segmenter->failure = g_error_copy (error);
  set_state (segmenter, STATE_FAILED);
  g_queue_clear_full (&segmenter->held, (GDestroyNotify) held_packet_free);
  g_mutex_unlock (&segmenter->lock);
}

static void
on_pipeline_error (const GError *gst_error, const char *debug,
    gpointer user_data)
{
  g_autoptr (GError) error = g_error_new (KK_SEGMENTER_ERROR,
      KK_SEGMENTER_ERROR_FAILED, "the segments pipeline failed: %s (%s)",
      gst_error->message, debug ? debug : "");

  fail_pipeline (user_data, error);
}

static GstElement *
make_pipeline (KkSegmenter *segmenter, GstAppSrc **srcs, GstAppSink **sink,
    GError **error)
{
  const char *name = segmenter->codec == KK_CODEC_H264 ? "segments-h264"
      : "segments-vp8";
  g_autofree char *path = kk_pipeline_file_path (segmenter->pipelines_dir,
      name);
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GError) load_error = NULL;
  GstElement *appsink, *mux;

  pipeline = kk_pipeline_file_load (segmenter->pipelines_dir, name, NULL,
      NULL, &load_error);
  if (pipeline == NULL) {
    g_set_error_literal (error, KK_SEGMENTER_ERROR,
        KK_SEGMENTER_ERROR_PIPELINE, load_error->message);
    return NULL;
  }
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  mux = gst_bin_get_by_name (GST_BIN (pipeline), "mux");
  /* The appsrcs bounded: rather lose data than grow without bound if the
   * muxer stalls. */
  if (!GST_IS_APP_SINK (appsink) || mux == NULL
      || !kk_pipeline_feed_get_srcs (pipeline, segmenter->codec,
          APPSRC_MAX_BYTES, srcs)) {
    g_set_error (error, KK_SEGMENTER_ERROR, KK_SEGMENTER_ERROR_PIPELINE,
        "%s: needs appsrcs named \"video\" and \"audio\", a muxer named "
        "\"mux\" and an appsink named \"sink\"", path);
    g_clear_object (&appsink);
    g_clear_object (&mux);
    return NULL;
  }
  segmenter->mux = mux;
  *sink = GST_APP_SINK (appsink);
  return g_steal_pointer (&pipeline);
}

static gboolean
build_pipeline (gpointer data)
{
  KkSegmenter *segmenter = data;
  static const KkWebmSplitCallbacks webm_callbacks = { on_init, on_cluster };
  static const KkMp4SplitCallbacks mp4_callbacks = { on_init, on_mp4_segment };
  GstAppSinkCallbacks sink_callbacks = { .new_sample = on_new_sample };
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstAppSink) sink = NULL;
  static const KkPipelineWatchCallbacks watch_callbacks = {
    .error = on_pipeline_error,
  };
  GstAppSrc *srcs[KK_TRACK_N] = { NULL, NULL };
  HeldPacket *held;

  g_clear_pointer (&segmenter->build_source, g_source_unref);
  pipeline = make_pipeline (segmenter, srcs, &sink, &error);
  if (pipeline == NULL) {
    fail_pipeline (segmenter, error);
    return G_SOURCE_REMOVE;
  }
  /* Every buffer as soon as the muxer writes it: no clock to wait for. */
  g_object_set (sink, "sync", FALSE, NULL);
  gst_app_sink_set_callbacks (sink, &sink_callbacks, segmenter, NULL);

  g_mutex_lock (&segmenter->window_lock);
  if (segmenter->codec == KK_CODEC_H264)
    segmenter->mp4_split = kk_mp4_split_new (KK_SEGMENTER_MAX_SEGMENT_BYTES,
        KK_SEGMENTER_TARGET_MS * 1000, &mp4_callbacks, segmenter);
  else
    segmenter->webm_split = kk_webm_split_new (
        KK_SEGMENTER_MAX_SEGMENT_BYTES, &webm_callbacks, segmenter);
  g_mutex_unlock (&segmenter->window_lock);

  segmenter->watch = kk_pipeline_watch_new (pipeline, segmenter->context,
      "kk-segmenter-error", &watch_callbacks, segmenter);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_set_error (&error, KK_SEGMENTER_ERROR, KK_SEGMENTER_ERROR_PIPELINE,
        "the segments pipeline does not start");
    g_clear_pointer (&segmenter->watch, kk_pipeline_watch_free);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    for (guint i = 0; i < KK_TRACK_N; i++)
      g_clear_object (&srcs[i]);
    fail_pipeline (segmenter, error);
    return G_SOURCE_REMOVE;
  }
  segmenter->pipeline = g_steal_pointer (&pipeline);

  g_mutex_lock (&segmenter->lock);
  segmenter->srcs[KK_TRACK_VIDEO] = srcs[KK_TRACK_VIDEO];
  segmenter->srcs[KK_TRACK_AUDIO] = srcs[KK_TRACK_AUDIO];
  if (segmenter->state == STATE_STARTING) {
    set_state (segmenter, STATE_RUNNING);
    while ((held = g_queue_pop_head (&segmenter->held)) != NULL) {
      push_packet (segmenter, held->packet, held->pts_us, held->wall_us);
      held_packet_free (held);
    }
  }
  g_mutex_unlock (&segmenter->lock);
  return G_SOURCE_REMOVE;
}

void
kk_segmenter_free (KkSegmenter *segmenter)
{
  GstElement *pipeline;

  if (segmenter == NULL)
    return;
  GST_INFO ("segments %s: %" G_GUINT64_FORMAT " segments made, %"
      G_GUINT64_FORMAT " packets dropped", segmenter->name,
      segmenter->next_seq, segmenter->dropped);
  if (segmenter->build_source != NULL) {
    g_source_destroy (segmenter->build_source);
    g_clear_pointer (&segmenter->build_source, g_source_unref);
  }
  g_clear_pointer (&segmenter->watch, kk_pipeline_watch_free);
  pipeline = g_steal_pointer (&segmenter->pipeline);
  if (pipeline != NULL) {
    /* Stops the appsink's callbacks before the window goes. */
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
  }
  for (guint i = 0; i < KK_TRACK_N; i++)
    g_clear_object (&segmenter->srcs[i]);
  g_queue_clear_full (&segmenter->held, (GDestroyNotify) held_packet_free);
  g_queue_clear_full (&segmenter->window, (GDestroyNotify) kk_segment_free);
  g_clear_pointer (&segmenter->webm_split, kk_webm_split_free);
  g_clear_pointer (&segmenter->mp4_split, kk_mp4_split_free);
  g_clear_object (&segmenter->mux);
  g_free (segmenter->mime_type);
  g_clear_pointer (&segmenter->init, g_bytes_unref);
  g_clear_error (&segmenter->failure);
  g_main_context_unref (segmenter->context);
  g_mutex_clear (&segmenter->lock);
  g_mutex_clear (&segmenter->window_lock);
  g_free (segmenter->pipelines_dir);
  g_free (segmenter->name);
  g_free (segmenter->id);
  g_free (segmenter);
}

/* ---- readers (any thread) ---- */

const char *
kk_segmenter_get_id (KkSegmenter *segmenter)
{
  return segmenter->id;
}

char *
kk_segmenter_get_mime_type (KkSegmenter *segmenter)
{
  char *mime_type;

  g_mutex_lock (&segmenter->window_lock);
  mime_type = g_strdup (segmenter->mime_type);
  g_mutex_unlock (&segmenter->window_lock);
  return mime_type;
}

const char *
kk_segmenter_get_extension (KkSegmenter *segmenter)
{
  const char *extension;

  g_mutex_lock (&segmenter->lock);
  extension = segmenter->extension;
  g_mutex_unlock (&segmenter->lock);
  return extension;
}

const char *
kk_segmenter_get_content_type (KkSegmenter *segmenter)
{
  const char *content_type;

  g_mutex_lock (&segmenter->lock);
  content_type = segmenter->content_type;
  g_mutex_unlock (&segmenter->lock);
  return content_type;
}

GBytes *
kk_segmenter_get_init (KkSegmenter *segmenter)
{
  GBytes *init;

  g_mutex_lock (&segmenter->window_lock);
  init = segmenter->init != NULL ? g_bytes_ref (segmenter->init) : NULL;
  g_mutex_unlock (&segmenter->window_lock);
  return init;
}

GPtrArray *
kk_segmenter_list (KkSegmenter *segmenter)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_segment_free);

  g_mutex_lock (&segmenter->window_lock);
  for (GList *l = segmenter->window.head; l != NULL; l = l->next)
    g_ptr_array_add (list, kk_segment_copy (l->data));
  g_mutex_unlock (&segmenter->window_lock);
  return list;
}

KkSegment *
kk_segmenter_lookup (KkSegmenter *segmenter, guint64 seq)
{
  KkSegment *found = NULL;

  g_mutex_lock (&segmenter->window_lock);
  for (GList *l = segmenter->window.head; l != NULL; l = l->next) {
    KkSegment *segment = l->data;

    if (segment->seq == seq) {
      found = kk_segment_copy (segment);
      break;
    }
  }
  g_mutex_unlock (&segmenter->window_lock);
  return found;
}

gboolean
kk_segmenter_want_start_point (KkSegmenter *segmenter)
{
  gboolean ask;

  g_mutex_lock (&segmenter->lock);
  /* Still waiting for the first keyframe: kk_segmenter_new () asked,
   * but a publisher that sends keyframes only when asked may have lost
   * that request, and players wait on it. While the pipeline is built
   * the keyframe is there. */
  ask = segmenter->state == STATE_WAITING
      || (segmenter->state == STATE_RUNNING
          && segmenter->last_video_us - segmenter->last_keyframe_us
          > KK_SEGMENTER_START_MAX_AGE_MS * 1000);
  g_mutex_unlock (&segmenter->lock);
  if (!ask || segmenter->callbacks.need_keyframe == NULL)
    return FALSE;
  GST_DEBUG ("segments %s: a player needs a start point", segmenter->name);
  return segmenter->callbacks.need_keyframe (segmenter, segmenter->user_data);
}

gint64
kk_segmenter_get_zero_wall_us (KkSegmenter *segmenter)
{
  gint64 zero;

  g_mutex_lock (&segmenter->lock);
  zero = segmenter->state == STATE_WAITING ? 0
      : segmenter->live_zero_wall_us != 0 ? segmenter->live_zero_wall_us
      : segmenter->zero_wall_us;
  g_mutex_unlock (&segmenter->lock);
  return zero;
}

gboolean
kk_segmenter_is_healthy (KkSegmenter *segmenter, GError **error)
{
  gboolean healthy;

  g_mutex_lock (&segmenter->lock);
  healthy = segmenter->state != STATE_FAILED;
  if (!healthy && segmenter->failure != NULL)
    g_propagate_error (error, g_error_copy (segmenter->failure));
  g_mutex_unlock (&segmenter->lock);
  return healthy;
}
