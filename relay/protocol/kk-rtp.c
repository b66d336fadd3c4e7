/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-rtp: RTP and RTCP parsing and building for the forwarding core.
 *
 * Everything here runs once per packet (RTP parse, strip, keyframe checks)
 * or once per RTCP compound, so the functions are plain byte-level code over
 * caller-owned buffers: no allocation, no locks, no logging. Parsers bound
 * every length against the bytes they were given before reading, and the
 * results point back into the input instead of copying it. RTCP iteration
 * stops at the first malformed packet, so a lying length field can never
 * make a later packet be read out of place.
 */

#include "kringkast/kk-rtp.h"

#include <string.h>

#define RTCP_SR 200
#define RTCP_RR 201
#define RTCP_SDES 202
#define RTCP_BYE 203
#define RTCP_RTPFB 205
#define RTCP_PSFB 206

#define RTCP_HEADER_LEN 4
#define RTCP_SR_LEN 28          /* header, SSRC, 20-byte sender info */
#define RTCP_RR_LEN 8           /* header, SSRC */
#define RTCP_FB_LEN 12          /* header, sender SSRC, media SSRC */
#define RTCP_REPORT_BLOCK_LEN 24
#define RTCP_FIR_ENTRY_LEN 8
#define RTCP_MAX_COUNT 31       /* the 5-bit RC / SC field */

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define NTP_UNIX_OFFSET G_GUINT64_CONSTANT (2208988800)

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline guint32
rd32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
      ((guint32) p[2] << 8) | p[3];
}

static inline void
wr16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static inline void
wr32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

gboolean
kk_rtp_is_rtcp (const guint8 *data, gsize len)
{
  /* RFC 5761 §4: RTCP packet types 192..223 cannot be mistaken for an RTP
   * marker bit plus a payload type, because payload types 64..95 are never
   * assigned when RTP and RTCP share a port. */
  return len >= 2 && data[1] >= 192 && data[1] <= 223;
}

gboolean
kk_rtp_parse (const guint8 *data, gsize len, KkRtpHeader *out)
{
  gsize header_len, end;
  guint8 csrc_count;

  if (len < KK_RTP_HEADER_LEN || (data[0] >> 6) != 2)
    return FALSE;

  csrc_count = data[0] & 0x0f;
  header_len = KK_RTP_HEADER_LEN + 4 * (gsize) csrc_count;
  if (header_len > len)
    return FALSE;

  out->has_extension = (data[0] & 0x10) != 0;
  if (out->has_extension) {
    gsize ext_len;

    if (header_len + 4 > len)
      return FALSE;
    out->extension_profile = rd16 (data + header_len);
    ext_len = 4 * (gsize) rd16 (data + header_len + 2);
    header_len += 4;
    if (ext_len > len - header_len)
      return FALSE;
    out->extension = data + header_len;
    out->extension_len = ext_len;
    header_len += ext_len;
  } else {
    out->extension_profile = 0;
    out->extension = NULL;
    out->extension_len = 0;
  }

  end = len;
  out->padding_len = 0;
  if (data[0] & 0x20) {
    /* The last octet counts the padding including itself (RFC 3550 §5.1),
     * so 0 is as invalid as a count reaching into the header. */
    guint8 pad = data[len - 1];

    if (pad == 0 || pad > len - header_len)
      return FALSE;
    out->padding_len = pad;
    end -= pad;
  }

  out->marker = (data[1] & 0x80) != 0;
  out->payload_type = data[1] & 0x7f;
  out->seq = rd16 (data + 2);
  out->timestamp = rd32 (data + 4);
  out->ssrc = rd32 (data + 8);
  out->csrc_count = csrc_count;
  out->header_len = header_len;
  out->payload = data + header_len;
  out->payload_len = end - header_len;
  return TRUE;
}

