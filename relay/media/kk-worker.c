/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-worker: a forwarding thread and its shard of viewers.
 *
 * The inbox is the only way in: packets from feeds, datagrams from the port
 * thread, viewers arriving and leaving, transports chosen by ICE. The
 * thread swaps the whole inbox out under its lock and works through it
 * without one, so a feed pushing a packet costs one short lock per worker,
 * not per viewer. A viewer's RTCP is posted without waking the worker: it
 * waits for the next wakeup, which media brings within milliseconds.
 *
 * A packet is sent to each viewer of its feed in the shard: copied into a
 * batch slot, given the viewer's payload type, protected with the viewer's
 * SRTP context, and queued. The batch goes out in one sendmmsg call when it
 * holds KK_SEND_BATCH datagrams or when the inbox is empty and the worker
 * is about to sleep, so the packets that came together (a video frame's,
 * the audio beside them) share their calls. Nothing is kept per viewer: a
 * packet the socket will not take is dropped and counted, and the viewer's
 * NACK can still fetch it from the track's history.
 *
 * Everything else a viewer needs happens here too, on a 20 ms tick that
 * rides along with a wakeup media caused whenever it can: DTLS
 * retransmissions, sender reports every second (batched with the media),
 * consent freshness (RFC 7675), the expiry of viewers that never
 * connected, and the release of finished handshakes' memory.
 *
 * In this VM a wakeup costs tens of µs and a sendmmsg a few µs per
 * datagram, mostly the kernel's: what is left to the code here is not to
 * add wakeups, system calls or cache misses per packet per viewer.
 */
#include "kk-fanout-private.h"

#include <kringkast/kk-rtp.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (kk_worker_debug);
#define GST_CAT_DEFAULT kk_worker_debug

#define TICK_MS 20
/* How early or late a tick may run, to share a wakeup with media. */
#define TICK_SLACK_US (TICK_MS * 1000 / 2)
#define REPORT_INTERVAL_US (1 * G_USEC_PER_SEC)
/* The DTLS object is kept after the handshake until the viewer proves it
 * finished its side (see release_dtls ()): until then, if our last flight
 * was lost, the viewer retransmits its own and we must answer again. A
 * viewer that sends no RTCP loses it after this long all the same. */
#define DTLS_LINGER_US (10 * G_USEC_PER_SEC)
/* How often at most a worker that freed DTLS objects hands the freed
 * memory back to the system (see trim_heap ()). */
#define TRIM_INTERVAL_US (1 * G_USEC_PER_SEC)
/* A fast-start GOP whose keyframe is older than this gets a fresh keyframe
 * asked for as well, so the viewer is soon on a short path to live. */
#define GOP_STALE_US (1 * G_USEC_PER_SEC)
/* A GOP longer than this (in packets: ~3 s of a 1.5 Mbit/s lecture, or in
 * time) is not replayed: a megabyte burst, or seconds of frames decoded in
 * a rush, serve a nurse worse than the short wait for the keyframe asked
 * for instead. Browsers, whose keyframes come only on request, make such
 * GOPs. */
#define GOP_REPLAY_MAX_PACKETS 400
#define GOP_REPLAY_MAX_AGE_US (3 * G_USEC_PER_SEC)
/* The replay is paced: this many packets per tick (20 ms), 500 a second,
 * ~5 Mbit/s of a 1.5 Mbit/s lecture's packets. The keyframe (a few dozen
 * packets) is out within a tick or two and a long GOP catches up with
 * the live stream within a second, without a burst of hundreds of packets
 * that a weak link or a small socket buffer would lose. */
#define REPLAY_SLICE 10

static const char *
state_name (KkViewerState state)
{
  switch (state) {
    case KK_VIEWER_NEW:
      return "new";
    case KK_VIEWER_HANDSHAKING:
      return "handshaking";
    case KK_VIEWER_CONNECTED:
      return "connected";
    case KK_VIEWER_DEAD:
      return "dead";
  }
  return "?";
}

static void
set_state (KkViewer *viewer, KkViewerState state)
{
  if (viewer->state == state)
    return;
  GST_DEBUG ("viewer %s: %s -> %s", viewer->id, state_name (viewer->state),
      state_name (state));
  viewer->state = state;
}

/* ---- inbox ---- */

static void
work_item_clear (KkWorkItem *item)
{
  g_clear_pointer (&item->packet, kk_packet_unref);
  g_clear_pointer (&item->viewer, kk_viewer_unref);
  g_clear_pointer (&item->data, g_free);
  kk_transport_clear (&item->transport);
}

KkWorker *
kk_worker_new (KkFanout *fanout, guint index)
{
  KkWorker *worker = g_new0 (KkWorker, 1);

  if (kk_worker_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_worker_debug, "kk-worker", 0,
        "Kringkast forwarding workers");

  worker->fanout = fanout;
  worker->index = index;
  worker->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  g_mutex_init (&worker->lock);
  worker->inbox = g_array_sized_new (FALSE, FALSE, sizeof (KkWorkItem), 256);
  worker->processing = g_array_sized_new (FALSE, FALSE, sizeof (KkWorkItem), 256);
  worker->viewers = g_ptr_array_new ();
  return worker;
}

static void
post (KkWorker *worker, KkWorkItem *item, gboolean wake_now)
{
  gboolean wake;

  g_mutex_lock (&worker->lock);
  if (worker->stopping) {
    g_mutex_unlock (&worker->lock);
    work_item_clear (item);
    return;
  }
  g_array_append_vals (worker->inbox, item, 1);
  /* A deferred item still wakes a worker that no tick would wake. */
  wake = worker->sleeping && (wake_now || worker->sleeping_unbounded);
  if (wake)
    worker->sleeping = FALSE;
  g_mutex_unlock (&worker->lock);

  if (wake) {
    guint64 one = 1;

    if (write (worker->wake_fd, &one, sizeof (one)) < 0 && errno != EAGAIN)
      GST_WARNING ("worker %u: cannot wake: %s", worker->index,
          g_strerror (errno));
  }
}

void
kk_worker_post (KkWorker *worker, KkWorkItem *item)
{
  post (worker, item, TRUE);
}

void
kk_worker_post_deferred (KkWorker *worker, KkWorkItem *item)
{
  post (worker, item, FALSE);
}

/* ---- sending ---- */

static void
flush_batch (KkWorker *worker)
{
  guint sent = 0;

  while (sent < worker->n_batch) {
    int n = sendmmsg (worker->fanout->udp_fd, worker->msgs + sent,
        worker->n_batch - sent, MSG_DONTWAIT);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* EAGAIN (socket buffer full) or an error for the first message:
       * skip that one and try the rest. */
      KK_COUNT (&worker->counters, drop_send_failed, 1);
      sent++;
      continue;
    }
    sent += n;
  }
  worker->n_batch = 0;
}

/* Where to build a datagram for @viewer: the next batch slot, or for an
 * ICE-TCP viewer (sent at once) @tcp_buf. Ask again for each datagram:
 * queueing one may send the batch and start a new one. */
static guint8 *
send_buffer (KkWorker *worker, KkViewer *viewer, guint8 *tcp_buf)
{
  return viewer->transport.tcp != NULL ? tcp_buf
      : worker->bufs[worker->n_batch];
}

/* Sends the @len bytes that send_buffer () gave: over ICE-TCP at once, over
 * UDP in the batch, which goes out when full or when the worker has
 * worked through its inbox. FALSE if an ICE-TCP viewer is backed up. */
