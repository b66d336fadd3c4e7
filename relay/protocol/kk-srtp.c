/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-srtp: SRTP and SRTCP (RFC 3711) with AES_CM_128_HMAC_SHA1_80 and
 * AEAD_AES_128_GCM (RFC 7714) on OpenSSL 3.
 *
 * Everything that does not depend on the packet is done once in
 * kk_srtp_new(): the six session keys are derived (RFC 3711 §4.3, key
 * derivation rate 0), each session key gets an EVP_CIPHER_CTX with its key
 * schedule already expanded, and only the IV is set per packet (an init with
 * no cipher and no key). Nothing is allocated per packet.
 *
 * HMAC-SHA1 is the expensive half of AES-CM. Measured on the project's AMD
 * EPYC (SHA-NI, VAES) with OpenSSL 3.0.22 over a 1112-byte packet: EVP_MAC
 * re-initialised with a NULL key 0.78 µs, EVP_MD_CTX_copy_ex() of
 * precomputed ipad/opad digests 0.74 µs, HMAC_CTX reuse 0.74 µs (each of
 * these mallocs twice per packet: OpenSSL 3.0 duplicates the provider digest
 * context), and a struct copy of precomputed SHA_CTX states 0.69 µs with no
 * allocation. So we keep the SHA-1 states after the key^ipad and key^opad
 * blocks and copy them per packet. That is the low-level SHA1_* API, which
 * OpenSSL 3 deprecates but still ships, hence OPENSSL_SUPPRESS_DEPRECATED.
 *
 * A KkSrtp is one direction, so a stream (one SSRC) keeps one highest index
 * and one replay window per protocol: what was sent when protecting, what
 * was accepted when unprotecting. A viewer has few SSRCs, so they live in a
 * small inline array searched linearly, grown on the heap if needed. An
 * unprotected packet creates state only once it has authenticated, and the
 * number of streams created that way is capped, so a peer cannot make us
 * grow without bound.
 */

/* For SHA1_Init() and friends, see above. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "kringkast/kk-srtp.h"
#include "kk-srtp-private.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define AES_KEY_LEN 16
#define CM_SALT_LEN 14
#define GCM_SALT_LEN 12
#define HMAC_KEY_LEN 20
#define HMAC_BLOCK_LEN 64
#define HMAC_TAG_LEN 10
#define GCM_TAG_LEN 16
#define SRTCP_INDEX_LEN 4
#define SRTCP_E_FLAG 0x80000000u
#define SRTCP_INDEX_MAX 0x7fffffffu
#define RTP_HEADER_LEN 12
#define RTCP_HEADER_LEN 8

/* AES-CM counts blocks in the low 16 bits of the IV (RFC 3711 §4.1.1), so a
 * packet may not be longer than 2^16 blocks; no UDP datagram comes close. */
#define MAX_PACKET_LEN (1 << 20)

/* A viewer's context has two streams (our audio and video SSRCs) one way
 * and one or two (its RTCP senders) the other. */
#define INLINE_STREAMS 4
/* SSRCs a peer may create by sending authenticated packets. */
#define MAX_RX_STREAMS 256

/* Replay window in packets: two 64-bit words, as libsrtp's default. */
#define REPLAY_WORDS 2
#define REPLAY_WINDOW (64 * REPLAY_WORDS)

