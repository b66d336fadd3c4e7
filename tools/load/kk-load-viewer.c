/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-viewer: one simulated viewer, from signalling to the last packet.
 *
 * Signalling is WHEP (join a party for a token unless one was given, POST
 * the offer, DELETE the resource at the end) or Janus's streaming plugin
 * (attach, "watch", answer the offer in "start"). ICE is a full libnice
 * agent bound to --local-ip; DTLS is kk-dtls in the client role (we offer
 * actpass, the relay answers passive; Janus offers actpass and we answer
 * active). All of it runs on the viewer's own thread (kk-load-rx.c): its
 * SoupSession, and its GMainContext for libnice. Until DTLS is done media
 * comes through libnice. Then the viewer is handed off: the selected
 * pair's socket is duplicated, the agent and the DTLS state are freed (a
 * connected viewer keeps only its SRTP contexts and sequence state, a few
 * KiB), and the thread's epoll set takes the socket over. From there the
 * viewer itself sends what a browser would: receiver reports every
 * second, NACKs at once for video gaps, and an RFC 7675 consent check
 * every 4-6 s; it answers the server's connectivity checks (Janus is a
 * full agent and may send them).
 *
 * What is decrypted: every video packet until the first keyframe start
 * is found (it must be decrypted to be recognised), then one packet in
 * --verify-every of each stream. The RTP header is in the clear, so
 * every packet counts for loss and NACKs whether decrypted or not.
 */
#include "kk-load-private.h"

#include <kringkast/kk-rtp.h>
#include <kringkast/kk-stun.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <stun/usages/ice.h>
#include <unistd.h>

#define REPORT_INTERVAL_US G_USEC_PER_SEC
#define MAX_NACK 64
#define RCVBUF_BYTES (1024 * 1024)

static const char *
state_name (KkLoadViewerState state)
{
  switch (state) {
    case KK_LOAD_VIEWER_WAITING: return "waiting";
    case KK_LOAD_VIEWER_SIGNALLING: return "signalling";
    case KK_LOAD_VIEWER_ICE: return "ICE";
    case KK_LOAD_VIEWER_DTLS: return "DTLS";
    case KK_LOAD_VIEWER_CONNECTED: return "connected";
    case KK_LOAD_VIEWER_FAILED: return "failed";
    default: return "?";
  }
}

static gboolean
unref_later (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

/* Frees the agent outside whatever libnice callback we may be in. */
static void
drop_agent (KkLoadViewer *viewer)
{
  NiceAgent *agent = g_steal_pointer (&viewer->agent);
  GMainContext *context;
  GSource *idle;

  if (agent == NULL)
    return;
  context = kk_load_rx_get_context (viewer->rx);
  g_signal_handlers_disconnect_by_data (agent, viewer);
  nice_agent_attach_recv (agent, viewer->stream_id, 1, context, NULL, NULL);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, unref_later, agent, NULL);
  g_source_attach (idle, context);
  g_source_unref (idle);
}

void
kk_load_viewer_fail (KkLoadViewer *viewer, const char *fmt, ...)
{
  va_list args;

  if (viewer->state == KK_LOAD_VIEWER_FAILED
      || viewer->state == KK_LOAD_VIEWER_CONNECTED)
    return;
  va_start (args, fmt);
  viewer->result.error = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_debug ("viewer %u failed in %s: %s", viewer->index,
      state_name (viewer->state), viewer->result.error);
  viewer->state = KK_LOAD_VIEWER_FAILED;
  g_atomic_int_inc (&viewer->run->failed);
  g_atomic_int_inc (&viewer->run->settled);
  drop_agent (viewer);
  g_clear_pointer (&viewer->dtls, kk_dtls_free);
}

/* ---- HTTP ---- */

typedef void (*HttpDone) (KkLoadViewer *viewer, SoupMessage *msg,
    GBytes *body);

typedef struct {
  KkLoadViewer *viewer;
  HttpDone done;
  gboolean teardown;
} HttpCall;

static void
http_finished (GObject *source, GAsyncResult *result, gpointer data)
{
  HttpCall *call = data;
  SoupMessage *msg = soup_session_get_async_result_message (
      SOUP_SESSION (source), result);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (
      SOUP_SESSION (source), result, &error);

  if (call->teardown) {
    kk_load_rx_left_one (call->viewer->rx);
  } else if (body == NULL) {
    kk_load_viewer_fail (call->viewer, "HTTP: %s", error->message);
  } else if (call->viewer->state != KK_LOAD_VIEWER_FAILED) {
    call->done (call->viewer, msg, body);
  }
  g_free (call);
}

