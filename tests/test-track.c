/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-track: what viewers see of a publisher's packets. The
 * stream must continue across a publisher reconnect (SSRC, sequence
 * numbers, timestamps), carry no header extensions, serve NACKs from its
 * history and keep the GOP a new viewer starts on.
 */
#include "kk-track.h"

#include <kringkast/kk-rtp.h>
#include <string.h>

#define OUT_SSRC 0x11223344

/* An RTP packet with a one-byte header extension (as browsers send), of
 * payload @payload. */
static gsize
make_packet (guint8 *buf, guint32 ssrc, guint16 seq, guint32 ts, guint8 pt,
    const guint8 *payload, gsize payload_len)
{
  gsize len = 0;

  buf[len++] = 0x90;                      /* V=2, X=1 */
  buf[len++] = pt;
  buf[len++] = seq >> 8;
  buf[len++] = seq & 0xff;
  buf[len++] = ts >> 24;
  buf[len++] = ts >> 16;
  buf[len++] = ts >> 8;
  buf[len++] = ts;
  buf[len++] = ssrc >> 24;
  buf[len++] = ssrc >> 16;
  buf[len++] = ssrc >> 8;
  buf[len++] = ssrc;
  /* 0xBEDE, length 1 word: abs-send-time (id 3, 3 bytes). */
  memcpy (buf + len, "\xbe\xde\x00\x01\x32\x01\x02\x03", 8);
  len += 8;
  memcpy (buf + len, payload, payload_len);
  return len + payload_len;
}

/* VP8 payload descriptor with S=1, PID 0, then a frame header whose P bit
 * says key or delta frame. */
static const guint8 vp8_key[] = { 0x10, 0x00, 0x9d, 0x01, 0x2a, 0xaa };
static const guint8 vp8_delta[] = { 0x10, 0x01, 0x00, 0x00, 0x00, 0xbb };

static KkPacket *
push (KkTrack *track, guint32 ssrc, guint16 seq, guint32 ts,
    const guint8 *payload, gsize payload_len, gint64 wall_us,
    KkTrackPushResult expect)
{
  guint8 buf[256];
  gsize len = make_packet (buf, ssrc, seq, ts, 96, payload, payload_len);
  KkPacket *packet = NULL;
  gboolean need_keyframe;
  KkTrackPushResult result;

  result = kk_track_push (track, buf, len, KK_CODEC_VP8, wall_us, &packet,
      &need_keyframe);
  g_assert_cmpint (result, ==, expect);
  return packet;
}

static void
check_packet (KkPacket *packet, guint16 seq, guint32 ts)
{
  KkRtpHeader hdr;

  g_assert_true (kk_rtp_parse (packet->data, packet->len, &hdr));
  g_assert_cmpuint (hdr.ssrc, ==, OUT_SSRC);
  g_assert_cmpuint (hdr.seq, ==, seq);
  g_assert_cmpuint (hdr.timestamp, ==, ts);
  g_assert_false (hdr.has_extension);
  g_assert_cmpuint (packet->seq, ==, seq);
  g_assert_cmpuint (packet->timestamp, ==, ts);
}

