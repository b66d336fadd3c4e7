/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ingest-webrtc: a WHIP publisher, terminated by one webrtcbin per live
 * room (the publisher side is where a full WebRTC stack earns its cost:
 * jitter buffer, NACK/RTX towards the host, RTCP, lip-sync).
 *
 * The offer is trimmed before webrtcbin sees it to the codecs viewers can
 * take as they are (VP8, H.264 packetization-mode 1, Opus, and their RTX),
 * so the host's browser cannot pick one the relay would have to transcode.
 * The answer is returned complete (every candidate gathered), which every
 * WHIP client accepts; trickled candidates from the client still arrive
 * through PATCH.
 */
#include "kk-ingest-private.h"

#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>
#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (kk_ingest_debug);
#define GST_CAT_DEFAULT kk_ingest_debug

/* Host candidates gather in milliseconds; this only bounds a broken agent. */
#define GATHER_TIMEOUT_MS 3000

/* ---- trimming the offer ---- */

/* The value of "a=@name:@pt ..." for payload type @pt, or NULL. */
static const char *
attribute_for_pt (const GstSDPMedia *media, const char *name, const char *pt)
{
  gsize pt_len = strlen (pt);

  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);

    if (g_strcmp0 (attr->key, name) == 0 && attr->value != NULL
        && strncmp (attr->value, pt, pt_len) == 0 && attr->value[pt_len] == ' ')
      return attr->value + pt_len + 1;
  }
  return NULL;
}

static gboolean
codec_usable (const GstSDPMedia *media, const char *pt)
{
  const char *rtpmap = attribute_for_pt (media, "rtpmap", pt);
  const char *fmtp = attribute_for_pt (media, "fmtp", pt);

  if (rtpmap == NULL)
    return FALSE;
  if (g_ascii_strncasecmp (rtpmap, "VP8/90000", 9) == 0)
    return TRUE;
  if (g_ascii_strncasecmp (rtpmap, "opus/48000", 10) == 0)
    return TRUE;
  if (g_ascii_strncasecmp (rtpmap, "H264/90000", 10) == 0)
    return fmtp != NULL && strstr (fmtp, "packetization-mode=1") != NULL;
  return FALSE;
}

static void
trim_media (GstSDPMedia *media)
{
  g_autoptr (GHashTable) keep = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);

  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const char *pt = gst_sdp_media_get_format (media, i);

    if (codec_usable (media, pt))
      g_hash_table_add (keep, g_strdup (pt));
  }
  /* RTX streams of kept codecs stay, so lost packets can be repaired. */
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const char *pt = gst_sdp_media_get_format (media, i);
    const char *rtpmap = attribute_for_pt (media, "rtpmap", pt);
    const char *fmtp = attribute_for_pt (media, "fmtp", pt);

    if (rtpmap != NULL && g_ascii_strncasecmp (rtpmap, "rtx/", 4) == 0
        && fmtp != NULL && g_str_has_prefix (fmtp, "apt=")
        && g_hash_table_contains (keep, fmtp + 4))
      g_hash_table_add (keep, g_strdup (pt));
  }

  for (guint i = gst_sdp_media_formats_len (media); i-- > 0;)
    if (!g_hash_table_contains (keep, gst_sdp_media_get_format (media, i)))
      gst_sdp_media_remove_format (media, i);

  for (guint i = gst_sdp_media_attributes_len (media); i-- > 0;) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
    g_autofree char *pt = NULL;

    if (attr->value == NULL || (g_strcmp0 (attr->key, "rtpmap") != 0
            && g_strcmp0 (attr->key, "fmtp") != 0
            && g_strcmp0 (attr->key, "rtcp-fb") != 0))
      continue;
    pt = g_strndup (attr->value, strcspn (attr->value, " "));
    if (g_strcmp0 (pt, "*") != 0 && !g_hash_table_contains (keep, pt))
      gst_sdp_media_remove_attribute (media, i);
  }
}

