/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-sdp: offers in, answers out, on GStreamer's SDP library.
 *
 * gst_sdp_message_parse_buffer() never fails: it skips what it does not
 * understand, silently truncates long fields and stops at a NUL. So the text
 * is checked before it gets there (size, UTF-8 without control characters,
 * line length and count, number of m-lines), and everything taken from the
 * parsed message afterwards is validated as it is used: attribute values are
 * the unparsed rest of a line, and anything we echo into the answer (mid,
 * proto, fmtp) must be a plain token so a hostile offer cannot shape our
 * answer beyond choosing among what we support.
 *
 * Codec selection walks each m-line's payload types once into a table
 * indexed by payload type, then follows the m= format list, which is the
 * viewer's order of preference. Payload types 64-95 are never chosen: with
 * rtcp-mux they would be mistaken for RTCP packet types (RFC 5761 §4).
 *
 * The answer is built as a GstSDPMessage and serialised with
 * gst_sdp_message_as_text(), so the relay never pastes SDP text together.
 * Trickle fragments (RFC 8840) are not complete SDP and are parsed by hand
 * here, line by line, with the same bounds.
 */

#include "kringkast/kk-sdp.h"

#include <gio/gio.h>
#include <string.h>

G_DEFINE_QUARK (kk-sdp-error-quark, kk_sdp_error)

/* Bounds on what we hand to the parser and on what we take out of it. The
 * largest real offers (Chrome, every codec, simulcast) stay well below. */
#define MAX_LINE_LEN 4096
#define MAX_LINES 4096
#define MAX_FORMATS 128
#define MAX_MID_LEN 64
#define MAX_TOKEN_LEN 64
#define MAX_FMTP_LEN 1024
#define MIN_UFRAG_LEN 4
#define MAX_UFRAG_LEN 256
#define MIN_PWD_LEN 22
#define MAX_PWD_LEN 256
#define MAX_TRICKLE_CANDIDATES 64
#define MAX_CANDIDATE_LEN 1024

/* The relay's candidate priorities (RFC 8445 §5.1.2.1): type preference
 * 126 for UDP host and 90 for TCP host candidates, so that every UDP
 * candidate outranks every TCP one, and local preferences (TCP's in the
 * lower half, RFC 6544 §4.2 leaves them to us) that fall with the address's
 * position so the first address is preferred. The first address's pair is
 * 2130706431 and 1518280447. */
#define PRIO_TYPE_UDP 126
#define PRIO_TYPE_TCP 90
#define PRIO_LOCAL_UDP 65535
#define PRIO_LOCAL_TCP 32542

#define FB_NACK (1 << 0)
#define FB_PLI (1 << 1)
#define FB_FIR (1 << 2)

typedef enum {
  DIR_SENDRECV,
  DIR_SENDONLY,
  DIR_RECVONLY,
  DIR_INACTIVE,
} Direction;

typedef enum {
  ROLE_VIEWER,
  ROLE_PUBLISHER,
} OfferRole;

/* ---- character classes ---- */

/* RFC 4566 token-char. */
static gboolean
is_token_char (char c)
{
  return c == '!' || (c >= '#' && c <= '\'') || c == '*' || c == '+' ||
      c == '-' || c == '.' || (c >= '0' && c <= '9') ||
      (c >= 'A' && c <= 'Z') || (c >= '^' && c <= '~');
}

static gboolean
is_token (const char *s, gsize max_len)
{
  gsize i;

  if (s == NULL || *s == '\0')
    return FALSE;
  for (i = 0; s[i] != '\0'; i++)
    if (i >= max_len || !is_token_char (s[i]))
      return FALSE;
  return TRUE;
}

/* Visible ASCII, no spaces: what an m= field or a candidate word may be. */
static gboolean
is_visible (const char *s, gsize max_len)
{
  gsize i;

  if (s == NULL || *s == '\0')
    return FALSE;
  for (i = 0; s[i] != '\0'; i++)
    if (i >= max_len || s[i] < 0x21 || s[i] > 0x7e)
      return FALSE;
  return TRUE;
}

/* Printable ASCII, spaces allowed: an fmtp parameter list. */
static gboolean
is_printable (const char *s, gsize max_len)
{
  gsize i;

  for (i = 0; s[i] != '\0'; i++)
    if (i >= max_len || s[i] < 0x20 || s[i] > 0x7e)
      return FALSE;
  return TRUE;
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static gboolean
is_ice_string (const char *s, gsize min_len, gsize max_len)
{
  gsize i;

  for (i = 0; s[i] != '\0'; i++)
    if (i >= max_len || !(g_ascii_isalnum (s[i]) || s[i] == '+' || s[i] == '/'))
      return FALSE;
  return i >= min_len;
}

/* ---- the text before parsing ---- */

/* Bounds the text and checks that gst's lenient line splitting sees the
 * same lines we count: UTF-8, no NUL or other control characters except
 * tab, CR only right before LF, lines of bounded length and number.
 * @n_mlines receives the number of lines that gst will take as m= lines. */
static gboolean
check_text (const char *text, gsize len, guint *n_mlines, GError **error)
{
  gsize line_start = 0, i;
  guint n_lines = 0, mlines = 0;

  if (len == 0) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED, "empty body");
    return FALSE;
  }
  if (len > KK_SDP_MAX_LEN) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "body of %" G_GSIZE_FORMAT " bytes is larger than %d", len,
        KK_SDP_MAX_LEN);
    return FALSE;
  }
  if (!g_utf8_validate_len (text, len, NULL)) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "body is not UTF-8 text");
    return FALSE;
  }

  for (i = 0; i <= len; i++) {
    guchar c = i < len ? (guchar) text[i] : '\n';
    gsize start, end;

    if (c == '\r' && (i + 1 == len || text[i + 1] == '\n'))
      continue;
    if (c != '\n') {
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "control character 0x%02x at offset %" G_GSIZE_FORMAT, c, i);
        return FALSE;
      }
      if (c == '\r') {
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "CR without LF at offset %" G_GSIZE_FORMAT, i);
        return FALSE;
      }
      continue;
    }

    start = line_start;
    end = i > line_start && text[i - 1] == '\r' ? i - 1 : i;
    line_start = i + 1;
    if (i == len && start == end)
      break;                    /* no empty line after the last LF */
    if (end - start > MAX_LINE_LEN) {
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
          "line %u is longer than %d bytes", n_lines + 1, MAX_LINE_LEN);
      return FALSE;
    }
    if (++n_lines > MAX_LINES) {
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
          "more than %d lines", MAX_LINES);
      return FALSE;
    }
    /* gst skips leading white space before the type letter. */
    while (start < end && (text[start] == ' ' || text[start] == '\t'))
      start++;
    if (end - start >= 2 && text[start] == 'm' && text[start + 1] == '=')
      mlines++;
  }

  if (mlines > KK_SDP_MAX_MEDIA) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "%u m-lines, at most %d are accepted", mlines, KK_SDP_MAX_MEDIA);
    return FALSE;
  }
  *n_mlines = mlines;
  return TRUE;
}

