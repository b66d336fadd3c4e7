/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the forwarding core, shared by kk-fanout.c (feeds, viewers,
 * the directory, events to the main context), kk-media-port.c (the port
 * thread) and kk-worker.c (the worker threads).
 *
 * Who owns what:
 * - The directory (viewers by ICE ufrag and by UDP source address) is
 *   shared under dir_lock: the main thread adds and removes viewers, the
 *   port thread looks them up for every datagram that is not media.
 * - A viewer's transport, DTLS, SRTP and statistics belong to its worker
 *   thread; other threads reach them only through work items in the
 *   worker's inbox, processed in order.
 * - A viewer's credentials, feed, payload types and callbacks are set
 *   before it is published to other threads and never change.
 * - Viewers, TCP connections and packets are refcounted because several
 *   threads hold them; each has one final owner that drops the last ref.
 */
#pragma once

#include "kk-fanout.h"
#include "kk-layer-rules.h"
#include "kk-splice.h"

#include <kringkast/kk-icetcp.h>
#include <kringkast/kk-srtp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define KK_ICE_UFRAG_LEN 8
#define KK_ICE_PWD_LEN 24
/* Datagrams larger than this are not ours (media is at most ~1300). */
#define KK_DATAGRAM_MAX 2048
/* sendmmsg batch: big enough to amortise the syscall, small enough that
 * the per-worker buffers stay in cache. */
#define KK_SEND_BATCH 64
/* Retransmissions remembered per viewer: more than a frame's packets of
 * either layer, which a loss in a full queue takes together. */
#define KK_RTX_RECENT 32
#define KK_SEND_BUF (KK_PACKET_MAX + KK_SRTP_MAX_TRAILER + 2)

typedef struct _KkWorker KkWorker;

/* An ICE-TCP connection. fd is closed when the last ref goes. Writes come
 * from the port thread (STUN answers) and the viewer's worker (DTLS and
 * media), so they take write_lock to keep frames whole. */
typedef struct {
  gint refcount;
  int fd;
  KkFanout *fanout;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  gint64 accepted_mono_us;
  gboolean closed;                    /* port thread only */
  KkIceTcpReader reader;              /* port thread only */
  KkViewer *viewer;                   /* port thread only, holds a ref */
  GMutex write_lock;
  guint8 *pending;                    /* the unsent tail of one frame */
  gsize pending_len;
} KkTcpConn;

KkTcpConn *kk_tcp_conn_ref (KkTcpConn *conn);
void kk_tcp_conn_unref (KkTcpConn *conn);
/* Sends one framed packet; FALSE if it was dropped because the connection
 * is backed up or broken. Never blocks. */
gboolean kk_tcp_conn_send (KkTcpConn *conn, const guint8 *data, gsize len);

typedef struct {
  KkTcpConn *tcp;                     /* NULL for UDP */
  socklen_t addr_len;                 /* before addr: see struct _KkViewer */
  /* UDP: the relay's own address the viewer sent to (IPv4 as v4-mapped),
   * the source of everything sent back, so that a relay with several
   * addresses answers from the one the viewer knows; all zeros when not
   * known or when the kernel picks that address by itself for the route
   * back (kk_transport_source_needed), so that no control message is
   * attached then. */
  struct in6_addr local;
  struct sockaddr_storage addr;       /* UDP destination as the socket wants it */
} KkTransport;

/* Room for the control message that sets a datagram's source address. */
typedef union {
  struct cmsghdr align;
  guint8 buf[CMSG_SPACE (sizeof (struct in6_pktinfo))];
} KkSourceControl;

typedef enum {
  KK_VIEWER_NEW,            /* answered, waiting for ICE */
  KK_VIEWER_HANDSHAKING,    /* ICE checks answered, DTLS under way */
  KK_VIEWER_CONNECTED,      /* media flowing */
  KK_VIEWER_DEAD,           /* left; waiting for the main thread to finish it */
} KkViewerState;

/* One of a feed's taps (kk_feed_add_tap). */
typedef struct {
  guint id;
  KkFeedTapFunc func;
  gpointer user_data;
} FeedTap;

