/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kringkast-load's own parsing and reporting (tools/load/):
 * sequence tracking (loss, NACK lists, recovery, wrap-around), the SDP it
 * writes (checked with the relay's own offer parser and with GstSDP) and
 * the SDP it reads (a real answer captured from kringkast, a Janus-style
 * offer), Janus API replies, /proc parsing, percentiles, the JSON report
 * and the summary; and the viewer's own machinery: its DTLS retransmission
 * timer, and a viewer thread receiving real SRTP over loopback (batched
 * reads, kernel arrival times, NACK and recovery, the leave count).
 */
#include "kk-load-private.h"

#include <kringkast/kk-rtp.h>
#include <kringkast/kk-sdp.h>
#include <gst/sdp/sdp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>

/* ---- sequence numbers ---- */

static void
push_range (KkLoadSeq *seq, guint from, guint to)
{
  for (guint s = from; s <= to; s++)
    kk_load_seq_push (seq, (guint16) s, NULL, NULL, 0);
}

static void
test_seq_in_order (void)
{
  KkLoadSeq seq = { 0 };

  push_range (&seq, 100, 199);
  g_assert_cmpuint (kk_load_seq_expected (&seq), ==, 100);
  g_assert_cmpuint (seq.received, ==, 100);
  g_assert_cmpuint (kk_load_seq_lost (&seq), ==, 0);
  g_assert_cmpuint (seq.gaps, ==, 0);
}

static void
test_seq_gap_nack_recover (void)
{
  KkLoadSeq seq = { 0 };
  guint16 lost[16];
  guint n_lost = 99;

  push_range (&seq, 10, 20);
  /* 21, 22, 23 missing */
  g_assert_cmpint (kk_load_seq_push (&seq, 24, lost, &n_lost, 16), ==,
      KK_LOAD_SEQ_NEW);
  g_assert_cmpuint (n_lost, ==, 3);
  g_assert_cmpuint (lost[0], ==, 21);
  g_assert_cmpuint (lost[2], ==, 23);
  g_assert_cmpuint (seq.gaps, ==, 3);
  g_assert_cmpuint (seq.nacked, ==, 3);
  g_assert_cmpuint (kk_load_seq_lost (&seq), ==, 3);

  /* 22 comes back (a retransmission), twice */
  g_assert_cmpint (kk_load_seq_push (&seq, 22, lost, &n_lost, 16), ==,
      KK_LOAD_SEQ_RECOVERED);
  g_assert_cmpuint (n_lost, ==, 0);
  g_assert_cmpint (kk_load_seq_push (&seq, 22, NULL, NULL, 0), ==,
      KK_LOAD_SEQ_DUPLICATE);
  g_assert_cmpuint (seq.recovered_nacked, ==, 1);
  g_assert_cmpuint (seq.duplicates, ==, 1);
  g_assert_cmpuint (kk_load_seq_lost (&seq), ==, 2);
  g_assert_cmpuint (kk_load_seq_expected (&seq), ==, 15);

  /* A gap not NACKed (audio): recovered, but not recovered_nacked */
  kk_load_seq_push (&seq, 26, NULL, NULL, 0);
  g_assert_cmpint (kk_load_seq_push (&seq, 25, NULL, NULL, 0), ==,
      KK_LOAD_SEQ_RECOVERED);
  g_assert_cmpuint (seq.recovered, ==, 2);
  g_assert_cmpuint (seq.recovered_nacked, ==, 1);
}

static void
test_seq_wrap (void)
{
  KkLoadSeq seq = { 0 };
  guint16 lost[4];
  guint n_lost;

  push_range (&seq, 65530, 65535);
  kk_load_seq_push (&seq, 0, NULL, NULL, 0);
  kk_load_seq_push (&seq, 2, lost, &n_lost, 4);   /* 1 lost */
  g_assert_cmpuint (n_lost, ==, 1);
  g_assert_cmpuint (lost[0], ==, 1);
  g_assert_cmpuint (kk_load_seq_expected (&seq), ==, 9);
  g_assert_cmpuint (kk_load_seq_lost (&seq), ==, 1);
  /* An old packet from before the wrap is late, not a jump forward. */
  g_assert_cmpint (kk_load_seq_push (&seq, 65535, NULL, NULL, 0), ==,
      KK_LOAD_SEQ_DUPLICATE);
  g_assert_cmpuint (kk_load_seq_expected (&seq), ==, 9);
}

static void
test_seq_big_gap (void)
{
  KkLoadSeq seq = { 0 };
  guint16 lost[8];
  guint n_lost;

  push_range (&seq, 0, 9);
  kk_load_seq_push (&seq, 5010, lost, &n_lost, 8);
  /* only the newest 8 are asked for */
  g_assert_cmpuint (n_lost, ==, 8);
  g_assert_cmpuint (lost[0], ==, 5002);
  g_assert_cmpuint (lost[7], ==, 5009);
  g_assert_cmpuint (seq.gaps, ==, 5000);
  g_assert_cmpuint (kk_load_seq_lost (&seq), ==, 5000);
  /* older than the window: not counted at all */
  g_assert_cmpint (kk_load_seq_push (&seq, 20, NULL, NULL, 0), ==,
      KK_LOAD_SEQ_TOO_OLD);
  g_assert_cmpuint (kk_load_seq_lost (&seq), ==, 5000);
  /* a recent one is recovered, and was NACKed */
  g_assert_cmpint (kk_load_seq_push (&seq, 5005, NULL, NULL, 0), ==,
      KK_LOAD_SEQ_RECOVERED);
  g_assert_cmpuint (seq.recovered_nacked, ==, 1);
}

/* ---- SDP ---- */

/* An answer kringkast gave to a browser-like offer (captured). */
static const char kringkast_answer[] =
  "v=0\r\n"
  "o=- 595481901704150461 2 IN IP4 127.0.0.1\r\n"
  "s=-\r\n"
  "t=0 0\r\n"
  "a=ice-lite\r\n"
  "a=group:BUNDLE 0 1\r\n"
  "a=msid-semantic: WMS\r\n"
  "m=audio 18189 UDP/TLS/RTP/SAVPF 111\r\n"
  "c=IN IP4 127.0.0.1\r\n"
  "a=mid:0\r\n"
  "a=sendonly\r\n"
  "a=rtcp-mux\r\n"
  "a=ice-ufrag:rPdNsf2p\r\n"
  "a=ice-pwd:A8LeaIgRNLAMdsCSyi06r+Nk\r\n"
  "a=fingerprint:sha-256 8F:5C:2A:2D:4B:B2:49:59:1F:4C:4A:67:7A:3D:E4:63:85:48:EE:90:B7:88:A1:16:0C:F8:FB:ED:05:48:AF:4E\r\n"
  "a=setup:passive\r\n"
  "a=candidate:1 1 udp 2130706431 127.0.0.1 18189 typ host\r\n"
  "a=candidate:2 1 tcp 1518280447 127.0.0.1 18189 typ host tcptype passive\r\n"
  "a=end-of-candidates\r\n"
  "a=rtpmap:111 opus/48000/2\r\n"
  "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
  "a=ssrc:6913332 cname:kringkast-demo\r\n"
  "m=video 18189 UDP/TLS/RTP/SAVPF 96 102\r\n"
  "c=IN IP4 127.0.0.1\r\n"
  "a=mid:1\r\n"
  "a=sendonly\r\n"
  "a=rtcp-mux\r\n"
  "a=ice-ufrag:rPdNsf2p\r\n"
  "a=ice-pwd:A8LeaIgRNLAMdsCSyi06r+Nk\r\n"
  "a=fingerprint:sha-256 8F:5C:2A:2D:4B:B2:49:59:1F:4C:4A:67:7A:3D:E4:63:85:48:EE:90:B7:88:A1:16:0C:F8:FB:ED:05:48:AF:4E\r\n"
  "a=setup:passive\r\n"
  "a=candidate:1 1 udp 2130706431 127.0.0.1 18189 typ host\r\n"
  "a=candidate:2 1 tcp 1518280447 127.0.0.1 18189 typ host tcptype passive\r\n"
  "a=end-of-candidates\r\n"
  "a=rtpmap:96 VP8/90000\r\n"
  "a=rtcp-fb:96 nack\r\n"
  "a=rtpmap:102 H264/90000\r\n"
  "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
  "a=ssrc:20659773 cname:kringkast-demo\r\n";

/* Shaped like Janus 1.x's streaming offer: session-level fingerprint and
 * ICE, actpass, mids "a" and "v", and a data m-line we do not want. */
static const char janus_offer[] =
  "v=0\r\n"
  "o=- 1700000000000000 1 IN IP4 10.200.0.2\r\n"
  "s=Mountpoint 1\r\n"
  "t=0 0\r\n"
  "a=group:BUNDLE a v\r\n"
  "a=ice-options:trickle\r\n"
  "a=fingerprint:sha-256 D2:B9:31:8F:DF:24:D8:0E:ED:D2:EF:25:9E:AF:6F:B8:34:AE:53:9C:E6:F3:8F:F2:64:15:FA:E8:7F:53:2D:38\r\n"
  "a=ice-ufrag:4Yjc\r\n"
  "a=ice-pwd:zR2Vvf6gkfoN0oqC2yKUP2\r\n"
  "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
  "c=IN IP4 10.200.0.2\r\n"
  "a=sendonly\r\n"
  "a=mid:a\r\n"
  "a=rtcp-mux\r\n"
  "a=setup:actpass\r\n"
  "a=rtpmap:111 opus/48000/2\r\n"
  "a=candidate:1 1 udp 2015363327 10.200.0.2 50924 typ host\r\n"
  "a=end-of-candidates\r\n"
  "m=video 9 UDP/TLS/RTP/SAVPF 100\r\n"
  "c=IN IP4 10.200.0.2\r\n"
  "a=sendonly\r\n"
  "a=mid:v\r\n"
  "a=rtcp-mux\r\n"
  "a=setup:actpass\r\n"
  "a=rtpmap:100 VP8/90000\r\n"
  "a=rtcp-fb:100 nack\r\n"
  "a=rtcp-fb:100 nack pli\r\n"
  "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
  "c=IN IP4 10.200.0.2\r\n";

static void
test_sdp_parse_kringkast (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkLoadRemoteSdp) sdp = kk_load_sdp_parse (kringkast_answer,
      strlen (kringkast_answer), &error);
  gboolean video = TRUE;

  g_assert_no_error (error);
  g_assert_cmpstr (sdp->ice_ufrag, ==, "rPdNsf2p");
  g_assert_cmpstr (sdp->ice_pwd, ==, "A8LeaIgRNLAMdsCSyi06r+Nk");
  g_assert_cmpstr (sdp->fingerprint_hash, ==, "sha-256");
  g_assert_cmpuint (sdp->fingerprint_len, ==, 32);
  g_assert_cmphex (sdp->fingerprint[0], ==, 0x8f);
  g_assert_cmphex (sdp->fingerprint[31], ==, 0x4e);
  g_assert_cmpstr (sdp->setup, ==, "passive");
  g_assert_true (sdp->ice_lite);
  /* UDP only, once per m-line (libnice ignores the duplicate) */
  g_assert_cmpuint (sdp->candidates->len, ==, 2);
  g_assert_cmpstr (sdp->candidates->pdata[0], ==,
      "a=candidate:1 1 udp 2130706431 127.0.0.1 18189 typ host");
  g_assert_cmpuint (sdp->n_media, ==, 2);
  g_assert_cmpstr (sdp->media[1].mid, ==, "1");
  g_assert_cmpuint (sdp->media[1].n_codecs, ==, 2);
  g_assert_cmpint (kk_load_sdp_codec_for_pt (sdp, 111, &video), ==,
      KK_LOAD_CODEC_OPUS);
  g_assert_false (video);
  g_assert_cmpint (kk_load_sdp_codec_for_pt (sdp, 96, &video), ==,
      KK_LOAD_CODEC_VP8);
  g_assert_true (video);
  g_assert_cmpint (kk_load_sdp_codec_for_pt (sdp, 102, NULL), ==,
      KK_LOAD_CODEC_H264);
  g_assert_cmpint (kk_load_sdp_codec_for_pt (sdp, 97, NULL), ==,
      KK_LOAD_CODEC_NONE);
}