/* Session-level attributes that may stand for every m-line (RFC 8839,
 * RFC 8842), which webrtcbin 1.22 only looks for in the m-line: OBS's
 * WHIP output (libdatachannel) puts them at session level. */
static const char *const session_defaults[] = {
  "setup", "fingerprint", "ice-ufrag", "ice-pwd",
};

static void
copy_session_defaults (const GstSDPMessage *offer, GstSDPMedia *media)
{
  for (guint i = 0; i < G_N_ELEMENTS (session_defaults); i++) {
    const char *key = session_defaults[i];
    const char *value = gst_sdp_message_get_attribute_val (offer, key);

    if (value != NULL && gst_sdp_media_get_attribute_val (media, key) == NULL)
      gst_sdp_media_add_attribute (media, key, value);
  }
}

static GstSDPMessage *
trim_offer (const GstSDPMessage *offer)
{
  GstSDPMessage *copy;

  gst_sdp_message_copy (offer, &copy);
  for (guint i = 0; i < gst_sdp_message_medias_len (copy); i++) {
    GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (copy, i);
    const char *kind = gst_sdp_media_get_media (media);

    if (g_strcmp0 (kind, "audio") == 0 || g_strcmp0 (kind, "video") == 0) {
      trim_media (media);
      kk_sdp_media_drop_simulcast (media);
      copy_session_defaults (copy, media);
    }
  }
  return copy;
}

/* ---- answering ---- */

static void
deliver_answer (KkIngest *ingest)
{
  g_autofree char *text = NULL;
  g_autofree char *message = NULL;
  g_autoptr (GError) error = NULL;

  g_mutex_lock (&ingest->lock);
  text = g_steal_pointer (&ingest->answer_text);
  message = g_steal_pointer (&ingest->answer_error);
  g_mutex_unlock (&ingest->lock);

  if (ingest->gather_timeout != 0) {
    GSource *source = g_main_context_find_source_by_id (ingest->main_context,
        ingest->gather_timeout);

    if (source != NULL)
      g_source_destroy (source);
    ingest->gather_timeout = 0;
  }
  if (ingest->answered == NULL)
    return;
  if (text == NULL)
    error = g_error_new (KK_INGEST_ERROR, KK_INGEST_ERROR_NEGOTIATION,
        "%s", message ? message : "no answer");
  ingest->answered (ingest, text, error, ingest->answered_data);
  ingest->answered = NULL;
}

/* Any thread; the first call wins. */
static void
finish_answer (KkIngest *ingest, const char *error_message)
{
  if (!g_atomic_int_compare_and_exchange (&ingest->answer_sent, 0, 1))
    return;

  g_mutex_lock (&ingest->lock);
  if (error_message != NULL) {
    ingest->answer_error = g_strdup (error_message);
  } else {
    GstWebRTCSessionDescription *local = NULL;

    g_object_get (ingest->webrtc, "local-description", &local, NULL);
    if (local != NULL) {
      ingest->answer_text = gst_sdp_message_as_text (local->sdp);
      gst_webrtc_session_description_free (local);
    } else {
      ingest->answer_error = g_strdup ("webrtcbin has no local description");
    }
  }
  g_mutex_unlock (&ingest->lock);
  kk_ingest_invoke (ingest, deliver_answer);
}

/* Any thread. The answer goes out once webrtcbin has set it locally and
 * has gathered its candidates or run out of time for them, in whichever
 * order: on a busy machine setting the answer can outlast the gathering
 * timeout, and answering before it is set would fail the publish. */
static void
answer_when_ready (KkIngest *ingest)
{
  if (g_atomic_int_get (&ingest->local_set)
      && g_atomic_int_get (&ingest->gather_done))
    finish_answer (ingest, NULL);
}

static gboolean
on_gather_timeout (gpointer user_data)
{
  KkIngest *ingest = user_data;

  ingest->gather_timeout = 0;
  GST_WARNING ("source %s: ICE gathering incomplete, answering anyway",
      ingest->name);
  g_atomic_int_set (&ingest->gather_done, 1);
  answer_when_ready (ingest);
  return G_SOURCE_REMOVE;
}

