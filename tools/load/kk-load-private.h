/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-private: the load tool's run, viewers and viewer threads, shared
 * by kk-load-viewer.c, kk-load-rx.c and kringkast-load.c.
 *
 * The main thread only paces the joins, runs Janus's session and long
 * poll, shows progress and measures. Each viewer belongs, from its first
 * HTTP request to its last packet, to one of a fixed number of viewer
 * threads (kk-load-rx.c): its signalling goes through that thread's own
 * SoupSession, its libnice agent and DTLS run on that thread's
 * GMainContext, and once DTLS is done its socket joins that thread's epoll
 * set. Nothing about a viewer is shared between threads except the run's
 * counters (atomics), and Janus's handle table (under janus_lock). The
 * main thread reads the viewers' results only after the threads stopped.
 */
#pragma once

#include "kk-load.h"

#include <kringkast/kk-dtls.h>
#include <kringkast/kk-srtp.h>
#include <libsoup/soup.h>
#include <nice/agent.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _KkLoadRun KkLoadRun;
typedef struct _KkLoadRx KkLoadRx;

typedef enum {
  KK_LOAD_VIEWER_WAITING,
  KK_LOAD_VIEWER_SIGNALLING,
  KK_LOAD_VIEWER_ICE,
  KK_LOAD_VIEWER_DTLS,
  KK_LOAD_VIEWER_CONNECTED,   /* DTLS done; media */
  KK_LOAD_VIEWER_FAILED,
} KkLoadViewerState;

#define KK_LOAD_MAX_STREAMS 4

typedef struct {
  guint32 ssrc;
  gboolean video;
  guint64 count;
  KkLoadSeq seq;
  /* for the fraction lost of the next receiver report */
  guint64 rr_expected;
  guint64 rr_received;
} KkLoadStream;

typedef struct {
  KkLoadRun *run;
  KkLoadRx *rx;               /* the thread that owns this viewer */
  guint index;
  KkLoadViewerState state;
  gint64 created_us;          /* started (joining, or attaching) */
  gint64 start_us;            /* offer POSTed, or Janus "watch" sent */

  /* signalling */
  char *token;
  char *resource_url;
  guint64 janus_handle;
  KkLoadRemoteSdp *remote;

  /* ICE and DTLS, on the viewer's thread's GMainContext */
  NiceAgent *agent;
  guint stream_id;
  char *local_ufrag;
  char *local_pwd;
  KkDtls *dtls;
  GSource *handoff;

  /* media: through libnice until handoff, then our own socket */
  int fd;
  gboolean timestamps;        /* SO_TIMESTAMPNS on until the first keyframe */
  struct sockaddr_storage remote_addr;
  socklen_t remote_addr_len;
  KkSrtp *srtp_in;
  KkSrtp *srtp_out;
  guint32 ssrc;               /* ours, in RTCP */
  guint n_streams;
  KkLoadStream streams[KK_LOAD_MAX_STREAMS];
  gint64 next_report_us;
  gint64 next_consent_us;
  gint64 connected_us;
  gint64 first_packet_us;
  gint64 first_keyframe_us;
  KkLoadViewerResult result;
} KkLoadViewer;

/* The first DTLS retransmission timeout, doubling after: a ClientHello
 * the server dropped (Janus does, before it has started its side) costs
 * this rather than OpenSSL's 1 s. Browsers start low too: libwebrtc
 * derives its first timeout from the ICE round trip, 50 ms to 3 s. */
#define KK_LOAD_DTLS_TIMEOUT_MS 200

struct _KkLoadRun {
  /* options */
  char *url;                  /* WHEP URL, or Janus API base URL */
  gboolean janus;
  guint64 janus_mountpoint;
  char *token;                /* NULL: join a party per viewer */
  char *local_ip;
  guint viewers;
  double ramp;
  double hold_s;
  double timeout_s;
  guint verify_every;
  guint n_rx;
  gint64 batch_us;            /* see kk_load_rx_new() */
  guint dtls_timeout_ms;      /* first DTLS retransmission timeout */
  guint http_conns;           /* per viewer thread */

