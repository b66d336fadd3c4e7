/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-srtp: the known-answer vectors of RFC 3711 Appendix B (AES-CM
 * keystream, key derivation) and RFC 7714 §16-17 (AES-GCM SRTP and SRTCP),
 * round trips, authentication and replay failures, rollover and NACK
 * retransmission, malformed input, and a cross-check against libsrtp2 in
 * both directions when it is available.
 */
#include "kringkast/kk-srtp.h"
#include "kk-srtp-private.h"

#include <string.h>

#if defined(__has_include)
#if __has_include(<srtp2/srtp.h>)
#include <srtp2/srtp.h>
#define HAVE_LIBSRTP2 1
#endif
#endif

#define CAPACITY 2048

static const KkSrtpProfile profiles[] = {
  KK_SRTP_AES128_CM_SHA1_80, KK_SRTP_AEAD_AES_128_GCM,
};

/* Decodes hex, ignoring whitespace, into @out. Returns the byte count. */
static gsize
unhex (const char *hex, guint8 *out, gsize capacity)
{
  gsize n = 0;
  int hi = -1;

  for (const char *p = hex; *p != '\0'; p++) {
    int v;

    if (g_ascii_isspace (*p))
      continue;
    v = g_ascii_xdigit_value (*p);
    g_assert_cmpint (v, >=, 0);
    if (hi < 0) {
      hi = v;
    } else {
      g_assert_cmpuint (n, <, capacity);
      out[n++] = hi << 4 | v;
      hi = -1;
    }
  }
  g_assert_cmpint (hi, ==, -1);
  return n;
}

static void
fill_master (KkSrtpProfile profile, guint8 seed, guint8 key[16],
    guint8 salt[14])
{
  for (guint i = 0; i < 16; i++)
    key[i] = seed + 7 * i;
  for (guint i = 0; i < kk_srtp_profile_salt_length (profile); i++)
    salt[i] = 0xa0 ^ (seed + 3 * i);
}

static KkSrtp *
new_session (KkSrtpProfile profile, guint8 seed)
{
  guint8 key[16], salt[14];
  KkSrtp *srtp;

  fill_master (profile, seed, key, salt);
  srtp = kk_srtp_new (profile, key, salt);
  g_assert_nonnull (srtp);
  return srtp;
}

/* An RTP packet with @payload_len bytes of payload derived from @seq. */
static gsize
make_rtp (guint8 *buf, guint16 seq, guint32 ssrc, gsize payload_len)
{
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = seq >> 8;
  buf[3] = seq;
  buf[4] = 0x12;
  buf[5] = 0x34;
  buf[6] = seq >> 8;
  buf[7] = seq;
  buf[8] = ssrc >> 24;
  buf[9] = ssrc >> 16;
  buf[10] = ssrc >> 8;
  buf[11] = ssrc;
  for (gsize i = 0; i < payload_len; i++)
    buf[12 + i] = (guint8) (seq * 31 + i);
  return 12 + payload_len;
}

/* A compound RTCP packet: a receiver report with one block, then a
 * PLI, from @ssrc. */
static gsize
make_rtcp (guint8 *buf, guint32 ssrc, guint8 variant)
{
  static const guint8 rr[] = {
    0x81, 201, 0x00, 0x07, 0, 0, 0, 0,
    0x11, 0x22, 0x33, 0x44, 0x05, 0x00, 0x00, 0x10,
    0x00, 0x01, 0x23, 0x45, 0x00, 0x00, 0x00, 0x20,
    0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x00, 0x10, 0x00,
    0x81, 206, 0x00, 0x02, 0, 0, 0, 0,
    0x11, 0x22, 0x33, 0x44,
  };

  memcpy (buf, rr, sizeof rr);
  for (guint off = 4; off <= 36; off += 32) {
    buf[off] = ssrc >> 24;
    buf[off + 1] = ssrc >> 16;
    buf[off + 2] = ssrc >> 8;
    buf[off + 3] = ssrc;
  }
  buf[13] = variant;
  return sizeof rr;
}

/* Copies @len bytes to a heap buffer of exactly that size, so that ASan
 * catches any read past the end, and unprotects it. */
static gssize
unprotect_exact (KkSrtp *srtp, gboolean rtcp, const guint8 *data, gsize len,
    guint8 *out)
{
  guint8 *copy = g_malloc (MAX (len, 1));
  gssize ret;

  memcpy (copy, data, len);

  ret = rtcp ? kk_srtp_unprotect_rtcp (srtp, copy, len)
      : kk_srtp_unprotect_rtp (srtp, copy, len);
  if (ret >= 0 && out != NULL)
    memcpy (out, copy, ret);
  g_free (copy);
  return ret;
}

