/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-config: the input is the text of a config file, run
 * through the same file layer kk_config_load() uses (GKeyFile parsing, the
 * per-group key tables, the room validators). It must either give a
 * config whose values are within their documented ranges or an error that
 * names the file; never crash or leak.
 */
#include "kk-config.h"
#include "kk-room.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;

  config = kk_config_load_from_data ((const char *) data, size, "fuzz.conf",
      &error);
  if (config == NULL) {
    if (error == NULL || strstr (error->message, "fuzz.conf") == NULL)
      abort ();
    return 0;
  }

  if (config->workers > 256 || config->data_dir == NULL
      || config->data_dir[0] == '\0')
    abort ();
  for (guint i = 0; i < config->rooms->len; i++) {
    const KkRoomConfig *room = g_ptr_array_index (config->rooms, i);

    if (!kk_room_config_validate (room, NULL))
      abort ();
  }
  return 0;
}
