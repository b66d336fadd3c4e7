/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-light-layer: the light layer of one room's video, for viewers whose
 * link cannot carry the host's full stream (issue 13).
 *
 * GStreamer 1.22's webrtcbin cannot receive a browser's simulcast, so the
 * relay makes the lower layer itself: one decode, scale (640x360) and
 * encode per room, in the codec of the host's stream, through the
 * operator's pipeline file pipelines/light-vp8.pipeline or
 * light-h264.pipeline. It is the one exception to "nothing is re-encoded
 * on the way to viewers": once per room, never per viewer, and only while
 * a viewer needs it (its owner makes and frees it).
 *
 * The layer is fed the full layer's packets from a feed tap and hands out
 * RTP packets whose timestamps and capture times are those of the full-
 * layer frame each was made from, so a viewer switched between layers
 * keeps one timeline and lip sync. Decoded frames are thinned to at most
 * KK_LIGHT_LAYER_MAX_FPS before the encoder, each keeping its timestamp.
 *
 * It never holds up the ingest: kk_light_layer_push () only queues, and a
 * decoder that falls behind loses input (then waits for the next
 * keyframe) rather than letting the queue grow; a slow encoder loses
 * decoded frames in a leaky queue. Lost or missing input never wedges it:
 * before its first keyframe and after a gap it waits for the next
 * keyframe of the full layer, and asks for one.
 *
 * Threads: push () on the ingest's streaming thread; the packet callback
 * on the pipeline's streaming thread; errors on the GMainContext that was
 * thread-default when the layer was made; request_keyframe () and
 * get_stats () from any thread.
 */
#pragma once

#include <glib.h>
#include <kringkast/kk-sdp.h>

#include "kk-track.h"

G_BEGIN_DECLS

/* Frames per second the light layer carries at most. */
#define KK_LIGHT_LAYER_MAX_FPS 15

#define KK_LIGHT_LAYER_ERROR (kk_light_layer_error_quark ())
GQuark kk_light_layer_error_quark (void);

typedef enum {
  KK_LIGHT_LAYER_ERROR_CODEC,      /* no light layer for this codec */
  KK_LIGHT_LAYER_ERROR_PIPELINE,   /* the pipeline file is unusable */
  KK_LIGHT_LAYER_ERROR_FAILED,     /* the pipeline failed while running */
} KkLightLayerError;

typedef struct {
  /* Streaming thread: one RTP packet of the light layer. Its SSRC and
   * sequence numbers are the encoder's own, continuous; its timestamp is
   * that of the full-layer frame it was made from, and @capture_wall_us
   * that frame's capture time. Byte 1's payload type is a placeholder. */
  void (*packet) (const guint8 *rtp, gsize len, gint64 capture_wall_us,
      gpointer user_data);
  /* Main context: the encoder failed; the layer is unusable. */
  void (*error) (const GError *error, gpointer user_data);
  /* (nullable) From within kk_light_layer_push (): the layer cannot use
   * what it is given (it started mid-GOP, or lost input) and waits for a
   * keyframe of the full layer; ask the publisher. Called on the first
   * frame it cannot use and again after each second of media waiting. */
  void (*need_keyframe) (gpointer user_data);
} KkLightLayerCallbacks;

/* Counters since the layer was made, for metrics and tests. */
typedef struct {
  guint64 frames_in;          /* full-layer frames taken in */
  guint64 frames_lost;        /* not decodable: lost input, or dropped
                               * while waiting for a keyframe */
  guint64 frames_decoded;     /* frames out of the decoder */
  guint64 frames_thinned;     /* decoded frames left out for the rate */
  guint64 frames_scaled;      /* decoded, kept and scaled: into the queue
                               * before the encoder */
  guint64 frames_waiting;     /* scaled, not yet at the encoder */
  guint64 frames_dropped;     /* dropped by that queue: the encoder was
                               * too slow for them */
  guint64 frames_encoded;     /* frames into the encoder */
  guint64 frames_out;         /* frames of the light layer sent */
  guint64 packets_out;
  guint64 keyframes_out;
} KkLightLayerStats;

typedef struct _KkLightLayer KkLightLayer;

/**
 * kk_light_layer_new:
 * @pipelines_dir: the pipelines directory (KkConfig's pipelines_dir)
 * @codec: the full layer's video codec, %KK_CODEC_VP8 or %KK_CODEC_H264
 * @callbacks: (not nullable): copied; @packet and @error must be set
 * @user_data: for the callbacks
 * @error: %KK_LIGHT_LAYER_ERROR_CODEC or %KK_LIGHT_LAYER_ERROR_PIPELINE
 *
 * Loads pipelines/light-vp8.pipeline or light-h264.pipeline (an appsrc
 * named "full", an appsink named "light", a video decoder and encoder)
 * and starts it. Its first packets follow the first keyframe pushed.
 *
 * Returns: (transfer full): the layer, or NULL with @error.
 */
KkLightLayer *kk_light_layer_new (const char *pipelines_dir, KkCodec codec,
    const KkLightLayerCallbacks *callbacks, gpointer user_data,
    GError **error);

/* From a feed tap, on the ingest's streaming thread; never blocks. Takes
 * video packets of the layer's codec and ignores the rest. Packets must
 * come in sequence order (a feed's do); duplicates are skipped, so the
 * feed's cached GOP may be pushed first to start at once. */
void kk_light_layer_push (KkLightLayer *layer, KkPacket *full_video_packet);

/* Like push () for each of @gop's packets (the feed's cached GOP, from its
 * keyframe, as kk_feed_get_gop () gives it), at once and without the
 * decoder-backlog test: a GOP handed over in one go is not a decoder
 * falling behind, and dropping part of it would cost every viewer a
 * keyframe from the host. The backlog is measured again from its last
 * frame on. On the ingest's streaming thread, before the first push (). */
void kk_light_layer_prime (KkLightLayer *layer, GPtrArray *gop);

/* Any thread: the next frame encoded is a keyframe. */
void kk_light_layer_request_keyframe (KkLightLayer *layer);

/* Names the layer in its log lines ("room aud1"). Right after
 * kk_light_layer_new (), before the first push (). */
void kk_light_layer_set_name (KkLightLayer *layer, const char *name);

/* Any thread. */
void kk_light_layer_get_stats (KkLightLayer *layer, KkLightLayerStats *out);

/* On the main context the layer was made on: stops the pipeline; no
 * callback runs once it returns. Not while push () may run (remove the
 * feed tap first). */
void kk_light_layer_free (KkLightLayer *layer);

G_END_DECLS