static GstSDPMessage *
parse_message (const char *text, gsize len, GError **error)
{
  g_autofree char *copy = NULL;
  g_autoptr (GstSDPMessage) msg = NULL;
  guint n_mlines = 0;

  if (!check_text (text, len, &n_mlines, error))
    return NULL;

  /* Checked above: no NUL inside, so the copy is the whole body. */
  copy = g_strndup (text, len);
  if (gst_sdp_message_new_from_text (copy, &msg) != GST_SDP_OK) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "not an SDP message");
    return NULL;
  }
  if (g_strcmp0 (gst_sdp_message_get_version (msg), "0") != 0) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "not an SDP message (no v=0)");
    return NULL;
  }
  if (gst_sdp_message_medias_len (msg) != n_mlines) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "inconsistent m-lines");
    return NULL;
  }
  if (n_mlines == 0) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_UNSUPPORTED,
        "the offer has no m-line");
    return NULL;
  }
  return g_steal_pointer (&msg);
}

/* ---- attributes ---- */

/* Session and media attributes are both a GArray of GstSDPAttribute, which
 * gst's headers make public; walking it directly keeps every lookup linear
 * and lets one helper serve both levels. Parsed values are never NULL. */
static const char *
attr_get (const GArray *attrs, const char *key)
{
  guint i;

  for (i = 0; i < attrs->len; i++) {
    const GstSDPAttribute *a = &g_array_index (attrs, GstSDPAttribute, i);

    if (strcmp (a->key, key) == 0)
      return a->value ? a->value : "";
  }
  return NULL;
}

static guint
attr_count (const GArray *attrs, const char *key)
{
  guint i, n = 0;

  for (i = 0; i < attrs->len; i++)
    if (strcmp (g_array_index (attrs, GstSDPAttribute, i).key, key) == 0)
      n++;
  return n;
}

static gboolean
read_direction (const GArray *attrs, Direction fallback, Direction *dir,
    GError **error)
{
  static const char *const names[] = {
    [DIR_SENDRECV] = "sendrecv", [DIR_SENDONLY] = "sendonly",
    [DIR_RECVONLY] = "recvonly", [DIR_INACTIVE] = "inactive",
  };
  guint i, found = 0;

  *dir = fallback;
  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    guint n = attr_count (attrs, names[i]);

    if (n > 0)
      *dir = (Direction) i;
    found += n;
  }
  if (found > 1) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "more than one direction attribute");
    return FALSE;
  }
  return TRUE;
}

/* A payload type of 0-127 in decimal: "<pt> <rest>" for an attribute
 * value, or exactly "<pt>" (an m= format) when @rest is NULL. */
static gboolean
parse_pt_prefix (const char *value, gint *pt, const char **rest)
{
  gint n = 0, digits = 0;
  const char *p = value;

  while (g_ascii_isdigit (*p) && digits < 3) {
    n = n * 10 + (*p - '0');
    p++;
    digits++;
  }
  if (digits == 0 || n > 127)
    return FALSE;
  if (rest == NULL) {
    /* A whole m= format, nothing after the number. */
    if (*p != '\0')
      return FALSE;
  } else {
    if (*p != ' ')
      return FALSE;
    while (*p == ' ')
      p++;
    *rest = p;
  }
  *pt = n;
  return TRUE;
}

static guint8
feedback_flag (const char *fb)
{
  if (strcmp (fb, "nack") == 0)
    return FB_NACK;
  if (strcmp (fb, "nack pli") == 0)
    return FB_PLI;
  if (strcmp (fb, "ccm fir") == 0)
    return FB_FIR;
  return 0;
}

/* What one m-line says about each payload type. */
typedef struct {
  const char *rtpmap[128];      /* "VP8/90000", without the pt */
  const char *fmtp[128];        /* the parameter list, without the pt */
  guint8 fb[128];
  guint8 fb_any;                /* a=rtcp-fb:* */
} PtTable;

static void
collect_payload_types (const GArray *attrs, PtTable *t)
{
  guint i;

  memset (t, 0, sizeof (*t));
  for (i = 0; i < attrs->len; i++) {
    const GstSDPAttribute *a = &g_array_index (attrs, GstSDPAttribute, i);
    const char *rest;
    gint pt;

    if (a->value == NULL)
      continue;
    if (strcmp (a->key, "rtpmap") == 0) {
      if (parse_pt_prefix (a->value, &pt, &rest) && t->rtpmap[pt] == NULL)
        t->rtpmap[pt] = rest;
    } else if (strcmp (a->key, "fmtp") == 0) {
      if (parse_pt_prefix (a->value, &pt, &rest) && t->fmtp[pt] == NULL)
        t->fmtp[pt] = rest;
    } else if (strcmp (a->key, "rtcp-fb") == 0) {
      if (a->value[0] == '*' && a->value[1] == ' ')
        t->fb_any |= feedback_flag (a->value + 2);
      else if (parse_pt_prefix (a->value, &pt, &rest))
        t->fb[pt] |= feedback_flag (rest);
    }
  }
}