static void
test_sdp_parse_janus_and_answer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkLoadRemoteSdp) sdp = kk_load_sdp_parse (janus_offer,
      strlen (janus_offer), &error);
  g_autoptr (GstSDPMessage) msg = NULL;
  g_autofree char *answer = NULL;
  const char *candidates[] = {
    "a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host", NULL
  };
  const GstSDPMedia *video;

  g_assert_no_error (error);
  g_assert_cmpstr (sdp->ice_ufrag, ==, "4Yjc");
  g_assert_cmpstr (sdp->setup, ==, "actpass");
  g_assert_false (sdp->ice_lite);
  g_assert_cmpuint (sdp->n_media, ==, 2);
  g_assert_cmpstr (sdp->media[0].mid, ==, "a");
  g_assert_cmpstr (sdp->media[1].mid, ==, "v");
  g_assert_cmpint (kk_load_sdp_codec_for_pt (sdp, 100, NULL), ==,
      KK_LOAD_CODEC_VP8);

  answer = kk_load_sdp_build_answer (sdp, "uf01", "pw0123456789012345678901",
      "sha-256 00:11", candidates);
  g_assert_cmpint (gst_sdp_message_new (&msg), ==, GST_SDP_OK);
  g_assert_cmpint (gst_sdp_message_parse_buffer ((const guint8 *) answer,
          strlen (answer), msg), ==, GST_SDP_OK);
  g_assert_cmpuint (gst_sdp_message_medias_len (msg), ==, 2);
  g_assert_cmpstr (gst_sdp_message_get_attribute_val (msg, "group"), ==,
      "BUNDLE a v");
  video = gst_sdp_message_get_media (msg, 1);
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (video, "mid"), ==, "v");
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (video, "setup"), ==,
      "active");
  g_assert_nonnull (gst_sdp_media_get_attribute_val (video, "recvonly"));
  g_assert_cmpstr (gst_sdp_media_get_format (video, 0), ==, "100");
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (video, "candidate"), ==,
      "1 1 UDP 2015363327 127.0.0.1 40000 typ host");
}

