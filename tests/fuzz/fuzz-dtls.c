/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-dtls: a fresh server-role association (what a viewer's
 * first packets reach) is fed the input as a sequence of datagrams, each
 * prefixed by a 2-byte big-endian length, so that the fuzzer can build
 * multi-datagram flights. A prefix longer than what is left takes the rest.
 * Whatever the association answers is discarded; the checks are ASan's and
 * UBSan's, plus the state machine's invariants below.
 */
#include "kringkast/kk-dtls.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
discard (const guint8 *data, gsize len, gpointer user_data)
{
  /* Touch every byte so that ASan sees what we were handed. */
  volatile guint8 sink = 0;

  for (gsize i = 0; i < len; i++)
    sink ^= data[i];
  (void) sink;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static KkDtlsContext *ctx;
  /* Any fingerprint: a handshake that gets as far as the client's
   * certificate will fail the check, which is a path worth exercising. */
  static const guint8 fingerprint[32] = { 0 };
  g_autoptr (KkDtls) dtls = NULL;

  if (ctx == NULL) {
    ctx = kk_dtls_context_new (NULL);
    if (ctx == NULL)
      abort ();
  }

  dtls = kk_dtls_new (ctx, TRUE, "sha-256", fingerprint, sizeof fingerprint,
      discard, NULL);
  while (size >= 2) {
    gsize len = (gsize) data[0] << 8 | data[1];
    g_autoptr (GError) error = NULL;
    KkDtlsState state;

    data += 2;
    size -= 2;
    len = MIN (len, size);
    state = kk_dtls_receive (dtls, data, len, &error);
    if ((state == KK_DTLS_STATE_FAILED || state == KK_DTLS_STATE_CLOSED)
        != (error != NULL))
      abort ();
    data += len;
    size -= len;
  }
  /* Whatever state the input left it in, closing must be safe. */
  kk_dtls_close (dtls);
  return 0;
}