static KkCodec
rtpmap_codec (KkMediaKind kind, const char *rtpmap)
{
  const char *slash = strchr (rtpmap, '/');
  gsize name_len;

  if (slash == NULL)
    return KK_CODEC_NONE;
  name_len = slash - rtpmap;
  if (kind == KK_MEDIA_AUDIO) {
    if (name_len == 4 && g_ascii_strncasecmp (rtpmap, "opus", 4) == 0 &&
        strcmp (slash + 1, "48000/2") == 0)
      return KK_CODEC_OPUS;
  } else if (kind == KK_MEDIA_VIDEO && strcmp (slash + 1, "90000") == 0) {
    if (name_len == 3 && g_ascii_strncasecmp (rtpmap, "vp8", 3) == 0)
      return KK_CODEC_VP8;
    if (name_len == 4 && g_ascii_strncasecmp (rtpmap, "h264", 4) == 0)
      return KK_CODEC_H264;
  }
  return KK_CODEC_NONE;
}

static gint
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Whether an H.264 fmtp describes what the relay forwards: non-interleaved
 * mode, Baseline or Constrained Baseline at any level. profile-level-id is
 * profile_idc, profile-iop (constraint_set0..5 flags, then two reserved
 * zero bits) and level_idc; RFC 6184 §8.1 table 5 lists which combinations
 * mean Constrained Baseline, and profile_idc 0x42 without constraint_set1 is
 * plain Baseline. A missing profile-level-id means 420010, Baseline. */
static gboolean
h264_fmtp_usable (const char *fmtp)
{
  g_auto (GStrv) params = NULL;
  gboolean mode1 = FALSE;
  guint profile_idc = 0x42, iop = 0x00;
  guint i;

  if (fmtp == NULL)
    return FALSE;               /* packetization-mode defaults to 0 */
  params = g_strsplit (fmtp, ";", 32);
  for (i = 0; params[i] != NULL; i++) {
    char *eq, *key, *val;

    key = g_strstrip (params[i]);
    eq = strchr (key, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    val = g_strstrip (eq + 1);
    g_strchomp (key);
    if (g_ascii_strcasecmp (key, "packetization-mode") == 0) {
      mode1 = strcmp (val, "1") == 0;
    } else if (g_ascii_strcasecmp (key, "profile-level-id") == 0) {
      gint d[6], j;

      if (strlen (val) != 6)
        return FALSE;
      for (j = 0; j < 6; j++)
        if ((d[j] = hex_value (val[j])) < 0)
          return FALSE;
      profile_idc = (guint) (d[0] << 4 | d[1]);
      iop = (guint) (d[2] << 4 | d[3]);
    }
  }
  if (!mode1)
    return FALSE;
  /* Each mask also covers the reserved bits, which must be zero. */
  switch (profile_idc) {
    case 0x42:                  /* Baseline, or Constrained with set1 */
      return (iop & 0x0f) == 0;
    case 0x4d:                  /* Main with constraint_set0: Constrained */
      return (iop & 0x8f) == 0x80;
    case 0x58:                  /* Extended with set0 and set1: Constrained */
      return (iop & 0xcf) == 0xc0;
    default:
      return FALSE;
  }
}

/* ---- fingerprints ---- */

static const struct {
  const char *name;
  gsize len;
} fingerprint_hashes[] = {
  { "sha-1", 20 }, { "sha-224", 28 }, { "sha-256", 32 },
  { "sha-384", 48 }, { "sha-512", 64 },
};

typedef enum {
  FP_OK,
  FP_UNKNOWN_HASH,
  FP_BAD,
} FpResult;

/* RFC 8122: "<hash-func> <HH:HH:...>". */
static FpResult
parse_fingerprint (const char *value, char **hash, guint8 *out, gsize *out_len)
{
  const char *sp = strchr (value, ' '), *hex;
  g_autofree char *name = NULL;
  gsize n = 0, i;

  if (sp == NULL || sp == value || sp - value > 16)
    return FP_BAD;
  name = g_ascii_strdown (value, sp - value);
  for (i = 0; i < G_N_ELEMENTS (fingerprint_hashes); i++)
    if (strcmp (name, fingerprint_hashes[i].name) == 0)
      n = fingerprint_hashes[i].len;
  if (n == 0)
    return FP_UNKNOWN_HASH;

  hex = sp;
  while (*hex == ' ')
    hex++;
  if (strlen (hex) != n * 3 - 1)
    return FP_BAD;
  for (i = 0; i < n; i++) {
    gint hi = hex_value (hex[3 * i]), lo = hex_value (hex[3 * i + 1]);

    if (hi < 0 || lo < 0 || (i + 1 < n && hex[3 * i + 2] != ':'))
      return FP_BAD;
    out[i] = (guint8) (hi << 4 | lo);
  }
  *hash = g_steal_pointer (&name);
  *out_len = n;
  return FP_OK;
}

/* Takes sha-256 when offered (every browser does), else the first
 * fingerprint whose hash we know. Any malformed one fails the offer. */
static gboolean
read_fingerprint (const GArray *attrs, KkViewerOffer *offer, GError **error)
{
  gboolean seen = FALSE;
  guint i;

  for (i = 0; i < attrs->len; i++) {
    const GstSDPAttribute *a = &g_array_index (attrs, GstSDPAttribute, i);
    g_autofree char *hash = NULL;
    guint8 fp[64];
    gsize fp_len = 0;

    if (strcmp (a->key, "fingerprint") != 0)
      continue;
    seen = TRUE;
    switch (parse_fingerprint (a->value ? a->value : "", &hash, fp, &fp_len)) {
      case FP_BAD:
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "malformed a=fingerprint");
        return FALSE;
      case FP_UNKNOWN_HASH:
        continue;
      case FP_OK:
        break;
    }
    if (offer->fingerprint_hash == NULL ||
        (strcmp (hash, "sha-256") == 0 &&
            strcmp (offer->fingerprint_hash, "sha-256") != 0)) {
      g_free (offer->fingerprint_hash);
      offer->fingerprint_hash = g_steal_pointer (&hash);
      memcpy (offer->fingerprint, fp, fp_len);
      offer->fingerprint_len = fp_len;
    }
  }
  if (offer->fingerprint_hash == NULL) {
    if (seen)
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_UNSUPPORTED,
          "no a=fingerprint with a supported hash function");
    else
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MISSING,
          "no a=fingerprint");
    return FALSE;
  }
  return TRUE;
}

