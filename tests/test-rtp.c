/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-rtp. The packets are built byte by byte from the RFCs'
 * layouts (RFC 3550, 5285, 7741, 6184, 4585, 5104) with the values real
 * senders put in them, so a parser that agrees only with our own builders
 * would still fail here. Truncation tests copy each prefix to a heap buffer
 * of exactly that size, so that any read past the end trips ASan.
 */

#include "kringkast/kk-rtp.h"

#include <string.h>

/* A Chrome-style video packet: CSRC list of 2, a one-byte-header
 * extension (RFC 8285) with abs-send-time and transport-wide-cc, 7 payload
 * bytes and 4 bytes of padding. */
static const guint8 full_packet[] = {
  0xb2, 0xe0, 0x12, 0x34,       /* V=2 P=1 X=1 CC=2, M=1 PT=96, seq */
  0xde, 0xad, 0xbe, 0xef,       /* timestamp */
  0x11, 0x22, 0x33, 0x44,       /* SSRC */
  0xaa, 0xaa, 0xaa, 0x01,       /* CSRC 1 */
  0xbb, 0xbb, 0xbb, 0x02,       /* CSRC 2 */
  0xbe, 0xde, 0x00, 0x02,       /* one-byte extensions, 2 words */
  0x32, 0x12, 0x34, 0x56,       /* id 3 (abs-send-time), 3 bytes */
  0x41, 0x00, 0x07, 0x00,       /* id 4 (transport-cc), 2 bytes, pad */
  0x90, 0x10, 0x10, 0x02, 0x00, 0x9d, 0x01,   /* payload */
  0x00, 0x00, 0x00, 0x04,       /* padding, count 4 */
};

static guint8 *
heap_prefix (const guint8 *data, gsize len)
{
  /* g_malloc (0) returns NULL; one spare byte would hide overreads. */
  return len ? g_memdup2 (data, len) : NULL;
}

static void
test_is_rtcp (void)
{
  static const guint8 sr[] = { 0x80, 0xc8 };
  static const guint8 app[] = { 0x80, 0xcc };
  static const guint8 top[] = { 0x80, 223 };
  static const guint8 rtp96[] = { 0x80, 0x60 };
  static const guint8 rtp96_marker[] = { 0x80, 0xe0 };
  static const guint8 rtp63_marker[] = { 0x80, 0xbf };

  g_assert_true (kk_rtp_is_rtcp (sr, 2));
  g_assert_true (kk_rtp_is_rtcp (app, 2));
  g_assert_true (kk_rtp_is_rtcp (top, 2));
  g_assert_false (kk_rtp_is_rtcp (rtp96, 2));
  g_assert_false (kk_rtp_is_rtcp (rtp96_marker, 2));
  g_assert_false (kk_rtp_is_rtcp (rtp63_marker, 2));
  g_assert_false (kk_rtp_is_rtcp (sr, 1));
}

static void
test_parse_full (void)
{
  KkRtpHeader h;

  g_assert_true (kk_rtp_parse (full_packet, sizeof (full_packet), &h));
  g_assert_true (h.marker);
  g_assert_cmpuint (h.payload_type, ==, 96);
  g_assert_cmpuint (h.seq, ==, 0x1234);
  g_assert_cmpuint (h.timestamp, ==, 0xdeadbeef);
  g_assert_cmphex (h.ssrc, ==, 0x11223344);
  g_assert_cmpuint (h.csrc_count, ==, 2);
  g_assert_true (h.has_extension);
  g_assert_cmphex (h.extension_profile, ==, 0xbede);
  g_assert_true (h.extension == full_packet + 24);
  g_assert_cmpuint (h.extension_len, ==, 8);
  g_assert_cmpuint (h.header_len, ==, 32);
  g_assert_true (h.payload == full_packet + 32);
  g_assert_cmpuint (h.payload_len, ==, 7);
  g_assert_cmpuint (h.padding_len, ==, 4);
}

static void
test_parse_minimal (void)
{
  /* Opus: no CSRC, extension or padding; marker clear. */
  static const guint8 pkt[] = {
    0x80, 0x6f, 0xff, 0xff, 0x00, 0x00, 0x03, 0xc0, 0xca, 0xfe, 0xba, 0xbe,
    0xfc, 0xff, 0xfe,
  };
  KkRtpHeader h;

  g_assert_true (kk_rtp_parse (pkt, sizeof (pkt), &h));
  g_assert_false (h.marker);
  g_assert_cmpuint (h.payload_type, ==, 111);
  g_assert_cmpuint (h.seq, ==, 0xffff);
  g_assert_cmpuint (h.timestamp, ==, 960);
  g_assert_cmphex (h.ssrc, ==, 0xcafebabe);
  g_assert_false (h.has_extension);
  g_assert_null (h.extension);
  g_assert_cmpuint (h.extension_len, ==, 0);
  g_assert_cmpuint (h.header_len, ==, 12);
  g_assert_cmpuint (h.payload_len, ==, 3);
  g_assert_cmpuint (h.padding_len, ==, 0);

  /* Header only, no payload: still RTP (e.g. a padding-only probe would
   * have P set; this one simply carries nothing). */
  g_assert_true (kk_rtp_parse (pkt, 12, &h));
  g_assert_cmpuint (h.payload_len, ==, 0);
}