static void
test_sdp_offer_accepted_by_relay (void)
{
  const char *candidates[] = {
    "a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host", NULL
  };
  g_autofree char *offer = kk_load_sdp_build_offer ("uf01",
      "pw0123456789012345678901", "sha-256 " "00:11:22:33:44:55:66:77:88:99:"
      "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
      candidates);
  g_autoptr (GError) error = NULL;
  g_autoptr (KkViewerOffer) parsed = NULL;

  /* The relay's own parser is the judge of what a viewer may offer. */
  parsed = kk_sdp_parse_viewer_offer (offer, strlen (offer), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (parsed->ice_ufrag, ==, "uf01");
  g_assert_cmpint (parsed->setup, ==, KK_DTLS_SETUP_ACTPASS);
  g_assert_true (parsed->bundle);
  g_assert_true (parsed->rtcp_mux);
  g_assert_cmpuint (parsed->n_media, ==, 2);
  g_assert_cmpint (parsed->media[0].kind, ==, KK_MEDIA_AUDIO);
  g_assert_cmpint (parsed->media[0].pt_opus, ==, 111);
  g_assert_true (parsed->media[1].can_receive);
  g_assert_cmpint (parsed->media[1].pt_vp8, ==, 96);
  g_assert_cmpint (parsed->media[1].pt_h264, ==, 102);
  g_assert_true (parsed->media[1].nack);
  g_assert_true (parsed->media[1].pli);
}

static void
test_sdp_parse_errors (void)
{
  static const char *const bad[] = {
    "",
    "not sdp at all",
    /* no fingerprint */
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv\r\na=rtpmap:111 opus/48000/2\r\n",
    /* no codec we know */
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 00:11\r\n"
    "a=rtpmap:98 VP9/90000\r\n",
    /* a malformed fingerprint */
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 0G:11\r\n"
    "a=rtpmap:111 opus/48000/2\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (KkLoadRemoteSdp) sdp = kk_load_sdp_parse (bad[i],
        strlen (bad[i]), &error);

    g_assert_null (sdp);
    g_assert_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_SDP);
  }
}