/* ---- offers ---- */

static gboolean
is_secure_rtp_proto (const char *proto)
{
  static const char *const protos[] = {
    "UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "TCP/DTLS/RTP/SAVPF",
    "TCP/DTLS/RTP/SAVP", "RTP/SAVPF", "RTP/SAVP",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (protos); i++)
    if (strcmp (proto, protos[i]) == 0)
      return TRUE;
  return FALSE;
}

/* An fmtp we may copy into the answer: absent, or short printable text. */
static gboolean
fmtp_echoable (const char *fmtp)
{
  return fmtp == NULL || is_printable (fmtp, MAX_FMTP_LEN);
}

static void
choose_codecs (const GstSDPMedia *media, OfferRole role, KkOfferMedia *om)
{
  PtTable table, *t = &table;
  guint i, n_fmts = gst_sdp_media_formats_len (media);
  guint8 fb = FB_NACK | FB_PLI | FB_FIR;
  gboolean any = FALSE;

  collect_payload_types (media->attributes, t);
  for (i = 0; i < n_fmts; i++) {
    const char *fmtp;
    gint pt;

    if (!parse_pt_prefix (gst_sdp_media_get_format (media, i), &pt, NULL) ||
        (pt >= 64 && pt <= 95) || t->rtpmap[pt] == NULL)
      continue;
    fmtp = t->fmtp[pt];
    switch (rtpmap_codec (om->kind, t->rtpmap[pt])) {
      case KK_CODEC_OPUS:
        if (om->pt_opus >= 0 || !fmtp_echoable (fmtp))
          continue;
        om->pt_opus = pt;
        om->opus_fmtp = g_strdup (fmtp);
        break;
      case KK_CODEC_VP8:
        if (om->pt_vp8 >= 0)
          continue;
        om->pt_vp8 = pt;
        break;
      case KK_CODEC_H264:
        /* A publisher's H.264 goes to webrtcbin, which takes any profile. */
        if (om->pt_h264 >= 0 || !fmtp_echoable (fmtp) ||
            (role == ROLE_VIEWER && !h264_fmtp_usable (fmtp)))
          continue;
        om->pt_h264 = pt;
        om->h264_fmtp = g_strdup (fmtp);
        break;
      case KK_CODEC_NONE:
        continue;
    }
    /* Feedback the answer may list for every codec it answers with. */
    fb &= t->fb[pt] | t->fb_any;
    any = TRUE;
  }
  om->nack = any && (fb & FB_NACK);
  om->pli = any && (fb & FB_PLI);
  om->fir = any && (fb & FB_FIR);
}

static gboolean
parse_media (const GstSDPMedia *media, guint index, Direction session_dir,
    OfferRole role, KkOfferMedia *om, gboolean *sends, GError **error)
{
  const char *name = gst_sdp_media_get_media (media);
  const char *proto = gst_sdp_media_get_proto (media);
  guint n_fmts = gst_sdp_media_formats_len (media);
  const char *mid;
  Direction dir;

  om->pt_vp8 = om->pt_h264 = om->pt_opus = -1;
  if (!is_token (name, MAX_TOKEN_LEN) || !is_visible (proto, MAX_TOKEN_LEN) ||
      n_fmts == 0 || n_fmts > MAX_FORMATS ||
      !is_visible (gst_sdp_media_get_format (media, 0), MAX_TOKEN_LEN)) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "m-line %u is malformed", index);
    return FALSE;
  }
  om->media_name = g_strdup (name);
  om->proto = g_strdup (proto);
  om->fmt = g_strdup (gst_sdp_media_get_format (media, 0));
  if (strcmp (name, "audio") == 0)
    om->kind = KK_MEDIA_AUDIO;
  else if (strcmp (name, "video") == 0)
    om->kind = KK_MEDIA_VIDEO;
  else
    om->kind = KK_MEDIA_OTHER;

  /* RFC 8843 §6: a bundle-only m-line has port 0 but is not rejected. */
  om->port_zero = gst_sdp_media_get_port (media) == 0 &&
      attr_get (media->attributes, "bundle-only") == NULL;

  if (!read_direction (media->attributes, session_dir, &dir, error))
    return FALSE;
  om->can_receive = dir == DIR_RECVONLY || dir == DIR_SENDRECV;
  *sends = dir == DIR_SENDONLY || dir == DIR_SENDRECV;

  if (attr_count (media->attributes, "mid") > 1) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "m-line %u has more than one a=mid", index);
    return FALSE;
  }
  mid = attr_get (media->attributes, "mid");
  if (mid != NULL) {
    if (!is_token (mid, MAX_MID_LEN)) {
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
          "m-line %u has an invalid a=mid", index);
      return FALSE;
    }
    om->mid = g_strdup (mid);
  }

  if (om->kind != KK_MEDIA_OTHER && is_secure_rtp_proto (proto))
    choose_codecs (media, role, om);
  return TRUE;
}

static gboolean
media_has_codec (const KkOfferMedia *om)
{
  return om->kind == KK_MEDIA_AUDIO ? om->pt_opus >= 0 :
      om->kind == KK_MEDIA_VIDEO ? (om->pt_vp8 >= 0 || om->pt_h264 >= 0) :
      FALSE;
}