static gboolean
send_datagram (KkWorker *worker, KkViewer *viewer, guint8 *buf, gsize len)
{
  guint i = worker->n_batch;

  if (viewer->transport.tcp != NULL)
    return kk_tcp_conn_send (viewer->transport.tcp, buf, len);

  g_assert (buf == worker->bufs[i]);
  memcpy (&worker->addrs[i], &viewer->transport.addr,
      viewer->transport.addr_len);
  worker->iovs[i].iov_base = buf;
  worker->iovs[i].iov_len = len;
  memset (&worker->msgs[i], 0, sizeof (worker->msgs[i]));
  worker->msgs[i].msg_hdr.msg_name = &worker->addrs[i];
  worker->msgs[i].msg_hdr.msg_namelen = viewer->transport.addr_len;
  worker->msgs[i].msg_hdr.msg_iov = &worker->iovs[i];
  worker->msgs[i].msg_hdr.msg_iovlen = 1;
  kk_transport_set_source (worker->fanout, &viewer->transport,
      &worker->msgs[i].msg_hdr, &worker->controls[i]);
  worker->n_batch++;
  if (worker->n_batch == KK_SEND_BATCH)
    flush_batch (worker);
  return TRUE;
}

/* Copies @packet into a send buffer with the viewer's payload type,
 * rewrites the copy with @offsets if the viewer is spliced (nullable),
 * protects it and sends it. Returns: the bytes sent, or -1 (counted) if
 * it was dropped. Inlined into its callers, so that the common one (NULL)
 * pays nothing for the rewriting. */
static inline gssize
send_copy (KkWorker *worker, KkViewer *viewer, const KkPacket *packet,
    const KkSpliceOffsets *offsets)
{
  gint pt = viewer->pt[packet->codec];
  guint8 tcp_buf[KK_SEND_BUF];
  guint8 *buf;
  gssize protected_len;

  if (pt < 0) {
    KK_COUNT (&worker->counters, drop_no_codec, 1);
    return -1;
  }
  buf = send_buffer (worker, viewer, tcp_buf);
  memcpy (buf, packet->data, packet->len);
  buf[1] = (buf[1] & 0x80) | (guint8) pt;
  if (offsets != NULL)
    kk_splice_rewrite (buf, packet->len, packet->codec, offsets);
  protected_len = kk_srtp_protect_rtp (viewer->srtp_out, buf, packet->len,
      KK_SEND_BUF - 2);
  if (protected_len < 0) {
    KK_COUNT (&worker->counters, drop_protect_failed, 1);
    return -1;
  }
  if (!send_datagram (worker, viewer, buf, protected_len)) {
    KK_COUNT (&worker->counters, drop_tcp_backlog, 1);
    /* What the switching rules read for an ICE-TCP viewer. */
    viewer->tcp_dropped++;
    return -1;
  }
  return protected_len;
}

/* send_copy (), counted as media the viewer got (and its sender reports
 * report). */
static inline gboolean
forward_copy (KkWorker *worker, KkViewer *viewer, const KkPacket *packet,
    const KkSpliceOffsets *offsets)
{
  gssize protected_len = send_copy (worker, viewer, packet, offsets);

  if (protected_len < 0)
    return FALSE;
  KK_COUNT (&worker->counters, packets_forwarded, 1);
  KK_COUNT (&worker->counters, bytes_forwarded, protected_len);
  KK_COUNT (viewer, stat_packets, 1);
  KK_COUNT (viewer, stat_bytes, protected_len);
  viewer->sent_packets[packet->kind]++;
  viewer->sent_octets[packet->kind] += packet->len - KK_RTP_HEADER_LEN;
  return TRUE;
}

static gboolean
forward_packet (KkWorker *worker, KkViewer *viewer, const KkPacket *packet)
{
  return forward_copy (worker, viewer, packet, NULL);
}

static void
set_uses_light (KkViewer *viewer, gboolean uses)
{
  if (viewer->uses_light == uses)
    return;
  viewer->uses_light = uses;
  kk_feed_add_light_user (viewer->feed, viewer->worker->index, uses ? 1 : -1);
}

/* While the fast start replays, a live full-layer packet is left to the
 * replay (which reads it from the history in turn); after it, one the
 * replay already sent is not sent again. */
static inline gboolean
skipped_by_replay (KkViewer *viewer, const KkPacket *packet)
{
  if (kk_seq_diff (packet->seq, viewer->video_skip_upto) <= 0)
    return TRUE;
  if (viewer->replaying) {
    viewer->video_skip_upto = packet->seq;
    return TRUE;
  }
  viewer->video_skip = FALSE;
  return FALSE;
}

/* A video packet (of either layer) for a viewer that has been given a
 * layer other than the full one (or a light packet for one that never
 * was, which it does not get). */
static void
forward_spliced (KkWorker *worker, KkViewer *viewer, KkPacket *packet)
{
  KkSpliceOffsets offsets;
  gboolean switched;

  if (!viewer->video_spliced)
    return;
  /* Full packets the fast start carried or will carry, unchanged. */
  if (viewer->video_skip && packet->layer == KK_LAYER_FULL
      && skipped_by_replay (viewer, packet))
    return;
  if (kk_splice_packet (&viewer->splice, packet, &offsets, &switched))
    forward_copy (worker, viewer, packet, &offsets);
  if (switched) {
    GST_DEBUG ("viewer %s: now on the %s layer", viewer->id,
        kk_layer_to_string (viewer->splice.layer));
    kk_layer_rules_switched (&viewer->rules, viewer->splice.layer,
        g_get_monotonic_time ());
    KK_COUNT (&worker->counters, layer_switches, 1);
    __atomic_store_n (&viewer->stat_layer, viewer->splice.layer, __ATOMIC_RELAXED);
    __atomic_store_n (&viewer->stat_layer_switches, viewer->splice.switches,
        __ATOMIC_RELAXED);
    set_uses_light (viewer, viewer->splice.target == KK_LAYER_LIGHT
        || viewer->splice.layer == KK_LAYER_LIGHT);
  }
}

static gboolean
viewer_receives (KkViewer *viewer, KkFeed *feed, KkTrackKind kind)
{
  return viewer->state == KK_VIEWER_CONNECTED && viewer->feed == feed
      && viewer->sends[kind];
}

/* Asks for the cache lines of a viewer's per-packet fields (the start of
 * KkViewer, ~140 bytes). */
static inline void
prefetch_viewer (const KkViewer *viewer)
{
  __builtin_prefetch (viewer);
  __builtin_prefetch ((const guint8 *) viewer + 64);
  __builtin_prefetch ((const guint8 *) viewer + 128);
}

static void
fan_out (KkWorker *worker, KkFeed *feed, KkPacket *packet)
{
  KkViewer **viewers = (KkViewer **) worker->viewers->pdata;
  guint n = worker->viewers->len;

  /* By the next packet most of the viewers' state has left the cache.
   * While one viewer's copy is protected, the KkViewer two ahead is asked
   * for, and the SRTP context of the next one, whose KkViewer (holding the
   * pointer) was asked for one round earlier. Measured on a fan-out of one
   * packet to 100 and 500 contexts and loopback sockets: 5 % and 10-17 %
   * less CPU per packet and viewer. */
  for (guint i = 0; i < MIN (n, 2); i++)
    prefetch_viewer (viewers[i]);
  for (guint i = 0; i < n; i++) {
    KkViewer *viewer = viewers[i];

    if (i + 2 < n)
      prefetch_viewer (viewers[i + 2]);
    if (i + 1 < n && viewers[i + 1]->srtp_out != NULL)
      kk_srtp_prefetch (viewers[i + 1]->srtp_out);
    if (!viewer_receives (viewer, feed, packet->kind))
      continue;
    if (packet->kind == KK_TRACK_VIDEO) {
      /* One test for the viewers that only ever get the full layer. */
      if (G_UNLIKELY (viewer->video_spliced | packet->layer)) {
        forward_spliced (worker, viewer, packet);
        continue;
      }
      /* Deltas before the first keyframe only make the decoder complain. */
      if (viewer->video_wait_keyframe) {
        if (!packet->keyframe_start)
          continue;
        viewer->video_wait_keyframe = FALSE;
      }
      /* Packets the fast start carried or will carry. */
      if (viewer->video_skip && skipped_by_replay (viewer, packet))
        continue;
    }
    forward_packet (worker, viewer, packet);
  }
}