static void
http (KkLoadViewer *viewer, const char *method, const char *url,
    const char *content_type, const char *body, HttpDone done,
    gboolean teardown)
{
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  HttpCall *call;

  if (msg == NULL) {
    kk_load_viewer_fail (viewer, "bad URL %s", url);
    return;
  }
  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

    soup_message_set_request_body_from_bytes (msg, content_type, bytes);
  }
  if (viewer->token != NULL) {
    g_autofree char *auth = g_strdup_printf ("Bearer %s", viewer->token);

    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Authorization", auth);
  }
  call = g_new0 (HttpCall, 1);
  call->viewer = viewer;
  call->done = done;
  call->teardown = teardown;
  soup_session_send_and_read_async (kk_load_rx_get_http (viewer->rx), msg,
      G_PRIORITY_DEFAULT, NULL, http_finished, call);
}

static char *
body_text (GBytes *body)
{
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  return g_strndup (data, MIN (len, 200));
}

/* ---- media ---- */

static void
send_datagram (KkLoadViewer *viewer, const guint8 *data, gsize len)
{
  if (viewer->fd >= 0) {
    /* A full socket buffer costs this report or check, like a browser's
     * would be lost on a congested link. */
    (void) send (viewer->fd, data, len, MSG_DONTWAIT);
  } else if (viewer->agent != NULL) {
    nice_agent_send (viewer->agent, viewer->stream_id, 1, len,
        (const char *) data);
  }
}

static void
send_rtcp (KkLoadViewer *viewer, guint8 *buf, gsize len, gsize cap)
{
  gssize protected_len = kk_srtp_protect_rtcp (viewer->srtp_out, buf, len,
      cap);

  if (protected_len > 0)
    send_datagram (viewer, buf, protected_len);
}

static void
send_nack (KkLoadViewer *viewer, KkLoadStream *stream, const guint16 *lost,
    guint n_lost)
{
  guint8 buf[512];
  gsize len = kk_rtcp_write_rr (buf, sizeof (buf), viewer->ssrc, NULL, 0);

  len += kk_rtcp_write_nack (buf + len, sizeof (buf) - len
      - KK_SRTP_MAX_TRAILER, viewer->ssrc, stream->ssrc, lost, n_lost);
  send_rtcp (viewer, buf, len, sizeof (buf));
  viewer->result.nacks_sent++;
}

static void
send_report (KkLoadViewer *viewer)
{
  KkRtcpReportBlock blocks[KK_LOAD_MAX_STREAMS] = { 0 };
  guint8 buf[512];
  gsize len;

  for (guint i = 0; i < viewer->n_streams; i++) {
    KkLoadStream *s = &viewer->streams[i];
    guint64 expected = kk_load_seq_expected (&s->seq);
    guint64 interval_expected = expected - s->rr_expected;
    guint64 interval_received = s->seq.received - s->rr_received;

    blocks[i].ssrc = s->ssrc;
    if (interval_expected > interval_received)
      blocks[i].fraction_lost = (interval_expected - interval_received) * 256
          / interval_expected;
    blocks[i].cumulative_lost = MIN (kk_load_seq_lost (&s->seq), 0x7fffff);
    blocks[i].highest_seq = (guint32) s->seq.highest;
    s->rr_expected = expected;
    s->rr_received = s->seq.received;
  }
  len = kk_rtcp_write_rr (buf, sizeof (buf), viewer->ssrc, blocks,
      viewer->n_streams);
  send_rtcp (viewer, buf, len, sizeof (buf));
}