static void
test_profiles (void)
{
  guint8 key[16] = { 0 }, salt[14] = { 0 };

  g_assert_cmpuint (kk_srtp_profile_key_length (KK_SRTP_AES128_CM_SHA1_80),
      ==, 16);
  g_assert_cmpuint (kk_srtp_profile_salt_length (KK_SRTP_AES128_CM_SHA1_80),
      ==, 14);
  g_assert_cmpuint (kk_srtp_profile_key_length (KK_SRTP_AEAD_AES_128_GCM),
      ==, 16);
  g_assert_cmpuint (kk_srtp_profile_salt_length (KK_SRTP_AEAD_AES_128_GCM),
      ==, 12);
  g_assert_cmpuint (kk_srtp_profile_key_length (0x0002), ==, 0);
  g_assert_cmpuint (kk_srtp_profile_salt_length (0x0008), ==, 0);
  g_assert_cmpstr (kk_srtp_profile_name (KK_SRTP_AES128_CM_SHA1_80), ==,
      "SRTP_AES128_CM_SHA1_80");
  g_assert_cmpstr (kk_srtp_profile_name (KK_SRTP_AEAD_AES_128_GCM), ==,
      "SRTP_AEAD_AES_128_GCM");
  g_assert_null (kk_srtp_profile_name (0x0002));
  g_assert_null (kk_srtp_new (0x0002, key, salt));
}

/* RFC 3711 B.2: with SSRC 0 and index 0 the IV is the session salt, and
 * encrypting zeros yields the keystream. The table's last blocks sit near
 * the 2^16-block end of the segment. */