static void
test_rewrite_continues_across_publishers (void)
{
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, OUT_SSRC, 90000);
  gint64 wall = G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC;
  KkPacket *first, *p;
  guint16 seq0;
  guint32 ts0;

  first = push (track, 0xaaaa, 40000, 123456, vp8_key, sizeof (vp8_key),
      wall, KK_TRACK_PUSH_OK);
  seq0 = first->seq;
  ts0 = first->timestamp;
  check_packet (first, seq0, ts0);
  g_assert_true (first->keyframe_start);
  g_assert_cmpmem (first->data + KK_RTP_HEADER_LEN, sizeof (vp8_key),
      vp8_key, sizeof (vp8_key));

  /* The publisher's own numbering moves on; ours follows it. */
  p = push (track, 0xaaaa, 40001, 123456 + 3000, vp8_delta, sizeof (vp8_delta),
      wall + 33333, KK_TRACK_PUSH_OK);
  check_packet (p, seq0 + 1, ts0 + 3000);
  g_assert_false (p->keyframe_start);
  kk_packet_unref (p);

  /* A loss upstream stays a gap, so the viewer's NACK can name it. */
  p = push (track, 0xaaaa, 40003, 123456 + 6000, vp8_delta, sizeof (vp8_delta),
      wall + 66666, KK_TRACK_PUSH_OK);
  check_packet (p, seq0 + 3, ts0 + 6000);
  kk_packet_unref (p);

  /* A duplicate is refused. */
  g_assert_null (push (track, 0xaaaa, 40003, 123456 + 6000, vp8_delta,
          sizeof (vp8_delta), wall + 70000, KK_TRACK_PUSH_STALE));

  /* The host reconnects 2 s later with a new SSRC and new numbering: the
   * stream goes on from where it was, 2 s later in RTP time. */
  kk_track_reset_source (track);
  p = push (track, 0xbbbb, 7, 99, vp8_key, sizeof (vp8_key),
      wall + 66666 + 2 * G_USEC_PER_SEC, KK_TRACK_PUSH_OK);
  check_packet (p, seq0 + 4, ts0 + 6000 + 2 * 90000);
  kk_packet_unref (p);
  p = push (track, 0xbbbb, 8, 99 + 3000, vp8_delta, sizeof (vp8_delta),
      wall + 100000 + 2 * G_USEC_PER_SEC, KK_TRACK_PUSH_OK);
  check_packet (p, seq0 + 5, ts0 + 6000 + 2 * 90000 + 3000);
  kk_packet_unref (p);

  /* A new SSRC without a reset (the publisher restarted its encoder) is a
   * new epoch too. */
  p = push (track, 0xcccc, 60000, 5, vp8_delta, sizeof (vp8_delta),
      wall + 200000 + 2 * G_USEC_PER_SEC, KK_TRACK_PUSH_OK);
  g_assert_cmpuint (p->seq, ==, (guint16) (seq0 + 6));
  kk_packet_unref (p);

  kk_packet_unref (first);
  kk_track_free (track);
}

static void
test_history (void)
{
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, OUT_SSRC, 90000);
  KkPacket *first = push (track, 1, 65000, 0, vp8_delta, sizeof (vp8_delta),
      0, KK_TRACK_PUSH_OK);
  guint16 seq0 = first->seq;
  KkPacket *found;

  /* Through a sequence-number wrap. */
  for (guint i = 1; i < KK_TRACK_HISTORY; i++)
    kk_packet_unref (push (track, 1, 65000 + i, i * 3000, vp8_delta,
            sizeof (vp8_delta), i, KK_TRACK_PUSH_OK));

  found = kk_track_lookup (track, seq0);
  g_assert_true (found == first);
  kk_packet_unref (found);
  found = kk_track_lookup (track, seq0 + KK_TRACK_HISTORY - 1);
  g_assert_nonnull (found);
  g_assert_cmpuint (found->seq, ==, (guint16) (seq0 + KK_TRACK_HISTORY - 1));
  kk_packet_unref (found);
  g_assert_null (kk_track_lookup (track, seq0 + KK_TRACK_HISTORY));

  /* One more packet pushes the oldest out. */
  kk_packet_unref (push (track, 1, (guint16) (65000 + KK_TRACK_HISTORY), 0, vp8_delta,
          sizeof (vp8_delta), 0, KK_TRACK_PUSH_OK));
  g_assert_null (kk_track_lookup (track, seq0));

  kk_packet_unref (first);
  kk_track_free (track);
}

/* What a recording starting now can still have of the audio: the
 * packets captured since a time, oldest first, and no more than the
 * history holds. */
