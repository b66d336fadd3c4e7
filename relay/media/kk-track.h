/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-track: one outgoing media track of a lecture (its audio, or its video),
 * as every viewer receives it.
 *
 * Ingest hands each publisher packet to kk_track_push () once. The track
 * rewrites it into the lecture's own stream (its fixed SSRC, and sequence
 * numbers and timestamps that continue across a publisher reconnecting),
 * strips what only mattered between publisher and relay (header extensions,
 * CSRCs, padding), and returns it as an immutable, refcounted KkPacket that
 * the workers share: each worker copies it into a per-viewer send buffer,
 * patches the payload type and protects it there, so the packet itself is
 * never written again.
 *
 * The track also keeps what late or unlucky viewers need: the last
 * KK_TRACK_HISTORY packets for NACKs, the current GOP (video) so that a new
 * viewer starts on a keyframe at once, and the RTP/wall-clock mapping its
 * sender reports are built from. Those are read by worker threads while the
 * ingest thread writes, under one short mutex per track.
 */
#pragma once

#include <glib.h>
#include <kringkast/kk-sdp.h>

G_BEGIN_DECLS

#define KK_PACKET_MAX 1500
#define KK_TRACK_HISTORY 1024
/* A GOP longer than this many packets is not kept; a keyframe is asked for
 * instead. ~1.3 MB of memory per lecture at most. */
#define KK_TRACK_GOP_MAX 1024

typedef enum {
  KK_TRACK_AUDIO = 0,
  KK_TRACK_VIDEO = 1,
  KK_TRACK_N
} KkTrackKind;

/* The versions of a lecture's picture a viewer may receive: the host's
 * own (full), the relay's lighter one made from it once per room (light),
 * or none (sound only). A video packet belongs to the full or the light
 * layer; KK_LAYER_AUDIO_ONLY is only ever a viewer's. */
typedef enum {
  KK_LAYER_FULL = 0,
  KK_LAYER_LIGHT = 1,
  KK_LAYER_AUDIO_ONLY = 2,
} KkLayer;

#define KK_LAYER_N 3

const char *kk_layer_to_string (KkLayer layer);

typedef struct {
  gint refcount;
  guint8 kind;              /* KkTrackKind */
  guint8 codec;             /* KkCodec */
  guint8 layer;             /* KkLayer: video packets' layer, else FULL */
  gboolean keyframe_start;
  guint16 seq;
  guint32 timestamp;
  gint64 capture_wall_us;       /* see kk_track_push (); one base for all tracks */
  guint16 len;
  guint8 data[KK_PACKET_MAX];   /* RTP; byte 1's payload type is a placeholder */
} KkPacket;

KkPacket *kk_packet_ref (KkPacket *packet);
void kk_packet_unref (KkPacket *packet);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkPacket, kk_packet_unref)

typedef struct _KkTrack KkTrack;

KkTrack *kk_track_new (KkTrackKind kind, guint32 ssrc, guint clock_rate);
/* A lighter video layer made by the relay from the full layer's packets:
 * its input timestamps already are the lecture's (those of the full
 * layer's frames it was made from), so the track keeps them as they are
 * and rewrites only the sequence numbers (its own series) and the SSRC. */
KkTrack *kk_track_new_light (guint32 ssrc);
void kk_track_free (KkTrack *track);

guint32 kk_track_get_ssrc (KkTrack *track);

typedef enum {
  KK_TRACK_PUSH_OK,
  KK_TRACK_PUSH_MALFORMED,    /* not RTP */
  KK_TRACK_PUSH_TOO_BIG,      /* over KK_PACKET_MAX after stripping */
  KK_TRACK_PUSH_STALE,        /* older than what was already sent */
} KkTrackPushResult;

/* Called on the ingest's streaming thread. @capture_wall_us is the wall
 * clock time (g_get_real_time) the packet's media was captured, in the
 * publisher's lip-synced timeline; it drives the sender reports, so audio
 * and video must use the same base. @need_keyframe is set when the GOP
 * outgrew the cache and the publisher should be asked for a keyframe.
 * Returns: the result, and in @out (transfer full) the packet to fan out. */
KkTrackPushResult kk_track_push (KkTrack *track, const guint8 *rtp, gsize len,
    KkCodec codec, gint64 capture_wall_us, KkPacket **out,
    gboolean *need_keyframe);

/* A publisher left; the next packet starts a new epoch that continues the
 * sequence numbers and timestamps of this one. */
void kk_track_reset_source (KkTrack *track);

/* Returns: (transfer full) (nullable): the packet with sequence number @seq
 * if it is still in the history. */
KkPacket *kk_track_lookup (KkTrack *track, guint16 seq);

/* Returns: (transfer full) (nullable): the newest packet, if any. */
KkPacket *kk_track_get_newest (KkTrack *track);

/* Returns: (transfer full): the packets of the current GOP in order, from
 * its keyframe; empty when there is none. @keyframe_age_us receives how
 * long ago the keyframe was captured (G_MAXINT64 if none). */
GPtrArray *kk_track_get_gop (KkTrack *track, gint64 *keyframe_age_us);

/* Returns: (transfer full): the packets of the history captured at or
 * after @since_wall_us, oldest first, as far back as the history goes
 * without a gap. */
GPtrArray *kk_track_get_recent (KkTrack *track, gint64 since_wall_us);

/* RTP timestamp of this track at wall-clock time @now_wall_us, for an SR.
 * FALSE before the first packet. */
gboolean kk_track_rtp_time_at (KkTrack *track, gint64 now_wall_us,
    guint32 *rtp_ts);

/* Sequence-number arithmetic modulo 2^16: > 0 when @a is after @b. */
static inline gint16
kk_seq_diff (guint16 a, guint16 b)
{
  return (gint16) (guint16) (a - b);
}

G_END_DECLS
