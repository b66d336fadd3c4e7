/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-rtp: RTP and RTCP parsing and building for the forwarding core.
 *
 * Plain functions over byte buffers: no allocation, no GObject, so they are
 * cheap enough for the per-packet path and easy to fuzz. Every parser takes
 * untrusted bytes and never reads outside them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_RTP_HEADER_LEN 12

typedef struct {
  gboolean marker;
  guint8 payload_type;
  guint16 seq;
  guint32 timestamp;
  guint32 ssrc;
  guint8 csrc_count;
  gboolean has_extension;
  guint16 extension_profile;   /* 0xBEDE, 0x100x, ... when has_extension */
  const guint8 *extension;     /* extension data, after the 4-byte header */
  gsize extension_len;
  gsize header_len;            /* fixed header + CSRCs + extension */
  const guint8 *payload;
  gsize payload_len;           /* excluding padding */
  guint8 padding_len;
} KkRtpHeader;

/* RFC 5761 demultiplexing: TRUE when the second byte is an RTCP packet type
 * (192..223). Needs @len >= 2. */
gboolean kk_rtp_is_rtcp (const guint8 *data, gsize len);

/* Parses an RTP packet (version 2). FALSE on anything malformed: short,
 * wrong version, CSRC/extension/padding running past the end. */
gboolean kk_rtp_parse (const guint8 *data, gsize len, KkRtpHeader *out);

/* Writes a copy of the packet without CSRCs, header extension and padding
 * into @out (capacity @out_cap), with marker, payload type, seq, timestamp
 * and SSRC taken from the arguments. Returns the new length, 0 if it does not
 * fit. This is how ingest normalises a publisher's packet once, before it is
 * fanned out. @out may be the very buffer @in was parsed from. */
gsize kk_rtp_write_stripped (const KkRtpHeader *in, guint8 payload_type,
    guint16 seq, guint32 timestamp, guint32 ssrc, guint8 *out, gsize out_cap);

/* Keyframe detection on an RTP payload (after the RTP header). VP8: the
 * payload descriptor's S bit with partition 0, and the P bit of the VP8
 * frame header clear (RFC 7741). H.264: an IDR slice, or an SPS, as a single
 * NAL, inside STAP-A, or as the start of an FU-A (RFC 6184). */
gboolean kk_rtp_vp8_is_keyframe_start (const guint8 *payload, gsize len);
gboolean kk_rtp_h264_is_keyframe_start (const guint8 *payload, gsize len);

/* The picture ids of a VP8 payload descriptor (RFC 7741 §4.2), where a
 * forwarder that splices two encodings into one stream rewrites them so
 * that the receiver sees them continue. Offsets are into the payload. */
typedef struct {
  guint8 picture_id_bits;     /* 0 (absent), 7 or 15 */
  guint16 picture_id;
  gsize picture_id_offset;
  gboolean has_tl0picidx;
  guint8 tl0picidx;
  gsize tl0picidx_offset;
} KkVp8Ids;

/* Reads the picture id and TL0PICIDX of a VP8 payload. FALSE when the
 * descriptor is truncated. */
gboolean kk_rtp_vp8_parse_ids (const guint8 *payload, gsize len, KkVp8Ids *out);
/* Writes @picture_id (modulo the width the payload has) and @tl0picidx
 * into the fields @ids found in @payload; fields it lacks are left out. */
void kk_rtp_vp8_write_ids (guint8 *payload, const KkVp8Ids *ids,
    guint16 picture_id, guint8 tl0picidx);

/* ---- RTCP ---- */

typedef enum {
  KK_RTCP_SR,
  KK_RTCP_RR,
  KK_RTCP_SDES,
  KK_RTCP_BYE,
  KK_RTCP_NACK,    /* RTPFB FMT 1, RFC 4585 */
  KK_RTCP_PLI,     /* PSFB FMT 1 */
  KK_RTCP_FIR,     /* PSFB FMT 4, RFC 5104 */
  KK_RTCP_OTHER,   /* anything else well-formed: REMB, TWCC, APP, XR ... */
} KkRtcpType;

