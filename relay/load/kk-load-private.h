/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-private: the load tool's run, viewers and receive threads, shared
 * by kk-load-viewer.c, kk-load-rx.c and kringkast-load.c.
 *
 * A viewer lives on the main thread (HTTP, libnice, DTLS) until DTLS is
 * done; then it is handed to one receive thread, which owns it (its
 * socket, SRTP contexts, sequence state) until the run ends. The only
 * figures the main thread reads meanwhile are the receive threads'
 * totals, through atomics, for the progress line.
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
  KK_LOAD_VIEWER_CONNECTED,   /* handed to a receive thread */
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
  guint index;
  KkLoadViewerState state;
  gint64 created_us;          /* started (joining, or attaching) */
  gint64 start_us;            /* offer POSTed, or Janus "watch" sent */

  /* signalling (main thread) */
  char *token;
  char *resource_url;
  guint64 janus_handle;
  KkLoadRemoteSdp *remote;

  /* ICE and DTLS (main thread) */
  NiceAgent *agent;
  guint stream_id;
  char *local_ufrag;
  char *local_pwd;
  KkDtls *dtls;
  guint handoff_source;

  /* media: the main thread until handoff, then its receive thread */
  int fd;
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

  GMainLoop *loop;
  SoupSession *http;
  KkDtlsContext *dtls;
  char *fingerprint;          /* ours, for the SDP */
  KkLoadViewer *all;
  KkLoadRx **rx;
  gint64 t0_us;
  guint started;
  guint settled;              /* connected or failed */
  guint connected;
  guint failed;
  guint64 janus_session;
  GHashTable *janus_handles;  /* guint64 handle id -> KkLoadViewer */
  guint pending_http;         /* teardown requests in flight */
};

/* kk-load-viewer.c */
void kk_load_viewer_start (KkLoadViewer *viewer);
/* Called every few tens of ms on the main thread: DTLS retransmissions,
 * the connect timeout. */
void kk_load_viewer_tick (KkLoadViewer *viewer, gint64 now);
/* Leave: DELETE the WHEP resource (Janus: the session goes at once). */
void kk_load_viewer_leave (KkLoadViewer *viewer);
void kk_load_viewer_clear (KkLoadViewer *viewer);
void kk_load_viewer_fail (KkLoadViewer *viewer, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);
/* Fills viewer->result from the media state (after the threads stopped). */
void kk_load_viewer_finish (KkLoadViewer *viewer);
/* One datagram from the server, on whichever thread owns the viewer. */
void kk_load_viewer_handle_datagram (KkLoadViewer *viewer, KkLoadRx *rx,
    guint8 *data, gsize len, gint64 now);
/* Receiver reports, NACK timing and consent checks, when due. */
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

KkLoadRx *kk_load_rx_new (guint index);
/* Hands a connected viewer (fd set, DTLS done) to the thread. */
void kk_load_rx_add (KkLoadRx *rx, KkLoadViewer *viewer);
void kk_load_rx_totals (KkLoadRx *rx, KkLoadRxTotals *out);
/* Counts one received packet in the thread's totals (the thread itself,
 * or the main thread before handoff; atomics either way). */
void kk_load_rx_count (KkLoadRx *rx, gsize bytes, guint64 gaps,
    guint64 recovered);
/* Stops and joins the thread; its viewers stay as they are. */
void kk_load_rx_free (KkLoadRx *rx);

G_END_DECLS