static void
send_consent_check (KkLoadViewer *viewer)
{
  static const uint16_t known[] = {
    STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, STUN_ATTRIBUTE_PRIORITY,
    STUN_ATTRIBUTE_USE_CANDIDATE, STUN_ATTRIBUTE_ICE_CONTROLLING,
    STUN_ATTRIBUTE_ICE_CONTROLLED, STUN_ATTRIBUTE_FINGERPRINT, 0
  };
  g_autofree char *username = g_strdup_printf ("%s:%s",
      viewer->remote->ice_ufrag, viewer->local_ufrag);
  StunAgent agent;
  StunMessage msg;
  guint8 buf[512];
  gsize len;

  stun_agent_init (&agent, known, STUN_COMPATIBILITY_RFC5389,
      STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
      | STUN_AGENT_USAGE_USE_FINGERPRINT);
  len = stun_usage_ice_conncheck_create (&agent, &msg, buf, sizeof (buf),
      (const uint8_t *) username, strlen (username),
      (const uint8_t *) viewer->remote->ice_pwd,
      strlen (viewer->remote->ice_pwd), FALSE, !viewer->run->janus,
      0x6e7f1eff, g_random_int (), NULL,
      STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  if (len > 0)
    send_datagram (viewer, buf, len);
}

static void
answer_check (KkLoadViewer *viewer, const guint8 *data, gsize len)
{
  guint8 response[512];
  gsize response_len;

  if (viewer->fd < 0)
    return;
  response_len = kk_stun_answer_check (data, len, viewer->local_ufrag,
      viewer->remote->ice_ufrag, viewer->local_pwd,
      (const struct sockaddr *) &viewer->remote_addr,
      viewer->remote_addr_len, response, sizeof (response), NULL, NULL);
  if (response_len > 0)
    send_datagram (viewer, response, response_len);
}

static KkLoadStream *
find_stream (KkLoadViewer *viewer, guint32 ssrc, guint8 pt)
{
  KkLoadStream *stream;
  gboolean video = FALSE;

  for (guint i = 0; i < viewer->n_streams; i++) {
    if (viewer->streams[i].ssrc == ssrc)
      return &viewer->streams[i];
  }
  if (viewer->n_streams == KK_LOAD_MAX_STREAMS
      || kk_load_sdp_codec_for_pt (viewer->remote, pt, &video)
      == KK_LOAD_CODEC_NONE)
    return NULL;
  stream = &viewer->streams[viewer->n_streams++];
  stream->ssrc = ssrc;
  stream->video = video;
  return stream;
}

static void
verify (KkLoadViewer *viewer, KkLoadStream *stream, guint8 *data, gsize len,
    gint64 now)
{
  gssize plain = kk_srtp_unprotect_rtp (viewer->srtp_in, data, len);
  KkRtpHeader header;
  gboolean keyframe = FALSE;

  if (plain < 0 || !kk_rtp_parse (data, plain, &header)) {
    viewer->result.verify_failed++;
    return;
  }
  viewer->result.verified++;
  if (!stream->video)
    return;
  switch (kk_load_sdp_codec_for_pt (viewer->remote, header.payload_type,
          NULL)) {
    case KK_LOAD_CODEC_VP8:
      keyframe = kk_rtp_vp8_is_keyframe_start (header.payload,
          header.payload_len);
      break;
    case KK_LOAD_CODEC_H264:
      keyframe = kk_rtp_h264_is_keyframe_start (header.payload,
          header.payload_len);
      break;
    default:
      break;
  }
  if (keyframe) {
    viewer->result.keyframes++;
    if (viewer->first_keyframe_us == 0)
      viewer->first_keyframe_us = now;
  }
}

void
kk_load_viewer_handle_datagram (KkLoadViewer *viewer, guint8 *data,
    gsize len, gint64 now)
{
  guint16 lost[MAX_NACK];
  guint n_lost = 0;
  KkLoadStream *stream;
  KkLoadSeqResult result;
  guint64 gaps_before;
  guint32 ssrc;

  if (len == 0)
    return;
  if (data[0] < 4) {
    answer_check (viewer, data, len);
    return;
  }
  if (data[0] < 128 || data[0] > 191 || len < KK_RTP_HEADER_LEN
      || kk_rtp_is_rtcp (data, len))
    return;

  /* The header is in the clear: count before (maybe) decrypting. */
  ssrc = GUINT32_FROM_BE (*(const guint32 *) (data + 8));
  stream = find_stream (viewer, ssrc, data[1] & 0x7f);
  if (stream == NULL)
    return;
  if (viewer->first_packet_us == 0)
    viewer->first_packet_us = now;
  gaps_before = stream->seq.gaps;
  result = kk_load_seq_push (&stream->seq, (data[2] << 8) | data[3],
      stream->video ? lost : NULL, &n_lost, MAX_NACK);
  viewer->result.packets++;
  viewer->result.bytes += len;
  kk_load_rx_count (viewer->rx, len, stream->seq.gaps - gaps_before,
      result == KK_LOAD_SEQ_RECOVERED);
  if (n_lost > 0)
    send_nack (viewer, stream, lost, n_lost);
  if (result != KK_LOAD_SEQ_NEW)
    return;
  /* Retransmissions are never decrypted: one older than SRTP's replay
   * window would be refused and look like a forgery. */
  stream->count++;
  if ((stream->video && viewer->first_keyframe_us == 0)
      || stream->count % viewer->run->verify_every == 0)
    verify (viewer, stream, data, len, now);
}

void
kk_load_viewer_media_tick (KkLoadViewer *viewer, gint64 now)
{
  if (now >= viewer->next_report_us) {
    send_report (viewer);
    viewer->next_report_us = now + REPORT_INTERVAL_US;
  }
  if (now >= viewer->next_consent_us) {
    send_consent_check (viewer);
    /* RFC 7675 §5.1: randomised between 4 and 6 s. */
    viewer->next_consent_us = now + g_random_int_range (4000, 6000) * 1000;
  }
}

/* ---- ICE and DTLS ---- */

static gboolean
handoff (gpointer data)
{
  KkLoadViewer *viewer = data;
  g_autoptr (GSocket) socket = NULL;
  NiceCandidate *local = NULL, *remote = NULL;
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&viewer->handoff, g_source_unref);
  socket = nice_agent_get_selected_socket (viewer->agent, viewer->stream_id, 1);
  if (socket == NULL || !nice_agent_get_selected_pair (viewer->agent,
          viewer->stream_id, 1, &local, &remote)) {
    g_warning ("viewer %u: no selected pair after DTLS", viewer->index);
    return G_SOURCE_REMOVE;
  }
  memset (&viewer->remote_addr, 0, sizeof (viewer->remote_addr));
  nice_address_copy_to_sockaddr (&remote->addr,
      (struct sockaddr *) &viewer->remote_addr);
  viewer->remote_addr_len = viewer->remote_addr.ss_family == AF_INET6
      ? sizeof (struct sockaddr_in6) : sizeof (struct sockaddr_in);
  viewer->fd = fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 0);
  if (viewer->fd < 0) {
    g_warning ("viewer %u: dup: %s", viewer->index, g_strerror (errno));
    return G_SOURCE_REMOVE;
  }
  /* The libnice agent goes, and its copy of the socket with it; ours is
   * connected so that the kernel filters out anyone but the server. */
  drop_agent (viewer);
  if (connect (viewer->fd, (struct sockaddr *) &viewer->remote_addr,
          viewer->remote_addr_len) < 0)
    g_warning ("viewer %u: connect: %s", viewer->index, g_strerror (errno));
  g_clear_pointer (&viewer->dtls, kk_dtls_free);
  viewer->next_report_us = now + REPORT_INTERVAL_US;
  viewer->next_consent_us = now + g_random_int_range (4000, 6000) * 1000;
  kk_load_rx_add (viewer->rx, viewer);
  return G_SOURCE_REMOVE;
}