static void
test_rfc3711_keystream (void)
{
  static const struct {
    guint block;
    const char *keystream;
  } expected[] = {
    { 0x0000, "E03EAD0935C95E80E166B16DD92B4EB4" },
    { 0x0001, "D23513162B02D0F72A43A2FE4A5F97AB" },
    { 0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0" },
    { 0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4" },
    { 0xFF00, "362B7C3C6773516318A077D7FC5073AE" },
    { 0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44" },
  };
  guint8 key[16], salt[14], auth[20] = { 0 };
  gsize payload_len = 0xFF02 * 16, len = 12 + payload_len;
  g_autofree guint8 *buf = g_malloc0 (len + KK_SRTP_MAX_TRAILER);
  g_autoptr (KkSrtp) srtp = NULL;

  unhex ("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof key);
  unhex ("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt, sizeof salt);
  srtp = kk_srtp_new_with_session_keys (KK_SRTP_AES128_CM_SHA1_80, key, salt,
      auth);
  g_assert_nonnull (srtp);

  buf[0] = 0x80;                /* seq 0, timestamp 0, SSRC 0 */
  g_assert_cmpint (kk_srtp_protect_rtp (srtp, buf, len,
          len + KK_SRTP_MAX_TRAILER), ==, len + 10);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    guint8 block[16];

    unhex (expected[i].keystream, block, sizeof block);
    g_assert_cmpmem (buf + 12 + 16 * expected[i].block, 16, block, 16);
  }
}

/* RFC 3711 B.3, directly and through kk_srtp_new(): a packet protected with
 * the derived keys must equal one protected with the RFC's session keys. */
static void
test_rfc3711_kdf (void)
{
  guint8 master_key[16], master_salt[14];
  guint8 key[16], salt[14], auth[20], out[20];
  guint8 a[CAPACITY], b[CAPACITY];
  g_autoptr (KkSrtp) derived = NULL;
  g_autoptr (KkSrtp) direct = NULL;
  gsize len;

  unhex ("E1F97A0D3E018BE0D64FA32C06DE4139", master_key, 16);
  unhex ("0EC675AD498AFEEBB6960B3AABE6", master_salt, 14);
  unhex ("C61E7A93744F39EE10734AFE3FF7A087", key, 16);
  unhex ("30CBBC08863D8C85D49DB34A9AE1", salt, 14);
  unhex ("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", auth, 20);

  g_assert_true (kk_srtp_kdf (master_key, master_salt, 14, 0, out, 16));
  g_assert_cmpmem (out, 16, key, 16);
  g_assert_true (kk_srtp_kdf (master_key, master_salt, 14, 1, out, 20));
  g_assert_cmpmem (out, 20, auth, 20);
  g_assert_true (kk_srtp_kdf (master_key, master_salt, 14, 2, out, 14));
  g_assert_cmpmem (out, 14, salt, 14);

  derived = kk_srtp_new (KK_SRTP_AES128_CM_SHA1_80, master_key, master_salt);
  direct = kk_srtp_new_with_session_keys (KK_SRTP_AES128_CM_SHA1_80, key,
      salt, auth);
  len = make_rtp (a, 4242, 0xcafebabe, 300);
  memcpy (b, a, len);
  g_assert_cmpint (kk_srtp_protect_rtp (derived, a, len, CAPACITY), ==,
      len + 10);
  g_assert_cmpint (kk_srtp_protect_rtp (direct, b, len, CAPACITY), ==,
      len + 10);
  g_assert_cmpmem (a, len + 10, b, len + 10);
}

static const char rfc7714_key[] = "000102030405060708090a0b0c0d0e0f";
static const char rfc7714_salt[] = "517569642070726f2071756f";

static KkSrtp *
rfc7714_session (void)
{
  guint8 key[16], salt[12];
  KkSrtp *srtp;

  unhex (rfc7714_key, key, sizeof key);
  unhex (rfc7714_salt, salt, sizeof salt);
  srtp = kk_srtp_new_with_session_keys (KK_SRTP_AEAD_AES_128_GCM, key, salt,
      NULL);
  g_assert_nonnull (srtp);
  return srtp;
}

/* RFC 7714 §16.1.1 (encryption) and §16.1.2 (verification, decryption). */
static void
test_rfc7714_srtp (void)
{
  guint8 plain[64], expected[128], buf[CAPACITY];
  gsize plain_len, expected_len;
  g_autoptr (KkSrtp) tx = rfc7714_session ();
  g_autoptr (KkSrtp) rx = rfc7714_session ();

  plain_len = unhex ("8040f17b 8041f8d3 5501a0b2 47616c6c"
      "69612065 7374206f 6d6e6973 20646976"
      "69736120 696e2070 61727465 73207472" "6573", plain, sizeof plain);
  expected_len = unhex ("8040f17b 8041f8d3 5501a0b2 f24de3a3"
      "fb34de6c acba861c 9d7e4bca be633bd5"
      "0d294e6f 42a5f47a 51c7d19b 36de3adf"
      "8833899d 7f27beb1 6a9152cf 765ee439" "0cce", expected, sizeof expected);

  memcpy (buf, plain, plain_len);
  g_assert_cmpint (kk_srtp_protect_rtp (tx, buf, plain_len, CAPACITY), ==,
      expected_len);
  g_assert_cmpmem (buf, expected_len, expected, expected_len);

  g_assert_cmpint (unprotect_exact (rx, FALSE, expected, expected_len, buf),
      ==, plain_len);
  g_assert_cmpmem (buf, plain_len, plain, plain_len);
  /* The same packet again is a replay. */
  g_assert_cmpint (unprotect_exact (rx, FALSE, expected, expected_len, NULL),
      ==, -1);
}

/* RFC 7714 §17.1-17.4 for AEAD_AES_128_GCM: SRTCP index 0x5d4 encrypted,
 * and the same packet authenticated only (E = 0). */
static void
test_rfc7714_srtcp (void)
{
  static const char rtcp_hex[] =
      "81c8000d 4d617273 4e545031 4e545032"
      "52545020 0000042a 0000e930 4c756e61"
      "deadbeef deadbeef deadbeef deadbeef" "deadbeef";
  guint8 plain[64], encrypted[128], tag_only[128], buf[CAPACITY];
  gsize plain_len, encrypted_len, tag_only_len;
  g_autoptr (KkSrtp) tx = rfc7714_session ();
  g_autoptr (KkSrtp) rx = rfc7714_session ();
  g_autoptr (KkSrtp) rx2 = rfc7714_session ();

  plain_len = unhex (rtcp_hex, plain, sizeof plain);
  encrypted_len = unhex ("81c8000d 4d617273 63e94885 dcdab67c"
      "a727d766 2f6b7e99 7ff5c0f7 6c06f32d"
      "c676a5f1 730d6fda 4ce09b46 86303ded"
      "0bb9275b c84aa458 96cf4d2f c5abf872"
      "45d9eade 800005d4", encrypted, sizeof encrypted);
  tag_only_len = unhex ("81c8000d 4d617273 4e545031 4e545032"
      "52545020 0000042a 0000e930 4c756e61"
      "deadbeef deadbeef deadbeef deadbeef"
      "deadbeef 841dd968 3dd78ec9 2ae58790"
      "125f62b3 000005d4", tag_only, sizeof tag_only);

  /* Indices 0 .. 0x5d3 go to other packets from the same SSRC first. */
  for (guint i = 0; i < 0x5d4; i++) {
    memcpy (buf, plain, plain_len);
    g_assert_cmpint (kk_srtp_protect_rtcp (tx, buf, plain_len, CAPACITY), ==,
        plain_len + 20);
  }
  memcpy (buf, plain, plain_len);
  g_assert_cmpint (kk_srtp_protect_rtcp (tx, buf, plain_len, CAPACITY), ==,
      encrypted_len);
  g_assert_cmpmem (buf, encrypted_len, encrypted, encrypted_len);

  g_assert_cmpint (unprotect_exact (rx, TRUE, encrypted, encrypted_len, buf),
      ==, plain_len);
  g_assert_cmpmem (buf, plain_len, plain, plain_len);
  g_assert_cmpint (unprotect_exact (rx, TRUE, encrypted, encrypted_len, NULL),
      ==, -1);

  g_assert_cmpint (unprotect_exact (rx2, TRUE, tag_only, tag_only_len, buf),
      ==, plain_len);
  g_assert_cmpmem (buf, plain_len, plain, plain_len);
  /* Claiming E = 1 for the unencrypted packet breaks the tag. */
  tag_only[tag_only_len - 4] |= 0x80;
  tag_only[tag_only_len - 1] ^= 1;
  g_assert_cmpint (unprotect_exact (rx2, TRUE, tag_only, tag_only_len, NULL),
      ==, -1);
}

/* Header variants: plain, CSRCs, a header extension, padding. */
static gsize
make_rtp_variant (guint8 *buf, guint variant, guint16 seq, gsize payload_len)
{
  gsize len = make_rtp (buf, seq, 0x01020304, 0);
  guint8 *p = buf + len;

  switch (variant) {
    case 1:
      buf[0] |= 3;
      memset (p, 0x5a, 12);
      p += 12;
      break;
    case 2:
      buf[0] |= 0x10;
      memcpy (p, "\xbe\xde\x00\x02\x10\xff\x22\xaa\xbb\x00\x00\x00", 12);
      p += 12;
      break;
    case 3:
      buf[0] |= 0x20;
      break;
    default:
      break;
  }
  for (gsize i = 0; i < payload_len; i++)
    *p++ = (guint8) (i * 13 + seq);
  if (variant == 3 && payload_len > 0)
    p[-1] = 1;
  return p - buf;
}

static void
test_roundtrip_rtp (void)
{
  static const gsize sizes[] = { 0, 1, 15, 16, 17, 160, 1100, 1400 };

  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 1);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 1);
    gsize tag = profiles[p] == KK_SRTP_AEAD_AES_128_GCM ? 16 : 10;
    guint16 seq = 1000;

    for (guint v = 0; v < 4; v++) {
      for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
        guint8 plain[CAPACITY], buf[CAPACITY];
        gsize len = make_rtp_variant (plain, v, seq++, sizes[s]);
        gsize hlen = len - sizes[s];
        gssize out;

        memcpy (buf, plain, len);
        out = kk_srtp_protect_rtp (tx, buf, len, len + KK_SRTP_MAX_TRAILER);
        g_assert_cmpint (out, ==, len + tag);
        g_assert_cmpmem (buf, hlen, plain, hlen);
        if (sizes[s] >= 16)
          g_assert_true (memcmp (buf + hlen, plain + hlen, sizes[s]) != 0);
        g_assert_cmpint (unprotect_exact (rx, FALSE, buf, out, buf), ==, len);
        g_assert_cmpmem (buf, len, plain, len);
      }
    }
  }
}

