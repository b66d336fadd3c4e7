/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for a viewer's choice of quality, the JSON body of a WHEP
 * PATCH (kk_signalling_parse_quality) and, from the same bytes, the query
 * of a WHEP POST's URL (kk_signalling_parse_quality_query): each fails
 * with an error or gives one of the qualities, whose name reads back as
 * the same, and a start on the full or the light layer.
 */
#include "kk-signalling.h"

#include <stdlib.h>

static void
check_choice (gboolean ok, GError *error, KkQuality quality, KkLayer start)
{
  KkQuality again;

  if (ok == (error != NULL))
    abort ();
  if (ok && (!kk_quality_from_string (kk_quality_to_string (quality), &again)
          || again != quality
          || (start != KK_LAYER_FULL && start != KK_LAYER_LIGHT)))
    abort ();
}

/* The query as the URL gives it: text up to the first NUL. */
static void
fuzz_query (const guint8 *data, size_t size)
{
  g_autofree char *query = g_strndup ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  KkQuality quality = KK_QUALITY_AUTO;
  KkLayer start = KK_LAYER_AUDIO_ONLY;
  gboolean chosen = TRUE, ok;

  ok = kk_signalling_parse_quality_query (query, &chosen, &quality, &start,
      &error);
  if (!ok && chosen)
    abort ();
  if (ok && !chosen)
    return;             /* nothing named: quality and start untouched */
  check_choice (ok, error, quality, start);
}

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  KkQuality quality = KK_QUALITY_AUTO;
  KkLayer start = KK_LAYER_AUDIO_ONLY;
  gboolean ok;

  ok = kk_signalling_parse_quality ((const char *) data, size, &quality,
      &start, &error);
  check_choice (ok, error, quality, start);
  fuzz_query (data, size);
  return 0;
}