static void
dtls_connected (KkLoadViewer *viewer)
{
  guint8 local_key[KK_SRTP_MAX_KEY_LEN], local_salt[KK_SRTP_MAX_SALT_LEN];
  guint8 remote_key[KK_SRTP_MAX_KEY_LEN], remote_salt[KK_SRTP_MAX_SALT_LEN];
  KkSrtpProfile profile;

  if (!kk_dtls_get_srtp_keys (viewer->dtls, &profile, local_key, local_salt,
          remote_key, remote_salt)) {
    kk_load_viewer_fail (viewer, "DTLS gave no SRTP keys");
    return;
  }
  viewer->srtp_out = kk_srtp_new (profile, local_key, local_salt);
  viewer->srtp_in = kk_srtp_new (profile, remote_key, remote_salt);
  viewer->connected_us = g_get_monotonic_time ();
  viewer->state = KK_LOAD_VIEWER_CONNECTED;
  g_atomic_int_inc (&viewer->run->connected);
  g_atomic_int_inc (&viewer->run->settled);
  /* Not from within libnice's callback, which the agent's end would
   * pull from under us. */
  viewer->handoff = g_idle_source_new ();
  g_source_set_callback (viewer->handoff, handoff, viewer, NULL);
  g_source_attach (viewer->handoff, kk_load_rx_get_context (viewer->rx));
}

static void
dtls_send (const guint8 *data, gsize len, gpointer user_data)
{
  send_datagram (user_data, data, len);
}

static void
handle_dtls_state (KkLoadViewer *viewer, KkDtlsState state,
    const GError *error)
{
  if (state == KK_DTLS_STATE_CONNECTED
      && viewer->state == KK_LOAD_VIEWER_DTLS)
    dtls_connected (viewer);
  else if (state == KK_DTLS_STATE_FAILED || state == KK_DTLS_STATE_CLOSED)
    kk_load_viewer_fail (viewer, "DTLS: %s",
        error != NULL ? error->message : "closed");
}