static void
test_roundtrip_rtcp (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 2);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 2);
    gboolean gcm = profiles[p] == KK_SRTP_AEAD_AES_128_GCM;
    gsize trailer = gcm ? 20 : 14;

    for (guint i = 0; i < 5; i++) {
      guint8 plain[CAPACITY], buf[CAPACITY];
      gsize len = make_rtcp (plain, 0xdeadbeef, i);
      const guint8 *e_index;
      gssize out;

      memcpy (buf, plain, len);
      out = kk_srtp_protect_rtcp (tx, buf, len, CAPACITY);
      g_assert_cmpint (out, ==, len + trailer);
      g_assert_cmpmem (buf, 8, plain, 8);
      g_assert_true (memcmp (buf + 8, plain + 8, len - 8) != 0);
      /* E flag set, index counting from 0 (RFC 3711 §3.4). */
      e_index = gcm ? buf + out - 4 : buf + len;
      g_assert_cmphex (e_index[0], ==, 0x80);
      g_assert_cmphex (e_index[1] | e_index[2], ==, 0);
      g_assert_cmphex (e_index[3], ==, i);

      g_assert_cmpint (unprotect_exact (rx, TRUE, buf, out, buf), ==, len);
      g_assert_cmpmem (buf, len, plain, len);
    }
  }
}

/* Flipping any bit of a protected packet makes it fail, and the failures
 * leave no state behind: the genuine packet still goes through. */
static void
test_tampering (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    for (gboolean rtcp = FALSE; rtcp <= TRUE; rtcp++) {
      g_autoptr (KkSrtp) tx = new_session (profiles[p], 3);
      g_autoptr (KkSrtp) rx = new_session (profiles[p], 3);
      guint8 plain[CAPACITY], good[CAPACITY], bad[CAPACITY];
      gsize len = rtcp ? make_rtcp (plain, 0x55667788, 0)
          : make_rtp (plain, 777, 0x55667788, 200);
      gssize out;
      /* header, first payload byte, last payload byte, first and last tag
       * bytes (for SRTCP, the last bytes are the index with GCM) */
      gsize positions[6];

      memcpy (good, plain, len);
      out = rtcp ? kk_srtp_protect_rtcp (tx, good, len, CAPACITY)
          : kk_srtp_protect_rtp (tx, good, len, CAPACITY);
      g_assert_cmpint (out, >, len);
      positions[0] = 1;
      positions[1] = rtcp ? 8 : 12;
      positions[2] = len - 1;
      positions[3] = len;
      positions[4] = out - 1;
      positions[5] = out - 5;

      for (guint i = 0; i < G_N_ELEMENTS (positions); i++) {
        memcpy (bad, good, out);
        bad[positions[i]] ^= 0x04;
        g_assert_cmpint (unprotect_exact (rx, rtcp, bad, out, NULL), ==, -1);
      }
      g_assert_cmpint (unprotect_exact (rx, rtcp, good, out, bad), ==, len);
      g_assert_cmpmem (bad, len, plain, len);
    }
  }
}

/* Protects RTP packet @seq with @tx and returns the protected length. */
static gsize
protect_seq (KkSrtp *tx, guint16 seq, guint8 *buf)
{
  gsize len = make_rtp (buf, seq, 0x0badcafe, 120);
  gssize out = kk_srtp_protect_rtp (tx, buf, len, CAPACITY);

  g_assert_cmpint (out, >, len);
  return out;
}

static void
test_replay (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 4);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 4);
    guint8 pkts[400][256];
    gsize lens[400];

    for (guint16 seq = 0; seq < 400; seq++)
      lens[seq] = protect_seq (tx, seq, pkts[seq]);