static void
test_parse_rejects (void)
{
  guint8 pkt[sizeof (full_packet)];
  KkRtpHeader h;

  /* Version 1 and 3. */
  memcpy (pkt, full_packet, sizeof (pkt));
  pkt[0] = (pkt[0] & 0x3f) | 0x40;
  g_assert_false (kk_rtp_parse (pkt, sizeof (pkt), &h));
  pkt[0] = (pkt[0] & 0x3f) | 0xc0;
  g_assert_false (kk_rtp_parse (pkt, sizeof (pkt), &h));

  /* Padding count 0, and padding reaching into the header. */
  memcpy (pkt, full_packet, sizeof (pkt));
  pkt[sizeof (pkt) - 1] = 0;
  g_assert_false (kk_rtp_parse (pkt, sizeof (pkt), &h));
  pkt[sizeof (pkt) - 1] = 12;
  g_assert_false (kk_rtp_parse (pkt, sizeof (pkt), &h));
  /* Padding that eats exactly the payload is fine. */
  pkt[sizeof (pkt) - 1] = 11;
  g_assert_true (kk_rtp_parse (pkt, sizeof (pkt), &h));
  g_assert_cmpuint (h.payload_len, ==, 0);

  /* Extension length running past the end. */
  memcpy (pkt, full_packet, sizeof (pkt));
  pkt[23] = 5;
  g_assert_false (kk_rtp_parse (pkt, sizeof (pkt), &h));
  pkt[22] = 0xff;
  g_assert_false (kk_rtp_parse (pkt, sizeof (pkt), &h));

  /* 15 CSRCs do not fit in 27 bytes. */
  memcpy (pkt, full_packet, sizeof (pkt));
  pkt[0] = 0x8f;
  g_assert_false (kk_rtp_parse (pkt, 27, &h));
}

static void
test_parse_truncations (void)
{
  for (gsize len = 0; len < sizeof (full_packet); len++) {
    g_autofree guint8 *buf = heap_prefix (full_packet, len);
    KkRtpHeader h;

    if (!kk_rtp_parse (buf, len, &h))
      continue;
    /* Whatever a prefix parses as, it must lie inside it. */
    g_assert_cmpuint (h.header_len + h.payload_len + h.padding_len, ==, len);
    g_assert_true (h.payload >= buf && h.payload + h.payload_len <= buf + len);
    if (h.has_extension)
      g_assert_true (h.extension + h.extension_len <= buf + len);
  }
}

static void
test_write_stripped (void)
{
  static const guint8 expected[] = {
    0x80, 0xe6, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04,
    0x90, 0x10, 0x10, 0x02, 0x00, 0x9d, 0x01,
  };
  guint8 out[64], inplace[sizeof (full_packet)];
  KkRtpHeader h, h2;
  gsize n;

  g_assert_true (kk_rtp_parse (full_packet, sizeof (full_packet), &h));
  n = kk_rtp_write_stripped (&h, 102, 7, 0x10000, 0x01020304, out,
      sizeof (out));
  g_assert_cmpmem (out, n, expected, sizeof (expected));

  g_assert_true (kk_rtp_parse (out, n, &h2));
  g_assert_false (h2.has_extension);
  g_assert_cmpuint (h2.csrc_count, ==, 0);
  g_assert_cmpuint (h2.padding_len, ==, 0);
  g_assert_cmpmem (h2.payload, h2.payload_len, h.payload, h.payload_len);

  /* Exactly enough room, and one byte less. */
  g_assert_cmpuint (kk_rtp_write_stripped (&h, 102, 7, 0x10000, 0x01020304,
          out, sizeof (expected)), ==, sizeof (expected));
  g_assert_cmpuint (kk_rtp_write_stripped (&h, 102, 7, 0x10000, 0x01020304,
          out, sizeof (expected) - 1), ==, 0);

  /* In place, over the packet it was parsed from. */
  memcpy (inplace, full_packet, sizeof (inplace));
  g_assert_true (kk_rtp_parse (inplace, sizeof (inplace), &h));
  n = kk_rtp_write_stripped (&h, 102, 7, 0x10000, 0x01020304, inplace,
      sizeof (inplace));
  g_assert_cmpmem (inplace, n, expected, sizeof (expected));
}

/* ---- VP8 (RFC 7741) ---- */

/* Chrome's descriptor for the first packet of a key frame: X and S set,
 * PID 0; I, L and T present; 15-bit PictureID 0x0123; TL0PICIDX 5;
 * TID 0 with Y set. Then the key frame's header: frame tag with P = 0
 * (first partition size, show_frame), start code, 320x240. */
static const guint8 vp8_keyframe[] = {
  0x90, 0xe0, 0x81, 0x23, 0x05, 0x20,
  0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00,
};
#define VP8_KEYFRAME_DESCRIPTOR_LEN 6

