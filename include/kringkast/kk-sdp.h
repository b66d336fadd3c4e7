/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-sdp: what the relay needs from SDP, parsed and built with GStreamer's
 * SDP library (GstSDPMessage).
 *
 * A WHEP viewer's offer is reduced to a KkViewerOffer: the ICE credentials
 * and DTLS fingerprint of the transport it bundles on, and per m-line what
 * it can receive. The answer is built from that and from the relay's own
 * transport (ICE-lite, one media port, UDP and passive TCP candidates).
 * WHIP offers go to webrtcbin, which parses them itself; here they are only
 * checked so that a hostile offer gets a 400, not a webrtcbin error.
 *
 * Offers are untrusted: every function bounds what it accepts and returns a
 * GError in KK_SDP_ERROR instead of failing in any other way.
 */
#pragma once

#include <glib.h>
#include <gst/sdp/sdp.h>

G_BEGIN_DECLS

#define KK_SDP_ERROR (kk_sdp_error_quark ())
GQuark kk_sdp_error_quark (void);

typedef enum {
  KK_SDP_ERROR_MALFORMED,     /* not parseable, too big, too many m-lines */
  KK_SDP_ERROR_UNSUPPORTED,   /* parseable but nothing we can use */
  KK_SDP_ERROR_MISSING,       /* no ICE credentials, no fingerprint, ... */
} KkSdpError;

/* Offers larger than this are refused before parsing. */
#define KK_SDP_MAX_LEN (64 * 1024)
#define KK_SDP_MAX_MEDIA 16

typedef enum {
  KK_CODEC_NONE = 0,
  KK_CODEC_VP8,
  KK_CODEC_H264,
  KK_CODEC_OPUS,
} KkCodec;

typedef enum {
  KK_MEDIA_AUDIO,
  KK_MEDIA_VIDEO,
  KK_MEDIA_OTHER,    /* application (data channel) or unknown: rejected */
} KkMediaKind;

/* The DTLS role from a=setup (RFC 5763). */
typedef enum {
  KK_DTLS_SETUP_ACTPASS,
  KK_DTLS_SETUP_ACTIVE,
  KK_DTLS_SETUP_PASSIVE,
} KkDtlsSetup;

typedef struct {
  char *mid;                /* nullable when the offer has none */
  KkMediaKind kind;
  gboolean can_receive;     /* direction recvonly or sendrecv */
  gboolean port_zero;       /* m-line rejected/disabled in the offer */
  /* Payload type the viewer uses for each codec we can send; -1 if absent.
   * For H.264 only packetization-mode=1 with a constrained-baseline or
   * baseline profile-level-id counts. Payload types 64-95 never count:
   * under rtcp-mux they read as RTCP (RFC 5761 §4). */
  gint pt_vp8;
  gint pt_h264;
  char *h264_fmtp;          /* the fmtp of pt_h264 as offered, for the answer */
  gint pt_opus;
  char *opus_fmtp;
  gboolean nack, pli, fir;  /* rtcp-fb the viewer offers for the chosen codecs */
  /* The m= line's fields as offered (plain tokens): an answer must repeat
   * the media and proto, also when it rejects the m-line (RFC 3264 §6). */
  char *media_name;         /* "audio", "video", "application", ... */
  char *proto;              /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
  char *fmt;                /* the first format */
} KkOfferMedia;

typedef struct {
  /* The transport everything is bundled on: BUNDLE's tagged m-line (the
   * first mid of the group), or the first usable m-line without BUNDLE.
   * An offer that gives each m-line its own credentials ("balanced") is
   * answered on the tagged transport's credentials. */
  char *ice_ufrag;
  char *ice_pwd;
  char *fingerprint_hash;   /* "sha-256", lower case */
  guint8 fingerprint[64];
  gsize fingerprint_len;
  KkDtlsSetup setup;
  gboolean bundle;          /* the offer has a=group:BUNDLE */
  gboolean rtcp_mux;
  guint n_media;
  KkOfferMedia media[KK_SDP_MAX_MEDIA];
} KkViewerOffer;