#define RX(seq) unprotect_exact (rx, FALSE, pkts[seq], lens[seq], NULL)
    g_assert_cmpint (RX (10), >, 0);
    g_assert_cmpint (RX (10), ==, -1);
    /* Reordering within the window is fine, once. */
    g_assert_cmpint (RX (20), >, 0);
    g_assert_cmpint (RX (15), >, 0);
    g_assert_cmpint (RX (15), ==, -1);
    g_assert_cmpint (RX (20), ==, -1);
    /* The window is 128 packets. */
    g_assert_cmpint (RX (300), >, 0);
    g_assert_cmpint (RX (300 - 128), ==, -1);
    g_assert_cmpint (RX (300 - 127), >, 0);
    g_assert_cmpint (RX (300 - 127), ==, -1);
    g_assert_cmpint (RX (300 - 64), >, 0);
    g_assert_cmpint (RX (300 - 63), >, 0);
    g_assert_cmpint (RX (300 - 64), ==, -1);
    /* Moving by less than a word carries bits from the first word into
     * the second... */
    g_assert_cmpint (RX (310), >, 0);
    g_assert_cmpint (RX (237), ==, -1);
    g_assert_cmpint (RX (236), ==, -1);
    g_assert_cmpint (RX (238), >, 0);
    /* ...and by more than a word moves whole words. */
    g_assert_cmpint (RX (380), >, 0);
    g_assert_cmpint (RX (310), ==, -1);
    g_assert_cmpint (RX (300), ==, -1);
    g_assert_cmpint (RX (301), >, 0);
#undef RX
  }

  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 5);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 5);
    guint8 pkts[4][256];
    gsize lens[4];

    for (guint i = 0; i < 4; i++) {
      gsize len = make_rtcp (pkts[i], 0x10203040, i);

      lens[i] = kk_srtp_protect_rtcp (tx, pkts[i], len, 256);
    }
    g_assert_cmpint (unprotect_exact (rx, TRUE, pkts[2], lens[2], NULL), >, 0);
    g_assert_cmpint (unprotect_exact (rx, TRUE, pkts[0], lens[0], NULL), >, 0);
    g_assert_cmpint (unprotect_exact (rx, TRUE, pkts[2], lens[2], NULL), ==,
        -1);
    g_assert_cmpint (unprotect_exact (rx, TRUE, pkts[0], lens[0], NULL), ==,
        -1);
    g_assert_cmpint (unprotect_exact (rx, TRUE, pkts[3], lens[3], NULL), >, 0);
    g_assert_cmpint (unprotect_exact (rx, TRUE, pkts[1], lens[1], NULL), >, 0);
  }
}

/* A forged packet far ahead must not move the receiver's highest index:
 * if it did, the genuine next packet would be guessed with the wrong ROC. */
static void
test_forgery_keeps_state (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 6);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 6);
    guint8 a[256], b[256], forged[256];
    gsize la = protect_seq (tx, 10, a);
    gsize lb = protect_seq (tx, 11, b);

    g_assert_cmpint (unprotect_exact (rx, FALSE, a, la, NULL), >, 0);
    memcpy (forged, a, la);
    forged[2] = 0x70;           /* seq 0x700a: 28672 ahead */
    g_assert_cmpint (unprotect_exact (rx, FALSE, forged, la, NULL), ==, -1);
    g_assert_cmpint (unprotect_exact (rx, FALSE, b, lb, NULL), >, 0);
  }
}

/* Sequence numbers wrap: the sender moves to ROC 1, the receiver follows,
 * also when the packets around the wrap arrive out of order. */
static void
test_rollover (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 7);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 7);
    g_autoptr (KkSrtp) fresh = new_session (profiles[p], 7);
    static const guint16 order[] = { 65530, 65531, 65534, 1, 65535, 0, 3, 2 };
    guint8 pkts[8][256], first[256];
    gsize lens[8];

    for (guint i = 0; i < G_N_ELEMENTS (order); i++)
      lens[i] = protect_seq (tx, order[i], pkts[i]);
    for (guint i = 0; i < G_N_ELEMENTS (order); i++) {
      guint8 plain[256], out[256];
      gsize len = make_rtp (plain, order[i], 0x0badcafe, 120);

      g_assert_cmpint (unprotect_exact (rx, FALSE, pkts[i], lens[i], out), ==,
          len);
      g_assert_cmpmem (out, len, plain, len);
    }
    /* seq 0 as the first packet of a stream has ROC 0, so its bytes differ
     * from seq 0 after the wrap (ROC 1). */
    protect_seq (fresh, 0, first);
    g_assert_true (memcmp (first, pkts[5], lens[5]) != 0);
  }
}

/* A NACKed packet protected again after the wrap is byte-identical to its
 * first protection, and does not disturb the packets that follow. */
