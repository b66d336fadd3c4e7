/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-fanout: the forwarding core. Every viewer of every lecture receives its
 * media through one port (UDP, and ICE-TCP on the same number), answered as
 * an ICE-lite agent, secured with DTLS-SRTP, and sent each packet straight
 * from the thread that fans it out: no per-viewer queue, no per-viewer
 * thread, no webrtcbin per viewer.
 *
 * Threads: the caller's (main) context creates feeds and viewers and gets
 * their events; one port thread receives everything that arrives on the
 * media port and answers ICE checks; N worker threads each own a shard of
 * the viewers (their DTLS, SRTP, RTCP) and send them every packet a feed
 * pushes. See kk-fanout-private.h for how they share state.
 */
#pragma once

#include <glib.h>
#include <kringkast/kk-dtls.h>
#include <kringkast/kk-sdp.h>
#include "kk-metrics.h"
#include "kk-track.h"

G_BEGIN_DECLS

#define KK_FANOUT_ERROR (kk_fanout_error_quark ())
GQuark kk_fanout_error_quark (void);

typedef enum {
  KK_FANOUT_ERROR_BIND,
  KK_FANOUT_ERROR_OFFER,
} KkFanoutError;

typedef struct {
  guint16 port;
  char **public_ips;           /* addresses in candidates; NULL = detect */
  guint workers;               /* 0 = one per core */
  guint consent_timeout_s;     /* RFC 7675: 30 */
  guint connect_timeout_s;     /* an offer never connected expires */
  guint light_linger_ms;       /* 0 = KK_FEED_LIGHT_LINGER_S */
  /* Where TURN servers relay viewers' media from (IP literals; NULL:
   * none): a viewer whose checks come from one of them is on TURN. */
  char **turn_relay_addresses;
} KkFanoutConfig;

typedef struct _KkFanout KkFanout;
typedef struct _KkFeed KkFeed;
typedef struct _KkViewer KkViewer;

/* Binds the media port (UDP and TCP) and starts the threads.
 * Returns: (transfer full): the core, or NULL with @error. */
KkFanout *kk_fanout_new (const KkFanoutConfig *config, GError **error);
/* Closes every viewer (their leave events are delivered first) and stops. */
void kk_fanout_free (KkFanout *fanout);

guint16 kk_fanout_get_port (KkFanout *fanout);
/* (transfer none): the addresses put in candidates. */
const char *const *kk_fanout_get_addresses (KkFanout *fanout);
void kk_fanout_collect_metrics (KkMetrics *metrics, gpointer fanout);

/* ---- feeds: what a lecture sends ---- */

typedef struct {
  /* Main context. Viewers asked for a keyframe (PLI/FIR, a new viewer
   * without a usable GOP, or a GOP too long to keep); already folded and
   * rate-limited to one per KK_FANOUT_KEYFRAME_INTERVAL_MS. */
  void (*request_keyframe) (KkFeed *feed, gpointer user_data);
  /* Main context. The light layer (kk_feed_push_light) became wanted: a
   * viewer needs it; or unwanted: none has for KK_FEED_LIGHT_LINGER_S.
   * Called only on a change, starting from unwanted. Nullable. The
   * linger is light_linger_ms of the fan-out's config if set. */
  void (*light_wanted) (KkFeed *feed, gboolean wanted, gpointer user_data);
  /* Main context. A viewer needs a keyframe of the light layer; folded
   * and rate-limited like request_keyframe. Nullable. */
  void (*request_light_keyframe) (KkFeed *feed, gpointer user_data);
  /* Main context. The codec of the video pushed changed (the first video
   * packet, or the first of a publisher after kk_feed_reset_source () in
   * another codec): kk_feed_get_video_codec () tells which. Nullable. */
  void (*video_codec_changed) (KkFeed *feed, gpointer user_data);
} KkFeedCallbacks;

#define KK_FANOUT_KEYFRAME_INTERVAL_MS 500
/* How long the light layer is still wanted after the last viewer that
 * needed it moved up or left: a viewer on a link that recovers and
 * weakens again should not have to wait for the encoder to start. */
#define KK_FEED_LIGHT_LINGER_S 20
/* Viewers moving up wait for the host's own keyframes; a request for one
 * (which every viewer gets) is sent at most this often per feed. */