struct _KkFeed {
  KkFanout *fanout;
  char *name;
  char *cname;
  KkTrack *tracks[KK_TRACK_N];
  KkFeedCallbacks callbacks;
  gpointer user_data;
  gint64 last_keyframe_request_mono_us;   /* atomic */
  gint64 last_upswitch_keyframe_request_mono_us;  /* atomic */
  GMutex tap_lock;                         /* held while the taps run */
  GArray *taps;                            /* FeedTap, under tap_lock */
  guint next_tap_id;

  /* The light video layer: its own sequence numbers, history and GOP,
   * the video track's SSRC and timeline. */
  KkTrack *light;
  gint64 light_pushed_mono_us;             /* atomic: its last packet */
  gint64 last_light_keyframe_request_mono_us;   /* atomic */
  gint light_users;                        /* atomic: viewers needing it */
  /* Atomic, one per worker (by index): of those, the ones on that
   * worker. Light packets go only to workers where it is not 0, so that
   * a room whose light layer runs costs the rest of its viewers nothing. */
  gint *light_users_on_worker;
  gint video_codec;                        /* atomic: KkCodec, last pushed */
  /* Bytes pushed per layer (audio in KK_LAYER_AUDIO_ONLY's place), for
   * the rates a probe must match. Atomic. */
  guint64 bytes_pushed[KK_LAYER_N];
  /* Main thread only. The context is the fan-out's, kept by the feed
   * because the fan-out may go first (kk-relay takes it down before the
   * lectures that own the feeds). */
  GMainContext *main_context;
  guint light_linger_ms;                   /* the fan-out's, copied likewise */
  gboolean light_wanted;                   /* as last told */
  guint light_linger_source;
};

/* The light layer counts as flowing for a viewer to switch to while its
 * last packet is at most this old (it runs at 15 frames a second). */
#define KK_FEED_LIGHT_FLOWING_US (G_USEC_PER_SEC / 2)
gboolean kk_feed_light_flowing (KkFeed *feed, gint64 now_mono_us);
/* Worker threads: a viewer of worker @worker_index started (+1) or
 * stopped (-1) needing the light layer; the main context learns of the
 * first and the last. */
void kk_feed_add_light_user (KkFeed *feed, guint worker_index, gint delta);

struct _KkViewer {
  /* What the worker reads and writes for every packet it fans out, kept
   * together at the start: a round of a few hundred viewers per packet
   * leaves little of a viewer in cache for the next, so these are the
   * cache lines each viewer costs per packet (see fan_out ()). feed, pt
   * and sends are set before the viewer is published and never change;
   * the rest is the worker's, stat_* read by anyone (relaxed atomics). */
  KkFeed *feed;
  KkSrtp *srtp_out;
  KkViewerState state;
  gboolean sends[KK_TRACK_N];
  gint pt[KK_CODEC_OPUS + 1];          /* by KkCodec; -1 absent */
  gboolean video_wait_keyframe;
  /* Fast start (see replay_slice ()): while replaying, the worker sends
   * the full layer's history from replay_next up to video_skip_upto a
   * slice per tick, and live packets only move video_skip_upto on; after
   * it, live packets up to video_skip_upto were sent already. */
  gboolean video_skip;
  guint16 video_skip_upto;
  gboolean replaying;
  guint16 replay_next;
  /* Once the viewer is given a layer other than the full one it stays
   * spliced (kk-splice) for the rest of its life: its video is then
   * rewritten per packet. Viewers that never are cost one test of it. */
  gboolean video_spliced;
  guint32 sent_packets[KK_TRACK_N];
  guint32 sent_octets[KK_TRACK_N];
  guint64 stat_packets;
  guint64 stat_bytes;
  KkTransport transport;               /* 60 bytes of it used */

  gint refcount;
  KkFanout *fanout;
  KkWorker *worker;
  char id[17];
  char ufrag[KK_ICE_UFRAG_LEN + 1];
  char pwd[KK_ICE_PWD_LEN + 1];
  char *remote_ufrag;
  gboolean dtls_server;
  guint8 remote_fp[64];
  gsize remote_fp_len;
  char *remote_fp_hash;
  KkViewerCallbacks callbacks;
  gpointer user_data;
  gint64 created_mono_us;