/* ---- memory ---- */

/* A DTLS object with its handshake state is most of what a viewer costs
 * (~40 KB, against ~6 KB of SRTP contexts), so it goes as soon as it
 * cannot be needed. */
static void
release_dtls (KkWorker *worker, KkViewer *viewer)
{
  g_clear_pointer (&viewer->dtls, kk_dtls_free);
  worker->dtls_released = TRUE;
}

/* Handshakes allocate much more than they keep, and the SRTP contexts each
 * viewer keeps are allocated in between, so the memory freed with the DTLS
 * objects is scattered over this thread's malloc arena in holes the size
 * of a handshake: glibc reuses it for later handshakes but never returns
 * it to the system on its own (it only shrinks an arena from the top).
 * After a join burst that is tens of KB per viewer of resident memory
 * nobody uses; malloc_trim () gives the whole pages in those holes back.
 * It walks every arena, so at most once per TRIM_INTERVAL_US, and only
 * after DTLS objects went. */
static void
trim_heap (KkWorker *worker, gint64 now)
{
  if (!worker->dtls_released || now < worker->next_trim_mono_us)
    return;
  worker->dtls_released = FALSE;
  worker->next_trim_mono_us = now + TRIM_INTERVAL_US;
#ifdef __GLIBC__
  malloc_trim (0);
#endif
}

/* ---- RTCP ---- */

/* Protects the RTCP packet of @len bytes in @buf (from send_buffer ()) and
 * sends it with the media. */
static void
send_rtcp (KkWorker *worker, KkViewer *viewer, guint8 *buf, gsize len)
{
  gssize protected_len;

  protected_len = kk_srtp_protect_rtcp (viewer->srtp_out, buf, len,
      len + KK_SRTP_MAX_TRAILER);
  if (protected_len > 0)
    send_datagram (worker, viewer, buf, protected_len);
}

/* A sender report per track, each with our CNAME, so that the viewer's
 * browser can synchronise audio and video (RFC 3550 §6.4.1). */
static void
send_reports (KkWorker *worker, KkViewer *viewer)
{
  gint64 now_wall = g_get_real_time ();
  guint64 ntp = kk_ntp_from_unix_us (now_wall);

  for (guint kind = 0; kind < KK_TRACK_N; kind++) {
    KkTrack *track = viewer->feed->tracks[kind];
    guint8 tcp_buf[256];
    guint8 *buf = send_buffer (worker, viewer, tcp_buf);
    gsize capacity = sizeof (tcp_buf) - KK_SRTP_MAX_TRAILER;
    guint32 rtp_ts;
    gsize len, sdes;

    if (!viewer->sends[kind] || viewer->sent_packets[kind] == 0
        || !kk_track_rtp_time_at (track, now_wall, &rtp_ts))
      continue;
    len = kk_rtcp_write_sr (buf, capacity, kk_track_get_ssrc (track), ntp,
        rtp_ts, viewer->sent_packets[kind], viewer->sent_octets[kind]);
    if (len == 0)
      continue;
    sdes = kk_rtcp_write_sdes_cname (buf + len, capacity - len,
        kk_track_get_ssrc (track), viewer->feed->cname);
    if (sdes == 0)
      continue;
    viewer->sr_ntp_mid[kind] = (guint32) (ntp >> 16);
    send_rtcp (worker, viewer, buf, len + sdes);
  }
}

static KkTrackKind
kind_of_ssrc (KkViewer *viewer, guint32 ssrc, gboolean *known)
{
  for (guint kind = 0; kind < KK_TRACK_N; kind++) {
    if (kk_track_get_ssrc (viewer->feed->tracks[kind]) == ssrc) {
      *known = TRUE;
      return kind;
    }
  }
  *known = FALSE;
  return KK_TRACK_VIDEO;
}

/* TRUE if video packet @seq was retransmitted to the viewer so lately
 * that the copy cannot have arrived yet: a round trip (which holds the
 * link's queue) and 50 ms. Receivers NACK again before that: aiortc
 * names every number still missing in each NACK it sends, Chromium asks
 * again on a round trip it measured before the queue grew. On a link
 * shaped to 500 kbit/s those repeats, each served, sent 130 copies in
 * half a second (2 Mbit/s) after a failed probe, and the link, full of
 * them, lost more. */
static gboolean
retransmitted_lately (KkViewer *viewer, guint16 seq, gint64 now)
{
  gint64 hold_us = (CLAMP (KK_READ (viewer, stat_rtt_ms), 20, 1000) + 50)
      * (gint64) 1000;

  for (guint i = 0; i < KK_RTX_RECENT; i++)
    if (viewer->rtx_seq[i] == seq && viewer->rtx_mono_us[i] != 0
        && now - viewer->rtx_mono_us[i] < hold_us)
      return TRUE;
  return FALSE;
}

static void
remember_retransmission (KkViewer *viewer, guint16 seq, gint64 now)
{
  viewer->rtx_seq[viewer->rtx_next] = seq;
  viewer->rtx_mono_us[viewer->rtx_next] = now;
  viewer->rtx_next = (viewer->rtx_next + 1) % KK_RTX_RECENT;
}

static void
retransmit (KkWorker *worker, KkViewer *viewer, KkTrackKind kind, guint16 seq)
{
  g_autoptr (KkPacket) packet = NULL;
  KkSpliceOffsets offsets;
  gboolean spliced = kind == KK_TRACK_VIDEO && viewer->video_spliced;
  gint64 now = g_get_monotonic_time ();
  gboolean sent;

  KK_COUNT (&worker->counters, nacks_received, 1);
  KK_COUNT (viewer, stat_nacks, 1);
  if (kind == KK_TRACK_VIDEO && retransmitted_lately (viewer, seq, now))
    return;
  if (spliced) {
    KkLayer layer;
    guint16 layer_seq;

    /* The viewer's number, back to the layer it was sent from. */
    if (kk_splice_map (&viewer->splice, seq, &layer, &layer_seq, &offsets)) {
      /* A packet of a heavier layer than the viewer has now, sent before
       * the rules moved it down: lost in the queue of the link that could
       * not carry that layer. Sent again it would only crowd that link
       * more, and the viewer, about to get (or given) the new layer's
       * keyframe, has no use for it. Nor is its NACK held against the new
       * layer (see run_rules ()). On a link shaped to 500 kbit/s these
       * were hundreds a second after the move to light. (Between the full
       * layer's last frame and the light keyframe the viewer is on sound
       * only, below both.) A move the nurse chose is no sign of a weak
       * link: there every NACK is served. */
      if (layer < viewer->splice.layer
          && kk_layer_rules_settling (&viewer->rules, now)) {
        viewer->nacks_left_behind++;
        return;
      }
      packet = kk_track_lookup (layer == KK_LAYER_LIGHT ? viewer->feed->light
          : viewer->feed->tracks[KK_TRACK_VIDEO], layer_seq);
    }
  } else {
    packet = kk_track_lookup (viewer->feed->tracks[kind], seq);
  }
  if (packet == NULL) {
    KK_COUNT (&worker->counters, nacks_missed, 1);
    return;
  }
  sent = spliced ? forward_copy (worker, viewer, packet, &offsets)
      : forward_packet (worker, viewer, packet);
  if (sent) {
    KK_COUNT (&worker->counters, nacks_served, 1);
    KK_COUNT (viewer, stat_retransmissions, 1);
    if (kind == KK_TRACK_VIDEO)
      remember_retransmission (viewer, seq, now);
  }
}