#define KK_FEED_UPSWITCH_KEYFRAME_INTERVAL_S 10

/* Returns: (transfer full) */
KkFeed *kk_feed_new (KkFanout *fanout, const char *name,
    const KkFeedCallbacks *callbacks, gpointer user_data);
/* The feed's viewers must all be removed first. */
void kk_feed_free (KkFeed *feed);

/* From the ingest's streaming thread: see kk_track_push (). */
void kk_feed_push (KkFeed *feed, KkTrackKind kind, KkCodec codec,
    const guint8 *rtp, gsize len, gint64 capture_wall_us);
/* The publisher left: the next packets start new epochs, and the video
 * codec is unknown again until the next video packet. */
void kk_feed_reset_source (KkFeed *feed);

/* From the light layer's streaming thread: a packet of the light video
 * layer, made by the relay from the full layer's packets (a tap), with
 * their timestamps and capture times, its own sequence numbers. It goes
 * to the viewers on the light layer only, and to no tap. */
void kk_feed_push_light (KkFeed *feed, KkCodec codec, const guint8 *rtp,
    gsize len, gint64 capture_wall_us);
/* Any thread. Asks the publisher for a keyframe for a viewer moving up to
 * the full layer: at most one per KK_FEED_UPSWITCH_KEYFRAME_INTERVAL_S
 * and feed (counted), then folded like kk_feed_request_keyframe (). */
void kk_feed_request_upswitch_keyframe (KkFeed *feed);
/* Any thread. Asks the light layer for a keyframe (request_light_keyframe),
 * folded like kk_feed_request_keyframe (). */
void kk_feed_request_light_keyframe (KkFeed *feed);
/* Any thread: the codec of the last video packet pushed, or
 * KK_CODEC_NONE before the first. */
KkCodec kk_feed_get_video_codec (KkFeed *feed);

/* Any thread. Asks the publisher for a keyframe, folded with every other
 * request into at most one per KK_FANOUT_KEYFRAME_INTERVAL_MS.
 * Returns: whether the publisher was asked (FALSE: folded into one asked
 * less than that interval ago). */
gboolean kk_feed_request_keyframe (KkFeed *feed);

/* Returns: (transfer full): the current video GOP, see kk_track_get_gop (). */
GPtrArray *kk_feed_get_gop (KkFeed *feed, gint64 *keyframe_age_us);
/* Returns: (transfer full): a track's recent packets, see
 * kk_track_get_recent (). */
GPtrArray *kk_feed_get_recent (KkFeed *feed, KkTrackKind kind,
    gint64 since_wall_us);

/* Called on the ingest's streaming thread with every packet the feed sends
 * (after rewriting: continuous SSRC, sequence numbers and timestamps
 * across publisher reconnects; the payload type byte is a placeholder).
 * It must be quick and must not block: it runs before the fan-out. */
typedef void (*KkFeedTapFunc) (KkPacket *packet, gpointer user_data);

/* Adds a tap (a recorder, a segmenter...); taps run in the order added.
 * Returns: its id for kk_feed_remove_tap (), never 0. */
guint kk_feed_add_tap (KkFeed *feed, KkFeedTapFunc func, gpointer user_data);
/* After it returns, the tap is not running and will not be called again. */
void kk_feed_remove_tap (KkFeed *feed, guint tap_id);

/* ---- viewers ---- */

typedef enum {
  KK_VIEWER_LEFT_CLOSED,          /* kk_viewer_close: WHEP DELETE, shutdown */
  KK_VIEWER_LEFT_CONSENT,         /* consent freshness expired */
  KK_VIEWER_LEFT_NEVER_CONNECTED, /* the offer was never connected */
  KK_VIEWER_LEFT_DTLS_FAILED,
  KK_VIEWER_LEFT_DTLS_CLOSED,     /* the viewer sent close_notify */
} KkViewerLeft;

const char *kk_viewer_left_to_string (KkViewerLeft reason);

typedef struct {
  /* Main context. Media started flowing to the viewer (DTLS done) at
   * @wall_us. */
  void (*connected) (KkViewer *viewer, gint64 wall_us, gpointer user_data);
  /* Main context. The viewer is gone; @last_seen_wall_us is the last time
   * it was known to receive (its last consent check or report). Called
   * exactly once, also after kk_viewer_close (). */
  void (*left) (KkViewer *viewer, KkViewerLeft reason,
      gint64 last_seen_wall_us, gpointer user_data);
} KkViewerCallbacks;