static void
test_retransmission (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 8);
    g_autoptr (KkSrtp) reference = new_session (profiles[p], 8);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 8);
    guint8 pkts[10][256], again[256], ref[256];
    gsize lens[10];
    guint16 seq;

    for (guint i = 0; i < 10; i++) {
      seq = (guint16) (65533 + i);
      lens[i] = protect_seq (tx, seq, pkts[i]);
      protect_seq (reference, seq, ref);
      /* 65534 and 2 are "lost" on the way to the receiver */
      if (seq != 65534 && seq != 2)
        g_assert_cmpint (unprotect_exact (rx, FALSE, pkts[i], lens[i], NULL),
            >, 0);
    }
    g_assert_cmpuint (protect_seq (tx, 65534, again), ==, lens[1]);
    g_assert_cmpmem (again, lens[1], pkts[1], lens[1]);
    g_assert_cmpint (unprotect_exact (rx, FALSE, again, lens[1], NULL), >, 0);
    g_assert_cmpuint (protect_seq (tx, 2, again), ==, lens[5]);
    g_assert_cmpmem (again, lens[5], pkts[5], lens[5]);
    g_assert_cmpint (unprotect_exact (rx, FALSE, again, lens[5], NULL), >, 0);

    /* The next new packet is what a sender without retransmissions sends. */
    seq = 7;                    /* 65533 + 10 */
    g_assert_cmpuint (protect_seq (tx, seq, again), ==,
        protect_seq (reference, seq, ref));
    g_assert_cmpmem (again, lens[0], ref, lens[0]);

    /* An old sequence number from before the wrap keeps ROC 0 and does
     * not move the stream. */
    protect_seq (tx, 40000, again);
    protect_seq (tx, seq + 1, again);
    protect_seq (reference, seq + 1, ref);
    g_assert_cmpmem (again, lens[0], ref, lens[0]);
  }

  /* A retransmission must not pull the highest index back: the next new
   * packet is guessed relative to it. */
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    static const guint16 sent[] = { 65530, 100, 20000, 30000 };
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 8);
    g_autoptr (KkSrtp) reference = new_session (profiles[p], 8);
    guint8 a[256], b[256];
    gsize len;

    for (guint i = 0; i < G_N_ELEMENTS (sent); i++) {
      protect_seq (tx, sent[i], a);
      protect_seq (reference, sent[i], b);
    }
    protect_seq (tx, 100, a);
    len = protect_seq (tx, 33000, a);
    protect_seq (reference, 33000, b);
    g_assert_cmpmem (a, len, b, len);
  }

  /* One far behind the first packet sent has no ROC to go back to: it gets
   * ROC 0 and leaves the stream alone too. */
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 8);
    g_autoptr (KkSrtp) reference = new_session (profiles[p], 8);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 8);
    guint8 a[256], b[256];
    gsize len;

    len = protect_seq (tx, 100, a);
    protect_seq (reference, 100, b);
    g_assert_cmpint (unprotect_exact (rx, FALSE, a, len, NULL), >, 0);
    /* A receiver drops it, as libsrtp does. */
    len = protect_seq (tx, 65000, a);
    g_assert_cmpint (unprotect_exact (rx, FALSE, a, len, NULL), ==, -1);
    len = protect_seq (tx, 101, a);
    protect_seq (reference, 101, b);
    g_assert_cmpmem (a, len, b, len);
    g_assert_cmpint (unprotect_exact (rx, FALSE, a, len, NULL), >, 0);
  }
}

/* Enough SSRCs to outgrow the inline array, interleaved. */
static void
test_many_ssrcs (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 9);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 9);

    for (guint round = 0; round < 3; round++) {
      for (guint32 ssrc = 1; ssrc <= 20; ssrc++) {
        guint8 plain[256], buf[256];
        gsize len = make_rtp (plain, 65535 + round, ssrc * 1000, 50);
        gssize out;

        memcpy (buf, plain, len);
        out = kk_srtp_protect_rtp (tx, buf, len, sizeof buf);
        g_assert_cmpint (unprotect_exact (rx, FALSE, buf, out, buf), ==, len);
        g_assert_cmpmem (buf, len, plain, len);

        len = make_rtcp (plain, ssrc * 1000, round);
        memcpy (buf, plain, len);
        out = kk_srtp_protect_rtcp (tx, buf, len, sizeof buf);
        g_assert_cmpint (unprotect_exact (rx, TRUE, buf, out, buf), ==, len);
        g_assert_cmpmem (buf, len, plain, len);
      }
    }
  }
}

/* A peer can create state only for a bounded number of SSRCs: past 256,
 * packets from new SSRCs are refused, those from known ones still pass. */
static void
test_ssrc_limit (void)
{
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 13);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 13);
    guint8 buf[256];
    gsize len;
    gssize out;

    for (guint32 ssrc = 1; ssrc <= 256; ssrc++) {
      len = make_rtp (buf, 1, ssrc, 20);
      out = kk_srtp_protect_rtp (tx, buf, len, sizeof buf);
      g_assert_cmpint (unprotect_exact (rx, FALSE, buf, out, NULL), ==, len);
    }
    len = make_rtp (buf, 1, 257, 20);
    out = kk_srtp_protect_rtp (tx, buf, len, sizeof buf);
    g_assert_cmpint (unprotect_exact (rx, FALSE, buf, out, NULL), ==, -1);
    len = make_rtcp (buf, 257, 0);
    out = kk_srtp_protect_rtcp (tx, buf, len, sizeof buf);
    g_assert_cmpint (unprotect_exact (rx, TRUE, buf, out, NULL), ==, -1);
    /* SRTCP from an SSRC known through SRTP is fine. */
    len = make_rtcp (buf, 256, 0);
    out = kk_srtp_protect_rtcp (tx, buf, len, sizeof buf);
    g_assert_cmpint (unprotect_exact (rx, TRUE, buf, out, NULL), ==, len);
    len = make_rtp (buf, 2, 1, 20);
    out = kk_srtp_protect_rtp (tx, buf, len, sizeof buf);
    g_assert_cmpint (unprotect_exact (rx, FALSE, buf, out, NULL), ==, len);
  }
}

