/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-splice: a viewer moved between the full and the light
 * layer and sound only sees one continuous stream. Both layers are made
 * the way the relay makes them (kk_track_push on a full track, and on a
 * light track fed with the full layer's own timestamps, at half the frame
 * rate, with its own picture ids and sequence numbers), interleaved as a
 * worker receives them, and the viewer's copies checked: sequence numbers
 * +1 each, timestamps never going back, VP8 picture ids +1 per picture
 * and TL0PICIDX continuing, switches only on a keyframe of the layer
 * switched to; every NACK maps back to the packet the viewer was sent,
 * rewritten to the same bytes.
 */
#include "kk-splice.h"

#include <kringkast/kk-rtp.h>
#include <string.h>

#define SSRC 0x0a0b0c0d
#define PACKETS_PER_FRAME 3

typedef struct {
  KkTrack *full;
  KkTrack *light;
  guint16 full_seq, light_seq;      /* the encoders' own numbering */
  guint16 full_pid, light_pid;
  guint8 full_tl0, light_tl0;
  guint32 ts;                       /* the host's time */
  guint frame;
  GPtrArray *sent;                  /* Sent */
  /* The light encoder's latency, in frames, and its output on the way. */
  guint light_lag;
  GQueue light_queue;               /* KkPacket, due light_lag frames later */
  GQueue light_due;                 /* guint frame numbers, beside them */
} Fixture;

/* What the viewer received: its copy, and where it came from. */
typedef struct {
  guint8 data[KK_PACKET_MAX];
  gsize len;
  KkPacket *packet;
} Sent;

static void
sent_free (gpointer data)
{
  Sent *sent = data;

  kk_packet_unref (sent->packet);
  g_free (sent);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->full = kk_track_new (KK_TRACK_VIDEO, SSRC, 90000);
  f->light = kk_track_new_light (SSRC);
  f->full_seq = 65000;          /* wraps during the test */
  f->light_seq = 17;
  f->full_pid = 32700;          /* wraps at 2^15 */
  f->light_pid = 5;
  f->full_tl0 = 250;
  f->light_tl0 = 0;
  f->ts = 4000000000u;          /* wraps */
  f->sent = g_ptr_array_new_with_free_func (sent_free);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_queue_clear_full (&f->light_queue, (GDestroyNotify) kk_packet_unref);
  g_queue_clear (&f->light_due);
  g_ptr_array_unref (f->sent);
  kk_track_free (f->full);
  kk_track_free (f->light);
}

/* One RTP packet of a VP8 picture: 15-bit picture id, TL0PICIDX; the
 * first packet of a picture has S set and the frame header's P bit says
 * key (0) or delta (1). */
static KkPacket *
push (KkTrack *track, guint32 source_ssrc, guint16 seq, guint32 ts,
    guint16 pid, guint8 tl0, gboolean first, gboolean key)
{
  guint8 buf[64];
  gsize len = 0;
  KkPacket *packet = NULL;
  gboolean need_keyframe;

  buf[len++] = 0x80;
  buf[len++] = 96;
  buf[len++] = seq >> 8;
  buf[len++] = seq;
  buf[len++] = ts >> 24;
  buf[len++] = ts >> 16;
  buf[len++] = ts >> 8;
  buf[len++] = ts;
  buf[len++] = source_ssrc >> 24;
  buf[len++] = source_ssrc >> 16;
  buf[len++] = source_ssrc >> 8;
  buf[len++] = source_ssrc;
  buf[len++] = 0x80 | (first ? 0x10 : 0);     /* X, S */
  buf[len++] = 0xc0;                          /* I, L */
  buf[len++] = 0x80 | (pid >> 8);
  buf[len++] = pid & 0xff;
  buf[len++] = tl0;
  buf[len++] = first ? (key ? 0x50 : 0x51) : 0x77;
  buf[len++] = 0xaa;
  g_assert_cmpint (kk_track_push (track, buf, len, KK_CODEC_VP8, 0, &packet,
          &need_keyframe), ==, KK_TRACK_PUSH_OK);
  return packet;
}

/* Hands the viewer one packet, keeping its copy when it gets it. */
static void
offer (Fixture *f, KkSplice *splice, KkPacket *packet, guint *switches_seen)
{
  KkSpliceOffsets offsets;
  gboolean switched;

  if (kk_splice_packet (splice, packet, &offsets, &switched)) {
    Sent *sent = g_new0 (Sent, 1);

    memcpy (sent->data, packet->data, packet->len);
    sent->len = packet->len;
    kk_splice_rewrite (sent->data, sent->len, packet->codec, &offsets);
    sent->packet = kk_packet_ref (packet);
    g_ptr_array_add (f->sent, sent);
    /* A switch to a picture layer happens on its keyframe. */
    if (switched)
      g_assert_true (packet->keyframe_start);
  }
  if (switched)
    (*switches_seen)++;
  kk_packet_unref (packet);
}