static void
test_vp8 (void)
{
  static const guint8 interframe[] = {
    0x90, 0xe0, 0x81, 0x24, 0x05, 0x00, 0x31, 0x01, 0x00,
  };
  static const guint8 continuation[] = {
    0x80, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x12, 0x34,
  };
  static const guint8 other_partition[] = { 0x11, 0x50, 0x02, 0x00 };
  static const guint8 plain_keyframe[] = {
    0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a,
  };
  /* 7-bit PictureID, K only (KEYIDX byte), no L. */
  static const guint8 short_pid_keyidx[] = { 0x90, 0x90, 0x7f, 0x03, 0x50 };
  static const guint8 short_pid_keyidx_inter[] = {
    0x90, 0x90, 0x7f, 0x03, 0x51
  };
  /* N (non-reference) does not matter for a key frame start. */
  static const guint8 non_ref[] = { 0x30, 0x50 };

  g_assert_true (kk_rtp_vp8_is_keyframe_start (vp8_keyframe,
          sizeof (vp8_keyframe)));
  g_assert_false (kk_rtp_vp8_is_keyframe_start (interframe,
          sizeof (interframe)));
  g_assert_false (kk_rtp_vp8_is_keyframe_start (continuation,
          sizeof (continuation)));
  g_assert_false (kk_rtp_vp8_is_keyframe_start (other_partition,
          sizeof (other_partition)));
  g_assert_true (kk_rtp_vp8_is_keyframe_start (plain_keyframe,
          sizeof (plain_keyframe)));
  g_assert_true (kk_rtp_vp8_is_keyframe_start (short_pid_keyidx,
          sizeof (short_pid_keyidx)));
  g_assert_false (kk_rtp_vp8_is_keyframe_start (short_pid_keyidx_inter,
          sizeof (short_pid_keyidx_inter)));
  g_assert_true (kk_rtp_vp8_is_keyframe_start (non_ref, sizeof (non_ref)));
  g_assert_false (kk_rtp_vp8_is_keyframe_start (NULL, 0));

  /* Every prefix: a key frame start as soon as the payload header's first
   * byte is in, never before. */
  for (gsize len = 0; len <= sizeof (vp8_keyframe); len++) {
    g_autofree guint8 *buf = heap_prefix (vp8_keyframe, len);

    g_assert_cmpint (kk_rtp_vp8_is_keyframe_start (buf, len), ==,
        len > VP8_KEYFRAME_DESCRIPTOR_LEN);
  }
}

/* Picture ids read and written back: 15 bits with TL0PICIDX, 7 bits
 * without, none at all; the rest of the payload untouched; a truncated
 * descriptor refused at every prefix. */
static void
test_vp8_ids (void)
{
  static const guint8 short_pid[] = { 0x90, 0x80, 0x7f, 0x50 };
  static const guint8 no_ids[] = { 0x10, 0x50, 0x02 };
  guint8 buf[sizeof (vp8_keyframe)];
  KkVp8Ids ids;

  g_assert_true (kk_rtp_vp8_parse_ids (vp8_keyframe, sizeof (vp8_keyframe), &ids));
  g_assert_cmpuint (ids.picture_id_bits, ==, 15);
  g_assert_cmphex (ids.picture_id, ==, 0x0123);
  g_assert_true (ids.has_tl0picidx);
  g_assert_cmpuint (ids.tl0picidx, ==, 5);
  memcpy (buf, vp8_keyframe, sizeof (buf));
  kk_rtp_vp8_write_ids (buf, &ids, 0x7ffe, 0xff);
  g_assert_true (kk_rtp_vp8_parse_ids (buf, sizeof (buf), &ids));
  g_assert_cmphex (ids.picture_id, ==, 0x7ffe);
  g_assert_cmpuint (ids.tl0picidx, ==, 0xff);
  /* Only the ids changed: still the same key frame. */
  g_assert_cmpmem (buf, 2, vp8_keyframe, 2);
  g_assert_cmpmem (buf + 5, sizeof (buf) - 5, vp8_keyframe + 5, sizeof (buf) - 5);
  g_assert_true (kk_rtp_vp8_is_keyframe_start (buf, sizeof (buf)));
  /* A 15-bit id wraps at 2^15. */
  kk_rtp_vp8_write_ids (buf, &ids, 0x8001, 0);
  g_assert_true (kk_rtp_vp8_parse_ids (buf, sizeof (buf), &ids));
  g_assert_cmphex (ids.picture_id, ==, 1);

  memcpy (buf, short_pid, sizeof (short_pid));
  g_assert_true (kk_rtp_vp8_parse_ids (buf, sizeof (short_pid), &ids));
  g_assert_cmpuint (ids.picture_id_bits, ==, 7);
  g_assert_cmpuint (ids.picture_id, ==, 0x7f);
  g_assert_false (ids.has_tl0picidx);
  kk_rtp_vp8_write_ids (buf, &ids, 0x0181, 9);
  g_assert_cmphex (buf[2], ==, 0x01);
  g_assert_cmphex (buf[3], ==, 0x50);

  g_assert_true (kk_rtp_vp8_parse_ids (no_ids, sizeof (no_ids), &ids));
  g_assert_cmpuint (ids.picture_id_bits, ==, 0);
  g_assert_false (ids.has_tl0picidx);

  for (gsize len = 0; len < 5; len++) {
    g_autofree guint8 *prefix = heap_prefix (vp8_keyframe, len);

    g_assert_false (kk_rtp_vp8_parse_ids (prefix, len, &ids));
  }
}

/* ---- H.264 (RFC 6184) ---- */

/* STAP-A as Chrome and GStreamer send a key frame's start: SPS
 * (Constrained Baseline 3.1), PPS, then the beginning of an IDR slice. */
static const guint8 h264_stap_a[] = {
  0x78,
  0x00, 0x0b, 0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x8d, 0x40, 0x50, 0x1e, 0xd0,
  0x0f,
  0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
  0x00, 0x05, 0x65, 0x88, 0x84, 0x00, 0x33,
};