static void
handle_report_block (KkViewer *viewer, const KkRtcpReportBlock *block)
{
  gboolean known;
  KkTrackKind kind = kind_of_ssrc (viewer, block->ssrc, &known);
  guint clock_rate = kind == KK_TRACK_AUDIO ? 48000 : 90000;

  if (!known)
    return;
  viewer->reports++;
  __atomic_store_n (&viewer->stat_fraction_lost, block->fraction_lost, __ATOMIC_RELAXED);
  __atomic_store_n (&viewer->stat_cumulative_lost, block->cumulative_lost, __ATOMIC_RELAXED);
  __atomic_store_n (&viewer->stat_jitter_ms,
      (guint) ((guint64) block->jitter * 1000 / clock_rate), __ATOMIC_RELAXED);
  /* RFC 3550 §6.4.1: RTT = arrival - LSR - DLSR, in 1/65536 s. */
  if (block->lsr != 0 && block->lsr == viewer->sr_ntp_mid[kind]) {
    guint32 now_mid = (guint32) (kk_ntp_from_unix_us (g_get_real_time ()) >> 16);
    guint32 rtt = now_mid - block->lsr - block->dlsr;

    if (rtt < 65536u * 10) {
      __atomic_store_n (&viewer->stat_rtt_ms,
          (gint) ((guint64) rtt * 1000 / 65536), __ATOMIC_RELAXED);
      viewer->rtts++;
    }
  }
}

static void
handle_rtcp (KkWorker *worker, KkViewer *viewer, guint8 *data, gsize len)
{
  gssize plain_len;
  KkRtcpIter iter;
  KkRtcpPacket packet;

  plain_len = kk_srtp_unprotect_rtcp (viewer->srtp_in, data, len);
  if (plain_len < 0 || !kk_rtcp_iter_init (&iter, data, plain_len)) {
    KK_COUNT (&worker->counters, srtcp_rejected, 1);
    return;
  }
  /* An authenticated report is as good a sign of life as a check. */
  __atomic_store_n (&viewer->last_seen_mono_us, g_get_monotonic_time (),
      __ATOMIC_RELAXED);
  /* And proof that the viewer finished its handshake: DTLS-SRTP keys are
   * exported once the handshake is complete (RFC 5764 §4.2), so it has
   * our last flight and will not retransmit its own. */
  if (viewer->dtls != NULL)
    release_dtls (worker, viewer);

  while (kk_rtcp_iter_next (&iter, &packet)) {
    gboolean known;
    KkTrackKind kind;

    switch (packet.type) {
      case KK_RTCP_SR:
      case KK_RTCP_RR:
        for (guint i = 0; i < packet.n_blocks; i++) {
          KkRtcpReportBlock block;

          kk_rtcp_report_block (&packet, i, &block);
          handle_report_block (viewer, &block);
        }
        break;
      case KK_RTCP_NACK:
        kind = kind_of_ssrc (viewer, packet.media_ssrc, &known);
        if (!known)
          break;
        for (guint i = 0; i < packet.n_fci; i++) {
          guint16 pid, blp;

          kk_rtcp_nack_entry (&packet, i, &pid, &blp);
          retransmit (worker, viewer, kind, pid);
          for (guint bit = 0; bit < 16; bit++)
            if (blp & (1u << bit))
              retransmit (worker, viewer, kind, pid + bit + 1);
        }
        break;
      case KK_RTCP_PLI:
      case KK_RTCP_FIR:
        KK_COUNT (&worker->counters, plis_received, 1);
        KK_COUNT (viewer, stat_plis, 1);
        /* The keyframe of the layer it is on; one waiting to switch gets
         * the one it waits for anyway (see update_layer ()). */
        if (viewer->video_spliced && viewer->splice.layer == KK_LAYER_LIGHT)
          kk_feed_request_light_keyframe (viewer->feed);
        else if (!viewer->video_spliced || viewer->splice.layer == KK_LAYER_FULL)
          kk_feed_request_keyframe (viewer->feed);
        break;
      default:
        break;
    }
  }
}

/* ---- layers ---- */

/* How long a viewer waiting to move up to the full layer waits for the
 * host's own next keyframe before one is asked for: a keyframe asked of
 * the host goes to every viewer, so hosts that send them regularly (OBS,
 * cameras) are left to, and browsers, which send them only when asked,
 * are asked after this. */
#define FULL_KEYFRAME_PATIENCE_US (3 * G_USEC_PER_SEC)

/* The best layer a quality allows; "best" and "sound only" are not left
 * to the rules at all. */
static KkLayer
quality_ceiling (KkQuality quality)
{
  switch (quality) {
    case KK_QUALITY_SAVE_DATA:
      return KK_LAYER_LIGHT;
    case KK_QUALITY_SOUND_ONLY:
      return KK_LAYER_AUDIO_ONLY;
    case KK_QUALITY_AUTO:
    case KK_QUALITY_BEST:
      break;
  }
  return KK_LAYER_FULL;
}

static KkLayer
wanted_layer (KkViewer *viewer)
{
  if (viewer->quality == KK_QUALITY_BEST)
    return KK_LAYER_FULL;
  return viewer->rules.layer;
}

static void
set_quality (KkViewer *viewer, KkQuality quality, KkLayer start)
{
  gint64 now = g_get_monotonic_time ();

  viewer->quality = quality;
  viewer->start_layer = start;
  kk_layer_rules_set_ceiling (&viewer->rules, quality_ceiling (quality), now);
  kk_layer_rules_start_at (&viewer->rules, start, now);
}

static guint64
feed_bytes (KkFeed *feed, KkLayer layer)
{
  return __atomic_load_n (&feed->bytes_pushed[layer], __ATOMIC_RELAXED);
}

