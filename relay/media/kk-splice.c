/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-splice: one viewer's video as one stream across layer switches. See
 * kk-splice.h for the role and the rules.
 *
 * All arithmetic is modulo the field's width: sequence numbers 2^16,
 * picture ids 2^15 (a 7-bit id in the packet keeps the low bits, which
 * then continue modulo 2^7), TL0PICIDX 2^8. The offset at a switch is
 * "the viewer's next value minus the new layer's value here", so the
 * keyframe the viewer switches on carries exactly the number that follows
 * the last one it received.
 */
#include "kk-splice.h"

#include <string.h>

#define PICTURE_ID_MASK 0x7fff

void
kk_splice_init (KkSplice *splice, KkLayer layer)
{
  memset (splice, 0, sizeof (*splice));
  splice->layer = layer;
  splice->target = layer;
  /* The viewer's first layer: its first packet, which account () sets
   * the point's out_seq from, is the start. */
  if (layer != KK_LAYER_AUDIO_ONLY) {
    splice->points[0].layer = layer;
    splice->n_points = 1;
  }
}

void
kk_splice_set_target (KkSplice *splice, KkLayer target)
{
  splice->target = target;
}

static gboolean
vp8_ids (const KkPacket *packet, KkVp8Ids *ids)
{
  return packet->codec == KK_CODEC_VP8 && packet->len > KK_RTP_HEADER_LEN
      && kk_rtp_vp8_parse_ids (packet->data + KK_RTP_HEADER_LEN,
          packet->len - KK_RTP_HEADER_LEN, ids);
}

static void
add_point (KkSplice *splice, guint16 out_seq)
{
  KkSplicePoint *point;

  if (splice->n_points > 0)
    splice->newest_point = (splice->newest_point + 1) % KK_SPLICE_POINTS;
  if (splice->n_points < KK_SPLICE_POINTS)
    splice->n_points++;
  point = &splice->points[splice->newest_point];
  point->out_seq = out_seq;
  point->layer = splice->layer;
  point->offsets = splice->offsets;
}

/* The viewer moves to @packet's layer, on its keyframe. */
static void
switch_to (KkSplice *splice, const KkPacket *packet)
{
  KkSpliceOffsets offsets = { 0 };
  KkVp8Ids ids;

  /* A viewer that never had video may start anywhere. */
  if (splice->primed)
    offsets.seq_delta = splice->next_seq - packet->seq;
  if (vp8_ids (packet, &ids)) {
    if (ids.picture_id_bits != 0 && splice->have_picture_id)
      offsets.picture_id_delta = (splice->last_picture_id + 1 - ids.picture_id)
          & PICTURE_ID_MASK;
    if (ids.has_tl0picidx && splice->have_tl0picidx)
      offsets.tl0picidx_delta = splice->last_tl0picidx + 1 - ids.tl0picidx;
  }
  splice->layer = packet->layer;
  splice->offsets = offsets;
  splice->switches++;
  add_point (splice, packet->seq + offsets.seq_delta);
}

/* Remembers what the viewer got, for the next switch. */
static void
account (KkSplice *splice, const KkPacket *packet)
{
  KkVp8Ids ids;
  KkSplicePoint *newest = &splice->points[splice->newest_point];
  guint16 out_seq = packet->seq + splice->offsets.seq_delta;

  /* The first layer's point reaches back from the viewer's first packet
   * through the splice as far as NACKs are served: the viewer got that
   * layer's packets unchanged before (the worker splices a viewer only
   * when it first moves), and a NACK of one sent just before must map
   * to it (a link shaped to 500 kbit/s NACKed hundreds of them as the
   * viewer first moved down). */
  if (!splice->primed && splice->n_points > 0)
    newest->out_seq = out_seq - KK_TRACK_HISTORY;
  splice->primed = TRUE;
  splice->next_seq = out_seq + 1;
  /* Once the newest point is further back than any NACK is served, it
   * covers all that can be asked for: the older points go, and the point
   * moves along at the edge of the history, so that its distance from
   * next_seq never wraps past 2^16 and kk_splice_map () stays right on a
   * viewer that does not switch for hours. */
  if (splice->n_points > 0 && (guint16) (splice->next_seq - newest->out_seq)
      > KK_TRACK_HISTORY + 1) {
    newest->out_seq = splice->next_seq - KK_TRACK_HISTORY - 1;
    splice->n_points = 1;
  }
  splice->last_timestamp = packet->timestamp;
  if (vp8_ids (packet, &ids)) {
    if (ids.picture_id_bits != 0) {
      splice->have_picture_id = TRUE;
      splice->last_picture_id = (ids.picture_id
          + splice->offsets.picture_id_delta) & PICTURE_ID_MASK;
    }
    if (ids.has_tl0picidx) {
      splice->have_tl0picidx = TRUE;
      splice->last_tl0picidx = ids.tl0picidx + splice->offsets.tl0picidx_delta;
    }
  }
}