/* ---- Janus ---- */

static void
test_janus_ids (void)
{
  static const char ok[] =
      "{\"janus\":\"success\",\"transaction\":\"x\",\"data\":{\"id\":"
      "4503599627370495}}";
  static const char err[] =
      "{\"janus\":\"error\",\"transaction\":\"x\",\"error\":{\"code\":458,"
      "\"reason\":\"No such session 1\"}}";
  static const char no_id[] = "{\"janus\":\"success\",\"data\":{}}";
  guint64 id = 0;
  GError *error = NULL;

  g_assert_true (kk_load_janus_parse_id (ok, strlen (ok), &id, &error));
  g_assert_cmpuint (id, ==, 4503599627370495ull);
  g_assert_false (kk_load_janus_parse_id (err, strlen (err), &id, &error));
  g_assert_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS);
  g_assert_nonnull (strstr (error->message, "No such session 1"));
  g_clear_error (&error);
  g_assert_false (kk_load_janus_parse_id (no_id, strlen (no_id), &id, &error));
  g_assert_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS);
  g_clear_error (&error);
  g_assert_false (kk_load_janus_parse_id ("[", 1, &id, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
}

static void
test_janus_events (void)
{
  static const char events[] =
      "[{\"janus\":\"event\",\"session_id\":1,\"sender\":77,"
      "\"plugindata\":{\"plugin\":\"janus.plugin.streaming\",\"data\":"
      "{\"streaming\":\"event\",\"result\":{\"status\":\"preparing\"}}},"
      "\"jsep\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}},"
      "{\"janus\":\"event\",\"sender\":78,\"plugindata\":{\"plugin\":"
      "\"janus.plugin.streaming\",\"data\":{\"error_code\":455,"
      "\"error\":\"No such mountpoint/stream 9\"}}},"
      "{\"janus\":\"webrtcup\",\"sender\":77},"
      "{\"janus\":\"keepalive\"}]";
  static const char single[] = "{\"janus\":\"hangup\",\"sender\":5,"
      "\"reason\":\"DTLS alert\"}";
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) list = kk_load_janus_parse_events (events,
      strlen (events), &error);
  g_autoptr (GArray) one = NULL;
  KkLoadJanusEvent *e;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 4);
  e = &g_array_index (list, KkLoadJanusEvent, 0);
  g_assert_cmpuint (e->sender, ==, 77);
  g_assert_cmpstr (e->jsep_type, ==, "offer");
  g_assert_cmpstr (e->jsep_sdp, ==, "v=0\r\n");
  g_assert_null (e->error);
  e = &g_array_index (list, KkLoadJanusEvent, 1);
  g_assert_cmpstr (e->error, ==, "No such mountpoint/stream 9");
  e = &g_array_index (list, KkLoadJanusEvent, 2);
  g_assert_cmpstr (e->janus, ==, "webrtcup");
  g_assert_null (e->jsep_sdp);
  g_assert_cmpuint (g_array_index (list, KkLoadJanusEvent, 3).sender, ==, 0);

  one = kk_load_janus_parse_events (single, strlen (single), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpstr (g_array_index (one, KkLoadJanusEvent, 0).janus, ==,
      "hangup");
  g_assert_null (kk_load_janus_parse_events ("12", 2, &error));
  g_assert_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS);
}

/* ---- /proc ---- */

