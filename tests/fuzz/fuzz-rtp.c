/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-rtp: every parser the forwarding core runs on a
 * packet from the network. The input is tried as RTP (parse, strip into a
 * buffer of exactly the needed size, both keyframe detectors on the
 * payload and on the raw bytes) and as a compound RTCP packet, reading
 * every report block and NACK entry the iterator hands out.
 */

#include "kringkast/kk-rtp.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  KkRtpHeader h;
  KkRtcpIter it;
  KkRtcpPacket p;
  volatile guint sink = 0;

  kk_rtp_is_rtcp (data, size);
  sink += kk_rtp_vp8_is_keyframe_start (data, size);
  sink += kk_rtp_h264_is_keyframe_start (data, size);

  if (kk_rtp_parse (data, size, &h)) {
    guint8 *out;
    gsize need = KK_RTP_HEADER_LEN + h.payload_len;

    if (h.header_len + h.payload_len + h.padding_len != size)
      abort ();
    /* Exactly the room needed, so ASan sees any write past it. */
    out = g_malloc (need);
    if (kk_rtp_write_stripped (&h, 96, h.seq + 1, h.timestamp, 1234, out,
            need) != need)
      abort ();
    if (kk_rtp_write_stripped (&h, 96, 0, 0, 0, out, need - 1) != 0)
      abort ();
    g_free (out);
    sink += kk_rtp_vp8_is_keyframe_start (h.payload, h.payload_len);
    sink += kk_rtp_h264_is_keyframe_start (h.payload, h.payload_len);
    {
      KkVp8Ids ids;
      guint8 *copy = g_memdup2 (h.payload, h.payload_len);

      /* Rewritten in place, as a forwarder does on its copy: the ids
       * read back are the ones written, within their width. */
      if (kk_rtp_vp8_parse_ids (copy, h.payload_len, &ids)) {
        KkVp8Ids again;

        kk_rtp_vp8_write_ids (copy, &ids, ids.picture_id + 1, ids.tl0picidx + 1);
        if (!kk_rtp_vp8_parse_ids (copy, h.payload_len, &again)
            || again.picture_id_bits != ids.picture_id_bits
            || (ids.picture_id_bits != 0 && again.picture_id
                != ((ids.picture_id + 1) & ((1u << ids.picture_id_bits) - 1)))
            || (ids.has_tl0picidx && again.tl0picidx != (guint8) (ids.tl0picidx + 1)))
          abort ();
      }
      g_free (copy);
    }
  }

  kk_rtcp_iter_init (&it, data, size);
  while (kk_rtcp_iter_next (&it, &p)) {
    if (p.data < data || p.data + p.len > data + size)
      abort ();
    for (guint i = 0; i < p.n_blocks; i++) {
      KkRtcpReportBlock rb;

      kk_rtcp_report_block (&p, i, &rb);
      sink += rb.jitter;
    }
    for (guint i = 0; i < p.n_fci; i++) {
      guint16 pid, blp;

      kk_rtcp_nack_entry (&p, i, &pid, &blp);
      sink += pid + blp;
    }
  }
  (void) sink;
  return 0;
}