  /* Set by the port thread, read by the worker: the last proof of life. */
  gint64 last_seen_mono_us;            /* atomic */

  /* Port thread only. */
  gboolean port_has_transport;
  gboolean port_nominated;
  KkTransport port_transport;
  gint64 port_source_decided_us;      /* monotonic: see decide_source () */

  /* Main thread only. */
  KkRelayProtocol relay_protocol;
  gboolean closing;
  gboolean finished;

  /* Worker only (and the worker's fields at the start). */
  gboolean in_shard;
  gboolean have_transport;
  KkDtls *dtls;
  gboolean dtls_started;
  gint64 connected_mono_us;
  KkSrtp *srtp_in;
  KkSrtpProfile profile;
  gint64 next_report_mono_us;
  guint32 sr_ntp_mid[KK_TRACK_N];      /* middle bits of our last SR, for RTT */
  KkQuality quality;
  KkLayer start_layer;                 /* where its rules start */
  KkSplice splice;                     /* valid once video_spliced */
  gint64 target_since_mono_us;         /* when splice.target was last set */
  gboolean uses_light;                 /* counted in feed->light_users */
  /* The switching rules and what they are fed, window by window. */
  KkLayerRules rules;
  gint64 next_rules_mono_us;
  guint64 rules_packets_at;            /* stat_packets at the window's start */
  guint rules_nacks_at;                /* stat_nacks at the window's start */
  guint nacks_left_behind;             /* of a layer it moved down from, ever */
  guint rules_nacks_left_behind_at;
  /* The last video packets retransmitted (the viewer's numbers) and when,
   * so that one is not sent again before it could have arrived. */
  guint16 rtx_seq[KK_RTX_RECENT];
  gint64 rtx_mono_us[KK_RTX_RECENT];
  guint rtx_next;
  guint tcp_dropped;                   /* ICE-TCP packets dropped, ever */
  guint rules_tcp_dropped_at;
  guint reports;                       /* receiver reports on our SSRCs, ever */
  guint rules_reports_at;
  guint rtts;                          /* round trips measured, ever */
  guint rules_rtts_at;
  /* Probing: the feed's bytes per layer at the window's start, the rate
   * the step up would add, and what is left to send of it. */
  guint64 probe_feed_bytes_at[KK_LAYER_N];
  gint64 probe_bytes_per_s;
  gint64 probe_budget;
  gint64 probe_last_mono_us;
  gboolean probe_unmeasured;    /* the layer probed for pushed nothing */
  /* ICE-TCP: probe bytes sent, and held back at a backlog, ever. */
  guint probe_bytes_sent;
  guint probe_bytes_held;
  guint rules_probe_bytes_sent_at;
  guint rules_probe_bytes_held_at;

  /* Written by the worker, read by anyone (relaxed atomics). */
  gint stat_connected;
  gint stat_tcp;
  gint stat_turn;                      /* written by the port thread */
  guint stat_nacks;
  guint stat_retransmissions;
  guint stat_plis;
  guint stat_fraction_lost;
  gint stat_cumulative_lost;
  guint stat_jitter_ms;
  gint stat_rtt_ms;
  gint stat_layer;
  guint stat_layer_switches;
  gint stat_quality;
};

typedef enum {
  KK_ITEM_PACKET,           /* feed, packet */
  KK_ITEM_DATAGRAM,         /* viewer, data: DTLS or SRTCP from it */
  KK_ITEM_ADD_VIEWER,       /* viewer */
  KK_ITEM_REMOVE_VIEWER,    /* viewer */
  KK_ITEM_TRANSPORT,        /* viewer, transport: where to send from now on */
  KK_ITEM_TCP_CLOSED,       /* viewer, transport.tcp */
  KK_ITEM_QUALITY,          /* viewer, value: KkQuality, len: start KkLayer */
} KkWorkItemType;

typedef struct {
  KkWorkItemType type;
  KkFeed *feed;             /* compared, never dereferenced from an item */
  KkPacket *packet;         /* ref */
  KkViewer *viewer;         /* ref */
  guint8 *data;             /* owned */
  gsize len;
  KkTransport transport;    /* transport.tcp holds a ref */
  guint value;
} KkWorkItem;

