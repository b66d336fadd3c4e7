/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-icetcp: the input is a TCP stream fed to the reader in
 * slices whose sizes come from the input itself (its first byte seeds
 * them), as reads of any size may end anywhere. Every frame handed out must
 * have a length in 1..KK_ICETCP_MAX_FRAME and be readable to its end.
 */

#include "kringkast/kk-icetcp.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
on_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  guint *sum = user_data;

  if (len == 0 || len > KK_ICETCP_MAX_FRAME)
    abort ();
  *sum += frame[0] + frame[len - 1];
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  KkIceTcpReader reader;
  guint sum = 0;
  guint32 rng;
  gsize off = 1;

  if (size < 1)
    return 0;
  rng = data[0] | 1;

  kk_icetcp_reader_init (&reader);
  while (off < size) {
    gsize slice;
    GError *error = NULL;

    /* xorshift: slices of 1..64 bytes, sometimes the whole rest. */
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    slice = (rng & 0x100) ? size - off : 1 + (rng & 63);
    slice = MIN (slice, size - off);
    if (!kk_icetcp_reader_feed (&reader, data + off, slice, on_frame, &sum,
            &error)) {
      if (error == NULL)
        abort ();
      g_error_free (error);
      break;
    }
    if (reader.fill > sizeof (reader.buf))
      abort ();
    off += slice;
  }
  return 0;
}