gsize
kk_rtp_write_stripped (const KkRtpHeader *in, guint8 payload_type,
    guint16 seq, guint32 timestamp, guint32 ssrc, guint8 *out, gsize out_cap)
{
  gsize total;

  if (in->payload_len > G_MAXSIZE - KK_RTP_HEADER_LEN)
    return 0;
  total = KK_RTP_HEADER_LEN + in->payload_len;
  if (total > out_cap)
    return 0;

  /* memmove, because normalising in place (@out being the packet @in was
   * parsed from) moves the payload towards the start over itself. The
   * payload is moved before the header is written over what may be its old
   * CSRCs or extension. */
  memmove (out + KK_RTP_HEADER_LEN, in->payload, in->payload_len);
  out[0] = 0x80;
  out[1] = (in->marker ? 0x80 : 0) | (payload_type & 0x7f);
  wr16 (out + 2, seq);
  wr32 (out + 4, timestamp);
  wr32 (out + 8, ssrc);
  return total;
}

gboolean
kk_rtp_vp8_is_keyframe_start (const guint8 *payload, gsize len)
{
  gsize off = 1;

  /* Payload descriptor (RFC 7741 §4.2): X R N S R PID. A keyframe starts
   * in the packet that begins partition 0. */
  if (len < 1 || (payload[0] & 0x10) == 0 || (payload[0] & 0x07) != 0)
    return FALSE;

  if (payload[0] & 0x80) {
    guint8 ext;

    if (off >= len)
      return FALSE;
    ext = payload[off++];       /* I L T K RSV */
    if (ext & 0x80) {           /* I: PictureID, 7 or 15 bits (M flag) */
      if (off >= len)
        return FALSE;
      off += (payload[off] & 0x80) ? 2 : 1;
    }
    if (ext & 0x40)             /* L: TL0PICIDX */
      off++;
    if (ext & 0x30)             /* T or K: one shared TID/Y/KEYIDX byte */
      off++;
  }

  /* The VP8 payload header's first octet: Size0 H VER P, where P = 0 marks
   * a key frame (RFC 7741 §4.3, RFC 6386 §9.1). */
  if (off >= len)
    return FALSE;
  return (payload[off] & 0x01) == 0;
}

gboolean
kk_rtp_vp8_parse_ids (const guint8 *payload, gsize len, KkVp8Ids *out)
{
  gsize off = 2;
  guint8 ext;

  memset (out, 0, sizeof (*out));
  if (len < 1)
    return FALSE;
  if ((payload[0] & 0x80) == 0)     /* X: no extension, no ids */
    return TRUE;
  if (len < 2)
    return FALSE;
  ext = payload[1];                 /* I L T K RSV */
  if (ext & 0x80) {
    if (off >= len)
      return FALSE;
    if (payload[off] & 0x80) {      /* M: 15 bits */
      if (off + 1 >= len)
        return FALSE;
      out->picture_id_bits = 15;
      out->picture_id = ((payload[off] & 0x7f) << 8) | payload[off + 1];
      out->picture_id_offset = off;
      off += 2;
    } else {
      out->picture_id_bits = 7;
      out->picture_id = payload[off];
      out->picture_id_offset = off;
      off += 1;
    }
  }
  if (ext & 0x40) {
    if (off >= len)
      return FALSE;
    out->has_tl0picidx = TRUE;
    out->tl0picidx = payload[off];
    out->tl0picidx_offset = off;
  }
  return TRUE;
}

void
kk_rtp_vp8_write_ids (guint8 *payload, const KkVp8Ids *ids,
    guint16 picture_id, guint8 tl0picidx)
{
  if (ids->picture_id_bits == 15) {
    payload[ids->picture_id_offset] = 0x80 | ((picture_id >> 8) & 0x7f);
    payload[ids->picture_id_offset + 1] = picture_id & 0xff;
  } else if (ids->picture_id_bits == 7) {
    payload[ids->picture_id_offset] = picture_id & 0x7f;
  }
  if (ids->has_tl0picidx)
    payload[ids->tl0picidx_offset] = tl0picidx;
}

static inline gboolean
h264_nal_is_keyframe (guint8 nal_type)
{
  return nal_type == 5 || nal_type == 7;  /* IDR slice, SPS */
}