/* Truncations, garbage and non-RTP input fail with -1 and never read past
 * the end (the buffers are exactly sized for ASan). */
static void
test_malformed (void)
{
  GRand *rand = g_rand_new_with_seed (42);

  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) tx = new_session (profiles[p], 10);
    g_autoptr (KkSrtp) rx = new_session (profiles[p], 10);

    for (gboolean rtcp = FALSE; rtcp <= TRUE; rtcp++) {
      guint8 buf[CAPACITY];
      gsize len = rtcp ? make_rtcp (buf, 7, 0) : make_rtp (buf, 9, 7, 40);
      gssize out = rtcp ? kk_srtp_protect_rtcp (tx, buf, len, CAPACITY)
          : kk_srtp_protect_rtp (tx, buf, len, CAPACITY);

      for (gsize cut = 0; cut < (gsize) out; cut++)
        g_assert_cmpint (unprotect_exact (rx, rtcp, buf, cut, NULL), ==, -1);
      g_assert_cmpint (unprotect_exact (rx, rtcp, buf, out, NULL), ==, len);
    }

    for (guint i = 0; i < 2000; i++) {
      guint8 junk[300];
      gsize len = g_rand_int_range (rand, 0, sizeof junk);

      for (gsize j = 0; j < len; j++)
        junk[j] = g_rand_int (rand);
      /* Mostly version 2, with CSRC counts and extensions. */
      if (len > 0 && i % 4 != 0)
        junk[0] = 0x80 | (junk[0] & 0x3f);
      g_assert_cmpint (unprotect_exact (rx, FALSE, junk, len, NULL), ==, -1);
      g_assert_cmpint (unprotect_exact (rx, TRUE, junk, len, NULL), ==, -1);
    }

    {
      /* Not RTP: short, wrong version, CSRCs or extension past the end. */
      static const char *bad_rtp[] = {
        "",
        "80",
        "8060000100000001000000",
        "4060000100000001000000010000",
        "8f600001000000010000000100000002",
        "906000010000000100000001bede",
        "906000010000000100000001bede0002aaaaaaaa",
      };
      static const char *bad_rtcp[] = {
        "", "80c9", "80c90001000000", "00c9000100000001",
      };

      for (guint i = 0; i < G_N_ELEMENTS (bad_rtp); i++) {
        guint8 b[64];
        gsize len = unhex (bad_rtp[i], b, sizeof b);

        g_assert_cmpint (kk_srtp_protect_rtp (tx, b, len, sizeof b), ==, -1);
      }
      for (guint i = 0; i < G_N_ELEMENTS (bad_rtcp); i++) {
        guint8 b[64];
        gsize len = unhex (bad_rtcp[i], b, sizeof b);

        g_assert_cmpint (kk_srtp_protect_rtcp (tx, b, len, sizeof b), ==, -1);
      }
    }
  }
  g_rand_free (rand);
}

#ifdef HAVE_LIBSRTP2

static srtp_t
libsrtp_session (KkSrtpProfile profile, guint8 seed, gboolean outbound)
{
  guint8 keysalt[30];
  srtp_policy_t policy;
  srtp_t session = NULL;

  fill_master (profile, seed, keysalt, keysalt + 16);
  memset (&policy, 0, sizeof policy);
  if (profile == KK_SRTP_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
  }
  policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = keysalt;
  policy.window_size = 128;
  policy.allow_repeat_tx = 1;
  g_assert_cmpint (srtp_create (&session, &policy), ==, srtp_err_status_ok);
  return session;
}

/* The sequence both directions go through: across the wrap, with two
 * packets lost and retransmitted after it. */
static const guint16 cross_seqs[] = {
  65500, 65501, 65502, 65530, 65533, 65535, 0, 1, 2, 65534, 3, 4, 100, 101,
};

static gboolean
cross_lost (guint i)
{
  return cross_seqs[i] == 65533 || cross_seqs[i] == 1;
}

/* Protects @plain (@len bytes) with both implementations and checks that
 * the bytes are the same, then has each side read the other's. */
static void
cross_rtp (KkSrtp *ours_tx, KkSrtp *ours_rx, srtp_t their_tx, srtp_t their_rx,
    const guint8 *plain, gsize len, gboolean deliver)
{
  guint8 ours[CAPACITY], theirs[CAPACITY];
  gssize ours_len;
  int theirs_len = len, n;

  memcpy (ours, plain, len);
  memcpy (theirs, plain, len);
  ours_len = kk_srtp_protect_rtp (ours_tx, ours, len, CAPACITY);
  g_assert_cmpint (srtp_protect (their_tx, theirs, &theirs_len), ==,
      srtp_err_status_ok);
  g_assert_cmpmem (ours, ours_len, theirs, theirs_len);
  if (!deliver)
    return;

  n = ours_len;
  g_assert_cmpint (srtp_unprotect (their_rx, ours, &n), ==,
      srtp_err_status_ok);
  g_assert_cmpmem (ours, n, plain, len);
  g_assert_cmpint (unprotect_exact (ours_rx, FALSE, theirs, theirs_len,
          theirs), ==, len);
  g_assert_cmpmem (theirs, len, plain, len);
}

