/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the body of POST /api/rooms/{room}/sessions and PATCH
 * /api/sessions/{id}: the input goes, as is, to kk_schedule_api_parse_request
 * (both as a full and as a partial body) and what it accepts to
 * kk_schedule_api_validate_times, as the handlers do. It must fail with an
 * error or succeed without one, and what it accepts must be whole seconds
 * after 1970, each time given or left out as the body said.
 */
#include "kk-schedule-api.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check (const guint8 *data, size_t size, gboolean partial)
{
  g_autoptr (GError) error = NULL;
  gint64 start, end;
  gboolean ok;

  ok = kk_schedule_api_parse_request ((const char *) data, size, partial,
      &start, &end, &error);
  if (ok == (error != NULL))
    abort ();
  if (!ok)
    return;
  if (start < 0 || end < 0 || start % G_USEC_PER_SEC != 0
      || end % G_USEC_PER_SEC != 0)
    abort ();
  if (!partial && (start == 0 || end == 0))
    abort ();
  if (partial && start == 0 && end == 0)
    abort ();
  if (start != 0 && end != 0) {
    ok = kk_schedule_api_validate_times (start, end, start, &error);
    if (ok == (error != NULL) || (ok && end <= start))
      abort ();
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  check (data, size, FALSE);
  check (data, size, TRUE);
  return 0;
}