/* Creates a viewer of @feed from its offer and builds the SDP answer.
 * @local_peer: the offer came from this machine (a loopback HTTP client):
 * the answer then offers loopback candidates first, besides the host's
 * addresses, which a client bound to loopback may not reach.
 * Returns: (transfer full): the viewer (the caller's reference; the core
 * holds its own until the viewer has left), or NULL with @error. */
KkViewer *kk_viewer_new (KkFeed *feed, const KkViewerOffer *offer,
    gboolean local_peer, const KkViewerCallbacks *callbacks,
    gpointer user_data, char **answer_sdp, GError **error);
/* Ends the viewer; its left callback follows. Idempotent. */
void kk_viewer_close (KkViewer *viewer);
KkViewer *kk_viewer_ref (KkViewer *viewer);
void kk_viewer_unref (KkViewer *viewer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkViewer, kk_viewer_unref)

/* What a viewer (the nurse, on her page) asked for. */
typedef enum {
  KK_QUALITY_AUTO,          /* the relay picks the layer her link carries */
  KK_QUALITY_BEST,          /* always the full picture */
  KK_QUALITY_SAVE_DATA,     /* the light picture at most */
  KK_QUALITY_SOUND_ONLY,    /* no picture */
} KkQuality;

const char *kk_quality_to_string (KkQuality quality);
/* FALSE for anything but the names kk_quality_to_string () gives. */
gboolean kk_quality_from_string (const char *name, KkQuality *quality);

/* Main context. Takes effect on the viewer's worker within a tick.
 * @start: KK_LAYER_LIGHT for a screen that had the light layer last time
 * (automatic and save-data only): it starts there, and moves up only as
 * its link proves it can; else KK_LAYER_FULL. */
void kk_viewer_set_quality (KkViewer *viewer, KkQuality quality,
    KkLayer start);

/* Returns: when the viewer was made (the offer), monotonic microseconds;
 * an offer never connected expires connect_timeout_s after it. */
gint64 kk_viewer_get_created_us (KkViewer *viewer);

/* How a viewer on TURN reaches its TURN server, as its browser tells
 * (RTCIceCandidateStats.relayProtocol): the relay sees only the TURN
 * server's UDP towards it. */
typedef enum {
  KK_RELAY_PROTOCOL_UNKNOWN,
  KK_RELAY_PROTOCOL_UDP,
  KK_RELAY_PROTOCOL_TCP,
  KK_RELAY_PROTOCOL_TLS,
} KkRelayProtocol;

/* Main context: records what the viewer's page reported. */
void kk_viewer_set_relay_protocol (KkViewer *viewer, KkRelayProtocol protocol);
/* "udp", "tcp" or "tls"; NULL for KK_RELAY_PROTOCOL_UNKNOWN.
 * Returns: (transfer none) (nullable) */
const char *kk_relay_protocol_to_string (KkRelayProtocol protocol);
/* The protocol @name names, or KK_RELAY_PROTOCOL_UNKNOWN for any other
 * text (from a page: outside input). */
KkRelayProtocol kk_relay_protocol_from_string (const char *name);

typedef struct {
  gboolean connected;
  gboolean tcp;                 /* media over ICE-TCP */
  gboolean turn;                /* media over UDP from a TURN server's relay */
  KkRelayProtocol relay_protocol; /* as the viewer reported it */
  guint64 packets_sent;
  guint64 bytes_sent;
  guint nacks_received;
  guint retransmissions;
  guint plis_received;
  guint8 fraction_lost;         /* last receiver report, 1/256 */
  gint32 cumulative_lost;
  guint32 jitter_ms;
  gint32 rtt_ms;                /* -1 unknown */
  const char *srtp_profile;
  /* The last moment the viewer was known to receive: its last consent
   * check or authenticated report (g_get_real_time scale). */
  gint64 last_seen_wall_us;
  KkLayer layer;                /* what it receives now */
  guint layer_switches;
  KkQuality quality;            /* what it asked for */
} KkViewerStats;

/* A snapshot (fields are read without stopping the worker). */
void kk_viewer_get_stats (KkViewer *viewer, KkViewerStats *stats);

G_END_DECLS