  GMainLoop *loop;
  SoupSession *http;          /* the main thread's: Janus's session */
  KkDtlsContext *dtls;        /* thread-safe */
  char *fingerprint;          /* ours, for the SDP */
  KkLoadViewer *all;
  KkLoadRx **rx;
  gint64 t0_us;
  guint started;              /* main thread */
  /* written by the viewer threads, read by the main thread: atomics */
  gint settled;               /* connected or failed */
  gint connected;
  gint failed;
  gint threads_leaving;       /* viewer threads still sending DELETEs */
  guint64 janus_session;
  GMutex janus_lock;
  GHashTable *janus_handles;  /* guint64 handle id -> KkLoadViewer */
  guint pending_http;         /* main thread: Janus's destroy in flight */
};

/* kk-load-viewer.c: all on the viewer's own thread. */
void kk_load_viewer_start (KkLoadViewer *viewer);
/* ICE is up: the viewer's DTLS client sends its ClientHello, with the
 * run's first retransmission timeout. */
void kk_load_viewer_start_dtls (KkLoadViewer *viewer);
/* Called every few tens of ms: DTLS retransmissions, the connect
 * timeout. */
void kk_load_viewer_tick (KkLoadViewer *viewer, gint64 now);
/* Leave: DELETE the WHEP resource (Janus: the session goes at once).
 * Returns TRUE when a request went out; kk_load_rx_left_one() is called
 * when it is done. */
gboolean kk_load_viewer_leave (KkLoadViewer *viewer);
/* Stops everything the viewer runs (agent, DTLS, socket) after filling
 * viewer->result from its media state. */
void kk_load_viewer_close (KkLoadViewer *viewer);
/* Frees what is left, on any thread, once its thread has stopped. */
void kk_load_viewer_clear (KkLoadViewer *viewer);
void kk_load_viewer_fail (KkLoadViewer *viewer, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);
/* One datagram from the server, received at @now (monotonic us). */
void kk_load_viewer_handle_datagram (KkLoadViewer *viewer, guint8 *data,
    gsize len, gint64 now);
/* Receiver reports and consent checks, when due. */
void kk_load_viewer_media_tick (KkLoadViewer *viewer, gint64 now);
/* Janus mode: the long poll brought an event for this viewer's handle. */
void kk_load_viewer_janus_event (KkLoadViewer *viewer,
    const KkLoadJanusEvent *event);

/* kk-load-rx.c */
typedef struct {
  guint64 packets;
  guint64 bytes;
  guint64 gaps;
  guint64 recovered;
} KkLoadRxTotals;

/* Starts viewer thread @index of @run. Connected viewers' sockets are read
 * every @run->batch_us while packets keep coming (0: at once, on every
 * wakeup), so that one wakeup and one recvmmsg serve several packets.
 * Returns: (transfer full) */
KkLoadRx *kk_load_rx_new (KkLoadRun *run, guint index);
/* From the main thread: the viewer (viewer->rx == @rx) starts on @rx. */
void kk_load_rx_start (KkLoadRx *rx, KkLoadViewer *viewer);
/* From the main thread: hands @event (transfer full) to the viewer. */
void kk_load_rx_janus_event (KkLoadRx *rx, KkLoadViewer *viewer,
    KkLoadJanusEvent *event);
/* From the main thread: every viewer of @rx leaves; run->threads_leaving
 * drops by one when their requests are done. */
void kk_load_rx_leave (KkLoadRx *rx);
/* On @rx's thread: */
GMainContext *kk_load_rx_get_context (KkLoadRx *rx);
SoupSession *kk_load_rx_get_http (KkLoadRx *rx);
/* A connected viewer (fd set, DTLS done) joins the thread's epoll set. */
void kk_load_rx_add (KkLoadRx *rx, KkLoadViewer *viewer);
/* One DELETE of kk_load_rx_leave() is done. */
void kk_load_rx_left_one (KkLoadRx *rx);
/* Counts one received packet in the thread's totals. */
void kk_load_rx_count (KkLoadRx *rx, gsize bytes, guint64 gaps,
    guint64 recovered);
/* From any thread (relaxed atomics). */
void kk_load_rx_totals (KkLoadRx *rx, KkLoadRxTotals *out);
/* Closes the thread's viewers (kk_load_viewer_close()), stops and joins
 * the thread. */
void kk_load_rx_free (KkLoadRx *rx);

G_END_DECLS
