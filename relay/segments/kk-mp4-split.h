/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-mp4-split: cuts a live fragmented MP4 stream (what mp4mux writes
 * with fragment-duration and streamable=true: ftyp, moov, then moof+mdat
 * pairs, one track per moof) into the pieces Media Source Extensions take
 * in turn: one initialization segment (every box before the first moof)
 * and media segments of whole fragments, each starting with the moof of
 * a video fragment and holding every fragment of every track up to the
 * next segment's. A segment ends before a video fragment whose first
 * sample is a sync sample (a keyframe), so that a player can start
 * there, and before any video fragment once its video has lasted about
 * the target: so segments stay short whatever the publisher's GOP, and
 * those that do not start on a keyframe continue the one before (a
 * player appends them in order). The first segment starts at the first
 * keyframe; what comes before it is no part of any segment.
 *
 * The video track, its timescale and its defaults come from the moov
 * (tkhd, mdhd, hdlr, mvex/trex; ISO/IEC 14496-12); each segment's start
 * from its first video fragment's tfdt, its duration from the video
 * samples' durations (trun, or the tfhd and trex defaults).
 *
 * Pure: bytes in, pieces out through a callback, on the caller's thread.
 * Bad input (not fragmented MP4, a box or a segment over the bound, boxes
 * that do not fit in their parent) is a GError, after which the splitter
 * takes nothing more.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_MP4_SPLIT_ERROR (kk_mp4_split_error_quark ())
GQuark kk_mp4_split_error_quark (void);

typedef enum {
  KK_MP4_SPLIT_ERROR_INVALID,     /* not the fragmented MP4 of a live muxer */
  KK_MP4_SPLIT_ERROR_TOO_BIG,     /* a box or a segment over the bound */
} KkMp4SplitError;

typedef struct {
  gint64 start_us;          /* the first video sample's decode time */
  gint64 duration_us;       /* the video samples' durations */
  gboolean keyframe;        /* it starts on a video sync sample (else it
                             * continues the segment before it) */
} KkMp4SegmentInfo;

typedef struct {
  /* The initialization segment, once, before the first segment. */
  void (*init) (GBytes *bytes, gpointer user_data);
  /* Each complete segment. */
  void (*segment) (GBytes *bytes, const KkMp4SegmentInfo *info,
      gpointer user_data);
} KkMp4SplitCallbacks;

typedef struct _KkMp4Split KkMp4Split;

/* @max_element: the largest box, and the largest segment, accepted.
 * @target_us: a segment's video ends at the first video fragment after
 * about this long (or at a keyframe before).
 * Returns: (transfer full) */
KkMp4Split *kk_mp4_split_new (gsize max_element, gint64 target_us,
    const KkMp4SplitCallbacks *callbacks, gpointer user_data);
void kk_mp4_split_free (KkMp4Split *split);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkMp4Split, kk_mp4_split_free)

/* Feeds the next @len bytes of the stream; callbacks run from here.
 * Returns: FALSE with @error on bad input (and for every call after). */
gboolean kk_mp4_split_push (KkMp4Split *split, const guint8 *data,
    gsize len, GError **error);
/* The stream ended: the segment under way is complete now. */
gboolean kk_mp4_split_finish (KkMp4Split *split, GError **error);

G_END_DECLS