/* Counters of one thread, summed at scrape time. Written only by the owning
 * thread, read racily by the scraper: relaxed atomics keep that defined. */
typedef struct {
  guint64 packets_forwarded;
  guint64 bytes_forwarded;
  guint64 drop_no_codec;        /* the viewer did not negotiate the codec */
  guint64 drop_send_failed;     /* socket buffer full or send error */
  guint64 drop_tcp_backlog;     /* ICE-TCP viewer not keeping up */
  guint64 drop_protect_failed;
  guint64 nacks_received;       /* lost packets named in NACKs */
  guint64 nacks_served;         /* of those, retransmitted from history */
  guint64 nacks_missed;         /* of those, no longer in history */
  guint64 plis_received;
  guint64 srtcp_rejected;       /* failed SRTCP authentication or parsing */
  guint64 rtp_from_viewer;      /* viewers are receive-only */
  guint64 dtls_failed;
  guint64 gop_packets_sent;     /* fast-start bursts */
  guint64 layer_switches;       /* viewers moved between layers */
  guint64 probe_packets;        /* copies sent to probe a link before moving up */
  /* port thread */
  guint64 stun_answered;
  guint64 stun_unknown_ufrag;
  guint64 stun_rejected;        /* bad credentials or malformed */
  guint64 stun_ignored;         /* indications (keepalives), responses */
  guint64 from_unknown_address; /* DTLS or (S)RTP from no known viewer */
  guint64 not_ours;             /* neither STUN, DTLS nor RTP */
  guint64 tcp_accepted;
  guint64 tcp_bad_framing;
  guint64 tcp_refused;
} KkCounters;

