/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-segmenter: one lecture as short media segments for viewers that can
 * only make plain HTTP(S) requests (a workplace proxy that lets nothing
 * else out): the last resort after every WebRTC path.
 *
 * It is a feed's tap, like a recorder: the packets the WebRTC viewers get
 * are depayloaded and muxed, never re-encoded, by a pipeline read from
 * pipelines/segments-<codec>.pipeline (appsrcs "video" and "audio", a
 * muxer "mux", an appsink "sink"). VP8 and Opus go into live WebM
 * (webmmux, streamable); kk-webm-split cuts it into one initialization
 * segment and one media segment per Cluster. H.264 and Opus go into
 * fragmented MP4 (mp4mux, fragments of a fraction of a second, a new
 * video fragment at every keyframe); kk-mp4-split cuts it into the
 * initialization segment (ftyp, moov) and media segments of whole
 * fragments. Each segment is complete, so a proxy that buffers whole
 * responses passes each whole. The segments are immutable GBytes: an
 * HTTP reply shares them, a slow reader holds a reference, never a copy.
 *
 * Segments and keyframes. A segment ends about every
 * KK_SEGMENTER_TARGET_MS at a frame boundary (webmmux's
 * max-cluster-duration, kk-mp4-split's target), and at every video
 * keyframe, so a segment starts on a keyframe only when the publisher
 * sent one there (KkSegment.keyframe). Media Source Extensions take a
 * segment that does not start on a keyframe as the continuation of the
 * one before it when a player appends them in order: a player starts
 * with the init segment and the newest keyframe segment, then appends
 * every later one. So segments stay about a second long whatever the
 * publisher's GOP, and the segmenter never asks for keyframes to cut
 * them: a keyframe asked for reaches every WebRTC viewer of the lecture
 * too, and at a fixed bitrate costs them all picture quality. Keyframes
 * are asked for only to start, after video lost on the way in, and when
 * a player needs a start point while the newest keyframe is older than
 * KK_SEGMENTER_START_MAX_AGE_MS (kk_segmenter_want_start_point ()).
 *
 * A bounded window of recent segments is kept (KK_SEGMENTER_WINDOW_US of
 * media, at most KK_SEGMENTER_MAX_SEGMENTS and KK_SEGMENTER_MAX_BYTES);
 * older ones are dropped and then unknown (404).
 *
 * Timestamps: each track's media time is its RTP timestamp, anchored on
 * the capture time of its first packet (the feed's clock, shared by both
 * tracks), counted from the first video keyframe. Where live is, in media
 * time, follows the newest video packet: its capture time (or arrival)
 * less its media time gives kk_segmenter_get_zero_wall_us (), so a
 * viewer's distance from live is measured by the relay's own clock, also
 * after a publisher's pause, which the feed bridges with continuous RTP
 * timestamps that then run behind the wall clock.
 *
 * Threads: kk_segmenter_push () runs on the ingest's streaming thread and
 * never blocks; the muxer's output arrives on a GStreamer thread; the
 * rest on the main context the segmenter was made on. The readers of the
 * window may run on any thread.
 */
#pragma once

#include <glib.h>
#include "kk-track.h"

G_BEGIN_DECLS

#define KK_SEGMENTER_ERROR (kk_segmenter_error_quark ())
GQuark kk_segmenter_error_quark (void);

typedef enum {
  KK_SEGMENTER_ERROR_PIPELINE,  /* the pipeline file is unusable */
  KK_SEGMENTER_ERROR_CODEC,     /* no segments for this codec */
  KK_SEGMENTER_ERROR_FAILED,    /* the pipeline or the muxer's output failed */
} KkSegmenterError;

/* A segment ends after about this long, keyframe or not. */
#define KK_SEGMENTER_TARGET_MS 1000
/* A player starting at a keyframe older than this (in media time, behind
 * the newest video) would start too far behind live: a keyframe is asked
 * for. A player a little behind catches up by playing faster. */
#define KK_SEGMENTER_START_MAX_AGE_MS 2000
/* The window of recent segments. */
#define KK_SEGMENTER_WINDOW_US (12 * G_USEC_PER_SEC)
#define KK_SEGMENTER_MAX_SEGMENTS 24
#define KK_SEGMENTER_MAX_BYTES (24 * 1024 * 1024)
/* One segment (a Cluster) larger than this is an error: a lecture's GOP
 * at a few Mbit/s is far below. */
#define KK_SEGMENTER_MAX_SEGMENT_BYTES (8 * 1024 * 1024)

typedef struct {
  guint64 seq;              /* 0, 1, 2... in the order made */
  GBytes *bytes;            /* the segment: a WebM Cluster, or MP4 fragments */
  gint64 start_us;          /* media time of its first frame */
  gint64 duration_us;       /* to its last frame, plus one frame */
  gboolean keyframe;        /* starts on a video keyframe */
} KkSegment;

/* Returns: (transfer full): a copy of @segment, sharing its bytes. */
KkSegment *kk_segment_copy (const KkSegment *segment);
void kk_segment_free (KkSegment *segment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkSegment, kk_segment_free)

typedef struct _KkSegmenter KkSegmenter;

typedef struct {
  /* Any thread, never from under the segmenter's lock: a keyframe is
   * needed (the start, video lost, or a player's start point); the
   * caller folds requests that come close together. Returns whether the
   * publisher was asked (FALSE when folded into an earlier request). */
  gboolean (*need_keyframe) (KkSegmenter *segmenter, gpointer user_data);
} KkSegmenterCallbacks;

/**
 * kk_segmenter_new:
 * @pipelines_dir: where segments-<codec>.pipeline files are
 * @name: for log lines (the room)
 *
 * The pipeline is built at the first video keyframe, when the codec is
 * known. need_keyframe is called from here, once, to get one soon.
 *
 * Returns: (transfer full)
 */
KkSegmenter *kk_segmenter_new (const char *pipelines_dir, const char *name,
    const KkSegmenterCallbacks *callbacks, gpointer user_data);
/* The caller removes the tap first. No callback runs after this. */
void kk_segmenter_free (KkSegmenter *segmenter);

/* The tap: any thread, never blocks. */
void kk_segmenter_push (KkSegmenter *segmenter, KkPacket *packet);

/* Returns: (transfer none): a name for this segmenter's segments, new for
 * each segmenter, so that a URL of an earlier one is never taken for a
 * segment of this one. */
const char *kk_segmenter_get_id (KkSegmenter *segmenter);
/* Returns: (transfer full) (nullable): the MSE type of the segments,
 * e.g. `video/webm; codecs="vp8,opus"`, once the init segment is there. */
char *kk_segmenter_get_mime_type (KkSegmenter *segmenter);
/* Returns: (transfer none) (nullable): the segments' file extension
 * ("webm", "mp4") and content type ("video/webm", "video/mp4"), once the
 * codec is known. */
const char *kk_segmenter_get_extension (KkSegmenter *segmenter);
const char *kk_segmenter_get_content_type (KkSegmenter *segmenter);
/* Returns: (transfer full) (nullable): the initialization segment, once
 * the muxer wrote it. */
GBytes *kk_segmenter_get_init (KkSegmenter *segmenter);
/* Returns: (transfer full) (element-type KkSegment): the window, oldest
 * first. */
GPtrArray *kk_segmenter_list (KkSegmenter *segmenter);
/* Returns: (transfer full) (nullable): segment @seq, if still in the
 * window. */
KkSegment *kk_segmenter_lookup (KkSegmenter *segmenter, guint64 seq);
/* A player needs a start point (it is new, or resyncs after a gap): if
 * there is no keyframe yet, or the newest is older than
 * KK_SEGMENTER_START_MAX_AGE_MS, a keyframe is asked for (need_keyframe,
 * from this call). Any thread.
 * Returns: whether one was asked of the publisher (FALSE when none was
 * needed, and when need_keyframe folded it into an earlier request). */
gboolean kk_segmenter_want_start_point (KkSegmenter *segmenter);
/* The wall-clock time (g_get_real_time) of media time 0, as the newest
 * video packet has it: live is at media time now - this. 0 before the
 * first keyframe. */
gint64 kk_segmenter_get_zero_wall_us (KkSegmenter *segmenter);
/* Returns: FALSE once the pipeline failed (with @error set to why): the
 * segmenter makes no more segments and should be replaced. */
gboolean kk_segmenter_is_healthy (KkSegmenter *segmenter, GError **error);

G_END_DECLS