static void
on_nice_recv (NiceAgent *agent, guint stream_id, guint component_id,
    guint len, gchar *buf, gpointer user_data)
{
  KkLoadViewer *viewer = user_data;
  guint8 first = len > 0 ? (guint8) buf[0] : 0;

  if (len == 0)
    return;
  if (first >= 20 && first <= 63 && viewer->dtls != NULL) {
    g_autoptr (GError) error = NULL;
    KkDtlsState state = kk_dtls_receive (viewer->dtls, (const guint8 *) buf,
        len, &error);

    handle_dtls_state (viewer, state, error);
  } else if (viewer->state == KK_LOAD_VIEWER_CONNECTED && len <= 1500) {
    /* Media that comes before the handoff: the same path. */
    guint8 copy[1500];

    memcpy (copy, buf, len);
    kk_load_viewer_handle_datagram (viewer, copy, len,
        g_get_monotonic_time ());
  }
}

/* The relay starts a viewer with a burst (the cached GOP) as soon as its
 * DTLS is done, before our handoff: the socket must hold it from then.
 * The default buffer (rmem_default, ~200 KiB of skb truesize, some 90
 * full-size packets on loopback) would overflow, and the loss would be
 * the tool's. */
static void
grow_receive_buffer (KkLoadViewer *viewer)
{
  g_autoptr (GSocket) socket = nice_agent_get_selected_socket (viewer->agent,
      viewer->stream_id, 1);
  int size = RCVBUF_BYTES;
  int fd;

  if (socket == NULL)
    return;
  fd = g_socket_get_fd (socket);
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
}

void
kk_load_viewer_start_dtls (KkLoadViewer *viewer)
{
  KkLoadRemoteSdp *remote = viewer->remote;

  viewer->state = KK_LOAD_VIEWER_DTLS;
  viewer->dtls = kk_dtls_new (viewer->run->dtls, FALSE,
      remote->fingerprint_hash, remote->fingerprint,
      remote->fingerprint_len, dtls_send, viewer);
  kk_dtls_set_initial_timeout (viewer->dtls, viewer->run->dtls_timeout_ms);
  kk_dtls_start (viewer->dtls);
}

static void
on_component_state (NiceAgent *agent, guint stream_id, guint component_id,
    guint state, gpointer user_data)
{
  KkLoadViewer *viewer = user_data;

  if ((state == NICE_COMPONENT_STATE_CONNECTED
          || state == NICE_COMPONENT_STATE_READY)
      && viewer->state == KK_LOAD_VIEWER_ICE) {
    grow_receive_buffer (viewer);
    kk_load_viewer_start_dtls (viewer);
  } else if (state == NICE_COMPONENT_STATE_FAILED) {
    kk_load_viewer_fail (viewer, "ICE failed");
  }
}

static gboolean
set_remote (KkLoadViewer *viewer)
{
  KkLoadRemoteSdp *remote = viewer->remote;
  GSList *candidates = NULL;
  int added;

  if (g_strcmp0 (remote->setup, "active") == 0) {
    kk_load_viewer_fail (viewer, "the server wants the DTLS client role");
    return FALSE;
  }
  nice_agent_set_remote_credentials (viewer->agent, viewer->stream_id,
      remote->ice_ufrag, remote->ice_pwd);
  for (guint i = 0; i < remote->candidates->len; i++) {
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp (viewer->agent,
        viewer->stream_id, remote->candidates->pdata[i]);

    if (c != NULL)
      candidates = g_slist_prepend (candidates, c);
  }
  added = candidates != NULL ? nice_agent_set_remote_candidates (
      viewer->agent, viewer->stream_id, 1, candidates) : 0;
  g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);
  if (added <= 0) {
    kk_load_viewer_fail (viewer, "no usable remote candidate");
    return FALSE;
  }
  return TRUE;
}

static void whep_post_offer (KkLoadViewer *viewer, const char *offer);
static void janus_send_answer (KkLoadViewer *viewer, const char *answer);

static void
on_gathering_done (NiceAgent *agent, guint stream_id, gpointer user_data)
{
  KkLoadViewer *viewer = user_data;
  GSList *locals = nice_agent_get_local_candidates (agent, stream_id, 1);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sdp = NULL;

  for (GSList *l = locals; l != NULL; l = l->next)
    g_ptr_array_add (lines, nice_agent_generate_local_candidate_sdp (agent,
            l->data));
  g_ptr_array_add (lines, NULL);
  g_slist_free_full (locals, (GDestroyNotify) nice_candidate_free);
  if (lines->len == 1) {
    kk_load_viewer_fail (viewer, "no local candidate on %s",
        viewer->run->local_ip);
    return;
  }
  if (viewer->run->janus) {
    sdp = kk_load_sdp_build_answer (viewer->remote, viewer->local_ufrag,
        viewer->local_pwd, viewer->run->fingerprint,
        (const char *const *) lines->pdata);
    janus_send_answer (viewer, sdp);
  } else {
    sdp = kk_load_sdp_build_offer (viewer->local_ufrag, viewer->local_pwd,
        viewer->run->fingerprint, (const char *const *) lines->pdata);
    whep_post_offer (viewer, sdp);
  }
}

