/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-track: one outgoing track of a lecture. See kk-track.h for the role.
 *
 * Rewriting. Each publisher source (an SSRC, and a new one after a
 * reconnect) is an epoch. The first packet of an epoch fixes two offsets so
 * that its sequence number follows the last one sent and its timestamp
 * advances by the wall-clock time since the last packet; viewers see one
 * unbroken stream and their decoders never notice the host came back.
 *
 * The history is a ring indexed by the low bits of the outgoing sequence
 * number; a slot is valid only if the packet in it has the asked-for
 * sequence number, so no separate bookkeeping of wraps is needed.
 */
#include "kk-track.h"

#include <kringkast/kk-rtp.h>
#include <string.h>

struct _KkTrack {
  KkTrackKind kind;
  KkLayer layer;
  guint32 ssrc;
  guint clock_rate;

  GMutex lock;

  /* Rewriting state (under lock: a new publisher's thread may push while
   * the old one's last buffer is still on its way). */
  gboolean have_source;
  guint32 source_ssrc;
  guint16 seq_offset;
  guint32 ts_offset;
  gboolean sent_any;
  guint16 last_seq;
  guint32 last_ts;
  gint64 last_capture_wall_us;

  KkPacket *history[KK_TRACK_HISTORY];

  GPtrArray *gop;           /* KkPacket, from the last keyframe start */
  gboolean gop_valid;
  gint64 gop_capture_wall_us;
};

KkPacket *
kk_packet_ref (KkPacket *packet)
{
  g_atomic_int_inc (&packet->refcount);
  return packet;
}

void
kk_packet_unref (KkPacket *packet)
{
  if (g_atomic_int_dec_and_test (&packet->refcount))
    g_free (packet);
}

const char *
kk_layer_to_string (KkLayer layer)
{
  switch (layer) {
    case KK_LAYER_FULL:
      return "full";
    case KK_LAYER_LIGHT:
      return "light";
    case KK_LAYER_AUDIO_ONLY:
      return "audio-only";
  }
  return "unknown";
}

KkTrack *
kk_track_new_light (guint32 ssrc)
{
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, ssrc, 90000);

  track->layer = KK_LAYER_LIGHT;
  return track;
}

KkTrack *
kk_track_new (KkTrackKind kind, guint32 ssrc, guint clock_rate)
{
  KkTrack *track = g_new0 (KkTrack, 1);

  track->kind = kind;
  track->ssrc = ssrc;
  track->clock_rate = clock_rate;
  g_mutex_init (&track->lock);
  track->gop = g_ptr_array_new_with_free_func ((GDestroyNotify) kk_packet_unref);
  /* Random starting points, as RFC 3550 §5.1 asks, so that the stream is
   * not guessable and a restarted relay does not look like a replay. */
  track->last_seq = g_random_int_range (0, 0x10000);
  track->last_ts = g_random_int ();
  return track;
}

void
kk_track_free (KkTrack *track)
{
  if (track == NULL)
    return;
  for (guint i = 0; i < KK_TRACK_HISTORY; i++)
    g_clear_pointer (&track->history[i], kk_packet_unref);
  g_ptr_array_unref (track->gop);
  g_mutex_clear (&track->lock);
  g_free (track);
}

guint32
kk_track_get_ssrc (KkTrack *track)
{
  return track->ssrc;
}

void
kk_track_reset_source (KkTrack *track)
{
  g_mutex_lock (&track->lock);
  track->have_source = FALSE;
  g_mutex_unlock (&track->lock);
}

/* Fixes the offsets of a new epoch so it continues the stream. */
static void
start_epoch (KkTrack *track, const KkRtpHeader *hdr, gint64 capture_wall_us)
{
  guint16 first_seq = track->last_seq + 1;
  guint32 first_ts = track->last_ts;

  track->source_ssrc = hdr->ssrc;
  track->seq_offset = (guint16) (first_seq - hdr->seq);
  track->have_source = TRUE;
  /* A light layer's timestamps are the full layer's already. */
  if (track->layer != KK_LAYER_FULL) {
    track->ts_offset = 0;
    return;
  }
  if (track->sent_any) {
    gint64 gap_us = capture_wall_us - track->last_capture_wall_us;

    /* At least one tick forward, so a decoder never sees time go back. */
    if (gap_us < 1000)
      gap_us = 1000;
    first_ts += (guint32) (gap_us * (gint64) track->clock_rate / G_USEC_PER_SEC);
  }
  track->ts_offset = first_ts - hdr->timestamp;
}

static gboolean
is_keyframe_start (KkCodec codec, const KkRtpHeader *hdr)
{
  switch (codec) {
    case KK_CODEC_VP8:
      return kk_rtp_vp8_is_keyframe_start (hdr->payload, hdr->payload_len);
    case KK_CODEC_H264:
      return kk_rtp_h264_is_keyframe_start (hdr->payload, hdr->payload_len);
    default:
      return FALSE;
  }
}