#define KK_COUNT(c, field, n) \
  __atomic_store_n (&(c)->field, __atomic_load_n (&(c)->field, __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define KK_READ(c, field) __atomic_load_n (&(c)->field, __ATOMIC_RELAXED)

struct _KkWorker {
  KkFanout *fanout;
  guint index;
  GThread *thread;
  int wake_fd;                  /* eventfd */
  GMutex lock;
  GArray *inbox;                /* KkWorkItem, under lock */
  gboolean sleeping;            /* under lock: write wake_fd only then */
  gboolean sleeping_unbounded;  /* under lock: no tick will wake it */
  gboolean stopping;            /* under lock */
  gint n_viewers;               /* atomic: for placing new viewers */
  /* Atomic, written by the light layers' streaming threads: light-layer
   * packets posted to this worker (kringkast_light_packets_posted_total). */
  guint64 light_packets_posted;

  /* Worker thread only. */
  GArray *processing;           /* swapped with inbox */
  GPtrArray *viewers;           /* the shard */
  struct mmsghdr msgs[KK_SEND_BATCH];
  struct iovec iovs[KK_SEND_BATCH];
  struct sockaddr_storage addrs[KK_SEND_BATCH];
  KkSourceControl controls[KK_SEND_BATCH];
  guint8 bufs[KK_SEND_BATCH][KK_SEND_BUF];
  guint n_batch;
  gboolean dtls_released;       /* since the last trim_heap () */
  gint64 next_trim_mono_us;
  KkCounters counters;
};

struct _KkFanout {
  KkFanoutConfig config;
  char **addresses;
  GPtrArray *turn_relays;       /* GInetAddress: the TURN servers' relays */
  GMainContext *main_context;
  KkDtlsContext *dtls;
  guint16 port;
  int udp_fd;
  int tcp_fd;
  gboolean udp_is_v6;

  GMutex dir_lock;
  GHashTable *by_ufrag;         /* char* -> KkViewer (ref) */
  GHashTable *by_addr;          /* KkAddrKey -> KkViewer (ref) */
  GHashTable *viewers;          /* KkViewer -> itself (ref): all not finished; main only */

  GThread *port_thread;
  int port_epoll;
  int port_wake_fd;
  gint port_stopping;           /* atomic */
  GHashTable *tcp_conns;        /* port thread only: KkTcpConn (ref) */
  KkCounters port_counters;

  guint n_workers;
  KkWorker **workers;

  guint64 ingest_packets;       /* atomic */
  guint64 ingest_rejected;      /* atomic */
  guint64 keyframe_requests;    /* atomic */
  guint64 upswitch_keyframe_requests;   /* atomic */
};

/* kk-fanout.c */
void kk_viewer_dispatch_connected (KkViewer *viewer, gint64 wall_us);
void kk_viewer_dispatch_left (KkViewer *viewer, KkViewerLeft reason);
gint64 kk_mono_to_wall_us (gint64 mono_us);
void kk_fanout_directory_bind_addr (KkFanout *fanout,
    const struct sockaddr_storage *addr, socklen_t len, KkViewer *viewer);
/* (transfer full) (nullable) */
KkViewer *kk_fanout_directory_by_ufrag (KkFanout *fanout, const char *ufrag);
KkViewer *kk_fanout_directory_by_addr (KkFanout *fanout,
    const struct sockaddr_storage *addr, socklen_t len);

/* kk-media-port.c */
gboolean kk_media_port_open (KkFanout *fanout, GError **error);
void kk_media_port_start (KkFanout *fanout);
void kk_media_port_stop (KkFanout *fanout);
gboolean kk_transport_equal (const KkTransport *a, const KkTransport *b);
void kk_transport_clear (KkTransport *transport);
void kk_transport_copy (KkTransport *dest, const KkTransport *src);
/* Whether datagrams to @addr (in the media socket's family: v4-mapped
 * when @is_v6) must carry @local as their source because the kernel's
 * route choice would send them from another address; FALSE when @local
 * is unspecified, TRUE when the kernel's choice cannot be learnt. A few
 * system calls: once per transport, never per packet. */
gboolean kk_transport_source_needed (gboolean is_v6,
    const struct sockaddr_storage *addr, socklen_t addr_len,
    const struct in6_addr *local);
/* Points @msg's control at a message, built in @control, that sends the
 * datagram from @transport's local address (the one the viewer sent to),
 * or at none when that is not known. Any thread; per packet, so inline:
 * a few stores beside the destination's copy. */
static inline void
kk_transport_set_source (const KkFanout *fanout, const KkTransport *transport,
    struct msghdr *msg, KkSourceControl *control)
{
  struct cmsghdr *cmsg = &control->align;

  if (IN6_IS_ADDR_UNSPECIFIED (&transport->local)) {
    msg->msg_control = NULL;
    msg->msg_controllen = 0;
    return;
  }
  msg->msg_control = control->buf;
  if (fanout->udp_is_v6) {
    struct in6_pktinfo info = { .ipi6_addr = transport->local };

    msg->msg_controllen = CMSG_SPACE (sizeof (info));
    cmsg->cmsg_level = IPPROTO_IPV6;
    cmsg->cmsg_type = IPV6_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN (sizeof (info));
    memcpy (CMSG_DATA (cmsg), &info, sizeof (info));
  } else {
    struct in_pktinfo info = { 0 };

    memcpy (&info.ipi_spec_dst, &transport->local.s6_addr[12], 4);
    msg->msg_controllen = CMSG_SPACE (sizeof (info));
    cmsg->cmsg_level = IPPROTO_IP;
    cmsg->cmsg_type = IP_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN (sizeof (info));
    memcpy (CMSG_DATA (cmsg), &info, sizeof (info));
  }
}
/* Sends one datagram (DTLS, RTCP) to the transport, from any thread. */
gboolean kk_transport_send (KkFanout *fanout, const KkTransport *transport,
    const guint8 *data, gsize len);

/* kk-worker.c */
KkWorker *kk_worker_new (KkFanout *fanout, guint index);
void kk_worker_start (KkWorker *worker);
void kk_worker_stop (KkWorker *worker);
void kk_worker_free (KkWorker *worker);
/* Takes ownership of the refs and data in @item. */
void kk_worker_post (KkWorker *worker, KkWorkItem *item);
/* The same without waking the worker for it: the item waits for the next
 * wakeup, which packets or the worker's tick bring within 30 ms. For what
 * can wait that long (a viewer's RTCP), so that it costs no wakeup. */
void kk_worker_post_deferred (KkWorker *worker, KkWorkItem *item);
void kk_worker_collect (KkWorker *worker, KkCounters *sum);

G_END_DECLS
