/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-http-guard's header block scanner, which sees every
 * byte a client sends before libsoup does. The first byte picks a read
 * size; the rest is fed in reads of that size and must give what one read
 * of it all gives, never taking more than it was given.
 */

#include "kk-http-guard.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  KkHttpHeadScan whole, split;
  size_t step, taken = 0;

  if (size == 0)
    return 0;
  step = data[0] % 64 + 1;
  data++;
  size--;

  kk_http_head_scan_init (&whole);
  if (kk_http_head_scan_feed (&whole, data, size) != whole.size
      || whole.size > size || (!whole.complete && whole.size != size))
    abort ();

  kk_http_head_scan_init (&split);
  for (size_t at = 0; at < size; at += step) {
    size_t n = size - at < step ? size - at : step;
    size_t got = kk_http_head_scan_feed (&split, data + at, n);

    if (got > n || (got < n && !split.complete))
      abort ();
    taken += got;
  }
  if (taken != whole.size || split.size != whole.size
      || split.complete != whole.complete)
    abort ();
  return 0;
}