static void
test_proc (void)
{
  /* A command name with spaces and a ')' in it, as a thread may have. */
  static const char stat[] = "4242 (kk (x) y) S 1 4242 4242 0 -1 4194560 "
      "1234 0 0 0 1500 250 0 0 20 0 7 0 100 123456789 2000 "
      "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
  static const char status[] = "Name:\tkringkast\nVmPeak:\t  200000 kB\n"
      "VmRSS:\t   88872 kB\nThreads:\t7\n";
  guint64 ticks = 0, rss = 0;
  guint threads = 0;
  GError *error = NULL;
  KkLoadProcSample self;

  g_assert_true (kk_load_proc_parse_stat (stat, &ticks, &threads, &error));
  g_assert_cmpuint (ticks, ==, 1750);
  g_assert_cmpuint (threads, ==, 7);
  g_assert_true (kk_load_proc_parse_status (status, &rss, &error));
  g_assert_cmpuint (rss, ==, 88872);
  g_assert_false (kk_load_proc_parse_stat ("4242 (kk) S 1 2", &ticks,
          &threads, &error));
  g_assert_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_PROC);
  g_clear_error (&error);
  g_assert_false (kk_load_proc_parse_status ("Name:\tx\n", &rss, &error));
  g_assert_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_PROC);
  g_clear_error (&error);

  /* and the real thing, on ourselves */
  g_assert_true (kk_load_proc_sample (getpid (), &self, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (self.rss_kib, >, 100);
  g_assert_cmpuint (self.threads, >=, 1);
}

/* ---- report ---- */

static void
test_percentile (void)
{
  double five[] = { 5, 1, 4, 2, 3 };
  double twenty[20];

  g_assert_cmpfloat (kk_load_percentile (five, 5, 50), ==, 3);
  g_assert_cmpfloat (kk_load_percentile (five, 5, 95), ==, 5);
  g_assert_cmpfloat (kk_load_percentile (five, 5, 100), ==, 5);
  for (guint i = 0; i < 20; i++)
    twenty[i] = 20 - i;       /* 20 .. 1 */
  g_assert_cmpfloat (kk_load_percentile (twenty, 20, 95), ==, 19);
  g_assert_cmpfloat (kk_load_percentile (twenty, 20, 50), ==, 10);
  g_assert_cmpfloat (kk_load_percentile (NULL, 0, 50), ==, 0);
}

static void
test_report (void)
{
  KkLoadViewerResult results[3] = { 0 };
  KkLoadReport report = { 0 };
  KkLoadProcSample before = { 100, 50000, 8 };
  KkLoadProcSample idle_end = { 150, 50000, 8 };
  KkLoadProcSample start = { 200, 52000, 8 };
  KkLoadProcSample end = { 1200, 54000, 8 };
  g_autoptr (JsonNode) json = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  JsonObject *obj, *server;

  results[0] = (KkLoadViewerResult) { .connected = TRUE, .connect_ms = 20,
    .first_packet_ms = 25, .first_keyframe_ms = 30, .packets = 990,
    .bytes = 1000000, .expected = 1000, .lost = 10, .gaps = 40,
    .nacked = 40, .nacks_sent = 5, .recovered_nacked = 30, .verified = 100,
    .dtls_retransmits = 2 };
  results[1] = (KkLoadViewerResult) { .connected = TRUE, .connect_ms = 40,
    .first_packet_ms = 45, .first_keyframe_ms = -1, .packets = 1000,
    .bytes = 1000000, .expected = 1000, .verified = 99,
    .verify_failed = 1 };
  results[2].error = g_strdup ("ICE failed");
  results[2].dtls_retransmits = 1;

  report.target = g_strdup ("http://127.0.0.1:8080/whep/demo");
  report.mode = g_strdup ("whep");
  report.viewers = 3;
  report.verify_every = 10;
  kk_load_report_aggregate (&report, results, 3);
  g_assert_cmpuint (report.connected, ==, 2);
  g_assert_cmpuint (report.failed, ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (report.errors,
              "ICE failed")), ==, 1);
  g_assert_cmpuint (report.no_keyframe, ==, 1);
  g_assert_cmpuint (report.first_keyframe_ms.n, ==, 1);
  g_assert_cmpfloat (report.connect_ms.median, ==, 20);
  g_assert_cmpfloat (report.connect_ms.max, ==, 40);
  g_assert_cmpfloat_with_epsilon (report.loss_percent, 0.5, 1e-9);
  g_assert_cmpfloat_with_epsilon (report.worst_viewer_loss_percent, 1.0, 1e-9);
  g_assert_cmpuint (report.recovered_nacked, ==, 30);
  /* viewers, failed ones too, not flights */
  g_assert_cmpuint (report.dtls_retransmitted, ==, 2);

  /* 1000 ticks at 100/s over a 5 s hold: 2000 ms/s, over 2 viewers;
   * idle: 50 ticks in 2 s, 250 ms/s */
  kk_load_report_set_server (&report, &before, &idle_end, 2.0, &start, &end,
      5.0, 100);
  g_assert_cmpfloat_with_epsilon (report.server_idle_cpu_ms_per_s, 250, 1e-9);
  g_assert_cmpfloat_with_epsilon (
      report.server_marginal_cpu_ms_per_s_per_viewer, 875, 1e-9);
  g_assert_cmpfloat_with_epsilon (report.server_cpu_ms_per_s, 2000, 1e-9);
  g_assert_cmpfloat_with_epsilon (report.server_cpu_ms_per_s_per_viewer,
      1000, 1e-9);
  g_assert_cmpfloat_with_epsilon (report.server_kib_per_viewer, 2000, 1e-9);

  report.self_join_cpu_ms_per_viewer = 4.5;
  json = kk_load_report_to_json (&report);
  obj = json_node_get_object (json);
  g_assert_cmpint (json_object_get_int_member (obj, "dtls_retransmitted"), ==,
      2);
  g_assert_cmpfloat (json_object_get_double_member (
          json_object_get_object_member (obj, "load_tool"),
          "join_cpu_ms_per_viewer"), ==, 4.5);
  g_assert_cmpint (json_object_get_int_member (obj, "connected"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (obj, "lost"), ==, 10);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
              obj, "errors"), "ICE failed"), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (
          json_object_get_object_member (obj, "first_packet_ms"), "p95"), ==,
      45);
  server = json_object_get_object_member (obj, "server");
  g_assert_cmpfloat (json_object_get_double_member (server,
          "cpu_ms_per_s_per_viewer"), ==, 1000);
  g_assert_cmpfloat (json_object_get_double_member (server,
          "marginal_cpu_ms_per_s_per_viewer"), ==, 875);

  text = kk_load_report_to_text (&report);
  g_assert_nonnull (strstr (text, "connected 2, failed 1"));
  g_assert_nonnull (strstr (text, "1 x ICE failed"));
  g_assert_nonnull (strstr (text, "(0.500 %, worst viewer 1.000 %)"));
  g_assert_nonnull (strstr (text, "(a sample)"));
  g_assert_nonnull (strstr (text, "(2 retransmitted DTLS)"));
  g_assert_nonnull (strstr (text, "joining cost 4.50 ms CPU per viewer"));

  line = kk_load_progress_line (12.34, 30, 100, 28, 2, 900, 100, 42.0);
  g_assert_cmpstr (line, ==, "[ 12.3 s] joined 30/100  connected 28  "
      "failed 2  900 pkts  42.0 Mbit/s  loss 10.00 %");

  for (guint i = 0; i < 3; i++)
    kk_load_viewer_result_clear (&results[i]);
  kk_load_report_clear (&report);
}