gboolean
kk_rtp_h264_is_keyframe_start (const guint8 *payload, gsize len)
{
  guint8 type;

  if (len < 1)
    return FALSE;
  type = payload[0] & 0x1f;

  if (type >= 1 && type <= 23)
    return h264_nal_is_keyframe (type);

  if (type == 24) {
    /* STAP-A (RFC 6184 §5.7.1): 16-bit size, NAL unit, repeated. The whole
     * aggregate must be well formed, not just the part up to a match. */
    gsize off = 1;
    gboolean found = FALSE;

    while (off < len) {
      gsize size;

      if (len - off < 2)
        return FALSE;
      size = rd16 (payload + off);
      off += 2;
      if (size == 0 || size > len - off)
        return FALSE;
      if (h264_nal_is_keyframe (payload[off] & 0x1f))
        found = TRUE;
      off += size;
    }
    return found;
  }

  if (type == 28) {
    /* FU-A (RFC 6184 §5.8): the FU header's S bit starts the NAL unit. */
    return len >= 2 && (payload[1] & 0x80) &&
        h264_nal_is_keyframe (payload[1] & 0x1f);
  }

  /* STAP-B, MTAP and FU-B only exist in interleaved mode, which the relay
   * does not negotiate; 0, 30 and 31 are reserved. */
  return FALSE;
}

/* ---- RTCP ---- */

gboolean
kk_rtcp_iter_init (KkRtcpIter *iter, const guint8 *data, gsize len)
{
  gboolean ok = len >= RTCP_HEADER_LEN && (data[0] >> 6) == 2 &&
      data[1] >= 192 && data[1] <= 223;

  iter->data = data;
  iter->len = len;
  /* A refused packet also leaves an iterator that yields nothing. */
  iter->offset = ok ? 0 : len;
  return ok;
}

gboolean
kk_rtcp_iter_next (KkRtcpIter *iter, KkRtcpPacket *out)
{
  const guint8 *p;
  gsize left, plen, body;
  guint8 count;

  if (iter->offset >= iter->len)
    return FALSE;
  p = iter->data + iter->offset;
  left = iter->len - iter->offset;
  if (left < RTCP_HEADER_LEN || (p[0] >> 6) != 2)
    goto malformed;

  plen = 4 * ((gsize) rd16 (p + 2) + 1);
  if (plen > left)
    goto malformed;

  body = plen;
  if (p[0] & 0x20) {
    guint8 pad = p[plen - 1];

    if (pad == 0 || pad > plen - RTCP_HEADER_LEN)
      goto malformed;
    body -= pad;
  }

  count = p[0] & 0x1f;
  memset (out, 0, sizeof (*out));
  out->fmt = count;
  out->packet_type = p[1];
  out->data = p;
  out->len = plen;
  if (body >= 8)
    out->sender_ssrc = rd32 (p + 4);

  switch (p[1]) {
    case RTCP_SR:
      if (body < RTCP_SR_LEN + (gsize) count * RTCP_REPORT_BLOCK_LEN)
        goto malformed;
      out->type = KK_RTCP_SR;
      out->ntp = ((guint64) rd32 (p + 8) << 32) | rd32 (p + 12);
      out->rtp_ts = rd32 (p + 16);
      out->packet_count = rd32 (p + 20);
      out->octet_count = rd32 (p + 24);
      out->blocks = p + RTCP_SR_LEN;
      out->n_blocks = count;
      break;
    case RTCP_RR:
      if (body < RTCP_RR_LEN + (gsize) count * RTCP_REPORT_BLOCK_LEN)
        goto malformed;
      out->type = KK_RTCP_RR;
      out->blocks = p + RTCP_RR_LEN;
      out->n_blocks = count;
      break;
    case RTCP_SDES:
      /* Chunks are not walked: the relay only ever needs the first SSRC,
       * which sender_ssrc already holds when there is one. */
      out->type = KK_RTCP_SDES;
      break;
    case RTCP_BYE:
      if (body < RTCP_HEADER_LEN + (gsize) count * 4)
        goto malformed;
      out->type = KK_RTCP_BYE;
      break;
    case RTCP_RTPFB:
      if (body < RTCP_FB_LEN)
        goto malformed;
      out->media_ssrc = rd32 (p + 8);
      if (count == 1) {
        out->type = KK_RTCP_NACK;
        out->fci = p + RTCP_FB_LEN;
        out->n_fci = (body - RTCP_FB_LEN) / 4;
      } else {
        out->type = KK_RTCP_OTHER;
      }
      break;
    case RTCP_PSFB:
      if (body < RTCP_FB_LEN)
        goto malformed;
      out->media_ssrc = rd32 (p + 8);
      if (count == 1) {
        out->type = KK_RTCP_PLI;
      } else if (count == 4) {
        /* FIR's media SSRC field is unused (RFC 5104 §4.3.1.2); the
         * target is in the FCI entries, which must hold at least one. */
        if (body < RTCP_FB_LEN + RTCP_FIR_ENTRY_LEN)
          goto malformed;
        out->type = KK_RTCP_FIR;
        out->media_ssrc = rd32 (p + RTCP_FB_LEN);
      } else {
        out->type = KK_RTCP_OTHER;
      }
      break;
    default:
      out->type = KK_RTCP_OTHER;
      break;
  }

  iter->offset += plen;
  return TRUE;

malformed:
  iter->offset = iter->len;
  return FALSE;
}