static void
test_h264 (void)
{
  static const guint8 idr[] = { 0x65, 0x88, 0x80 };
  static const guint8 sps[] = { 0x67, 0x42, 0xc0, 0x1f };
  static const guint8 pps[] = { 0x68, 0xce, 0x3c, 0x80 };
  static const guint8 slice[] = { 0x41, 0x9a, 0x02 };
  static const guint8 sei[] = { 0x06, 0x05, 0x01 };
  static const guint8 stap_no_key[] = {
    0x78, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80, 0x00, 0x02, 0x06, 0x05,
  };
  static const guint8 stap_overrun[] = { 0x78, 0x00, 0x09, 0x65, 0x88 };
  static const guint8 stap_zero[] = { 0x78, 0x00, 0x00, 0x00, 0x01, 0x65 };
  static const guint8 stap_odd_tail[] = { 0x78, 0x00, 0x01, 0x65, 0x00 };
  static const guint8 fu_idr_start[] = { 0x7c, 0x85, 0xb8, 0x00 };
  static const guint8 fu_idr_middle[] = { 0x7c, 0x05, 0x12, 0x34 };
  static const guint8 fu_idr_end[] = { 0x7c, 0x45, 0x56 };
  static const guint8 fu_slice_start[] = { 0x5c, 0x81, 0x9a };
  static const guint8 fu_short[] = { 0x7c };
  static const guint8 stap_b[] = { 0x79, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88 };
  static const guint8 fu_b[] = { 0x7d, 0x85, 0x00, 0x00, 0xb8 };

  g_assert_true (kk_rtp_h264_is_keyframe_start (idr, sizeof (idr)));
  g_assert_true (kk_rtp_h264_is_keyframe_start (sps, sizeof (sps)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (pps, sizeof (pps)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (slice, sizeof (slice)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (sei, sizeof (sei)));
  g_assert_true (kk_rtp_h264_is_keyframe_start (h264_stap_a,
          sizeof (h264_stap_a)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (stap_no_key,
          sizeof (stap_no_key)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (stap_overrun,
          sizeof (stap_overrun)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (stap_zero,
          sizeof (stap_zero)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (stap_odd_tail,
          sizeof (stap_odd_tail)));
  g_assert_true (kk_rtp_h264_is_keyframe_start (fu_idr_start,
          sizeof (fu_idr_start)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (fu_idr_middle,
          sizeof (fu_idr_middle)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (fu_idr_end,
          sizeof (fu_idr_end)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (fu_slice_start,
          sizeof (fu_slice_start)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (fu_short,
          sizeof (fu_short)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (stap_b, sizeof (stap_b)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (fu_b, sizeof (fu_b)));
  g_assert_false (kk_rtp_h264_is_keyframe_start (NULL, 0));

  /* Prefixes of the STAP-A are well formed exactly where a NAL unit ends:
   * after the SPS (14), after the PPS (20) and at the end (27). Each of
   * those holds the SPS, so each is a key frame start. */
  for (gsize len = 0; len <= sizeof (h264_stap_a); len++) {
    g_autofree guint8 *buf = heap_prefix (h264_stap_a, len);
    gboolean expect = len == 14 || len == 20 || len == 27;

    g_assert_cmpint (kk_rtp_h264_is_keyframe_start (buf, len), ==, expect);
  }
  for (gsize len = 0; len <= sizeof (fu_idr_start); len++) {
    g_autofree guint8 *buf = heap_prefix (fu_idr_start, len);

    g_assert_cmpint (kk_rtp_h264_is_keyframe_start (buf, len), ==, len >= 2);
  }
}

/* ---- RTCP ---- */

/* What Chrome sends as a receiver with NACK and PLI pending: RR with one
 * report block, SDES CNAME, generic NACK, PLI. */
static const guint8 chrome_compound[] = {
  /* RR, RC=1, length 7 */
  0x81, 0xc9, 0x00, 0x07,
  0x00, 0x00, 0x00, 0x01,                /* sender SSRC */
  0x11, 0x22, 0x33, 0x44,                /* reportee */
  0x10, 0xff, 0xff, 0xfe,                /* fraction 16/256, lost -2 */
  0x00, 0x01, 0x23, 0x45,                /* extended highest seq */
  0x00, 0x00, 0x00, 0x20,                /* jitter */
  0xaa, 0xbb, 0xcc, 0xdd,                /* LSR */
  0x00, 0x01, 0x00, 0x00,                /* DLSR: 1 s */
  /* SDES, SC=1, length 6: CNAME of 16 characters, 2 null octets */
  0x81, 0xca, 0x00, 0x06,
  0x00, 0x00, 0x00, 0x01,
  0x01, 0x10, 'x', 'G', 'k', '9', 'q', '2', 'P', 'r', 'T', 'z', '8', 'w',
  'L', 'v', 'Y', 'e', 0x00, 0x00,
  /* RTPFB NACK, FMT=1, length 3: PID 0x1234, BLP 0x0005 */
  0x81, 0xcd, 0x00, 0x03,
  0x00, 0x00, 0x00, 0x01,
  0x11, 0x22, 0x33, 0x44,
  0x12, 0x34, 0x00, 0x05,
  /* PSFB PLI, FMT=1, length 2 */
  0x81, 0xce, 0x00, 0x02,
  0x00, 0x00, 0x00, 0x01,
  0x11, 0x22, 0x33, 0x44,
};
static const gsize chrome_compound_ends[] = { 32, 60, 76, 88 };

static void
test_rtcp_chrome_compound (void)
{
  KkRtcpIter it;
  KkRtcpPacket p;
  KkRtcpReportBlock rb;
  guint16 pid, blp;

  g_assert_true (kk_rtcp_iter_init (&it, chrome_compound,
          sizeof (chrome_compound)));

  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_RR);
  g_assert_cmpuint (p.packet_type, ==, 201);
  g_assert_cmpuint (p.sender_ssrc, ==, 1);
  g_assert_cmpuint (p.n_blocks, ==, 1);
  g_assert_true (p.data == chrome_compound);
  g_assert_cmpuint (p.len, ==, 32);
  kk_rtcp_report_block (&p, 0, &rb);
  g_assert_cmphex (rb.ssrc, ==, 0x11223344);
  g_assert_cmpuint (rb.fraction_lost, ==, 16);
  g_assert_cmpint (rb.cumulative_lost, ==, -2);
  g_assert_cmphex (rb.highest_seq, ==, 0x12345);
  g_assert_cmpuint (rb.jitter, ==, 32);
  g_assert_cmphex (rb.lsr, ==, 0xaabbccdd);
  g_assert_cmpuint (rb.dlsr, ==, 65536);

  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_SDES);
  g_assert_cmpuint (p.sender_ssrc, ==, 1);
  g_assert_cmpuint (p.len, ==, 28);

  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_NACK);
  g_assert_cmpuint (p.fmt, ==, 1);
  g_assert_cmpuint (p.sender_ssrc, ==, 1);
  g_assert_cmphex (p.media_ssrc, ==, 0x11223344);
  g_assert_cmpuint (p.n_fci, ==, 1);
  kk_rtcp_nack_entry (&p, 0, &pid, &blp);
  g_assert_cmphex (pid, ==, 0x1234);
  g_assert_cmphex (blp, ==, 0x0005);

  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_PLI);
  g_assert_cmphex (p.media_ssrc, ==, 0x11223344);

  g_assert_false (kk_rtcp_iter_next (&it, &p));
  g_assert_false (kk_rtcp_iter_next (&it, &p));
}

static void
test_rtcp_truncations (void)
{
  for (gsize len = 0; len <= sizeof (chrome_compound); len++) {
    g_autofree guint8 *buf = heap_prefix (chrome_compound, len);
    KkRtcpIter it;
    KkRtcpPacket p;
    guint n = 0, expect = 0;

    for (guint i = 0; i < G_N_ELEMENTS (chrome_compound_ends); i++)
      if (chrome_compound_ends[i] <= len)
        expect++;

    if (!kk_rtcp_iter_init (&it, buf, len)) {
      g_assert_cmpuint (len, <, 4);
      continue;
    }
    while (kk_rtcp_iter_next (&it, &p)) {
      g_assert_true (p.data >= buf && p.data + p.len <= buf + len);
      for (guint b = 0; b < p.n_blocks; b++) {
        KkRtcpReportBlock rb;

        g_assert_true (p.blocks + 24 * (b + 1) <= buf + len);
        kk_rtcp_report_block (&p, b, &rb);
      }
      for (guint f = 0; f < p.n_fci; f++) {
        guint16 pid, blp;

        g_assert_true (p.fci + 4 * (f + 1) <= buf + len);
        kk_rtcp_nack_entry (&p, f, &pid, &blp);
      }
      n++;
    }
    g_assert_cmpuint (n, ==, expect);
  }
}

static void
test_rtcp_other_types (void)
{
  static const guint8 compound[] = {
    /* RR with no blocks (Chrome's rtcp-rsize-less empty report) */
    0x80, 0xc9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09,
    /* FIR, FMT=4: media SSRC 0, FCI SSRC 0x55667788, seq 7 */
    0x84, 0xce, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
    0x55, 0x66, 0x77, 0x88, 0x07, 0x00, 0x00, 0x00,
    /* REMB (PSFB FMT=15): 1 SSRC */
    0x8f, 0xce, 0x00, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
    'R', 'E', 'M', 'B', 0x01, 0x0a, 0x12, 0x34, 0x55, 0x66, 0x77, 0x88,
    /* transport-wide CC (RTPFB FMT=15), minimal body */
    0x8f, 0xcd, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09, 0x55, 0x66, 0x77, 0x88,
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
    /* BYE, SC=1 */
    0x81, 0xcb, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09,
    /* APP "test" with 4 bytes, padded: P=1, 4 bytes of padding */
    0xa0, 0xcc, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09, 't', 'e', 's', 't',
    0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x04,
  };
  static const KkRtcpType types[] = {
    KK_RTCP_RR, KK_RTCP_FIR, KK_RTCP_OTHER, KK_RTCP_OTHER, KK_RTCP_BYE,
    KK_RTCP_OTHER,
  };
  KkRtcpIter it;
  KkRtcpPacket p;
  guint n = 0;

  g_assert_true (kk_rtcp_iter_init (&it, compound, sizeof (compound)));
  while (kk_rtcp_iter_next (&it, &p)) {
    g_assert_cmpuint (n, <, G_N_ELEMENTS (types));
    g_assert_cmpint (p.type, ==, types[n]);
    g_assert_cmpuint (p.sender_ssrc, ==, 9);
    if (p.type == KK_RTCP_RR)
      g_assert_cmpuint (p.n_blocks, ==, 0);
    if (p.type == KK_RTCP_FIR)
      g_assert_cmphex (p.media_ssrc, ==, 0x55667788);
    n++;
  }
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (types));
}

static void
test_rtcp_malformed (void)
{
  static const guint8 rtp[] = { 0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0 };
  static const guint8 v1[] = { 0x41, 0xc9, 0x00, 0x01, 0, 0, 0, 1 };
  /* RC=2 but room for one block. */
  static const guint8 rr_short[] = {
    0x82, 0xc9, 0x00, 0x07, 0, 0, 0, 1,
    0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  };
  /* SR whose length leaves out the sender info. */
  static const guint8 sr_short[] = { 0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1 };
  /* A good PLI, then a packet claiming 8 words more than there are. */
  static const guint8 overrun[] = {
    0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2,
    0x81, 0xcd, 0x00, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0,
  };
  /* A good PLI, then version 0 garbage. */
  static const guint8 garbage[] = {
    0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2,
    0x00, 0x00, 0x00, 0x00,
  };
  /* FIR without an FCI entry; PLI without media SSRC. */
  static const guint8 fir_empty[] = {
    0x84, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0,
  };
  static const guint8 pli_short[] = { 0x81, 0xce, 0x00, 0x01, 0, 0, 0, 1 };
  /* Padding count 0, and padding larger than the packet body. */
  static const guint8 pad_zero[] = { 0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0 };
  static const guint8 pad_big[] = { 0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 9 };
  const struct {
    const guint8 *data;
    gsize len;
    guint good;
  } cases[] = {
    { v1, sizeof (v1), 0 },
    { rr_short, sizeof (rr_short), 0 },
    { sr_short, sizeof (sr_short), 0 },
    { overrun, sizeof (overrun), 1 },
    { garbage, sizeof (garbage), 1 },
    { fir_empty, sizeof (fir_empty), 0 },
    { pli_short, sizeof (pli_short), 0 },
    { pad_zero, sizeof (pad_zero), 0 },
    { pad_big, sizeof (pad_big), 0 },
  };
  KkRtcpIter it;
  KkRtcpPacket p;

  g_assert_false (kk_rtcp_iter_init (&it, rtp, sizeof (rtp)));
  g_assert_false (kk_rtcp_iter_next (&it, &p));
  g_assert_false (kk_rtcp_iter_init (&it, chrome_compound, 3));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint n = 0;

    kk_rtcp_iter_init (&it, cases[i].data, cases[i].len);
    while (kk_rtcp_iter_next (&it, &p))
      n++;
    g_assert_cmpuint (n, ==, cases[i].good);
    /* Iteration stays ended. */
    g_assert_false (kk_rtcp_iter_next (&it, &p));
  }
}

/* ---- builders ---- */

static void
test_build_sr (void)
{
  static const guint8 expected[] = {
    0x80, 0xc8, 0x00, 0x06, 0x01, 0x02, 0x03, 0x04,
    0xe8, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x01, 0x86, 0xa0,
  };
  guint64 ntp = G_GUINT64_CONSTANT (0xe800000180000000);
  guint8 buf[64];
  KkRtcpIter it;
  KkRtcpPacket p;
  gsize n;

  n = kk_rtcp_write_sr (buf, sizeof (buf), 0x01020304, ntp, 4096, 100,
      100000);
  g_assert_cmpmem (buf, n, expected, sizeof (expected));
  g_assert_cmpuint (kk_rtcp_write_sr (buf, 27, 1, 0, 0, 0, 0), ==, 0);

  g_assert_true (kk_rtcp_iter_init (&it, buf, n));
  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_SR);
  g_assert_cmphex (p.sender_ssrc, ==, 0x01020304);
  g_assert_cmphex (p.ntp, ==, ntp);
  g_assert_cmpuint (p.rtp_ts, ==, 4096);
  g_assert_cmpuint (p.packet_count, ==, 100);
  g_assert_cmpuint (p.octet_count, ==, 100000);
  g_assert_cmpuint (p.n_blocks, ==, 0);
  g_assert_false (kk_rtcp_iter_next (&it, &p));
}

static void
test_build_sdes (void)
{
  static const guint8 expected_abc[] = {
    0x81, 0xca, 0x00, 0x03, 0x0a, 0x0b, 0x0c, 0x0d,
    0x01, 0x03, 'a', 'b', 'c', 0x00, 0x00, 0x00,
  };
  guint8 buf[300];
  char cname[257];
  gsize n;

  n = kk_rtcp_write_sdes_cname (buf, sizeof (buf), 0x0a0b0c0d, "abc");
  g_assert_cmpmem (buf, n, expected_abc, sizeof (expected_abc));
  g_assert_cmpuint (kk_rtcp_write_sdes_cname (buf, 15, 1, "abc"), ==, 0);

  /* Every CNAME length: a 32-bit aligned chunk, the text, then at least
   * one null octet and only null octets; and it parses after an SR. */
  for (gsize len = 0; len <= 255; len++) {
    gsize chunk_min = 4 + 2 + len + 1;
    guint8 compound[400];
    gsize sr;
    KkRtcpIter it;
    KkRtcpPacket p;

    memset (cname, 'a' + len % 26, len);
    cname[len] = '\0';
    memset (buf, 0xee, sizeof (buf));
    n = kk_rtcp_write_sdes_cname (buf, sizeof (buf), 7, cname);
    g_assert_cmpuint (n % 4, ==, 0);
    g_assert_cmpuint (n, >=, 4 + chunk_min);
    g_assert_cmpuint (n, <, 4 + chunk_min + 4);
    g_assert_cmpuint ((buf[2] << 8 | buf[3]), ==, n / 4 - 1);
    g_assert_cmpuint (buf[8], ==, 1);
    g_assert_cmpuint (buf[9], ==, len);
    g_assert_cmpmem (buf + 10, len, cname, len);
    for (gsize i = 10 + len; i < n; i++)
      g_assert_cmpuint (buf[i], ==, 0);

    sr = kk_rtcp_write_sr (compound, sizeof (compound), 7, 0, 0, 0, 0);
    memcpy (compound + sr, buf, n);
    g_assert_true (kk_rtcp_iter_init (&it, compound, sr + n));
    g_assert_true (kk_rtcp_iter_next (&it, &p));
    g_assert_cmpint (p.type, ==, KK_RTCP_SR);
    g_assert_true (kk_rtcp_iter_next (&it, &p));
    g_assert_cmpint (p.type, ==, KK_RTCP_SDES);
    g_assert_cmpuint (p.sender_ssrc, ==, 7);
    g_assert_cmpuint (p.len, ==, n);
    g_assert_false (kk_rtcp_iter_next (&it, &p));
  }

  memset (cname, 'x', 256);
  cname[256] = '\0';
  g_assert_cmpuint (kk_rtcp_write_sdes_cname (buf, sizeof (buf), 7, cname),
      ==, 0);
}

static void
test_build_pli (void)
{
  static const guint8 expected[] = {
    0x81, 0xce, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
  };
  guint8 buf[12];
  KkRtcpIter it;
  KkRtcpPacket p;
  gsize n;

  n = kk_rtcp_write_pli (buf, sizeof (buf), 1, 0x11223344);
  g_assert_cmpmem (buf, n, expected, sizeof (expected));
  g_assert_cmpuint (kk_rtcp_write_pli (buf, 11, 1, 2), ==, 0);
  g_assert_true (kk_rtcp_iter_init (&it, buf, n));
  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_PLI);
  g_assert_cmpuint (p.sender_ssrc, ==, 1);
  g_assert_cmphex (p.media_ssrc, ==, 0x11223344);
}

static void
test_build_rr (void)
{
  const KkRtcpReportBlock blocks[] = {
    { 0x11223344, 16, -2, 0x12345, 32, 0xaabbccdd, 65536 },
    { 0x55667788, 255, 10000000, 0xffffffff, 0, 0, 0 },
    { 0x99aabbcc, 0, -10000000, 1, 2, 3, 4 },
  };
  guint8 buf[8 + 24 * 32];
  KkRtcpReportBlock many[32] = { 0 };
  KkRtcpIter it;
  KkRtcpPacket p;
  KkRtcpReportBlock rb;
  gsize n;

  n = kk_rtcp_write_rr (buf, sizeof (buf), 0xfeedf00d, blocks, 3);
  g_assert_cmpuint (n, ==, 8 + 3 * 24);
  /* The first block matches Chrome's bytes above. */
  g_assert_cmpmem (buf + 8, 24, chrome_compound + 8, 24);

  g_assert_true (kk_rtcp_iter_init (&it, buf, n));
  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_RR);
  g_assert_cmphex (p.sender_ssrc, ==, 0xfeedf00d);
  g_assert_cmpuint (p.n_blocks, ==, 3);
  kk_rtcp_report_block (&p, 0, &rb);
  g_assert_cmphex (rb.ssrc, ==, blocks[0].ssrc);
  g_assert_cmpuint (rb.fraction_lost, ==, blocks[0].fraction_lost);
  g_assert_cmpint (rb.cumulative_lost, ==, blocks[0].cumulative_lost);
  g_assert_cmphex (rb.highest_seq, ==, blocks[0].highest_seq);
  g_assert_cmpuint (rb.jitter, ==, blocks[0].jitter);
  g_assert_cmphex (rb.lsr, ==, blocks[0].lsr);
  g_assert_cmpuint (rb.dlsr, ==, blocks[0].dlsr);
  kk_rtcp_report_block (&p, 1, &rb);
  g_assert_cmpint (rb.cumulative_lost, ==, 0x7fffff);
  g_assert_cmpuint (rb.fraction_lost, ==, 255);
  g_assert_cmphex (rb.highest_seq, ==, 0xffffffff);
  kk_rtcp_report_block (&p, 2, &rb);
  g_assert_cmpint (rb.cumulative_lost, ==, -0x800000);
  g_assert_cmpuint (rb.dlsr, ==, 4);

  g_assert_cmpuint (kk_rtcp_write_rr (buf, 8 + 3 * 24 - 1, 1, blocks, 3), ==,
      0);
  g_assert_cmpuint (kk_rtcp_write_rr (buf, sizeof (buf), 1, NULL, 0), ==, 8);
  g_assert_cmpuint (kk_rtcp_write_rr (buf, sizeof (buf), 1, many, 31), ==,
      8 + 31 * 24);
  g_assert_cmpuint (kk_rtcp_write_rr (buf, sizeof (buf), 1, many, 32), ==, 0);
}

/* Writes a NACK for @lost, parses it back and checks that the entries
 * cover exactly the set of @lost. Returns the number of entries. */
static guint
nack_round_trip (const guint16 *lost, guint n_lost)
{
  guint8 buf[12 + 4 * 512];
  g_autofree guint8 *want = g_malloc0 (65536);
  g_autofree guint8 *got = g_malloc0 (65536);
  KkRtcpIter it;
  KkRtcpPacket p;
  gsize n;

  for (guint i = 0; i < n_lost; i++)
    want[lost[i]] = TRUE;

  n = kk_rtcp_write_nack (buf, sizeof (buf), 0xa, 0xb, lost, n_lost);
  g_assert_cmpuint (n, >, 12);
  g_assert_true (kk_rtcp_iter_init (&it, buf, n));
  g_assert_true (kk_rtcp_iter_next (&it, &p));
  g_assert_cmpint (p.type, ==, KK_RTCP_NACK);
  g_assert_cmpuint (p.sender_ssrc, ==, 0xa);
  g_assert_cmpuint (p.media_ssrc, ==, 0xb);
  g_assert_cmpuint (p.n_fci, ==, (n - 12) / 4);
  for (guint e = 0; e < p.n_fci; e++) {
    guint16 pid, blp;

    kk_rtcp_nack_entry (&p, e, &pid, &blp);
    got[pid] = TRUE;
    for (guint b = 0; b < 16; b++)
      if (blp & (1u << b))
        got[(guint16) (pid + b + 1)] = TRUE;
  }
  g_assert_cmpmem (got, 65536, want, 65536);
  g_assert_false (kk_rtcp_iter_next (&it, &p));
  return p.n_fci;
}

static void
test_build_nack (void)
{
  static const guint16 lost[] = { 100, 101, 103, 116, 117, 200 };
  static const guint8 expected[] = {
    0x81, 0xcd, 0x00, 0x05, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0b,
    0x00, 0x64, 0x80, 0x05,   /* 100: +101, +103, +116 */
    0x00, 0x75, 0x00, 0x00,   /* 117 */
    0x00, 0xc8, 0x00, 0x00,   /* 200 */
  };
  static const guint16 wrap[] = { 65534, 65535, 0, 1 };
  static const guint16 unsorted[] = { 5, 3, 4, 5, 21, 22 };
  guint8 buf[64];
  guint16 random_lost[300];
  gsize n;

  n = kk_rtcp_write_nack (buf, sizeof (buf), 0xa, 0xb, lost,
      G_N_ELEMENTS (lost));
  g_assert_cmpmem (buf, n, expected, sizeof (expected));
  g_assert_cmpuint (nack_round_trip (lost, G_N_ELEMENTS (lost)), ==, 3);

  /* Across the wrap: one entry, PID 65534 with BLP bits 0..2. */
  n = kk_rtcp_write_nack (buf, sizeof (buf), 0xa, 0xb, wrap, 4);
  g_assert_cmpuint (n, ==, 16);
  g_assert_cmpuint (buf[12] << 8 | buf[13], ==, 65534);
  g_assert_cmphex (buf[14] << 8 | buf[15], ==, 0x0007);
  g_assert_cmpuint (nack_round_trip (wrap, 4), ==, 1);

  g_assert_cmpuint (nack_round_trip (unsorted, G_N_ELEMENTS (unsorted)), <=,
      3);

  /* Room for exactly the entries, and one byte less. */
  g_assert_cmpuint (kk_rtcp_write_nack (buf, sizeof (expected), 0xa, 0xb,
          lost, G_N_ELEMENTS (lost)), ==, sizeof (expected));
  g_assert_cmpuint (kk_rtcp_write_nack (buf, sizeof (expected) - 1, 0xa, 0xb,
          lost, G_N_ELEMENTS (lost)), ==, 0);
  g_assert_cmpuint (kk_rtcp_write_nack (buf, sizeof (buf), 0xa, 0xb, lost, 0),
      ==, 0);

  /* Random sorted runs with gaps, starting near the wrap. */
  for (guint round = 0; round < 200; round++) {
    guint16 seq = g_test_rand_int_range (65000, 65536);
    guint count = g_test_rand_int_range (1, G_N_ELEMENTS (random_lost));

    for (guint i = 0; i < count; i++) {
      random_lost[i] = seq;
      seq += g_test_rand_int_range (1, 24);
    }
    nack_round_trip (random_lost, count);
  }
}

static void
test_ntp (void)
{
  const guint64 epoch = G_GUINT64_CONSTANT (2208988800) << 32;

  g_assert_cmphex (kk_ntp_from_unix_us (0), ==, epoch);
  g_assert_cmphex (kk_ntp_from_unix_us (1500000), ==,
      epoch + (G_GUINT64_CONSTANT (1) << 32) + 0x80000000u);
  g_assert_cmphex (kk_ntp_from_unix_us (-500000), ==, epoch - 0x80000000u);
  /* 2024-01-01T00:00:00.25Z = 1704067200 s: NTP seconds 3913056000. */
  g_assert_cmphex (kk_ntp_from_unix_us (G_GINT64_CONSTANT (1704067200250000)),
      ==, (G_GUINT64_CONSTANT (3913056000) << 32) | 0x40000000u);
  /* One microsecond is 4294.967296 units of 2^-32 s. */
  g_assert_cmphex (kk_ntp_from_unix_us (1) & 0xffffffff, ==, 4294);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rtp/is-rtcp", test_is_rtcp);
  g_test_add_func ("/rtp/parse/full", test_parse_full);
  g_test_add_func ("/rtp/parse/minimal", test_parse_minimal);
  g_test_add_func ("/rtp/parse/rejects", test_parse_rejects);
  g_test_add_func ("/rtp/parse/truncations", test_parse_truncations);
  g_test_add_func ("/rtp/write-stripped", test_write_stripped);
  g_test_add_func ("/rtp/keyframe/vp8", test_vp8);
  g_test_add_func ("/rtp/vp8/ids", test_vp8_ids);
  g_test_add_func ("/rtp/keyframe/h264", test_h264);
  g_test_add_func ("/rtcp/chrome-compound", test_rtcp_chrome_compound);
  g_test_add_func ("/rtcp/truncations", test_rtcp_truncations);
  g_test_add_func ("/rtcp/other-types", test_rtcp_other_types);
  g_test_add_func ("/rtcp/malformed", test_rtcp_malformed);
  g_test_add_func ("/rtcp/build/sr", test_build_sr);
  g_test_add_func ("/rtcp/build/sdes", test_build_sdes);
  g_test_add_func ("/rtcp/build/pli", test_build_pli);
  g_test_add_func ("/rtcp/build/rr", test_build_rr);
  g_test_add_func ("/rtcp/build/nack", test_build_nack);
  g_test_add_func ("/rtcp/ntp", test_ntp);

  return g_test_run ();
}
