/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-icetcp: RFC 4571 framing for passive ICE-TCP (RFC 6544).
 *
 * TCP hands us the stream in arbitrary slices: a read may end inside the
 * 2-byte length, inside a frame, or carry several frames. The reader keeps
 * at most one partial frame in its fixed buffer and hands complete frames
 * to a callback. A frame that arrives whole inside one read is passed
 * straight from the caller's bytes, so the common case costs no copy; only
 * frames split across reads go through the buffer. The length is checked as
 * soon as both of its bytes are known, before anything of the frame is
 * stored, so a hostile length can never make the reader buffer or wait for
 * more than KK_ICETCP_MAX_FRAME bytes.
 */

#include "kringkast/kk-icetcp.h"

#include <string.h>

G_DEFINE_QUARK (kk-icetcp-error-quark, kk_icetcp_error)

void
kk_icetcp_reader_init (KkIceTcpReader *reader)
{
  reader->fill = 0;
}

static gboolean
check_frame_len (gsize frame_len, GError **error)
{
  if (frame_len == 0 || frame_len > KK_ICETCP_MAX_FRAME) {
    g_set_error (error, KK_ICETCP_ERROR, KK_ICETCP_ERROR_BAD_LENGTH,
        "ICE-TCP frame of %" G_GSIZE_FORMAT " bytes (allowed 1..%d)",
        frame_len, KK_ICETCP_MAX_FRAME);
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_icetcp_reader_feed (KkIceTcpReader *reader, const guint8 *data,
    gsize len, KkIceTcpFrameFunc func, gpointer user_data, GError **error)
{
  while (len > 0) {
    gsize frame_len, want, take;

    /* Nothing buffered: hand over every frame that is complete in @data
     * without copying it. */
    if (reader->fill == 0) {
      while (len >= 2) {
        frame_len = ((gsize) data[0] << 8) | data[1];
        if (!check_frame_len (frame_len, error))
          return FALSE;
        if (len - 2 < frame_len)
          break;
        func (data + 2, frame_len, user_data);
        data += 2 + frame_len;
        len -= 2 + frame_len;
      }
      if (len == 0)
        break;
    }

    /* Complete the length prefix first, and check it before buffering any
     * of the frame. */
    if (reader->fill < 2) {
      take = MIN (len, 2 - reader->fill);
      memcpy (reader->buf + reader->fill, data, take);
      reader->fill += take;
      data += take;
      len -= take;
      if (reader->fill < 2)
        break;
      frame_len = ((gsize) reader->buf[0] << 8) | reader->buf[1];
      if (!check_frame_len (frame_len, error))
        return FALSE;
    }

    frame_len = ((gsize) reader->buf[0] << 8) | reader->buf[1];
    want = 2 + frame_len - reader->fill;
    take = MIN (len, want);
    memcpy (reader->buf + reader->fill, data, take);
    reader->fill += take;
    data += take;
    len -= take;
    if (take == want) {
      reader->fill = 0;
      func (reader->buf + 2, frame_len, user_data);
    }
  }
  return TRUE;
}
