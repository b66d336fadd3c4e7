/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-room-rules: the validators of a room's fields; see kk-room-rules.h.
 *
 * Each check stops at the first fault and says, in a message fit for the
 * person who typed the value, what the field must be; it never echoes the
 * value itself, which may be 64 KiB of garbage from a request body.
 */

#include "kk-room-rules.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (kk-room-error-quark, kk_room_error)

gboolean
kk_room_validate_id (const char *id, GError **error)
{
  gsize len = id != NULL ? strlen (id) : 0;

  if (len == 0 || len > KK_ROOM_ID_MAX || !(g_ascii_islower (id[0])
          || g_ascii_isdigit (id[0])))
    goto invalid;
  for (gsize i = 1; i < len; i++) {
    if (!(g_ascii_islower (id[i]) || g_ascii_isdigit (id[i]) || id[i] == '-'))
      goto invalid;
  }
  return TRUE;

invalid:
  g_set_error (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
      "a room id is 1 to %d characters of a-z, 0-9 and '-', not starting "
      "with '-'", KK_ROOM_ID_MAX);
  return FALSE;
}

gboolean
kk_room_validate_text (const char *what, const char *text, guint min_chars,
    guint max_chars, GError **error)
{
  gboolean blank = TRUE;
  guint chars = 0;
  const char *end;

  if (text == NULL || !g_utf8_validate (text, -1, &end)) {
    g_set_error (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
        "%s is not valid UTF-8", what);
    return FALSE;
  }
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_unichar_iscntrl (c)) {
      g_set_error (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
          "%s contains a control character", what);
      return FALSE;
    }
    if (!g_unichar_isspace (c))
      blank = FALSE;
    /* Stop counting early: the text may be up to 64 KiB of garbage. */
    if (++chars > max_chars)
      break;
  }
  if (chars < min_chars || chars > max_chars || (min_chars > 0 && blank)) {
    g_set_error (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
        "%s must be %u to %u characters", what, min_chars, max_chars);
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_room_validate_completion_ratio (double ratio, GError **error)
{
  if (!isfinite (ratio) || ratio < 0.0 || ratio > 1.0) {
    g_set_error_literal (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
        "completion ratio must be a number from 0 to 1");
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_room_validate_source (const char *source, GError **error)
{
  gsize len = source != NULL ? strlen (source) : 0;

  if (len == 0 || len > 64 || !(g_ascii_islower (source[0])
          || g_ascii_isdigit (source[0])))
    goto invalid;
  for (gsize i = 1; i < len; i++) {
    if (!(g_ascii_islower (source[i]) || g_ascii_isdigit (source[i])
            || source[i] == '-' || source[i] == '_'))
      goto invalid;
  }
  return TRUE;

invalid:
  g_set_error_literal (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
      "source must be \"whip\" or a pipeline name (a-z, 0-9, '-', '_')");
  return FALSE;
}

gboolean
kk_room_validate_source_uri (const char *uri, GError **error)
{
  if (uri == NULL || strlen (uri) > KK_ROOM_SOURCE_URI_MAX
      || !g_uri_is_valid (uri, G_URI_FLAGS_NONE, NULL)) {
    g_set_error_literal (error, KK_ROOM_ERROR, KK_ROOM_ERROR_INVALID,
        "source URI must be an absolute URI");
    return FALSE;
  }
  return TRUE;
}