/* One frame time: a full-layer picture (a keyframe every @full_gop
 * frames), and every other frame a light picture made from it, with the
 * same timestamp (a keyframe every @light_gop of its frames, or when
 * @light_key asks). The light packets arrive after the full ones, as
 * the light encoder's output lags its input. */
static void
frame (Fixture *f, KkSplice *splice, guint full_gop, guint light_gop,
    gboolean light_key, guint *switches)
{
  gboolean full_key = f->frame % full_gop == 0;
  guint32 lecture_ts = 0;

  /* The light packets made light_lag frames ago come out now. */
  while (!g_queue_is_empty (&f->light_due)
      && GPOINTER_TO_UINT (g_queue_peek_head (&f->light_due)) <= f->frame) {
    g_queue_pop_head (&f->light_due);
    offer (f, splice, g_queue_pop_head (&f->light_queue), switches);
  }

  for (guint i = 0; i < PACKETS_PER_FRAME; i++) {
    KkPacket *packet = push (f->full, 0x1111, f->full_seq++, f->ts,
        f->full_pid, f->full_tl0, i == 0, full_key);

    /* The light encoder is fed the full layer as viewers get it. */
    lecture_ts = packet->timestamp;
    offer (f, splice, packet, switches);
  }
  f->full_pid = (f->full_pid + 1) & 0x7fff;
  f->full_tl0++;
  if (f->frame % 2 == 0) {
    guint light_frame = f->frame / 2;
    gboolean key = light_key || light_frame % light_gop == 0;

    for (guint i = 0; i < 2; i++) {
      KkPacket *packet = push (f->light, 0x2222, f->light_seq++, lecture_ts,
          f->light_pid, f->light_tl0, i == 0, key);

      if (f->light_lag == 0) {
        offer (f, splice, packet, switches);
      } else {
        g_queue_push_tail (&f->light_queue, packet);
        g_queue_push_tail (&f->light_due, GUINT_TO_POINTER (f->frame + f->light_lag));
      }
    }
    f->light_pid = (f->light_pid + 1) & 0x7fff;
    f->light_tl0++;
  }
  f->ts += 3000;
  f->frame++;
}

/* The viewer's copies, in order: one stream. */
static void
check_continuous (Fixture *f)
{
  KkRtpHeader prev = { 0 }, hdr;
  KkVp8Ids prev_ids = { 0 }, ids;

  for (guint i = 0; i < f->sent->len; i++) {
    Sent *sent = f->sent->pdata[i];

    g_assert_true (kk_rtp_parse (sent->data, sent->len, &hdr));
    g_assert_cmphex (hdr.ssrc, ==, SSRC);
    g_assert_true (kk_rtp_vp8_parse_ids (hdr.payload, hdr.payload_len, &ids));
    if (i > 0) {
      gboolean new_picture = hdr.timestamp != prev.timestamp;

      g_assert_cmpuint (hdr.seq, ==, (guint16) (prev.seq + 1));
      g_assert_cmpint ((gint32) (hdr.timestamp - prev.timestamp), >=, 0);
      if (new_picture) {
        g_assert_cmpuint (ids.picture_id, ==, (prev_ids.picture_id + 1) & 0x7fff);
        g_assert_cmpuint (ids.tl0picidx, ==, (guint8) (prev_ids.tl0picidx + 1));
      } else {
        g_assert_cmpuint (ids.picture_id, ==, prev_ids.picture_id);
      }
    }
    prev = hdr;
    prev_ids = ids;
  }
}

static guint
count_layer (Fixture *f, guint from, KkLayer layer)
{
  guint n = 0;

  for (guint i = from; i < f->sent->len; i++)
    n += ((Sent *) f->sent->pdata[i])->packet->layer == layer;
  return n;
}

/* Full, then light (waiting for its keyframe), sound only, full again
 * (on the host's next keyframe), light again. */