/* The first mid of the first a=group:BUNDLE, or NULL without one. */
static gboolean
find_bundle_tag (const GstSDPMessage *msg, char **tag, GError **error)
{
  guint i;

  *tag = NULL;
  for (i = 0; i < msg->attributes->len; i++) {
    const GstSDPAttribute *a = &g_array_index (msg->attributes,
        GstSDPAttribute, i);
    g_auto (GStrv) words = NULL;

    if (strcmp (a->key, "group") != 0 || a->value == NULL ||
        !g_str_has_prefix (a->value, "BUNDLE"))
      continue;
    words = g_strsplit (a->value, " ", 3);
    if (strcmp (words[0], "BUNDLE") != 0)
      continue;
    if (words[1] == NULL || words[1][0] == '\0')
      return TRUE;              /* an empty group bundles nothing */
    if (!is_token (words[1], MAX_MID_LEN)) {
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
          "invalid a=group:BUNDLE");
      return FALSE;
    }
    *tag = g_strdup (words[1]);
    return TRUE;
  }
  return TRUE;
}

static gboolean
read_transport (const GstSDPMessage *msg, const GstSDPMedia *media,
    KkViewerOffer *offer, GError **error)
{
  const char *ufrag, *pwd, *setup;

  ufrag = attr_get (media->attributes, "ice-ufrag");
  if (ufrag == NULL)
    ufrag = attr_get (msg->attributes, "ice-ufrag");
  pwd = attr_get (media->attributes, "ice-pwd");
  if (pwd == NULL)
    pwd = attr_get (msg->attributes, "ice-pwd");
  if (ufrag == NULL || pwd == NULL) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MISSING,
        "no ICE credentials (a=ice-ufrag, a=ice-pwd)");
    return FALSE;
  }
  if (!is_ice_string (ufrag, MIN_UFRAG_LEN, MAX_UFRAG_LEN) ||
      !is_ice_string (pwd, MIN_PWD_LEN, MAX_PWD_LEN)) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "invalid ICE credentials");
    return FALSE;
  }
  offer->ice_ufrag = g_strdup (ufrag);
  offer->ice_pwd = g_strdup (pwd);

  if (!read_fingerprint (attr_count (media->attributes, "fingerprint") > 0 ?
          media->attributes : msg->attributes, offer, error))
    return FALSE;

  setup = attr_get (media->attributes, "setup");
  if (setup == NULL)
    setup = attr_get (msg->attributes, "setup");
  /* RFC 5763 makes the offerer say actpass; treat silence the same way. */
  if (setup == NULL || strcmp (setup, "actpass") == 0)
    offer->setup = KK_DTLS_SETUP_ACTPASS;
  else if (strcmp (setup, "active") == 0)
    offer->setup = KK_DTLS_SETUP_ACTIVE;
  else if (strcmp (setup, "passive") == 0)
    offer->setup = KK_DTLS_SETUP_PASSIVE;
  else {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "unsupported a=setup");
    return FALSE;
  }

  /* The relay has one component per transport: RTCP must share it. */
  offer->rtcp_mux = attr_get (media->attributes, "rtcp-mux") != NULL;
  if (!offer->rtcp_mux) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MISSING,
        "no a=rtcp-mux");
    return FALSE;
  }
  return TRUE;
}

/* Parses what both kinds of offer share. A viewer's m-line is usable when
 * it can receive a codec we send; a publisher's when it sends one. */
static KkViewerOffer *
parse_offer (const GstSDPMessage *msg, OfferRole role, GError **error)
{
  g_autoptr (KkViewerOffer) offer = g_new0 (KkViewerOffer, 1);
  g_autofree char *tag = NULL;
  gboolean any_usable = FALSE;
  Direction session_dir;
  gint transport = -1;
  guint i, j;

  if (!read_direction (msg->attributes, DIR_SENDRECV, &session_dir, error) ||
      !find_bundle_tag (msg, &tag, error))
    return NULL;
  offer->bundle = tag != NULL;

  offer->n_media = gst_sdp_message_medias_len (msg);
  for (i = 0; i < offer->n_media; i++) {
    KkOfferMedia *om = &offer->media[i];
    gboolean sends = FALSE, usable;

    if (!parse_media (gst_sdp_message_get_media (msg, i), i, session_dir,
            role, om, &sends, error))
      return NULL;
    for (j = 0; j < i; j++) {
      if (om->mid != NULL && g_strcmp0 (om->mid, offer->media[j].mid) == 0) {
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "duplicate a=mid:%s", om->mid);
        return NULL;
      }
    }
    usable = !om->port_zero && media_has_codec (om) &&
        (role == ROLE_VIEWER ? om->can_receive : sends);
    any_usable |= usable;
    if (tag != NULL && g_strcmp0 (om->mid, tag) == 0)
      transport = (gint) i;
    else if (tag == NULL && transport < 0 && usable)
      transport = (gint) i;
  }

  if (!any_usable) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_UNSUPPORTED,
        role == ROLE_VIEWER ?
        "no m-line can receive Opus, VP8 or Constrained Baseline H.264" :
        "no m-line sends Opus, VP8 or H.264");
    return NULL;
  }
  /* The tagged m-line carries the transport: it cannot be bundle-only. */
  if (tag != NULL && (transport < 0 ||
          gst_sdp_media_get_port (gst_sdp_message_get_media (msg,
                  transport)) == 0)) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "the BUNDLE tag %s names no m-line with a transport", tag);
    return NULL;
  }

  if (!read_transport (msg, gst_sdp_message_get_media (msg, transport),
          offer, error))
    return NULL;
  return g_steal_pointer (&offer);
}

KkViewerOffer *
kk_sdp_parse_viewer_offer (const char *sdp, gsize len, GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;

  g_return_val_if_fail (sdp != NULL || len == 0, NULL);

  msg = parse_message (sdp, len, error);
  if (msg == NULL)
    return NULL;
  return parse_offer (msg, ROLE_VIEWER, error);
}

static void
offer_media_clear (KkOfferMedia *om)
{
  g_free (om->mid);
  g_free (om->h264_fmtp);
  g_free (om->opus_fmtp);
  g_free (om->media_name);
  g_free (om->proto);
  g_free (om->fmt);
}

void
kk_viewer_offer_free (KkViewerOffer *offer)
{
  guint i;

  if (offer == NULL)
    return;
  for (i = 0; i < G_N_ELEMENTS (offer->media); i++)
    offer_media_clear (&offer->media[i]);
  g_free (offer->ice_ufrag);
  g_free (offer->ice_pwd);
  g_free (offer->fingerprint_hash);
  g_free (offer);
}