/* ---- the viewer's DTLS timer ---- */

/* Datagrams waiting on @fd, each read and counted. */
static guint
count_datagrams (int fd)
{
  guint8 buf[2048];
  guint n = 0;

  while (recv (fd, buf, sizeof (buf), MSG_DONTWAIT) > 0)
    n++;
  return n;
}

/* Janus ignores a ClientHello that arrives before it has started its own
 * handshake; the viewer must send it again when its timer runs out, and
 * soon: after the run's first timeout (--dtls-timeout-ms), not OpenSSL's
 * 1 s. The viewer threads read the clock once per tick and then serve all
 * their viewers, so the @now a viewer gets is always a little old: the
 * timer must fire all the same. */
static void
test_viewer_dtls_retransmits (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkDtlsContext) ctx = kk_dtls_context_new (&error);
  KkLoadRun run = { 0 };
  KkLoadViewer viewer = { 0 };
  KkLoadRemoteSdp *remote = g_new0 (KkLoadRemoteSdp, 1);
  int fds[2];
  guint sent;
  gint64 start, elapsed;

  g_assert_no_error (error);
  run.timeout_s = 20;
  run.dtls = ctx;
  run.dtls_timeout_ms = 150;
  remote->fingerprint_hash = g_strdup ("sha-256");
  remote->fingerprint_len = 32;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds),
      ==, 0);
  viewer.run = &run;
  viewer.remote = remote;
  viewer.fd = fds[0];
  viewer.state = KK_LOAD_VIEWER_ICE;
  viewer.created_us = g_get_monotonic_time ();

  kk_load_viewer_start_dtls (&viewer);
  start = g_get_monotonic_time ();
  g_assert_cmpint (viewer.state, ==, KK_LOAD_VIEWER_DTLS);
  /* the ClientHello, which nobody answers */
  sent = count_datagrams (fds[1]);
  g_assert_cmpuint (sent, ==, 1);

  while (sent < 2 && g_get_monotonic_time () - start < 4 * G_USEC_PER_SEC) {
    kk_load_viewer_tick (&viewer, g_get_monotonic_time () - 1000);
    sent += count_datagrams (fds[1]);
    g_usleep (10 * 1000);
  }
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("sent again after %.2f s", elapsed / 1e6);
  g_assert_cmpuint (sent, ==, 2);
  g_assert_cmpuint (viewer.result.dtls_retransmits, ==, 1);
  g_assert_cmpint (viewer.state, ==, KK_LOAD_VIEWER_DTLS);
  /* Not before the timer (OpenSSL treats the last 15 ms of a timer as
   * run out), and long before OpenSSL's default second. */
  g_assert_cmpint (elapsed, >=, (150 - 15) * 1000);
  g_assert_cmpint (elapsed, <, 800 * 1000);

  kk_load_viewer_close (&viewer);
  g_assert_null (viewer.dtls);
  g_assert_cmpint (viewer.fd, ==, -1);
  g_assert_cmpint (g_atomic_int_get (&run.failed), ==, 1);
  g_assert_cmpstr (viewer.result.error, ==, "still in DTLS at the end");
  kk_load_viewer_clear (&viewer);
  close (fds[1]);
}

/* ---- a viewer thread receiving ---- */

#define VIDEO_SSRC 0x5eed0001u
#define BATCH_US (250 * 1000)

static const guint8 key_in[16] = "0123456789abcdef";
static const guint8 salt_in[12] = "saltsaltsalt";
static const guint8 key_out[16] = "fedcba9876543210";
static const guint8 salt_out[12] = "tlastlastlas";

/* A protected VP8 packet (payload type 96 in kringkast_answer) that
 * starts a frame, a keyframe or not. */
static gsize
make_vp8 (KkSrtp *srtp, guint8 *buf, gsize cap, guint16 seq,
    gboolean keyframe)
{
  gssize len;

  memset (buf, 0, cap);
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = seq >> 8;
  buf[3] = seq & 0xff;
  buf[7] = seq & 0xff;                        /* timestamp */
  buf[8] = (VIDEO_SSRC >> 24) & 0xff;
  buf[9] = (VIDEO_SSRC >> 16) & 0xff;
  buf[10] = (VIDEO_SSRC >> 8) & 0xff;
  buf[11] = VIDEO_SSRC & 0xff;
  buf[12] = 0x10;                             /* S: partition 0 starts */
  buf[13] = keyframe ? 0x00 : 0x01;           /* P: 0 for a key frame */
  len = kk_srtp_protect_rtp (srtp, buf, 12 + 100, cap);
  g_assert_cmpint (len, >, 0);
  return len;
}