static void
test_switches_continuous (Fixture *f, gconstpointer data)
{
  KkSplice splice;
  guint switches = 0, mark;

  kk_splice_init (&splice, KK_LAYER_FULL);
  for (guint i = 0; i < 20; i++)
    frame (f, &splice, 60, 8, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 0);
  g_assert_cmpuint (count_layer (f, 0, KK_LAYER_LIGHT), ==, 0);
  g_assert_cmpuint (f->sent->len, ==, 20 * PACKETS_PER_FRAME);

  /* Down to light: the full layer stops at the next frame, and the
   * viewer's picture stands still until light's keyframe (its frame 16 =
   * full frame 32). */
  kk_splice_set_target (&splice, KK_LAYER_LIGHT);
  g_assert_true (kk_splice_waiting (&splice));
  mark = f->sent->len;
  for (guint i = 0; i < 12; i++)
    frame (f, &splice, 60, 8, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 0);
  g_assert_cmpuint (splice.layer, ==, KK_LAYER_AUDIO_ONLY);
  g_assert_cmpuint (f->sent->len, ==, mark);
  g_assert_true (kk_splice_waiting (&splice));
  frame (f, &splice, 60, 8, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 1);
  g_assert_cmpuint (splice.layer, ==, KK_LAYER_LIGHT);
  g_assert_false (kk_splice_waiting (&splice));
  g_assert_cmpuint (count_layer (f, mark, KK_LAYER_FULL), ==, 0);
  g_assert_true (((Sent *) f->sent->pdata[mark])->packet->keyframe_start);
  for (guint i = 0; i < 10; i++)
    frame (f, &splice, 60, 8, FALSE, &switches);
  mark = f->sent->len - 10;
  g_assert_cmpuint (count_layer (f, mark, KK_LAYER_FULL), ==, 0);

  /* Sound only: at the next light picture, nothing more. */
  kk_splice_set_target (&splice, KK_LAYER_AUDIO_ONLY);
  mark = f->sent->len;
  for (guint i = 0; i < 10; i++)
    frame (f, &splice, 60, 8, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 2);
  g_assert_cmpuint (f->sent->len, ==, mark);

  /* Back to full, which waits for the host's keyframe (frame 60). */
  kk_splice_set_target (&splice, KK_LAYER_FULL);
  while (f->frame < 60) {
    frame (f, &splice, 60, 8, FALSE, &switches);
    g_assert_cmpuint (f->sent->len, ==, mark);
  }
  frame (f, &splice, 60, 8, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 3);
  g_assert_cmpuint (f->sent->len, ==, mark + PACKETS_PER_FRAME);

  /* And light again, on a keyframe asked for at once. */
  for (guint i = 0; i < 5; i++)
    frame (f, &splice, 60, 1000, FALSE, &switches);
  kk_splice_set_target (&splice, KK_LAYER_LIGHT);
  frame (f, &splice, 60, 1000, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 3);
  frame (f, &splice, 60, 1000, TRUE, &switches);
  frame (f, &splice, 60, 1000, TRUE, &switches);
  g_assert_cmpuint (switches, ==, 4);
  g_assert_cmpuint (splice.layer, ==, KK_LAYER_LIGHT);
  for (guint i = 0; i < 8; i++)
    frame (f, &splice, 60, 1000, FALSE, &switches);
  g_assert_cmpuint (splice.switches, ==, 4);

  check_continuous (f);
}

/* Every packet the viewer was sent since the oldest switch point kept is
 * found again from its NACKed number, in its own layer's history, and
 * rewritten to the very bytes it was sent as. Numbers not sent yet are
 * not served. */
static void
test_nack_maps_back (Fixture *f, gconstpointer data)
{
  KkSplice splice;
  guint switches = 0;
  guint served = 0;

  kk_splice_init (&splice, KK_LAYER_FULL);
  for (guint round = 0; round < 3; round++) {
    kk_splice_set_target (&splice, KK_LAYER_LIGHT);
    for (guint i = 0; i < 4; i++)
      frame (f, &splice, 12, 1000, TRUE, &switches);
    kk_splice_set_target (&splice, KK_LAYER_FULL);
    for (guint i = 0; i < 12; i++)
      frame (f, &splice, 12, 1000, FALSE, &switches);
  }
  g_assert_cmpuint (splice.switches, ==, 6);
  check_continuous (f);

  for (guint i = 0; i < f->sent->len; i++) {
    Sent *sent = f->sent->pdata[i];
    guint16 out_seq = (sent->data[2] << 8) | sent->data[3];
    KkLayer layer;
    guint16 layer_seq;
    KkSpliceOffsets offsets;
    g_autoptr (KkPacket) packet = NULL;
    guint8 copy[KK_PACKET_MAX];

    if (!kk_splice_map (&splice, out_seq, &layer, &layer_seq, &offsets))
      continue;
    g_assert_cmpuint (layer, ==, sent->packet->layer);
    g_assert_cmpuint (layer_seq, ==, sent->packet->seq);
    packet = kk_track_lookup (layer == KK_LAYER_FULL ? f->full : f->light,
        layer_seq);
    g_assert_nonnull (packet);
    memcpy (copy, packet->data, packet->len);
    kk_splice_rewrite (copy, packet->len, packet->codec, &offsets);
    g_assert_cmpmem (copy, packet->len, sent->data, sent->len);
    served++;
  }
  /* The four newest points cover the last two round trips at least. */
  g_assert_cmpuint (served, >=, f->sent->len / 2);
  {
    KkLayer layer;
    guint16 layer_seq, next = splice.next_seq;
    KkSpliceOffsets offsets;

    g_assert_false (kk_splice_map (&splice, next, &layer, &layer_seq, &offsets));
  }
}