static void
start_ice (KkLoadViewer *viewer)
{
  KkLoadRun *run = viewer->run;
  NiceAddress address;

  viewer->agent = nice_agent_new_full (kk_load_rx_get_context (viewer->rx),
      NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
  /* We offer to the relay and so control; Janus offers and controls. */
  g_object_set (viewer->agent, "controlling-mode", !run->janus,
      "ice-tcp", FALSE, "upnp", FALSE, NULL);
  viewer->stream_id = nice_agent_add_stream (viewer->agent, 1);
  nice_address_init (&address);
  if (!nice_address_set_from_string (&address, run->local_ip)
      || !nice_agent_add_local_address (viewer->agent, &address)) {
    kk_load_viewer_fail (viewer, "bad local address %s", run->local_ip);
    return;
  }
  nice_agent_get_local_credentials (viewer->agent, viewer->stream_id,
      &viewer->local_ufrag, &viewer->local_pwd);
  g_signal_connect (viewer->agent, "candidate-gathering-done",
      G_CALLBACK (on_gathering_done), viewer);
  g_signal_connect (viewer->agent, "component-state-changed",
      G_CALLBACK (on_component_state), viewer);
  nice_agent_attach_recv (viewer->agent, viewer->stream_id, 1,
      kk_load_rx_get_context (viewer->rx), on_nice_recv, viewer);
  if (viewer->remote != NULL && !set_remote (viewer))
    return;
  if (!nice_agent_gather_candidates (viewer->agent, viewer->stream_id))
    kk_load_viewer_fail (viewer, "libnice cannot gather candidates");
}

/* ---- WHEP ---- */

static void
whep_answered (KkLoadViewer *viewer, SoupMessage *msg, GBytes *body)
{
  g_autoptr (GError) error = NULL;
  const char *location;
  gsize len;
  const char *data;

  if (soup_message_get_status (msg) != SOUP_STATUS_CREATED) {
    g_autofree char *text = body_text (body);

    kk_load_viewer_fail (viewer, "WHEP POST: %u %s",
        soup_message_get_status (msg), text);
    return;
  }
  location = soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "Location");
  if (location != NULL)
    viewer->resource_url = g_uri_resolve_relative (viewer->run->url,
        location, G_URI_FLAGS_NONE, NULL);
  data = g_bytes_get_data (body, &len);
  viewer->remote = kk_load_sdp_parse (data, len, &error);
  if (viewer->remote == NULL) {
    kk_load_viewer_fail (viewer, "answer: %s", error->message);
    return;
  }
  viewer->state = KK_LOAD_VIEWER_ICE;
  set_remote (viewer);
}

static void
whep_post_offer (KkLoadViewer *viewer, const char *offer)
{
  viewer->start_us = g_get_monotonic_time ();
  http (viewer, "POST", viewer->run->url, "application/sdp", offer,
      whep_answered, FALSE);
}

static void
joined (KkLoadViewer *viewer, SoupMessage *msg, GBytes *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (body, &len);
  JsonNode *root;
  const char *token = NULL;

  if (soup_message_get_status (msg) == SOUP_STATUS_CREATED
      && json_parser_load_from_data (parser, data, len, &error)) {
    root = json_parser_get_root (parser);
    if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
      token = json_object_get_string_member_with_default (
          json_node_get_object (root), "token", NULL);
  }
  if (token == NULL) {
    g_autofree char *text = body_text (body);

    kk_load_viewer_fail (viewer, "join: %u %s", soup_message_get_status (msg),
        text);
    return;
  }
  viewer->token = g_strdup (token);
  start_ice (viewer);
}

/* /whep/ROOM -> /api/rooms/ROOM/join, on the same server. */
static char *
join_url (const char *whep_url)
{
  g_autoptr (GUri) uri = g_uri_parse (whep_url, G_URI_FLAGS_NONE, NULL);
  const char *path;
  g_autofree char *room = NULL;
  g_autofree char *new_path = NULL;
  const char *slash;

  if (uri == NULL)
    return NULL;
  path = g_uri_get_path (uri);
  slash = strrchr (path, '/');
  if (slash == NULL || slash[1] == '\0')
    return NULL;
  room = g_strdup (slash + 1);
  new_path = g_strdup_printf ("/api/rooms/%s/join", room);
  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (uri), NULL,
      g_uri_get_host (uri), g_uri_get_port (uri), new_path, NULL, NULL);
}

/* ---- Janus ---- */

