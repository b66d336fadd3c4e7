/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for what kk-recordings takes from a request: the Range
 * header (kk_recordings_api_parse_range, against several file sizes), the
 * POST /api/rooms/{room}/recording body (kk_recordings_api_parse_request),
 * and a course title as it goes into Content-Disposition. A range must
 * lie inside the file; a body's values inside their bounds; the header
 * must stay one line, its plain file name free of quotes, separators and
 * anything but ASCII letters, digits and "._-".
 */
#include "kk-recordings-api.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_disposition (const char *title)
{
  g_autofree char *header = kk_recordings_api_content_disposition (title,
      (gint64) 1741046400 * G_USEC_PER_SEC, "webm");
  const char *name, *end;

  for (const char *p = header; *p != '\0'; p++) {
    if ((guchar) *p < 0x20 || (guchar) *p >= 0x7f)
      abort ();
  }
  name = strstr (header, "filename=\"");
  if (name == NULL)
    abort ();
  name += strlen ("filename=\"");
  end = strchr (name, '"');
  if (end == NULL || end == name || *name == '.' || *name == '-')
    abort ();
  for (const char *p = name; p < end; p++) {
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
      abort ();
  }
  if (strstr (end, "; filename*=UTF-8''") != end + 1)
    abort ();
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static const guint64 totals[] = { 0, 1, 100, G_MAXINT64 };
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  KkRecordingRequest request;

  for (guint i = 0; i < G_N_ELEMENTS (totals); i++) {
    guint64 start = G_MAXUINT64, end = G_MAXUINT64;

    switch (kk_recordings_api_parse_range (text, totals[i], &start, &end)) {
      case KK_RANGE_PARTIAL:
        if (start > end || end >= totals[i])
          abort ();
        break;
      case KK_RANGE_NONE:
      case KK_RANGE_UNSATISFIABLE:
        if (start != G_MAXUINT64 || end != G_MAXUINT64)
          abort ();
        break;
    }
  }

  if (kk_recordings_api_parse_request ((const char *) data, size, &request,
          &error)) {
    if (error != NULL || (!request.set_paused && !request.set_retention)
        || request.retention_days > KK_RECORDINGS_RETENTION_MAX_DAYS)
      abort ();
  } else if (error == NULL) {
    abort ();
  }

  /* Titles are what kk_room_validate_text lets through. */
  if (kk_room_validate_text ("title", text, 1, KK_ROOM_TITLE_MAX, NULL)
      && strlen (text) == size)
    check_disposition (text);
  return 0;
}