GstSDPMessage *
kk_sdp_check_publisher_offer (const char *sdp, gsize len, GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;
  g_autoptr (KkViewerOffer) offer = NULL;

  g_return_val_if_fail (sdp != NULL || len == 0, NULL);

  msg = parse_message (sdp, len, error);
  if (msg == NULL)
    return NULL;
  offer = parse_offer (msg, ROLE_PUBLISHER, error);
  if (offer == NULL)
    return NULL;
  return g_steal_pointer (&msg);
}

static gboolean
is_simulcast_attribute (const GstSDPAttribute *attr)
{
  if (g_strcmp0 (attr->key, "rid") == 0
      || g_strcmp0 (attr->key, "simulcast") == 0)
    return TRUE;
  return g_strcmp0 (attr->key, "extmap") == 0 && attr->value != NULL
      && (strstr (attr->value, "sdes:rtp-stream-id") != NULL
          || strstr (attr->value, "sdes:repaired-rtp-stream-id") != NULL);
}

/* Left in, webrtcbin 1.22 would echo the a=rid lines (as "send", not even
 * turned round) without an a=simulcast line, which browsers read in
 * different ways. */
gboolean
kk_sdp_media_drop_simulcast (GstSDPMedia *media)
{
  gboolean dropped = FALSE;

  for (guint i = gst_sdp_media_attributes_len (media); i-- > 0;) {
    if (is_simulcast_attribute (gst_sdp_media_get_attribute (media, i))) {
      gst_sdp_media_remove_attribute (media, i);
      dropped = TRUE;
    }
  }
  return dropped;
}

/* ---- answers ---- */

/* Picks the m-line of @kind to answer: the first that can receive one of
 * our codecs, else the first that has one but only sends (answered
 * inactive, so the viewer keeps its transceiver and gets nothing). */
static gint
choose_media (const KkViewerOffer *offer, KkMediaKind kind,
    const KkAnswerParams *params)
{
  gint fallback = -1;
  guint i;

  for (i = 0; i < offer->n_media; i++) {
    const KkOfferMedia *om = &offer->media[i];
    gboolean codec;

    if (om->kind != kind || om->port_zero)
      continue;
    if (kind == KK_MEDIA_AUDIO)
      codec = om->pt_opus >= 0;
    else
      codec = (params->offer_vp8 && om->pt_vp8 >= 0) ||
          (params->offer_h264 && om->pt_h264 >= 0);
    if (!codec)
      continue;
    if (om->can_receive)
      return (gint) i;
    if (fallback < 0)
      fallback = (gint) i;
  }
  return fallback;
}