static char *
janus_body (const char *janus, const char *request, guint64 mountpoint,
    const char *jsep_sdp)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *transaction = g_strdup_printf ("%08x", g_random_int ());

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "janus");
  json_builder_add_string_value (b, janus);
  json_builder_set_member_name (b, "transaction");
  json_builder_add_string_value (b, transaction);
  if (g_strcmp0 (janus, "attach") == 0) {
    json_builder_set_member_name (b, "plugin");
    json_builder_add_string_value (b, "janus.plugin.streaming");
  }
  if (request != NULL) {
    json_builder_set_member_name (b, "body");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "request");
    json_builder_add_string_value (b, request);
    if (mountpoint != 0) {
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, mountpoint);
    }
    json_builder_end_object (b);
  }
  if (jsep_sdp != NULL) {
    json_builder_set_member_name (b, "jsep");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "answer");
    json_builder_set_member_name (b, "sdp");
    json_builder_add_string_value (b, jsep_sdp);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static char *
janus_handle_url (KkLoadViewer *viewer)
{
  return g_strdup_printf ("%s/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
      viewer->run->url, viewer->run->janus_session, viewer->janus_handle);
}

static void
janus_acked (KkLoadViewer *viewer, SoupMessage *msg, GBytes *body)
{
  g_autoptr (GArray) events = NULL;
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  events = kk_load_janus_parse_events (data, len, NULL);
  if (soup_message_get_status (msg) != SOUP_STATUS_OK || events == NULL
      || events->len == 0) {
    kk_load_viewer_fail (viewer, "Janus: HTTP %u",
        soup_message_get_status (msg));
    return;
  }
  /* A synchronous reply may carry the plugin's answer itself. */
  kk_load_viewer_janus_event (viewer,
      &g_array_index (events, KkLoadJanusEvent, 0));
}

static void
janus_attached (KkLoadViewer *viewer, SoupMessage *msg, GBytes *body)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *request = NULL;
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  if (!kk_load_janus_parse_id (data, len, &viewer->janus_handle, &error)) {
    kk_load_viewer_fail (viewer, "attach: %s", error->message);
    return;
  }
  g_mutex_lock (&viewer->run->janus_lock);
  g_hash_table_insert (viewer->run->janus_handles,
      &viewer->janus_handle, viewer);
  g_mutex_unlock (&viewer->run->janus_lock);
  url = janus_handle_url (viewer);
  request = janus_body ("message", "watch", viewer->run->janus_mountpoint,
      NULL);
  viewer->start_us = g_get_monotonic_time ();
  http (viewer, "POST", url, "application/json", request, janus_acked, FALSE);
}

static void
janus_send_answer (KkLoadViewer *viewer, const char *answer)
{
  g_autofree char *url = janus_handle_url (viewer);
  g_autofree char *request = janus_body ("message", "start", 0, answer);

  http (viewer, "POST", url, "application/json", request, janus_acked, FALSE);
}

void
kk_load_viewer_janus_event (KkLoadViewer *viewer,
    const KkLoadJanusEvent *event)
{
  g_autoptr (GError) error = NULL;

  if (viewer->state == KK_LOAD_VIEWER_FAILED)
    return;
  if (event->error != NULL) {
    kk_load_viewer_fail (viewer, "Janus: %s", event->error);
    return;
  }
  if (g_strcmp0 (event->janus, "hangup") == 0) {
    kk_load_viewer_fail (viewer, "Janus hung up");
    return;
  }
  if (g_strcmp0 (event->jsep_type, "offer") != 0 || viewer->remote != NULL)
    return;
  viewer->remote = kk_load_sdp_parse (event->jsep_sdp,
      strlen (event->jsep_sdp), &error);
  if (viewer->remote == NULL) {
    kk_load_viewer_fail (viewer, "Janus offer: %s", error->message);
    return;
  }
  viewer->state = KK_LOAD_VIEWER_ICE;
  start_ice (viewer);
}

/* ---- the viewer's life ---- */

void
kk_load_viewer_start (KkLoadViewer *viewer)
{
  KkLoadRun *run = viewer->run;

  viewer->state = KK_LOAD_VIEWER_SIGNALLING;
  viewer->created_us = g_get_monotonic_time ();
  viewer->ssrc = g_random_int ();
  if (run->janus) {
    g_autofree char *url = g_strdup_printf ("%s/%" G_GUINT64_FORMAT,
        run->url, run->janus_session);
    g_autofree char *request = janus_body ("attach", NULL, 0, NULL);

    http (viewer, "POST", url, "application/json", request, janus_attached,
        FALSE);
  } else if (run->token != NULL) {
    viewer->token = g_strdup (run->token);
    start_ice (viewer);
  } else {
    g_autofree char *url = join_url (run->url);
    g_autofree char *body = g_strdup_printf ("{\"name\":\"load viewer %u\","
        "\"workplace\":\"kringkast-load\"}", viewer->index + 1);

    if (url == NULL) {
      kk_load_viewer_fail (viewer, "cannot make a join URL from %s", run->url);
      return;
    }
    http (viewer, "POST", url, "application/json", body, joined, FALSE);
  }
}