/* One window of the switching rules: what the link did since the last. */
static void
run_rules (KkViewer *viewer, gint64 now)
{
  guint64 packets = KK_READ (viewer, stat_packets);
  guint nacks = KK_READ (viewer, stat_nacks);
  KkLinkSample sample = {
    .now_us = now,
    .packets_sent = packets - viewer->rules_packets_at,
    .nacked = nacks - viewer->rules_nacks_at
        - (viewer->nacks_left_behind - viewer->rules_nacks_left_behind_at),
    .tcp_dropped = viewer->tcp_dropped - viewer->rules_tcp_dropped_at,
    .report = viewer->reports != viewer->rules_reports_at,
    .fraction_lost = KK_READ (viewer, stat_fraction_lost),
    .jitter_ms = KK_READ (viewer, stat_jitter_ms),
    /* Only a round trip measured in this window: the last one, judged
     * again in every window until the next, made one late report (a
     * receiver on a busy machine, 714 ms on a good link) count as three
     * bad windows and moved a viewer down. */
    .rtt_ms = viewer->rtts != viewer->rules_rtts_at
        ? KK_READ (viewer, stat_rtt_ms) : -1,
    .probe_bytes_sent = viewer->probe_bytes_sent
        - viewer->rules_probe_bytes_sent_at,
    .probe_bytes_held = viewer->probe_bytes_held
        - viewer->rules_probe_bytes_held_at,
  };
  KkLayerRulesState before = viewer->rules.state;
  gint64 elapsed = now - (viewer->next_rules_mono_us - KK_LAYER_RULES_WINDOW_US);

  viewer->rules_packets_at = packets;
  viewer->rules_nacks_at = nacks;
  viewer->rules_nacks_left_behind_at = viewer->nacks_left_behind;
  viewer->rules_tcp_dropped_at = viewer->tcp_dropped;
  viewer->rules_reports_at = viewer->reports;
  viewer->rules_rtts_at = viewer->rtts;
  viewer->rules_probe_bytes_sent_at = viewer->probe_bytes_sent;
  viewer->rules_probe_bytes_held_at = viewer->probe_bytes_held;
  viewer->next_rules_mono_us = now + KK_LAYER_RULES_WINDOW_US;
  /* A probe window whose rate was not known proved nothing about the
   * link (the layer probed for pushed nothing, e.g. the light layer still
   * starting): the probe's time starts again, so that a clean but empty
   * probe never moves the viewer up. (One whose step up adds nothing,
   * the layer above being no heavier, is passed: it needs no bytes.) */
  if (kk_layer_rules_probing (&viewer->rules) && viewer->probe_unmeasured)
    viewer->rules.state_since_us = now;
  kk_layer_rules_sample (&viewer->rules, &sample);
  /* Bad windows at DEBUG, the others at LOG: the whole sequence, as
   * tests/test-layer-rules.c replays recorded ones. */
  GST_CAT_LEVEL_LOG (GST_CAT_DEFAULT, viewer->rules.verdict == KK_LINK_BAD
      ? GST_LEVEL_DEBUG : GST_LEVEL_LOG, NULL, "viewer %s: a%s window: "
      "%u packets, %u NACKed, %u dropped, report %d (lost %u/256, jitter %u "
      "ms), RTT %d ms (lowest %d), probe %u bytes sent, %u held back",
      viewer->id,
      viewer->rules.verdict == KK_LINK_BAD ? " bad"
      : viewer->rules.verdict == KK_LINK_CLEAN ? " clean" : "n unsure",
      sample.packets_sent, sample.nacked, sample.tcp_dropped, sample.report,
      sample.fraction_lost, sample.jitter_ms, sample.rtt_ms,
      viewer->rules.min_rtt_ms, sample.probe_bytes_sent,
      sample.probe_bytes_held);
  if (viewer->rules.state != before)
    GST_DEBUG ("viewer %s: switching rules %s -> %s (on %s)", viewer->id,
        kk_layer_rules_state_to_string (before),
        kk_layer_rules_state_to_string (viewer->rules.state),
        kk_layer_to_string (viewer->rules.layer));

  /* A probe adds what the step up adds: the feed's rate of the layer
   * above minus that of the one the viewer has, as pushed this window. */
  viewer->probe_bytes_per_s = 0;
  viewer->probe_unmeasured = FALSE;
  if (kk_layer_rules_probing (&viewer->rules) && elapsed > 0) {
    KkLayer from = viewer->rules.layer;
    KkLayer to = kk_layer_rules_probe_target (&viewer->rules);
    gint64 from_bytes = feed_bytes (viewer->feed, from)
        - viewer->probe_feed_bytes_at[from];
    gint64 to_bytes = feed_bytes (viewer->feed, to)
        - viewer->probe_feed_bytes_at[to];

    if (from == KK_LAYER_AUDIO_ONLY)
      from_bytes = 0;       /* the audio goes on either way */
    viewer->probe_unmeasured = to_bytes == 0;
    viewer->probe_bytes_per_s = MAX (0, to_bytes - from_bytes) * G_USEC_PER_SEC
        / elapsed;
  } else {
    viewer->probe_budget = 0;
  }
  for (guint layer = 0; layer < KK_LAYER_N; layer++)
    viewer->probe_feed_bytes_at[layer] = feed_bytes (viewer->feed, layer);
}

/* TRUE when nothing waits to go out on the ICE-TCP connection: neither
 * the tail of a frame the relay holds nor bytes in the kernel's send
 * buffer that TCP has not sent yet. Only asked while probing (one ioctl
 * per probe copy), never on the media's path. */
static gboolean
tcp_backlog_empty (KkTcpConn *conn)
{
  int unsent = 0;
  gboolean pending;

  g_mutex_lock (&conn->write_lock);
  pending = conn->pending_len > 0;
  g_mutex_unlock (&conn->write_lock);
  if (pending)
    return FALSE;
  if (ioctl (conn->fd, SIOCOUTQNSD, &unsent) < 0)
    return FALSE;
  return unsent == 0;
}

/* Probe copies are at most this many per tick, so that a probe is spread
 * over the window like the media it stands for, not sent in bursts. */
#define PROBE_MAX_PER_TICK 16
/* Copies of the newest packet the viewer has (its layer's video, or its
 * audio), which it discards as duplicates: bytes on its link at the rate
 * the step up would add, without a change to its picture. */
static void
send_probe (KkWorker *worker, KkViewer *viewer, gint64 now)
{
  KkLayer layer = viewer->rules.layer;
  g_autoptr (KkPacket) packet = NULL;
  const KkSpliceOffsets *offsets = NULL;
  gint64 elapsed = now - viewer->probe_last_mono_us;
  gint64 bytes_per_s = kk_layer_rules_probe_rate (&viewer->rules,
      viewer->probe_bytes_per_s, viewer->transport.tcp != NULL, now);

  viewer->probe_last_mono_us = now;
  if (bytes_per_s == 0)
    return;
  /* A NACK in the probe's window: the link's queue overflowed. The
   * probe's bytes stop at once rather than at the window's end (half a
   * second more of them into that queue, taking media with them); the
   * window's judgement ends the probe or lets it go on. */
  if (KK_READ (viewer, stat_nacks) - viewer->rules_nacks_at
      != viewer->nacks_left_behind - viewer->rules_nacks_left_behind_at)
    return;
  /* Over ICE-TCP the link does not lose, it backs up: the first packet
   * dropped at the connection's full backlog is the same sign. (On a link
   * shaped to 500 kbit/s, probes that went on after it dropped 28 media
   * packets each and froze the picture for 2-3 s.) */
  if (viewer->tcp_dropped != viewer->rules_tcp_dropped_at)
    return;
  if (layer == KK_LAYER_LIGHT && viewer->video_spliced
      && viewer->splice.layer == KK_LAYER_LIGHT) {
    packet = kk_track_get_newest (viewer->feed->light);
    offsets = &viewer->splice.offsets;
  } else if (layer == KK_LAYER_AUDIO_ONLY && viewer->sends[KK_TRACK_AUDIO]) {
    packet = kk_track_get_newest (viewer->feed->tracks[KK_TRACK_AUDIO]);
  }
  if (packet == NULL)
    return;
  /* The budget holds a tenth of a second's probe, or one packet when
   * that is less: a small step probed at a part of its rate (a light
   * layer of 160x120 and a full one of 320x240 differ by ~30 kbit/s, a
   * tenth of a second of half of that is 175 bytes) must still send a
   * copy now and then, not none at all. */
  viewer->probe_budget = MIN (viewer->probe_budget
      + bytes_per_s * MIN (elapsed, G_USEC_PER_SEC / 10)
      / G_USEC_PER_SEC, MAX (bytes_per_s / 10, (gint64) packet->len));
  for (guint i = 0; i < PROBE_MAX_PER_TICK
      && viewer->probe_budget >= packet->len; i++) {
    viewer->probe_budget -= packet->len;
    /* Over ICE-TCP a copy goes out only into an empty backlog, where it
     * delays no media; one held back is counted, and the rules judge the
     * link by how much of the probe it let through (kk-layer-rules.c). */
    if (viewer->transport.tcp != NULL) {
      if (!tcp_backlog_empty (viewer->transport.tcp)) {
        viewer->probe_bytes_held += packet->len;
        continue;
      }
      viewer->probe_bytes_sent += packet->len;
    }
    if (send_copy (worker, viewer, packet, offsets) > 0)
      KK_COUNT (&worker->counters, probe_packets, 1);
  }
}