static void
udp_pair (int *a, int *b)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  struct sockaddr_in addr_a, addr_b;
  socklen_t len = sizeof (addr_a);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  *a = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  *b = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (*a, >=, 0);
  g_assert_cmpint (*b, >=, 0);
  g_assert_cmpint (bind (*a, (struct sockaddr *) &addr, sizeof (addr)), ==, 0);
  g_assert_cmpint (bind (*b, (struct sockaddr *) &addr, sizeof (addr)), ==, 0);
  g_assert_cmpint (getsockname (*a, (struct sockaddr *) &addr_a, &len), ==, 0);
  len = sizeof (addr_b);
  g_assert_cmpint (getsockname (*b, (struct sockaddr *) &addr_b, &len), ==, 0);
  g_assert_cmpint (connect (*a, (struct sockaddr *) &addr_b,
          sizeof (addr_b)), ==, 0);
  g_assert_cmpint (connect (*b, (struct sockaddr *) &addr_a,
          sizeof (addr_a)), ==, 0);
}

static void
wait_packets (KkLoadRx *rx, guint64 n)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  KkLoadRxTotals totals;

  do {
    kk_load_rx_totals (rx, &totals);
    if (totals.packets >= n)
      return;
    g_usleep (1000);
  } while (g_get_monotonic_time () < deadline);
  g_assert_cmpuint (totals.packets, >=, n);
}

/* The kernel turns its arrival stamps on from a workqueue, a while after
 * the first socket asks for them (kk_load_rx_new() does): wait until a
 * datagram read well after it was sent carries its sending time. */
static void
wait_kernel_stamps (void)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  int a, b, on = 1;

  udp_pair (&a, &b);
  g_assert_cmpint (setsockopt (b, SOL_SOCKET, SO_TIMESTAMPNS, &on,
          sizeof (on)), ==, 0);
  for (;;) {
    guint8 data[8], control[CMSG_SPACE (sizeof (struct timespec))];
    struct iovec iov = { .iov_base = data, .iov_len = sizeof (data) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
      .msg_control = control, .msg_controllen = sizeof (control) };
    gint64 sent = g_get_real_time ();
    gint64 stamp = 0;

    g_assert_cmpint (send (a, "probe", 5, 0), ==, 5);
    g_usleep (20 * 1000);
    g_assert_cmpint (recvmsg (b, &msg, 0), ==, 5);
    for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL;
        c = CMSG_NXTHDR (&msg, c)) {
      struct timespec ts;

      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
        continue;
      memcpy (&ts, CMSG_DATA (c), sizeof (ts));
      stamp = (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
    }
    if (stamp != 0 && stamp - sent < 10 * 1000)
      break;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  }
  close (a);
  close (b);
}

static gboolean
add_viewer (gpointer data)
{
  KkLoadViewer *viewer = data;

  kk_load_rx_add (viewer->rx, viewer);
  return G_SOURCE_REMOVE;
}

/* The NACK the viewer sent for @seq, in an SRTCP compound with its RR. */
static void
expect_nack (int fd, KkSrtp *srtcp, guint16 seq)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  guint8 buf[1500];
  gssize len;
  KkRtcpIter iter;
  KkRtcpPacket packet;
  gboolean nack = FALSE;

  g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
  len = recv (fd, buf, sizeof (buf), 0);
  g_assert_cmpint (len, >, 0);
  len = kk_srtp_unprotect_rtcp (srtcp, buf, len);
  g_assert_cmpint (len, >, 0);
  g_assert_true (kk_rtcp_iter_init (&iter, buf, len));
  while (kk_rtcp_iter_next (&iter, &packet)) {
    guint16 pid, blp;

    if (packet.type != KK_RTCP_NACK)
      continue;
    g_assert_cmpuint (packet.media_ssrc, ==, VIDEO_SSRC);
    g_assert_cmpuint (packet.n_fci, ==, 1);
    kk_rtcp_nack_entry (&packet, 0, &pid, &blp);
    g_assert_cmpuint (pid, ==, seq);
    g_assert_cmpuint (blp, ==, 0);
    nack = TRUE;
  }
  g_assert_true (nack);
}

