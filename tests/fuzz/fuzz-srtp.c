/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes kk-srtp with a fixed key, both profiles: the input goes to
 * unprotect_rtp and unprotect_rtcp as a received packet, in a buffer of its
 * exact size so ASan sees any read past the end. Since forged packets fail
 * authentication early, the input is also protected as a plaintext and
 * unprotected again, which must give it back unchanged; that drives the
 * header parsing and the crypto on arbitrary headers and lengths.
 */
#include "kringkast/kk-srtp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_unprotect (KkSrtp *rx, gboolean rtcp, const guint8 *data, size_t size)
{
  guint8 *buf = g_malloc (MAX (size, 1));
  gssize ret;

  memcpy (buf, data, size);
  ret = rtcp ? kk_srtp_unprotect_rtcp (rx, buf, size)
      : kk_srtp_unprotect_rtp (rx, buf, size);
  if (ret != -1 && (ret < 0 || (gsize) ret > size))
    abort ();
  g_free (buf);
}

static void
check_roundtrip (KkSrtp *tx, KkSrtp *rx, gboolean rtcp, const guint8 *data,
    size_t size)
{
  gsize capacity = size + KK_SRTP_MAX_TRAILER;
  guint8 *buf = g_malloc (capacity);
  gssize out, back;

  memcpy (buf, data, size);
  out = rtcp ? kk_srtp_protect_rtcp (tx, buf, size, capacity)
      : kk_srtp_protect_rtp (tx, buf, size, capacity);
  if (out >= 0) {
    if ((gsize) out <= size || (gsize) out > capacity)
      abort ();
    back = rtcp ? kk_srtp_unprotect_rtcp (rx, buf, out)
        : kk_srtp_unprotect_rtp (rx, buf, out);
    if (back < 0 || (gsize) back != size || memcmp (buf, data, size) != 0)
      abort ();
  }
  g_free (buf);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static const KkSrtpProfile profiles[] = {
    KK_SRTP_AES128_CM_SHA1_80, KK_SRTP_AEAD_AES_128_GCM,
  };
  static const guint8 key[16] = {
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
    0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
  };
  static const guint8 salt[14] = {
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb,
    0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
  };

  for (guint i = 0; i < G_N_ELEMENTS (profiles); i++) {
    g_autoptr (KkSrtp) rx = kk_srtp_new (profiles[i], key, salt);
    g_autoptr (KkSrtp) tx = kk_srtp_new (profiles[i], key, salt);
    g_autoptr (KkSrtp) rx2 = kk_srtp_new (profiles[i], key, salt);

    if (rx == NULL || tx == NULL || rx2 == NULL)
      abort ();
    check_unprotect (rx, FALSE, data, size);
    check_unprotect (rx, TRUE, data, size);
    check_roundtrip (tx, rx2, FALSE, data, size);
    check_roundtrip (tx, rx2, TRUE, data, size);
  }
  return 0;
}