static void
test_recent (void)
{
  KkTrack *track = kk_track_new (KK_TRACK_AUDIO, OUT_SSRC, 48000);
  g_autoptr (GPtrArray) none = kk_track_get_recent (track, 0);
  g_autoptr (GPtrArray) recent = NULL;
  g_autoptr (GPtrArray) all = NULL;

  g_assert_cmpuint (none->len, ==, 0);
  /* Through a sequence-number wrap, 20 ms apart. */
  for (guint i = 0; i < KK_TRACK_HISTORY + 100; i++)
    kk_packet_unref (push (track, 1, 65000 + i, i * 960, vp8_delta,
            sizeof (vp8_delta), 1000000 + i * 20000, KK_TRACK_PUSH_OK));

  recent = kk_track_get_recent (track,
      1000000 + (KK_TRACK_HISTORY + 50) * 20000);
  g_assert_cmpuint (recent->len, ==, 50);
  for (guint i = 0; i < recent->len; i++) {
    KkPacket *p = recent->pdata[i];

    g_assert_cmpint (p->capture_wall_us, ==,
        1000000 + (KK_TRACK_HISTORY + 50 + i) * 20000);
    if (i > 0)
      g_assert_cmpint (kk_seq_diff (p->seq,
              ((KkPacket *) recent->pdata[i - 1])->seq), ==, 1);
  }
  all = kk_track_get_recent (track, 0);
  g_assert_cmpuint (all->len, ==, KK_TRACK_HISTORY);
  kk_track_free (track);
}

static void
test_gop (void)
{
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, OUT_SSRC, 90000);
  g_autoptr (GPtrArray) gop = NULL;
  gint64 age;
  guint16 seq = 100;
  gboolean need_keyframe = FALSE;

  gop = kk_track_get_gop (track, &age);
  g_assert_cmpuint (gop->len, ==, 0);
  g_assert_cmpint (age, ==, G_MAXINT64);
  g_clear_pointer (&gop, g_ptr_array_unref);

  /* Deltas before any keyframe are no GOP. */
  kk_packet_unref (push (track, 1, seq, seq * 3000u, vp8_delta, sizeof (vp8_delta),
          g_get_real_time (), KK_TRACK_PUSH_OK));
  seq++;
  gop = kk_track_get_gop (track, &age);
  g_assert_cmpuint (gop->len, ==, 0);
  g_clear_pointer (&gop, g_ptr_array_unref);

  for (guint round = 0; round < 2; round++) {
    kk_packet_unref (push (track, 1, seq, seq * 3000u, vp8_key, sizeof (vp8_key),
            g_get_real_time (), KK_TRACK_PUSH_OK));
    seq++;
    for (guint i = 0; i < 9; i++, seq++)
      kk_packet_unref (push (track, 1, seq, seq * 3000u, vp8_delta,
              sizeof (vp8_delta), g_get_real_time (), KK_TRACK_PUSH_OK));
    gop = kk_track_get_gop (track, &age);
    /* A new keyframe starts the GOP over. */
    g_assert_cmpuint (gop->len, ==, 10);
    g_assert_true (((KkPacket *) gop->pdata[0])->keyframe_start);
    g_assert_cmpint (age, >=, 0);
    g_assert_cmpint (age, <, G_USEC_PER_SEC);
    g_clear_pointer (&gop, g_ptr_array_unref);
  }

  /* A GOP that outgrows the cache is dropped, and a keyframe is asked for. */
  for (guint i = 0; i < KK_TRACK_GOP_MAX && !need_keyframe; i++) {
    guint8 buf[64];
    gsize len = make_packet (buf, 1, seq, seq * 3000u, 96, vp8_delta,
        sizeof (vp8_delta));
    KkPacket *p;

    g_assert_cmpint (kk_track_push (track, buf, len, KK_CODEC_VP8,
            g_get_real_time (), &p, &need_keyframe), ==, KK_TRACK_PUSH_OK);
    kk_packet_unref (p);
    seq++;
  }
  g_assert_true (need_keyframe);
  gop = kk_track_get_gop (track, &age);
  g_assert_cmpuint (gop->len, ==, 0);

  kk_track_free (track);
}

/* H.264: the keyframe's parameter sets (STAP-A with SPS and PPS) and its
 * IDR slice (FU-A start) come in separate packets with one timestamp; the
 * GOP must start at the parameter sets and keep the IDR. */
