/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-split-input: the input side the container cutters share; see
 * kk-split-input.h.
 */
#include "kk-split-input.h"

void
kk_split_input_init (KkSplitInput *input, gsize max_element)
{
  input->max_element = max_element;
  input->pending = g_byte_array_new ();
  input->init = g_byte_array_new ();
  input->failed = FALSE;
}

void
kk_split_input_clear (KkSplitInput *input)
{
  g_clear_pointer (&input->pending, g_byte_array_unref);
  g_clear_pointer (&input->init, g_byte_array_unref);
}

gboolean
kk_split_input_fail (KkSplitInput *input, GError **error, GQuark domain,
    gint code, const char *message)
{
  input->failed = TRUE;
  g_set_error_literal (error, domain, code, message);
  return FALSE;
}

gboolean
kk_split_input_check (KkSplitInput *input, GQuark domain, gint invalid_code,
    GError **error)
{
  if (!input->failed)
    return TRUE;
  return kk_split_input_fail (input, error, domain, invalid_code,
      "the stream was already found invalid");
}

gboolean
kk_split_input_take (KkSplitInput *input, const guint8 *data, gsize len,
    GQuark domain, gint invalid_code, GError **error)
{
  if (!kk_split_input_check (input, domain, invalid_code, error))
    return FALSE;
  g_byte_array_append (input->pending, data, len);
  return TRUE;
}

GBytes *
kk_split_input_steal_init (KkSplitInput *input)
{
  GBytes *init = g_byte_array_free_to_bytes (g_steal_pointer (&input->init));

  input->init = g_byte_array_new ();
  return init;
}