static void
test_rx_receive (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkSrtp) sender = kk_srtp_new (KK_SRTP_AEAD_AES_128_GCM, key_in,
      salt_in);
  g_autoptr (KkSrtp) srtcp = kk_srtp_new (KK_SRTP_AEAD_AES_128_GCM, key_out,
      salt_out);
  KkLoadRun run = { 0 };
  KkLoadViewer viewer = { 0 };
  KkLoadRx *rx;
  guint8 buf[1500];
  gsize len;
  int server;
  gint64 t_first, t_before, t_after, t_seen;

  run.batch_us = BATCH_US;
  run.verify_every = 1;
  run.n_rx = 1;
  run.http_conns = 1;
  run.timeout_s = 20;
  run.janus = TRUE;           /* leaving sends no DELETE */
  rx = kk_load_rx_new (&run, 0);
  wait_kernel_stamps ();

  udp_pair (&viewer.fd, &server);
  viewer.run = &run;
  viewer.rx = rx;
  viewer.state = KK_LOAD_VIEWER_CONNECTED;
  viewer.ssrc = 0x12345678;
  viewer.remote = kk_load_sdp_parse (kringkast_answer,
      strlen (kringkast_answer), &error);
  g_assert_no_error (error);
  viewer.srtp_in = kk_srtp_new (KK_SRTP_AEAD_AES_128_GCM, key_in, salt_in);
  viewer.srtp_out = kk_srtp_new (KK_SRTP_AEAD_AES_128_GCM, key_out, salt_out);
  viewer.start_us = viewer.connected_us = g_get_monotonic_time ();
  /* no reports or consent checks in the way of the NACK */
  viewer.next_report_us = viewer.next_consent_us = G_MAXINT64;
  g_main_context_invoke (kk_load_rx_get_context (rx), add_viewer, &viewer);

  /* The first packet after a quiet spell is read at once... */
  t_first = g_get_monotonic_time ();
  len = make_vp8 (sender, buf, sizeof (buf), 100, FALSE);
  g_assert_cmpint (send (server, buf, len, 0), ==, len);
  wait_packets (rx, 1);

  /* ...the next ones wait for the batch interval, but count as arriving
   * when the kernel got them. 102 goes missing. */
  len = make_vp8 (sender, buf, sizeof (buf), 101, TRUE);
  t_before = g_get_monotonic_time ();
  g_assert_cmpint (send (server, buf, len, 0), ==, len);
  t_after = g_get_monotonic_time ();
  len = make_vp8 (sender, buf, sizeof (buf), 103, FALSE);
  g_assert_cmpint (send (server, buf, len, 0), ==, len);
  wait_packets (rx, 3);
  t_seen = g_get_monotonic_time ();
  g_test_message ("keyframe read %.1f ms after it was sent",
      (t_seen - t_after) / 1e3);
  g_assert_cmpint (t_seen - t_first, >=, BATCH_US);

  /* The gap is NACKed at once; the retransmission is recovered. */
  expect_nack (server, srtcp, 102);
  len = make_vp8 (sender, buf, sizeof (buf), 102, FALSE);
  g_assert_cmpint (send (server, buf, len, 0), ==, len);
  wait_packets (rx, 4);

  g_atomic_int_set (&run.threads_leaving, 1);
  kk_load_rx_leave (rx);
  for (guint i = 0; i < 5000 && g_atomic_int_get (&run.threads_leaving); i++)
    g_usleep (1000);
  g_assert_cmpint (g_atomic_int_get (&run.threads_leaving), ==, 0);
  kk_load_rx_free (rx);

  /* The thread is gone; the viewer was never in its list, so close it
   * here. */
  kk_load_viewer_close (&viewer);
  g_assert_true (viewer.result.connected);
  g_assert_cmpuint (viewer.result.packets, ==, 4);
  g_assert_cmpuint (viewer.result.expected, ==, 4);
  g_assert_cmpuint (viewer.result.lost, ==, 0);
  g_assert_cmpuint (viewer.result.gaps, ==, 1);
  g_assert_cmpuint (viewer.result.nacked, ==, 1);
  g_assert_cmpuint (viewer.result.nacks_sent, ==, 1);
  g_assert_cmpuint (viewer.result.recovered_nacked, ==, 1);
  /* 100, 101 and 103; a retransmission is never decrypted */
  g_assert_cmpuint (viewer.result.verified, ==, 3);
  g_assert_cmpuint (viewer.result.verify_failed, ==, 0);
  g_assert_cmpuint (viewer.result.keyframes, ==, 1);
  /* the kernel's arrival time, not the batch's read time */
  g_assert_cmpint (viewer.first_keyframe_us, >=, t_before - 10000);
  g_assert_cmpint (viewer.first_keyframe_us, <=, t_after + 10000);
  g_assert_cmpfloat (viewer.result.first_packet_ms, >=, 0);
  g_assert_false (viewer.timestamps);

  close (server);
  kk_load_viewer_clear (&viewer);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/load/seq/in-order", test_seq_in_order);
  g_test_add_func ("/load/seq/gap-nack-recover", test_seq_gap_nack_recover);
  g_test_add_func ("/load/seq/wrap", test_seq_wrap);
  g_test_add_func ("/load/seq/big-gap", test_seq_big_gap);
  g_test_add_func ("/load/sdp/parse-kringkast", test_sdp_parse_kringkast);
  g_test_add_func ("/load/sdp/janus-answer", test_sdp_parse_janus_and_answer);
  g_test_add_func ("/load/sdp/offer-accepted", test_sdp_offer_accepted_by_relay);
  g_test_add_func ("/load/sdp/errors", test_sdp_parse_errors);
  g_test_add_func ("/load/janus/ids", test_janus_ids);
  g_test_add_func ("/load/janus/events", test_janus_events);
  g_test_add_func ("/load/proc", test_proc);
  g_test_add_func ("/load/percentile", test_percentile);
  g_test_add_func ("/load/report", test_report);
  g_test_add_func ("/load/viewer/dtls-retransmits",
      test_viewer_dtls_retransmits);
  g_test_add_func ("/load/rx/receive", test_rx_receive);
  return g_test_run ();
}