static void
add_attr_printf (GstSDPMedia *media, const char *key, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
add_attr_printf (GstSDPMedia *media, const char *key, const char *format, ...)
{
  g_autofree char *value = NULL;
  va_list args;

  va_start (args, format);
  value = g_strdup_vprintf (format, args);
  va_end (args);
  gst_sdp_media_add_attribute (media, key, value);
}

static void
add_codec (GstSDPMedia *media, gint pt, const char *rtpmap, const char *fmtp,
    const KkOfferMedia *om)
{
  g_autofree char *fmt = g_strdup_printf ("%d", pt);

  gst_sdp_media_add_format (media, fmt);
  add_attr_printf (media, "rtpmap", "%d %s", pt, rtpmap);
  if (fmtp != NULL && fmtp[0] != '\0')
    add_attr_printf (media, "fmtp", "%d %s", pt, fmtp);
  if (om->nack)
    add_attr_printf (media, "rtcp-fb", "%d nack", pt);
  if (om->pli)
    add_attr_printf (media, "rtcp-fb", "%d nack pli", pt);
  if (om->fir)
    add_attr_printf (media, "rtcp-fb", "%d ccm fir", pt);
}

/* RFC 8445 §5.1.2.1, component 1. */
static guint32
candidate_priority (guint32 type_pref, guint32 local_pref)
{
  return type_pref << 24 | local_pref << 8 | (256 - 1);
}

static const char *
addr_type (const char *ip)
{
  return strchr (ip, ':') != NULL ? "IP6" : "IP4";
}

static void
add_accepted_media (GstSDPMessage *msg, const KkOfferMedia *om,
    const KkAnswerParams *params)
{
  const KkSdpAddress *first = &params->addresses[0];
  /* The media type doubles as the msid track id: unique per answer. */
  const char *track = om->kind == KK_MEDIA_AUDIO ? "audio" : "video";
  guint32 ssrc = om->kind == KK_MEDIA_AUDIO ? params->audio_ssrc :
      params->video_ssrc;
  GstSDPMedia media = { 0 };
  guint i;

  gst_sdp_media_init (&media);
  gst_sdp_media_set_media (&media, track);
  gst_sdp_media_set_port_info (&media, first->port, 0);
  gst_sdp_media_set_proto (&media, om->proto);
  gst_sdp_media_add_connection (&media, "IN", addr_type (first->ip),
      first->ip, 0, 0);
  if (om->mid != NULL)
    gst_sdp_media_add_attribute (&media, "mid", om->mid);
  gst_sdp_media_add_attribute (&media, om->can_receive ? "sendonly" :
      "inactive", NULL);
  gst_sdp_media_add_attribute (&media, "rtcp-mux", NULL);
  gst_sdp_media_add_attribute (&media, "ice-ufrag", params->ice_ufrag);
  gst_sdp_media_add_attribute (&media, "ice-pwd", params->ice_pwd);
  gst_sdp_media_add_attribute (&media, "fingerprint", params->fingerprint);
  gst_sdp_media_add_attribute (&media, "setup",
      params->setup == KK_DTLS_SETUP_ACTIVE ? "active" : "passive");

  for (i = 0; i < params->n_addresses; i++) {
    const KkSdpAddress *a = &params->addresses[i];
    guint32 step = MIN (i, PRIO_LOCAL_TCP);

    add_attr_printf (&media, "candidate", "%u 1 udp %u %s %u typ host",
        2 * i + 1, candidate_priority (PRIO_TYPE_UDP, PRIO_LOCAL_UDP - step),
        a->ip, a->port);
    add_attr_printf (&media, "candidate",
        "%u 1 tcp %u %s %u typ host tcptype passive", 2 * i + 2,
        candidate_priority (PRIO_TYPE_TCP, PRIO_LOCAL_TCP - step), a->ip,
        a->port);
  }
  gst_sdp_media_add_attribute (&media, "end-of-candidates", NULL);

  if (om->kind == KK_MEDIA_AUDIO) {
    add_codec (&media, om->pt_opus, "opus/48000/2", om->opus_fmtp, om);
  } else {
    if (params->offer_vp8 && om->pt_vp8 >= 0)
      add_codec (&media, om->pt_vp8, "VP8/90000", NULL, om);
    if (params->offer_h264 && om->pt_h264 >= 0)
      add_codec (&media, om->pt_h264, "H264/90000", om->h264_fmtp, om);
  }

  add_attr_printf (&media, "ssrc", "%u cname:%s", ssrc, params->cname);
  add_attr_printf (&media, "ssrc", "%u msid:%s %s", ssrc, params->stream_id,
      track);
  add_attr_printf (&media, "msid", "%s %s", params->stream_id, track);

  gst_sdp_message_add_media (msg, &media);
}

/* RFC 3264 §6: port 0, the offer's media and proto, any one format. */
static void
add_rejected_media (GstSDPMessage *msg, const KkOfferMedia *om)
{
  GstSDPMedia media = { 0 };

  gst_sdp_media_init (&media);
  gst_sdp_media_set_media (&media, om->media_name);
  gst_sdp_media_set_port_info (&media, 0, 0);
  gst_sdp_media_set_proto (&media, om->proto);
  gst_sdp_media_add_format (&media, om->fmt);
  gst_sdp_media_add_connection (&media, "IN", "IP4", "0.0.0.0", 0, 0);
  if (om->mid != NULL)
    gst_sdp_media_add_attribute (&media, "mid", om->mid);
  gst_sdp_media_add_attribute (&media, "inactive", NULL);
  gst_sdp_message_add_media (msg, &media);
}

/* A numeric address without an IPv6 zone, which has no place in SDP. */
static gboolean
address_is_numeric (const char *ip)
{
  g_autoptr (GInetAddress) addr = NULL;

  if (!is_visible (ip, 64) || strchr (ip, '%') != NULL)
    return FALSE;
  addr = g_inet_address_new_from_string (ip);
  return addr != NULL;
}

char *
kk_sdp_build_viewer_answer (const KkViewerOffer *offer,
    const KkAnswerParams *params, gint *chosen_audio, gint *chosen_video,
    GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;
  g_autoptr (GString) group = NULL;
  g_autofree char *session_id = NULL;
  gint audio, video;
  guint i;

  g_return_val_if_fail (offer != NULL, NULL);
  g_return_val_if_fail (offer->n_media <= KK_SDP_MAX_MEDIA, NULL);
  g_return_val_if_fail (params != NULL, NULL);
  g_return_val_if_fail (is_ice_string (params->ice_ufrag ? params->ice_ufrag :
          "", MIN_UFRAG_LEN, MAX_UFRAG_LEN), NULL);
  g_return_val_if_fail (is_ice_string (params->ice_pwd ? params->ice_pwd : "",
          MIN_PWD_LEN, MAX_PWD_LEN), NULL);
  g_return_val_if_fail (params->fingerprint != NULL &&
      is_printable (params->fingerprint, 256), NULL);
  g_return_val_if_fail (params->setup == KK_DTLS_SETUP_ACTIVE ||
      params->setup == KK_DTLS_SETUP_PASSIVE, NULL);
  g_return_val_if_fail (params->addresses != NULL && params->n_addresses > 0,
      NULL);
  g_return_val_if_fail (is_visible (params->cname, 256), NULL);
  g_return_val_if_fail (is_token (params->stream_id, 64), NULL);
  for (i = 0; i < params->n_addresses; i++)
    g_return_val_if_fail (address_is_numeric (params->addresses[i].ip) &&
        params->addresses[i].port != 0, NULL);
  for (i = 0; i < offer->n_media; i++)
    g_return_val_if_fail (offer->media[i].media_name != NULL &&
        offer->media[i].proto != NULL && offer->media[i].fmt != NULL, NULL);

  audio = choose_media (offer, KK_MEDIA_AUDIO, params);
  video = choose_media (offer, KK_MEDIA_VIDEO, params);
  if (chosen_audio != NULL)
    *chosen_audio = audio;
  if (chosen_video != NULL)
    *chosen_video = video;
  if (audio < 0 && video < 0) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_UNSUPPORTED,
        "no m-line can be answered with the codecs the relay sends");
    return NULL;
  }

  gst_sdp_message_new (&msg);
  gst_sdp_message_set_version (msg, "0");
  session_id = g_strdup_printf ("%" G_GUINT64_FORMAT,
      ((guint64) g_random_int () << 31) ^ g_random_int ());
  gst_sdp_message_set_origin (msg, "-", session_id, "2", "IN", "IP4",
      "127.0.0.1");
  gst_sdp_message_set_session_name (msg, "-");
  gst_sdp_message_add_time (msg, "0", "0", NULL);
  gst_sdp_message_add_attribute (msg, "ice-lite", NULL);

  group = g_string_new ("BUNDLE");
  for (i = 0; i < offer->n_media; i++) {
    const KkOfferMedia *om = &offer->media[i];

    if (((gint) i == audio || (gint) i == video) && om->mid != NULL)
      g_string_append_printf (group, " %s", om->mid);
  }
  if (offer->bundle && group->len > strlen ("BUNDLE"))
    gst_sdp_message_add_attribute (msg, "group", group->str);
  /* The value's leading space gives the conventional "a=msid-semantic: WMS". */
  gst_sdp_message_add_attribute (msg, "msid-semantic", " WMS");

  for (i = 0; i < offer->n_media; i++) {
    const KkOfferMedia *om = &offer->media[i];

    if ((gint) i == audio || (gint) i == video)
      add_accepted_media (msg, om, params);
    else
      add_rejected_media (msg, om);
  }
  return gst_sdp_message_as_text (msg);
}

