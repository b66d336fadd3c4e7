/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-icetcp: RFC 4571 framing for passive ICE-TCP (RFC 6544).
 *
 * Each STUN message, DTLS record and (S)RTP/RTCP packet on an ICE-TCP
 * connection is preceded by a 16-bit big-endian length. The reader collects
 * frames from whatever slices the TCP stream arrives in. Frames are bounded
 * by KK_ICETCP_MAX_FRAME: nothing the relay exchanges is larger, and a bound
 * keeps a hostile peer from making us hold 64 KiB per connection.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_ICETCP_MAX_FRAME 2048

#define KK_ICETCP_ERROR (kk_icetcp_error_quark ())
GQuark kk_icetcp_error_quark (void);

typedef enum {
  KK_ICETCP_ERROR_BAD_LENGTH,   /* a frame of 0 or over KK_ICETCP_MAX_FRAME */
} KkIceTcpError;

typedef struct {
  guint8 buf[2 + KK_ICETCP_MAX_FRAME];
  gsize fill;
} KkIceTcpReader;

/* Called once per complete frame; @frame is valid only during the call. */
typedef void (*KkIceTcpFrameFunc) (const guint8 *frame, gsize len,
    gpointer user_data);

void kk_icetcp_reader_init (KkIceTcpReader *reader);

/* Feeds @len bytes read from the connection. Calls @func for each frame
 * completed by them. Returns FALSE (and sets @error) when a frame announces
 * a length of 0 or over KK_ICETCP_MAX_FRAME: the connection must be closed. */
gboolean kk_icetcp_reader_feed (KkIceTcpReader *reader, const guint8 *data,
    gsize len, KkIceTcpFrameFunc func, gpointer user_data, GError **error);

/* Writes the 2-byte length prefix for a frame of @len bytes. */
static inline void
kk_icetcp_write_header (guint8 header[2], gsize len)
{
  header[0] = (len >> 8) & 0xff;
  header[1] = len & 0xff;
}

G_END_DECLS