/* A packet of the layer the viewer is on that starts a new frame: the
 * last frame it got is whole. Until a packet went through here we cannot
 * tell where a frame starts. */
static gboolean
at_frame_start (const KkSplice *splice, const KkPacket *packet)
{
  return packet->layer == splice->layer && splice->primed
      && packet->timestamp != splice->last_timestamp;
}

gboolean
kk_splice_packet (KkSplice *splice, const KkPacket *packet,
    KkSpliceOffsets *offsets, gboolean *switched)
{
  *switched = FALSE;
  if (splice->target != splice->layer) {
    if (splice->target == KK_LAYER_AUDIO_ONLY) {
      if (at_frame_start (splice, packet)) {
        splice->layer = KK_LAYER_AUDIO_ONLY;
        splice->switches++;
        *switched = TRUE;
        return FALSE;
      }
    } else if (splice->target == KK_LAYER_LIGHT
        && splice->layer == KK_LAYER_FULL && at_frame_start (splice, packet)) {
      /* The light layer is made from the full one and comes out later:
       * its keyframe has the timestamp of a full frame the viewer may
       * already have. The full layer stops here, between frames, so the
       * light keyframe asked for is newer than anything sent (the picture
       * stands still meanwhile, for the light encoder's latency). */
      splice->layer = KK_LAYER_AUDIO_ONLY;
      return FALSE;
    } else if (packet->layer == splice->target && packet->keyframe_start
        && (splice->layer == KK_LAYER_AUDIO_ONLY || splice->primed)
        && (!splice->primed
            || (gint32) (packet->timestamp - splice->last_timestamp) > 0)) {
      /* Time only goes forward for the viewer: a keyframe older than
       * what it had (the light layer's, made before the full layer
       * stopped) waits for the next. */
      switch_to (splice, packet);
      *switched = TRUE;
    }
  }
  if (packet->layer != splice->layer)
    return FALSE;
  *offsets = splice->offsets;
  account (splice, packet);
  return TRUE;
}

void
kk_splice_rewrite (guint8 *rtp, gsize len, KkCodec codec,
    const KkSpliceOffsets *offsets)
{
  guint16 seq;

  if (len < KK_RTP_HEADER_LEN)
    return;
  seq = ((rtp[2] << 8) | rtp[3]) + offsets->seq_delta;
  rtp[2] = seq >> 8;
  rtp[3] = seq & 0xff;
  if (codec == KK_CODEC_VP8
      && (offsets->picture_id_delta != 0 || offsets->tl0picidx_delta != 0)) {
    guint8 *payload = rtp + KK_RTP_HEADER_LEN;
    KkVp8Ids ids;

    if (kk_rtp_vp8_parse_ids (payload, len - KK_RTP_HEADER_LEN, &ids))
      kk_rtp_vp8_write_ids (payload, &ids,
          ids.picture_id + offsets->picture_id_delta,
          ids.tl0picidx + offsets->tl0picidx_delta);
  }
}

gboolean
kk_splice_map (const KkSplice *splice, guint16 out_seq, KkLayer *layer,
    guint16 *layer_seq, KkSpliceOffsets *offsets)
{
  /* How far back from the next number the NACKed one is, modulo 2^16:
   * a signed difference would turn a recent number into a future one
   * after 2^15 packets without a switch. 0 is not sent yet; beyond the
   * history nothing can be served anyway. */
  guint16 back = splice->next_seq - out_seq;

  if (!splice->primed || back == 0 || back > KK_TRACK_HISTORY)
    return FALSE;
  /* The newest point at or before it: points further back than @back. */
  for (guint i = 0; i < splice->n_points; i++) {
    const KkSplicePoint *point = &splice->points[
        (splice->newest_point + KK_SPLICE_POINTS - i) % KK_SPLICE_POINTS];

    if ((guint16) (splice->next_seq - point->out_seq) >= back) {
      *layer = point->layer;
      *layer_seq = out_seq - point->offsets.seq_delta;
      *offsets = point->offsets;
      return TRUE;
    }
  }
  return FALSE;
}
