/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-pipeline-feed: the plumbing shared by the modules that feed a
 * lecture's RTP packets, as the relay has them, into a GStreamer pipeline
 * of their own through appsrcs: the HTTPS segmenter, the light layer and
 * the recorder. Each loads its pipeline with kk-pipeline-file and then
 * needs the same three things, which live here so that they are right in
 * one place:
 *
 * - the appsrc side: RTP caps for a codec, an appsrc set up to take
 *   timed buffers without blocking the packet path, and a packet pushed
 *   as a buffer with the payload type those caps announce (a KkPacket's
 *   own is a placeholder);
 * - KkRtpUnwrap: one track's 32-bit RTP timestamps unwrapped into a
 *   64-bit timeline, and how far along it a packet is, as a time;
 * - KkPipelineWatch: the pipeline's bus watched on a given main context,
 *   its first error (and, for who asks, its end of stream) reported once.
 *
 * The appsrc functions run on whichever thread feeds the pipeline; a
 * KkRtpUnwrap belongs to its caller, who serialises its use; a watch's
 * callbacks run on the context it was given.
 */
#pragma once

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "kk-track.h"

G_BEGIN_DECLS

/* ---- the appsrc side ---- */

/**
 * kk_pipeline_feed_rtp_caps:
 * @codec: %KK_CODEC_VP8, %KK_CODEC_H264 or %KK_CODEC_OPUS
 *
 * The caps of an appsrc that takes @codec's packets as
 * kk_pipeline_feed_push () gives them: "application/x-rtp" with the
 * media, clock rate, encoding name and payload type.
 *
 * Returns: (transfer full): the caps.
 */
GstCaps *kk_pipeline_feed_rtp_caps (KkCodec codec);

/**
 * kk_pipeline_feed_configure:
 * @src: (transfer none): the pipeline's appsrc
 * @caps: (transfer none): what it takes (kk_pipeline_feed_rtp_caps (),
 *   perhaps with more fields)
 * @max_bytes: how much it may queue before the oldest data goes, or 0
 *   for no bound (the caller then bounds what it pushes itself)
 *
 * Sets @src up to take timed buffers and never to block the thread that
 * pushes: the packet path must not wait for GStreamer.
 */
void kk_pipeline_feed_configure (GstAppSrc *src, GstCaps *caps,
    guint64 max_bytes);

/**
 * kk_pipeline_feed_get_srcs:
 * @pipeline: (transfer none): a pipeline with appsrcs named "video" and
 *   "audio", the two tracks of a lecture
 * @video_codec: the video track's codec (the audio's is Opus)
 * @max_bytes: each appsrc's bound, as for kk_pipeline_feed_configure ()
 * @srcs: (out caller-allocates) (array fixed-size=KK_TRACK_N): the
 *   appsrcs by #KkTrackKind, set up with kk_pipeline_feed_configure ()
 *   (transfer full each)
 *
 * Returns: FALSE, with @srcs untouched, if @pipeline lacks either.
 */
gboolean kk_pipeline_feed_get_srcs (GstElement *pipeline, KkCodec video_codec,
    guint64 max_bytes, GstAppSrc *srcs[KK_TRACK_N]);

/**
 * kk_pipeline_feed_push:
 * @src: (transfer none): an appsrc set up by kk_pipeline_feed_configure ()
 * @packet: (transfer none): the packet, which is copied
 * @pts: the buffer's presentation time
 * @discont: whether data was lost just before @packet
 *
 * Pushes a copy of @packet into @src, with the payload type that
 * kk_pipeline_feed_rtp_caps () announces for its kind of track and its
 * marker bit kept.
 *
 * Returns: what gst_app_src_push_buffer () returned: not %GST_FLOW_OK
 *   when @src refused the buffer.
 */
GstFlowReturn kk_pipeline_feed_push (GstAppSrc *src, const KkPacket *packet,
    GstClockTime pts, gboolean discont);

/* ---- RTP timestamps as a timeline ---- */

/* One track's RTP timestamps, unwrapped. The fields are for reading;
 * kk_rtp_unwrap_init () and kk_rtp_unwrap_next () write them. */
typedef struct {
  guint clock_rate;
  gboolean started;     /* a timestamp has been seen */
  guint32 last;         /* the last timestamp, as it came */
  gint64 first;         /* the first, unwrapped: the timeline's origin */
  gint64 extended;      /* the last, unwrapped */
} KkRtpUnwrap;

void kk_rtp_unwrap_init (KkRtpUnwrap *unwrap, guint clock_rate);

/**
 * kk_rtp_unwrap_next:
 * @unwrap: the track's unwrapper
 * @timestamp: the next packet's RTP timestamp
 * @step: (out) (optional): the signed step from the last timestamp (0
 *   for the first)
 *
 * Unwraps @timestamp. A step is taken the short way round the 32-bit
 * circle, so a timestamp a little before the last one (a reordered
 * packet, a source that restarted its clock) steps back rather than
 * forward by almost 2^32, and a wrap-around steps forward.
 *
 * Returns: @timestamp unwrapped: the first as it is, each later one the
 *   last one plus the step.
 */
gint64 kk_rtp_unwrap_next (KkRtpUnwrap *unwrap, guint32 timestamp,
    gint32 *step);

/**
 * kk_rtp_unwrap_elapsed:
 * @unwrap: a started unwrapper
 * @units_per_second: the unit of the result: %GST_SECOND for
 *   nanoseconds, %G_USEC_PER_SEC for microseconds
 *
 * Returns: the time from the first timestamp to the last one, rounded;
 *   negative when the last lies before the first.
 */
gint64 kk_rtp_unwrap_elapsed (const KkRtpUnwrap *unwrap,
    gint64 units_per_second);

/* Returns: @ticks of a @clock_rate clock as a time in @units_per_second,
 * rounded to the nearest, with the sign of @ticks. */
gint64 kk_rtp_ticks_to_time (gint64 ticks, guint clock_rate,
    gint64 units_per_second);

/* ---- the bus ---- */

typedef struct {
  /* The first error the pipeline posted: GStreamer's own @error (its
   * domain says what failed, a GST_RESOURCE_ERROR a file or device) and
   * its @debug details (nullable). Nothing is reported after it. May free
   * the watch, and whatever owns it. */
  void (*error) (const GError *error, const char *debug, gpointer user_data);
  /* (nullable): the end of the stream, reported once and last; NULL
   * leaves it unwatched. May free the watch. */
  void (*eos) (gpointer user_data);
} KkPipelineWatchCallbacks;

typedef struct _KkPipelineWatch KkPipelineWatch;

/**
 * kk_pipeline_watch_new:
 * @pipeline: (transfer none): the pipeline, kept until the watch is freed
 * @context: (transfer none): where the callbacks run (the owner's context)
 * @dot_name: the name of the graph dumped on an error (with
 *   GST_DEBUG_DUMP_DOT_DIR set), "kk-segmenter-error"
 * @callbacks: (transfer none): copied
 * @user_data: for the callbacks
 *
 * Watches @pipeline's bus on @context until the first error or, with an
 * eos callback, the end of the stream.
 *
 * Returns: (transfer full): the watch; kk_pipeline_watch_free () stops
 *   it.
 */
KkPipelineWatch *kk_pipeline_watch_new (GstElement *pipeline,
    GMainContext *context, const char *dot_name,
    const KkPipelineWatchCallbacks *callbacks, gpointer user_data);

/* Stops the watch: no callback runs after this, unless it is the one
 * running now. NULL is ignored. */
void kk_pipeline_watch_free (KkPipelineWatch *watch);

G_END_DECLS
