/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-media: real encoded media for the tests of what taps a feed (the
 * recorder, the segmenter): VP8 or H.264 (constrained baseline) video and
 * Opus audio made by GStreamer's encoders and payloaders, as the feed's
 * KkPackets (placeholder payload type, keyframe starts marked), in the
 * order a live publisher sends them; and what they wrote, decoded.
 */
#pragma once

#include <gst/gst.h>
#include "kk-track.h"

G_BEGIN_DECLS

/* @seconds of 160x120 video at @fps with a keyframe every @gop frames,
 * and 20 ms Opus frames, interleaved by media time. No capture times.
 * Returns: (transfer full) (element-type KkPacket) */
GPtrArray *kk_test_media_make (KkCodec codec, guint seconds, guint fps,
    guint gop);

/* Media time of @packet from its track's first timestamp @first_ts. */
gdouble kk_test_media_seconds (KkPacket *packet, guint32 first_ts);

/* What decoding a file gave, per track. */
typedef struct {
  GstClockTime video_end;
  GstClockTime audio_end;
  /* Running time of each track's first buffer: where a player starts it
   * (qtdemux puts an MP4's empty edit in the segment, not the PTS). */
  GstClockTime video_start;
  GstClockTime audio_start;
  guint video_frames;
  char *video_caps;
} KkTestDecoded;


/* Decodes @path in full (decodebin); fails the test on any error. */
void kk_test_media_decode (const char *path, KkTestDecoded *decoded);

G_END_DECLS