/* On the tick: moves the viewer towards the layer it should have, and
 * asks for the keyframe it waits for. */
static void
update_layer (KkWorker *worker, KkViewer *viewer, gint64 now)
{
  KkLayer wanted, target;

  /* Sound is all it asked for in its offer: nothing to switch. */
  if (!viewer->sends[KK_TRACK_VIDEO])
    return;
  /* Its fast start sends the full layer as it is; a switch waits. */
  if (viewer->replaying)
    return;
  if (viewer->quality != KK_QUALITY_BEST && now >= viewer->next_rules_mono_us)
    run_rules (viewer, now);
  if (kk_layer_rules_probing (&viewer->rules))
    send_probe (worker, viewer, now);
  wanted = wanted_layer (viewer);
  target = wanted;

  /* It needs the light layer even while that is not there yet, and while
   * it probes towards it: the probe's rate is the light layer's, which
   * only a running light layer has. */
  set_uses_light (viewer, wanted == KK_LAYER_LIGHT
      || (kk_layer_rules_probing (&viewer->rules)
          && kk_layer_rules_probe_target (&viewer->rules) == KK_LAYER_LIGHT)
      || (viewer->video_spliced && viewer->splice.layer == KK_LAYER_LIGHT));
  /* Until the light layer flows (it is started when first wanted), and
   * should it stop: a viewer on the full layer that may have it keeps it;
   * any other keeps what it has, or the sound only, and is never sent
   * the full layer its link (or its choice, save data) cannot take. */
  if (wanted == KK_LAYER_LIGHT && !kk_feed_light_flowing (viewer->feed, now)) {
    gboolean on_full = viewer->video_spliced
        ? viewer->splice.layer == KK_LAYER_FULL : !viewer->video_wait_keyframe;

    if (on_full && viewer->rules.ceiling == KK_LAYER_FULL)
      target = KK_LAYER_FULL;
    else if (viewer->video_spliced && viewer->splice.layer != KK_LAYER_FULL)
      target = viewer->splice.layer;
    else
      target = KK_LAYER_AUDIO_ONLY;
  }
  if (!viewer->video_spliced) {
    if (target == KK_LAYER_FULL)
      return;
    /* A viewer still waiting for its first keyframe has no video yet. */
    kk_splice_init (&viewer->splice, viewer->video_wait_keyframe
        ? KK_LAYER_AUDIO_ONLY : KK_LAYER_FULL);
    viewer->video_wait_keyframe = FALSE;
    viewer->video_spliced = TRUE;
    __atomic_store_n (&viewer->stat_layer, viewer->splice.layer,
        __ATOMIC_RELAXED);
  }
  if (viewer->splice.target != target) {
    GST_INFO ("viewer %s: %s -> %s layer", viewer->id,
        kk_layer_to_string (viewer->splice.layer), kk_layer_to_string (target));
    kk_splice_set_target (&viewer->splice, target);
    viewer->target_since_mono_us = now;
  }
  if (!kk_splice_waiting (&viewer->splice))
    return;
  if (target == KK_LAYER_LIGHT)
    kk_feed_request_light_keyframe (viewer->feed);
  else if (target == KK_LAYER_FULL
      && now - viewer->target_since_mono_us > FULL_KEYFRAME_PATIENCE_US)
    kk_feed_request_upswitch_keyframe (viewer->feed);
}

/* ---- viewer lifecycle on the worker ---- */

static void
drop_from_shard (KkWorker *worker, KkViewer *viewer)
{
  if (!viewer->in_shard)
    return;
  viewer->in_shard = FALSE;
  g_ptr_array_remove_fast (worker->viewers, viewer);
  g_atomic_int_dec_and_test (&worker->n_viewers);
  __atomic_store_n (&viewer->stat_connected, 0, __ATOMIC_RELAXED);
  kk_viewer_unref (viewer);
}

static void
viewer_dies (KkWorker *worker, KkViewer *viewer, KkViewerLeft reason)
{
  set_uses_light (viewer, FALSE);
  set_state (viewer, KK_VIEWER_DEAD);
  kk_viewer_dispatch_left (viewer, reason);
  drop_from_shard (worker, viewer);
}

/* Sends the next slice of a fast start: the full layer's packets from
 * its history, in order, until the replay has caught up with what the
 * worker has seen live. No queue of the viewer's own: the history is the
 * track's, shared, and the replay is two numbers. */
static void
replay_slice (KkWorker *worker, KkViewer *viewer)
{
  KkTrack *track = viewer->feed->tracks[KK_TRACK_VIDEO];

  for (guint i = 0; i < REPLAY_SLICE; i++) {
    g_autoptr (KkPacket) packet = NULL;

    if (kk_seq_diff (viewer->replay_next, viewer->video_skip_upto) > 0) {
      viewer->replaying = FALSE;
      return;
    }
    packet = kk_track_lookup (track, viewer->replay_next);
    if (packet == NULL) {
      /* Overwritten in the history meanwhile (a replay far behind): start
       * over on the next keyframe instead. */
      viewer->replaying = FALSE;
      viewer->video_skip = FALSE;
      viewer->video_wait_keyframe = TRUE;
      kk_feed_request_keyframe (viewer->feed);
      return;
    }
    if (forward_packet (worker, viewer, packet))
      KK_COUNT (&worker->counters, gop_packets_sent, 1);
    viewer->replay_next++;
  }
}

/* The new viewer's video starts with the GOP so far, so its decoder has a
 * keyframe at once whatever the publisher's keyframe interval; the rest
 * of the GOP follows a slice per tick (replay_slice ()). */