static void
on_gathering_state (GstElement *webrtc, GParamSpec *pspec, gpointer user_data)
{
  KkIngest *ingest = user_data;
  GstWebRTCICEGatheringState state;

  g_object_get (webrtc, "ice-gathering-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) {
    g_atomic_int_set (&ingest->gather_done, 1);
    answer_when_ready (ingest);
  }
}

static const char *
reply_error (GstPromise *promise)
{
  const GstStructure *reply;
  GError *error = NULL;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return "webrtcbin did not reply";
  reply = gst_promise_get_reply (promise);
  if (reply != NULL && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL);
    /* The message lives in the reply; the copy we got is freed here. */
    if (error != NULL) {
      GST_WARNING ("webrtcbin: %s", error->message);
      g_error_free (error);
    }
    return "webrtcbin refused the offer";
  }
  return NULL;
}

/* On webrtcbin's thread. Its reply also takes the error structure that
 * webrtcbin 1.22, closed meanwhile (the host gone), leaks when
 * set-local-description was given no promise. */
static void
on_local_set (GstPromise *promise, gpointer user_data)
{
  KkIngest *ingest = user_data;

  if (reply_error (promise) != NULL) {
    finish_answer (ingest, "webrtcbin could not set the answer");
    return;
  }
  g_atomic_int_set (&ingest->local_set, 1);
  answer_when_ready (ingest);
}