typedef struct {
  guint32 ssrc;               /* source this block reports on */
  guint8 fraction_lost;       /* in 1/256 */
  gint32 cumulative_lost;     /* 24-bit signed */
  guint32 highest_seq;        /* extended highest sequence number */
  guint32 jitter;             /* in RTP timestamp units */
  guint32 lsr;                /* middle 32 bits of the last SR's NTP time */
  guint32 dlsr;               /* delay since last SR, 1/65536 s */
} KkRtcpReportBlock;

typedef struct {
  KkRtcpType type;
  guint8 fmt;                 /* RC / FMT field */
  guint8 packet_type;
  guint32 sender_ssrc;
  guint32 media_ssrc;         /* NACK, PLI; FIR: the SSRC of the first FCI entry */
  /* SR */
  guint64 ntp;
  guint32 rtp_ts;
  guint32 packet_count;
  guint32 octet_count;
  /* SR and RR: report blocks, pointing into the packet (parse with
   * kk_rtcp_report_block) */
  const guint8 *blocks;
  guint n_blocks;
  /* NACK: n_fci entries of 4 bytes (PID, BLP), pointing into the packet */
  const guint8 *fci;
  guint n_fci;
  const guint8 *data;         /* the whole packet */
  gsize len;
} KkRtcpPacket;

typedef struct {
  const guint8 *data;
  gsize len;
  gsize offset;
} KkRtcpIter;

/* Starts iterating a compound RTCP packet. FALSE when the first packet is
 * not a version-2 RTCP packet (the iterator then yields nothing). */
gboolean kk_rtcp_iter_init (KkRtcpIter *iter, const guint8 *data, gsize len);
/* Next packet; FALSE at the end or at the first malformed packet (lengths
 * that run past the end, a truncated SR/RR/FB), which ends iteration. */
gboolean kk_rtcp_iter_next (KkRtcpIter *iter, KkRtcpPacket *out);
void kk_rtcp_report_block (const KkRtcpPacket *packet, guint index,
    KkRtcpReportBlock *out);
/* PID and BLP of NACK FCI entry @index: PID is lost, and PID+i+1 for each
 * bit i set in BLP. */
void kk_rtcp_nack_entry (const KkRtcpPacket *packet, guint index,
    guint16 *pid, guint16 *blp);

/* Builders. Each writes into @buf of @cap bytes and returns the length, or 0
 * if it does not fit. */
gsize kk_rtcp_write_sr (guint8 *buf, gsize cap, guint32 ssrc, guint64 ntp,
    guint32 rtp_ts, guint32 packet_count, guint32 octet_count);
/* An SDES packet with one CNAME chunk (appended after an SR in a compound).
 * 0 also for a CNAME over 255 bytes. */
gsize kk_rtcp_write_sdes_cname (guint8 *buf, gsize cap, guint32 ssrc,
    const char *cname);
gsize kk_rtcp_write_pli (guint8 *buf, gsize cap, guint32 sender_ssrc,
    guint32 media_ssrc);
/* At most 31 blocks; cumulative_lost is clamped to 24 bits. */
gsize kk_rtcp_write_rr (guint8 *buf, gsize cap, guint32 ssrc,
    const KkRtcpReportBlock *blocks, guint n_blocks);
/* Packs the lost sequence numbers (any order, duplicates allowed; sorted
 * gives the fewest entries) into PID/BLP entries. 0 also when @n_lost is 0. */
gsize kk_rtcp_write_nack (guint8 *buf, gsize cap, guint32 sender_ssrc,
    guint32 media_ssrc, const guint16 *lost, guint n_lost);

/* NTP time (RFC 3550: seconds since 1900 << 32 | fraction) of a
 * g_get_real_time () value. */
guint64 kk_ntp_from_unix_us (gint64 unix_us);

G_END_DECLS