enum {
  LABEL_RTP_KEY = 0,
  LABEL_RTP_AUTH = 1,
  LABEL_RTP_SALT = 2,
  LABEL_RTCP_KEY = 3,
  LABEL_RTCP_AUTH = 4,
  LABEL_RTCP_SALT = 5,
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

/* The session keys of one protocol (SRTP or SRTCP). */
typedef struct {
  EVP_CIPHER_CTX *cipher;       /* AES-128-CTR or AES-128-GCM, keyed */
  guint8 iv_base[16];           /* the session salt, zero-padded */
  SHA_CTX hmac_inner;           /* AES-CM: SHA-1 state after key ^ ipad */
  SHA_CTX hmac_outer;           /* AES-CM: SHA-1 state after key ^ opad */
} KkSrtpTransform;

typedef struct {
  guint32 ssrc;
  gboolean has_rtp;
  gboolean has_rtcp;
  guint64 rtp_index;            /* highest SRTP index, ROC << 16 | SEQ */
  guint64 rtp_window[REPLAY_WORDS];  /* bit n: rtp_index - n accepted */
  guint64 rtcp_index;           /* last SRTCP index sent, highest accepted */
  guint64 rtcp_window[REPLAY_WORDS];
} KkSrtpStream;

/* In the order protecting RTP reads it: kk_srtp_prefetch () asks for the
 * start (up to the first streams) and for the RTP transform's fields. */
struct _KkSrtp {
  KkSrtpProfile profile;
  gboolean gcm;
  /* Where the SSRC goes in the IV: octet 4 for AES-CM (RFC 3711 §4.1.1),
   * octet 2 for GCM (RFC 7714 §8.1); the index follows it. */
  gsize iv_ssrc_offset;
  gsize tag_len;
  KkSrtpStream *streams;        /* inline_streams until it outgrows them */
  guint n_streams;
  guint n_allocated;
  KkSrtpStream inline_streams[INLINE_STREAMS];
  KkSrtpTransform rtp;
  KkSrtpTransform rtcp;
};

gsize
kk_srtp_profile_key_length (KkSrtpProfile profile)
{
  switch (profile) {
    case KK_SRTP_AES128_CM_SHA1_80:
    case KK_SRTP_AEAD_AES_128_GCM:
      return AES_KEY_LEN;
  }
  return 0;
}

gsize
kk_srtp_profile_salt_length (KkSrtpProfile profile)
{
  switch (profile) {
    case KK_SRTP_AES128_CM_SHA1_80:
      return CM_SALT_LEN;
    case KK_SRTP_AEAD_AES_128_GCM:
      return GCM_SALT_LEN;
  }
  return 0;
}

/* The names OpenSSL uses for the DTLS-SRTP profiles, so the same string
 * serves logs and SSL_CTX_set_tlsext_use_srtp(). NULL if unknown. */
const char *
kk_srtp_profile_name (KkSrtpProfile profile)
{
  switch (profile) {
    case KK_SRTP_AES128_CM_SHA1_80:
      return "SRTP_AES128_CM_SHA1_80";
    case KK_SRTP_AEAD_AES_128_GCM:
      return "SRTP_AEAD_AES_128_GCM";
  }
  return NULL;
}

gboolean
kk_srtp_kdf (const guint8 *master_key, const guint8 *master_salt,
    gsize master_salt_len, guint8 label, guint8 *out, gsize out_len)
{
  g_autoptr (EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  guint8 iv[16] = { 0 };
  int n;

  g_return_val_if_fail (master_salt_len <= CM_SALT_LEN, FALSE);
  g_return_val_if_fail (out_len <= G_MAXINT, FALSE);

  /* x = (label << 48) XOR master_salt, as 112 bits; the PRF input is x << 16,
   * so the label lands on octet 7 of the counter block. */
  memcpy (iv, master_salt, master_salt_len);
  iv[7] ^= label;
  memset (out, 0, out_len);
  return ctx != NULL
      && EVP_EncryptInit_ex (ctx, EVP_aes_128_ctr (), NULL, master_key, iv)
      && EVP_EncryptUpdate (ctx, out, &n, out, (int) out_len);
}

static void
hmac_pad_state (SHA_CTX *state, const guint8 *key, guint8 pad)
{
  guint8 block[HMAC_BLOCK_LEN];

  memset (block, pad, sizeof block);
  for (gsize i = 0; i < HMAC_KEY_LEN; i++)
    block[i] ^= key[i];
  SHA1_Init (state);
  SHA1_Update (state, block, sizeof block);
  OPENSSL_cleanse (block, sizeof block);
}

static gboolean
transform_init (KkSrtpTransform *t, gboolean gcm, const guint8 *key,
    const guint8 *salt, const guint8 *auth_key)
{
  t->cipher = EVP_CIPHER_CTX_new ();
  if (t->cipher == NULL
      || !EVP_CipherInit_ex (t->cipher,
          gcm ? EVP_aes_128_gcm () : EVP_aes_128_ctr (), NULL, key, NULL, 1))
    return FALSE;
  memcpy (t->iv_base, salt, gcm ? GCM_SALT_LEN : CM_SALT_LEN);
  if (!gcm) {
    hmac_pad_state (&t->hmac_inner, auth_key, 0x36);
    hmac_pad_state (&t->hmac_outer, auth_key, 0x5c);
  }
  return TRUE;
}

static void
transform_clear (KkSrtpTransform *t)
{
  EVP_CIPHER_CTX_free (t->cipher);
  OPENSSL_cleanse (t, sizeof *t);
}

static KkSrtp *
srtp_create (KkSrtpProfile profile,
    const guint8 *rtp_key, const guint8 *rtp_salt, const guint8 *rtp_auth,
    const guint8 *rtcp_key, const guint8 *rtcp_salt, const guint8 *rtcp_auth)
{
  KkSrtp *srtp = g_new0 (KkSrtp, 1);

  srtp->profile = profile;
  srtp->gcm = profile == KK_SRTP_AEAD_AES_128_GCM;
  srtp->iv_ssrc_offset = srtp->gcm ? 2 : 4;
  srtp->tag_len = srtp->gcm ? GCM_TAG_LEN : HMAC_TAG_LEN;
  srtp->streams = srtp->inline_streams;
  srtp->n_allocated = INLINE_STREAMS;
  if (!transform_init (&srtp->rtp, srtp->gcm, rtp_key, rtp_salt, rtp_auth)
      || !transform_init (&srtp->rtcp, srtp->gcm, rtcp_key, rtcp_salt,
          rtcp_auth)) {
    g_warning ("kk-srtp: cannot set up %s in OpenSSL",
        kk_srtp_profile_name (profile));
    kk_srtp_free (srtp);
    return NULL;
  }
  return srtp;
}

KkSrtp *
kk_srtp_new (KkSrtpProfile profile, const guint8 *master_key,
    const guint8 *master_salt)
{
  static const guint8 key_labels[2] = { LABEL_RTP_KEY, LABEL_RTCP_KEY };
  static const guint8 salt_labels[2] = { LABEL_RTP_SALT, LABEL_RTCP_SALT };
  static const guint8 auth_labels[2] = { LABEL_RTP_AUTH, LABEL_RTCP_AUTH };
  gsize salt_len = kk_srtp_profile_salt_length (profile);
  guint8 keys[2][AES_KEY_LEN], salts[2][CM_SALT_LEN], auths[2][HMAC_KEY_LEN];
  gboolean ok = TRUE;
  KkSrtp *srtp = NULL;

  if (salt_len == 0)
    return NULL;
  g_return_val_if_fail (master_key != NULL && master_salt != NULL, NULL);

  for (guint i = 0; i < 2; i++) {
    ok = ok
        && kk_srtp_kdf (master_key, master_salt, salt_len, key_labels[i],
            keys[i], AES_KEY_LEN)
        && kk_srtp_kdf (master_key, master_salt, salt_len, salt_labels[i],
            salts[i], salt_len)
        && (profile == KK_SRTP_AEAD_AES_128_GCM
            || kk_srtp_kdf (master_key, master_salt, salt_len, auth_labels[i],
                auths[i], HMAC_KEY_LEN));
  }
  if (ok)
    srtp = srtp_create (profile, keys[0], salts[0], auths[0],
        keys[1], salts[1], auths[1]);
  else
    g_warning ("kk-srtp: key derivation failed in OpenSSL");

  OPENSSL_cleanse (keys, sizeof keys);
  OPENSSL_cleanse (salts, sizeof salts);
  OPENSSL_cleanse (auths, sizeof auths);
  return srtp;
}

KkSrtp *
kk_srtp_new_with_session_keys (KkSrtpProfile profile, const guint8 *key,
    const guint8 *salt, const guint8 *auth_key)
{
  if (kk_srtp_profile_salt_length (profile) == 0)
    return NULL;
  g_return_val_if_fail (key != NULL && salt != NULL, NULL);
  g_return_val_if_fail (profile == KK_SRTP_AEAD_AES_128_GCM
      || auth_key != NULL, NULL);

  return srtp_create (profile, key, salt, auth_key, key, salt, auth_key);
}

void
kk_srtp_free (KkSrtp *srtp)
{
  if (srtp == NULL)
    return;
  transform_clear (&srtp->rtp);
  transform_clear (&srtp->rtcp);
  if (srtp->streams != srtp->inline_streams)
    g_free (srtp->streams);
  g_free (srtp);
}

/* ---- per-packet helpers ---- */

static inline guint32
read_u32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8
      | p[3];
}

static inline void
write_u32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static KkSrtpStream *
find_stream (KkSrtp *srtp, guint32 ssrc)
{
  for (guint i = 0; i < srtp->n_streams; i++) {
    if (srtp->streams[i].ssrc == ssrc)
      return &srtp->streams[i];
  }
  return NULL;
}

static KkSrtpStream *
add_stream (KkSrtp *srtp, guint32 ssrc)
{
  KkSrtpStream *stream;

  if (srtp->n_streams == srtp->n_allocated) {
    KkSrtpStream *grown = g_new (KkSrtpStream, srtp->n_allocated * 2);

    memcpy (grown, srtp->streams, srtp->n_streams * sizeof *grown);
    if (srtp->streams != srtp->inline_streams)
      g_free (srtp->streams);
    srtp->streams = grown;
    srtp->n_allocated *= 2;
  }
  stream = &srtp->streams[srtp->n_streams++];
  memset (stream, 0, sizeof *stream);
  stream->ssrc = ssrc;
  return stream;
}

/* The header length (fixed part, CSRCs, extension) of an RTP packet of
 * @len bytes, or 0 if it is not one. */
static gsize
rtp_header_length (const guint8 *buf, gsize len)
{
  gsize hlen;

  if (len < RTP_HEADER_LEN || buf[0] >> 6 != 2)
    return 0;
  hlen = RTP_HEADER_LEN + 4 * (buf[0] & 0x0f);
  if (buf[0] & 0x10) {
    if (hlen + 4 > len)
      return 0;
    hlen += 4 + 4 * (gsize) (buf[hlen + 2] << 8 | buf[hlen + 3]);
  }
  return hlen <= len ? hlen : 0;
}

/* RFC 3711 §3.3.1: the index of @seq relative to the highest index so far.
 * FALSE when the guess is a ROC of -1: a sequence number that far behind
 * the first one seen has no index. */
static inline gboolean
estimate_index (guint64 highest, guint16 seq, guint64 *index)
{
  guint64 roc = highest >> 16;
  guint s_l = highest & 0xffff;

  if (s_l < 0x8000) {
    if (seq > s_l + 0x8000) {
      if (roc == 0)
        return FALSE;
      roc--;
    }
  } else if (seq < s_l - 0x8000) {
    roc++;
  }
  *index = roc << 16 | seq;
  return TRUE;
}

static inline gboolean
replay_check (guint64 highest, const guint64 *window, guint64 index)
{
  guint64 delta;

  if (index > highest)
    return TRUE;
  delta = highest - index;
  if (delta >= REPLAY_WINDOW)
    return FALSE;
  return !(window[delta / 64] >> (delta % 64) & 1);
}

static inline void
replay_add (guint64 *highest, guint64 *window, guint64 index)
{
  if (index > *highest) {
    guint64 shift = index - *highest;

    if (shift >= REPLAY_WINDOW) {
      memset (window, 0, REPLAY_WORDS * sizeof *window);
    } else {
      guint words = shift / 64, bits = shift % 64;

      for (gint i = REPLAY_WORDS - 1; i >= 0; i--) {
        guint64 v = 0;

        if ((guint) i >= words) {
          v = window[i - words] << bits;
          if (bits != 0 && (guint) i > words)
            v |= window[i - words - 1] >> (64 - bits);
        }
        window[i] = v;
      }
    }
    *highest = index;
    window[0] |= 1;
  } else {
    guint64 delta = *highest - index;

    window[delta / 64] |= G_GUINT64_CONSTANT (1) << (delta % 64);
  }
}

/* The IV: the session salt XOR the SSRC XOR the 48-bit index, the index
 * right after the SSRC. For SRTCP the index is the 31-bit SRTCP index. */
static inline void
make_iv (const KkSrtp *srtp, const KkSrtpTransform *t, guint32 ssrc,
    guint64 index, guint8 iv[16])
{
  guint8 *p = iv + srtp->iv_ssrc_offset;

  memcpy (iv, t->iv_base, 16);
  p[0] ^= ssrc >> 24;
  p[1] ^= ssrc >> 16;
  p[2] ^= ssrc >> 8;
  p[3] ^= ssrc;
  p[4] ^= index >> 40;
  p[5] ^= index >> 32;
  p[6] ^= index >> 24;
  p[7] ^= index >> 16;
  p[8] ^= index >> 8;
  p[9] ^= index;
}

/* AES-CM keystream over @data; the same for both directions. */
static inline gboolean
ctr_apply (KkSrtpTransform *t, const guint8 iv[16], guint8 *data, gsize len)
{
  int n;

  return EVP_EncryptInit_ex (t->cipher, NULL, NULL, NULL, iv)
      && EVP_EncryptUpdate (t->cipher, data, &n, data, (int) len);
}

/* HMAC-SHA1 of @data, then of the 4 bytes at @suffix if not NULL (the ROC
 * of SRTP). */
static inline void
hmac_sha1 (const KkSrtpTransform *t, const guint8 *data, gsize len,
    const guint8 *suffix, guint8 mac[SHA_DIGEST_LENGTH])
{
  SHA_CTX ctx = t->hmac_inner;

  SHA1_Update (&ctx, data, len);
  if (suffix != NULL)
    SHA1_Update (&ctx, suffix, 4);
  SHA1_Final (mac, &ctx);
  ctx = t->hmac_outer;
  SHA1_Update (&ctx, mac, SHA_DIGEST_LENGTH);
  SHA1_Final (mac, &ctx);
}

/* AES-GCM in place over @data, with the associated data @aad then @aad2
 * (nullable). Encrypting writes the tag to @tag; decrypting checks it and
 * returns FALSE on a mismatch, leaving @data decrypted but meaningless. */
static inline gboolean
gcm_apply (KkSrtpTransform *t, gboolean encrypt, const guint8 iv[12],
    const guint8 *aad, gsize aad_len, const guint8 *aad2, gsize aad2_len,
    guint8 *data, gsize len, guint8 *tag)
{
  OSSL_PARAM params[2];
  int n;

  if (!EVP_CipherInit_ex (t->cipher, NULL, NULL, NULL, iv, encrypt)
      || !EVP_CipherUpdate (t->cipher, NULL, &n, aad, (int) aad_len)
      || (aad2 != NULL
          && !EVP_CipherUpdate (t->cipher, NULL, &n, aad2, (int) aad2_len))
      || (len > 0
          && !EVP_CipherUpdate (t->cipher, data, &n, data, (int) len)))
    return FALSE;

  params[0] = OSSL_PARAM_construct_octet_string (OSSL_CIPHER_PARAM_AEAD_TAG,
      tag, GCM_TAG_LEN);
  params[1] = OSSL_PARAM_construct_end ();
  if (encrypt) {
    return EVP_CipherFinal_ex (t->cipher, data + len, &n)
        && EVP_CIPHER_CTX_get_params (t->cipher, params);
  }
  return EVP_CIPHER_CTX_set_params (t->cipher, params)
      && EVP_CipherFinal_ex (t->cipher, data + len, &n) > 0;
}

void
kk_srtp_prefetch (const KkSrtp *srtp)
{
  const guint8 *p = (const guint8 *) srtp;

  /* The fields up to the first two streams, and the cipher's. */
  __builtin_prefetch (p);
  __builtin_prefetch (p + 64);
  __builtin_prefetch (p + 128);
  __builtin_prefetch (&srtp->rtp);
}

/* ---- SRTP ---- */

gssize
kk_srtp_protect_rtp (KkSrtp *srtp, guint8 *buf, gsize len, gsize capacity)
{
  KkSrtpStream *stream;
  guint32 ssrc;
  guint16 seq;
  guint64 index;
  guint8 iv[16];
  gsize hlen;

  g_return_val_if_fail (srtp != NULL && buf != NULL, -1);
  g_return_val_if_fail (len <= capacity && capacity - len >= srtp->tag_len,
      -1);

  if (len > MAX_PACKET_LEN || (hlen = rtp_header_length (buf, len)) == 0)
    return -1;
  seq = buf[2] << 8 | buf[3];
  ssrc = read_u32 (buf + 8);

  stream = find_stream (srtp, ssrc);
  if (stream == NULL)
    stream = add_stream (srtp, ssrc);
  if (!stream->has_rtp) {
    stream->has_rtp = TRUE;
    stream->rtp_index = index = seq;
  } else if (!estimate_index (stream->rtp_index, seq, &index)) {
    /* Far behind the first packet sent: keep ROC 0 and leave the stream
     * alone, so that the packets after it keep theirs. */
    index = seq;
  } else if (index > stream->rtp_index) {
    stream->rtp_index = index;
  }
  /* An older index (a retransmission) leaves the highest where it is, so
   * the packet gets the ROC it had the first time. */

  make_iv (srtp, &srtp->rtp, ssrc, index, iv);
  if (srtp->gcm) {
    if (!gcm_apply (&srtp->rtp, TRUE, iv, buf, hlen, NULL, 0,
            buf + hlen, len - hlen, buf + len))
      return -1;
  } else {
    guint8 roc[4], mac[SHA_DIGEST_LENGTH];

    if (!ctr_apply (&srtp->rtp, iv, buf + hlen, len - hlen))
      return -1;
    write_u32 (roc, index >> 16);
    hmac_sha1 (&srtp->rtp, buf, len, roc, mac);
    memcpy (buf + len, mac, HMAC_TAG_LEN);
  }
  return len + srtp->tag_len;
}

gssize
kk_srtp_unprotect_rtp (KkSrtp *srtp, guint8 *buf, gsize len)
{
  KkSrtpStream *stream;
  guint32 ssrc;
  guint16 seq;
  guint64 index;
  guint8 iv[16];
  gsize hlen, body_len;

  g_return_val_if_fail (srtp != NULL && buf != NULL, -1);

  if (len > MAX_PACKET_LEN || len < RTP_HEADER_LEN + srtp->tag_len)
    return -1;
  body_len = len - srtp->tag_len;
  if ((hlen = rtp_header_length (buf, body_len)) == 0)
    return -1;
  seq = buf[2] << 8 | buf[3];
  ssrc = read_u32 (buf + 8);

  stream = find_stream (srtp, ssrc);
  if (stream != NULL && stream->has_rtp) {
    if (!estimate_index (stream->rtp_index, seq, &index)
        || !replay_check (stream->rtp_index, stream->rtp_window, index))
      return -1;
  } else {
    /* A new SSRC starts at ROC 0 (RFC 3711 §3.3.1). */
    index = seq;
    if (stream == NULL && srtp->n_streams >= MAX_RX_STREAMS)
      return -1;
  }

  make_iv (srtp, &srtp->rtp, ssrc, index, iv);
  if (srtp->gcm) {
    if (!gcm_apply (&srtp->rtp, FALSE, iv, buf, hlen, NULL, 0,
            buf + hlen, body_len - hlen, buf + body_len))
      return -1;
  } else {
    guint8 roc[4], mac[SHA_DIGEST_LENGTH];

    write_u32 (roc, index >> 16);
    hmac_sha1 (&srtp->rtp, buf, body_len, roc, mac);
    if (CRYPTO_memcmp (mac, buf + body_len, HMAC_TAG_LEN) != 0
        || !ctr_apply (&srtp->rtp, iv, buf + hlen, body_len - hlen))
      return -1;
  }

  if (stream == NULL)
    stream = add_stream (srtp, ssrc);
  if (!stream->has_rtp) {
    stream->has_rtp = TRUE;
    stream->rtp_index = index;
    stream->rtp_window[0] = 1;
  } else {
    replay_add (&stream->rtp_index, stream->rtp_window, index);
  }
  return body_len;
}

/* ---- SRTCP ---- */

gssize
kk_srtp_protect_rtcp (KkSrtp *srtp, guint8 *buf, gsize len, gsize capacity)
{
  KkSrtpStream *stream;
  guint32 ssrc;
  guint8 iv[16], e_index[SRTCP_INDEX_LEN];

  g_return_val_if_fail (srtp != NULL && buf != NULL, -1);
  g_return_val_if_fail (len <= capacity
      && capacity - len >= srtp->tag_len + SRTCP_INDEX_LEN, -1);

  if (len > MAX_PACKET_LEN || len < RTCP_HEADER_LEN || buf[0] >> 6 != 2)
    return -1;
  ssrc = read_u32 (buf + 4);

  stream = find_stream (srtp, ssrc);
  if (stream == NULL)
    stream = add_stream (srtp, ssrc);
  if (!stream->has_rtcp) {
    stream->has_rtcp = TRUE;
    stream->rtcp_index = 0;
  } else if (stream->rtcp_index == SRTCP_INDEX_MAX) {
    /* RFC 3711 §3.3.1: the index must not wrap under one key; wrapping
     * would reuse keystream (and, with GCM, give away the auth key). */
    return -1;
  } else {
    stream->rtcp_index++;
  }
  write_u32 (e_index, SRTCP_E_FLAG | (guint32) stream->rtcp_index);

  make_iv (srtp, &srtp->rtcp, ssrc, stream->rtcp_index, iv);
  if (srtp->gcm) {
    /* RFC 7714 §9.1: the header and the E flag + index are associated
     * data; the index goes after the tag. */
    if (!gcm_apply (&srtp->rtcp, TRUE, iv, buf, RTCP_HEADER_LEN,
            e_index, SRTCP_INDEX_LEN, buf + RTCP_HEADER_LEN,
            len - RTCP_HEADER_LEN, buf + len))
      return -1;
    memcpy (buf + len + GCM_TAG_LEN, e_index, SRTCP_INDEX_LEN);
  } else {
    guint8 mac[SHA_DIGEST_LENGTH];

    if (!ctr_apply (&srtp->rtcp, iv, buf + RTCP_HEADER_LEN,
            len - RTCP_HEADER_LEN))
      return -1;
    memcpy (buf + len, e_index, SRTCP_INDEX_LEN);
    hmac_sha1 (&srtp->rtcp, buf, len + SRTCP_INDEX_LEN, NULL, mac);
    memcpy (buf + len + SRTCP_INDEX_LEN, mac, HMAC_TAG_LEN);
  }
  return len + SRTCP_INDEX_LEN + srtp->tag_len;
}

gssize
kk_srtp_unprotect_rtcp (KkSrtp *srtp, guint8 *buf, gsize len)
{
  KkSrtpStream *stream;
  const guint8 *e_index;
  guint8 *tag;
  guint32 ssrc, word;
  guint64 index;
  gboolean encrypted;
  guint8 iv[16];
  gsize body_len;

  g_return_val_if_fail (srtp != NULL && buf != NULL, -1);

  if (len > MAX_PACKET_LEN
      || len < RTCP_HEADER_LEN + SRTCP_INDEX_LEN + srtp->tag_len
      || buf[0] >> 6 != 2)
    return -1;
  body_len = len - SRTCP_INDEX_LEN - srtp->tag_len;
  if (srtp->gcm) {
    tag = buf + body_len;
    e_index = buf + len - SRTCP_INDEX_LEN;
  } else {
    e_index = buf + body_len;
    tag = buf + len - HMAC_TAG_LEN;
  }
  word = read_u32 (e_index);
  encrypted = (word & SRTCP_E_FLAG) != 0;
  index = word & SRTCP_INDEX_MAX;
  ssrc = read_u32 (buf + 4);

  stream = find_stream (srtp, ssrc);
  if (stream != NULL && stream->has_rtcp) {
    if (!replay_check (stream->rtcp_index, stream->rtcp_window, index))
      return -1;
  } else if (stream == NULL && srtp->n_streams >= MAX_RX_STREAMS) {
    return -1;
  }

  make_iv (srtp, &srtp->rtcp, ssrc, index, iv);
  if (srtp->gcm) {
    /* Unencrypted SRTCP (E = 0) authenticates the whole packet
     * (RFC 7714 §9.2). */
    gsize aad_len = encrypted ? RTCP_HEADER_LEN : body_len;

    if (!gcm_apply (&srtp->rtcp, FALSE, iv, buf, aad_len,
            e_index, SRTCP_INDEX_LEN, buf + aad_len, body_len - aad_len, tag))
      return -1;
  } else {
    guint8 mac[SHA_DIGEST_LENGTH];

    hmac_sha1 (&srtp->rtcp, buf, body_len + SRTCP_INDEX_LEN, NULL, mac);
    if (CRYPTO_memcmp (mac, tag, HMAC_TAG_LEN) != 0
        || (encrypted && !ctr_apply (&srtp->rtcp, iv, buf + RTCP_HEADER_LEN,
                body_len - RTCP_HEADER_LEN)))
      return -1;
  }

  if (stream == NULL)
    stream = add_stream (srtp, ssrc);
  if (!stream->has_rtcp) {
    stream->has_rtcp = TRUE;
    stream->rtcp_index = index;
    stream->rtcp_window[0] = 1;
  } else {
    replay_add (&stream->rtcp_index, stream->rtcp_window, index);
  }
  return body_len;
}