static void
on_answer_created (GstPromise *promise, gpointer user_data)
{
  KkIngest *ingest = user_data;
  GstWebRTCSessionDescription *answer = NULL;
  const char *error = reply_error (promise);
  GstPromise *set_promise;

  if (error == NULL) {
    gst_structure_get (gst_promise_get_reply (promise), "answer",
        GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
    if (answer == NULL)
      error = "webrtcbin made no answer";
  }
  gst_promise_unref (promise);
  if (error != NULL) {
    finish_answer (ingest, error);
    return;
  }
  set_promise = gst_promise_new_with_change_func (on_local_set,
      kk_ingest_ref (ingest), (GDestroyNotify) kk_ingest_unref);
  g_signal_emit_by_name (ingest->webrtc, "set-local-description", answer,
      set_promise);
  gst_promise_unref (set_promise);
  gst_webrtc_session_description_free (answer);
}

static void
on_offer_set (GstPromise *promise, gpointer user_data)
{
  KkIngest *ingest = user_data;
  const char *error = reply_error (promise);

  gst_promise_unref (promise);
  if (error != NULL) {
    finish_answer (ingest, error);
    return;
  }
  promise = gst_promise_new_with_change_func (on_answer_created,
      kk_ingest_ref (ingest), (GDestroyNotify) kk_ingest_unref);
  g_signal_emit_by_name (ingest->webrtc, "create-answer", NULL, promise);
}

/* ---- media and connection ---- */

static void
on_pad_added (GstElement *webrtc, GstPad *pad, gpointer user_data)
{
  KkIngest *ingest = user_data;
  g_autoptr (GstCaps) caps = NULL;
  const char *media;
  GstElement *sink;
  g_autoptr (GstPad) sink_pad = NULL;
  KkTrackKind kind;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  media = gst_structure_get_string (gst_caps_get_structure (caps, 0), "media");
  if (g_strcmp0 (media, "video") == 0)
    kind = KK_TRACK_VIDEO;
  else if (g_strcmp0 (media, "audio") == 0)
    kind = KK_TRACK_AUDIO;
  else
    return;

  GST_INFO ("source %s: %s stream from the publisher", ingest->name, media);
  sink = gst_element_factory_make ("appsink", NULL);
  kk_ingest_attach_sink (ingest, sink, kind);
  gst_bin_add (GST_BIN (ingest->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  sink_pad = gst_element_get_static_pad (sink, "sink");
  if (gst_pad_link (pad, sink_pad) != GST_PAD_LINK_OK)
    GST_WARNING ("source %s: cannot link the %s stream", ingest->name, media);
}

#define TWCC_URI \
  "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

/* Keeps what the answer should carry: codec fields, fmtp parameters,
 * rtcp-fb, and of the header extensions only transport-wide CC. The "a-*"
 * fields are SDP attributes (candidates, ICE, ...) that are no codec's. */
static gboolean
keep_preference_field (GQuark field, GValue *value, gpointer user_data)
{
  const char *name = g_quark_to_string (field);

  if (g_str_has_prefix (name, "a-"))
    return FALSE;
  if (g_str_has_prefix (name, "extmap-"))
    return G_VALUE_HOLDS_STRING (value)
        && g_strcmp0 (g_value_get_string (value), TWCC_URI) == 0;
  return TRUE;
}

/* The host's first usable codec on this m-line, with its RTX, as
 * webrtcbin codec preferences. Without preferences webrtcbin answers no
 * header extensions, and without the transport-wide CC extension the
 * host's browser gets no congestion feedback and never raises its
 * bitrate above the start value. */
static GstCaps *
preferences_from_offer (const GstSDPMedia *media)
{
  GstCaps *preferences = gst_caps_new_empty ();
  const char *chosen = NULL;

  for (guint i = 0; i < gst_sdp_media_formats_len (media) && !chosen; i++) {
    const char *pt = gst_sdp_media_get_format (media, i);

    if (codec_usable (media, pt))
      chosen = pt;
  }
  if (chosen == NULL)
    return preferences;

  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const char *pt = gst_sdp_media_get_format (media, i);
    const char *fmtp = attribute_for_pt (media, "fmtp", pt);
    GstCaps *caps;

    if (g_strcmp0 (pt, chosen) != 0 && !(fmtp != NULL
            && g_str_has_prefix (fmtp, "apt=")
            && g_strcmp0 (fmtp + 4, chosen) == 0))
      continue;
    caps = gst_sdp_media_get_caps_from_media (media, atoi (pt));
    if (caps == NULL)
      continue;
    caps = gst_caps_make_writable (caps);
    gst_sdp_media_attributes_to_caps (media, caps);
    for (guint j = 0; j < gst_caps_get_size (caps); j++) {
      GstStructure *s = gst_caps_get_structure (caps, j);

      gst_structure_set_name (s, "application/x-rtp");
      gst_structure_filter_and_map_in_place (s, keep_preference_field, NULL);
    }
    gst_caps_append (preferences, caps);
  }
  return preferences;
}

static void
on_new_transceiver (GstElement *webrtc, GstWebRTCRTPTransceiver *transceiver,
    gpointer user_data)
{
  KkIngest *ingest = user_data;
  guint mline = G_MAXUINT;

  /* NACK towards the host, so losses on its uplink are repaired before
   * the packets reach hundreds of viewers. */
  g_object_set (transceiver, "do-nack", TRUE, NULL);

  g_object_get (transceiver, "mlineindex", &mline, NULL);
  if (mline < gst_sdp_message_medias_len (ingest->offer)) {
    g_autoptr (GstCaps) preferences =
        preferences_from_offer (gst_sdp_message_get_media (ingest->offer, mline));

    if (!gst_caps_is_empty (preferences))
      g_object_set (transceiver, "codec-preferences", preferences, NULL);
  }
}

static void
on_ice_connection_state (GstElement *webrtc, GParamSpec *pspec,
    gpointer user_data)
{
  KkIngest *ingest = user_data;
  GstWebRTCICEConnectionState state;

  g_object_get (webrtc, "ice-connection-state", &state, NULL);
  GST_DEBUG ("source %s: ICE connection state %d", ingest->name, state);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    kk_ingest_stop_later (ingest, "ICE failed");
  else if (state == GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED)
    kk_ingest_stop_later (ingest, "ICE closed");
}

/* TRUE if @address belongs to this host (a socket can be bound to it). */
static gboolean
is_local_address (const char *address)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr (GSocketAddress) sockaddr = NULL;
  g_autoptr (GSocket) socket = NULL;

  if (inet == NULL)
    return FALSE;
  socket = g_socket_new (g_inet_address_get_family (inet),
      G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (socket == NULL)
    return FALSE;
  sockaddr = g_inet_socket_address_new (inet, 0);
  return g_socket_bind (socket, sockaddr, FALSE, NULL);
}

/* libnice leaves loopback out when it picks addresses itself, so a relay
 * whose only address is loopback (a test in a network namespace, a laptop
 * offline) would answer with no candidates. When the media port's
 * candidate addresses are this host's own, the publisher's side uses
 * exactly those; a --public-ip of a NAT in front of us is not ours, and
 * then libnice chooses as usual. */
static void
add_local_addresses (KkIngest *ingest, const char *const *addresses)
{
  g_autoptr (GstWebRTCICE) ice = NULL;
  g_autoptr (GObject) agent = NULL;

  if (addresses == NULL)
    return;
  for (guint i = 0; addresses[i] != NULL; i++)
    if (!is_local_address (addresses[i]))
      return;
  g_object_get (ingest->webrtc, "ice-agent", &ice, NULL);
  if (ice == NULL || g_object_class_find_property (G_OBJECT_GET_CLASS (ice),
          "agent") == NULL)
    return;
  g_object_get (ice, "agent", &agent, NULL);
  if (agent == NULL)
    return;
  for (guint i = 0; addresses[i] != NULL; i++) {
    NiceAddress address;

    nice_address_init (&address);
    if (nice_address_set_from_string (&address, addresses[i]))
      nice_agent_add_local_address (NICE_AGENT (agent), &address);
  }
}

KkIngest *
kk_ingest_new_webrtc (const char *name, GstSDPMessage *offer,
    const KkWebrtcIngestConfig *config, KkFeed *feed,
    const KkIngestCallbacks *callbacks, gpointer user_data,
    KkIngestAnswerFunc answered, gpointer answered_data)
{
  KkIngest *ingest = kk_ingest_alloc (name, feed, callbacks, user_data);
  GstWebRTCSessionDescription *description;
  GstSDPMessage *trimmed;
  GstPromise *promise;
  GSource *source;

  ingest->answered = answered;
  ingest->answered_data = answered_data;
  ingest->pipeline = gst_pipeline_new (name);
  ingest->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  if (ingest->webrtc == NULL) {
    finish_answer (ingest, "webrtcbin is not installed");
    return ingest;
  }
  gst_object_ref_sink (ingest->webrtc);
  g_object_set (ingest->webrtc,
      "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE,
      "latency", config->latency_ms, NULL);
  gst_bin_add (GST_BIN (ingest->pipeline), ingest->webrtc);

  g_signal_connect (ingest->webrtc, "pad-added", G_CALLBACK (on_pad_added),
      ingest);
  g_signal_connect (ingest->webrtc, "on-new-transceiver",
      G_CALLBACK (on_new_transceiver), ingest);
  g_signal_connect (ingest->webrtc, "notify::ice-gathering-state",
      G_CALLBACK (on_gathering_state), ingest);
  g_signal_connect (ingest->webrtc, "notify::ice-connection-state",
      G_CALLBACK (on_ice_connection_state), ingest);
  add_local_addresses (ingest, config->local_addresses);

  kk_ingest_watch (ingest);
  gst_element_set_state (ingest->pipeline, GST_STATE_PLAYING);

  source = g_timeout_source_new (GATHER_TIMEOUT_MS);
  g_source_set_callback (source, on_gather_timeout, ingest, NULL);
  ingest->gather_timeout = g_source_attach (source, ingest->main_context);
  g_source_unref (source);

  ingest->offer = trim_offer (offer);
  gst_sdp_message_copy (ingest->offer, &trimmed);
  description = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER,
      trimmed);
  promise = gst_promise_new_with_change_func (on_offer_set,
      kk_ingest_ref (ingest), (GDestroyNotify) kk_ingest_unref);
  g_signal_emit_by_name (ingest->webrtc, "set-remote-description", description,
      promise);
  gst_webrtc_session_description_free (description);
  return ingest;
}