static void
test_h264_gop_keeps_parameter_sets (void)
{
  static const guint8 stap_sps_pps[] = { 0x18, 0x00, 0x02, 0x67, 0x42,
    0x00, 0x02, 0x68, 0xce };
  static const guint8 fu_idr_start[] = { 0x7c, 0x85, 0x88, 0x84 };
  static const guint8 fu_idr_end[] = { 0x7c, 0x45, 0x11 };
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, OUT_SSRC, 90000);
  g_autoptr (GPtrArray) gop = NULL;
  guint8 buf[64];
  KkPacket *packets[3];
  gboolean need;
  gint64 age;
  const guint8 *payloads[] = { stap_sps_pps, fu_idr_start, fu_idr_end };
  gsize sizes[] = { sizeof (stap_sps_pps), sizeof (fu_idr_start),
    sizeof (fu_idr_end) };

  for (guint i = 0; i < 3; i++) {
    gsize len = make_packet (buf, 5, 10 + i, 9000, 102, payloads[i], sizes[i]);

    g_assert_cmpint (kk_track_push (track, buf, len, KK_CODEC_H264,
            g_get_real_time (), &packets[i], &need), ==, KK_TRACK_PUSH_OK);
  }
  g_assert_true (packets[0]->keyframe_start);
  g_assert_false (packets[1]->keyframe_start);
  gop = kk_track_get_gop (track, &age);
  g_assert_cmpuint (gop->len, ==, 3);
  g_assert_true (gop->pdata[0] == packets[0]);
  g_assert_true (gop->pdata[1] == packets[1]);
  for (guint i = 0; i < 3; i++)
    kk_packet_unref (packets[i]);
  kk_track_free (track);
}

static void
test_sender_report_clock (void)
{
  KkTrack *track = kk_track_new (KK_TRACK_AUDIO, OUT_SSRC, 48000);
  gint64 wall = G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC;
  KkPacket *p;
  guint32 rtp;

  g_assert_false (kk_track_rtp_time_at (track, wall, &rtp));
  p = push (track, 9, 1, 5000, vp8_delta, sizeof (vp8_delta), wall,
      KK_TRACK_PUSH_OK);
  /* Half a second after the packet's capture: 24000 ticks later. */
  g_assert_true (kk_track_rtp_time_at (track, wall + G_USEC_PER_SEC / 2, &rtp));
  g_assert_cmpuint (rtp, ==, p->timestamp + 24000);
  kk_packet_unref (p);
  kk_track_free (track);
}

static void
test_malformed (void)
{
  KkTrack *track = kk_track_new (KK_TRACK_VIDEO, OUT_SSRC, 90000);
  static const guint8 payload[KK_PACKET_MAX];
  guint8 junk[] = { 0x00, 0x01, 0x02 };
  guint8 big[KK_PACKET_MAX + 64];
  KkPacket *p = NULL;
  gboolean need;
  gsize len;

  g_assert_cmpint (kk_track_push (track, junk, sizeof (junk), KK_CODEC_VP8,
          0, &p, &need), ==, KK_TRACK_PUSH_MALFORMED);
  g_assert_null (p);
  len = make_packet (big, 1, 1, 1, 96, payload, sizeof (payload));
  g_assert_cmpint (kk_track_push (track, big, len, KK_CODEC_VP8, 0, &p,
          &need), ==, KK_TRACK_PUSH_TOO_BIG);
  g_assert_null (p);
  kk_track_free (track);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/track/rewrite-across-publishers",
      test_rewrite_continues_across_publishers);
  g_test_add_func ("/track/history", test_history);
  g_test_add_func ("/track/gop", test_gop);
  g_test_add_func ("/track/recent", test_recent);
  g_test_add_func ("/track/h264-gop-keeps-parameter-sets",
      test_h264_gop_keeps_parameter_sets);
  g_test_add_func ("/track/sender-report-clock", test_sender_report_clock);
  g_test_add_func ("/track/malformed", test_malformed);
  return g_test_run ();
}