void
kk_load_viewer_tick (KkLoadViewer *viewer, gint64 now)
{
  switch (viewer->state) {
    case KK_LOAD_VIEWER_SIGNALLING:
    case KK_LOAD_VIEWER_ICE:
    case KK_LOAD_VIEWER_DTLS:
      break;
    default:
      return;
  }
  if (now - viewer->created_us > viewer->run->timeout_s * G_USEC_PER_SEC) {
    kk_load_viewer_fail (viewer, "timed out in %s",
        state_name (viewer->state));
    return;
  }
  if (viewer->dtls != NULL) {
    gint64 timeout = kk_dtls_get_timeout (viewer->dtls);

    /* Against the clock read now, not against @now: a timer that has run
     * out reads as "the time of this call", which is always later than
     * @now, and would never fire. Then a lost first flight (Janus drops a
     * ClientHello that comes before it has started its own handshake)
     * is never sent again. */
    if (timeout != 0 && timeout <= g_get_monotonic_time ()) {
      g_autoptr (GError) error = NULL;
      KkDtlsState state = kk_dtls_handle_timeout (viewer->dtls, &error);

      viewer->result.dtls_retransmits++;
      handle_dtls_state (viewer, state, error);
    }
  }
}

gboolean
kk_load_viewer_leave (KkLoadViewer *viewer)
{
  if (viewer->state != KK_LOAD_VIEWER_CONNECTED || viewer->run->janus
      || viewer->resource_url == NULL)
    return FALSE;
  http (viewer, "DELETE", viewer->resource_url, NULL, NULL, NULL, TRUE);
  return TRUE;
}

static double
ms_since (gint64 start, gint64 t)
{
  return t != 0 && start != 0 ? (t - start) / 1000.0 : -1;
}

static void
finish (KkLoadViewer *viewer)
{
  KkLoadViewerResult *r = &viewer->result;

  r->connected = viewer->state == KK_LOAD_VIEWER_CONNECTED;
  r->connect_ms = ms_since (viewer->start_us, viewer->connected_us);
  r->first_packet_ms = ms_since (viewer->start_us, viewer->first_packet_us);
  r->first_keyframe_ms = ms_since (viewer->start_us,
      viewer->first_keyframe_us);
  r->expected = r->lost = r->gaps = r->nacked = r->recovered_nacked = 0;
  for (guint i = 0; i < viewer->n_streams; i++) {
    const KkLoadSeq *seq = &viewer->streams[i].seq;

    r->expected += kk_load_seq_expected (seq);
    r->lost += kk_load_seq_lost (seq);
    r->gaps += seq->gaps;
    r->nacked += seq->nacked;
    r->recovered_nacked += seq->recovered_nacked;
  }
}

void
kk_load_viewer_close (KkLoadViewer *viewer)
{
  if (viewer->state != KK_LOAD_VIEWER_CONNECTED
      && viewer->state != KK_LOAD_VIEWER_FAILED)
    kk_load_viewer_fail (viewer, "still in %s at the end",
        state_name (viewer->state));
  finish (viewer);
  if (viewer->handoff != NULL) {
    g_source_destroy (viewer->handoff);
    g_clear_pointer (&viewer->handoff, g_source_unref);
  }
  if (viewer->agent != NULL) {
    g_signal_handlers_disconnect_by_data (viewer->agent, viewer);
    g_clear_object (&viewer->agent);
  }
  g_clear_pointer (&viewer->dtls, kk_dtls_free);
  if (viewer->fd >= 0)
    close (viewer->fd);
  viewer->fd = -1;
}

void
kk_load_viewer_clear (KkLoadViewer *viewer)
{
  g_clear_pointer (&viewer->srtp_in, kk_srtp_free);
  g_clear_pointer (&viewer->srtp_out, kk_srtp_free);
  g_clear_pointer (&viewer->token, g_free);
  g_clear_pointer (&viewer->resource_url, g_free);
  g_clear_pointer (&viewer->local_ufrag, g_free);
  g_clear_pointer (&viewer->local_pwd, g_free);
  g_clear_pointer (&viewer->remote, kk_load_remote_sdp_free);
  kk_load_viewer_result_clear (&viewer->result);
}
