/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protect throughput of kk-srtp, both profiles, for a 1100-byte video and a
 * 200-byte audio payload, against libsrtp2 when it is available; and the
 * HMAC-SHA1 alternatives OpenSSL 3 offers, which is how kk-srtp's choice of
 * precomputed SHA_CTX states was made. Prints µs per packet, the best of
 * several runs (the machine is shared).
 *
 * Usage: bench-srtp [iterations per run]
 */

/* SHA1_Init() and HMAC_CTX, for the comparison kk-srtp.c describes. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "kringkast/kk-srtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#if defined(__has_include)
#if __has_include(<srtp2/srtp.h>)
#include <srtp2/srtp.h>
#define HAVE_LIBSRTP2 1
#endif
#endif

#define RUNS 5
#define HEADER_LEN 12
#define BUF_LEN 2048

static const guint8 master_key[16] = {
  0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
  0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
};
static const guint8 master_salt[14] = {
  0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb,
  0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
};

typedef void (*ProtectFunc) (gpointer ctx, guint8 *buf, gsize len);

static void
make_packet (guint8 *buf, gsize payload_len)
{
  memset (buf, 0, BUF_LEN);
  buf[0] = 0x80;
  buf[1] = 96;
  buf[8] = 0x12;
  buf[9] = 0x34;
  buf[10] = 0x56;
  buf[11] = 0x78;
  for (gsize i = 0; i < payload_len; i++)
    buf[HEADER_LEN + i] = i;
}

/* Best µs per call of @func over @iterations calls, each with the next
 * sequence number, protecting in place (the trailer is ignored). */
static double
measure (ProtectFunc func, gpointer ctx, gsize payload_len, guint iterations)
{
  guint8 buf[BUF_LEN];
  double best = G_MAXDOUBLE;
  guint seq = 0;

  make_packet (buf, payload_len);
  for (guint run = 0; run < RUNS; run++) {
    gint64 start = g_get_monotonic_time ();

    for (guint i = 0; i < iterations; i++, seq++) {
      buf[2] = seq >> 8;
      buf[3] = seq;
      func (ctx, buf, HEADER_LEN + payload_len);
    }
    best = MIN (best, (double) (g_get_monotonic_time () - start) / iterations);
  }
  return best;
}

static void
protect_ours (gpointer ctx, guint8 *buf, gsize len)
{
  if (kk_srtp_protect_rtp (ctx, buf, len, BUF_LEN) < 0)
    g_error ("kk_srtp_protect_rtp failed");
}

#ifdef HAVE_LIBSRTP2
static void
protect_libsrtp (gpointer ctx, guint8 *buf, gsize len)
{
  int n = len;

  if (srtp_protect (ctx, buf, &n) != srtp_err_status_ok)
    g_error ("srtp_protect failed");
}

static srtp_t
libsrtp_session (KkSrtpProfile profile)
{
  guint8 keysalt[30];
  srtp_policy_t policy;
  srtp_t session = NULL;

  memcpy (keysalt, master_key, 16);
  memcpy (keysalt + 16, master_salt, 14);
  memset (&policy, 0, sizeof policy);
  if (profile == KK_SRTP_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
  }
  policy.ssrc.type = ssrc_any_outbound;
  policy.key = keysalt;
  policy.allow_repeat_tx = 1;
  if (srtp_create (&session, &policy) != srtp_err_status_ok)
    g_error ("srtp_create failed");
  return session;
}
#endif

/* ---- HMAC-SHA1 alternatives, over a whole packet plus the 4-byte ROC ---- */

typedef struct {
  guint8 key[20];
  EVP_MAC_CTX *mac;
  EVP_MD_CTX *inner, *outer, *work;
  SHA_CTX sha_inner, sha_outer;
  HMAC_CTX *hmac;
} HmacBench;

static void
hmac_evp_mac (gpointer ctx, guint8 *buf, gsize len)
{
  HmacBench *b = ctx;
  guint8 mac[EVP_MAX_MD_SIZE];
  gsize n;

  EVP_MAC_init (b->mac, NULL, 0, NULL);
  EVP_MAC_update (b->mac, buf, len);
  EVP_MAC_update (b->mac, b->key, 4);
  EVP_MAC_final (b->mac, mac, &n, sizeof mac);
  buf[len - 1] = mac[0];
}

static void
hmac_md_copy (gpointer ctx, guint8 *buf, gsize len)
{
  HmacBench *b = ctx;
  guint8 mac[EVP_MAX_MD_SIZE];
  unsigned int n;

  EVP_MD_CTX_copy_ex (b->work, b->inner);
  EVP_DigestUpdate (b->work, buf, len);
  EVP_DigestUpdate (b->work, b->key, 4);
  EVP_DigestFinal_ex (b->work, mac, &n);
  EVP_MD_CTX_copy_ex (b->work, b->outer);
  EVP_DigestUpdate (b->work, mac, n);
  EVP_DigestFinal_ex (b->work, mac, &n);
  buf[len - 1] = mac[0];
}