/* A viewer that had no video yet (it waits, sound only) starts on the
 * light layer's keyframe; one that never switches is sent every full
 * packet unchanged. */
static void
test_start_and_untouched (Fixture *f, gconstpointer data)
{
  KkSplice splice;
  guint switches = 0;

  kk_splice_init (&splice, KK_LAYER_AUDIO_ONLY);
  kk_splice_set_target (&splice, KK_LAYER_LIGHT);
  for (guint i = 0; i < 20; i++)
    frame (f, &splice, 60, 4, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 1);
  g_assert_cmpuint (count_layer (f, 0, KK_LAYER_FULL), ==, 0);
  g_assert_true (((Sent *) f->sent->pdata[0])->packet->keyframe_start);
  check_continuous (f);

  g_ptr_array_set_size (f->sent, 0);
  kk_splice_init (&splice, KK_LAYER_FULL);
  for (guint i = 0; i < 20; i++)
    frame (f, &splice, 60, 4, FALSE, &switches);
  g_assert_cmpuint (f->sent->len, ==, 20 * PACKETS_PER_FRAME);
  for (guint i = 0; i < f->sent->len; i++) {
    Sent *sent = f->sent->pdata[i];

    g_assert_cmpmem (sent->data, sent->len, sent->packet->data, sent->packet->len);
  }
}

/* The light layer comes out three frames after the full frames it was
 * made from, as from a real encoder: a light keyframe made before the
 * full layer stopped for the viewer is older than its last picture and
 * is passed over; the next one, newer, is switched on. Back up to full,
 * time jumps forward by the lag, never back. */
static void
test_light_lags (Fixture *f, gconstpointer data)
{
  KkSplice splice;
  guint switches = 0, mark;

  f->light_lag = 3;
  kk_splice_init (&splice, KK_LAYER_FULL);
  for (guint i = 0; i < 8; i++)
    frame (f, &splice, 30, 1000, FALSE, &switches);
  /* A light keyframe made from full frame 8 (out at 11); the viewer is
   * sent full frames up to 9 and stops at 10. */
  frame (f, &splice, 30, 1000, TRUE, &switches);
  frame (f, &splice, 30, 1000, FALSE, &switches);
  kk_splice_set_target (&splice, KK_LAYER_LIGHT);
  mark = f->sent->len;
  for (guint i = 0; i < 2; i++)
    frame (f, &splice, 30, 1000, FALSE, &switches);
  g_assert_cmpuint (splice.layer, ==, KK_LAYER_AUDIO_ONLY);
  /* Frame 12: asked again; that keyframe comes out at 15. */
  frame (f, &splice, 30, 1000, TRUE, &switches);
  for (guint i = 0; i < 2; i++)
    frame (f, &splice, 30, 1000, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 0);
  g_assert_cmpuint (f->sent->len, ==, mark);
  frame (f, &splice, 30, 1000, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 1);
  g_assert_cmpuint (splice.layer, ==, KK_LAYER_LIGHT);
  g_assert_cmpuint (count_layer (f, mark, KK_LAYER_FULL), ==, 0);
  for (guint i = 0; i < 8; i++)
    frame (f, &splice, 30, 1000, FALSE, &switches);

  kk_splice_set_target (&splice, KK_LAYER_FULL);
  while (f->frame <= 30)
    frame (f, &splice, 30, 1000, FALSE, &switches);
  g_assert_cmpuint (switches, ==, 2);
  g_assert_cmpuint (splice.layer, ==, KK_LAYER_FULL);
  check_continuous (f);
}

/* Checks that every packet in f->sent (all within the history) maps back
 * to the packet it was sent as, then forgets them. */