/* Returns: (transfer full): the offer, or NULL with @error. */
KkViewerOffer *kk_sdp_parse_viewer_offer (const char *sdp, gsize len,
    GError **error);
void kk_viewer_offer_free (KkViewerOffer *offer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkViewerOffer, kk_viewer_offer_free)

typedef struct {
  const char *ip;           /* numeric IPv4 or IPv6 */
  guint16 port;
} KkSdpAddress;

typedef struct {
  const char *ice_ufrag;
  const char *ice_pwd;
  const char *fingerprint;  /* "sha-256 AB:CD:..." as in a=fingerprint */
  KkDtlsSetup setup;        /* ACTIVE or PASSIVE, chosen by the caller */
  const KkSdpAddress *addresses;   /* one UDP host and one TCP passive candidate each */
  guint n_addresses;
  guint32 audio_ssrc;
  guint32 video_ssrc;
  const char *cname;
  const char *stream_id;    /* msid stream id */
  /* Which video codecs the relay may send; the answer lists each one the
   * viewer also offered (so a host may switch codec without the viewer
   * negotiating again). */
  gboolean offer_vp8;
  gboolean offer_h264;
} KkAnswerParams;

/* Builds the answer. Every m-line of the offer is answered, in order: the
 * first audio and the first video m-line the viewer can receive with a codec
 * we have get sendonly (or inactive if the viewer offered sendonly), all
 * others are rejected with port 0. The answer is ICE-lite, bundles every
 * accepted m-line when the offer asks for BUNDLE, and uses rtcp-mux.
 * On success @chosen_audio / @chosen_video (nullable) receive the index of
 * the answered m-lines, or -1.
 * Returns: (transfer full): the SDP text, or NULL with @error when no m-line
 * can be answered. */
char *kk_sdp_build_viewer_answer (const KkViewerOffer *offer,
    const KkAnswerParams *params, gint *chosen_audio, gint *chosen_video,
    GError **error);

/* Checks a publisher's (WHIP) offer: parseable, bounded, at least one audio
 * or video m-line that sends Opus, VP8 or H.264, ICE credentials and a
 * fingerprint present.
 * Returns: (transfer full): the parsed message for webrtcbin, or NULL with
 * @error. */
GstSDPMessage *kk_sdp_check_publisher_offer (const char *sdp, gsize len,
    GError **error);

/* Simulcast (RFC 8853) in a publisher's m-line: the relay does not take
 * the host's own layers (webrtcbin 1.22 matches an SSRC without a=ssrc
 * lines to no m-line, and its pads do not say which rid they carry), so
 * such an offer is answered as one of a single encoding. This removes the
 * a=rid and a=simulcast lines and the header extensions that carry rids
 * from @media, before webrtcbin sees the offer: its answer then accepts
 * no simulcast, and the browser sends its first encoding alone (JSEP,
 * RFC 8829 §5.3.1).
 * Returns: TRUE if there was anything to remove. */
gboolean kk_sdp_media_drop_simulcast (GstSDPMedia *media);

/* One candidate line from a trickle-ice-sdpfrag (RFC 8840) body. */
typedef struct {
  char *mid;                /* the a=mid it belongs to; nullable */
  guint mline_index;        /* its position among the fragment's m-lines */
  char *candidate;          /* "candidate:..." without the "a=" */
} KkTrickleCandidate;

typedef struct {
  char *ice_ufrag;          /* nullable */
  char *ice_pwd;            /* nullable; a new ufrag+pwd means ICE restart */
  GPtrArray *candidates;    /* element-type KkTrickleCandidate */
  gboolean end_of_candidates;
} KkTrickleFragment;

/* Returns: (transfer full): the fragment, or NULL with @error. */
KkTrickleFragment *kk_sdp_parse_trickle_fragment (const char *body, gsize len,
    GError **error);
void kk_trickle_fragment_free (KkTrickleFragment *fragment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkTrickleFragment, kk_trickle_fragment_free)

G_END_DECLS