/* ---- trickle fragments ---- */

static void
trickle_candidate_free (gpointer data)
{
  KkTrickleCandidate *c = data;

  g_free (c->mid);
  g_free (c->candidate);
  g_free (c);
}

void
kk_trickle_fragment_free (KkTrickleFragment *fragment)
{
  if (fragment == NULL)
    return;
  g_free (fragment->ice_ufrag);
  g_free (fragment->ice_pwd);
  if (fragment->candidates != NULL)
    g_ptr_array_unref (fragment->candidates);
  g_free (fragment);
}

/* "candidate:<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> ..." (RFC 8839 §5.1); checked only for shape, webrtcbin
 * reads the fields. */
static gboolean
candidate_well_formed (const char *cand)
{
  g_auto (GStrv) words = NULL;
  guint n;

  if (strlen (cand) > MAX_CANDIDATE_LEN || !is_printable (cand, MAX_CANDIDATE_LEN))
    return FALSE;
  words = g_strsplit (cand, " ", 64);
  n = g_strv_length (words);
  return n >= 8 && strlen (words[0]) > strlen ("candidate:") &&
      is_visible (words[0], 64) && strcmp (words[6], "typ") == 0;
}

static gboolean
trickle_set_credential (char **field, const char *value, gsize min_len,
    gsize max_len, GError **error)
{
  if (*field != NULL) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "repeated ICE credential");
    return FALSE;
  }
  if (!is_ice_string (value, min_len, max_len)) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
        "invalid ICE credential");
    return FALSE;
  }
  *field = g_strdup (value);
  return TRUE;
}

KkTrickleFragment *
kk_sdp_parse_trickle_fragment (const char *body, gsize len, GError **error)
{
  g_autoptr (KkTrickleFragment) fragment = NULL;
  g_autoptr (GPtrArray) mids = NULL;
  g_autofree char *copy = NULL;
  char *line, *next;
  guint n_mlines = 0, i;

  g_return_val_if_fail (body != NULL || len == 0, NULL);

  /* The same bounds and line rules as a full SDP. */
  if (!check_text (body, len, &n_mlines, error))
    return NULL;

  fragment = g_new0 (KkTrickleFragment, 1);
  fragment->candidates = g_ptr_array_new_with_free_func (trickle_candidate_free);
  mids = g_ptr_array_new_with_free_func (g_free);

  copy = g_strndup (body, len);
  for (line = copy; line != NULL; line = next) {
    gsize line_len;

    next = strchr (line, '\n');
    if (next != NULL)
      *next++ = '\0';
    line_len = strlen (line);
    if (line_len > 0 && line[line_len - 1] == '\r')
      line[--line_len] = '\0';
    if (line_len == 0)
      continue;
    if (line_len < 2 || line[1] != '=') {
      g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
          "not an SDP line");
      return NULL;
    }

    if (line[0] == 'm') {
      g_ptr_array_add (mids, NULL);
    } else if (line[0] != 'a') {
      continue;                 /* c=, b=...: nothing trickle needs */
    } else if (g_str_has_prefix (line, "a=ice-ufrag:")) {
      if (!trickle_set_credential (&fragment->ice_ufrag,
              line + strlen ("a=ice-ufrag:"), MIN_UFRAG_LEN, MAX_UFRAG_LEN,
              error))
        return NULL;
    } else if (g_str_has_prefix (line, "a=ice-pwd:")) {
      if (!trickle_set_credential (&fragment->ice_pwd,
              line + strlen ("a=ice-pwd:"), MIN_PWD_LEN, MAX_PWD_LEN, error))
        return NULL;
    } else if (g_str_has_prefix (line, "a=mid:")) {
      const char *mid = line + strlen ("a=mid:");

      if (mids->len == 0 || mids->pdata[mids->len - 1] != NULL ||
          !is_token (mid, MAX_MID_LEN)) {
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "misplaced or invalid a=mid");
        return NULL;
      }
      mids->pdata[mids->len - 1] = g_strdup (mid);
    } else if (g_str_has_prefix (line, "a=candidate:")) {
      KkTrickleCandidate *c;

      if (!candidate_well_formed (line + 2)) {
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "malformed a=candidate");
        return NULL;
      }
      if (fragment->candidates->len >= MAX_TRICKLE_CANDIDATES) {
        g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MALFORMED,
            "more than %d candidates", MAX_TRICKLE_CANDIDATES);
        return NULL;
      }
      c = g_new0 (KkTrickleCandidate, 1);
      /* Before any m= line only happens in sloppy clients; they mean the
       * first (bundled) transport. */
      c->mline_index = mids->len > 0 ? mids->len - 1 : 0;
      c->candidate = g_strdup (line + 2);
      g_ptr_array_add (fragment->candidates, c);
    } else if (strcmp (line, "a=end-of-candidates") == 0) {
      fragment->end_of_candidates = TRUE;
    }
  }

  if ((fragment->ice_ufrag == NULL) != (fragment->ice_pwd == NULL)) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MISSING,
        "a=ice-ufrag and a=ice-pwd must come together");
    return NULL;
  }
  if (fragment->candidates->len == 0 && fragment->ice_ufrag == NULL &&
      !fragment->end_of_candidates) {
    g_set_error (error, KK_SDP_ERROR, KK_SDP_ERROR_MISSING,
        "the fragment has no candidate, credentials or end-of-candidates");
    return NULL;
  }

  /* a=mid may follow the candidates of its m-section. */
  for (i = 0; i < fragment->candidates->len; i++) {
    KkTrickleCandidate *c = fragment->candidates->pdata[i];

    if (c->mline_index < mids->len)
      c->mid = g_strdup (mids->pdata[c->mline_index]);
  }
  return g_steal_pointer (&fragment);
}
