/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the coordinator's room and recording-link bodies: the
 * input is given, as is, to the parsers PATCH /api/rooms/{room}
 * (kk_api_parse_room_edit), POST /api/rooms with its access
 * (kk_api_parse_new_room) and POST /api/sessions/{id}/recording/link
 * (kk_recordings_api_parse_link_request) run. Each either fails with an
 * error or returns values inside their bounds: an edit that changes
 * something, a title the validators accept, a ratio in [0, 1], a known
 * access mode, a link lifetime of 1 s to the maximum.
 */
#include "kk-api.h"
#include "kk-recordings-api.h"

#include <math.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (KkRoomEdit) edit = NULL;
  g_autoptr (KkRoomConfig) room = NULL;
  g_autoptr (GError) edit_error = NULL;
  g_autoptr (GError) room_error = NULL;
  g_autoptr (GError) link_error = NULL;
  KkRoomAccess access = KK_ROOM_ACCESS_OPEN;
  guint lifetime = 0;

  edit = kk_api_parse_room_edit ((const char *) data, size, &edit_error);
  if ((edit == NULL) == (edit_error == NULL))
    abort ();
  if (edit != NULL) {
    if (edit->title == NULL && !edit->set_record
        && !edit->set_completion_ratio && !edit->set_access)
      abort ();
    if (edit->title != NULL && !kk_room_validate_text ("title", edit->title,
            1, KK_ROOM_TITLE_MAX, NULL))
      abort ();
    if (edit->set_completion_ratio && (!isfinite (edit->completion_ratio)
            || edit->completion_ratio < 0 || edit->completion_ratio > 1))
      abort ();
    if (edit->set_access && edit->access != KK_ROOM_ACCESS_OPEN
        && edit->access != KK_ROOM_ACCESS_INVITATION)
      abort ();
  }

  room = kk_api_parse_new_room ((const char *) data, size, &access,
      &room_error);
  if ((room == NULL) == (room_error == NULL))
    abort ();
  if (room != NULL && (!kk_room_config_validate (room, NULL)
          || (access != KK_ROOM_ACCESS_OPEN
              && access != KK_ROOM_ACCESS_INVITATION)))
    abort ();

  if (kk_recordings_api_parse_link_request ((const char *) data, size,
          &lifetime, &link_error)) {
    if (link_error != NULL || lifetime > KK_RECORDINGS_LINK_MAX_S)
      abort ();
  } else if (link_error == NULL) {
    abort ();
  }
  return 0;
}
