/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-random: see kk-random.h.
 */
#include "kk-random.h"

#include <openssl/rand.h>

char *
kk_random_hex (gsize n_bytes)
{
  g_autofree guint8 *bytes = g_malloc (n_bytes);
  GString *hex = g_string_sized_new (2 * n_bytes);

  if (RAND_bytes (bytes, (int) n_bytes) != 1)
    g_error ("no randomness from OpenSSL");
  for (gsize i = 0; i < n_bytes; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}