static void
fast_start (KkWorker *worker, KkViewer *viewer)
{
  gint64 age_us;
  g_autoptr (GPtrArray) gop = NULL;
  KkLayer wanted = wanted_layer (viewer);
  gboolean light_flowing;

  if (!viewer->sends[KK_TRACK_VIDEO])
    return;
  /* A screen that had the light layer last time starts on it, on its
   * next keyframe (asked for now): no burst of the full layer's GOP on a
   * link that may not carry it. One whose nurse chose save data or sound
   * only (with its offer) never gets the full layer at all: it starts on
   * the sound, and on the light layer's keyframe if it may have that,
   * once the light layer (started for it now) flows. */
  light_flowing = kk_feed_light_flowing (viewer->feed, g_get_monotonic_time ());
  if (wanted != KK_LAYER_FULL
      && (light_flowing || viewer->rules.ceiling != KK_LAYER_FULL)) {
    kk_splice_init (&viewer->splice, KK_LAYER_AUDIO_ONLY);
    viewer->video_spliced = TRUE;
    __atomic_store_n (&viewer->stat_layer, KK_LAYER_AUDIO_ONLY,
        __ATOMIC_RELAXED);
    if (wanted != KK_LAYER_LIGHT)
      return;
    set_uses_light (viewer, TRUE);
    if (light_flowing) {
      kk_splice_set_target (&viewer->splice, KK_LAYER_LIGHT);
      kk_feed_request_light_keyframe (viewer->feed);
    }
    return;
  }
  gop = kk_track_get_gop (viewer->feed->tracks[KK_TRACK_VIDEO], &age_us);
  if (gop->len == 0 || gop->len > GOP_REPLAY_MAX_PACKETS
      || age_us > GOP_REPLAY_MAX_AGE_US) {
    viewer->video_wait_keyframe = TRUE;
    kk_feed_request_keyframe (viewer->feed);
    return;
  }
  viewer->replaying = TRUE;
  viewer->replay_next = ((KkPacket *) gop->pdata[0])->seq;
  viewer->video_skip = TRUE;
  viewer->video_skip_upto = ((KkPacket *) gop->pdata[gop->len - 1])->seq;
  replay_slice (worker, viewer);
  if (age_us > GOP_STALE_US)
    kk_feed_request_keyframe (viewer->feed);
}

static void
dtls_connected (KkWorker *worker, KkViewer *viewer)
{
  guint8 local_key[KK_SRTP_MAX_KEY_LEN], local_salt[KK_SRTP_MAX_SALT_LEN];
  guint8 remote_key[KK_SRTP_MAX_KEY_LEN], remote_salt[KK_SRTP_MAX_SALT_LEN];
  gint64 now = g_get_monotonic_time ();

  if (!kk_dtls_get_srtp_keys (viewer->dtls, &viewer->profile, local_key,
          local_salt, remote_key, remote_salt)) {
    KK_COUNT (&worker->counters, dtls_failed, 1);
    viewer_dies (worker, viewer, KK_VIEWER_LEFT_DTLS_FAILED);
    return;
  }
  viewer->srtp_out = kk_srtp_new (viewer->profile, local_key, local_salt);
  viewer->srtp_in = kk_srtp_new (viewer->profile, remote_key, remote_salt);
  memset (local_key, 0, sizeof (local_key));
  memset (remote_key, 0, sizeof (remote_key));
  if (viewer->srtp_out == NULL || viewer->srtp_in == NULL) {
    KK_COUNT (&worker->counters, dtls_failed, 1);
    viewer_dies (worker, viewer, KK_VIEWER_LEFT_DTLS_FAILED);
    return;
  }
  viewer->connected_mono_us = now;
  viewer->next_report_mono_us = now + REPORT_INTERVAL_US / 2;
  kk_layer_rules_init (&viewer->rules, viewer->start_layer,
      quality_ceiling (viewer->quality), now);
  viewer->next_rules_mono_us = now + KK_LAYER_RULES_WINDOW_US;
  viewer->rules_packets_at = KK_READ (viewer, stat_packets);
  set_state (viewer, KK_VIEWER_CONNECTED);
  __atomic_store_n (&viewer->stat_connected, 1, __ATOMIC_RELAXED);
  __atomic_store_n (&viewer->stat_tcp, viewer->transport.tcp != NULL,
      __ATOMIC_RELAXED);
  GST_INFO ("viewer %s: media flowing (%s over %s)", viewer->id,
      kk_srtp_profile_name (viewer->profile),
      viewer->transport.tcp ? "ICE-TCP" : "UDP");
  kk_viewer_dispatch_connected (viewer, kk_mono_to_wall_us (now));
  fast_start (worker, viewer);
}

static void
handle_dtls_state (KkWorker *worker, KkViewer *viewer, KkDtlsState state,
    GError *error)
{
  switch (state) {
    case KK_DTLS_STATE_CONNECTED:
      if (viewer->state != KK_VIEWER_CONNECTED)
        dtls_connected (worker, viewer);
      break;
    case KK_DTLS_STATE_FAILED:
      GST_INFO ("viewer %s: DTLS failed: %s", viewer->id,
          error ? error->message : "unknown");
      KK_COUNT (&worker->counters, dtls_failed, 1);
      viewer_dies (worker, viewer, KK_VIEWER_LEFT_DTLS_FAILED);
      break;
    case KK_DTLS_STATE_CLOSED:
      viewer_dies (worker, viewer, KK_VIEWER_LEFT_DTLS_CLOSED);
      break;
    case KK_DTLS_STATE_HANDSHAKING:
      break;
  }
}

static void
handle_datagram (KkWorker *worker, KkViewer *viewer, guint8 *data, gsize len)
{
  guint8 first = data[0];

  if (first >= 20 && first <= 63) {
    g_autoptr (GError) error = NULL;
    KkDtlsState state;

    /* After the linger time the DTLS object is gone: late records are
     * retransmissions nobody needs any more. */
    if (viewer->dtls == NULL)
      return;
    if (viewer->state == KK_VIEWER_NEW)
      set_state (viewer, KK_VIEWER_HANDSHAKING);
    state = kk_dtls_receive (viewer->dtls, data, len, &error);
    handle_dtls_state (worker, viewer, state, error);
    return;
  }
  if (len >= 2 && kk_rtp_is_rtcp (data, len)) {
    if (viewer->state == KK_VIEWER_CONNECTED)
      handle_rtcp (worker, viewer, data, len);
    return;
  }
  KK_COUNT (&worker->counters, rtp_from_viewer, 1);
}

static void
handle_transport (KkWorker *worker, KkViewer *viewer, KkTransport *transport)
{
  kk_transport_copy (&viewer->transport, transport);
  viewer->have_transport = TRUE;
  __atomic_store_n (&viewer->stat_tcp, transport->tcp != NULL,
      __ATOMIC_RELAXED);
  if (viewer->state == KK_VIEWER_NEW)
    set_state (viewer, KK_VIEWER_HANDSHAKING);
  /* As DTLS client we speak first, once ICE gave us somewhere to speak. */
  if (!viewer->dtls_server && !viewer->dtls_started && viewer->dtls != NULL) {
    viewer->dtls_started = TRUE;
    kk_dtls_start (viewer->dtls);
  }
}

static void
process_item (KkWorker *worker, KkWorkItem *item)
{
  KkViewer *viewer = item->viewer;

  switch (item->type) {
    case KK_ITEM_PACKET:
      fan_out (worker, item->feed, item->packet);
      break;
    case KK_ITEM_ADD_VIEWER:
      viewer->in_shard = TRUE;
      g_ptr_array_add (worker->viewers, kk_viewer_ref (viewer));
      break;
    case KK_ITEM_REMOVE_VIEWER:
      if (viewer->in_shard) {
        if (viewer->dtls != NULL && viewer->state == KK_VIEWER_CONNECTED)
          kk_dtls_close (viewer->dtls);
        viewer_dies (worker, viewer, KK_VIEWER_LEFT_CLOSED);
      }
      break;
    case KK_ITEM_DATAGRAM:
      if (viewer->in_shard && viewer->state != KK_VIEWER_DEAD)
        handle_datagram (worker, viewer, item->data, item->len);
      break;
    case KK_ITEM_TRANSPORT:
      if (viewer->in_shard && viewer->state != KK_VIEWER_DEAD)
        handle_transport (worker, viewer, &item->transport);
      break;
    case KK_ITEM_QUALITY:
      set_quality (viewer, item->value, item->len);
      break;
    case KK_ITEM_TCP_CLOSED:
      /* Nothing left to send over; consent expiry ends the viewer unless
       * ICE picks another pair first. */
      if (viewer->transport.tcp == item->transport.tcp) {
        kk_transport_clear (&viewer->transport);
        viewer->have_transport = FALSE;
        if (viewer->state == KK_VIEWER_CONNECTED)
          set_state (viewer, KK_VIEWER_HANDSHAKING);
      }
      break;
  }
}

