/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for a viewer's choice of quality, the JSON body of a WHEP
 * PATCH (kk_signalling_parse_quality): it fails with an error or gives
 * one of the qualities, whose name reads back as the same, and a start
 * on the full or the light layer.
 */
#include "kk-signalling.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  KkQuality quality = KK_QUALITY_AUTO, again;
  KkLayer start = KK_LAYER_AUDIO_ONLY;
  gboolean ok;

  ok = kk_signalling_parse_quality ((const char *) data, size, &quality,
      &start, &error);
  if (ok == (error != NULL))
    abort ();
  if (ok && (!kk_quality_from_string (kk_quality_to_string (quality), &again)
          || again != quality
          || (start != KK_LAYER_FULL && start != KK_LAYER_LIGHT)))
    abort ();
  return 0;
}