KkTrackPushResult
kk_track_push (KkTrack *track, const guint8 *rtp, gsize len, KkCodec codec,
    gint64 capture_wall_us, KkPacket **out, gboolean *need_keyframe)
{
  KkRtpHeader hdr;
  KkPacket *packet;
  guint16 seq;
  guint32 ts;
  gsize written;

  *out = NULL;
  *need_keyframe = FALSE;
  if (!kk_rtp_parse (rtp, len, &hdr))
    return KK_TRACK_PUSH_MALFORMED;

  packet = g_malloc (sizeof (KkPacket));
  packet->refcount = 1;
  packet->kind = track->kind;
  packet->codec = codec;
  packet->layer = track->layer;
  packet->keyframe_start = track->kind == KK_TRACK_VIDEO
      && is_keyframe_start (codec, &hdr);

  g_mutex_lock (&track->lock);

  if (!track->have_source || hdr.ssrc != track->source_ssrc)
    start_epoch (track, &hdr, capture_wall_us);

  seq = hdr.seq + track->seq_offset;
  ts = hdr.timestamp + track->ts_offset;

  /* The jitter buffer upstream delivers in order; anything at or before
   * the last sent number is a duplicate that would confuse the history. */
  if (track->sent_any && kk_seq_diff (seq, track->last_seq) <= 0) {
    g_mutex_unlock (&track->lock);
    g_free (packet);
    return KK_TRACK_PUSH_STALE;
  }

  written = kk_rtp_write_stripped (&hdr, 0, seq, ts, track->ssrc,
      packet->data, sizeof (packet->data));
  if (written == 0) {
    g_mutex_unlock (&track->lock);
    g_free (packet);
    return KK_TRACK_PUSH_TOO_BIG;
  }
  packet->len = written;
  packet->seq = seq;
  packet->timestamp = ts;
  packet->capture_wall_us = capture_wall_us;

  track->sent_any = TRUE;
  track->last_seq = seq;
  track->last_ts = ts;
  track->last_capture_wall_us = capture_wall_us;

  {
    KkPacket **slot = &track->history[seq % KK_TRACK_HISTORY];

    g_clear_pointer (slot, kk_packet_unref);
    *slot = kk_packet_ref (packet);
  }

  /* H.264 keyframes start with the parameter sets (SPS, PPS) and then the
   * IDR slice, often in separate packets, all with one timestamp: only the
   * first of them starts a GOP, or the cached GOP would lose the parameter
   * sets a decoder needs. */
  if (packet->keyframe_start && track->gop_valid && track->gop->len > 0
      && ((KkPacket *) track->gop->pdata[0])->timestamp == ts)
    packet->keyframe_start = FALSE;

  if (track->kind == KK_TRACK_VIDEO) {
    if (packet->keyframe_start) {
      g_ptr_array_set_size (track->gop, 0);
      track->gop_valid = TRUE;
      track->gop_capture_wall_us = capture_wall_us;
    }
    if (track->gop_valid) {
      if (track->gop->len >= KK_TRACK_GOP_MAX) {
        g_ptr_array_set_size (track->gop, 0);
        track->gop_valid = FALSE;
        *need_keyframe = TRUE;
      } else {
        g_ptr_array_add (track->gop, kk_packet_ref (packet));
      }
    }
  }

  g_mutex_unlock (&track->lock);

  *out = packet;
  return KK_TRACK_PUSH_OK;
}

KkPacket *
kk_track_lookup (KkTrack *track, guint16 seq)
{
  KkPacket *packet;

  g_mutex_lock (&track->lock);
  packet = track->history[seq % KK_TRACK_HISTORY];
  if (packet != NULL && packet->seq == seq)
    kk_packet_ref (packet);
  else
    packet = NULL;
  g_mutex_unlock (&track->lock);
  return packet;
}

KkPacket *
kk_track_get_newest (KkTrack *track)
{
  KkPacket *packet = NULL;

  g_mutex_lock (&track->lock);
  if (track->sent_any) {
    packet = track->history[track->last_seq % KK_TRACK_HISTORY];
    if (packet != NULL)
      kk_packet_ref (packet);
  }
  g_mutex_unlock (&track->lock);
  return packet;
}

GPtrArray *
kk_track_get_gop (KkTrack *track, gint64 *keyframe_age_us)
{
  GPtrArray *copy;

  g_mutex_lock (&track->lock);
  copy = g_ptr_array_new_full (track->gop->len,
      (GDestroyNotify) kk_packet_unref);
  for (guint i = 0; i < track->gop->len; i++)
    g_ptr_array_add (copy, kk_packet_ref (track->gop->pdata[i]));
  if (track->gop_valid && track->gop->len > 0)
    *keyframe_age_us = g_get_real_time () - track->gop_capture_wall_us;
  else
    *keyframe_age_us = G_MAXINT64;
  g_mutex_unlock (&track->lock);
  return copy;
}

GPtrArray *
kk_track_get_recent (KkTrack *track, gint64 since_wall_us)
{
  GPtrArray *recent = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_packet_unref);

  g_mutex_lock (&track->lock);
  /* Back from the newest, while the history still has each packet. */
  for (guint i = 0; track->sent_any && i < KK_TRACK_HISTORY; i++) {
    guint16 seq = track->last_seq - i;
    KkPacket *packet = track->history[seq % KK_TRACK_HISTORY];

    if (packet == NULL || packet->seq != seq
        || packet->capture_wall_us < since_wall_us)
      break;
    g_ptr_array_add (recent, kk_packet_ref (packet));
  }
  g_mutex_unlock (&track->lock);
  /* Oldest first. */
  for (guint i = 0; i < recent->len / 2; i++) {
    gpointer newer = recent->pdata[i];

    recent->pdata[i] = recent->pdata[recent->len - 1 - i];
    recent->pdata[recent->len - 1 - i] = newer;
  }
  return recent;
}

gboolean
kk_track_rtp_time_at (KkTrack *track, gint64 now_wall_us, guint32 *rtp_ts)
{
  gboolean ok;

  g_mutex_lock (&track->lock);
  ok = track->sent_any;
  if (ok) {
    gint64 delta_us = now_wall_us - track->last_capture_wall_us;

    *rtp_ts = track->last_ts
        + (guint32) (delta_us * (gint64) track->clock_rate / G_USEC_PER_SEC);
  }
  g_mutex_unlock (&track->lock);
  return ok;
}
