/* SPDX-License-Identifier: Apache-2.0 */
/*
 * feed-media: real encoded video for the tests and benchmarks of what
 * takes a feed's packets (the light layer). A GStreamer pipeline encodes
 * and payloads it, and each packet goes through a real KkTrack, so the
 * KkPackets are exactly what a feed's taps are given: the track's SSRC,
 * sequence numbers and timestamps, its keyframe flags (only the first
 * packet of a keyframe), a placeholder payload type.
 * And how to tell that a light layer has dealt with all it was given.
 */
#pragma once

#include <gst/gst.h>

#include "kk-light-layer.h"
#include "kk-track.h"

G_BEGIN_DECLS

/* Called once per frame, before its packets go to the track: may move the
 * frame's RTP timestamp (@timestamp, as the payloader made it) and sets
 * its capture time (@capture_wall_us, from the frame's PTS to start). */
typedef void (*KkFeedMediaRetime) (guint frame, guint32 *timestamp,
    gint64 *capture_wall_us, gpointer user_data);

/**
 * kk_feed_media_make:
 * @description: a gst-launch description ending in an appsink named "v"
 *   that takes video RTP of @codec; its source must end the stream
 * @codec: %KK_CODEC_VP8 or %KK_CODEC_H264
 * @retime: (nullable): sets each frame's timestamp and capture time
 * @user_data: for @retime
 *
 * Returns: (transfer full) (element-type KkPacket): the packets, in order.
 */
GPtrArray *kk_feed_media_make (const char *description, KkCodec codec,
    KkFeedMediaRetime retime, gpointer user_data);

/**
 * kk_feed_media_decode:
 * @codec: %KK_CODEC_VP8 or %KK_CODEC_H264
 * @packets: (element-type GBytes): RTP of @codec (any payload type)
 * @first_ts: the RTP timestamp that becomes PTS 0
 * @after: (nullable): elements after the decoder, from "! " on
 *
 * Starts a depayloader and decoder of @codec on @packets, all given at
 * once and then EOS, ending in an appsink named "sink" that holds at most
 * two frames, to be pulled one at a time.
 *
 * Returns: (transfer full): the pipeline, playing.
 */
GstElement *kk_feed_media_decode (KkCodec codec, GPtrArray *packets,
    guint32 first_ts, const char *after);

/* TRUE when a light layer holds no frame back: every whole frame taken in
 * decoded (@incomplete: frames given only in part, which never decode),
 * every one kept scaled, and each either sent or dropped by the queue
 * before the encoder. */
gboolean kk_feed_media_light_layer_idle (const KkLightLayerStats *s,
    guint incomplete);

G_END_DECLS
