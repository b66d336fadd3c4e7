/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-sdp: every body a WHEP or WHIP client can send goes
 * through all three parsers. A viewer offer that parses is answered (with
 * both video codecs, and with each alone, from an IPv4 and an IPv6
 * address), and the answer must parse back with as many m-lines as the
 * offer. Any GLib critical or warning aborts, so a precondition failure
 * inside GStreamer counts as a crash.
 */

#include "kringkast/kk-sdp.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
answer (const KkViewerOffer *offer, gboolean vp8, gboolean h264)
{
  static const KkSdpAddress addresses[] = {
    { "192.0.2.1", 40000 }, { "2001:db8::1", 40000 },
  };
  KkAnswerParams params = {
    .ice_ufrag = "fzuf",
    .ice_pwd = "fuzzfuzzfuzzfuzzfuzzfu",
    .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
    .setup = KK_DTLS_SETUP_PASSIVE,
    .addresses = addresses,
    .n_addresses = G_N_ELEMENTS (addresses),
    .audio_ssrc = 1111,
    .video_ssrc = 2222,
    .cname = "fuzz",
    .stream_id = "fuzz",
    .offer_vp8 = vp8,
    .offer_h264 = h264,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) back = NULL;
  g_autofree char *text = NULL;
  gint audio = -2, video = -2;

  text = kk_sdp_build_viewer_answer (offer, &params, &audio, &video, &error);
  if (audio < -1 || video < -1 || audio >= (gint) offer->n_media ||
      video >= (gint) offer->n_media)
    abort ();
  if (text == NULL) {
    if (error == NULL || audio >= 0 || video >= 0)
      abort ();
    return;
  }
  if (gst_sdp_message_new_from_text (text, &back) != GST_SDP_OK ||
      gst_sdp_message_medias_len (back) != offer->n_media)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  g_autoptr (KkViewerOffer) offer = NULL;
  g_autoptr (GstSDPMessage) publisher = NULL;
  g_autoptr (KkTrickleFragment) fragment = NULL;
  GError *error = NULL;

  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  offer = kk_sdp_parse_viewer_offer (text, size, &error);
  if ((offer == NULL) != (error != NULL))
    abort ();
  g_clear_error (&error);
  if (offer != NULL) {
    if (offer->n_media == 0 || offer->n_media > KK_SDP_MAX_MEDIA ||
        offer->ice_ufrag == NULL || offer->fingerprint_len == 0)
      abort ();
    answer (offer, TRUE, TRUE);
    answer (offer, TRUE, FALSE);
    answer (offer, FALSE, TRUE);
  }

  publisher = kk_sdp_check_publisher_offer (text, size, &error);
  if ((publisher == NULL) != (error != NULL))
    abort ();
  g_clear_error (&error);
  /* What the ingest does to each accepted offer's m-lines. */
  for (guint i = 0; publisher != NULL && i < gst_sdp_message_medias_len (publisher); i++) {
    GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (publisher, i);

    kk_sdp_media_drop_simulcast (media);
    if (kk_sdp_media_drop_simulcast (media))
      abort ();
  }

  fragment = kk_sdp_parse_trickle_fragment (text, size, &error);
  if ((fragment == NULL) != (error != NULL))
    abort ();
  g_clear_error (&error);
  if (fragment != NULL && fragment->candidates->len > 0 &&
      ((KkTrickleCandidate *) fragment->candidates->pdata[0])->candidate == NULL)
    abort ();
  return 0;
}
