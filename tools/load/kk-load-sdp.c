/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-sdp: the load tool's side of the offer/answer.
 *
 * The relay's kk-sdp is written for the server's side, so the viewer's
 * offer (WHEP) and answer (Janus, which offers first) are built here as
 * text, shaped like a browser's recvonly description: BUNDLE, rtcp-mux,
 * NACK and PLI feedback, one fingerprint, the candidates libnice gathered.
 * The server's description is read with GstSDPMessage and reduced to what
 * a viewer needs: ICE credentials, candidates, the DTLS fingerprint and
 * role, and which payload type carries which codec.
 */
#include "kk-load.h"

#include <kringkast/kk-dtls.h>
#include <gst/sdp/sdp.h>
#include <string.h>

G_DEFINE_QUARK (kk-load-error-quark, kk_load_error)

void
kk_load_remote_sdp_free (KkLoadRemoteSdp *sdp)
{
  if (sdp == NULL)
    return;
  g_free (sdp->ice_ufrag);
  g_free (sdp->ice_pwd);
  g_free (sdp->fingerprint_hash);
  g_free (sdp->setup);
  g_clear_pointer (&sdp->candidates, g_ptr_array_unref);
  g_free (sdp);
}

static KkLoadCodec
codec_from_rtpmap (const char *rtpmap, guint8 *pt)
{
  g_auto (GStrv) parts = NULL;
  char *end;
  guint64 value;

  /* "96 VP8/90000" */
  parts = g_strsplit (rtpmap, " ", 2);
  if (parts[0] == NULL || parts[1] == NULL)
    return KK_LOAD_CODEC_NONE;
  value = g_ascii_strtoull (parts[0], &end, 10);
  if (end == parts[0] || *end != '\0' || value > 127)
    return KK_LOAD_CODEC_NONE;
  *pt = value;
  if (g_ascii_strncasecmp (parts[1], "opus/", 5) == 0)
    return KK_LOAD_CODEC_OPUS;
  if (g_ascii_strncasecmp (parts[1], "VP8/", 4) == 0)
    return KK_LOAD_CODEC_VP8;
  if (g_ascii_strncasecmp (parts[1], "H264/", 5) == 0)
    return KK_LOAD_CODEC_H264;
  return KK_LOAD_CODEC_NONE;
}

/* A media-level attribute, else the session-level one. */
static const char *
attribute (const GstSDPMessage *msg, const GstSDPMedia *media,
    const char *key)
{
  const char *value = gst_sdp_media_get_attribute_val (media, key);

  return value != NULL ? value : gst_sdp_message_get_attribute_val (msg, key);
}

static gboolean
take_fingerprint (KkLoadRemoteSdp *sdp, const char *value)
{
  g_auto (GStrv) parts = NULL;

  parts = g_strsplit (value, " ", 2);
  if (parts[0] == NULL || parts[1] == NULL)
    return FALSE;
  if (!kk_dtls_parse_fingerprint (parts[1], sdp->fingerprint,
          sizeof (sdp->fingerprint), &sdp->fingerprint_len))
    return FALSE;
  sdp->fingerprint_hash = g_ascii_strdown (parts[0], -1);
  return TRUE;
}

KkLoadRemoteSdp *
kk_load_sdp_parse (const char *text, gsize len, GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;
  g_autoptr (KkLoadRemoteSdp) sdp = g_new0 (KkLoadRemoteSdp, 1);

  sdp->candidates = g_ptr_array_new_with_free_func (g_free);
  if (len == 0 || gst_sdp_message_new (&msg) != GST_SDP_OK
      || gst_sdp_message_parse_buffer ((const guint8 *) text, len, msg)
      != GST_SDP_OK) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_SDP, "unparsable SDP");
    return NULL;
  }
  sdp->ice_lite = gst_sdp_message_get_attribute_val (msg, "ice-lite") != NULL;

  for (guint i = 0; i < gst_sdp_message_medias_len (msg); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (msg, i);
    const char *kind = gst_sdp_media_get_media (media);
    const char *value;
    KkLoadMedia *m;

    if (g_strcmp0 (kind, "audio") != 0 && g_strcmp0 (kind, "video") != 0)
      continue;
    if (gst_sdp_media_get_port (media) == 0
        || sdp->n_media == KK_LOAD_MAX_MEDIA)
      continue;
    m = &sdp->media[sdp->n_media];
    m->video = g_strcmp0 (kind, "video") == 0;
    value = gst_sdp_media_get_attribute_val (media, "mid");
    g_strlcpy (m->mid, value != NULL ? value : "", sizeof (m->mid));
    for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
      KkLoadCodec codec;
      guint8 pt;

      if (g_strcmp0 (attr->key, "rtpmap") == 0 && attr->value != NULL
          && m->n_codecs < KK_LOAD_MAX_CODECS) {
        codec = codec_from_rtpmap (attr->value, &pt);
        if (codec == KK_LOAD_CODEC_NONE
            || (codec == KK_LOAD_CODEC_OPUS) == m->video)
          continue;
        m->codecs[m->n_codecs].pt = pt;
        m->codecs[m->n_codecs].codec = codec;
        m->n_codecs++;
      } else if (g_strcmp0 (attr->key, "candidate") == 0
          && attr->value != NULL) {
        g_auto (GStrv) fields = g_strsplit (attr->value, " ", 4);

        if (g_strv_length (fields) >= 3
            && g_ascii_strcasecmp (fields[2], "udp") == 0)
          g_ptr_array_add (sdp->candidates,
              g_strdup_printf ("a=candidate:%s", attr->value));
      }
    }
    if (m->n_codecs == 0)
      continue;
    /* With BUNDLE every m-line carries the same transport: take the
     * first one's. */
    if (sdp->ice_ufrag == NULL) {
      const char *ufrag = attribute (msg, media, "ice-ufrag");
      const char *pwd = attribute (msg, media, "ice-pwd");
      const char *fingerprint = attribute (msg, media, "fingerprint");
      const char *setup = attribute (msg, media, "setup");

      if (ufrag == NULL || pwd == NULL) {
        g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_SDP,
            "no ICE credentials");
        return NULL;
      }
      if (fingerprint == NULL || !take_fingerprint (sdp, fingerprint)) {
        g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_SDP,
            "no usable a=fingerprint");
        return NULL;
      }
      sdp->ice_ufrag = g_strdup (ufrag);
      sdp->ice_pwd = g_strdup (pwd);
      sdp->setup = g_strdup (setup != NULL ? setup : "actpass");
    }
    sdp->n_media++;
  }
  if (sdp->n_media == 0) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_SDP,
        "no m-line with Opus, VP8 or H.264");
    return NULL;
  }
  return g_steal_pointer (&sdp);
}

