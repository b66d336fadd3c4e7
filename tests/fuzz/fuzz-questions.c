/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the question bodies a screen and a host send: the input
 * is given, as is, to the parsers POST /api/rooms/{room}/questions
 * (kk_question_parse_ask) and PUT .../questions/{id}/state
 * (kk_question_parse_state) run. Each either fails with an error or
 * returns values inside their bounds: a question that is valid UTF-8, not
 * empty, at most KK_QUESTION_MAX_CHARS characters, without control
 * characters or bidirectional overrides, not starting or ending with a
 * space, and cleaning it again changes nothing; a known state.
 */
#include "kk-questions.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_text (const char *text)
{
  g_autofree char *again = NULL;
  glong chars;

  if (!g_utf8_validate (text, -1, NULL))
    abort ();
  chars = g_utf8_strlen (text, -1);
  if (chars < 1 || chars > KK_QUESTION_MAX_CHARS)
    abort ();
  if (text[0] == ' ' || text[strlen (text) - 1] == ' ')
    abort ();
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_unichar_type (c) == G_UNICODE_CONTROL
        || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
      abort ();
  }
  /* Cleaning is idempotent: what is stored reads back as stored. */
  again = kk_question_clean_text (text, NULL);
  if (g_strcmp0 (again, text) != 0)
    abort ();
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) ask_error = NULL;
  g_autoptr (GError) state_error = NULL;
  gboolean anonymous = 2;
  KkQuestionState state = (KkQuestionState) -1;

  if (kk_question_parse_ask ((const char *) data, size, &text, &anonymous,
          &ask_error)) {
    if (text == NULL || ask_error != NULL
        || (anonymous != TRUE && anonymous != FALSE))
      abort ();
    check_text (text);
  } else if (ask_error == NULL || ask_error->domain != KK_QUESTIONS_ERROR) {
    abort ();
  }

  if (kk_question_parse_state ((const char *) data, size, &state,
          &state_error)) {
    if (state_error != NULL || state > KK_QUESTION_HIDDEN)
      abort ();
  } else if (state_error == NULL) {
    abort ();
  }
  return 0;
}
