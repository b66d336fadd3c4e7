/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-splice: one viewer's video as one stream, whichever layer it comes
 * from. A lecture's picture exists in a full and a light layer (see
 * KkLayer), each with its own packets, sequence numbers and VP8 picture
 * ids but one timeline (the light layer keeps the timestamps of the full
 * layer's frames it was made from). A viewer that moves between them, or
 * to sound only and back, must still see one SSRC with sequence numbers
 * and picture ids that simply continue, or its jitter buffer would count
 * losses and its decoder lose its references.
 *
 * The splice decides for each video packet whether the viewer gets it,
 * and how its copy is rewritten: an offset on the sequence number (and
 * on the picture id and TL0PICIDX) that changes only where the viewer
 * switched, which it does only on a keyframe of the layer it goes to
 * whose timestamp is newer than anything the viewer had (to sound only:
 * at the start of a frame). Down to the light layer, which lags the full
 * one by its encoder's latency, the full layer stops at the next frame
 * start so that the light keyframe to come is newer. Each switch point is remembered in
 * a small ring, so that a NACK of a sequence number the viewer saw maps
 * back to the layer and the packet it came from; the oldest point goes
 * when the ring is full, and NACKs from before it are not served (by then
 * the packet is out of the history as well, a few seconds at most).
 *
 * Plain data, no allocation, no locks: the worker that owns the viewer
 * calls it on its copy of each packet. Timestamps are never rewritten: the
 * layers share one timeline, so a switch needs no offset and the sender
 * reports stay true.
 */
#pragma once

#include "kk-track.h"

#include <kringkast/kk-rtp.h>

G_BEGIN_DECLS

/* Switch points kept for NACKs: a viewer switches at most every few
 * seconds, and the history holds ~1024 packets (seconds), so a few
 * points cover every packet that can still be retransmitted. */
#define KK_SPLICE_POINTS 4

/* How a packet of a layer becomes the viewer's: added to its sequence
 * number, picture id and TL0PICIDX. */
typedef struct {
  guint16 seq_delta;
  guint16 picture_id_delta;
  guint8 tl0picidx_delta;
} KkSpliceOffsets;

/* From out_seq on, the viewer's packets are @layer's with @offsets (the
 * first point's out_seq is set by the viewer's first packet). */
typedef struct {
  guint16 out_seq;
  guint8 layer;             /* KkLayer */
  KkSpliceOffsets offsets;
} KkSplicePoint;

typedef struct {
  guint8 layer;             /* KkLayer: what the viewer receives now */
  guint8 target;            /* KkLayer: what it should receive */
  KkSpliceOffsets offsets;  /* of the current layer */
  /* What the viewer got last (valid once primed): a switch continues
   * from there. */
  gboolean primed;
  guint16 next_seq;
  guint32 last_timestamp;
  gboolean have_picture_id;
  guint16 last_picture_id;
  gboolean have_tl0picidx;
  guint8 last_tl0picidx;
  KkSplicePoint points[KK_SPLICE_POINTS];
  guint n_points;
  guint newest_point;
  guint switches;
} KkSplice;

/* A viewer that has so far received @layer's packets unchanged (or
 * nothing, with KK_LAYER_AUDIO_ONLY). */
void kk_splice_init (KkSplice *splice, KkLayer layer);

/* The layer the viewer should move to; it does at the next chance. */
void kk_splice_set_target (KkSplice *splice, KkLayer target);

static inline gboolean
kk_splice_waiting (const KkSplice *splice)
{
  return splice->layer != splice->target;
}

/* Decides for one video packet (of either layer). TRUE if the viewer
 * gets it, with @offsets to apply to its copy (kk_splice_rewrite ());
 * @switched is set when the viewer moved to another layer here (also to
 * sound only, where the packet is then not sent). */
gboolean kk_splice_packet (KkSplice *splice, const KkPacket *packet,
    KkSpliceOffsets *offsets, gboolean *switched);

/* Rewrites the copy @rtp (@len bytes, stripped as kk_track_push () makes
 * them: the payload right after the fixed header) of a packet of codec
 * @codec with @offsets. */
void kk_splice_rewrite (guint8 *rtp, gsize len, KkCodec codec,
    const KkSpliceOffsets *offsets);

/* Maps a sequence number the viewer NACKed back to the layer and sequence
 * number it came from, with the offsets it was sent with. FALSE when it is
 * not sent yet, more than KK_TRACK_HISTORY back, or older than every
 * switch point kept. */
gboolean kk_splice_map (const KkSplice *splice, guint16 out_seq,
    KkLayer *layer, guint16 *layer_seq, KkSpliceOffsets *offsets);

G_END_DECLS