static void
hmac_sha_ctx (gpointer ctx, guint8 *buf, gsize len)
{
  HmacBench *b = ctx;
  guint8 mac[SHA_DIGEST_LENGTH];
  SHA_CTX c = b->sha_inner;

  SHA1_Update (&c, buf, len);
  SHA1_Update (&c, b->key, 4);
  SHA1_Final (mac, &c);
  c = b->sha_outer;
  SHA1_Update (&c, mac, sizeof mac);
  SHA1_Final (mac, &c);
  buf[len - 1] = mac[0];
}

static void
hmac_ctx_reuse (gpointer ctx, guint8 *buf, gsize len)
{
  HmacBench *b = ctx;
  guint8 mac[EVP_MAX_MD_SIZE];
  unsigned int n;

  HMAC_Init_ex (b->hmac, NULL, 0, NULL, NULL);
  HMAC_Update (b->hmac, buf, len);
  HMAC_Update (b->hmac, b->key, 4);
  HMAC_Final (b->hmac, mac, &n);
  buf[len - 1] = mac[0];
}

static void
hmac_bench_init (HmacBench *b)
{
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, (char *) "SHA1",
        0),
    OSSL_PARAM_construct_end (),
  };
  EVP_MAC *mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
  guint8 pad[64];

  memset (b->key, 0x5a, sizeof b->key);
  b->mac = EVP_MAC_CTX_new (mac);
  EVP_MAC_free (mac);
  EVP_MAC_init (b->mac, b->key, sizeof b->key, params);

  b->inner = EVP_MD_CTX_new ();
  b->outer = EVP_MD_CTX_new ();
  b->work = EVP_MD_CTX_new ();
  for (guint i = 0; i < 2; i++) {
    memset (pad, i == 0 ? 0x36 : 0x5c, sizeof pad);
    for (guint j = 0; j < sizeof b->key; j++)
      pad[j] ^= b->key[j];
    EVP_DigestInit_ex (i == 0 ? b->inner : b->outer, EVP_sha1 (), NULL);
    EVP_DigestUpdate (i == 0 ? b->inner : b->outer, pad, sizeof pad);
    SHA1_Init (i == 0 ? &b->sha_inner : &b->sha_outer);
    SHA1_Update (i == 0 ? &b->sha_inner : &b->sha_outer, pad, sizeof pad);
  }

  b->hmac = HMAC_CTX_new ();
  HMAC_Init_ex (b->hmac, b->key, sizeof b->key, EVP_sha1 (), NULL);
}

static void
hmac_bench_clear (HmacBench *b)
{
  EVP_MAC_CTX_free (b->mac);
  EVP_MD_CTX_free (b->inner);
  EVP_MD_CTX_free (b->outer);
  EVP_MD_CTX_free (b->work);
  HMAC_CTX_free (b->hmac);
}

int
main (int argc, char **argv)
{
  static const KkSrtpProfile profiles[] = {
    KK_SRTP_AES128_CM_SHA1_80, KK_SRTP_AEAD_AES_128_GCM,
  };
  static const gsize payloads[] = { 1100, 200 };
  guint iterations = argc > 1 ? (guint) atoi (argv[1]) : 200000;
  HmacBench hmac;

  if (iterations == 0)
    iterations = 1;
#ifdef HAVE_LIBSRTP2
  if (srtp_init () != srtp_err_status_ok)
    g_error ("srtp_init failed");
#endif

  printf ("SRTP protect, µs per packet (best of %d runs of %u)\n", RUNS,
      iterations);
  for (guint p = 0; p < G_N_ELEMENTS (profiles); p++) {
    for (guint s = 0; s < G_N_ELEMENTS (payloads); s++) {
      g_autoptr (KkSrtp) ours = kk_srtp_new (profiles[p], master_key,
          master_salt);

      printf ("  %-24s %4zu B payload  kk-srtp %6.3f",
          kk_srtp_profile_name (profiles[p]), payloads[s],
          measure (protect_ours, ours, payloads[s], iterations));
#ifdef HAVE_LIBSRTP2
      {
        srtp_t theirs = libsrtp_session (profiles[p]);

        printf ("  libsrtp2 %6.3f",
            measure (protect_libsrtp, theirs, payloads[s], iterations));
        srtp_dealloc (theirs);
      }
#endif
      printf ("\n");
    }
  }

  hmac_bench_init (&hmac);
  printf ("HMAC-SHA1 of one packet + ROC, µs\n");
  for (guint s = 0; s < G_N_ELEMENTS (payloads); s++) {
    printf ("  %4zu B payload  EVP_MAC re-init %6.3f  EVP_MD_CTX_copy_ex %6.3f"
        "  HMAC_CTX reuse %6.3f  SHA_CTX copy %6.3f\n", payloads[s],
        measure (hmac_evp_mac, &hmac, payloads[s], iterations),
        measure (hmac_md_copy, &hmac, payloads[s], iterations),
        measure (hmac_ctx_reuse, &hmac, payloads[s], iterations),
        measure (hmac_sha_ctx, &hmac, payloads[s], iterations));
  }
  hmac_bench_clear (&hmac);

#ifdef HAVE_LIBSRTP2
  srtp_shutdown ();
#endif
  return 0;
}