void
kk_rtcp_report_block (const KkRtcpPacket *packet, guint index,
    KkRtcpReportBlock *out)
{
  const guint8 *b;
  guint32 lost;

  g_return_if_fail (index < packet->n_blocks);

  b = packet->blocks + (gsize) index * RTCP_REPORT_BLOCK_LEN;
  out->ssrc = rd32 (b);
  out->fraction_lost = b[4];
  /* 24-bit two's complement: duplicates can make it negative. */
  lost = rd32 (b + 4) & 0xffffff;
  out->cumulative_lost = (lost & 0x800000) ? (gint32) lost - 0x1000000 :
      (gint32) lost;
  out->highest_seq = rd32 (b + 8);
  out->jitter = rd32 (b + 12);
  out->lsr = rd32 (b + 16);
  out->dlsr = rd32 (b + 20);
}

void
kk_rtcp_nack_entry (const KkRtcpPacket *packet, guint index,
    guint16 *pid, guint16 *blp)
{
  g_return_if_fail (index < packet->n_fci);

  *pid = rd16 (packet->fci + (gsize) index * 4);
  *blp = rd16 (packet->fci + (gsize) index * 4 + 2);
}

static inline void
write_rtcp_header (guint8 *buf, guint8 count, guint8 packet_type, gsize len)
{
  buf[0] = 0x80 | count;
  buf[1] = packet_type;
  wr16 (buf + 2, len / 4 - 1);
}

gsize
kk_rtcp_write_sr (guint8 *buf, gsize cap, guint32 ssrc, guint64 ntp,
    guint32 rtp_ts, guint32 packet_count, guint32 octet_count)
{
  if (cap < RTCP_SR_LEN)
    return 0;
  write_rtcp_header (buf, 0, RTCP_SR, RTCP_SR_LEN);
  wr32 (buf + 4, ssrc);
  wr32 (buf + 8, ntp >> 32);
  wr32 (buf + 12, ntp & 0xffffffff);
  wr32 (buf + 16, rtp_ts);
  wr32 (buf + 20, packet_count);
  wr32 (buf + 24, octet_count);
  return RTCP_SR_LEN;
}

gsize
kk_rtcp_write_sdes_cname (guint8 *buf, gsize cap, guint32 ssrc,
    const char *cname)
{
  gsize n = strlen (cname);
  gsize chunk, total;

  if (n > 255)
    return 0;
  /* SSRC, CNAME item (type, length, text), then the null item that ends
   * the chunk: at least one zero octet, as many as reach a 32-bit
   * boundary (RFC 3550 §6.5). */
  chunk = (4 + 2 + n + 1 + 3) & ~(gsize) 3;
  total = RTCP_HEADER_LEN + chunk;
  if (cap < total)
    return 0;

  write_rtcp_header (buf, 1, RTCP_SDES, total);
  wr32 (buf + 4, ssrc);
  buf[8] = 1;                   /* CNAME */
  buf[9] = n;
  memcpy (buf + 10, cname, n);
  memset (buf + 10 + n, 0, total - 10 - n);
  return total;
}