static void
check_nacks_and_clear (Fixture *f, KkSplice *splice)
{
  for (guint i = 0; i < f->sent->len; i++) {
    Sent *sent = f->sent->pdata[i];
    guint16 out_seq = (sent->data[2] << 8) | sent->data[3];
    KkLayer layer;
    guint16 layer_seq;
    KkSpliceOffsets offsets;

    g_assert_true (kk_splice_map (splice, out_seq, &layer, &layer_seq,
            &offsets));
    g_assert_cmpuint (layer, ==, sent->packet->layer);
    g_assert_cmpuint (layer_seq, ==, sent->packet->seq);
  }
  g_ptr_array_set_size (f->sent, 0);
}

/* A viewer that stays on one layer for far more than 2^15 (and 2^16)
 * packets after its last switch still has its recent NACKs mapped to
 * that layer, at every point of the wrap; numbers further back than the
 * history are refused, not mapped to an older layer. The same for a
 * viewer that never switched. */
static void
test_nack_after_wrap (Fixture *f, gconstpointer data)
{
  KkSplice splice;
  guint switches = 0;

  kk_splice_init (&splice, KK_LAYER_FULL);
  for (guint i = 0; i < 20; i++)
    frame (f, &splice, 60, 8, FALSE, &switches);
  kk_splice_set_target (&splice, KK_LAYER_LIGHT);
  while (splice.layer != KK_LAYER_LIGHT)
    frame (f, &splice, 60, 8, FALSE, &switches);
  check_nacks_and_clear (f, &splice);
  /* 2 light packets every other frame: 70000 light packets. */
  for (guint i = 0; i < 70000; i++) {
    frame (f, &splice, 60, 8, FALSE, &switches);
    if (i % 250 == 249)
      check_nacks_and_clear (f, &splice);
  }
  g_assert_cmpuint (splice.switches, ==, 1);
  {
    KkLayer layer;
    guint16 layer_seq;
    KkSpliceOffsets offsets;

    g_assert_false (kk_splice_map (&splice,
            splice.next_seq - KK_TRACK_HISTORY - 1, &layer, &layer_seq,
            &offsets));
    g_assert_true (kk_splice_map (&splice, splice.next_seq - KK_TRACK_HISTORY,
            &layer, &layer_seq, &offsets));
    g_assert_cmpuint (layer, ==, KK_LAYER_LIGHT);
  }

  g_ptr_array_set_size (f->sent, 0);
  kk_splice_init (&splice, KK_LAYER_FULL);
  for (guint i = 0; i < 30000; i++) {
    frame (f, &splice, 60, 8, FALSE, &switches);
    if (i % 100 == 99)
      check_nacks_and_clear (f, &splice);
  }
}

/* A viewer that got the full layer unchanged and is spliced only as it
 * first moves down: its NACKs of full packets from before the splice
 * map to those packets as they were, back to the edge of the history. */
static void
test_nack_before_splice (Fixture *f, gconstpointer data)
{
  KkSplice splice;
  KkLayer layer;
  guint16 layer_seq, first;
  KkSpliceOffsets offsets;
  guint switches = 0;

  kk_splice_init (&splice, KK_LAYER_FULL);
  kk_splice_set_target (&splice, KK_LAYER_LIGHT);
  frame (f, &splice, 60, 4, FALSE, &switches);
  first = (((Sent *) f->sent->pdata[0])->data[2] << 8)
      | ((Sent *) f->sent->pdata[0])->data[3];
  for (guint back = 1; back < KK_TRACK_HISTORY - 2 * PACKETS_PER_FRAME; back++) {
    g_assert_true (kk_splice_map (&splice, first - back, &layer, &layer_seq,
            &offsets));
    g_assert_cmpuint (layer, ==, KK_LAYER_FULL);
    g_assert_cmpuint (layer_seq, ==, (guint16) (first - back));
    g_assert_cmpuint (offsets.seq_delta, ==, 0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/splice/switches-continuous", Fixture, NULL, setup,
      test_switches_continuous, teardown);
  g_test_add ("/splice/nack-maps-back", Fixture, NULL, setup,
      test_nack_maps_back, teardown);
  g_test_add ("/splice/start-and-untouched", Fixture, NULL, setup,
      test_start_and_untouched, teardown);
  g_test_add ("/splice/light-lags", Fixture, NULL, setup,
      test_light_lags, teardown);
  g_test_add ("/splice/nack-before-splice", Fixture, NULL, setup,
      test_nack_before_splice, teardown);
  g_test_add ("/splice/nack-after-wrap", Fixture, NULL, setup,
      test_nack_after_wrap, teardown);
  return g_test_run ();
}
