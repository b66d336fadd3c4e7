/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of kk-questions' pure parts: how a question's text is
 * cleaned (control characters and bidirectional overrides removed, space
 * collapsed, the length cap counted in characters), the request bodies,
 * and the order of the host's list (support, then time).
 */
#include "kk-questions.h"

static char *
clean (const char *text, int expected_code)
{
  g_autoptr (GError) error = NULL;
  char *cleaned = kk_question_clean_text (text, &error);

  if (expected_code < 0) {
    g_assert_no_error (error);
    g_assert_nonnull (cleaned);
  } else {
    g_assert_error (error, KK_QUESTIONS_ERROR, expected_code);
    g_assert_null (cleaned);
  }
  return cleaned;
}

static void
test_clean_text (void)
{
  g_autofree char *markup = clean ("<script>alert(1)</script>", -1);
  g_autofree char *controls = clean ("Hva\x07 er\x1b dosen\x7f?", -1);
  g_autofree char *spaces = clean ("  To\n\nlinjer\r\n og\ttab  ", -1);
  g_autofree char *bidi = clean ("abc\xe2\x80\xae" "def\xe2\x81\xa6", -1);
  g_autofree char *norwegian = clean ("Blåbærsyltetøy?", -1);
  g_autofree char *max = g_strnfill (KK_QUESTION_MAX_CHARS, 'x');
  g_autofree char *over = g_strnfill (KK_QUESTION_MAX_CHARS + 1, 'x');
  g_autoptr (GString) letters = g_string_new (NULL);
  g_autofree char *at_cap = NULL;

  /* Text stays text: the pages insert it with textContent. */
  g_assert_cmpstr (markup, ==, "<script>alert(1)</script>");
  g_assert_cmpstr (controls, ==, "Hva er dosen?");
  g_assert_cmpstr (spaces, ==, "To linjer og tab");
  g_assert_cmpstr (bidi, ==, "abcdef");
  g_assert_cmpstr (norwegian, ==, "Blåbærsyltetøy?");
  g_free (clean (max, -1));
  clean (over, KK_QUESTIONS_ERROR_TOO_LONG);
  /* The cap counts characters, not bytes: 600 "ø" are 1200 bytes. */
  for (int i = 0; i < KK_QUESTION_MAX_CHARS; i++)
    g_string_append (letters, "ø");
  at_cap = clean (letters->str, -1);
  g_assert_cmpint (g_utf8_strlen (at_cap, -1), ==, KK_QUESTION_MAX_CHARS);
  clean ("", KK_QUESTIONS_ERROR_INVALID);
  clean (" \n\t\x01 ", KK_QUESTIONS_ERROR_INVALID);
  clean ("bad \xff utf-8", KK_QUESTIONS_ERROR_INVALID);
  clean (NULL, KK_QUESTIONS_ERROR_INVALID);
}

static void
test_parse (void)
{
  static const struct {
    const char *body;
    int code;                   /* -1: accepted */
    const char *text;
    gboolean anonymous;
  } asks[] = {
    { "{\"text\": \"Hei?\"}", -1, "Hei?", FALSE },
    { "{\"text\": \" Hei \\u0007 du \", \"anonymous\": true}", -1, "Hei du",
      TRUE },
    { "{\"text\": \"Hei \\u0000 du\"}", KK_QUESTIONS_ERROR_INVALID, NULL,
      FALSE },
    { "{\"text\": \"Hei\", \"anonymous\": \"yes\"}", KK_QUESTIONS_ERROR_INVALID,
      NULL, FALSE },
    { "{\"text\": 5}", KK_QUESTIONS_ERROR_INVALID, NULL, FALSE },
    { "{\"text\": \"Hei\", \"name\": \"x\"}", KK_QUESTIONS_ERROR_INVALID, NULL,
      FALSE },
    { "[\"Hei\"]", KK_QUESTIONS_ERROR_INVALID, NULL, FALSE },
    { "{\"text\": \"   \"}", KK_QUESTIONS_ERROR_INVALID, NULL, FALSE },
  };
  KkQuestionState state;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (asks); i++) {
    g_autofree char *text = NULL;
    g_autoptr (GError) ask_error = NULL;
    gboolean anonymous = FALSE;
    gboolean ok = kk_question_parse_ask (asks[i].body, strlen (asks[i].body),
        &text, &anonymous, &ask_error);

    g_test_message ("body %s", asks[i].body);
    if (asks[i].code < 0) {
      g_assert_no_error (ask_error);
      g_assert_true (ok);
      g_assert_cmpstr (text, ==, asks[i].text);
      g_assert_cmpint (anonymous, ==, asks[i].anonymous);
    } else {
      g_assert_false (ok);
      g_assert_error (ask_error, KK_QUESTIONS_ERROR, asks[i].code);
    }
  }

  g_assert_true (kk_question_parse_state ("{\"state\": \"answering\"}", 22,
          &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state, ==, KK_QUESTION_ANSWERING);
  g_assert_false (kk_question_parse_state ("{\"state\": \"done\"}", 17,
          &state, &error));
  g_assert_error (error, KK_QUESTIONS_ERROR, KK_QUESTIONS_ERROR_INVALID);
  for (int s = KK_QUESTION_OPEN; s <= KK_QUESTION_HIDDEN; s++) {
    g_assert_true (kk_question_state_from_string (
            kk_question_state_to_string (s), &state));
    g_assert_cmpint (state, ==, s);
  }
}

static KkQuestion *
question (const char *id, guint supports, gint64 asked_at)
{
  KkQuestion *q = g_new0 (KkQuestion, 1);

  q->id = g_strdup (id);
  q->supports = supports;
  q->asked_at = asked_at;
  return q;
}

static void
test_order (void)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_question_free);
  const char *expected[] = { "most", "two-older", "two-newer", "b-none",
    "c-none", "late-none" };

  g_ptr_array_add (list, question ("late-none", 0, 300));
  g_ptr_array_add (list, question ("two-newer", 2, 200));
  g_ptr_array_add (list, question ("c-none", 0, 100));
  g_ptr_array_add (list, question ("most", 5, 250));
  g_ptr_array_add (list, question ("b-none", 0, 100));
  g_ptr_array_add (list, question ("two-older", 2, 150));
  g_ptr_array_sort (list, kk_question_compare);
  for (guint i = 0; i < list->len; i++)
    g_assert_cmpstr (((KkQuestion *) list->pdata[i])->id, ==, expected[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/questions/clean-text", test_clean_text);
  g_test_add_func ("/questions/parse", test_parse);
  g_test_add_func ("/questions/order", test_order);
  return g_test_run ();
}