KkLoadCodec
kk_load_sdp_codec_for_pt (const KkLoadRemoteSdp *sdp, guint8 pt,
    gboolean *video)
{
  for (guint i = 0; i < sdp->n_media; i++) {
    for (guint c = 0; c < sdp->media[i].n_codecs; c++) {
      if (sdp->media[i].codecs[c].pt == pt) {
        if (video != NULL)
          *video = sdp->media[i].video;
        return sdp->media[i].codecs[c].codec;
      }
    }
  }
  return KK_LOAD_CODEC_NONE;
}

static void
append_codec (GString *s, guint8 pt, KkLoadCodec codec)
{
  switch (codec) {
    case KK_LOAD_CODEC_OPUS:
      g_string_append_printf (s, "a=rtpmap:%u opus/48000/2\r\n"
          "a=fmtp:%u minptime=10;useinbandfec=1\r\n", pt, pt);
      break;
    case KK_LOAD_CODEC_VP8:
      g_string_append_printf (s, "a=rtpmap:%u VP8/90000\r\n", pt);
      break;
    case KK_LOAD_CODEC_H264:
      g_string_append_printf (s, "a=rtpmap:%u H264/90000\r\n"
          "a=fmtp:%u level-asymmetry-allowed=1;packetization-mode=1;"
          "profile-level-id=42e01f\r\n", pt, pt);
      break;
    case KK_LOAD_CODEC_NONE:
    default:
      return;
  }
  if (codec != KK_LOAD_CODEC_OPUS)
    g_string_append_printf (s, "a=rtcp-fb:%u nack\r\n"
        "a=rtcp-fb:%u nack pli\r\n", pt, pt);
}

static char *
build (const KkLoadMedia *media, guint n_media, const char *ufrag,
    const char *pwd, const char *fingerprint, const char *setup,
    const char *const *candidates)
{
  GString *s = g_string_new (NULL);
  guint i;

  g_string_append_printf (s, "v=0\r\no=- %" G_GUINT64_FORMAT
      " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE",
      (guint64) g_random_int ());
  for (i = 0; i < n_media; i++)
    g_string_append_printf (s, " %s", media[i].mid);
  g_string_append (s, "\r\na=msid-semantic: WMS\r\n");
  for (i = 0; i < n_media; i++) {
    const KkLoadMedia *m = &media[i];

    g_string_append_printf (s, "m=%s 9 UDP/TLS/RTP/SAVPF",
        m->video ? "video" : "audio");
    for (guint c = 0; c < m->n_codecs; c++)
      g_string_append_printf (s, " %u", m->codecs[c].pt);
    g_string_append_printf (s, "\r\nc=IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
        "a=fingerprint:%s\r\na=setup:%s\r\na=mid:%s\r\n"
        "a=recvonly\r\na=rtcp-mux\r\n",
        ufrag, pwd, fingerprint, setup, m->mid);
    for (guint c = 0; c < m->n_codecs; c++)
      append_codec (s, m->codecs[c].pt, m->codecs[c].codec);
    for (guint c = 0; candidates != NULL && candidates[c] != NULL; c++)
      g_string_append_printf (s, "%s\r\n", candidates[c]);
    if (candidates != NULL)
      g_string_append (s, "a=end-of-candidates\r\n");
  }
  return g_string_free (s, FALSE);
}

char *
kk_load_sdp_build_offer (const char *ufrag, const char *pwd,
    const char *fingerprint, const char *const *candidates)
{
  KkLoadMedia media[2] = { 0 };

  strcpy (media[0].mid, "0");
  media[0].n_codecs = 1;
  media[0].codecs[0].pt = 111;
  media[0].codecs[0].codec = KK_LOAD_CODEC_OPUS;
  strcpy (media[1].mid, "1");
  media[1].video = TRUE;
  media[1].n_codecs = 2;
  media[1].codecs[0].pt = 96;
  media[1].codecs[0].codec = KK_LOAD_CODEC_VP8;
  media[1].codecs[1].pt = 102;
  media[1].codecs[1].codec = KK_LOAD_CODEC_H264;
  return build (media, 2, ufrag, pwd, fingerprint, "actpass", candidates);
}

char *
kk_load_sdp_build_answer (const KkLoadRemoteSdp *offer, const char *ufrag,
    const char *pwd, const char *fingerprint, const char *const *candidates)
{
  KkLoadMedia media[KK_LOAD_MAX_MEDIA];

  for (guint i = 0; i < offer->n_media; i++) {
    media[i] = offer->media[i];
    media[i].n_codecs = 1;
  }
  return build (media, offer->n_media, ufrag, pwd, fingerprint, "active",
      candidates);
}