gsize
kk_rtcp_write_pli (guint8 *buf, gsize cap, guint32 sender_ssrc,
    guint32 media_ssrc)
{
  if (cap < RTCP_FB_LEN)
    return 0;
  write_rtcp_header (buf, 1, RTCP_PSFB, RTCP_FB_LEN);
  wr32 (buf + 4, sender_ssrc);
  wr32 (buf + 8, media_ssrc);
  return RTCP_FB_LEN;
}

gsize
kk_rtcp_write_rr (guint8 *buf, gsize cap, guint32 ssrc,
    const KkRtcpReportBlock *blocks, guint n_blocks)
{
  gsize total;

  if (n_blocks > RTCP_MAX_COUNT)
    return 0;
  total = RTCP_RR_LEN + (gsize) n_blocks * RTCP_REPORT_BLOCK_LEN;
  if (cap < total)
    return 0;

  write_rtcp_header (buf, n_blocks, RTCP_RR, total);
  wr32 (buf + 4, ssrc);
  for (guint i = 0; i < n_blocks; i++) {
    const KkRtcpReportBlock *rb = &blocks[i];
    guint8 *b = buf + RTCP_RR_LEN + (gsize) i * RTCP_REPORT_BLOCK_LEN;
    gint32 lost = CLAMP (rb->cumulative_lost, -0x800000, 0x7fffff);

    wr32 (b, rb->ssrc);
    wr32 (b + 4, ((guint32) rb->fraction_lost << 24) |
        ((guint32) lost & 0xffffff));
    wr32 (b + 8, rb->highest_seq);
    wr32 (b + 12, rb->jitter);
    wr32 (b + 16, rb->lsr);
    wr32 (b + 20, rb->dlsr);
  }
  return total;
}

gsize
kk_rtcp_write_nack (guint8 *buf, gsize cap, guint32 sender_ssrc,
    guint32 media_ssrc, const guint16 *lost, guint n_lost)
{
  gsize total = RTCP_FB_LEN;
  guint n_entries = 0;

  if (n_lost == 0 || cap < RTCP_FB_LEN + 4)
    return 0;

  /* Each sequence number goes into the first entry whose PID it is, or
   * lies up to 16 after; otherwise it opens a new entry. Sorted input (the
   * usual case) gives the fewest entries; any order is still correct. */
  for (guint i = 0; i < n_lost; i++) {
    guint16 seq = lost[i];
    gboolean placed = FALSE;

    for (guint e = 0; e < n_entries && !placed; e++) {
      guint8 *fci = buf + RTCP_FB_LEN + (gsize) e * 4;
      guint16 diff = (guint16) (seq - rd16 (fci));

      if (diff == 0) {
        placed = TRUE;
      } else if (diff <= 16) {
        wr16 (fci + 2, rd16 (fci + 2) | (1u << (diff - 1)));
        placed = TRUE;
      }
    }
    if (placed)
      continue;

    /* The 16-bit length field caps a packet at 65536 words. */
    if (cap - total < 4 || total + 4 > 4 * (G_MAXUINT16 + (gsize) 1))
      return 0;
    wr16 (buf + total, seq);
    wr16 (buf + total + 2, 0);
    total += 4;
    n_entries++;
  }

  write_rtcp_header (buf, 1, RTCP_RTPFB, total);
  wr32 (buf + 4, sender_ssrc);
  wr32 (buf + 8, media_ssrc);
  return total;
}

guint64
kk_ntp_from_unix_us (gint64 unix_us)
{
  /* Floor division, so times before 1970 still get a fraction in [0, 1). */
  gint64 secs = unix_us / G_USEC_PER_SEC;
  gint64 usec = unix_us % G_USEC_PER_SEC;
  guint64 frac;

  if (usec < 0) {
    usec += G_USEC_PER_SEC;
    secs--;
  }
  frac = ((guint64) usec << 32) / G_USEC_PER_SEC;
  return ((guint64) (secs + (gint64) NTP_UNIX_OFFSET) << 32) | frac;
}