static void
test_libsrtp_rtp (void)
{
  g_assert_cmpint (srtp_init (), ==, srtp_err_status_ok);

  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) ours_tx = new_session (profiles[p], 11);
    g_autoptr (KkSrtp) ours_rx = new_session (profiles[p], 11);
    srtp_t their_tx = libsrtp_session (profiles[p], 11, TRUE);
    srtp_t their_rx = libsrtp_session (profiles[p], 11, FALSE);

    for (guint32 ssrc = 0x11223344; ssrc <= 0x11223345; ssrc++) {
      guint8 plain[CAPACITY];
      gsize len;

      /* In order, across the wrap, one packet sent late, two lost... */
      for (guint i = 0; i < G_N_ELEMENTS (cross_seqs); i++) {
        len = make_rtp (plain, cross_seqs[i], ssrc, 60 + 50 * (i % 4));
        cross_rtp (ours_tx, ours_rx, their_tx, their_rx, plain, len,
            !cross_lost (i));
      }
      /* ...and retransmitted at the end. */
      for (guint i = 0; i < G_N_ELEMENTS (cross_seqs); i++) {
        if (!cross_lost (i))
          continue;
        len = make_rtp (plain, cross_seqs[i], ssrc, 60 + 50 * (i % 4));
        cross_rtp (ours_tx, ours_rx, their_tx, their_rx, plain, len, TRUE);
      }
    }
    srtp_dealloc (their_tx);
    srtp_dealloc (their_rx);
  }
  g_assert_cmpint (srtp_shutdown (), ==, srtp_err_status_ok);
}

static void
test_libsrtp_rtcp (void)
{
  g_assert_cmpint (srtp_init (), ==, srtp_err_status_ok);

  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    g_autoptr (KkSrtp) ours_tx = new_session (profiles[p], 12);
    g_autoptr (KkSrtp) ours_rx = new_session (profiles[p], 12);
    srtp_t their_tx = libsrtp_session (profiles[p], 12, TRUE);
    srtp_t their_rx = libsrtp_session (profiles[p], 12, FALSE);

    for (guint i = 0; i < 6; i++) {
      guint8 plain[CAPACITY], buf[CAPACITY];
      gsize len = make_rtcp (plain, 0x99887766, i);
      gssize out;
      int n;

      memcpy (buf, plain, len);
      out = kk_srtp_protect_rtcp (ours_tx, buf, len, CAPACITY);
      n = out;
      g_assert_cmpint (srtp_unprotect_rtcp (their_rx, buf, &n), ==,
          srtp_err_status_ok);
      g_assert_cmpmem (buf, n, plain, len);

      memcpy (buf, plain, len);
      n = len;
      g_assert_cmpint (srtp_protect_rtcp (their_tx, buf, &n), ==,
          srtp_err_status_ok);
      g_assert_cmpint (unprotect_exact (ours_rx, TRUE, buf, n, buf), ==, len);
      g_assert_cmpmem (buf, len, plain, len);
    }
    srtp_dealloc (their_tx);
    srtp_dealloc (their_rx);
  }
  g_assert_cmpint (srtp_shutdown (), ==, srtp_err_status_ok);
}

#else

static void
test_libsrtp_missing (void)
{
  g_test_skip ("libsrtp2 not available");
}

#endif

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/srtp/profiles", test_profiles);
  g_test_add_func ("/srtp/rfc3711/keystream", test_rfc3711_keystream);
  g_test_add_func ("/srtp/rfc3711/kdf", test_rfc3711_kdf);
  g_test_add_func ("/srtp/rfc7714/srtp", test_rfc7714_srtp);
  g_test_add_func ("/srtp/rfc7714/srtcp", test_rfc7714_srtcp);
  g_test_add_func ("/srtp/roundtrip/rtp", test_roundtrip_rtp);
  g_test_add_func ("/srtp/roundtrip/rtcp", test_roundtrip_rtcp);
  g_test_add_func ("/srtp/tampering", test_tampering);
  g_test_add_func ("/srtp/replay", test_replay);
  g_test_add_func ("/srtp/forgery-keeps-state", test_forgery_keeps_state);
  g_test_add_func ("/srtp/rollover", test_rollover);
  g_test_add_func ("/srtp/retransmission", test_retransmission);
  g_test_add_func ("/srtp/many-ssrcs", test_many_ssrcs);
  g_test_add_func ("/srtp/ssrc-limit", test_ssrc_limit);
  g_test_add_func ("/srtp/malformed", test_malformed);
#ifdef HAVE_LIBSRTP2
  g_test_add_func ("/srtp/libsrtp2/rtp", test_libsrtp_rtp);
  g_test_add_func ("/srtp/libsrtp2/rtcp", test_libsrtp_rtcp);
#else
  g_test_add_func ("/srtp/libsrtp2/rtp", test_libsrtp_missing);
  g_test_add_func ("/srtp/libsrtp2/rtcp", test_libsrtp_missing);
#endif

  return g_test_run ();
}
