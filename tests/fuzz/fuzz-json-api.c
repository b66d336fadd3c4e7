/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the JSON bodies of the control API: the input is given,
 * as is, to the parsers the POST /api/rooms and POST /api/rooms/{room}/join
 * handlers call (kk_api_parse_room_request, kk_api_parse_join_request),
 * which bound, parse and validate it. Whatever they accept must pass the
 * validators again.
 */
#include "kk-api.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (KkRoomConfig) room = NULL;
  g_autoptr (KkJoinRequest) join = NULL;
  g_autoptr (GError) room_error = NULL;
  g_autoptr (GError) join_error = NULL;

  room = kk_api_parse_room_request ((const char *) data, size, &room_error);
  if ((room == NULL) == (room_error == NULL))
    abort ();
  if (room != NULL && !kk_room_config_validate (room, NULL))
    abort ();

  join = kk_api_parse_join_request ((const char *) data, size, &join_error);
  if ((join == NULL) == (join_error == NULL))
    abort ();
  if (join != NULL) {
    if (!kk_room_validate_text ("name", join->name, 1, KK_ROOM_NAME_MAX, NULL)
        || g_strv_length (join->colleagues) > KK_ROOM_COLLEAGUES_MAX)
      abort ();
  }
  return 0;
}