static void
tick (KkWorker *worker, gint64 now)
{
  KkFanout *fanout = worker->fanout;
  gint64 consent_us = (gint64) fanout->config.consent_timeout_s * G_USEC_PER_SEC;
  gint64 connect_us = (gint64) fanout->config.connect_timeout_s * G_USEC_PER_SEC;

  /* Backwards, since a viewer may leave the shard on the way. */
  for (guint i = worker->viewers->len; i-- > 0;) {
    KkViewer *viewer = worker->viewers->pdata[i];
    gint64 seen = __atomic_load_n (&viewer->last_seen_mono_us, __ATOMIC_RELAXED);

    if (viewer->state == KK_VIEWER_CONNECTED) {
      if (now - seen > consent_us) {
        GST_INFO ("viewer %s: consent expired (%" G_GINT64_FORMAT " s silent)",
            viewer->id, (now - seen) / G_USEC_PER_SEC);
        viewer_dies (worker, viewer, KK_VIEWER_LEFT_CONSENT);
        continue;
      }
      if (viewer->replaying)
        replay_slice (worker, viewer);
      if (now >= viewer->next_report_mono_us) {
        send_reports (worker, viewer);
        viewer->next_report_mono_us = now + REPORT_INTERVAL_US;
      }
      update_layer (worker, viewer, now);
      if (viewer->dtls != NULL && now - viewer->connected_mono_us > DTLS_LINGER_US)
        release_dtls (worker, viewer);
      continue;
    }

    /* Not (or no longer) connected. */
    if (viewer->connected_mono_us == 0 && now - viewer->created_mono_us > connect_us) {
      viewer_dies (worker, viewer, KK_VIEWER_LEFT_NEVER_CONNECTED);
      continue;
    }
    if (viewer->connected_mono_us != 0 && now - seen > consent_us) {
      viewer_dies (worker, viewer, KK_VIEWER_LEFT_CONSENT);
      continue;
    }
    if (viewer->dtls != NULL && viewer->have_transport) {
      gint64 timeout = kk_dtls_get_timeout (viewer->dtls);

      /* An expired timer reads as "due at the moment of the call", later
       * than this tick's now: compare with the clock read after it. */
      if (timeout != 0 && g_get_monotonic_time () >= timeout) {
        g_autoptr (GError) error = NULL;
        KkDtlsState state = kk_dtls_handle_timeout (viewer->dtls, &error);

        handle_dtls_state (worker, viewer, state, error);
      }
    }
  }
  trim_heap (worker, now);
}

static gpointer
worker_thread (gpointer data)
{
  KkWorker *worker = data;
  gint64 next_tick = g_get_monotonic_time () + TICK_MS * 1000;

  for (;;) {
    GArray *items;
    gboolean stopping, idle;
    gint64 now;

    g_mutex_lock (&worker->lock);
    items = worker->inbox;
    worker->inbox = worker->processing;
    worker->processing = items;
    stopping = worker->stopping;
    /* Posters write the eventfd only while this is set, so an idle worker
     * costs them nothing but the lock. */
    idle = items->len == 0 && !stopping;
    worker->sleeping = idle;
    worker->sleeping_unbounded = idle && worker->viewers->len == 0;
    g_mutex_unlock (&worker->lock);

    for (guint i = 0; i < items->len; i++) {
      KkWorkItem *item = &g_array_index (items, KkWorkItem, i);

      process_item (worker, item);
      work_item_clear (item);
    }
    g_array_set_size (items, 0);

    if (stopping) {
      flush_batch (worker);
      break;
    }

    /* While media flows, packets wake us every few milliseconds: the tick
     * rides along with one of those wakeups rather than costing one of
     * its own (a wakeup is a context switch, dear in a VM). It may run
     * up to TICK_SLACK_US early here, and as late when we sleep. */
    now = g_get_monotonic_time ();
    if (now >= next_tick - TICK_SLACK_US) {
      tick (worker, now);
      next_tick = now + TICK_MS * 1000;
    }

    if (idle) {
      struct pollfd pfd = { .fd = worker->wake_fd, .events = POLLIN };
      guint64 value;
      int timeout_ms;

      /* Whatever the packets that came together (a frame's, and the
       * audio beside them) left in the batch goes in one sendmmsg. */
      flush_batch (worker);

      /* An empty shard has nothing to time out: sleep until posted to.
       * Otherwise round up, since a timeout rounded down to 0 ms would
       * spin through the last millisecond before every tick. */
      if (worker->viewers->len == 0)
        timeout_ms = -1;
      else
        timeout_ms = (int) CLAMP ((next_tick + TICK_SLACK_US - now + 999)
            / 1000, 1, TICK_MS + TICK_SLACK_US / 1000);
      if (poll (&pfd, 1, timeout_ms) > 0
          && read (worker->wake_fd, &value, sizeof (value)) < 0 && errno != EAGAIN)
        GST_WARNING ("worker %u: wake read failed", worker->index);
      g_mutex_lock (&worker->lock);
      worker->sleeping = FALSE;
      worker->sleeping_unbounded = FALSE;
      g_mutex_unlock (&worker->lock);
    }
  }
  return NULL;
}

void
kk_worker_start (KkWorker *worker)
{
  char name[16];

  g_snprintf (name, sizeof (name), "kk-worker-%u", worker->index);
  worker->thread = g_thread_new (name, worker_thread, worker);
}

void
kk_worker_stop (KkWorker *worker)
{
  guint64 one = 1;

  if (worker->thread == NULL)
    return;
  g_mutex_lock (&worker->lock);
  worker->stopping = TRUE;
  g_mutex_unlock (&worker->lock);
  if (write (worker->wake_fd, &one, sizeof (one)) < 0)
    GST_WARNING ("worker %u: cannot wake: %s", worker->index, g_strerror (errno));
  g_thread_join (worker->thread);
  worker->thread = NULL;
}

void
kk_worker_free (KkWorker *worker)
{
  /* Viewers still here were ended by kk_fanout_free; drop our refs. */
  for (guint i = worker->viewers->len; i-- > 0;)
    drop_from_shard (worker, worker->viewers->pdata[i]);
  g_ptr_array_unref (worker->viewers);
  for (guint i = 0; i < worker->inbox->len; i++)
    work_item_clear (&g_array_index (worker->inbox, KkWorkItem, i));
  g_array_unref (worker->inbox);
  g_array_unref (worker->processing);
  g_mutex_clear (&worker->lock);
  close (worker->wake_fd);
  g_free (worker);
}

void
kk_worker_collect (KkWorker *worker, KkCounters *sum)
{
  KkCounters *c = &worker->counters;

#define ADD(f) sum->f += KK_READ (c, f)
  ADD (packets_forwarded);
  ADD (bytes_forwarded);
  ADD (drop_no_codec);
  ADD (drop_send_failed);
  ADD (drop_tcp_backlog);
  ADD (drop_protect_failed);
  ADD (nacks_received);
  ADD (nacks_served);
  ADD (nacks_missed);
  ADD (plis_received);
  ADD (srtcp_rejected);
  ADD (rtp_from_viewer);
  ADD (dtls_failed);
  ADD (gop_packets_sent);
  ADD (layer_switches);
  ADD (probe_packets);
#undef ADD
}
